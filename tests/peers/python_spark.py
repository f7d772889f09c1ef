"""Spark local[2] reading Cairn through ``cairn.spark.CairnDataSource`` (PySpark's Python Data
Source API): the DataFrame equals ``cairn.scan()`` (itself checked equal to ``cairn export``) —
its count, a groupBy and a self-join — with a split size small enough for many tasks; an IN
filter on the partition key, pushed down, reads one token range per key and finds the same rows; a
corrupt SSTable fails the job with Cairn's located message, never an empty result.

usage: python_spark.py TABLE_DIR KEY_COLUMN CORRUPT_TABLE_DIR NOW
Prints one JSON line of findings.
"""
import json
import os
import sys

# Spark's Python workers run this interpreter (the one with cairn installed).
os.environ["PYSPARK_PYTHON"] = sys.executable

import cairn
from cairn.spark import CairnDataSource
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

table_dir, key, corrupt_dir, now = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .config("spark.sql.python.filterPushdown.enabled", "true")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
spark.dataSource.register(CairnDataSource)
df = spark.read.format("cairn").option("now", now).option("splitSizeMB", "0.1").load(table_dir)
expected = cairn.scan(table_dir, now=int(now)).read_all().to_pandas()
out = {"partitions": df.rdd.getNumPartitions(), "count": df.count(), "expected_count": len(expected)}
groups = {r[key]: r["n"] for r in df.groupBy(key).agg(F.count("*").alias("n")).collect()}
want = expected.groupby(key).size().to_dict()
out["groupby_equal"] = {str(k): v for k, v in groups.items()} == {str(k): int(v) for k, v in want.items()}
joined = df.alias("a").join(df.select(key).distinct().alias("b"), on=key).count()
out["join_count"] = joined
# Row for row: the same rows, as sorted JSON lines.
rows = sorted(json.dumps(r.asDict(recursive=True), sort_keys=True, default=str) for r in df.collect())
exp = sorted(
    json.dumps({k: v for k, v in r.items()}, sort_keys=True, default=str)
    for r in spark.createDataFrame(expected, schema=df.schema).collect()
    for r in [r.asDict(recursive=True)]
)
out["rows_equal"] = rows == exp
# Filter pushdown: an IN on the partition key reads one token range per key, and finds the
# same rows as without pushdown.
chosen = sorted(expected[key].unique().tolist())[:3]
pushed = (
    spark.read.format("cairn").option("now", now).option("filterPushdown", "true").load(table_dir)
    .where(F.col(key).isin(chosen))
)
out["pushdown_partitions"] = pushed.rdd.getNumPartitions()
out["pushdown_count"] = pushed.count()
out["pushdown_expected"] = int(expected[key].isin(chosen).sum())
try:
    spark.read.format("cairn").option("now", now).load(corrupt_dir).count()
    out["corrupt"] = "no error"
except Exception as e:  # the job failed: its message carries Cairn's
    out["corrupt"] = str(e)
spark.stop()
print(json.dumps(out))
