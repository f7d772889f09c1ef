//! Columns: which columns a dataset has and where each value comes from, and their Arrow types.
//!
//! The order is `SELECT *`'s: partition key components, clustering columns, then static and
//! regular columns by name (`--columns` keeps only those named); `--with-writetime` and
//! `--with-ttl` add `writetime(c)` / `ttl(c)` after them for each simple non-key column. Each
//! column's Arrow field is [`crate::arrow::field_with`]'s mapping of its CQL type; top-level
//! `decimal` and `varint` columns are first measured over the rows being exported
//! ([`measure_numerics`]) so a fixed-width Arrow type is chosen only when every value fits it.
//! [`crate::batch`] decodes the live rows of a batch into them, column by column.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_schema::Field;

use cairn_format::data::PartitionStream;
use cairn_format::partitioner::Partitioner;
use cairn_format::sstable::{DataPlaces, SsTable};
use cairn_format::types::CqlType;
use cairn_format::types::value::{decode, key_components};

use crate::arrow::{self, NumericShape, NumericSpan};
use crate::live::merger;
use crate::rows::{Cell, Row, TokenFilter, for_each_row};
use crate::{ExportError, ExportOptions};

/// One output column.
#[derive(Debug, Clone)]
pub(crate) enum Source {
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

/// One output column: its name, CQL type, where its values come from, and its Arrow field.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) ty: CqlType,
    pub(crate) source: Source,
    pub(crate) field: Field,
}

/// The columns of a live dataset (see the module docs).
pub(crate) fn columns_of(
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
    // A column dropped from the table (and not added again) is no column of it.
    for (i, c) in header.static_columns.iter().enumerate().filter(|(_, c)| !schema.dropped_for_good(&c.name)) {
        others.push((c.name.clone(), c.ty.clone(), Source::Static(i as u16)));
    }
    for (i, c) in header.regular_columns.iter().enumerate().filter(|(_, c)| !schema.dropped_for_good(&c.name)) {
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

/// A first pass over top-level decimal and varint columns: the layout every value fits.
pub(crate) fn measure_numerics(
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

/// The CQL type as the manifest names it.
pub(crate) fn cql_type_name(t: &CqlType) -> String {
    t.to_string()
}
