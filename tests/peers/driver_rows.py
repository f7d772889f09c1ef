"""Read every table of a keyspace through the Python driver (cassandra-driver, protocol v4) and
print each row as one canonical JSON object per line: the partition key and clustering values in
key order, and per other column its value plus, for single-cell columns, `WRITETIME(col)` and
`TTL(col)`. tests/tests/load.rs computes the same encoding from the SSTables that were loaded.

The first line is {"at": SECONDS}: the wall clock just before the first query, so the caller
can turn remaining TTLs back into expiry times.

usage: driver_rows.py PORT KEYSPACE
"""
import ipaddress
import json
import sys
import time

from cassandra.cluster import Cluster
from cassandra.query import SimpleStatement
from cassandra.util import Date, Duration, Time

from canon import canon


def driver_types(v):
    if isinstance(v, Date):
        return v.days_from_epoch
    if isinstance(v, Time):
        return v.nanosecond_time
    if isinstance(v, Duration):
        return [v.months, v.days, v.nanoseconds]
    return NotImplemented


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
            return inet(v) if types[col] == "inet" else canon(v, driver_types)

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
