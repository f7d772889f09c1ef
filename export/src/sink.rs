//! Sinks: the files of one token range of a dataset. A [`Sink`] opens `part-NNNNN.<ext>` files
//! on demand (Parquet through arrow-rs's `ArrowWriter`, CSV and NDJSON as text from
//! [`crate::text`]), one Parquet row group per batch written, and starts the next file once one
//! reaches `--max-file-size`. Each closed file is recorded as a [`FileSummary`].
//!
//! Files are written inside the dataset's hidden temporary directory; [`crate::dataset`] renames
//! that directory into place once every file is closed.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::Schema;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use cairn_format::types::value::Value;

use crate::columns::Column;
use crate::text::{csv_field, render_text};
use crate::{ExportError, FileSummary, Format, arrow, write_err};

/// Where rows go: the files of one token range.
pub(crate) struct Sink {
    pub(crate) dir: PathBuf,
    pub(crate) rel: String,
    pub(crate) format: Format,
    pub(crate) schema: Arc<Schema>,
    pub(crate) props: WriterProperties,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) part: usize,
    /// Prepended to part numbers (a scanning thread's range: `07-`).
    pub(crate) prefix: String,
    pub(crate) current: Option<Open>,
    pub(crate) files: Vec<FileSummary>,
    /// Instead of files: each batch goes to this channel ([`crate::scan`]).
    pub(crate) batches: Option<std::sync::mpsc::SyncSender<Result<RecordBatch, ExportError>>>,
}

pub(crate) enum Open {
    Parquet { path: PathBuf, writer: Box<ArrowWriter<File>>, rows: u64 },
    Text { path: PathBuf, writer: std::io::BufWriter<File>, rows: u64, bytes: u64 },
}

impl Sink {
    pub(crate) fn open(&mut self) -> Result<&mut Open, ExportError> {
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

    pub(crate) fn close(&mut self) -> Result<(), ExportError> {
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

impl Sink {
    /// Whether batches go out as Arrow (Parquet files, or a [`crate::scan`]'s channel) rather
    /// than text.
    pub(crate) fn takes_arrow(&self) -> bool {
        self.batches.is_some() || self.format == Format::Parquet
    }
}

/// Write `n` rows given column by column.
pub(crate) fn write_values(
    sink: &mut Sink,
    cols: &[Column],
    values: &[Vec<Option<Value<'_>>>],
    n_rows: usize,
) -> Result<(), ExportError> {
    if n_rows == 0 {
        return Ok(());
    }
    if sink.takes_arrow() {
        return write_arrays(sink, to_arrays(cols, values), n_rows);
    }
    let csv = sink.format == Format::Csv;
    if let Open::Text { path, writer, rows: n, bytes } = sink.open()? {
        let text = render_text(cols, values, n_rows, csv);
        writer.write_all(text.as_bytes()).map_err(write_err(path))?;
        *n += n_rows as u64;
        *bytes += text.len() as u64;
    }
    close_if_full(sink)
}

/// Write `n_rows` rows given as Arrow arrays of the sink's schema (a sink that
/// [`Sink::takes_arrow`]).
pub(crate) fn write_arrays(sink: &mut Sink, arrays: Vec<ArrayRef>, n_rows: usize) -> Result<(), ExportError> {
    if n_rows == 0 {
        return Ok(());
    }
    let schema = Arc::clone(&sink.schema);
    if let Some(tx) = &sink.batches {
        let batch = RecordBatch::try_new(schema, arrays)
            .map_err(|e| ExportError::Parquet { path: PathBuf::from("(Arrow batch)"), message: e.to_string() })?;
        // The reader was dropped: stop scanning.
        return tx.send(Ok(batch)).map_err(|_| ExportError::Closed);
    }
    if let Open::Parquet { path, writer, rows: n } = sink.open()? {
        let batch = RecordBatch::try_new(schema, arrays)
            .map_err(|e| ExportError::Parquet { path: path.clone(), message: e.to_string() })?;
        writer.write(&batch).map_err(|e| ExportError::Parquet { path: path.clone(), message: e.to_string() })?;
        // One row group per batch: bounded memory, and an exact size for rolling files.
        writer.flush().map_err(|e| ExportError::Parquet { path: path.clone(), message: e.to_string() })?;
        *n += n_rows as u64;
    }
    close_if_full(sink)
}

/// Close the current file once it has reached `--max-file-size`.
fn close_if_full(sink: &mut Sink) -> Result<(), ExportError> {
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

/// The Arrow arrays of rows given column by column (the export crate's type mapping,
/// [`crate::arrow`]).
fn to_arrays(cols: &[Column], values: &[Vec<Option<Value<'_>>>]) -> Vec<ArrayRef> {
    cols.iter()
        .zip(values)
        .map(|(c, v)| {
            let refs: Vec<Option<&Value<'_>>> = v.iter().map(Option::as_ref).collect();
            arrow::to_array(&c.ty, c.field.data_type(), &refs)
        })
        .collect()
}
