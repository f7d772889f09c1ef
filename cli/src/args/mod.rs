//! The command line: every verb's arguments, as clap reads them.
//!
//! One file per verb; the options several verbs share (the inputs, the purge settings, the
//! target version and compression, times and sizes) live here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use cairn_format::sstable::OpenOptions;

mod admin;
mod compact;
mod demo;
mod describe;
mod dump;
mod export;
mod generate;
mod load;
mod meta;
mod node;
mod partitions;
mod repair;
mod ring;
mod tombstones;
mod verify;

pub use admin::AdminArgs;
pub use compact::*;
pub use demo::DemoArgs;
pub use describe::DescribeArgs;
pub use dump::{DumpArgs, Timestamps};
pub use export::*;
pub use generate::GenArgs;
pub use load::{LoadArgs, TimestampModeArg};
pub use meta::MetaArgs;
pub use node::{CommitlogSync, NodeArgs, OnOff};
pub use partitions::PartitionsArgs;
pub use repair::{RepairCommand, RepairDiffArgs, RepairSides, RepairSyncArgs};
pub use ring::*;
pub use tombstones::TombstonesArgs;
pub use verify::VerifyArgs;

/// Read, write, inspect, compact, export and load Apache Cassandra SSTables (3.0 to 5.0, BIG
/// format), and run Cassandra-compatible nodes.
#[derive(Parser)]
#[command(name = "cairn", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress bar (one is drawn on stderr only when it is a terminal).
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand)]
pub enum Command {
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
    ///
    /// Each SSTable is judged as a compaction of it alone would judge it. Tombstones are counted as
    /// compaction counts them, the same unit as `partitions` and `compact run`: one for the partition
    /// deletion, each row deletion, each range tombstone (once, at its opening bound), each cell
    /// tombstone, each collection or UDT deletion, and each expired TTL cell or row marker. Tombstones
    /// younger than gc_grace say when the first of them becomes droppable (UTC); the report ends with a
    /// total over every SSTable.
    Tombstones(TombstonesArgs),
    /// Find large partitions (size, rows, cells, tombstones) and their distribution per SSTable (the
    /// job of sstablepartitions).
    ///
    /// Sizes, rows and cells are counted as sstablepartitions counts them. Tombstones are counted as
    /// compaction counts them, the same unit as `tombstones` and `compact run`: one for the partition
    /// deletion, each row deletion, each range tombstone (once, at its opening bound), each cell
    /// tombstone, each collection or UDT deletion, and each expired TTL cell or row marker
    /// (sstablepartitions counts each range bound, no partition deletion, and only the expired cells
    /// whose TTL differs from their row's).
    Partitions(PartitionsArgs),
    /// Rewrite SSTables offline (format upgrade or downgrade, ...).
    #[command(subcommand)]
    Compact(CompactCommand),
    /// Offline anti-entropy between two copies of the same tables (a backup and the live node,
    /// two replicas): Merkle-tree diff down to partitions and rows, and sync of what each lacks.
    #[command(subcommand)]
    Repair(RepairCommand),
    /// Export the live rows of each table (all its SSTables reconciled) as Parquet, CSV or
    /// NDJSON datasets for Spark, DuckDB, pandas and friends.
    Export(ExportArgs),
    /// Run a Cassandra-compatible node: CQL native protocol v4 for drivers and cqlsh.
    Node(NodeArgs),
    /// Operate a running node (nodetool's job): flush, snapshot, listsnapshots, clearsnapshot,
    /// compact, status, ring, hints, cleanup, decommission, removenode, repair, tablestats.
    Admin(AdminArgs),
    /// A ring of nodes on this machine's loopback addresses (127.0.0.x): up, status, stop, kill,
    /// pause, resume, start, down, add, decommission, removenode.
    #[command(subcommand)]
    Ring(RingCommand),
    /// Restore SSTables (snapshots, table directories, files) into a live cluster over CQL,
    /// keeping write timestamps, TTLs and deletions.
    ///
    /// Restored deletions get the load's time as their local deletion time (CQL cannot set it),
    /// so their gc_grace_seconds starts again at the load: the target keeps them until
    /// gc_grace_seconds after the load, not after the original delete.
    ///
    /// The summary counts rows as a SELECT returns them (a partition with only static cells is
    /// one row); deletions are counted apart.
    Load(LoadArgs),
    /// Write a deterministic dataset as real SSTables in a Cassandra data-directory layout.
    Gen(GenArgs),
    /// The whole story in a few seconds: generate a session table, restore it into a node, find
    /// the tombstone build-up and what blocks it, purge it by compaction, export it as Parquet.
    Demo(DemoArgs),
}

#[derive(Args)]
pub struct Inputs {
    /// SSTable component files, table directories, snapshot directories or data directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// CQL schema file (CREATE TYPE / CREATE TABLE) naming key and clustering columns and
    /// saying which UDTs are frozen; default: schema.cql beside the files, else the SSTable's
    /// serialization header alone.
    #[arg(long, value_name = "FILE.cql")]
    pub schema: Option<PathBuf>,
    /// Do not verify checksums, Data.db against the other components, or partition and row order
    /// while reading (forensics on damaged files).
    #[arg(long)]
    pub no_verify: bool,
}

impl Inputs {
    pub fn options(&self) -> OpenOptions {
        OpenOptions { schema_file: self.schema.clone(), no_verify: self.no_verify, ..Default::default() }
    }
}

/// When and what a rewrite may purge.
#[derive(Args)]
pub struct PurgeArgs {
    /// gc_grace_seconds (default: the table's from the schema, else Cassandra's 864000).
    #[arg(long, value_name = "SECONDS")]
    pub gc_grace_seconds: Option<i64>,
    /// The time of the rewrite: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Purge only if every input SSTable is repaired (only_purge_repaired_tombstones); compact gc
    /// then collects only repaired SSTables.
    #[arg(long)]
    pub only_purge_repaired: bool,
}

impl PurgeArgs {
    /// Run options writing `to`, with these purge settings.
    pub fn options(&self, to: cairn_format::Version) -> anyhow::Result<cairn_compact::run::RunOptions> {
        let mut o = cairn_compact::run::RunOptions::new(to, parse_now(self.now.as_deref())?);
        o.gc_grace_seconds = self.gc_grace_seconds;
        o.only_purge_repaired = self.only_purge_repaired;
        Ok(o)
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TargetVersion {
    /// Cassandra 4.0, 4.1 and 5.0 (compatibility mode).
    Nb,
    /// Cassandra 3.0.25+ / 3.11.11+.
    Me,
    /// Cassandra 5.0.
    Oa,
}

impl TargetVersion {
    pub fn version(self) -> cairn_format::Version {
        match self {
            TargetVersion::Nb => cairn_format::Version::Nb,
            TargetVersion::Me => cairn_format::Version::Me,
            TargetVersion::Oa => cairn_format::Version::Oa,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CompressionArg {
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
    pub fn compressor(self) -> Option<cairn_format::compression::Compressor> {
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

pub fn parse_now(s: Option<&str>) -> anyhow::Result<i64> {
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

/// A size: bytes, or a number with a binary unit (KiB, MiB, GiB, TiB; B/KB/MB... read as binary).
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
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
