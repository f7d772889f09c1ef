//! The purge judgement: when compaction may drop a tombstone. Every verb that says what is
//! droppable — `compact run` (and its `--explain`/`--dry-run`), `compact gc`, `compact plan`'s
//! clock, `tombstones` and `meta`'s estimate — asks this module, so they cannot disagree.
//!
//! The rules are Cassandra's (`db/compaction/CompactionController.java`,
//! `db/partitions/PurgeFunction.java`, `db/rows/AbstractCell.java#purge`,
//! `db/DeletionPurger.java`):
//!
//! - **gc_before** is `now - gc_grace_seconds` ([`gc_before`]); `gc_grace_seconds` is the one
//!   given, else the table's, else 864000 ([`gc_grace_seconds`]).
//! - A tombstone (partition, row, shadowable row, range, cell or complex deletion) deleting from
//!   local deletion time `ldt`, written at `ts`, is **young** while `ldt >= gc_before`.
//! - Past gc_grace it is **purged** unless an SSTable of the same table *outside* the compaction
//!   may hold older data it shadows: one whose bloom filter admits the partition key and whose
//!   minimum timestamp is at or below `ts` ([`Overlaps`]). Then it is **kept for overlap**, and
//!   those SSTables are its blockers.
//! - An expired TTL cell is a tombstone deleting from its expiry. When it cannot go at its
//!   expiry, Cassandra turns it into a tombstone *re-dated to its write time*
//!   (`localDeletionTime - ttl`) and judges it again: such a cell may be purged even though its
//!   expiry is younger than gc_grace. An expired row marker is judged at its expiry only.
//! - With `only_purge_repaired_tombstones`, nothing is purged unless every input is repaired
//!   (`CompactionController.compactingRepaired`). `sstablesplit` purges nothing.
//! - A range tombstone counts once, at its opening bound: the closing side of a boundary marker
//!   carries the same deletion as the range it closes and shares its fate.

use cairn_format::clustering::BoundKind;
use cairn_format::data::{Cell, ComplexDeletion, Unfiltered, UnfilteredKind};
use cairn_format::deletion::{DeletionTime, LivenessInfo};
use cairn_format::filter::BloomFilter;
use cairn_format::schema::TableSchema;
use cairn_format::sstable::SsTable;

use crate::repair_state::RepairState;

/// Cassandra's default `gc_grace_seconds` (10 days).
pub const DEFAULT_GC_GRACE_SECONDS: i64 = 864_000;

/// The gc_grace_seconds a judgement uses: `explicit`, else the table's, else Cassandra's default.
pub fn gc_grace_seconds(explicit: Option<i64>, schema: &TableSchema) -> i64 {
    explicit.or_else(|| schema.gc_grace_seconds()).unwrap_or(DEFAULT_GC_GRACE_SECONDS)
}

/// Tombstones deleting before this (s) are past gc_grace at `now_s`.
pub fn gc_before(now_s: i64, gc_grace_seconds: i64) -> i64 {
    now_s.saturating_sub(gc_grace_seconds)
}

/// The settings of one judgement: the clock and what may be purged at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeClock {
    /// The time judged at (s).
    pub now_s: i64,
    /// gc_grace_seconds applied.
    pub gc_grace: i64,
    /// `now - gc_grace` (s); `i64::MIN` when nothing may be purged at all.
    pub gc_before: i64,
    /// Whether anything may be purged (false under `only_purge_repaired` with an unrepaired
    /// input, and for `sstablesplit`).
    pub may_purge: bool,
}

impl PurgeClock {
    /// The clock of a compaction of `inputs` at `now_s`. `no_purge` is sstablesplit's rule
    /// (nothing is ever past gc_grace); `only_purge_repaired` needs every input repaired.
    pub fn for_compaction(
        inputs: &[SsTable],
        now_s: i64,
        gc_grace: Option<i64>,
        only_purge_repaired: bool,
        no_purge: bool,
    ) -> PurgeClock {
        let gc_grace = inputs
            .first()
            .map_or(gc_grace.unwrap_or(DEFAULT_GC_GRACE_SECONDS), |t| gc_grace_seconds(gc_grace, &t.schema));
        let repaired = inputs.iter().all(|t| RepairState::of(t).is_repaired());
        PurgeClock {
            now_s,
            gc_grace,
            gc_before: if no_purge { i64::MIN } else { gc_before(now_s, gc_grace) },
            may_purge: !no_purge && (!only_purge_repaired || repaired),
        }
    }
}

/// Why tombstones past gc_grace stay when [`PurgeClock::unrepaired`], as every verb says it.
pub const UNREPAIRED: &str = "only repaired data is purged with --only-purge-repaired, and not every input is repaired";

impl PurgeClock {
    /// Whether every tombstone past gc_grace is kept because only repaired data may be purged
    /// (`only_purge_repaired_tombstones`) and an input is not repaired. That, not an overlapping
    /// SSTable, is then why they stay: they are counted with those kept for overlap, and no
    /// SSTable is named as blocking them.
    pub fn unrepaired(&self) -> bool {
        !self.may_purge && self.gc_before != i64::MIN
    }
}

/// An SSTable of the table that is not being compacted: what may hold older data for a key.
#[derive(Debug, Clone)]
pub struct Outside {
    /// Its Data.db file name.
    pub name: String,
    filter: Option<BloomFilter>,
    /// Its oldest write (µs).
    pub min_timestamp: i64,
    /// The SSTable, for checking its filter against its Index.db ([`Overlaps::check_rejections`]).
    table: Option<SsTable>,
    /// That check's outcome, once made: the keys of Index.db the filter rejects, and the
    /// Index.db offset of the first.
    checked: std::sync::OnceLock<Result<(), (u64, u64)>>,
}

/// A bloom filter that rejects keys its own Index.db holds: a damaged Filter.db, found when a
/// purge relied on it (a tombstone would go because the filter says the SSTable cannot hold
/// older data for its key).
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: the bloom filter rejects {missed} key(s) that Index.db holds (the first at Index.db byte {first_at}); a \
     purge relied on it, so nothing was written. The filter is damaged: rewrite that SSTable (compact upgrade) or move \
     its Filter.db away (an SSTable without one admits every key)",
    filter.display()
)]
pub struct DamagedFilter {
    /// The Filter.db.
    pub filter: std::path::PathBuf,
    /// Index.db keys it rejects.
    pub missed: u64,
    /// The Index.db offset of the first.
    pub first_at: u64,
}

/// The SSTables outside a compaction, consulted per partition.
#[derive(Debug, Clone, Default)]
pub struct Overlaps {
    outside: Vec<Outside>,
}

impl Overlaps {
    /// The overlap facts of `others` (their bloom filters and minimum timestamps).
    pub fn new(others: &[SsTable]) -> cairn_format::Result<Overlaps> {
        let mut outside = Vec::with_capacity(others.len());
        for t in others {
            outside.push(Outside {
                name: t
                    .path(cairn_format::Component::Data)
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
                filter: t.filter()?,
                min_timestamp: t.statistics.stats.as_ref().map_or(i64::MIN, |s| s.min_timestamp),
                table: Some(t.clone()),
                checked: std::sync::OnceLock::new(),
            });
        }
        Ok(Overlaps { outside })
    }

    /// The SSTables whose bloom filter admits `key` (an SSTable without Filter.db admits all).
    pub fn admitting(&self, key: &[u8]) -> Vec<&Outside> {
        self.outside.iter().filter(|o| o.filter.as_ref().is_none_or(|f| f.may_contain(key))).collect()
    }

    /// Before tombstones of `key` written up to `newest_purged` (µs) are purged: the SSTables
    /// whose filter rejected the key but whose data is that old (so the purge relied on their
    /// filter's word) have their filter checked against their Index.db, once each. A filter
    /// that rejects a key its Index.db holds is damaged ([`DamagedFilter`]): trusting it would
    /// let deleted data come back. Cassandra trusts the filter; Cairn checks it, but only where
    /// a purge depends on it. An SSTable without Index.db cannot be checked, and is trusted.
    pub fn check_rejections(&self, key: &[u8], newest_purged: i64) -> Result<(), crate::run::RunError> {
        for o in &self.outside {
            let Some(f) = &o.filter else { continue };
            if o.min_timestamp > newest_purged || f.may_contain(key) {
                continue;
            }
            let Some(table) = &o.table else { continue };
            let checked = match o.checked.get() {
                Some(c) => *c,
                None => {
                    let c = filter_misses(table, f)?;
                    *o.checked.get_or_init(|| c)
                }
            };
            if let Err((missed, first_at)) = checked {
                let filter = table.path(cairn_format::Component::Filter);
                return Err(DamagedFilter { filter, missed, first_at }.into());
            }
        }
        Ok(())
    }
}

/// The keys of `table`'s Index.db that `filter` rejects: `Err((count, offset of the first))`.
fn filter_misses(table: &SsTable, filter: &BloomFilter) -> cairn_format::Result<Result<(), (u64, u64)>> {
    if !table.present.contains(&cairn_format::Component::Index) {
        return Ok(Ok(()));
    }
    let mut index = table.index_reader()?;
    let (mut missed, mut first_at) = (0u64, 0u64);
    while let Some(e) = index.next_entry()? {
        if !filter.may_contain(&e.key) {
            if missed == 0 {
                first_at = e.index_position;
            }
            missed += 1;
        }
    }
    Ok(if missed == 0 { Ok(()) } else { Err((missed, first_at)) })
}

/// What kind of tombstone a judgement was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TombstoneKind {
    /// A partition deletion.
    Partition,
    /// A row deletion.
    Row,
    /// A shadowable row deletion (materialized views).
    Shadowable,
    /// A range tombstone (counted at its opening bound).
    Range,
    /// A cell tombstone.
    Cell,
    /// A complex-column (collection, UDT) deletion.
    Complex,
    /// An expired TTL cell or row marker.
    ExpiredTtl,
}

/// What compaction does with one tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Not yet past gc_grace: kept.
    Young,
    /// Past gc_grace, but an SSTable outside the compaction may hold older data: kept.
    Overlap,
    /// Purged.
    Purge,
}

/// One tombstone judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judged {
    /// Its kind.
    pub kind: TombstoneKind,
    /// Its fate.
    pub fate: Fate,
    /// Its write time (µs).
    pub timestamp: i64,
    /// Its local deletion time as written (s): the expiry for an expired TTL, before any
    /// re-dating.
    pub local_deletion_time: i64,
}

/// One partition's decisions.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Tombstones purged.
    pub purged: u64,
    /// Tombstones kept as younger than gc_grace.
    pub young: u64,
    /// The smallest deletion time among those (s).
    pub young_min_ldt: Option<i64>,
    /// Tombstones past gc_grace kept for overlapping SSTables.
    pub overlap: u64,
    /// The newest write among those (µs): its blockers are the admitting SSTables at or older.
    pub overlap_max_ts: Option<i64>,
    /// The newest write among the tombstones purged (µs): what the filters of the SSTables
    /// that rejected the key vouched for ([`Overlaps::check_rejections`]).
    pub purged_max_ts: Option<i64>,
    /// Expired cells and markers kept (as tombstones).
    pub expired_kept: u64,
    /// Every judgement, in stream order (kept only when [`Purger::record`] is set).
    pub judged: Vec<Judged>,
}

/// Judges and purges the tombstones of one partition at a time.
#[derive(Debug, Clone)]
pub struct Purger {
    clock: PurgeClock,
    /// Timestamps below this may be purged in the current partition.
    max_purgeable: i64,
    /// Keep every judgement in [`Tally::judged`].
    pub record: bool,
    /// Tombstones purged over the purger's life.
    pub purged: u64,
    /// Tombstones kept for overlap over the purger's life.
    pub kept_for_overlap: u64,
    /// Tombstones kept as young over the purger's life.
    pub kept_young: u64,
    /// The current partition's decisions.
    pub tally: Tally,
}

impl Purger {
    /// A purger judging at `clock`.
    pub fn new(clock: PurgeClock) -> Purger {
        Purger {
            clock,
            max_purgeable: i64::MAX,
            record: false,
            purged: 0,
            kept_for_overlap: 0,
            kept_young: 0,
            tally: Tally::default(),
        }
    }

    /// The clock judged at.
    pub fn clock(&self) -> &PurgeClock {
        &self.clock
    }

    /// Start a partition: `admitting` are the SSTables outside the compaction whose filter
    /// admits its key. Returns the partition's previous tally.
    pub fn begin_partition(&mut self, admitting: &[&Outside]) -> Tally {
        self.max_purgeable = if self.clock.may_purge {
            admitting.iter().map(|o| o.min_timestamp).min().unwrap_or(i64::MAX)
        } else {
            i64::MIN
        };
        std::mem::take(&mut self.tally)
    }

    /// The fate of a tombstone written at `ts`, deleting from `ldt`.
    pub fn fate(&self, ts: i64, ldt: i64) -> Fate {
        if ldt >= self.clock.gc_before {
            Fate::Young
        } else if ts < self.max_purgeable {
            Fate::Purge
        } else {
            Fate::Overlap
        }
    }

    /// Count a final decision; true when the tombstone goes. `judged_ldt` is the deletion time
    /// the fate was reached at (re-dated for an expired cell), `ldt` the one written.
    fn decide(&mut self, kind: TombstoneKind, fate: Fate, ts: i64, ldt: i64, judged_ldt: i64) -> bool {
        let t = &mut self.tally;
        match fate {
            Fate::Purge => {
                self.purged += 1;
                t.purged += 1;
                t.purged_max_ts = Some(t.purged_max_ts.map_or(ts, |m| m.max(ts)));
            }
            Fate::Overlap => {
                self.kept_for_overlap += 1;
                t.overlap += 1;
                t.overlap_max_ts = Some(t.overlap_max_ts.map_or(ts, |m| m.max(ts)));
            }
            Fate::Young => {
                self.kept_young += 1;
                t.young += 1;
                t.young_min_ldt = Some(t.young_min_ldt.map_or(judged_ldt, |m| m.min(judged_ldt)));
            }
        }
        if self.record {
            t.judged.push(Judged { kind, fate, timestamp: ts, local_deletion_time: ldt });
        }
        fate == Fate::Purge
    }

    /// The deletion as compaction leaves it (live when purged), counted as `kind`.
    pub fn deletion(&mut self, d: DeletionTime, kind: TombstoneKind) -> DeletionTime {
        if d.is_live() {
            return d;
        }
        let (ts, ldt) = (d.marked_for_delete_at, d.local_deletion_time);
        let fate = self.fate(ts, ldt);
        if self.decide(kind, fate, ts, ldt, ldt) { DeletionTime::LIVE } else { d }
    }

    /// The closing side of a range: the same fate as the range it closes, not counted again.
    fn closing(&self, d: DeletionTime) -> DeletionTime {
        if d.is_live() || self.fate(d.marked_for_delete_at, d.local_deletion_time) == Fate::Purge {
            DeletionTime::LIVE
        } else {
            d
        }
    }

    /// The cell as compaction leaves it, or `None` when purged.
    pub fn cell(&mut self, c: &Cell) -> Option<Cell> {
        if c.is_live(self.clock.now_s) {
            return Some(*c);
        }
        if c.is_tombstone() {
            let fate = self.fate(c.timestamp, c.local_deletion_time);
            let ldt = c.local_deletion_time;
            return if self.decide(TombstoneKind::Cell, fate, c.timestamp, ldt, ldt) { None } else { Some(*c) };
        }
        // An expired cell goes when its expiry is purgeable; one that must stay becomes a
        // tombstone dated from its write, which may be purgeable in turn.
        let redated = c.local_deletion_time.saturating_sub(i64::from(c.ttl));
        let (fate, judged) = match self.fate(c.timestamp, c.local_deletion_time) {
            Fate::Purge => (Fate::Purge, c.local_deletion_time),
            _ => (self.fate(c.timestamp, redated), redated),
        };
        if self.decide(TombstoneKind::ExpiredTtl, fate, c.timestamp, c.local_deletion_time, judged) {
            return None;
        }
        self.tally.expired_kept += 1;
        Some(Cell {
            flags: (c.flags | cairn_format::data::CELL_IS_DELETED) & !cairn_format::data::CELL_IS_EXPIRING,
            ttl: 0,
            local_deletion_time: redated,
            ..*c
        })
    }

    /// Whether [`Purger::unfiltered`] would leave `u` exactly as it is, judging nothing: a row
    /// (or static row) with no row, shadowable or complex deletion, whose row marker has not
    /// expired, whose cells are all live at the clock's `now`, and which holds a marker or a
    /// cell. A reader may then use `u` itself instead of a purged copy.
    pub fn leaves_whole(&self, u: &Unfiltered) -> bool {
        let now = self.clock.now_s;
        let l = &u.liveness;
        !u.is_marker()
            && u.deletion.is_live()
            && u.shadowable_deletion.is_live()
            && u.complex_deletions.is_empty()
            && !l.is_expired(now)
            && (!l.is_empty() || !u.cells.is_empty())
            && u.cells.iter().all(|c| c.is_live(now))
    }

    /// `u` purged into `out`; false when nothing of it remains.
    pub fn unfiltered(&mut self, u: &Unfiltered, out: &mut Unfiltered) -> bool {
        if let UnfilteredKind::Marker(kind) = u.kind() {
            let close = if kind.is_close() { self.closing(u.close_deletion) } else { DeletionTime::LIVE };
            let open =
                if kind.is_open() { self.deletion(u.deletion, TombstoneKind::Range) } else { DeletionTime::LIVE };
            let kind = match (kind, close.is_live(), open.is_live()) {
                (_, true, true) => return false,
                (BoundKind::ExclEndInclStartBoundary, true, false) => BoundKind::InclStartBound,
                (BoundKind::ExclEndInclStartBoundary, false, true) => BoundKind::ExclEndBound,
                (BoundKind::InclEndExclStartBoundary, true, false) => BoundKind::ExclStartBound,
                (BoundKind::InclEndExclStartBoundary, false, true) => BoundKind::InclEndBound,
                (k, _, _) => k,
            };
            out.start(UnfilteredKind::Marker(kind), u.position);
            for i in 0..u.clustering.len() {
                out.push_clustering(u.clustering_value(i));
            }
            out.close_deletion = close;
            out.deletion = open;
            return true;
        }
        out.start(u.kind(), u.position);
        for i in 0..u.clustering.len() {
            out.push_clustering(u.clustering_value(i));
        }
        out.deletion = self.deletion(u.deletion, TombstoneKind::Row);
        out.shadowable_deletion = self.deletion(u.shadowable_deletion, TombstoneKind::Shadowable);
        let l = u.liveness;
        let expired = l.is_expired(self.clock.now_s);
        out.liveness = if !expired {
            l
        } else {
            let (ts, ldt) = (l.timestamp, l.local_expiration_time);
            let fate = self.fate(ts, ldt);
            if self.decide(TombstoneKind::ExpiredTtl, fate, ts, ldt, ldt) {
                LivenessInfo::EMPTY
            } else {
                self.tally.expired_kept += 1;
                l
            }
        };
        for d in &u.complex_deletions {
            let kept = self.deletion(d.deletion, TombstoneKind::Complex);
            if !kept.is_live() {
                out.complex_deletions.push(ComplexDeletion { column: d.column, deletion: kept });
            }
        }
        for c in &u.cells {
            if let Some(kept) = self.cell(c) {
                let value = if kept.is_tombstone() { &[][..] } else { u.value(c) };
                out.push_cell(kept.column, &kept, u.path(c), value);
            }
        }
        !(out.liveness.is_empty()
            && out.deletion.is_live()
            && out.shadowable_deletion.is_live()
            && out.complex_deletions.is_empty()
            && out.cells.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(now: i64, gc: i64) -> PurgeClock {
        PurgeClock { now_s: now, gc_grace: gc, gc_before: gc_before(now, gc), may_purge: true }
    }

    #[test]
    fn fates_follow_gc_before_and_the_oldest_admitting_sstable() {
        let mut p = Purger::new(clock(1_000, 100));
        let old =
            Outside { name: "a".into(), filter: None, min_timestamp: 50, table: None, checked: Default::default() };
        p.begin_partition(&[&old]);
        assert_eq!(p.fate(10, 900), Fate::Young, "deleted at gc_before exactly is young");
        assert_eq!(p.fate(10, 899), Fate::Purge, "written before the outside SSTable's oldest write");
        assert_eq!(p.fate(50, 899), Fate::Overlap, "written at the outside SSTable's oldest write");
        p.begin_partition(&[]);
        assert_eq!(p.fate(i64::MAX - 1, 0), Fate::Purge);
        let mut none = Purger::new(PurgeClock { may_purge: false, ..clock(1_000, 100) });
        none.begin_partition(&[]);
        assert_eq!(none.fate(0, 0), Fate::Overlap, "only_purge_repaired with an unrepaired input");
        assert!(none.clock.unrepaired() && !clock(1_000, 100).unrepaired());
        let split = PurgeClock { gc_before: i64::MIN, may_purge: false, ..clock(1_000, 100) };
        assert!(!split.unrepaired(), "sstablesplit keeps everything as younger than gc_grace");
    }

    #[test]
    fn a_row_left_whole_is_exactly_what_unfiltered_copies() {
        use cairn_format::data::{CELL_IS_DELETED, CELL_IS_EXPIRING, Span};
        use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
        use cairn_format::types::CqlType;
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Int,
            vec![CqlType::Int],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Int), HeaderColumn::new("w", CqlType::Int)],
        );
        let cell = |flags: u8, ttl: i32, ldt: i64| Cell {
            column: 0,
            flags,
            timestamp: 5,
            local_deletion_time: ldt,
            ttl,
            path: None,
            value: Span::default(),
        };
        let live = cell(0, 0, cairn_format::deletion::NO_DELETION_TIME);
        let row = |liveness: LivenessInfo, deletion: DeletionTime, cells: &[Cell]| {
            let mut u = Unfiltered::default();
            u.start(UnfilteredKind::Row, 40);
            u.push_clustering(Some(&7i32.to_be_bytes()));
            u.liveness = liveness;
            u.deletion = deletion;
            for (i, c) in cells.iter().enumerate() {
                let value: &[u8] = if c.is_tombstone() { b"" } else { b"val" };
                u.push_cell(i as u16, c, None, value);
            }
            u
        };
        let marker =
            LivenessInfo { timestamp: 5, ttl: cairn_format::deletion::NO_TTL, local_expiration_time: i64::MAX };
        let expiring = |at: i64| LivenessInfo { timestamp: 5, ttl: 10, local_expiration_time: at };
        let dead = DeletionTime { marked_for_delete_at: 9, local_deletion_time: 100 };
        let cases = [
            (row(marker, DeletionTime::LIVE, &[live, live]), true),
            (row(LivenessInfo::EMPTY, DeletionTime::LIVE, &[live]), true),
            (row(expiring(1_001), DeletionTime::LIVE, &[cell(CELL_IS_EXPIRING, 10, 1_001)]), true),
            (row(LivenessInfo::EMPTY, DeletionTime::LIVE, &[]), false),
            (row(expiring(1_000), DeletionTime::LIVE, &[live]), false),
            (row(marker, dead, &[live]), false),
            (row(marker, DeletionTime::LIVE, &[live, cell(CELL_IS_EXPIRING, 10, 1_000)]), false),
            (row(marker, DeletionTime::LIVE, &[cell(CELL_IS_DELETED, 0, 950)]), false),
        ];
        for (n, (u, whole)) in cases.iter().enumerate() {
            let mut p = Purger::new(clock(1_000, 100));
            p.record = true;
            p.begin_partition(&[]);
            assert_eq!(p.leaves_whole(u), *whole, "case {n}");
            if *whole {
                let mut out = Unfiltered::default();
                assert!(p.unfiltered(u, &mut out), "case {n}");
                let hash = |r: &Unfiltered| cairn_format::merkle::row_hash(&header, r);
                assert_eq!(hash(&out), hash(u), "case {n}");
                assert_eq!((out.position, out.liveness, out.cells.len()), (u.position, u.liveness, u.cells.len()));
                assert_eq!(p.begin_partition(&[]).judged, vec![], "case {n}: nothing judged");
            }
        }
        let mut m = Unfiltered::default();
        m.start(UnfilteredKind::Marker(BoundKind::InclStartBound), 0);
        m.deletion = dead;
        assert!(!Purger::new(clock(1_000, 100)).leaves_whole(&m), "a marker is always judged");
    }

    #[test]
    fn an_expired_cell_that_cannot_go_at_expiry_is_redated_to_its_write() {
        use cairn_format::data::CELL_IS_EXPIRING;
        // Written at 600 with TTL 350: expires at 950, younger than gc_before 900; re-dated to
        // 600 it is past gc_grace and goes.
        let cell = Cell {
            flags: CELL_IS_EXPIRING,
            column: 0,
            timestamp: 1,
            ttl: 350,
            local_deletion_time: 950,
            path: None,
            value: cairn_format::data::Span::default(),
        };
        let mut p = Purger::new(clock(1_000, 100));
        p.record = true;
        p.begin_partition(&[]);
        assert_eq!(p.cell(&cell), None);
        let judged = p.begin_partition(&[]).judged;
        assert_eq!(
            judged,
            vec![Judged { kind: TombstoneKind::ExpiredTtl, fate: Fate::Purge, timestamp: 1, local_deletion_time: 950 }]
        );
        // With a longer gc_grace the re-dated tombstone stays, as a tombstone at 600.
        let mut p = Purger::new(clock(1_000, 1_000));
        p.begin_partition(&[]);
        let kept = p.cell(&cell).expect("kept");
        assert!(kept.is_tombstone() && kept.local_deletion_time == 600 && kept.ttl == 0);
        assert_eq!((p.kept_young, p.tally.expired_kept), (1, 1));
    }
}
