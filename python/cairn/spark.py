"""Cairn as a Spark data source (PySpark 4's Python Data Source API).

    >>> from cairn.spark import CairnDataSource
    >>> spark.dataSource.register(CairnDataSource)
    >>> df = spark.read.format("cairn").option("table", "ks.t").load("/snapshots/ks")

The path is any directory every executor can read (local, NFS, a mounted object store): SSTable
files, table, snapshot, keyspace or data directories, as ``cairn.scan`` takes them. The schema
is the table's, typed as ``cairn export`` types it. Each Spark partition is one token range of
``cairn.splits`` (sized by ``splitSizeMB``, default 128) and its task hands Spark the rows as
Arrow record batches, read by Cairn's Rust core; no row becomes a Python object.

Options: ``table`` (``keyspace.table`` or ``table``; needed when the path holds several),
``mode`` (``live``, the default, or ``mutations``), ``now`` (seconds since the epoch; default:
when the query is planned, so every task judges TTLs at the same moment), ``columns`` (a
comma-separated list: only these are read), ``splitSizeMB``, ``schema`` (a schema.cql to use
instead of the one beside the files).

A read error fails the task, and with it the job, with Cairn's located message (file,
component, offset); a table that cannot be read never comes back empty.

Filter pushdown: with ``.option("filterPushdown", "true")`` and Spark's
``spark.sql.python.filterPushdown.enabled`` set, equality and ``IN`` filters on every
partition-key column narrow the read to those keys' token ranges (``cairn.key_ranges``), one
Spark partition each, instead of the whole table. Spark still applies every filter to the rows
read. Keys of types that do not convert exactly (timestamps, decimals, ...) are not narrowed.
The option exists because Spark refuses a reader that can push filters down while the
setting is off.

Writing:

    >>> (df.write.format("cairn").option("table", "ks.t").option("schema", "schema.cql")
    ...    .mode("append").save("/data"))

writes the DataFrame's rows as SSTables of the table ``schema`` (a schema.cql) defines into
``DIR/<keyspace>/<table>-<id>/`` (``id``: the schema's ``WITH id = ...``, else one chosen when
the write is planned), a directory Cassandra's ``nodetool import``/``sstableloader`` and every
``cairn`` verb take. Each task writes its rows (sorted in memory, see ``cairn.write``) into a
staging directory of its own under ``DIR/.cairn-staging-<write>/``; only when every task has
succeeded does the driver move their SSTables into the table directory, each under a fresh
generation, and a failed job removes the staging directory, leaving no SSTable behind. The
write timestamp is fixed when the write is planned, so every task's cells share it. Options:
``table``, ``schema`` (required), ``timestamp`` (µs since the epoch; default: when planned),
``ttl`` (seconds), ``version`` (``nb``), ``compression`` (``lz4``), ``rowBudget`` (rows a task
holds in memory before it starts another SSTable). Only ``append`` is supported: ``overwrite``
would have to delete the table's SSTables, which this writer never does.
"""

import os as _os
import shutil as _shutil
import time as _time
import uuid as _uuid

import pyarrow as _pa
from pyspark import TaskContext
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    EqualTo,
    In,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import ArrayType, MapType, StructField, StructType

import cairn as _cairn

__all__ = ["CairnDataSource"]


def _settings(options):
    path = options.get("path")
    if not path:
        raise _cairn.CairnError('spark.read.format("cairn"): load(PATH) names the SSTables to read')
    columns = options.get("columns")
    return {
        "path": path,
        "table": options.get("table"),
        "mode": options.get("mode", "live"),
        "columns": [c.strip() for c in columns.split(",") if c.strip()] if columns else None,
        "schema": options.get("schema"),
    }


def _nullable(t):
    """``t`` with every nested field, element and map value nullable. Cairn's Arrow types mark
    the fields of a duration struct non-null, which holds for Cairn's arrays; Spark, converting
    its rows back to Arrow (``toArrow``, pandas UDFs), puts nulls in the fields of a null struct
    and then refuses its own arrays."""
    if isinstance(t, StructType):
        return StructType([StructField(f.name, _nested_nullable(f.dataType), f.nullable, f.metadata) for f in t.fields])
    return _nested_nullable(t)


def _nested_nullable(t):
    if isinstance(t, StructType):
        return StructType([StructField(f.name, _nested_nullable(f.dataType), True, f.metadata) for f in t.fields])
    if isinstance(t, ArrayType):
        return ArrayType(_nested_nullable(t.elementType), True)
    if isinstance(t, MapType):
        return MapType(t.keyType, _nested_nullable(t.valueType), True)
    return t


class _Range(InputPartition):
    """One token range (start exclusive, end inclusive)."""

    def __init__(self, start, end):
        super().__init__((start, end))
        self.start = start
        self.end = end


class CairnDataSource(DataSource):
    """``spark.read.format("cairn")``."""

    @classmethod
    def name(cls):
        return "cairn"

    def _now(self):
        # Fixed once, when the query is planned: every task sees the same live rows.
        if "now" not in self.options or self.options.get("now") in (None, ""):
            self.options["now"] = str(int(_time.time()))
        return int(self.options["now"])

    def _arrow_schema(self):
        s = _settings(self.options)
        reader = _cairn.scan(
            s["path"], table=s["table"], columns=s["columns"], mode=s["mode"], now=self._now(), schema=s["schema"]
        )
        return reader.schema

    def schema(self):
        return _nullable(from_arrow_schema(self._arrow_schema()))

    def writer(self, schema, overwrite):
        return _CairnWriter(self.options, overwrite)

    def reader(self, schema):
        # The batches Spark takes: its own Arrow form of the schema (timestamps in
        # microseconds, where Cassandra's are milliseconds).
        arrow = to_arrow_schema(schema, timezone="UTC")
        if self.options.get("filterPushdown", "false").lower() == "true":
            return _CairnFilteringReader(self.options, self._now(), arrow)
        return _CairnReader(self.options, self._now(), arrow)


class _CairnReader(DataSourceReader):
    def __init__(self, options, now, arrow_schema):
        self.settings = _settings(options)
        self.now = now
        self.arrow_schema = arrow_schema
        size = float(options.get("splitSizeMB", "128"))
        if not size > 0:
            raise _cairn.CairnError(f"splitSizeMB {size}: expected a positive number")
        self.target_bytes = max(1, int(size * 1024 * 1024))

    def partitions(self):
        s = self.settings
        ranges = _cairn.splits(s["path"], table=s["table"], target_bytes=self.target_bytes, schema=s["schema"])
        return [_Range(r["start"], r["end"]) for r in ranges]

    def read(self, partition):
        s = self.settings
        reader = _cairn.scan(
            s["path"],
            table=s["table"],
            columns=s["columns"],
            token_range=(partition.start, partition.end),
            mode=s["mode"],
            now=self.now,
            schema=s["schema"],
        )
        for batch in reader:
            # Spark's Arrow types (and decimal and varint widths, which are sized per scan):
            # each split's batches take the schema fixed when the query was planned.
            if batch.schema != self.arrow_schema:
                batch = _pa.RecordBatch.from_arrays(
                    [c.cast(f.type) for c, f in zip(batch.columns, self.arrow_schema)], schema=self.arrow_schema
                )
            yield batch


class _CairnFilteringReader(_CairnReader):
    """A reader that narrows the token ranges it reads by the filters on the partition key."""

    def __init__(self, options, now, arrow_schema):
        super().__init__(options, now, arrow_schema)
        self.key_ranges = None

    def pushFilters(self, filters):
        values = {}
        for f in filters:
            if len(f.attribute) != 1 or not isinstance(f, (EqualTo, In)):
                continue
            col = f.attribute[0]
            these = [f.value] if isinstance(f, EqualTo) else list(f.value)
            values[col] = [v for v in values[col] if v in these] if col in values else these
        if values:
            s = self.settings
            self.key_ranges = _cairn.key_ranges(s["path"], values, table=s["table"], schema=s["schema"])
        # Spark applies every filter to what is read: a range may hold other keys too.
        return filters

    def partitions(self):
        if self.key_ranges is None:
            return super().partitions()
        return [_Range(start, end) for start, end in self.key_ranges]


class _Written(WriterCommitMessage):
    """What one task wrote: its staging directory and the Data.db of each SSTable."""

    def __init__(self, staging, sstables, rows):
        self.staging = staging
        self.sstables = sstables
        self.rows = rows


class _CairnWriter(DataSourceArrowWriter):
    """Made on the driver when the write is planned (the timestamp, table id and staging
    directory are fixed here), then shipped to every task."""

    def __init__(self, options, overwrite):
        if overwrite:
            raise _cairn.CairnError(
                'df.write.format("cairn"): mode overwrite is not supported (it would delete the '
                'table\'s SSTables); use mode("append")'
            )
        self.path = options.get("path")
        self.schema = options.get("schema")
        if not self.path or not self.schema:
            raise _cairn.CairnError(
                'df.write.format("cairn"): option("schema", FILE.cql) names the table\'s schema and '
                "save(DIR) the data directory"
            )
        self.table = options.get("table")
        info = _cairn._native.table_schema(self.schema, self.table)
        self.table = f"{info['keyspace']}.{info['table']}" if info["keyspace"] else info["table"]
        stamp = options.get("timestamp")
        self.timestamp = int(stamp) if stamp not in (None, "") else _time.time_ns() // 1000
        ttl = options.get("ttl")
        self.ttl = int(ttl) if ttl not in (None, "") else None
        self.version = options.get("version", "nb")
        self.compression = options.get("compression", "lz4")
        self.row_budget = int(options.get("rowBudget", "1000000"))
        table_id = (info["id"] or str(_uuid.uuid4())).replace("-", "")
        self.target = _os.path.join(self.path, info["keyspace"], f"{info['table']}-{table_id}")
        self.staging = _os.path.join(self.path, f".cairn-staging-{_uuid.uuid4().hex}")

    def write(self, iterator):
        ctx = TaskContext.get()
        task = f"task-{ctx.partitionId()}-{ctx.attemptNumber()}" if ctx else f"task-{_os.getpid()}"
        staging = _os.path.join(self.staging, task)
        written = _cairn.write(
            iterator,
            staging,
            schema=self.schema,
            table=self.table,
            timestamp=self.timestamp,
            ttl=self.ttl,
            version=self.version,
            compression=self.compression,
            row_budget=self.row_budget,
        )
        return _Written(staging, [w["path"] for w in written], sum(w["rows"] for w in written))

    def commit(self, messages):
        sstables = [p for m in messages if m is not None for p in m.sstables]
        _cairn.move_sstables(sstables, self.target)
        schema = _os.path.join(self.target, "schema.cql")
        if sstables and not _os.path.exists(schema):
            _shutil.copyfile(self.schema, schema)
        _shutil.rmtree(self.staging, ignore_errors=True)

    def abort(self, messages):
        _shutil.rmtree(self.staging, ignore_errors=True)
