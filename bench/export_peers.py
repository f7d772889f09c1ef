"""The peers of `bench/export`: cqlite-py's export_parquet on the same nb files, and a pyarrow
write of the same rows (the Parquet-encode reference). Prints one JSON object. Times are the
process's CPU time (`time.process_time`), as `bench/export` times Cairn; pyarrow's is the best of
three writes.

usage: export_peers.py DATA_DIR SCHEMA_FILE KEYSPACE.TABLE CAIRN_DATASET_DIR WORK_DIR
"""
import glob
import json
import os
import sys
import time

import pyarrow.parquet as pq

data, schema, table, cairn_dataset, work = sys.argv[1:6]
out = {}

import cqlite  # noqa: E402

db = cqlite.open(data, schema=schema)
t0 = time.process_time()
n = db.export_parquet(f"SELECT * FROM {table}", os.path.join(work, "cqlite.parquet"), row_group_size=131072, compression="zstd")
out["cqlite_s"] = time.process_time() - t0
out["cqlite_rows"] = n

# The same rows as Cairn wrote them, in memory, then written by pyarrow alone.
t = pq.read_table(sorted(glob.glob(os.path.join(cairn_dataset, "**", "*.parquet"), recursive=True)))
best = None
for _ in range(3):
    t0 = time.process_time()
    pq.write_table(t, os.path.join(work, "pyarrow.parquet"), compression="zstd", row_group_size=131072)
    s = time.process_time() - t0
    best = s if best is None else min(best, s)
out["pyarrow_write_s"] = best
out["pyarrow_rows"] = t.num_rows
print(json.dumps(out))
