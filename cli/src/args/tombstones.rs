//! `cairn tombstones`: tombstones by kind and age, with the compaction verdict.

use clap::Args;

use super::{Inputs, PurgeArgs};

#[derive(Args)]
pub struct TombstonesArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// The purge settings a compaction of each SSTable would use (the same as compact run's).
    #[command(flatten)]
    pub purge: PurgeArgs,
    /// Partitions to list per SSTable, most tombstones first.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// One JSON object per partition holding tombstones.
    #[arg(long, conflicts_with = "json")]
    pub ndjson: bool,
    /// The per-SSTable summary as JSON.
    #[arg(long)]
    pub json: bool,
}
