//! # cairn-server
//!
//! `cairn node`: a Cassandra-compatible node speaking the CQL native protocol v4 ([`protocol`]),
//! executing the CQL statements drivers, cqlsh and session stores send ([`cql`], [`execute`]),
//! and answering the system tables drivers read to learn the schema and the token ring
//! ([`system`]). Writes go to the commit log ([`storage::commitlog`]) and then to memtables of the
//! format crate's partitions, reconciled by the same rules as the offline tools; memtables are
//! flushed to genuine `nb` SSTables and reads merge both ([`storage`]). The schema is the
//! [`catalog`]'s; connections and authentication are [`connection`]'s; [`admin`] stands in for
//! nodetool; [`node`] wires these rooms together. The node owns `num_tokens` tokens of a ring of
//! one; [`ring`] is where a ring of several nodes is taking shape (token ranges and replica
//! placement so far).
//!
//! Not yet: protocol v5, LWT, counters, `SELECT JSON`.

/// A line on stderr that never fails (a node must not die because its log was closed).
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod admin;
pub mod catalog;
pub mod config;
pub mod connection;
pub mod coordinator;
pub mod cql;
pub mod events;
pub mod execute;
pub mod hints;
pub mod node;
pub mod protocol;
pub mod ring;
pub mod storage;
pub mod system;
pub mod values;

pub use node::{NodeConfig, NodeHandle, start};
pub use ring::cluster::RingConfig;
pub use storage::commitlog;
