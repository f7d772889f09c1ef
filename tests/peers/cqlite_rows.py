"""Read a Cassandra data directory with cqlite-py and print every row of a table as one
canonical JSON object per line (the encoding tests/tests/cqlite.rs produces for Cairn's rows).

usage: cqlite_rows.py DATA_DIR SCHEMA_FILE KEYSPACE.TABLE
"""
import json
import sys

import cqlite

from canon import canon


def cqlite_types(v):
    if isinstance(v, cqlite.Duration):
        return [v.months, v.days, v.nanos]
    if isinstance(v, cqlite.Udt):
        return {k: canon(x, cqlite_types) for k, x in v.items()}
    return NotImplemented


def main():
    data, schema, table = sys.argv[1:4]
    db = cqlite.open(data, schema=schema)
    rows = db.execute(f"SELECT * FROM {table}")
    stats = db.stats().to_dict()["storage_stats"]
    if stats["sstable_count"] == 0:
        print(f"cqlite found no SSTables under {data}", file=sys.stderr)
        sys.exit(3)
    for row in rows:
        print(json.dumps({k: canon(v, cqlite_types) for k, v in row.to_dict().items()}, sort_keys=True))


if __name__ == "__main__":
    main()
