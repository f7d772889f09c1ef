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

use std::collections::BTreeMap;

use cairn_compact::purge::{PurgeClock, gc_before};
use cairn_format::location::{TableLocation, group_by_table};
use cairn_format::merkle::{self};
use cairn_format::sstable::SsTable;

/// Why a diff or sync could not run.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// Reading or writing SSTables failed.
    #[error(transparent)]
    Format(#[from] cairn_format::Error),
    /// The tree could not be built.
    #[error("{table}: {error}")]
    Merkle {
        /// `keyspace.table`.
        table: String,
        /// What went wrong (said in this message, so not an error source: the CLI prints
        /// sources after the message).
        error: merkle::MerkleError,
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
    /// The two sides' schemas of one table disagree: one side could not read what the other
    /// holds (and a sync would write SSTables the receiving table cannot read).
    #[error("{table}: the two sides' schemas disagree: {side}'s schema cannot read {file}: {error}")]
    SchemaMismatch {
        /// `keyspace.table`.
        table: String,
        /// `A` or `B`: the side whose schema does not read the other's SSTable.
        side: &'static str,
        /// The other side's SSTable.
        file: String,
        /// How they disagree (said in this message).
        error: Box<cairn_format::Error>,
    },
    /// `repair sync --out` names a directory that already holds something.
    #[error("{}: sync writes into a new or empty directory, and this one holds files (a rerun would add its SSTables beside them)", path.display())]
    OutNotEmpty {
        /// The directory.
        path: std::path::PathBuf,
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

pub(crate) fn side_groups<'a>(
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
        if let Some((_, prev)) = out.get(&key) {
            // The places, as directories: the operator names one of them.
            let place =
                |g: &[&SsTable]| g.first().map(|t| t.descriptor.directory.display().to_string()).unwrap_or_default();
            let places = format!("{}; {}", place(prev), place(&group));
            return Err(RepairError::Ambiguous { side, table: loc.qualified_name(), places });
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
    let pairs: Vec<TablePair<'a>> = keys
        .into_iter()
        .map(|k| {
            let a = ga.remove(&k).unwrap_or_default();
            let b = gb.remove(&k).unwrap_or_default();
            TablePair { keyspace: k.0, table: k.1, index: k.2, a, b }
        })
        .collect();
    for pair in &pairs {
        schemas_agree(pair, false)?;
    }
    Ok(pairs)
}

/// The two sides of a table must be one table ([`TableSchema::check_against`] each side's
/// schema with every SSTable of the other): the same key and clustering types and order, and
/// compatible types for the columns both know, else the diff compares unlike values. A column
/// only one side has is a column added or dropped since the other was taken: a diff compares
/// them all the same; a sync (`every_column`) needs each side to know every column of what it
/// receives, or it would write SSTables the receiving table cannot read.
///
/// [`TableSchema::check_against`]: cairn_format::schema::TableSchema::check_against
pub(crate) fn schemas_agree(pair: &TablePair<'_>, every_column: bool) -> Result<(), RepairError> {
    for (side, mine, theirs) in [("A", &pair.a, &pair.b), ("B", &pair.b, &pair.a)] {
        let Some(schema) = side_schema(mine) else { continue };
        for t in theirs.iter() {
            let mut schema = schema.clone();
            if !every_column {
                let known = |name: &str, s: &cairn_format::schema::TableSchema| {
                    s.static_columns.iter().chain(&s.regular_columns).any(|c| c.name == name)
                        || s.dropped.iter().any(|d| d.column.name == name)
                };
                for c in t.header.static_columns.iter().chain(&t.header.regular_columns) {
                    if !known(&c.name, &schema) {
                        schema
                            .regular_columns
                            .push(cairn_format::schema::ColumnDef { name: c.name.clone(), ty: c.ty.clone() });
                    }
                }
            }
            schema.check_against(&t.header).map_err(|e| RepairError::SchemaMismatch {
                table: format!("{}.{}", pair.keyspace, pair.table),
                side,
                file: t.path(cairn_format::Component::Data).display().to_string(),
                error: Box::new(e),
            })?;
        }
    }
    Ok(())
}

/// A side's schema of a table: its schema.cql's, or without one, the columns of all its
/// SSTables' headers (SSTables written before a column was added lack it).
fn side_schema(side: &[&SsTable]) -> Option<cairn_format::schema::TableSchema> {
    let mut schema = side.first()?.schema.clone();
    if schema.source != cairn_format::schema::SchemaSource::Header {
        return Some(schema);
    }
    for t in side.iter().skip(1) {
        for (known, columns) in [
            (&mut schema.static_columns, &t.header.static_columns),
            (&mut schema.regular_columns, &t.header.regular_columns),
        ] {
            for c in columns {
                if !known.iter().any(|k| k.name == c.name) {
                    known.push(cairn_format::schema::ColumnDef { name: c.name.clone(), ty: c.ty.clone() });
                }
            }
        }
    }
    Some(schema)
}

/// The clock both sides of a pair are purged at.
pub(crate) fn clock_for(pair: &TablePair<'_>, opts: &RepairOptions) -> PurgeClock {
    // A's schema, else B's (a side without schema.cql has none), else Cassandra's default.
    let said = |side: &[&SsTable]| side.first().and_then(|t| t.schema.gc_grace_seconds());
    let gc_grace = opts
        .gc_grace_seconds
        .or_else(|| said(&pair.a))
        .or_else(|| said(&pair.b))
        .unwrap_or(cairn_compact::purge::DEFAULT_GC_GRACE_SECONDS);
    PurgeClock { now_s: opts.now_s, gc_grace, gc_before: gc_before(opts.now_s, gc_grace), may_purge: true }
}

mod diff;
mod sync;
mod validation;

pub use diff::*;
pub use sync::*;
pub use validation::*;
