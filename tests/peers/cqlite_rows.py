"""Read a Cassandra data directory with cqlite-py and print every row of a table as one
canonical JSON object per line (the encoding tests/tests/cqlite.rs produces for Cairn's rows).

usage: cqlite_rows.py DATA_DIR SCHEMA_FILE KEYSPACE.TABLE
"""
import datetime
import decimal
import ipaddress
import json
import sys
import uuid

import cqlite

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def canon(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        # Arbitrary-size integers (varint) are compared as decimal text, like Cairn does.
        return v if -(2**63) <= v < 2**63 else str(v)
    if isinstance(v, float):
        return v
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return "ip:" + v.packed.hex()
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, datetime.date):
        return (v - datetime.date(1970, 1, 1)).days
    if isinstance(v, datetime.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000_000 + v.microsecond * 1000
    if isinstance(v, cqlite.Duration):
        return [v.months, v.days, v.nanos]
    if isinstance(v, cqlite.Udt):
        return {k: canon(x) for k, x in v.items()}
    if isinstance(v, (set, frozenset, dict, list)) and len(v) == 0:
        # An empty multi-cell collection is no collection at all in CQL (cqlsh shows null);
        # cqlite returns an empty container for it.
        return None
    if isinstance(v, (set, frozenset)):
        return sorted((canon(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
    if isinstance(v, dict):
        return sorted(([canon(k), canon(x)] for k, x in v.items()), key=lambda p: json.dumps(p[0], sort_keys=True))
    if isinstance(v, (list, tuple)):
        return [canon(x) for x in v]
    raise TypeError(f"unhandled value {v!r} of {type(v)}")


def main():
    data, schema, table = sys.argv[1:4]
    db = cqlite.open(data, schema=schema)
    rows = db.execute(f"SELECT * FROM {table}")
    stats = db.stats().to_dict()["storage_stats"]
    if stats["sstable_count"] == 0:
        print(f"cqlite found no SSTables under {data}", file=sys.stderr)
        sys.exit(3)
    for row in rows:
        print(json.dumps({k: canon(v) for k, v in row.to_dict().items()}, sort_keys=True))


if __name__ == "__main__":
    main()
