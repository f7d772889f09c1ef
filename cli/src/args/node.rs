//! `cairn node`: a Cassandra-compatible node.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Args)]
pub struct NodeArgs {
    /// Data directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Address to listen on (listen_address / rpc_address).
    #[arg(long, default_value = "127.0.0.1")]
    pub listen: std::net::IpAddr,
    /// CQL port (native_transport_port).
    #[arg(long, default_value_t = 9042)]
    pub port: u16,
    /// cluster_name.
    #[arg(long, default_value = "Cairn Cluster")]
    pub cluster_name: String,
    /// commitlog_sync: periodic (fsync every --commitlog-sync-period-ms) or batch (a write is
    /// acknowledged once an fsync covers it; one fsync covers every write before it: group commit).
    #[arg(long, value_enum, default_value = "periodic")]
    pub commitlog_sync: CommitlogSync,
    /// commitlog_sync_period in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub commitlog_sync_period_ms: u64,
    /// A user of PasswordAuthenticator, as NAME:PASSWORD (repeatable); without any, every
    /// client is let in (AllowAllAuthenticator).
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    pub users: Vec<String>,
    /// Port of the admin interface (`cairn admin`), on the listen address; 0 turns it off.
    #[arg(long, default_value_t = 7199)]
    pub admin_port: u16,
    /// Internode port (storage_port), on the listen address: gossip, mutations and reads
    /// between the nodes of a ring. Used with --seeds.
    #[arg(long, default_value_t = 7000)]
    pub storage_port: u16,
    /// Make this node a member of a ring, joining through these seeds (ADDR or
    /// ADDR:STORAGE_PORT, comma-separated; the first node lists itself). Without --seeds the
    /// node is standalone: a ring of one, with no internode port.
    #[arg(long, value_name = "ADDR,...", value_delimiter = ',')]
    pub seeds: Vec<String>,
    /// Data centre of this node (as GossipingPropertyFileSnitch's dc).
    #[arg(long, value_name = "NAME", default_value = "datacenter1")]
    pub dc: String,
    /// Rack of this node.
    #[arg(long, value_name = "NAME", default_value = "rack1")]
    pub rack: String,
    /// How often the node gossips, in milliseconds (Cassandra: 1000; a dead node is convicted
    /// after about 19 intervals of silence).
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub gossip_interval_ms: u64,
    /// Keep hints for replicas that miss a write, replayed when they are back
    /// (hinted_handoff_enabled).
    #[arg(long, value_enum, default_value = "on")]
    pub hinted_handoff: OnOff,
    /// How long a node may be down and still get hints (max_hint_window), in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10_800)]
    pub max_hint_window: u64,
    /// Tokens this node owns (num_tokens), chosen at random on the first start and kept.
    #[arg(long, default_value_t = 16)]
    pub num_tokens: usize,
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
