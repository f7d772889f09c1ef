//! The ranges of the timestamps, local deletion times and TTLs a table's data holds, held
//! against Statistics.db's record of them (`StatsMetadata`: Cassandra's `MetadataCollector`
//! records every timestamp, deletion time and TTL its writer writes).
//!
//! Data.db stores these values as deltas from the serialization header's encoding statistics,
//! so a damaged header (an `mc`/`md`/`me` Statistics.db has no checksum) shifts every one of
//! them while each row still decodes: rows come back with the wrong write times, or expired.
//! Every value a scan decodes must lie within the recorded range; a scan that reaches the end
//! of the data checks that ([`crate::data::scanner::Scanner`]), and any subset of the data
//! must pass, so a scan that started past byte 0 checks too.
//!
//! What counts: every timestamp (row liveness, cells, every kind of deletion); the local
//! deletion time of deletions, tombstone cells and expiring cells and markers (their expiry);
//! the TTL of expiring cells and markers. Live values without one (`NO_DELETION_TIME`, TTL 0)
//! are left out: they are in Cassandra's record too, but say nothing about the header.

use crate::data::{
    CELL_IS_DELETED, CELL_IS_EXPIRING, HAS_DELETION, HAS_SCYLLA_SHADOWABLE_DELETION, HAS_SHADOWABLE_DELETION,
    IS_MARKER, Unfiltered,
};
use crate::deletion::{DeletionTime, NO_TIMESTAMP, NO_TTL};
use crate::error::Mismatch;
use crate::statistics::StatsMetadata;

/// One kind of value: the smallest and largest seen (`lo > hi` while none is).
#[derive(Debug, Clone, Copy)]
struct Range {
    lo: i64,
    hi: i64,
}

impl Default for Range {
    fn default() -> Self {
        Range { lo: i64::MAX, hi: i64::MIN }
    }
}

impl Range {
    #[inline(always)]
    fn widen(&mut self, v: i64) {
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
    }

    /// The disagreement with the recorded `[min, max]`, if any value lies outside it.
    fn outside(&self, what: &'static str, min: i64, max: i64) -> Option<Mismatch> {
        (self.lo <= self.hi && (self.lo < min || self.hi > max)).then_some(Mismatch::OutsideRecordedRange {
            what,
            low: self.lo,
            high: self.hi,
            min,
            max,
        })
    }
}

/// What a scan has seen so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValueRanges {
    timestamps: Range,
    deletion_times: Range,
    ttls: Range,
}

impl ValueRanges {
    /// Count a deletion (a live one holds nothing).
    #[inline(always)]
    pub fn deletion(&mut self, d: &DeletionTime) {
        if !d.is_live() {
            self.timestamps.widen(d.marked_for_delete_at);
            self.deletion_times.widen(d.local_deletion_time);
        }
    }

    /// Count a row or range tombstone marker, as the scanner decoded it (its flags say which
    /// deletions it carries, so that the common row, which has none, costs one test).
    #[inline(always)]
    pub fn unfiltered(&mut self, u: &Unfiltered) {
        let l = &u.liveness;
        if l.timestamp != NO_TIMESTAMP {
            self.timestamps.widen(l.timestamp);
            if l.ttl != NO_TTL {
                self.ttls.widen(i64::from(l.ttl));
                self.deletion_times.widen(l.local_expiration_time);
            }
        }
        let deletions = u.flags & (IS_MARKER | HAS_DELETION) != 0
            || u.ext_flags & (HAS_SHADOWABLE_DELETION | HAS_SCYLLA_SHADOWABLE_DELETION) != 0
            || !u.complex_deletions.is_empty();
        if deletions {
            self.deletion(&u.deletion);
            self.deletion(&u.shadowable_deletion);
            self.deletion(&u.close_deletion);
            for c in &u.complex_deletions {
                self.deletion(&c.deletion);
            }
        }
        for c in &u.cells {
            self.timestamps.widen(c.timestamp);
            // A cell taking the row's TTL (CELL_USE_ROW_TTL) has the marker's, counted above.
            if c.flags & (CELL_IS_DELETED | CELL_IS_EXPIRING) != 0 {
                self.deletion_times.widen(c.local_deletion_time);
                if c.flags & CELL_IS_DELETED == 0 {
                    self.ttls.widen(i64::from(c.ttl));
                }
            }
        }
    }

    /// The first kind of value that lies outside `recorded`.
    pub fn outside(&self, recorded: &Recorded) -> Option<Mismatch> {
        let Recorded { timestamps: (t0, t1), deletion_times: (d0, d1), ttls: (l0, l1) } = *recorded;
        self.timestamps
            .outside("timestamps", t0, t1)
            .or_else(|| self.deletion_times.outside("local deletion times", d0, d1))
            .or_else(|| self.ttls.outside("TTLs", l0, l1))
    }
}

/// Statistics.db's record of the ranges (smallest, largest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Timestamps (µs).
    pub timestamps: (i64, i64),
    /// Local deletion times (s).
    pub deletion_times: (i64, i64),
    /// TTLs (s).
    pub ttls: (i64, i64),
}

impl Recorded {
    /// The ranges `stats` records.
    pub fn of(stats: &StatsMetadata) -> Recorded {
        Recorded {
            timestamps: (stats.min_timestamp, stats.max_timestamp),
            deletion_times: (stats.min_local_deletion_time, stats.max_local_deletion_time),
            ttls: (i64::from(stats.min_ttl), i64::from(stats.max_ttl)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_record_are_named_and_live_ones_do_not_count() {
        let mut seen = ValueRanges::default();
        seen.deletion(&DeletionTime::LIVE);
        let stats = Recorded { timestamps: (100, 200), deletion_times: (10, 20), ttls: (0, 0) };
        assert!(seen.outside(&stats).is_none(), "nothing seen, nothing outside");
        seen.deletion(&DeletionTime { marked_for_delete_at: 150, local_deletion_time: 15 });
        assert!(seen.outside(&stats).is_none());
        seen.deletion(&DeletionTime { marked_for_delete_at: 201, local_deletion_time: 15 });
        match seen.outside(&stats) {
            Some(Mismatch::OutsideRecordedRange { what: "timestamps", low: 150, high: 201, min: 100, max: 200 }) => {}
            m => panic!("{m:?}"),
        }
    }
}
