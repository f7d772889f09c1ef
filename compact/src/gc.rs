//! `cairn compact gc`: the offline `nodetool garbagecollect`.
//!
//! Each SSTable of a table is rewritten on its own, oldest (by max timestamp) first as Cassandra
//! 5.0 orders them (`CompactionManager.performGarbageCollection`), dropping the data in it that
//! other SSTables of the table make dead — the job of `CompactionIterator.GarbageSkipper`:
//!
//! - `row` granularity (Cassandra's default `-g ROW`): cells, row markers and deletions covered
//!   by a partition, range or row deletion held by another SSTable;
//! - `cell` granularity (`-g CELL`): also cells another SSTable holds a newer version of.
//!
//! The rewritten SSTable is such that merged with the others it reads exactly as before. Only
//! SSTables whose newest write is newer than the oldest write of the one rewritten can shadow it
//! (`CompactionController.getShadowIterator`). Then the usual purge rules apply (gc_grace and
//! overlaps). Each SSTable is judged against the current state of the others — the outputs of
//! those already collected, not their originals — so a deletion held twice is never dropped from
//! both copies. Range tombstone markers of the rewritten SSTable are kept whole (Cassandra trims
//! the parts a deletion elsewhere supersedes; keeping them only costs bytes). Counter cells are
//! only collected when a deletion covers them: counter shards merge, they do not supersede.
//!
//! With `--out`, the rewritten SSTables are valid as a whole set replacing the inputs (one may
//! have purged a tombstone because another no longer holds the data it covered). A dry run judges
//! every SSTable against the originals, so a deletion held by two SSTables counts as collected in
//! both; the real run keeps one.

use cairn_format::Descriptor;
use cairn_format::sstable::SsTable;
use cairn_format::txn::Transaction;

use crate::files::ExecuteTarget;
use crate::files::TargetError;
use crate::repair_state::RepairState;
use crate::run::{RunOptions, RunReport};
pub use crate::shadow::Granularity;

/// Why `compact gc` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GcError {
    /// Reading the table or writing an output failed (the error says which file, and where).
    #[error(transparent)]
    Format(#[from] cairn_format::Error),
    /// The inputs or the output directory are refused.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// Rewriting one SSTable failed.
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
}

/// One SSTable collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// The SSTable rewritten.
    pub input: Descriptor,
    /// What replaced it (none when nothing was left).
    pub report: RunReport,
    /// Cells, markers and deletions dropped because other SSTables make them dead.
    pub collected: u64,
    /// Whether the input was deleted (in place).
    pub deleted: bool,
}

/// Garbage-collect each of `tables` (SSTables of one table directory), oldest first.
pub fn gc(
    tables: &[SsTable],
    granularity: Granularity,
    opts: &RunOptions,
    target: &ExecuteTarget,
    explain: &mut dyn FnMut(&crate::run::Explanation),
) -> Result<Vec<Collected>, GcError> {
    let Some(first) = tables.first() else { return Ok(Vec::new()) };
    let dir = first.descriptor.directory.clone();
    crate::files::same_directory(tables.iter().map(|t| t.descriptor.directory.as_path()))?;
    if let (ExecuteTarget::Out(root), false) = (target, opts.dry_run) {
        let out_dir = crate::files::target_dir(&first.descriptor, root);
        crate::files::refuse_beside_inputs(tables, &out_dir, root)?;
        crate::files::refuse_existing_sstables::<GcError>(&out_dir)?;
    }
    // The table as it stands: every SSTable of the directory, replaced by its output once
    // collected.
    let mut current: Vec<SsTable> = Vec::new();
    for d in cairn_format::descriptor::discover(&dir)? {
        current.push(match tables.iter().find(|t| t.descriptor == d) {
            Some(t) => t.clone(),
            None => SsTable::open_with(d, &Default::default())?,
        });
    }
    let max_ts = |t: &SsTable| t.statistics.stats.as_ref().map_or(i64::MAX, |s| s.max_timestamp);
    let mut order: Vec<&SsTable> = tables.iter().collect();
    order.sort_by_key(|t| (max_ts(t), t.descriptor.id.clone()));
    if opts.only_purge_repaired {
        order.retain(|t| RepairState::of(t).is_repaired());
    }
    // In place, the whole collection is one lifecycle transaction: every rewrite replaces its
    // input at one commit, or none does.
    let mut txn = match target {
        ExecuteTarget::InPlace if !opts.dry_run => {
            crate::files::check_no_unfinished::<GcError>(&dir)?;
            Some(Transaction::begin(&dir, opts.to, cairn_format::txn::operation::GARBAGE_COLLECT)?)
        }
        _ => None,
    };
    let mut done: Vec<Collected> = Vec::new();
    for t in order {
        match collect_one(t, &dir, &mut current, granularity, opts, target, txn.as_mut(), explain) {
            Ok(c) => done.push(c),
            Err(e) => {
                // Into a directory the outputs are only valid as a whole set: a failure leaves
                // none of them (in place, each finished SSTable already replaced its input).
                if matches!(target, ExecuteTarget::Out(_)) {
                    for d in done.iter().flat_map(|c| &c.report.outputs) {
                        let _ = crate::files::delete_sstable(d);
                    }
                }
                return Err(e);
            }
        }
    }
    if let Some(txn) = txn {
        txn.commit()?;
    }
    Ok(done)
}

/// Collect `t` against `current` (the table as it stands), which is updated; in place, its
/// rewrite and removal are recorded in `txn`.
#[allow(clippy::too_many_arguments)]
fn collect_one(
    t: &SsTable,
    dir: &std::path::Path,
    current: &mut Vec<SsTable>,
    granularity: Granularity,
    opts: &RunOptions,
    target: &ExecuteTarget,
    mut txn: Option<&mut Transaction>,
    explain: &mut dyn FnMut(&crate::run::Explanation),
) -> Result<Collected, GcError> {
    let others: Vec<SsTable> = current.iter().filter(|o| o.descriptor != t.descriptor).cloned().collect();
    let o = RunOptions { garbage: Some(granularity), ..opts.clone() };
    let out_dir = match target {
        ExecuteTarget::Out(root) => crate::files::target_dir(&t.descriptor, root),
        ExecuteTarget::InPlace => dir.to_path_buf(),
    };
    let mut collected = 0;
    let deleted = *target == ExecuteTarget::InPlace && !opts.dry_run;
    let mut count = |e: &crate::run::Explanation| {
        collected += e.collected;
        explain(e);
    };
    let report = crate::run::run_with(std::slice::from_ref(t), &others, &o, &out_dir, txn.as_deref_mut(), &mut count)?;
    if let Some(txn) = txn {
        txn.remove(&t.descriptor)?;
    }
    current.retain(|c| c.descriptor != t.descriptor);
    for d in &report.outputs {
        current.push(SsTable::open_with(d.clone(), &Default::default())?);
    }
    if opts.dry_run {
        // Nothing was written: the next SSTable sees this one as it is.
        current.push(t.clone());
    }
    Ok(Collected { input: t.descriptor.clone(), report, collected, deleted })
}
