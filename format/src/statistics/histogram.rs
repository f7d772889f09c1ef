//! The two histograms of the STATS component, read and written.
//!
//! * [`EstimatedHistogram`] (Cassandra `utils/EstimatedHistogram.java`, serializer
//!   `EstimatedHistogramSerializer`): partition sizes and cells per partition over fixed
//!   bucket bounds growing by 1.2.
//! * [`TombstoneHistogram`] (Cassandra `utils/streamhist/TombstoneHistogram.java` and
//!   `StreamingTombstoneHistogramBuilder.java`): local deletion times, rounded up to the minute,
//!   in at most `max_bins` bins.
//!
//! ```text
//! EstimatedHistogram:  i32 N · N x (i64 offset, i64 count)
//! TombstoneHistogram:  i32 max bins · i32 N · N x (f64 point, i64 count)     before oa
//!                      i32 N        · i32 N · N x (i64 point, i32 count)     oa
//! ```

use crate::codec::Cursor;
use crate::error::DecodeError;
use crate::version::Version;

/// Estimated histogram (Cassandra `utils/EstimatedHistogram.java`): bucket offsets and counts.
///
/// On disk: i32 N, then N x (i64 offset, i64 count), where pair 0 and pair 1 both carry the first
/// offset and the last pair is the overflow bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstimatedHistogram {
    /// Upper bound of each bucket (the overflow bucket repeats the last offset).
    pub offsets: Vec<i64>,
    /// Count of each bucket.
    pub counts: Vec<i64>,
}

impl EstimatedHistogram {
    pub(super) fn read(c: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let n = c.len_i32("histogram size", c.remaining() / 16)?;
        let mut offsets = Vec::with_capacity(n);
        let mut counts = Vec::with_capacity(n);
        for _ in 0..n {
            offsets.push(c.i64()?);
            counts.push(c.i64()?);
        }
        Ok(EstimatedHistogram { offsets, counts })
    }

    /// The bucket bounds Cassandra generates for `n` buckets (1, 2, 3, ... growing by 1.2).
    pub fn bucket_offsets(n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let mut last = 1i64;
        out.push(last);
        for _ in 1..n {
            let mut next = (last as f64 * 1.2).round() as i64;
            if next == last {
                next += 1;
            }
            out.push(next);
            last = next;
        }
        out
    }

    /// The upper bound of bucket `i` (pairs 0 and 1 share the first offset; bucket `i` ≥ 1 ends at
    /// `offsets[i]` of the generated series, which the file stores in pair `i + 1`).
    fn upper(&self, i: usize) -> i64 {
        // Stored pair i carries o_{i-1} for i >= 1, and pair 0 carries o_0; bucket i's bound is o_i,
        // which is stored in pair i+1 (the overflow pair repeats the last bound).
        self.offsets.get(i + 1).copied().or_else(|| self.offsets.last().copied()).unwrap_or(0)
    }

    /// Counts without the overflow bucket (Cassandra clears it on load).
    fn buckets(&self) -> &[i64] {
        self.counts.split_last().map_or(&[], |(_, rest)| rest)
    }

    /// Total count (without overflow).
    pub fn count(&self) -> i64 {
        self.buckets().iter().sum()
    }

    /// Whether the overflow bucket holds anything.
    pub fn overflowed(&self) -> bool {
        self.counts.last().is_some_and(|&c| c > 0)
    }

    /// Smallest recorded value's bucket lower bound (+1), 0 when empty.
    pub fn min(&self) -> i64 {
        match self.buckets().iter().position(|&c| c > 0) {
            None | Some(0) => 0,
            Some(i) => self.upper(i - 1) + 1,
        }
    }

    /// The least the recorded values can add up to: each at its bucket's lower bound (bucket
    /// `i` holds the values above bucket `i - 1`'s bound, up to its own).
    pub fn lower_bound_sum(&self) -> u64 {
        let at_least = |i: usize| if i == 0 { 0 } else { self.upper(i - 1).saturating_add(1) };
        self.buckets()
            .iter()
            .enumerate()
            .map(|(i, &c)| u64::try_from(c).unwrap_or(0).saturating_mul(u64::try_from(at_least(i)).unwrap_or(0)))
            .fold(0, u64::saturating_add)
    }

    /// Largest recorded value's bucket bound, 0 when empty.
    pub fn max(&self) -> i64 {
        self.buckets().iter().rposition(|&c| c > 0).map_or(0, |i| self.upper(i))
    }

    /// The bucket bound at quantile `q` (0..1).
    pub fn percentile(&self, q: f64) -> i64 {
        let pc = (self.count() as f64 * q).ceil() as i64;
        if pc == 0 {
            return 0;
        }
        let mut running = 0;
        for (i, &c) in self.buckets().iter().enumerate() {
            running += c;
            if running >= pc {
                return self.upper(i);
            }
        }
        0
    }

    /// Mean, rounded up as Cassandra does (`(long) ceil(rawMean)`).
    pub fn mean(&self) -> i64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let sum: i128 =
            self.buckets().iter().enumerate().map(|(i, &c)| i128::from(c) * i128::from(self.upper(i))).sum();
        (sum as f64 / n as f64).ceil() as i64
    }
}

/// Tombstone drop-time histogram: (local deletion time rounded up to a minute, count) bins.
#[derive(Debug, Clone, PartialEq)]
pub struct TombstoneHistogram {
    /// Max bins the writer used (informational).
    pub max_bins: i32,
    /// Sorted (point, count) bins.
    pub bins: Vec<(i64, i64)>,
}

impl TombstoneHistogram {
    /// Estimated number of values at or below `b`, with the trapezoid interpolation of the
    /// streaming histogram (Cassandra `utils/streamhist/TombstoneHistogram.sum`).
    pub fn sum(&self, b: i64) -> f64 {
        let mut total = 0f64;
        let mut prev: Option<(i64, i64)> = None;
        for &(p, m) in &self.bins {
            if p > b {
                let Some((pp, pm)) = prev else { return 0.0 };
                let w = (b - pp) as f64 / (p - pp) as f64;
                let mb = pm as f64 + (m - pm) as f64 * w;
                return total - pm as f64 + (pm as f64 + mb) * w / 2.0 + pm as f64 / 2.0;
            }
            total += m as f64;
            prev = Some((p, m));
        }
        total
    }

    /// Total number of values.
    pub fn total(&self) -> i64 {
        self.bins.iter().map(|b| b.1).sum()
    }
}

impl EstimatedHistogram {
    /// An empty histogram with Cassandra's `n` bucket bounds (n + 1 stored pairs).
    pub fn new(n: usize) -> Self {
        let bounds = Self::bucket_offsets(n);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(bounds.first().copied().unwrap_or(1));
        offsets.extend_from_slice(&bounds);
        EstimatedHistogram { offsets, counts: vec![0; n + 1] }
    }

    /// Count one value: the first bucket whose bound is at least `v` (or the overflow bucket).
    pub fn add(&mut self, v: i64) {
        let bounds = self.offsets.get(1..).unwrap_or_default();
        let i = bounds.partition_point(|&b| b < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.counts.len() as i32).to_be_bytes());
        for (o, c) in self.offsets.iter().zip(&self.counts) {
            out.extend_from_slice(&o.to_be_bytes());
            out.extend_from_slice(&c.to_be_bytes());
        }
    }
}

impl TombstoneHistogram {
    /// An empty histogram holding at most `max_bins` bins.
    pub fn new(max_bins: i32) -> Self {
        TombstoneHistogram { max_bins, bins: Vec::new() }
    }

    /// Record a local deletion time, rounded up to a whole minute
    /// (Cassandra `StreamingTombstoneHistogramBuilder`, `roundSeconds` 60); when there are more
    /// than `max_bins` points, the two closest merge into their count-weighted mean.
    pub fn update(&mut self, ldt: i64) {
        let p = round_up(ldt, 60);
        match self.bins.binary_search_by_key(&p, |b| b.0) {
            Ok(i) => {
                if let Some(b) = self.bins.get_mut(i) {
                    b.1 += 1;
                }
            }
            Err(i) => self.bins.insert(i, (p, 1)),
        }
        while self.bins.len() > self.max_bins.max(1) as usize {
            let mut best = 0;
            let mut gap = i64::MAX;
            for (i, w) in self.bins.windows(2).enumerate() {
                if let [a, b] = w
                    && b.0 - a.0 < gap
                {
                    gap = b.0 - a.0;
                    best = i;
                }
            }
            let (Some(&(p1, c1)), Some(&(p2, c2))) = (self.bins.get(best), self.bins.get(best + 1)) else { break };
            let merged =
                round_up(((p1 as i128 * c1 as i128 + p2 as i128 * c2 as i128) / (c1 + c2).max(1) as i128) as i64, 60);
            self.bins.remove(best + 1);
            if let Some(b) = self.bins.get_mut(best) {
                *b = (merged, c1 + c2);
            }
        }
    }

    pub(super) fn write(&self, out: &mut Vec<u8>, version: Version) {
        if version.has_uint_deletion_time() {
            out.extend_from_slice(&(self.bins.len() as i32).to_be_bytes());
            out.extend_from_slice(&(self.bins.len() as i32).to_be_bytes());
            for (p, c) in &self.bins {
                out.extend_from_slice(&p.to_be_bytes());
                out.extend_from_slice(&(*c as i32).to_be_bytes());
            }
        } else {
            // 3.x writes the configured maximum (100), 4.0+ the bin count: `max_bins` holds
            // whichever the writer stores.
            out.extend_from_slice(&self.max_bins.to_be_bytes());
            out.extend_from_slice(&(self.bins.len() as i32).to_be_bytes());
            for (p, c) in &self.bins {
                out.extend_from_slice(&(*p as f64).to_be_bytes());
                out.extend_from_slice(&c.to_be_bytes());
            }
        }
    }
}

fn round_up(v: i64, unit: i64) -> i64 {
    let r = v.rem_euclid(unit);
    if r == 0 { v } else { v.saturating_add(unit - r) }
}
