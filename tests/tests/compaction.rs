//! `cairn compact run` end to end: the live content never changes, tombstones past gc_grace go
//! when nothing outside the compaction needs them, and stay — without resurrecting anything —
//! when an SSTable left out of the compaction holds older data for their partition.

use std::path::Path;

use cairn_compact::run::{RunOptions, run};
use cairn_fixtures::generate::{GenOptions, dataset, generate, live_row_line};
use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_inspect::open_inputs;
use cairn_inspect::tombstones::{TombstoneOptions, tombstones};

/// The live rows of `tables` reconciled at `now`, as CQL-row lines.
fn live(name: &str, tables: &[&SsTable], now: i64) -> String {
    if tables.is_empty() {
        return String::new();
    }
    let spec = dataset(name).expect("dataset").spec();
    let scanners = tables.iter().map(|t| t.scanner().expect("scanner")).collect();
    let mut merger = Merger::new(scanners, tables[0].partitioner).expect("merger");
    let header = cairn_format::data::PartitionStream::header(&merger).clone();
    let mut out = String::new();
    cairn_format::live::for_each_live_row(&mut merger, now, &mut |row| {
        out.push_str(&live_row_line(&spec, &header, row))
    })
    .expect("read");
    out
}

fn open(dir: &Path) -> Vec<SsTable> {
    open_inputs(&[dir.to_path_buf()], &Default::default()).expect("open")
}

fn tombstone_verdicts(tables: &[SsTable], now: i64) -> serde_json::Value {
    let o = TombstoneOptions { now_s: now, gc_grace_seconds: None, top: 0, ndjson: false, json: true };
    let mut out = Vec::new();
    tombstones(tables, &o, &mut out).expect("report");
    serde_json::from_slice(&out).expect("json")
}

#[test]
fn compaction_purges_what_cassandra_would_and_never_changes_what_a_read_returns() {
    for (seed, name) in [(3u64, "tombstones"), (4, "comments"), (5, "sessions")] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let opts = GenOptions {
            seed,
            rows: 600,
            version: Version::Nb,
            compression: Some(Compressor::Lz4),
            sstables: 3,
            out: tmp.path().join("data"),
            expected: None,
        };
        let g = generate(name, &opts).expect("generate");
        let inputs = open(&g.table_dir);
        assert_eq!(inputs.len(), 3);
        let all: Vec<&SsTable> = inputs.iter().collect();
        for now in [g.now, g.now + 30 * 86_400] {
            let before = live(name, &all, now);

            // Everything compacted: whatever is past gc_grace goes.
            let out = tmp.path().join(format!("all-{now}"));
            let ro = RunOptions::new(Version::Nb, now);
            let r = run(&inputs, &ro, &out).expect("compact");
            assert_eq!(r.kept_for_overlap, 0, "{name}: nothing is outside the compaction");
            if now > g.now {
                assert!(r.purged > 0, "{name}: a month later nothing was purged: {r:?}");
            }
            // Everything may be gone (every session expired and purged): then no SSTable.
            let compacted = r.outputs.first().map(|d| open(&d.directory)).unwrap_or_default();
            assert_eq!(live(name, &compacted.iter().collect::<Vec<_>>(), now), before, "{name} at {now}: live content");
            for s in tombstone_verdicts(&compacted, now).as_array().expect("summaries") {
                assert_eq!(s["droppable"], 0, "{name} at {now}: droppable tombstones left: {s}");
                assert_eq!(s["blocked"], 0, "{name} at {now}: {s}");
            }

            // The oldest SSTable left out: tombstones its data may need stay, nothing resurrects.
            let out = tmp.path().join(format!("partial-{now}"));
            let r = run(&inputs[1..], &ro, &out).expect("compact");
            let partial = r.outputs.first().map(|d| open(&d.directory)).unwrap_or_default();
            let mut view: Vec<&SsTable> = vec![&inputs[0]];
            view.extend(partial.iter());
            assert_eq!(
                live(name, &view, now),
                before,
                "{name} at {now}: live content with the oldest SSTable left out"
            );
            if now > g.now && name != "sessions" {
                assert!(r.kept_for_overlap > 0, "{name}: no tombstone was kept for the SSTable left out");
            }
        }
    }
}
