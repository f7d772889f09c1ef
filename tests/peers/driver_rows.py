"""Read every table of a keyspace through the Python driver (cassandra-driver, protocol v4) and
print each row as one canonical JSON object per line: the partition key and clustering values in
key order, and per other column its value plus, for single-cell columns, `WRITETIME(col)` and
`TTL(col)`. tests/tests/load.rs computes the same encoding from the SSTables that were loaded.

The first line is {"at": SECONDS}: the wall clock just before the first query, so the caller
can turn remaining TTLs back into expiry times.

usage: driver_rows.py PORT KEYSPACE
"""
import datetime
import decimal
import ipaddress
import json
import sys
import time
import uuid

from cassandra.cluster import Cluster
from cassandra.query import SimpleStatement
from cassandra.util import Date, Duration, Time

EPOCH = datetime.datetime(1970, 1, 1)


def canon(v):
    """The encoding tests/tests/cqlite.rs `canon` gives Cairn's values."""
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v if -(2**63) <= v < 2**63 else str(v)
    if isinstance(v, (float, str)):
        return v
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, Date):
        return v.days_from_epoch
    if isinstance(v, datetime.date):
        return (v - datetime.date(1970, 1, 1)).days
    if isinstance(v, Time):
        return v.nanosecond_time
    if isinstance(v, datetime.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000_000 + v.microsecond * 1000
    if isinstance(v, Duration):
        return [v.months, v.days, v.nanoseconds]
    if hasattr(v, "_fields"):
        # A UDT (the driver returns a named tuple).
        return {k: canon(getattr(v, k)) for k in v._fields}
    if len(v) == 0:
        # Empty collections are null, as on the Cairn side (and in cqlsh for non-frozen ones).
        return None
    if hasattr(v, "items"):
        return sorted(([canon(k), canon(x)] for k, x in v.items()), key=lambda p: json.dumps(p[0], sort_keys=True))
    if isinstance(v, (list, tuple)):
        return [canon(x) for x in v]
    if hasattr(v, "__iter__"):
        # Sets (the driver's SortedSet).
        return sorted((canon(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
    raise TypeError(f"unhandled value {v!r} of {type(v)}")


def inet(v):
    return None if v is None else "ip:" + ipaddress.ip_address(v).packed.hex()


def main():
    port, keyspace = int(sys.argv[1]), sys.argv[2]
    cluster = Cluster(["127.0.0.1"], port=port, protocol_version=4, connect_timeout=10)
    session = cluster.connect()
    ks = cluster.metadata.keyspaces[keyspace]
    print(json.dumps({"at": int(time.time())}))
    for name, table in sorted(ks.tables.items()):
        pk = [c.name for c in table.partition_key]
        ck = [c.name for c in table.clustering_key]
        others = [c for c in table.columns.values() if c.name not in pk and c.name not in ck]

        def simple(c):
            t = c.cql_type
            multi_cell = t.startswith(("list<", "set<", "map<")) or t in ks.user_types
            return not multi_cell and t != "counter"

        selectors = [f'"{c}"' for c in pk + ck]
        for c in others:
            selectors.append(f'"{c.name}"')
            if simple(c):
                selectors += [f'writetime("{c.name}")', f'ttl("{c.name}")']
        query = SimpleStatement(f'SELECT {", ".join(selectors)} FROM "{keyspace}"."{name}"', fetch_size=500)
        types = {c.name: c.cql_type for c in table.columns.values()}

        def value(col, v):
            return inet(v) if types[col] == "inet" else canon(v)

        for row in session.execute(query):
            values = list(row)
            i = 0
            out = {"table": name, "pk": [], "ck": [], "cols": {}}
            for c in pk:
                out["pk"].append(value(c, values[i]))
                i += 1
            for c in ck:
                out["ck"].append(value(c, values[i]))
                i += 1
            for c in others:
                col = {"v": value(c.name, values[i])}
                i += 1
                if simple(c):
                    col["wt"], col["ttl"] = values[i], values[i + 1]
                    i += 2
                out["cols"][c.name] = col
            print(json.dumps(out, sort_keys=True))
    cluster.shutdown()


if __name__ == "__main__":
    main()
