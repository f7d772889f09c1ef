//! `cairn node`: a Cassandra-compatible node.
//!
//! A setting comes from its flag, else from `--config FILE` (cassandra.yaml's name for it), else
//! from the default the help names.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Args)]
pub struct NodeArgs {
    /// A cassandra.yaml to take settings from (cluster_name, num_tokens, initial_token,
    /// listen_address, rpc_address, native_transport_port, storage_port, data_file_directories,
    /// seed_provider's seeds, hinted_handoff_enabled, max_hint_window, commitlog_sync,
    /// commitlog_sync_period, phi_convict_threshold, auto_bootstrap), and dc and rack from the
    /// cassandra-rackdc.properties beside it. Flags win over the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (data_file_directories; required unless --config names one).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Address to listen on (listen_address / rpc_address) [default: 127.0.0.1].
    #[arg(long)]
    pub listen: Option<std::net::IpAddr>,
    /// CQL port (native_transport_port) [default: 9042].
    #[arg(long)]
    pub port: Option<u16>,
    /// cluster_name [default: Cairn Cluster].
    #[arg(long)]
    pub cluster_name: Option<String>,
    /// commitlog_sync: periodic (fsync every --commitlog-sync-period-ms) or batch (a write is
    /// acknowledged once an fsync covers it; one fsync covers every write before it: group
    /// commit) [default: periodic].
    #[arg(long, value_enum)]
    pub commitlog_sync: Option<CommitlogSync>,
    /// commitlog_sync_period in milliseconds [default: 10000].
    #[arg(long, value_name = "MS")]
    pub commitlog_sync_period_ms: Option<u64>,
    /// A user of PasswordAuthenticator, as NAME:PASSWORD (repeatable); without any, every
    /// client is let in (AllowAllAuthenticator).
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    pub users: Vec<String>,
    /// Port of the admin interface (`cairn admin`), on the listen address; 0 turns it off.
    #[arg(long, default_value_t = 7199)]
    pub admin_port: u16,
    /// Internode port (storage_port), on the listen address: gossip, mutations, reads and
    /// streams between the nodes of a ring. Used with --seeds [default: 7000].
    #[arg(long)]
    pub storage_port: Option<u16>,
    /// Make this node a member of a ring, joining through these seeds (ADDR or
    /// ADDR:STORAGE_PORT, comma-separated; the first node lists itself). Without seeds the node
    /// is standalone: a ring of one, with no internode port.
    #[arg(long, value_name = "ADDR,...", value_delimiter = ',')]
    pub seeds: Vec<String>,
    /// Data centre of this node (as GossipingPropertyFileSnitch's dc) [default: datacenter1].
    #[arg(long, value_name = "NAME")]
    pub dc: Option<String>,
    /// Rack of this node [default: rack1].
    #[arg(long, value_name = "NAME")]
    pub rack: Option<String>,
    /// How often the node gossips, in milliseconds (Cassandra: 1000; a dead node is convicted
    /// after about 19 intervals of silence).
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub gossip_interval_ms: u64,
    /// Keep hints for replicas that miss a write, replayed when they are back
    /// (hinted_handoff_enabled) [default: on].
    #[arg(long, value_enum)]
    pub hinted_handoff: Option<OnOff>,
    /// How long a node may be down and still get hints (max_hint_window), in seconds
    /// [default: 10800].
    #[arg(long, value_name = "SECONDS")]
    pub max_hint_window: Option<u64>,
    /// Tokens this node owns (num_tokens), chosen at random on the first start and kept
    /// [default: 16].
    #[arg(long)]
    pub num_tokens: Option<usize>,
    /// The tokens to own instead of random ones (initial_token), comma-separated.
    #[arg(long, value_name = "T,...", value_delimiter = ',', allow_hyphen_values = true)]
    pub initial_token: Vec<i64>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OnOff {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CommitlogSync {
    /// fsync every period.
    Periodic,
    /// fsync every write before acknowledging it.
    Batch,
}
