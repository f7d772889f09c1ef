//! `cairn compact`: upgrade, run, plan, split, gc and cleanup.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{CompressionArg, Inputs, PurgeArgs, TargetVersion};

#[derive(Subcommand)]
pub enum CompactCommand {
    /// Rewrite SSTables of any readable version into another version and/or compression
    /// (the job of sstableupgrade; also downgrades to me for Cassandra 3.11 where the data fits).
    Upgrade(UpgradeArgs),
    /// Merge SSTables of one table into one new SSTable, purging tombstones past gc_grace that no
    /// SSTable outside the compaction can need (the inputs are left untouched).
    ///
    /// Tombstones purged and kept are counted in the unit of `tombstones` and `partitions`: one for the
    /// partition deletion, each row deletion, each range tombstone (once, at its opening bound), each
    /// cell tombstone, each collection or UDT deletion, and each expired TTL cell or row marker, after
    /// the inputs are merged: over overlapping SSTables the total can be lower than the sum of each
    /// SSTable's `tombstones` count (a tombstone written twice, or covered by a newer deletion in
    /// another input, merges away).
    Run(RunArgs),
    /// Show what a compaction strategy (STCS, LCS, TWCS) would compact next in a table
    /// directory, and why; --execute runs it.
    Plan(PlanArgs),
    /// Rewrite each SSTable into pieces of at most --size MiB and/or one per token range (the
    /// job of sstablesplit; nothing merged or purged).
    Split(SplitArgs),
    /// The offline nodetool garbagecollect: rewrite each SSTable on its own, dropping the data
    /// other SSTables of the table delete (-g row) or also overwrite (-g cell), then purging as
    /// any compaction does.
    Gc(GcArgs),
    /// Resolve what interrupted operations left, as Cassandra does at start-up: complete or roll
    /// back every lifecycle transaction (`*_txn_*.log`), delete temporary files of interrupted
    /// writes. In a table, keyspace or data directory (snapshots and backups are not touched).
    Cleanup(CleanupArgs),
}

#[derive(Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Target format version.
    #[arg(long, value_enum, default_value = "nb")]
    pub to: TargetVersion,
    /// Target compression (default: keep the source's).
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    /// Output directory (keyspace/table directories are recreated below it); refused when the
    /// output would land in an input's own directory or in one already holding SSTables.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Target format version.
    #[arg(long, value_enum, default_value = "nb")]
    pub to: TargetVersion,
    /// Target compression (default: the first input's).
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    /// Output directory (keyspace/table directories are recreated below it); refused when the
    /// output would land in an input's own directory or in one already holding SSTables.
    #[arg(long, value_name = "DIR", conflicts_with = "in_place", required_unless_present_any = ["in_place", "dry_run"])]
    pub out: Option<PathBuf>,
    /// Replace the inputs in their table directory, as one lifecycle transaction (killed at any
    /// point, `compact cleanup` leaves exactly the inputs or exactly the output).
    #[arg(long)]
    pub in_place: bool,
    /// Decide everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// For each partition the compaction changes: what is dropped (shadowed, superseded, purged
    /// tombstones) and why each kept tombstone stays (younger than gc_grace, or older data may
    /// sit in the SSTables named). On stdout; the written files go to the summary on stderr.
    #[arg(long)]
    pub explain: bool,
    /// With --explain: one JSON object per partition.
    #[arg(long, requires = "explain")]
    pub ndjson: bool,
    #[command(flatten)]
    pub purge: PurgeArgs,
}

#[derive(Args)]
pub struct PlanArgs {
    /// The table directory (or its SSTables).
    #[command(flatten)]
    pub inputs: Inputs,
    /// stcs, lcs or twcs (or a class name); default: the table's compaction class from schema.cql,
    /// else Cassandra's default, stcs.
    #[arg(long, value_name = "STRATEGY")]
    pub strategy: Option<String>,
    /// A strategy option by its CQL name, e.g. -o min_threshold=2 -o sstable_size_in_mb=160
    /// (repeatable; overrides the schema's).
    #[arg(short = 'o', long = "option", value_name = "NAME=VALUE")]
    pub options: Vec<String>,
    /// gc_grace_seconds (default: the table's from the schema, else Cassandra's 864000).
    #[arg(long, value_name = "SECONDS")]
    pub gc_grace_seconds: Option<i64>,
    /// The time of the plan: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// The plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Accept TWCS's unsafe_aggressive_sstable_expiration (Cassandra needs
    /// -Dcassandra.allow_unsafe_aggressive_sstable_expiration=true for it).
    #[arg(long)]
    pub allow_unsafe_aggressive_sstable_expiration: bool,
    /// Run the planned compaction (with --out DIR, or --in-place).
    #[arg(long)]
    pub execute: bool,
    /// With --execute: write the output under DIR (keyspace/table directories recreated),
    /// leaving the table directory untouched; refused when that is the table directory itself
    /// or already holds SSTables.
    #[arg(long, value_name = "DIR", requires = "execute", conflicts_with = "in_place")]
    pub out: Option<PathBuf>,
    /// With --execute: write into the table directory and delete the compacted SSTables once
    /// the output is complete, as Cassandra does (stop the node first).
    #[arg(long, requires = "execute")]
    pub in_place: bool,
    /// Output format version for --execute.
    #[arg(long, value_enum, default_value = "nb")]
    pub to: TargetVersion,
    /// Output compression for --execute (default: keep the inputs').
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
}

#[derive(Args)]
pub struct SplitArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Maximum size of a piece in MiB (default 50 unless --token-ranges is given).
    #[arg(long, value_name = "MB")]
    pub size: Option<u64>,
    /// Split at N equal token ranges of the partitioner's token space.
    #[arg(long, value_name = "N")]
    pub token_ranges: Option<u32>,
    /// Write the pieces under DIR (keyspace/table directories recreated), inputs untouched;
    /// refused when the pieces would land in an input's own directory or in one already holding
    /// SSTables.
    #[arg(long, value_name = "DIR", conflicts_with = "in_place")]
    pub out: Option<PathBuf>,
    /// Write the pieces beside each input and delete the input once they are complete (stop the
    /// node first).
    #[arg(long)]
    pub in_place: bool,
    /// Output format version.
    #[arg(long, value_enum, default_value = "nb")]
    pub to: TargetVersion,
    /// Output compression (default: keep the input's).
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    /// When TTLs count as expired: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Args)]
pub struct GcArgs {
    /// The SSTables to collect (a table directory: all of them).
    #[command(flatten)]
    pub inputs: Inputs,
    /// Granularity.
    #[arg(short = 'g', long, value_enum, default_value = "row")]
    pub granularity: GranularityArg,
    /// Write the rewritten SSTables under DIR (keyspace/table directories recreated), inputs
    /// untouched; they replace the inputs as a set, never one by one. Refused when the output
    /// would land in the inputs' own directory or in one already holding SSTables.
    #[arg(long, value_name = "DIR", conflicts_with = "in_place", required_unless_present_any = ["in_place", "dry_run"])]
    pub out: Option<PathBuf>,
    /// Replace each SSTable in its directory once its rewrite is complete (stop the node first).
    #[arg(long)]
    pub in_place: bool,
    /// Decide everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Per partition changed, what was collected and purged (as `compact run --explain`).
    #[arg(long)]
    pub explain: bool,
    /// Output format version.
    #[arg(long, value_enum, default_value = "nb")]
    pub to: TargetVersion,
    /// Output compression (default: keep the input's).
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    #[command(flatten)]
    pub purge: PurgeArgs,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GranularityArg {
    /// Data covered by partition, range and row deletions elsewhere (nodetool's default).
    Row,
    /// Also cells another SSTable holds a newer version of.
    Cell,
}

#[derive(Args)]
pub struct CleanupArgs {
    /// Table, keyspace or data directories.
    #[arg(required = true, value_name = "DIR")]
    pub paths: Vec<PathBuf>,
}
