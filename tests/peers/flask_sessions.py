"""The web-session story of the Cassandra HA talk: a Flask app keeps its sessions in
`cairn node` through cassandra-flask-sessions 0.6.0 (with the one-line shim current Flask needs,
research/ecosystem.md §5.1). Phase `login`: log in, print the session id. Phase `restarted SID`:
after the node restarted, the session is still there; after its TTL it is gone; logout deletes.

usage: flask_sessions.py PORT login | PORT restarted SID
"""
import datetime
import sys
import time

from cassandra.cluster import Cluster
from cassandra_flask_sessions import AbstractConnectionProvider, CassandraSessionInterface
from flask import Flask, session

port = int(sys.argv[1])
cluster = Cluster(["127.0.0.1"], port=port, protocol_version=4, connect_timeout=10)
conn = cluster.connect()
if sys.argv[2] == "login":
    conn.execute("CREATE KEYSPACE web WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    conn.execute("CREATE TABLE web.sessions (sid text PRIMARY KEY, data text)")
conn.set_keyspace("web")


class Provider(AbstractConnectionProvider):
    def get_connection(self):
        return conn


app = Flask(__name__)
app.secret_key = "not-a-secret"
app.session_cookie_name = app.config["SESSION_COOKIE_NAME"]  # the shim for Flask >= 2.3
app.permanent_session_lifetime = datetime.timedelta(seconds=4)
app.session_interface = CassandraSessionInterface(Provider())


@app.route("/login")
def login():
    session["user"] = "ada"
    return "ok"


@app.route("/whoami")
def whoami():
    return session.get("user", "anonymous")


@app.route("/logout")
def logout():
    session.clear()
    return "bye"


def settle():
    # The store writes with execute_async: let the write land before the next request.
    time.sleep(0.3)


client = app.test_client()
name = app.config["SESSION_COOKIE_NAME"]
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
