//! The coordinator: the node a client talks to. In a ring it sends each write to the replicas
//! of its partitions ([`write`](mod@write)) and each read to enough of them ([`read`]), answering once the
//! consistency level is met ([`consistency`]); [`replica`] is the other side, what a node does
//! when a coordinator asks. A standalone node is its own only replica and reads and writes its
//! own data.

pub mod consistency;
pub(crate) mod pool;
pub mod read;
pub mod replica;
pub mod write;
