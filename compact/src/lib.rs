//! # cairn-compact
//!
//! Rewriting Cassandra SSTables, and the policy of compaction: which SSTables a strategy
//! (STCS, LCS, TWCS) would compact next and when a tombstone may be purged. Reconciliation
//! itself (the merge of cells and deletions by timestamp) is data-model semantics and lives in
//! `cairn-format`; this crate decides what to keep and drives the N→M rewrite.
//!
//! [`upgrade`] is the job of Cassandra's `sstableupgrade`: rewrite SSTables of any readable
//! version into another (`nb`, `oa`, or down to `me` for Cassandra 3.11 where the data fits).
//! [`run`] merges SSTables of a table into new ones, purging tombstones by Cassandra's rules.
//! [`plan`] says what STCS, LCS or TWCS would compact next, and runs it. [`split`] is
//! `sstablesplit`; [`gc`] is the offline `nodetool garbagecollect`. In place, each of them is one
//! lifecycle transaction (`cairn_format::txn`), and [`cleanup`] resolves what a killed one left. [`purge`] is the one judgement
//! of what compaction may drop, which every verb that reports droppable tombstones calls.
//! [`repair_state`] reads incremental repair's marks and decides what a compaction's output carries.
//! [`files`] holds what the rewriting verbs share about files: where an output goes, which
//! output directories are refused, how an SSTable is deleted.
//!
//! Each operation has its own error (`RunError`, `GcError`, `SplitError`, `UpgradeError`,
//! `PlanError`, `CleanupError`); a read or write failure is `cairn_format::Error`, which says
//! the file and the place once, and a refused directory is [`files::TargetError`].

pub mod cleanup;
pub mod files;
pub mod gc;
pub mod plan;
pub mod purge;
pub mod repair_state;
pub mod run;
pub(crate) mod shadow;
pub mod split;
pub mod upgrade;

pub use purge::DEFAULT_GC_GRACE_SECONDS;

pub use cairn_format;
