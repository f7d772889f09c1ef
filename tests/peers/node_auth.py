"""PasswordAuthenticator: no credentials and wrong credentials are refused with the auth error,
the right ones get in.

usage: node_auth.py PORT
"""
import sys

from cassandra import AuthenticationFailed
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable

port = int(sys.argv[1])


def connect(provider):
    c = Cluster(["127.0.0.1"], port=port, protocol_version=4, connect_timeout=10, auth_provider=provider)
    return c, c.connect()


for provider, label in [(None, "no credentials"), (PlainTextAuthProvider("cassandra", "wrong"), "a wrong password")]:
    try:
        connect(provider)
        raise AssertionError("connected with " + label)
    except NoHostAvailable as e:
        errors = list(e.errors.values())
        assert errors and all(isinstance(x, AuthenticationFailed) for x in errors), (label, errors)
        if provider is not None:
            assert "incorrect" in str(errors[0]), errors
c, s = connect(PlainTextAuthProvider("cassandra", "cassandra"))
assert s.execute("SELECT release_version FROM system.local").one()[0].startswith("4.")
c.shutdown()
print("ok")
