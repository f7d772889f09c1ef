//! # cairn-export
//!
//! `cairn export`: the live CQL rows of Cassandra SSTables — reconciled across every SSTable of
//! a table, tombstones applied, expired cells gone, as `SELECT *` would show them at `--now` —
//! written as Parquet (or CSV, or NDJSON) for Spark-style analysis. One dataset per table, at
//! `OUT/<keyspace>/<table>/`:
//!
//! - `part-NNNNN.parquet` files (with `--token-splits N`, under Hive-style `token_range=K/`
//!   folders, K = 0..N-1 over equal slices of the token space), one row group per
//!   `--rows-per-group` rows (default 131 072), a new file past `--max-file-size`;
//! - `_cairn_export.json`: rows, partitions, files, the Arrow schema with each column's CQL type,
//!   the token ranges, seconds taken;
//! - `_SUCCESS`, written last.
//!
//! The dataset is written under a hidden `.<table>.cairn-tmp-<pid>` directory and renamed into
//! place only when complete, so a crashed or failed export leaves nothing a reader would take
//! for a dataset (Spark and pyarrow skip names starting with `.` or `_`). An existing dataset is
//! never overwritten. A failed export also removes the directories it created for the table
//! (`OUT` and `OUT/<keyspace>` when they did not exist), never one that was there before;
//! datasets of other tables already completed in the same call stay.
//!
//! Columns: partition key, clustering, then static and regular columns by name (the order of
//! `SELECT *`); `--columns` keeps only those named (key columns may be named too);
//! `--with-writetime` / `--with-ttl` add `writetime(c)` (µs) and `ttl(c)` (seconds left) for
//! each simple non-key column. Type mapping: see [`arrow`].

pub mod arrow;
mod mutations;
pub mod rows;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use cairn_format::data::PartitionStream;
use cairn_format::data::source::DigestCoverage;
use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::reconcile::Merger;
use cairn_format::sstable::{DataPlaces, SsTable, partition_places};
use cairn_format::types::CqlType;
use cairn_format::types::value::{Value, decode, from_cells, key_components};

use crate::arrow::{NumericShape, NumericSpan, TypeOptions};
use crate::rows::{Cell, Cells, Row, TokenFilter, for_each_row};

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Apache Parquet.
    #[default]
    Parquet,
    /// CSV with a header line, values as cqlsh prints them.
    Csv,
    /// One JSON object per row, values as CQL JSON.
    Ndjson,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

/// What rows a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The reconciled live rows, as `SELECT *` shows them.
    #[default]
    Live,
    /// Every cell, marker and tombstone of every SSTable, unreconciled.
    Mutations,
}

/// Parquet compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// Zstandard (default level).
    #[default]
    Zstd,
    /// Snappy.
    Snappy,
    /// LZ4 (raw, Parquet's LZ4_RAW).
    Lz4,
    /// Uncompressed.
    None,
}

/// What to export and how.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Output directory (datasets at `<out>/<keyspace>/<table>/`).
    pub out: PathBuf,
    /// Live rows or the raw mutations.
    pub mode: Mode,
    /// The time rows are read at (s): TTLs expire against it.
    pub now_s: i64,
    /// File format.
    pub format: Format,
    /// Parquet compression.
    pub codec: Codec,
    /// Rows per Parquet row group (and per CSV/NDJSON write batch).
    pub rows_per_group: usize,
    /// Start a new file once one reaches this many bytes.
    pub max_file_bytes: Option<u64>,
    /// Only these columns (key columns included when named).
    pub columns: Option<Vec<String>>,
    /// Add `writetime(c)` columns.
    pub with_writetime: bool,
    /// Add `ttl(c)` columns.
    pub with_ttl: bool,
    /// Only tokens in `(start, end]`.
    pub where_token: Option<(String, String)>,
    /// Split the output into this many token ranges.
    pub token_splits: Option<u32>,
    /// Live-mode exports of a whole table scan this many token ranges at once, each into its
    /// own files (`part-<range>-<n>`); 1 scans in one pass (`part-<n>`).
    pub threads: usize,
    /// Type-mapping choices.
    pub types: TypeOptions,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            out: PathBuf::new(),
            mode: Mode::Live,
            now_s: 0,
            format: Format::Parquet,
            codec: Codec::Zstd,
            rows_per_group: 128 * 1024,
            max_file_bytes: None,
            columns: None,
            with_writetime: false,
            with_ttl: false,
            where_token: None,
            token_splits: None,
            threads: 1,
            types: TypeOptions::default(),
        }
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading an SSTable failed.
    #[error(transparent)]
    Read(#[from] cairn_format::Error),
    /// A value does not decode.
    #[error(
        "{places}: {table} partition {key}, column {column}: {} (at byte {} of the value)",
        error.kind,
        error.offset
    )]
    Value {
        /// The Data.db file(s) holding the partition (found after reconciliation, which does
        /// not keep where each value came from).
        places: DataPlaces,
        /// keyspace.table.
        table: String,
        /// The partition key (hex).
        key: String,
        /// The serialized partition key.
        raw_key: Arc<[u8]>,
        /// The column.
        column: String,
        /// The decode error, at an offset within the value.
        error: Box<cairn_format::DecodeError>,
    },
    /// Writing failed. (The I/O error is part of the message, not a `source()`.)
    #[error("{}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// Parquet encoding failed.
    #[error("{}: {message}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        message: String,
    },
    /// The dataset already exists.
    #[error("{}: already exists; export into an empty place (nothing was overwritten)", path.display())]
    Exists {
        /// The dataset directory.
        path: PathBuf,
    },
    /// A `--columns` name is not a column of the table.
    #[error("{table}: no column {column} (columns: {known})")]
    NoColumn {
        /// keyspace.table.
        table: String,
        /// The name given.
        column: String,
        /// The table's columns.
        known: String,
    },
    /// A bad `--where-token` or `--token-splits`.
    #[error("{0}")]
    Tokens(String),
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |error| ExportError::Write { path: path.to_path_buf(), error }
}

impl ExportError {
    /// Name the Data.db file(s) of `tables` that hold the partition of a
    /// [`ExportError::Value`] (values are decoded after reconciliation, which does not keep
    /// where each came from).
    fn locate(self, tables: &[SsTable]) -> ExportError {
        match self {
            ExportError::Value { places, table, key, raw_key, column, error } if places.0.is_empty() => {
                let places = partition_places(tables, &raw_key);
                ExportError::Value { places, table, key, raw_key, column, error }
            }
            other => other,
        }
    }
}

/// One output column.
#[derive(Debug, Clone)]
enum Source {
    /// Partition key component `i` (of a composite key, else the whole key).
    Key(usize),
    /// Clustering column `i`.
    Clustering(usize),
    /// Static column (header index).
    Static(u16),
    /// Regular column (header index).
    Regular(u16),
    /// `writetime()` of a static (true) or regular column.
    WriteTime(bool, u16),
    /// `ttl()` of a static (true) or regular column.
    Ttl(bool, u16),
    /// A fixed column of mutations mode.
    Fixed(usize),
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    ty: CqlType,
    source: Source,
    field: Field,
}

/// What was exported, per table (also written as `_cairn_export.json`).
#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    /// Keyspace.
    pub keyspace: String,
    /// Table.
    pub table: String,
    /// The dataset directory.
    pub path: String,
    /// Input SSTables.
    pub sstables: Vec<String>,
    /// Uncompressed input bytes (Data.db).
    pub input_bytes: u64,
    /// Rows written.
    pub rows: u64,
    /// Partitions with at least one row written.
    pub partitions: u64,
    /// Files written (relative to the dataset), with their rows and bytes.
    pub files: Vec<FileSummary>,
    /// Columns: name, CQL type, Arrow type.
    pub schema: Vec<ColumnSummary>,
    /// Token ranges of `token_range=K` folders: (exclusive start, inclusive end) as text.
    pub token_ranges: Vec<(String, String)>,
    /// The clock rows were read at.
    pub now: i64,
    /// Wall-clock seconds taken.
    pub seconds: f64,
}

/// One file of a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    /// Path relative to the dataset.
    pub path: String,
    /// Rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
}

/// One column of a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnSummary {
    /// Name.
    pub name: String,
    /// CQL type.
    pub cql_type: String,
    /// Arrow type.
    pub arrow_type: String,
}

/// Export `tables` (any number of tables, grouped by [`cairn_format::location`]: keyspace, table,
/// id and point in time; one dataset each).
pub fn export(tables: &[SsTable], opts: &ExportOptions) -> Result<Vec<TableSummary>, ExportError> {
    let mut out = Vec::new();
    for (_, group) in cairn_format::location::group_by_table(tables) {
        let group: Vec<SsTable> = group.into_iter().cloned().collect();
        out.push(export_table(&group, opts)?);
    }
    Ok(out)
}

/// The keyspace and dataset name of one table's export: `<table>` for live data,
/// `<table>@<tag>` for a snapshot, `<table>@backups`, `<table>.<index>` for a secondary index;
/// `keyspace`/`table` where the layout and schema say nothing.
fn names_of(tables: &[SsTable]) -> (String, String) {
    let Some(first) = tables.first() else { return (String::new(), String::new()) };
    let l = cairn_format::location::TableLocation::of(first);
    let mut table = l.table.unwrap_or_else(|| "table".into());
    if let Some(i) = &l.index {
        table = format!("{table}.{i}");
    }
    if let Some(tag) = &l.snapshot {
        table = format!("{table}@{tag}");
    }
    if l.backup {
        table.push_str("@backups");
    }
    (l.keyspace.unwrap_or_else(|| "keyspace".into()), table)
}

fn parse_token(p: Partitioner, s: &str) -> Result<Token, ExportError> {
    let bad = || ExportError::Tokens(format!("token {s:?} is not a {p:?} token"));
    match p {
        Partitioner::Murmur3 => s.trim().parse().map(Token::Murmur3).map_err(|_| bad()),
        Partitioner::Random => s.trim().parse().map(Token::Random).map_err(|_| bad()),
        _ => Err(ExportError::Tokens(format!("token ranges need a hashing partitioner, not {p:?}"))),
    }
}

fn columns_of(
    tables: &[SsTable],
    header: &cairn_format::statistics::SerializationHeader,
    opts: &ExportOptions,
    table_name: &str,
    numeric: &BTreeMap<String, NumericShape>,
) -> Result<Vec<Column>, ExportError> {
    let Some(first) = tables.first() else { return Ok(vec![]) };
    let schema = &first.schema;
    let key_types = header.key_components();
    let mut cols = Vec::new();
    for (i, ty) in key_types.iter().enumerate() {
        let name = schema.partition_key.get(i).map_or_else(|| format!("partition_key_{i}"), |c| c.name.clone());
        cols.push((name, ty.clone(), Source::Key(i)));
    }
    for (i, ty) in header.clustering_types.iter().enumerate() {
        let name = schema.clustering.get(i).map_or_else(|| format!("clustering_{i}"), |(c, _)| c.name.clone());
        cols.push((name, ty.unreversed().clone(), Source::Clustering(i)));
    }
    let mut others: Vec<(String, CqlType, Source)> = Vec::new();
    for (i, c) in header.static_columns.iter().enumerate() {
        others.push((c.name.clone(), c.ty.clone(), Source::Static(i as u16)));
    }
    for (i, c) in header.regular_columns.iter().enumerate() {
        others.push((c.name.clone(), c.ty.clone(), Source::Regular(i as u16)));
    }
    others.sort_by(|a, b| a.0.cmp(&b.0));
    cols.extend(others);
    if let Some(keep) = &opts.columns {
        let known: Vec<String> = cols.iter().map(|c| c.0.clone()).collect();
        for k in keep {
            if !known.contains(k) {
                return Err(ExportError::NoColumn {
                    table: table_name.into(),
                    column: k.clone(),
                    known: known.join(", "),
                });
            }
        }
        cols.retain(|c| keep.contains(&c.0));
    }
    let mut extra = Vec::new();
    for (name, ty, source) in &cols {
        let (is_static, idx) = match source {
            Source::Static(i) => (true, *i),
            Source::Regular(i) => (false, *i),
            _ => continue,
        };
        if ty.is_multi_cell() {
            continue;
        }
        if opts.with_writetime {
            extra.push((format!("writetime({name})"), CqlType::BigInt, Source::WriteTime(is_static, idx)));
        }
        if opts.with_ttl {
            extra.push((format!("ttl({name})"), CqlType::Int, Source::Ttl(is_static, idx)));
        }
    }
    cols.extend(extra);
    Ok(cols
        .into_iter()
        .map(|(name, ty, source)| {
            let shape = numeric.get(&name).copied();
            let field = arrow::field_with(&name, &ty, opts.types, shape);
            Column { name, ty, source, field }
        })
        .collect())
}

fn merger(tables: &[SsTable]) -> Result<Merger, ExportError> {
    let scanners = tables.iter().map(SsTable::scanner).collect::<Result<Vec<_>, _>>()?;
    let p = tables.first().map_or(Partitioner::Murmur3, |t| t.partitioner);
    Ok(Merger::new(scanners, p)?)
}

/// A first pass over top-level decimal and varint columns: the layout every value fits.
fn measure_numerics(
    tables: &[SsTable],
    now: i64,
    filter: &TokenFilter,
    table_name: &str,
) -> Result<BTreeMap<String, NumericShape>, ExportError> {
    let mut m = merger(tables)?;
    let header = PartitionStream::header(&m).clone();
    let is_num = |t: &CqlType| matches!(t.unreversed(), CqlType::Decimal | CqlType::Varint);
    let statics: Vec<usize> = (0..header.static_columns.len())
        .filter(|&i| header.static_columns.get(i).is_some_and(|c| is_num(&c.ty)))
        .collect();
    let regulars: Vec<usize> = (0..header.regular_columns.len())
        .filter(|&i| header.regular_columns.get(i).is_some_and(|c| is_num(&c.ty)))
        .collect();
    let key_types = header.key_components();
    let keys: Vec<usize> = (0..key_types.len()).filter(|&i| key_types.get(i).is_some_and(is_num)).collect();
    let cks: Vec<usize> =
        (0..header.clustering_types.len()).filter(|&i| header.clustering_types.get(i).is_some_and(is_num)).collect();
    let mut spans: BTreeMap<String, NumericSpan> = BTreeMap::new();
    if statics.is_empty() && regulars.is_empty() && keys.is_empty() && cks.is_empty() {
        return Ok(BTreeMap::new());
    }
    let partitioner = tables.first().map_or(Partitioner::Murmur3, |t| t.partitioner);
    let schema = tables.first().map(|t| t.schema.clone());
    // A value that does not decode ends the pass with its error (the row callback can only
    // stop the scan, so the error waits here).
    let mut failure: Option<ExportError> = None;
    let value_error = |key: &[u8], column: String, error: cairn_format::DecodeError| ExportError::Value {
        places: DataPlaces::default(),
        table: table_name.into(),
        key: cairn_format::types::render::hex(key),
        raw_key: Arc::from(key),
        column,
        error: Box::new(error),
    };
    let mut note = |key: &[u8], name: String, ty: &CqlType, b: &[u8]| -> Result<(), ExportError> {
        let v = decode(ty, b).map_err(|e| value_error(key, name.clone(), e))?;
        spans.entry(name).or_default().add(&v);
        Ok(())
    };
    let key_name = |i: usize| {
        schema
            .as_ref()
            .and_then(|s| s.partition_key.get(i))
            .map_or_else(|| format!("partition_key_{i}"), |c| c.name.clone())
    };
    for_each_row(&mut m, partitioner, now, filter, &mut |row: Row| {
        let mut visit = || -> Result<(), ExportError> {
            if !keys.is_empty() {
                let parts =
                    key_components(&header.key_type, &row.key).map_err(|e| value_error(&row.key, key_name(0), e))?;
                for &i in &keys {
                    if let (Some(b), Some(t)) = (parts.get(i), key_types.get(i)) {
                        note(&row.key, key_name(i), t, b)?;
                    }
                }
            }
            for &i in &cks {
                let name = schema
                    .as_ref()
                    .and_then(|s| s.clustering.get(i))
                    .map_or_else(|| format!("clustering_{i}"), |(c, _)| c.name.clone());
                if let (Some(Some(b)), Some(t)) = (row.clustering.get(i), header.clustering_types.get(i)) {
                    note(&row.key, name, t.unreversed(), row.data.bytes(*b))?;
                }
            }
            for (cells, cols, is_static) in [(&*row.statics, &statics, true), (&row.data, &regulars, false)] {
                for (idx, cell) in &cells.cells {
                    if !cols.contains(&(*idx as usize)) {
                        continue;
                    }
                    let hc = if is_static {
                        header.static_columns.get(*idx as usize)
                    } else {
                        header.regular_columns.get(*idx as usize)
                    };
                    if let (Some(hc), Cell::Simple { value, .. }) = (hc, cell) {
                        note(&row.key, hc.name.clone(), &hc.ty, cells.bytes(*value))?;
                    }
                }
            }
            Ok(())
        };
        match visit() {
            Ok(()) => Ok(true),
            Err(e) => {
                failure = Some(e);
                Ok(false)
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(spans.into_iter().map(|(k, v)| (k, v.shape())).collect())
}

/// Where rows go: the files of one token range.
struct Sink {
    dir: PathBuf,
    rel: String,
    format: Format,
    schema: Arc<Schema>,
    props: WriterProperties,
    max_bytes: Option<u64>,
    part: usize,
    /// Prepended to part numbers (a scanning thread's range: `07-`).
    prefix: String,
    current: Option<Open>,
    files: Vec<FileSummary>,
}

enum Open {
    Parquet { path: PathBuf, writer: Box<ArrowWriter<File>>, rows: u64 },
    Text { path: PathBuf, writer: std::io::BufWriter<File>, rows: u64, bytes: u64 },
}

impl Sink {
    fn open(&mut self) -> Result<&mut Open, ExportError> {
        if self.current.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(write_err(&self.dir))?;
            let name = format!("part-{}{:05}.{}", self.prefix, self.part, self.format.extension());
            self.part += 1;
            let path = self.dir.join(&name);
            let f = File::create(&path).map_err(write_err(&path))?;
            let open = match self.format {
                Format::Parquet => {
                    let writer = ArrowWriter::try_new(f, Arc::clone(&self.schema), Some(self.props.clone()))
                        .map_err(|e| ExportError::Parquet { path: path.clone(), message: e.to_string() })?;
                    Open::Parquet { path, writer: Box::new(writer), rows: 0 }
                }
                Format::Csv | Format::Ndjson => {
                    let mut writer = std::io::BufWriter::new(f);
                    let mut bytes = 0;
                    if self.format == Format::Csv {
                        let header: Vec<String> = self.schema.fields().iter().map(|f| csv_field(f.name())).collect();
                        let line = format!("{}\n", header.join(","));
                        writer.write_all(line.as_bytes()).map_err(write_err(&path))?;
                        bytes = line.len() as u64;
                    }
                    Open::Text { path, writer, rows: 0, bytes }
                }
            };
            self.current = Some(open);
        }
        match self.current.as_mut() {
            Some(o) => Ok(o),
            None => Err(ExportError::Tokens("internal: no open file".into())),
        }
    }

    fn close(&mut self) -> Result<(), ExportError> {
        let Some(open) = self.current.take() else { return Ok(()) };
        let (path, rows) = match open {
            Open::Parquet { path, writer, rows } => {
                writer.close().map_err(|e| ExportError::Parquet { path: path.clone(), message: e.to_string() })?;
                (path, rows)
            }
            Open::Text { path, mut writer, rows, .. } => {
                writer.flush().map_err(write_err(&path))?;
                (path, rows)
            }
        };
        let bytes = std::fs::metadata(&path).map_err(write_err(&path))?.len();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let rel = if self.rel.is_empty() { name } else { format!("{}/{name}", self.rel) };
        self.files.push(FileSummary { path: rel, rows, bytes });
        Ok(())
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Decoded values of a batch, borrowing from its rows.
fn decode_batch<'a>(
    rows: &'a [Row],
    cols: &[Column],
    header: &cairn_format::statistics::SerializationHeader,
    table: &str,
    now: i64,
) -> Result<Vec<Vec<Option<Value<'a>>>>, ExportError> {
    let key_column = cols.iter().find(|c| matches!(c.source, Source::Key(_))).map(|c| c.name.as_str());
    let mut out: Vec<Vec<Option<Value<'a>>>> = cols.iter().map(|_| Vec::with_capacity(rows.len())).collect();
    // Rows of a partition share their key: split a composite key once per partition.
    let mut parts: Vec<&'a [u8]> = Vec::new();
    let mut parts_of: Option<&'a std::sync::Arc<[u8]>> = None;
    for row in rows {
        if let Some(column) = key_column
            && !parts_of.is_some_and(|k| std::sync::Arc::ptr_eq(k, &row.key))
        {
            // A key that does not split into its columns is an error, never a row of nulls.
            parts = key_components(&header.key_type, &row.key).map_err(|error| ExportError::Value {
                places: DataPlaces::default(),
                table: table.into(),
                key: cairn_format::types::render::hex(&row.key),
                raw_key: Arc::clone(&row.key),
                column: column.into(),
                error: Box::new(error),
            })?;
            parts_of = Some(&row.key);
        }
        for (c, col_out) in cols.iter().zip(out.iter_mut()) {
            let err = |error: cairn_format::DecodeError| ExportError::Value {
                places: DataPlaces::default(),
                table: table.into(),
                key: cairn_format::types::render::hex(&row.key),
                raw_key: Arc::clone(&row.key),
                column: c.name.clone(),
                error: Box::new(error),
            };
            let find = |is_static: bool, idx: u16| -> Option<(&'a Cells, &'a Cell)> {
                let cells: &'a Cells = if is_static { &row.statics } else { &row.data };
                cells.get(idx).map(|c| (cells, c))
            };
            let v = match &c.source {
                Source::Key(i) => match parts.get(*i) {
                    Some(b) => Some(decode(&c.ty, b).map_err(err)?),
                    None => None,
                },
                Source::Clustering(i) => match row.clustering.get(*i) {
                    Some(Some(span)) => Some(decode(&c.ty, row.data.bytes(*span)).map_err(err)?),
                    _ => None,
                },
                Source::Static(idx) | Source::Regular(idx) => match find(matches!(c.source, Source::Static(_)), *idx) {
                    Some((cells, Cell::Simple { value, .. })) => Some(decode(&c.ty, cells.bytes(*value)).map_err(err)?),
                    Some((cells, Cell::Complex(elems))) => Some(
                        from_cells(&c.ty, elems.iter().map(|(p, v)| (cells.bytes(*p), cells.bytes(*v))))
                            .map_err(err)?,
                    ),
                    None => None,
                },
                Source::WriteTime(s, idx) => match find(*s, *idx) {
                    Some((_, Cell::Simple { timestamp, .. })) => Some(Value::BigInt(*timestamp)),
                    _ => None,
                },
                Source::Fixed(_) => None,
                Source::Ttl(s, idx) => match find(*s, *idx) {
                    Some((_, Cell::Simple { ttl, expires, .. })) if *ttl > 0 => {
                        Some(Value::Int(i32::try_from(expires - now).unwrap_or(i32::MAX)))
                    }
                    _ => None,
                },
            };
            col_out.push(v);
        }
    }
    Ok(out)
}

fn write_batch(
    sink: &mut Sink,
    rows: &[Row],
    cols: &[Column],
    header: &cairn_format::statistics::SerializationHeader,
    table: &str,
    now: i64,
) -> Result<(), ExportError> {
    if rows.is_empty() {
        return Ok(());
    }
    let values = decode_batch(rows, cols, header, table, now)?;
    write_values(sink, cols, &values, rows.len())
}

/// Write `n` rows given column by column.
fn write_values(
    sink: &mut Sink,
    cols: &[Column],
    values: &[Vec<Option<Value<'_>>>],
    n_rows: usize,
) -> Result<(), ExportError> {
    if n_rows == 0 {
        return Ok(());
    }
    let schema = Arc::clone(&sink.schema);
    let csv = sink.format == Format::Csv;
    let open = sink.open()?;
    match open {
        Open::Parquet { path, writer, rows: n } => {
            let arrays: Vec<ArrayRef> = cols
                .iter()
                .zip(values)
                .map(|(c, v)| {
                    let refs: Vec<Option<&Value<'_>>> = v.iter().map(Option::as_ref).collect();
                    arrow::to_array(&c.ty, c.field.data_type(), &refs)
                })
                .collect();
            let batch = RecordBatch::try_new(schema, arrays)
                .map_err(|e| ExportError::Parquet { path: path.clone(), message: e.to_string() })?;
            writer.write(&batch).map_err(|e| ExportError::Parquet { path: path.clone(), message: e.to_string() })?;
            // One row group per batch: bounded memory, and an exact size for rolling files.
            writer.flush().map_err(|e| ExportError::Parquet { path: path.clone(), message: e.to_string() })?;
            *n += n_rows as u64;
        }
        Open::Text { path, writer, rows: n, bytes } => {
            let text = render_text(cols, values, n_rows, csv);
            writer.write_all(text.as_bytes()).map_err(write_err(path))?;
            *n += n_rows as u64;
            *bytes += text.len() as u64;
        }
    }
    let full = match (&sink.current, sink.max_bytes) {
        (Some(Open::Parquet { writer, .. }), Some(max)) => writer.bytes_written() as u64 >= max,
        (Some(Open::Text { bytes, .. }), Some(max)) => *bytes >= max,
        _ => false,
    };
    if full {
        sink.close()?;
    }
    Ok(())
}

fn render_text(cols: &[Column], values: &[Vec<Option<Value<'_>>>], n: usize, csv: bool) -> String {
    use cairn_format::types::render;
    let mut out = String::new();
    for r in 0..n {
        if csv {
            let fields: Vec<String> = cols
                .iter()
                .zip(values)
                .map(|(c, v)| match v.get(r) {
                    Some(Some(Value::Null | Value::Empty)) | Some(None) | None => String::new(),
                    Some(Some(x)) => csv_field(&render::to_cql_string(&c.ty, x)),
                })
                .collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        } else {
            out.push('{');
            let mut first = true;
            for (c, v) in cols.iter().zip(values) {
                if !first {
                    out.push(',');
                }
                first = false;
                render::quote_json(&c.name, &mut out);
                out.push(':');
                match v.get(r) {
                    Some(Some(Value::Null | Value::Empty)) | Some(None) | None => out.push_str("null"),
                    Some(Some(x)) => render::write_json(&c.ty, x, &mut out),
                }
            }
            out.push_str("}\n");
        }
    }
    out
}

fn cql_type_name(t: &CqlType) -> String {
    t.to_string()
}

/// The live rows of a merged table into sinks, one per token range in order: (files, rows, partitions).
#[allow(clippy::too_many_arguments)]
/// Files written, rows and partitions.
type Written = (Vec<FileSummary>, u64, u64);

/// What the scanning thread hands the encoding thread.
enum Work {
    /// Rows to decode and write to the current sink.
    Rows(Vec<Row>),
    /// Close the current sink and open the one of token range `k`.
    Range(usize),
}

/// Live rows, in two stages on two threads: this one scans, reconciles and cuts batches; the
/// other decodes them into Arrow columns and encodes the files (Parquet encoding and compression
/// cost about as much as reading). A bounded channel keeps at most two batches in flight.
#[allow(clippy::too_many_arguments)]
fn write_live(
    m: &mut Merger,
    cols: &[Column],
    header: &cairn_format::statistics::SerializationHeader,
    opts: &ExportOptions,
    filter: &TokenFilter,
    boundaries: &[Token],
    new_sink: &(dyn Fn(Option<usize>) -> Sink + Sync),
    table_name: &str,
) -> Result<(Vec<FileSummary>, u64, u64), ExportError> {
    let split = !boundaries.is_empty();
    let partitioner = m.partitioner();
    let now = opts.now_s;
    let group = opts.rows_per_group.max(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Work>(2);
    std::thread::scope(|scope| {
        let encoder = scope.spawn(move || -> Result<Vec<FileSummary>, ExportError> {
            let mut sink = new_sink(split.then_some(0));
            let mut files = Vec::new();
            for work in rx {
                match work {
                    Work::Rows(batch) => write_batch(&mut sink, &batch, cols, header, table_name, now)?,
                    Work::Range(k) => {
                        sink.close()?;
                        files.append(&mut sink.files);
                        sink = new_sink(Some(k));
                    }
                }
            }
            sink.close()?;
            files.append(&mut sink.files);
            Ok(files)
        });
        let mut range = 0usize;
        let mut batch: Vec<Row> = Vec::with_capacity(group.min(1 << 20));
        let (mut rows, mut partitions) = (0u64, 0u64);
        let mut last_key: Option<std::sync::Arc<[u8]>> = None;
        // The encoder stopped (it failed): its error is returned once it is joined.
        let mut stopped = false;
        let scanned = for_each_row(m, partitioner, now, filter, &mut |row: Row| {
            if split {
                let mut k = range;
                while boundaries.get(k).is_some_and(|b| *b <= row.token) {
                    k += 1;
                }
                if k != range {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(group.min(1 << 20)));
                    if tx.send(Work::Rows(full)).is_err() || tx.send(Work::Range(k)).is_err() {
                        stopped = true;
                        return Ok(false);
                    }
                    range = k;
                }
            }
            if last_key.as_ref() != Some(&row.key) {
                partitions += 1;
                last_key = Some(row.key.clone());
            }
            rows += 1;
            batch.push(row);
            if batch.len() >= group {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(group.min(1 << 20)));
                if tx.send(Work::Rows(full)).is_err() {
                    stopped = true;
                    return Ok(false);
                }
            }
            Ok(true)
        });
        if !stopped && scanned.is_ok() {
            let _ = tx.send(Work::Rows(batch));
        }
        drop(tx);
        let files = encoder.join().unwrap_or_else(|_| {
            Err(ExportError::Parquet {
                path: PathBuf::from(table_name),
                message: "the encoding thread panicked".into(),
            })
        });
        scanned?;
        Ok((files?, rows, partitions))
    })
}

/// Live rows of the whole table by `opts.threads` token ranges at once, each range scanned from
/// its first partition (found through Summary.db and Index.db) on its own thread into its own
/// files. The ranges partition the token space exactly: (b[k-1], b[k]].
fn write_live_ranges(
    tables: &[SsTable],
    cols: &[Column],
    header: &cairn_format::statistics::SerializationHeader,
    opts: &ExportOptions,
    new_sink: &(dyn Fn(Option<usize>) -> Sink + Sync),
    table_name: &str,
) -> Result<Written, ExportError> {
    let partitioner = tables.first().map_or(Partitioner::Murmur3, |t| t.partitioner);
    let n = u32::try_from(opts.threads).unwrap_or(u32::MAX).min(64);
    let bounds = partitioner.token_boundaries(n).map_err(|e| ExportError::Tokens(format!("{table_name}: {e}")))?;
    let ranges: Vec<TokenFilter> = (0..=bounds.len())
        .map(|k| TokenFilter {
            start: k.checked_sub(1).and_then(|i| bounds.get(i).cloned()),
            end: bounds.get(k).cloned(),
        })
        .collect();
    // The ranges' scanners of one SSTable share a record of the chunks they read: together
    // they read the whole file, so Digest.crc32 is checked without reading it again.
    let digests: Vec<Option<DigestCoverage>> = tables.iter().map(SsTable::digest_coverage).collect();
    let digests = &digests;
    let results: Vec<Result<Written, ExportError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = ranges
            .iter()
            .enumerate()
            .map(|(k, filter)| {
                scope.spawn(move || {
                    let mut scanners = Vec::new();
                    for (t, digest) in tables.iter().zip(digests) {
                        let mut sc = t.scanner_covering(digest.clone())?;
                        if let Some(start) = &filter.start {
                            // Without an Index.db the range is found by scanning (the
                            // filter still decides); an Index.db or Summary.db that does not
                            // read is an error, as everywhere.
                            match t.position_after_token(start) {
                                Ok(Some(pos)) => sc.seek(pos, None)?,
                                Ok(None) => continue,
                                Err(cairn_format::Error::MissingComponent {
                                    component: cairn_format::Component::Index,
                                    ..
                                }) => {}
                                Err(e) => return Err(e.into()),
                            }
                        }
                        scanners.push(sc);
                    }
                    if scanners.is_empty() {
                        return Ok((Vec::new(), 0, 0));
                    }
                    let mut m = Merger::new(scanners, partitioner)?;
                    let sink = |r: Option<usize>| Sink { prefix: format!("{k:02}-"), ..new_sink(r) };
                    write_live(&mut m, cols, header, opts, filter, &[], &sink, table_name)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(ExportError::Parquet {
                        path: PathBuf::from(table_name),
                        message: "a scanning thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let (mut files, mut rows, mut partitions) = (Vec::new(), 0, 0);
    for r in results {
        let (f, r, p) = r?;
        files.extend(f);
        rows += r;
        partitions += p;
    }
    // Before anything is published (a file the ranges left unread, if any, is read here).
    for (t, digest) in tables.iter().zip(digests) {
        if let Some(d) = digest {
            t.data_source()?.with_digest(d.clone()).check_digest()?;
        }
    }
    Ok((files, rows, partitions))
}

fn export_table(tables: &[SsTable], opts: &ExportOptions) -> Result<TableSummary, ExportError> {
    let started = Instant::now();
    let (keyspace, table) = names_of(tables);
    let table_name = format!("{keyspace}.{table}");
    let final_dir = opts.out.join(&keyspace).join(&table);
    if final_dir.exists() && std::fs::read_dir(&final_dir).map_err(write_err(&final_dir))?.next().is_some() {
        return Err(ExportError::Exists { path: final_dir });
    }
    let ks_dir = opts.out.join(&keyspace);
    let created = create_dirs(&ks_dir)?;
    let tmp = ks_dir.join(format!(".{table}.cairn-tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = write_dataset(tables, opts, &tmp, &keyspace, &table, &table_name, started)
        .map_err(|e| e.locate(tables))
        .and_then(|mut summary| {
            if final_dir.exists() {
                std::fs::remove_dir(&final_dir).map_err(write_err(&final_dir))?;
            }
            std::fs::rename(&tmp, &final_dir).map_err(write_err(&final_dir))?;
            summary.path = final_dir.display().to_string();
            Ok(summary)
        });
    if result.is_err() {
        // A failed export leaves nothing: its hidden dataset, then the directories it created.
        let _ = std::fs::remove_dir_all(&tmp);
        remove_created(&created);
    }
    result
}

/// Create `dir` and its missing ancestors; returns those that did not exist, deepest first.
fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.as_os_str().is_empty()
        && std::fs::symlink_metadata(d).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    {
        missing.push(d.to_path_buf());
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        remove_created(&missing);
        return Err(write_err(dir)(e));
    }
    Ok(missing)
}

/// Remove directories [`create_dirs`] created, deepest first. `remove_dir` removes only an empty
/// directory, so one that something else has written into since is left alone.
fn remove_created(created: &[PathBuf]) {
    for d in created {
        if std::fs::remove_dir(d).is_err() {
            break;
        }
    }
}

fn write_dataset(
    tables: &[SsTable],
    opts: &ExportOptions,
    dir: &Path,
    keyspace: &str,
    table: &str,
    table_name: &str,
    started: Instant,
) -> Result<TableSummary, ExportError> {
    let partitioner = tables.first().map_or(Partitioner::Murmur3, |t| t.partitioner);
    let filter = match &opts.where_token {
        None => TokenFilter::default(),
        Some((a, b)) => {
            TokenFilter { start: Some(parse_token(partitioner, a)?), end: Some(parse_token(partitioner, b)?) }
        }
    };
    let boundaries: Vec<Token> = match opts.token_splits {
        Some(n) if n > 1 => {
            partitioner.token_boundaries(n).map_err(|e| ExportError::Tokens(format!("{table_name}: {e}")))?
        }
        _ => vec![],
    };
    let mutations = opts.mode == Mode::Mutations;
    let numeric = if opts.format == Format::Parquet && !mutations {
        measure_numerics(tables, opts.now_s, &filter, table_name)?
    } else {
        BTreeMap::new()
    };
    let mut m = merger(tables)?;
    let header = PartitionStream::header(&m).clone();
    let cols = if mutations {
        let keys_only = ExportOptions { columns: None, with_writetime: false, with_ttl: false, ..opts.clone() };
        mutations::columns(columns_of(tables, &header, &keys_only, table_name, &numeric)?, opts.types)
    } else {
        columns_of(tables, &header, opts, table_name, &numeric)?
    };
    let schema = Arc::new(Schema::new(cols.iter().map(|c| c.field.clone()).collect::<Vec<_>>()));
    let codec = match opts.codec {
        Codec::Zstd => Compression::ZSTD(ZstdLevel::default()),
        Codec::Snappy => Compression::SNAPPY,
        Codec::Lz4 => Compression::LZ4_RAW,
        Codec::None => Compression::UNCOMPRESSED,
    };
    let props = WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_row_count(Some(opts.rows_per_group.max(1)))
        .set_created_by(format!("cairn {}", env!("CARGO_PKG_VERSION")))
        .build();
    let split = opts.token_splits.is_some_and(|n| n > 1);
    let new_sink = |k: Option<usize>| Sink {
        dir: match k {
            Some(k) => dir.join(format!("token_range={k}")),
            None => dir.to_path_buf(),
        },
        rel: k.map(|k| format!("token_range={k}")).unwrap_or_default(),
        format: opts.format,
        schema: Arc::clone(&schema),
        props: props.clone(),
        max_bytes: opts.max_file_bytes,
        part: 0,
        prefix: String::new(),
        current: None,
        files: vec![],
    };
    let (mut files, rows, partitions) = if mutations {
        let mut sinks: BTreeMap<usize, Sink> = BTreeMap::new();
        let w = mutations::write(
            tables,
            &cols,
            opts.now_s,
            &filter,
            &boundaries,
            &mut sinks,
            &|k| new_sink(split.then_some(k)),
            opts.rows_per_group.max(1),
        )?;
        let mut files = Vec::new();
        for sink in sinks.values_mut() {
            sink.close()?;
            files.append(&mut sink.files);
        }
        (files, w.rows, w.partitions)
    } else if opts.threads > 1
        && boundaries.is_empty()
        && opts.where_token.is_none()
        // Ranges need a token space to divide: an order-preserving table is scanned on one thread.
        && partitioner.token_boundaries(2).is_ok()
    {
        drop(m);
        write_live_ranges(tables, &cols, &header, opts, &new_sink, table_name)?
    } else {
        write_live(&mut m, &cols, &header, opts, &filter, &boundaries, &new_sink, table_name)?
    };
    if files.is_empty() {
        // An empty table still gets a (row-less) file, so readers see its schema.
        let mut s = new_sink(split.then_some(0));
        s.open()?;
        s.close()?;
        files.append(&mut s.files);
    }
    let mut token_ranges = Vec::new();
    if split {
        let (lo, hi) = match partitioner {
            Partitioner::Random => ("-1".to_string(), (1i128 << 127).to_string()),
            _ => (i64::MIN.to_string(), i64::MAX.to_string()),
        };
        let mut edges = vec![lo];
        edges.extend(boundaries.iter().map(|b| b.to_string()));
        edges.push(hi);
        token_ranges = edges.windows(2).map(|w| (w[0].clone(), w[1].clone())).collect();
    }
    let mut input_bytes = 0;
    for t in tables {
        input_bytes += t.data_length()?;
    }
    let summary = TableSummary {
        keyspace: keyspace.into(),
        table: table.into(),
        path: dir.display().to_string(),
        sstables: tables.iter().map(|t| t.path(cairn_format::Component::Data).display().to_string()).collect(),
        input_bytes,
        rows,
        partitions,
        files,
        schema: cols
            .iter()
            .map(|c| ColumnSummary {
                name: c.name.clone(),
                cql_type: cql_type_name(&c.ty),
                arrow_type: c.field.data_type().to_string(),
            })
            .collect(),
        token_ranges,
        now: opts.now_s,
        seconds: started.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
    let p = dir.join("_cairn_export.json");
    std::fs::write(&p, json).map_err(write_err(&p))?;
    let p = dir.join("_SUCCESS");
    std::fs::write(&p, b"").map_err(write_err(&p))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_format::partition::{OwnedCell, Partition};
    use cairn_format::sstable::OpenOptions;
    use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
    use cairn_format::writer::{SsTableWriter, WriterOptions};

    /// One SSTable of a table keyed `(k0, k1)` whose only partition key is one component short.
    fn write_bad_key(dir: &Path, key_types: Vec<CqlType>) -> SsTable {
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Composite(key_types),
            vec![],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Text)],
        );
        let mut w = SsTableWriter::create(dir, 1, header, WriterOptions::default()).expect("writer");
        // CompositeType bytes of a single 4-byte component (u16 length, value, end-of-component
        // byte): `k0` alone would decode, `k1` is missing.
        let mut p = Partition::new(vec![0, 4, 0, 0, 0, 7, 0]);
        p.row_mut(&[]).add_cell(OwnedCell::live(0, None, b"x".to_vec(), 1));
        w.write_partition_content(&p).expect("write");
        SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open")
    }

    fn export_to(table: &SsTable, out: &Path, mode: Mode) -> Result<Vec<TableSummary>, ExportError> {
        let opts = ExportOptions { out: out.to_path_buf(), mode, format: Format::Ndjson, ..Default::default() };
        export(std::slice::from_ref(table), &opts)
    }

    fn is_key_error(r: &Result<Vec<TableSummary>, ExportError>) -> bool {
        matches!(
            r,
            Err(ExportError::Value { column, error, .. })
                if column == "partition_key_0"
                    && matches!(error.kind, cairn_format::DecodeErrorKind::InvalidValue { what: "composite component count", value: 1 })
        )
    }

    #[test]
    fn a_partition_key_that_does_not_split_is_an_error_not_nulls() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Live rows: the key columns are decoded per batch.
        let t = write_bad_key(&tmp.path().join("a"), vec![CqlType::Int, CqlType::Int]);
        let r = export_to(&t, &tmp.path().join("out-live"), Mode::Live);
        assert!(is_key_error(&r), "{r:?}");
        // Mutations: the same key, the same error.
        let r = export_to(&t, &tmp.path().join("out-mutations"), Mode::Mutations);
        assert!(is_key_error(&r), "{r:?}");
        // A varint key column is measured in a first pass, which meets the key first.
        let t = write_bad_key(&tmp.path().join("b"), vec![CqlType::Varint, CqlType::Int]);
        let r = export_to(&t, &tmp.path().join("out-varint"), Mode::Live);
        assert!(is_key_error(&r), "{r:?}");
    }

    #[test]
    fn token_splits_need_a_hashing_partitioner() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Int,
            vec![],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Text)],
        );
        let options = WriterOptions { partitioner: Partitioner::ByteOrdered, ..WriterOptions::default() };
        let mut w = SsTableWriter::create(tmp.path(), 1, header, options).expect("writer");
        let mut p = Partition::new(7i32.to_be_bytes().to_vec());
        p.row_mut(&[]).add_cell(OwnedCell::live(0, None, b"x".to_vec(), 1));
        w.write_partition_content(&p).expect("write");
        let t = SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open");
        let opts = ExportOptions {
            out: tmp.path().join("out"),
            format: Format::Ndjson,
            token_splits: Some(2),
            ..Default::default()
        };
        match export(std::slice::from_ref(&t), &opts) {
            Err(ExportError::Tokens(m)) => {
                assert!(m.ends_with(": token ranges cannot be computed for the ByteOrdered partitioner"), "{m}")
            }
            r => panic!("{r:?}"),
        }
        // Without asked-for splits, several threads fall back to one scan of the whole table.
        let opts =
            ExportOptions { out: tmp.path().join("threads"), format: Format::Ndjson, threads: 2, ..Default::default() };
        let done = export(std::slice::from_ref(&t), &opts).expect("a byte-ordered table exports with --threads");
        assert_eq!(done.iter().map(|d| d.rows).sum::<u64>(), 1);
    }
}
