//! # cairn-server
//!
//! A Cassandra-compatible node: the CQL native protocol, a commit log, memtables flushed to
//! genuine `nb` SSTables, compaction and snapshots, with token ownership in mind so that a ring
//! of several nodes can follow.
//!
//! Status: placeholder in the workspace layout; the node arrives with the server work.

pub use cairn_compact;
