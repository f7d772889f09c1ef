//! # cairn-server
//!
//! `cairn node`: a Cassandra-compatible node speaking the CQL native protocol v4 ([`protocol`]),
//! executing the CQL statements drivers, cqlsh and session stores send ([`cql`], [`node`]), and
//! answering the system tables drivers read to learn the schema and the token ring ([`system`]).
//! Writes go to the commit log ([`commitlog`]) and then to memtables of the format crate's
//! partitions, reconciled by the same rules as the offline tools; memtables are flushed to
//! genuine `nb` SSTables and reads merge both ([`storage`]). The node owns `num_tokens` tokens of
//! a ring of one.
//!
//! Not yet: compaction, snapshots, authentication, events pushed after REGISTER, protocol v5,
//! LWT, counters, `SELECT JSON`, server-side `DESCRIBE`.

/// A line on stderr that never fails (a node must not die because its log was closed).
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod admin;
pub mod commitlog;
pub mod cql;
pub mod literal;
pub mod node;
pub mod protocol;
pub mod storage;
pub mod system;
pub mod values;

pub use node::{NodeConfig, NodeHandle, start};
