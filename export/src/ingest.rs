//! Arrow record batches to SSTables: the inverse of [`crate::arrow`].
//!
//! Each Arrow column names a column of the table; its values are serialized as that column's
//! CQL type takes them. Besides the types [`crate::arrow`] exports, the forms Spark and other
//! Arrow producers hand over are taken:
//!
//! | CQL | Arrow |
//! | --- | --- |
//! | `tinyint`, `smallint`, `int`, `bigint` | Int8, Int16, Int32, Int64 (the width must match) |
//! | `float`, `double`, `boolean` | Float32, Float64, Boolean |
//! | `ascii`, `text`, `varchar` | Utf8, LargeUtf8, Utf8View (`ascii` checks every byte) |
//! | `inet`, `uuid`, `timeuuid` | the same strings as Cassandra prints them; uuids also FixedSizeBinary(16) |
//! | `blob` | Binary, LargeBinary, BinaryView, FixedSizeBinary |
//! | `timestamp` | Timestamp in any unit and time zone (sub-millisecond parts are floored: Cassandra keeps milliseconds) |
//! | `date`, `time` | Date32; Time64 (ns or µs), Time32 (s or ms) |
//! | `duration` | Struct{months: Int32, days: Int32, nanoseconds: Int64}, Interval(MonthDayNano) |
//! | `decimal` | Decimal128/Decimal256 of any scale, or its text |
//! | `varint` | Decimal128/Decimal256 of scale 0, Int64, or its text |
//! | `list<T>`, `set<T>` | List, LargeList, FixedSizeList of T |
//! | `map<K, V>` | `Map<K, V>` |
//! | `tuple` | Struct with one field per element, by position |
//! | UDT | Struct whose field names are the UDT's (missing fields are null) |
//! | `vector<T, n>` | `FixedSizeList<T, n>`, or `List<T>` with n elements per row |
//!
//! A column whose Arrow type does not fit fails the write before any row is read
//! ([`IngestError::Type`], naming the column and both types).
//!
//! Rows become cells as a CQL `INSERT` of every non-null column writes them
//! (`UpdateParameters` and `Lists`/`Sets`/`Maps`/`UserTypes` `Setter`s in Cassandra's `cql3/`):
//! a row marker (primary-key liveness) at the write timestamp, one cell per non-null simple
//! column, and for a non-frozen collection or UDT a complex deletion at the timestamp minus one
//! (the value replaces what was there) followed by one cell per element (list elements named by
//! time UUIDs, set elements and map keys as cell paths, UDT fields by their index). Every cell
//! of one write shares its timestamp and, when given, its TTL; expiring cells expire TTL
//! seconds after the timestamp's second. The choices:
//!
//! - a null value writes no cell (an unset bind value, not a tombstone);
//! - every primary-key column must be present and non-null ([`IngestError::MissingKey`],
//!   [`IngestError::NullKey`]); a column the table does not have is an error
//!   ([`IngestError::UnknownColumn`]); counter tables are refused (a counter cell is a context
//!   of shards, not a value);
//! - two rows of one primary key: the later one's non-null values win (the cells of one write
//!   share a timestamp, so reconciliation could not tell them apart). This holds among the rows
//!   held at once; past the row budget the two may land in different SSTables, and a read then
//!   reconciles them as Cassandra reconciles any two cells of equal timestamp (the greater value
//!   wins).
//!
//! Rows are held and sorted in memory: partitions by token, rows by the table's clustering
//! comparators ([`Partition`]). When the held rows reach [`IngestOptions::row_budget`], they are
//! written as one sorted SSTable and a new one is started: the SSTables may overlap, as
//! flushed memtables do, and compaction merges them. Every SSTable is written into a staging
//! directory inside the destination and moved into place, with a fresh generation and Data.db
//! last, only once the whole input is written; a failed write leaves nothing in the
//! destination ([`move_sstable`]).

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    IntervalMonthDayNanoType, Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, IntervalUnit, TimeUnit};

use cairn_format::compression::Compressor;
use cairn_format::deletion::{DeletionTime, LivenessInfo, NO_DELETION_TIME};
use cairn_format::descriptor::{Component, Descriptor, SsTableId};
use cairn_format::partition::{OwnedCell, Partition};
use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::schema::TableSchema;
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::CqlType;
use cairn_format::types::compare::compare_values;
use cairn_format::types::parse::{from_string, minimal_twos_complement};
use cairn_format::types::render::format_uuid;
use cairn_format::types::value::{
    compose, serialize_collection, serialize_duration, serialize_fields, serialize_map, serialize_vector, timeuuid_at,
};
use cairn_format::version::Version;
use cairn_format::writer::{CompressionParams, SsTableWriter, WriterOptions, next_generation};

/// Rows held in memory before a sorted SSTable is written, by default.
pub const DEFAULT_ROW_BUDGET: usize = 1_000_000;

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A column's Arrow type does not fit its CQL type.
    #[error("column {column}: Arrow type {arrow} does not fit CQL type {cql}")]
    Type {
        /// The column.
        column: String,
        /// Its Arrow type.
        arrow: String,
        /// The table's type of it.
        cql: String,
    },
    /// A value cannot be serialized.
    #[error("column {column}, batch {batch} row {row}: {message}")]
    Value {
        /// The column.
        column: String,
        /// Batch index (from 0).
        batch: usize,
        /// Row in the batch (from 0).
        row: usize,
        /// What is wrong.
        message: String,
    },
    /// A column the table does not have.
    #[error("column {column} is not a column of {table}")]
    UnknownColumn {
        /// The column.
        column: String,
        /// `keyspace.table`.
        table: String,
    },
    /// A primary-key column is not in the data.
    #[error("primary key column {column} of {table} is not in the data")]
    MissingKey {
        /// The column.
        column: String,
        /// `keyspace.table`.
        table: String,
    },
    /// A primary-key value is null.
    #[error("column {column}, batch {batch} row {row}: a primary key value is null")]
    NullKey {
        /// The column.
        column: String,
        /// Batch index (from 0).
        batch: usize,
        /// Row in the batch (from 0).
        row: usize,
    },
    /// The table cannot be written this way.
    #[error("{table}: {reason}")]
    Table {
        /// `keyspace.table`.
        table: String,
        /// Why.
        reason: String,
    },
    /// An option is not valid.
    #[error("{0}")]
    Option(String),
    /// The input stream failed.
    #[error("reading batch {batch}: {error}")]
    Arrow {
        /// Batch index (from 0).
        batch: usize,
        /// The producer's error.
        error: ArrowError,
    },
    /// Writing or moving the SSTables failed.
    #[error(transparent)]
    Format(#[from] cairn_format::Error),
}

/// How the SSTables are written.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Write timestamp of every cell and row marker (µs since the epoch).
    pub timestamp_us: i64,
    /// TTL of every cell and row marker (seconds; `None`: the table's `default_time_to_live`,
    /// else no expiry).
    pub ttl: Option<i32>,
    /// SSTable format version (`nb`).
    pub version: Version,
    /// Chunk compression (`None`: uncompressed with CRC.db; LZ4 by default, as Cassandra's).
    pub compression: Option<Compressor>,
    /// The partitioner keys are placed with.
    pub partitioner: Partitioner,
    /// Rows held in memory before a sorted SSTable is written.
    pub row_budget: usize,
}

impl IngestOptions {
    /// Options at `timestamp_us`, otherwise Cassandra's defaults.
    pub fn new(timestamp_us: i64) -> Self {
        IngestOptions {
            timestamp_us,
            ttl: None,
            version: Version::Nb,
            compression: Some(Compressor::Lz4),
            partitioner: Partitioner::Murmur3,
            row_budget: DEFAULT_ROW_BUDGET,
        }
    }
}

/// A compression name as the write options take it: `lz4`, `snappy`, `deflate`, `zstd` or
/// `none`.
pub fn parse_compression(name: &str) -> Result<Option<Compressor>, IngestError> {
    Ok(Some(match name.to_ascii_lowercase().as_str() {
        "lz4" => Compressor::Lz4,
        "snappy" => Compressor::Snappy,
        "deflate" => Compressor::Deflate,
        "zstd" => Compressor::Zstd,
        "none" => return Ok(None),
        other => {
            return Err(IngestError::Option(format!(
                "compression {other}: expected lz4, snappy, deflate, zstd or none"
            )));
        }
    }))
}

/// One SSTable a write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenSsTable {
    /// Its Data.db.
    pub data: PathBuf,
    /// Partitions in it.
    pub partitions: u64,
    /// Rows in it as a read shows them (rows of one primary key merged; a partition with only
    /// a static row counts one).
    pub rows: u64,
}

/// Where a column of the batches goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    Key(usize),
    Clustering(usize),
    Static(u16),
    Regular(u16),
}

struct Binding {
    name: String,
    ty: CqlType,
    target: Target,
}

/// The destination's staging directory: removed, with whatever it holds, when dropped.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        if self.0.exists()
            && let Err(e) = std::fs::remove_dir_all(&self.0)
        {
            eprintln!("warning: cannot remove staging directory {}: {e}", self.0.display());
        }
    }
}

/// Write `batches`, rows of the table `schema` describes, as SSTables into `dir` (created if
/// missing); the SSTables written, in the order they were moved into place.
pub fn write_table(
    batches: impl IntoIterator<Item = Result<RecordBatch, ArrowError>>,
    schema: &TableSchema,
    dir: &Path,
    options: &IngestOptions,
) -> Result<Vec<WrittenSsTable>, IngestError> {
    let table = table_name(schema);
    if schema.partition_key.is_empty() {
        return Err(IngestError::Table { table, reason: "the schema has no partition key".into() });
    }
    if schema.regular_columns.iter().chain(&schema.static_columns).any(|c| c.ty.is_counter()) {
        return Err(IngestError::Table {
            table,
            reason: "counter columns cannot be written as plain cells (a counter cell is a context of shards)".into(),
        });
    }
    if options.row_budget == 0 {
        return Err(IngestError::Option("row budget 0: expected at least one row".into()));
    }
    if let Some(ttl) = options.ttl
        && !(1..=630_720_000).contains(&ttl)
    {
        return Err(IngestError::Option(format!("ttl {ttl}: expected 1 to 630720000 seconds (20 years)")));
    }
    std::fs::create_dir_all(dir).map_err(|e| cairn_format::Error::io(dir, e))?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let staging = Staging(dir.join(format!(".cairn-write-{}-{nanos}", std::process::id())));
    let header = schema.serialization_header();
    let mut w = TableWriter {
        schema,
        header: &header,
        options,
        staging: &staging.0,
        held: Default::default(),
        held_rows: 0,
        written: vec![],
        seed: (nanos as u64) ^ (u64::from(std::process::id()) << 32),
        next_generation: 1,
    };
    let mut bindings: Option<(arrow_schema::SchemaRef, Vec<Binding>)> = None;
    for (b, batch) in batches.into_iter().enumerate() {
        let batch = batch.map_err(|error| IngestError::Arrow { batch: b, error })?;
        let bound = match &bindings {
            Some((s, bound)) if *s == batch.schema() => bound,
            _ => &bindings.insert((batch.schema(), bind(schema, &batch)?)).1,
        };
        w.add_batch(bound, &batch, b)?;
    }
    w.flush()?;
    let mut out = Vec::with_capacity(w.written.len());
    for s in std::mem::take(&mut w.written) {
        let d = move_sstable(&s.data, dir)?;
        out.push(WrittenSsTable { data: d.path(Component::Data), ..s });
    }
    Ok(out)
}

fn table_name(schema: &TableSchema) -> String {
    if schema.keyspace.is_empty() { schema.table.clone() } else { format!("{}.{}", schema.keyspace, schema.table) }
}

/// Match the batch's columns with the table's, checking every type.
fn bind(schema: &TableSchema, batch: &RecordBatch) -> Result<Vec<Binding>, IngestError> {
    let table = table_name(schema);
    let header = schema.serialization_header();
    let index = |cols: &[cairn_format::statistics::HeaderColumn], name: &str| {
        cols.iter().position(|c| c.name == name).map(|i| i as u16)
    };
    let mut out = Vec::with_capacity(batch.num_columns());
    for (i, f) in batch.schema().fields().iter().enumerate() {
        let name = f.name();
        // Two columns of one name: which one a row means is not said.
        if batch.schema().fields().iter().take(i).any(|g| g.name() == name) {
            return Err(IngestError::Table { table, reason: format!("the batch has two columns named {name}") });
        }
        let (ty, target) = if let Some(i) = schema.partition_key.iter().position(|c| c.name == *name) {
            (&schema.partition_key[i].ty, Target::Key(i))
        } else if let Some(i) = schema.clustering.iter().position(|(c, _)| c.name == *name) {
            (&schema.clustering[i].0.ty, Target::Clustering(i))
        } else if let (Some(c), Some(i)) =
            (schema.static_columns.iter().find(|c| c.name == *name), index(&header.static_columns, name))
        {
            (&c.ty, Target::Static(i))
        } else if let (Some(c), Some(i)) =
            (schema.regular_columns.iter().find(|c| c.name == *name), index(&header.regular_columns, name))
        {
            (&c.ty, Target::Regular(i))
        } else {
            return Err(IngestError::UnknownColumn { column: name.clone(), table });
        };
        if !fits(ty, f.data_type()) {
            return Err(IngestError::Type {
                column: name.clone(),
                arrow: f.data_type().to_string(),
                cql: ty.to_string(),
            });
        }
        out.push(Binding { name: name.clone(), ty: ty.clone(), target });
    }
    let key_names = schema.partition_key.iter().map(|c| &c.name).chain(schema.clustering.iter().map(|(c, _)| &c.name));
    for k in key_names {
        if !out.iter().any(|b| b.name == *k) {
            return Err(IngestError::MissingKey { column: k.clone(), table });
        }
    }
    Ok(out)
}

struct TableWriter<'a> {
    schema: &'a TableSchema,
    header: &'a SerializationHeader,
    options: &'a IngestOptions,
    staging: &'a Path,
    held: std::collections::BTreeMap<(Token, Vec<u8>), Partition>,
    held_rows: usize,
    written: Vec<WrittenSsTable>,
    seed: u64,
    next_generation: u64,
}

impl TableWriter<'_> {
    fn add_batch(&mut self, bound: &[Binding], batch: &RecordBatch, b: usize) -> Result<(), IngestError> {
        let ts = self.options.timestamp_us;
        let now_s = ts.div_euclid(1_000_000);
        // No TTL given: the table's default, as a CQL INSERT without USING TTL.
        let ttl = self.options.ttl.or_else(|| self.schema.default_time_to_live()).unwrap_or(0);
        let liveness = if ttl > 0 {
            LivenessInfo { timestamp: ts, ttl, local_expiration_time: now_s + i64::from(ttl) }
        } else {
            LivenessInfo { timestamp: ts, ttl: 0, local_expiration_time: NO_DELETION_TIME }
        };
        let cell = |column: u16, path: Option<Vec<u8>>, value: Vec<u8>| {
            if ttl > 0 {
                OwnedCell::expiring(column, path, value, ts, ttl, now_s)
            } else {
                OwnedCell::live(column, path, value, ts)
            }
        };
        let mut keys: Vec<Vec<u8>> = vec![vec![]; self.schema.partition_key.len()];
        let mut clustering: Vec<Option<Vec<u8>>> = vec![None; self.schema.clustering.len()];
        for row in 0..batch.num_rows() {
            // Keys first: the row's partition and clustering. A row whose clustering is all
            // null and that sets no regular column is a partition's static row alone (as a
            // read shows a partition with no rows but a static row).
            let static_only = !clustering.is_empty()
                && bound.iter().zip(batch.columns()).all(|(bd, a)| match bd.target {
                    Target::Clustering(_) | Target::Regular(_) => a.is_null(row),
                    _ => true,
                });
            for (bd, a) in bound.iter().zip(batch.columns()) {
                let slot = match bd.target {
                    Target::Key(i) => keys.get_mut(i),
                    Target::Clustering(_) if static_only => continue,
                    Target::Clustering(i) => clustering.get_mut(i).map(|c| c.get_or_insert_with(Vec::new)),
                    _ => continue,
                };
                if a.is_null(row) {
                    return Err(IngestError::NullKey { column: bd.name.clone(), batch: b, row });
                }
                let v = encode(&bd.ty, a.as_ref(), row).map_err(|message| value_error(bd, b, row, message))?;
                if let Some(slot) = slot {
                    *slot = v;
                }
            }
            let key = match keys.as_slice() {
                [one] => one.clone(),
                many => compose(&many.iter().map(Vec::as_slice).collect::<Vec<_>>()),
            };
            if key.len() > usize::from(u16::MAX) || keys.iter().any(|k| k.len() > usize::from(u16::MAX)) {
                let bd = bound.iter().find(|bd| matches!(bd.target, Target::Key(_)));
                return Err(IngestError::Value {
                    column: bd.map_or_else(String::new, |bd| bd.name.clone()),
                    batch: b,
                    row,
                    message: format!("a partition key of {} bytes (Cassandra's limit is 65535)", key.len()),
                });
            }
            if key.is_empty() {
                let bd = bound.iter().find(|bd| matches!(bd.target, Target::Key(_)));
                return Err(IngestError::Value {
                    column: bd.map_or_else(String::new, |bd| bd.name.clone()),
                    batch: b,
                    row,
                    message: "an empty partition key (Cassandra refuses one)".into(),
                });
            }
            let token = self.options.partitioner.token(&key);
            if static_only && !bound.iter().any(|bd| matches!(bd.target, Target::Static(_))) {
                let bd = bound.iter().find(|bd| matches!(bd.target, Target::Clustering(_)));
                return Err(IngestError::NullKey {
                    column: bd.map_or_else(String::new, |bd| bd.name.clone()),
                    batch: b,
                    row,
                });
            }
            let p = self.held.entry((token, key.clone())).or_insert_with(|| Partition::new(key));
            if !static_only {
                p.row_mut(&clustering).add_liveness(liveness);
            }
            for (bd, a) in bound.iter().zip(batch.columns()) {
                let (column, is_static) = match bd.target {
                    Target::Static(i) => (i, true),
                    Target::Regular(i) => (i, false),
                    _ => continue,
                };
                if a.is_null(row) {
                    continue;
                }
                let r = if is_static { p.static_mut() } else { p.row_mut(&clustering) };
                // The later row of one primary key wins: what an earlier one set goes.
                r.cells.retain(|c| c.column != column);
                if bd.ty.is_multi_cell() {
                    r.delete_column(column, DeletionTime { marked_for_delete_at: ts - 1, local_deletion_time: now_s });
                    let cells = elements(&bd.ty, a.as_ref(), row, ts, &mut self.seed)
                        .map_err(|message| value_error(bd, b, row, message))?;
                    r.cells.extend(cells.into_iter().map(|(path, v)| cell(column, Some(path), v)));
                } else {
                    let v = encode(&bd.ty, a.as_ref(), row).map_err(|message| value_error(bd, b, row, message))?;
                    r.cells.push(cell(column, None, v));
                }
            }
            self.held_rows += 1;
            if self.held_rows >= self.options.row_budget {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Write what is held as one sorted SSTable in the staging directory.
    fn flush(&mut self) -> Result<(), IngestError> {
        if self.held.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        self.held_rows = 0;
        let wo = WriterOptions {
            version: self.options.version,
            compression: self.options.compression.map(CompressionParams::new),
            partitioner: self.options.partitioner,
            expected_partitions: held.len() as u64,
            ..WriterOptions::default()
        };
        let mut w = SsTableWriter::create(self.staging, self.next_generation, self.header.clone(), wo)?;
        self.next_generation += 1;
        let mut rows = 0;
        for p in held.values() {
            rows += p.rows.len().max(usize::from(p.static_row.is_some())) as u64;
            w.write_partition_content(p)?;
        }
        let d = w.finish()?;
        self.written.push(WrittenSsTable { data: d.path(Component::Data), partitions: held.len() as u64, rows });
        Ok(())
    }
}

fn value_error(bd: &Binding, batch: usize, row: usize, message: String) -> IngestError {
    IngestError::Value { column: bd.name.clone(), batch, row, message }
}

/// Move the SSTable of `data` (its Data.db) into `dir` under the next free generation there:
/// every other component first, Data.db last, so that readers, which find SSTables by their
/// Data.db, never see a partial one. The SSTable's new descriptor.
pub fn move_sstable(data: &Path, dir: &Path) -> Result<Descriptor, cairn_format::Error> {
    let (from, _) = Descriptor::from_path(data)?;
    std::fs::create_dir_all(dir).map_err(|e| cairn_format::Error::io(dir, e))?;
    let to = Descriptor {
        directory: dir.to_path_buf(),
        version: from.version,
        id: SsTableId::Sequence(next_generation(dir)?),
    };
    let mut components: Vec<Component> = Component::BIG.into_iter().filter(|c| *c != Component::Data).collect();
    components.push(Component::Data);
    for c in components {
        let (src, dst) = (from.path(c), to.path(c));
        if !src.exists() {
            continue;
        }
        if dst.exists() {
            return Err(cairn_format::Error::io(&dst, std::io::Error::from(std::io::ErrorKind::AlreadyExists)));
        }
        std::fs::rename(&src, &dst).map_err(|e| cairn_format::Error::io(&src, e))?;
    }
    Ok(to)
}

fn is_string(dt: &DataType) -> bool {
    matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Whether values of Arrow type `dt` can be written as CQL type `ty`.
pub fn fits(ty: &CqlType, dt: &DataType) -> bool {
    use CqlType as C;
    use DataType as D;
    match (ty.unreversed(), dt) {
        (C::TinyInt, D::Int8)
        | (C::SmallInt, D::Int16)
        | (C::Int, D::Int32)
        | (C::BigInt, D::Int64)
        | (C::Float, D::Float32)
        | (C::Double, D::Float64)
        | (C::Boolean, D::Boolean)
        | (C::Timestamp, D::Timestamp(_, _))
        | (C::Date, D::Date32)
        | (C::Time, D::Time64(_) | D::Time32(_))
        | (C::Duration, D::Interval(IntervalUnit::MonthDayNano))
        | (C::Decimal, D::Decimal128(_, _) | D::Decimal256(_, _))
        | (C::Varint, D::Decimal128(_, 0) | D::Decimal256(_, 0) | D::Int64) => true,
        (C::Ascii | C::Text | C::Inet | C::Decimal | C::Varint, d) => is_string(d),
        (C::Uuid | C::TimeUuid | C::LexicalUuid, d) => is_string(d) || *d == D::FixedSizeBinary(16),
        (C::Blob | C::Custom(_), D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_)) => true,
        (C::Duration, D::Struct(fields)) => {
            let has = |n: &str, t: &DataType| fields.iter().any(|f| f.name() == n && f.data_type() == t);
            fields.len() == 3 && has("months", &D::Int32) && has("days", &D::Int32) && has("nanoseconds", &D::Int64)
        }
        (C::List { elem, .. } | C::Set { elem, .. }, D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _)) => {
            fits(elem, f.data_type())
        }
        (C::Vector { elem, dimension }, D::FixedSizeList(f, n)) => {
            i64::from(*n) == i64::from(*dimension) && fits(elem, f.data_type())
        }
        (C::Vector { elem, .. }, D::List(f) | D::LargeList(f)) => fits(elem, f.data_type()),
        (C::Map { key, value, .. }, D::Map(entries, _)) => match entries.data_type() {
            D::Struct(kv) if kv.len() == 2 => fits(key, kv[0].data_type()) && fits(value, kv[1].data_type()),
            _ => false,
        },
        (C::Tuple(types), D::Struct(fields)) => {
            types.len() == fields.len() && types.iter().zip(fields.iter()).all(|(t, f)| fits(t, f.data_type()))
        }
        (C::Udt(u), D::Struct(fields)) => fields
            .iter()
            .all(|f| u.fields.iter().find(|(n, _)| n == f.name()).is_some_and(|(_, t)| fits(t, f.data_type()))),
        _ => false,
    }
}

fn str_at(a: &dyn Array, i: usize) -> Result<&str, String> {
    match a.data_type() {
        DataType::Utf8 => Ok(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Ok(a.as_string::<i64>().value(i)),
        DataType::Utf8View => Ok(a.as_string_view().value(i)),
        other => Err(format!("{other} is not a string type")),
    }
}

/// The `i`-th list of a list-like array.
fn list_at(a: &dyn Array, i: usize) -> Result<ArrayRef, String> {
    match a.data_type() {
        DataType::List(_) => Ok(a.as_list::<i32>().value(i)),
        DataType::LargeList(_) => Ok(a.as_list::<i64>().value(i)),
        DataType::FixedSizeList(_, _) => Ok(a.as_fixed_size_list().value(i)),
        other => Err(format!("{other} is not a list type")),
    }
}

/// The serialized value at row `i` (not null) of `a`, as CQL type `ty`. A `timeuuid` must be a
/// version-1 UUID, as Cassandra's `TimeUUIDType` validates it.
pub fn encode(ty: &CqlType, a: &dyn Array, i: usize) -> Result<Vec<u8>, String> {
    let v = encode_unchecked(ty, a, i)?;
    if matches!(ty.unreversed(), CqlType::TimeUuid) && v.get(6).is_none_or(|b| b >> 4 != 1) {
        let u = <[u8; 16]>::try_from(v.as_slice()).map_or_else(|_| format!("{v:?}"), |u| format_uuid(&u));
        return Err(format!("{u} is not a version-1 (time-based) UUID"));
    }
    Ok(v)
}

fn encode_unchecked(ty: &CqlType, a: &dyn Array, i: usize) -> Result<Vec<u8>, String> {
    use CqlType as C;
    let ty = ty.unreversed();
    Ok(match (ty, a.data_type()) {
        (C::TinyInt, _) => a.as_primitive::<Int8Type>().value(i).to_be_bytes().to_vec(),
        (C::SmallInt, _) => a.as_primitive::<Int16Type>().value(i).to_be_bytes().to_vec(),
        (C::Int, _) => a.as_primitive::<Int32Type>().value(i).to_be_bytes().to_vec(),
        (C::BigInt, _) => a.as_primitive::<Int64Type>().value(i).to_be_bytes().to_vec(),
        (C::Float, _) => a.as_primitive::<Float32Type>().value(i).to_be_bytes().to_vec(),
        (C::Double, _) => a.as_primitive::<Float64Type>().value(i).to_be_bytes().to_vec(),
        (C::Boolean, _) => vec![u8::from(a.as_boolean().value(i))],
        (C::Ascii | C::Text, _) => {
            let s = str_at(a, i)?;
            if matches!(ty, C::Ascii) && !s.is_ascii() {
                return Err(format!("'{s}' is not ascii"));
            }
            s.as_bytes().to_vec()
        }
        (C::Blob | C::Custom(_), DataType::Binary) => a.as_binary::<i32>().value(i).to_vec(),
        (C::Blob | C::Custom(_), DataType::LargeBinary) => a.as_binary::<i64>().value(i).to_vec(),
        (C::Blob | C::Custom(_), DataType::BinaryView) => a.as_binary_view().value(i).to_vec(),
        (_, DataType::FixedSizeBinary(_)) => a.as_fixed_size_binary().value(i).to_vec(),
        (C::Timestamp, DataType::Timestamp(unit, _)) => {
            let ms = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i).checked_mul(1000),
                TimeUnit::Millisecond => Some(a.as_primitive::<TimestampMillisecondType>().value(i)),
                TimeUnit::Microsecond => Some(a.as_primitive::<TimestampMicrosecondType>().value(i).div_euclid(1000)),
                TimeUnit::Nanosecond => {
                    Some(a.as_primitive::<TimestampNanosecondType>().value(i).div_euclid(1_000_000))
                }
            };
            ms.ok_or("a timestamp out of Cassandra's millisecond range")?.to_be_bytes().to_vec()
        }
        (C::Date, _) => {
            let days = i64::from(a.as_primitive::<Date32Type>().value(i));
            ((days + (1i64 << 31)) as u32).to_be_bytes().to_vec()
        }
        (C::Time, dt) => {
            let ns = match dt {
                DataType::Time64(TimeUnit::Nanosecond) => a.as_primitive::<Time64NanosecondType>().value(i),
                DataType::Time64(_) => a.as_primitive::<Time64MicrosecondType>().value(i).saturating_mul(1000),
                DataType::Time32(TimeUnit::Second) => {
                    i64::from(a.as_primitive::<Time32SecondType>().value(i)) * 1_000_000_000
                }
                _ => i64::from(a.as_primitive::<Time32MillisecondType>().value(i)) * 1_000_000,
            };
            if !(0..86_400_000_000_000).contains(&ns) {
                return Err(format!("time {ns} ns is not within a day"));
            }
            ns.to_be_bytes().to_vec()
        }
        (C::Duration, DataType::Struct(_)) => {
            let s = a.as_struct();
            let part = |n: &str| s.column_by_name(n).ok_or_else(|| format!("no duration field {n}"));
            let months = part("months")?.as_primitive::<Int32Type>().value(i);
            let days = part("days")?.as_primitive::<Int32Type>().value(i);
            let nanos = part("nanoseconds")?.as_primitive::<Int64Type>().value(i);
            duration(months, days, nanos)?
        }
        (C::Duration, _) => {
            let v = a.as_primitive::<IntervalMonthDayNanoType>().value(i);
            duration(v.months, v.days, v.nanoseconds)?
        }
        (C::Decimal | C::Varint, DataType::Decimal128(_, scale)) => {
            let v = a.as_primitive::<Decimal128Type>().value(i);
            decimal(ty, i32::from(*scale), &v.to_be_bytes())
        }
        (C::Decimal | C::Varint, DataType::Decimal256(_, scale)) => {
            let v = a.as_primitive::<Decimal256Type>().value(i);
            decimal(ty, i32::from(*scale), &v.to_be_bytes())
        }
        (C::Varint, DataType::Int64) => minimal_twos_complement(&a.as_primitive::<Int64Type>().value(i).to_be_bytes()),
        (C::Inet | C::Uuid | C::TimeUuid | C::LexicalUuid | C::Decimal | C::Varint, _) => {
            from_string(ty, str_at(a, i)?)?
        }
        (C::List { elem, .. }, _) => {
            let items = list_items(elem, &list_at(a, i)?)?;
            serialize_collection(items.iter().map(Vec::as_slice))
        }
        (C::Set { elem, .. }, _) => {
            let items = set_items(elem, &list_at(a, i)?)?;
            serialize_collection(items.iter().map(Vec::as_slice))
        }
        (C::Vector { elem, dimension }, _) => {
            let items = list_items(elem, &list_at(a, i)?)?;
            if items.len() as u64 != u64::from(*dimension) {
                return Err(format!("{} elements for a vector of {dimension}", items.len()));
            }
            serialize_vector(elem, items.iter().map(Vec::as_slice))
        }
        (C::Map { key, value, .. }, _) => {
            let pairs = map_pairs(key, value, a, i)?;
            serialize_map(pairs.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
        }
        (C::Tuple(types), _) => {
            let s = a.as_struct();
            let fields = types
                .iter()
                .zip(s.columns())
                .map(|(t, c)| if c.is_null(i) { Ok(None) } else { encode(t, c.as_ref(), i).map(Some) })
                .collect::<Result<Vec<_>, _>>()?;
            serialize_fields(fields.iter().map(Option::as_deref))
        }
        (C::Udt(u), _) => {
            let fields = udt_fields(u, a, i)?;
            serialize_fields(fields.iter().map(Option::as_deref))
        }
        (other, dt) => return Err(format!("Arrow type {dt} does not fit CQL type {other}")),
    })
}

fn duration(months: i32, days: i32, nanos: i64) -> Result<Vec<u8>, String> {
    let signs = [i64::from(months), i64::from(days), nanos];
    if signs.iter().any(|x| *x > 0) && signs.iter().any(|x| *x < 0) {
        return Err(format!("duration ({months} months, {days} days, {nanos} ns) mixes signs"));
    }
    Ok(serialize_duration(months, days, nanos))
}

fn decimal(ty: &CqlType, scale: i32, unscaled_be: &[u8]) -> Vec<u8> {
    let unscaled = minimal_twos_complement(unscaled_be);
    if matches!(ty, CqlType::Varint) {
        return unscaled;
    }
    let mut out = scale.to_be_bytes().to_vec();
    out.extend(unscaled);
    out
}

fn list_items(elem: &CqlType, items: &ArrayRef) -> Result<Vec<Vec<u8>>, String> {
    (0..items.len())
        .map(|j| {
            if items.is_null(j) {
                Err("a null element in a collection".to_string())
            } else {
                encode(elem, items.as_ref(), j)
            }
        })
        .collect()
}

fn set_items(elem: &CqlType, items: &ArrayRef) -> Result<Vec<Vec<u8>>, String> {
    let mut v = list_items(elem, items)?;
    v.sort_by(|a, b| compare_values(elem, a, b));
    v.dedup_by(|a, b| compare_values(elem, a, b).is_eq());
    Ok(v)
}

/// (cell path or map key, value) pairs.
type Cells = Vec<(Vec<u8>, Vec<u8>)>;

/// A map's pairs in key order, one per key (the last given wins).
fn map_pairs(key: &CqlType, value: &CqlType, a: &dyn Array, i: usize) -> Result<Cells, String> {
    let entries = a.as_map().value(i);
    let (keys, values) = (entries.column(0), entries.column(1));
    let mut pairs = Vec::with_capacity(entries.len());
    for j in 0..entries.len() {
        if keys.is_null(j) || values.is_null(j) {
            return Err("a null key or value in a map".into());
        }
        pairs.push((encode(key, keys.as_ref(), j)?, encode(value, values.as_ref(), j)?));
    }
    pairs.reverse();
    pairs.sort_by(|a, b| compare_values(key, &a.0, &b.0));
    pairs.dedup_by(|a, b| compare_values(key, &a.0, &b.0).is_eq());
    Ok(pairs)
}

/// A UDT's fields in the type's order (`None`: null or not given).
fn udt_fields(u: &cairn_format::types::UdtType, a: &dyn Array, i: usize) -> Result<Vec<Option<Vec<u8>>>, String> {
    let s = a.as_struct();
    u.fields
        .iter()
        .map(|(name, t)| match s.column_by_name(name) {
            Some(c) if !c.is_null(i) => encode(t, c.as_ref(), i).map(Some),
            _ => Ok(None),
        })
        .collect()
}

/// The cells (path, value) of a non-frozen collection or UDT value at row `i`.
fn elements(ty: &CqlType, a: &dyn Array, i: usize, ts: i64, seed: &mut u64) -> Result<Cells, String> {
    Ok(match ty.unreversed() {
        CqlType::List { elem, .. } => {
            let items = list_items(elem, &list_at(a, i)?)?;
            // Element n is named by a time UUID at the write timestamp plus n µs: later
            // elements sort later, as Cassandra's appends do.
            *seed = splitmix(*seed);
            let node = *seed;
            items.into_iter().enumerate().map(|(n, v)| (timeuuid_at(ts + n as i64, node).to_vec(), v)).collect()
        }
        CqlType::Set { elem, .. } => set_items(elem, &list_at(a, i)?)?.into_iter().map(|e| (e, vec![])).collect(),
        CqlType::Map { key, value, .. } => map_pairs(key, value, a, i)?,
        CqlType::Udt(u) => udt_fields(u, a, i)?
            .into_iter()
            .enumerate()
            .filter_map(|(n, v)| v.map(|v| ((n as u16).to_be_bytes().to_vec(), v)))
            .collect(),
        other => return Err(format!("{other} is not a multi-cell type")),
    })
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExportOptions, scan};
    use arrow_array::{Int32Array, StringArray};
    use arrow_schema::{Field, Schema};
    use cairn_fixtures::generate::{BASE_TIME_S, GenOptions, generate};
    use cairn_format::sstable::{OpenOptions, SsTable};
    use std::sync::Arc;

    fn open_all(data: &[PathBuf], schema: &Path) -> Vec<SsTable> {
        let o = OpenOptions { schema_file: Some(schema.to_path_buf()), ..Default::default() };
        data.iter()
            .map(|p| SsTable::open_with(Descriptor::from_path(p).expect("descriptor").0, &o).expect("open"))
            .collect()
    }

    fn scan_all(tables: &[SsTable]) -> Vec<RecordBatch> {
        let opts = ExportOptions { now_s: BASE_TIME_S, rows_per_group: 100_000, ..Default::default() };
        scan(tables, &opts).expect("scan").map(|b| b.expect("batch")).collect()
    }

    /// Every dataset the generator makes (every CQL type it produces: `alltypes` has each
    /// scalar, duration and vector; `collections` frozen and non-frozen sets, maps, lists,
    /// UDTs and tuples): its export Arrow batches, written back as SSTables (several, with a
    /// small row budget) and scanned again, are the same batches.
    #[test]
    fn export_batches_written_back_scan_equal_for_every_generated_dataset() {
        for name in ["alltypes", "collections", "timeseries", "sessions", "wide", "comments", "tombstones"] {
            let tmp = tempfile::tempdir().expect("tempdir");
            let g = generate(
                name,
                &GenOptions {
                    seed: 7,
                    rows: 300,
                    version: Version::Nb,
                    compression: Some(Compressor::Lz4),
                    sstables: 2,
                    out: tmp.path().join("in"),
                    expected: None,
                    now: BASE_TIME_S,
                },
            )
            .expect("generate");
            let original = scan_all(&open_all(&g.sstables, &g.schema));
            let rows: usize = original.iter().map(RecordBatch::num_rows).sum();
            assert!(rows > 0, "{name}: rows");
            let schema = TableSchema::from_cql_file_alone(&g.schema, None, None).expect("schema");
            let out = tmp.path().join("out");
            let options = IngestOptions { row_budget: rows / 3 + 1, ..IngestOptions::new(BASE_TIME_S * 1_000_000 - 5) };
            let written = write_table(original.iter().cloned().map(Ok), &schema, &out, &options).expect("write");
            assert_eq!(written.len(), 3, "{name}: three SSTables of at most {} rows", options.row_budget);
            assert_eq!(written.iter().map(|w| w.rows).sum::<u64>(), rows as u64, "{name}: rows written");
            // Only the SSTables are left in the destination: the staging directory is gone.
            let names: Vec<String> = std::fs::read_dir(&out)
                .expect("out")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            assert!(names.iter().all(|n| n.starts_with("nb-")), "{name}: {names:?}");
            assert_eq!(names.len(), 3 * SsTableWriter::COMPONENTS, "{name}: {names:?}");
            let data: Vec<PathBuf> = written.iter().map(|w| w.data.clone()).collect();
            let again = scan_all(&open_all(&data, &g.schema));
            assert_eq!(again, original, "{name}: scanned back");
        }
    }

    fn kv_schema() -> TableSchema {
        let cql = "CREATE TABLE ks.t (k int, c text, v int, PRIMARY KEY (k, c));";
        let file = cairn_format::schema::cql::parse(cql).expect("cql");
        TableSchema::from_create(&file.tables[0], &file.types).expect("schema")
    }

    fn batch(fields: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let schema =
            Schema::new(fields.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>());
        RecordBatch::try_new(Arc::new(schema), fields.into_iter().map(|(_, a)| a).collect()).expect("batch")
    }

    #[test]
    fn a_type_that_does_not_fit_an_unknown_column_and_a_null_key_are_located_errors_leaving_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = kv_schema();
        let o = IngestOptions::new(1);
        let k: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let c: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
        let bad_v: ArrayRef = Arc::new(StringArray::from(vec!["x", "y"]));
        let r = write_table([Ok(batch(vec![("k", k.clone()), ("c", c.clone()), ("v", bad_v)]))], &s, tmp.path(), &o);
        let e = r.expect_err("type");
        assert!(matches!(&e, IngestError::Type { column, .. } if column == "v"), "{e:?}");
        assert_eq!(e.to_string(), "column v: Arrow type Utf8 does not fit CQL type int");
        let extra: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let r = write_table([Ok(batch(vec![("k", k.clone()), ("c", c.clone()), ("w", extra)]))], &s, tmp.path(), &o);
        assert!(matches!(r, Err(IngestError::UnknownColumn { ref column, .. }) if column == "w"), "{r:?}");
        let r = write_table([Ok(batch(vec![("k", k.clone())]))], &s, tmp.path(), &o);
        assert!(matches!(r, Err(IngestError::MissingKey { ref column, .. }) if column == "c"), "{r:?}");
        let null_c: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
        let good = batch(vec![("k", k.clone()), ("c", c.clone())]);
        let r = write_table([Ok(good), Ok(batch(vec![("k", k), ("c", null_c)]))], &s, tmp.path(), &o);
        assert!(matches!(r, Err(IngestError::NullKey { ref column, batch: 1, row: 1 }) if column == "c"), "{r:?}");
        assert_eq!(std::fs::read_dir(tmp.path()).expect("dir").count(), 0, "nothing left behind");
    }

    #[test]
    fn a_timeuuid_must_be_version_one_and_a_key_at_most_65535_bytes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cql = "CREATE TABLE ks.u (k text PRIMARY KEY, t timeuuid);";
        let file = cairn_format::schema::cql::parse(cql).expect("cql");
        let s = TableSchema::from_create(&file.tables[0], &file.types).expect("schema");
        let o = IngestOptions::new(1);
        let k: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
        let v4: ArrayRef = Arc::new(StringArray::from(vec!["5a1c395e-b41f-41e5-9f22-ba0be0483c18"]));
        let r = write_table([Ok(batch(vec![("k", k.clone()), ("t", v4)]))], &s, tmp.path(), &o);
        let e = r.expect_err("version 4");
        assert_eq!(
            e.to_string(),
            "column t, batch 0 row 0: 5a1c395e-b41f-41e5-9f22-ba0be0483c18 is not a version-1 (time-based) UUID"
        );
        let v1: ArrayRef = Arc::new(StringArray::from(vec!["5a1c395e-b41f-11e5-9f22-ba0be0483c18"]));
        let w = write_table([Ok(batch(vec![("k", k), ("t", v1)]))], &s, tmp.path(), &o).expect("version 1");
        assert_eq!(w.len(), 1);
        let long: ArrayRef = Arc::new(StringArray::from(vec!["x".repeat(65_536)]));
        let r = write_table([Ok(batch(vec![("k", long)]))], &s, &tmp.path().join("long"), &o);
        assert!(
            matches!(&r, Err(IngestError::Value { column, message, .. })
                if column == "k" && message.contains("65536 bytes")),
            "{r:?}"
        );
    }

    #[test]
    fn the_last_row_of_a_primary_key_wins_and_nulls_write_no_cell() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let s = kv_schema();
        let k: ArrayRef = Arc::new(Int32Array::from(vec![1, 1, 1]));
        let c: ArrayRef = Arc::new(StringArray::from(vec!["a", "a", "b"]));
        let v: ArrayRef = Arc::new(Int32Array::from(vec![Some(5), Some(3), None]));
        let w = write_table([Ok(batch(vec![("k", k), ("c", c), ("v", v)]))], &s, tmp.path(), &IngestOptions::new(9))
            .expect("write");
        assert_eq!((w.len(), w[0].partitions, w[0].rows), (1, 1, 2));
        let t =
            SsTable::open_with(Descriptor::from_path(&w[0].data).expect("d").0, &OpenOptions::default()).expect("open");
        let mut sc = t.scanner().expect("scanner");
        sc.next_partition().expect("p").expect("a partition");
        let first = sc.next_unfiltered().expect("row").expect("row a").clone();
        assert_eq!(first.cells.len(), 1);
        assert_eq!(first.value(&first.cells[0]), &3i32.to_be_bytes()[..]);
        assert_eq!(first.cells[0].timestamp, 9);
        let second = sc.next_unfiltered().expect("row").expect("row b").clone();
        assert!(second.cells.is_empty(), "a null writes no cell, the row marker stays");
        assert_eq!(second.liveness.timestamp, 9);
    }
}
