//! `cairn tombstones` on the `comments` dataset (the book's TTL antipattern): the report names
//! the partitions with expired-TTL build-up, and which of their tombstones are droppable and
//! which are blocked — by exactly the SSTables that hold the same partition with older data.

use std::collections::BTreeSet;

use cairn_fixtures::generate::{GenOptions, generate};
use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_inspect::open_inputs;
use cairn_inspect::tombstones::{TombstoneOptions, tombstones};
use serde_json::Value as J;

#[test]
fn comments_build_up_is_found_and_blockers_are_the_older_sstables_holding_the_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = GenOptions {
        seed: 11,
        rows: 2000,
        version: Version::Nb,
        compression: Some(Compressor::Lz4),
        sstables: 3,
        out: tmp.path().join("data"),
        expected: None,
        now: cairn_fixtures::generate::BASE_TIME_S,
    };
    let g = generate("comments", &opts).expect("generate");
    let tables = open_inputs(std::slice::from_ref(&g.table_dir), &Default::default()).expect("open");
    assert_eq!(tables.len(), 3);
    // The keys each SSTable holds and its minimum timestamp, read directly.
    let mut keys: Vec<BTreeSet<Vec<u8>>> = Vec::new();
    for t in &tables {
        let mut s = t.scanner().expect("scanner");
        let mut set = BTreeSet::new();
        while let Some(p) = s.next_partition().expect("partition") {
            set.insert(p.key.clone());
        }
        keys.push(set);
    }
    let min_ts: Vec<i64> =
        tables.iter().map(|t| t.statistics.stats.as_ref().map_or(i64::MIN, |s| s.min_timestamp)).collect();
    let max_ts: Vec<i64> =
        tables.iter().map(|t| t.statistics.stats.as_ref().map_or(i64::MAX, |s| s.max_timestamp)).collect();
    let paths: Vec<String> =
        tables.iter().map(|t| t.path(cairn_format::Component::Data).display().to_string()).collect();

    // Eleven days after the dataset's clock every comment TTL (hours) is past gc_grace (10 days).
    let report = |now: i64| -> Vec<J> {
        let o = TombstoneOptions { now_s: now, top: 0, ndjson: true, ..Default::default() };
        let mut out = Vec::new();
        tombstones(&tables, &o, &mut out).expect("report");
        String::from_utf8(out).expect("utf8").lines().map(|l| serde_json::from_str(l).expect("json")).collect()
    };
    let later = report(g.now + 11 * 86_400);
    assert!(later.len() > 100, "only {} partitions with tombstones", later.len());
    let (mut droppable, mut blocked) = (0, 0);
    for p in &later {
        let i = paths.iter().position(|x| p["sstable"] == x.as_str()).expect("known SSTable");
        assert!(p["tombstones"]["expired_ttl"].as_u64() > Some(0), "{p}");
        assert_eq!(p["younger_than_gc_grace"], 0, "{p}");
        droppable += p["droppable"].as_u64().unwrap_or(0);
        blocked += p["blocked"].as_u64().unwrap_or(0);
        let key = tables[i]
            .scanner()
            .ok()
            .and_then(|mut s| {
                let mut found = None;
                while let Ok(Some(h)) = s.next_partition() {
                    if h.position == p["position"].as_u64().unwrap_or(u64::MAX) {
                        found = Some(h.key.clone());
                        break;
                    }
                }
                found
            })
            .expect("partition at the reported position");
        // Older data for this key elsewhere: exactly the SSTables that hold the key and started
        // earlier (bloom filters could add a false positive, never drop a true blocker).
        let true_blockers: BTreeSet<&str> = (0..tables.len())
            .filter(|&j| j != i && keys[j].contains(&key) && min_ts[j] < min_ts[i])
            .map(|j| paths[j].as_str())
            .collect();
        let named: BTreeSet<&str> =
            p["blocked_by"].as_array().expect("blocked_by").iter().filter_map(J::as_str).collect();
        assert!(true_blockers.is_subset(&named), "{p}: expected blockers {true_blockers:?}");
        assert_eq!(p["blocked"].as_u64() > Some(0), !named.is_empty(), "{p}");
        for n in &named {
            let j = paths.iter().position(|x| x == n).expect("blocker is an input");
            assert!(min_ts[j] <= max_ts[i], "{p}: {n} holds only data newer than every tombstone here");
        }
    }
    assert!(droppable > 0 && blocked > 0, "droppable {droppable}, blocked {blocked}");

    // At the dataset's own clock, none of them is past gc_grace yet.
    let now = report(g.now);
    assert!(now.iter().all(|p| p["droppable"] == 0 && p["blocked"] == 0), "tombstones droppable before gc_grace");
}
