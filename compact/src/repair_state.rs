//! Incremental repair's marks on an SSTable (repaired-at, pending repair session, transient) and
//! what a compaction does with them: the one reading of them that the planner, the purger,
//! `compact gc` and every rewrite share.

use cairn_format::Component;
use cairn_format::sstable::SsTable;
use cairn_format::types::render::format_uuid;

use crate::files::TargetError;

/// The holders `CompactionStrategyManager` keeps an SSTable in, in its order
/// (`holders` in `db/compaction/CompactionStrategyManager.java`): each has its own strategy, and
/// no compaction takes SSTables of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Holder {
    /// Pending in an incremental-repair session, written by a transient replica.
    TransientPending,
    /// Pending in an incremental-repair session.
    Pending,
    /// Repaired.
    Repaired,
    /// Unrepaired.
    Unrepaired,
}

/// An SSTable's repair state ([`RepairState::of`]), or the one a compaction's output records
/// ([`RepairState::of_inputs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairState {
    /// When the data was repaired (ms), 0 when it is not.
    pub repaired_at: i64,
    /// The incremental-repair session the data is pending in, if any.
    pub pending_repair: Option<[u8; 16]>,
    /// Written by a transient replica.
    pub is_transient: bool,
}

impl RepairState {
    /// The state of one SSTable (an SSTable without a stats component is unrepaired).
    pub fn of(t: &SsTable) -> RepairState {
        let s = t.statistics.stats.as_ref();
        RepairState {
            repaired_at: s.map_or(0, |s| s.repaired_at),
            pending_repair: s.and_then(|s| s.pending_repair),
            is_transient: s.is_some_and(|s| s.is_transient),
        }
    }

    /// The state of the output of compacting `tables`, decided as Cassandra's `CompactionTask`
    /// does (`getMinRepairedAt`, `getPendingRepair`, `getIsTransient` in
    /// `db/compaction/CompactionTask.java`): the earliest repaired-at (one unrepaired input makes
    /// the output unrepaired, and repaired data is never claimed repaired later than it was),
    /// and the inputs' session and transient flag. Inputs pending in different sessions (or
    /// pending and not), or transient and full together, are refused, as Cassandra refuses
    /// them: the output could record only one of their states.
    pub fn of_inputs(tables: &[SsTable]) -> Result<RepairState, TargetError> {
        let Some(first) = tables.first() else { return Ok(RepairState::of_nothing()) };
        let mut out = RepairState::of(first);
        for t in &tables[1..] {
            let s = RepairState::of(t);
            if (s.pending_repair, s.is_transient) != (out.pending_repair, out.is_transient) {
                return Err(TargetError::MixedRepairState {
                    first: first.path(Component::Data).display().to_string(),
                    first_state: out.group(),
                    other: t.path(Component::Data).display().to_string(),
                    other_state: s.group(),
                });
            }
            out.repaired_at = out.repaired_at.min(s.repaired_at);
        }
        Ok(out)
    }

    fn of_nothing() -> RepairState {
        RepairState { repaired_at: 0, pending_repair: None, is_transient: false }
    }

    /// Repaired by a finished incremental repair (`isRepaired`: repaired-at is not 0).
    pub fn is_repaired(&self) -> bool {
        self.repaired_at != 0
    }

    /// Which of Cassandra's strategy holders keeps the SSTable.
    pub fn holder(&self) -> Holder {
        match (&self.pending_repair, self.is_repaired()) {
            (Some(_), _) if self.is_transient => Holder::TransientPending,
            (Some(_), _) => Holder::Pending,
            (None, true) => Holder::Repaired,
            (None, false) => Holder::Unrepaired,
        }
    }

    /// The group Cassandra compacts the SSTable in (its `CompactionStrategyManager` keeps one
    /// strategy per group and never compacts across them): `repaired`, `unrepaired`, or
    /// `pending repair <session>`, with `, transient` for a transient replica's.
    pub fn group(&self) -> String {
        match (&self.pending_repair, self.is_repaired()) {
            (Some(id), _) if self.is_transient => format!("pending repair {}, transient", format_uuid(id)),
            (Some(id), _) => format!("pending repair {}", format_uuid(id)),
            (None, false) => "unrepaired".to_string(),
            (None, true) => "repaired".to_string(),
        }
    }
}
