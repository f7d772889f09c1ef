//! What the reader decodes, in the shape of the corpus manifest's expectations, and the
//! comparison against `expected`.

use cairn_format::data::{PartitionStream, Unfiltered, UnfilteredKind};
use cairn_format::deletion::DeletionTime;
use cairn_format::sstable::SsTable;
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::CqlType;
use cairn_format::types::parse::{parse_time_ns, parse_timestamp_ms};
use cairn_format::types::render::{
    decimal_to_string, format_date, format_duration, format_inet, format_uuid, hex, varint_to_string,
};
use cairn_format::types::value::{Value, counter_shards, decode};
use serde_json::Value as J;

/// A cell as read: column, path, raw value, metadata.
#[derive(Debug, Clone)]
pub struct CellModel {
    pub path: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub timestamp: i64,
    pub ttl: i32,
    pub ldt: i64,
    pub tombstone: bool,
}

#[derive(Debug, Clone)]
pub struct ColumnModel {
    pub name: String,
    pub ty: CqlType,
    pub cells: Vec<CellModel>,
    pub complex_deletion: Option<DeletionTime>,
}

#[derive(Debug, Clone)]
pub struct RowModel {
    pub clustering: Vec<Option<Vec<u8>>>,
    pub liveness_ts: Option<i64>,
    pub liveness_ttl: i32,
    pub liveness_exp: i64,
    pub deletion: DeletionTime,
    pub shadowable: DeletionTime,
    pub columns: Vec<ColumnModel>,
}

#[derive(Debug, Clone)]
#[allow(dead_code, reason = "kept for debugging output")]
pub struct Marker {
    pub kind: cairn_format::clustering::BoundKind,
    pub prefix: Vec<Option<Vec<u8>>>,
    pub open: DeletionTime,
    pub close: DeletionTime,
}

#[derive(Debug, Clone)]
#[allow(dead_code, reason = "kept for debugging output")]
pub struct PartitionModel {
    pub key: Vec<u8>,
    pub deletion: DeletionTime,
    pub static_row: Option<RowModel>,
    pub rows: Vec<RowModel>,
    pub markers: Vec<Marker>,
}

fn row_model(h: &SerializationHeader, u: &Unfiltered, is_static: bool) -> RowModel {
    let cols = if is_static { &h.static_columns } else { &h.regular_columns };
    let mut columns: Vec<ColumnModel> = Vec::new();
    for c in &u.cells {
        let Some(col) = cols.get(c.column as usize) else { continue };
        if columns.last().is_none_or(|l| l.name != col.name) {
            columns.push(ColumnModel {
                name: col.name.clone(),
                ty: col.ty.clone(),
                cells: vec![],
                complex_deletion: None,
            });
        }
        if let Some(last) = columns.last_mut() {
            last.cells.push(CellModel {
                path: u.path(c).map(<[u8]>::to_vec),
                value: u.value(c).to_vec(),
                timestamp: c.timestamp,
                ttl: c.ttl,
                ldt: c.local_deletion_time,
                tombstone: c.is_tombstone(),
            });
        }
    }
    for d in &u.complex_deletions {
        let Some(col) = cols.get(d.column as usize) else { continue };
        match columns.iter_mut().find(|c| c.name == col.name) {
            Some(c) => c.complex_deletion = Some(d.deletion),
            None => columns.push(ColumnModel {
                name: col.name.clone(),
                ty: col.ty.clone(),
                cells: vec![],
                complex_deletion: Some(d.deletion),
            }),
        }
    }
    RowModel {
        clustering: (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect(),
        liveness_ts: (!u.liveness.is_empty()).then_some(u.liveness.timestamp),
        liveness_ttl: u.liveness.ttl,
        liveness_exp: u.liveness.local_expiration_time,
        deletion: u.deletion,
        shadowable: u.shadowable_deletion,
        columns,
    }
}

/// Read every partition of `table`.
pub fn read_all(table: &SsTable) -> Result<Vec<PartitionModel>, cairn_format::Error> {
    read_stream(&mut table.scanner()?)
}

/// Read every partition of a stream (one SSTable, or a reconciled merge).
pub fn read_stream(s: &mut dyn PartitionStream) -> Result<Vec<PartitionModel>, cairn_format::Error> {
    let h = s.header().clone();
    let h = &h;
    let mut out = Vec::new();
    while let Some(p) = s.next_partition()? {
        let mut pm = PartitionModel {
            key: p.key.clone(),
            deletion: p.deletion,
            static_row: None,
            rows: vec![],
            markers: vec![],
        };
        pm.static_row = s.static_row().map(|st| row_model(h, st, true));
        while let Some(u) = s.next_unfiltered()? {
            match u.kind() {
                UnfilteredKind::Marker(kind) => pm.markers.push(Marker {
                    kind,
                    prefix: (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect(),
                    open: u.deletion,
                    close: u.close_deletion,
                }),
                _ => pm.rows.push(row_model(h, u, false)),
            }
        }
        out.push(pm);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Comparison

type Check = Result<(), String>;

fn fail<T>(msg: impl Into<String>) -> Result<T, String> {
    Err(msg.into())
}

fn num(j: &J) -> Option<f64> {
    j.as_f64()
}

/// Whether a decoded value matches the manifest's notation.
pub fn value_matches(ty: &CqlType, v: &Value<'_>, e: &J) -> Check {
    let ty = ty.unreversed();
    let mismatch = || Err(format!("value {v:?} does not match expected {e}"));
    if e.is_null() {
        return if matches!(v, Value::Null) { Ok(()) } else { mismatch() };
    }
    if let Some(o) = e.as_object() {
        if let Some(f) = o.get("float32") {
            return match v {
                Value::Float(x) if Some(f64::from(*x)) == num(f).map(|n| f64::from(n as f32)) => Ok(()),
                _ => mismatch(),
            };
        }
        if let Some(h) = o.get("hex") {
            // Raw bytes: blobs, and text whose bytes the manifest spells out.
            let raw: Option<&[u8]> = match v {
                Value::Blob(b) => Some(b),
                Value::Text(t) | Value::Ascii(t) => Some(t.as_bytes()),
                _ => None,
            };
            return match raw {
                Some(b) if Some(hex(b).as_str()) == h.as_str() => Ok(()),
                _ => mismatch(),
            };
        }
        if o.get("empty").is_some() {
            return match v {
                Value::Empty | Value::Text("") | Value::Ascii("") | Value::Blob([]) => Ok(()),
                _ => mismatch(),
            };
        }
        for (tag, items) in [("set", o.get("set")), ("list", o.get("list"))] {
            let Some(items) = items else { continue };
            let Some(items) = items.as_array() else { return mismatch() };
            let (elem, got) = match (ty, v) {
                (CqlType::Set { elem, .. }, Value::Set(g)) | (CqlType::List { elem, .. }, Value::List(g)) => (elem, g),
                _ => return fail(format!("expected a {tag}, got {v:?}")),
            };
            if got.len() != items.len() {
                return fail(format!("{tag} has {} elements, expected {}", got.len(), items.len()));
            }
            for (g, x) in got.iter().zip(items) {
                value_matches(elem, g, x)?;
            }
            return Ok(());
        }
        if let Some(entries) = o.get("map") {
            let Some(entries) = entries.as_array() else { return mismatch() };
            let (CqlType::Map { key, value, .. }, Value::Map(got)) = (ty, v) else {
                return fail(format!("expected a map, got {v:?}"));
            };
            if got.len() != entries.len() {
                return fail(format!("map has {} entries, expected {}", got.len(), entries.len()));
            }
            for ((gk, gv), x) in got.iter().zip(entries) {
                value_matches(key, gk, &x[0])?;
                value_matches(value, gv, &x[1])?;
            }
            return Ok(());
        }
        // A UDT written as an object keyed by field name.
        let (CqlType::Udt(u), Value::Udt(fields)) = (ty, v) else { return fail(format!("expected a UDT, got {v:?}")) };
        for (i, (name, fty)) in u.fields.iter().enumerate() {
            let got = fields.get(i).cloned().unwrap_or(Value::Null);
            match o.get(name) {
                Some(x) => value_matches(fty, &got, x).map_err(|m| format!("field {name}: {m}"))?,
                None => {
                    if !matches!(got, Value::Null) {
                        return fail(format!("field {name} is {got:?}, expected absent"));
                    }
                }
            }
        }
        return Ok(());
    }
    let ok = match (v, e) {
        (Value::Int(x), J::Number(n)) => n.as_i64() == Some(i64::from(*x)),
        (Value::BigInt(x) | Value::Counter(x), J::Number(n)) => n.as_i64() == Some(*x),
        (Value::SmallInt(x), J::Number(n)) => n.as_i64() == Some(i64::from(*x)),
        (Value::TinyInt(x), J::Number(n)) => n.as_i64() == Some(i64::from(*x)),
        (Value::Double(x), J::Number(n)) => n.as_f64() == Some(*x),
        (Value::Float(x), J::Number(n)) => n.as_f64().map(|f| f as f32) == Some(*x),
        (Value::Boolean(x), J::Bool(b)) => x == b,
        (Value::Text(x) | Value::Ascii(x), J::String(s)) => x == s,
        (Value::Uuid(u) | Value::TimeUuid(u), J::String(s)) => format_uuid(u) == *s,
        (Value::Timestamp(ms), J::String(s)) => parse_timestamp_ms(s) == Some(*ms),
        (Value::Date(d), J::String(s)) => format_date(*d) == *s,
        (Value::Time(t), J::String(s)) => parse_time_ns(s) == Some(*t),
        (Value::Varint(b), J::String(s)) => varint_to_string(b) == *s,
        (Value::Varint(b), J::Number(n)) => varint_to_string(b) == n.to_string(),
        (Value::Decimal { scale, unscaled }, J::String(s)) => decimal_to_string(*scale, unscaled) == *s,
        (Value::Duration { months, days, nanos }, J::String(s)) => format_duration(*months, *days, *nanos) == *s,
        (Value::Inet(b), J::String(s)) => format_inet(b) == *s,
        (Value::Blob(b), J::String(s)) => hex(b) == s.trim_start_matches("0x"),
        _ => false,
    };
    if ok { Ok(()) } else { mismatch() }
}

fn decode_or(ty: &CqlType, b: &[u8]) -> Result<Value<'static>, String> {
    // Leak-free: decode into an owned copy via a boxed slice kept alive by the caller's scope.
    let leaked: &'static [u8] = Box::leak(b.to_vec().into_boxed_slice());
    decode(ty, leaked).map_err(|e| format!("{ty}: {e}"))
}

fn key_values(h: &SerializationHeader, key: &[u8]) -> Result<Vec<Value<'static>>, String> {
    let parts = cairn_format::types::value::key_components(&h.key_type, key).map_err(|e| e.to_string())?;
    h.key_components().iter().zip(parts).map(|(t, p)| decode_or(t, p)).collect()
}

/// Whether a partition key matches the expected `key`.
pub fn key_matches(h: &SerializationHeader, key: &[u8], e: &J) -> Check {
    let vals = key_values(h, key)?;
    let types = h.key_components();
    match e.as_array() {
        Some(list) if types.len() > 1 => {
            if list.len() != vals.len() {
                return fail("key component count differs");
            }
            for ((t, v), x) in types.iter().zip(&vals).zip(list) {
                value_matches(t, v, x)?;
            }
            Ok(())
        }
        _ => value_matches(types.first().unwrap_or(&CqlType::Blob), vals.first().unwrap_or(&Value::Null), e),
    }
}

fn deletion_matches(d: &DeletionTime, e: &J) -> Check {
    let ts = e["timestamp"].as_i64();
    let ldt = e["local_deletion_time"].as_i64();
    if ts.is_some_and(|t| t != d.marked_for_delete_at) || ldt.is_some_and(|l| l != d.local_deletion_time) {
        return fail(format!("deletion {d:?} does not match {e}"));
    }
    Ok(())
}

fn clustering_matches(h: &SerializationHeader, values: &[Option<Vec<u8>>], e: &J) -> Check {
    let list = e.as_array().ok_or("ck is not a list")?;
    // COMPACT STORAGE rows may have a clustering prefix: the missing trailing values are null.
    let values = match values.iter().rposition(Option::is_some) {
        Some(last) if list.len() < values.len() && last < list.len() => values.get(..list.len()).unwrap_or(values),
        _ => values,
    };
    if list.len() != values.len() {
        return fail(format!("clustering has {} values, expected {}", values.len(), list.len()));
    }
    for (i, (v, x)) in values.iter().zip(list).enumerate() {
        let ty = h.clustering_types.get(i).unwrap_or(&CqlType::Blob);
        match v {
            None => {
                if !x.is_null() {
                    return fail("null clustering value");
                }
            }
            Some(b) => value_matches(ty, &decode_or(ty, b)?, x)?,
        }
    }
    Ok(())
}

/// The CQL value a (possibly complex) column shows.
fn column_value(col: &ColumnModel) -> Result<Value<'static>, String> {
    if !col.ty.is_multi_cell() {
        let c = col.cells.first().ok_or("no cell")?;
        if col.ty.is_counter() {
            let shards = counter_shards(&c.value).map_err(|e| e.to_string())?;
            return Ok(Value::Counter(shards.iter().map(|s| s.count).sum()));
        }
        return decode_or(&col.ty, &c.value);
    }
    let live: Vec<&CellModel> = col.cells.iter().filter(|c| !c.tombstone).collect();
    Ok(match &col.ty {
        CqlType::Set { elem, .. } => Value::Set(
            live.iter().map(|c| decode_or(elem, c.path.as_deref().unwrap_or_default())).collect::<Result<_, _>>()?,
        ),
        CqlType::List { elem, .. } => {
            Value::List(live.iter().map(|c| decode_or(elem, &c.value)).collect::<Result<_, _>>()?)
        }
        CqlType::Map { key, value, .. } => Value::Map(
            live.iter()
                .map(|c| Ok((decode_or(key, c.path.as_deref().unwrap_or_default())?, decode_or(value, &c.value)?)))
                .collect::<Result<_, String>>()?,
        ),
        CqlType::Udt(u) => {
            let mut fields = vec![Value::Null; u.fields.len()];
            for c in live {
                let idx =
                    c.path.as_deref().and_then(|p| <[u8; 2]>::try_from(p).ok()).map(|b| i16::from_be_bytes(b) as usize);
                if let Some(i) = idx
                    && let Some((_, t)) = u.fields.get(i)
                {
                    fields[i] = decode_or(t, &c.value)?;
                }
            }
            Value::Udt(fields)
        }
        t => return fail(format!("unexpected complex type {t}")),
    })
}

const CELL_META: &[&str] = &[
    "value",
    "timestamp",
    "ttl",
    "local_expiration_time",
    "deleted",
    "local_deletion_time",
    "element_timestamp",
    "collection_deletion",
    "cell_path_timeuuid",
    "counter_total",
    "shards",
    "context_header",
];

fn cell_matches(col: &ColumnModel, e: &J) -> Check {
    let o = e.as_object();
    let is_meta = o.is_some_and(|o| o.keys().any(|k| CELL_META.contains(&k.as_str())));
    let first = col.cells.first();
    if !is_meta {
        if first.is_some_and(|c| c.tombstone) {
            return fail("cell is a tombstone, expected a value");
        }
        return value_matches(&col.ty, &column_value(col)?, e);
    }
    let o = o.ok_or("not an object")?;
    if o.get("deleted").and_then(J::as_bool) == Some(true) {
        let c = first.ok_or("no cell")?;
        if !c.tombstone {
            return fail("expected a cell tombstone");
        }
        if o.get("timestamp").unwrap_or(&J::Null).as_i64().is_some_and(|t| t != c.timestamp)
            || o.get("local_deletion_time").unwrap_or(&J::Null).as_i64().is_some_and(|l| l != c.ldt)
        {
            return fail(format!("tombstone ts {} ldt {} does not match {e}", c.timestamp, c.ldt));
        }
        return Ok(());
    }
    if let Some(total) = o.get("counter_total") {
        let c = first.ok_or("no cell")?;
        let shards = counter_shards(&c.value).map_err(|e| e.to_string())?;
        let sum: i64 = shards.iter().map(|s| s.count).sum();
        if total.as_i64() != Some(sum) {
            return fail(format!("counter total {sum}, expected {total}"));
        }
        if let Some(exp) = o.get("shards").and_then(J::as_array) {
            if exp.len() != shards.len() {
                return fail("counter shard count differs");
            }
            for (s, x) in shards.iter().zip(exp) {
                if Some(format_uuid(&s.counter_id).as_str()) != x["counter_id"].as_str()
                    || x["value"].as_i64() != Some(s.count)
                    || x["clock"].as_i64() != Some(s.clock)
                {
                    return fail(format!("shard {s:?} does not match {x}"));
                }
            }
        }
        if o.get("timestamp").unwrap_or(&J::Null).as_i64().is_some_and(|t| t != c.timestamp) {
            return fail("counter timestamp differs");
        }
        return Ok(());
    }
    if let Some(d) = o.get("collection_deletion") {
        deletion_matches(&col.complex_deletion.ok_or("no collection deletion")?, d)?;
    }
    if let Some(t) = o.get("element_timestamp").and_then(J::as_i64)
        && col.cells.iter().any(|c| c.timestamp != t)
    {
        return fail("element timestamps differ");
    }
    if let Some(u) = o.get("cell_path_timeuuid").and_then(J::as_str) {
        let p = col.cells.first().and_then(|c| c.path.clone()).unwrap_or_default();
        if <[u8; 16]>::try_from(p.as_slice()).map(|b| format_uuid(&b)).ok().as_deref() != Some(u) {
            return fail("list cell path differs");
        }
    }
    if o.contains_key("set") || o.contains_key("list") || o.contains_key("map") {
        let mut only = serde_json::Map::new();
        for k in ["set", "list", "map"] {
            if let Some(v) = o.get(k) {
                only.insert(k.to_string(), v.clone());
            }
        }
        return value_matches(&col.ty, &column_value(col)?, &J::Object(only));
    }
    if let Some(v) = o.get("value") {
        value_matches(&col.ty, &column_value(col)?, v)?;
    }
    let c = first.ok_or("no cell")?;
    if o.get("timestamp").unwrap_or(&J::Null).as_i64().is_some_and(|t| t != c.timestamp) {
        return fail(format!("cell timestamp {} differs from {e}", c.timestamp));
    }
    if o.get("ttl").unwrap_or(&J::Null).as_i64().is_some_and(|t| t != i64::from(c.ttl))
        || o.get("local_expiration_time").unwrap_or(&J::Null).as_i64().is_some_and(|t| t != c.ldt)
    {
        return fail(format!("cell ttl {} / expiry {} differ from {e}", c.ttl, c.ldt));
    }
    Ok(())
}

fn cells_match(row: &RowModel, e: &J) -> Check {
    let Some(cells) = e.as_object() else { return Ok(()) };
    let got: Vec<&str> = row.columns.iter().map(|c| c.name.as_str()).collect();
    let mut want: Vec<&str> = cells.keys().map(String::as_str).collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    want.sort();
    if got_sorted != want {
        return fail(format!("columns {got_sorted:?}, expected {want:?}"));
    }
    for (name, spec) in cells {
        let col = row.columns.iter().find(|c| &c.name == name).ok_or("missing column")?;
        cell_matches(col, spec).map_err(|m| format!("column {name}: {m}"))?;
    }
    Ok(())
}

fn row_matches(h: &SerializationHeader, row: &RowModel, e: &J) -> Check {
    if let Some(ck) = e.get("ck") {
        clustering_matches(h, &row.clustering, ck)?;
    }
    cells_match(row, &e["cells"])?;
    if let Some(t) = e.get("liveness_timestamp").and_then(J::as_i64)
        && row.liveness_ts != Some(t)
    {
        return fail(format!("liveness timestamp {:?}, expected {t}", row.liveness_ts));
    }
    if let Some(l) = e.get("liveness")
        && (row.liveness_ts != l["timestamp"].as_i64()
            || l["ttl"].as_i64().is_some_and(|t| t != i64::from(row.liveness_ttl))
            || l["local_expiration_time"].as_i64().is_some_and(|t| t != row.liveness_exp))
    {
        return fail(format!(
            "liveness ({:?}, {}, {}) differs from {l}",
            row.liveness_ts, row.liveness_ttl, row.liveness_exp
        ));
    }
    if let Some(t) = e.get("cell_timestamp").and_then(J::as_i64)
        && row.columns.iter().flat_map(|c| &c.cells).any(|c| c.timestamp != t)
    {
        return fail("cell timestamps differ");
    }
    if let Some(d) = e.get("shadowable_deletion") {
        if row.shadowable.is_live() {
            return fail("expected a shadowable deletion");
        }
        deletion_matches(&row.shadowable, d)?;
    }
    if let Some(d) = e.get("row_deletion") {
        deletion_matches(&row.deletion, d)?;
    }
    Ok(())
}

/// A clustering prefix as read.
type Prefix = Vec<Option<Vec<u8>>>;
/// A range tombstone: start prefix, start inclusive, end prefix, end inclusive, deletion.
type RangeTombstone = (Prefix, bool, Prefix, bool, DeletionTime);

fn range_tombstones(p: &PartitionModel) -> Vec<RangeTombstone> {
    let mut out = Vec::new();
    let mut open: Option<(Prefix, bool, DeletionTime)> = None;
    for m in &p.markers {
        let (end_incl, start_incl) = m.kind.inclusivity();
        if m.kind.is_close()
            && let Some((s, si, d)) = open.take()
        {
            out.push((s, si, m.prefix.clone(), end_incl, d));
        }
        if m.kind.is_open() {
            open = Some((m.prefix.clone(), start_incl, m.open));
        }
    }
    out
}

/// Compare one partition.
pub fn partition_matches(h: &SerializationHeader, p: &PartitionModel, e: &J) -> Check {
    key_matches(h, &p.key, &e["key"]).map_err(|m| format!("key: {m}"))?;
    if let Some(st) = e.get("static") {
        let row = p.static_row.as_ref().ok_or("expected a static row")?;
        cells_match(row, st).map_err(|m| format!("static row: {m}"))?;
    } else if p.static_row.is_some() {
        return fail("unexpected static row");
    }
    if let Some(rows) = e.get("rows").and_then(J::as_array) {
        if rows.len() != p.rows.len() {
            return fail(format!("{} rows, expected {}", p.rows.len(), rows.len()));
        }
        for (i, (r, x)) in p.rows.iter().zip(rows).enumerate() {
            row_matches(h, r, x).map_err(|m| format!("row {i}: {m}"))?;
        }
    }
    if let Some(g) = e.get("rows_generated")
        && let Some(n) = g["count"].as_u64()
        && p.rows.len() as u64 != n
    {
        return fail(format!("{} rows, expected {n}", p.rows.len()));
    }
    let rts = range_tombstones(p);
    if let Some(n) = e.get("count_range_tombstones").and_then(J::as_u64)
        && rts.len() as u64 != n
    {
        return fail(format!("{} range tombstones, expected {n}", rts.len()));
    }
    if let Some(list) = e.get("range_tombstones").and_then(J::as_array) {
        if list.len() != rts.len() {
            return fail(format!("{} range tombstones, expected {}", rts.len(), list.len()));
        }
        for (i, ((s, si, en, ei, d), x)) in rts.iter().zip(list).enumerate() {
            let ctx = |m: String| format!("range tombstone {i}: {m}");
            let start = &x["start"];
            if start.is_null() {
                if !s.is_empty() {
                    return fail(ctx("expected an open start".into()));
                }
            } else {
                clustering_matches(h, s, &start["ck"]).map_err(ctx)?;
                if start["inclusive"].as_bool() != Some(*si) {
                    return fail(ctx("start inclusivity differs".into()));
                }
            }
            let end = &x["end"];
            if end.is_null() {
                if !en.is_empty() {
                    return fail(ctx("expected an open end".into()));
                }
            } else {
                clustering_matches(h, en, &end["ck"]).map_err(ctx)?;
                if end["inclusive"].as_bool() != Some(*ei) {
                    return fail(ctx("end inclusivity differs".into()));
                }
            }
            deletion_matches(d, &x["deletion"]).map_err(ctx)?;
        }
    }
    Ok(())
}

/// Compare an ordered list of partitions.
pub fn partitions_match(h: &SerializationHeader, got: &[PartitionModel], expected: &[J], ordered: bool) -> Check {
    if got.len() != expected.len() {
        return fail(format!("{} partitions, expected {}", got.len(), expected.len()));
    }
    if ordered {
        for (i, (p, e)) in got.iter().zip(expected).enumerate() {
            partition_matches(h, p, e).map_err(|m| format!("partition {i}: {m}"))?;
        }
    } else {
        for (i, e) in expected.iter().enumerate() {
            let p = got
                .iter()
                .find(|p| key_matches(h, &p.key, &e["key"]).is_ok())
                .ok_or(format!("partition {i} with key {} not found", e["key"]))?;
            partition_matches(h, p, e).map_err(|m| format!("partition {i}: {m}"))?;
        }
    }
    Ok(())
}
