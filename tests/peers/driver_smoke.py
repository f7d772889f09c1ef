"""The Python driver (cassandra-driver 3.30.1) against `cairn node`: connect with schema and
token metadata, DDL, simple and prepared statements, batches, paging, TTL, WRITETIME, deletes
of every kind, collections. Every check asserts; the first failure exits non-zero.

usage: driver_smoke.py PORT
"""
import sys
import time

from cassandra import InvalidRequest
from cassandra.cluster import Cluster
from cassandra.query import BatchStatement, SimpleStatement

port = int(sys.argv[1])
cluster = Cluster(["127.0.0.1"], port=port, protocol_version=4, connect_timeout=10)
s = cluster.connect()
meta = cluster.metadata
assert meta.cluster_name == "Cairn Cluster", meta.cluster_name
assert meta.token_map is not None and len(meta.token_map.ring) == 16, "token map from system.local"
host = list(meta.all_hosts())[0]
assert host.release_version.startswith("4."), host.release_version

s.execute("CREATE KEYSPACE app WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
try:
    s.execute("CREATE KEYSPACE app WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    raise AssertionError("a second CREATE KEYSPACE must fail")
except Exception as e:  # AlreadyExists
    assert "already exists" in str(e), e
s.set_keyspace("app")
s.execute("CREATE TYPE address (street text, zip int)")
s.execute(
    "CREATE TABLE events (sensor text, day int, ts int, v double, tags set<text>, attrs map<text, int>, "
    "log list<text>, home frozen<address>, note text static, PRIMARY KEY ((sensor, day), ts)) "
    "WITH CLUSTERING ORDER BY (ts DESC) AND default_time_to_live = 0"
)
cluster.refresh_schema_metadata()
t = cluster.metadata.keyspaces["app"].tables["events"]
assert [c.name for c in t.partition_key] == ["sensor", "day"], t.partition_key
assert [c.name for c in t.clustering_key] == ["ts"]
assert "address" in cluster.metadata.keyspaces["app"].user_types

ins = s.prepare("INSERT INTO events (sensor, day, ts, v, tags, attrs, log) VALUES (?, ?, ?, ?, ?, ?, ?)")
assert ins.routing_key_indexes == [0, 1], ins.routing_key_indexes
for i in range(10):
    s.execute(ins, ["s1", 1, i, i * 1.5, {"a", "b"}, {"x": i}, ["p", "q"]])
s.execute("UPDATE events SET note = 'static!' WHERE sensor = 's1' AND day = 1")
rows = list(s.execute("SELECT ts, v, note FROM events WHERE sensor = 's1' AND day = 1"))
assert [r.ts for r in rows] == list(range(9, -1, -1)), "DESC clustering order"
assert all(r.note == "static!" for r in rows)
rows = list(s.execute("SELECT ts FROM events WHERE sensor = 's1' AND day = 1 AND ts >= 3 AND ts < 6 ORDER BY ts ASC"))
assert [r.ts for r in rows] == [3, 4, 5], rows

# Collections: add, remove, element update.
s.execute("UPDATE events SET tags = tags + {'c'}, attrs['y'] = 7, log = log + ['r'] WHERE sensor='s1' AND day=1 AND ts=0")
s.execute("UPDATE events SET tags = tags - {'a'} WHERE sensor='s1' AND day=1 AND ts=0")
r = s.execute("SELECT tags, attrs, log FROM events WHERE sensor='s1' AND day=1 AND ts=0").one()
assert r.tags == {"b", "c"} and r.attrs == {"x": 0, "y": 7} and r.log == ["p", "q", "r"], r
s.execute("DELETE attrs['x'] FROM events WHERE sensor='s1' AND day=1 AND ts=0")
assert s.execute("SELECT attrs FROM events WHERE sensor='s1' AND day=1 AND ts=0").one().attrs == {"y": 7}

# Deletes: column, row, partition.
s.execute("DELETE v FROM events WHERE sensor='s1' AND day=1 AND ts=1")
assert s.execute("SELECT v FROM events WHERE sensor='s1' AND day=1 AND ts=1").one().v is None
s.execute("DELETE FROM events WHERE sensor='s1' AND day=1 AND ts=2")
assert s.execute("SELECT * FROM events WHERE sensor='s1' AND day=1 AND ts=2").one() is None
s.execute("DELETE FROM events WHERE sensor='s1' AND day=1")
assert list(s.execute("SELECT * FROM events WHERE sensor='s1' AND day=1")) == []

# TTL and WRITETIME.
s.execute("INSERT INTO events (sensor, day, ts, v) VALUES ('s2', 1, 1, 2.0) USING TTL 2 AND TIMESTAMP 1000")
r = s.execute("SELECT writetime(v) AS w, ttl(v) AS t FROM events WHERE sensor='s2' AND day=1 AND ts=1").one()
assert r.w == 1000 and 0 < r.t <= 2, r
time.sleep(2.5)
assert s.execute("SELECT * FROM events WHERE sensor='s2' AND day=1").one() is None, "expired"

# Batch of prepared statements, then paging through every row.
b = BatchStatement()
for i in range(50):
    b.add(ins, ["s3", 2, i, float(i), None, None, None])
s.execute(b)
s.execute("CREATE TABLE kv (k int PRIMARY KEY, v text)")
put = s.prepare("INSERT INTO kv (k, v) VALUES (?, ?)")
N = 5000
for i in range(N):
    s.execute(put, [i, "v%d" % i])
seen = set()
for row in s.execute(SimpleStatement("SELECT k, v FROM kv", fetch_size=500)):
    seen.add(row.k)
assert len(seen) == N, len(seen)
assert s.execute("SELECT count(*) FROM kv").one()[0] == N
assert s.execute("SELECT count(*) FROM events WHERE sensor='s3' AND day=2").one()[0] == 50

# Errors drivers act on.
for bad, kind in [("SELECT * FROM nope", "does not exist"), ("SELEC 1", "line 1"), ("SELECT * FROM kv WHERE v = 'x'", "ALLOW FILTERING")]:
    try:
        s.execute(bad)
        raise AssertionError("must fail: " + bad)
    except Exception as e:
        assert kind in str(e), (bad, e)
print("ok")
cluster.shutdown()
