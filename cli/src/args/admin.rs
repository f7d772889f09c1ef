//! `cairn admin`: operate a running node.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct AdminArgs {
    /// The node's admin address.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// The node's admin port.
    #[arg(long, default_value_t = 7199)]
    pub port: u16,
    /// The admin token (with authentication on); default: read from --data's cairn_admin.token.
    #[arg(long)]
    pub token: Option<String>,
    /// The node's data directory (to find the admin token).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// flush [ks[.table]] | snapshot TAG [ks[.table]] | listsnapshots | clearsnapshot TAG|--all |
    /// compact [ks[.table]] | status | tablestats [ks[.table]]; in a ring also: ring (the ring
    /// as JSON) | hints [list|truncate] | cleanup [ks[.table]] | decommission | removenode HOST_ID |
    /// repair [--pr] [ks[.table]] (full repair by Merkle trees; the SSTables it validated are
    /// marked repaired when every partition they hold lies in ranges it repaired)
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    pub command: Vec<String>,
}
