//! **TWCS** (`TimeWindowCompactionStrategy.java`) drops fully expired SSTables (every cell
//! expired past gc_grace and no older live data overlapping them, unless
//! `unsafe_aggressive_sstable_expiration`; `CompactionController.getFullyExpiredSSTables`),
//! groups the rest in windows of their max timestamp, size-tiers the newest window when it
//! reaches `min_threshold`, and otherwise compacts the newest older window holding two or more
//! SSTables (the smallest `max_threshold`). Tombstone compactions are off unless
//! `tombstone_threshold` or `tombstone_compaction_interval` is given.

use super::render::iso_minutes;
use super::{ChooseTask, Ctx, GroupPlan, Task, TaskKind, Tier, empty_group, sorted_by_gen};

/// TimeWindowCompactionStrategy.
pub(super) struct TimeWindow;

impl ChooseTask for TimeWindow {
    fn choose(&self, ctx: &Ctx<'_>, members: &[usize]) -> GroupPlan {
        ctx.twcs(members)
    }
}

impl Ctx<'_> {
    /// The lower bound (ms) of the window holding a timestamp (`getWindowBoundsInMillis`).
    fn window_of(&self, ts: i64) -> i64 {
        let secs = self.o.timestamp_resolution.to_millis(ts) / 1000;
        let width = self.o.window_unit.seconds() * self.o.window_size;
        (secs - secs % width).saturating_mul(1000)
    }

    fn twcs(&self, members: &[usize]) -> GroupPlan {
        let mut g = empty_group();
        let overlapping: Vec<usize> = if self.o.unsafe_aggressive_sstable_expiration {
            vec![]
        } else {
            (0..self.all.len())
                .filter(|j| !members.contains(j) && members.iter().any(|&m| self.f(*j).overlaps(self.f(m))))
                .collect()
        };
        let expired = self.fully_expired(members, &overlapping, self.o.unsafe_aggressive_sstable_expiration);
        let live: Vec<usize> = members.iter().copied().filter(|i| !expired.contains(i)).collect();
        // Windows by max timestamp; the newest window seen is "now".
        let mut windows: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
        let mut highest = 0i64;
        for &i in &live {
            let w = self.window_of(self.f(i).max_timestamp);
            windows.entry(w).or_default().push(i);
            highest = highest.max(w);
        }
        // TimeWindowCompactionStrategy.newestBucket's count: one task per compactable window,
        // more where a window holds well over max_threshold SSTables.
        let tasks_for = |n: usize| -> u64 {
            let remaining = n as f64 - self.o.max_threshold as f64;
            1 + if remaining > self.o.min_threshold as f64 {
                (remaining / self.o.max_threshold as f64).ceil() as u64
            } else {
                0
            }
        };
        g.estimated_remaining_tasks = windows
            .iter()
            .filter(|(k, b)| {
                if **k >= highest {
                    b.len() >= self.o.min_threshold && self.stcs_most_interesting(&self.stcs_buckets(b)).is_some()
                } else {
                    b.len() >= 2
                }
            })
            .map(|(_, b)| tasks_for(b.len()))
            .sum();
        let mut chosen: Option<(i64, Vec<usize>, String)> = None;
        for (&key, bucket) in windows.iter().rev() {
            let note;
            if key >= highest && bucket.len() >= self.o.min_threshold {
                let stcs = self.stcs_most_interesting(&self.stcs_buckets(bucket));
                match stcs {
                    Some(c) if chosen.is_none() => {
                        note = format!("newest window: size-tiered, {} SSTables of similar size chosen", c.len());
                        chosen = Some((
                            key,
                            c,
                            format!(
                                "the newest window holds {} SSTables (min_threshold {}): the most similar in size compact",
                                bucket.len(),
                                self.o.min_threshold
                            ),
                        ));
                    }
                    Some(_) => note = "newest window: compactable".to_string(),
                    None => note = "newest window: no bucket of similar sizes reaches min_threshold".to_string(),
                }
            } else if key < highest && bucket.len() >= 2 {
                if chosen.is_none() {
                    let mut b = bucket.clone();
                    b.sort_by_key(|&i| (self.f(i).data_bytes, self.f(i).descriptor.id.clone()));
                    b.truncate(self.o.max_threshold);
                    note = format!("older window with {} SSTables: compacted into one", bucket.len());
                    chosen = Some((
                        key,
                        b,
                        format!(
                            "window {} is past and holds {} SSTables: compacted into one (the smallest {} at most)",
                            iso_minutes(key),
                            bucket.len(),
                            self.o.max_threshold
                        ),
                    ));
                } else {
                    note = format!("older window with {} SSTables: compacts after the newer ones", bucket.len());
                }
            } else if key >= highest {
                note =
                    format!("newest window: {} SSTable(s), below min_threshold {}", bucket.len(), self.o.min_threshold);
            } else {
                note = "older window: one SSTable, done".to_string();
            }
            g.tiers.push(Tier { label: format!("window {}", iso_minutes(key)), members: sorted_by_gen(bucket), note });
        }
        if !expired.is_empty() {
            g.tiers.push(Tier {
                label: "fully expired".into(),
                members: sorted_by_gen(&expired),
                note: "every cell expired or deleted before gc_before, and no overlapping SSTable holds older live data: dropped whole".into(),
            });
        }
        let mut task = match chosen {
            Some((_, c, reason)) => Some(Task {
                kind: TaskKind::Compaction,
                sstables: sorted_by_gen(&c),
                expired: vec![],
                level: None,
                max_sstable_bytes: None,
                reason,
            }),
            None => {
                // The smallest SSTable worth a tombstone compaction.
                let mut best: Option<usize> = None;
                for &i in &live {
                    if self.worth_dropping_tombstones(i)
                        && best.is_none_or(|b| self.f(i).data_bytes < self.f(b).data_bytes)
                    {
                        best = Some(i);
                    }
                }
                best.map(|i| self.tombstone_task(i, None))
            }
        };
        if !expired.is_empty() {
            let t = task.get_or_insert_with(|| Task {
                kind: TaskKind::ExpiredOnly,
                sstables: vec![],
                expired: vec![],
                level: None,
                max_sstable_bytes: None,
                reason: "fully expired SSTables are dropped".into(),
            });
            t.sstables.extend(expired.iter().copied());
            t.sstables = sorted_by_gen(&t.sstables);
            t.expired = sorted_by_gen(&expired);
        }
        if task.is_none() {
            let newest = windows.get(&highest).map_or(0, Vec::len);
            let newest_why = if newest >= self.o.min_threshold {
                format!(
                    "the newest window holds {newest} SSTables but no bucket of similar sizes among them reaches min_threshold {}",
                    self.o.min_threshold
                )
            } else {
                format!("the newest window holds {newest} SSTable(s), min_threshold is {}", self.o.min_threshold)
            };
            g.idle = Some(format!(
                "{newest_why}; every older window holds one SSTable (a past window compacts at 2); {}",
                self.no_tombstone_compaction(&live)
            ));
        }
        g.task = task;
        g
    }
}
