//! The coordinator: the node a client talks to, sending each write to the replicas of its
//! partitions and each read to enough of them, and answering once the consistency level is met
//! ([`consistency`]).

pub mod consistency;
