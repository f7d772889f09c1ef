//! `cairn load` round trips: generated datasets (with TTLs, collections, static columns and
//! every kind of deletion) and the corpus cases are loaded into a `cairn node`. Two readers must
//! agree with the input read reconciled: the Python driver (every column with `WRITETIME` and
//! `TTL`, tests/peers/driver_rows.py), and the node's own SSTables after a flush (live rows, write
//! timestamps and expiry times). Loading an old SSTable first and then the whole set shows
//! deletions replayed onto data the target already held. Restore semantics (`--as-of`, `rebase`,
//! renames), resume and bad input are checked.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_fixtures::generate::{GenOptions, dataset, generate_dataset};
use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_format::data::{PartitionStream, UnfilteredKind};
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_inspect::open_inputs;
use cairn_loader::{CheckpointProblem, InDoubt, LoadError, LoadOptions, TimestampMode, load};
use serde_json::{Value as J, json};

use crate::cqlite::{canon, canon_bytes};

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

/// The rows a CQL client should read at `now`, in the encoding tests/peers/driver_rows.py gives
/// the Python driver's: key and clustering values, and per column its value, with the write
/// time and the expiry (seconds) of single-cell columns.
fn client_view(tables: &[SsTable], now: i64) -> Vec<J> {
    let mut rows = Vec::new();
    if tables.is_empty() {
        return rows;
    }
    let scanners = tables.iter().map(|t| t.scanner().expect("scanner")).collect();
    let mut m = Merger::new(scanners, tables[0].partitioner).expect("merger");
    let header = PartitionStream::header(&m).clone();
    let columns = |u: Option<&cairn_format::data::Unfiltered>, list: &[cairn_format::statistics::HeaderColumn]| {
        let mut out = serde_json::Map::new();
        for (i, col) in list.iter().enumerate() {
            let cells: Vec<_> = u
                .map(|u| u.cells.iter().filter(|c| c.column as usize == i && c.is_live(now)).collect())
                .unwrap_or_default();
            let entry = if col.is_complex() {
                let parts = cells
                    .iter()
                    .map(|c| (u.and_then(|u| u.path(c)).unwrap_or_default(), u.map_or(&[][..], |u| u.value(c))));
                let v = cairn_format::types::value::from_cells(&col.ty, parts).map_or(J::Null, |v| canon(&col.ty, &v));
                json!({ "v": v })
            } else {
                match (cells.first(), u) {
                    (Some(c), Some(u)) => json!({
                        "v": canon_bytes(&col.ty, u.value(c)),
                        "wt": c.timestamp,
                        "ttl": c.is_expiring().then_some(c.local_deletion_time),
                    }),
                    _ => json!({ "v": null, "wt": null, "ttl": null }),
                }
            };
            // A column without a value reads as null whether or not the table's files know it.
            if !entry["v"].is_null() {
                out.insert(col.name.clone(), entry);
            }
        }
        out
    };
    let live = |o: &serde_json::Map<String, J>| !o.is_empty();
    while let Some(p) = m.next_partition().expect("partition").cloned() {
        let parts = cairn_format::types::value::key_components(&header.key_type, &p.key).expect("partition key");
        let pk: Vec<J> = header.key_components().iter().zip(parts).map(|(t, b)| canon_bytes(t, b)).collect();
        let statics = columns(m.static_row(), &header.static_columns);
        let mut any = false;
        while let Some(u) = m.next_unfiltered().expect("row") {
            if u.kind() != UnfilteredKind::Row {
                continue;
            }
            let mut cols = columns(Some(u), &header.regular_columns);
            if !u.liveness.is_live(now) && !live(&cols) {
                continue;
            }
            any = true;
            let ck: Vec<J> = header
                .clustering_types
                .iter()
                .enumerate()
                .map(|(i, t)| u.clustering_value(i).map_or(J::Null, |b| canon_bytes(t, b)))
                .collect();
            cols.extend(statics.clone());
            rows.push(json!({ "pk": pk, "ck": ck, "cols": cols }));
        }
        if !any && live(&statics) {
            let mut cols = columns(None, &header.regular_columns);
            cols.extend(statics);
            rows.push(json!({ "pk": pk, "ck": vec![J::Null; header.clustering_types.len()], "cols": cols }));
        }
    }
    rows.sort_by_key(J::to_string);
    rows
}

/// `keyspace` read back through the Python driver, with each remaining TTL checked against the
/// expiry `want` expects (`loaded_at` is the clock the load ran on, `started` the wall clock when
/// it began) and then replaced by that expiry, so the rows compare whole.
/// Returns the rows and how many remaining TTLs were checked.
fn driver_view(python: &str, port: u16, keyspace: &str, want: &[J], loaded_at: i64, started: i64) -> (Vec<J>, usize) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("driver_rows.py");
    let out =
        std::process::Command::new(python).arg(script).arg(port.to_string()).arg(keyspace).output().expect("python");
    assert!(out.status.success(), "driver_rows.py: {}", String::from_utf8_lossy(&out.stderr));
    let mut lines = std::str::from_utf8(&out.stdout).expect("utf-8").lines();
    let at =
        serde_json::from_str::<J>(lines.next().expect("clock line")).expect("clock json")["at"].as_i64().expect("at");
    let expiry: BTreeMap<String, i64> = want
        .iter()
        .flat_map(|r| {
            let id = format!("{} {}", r["pk"], r["ck"]);
            r["cols"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(move |(c, v)| v["ttl"].as_i64().map(|e| (format!("{id} {c}"), e)))
        })
        .collect();
    let mut tables = std::collections::BTreeSet::new();
    let mut ttls = 0;
    let mut rows: Vec<J> = lines
        .map(|l| {
            let mut r: J = serde_json::from_str(l).expect("row json");
            if let Some(t) = r.as_object_mut().and_then(|o| o.remove("table")) {
                tables.insert(t.to_string());
            }
            let id = format!("{} {}", r["pk"], r["ck"]);
            let cols = r["cols"].as_object_mut().expect("cols");
            cols.retain(|_, v| !v["v"].is_null());
            for (c, v) in cols.iter_mut() {
                if let Some(left) = v.get("ttl").and_then(J::as_i64) {
                    let key = format!("{id} {c}");
                    let Some(&e) = expiry.get(&key) else { panic!("{key}: TTL {left} on a cell that does not expire") };
                    // The remaining TTL the load wrote counted down for the seconds since it began.
                    let written = e - loaded_at;
                    assert!(
                        left <= written + 1 && left >= written - (at - started) - 2,
                        "{key}: TTL {left}, expected {written} less the {} s since the load began",
                        at - started
                    );
                    v["ttl"] = json!(e);
                    ttls += 1;
                }
            }
            r
        })
        .collect();
    assert!(tables.len() <= 1, "one table per keyspace here: {tables:?}");
    rows.sort_by_key(J::to_string);
    (rows, ttls)
}

fn assert_same_rows(what: &str, want: &[J], got: &[J]) {
    let key = |r: &J| format!("{} {}", r["pk"], r["ck"]);
    let got_by_key: BTreeMap<String, &J> = got.iter().map(|r| (key(r), r)).collect();
    let mut problems = Vec::new();
    for w in want.iter().filter(|r| !got.contains(r)) {
        match got_by_key.get(&key(w)) {
            None => problems.push(format!("row {} missing", key(w))),
            Some(g) => {
                let (wc, gc) = (&w["cols"], &g["cols"]);
                let names: std::collections::BTreeSet<&String> =
                    wc.as_object().into_iter().chain(gc.as_object()).flat_map(|o| o.keys()).collect();
                for n in names.into_iter().filter(|n| wc[n.as_str()] != gc[n.as_str()]) {
                    problems.push(format!(
                        "row {} column {n}: expected {}, read {}",
                        key(w),
                        wc[n.as_str()],
                        gc[n.as_str()]
                    ));
                }
            }
        }
    }
    let want_keys: std::collections::BTreeSet<String> = want.iter().map(key).collect();
    problems.extend(got.iter().filter(|r| !want_keys.contains(&key(r))).map(|r| format!("unexpected row {r}")));
    assert!(
        problems.is_empty() && want.len() == got.len(),
        "{what}: {} rows expected, {} read; {} problems, the first: {:?}",
        want.len(),
        got.len(),
        problems.len(),
        &problems[..problems.len().min(3)]
    );
}

fn generated(name: &str, dir: &Path, now: i64) -> (std::path::PathBuf, Vec<SsTable>) {
    generated_rows(name, dir, now, 300)
}

fn generated_rows(name: &str, dir: &Path, now: i64, rows: u64) -> (std::path::PathBuf, Vec<SsTable>) {
    let opts = GenOptions {
        seed: 77,
        rows,
        version: Version::Nb,
        compression: Some(Compressor::Lz4),
        sstables: 3,
        out: dir.to_path_buf(),
        expected: None,
        now,
    };
    let ds = dataset(name).expect("dataset");
    let g = generate_dataset(ds.as_ref(), &opts).expect("generate");
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
        // Partitions in flight together, as the CLI does by default.
        max_in_flight: 16,
        connections: 2,
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
    let python = cairn_tests::peers_python("the Python driver read-back");
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = now_s();
    let mut ttls_checked = 0;
    for name in ["sessions", "collections", "alltypes", "tombstones", "comments", "timeseries"] {
        let (_, input) = generated(name, &tmp.path().join("in").join(name), now);
        let data = tmp.path().join("node").join(name);
        let n = node(&data);
        // The load's clock is the wall clock, as in real use: remaining TTLs count from it.
        let load_now = now_s();
        let summary = load(&input, &options(&n, load_now)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(summary[0].statements > 0);
        // What a client reads: every column with WRITETIME and TTL, through the Python driver.
        if let Some(py) = &python {
            let want = client_view(&input, load_now);
            let (got, ttls) = driver_view(py, n.addr.port(), "cairn", &want, load_now, load_now);
            assert_same_rows(name, &want, &got);
            ttls_checked += ttls;
        }
        // Read at the load's clock: a cell that expired between the test's start and the load
        // (minutes apart on a busy machine) was written as the tombstone it had become.
        let want = live(&input, load_now);
        let got = live(&node_tables(&n, &data, "cairn"), load_now);
        assert!(!want.is_empty(), "{name}: no live rows");
        let only_want: Vec<&String> = want.iter().filter(|r| !got.contains(r)).take(1).collect();
        let only_got: Vec<&String> = got.iter().filter(|r| !want.contains(r)).take(1).collect();
        assert!(got == want, "{name}: {} vs {} rows; missing {only_want:?}; extra {only_got:?}", want.len(), got.len());
        // Remaining TTLs carry over: each cell expires when it did in the input (the load's
        // clock and the node's may be a second apart).
        let (exp_in, exp_out) = (expiries(&input, load_now), expiries(&node_tables(&n, &data, "cairn"), load_now));
        assert_eq!(exp_in.len(), exp_out.len(), "{name}: TTL'd cells");
        for (k, t) in &exp_in {
            let o = exp_out.get(k).unwrap_or_else(|| panic!("{name}: {k} lost its TTL"));
            assert!((o - t).abs() <= 2, "{name}: {k} expires at {o}, was {t}");
        }
        n.stop();
    }
    assert!(python.is_none() || ttls_checked > 100, "only {ttls_checked} TTLs read back through the driver");
}

/// `--timestamp-mode now` writes every restored write at the load's clock and its deletions a
/// microsecond before: what is live in the source is newer than every deletion covering it, so
/// it stays live on the target. (At one shared timestamp the deletions won the tie: most rows of
/// `tombstones` and every collection written whole were lost.)
#[test]
fn timestamp_mode_now_keeps_what_is_live() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Write times differ by design: compare the values and their liveness only.
    let untimed = |rows: Vec<String>| -> Vec<String> {
        rows.into_iter()
            .map(|r| {
                let mut out = String::with_capacity(r.len());
                let mut chars = r.chars().peekable();
                while let Some(c) = chars.next() {
                    out.push(c);
                    if c == '@' {
                        while chars.peek().is_some_and(char::is_ascii_digit) {
                            chars.next();
                        }
                    }
                }
                out
            })
            .collect()
    };
    for name in ["tombstones", "collections"] {
        let (_, input) = generated(name, &tmp.path().join("in").join(name), now_s());
        let data = tmp.path().join("node").join(name);
        let n = node(&data);
        let load_now = now_s();
        let o = LoadOptions { timestamp_mode: TimestampMode::Now, ..options(&n, load_now) };
        load(&input, &o).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = untimed(live(&input, load_now));
        let got = untimed(live(&node_tables(&n, &data, "cairn"), load_now));
        assert!(!want.is_empty(), "{name}: no live rows");
        let missing: Vec<&String> = want.iter().filter(|r| !got.contains(r)).take(1).collect();
        assert!(got == want, "{name}: {} rows loaded of {}; missing {missing:?}", got.len(), want.len());
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
    let load_now = now_s();
    load(&input, &options(&n, load_now)).expect("full load");
    if let Some(py) = cairn_tests::peers_python("the Python driver read-back") {
        let want = client_view(&input, load_now);
        assert_same_rows("tombstones", &want, &driver_view(&py, n.addr.port(), "cairn", &want, load_now, load_now).0);
    }
    assert_eq!(live(&node_tables(&n, &data, "cairn"), now), live(&input, now));
    n.stop();
}

/// Rows counted as CQL counts them: a partition with only static content is one row in a
/// SELECT, so the load's row count of the tombstones dataset (static column, deleted rows)
/// equals the rows `cairn export` reads from the input and from the node's SSTables after.
#[test]
fn the_row_count_is_the_rows_a_select_returns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = now_s();
    let (_, input) = generated_rows("tombstones", &tmp.path().join("in"), now, 4000);
    let export_rows = |tables: &[SsTable], out: &str| -> (u64, u64) {
        let eo = cairn_export::ExportOptions { out: tmp.path().join(out), now_s: now, ..Default::default() };
        let s = cairn_export::export(tables, &eo).expect("export");
        (s.iter().map(|t| t.rows).sum(), s.iter().map(|t| t.partitions).sum())
    };
    let (input_rows, input_partitions) = export_rows(&input, "export-in");
    let data = tmp.path().join("node");
    let n = node(&data);
    let summary = load(&input, &options(&n, now)).expect("load");
    let (node_rows, _) = export_rows(&node_tables(&n, &data, "cairn"), "export-node");
    n.stop();
    // The dataset has partitions whose only live content is static.
    let static_only = {
        let scanners = input.iter().map(|t| t.scanner().expect("scanner")).collect();
        let mut m = Merger::new(scanners, input[0].partitioner).expect("merger");
        let mut count = 0;
        while m.next_partition().expect("partition").is_some() {
            let has_static = m.static_row().is_some_and(|s| s.cells.iter().any(|c| c.is_live(now)));
            let mut has_row = false;
            while let Some(u) = m.next_unfiltered().expect("row") {
                has_row |= u.kind() == UnfilteredKind::Row
                    && (u.liveness.is_live(now) || u.cells.iter().any(|c| c.is_live(now)));
            }
            count += u64::from(has_static && !has_row);
        }
        count
    };
    assert!(static_only > 0, "no static-only partition in the dataset ({input_partitions} partitions)");
    assert_eq!(node_rows, input_rows, "the node holds the input's rows");
    assert_eq!(summary[0].rows, input_rows, "load counts rows as SELECT does ({static_only} static-only partitions)");
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
    assert!(
        matches!(&err, LoadError::SchemaMismatch { problems, .. } if problems == &["column nope is missing"]),
        "{err}"
    );
    // An unreachable host is a clear connection error.
    let gone = LoadOptions { hosts: vec!["127.0.0.1:1".into()], ..options(&n, now) };
    let err = load(&input, &gone).expect_err("unreachable");
    assert!(matches!(&err, LoadError::Unreachable { reason, .. } if reason == "connection refused"), "{err}");
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
    // A damaged checkpoint stops the load: it never restarts the table from its first partition.
    let good = std::fs::read_to_string(&state).expect("state");
    let wrong_token: String = good
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            format!("{}\t12345\t{}\n", f[0], f[2])
        })
        .collect();
    for damaged in [good.replace('\t', " "), good.replace('\n', "z\n"), wrong_token] {
        std::fs::write(&state, &damaged).expect("damage");
        let err = load(&input, &o).expect_err("damaged checkpoint");
        assert!(matches!(err, LoadError::Checkpoint { .. }), "{damaged:?}: {err}");
    }
    std::fs::write(&state, &good).expect("restore");
    let s = load(&input, &o).expect("resumed");
    assert_eq!(s[0].resumed_past, 7, "the finished partitions are skipped");
    assert_eq!(live(&node_tables(&n, &data, "cairn"), now), live(&input, now), "the same final state");
    n.stop();
}

/// The partition keys of `tables` in token order, with the token as the checkpoint file writes it.
fn keys_in_order(tables: &[SsTable]) -> Vec<(String, String)> {
    let scanners = tables.iter().map(|t| t.scanner().expect("scanner")).collect();
    let mut m = Merger::new(scanners, tables[0].partitioner).expect("merger");
    let mut keys = Vec::new();
    while let Some(p) = m.next_partition().expect("partition") {
        let token = match tables[0].partitioner.token(&p.key) {
            cairn_format::partitioner::Token::Murmur3(t) => t.to_string(),
            other => other.to_string(),
        };
        keys.push((token, cairn_format::types::render::hex(&p.key)));
    }
    keys
}

/// A partition with list appends is marked in doubt in the checkpoint while it is written (a
/// replay would append its elements twice on Cassandra). A rerun that finds the mark stops
/// before writing anything, naming it (`KEY@RUN`), until told whether the appends reached the
/// cluster; `send` sends them again, `skip` the rest of the partition; either way the mark goes
/// once the partition is done. An answer must name a mark; a mark at or before the partition
/// done is settled; `--plan` neither stops nor drops a mark.
#[test]
fn a_partition_in_doubt_stops_the_rerun_until_told_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = now_s();
    let (_, input) = generated("collections", &tmp.path().join("in"), now);
    let keys = keys_in_order(&input);
    let data = tmp.path().join("node");
    let n = node(&data);
    let state = tmp.path().join("load.state");
    let o = LoadOptions { resume: Some(state.clone()), ..options(&n, now) };
    let err = load(&input, &LoadOptions { stop_after: Some(3), ..o.clone() }).expect_err("interrupted");
    assert!(matches!(err, LoadError::Interrupted(3)), "{err}");
    let done = std::fs::read_to_string(&state).expect("state");
    assert!(!done.contains("in-doubt"), "an interruption waits for every write: nothing in doubt\n{done}");
    let dir = done.split('\t').next().expect("a line").to_string();
    assert_eq!(done, format!("{dir}\t{}\t{}\n", keys[2].0, keys[2].1), "the third partition is done");
    // As if a run had stopped just after marking the fourth partition, before sending it.
    let mark = |(t, k): &(String, String), run: &str| format!("{dir}\t{t}\t{k}\tin-doubt\t{run}\n");
    let marked = format!("{done}{}", mark(&keys[3], "1a"));
    std::fs::write(&state, &marked).expect("mark");
    let err = load(&input, &o).expect_err("in doubt");
    let id = format!("{}@1a", keys[3].1);
    assert!(matches!(&err, LoadError::InDoubt { marks, .. } if marks.len() == 1 && marks[0].ends_with(&id)), "{err}");
    assert!(err.to_string().contains("--resume-in-doubt MARK=send"), "{err}");
    assert_eq!(node_tables(&n, &data, "cairn").len(), 1, "nothing more written");
    // A plan neither stops at the mark nor drops it.
    load(&input, &LoadOptions { plan: true, ..o.clone() }).expect("plan");
    assert_eq!(std::fs::read_to_string(&state).expect("state"), marked);
    // An answer names a mark, and skipping keeps the first run's timestamps.
    let answer = |id: &str, what| LoadOptions { resume_in_doubt: [(id.to_string(), what)].into(), ..o.clone() };
    for other in [format!("{}@1a", keys[4].1), format!("{}@1b", keys[3].1)] {
        let err = load(&input, &answer(&other, InDoubt::Send)).expect_err("not marked");
        assert!(matches!(&err, LoadError::Checkpoint { problem: CheckpointProblem::NotInDoubt { .. }, .. }), "{err}");
    }
    let rebased = LoadOptions { timestamp_mode: TimestampMode::Rebase, ..answer(&id, InDoubt::Skip) };
    assert!(matches!(load(&input, &rebased), Err(LoadError::InDoubtSkip { .. })));
    let s = load(&input, &answer(&id, InDoubt::Send)).expect("sent again");
    assert_eq!((s[0].resumed_past, s[0].in_doubt_appends_skipped), (3, 0));
    assert_eq!(live(&node_tables(&n, &data, "cairn"), now), live(&input, now), "every element once");
    let finished = std::fs::read_to_string(&state).expect("state");
    assert!(!finished.contains("in-doubt"), "{finished}");
    // The last partition in doubt, its appends applied: skipping them leaves every element once.
    let last = keys.len() - 1;
    let marked = format!("{dir}\t{}\t{}\n{}", keys[last - 1].0, keys[last - 1].1, mark(&keys[last], "2b"));
    std::fs::write(&state, marked).expect("mark");
    let s = load(&input, &answer(&format!("{}@2b", keys[last].1), InDoubt::Skip)).expect("skipped");
    assert_eq!(s[0].resumed_past, last as u64);
    assert!(s[0].in_doubt_appends_skipped > 0, "the last partition has list appends");
    assert_eq!(live(&node_tables(&n, &data, "cairn"), now), live(&input, now), "every element once");
    let finished = std::fs::read_to_string(&state).expect("state");
    assert!(!finished.contains("in-doubt"), "{finished}");
    // A mark at or before the partition done is settled: dropped without a question.
    std::fs::write(&state, format!("{finished}{}", mark(&keys[2], "3c"))).expect("mark");
    let s = load(&input, &o).expect("settled");
    assert_eq!(s[0].resumed_past, keys.len() as u64);
    assert_eq!(std::fs::read_to_string(&state).expect("state"), finished);
    n.stop();
}

/// Every well-described corpus case loads into a node and reads back the same (live rows and
/// write timestamps, at the case's clock) — except what CQL cannot write, refused with the
/// reason: counters, and clustering prefixes of COMPACT STORAGE tables.
#[test]
fn corpus_cases_round_trip() {
    let Some(corpus) = cairn_fixtures::corpus() else { return };
    let python = cairn_tests::peers_python("the Python driver read-back");
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
        let oo = cairn_format::sstable::OpenOptions { schema_file: schema, ..Default::default() };
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
        let started = now_s();
        // COMPACT STORAGE tables may hold rows with a clustering prefix (written through Thrift):
        // CQL cannot write them, and the loader says so.
        let compact = input.first().is_some_and(|t| t.schema.compact_storage);
        match load(&input, &o) {
            Err(LoadError::Counters(_)) if counters => {}
            Err(LoadError::NullClustering { .. }) if compact => {}
            Err(e) => failures.push(format!("{}: {e}", case.id)),
            Ok(_) => {
                if let Some(py) = &python {
                    let want = client_view(&input, now);
                    assert_same_rows(case.id, &want, &driver_view(py, n.addr.port(), "corpus", &want, now, started).0);
                }
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

/// The deletion of one field of a non-frozen UDT is written (`u.f = null` at its timestamp), so
/// a target holding the field loses it as the source did; it was once dropped without a word.
#[test]
fn a_udt_field_deletion_replays_onto_the_target() {
    use scylla::client::session_builder::SessionBuilder;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (source_dir, target_dir) = (tmp.path().join("source"), tmp.path().join("target"));
    let source = node(&source_dir);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let run = |addr: String, statements: &'static [&'static str]| {
        rt.block_on(async move {
            let session = SessionBuilder::new().known_node(addr).build().await.expect("connect");
            for q in statements {
                session.query_unpaged(*q, &[]).await.expect(q);
            }
        })
    };
    run(
        source.addr.to_string(),
        &[
            "CREATE KEYSPACE s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TYPE s.pt (a int, b text)",
            "CREATE TABLE s.t (k int PRIMARY KEY, u pt)",
            "INSERT INTO s.t (k, u) VALUES (1, {a: 1, b: 'x'}) USING TIMESTAMP 1000",
        ],
    );
    let first = node_tables(&source, &source_dir, "s");
    run(source.addr.to_string(), &["UPDATE s.t USING TIMESTAMP 2000 SET u.b = null WHERE k = 1"]);
    let all = node_tables(&source, &source_dir, "s");
    source.stop();
    let later: Vec<SsTable> = open_inputs(&[source_dir.join("s")], &Default::default())
        .expect("open")
        .into_iter()
        .filter(|t| !first.iter().any(|f| f.descriptor == t.descriptor))
        .collect();
    assert!(!later.is_empty(), "the field deletion was flushed to an SSTable of its own");
    let target = node(&target_dir);
    let now = now_s();
    load(&first, &options(&target, now)).expect("the row");
    let summary = load(&later, &options(&target, now)).expect("the field deletion");
    assert_eq!(summary[0].tombstones, 1, "{summary:?}");
    assert_eq!(live(&node_tables(&target, &target_dir, "s"), now), live(&all, now));
    target.stop();
}
