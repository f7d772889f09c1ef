//! `cairn`: one binary for Apache Cassandra's on-disk files.
//!
//! The binary only parses arguments and calls the library crates; exit codes are 0 (ok),
//! 1 (checked and found problems) and 2 (could not run). Data goes to stdout, diagnostics to
//! stderr, and a closed stdout (`| head`) ends the program quietly.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use cairn_format::sstable::OpenOptions;
use cairn_inspect::{InspectError, open_inputs};

/// Read, inspect and verify Apache Cassandra SSTables (3.0 to 5.0, BIG format).
#[derive(Parser)]
#[command(name = "cairn", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print partitions, rows, cells and tombstones as sstabledump-compatible JSON.
    Dump(DumpArgs),
    /// Print the metadata sstablemetadata shows (Statistics.db, Summary.db, TOC); a component
    /// other than Statistics.db that does not read is a warning and exit code 1.
    Meta(MetaArgs),
    /// Check digests, chunk checksums, index agreement and ordering.
    Verify(VerifyArgs),
    /// Print Index.db, Summary.db, Filter.db, CompressionInfo.db and TOC as JSON.
    Describe(DescribeArgs),
    /// Count tombstones by kind and age, and say which are droppable and what blocks the rest.
    Tombstones(TombstonesArgs),
    /// Find large partitions (size, rows, cells, tombstones) and their distribution per SSTable
    /// (the job of sstablepartitions).
    Partitions(PartitionsArgs),
    /// Rewrite SSTables offline (format upgrade or downgrade, ...).
    #[command(subcommand)]
    Compact(CompactCommand),
    /// Export the live rows of each table (all its SSTables reconciled) as Parquet, CSV or
    /// NDJSON datasets for Spark, DuckDB, pandas and friends.
    Export(ExportArgs),
    /// Run a Cassandra-compatible node: CQL native protocol v4 for drivers and cqlsh.
    Node(NodeArgs),
    /// Operate a running node (nodetool's job): flush, snapshot, listsnapshots, clearsnapshot,
    /// compact, status, tablestats.
    Admin(AdminArgs),
    /// Restore SSTables (snapshots, table directories, files) into a live cluster over CQL,
    /// keeping write timestamps, TTLs and deletions.
    Load(LoadArgs),
    /// Write a deterministic dataset as real SSTables in a Cassandra data-directory layout.
    Gen(GenArgs),
    /// A tour: generate a small sessions dataset and inspect it with every verb.
    Demo(DemoArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DatasetArg {
    /// Web sessions with TTLs, renewals and logouts (the Cassandra HA talk's table).
    Sessions,
    /// Sensor readings by (sensor, day), time-window shaped.
    Timeseries,
    /// The TTL'd comments feed that piles up expired cells.
    Comments,
    /// A few partitions with very many rows.
    Wide,
    /// Maps, sets, lists, UDTs and tuples, frozen and not.
    Collections,
    /// One column per CQL type.
    Alltypes,
    /// Partition, row, range, cell and TTL tombstones over overlapping SSTables.
    Tombstones,
}

impl DatasetArg {
    fn name(self) -> &'static str {
        match self {
            DatasetArg::Sessions => "sessions",
            DatasetArg::Timeseries => "timeseries",
            DatasetArg::Comments => "comments",
            DatasetArg::Wide => "wide",
            DatasetArg::Collections => "collections",
            DatasetArg::Alltypes => "alltypes",
            DatasetArg::Tombstones => "tombstones",
        }
    }
}

#[derive(Args)]
struct GenArgs {
    /// Which dataset.
    #[arg(value_enum)]
    dataset: DatasetArg,
    /// Data directory to write into (DIR/KEYSPACE/TABLE-ID/, and DIR/schema.cql).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Random seed (the same seed gives the same files).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Approximate number of CQL rows.
    #[arg(long, default_value_t = 10_000)]
    rows: u64,
    /// Format version.
    #[arg(long, value_enum, default_value = "nb")]
    version: TargetVersion,
    /// Compression.
    #[arg(long, value_enum, default_value = "lz4")]
    compression: CompressionArg,
    /// Number of SSTables the writes are spread over (as flushes would split them).
    #[arg(long, default_value_t = 3)]
    sstables: u32,
    /// Also write the expected live content (NDJSON: a header line with `now`, then one CQL row per line).
    #[arg(long, value_name = "FILE")]
    expected: Option<PathBuf>,
    /// The dataset's clock (seconds since the epoch, or a date-time): writes happen in the hours
    /// and days before it, TTLs expire relative to it. Default: a fixed time, for reproducible
    /// files; `now` for the current time.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

#[derive(Args)]
struct DemoArgs {
    /// Where to write the demo data (default: a new directory under the system temp dir).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum CompactCommand {
    /// Rewrite SSTables of any readable version into another version and/or compression
    /// (the job of sstableupgrade; also downgrades to me for Cassandra 3.11 where the data fits).
    Upgrade(UpgradeArgs),
    /// Merge SSTables of one table into one new SSTable, purging tombstones past gc_grace that
    /// no SSTable outside the compaction can need (the inputs are left untouched).
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
struct CleanupArgs {
    /// Table, keyspace or data directories.
    #[arg(required = true, value_name = "DIR")]
    paths: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum GranularityArg {
    /// Data covered by partition, range and row deletions elsewhere (nodetool's default).
    Row,
    /// Also cells another SSTable holds a newer version of.
    Cell,
}

#[derive(Args)]
struct GcArgs {
    /// The SSTables to collect (a table directory: all of them).
    #[command(flatten)]
    inputs: Inputs,
    /// Granularity.
    #[arg(short = 'g', long, value_enum, default_value = "row")]
    granularity: GranularityArg,
    /// Write the rewritten SSTables under DIR (keyspace/table directories recreated), inputs
    /// untouched; they replace the inputs as a set, never one by one. Refused when the output
    /// would land in the inputs' own directory.
    #[arg(long, value_name = "DIR", conflicts_with = "in_place", required_unless_present_any = ["in_place", "dry_run"])]
    out: Option<PathBuf>,
    /// Replace each SSTable in its directory once its rewrite is complete (stop the node first).
    #[arg(long)]
    in_place: bool,
    /// Decide everything, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Per partition changed, what was collected and purged (as `compact run --explain`).
    #[arg(long)]
    explain: bool,
    /// Output format version.
    #[arg(long, value_enum, default_value = "nb")]
    to: TargetVersion,
    /// Output compression (default: keep the input's).
    #[arg(long, value_enum)]
    compression: Option<CompressionArg>,
    #[command(flatten)]
    purge: PurgeArgs,
}

#[derive(Args)]
struct SplitArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Maximum size of a piece in MiB (default 50 unless --token-ranges is given).
    #[arg(long, value_name = "MB")]
    size: Option<u64>,
    /// Split at N equal token ranges of the partitioner's token space.
    #[arg(long, value_name = "N")]
    token_ranges: Option<u32>,
    /// Write the pieces under DIR (keyspace/table directories recreated), inputs untouched;
    /// refused when the pieces would land in an input's own directory.
    #[arg(long, value_name = "DIR", conflicts_with = "in_place")]
    out: Option<PathBuf>,
    /// Write the pieces beside each input and delete the input once they are complete (stop the
    /// node first).
    #[arg(long)]
    in_place: bool,
    /// Output format version.
    #[arg(long, value_enum, default_value = "nb")]
    to: TargetVersion,
    /// Output compression (default: keep the input's).
    #[arg(long, value_enum)]
    compression: Option<CompressionArg>,
    /// When TTLs count as expired: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

#[derive(Args)]
struct PlanArgs {
    /// The table directory (or its SSTables).
    #[command(flatten)]
    inputs: Inputs,
    /// stcs, lcs or twcs (or a class name); default: the table's compaction class from schema.cql.
    #[arg(long, value_name = "STRATEGY")]
    strategy: Option<String>,
    /// A strategy option by its CQL name, e.g. -o min_threshold=2 -o sstable_size_in_mb=160
    /// (repeatable; overrides the schema's).
    #[arg(short = 'o', long = "option", value_name = "NAME=VALUE")]
    options: Vec<String>,
    /// gc_grace_seconds (default: the table's from the schema, else Cassandra's 864000).
    #[arg(long, value_name = "SECONDS")]
    gc_grace_seconds: Option<i64>,
    /// The time of the plan: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// The plan as JSON.
    #[arg(long)]
    json: bool,
    /// Accept TWCS's unsafe_aggressive_sstable_expiration (Cassandra needs
    /// -Dcassandra.allow_unsafe_aggressive_sstable_expiration=true for it).
    #[arg(long)]
    allow_unsafe_aggressive_sstable_expiration: bool,
    /// Run the planned compaction (with --out DIR, or --in-place).
    #[arg(long)]
    execute: bool,
    /// With --execute: write the output under DIR (keyspace/table directories recreated),
    /// leaving the table directory untouched; refused when that is the table directory itself.
    #[arg(long, value_name = "DIR", requires = "execute", conflicts_with = "in_place")]
    out: Option<PathBuf>,
    /// With --execute: write into the table directory and delete the compacted SSTables once
    /// the output is complete, as Cassandra does (stop the node first).
    #[arg(long, requires = "execute")]
    in_place: bool,
    /// Output format version for --execute.
    #[arg(long, value_enum, default_value = "nb")]
    to: TargetVersion,
    /// Output compression for --execute (default: keep the inputs').
    #[arg(long, value_enum)]
    compression: Option<CompressionArg>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Target format version.
    #[arg(long, value_enum, default_value = "nb")]
    to: TargetVersion,
    /// Target compression (default: the first input's).
    #[arg(long, value_enum)]
    compression: Option<CompressionArg>,
    /// Output directory (keyspace/table directories are recreated below it); refused when the
    /// output would land in an input's own directory.
    #[arg(long, value_name = "DIR", conflicts_with = "in_place", required_unless_present_any = ["in_place", "dry_run"])]
    out: Option<PathBuf>,
    /// Replace the inputs in their table directory, as one lifecycle transaction (killed at any
    /// point, `compact cleanup` leaves exactly the inputs or exactly the output).
    #[arg(long)]
    in_place: bool,
    /// Decide everything, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// For each partition the compaction changes: what is dropped (shadowed, superseded, purged
    /// tombstones) and why each kept tombstone stays (younger than gc_grace, or older data may
    /// sit in the SSTables named). On stdout; the written files go to the summary on stderr.
    #[arg(long)]
    explain: bool,
    /// With --explain: one JSON object per partition.
    #[arg(long, requires = "explain")]
    ndjson: bool,
    #[command(flatten)]
    purge: PurgeArgs,
}

/// When and what a rewrite may purge.
#[derive(Args)]
struct PurgeArgs {
    /// gc_grace_seconds (default: the table's from the schema, else Cassandra's 864000).
    #[arg(long, value_name = "SECONDS")]
    gc_grace_seconds: Option<i64>,
    /// The time of the rewrite: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Purge only if every input SSTable is repaired (only_purge_repaired_tombstones); compact gc
    /// then collects only repaired SSTables.
    #[arg(long)]
    only_purge_repaired: bool,
}

impl PurgeArgs {
    /// Run options writing `to`, with these purge settings.
    fn options(&self, to: cairn_format::Version) -> anyhow::Result<cairn_compact::run::RunOptions> {
        let mut o = cairn_compact::run::RunOptions::new(to, parse_now(self.now.as_deref())?);
        o.gc_grace_seconds = self.gc_grace_seconds;
        o.only_purge_repaired = self.only_purge_repaired;
        Ok(o)
    }
}

impl TargetVersion {
    fn version(self) -> cairn_format::Version {
        match self {
            TargetVersion::Nb => cairn_format::Version::Nb,
            TargetVersion::Me => cairn_format::Version::Me,
            TargetVersion::Oa => cairn_format::Version::Oa,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum TargetVersion {
    /// Cassandra 4.0, 4.1 and 5.0 (compatibility mode).
    Nb,
    /// Cassandra 3.0.25+ / 3.11.11+.
    Me,
    /// Cassandra 5.0.
    Oa,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum CompressionArg {
    /// LZ4Compressor.
    Lz4,
    /// SnappyCompressor.
    Snappy,
    /// DeflateCompressor.
    Deflate,
    /// ZstdCompressor.
    Zstd,
    /// Uncompressed, with CRC.db.
    None,
}

impl CompressionArg {
    fn compressor(self) -> Option<cairn_format::compression::Compressor> {
        use cairn_format::compression::Compressor;
        match self {
            CompressionArg::Lz4 => Some(Compressor::Lz4),
            CompressionArg::Snappy => Some(Compressor::Snappy),
            CompressionArg::Deflate => Some(Compressor::Deflate),
            CompressionArg::Zstd => Some(Compressor::Zstd),
            CompressionArg::None => None,
        }
    }
}

#[derive(Args)]
struct UpgradeArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Target format version.
    #[arg(long, value_enum, default_value = "nb")]
    to: TargetVersion,
    /// Target compression (default: keep the source's).
    #[arg(long, value_enum)]
    compression: Option<CompressionArg>,
    /// Output directory (keyspace/table directories are recreated below it); refused when the
    /// output would land in an input's own directory.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Args)]
struct Inputs {
    /// SSTable component files, table directories, snapshot directories or data directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// CQL schema file (CREATE TYPE / CREATE TABLE) naming key and clustering columns and
    /// saying which UDTs are frozen; default: schema.cql beside the files, else the SSTable's
    /// serialization header alone.
    #[arg(long, value_name = "FILE.cql")]
    schema: Option<PathBuf>,
    /// Do not verify checksums, Data.db against the other components, or partition and row order
    /// while reading (forensics on damaged files).
    #[arg(long)]
    no_verify: bool,
}

impl Inputs {
    fn options(&self) -> OpenOptions {
        OpenOptions { schema_file: self.schema.clone(), no_verify: self.no_verify, ..Default::default() }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Timestamps {
    /// ISO-8601 instants (UTC), as sstabledump prints them.
    Iso,
    /// Raw integers: microseconds for write times, seconds for deletion and expiry times.
    Raw,
}

#[derive(Args)]
struct DumpArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Only this partition key (CQL literal, e.g. 5, 'abc', or a:1 for composite keys); repeatable.
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    keys: Vec<String>,
    /// Skip this partition key; repeatable.
    #[arg(short = 'x', long = "exclude-key", value_name = "KEY")]
    exclude: Vec<String>,
    /// Print partition keys only.
    #[arg(short = 'e', long)]
    keys_only: bool,
    /// Print only partition, row, range and cell tombstones (and expired cells).
    #[arg(short = 'o', long)]
    tombstones_only: bool,
    /// How to print timestamps.
    #[arg(long, value_enum, default_value = "iso")]
    timestamps: Timestamps,
    /// One JSON document per partition, one per line.
    #[arg(short = 'l', long)]
    ndjson: bool,
    /// Show the shards of counter cells.
    #[arg(long)]
    counter_shards: bool,
    /// One reconciled view of all SSTables of each table, in token order: newest cells win,
    /// shadowed data disappears, tombstones and expired cells stay visible.
    #[arg(long)]
    merge: bool,
    /// The current time for "expired" flags: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Lossless cells: every cell prints its own tstamp, ttl and expires_at ("ttl" : null when it
    /// does not expire), even where sstabledump leaves them out because they equal the row's
    /// liveness.
    #[arg(long)]
    explicit: bool,
}

#[derive(Args)]
struct MetaArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// gc_grace_seconds for the droppable-tombstone estimate (default: the table's, else 0, as
    /// sstablemetadata). The estimate is Cassandra's: the fraction of the tombstone-drop-time
    /// histogram in Statistics.db before now - gc_grace. It ignores overlapping SSTables and
    /// expired-cell re-dating; `cairn tombstones` gives the exact verdict compaction acts on.
    #[arg(long, value_name = "SECONDS")]
    gc_grace_seconds: Option<i64>,
    /// The time the estimate is made at: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Scan Data.db for exact partition, row, cell and tombstone counts.
    #[arg(long)]
    scan: bool,
}

#[derive(Args)]
struct TombstonesArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// The purge settings a compaction of each SSTable would use (the same as compact run's).
    #[command(flatten)]
    purge: PurgeArgs,
    /// Partitions to list per SSTable, most tombstones first.
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// One JSON object per partition holding tombstones.
    #[arg(long, conflicts_with = "json")]
    ndjson: bool,
    /// The per-SSTable summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct NodeArgs {
    /// Data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Address to listen on (listen_address / rpc_address).
    #[arg(long, default_value = "127.0.0.1")]
    listen: std::net::IpAddr,
    /// CQL port (native_transport_port).
    #[arg(long, default_value_t = 9042)]
    port: u16,
    /// cluster_name.
    #[arg(long, default_value = "Cairn Cluster")]
    cluster_name: String,
    /// commitlog_sync: periodic (fsync every --commitlog-sync-period-ms) or batch (a write is
    /// acknowledged once an fsync covers it; one fsync covers every write before it: group commit).
    #[arg(long, value_enum, default_value = "periodic")]
    commitlog_sync: CommitlogSync,
    /// commitlog_sync_period in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    commitlog_sync_period_ms: u64,
    /// A user of PasswordAuthenticator, as NAME:PASSWORD (repeatable); without any, every
    /// client is let in (AllowAllAuthenticator).
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    users: Vec<String>,
    /// Port of the admin interface (`cairn admin`), on loopback; 0 turns it off.
    #[arg(long, default_value_t = 7199)]
    admin_port: u16,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum TimestampModeArg {
    /// The original write timestamps.
    Preserve,
    /// Shifted so the newest restored write lands just after the load starts.
    Rebase,
    /// Every write at the load's time.
    Now,
}

#[derive(Args)]
struct LoadArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Contact points, comma-separated.
    #[arg(short = 'd', long = "nodes", value_name = "HOST[,HOST...]", required = true)]
    nodes: String,
    /// CQL port.
    #[arg(short = 'p', long, default_value_t = 9042)]
    port: u16,
    /// User name.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// File holding the password.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Write into this keyspace.
    #[arg(long)]
    target_keyspace: Option<String>,
    /// Write into this table.
    #[arg(long)]
    target_table: Option<String>,
    /// Rename a column: OLD=NEW (repeatable).
    #[arg(long = "rename-column", value_name = "OLD=NEW")]
    renames: Vec<String>,
    /// Skip writes newer than this time.
    #[arg(long, value_name = "TIME")]
    as_of: Option<String>,
    /// preserve, rebase or now.
    #[arg(long, value_enum, default_value = "preserve")]
    timestamp_mode: TimestampModeArg,
    /// Drop TTLs (restored data does not expire).
    #[arg(long)]
    drop_ttl: bool,
    /// Create a missing keyspace and table from the source schema.
    #[arg(long)]
    create_schema: bool,
    /// Count what would be written, write nothing.
    #[arg(long)]
    plan: bool,
    /// Checkpoint file: finished partitions are recorded and skipped when the same load runs
    /// again after a crash or an interruption.
    #[arg(long, value_name = "STATE_FILE")]
    resume: Option<PathBuf>,
    /// Connections per host.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Partitions written concurrently (each partition's batches stay in order).
    #[arg(long, default_value_t = 32)]
    max_in_flight: usize,
    /// Cap the CQL sent, in MiB/s (default: unthrottled).
    #[arg(long, value_name = "MiB/s")]
    throttle: Option<f64>,
    /// The summary as JSON.
    #[arg(long)]
    json: bool,
    /// The load's time (TTLs remaining are computed against it).
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

#[derive(Args)]
struct AdminArgs {
    /// The node's admin address.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// The node's admin port.
    #[arg(long, default_value_t = 7199)]
    port: u16,
    /// The admin token (with authentication on); default: read from --data's cairn_admin.token.
    #[arg(long)]
    token: Option<String>,
    /// The node's data directory (to find the admin token).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// flush [ks[.table]] | snapshot TAG [ks[.table]] | listsnapshots | clearsnapshot TAG|--all |
    /// compact [ks[.table]] | status | tablestats [ks[.table]]
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum CommitlogSync {
    /// fsync every period.
    Periodic,
    /// fsync every write before acknowledging it.
    Batch,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ExportFormat {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header line, values as cqlsh prints them.
    Csv,
    /// One JSON object per row (CQL JSON values).
    Ndjson,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ExportMode {
    /// Reconciled live rows.
    Live,
    /// The raw cell log.
    Mutations,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ParquetCodec {
    /// Zstandard.
    Zstd,
    /// Snappy.
    Snappy,
    /// LZ4 (LZ4_RAW).
    Lz4,
    /// Uncompressed.
    None,
}

#[derive(Args)]
struct ExportArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Output directory: one dataset per table at DIR/KEYSPACE/TABLE/.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// live: the reconciled rows SELECT * returns; mutations: every cell, marker and tombstone
    /// of every SSTable, unreconciled (columns kind, column, path, value, writetime, ttl, ...).
    #[arg(long, value_enum, default_value = "live")]
    mode: ExportMode,
    /// The time rows are read at (TTLs expire against it): seconds since the epoch or an ISO
    /// date-time; default now.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// File format.
    #[arg(long, value_enum, default_value = "parquet")]
    format: ExportFormat,
    /// Parquet compression.
    #[arg(long, value_enum, default_value = "zstd")]
    compression: ParquetCodec,
    /// Rows per Parquet row group.
    #[arg(long, value_name = "N", default_value_t = 131_072)]
    rows_per_group: usize,
    /// Start a new file past this size: bytes or with a unit (512MiB, 1GiB).
    #[arg(long, value_name = "SIZE")]
    max_file_size: Option<String>,
    /// Only these columns (comma-separated; key columns may be named).
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Add writetime(c) for each simple non-key column (microseconds).
    #[arg(long)]
    with_writetime: bool,
    /// Add ttl(c) for each simple non-key column (seconds left; null without TTL).
    #[arg(long)]
    with_ttl: bool,
    /// Only partitions with token in (START, END].
    #[arg(long, value_name = "START:END", allow_hyphen_values = true)]
    where_token: Option<String>,
    /// One token_range=K/ folder per slice of N equal token ranges.
    #[arg(long, value_name = "N")]
    token_splits: Option<u32>,
    /// Scan this many token ranges at once, each into its own files (default: one per core;
    /// 1 keeps one part-NNNNN sequence in token order).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// uuid/timeuuid as Parquet's UUID logical type (16-byte binary, Arrow arrow.uuid):
    /// pyarrow and DuckDB read a UUID, Spark refuses the file. Default: canonical text.
    #[arg(long, conflicts_with = "uuid_as_string")]
    uuid_as_binary: bool,
    /// uuid/timeuuid as canonical text (the default; kept for scripts that pass it).
    #[arg(long, hide = true)]
    uuid_as_string: bool,
}

#[derive(Args)]
struct PartitionsArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// List partitions of at least this size: bytes, or with a unit (10KiB, 20MiB, 30GiB).
    #[arg(short = 't', long, value_name = "SIZE")]
    min_size: Option<String>,
    /// List partitions of at least this many rows.
    #[arg(short = 'w', long, value_name = "N")]
    min_rows: Option<u64>,
    /// List partitions of at least this many cells.
    #[arg(short = 'c', long, value_name = "N")]
    min_cells: Option<u64>,
    /// List partitions of at least this many tombstones.
    #[arg(short = 'o', long, value_name = "N")]
    min_tombstones: Option<u64>,
    /// Only this partition key (CQL literal); repeatable.
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    keys: Vec<String>,
    /// Skip this partition key; repeatable.
    #[arg(short = 'x', long = "exclude-key", value_name = "KEY")]
    exclude: Vec<String>,
    /// The time TTLs expire against: seconds since the epoch or an ISO date-time.
    #[arg(short = 'u', long, value_name = "TIME")]
    now: Option<String>,
    /// Machine-readable CSV with the columns of Cassandra's sstablepartitions --csv.
    #[arg(short = 'm', long, conflicts_with = "json")]
    csv: bool,
    /// Matches and per-SSTable percentiles as JSON.
    #[arg(long)]
    json: bool,
}

/// A size: bytes, or a number with a binary unit (KiB, MiB, GiB, TiB; B/KB/MB... read as binary).
fn parse_size(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| anyhow::anyhow!("size {s:?}: expected bytes or e.g. 20MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => anyhow::bail!("size {s:?}: unknown unit {unit:?}"),
    };
    n.checked_mul(mult).ok_or_else(|| anyhow::anyhow!("size {s:?} is too large"))
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// JSON report.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DescribeArgs {
    #[command(flatten)]
    inputs: Inputs,
    /// Show at most this many Index.db entries (all are counted).
    #[arg(long, value_name = "N")]
    max_index_entries: Option<usize>,
}

fn compact_plan(a: &PlanArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    use cairn_compact::plan;
    if a.execute && a.out.is_none() && !a.in_place {
        anyhow::bail!("--execute needs --out DIR (inputs untouched) or --in-place (replace them, as Cassandra does)");
    }
    let strategy = match a.strategy.as_deref() {
        None => None,
        Some(s) => Some(
            plan::Strategy::parse(s).ok_or_else(|| anyhow::anyhow!("unknown strategy {s:?}: use stcs, lcs or twcs"))?,
        ),
    };
    let mut options = Vec::new();
    for o in &a.options {
        let (k, v) = o.split_once('=').ok_or_else(|| anyhow::anyhow!("--option {o:?}: expected NAME=VALUE"))?;
        options.push((k.trim().to_string(), v.trim().to_string()));
    }
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let req = plan::PlanRequest {
        strategy,
        options,
        now_s: parse_now(a.now.as_deref())?,
        gc_grace_seconds: a.gc_grace_seconds,
        allow_unsafe_expiration: a.allow_unsafe_aggressive_sstable_expiration,
    };
    let p = plan::plan_tables(&tables, &req)?;
    if a.json {
        let _ = writeln!(out, "{}", plan::render_json(&p));
    } else {
        let _ = write!(out, "{}", plan::render_text(&p));
    }
    if !a.execute {
        return Ok(Outcome::Ok);
    }
    let target = match &a.out {
        Some(d) => plan::ExecuteTarget::Out(d.clone()),
        None => plan::ExecuteTarget::InPlace,
    };
    let mut base = cairn_compact::run::RunOptions::new(a.to.version(), p.clock.now_s);
    base.compression = a.compression.map(CompressionArg::compressor);
    match plan::execute(&p, &tables, &base, &target)? {
        None => eprintln!("nothing to compact"),
        Some(x) => {
            for d in &x.report.outputs {
                let _ = writeln!(out, "{}", d.path(cairn_format::Component::Data).display());
            }
            eprintln!(
                "compacted {} SSTables into {} ({} partitions in, {} out; {} tombstones purged, {} kept for overlapping SSTables); {} fully expired dropped; {} deleted",
                x.compacted.len(),
                x.report.outputs.len(),
                x.report.partitions_in,
                x.report.partitions_out,
                x.report.purged,
                x.report.kept_for_overlap,
                x.dropped.len(),
                x.deleted.len()
            );
        }
    }
    Ok(Outcome::Ok)
}

fn parse_now(s: Option<&str>) -> anyhow::Result<i64> {
    match s {
        None => Ok(cairn_inspect::now_seconds()),
        Some(t) => {
            if let Ok(n) = t.parse::<i64>() {
                return Ok(n);
            }
            cairn_format::types::parse::parse_timestamp_ms(t)
                .map(|ms| ms.div_euclid(1000))
                .ok_or_else(|| anyhow::anyhow!("--now '{t}' is neither seconds since the epoch nor a date-time"))
        }
    }
}

enum Outcome {
    Ok,
    Problems,
}

/// One `compact run --explain` line.
fn explanation_text(
    e: &cairn_compact::run::Explanation,
    header: &cairn_format::statistics::SerializationHeader,
    ndjson: bool,
) -> String {
    let key = cairn_inspect::dump::Renderer::key_strings(header, &e.key);
    let after = e.droppable_after.map(|s| cairn_format::types::render::format_timestamp_ms(s.saturating_mul(1000)));
    if ndjson {
        return serde_json::json!({
            "key": key,
            "removed": e.removed,
            "collected": e.collected,
            "shadowed": e.shadowed,
            "superseded": e.superseded,
            "expired_kept_as_tombstones": e.expired_kept,
            "tombstones_purged": e.purged,
            "kept_younger_than_gc_grace": e.kept_young,
            "droppable_after": after,
            "kept_for_overlap": e.kept_overlap,
            "overlapping_sstables": e.blockers,
        })
        .to_string();
    }
    let mut parts = Vec::new();
    if e.removed {
        parts.push("removed".to_string());
    }
    if e.collected > 0 {
        parts.push(format!("{} dead because of other SSTables (collected)", e.collected));
    }
    if e.shadowed > 0 {
        parts.push(format!("{} shadowed by a newer deletion", e.shadowed));
    }
    if e.superseded > 0 {
        parts.push(format!("{} superseded by newer writes", e.superseded));
    }
    if e.purged > 0 {
        parts.push(format!("{} tombstones purged", e.purged));
    }
    if e.expired_kept > 0 {
        parts.push(format!("{} expired cells kept as tombstones", e.expired_kept));
    }
    if e.kept_young > 0 {
        parts.push(format!(
            "{} tombstones kept: younger than gc_grace (droppable after {})",
            e.kept_young,
            after.unwrap_or_default()
        ));
    }
    if e.kept_overlap > 0 {
        parts.push(format!(
            "{} tombstones kept past gc_grace: older data for the key may be in {}",
            e.kept_overlap,
            e.blockers.join(", ")
        ));
    }
    format!("partition ({}): {}", key.join(", "), parts.join("; "))
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result: Result<Outcome, InspectError> = match cli.command {
        Command::Dump(a) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            let opts = cairn_inspect::dump::DumpOptions {
                keys: a.keys,
                exclude: a.exclude,
                keys_only: a.keys_only,
                tombstones_only: a.tombstones_only,
                raw_timestamps: a.timestamps == Timestamps::Raw,
                ndjson: a.ndjson,
                counter_shards: a.counter_shards,
                now_s: parse_now(a.now.as_deref())?,
                explicit: a.explicit,
            };
            cairn_inspect::dump::dump(&tables, &opts, a.merge, &mut out).map(|_| Outcome::Ok)
        }
        Command::Meta(a) => {
            // sstablemetadata reads only Statistics.db: a damaged Index.db is a warning here.
            let options = OpenOptions { metadata_only: true, ..a.inputs.options() };
            let tables = open_inputs(&a.inputs.paths, &options)?;
            let opts = cairn_inspect::meta::MetaOptions {
                gc_grace_seconds: a.gc_grace_seconds,
                now_s: parse_now(a.now.as_deref())?,
                scan: a.scan,
                json: a.json,
            };
            cairn_inspect::meta::meta(&tables, &opts, &mut out)
                .map(|clean| if clean { Outcome::Ok } else { Outcome::Problems })
        }
        Command::Tombstones(a) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            let opts = cairn_inspect::tombstones::TombstoneOptions {
                now_s: parse_now(a.purge.now.as_deref())?,
                gc_grace_seconds: a.purge.gc_grace_seconds,
                only_purge_repaired: a.purge.only_purge_repaired,
                top: a.top,
                ndjson: a.ndjson,
                json: a.json,
            };
            cairn_inspect::tombstones::tombstones(&tables, &opts, &mut out).map(|()| Outcome::Ok)
        }
        Command::Export(a) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            let where_token = match &a.where_token {
                None => None,
                Some(w) => {
                    // Tokens may be negative: split at the ':' that follows a digit.
                    let at = w
                        .char_indices()
                        .skip(1)
                        .find(|&(_, c)| c == ':')
                        .map(|(i, _)| i)
                        .ok_or_else(|| anyhow::anyhow!("--where-token {w:?}: expected START:END"))?;
                    Some((w[..at].to_string(), w[at + 1..].to_string()))
                }
            };
            let opts = cairn_export::ExportOptions {
                out: a.out,
                mode: match a.mode {
                    ExportMode::Live => cairn_export::Mode::Live,
                    ExportMode::Mutations => cairn_export::Mode::Mutations,
                },
                now_s: parse_now(a.now.as_deref())?,
                format: match a.format {
                    ExportFormat::Parquet => cairn_export::Format::Parquet,
                    ExportFormat::Csv => cairn_export::Format::Csv,
                    ExportFormat::Ndjson => cairn_export::Format::Ndjson,
                },
                codec: match a.compression {
                    ParquetCodec::Zstd => cairn_export::Codec::Zstd,
                    ParquetCodec::Snappy => cairn_export::Codec::Snappy,
                    ParquetCodec::Lz4 => cairn_export::Codec::Lz4,
                    ParquetCodec::None => cairn_export::Codec::None,
                },
                rows_per_group: a.rows_per_group,
                max_file_bytes: a.max_file_size.as_deref().map(parse_size).transpose()?,
                columns: a.columns,
                with_writetime: a.with_writetime,
                with_ttl: a.with_ttl,
                where_token,
                token_splits: a.token_splits,
                threads: a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
                types: cairn_export::arrow::TypeOptions { uuid_as_binary: a.uuid_as_binary },
            };
            for s in cairn_export::export(&tables, &opts)? {
                let _ = writeln!(out, "{}", s.path);
                eprintln!(
                    "{}.{}: {} rows of {} partitions from {} SSTable(s) into {} file(s) in {:.2}s",
                    s.keyspace,
                    s.table,
                    s.rows,
                    s.partitions,
                    s.sstables.len(),
                    s.files.len(),
                    s.seconds
                );
                if let Some(note) = s.nothing_live() {
                    eprintln!("{}.{}: {note}", s.keyspace, s.table);
                }
            }
            Ok(Outcome::Ok)
        }
        Command::Partitions(a) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            let opts = cairn_inspect::partitions::PartitionsOptions {
                min_size: a.min_size.as_deref().map(parse_size).transpose()?,
                min_rows: a.min_rows,
                min_cells: a.min_cells,
                min_tombstones: a.min_tombstones,
                keys: a.keys,
                exclude: a.exclude,
                now_s: parse_now(a.now.as_deref())?,
                csv: a.csv,
                json: a.json,
            };
            cairn_inspect::partitions::partitions(&tables, &opts, &mut out).map(|()| Outcome::Ok)
        }
        Command::Verify(a) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            cairn_inspect::verify::verify(&tables, a.json, &mut out)
                .map(|clean| if clean { Outcome::Ok } else { Outcome::Problems })
        }
        Command::Compact(CompactCommand::Run(a)) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            let mut opts = a.purge.options(a.to.version())?;
            opts.compression = a.compression.map(CompressionArg::compressor);
            opts.dry_run = a.dry_run;
            let out_root = a.out.clone().unwrap_or_default();
            let first = tables.first().ok_or_else(|| anyhow::anyhow!("no SSTables to compact"))?;
            let target = cairn_compact::upgrade::target_dir(&first.descriptor, &out_root);
            if !a.dry_run && !a.in_place {
                cairn_compact::upgrade::refuse_beside_inputs(&tables, &target, &out_root)?;
            }
            let header = first.header.clone();
            let mut explain = |e: &cairn_compact::run::Explanation| {
                if a.explain {
                    let _ = writeln!(out, "{}", explanation_text(e, &header, a.ndjson));
                }
            };
            let r = if a.in_place {
                let operation = cairn_format::txn::operation::COMPACTION;
                cairn_compact::run::run_in_place(&tables, &[], &opts, operation, &mut explain)?
            } else {
                cairn_compact::run::run_explained(&tables, &opts, &target, &mut explain)?
            };
            if !a.explain {
                for d in &r.outputs {
                    let _ = writeln!(out, "{}", d.path(cairn_format::Component::Data).display());
                }
                if r.outputs.is_empty() && !a.dry_run {
                    let _ = writeln!(out, "(nothing survived: no SSTable written)");
                }
            }
            let written = if a.dry_run {
                "dry run: nothing written".to_string()
            } else {
                let names: Vec<String> =
                    r.outputs.iter().map(|d| d.path(cairn_format::Component::Data).display().to_string()).collect();
                format!("written: {}", if names.is_empty() { "nothing".into() } else { names.join(", ") })
            };
            eprintln!(
                "compacted {} SSTables: {} partitions in, {} out; {} tombstones purged, {} past gc_grace kept for overlapping SSTables, {} kept as younger than gc_grace; {written}",
                tables.len(),
                r.partitions_in,
                r.partitions_out,
                r.purged,
                r.kept_for_overlap,
                r.kept_young
            );
            Ok(Outcome::Ok)
        }
        Command::Compact(CompactCommand::Gc(a)) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            let target = match (&a.out, a.in_place) {
                (Some(d), _) => cairn_compact::plan::ExecuteTarget::Out(d.clone()),
                (None, true) => cairn_compact::plan::ExecuteTarget::InPlace,
                // A dry run writes nothing anywhere.
                (None, false) => cairn_compact::plan::ExecuteTarget::Out(PathBuf::new()),
            };
            let mut opts = a.purge.options(a.to.version())?;
            opts.compression = a.compression.map(CompressionArg::compressor);
            opts.dry_run = a.dry_run;
            let granularity = match a.granularity {
                GranularityArg::Row => cairn_compact::gc::Granularity::Row,
                GranularityArg::Cell => cairn_compact::gc::Granularity::Cell,
            };
            let header = tables.first().map(|t| t.header.clone());
            let mut explain = |e: &cairn_compact::run::Explanation| {
                if let (true, Some(h)) = (a.explain, &header) {
                    let _ = writeln!(out, "{}", explanation_text(e, h, false));
                }
            };
            let done = cairn_compact::gc::gc(&tables, granularity, &opts, &target, &mut explain)?;
            let (mut collected, mut purged) = (0u64, 0u64);
            for c in &done {
                collected += c.collected;
                purged += c.report.purged;
                let outputs: Vec<String> = c
                    .report
                    .outputs
                    .iter()
                    .map(|d| d.path(cairn_format::Component::Data).display().to_string())
                    .collect();
                let into = if a.dry_run {
                    "dry run".to_string()
                } else if outputs.is_empty() {
                    "nothing left".to_string()
                } else {
                    outputs.join(", ")
                };
                let _ = writeln!(
                    out,
                    "{} -> {into}: {} collected, {} tombstones purged{}",
                    c.input.path(cairn_format::Component::Data).display(),
                    c.collected,
                    c.report.purged,
                    if c.deleted { " (input deleted)" } else { "" }
                );
            }
            eprintln!(
                "garbage-collected {} SSTables: {collected} cells, markers and deletions collected, {purged} tombstones purged",
                done.len()
            );
            Ok(Outcome::Ok)
        }
        Command::Compact(CompactCommand::Split(a)) => {
            let target = match (&a.out, a.in_place) {
                (Some(d), _) => cairn_compact::plan::ExecuteTarget::Out(d.clone()),
                (None, true) => cairn_compact::plan::ExecuteTarget::InPlace,
                (None, false) => {
                    return Err(anyhow::anyhow!("compact split needs --out DIR (inputs untouched) or --in-place"));
                }
            };
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            let size = match (a.size, a.token_ranges) {
                (Some(mb), _) => Some(mb.saturating_mul(1 << 20)),
                (None, None) => Some(cairn_compact::split::DEFAULT_SPLIT_SIZE_MB << 20),
                (None, Some(_)) => None,
            };
            let opts = cairn_compact::split::SplitOptions {
                to: a.to.version(),
                compression: a.compression.map(CompressionArg::compressor),
                max_bytes: size,
                token_ranges: a.token_ranges,
                now_s: parse_now(a.now.as_deref())?,
            };
            for s in cairn_compact::split::split(&tables, &opts, &target)? {
                if s.skipped {
                    eprintln!("skipping {}: already within the size", s.input.display_name());
                }
                for d in &s.outputs {
                    let _ = writeln!(out, "{}", d.path(cairn_format::Component::Data).display());
                }
            }
            Ok(Outcome::Ok)
        }
        Command::Compact(CompactCommand::Cleanup(a)) => {
            let mut resolved = 0;
            for p in &a.paths {
                for (_, done) in cairn_compact::cleanup::cleanup(p)? {
                    for l in &done.committed {
                        let _ = writeln!(
                            out,
                            "completed {} (committed: the SSTables it replaced are deleted)",
                            l.display()
                        );
                    }
                    for l in &done.rolled_back {
                        let _ = writeln!(
                            out,
                            "rolled back {} (not committed: the SSTables it added are deleted)",
                            l.display()
                        );
                    }
                    for t in &done.temporary {
                        let _ = writeln!(out, "deleted {}", t.display());
                    }
                    resolved += done.committed.len() + done.rolled_back.len() + done.temporary.len();
                }
            }
            eprintln!("cleanup: {resolved} leftovers resolved");
            Ok(Outcome::Ok)
        }
        Command::Compact(CompactCommand::Plan(a)) => {
            let o = compact_plan(&a, &mut out)?;
            Ok(o)
        }
        Command::Compact(CompactCommand::Upgrade(a)) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            let to = a.to.version();
            let opts = cairn_compact::upgrade::UpgradeOptions {
                to,
                compression: a.compression.map(CompressionArg::compressor),
            };
            let written = cairn_compact::upgrade::upgrade(&tables, &opts, &a.out)?;
            for d in written {
                let _ = writeln!(out, "{}", d.path(cairn_format::Component::Data).display());
            }
            Ok(Outcome::Ok)
        }
        Command::Gen(a) => {
            let to = match a.version {
                TargetVersion::Nb => cairn_format::Version::Nb,
                TargetVersion::Me => cairn_format::Version::Me,
                TargetVersion::Oa => cairn_format::Version::Oa,
            };
            let opts = cairn_fixtures::generate::GenOptions {
                seed: a.seed,
                rows: a.rows,
                version: to,
                compression: a.compression.compressor(),
                sstables: a.sstables,
                out: a.out,
                expected: a.expected,
            };
            let clock = match a.now.as_deref() {
                None => None,
                Some("now") => Some(cairn_inspect::now_seconds()),
                Some(t) => Some(parse_now(Some(t))?),
            };
            let ds = cairn_fixtures::generate::dataset(a.dataset.name())
                .ok_or_else(|| anyhow::anyhow!("unknown dataset"))?;
            let g = cairn_fixtures::generate::generate_dataset(ds.as_ref(), &opts, clock)?;
            let _ = writeln!(
                out,
                "wrote {} partitions into {} SSTable(s) under {}",
                g.partitions,
                g.sstables.len(),
                g.table_dir.display()
            );
            let _ = writeln!(out, "schema: {}", g.schema.display());
            Ok(Outcome::Ok)
        }
        Command::Node(a) => {
            drop(out);
            let config = cairn_server::NodeConfig {
                data_dir: a.data,
                listen: std::net::SocketAddr::new(a.listen, a.port),
                cluster_name: a.cluster_name,
                commitlog_sync: match a.commitlog_sync {
                    CommitlogSync::Batch => cairn_server::commitlog::SyncMode::Batch,
                    CommitlogSync::Periodic => cairn_server::commitlog::SyncMode::Periodic(
                        std::time::Duration::from_millis(a.commitlog_sync_period_ms.max(1)),
                    ),
                },
                admin: (a.admin_port != 0)
                    .then(|| std::net::SocketAddr::new(std::net::IpAddr::from([127, 0, 0, 1]), a.admin_port)),
                users: if a.users.is_empty() {
                    None
                } else {
                    Some(
                        a.users
                            .iter()
                            .map(|u| {
                                u.split_once(':')
                                    .map(|(n, p)| (n.to_string(), p.to_string()))
                                    .ok_or_else(|| anyhow::anyhow!("--user {u:?}: expected NAME:PASSWORD"))
                            })
                            .collect::<anyhow::Result<Vec<_>>>()?,
                    )
                },
                ..Default::default()
            };
            // SIGTERM and SIGINT stop the node cleanly: memtables flushed, commit log emptied.
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                signal_hook::flag::register(sig, std::sync::Arc::clone(&stop))?;
            }
            let node = cairn_server::start(config)?;
            cairn_server::log!("cairn node: ready, CQL native protocol v4 on {}", node.addr);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            cairn_server::log!("cairn node: stopping (flushing memtables)");
            node.stop();
            cairn_server::log!("cairn node: stopped");
            return Ok(Outcome::Ok);
        }
        Command::Load(a) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            let password = match &a.password_file {
                Some(f) => Some(
                    std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?.trim().to_string(),
                ),
                None => None,
            };
            let mut renames = Vec::new();
            for r in &a.renames {
                let (o, n) =
                    r.split_once('=').ok_or_else(|| anyhow::anyhow!("--rename-column {r:?}: expected OLD=NEW"))?;
                renames.push((o.to_string(), n.to_string()));
            }
            let opts = cairn_loader::LoadOptions {
                hosts: a
                    .nodes
                    .split(',')
                    .map(|h| if h.contains(':') { h.to_string() } else { format!("{h}:{}", a.port) })
                    .collect(),
                credentials: a.user.clone().map(|u| (u, password.unwrap_or_default())),
                target_keyspace: a.target_keyspace.clone(),
                target_table: a.target_table.clone(),
                renames,
                now_s: parse_now(a.now.as_deref())?,
                as_of: a
                    .as_of
                    .as_deref()
                    .map(|t| parse_now(Some(t)).map(|s| s.saturating_mul(1_000_000)))
                    .transpose()?,
                timestamp_mode: match a.timestamp_mode {
                    TimestampModeArg::Preserve => cairn_loader::TimestampMode::Preserve,
                    TimestampModeArg::Rebase => cairn_loader::TimestampMode::Rebase,
                    TimestampModeArg::Now => cairn_loader::TimestampMode::Now,
                },
                drop_ttl: a.drop_ttl,
                plan: a.plan,
                create_schema: a.create_schema,
                batch_statements: 50,
                resume: a.resume.clone(),
                stop_after: None,
                connections: a.connections,
                max_in_flight: a.max_in_flight,
                throttle_mib_s: a.throttle,
                progress: !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            if a.throttle.is_some_and(|t| !t.is_finite() || t <= 0.0) {
                return Err(anyhow::anyhow!("--throttle must be a positive number of MiB/s"));
            }
            let started = std::time::Instant::now();
            let summary = match cairn_loader::load(&tables, &opts) {
                Ok(s) => s,
                // The load began and writes failed (after retries): exit 1, resumable.
                Err(e @ cairn_loader::LoadError::Write { .. }) => {
                    let hint = if a.resume.is_some() { "; run again with the same --resume file" } else { "" };
                    eprintln!("cairn: {e}{hint}");
                    return Ok(Outcome::Problems);
                }
                Err(e) => return Err(e.into()),
            };
            let seconds = started.elapsed().as_secs_f64();
            let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
            if a.json {
                let v = serde_json::json!({ "seconds": seconds, "tables": summary });
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                for s in &summary {
                    let _ = writeln!(
                        out,
                        "{}{}.{}: {} partitions, {} rows, {} cells, {} deletions, {} skipped (--as-of), {} statements, {:.2} MiB of CQL",
                        if a.plan { "plan: " } else { "" },
                        s.keyspace,
                        s.table,
                        s.partitions,
                        s.rows,
                        s.cells,
                        s.tombstones,
                        s.skipped_newer,
                        s.statements,
                        mib(s.bytes)
                    );
                    if a.plan {
                        let _ = writeln!(out, "  schema: {}", s.schema_check);
                        for (host, h) in &s.per_host {
                            let _ = writeln!(
                                out,
                                "  {host}: {} partitions, {} rows, {:.2} MiB",
                                h.partitions,
                                h.rows,
                                mib(h.bytes)
                            );
                        }
                        match a.throttle {
                            Some(t) => {
                                let _ = writeln!(out, "  estimate: {:.0} s at {t} MiB/s", mib(s.bytes) / t);
                            }
                            None => {
                                let _ = writeln!(out, "  estimate: unthrottled (give --throttle for a time)");
                            }
                        }
                    } else if s.resumed_past > 0 || s.retries > 0 {
                        let _ = writeln!(
                            out,
                            "  {} partitions skipped as done by an earlier run, {} retries",
                            s.resumed_past, s.retries
                        );
                    }
                }
                if !a.plan {
                    let rows: u64 = summary.iter().map(|s| s.rows).sum();
                    let bytes: u64 = summary.iter().map(|s| s.bytes).sum();
                    let _ = writeln!(
                        out,
                        "loaded {rows} rows in {seconds:.1} s: {:.0} rows/s, {:.2} MiB/s",
                        rows as f64 / seconds.max(1e-3),
                        mib(bytes) / seconds.max(1e-3)
                    );
                }
            }
            Ok(Outcome::Ok)
        }
        Command::Admin(a) => {
            let token = match (&a.token, &a.data) {
                (Some(t), _) => Some(t.clone()),
                (None, Some(d)) => {
                    std::fs::read_to_string(d.join("cairn_admin.token")).ok().map(|t| t.trim().to_string())
                }
                (None, None) => None,
            };
            let addr = std::net::SocketAddr::new(a.host, a.port);
            match cairn_server::admin::request(addr, token.as_deref(), &a.command)
                .map_err(|e| anyhow::anyhow!("admin interface at {addr}: {e}"))?
            {
                Ok(text) => {
                    let _ = write!(out, "{text}");
                    Ok(Outcome::Ok)
                }
                Err(e) => return Err(anyhow::anyhow!("{e}")),
            }
        }
        Command::Demo(a) => {
            drop(out);
            return demo(a.out);
        }
        Command::Describe(a) => {
            let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
            cairn_inspect::describe::describe(&tables, a.max_index_entries, &mut out).map(|_| Outcome::Ok)
        }
    };
    match result {
        Ok(o) => {
            if let Err(e) = out.flush()
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.into());
            }
            Ok(o)
        }
        Err(e) if e.is_broken_pipe() => Ok(Outcome::Ok),
        Err(e) => {
            let _ = out.flush();
            Err(e.into())
        }
    }
}

/// `cairn demo`: a sessions dataset, then every inspection verb on it.
fn demo(out: Option<PathBuf>) -> anyhow::Result<Outcome> {
    let dir = out.unwrap_or_else(|| std::env::temp_dir().join(format!("cairn-demo-{}", std::process::id())));
    let stdout = std::io::stdout();
    let mut o = stdout.lock();
    let opts = cairn_fixtures::generate::GenOptions {
        seed: 2014,
        rows: 200,
        version: cairn_format::Version::Nb,
        compression: Some(cairn_format::compression::Compressor::Lz4),
        sstables: 2,
        out: dir.clone(),
        expected: Some(dir.join("expected.ndjson")),
    };
    writeln!(o, "== cairn gen sessions --rows 200 --sstables 2 --out {}", dir.display())?;
    writeln!(
        o,
        "   Web sessions written USING TTL, some renewed, some logged out (deleted), flushed into 2 SSTables."
    )?;
    let g = cairn_fixtures::generate::generate("sessions", &opts)?;
    for s in &g.sstables {
        writeln!(o, "   {}", s.display())?;
    }
    let tables = open_inputs(std::slice::from_ref(&g.table_dir), &OpenOptions::default())?;
    let now = g.now;
    writeln!(
        o,
        "\n== cairn dump --merge --ndjson (first 3 partitions; the two SSTables reconciled, at the dataset's clock)"
    )?;
    let mut buf = Vec::new();
    let dopts = cairn_inspect::dump::DumpOptions { ndjson: true, now_s: now, ..Default::default() };
    cairn_inspect::dump::dump(&tables, &dopts, true, &mut buf)?;
    for line in String::from_utf8_lossy(&buf).lines().take(3) {
        writeln!(o, "{line}")?;
    }
    writeln!(o, "\n== cairn dump --tombstones-only (first SSTable, first 2 partitions with tombstones)")?;
    let mut buf = Vec::new();
    let topts =
        cairn_inspect::dump::DumpOptions { ndjson: true, tombstones_only: true, now_s: now, ..Default::default() };
    cairn_inspect::dump::dump(&tables[..1], &topts, false, &mut buf)?;
    for line in String::from_utf8_lossy(&buf).lines().take(2) {
        writeln!(o, "{line}")?;
    }
    writeln!(
        o,
        "\n== cairn tombstones --top 2 --now <11 days later> (every logout and expired session past gc_grace)"
    )?;
    let topts = cairn_inspect::tombstones::TombstoneOptions { now_s: now + 11 * 86_400, top: 2, ..Default::default() };
    cairn_inspect::tombstones::tombstones(&tables, &topts, &mut o)?;
    writeln!(o, "== cairn meta (first SSTable)")?;
    let mopts = cairn_inspect::meta::MetaOptions { gc_grace_seconds: None, now_s: now, scan: true, json: false };
    cairn_inspect::meta::meta(&tables[..1], &mopts, &mut o)?;
    writeln!(o, "\n== cairn verify")?;
    let clean = cairn_inspect::verify::verify(&tables, false, &mut o)?;
    writeln!(o, "\n== cairn describe --max-index-entries 2 (first SSTable)")?;
    cairn_inspect::describe::describe(&tables[..1], Some(2), &mut o)?;
    writeln!(o, "\nEverything is under {} (schema.cql, expected.ndjson, cairn/sessions-*/).", dir.display())?;
    Ok(if clean { Outcome::Ok } else { Outcome::Problems })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(e) => {
            let broken_pipe =
                e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
                    || e.downcast_ref::<InspectError>().is_some_and(InspectError::is_broken_pipe);
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "cairn: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
