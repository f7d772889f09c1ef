//! **LCS** (`LeveledManifest.java`, `LeveledCompactionStrategy.java`) reads levels from
//! Statistics.db (an SSTable overlapping a neighbour in its level is sent to L0, as Cassandra
//! does on start-up), scores levels 8…1 by bytes over `fanout^level × sstable_size_in_mb`,
//! compacts the first level scoring above 1.001 (one SSTable, resuming after the newest SSTable
//! of the next level, with everything it overlaps there), does size-tiering in L0 first when L0
//! holds more than 32 SSTables, and otherwise compacts L0 (oldest first, overlaps pulled in, at
//! most `max_threshold`, with the L1 files it overlaps once it exceeds one SSTable's worth).
//! Without any of those, `findDroppableSSTable` looks for a tombstone compaction, highest level
//! first.

use super::{ChooseTask, Ctx, GroupPlan, Task, TaskKind, Tier, empty_group, human_bytes, short_name, sorted_by_gen};

/// L0 size above which LCS size-tiers L0 first (`LeveledManifest.MAX_COMPACTING_L0`).
pub const MAX_COMPACTING_L0: usize = 32;
/// Levels LCS keeps (`LeveledGenerations.MAX_LEVEL_COUNT`).
pub const LEVEL_COUNT: usize = 9;

/// LeveledCompactionStrategy.
pub(super) struct Leveled;

impl ChooseTask for Leveled {
    fn choose(&self, ctx: &Ctx<'_>, members: &[usize]) -> GroupPlan {
        ctx.lcs(members)
    }
}

impl Ctx<'_> {
    fn lcs(&self, members: &[usize]) -> GroupPlan {
        let mut g = empty_group();
        let mut levels: Vec<Vec<usize>> = vec![Vec::new(); LEVEL_COUNT];
        let mut by_first = members.to_vec();
        by_first.sort_by(|&a, &b| self.f(a).first_key_order(self.f(b)));
        for i in by_first {
            let level = usize::try_from(self.f(i).level).unwrap_or(0).min(LEVEL_COUNT - 1);
            let lv = levels.get_mut(level).map(|l| (l.last().copied(), l));
            if let Some((prev, lv)) = lv {
                if level > 0
                    && let Some(p) = prev
                    && self.f(p).last >= self.f(i).first
                {
                    g.notes.push(format!(
                        "{} is marked L{level} but overlaps {} there: Cassandra sends it to L0",
                        short_name(&self.f(i).descriptor),
                        short_name(&self.f(p).descriptor)
                    ));
                } else {
                    lv.push(i);
                    continue;
                }
            }
            if let Some(l0) = levels.first_mut() {
                l0.push(i);
            }
        }
        let level = |n: usize| levels.get(n).map_or(&[][..], Vec::as_slice);
        // The level each SSTable is in now (after any demotion to L0).
        let effective = |i: usize| -> i32 { levels.iter().position(|l| l.contains(&i)).unwrap_or(0) as i32 };
        let max_bytes = self.o.max_sstable_bytes();
        // Size-tiering in L0 when L0 fell behind.
        let l0 = level(0);
        let l0_stcs = if l0.len() > MAX_COMPACTING_L0 {
            self.stcs_most_interesting(&self.stcs_buckets(l0)).map(|c| Task {
                kind: TaskKind::SizeTieredInL0,
                reason: format!(
                    "L0 holds {} SSTables (more than {MAX_COMPACTING_L0}): size-tiering there first",
                    l0.len()
                ),
                sstables: sorted_by_gen(&c),
                expired: vec![],
                level: Some(0),
                max_sstable_bytes: None,
            })
        } else {
            None
        };
        // Estimated tasks (LeveledManifest.getEstimatedTasks).
        let mut tasks = 0u64;
        for n in 0..LEVEL_COUNT {
            let over = self.total_data(level(n)) as f64 - (self.o.max_bytes_for_level(n) * 1.001).floor();
            tasks += (over.max(0.0) / max_bytes as f64).ceil() as u64;
        }
        if l0.len() > self.o.max_threshold {
            tasks += (l0.len() / self.o.max_threshold) as u64;
        }
        g.estimated_remaining_tasks = tasks;
        for n in 0..LEVEL_COUNT {
            let lv = level(n);
            if lv.is_empty() {
                continue;
            }
            let bytes = self.total_data(lv);
            let score = bytes as f64 / self.o.max_bytes_for_level(n);
            g.tiers.push(Tier {
                label: format!("L{n}"),
                members: lv.to_vec(),
                note: format!(
                    "{} SSTables, {} of {} (score {:.3})",
                    lv.len(),
                    human_bytes(bytes),
                    human_bytes(self.o.max_bytes_for_level(n) as u64),
                    score
                ),
            });
        }
        let mut task = None;
        for n in (1..LEVEL_COUNT).rev() {
            let lv = level(n);
            if lv.is_empty() {
                continue;
            }
            let score = self.total_data(lv) as f64 / self.o.max_bytes_for_level(n);
            if score <= 1.001 {
                continue;
            }
            if n == LEVEL_COUNT - 1 {
                g.notes.push(format!("L{n} (the highest level) holds more than its maximum size"));
                continue;
            }
            if let Some(t) = l0_stcs.clone() {
                task = Some(t);
                break;
            }
            let candidates = self.lcs_candidates_for(n, lv, level(n + 1));
            if !candidates.is_empty() {
                let next = self.next_level(&candidates, &effective);
                task = Some(Task {
                    kind: TaskKind::Compaction,
                    reason: format!(
                        "L{n} is over its size (score {score:.3} > 1.001): one L{n} SSTable with the L{} SSTables it overlaps",
                        n + 1
                    ),
                    sstables: sorted_by_gen(&candidates),
                    expired: vec![],
                    level: Some(next),
                    max_sstable_bytes: Some(max_bytes),
                });
                break;
            }
        }
        if task.is_none() && !l0.is_empty() {
            let candidates = self.lcs_l0_candidates(l0, level(1));
            task = if candidates.is_empty() {
                l0_stcs
            } else {
                let next = self.next_level(&candidates, &effective);
                let with_l1 = candidates.iter().filter(|&&i| level(1).contains(&i)).count();
                Some(Task {
                    kind: TaskKind::Compaction,
                    reason: if next == 0 {
                        format!(
                            "{} L0 SSTables, together less than sstable_size_in_mb ({}): compacted within L0",
                            candidates.len(),
                            human_bytes(max_bytes)
                        )
                    } else {
                        format!(
                            "{} L0 SSTables (oldest first, with those they overlap) and {with_l1} overlapping L1 SSTables",
                            candidates.len() - with_l1
                        )
                    },
                    sstables: sorted_by_gen(&candidates),
                    expired: vec![],
                    level: Some(next),
                    max_sstable_bytes: Some(max_bytes),
                })
            };
        }
        if task.is_none() {
            // LeveledCompactionStrategy.findDroppableSSTable: highest level first, best ratio first.
            let highest = (0..LEVEL_COUNT).rev().find(|&n| !level(n).is_empty()).unwrap_or(0);
            'levels: for n in (0..=highest).rev() {
                let mut lv = level(n).to_vec();
                lv.sort_by(|&a, &b| self.f(b).droppable_ratio.total_cmp(&self.f(a).droppable_ratio));
                for i in lv {
                    if self.f(i).droppable_ratio <= self.o.tombstone_threshold {
                        continue 'levels;
                    }
                    if self.worth_dropping_tombstones(i) {
                        let mut t = self.tombstone_task(i, Some(effective(i)));
                        t.max_sstable_bytes = Some(max_bytes);
                        task = Some(t);
                        break 'levels;
                    }
                }
            }
        }
        if task.is_none() {
            let (n, score) = (1..LEVEL_COUNT)
                .filter(|&n| !level(n).is_empty())
                .map(|n| (n, self.total_data(level(n)) as f64 / self.o.max_bytes_for_level(n)))
                .fold((0, 0.0), |best, x| if x.1 > best.1 { x } else { best });
            let levels = if n == 0 {
                "no SSTable above L0".to_string()
            } else {
                format!("no level is over its size (highest score {score:.3} at L{n}; a level compacts above 1.001)")
            };
            g.idle = Some(format!(
                "{levels}; L0 holds {} SSTable(s), an L0 compaction needs 2; {}",
                l0.len(),
                self.no_tombstone_compaction(members)
            ));
        }
        g.task = task;
        g
    }

    /// `LeveledManifest.getCandidatesFor(level)` for level ≥ 1, as just after start-up: resume
    /// after the newest SSTable of the next level.
    fn lcs_candidates_for(&self, _n: usize, lv: &[usize], next: &[usize]) -> Vec<usize> {
        let pivot = next.iter().copied().fold(None::<usize>, |best, i| match best {
            Some(b) if self.f(b).created_ms > self.f(i).created_ms => Some(b),
            _ => Some(i),
        });
        let start = pivot
            .and_then(|p| lv.iter().position(|&i| self.f(i).first > self.f(p).last))
            .or_else(|| (!lv.is_empty()).then_some(0));
        let Some(sstable) = start.and_then(|s| lv.get(s)).copied() else { return vec![] };
        let mut c = vec![sstable];
        c.extend(next.iter().copied().filter(|&j| self.f(j).overlaps(self.f(sstable))));
        c
    }

    /// `LeveledManifest.getCandidatesFor(0)`.
    fn lcs_l0_candidates(&self, l0: &[usize], l1: &[usize]) -> Vec<usize> {
        let age_sorted = |set: &[usize]| {
            let mut v = set.to_vec();
            v.sort_by_key(|&i| (self.f(i).max_timestamp, self.f(i).descriptor.id.clone()));
            v
        };
        let mut remaining: Vec<usize> = l0.to_vec();
        let mut candidates: Vec<usize> = Vec::new();
        for s in age_sorted(l0) {
            if candidates.contains(&s) {
                continue;
            }
            let overlapped: Vec<usize> = remaining
                .iter()
                .copied()
                .filter(|&r| r == s || self.f(r).overlaps(self.f(s)))
                .chain(std::iter::once(s))
                .collect();
            for c in overlapped {
                if !candidates.contains(&c) {
                    candidates.push(c);
                }
                remaining.retain(|&r| r != c);
            }
            if candidates.len() > self.o.max_threshold {
                candidates = age_sorted(&candidates).into_iter().take(self.o.max_threshold).collect();
                break;
            }
        }
        if self.total_data(&candidates) > self.o.max_sstable_bytes() {
            let first = candidates.iter().map(|&i| &self.f(i).first.0).min();
            let last = candidates.iter().map(|&i| &self.f(i).last.0).max();
            if let (Some(first), Some(last)) = (first, last) {
                for &j in l1 {
                    if self.f(j).first.0 <= *last && *first <= self.f(j).last.0 {
                        candidates.push(j);
                    }
                }
            }
        }
        if candidates.len() < 2 { vec![] } else { candidates }
    }

    /// `LeveledManifest.getNextLevel`.
    fn next_level(&self, set: &[usize], level_of: &dyn Fn(usize) -> i32) -> i32 {
        let levels = || set.iter().map(|&i| level_of(i));
        let (min, max) = (levels().min().unwrap_or(0), levels().max().unwrap_or(0));
        if min == 0 && max == 0 && self.total_data(set) < self.o.max_sstable_bytes() {
            0
        } else if min == max {
            max + 1
        } else {
            max
        }
    }
}
