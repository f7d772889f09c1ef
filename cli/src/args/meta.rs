//! `cairn meta`: what sstablemetadata shows.

use clap::Args;

use super::Inputs;

#[derive(Args)]
pub struct MetaArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// gc_grace_seconds for the droppable-tombstone estimate (default: the table's, else 0, as
    /// sstablemetadata). The estimate is Cassandra's: the fraction of the tombstone-drop-time
    /// histogram in Statistics.db before now - gc_grace. It ignores overlapping SSTables and
    /// expired-cell re-dating; `cairn tombstones` gives the exact verdict compaction acts on.
    #[arg(long, value_name = "SECONDS")]
    pub gc_grace_seconds: Option<i64>,
    /// The time the estimate is made at: seconds since the epoch or an ISO date-time.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Scan Data.db for exact partition, row, cell and tombstone counts.
    #[arg(long)]
    pub scan: bool,
}
