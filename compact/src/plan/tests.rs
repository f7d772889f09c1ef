//! Strategy decisions on hand-built SSTable facts: each threshold on both sides of its edge.

use std::path::PathBuf;

use cairn_format::Version;
use cairn_format::descriptor::SsTableId;
use cairn_format::partitioner::Token;

use super::*;
use crate::repair_state::RepairState;

const MIB: u64 = 1024 * 1024;
/// 2026-11-20T12:00Z, in seconds.
const NOW: i64 = 1_795_176_000;
const DAY_US: i64 = 86_400_000_000;

fn fact(generation: u64, bytes: u64) -> SsTableFacts {
    SsTableFacts {
        descriptor: Descriptor {
            directory: PathBuf::from("/t"),
            version: Version::Nb,
            id: SsTableId::Sequence(generation),
        },
        data_bytes: bytes,
        bytes_on_disk: bytes + 1000,
        created_ms: (NOW - 30 * 86_400) * 1000,
        min_timestamp: (NOW - 3600) * 1_000_000,
        max_timestamp: (NOW - 60) * 1_000_000,
        max_local_deletion_time: i64::from(i32::MAX),
        level: 0,
        repair: RepairState { repaired_at: 0, pending_repair: None, is_transient: false },
        first: (Token::Murmur3(-1000), vec![1]),
        last: (Token::Murmur3(1000), vec![2]),
        droppable_ratio: 0.0,
        outside_overlap_ratio: None,
    }
}

/// An SSTable covering tokens `lo..=hi`.
fn ranged(generation: u64, bytes: u64, lo: i64, hi: i64) -> SsTableFacts {
    SsTableFacts {
        first: (Token::Murmur3(lo), vec![0]),
        last: (Token::Murmur3(hi), vec![0]),
        ..fact(generation, bytes)
    }
}

fn clock() -> PlanClock {
    PlanClock { now_s: NOW, gc_before: NOW - 864_000 }
}

fn opts(strategy: Strategy, pairs: &[(&str, &str)]) -> StrategyOptions {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    StrategyOptions::from_pairs(strategy, &pairs, true).expect("valid options")
}

/// The generations of the next task's SSTables.
fn next(p: &Plan) -> Option<Vec<u64>> {
    let (_, t) = p.next()?;
    Some(
        t.sstables
            .iter()
            .map(|&i| match &p.sstables[i].descriptor.id {
                SsTableId::Sequence(g) => *g,
                SsTableId::Uuid(_) => panic!("uuid"),
            })
            .collect(),
    )
}

fn stcs(sstables: Vec<SsTableFacts>, pairs: &[(&str, &str)]) -> Plan {
    plan(Strategy::SizeTiered, &opts(Strategy::SizeTiered, pairs), clock(), sstables)
}

#[test]
fn java_hash_map_order_is_reproduced() {
    // In a 16-bin java.util.HashMap, 16 lands in bin 0 and 1 and 17 in bin 1 (in insertion order).
    let mut m = JavaLongMap::default();
    m.put(1, vec![]);
    m.put(17, vec![]);
    m.put(16, vec![]);
    let keys: Vec<i64> = m.iter_ordered().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![16, 1, 17]);
    // A large key: Long.hashCode folds the high half in (0x1_0000_0001 -> 0).
    m.put(0x1_0000_0001, vec![]);
    assert_eq!(m.iter_ordered().first().map(|e| e.0), Some(16));
    assert_eq!(JavaLongMap::spread(0x1_0000_0001), 0);
    // Past 12 entries the table doubles to 32 bins: 16 and 0 share bin 0 of 16, then part ways.
    let mut m = JavaLongMap::default();
    for k in [16, 0] {
        m.put(k, vec![]);
    }
    assert_eq!(m.iter_ordered().into_iter().map(|(k, _)| k).collect::<Vec<_>>(), vec![16, 0]);
    for k in 100..111 {
        m.put(k, vec![]);
    }
    let keys: Vec<i64> = m.iter_ordered().into_iter().map(|(k, _)| k).collect();
    let mut expected = vec![0];
    expected.extend(100..111);
    expected.push(16);
    assert_eq!(keys, expected);
}

#[test]
fn stcs_min_threshold_edge() {
    let three: Vec<_> = (1..=3).map(|g| fact(g, 100 * MIB)).collect();
    assert_eq!(next(&stcs(three.clone(), &[])), None, "3 < min_threshold 4");
    let mut four = three;
    four.push(fact(4, 110 * MIB));
    assert_eq!(next(&stcs(four.clone(), &[])), Some(vec![1, 2, 3, 4]));
    assert_eq!(stcs(four, &[]).groups[0].estimated_remaining_tasks, 1);
    let two: Vec<_> = (1..=2).map(|g| fact(g, 100 * MIB)).collect();
    assert_eq!(next(&stcs(two, &[("min_threshold", "2")])), Some(vec![1, 2]));
}

#[test]
fn stcs_max_threshold_trims() {
    let many: Vec<_> = (1..=40).map(|g| fact(g, 100 * MIB + g)).collect();
    let p = stcs(many, &[]);
    let n = next(&p).expect("a task");
    assert_eq!(n.len(), 32);
    // The bucket is sorted by size and trimmed from the end: the 32 smallest stay.
    assert_eq!(n, (1..=32).collect::<Vec<_>>());
    assert_eq!(p.groups[0].estimated_remaining_tasks, 2, "ceil(40 / 32)");
    let p = stcs((1..=40).map(|g| fact(g, 100 * MIB + g)).collect(), &[("max_threshold", "8")]);
    assert_eq!(next(&p).map(|v| v.len()), Some(8));
}

#[test]
fn stcs_bucket_bounds_are_strict() {
    // 149 MiB is within 1.5 × 100 MiB; 150 MiB is not (strictly below bucket_high).
    let inside = vec![fact(1, 100 * MIB), fact(2, 100 * MIB), fact(3, 100 * MIB), fact(4, 149 * MIB)];
    assert_eq!(next(&stcs(inside, &[])), Some(vec![1, 2, 3, 4]));
    let avg_then_edge = vec![fact(1, 100 * MIB), fact(2, 100 * MIB), fact(3, 100 * MIB), fact(4, 150 * MIB)];
    assert_eq!(next(&stcs(avg_then_edge, &[])), None, "150 MiB is not < 1.5 × 100 MiB");
    // A wider bucket_high takes it.
    let wide = vec![fact(1, 100 * MIB), fact(2, 100 * MIB), fact(3, 100 * MIB), fact(4, 150 * MIB)];
    assert_eq!(next(&stcs(wide, &[("bucket_high", "1.6")])), Some(vec![1, 2, 3, 4]));
}

#[test]
fn stcs_small_files_share_a_bucket_below_min_sstable_size() {
    let small = vec![fact(1, MIB), fact(2, 10 * MIB), fact(3, 30 * MIB), fact(4, 49 * MIB)];
    assert_eq!(next(&stcs(small.clone(), &[])), Some(vec![1, 2, 3, 4]));
    // With a 1 MiB floor they are four buckets of one.
    let p = stcs(small, &[("min_sstable_size", "1048576")]);
    assert_eq!(next(&p), None);
    assert_eq!(p.groups[0].tiers.len(), 4);
}

#[test]
fn stcs_prefers_the_bucket_of_larger_files() {
    let mut v: Vec<_> = (1..=4).map(|g| fact(g, 100 * MIB)).collect();
    v.extend((5..=8).map(|g| fact(g, 400 * MIB)));
    let p = stcs(v, &[]);
    assert_eq!(next(&p), Some(vec![5, 6, 7, 8]), "hotness ties offline; the larger average wins");
    assert_eq!(p.groups[0].estimated_remaining_tasks, 2);
}

#[test]
fn stcs_tombstone_compaction_thresholds() {
    let tomb = |ratio: f64, age_days: i64| SsTableFacts {
        droppable_ratio: ratio,
        created_ms: (NOW - age_days * 86_400) * 1000,
        ..ranged(1, 10 * MIB, 0, 100)
    };
    let other = ranged(2, 10 * MIB, 200, 300);
    assert_eq!(next(&stcs(vec![tomb(0.5, 2), other.clone()], &[])), Some(vec![1]));
    assert_eq!(next(&stcs(vec![tomb(0.2, 2), other.clone()], &[])), None, "ratio must exceed 0.2");
    assert_eq!(next(&stcs(vec![tomb(0.5, 0), other.clone()], &[])), None, "younger than the interval");
    assert_eq!(
        next(&stcs(vec![tomb(0.5, 0), other.clone()], &[("tombstone_compaction_interval", "0")])),
        Some(vec![1])
    );
    assert_eq!(next(&stcs(vec![tomb(0.3, 2), other.clone()], &[("tombstone_threshold", "0.4")])), None);
    // Overlapping: only when enough partitions lie outside the overlap.
    let overlapping = ranged(2, 10 * MIB, 50, 300);
    let with = |outside: Option<f64>| SsTableFacts { outside_overlap_ratio: outside, ..tomb(0.5, 2) };
    assert_eq!(next(&stcs(vec![with(Some(0.9)), overlapping.clone()], &[])), Some(vec![1]), "0.9 × 0.5 > 0.2");
    assert_eq!(next(&stcs(vec![with(Some(0.3)), overlapping.clone()], &[])), None, "0.3 × 0.5 < 0.2");
    assert_eq!(next(&stcs(vec![with(None), overlapping.clone()], &[])), None, "uninformative estimate");
    assert_eq!(
        next(&stcs(vec![with(None), overlapping], &[("unchecked_tombstone_compaction", "true")])),
        Some(vec![1])
    );
}

#[test]
fn disabled_compaction_plans_nothing() {
    let v: Vec<_> = (1..=4).map(|g| fact(g, 100 * MIB)).collect();
    let p = stcs(v, &[("enabled", "false")]);
    assert_eq!(next(&p), None);
    assert!(p.groups[0].notes.iter().any(|n| n.contains("disabled")));
}

#[test]
fn a_single_partition_sstable_overlaps_the_whole_ring() {
    // Cassandra's Range(first, first) wraps: every partition counts as overlapped.
    let tomb = SsTableFacts { droppable_ratio: 0.9, ..ranged(1, MIB, 0, 100) };
    let point = ranged(2, MIB, 50, 50);
    let within = |l: i64, h: i64, t: i64| {
        let (l, h, t) = (Token::Murmur3(l), Token::Murmur3(h), Token::Murmur3(t));
        if l < h { l < t && t <= h } else { t > l || t <= h }
    };
    assert!(within(50, 50, -7) && within(50, 50, 99) && !within(0, 10, 11));
    // With the estimate uninformative it is never worth it; unchecked, it is.
    assert_eq!(next(&stcs(vec![tomb.clone(), point.clone()], &[])), None);
    assert_eq!(next(&stcs(vec![tomb, point], &[("unchecked_tombstone_compaction", "true")])), Some(vec![1]));
}

#[test]
fn demoted_sstables_count_as_l0_when_choosing_the_next_level() {
    // Two overlapping "L2" SSTables: the second goes to L0; L0 then holds it alone with a fresh
    // flush, and their compaction stays in L0 (both are level 0 now), not L3.
    let v = vec![at_level(ranged(1, MIB, 0, 100), 2), at_level(ranged(2, MIB, 50, 150), 2), ranged(3, MIB, 60, 70)];
    let p = lcs(v, &[]);
    let (_, t) = p.next().expect("task");
    assert_eq!(t.level, Some(0));
    assert_eq!(next(&p), Some(vec![2, 3]));
}

#[test]
fn repair_states_are_planned_apart() {
    let mut v: Vec<_> = (1..=4).map(|g| fact(g, 100 * MIB)).collect();
    v.extend((5..=8).map(|g| SsTableFacts {
        repair: RepairState { repaired_at: 1_700_000_000_000, pending_repair: None, is_transient: false },
        ..fact(g, 100 * MIB)
    }));
    v.extend((9..=12).map(|g| SsTableFacts {
        repair: RepairState { repaired_at: 0, pending_repair: Some([7; 16]), is_transient: false },
        ..fact(g, 100 * MIB)
    }));
    v.extend((13..=16).map(|g| SsTableFacts {
        repair: RepairState { repaired_at: 0, pending_repair: Some([7; 16]), is_transient: true },
        ..fact(g, 100 * MIB)
    }));
    let p = stcs(v, &[]);
    assert_eq!(p.groups.len(), 4);
    for g in &p.groups {
        let members: Vec<usize> = g.members.clone();
        if let Some(t) = &g.task {
            assert!(t.sstables.iter().all(|i| members.contains(i)), "a task never mixes repair states");
        }
    }
    let names: Vec<&str> = p.groups.iter().map(|g| g.group.as_str()).collect();
    // A freshly started node: transient pending repair, pending repair, repaired, unrepaired;
    // each holder of pending sessions serves one.
    assert_eq!(names[2..], ["repaired", "unrepaired"]);
    assert!(names[0].starts_with("pending repair 07070707-0707") && names[0].ends_with(", transient"));
    assert!(names[1].starts_with("pending repair 07070707-0707") && !names[1].ends_with(", transient"));
    assert!(p.groups[..2].iter().all(|g| g.task.is_some()), "two holders, one session each");
}

fn lcs(sstables: Vec<SsTableFacts>, pairs: &[(&str, &str)]) -> Plan {
    plan(Strategy::Leveled, &opts(Strategy::Leveled, pairs), clock(), sstables)
}

fn at_level(s: SsTableFacts, level: i32) -> SsTableFacts {
    SsTableFacts { level, ..s }
}

#[test]
fn lcs_small_l0_compacts_within_l0() {
    let v: Vec<_> = (1..=3).map(|g| fact(g, 10 * MIB)).collect();
    let p = lcs(v, &[]);
    let (_, t) = p.next().expect("task");
    assert_eq!(t.level, Some(0), "30 MiB < sstable_size_in_mb 160: stays in L0");
    assert_eq!(t.sstables.len(), 3);
    // One L0 SSTable is not a compaction.
    assert_eq!(next(&lcs(vec![fact(1, 10 * MIB)], &[])), None);
}

#[test]
fn lcs_full_l0_goes_to_l1_with_overlapping_l1() {
    let mut v: Vec<_> = (1..=2).map(|g| ranged(g, 100 * MIB, 0, 500)).collect();
    v.push(at_level(ranged(3, 100 * MIB, 400, 600), 1));
    v.push(at_level(ranged(4, 100 * MIB, 700, 900), 1));
    let p = lcs(v, &[]);
    let (_, t) = p.next().expect("task");
    assert_eq!(t.level, Some(1));
    assert_eq!(next(&p), Some(vec![1, 2, 3]), "L1 SSTable 4 does not overlap 0..500");
    assert_eq!(t.max_sstable_bytes, Some(160 * MIB));
    // With a bigger sstable_size_in_mb the same 200 MiB stays in L0.
    let v: Vec<_> = (1..=2).map(|g| ranged(g, 100 * MIB, 0, 500)).collect();
    let p = lcs(v, &[("sstable_size_in_mb", "300")]);
    assert_eq!(p.next().map(|(_, t)| t.level), Some(Some(0)));
}

#[test]
fn lcs_level_score_edge() {
    // sstable_size_in_mb 1: L1 holds at most 10 MiB. Exactly 10 MiB (score 1.0) is fine.
    let l1 = |n: u64, each: u64| -> Vec<SsTableFacts> {
        (1..=n).map(|g| at_level(ranged(g, each, g as i64 * 100, g as i64 * 100 + 50), 1)).collect()
    };
    assert_eq!(next(&lcs(l1(10, MIB), &[("sstable_size_in_mb", "1")])), None);
    // 11 MiB (score 1.1): the first L1 SSTable goes to L2 (L2 is empty: nothing to pull in).
    let p = lcs(l1(11, MIB), &[("sstable_size_in_mb", "1")]);
    let (_, t) = p.next().expect("task");
    assert_eq!(t.level, Some(2));
    assert_eq!(next(&p), Some(vec![1]));
    assert_eq!(p.groups[0].estimated_remaining_tasks, 1);
    // fanout_size 20 raises the limit to 20 MiB.
    assert_eq!(next(&lcs(l1(11, MIB), &[("sstable_size_in_mb", "1"), ("fanout_size", "20")])), None);
}

#[test]
fn lcs_resumes_after_the_newest_sstable_of_the_next_level() {
    let mut v: Vec<_> = (1..=11).map(|g| at_level(ranged(g, MIB, g as i64 * 100, g as i64 * 100 + 50), 1)).collect();
    // L2: an old file over 100..450 and the newest over 500..560: L1 resumes after 560, at gen 6 (600..650).
    v.push(SsTableFacts { created_ms: 1, ..at_level(ranged(20, MIB, 100, 450), 2) });
    v.push(SsTableFacts { created_ms: 2, ..at_level(ranged(21, MIB, 500, 560), 2) });
    let p = lcs(v, &[("sstable_size_in_mb", "1")]);
    assert_eq!(next(&p), Some(vec![6]));
    // Resuming at gen 4 (400..450) would pull in the L2 file it overlaps.
    let mut v: Vec<_> = (1..=11).map(|g| at_level(ranged(g, MIB, g as i64 * 100, g as i64 * 100 + 50), 1)).collect();
    v.push(SsTableFacts { created_ms: 2, ..at_level(ranged(20, MIB, 100, 350), 2) });
    v.push(SsTableFacts { created_ms: 1, ..at_level(ranged(21, MIB, 420, 430), 2) });
    let p = lcs(v, &[("sstable_size_in_mb", "1")]);
    assert_eq!(next(&p), Some(vec![4, 21]));
    assert_eq!(p.next().and_then(|(_, t)| t.level), Some(2));
}

#[test]
fn lcs_overlapping_sstables_in_a_level_go_to_l0() {
    let v = vec![at_level(ranged(1, MIB, 0, 100), 1), at_level(ranged(2, MIB, 50, 150), 1)];
    let p = lcs(v, &[]);
    let l0 = p.groups[0].tiers.iter().find(|t| t.label == "L0").expect("L0");
    assert_eq!(l0.members.len(), 1);
    assert_eq!(p.groups[0].notes.len(), 1);
    assert!(p.groups[0].notes[0].contains("sends it to L0"));
}

#[test]
fn lcs_size_tiers_l0_when_it_falls_behind() {
    // 33 L0 SSTables (> 32) and an oversized L1: STCS in L0 goes first.
    let mut v: Vec<_> = (1..=33).map(|g| ranged(g, MIB, 0, 1000)).collect();
    v.extend((100..=111).map(|g| at_level(ranged(g, MIB, g as i64 * 10, g as i64 * 10 + 5), 1)));
    let p = lcs(v, &[("sstable_size_in_mb", "1")]);
    let (_, t) = p.next().expect("task");
    assert_eq!(t.kind, TaskKind::SizeTieredInL0);
    assert_eq!(t.sstables.len(), 32, "max_threshold");
    // 32 L0 SSTables are not behind: L1 goes first.
    let mut v: Vec<_> = (1..=32).map(|g| ranged(g, MIB, 0, 1000)).collect();
    v.extend((100..=111).map(|g| at_level(ranged(g, MIB, g as i64 * 10, g as i64 * 10 + 5), 1)));
    let p = lcs(v, &[("sstable_size_in_mb", "1")]);
    let (_, t) = p.next().expect("task");
    assert_eq!((t.kind.clone(), t.level), (TaskKind::Compaction, Some(2)));
}

#[test]
fn lcs_l0_candidates_are_the_oldest_max_threshold() {
    let v: Vec<_> = (1..=6)
        .map(|g| SsTableFacts { max_timestamp: (NOW - g as i64 * 100) * 1_000_000, ..ranged(g, MIB, 0, 10) })
        .collect();
    let p = lcs(v, &[("max_threshold", "4")]);
    // Oldest by max timestamp: generations 6, 5, 4, 3.
    assert_eq!(next(&p), Some(vec![3, 4, 5, 6]));
}

fn twcs(sstables: Vec<SsTableFacts>, pairs: &[(&str, &str)]) -> Plan {
    plan(Strategy::TimeWindow, &opts(Strategy::TimeWindow, pairs), clock(), sstables)
}

/// An SSTable whose newest write is `days_ago` days before NOW.
fn written(generation: u64, bytes: u64, days_ago: i64) -> SsTableFacts {
    let max = NOW * 1_000_000 - days_ago * DAY_US;
    SsTableFacts { min_timestamp: max - 3_600_000_000, max_timestamp: max, ..fact(generation, bytes) }
}

#[test]
fn twcs_newest_window_needs_min_threshold_older_windows_two() {
    // Newest window: 3 SSTables (< 4). Two days ago: 2 SSTables. Three days ago: 1.
    let v = vec![
        written(1, MIB, 0),
        written(2, MIB, 0),
        written(3, MIB, 0),
        written(4, MIB, 2),
        written(5, 2 * MIB, 2),
        written(6, MIB, 3),
    ];
    let p = twcs(v.clone(), &[]);
    assert_eq!(next(&p), Some(vec![4, 5]));
    assert_eq!(p.groups[0].estimated_remaining_tasks, 1);
    // A fourth SSTable in the newest window: it is size-tiered first.
    let mut v4 = v;
    v4.push(written(7, MIB, 0));
    let p = twcs(v4, &[]);
    assert_eq!(next(&p), Some(vec![1, 2, 3, 7]));
    assert_eq!(p.groups[0].estimated_remaining_tasks, 2);
}

#[test]
fn twcs_window_unit_and_size() {
    // Two SSTables 2 and 5 hours old: one 1-day window is current for both (same day) or not,
    // depending on the clock; with 1-hour windows they are two windows of one.
    let v = vec![
        SsTableFacts { max_timestamp: NOW * 1_000_000 - 2 * 3_600_000_000, ..fact(1, MIB) },
        SsTableFacts { max_timestamp: NOW * 1_000_000 - 5 * 3_600_000_000, ..fact(2, MIB) },
        SsTableFacts { max_timestamp: NOW * 1_000_000 - 5 * 3_600_000_000 + 60_000_000, ..fact(3, MIB) },
    ];
    let hourly = twcs(v.clone(), &[("compaction_window_unit", "HOURS"), ("compaction_window_size", "1")]);
    assert_eq!(next(&hourly), Some(vec![2, 3]), "the older hour holds two");
    let six_hours = twcs(v, &[("compaction_window_unit", "HOURS"), ("compaction_window_size", "6")]);
    // NOW is 12:00: 10:00 and 07:00/07:01 fall in the 06:00-12:00 window, the newest; 3 < 4.
    assert_eq!(next(&six_hours), None);
    assert_eq!(six_hours.groups[0].tiers.len(), 1);
    // Windows are labelled by their start, in UTC.
    assert_eq!(six_hours.groups[0].tiers[0].label, "window 2026-11-20T06:00Z");
    let labels: Vec<&str> = hourly.groups[0].tiers.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["window 2026-11-20T10:00Z", "window 2026-11-20T07:00Z"]);
}

#[test]
fn twcs_drops_fully_expired_sstables() {
    let expired = SsTableFacts { max_local_deletion_time: NOW - 20 * 86_400, ..written(1, MIB, 30) };
    let live = written(2, MIB, 0);
    let p = twcs(vec![expired.clone(), live.clone()], &[]);
    let (_, t) = p.next().expect("task");
    assert_eq!(t.kind, TaskKind::ExpiredOnly);
    assert_eq!(t.expired.len(), 1);
    // Expired, but younger than gc_grace: kept.
    let young = SsTableFacts { max_local_deletion_time: NOW - 86_400, ..written(1, MIB, 30) };
    assert_eq!(next(&twcs(vec![young, live.clone()], &[])), None);
    // An SSTable with older live data shadows nothing... but its data may be shadowed by the
    // expired one's tombstones: the expired SSTable stays.
    let older_live = SsTableFacts { min_timestamp: expired.min_timestamp - DAY_US, ..written(2, MIB, 0) };
    assert_eq!(next(&twcs(vec![expired.clone(), older_live.clone()], &[])), None);
    // Unless overlaps are ignored.
    let p = twcs(vec![expired, older_live], &[("unsafe_aggressive_sstable_expiration", "true")]);
    assert_eq!(p.next().map(|(_, t)| t.expired.len()), Some(1));
}

#[test]
fn twcs_tombstone_compactions_are_off_unless_asked_for() {
    let tomb = SsTableFacts { droppable_ratio: 0.9, ..ranged(1, MIB, 0, 10) };
    let other = SsTableFacts { ..ranged(2, MIB, 20, 30) };
    let other = SsTableFacts { max_timestamp: other.max_timestamp - 3 * DAY_US, ..other };
    assert_eq!(next(&twcs(vec![tomb.clone(), other.clone()], &[])), None);
    assert_eq!(next(&twcs(vec![tomb, other], &[("tombstone_threshold", "0.5")])), Some(vec![1]));
}

#[test]
fn options_are_checked_as_cassandra_checks_them() {
    let e = |s: Strategy, k: &str, v: &str| StrategyOptions::from_pairs(s, &[(k.to_string(), v.to_string())], false);
    assert!(matches!(e(Strategy::SizeTiered, "sstable_size_in_mb", "10"), Err(PlanError::UnknownOption { .. })));
    assert!(matches!(e(Strategy::SizeTiered, "min_threshold", "1"), Err(PlanError::BadOption { .. })));
    assert!(matches!(e(Strategy::SizeTiered, "max_threshold", "2"), Err(PlanError::BadOption { .. })));
    assert!(matches!(e(Strategy::SizeTiered, "bucket_high", "0.4"), Err(PlanError::BadOption { .. })));
    assert!(matches!(e(Strategy::TimeWindow, "compaction_window_unit", "WEEKS"), Err(PlanError::BadOption { .. })));
    assert!(e(Strategy::Leveled, "class", "LeveledCompactionStrategy").is_ok());
    assert!(e(Strategy::TimeWindow, "compaction_window_unit", "MINUTES").is_ok());
    assert!(
        e(Strategy::TimeWindow, "compaction_window_unit", "minutes").is_err(),
        "TimeUnit.valueOf is case-sensitive"
    );
    assert!(e(Strategy::SizeTiered, "unchecked_tombstone_compaction", "yes").is_err());
    assert!(e(Strategy::SizeTiered, "enabled", "FALSE").is_ok());
    assert!(matches!(
        e(Strategy::TimeWindow, "unsafe_aggressive_sstable_expiration", "true"),
        Err(PlanError::UnsafeExpiration)
    ));
    // tombstone_threshold is a Java float: 0.2f is slightly above 0.2.
    let o = e(Strategy::SizeTiered, "tombstone_threshold", "0.2").expect("ok");
    assert!(o.tombstone_threshold > 0.2);
}

#[test]
fn text_and_json_name_the_task() {
    let v: Vec<_> = (1..=4).map(|g| fact(g, 100 * MIB)).collect();
    let p = stcs(v, &[]);
    let text = render_text(&p);
    assert!(text.contains("next: compaction of 4 SSTable(s)"), "{text}");
    assert!(text.contains("nb-3-big"), "{text}");
    let j = render_json(&p);
    assert_eq!(j["groups"][0]["next"]["sstables"].as_array().map(Vec::len), Some(4));
    assert_eq!(j["options"]["min_threshold"], "4");
}

/// "Nothing to compact" says which threshold was not met, with the numbers.
#[test]
fn an_idle_group_says_why() {
    // STCS: two SSTables of one size, min_threshold 4.
    let p = stcs((1..=2).map(|g| fact(g, 100 * MIB)).collect(), &[]);
    assert_eq!(next(&p), None);
    let why = p.groups[0].idle.as_deref().expect("a reason");
    assert!(why.starts_with("the largest bucket of similar sizes has 2 SSTable(s), min_threshold is 4; "), "{why}");
    assert!(why.contains("exceeds tombstone_threshold 0.2"), "{why}");
    let text = render_text(&p);
    assert!(text.contains("next: nothing to compact: the largest bucket of similar sizes has 2 SSTable(s)"), "{text}");
    assert_eq!(render_json(&p)["groups"][0]["idle"], why);
    // LCS: one L0 SSTable and an L1 under its size.
    let p = lcs(vec![fact(1, 10 * MIB), at_level(fact(2, 100 * MIB), 1)], &[]);
    assert_eq!(next(&p), None);
    let why = p.groups[0].idle.as_deref().expect("a reason");
    assert!(
        why.starts_with(
            "no level is over its size (highest score 0.062 at L1; a level compacts above 1.001); L0 holds 1 SSTable(s), an L0 compaction needs 2; "
        ),
        "{why}"
    );
    // TWCS: three SSTables in the newest window, one in an older one; tombstone compactions off.
    let p = twcs(vec![written(1, MIB, 0), written(2, MIB, 0), written(3, MIB, 0), written(4, MIB, 3)], &[]);
    assert_eq!(next(&p), None);
    let why = p.groups[0].idle.as_deref().expect("a reason");
    assert_eq!(
        why,
        "the newest window holds 3 SSTable(s), min_threshold is 4; every older window holds one SSTable (a past window compacts at 2); tombstone compactions are off (TWCS without tombstone_threshold or tombstone_compaction_interval)"
    );
    // A task leaves no reason.
    assert_eq!(stcs((1..=4).map(|g| fact(g, 100 * MIB)).collect(), &[]).groups[0].idle, None);
}

/// The text gives times as ISO 8601 UTC dates, never epoch seconds.
#[test]
fn text_times_are_utc_dates() {
    let p = stcs(vec![fact(1, MIB)], &[]);
    let text = render_text(&p);
    assert!(text.contains("now: 2026-11-20T12:00:00Z  gc_before: 2026-11-10T12:00:00Z"), "{text}");
    assert!(!text.contains(&NOW.to_string()), "{text}");
}
