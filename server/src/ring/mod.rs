//! # The ring: several `cairn node`s sharing the token space
//!
//! A Cairn cluster is a ring of `cairn node` processes (on 127.0.0.x for tests), shaped like
//! Cassandra's. This module gathers the rooms that make a ring work:
//!
//! - [`tokens`]: who owns which keys. The Murmur3 token space, each node's tokens, the ranges
//!   between them, and where a keyspace's replication strategy puts the replicas of a token.
//! - [`messaging`]: node-to-node messages on the storage port (Cairn's own framed protocol,
//!   the internode counterpart of the native protocol).
//! - [`gossip`]: spreading each node's state (tokens, datacenter, rack, status, schema version)
//!   around the ring (Cassandra's `Gossiper`).
//! - [`cluster`]: a node's membership — its gossip rounds, the failure detector fed by them,
//!   and the view of the ring (members, liveness, token map) the coordinator places data with.
//! - [`streaming`]: moving whole token ranges — bootstrap, decommission, cleanup.
//! - [`load`]: `cairn load --stream`, SSTables cut into each replica's share and streamed.
//! - [`repair`]: online anti-entropy — Merkle trees per range from every replica, differing
//!   leaves reconciled.
//! - [`failure`]: deciding from the rhythm of gossip heartbeats that a peer is down (Cassandra's
//!   phi-accrual `FailureDetector`).
//!
//! ## The ring in one picture
//!
//! The Murmur3Partitioner hashes a partition key to a signed 64-bit token. Picture the tokens
//! from `i64::MIN` to `i64::MAX` bent into a circle. Each node places a few tokens on it (its
//! `num_tokens` virtual nodes, or the ones `--initial-token` names):
//!
//! ```text
//!   ring token      -6000          -2000          1000          4000          8000
//!   owner             A              B              C             A             C
//!   primary range  (8000, -6000]  (-6000, -2000]  (-2000, 1000]  (1000, 4000]  (4000, 8000]
//!                  ^ wraps: 8000 -> i64::MAX -> i64::MIN -> -6000
//! ```
//!
//! A node's token `t` ends a *range*: the keys with tokens in `(previous token, t]` (start
//! exclusive, end inclusive) belong primarily to that node, so a key whose token equals a ring
//! token belongs to that token's owner. The range ending at the smallest token starts at the
//! largest one and wraps through `i64::MAX` / `i64::MIN`.
//!
//! To find the replicas of a key, start at the first ring token `>=` the key's token (wrapping to
//! the smallest) and walk clockwise. SimpleStrategy takes the first `rf` distinct nodes it meets:
//! above, with `rf = 2`, a key of token 0 lives on C then A, a key of token -2000 on B then C,
//! and a key of token 9000 wraps round to A then B. NetworkTopologyStrategy walks the same way
//! but counts per datacenter and spreads each datacenter's replicas over distinct racks while it
//! can (see [`tokens`] for the exact rule). The keyspace's replication map
//! (`CREATE KEYSPACE ... WITH replication = {...}`) says which strategy applies.

pub mod cluster;
pub mod failure;
pub mod gossip;
pub mod load;
pub mod messaging;
pub mod repair;
pub mod streaming;
pub mod tokens;
