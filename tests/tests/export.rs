//! `cairn export` read back by readers we did not write: pyarrow, DuckDB and PySpark (local
//! mode, the machine's Java 17) read the Parquet datasets, and every row must equal what Cairn
//! reads from the SSTables — generated datasets over several overlapping SSTables, and every
//! corpus case with well-described content (which the conformance test already holds to the
//! manifest). Token-split exports are checked to partition the rows exactly, and a corrupt
//! SSTable among good ones fails the export with a located error and no dataset left behind.
//!
//! Engine precision: DuckDB and Spark read `time` at microseconds, so for them the expected
//! times are truncated to microseconds; everything else must match exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_export::{ExportOptions, export};
use cairn_fixtures::generate::{GenOptions, generate};
use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_format::reconcile::Merger;
use cairn_format::sstable::{OpenOptions, SsTable};
use cairn_format::types::CqlType;
use cairn_format::types::render;
use cairn_format::types::value::{Value, decode, from_cells, key_components};
use cairn_inspect::open_inputs;
use serde_json::{Value as J, json};

/// The canonical JSON of a value (see tests/peers/read_export.py); `top`: a top-level column
/// (its decimals are Arrow decimals, nested ones text).
fn canon(ty: &CqlType, v: &Value<'_>, top: bool, flavor: Flavor) -> J {
    let micros = flavor.micros;
    let micros_flavor = flavor;
    let f = |x: f64| {
        if x.is_nan() {
            json!("NaN")
        } else if x.is_infinite() {
            json!(if x > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            json!(x)
        }
    };
    match v {
        Value::Null | Value::Empty => J::Null,
        Value::Ascii(s) | Value::Text(s) => json!(s),
        Value::BigInt(x) | Value::Counter(x) => json!(x),
        Value::Int(x) => json!(x),
        Value::SmallInt(x) => json!(x),
        Value::TinyInt(x) => json!(x),
        Value::Boolean(b) => json!(b),
        Value::Float(x) => f(f64::from(*x)),
        Value::Double(x) => f(*x),
        Value::Blob(b) => json!(format!("0x{}", render::hex(b))),
        Value::Uuid(u) | Value::TimeUuid(u) => json!(render::format_uuid(u)),
        Value::Timestamp(ms) => json!(ms),
        Value::Date(d) => json!(i64::from(*d) - (1i64 << 31)),
        Value::Time(ns) => json!(if micros { ns / 1000 * 1000 } else { *ns }),
        Value::Duration { months, days, nanos } => json!({"months": months, "days": days, "nanoseconds": nanos}),
        Value::Inet(b) => json!(render::format_inet(b)),
        Value::Varint(b) => json!(render::varint_to_string(b)),
        Value::Decimal { scale, unscaled } if top => json!(plain_decimal(*scale, unscaled)),
        Value::Decimal { scale, unscaled } => json!(render::decimal_to_string(*scale, unscaled)),
        Value::List(items) | Value::Set(items) | Value::Vector(items) => {
            let elem = match ty.unreversed() {
                CqlType::List { elem, .. } | CqlType::Set { elem, .. } | CqlType::Vector { elem, .. } => elem.as_ref(),
                other => other,
            };
            J::Array(items.iter().map(|x| canon(elem, x, false, micros_flavor)).collect())
        }
        Value::Map(pairs) => {
            let (kt, vt) = match ty.unreversed() {
                CqlType::Map { key, value, .. } => (key.as_ref(), value.as_ref()),
                other => (other, other),
            };
            let mut pairs: Vec<J> = pairs
                .iter()
                .map(|(k, x)| json!([canon(kt, k, false, micros_flavor), canon(vt, x, false, micros_flavor)]))
                .collect();
            if flavor.sorted_maps {
                pairs.sort_by_key(|p| serde_json::to_string(&p[0]).unwrap_or_default());
            }
            J::Array(pairs)
        }
        Value::Tuple(items) => {
            let types = match ty.unreversed() {
                CqlType::Tuple(t) => t.clone(),
                _ => vec![],
            };
            J::Object(
                types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        (format!("f{i}"), items.get(i).map_or(J::Null, |x| canon(t, x, false, micros_flavor)))
                    })
                    .collect(),
            )
        }
        Value::Udt(items) => {
            let fields = match ty.unreversed() {
                CqlType::Udt(u) => u.fields.clone(),
                _ => vec![],
            };
            J::Object(
                fields
                    .iter()
                    .enumerate()
                    .map(|(i, (n, t))| (n.clone(), items.get(i).map_or(J::Null, |x| canon(t, x, false, micros_flavor))))
                    .collect(),
            )
        }
        Value::Composite(_) => J::Null,
    }
}

/// How an engine reads: times at microseconds, maps unordered.
#[derive(Debug, Clone, Copy)]
struct Flavor {
    micros: bool,
    sorted_maps: bool,
}

const EXACT: Flavor = Flavor { micros: false, sorted_maps: false };
const DUCKDB: Flavor = Flavor { micros: true, sorted_maps: false };
const SPARK: Flavor = Flavor { micros: true, sorted_maps: true };

/// A decimal as plain digits without trailing zeros (Python's `format(Decimal, 'f')` stripped).
fn plain_decimal(scale: i32, unscaled: &[u8]) -> String {
    let digits = render::varint_to_string(unscaled);
    let (neg, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, digits),
    };
    let mut s = if scale <= 0 {
        format!("{digits}{}", "0".repeat((-scale) as usize))
    } else {
        let scale = scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") }
    };
    if s.chars().all(|c| c == '0' || c == '.') {
        s = "0".into();
    } else if neg {
        s.insert(0, '-');
    }
    s
}

/// Every live row of a table directory as Cairn reads it, canonical and sorted.
fn expected_rows(tables: &[SsTable], now: i64, micros: Flavor) -> Vec<String> {
    let scanners = tables.iter().map(|t| t.scanner().expect("scanner")).collect();
    let mut m = Merger::new(scanners, tables[0].partitioner).expect("merger");
    let header = cairn_format::data::PartitionStream::header(&m).clone();
    let schema = &tables[0].schema;
    let key_types = header.key_components();
    let mut rows = Vec::new();
    cairn_format::live::for_each_live_row(&mut m, now, &mut |row| {
        let mut o = serde_json::Map::new();
        let parts = key_components(&header.key_type, &row.key).expect("key");
        for (i, (t, b)) in key_types.iter().zip(parts).enumerate() {
            let name = schema.partition_key.get(i).map_or_else(|| format!("partition_key_{i}"), |c| c.name.clone());
            o.insert(name, canon(t, &decode(t, b).expect("key value"), true, micros));
        }
        for (i, t) in header.clustering_types.iter().enumerate() {
            let name = schema.clustering.get(i).map_or_else(|| format!("clustering_{i}"), |(c, _)| c.name.clone());
            let v = match row.clustering.as_ref().and_then(|c| c.get(i).cloned().flatten()) {
                Some(b) => canon(t.unreversed(), &decode(t.unreversed(), &b).expect("clustering"), true, micros),
                None => J::Null,
            };
            o.insert(name, v);
        }
        for (list, cols) in [(&row.statics, &header.static_columns), (&row.columns, &header.regular_columns)] {
            for c in cols.iter() {
                o.entry(c.name.clone()).or_insert(J::Null);
            }
            for (idx, v) in list {
                let c = &cols[*idx as usize];
                let value = match v {
                    cairn_format::live::LiveColumn::Simple(b) => decode(&c.ty, b).expect("value"),
                    cairn_format::live::LiveColumn::Complex(cells) => {
                        from_cells(&c.ty, cells.iter().map(|(p, v)| (&p[..], &v[..]))).expect("cells")
                    }
                };
                o.insert(c.name.clone(), canon(&c.ty, &value, true, micros));
            }
        }
        rows.push(serde_json::to_string(&J::Object(o)).expect("json"));
    })
    .expect("read");
    rows.sort();
    rows
}

/// Rows each engine read, per dataset, sorted.
fn read_back(python: &str, jobs: &[(&str, &Path)]) -> BTreeMap<(String, PathBuf), Vec<String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("read_export.py");
    let mut out = BTreeMap::new();
    // One process per engine (Spark's JVM starts once for every dataset).
    let mut engines: BTreeMap<&str, Vec<&Path>> = BTreeMap::new();
    for (e, p) in jobs {
        engines.entry(*e).or_default().push(*p);
    }
    for (engine, paths) in engines {
        let mut cmd = Command::new(python);
        cmd.arg(&script).env("SPARK_LOCAL_IP", "127.0.0.1");
        for p in &paths {
            cmd.arg(engine).arg(p);
        }
        let o = cmd.output().expect("run python");
        assert!(o.status.success(), "{engine} failed: {}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8(o.stdout).expect("utf8");
        let mut current: Option<PathBuf> = None;
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("== ") {
                current = Some(PathBuf::from(p));
                out.entry((engine.to_string(), PathBuf::from(p))).or_insert_with(Vec::new);
            } else if line.starts_with('{') {
                let key = (engine.to_string(), current.clone().expect("a dataset header first"));
                // Re-serialise so key order and number formatting match serde_json's.
                let v: J = serde_json::from_str(line).expect("json row");
                out.entry(key).or_default().push(serde_json::to_string(&v).expect("json"));
            }
        }
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

fn open(dir: &Path) -> Vec<SsTable> {
    open_inputs(&[dir.to_path_buf()], &OpenOptions::default()).expect("open")
}

fn first_difference(a: &[String], b: &[String]) -> String {
    let only_a: Vec<&String> = a.iter().filter(|x| !b.contains(x)).take(2).collect();
    let only_b: Vec<&String> = b.iter().filter(|x| !a.contains(x)).take(2).collect();
    format!("{} vs {} rows; only expected: {only_a:?}; only read: {only_b:?}", a.len(), b.len())
}

#[test]
fn generated_datasets_read_back_through_pyarrow_duckdb_and_spark() {
    let Some(python) = cairn_tests::peers_python("pyarrow/DuckDB/PySpark") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut datasets = Vec::new();
    for (seed, name, rows) in
        [(21u64, "alltypes", 400), (22, "collections", 400), (23, "sessions", 600), (24, "wide", 2000)]
    {
        let opts = GenOptions {
            seed,
            rows,
            version: Version::Nb,
            compression: Some(Compressor::Lz4),
            sstables: 3,
            out: tmp.path().join("data").join(name),
            expected: None,
            now: cairn_fixtures::generate::BASE_TIME_S,
        };
        let g = generate(name, &opts).expect("generate");
        let tables = open(&g.table_dir);
        let eo =
            ExportOptions { out: tmp.path().join("export"), now_s: g.now, rows_per_group: 97, ..Default::default() };
        let s = export(&tables, &eo).expect("export");
        assert_eq!(s.len(), 1);
        let dir = PathBuf::from(&s[0].path);
        assert!(dir.join("_SUCCESS").is_file());
        let want: Vec<Vec<String>> = [EXACT, DUCKDB, SPARK].iter().map(|f| expected_rows(&tables, g.now, *f)).collect();
        assert_eq!(s[0].rows as usize, want[0].len(), "{name}: summary row count");
        assert!(!want[0].is_empty(), "{name}: no rows");
        datasets.push((name, dir, want));
    }
    let mut jobs = Vec::new();
    for (_, dir, _) in &datasets {
        for engine in ["pyarrow", "duckdb", "spark"] {
            jobs.push((engine, dir.as_path()));
        }
    }
    let read = read_back(&python, &jobs);
    for (name, dir, wants) in &datasets {
        for (engine, want) in ["pyarrow", "duckdb", "spark"].into_iter().zip(wants) {
            let got = read.get(&(engine.to_string(), dir.clone())).unwrap_or_else(|| panic!("{engine} read nothing"));
            assert!(got == want, "{name} via {engine}: {}", first_difference(want, got));
        }
    }
}

/// The column types each engine reports for each dataset (the `types` line of read_export.py).
fn engine_types(python: &str, jobs: &[(&str, &Path)]) -> BTreeMap<(String, PathBuf), Vec<String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("read_export.py");
    let mut out = BTreeMap::new();
    for (engine, path) in jobs {
        let o = Command::new(python)
            .arg(&script)
            .arg(engine)
            .arg(path)
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .output()
            .expect("run python");
        assert!(o.status.success(), "{engine} failed: {}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8(o.stdout).expect("utf8");
        let line = text.lines().find_map(|l| l.strip_prefix("types ")).expect("a types line");
        out.insert((engine.to_string(), path.to_path_buf()), serde_json::from_str(line).expect("types"));
    }
    out
}

/// uuid and timeuuid columns: by default their canonical text, which pyarrow, DuckDB and Spark
/// all read as a string (Spark refuses Parquet's UUID logical type, so it cannot be the default);
/// with `uuid_as_binary`, Parquet's UUID logical type, which pyarrow reads as `arrow.uuid` and
/// DuckDB as UUID. The values are checked in every case.
#[test]
fn uuid_columns_read_as_text_everywhere_or_as_uuids_when_asked() {
    let Some(python) = cairn_tests::peers_python("pyarrow/DuckDB/PySpark") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = GenOptions {
        seed: 31,
        rows: 60,
        version: Version::Nb,
        compression: Some(Compressor::Lz4),
        sstables: 1,
        out: tmp.path().join("data"),
        expected: None,
        now: cairn_fixtures::generate::BASE_TIME_S,
    };
    let g = generate("alltypes", &opts).expect("generate");
    let tables = open(&g.table_dir);
    let mut dirs = Vec::new();
    for (name, uuid_as_binary) in [("text", false), ("binary", true)] {
        let eo = ExportOptions {
            out: tmp.path().join(name),
            now_s: g.now,
            types: cairn_export::arrow::TypeOptions { uuid_as_binary },
            ..Default::default()
        };
        let s = export(&tables, &eo).expect("export");
        let uuids: Vec<usize> = s[0]
            .schema
            .iter()
            .enumerate()
            .filter(|(_, c)| c.cql_type == "uuid" || c.cql_type == "timeuuid")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(uuids.len(), 2, "{:?}", s[0].schema);
        dirs.push((PathBuf::from(&s[0].path), uuids));
    }
    let (text, binary) = (&dirs[0], &dirs[1]);
    let engines: [(&str, &Path, &str); 5] = [
        ("pyarrow", &text.0, "string"),
        ("duckdb", &text.0, "VARCHAR"),
        ("spark", &text.0, "string"),
        ("pyarrow", &binary.0, "extension<arrow.uuid>"),
        ("duckdb", &binary.0, "UUID"),
    ];
    let jobs: Vec<(&str, &Path)> = engines.iter().map(|(e, p, _)| (*e, *p)).collect();
    let types = engine_types(&python, &jobs);
    for (engine, path, want) in engines {
        let got = &types[&(engine.to_string(), path.to_path_buf())];
        let columns = if path == text.0 { &text.1 } else { &binary.1 };
        for &i in columns {
            assert_eq!(got.get(i).map(String::as_str), Some(want), "{engine} {}: {got:?}", path.display());
        }
    }
    let read = read_back(&python, &jobs);
    for (engine, path, _) in engines {
        let flavor = if engine == "pyarrow" {
            EXACT
        } else if engine == "duckdb" {
            DUCKDB
        } else {
            SPARK
        };
        let want = expected_rows(&tables, g.now, flavor);
        let got = &read[&(engine.to_string(), path.to_path_buf())];
        assert!(got == &want, "{engine} {}: {}", path.display(), first_difference(&want, got));
    }
}

/// The clock corpus exports are read at.
fn now_of_corpus() -> i64 {
    1_700_000_000
}

#[test]
fn corpus_cases_read_back_through_pyarrow_duckdb_and_spark() {
    let Some(corpus) = cairn_fixtures::corpus() else { return };
    let Some(python) = cairn_tests::peers_python("pyarrow") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut checked = Vec::new();
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt() && c.well_described()) {
        let schema = case.schema_cql().map(|cql| {
            let f = tmp.path().join(format!("{}.cql", case.id));
            std::fs::write(&f, cql).expect("schema");
            f
        });
        let oo = OpenOptions { schema_file: schema, ..Default::default() };
        let tables = open_inputs(std::slice::from_ref(&case.dir), &oo).expect("open");
        // One table per case: group as export does.
        let now = now_of_corpus();
        let eo = ExportOptions { out: tmp.path().join("export").join(case.id), now_s: now, ..Default::default() };
        let s = export(&tables, &eo).unwrap_or_else(|e| panic!("{}: export failed: {e}", case.id));
        for summary in s {
            let group: Vec<SsTable> = tables
                .iter()
                .filter(|t| {
                    summary.sstables.iter().any(|p| t.path(cairn_format::Component::Data).display().to_string() == *p)
                })
                .cloned()
                .collect();
            checked.push((case.id.to_string(), PathBuf::from(&summary.path), group));
        }
    }
    assert!(checked.len() > 10, "only {} corpus datasets", checked.len());
    let engines = [("pyarrow", EXACT), ("duckdb", DUCKDB), ("spark", SPARK)];
    let jobs: Vec<(&str, &Path)> =
        checked.iter().flat_map(|(_, p, _)| engines.iter().map(move |(e, _)| (*e, p.as_path()))).collect();
    let read = read_back(&python, &jobs);
    for (id, dir, group) in &checked {
        for (engine, flavor) in engines {
            let want = expected_rows(group, now_of_corpus(), flavor);
            let got = read.get(&(engine.to_string(), dir.clone())).unwrap_or_else(|| panic!("{id}: nothing read"));
            assert!(got == &want, "{id} via {engine}: {}", first_difference(&want, got));
        }
    }
}

#[test]
fn token_splits_partition_the_rows_exactly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = GenOptions {
        seed: 31,
        rows: 3000,
        version: Version::Nb,
        compression: Some(Compressor::Lz4),
        sstables: 3,
        out: tmp.path().join("data"),
        expected: None,
        now: cairn_fixtures::generate::BASE_TIME_S,
    };
    let g = generate("sessions", &opts).expect("generate");
    let tables = open(&g.table_dir);
    let ndjson = |out: &str, splits: Option<u32>, threads: usize| {
        let eo = ExportOptions {
            out: tmp.path().join(out),
            now_s: g.now,
            format: cairn_export::Format::Ndjson,
            token_splits: splits,
            threads,
            ..Default::default()
        };
        let s = export(&tables, &eo).expect("export").remove(0);
        let mut rows = Vec::new();
        let mut per_range = BTreeMap::new();
        for f in &s.files {
            let text = std::fs::read_to_string(Path::new(&s.path).join(&f.path)).expect("read");
            let n = text.lines().count();
            assert_eq!(n as u64, f.rows, "{}: summary rows", f.path);
            *per_range.entry(f.path.split('/').next().unwrap_or("").to_string()).or_insert(0) += n;
            rows.extend(text.lines().map(str::to_string));
        }
        (rows, per_range, s)
    };
    let (mut whole, _, whole_summary) = ndjson("whole", None, 1);
    let (mut split, ranges, s) = ndjson("split", Some(4), 1);
    // Scanning token ranges on several threads: the same rows and partitions, none twice.
    for threads in [2, 3] {
        let (mut par, _, ps) = ndjson(&format!("threads-{threads}"), None, threads);
        assert!(ps.files.len() >= threads, "one file per range at least: {:?}", ps.files);
        assert_eq!((ps.rows, ps.partitions), (whole_summary.rows, whole_summary.partitions), "{threads} threads");
        par.sort();
        let mut w = whole.clone();
        w.sort();
        assert_eq!(par, w, "{threads} threads: the rows");
    }
    assert_eq!(s.token_ranges.len(), 4);
    assert!(ranges.len() >= 3, "rows spread over the token ranges: {ranges:?}");
    let before = split.len();
    whole.sort();
    split.sort();
    split.dedup();
    assert_eq!(split.len(), before, "no row twice");
    assert_eq!(split, whole, "the parts together are the whole");
    // Each part holds only tokens of its own range.
    let tables_token = |key_json: &str| -> i64 {
        let v: J = serde_json::from_str(key_json).expect("json");
        let id = v["session_key"].as_str().expect("sessions key is text");
        cairn_format::partitioner::murmur3_token(id.as_bytes())
    };
    let out = Path::new(&s.path);
    for f in &s.files {
        let k: usize =
            f.path.trim_start_matches("token_range=").split('/').next().and_then(|k| k.parse().ok()).expect("range");
        let (lo, hi) = &s.token_ranges[k];
        let (lo, hi): (i64, i64) = (lo.parse().expect("lo"), hi.parse().expect("hi"));
        for line in std::fs::read_to_string(out.join(&f.path)).expect("read").lines() {
            let t = tables_token(line);
            assert!((k == 0 || t > lo) && t <= hi, "token {t} outside range {k} ({lo}, {hi}]");
        }
    }
}

#[test]
fn a_corrupt_sstable_fails_the_export_and_leaves_no_dataset() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = GenOptions {
        seed: 41,
        rows: 2000,
        version: Version::Nb,
        compression: Some(Compressor::Lz4),
        sstables: 3,
        out: tmp.path().join("data"),
        expected: None,
        now: cairn_fixtures::generate::BASE_TIME_S,
    };
    let g = generate("alltypes", &opts).expect("generate");
    // Damage the middle of the second SSTable's Data.db.
    let data = &g.sstables[1];
    let mut bytes = std::fs::read(data).expect("read");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(data, &bytes).expect("write");
    let tables = open(&g.table_dir);
    let out = tmp.path().join("export");
    let eo = ExportOptions { out: out.clone(), now_s: g.now, ..Default::default() };
    let err = export(&tables, &eo).expect_err("a corrupt SSTable must fail the export").to_string();
    assert!(err.contains("Data.db"), "the error names the file: {err}");
    let left: Vec<PathBuf> = walk(&out);
    assert!(left.iter().all(|p| p.is_dir()), "no files left behind: {left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.clone());
            if p.is_dir() {
                out.extend(walk(&p));
            }
        }
    }
    out
}

/// The tombstones a manifest case lists: (kind, column, timestamp, local deletion time).
fn manifest_tombstones(expected: &J) -> Vec<(String, String, i64, i64)> {
    let mut out = Vec::new();
    let ts =
        |d: &J| (d["timestamp"].as_i64().unwrap_or(i64::MIN), d["local_deletion_time"].as_i64().unwrap_or(i64::MIN));
    let cells = |cells: &J, out: &mut Vec<(String, String, i64, i64)>| {
        for (name, c) in cells.as_object().into_iter().flatten() {
            if c["deleted"].as_bool() == Some(true) {
                let (t, l) = ts(c);
                out.push(("cell_tombstone".into(), name.clone(), t, l));
            }
            if c.get("collection_deletion").is_some() {
                let (t, l) = ts(&c["collection_deletion"]);
                out.push(("collection_tombstone".into(), name.clone(), t, l));
            }
        }
    };
    for p in expected["partitions"].as_array().into_iter().flatten() {
        for r in p["rows"].as_array().into_iter().flatten() {
            cells(&r["cells"], &mut out);
            if r.get("shadowable_deletion").is_some() {
                let (t, l) = ts(&r["shadowable_deletion"]);
                out.push(("shadowable_row_deletion".into(), String::new(), t, l));
            }
        }
        if p.get("static").is_some() {
            cells(&p["static"], &mut out);
        }
        for rt in p["range_tombstones"].as_array().into_iter().flatten() {
            let (t, l) = ts(&rt["deletion"]);
            out.push(("range_tombstone_start".into(), String::new(), t, l));
            if !rt["end"].is_null() {
                out.push(("range_tombstone_end".into(), String::new(), t, l));
            }
        }
    }
    out
}

#[test]
fn mutations_mode_lists_every_tombstone_the_manifest_lists() {
    let Some(corpus) = cairn_fixtures::corpus() else { return };
    let Some(python) = cairn_tests::peers_python("pyarrow") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut checked = Vec::new();
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt() && c.well_described()) {
        let want = manifest_tombstones(case.expected());
        if want.is_empty() {
            continue;
        }
        let schema = case.schema_cql().map(|cql| {
            let f = tmp.path().join(format!("{}.cql", case.id));
            std::fs::write(&f, cql).expect("schema");
            f
        });
        let oo = OpenOptions { schema_file: schema, ..Default::default() };
        let tables = open_inputs(std::slice::from_ref(&case.dir), &oo).expect("open");
        let eo = ExportOptions {
            out: tmp.path().join("export").join(case.id),
            mode: cairn_export::Mode::Mutations,
            now_s: 1_700_000_000,
            ..Default::default()
        };
        for s in export(&tables, &eo).unwrap_or_else(|e| panic!("{}: export failed: {e}", case.id)) {
            checked.push((case.id.to_string(), PathBuf::from(&s.path), want.clone()));
        }
    }
    assert!(checked.len() >= 5, "only {} corpus cases with tombstones", checked.len());
    let jobs: Vec<(&str, &Path)> = checked.iter().map(|(_, p, _)| ("pyarrow", p.as_path())).collect();
    let read = read_back(&python, &jobs);
    for (id, dir, want) in &checked {
        let rows = read.get(&("pyarrow".to_string(), dir.clone())).unwrap_or_else(|| panic!("{id}: nothing read"));
        let mut got: Vec<(String, String, i64, i64)> = rows
            .iter()
            .map(|r| serde_json::from_str::<J>(r).expect("json"))
            .map(|r| {
                (
                    r["kind"].as_str().unwrap_or("").to_string(),
                    r["column"].as_str().unwrap_or("").to_string(),
                    r["writetime"].as_i64().unwrap_or(i64::MIN),
                    r["local_deletion_time"].as_i64().unwrap_or(i64::MIN),
                )
            })
            .collect();
        for w in want {
            let at = got.iter().position(|g| g == w).unwrap_or_else(|| panic!("{id}: {w:?} missing from {got:?}"));
            got.swap_remove(at);
        }
    }
}
