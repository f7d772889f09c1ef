//! Running a plan's next task: the compacted SSTables are merged by [`crate::run`] with the
//! plan's level, output size, gc_grace and clock; fully expired ones are dropped unread. In
//! place, the outputs replace the compacted and the dropped SSTables as one lifecycle
//! transaction, as Cassandra commits a compaction.

use cairn_format::Descriptor;
use cairn_format::sstable::SsTable;

use super::{Plan, PlanError};
use crate::files::ExecuteTarget;

/// What running a plan's next task did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The compaction's report (outputs, purges).
    pub report: crate::run::RunReport,
    /// SSTables compacted (read and merged).
    pub compacted: Vec<Descriptor>,
    /// Fully expired SSTables dropped without being read.
    pub dropped: Vec<Descriptor>,
    /// Input SSTables deleted (in place only).
    pub deleted: Vec<Descriptor>,
}

/// Run the next task of `plan` over `tables` (those the plan was made from). `base` gives the
/// output version and compression; level, output size, gc_grace and the clock come from the
/// plan. `None` when there is nothing to compact.
pub fn execute(
    plan: &Plan,
    tables: &[SsTable],
    base: &crate::run::RunOptions,
    target: &ExecuteTarget,
) -> Result<Option<Executed>, PlanError> {
    let Some((_, task)) = plan.next() else { return Ok(None) };
    let descriptor = |i: usize| plan.sstables.get(i).map(|f| f.descriptor.clone());
    let dropped: Vec<Descriptor> = task.expired.iter().filter_map(|&i| descriptor(i)).collect();
    let compacted: Vec<Descriptor> =
        task.sstables.iter().filter(|i| !task.expired.contains(i)).filter_map(|&i| descriptor(i)).collect();
    let inputs: Vec<SsTable> = tables.iter().filter(|t| compacted.contains(&t.descriptor)).cloned().collect();
    let opts = crate::run::RunOptions {
        gc_grace_seconds: Some(plan.clock.now_s - plan.clock.gc_before),
        now_s: plan.clock.now_s,
        only_purge_repaired: plan.options.only_purge_repaired_tombstones,
        level: task.level.unwrap_or(0),
        max_output_bytes: task.max_sstable_bytes,
        ..base.clone()
    };
    let report = match target {
        ExecuteTarget::Out(dir) => {
            if let (Some(first), false) = (inputs.first(), opts.dry_run) {
                crate::run::check_out_dir(&inputs, &crate::files::target_dir(&first.descriptor, dir), dir)?;
            }
            crate::run::run(&inputs, &opts, dir)?
        }
        // One lifecycle transaction: the outputs replace the compacted and the dropped SSTables.
        ExecuteTarget::InPlace => {
            crate::run::run_in_place(&inputs, &dropped, &opts, cairn_format::txn::operation::COMPACTION, &mut |_| {})?
        }
    };
    let deleted = if *target == ExecuteTarget::InPlace {
        compacted.iter().chain(&dropped).cloned().collect()
    } else {
        Vec::new()
    };
    Ok(Some(Executed { report, compacted, dropped, deleted }))
}
