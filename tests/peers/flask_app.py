"""The web-session app of the Cassandra HA talk, shared by the single-node test
(flask_sessions.py) and the ring test (cli/tests/ring.rs): a Flask app that keeps its sessions
in Cassandra through cassandra-flask-sessions 0.6.0, with the one-line shim current Flask needs
(research/ecosystem.md §5.1). `/login` logs "ada" in, `/whoami` names the user, `/logout` clears
the session.
"""
import datetime
import time

from cassandra_flask_sessions import AbstractConnectionProvider, CassandraSessionInterface
from flask import Flask, session


def session_app(conn, lifetime_s):
    """A test client of the app storing its sessions through `conn` (a driver session whose
    keyspace holds `sessions (sid text PRIMARY KEY, data text)`), sessions living
    `lifetime_s` seconds; and the name of the session cookie."""

    class Provider(AbstractConnectionProvider):
        def get_connection(self):
            return conn

    app = Flask(__name__)
    app.secret_key = "not-a-secret"
    app.session_cookie_name = app.config["SESSION_COOKIE_NAME"]  # the shim for Flask >= 2.3
    app.permanent_session_lifetime = datetime.timedelta(seconds=lifetime_s)
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

    return app.test_client(), app.config["SESSION_COOKIE_NAME"]


def settle():
    """The store writes with execute_async: let a write land before the next request."""
    time.sleep(0.3)
