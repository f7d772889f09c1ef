//! The built `cairn` binary against every corpus case: JSON shapes, exit codes, located
//! errors, metadata cross-checked with the manifest's independently parsed facts.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cairn_fixtures::{Case, corpus};
use serde_json::Value as J;

mod common;
use common::cairn;

fn path(case: &Case<'_>) -> String {
    case.dir.display().to_string()
}

fn json_lines(out: &Output) -> Vec<J> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

const UNFILTERED_TYPES: [&str; 4] = ["row", "static_block", "range_tombstone_bound", "range_tombstone_boundary"];

fn check_partition_shape(p: &J, ctx: &str) {
    let key = p["partition"]["key"].as_array().unwrap_or_else(|| panic!("{ctx}: partition.key is not an array"));
    assert!(key.iter().all(J::is_string), "{ctx}: key components must be strings");
    assert!(p["partition"]["position"].is_u64(), "{ctx}: partition.position");
    for r in p["rows"].as_array().unwrap_or_else(|| panic!("{ctx}: rows")) {
        let t = r["type"].as_str().unwrap_or("");
        assert!(UNFILTERED_TYPES.contains(&t), "{ctx}: row type {t}");
        if t == "row" || t == "static_block" {
            assert!(r["position"].is_u64(), "{ctx}: row position");
            for c in r["cells"].as_array().unwrap_or_else(|| panic!("{ctx}: cells")) {
                assert!(c["name"].is_string(), "{ctx}: cell name");
                assert!(c.get("value").is_some() || c.get("deletion_info").is_some(), "{ctx}: cell value or deletion");
                if let Some(ts) = c.get("tstamp") {
                    assert!(
                        ts.as_str().is_some_and(|s| s.parse::<i64>().is_ok()),
                        "{ctx}: raw tstamp must be integer text"
                    );
                }
            }
        } else {
            for side in ["start", "end"] {
                if let Some(b) = r.get(side) {
                    assert!(matches!(b["type"].as_str(), Some("inclusive" | "exclusive")), "{ctx}: bound type");
                    assert!(b["deletion_info"]["marked_deleted"].is_string(), "{ctx}: bound deletion");
                }
            }
        }
    }
}

#[test]
fn dump_meta_verify_describe_on_every_case() {
    let Some(corpus) = corpus() else { return };
    let mut checked = 0;
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt()) {
        let p = path(&case);
        let schema = case.schema_cql().map(|cql| {
            let f = std::env::temp_dir().join(format!("cairn-cli-{}.cql", case.id));
            std::fs::write(&f, cql).expect("schema");
            f
        });
        let mut base = vec![p.clone()];
        if let Some(s) = &schema {
            base.extend(["--schema".to_string(), s.display().to_string()]);
        }
        let base: Vec<&str> = base.iter().map(String::as_str).collect();
        // dump --timestamps raw --ndjson
        let mut args = vec!["dump", "--timestamps", "raw", "--ndjson", "--now", "1700000000"];
        args.extend(&base);
        let out = cairn(&args);
        assert!(out.status.success(), "{}: dump failed: {}", case.id, String::from_utf8_lossy(&out.stderr));
        let parts = json_lines(&out);
        // tombstones --json: one summary per SSTable, covering every partition dump printed.
        let mut args = vec!["tombstones", "--json", "--now", "1700000000"];
        args.extend(&base);
        let t = cairn(&args);
        assert!(t.status.success(), "{}: tombstones failed: {}", case.id, String::from_utf8_lossy(&t.stderr));
        let summaries: J = serde_json::from_slice(&t.stdout).expect("tombstones JSON");
        let summaries = summaries.as_array().expect("an array of SSTable summaries");
        let total: u64 = summaries.iter().map(|s| s["partitions"].as_u64().unwrap_or(0)).sum();
        assert_eq!(total, parts.len() as u64, "{}: tombstones saw another partition count than dump", case.id);
        for s in summaries {
            assert!(s["partitions_with_tombstones"].as_u64() <= s["partitions"].as_u64(), "{}", case.id);
        }
        for (i, part) in parts.iter().enumerate() {
            check_partition_shape(part, &format!("{} partition {i}", case.id));
        }
        // The pretty form is one JSON array with the same partitions.
        let mut args = vec!["dump", "--timestamps", "raw", "--now", "1700000000"];
        args.extend(&base);
        let pretty: J = serde_json::from_slice(&cairn(&args).stdout)
            .unwrap_or_else(|e| panic!("{}: pretty dump is not JSON: {e}", case.id));
        assert_eq!(pretty.as_array().map(Vec::len), Some(parts.len()), "{}", case.id);
        assert_eq!(pretty.as_array().cloned().unwrap_or_default(), parts, "{}: pretty and ndjson differ", case.id);
        // meta --json, cross-checked with the curator's own Statistics.db parse.
        let mut args = vec!["meta", "--json", "--now", "1700000000"];
        args.extend(&base);
        let out = cairn(&args);
        // A component TOC.txt lists but the disk lacks is a problem meta and verify report.
        let complete = listed_components_present(Path::new(&p));
        assert_eq!(out.status.code(), Some(if complete { 0 } else { 1 }), "{}: meta: {}", case.id, {
            String::from_utf8_lossy(&out.stderr)
        });
        let meta: J = serde_json::from_slice(&out.stdout).expect("meta JSON");
        let metas: Vec<J> = meta.as_array().cloned().unwrap_or_else(|| vec![meta.clone()]);
        if let Some(derived) = case.entry["derived_from_metadata"].as_object() {
            for m in &metas {
                let name = m["sstable"].as_str().unwrap_or("");
                let Some((_, facts)) = derived.iter().find(|(k, _)| name.ends_with(k.as_str())) else { continue };
                let partitioner = facts["partitioner"].as_str().unwrap_or("");
                assert!(m["partitioner"].as_str().unwrap_or("").ends_with(partitioner), "{}: partitioner", case.id);
                let s = &facts["stats"];
                for (ours, theirs) in [
                    ("min_timestamp", "min_ts"),
                    ("max_timestamp", "max_ts"),
                    ("min_ttl", "min_ttl"),
                    ("max_ttl", "max_ttl"),
                    ("total_rows", "total_rows"),
                ] {
                    if let Some(v) = s.get(theirs).and_then(J::as_i64) {
                        assert_eq!(m[ours].as_i64(), Some(v), "{}: {ours}", case.id);
                    }
                }
                for (ours, theirs) in [("min_local_deletion_time", "min_ldt"), ("max_local_deletion_time", "max_ldt")] {
                    if let Some(v) = s.get(theirs).and_then(J::as_i64) {
                        let expect =
                            if v == i64::from(i32::MAX) || v == i64::from(u32::MAX) { J::Null } else { J::from(v) };
                        assert_eq!(m[ours], expect, "{}: {ours}", case.id);
                    }
                }
                if let Some(h) = facts.get("header") {
                    let ours = m["key_type"].as_str().unwrap_or("").replace("org.apache.cassandra.db.marshal.", "");
                    assert_eq!(Some(ours.as_str()), h["partition_key_type"].as_str(), "{}: key type", case.id);
                }
            }
        }
        // verify: clean cases exit 0.
        let mut args = vec!["verify"];
        args.extend(&base);
        let out = cairn(&args);
        assert_eq!(
            out.status.code(),
            Some(if complete { 0 } else { 1 }),
            "{}: verify: {}",
            case.id,
            String::from_utf8_lossy(&out.stdout)
        );
        // describe: index entries = partitions.
        let mut args = vec!["describe"];
        args.extend(&base);
        let out = cairn(&args);
        assert!(out.status.success(), "{}: describe failed: {}", case.id, String::from_utf8_lossy(&out.stderr));
        let d: J = serde_json::from_slice(&out.stdout).expect("describe JSON");
        let docs: Vec<J> = d.as_array().cloned().unwrap_or_else(|| vec![d.clone()]);
        let entries: u64 = docs.iter().map(|d| d["index"]["entry_count"].as_u64().unwrap_or(0)).sum();
        if docs.iter().all(|d| d["components_present"].as_array().is_some_and(|c| c.iter().any(|x| x == "Index.db"))) {
            assert_eq!(entries, parts.len() as u64, "{}: index entries vs partitions", case.id);
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} cases");
}

/// Whether every component each TOC.txt in `dir` lists is on disk.
fn listed_components_present(dir: &Path) -> bool {
    let tocs = std::fs::read_dir(dir).expect("read_dir").map(|e| e.expect("entry").path());
    tocs.filter(|p| p.to_string_lossy().ends_with("-TOC.txt")).all(|toc| {
        let prefix = toc.to_string_lossy().trim_end_matches("TOC.txt").to_string();
        let listed = std::fs::read_to_string(&toc).expect("TOC");
        listed.lines().filter(|l| !l.trim().is_empty()).all(|c| Path::new(&format!("{prefix}{}", c.trim())).exists())
    })
}

#[test]
fn damaged_cases_exit_with_located_errors() {
    let Some(corpus) = corpus() else { return };
    for case in corpus.cases().into_iter().filter(Case::is_corrupt) {
        let p = path(&case);
        let out = cairn(&["verify", &p]);
        let code = out.status.code();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(
            code == Some(1) || code == Some(2) || case.id == "incompatible_serialized_type",
            "{}: verify exit {code:?}",
            case.id
        );
        if code != Some(0) {
            assert!(
                text.contains(&p) || text.contains(case.dir.file_name().and_then(|n| n.to_str()).unwrap_or("?")),
                "{}: error does not name the file: {text}",
                case.id
            );
        }
        let out = cairn(&["dump", &p]);
        if !["lz4_integrity_invalid_digest", "incompatible_serialized_type"].contains(&case.id) {
            assert_eq!(out.status.code(), Some(2), "{}: dump must fail", case.id);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("byte") || err.contains("checksum"), "{}: error is not located: {err}", case.id);
        }
    }
}

/// The partitions of a dump, pretty (one JSON array) or `--ndjson` (one per line).
fn dumped(out: &Output) -> Vec<J> {
    assert!(out.status.success(), "dump failed: {}", String::from_utf8_lossy(&out.stderr));
    match serde_json::from_slice::<J>(&out.stdout) {
        Ok(J::Array(parts)) => parts,
        _ => json_lines(out),
    }
}

/// The row objects (rows and static blocks) of dumped partitions.
fn dumped_rows(parts: &[J]) -> Vec<&J> {
    parts.iter().flat_map(|p| p["rows"].as_array().into_iter().flatten()).filter(|r| r.get("cells").is_some()).collect()
}

/// Whether an entry of a `cells` array is a cell (not a complex column's deletion, which has a
/// `deletion_info` with `marked_deleted` and nothing else of a cell).
fn is_cell(c: &J) -> bool {
    c.get("value").is_some()
        || c["deletion_info"].get("local_delete_time").is_some() && c["deletion_info"].get("marked_deleted").is_none()
}

/// An `--explicit` dump turned into sstabledump's form: a cell's `tstamp` goes when it equals
/// the row's liveness timestamp, its `ttl`, `expires_at` (and `expired`) when it does not expire
/// or has the liveness's TTL (JsonTransformer.serializeCell's rule).
fn sstabledump_form(mut parts: Vec<J>) -> Vec<J> {
    for p in &mut parts {
        for r in p["rows"].as_array_mut().into_iter().flatten() {
            let liveness = r.get("liveness_info").cloned();
            for c in r.get_mut("cells").and_then(J::as_array_mut).into_iter().flatten() {
                if !is_cell(c) {
                    continue;
                }
                let Some(c) = c.as_object_mut() else { continue };
                if liveness.as_ref().is_some_and(|l| l.get("tstamp") == c.get("tstamp")) {
                    c.remove("tstamp");
                }
                let same_ttl = liveness.as_ref().is_some_and(|l| l.get("ttl") == c.get("ttl"));
                if c.get("ttl") == Some(&J::Null) || same_ttl {
                    c.remove("ttl");
                    c.remove("expires_at");
                    c.remove("expired");
                }
            }
        }
    }
    parts
}

/// Checks `--explicit` against the default dump of the same input: every cell carries its own
/// `tstamp`, `ttl` and `expires_at` (null together, and null for a tombstone), and taking away
/// what sstabledump leaves out gives the default dump exactly. Returns (cells, fields the
/// default left out).
fn check_explicit(args: &[&str], ctx: &str) -> (usize, usize) {
    let plain = dumped(&cairn(args));
    let mut with = args.to_vec();
    with.insert(1, "--explicit");
    let explicit = dumped(&cairn(&with));
    let (mut cells, mut added) = (0, 0);
    for (r, d) in dumped_rows(&explicit).into_iter().zip(dumped_rows(&plain)) {
        let shown = d["cells"].as_array().cloned().unwrap_or_default();
        for (c, c0) in r["cells"].as_array().into_iter().flatten().zip(shown).filter(|(c, _)| is_cell(c)) {
            cells += 1;
            assert!(c["tstamp"].is_string(), "{ctx}: cell without its own tstamp: {c}");
            let (Some(ttl), Some(expires)) = (c.get("ttl"), c.get("expires_at")) else {
                panic!("{ctx}: cell without ttl and expires_at keys: {c}")
            };
            assert_eq!(ttl.is_null(), expires.is_null(), "{ctx}: {c}");
            assert_eq!(ttl.is_null(), c.get("expired").is_none(), "{ctx}: {c}");
            if c.get("deletion_info").is_some() {
                assert!(ttl.is_null(), "{ctx}: a cell tombstone does not expire: {c}");
            } else {
                assert!(ttl.is_null() || ttl.is_i64() && expires.is_string(), "{ctx}: {c}");
            }
            added += ["tstamp", "ttl"].iter().filter(|k| c0.get(**k).is_none()).count();
        }
    }
    assert_eq!(sstabledump_form(explicit), plain, "{ctx}: --explicit adds more than each cell's own fields");
    (cells, added)
}

#[test]
fn dump_explicit_prints_each_cells_own_tstamp_and_ttl_in_every_mode() {
    let Some(corpus) = corpus() else { return };
    // rc has no TTL, its row marker has TTL 90: sstabledump prints rc without tstamp or ttl,
    // as it would print a cell that had the marker's TTL.
    let case = corpus.cases().into_iter().find(|c| c.id == "write_dead_row_marker").expect("case");
    let p = path(&case);
    let modes: [&[&str]; 5] =
        [&[], &["--merge"], &["--ndjson"], &["--timestamps", "raw"], &["--merge", "--ndjson", "--timestamps", "raw"]];
    for mode in modes {
        let ctx = format!("dump {}", mode.join(" "));
        let run = |explicit: bool| {
            let mut args = vec!["dump"];
            if explicit {
                args.push("--explicit");
            }
            args.extend(mode);
            args.push(&p);
            dumped(&cairn(&args))
        };
        let parts = run(true);
        let rows = dumped_rows(&parts);
        let row = rows.iter().find(|r| r["type"] == "row").unwrap_or_else(|| panic!("{ctx}: no row"));
        let raw = mode.contains(&"raw");
        let liveness = &row["liveness_info"];
        assert_eq!(liveness["ttl"], 90, "{ctx}: {row}");
        assert_eq!(liveness["expires_at"], if raw { "1543494492" } else { "2018-11-29T12:28:12Z" }, "{ctx}");
        let rc = row["cells"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "rc")).expect("rc");
        assert_eq!(rc.get("ttl"), Some(&J::Null), "{ctx}: {rc}");
        assert_eq!(rc.get("expires_at"), Some(&J::Null), "{ctx}: {rc}");
        assert_eq!(rc["tstamp"], if raw { "1543494402386839" } else { "2018-11-29T12:26:42.386839Z" }, "{ctx}: {rc}");
        let st = rows.iter().find(|r| r["type"] == "static_block").expect("static block");
        assert_eq!(st["cells"][0]["ttl"], J::Null, "{ctx}: {st}");
        // Without the flag: sstabledump's ambiguous form.
        let plain = run(false);
        let rows = dumped_rows(&plain);
        let row = rows.iter().find(|r| r["type"] == "row").expect("row");
        let rc = row["cells"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "rc")).expect("rc");
        assert!(rc.get("ttl").is_none() && rc.get("tstamp").is_none(), "{ctx}: {rc}");
    }
}

#[test]
fn dump_explicit_gives_every_cell_tstamp_and_ttl_keys() {
    // Cairn-written datasets with TTLs, cell and collection tombstones, in every mode.
    let dir = std::env::temp_dir().join(format!("cairn-cli-explicit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut cells, mut added) = (0, 0);
    for ds in ["sessions", "tombstones", "collections"] {
        let data = dir.join(ds).display().to_string();
        let g = cairn(&["gen", ds, "--now", "1700000000", "--rows", "300", "--out", &data]);
        assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
        for mode in [&["--now", "1700000000"][..], &["--merge", "--ndjson"], &["--timestamps", "raw", "--ndjson"]] {
            let mut args = vec!["dump"];
            args.extend(mode);
            args.push(&data);
            let (c, a) = check_explicit(&args, &format!("{ds}: dump {}", mode.join(" ")));
            cells += c;
            added += a;
        }
    }
    assert!(cells > 1000 && added > 100, "{cells} cells, {added} fields added");
    let _ = std::fs::remove_dir_all(&dir);
    // Every corpus case.
    let Some(corpus) = corpus() else { return };
    let mut checked = 0;
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt()) {
        let p = path(&case);
        let schema = case.schema_cql().map(|cql| {
            let f = std::env::temp_dir().join(format!("cairn-cli-explicit-{}-{}.cql", std::process::id(), case.id));
            std::fs::write(&f, cql).expect("schema");
            f
        });
        let schema_arg = schema.as_ref().map(|s| s.display().to_string());
        let mut args = vec!["dump", "--timestamps", "raw", "--ndjson", "--now", "1700000000", &p];
        if let Some(s) = &schema_arg {
            args.extend(["--schema", s.as_str()]);
        }
        let (c, _) = check_explicit(&args, case.id);
        args.insert(1, "--merge");
        check_explicit(&args, &format!("{} --merge", case.id));
        if let Some(f) = &schema {
            let _ = std::fs::remove_file(f);
        }
        checked += usize::from(c > 0);
    }
    assert!(checked > 40, "only {checked} cases with cells");
}

#[test]
fn exit_codes_and_bad_arguments() {
    let out = cairn(&["dump", "/nonexistent/nb-1-big-Data.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent"));
    let out = cairn(&["dump"]);
    assert_eq!(out.status.code(), Some(2));
    let Some(corpus) = corpus() else { return };
    let case = corpus.cases().into_iter().find(|c| c.id == "uncompressed_simple").expect("case");
    let out = cairn(&["dump", &path(&case), "-k", "not-an-int"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-int"));
}

#[test]
fn key_filters_select_partitions() {
    let Some(corpus) = corpus() else { return };
    let case = corpus.cases().into_iter().find(|c| c.id == "uncompressed_simple").expect("case");
    let p = path(&case);
    let keys = |args: &[&str]| -> Vec<String> {
        json_lines(&cairn(args)).iter().map(|l| l["partition"]["key"][0].as_str().unwrap_or("").to_string()).collect()
    };
    assert_eq!(keys(&["dump", &p, "-l", "-k", "3", "-k", "1"]), ["1", "3"]);
    let all = keys(&["dump", &p, "-l"]);
    let without = keys(&["dump", &p, "-l", "-x", "2"]);
    assert_eq!(without.len() + 1, all.len());
    assert!(!without.contains(&"2".to_string()));
    let out = cairn(&["dump", &p, "--keys-only", "-l"]);
    assert_eq!(json_lines(&out).len(), all.len());
}

#[test]
fn closed_stdout_ends_quietly() {
    let Some(corpus) = corpus() else { return };
    let case = corpus.cases().into_iter().find(|c| c.id == "oa_10k_partitions").expect("case");
    // Every verb that prints much: the first reads of a closed pipe end it with 0 and no message.
    for verb in [&["dump"][..], &["describe"], &["partitions", "--min-size", "0"], &["dump", "--keys-only"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(verb)
            .arg(path(&case))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut buf = [0u8; 64];
        stdout.read_exact(&mut buf).expect("read");
        drop(stdout);
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0), "{verb:?} stderr: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{verb:?} stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn help_lists_every_verb() {
    let out = cairn(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for verb in [
        "dump",
        "meta",
        "verify",
        "describe",
        "tombstones",
        "partitions",
        "compact",
        "export",
        "node",
        "admin",
        "load",
        "gen",
        "demo",
    ] {
        assert!(text.contains(verb), "--help lacks {verb}");
    }
    let _ = Path::new(".");
}

#[test]
fn gen_refuses_a_table_directory_that_already_holds_sstables() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-gen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.display().to_string();
    let first = cairn(&["gen", "sessions", "--now", "1700000000", "--rows", "50", "--out", &out]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = cairn(&["gen", "sessions", "--now", "1700000000", "--rows", "50", "--out", &out]);
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already holds SSTables"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gen_clock_defaults_to_the_current_time_and_follows_now() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-gen-clock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let clock_of = |name: &str, extra: &[&str]| -> i64 {
        let out = dir.join(name).display().to_string();
        let expected = dir.join(format!("{name}.ndjson"));
        let e = expected.display().to_string();
        let mut args = vec!["gen", "timeseries", "--rows", "300", "--out", &out, "--expected", &e];
        args.extend_from_slice(extra);
        let g = cairn(&args);
        assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
        let text = std::fs::read_to_string(&expected).expect("expected file");
        let header: serde_json::Value = serde_json::from_str(text.lines().next().expect("header")).expect("json");
        header["now"].as_i64().expect("now")
    };
    let real = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let default = clock_of("default", &[]);
    assert!((default - real).abs() < 300, "default clock {default}, the time is {real}");
    assert_eq!(clock_of("fixed", &["--now", "2030-01-01T00:00:00Z"]), 1_893_456_000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compact_run_writes_a_verified_sstable_and_reports_what_it_purged() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data").display().to_string();
    let out_dir = dir.join("out").display().to_string();
    let g = cairn(&["gen", "tombstones", "--now", "1700000000", "--rows", "300", "--out", &data]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let r = cairn(&["compact", "run", &data, "--out", &out_dir, "--now", "2023-12-31T00:00:00Z"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let written = String::from_utf8_lossy(&r.stdout).trim().to_string();
    assert!(written.ends_with("-Data.db") && Path::new(&written).is_file(), "{written}");
    let report = String::from_utf8_lossy(&r.stderr);
    assert!(report.contains("compacted 3 SSTables") && report.contains("tombstones purged"), "{report}");
    // --dry-run --explain: the same decisions, one JSON line per partition changed, no files.
    let dry_out = dir.join("dry").display().to_string();
    let e = cairn(&[
        "compact",
        "run",
        &data,
        "--out",
        &dry_out,
        "--now",
        "2023-12-31T00:00:00Z",
        "--dry-run",
        "--explain",
        "--ndjson",
    ]);
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    assert!(!Path::new(&dry_out).exists());
    let lines: Vec<J> =
        String::from_utf8_lossy(&e.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let purged: u64 = lines.iter().map(|l| l["tombstones_purged"].as_u64().expect("purged")).sum();
    let said = String::from_utf8_lossy(&e.stderr);
    assert!(purged > 0 && said.contains(&format!("{purged} tombstones purged")) && said.contains("dry run"), "{said}");
    assert!(lines.iter().all(|l| l["key"].is_array() && l["shadowed"].is_u64()));
    // Without --out, only a dry run is allowed.
    assert_eq!(cairn(&["compact", "run", &data]).status.code(), Some(2));
    let v = cairn(&["verify", &written]);
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rerun of `compact run --out` into the same directory is refused with the SSTables already
/// there named; nothing is written.
#[test]
fn compact_run_refuses_an_out_dir_already_holding_sstables_of_the_table() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-rerun-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data").display().to_string();
    let out = dir.join("out");
    let g = cairn(&["gen", "tombstones", "--rows", "100", "--out", &data]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let args = ["compact", "run", &data, "--out", &out.display().to_string(), "--now", "2023-12-31T00:00:00Z"];
    let first = cairn(&args);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let written = std::path::PathBuf::from(String::from_utf8_lossy(&first.stdout).trim());
    let name = written.file_name().expect("a Data.db").to_string_lossy().to_string();
    let target = written.parent().expect("its directory").display().to_string();
    let before = walk(&out);
    let again = cairn(&args);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{target} already holds SSTables ({name})")), "{err}");
    assert_eq!(walk(&out), before, "the refused rerun wrote files");
    // An executed plan writing its one compaction there is refused the same way.
    let o = out.display().to_string();
    let plan =
        cairn(&["compact", "plan", &data, "--strategy", "stcs", "-o", "min_threshold=2", "--execute", "--out", &o]);
    let err = String::from_utf8_lossy(&plan.stderr);
    assert_eq!(plan.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{target} already holds SSTables ({name})")), "{err}");
    assert_eq!(walk(&out), before, "the refused plan wrote files");
    // So are upgrade, gc and split writing where SSTables of the table already are.
    for verb in [&["upgrade"][..], &["gc"], &["split", "--token-ranges", "2"]] {
        let mut args = vec!["compact"];
        args.extend_from_slice(verb);
        args.extend_from_slice(&[data.as_str(), "--out", o.as_str()]);
        let refused = cairn(&args);
        let err = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{verb:?}: {err}");
        assert!(err.contains(&format!("{target} already holds SSTables ({name})")), "{verb:?}: {err}");
        assert_eq!(walk(&out), before, "the refused {verb:?} wrote files");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without a schema (and without --strategy), `compact plan` plans Cassandra's default, STCS,
/// says so, and says why nothing compacts.
#[test]
fn compact_plan_without_a_schema_plans_cassandras_default() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-plan-default-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let g = cairn(&["gen", "tombstones", "--rows", "100", "--sstables", "2", "--out", &data.display().to_string()]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let table = walk(&data)
        .into_iter()
        .find(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("tombstones-")))
        .expect("table dir");
    let plain = dir.join("plain");
    std::fs::create_dir_all(&plain).expect("mkdir");
    for f in std::fs::read_dir(&table).expect("table").filter_map(Result::ok) {
        if f.file_name() != "schema.cql" {
            std::fs::copy(f.path(), plain.join(f.file_name())).expect("copy");
        }
    }
    let p = cairn(&["compact", "plan", &plain.display().to_string()]);
    let text = String::from_utf8_lossy(&p.stdout);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    assert!(text.contains("strategy: SizeTieredCompactionStrategy (Cassandra's default; no schema given)"), "{text}");
    assert!(
        text.contains(
            "next: nothing to compact: the largest bucket of similar sizes has 2 SSTable(s), min_threshold is 4"
        ),
        "{text}"
    );
    let j = cairn(&["compact", "plan", &plain.display().to_string(), "--json"]);
    let plan: J = serde_json::from_slice(&j.stdout).expect("json");
    assert_eq!(plan["strategy_source"], "default");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compact_plan_reads_the_table_strategy_and_execute_replaces_the_inputs() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-plan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data").display().to_string();
    let g = cairn(&["gen", "timeseries", "--now", "1700000000", "--rows", "2000", "--sstables", "4", "--out", &data]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let table = std::fs::read_dir(dir.join("data").join("cairn"))
        .expect("keyspace")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("timeseries-")))
        .expect("table dir");
    let table = table.display().to_string();
    // The schema says TWCS; its windows put the four flushes apart: nothing to do.
    let p = cairn(&["compact", "plan", &table, "--json"]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let plan: J = serde_json::from_slice(&p.stdout).expect("json");
    assert_eq!(plan["strategy"], "TimeWindowCompactionStrategy");
    assert!(plan["groups"][0]["next"].is_null(), "{plan}");
    // STCS with the default min_sstable_size groups the four small files together.
    let p = cairn(&["compact", "plan", &table, "--strategy", "stcs", "--json"]);
    let plan: J = serde_json::from_slice(&p.stdout).expect("json");
    assert_eq!(plan["groups"][0]["next"]["sstables"].as_array().map(Vec::len), Some(4), "{plan}");
    let before = json_lines(&cairn(&["dump", "--merge", "--ndjson", &table])).len();
    // --execute needs a destination.
    let e = cairn(&["compact", "plan", &table, "--strategy", "stcs", "--execute"]);
    assert_eq!(e.status.code(), Some(2));
    let e = cairn(&["compact", "plan", &table, "--strategy", "stcs", "--execute", "--in-place"]);
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    let report = String::from_utf8_lossy(&e.stderr);
    assert!(report.contains("compacted 4 SSTables into 1") && report.contains("4 deleted"), "{report}");
    let data_files = std::fs::read_dir(&table)
        .expect("table")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("-Data.db"))
        .count();
    assert_eq!(data_files, 1);
    assert_eq!(json_lines(&cairn(&["dump", "--merge", "--ndjson", &table])).len(), before);
    let v = cairn(&["verify", &table]);
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stdout));
    // Unknown options are refused as Cassandra refuses them.
    let bad = cairn(&["compact", "plan", &table, "--strategy", "stcs", "-o", "sstable_size_in_mb=10"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not understood"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compact_refuses_an_out_dir_that_puts_the_output_beside_its_inputs() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-beside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let g = cairn(&[
        "gen",
        "tombstones",
        "--now",
        "1700000000",
        "--rows",
        "200",
        "--sstables",
        "4",
        "--out",
        &data.display().to_string(),
    ]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let table = walk(&data)
        .into_iter()
        .find(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("tombstones-")))
        .expect("table dir");
    // The same SSTables in a directory that is not a <table>-<id> one: it is its own target.
    let plain = dir.join("plain");
    std::fs::create_dir_all(&plain).expect("mkdir");
    for f in std::fs::read_dir(&table).expect("table").filter_map(Result::ok) {
        std::fs::copy(f.path(), plain.join(f.file_name())).expect("copy");
    }
    let listing = |d: &Path| {
        let mut l: Vec<String> = walk(d).iter().map(|p| p.display().to_string()).collect();
        l.sort();
        l
    };
    let (t, d, p) = (table.display().to_string(), data.display().to_string(), plain.display().to_string());
    let p_dotted = plain.join("..").join("plain").display().to_string();
    let before = (listing(&table), listing(&plain));
    assert!(before.0.len() >= 4 * 8, "{:?}", before.0);
    let now = "2023-12-31T00:00:00Z";
    let runs: [&[&str]; 9] = [
        &["compact", "upgrade", &t, "--out", &d],
        &["compact", "upgrade", &p, "--out", &p],
        &["compact", "upgrade", &p, "--out", &p_dotted],
        &["compact", "run", &t, "--out", &d, "--now", now],
        &["compact", "run", &p, "--out", &p, "--now", now],
        &["compact", "split", &t, "--token-ranges", "2", "--out", &d],
        &["compact", "split", &p, "--token-ranges", "2", "--out", &p],
        &["compact", "gc", &t, "--out", &d, "--now", now],
        &["compact", "plan", &t, "--strategy", "stcs", "-o", "min_threshold=2", "--execute", "--out", &d],
    ];
    for args in runs {
        let out = cairn(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", args.join(" "));
        assert!(err.contains("beside its inputs") && err.contains("the directory of input nb-"), "{err}");
        assert_eq!((listing(&table), listing(&plain)), before, "{} wrote files", args.join(" "));
    }
    // The plan would have run: the refusal is the output directory's, not an empty plan's.
    let elsewhere = dir.join("out").display().to_string();
    let ok = cairn(&[
        "compact",
        "plan",
        &t,
        "--strategy",
        "stcs",
        "-o",
        "min_threshold=2",
        "--execute",
        "--out",
        &elsewhere,
    ]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(
        String::from_utf8_lossy(&ok.stderr).contains("compacted 4 SSTables"),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // A dry run writes nothing and is not refused.
    let dry = cairn(&["compact", "run", &p, "--out", &p, "--dry-run", "--now", now]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert_eq!((listing(&table), listing(&plain)), before);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Fields of one CSV line (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().expect("field").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().expect("field").push(c),
        }
    }
    fields
}

#[test]
fn partitions_agrees_with_dump_on_every_case() {
    let Some(corpus) = corpus() else { return };
    let mut checked = 0;
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt()) {
        let mut base = vec![path(&case)];
        if let Some(cql) = case.schema_cql() {
            let f = std::env::temp_dir().join(format!("cairn-cli-partitions-{}.cql", case.id));
            std::fs::write(&f, cql).expect("schema");
            base.extend(["--schema".to_string(), f.display().to_string()]);
        }
        let with = |args: &[&str]| {
            let mut v: Vec<&str> = args.to_vec();
            v.extend(base.iter().map(String::as_str));
            cairn(&v)
        };
        let d = with(&["dump", "--ndjson", "--now", "1700000000"]);
        assert!(d.status.success(), "{}: {}", case.id, String::from_utf8_lossy(&d.stderr));
        let dump = json_lines(&d);
        // --min-rows 0 lists every partition.
        let out = with(&["partitions", "--csv", "--min-rows", "0", "--now", "1700000000"]);
        assert!(out.status.success(), "{}: {}", case.id, String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(cairn_inspect::partitions::CSV_HEADER),
            "{}: the CSV starts with Cassandra's header",
            case.id
        );
        let rows: Vec<Vec<String>> = lines.map(csv_fields).collect();
        assert_eq!(rows.len(), dump.len(), "{}: one CSV line per partition", case.id);
        for (i, (r, d)) in rows.iter().zip(&dump).enumerate() {
            let ctx = format!("{} partition {i}", case.id);
            assert_eq!(r.len(), 23, "{ctx}: {r:?}");
            let num = |k: usize| r[k].parse::<u64>().unwrap_or_else(|_| panic!("{ctx}: column {k}: {:?}", r[k]));
            assert_eq!(
                r[0],
                d["partition"]["key"]
                    .as_array()
                    .expect("key")
                    .iter()
                    .map(|k| k.as_str().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(":"),
                "{ctx}: key"
            );
            assert_eq!(num(3), d["partition"]["position"].as_u64().expect("position"), "{ctx}: offset");
            assert_eq!(r[2] == "true", d["partition"].get("deletion_info").is_none(), "{ctx}: live");
            let unfiltereds = d["rows"].as_array().expect("rows");
            let of = |t: &str| unfiltereds.iter().filter(|u| u["type"] == t).count() as u64;
            assert_eq!(num(5), of("row"), "{ctx}: rows");
            // A range tombstone counts once, where it opens: a start bound or a boundary.
            let starts =
                unfiltereds.iter().filter(|u| u["type"] == "range_tombstone_bound" && u.get("start").is_some()).count()
                    as u64;
            assert_eq!(num(9), starts + of("range_tombstone_boundary"), "{ctx}: range tombstones");
            let deleted_rows =
                unfiltereds.iter().filter(|u| u["type"] == "row" && u.get("deletion_info").is_some()).count() as u64;
            assert_eq!(num(8), deleted_rows, "{ctx}: row tombstones");
            let parts: u64 = (8..14).map(num).sum::<u64>() + u64::from(r[2] != "true");
            assert_eq!(num(7), parts, "{ctx}: the tombstone total is the sum of its kinds and the partition deletion");
            // Partitions tile Data.db: each ends where the next begins.
            if let Some(next) = rows.get(i + 1)
                && next[14] == r[14]
            {
                assert_eq!(num(3) + num(4), next[3].parse::<u64>().expect("offset"), "{ctx}: size");
            }
        }
        checked += 1;
    }
    assert!(checked > 10, "only {checked} corpus cases");
}

#[test]
fn partitions_thresholds_select_and_summarise() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-partitions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data").display().to_string();
    let g = cairn(&["gen", "wide", "--now", "1700000000", "--rows", "3000", "--sstables", "1", "--out", &data]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let all: J = serde_json::from_slice(&cairn(&["partitions", "--json", "-w", "0", &data]).stdout).expect("json");
    let matches = all[0]["matches"].as_array().expect("matches").clone();
    let total_rows: u64 = matches.iter().map(|m| m["rows"].as_u64().unwrap_or(0)).sum();
    assert_eq!(total_rows, 3000, "every generated row counted once");
    let max_rows = matches.iter().filter_map(|m| m["rows"].as_u64()).max().expect("rows");
    assert_eq!(all[0]["max"][1], max_rows);
    // A threshold at the largest partition's row count lists exactly the partitions that reach it.
    let reach = matches.iter().filter(|m| m["rows"].as_u64() == Some(max_rows)).count();
    let top: J = serde_json::from_slice(&cairn(&["partitions", "--json", "-w", &max_rows.to_string(), &data]).stdout)
        .expect("json");
    assert_eq!(top[0]["matches"].as_array().map(Vec::len), Some(reach));
    // No threshold: the summary only.
    let text = String::from_utf8_lossy(&cairn(&["partitions", &data]).stdout).to_string();
    assert!(text.contains("~p99") && text.contains("count") && !text.contains("Partition: "), "{text}");
    // Sizes accept units.
    let big = cairn(&["partitions", "--json", "-t", "1GiB", &data]);
    let big: J = serde_json::from_slice(&big.stdout).expect("json");
    assert_eq!(big[0]["matches"].as_array().map(Vec::len), Some(0));
    assert_eq!(cairn(&["partitions", "-t", "12XB", &data]).status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_writes_complete_datasets_and_never_overwrites() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data").display().to_string();
    let out = dir.join("out").display().to_string();
    let g = cairn(&["gen", "sessions", "--now", "1700000000", "--rows", "200", "--out", &data]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let now = "2023-11-14T00:00:00Z";
    // One scanning thread: one part-NNNNN sequence (several threads write part-KK-NNNNN).
    let e = cairn(&[
        "export",
        &data,
        "--out",
        &out,
        "--format",
        "csv",
        "--with-writetime",
        "--with-ttl",
        "--now",
        now,
        "--threads",
        "1",
    ]);
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    let dataset = String::from_utf8_lossy(&e.stdout).trim().to_string();
    assert!(dataset.ends_with("cairn/sessions"), "{dataset}");
    let csv = std::fs::read_to_string(Path::new(&dataset).join("part-00000.csv")).expect("csv");
    let header = csv.lines().next().expect("header");
    assert_eq!(header, "session_key,session_data,writetime(session_data),ttl(session_data)");
    assert!(Path::new(&dataset).join("_SUCCESS").is_file());
    let summary: J = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&dataset).join("_cairn_export.json")).expect("summary"),
    )
    .expect("json");
    assert_eq!(summary["rows"].as_u64(), Some(csv.lines().count() as u64 - 1));
    // A second export into the same place is refused and changes nothing.
    let again = cairn(&["export", &data, "--out", &out, "--format", "csv", "--now", now]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::read_to_string(Path::new(&dataset).join("part-00000.csv")).expect("csv"), csv);
    // Unknown columns are named.
    let other = dir.join("out2").display().to_string();
    let bad = cairn(&["export", &data, "--out", &other, "--columns", "session_key,nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no column nope"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `cairn export B A` where A fails after B was written: exit 2, B stays complete, and the error
/// names B's dataset at its final path; B's manifest records that path, not the temporary one.
#[test]
fn an_export_failing_after_a_written_dataset_names_it() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-export-after-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (b, a) = (dir.join("b").display().to_string(), dir.join("a").display().to_string());
    for (name, out) in [("sessions", &b), ("comments", &a)] {
        let g = cairn(&["gen", name, "--rows", "50", "--out", out]);
        assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    }
    // `session_data` is a column of sessions only: sessions is written, then comments fails.
    let out = dir.join("out");
    let e = cairn(&["export", &b, &a, "--out", &out.display().to_string(), "--columns", "session_data"]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert_eq!(e.status.code(), Some(2), "{stderr}");
    let written = out.join("cairn").join("sessions");
    assert!(written.join("_SUCCESS").is_file(), "{stderr}");
    assert!(!out.join("cairn").join("comments").exists(), "{stderr}");
    assert!(stderr.contains("no column session_data"), "{stderr}");
    let named = format!("written before this error, and kept: cairn.sessions at {})", written.display());
    assert!(stderr.contains(&named), "{stderr}");
    let manifest: J =
        serde_json::from_str(&std::fs::read_to_string(written.join("_cairn_export.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["path"].as_str(), Some(written.display().to_string().as_str()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An export that reads partitions but finds no live row at `--now` says so, and succeeds with
/// the empty dataset.
#[test]
fn an_export_with_nothing_live_says_why() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-export-expired-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data").display().to_string();
    let g = cairn(&["gen", "sessions", "--rows", "40", "--sstables", "1", "--out", &data]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let out = dir.join("out").display().to_string();
    let e = cairn(&["export", &data, "--out", &out, "--now", "2100-01-01T00:00:00Z", "--format", "csv"]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert_eq!(e.status.code(), Some(0), "{stderr}");
    let manifest: J = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/cairn/sessions/_cairn_export.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["rows"].as_u64(), Some(0), "{stderr}");
    let n = manifest["partitions_read"].as_u64().expect("partitions_read");
    assert!(n > 0);
    let note = format!("cairn.sessions: all {n} partitions are expired or deleted at 2100-01-01 00:00:00.000Z");
    assert!(stderr.contains(&note), "{stderr}");
    // At a time they are live, nothing is said.
    let out = dir.join("out2").display().to_string();
    let e = cairn(&["export", &data, "--out", &out, "--now", "2023-11-14T00:00:00Z", "--format", "csv"]);
    assert!(e.status.success());
    assert!(!String::from_utf8_lossy(&e.stderr).contains("expired or deleted"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_export_leaves_the_out_directory_as_it_was() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-export-fail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let g = cairn(&[
        "gen",
        "sessions",
        "--now",
        "1700000000",
        "--rows",
        "300",
        "--sstables",
        "1",
        "--out",
        &data.display().to_string(),
    ]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    // One flipped byte inside the LZ4 chunk: the chunk's CRC fails once the export reads it.
    let data_file = walk(&data).into_iter().find(|p| p.to_string_lossy().ends_with("-Data.db")).expect("Data.db");
    let mut bytes = std::fs::read(&data_file).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data_file, &bytes).expect("write");
    let d = data.display().to_string();
    // Into a directory that does not exist: it still does not.
    let absent = dir.join("out").join("nested");
    let out = cairn(&["export", &d, "--out", &absent.display().to_string(), "--format", "csv"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.join("out").exists(), "left behind: {:?}", walk(&dir.join("out")));
    // Into an empty directory: it stays empty.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = cairn(&["export", &d, "--out", &empty.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(walk(&empty).is_empty(), "left behind: {:?}", walk(&empty));
    // Into a directory whose keyspace directory exists: both stay, and nothing else appears.
    let ks = empty.join("cairn");
    std::fs::create_dir_all(&ks).expect("mkdir");
    let out = cairn(&["export", &d, "--out", &empty.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(walk(&empty), vec![ks]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Python of the peers virtualenv, or `None` outside CI (where its absence fails).
#[test]
fn node_killed_with_sigkill_loses_no_acknowledged_write() {
    let Some(python) = common::peers_python() else { return };
    let dir = std::env::temp_dir().join(format!("cairn-cli-node-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("tests").join("peers").join("node_restart.py");
    let run = |port: u16, phase: &str| {
        let out = Command::new(&python).arg(&script).arg(port.to_string()).arg(phase).output().expect("python");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("ok"),
            "{phase}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (mut node, port) = common::start_node(&dir, None);
    run(port, "write");
    node.kill().expect("SIGKILL");
    node.wait().expect("reaped");
    // Nothing was flushed: every acknowledged write is in the commit log only.
    assert!(std::fs::read_dir(dir.join("commitlog")).expect("commitlog").count() >= 1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (mut node, port) = common::start_node(&dir, None);
    run(port, "read");
    // SIGTERM: a clean stop that flushes the memtables into SSTables and empties the log.
    let term = Command::new("kill").args(["-TERM", &node.id().to_string()]).status().expect("kill -TERM");
    assert!(term.success());
    let status = node.wait().expect("wait");
    assert!(status.success(), "the node exits 0 on SIGTERM: {status:?}");
    let data_files = walk(&dir.join("shop")).into_iter().filter(|p| p.to_string_lossy().ends_with("-Data.db")).count();
    assert_eq!(data_files, 1, "one flushed SSTable");
    let log_bytes: u64 = std::fs::read_dir(dir.join("commitlog"))
        .expect("commitlog")
        .filter_map(Result::ok)
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(log_bytes, 0, "nothing left to replay");
    let v = cairn(&["verify", &dir.join("shop").display().to_string()]);
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
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

#[test]
fn load_reports_bad_input_with_exit_code_2() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data").display().to_string();
    let g = cairn(&["gen", "sessions", "--rows", "100", "--out", &data, "--now", "now"]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let node = cairn_server::start(cairn_server::NodeConfig {
        data_dir: dir.join("node"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        users: Some(vec![("cassandra".into(), "cassandra".into())]),
        ..Default::default()
    })
    .expect("node");
    let port = node.addr.port().to_string();
    let pw = dir.join("pw");
    std::fs::write(&pw, "wrong\n").expect("pw");
    let pw_s = pw.display().to_string();
    let load_as_cassandra = |extra: &[&str]| {
        let mut args = vec!["load", "-d", "127.0.0.1", "-p", &port, "-u", "cassandra", "--password-file", &pw_s];
        args.extend_from_slice(extra);
        cairn(&args)
    };
    // Wrong credentials.
    let out = load_as_cassandra(&["--create-schema", &data]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect") && err.contains("credentials were refused") && err.contains("incorrect"),
        "{err}"
    );
    // An unreachable host.
    let out = cairn(&["load", "-d", "127.0.0.1", "-p", "1", &data]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "cairn: error: cannot reach 127.0.0.1:1 (connection refused)",
        "the cause, not the driver internals"
    );
    // The right password loads; --json reports it.
    std::fs::write(&pw, "cassandra\n").expect("pw");
    let out = load_as_cassandra(&["--create-schema", "--json", &data]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: J = serde_json::from_slice(&out.stdout).expect("json");
    let tables = &summary["tables"];
    assert!(tables[0]["statements"].as_u64().unwrap_or(0) > 0 && tables[0]["bytes"].as_u64().unwrap_or(0) > 0);
    // --plan: counts per host, the schema check and a time at the throttle.
    let out = load_as_cassandra(&["--plan", "--throttle", "0.5", &data]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("schema: ok") && text.contains("estimate:") && text.contains("at 0.5 MiB/s"), "{text}");
    assert!(text.contains("a partition with only static cells is one row"), "what the rows count: {text}");
    let host_rows: u64 = text
        .lines()
        .filter(|l| l.trim_start().starts_with("127.0.0.1:"))
        .filter_map(|l| l.split(", ").nth(1)?.strip_suffix(" rows")?.parse::<u64>().ok())
        .sum();
    assert_eq!(host_rows, tables[0]["rows"].as_u64().expect("rows"), "per-host rows add up: {text}");
    // --help says what a restore cannot keep: the deletions' local deletion time.
    let help = String::from_utf8_lossy(&cairn(&["load", "--help"]).stdout).to_string();
    assert!(help.contains("gc_grace_seconds starts again at the load"), "{help}");
    // A throttle must be positive.
    let out = cairn(&["load", "-d", "127.0.0.1", "-p", &port, "--throttle", "0", &data]);
    assert_eq!(out.status.code(), Some(2));
    // A corrupt SSTable: a located error, exit 2.
    let data_file =
        walk(&dir.join("data")).into_iter().find(|p| p.to_string_lossy().ends_with("-Data.db")).expect("Data.db");
    let mut bytes = std::fs::read(&data_file).expect("read");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 32] {
        *b ^= 0x5a;
    }
    std::fs::write(&data_file, &bytes).expect("write");
    let out = load_as_cassandra(&[&data]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Data.db"), "{}", String::from_utf8_lossy(&out.stderr));
    node.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run `cairn`, failing the test (not hanging the suite) when it has not ended after `secs`.
fn cairn_bounded(args: &[&str], secs: u64) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cairn");
    // Drain both pipes while waiting, so a full pipe cannot pass for a hang.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            b
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cairn {args:?} did not end within {secs} s (a hang)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output { status, stdout: stdout.join().expect("stdout"), stderr: stderr.join().expect("stderr") }
}

#[test]
fn a_component_that_is_a_fifo_is_a_located_error_not_a_hang() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let g = cairn(&[
        "gen",
        "sessions",
        "--now",
        "1700000000",
        "--rows",
        "50",
        "--out",
        &dir.join("data").display().to_string(),
    ]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let data = walk(&dir).into_iter().find(|p| p.to_string_lossy().ends_with("-Data.db")).expect("an SSTable");
    let name = data.file_name().and_then(|n| n.to_str()).expect("name");
    let prefix = name.trim_end_matches("Data.db");
    let source = data.parent().expect("table directory");
    let components: Vec<std::path::PathBuf> = std::fs::read_dir(source)
        .expect("read")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)))
        .collect();
    assert!(components.len() >= 6, "{components:?}");
    for fifo_of in &components {
        let fifo_name = fifo_of.file_name().and_then(|n| n.to_str()).expect("name");
        let case = dir.join(format!("fifo-{fifo_name}"));
        std::fs::create_dir_all(&case).expect("mkdir");
        for c in &components {
            let to = case.join(c.file_name().expect("name"));
            if c == fifo_of {
                let made = Command::new("mkfifo").arg(&to).status().expect("mkfifo");
                assert!(made.success(), "mkfifo {}", to.display());
            } else {
                std::fs::copy(c, &to).expect("copy");
            }
        }
        let target = case.display().to_string();
        for verb in ["meta", "dump", "verify", "describe", "tombstones"] {
            let out = cairn_bounded(&[verb, &target], 30);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{verb} with {fifo_name} a FIFO: {err}");
            assert!(
                err.contains(fifo_name) && err.contains("not a regular file but a FIFO"),
                "{verb} with {fifo_name} a FIFO: error does not say where and what: {err}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn meta_reads_statistics_past_a_damaged_index() {
    let Some(corpus) = corpus() else { return };
    let case = corpus.cases().into_iter().find(|c| c.id == "empty_index").expect("case");
    let out = cairn(&["meta", "--json", &path(&case)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "problems found: exit 1: {err}");
    let m: J = serde_json::from_slice(&out.stdout).expect("meta JSON");
    // The facts of Statistics.db, as the manifest's own parse has them.
    assert_eq!(m["min_timestamp"].as_i64(), Some(1_547_143_891_206_784));
    assert_eq!(m["max_timestamp"].as_i64(), Some(1_547_143_891_206_784));
    assert_eq!(m["total_rows"].as_i64(), Some(1));
    assert_eq!(m["estimated_cardinality"].as_u64(), Some(1));
    let problems = m["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].as_str().is_some_and(|p| p.contains("Index.db") && p.contains("at byte 0")), "{problems:?}");
    assert!(err.contains("warning") && err.contains("Index.db"), "the failed component is not named: {err}");
    // Text output too.
    let out = cairn(&["meta", &path(&case)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Estimated cardinality: 1"));
}

#[test]
fn dump_reads_a_header_that_declares_frozen_udts_non_frozen() {
    let Some(corpus) = corpus() else { return };
    let case = corpus.cases().into_iter().find(|c| c.id == "me_songs_nested_udt").expect("case");
    // No --schema and no schema.cql beside the files: the header alone (CASSANDRA-15035).
    let out = cairn(&["dump", "--ndjson", &path(&case)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let parts = json_lines(&out);
    assert_eq!(parts.len(), 1);
    let cells = parts[0]["rows"][0]["cells"].as_array().expect("cells");
    let value = |name: &str| cells.iter().find(|c| c["name"] == name).map(|c| c["value"].clone());
    assert_eq!(value("band"), Some(J::from("Iron Maiden")));
    let info = value("info").expect("info");
    assert_eq!(info["founded"], J::from(188_694_000));
    assert_eq!(info["description"], J::from("Pure evil metal"));
    assert_eq!(info["members"].as_array().map(Vec::len), Some(6));
    assert_eq!(value("tags").expect("tags")["tags"]["origin"], J::from("england"));
    assert!(
        err.contains("warning") && err.contains("info, tags") && err.contains("--schema"),
        "the columns read as frozen are not named: {err}"
    );
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cairn-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// A copy of corpus case `id` in `dir`, its Data.db passed through `data` (given the original
/// bytes and the destination).
fn copy_case(id: &str, dir: &Path, data: impl Fn(&[u8], &Path)) -> Option<String> {
    let corpus = corpus()?;
    let case = corpus.cases().into_iter().find(|c| c.id == id).expect("case in the manifest");
    for e in std::fs::read_dir(&case.dir).expect("case dir").filter_map(Result::ok).filter(|e| e.path().is_file()) {
        let dest = dir.join(e.file_name());
        if e.file_name().to_string_lossy().ends_with("-Data.db") {
            data(&std::fs::read(e.path()).expect("read"), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
    Some(dir.display().to_string())
}

/// Corpus case `id` with the Data.db byte at `at` set to `value`.
fn mutated_case(id: &str, dir: &Path, at: usize, value: u8) -> Option<String> {
    copy_case(id, dir, |b, dest| {
        let mut b = b.to_vec();
        assert_ne!(b[at], value, "{id}: byte {at} already holds {value:#04x}");
        b[at] = value;
        std::fs::write(dest, b).expect("write");
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A half-copied backup: Data.db empty, or a symlink to /dev/zero, while Index.db, CRC.db and
/// Statistics.db describe 5 partitions. dump, dump --merge and export refuse it with exit 2
/// and an error located in Data.db; export leaves nothing; --no-verify still reads.
#[test]
fn half_written_data_db_is_refused_by_every_read() {
    let root = scratch("half-written");
    for (what, make) in [
        ("empty", (|_: &[u8], dest: &Path| std::fs::write(dest, b"").expect("write")) as fn(&[u8], &Path)),
        ("/dev/zero", |_, dest| std::os::unix::fs::symlink("/dev/zero", dest).expect("symlink")),
    ] {
        let dir = root.join(what.replace('/', "_"));
        std::fs::create_dir_all(&dir).expect("dir");
        let Some(p) = copy_case("uncompressed_simple", &dir, make) else { return };
        let data = dir.join("mc-1-big-Data.db").display().to_string();
        let out_dir = root.join(format!("out-{}", what.replace('/', "_"))).display().to_string();
        for args in [vec!["dump", &p], vec!["dump", "--merge", &p], vec!["export", &p, "--out", &out_dir]] {
            let out = cairn(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{what} {args:?}: {err}");
            if what == "/dev/zero" {
                // A device is refused before it is read: components are regular files.
                assert!(err.contains(&format!("{data}: not a regular file")), "{what} {args:?}: {err}");
            } else {
                assert!(err.contains(&format!("{data} (Data.db) at byte 0: ")), "{what} {args:?}: {err}");
                assert!(err.contains("CRC.db"), "{what} {args:?}: names what contradicts it: {err}");
            }
            assert!(!String::from_utf8_lossy(&out.stdout).contains("[ ]"), "{what} {args:?}: printed an empty table");
        }
        assert!(!Path::new(&out_dir).exists(), "{what}: export left {out_dir} behind");
        // --no-verify reads what there is (forensics); a device is still no component.
        let out = cairn(&["dump", "--no-verify", &p]);
        let expected = if what == "/dev/zero" { 2 } else { 0 };
        assert_eq!(out.status.code(), Some(expected), "{what}: --no-verify: {}", stderr(&out));
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Two one-byte mutations of uncompressed files without CRC.db that used to read back as
/// altered rows with exit 0: a partition key that breaks token order, a clustering that breaks
/// row order. dump --merge and export now exit 2 naming the byte; --no-verify reads them.
#[test]
fn out_of_order_mutations_fail_dump_merge_and_export() {
    let root = scratch("out-of-order");
    for (id, at, value, offset) in
        [("write_many_live_partitions", 617_447, 0x00, 617_443), ("write_multiple_rows", 35, 0x80, 33)]
    {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).expect("dir");
        let Some(p) = mutated_case(id, &dir, at, value) else { return };
        let located = format!("{} (Data.db) at byte {offset}: ", dir.join("mc-1-big-Data.db").display());
        let out_dir = root.join(format!("out-{id}")).display().to_string();
        for args in [vec!["dump", "--merge", &p], vec!["export", &p, "--out", &out_dir]] {
            let out = cairn(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{id} {args:?}: {err}");
            assert!(err.contains(&located) && err.contains("out of"), "{id} {args:?}: {err}");
        }
        assert!(!Path::new(&out_dir).exists(), "{id}: export left {out_dir} behind");
        // The forensic escape hatch.
        let out = cairn(&["dump", "--merge", "--no-verify", &p]);
        assert_eq!(out.status.code(), Some(0), "{id}: dump --no-verify: {}", stderr(&out));
        let out = cairn(&["export", "--no-verify", &p, "--out", &out_dir]);
        assert_eq!(out.status.code(), Some(0), "{id}: export --no-verify: {}", stderr(&out));
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// The segments of a message (split at ": ") that occur more than once.
fn repeated_segments(message: &str) -> Vec<String> {
    let parts: Vec<&str> = message.split(": ").map(str::trim).filter(|s| !s.is_empty()).collect();
    let mut repeated: Vec<String> =
        parts.iter().filter(|p| parts.iter().filter(|q| q == p).count() > 1).map(|p| p.to_string()).collect();
    repeated.dedup();
    repeated
}

/// Errors of a few constructed failures each say the file, component and offset once: no
/// message repeats a segment of itself, and a value that does not decode names its file.
#[test]
fn error_messages_say_each_thing_once() {
    let Some(corpus) = corpus() else { return };
    let simple = corpus.cases().into_iter().find(|c| c.id == "uncompressed_simple").expect("case");
    let root = scratch("messages");
    let plain_file = root.join("plain");
    std::fs::write(&plain_file, b"x").expect("write");
    let mut messages: Vec<(String, String)> = Vec::new();
    let mut run = |what: &str, args: &[&str], code: i32| -> String {
        let out = cairn(args);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        for line in text.lines().filter(|l| l.starts_with("cairn: error:") || l.starts_with("  ")) {
            let repeated = repeated_segments(line);
            assert!(repeated.is_empty(), "{what}: repeats {repeated:?}: {line}");
            messages.push((what.to_string(), line.to_string()));
        }
        assert_eq!(out.status.code(), Some(code), "{what}: {}", stderr(&out));
        text
    };
    // Not a directory (an I/O error with its path).
    let under_file = plain_file.join("x").display().to_string();
    run("dump under a file", &["dump", &under_file], 2);
    let p = path(&simple);
    run("export under a file", &["export", &p, "--out", &under_file], 2);
    // A schema file that does not parse.
    let bad_schema = root.join("bad.cql");
    std::fs::write(&bad_schema, "CREATE TABLE (").expect("write");
    run("bad schema", &["dump", &p, "--schema", &bad_schema.display().to_string()], 2);
    // verify's report of a damaged Index.db.
    let idx_dir = root.join("index");
    std::fs::create_dir_all(&idx_dir).expect("dir");
    copy_case("uncompressed_simple", &idx_dir, |b, dest| std::fs::write(dest, b).expect("write"));
    let index = idx_dir.join("mc-1-big-Index.db");
    let mut bytes = std::fs::read(&index).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    std::fs::write(&index, bytes).expect("write");
    run("verify damaged index", &["verify", &idx_dir.display().to_string()], 1);
    // A row out of order.
    let ooo = root.join("ooo");
    std::fs::create_dir_all(&ooo).expect("dir");
    if let Some(p) = mutated_case("write_multiple_rows", &ooo, 35, 0x80) {
        run("out of order", &["dump", "--merge", &p], 2);
    }
    // A static text value that is not UTF-8 (read with --no-verify, past the digest): dump and
    // export name the file holding it.
    let utf = root.join("utf8");
    std::fs::create_dir_all(&utf).expect("dir");
    let case = corpus.cases().into_iter().find(|c| c.id == "write_static_row").expect("case");
    let value = case.expected()["partitions"][0]["static"]["st2"]["value"].as_str().expect("st2 value").to_string();
    copy_case("write_static_row", &utf, |b, dest| {
        let at = b.windows(value.len()).position(|w| w == value.as_bytes()).expect("value in Data.db");
        let mut b = b.to_vec();
        b[at] = 0xff;
        std::fs::write(dest, b).expect("write");
    });
    let u = utf.display().to_string();
    let data = utf.join("mc-1-big-Data.db").display().to_string();
    for args in [vec!["dump", "--no-verify", &u], vec!["dump", "--no-verify", "--merge", &u]] {
        let text = run("invalid UTF-8 (dump)", &args, 2);
        assert!(text.contains(&format!("{data} (Data.db) at byte")), "{args:?}: {text}");
    }
    let out_dir = root.join("out").display().to_string();
    let text = run("invalid UTF-8 (export)", &["export", "--no-verify", &u, "--out", &out_dir], 2);
    assert!(text.contains(&format!("{data} (Data.db) at byte")) && text.contains("st2"), "{text}");
    assert!(messages.len() >= 9, "{messages:?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn demo_tells_the_whole_story_with_commands_that_work() {
    let dir = std::env::temp_dir().join(format!("cairn-cli-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = cairn(&["demo", "--out", &dir.display().to_string()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let commands: Vec<&str> = text.lines().filter_map(|l| l.split_once(". $ cairn ").map(|(_, c)| c)).collect();
    let verbs: Vec<&str> = commands.iter().filter_map(|c| c.split_whitespace().next()).collect();
    assert_eq!(verbs, ["gen", "node", "load", "tombstones", "compact", "export"], "{text}");
    assert!(text.contains("older data for their keys sits in nb-"), "tombstones names the blocking SSTable: {text}");
    // The rows the export wrote are the rows the Parquet footers count.
    let line = text.lines().find(|l| l.contains("live rows written")).expect("export line");
    let number = |after: &str, before: &str| -> u64 {
        let s = &line[line.find(after).expect(after) + after.len()..];
        s[..s.find(before).expect(before)].trim().parse().expect("number")
    };
    assert_eq!(number("cairn.sessions: ", " live rows"), number("footers count ", "."), "{line}");
    assert!(number("cairn.sessions: ", " live rows") > 0, "{line}");
    // The commands it prints are commands a user can type: the tombstones one, as printed.
    let tombstones: Vec<&str> = commands[3].split_whitespace().collect();
    let again = cairn(&tombstones);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// FNV-1a (64 bits): a stable fingerprint of a dump's bytes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// `dump` prints byte for byte what it printed before values were formatted in place (the
/// fingerprints were taken with the binary of the commit before that change): every generated
/// dataset, ISO and raw timestamps, pretty and `--ndjson`, `--explicit` and `--merge`.
#[test]
fn dump_output_is_byte_identical_on_generated_datasets() {
    const MODES: [&[&str]; 6] = [
        &[],
        &["--timestamps", "raw"],
        &["--ndjson"],
        &["--timestamps", "raw", "--ndjson"],
        &["--explicit", "--ndjson"],
        &["--merge"],
    ];
    // (dataset, mode index, bytes, FNV-1a of the bytes)
    const EXPECTED: &[(&str, usize, usize, u64)] = &[
        ("sessions", 0, 219853, 0x613808e75215b5f2),
        ("sessions", 1, 210952, 0x668f288e6239fbea),
        ("sessions", 2, 161956, 0x6dd08c081eeed430),
        ("sessions", 3, 153055, 0xbf43e6196012c4a2),
        ("sessions", 4, 195681, 0x3b53651ba31abab6),
        ("sessions", 5, 172146, 0xde56b5ce7f517edc),
        ("timeseries", 0, 150501, 0x700894104740a767),
        ("timeseries", 1, 146257, 0x8407d1171a46ce7c),
        ("timeseries", 2, 93632, 0x60874b5dd2cc1c47),
        ("timeseries", 3, 89388, 0xd60e470806869fcc),
        ("timeseries", 4, 129561, 0x8ddb3c24cf910b5c),
        ("timeseries", 5, 150500, 0x99df8fc612f3496b),
        ("comments", 0, 116245, 0xd0dca1912f1799b9),
        ("comments", 1, 110011, 0x47d4bf7028b3ef99),
        ("comments", 2, 81268, 0x37b11ce6367ddc27),
        ("comments", 3, 75034, 0x1b78364ffc476e39),
        ("comments", 4, 111644, 0xe53a625d51cbc333),
        ("comments", 5, 110943, 0x18be3c64f3b70ef3),
        ("wide", 0, 133539, 0x92817c16b9cd6dca),
        ("wide", 1, 129146, 0xb0a5e837c94c7866),
        ("wide", 2, 85365, 0xcca9e0850c26a528),
        ("wide", 3, 80972, 0xc82e498d55ec99fe),
        ("wide", 4, 139751, 0x749857d37206acb6),
        ("wide", 5, 133108, 0x36b1c339da5d52b9),
        ("collections", 0, 1716225, 0xfabff68cff192ea9),
        ("collections", 1, 1624375, 0x625c4eb5f8d58b03),
        ("collections", 2, 1290965, 0x8a0084029f0bc167),
        ("collections", 3, 1199115, 0xf00b75054ceb04ff),
        ("collections", 4, 1767767, 0x8e3c20b4eb3d0e37),
        ("collections", 5, 1425084, 0x23660b551d3be137),
        ("alltypes", 0, 597770, 0xf7f131c8d807966e),
        ("alltypes", 1, 593377, 0x2ea76c879889dc7e),
        ("alltypes", 2, 417363, 0x6279159f7bc3a088),
        ("alltypes", 3, 412970, 0xd7bc91ad3624c3ae),
        ("alltypes", 4, 905327, 0xf772e510f3dd40ab),
        ("alltypes", 5, 563770, 0xb23d8fb08d1437a7),
        ("tombstones", 0, 128675, 0x6fb38c96e39b3b4f),
        ("tombstones", 1, 120758, 0xefabaa532429fb72),
        ("tombstones", 2, 83367, 0x546cbc690ee0ca71),
        ("tombstones", 3, 75450, 0xf5989bf51e107ab4),
        ("tombstones", 4, 99734, 0xa3e028514c22d6f7),
        ("tombstones", 5, 67433, 0xae4ea7806b0e7807),
    ];
    // Paths relative to the directory: without --merge, dump names each SSTable as given.
    let dir = std::env::temp_dir().join(format!("cairn-cli-golden-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).current_dir(&dir).output();
    let mut seen = Vec::new();
    for ds in ["sessions", "timeseries", "comments", "wide", "collections", "alltypes", "tombstones"] {
        let g = run(&["gen", ds, "--now", "1700000000", "--rows", "400", "--out", ds]).expect("run cairn gen");
        assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
        for (m, mode) in MODES.iter().enumerate() {
            let mut args = vec!["dump", "--now", "1700000000"];
            args.extend(*mode);
            args.push(ds);
            let out = run(&args).expect("run cairn dump");
            assert!(out.status.success(), "{ds} {mode:?}: {}", String::from_utf8_lossy(&out.stderr));
            seen.push((ds, m, out.stdout.len(), fnv1a(&out.stdout)));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let table: String = seen.iter().map(|(d, m, n, h)| format!("        ({d:?}, {m}, {n}, {h:#018x}),\n")).collect();
    assert_eq!(seen, EXPECTED, "dump output changed; this run printed:\n{table}");
}

/// `cairn node --config cassandra.yaml`: the data directory, CQL port and num_tokens come from
/// the file under cassandra.yaml's names, and a flag wins over the file.
#[test]
fn node_takes_its_settings_from_a_cassandra_yaml() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("yamldata");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let yaml = format!(
        "cluster_name: 'Yaml Cluster'\nnum_tokens: 4\nnative_transport_port: {port}\ndata_file_directories:\n    - {}\nconcurrent_writes: 32\n",
        data.display()
    );
    let config = tmp.path().join("cassandra.yaml");
    std::fs::write(&config, yaml).expect("write yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["node", "--config", &config.display().to_string(), "--admin-port", "0", "--initial-token", "-5,7"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let mut err = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    // The whole "ready" line, which names the address.
    while !String::from_utf8_lossy(&seen).contains("ready, CQL") || seen.last() != Some(&b'\n') {
        match err.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = String::from_utf8_lossy(&seen).to_string();
    assert!(log.contains(&format!("on 127.0.0.1:{port}")), "the port from the file: {log}");
    let identity = std::fs::read_to_string(data.join("cairn_node.txt")).expect("the data directory from the file");
    let tokens: Vec<&str> = identity.lines().skip(1).collect();
    assert_eq!(tokens, ["-5", "7"], "--initial-token wins over num_tokens: 4");
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(&bad, "num_tokens: lots\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["node", "--config", &bad.display().to_string(), "--data", &data.display().to_string()])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("bad.yaml:1: num_tokens: \"lots\" is not a count"), "{text}");
}

/// `compact upgrade` and `compact run` keep the source's compression: codec, chunk length and
/// options, the Zstd level among them. A level Cassandra would refuse, or a compressor class
/// Cairn does not know, is refused before anything is written (the writer once used the codec's
/// default level instead, `run` wrote 16 KiB chunks at the default level, and an unknown class
/// became no compression, all without a word).
#[test]
fn rewrites_keep_the_sources_compression_and_refuse_what_they_cannot_keep() {
    let Some(corpus) = corpus() else { return };
    let source = corpus.dir.join("scylladb").join("zstd_multiple_chunks");
    let dir = std::env::temp_dir().join(format!("cairn-cli-keep-compression-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let recorded = std::fs::read(source.join("mc-1-big-CompressionInfo.db")).expect("CompressionInfo.db");
    let level_at = recorded.windows(18).position(|w| w == b"compression_level\0").expect("a level option") + 19;
    assert_eq!(recorded.get(level_at), Some(&b'5'), "the case records level 5");
    // The chunk length follows the options (int), after the class name and options.
    let chunk = recorded.get(level_at + 1..level_at + 5).expect("chunk length").to_vec();
    let class_at = recorded.windows(14).position(|w| w == b"ZstdCompressor").expect("the class");
    let variants: [(&str, usize, u8, Option<&str>); 3] = [
        ("kept", level_at, b'5', None),
        ("bad-level", level_at, b'x', Some("ZstdCompressor option compression_level='x': not an integer")),
        // Refused when the SSTable opens: Cairn cannot read its chunks either.
        ("unknown-class", class_at, b'Q', Some("unsupported SSTable format: compressor class 'QstdCompressor'")),
    ];
    for (name, at, byte, refused) in variants {
        let copy = dir.join(name).join("src");
        std::fs::create_dir_all(&copy).expect("mkdir");
        for f in std::fs::read_dir(&source).expect("case").filter_map(Result::ok) {
            std::fs::copy(f.path(), copy.join(f.file_name())).expect("copy");
        }
        let mut patched = recorded.clone();
        patched[at] = byte;
        std::fs::write(copy.join("mc-1-big-CompressionInfo.db"), &patched).expect("patch");
        for verb in ["upgrade", "run"] {
            let out = dir.join(name).join(verb);
            let mut args = vec!["compact", verb];
            let (c, o) = (copy.display().to_string(), out.display().to_string());
            args.extend([c.as_str(), "--out", o.as_str()]);
            if verb == "run" {
                args.extend(["--now", "2023-12-31T00:00:00Z"]);
            }
            let done = cairn(&args);
            let err = String::from_utf8_lossy(&done.stderr);
            let Some(message) = refused else {
                assert!(done.status.success(), "{verb}: {err}");
                let written = walk(&out)
                    .into_iter()
                    .find(|p| p.to_string_lossy().ends_with("-big-CompressionInfo.db"))
                    .expect("a rewritten SSTable");
                let kept = std::fs::read(&written).expect("read");
                let level = kept.windows(20).position(|w| w == b"compression_level\0\x015").expect("level 5 kept");
                assert_eq!(kept.get(level + 20..level + 24), Some(&chunk[..]), "{verb}: the chunk length is kept");
                assert!(kept.starts_with(b"\0\x0eZstdCompressor"), "{verb}: the codec is kept");
                let data = written.display().to_string().replace("CompressionInfo", "Data");
                let verify = cairn(&["verify", &data]);
                assert!(verify.status.success(), "{verb}: {}", String::from_utf8_lossy(&verify.stdout));
                continue;
            };
            assert_eq!(done.status.code(), Some(2), "{name} {verb}: {err}");
            assert!(err.contains(message), "{name} {verb}: {err}");
            // The error names the file to mend: the source's CompressionInfo.db.
            assert!(err.contains("src/mc-1-big-CompressionInfo.db"), "{name} {verb}: {err}");
            assert!(!out.exists(), "{name} {verb}: the refused rewrite wrote {:?}", walk(&out));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Data.db named without a directory is in the current one (its parent is the empty path,
/// which read as no directory at all: "error: : No such file or directory").
#[test]
fn a_bare_file_name_is_read_from_the_current_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let g = cairn(&["gen", "timeseries", "--rows", "50", "--out", &tmp.path().display().to_string()]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let data = common::only_subdir(&tmp.path().join("cairn"));
    let name = std::fs::read_dir(&data)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with("-Data.db"))
        .expect("a Data.db");
    let run =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_cairn")).current_dir(&data).args(args).output().expect("run");
    for verb in [&["meta"][..], &["verify"], &["describe"], &["dump", "--ndjson"]] {
        let out = run(&[verb, &[name.as_str()]].concat());
        assert!(out.status.success(), "{verb:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).is_empty(), "{verb:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta = run(&["meta", &name]);
    let shown = format!("SSTable: ./{}\n", name.trim_end_matches("-Data.db"));
    assert!(String::from_utf8_lossy(&meta.stdout).starts_with(&shown), "{}", String::from_utf8_lossy(&meta.stdout));
    // The table is the one the current directory is: a rewrite out of place is laid out under
    // its keyspace and table directory, as when the directory is named in full.
    let table_dir = data.file_name().expect("table dir").to_string_lossy().into_owned();
    for (k, input) in [name.as_str(), "."].into_iter().enumerate() {
        let out = tmp.path().join(format!("out{k}"));
        let c = run(&["compact", "run", "--out", &out.display().to_string(), input]);
        assert!(c.status.success(), "{input}: {}", String::from_utf8_lossy(&c.stderr));
        let laid_out = out.join("cairn").join(&table_dir);
        let written = std::fs::read_dir(&laid_out).map(|d| d.count()).unwrap_or(0);
        assert!(written > 0, "{input}: nothing in {}", laid_out.display());
    }
}

/// A purge that relies on a bloom filter's "not here" checks that filter against its Index.db:
/// a damaged Filter.db of an SSTable outside the compaction is refused, not trusted to let
/// deleted data come back (Cassandra trusts it).
#[test]
fn a_damaged_filter_a_purge_relies_on_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let table = common::gen_table(tmp.path(), "tombstones", 100, &["--sstables", "2", "--compression", "none"]);
    let second = table.join("nb-2-big-Data.db").display().to_string();
    let compact =
        |out: &str| cairn(&["compact", "run", "--now", "1700000000", "--gc-grace-seconds", "0", "--out", out, &second]);
    // Intact: nb-1 holds older data for the keys of nb-2's tombstones, so some stay.
    let intact = compact(&tmp.path().join("intact").display().to_string());
    let said = String::from_utf8_lossy(&intact.stderr).into_owned();
    assert!(intact.status.success(), "{said}");
    assert!(!said.contains(" 0 past gc_grace kept for overlapping SSTables"), "{said}");
    // nb-1's filter bits zeroed: it rejects every key, so those tombstones would be purged.
    let filter = table.join("nb-1-big-Filter.db");
    let mut bytes = std::fs::read(&filter).expect("read");
    bytes.iter_mut().skip(8).for_each(|b| *b = 0);
    std::fs::write(&filter, &bytes).expect("write");
    let out = tmp.path().join("damaged");
    let damaged = compact(&out.display().to_string());
    let said = String::from_utf8_lossy(&damaged.stderr).into_owned();
    assert_eq!(damaged.status.code(), Some(2), "{said}");
    assert!(said.contains("nb-1-big-Filter.db: the bloom filter rejects"), "{said}");
    // Not even the directories the output would have gone to.
    assert!(!out.exists(), "nothing written: {:?}", walk(&out));
    // tombstones judges the same way, and refuses the same way.
    let t = cairn(&["tombstones", "--now", "1700000000", "--gc-grace-seconds", "0", &second]);
    assert_eq!(t.status.code(), Some(2), "{}", String::from_utf8_lossy(&t.stdout));
}

/// `dump -k` finds partitions through Summary.db and Index.db, and checks what it reads: a
/// sample that points at no entry of its key, or an entry placing a key where another partition
/// starts, is a located error (not an empty or a wrong answer); a bloom filter that rejects a
/// key Index.db holds does not hide it, and is warned about.
#[test]
fn dump_by_key_checks_the_summary_the_index_and_the_filter() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let table = common::gen_table(tmp.path(), "alltypes", 30, &["--sstables", "1", "--compression", "none"]);
    let copy = |name: &str, component: &str, patch: &dyn Fn(&mut Vec<u8>)| {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).expect("mkdir");
        for e in std::fs::read_dir(&table).expect("read_dir") {
            let e = e.expect("entry");
            std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
        }
        let file = dir.join(format!("nb-1-big-{component}"));
        let mut bytes = std::fs::read(&file).expect("read");
        patch(&mut bytes);
        std::fs::write(&file, bytes).expect("write");
        dir.display().to_string()
    };
    // Index.db's first two entries: key 23 at Data.db byte 0, key 5 at byte 195 (vint 80 c3).
    let index = std::fs::read(table.join("nb-1-big-Index.db")).expect("index");
    assert_eq!(index.get(..16), Some(&[0, 4, 0, 0, 0, 23, 0, 0, 0, 4, 0, 0, 0, 5, 0x80, 0xc3][..]), "layout");
    let moved = copy("moved", "Index.db", &|b| b[15] ^= 1);
    let out = cairn(&["dump", "-k", "5", &moved]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("nb-1-big-Data.db (Data.db) at byte 194: Index.db places the partition looked up"), "{said}");
    // Summary.db's one sample: key 23 (bytes 28..32) at Index.db byte 0 (bytes 32..40, LE).
    let summary = std::fs::read(table.join("nb-1-big-Summary.db")).expect("summary");
    assert_eq!(summary.get(28..40), Some(&[0, 0, 0, 23, 0, 0, 0, 0, 0, 0, 0, 0][..]), "layout");
    let sampled = copy("sampled", "Summary.db", &|b| b[34] ^= 1);
    let out = cairn(&["dump", "-k", "5", "-k", "3", &sampled]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("nb-1-big-Index.db (Index.db) at byte 65536: a Summary.db sample points here"), "{said}");
    // Every filter bit cleared: the filter rejects every key, the partition is still found.
    let rejecting = copy("rejecting", "Filter.db", &|b| b.iter_mut().skip(8).for_each(|x| *x = 0));
    let out = cairn(&["dump", "-k", "5", "--ndjson", &rejecting]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{said}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1, "key 5 is found");
    assert!(said.contains("nb-1-big-Filter.db: the bloom filter rejects key 5, which Index.db holds"), "{said}");
}

/// An mc/md/me Statistics.db has no checksum: a damaged encoding statistic in its serialization
/// header shifts every timestamp of the data while every row still decodes. verify holds the
/// values the data holds against Statistics.db's record of their range, and so does every read.
#[test]
fn verify_holds_the_data_against_the_recorded_ranges() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let table =
        common::gen_table(tmp.path(), "alltypes", 30, &["--sstables", "1", "--version", "me", "--compression", "none"]);
    let intact = cairn(&["verify", &table.display().to_string()]);
    assert!(intact.status.success(), "{}", String::from_utf8_lossy(&intact.stdout));
    // Statistics.db: i32 count, then (i32 type, i32 offset) pairs; type 3 is the serialization
    // header, which opens with the minimum timestamp as an unsigned vint (its length is one
    // more than the leading one bits of its first byte). Its last byte's low bit is flipped:
    // every timestamp decodes one microsecond off.
    let path = table.join("me-1-big-Statistics.db");
    let mut stats = std::fs::read(&path).expect("read");
    let int = |at: usize| i32::from_be_bytes(stats[at..at + 4].try_into().expect("4 bytes")) as usize;
    let header = (0..int(0)).map(|i| (int(4 + 8 * i), int(8 + 8 * i))).find(|(t, _)| *t == 3).expect("header").1;
    let len = stats[header].leading_ones() as usize + 1;
    stats[header + len - 1] ^= 1;
    std::fs::write(&path, stats).expect("write");
    let out = cairn(&["verify", &table.display().to_string()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("me-1-big-Data.db (Data.db) at byte "), "{text}");
    assert!(text.contains(": the data's timestamps range from "), "{text}");
    assert!(text.contains("outside Statistics.db's record"), "{text}");
    // Every read that reaches the end of the data checks the same, and fails.
    for verb in [&["dump"][..], &["export", "--format", "ndjson", "--out"]] {
        let mut args: Vec<String> = verb.iter().map(|s| s.to_string()).collect();
        if verb[0] == "export" {
            args.push(tmp.path().join("exported").display().to_string());
        }
        args.push(table.display().to_string());
        let out = cairn(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{verb:?}: {said}");
        assert!(said.contains("outside Statistics.db's record"), "{verb:?}: {said}");
    }
    assert!(!tmp.path().join("exported").join("cairn").exists(), "nothing exported");
}

/// A checksum component TOC.txt lists but the disk does not have is refused by every read: the
/// data could not be checked, and a damaged Data.db would read as good data.
#[test]
fn a_listed_checksum_that_is_missing_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let table =
        common::gen_table(tmp.path(), "sessions", 50, &["--sstables", "1", "--version", "oa", "--compression", "none"]);
    let dir = table.display().to_string();
    for component in ["Digest.crc32", "CRC.db"] {
        let file = table.join(format!("oa-1-big-{component}"));
        let kept = std::fs::read(&file).expect("read");
        std::fs::remove_file(&file).expect("remove");
        let out = cairn(&["dump", &dir]);
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{component}: {said}");
        assert!(
            said.contains(&format!("oa-1-big-{component}: {component} is listed in TOC.txt but missing")),
            "{said}"
        );
        let unchecked = cairn(&["dump", "--no-verify", &dir]);
        assert!(unchecked.status.success(), "{}", String::from_utf8_lossy(&unchecked.stderr));
        // verify lists it among the problems it finds, and checks the rest.
        let verified = cairn(&["verify", &dir]);
        let text = String::from_utf8_lossy(&verified.stdout).into_owned();
        assert_eq!(verified.status.code(), Some(1), "{text}");
        assert!(text.contains("listed in TOC.txt but missing on disk"), "{text}");
        std::fs::write(&file, kept).expect("restore");
    }
    // Any other listed component: meta and verify both report it (exit 1).
    std::fs::remove_file(table.join("oa-1-big-Summary.db")).expect("remove");
    for verb in ["meta", "verify"] {
        let out = cairn(&[verb, &dir]);
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{verb}: {said}");
        assert!(
            said.contains("oa-1-big-Summary.db") && said.contains("listed in TOC.txt but missing on disk"),
            "{said}"
        );
    }
}

/// CompressionInfo.db naming a compressor class Cairn does not have is refused at open, and
/// `meta` lists it among its problems (exit 1) instead of printing the name as if it read.
#[test]
fn an_unknown_compressor_class_is_refused_at_open() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let table = common::gen_table(tmp.path(), "sessions", 50, &["--sstables", "1", "--compression", "lz4"]);
    let file = table.join("nb-1-big-CompressionInfo.db");
    let mut bytes = std::fs::read(&file).expect("read");
    // A u16 length, then the class name: LZ4Compressor becomes MZ4Compressor.
    assert_eq!(bytes.get(2..15), Some(&b"LZ4Compressor"[..]), "layout");
    bytes[2] = b'M';
    std::fs::write(&file, bytes).expect("write");
    let dir = table.display().to_string();
    let dump = cairn(&["dump", &dir]);
    let said = String::from_utf8_lossy(&dump.stderr).into_owned();
    assert_eq!(dump.status.code(), Some(2), "{said}");
    assert!(
        said.contains("nb-1-big-CompressionInfo.db: unsupported SSTable format: compressor class 'MZ4Compressor'"),
        "{said}"
    );
    let meta = cairn(&["meta", "--json", &dir]);
    assert_eq!(meta.status.code(), Some(1), "{}", String::from_utf8_lossy(&meta.stderr));
    assert!(String::from_utf8_lossy(&meta.stdout).contains("compressor class 'MZ4Compressor'"));
}

/// A snapshot's schema.cql lists a dropped column in its CREATE TABLE, then `ALTER TABLE ... DROP
/// col USING TIMESTAMP t` (and `ADD` when the column was made again): every read leaves out the
/// column's cells written until `t`, as Cassandra does, so dropped data never comes back.
#[test]
fn a_dropped_column_stays_dropped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let table = common::gen_table(tmp.path(), "sessions", 100, &["--sstables", "1"]);
    let dir = table.display().to_string();
    let export = |name: &str, extra: &[&str]| -> Vec<serde_json::Value> {
        let out = tmp.path().join(name).display().to_string();
        let args =
            [&["export", "--now", "1700000000", "--format", "ndjson", "--out", &out][..], extra, &[&dir]].concat();
        common::ok(cairn(&args), "export");
        let mut rows = Vec::new();
        for f in walk(Path::new(&out)).into_iter().filter(|p| p.extension().is_some_and(|e| e == "ndjson")) {
            let text = std::fs::read_to_string(f).expect("read");
            rows.extend(text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")));
        }
        rows.sort_by_key(|r| r["session_key"].as_str().unwrap_or_default().to_string());
        rows
    };
    let before = export("before", &["--with-writetime"]);
    let mut times: Vec<i64> = before.iter().filter_map(|r| r["writetime(session_data)"].as_i64()).collect();
    times.sort_unstable();
    assert!(times.len() > 10, "{times:?}");
    let cut = times[times.len() / 2];
    let schema = table.join("schema.cql");
    let created = std::fs::read_to_string(&schema).expect("schema");
    // Dropped for good: no column, no values.
    let drop = format!("ALTER TABLE cairn.sessions DROP session_data USING TIMESTAMP {cut};\n");
    std::fs::write(&schema, format!("{created}{drop}")).expect("write");
    let gone = export("gone", &[]);
    assert_eq!(gone.len(), before.len());
    assert!(gone.iter().all(|r| r.get("session_data").is_none()), "{:?}", gone.first());
    // Added again: the values written after the drop are back, none written before it.
    std::fs::write(&schema, format!("{created}{drop}ALTER TABLE cairn.sessions ADD session_data text;\n")).expect("w");
    let again = export("again", &[]);
    assert_eq!(again.len(), before.len());
    for (b, a) in before.iter().zip(&again) {
        let newer = b["writetime(session_data)"].as_i64().is_some_and(|t| t > cut);
        let kept = if newer { b["session_data"].clone() } else { serde_json::Value::Null };
        assert_eq!(a["session_data"], kept, "{b}");
    }
    // dump reads the same way; a DROP that does not say when is refused.
    let dump = common::ok(cairn(&["dump", "--ndjson", &dir]), "dump");
    let cells = String::from_utf8_lossy(&dump.stdout).matches("\"name\":\"session_data\"").count();
    assert_eq!(cells, times.iter().filter(|t| **t > cut).count());
    std::fs::write(&schema, format!("{created}ALTER TABLE cairn.sessions DROP session_data;\n")).expect("write");
    let out = cairn(&["dump", &dir]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DROP without USING TIMESTAMP"));
}

/// `--where-token (START, END]` with START at or above END wraps around the ring in Cassandra;
/// it is refused, not exported as an empty range.
#[test]
fn a_wrapping_token_range_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let table = common::gen_table(tmp.path(), "timeseries", 50, &[]);
    let out = tmp.path().join("out");
    for range in ["5:3", "-9223372036854775808:-9223372036854775808"] {
        let args = ["export", "--format", "csv", "--where-token", range, "--out", &common::s(&out), &common::s(&table)];
        let done = cairn(&args);
        let said = String::from_utf8_lossy(&done.stderr).into_owned();
        assert_eq!(done.status.code(), Some(2), "{range}: {said}");
        assert!(said.contains("wraps around the ring"), "{said}");
        assert!(!out.exists(), "{range}: nothing written");
    }
}
