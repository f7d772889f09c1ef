//! `cairn compact run` end to end: the live content never changes, tombstones past gc_grace go
//! when nothing outside the compaction needs them, and stay — without resurrecting anything —
//! when an SSTable left out of the compaction holds older data for their partition.

use std::path::Path;

use cairn_compact::run::{Explanation, RunOptions, run, run_explained};
use cairn_fixtures::generate::{GenOptions, dataset, generate, live_row_line};
use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_format::data::PartitionStream;
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

/// `name` generated (600 rows, `seed`) as three overlapping LZ4 `nb` SSTables under `dir`.
fn three_sstables(name: &str, seed: u64, dir: &Path) -> (cairn_fixtures::generate::Generated, Vec<SsTable>) {
    let opts = GenOptions {
        seed,
        rows: 600,
        version: Version::Nb,
        compression: Some(Compressor::Lz4),
        sstables: 3,
        out: dir.join("data"),
        expected: None,
        now: cairn_fixtures::generate::BASE_TIME_S,
    };
    let g = generate(name, &opts).expect("generate");
    let inputs = open(&g.table_dir);
    (g, inputs)
}

fn tombstone_verdicts(tables: &[SsTable], now: i64) -> serde_json::Value {
    let o = TombstoneOptions { now_s: now, top: 0, json: true, ..Default::default() };
    let mut out = Vec::new();
    tombstones(tables, &o, &mut out).expect("report");
    serde_json::from_slice(&out).expect("json")
}

/// Cells and row markers in `tables`: read one by one, or (`merged`) after reconciliation,
/// with what the merger says it dropped.
fn cells_and_markers(tables: &[&SsTable], merged: bool) -> (u64, cairn_format::reconcile::MergeCounts) {
    let mut n = 0u64;
    let mut count = |m: &mut Merger| {
        while m.next_partition().expect("partition").is_some() {
            if let Some(s) = m.static_row() {
                n += s.cells.len() as u64;
            }
            while let Some(u) = m.next_unfiltered().expect("row") {
                n += u.cells.len() as u64 + u64::from(!u.liveness.is_empty());
            }
        }
    };
    let mut counts = cairn_format::reconcile::MergeCounts::default();
    if merged {
        let scanners = tables.iter().map(|t| t.scanner().expect("scanner")).collect();
        let mut m = Merger::new(scanners, tables[0].partitioner).expect("merger");
        count(&mut m);
        counts = m.counts();
    } else {
        for t in tables {
            count(&mut Merger::new(vec![t.scanner().expect("scanner")], t.partitioner).expect("merger"));
        }
    }
    (n, counts)
}

#[test]
fn compaction_purges_what_cassandra_would_and_never_changes_what_a_read_returns() {
    for (seed, name) in [(3u64, "tombstones"), (4, "comments"), (5, "sessions")] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (g, inputs) = three_sstables(name, seed, tmp.path());
        assert_eq!(inputs.len(), 3);
        let all: Vec<&SsTable> = inputs.iter().collect();
        // Every cell and marker read is either in the merge's output or counted as shadowed or
        // superseded.
        let (read, _) = cells_and_markers(&all, false);
        let (kept, dropped) = cells_and_markers(&all, true);
        assert_eq!(read, kept + dropped.shadowed + dropped.superseded, "{name}: {dropped:?}");
        if name == "tombstones" {
            assert!(dropped.shadowed > 0 && dropped.superseded > 0, "{name}: {dropped:?}");
        }
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
            // A dry run with --explain first: it decides the same and writes nothing.
            let out = tmp.path().join(format!("partial-{now}"));
            let mut explained: Vec<Explanation> = Vec::new();
            let dry = RunOptions { dry_run: true, ..ro.clone() };
            let target = cairn_compact::upgrade::target_dir(&inputs[1].descriptor, &out);
            let d = run_explained(&inputs[1..], &dry, &target, &mut |e| explained.push(e.clone())).expect("dry run");
            assert!(!out.exists(), "{name}: a dry run wrote {}", out.display());
            let r = run(&inputs[1..], &ro, &out).expect("compact");
            assert_eq!(
                (d.partitions_in, d.partitions_out, d.purged, d.kept_for_overlap),
                (r.partitions_in, r.partitions_out, r.purged, r.kept_for_overlap),
                "{name}: dry run vs run"
            );
            assert_eq!(explained.iter().map(|e| e.purged).sum::<u64>(), r.purged, "{name}: purged, explained");
            assert_eq!(
                explained.iter().map(|e| e.kept_overlap).sum::<u64>(),
                r.kept_for_overlap,
                "{name}: kept, explained"
            );
            assert_eq!(explained.iter().filter(|e| e.removed).count() as u64, r.partitions_in - r.partitions_out);
            // Each tombstone kept for the SSTable left out names it; where that SSTable really
            // holds the key (not a bloom filter false positive), the explanation is right.
            let oldest = inputs[0].descriptor.path(cairn_format::Component::Data);
            let oldest_name = oldest.file_name().expect("name").to_string_lossy().to_string();
            let mut oldest_keys = std::collections::BTreeSet::new();
            let mut m =
                Merger::new(vec![inputs[0].scanner().expect("scanner")], inputs[0].partitioner).expect("merger");
            while let Some(p) = m.next_partition().expect("partition") {
                oldest_keys.insert(p.key.clone());
                while m.next_unfiltered().expect("row").is_some() {}
            }
            for e in explained.iter().filter(|e| e.kept_overlap > 0) {
                assert_eq!(e.blockers, vec![oldest_name.clone()], "{name}: {e:?}");
            }
            if r.kept_for_overlap > 0 {
                assert!(explained.iter().any(|e| e.kept_overlap > 0 && oldest_keys.contains(&e.key)), "{name}");
            }
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

/// Every cell, marker and deletion of `tables`, one by one.
fn stored(tables: &[&SsTable]) -> u64 {
    let mut n = 0u64;
    for t in tables {
        let mut m = Merger::new(vec![t.scanner().expect("scanner")], t.partitioner).expect("merger");
        while let Some(p) = m.next_partition().expect("partition") {
            n += u64::from(!p.deletion.is_live());
            if let Some(s) = m.static_row() {
                n += s.cells.len() as u64;
            }
            while let Some(u) = m.next_unfiltered().expect("row") {
                n += u.cells.len() as u64
                    + u.complex_deletions.len() as u64
                    + u64::from(!u.liveness.is_empty())
                    + u64::from(!u.deletion.is_live());
            }
        }
    }
    n
}

#[test]
fn gc_drops_what_other_sstables_make_dead_and_reads_never_change() {
    use cairn_compact::gc::{Granularity, gc};
    use cairn_compact::plan::ExecuteTarget;
    for (seed, name) in [(11u64, "tombstones"), (12, "comments"), (13, "collections")] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (g, inputs) = three_sstables(name, seed, tmp.path());
        let all: Vec<&SsTable> = inputs.iter().collect();
        let before = live(name, &all, g.now);
        let mut collected = Vec::new();
        for (i, granularity) in [Granularity::Row, Granularity::Cell].into_iter().enumerate() {
            let ro = RunOptions::new(Version::Nb, g.now);
            // A dry run decides the same and writes nothing.
            let dry = RunOptions { dry_run: true, ..ro.clone() };
            let out = tmp.path().join(format!("gc-{i}"));
            let d = gc(&inputs, granularity, &dry, &ExecuteTarget::Out(out.clone()), &mut |_| {}).expect("dry");
            assert!(!out.exists(), "{name}: the dry run wrote");
            let done = gc(&inputs, granularity, &ro, &ExecuteTarget::Out(out.clone()), &mut |_| {}).expect("gc");
            assert_eq!(
                d.iter().map(|c| (c.collected, c.report.purged)).collect::<Vec<_>>(),
                done.iter().map(|c| (c.collected, c.report.purged)).collect::<Vec<_>>(),
                "{name}: dry run vs run"
            );
            let outputs: Vec<SsTable> = done
                .iter()
                .flat_map(|c| &c.report.outputs)
                .map(|d| SsTable::open_with(d.clone(), &Default::default()).expect("open"))
                .collect();
            let after: Vec<&SsTable> = outputs.iter().collect();
            assert_eq!(live(name, &after, g.now), before, "{name} {granularity:?}: what a read returns");
            let n: u64 = done.iter().map(|c| c.collected).sum();
            let purged: u64 = done.iter().map(|c| c.report.purged).sum();
            // What gc reports is what left the files (expired cells turned to tombstones stay
            // one item each).
            assert_eq!(stored(&all), stored(&after) + n + purged, "{name} {granularity:?}: items");
            collected.push(n);
        }
        if name == "tombstones" {
            assert!(collected[0] > 0, "{name}: row granularity collected nothing");
        }
        assert!(
            collected[1] >= collected[0],
            "{name}: cell granularity collects at least what row does: {collected:?}"
        );
        // In place: each input replaced, the same reads.
        let ro = RunOptions::new(Version::Nb, g.now);
        let done = gc(&inputs, Granularity::Cell, &ro, &ExecuteTarget::InPlace, &mut |_| {}).expect("in place");
        assert!(done.iter().all(|c| c.deleted && !c.input.path(cairn_format::Component::Data).exists()));
        let now_there = open_inputs(std::slice::from_ref(&g.table_dir), &Default::default()).unwrap_or_default();
        assert_eq!(live(name, &now_there.iter().collect::<Vec<_>>(), g.now), before, "{name}: in place");
    }
}

#[test]
fn gc_into_a_directory_leaves_nothing_when_an_sstable_is_corrupt() {
    use cairn_compact::gc::{Granularity, gc};
    use cairn_compact::plan::ExecuteTarget;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (g, inputs) = three_sstables("tombstones", 21, tmp.path());
    // The newest SSTable is collected last and read as a shadow source by the others: the
    // damage is met early or late, and either way nothing may be left.
    let newest =
        inputs.iter().max_by_key(|t| t.statistics.stats.as_ref().map_or(0, |s| s.max_timestamp)).expect("an SSTable");
    let data = newest.descriptor.path(cairn_format::Component::Data);
    let mut bytes = std::fs::read(&data).expect("read");
    // Damage near the end: the partitions there are read late.
    let at = bytes.len().saturating_sub(48);
    for b in bytes.iter_mut().skip(at).take(32) {
        *b ^= 0x5a;
    }
    std::fs::write(&data, &bytes).expect("write");
    let inputs = open(&g.table_dir);
    let out = tmp.path().join("gc");
    let ro = RunOptions::new(Version::Nb, g.now);
    let err = gc(&inputs, Granularity::Row, &ro, &ExecuteTarget::Out(out.clone()), &mut |_| {}).expect_err("corrupt");
    assert!(err.to_string().contains("Data.db"), "a located error: {err}");
    let left: Vec<_> = walk(&out).into_iter().filter(|p| p.to_string_lossy().ends_with("-Data.db")).collect();
    assert!(left.is_empty(), "outputs left behind: {left:?}");
}

/// Mark `table` as `sstablerepairedset` and an incremental repair do: rewrite its Statistics.db
/// with these repair fields (Cassandra's `mutateRepairMetadata`); nothing else changes.
fn mark_repair(table: &SsTable, repaired_at: i64, pending_repair: Option<[u8; 16]>, is_transient: bool) {
    let path = table.descriptor.path(cairn_format::Component::Statistics);
    let version = table.descriptor.version;
    let mut s = cairn_format::statistics::parse(&std::fs::read(&path).expect("read"), version).expect("parse");
    let stats = s.stats.as_mut().expect("a stats component");
    (stats.repaired_at, stats.pending_repair, stats.is_transient) = (repaired_at, pending_repair, is_transient);
    std::fs::write(&path, cairn_format::statistics::encode(&s, version)).expect("write");
}

fn repair_fields(dir: &Path) -> Vec<(i64, Option<[u8; 16]>, bool)> {
    let tables = open(dir);
    tables
        .iter()
        .map(|t| t.statistics.stats.as_ref().map(|s| (s.repaired_at, s.pending_repair, s.is_transient)))
        .map(|s| s.expect("a stats component"))
        .collect()
}

#[test]
fn rewrites_keep_the_repair_state_and_never_mix_two() {
    use cairn_compact::upgrade::{UpgradeOptions, upgrade};
    let session = [0x5e; 16];
    let tmp = tempfile::tempdir().expect("tempdir");
    let (g, inputs) = three_sstables("timeseries", 5, tmp.path());
    assert!(inputs.len() >= 2, "a compaction of several SSTables");
    let at = [1_700_000_300_000, 1_700_000_100_000, 1_700_000_200_000];
    for (t, at) in inputs.iter().zip(at) {
        mark_repair(t, at, None, false);
    }
    // Repaired at different times: the output keeps the earliest, as Cassandra's
    // `getMinRepairedAt`, never a later claim and never "unrepaired" for repaired data.
    let out = tmp.path().join("repaired");
    let r = run(&open(&g.table_dir), &RunOptions::new(Version::Nb, g.now), &out).expect("compact");
    let written = r.outputs.first().expect("an output").directory.clone();
    assert_eq!(repair_fields(&written), vec![(1_700_000_100_000, None, false)]);

    // Pending in one session, transient: compaction and upgrade keep both, Cassandra-readable.
    for t in &inputs {
        mark_repair(t, 0, Some(session), true);
    }
    let inputs = open(&g.table_dir);
    let out = tmp.path().join("pending");
    let r = run(&inputs, &RunOptions::new(Version::Nb, g.now), &out).expect("compact");
    let written = r.outputs.first().expect("an output").directory.clone();
    assert_eq!(repair_fields(&written), vec![(0, Some(session), true)]);
    let up = tmp.path().join("upgraded");
    let to_oa = UpgradeOptions { to: Version::Oa, compression: None };
    let done = upgrade(&inputs, &to_oa, &up).expect("upgrade");
    let dir = done.first().expect("outputs").directory.clone();
    assert_eq!(repair_fields(&dir), vec![(0, Some(session), true); inputs.len()]);
    // `me` (Cassandra 3.11) has neither field: the data is unrepaired there.
    let down = tmp.path().join("me");
    let done = upgrade(&inputs[..1], &UpgradeOptions { to: Version::Me, compression: None }, &down).expect("to me");
    let dir = done.first().expect("an output").directory.clone();
    assert_eq!(repair_fields(&dir), vec![(0, None, false)]);

    // One input in another session, not transient, or not pending at all: as Cassandra's major
    // compaction, each repair group is compacted apart and keeps its own state, never merged.
    let newest = inputs.last().expect("SSTables");
    for (i, other) in [(Some([0x77; 16]), true), (Some(session), false), (None, false)].into_iter().enumerate() {
        mark_repair(newest, 0, other.0, other.1);
        let out = tmp.path().join(format!("mixed-{i}"));
        let r = run(&open(&g.table_dir), &RunOptions::new(Version::Nb, g.now), &out).expect("compact");
        assert_eq!(r.outputs.len(), 2, "one output per repair group");
        let written = r.outputs.first().expect("outputs").directory.clone();
        let mut states = repair_fields(&written);
        states.sort();
        let mut want = vec![(0, other.0, other.1), (0, Some(session), true)];
        want.sort();
        assert_eq!(states, want);
        mark_repair(newest, 0, Some(session), true);
    }
    // Called on one group directly, a compaction of mixed states is refused before anything
    // is written: the output could record only one.
    mark_repair(newest, 0, Some([0x77; 16]), true);
    let out = tmp.path().join("refused");
    let err = cairn_compact::run::run_with(
        &open(&g.table_dir),
        &[],
        &RunOptions::new(Version::Nb, g.now),
        &out,
        None,
        &mut |_| {},
    )
    .expect_err("mixed");
    let text = err.to_string();
    assert!(text.contains("different repair states") && text.contains("pending repair 77777777"), "{text}");
    assert!(walk(&out).is_empty(), "a refused compaction wrote {:?}", walk(&out));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
