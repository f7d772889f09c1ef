//! `cairn export`: Parquet, CSV or NDJSON datasets.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::Inputs;

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Output directory: one dataset per table at DIR/KEYSPACE/TABLE/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// live: the reconciled rows SELECT * returns; mutations: every cell, marker and tombstone
    /// of every SSTable, unreconciled (columns kind, column, path, value, writetime, ttl, ...).
    #[arg(long, value_enum, default_value = "live")]
    pub mode: ExportMode,
    /// The time rows are read at (TTLs expire against it): seconds since the epoch or an ISO
    /// date-time; default now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// File format.
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: ExportFormat,
    /// Parquet compression.
    #[arg(long, value_enum, default_value = "zstd")]
    pub compression: ParquetCodec,
    /// Rows per Parquet row group.
    #[arg(long, value_name = "N", default_value_t = 131_072)]
    pub rows_per_group: usize,
    /// Start a new file past this size: bytes or with a unit (512MiB, 1GiB).
    #[arg(long, value_name = "SIZE")]
    pub max_file_size: Option<String>,
    /// Only these columns (comma-separated; key columns may be named).
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Add writetime(c) for each simple non-key column (microseconds).
    #[arg(long)]
    pub with_writetime: bool,
    /// Add ttl(c) for each simple non-key column (seconds left; null without TTL).
    #[arg(long)]
    pub with_ttl: bool,
    /// Only partitions with token in (START, END], START below END (a range that wraps around the ring is refused: export its two parts).
    #[arg(long, value_name = "START:END", allow_hyphen_values = true)]
    pub where_token: Option<String>,
    /// One token_range=K/ folder per slice of N equal token ranges.
    #[arg(long, value_name = "N")]
    pub token_splits: Option<u32>,
    /// Scan this many token ranges at once, each into its own files (default: one per core;
    /// 1 keeps one part-NNNNN sequence in token order).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// uuid/timeuuid as Parquet's UUID logical type (16-byte binary, Arrow arrow.uuid):
    /// pyarrow and DuckDB read a UUID, Spark refuses the file. Default: canonical text.
    #[arg(long, conflicts_with = "uuid_as_string")]
    pub uuid_as_binary: bool,
    /// uuid/timeuuid as canonical text (the default; kept for scripts that pass it).
    #[arg(long, hide = true)]
    pub uuid_as_string: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header line, values as cqlsh prints them.
    Csv,
    /// One JSON object per row (CQL JSON values).
    Ndjson,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportMode {
    /// Reconciled live rows.
    Live,
    /// The raw cell log.
    Mutations,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ParquetCodec {
    /// Zstandard.
    Zstd,
    /// Snappy.
    Snappy,
    /// LZ4 (LZ4_RAW).
    Lz4,
    /// Uncompressed.
    None,
}
