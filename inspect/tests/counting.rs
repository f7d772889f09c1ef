//! `tombstones` and `partitions` count tombstones in one unit (compaction's, see
//! `cairn_compact::purge`): for every partition of every SSTable of every generated dataset,
//! the two give the same number.

use std::collections::BTreeMap;

use cairn_fixtures::generate::{BASE_TIME_S, DATASETS, GenOptions, generate};
use cairn_format::sstable::{OpenOptions, SsTable};
use cairn_inspect::partitions::{PartitionsOptions, partitions};
use cairn_inspect::tombstones::{TombstoneOptions, tombstones};
use serde_json::Value;

/// (Data.db path, partition offset) → tombstones.
type Counts = BTreeMap<(String, u64), u64>;

fn open(dir: &std::path::Path) -> Vec<SsTable> {
    let mut data: Vec<_> = walk(dir).into_iter().filter(|p| p.to_string_lossy().ends_with("-Data.db")).collect();
    data.sort();
    data.iter()
        .map(|p| {
            let (d, _) = cairn_format::descriptor::Descriptor::from_path(p).expect("descriptor");
            SsTable::open_with(d, &OpenOptions::default()).expect("open")
        })
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

fn by_tombstones(tables: &[SsTable], now: i64) -> Counts {
    let opts = TombstoneOptions { now_s: now, ndjson: true, ..Default::default() };
    let mut out = Vec::new();
    tombstones(tables, &opts, &mut out).expect("tombstones");
    let mut counts = Counts::new();
    for line in String::from_utf8(out).expect("utf8").lines() {
        let v: Value = serde_json::from_str(line).expect("json");
        let total: u64 = v["tombstones"].as_object().expect("kinds").values().map(|n| n.as_u64().expect("n")).sum();
        let key = (v["sstable"].as_str().expect("sstable").to_string(), v["position"].as_u64().expect("position"));
        counts.insert(key, total);
    }
    counts
}

fn by_partitions(tables: &[SsTable], now: i64) -> Counts {
    let opts = PartitionsOptions { min_rows: Some(0), now_s: now, json: true, ..Default::default() };
    let mut out = Vec::new();
    partitions(tables, &opts, &mut out).expect("partitions");
    let reports: Value = serde_json::from_slice(&out).expect("json");
    let mut counts = Counts::new();
    for r in reports.as_array().expect("reports") {
        let sstable = r["sstable"].as_str().expect("sstable");
        for m in r["matches"].as_array().expect("matches") {
            let n = |k: &str| m[k].as_u64().unwrap_or_else(|| panic!("{k}"));
            let total = [
                "partition_tombstones",
                "row_tombstones",
                "range_tombstones",
                "complex_tombstones",
                "cell_tombstones",
                "row_ttl_expired",
                "cell_ttl_expired",
            ]
            .map(n)
            .iter()
            .sum::<u64>();
            if total > 0 {
                counts.insert((sstable.to_string(), n("offset")), total);
            }
        }
    }
    counts
}

#[test]
fn tombstones_and_partitions_count_the_same_tombstones_per_partition() {
    for name in DATASETS.into_iter().filter(|n| *n != "wide") {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = GenOptions {
            seed: 11,
            rows: 400,
            version: cairn_format::Version::Nb,
            compression: None,
            sstables: 3,
            out: dir.path().to_path_buf(),
            expected: None,
            now: BASE_TIME_S,
        };
        generate(name, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let tables = open(dir.path());
        // At the clock, and a day later (more TTLs expired, some tombstones past gc_grace).
        for now in [BASE_TIME_S, BASE_TIME_S + 86_400] {
            let (t, p) = (by_tombstones(&tables, now), by_partitions(&tables, now));
            let differ: Vec<_> = t
                .keys()
                .chain(p.keys())
                .filter(|k| t.get(*k) != p.get(*k))
                .map(|k| (k, t.get(k), p.get(k)))
                .take(5)
                .collect();
            assert!(differ.is_empty(), "{name} at {now}: (partition, tombstones, partitions) differ: {differ:?}");
            if name == "tombstones" || name == "sessions" {
                assert!(!t.is_empty(), "{name} at {now}: no tombstones at all");
            }
        }
    }
}
