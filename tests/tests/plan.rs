//! `cairn compact plan` on real SSTable sets: the facts a strategy uses come from the files
//! (Data.db sizes, levels and timestamps in Statistics.db, key ranges), the plans follow the
//! strategies' thresholds, and `--execute` does what Cassandra's compaction would (LCS output
//! split at `sstable_size_in_mb` and placed in the next level, fully expired SSTables dropped,
//! inputs replaced in place) without changing what a read returns.

use std::path::{Path, PathBuf};

use cairn_compact::plan::{ExecuteTarget, PlanRequest, Strategy, TaskKind, execute, plan_tables};
use cairn_compact::run::RunOptions;
use cairn_format::partition::{OwnedCell, Partition};
use cairn_format::partitioner::{Partitioner, murmur3_token};
use cairn_format::sstable::{OpenOptions, SsTable};
use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
use cairn_format::types::CqlType;
use cairn_format::writer::{SsTableWriter, WriterOptions};
use cairn_format::{Component, Descriptor, Version};
use cairn_inspect::open_inputs;

/// 2026-11-20T00:00Z.
const NOW: i64 = 1_795_132_800;
const DAY: i64 = 86_400;

/// One hand-built SSTable: integer keys, one text cell of `payload` bytes per partition.
struct Spec {
    generation: u64,
    keys: Vec<i32>,
    payload: usize,
    /// Write time (s).
    written: i64,
    ttl: Option<i32>,
    level: i32,
    partitioner: Partitioner,
}

impl Spec {
    fn new(generation: u64, keys: Vec<i32>, payload: usize) -> Spec {
        Spec { generation, keys, payload, written: NOW - 3600, ttl: None, level: 0, partitioner: Partitioner::Murmur3 }
    }
}

fn table_dir(root: &Path) -> PathBuf {
    let d = root.join("ks").join("t-0123456789abcdef0123456789abcdef");
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

fn write(dir: &Path, s: &Spec) -> Descriptor {
    let header = SerializationHeader::new(
        EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
        CqlType::Int,
        vec![],
        vec![],
        vec![HeaderColumn::new("v", CqlType::Text)],
    );
    let ts = s.written * 1_000_000;
    let mut parts: Vec<Partition> = s
        .keys
        .iter()
        .map(|k| {
            let mut p = Partition::new(k.to_be_bytes().to_vec());
            let value = vec![b'a' + (*k % 26) as u8; s.payload];
            let cell = match s.ttl {
                Some(ttl) => OwnedCell::expiring(0, None, value, ts, ttl, s.written),
                None => OwnedCell::live(0, None, value, ts),
            };
            p.row_mut(&[]).add_cell(cell);
            p
        })
        .collect();
    parts.sort_by_key(|p| s.partitioner.token(&p.key));
    let options = WriterOptions {
        compression: None,
        sstable_level: s.level,
        expected_partitions: parts.len() as u64,
        partitioner: s.partitioner,
        ..WriterOptions::default()
    };
    let mut w = SsTableWriter::create(dir, s.generation, header, options).expect("writer");
    for p in &parts {
        w.write_partition_content(p).expect("write");
    }
    w.finish().expect("finish")
}

fn open(dir: &Path) -> Vec<SsTable> {
    open_inputs(&[dir.to_path_buf()], &OpenOptions::default()).expect("open")
}

fn request(strategy: Strategy, options: &[(&str, &str)]) -> PlanRequest {
    PlanRequest {
        strategy: Some(strategy),
        options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        now_s: NOW,
        gc_grace_seconds: None,
        allow_unsafe_expiration: true,
    }
}

/// Generations of the next task's SSTables.
fn next_generations(tables: &[SsTable], req: &PlanRequest) -> Option<Vec<String>> {
    let p = plan_tables(tables, req).expect("plan");
    let (_, t) = p.next()?;
    Some(t.sstables.iter().map(|&i| p.sstables[i].descriptor.id.to_string()).collect())
}

/// Every live row of a table directory, merged, as dump prints them.
fn merged_dump(dir: &Path) -> String {
    let tables = open(dir);
    let o = cairn_inspect::dump::DumpOptions { ndjson: true, now_s: NOW, ..Default::default() };
    let mut out = Vec::new();
    cairn_inspect::dump::dump(&tables, &o, true, &mut out).expect("dump");
    // Byte positions belong to the files, not to the content.
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("position");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut lines = Vec::new();
    for l in String::from_utf8(out).expect("utf8").lines() {
        let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
        strip(&mut v);
        lines.push(v.to_string());
    }
    lines.join("\n")
}

/// `n` keys whose tokens are consecutive in token order, starting at the `from`-th smallest of 0..10000.
fn token_run(from: usize, n: usize) -> Vec<i32> {
    let mut keys: Vec<i32> = (0..10_000).collect();
    keys.sort_by_key(|k| murmur3_token(&k.to_be_bytes()));
    keys[from..from + n].to_vec()
}

#[test]
fn stcs_buckets_real_files_by_size_and_execute_replaces_them_in_place() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = table_dir(tmp.path());
    // Four SSTables of ~200 KiB and one of ~2 MiB.
    for g in 1..=4u64 {
        write(&dir, &Spec::new(g, (g as i32 * 1000..g as i32 * 1000 + 200).collect(), 1000));
    }
    write(&dir, &Spec::new(5, (6000..8000).collect(), 1000));
    let tables = open(&dir);
    // Below min_sstable_size (50 MiB) every file is "small": one bucket of five.
    assert_eq!(next_generations(&tables, &request(Strategy::SizeTiered, &[])).map(|v| v.len()), Some(5));
    // Without that floor, the large file is a bucket of its own.
    let exact = request(Strategy::SizeTiered, &[("min_sstable_size", "0")]);
    assert_eq!(next_generations(&tables, &exact), Some(vec!["1".into(), "2".into(), "3".into(), "4".into()]));
    // One fewer than min_threshold: nothing.
    let five = request(Strategy::SizeTiered, &[("min_sstable_size", "0"), ("min_threshold", "5")]);
    assert_eq!(next_generations(&tables, &five), None);

    let before = merged_dump(&dir);
    let p = plan_tables(&tables, &exact).expect("plan");
    let x = execute(&p, &tables, &RunOptions::new(Version::Nb, NOW), &ExecuteTarget::InPlace)
        .expect("execute")
        .expect("a task");
    assert_eq!(x.compacted.len(), 4);
    assert_eq!(x.deleted.len(), 4);
    assert_eq!(x.report.outputs.len(), 1);
    assert_eq!(x.report.partitions_out, 800);
    let after = open(&dir);
    let mut ids: Vec<String> = after.iter().map(|t| t.descriptor.id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, vec!["5".to_string(), "6".to_string()], "inputs gone, one new SSTable beside the untouched one");
    assert!(merged_dump(&dir) == before, "a compaction never changes what a read returns");
    assert_eq!(before.lines().count(), 2800);
}

#[test]
fn lcs_reads_levels_and_splits_its_output_at_sstable_size() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = table_dir(tmp.path());
    // Three overlapping L0 SSTables of ~600 KiB each, and one L1 SSTable over a narrow range.
    for g in 1..=3u64 {
        write(&dir, &Spec::new(g, (g as i32 * 2000..g as i32 * 2000 + 600).collect(), 1000));
    }
    write(&dir, &Spec { level: 1, ..Spec::new(4, token_run(5000, 50), 1000) });
    write(&dir, &Spec { level: 1, ..Spec::new(5, token_run(9900, 50), 1000) });
    let tables = open(&dir);
    let one_mib = request(Strategy::Leveled, &[("sstable_size_in_mb", "1")]);
    let p = plan_tables(&tables, &one_mib).expect("plan");
    let (_, task) = p.next().expect("task");
    assert_eq!(task.level, Some(1), "1.8 MiB of L0 exceeds one SSTable: promoted to L1");
    let ids: Vec<String> = task.sstables.iter().map(|&i| p.sstables[i].descriptor.id.to_string()).collect();
    // L0 spans nearly the whole ring, so both L1 files overlap it.
    assert_eq!(ids, vec!["1", "2", "3", "4", "5"]);
    // With 2 MiB SSTables the same L0 stays in L0.
    let two_mib = request(Strategy::Leveled, &[("sstable_size_in_mb", "2")]);
    let p2 = plan_tables(&tables, &two_mib).expect("plan");
    assert_eq!(p2.next().map(|(_, t)| (t.sstables.len(), t.level)), Some((3, Some(0))));

    let before = merged_dump(&dir);
    let out = tmp.path().join("out");
    let x = execute(&p, &tables, &RunOptions::new(Version::Nb, NOW), &ExecuteTarget::Out(out.clone()))
        .expect("execute")
        .expect("a task");
    assert!(x.deleted.is_empty(), "--out leaves the inputs");
    assert_eq!(open(&dir).len(), 5);
    let outputs = x.report.outputs;
    assert!(outputs.len() >= 2, "1.9 MiB split at 1 MiB: {outputs:?}");
    let out_dir = outputs[0].directory.clone();
    let written = open(&out_dir);
    let mut last_token = None;
    for t in &written {
        let stats = t.statistics.stats.as_ref().expect("stats");
        assert_eq!(stats.sstable_level, 1);
        let size = std::fs::metadata(t.path(Component::Data)).expect("size").len();
        assert!(size < (1 << 20) + 4096, "{size} bytes: split at 1 MiB to within a partition");
        // Outputs cover disjoint, increasing token ranges.
        let summary = t.summary().expect("summary").expect("present");
        let (first, last) = (t.token(&summary.first_key), t.token(&summary.last_key));
        if let Some(prev) = last_token {
            assert!(first > prev, "outputs overlap");
        }
        last_token = Some(last);
    }
    assert!(merged_dump(&out_dir) == before, "the merged content changed");
    let mut keys: Vec<i32> = (1..=3).flat_map(|g| g * 2000..g * 2000 + 600).collect();
    keys.extend(token_run(5000, 50));
    keys.extend(token_run(9900, 50));
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(before.lines().count(), keys.len());
    // The output is a healthy L1: nothing more to do.
    assert_eq!(next_generations(&written, &one_mib), None);
}

#[test]
fn twcs_drops_fully_expired_sstables_unless_older_live_data_overlaps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = table_dir(tmp.path());
    // Written 30 days ago with a one-minute TTL: expired 30 days ago, past gc_grace (10 days).
    let expired = Spec { written: NOW - 30 * DAY, ttl: Some(60), ..Spec::new(1, (0..100).collect(), 100) };
    write(&dir, &expired);
    write(&dir, &Spec { written: NOW - DAY, ..Spec::new(2, (100..200).collect(), 100) });
    let tables = open(&dir);
    let p = plan_tables(&tables, &request(Strategy::TimeWindow, &[])).expect("plan");
    let (_, task) = p.next().expect("task");
    assert_eq!(task.kind, TaskKind::ExpiredOnly);
    assert_eq!(task.expired.len(), 1);
    let x = execute(&p, &tables, &RunOptions::new(Version::Nb, NOW), &ExecuteTarget::InPlace)
        .expect("execute")
        .expect("task");
    assert_eq!(x.dropped.len(), 1);
    assert!(x.report.outputs.is_empty());
    let left: Vec<String> = open(&dir).iter().map(|t| t.descriptor.id.to_string()).collect();
    assert_eq!(left, vec!["2"]);

    // Older live data beside the expired SSTable: its tombstones may still shadow it, so it stays.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = table_dir(tmp.path());
    write(&dir, &expired);
    write(&dir, &Spec { written: NOW - 40 * DAY, ..Spec::new(2, (100..200).collect(), 100) });
    let tables = open(&dir);
    assert_eq!(next_generations(&tables, &request(Strategy::TimeWindow, &[])), None);
    // Unless the operator says overlaps do not matter.
    let unsafe_expiry = request(Strategy::TimeWindow, &[("unsafe_aggressive_sstable_expiration", "true")]);
    assert_eq!(next_generations(&tables, &unsafe_expiry), Some(vec!["1".to_string()]));
}

#[test]
fn the_schema_names_the_strategy_and_its_options() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = table_dir(tmp.path());
    for g in 1..=2u64 {
        write(&dir, &Spec::new(g, (g as i32 * 100..g as i32 * 100 + 10).collect(), 10));
    }
    std::fs::write(
        dir.join("schema.cql"),
        "CREATE TABLE ks.t (k int PRIMARY KEY, v text) WITH compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', 'min_threshold': '2'} AND gc_grace_seconds = 3600;",
    )
    .expect("schema");
    let tables = open(&dir);
    let req = PlanRequest { now_s: NOW, ..Default::default() };
    let p = plan_tables(&tables, &req).expect("plan");
    assert_eq!(p.strategy, Strategy::SizeTiered);
    assert_eq!(p.options.min_threshold, 2, "the schema's option applies");
    assert_eq!(p.clock.gc_before, NOW - 3600, "the schema's gc_grace_seconds applies");
    assert_eq!(p.next().map(|(_, t)| t.sstables.len()), Some(2));
    // A command-line option overrides the schema's; another strategy ignores the schema's options.
    let req = PlanRequest { options: vec![("min_threshold".into(), "3".into())], ..req };
    assert!(plan_tables(&tables, &req).expect("plan").next().is_none());
    let lcs = PlanRequest { strategy: Some(Strategy::Leveled), now_s: NOW, ..Default::default() };
    assert_eq!(plan_tables(&tables, &lcs).expect("plan").options.min_threshold, 4);
}

#[test]
fn a_schema_option_that_does_not_parse_is_an_error_not_the_default() {
    use cairn_compact::plan::PlanError;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = table_dir(tmp.path());
    write(&dir, &Spec::new(1, (0..10).collect(), 10));
    let schema = |with: &str| {
        std::fs::write(dir.join("schema.cql"), format!("CREATE TABLE ks.t (k int PRIMARY KEY, v text) WITH {with};"))
            .expect("schema");
    };
    let plan = |strategy: Option<Strategy>| {
        let tables = open(&dir);
        plan_tables(&tables, &PlanRequest { strategy, now_s: NOW, ..Default::default() })
    };
    // A compaction map that does not parse.
    schema("compaction = {'class': 'SizeTieredCompactionStrategy', 'min_threshold'}");
    assert!(matches!(plan(None), Err(PlanError::BadOption { name, .. }) if name == "compaction"));
    assert!(matches!(plan(Some(Strategy::Leveled)), Err(PlanError::BadOption { name, .. }) if name == "compaction"));
    // A class Cairn does not plan: an error naming it, unless --strategy picks one.
    schema("compaction = {'class': 'UnifiedCompactionStrategy'}");
    assert!(
        matches!(plan(None), Err(PlanError::BadOption { name, value }) if name == "class" && value == "UnifiedCompactionStrategy")
    );
    assert_eq!(plan(Some(Strategy::Leveled)).expect("plan").strategy, Strategy::Leveled);
    // A gc_grace_seconds that is not a number is refused when the schema is read, never taken as
    // the default.
    schema("gc_grace_seconds = ten_days");
    let err = open_inputs(std::slice::from_ref(&dir), &OpenOptions::default()).expect_err("refused");
    assert!(err.to_string().contains("gc_grace_seconds = ten_days"), "{err}");
}

/// Token ranges need a hashing partitioner: a byte-ordered table is refused, naming the SSTable.
#[test]
fn split_by_token_range_refuses_a_byte_ordered_table() {
    use cairn_compact::split::SplitError;
    use cairn_compact::split::{SplitOptions, split};
    use cairn_format::partitioner::NoTokenRanges;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = table_dir(tmp.path());
    let d = write(&dir, &Spec { partitioner: Partitioner::ByteOrdered, ..Spec::new(1, (0..10).collect(), 10) });
    let opts = SplitOptions { to: Version::Nb, compression: None, max_bytes: None, token_ranges: Some(2), now_s: NOW };
    let e = split(&open(&dir), &opts, &ExecuteTarget::Out(tmp.path().join("out"))).expect_err("refused");
    assert!(matches!(e, SplitError::NoTokenRanges { error: NoTokenRanges(Partitioner::ByteOrdered), .. }), "{e:?}");
    let data = d.path(Component::Data);
    assert_eq!(
        e.to_string(),
        format!("{}: token ranges cannot be computed for the ByteOrdered partitioner", data.display())
    );
}

/// The pieces of `sstablesplit`: by token range and by size, nothing lost, nothing twice.
#[test]
fn split_by_token_range_and_size_keeps_every_partition_once() {
    use cairn_compact::split::{SplitOptions, split};
    use cairn_fixtures::generate::{GenOptions, generate};
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = GenOptions {
        seed: 9,
        rows: 3000,
        version: Version::Nb,
        compression: Some(cairn_format::compression::Compressor::Lz4),
        sstables: 2,
        out: tmp.path().join("data"),
        expected: None,
        now: cairn_fixtures::generate::BASE_TIME_S,
    };
    let g = generate("collections", &opts).expect("generate");
    let before = merged_dump(&g.table_dir);
    let inputs = open(&g.table_dir);
    let split_opts =
        SplitOptions { to: Version::Nb, compression: None, max_bytes: None, token_ranges: Some(4), now_s: NOW };
    let out = tmp.path().join("ranges");
    let pieces = split(&inputs, &split_opts, &ExecuteTarget::Out(out.clone())).expect("split");
    let bounds = inputs[0].partitioner.token_boundaries(4).expect("bounds");
    assert_eq!(bounds.len(), 3);
    for s in &pieces {
        assert!(!s.outputs.is_empty() && s.outputs.len() <= 4, "{:?}", s.outputs);
        for d in &s.outputs {
            let t = SsTable::open_with(d.clone(), &OpenOptions::default()).expect("open");
            let summary = t.summary().expect("summary").expect("present");
            let range = |k: &[u8]| bounds.iter().filter(|b| **b <= t.token(k)).count();
            assert_eq!(range(&summary.first_key), range(&summary.last_key), "a piece spans one token range");
        }
    }
    let out_dir = pieces[0].outputs[0].directory.clone();
    assert!(merged_dump(&out_dir) == before, "the pieces hold the same content");
    assert_eq!(open(&g.table_dir).len(), 2, "--out leaves the inputs");

    // By size, in place: 16 KiB pieces, the inputs replaced.
    let by_size = SplitOptions { max_bytes: Some(16 << 10), token_ranges: None, ..split_opts };
    let pieces = split(&inputs, &by_size, &ExecuteTarget::InPlace).expect("split");
    let total: usize = pieces.iter().map(|s| s.outputs.len()).sum();
    assert!(total > 4, "{total} pieces");
    for s in &pieces {
        assert!(s.deleted && !s.input.path(Component::Data).exists());
        for d in &s.outputs {
            let size = std::fs::metadata(d.path(Component::Data)).expect("size").len();
            assert!(size < (16 << 10) + 8192, "{size} bytes");
        }
    }
    assert!(merged_dump(&g.table_dir) == before, "in place, the table reads the same");
    // A size larger than every SSTable skips them all.
    let tables = open(&g.table_dir);
    let big = SplitOptions { max_bytes: Some(1 << 30), ..by_size };
    let skipped = split(&tables, &big, &ExecuteTarget::InPlace).expect("split");
    assert!(skipped.iter().all(|s| s.skipped && s.outputs.is_empty() && !s.deleted));
    assert_eq!(open(&g.table_dir).len(), total);
    // A Data.db whose size cannot be read is an error, never "0 bytes, already small enough".
    let gone = tables[0].path(Component::Data);
    std::fs::remove_file(&gone).expect("remove");
    match split(&tables[..1], &big, &ExecuteTarget::InPlace) {
        Err(e) => assert!(e.to_string().contains(&gone.display().to_string()), "{e}"),
        Ok(s) => panic!("a missing Data.db was split as {s:?}"),
    }
}
