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
    /// The scanning thread, joined when its channel closes: had it panicked, the closed channel
    /// alone would look like the end of the table, and the batches would be silently short.
    thread: Option<std::thread::JoinHandle<()>>,
    table_name: String,
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
        if let Ok(item) = self.rx.recv() {
            return Some(item);
        }
        // The channel closed: the end, unless the thread panicked (then an error, once).
        let panicked = self.thread.take()?.join().is_err();
        panicked.then(|| {
            Err(ExportError::Panicked {
                table: self.table_name.clone(),
                what: "the scanning thread panicked (the batches before this are not the whole table)",
            })
        })
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
    let name = table_name.clone();
    let table = table_name.clone();
    let thread = std::thread::Builder::new()
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
        .map_err(|error| ExportError::Thread { table, what: "the scanning thread", error })?;
    Ok(Batches { schema, rx, thread: Some(thread), table_name: name })
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

    #[test]
    fn a_scanning_thread_that_panics_ends_the_batches_in_an_error() {
        let (tx, rx) = sync_channel::<Result<RecordBatch, ExportError>>(2);
        let thread = std::thread::spawn(move || {
            let _kept = tx;
            panic!("a bug in the scan");
        });
        let schema = Arc::new(Schema::empty());
        let mut b = Batches { schema, rx, thread: Some(thread), table_name: "ks.t".into() };
        assert!(matches!(b.next(), Some(Err(ExportError::Panicked { .. }))));
        assert!(b.next().is_none());
        // A thread that ends normally ends the batches.
        let (tx, rx) = sync_channel::<Result<RecordBatch, ExportError>>(2);
        let thread = std::thread::spawn(move || drop(tx));
        let mut b = Batches { schema: Arc::new(Schema::empty()), rx, thread: Some(thread), table_name: "ks.t".into() };
        assert!(b.next().is_none());
    }

    fn write(dir: &std::path::Path, n: i32) -> SsTable {
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Int,
            vec![],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Text)],
        );
        let mut w = SsTableWriter::create(dir, 1, header, WriterOptions::default()).expect("writer");
        let mut keys: Vec<Vec<u8>> = (0..n).map(|k| k.to_be_bytes().to_vec()).collect();
        keys.sort_by_key(|k| Partitioner::Murmur3.token(k));
        for k in keys {
            let mut p = Partition::new(k);
            p.row_mut(&[]).add_cell(OwnedCell::live(0, None, b"x".to_vec(), 1));
            w.write_partition_content(&p).expect("write");
        }
        SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open")
    }

    #[test]
    fn batches_hold_the_rows_in_batch_rows_and_stop_when_dropped() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = write(tmp.path(), 1000);
        let opts = ExportOptions { rows_per_group: 300, ..Default::default() };
        let b = scan(std::slice::from_ref(&t), &opts).expect("scan");
        assert_eq!(b.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["partition_key", "v"]);
        let sizes: Vec<usize> = b.map(|r| r.expect("batch").num_rows()).collect();
        assert_eq!(sizes, [300, 300, 300, 100]);
        let mut b =
            scan(std::slice::from_ref(&t), &ExportOptions { rows_per_group: 1, ..Default::default() }).expect("scan");
        assert_eq!(b.next().map(|r| r.expect("batch").num_rows()), Some(1));
        // Dropped unread: the scanning thread stops at its next batch (no hang, no error).
        drop(b);
        let opts = ExportOptions { mode: Mode::Mutations, rows_per_group: 256, ..Default::default() };
        let n: usize = scan(std::slice::from_ref(&t), &opts).expect("scan").map(|r| r.expect("b").num_rows()).sum();
        assert_eq!(n, 1000, "one cell each");
    }

    #[test]
    fn a_scan_reads_one_table() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a = write(&tmp.path().join("a"), 3);
        let b = write(&tmp.path().join("b"), 3);
        match scan(&[a, b], &ExportOptions::default()) {
            Err(e @ ExportError::SeveralTables(_)) => assert!(e.to_string().contains(" in "), "{e}"),
            r => panic!("{:?}", r.map(|_| ())),
        }
    }
}
