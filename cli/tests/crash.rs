//! Crash safety of in-place rewrites: `compact plan --execute --in-place`, `compact gc
//! --in-place`, `compact split --in-place` and `compact run --in-place` are killed (`CAIRN_CRASH_AT`, an abort as abrupt as
//! SIGKILL) at every durable step — each transaction record, each component renamed into place,
//! each file deleted. At every such point a read sees exactly the content before or exactly the
//! content after; `compact cleanup` then leaves exactly the SSTables before or exactly those
//! after — never both, never neither — and no file that is not part of a complete SSTable.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as J;

mod common;

fn cairn(args: &[&str], crash_at: Option<u64>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.args(args);
    if let Some(n) = crash_at {
        c.env("CAIRN_CRASH_AT", n.to_string());
    }
    c.output().expect("run cairn")
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            copy_dir(&p, &to.join(p.file_name().expect("name")));
        } else {
            std::fs::copy(&p, to.join(p.file_name().expect("name"))).expect("copy");
        }
    }
}

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn data_files(dir: &Path) -> BTreeSet<String> {
    files(dir).into_iter().filter(|f| f.ends_with("-Data.db")).collect()
}

fn strip_positions(v: &mut J) {
    match v {
        J::Object(o) => {
            o.remove("position");
            o.values_mut().for_each(strip_positions);
        }
        J::Array(a) => a.iter_mut().for_each(strip_positions),
        _ => {}
    }
}

/// The reconciled content of a table directory, without file offsets (which differ between
/// the SSTables before and after); `None` when there is no SSTable at all.
fn content(dir: &Path) -> Option<Vec<J>> {
    let out = cairn(&["dump", "--merge", "--ndjson", "--timestamps", "raw", &s(dir)], None);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no SSTables found"), "dump failed: {err}");
        return None;
    }
    let mut v: Vec<J> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    v.iter_mut().for_each(strip_positions);
    Some(v)
}

/// Every file of `dir` is schema.cql or a component of a complete SSTable (all its TOC lists).
fn only_complete_sstables(dir: &Path, ctx: &str) {
    let names = files(dir);
    for n in &names {
        if n == "schema.cql" {
            continue;
        }
        assert!(!n.starts_with('.') && !n.ends_with(".log"), "{ctx}: leftover {n}");
        let base = n.rsplit_once("-big-").map(|(b, _)| b).unwrap_or_else(|| panic!("{ctx}: stray file {n}"));
        let toc = std::fs::read_to_string(dir.join(format!("{base}-big-TOC.txt")))
            .unwrap_or_else(|_| panic!("{ctx}: {n} belongs to an SSTable without TOC.txt"));
        for c in toc.lines().filter(|l| !l.is_empty()) {
            assert!(names.contains(&format!("{base}-big-{c}")), "{ctx}: {base} lacks {c}");
        }
    }
}

fn table_dir(data: &Path) -> PathBuf {
    let ks = data.join("cairn");
    std::fs::read_dir(&ks).expect("keyspace").map(|e| e.expect("entry").path()).find(|p| p.is_dir()).expect("table")
}

#[test]
fn in_place_rewrites_killed_at_every_step_leave_before_or_after() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("base");
    let now = "1700000000";
    let generated = cairn(
        &["gen", "comments", "--out", &s(&base), "--rows", "300", "--sstables", "3", "--seed", "5", "--now", now],
        None,
    );
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    let rel = table_dir(&base).strip_prefix(&base).expect("relative").to_path_buf();
    let commands: [(&str, Vec<&str>); 4] = [
        (
            "plan",
            vec![
                "compact",
                "plan",
                "DIR",
                "--strategy",
                "stcs",
                "-o",
                "min_threshold=2",
                "--now",
                now,
                "--execute",
                "--in-place",
            ],
        ),
        ("gc", vec!["compact", "gc", "DIR", "-g", "cell", "--now", now, "--in-place"]),
        ("split", vec!["compact", "split", "DIR", "--size", "0", "--in-place"]),
        ("run", vec!["compact", "run", "DIR", "--now", now, "--in-place"]),
    ];
    for (name, args) in &commands {
        // The completed run, on its own copy: the SSTables and content after.
        let done = tmp.path().join(format!("{name}-done"));
        copy_dir(&base, &done);
        let d = done.join(&rel);
        let before_files = data_files(&d);
        let before = content(&d);
        let argv: Vec<String> = args.iter().map(|a| if *a == "DIR" { s(&d) } else { (*a).to_string() }).collect();
        let out = cairn(&argv.iter().map(String::as_str).collect::<Vec<_>>(), None);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let after_files = data_files(&d);
        let after = content(&d);
        assert_ne!(before_files, after_files, "{name}: the rewrite changed nothing");
        only_complete_sstables(&d, name);

        let mut crashes = 0;
        for at in 1.. {
            let work = tmp.path().join(format!("{name}-{at}"));
            copy_dir(&base, &work);
            let w = work.join(&rel);
            let argv: Vec<String> = args.iter().map(|a| if *a == "DIR" { s(&w) } else { (*a).to_string() }).collect();
            let out = cairn(&argv.iter().map(String::as_str).collect::<Vec<_>>(), Some(at));
            if out.status.success() {
                assert_eq!(data_files(&w), after_files, "{name}: run past every crash point");
                break;
            }
            let ctx = format!("{name} killed at step {at}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("crash point"),
                "{ctx}: failed otherwise: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            crashes += 1;
            // Readers see one state, before or after.
            let seen = content(&w);
            assert!(seen == before || seen == after, "{ctx}: a read saw neither the content before nor after");
            // Cleanup resolves it to exactly one of the two sets of SSTables.
            let c = cairn(&["compact", "cleanup", &s(&work)], None);
            assert!(c.status.success(), "{ctx}: cleanup: {}", String::from_utf8_lossy(&c.stderr));
            let left = data_files(&w);
            assert!(left == before_files || left == after_files, "{ctx}: SSTables {left:?}");
            only_complete_sstables(&w, &ctx);
            let resolved = content(&w);
            let expected = if left == before_files { &before } else { &after };
            assert_eq!(&resolved, expected, "{ctx}: content after cleanup");
            // verify at every tenth step (each step already checks files and content).
            if !left.is_empty() && at % 10 == 0 {
                let v = cairn(&["verify", &s(&w)], None);
                assert!(v.status.success(), "{ctx}: verify: {}", String::from_utf8_lossy(&v.stdout));
            }
            std::fs::remove_dir_all(&work).expect("rm");
            assert!(at < 500, "{name}: no end to the crash points");
        }
        assert!(crashes >= 10, "{name}: only {crashes} crash points");
    }
}

#[test]
fn readers_and_verify_report_an_unfinished_transaction_and_cleanup_rolls_it_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("base");
    let generated =
        cairn(&["gen", "sessions", "--out", &s(&base), "--rows", "50", "--sstables", "2", "--now", "1700000000"], None);
    assert!(generated.status.success());
    let d = table_dir(&base);
    let before = data_files(&d);
    // Killed right after its new SSTable's Data.db appeared, before COMMIT.
    let mut at = 1;
    loop {
        let work = tmp.path().join(format!("w{at}"));
        copy_dir(&base, &work);
        let w = table_dir(&work);
        let args = ["compact", "split", &s(&w), "--size", "0", "--in-place"];
        let out = cairn(&args, Some(at));
        assert!(!out.status.success(), "ran to the end before a new Data.db appeared");
        if data_files(&w).len() > before.len() {
            let v = cairn(&["verify", &s(&w)], None);
            assert_eq!(v.status.code(), Some(1), "verify reports the leftover as a problem");
            assert!(String::from_utf8_lossy(&v.stdout).contains("transaction log unfinished"));
            let dump = cairn(&["dump", &s(&w)], None);
            assert!(String::from_utf8_lossy(&dump.stderr).contains("warning"), "dump warns");
            let again = cairn(&args, None);
            assert_eq!(again.status.code(), Some(2), "a rewrite refuses to run over an unresolved one");
            assert!(String::from_utf8_lossy(&again.stderr).contains("compact cleanup"));
            let c = cairn(&["compact", "cleanup", &s(&work)], None);
            assert!(String::from_utf8_lossy(&c.stdout).contains("rolled back"));
            assert_eq!(data_files(&w), before);
            only_complete_sstables(&w, "rolled back");
            break;
        }
        at += 1;
        assert!(at < 100);
    }
}

fn sigterm(child: &mut std::process::Child) -> std::process::ExitStatus {
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM");
    assert!(term.success());
    child.wait().expect("wait")
}

/// Every file under `dir` (recursively).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_node_killed_at_every_step_of_its_flush_restarts_with_every_write_and_no_leftover() {
    let Some(python) = common::peers_python() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("tests").join("peers").join("node_restart.py");
    let run = |port: u16, phase: &str, ctx: &str| {
        let out = Command::new(&python).arg(&script).arg(port.to_string()).arg(phase).output().expect("python");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("ok"),
            "{ctx} {phase}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut crashes = 0;
    for at in 1.. {
        let ctx = format!("node killed at flush step {at}");
        let data = tmp.path().join(format!("node-{at}"));
        let (mut node, port) = common::start_node(&data, Some(at));
        run(port, "write", &ctx);
        // SIGTERM flushes every memtable: the crash point falls inside a flush.
        let status = sigterm(&mut node);
        if status.success() {
            break;
        }
        crashes += 1;
        // The write phase's one-second TTL must have run out before the read phase checks it.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        // Restarted, the node resolves the interrupted flush and replays its commit log.
        let (mut node, port) = common::start_node(&data, None);
        run(port, "read", &ctx);
        assert!(sigterm(&mut node).success(), "{ctx}: the restarted node stops cleanly");
        let shop = data.join("shop");
        for f in walk(&shop) {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            assert!(!name.starts_with('.') && !name.ends_with(".log"), "{ctx}: leftover {}", f.display());
        }
        let v = cairn(&["verify", &s(&shop)], None);
        assert_eq!(v.status.code(), Some(0), "{ctx}: {}", String::from_utf8_lossy(&v.stdout));
        assert!(at < 100, "no end to the crash points");
    }
    assert!(crashes >= 5, "only {crashes} crash points in a flush");
}

/// Per partition key (hex), the values of its live `events` list elements, sorted: a list
/// element written twice shows as a value twice.
fn list_elements(table: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let out = cairn(&["dump", "--merge", "--ndjson", &s(table)], None);
    assert!(out.status.success(), "dump {}: {}", table.display(), String::from_utf8_lossy(&out.stderr));
    let mut lists = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let p: J = serde_json::from_str(line).expect("ndjson");
        let key = p["partition"]["key"].to_string();
        let values: &mut Vec<String> = lists.entry(key).or_default();
        for row in p["rows"].as_array().into_iter().flatten() {
            for c in row["cells"].as_array().into_iter().flatten() {
                if c["name"] == "events" && c.get("path").is_some() && c.get("value").is_some() {
                    values.push(c["value"].to_string());
                }
            }
        }
        values.sort();
    }
    lists
}

/// `cairn load --resume` killed at each of its first checkpoint writes (`CAIRN_CRASH_AT`), each
/// right after it marks a partition with list appends in doubt: the file holds the partitions
/// before it as done and it as marked, the target does not hold it (the mark comes before the
/// send), the rerun refuses and names the mark, writing nothing, and `MARK=send` then loads
/// every list element once; the spent answer names no mark afterwards. (A Cairn node derives an
/// appended element's path from the statement and its timestamp, so a resend would not add an
/// element twice here; Cassandra's coordinator takes a new timeuuid each time, which is why the
/// mark must come first.)
#[test]
fn a_load_killed_after_marking_a_partition_with_list_appends_has_not_sent_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = tmp.path().join("in");
    let g = cairn(
        &["gen", "collections", "--rows", "60", "--sstables", "2", "--out", &s(&input), "--now", "1700000000"],
        None,
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let source = list_elements(&input.join("cairn"));
    assert!(source.values().filter(|v| !v.is_empty()).count() > 10, "partitions with list elements: {source:?}");
    let data = tmp.path().join("node");
    let node = cairn_server::start(cairn_server::NodeConfig {
        data_dir: data.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    })
    .expect("node");
    let port = node.addr.port().to_string();
    let mut checked_not_held = 0;
    for at in 1..=3u64 {
        let ks = format!("k{at}");
        let state = tmp.path().join(format!("{ks}.state"));
        let load = |extra: &[&str], crash_at| {
            let mut args = vec!["load", "-d", "127.0.0.1", "-p", &port, "--target-keyspace", &ks, "--create-schema"];
            args.extend_from_slice(&["--resume", state.to_str().expect("path")]);
            args.extend_from_slice(extra);
            args.push(input.to_str().expect("path"));
            cairn(&args, crash_at)
        };
        // Every partition has a list: the at-th crash point is right after the at-th mark, the
        // partitions before it done.
        let out = load(&[], Some(at));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && err.contains("crash point"), "killed at {at}: {err}");
        let text = std::fs::read_to_string(&state).expect("state");
        let marks: Vec<(&str, &str)> = text
            .lines()
            .filter_map(|l| match l.split('\t').collect::<Vec<_>>()[..] {
                [_, _, key, "in-doubt", run] => Some((key, run)),
                _ => None,
            })
            .collect();
        assert_eq!(marks.len(), 1, "killed at {at}: {text}");
        assert_eq!(
            text.lines().count(),
            if at == 1 { 1 } else { 2 },
            "killed at {at}: done up to the one before: {text}"
        );
        let (key, run) = marks[0];
        // The target does not hold the marked partition (the collections key is an int).
        node.flush().expect("flush");
        let marked = i32::from_str_radix(key, 16).expect("an int key").to_string();
        let table = std::fs::read_dir(data.join(&ks)).ok().and_then(|mut d| d.next()).map(|e| e.expect("entry").path());
        if let Some(table) = table.filter(|t| !data_files(t).is_empty()) {
            let held = list_elements(&table);
            assert!(!held.is_empty(), "killed at {at}: the partitions before the mark are there");
            assert!(!held.contains_key(&format!("[{marked:?}]")), "killed at {at}: {marked} was sent before its mark");
            checked_not_held += 1;
        }
        // The rerun refuses, naming the mark, and writes nothing.
        let out = load(&[], None);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "killed at {at}: {err}");
        let id = format!("{key}@{run}");
        assert!(err.contains(&format!("partition {key}")) && err.contains(&id) && err.contains("MARK=send"), "{err}");
        assert_eq!(std::fs::read_to_string(&state).expect("state"), text, "the refusal changes nothing");
        let out = load(&["--resume-in-doubt", &format!("{id}=send")], None);
        assert!(out.status.success(), "killed at {at}, sent again: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!std::fs::read_to_string(&state).expect("state").contains("in-doubt"));
        // The answer decided that mark only: given again, it names none.
        let out = load(&["--resume-in-doubt", &format!("{id}=send")], None);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.code() == Some(2) && err.contains("which it does not hold"), "killed at {at}: {err}");
        node.flush().expect("flush");
        let table = std::fs::read_dir(data.join(&ks)).expect("keyspace").next().expect("table").expect("entry").path();
        assert_eq!(list_elements(&table), source, "killed at {at}: every list element once");
    }
    assert!(checked_not_held >= 2, "the marked partition was looked for {checked_not_held} times");
    node.stop();
}
