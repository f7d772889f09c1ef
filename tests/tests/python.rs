//! The `cairn` Python package (python/), installed by `scripts/python-wheel` into a virtualenv
//! of its own, checked by tests/peers/python_package.py: `scan()` holds exactly `cairn export`'s
//! rows and Arrow types (the Parquet dataset as Arrow tables; the NDJSON dataset row for row,
//! its integer, boolean, text, float, decimal, blob and date values), live and mutations, for
//! generated datasets over several overlapping SSTables and every well-described corpus case;
//! `splits()` cover the ring exactly once and their scans add up to the whole scan; a corrupt
//! SSTable raises `CairnError` naming the file; DuckDB and pandas read a scan; `tables()` groups
//! as the CLI does; `dump()` and `tombstones()` return the CLI's JSON documents.

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
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt() && c.well_described()) {
        let schema = case.schema_cql().map(|cql| {
            let f = tmp.path().join(format!("{}.cql", case.id));
            std::fs::write(&f, cql).expect("schema");
            f
        });
        let oo = OpenOptions { schema_file: schema.clone(), ..Default::default() };
        let tables = open_inputs(std::slice::from_ref(&case.dir), &oo).expect("open");
        for (_, group) in cairn_format::location::group_by_table(&tables) {
            let group: Vec<SsTable> = group.into_iter().cloned().collect();
            let (ks, name) = cairn_export::dataset_name(&group);
            for mode in [Mode::Live, Mode::Mutations] {
                let out = tmp.path().join("export").join(case.id).join(&name);
                let (parquet, ndjson, _, _) = export_both(&group, mode, now, &out);
                jobs.push(json!({"check": "equals_export", "name": format!("{} {ks}.{name}", case.id),
                    "path": case.dir, "table": format!("{ks}.{name}"), "schema": schema, "mode":
                    if mode == Mode::Live { "live" } else { "mutations" }, "now": now, "parquet": parquet,
                    "ndjson": ndjson}));
            }
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

/// Spark local[2] through `cairn.spark.CairnDataSource`: the DataFrame equals `scan()` row for
/// row, with its count, a groupBy and a self-join, over a split size that makes several tasks;
/// a corrupt SSTable fails the job with Cairn's located message.
#[test]
fn spark_reads_through_the_cairn_data_source() {
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
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("python_spark.py");
    let o = Command::new(&python)
        .arg(&script)
        .arg(&g.table_dir)
        .arg("session_key")
        .arg(&bad.table_dir)
        .arg(g.now.to_string())
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
}
