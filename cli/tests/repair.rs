//! `cairn repair diff|sync`: the same data in another version, codec or SSTable layout is
//! identical; a missing SSTable shows exactly the partitions whose merged content changes (found
//! independently from `dump --merge`); a deleted partition, an updated cell and an expired TTL
//! show with their status; sync then diff is identical; corpus multi-generation cases are
//! identical to their own merge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cairn_format::data::CELL_IS_EXPIRING;
use cairn_format::deletion::{DeletionTime, LivenessInfo};
use cairn_format::sstable::SsTable;
use cairn_format::writer::{SsTableWriter, WriterOptions, next_generation};
use serde_json::Value as J;

mod common;
use common::{cairn, ok, only_subdir, s};

/// The generator's clock (`cairn gen --now NOW`): every diff here is judged at it.
const NOW: &str = "1700000000";

/// The one table directory of a generated data directory.
fn table_dir(data: &Path) -> PathBuf {
    only_subdir(&only_subdir(data))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// `repair diff --json`: exit code and document.
fn diff(a: &Path, b: &Path, extra: &[&str]) -> (i32, J) {
    let mut args = vec!["repair", "diff", "--json", "--now", NOW];
    args.extend_from_slice(extra);
    let (a, b) = (s(a), s(b));
    args.push(&a);
    args.push(&b);
    let out = cairn(&args);
    let code = out.status.code().expect("exit code");
    assert!(code == 0 || code == 1, "repair diff failed ({code}): {}", String::from_utf8_lossy(&out.stderr));
    (code, serde_json::from_slice(&out.stdout).expect("json"))
}

/// key_hex → status of every differing partition of the (single) table.
fn statuses(doc: &J) -> BTreeMap<String, String> {
    let tables = doc["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 1, "{doc}");
    tables[0]["differing_partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| (p["key_hex"].as_str().expect("hex").to_string(), p["status"].as_str().expect("status").to_string()))
        .collect()
}

fn generate(dir: &Path, dataset: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["gen", dataset, "--out"];
    let d = s(dir);
    args.push(&d);
    args.extend_from_slice(&["--rows", "300", "--seed", "7", "--now", NOW]);
    args.extend_from_slice(extra);
    ok(cairn(&args), "gen");
    dir.to_path_buf()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `v` without its Data.db `position` fields (where a partition or row sits in whichever file
/// it came from is not content).
fn without_positions(v: &mut J) {
    match v {
        J::Object(o) => {
            o.remove("position");
            o.values_mut().for_each(without_positions);
        }
        J::Array(a) => a.iter_mut().for_each(without_positions),
        _ => {}
    }
}

/// Every partition of `dump --merge --ndjson` (lossless: raw timestamps, explicit cells), by key.
fn merged_dump(dir: &Path) -> BTreeMap<String, String> {
    let args = ["dump", "--merge", "--ndjson", "--explicit", "--timestamps", "raw", "--now", NOW, &s(dir)];
    let out = ok(cairn(&args), "dump");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| {
            let mut v: J = serde_json::from_str(l).expect("ndjson");
            without_positions(&mut v);
            (v["partition"]["key"].to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn an_upgrade_to_another_version_and_codec_is_identical() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = generate(&tmp.path().join("a"), "tombstones", &["--version", "me", "--compression", "snappy"]);
    let up = tmp.path().join("up");
    ok(cairn(&["compact", "upgrade", &s(&a), "--to", "oa", "--compression", "zstd", "--out", &s(&up)]), "upgrade");
    let (code, doc) = diff(&a, &up, &[]);
    assert_eq!(code, 0, "{doc}");
    let t = &doc["tables"][0];
    assert!(t["partitions_compared"].as_u64().expect("n") > 10, "{t}");
    assert_eq!(t["ranges_differing"], 0);
    // One SSTable or three: the whole table compacted into one (nothing purged: gc_grace is
    // longer than the data's age) hashes the same.
    let merged = tmp.path().join("merged");
    ok(
        cairn(&["compact", "run", &s(&a), "--now", NOW, "--gc-grace-seconds", "1000000000", "--out", &s(&merged)]),
        "compact run",
    );
    let (code, doc) = diff(&a, &merged, &["--gc-grace-seconds", "1000000000"]);
    assert_eq!(code, 0, "{doc}");
}

#[test]
fn a_missing_sstable_shows_exactly_the_partitions_whose_merged_content_changes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = generate(&tmp.path().join("a"), "sessions", &["--sstables", "3"]);
    let b = tmp.path().join("b");
    copy_dir(&a, &b);
    let tb = table_dir(&b);
    let removed = std::fs::read_dir(&tb)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("nb-2-big-")))
        .collect::<Vec<_>>();
    assert!(!removed.is_empty());
    for p in removed {
        std::fs::remove_file(p).expect("rm");
    }
    // Independently: the partitions whose `dump --merge` differs.
    let (da, db) = (merged_dump(&a), merged_dump(&b));
    let keys: BTreeSet<&String> = da.keys().chain(db.keys()).collect();
    let mut expected = BTreeMap::new();
    for k in keys {
        let status = match (da.get(k), db.get(k)) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(_), None) => "only_in_a",
            (None, Some(_)) => "only_in_b",
            _ => "changed",
        };
        expected.insert(k.clone(), status);
    }
    assert!(!expected.is_empty());
    // Nothing purged, so the repair view and the dump view are the same data.
    let (code, doc) = diff(&a, &b, &["--gc-grace-seconds", "1000000000"]);
    assert_eq!(code, 1);
    let found: BTreeMap<String, &str> = doc["tables"][0]["differing_partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            let status = match p["status"].as_str().expect("status") {
                s @ ("only_in_a" | "only_in_b") => s,
                _ => "changed",
            };
            (p["key"].to_string(), status)
        })
        .collect();
    assert_eq!(found, expected);
    // The human report names the same count; --ndjson has one line per partition and a summary.
    let out = cairn(&["repair", "diff", "--now", NOW, "--gc-grace-seconds", "1000000000", &s(&a), &s(&b)]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{} partitions differ", expected.len())), "{text}");
    let out = cairn(&["repair", "diff", "--ndjson", "--now", NOW, "--gc-grace-seconds", "1000000000", &s(&a), &s(&b)]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), expected.len() + 1);
}

/// An SSTable added to `dir` (a table directory) by Cairn's writer: the partitions `edit` makes
/// from the first SSTable's partitions.
fn add_sstable(
    dir: &Path,
    edit: &dyn Fn(&[u8], &mut SsTableWriter, &mut cairn_format::data::scanner::Scanner) -> bool,
) {
    let first = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with("-Data.db"))
        .expect("a Data.db");
    let table = SsTable::open(&first, None).expect("open");
    let header = (*table.header).clone();
    let options = WriterOptions { version: table.descriptor.version, ..WriterOptions::default() };
    let mut w = SsTableWriter::create(dir, next_generation(dir).expect("gen"), header, options).expect("writer");
    let mut scanner = table.scanner().expect("scanner");
    let mut keys = Vec::new();
    while let Some(p) = scanner.next_partition().expect("partition") {
        keys.push((table.token(&p.key), p.key.clone()));
    }
    keys.sort();
    for (_, k) in keys {
        let mut sc = table.scanner().expect("scanner");
        let pos = table.find_partition(&k).expect("find").expect("present");
        sc.seek(pos, None).expect("seek");
        sc.next_partition().expect("partition").expect("there");
        if !edit(&k, &mut w, &mut sc) {
            continue;
        }
    }
    w.finish().expect("finish");
}

#[test]
fn a_deleted_partition_an_updated_cell_and_an_expired_ttl_are_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = generate(&tmp.path().join("a"), "sessions", &["--sstables", "2"]);
    let a_table = table_dir(&a);
    let t = SsTable::open(
        &std::fs::read_dir(&a_table)
            .expect("read_dir")
            .map(|e| e.expect("entry").path())
            .find(|p| p.to_string_lossy().ends_with("-Data.db"))
            .expect("Data.db"),
        None,
    )
    .expect("open");
    // Keys of the first SSTable whose merged partition is a live row at the clock.
    let merged = merged_dump(&a);
    let mut sc = t.scanner().expect("scanner");
    let mut live_keys = Vec::new();
    while let Some(p) = sc.next_partition().expect("p") {
        let key = p.key.clone();
        let json_key = format!("[\"{}\"]", String::from_utf8(key.clone()).expect("text key"));
        if merged
            .get(&json_key)
            .is_some_and(|d| !d.contains("deletion_info") && !d.contains("\"expired\":true") && d.contains("\"cells\""))
        {
            live_keys.push(key);
        }
    }
    assert!(live_keys.len() >= 2);
    let (deleted, updated) = (live_keys[0].clone(), live_keys[1].clone());

    // B: A plus a newer partition deletion of one key and a newer write of another's cells.
    let b = tmp.path().join("b");
    copy_dir(&a, &b);
    let (d2, u2) = (deleted.clone(), updated.clone());
    add_sstable(&table_dir(&b), &move |k, w, sc| {
        if k == d2.as_slice() {
            let del = DeletionTime { marked_for_delete_at: 1_700_000_000_000_000, local_deletion_time: 1_700_000_000 };
            w.begin_partition(k, del).expect("begin");
            w.end_partition().expect("end");
            true
        } else if k == u2.as_slice() {
            w.begin_partition(k, DeletionTime::LIVE).expect("begin");
            while let Some(u) = sc.next_unfiltered().expect("row") {
                let mut u = u.to_owned_copy();
                u.liveness = LivenessInfo::EMPTY;
                for c in &mut u.cells {
                    c.timestamp = 1_700_000_000_000_000;
                }
                w.write(&u).expect("write");
            }
            w.end_partition().expect("end");
            true
        } else {
            false
        }
    });
    let (code, doc) = diff(&a, &b, &[]);
    assert_eq!(code, 1);
    let expected: BTreeMap<String, String> =
        [(hex(&deleted), "deleted_in_b".to_string()), (hex(&updated), "b_newer".to_string())].into();
    assert_eq!(statuses(&doc), expected, "{doc}");
    // Two differing leaves of hundreds are sought through the index; at depth 1 the drill-down
    // reads the whole table: the same answer.
    assert!(doc["tables"][0]["depth"].as_u64().expect("depth") >= 8, "{doc}");
    let (_, whole) = diff(&a, &b, &["--depth", "1"]);
    assert_eq!(statuses(&whole), expected, "{whole}");
    let part = doc["tables"][0]["differing_partitions"]
        .as_array()
        .expect("p")
        .iter()
        .find(|p| p["status"] == "b_newer")
        .expect("updated")
        .clone();
    assert_eq!(
        (part["rows_a"].as_u64(), part["rows_b"].as_u64(), part["rows_differing"].as_u64()),
        (Some(1), Some(1), Some(1))
    );

    // C: A plus a partition whose only cell has a TTL of one hour from the clock.
    let c = tmp.path().join("c");
    copy_dir(&a, &c);
    let source = updated.clone();
    let mut new_key = updated.clone();
    new_key.extend_from_slice(b"-ttl");
    let nk = new_key.clone();
    add_sstable(&table_dir(&c), &move |k, w, sc| {
        if k != source.as_slice() {
            return false;
        }
        w.begin_partition(&nk, DeletionTime::LIVE).expect("begin");
        let mut u = sc.next_unfiltered().expect("row").expect("a row").to_owned_copy();
        u.liveness = LivenessInfo::EMPTY;
        for c in &mut u.cells {
            c.flags = CELL_IS_EXPIRING;
            c.ttl = 3600;
            c.timestamp = 1_699_999_000_000_000;
            c.local_deletion_time = 1_699_999_000 + 3600;
        }
        w.write(&u).expect("write");
        w.end_partition().expect("end");
        true
    });
    // Before it expires: only in C. Past its expiry and gc_grace, validation purges it: identical.
    let (code, doc) = diff(&a, &c, &[]);
    assert_eq!(code, 1);
    assert_eq!(statuses(&doc), [(hex(&new_key), "only_in_b".to_string())].into(), "{doc}");
    let later = (1_699_999_000 + 3600 + 10).to_string();
    let out = cairn(&["repair", "diff", "--json", "--now", &later, "--gc-grace-seconds", "0", &s(&a), &s(&c)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    // Sync writes what each side lacks; with it added, A and B are identical.
    let out_dir = tmp.path().join("sync");
    ok(cairn(&["repair", "sync", "--now", NOW, &s(&a), &s(&b), "--out", &s(&out_dir)]), "sync");
    let for_a = table_dir(&out_dir.join("for-a"));
    let for_b = table_dir(&out_dir.join("for-b"));
    assert_eq!(for_a.file_name(), a_table.file_name(), "laid out as A's table directory");
    let (a2, b2) = (tmp.path().join("a2"), tmp.path().join("b2"));
    copy_dir(&a, &a2);
    copy_dir(&b, &b2);
    for (from, to) in [(&for_a, table_dir(&a2)), (&for_b, table_dir(&b2))] {
        // Numbered past the receiving directory's generations: moved in as they are.
        for e in std::fs::read_dir(from).expect("read_dir") {
            let e = e.expect("entry");
            let target = to.join(e.file_name());
            assert!(!target.exists(), "{} collides", target.display());
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
    let (code, doc) = diff(&a2, &b2, &[]);
    assert_eq!(code, 0, "{doc}");
}

fn corpus() -> Option<PathBuf> {
    let p = std::env::var("CAIRN_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    if p.join("manifest.json").exists() {
        Some(p)
    } else {
        assert!(std::env::var("CI").is_err(), "the corpus is missing: {}", p.display());
        eprintln!("corpus not found at {}: corpus repair cases not run", p.display());
        None
    }
}

#[test]
fn corpus_multi_generation_cases_are_identical_to_their_own_merge() {
    let Some(corpus) = corpus() else { return };
    for case in ["scylladb/uncompressed_compact_deleted_cell", "sstable-transformer/nb_two_generations"] {
        let dir = corpus.join(case);
        let tmp = tempfile::tempdir().expect("tmp");
        let merged = tmp.path().join("merged");
        // Merge at the same clock as the diff, purging what validation purges.
        ok(cairn(&["compact", "run", &s(&dir), "--now", NOW, "--out", &s(&merged)]), "compact run");
        let (code, doc) = diff(&dir, &merged, &[]);
        assert_eq!(code, 0, "{case}: {doc}");
        assert!(doc["tables"][0]["partitions_compared"].as_u64().expect("n") >= 1, "{case}: {doc}");
    }
    // Tables are matched by name: a different table's files are not the same table.
    let a = corpus.join("sstable-transformer/oa_10k_partitions");
    let up = tempfile::tempdir().expect("tmp");
    ok(cairn(&["compact", "upgrade", &s(&a), "--to", "nb", "--compression", "deflate", "--out", &s(up.path())]), "up");
    let (code, doc) = diff(&a, up.path(), &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["tables"][0]["partitions_compared"], 10_000);
}

#[test]
fn a_table_off_the_murmur3_ring_is_refused_saying_why_once() {
    let Some(corpus) = corpus() else { return };
    let dir = corpus.join("scylladb/uncompressed_random_partitioner");
    let out = cairn(&["repair", "diff", &s(&dir), &s(&dir)]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("Merkle trees cover the Murmur3 ring").count(), 1, "{err}");
    assert!(err.contains("this table's token is 19580090105725936846312850328329299579"), "{err}");
}

#[test]
fn what_cannot_run_exits_2_and_help_names_the_verbs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = generate(&tmp.path().join("a"), "sessions", &["--sstables", "1"]);
    let missing = tmp.path().join("missing");
    let out = cairn(&["repair", "diff", &s(&a), &s(&missing)]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cairn(&["repair", "diff", "--keyspace", "nope", &s(&a), &s(&a)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no table in keyspace nope in A or B"));
    let out = cairn(&["repair", "diff", "--depth", "21", &s(&a), &s(&a)]);
    assert_eq!(out.status.code(), Some(2), "depth is capped at 20");
    // An explicit depth is used on both sides.
    let (code, doc) = diff(&a, &a, &["--depth", "3"]);
    assert_eq!((code, doc["tables"][0]["depth"].as_u64()), (0, Some(3)));
    let help = String::from_utf8_lossy(&cairn(&["--help"]).stdout).to_string();
    assert!(help.contains("repair"), "{help}");
    let help = String::from_utf8_lossy(&cairn(&["repair", "--help"]).stdout).to_string();
    assert!(help.contains("diff") && help.contains("sync"), "{help}");
}

/// A sync writes only what the receiving side can read, all or nothing: the two sides' schemas
/// of a table must agree (each reads the other's SSTables); a sync that fails on a later table
/// leaves nothing of the earlier ones; `--out` must be new or empty.
#[test]
fn a_sync_writes_all_or_nothing_and_only_what_each_side_reads() {
    let tmp = tempfile::tempdir().expect("tmp");
    // One ks.sessions on both sides, but B's is another table's data (other key and columns).
    let a = generate(&tmp.path().join("a"), "sessions", &["--sstables", "2"]);
    let other = generate(&tmp.path().join("other"), "timeseries", &[]);
    let b = tmp.path().join("b");
    copy_dir(&table_dir(&other), &b.join("cairn").join(table_dir(&a).file_name().expect("name")));
    let out = tmp.path().join("out");
    let sync = |a: &Path, b: &Path| cairn(&["repair", "sync", "--now", NOW, "--out", &s(&out), &s(a), &s(b)]);
    let done = sync(&a, &b);
    let said = String::from_utf8_lossy(&done.stderr).into_owned();
    assert_eq!(done.status.code(), Some(2), "{said}");
    assert!(said.contains("cairn.sessions: the two sides' schemas disagree"), "{said}");
    assert!(!out.exists(), "nothing written");
    let diffed = cairn(&["repair", "diff", "--now", NOW, &s(&a), &s(&b)]);
    assert_eq!(diffed.status.code(), Some(2), "{}", String::from_utf8_lossy(&diffed.stderr));
    // Two tables that differ; the second one's B side is damaged, so the sync fails after
    // writing the first one's SSTables: none of them stay.
    let a2 = tmp.path().join("a2");
    generate(&a2, "sessions", &["--sstables", "2", "--compression", "none"]);
    generate(&a2, "tombstones", &["--sstables", "2", "--compression", "none"]);
    let b2 = tmp.path().join("b2");
    copy_dir(&a2, &b2);
    let tables: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(b2.join("cairn")).expect("ks").map(|e| e.expect("e").path()).collect();
        v.sort();
        v
    };
    assert_eq!(tables.len(), 2);
    for t in &tables {
        std::fs::remove_file(t.join("nb-2-big-Data.db")).expect("rm");
        for e in std::fs::read_dir(t).expect("dir").map(|e| e.expect("e").path()) {
            if e.file_name().is_some_and(|n| n.to_string_lossy().starts_with("nb-2-")) {
                std::fs::remove_file(e).expect("rm");
            }
        }
    }
    let data = tables[1].join("nb-1-big-Data.db");
    let mut bytes = std::fs::read(&data).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&data, bytes).expect("write");
    let done = sync(&a2, &b2);
    assert_eq!(done.status.code(), Some(2), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(!out.exists(), "the first table's SSTables were removed: {:?}", std::fs::read_dir(&out).map(|d| d.count()));
    // An --out that holds anything is refused.
    std::fs::create_dir_all(out.join("old")).expect("mkdir");
    let done = sync(&a, &a);
    let said = String::from_utf8_lossy(&done.stderr).into_owned();
    assert_eq!(done.status.code(), Some(2), "{said}");
    assert!(said.contains("sync writes into a new or empty directory"), "{said}");
}

/// A column one side has and the other lacks (added since the backup was taken) is compared like
/// any other column; `sync` refuses to write it to the side whose schema lacks it.
#[test]
fn a_column_added_on_one_side_is_compared_and_not_synced_where_unknown() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = generate(&tmp.path().join("a"), "sessions", &[]);
    let b = tmp.path().join("b");
    copy_dir(&a, &b);
    let tb = table_dir(&b);
    // B's table gained a column, and an SSTable written since: one partition deleted.
    let schema = tb.join("schema.cql");
    let text = std::fs::read_to_string(&schema).expect("schema");
    std::fs::write(&schema, format!("{text}ALTER TABLE cairn.sessions ADD extra int;\n")).expect("alter");
    let first = std::fs::read_dir(&tb)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with("-Data.db"))
        .expect("a Data.db");
    let table = SsTable::open(&first, None).expect("open");
    let h = &table.header;
    let mut regulars = h.regular_columns.clone();
    regulars.insert(0, cairn_format::statistics::HeaderColumn::new("extra", cairn_format::types::CqlType::Int));
    let header = cairn_format::statistics::SerializationHeader::new(
        h.stats,
        h.key_type.clone(),
        h.clustering_types.clone(),
        h.static_columns.clone(),
        regulars,
    );
    let key = table.scanner().expect("scanner").next_partition().expect("p").expect("one").key.clone();
    let options = WriterOptions { version: table.descriptor.version, ..WriterOptions::default() };
    let mut w = SsTableWriter::create(&tb, next_generation(&tb).expect("gen"), header, options).expect("writer");
    let del = DeletionTime { marked_for_delete_at: 1_700_000_000_000_000, local_deletion_time: 1_700_000_000 };
    w.begin_partition(&key, del).expect("begin");
    w.end_partition().expect("end");
    w.finish().expect("finish");
    let (code, doc) = diff(&a, &b, &[]);
    assert_eq!(code, 1, "{doc}");
    assert!(statuses(&doc).contains_key(&hex(&key)), "the deleted partition differs: {doc}");
    let out = tmp.path().join("out");
    let done = cairn(&["repair", "sync", "--now", NOW, "--out", &s(&out), &s(&a), &s(&b)]);
    let said = String::from_utf8_lossy(&done.stderr).into_owned();
    assert_eq!(done.status.code(), Some(2), "{said}");
    assert!(said.contains("A's schema cannot read") && said.contains("extra"), "{said}");
    assert!(!out.exists(), "nothing written");
}
