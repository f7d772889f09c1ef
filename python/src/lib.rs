//! `cairn._native`: the Rust half of the `cairn` Python package (its Python half, `cairn/`,
//! turns what this returns into pyarrow readers and Python objects).
//!
//! Nothing here decides a rule of its own: tables are grouped by
//! [`cairn_format::location::group_by_table`] (as every `cairn` verb groups them) and named as
//! `cairn export` names its datasets ([`cairn_export::dataset_name`]); scans are
//! [`cairn_export::scan()`] (export's rows, columns and Arrow types); splits are
//! [`cairn_export::splits()`]; `dump` and `tombstones` are the inspect crate's verbs writing the
//! CLI's JSON; writes are [`cairn_export::ingest::write_table`]. The GIL is released while
//! Rust reads or writes; a scan's rows are read on a thread of its own and reach Python through
//! the Arrow C stream interface (`__arrow_c_stream__`), batch by batch, never as per-row Python
//! objects, and a write's batches come the other way through the same interface (the one
//! `unsafe` block of the package imports that stream).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList};

use cairn_format::location::{TableLocation, group_by_table};
use cairn_format::sstable::{OpenOptions, SsTable};

create_exception!(
    _native,
    CairnError,
    PyException,
    "An SSTable could not be read (the message names the file, component and byte offset), or \
     the arguments do not fit the files."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    CairnError::new_err(e.to_string())
}

/// Open every SSTable under `path` (`schema`: a schema.cql to use instead of the one beside
/// the files).
fn open(path: &str, schema: Option<&str>) -> Result<Vec<SsTable>, String> {
    let options = OpenOptions { schema_file: schema.map(PathBuf::from), ..Default::default() };
    cairn_inspect::open_inputs(&[PathBuf::from(path)], &options).map_err(|e| e.to_string())
}

/// A table as `tables()` lists it and `table=` names it: `keyspace.name`, with export's
/// dataset name (`t`, `t@snapshot`, `t@backups`, `t.index`).
fn qualified(group: &[SsTable]) -> String {
    let (ks, name) = cairn_export::dataset_name(group);
    format!("{ks}.{name}")
}

/// The SSTables of one table under `path`: the one named `table` (`keyspace.name`, or `name`
/// when no other keyspace has it), or the only one.
fn one_table(path: &str, schema: Option<&str>, table: Option<&str>) -> Result<Vec<SsTable>, String> {
    let tables = open(path, schema)?;
    let groups: Vec<Vec<SsTable>> =
        group_by_table(&tables).into_iter().map(|(_, g)| g.into_iter().cloned().collect()).collect();
    let names: Vec<String> = groups.iter().map(|g| qualified(g)).collect();
    let picked: Vec<usize> = match table {
        None => (0..groups.len()).collect(),
        Some(want) => (0..groups.len())
            .filter(|&i| {
                let q = &names[i];
                q == want || q.split_once('.').is_some_and(|(_, n)| n == want)
            })
            .collect(),
    };
    match picked.as_slice() {
        [i] => Ok(groups.into_iter().nth(*i).unwrap_or_default()),
        [] => Err(match table {
            Some(want) => format!("{path}: no table {want} (tables: {})", names.join(", ")),
            None => format!("{path}: no SSTables found"),
        }),
        several => Err(format!(
            "{path}: {} tables ({}); name one with table=",
            several.len(),
            several.iter().map(|&i| names[i].clone()).collect::<Vec<_>>().join(", ")
        )),
    }
}

fn now_or_current(now: Option<i64>) -> i64 {
    now.unwrap_or_else(cairn_inspect::now_seconds)
}

/// tables(path, schema=None) -> list of dicts, one per table (and point in time) under `path`.
#[pyfunction]
#[pyo3(signature = (path, *, schema=None))]
fn tables<'py>(py: Python<'py>, path: &str, schema: Option<&str>) -> PyResult<Bound<'py, PyList>> {
    struct Row {
        name: String,
        location: TableLocation,
        directory: String,
        sstables: Vec<String>,
        bytes: u64,
    }
    let rows = py
        .detach(|| -> Result<Vec<Row>, String> {
            let tables = open(path, schema)?;
            let mut rows = Vec::new();
            for (location, group) in group_by_table(&tables) {
                let group: Vec<SsTable> = group.into_iter().cloned().collect();
                let mut bytes = 0u64;
                for t in &group {
                    bytes += t.data_length().map_err(|e| e.to_string())?;
                }
                rows.push(Row {
                    name: qualified(&group),
                    directory: group.first().map(|t| t.descriptor.directory.display().to_string()).unwrap_or_default(),
                    sstables: group
                        .iter()
                        .map(|t| t.path(cairn_format::Component::Data).display().to_string())
                        .collect(),
                    location,
                    bytes,
                });
            }
            Ok(rows)
        })
        .map_err(err)?;
    let out = PyList::empty(py);
    for r in rows {
        let d = PyDict::new(py);
        d.set_item("name", r.name)?;
        d.set_item("keyspace", r.location.keyspace)?;
        d.set_item("table", r.location.table)?;
        d.set_item("id", r.location.id)?;
        d.set_item("snapshot", r.location.snapshot)?;
        d.set_item("backup", r.location.backup)?;
        d.set_item("index", r.location.index)?;
        d.set_item("directory", r.directory)?;
        d.set_item("sstables", r.sstables)?;
        d.set_item("bytes", r.bytes)?;
        out.append(d)?;
    }
    Ok(out)
}

/// The batches of a scan as an Arrow `RecordBatchReader`; the first read error is kept for
/// `Scan.error()` (pyarrow raises its own exception type with the message).
struct Reader {
    batches: cairn_export::Batches,
    schema: SchemaRef,
    error: Arc<Mutex<Option<String>>>,
}

impl Iterator for Reader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.batches.next()? {
            Ok(b) => Some(Ok(b)),
            Err(e) => {
                let message = e.to_string();
                if let Ok(mut slot) = self.error.lock() {
                    *slot = Some(message.clone());
                }
                Some(Err(ArrowError::ExternalError(message.into())))
            }
        }
    }
}

impl arrow_array::RecordBatchReader for Reader {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

/// A started scan: its rows through `__arrow_c_stream__` (once), and the error that ended it.
#[pyclass(module = "cairn._native")]
struct Scan {
    reader: Mutex<Option<Reader>>,
    error: Arc<Mutex<Option<String>>>,
}

#[pymethods]
impl Scan {
    /// The Arrow C stream of the batches (a PyCapsule named `arrow_array_stream`); the stream
    /// can be taken once.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // The schema is the export's; a requested one is not negotiated.
        let _ = requested_schema;
        let reader =
            self.reader.lock().ok().and_then(|mut r| r.take()).ok_or_else(|| err("the scan was already read"))?;
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// The located message of the read error that ended the stream, if one did.
    fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

/// scan(path, *, table=None, columns=None, token_range=None, mode="live", now=None,
/// schema=None, batch_rows=65536, with_writetime=False, with_ttl=False, uuid_as_binary=False)
#[pyfunction]
#[pyo3(signature = (path, *, table=None, columns=None, token_range=None, mode="live", now=None, schema=None,
    batch_rows=65536, with_writetime=false, with_ttl=false, uuid_as_binary=false))]
#[allow(clippy::too_many_arguments)]
fn scan(
    py: Python<'_>,
    path: &str,
    table: Option<&str>,
    columns: Option<Vec<String>>,
    token_range: Option<(String, String)>,
    mode: &str,
    now: Option<i64>,
    schema: Option<&str>,
    batch_rows: usize,
    with_writetime: bool,
    with_ttl: bool,
    uuid_as_binary: bool,
) -> PyResult<Scan> {
    let mode = match mode {
        "live" => cairn_export::Mode::Live,
        "mutations" => cairn_export::Mode::Mutations,
        other => return Err(err(format!("mode {other:?}: expected \"live\" or \"mutations\""))),
    };
    if batch_rows == 0 {
        return Err(err("batch_rows must be at least 1"));
    }
    let opts = cairn_export::ExportOptions {
        mode,
        now_s: now_or_current(now),
        rows_per_group: batch_rows,
        columns,
        with_writetime,
        with_ttl,
        where_token: token_range,
        types: cairn_export::arrow::TypeOptions { uuid_as_binary },
        ..Default::default()
    };
    let batches = py
        .detach(|| -> Result<cairn_export::Batches, String> {
            let tables = one_table(path, schema, table)?;
            cairn_export::scan(&tables, &opts).map_err(|e| e.to_string())
        })
        .map_err(err)?;
    let error = Arc::new(Mutex::new(None));
    let schema = batches.schema();
    Ok(Scan { reader: Mutex::new(Some(Reader { batches, schema, error: Arc::clone(&error) })), error })
}

/// splits(path, *, table=None, target_bytes=None, n=None, schema=None) -> list of dicts
/// {"start", "end", "sstables", "bytes"}: token ranges (start exclusive, end inclusive, as
/// decimal text) covering the ring once.
#[pyfunction]
#[pyo3(signature = (path, *, table=None, target_bytes=None, n=None, schema=None))]
fn splits<'py>(
    py: Python<'py>,
    path: &str,
    table: Option<&str>,
    target_bytes: Option<u64>,
    n: Option<u32>,
    schema: Option<&str>,
) -> PyResult<Bound<'py, PyList>> {
    if target_bytes == Some(0) || n == Some(0) {
        return Err(err("target_bytes and n must be at least 1"));
    }
    let splits = py
        .detach(|| -> Result<Vec<cairn_export::Split>, String> {
            let tables = one_table(path, schema, table)?;
            cairn_export::splits(&tables, target_bytes, n).map_err(|e| e.to_string())
        })
        .map_err(err)?;
    let out = PyList::empty(py);
    for s in splits {
        let d = PyDict::new(py);
        d.set_item("start", s.start.to_string())?;
        d.set_item("end", s.end.to_string())?;
        d.set_item("sstables", s.sstables.iter().map(|p| p.display().to_string()).collect::<Vec<_>>())?;
        d.set_item("bytes", s.bytes)?;
        out.append(d)?;
    }
    Ok(out)
}

/// dump(path, ...) -> the JSON text of `cairn dump` (one document).
#[pyfunction]
#[pyo3(signature = (path, *, schema=None, keys=Vec::new(), exclude=Vec::new(), keys_only=false,
    tombstones_only=false, raw_timestamps=false, counter_shards=false, merge=false, now=None, explicit=false))]
#[allow(clippy::too_many_arguments)]
fn dump(
    py: Python<'_>,
    path: &str,
    schema: Option<&str>,
    keys: Vec<String>,
    exclude: Vec<String>,
    keys_only: bool,
    tombstones_only: bool,
    raw_timestamps: bool,
    counter_shards: bool,
    merge: bool,
    now: Option<i64>,
    explicit: bool,
) -> PyResult<String> {
    let opts = cairn_inspect::dump::DumpOptions {
        keys,
        exclude,
        keys_only,
        tombstones_only,
        raw_timestamps,
        ndjson: false,
        counter_shards,
        now_s: now_or_current(now),
        explicit,
    };
    py.detach(|| -> Result<String, String> {
        let tables = open(path, schema)?;
        let mut out = Vec::new();
        cairn_inspect::dump::dump(&tables, &opts, merge, &mut out).map_err(|e| e.to_string())?;
        String::from_utf8(out).map_err(|e| e.to_string())
    })
    .map_err(err)
}

/// tombstones(path, ...) -> the JSON text of `cairn tombstones --json`.
#[pyfunction]
#[pyo3(signature = (path, *, schema=None, now=None, gc_grace_seconds=None, only_purge_repaired=false, top=10))]
fn tombstones(
    py: Python<'_>,
    path: &str,
    schema: Option<&str>,
    now: Option<i64>,
    gc_grace_seconds: Option<i64>,
    only_purge_repaired: bool,
    top: usize,
) -> PyResult<String> {
    let opts = cairn_inspect::tombstones::TombstoneOptions {
        now_s: now_or_current(now),
        gc_grace_seconds,
        only_purge_repaired,
        top,
        ndjson: false,
        json: true,
    };
    py.detach(|| -> Result<String, String> {
        let tables = open(path, schema)?;
        let mut out = Vec::new();
        cairn_inspect::tombstones::tombstones(&tables, &opts, &mut out).map_err(|e| e.to_string())?;
        String::from_utf8(out).map_err(|e| e.to_string())
    })
    .map_err(err)
}

/// The most partition keys `key_ranges` turns into ranges (the product of the values given).
const MAX_KEY_RANGES: usize = 1024;

/// A Python value as the serialized bytes of a partition-key component of CQL type `ty`, when
/// the conversion is exact (`None`: a type or value this cannot serialize exactly, such as a
/// timestamp whose time zone Spark chose).
fn key_component(ty: &cairn_format::types::CqlType, v: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    use cairn_format::types::CqlType as T;
    use pyo3::types::{PyBool, PyBytes, PyString};
    let int = |lo: i64, hi: i64| -> Option<i64> {
        if v.is_instance_of::<PyBool>() {
            return None;
        }
        v.extract::<i64>().ok().filter(|n| (lo..=hi).contains(n))
    };
    match ty.unreversed() {
        T::Text | T::Ascii => {
            let s: String = v.cast::<PyString>().ok()?.extract().ok()?;
            (!matches!(ty.unreversed(), T::Ascii) || s.is_ascii()).then(|| s.into_bytes())
        }
        T::Int => int(i32::MIN.into(), i32::MAX.into()).map(|n| (n as i32).to_be_bytes().to_vec()),
        T::BigInt => int(i64::MIN, i64::MAX).map(|n| n.to_be_bytes().to_vec()),
        T::SmallInt => int(i16::MIN.into(), i16::MAX.into()).map(|n| (n as i16).to_be_bytes().to_vec()),
        T::TinyInt => int(i8::MIN.into(), i8::MAX.into()).map(|n| (n as i8).to_be_bytes().to_vec()),
        T::Boolean => v.cast::<PyBool>().ok().map(|b| vec![u8::from(b.is_true())]),
        T::Blob => v.cast::<PyBytes>().ok().map(|b| b.as_bytes().to_vec()),
        // Canonical text (a str, or uuid.UUID's str()).
        T::Uuid | T::TimeUuid => {
            let text: String = v.str().ok()?.extract().ok()?;
            cairn_format::types::parse::parse_uuid(&text).map(|b| b.to_vec())
        }
        _ => None,
    }
}

/// key_ranges(path, values, *, table=None, schema=None) -> list of (start, end) or None: the
/// token ranges (start exclusive, end inclusive, decimal text, as `splits` gives them) that hold
/// exactly the partitions whose key columns take the given values — `values` maps every
/// partition-key column to the values it may take (Spark's `k = v` and `k IN (...)` filters;
/// other columns in it are ignored).
/// `None` when they cannot be narrowed exactly: a key column without values, a type or value
/// that does not serialize exactly, or more than 1024 keys. A range can also hold other keys
/// with the same token: the caller still filters the rows.
#[pyfunction]
#[pyo3(signature = (path, values, *, table=None, schema=None))]
fn key_ranges(
    py: Python<'_>,
    path: &str,
    values: &Bound<'_, PyDict>,
    table: Option<&str>,
    schema: Option<&str>,
) -> PyResult<Option<Vec<(String, String)>>> {
    let tables = py.detach(|| one_table(path, schema, table)).map_err(err)?;
    let Some(first) = tables.first() else { return Ok(None) };
    // Each key column's serialized candidates, in key order.
    let mut columns: Vec<Vec<Vec<u8>>> = Vec::new();
    for c in &first.schema.partition_key {
        let Some(given) = values.get_item(&c.name)? else { return Ok(None) };
        let mut serialized = Vec::new();
        for v in given.try_iter()? {
            let Some(b) = key_component(&c.ty, &v?) else { return Ok(None) };
            serialized.push(b);
        }
        columns.push(serialized);
    }
    if columns.is_empty() {
        return Ok(None);
    }
    let count = columns.iter().try_fold(1usize, |n, c| n.checked_mul(c.len()));
    if count.is_none_or(|n| n > MAX_KEY_RANGES) {
        return Ok(None);
    }
    let mut keys: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    for candidates in &columns {
        keys = keys
            .iter()
            .flat_map(|prefix| {
                candidates.iter().map(move |v| {
                    let mut k = prefix.clone();
                    k.push(v.clone());
                    k
                })
            })
            .collect();
    }
    let mut ranges = Vec::new();
    for parts in keys {
        let key = match parts.as_slice() {
            [one] => one.clone(),
            several => cairn_format::types::value::compose(&several.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        };
        let Some(range) = cairn_export::token_range_of(&first.token(&key)) else { return Ok(None) };
        ranges.push(range);
    }
    ranges.sort();
    ranges.dedup();
    Ok(Some(ranges.into_iter().map(|(s, e)| (s.to_string(), e.to_string())).collect()))
}

/// Import an Arrow C stream (a PyCapsule named `arrow_array_stream`, as
/// `__arrow_c_stream__()` returns) as a Rust batch reader; the capsule is left holding a
/// released stream.
#[allow(unsafe_code)]
fn import_stream(capsule: &Bound<'_, PyCapsule>) -> PyResult<arrow_array::ffi_stream::RecordBatchStreamReader> {
    use pyo3::types::PyCapsuleMethods;
    let ptr = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: the capsule's name promises an `ArrowArrayStream` struct (the Arrow PyCapsule
    // interface); `from_raw` moves it out, leaving a released stream that the capsule's
    // destructor releases as a no-op, so the stream is released exactly once, by the reader.
    unsafe { arrow_array::ffi_stream::RecordBatchStreamReader::from_raw(ptr.as_ptr().cast()) }
        .map_err(|e| err(format!("reading the Arrow stream: {e}")))
}

fn written_list<'py>(
    py: Python<'py>,
    written: &[cairn_export::ingest::WrittenSsTable],
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for w in written {
        let d = PyDict::new(py);
        d.set_item("path", w.data.display().to_string())?;
        d.set_item("partitions", w.partitions)?;
        d.set_item("rows", w.rows)?;
        out.append(d)?;
    }
    Ok(out)
}

/// write(stream, directory, *, schema, table=None, timestamp=None, ttl=None, version="nb",
/// compression="lz4", row_budget=1000000) -> list of dicts {"path", "partitions", "rows"}:
/// the batches of `stream` (an Arrow C stream capsule) as SSTables of the table `schema` (a
/// schema.cql) defines, written into `directory` ([`cairn_export::ingest::write_table`]).
#[pyfunction]
#[pyo3(signature = (stream, directory, *, schema, table=None, timestamp=None, ttl=None, version="nb",
    compression="lz4", row_budget=cairn_export::ingest::DEFAULT_ROW_BUDGET))]
#[allow(clippy::too_many_arguments)]
fn write<'py>(
    py: Python<'py>,
    stream: Bound<'py, PyCapsule>,
    directory: &str,
    schema: &str,
    table: Option<&str>,
    timestamp: Option<i64>,
    ttl: Option<i32>,
    version: &str,
    compression: &str,
    row_budget: usize,
) -> PyResult<Bound<'py, PyList>> {
    use cairn_export::ingest::{IngestOptions, parse_compression, write_table};
    let reader = import_stream(&stream)?;
    let version = cairn_format::Version::parse(version)
        .ok_or_else(|| err(format!("version {version:?}: expected a format version such as \"nb\"")))?;
    let compression = parse_compression(compression).map_err(err)?;
    let timestamp_us = match timestamp {
        Some(t) => t,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| err(format!("the clock is before 1970: {e}")))?
            .as_micros() as i64,
    };
    let options = IngestOptions { ttl, version, compression, row_budget, ..IngestOptions::new(timestamp_us) };
    let written = py
        .detach(|| -> Result<Vec<cairn_export::ingest::WrittenSsTable>, String> {
            let s = schema_of(schema, table)?;
            write_table(reader, &s, std::path::Path::new(directory), &options).map_err(|e| e.to_string())
        })
        .map_err(err)?;
    written_list(py, &written)
}

/// move_sstables(paths, directory) -> list of dicts {"path"}: each SSTable (its Data.db path)
/// moved into `directory` under the next free generation there, Data.db last
/// ([`cairn_export::ingest::move_sstable`]).
#[pyfunction]
fn move_sstables<'py>(py: Python<'py>, paths: Vec<String>, directory: &str) -> PyResult<Bound<'py, PyList>> {
    let moved = py
        .detach(|| -> Result<Vec<String>, String> {
            paths
                .iter()
                .map(|p| {
                    cairn_export::ingest::move_sstable(std::path::Path::new(p), std::path::Path::new(directory))
                        .map(|d| d.path(cairn_format::Component::Data).display().to_string())
                        .map_err(|e| e.to_string())
                })
                .collect()
        })
        .map_err(err)?;
    let out = PyList::empty(py);
    for p in moved {
        let d = PyDict::new(py);
        d.set_item("path", p)?;
        out.append(d)?;
    }
    Ok(out)
}

/// table_schema(schema, table=None) -> dict {"keyspace", "table", "id"}: the table a
/// schema.cql defines (`table`: `keyspace.table` or `table`; the only one when not given) and
/// its `WITH id = ...` (`None` when the file does not say).
#[pyfunction]
#[pyo3(signature = (schema, table=None))]
fn table_schema<'py>(py: Python<'py>, schema: &str, table: Option<&str>) -> PyResult<Bound<'py, PyDict>> {
    let s = schema_of(schema, table).map_err(err)?;
    let d = PyDict::new(py);
    d.set_item("keyspace", &s.keyspace)?;
    d.set_item("table", &s.table)?;
    d.set_item("id", s.option("id").map(|v| v.trim_matches('\'').to_string()))?;
    Ok(d)
}

/// The table `table` (`keyspace.table` or `table`) of the schema.cql `schema`, or its only one.
fn schema_of(schema: &str, table: Option<&str>) -> Result<cairn_format::schema::TableSchema, String> {
    let (keyspace, name) = match table.map(|t| t.split_once('.').map_or((None, t), |(k, n)| (Some(k), n))) {
        Some((k, n)) => (k, Some(n)),
        None => (None, None),
    };
    let s = cairn_format::schema::TableSchema::from_cql_file_alone(std::path::Path::new(schema), keyspace, name)
        .map_err(|e| e.to_string())?;
    match name {
        Some(n) if s.table != n || keyspace.is_some_and(|k| s.keyspace != k) => {
            Err(format!("{schema}: no table {} (it defines {}.{})", table.unwrap_or(n), s.keyspace, s.table))
        }
        _ => Ok(s),
    }
}

/// The module `cairn._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CairnError", m.py().get_type::<CairnError>())?;
    m.add_class::<Scan>()?;
    m.add_function(wrap_pyfunction!(tables, m)?)?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(splits, m)?)?;
    m.add_function(wrap_pyfunction!(dump, m)?)?;
    m.add_function(wrap_pyfunction!(tombstones, m)?)?;
    m.add_function(wrap_pyfunction!(key_ranges, m)?)?;
    m.add_function(wrap_pyfunction!(write, m)?)?;
    m.add_function(wrap_pyfunction!(move_sstables, m)?)?;
    m.add_function(wrap_pyfunction!(table_schema, m)?)?;
    Ok(())
}
