//! Live scan: the reconciled live rows of a table (as `SELECT *` shows them at `--now`) into
//! sinks. [`write_live`] scans one merged stream on one thread and encodes on another;
//! [`write_live_ranges`] splits a whole-table export into `--threads` token ranges, each scanned
//! from its first partition (located through Summary.db/Index.db) into its own files. Which
//! rows are live is [`cairn_format::live`]'s rule, applied by [`crate::rows::for_each_row`].

use std::path::PathBuf;

use cairn_format::data::source::DigestCoverage;
use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;

use crate::columns::{Column, decode_batch};
use crate::rows::{Row, TokenFilter, for_each_row};
use crate::sink::{Sink, write_values};
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
    Rows(Vec<Row>),
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
        let read = scanned?;
        Ok(Written { files: files?, rows, partitions, read })
    })
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
