//! What a strategy reads of each SSTable: sizes, timestamps, level, repair state, first and
//! last partition, and the droppable-tombstone estimates (`SSTableReader`'s metadata as
//! Cassandra's strategies consult it). Only SSTables a tombstone compaction could pick get the
//! exact count of partitions outside their overlapping SSTables.

use cairn_format::partitioner::Token;
use cairn_format::sstable::SsTable;
use cairn_format::{Component, Descriptor};

use super::{PlanError, StrategyOptions};
use crate::repair_state::RepairState;

/// A partition as an SSTable bound: its token and key.
pub type KeyBound = (Token, Vec<u8>);

/// What a strategy looks at, for one SSTable.
#[derive(Debug, Clone, PartialEq)]
pub struct SsTableFacts {
    /// The SSTable.
    pub descriptor: Descriptor,
    /// Data.db size (`onDiskLength`): what STCS buckets and LCS levels count.
    pub data_bytes: u64,
    /// All components' sizes (`bytesOnDisk`): STCS's tie-break between buckets.
    pub bytes_on_disk: u64,
    /// Data.db modification time (ms since the epoch).
    pub created_ms: i64,
    /// Min write timestamp (µs).
    pub min_timestamp: i64,
    /// Max write timestamp (µs).
    pub max_timestamp: i64,
    /// Max local deletion time (s; "never" for live, non-expiring data).
    pub max_local_deletion_time: i64,
    /// LCS level from Statistics.db.
    pub level: i32,
    /// Repaired-at, pending repair session and transient flag.
    pub repair: RepairState,
    /// First and last partition: token and key.
    pub first: KeyBound,
    /// Last partition.
    pub last: KeyBound,
    /// Estimated droppable tombstone ratio at the plan's gc_before.
    pub droppable_ratio: f64,
    /// Fraction of partitions outside every overlapping SSTable's token range `(first, last]`
    /// (`None`: too few samples, as Cassandra's `isEstimationInformative`; computed only when a
    /// tombstone compaction depends on it).
    pub outside_overlap_ratio: Option<f64>,
}

impl SsTableFacts {
    pub(super) fn overlaps(&self, other: &SsTableFacts) -> bool {
        self.first.0 <= other.last.0 && other.first.0 <= self.last.0
    }

    pub(super) fn first_key_order(&self, other: &SsTableFacts) -> std::cmp::Ordering {
        self.first.cmp(&other.first).then_with(|| self.descriptor.id.cmp(&other.descriptor.id))
    }
}

/// The clock and gc_grace of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanClock {
    /// Now (s).
    pub now_s: i64,
    /// `now - gc_grace_seconds` (s).
    pub gc_before: i64,
}

/// Read the facts of `tables` (one table) a plan needs. `options` decide which estimates are
/// worth computing (the overlap fraction is counted from Index.db only for SSTables whose
/// droppable ratio exceeds `tombstone_threshold`).
pub fn facts(tables: &[SsTable], options: &StrategyOptions, clock: PlanClock) -> Result<Vec<SsTableFacts>, PlanError> {
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        let stats = t.statistics.stats.as_ref();
        let data = t.path(Component::Data);
        let meta = std::fs::metadata(&data).map_err(|e| cairn_format::Error::io(&data, e))?;
        let created_ms = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut bytes_on_disk = 0;
        for c in Component::BIG {
            if let Ok(m) = std::fs::metadata(t.path(c)) {
                bytes_on_disk += m.len();
            }
        }
        let (first, last) = key_range(t)?;
        out.push(SsTableFacts {
            descriptor: t.descriptor.clone(),
            data_bytes: meta.len(),
            bytes_on_disk,
            created_ms,
            min_timestamp: stats.map_or(i64::MIN, |s| s.min_timestamp),
            max_timestamp: stats.map_or(i64::MAX, |s| s.max_timestamp),
            max_local_deletion_time: stats.map_or(i64::MAX, |s| s.max_local_deletion_time),
            level: stats.map_or(0, |s| s.sstable_level),
            repair: RepairState::of(t),
            first,
            last,
            droppable_ratio: stats.map_or(0.0, |s| s.estimated_droppable_tombstone_ratio(clock.gc_before)),
            outside_overlap_ratio: None,
        });
    }
    // Only SSTables a tombstone compaction could pick need the exact count.
    for i in 0..out.len() {
        let Some(f) = out.get(i) else { continue };
        if f.droppable_ratio <= options.tombstone_threshold || options.unchecked_tombstone_compaction {
            continue;
        }
        let ranges: Vec<(Token, Token)> = out
            .iter()
            .enumerate()
            .filter(|&(j, o)| j != i && o.overlaps(f))
            .map(|(_, o)| (o.first.0.clone(), o.last.0.clone()))
            .collect();
        if ranges.is_empty() {
            continue;
        }
        let Some(table) = tables.get(i) else { continue };
        let ratio = outside_ratio(table, &ranges)?;
        if let Some(f) = out.get_mut(i) {
            f.outside_overlap_ratio = ratio;
        }
    }
    Ok(out)
}

/// First and last partition of an SSTable: as Statistics.db (5.0) or Summary.db record them
/// ([`SsTable::key_range`]), else Index.db's first and last entries.
fn key_range(t: &SsTable) -> Result<(KeyBound, KeyBound), PlanError> {
    let (first, last) = match t.key_range()? {
        Some(k) => k,
        None => {
            let mut r = t.index_reader()?;
            let mut first = None;
            let mut last = None;
            while let Some(e) = r.next_entry()? {
                if first.is_none() {
                    first = Some(e.key.clone());
                }
                last = Some(e.key);
            }
            (first.unwrap_or_default(), last.unwrap_or_default())
        }
    };
    Ok(((t.token(&first), first), (t.token(&last), last)))
}

/// The fraction of `t`'s partitions whose token lies in none of `ranges` (each `(left, right]`,
/// Cassandra's `Range`). `None` when Cassandra would call the estimate uninformative (an index
/// summary of fewer than two entries).
fn outside_ratio(t: &SsTable, ranges: &[(Token, Token)]) -> Result<Option<f64>, PlanError> {
    if let Some(s) = t.summary()?
        && s.entries.len() < 2
    {
        return Ok(None);
    }
    let mut r = t.index_reader()?;
    let (mut total, mut outside) = (0u64, 0u64);
    while let Some(e) = r.next_entry()? {
        total += 1;
        let tok = t.token(&e.key);
        // Range (l, h]; with l >= h it wraps around the ring (a single-partition SSTable's range
        // covers everything, as Cassandra's Range does).
        let within = |l: &Token, h: &Token| if l < h { *l < tok && tok <= *h } else { tok > *l || tok <= *h };
        if !ranges.iter().any(|(l, h)| within(l, h)) {
            outside += 1;
        }
    }
    Ok((total > 0).then(|| outside as f64 / total as f64))
}
