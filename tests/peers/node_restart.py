"""Phase `write`: create a keyspace and table through the Python driver and write rows (some
with a TTL, one deleted). Phase `read`: after the node restarted, the same rows come back.

usage: node_restart.py PORT write|read
"""
import sys

from cassandra.cluster import Cluster

port, phase = int(sys.argv[1]), sys.argv[2]
cluster = Cluster(["127.0.0.1"], port=port, protocol_version=4, connect_timeout=10)
s = cluster.connect()
if phase == "write":
    s.execute("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.execute("CREATE TABLE shop.orders (customer text, id int, total decimal, items list<text>, PRIMARY KEY (customer, id))")
    put = s.prepare("INSERT INTO shop.orders (customer, id, total, items) VALUES (?, ?, ?, ?)")
    for c in range(20):
        for i in range(5):
            s.execute(put, ["c%d" % c, i, "%d.%02d" % (c, i), ["x", "y%d" % i]])
    s.execute("INSERT INTO shop.orders (customer, id, total) VALUES ('gone', 1, 1.5) USING TTL 1")
    s.execute("DELETE FROM shop.orders WHERE customer = 'c3' AND id = 4")
else:
    import time
    rows = list(s.execute("SELECT customer, id, total, items FROM shop.orders"))
    assert len(rows) == 99, len(rows)
    r = s.execute("SELECT total, items FROM shop.orders WHERE customer = 'c7' AND id = 2").one()
    assert str(r.total) == "7.02" and r.items == ["x", "y2"], r
    assert s.execute("SELECT * FROM shop.orders WHERE customer = 'c3' AND id = 4").one() is None
    assert s.execute("SELECT * FROM shop.orders WHERE customer = 'gone'").one() is None
    # New writes after the restart merge with the flushed data.
    s.execute("UPDATE shop.orders SET total = 0 WHERE customer = 'c7' AND id = 2")
    assert str(s.execute("SELECT total FROM shop.orders WHERE customer = 'c7' AND id = 2").one().total) == "0"
    assert len(cluster.metadata.keyspaces["shop"].tables["orders"].columns) == 4
print("ok")
cluster.shutdown()
