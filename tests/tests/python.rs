//! The `cairn` Python package (python/), installed by `scripts/python-wheel` into a virtualenv
//! of its own, checked by tests/peers/python_package.py: `scan()` holds exactly `cairn export`'s
//! rows and Arrow types (the Parquet dataset as Arrow tables; the NDJSON dataset row for row,
//! its integer, boolean, text, float, decimal, blob and date values), live and mutations, for
//! generated datasets over several overlapping SSTables and every well-described corpus case;
//! `splits()` cover the ring exactly once and their scans add up to the whole scan; a corrupt
//! SSTable raises `CairnError` naming the file; DuckDB and pandas read a scan; `tables()` groups
//! as the CLI does; `dump()` and `tombstones()` return the CLI's JSON documents; `write()` of a
//! scan (every CQL type the generator makes, collections and UDTs) scans back equal, from a
//! Table or an iterator of batches, with a TTL that expires, and refuses a column of the wrong
//! type leaving no SSTable; Spark reads and writes through `cairn.spark`.

use std::path::Path;
use std::process::Command;

use cairn_export::{ExportOptions, Format, Mode, export};
use cairn_fixtures::generate::{BASE_TIME_S, GenOptions, Generated, generate};
use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_format::sstable::{OpenOptions, SsTable};
use cairn_inspect::open_inputs;
use serde_json::{Value as J, json};

fn gen_table(name: &str, seed: u64, rows: u64, out: &Path) -> Generated {
    let opts = GenOptions {
        seed,
        rows,
        version: Version::Nb,
        compression: Some(Compressor::Lz4),
        sstables: 3,
        out: out.to_path_buf(),
        expected: None,
        now: BASE_TIME_S,
    };
    generate(name, &opts).expect("generate")
}

/// Export `tables` (one table) in `mode` as Parquet and as NDJSON; the two dataset paths.
fn export_both(tables: &[SsTable], mode: Mode, now: i64, out: &Path) -> (String, String, u64, u64) {
    let mut paths = Vec::new();
    let mut counts = (0, 0);
    for format in [Format::Parquet, Format::Ndjson] {
        let eo = ExportOptions {
            out: out.join(format!("{format:?}-{mode:?}")),
            mode,
            now_s: now,
            format,
            ..Default::default()
        };
        let s = export(tables, &eo).unwrap_or_else(|e| panic!("export {}: {e}", out.display()));
        assert_eq!(s.len(), 1, "one table");
        counts = (s[0].rows, s[0].partitions);
        paths.push(s[0].path.clone());
    }
    (paths[0].clone(), paths[1].clone(), counts.0, counts.1)
}

/// Run the checks; their output lines.
fn run(python: &str, jobs: &[J], tmp: &Path) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("python_package.py");
    let file = tmp.join(format!("jobs-{}.json", jobs.len()));
    std::fs::write(&file, serde_json::to_string(jobs).expect("json")).expect("write jobs");
    let o = Command::new(python).arg(&script).arg(&file).output().expect("run python");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "python_package.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    for line in stdout.lines().filter(|l| l.starts_with("ok ")) {
        eprintln!("{line}");
    }
    stdout.lines().map(str::to_string).collect()
}

fn count(lines: &[String], check: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(&format!("ok {check} "))).count()
}

#[test]
fn scan_equals_export_for_generated_datasets_and_splits_cover_the_ring() {
    let Some(python) = cairn_tests::package_python() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut jobs = Vec::new();
    let mut sessions = None;
    for (seed, name, rows) in
        [(21u64, "alltypes", 400), (22, "collections", 400), (23, "sessions", 600), (24, "wide", 2000)]
    {
        let g = gen_table(name, seed, rows, &tmp.path().join("data").join(name));
        let tables = open_inputs(std::slice::from_ref(&g.table_dir), &OpenOptions::default()).expect("open");
        let bad_column = match name {
            "alltypes" => Some("c_int"),
            "collections" => Some("fset"),
            _ => None,
        };
        if let Some(bad_column) = bad_column {
            jobs.push(json!({"check": "write", "name": name, "path": g.table_dir, "schema": g.schema, "now": g.now,
                "out": tmp.path().join("write").join(name), "bad_column": bad_column}));
        }
        for mode in [Mode::Live, Mode::Mutations] {
            let (parquet, ndjson, rows, partitions) =
                export_both(&tables, mode, g.now, &tmp.path().join("export").join(name));
            assert!(rows > 0, "{name}: no rows");
            jobs.push(json!({"check": "equals_export", "name": name, "path": g.table_dir, "mode":
                if mode == Mode::Live { "live" } else { "mutations" }, "now": g.now, "parquet": parquet,
                "ndjson": ndjson, "batch_rows": 97}));
            if name == "sessions" && mode == Mode::Live {
                sessions = Some((g.table_dir.clone(), rows, partitions, tables.clone()));
            }
        }
    }
    let (dir, rows, partitions, tables) = sessions.expect("sessions");
    let location = cairn_format::location::TableLocation::of(&tables[0]);
    jobs.push(json!({"check": "tables", "path": dir, "keyspace": location.keyspace, "table": location.table,
        "sstables": tables.len()}));
    let key = tables[0].schema.partition_key.first().map(|c| c.name.clone()).expect("a named key column");
    jobs.push(json!({"check": "engines", "name": "sessions", "path": dir, "now": BASE_TIME_S, "rows": rows,
        "partitions": partitions, "key": key}));
    // Enough partitions for Summary.db to hold many samples (one per 128 partitions).
    let g = gen_table("sessions", 25, 20_000, &tmp.path().join("data").join("many"));
    let data: u64 = open_inputs(std::slice::from_ref(&g.table_dir), &OpenOptions::default())
        .expect("open")
        .iter()
        .map(|t| t.data_length().expect("length"))
        .sum();
    jobs.push(json!({"check": "splits", "name": "sessions-20000", "path": g.table_dir, "now": g.now,
        "splits": [{"n": 7}, {"target_bytes": data / 5}]}));
    jobs.push(json!({"check": "key_ranges", "name": "sessions-20000", "path": g.table_dir, "now": g.now,
        "key": key, "absent": "no-such-session"}));
    let lines = run(&python, &jobs, tmp.path());
    assert_eq!(count(&lines, "equals_export"), 8, "{lines:?}");
    assert_eq!(count(&lines, "write"), 2, "{lines:?}");
    assert_eq!((count(&lines, "tables"), count(&lines, "engines"), count(&lines, "splits")), (1, 1, 2), "{lines:?}");
    assert_eq!(count(&lines, "key_ranges"), 1, "{lines:?}");
}

#[test]
fn scan_equals_export_for_corpus_cases() {
    let Some(corpus) = cairn_fixtures::corpus() else { return };
    let Some(python) = cairn_tests::package_python() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let now = 1_700_000_000;
    let mut jobs = Vec::new();
    for t in corpus_tables(&corpus, tmp.path()) {
        for mode in [Mode::Live, Mode::Mutations] {
            let out = tmp.path().join("export").join(&t.case).join(&t.name);
            let (parquet, ndjson, _, _) = export_both(&t.sstables, mode, now, &out);
            jobs.push(json!({"check": "equals_export", "name": format!("{} {}", t.case, t.qualified),
                "path": t.dir, "table": t.qualified, "schema": t.schema, "mode":
                if mode == Mode::Live { "live" } else { "mutations" }, "now": now, "parquet": parquet,
                "ndjson": ndjson}));
        }
    }
    assert!(jobs.len() > 20, "only {} corpus scans", jobs.len());
    let lines = run(&python, &jobs, tmp.path());
    assert_eq!(count(&lines, "equals_export"), jobs.len(), "{lines:?}");
}

#[test]
fn a_corrupt_sstable_raises_cairn_error_naming_the_file() {
    let Some(python) = cairn_tests::package_python() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let g = gen_table("alltypes", 41, 2000, &tmp.path().join("data"));
    // Damage the middle of the second SSTable's Data.db.
    let data = &g.sstables[1];
    let mut bytes = std::fs::read(data).expect("read");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(data, &bytes).expect("write");
    let file = data.file_name().expect("name").to_string_lossy().to_string();
    let jobs: Vec<J> = ["live", "mutations"]
        .iter()
        .map(|mode| json!({"check": "corrupt", "path": g.table_dir, "now": g.now, "mode": mode, "file": file}))
        .collect();
    let lines = run(&python, &jobs, tmp.path());
    assert_eq!(count(&lines, "corrupt"), 2, "{lines:?}");
}

#[test]
fn dump_and_tombstones_return_the_cli_documents() {
    let Some(python) = cairn_tests::package_python() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let g = gen_table("tombstones", 51, 500, &tmp.path().join("data"));
    let lines = run(&python, &[json!({"check": "documents", "path": g.table_dir, "now": g.now})], tmp.path());
    let doc = |name: &str| -> J {
        let line = lines.iter().find_map(|l| l.strip_prefix(&format!("doc {name} "))).expect("document printed");
        serde_json::from_str(line).expect("json")
    };
    let tables: Vec<SsTable> = open_inputs(std::slice::from_ref(&g.table_dir), &OpenOptions::default()).expect("open");
    let mut out = Vec::new();
    let opts = cairn_inspect::dump::DumpOptions { now_s: g.now, ..Default::default() };
    cairn_inspect::dump::dump(&tables, &opts, true, &mut out).expect("dump");
    let want: J = serde_json::from_slice(&out).expect("dump json");
    assert!(want.as_array().is_some_and(|a| !a.is_empty()), "{want}");
    assert_eq!(doc("dump"), want);
    let mut out = Vec::new();
    let opts = cairn_inspect::tombstones::TombstoneOptions { now_s: g.now, top: 10, json: true, ..Default::default() };
    cairn_inspect::tombstones::tombstones(&tables, &opts, &mut out).expect("tombstones");
    let want: J = serde_json::from_slice(&out).expect("tombstones json");
    assert_eq!(doc("tombstones"), want);
    assert!(lines.iter().any(|l| l == "ok documents"), "{lines:?}");
}

/// Spark local[2] through `cairn.spark.CairnDataSource`, one Spark session for every check.
///
/// Reading: the DataFrame equals `scan()` row for row, with its count, a groupBy and a
/// self-join, over a split size that makes several tasks; a corrupt SSTable fails the job with
/// Cairn's located message.
///
/// Writing: the `timeseries` (date and text partition key, DESC clustering, a static column)
/// and `collections` (frozen and non-frozen sets, maps, lists, UDTs, a tuple) datasets, read
/// with format("cairn") in several tasks and written back with format("cairn") into fresh
/// directories: every written SSTable verifies; the written table's `scan()` equals the
/// original's and Spark reads back the DataFrame it wrote (values; timestamps differ); Cairn's
/// reconciled read of the written timeseries equals the original's, and cqlite-py reads the
/// same rows from the written files; a DataFrame with a column that does not fit fails the job
/// with the message naming the column and both types, leaving nothing in its directory.
#[test]
fn spark_reads_and_writes_through_the_cairn_data_source() {
    let Some(python) = cairn_tests::package_python() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    // Many partitions (a session each), so Summary.db's samples allow many splits.
    let g = gen_table("sessions", 7, 6_000, &tmp.path().join("data"));
    let bad = gen_table("sessions", 7, 6_000, &tmp.path().join("bad"));
    let data = &bad.sstables[1];
    let mut bytes = std::fs::read(data).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(data, &bytes).expect("write");
    let series = gen_table("timeseries", 8, 3_000, &tmp.path().join("series"));
    let colls = gen_table("collections", 9, 600, &tmp.path().join("colls"));
    let written_dir = |name: &str| tmp.path().join("written").join(name);
    let timestamp = (BASE_TIME_S + 60) * 1_000_000;
    let writes = json!({
        "jobs": [
            {"name": "timeseries", "path": series.table_dir, "schema": series.schema, "table": "cairn.timeseries",
             "out": written_dir("timeseries"), "timestamp": timestamp},
            {"name": "collections", "path": colls.table_dir, "schema": colls.schema, "table": "cairn.collections",
             "out": written_dir("collections"), "timestamp": timestamp, "row_budget": 50},
        ],
        "bad": {"path": series.table_dir, "schema": series.schema, "table": "cairn.timeseries",
                "column": "value", "cast": "string", "out": written_dir("bad")},
    });
    let mut writes = writes;
    writes["reads"] = spark_reads(tmp.path());
    let reads = writes["reads"].as_array().expect("reads").len();
    let writes_file = tmp.path().join("writes.json");
    std::fs::write(&writes_file, writes.to_string()).expect("writes");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("python_spark.py");
    let o = Command::new(&python)
        .arg(&script)
        .arg(&g.table_dir)
        .arg("session_key")
        .arg(&bad.table_dir)
        .arg(g.now.to_string())
        .arg(&writes_file)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "python_spark.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let found: J = serde_json::from_str(stdout.lines().last().expect("a result line")).expect("JSON");
    assert!(found["partitions"].as_u64().expect("partitions") > 2, "several tasks: {found}");
    assert_eq!(found["count"], found["expected_count"], "{found}");
    assert!(found["count"].as_u64().expect("count") > 0);
    assert_eq!(found["groupby_equal"], true, "{found}");
    assert_eq!(found["join_count"], found["count"], "{found}");
    assert_eq!(found["rows_equal"], true, "{found}");
    assert_eq!(found["pushdown_partitions"], 3, "one Spark partition per key: {found}");
    assert_eq!(found["pushdown_count"], found["pushdown_expected"], "{found}");
    assert!(found["pushdown_count"].as_u64().expect("count") >= 3, "{found}");
    let corrupt = found["corrupt"].as_str().expect("corrupt");
    let file = data.file_name().expect("name").to_string_lossy().to_string();
    assert!(corrupt.contains(&file) && corrupt.contains("checksum"), "the job's error names the file: {corrupt}");
    check_spark_writes(&found, &series, &written_dir("timeseries"));
    let read = found["reads"].as_object().expect("reads");
    assert_eq!(read.len(), reads, "every table was read: {}", found["reads"]);
    for (name, r) in read {
        assert_eq!(r["equal"], true, "{name}: Spark's rows differ from scan()'s: {r}");
        assert_eq!(r["rows"], r["expected_rows"], "{name}: {r}");
    }
}

/// The tables the Spark test reads besides its own: `alltypes` (every scalar type, duration and
/// vector) and `collections` generated, and every well-described corpus case's tables.
fn spark_reads(tmp: &Path) -> J {
    let mut reads = Vec::new();
    for (seed, name) in [(31u64, "alltypes"), (32, "collections")] {
        let g = gen_table(name, seed, 300, &tmp.join("reads").join(name));
        reads.push(json!({"name": name, "path": g.table_dir, "table": format!("cairn.{name}")}));
    }
    if let Some(corpus) = cairn_fixtures::corpus() {
        for t in corpus_tables(&corpus, tmp) {
            reads.push(json!({"name": format!("{} {}", t.case, t.qualified), "path": t.dir,
                "table": t.qualified, "schema": t.schema}));
        }
    }
    J::Array(reads)
}

/// One table of a well-described, readable corpus case.
struct CorpusTable {
    /// The case id.
    case: String,
    /// The case directory.
    dir: std::path::PathBuf,
    /// Its schema, written to a file in the test's directory (when the manifest has one).
    schema: Option<std::path::PathBuf>,
    /// The table's SSTables.
    sstables: Vec<SsTable>,
    /// The dataset name (`t`, `t@snapshot`, ...) and `keyspace.name`.
    name: String,
    qualified: String,
}

/// Every table of every well-described corpus case that is not corrupt, grouped as the CLI
/// groups them, each with its schema file written into `tmp`.
fn corpus_tables(corpus: &cairn_fixtures::Corpus, tmp: &Path) -> Vec<CorpusTable> {
    let mut out = Vec::new();
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt() && c.well_described()) {
        let schema = case.schema_cql().map(|cql| {
            let f = tmp.join(format!("{}.cql", case.id));
            std::fs::write(&f, cql).expect("schema");
            f
        });
        let oo = OpenOptions { schema_file: schema.clone(), ..Default::default() };
        let tables = open_inputs(std::slice::from_ref(&case.dir), &oo).expect("open");
        for (_, group) in cairn_format::location::group_by_table(&tables) {
            let sstables: Vec<SsTable> = group.into_iter().cloned().collect();
            let (ks, name) = cairn_export::dataset_name(&sstables);
            out.push(CorpusTable {
                case: case.id.to_string(),
                dir: case.dir.clone(),
                schema: schema.clone(),
                qualified: format!("{ks}.{name}"),
                name,
                sstables,
            });
        }
    }
    out
}

/// The write half of the Spark test: what `python_spark.py` found, and the written files
/// checked from Rust (verify, reconciled read, cqlite-py).
fn check_spark_writes(found: &J, series: &Generated, series_out: &Path) {
    for name in ["timeseries", "collections"] {
        let w = &found["writes"][name];
        assert!(w["tasks"].as_u64().expect("tasks") > 1, "{name}: several tasks: {w}");
        assert!(w["rows"].as_u64().expect("rows") > 0, "{name}: {w}");
        assert_eq!(w["rows"], w["expected_rows"], "{name}: {w}");
        assert_eq!(
            (&w["schema_equal"], &w["scan_equal"], &w["dataframe_equal"]),
            (&json!(true), &json!(true), &json!(true)),
            "{name}: {w}"
        );
        // Only the table directory (SSTables and the schema.cql beside them): no staging left.
        let dir = w["table_dir"].as_str().expect("table dir");
        assert!(dir.contains(&format!("cairn/{name}-")), "{name}: {dir}");
        let sstables: Vec<&str> = w["sstables"].as_array().expect("sstables").iter().filter_map(J::as_str).collect();
        assert!(sstables.len() > 1, "{name}: one SSTable per task at least: {w}");
        let files = w["files"].as_array().expect("files");
        assert_eq!(files.len(), sstables.len() * 8 + 1, "{name}: {w}");
        assert!(files.iter().filter_map(J::as_str).all(|f| f.starts_with("cairn/")), "{name}: {w}");
        for data in &sstables {
            let d = cairn_format::Descriptor::from_path(Path::new(data)).expect("descriptor").0;
            let t = SsTable::open_with(d, &OpenOptions::default()).expect("open");
            let report = cairn_inspect::verify::verify_one(&t).expect("verify");
            assert!(report.problems.is_empty() && report.partitions > 0, "{name}: {data}: {:?}", report.problems);
        }
    }
    // Cairn's reconciled read of the written timeseries: the original's rows.
    let ds = cairn_fixtures::generate::TimeSeries;
    let table_dir = Path::new(found["writes"]["timeseries"]["table_dir"].as_str().expect("dir"));
    let ours = crate::cqlite::cairn_rows(&ds, table_dir, series.now);
    assert_eq!(ours, crate::cqlite::cairn_rows(&ds, &series.table_dir, series.now), "written timeseries");
    // cqlite-py reads the written files alike. It does not reconcile across SSTables (statics
    // go astray even when the SSTables share no partition), so it reads each written SSTable
    // on its own, hard-linked into a data directory of its own: each task's SSTable holds its
    // own token range, so the union of what it reads is the table.
    if let Some(peers) = cairn_tests::peers_python("the cqlite-py oracle") {
        let mut theirs = Vec::new();
        let sstables = found["writes"]["timeseries"]["sstables"].as_array().expect("sstables");
        for (i, data) in sstables.iter().filter_map(J::as_str).enumerate() {
            let (d, _) = cairn_format::Descriptor::from_path(Path::new(data)).expect("descriptor");
            let alone = series_out.join(format!(".cqlite-{i}"));
            let dir = alone.join("cairn").join(table_dir.file_name().expect("table dir name"));
            std::fs::create_dir_all(&dir).expect("dir");
            for c in cairn_format::Component::BIG {
                if d.path(c).exists() {
                    std::fs::hard_link(d.path(c), dir.join(d.file_name(c))).expect("link");
                }
            }
            theirs.extend(
                crate::cqlite::cqlite_rows(&peers, &alone, &series.schema, "cairn.timeseries")
                    .expect("cqlite reads the written files"),
            );
            std::fs::remove_dir_all(&alone).expect("remove");
        }
        theirs.sort();
        let only_theirs: Vec<&String> = theirs.iter().filter(|r| ours.binary_search(r).is_err()).collect();
        let only_ours: Vec<&String> = ours.iter().filter(|r| theirs.binary_search(r).is_err()).collect();
        assert!(
            only_theirs.is_empty() && only_ours.is_empty(),
            "cqlite {} rows, cairn {}; only cqlite: {:?}; only cairn: {:?}",
            theirs.len(),
            ours.len(),
            &only_theirs[..only_theirs.len().min(5)],
            &only_ours[..only_ours.len().min(5)]
        );
    }
    let bad = &found["bad"];
    let error = bad["error"].as_str().expect("error");
    assert!(
        error.contains("column value: Arrow type ") && error.contains("does not fit CQL type double"),
        "the job fails naming the column: {error}"
    );
    assert_eq!(bad["files"], json!([]), "nothing left behind: {bad}");
}
