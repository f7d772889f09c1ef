//! Tests of execution against a node in a temporary directory: paging, per-table locks.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::connection::Session;
use crate::execute::logged_execute;
use crate::node::Shared;
use crate::protocol::{Outcome, QueryParams, Row};

fn node(dir: &std::path::Path) -> crate::NodeHandle {
    let config = crate::NodeConfig {
        data_dir: dir.join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    crate::start(config).expect("start")
}

fn session() -> Session {
    Session { keyspace: None, compression: None, started: true, authenticated: true, pending_sync: None }
}

fn run(shared: &Shared, text: &str, params: &QueryParams) -> (Vec<Row>, Option<Vec<u8>>) {
    let (st, _) = crate::cql::parse(text).expect("parses");
    match logged_execute(shared, &mut session(), &st, params).expect(text) {
        Outcome::Rows { rows, paging_state, .. } => (rows, paging_state),
        _ => (vec![], None),
    }
}

/// Every page of `text` at `page_size`, and how many pages there were.
fn pages(shared: &Shared, text: &str, page_size: i32) -> (Vec<Row>, usize) {
    let mut out = Vec::new();
    let mut state = None;
    let mut n = 0;
    loop {
        let params = QueryParams { page_size: Some(page_size), paging_state: state.take(), ..Default::default() };
        let (rows, next) = run(shared, text, &params);
        assert!(rows.len() <= page_size as usize);
        n += 1;
        out.extend(rows);
        match next {
            Some(s) => state = Some(s),
            None => return (out, n),
        }
    }
}

fn int(v: &Option<Vec<u8>>) -> i32 {
    i32::from_be_bytes(v.as_deref().expect("a value").try_into().expect("an int"))
}

/// A write to one table does not wait for another table's lock (each table has its own).
/// A bound value of the wrong size for its column is refused, as Cassandra's validation refuses
/// it; it was stored as it came (a wrong token for a key, a cell no reader decodes).
#[test]
fn a_bound_value_is_checked_against_its_type() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = node(tmp.path());
    let shared = Arc::clone(&node.shared);
    let none = QueryParams::default();
    run(&shared, "CREATE KEYSPACE a WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &none);
    run(&shared, "CREATE TABLE a.t (k int PRIMARY KEY, v int, s text)", &none);
    let bound = |values: Vec<crate::protocol::Value>| QueryParams { values, ..Default::default() };
    let int = |v: i32| crate::protocol::Value::Set(v.to_be_bytes().to_vec());
    let long = crate::protocol::Value::Set(5i64.to_be_bytes().to_vec());
    let bad_utf8 = crate::protocol::Value::Set(vec![0xff, 0xfe]);
    for (text, params, column) in [
        ("INSERT INTO a.t (k, v) VALUES (?, ?)", bound(vec![int(1), long.clone()]), "v"),
        ("INSERT INTO a.t (k, v) VALUES (?, ?)", bound(vec![long.clone(), int(1)]), "k"),
        ("INSERT INTO a.t (k, s) VALUES (?, ?)", bound(vec![int(1), bad_utf8]), "s"),
        ("SELECT v FROM a.t WHERE k = ?", bound(vec![long]), "k"),
    ] {
        let (st, _) = crate::cql::parse(text).expect("parses");
        let err = logged_execute(&shared, &mut session(), &st, &params).expect_err(text);
        assert!(err.message.contains(&format!("Invalid value for {column}")), "{text}: {}", err.message);
    }
    run(&shared, "INSERT INTO a.t (k, v) VALUES (?, ?)", &bound(vec![int(1), int(2)]));
    assert_eq!(run(&shared, "SELECT v FROM a.t", &none).0.len(), 1);
    node.stop();
}

#[test]
fn a_write_to_one_table_does_not_wait_for_another() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = node(tmp.path());
    let shared = Arc::clone(&node.shared);
    let none = QueryParams::default();
    run(&shared, "CREATE KEYSPACE a WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &none);
    run(&shared, "CREATE TABLE a.t (k int PRIMARY KEY, v text)", &none);
    run(&shared, "CREATE TABLE a.u (k int PRIMARY KEY, v text)", &none);
    let t = Arc::clone(shared.catalog_read().expect("catalog").keyspaces["a"].tables.get("t").expect("a.t"));
    let held = t.lock().expect("a.t's lock");
    let (tx, rx) = std::sync::mpsc::channel();
    let other = Arc::clone(&shared);
    std::thread::spawn(move || {
        run(&other, "INSERT INTO a.u (k, v) VALUES (1, 'u')", &QueryParams::default());
        let _ = tx.send(());
    });
    rx.recv_timeout(std::time::Duration::from_secs(20)).expect("the write to a.u went ahead while a.t was locked");
    drop(held);
    let (rows, _) = run(&shared, "SELECT v FROM a.u", &none);
    assert_eq!(rows.len(), 1);
    node.stop();
}

/// A multi-thousand-row table, half flushed to an SSTable and half in the memtable, paged
/// through at a page size that cuts partitions: every row comes once, in the unpaged order;
/// LIMIT and PER PARTITION LIMIT hold across pages; a single partition pages by clustering.
#[test]
fn paging_returns_every_row_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = node(tmp.path());
    let shared = Arc::clone(&node.shared);
    let none = QueryParams::default();
    run(&shared, "CREATE KEYSPACE a WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &none);
    run(&shared, "CREATE TABLE a.t (k int, c int, v text, PRIMARY KEY (k, c))", &none);
    for k in 0..300 {
        for c in 0..10 {
            run(&shared, &format!("INSERT INTO a.t (k, c, v) VALUES ({k}, {c}, 'x')"), &none);
        }
        if k == 150 {
            shared.flush_tables(Some("a"), None).expect("flush");
        }
    }
    // A partition of its own, large.
    for c in 0..2500 {
        run(&shared, &format!("INSERT INTO a.t (k, c, v) VALUES (-1, {c}, 'y')"), &none);
    }
    let (all, _) = run(&shared, "SELECT k, c FROM a.t", &none);
    assert_eq!(all.len(), 3000 + 2500);
    let (paged, n) = pages(&shared, "SELECT k, c FROM a.t", 7);
    assert_eq!(n, (5500usize).div_ceil(7));
    assert_eq!(paged, all, "the pages, in order, are the unpaged result");
    let distinct: BTreeSet<(i32, i32)> = paged.iter().map(|r| (int(&r[0]), int(&r[1]))).collect();
    assert_eq!(distinct.len(), 5500, "each row once");

    let (limited, _) = pages(&shared, "SELECT k, c FROM a.t LIMIT 1000", 300);
    assert_eq!(limited, all[..1000].to_vec());
    let (per_partition, _) = pages(&shared, "SELECT k, c FROM a.t PER PARTITION LIMIT 3", 4);
    assert_eq!(per_partition.len(), 301 * 3);
    let (one, n) = pages(&shared, "SELECT c FROM a.t WHERE k = -1", 1000);
    assert_eq!(n, 3);
    assert_eq!(one.iter().map(|r| int(&r[0])).collect::<Vec<_>>(), (0..2500).collect::<Vec<_>>());
    let (desc, _) = pages(&shared, "SELECT c FROM a.t WHERE k = -1 ORDER BY c DESC", 999);
    assert_eq!(desc.iter().map(|r| int(&r[0])).collect::<Vec<_>>(), (0..2500).rev().collect::<Vec<_>>());

    // A paging state this node did not give is refused, never read as the start.
    let (st, _) = crate::cql::parse("SELECT k FROM a.t").expect("parses");
    let params = QueryParams { page_size: Some(5), paging_state: Some(vec![9, 9]), ..Default::default() };
    let err = logged_execute(&shared, &mut session(), &st, &params).expect_err("refused");
    assert!(err.message.contains("Invalid paging state"), "{}", err.message);
    node.stop();
}

/// The schema file is rendered by `cairn_format::schema::render`: a keyspace, type and field
/// whose names need quotes come back after a restart, and DESCRIBE shows cqlsh's layout.
#[test]
fn a_quoted_schema_survives_a_restart_and_describes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let none = QueryParams::default();
    let node1 = node(tmp.path());
    let shared = Arc::clone(&node1.shared);
    run(
        &shared,
        "CREATE KEYSPACE \"Shop\" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        &none,
    );
    run(&shared, "CREATE TYPE \"Shop\".addr (\"Street\" text, zip int)", &none);
    run(&shared, "CREATE TABLE \"Shop\".items (id int PRIMARY KEY, a frozen<addr>)", &none);
    run(&shared, "INSERT INTO \"Shop\".items (id, a) VALUES (1, {\"Street\": 'x', zip: 2})", &none);
    drop(shared);
    node1.stop();
    let node2 = node(tmp.path());
    let shared = Arc::clone(&node2.shared);
    let (rows, _) = run(&shared, "SELECT id FROM \"Shop\".items", &none);
    assert_eq!(rows.len(), 1);
    let (rows, _) = run(&shared, "DESCRIBE KEYSPACE \"Shop\"", &none);
    let text = |r: &Row| String::from_utf8(r[3].clone().expect("statement")).expect("utf-8");
    assert_eq!(
        text(&rows[0]),
        "CREATE KEYSPACE \"Shop\" WITH replication = {'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '1'}  AND durable_writes = true;"
    );
    assert_eq!(text(&rows[1]), "CREATE TYPE \"Shop\".addr (\n    \"Street\" text,\n    zip int\n);");
    drop(shared);
    node2.stop();
}

/// A dropped table stays dropped across a restart (the replayed schema file is rewritten), and
/// a table of the same name created afterwards starts empty.
#[test]
fn a_dropped_table_stays_dropped_after_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let none = QueryParams::default();
    let node1 = node(tmp.path());
    let shared = Arc::clone(&node1.shared);
    run(&shared, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &none);
    run(&shared, "CREATE TABLE ks.gone (id int PRIMARY KEY, v text)", &none);
    run(&shared, "CREATE TABLE ks.kept (id int PRIMARY KEY, v text)", &none);
    run(&shared, "INSERT INTO ks.gone (id, v) VALUES (1, 'a')", &none);
    run(&shared, "INSERT INTO ks.kept (id, v) VALUES (1, 'b')", &none);
    run(&shared, "DROP TABLE ks.gone", &none);
    drop(shared);
    node1.stop();
    let node2 = node(tmp.path());
    let shared = Arc::clone(&node2.shared);
    let (st, _) = crate::cql::parse("SELECT id FROM ks.gone").expect("parses");
    let gone = logged_execute(&shared, &mut session(), &st, &none);
    assert!(gone.is_err(), "the dropped table came back after the restart");
    let (rows, _) = run(&shared, "SELECT id FROM ks.kept", &none);
    assert_eq!(rows.len(), 1);
    run(&shared, "CREATE TABLE ks.gone (id int PRIMARY KEY, v text)", &none);
    let (rows, _) = run(&shared, "SELECT id FROM ks.gone", &none);
    assert!(rows.is_empty(), "a re-created table starts empty: {rows:?}");
    drop(shared);
    node2.stop();
}

/// The commit log records mutations by table id: a write logged before its table was dropped
/// and re-created is not replayed into the new table after a kill.
#[test]
fn a_logged_write_to_a_dropped_table_is_not_replayed_into_its_successor() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let none = QueryParams::default();
    let node1 = node(tmp.path());
    let shared = Arc::clone(&node1.shared);
    run(&shared, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &none);
    run(&shared, "CREATE TABLE ks.t (id int PRIMARY KEY, v text)", &none);
    run(&shared, "INSERT INTO ks.t (id, v) VALUES (1, 'old')", &none);
    run(&shared, "DROP TABLE ks.t", &none);
    run(&shared, "CREATE TABLE ks.t (id int PRIMARY KEY, v text)", &none);
    run(&shared, "INSERT INTO ks.t (id, v) VALUES (2, 'new')", &none);
    let version = shared.catalog_read().expect("catalog").schema_version;
    // Killed: nothing flushed, the commit log holds both writes.
    drop(shared);
    drop(node1);
    let node2 = node(tmp.path());
    let shared = Arc::clone(&node2.shared);
    let (rows, _) = run(&shared, "SELECT id FROM ks.t", &none);
    assert_eq!(rows.iter().map(|r| int(&r[0])).collect::<Vec<_>>(), [2], "only the new table's write is replayed");
    assert_eq!(
        shared.catalog_read().expect("catalog").schema_version,
        version,
        "the same schema has the same version after a restart"
    );
    run(&shared, "CREATE TABLE ks.u (id int PRIMARY KEY)", &none);
    assert_ne!(shared.catalog_read().expect("catalog").schema_version, version, "a schema change changes the version");
    drop(shared);
    node2.stop();
}

/// A peer's older schema never brings back what was dropped here (its tombstone outlives it),
/// and a peer that missed a drop and a re-creation takes both from this node's schema: the two
/// end with the same schema version.
#[test]
fn a_stale_schema_does_not_resurrect_a_dropped_keyspace() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = node(&tmp.path().join("a"));
    let b = node(&tmp.path().join("b"));
    let none = QueryParams::default();
    run(&a.shared, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &none);
    run(&a.shared, "CREATE TABLE ks.t (k int PRIMARY KEY, v text)", &none);
    let old = crate::catalog::schema_text(&a.shared.catalog_read().expect("catalog"));
    // b has the old schema (it missed what follows).
    crate::catalog::adopt_schema(&b.shared, &old).expect("b adopts");
    run(&a.shared, "DROP KEYSPACE ks", &none);
    crate::catalog::adopt_schema(&a.shared, &old).expect("a adopts a stale schema");
    assert!(!a.shared.catalog_read().expect("catalog").keyspaces.contains_key("ks"), "the stale schema resurrected ks");
    run(&a.shared, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", &none);
    run(&a.shared, "CREATE TABLE ks.t (k int PRIMARY KEY, w int)", &none);
    crate::catalog::adopt_schema(&a.shared, &old).expect("again");
    let new_id = a.shared.catalog_read().expect("catalog").keyspaces["ks"].tables["t"].id;
    let old_id = b.shared.catalog_read().expect("catalog").keyspaces["ks"].tables["t"].id;
    assert_ne!(new_id, old_id);
    // b pulls a's schema: its old ks goes, the new one comes, with a's table id.
    let current = crate::catalog::schema_text(&a.shared.catalog_read().expect("catalog"));
    crate::catalog::adopt_schema(&b.shared, &current).expect("b adopts");
    let cat = b.shared.catalog_read().expect("catalog");
    assert_eq!(cat.keyspaces["ks"].tables["t"].id, new_id);
    assert_eq!(cat.schema_version, a.shared.catalog_read().expect("catalog").schema_version);
    drop(cat);
    // Both keep it through a restart.
    for (n, dir) in [(a, "a"), (b, "b")] {
        n.stop();
        let again = node(&tmp.path().join(dir));
        assert_eq!(again.shared.catalog_read().expect("catalog").keyspaces["ks"].tables["t"].id, new_id, "{dir}");
        again.stop();
    }
}

/// A connection that executed a prepared statement of a keyspace without having one of its own
/// keeps none: its later PREPAREs get the ids every other connection gets (a driver prepares on
/// every connection and refuses ids that disagree).
#[test]
fn an_execute_leaves_the_connection_keyspace_alone() {
    use crate::connection::handle;
    use crate::protocol::Request;
    let tmp = tempfile::tempdir().expect("tempdir");
    let n = node(tmp.path());
    let shared = &n.shared;
    run(
        shared,
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        &QueryParams::default(),
    );
    run(shared, "CREATE TABLE ks.t (k int PRIMARY KEY, v int)", &QueryParams::default());
    let text = "INSERT INTO ks.t (k, v) VALUES (?, ?)";
    let prepare = |s: &mut Session| {
        let (_, body) = handle(Request::Prepare(text.into()), s, shared).expect("prepare");
        body
    };
    let (mut used, mut fresh) = (session(), session());
    let first = prepare(&mut used);
    // The prepared id: after the result kind (int), a [short bytes].
    let id = first.get(6..22).expect("an id").to_vec();
    let values = vec![crate::protocol::Value::Set(1i32.to_be_bytes().to_vec()); 2];
    handle(Request::Execute(id, QueryParams { values, ..Default::default() }), &mut used, shared).expect("execute");
    assert_eq!(used.keyspace, None);
    assert_eq!(prepare(&mut used), prepare(&mut fresh), "the same id on both connections");
}
