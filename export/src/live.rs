//! Live scan: the reconciled live rows of a table (as `SELECT *` shows them at `--now`) into
//! sinks. [`write_live`] scans one merged stream on one thread and encodes on another;
//! [`write_live_ranges`] splits a whole-table export into `--threads` token ranges, each scanned
//! from its first partition (located through Summary.db/Index.db) into its own files. Which
//! rows are live is [`cairn_format::live`]'s rule, walked here by a visitor that gathers the
//! rows column by column into [`RowBatch`]es (the token filter is [`crate::rows::for_each_row`]'s).

use std::sync::Arc;

use cairn_format::data::source::DigestCoverage;
use cairn_format::data::{PartitionHeader, Unfiltered};
use cairn_format::live::{LiveVisitor, Step, walk};
use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;

use crate::batch::RowBatch;
use crate::columns::Column;
use crate::rows::{Cells, TokenFilter};
use crate::sink::{Sink, write_arrays, write_values};
use crate::{ExportError, ExportOptions, FileSummary};

/// One merged stream of every SSTable of a table.
pub(crate) fn merger(tables: &[SsTable]) -> Result<Merger, ExportError> {
    let scanners = tables.iter().map(SsTable::scanner).collect::<Result<Vec<_>, _>>()?;
    let p = tables.first().map_or(Partitioner::Murmur3, |t| t.partitioner);
    Ok(Merger::new(scanners, p)?)
}

/// Decode a batch of live rows and write it to `sink`.
pub(crate) fn write_batch(
    sink: &mut Sink,
    batch: &mut RowBatch,
    cols: &[Column],
    header: &cairn_format::statistics::SerializationHeader,
    table: &str,
) -> Result<(), ExportError> {
    if batch.is_empty() {
        return Ok(());
    }
    if sink.takes_arrow() {
        let arrays = batch.arrays(cols, header, table)?;
        write_arrays(sink, arrays, batch.len())
    } else {
        let values = batch.values(cols, header, table)?;
        write_values(sink, cols, &values, batch.len())
    }
}

/// What a scan wrote.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// The files, closed.
    pub(crate) files: Vec<FileSummary>,
    /// Rows written.
    pub(crate) rows: u64,
    /// Partitions with at least one row written.
    pub(crate) partitions: u64,
    /// Partitions read, live or not.
    pub(crate) read: u64,
}

/// What the scanning thread hands the encoding thread.
pub(crate) enum Work {
    /// Rows to decode and write to the current sink.
    Rows(RowBatch),
    /// Close the current sink and open the one of token range `k`.
    Range(usize),
}

/// Live rows, in two stages on two threads: this one scans, reconciles and cuts batches; the
/// other decodes them into Arrow columns and encodes the files (Parquet encoding and compression
/// cost about as much as reading). A bounded channel keeps at most two batches in flight.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_live(
    m: &mut Merger,
    cols: &[Column],
    header: &cairn_format::statistics::SerializationHeader,
    opts: &ExportOptions,
    filter: &TokenFilter,
    boundaries: &[Token],
    new_sink: &(dyn Fn(Option<usize>) -> Sink + Sync),
    table_name: &str,
) -> Result<Written, ExportError> {
    let partitioner = m.partitioner();
    let now = opts.now_s;
    let group = opts.rows_per_group.max(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Work>(2);
    // Whether batches become Arrow arrays (decoded as they are gathered) or text values.
    let arrow = new_sink(None).takes_arrow();
    std::thread::scope(|scope| {
        let encoding = std::thread::Builder::new().name(format!("cairn-encode {table_name}"));
        let encoder = encoding.spawn_scoped(scope, move || -> Result<Vec<FileSummary>, ExportError> {
            let mut sink = new_sink((!boundaries.is_empty()).then_some(0));
            let mut files = Vec::new();
            for work in rx {
                match work {
                    Work::Rows(mut batch) => write_batch(&mut sink, &mut batch, cols, header, table_name)?,
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
        let encoder = encoder.map_err(|error| ExportError::Thread {
            table: table_name.to_string(),
            what: "the encoding thread",
            error,
        })?;
        let mut scan = Scan {
            partitioner,
            filter,
            now,
            cols,
            boundaries,
            group,
            tx: &tx,
            key: Arc::from(&[][..]),
            token: Token::Murmur3(i64::MIN),
            statics: Cells::default(),
            spare: Cells::default(),
            arrow,
            batch: RowBatch::new(cols, arrow, group),
            range: 0,
            rows: 0,
            partitions: 0,
            last_key: None,
            read: 0,
            stopped: false,
        };
        let scanned = walk(m, now, &mut scan);
        let Scan { batch, stopped, rows, partitions, read, .. } = scan;
        if !stopped && scanned.is_ok() {
            let _ = tx.send(Work::Rows(batch));
        }
        drop(tx);
        let files = encoder.join().unwrap_or_else(|_| {
            Err(ExportError::Panicked { table: table_name.to_string(), what: "the encoding thread panicked" })
        });
        scanned?;
        Ok(Written { files: files?, rows, partitions, read })
    })
}

/// The scanning stage of [`write_live`]: a [`LiveVisitor`] that reads the partitions a filter
/// admits (as [`crate::rows::for_each_row`] does), gathers their live rows into [`RowBatch`]es
/// of `group` rows, and hands each full batch to the encoding thread — and, with token-range
/// `boundaries`, a [`Work::Range`] at each boundary crossed. The cells of a row are gathered
/// into one reused buffer ([`Cells`]), not a new one per row.
struct Scan<'a> {
    partitioner: Partitioner,
    filter: &'a TokenFilter,
    now: i64,
    cols: &'a [Column],
    boundaries: &'a [Token],
    group: usize,
    /// Batches are for Arrow output ([`RowBatch::new`]).
    arrow: bool,
    tx: &'a std::sync::mpsc::SyncSender<Work>,
    /// The current partition's key and token.
    key: Arc<[u8]>,
    token: Token,
    /// The current partition's live static cells.
    statics: Cells,
    /// A cleared buffer for the next row's cells.
    spare: Cells,
    batch: RowBatch,
    /// The token range being written (with `boundaries`).
    range: usize,
    rows: u64,
    partitions: u64,
    last_key: Option<Arc<[u8]>>,
    /// Partitions admitted, live or not.
    read: u64,
    /// The encoder stopped (it failed): its error is returned once it is joined.
    stopped: bool,
}

impl Scan<'_> {
    /// Hand the batch so far to the encoder; false when it has stopped.
    fn send(&mut self) -> bool {
        let full = std::mem::replace(&mut self.batch, RowBatch::new(self.cols, self.arrow, self.group));
        self.tx.send(Work::Rows(full)).is_ok()
    }
}

impl LiveVisitor for Scan<'_> {
    type Cells = Cells;

    fn partition(&mut self, p: &PartitionHeader) -> Step {
        let token = self.partitioner.token(&p.key);
        let step = self.filter.step(&token);
        if !matches!(step, Step::Read) {
            return step;
        }
        self.key = Arc::from(&p.key[..]);
        self.token = token;
        self.read += 1;
        Step::Read
    }

    fn cells(&mut self) -> Cells {
        std::mem::take(&mut self.spare)
    }

    fn statics(&mut self, cells: Cells) {
        let mut old = std::mem::replace(&mut self.statics, cells);
        if self.spare.buf.capacity() == 0 {
            old.clear();
            self.spare = old;
        }
    }

    fn row(&mut self, row: Option<&Unfiltered>, mut data: Cells) -> cairn_format::error::Result<bool> {
        if !self.boundaries.is_empty() {
            let mut k = self.range;
            while self.boundaries.get(k).is_some_and(|b| *b <= self.token) {
                k += 1;
            }
            if k != self.range {
                if !self.send() || self.tx.send(Work::Range(k)).is_err() {
                    self.stopped = true;
                    return Ok(false);
                }
                self.range = k;
            }
        }
        if !self.last_key.as_ref().is_some_and(|k| Arc::ptr_eq(k, &self.key) || *k == self.key) {
            self.partitions += 1;
            self.last_key = Some(Arc::clone(&self.key));
        }
        self.rows += 1;
        self.batch.push(&self.key, row, &data, &self.statics, self.cols, self.now);
        data.clear();
        self.spare = data;
        if self.batch.len() >= self.group && !self.send() {
            self.stopped = true;
            return Ok(false);
        }
        Ok(true)
    }
}

/// Live rows of the whole table by `opts.threads` token ranges at once, each range scanned from
/// its first partition (found through Summary.db and Index.db) on its own thread into its own
/// files. The ranges partition the token space exactly: (b[k-1], b[k]].
pub(crate) fn write_live_ranges(
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
                let scanning = std::thread::Builder::new().name(format!("cairn-scan {table_name} {k}"));
                scanning.spawn_scoped(scope, move || {
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
                        return Ok(Written::default());
                    }
                    let mut m = Merger::new(scanners, partitioner)?;
                    let sink = |r: Option<usize>| Sink { prefix: format!("{k:02}-"), ..new_sink(r) };
                    write_live(&mut m, cols, header, opts, filter, &[], &sink, table_name)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| match w {
                Ok(w) => w.join().unwrap_or_else(|_| {
                    Err(ExportError::Panicked { table: table_name.to_string(), what: "a scanning thread panicked" })
                }),
                // The ranges whose threads started still run to their end (the scope waits for
                // them); their files are not published, as for any error.
                Err(error) => {
                    Err(ExportError::Thread { table: table_name.to_string(), what: "a scanning thread", error })
                }
            })
            .collect()
    });
    let mut all = Written::default();
    for r in results {
        let w = r?;
        all.files.extend(w.files);
        all.rows += w.rows;
        all.partitions += w.partitions;
        all.read += w.read;
    }
    // Before anything is published (a file the ranges left unread, if any, is read here).
    for (t, digest) in tables.iter().zip(digests) {
        if let Some(d) = digest {
            t.data_source()?.with_digest(d.clone()).check_digest()?;
        }
    }
    Ok(all)
}
