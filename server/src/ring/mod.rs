//! The ring: several `cairn node` processes acting as one Cassandra-like cluster.
//!
//! Building blocks, each free of the node's other rooms so that it can be tested alone:
//! [`messaging`] frames requests and responses between nodes on the storage port, [`gossip`]
//! is the state every node spreads about itself and learns about the others (Cassandra's
//! `Gossiper`), and [`failure`] decides from the rhythm of gossip heartbeats when a node is down
//! (Cassandra's phi-accrual `FailureDetector`).

pub mod failure;
pub mod gossip;
pub mod messaging;
