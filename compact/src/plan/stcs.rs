//! **STCS** (`db/compaction/SizeTieredCompactionStrategy.java`) sorts SSTables by Data.db size
//! and groups them in buckets: a file joins the first bucket whose average it lies strictly
//! within `(avg × bucket_low, avg × bucket_high)`, or any bucket when both are below
//! `min_sstable_size`. Cassandra keeps buckets in a `HashMap<Long, List>` keyed by average size,
//! and the order in which it tries them decides ties; that iteration order is reproduced here
//! (`java_hash_map`). Buckets with at least `min_threshold` SSTables are trimmed to
//! `max_threshold` and the one with the largest average size wins (hotness breaks ties first in
//! Cassandra, but read meters live in a running node's `system.sstable_activity`; offline every
//! SSTable is equally cold). Without such a bucket, the largest SSTable worth a tombstone
//! compaction is rewritten alone.
//!
//! LCS size-tiers L0 and TWCS the newest window with the same buckets.

use super::java_hash_map::JavaLongMap;
use super::{ChooseTask, Ctx, GroupPlan, Task, TaskKind, Tier, empty_group, human_bytes, sorted_by_gen};

/// SizeTieredCompactionStrategy.
pub(super) struct SizeTiered;

impl ChooseTask for SizeTiered {
    fn choose(&self, ctx: &Ctx<'_>, members: &[usize]) -> GroupPlan {
        ctx.stcs(members)
    }
}

impl Ctx<'_> {
    /// `SizeTieredCompactionStrategy.getBuckets`, in the order Cassandra's `HashMap` yields them.
    pub(super) fn stcs_buckets(&self, members: &[usize]) -> Vec<Vec<usize>> {
        let mut sorted = members.to_vec();
        sorted.sort_by_key(|&i| self.f(i).data_bytes);
        let mut map = JavaLongMap::default();
        'outer: for i in sorted {
            let size = self.f(i).data_bytes as i64;
            let min = self.o.min_sstable_size as i64;
            for (avg, bucket) in map.iter_ordered() {
                if ((size as f64) > (avg as f64) * self.o.bucket_low
                    && (size as f64) < (avg as f64) * self.o.bucket_high)
                    || (size < min && avg < min)
                {
                    let mut bucket = bucket.clone();
                    map.remove(avg);
                    let n = bucket.len() as i64;
                    let new_avg = (n * avg + size) / (n + 1);
                    bucket.push(i);
                    map.put(new_avg, bucket);
                    continue 'outer;
                }
            }
            map.put(size, vec![i]);
        }
        map.iter_ordered().into_iter().map(|(_, b)| b.clone()).collect()
    }

    /// `SizeTieredCompactionStrategy.mostInterestingBucket` (every SSTable equally cold).
    pub(super) fn stcs_most_interesting(&self, buckets: &[Vec<usize>]) -> Option<Vec<usize>> {
        let mut best: Option<(u64, Vec<usize>)> = None;
        for b in buckets {
            let trimmed: Vec<usize> = b.iter().copied().take(self.o.max_threshold).collect();
            if trimmed.len() < self.o.min_threshold {
                continue;
            }
            let avg = trimmed.iter().map(|&i| self.f(i).bytes_on_disk).sum::<u64>() / trimmed.len() as u64;
            // Collections.max keeps the first of equals; the larger average wins ties of hotness.
            if best.as_ref().is_none_or(|(a, _)| avg > *a) {
                best = Some((avg, trimmed));
            }
        }
        best.map(|(_, b)| b)
    }

    fn stcs_estimated_tasks(&self, buckets: &[Vec<usize>]) -> u64 {
        buckets
            .iter()
            .filter(|b| b.len() >= self.o.min_threshold)
            .map(|b| b.len().div_ceil(self.o.max_threshold) as u64)
            .sum()
    }

    fn stcs(&self, members: &[usize]) -> GroupPlan {
        let mut g = empty_group();
        let buckets = self.stcs_buckets(members);
        let chosen = self.stcs_most_interesting(&buckets);
        g.estimated_remaining_tasks = self.stcs_estimated_tasks(&buckets);
        for (n, b) in buckets.iter().enumerate() {
            let avg = self.total_data(b) / b.len().max(1) as u64;
            let note = if chosen.as_ref().is_some_and(|c| c.first().is_some_and(|x| b.contains(x))) {
                format!(
                    "chosen: {} SSTables of similar size (average {})",
                    b.len().min(self.o.max_threshold),
                    human_bytes(avg)
                )
            } else if b.len() < self.o.min_threshold {
                format!("{} SSTable(s), below min_threshold {}", b.len(), self.o.min_threshold)
            } else {
                format!(
                    "{} SSTables (average {}), waits: a bucket of larger files goes first",
                    b.len(),
                    human_bytes(avg)
                )
            };
            g.tiers.push(Tier { label: format!("bucket {}", n + 1), members: sorted_by_gen(b), note });
        }
        g.task = match chosen {
            Some(c) => Some(Task {
                kind: TaskKind::Compaction,
                reason: format!(
                    "{} similarly sized SSTables (min_threshold {}, max_threshold {}, bucket {}..{} of the average, files under {} grouped together)",
                    c.len(),
                    self.o.min_threshold,
                    self.o.max_threshold,
                    self.o.bucket_low,
                    self.o.bucket_high,
                    human_bytes(self.o.min_sstable_size)
                ),
                sstables: sorted_by_gen(&c),
                expired: vec![],
                level: None,
                max_sstable_bytes: None,
            }),
            None => {
                // Cassandra: the largest SSTable worth a tombstone compaction.
                let mut best: Option<usize> = None;
                for &i in members {
                    if self.worth_dropping_tombstones(i)
                        && best.is_none_or(|b| self.f(i).data_bytes > self.f(b).data_bytes)
                    {
                        best = Some(i);
                    }
                }
                best.map(|i| self.tombstone_task(i, None))
            }
        };
        if g.task.is_none() {
            let largest = buckets.iter().map(Vec::len).max().unwrap_or(0);
            g.idle = Some(format!(
                "the largest bucket of similar sizes has {largest} SSTable(s), min_threshold is {}; {}",
                self.o.min_threshold,
                self.no_tombstone_compaction(members)
            ));
        }
        g
    }
}
