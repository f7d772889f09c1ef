//! # cairn-compact
//!
//! Compaction *policy* for Cassandra SSTables: which SSTables a strategy (STCS, LCS, TWCS)
//! would compact next, when a tombstone may be purged (gc_grace and overlapping SSTables), and
//! the N→M rewrite task. Reconciliation itself (the merge of cells and deletions by timestamp)
//! is data-model semantics and lives in `cairn-format`.
//!
//! Status: the crate exists so the dependency direction of the workspace holds
//! (`format` ← `compact` ← {`inspect`, `export`, `server`, `loader`}); the strategies and the
//! runner arrive with the compaction work.

pub use cairn_format;
