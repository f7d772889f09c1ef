"""The web-session story of the Cassandra HA talk on one `cairn node` (the app:
flask_app.py). Phase `login`: log in, print the session id. Phase `restarted SID`:
after the node restarted, the session is still there; after its TTL it is gone; logout deletes.

usage: flask_sessions.py PORT login | PORT restarted SID
"""
import sys
import time

from cassandra.cluster import Cluster

from flask_app import session_app, settle

port = int(sys.argv[1])
cluster = Cluster(["127.0.0.1"], port=port, protocol_version=4, connect_timeout=10)
conn = cluster.connect()
if sys.argv[2] == "login":
    conn.execute("CREATE KEYSPACE web WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    conn.execute("CREATE TABLE web.sessions (sid text PRIMARY KEY, data text)")
conn.set_keyspace("web")
client, name = session_app(conn, 4)
if sys.argv[2] == "login":
    assert client.get("/login").data == b"ok"
    settle()
    assert client.get("/whoami").data == b"ada"
    settle()
    print("sid", client.get_cookie(name).value)
else:
    sid = sys.argv[3]
    client.set_cookie(name, sid)
    assert client.get("/whoami").data == b"ada", "the session survived the node restart"
    time.sleep(4.5)
    assert client.get("/whoami").data == b"anonymous", "the session expired with its TTL"
    settle()
    assert client.get("/login").data == b"ok"
    settle()
    assert client.get("/whoami").data == b"ada"
    settle()
    client.get("/logout")
    settle()
    assert client.get("/whoami").data == b"anonymous", "logout deleted the session"
    print("ok")
cluster.shutdown()
