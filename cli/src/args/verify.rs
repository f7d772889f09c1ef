//! `cairn verify`: digests, checksums, agreement and order.

use clap::Args;

use super::Inputs;

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// JSON report.
    #[arg(long)]
    pub json: bool,
}
