//! `cairn load` round trips: generated datasets (with TTLs, collections, static columns and
//! every kind of deletion) are loaded into a `cairn node`, flushed, and the node's SSTables must
//! hold the same live rows with the same write timestamps as the input read reconciled. Loading
//! an old SSTable first and then the whole set shows deletions replayed onto data the target
//! already held. Restore semantics (`--as-of`, `rebase`, renames) and bad input are checked.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_fixtures::generate::{GenOptions, dataset, generate_dataset};
use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_format::data::{PartitionStream, UnfilteredKind};
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_inspect::open_inputs;
use cairn_loader::{LoadError, LoadOptions, TimestampMode, load};

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Live rows at `now`: key, clustering, and per column its value (simple cells with their
/// write timestamp and whether they expire; collections as their live elements).
fn live(tables: &[SsTable], now: i64) -> Vec<String> {
    if tables.is_empty() {
        return vec![];
    }
    let scanners = tables.iter().map(|t| t.scanner().expect("scanner")).collect();
    let mut m = Merger::new(scanners, tables[0].partitioner).expect("merger");
    let header = PartitionStream::header(&m).clone();
    let mut rows = Vec::new();
    while let Some(p) = m.next_partition().expect("partition").cloned() {
        let key = cairn_format::types::render::hex(&p.key);
        let cols = |u: &cairn_format::data::Unfiltered, list: &[cairn_format::statistics::HeaderColumn]| {
            let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for c in u.cells.iter().filter(|c| c.is_live(now)) {
                let name = list[c.column as usize].name.clone();
                let v = cairn_format::types::render::hex(u.value(c));
                let entry = if list[c.column as usize].is_complex() {
                    // List paths are new timeuuids on the target: compare list values only.
                    let path = match list[c.column as usize].ty.unreversed() {
                        cairn_format::types::CqlType::List { .. } => String::new(),
                        _ => cairn_format::types::render::hex(u.path(c).unwrap_or_default()),
                    };
                    format!("{path}={v}")
                } else {
                    format!("{v}@{}{}", c.timestamp, if c.is_expiring() { "+ttl" } else { "" })
                };
                out.entry(name).or_default().push(entry);
            }
            out
        };
        let statics = m.static_row().map(|s| cols(s, &header.static_columns)).unwrap_or_default();
        while let Some(u) = m.next_unfiltered().expect("row") {
            if u.kind() != UnfilteredKind::Row {
                continue;
            }
            let regular = cols(u, &header.regular_columns);
            if !u.liveness.is_live(now) && regular.is_empty() {
                continue;
            }
            let ck: Vec<String> = (0..u.clustering.len())
                .map(|i| cairn_format::types::render::hex(u.clustering_value(i).unwrap_or_default()))
                .collect();
            rows.push(format!("{key} {ck:?} {regular:?} static {statics:?} marker {}", u.liveness.is_live(now)));
        }
    }
    rows.sort();
    rows
}

/// The expiry (s) of every live TTL'd cell, by partition, clustering, column and path.
fn expiries(tables: &[SsTable], now: i64) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    if tables.is_empty() {
        return out;
    }
    let scanners = tables.iter().map(|t| t.scanner().expect("scanner")).collect();
    let mut m = Merger::new(scanners, tables[0].partitioner).expect("merger");
    let header = PartitionStream::header(&m).clone();
    while let Some(p) = m.next_partition().expect("partition").cloned() {
        while let Some(u) = m.next_unfiltered().expect("row") {
            for c in u.cells.iter().filter(|c| c.is_live(now) && c.is_expiring()) {
                let col = &header.regular_columns[c.column as usize];
                if matches!(col.ty.unreversed(), cairn_format::types::CqlType::List { .. }) {
                    continue;
                }
                let ck: Vec<Option<&[u8]>> = (0..u.clustering.len()).map(|i| u.clustering_value(i)).collect();
                out.insert(format!("{:?} {ck:?} {} {:?}", p.key, col.name, u.path(c)), c.local_deletion_time);
            }
        }
    }
    out
}

fn generated(name: &str, dir: &Path, now: i64) -> (std::path::PathBuf, Vec<SsTable>) {
    let opts = GenOptions {
        seed: 77,
        rows: 300,
        version: Version::Nb,
        compression: Some(Compressor::Lz4),
        sstables: 3,
        out: dir.to_path_buf(),
        expected: None,
    };
    let ds = dataset(name).expect("dataset");
    let g = generate_dataset(ds.as_ref(), &opts, Some(now)).expect("generate");
    let tables = open_inputs(std::slice::from_ref(&g.table_dir), &Default::default()).expect("open");
    (g.table_dir, tables)
}

fn node(dir: &Path) -> cairn_server::NodeHandle {
    cairn_server::start(cairn_server::NodeConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    })
    .expect("start")
}

fn options(node: &cairn_server::NodeHandle, now: i64) -> LoadOptions {
    LoadOptions {
        hosts: vec![node.addr.to_string()],
        now_s: now,
        create_schema: true,
        batch_statements: 50,
        ..Default::default()
    }
}

/// The node's SSTables of `ks.table`, after a flush.
fn node_tables(node: &cairn_server::NodeHandle, data: &Path, ks: &str) -> Vec<SsTable> {
    node.flush().expect("flush");
    match open_inputs(&[data.join(ks)], &Default::default()) {
        Ok(t) => t,
        // Nothing live was written: no SSTable.
        Err(cairn_inspect::InspectError::NoSsTables { .. }) => vec![],
        Err(e) => panic!("open node tables: {e}"),
    }
}

#[test]
fn generated_datasets_round_trip_with_timestamps_ttls_and_deletions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = now_s();
    for name in ["sessions", "collections", "alltypes", "tombstones", "comments", "timeseries"] {
        let (_, input) = generated(name, &tmp.path().join("in").join(name), now);
        let data = tmp.path().join("node").join(name);
        let n = node(&data);
        let summary = load(&input, &options(&n, now)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(summary[0].statements > 0);
        let want = live(&input, now);
        let got = live(&node_tables(&n, &data, "cairn"), now);
        assert!(!want.is_empty(), "{name}: no live rows");
        let only_want: Vec<&String> = want.iter().filter(|r| !got.contains(r)).take(1).collect();
        let only_got: Vec<&String> = got.iter().filter(|r| !want.contains(r)).take(1).collect();
        assert!(got == want, "{name}: {} vs {} rows; missing {only_want:?}; extra {only_got:?}", want.len(), got.len());
        // Remaining TTLs carry over: each cell expires when it did in the input (the load's
        // clock and the node's may be a second apart).
        let (exp_in, exp_out) = (expiries(&input, now), expiries(&node_tables(&n, &data, "cairn"), now));
        assert_eq!(exp_in.len(), exp_out.len(), "{name}: TTL'd cells");
        for (k, t) in &exp_in {
            let o = exp_out.get(k).unwrap_or_else(|| panic!("{name}: {k} lost its TTL"));
            assert!((o - t).abs() <= 2, "{name}: {k} expires at {o}, was {t}");
        }
        n.stop();
    }
}

#[test]
fn deletions_replay_onto_data_the_target_already_holds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = now_s();
    let (_, input) = generated("tombstones", &tmp.path().join("in"), now);
    let data = tmp.path().join("node");
    let n = node(&data);
    // The oldest SSTable first (data the later SSTables delete), then everything.
    load(&input[..1], &options(&n, now)).expect("first load");
    load(&input, &options(&n, now)).expect("full load");
    assert_eq!(live(&node_tables(&n, &data, "cairn"), now), live(&input, now));
    n.stop();
}

#[test]
fn restore_semantics_and_bad_input() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = now_s();
    let (_, input) = generated("sessions", &tmp.path().join("in"), now);
    let data = tmp.path().join("node");
    let n = node(&data);
    // --plan writes nothing.
    let plan = load(&input, &LoadOptions { plan: true, ..options(&n, now) }).expect("plan");
    assert!(plan[0].statements > 0);
    assert!(!data.join("cairn").exists() || node_tables(&n, &data, "cairn").is_empty());
    // Renamed target, rebased timestamps: every written timestamp is after the load started.
    let started = now * 1_000_000;
    let o = LoadOptions {
        target_keyspace: Some("restored".into()),
        renames: vec![("session_data".into(), "payload".into())],
        timestamp_mode: TimestampMode::Rebase,
        ..options(&n, now)
    };
    load(&input, &o).expect("rebased load");
    let restored = node_tables(&n, &data, "restored");
    let min_ts =
        restored.iter().filter_map(|t| t.statistics.stats.as_ref().map(|s| s.min_timestamp)).min().expect("stats");
    assert!(min_ts >= started - 3_600_000_000 * 24 * 30, "rebased timestamps");
    let max_in = input.iter().filter_map(|t| t.statistics.stats.as_ref().map(|s| s.max_timestamp)).max().expect("max");
    let max_out =
        restored.iter().filter_map(|t| t.statistics.stats.as_ref().map(|s| s.max_timestamp)).max().expect("max");
    assert!(max_out > max_in && max_out >= started, "the newest restored write lands after the load began");
    assert!(restored[0].header.regular_columns.iter().any(|c| c.name == "payload"));
    // --as-of: nothing newer than the cut-off is written.
    let cut = input.iter().filter_map(|t| t.statistics.stats.as_ref().map(|s| s.min_timestamp)).max().expect("ts");
    let o = LoadOptions { target_keyspace: Some("asof".into()), as_of: Some(cut), ..options(&n, now) };
    let s = load(&input, &o).expect("as-of load");
    assert!(s[0].skipped_newer > 0);
    let asof = node_tables(&n, &data, "asof");
    assert!(asof.iter().all(|t| t.statistics.stats.as_ref().is_some_and(|s| s.max_timestamp <= cut)));
    // A schema mismatch stops the load before any write.
    let mismatch = LoadOptions {
        target_keyspace: Some("restored".into()),
        renames: vec![("session_data".into(), "nope".into())],
        create_schema: false,
        ..options(&n, now)
    };
    let err = load(&input, &mismatch).expect_err("mismatch");
    assert!(matches!(err, LoadError::Schema { .. }), "{err}");
    // An unreachable host is a clear connection error.
    let gone = LoadOptions { hosts: vec!["127.0.0.1:1".into()], ..options(&n, now) };
    assert!(matches!(load(&input, &gone), Err(LoadError::Connect { .. })));
    n.stop();
}

#[test]
fn an_interrupted_load_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = now_s();
    let (_, input) = generated("tombstones", &tmp.path().join("in"), now);
    let data = tmp.path().join("node");
    let n = node(&data);
    let state = tmp.path().join("load.state");
    let o = LoadOptions { resume: Some(state.clone()), ..options(&n, now) };
    let err = load(&input, &LoadOptions { stop_after: Some(7), ..o.clone() }).expect_err("interrupted");
    assert!(matches!(err, LoadError::Interrupted(7)), "{err}");
    assert!(state.is_file());
    let s = load(&input, &o).expect("resumed");
    assert_eq!(s[0].resumed_past, 7, "the finished partitions are skipped");
    assert_eq!(live(&node_tables(&n, &data, "cairn"), now), live(&input, now), "the same final state");
    n.stop();
}

/// Every well-described corpus case loads into a node and reads back the same (live rows and
/// write timestamps, at the case's clock) — except what CQL cannot write, refused with the
/// reason: counters, and clustering prefixes of COMPACT STORAGE tables.
#[test]
fn corpus_cases_round_trip() {
    let Some(corpus) = cairn_fixtures::corpus() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = 1_700_000_000;
    let mut loaded = 0;
    let mut failures = Vec::new();
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt() && c.well_described()) {
        let schema = case.schema_cql().map(|cql| {
            let f = tmp.path().join(format!("{}.cql", case.id));
            std::fs::write(&f, cql).expect("schema");
            f
        });
        let oo = cairn_format::sstable::OpenOptions { schema_file: schema, no_verify: false };
        let input = open_inputs(std::slice::from_ref(&case.dir), &oo).expect("open");
        let counters = input.iter().any(|t| {
            t.header
                .regular_columns
                .iter()
                .chain(&t.header.static_columns)
                .any(|c| matches!(c.ty, cairn_format::types::CqlType::Counter))
        });
        let data = tmp.path().join("node").join(case.id);
        let n = node(&data);
        let o = LoadOptions { target_keyspace: Some("corpus".into()), ..options(&n, now) };
        // COMPACT STORAGE tables may hold rows with a clustering prefix (written through Thrift):
        // CQL cannot write them, and the loader says so.
        let compact = input.first().is_some_and(|t| t.schema.compact_storage);
        match load(&input, &o) {
            Err(LoadError::Counters(_)) if counters => {}
            Err(LoadError::Value(m)) if compact && m.contains("null clustering value") => {}
            Err(e) => failures.push(format!("{}: {e}", case.id)),
            Ok(_) => {
                let got = live(&node_tables(&n, &data, "corpus"), now);
                let want = live(&input, now);
                if got == want {
                    loaded += 1;
                } else {
                    failures.push(format!("{}: {} rows read back, {} expected", case.id, got.len(), want.len()));
                }
            }
        }
        n.stop();
    }
    assert!(failures.is_empty(), "{} loaded; failures:\n{}", loaded, failures.join("\n"));
    assert!(loaded > 10, "only {loaded} corpus cases loaded");
}
