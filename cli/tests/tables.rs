//! A table is (keyspace, table, id) and a point in time: a data directory holding two keyspaces
//! with same-named tables, and a snapshot beside live data, are kept apart by every verb that
//! groups SSTables into tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as J;

mod common;
use common::{cairn, ok, only_subdir, s};

/// `DATA/ks_a/comments-<id>` and `DATA/ks_b/comments-<id>` (different content, same table name),
/// and a snapshot `t1` of ks_a's table holding its first SSTable only.
fn data_dir(tmp: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let data = tmp.join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mut tables = Vec::new();
    for (ks, seed) in [("ks_a", "1"), ("ks_b", "2")] {
        let g = tmp.join(format!("gen-{ks}"));
        ok(
            cairn(&[
                "gen",
                "comments",
                "--now",
                "1700000000",
                "--out",
                &s(&g),
                "--rows",
                "200",
                "--sstables",
                "3",
                "--seed",
                seed,
            ]),
            "gen",
        );
        let table_dir = only_subdir(&only_subdir(&g));
        let to = data.join(ks).join(table_dir.file_name().expect("name"));
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::rename(&table_dir, &to).expect("move");
        tables.push(to);
    }
    let snapshot = tables[0].join("snapshots").join("t1");
    std::fs::create_dir_all(&snapshot).expect("mkdir");
    for e in std::fs::read_dir(&tables[0]).expect("read_dir") {
        let p = e.expect("entry").path();
        let name = p.file_name().expect("name").to_string_lossy().to_string();
        if name.starts_with("nb-1-") || name == "schema.cql" {
            std::fs::copy(&p, snapshot.join(&name)).expect("copy");
        }
    }
    let (a, b) = (tables.remove(0), tables.remove(0));
    (data, a, b, snapshot)
}

fn merged(paths: &[&Path]) -> Vec<J> {
    let mut args = vec!["dump".to_string(), "--merge".into(), "--ndjson".into()];
    args.extend(paths.iter().map(|p| s(p)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ok(cairn(&args), "dump --merge");
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect()
}

fn without_table(p: &J) -> J {
    let mut p = p.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("table");
    }
    p
}

#[test]
fn dump_merge_export_tombstones_and_partitions_keep_tables_and_points_in_time_apart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, a, b, snapshot) = data_dir(tmp.path());

    // dump --merge over the data directory: each table reconciled alone, and labelled.
    let all = merged(&[&data]);
    let alone_a = merged(&[&a]);
    let alone_b = merged(&[&b]);
    assert!(!alone_a.is_empty() && !alone_b.is_empty());
    assert_eq!(all.len(), alone_a.len() + alone_b.len(), "two tables, not one mixed stream");
    let by_table =
        |label: &str| -> Vec<J> { all.iter().filter(|p| p["table"] == label).map(without_table).collect::<Vec<_>>() };
    assert_eq!(by_table("ks_a.comments"), alone_a, "ks_a's partitions are ks_a's merge");
    assert_eq!(by_table("ks_b.comments"), alone_b, "ks_b's partitions are ks_b's merge");
    // A snapshot named beside live data is another point in time, merged apart.
    let with_snapshot = merged(&[&a, &snapshot]);
    let live: Vec<J> = with_snapshot.iter().filter(|p| p["table"] == "ks_a.comments").map(without_table).collect();
    let snap: Vec<J> =
        with_snapshot.iter().filter(|p| p["table"] == "ks_a.comments snapshot t1").map(without_table).collect();
    assert_eq!(live, alone_a);
    assert_eq!(snap, merged(&[&snapshot]));
    assert_eq!(live.len() + snap.len(), with_snapshot.len());

    // export: one dataset per keyspace.table and point in time, each with its own rows.
    let out = tmp.path().join("export");
    let done = ok(cairn(&["export", &s(&data), &s(&snapshot), "--out", &s(&out), "--format", "ndjson"]), "export");
    let rows = |p: PathBuf| -> usize {
        std::fs::read_dir(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
            .map(|p| std::fs::read_to_string(p).expect("read").lines().count())
            .sum()
    };
    let (ra, rb, rs) =
        (rows(out.join("ks_a/comments")), rows(out.join("ks_b/comments")), rows(out.join("ks_a/comments@t1")));
    for (dir, n) in [(&a, ra), (&b, rb), (&snapshot, rs)] {
        let own = tmp.path().join(format!("export-{n}-{}", dir.display().to_string().len()));
        ok(cairn(&["export", &s(dir), "--out", &s(&own), "--format", "ndjson"]), "export alone");
        let ks = if dir == &b { "ks_b" } else { "ks_a" };
        let name = if dir == &snapshot { "comments@t1" } else { "comments" };
        assert_eq!(n, rows(own.join(ks).join(name)), "{}: {}", dir.display(), String::from_utf8_lossy(&done.stderr));
    }

    // tombstones: blockers are only ever SSTables of the same table directory.
    let t = ok(cairn(&["tombstones", &s(&data), &s(&snapshot), "--ndjson", "--now", "2100-01-01T00:00:00Z"]), "ts");
    let mut blockers = 0;
    for line in String::from_utf8_lossy(&t.stdout).lines() {
        let p: J = serde_json::from_str(line).expect("json");
        let own = Path::new(p["sstable"].as_str().expect("sstable")).parent().expect("dir").to_path_buf();
        for b in p["blocked_by"].as_array().expect("blocked_by") {
            blockers += 1;
            assert_eq!(Path::new(b.as_str().expect("path")).parent(), Some(own.as_path()), "{p}");
        }
    }
    assert!(blockers > 0, "some tombstones are blocked, by their own table's SSTables");

    // partitions --csv: each SSTable's keyspace, table and snapshot.
    let csv = ok(cairn(&["partitions", &s(&data), &s(&snapshot), "--csv", "-t", "0"]), "partitions");
    let text = String::from_utf8_lossy(&csv.stdout);
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (ks, table, snap) = (col("keyspace"), col("table"), col("snapshot"));
    for l in lines {
        // The key is the first, quoted field; the location fields are unquoted.
        let fields: Vec<&str> = l.rsplit(',').collect::<Vec<_>>().into_iter().rev().collect();
        let from_end = |i: usize| fields[fields.len() - (header.len() - i)].to_string();
        *seen.entry((from_end(ks), from_end(table), from_end(snap))).or_default() += 1;
    }
    let keys: Vec<(String, String, String)> = seen.keys().cloned().collect();
    assert_eq!(
        keys,
        vec![
            ("ks_a".into(), "comments".into(), String::new()),
            ("ks_a".into(), "comments".into(), "t1".into()),
            ("ks_b".into(), "comments".into(), String::new()),
        ],
        "{text}"
    );

    // Compaction is of one table directory: the data directory is refused, not mixed.
    let c = cairn(&["compact", "run", &s(&data), "--dry-run"]);
    assert_eq!(c.status.code(), Some(2), "{}", String::from_utf8_lossy(&c.stderr));
    assert!(String::from_utf8_lossy(&c.stderr).contains("not SSTables of the same table"));
}
