"""Spark local[2] reading Cairn through ``cairn.spark.CairnDataSource`` (PySpark's Python Data
Source API): the DataFrame equals ``cairn.scan()`` (itself checked equal to ``cairn export``) —
its count, a groupBy and a self-join — with a split size small enough for many tasks; an IN
filter on the partition key, pushed down, reads one token range per key and finds the same rows; a
corrupt SSTable fails the job with Cairn's located message, never an empty result.

With WRITES (a JSON file), the same session also writes through the data source: each job's
table is read with format("cairn") (several tasks) and written back with format("cairn") into
a fresh directory; the written table's ``cairn.scan()`` must equal the original scan row for row
(values) and reading it back through Spark must equal the DataFrame. The "bad" job writes a
DataFrame with one column cast to a type the table's column does not take: the job must fail
with Cairn's message naming the column, and leave nothing in the directory. Its "reads" are
tables (generated datasets of every type, the corpus cases) read with format("cairn"): the
DataFrame, handed back as Arrow, must hold scan()'s rows.

usage: python_spark.py TABLE_DIR KEY_COLUMN CORRUPT_TABLE_DIR NOW [WRITES]
Prints one JSON line of findings.
"""
import datetime
import decimal
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


def canonical(rows):
    """Rows (dicts) as sorted JSON lines: values compared, order ignored."""
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


def normalized(v):
    """A value as compared between Spark's rows and scan()'s: decimals by value (Spark widens
    their scale), timestamps as UTC instants (Spark's are microseconds), containers inside out."""
    if isinstance(v, decimal.Decimal):
        return "decimal:" + str(v.normalize())
    if isinstance(v, datetime.datetime):
        aware = v if v.tzinfo else v.replace(tzinfo=datetime.timezone.utc)
        return "instant:" + aware.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(v, dict):
        return {k: normalized(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [normalized(x) for x in v]
    return v


def files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


if len(sys.argv) > 5:
    with open(sys.argv[5]) as f:
        writes = json.load(f)
    out["writes"] = {}
    for job in writes["jobs"]:
        src = spark.read.format("cairn").option("now", now).option("splitSizeMB", "0.02").load(job["path"])
        (
            src.write.format("cairn")
            .option("table", job["table"])
            .option("schema", job["schema"])
            .option("timestamp", str(job["timestamp"]))
            .option("rowBudget", str(job.get("row_budget", 1000000)))
            .mode("append")
            .save(job["out"])
        )
        found = {"tasks": src.rdd.getNumPartitions(), "files": files(job["out"])}
        (table,) = cairn.tables(job["out"])
        found["table_dir"] = table["directory"]
        found["sstables"] = table["sstables"]
        original = cairn.scan(job["path"], now=int(now)).read_all()
        written = cairn.scan(job["out"], now=int(now)).read_all()
        found["rows"] = written.num_rows
        found["expected_rows"] = original.num_rows
        found["schema_equal"] = written.schema == original.schema
        found["scan_equal"] = canonical(written.to_pylist()) == canonical(original.to_pylist())
        back = spark.read.format("cairn").option("now", now).load(job["out"])
        found["dataframe_equal"] = canonical(r.asDict(recursive=True) for r in back.collect()) == canonical(
            r.asDict(recursive=True) for r in src.collect()
        )
        out["writes"][job["name"]] = found
    bad = writes["bad"]
    src = spark.read.format("cairn").option("now", now).option("splitSizeMB", "0.02").load(bad["path"])
    wrong = src.withColumn(bad["column"], F.col(bad["column"]).cast(bad["cast"]))
    try:
        wrong.write.format("cairn").option("table", bad["table"]).option("schema", bad["schema"]).mode(
            "append"
        ).save(bad["out"])
        out["bad"] = {"error": "no error"}
    except Exception as e:  # the job failed: its message carries Cairn's
        out["bad"] = {"error": str(e)}
    out["bad"]["files"] = files(bad["out"]) if os.path.exists(bad["out"]) else []
    # Reads of every kind of table (generated datasets of every type, the corpus cases): the
    # DataFrame, as Spark hands it back in Arrow, holds scan()'s rows.
    out["reads"] = {}
    for job in writes.get("reads", []):
        reader = spark.read.format("cairn").option("now", now).option("table", job["table"]).option("splitSizeMB", "0.02")
        if job.get("schema"):
            reader = reader.option("schema", job["schema"])
        got = reader.load(job["path"]).toArrow()
        want = cairn.scan(job["path"], table=job["table"], schema=job.get("schema"), now=int(now)).read_all()
        out["reads"][job["name"]] = {
            "rows": got.num_rows,
            "expected_rows": want.num_rows,
            "equal": canonical(normalized(r) for r in got.to_pylist())
            == canonical(normalized(r) for r in want.to_pylist()),
        }
spark.stop()
print(json.dumps(out))
