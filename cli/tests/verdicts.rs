//! One verdict: for every SSTable S of every generated dataset, at several clocks, what
//! `cairn tombstones` reports for S (run on S's table directory, and on S alone) is exactly
//! what `cairn compact run S --dry-run` says it purges, keeps for overlapping SSTables and keeps
//! as younger than gc_grace — read from the two commands' own outputs.

use std::path::Path;

use serde_json::Value as J;

mod common;
use common::{cairn, ok};

/// The numbers of `compact run --dry-run`'s summary line: purged, kept for overlap, kept young.
fn compact_counts(stderr: &str) -> (u64, u64, u64) {
    let number_before = |marker: &str| -> u64 {
        let at = stderr.find(marker).unwrap_or_else(|| panic!("no '{marker}' in: {stderr}"));
        let digits: String = stderr[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        digits.parse().unwrap_or_else(|_| panic!("no number before '{marker}' in: {stderr}"))
    };
    (
        number_before("tombstones purged"),
        number_before("past gc_grace kept for overlapping SSTables"),
        number_before("kept as younger than gc_grace"),
    )
}

fn verdicts(summary: &J) -> (u64, u64, u64) {
    let n = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("{k} in {summary}"));
    (n("droppable"), n("blocked"), n("younger_than_gc_grace"))
}

#[test]
fn tombstones_and_compact_dry_run_give_one_verdict_for_every_sstable() {
    let datasets = ["sessions", "timeseries", "comments", "wide", "collections", "alltypes", "tombstones"];
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut judged_any = [false; 3];
    for (seed, name) in datasets.iter().enumerate() {
        let out = tmp.path().join(name);
        let o = out.display().to_string();
        let expected = tmp.path().join(format!("{name}.expected"));
        let e = expected.display().to_string();
        let seed = (seed + 21).to_string();
        let args = [
            "gen",
            name,
            "--now",
            "1700000000",
            "--out",
            &o,
            "--rows",
            "300",
            "--sstables",
            "3",
            "--seed",
            &seed,
            "--expected",
            &e,
        ];
        ok(cairn(&args), name);
        let header: J = serde_json::from_str(
            std::fs::read_to_string(&expected).expect("expected").lines().next().expect("header line"),
        )
        .expect("header");
        let now = header["now"].as_i64().expect("now");
        let table_dir = std::fs::read_dir(out.join("cairn"))
            .expect("keyspace")
            .map(|d| d.expect("entry").path())
            .find(|p| p.is_dir())
            .expect("table directory");
        let dir = table_dir.display().to_string();
        // The dataset's clock, an hour later with a short gc_grace, and past every default
        // gc_grace.
        for (now, gc) in [(now, None), (now + 3_600, Some("1800")), (now + 40 * 86_400, None)] {
            let now = now.to_string();
            let mut purge = vec!["--now", now.as_str()];
            if let Some(gc) = gc {
                purge.extend(["--gc-grace-seconds", gc]);
            }
            let whole: J = serde_json::from_slice(
                &ok(cairn(&[&["tombstones", &dir, "--json"][..], &purge].concat()), name).stdout,
            )
            .expect("tombstones json");
            let summaries = whole.as_array().expect("summaries");
            let data_files = std::fs::read_dir(&table_dir)
                .expect("table dir")
                .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with("-Data.db")))
                .count();
            assert_eq!(summaries.len(), data_files, "{name}: one summary per SSTable");
            for s in summaries {
                let data = s["sstable"].as_str().expect("sstable");
                let ctx = format!("{name} at {now} gc {gc:?}: {}", Path::new(data).display());
                let dry = ok(cairn(&[&["compact", "run", data, "--dry-run"][..], &purge].concat()), &ctx);
                let said = compact_counts(&String::from_utf8_lossy(&dry.stderr));
                assert_eq!(verdicts(s), said, "{ctx}: tombstones (droppable, blocked, younger) vs compact run");
                let total = s["tombstones"].as_object().expect("kinds").values().filter_map(J::as_u64).sum::<u64>();
                assert_eq!(said.0 + said.1 + said.2, total, "{ctx}: every tombstone counted has a verdict");
                // Asked about S alone, tombstones still judges against S's siblings.
                let alone: J = serde_json::from_slice(
                    &ok(cairn(&[&["tombstones", data, "--json"][..], &purge].concat()), &ctx).stdout,
                )
                .expect("json");
                assert_eq!(verdicts(&alone[0]), said, "{ctx}: one SSTable named alone");
                for (seen, n) in judged_any.iter_mut().zip([said.0, said.1, said.2]) {
                    *seen |= n > 0;
                }
            }
        }
    }
    assert_eq!(judged_any, [true; 3], "every verdict (droppable, blocked, younger) occurs somewhere");
}
