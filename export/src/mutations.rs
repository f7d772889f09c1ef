//! `--mode mutations`: the raw cell log of every input SSTable, unreconciled — one output row per
//! cell, row marker or tombstone, for auditing and change analysis.
//!
//! Columns: the partition key and clustering columns (typed as in live mode; null where a
//! deletion covers more than one row), then `sstable` (the Data.db file name), `kind`, `column`,
//! `path` (a collection element's key, a UDT field's name, as CQL text), `value` (CQL text),
//! `writetime` (µs), `ttl` (s), `local_deletion_time` (s: when a tombstone was written, or when a
//! TTL'd cell or marker expires) and `inclusive` (range-tombstone bounds). Kinds:
//! `partition_deletion`, `row_deletion`, `shadowable_row_deletion`, `range_tombstone_start`,
//! `range_tombstone_end` (a boundary marker gives an end and a start), `row_marker`,
//! `collection_tombstone`, `cell`, `cell_tombstone`, and `expired` (a TTL'd cell or row marker
//! past its expiry at `--now`). Range-tombstone bounds may be clustering prefixes: the missing
//! clustering columns are null (an open-ended range ends at a bound with none at all).

use std::collections::BTreeMap;

use cairn_format::Component;
use cairn_format::data::{Unfiltered, UnfilteredKind};
use cairn_format::deletion::DeletionTime;
use cairn_format::partitioner::Token;
use cairn_format::sstable::SsTable;
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::CqlType;
use cairn_format::types::render;
use cairn_format::types::value::{Value, decode, key_components, udt_field_index};

use crate::columns::{Column, Source};
use crate::sink::{Sink, write_values};
use crate::{ExportError, arrow};

/// The fixed columns after the key and clustering columns.
const FIXED: [(&str, CqlType); 9] = [
    ("sstable", CqlType::Text),
    ("kind", CqlType::Text),
    ("column", CqlType::Text),
    ("path", CqlType::Text),
    ("value", CqlType::Text),
    ("writetime", CqlType::BigInt),
    ("ttl", CqlType::Int),
    ("local_deletion_time", CqlType::BigInt),
    ("inclusive", CqlType::Boolean),
];

/// One output row, owned.
#[derive(Debug, Clone, Default)]
struct Mutation {
    key: Vec<u8>,
    clustering: Vec<Option<Vec<u8>>>,
    kind: &'static str,
    column: Option<String>,
    path: Option<String>,
    value: Option<String>,
    writetime: Option<i64>,
    ttl: Option<i32>,
    ldt: Option<i64>,
    inclusive: Option<bool>,
}

/// The columns of a mutations dataset: key and clustering `keys` (from live mode), then the fixed ones.
pub(crate) fn columns(keys: Vec<Column>, o: arrow::TypeOptions) -> Vec<Column> {
    let mut cols: Vec<Column> =
        keys.into_iter().filter(|c| matches!(c.source, Source::Key(_) | Source::Clustering(_))).collect();
    for (i, (name, ty)) in FIXED.iter().enumerate() {
        cols.push(Column {
            name: (*name).to_string(),
            ty: ty.clone(),
            source: Source::Fixed(i),
            field: arrow::field(name, ty, o),
        });
    }
    cols
}

struct Emitter<'h> {
    header: &'h SerializationHeader,
    now: i64,
    out: Vec<Mutation>,
}

impl Emitter<'_> {
    fn deletion(&mut self, base: &Mutation, kind: &'static str, d: &DeletionTime, inclusive: Option<bool>) {
        if d.is_live() {
            return;
        }
        self.out.push(Mutation {
            kind,
            writetime: Some(d.marked_for_delete_at),
            ldt: Some(d.local_deletion_time),
            inclusive,
            ..base.clone()
        });
    }

    fn unfiltered(&mut self, key: &[u8], u: &Unfiltered, is_static: bool) {
        let clustering: Vec<Option<Vec<u8>>> =
            (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect();
        let base = Mutation { key: key.to_vec(), clustering, ..Default::default() };
        if let UnfilteredKind::Marker(k) = u.kind() {
            // A boundary closes one range and opens the next: an end, then a start.
            if k.is_close() {
                let inclusive = matches!(
                    k,
                    cairn_format::clustering::BoundKind::InclEndBound
                        | cairn_format::clustering::BoundKind::InclEndExclStartBoundary
                );
                self.deletion(&base, "range_tombstone_end", &u.close_deletion, Some(inclusive));
            }
            if k.is_open() {
                let inclusive = matches!(
                    k,
                    cairn_format::clustering::BoundKind::InclStartBound
                        | cairn_format::clustering::BoundKind::ExclEndInclStartBoundary
                );
                self.deletion(&base, "range_tombstone_start", &u.deletion, Some(inclusive));
            }
            return;
        }
        self.deletion(&base, "row_deletion", &u.deletion, None);
        self.deletion(&base, "shadowable_row_deletion", &u.shadowable_deletion, None);
        let l = &u.liveness;
        if !l.is_empty() {
            let expired = l.is_expired(self.now);
            self.out.push(Mutation {
                kind: if expired { "expired" } else { "row_marker" },
                writetime: Some(l.timestamp),
                ttl: l.is_expiring().then_some(l.ttl),
                ldt: l.is_expiring().then_some(l.local_expiration_time),
                ..base.clone()
            });
        }
        let columns = if is_static { &self.header.static_columns } else { &self.header.regular_columns };
        for d in &u.complex_deletions {
            let name = columns.get(d.column as usize).map(|c| c.name.clone());
            let b = Mutation { column: name, ..base.clone() };
            self.deletion(&b, "collection_tombstone", &d.deletion, None);
        }
        for c in &u.cells {
            let Some(col) = columns.get(c.column as usize) else { continue };
            let ty = col.ty.unreversed();
            let path = u.path(c);
            let path_text = path.map(|p| match ty {
                CqlType::Udt(udt) => udt_field_index(p)
                    .and_then(|i| udt.fields.get(i))
                    .map_or_else(|| render::hex(p), |(n, _)| n.clone()),
                _ => ty.path_type().map_or_else(|| render::hex(p), |pt| text(pt, p)),
            });
            let value = if c.is_tombstone() {
                None
            } else {
                let bytes = u.value(c);
                match (ty, path) {
                    (CqlType::Set { .. }, Some(_)) => None,
                    (CqlType::List { elem, .. }, Some(_)) => Some(text(elem, bytes)),
                    (CqlType::Map { value, .. }, Some(_)) => Some(text(value, bytes)),
                    (CqlType::Udt(udt), Some(p)) => Some(
                        udt_field_index(p)
                            .and_then(|i| udt.fields.get(i))
                            .map_or_else(|| render::hex(bytes), |(_, t)| text(t, bytes)),
                    ),
                    _ => Some(text(ty, bytes)),
                }
            };
            let kind = if c.is_tombstone() {
                "cell_tombstone"
            } else if c.is_expired(self.now) {
                "expired"
            } else {
                "cell"
            };
            let expiring = c.is_expiring() || c.is_tombstone();
            self.out.push(Mutation {
                kind,
                column: Some(col.name.clone()),
                path: path_text,
                value,
                writetime: Some(c.timestamp),
                ttl: c.is_expiring().then_some(c.ttl),
                ldt: expiring.then_some(c.local_deletion_time),
                ..base.clone()
            });
        }
    }
}

/// A value as cqlsh shows it (hex when it does not decode).
fn text(ty: &CqlType, b: &[u8]) -> String {
    match decode(ty, b) {
        Ok(v) => render::to_cql_string(ty, &v),
        Err(_) => format!("0x{}", render::hex(b)),
    }
}

/// What writing the mutations did.
pub(crate) struct Written {
    pub rows: u64,
    pub partitions: u64,
}

/// Write every mutation of `tables` into `sinks` (one per token range), `rows_per_group` at a time.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write(
    tables: &[SsTable],
    cols: &[Column],
    now: i64,
    filter: &crate::rows::TokenFilter,
    boundaries: &[Token],
    sinks: &mut BTreeMap<usize, Sink>,
    new_sink: &dyn Fn(usize) -> Sink,
    rows_per_group: usize,
) -> Result<Written, ExportError> {
    let mut written = Written { rows: 0, partitions: 0 };
    for t in tables {
        let data = t.path(Component::Data);
        let location = data.display().to_string();
        let file = data.file_name().map_or_else(|| location.clone(), |n| n.to_string_lossy().to_string());
        let mut scanner = t.scanner()?;
        let header = scanner.header().clone();
        let mut pending: BTreeMap<usize, Vec<Mutation>> = BTreeMap::new();
        // Write a batch of token range `range` to its sink: the rows written.
        let mut flush_range = |rows: &[Mutation], range: usize| -> Result<u64, ExportError> {
            let sink = sinks.entry(range).or_insert_with(|| new_sink(range));
            flush(rows, cols, &header.key_type, (&file, &location), sink)?;
            Ok(rows.len() as u64)
        };
        while let Some(p) = scanner.next_partition()?.cloned() {
            let token = t.partitioner.token(&p.key);
            let admitted =
                filter.start.as_ref().is_none_or(|s| token > *s) && filter.end.as_ref().is_none_or(|e| token <= *e);
            let mut em = Emitter { header: &header, now, out: Vec::new() };
            if admitted {
                let base = Mutation { key: p.key.clone(), ..Default::default() };
                em.deletion(&base, "partition_deletion", &p.deletion, None);
                if let Some(st) = scanner.static_row() {
                    em.unfiltered(&p.key, st, true);
                }
            }
            while let Some(u) = scanner.next_unfiltered()? {
                if admitted {
                    em.unfiltered(&p.key, u, false);
                }
            }
            if !admitted || em.out.is_empty() {
                continue;
            }
            written.partitions += 1;
            let range = boundaries.iter().filter(|b| **b <= token).count();
            let batch = pending.entry(range).or_default();
            batch.extend(em.out);
            if batch.len() >= rows_per_group {
                let rows = std::mem::take(batch);
                written.rows += flush_range(&rows, range)?;
            }
        }
        // What is left of each range once the SSTable is read.
        for (range, rows) in pending {
            written.rows += flush_range(&rows, range)?;
        }
    }
    Ok(written)
}

/// Write `rows` of the SSTable whose Data.db is `file` (its name, a column value) at
/// `location` (its path, for errors). A key or clustering value that does not decode is an
/// error naming the SSTable, the partition and the column, never a null.
fn flush(
    rows: &[Mutation],
    cols: &[Column],
    key_type: &CqlType,
    (file, location): (&str, &str),
    sink: &mut Sink,
) -> Result<(), ExportError> {
    let mut values: Vec<Vec<Option<Value<'_>>>> = cols.iter().map(|_| Vec::with_capacity(rows.len())).collect();
    for r in rows {
        let err = |column: &str, error: cairn_format::DecodeError| ExportError::Value {
            places: cairn_format::sstable::DataPlaces::default(),
            table: location.into(),
            key: cairn_format::types::render::hex(&r.key),
            raw_key: std::sync::Arc::from(r.key.as_slice()),
            column: column.into(),
            error: Box::new(error),
        };
        let mut parts: Option<Vec<&[u8]>> = None;
        for (c, out) in cols.iter().zip(values.iter_mut()) {
            let v = match &c.source {
                Source::Key(i) => {
                    let parts = match &parts {
                        Some(p) => p,
                        None => parts.insert(key_components(key_type, &r.key).map_err(|e| err(&c.name, e))?),
                    };
                    parts.get(*i).map(|b| decode(&c.ty, b)).transpose().map_err(|e| err(&c.name, e))?
                }
                // A range-tombstone bound may be a clustering prefix: the missing columns are null.
                Source::Clustering(i) => r
                    .clustering
                    .get(*i)
                    .and_then(|b| b.as_deref())
                    .map(|b| decode(&c.ty, b))
                    .transpose()
                    .map_err(|e| err(&c.name, e))?,
                Source::Fixed(0) => Some(Value::Text(file)),
                Source::Fixed(1) => Some(Value::Text(r.kind)),
                Source::Fixed(2) => r.column.as_deref().map(Value::Text),
                Source::Fixed(3) => r.path.as_deref().map(Value::Text),
                Source::Fixed(4) => r.value.as_deref().map(Value::Text),
                Source::Fixed(5) => r.writetime.map(Value::BigInt),
                Source::Fixed(6) => r.ttl.map(Value::Int),
                Source::Fixed(7) => r.ldt.map(Value::BigInt),
                Source::Fixed(8) => r.inclusive.map(Value::Boolean),
                _ => None,
            };
            out.push(v);
        }
    }
    write_values(sink, cols, &values, rows.len())
}
