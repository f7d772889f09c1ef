//! `cairn load`: restore SSTables into a live cluster over CQL.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::Inputs;

#[derive(Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Contact points, comma-separated.
    #[arg(short = 'd', long = "nodes", value_name = "HOST[,HOST...]", required = true)]
    pub nodes: String,
    /// CQL port.
    #[arg(short = 'p', long, default_value_t = 9042)]
    pub port: u16,
    /// User name.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// File holding the password.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Write into this keyspace.
    #[arg(long)]
    pub target_keyspace: Option<String>,
    /// Write into this table.
    #[arg(long)]
    pub target_table: Option<String>,
    /// Rename a column: OLD=NEW (repeatable).
    #[arg(long = "rename-column", value_name = "OLD=NEW")]
    pub renames: Vec<String>,
    /// Skip writes newer than this time.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// preserve, rebase or now.
    #[arg(long, value_enum, default_value = "preserve")]
    pub timestamp_mode: TimestampModeArg,
    /// Drop TTLs (restored data does not expire).
    #[arg(long)]
    pub drop_ttl: bool,
    /// Create a missing keyspace and table from the source schema.
    #[arg(long)]
    pub create_schema: bool,
    /// Count what would be written, write nothing.
    #[arg(long)]
    pub plan: bool,
    /// Checkpoint file: finished partitions are recorded and skipped when the same load runs
    /// again after a crash or an interruption.
    #[arg(long, value_name = "STATE_FILE")]
    pub resume: Option<PathBuf>,
    /// The answer for a partition the --resume file marks in doubt (a partition with list
    /// appends is marked while it is written; a rerun that finds a mark stops and names it,
    /// KEY@RUN): send its list appends again (the target's lists hold none of them) or skip
    /// them (they hold all of them; needs --timestamp-mode preserve). Repeat for several marks;
    /// an answer decides only the mark it names.
    #[arg(long, value_name = "KEY@RUN=send|skip", requires = "resume")]
    pub resume_in_doubt: Vec<String>,
    /// Connections per host.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Partitions written concurrently (each partition's batches stay in order); default: 32
    /// per node of the target cluster.
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Cap the bytes of bound values sent (keys, cells, timestamps, TTLs, each with its 4-byte
    /// length: what --json's "bytes" counts), in MiB/s (default: unthrottled).
    #[arg(long, value_name = "MiB/s")]
    pub throttle: Option<f64>,
    /// Stream the SSTables into a Cairn ring over its internode protocol instead of CQL
    /// (sstableloader's way): each replica gets its share as mutations, with write times, TTL
    /// expiries and local deletion times kept exactly. The target table must exist.
    #[arg(long)]
    pub stream: bool,
    /// The internode port of the -d nodes, with --stream.
    #[arg(long, default_value_t = 7000)]
    pub storage_port: u16,
    /// The summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// The load's time (TTLs remaining are computed against it).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TimestampModeArg {
    /// The original write timestamps.
    Preserve,
    /// Shifted so the newest restored write lands just after the load starts.
    Rebase,
    /// Every write at the load's time.
    Now,
}
