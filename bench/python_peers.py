"""The measurements of `bench/python`, one interpreter each (the `cairn` package and cqlite-py
live in different virtualenvs). Prints one JSON object.

usage: python_peers.py cairn DATA_DIR NOW
       python_peers.py cqlite DATA_DIR SCHEMA_FILE KEYSPACE.TABLE
       python_peers.py spark DATA_DIR NOW CORES
"""
import json
import os
import sys
import time

out = {}
what = sys.argv[1]
if what == "cairn":
    import cairn

    data, now = sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    table = cairn.scan(data, now=now).read_all()
    out = {"seconds": time.perf_counter() - t0, "rows": table.num_rows}
elif what == "cqlite":
    import cqlite
    import pyarrow as pa

    data, schema, name = sys.argv[2:5]
    db = cqlite.open(data, schema=schema)
    t0 = time.perf_counter()
    result = db.execute(f"SELECT * FROM {name}")
    table = pa.Table.from_pylist(result.to_dict()["rows"])
    out = {"seconds": time.perf_counter() - t0, "rows": table.num_rows}
elif what == "spark":
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from cairn.spark import CairnDataSource
    from pyspark.sql import SparkSession

    data, now, cores = sys.argv[2], sys.argv[3], sys.argv[4]
    spark = SparkSession.builder.master(f"local[{cores}]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.dataSource.register(CairnDataSource)
    df = spark.read.format("cairn").option("now", now).option("splitSizeMB", "4").load(data)
    df.count()  # warm: workers started
    t0 = time.perf_counter()
    n = df.selectExpr("sum(value)").collect()[0][0]
    rows = df.count()
    out = {"seconds": time.perf_counter() - t0, "rows": rows, "partitions": df.rdd.getNumPartitions()}
    spark.stop()
print(json.dumps(out))
