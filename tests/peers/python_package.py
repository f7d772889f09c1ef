"""Checks of the `cairn` Python package (python/), run by tests/tests/python.rs with the python
of the virtualenv scripts/python-wheel builds it into (CAIRN_PY_PYTHON).

usage: python_package.py JOBS.json
JOBS.json: a list of jobs, each an object with a "check" and its arguments (see CHECKS). Each
check prints `ok <check> <what>` lines; a failed one raises (exit status 1 with the reason).
Documents that the Rust side compares (dump, tombstones) are printed as `doc <name> <json>`.
"""

import datetime
import decimal
import glob
import json
import math
import os
import re
import struct
import sys

import pyarrow as pa
import pyarrow.parquet as pq

import cairn


def parquet_table(dataset):
    """The rows of a `cairn export` Parquet dataset, files in name order (the export's order)."""
    files = sorted(glob.glob(os.path.join(dataset, "**", "*.parquet"), recursive=True))
    assert files, f"{dataset}: no parquet files"
    return pa.concat_tables([pq.read_table(f) for f in files])


def ndjson_rows(dataset):
    files = sorted(glob.glob(os.path.join(dataset, "**", "*.ndjson"), recursive=True))
    assert files, f"{dataset}: no ndjson files"
    rows = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            rows.extend(json.loads(line, parse_float=decimal.Decimal) for line in fh if line.strip())
    return rows


def comparable(t):
    """Arrow types whose values this script renders as CQL's JSON does (`cairn export --format
    ndjson`): integers, booleans, text, floats, decimals, blobs, dates, and lists of those.
    Timestamps, times, durations, maps and structs are held to the Parquet dataset only."""
    if isinstance(t, pa.BaseExtensionType):
        return False
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t):
        return comparable(t.value_type)
    return (
        pa.types.is_integer(t)
        or pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_binary(t)
        or pa.types.is_date32(t)
    )


EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def same(want, v, t):
    """Whether `want` (a value of the NDJSON row, numbers read as decimals) is what CQL's JSON
    shows for `v`, a value of Arrow type `t` (from `to_pylist`; dates as days since the epoch)."""
    if want is None or v is None:
        return want is None and v is None
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t):
        return len(want) == len(v) and all(same(w, x, t.value_type) for w, x in zip(want, v))
    if pa.types.is_decimal(t):
        return decimal.Decimal(want) == decimal.Decimal(v)
    if pa.types.is_floating(t):
        if math.isnan(v) or math.isinf(v) or isinstance(want, (str, float)):
            return str(want) == str(v) or (math.isnan(v) and str(want).lower() == "nan")
        w = float(want)
        if pa.types.is_float32(t):
            # Printed as the shortest text of the 32-bit value.
            w = struct.unpack("f", struct.pack("f", w))[0]
        return w == v
    if pa.types.is_binary(t):
        return want == "0x" + bytes(v).hex()
    if pa.types.is_date32(t):
        if isinstance(v, datetime.date):
            return want == v.isoformat()
        return want == datetime.date.fromordinal(EPOCH_ORDINAL + v).isoformat()
    return want == v


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a.to_pylist(), b.to_pylist())):
        if x != y:
            return f"row {i}: {x!r} vs {y!r}"
    return f"{a.num_rows} vs {b.num_rows} rows; schemas {a.schema} vs {b.schema}"


def check_equals_export(job):
    """scan() holds exactly the export's rows, in its order, with its Arrow types: equal to the
    Parquet dataset as Arrow tables (schema included), and to the NDJSON dataset row for row
    (same columns in the same order; integer, boolean and text values equal)."""
    kw = dict(mode=job["mode"], now=job["now"], batch_rows=job.get("batch_rows", 65536))
    if job.get("schema"):
        kw["schema"] = job["schema"]
    if job.get("table"):
        kw["table"] = job["table"]
    reader = cairn.scan(job["path"], **kw)
    assert isinstance(reader, pa.RecordBatchReader), type(reader)
    got = reader.read_all()
    want = parquet_table(job["parquet"])
    # Parquet does not keep Arrow's nullability flags or the export's metadata beyond types.
    assert got.schema.remove_metadata().equals(want.schema.remove_metadata()) or [
        (f.name, f.type) for f in got.schema
    ] == [(f.name, f.type) for f in want.schema], f"{job['name']}: schema\n{got.schema}\nvs\n{want.schema}"
    want = want.cast(got.schema)
    assert got.equals(want), f"{job['name']} {job['mode']}: {first_difference(got, want)}"
    rows = ndjson_rows(job["ndjson"])
    assert len(rows) == got.num_rows, f"{job['name']}: {got.num_rows} rows vs {len(rows)} in NDJSON"
    names = got.schema.names
    fields = [f for f in got.schema if comparable(f.type)]
    # Dates as days since the epoch: Python's dates stop at years 1 and 9999, CQL's do not.
    columns = {}
    for f in fields:
        c = got.column(f.name)
        columns[f.name] = (c.cast(pa.int32()) if pa.types.is_date32(f.type) else c).to_pylist()
    for i, r in enumerate(rows):
        assert list(r.keys()) == names, f"{job['name']} row {i}: columns {list(r.keys())} vs {names}"
        for f in fields:
            want, have = r[f.name], columns[f.name][i]
            assert same(want, have, f.type), f"{job['name']} {job['mode']} row {i} column {f.name}: {want!r} (ndjson) vs {have!r}"
    print("ok equals_export", job["name"], job["mode"], got.num_rows, "rows", len(fields), "of", len(names), "columns compared with NDJSON")


def check_splits(job):
    """splits() cover the ring exactly once, and their scans together are the whole scan."""
    path, now = job["path"], job["now"]
    whole = cairn.scan(path, now=now).read_all()
    lo, hi = -(2**63), 2**63 - 1
    for kw in job["splits"]:
        splits = cairn.splits(path, **kw)
        assert splits[0]["start"] == lo and splits[-1]["end"] == hi, (kw, splits[0], splits[-1])
        for a, b in zip(splits, splits[1:]):
            assert a["end"] == b["start"] and a["start"] < a["end"], (kw, a, b)
        if "n" in kw:
            assert 1 < len(splits) <= kw["n"], (kw, len(splits))
        parts = []
        for s in splits:
            t = cairn.scan(path, now=now, token_range=(s["start"], s["end"])).read_all()
            if t.num_rows:
                assert s["sstables"], f"{kw}: a range with rows names no SSTable: {s}"
            # A split measures its own decimals: compare in the whole scan's types.
            parts.append(t.cast(whole.schema))
        union = pa.concat_tables(parts)
        assert union.equals(whole), f"{kw}: {len(splits)} splits: {first_difference(union, whole)}"
        print("ok splits", job["name"], kw, len(splits), "splits", union.num_rows, "rows")


def check_key_ranges(job):
    """key_ranges() narrows to exactly the partitions of the keys asked for: the scans of its
    ranges hold every row of those keys (an absent key costs a range and finds nothing), and
    nothing is narrowed unless every partition-key column is given."""
    path, now, key = job["path"], job["now"], job["key"]
    whole = cairn.scan(path, now=now).read_all()
    chosen = sorted(set(whole.column(key).to_pylist()))[:5] + [job["absent"]]
    ranges = cairn.key_ranges(path, {key: chosen, "not_a_column": [1]})
    assert ranges is not None and len(ranges) == len(chosen), ranges
    assert all(e - s == 1 for s, e in ranges), ranges
    parts = [cairn.scan(path, now=now, token_range=r).read_all().cast(whole.schema) for r in ranges]
    got = sorted(map(json.dumps, pa.concat_tables(parts).to_pylist()), key=str)
    want = sorted(
        (json.dumps(r) for r in whole.to_pylist() if r[key] in chosen), key=str
    )
    assert got == want, (len(got), len(want))
    assert cairn.key_ranges(path, {"not_a_column": [1]}) is None
    assert cairn.key_ranges(path, {key: [object()]}) is None
    print("ok key_ranges", job["name"], len(ranges), "ranges", len(got), "rows")


def check_corrupt(job):
    """A corrupt SSTable raises CairnError naming the file, whether at scan() or while reading."""
    try:
        cairn.scan(job["path"], now=job["now"], mode=job["mode"]).read_all()
    except cairn.CairnError as e:
        assert job["file"] in str(e), f"the error names {job['file']}: {e}"
        print("ok corrupt", job["mode"], str(e).splitlines()[0][:200])
        return
    raise AssertionError(f"{job['path']}: a corrupt SSTable read without an error")


def check_engines(job):
    """DuckDB over a scan() reader, and read_pandas()."""
    import duckdb

    path, now, rows = job["path"], job["now"], job["rows"]
    r = cairn.scan(path, now=now)
    n = duckdb.sql("SELECT count(*) FROM r").fetchall()[0][0]
    assert n == rows, (n, rows)
    key = job["key"]
    r = cairn.scan(path, now=now)
    groups = duckdb.sql(f'SELECT "{key}", count(*) AS n FROM r GROUP BY ALL').fetchall()
    assert sum(g[1] for g in groups) == rows and len(groups) == job["partitions"], (len(groups), job)
    df = cairn.scan(path, now=now).read_pandas()
    assert len(df) == rows, (len(df), rows)
    assert list(df.columns) == cairn.scan(path, now=now).schema.names
    print("ok engines", job["name"], rows, "rows", len(groups), "partitions")


def check_tables(job):
    t = cairn.tables(job["path"])
    assert len(t) == 1, t
    t = t[0]
    assert (t["keyspace"], t["table"], len(t["sstables"])) == (job["keyspace"], job["table"], job["sstables"]), t
    assert t["bytes"] > 0 and t["name"] == f"{job['keyspace']}.{job['table']}", t
    assert all(p.endswith("-Data.db") for p in t["sstables"]), t
    print("ok tables", t["name"], len(t["sstables"]), "sstables", t["bytes"], "bytes")


def check_documents(job):
    """dump() and tombstones() documents (the Rust side compares them with the CLI's)."""
    path, now = job["path"], job["now"]
    print("doc dump", json.dumps(cairn.dump(path, now=now, merge=True)))
    print("doc tombstones", json.dumps(cairn.tombstones(path, now=now)))
    try:
        cairn.scan(path, now=now, table="no_such_table")
    except cairn.CairnError as e:
        assert "no table no_such_table" in str(e), e
    else:
        raise AssertionError("table= naming no table must raise")
    # Options and argument errors.
    key = cairn.scan(path, now=now).schema.names[0]
    t = cairn.scan(path, now=now, columns=[key]).read_all()
    assert t.schema.names == [key] and t.num_rows > 0, t.schema
    for kw, message in [
        (dict(columns=["no_such_column"]), "no column no_such_column"),
        (dict(mode="everything"), 'mode "everything"'),
        (dict(token_range=(2**70, 0)), f'token "{2**70}" is not a Murmur3 token'),
    ]:
        try:
            cairn.scan(path, now=now, **kw)
        except cairn.CairnError as e:
            assert message in str(e), (kw, str(e))
        else:
            raise AssertionError(f"{kw} must raise")
    try:
        cairn.scan(path, now=now, columns=[])
    except cairn.CairnError as e:
        assert "an empty list selects no column" in str(e), str(e)
    else:
        raise AssertionError("columns=[] must raise")
    # A key given alone is one key, not its characters.
    merged = cairn.dump(path, now=now, merge=True)
    first = merged[0]["partition"]["key"] if merged else []
    if len(first) == 1:
        alone = cairn.dump(path, now=now, merge=True, keys=first[0])
        assert alone == cairn.dump(path, now=now, merge=True, keys=[first[0]]) and len(alone) == 1, alone
    print("ok documents")


def check_write(job):
    """cairn.write(): a scan written back scans equal (types and rows, several SSTables by the
    row budget; a Table, and an iterator of batches); a TTL makes every row expire; an empty
    input writes nothing; a column of the wrong type raises CairnError naming it and leaves no
    SSTable."""
    path, schema, now, out = job["path"], job["schema"], job["now"], job["out"]
    original = cairn.scan(path, now=now).read_all()
    stamp = (now - 30) * 1_000_000
    budget = max(1, original.num_rows // 3)
    written = cairn.write(original, f"{out}/table", schema=schema, timestamp=stamp, row_budget=budget)
    assert len(written) >= 3 and sum(w["rows"] for w in written) == original.num_rows, written
    back = cairn.scan(f"{out}/table", schema=schema, now=now).read_all()
    assert back.equals(original), first_difference(back.to_pylist(), original.to_pylist())
    batches = iter(original.to_batches(max_chunksize=37))
    cairn.write(batches, f"{out}/batches", schema=schema, timestamp=stamp)
    assert cairn.scan(f"{out}/batches", schema=schema, now=now).read_all().equals(original)
    cairn.write(original, f"{out}/ttl", schema=schema, timestamp=stamp, ttl=10)
    assert cairn.scan(f"{out}/ttl", schema=schema, now=now - 25).read_all().num_rows == original.num_rows
    assert cairn.scan(f"{out}/ttl", schema=schema, now=now).read_all().num_rows == 0
    assert cairn.write([], f"{out}/empty", schema=schema) == []
    column = job["bad_column"]
    i = original.schema.get_field_index(column)
    bad = original.set_column(i, column, pa.array([True] * original.num_rows))
    try:
        cairn.write(bad, f"{out}/bad", schema=schema)
    except cairn.CairnError as e:
        assert f"column {column}: Arrow type Boolean does not fit CQL type" in str(e), str(e)
    else:
        raise AssertionError("a boolean column must not fit")
    left = [f for _, _, fs in os.walk(f"{out}/bad") for f in fs]
    assert left == [], left
    # Every batch must have the first's columns and types (the stream reads them as the
    # first's); two columns of one name are refused.
    batches = original.to_batches(max_chunksize=max(1, original.num_rows // 2))
    if len(batches) > 1:
        last = batches[-1]
        reordered = pa.RecordBatch.from_arrays(list(reversed(last.columns)), names=list(reversed(last.schema.names)))
        for refused, message in [
            ([batches[0], reordered], "has other columns or types than the first batch"),
            (original.append_column(original.schema.names[-1], original.column(original.num_columns - 1)), "two columns named"),
        ]:
            try:
                cairn.write(refused, f"{out}/mixed", schema=schema, timestamp=stamp)
            except cairn.CairnError as e:
                assert message in str(e), str(e)
            else:
                raise AssertionError(f"{message}: must raise")
            left = [f for _, _, fs in os.walk(f"{out}/mixed") for f in fs]
            assert left == [], left
    # Without ttl=, the table's default_time_to_live applies, as to a CQL INSERT.
    with open(schema, encoding="utf-8") as f:
        text = f.read()
    expiring, n = re.subn(r"default_time_to_live = \d+", "default_time_to_live = 10", text)
    if n:
        with open(f"{out}/expiring.cql", "w", encoding="utf-8") as f:
            f.write(expiring)
        cairn.write(original, f"{out}/default_ttl", schema=f"{out}/expiring.cql", timestamp=stamp)
        kept = cairn.scan(f"{out}/default_ttl", schema=f"{out}/expiring.cql", now=now - 25).read_all()
        assert kept.num_rows == original.num_rows, kept.num_rows
        assert cairn.scan(f"{out}/default_ttl", schema=f"{out}/expiring.cql", now=now).read_all().num_rows == 0
    print(f"ok write {job['name']} {original.num_rows} rows in {len(written)} SSTables")


CHECKS = {
    "write": check_write,
    "equals_export": check_equals_export,
    "splits": check_splits,
    "key_ranges": check_key_ranges,
    "corrupt": check_corrupt,
    "engines": check_engines,
    "tables": check_tables,
    "documents": check_documents,
}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        jobs = json.load(f)
    for job in jobs:
        CHECKS[job["check"]](job)


if __name__ == "__main__":
    main()
