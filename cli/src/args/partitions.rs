//! `cairn partitions`: large partitions (sstablepartitions).

use clap::Args;

use super::Inputs;

#[derive(Args)]
pub struct PartitionsArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// List partitions of at least this size: bytes, or with a unit (10KiB, 20MiB, 30GiB).
    #[arg(short = 't', long, value_name = "SIZE")]
    pub min_size: Option<String>,
    /// List partitions of at least this many rows.
    #[arg(short = 'w', long, value_name = "N")]
    pub min_rows: Option<u64>,
    /// List partitions of at least this many cells.
    #[arg(short = 'c', long, value_name = "N")]
    pub min_cells: Option<u64>,
    /// List partitions of at least this many tombstones.
    #[arg(short = 'o', long, value_name = "N")]
    pub min_tombstones: Option<u64>,
    /// Only this partition key (CQL literal); repeatable.
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Skip this partition key; repeatable.
    #[arg(short = 'x', long = "exclude-key", value_name = "KEY")]
    pub exclude: Vec<String>,
    /// The time TTLs expire against: seconds since the epoch or an ISO date-time.
    #[arg(short = 'u', long, value_name = "TIME")]
    pub now: Option<String>,
    /// Machine-readable CSV with the columns of Cassandra's sstablepartitions --csv.
    #[arg(short = 'm', long, conflicts_with = "json")]
    pub csv: bool,
    /// Matches and per-SSTable percentiles as JSON.
    #[arg(long)]
    pub json: bool,
}
