//! `cairn describe`: the index components as JSON.

use clap::Args;

use super::Inputs;

#[derive(Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Show at most this many Index.db entries (all are counted).
    #[arg(long, value_name = "N")]
    pub max_index_entries: Option<usize>,
}
