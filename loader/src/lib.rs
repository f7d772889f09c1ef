//! # cairn-loader
//!
//! Restores snapshots and backups into a live cluster over CQL: snapshot discovery, routing by
//! token, batching, throttling, resumable progress, restore semantics.
//!
//! Status: placeholder in the workspace layout; the loader arrives with the load work.

pub use cairn_compact;
