//! `cairn demo`: the whole story on a generated table.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct DemoArgs {
    /// Where to write the demo data (default: a new directory under the system temp dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
