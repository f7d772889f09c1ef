//! `cairn gen`: generated datasets written as real SSTables.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CompressionArg, TargetVersion};

#[derive(Args)]
pub struct GenArgs {
    /// Which dataset.
    #[arg(value_enum)]
    pub dataset: DatasetArg,
    /// Data directory to write into (DIR/KEYSPACE/TABLE-ID/, and DIR/schema.cql).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Random seed (the same seed gives the same files).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Approximate number of CQL rows.
    #[arg(long, default_value_t = 10_000)]
    pub rows: u64,
    /// Format version.
    #[arg(long, value_enum, default_value = "nb")]
    pub version: TargetVersion,
    /// Compression.
    #[arg(long, value_enum, default_value = "lz4")]
    pub compression: CompressionArg,
    /// Number of SSTables the writes are spread over (as flushes would split them).
    #[arg(long, default_value_t = 3)]
    pub sstables: u32,
    /// Also write the expected live content (NDJSON: a header line with `now`, then one CQL row per line).
    #[arg(long, value_name = "FILE")]
    pub expected: Option<PathBuf>,
    /// The dataset's clock (seconds since the epoch, or a date-time): writes, TTL expiries and
    /// deletions happen in the hours and days before it. Default: the current time, like every
    /// other verb's `--now`; give a fixed time (e.g. 1700000000) for reproducible files.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DatasetArg {
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
    pub fn name(self) -> &'static str {
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
