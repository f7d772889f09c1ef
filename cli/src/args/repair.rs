//! `cairn repair`: offline diff and sync of two copies of the same tables.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum RepairCommand {
    /// Compare two copies of the same tables (data, keyspace, table or snapshot directories) by
    /// Merkle trees over their reconciled content, then name each differing partition: only in
    /// A, only in B, A newer, B newer, deleted on one side. Exit 0 identical, 1 different, 2 could
    /// not run.
    Diff(RepairDiffArgs),
    /// Diff, then write what each side lacks as SSTables in that side's format family and
    /// compression: `DIR/for-a/<ks>/<table>-<id>/` and `DIR/for-b/...`, to drop into the table
    /// directory or `cairn load`.
    Sync(RepairSyncArgs),
}

#[derive(Args)]
pub struct RepairSides {
    /// Side A: SSTables, table, snapshot, keyspace or data directory.
    pub a: PathBuf,
    /// Side B, matched to A by keyspace and table name (table ids may differ).
    pub b: PathBuf,
    /// Only tables of this keyspace.
    #[arg(long, value_name = "KS")]
    pub keyspace: Option<String>,
    /// Only tables of this name.
    #[arg(long, value_name = "T")]
    pub table: Option<String>,
    /// Merkle tree depth, 0 to 20 (default: ceil(log2(partitions)), capped at 20, as Cassandra's
    /// validation).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=20))]
    pub depth: Option<u8>,
    /// The time of the comparison: tombstones past gc_grace at it are left out, as Cassandra's
    /// validation compaction does, and TTLs expire. Seconds since the epoch or an ISO date-time
    /// (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// gc_grace_seconds (default: the table's from A's schema, else B's, else 864000).
    #[arg(long, value_name = "SECONDS")]
    pub gc_grace_seconds: Option<i64>,
    /// CQL schema file (CREATE TABLE) for both sides; default: schema.cql beside the files.
    #[arg(long, value_name = "FILE.cql")]
    pub schema: Option<PathBuf>,
}

#[derive(Args)]
pub struct RepairDiffArgs {
    #[command(flatten)]
    pub sides: RepairSides,
    /// One JSON document: {"tables": [{"keyspace", "table", "partitions_compared",
    /// "ranges_differing", "differing_partitions": [...]}]}.
    #[arg(long, conflicts_with = "ndjson")]
    pub json: bool,
    /// One JSON record per line: each differing partition ("type": "partition"), then each
    /// table's summary ("type": "table").
    #[arg(long)]
    pub ndjson: bool,
}

#[derive(Args)]
pub struct RepairSyncArgs {
    #[command(flatten)]
    pub sides: RepairSides,
    /// Output directory (for-a/ and for-b/ are created under it).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}
