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
//! - `_cairn_export.json`: its final path, rows, partitions (written and read), files, the
//!   Arrow schema with each column's CQL type, the token ranges, seconds taken;
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
//!
//! In process (the Python package): [`scan()`] gives the same rows, columns and types as Arrow
//! record batches instead of files, and [`splits()`] the token ranges that cover a table's ring
//! once, sized by bytes, for scans in parallel.

pub mod arrow;
mod batch;
mod columns;
mod dataset;
pub mod ingest;
mod live;
mod mutations;
pub mod rows;
mod scan;
mod sink;
mod splits;
mod text;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::arrow::TypeOptions;
pub use crate::dataset::names_of as dataset_name;
pub use crate::scan::{Batches, scan};
pub use crate::splits::{DEFAULT_SPLIT_BYTES, Split, splits, token_range_of};

use cairn_format::sstable::{DataPlaces, SsTable, partition_places};

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
    pub(crate) fn extension(self) -> &'static str {
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
    /// A thread of the export panicked (a bug in Cairn): its work did not finish, and the
    /// export ends in this error (a [`scan()`]'s reader has the batches before it).
    #[error("{table}: {what} (a bug in Cairn)")]
    Panicked {
        /// keyspace.table.
        table: String,
        /// Which thread panicked, and what that means for the output.
        what: &'static str,
    },
    /// The operating system refused a thread (out of memory or of processes).
    #[error("{table}: cannot start {what}: {error}")]
    Thread {
        /// keyspace.table.
        table: String,
        /// Which thread.
        what: &'static str,
        /// The operating system's error.
        error: std::io::Error,
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
    /// The reader of a [`scan()`] was dropped before the end: the scan stopped.
    #[error("the reader of the scan was closed before its end")]
    Closed,
    /// A [`scan()`] was given SSTables of more than one table.
    #[error("a scan reads one table; these SSTables are of {}", .0.join(", "))]
    SeveralTables(Vec<String>),
    /// Two tables of the inputs would be written into one dataset.
    #[error(
        "{}: two tables of the inputs would both be exported here, from {} and from {} (one keyspace and table \
         name: a table dropped and created again, or two copies of it); nothing was written: export them one at a \
         time, each into its own --out",
        path.display(),
        first.display(),
        second.display()
    )]
    SameDataset {
        /// The dataset's directory.
        path: PathBuf,
        /// The directory of the first table's SSTables.
        first: PathBuf,
        /// The directory of the second's.
        second: PathBuf,
    },
    /// A table failed after the datasets of others were written (they stay, complete).
    #[error("{error} (written before this error, and kept: {})", written_list(written))]
    After {
        /// The datasets written before the error.
        written: Vec<TableSummary>,
        /// The error.
        error: Box<ExportError>,
    },
}

/// `keyspace.table at PATH, ...`.
fn written_list(written: &[TableSummary]) -> String {
    written.iter().map(|s| format!("{}.{} at {}", s.keyspace, s.table, s.path)).collect::<Vec<_>>().join(", ")
}

pub(crate) fn write_err(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |error| ExportError::Write { path: path.to_path_buf(), error }
}

impl ExportError {
    /// Name the Data.db file(s) of `tables` that hold the partition of a
    /// [`ExportError::Value`] (values are decoded after reconciliation, which does not keep
    /// where each came from).
    pub(crate) fn locate(self, tables: &[SsTable]) -> ExportError {
        match self {
            ExportError::Value { places, table, key, raw_key, column, error } if places.0.is_empty() => {
                let places = partition_places(tables, &raw_key);
                ExportError::Value { places, table, key, raw_key, column, error }
            }
            other => other,
        }
    }
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
    /// Partitions read (in the token range asked for), live or not: more than `partitions`
    /// when some are wholly expired or deleted at `now`.
    pub partitions_read: u64,
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

impl TableSummary {
    /// When the export read partitions but none had a live row at `now` (each wholly expired
    /// or deleted): a note saying so, `all N partitions are expired or deleted at <now, UTC>`.
    /// The empty dataset is still the right answer; the note tells it from an empty input.
    pub fn nothing_live(&self) -> Option<String> {
        (self.rows == 0 && self.partitions_read > 0).then(|| {
            let now = cairn_format::types::render::format_timestamp_ms(self.now.saturating_mul(1000));
            let n = self.partitions_read;
            let all = if n == 1 { "the 1 partition is".to_string() } else { format!("all {n} partitions are") };
            format!("{all} expired or deleted at {now}")
        })
    }
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
/// id and point in time; one dataset each), in the order the groups first appear. The first
/// table that fails ends the export; datasets already written stay, and the error
/// ([`ExportError::After`]) names them.
pub fn export(tables: &[SsTable], opts: &ExportOptions) -> Result<Vec<TableSummary>, ExportError> {
    let groups = cairn_format::location::group_by_table(tables);
    // Where every dataset goes is settled before any is written, so that an export does not
    // stop after some: a dataset that exists is refused, and so are two tables that would share
    // one (one keyspace and table name in two table directories, or two plain directories whose
    // schemas name the same table).
    let mut places: Vec<(PathBuf, &Path)> = Vec::new();
    for first in groups.iter().filter_map(|(_, group)| group.first()) {
        let (keyspace, table) = dataset::names_of_table(first);
        let place = opts.out.join(keyspace).join(table);
        let from = first.descriptor.directory.as_path();
        if let Some((_, other)) = places.iter().find(|(p, _)| *p == place) {
            return Err(ExportError::SameDataset {
                path: place,
                first: other.to_path_buf(),
                second: from.to_path_buf(),
            });
        }
        dataset::refuse_existing(&place)?;
        places.push((place, from));
    }
    let mut out = Vec::new();
    for (_, group) in groups {
        let group: Vec<SsTable> = group.into_iter().cloned().collect();
        match dataset::export_table(&group, opts) {
            Ok(s) => out.push(s),
            Err(error) if out.is_empty() => return Err(error),
            Err(error) => return Err(ExportError::After { written: out, error: Box::new(error) }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_format::partition::{OwnedCell, Partition};
    use cairn_format::partitioner::Partitioner;
    use cairn_format::sstable::OpenOptions;
    use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
    use cairn_format::types::CqlType;
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

    /// One SSTable of one row in `dir`, keyed by an int with a text column.
    fn write_one(dir: &Path) -> SsTable {
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Int,
            vec![],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Text)],
        );
        std::fs::create_dir_all(dir).expect("mkdir");
        let mut w = SsTableWriter::create(dir, 1, header, WriterOptions::default()).expect("writer");
        let mut p = Partition::new(7i32.to_be_bytes().to_vec());
        p.row_mut(&[]).add_cell(OwnedCell::live(0, None, b"x".to_vec(), 1));
        w.write_partition_content(&p).expect("write");
        SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open")
    }

    #[test]
    fn datasets_are_placed_before_any_is_written() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ks = tmp.path().join("data/ks");
        let old = write_one(&ks.join(format!("t-{}", "1".repeat(32))));
        let new = write_one(&ks.join(format!("t-{}", "2".repeat(32))));
        let other = write_one(&ks.join(format!("u-{}", "3".repeat(32))));
        let out = tmp.path().join("out");
        let opts = ExportOptions { out: out.clone(), format: Format::Ndjson, ..Default::default() };
        // One keyspace and table name under two table ids: refused, nothing written.
        match export(&[other.clone(), old.clone(), new.clone()], &opts) {
            Err(ExportError::SameDataset { path, first, second }) => {
                assert_eq!(path, out.join("ks/t"));
                assert_eq!((first, second), (old.descriptor.directory.clone(), new.descriptor.directory.clone()));
            }
            r => panic!("{r:?}"),
        }
        assert!(!out.exists(), "nothing written, not even the first table's dataset");
        // A dataset that exists is refused before the tables before it are written.
        std::fs::create_dir_all(out.join("ks/t")).expect("mkdir");
        std::fs::write(out.join("ks/t/kept"), b"").expect("write");
        assert!(matches!(export(&[other.clone(), old], &opts), Err(ExportError::Exists { .. })));
        assert!(!out.join("ks/u").exists());
        let done = export(&[other], &opts).expect("the other table alone");
        assert_eq!(done.iter().map(|d| d.rows).sum::<u64>(), 1);
    }

    /// One SSTable keyed by an int with a `uuid` and a `timeuuid` column, one row.
    fn write_uuids(dir: &Path) -> SsTable {
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Int,
            vec![],
            vec![],
            vec![HeaderColumn::new("t", CqlType::TimeUuid), HeaderColumn::new("u", CqlType::Uuid)],
        );
        let mut w = SsTableWriter::create(dir, 1, header, WriterOptions::default()).expect("writer");
        let mut p = Partition::new(7i32.to_be_bytes().to_vec());
        let row = p.row_mut(&[]);
        // A version-1 (time-based) UUID and a version-4 one.
        row.add_cell(OwnedCell::live(0, None, (0x10u8..0x20).map(|b| if b == 0x16 { 0x11 } else { b }).collect(), 1));
        row.add_cell(OwnedCell::live(1, None, (0u8..16).map(|b| if b == 6 { 0x41 } else { b }).collect(), 1));
        w.write_partition_content(&p).expect("write");
        SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open")
    }

    /// The physical and logical type of each column of a dataset's first Parquet file.
    fn parquet_columns(
        summary: &TableSummary,
    ) -> Vec<(String, parquet::basic::Type, Option<parquet::basic::LogicalType>)> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let file = Path::new(&summary.path).join(&summary.files[0].path);
        let r = SerializedFileReader::new(std::fs::File::open(&file).expect("open")).expect("parquet");
        let schema = r.metadata().file_metadata().schema_descr_ptr();
        schema
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.physical_type(), c.logical_type_ref().cloned()))
            .collect()
    }

    #[test]
    fn uuids_are_text_by_default_and_the_uuid_logical_type_when_asked() {
        use parquet::basic::{LogicalType, Type};
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = write_uuids(&tmp.path().join("in"));
        let opts = ExportOptions { out: tmp.path().join("text"), ..Default::default() };
        let s = export(std::slice::from_ref(&t), &opts).expect("export");
        let cols = parquet_columns(&s[0]);
        for name in ["t", "u"] {
            let c = cols.iter().find(|c| c.0 == name).expect("column");
            assert_eq!((c.1, c.2.clone()), (Type::BYTE_ARRAY, Some(LogicalType::String)), "{name}");
        }
        // The canonical text, as CQL prints it.
        let opts = ExportOptions { out: tmp.path().join("json"), format: Format::Ndjson, ..Default::default() };
        let s = export(std::slice::from_ref(&t), &opts).expect("export");
        let text = std::fs::read_to_string(Path::new(&s[0].path).join(&s[0].files[0].path)).expect("read");
        assert_eq!(
            text,
            "{\"partition_key\":7,\"t\":\"10111213-1415-1117-1819-1a1b1c1d1e1f\",\"u\":\"00010203-0405-4107-0809-0a0b0c0d0e0f\"}\n"
        );
        let opts = ExportOptions {
            out: tmp.path().join("binary"),
            types: TypeOptions { uuid_as_binary: true },
            ..Default::default()
        };
        let s = export(std::slice::from_ref(&t), &opts).expect("export");
        let cols = parquet_columns(&s[0]);
        for name in ["t", "u"] {
            let c = cols.iter().find(|c| c.0 == name).expect("column");
            assert_eq!((c.1, c.2.clone()), (Type::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::Uuid)), "{name}");
        }
    }

    #[test]
    fn the_manifest_records_the_final_path_and_a_table_with_nothing_live_says_so() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Int,
            vec![],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Text)],
        );
        let mut w = SsTableWriter::create(tmp.path(), 1, header, WriterOptions::default()).expect("writer");
        // Three partitions, each one cell with a 100 s TTL written at 1 000 000 s.
        let mut keys: Vec<Vec<u8>> = (0i32..3).map(|k| k.to_be_bytes().to_vec()).collect();
        keys.sort_by_key(|k| Partitioner::Murmur3.token(k));
        for k in keys {
            let mut p = Partition::new(k);
            p.row_mut(&[]).add_cell(OwnedCell::expiring(0, None, b"x".to_vec(), 1, 100, 1_000_000));
            w.write_partition_content(&p).expect("write");
        }
        let t = SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open");
        let at = |now_s: i64, out: &str| {
            let opts = ExportOptions { out: tmp.path().join(out), now_s, format: Format::Csv, ..Default::default() };
            let s = export(std::slice::from_ref(&t), &opts).expect("export").remove(0);
            let manifest: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(Path::new(&s.path).join("_cairn_export.json")).expect("manifest"),
            )
            .expect("json");
            assert_eq!(manifest["path"].as_str(), Some(s.path.as_str()));
            assert!(Path::new(&s.path).join("_SUCCESS").is_file() && !s.path.contains("cairn-tmp"), "{}", s.path);
            s
        };
        let live = at(1_000_050, "live");
        assert_eq!((live.rows, live.partitions, live.partitions_read, live.nothing_live()), (3, 3, 3, None));
        let expired = at(1_000_100, "expired");
        assert_eq!((expired.rows, expired.partitions, expired.partitions_read), (0, 0, 3));
        assert_eq!(
            expired.nothing_live().as_deref(),
            Some("all 3 partitions are expired or deleted at 1970-01-12 13:48:20.000Z")
        );
    }
}
