//! `cairn ring`: a ring of `cairn node`s on this machine's loopback addresses.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum RingCommand {
    /// Start N detached nodes (node i on 127.0.0.i, logs in DIR/node1/node.log, ...), wait until
    /// every node sees every other up and normal (UN), and print them.
    Up(RingUpArgs),
    /// Every node's state, address, load, tokens, ownership, host id and rack, as one live node
    /// sees them (nodetool status).
    Status(RingStatusArgs),
    /// Stop a node cleanly (SIGTERM: memtables flushed, peers told it is shutting down).
    Stop(RingNodeArgs),
    /// Kill a node (SIGKILL: the commit log is replayed when it starts again).
    Kill(RingNodeArgs),
    /// Pause a node (SIGSTOP): it stops answering, and its peers convict it down.
    Pause(RingNodeArgs),
    /// Resume a paused node (SIGCONT).
    Resume(RingNodeArgs),
    /// Start a stopped or killed node again, with the same data, address and identity.
    Start(RingNodeArgs),
    /// Stop every node cleanly.
    Down(RingDirArgs),
    /// Add a node (the next address): it joins as UJ, streams the ranges it takes over from
    /// their current replicas, then serves as UN. Run `cairn admin cleanup` on the others
    /// afterwards to drop what they no longer replicate.
    Add(RingAddArgs),
    /// Decommission a node: it streams its ranges to their new replicas, leaves the ring and
    /// stops.
    Decommission(RingNodeArgs),
    /// Remove a dead node: the ranges it replicated are streamed to their new replicas from the
    /// live ones, and every node forgets it.
    Removenode(RingNodeArgs),
}

#[derive(Args)]
pub struct RingAddArgs {
    /// The ring's directory.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The new node's data centre (default: the first node's).
    #[arg(long, value_name = "NAME")]
    pub dc: Option<String>,
}

#[derive(Args)]
pub struct RingDirArgs {
    /// The ring's directory (as given to `ring up`).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct RingUpArgs {
    /// How many nodes.
    pub nodes: usize,
    /// The ring's directory: DIR/ring.json, and DIR/node1/, DIR/node2/, ... with each node's data and log.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The CQL port every node listens on (each on its own address).
    #[arg(long, default_value_t = 9042)]
    pub port: u16,
    /// The internode port of every node.
    #[arg(long, default_value_t = 7000)]
    pub storage_port: u16,
    /// The admin port of every node (`cairn admin --host 127.0.0.i --port P`).
    #[arg(long, default_value_t = 7199)]
    pub admin_port: u16,
    /// Data centres and their node counts, e.g. dc1:3,dc2:3 (they must add up to the node
    /// count); default: every node in datacenter1.
    #[arg(long, value_name = "DC:N,...", value_delimiter = ',')]
    pub dcs: Vec<String>,
    /// Tokens per node.
    #[arg(long, default_value_t = 16)]
    pub num_tokens: usize,
    /// Keep hints for nodes that miss writes.
    #[arg(long, value_enum, default_value = "on")]
    pub hinted_handoff: crate::args::OnOff,
    /// Print the nodes as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RingStatusArgs {
    /// The ring's directory.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Print JSON: {"nodes": [{"address", "status", "dc", "rack", "load", "tokens", "owns", ...}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RingNodeArgs {
    /// The node: its name (node2), number (2) or address (127.0.0.2).
    pub node: String,
    /// The ring's directory.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}
