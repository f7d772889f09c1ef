//! # cairn-repair
//!
//! Offline anti-entropy between two copies of the same tables — a backup and the live node, two
//! replicas' data directories, a snapshot and its restore: `cairn repair diff A B` and
//! `cairn repair sync A B --out DIR`.
//!
//! **Where it lives.** The Merkle tree and the logical partition hash are format facts and live
//! in [`cairn_format::merkle`]; reconciliation is [`cairn_format::reconcile::Merger`] (the one
//! `dump --merge`, `export` and compaction use), and what validation leaves out is compaction's
//! purge judgement ([`cairn_compact::purge`]). This crate only orchestrates them, beside the
//! inspect verbs in the dependency order (`format <- compact <- repair <- cli`), so that the
//! server's online repair can use the same tree and hash later without linking the CLI's
//! reports.
//!
//! **Tables** of A and B are matched by keyspace and table name (and secondary-index name), as
//! [`cairn_format::location::TableLocation`] reads them from the directory layout or schema; table
//! ids may differ (a table re-created on restore gets a new id).
//!
//! **What is compared** is what Cassandra's validation compaction hashes
//! (`repair/Validator.java`, `db/compaction/CompactionManager.java#doValidation`): every
//! partition of a table reconciled across all its SSTables, after the purge a compaction at
//! `--now` would do. Tombstones past `gc_grace_seconds` at `--now` are dropped, expired TTL cells
//! become tombstones (and go when those are past gc_grace), and a partition with nothing left
//! is not hashed at all. The validation compaction reads every SSTable of the table, so no
//! SSTable outside it can hold a tombstone back: purgeable means past gc_grace. We follow
//! Cassandra here rather than hashing every tombstone because that is the answer a repair would
//! act on: a tombstone both sides may already have purged independently is not a difference,
//! and a side whose purgeable tombstone is the only thing hiding the other side's old data is
//! reported as the other side having the partition (the zombie a repair after gc_grace would
//! resurrect). `--now` makes the comparison reproducible.
//!
//! **Diff** builds one tree per side (depth from the larger partition estimate of the two,
//! capped at 20, or `--depth`), compares them, then reads both sides again for the partitions in
//! the differing leaves only, and reports each differing partition with a status and row and cell
//! counts. Memory: the two trees (at most 2 × 32 MiB), one row per SSTable while building; the
//! drill-down holds the digests of the partitions in differing ranges and of their rows. When
//! few ranges differ, the drill-down seeks to them through Summary.db and Index.db instead of
//! reading the table again.
//!
//! **Sync** writes, for every differing partition, each side's whole reconciled partition (not
//! purged, as streaming ships data) into an SSTable for the other side — the target side's format
//! family (`m*` → `me`, `n*` → `nb`, `oa`) and compression, under
//! `DIR/for-a/<keyspace>/<table>-<A's id>/` and `DIR/for-b/...`, numbered with a generation the
//! receiving table directory does not use, so they can be moved in as they are. Since
//! reconciliation is commutative, A plus B's version and B plus A's version reconcile to the same
//! partition: after adding them, `diff` says identical.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use cairn_compact::purge::{PurgeClock, Purger, TombstoneKind, gc_before, gc_grace_seconds};
use cairn_format::data::scanner::Scanner;
use cairn_format::data::{PartitionHeader, PartitionStream, Unfiltered, UnfilteredKind};
use cairn_format::deletion::{DeletionTime, NO_TIMESTAMP};
use cairn_format::location::{TableLocation, group_by_table};
use cairn_format::lookup::PartitionLookup;
use cairn_format::merkle::{self, Hash, MerkleTree, PartitionHasher};
use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::CqlType;
use cairn_format::types::render::{get_string, hex};
use cairn_format::writer::{CompressionParams, SsTableWriter, WriterOptions, next_generation};
use cairn_format::{Version, types};
use serde::Serialize;

/// Why a diff or sync could not run.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// Reading or writing SSTables failed.
    #[error(transparent)]
    Format(#[from] cairn_format::Error),
    /// The tree could not be built.
    #[error("{table}: {source}")]
    Merkle {
        /// `keyspace.table`.
        table: String,
        /// What went wrong.
        source: merkle::MerkleError,
    },
    /// One side holds the same table more than once (several snapshots, or live and backups).
    #[error("{side} holds {table} more than once ({places}); name one of those directories")]
    Ambiguous {
        /// `A` or `B`.
        side: &'static str,
        /// `keyspace.table`.
        table: String,
        /// The copies found.
        places: String,
    },
    /// Nothing to compare after `--keyspace`/`--table`.
    #[error("no table{what} in A or B")]
    NoTables {
        /// The filter, as said to the user.
        what: String,
    },
}

/// Settings of a diff or sync.
#[derive(Debug, Clone, Default)]
pub struct RepairOptions {
    /// Only this keyspace.
    pub keyspace: Option<String>,
    /// Only this table.
    pub table: Option<String>,
    /// Tree depth (default: from the partition estimates, capped at [`merkle::MAX_DEPTH`]).
    pub depth: Option<u8>,
    /// The time of the comparison (s): what is purgeable and expired.
    pub now_s: i64,
    /// gc_grace_seconds (default: A's schema, else B's, else 864000).
    pub gc_grace_seconds: Option<i64>,
}

/// One table as found on both sides (either side may lack it).
pub struct TablePair<'a> {
    /// Keyspace (`?` when unknown).
    pub keyspace: String,
    /// Table (`?` when unknown).
    pub table: String,
    /// Secondary index name, for index tables.
    pub index: Option<String>,
    /// A's SSTables of it.
    pub a: Vec<&'a SsTable>,
    /// B's SSTables of it.
    pub b: Vec<&'a SsTable>,
}

impl TablePair<'_> {
    /// `keyspace.table` (with the index name for an index table).
    pub fn name(&self) -> String {
        match &self.index {
            Some(i) => format!("{}.{}.{}", self.keyspace, self.table, i),
            None => format!("{}.{}", self.keyspace, self.table),
        }
    }
}

type TableKey = (String, String, Option<String>);

fn side_groups<'a>(
    side: &'static str,
    tables: &'a [SsTable],
    opts: &RepairOptions,
) -> Result<BTreeMap<TableKey, Vec<&'a SsTable>>, RepairError> {
    let mut out: BTreeMap<TableKey, (TableLocation, Vec<&SsTable>)> = BTreeMap::new();
    for (loc, group) in group_by_table(tables) {
        let key = (
            loc.keyspace.clone().unwrap_or_else(|| "?".into()),
            loc.table.clone().unwrap_or_else(|| "?".into()),
            loc.index.clone(),
        );
        if opts.keyspace.as_ref().is_some_and(|k| *k != key.0) || opts.table.as_ref().is_some_and(|t| *t != key.1) {
            continue;
        }
        if let Some((prev, _)) = out.get(&key) {
            return Err(RepairError::Ambiguous { side, table: loc.qualified_name(), places: format!("{prev}; {loc}") });
        }
        out.insert(key, (loc, group));
    }
    Ok(out.into_iter().map(|(k, (_, g))| (k, g)).collect())
}

/// The tables of `a` and `b`, matched by keyspace and name, in name order.
pub fn pair_tables<'a>(
    a: &'a [SsTable],
    b: &'a [SsTable],
    opts: &RepairOptions,
) -> Result<Vec<TablePair<'a>>, RepairError> {
    let mut ga = side_groups("A", a, opts)?;
    let mut gb = side_groups("B", b, opts)?;
    let keys: std::collections::BTreeSet<TableKey> = ga.keys().chain(gb.keys()).cloned().collect();
    if keys.is_empty() {
        let mut what = String::new();
        if let Some(k) = &opts.keyspace {
            what.push_str(&format!(" in keyspace {k}"));
        }
        if let Some(t) = &opts.table {
            what.push_str(&format!(" named {t}"));
        }
        return Err(RepairError::NoTables { what });
    }
    Ok(keys
        .into_iter()
        .map(|k| {
            let a = ga.remove(&k).unwrap_or_default();
            let b = gb.remove(&k).unwrap_or_default();
            TablePair { keyspace: k.0, table: k.1, index: k.2, a, b }
        })
        .collect())
}

/// The clock both sides of a pair are purged at.
fn clock_for(pair: &TablePair<'_>, opts: &RepairOptions) -> PurgeClock {
    let schema = pair.a.first().or(pair.b.first()).map(|t| &t.schema);
    let gc_grace = match schema {
        Some(s) => gc_grace_seconds(opts.gc_grace_seconds, s),
        None => opts.gc_grace_seconds.unwrap_or(cairn_compact::purge::DEFAULT_GC_GRACE_SECONDS),
    };
    PurgeClock { now_s: opts.now_s, gc_grace, gc_before: gc_before(opts.now_s, gc_grace), may_purge: true }
}

/// One row (or range-tombstone marker) of a partition as validation sees it.
#[derive(Debug, Clone)]
pub struct RowDigest {
    /// Kind and clustering, encoded: rows and markers of one partition are equal here iff they
    /// stand at the same position.
    pub position: Vec<u8>,
    /// The clustering values as text (`static` for the static row).
    pub clustering: Vec<String>,
    /// Hash of its content.
    pub hash: Hash,
    /// Its newest timestamp (µs).
    pub max_timestamp: i64,
}

/// One partition as validation sees it.
#[derive(Debug, Clone)]
pub struct PartitionDigest {
    /// The serialized key.
    pub key: Vec<u8>,
    /// Its Murmur3 token.
    pub token: i64,
    /// The partition hash ([`cairn_format::merkle`]).
    pub hash: Hash,
    /// The partition deletion left after purging.
    pub deletion: DeletionTime,
    /// Rows (static row included).
    pub rows: u64,
    /// Cells.
    pub cells: u64,
    /// The newest timestamp in it (µs): cells, liveness, deletions.
    pub max_timestamp: i64,
    /// Its rows, when asked for.
    pub row_digests: Vec<RowDigest>,
}

/// A reconciled, purged read of one side's table (Cassandra's validation compaction).
struct Validation {
    merger: Merger,
    header: SerializationHeader,
    purger: Purger,
    scratch: Unfiltered,
    name: String,
}

fn max_timestamp(u: &Unfiltered) -> i64 {
    let mut m = NO_TIMESTAMP;
    let mut see = |ts: i64| m = m.max(ts);
    see(u.liveness.timestamp);
    see(u.deletion.marked_for_delete_at);
    see(u.shadowable_deletion.marked_for_delete_at);
    see(u.close_deletion.marked_for_delete_at);
    for d in &u.complex_deletions {
        see(d.deletion.marked_for_delete_at);
    }
    for c in &u.cells {
        see(c.timestamp);
    }
    m
}

fn position_of(u: &Unfiltered) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.push(match u.kind() {
        UnfilteredKind::StaticRow => 3,
        UnfilteredKind::Row => 4,
        UnfilteredKind::Marker(k) => merkle::bound_kind_ordinal(k),
    });
    for i in 0..u.clustering.len() {
        match u.clustering_value(i) {
            Some(v) => {
                out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                out.extend_from_slice(v);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    out
}

fn clustering_strings(header: &SerializationHeader, u: &Unfiltered) -> Vec<String> {
    if u.kind() == UnfilteredKind::StaticRow {
        return vec!["static".into()];
    }
    let mut out: Vec<String> = (0..u.clustering.len())
        .map(|i| match u.clustering_value(i) {
            Some(v) => get_string(header.clustering_types.get(i).unwrap_or(&CqlType::Blob), v),
            None => "null".into(),
        })
        .collect();
    if let UnfilteredKind::Marker(k) = u.kind() {
        out.push(format!("{k:?}"));
    }
    out
}

impl Validation {
    fn open(group: &[&SsTable], clock: PurgeClock, name: String) -> Result<Validation, RepairError> {
        let Some(first) = group.first() else {
            return Err(RepairError::NoTables { what: format!(" {name} to read") });
        };
        let scanners = group.iter().map(|t| t.scanner()).collect::<Result<Vec<_>, _>>()?;
        Validation::of(scanners, first.partitioner, clock, name)
    }

    fn of(
        scanners: Vec<Scanner>,
        partitioner: Partitioner,
        clock: PurgeClock,
        name: String,
    ) -> Result<Validation, RepairError> {
        let merger = Merger::new(scanners, partitioner)?;
        let header = PartitionStream::header(&merger).clone();
        Ok(Validation { merger, header, purger: Purger::new(clock), scratch: Unfiltered::default(), name })
    }

    /// The next partition and its token.
    fn next_partition(&mut self) -> Result<Option<(PartitionHeader, i64)>, RepairError> {
        let Some(p) = self.merger.next_partition()?.cloned() else { return Ok(None) };
        match self.merger.partitioner().token(&p.key) {
            Token::Murmur3(t) => Ok(Some((p, t))),
            other => Err(RepairError::Merkle {
                table: self.name.clone(),
                source: merkle::MerkleError::NotMurmur3 { token: other.to_string() },
            }),
        }
    }

    /// The current partition purged and hashed; `None` when nothing of it is left.
    fn digest(&mut self, p: &PartitionHeader, token: i64, rows: bool) -> Result<Option<PartitionDigest>, RepairError> {
        let Validation { merger, header, purger, scratch, .. } = self;
        purger.begin_partition(&[]);
        let deletion = purger.deletion(p.deletion, TombstoneKind::Partition);
        let mut hasher = PartitionHasher::new(&p.key, &deletion);
        let mut d = PartitionDigest {
            key: p.key.clone(),
            token,
            hash: merkle::EMPTY,
            deletion,
            rows: 0,
            cells: 0,
            max_timestamp: deletion.marked_for_delete_at,
            row_digests: Vec::new(),
        };
        let mut any = !deletion.is_live();
        let mut take = |u: &Unfiltered, d: &mut PartitionDigest| {
            hasher.add(header, u);
            d.rows += u64::from(!u.is_marker());
            d.cells += u.cells.len() as u64;
            let ts = max_timestamp(u);
            d.max_timestamp = d.max_timestamp.max(ts);
            if rows {
                d.row_digests.push(RowDigest {
                    position: position_of(u),
                    clustering: clustering_strings(header, u),
                    hash: merkle::row_hash(header, u),
                    max_timestamp: ts,
                });
            }
        };
        if let Some(st) = merger.static_row()
            && purger.unfiltered(st, scratch)
        {
            any = true;
            take(scratch, &mut d);
        }
        while let Some(u) = merger.next_unfiltered()? {
            if purger.unfiltered(u, scratch) {
                any = true;
                take(scratch, &mut d);
            }
        }
        d.hash = hasher.finish();
        Ok(any.then_some(d))
    }
}

/// The partition estimate a tree depth is chosen from: the SSTables' key estimates summed (an
/// SSTable without an estimator counts 128 keys, as compaction sizes its filters).
fn estimate(group: &[&SsTable]) -> Result<u64, RepairError> {
    let mut n = 0u64;
    for t in group {
        n = n.saturating_add(t.estimated_cardinality()?.unwrap_or(128));
    }
    Ok(n)
}

/// The depth both trees of `pair` are built at.
pub fn depth_of(pair: &TablePair<'_>, opts: &RepairOptions) -> Result<u8, RepairError> {
    Ok(match opts.depth {
        Some(d) => d.min(merkle::MAX_DEPTH),
        None => merkle::depth_for(estimate(&pair.a)?.max(estimate(&pair.b)?), merkle::MAX_DEPTH),
    })
}

/// Build the validation tree of one side's table (streaming: memory is the tree's).
pub fn build_tree(group: &[&SsTable], depth: u8, clock: PurgeClock, name: &str) -> Result<MerkleTree, RepairError> {
    let mut tree = MerkleTree::new(depth);
    if group.is_empty() {
        tree.finish();
        return Ok(tree);
    }
    let mut v = Validation::open(group, clock, name.to_string())?;
    while let Some((p, token)) = v.next_partition()? {
        if let Some(d) = v.digest(&p, token, false)? {
            tree.add(&Token::Murmur3(token), &d.hash)
                .map_err(|source| RepairError::Merkle { table: name.to_string(), source })?;
        }
    }
    tree.finish();
    Ok(tree)
}

/// The digests (with rows) of one side's partitions in the `differing` leaves (ascending).
///
/// Few differing ranges are read alone: each run of adjacent leaves from the first partition
/// past its start in every SSTable (Summary.db and Index.db), up to its end. Many (more than a
/// sixteenth of the leaves in separate runs) are read in one pass over the whole table.
fn collect(
    group: &[&SsTable],
    clock: PurgeClock,
    depth: u8,
    differing: &[usize],
    name: &str,
) -> Result<Vec<PartitionDigest>, RepairError> {
    let mut out = Vec::new();
    let Some(first) = group.first() else { return Ok(out) };
    let set: HashSet<usize> = differing.iter().copied().collect();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &l in differing {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == l => *end = l,
            _ => runs.push((l, l)),
        }
    }
    let whole = runs.len().saturating_mul(16) > (1usize << depth);
    if whole {
        runs = vec![(0, (1usize << depth) - 1)];
    }
    let lookups = if whole {
        Vec::new()
    } else {
        group.iter().map(|t| PartitionLookup::new(t)).collect::<Result<Vec<_>, _>>()?
    };
    for (start, end) in runs {
        let left = merkle::range_of(start, depth).left;
        let right = merkle::range_of(end, depth).right;
        let mut scanners = Vec::new();
        for (i, t) in group.iter().enumerate() {
            let mut sc = t.scanner()?;
            if let Some(lookup) = lookups.get(i).filter(|_| start > 0) {
                match lookup.position_after_token(t, &Token::Murmur3(left)) {
                    Ok(Some(pos)) => sc.seek(pos, None)?,
                    Ok(None) => continue,
                    // Without an Index.db the range is found by reading from the start.
                    Err(cairn_format::Error::MissingComponent {
                        component: cairn_format::Component::Index, ..
                    }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            scanners.push(sc);
        }
        if scanners.is_empty() {
            continue;
        }
        let mut v = Validation::of(scanners, first.partitioner, clock, name.to_string())?;
        while let Some((p, token)) = v.next_partition()? {
            // The ring's last range ends at its end (printed as the minimum token).
            if right != i64::MIN && token > right {
                break;
            }
            if set.contains(&merkle::leaf_of(token, depth))
                && let Some(d) = v.digest(&p, token, true)?
            {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// What differs about a partition (or a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A has it, B has nothing (after purging).
    OnlyInA,
    /// B has it, A has nothing.
    OnlyInB,
    /// Both have it; A's newest write is newer.
    ANewer,
    /// Both have it; B's newest write is newer.
    BNewer,
    /// Both have it; A's partition deletion is newer than B's.
    DeletedInA,
    /// Both have it; B's partition deletion is newer than A's.
    DeletedInB,
    /// Both have it with the same newest timestamp but different content.
    Conflict,
}

impl Status {
    /// The status as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::OnlyInA => "only in A",
            Status::OnlyInB => "only in B",
            Status::ANewer => "A newer",
            Status::BNewer => "B newer",
            Status::DeletedInA => "deleted in A",
            Status::DeletedInB => "deleted in B",
            Status::Conflict => "conflict",
        }
    }

    fn by_timestamp(a: i64, b: i64) -> Status {
        match a.cmp(&b) {
            std::cmp::Ordering::Greater => Status::ANewer,
            std::cmp::Ordering::Less => Status::BNewer,
            std::cmp::Ordering::Equal => Status::Conflict,
        }
    }
}

/// A row that differs.
#[derive(Debug, Clone, Serialize)]
pub struct RowDiff {
    /// Clustering values (`["static"]` for the static row; a marker's bound kind last).
    pub clustering: Vec<String>,
    /// What differs.
    pub status: Status,
}

/// At most this many differing rows are listed per partition (all are counted).
pub const ROWS_LISTED: usize = 10;

/// A partition that differs.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionDiff {
    /// The key, one string per key column.
    pub key: Vec<String>,
    /// The Murmur3 token, as a decimal string.
    pub token: String,
    /// What differs.
    pub status: Status,
    /// Rows on A (static row included; 0 when absent).
    pub rows_a: u64,
    /// Rows on B.
    pub rows_b: u64,
    /// Cells on A.
    pub cells_a: u64,
    /// Cells on B.
    pub cells_b: u64,
    /// Rows and range-tombstone markers that differ (present on one side only, or different).
    pub rows_differing: u64,
    /// The first [`ROWS_LISTED`] of them.
    pub rows: Vec<RowDiff>,
    /// The serialized key, hex.
    pub key_hex: String,
    #[serde(skip)]
    raw_key: Vec<u8>,
}

/// The comparison of one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    /// Keyspace.
    pub keyspace: String,
    /// Table.
    pub table: String,
    /// Index name, for a secondary index table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// `a` or `b` when only that side has the table at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_in: Option<&'static str>,
    /// Tree depth used.
    pub depth: u8,
    /// Partitions hashed on A (after purging).
    pub partitions_a: u64,
    /// Partitions hashed on B.
    pub partitions_b: u64,
    /// The larger of the two: partitions compared.
    pub partitions_compared: u64,
    /// Leaves whose hashes differ.
    pub ranges_differing: u64,
    /// Their token ranges, `(left, right]`.
    pub ranges: Vec<String>,
    /// The differing partitions, in token order.
    pub differing_partitions: Vec<PartitionDiff>,
}

impl TableDiff {
    /// Whether A and B hold the same data for this table.
    pub fn identical(&self) -> bool {
        self.only_in.is_none() && self.ranges_differing == 0 && self.differing_partitions.is_empty()
    }

    /// The human summary.
    pub fn write_human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let name = match &self.index {
            Some(i) => format!("{}.{}.{}", self.keyspace, self.table, i),
            None => format!("{}.{}", self.keyspace, self.table),
        };
        if let Some(side) = self.only_in {
            let n = if side == "a" { self.partitions_a } else { self.partitions_b };
            return writeln!(out, "{name}: only in {} ({n} partitions)", side.to_uppercase());
        }
        if self.identical() {
            return writeln!(
                out,
                "{name}: identical ({} partitions, tree depth {})",
                self.partitions_compared, self.depth
            );
        }
        writeln!(
            out,
            "{name}: {} partitions differ in {} of {} ranges (A {} partitions, B {}, tree depth {})",
            self.differing_partitions.len(),
            self.ranges_differing,
            1u64 << self.depth,
            self.partitions_a,
            self.partitions_b,
            self.depth
        )?;
        for p in &self.differing_partitions {
            writeln!(
                out,
                "  key {} token {}: {} (rows A {} B {}, cells A {} B {}, {} rows differ)",
                p.key.join(":"),
                p.token,
                p.status.as_str(),
                p.rows_a,
                p.rows_b,
                p.cells_a,
                p.cells_b,
                p.rows_differing
            )?;
            for r in &p.rows {
                let at = if r.clustering.is_empty() { "(no clustering)".to_string() } else { r.clustering.join(":") };
                writeln!(out, "    row {at}: {}", r.status.as_str())?;
            }
            if p.rows_differing > p.rows.len() as u64 {
                writeln!(out, "    ... {} more rows", p.rows_differing - p.rows.len() as u64)?;
            }
        }
        Ok(())
    }
}

fn key_strings(header_key: &CqlType, key: &[u8]) -> Vec<String> {
    let types: Vec<CqlType> = match header_key {
        CqlType::Composite(ts) => ts.clone(),
        t => vec![t.clone()],
    };
    match types::value::key_components(header_key, key) {
        Ok(parts) => types.iter().zip(parts).map(|(t, p)| get_string(t, p)).collect(),
        Err(_) => vec![hex(key)],
    }
}

fn compare_rows(a: &PartitionDigest, b: &PartitionDigest) -> (u64, Vec<RowDiff>) {
    let by_pos: HashMap<&[u8], &RowDigest> = b.row_digests.iter().map(|r| (r.position.as_slice(), r)).collect();
    let in_a: HashSet<&[u8]> = a.row_digests.iter().map(|r| r.position.as_slice()).collect();
    let mut n = 0u64;
    let mut listed = Vec::new();
    let mut note = |clustering: &[String], status: Status| {
        n += 1;
        if listed.len() < ROWS_LISTED {
            listed.push(RowDiff { clustering: clustering.to_vec(), status });
        }
    };
    for r in &a.row_digests {
        match by_pos.get(r.position.as_slice()) {
            None => note(&r.clustering, Status::OnlyInA),
            Some(o) if o.hash != r.hash => note(&r.clustering, Status::by_timestamp(r.max_timestamp, o.max_timestamp)),
            Some(_) => {}
        }
    }
    for r in &b.row_digests {
        if !in_a.contains(r.position.as_slice()) {
            note(&r.clustering, Status::OnlyInB);
        }
    }
    (n, listed)
}

fn partition_diff(
    key_type: &CqlType,
    a: Option<&PartitionDigest>,
    b: Option<&PartitionDigest>,
) -> Option<PartitionDiff> {
    let any = a.or(b)?;
    let (status, rows_differing, rows) = match (a, b) {
        (Some(a), Some(b)) => {
            if a.hash == b.hash {
                return None;
            }
            let (n, rows) = compare_rows(a, b);
            let status = if a.deletion != b.deletion && a.deletion.supersedes(&b.deletion) {
                Status::DeletedInA
            } else if a.deletion != b.deletion && b.deletion.supersedes(&a.deletion) {
                Status::DeletedInB
            } else {
                Status::by_timestamp(a.max_timestamp, b.max_timestamp)
            };
            (status, n, rows)
        }
        (Some(a), None) => {
            let rows: Vec<RowDiff> = a
                .row_digests
                .iter()
                .take(ROWS_LISTED)
                .map(|r| RowDiff { clustering: r.clustering.clone(), status: Status::OnlyInA })
                .collect();
            (Status::OnlyInA, a.row_digests.len() as u64, rows)
        }
        (None, Some(b)) => {
            let rows: Vec<RowDiff> = b
                .row_digests
                .iter()
                .take(ROWS_LISTED)
                .map(|r| RowDiff { clustering: r.clustering.clone(), status: Status::OnlyInB })
                .collect();
            (Status::OnlyInB, b.row_digests.len() as u64, rows)
        }
        (None, None) => return None,
    };
    Some(PartitionDiff {
        key: key_strings(key_type, &any.key),
        token: any.token.to_string(),
        status,
        rows_a: a.map_or(0, |d| d.rows),
        rows_b: b.map_or(0, |d| d.rows),
        cells_a: a.map_or(0, |d| d.cells),
        cells_b: b.map_or(0, |d| d.cells),
        rows_differing,
        rows,
        key_hex: hex(&any.key),
        raw_key: any.key.clone(),
    })
}

/// Compare one table of A and B: trees first, then the partitions of the differing ranges.
pub fn diff_table(pair: &TablePair<'_>, opts: &RepairOptions) -> Result<TableDiff, RepairError> {
    let name = pair.name();
    let clock = clock_for(pair, opts);
    let depth = depth_of(pair, opts)?;
    let ta = build_tree(&pair.a, depth, clock, &name)?;
    let tb = build_tree(&pair.b, depth, clock, &name)?;
    let leaves = ta.difference(&tb).map_err(|source| RepairError::Merkle { table: name.clone(), source })?;
    let mut diff = TableDiff {
        keyspace: pair.keyspace.clone(),
        table: pair.table.clone(),
        index: pair.index.clone(),
        only_in: match (pair.a.is_empty(), pair.b.is_empty()) {
            (false, true) => Some("a"),
            (true, false) => Some("b"),
            _ => None,
        },
        depth,
        partitions_a: ta.partitions(),
        partitions_b: tb.partitions(),
        partitions_compared: ta.partitions().max(tb.partitions()),
        ranges_differing: leaves.len() as u64,
        ranges: leaves.iter().map(|l| ta.range_of(*l).to_string()).collect(),
        differing_partitions: Vec::new(),
    };
    if leaves.is_empty() {
        return Ok(diff);
    }
    let da = collect(&pair.a, clock, depth, &leaves, &name)?;
    let db = collect(&pair.b, clock, depth, &leaves, &name)?;
    let key_type = pair.a.first().or(pair.b.first()).map(|t| t.header.key_type.clone()).unwrap_or(CqlType::Blob);
    let (mut ia, mut ib) = (da.iter().peekable(), db.iter().peekable());
    loop {
        let (a, b) = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some(a), None) => (Some(*a), None),
            (None, Some(b)) => (None, Some(*b)),
            (Some(a), Some(b)) => match (a.token, &a.key).cmp(&(b.token, &b.key)) {
                std::cmp::Ordering::Less => (Some(*a), None),
                std::cmp::Ordering::Greater => (None, Some(*b)),
                std::cmp::Ordering::Equal => (Some(*a), Some(*b)),
            },
        };
        if a.is_some() {
            ia.next();
        }
        if b.is_some() {
            ib.next();
        }
        if let Some(p) = partition_diff(&key_type, a, b) {
            diff.differing_partitions.push(p);
        }
    }
    Ok(diff)
}

/// Compare every table A and B hold (restricted by `opts`).
pub fn diff(a: &[SsTable], b: &[SsTable], opts: &RepairOptions) -> Result<Vec<TableDiff>, RepairError> {
    pair_tables(a, b, opts)?.iter().map(|p| diff_table(p, opts)).collect()
}

/// What sync wrote for one table.
#[derive(Debug, Clone, Serialize)]
pub struct SyncedTable {
    /// Keyspace.
    pub keyspace: String,
    /// Table.
    pub table: String,
    /// Partitions that differed.
    pub differing_partitions: u64,
    /// The SSTable written for A (A lacked or had other versions of these partitions).
    pub for_a: Option<Written>,
    /// The SSTable written for B.
    pub for_b: Option<Written>,
}

/// One SSTable sync wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// Its Data.db.
    pub data: PathBuf,
    /// Partitions in it.
    pub partitions: u64,
}

/// The writable version of a family: `m*` → `me`, `n*` → `nb`, `oa` → `oa`.
pub fn writable(v: Version) -> Version {
    match v {
        Version::Ma | Version::Mb | Version::Mc | Version::Md | Version::Me => Version::Me,
        Version::Na | Version::Nb => Version::Nb,
        Version::Oa => Version::Oa,
    }
}

/// Where an SSTable for `target` (the side receiving it) goes under `out`:
/// `<keyspace>/<table>-<id>` (just `<table>` when the side's layout has no id).
fn target_dir(out: &Path, pair: &TablePair<'_>, target: &[&SsTable], source: &[&SsTable]) -> PathBuf {
    let loc = target.first().or(source.first()).map(|t| TableLocation::of(t)).unwrap_or_default();
    let name = match (&loc.id, &pair.index) {
        (Some(id), _) => format!("{}-{id}", pair.table),
        (None, _) => pair.table.clone(),
    };
    let dir = out.join(&pair.keyspace).join(name);
    match &pair.index {
        Some(i) => dir.join(format!(".{i}")),
        None => dir,
    }
}

/// Write `source`'s reconciled (unpurged) partitions whose keys are in `keys` into an SSTable in
/// `dir`, in the format family and compression of `target` (of `source` when `target` has none).
fn write_partitions(
    source: &[&SsTable],
    target: &[&SsTable],
    keys: &HashSet<Vec<u8>>,
    dir: &Path,
) -> Result<Option<Written>, RepairError> {
    let Some(first) = source.first() else { return Ok(None) };
    let model = target.first().unwrap_or(first);
    let scanners = source.iter().map(|t| t.scanner()).collect::<Result<Vec<_>, _>>()?;
    let mut merger = Merger::new(scanners, first.partitioner)?;
    let header = PartitionStream::header(&merger).clone();
    let options = WriterOptions {
        version: writable(model.descriptor.version),
        compression: model.compression.as_ref().and_then(|c| c.compressor).map(CompressionParams::new),
        expected_partitions: (keys.len() as u64).max(1),
        partitioner: first.partitioner,
        ..WriterOptions::default()
    };
    let mut writer: Option<SsTableWriter> = None;
    let mut n = 0u64;
    while let Some(p) = merger.next_partition()?.cloned() {
        if !keys.contains(&p.key) {
            continue;
        }
        let w = match &mut writer {
            Some(w) => w,
            None => {
                // A generation the receiving table directory does not use yet, so that the files
                // can be moved into it as they are.
                let mut generation = next_generation(dir)?;
                if let Some(t) = target.first() {
                    generation = generation.max(next_generation(&t.descriptor.directory)?);
                }
                writer.insert(SsTableWriter::create(dir, generation, header.clone(), options.clone())?)
            }
        };
        w.write_partition(&mut merger, &p)?;
        n += 1;
    }
    match writer {
        Some(w) => {
            let d = w.finish()?;
            Ok(Some(Written { data: d.path(cairn_format::Component::Data), partitions: n }))
        }
        None => Ok(None),
    }
}

/// Diff, then write what each side lacks under `out/for-a/` and `out/for-b/`.
pub fn sync(a: &[SsTable], b: &[SsTable], opts: &RepairOptions, out: &Path) -> Result<Vec<SyncedTable>, RepairError> {
    let mut report = Vec::new();
    for pair in pair_tables(a, b, opts)? {
        let d = diff_table(&pair, opts)?;
        let mut synced = SyncedTable {
            keyspace: pair.keyspace.clone(),
            table: pair.table.clone(),
            differing_partitions: d.differing_partitions.len() as u64,
            for_a: None,
            for_b: None,
        };
        // A whole table on one side only: all of it goes to the other side.
        let keys: Option<HashSet<Vec<u8>>> = match d.only_in {
            Some(_) => None,
            None => Some(d.differing_partitions.iter().map(|p| p.raw_key.clone()).collect()),
        };
        let all_of = |group: &[&SsTable]| -> Result<HashSet<Vec<u8>>, RepairError> {
            let mut keys = HashSet::new();
            for t in group {
                let mut s = t.scanner()?;
                while let Some(p) = s.next_partition()? {
                    keys.insert(p.key.clone());
                }
            }
            Ok(keys)
        };
        if !d.identical() {
            let to_b = match &keys {
                Some(k) => k.clone(),
                None => all_of(&pair.a)?,
            };
            let to_a = match keys {
                Some(k) => k,
                None => all_of(&pair.b)?,
            };
            synced.for_b =
                write_partitions(&pair.a, &pair.b, &to_b, &target_dir(&out.join("for-b"), &pair, &pair.b, &pair.a))?;
            synced.for_a =
                write_partitions(&pair.b, &pair.a, &to_a, &target_dir(&out.join("for-a"), &pair, &pair.a, &pair.b))?;
        }
        report.push(synced);
    }
    Ok(report)
}
