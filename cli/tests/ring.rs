//! A ring of `cairn node`s on 127.0.0.x, driven by `cairn ring` and checked by the Python
//! driver (TokenAwarePolicy over DCAwareRoundRobinPolicy) and by the nodes' own SSTables:
//!
//! - three nodes: the driver sees the ring; each row of an RF 2 keyspace lives on exactly the
//!   replicas the driver computes from the tokens; a node killed under a QUORUM write load loses
//!   no acknowledged write, QUORUM reads see them all, ALL fails with Unavailable (required 3,
//!   alive 2); after a restart hints bring the node's SSTables to the full content; a paused
//!   node is convicted down within seconds and up again once resumed; a replica made stale
//!   (hints dropped) is repaired by a read; cqlsh DESCRIBE shows the same schema on every node;
//!   a replica that missed writes (hints dropped) is brought level by `cairn admin repair`; a
//!   fourth node joins by streaming, the others clean up, a node is decommissioned, each row is
//!   then on exactly its new replicas, and `cairn repair diff` finds the replicas identical;
//!   a dead node is removed (removenode) and its ranges re-replicated.
//! - `cairn load --stream`: a snapshot streamed into a ring (RF 2) lands on exactly two nodes a
//!   key, and the ring's merged content equals the snapshot's, local deletion times included; a
//!   node killed mid-stream fails the load, which resumes.
//! - two data centres of three: LOCAL_QUORUM in dc1 is unaffected by killing all of dc2, and
//!   EACH_QUORUM fails with Unavailable; once dc2 is back, hints make every node hold every row
//!   of the {dc1: 3, dc2: 3} keyspace.
//!
//! The scenarios share the loopback addresses and the fixed internode and admin ports, so they
//! run one after the other in one test.

mod common;
use common::{cairn, s};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The partition keys (as dump prints them) of a node's table.
fn keys(table_dir: &Path) -> BTreeSet<String> {
    if !table_dir.exists() {
        return BTreeSet::new();
    }
    let text = ok(cairn(&["dump", &table_dir.display().to_string(), "--keys-only"]), "dump --keys-only");
    let v: Value = serde_json::from_str(&text).expect("keys JSON");
    v.as_array().expect("array").iter().map(|k| k[0].as_str().expect("key").to_string()).collect()
}

/// A dump without its file offsets (they differ between a source and its copy).
fn strip_positions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("position");
            m.values_mut().for_each(strip_positions);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_positions),
        _ => {}
    }
}

/// Stops the ring when the test ends, passing or not.
struct Down<'a>(&'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = cairn(&["ring", "down", "--dir", &self.0.display().to_string()]);
    }
}

fn run_python(python: &str, script: &str, args: &[&str]) -> Value {
    // The scripts may import the shared test peers (the Flask session app: flask_app.py).
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("tests").join("peers");
    let out = Command::new(python).arg("-c").arg(script).args(args).env("PYTHONPATH", peers).output().expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "driver script failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.lines().last().expect("a JSON result line");
    serde_json::from_str(last).expect("JSON result")
}

const THREE_NODES: &str = r#"
import json, subprocess, sys, time
from cassandra import ConsistencyLevel as CL, Unavailable
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
from cassandra.policies import TokenAwarePolicy, DCAwareRoundRobinPolicy, WhiteListRoundRobinPolicy
from cassandra.query import SimpleStatement

cairn, ring, port, admin_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def run(*a):
    return subprocess.run([cairn, *a], check=True, capture_output=True, text=True).stdout
def wait(what, cond, limit=30):
    t = time.time()
    while not cond():
        assert time.time() - t < limit, "timed out waiting for " + what
        time.sleep(0.2)
    return time.time() - t

profile = ExecutionProfile(load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
                           consistency_level=CL.QUORUM, request_timeout=15)
cluster = Cluster(["127.0.0.1"], port=port, protocol_version=4, execution_profiles={EXEC_PROFILE_DEFAULT: profile})
s = cluster.connect()
hosts = sorted(h.address for h in cluster.metadata.all_hosts())
assert hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3"], hosts
s.execute("CREATE KEYSPACE place WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
s.execute("CREATE TABLE place.t (k int PRIMARY KEY, v text)")
s.execute("CREATE KEYSPACE ha WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
s.execute("CREATE TABLE ha.t (k int PRIMARY KEY, v text)")
cluster.refresh_schema_metadata()

# Placement: the driver computes each key's replicas from the ring's tokens.
put = s.prepare("INSERT INTO place.t (k, v) VALUES (?, ?)")
placement = {}
for k in range(200):
    s.execute(put, (k, "v%d" % k))
    key = put.bind((k, "")).routing_key
    placement[str(k)] = sorted(h.address for h in cluster.metadata.get_replicas("place", key))

# A node killed under a QUORUM write load.
put = s.prepare("INSERT INTO ha.t (k, v) VALUES (?, ?)")
acked = []
for k in range(300):
    if k == 100:
        run("ring", "kill", "node3", "--dir", ring)
        killed = time.time()
    s.execute(put, (k, "v%d" % k))
    acked.append(k)
seen = {r.k for r in s.execute(SimpleStatement("SELECT k FROM ha.t", consistency_level=CL.QUORUM))}
assert set(acked) <= seen, sorted(set(acked) - seen)[:10]
unavailable = None
while unavailable is None:
    assert time.time() - killed < 30, "ALL never failed with Unavailable"
    try:
        s.execute(SimpleStatement("INSERT INTO ha.t (k, v) VALUES (-1, 'all')", consistency_level=CL.ALL))
    except Unavailable as e:
        unavailable = [e.consistency, e.required_replicas, e.alive_replicas]
    except Exception:
        time.sleep(0.3)

# Back again: hints bring it up to date.
run("ring", "start", "node3", "--dir", ring)
def no_hints():
    return all(len(run("admin", "--host", h, "--port", admin_port, "hints").strip().splitlines()) == 1 for h in ["127.0.0.1", "127.0.0.2"])
wait("hints to be delivered", no_hints)

# A paused node is convicted down, and up again once resumed.
def status_of(addr):
    nodes = json.loads(run("ring", "status", "--dir", ring, "--json"))["nodes"]
    return next(n["status"] for n in nodes if n["address"] == addr)
run("ring", "pause", "node2", "--dir", ring)
convicted_after = wait("node2 to be convicted", lambda: status_of("127.0.0.2").startswith("D"))
run("ring", "resume", "node2", "--dir", ring)
wait("node2 to be up", lambda: status_of("127.0.0.2") == "UN")

# A replica made stale (down, its hints dropped) is repaired by a QUORUM read it coordinates.
run("ring", "kill", "node3", "--dir", ring)
for k in range(500, 550):
    s.execute(put, (k, "late%d" % k))
for h in ["127.0.0.1", "127.0.0.2"]:
    run("admin", "--host", h, "--port", admin_port, "hints", "truncate")
run("ring", "start", "node3", "--dir", ring)
only3 = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy(["127.0.0.3"]), request_timeout=15)
c3 = Cluster(["127.0.0.3"], port=port, protocol_version=4, execution_profiles={EXEC_PROFILE_DEFAULT: only3})
s3 = c3.connect()
one = SimpleStatement("SELECT v FROM ha.t WHERE k = %s", consistency_level=CL.ONE)
stale_before = sum(1 for k in range(500, 550) if s3.execute(one, (k,)).one() is None)
quorum = SimpleStatement("SELECT v FROM ha.t WHERE k = %s", consistency_level=CL.QUORUM)
for k in range(500, 550):
    assert s3.execute(quorum, (k,)).one().v == "late%d" % k
stale_after = sum(1 for k in range(500, 550) if s3.execute(one, (k,)).one() is None)

# The same, repaired by `cairn admin repair` (Merkle trees) instead of reads.
run("ring", "kill", "node3", "--dir", ring)
for k in range(600, 650):
    s.execute(put, (k, "repair%d" % k))
s.execute(SimpleStatement("DELETE FROM ha.t WHERE k = 7", consistency_level=CL.QUORUM))
for h in ["127.0.0.1", "127.0.0.2"]:
    run("admin", "--host", h, "--port", admin_port, "hints", "truncate")
run("ring", "start", "node3", "--dir", ring)
def node3_answers():
    try:
        return s3.execute(one, (0,)).one() is not None
    except Exception:
        return False
wait("the driver to reach node3 again", node3_answers)
unrepaired = sum(1 for k in range(600, 650) if s3.execute(one, (k,)).one() is None)
repair_summary = run("admin", "--host", "127.0.0.1", "--port", admin_port, "repair", "ha")
repaired_missing = sum(1 for k in range(600, 650) if s3.execute(one, (k,)).one() is None)
deleted_seen = s3.execute(one, (7,)).one() is not None
# RF 3 on three nodes: each replica repaired every range, so every SSTable the session
# validated is marked repaired, on every node (cairn meta reads repairedAt from Statistics.db).
def repaired_at(i):
    text, docs, at = run("meta", "--json", "%s/node%d/data/ha" % (ring, i)), [], 0
    while text[at:].strip():
        at = len(text) - len(text[at:].lstrip())
        doc, at = json.JSONDecoder().raw_decode(text, at)
        docs.append(doc["repaired_at"])
    return docs
repaired_ats = [repaired_at(i) for i in (1, 2, 3)]
c3.shutdown()

# A fourth node joins (streaming its ranges), the others clean up; then node2 leaves.
run("ring", "add", "--dir", ring)
for h in ["127.0.0.1", "127.0.0.2", "127.0.0.3"]:
    run("admin", "--host", h, "--port", admin_port, "cleanup")
run("ring", "decommission", "node2", "--dir", ring)
cluster.refresh_nodes()
hosts_after = sorted(h.address for h in cluster.metadata.all_hosts() if h.is_up is not False)
put = s.prepare("INSERT INTO place.t (k, v) VALUES (?, ?)")
placement = {str(k): sorted(h.address for h in cluster.metadata.get_replicas("place", put.bind((k, "")).routing_key))
             for k in range(200)}
kept = {r.k for r in s.execute(SimpleStatement("SELECT k FROM place.t", consistency_level=CL.QUORUM))}
assert kept == set(range(200)), sorted(set(range(200)) - kept)[:10]
cluster.shutdown()
print(json.dumps({"placement": placement, "unavailable": unavailable, "convicted_after": convicted_after,
                  "stale_before": stale_before, "stale_after": stale_after, "hosts_after": hosts_after,
                  "unrepaired": unrepaired, "repaired_missing": repaired_missing, "deleted_seen": deleted_seen,
                  "repair_summary": repair_summary, "repaired_ats": repaired_ats}))
"#;

const TWO_DCS: &str = r#"
import json, subprocess, sys
from cassandra import ConsistencyLevel as CL, Unavailable
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
from cassandra.policies import TokenAwarePolicy, DCAwareRoundRobinPolicy
from cassandra.query import SimpleStatement

cairn, ring, port, admin_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def run(*a):
    return subprocess.run([cairn, *a], check=True, capture_output=True, text=True).stdout
profile = ExecutionProfile(load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc="dc1")),
                           consistency_level=CL.LOCAL_QUORUM, request_timeout=15)
cluster = Cluster(["127.0.0.1"], port=port, protocol_version=4, execution_profiles={EXEC_PROFILE_DEFAULT: profile})
s = cluster.connect()
dcs = sorted({h.datacenter for h in cluster.metadata.all_hosts()})
assert dcs == ["dc1", "dc2"], dcs
s.execute("CREATE KEYSPACE web WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}")
s.execute("CREATE TABLE web.sessions (id int PRIMARY KEY, data text)")
put = s.prepare("INSERT INTO web.sessions (id, data) VALUES (?, ?)")
for i in range(50):
    s.execute(put, (i, "before"))
for n in ["node4", "node5", "node6"]:
    run("ring", "kill", n, "--dir", ring)
for i in range(50, 100):
    s.execute(put, (i, "after"))
rows = list(s.execute(SimpleStatement("SELECT id FROM web.sessions", consistency_level=CL.LOCAL_QUORUM)))
each = None
import time
t = time.time()
while each is None and time.time() - t < 30:
    try:
        s.execute(SimpleStatement("INSERT INTO web.sessions (id, data) VALUES (-1, 'x')", consistency_level=CL.EACH_QUORUM))
    except Unavailable as e:
        # Until all three are convicted, some of dc2 still counts as alive.
        if e.alive_replicas == 0:
            each = [e.consistency, e.required_replicas, e.alive_replicas]
        time.sleep(0.3)
    except Exception:
        time.sleep(0.3)
cluster.shutdown()
print(json.dumps({"rows": len(rows), "each_quorum": each}))
"#;

/// The seed story: a Flask app keeps its sessions (cassandra-flask-sessions) in the ring at
/// QUORUM, RF 3; a session survives the loss of any one node and a restart of every node, and
/// vanishes once its TTL has passed.
const FLASK: &str = r#"
import json, subprocess, sys, time
from cassandra import ConsistencyLevel as CL
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
from cassandra.policies import TokenAwarePolicy, DCAwareRoundRobinPolicy
from flask_app import session_app, settle

cairn, ring, port, admin_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def run(*a):
    return subprocess.run([cairn, *a], check=True, capture_output=True, text=True).stdout
def connect():
    profile = ExecutionProfile(load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
                               consistency_level=CL.QUORUM, request_timeout=15)
    c = Cluster(["127.0.0.1", "127.0.0.2", "127.0.0.3"], port=port, protocol_version=4,
                execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    return c, c.connect()
cluster, conn = connect()
conn.execute("CREATE KEYSPACE web WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
conn.execute("CREATE TABLE web.sessions (sid text PRIMARY KEY, data text)")
conn.set_keyspace("web")
client, name = session_app(conn, 12)
assert client.get("/login").data == b"ok"
settle()
sid = client.get_cookie(name).value
survived = []
def driver_sees_all_up():
    t = time.time()
    while not all(h.is_up for h in cluster.metadata.all_hosts()):
        assert time.time() - t < 20, "the driver never saw every node up again"
        time.sleep(0.1)
for n in ["node1", "node2", "node3"]:
    run("ring", "kill", n, "--dir", ring)
    survived.append(client.get("/whoami").data == b"ada")
    run("ring", "start", n, "--dir", ring)
    # STATUS_CHANGE UP tells the driver the node is back.
    driver_sees_all_up()
# A request renews the session's TTL (SESSION_REFRESH_EACH_REQUEST): 12 s from here to the
# restarted ring's first request.
assert client.get("/whoami").data == b"ada"
settle()
cluster.shutdown()
run("ring", "down", "--dir", ring)
for n in ["node1", "node2", "node3"]:
    run("ring", "start", n, "--dir", ring)
cluster, conn = connect()
conn.set_keyspace("web")
client, name = session_app(conn, 12)
client.set_cookie(name, sid)
after_restart = client.get("/whoami").data == b"ada"
time.sleep(12.5)
expired = client.get("/whoami").data == b"anonymous"
cluster.shutdown()
print(json.dumps({"survived": survived, "after_restart": after_restart, "expired": expired}))
"#;

#[test]
fn a_ring_replicates_fails_over_hints_and_repairs() {
    let Some(python) = common::peers_python() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let cairn_bin = env!("CARGO_BIN_EXE_cairn");
    // Free ports, so that nothing else on the machine (a Cassandra on 7000, another ring) is in
    // the way; every node uses them on its own address.
    let free =
        || std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port().to_string();
    let (port, storage, admin) = (free(), free(), free());
    let (port, storage, admin) = (port.as_str(), storage.as_str(), admin.as_str());
    let ring_up = |dir: &str, nodes: &str, extra: &[&str]| -> String {
        let mut args =
            vec!["ring", "up", nodes, "--dir", dir, "--port", port, "--storage-port", storage, "--admin-port", admin];
        args.extend_from_slice(extra);
        ok(cairn(&args), "ring up")
    };
    // Every node's hints delivered (nodes 1 to `n`).
    let hints_delivered = |n: u32, what: &str| {
        let t = std::time::Instant::now();
        let none = |i: u32| {
            let list = ok(cairn(&["admin", "--host", &format!("127.0.0.{i}"), "--port", admin, "hints"]), "hints");
            list.lines().count() == 1
        };
        while !(1..=n).all(none) {
            assert!(t.elapsed().as_secs() < 30, "hints were not delivered to {what}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };

    // Three nodes.
    let dir = tmp.path().join("three");
    let dir_s = dir.display().to_string();
    let up = ring_up(&dir_s, "3", &["--json"]);
    let _down = Down(&dir);
    let nodes: Value = serde_json::from_str(up.trim()).expect("ring up --json");
    let addresses: Vec<&str> =
        nodes["nodes"].as_array().expect("nodes").iter().map(|n| n["address"].as_str().expect("address")).collect();
    assert_eq!(addresses, ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    let result = run_python(&python, THREE_NODES, &[cairn_bin, &dir_s, port, admin]);
    assert_eq!(result["unavailable"], serde_json::json!([5, 3, 2]), "ALL: consistency 5, required 3, alive 2");
    let convicted = result["convicted_after"].as_f64().expect("seconds");
    assert!(convicted < 15.0, "a paused node was convicted only after {convicted:.1}s");
    assert!(
        result["stale_before"].as_u64().expect("n") > 0,
        "node3 was not stale: the read repair test proves nothing"
    );
    assert_eq!(result["stale_after"], 0, "the QUORUM reads did not repair node3");
    assert_eq!(result["unrepaired"], 50, "node3 missed the writes made while it was down: {result}");
    assert_eq!(result["repaired_missing"], 0, "admin repair left node3 without rows: {}", result["repair_summary"]);
    assert_eq!(result["deleted_seen"], false, "admin repair did not bring node3 the deletion");
    // Every validated SSTable was marked with the session's start, and the summary counts them.
    let summary = result["repair_summary"].as_str().expect("summary");
    let ats: Vec<Vec<i64>> = serde_json::from_value(result["repaired_ats"].clone()).expect("repaired_at lists");
    let marked: usize = ats.iter().map(Vec::len).sum();
    assert!(
        ats.iter().all(|n| !n.is_empty() && n.iter().all(|a| *a == ats[0][0] && *a > 1_700_000_000_000)),
        "{ats:?}"
    );
    assert!(summary.contains(&format!("{marked} SSTable(s) marked repaired")), "{summary} vs {ats:?}");

    // cqlsh's DESCRIBE is the same on every node.
    let cqlsh = Path::new(&python).with_file_name("cqlsh");
    let describe: Vec<String> = ["127.0.0.1", "127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|a| {
            let out = Command::new(&cqlsh).args([a, port, "-e", "DESCRIBE KEYSPACE ha"]).output().expect("cqlsh");
            ok(out, "cqlsh DESCRIBE")
        })
        .collect();
    assert!(describe[0].contains("CREATE TABLE ha.t"), "{}", describe[0]);
    assert!(describe.iter().all(|d| *d == describe[0]), "DESCRIBE differs between nodes: {describe:?}");

    // After node4 joined, the others cleaned up and node2 left, each row lives on exactly its
    // replicas: the nodes' SSTables after a clean stop.
    ok(cairn(&["ring", "down", "--dir", &dir_s]), "ring down");
    assert_eq!(result["hosts_after"], serde_json::json!(["127.0.0.1", "127.0.0.3", "127.0.0.4"]));
    let placement: BTreeMap<String, Vec<String>> =
        serde_json::from_value(result["placement"].clone()).expect("placement map");
    for (i, addr) in [(1, "127.0.0.1"), (3, "127.0.0.3"), (4, "127.0.0.4")] {
        let held = keys(&dir.join(format!("node{i}")).join("data").join("place"));
        let expected: BTreeSet<String> =
            placement.iter().filter(|(_, r)| r.iter().any(|x| x == addr)).map(|(k, _)| k.clone()).collect();
        assert_eq!(held, expected, "{addr} holds other keys than its replica set");
        let ha = keys(&dir.join(format!("node{i}")).join("data").join("ha"));
        let all: BTreeSet<String> = (0..300).chain(500..550).chain(600..650).map(|k| k.to_string()).collect();
        assert!(
            all.is_subset(&ha),
            "{addr} lacks {:?} of the RF 3 table",
            all.difference(&ha).take(5).collect::<Vec<_>>()
        );
    }
    // The replicas agree, table by table (RF 3: every node holds the whole table).
    let data = |i: u32| s(&dir.join(format!("node{i}")).join("data"));
    for (a, b) in [(1, 3), (1, 4), (3, 4)] {
        let out = cairn(&["repair", "diff", &data(a), &data(b), "--keyspace", "ha"]);
        assert!(out.status.success(), "node{a} and node{b} differ: {}", String::from_utf8_lossy(&out.stdout));
    }
    // node4 dies for good: removenode re-replicates its ranges from the live nodes, and with
    // two nodes left each holds every row of the RF 2 table.
    for n in ["node1", "node3"] {
        ok(cairn(&["ring", "start", n, "--dir", &dir_s]), "ring start");
    }
    ok(cairn(&["ring", "removenode", "node4", "--dir", &dir_s]), "ring removenode node4");
    ok(cairn(&["ring", "down", "--dir", &dir_s]), "ring down");
    let every: BTreeSet<String> = (0..200).map(|k| k.to_string()).collect();
    for i in [1, 3] {
        let held = keys(&dir.join(format!("node{i}")).join("data").join("place"));
        assert_eq!(held, every, "node{i} after removenode");
    }
    drop(_down);

    // The seed story: web sessions on the ring.
    let dir = tmp.path().join("flask");
    let dir_s = dir.display().to_string();
    ring_up(&dir_s, "3", &[]);
    let _down = Down(&dir);
    let result = run_python(&python, FLASK, &[cairn_bin, &dir_s, port, admin]);
    assert_eq!(result["survived"], serde_json::json!([true, true, true]), "the session survived each node's loss");
    assert_eq!(result["after_restart"], true, "the session survived a restart of every node");
    assert_eq!(result["expired"], true, "the session vanished with its TTL");
    drop(_down);

    // `cairn load` into the ring: --plan's per-host counts are where the partitions land (the
    // scylla driver's replica computation agrees with the ring's placement), and a node killed
    // mid-load loses nothing.
    let dir = tmp.path().join("load");
    let dir_s = dir.display().to_string();
    ring_up(&dir_s, "3", &[]);
    let _down = Down(&dir);
    let sessions = tmp.path().join("sessions");
    ok(cairn(&["gen", "sessions", "--out", &sessions.display().to_string(), "--rows", "2000"]), "gen sessions");
    let load = |path: &Path, extra: &[&str]| {
        let mut args = vec!["load", "-d", "127.0.0.1", "-p", port, "--create-schema"];
        let path = path.display().to_string();
        args.push(&path);
        args.extend_from_slice(extra);
        ok(cairn(&args), "cairn load")
    };
    let plan: Value = serde_json::from_str(&load(&sessions, &["--plan", "--json"])).expect("plan JSON");
    load(&sessions, &[]);
    ok(cairn(&["ring", "down", "--dir", &dir_s]), "ring down");
    let per_host = &plan["tables"][0]["per_host"];
    for i in 1..=3 {
        let planned = per_host[format!("127.0.0.{i}:{port}")]["partitions"].as_u64().unwrap_or(0);
        let held = keys(&dir.join(format!("node{i}")).join("data").join("cairn")).len() as u64;
        assert_eq!(held, planned, "node{i} holds {held} partitions, --plan said {planned}");
    }
    for i in 1..=3 {
        ok(cairn(&["ring", "start", &format!("node{i}"), "--dir", &dir_s]), "ring start");
    }
    let cqlsh = Path::new(&python).with_file_name("cqlsh");
    let rf3 = "DROP KEYSPACE cairn; CREATE KEYSPACE cairn WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}";
    ok(Command::new(&cqlsh).args(["127.0.0.1", port, "-e", rf3]).output().expect("cqlsh"), "keyspace cairn, RF 3");
    let series = tmp.path().join("series");
    ok(cairn(&["gen", "timeseries", "--out", &series.display().to_string(), "--rows", "30000"]), "gen timeseries");
    let loading = Command::new(cairn_bin)
        .args(["load", "-d", "127.0.0.1", "-p", port, "--create-schema", "--throttle", "2"])
        .arg(&series)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cairn load");
    std::thread::sleep(std::time::Duration::from_millis(700));
    ok(cairn(&["ring", "kill", "node2", "--dir", &dir_s]), "ring kill node2");
    let finished = loading.wait_with_output().expect("load");
    assert!(
        finished.status.success(),
        "the load did not survive a node's death: {}",
        String::from_utf8_lossy(&finished.stderr)
    );
    ok(cairn(&["ring", "start", "node2", "--dir", &dir_s]), "ring start node2");
    hints_delivered(3, "node2");
    ok(cairn(&["ring", "down", "--dir", &dir_s]), "ring down");
    // RF 3: every node holds the whole table, node2 included, as the source has it.
    for i in 1..=3 {
        let node = dir.join(format!("node{i}")).join("data");
        let out = cairn(&["repair", "diff", &s(&series), &s(&node), "--table", "timeseries"]);
        assert!(out.status.success(), "node{i} differs from the source: {}", String::from_utf8_lossy(&out.stdout));
    }
    drop(_down);

    // `cairn load --stream`: the snapshot's SSTables cut into each replica's share and streamed
    // over the internode protocol; killed mid-stream, the load resumes; the ring then holds
    // exactly the snapshot's content, local deletion times included.
    let dir = tmp.path().join("stream");
    let dir_s = dir.display().to_string();
    ring_up(&dir_s, "3", &[]);
    let _down = Down(&dir);
    let schema = std::fs::read_to_string(sessions.join("schema.cql")).expect("schema.cql");
    let schema = schema.replace("'replication_factor': '1'", "'replication_factor': '2'");
    let schema_file = tmp.path().join("stream-schema.cql");
    std::fs::write(&schema_file, schema).expect("write schema");
    ok(Command::new(&cqlsh).args(["127.0.0.1", port, "-f", &s(&schema_file)]).output().expect("cqlsh"), "schema RF 2");
    let resume = tmp.path().join("stream.state");
    let stream = |extra: &[&str]| {
        let mut args = vec!["load", "--stream", "-d", "127.0.0.1", "--storage-port", storage, "--resume"];
        let (resume, src) = (s(&resume), s(&sessions));
        args.push(&resume);
        args.extend_from_slice(extra);
        args.push(&src);
        Command::new(cairn_bin)
            .args(&args)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("cairn load --stream")
    };
    let first = stream(&["--throttle", "0.15"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    ok(cairn(&["ring", "kill", "node2", "--dir", &dir_s]), "ring kill node2");
    let first = first.wait_with_output().expect("first stream");
    assert_eq!(
        first.status.code(),
        Some(1),
        "a stream cut short by a dead node: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        String::from_utf8_lossy(&first.stderr).contains(&format!("127.0.0.2:{storage}")),
        "the error names the node"
    );
    ok(cairn(&["ring", "start", "node2", "--dir", &dir_s]), "ring start node2");
    let second = stream(&[]).wait_with_output().expect("second stream");
    assert!(second.status.success(), "the resumed stream: {}", String::from_utf8_lossy(&second.stderr));
    ok(cairn(&["ring", "down", "--dir", &dir_s]), "ring down");
    let node_tables: Vec<String> =
        (1..=3).map(|i| s(&dir.join(format!("node{i}")).join("data").join("cairn"))).collect();
    let source_keys = keys(&sessions.join("cairn"));
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for t in &node_tables {
        for k in keys(Path::new(t)) {
            *copies.entry(k).or_default() += 1;
        }
    }
    assert_eq!(copies.keys().cloned().collect::<BTreeSet<_>>(), source_keys, "the ring holds the snapshot's keys");
    assert!(copies.values().all(|n| *n == 2), "RF 2: every key on exactly two nodes");
    let merged = |paths: &[String]| -> Value {
        let mut args = vec!["dump", "--merge", "--timestamps", "raw"];
        args.extend(paths.iter().map(String::as_str));
        let mut v: Value = serde_json::from_str(&ok(cairn(&args), "dump --merge")).expect("dump JSON");
        strip_positions(&mut v);
        v
    };
    assert_eq!(merged(&node_tables), merged(&[s(&sessions.join("cairn"))]), "the ring's content is the snapshot's");
    drop(_down);

    // Two data centres.
    let dir = tmp.path().join("dcs");
    let dir_s = dir.display().to_string();
    ring_up(&dir_s, "6", &["--dcs", "dc1:3,dc2:3"]);
    let _down = Down(&dir);
    let result = run_python(&python, TWO_DCS, &[cairn_bin, &dir_s, port, admin]);
    assert_eq!(result["rows"], 100, "LOCAL_QUORUM in dc1 read every row with dc2 down");
    assert_eq!(result["each_quorum"], serde_json::json!([7, 2, 0]), "EACH_QUORUM: dc2 requires 2, 0 alive");
    // dc2 back: hints bring it the rows written while it was down, and with {dc1: 3, dc2: 3}
    // over 3 + 3 nodes every node is a replica of every row.
    for n in ["node4", "node5", "node6"] {
        ok(cairn(&["ring", "start", n, "--dir", &dir_s]), "ring start");
    }
    hints_delivered(3, "dc2");
    ok(cairn(&["ring", "down", "--dir", &dir_s]), "ring down");
    // Row -1 is there too when an EACH_QUORUM write timed out before dc2 was convicted (a write
    // that timed out may have been applied, as in Cassandra).
    let every: BTreeSet<String> = (0..100).map(|k| k.to_string()).collect();
    let node1 = keys(&dir.join("node1").join("data").join("web"));
    assert!(node1.is_superset(&every) && node1.len() <= every.len() + 1, "node1 holds {} rows", node1.len());
    for i in 2..=6 {
        let held = keys(&dir.join(format!("node{i}")).join("data").join("web"));
        assert_eq!(held, node1, "node{i} of a {{dc1: 3, dc2: 3}} keyspace holds what node1 holds");
    }
}
