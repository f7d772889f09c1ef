//! Row batches: the live rows of one batch (a Parquet row group, a CSV/NDJSON write) held column
//! by column as they are read — each output column's value bytes end to end in one buffer, a
//! slot per row — instead of one owned row at a time. The scanning thread fills a [`RowBatch`]
//! ([`RowBatch::push`]); the encoding thread decodes it into Arrow arrays ([`RowBatch::arrays`])
//! or CQL values for the text formats ([`RowBatch::values`]), with the crate's type mapping
//! ([`crate::arrow`]). Partition key columns are not copied per row: the batch keeps each
//! partition's key once and splits it into its components when decoding. A batch bound for
//! Arrow decodes the values of scalar types (numbers, `boolean`, `date`, `time`, `timestamp`,
//! text) straight into their Arrow builders as rows are pushed, without keeping their bytes or
//! building a [`Value`] for each.
//!
//! A value that does not decode is an error naming the partition and the column, never a null;
//! when several do, the error is the one of the first row, and within it of the first column
//! (a key that does not split into its components before any column), as a row-by-row decode
//! would report.

use std::sync::Arc;

use arrow_array::ArrayRef;

use cairn_format::data::Unfiltered;
use cairn_format::sstable::DataPlaces;
use cairn_format::types::CqlType;
use cairn_format::types::value::{Value, decode, from_cells, key_components};

use crate::ExportError;
use crate::arrow::{self, Scalar};
use crate::columns::{Column, Source};
use crate::rows::{Cell, Cells};

/// A byte range in a [`RawColumn`]'s buffer, or a range of its elements.
type Range = (usize, usize);

/// One row's value of one column.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// No value.
    Null,
    /// A serialized value.
    Bytes(Range),
    /// The live cells of a multi-cell column: a range of [`RawColumn::elems`].
    Cells(Range),
    /// A write time (µs) or a TTL (s).
    Int(i64),
}

/// The values of one output column.
#[derive(Debug, Default)]
struct RawColumn {
    /// Value (and cell path) bytes, end to end.
    data: Vec<u8>,
    /// One slot per row (none for a partition key column, whose values come from the keys).
    slots: Vec<Slot>,
    /// (path, value) of the cells of multi-cell columns.
    elems: Vec<(Range, Range)>,
}

impl RawColumn {
    fn bytes(&self, r: Range) -> &[u8] {
        self.data.get(r.0..r.1).unwrap_or_default()
    }

    fn push_bytes(&mut self, b: &[u8]) -> Range {
        let start = self.data.len();
        self.data.extend_from_slice(b);
        (start, self.data.len())
    }
}

/// Live rows held column by column (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct RowBatch {
    rows: usize,
    /// The partition keys of the batch's rows, each once, in order.
    keys: Vec<Arc<[u8]>>,
    /// Per row: its key in `keys`.
    key_of: Vec<u32>,
    /// One per output column.
    cols: Vec<RawColumn>,
    /// For Arrow output, the non-key columns of scalar types, in column order: each with the
    /// builder it decodes its values into as rows are pushed (their bytes are not kept in `cols`).
    built: Vec<(usize, Scalar)>,
    /// The other columns whose values are kept in `cols` as rows are pushed (not key columns).
    kept: Vec<usize>,
    /// The first value that did not decode into `built`.
    failed: Option<Box<Pushed>>,
}

/// A value that did not decode as its row was pushed: the batch's row, the column, the key.
#[derive(Debug)]
struct Pushed {
    row: usize,
    col: usize,
    key: Arc<[u8]>,
    error: cairn_format::DecodeError,
}

/// A value that did not decode: at which row, and the place in a row-by-row decode's order
/// (0: the key split, `j + 1`: column `j`).
struct Fail {
    row: usize,
    order: usize,
    error: Box<ExportError>,
}

impl RowBatch {
    /// An empty batch of `cols`. `arrow`: it will be decoded by [`RowBatch::arrays`] (not
    /// [`RowBatch::values`]), so values of scalar types are decoded into Arrow builders for
    /// about `rows` rows as they are pushed, instead of being kept as bytes.
    pub(crate) fn new(cols: &[Column], arrow: bool, rows: usize) -> RowBatch {
        // Builders grow past this; a huge `--rows-per-group` does not reserve its size up front.
        let rows = rows.min(1 << 17);
        let (mut built, mut kept) = (Vec::new(), Vec::new());
        for (j, c) in cols.iter().enumerate() {
            match c.source {
                Source::Key(_) | Source::Fixed(_) => {}
                _ => match Scalar::new(&c.ty, rows).filter(|_| arrow) {
                    Some(b) => built.push((j, b)),
                    None => kept.push(j),
                },
            }
        }
        RowBatch {
            cols: (0..cols.len()).map(|_| RawColumn::default()).collect(),
            key_of: Vec::with_capacity(rows),
            built,
            kept,
            ..RowBatch::default()
        }
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Append one live row of partition `key`: its clustering from `row` (`None`: the static-only
    /// row of a partition without rows), its regular cells `data` and the partition's `statics`,
    /// as `cols` take them; `now` (s) is what `ttl()` counts down to.
    pub(crate) fn push(
        &mut self,
        key: &Arc<[u8]>,
        row: Option<&Unfiltered>,
        data: &Cells,
        statics: &Cells,
        cols: &[Column],
        now: i64,
    ) {
        if !self.keys.last().is_some_and(|k| Arc::ptr_eq(k, key)) {
            self.keys.push(Arc::clone(key));
        }
        self.key_of.push(u32::try_from(self.keys.len().saturating_sub(1)).unwrap_or(u32::MAX));
        let cells_of = |is_static: bool| if is_static { statics } else { data };
        for (j, b) in &mut self.built {
            let j = *j;
            let Some(c) = cols.get(j) else { continue };
            let bytes = match &c.source {
                Source::Clustering(i) => row.and_then(|u| u.clustering_value(*i)),
                Source::Static(idx) | Source::Regular(idx) => {
                    let cells = cells_of(matches!(c.source, Source::Static(_)));
                    match cells.get(*idx) {
                        Some(Cell::Simple { value, .. }) => Some(cells.bytes(*value)),
                        _ => None,
                    }
                }
                Source::WriteTime(s, idx) => {
                    match cells_of(*s).get(*idx) {
                        Some(Cell::Simple { timestamp, .. }) => b.push(Some(&Value::BigInt(*timestamp))),
                        _ => b.push(None),
                    }
                    continue;
                }
                Source::Ttl(s, idx) => {
                    match cells_of(*s).get(*idx) {
                        Some(Cell::Simple { ttl, expires, .. }) if *ttl > 0 => {
                            b.push(Some(&Value::Int(i32::try_from(expires - now).unwrap_or(i32::MAX))))
                        }
                        _ => b.push(None),
                    }
                    continue;
                }
                Source::Key(_) | Source::Fixed(_) => None,
            };
            match bytes.map(|v| b.push_bytes(&c.ty, v)) {
                None => b.push(None),
                Some(Ok(())) => {}
                Some(Err(error)) => {
                    b.push(None);
                    if self.failed.is_none() {
                        self.failed = Some(Box::new(Pushed { row: self.rows, col: j, key: Arc::clone(key), error }));
                    }
                }
            }
        }
        for &j in &self.kept {
            let (Some(c), Some(raw)) = (cols.get(j), self.cols.get_mut(j)) else { continue };
            let slot = match &c.source {
                Source::Key(_) | Source::Fixed(_) => continue,
                Source::Clustering(i) => match row.and_then(|u| u.clustering_value(*i)) {
                    Some(b) => Slot::Bytes(raw.push_bytes(b)),
                    None => Slot::Null,
                },
                Source::Static(idx) | Source::Regular(idx) => {
                    let cells = cells_of(matches!(c.source, Source::Static(_)));
                    match cells.get(*idx) {
                        Some(Cell::Simple { value, .. }) => Slot::Bytes(raw.push_bytes(cells.bytes(*value))),
                        Some(Cell::Complex(elems)) => {
                            let start = raw.elems.len();
                            for (p, v) in elems {
                                let p = raw.push_bytes(cells.bytes(*p));
                                let v = raw.push_bytes(cells.bytes(*v));
                                raw.elems.push((p, v));
                            }
                            Slot::Cells((start, raw.elems.len()))
                        }
                        None => Slot::Null,
                    }
                }
                Source::WriteTime(s, idx) => match cells_of(*s).get(*idx) {
                    Some(Cell::Simple { timestamp, .. }) => Slot::Int(*timestamp),
                    _ => Slot::Null,
                },
                Source::Ttl(s, idx) => match cells_of(*s).get(*idx) {
                    Some(Cell::Simple { ttl, expires, .. }) if *ttl > 0 => {
                        Slot::Int(i64::from(i32::try_from(expires - now).unwrap_or(i32::MAX)))
                    }
                    _ => Slot::Null,
                },
            };
            raw.slots.push(slot);
        }
        self.rows += 1;
    }

    /// The key of row `r`.
    fn key(&self, r: usize) -> &Arc<[u8]> {
        static EMPTY: std::sync::LazyLock<Arc<[u8]>> = std::sync::LazyLock::new(|| Arc::from(&[][..]));
        self.key_of.get(r).and_then(|&k| self.keys.get(k as usize)).unwrap_or(&EMPTY)
    }

    /// The Arrow arrays of the batch's columns (`cols`, as given to [`RowBatch::push`]).
    pub(crate) fn arrays(
        &mut self,
        cols: &[Column],
        header: &cairn_format::statistics::SerializationHeader,
        table: &str,
    ) -> Result<Vec<ArrayRef>, ExportError> {
        let built = std::mem::take(&mut self.built);
        let failed = self.failed.take();
        let d = Decoder::new(self, cols, header, table);
        let mut out = Vec::with_capacity(cols.len());
        let mut first: Option<Fail> = failed.map(|f| {
            let name = cols.get(f.col).map_or("", |c| c.name.as_str());
            d.fail_at(&f.key, f.row, f.col + 1, name, f.error)
        });
        let mut built = built.into_iter().peekable();
        for (j, c) in cols.iter().enumerate() {
            if let Some((_, b)) = built.next_if(|(k, _)| *k == j) {
                out.push(b.finish());
                continue;
            }
            let array = match Scalar::new(&c.ty, self.rows) {
                Some(mut b) => d.fill(j, &mut b).map(|()| b.finish()),
                None => d.column(j).map(|vals| {
                    let refs: Vec<Option<&Value<'_>>> = vals.iter().map(Option::as_ref).collect();
                    arrow::to_array(&c.ty, c.field.data_type(), &refs)
                }),
            };
            match array {
                Ok(a) => out.push(a),
                Err(f) => first = earliest(first, f),
            }
        }
        match first {
            Some(f) => Err(*f.error),
            None => Ok(out),
        }
    }

    /// The decoded values of the batch's columns, column by column (the text formats).
    pub(crate) fn values<'s>(
        &'s self,
        cols: &[Column],
        header: &cairn_format::statistics::SerializationHeader,
        table: &str,
    ) -> Result<Vec<Vec<Option<Value<'s>>>>, ExportError> {
        let d = Decoder::new(self, cols, header, table);
        let mut out = Vec::with_capacity(cols.len());
        let mut first: Option<Fail> = None;
        for j in 0..cols.len() {
            match d.column(j) {
                Ok(v) => out.push(v),
                Err(f) => first = earliest(first, f),
            }
        }
        match first {
            Some(f) => Err(*f.error),
            None => Ok(out),
        }
    }
}

/// The failure a row-by-row decode meets first.
fn earliest(a: Option<Fail>, b: Fail) -> Option<Fail> {
    match a {
        Some(a) if (a.row, a.order) <= (b.row, b.order) => Some(a),
        _ => Some(b),
    }
}

/// Decodes a [`RowBatch`]'s values.
struct Decoder<'s, 'c> {
    batch: &'s RowBatch,
    cols: &'c [Column],
    table: &'c str,
    /// The components of each key of the batch, when a column is a key component.
    parts: Vec<Result<Vec<&'s [u8]>, cairn_format::DecodeError>>,
    /// The first key column's name (a key that does not split is reported against it).
    key_column: Option<&'c str>,
}

impl<'s, 'c> Decoder<'s, 'c> {
    fn new(
        batch: &'s RowBatch,
        cols: &'c [Column],
        header: &cairn_format::statistics::SerializationHeader,
        table: &'c str,
    ) -> Self {
        let key_column = cols.iter().find(|c| matches!(c.source, Source::Key(_))).map(|c| c.name.as_str());
        let parts = match key_column {
            Some(_) => batch.keys.iter().map(|k| key_components(&header.key_type, k)).collect(),
            None => Vec::new(),
        };
        Decoder { batch, cols, table, parts, key_column }
    }

    fn fail(&self, row: usize, order: usize, column: &str, error: cairn_format::DecodeError) -> Fail {
        self.fail_at(self.batch.key(row), row, order, column, error)
    }

    fn fail_at(
        &self,
        key: &Arc<[u8]>,
        row: usize,
        order: usize,
        column: &str,
        error: cairn_format::DecodeError,
    ) -> Fail {
        Fail {
            row,
            order,
            error: Box::new(ExportError::Value {
                places: DataPlaces::default(),
                table: self.table.into(),
                key: cairn_format::types::render::hex(key),
                raw_key: Arc::clone(key),
                column: column.into(),
                error: Box::new(error),
            }),
        }
    }

    /// The values of column `j`, or its first failure.
    fn column(&self, j: usize) -> Result<Vec<Option<Value<'s>>>, Fail> {
        (0..self.batch.rows).map(|r| self.value(j, r)).collect()
    }

    /// Push the values of column `j` into `b`. A partition key column's value is decoded once
    /// per partition (its rows are consecutive and share the key), at its first row.
    fn fill(&self, j: usize, b: &mut Scalar) -> Result<(), Fail> {
        let keys = &self.batch.key_of;
        if !self.cols.get(j).is_some_and(|c| matches!(c.source, Source::Key(_))) {
            return (0..self.batch.rows).try_for_each(|r| {
                b.push(self.value(j, r)?.as_ref());
                Ok(())
            });
        }
        let mut r = 0;
        while r < self.batch.rows {
            let k = keys.get(r);
            let run = keys.get(r..).map_or(1, |rest| rest.iter().take_while(|x| Some(*x) == k).count().max(1));
            let v = self.value(j, r)?;
            b.push_n(v.as_ref(), run);
            r += run;
        }
        Ok(())
    }

    /// The value of column `j` at row `r`.
    fn value(&self, j: usize, r: usize) -> Result<Option<Value<'s>>, Fail> {
        let Some(c) = self.cols.get(j) else { return Ok(None) };
        let decoded = |ty: &CqlType, b: &'s [u8]| decode(ty, b).map(Some).map_err(|e| self.fail(r, j + 1, &c.name, e));
        if let Source::Key(i) = c.source {
            let k = self.batch.key_of.get(r).map_or(usize::MAX, |&k| k as usize);
            return match self.parts.get(k) {
                Some(Ok(parts)) => match parts.get(i) {
                    Some(b) => decoded(&c.ty, b),
                    None => Ok(None),
                },
                Some(Err(e)) => Err(self.fail(r, 0, self.key_column.unwrap_or(&c.name), e.clone())),
                None => Ok(None),
            };
        }
        let Some(raw) = self.batch.cols.get(j) else { return Ok(None) };
        match raw.slots.get(r) {
            None | Some(Slot::Null) => Ok(None),
            Some(Slot::Bytes(b)) => decoded(&c.ty, raw.bytes(*b)),
            Some(Slot::Cells((start, end))) => {
                let elems = raw.elems.get(*start..*end).unwrap_or_default();
                from_cells(&c.ty, elems.iter().map(|(p, v)| (raw.bytes(*p), raw.bytes(*v))))
                    .map(Some)
                    .map_err(|e| self.fail(r, j + 1, &c.name, e))
            }
            Some(Slot::Int(x)) => Ok(Some(match c.source {
                Source::Ttl(..) => Value::Int(*x as i32),
                _ => Value::BigInt(*x),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Plan, plan};
    use crate::rows::{Row, for_each_row};
    use crate::{ExportOptions, scan};
    use arrow_array::RecordBatch;
    use cairn_fixtures::generate::{BASE_TIME_S, GenOptions, generate};
    use cairn_format::compression::Compressor;
    use cairn_format::descriptor::Descriptor;
    use cairn_format::partition::{OwnedCell, Partition};
    use cairn_format::partitioner::Partitioner;
    use cairn_format::sstable::{OpenOptions, SsTable};
    use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
    use cairn_format::version::Version;
    use cairn_format::writer::{SsTableWriter, WriterOptions};

    /// The reference: rows one at a time (owned [`Row`]s), each value decoded on its own, then
    /// [`arrow::to_array`] per column.
    fn row_by_row(rows: &[Row], cols: &[Column], key_type: &CqlType, now: i64) -> Vec<ArrayRef> {
        let mut values: Vec<Vec<Option<Value<'_>>>> = cols.iter().map(|_| Vec::new()).collect();
        for row in rows {
            let parts = key_components(key_type, &row.key).expect("key");
            for (c, out) in cols.iter().zip(values.iter_mut()) {
                let cell = |s: bool, i: u16| if s { row.statics.get(i) } else { row.data.get(i) };
                let cells = |s: bool| if s { &*row.statics } else { &row.data };
                out.push(match c.source {
                    Source::Key(i) => parts.get(i).map(|b| decode(&c.ty, b).expect("key value")),
                    Source::Clustering(i) => {
                        row.clustering.get(i).copied().flatten().map(|s| decode(&c.ty, row.data.bytes(s)).expect("ck"))
                    }
                    Source::Static(i) | Source::Regular(i) => {
                        let s = matches!(c.source, Source::Static(_));
                        match cell(s, i) {
                            Some(Cell::Simple { value, .. }) => Some(decode(&c.ty, cells(s).bytes(*value)).expect("v")),
                            Some(Cell::Complex(e)) => Some(
                                from_cells(&c.ty, e.iter().map(|(p, v)| (cells(s).bytes(*p), cells(s).bytes(*v))))
                                    .expect("cells"),
                            ),
                            None => None,
                        }
                    }
                    Source::WriteTime(s, i) => match cell(s, i) {
                        Some(Cell::Simple { timestamp, .. }) => Some(Value::BigInt(*timestamp)),
                        _ => None,
                    },
                    Source::Ttl(s, i) => match cell(s, i) {
                        Some(Cell::Simple { ttl, expires, .. }) if *ttl > 0 => {
                            Some(Value::Int(i32::try_from(expires - now).unwrap_or(i32::MAX)))
                        }
                        _ => None,
                    },
                    Source::Fixed(_) => None,
                });
            }
        }
        cols.iter()
            .zip(&values)
            .map(|(c, v)| {
                let refs: Vec<Option<&Value<'_>>> = v.iter().map(Option::as_ref).collect();
                arrow::to_array(&c.ty, c.field.data_type(), &refs)
            })
            .collect()
    }

    /// Every generated dataset (every CQL type the generator makes, statics, TTLs, tombstones),
    /// with `writetime()` and `ttl()` columns: the batches of the column-by-column scan are the
    /// arrays a row-by-row decode of the same rows gives, cut at the same rows.
    #[test]
    fn column_batches_equal_a_row_by_row_decode_for_every_generated_dataset() {
        for name in ["alltypes", "collections", "timeseries", "sessions", "wide", "comments", "tombstones"] {
            let tmp = tempfile::tempdir().expect("tempdir");
            let options = GenOptions {
                seed: 11,
                rows: 400,
                version: Version::Nb,
                compression: Some(Compressor::Lz4),
                sstables: 2,
                out: tmp.path().join("in"),
                expected: None,
                now: BASE_TIME_S,
            };
            let g = generate(name, &options).expect("generate");
            let o = OpenOptions { schema_file: Some(g.schema.clone()), ..Default::default() };
            let tables: Vec<SsTable> = g
                .sstables
                .iter()
                .map(|p| SsTable::open_with(Descriptor::from_path(p).expect("descriptor").0, &o).expect("open"))
                .collect();
            let opts = ExportOptions {
                now_s: BASE_TIME_S + 30,
                rows_per_group: 97,
                with_writetime: true,
                with_ttl: true,
                ..Default::default()
            };
            let got: Vec<RecordBatch> = scan(&tables, &opts).expect("scan").map(|b| b.expect("batch")).collect();
            let Plan { filter, cols, schema, header, mut merger, .. } = plan(&tables, &opts, name, true).expect("plan");
            let mut rows = Vec::new();
            for_each_row(&mut merger, Partitioner::Murmur3, opts.now_s, &filter, &mut |r| {
                rows.push(r);
                Ok(true)
            })
            .expect("rows");
            assert!(rows.len() > 50, "{name}: {} rows", rows.len());
            let want: Vec<RecordBatch> = rows
                .chunks(97)
                .map(|chunk| {
                    let arrays = row_by_row(chunk, &cols, &header.key_type, opts.now_s);
                    RecordBatch::try_new(Arc::clone(&schema), arrays).expect("batch")
                })
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    /// A table keyed by an int with regular `a text` and `b text`; `rows` are (key, a, b) bytes.
    fn write_texts(dir: &std::path::Path, rows: &[(i32, Vec<u8>, Vec<u8>)]) -> SsTable {
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Int,
            vec![],
            vec![],
            vec![HeaderColumn::new("a", CqlType::Text), HeaderColumn::new("b", CqlType::Text)],
        );
        let mut w = SsTableWriter::create(dir, 1, header, WriterOptions::default()).expect("writer");
        let mut rows = rows.to_vec();
        rows.sort_by_key(|(k, _, _)| Partitioner::Murmur3.token(&k.to_be_bytes()));
        for (k, a, b) in rows {
            let mut p = Partition::new(k.to_be_bytes().to_vec());
            let row = p.row_mut(&[]);
            row.add_cell(OwnedCell::live(0, None, a, 1));
            row.add_cell(OwnedCell::live(1, None, b, 1));
            w.write_partition_content(&p).expect("write");
        }
        SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open")
    }

    /// Values that do not decode in two columns of two rows: the error is the first row's (in
    /// token order), though its bad value is in the later column — what a row-by-row decode
    /// meets first, not what a column-by-column pass meets first.
    #[test]
    fn the_error_of_a_batch_is_its_first_rows_first_bad_column() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (first, second) = {
            let mut keys = [1i32, 2];
            keys.sort_by_key(|k| Partitioner::Murmur3.token(&k.to_be_bytes()));
            (keys[0], keys[1])
        };
        let good = b"fine".to_vec();
        let t = write_texts(tmp.path(), &[(first, good.clone(), vec![0xff]), (second, vec![0xfe], good)]);
        for format in [crate::Format::Parquet, crate::Format::Csv] {
            let opts = ExportOptions { out: tmp.path().join(format!("{format:?}")), format, ..Default::default() };
            match crate::export(std::slice::from_ref(&t), &opts) {
                Err(ExportError::Value { column, key, error, .. }) => {
                    assert_eq!((column.as_str(), key), ("b", cairn_format::types::render::hex(&first.to_be_bytes())));
                    assert!(
                        matches!(error.kind, cairn_format::DecodeErrorKind::InvalidUtf8 { what: "text value" }),
                        "{error}"
                    );
                }
                r => panic!("{format:?}: {r:?}"),
            }
        }
    }
}
