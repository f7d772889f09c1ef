//! Scan: one table's rows as a stream of Arrow record batches, for readers in the same process
//! (the Python package hands them to pyarrow through the Arrow C stream interface). The rows,
//! columns and types are `cairn export`'s Parquet output's: the same plan
//! ([`crate::dataset::plan`], with top-level decimal and varint columns measured first), the same
//! live scan ([`crate::live::write_live`]) or mutations log ([`crate::mutations`]), the same
//! Arrow builders ([`crate::arrow`]); only the sink differs — batches go to a bounded channel
//! instead of files.
//!
//! [`scan`] plans on the calling thread (opening the stream, and the numeric first pass when
//! the table has decimal or varint columns) and returns the schema at once; the rows are read
//! on a thread of their own, at most two batches ahead of the reader. A read error ends the
//! stream as its last item. Dropping [`Batches`] stops the scan at its next batch.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use parquet::file::properties::WriterProperties;

use cairn_format::sstable::SsTable;

use crate::dataset::{Plan, names_of, plan};
use crate::live::write_live;
use crate::sink::Sink;
use crate::{ExportError, ExportOptions, Format, Mode, mutations};

/// The record batches of a [`scan`], in order; a read error is the last item.
pub struct Batches {
    schema: SchemaRef,
    rx: Receiver<Result<RecordBatch, ExportError>>,
}

impl Batches {
    /// The schema of every batch: `cairn export`'s columns and Arrow types.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

impl Iterator for Batches {
    type Item = Result<RecordBatch, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}

/// Scan the SSTables of one table (`tables`, all of one [`cairn_format::location`] group) as
/// `cairn export` would export them with `opts`, in batches of `opts.rows_per_group` rows.
/// Used: `mode`, `now_s`, `columns`, `with_writetime`, `with_ttl`, `where_token`,
/// `rows_per_group` and `types`; the output-file options (`out`, `format`, `codec`,
/// `max_file_bytes`, `token_splits`, `threads`) do not apply. Rows come in token order (live)
/// or SSTable by SSTable (mutations), as in the export's files.
pub fn scan(tables: &[SsTable], opts: &ExportOptions) -> Result<Batches, ExportError> {
    let groups = cairn_format::location::group_by_table(tables);
    if groups.len() > 1 {
        return Err(ExportError::SeveralTables(groups.iter().map(|(l, _)| l.to_string()).collect()));
    }
    let tables: Vec<SsTable> = tables.to_vec();
    let (keyspace, table) = names_of(&tables);
    let table_name = format!("{keyspace}.{table}");
    let opts = ExportOptions { token_splits: None, threads: 1, ..opts.clone() };
    let Plan { filter, cols, schema, header, merger: mut m, .. } =
        plan(&tables, &opts, &table_name, true).map_err(|e| e.locate(&tables))?;
    let (tx, rx) = sync_channel::<Result<RecordBatch, ExportError>>(2);
    let out = Batches { schema: Arc::clone(&schema), rx };
    let rows = opts.rows_per_group.max(1);
    let new_sink = {
        let tx = tx.clone();
        let schema: Arc<Schema> = Arc::clone(&schema);
        move |_: Option<usize>| Sink {
            dir: PathBuf::new(),
            rel: String::new(),
            format: Format::Parquet,
            schema: Arc::clone(&schema),
            props: WriterProperties::default(),
            max_bytes: None,
            part: 0,
            prefix: String::new(),
            current: None,
            files: vec![],
            batches: Some(tx.clone()),
        }
    };
    std::thread::Builder::new()
        .name(format!("cairn-scan {table_name}"))
        .spawn(move || {
            let result = match opts.mode {
                Mode::Live => write_live(&mut m, &cols, &header, &opts, &filter, &[], &new_sink, &table_name).map(drop),
                Mode::Mutations => {
                    drop(m);
                    let mut sinks = BTreeMap::new();
                    mutations::write(&tables, &cols, opts.now_s, &filter, &[], &mut sinks, &|_| new_sink(None), rows)
                        .map(drop)
                }
            };
            match result.map_err(|e| e.locate(&tables)) {
                Ok(()) | Err(ExportError::Closed) => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })
        .map_err(|e| ExportError::Write { path: PathBuf::from("(scan thread)"), error: e })?;
    Ok(out)
}
