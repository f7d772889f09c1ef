"""Read a dataset `cairn export` wrote, with one of pyarrow, DuckDB or PySpark, and print every
row as one line of canonical JSON (keys sorted), so the Rust test can compare it with what Cairn
reads from the SSTables.

usage: read_export.py ENGINE DATASET_DIR [ENGINE DATASET_DIR ...]
ENGINE: pyarrow | duckdb | spark. Several datasets share one engine start (Spark's JVM is slow).
Output: for each dataset a line `== DATASET_DIR`, one line with the engine's column types,
then one JSON line per row.

Canonical values (the Arrow schema of the files decides how a value is read):
  integers, booleans, strings as JSON; floats as JSON numbers ("NaN", "Infinity", "-Infinity"
  as strings); decimals as plain text without trailing zeros; binary as "0x" + hex; UUIDs as
  their text; timestamps as epoch milliseconds; dates as days since the epoch; times as
  nanoseconds since midnight; lists as arrays; maps as arrays of [key, value]; structs as
  objects.
"""

import datetime
import decimal
import glob
import json
import math
import os
import sys
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

# Spark's maps are unordered (a Python dict built from a Java hash map): their entries are
# compared sorted by key.
SORT_MAPS = False


def files_of(path):
    return sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))


def schema_of(path):
    return pq.read_schema(files_of(path)[0])


def dec(d):
    if not d.is_finite():
        return str(d)
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def canon(v, t):
    if v is None:
        return None
    if isinstance(t, pa.BaseExtensionType):
        if isinstance(v, uuid.UUID):
            return str(v)
        if isinstance(v, (bytes, bytearray)):
            return str(uuid.UUID(bytes=bytes(v)))
        return str(v)
    if pa.types.is_map(t):
        items = v.items() if isinstance(v, dict) else v
        pairs = [[canon(k, t.key_type), canon(x, t.item_type)] for k, x in items]
        if SORT_MAPS:
            pairs.sort(key=lambda p: json.dumps(p[0], ensure_ascii=False, sort_keys=True, separators=(",", ":")))
        return pairs
    if pa.types.is_struct(t):
        if hasattr(v, "asDict"):
            v = v.asDict(recursive=False)
        return {f.name: canon(v.get(f.name), f.type) for f in t}
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
        return [canon(x, t.value_type) for x in v]
    if pa.types.is_decimal(t):
        return dec(decimal.Decimal(v))
    if pa.types.is_fixed_size_binary(t) and t.byte_width == 16 and isinstance(v, uuid.UUID):
        return str(v)
    if pa.types.is_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_large_binary(t):
        if isinstance(v, uuid.UUID):
            v = v.bytes
        return "0x" + bytes(v).hex()
    if pa.types.is_timestamp(t):
        if isinstance(v, int):
            return v
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        delta = v - EPOCH
        return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if pa.types.is_date(t):
        if isinstance(v, int):
            return v
        return (v - datetime.date(1970, 1, 1)).days
    if pa.types.is_time(t):
        if isinstance(v, int):
            return v
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000_000 + v.microsecond * 1000
    if pa.types.is_floating(t):
        f = float(v)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    if pa.types.is_boolean(t):
        return bool(v)
    if pa.types.is_integer(t):
        return int(v)
    return v


def no_time(t):
    """The type with time64 replaced by int64 (pyarrow cannot make Python times of nanoseconds)."""
    if isinstance(t, pa.BaseExtensionType):
        return t
    if pa.types.is_time64(t):
        return pa.int64()
    if pa.types.is_map(t):
        return pa.map_(no_time(t.key_type), no_time(t.item_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, no_time(f.type), f.nullable) for f in t])
    if pa.types.is_fixed_size_list(t):
        return pa.list_(no_time(t.value_type), t.list_size)
    if pa.types.is_list(t):
        return pa.list_(no_time(t.value_type))
    return t


def emit(names, types, rows):
    for r in rows:
        print(json.dumps({n: canon(v, t) for n, v, t in zip(names, r, types)}, sort_keys=True))


def read_pyarrow(path, schema):
    tables = [pq.read_table(f) for f in files_of(path)]
    names = schema.names
    types = [f.type for f in schema]
    for t in tables:
        target = pa.schema([pa.field(f.name, no_time(f.type), f.nullable, f.metadata) for f in t.schema])
        cols = []
        for i, f in enumerate(t.schema):
            c = t.column(i)
            cols.append(c.cast(target.field(i).type) if target.field(i).type != f.type else c)
        cast = pa.table(cols, names=t.schema.names)
        print("types", json.dumps([str(f.type) for f in t.schema]))
        emit(names, types, zip(*[cast.column(n).to_pylist() for n in names]) if t.num_rows else [])


def read_duckdb(path, schema):
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    pattern = os.path.join(path, "**", "*.parquet")
    rel = con.sql(f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = false)")
    print("types", json.dumps([str(t) for t in rel.types]))
    names = rel.columns
    fields = {f.name: f.type for f in schema}
    emit(names, [fields[n] for n in names], rel.fetchall())


def spark_session():
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .appName("cairn-export-peer")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.timeType.enabled", "true")
        .getOrCreate()
    )


def read_spark(spark, path, schema):
    df = spark.read.option("recursiveFileLookup", "true").parquet(path)
    print("types", json.dumps([f.dataType.simpleString() for f in df.schema.fields]))
    names = df.columns
    fields = {f.name: f.type for f in schema}
    rows = [tuple(r) for r in df.collect()]
    emit(names, [fields[n] for n in names], rows)


def main():
    args = sys.argv[1:]
    spark = None
    for engine, path in zip(args[0::2], args[1::2]):
        print("==", path)
        schema = schema_of(path)
        if engine == "pyarrow":
            read_pyarrow(path, schema)
        elif engine == "duckdb":
            read_duckdb(path, schema)
        elif engine == "spark":
            global SORT_MAPS
            SORT_MAPS = True
            if spark is None:
                os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
                spark = spark_session()
                spark.sparkContext.setLogLevel("ERROR")
            read_spark(spark, path, schema)
        else:
            sys.exit(f"unknown engine {engine}")
        sys.stdout.flush()
    if spark is not None:
        spark.stop()


if __name__ == "__main__":
    main()
