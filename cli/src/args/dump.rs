//! `cairn dump`: sstabledump-compatible JSON.

use clap::{Args, ValueEnum};

use super::Inputs;

#[derive(Args)]
pub struct DumpArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Only this partition key (CQL literal, e.g. 5, 'abc', or a:1 for composite keys); repeatable.
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Skip this partition key; repeatable.
    #[arg(short = 'x', long = "exclude-key", value_name = "KEY")]
    pub exclude: Vec<String>,
    /// Print partition keys only.
    #[arg(short = 'e', long)]
    pub keys_only: bool,
    /// Print only partition, row, range and cell tombstones (and expired cells).
    #[arg(short = 'o', long)]
    pub tombstones_only: bool,
    /// How to print timestamps.
    #[arg(long, value_enum, default_value = "iso")]
    pub timestamps: Timestamps,
    /// One JSON document per partition, one per line.
    #[arg(short = 'l', long)]
    pub ndjson: bool,
    /// Show the shards of counter cells.
    #[arg(long)]
    pub counter_shards: bool,
    /// One reconciled view of all SSTables of each table, in token order: newest cells win,
    /// shadowed data disappears, tombstones and expired cells stay visible.
    #[arg(long)]
    pub merge: bool,
    /// The current time for "expired" flags: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Lossless cells: every cell prints its own tstamp, ttl and expires_at ("ttl" : null when it
    /// does not expire), even where sstabledump leaves them out because they equal the row's
    /// liveness.
    #[arg(long)]
    pub explicit: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Timestamps {
    /// ISO-8601 instants (UTC), as sstabledump prints them.
    Iso,
    /// Raw integers: microseconds for write times, seconds for deletion and expiry times.
    Raw,
}
