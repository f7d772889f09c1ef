//! `cairn node` against real clients: the Python driver (cassandra-driver 3.30.1) connects
//! with schema and token metadata and runs DDL, simple, prepared and batched statements,
//! paging, TTLs, WRITETIME and deletes of every kind (tests/peers/driver_smoke.py asserts each).

use std::path::Path;
use std::process::Command;

#[test]
fn the_python_driver_works_against_the_node() {
    let Some(python) = cairn_tests::peers_python("cassandra-driver") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("driver_smoke.py");
    let out = Command::new(python).arg(script).arg(node.addr.port().to_string()).output().expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "driver smoke test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.stop();
}

#[test]
fn malformed_frames_get_a_protocol_error_and_the_node_keeps_serving() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        max_frame_bytes: 1 << 16,
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let read_error = |c: &mut std::net::TcpStream| -> (u8, i32, String) {
        let mut h = [0u8; 9];
        c.read_exact(&mut h).expect("header");
        let len = i32::from_be_bytes([h[5], h[6], h[7], h[8]]) as usize;
        let mut body = vec![0u8; len];
        c.read_exact(&mut body).expect("body");
        let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let n = u16::from_be_bytes([body[4], body[5]]) as usize;
        (h[4], code, String::from_utf8_lossy(&body[6..6 + n]).to_string())
    };
    // Oversized, garbage opcode, a v5 client, a query before STARTUP.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0x04, 0, 0, 1, 0x07, 0x00, 0x10, 0x00, 0x00], "exceeds"),
        (vec![0x04, 0, 0, 1, 0x42, 0, 0, 0, 0], "unknown request opcode"),
        (vec![0x05, 0, 0, 1, 0x05, 0, 0, 0, 0], "unsupported protocol version"),
        (vec![0x04, 0, 0, 1, 0x07, 0, 0, 0, 9, 0, 0, 0, 1, b'x', 0, 1, 0, 0], "STARTUP"),
    ];
    for (bytes, expect) in cases {
        let mut c = std::net::TcpStream::connect(node.addr).expect("connect");
        c.write_all(&bytes).expect("write");
        let (op, code, msg) = read_error(&mut c);
        assert_eq!((op, code), (0x00, 0x000A), "{msg}");
        assert!(msg.to_lowercase().contains(&expect.to_lowercase()), "{msg}");
    }
    // Still serving: OPTIONS gets SUPPORTED.
    let mut c = std::net::TcpStream::connect(node.addr).expect("connect");
    c.write_all(&[0x04, 0, 0, 7, 0x05, 0, 0, 0, 0]).expect("write");
    let mut h = [0u8; 9];
    c.read_exact(&mut h).expect("header");
    assert_eq!((h[0], h[4]), (0x84, 0x06));
    node.stop();
}

#[test]
fn data_survives_a_restart_as_sstables_that_verify_and_cqlite_reads() {
    let Some(python) = cairn_tests::peers_python("cassandra-driver and cqlite-py") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let config = || cairn_server::NodeConfig {
        data_dir: data.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("node_restart.py");
    let run = |port: u16, phase: &str| {
        let out = Command::new(&python).arg(&script).arg(port.to_string()).arg(phase).output().expect("python");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("ok"),
            "{phase} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let node = cairn_server::start(config()).expect("start");
    run(node.addr.port(), "write");
    node.stop();
    // The flushed SSTables are genuine: they verify, dump reads them, cqlite-py reads them.
    let tables = cairn_inspect::open_inputs(&[data.join("shop")], &Default::default()).expect("open");
    assert_eq!(tables.len(), 1, "one flush, one SSTable");
    let mut report = Vec::new();
    let clean = cairn_inspect::verify::verify(&tables, true, &mut report).expect("verify");
    assert!(clean, "{}", String::from_utf8_lossy(&report));
    let table_dir = tables[0].descriptor.directory.clone();
    let cqlite = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("cqlite_rows.py");
    let out = Command::new(&python)
        .arg(&cqlite)
        .arg(&data)
        .arg(table_dir.join("schema.cql"))
        .arg("shop.orders")
        .output()
        .expect("cqlite");
    assert!(out.status.success(), "cqlite-py failed: {}", String::from_utf8_lossy(&out.stderr));
    let cqlite_rows = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with('{')).count();
    // 100 written, one deleted; the TTL'd row may or may not have expired when cqlite reads.
    assert!((99..=100).contains(&cqlite_rows), "cqlite-py read {cqlite_rows} rows");
    // A new node on the same directory serves the same data.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let node = cairn_server::start(config()).expect("restart");
    run(node.addr.port(), "read");
    node.stop();
}

#[test]
fn cqlsh_runs_statements_describes_and_copies() {
    let Some(python) = cairn_tests::peers_python("cqlsh") else { return };
    let cqlsh = Path::new(&python).with_file_name("cqlsh");
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let port = node.addr.port().to_string();
    let cql = |statements: &str| -> String {
        let out = Command::new(&cqlsh).args(["127.0.0.1", &port, "-e", statements]).output().expect("cqlsh");
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "cqlsh -e {statements}: {text}");
        text
    };
    cql("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}; \
         CREATE TABLE shop.items (id int PRIMARY KEY, name text, tags set<text>); \
         INSERT INTO shop.items (id, name, tags) VALUES (1, 'apple', {'red', 'fruit'});");
    let out = cql("SELECT id, name, tags FROM shop.items");
    assert!(out.contains("apple") && out.contains("{'fruit', 'red'}") && out.contains("(1 rows)"), "{out}");
    let out = cql("DESCRIBE KEYSPACE shop");
    assert!(out.contains("CREATE KEYSPACE shop") && out.contains("CREATE TABLE shop.items"), "{out}");
    let csv_in = tmp.path().join("in.csv");
    std::fs::write(&csv_in, "id,name\n2,pear\n3,plum\n").expect("csv");
    let out = cql(&format!("COPY shop.items (id, name) FROM '{}' WITH HEADER = true", csv_in.display()));
    assert!(out.contains("2 rows imported"), "{out}");
    let csv_out = tmp.path().join("out.csv");
    let out = cql(&format!("COPY shop.items (id, name) TO '{}'", csv_out.display()));
    assert!(out.contains("3 rows exported"), "{out}");
    let mut lines: Vec<String> = std::fs::read_to_string(&csv_out).expect("out").lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, vec!["1,apple", "2,pear", "3,plum"]);
    let bad = Command::new(&cqlsh).args(["127.0.0.1", &port, "-e", "SELECT * FROM shop.nope"]).output().expect("cqlsh");
    assert!(!bad.status.success());
    node.stop();
}

#[test]
fn a_flask_session_store_keeps_sessions_across_a_restart_until_their_ttl() {
    let Some(python) = cairn_tests::peers_python("Flask and cassandra-flask-sessions") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let config = || cairn_server::NodeConfig {
        data_dir: data.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("flask_sessions.py");
    let run = |port: u16, args: &[&str]| -> String {
        let out = Command::new(&python).arg(&script).arg(port.to_string()).args(args).output().expect("python");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{args:?}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        stdout
    };
    let node = cairn_server::start(config()).expect("start");
    let out = run(node.addr.port(), &["login"]);
    let sid = out.lines().find_map(|l| l.strip_prefix("sid ")).expect("a session id").trim().to_string();
    node.stop();
    let node = cairn_server::start(config()).expect("restart");
    let out = run(node.addr.port(), &["restarted", &sid]);
    assert!(out.contains("ok"), "{out}");
    node.stop();
}

/// The scylla Rust driver (1.9.0) with token-aware routing: its cluster state must hold the
/// node's 16-token ring and the table's metadata, and the tokens it computes must be Cairn's.
#[test]
fn the_scylla_rust_driver_sees_the_ring_and_routes_by_token() {
    use scylla::client::session_builder::SessionBuilder;
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let addr = node.addr.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let session = SessionBuilder::new().known_node(addr).build().await.expect("connect");
        session
            .query_unpaged(
                "CREATE KEYSPACE r WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
                &[],
            )
            .await
            .expect("create keyspace");
        session
            .query_unpaged("CREATE TABLE r.t (k int, c int, v text, PRIMARY KEY (k, c))", &[])
            .await
            .expect("create table");
        session.refresh_metadata().await.expect("metadata");
        let state = session.get_cluster_state();
        assert_eq!(state.replica_locator().ring().len(), 16, "the node's tokens, read from system.local");
        let token = state.compute_token("r", "t", &(5i32,)).expect("table metadata from system_schema");
        assert_eq!(token.value(), cairn_format::partitioner::murmur3_token(&5i32.to_be_bytes()));
        assert_eq!(state.get_token_endpoints("r", "t", token).len(), 1);
        let ins = session.prepare("INSERT INTO r.t (k, c, v) VALUES (?, ?, ?)").await.expect("prepare");
        let t = ins.calculate_token(&(7i32, 1i32, "x")).expect("token").expect("routable");
        assert_eq!(t.value(), cairn_format::partitioner::murmur3_token(&7i32.to_be_bytes()), "pk indexes of PREPARE");
        for i in 0..100i32 {
            session.execute_unpaged(&ins, (i % 10, i, format!("v{i}"))).await.expect("insert");
        }
        let sel = session.prepare("SELECT c, v FROM r.t WHERE k = ?").await.expect("prepare");
        let rows = session.execute_unpaged(&sel, (3i32,)).await.expect("select").into_rows_result().expect("rows");
        let got: Vec<(i32, String)> =
            rows.rows::<(i32, String)>().expect("typed").collect::<Result<_, _>>().expect("rows");
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|(c, v)| c % 10 == 3 && *v == format!("v{c}")));
        let mut all = session.prepare("SELECT k, c, v FROM r.t").await.expect("prepare");
        all.set_page_size(7);
        // Page by hand: each page's state resumes the next.
        let mut state = scylla::response::PagingState::start();
        let (mut n, mut pages) = (0, 0);
        loop {
            let (res, next) = session.execute_single_page(&all, &[], state).await.expect("page");
            n += res.into_rows_result().expect("rows").rows_num();
            pages += 1;
            match next {
                scylla::response::PagingStateResponse::HasMorePages { state: s } => state = s,
                scylla::response::PagingStateResponse::NoMorePages => break,
            }
        }
        assert_eq!((n, pages), (100, 15), "paged through every row, 7 at a time");
    });
    node.stop();
}

#[test]
fn with_authentication_on_nothing_is_served_before_a_correct_password() {
    use std::io::{Read, Write};
    let Some(python) = cairn_tests::peers_python("cassandra-driver") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        users: Some(vec![("cassandra".into(), "cassandra".into())]),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("node_auth.py");
    let out = Command::new(&python).arg(script).arg(node.addr.port().to_string()).output().expect("python");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Raw frames: STARTUP gets AUTHENTICATE; a QUERY before AUTH_RESPONSE is refused.
    let mut c = std::net::TcpStream::connect(node.addr).expect("connect");
    let mut startup = vec![0x04, 0, 0, 1, 0x01, 0, 0, 0, 22, 0, 1, 0, 11];
    startup.extend_from_slice(b"CQL_VERSION");
    startup.extend_from_slice(&[0, 5]);
    startup.extend_from_slice(b"3.0.0");
    c.write_all(&startup).expect("startup");
    let mut h = [0u8; 9];
    c.read_exact(&mut h).expect("header");
    assert_eq!(h[4], 0x03, "AUTHENTICATE");
    let mut body = vec![0u8; i32::from_be_bytes([h[5], h[6], h[7], h[8]]) as usize];
    c.read_exact(&mut body).expect("body");
    assert!(String::from_utf8_lossy(&body).contains("PasswordAuthenticator"));
    let q = b"SELECT * FROM system.local";
    let mut query = vec![0x04, 0, 0, 2, 0x07];
    query.extend_from_slice(&((4 + q.len() + 3) as i32).to_be_bytes());
    query.extend_from_slice(&(q.len() as i32).to_be_bytes());
    query.extend_from_slice(q);
    query.extend_from_slice(&[0, 1, 0]);
    c.write_all(&query).expect("query");
    c.read_exact(&mut h).expect("header");
    assert_eq!(h[4], 0x00, "ERROR, not a result");
    let mut body = vec![0u8; i32::from_be_bytes([h[5], h[6], h[7], h[8]]) as usize];
    c.read_exact(&mut body).expect("body");
    assert_eq!(i32::from_be_bytes([body[0], body[1], body[2], body[3]]), 0x000A);
    node.stop();
}

/// `cairn admin`'s requests against a node: flush, snapshot (hard links Cassandra's way, read
/// back by the offline tools), listsnapshots, compact, status, tablestats, clearsnapshot; with
/// authentication on, a token is required.
#[test]
fn the_admin_interface_flushes_snapshots_and_compacts() {
    use cairn_server::admin::request;
    use scylla::client::session_builder::SessionBuilder;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let config = cairn_server::NodeConfig {
        data_dir: data.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        admin: Some("127.0.0.1:0".parse().expect("addr")),
        users: Some(vec![("cassandra".into(), "cassandra".into())]),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let admin = node.admin.expect("admin");
    let token = std::fs::read_to_string(data.join("cairn_admin.token")).expect("token");
    let cmd = |args: &[&str]| -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        request(admin, Some(&token), &args).expect("admin io").unwrap_or_else(|e| panic!("{args:?}: {e}"))
    };
    assert!(request(admin, None, &["status".to_string()]).expect("io").is_err(), "no token, no admin");
    let addr = node.addr.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let session = rt.block_on(async {
        SessionBuilder::new().known_node(addr).user("cassandra", "cassandra").build().await.expect("connect")
    });
    let q = |text: &str| rt.block_on(session.query_unpaged(text, &[])).expect(text);
    q("CREATE KEYSPACE a WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
    q("CREATE TABLE a.t (k int PRIMARY KEY, v text)");
    for round in 0..3 {
        for k in 0..50 {
            q(&format!("INSERT INTO a.t (k, v) VALUES ({k}, 'round {round}')"));
        }
        assert!(cmd(&["flush", "a.t"]).contains("flushed 1 table"));
    }
    assert!(cmd(&["tablestats", "a.t"]).contains("SSTable count: 3"));
    assert!(cmd(&["snapshot", "before", "a"]).contains("1 table(s), 3 SSTable(s), "));
    let table_dir =
        std::fs::read_dir(data.join("a")).expect("ks").flatten().map(|e| e.path()).next().expect("table dir");
    let snap = table_dir.join("snapshots").join("before");
    let manifest = std::fs::read_to_string(snap.join("manifest.json")).expect("manifest");
    assert!(manifest.contains("\"files\":[") && manifest.contains("-Data.db") && manifest.contains("created_at"));
    assert!(snap.join("schema.cql").is_file());
    // The snapshot is a table the offline tools read: 150 writes of 50 keys, reconciled.
    let snapped = cairn_inspect::open_inputs(std::slice::from_ref(&snap), &Default::default()).expect("open snapshot");
    assert_eq!(snapped.len(), 3);
    assert!(cmd(&["listsnapshots"]).contains("before\ta\t"));
    assert!(cmd(&["compact", "a.t"]).contains("3 SSTable(s) -> 1"));
    assert!(cmd(&["tablestats", "a.t"]).contains("SSTable count: 1"));
    let rows = rt
        .block_on(session.query_unpaged("SELECT v FROM a.t WHERE k = 7", &[]))
        .expect("select")
        .into_rows_result()
        .expect("rows");
    let (v,): (String,) = rows.single_row().expect("one row");
    assert_eq!(v, "round 2", "the newest write survives compaction");
    // The snapshot's hard links outlive the compacted originals.
    assert_eq!(cairn_inspect::open_inputs(std::slice::from_ref(&snap), &Default::default()).expect("reopen").len(), 3);
    assert!(cmd(&["status"]).starts_with("Datacenter: datacenter1"));
    assert!(cmd(&["clearsnapshot", "before"]).contains("removed 1"));
    assert!(!snap.exists());
    drop(session);
    node.stop();
}

/// A stored partition key that does not split into the table's key columns is a server error to
/// the client, never a row whose key columns read as null.
#[test]
fn a_stored_key_that_does_not_split_is_an_error_not_null_key_columns() {
    use cairn_format::partition::{OwnedCell, Partition};
    use cairn_format::sstable::{OpenOptions, SsTable};
    use cairn_format::writer::{SsTableWriter, WriterOptions};
    use scylla::client::session_builder::SessionBuilder;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let config = || cairn_server::NodeConfig {
        data_dir: data.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let node = cairn_server::start(config()).expect("start");
    let addr = node.addr.to_string();
    rt.block_on(async {
        let session = SessionBuilder::new().known_node(&addr).build().await.expect("connect");
        for q in [
            "CREATE KEYSPACE b WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TABLE b.t (k0 int, k1 int, v text, PRIMARY KEY ((k0, k1)))",
            "INSERT INTO b.t (k0, k1, v) VALUES (1, 2, 'x')",
        ] {
            session.query_unpaged(q, &[]).await.expect(q);
        }
    });
    node.flush().expect("flush");
    node.stop();
    // Rewrite the table's SSTable with the same header and a key one component short.
    let data_db =
        walk_files(&data.join("b")).into_iter().find(|p| p.to_string_lossy().ends_with("-Data.db")).expect("sstable");
    let old = SsTable::open(&data_db, None).expect("open");
    let header = (*old.header).clone();
    let (dir, generation) = (old.descriptor.directory.clone(), 1000);
    let mut w = SsTableWriter::create(&dir, generation, header, WriterOptions::default()).expect("writer");
    let mut p = Partition::new(vec![0, 4, 0, 0, 0, 7, 0]);
    p.row_mut(&[]).add_cell(OwnedCell::live(0, None, b"y".to_vec(), 1));
    w.write_partition_content(&p).expect("write");
    let written = w.finish().expect("finish");
    for c in old.present.clone() {
        std::fs::remove_file(old.path(c)).expect("remove");
    }
    SsTable::open_with(written, &OpenOptions::default()).expect("the new SSTable opens");
    let node = cairn_server::start(config()).expect("restart");
    let addr = node.addr.to_string();
    let err = rt.block_on(async {
        let session = SessionBuilder::new().known_node(&addr).build().await.expect("connect");
        session.query_unpaged("SELECT k0, k1, v FROM b.t", &[]).await.map(|r| format!("{:?}", r.into_rows_result()))
    });
    let err = err.expect_err("an error, not a row with null key columns").to_string();
    assert!(err.contains("does not split into 2 columns"), "{err}");
    node.stop();
}

/// What a node answers is the live view of `cairn_format::live`: a partition with live static
/// columns and no rows shows one row of them, a row lives by its marker or a live cell, and a
/// non-frozen collection has no single write time (refused, as Cassandra 4.0 refuses it).
#[test]
fn the_node_answers_the_live_view_of_statics_markers_and_collections() {
    use scylla::client::session_builder::SessionBuilder;
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let addr = node.addr.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let session = SessionBuilder::new().known_node(addr).build().await.expect("connect");
        for q in [
            "CREATE KEYSPACE l WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TABLE l.t (k int, c int, st text static, v int, tags set<text>, PRIMARY KEY (k, c))",
            "UPDATE l.t SET st = 'alone' WHERE k = 1",
            "INSERT INTO l.t (k, c) VALUES (2, 1)",
            "UPDATE l.t SET v = 3 WHERE k = 3 AND c = 1",
            "DELETE v FROM l.t WHERE k = 3 AND c = 1",
            "INSERT INTO l.t (k, c, tags) VALUES (4, 1, {'a'}) USING TIMESTAMP 1000",
            "UPDATE l.t USING TIMESTAMP 2000 AND TTL 500 SET tags = tags + {'b'} WHERE k = 4 AND c = 1",
        ] {
            session.query_unpaged(q, &[]).await.expect(q);
        }
        type Row = (i32, Option<i32>, Option<String>, Option<i32>);
        for (k, want) in
            [(1, vec![(1, None, Some("alone".to_string()), None)]), (2, vec![(2, Some(1), None, None)]), (3, vec![])]
        {
            let q = format!("SELECT k, c, st, v FROM l.t WHERE k = {k}");
            let rows = session.query_unpaged(q.as_str(), &[]).await.expect("select").into_rows_result().expect("rows");
            let got: Vec<Row> = rows.rows::<Row>().expect("typed").collect::<Result<_, _>>().expect("rows");
            assert_eq!(got, want, "{q}");
        }
        // A non-frozen set is several cells: Cassandra 4.0 refuses writetime() and ttl() of it.
        let q = "SELECT writetime(tags), ttl(tags) FROM l.t WHERE k = 4";
        let err = session.query_unpaged(q, &[]).await.expect_err("several cells");
        assert!(err.to_string().contains("Cannot use selection function writeTime on non-frozen column tags"), "{err}");
        let q = "SELECT tags FROM l.t WHERE k = 4";
        let rows = session.query_unpaged(q, &[]).await.expect("select").into_rows_result().expect("rows");
        let (tags,) = rows.single_row::<(Vec<String>,)>().expect("one row");
        assert_eq!(tags, ["a", "b"], "the added element is kept beside the first");
    });
    node.stop();
}

/// A DELETE whose clustering restriction names no row deletes nothing, as in Cassandra: an
/// empty `IN`, a bound empty list. A null list and a restriction that skips a clustering column
/// are refused. (Each was once taken for "no restriction": a partition tombstone.) `IN (?)` is a
/// list of one value, `IN ?` a marker for the whole list.
#[test]
fn a_delete_never_widens_to_the_partition_when_its_restriction_names_nothing() {
    use scylla::client::session_builder::SessionBuilder;
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let addr = node.addr.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let session = SessionBuilder::new().known_node(addr).build().await.expect("connect");
        for q in [
            "CREATE KEYSPACE d WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TABLE d.t (k int, c1 int, c2 int, v int, PRIMARY KEY (k, c1, c2))",
            "INSERT INTO d.t (k, c1, c2, v) VALUES (1, 1, 1, 11)",
            "INSERT INTO d.t (k, c1, c2, v) VALUES (1, 2, 5, 25)",
            "INSERT INTO d.t (k, c1, c2, v) VALUES (1, 3, 5, 35)",
        ] {
            session.query_unpaged(q, &[]).await.expect(q);
        }
        let count = || async {
            let rows = session.query_unpaged("SELECT v FROM d.t WHERE k = 1", &[]).await.expect("select");
            rows.into_rows_result().expect("rows").rows_num()
        };
        session.query_unpaged("DELETE FROM d.t WHERE k = 1 AND c1 IN ()", &[]).await.expect("IN ()");
        assert_eq!(count().await, 3, "DELETE ... IN () deletes nothing");
        let marker = session.prepare("DELETE FROM d.t WHERE k = 1 AND c1 IN ?").await.expect("prepare IN ?");
        session.execute_unpaged(&marker, (Vec::<i32>::new(),)).await.expect("an empty list");
        assert_eq!(count().await, 3, "DELETE ... IN ? with [] deletes nothing");
        let err = session.execute_unpaged(&marker, (None::<Vec<i32>>,)).await.expect_err("a null list");
        assert!(err.to_string().contains("Invalid null value for column c1"), "{err}");
        let err = session.query_unpaged("DELETE FROM d.t WHERE k = 1 AND c2 = 5", &[]).await.expect_err("a gap");
        assert!(err.to_string().contains("cannot be restricted as preceding column \"c1\""), "{err}");
        let q = "DELETE FROM d.t WHERE k = 1 AND c1 = 1 AND c1 = 2";
        let err = session.query_unpaged(q, &[]).await.expect_err("two relations on c1");
        assert!(err.to_string().contains("c1 cannot be restricted by more than one relation"), "{err}");
        assert_eq!(count().await, 3, "refused statements delete nothing");
        let one = session.prepare("DELETE FROM d.t WHERE k = 1 AND c1 IN (?)").await.expect("prepare IN (?)");
        session.execute_unpaged(&one, (2i32,)).await.expect("IN (?) with one int");
        assert_eq!(count().await, 2, "IN (?) deletes the one value's rows");
        let rows = session.query_unpaged("SELECT v FROM d.t WHERE k IN ()", &[]).await.expect("k IN ()");
        assert_eq!(rows.into_rows_result().expect("rows").rows_num(), 0);
        // A system table's `IN ?` is a list marker too, in its prepared metadata.
        let q = "SELECT table_name FROM system_schema.tables WHERE keyspace_name IN ?";
        let tables = session.prepare(q).await.expect("prepare");
        let rows = session.execute_unpaged(&tables, (vec!["d"],)).await.expect("a list of keyspaces");
        assert_eq!(rows.into_rows_result().expect("rows").rows_num(), 1);
    });
    node.stop();
}

/// Statements a driver sweep found answered wrongly, each as Cassandra answers it: a range
/// deletion on a DESC clustering column, element operations on frozen collections and plain
/// columns (refused), `DELETE m[?]` and `m = m - ?` markers typed as the map's keys, `token(k) >=
/// token(?)` hashing its value, `count(v)` counting non-null values beside `count(*)`, `PER
/// PARTITION LIMIT ?`, and writes of counter values (refused: increments are not supported).
#[test]
fn statements_the_driver_sweep_found_answer_as_cassandra_does() {
    use scylla::client::session_builder::SessionBuilder;
    use std::collections::HashMap;
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let addr = node.addr.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let session = SessionBuilder::new().known_node(addr).build().await.expect("connect");
        let run = |q: &'static str| {
            let session = &session;
            async move { session.query_unpaged(q, &[]).await.map_err(|e| e.to_string()) }
        };
        for q in [
            "CREATE KEYSPACE s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TABLE s.d (k int, a int, v int, PRIMARY KEY (k, a)) WITH CLUSTERING ORDER BY (a DESC)",
            "CREATE TABLE s.m (k int PRIMARY KEY, fm frozen<map<int, int>>, m map<int, text>, v int)",
            "CREATE TABLE s.c (k int PRIMARY KEY, n counter)",
            "CREATE TYPE s.addr (street text, n int)",
            "CREATE TABLE s.u (k int PRIMARY KEY, a addr, st set<int>)",
        ] {
            run(q).await.expect(q);
        }
        // DESC: the range's start in clustering order is its upper bound.
        let ints = |q: String| {
            let session = &session;
            async move {
                let rows = session.query_unpaged(q.as_str(), &[]).await.expect("select").into_rows_result();
                let mut v: Vec<i32> =
                    rows.expect("rows").rows::<(i32,)>().expect("ints").map(|r| r.expect("row").0).collect();
                v.sort_unstable();
                v
            }
        };
        for (k, range, left) in [(1, "a > 0 AND a < 3", vec![0, 3, 4]), (2, "a >= 1", vec![0]), (3, "a <= 3", vec![4])]
        {
            for a in 0..5 {
                let q = format!("INSERT INTO s.d (k, a, v) VALUES ({k}, {a}, 0)");
                session.query_unpaged(q.as_str(), &[]).await.expect("insert");
            }
            let q = format!("DELETE FROM s.d WHERE k = {k} AND {range}");
            session.query_unpaged(q.as_str(), &[]).await.expect("range delete");
            assert_eq!(ints(format!("SELECT a FROM s.d WHERE k = {k}")).await, left, "{range}");
        }
        run("INSERT INTO s.m (k, fm, m, v) VALUES (1, {1: 1}, {0: 'zero', 4: 'four', 7: 'seven'}, 1)")
            .await
            .expect("m");
        for (q, said) in [
            ("UPDATE s.m SET fm[2] = 5 WHERE k = 1", "frozen collection column fm"),
            ("UPDATE s.m SET fm = fm + {3: 3} WHERE k = 1", "frozen collection column fm"),
            ("DELETE fm[1] FROM s.m WHERE k = 1", "frozen collection column fm"),
            ("UPDATE s.m SET v = v + 1 WHERE k = 1", "non-collection column v"),
            ("DELETE v[1] FROM s.m WHERE k = 1", "non collection column v"),
            ("UPDATE s.u SET a = a - {n: 1} WHERE k = 1", "Invalid operation for column a"),
            ("UPDATE s.u SET st = {9} + st WHERE k = 1", "Invalid operation for column st"),
            ("UPDATE s.c SET n = 3 WHERE k = 1", "Counter columns can only be incremented"),
            ("INSERT INTO s.c (k, n) VALUES (1, 7)", "Counter columns can only be incremented"),
        ] {
            let err = run(q).await.expect_err(q);
            assert!(err.contains(said), "{q}: {err}");
        }
        let delete = session.prepare("DELETE m[?] FROM s.m WHERE k = ?").await.expect("prepare");
        session.execute_unpaged(&delete, (4i32, 1i32)).await.expect("DELETE m[?]");
        let remove = session.prepare("UPDATE s.m SET m = m - ? WHERE k = ?").await.expect("prepare");
        session.execute_unpaged(&remove, (vec![7i32], 1i32)).await.expect("m = m - ?");
        let rows = run("SELECT m, fm FROM s.m WHERE k = 1").await.expect("select").into_rows_result();
        let (m, fm) = rows.expect("rows").single_row::<(HashMap<i32, String>, HashMap<i32, i32>)>().expect("row");
        assert_eq!(m, HashMap::from([(0, "zero".to_string())]), "key 4 and key 7 deleted, key 0 kept");
        assert_eq!(fm, HashMap::from([(1, 1)]), "the frozen map is as written");
        for k in 2..6 {
            let q = if k % 2 == 1 {
                format!("INSERT INTO s.m (k, v) VALUES ({k}, {k})")
            } else {
                format!("INSERT INTO s.m (k) VALUES ({k})")
            };
            session.query_unpaged(q.as_str(), &[]).await.expect("insert");
        }
        let rows = run("SELECT count(*), count(v), count(fm) FROM s.m").await.expect("count").into_rows_result();
        assert_eq!(rows.expect("rows").single_row::<(i64, i64, i64)>().expect("row"), (5, 3, 1));
        // token(k) >= token(?) compares with the value's token, as the literal token does.
        let rows = run("SELECT token(k) FROM s.m WHERE k = 3").await.expect("token").into_rows_result();
        let (t3,) = rows.expect("rows").single_row::<(i64,)>().expect("row");
        let by_token = ints(format!("SELECT k FROM s.m WHERE token(k) >= {t3}")).await;
        assert_eq!(ints("SELECT k FROM s.m WHERE token(k) >= token(3)".into()).await, by_token);
        let marker = session.prepare("SELECT k FROM s.m WHERE token(k) >= token(?)").await.expect("prepare");
        let rows = session.execute_unpaged(&marker, (3i32,)).await.expect("token(?)").into_rows_result();
        let mut got: Vec<i32> =
            rows.expect("rows").rows::<(i32,)>().expect("ints").map(|r| r.expect("row").0).collect();
        got.sort_unstable();
        assert_eq!(got, by_token);
        assert_eq!(ints("SELECT k FROM s.m WHERE token(k) = token(3)".into()).await, vec![3]);
        // `k IN (...)`: partitions in the key's order, each once, also a page at a time.
        // (Ring order is 5, 1, 2, 4, 3; -3's bytes sort after them all.)
        run("INSERT INTO s.m (k) VALUES (-3)").await.expect("-3");
        let mut listed = session.prepare("SELECT k FROM s.m WHERE k IN (5, 1, -3, 3, 2, 4, 3)").await.expect("prepare");
        let rows = session.execute_unpaged(&listed, &[]).await.expect("IN").into_rows_result().expect("rows");
        let ks: Vec<i32> = rows.rows::<(i32,)>().expect("ints").map(|r| r.expect("row").0).collect();
        let expected = vec![-3, 1, 2, 3, 4, 5];
        assert_eq!(ks, expected, "key order, not ring order");
        listed.set_page_size(2);
        let (mut paged, mut state) = (Vec::new(), scylla::response::PagingState::start());
        loop {
            let (res, next) = session.execute_single_page(&listed, &[], state).await.expect("page");
            let rows = res.into_rows_result().expect("rows");
            paged.extend(rows.rows::<(i32,)>().expect("ints").map(|r| r.expect("row").0));
            match next {
                scylla::response::PagingStateResponse::HasMorePages { state: s } => state = s,
                scylla::response::PagingStateResponse::NoMorePages => break,
            }
        }
        assert_eq!(paged, expected, "paged");
        for (q, said) in [
            ("SELECT writetime(m) FROM s.m", "writeTime on non-frozen column m"),
            ("SELECT ttl(k) FROM s.m", "ttl on PRIMARY KEY part k"),
            ("SELECT count(nosuch) FROM s.m", "Undefined column name nosuch"),
        ] {
            let err = run(q).await.expect_err(q);
            assert!(err.contains(said), "{q}: {err}");
        }
        let rows = run("SELECT writetime(fm) FROM s.m WHERE k = 1").await.expect("frozen").into_rows_result();
        assert!(rows.expect("rows").single_row::<(i64,)>().is_ok(), "a frozen collection is one cell");
        // A prepend goes before every element, a later prepend before an earlier one.
        run("CREATE TABLE s.l (k int PRIMARY KEY, l list<int>)").await.expect("l");
        for q in [
            "INSERT INTO s.l (k, l) VALUES (1, [1, 2, 3])",
            "UPDATE s.l SET l = [0] + l WHERE k = 1",
            "UPDATE s.l SET l = l + [4, 5] WHERE k = 1",
            "UPDATE s.l SET l = [-2, -1] + l WHERE k = 1",
        ] {
            run(q).await.expect(q);
        }
        let rows = run("SELECT l FROM s.l WHERE k = 1").await.expect("select").into_rows_result();
        let (l,) = rows.expect("rows").single_row::<(Vec<i32>,)>().expect("row");
        assert_eq!(l, [-2, -1, 0, 1, 2, 3, 4, 5]);
        // Static columns alone: an INSERT without clustering writes the static row only; an
        // UPDATE of static columns only may not name a row.
        run("CREATE TABLE s.st (k int, c int, s int static, v int, PRIMARY KEY (k, c))").await.expect("st");
        run("INSERT INTO s.st (k, s) VALUES (1, 10)").await.expect("static-only INSERT");
        let rows = run("SELECT k, c, s, v FROM s.st").await.expect("select").into_rows_result();
        let row = rows.expect("rows").single_row::<(i32, Option<i32>, Option<i32>, Option<i32>)>().expect("row");
        assert_eq!(row, (1, None, Some(10), None), "a static-only partition");
        let err = run("UPDATE s.st SET s = 6 WHERE k = 1 AND c = 2").await.expect_err("a row named");
        assert!(err.contains("modifies only static columns"), "{err}");
        let err = run("INSERT INTO s.st (k, v) VALUES (1, 1)").await.expect_err("no clustering");
        assert!(err.contains("Some clustering keys are missing"), "{err}");
        let limited = session.prepare("SELECT a FROM s.d PER PARTITION LIMIT ?").await.expect("prepare");
        let rows = session.execute_unpaged(&limited, (1i32,)).await.expect("PER PARTITION LIMIT ?");
        assert_eq!(rows.into_rows_result().expect("rows").rows_num(), 3, "one row of each of the three partitions");
    });
    node.stop();
}

/// With part of the partition key, or a range on it, ALLOW FILTERING filters on the key as
/// Cassandra does (it once returned the whole table).
#[test]
fn allow_filtering_filters_on_partition_key_columns() {
    use scylla::client::session_builder::SessionBuilder;
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let addr = node.addr.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let session = SessionBuilder::new().known_node(addr).build().await.expect("connect");
        for q in [
            "CREATE KEYSPACE f WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TABLE f.t (k1 int, k2 text, v int, PRIMARY KEY ((k1, k2)))",
            "INSERT INTO f.t (k1, k2, v) VALUES (1, 'a', 1)",
            "INSERT INTO f.t (k1, k2, v) VALUES (1, 'b', 2)",
            "INSERT INTO f.t (k1, k2, v) VALUES (2, 'a', 3)",
        ] {
            session.query_unpaged(q, &[]).await.expect(q);
        }
        for (q, want) in [
            ("SELECT v FROM f.t WHERE k1 = 1 ALLOW FILTERING", vec![1, 2]),
            ("SELECT v FROM f.t WHERE k2 = 'a' ALLOW FILTERING", vec![1, 3]),
            ("SELECT v FROM f.t WHERE k1 > 1 ALLOW FILTERING", vec![3]),
            ("SELECT v FROM f.t WHERE k1 IN (2, 3) AND v > 0 ALLOW FILTERING", vec![3]),
        ] {
            let rows = session.query_unpaged(q, &[]).await.expect(q).into_rows_result().expect("rows");
            let mut got: Vec<i32> = rows.rows::<(i32,)>().expect("typed").map(|r| r.expect("row").0).collect();
            got.sort_unstable();
            assert_eq!(got, want, "{q}");
        }
        let q = "SELECT count(*) FROM f.t WHERE k1 = 1 ALLOW FILTERING";
        let rows = session.query_unpaged(q, &[]).await.expect(q).into_rows_result().expect("rows");
        assert_eq!(rows.single_row::<(i64,)>().expect("count").0, 2, "{q}");
    });
    node.stop();
}

/// A bound TTL, timestamp or limit left unset means none was given (the table's default TTL,
/// the server's clock, no limit); null is refused. (Unset and null once both meant TTL 0: rows
/// of a table with a default TTL never expired.)
#[test]
fn unset_using_values_mean_the_defaults_and_null_is_refused() {
    use scylla::client::session_builder::SessionBuilder;
    use scylla::value::MaybeUnset;
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let addr = node.addr.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let session = SessionBuilder::new().known_node(addr).build().await.expect("connect");
        for q in [
            "CREATE KEYSPACE u WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TABLE u.t (k int PRIMARY KEY, v int) WITH default_time_to_live = 1000",
        ] {
            session.query_unpaged(q, &[]).await.expect(q);
        }
        let insert = session.prepare("INSERT INTO u.t (k, v) VALUES (?, ?) USING TTL ?").await.expect("prepare");
        session.execute_unpaged(&insert, (1i32, 1i32, MaybeUnset::<i32>::Unset)).await.expect("unset TTL");
        let q = "SELECT ttl(v) FROM u.t WHERE k = 1";
        let rows = session.query_unpaged(q, &[]).await.expect(q).into_rows_result().expect("rows");
        let (ttl,) = rows.single_row::<(Option<i32>,)>().expect("one row");
        assert!(ttl.is_some_and(|t| 0 < t && t <= 1000), "an unset TTL is the table's default: {ttl:?}");
        let err = session.execute_unpaged(&insert, (2i32, 2i32, None::<i32>)).await.expect_err("a null TTL");
        assert!(err.to_string().contains("Invalid null value of TTL"), "{err}");
        let limited = session.prepare("SELECT v FROM u.t LIMIT ?").await.expect("prepare LIMIT");
        let rows = session.execute_unpaged(&limited, (MaybeUnset::<i32>::Unset,)).await.expect("unset LIMIT");
        assert_eq!(rows.into_rows_result().expect("rows").rows_num(), 1);
        let err = session.execute_unpaged(&limited, (None::<i32>,)).await.expect_err("a null LIMIT");
        assert!(err.to_string().contains("Invalid null value of LIMIT"), "{err}");
    });
    node.stop();
}

/// A table made after `USE ks` (the drivers' and cqlsh's usual way) is saved under its keyspace:
/// the restarted node has it and its rows. (Its CREATE TABLE was saved as typed, and the
/// restart failed with "No keyspace has been specified", rewriting the schema file without it.)
#[test]
fn a_table_made_after_use_survives_a_restart() {
    use scylla::client::session_builder::SessionBuilder;
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = || cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let node = cairn_server::start(config()).expect("start");
    let addr = node.addr.to_string();
    rt.block_on(async {
        let session = SessionBuilder::new().known_node(&addr).build().await.expect("connect");
        let ks = "CREATE KEYSPACE r WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}";
        session.query_unpaged(ks, &[]).await.expect(ks);
        session.use_keyspace("r", false).await.expect("USE r");
        for q in ["CREATE TYPE a (x int)", "CREATE TABLE x (k int PRIMARY KEY, u frozen<a>)"] {
            session.query_unpaged(q, &[]).await.expect(q);
        }
        session.query_unpaged("INSERT INTO x (k, u) VALUES (1, {x: 3})", &[]).await.expect("insert");
    });
    node.stop();
    let node = cairn_server::start(config()).expect("restart");
    let addr = node.addr.to_string();
    rt.block_on(async {
        let session = SessionBuilder::new().known_node(&addr).build().await.expect("connect");
        let rows = session.query_unpaged("SELECT k FROM r.x", &[]).await.expect("select").into_rows_result();
        let (k,) = rows.expect("rows").single_row::<(i32,)>().expect("one row");
        assert_eq!(k, 1);
    });
    node.stop();
    let saved = std::fs::read_to_string(tmp.path().join("data/cairn_schema.cql")).expect("schema");
    assert!(saved.contains("CREATE TABLE r.x ("), "{saved}");
}

/// A node whose schema file or identity file cannot be read does not start as a new, empty
/// node: its commit log would be discarded at the next flush, or it would own other tokens.
#[test]
fn a_node_whose_state_files_do_not_read_refuses_to_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let config = || cairn_server::NodeConfig {
        data_dir: data.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    cairn_server::start(config()).expect("first start").stop();
    let identity = data.join("cairn_node.txt");
    let saved = std::fs::read_to_string(&identity).expect("the identity is saved");
    std::fs::write(&identity, saved.replacen('\n', "\nnot-a-token\n", 1)).expect("damage");
    let err = cairn_server::start(config()).err().expect("a damaged identity is refused").to_string();
    assert!(err.contains("cairn_node.txt") && err.contains("line 2 is not a token"), "{err}");
    std::fs::write(&identity, &saved).expect("mend");
    // A schema file that exists but does not read (here a directory) is not a missing one.
    let schema = data.join("cairn_schema.cql");
    let _ = std::fs::remove_file(&schema);
    std::fs::create_dir_all(&schema).expect("mkdir");
    let err = cairn_server::start(config()).err().expect("an unreadable schema is refused").to_string();
    assert!(err.contains("cairn_schema.cql"), "{err}");
    std::fs::remove_dir(&schema).expect("rmdir");
    cairn_server::start(config()).expect("starts again once mended").stop();
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
