//! A table's data: its memtable of `cairn_format` partitions (the model the SSTable writer
//! takes), its SSTables, flushing one into the other, background and major compaction, and reads
//! that merge both.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use cairn_format::partition::Partition;
use cairn_format::partitioner::Token;
use cairn_format::schema::TableSchema;
use cairn_format::statistics::SerializationHeader;

use crate::node::now_micros;
use crate::protocol::{Failure, code};

pub(crate) struct Table {
    pub(crate) schema: TableSchema,
    pub(crate) header: Arc<SerializationHeader>,
    pub(crate) id: [u8; 16],
    pub(crate) memtable: BTreeMap<(Token, Vec<u8>), Partition>,
    /// Writes since the last flush.
    pub(crate) writes: u64,
    /// The table directory.
    pub(crate) dir: PathBuf,
    /// Its SSTables, oldest first.
    pub(crate) sstables: Vec<cairn_format::sstable::SsTable>,
    /// `CREATE TABLE` as the node replays it.
    pub(crate) create_text: String,
}

/// Memtable writes after which a table is flushed to an SSTable.
pub(crate) const FLUSH_AFTER_WRITES: u64 = 200_000;

impl Table {
    /// Flush the memtable to a new SSTable, then let the table's compaction strategy run.
    pub(crate) fn flush(&mut self) -> cairn_format::Result<()> {
        if let Some(t) = crate::storage::flush(&self.dir, &self.header, self.memtable.values())? {
            self.sstables.push(t);
            self.background_compaction();
        }
        self.memtable.clear();
        self.writes = 0;
        Ok(())
    }

    /// What the table's strategy (its `compaction` option, STCS by default) would compact next,
    /// compacted in place, as a node's background compaction does.
    pub(crate) fn background_compaction(&mut self) {
        use cairn_compact::plan;
        let strategy = self
            .schema
            .option("compaction")
            .and_then(cairn_format::schema::cql::parse_map)
            .and_then(|m| m.into_iter().find(|(k, _)| k == "class").and_then(|(_, v)| plan::Strategy::parse(&v)))
            .unwrap_or(plan::Strategy::SizeTiered);
        let req = plan::PlanRequest { strategy: Some(strategy), now_s: now_micros() / 1_000_000, ..Default::default() };
        let result = plan::plan_tables(&self.sstables, &req).map_err(|e| e.to_string()).and_then(|p| {
            let base = cairn_compact::run::RunOptions::new(cairn_format::Version::Nb, req.now_s);
            plan::execute(&p, &self.sstables, &base, &plan::ExecuteTarget::InPlace).map_err(|e| e.to_string())
        });
        match result {
            Ok(Some(_)) => match crate::storage::load_dir(&self.dir) {
                Ok(s) => self.sstables = s,
                Err(e) => crate::log!("cairn node: {}: reloading after compaction: {e}", self.dir.display()),
            },
            Ok(None) => {}
            Err(e) => crate::log!("cairn node: {}: background compaction: {e}", self.dir.display()),
        }
    }

    /// A major compaction: every SSTable into one, purged as Cassandra purges.
    pub(crate) fn compact_all(&mut self) -> cairn_format::Result<()> {
        if self.sstables.len() < 2 {
            return Ok(());
        }
        let now = now_micros() / 1_000_000;
        let opts = cairn_compact::run::RunOptions::new(cairn_format::Version::Nb, now);
        // One lifecycle transaction: the output replaces every input, or nothing changes.
        let operation = cairn_format::txn::operation::COMPACTION;
        cairn_compact::run::run_in_place(&self.sstables, &[], &opts, operation, &mut |_| {})
            .map_err(|e| cairn_format::Error::io(&self.dir, std::io::Error::other(e.to_string())))?;
        self.sstables = crate::storage::load_dir(&self.dir)?;
        Ok(())
    }

    /// The partitions with `keys` (all of them when `None`), memtable and SSTables merged.
    pub(crate) fn partitions(&self, keys: Option<&[(Token, Vec<u8>)]>) -> Result<Vec<Partition>, Failure> {
        let server = |e: cairn_format::Error| Failure { code: code::SERVER, message: e.to_string(), extra: vec![] };
        match keys {
            Some(keys) => {
                let mut out = Vec::new();
                for k in keys {
                    let mut p = self.memtable.get(k).cloned().unwrap_or_else(|| Partition::new(k.1.clone()));
                    crate::storage::read_partition(&self.sstables, &k.1, &mut p).map_err(server)?;
                    out.push(p);
                }
                Ok(out)
            }
            None => {
                let mut all = self.memtable.clone();
                crate::storage::read_all(&self.sstables, &mut all).map_err(server)?;
                Ok(all.into_values().collect())
            }
        }
    }
}
