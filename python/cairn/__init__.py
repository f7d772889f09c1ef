"""Cairn: Apache Cassandra's SSTables (3.0 to 5.0) as Arrow, from Python.

The rows, columns and Arrow types are ``cairn export``'s; tables are grouped and named as
every ``cairn`` verb groups them. Errors are :class:`CairnError`, whose message names the
file, component and byte offset.

    >>> import cairn, duckdb
    >>> r = cairn.scan("data/ks/t-0123...", now=1700000000)
    >>> duckdb.sql("SELECT count(*) FROM r").fetchall()
"""

import datetime as _dt
import json as _json

import pyarrow as _pa

from . import _native
from ._native import CairnError

__all__ = ["CairnError", "tables", "scan", "splits", "key_ranges", "dump", "tombstones", "write", "move_sstables"]


def _seconds(now):
    """``now`` as seconds since the epoch: None (the current time), a number, or a datetime
    (naive ones are UTC)."""
    if now is None:
        return None
    if isinstance(now, _dt.datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=_dt.timezone.utc)
        return int(now.timestamp())
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError(f"now: expected seconds since the epoch or a datetime, not {now!r}")
    return int(now)


def _path(path):
    return str(path)


def tables(path, *, schema=None):
    """The tables under ``path`` (SSTable files, table, snapshot, keyspace or data
    directories), one dict each: ``name`` (``keyspace.table`` as ``scan(table=)`` takes it:
    ``t@tag`` for a snapshot, ``t@backups``, ``t.index`` for a secondary index), ``keyspace``,
    ``table``, ``id``, ``snapshot``, ``backup``, ``index``, ``directory``, ``sstables`` (the
    Data.db paths) and ``bytes`` (uncompressed Data.db bytes)."""
    return _native.tables(_path(path), schema=None if schema is None else _path(schema))


def _translate(reader, native):
    """The batches of ``reader``; a read error that ends it is raised as CairnError."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except _pa.ArrowException as e:
            raise CairnError(native.error() or str(e)) from None
        yield batch


def scan(
    path,
    *,
    table=None,
    columns=None,
    token_range=None,
    mode="live",
    now=None,
    schema=None,
    batch_rows=65536,
    with_writetime=False,
    with_ttl=False,
    uuid_as_binary=False,
):
    """The rows of one table as a ``pyarrow.RecordBatchReader``: what ``cairn export`` writes
    (the same rows, columns and Arrow types) for the same options.

    ``table``: ``keyspace.table`` or ``table`` (needed when ``path`` holds several tables).
    ``columns``: only these (key columns included when named). ``token_range``: ``(start,
    end)``, tokens in ``(start, end]`` (as ``splits()`` returns them). ``mode``: ``"live"``
    (the reconciled rows ``SELECT *`` shows at ``now``) or ``"mutations"`` (every cell, marker
    and tombstone). ``now``: seconds since the epoch or a datetime (default: the current
    time). ``schema``: a schema.cql to use instead of the one beside the files.

    Rows are read by Rust on a thread of its own, ``batch_rows`` at a time, and handed over
    through the Arrow C stream interface. A read error raises CairnError, at ``scan()`` or
    while reading.
    """
    if token_range is not None:
        start, end = token_range
        token_range = (str(int(start)), str(int(end)))
    if columns is not None:
        columns = _names(columns)
        if not columns:
            raise CairnError("columns: an empty list selects no column (None selects them all)")
    native = _native.scan(
        _path(path),
        table=table,
        columns=columns,
        token_range=token_range,
        mode=mode,
        now=_seconds(now),
        schema=None if schema is None else _path(schema),
        batch_rows=int(batch_rows),
        with_writetime=bool(with_writetime),
        with_ttl=bool(with_ttl),
        uuid_as_binary=bool(uuid_as_binary),
    )
    reader = _pa.RecordBatchReader.from_stream(native)
    return _pa.RecordBatchReader.from_batches(reader.schema, _translate(reader, native))


def splits(path, *, table=None, target_bytes=None, n=None, schema=None):
    """Token ranges covering the whole ring of one table exactly once, each a dict: ``start``
    (exclusive) and ``end`` (inclusive) as ints, ``sstables`` (the Data.db files whose token
    span meets the range) and ``bytes`` (estimated uncompressed Data.db bytes, from
    Summary.db and Index.db). About ``target_bytes`` each (default 128 MiB), or at most ``n``
    of about equal size. ``scan(path, token_range=(s["start"], s["end"]))`` reads one."""
    out = _native.splits(
        _path(path),
        table=table,
        target_bytes=None if target_bytes is None else int(target_bytes),
        n=None if n is None else int(n),
        schema=None if schema is None else _path(schema),
    )
    for s in out:
        s["start"] = int(s["start"])
        s["end"] = int(s["end"])
    return out


def key_ranges(path, values, *, table=None, schema=None):
    """The token ranges holding exactly the partitions whose key columns take the given
    values, as ``(start, end)`` ints (``scan(token_range=...)`` reads one), or None when they
    cannot be narrowed exactly. ``values`` maps each partition-key column to the values it may
    take (other columns are ignored); text, ascii, the integer types, boolean, blob, uuid and
    timeuuid keys narrow, others give None, as do more than 1024 keys. A range may also hold
    other keys that share a token: filter the rows too."""
    ranges = _native.key_ranges(
        _path(path),
        {str(k): list(v) for k, v in values.items()},
        table=table,
        schema=None if schema is None else _path(schema),
    )
    return None if ranges is None else [(int(s), int(e)) for s, e in ranges]


def dump(
    path,
    *,
    schema=None,
    keys=(),
    exclude=(),
    keys_only=False,
    tombstones_only=False,
    timestamps="iso",
    counter_shards=False,
    merge=False,
    now=None,
    explicit=False,
):
    """``cairn dump``'s JSON document (sstabledump's), as Python objects. The options are the
    command's: ``keys``/``exclude`` (CQL literals), ``keys_only``, ``tombstones_only``,
    ``timestamps`` (``"iso"`` or ``"raw"``), ``counter_shards``, ``merge``, ``now``,
    ``explicit``."""
    if timestamps not in ("iso", "raw"):
        raise CairnError(f'timestamps {timestamps!r}: expected "iso" or "raw"')
    text = _native.dump(
        _path(path),
        schema=None if schema is None else _path(schema),
        keys=_names(keys),
        exclude=_names(exclude),
        keys_only=bool(keys_only),
        tombstones_only=bool(tombstones_only),
        raw_timestamps=timestamps == "raw",
        counter_shards=bool(counter_shards),
        merge=bool(merge),
        now=_seconds(now),
        explicit=bool(explicit),
    )
    return _json.loads(text)


def tombstones(path, *, schema=None, now=None, gc_grace_seconds=None, only_purge_repaired=False, top=10):
    """``cairn tombstones --json``'s document, as Python objects: per SSTable, tombstones by
    kind and age, which are droppable at ``now`` and what blocks the rest."""
    text = _native.tombstones(
        _path(path),
        schema=None if schema is None else _path(schema),
        now=_seconds(now),
        gc_grace_seconds=gc_grace_seconds,
        only_purge_repaired=bool(only_purge_repaired),
        top=int(top),
    )
    return _json.loads(text)


def _micros(timestamp):
    """A write timestamp as microseconds since the epoch: None (the current time), an int, or
    a datetime (naive ones are UTC)."""
    if timestamp is None:
        return None
    if isinstance(timestamp, _dt.datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=_dt.timezone.utc)
        delta = timestamp - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError(f"timestamp: expected microseconds since the epoch or a datetime, not {timestamp!r}")
    return timestamp


def _names(values):
    """A name or key given alone (a string) or several (an iterable), as a list of strings: a
    string is one value, never its characters."""
    if isinstance(values, (str, bytes)):
        return [values.decode() if isinstance(values, bytes) else values]
    return [str(v) for v in values]


def _stream(batches):
    """``batches`` as an object with ``__arrow_c_stream__``: a RecordBatchReader, a Table, a
    RecordBatch, anything else exporting an Arrow C stream, or an iterable of RecordBatches
    (read lazily, one batch at a time); None for an empty iterable."""
    if hasattr(batches, "__arrow_c_stream__"):
        return batches
    if isinstance(batches, _pa.RecordBatch):
        return _pa.RecordBatchReader.from_batches(batches.schema, [batches])
    it = iter(batches)
    try:
        first = next(it)
    except StopIteration:
        return None
    if not isinstance(first, _pa.RecordBatch):
        raise TypeError(f"write: expected pyarrow RecordBatches, not {type(first).__name__}")

    columns = [(f.name, f.type) for f in first.schema]

    def chain():
        # The stream declares the first batch's schema, and its reader takes every batch's
        # buffers as that schema's: a batch with other columns or types would be misread.
        yield first
        for i, batch in enumerate(it, start=1):
            if not isinstance(batch, _pa.RecordBatch):
                raise TypeError(f"write: batch {i}: expected a pyarrow RecordBatch, not {type(batch).__name__}")
            got = [(f.name, f.type) for f in batch.schema]
            if got != columns:
                j = next(j for j in range(max(len(got), len(columns))) if got[j : j + 1] != columns[j : j + 1])
                said = lambda c: f"{c[0][0]} {c[0][1]}" if c else "nothing"  # noqa: E731
                raise CairnError(
                    f"write: batch {i} has other columns or types than the first batch: column {j} is "
                    f"{said(got[j : j + 1])} where the first batch has {said(columns[j : j + 1])} (cast it)"
                )
            yield batch

    return _pa.RecordBatchReader.from_batches(first.schema, chain())


def write(
    batches,
    directory,
    *,
    schema,
    table=None,
    timestamp=None,
    ttl=None,
    version="nb",
    compression="lz4",
    row_budget=1_000_000,
):
    """Write ``batches`` (a ``pyarrow.RecordBatchReader``, Table, RecordBatch or an iterable
    of RecordBatches) as SSTables of the table ``schema`` (a schema.cql file) defines, into
    ``directory``; the SSTables written, one dict each: ``path`` (its Data.db),
    ``partitions``, ``rows``.

    Each column is a column of the table, typed as ``scan()`` returns it or as Spark hands it
    over (see the README's type table); every primary-key column must be present and
    non-null. Rows are written as a CQL ``INSERT`` of their non-null columns would write them,
    all at ``timestamp`` (microseconds since the epoch or a datetime; default: now) with
    ``ttl`` seconds to live if given (else the table's ``default_time_to_live``, as a CQL
    INSERT without ``USING TTL``). ``table``: ``keyspace.table`` or ``table`` (needed when
    the file defines several). ``version``: the SSTable format (``"nb"``); ``compression``:
    ``"lz4"`` (Cassandra's default), ``"snappy"``, ``"deflate"``, ``"zstd"`` or ``"none"``.
    At most ``row_budget`` rows are held in memory: past it, another SSTable is started.

    The batches reach Rust through the Arrow C stream interface (no row becomes a Python
    object) and are written with the GIL released. The SSTables appear in ``directory`` only
    once all are complete; on an error (CairnError, naming the column, batch and row) none
    does. An empty iterable writes nothing.
    """
    stream = _stream(batches)
    if stream is None:
        return []
    return _native.write(
        stream.__arrow_c_stream__(),
        _path(directory),
        schema=_path(schema),
        table=table,
        timestamp=_micros(timestamp),
        ttl=None if ttl is None else int(ttl),
        version=str(version),
        compression=str(compression),
        row_budget=int(row_budget),
    )


def move_sstables(paths, directory):
    """Move SSTables (their Data.db paths) into ``directory``, each under the next free
    generation there (every component renamed, Data.db last, so a reader never sees a partial
    SSTable); the moved SSTables, one dict each: ``path``."""
    return _native.move_sstables([_path(p) for p in paths], _path(directory))
