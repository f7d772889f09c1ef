//! A table: its definition (schema, serialization header, id, directory) and, behind the
//! table's own lock, its data — a memtable of `cairn_format` partitions (the model the SSTable
//! writer takes) and its SSTables — with flushing one into the other, background and major
//! compaction, and reads that merge both. Each table has its own lock, so writes to different
//! tables do not wait for each other.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use cairn_format::partition::Partition;
use cairn_format::partitioner::{Token, murmur3_token};
use cairn_format::schema::TableSchema;
use cairn_format::statistics::SerializationHeader;

use crate::node::now_micros;
use crate::protocol::{Failure, code};

/// A table of the catalog.
pub(crate) struct Table {
    pub(crate) schema: TableSchema,
    pub(crate) header: Arc<SerializationHeader>,
    pub(crate) id: [u8; 16],
    /// The table directory.
    pub(crate) dir: PathBuf,
    /// `CREATE TABLE` as the node replays it.
    pub(crate) create_text: String,
    /// The data, behind the table's own lock.
    data: Mutex<TableData>,
}

/// A table's memtable and SSTables.
#[derive(Default)]
pub(crate) struct TableData {
    pub(crate) memtable: BTreeMap<(Token, Vec<u8>), Partition>,
    /// Writes since the last flush.
    pub(crate) writes: u64,
    /// Its SSTables, oldest first.
    pub(crate) sstables: Vec<cairn_format::sstable::SsTable>,
    /// Repair sessions under way: the SSTables each validated (Cassandra's pending repair).
    pub(crate) pending_repair: BTreeMap<[u8; 16], Vec<cairn_format::descriptor::Descriptor>>,
}

/// Where a partition sits in the ring: its token, then its key.
pub(crate) type Place = (Token, Vec<u8>);

/// Memtable writes after which a table is flushed to an SSTable.
pub(crate) const FLUSH_AFTER_WRITES: u64 = 200_000;

fn server(e: cairn_format::Error) -> Failure {
    Failure { code: code::SERVER, message: e.to_string(), extra: vec![] }
}

impl Table {
    /// A table over the SSTables already in `dir`.
    pub(crate) fn new(
        schema: TableSchema,
        header: Arc<SerializationHeader>,
        id: [u8; 16],
        dir: PathBuf,
        create_text: String,
        sstables: Vec<cairn_format::sstable::SsTable>,
    ) -> Table {
        let data = Mutex::new(TableData { sstables, ..Default::default() });
        Table { schema, header, id, dir, create_text, data }
    }

    /// The table's data, locked.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, TableData>, Failure> {
        self.data.lock().map_err(|_| Failure {
            code: code::SERVER,
            message: format!("table {}.{}: its lock is poisoned", self.schema.keyspace, self.schema.table),
            extra: vec![],
        })
    }

    /// Merge a mutation's partition into the memtable, flushing once the memtable has taken
    /// enough writes.
    pub(crate) fn apply(&self, partition: Partition) -> Result<(), Failure> {
        let mut d = self.lock()?;
        let place = (Token::Murmur3(cairn_format::partitioner::murmur3_token(&partition.key)), partition.key.clone());
        match d.memtable.get_mut(&place) {
            Some(p) => crate::storage::mutation::merge(p, partition),
            None => {
                d.memtable.insert(place, partition);
            }
        }
        d.writes += 1;
        if d.writes >= FLUSH_AFTER_WRITES {
            self.flush(&mut d).map_err(server)?;
        }
        Ok(())
    }

    /// Flush the memtable to a new SSTable, then let the table's compaction strategy run.
    pub(crate) fn flush(&self, d: &mut TableData) -> cairn_format::Result<()> {
        if let Some(t) = crate::storage::flush(&self.dir, &self.header, d.memtable.values())? {
            d.sstables.push(t);
            self.background_compaction(d);
        }
        d.memtable.clear();
        d.writes = 0;
        Ok(())
    }

    /// What the table's strategy (its `compaction` option, STCS by default) would compact next,
    /// compacted in place, as a node's background compaction does.
    pub(crate) fn background_compaction(&self, d: &mut TableData) {
        use cairn_compact::plan;
        let strategy = self
            .schema
            .option("compaction")
            .and_then(cairn_format::schema::cql::parse_map)
            .and_then(|m| m.into_iter().find(|(k, _)| k == "class").and_then(|(_, v)| plan::Strategy::parse(&v)))
            .unwrap_or(plan::Strategy::SizeTiered);
        let req = plan::PlanRequest { strategy: Some(strategy), now_s: now_micros() / 1_000_000, ..Default::default() };
        let result = plan::plan_tables(&d.sstables, &req).map_err(|e| e.to_string()).and_then(|p| {
            let base = cairn_compact::run::RunOptions::new(cairn_format::Version::Nb, req.now_s);
            plan::execute(&p, &d.sstables, &base, &plan::ExecuteTarget::InPlace).map_err(|e| e.to_string())
        });
        match result {
            Ok(Some(_)) => match crate::storage::load_dir(&self.dir) {
                Ok(s) => d.sstables = s,
                Err(e) => crate::log!("cairn node: {}: reloading after compaction: {e}", self.dir.display()),
            },
            Ok(None) => {}
            Err(e) => crate::log!("cairn node: {}: background compaction: {e}", self.dir.display()),
        }
    }

    /// Drop the partitions this node no longer replicates (`nodetool cleanup`): the memtable is
    /// flushed, then every SSTable rewritten in one compaction that keeps only the partitions in
    /// `ranges` (`(start, end]`). Returns the partitions dropped.
    pub(crate) fn cleanup(&self, d: &mut TableData, ranges: Vec<(i64, i64)>) -> cairn_format::Result<u64> {
        self.flush(d)?;
        if d.sstables.is_empty() {
            return Ok(0);
        }
        let now = now_micros() / 1_000_000;
        let mut opts = cairn_compact::run::RunOptions::new(cairn_format::Version::Nb, now);
        opts.keep_ranges = Some(ranges);
        let operation = cairn_format::txn::operation::CLEANUP;
        let report = cairn_compact::run::run_in_place(&d.sstables, &[], &opts, operation, &mut |_| {})
            .map_err(|e| cairn_format::Error::io(&self.dir, std::io::Error::other(e.to_string())))?;
        d.sstables = crate::storage::load_dir(&self.dir)?;
        Ok(report.cleaned)
    }

    /// Start repair session `session` here: the memtable is flushed and the SSTables that now
    /// hold the table's data are the ones the session may mark repaired when it ends (writes
    /// that arrive later are not part of what the replicas compared).
    pub(crate) fn prepare_repair(&self, d: &mut TableData, session: [u8; 16]) -> cairn_format::Result<()> {
        self.flush(d)?;
        let validated = d.sstables.iter().map(|t| t.descriptor.clone()).collect();
        d.pending_repair.insert(session, validated);
        Ok(())
    }

    /// End repair session `session`: each SSTable it validated that is still here and whose
    /// partitions all lie in `spans` (`(start, end]`, not wrapping, sorted and merged) gets
    /// `repairedAt = repaired_at` (ms) in its Statistics.db. An SSTable that also holds ranges
    /// the session did not repair stays unrepaired (Cairn does not anticompact it into two);
    /// one compacted away since validation is gone and is not marked either. With no spans the
    /// session is only forgotten (a failed repair). Returns the SSTables marked.
    pub(crate) fn finish_repair(
        &self,
        d: &mut TableData,
        session: [u8; 16],
        spans: &[(i64, i64)],
        repaired_at: i64,
    ) -> cairn_format::Result<u64> {
        let Some(validated) = d.pending_repair.remove(&session) else { return Ok(0) };
        let mut marked = 0;
        for t in d.sstables.iter().filter(|t| validated.contains(&t.descriptor)) {
            let Some((first, last)) = t.key_range()? else { continue };
            let (first, last) = (murmur3_token(&first), murmur3_token(&last));
            if spans.iter().any(|&(s, e)| s < first && last <= e) {
                cairn_format::writer::set_repaired_at(&t.descriptor, repaired_at)?;
                marked += 1;
            }
        }
        if marked > 0 {
            d.sstables = crate::storage::load_dir(&self.dir)?;
        }
        Ok(marked)
    }

    /// A major compaction: every SSTable into one, purged as Cassandra purges.
    pub(crate) fn compact_all(&self, d: &mut TableData) -> cairn_format::Result<()> {
        if d.sstables.len() < 2 {
            return Ok(());
        }
        let now = now_micros() / 1_000_000;
        let opts = cairn_compact::run::RunOptions::new(cairn_format::Version::Nb, now);
        // One lifecycle transaction: the output replaces every input, or nothing changes.
        let operation = cairn_format::txn::operation::COMPACTION;
        cairn_compact::run::run_in_place(&d.sstables, &[], &opts, operation, &mut |_| {})
            .map_err(|e| cairn_format::Error::io(&self.dir, std::io::Error::other(e.to_string())))?;
        d.sstables = crate::storage::load_dir(&self.dir)?;
        Ok(())
    }
}

/// Where a read finds partitions: this node's table data, or, in a ring, the replicas
/// ([`crate::coordinator::read::RingSource`]).
pub(crate) trait PartitionSource {
    /// The partitions with `keys` (an empty partition for a key nobody has).
    fn partitions(&self, keys: &[Place]) -> Result<Vec<Partition>, Failure>;
    /// The first `n` partitions in ring order after `after` (from the start when `None`).
    fn partitions_after(&self, after: Option<&Place>, n: usize) -> Result<Vec<(Place, Partition)>, Failure>;
}

impl PartitionSource for TableData {
    fn partitions(&self, keys: &[Place]) -> Result<Vec<Partition>, Failure> {
        TableData::partitions(self, keys)
    }

    fn partitions_after(&self, after: Option<&Place>, n: usize) -> Result<Vec<(Place, Partition)>, Failure> {
        TableData::partitions_after(self, after, n)
    }
}

impl TableData {
    /// The partitions with `keys`, memtable and SSTables merged.
    pub(crate) fn partitions(&self, keys: &[(Token, Vec<u8>)]) -> Result<Vec<Partition>, Failure> {
        let mut out = Vec::new();
        for k in keys {
            let mut p = self.memtable.get(k).cloned().unwrap_or_else(|| Partition::new(k.1.clone()));
            crate::storage::read_partition(&self.sstables, &k.1, &mut p).map_err(server)?;
            out.push(p);
        }
        Ok(out)
    }

    /// The first `n` partitions in ring order (token, then key) after `after` (from the start
    /// when `None`), memtable and SSTables merged: a scan resumes where the last page ended,
    /// reading only what the next page needs.
    pub(crate) fn partitions_after(
        &self,
        after: Option<&(Token, Vec<u8>)>,
        n: usize,
    ) -> Result<Vec<(Place, Partition)>, Failure> {
        use std::ops::Bound;
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut merged: BTreeMap<(Token, Vec<u8>), Partition> =
            self.memtable.range((lower, Bound::Unbounded)).take(n).map(|(k, p)| (k.clone(), p.clone())).collect();
        crate::storage::read_after(&self.sstables, after, n, &mut merged).map_err(server)?;
        Ok(merged.into_iter().take(n).collect())
    }
}
