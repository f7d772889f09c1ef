//! One table's reconciled partitions as CQL statements — the restore's translation rules.
//!
//! A partition becomes, in order: its partition deletion (`DELETE ... WHERE key`), its static
//! row, then its rows and range tombstones in clustering order. Every statement carries the
//! original write time (`USING TIMESTAMP`, or the rebased/now time of `--timestamp-mode`) and
//! the remaining TTL (`USING TTL`, computed against the load's clock), so each statement is
//! idempotent and the order between partitions never matters.
//!
//! Statements are prepared, not literal: each distinct text (with `?` markers) is prepared once
//! per table and every statement binds its values — keys, clustering values, cells, timestamp
//! and TTL — as the bytes the SSTable holds (a cell's serialization is the native protocol's,
//! Cassandra's `TypeSerializer`s serve both), so neither side formats or parses a literal. Only
//! what the source row has is bound: a statement names exactly the columns it writes, never
//! binds an unset column as null (a bound null writes a tombstone in Cassandra), and rows with
//! different column sets use different statements, as drivers prepare per column set.
//!
//! - A row marker is an `INSERT` of the primary key, with the simple cells written together with
//!   it (same timestamp and expiry: the original INSERT) folded in.
//! - Other cells are `UPDATE ... SET`: a map entry `m[k] = v`, a set element `s = s + {e}`, a UDT
//!   field `u.f = v`; list elements are appended (`l = l + [..]`, consecutive elements of one write
//!   together), since CQL cannot set a list cell's path (a timeuuid the coordinator assigns).
//! - Deletions: partition, row and range tombstones are `DELETE`s (a range as the one slice CQL
//!   can express: a common clustering prefix of equalities, then bounds on the next column);
//!   a collection tombstone is `DELETE col`; a cell tombstone `DELETE col` / `DELETE m[k]` /
//!   `s = s - {e}`. A cell expired at the load's time is written as the tombstone it has become.
//! - CQL cannot set a deletion's local deletion time: the target stamps the load's time, which
//!   restarts the restored tombstone's `gc_grace_seconds` (Cassandra's `DeletionTime` keeps both,
//!   db/DeletionTime.java; a CQL write takes the local time from the statement's execution,
//!   cql3/UpdateParameters.java).
//!
//! Counting ([`TableLoad`]): `rows` counts rows as a CQL `SELECT` returns them — each clustering
//! row written with a live marker or cell, and a partition with static content but no such row
//! as one row (Cassandra's SELECT returns it with null clustering columns: processPartition in
//! cql3/statements/SelectStatement.java); deletions are counted apart, in `tombstones`.

use std::collections::HashMap;
use std::rc::Rc;

use cairn_format::clustering::BoundKind;
use cairn_format::data::{PartitionStream, Unfiltered, UnfilteredKind};
use cairn_format::deletion::DeletionTime;
use cairn_format::reconcile::Merger;
use cairn_format::schema::TableSchema;
use cairn_format::statistics::{HeaderColumn, SerializationHeader};
use cairn_format::types::CqlType;
use cairn_format::types::render;
use cairn_format::types::value::{Value, decode, key_components};

use crate::{LoadError, LoadOptions, TableLoad, TimestampMode};

/// A CQL literal of any value (collections, tuples and UDTs included).
pub fn literal(ty: &CqlType, v: &Value<'_>) -> String {
    let ty = ty.unreversed();
    let join = |items: Vec<String>| items.join(", ");
    match (ty, v) {
        (_, Value::Null) => "null".into(),
        (CqlType::List { elem, .. } | CqlType::Vector { elem, .. }, Value::List(items) | Value::Vector(items)) => {
            format!("[{}]", join(items.iter().map(|x| literal(elem, x)).collect()))
        }
        (CqlType::Set { elem, .. }, Value::Set(items)) => {
            format!("{{{}}}", join(items.iter().map(|x| literal(elem, x)).collect()))
        }
        (CqlType::Map { key, value, .. }, Value::Map(pairs)) => format!(
            "{{{}}}",
            join(pairs.iter().map(|(k, x)| format!("{}: {}", literal(key, k), literal(value, x))).collect())
        ),
        (CqlType::Tuple(types), Value::Tuple(items)) => {
            format!("({})", join(items.iter().zip(types).map(|(x, t)| literal(t, x)).collect()))
        }
        (CqlType::Udt(u), Value::Udt(items)) => format!(
            "{{{}}}",
            join(
                u.fields
                    .iter()
                    .zip(items)
                    .map(|((n, t), x)| format!("{}: {}", render::maybe_quote_identifier(n), literal(t, x)))
                    .collect()
            )
        ),
        (_, Value::Empty) => "null".into(),
        _ => render::to_cql_literal(ty, v),
    }
}

/// Values bound to a statement's markers, in the markers' order, laid out as the native protocol
/// sends them: each a 4-byte length (-1: null) and its bytes.
///
/// A cell's value on disk is serialized as the native protocol serializes a value of its type
/// (Cassandra's `TypeSerializer`s serve both; collections in the v3+ layout), so the bytes read
/// from the SSTable are bound as they are. A value that is empty where its type has a fixed size
/// (an empty `int`) is bound as null: the null its literal was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Values {
    /// How many values.
    pub count: usize,
    /// The values, each with its length.
    pub bytes: Vec<u8>,
}

impl Values {
    fn with_capacity(n: usize) -> Values {
        Values { count: 0, bytes: Vec::with_capacity(n) }
    }

    /// Bind `v` (`None`: null).
    fn push(&mut self, v: Option<&[u8]>) {
        self.count += 1;
        match v {
            Some(b) => {
                self.bytes.extend_from_slice(&(b.len() as i32).to_be_bytes());
                self.bytes.extend_from_slice(b);
            }
            None => self.bytes.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// Bind every value of `other`, after these.
    fn extend(&mut self, other: &Values) {
        self.count += other.count;
        self.bytes.extend_from_slice(&other.bytes);
    }

    /// A timestamp bound to `USING TIMESTAMP ?` (a `bigint`).
    fn bigint(&mut self, v: i64) {
        self.push(Some(&v.to_be_bytes()));
    }

    /// A TTL bound to `USING TTL ?` (an `int`). A remaining TTL is at most the original one (at
    /// most 20 years); a larger one is bound as `i32::MAX`, which the target refuses as too
    /// large, as it refused the literal.
    fn int(&mut self, v: i64) {
        self.push(Some(&i32::try_from(v).unwrap_or(i32::MAX).to_be_bytes()));
    }

    /// A set or list of one element (v3+ layout: the count, then each element with its length).
    fn collection_of(&mut self, e: &[u8]) {
        self.count += 1;
        self.bytes.extend_from_slice(&((8 + e.len()) as i32).to_be_bytes());
        self.bytes.extend_from_slice(&1i32.to_be_bytes());
        self.bytes.extend_from_slice(&(e.len() as i32).to_be_bytes());
        self.bytes.extend_from_slice(e);
    }

    /// Append an element to the collection made by [`Values::collection_of`] at byte `at`.
    fn push_element(&mut self, at: usize, e: &[u8]) {
        let read = |b: &[u8], at: usize| b.get(at..at + 4).map(|x| i32::from_be_bytes([x[0], x[1], x[2], x[3]]));
        let (Some(len), Some(n)) = (read(&self.bytes, at), read(&self.bytes, at + 4)) else { return };
        let end = at + 4 + len as usize;
        let mut add = Vec::with_capacity(4 + e.len());
        add.extend_from_slice(&(e.len() as i32).to_be_bytes());
        add.extend_from_slice(e);
        self.bytes.splice(end..end, add);
        self.bytes[at..at + 4].copy_from_slice(&(len + 4 + e.len() as i32).to_be_bytes());
        self.bytes[at + 4..at + 8].copy_from_slice(&(n + 1).to_be_bytes());
    }

    /// The values one by one (`None`: null).
    pub fn iter(&self) -> impl Iterator<Item = Option<&[u8]>> {
        let mut at = 0;
        std::iter::from_fn(move || {
            let len = self.bytes.get(at..at + 4).map(|x| i32::from_be_bytes([x[0], x[1], x[2], x[3]]))?;
            at += 4;
            if len < 0 {
                return Some(None);
            }
            let v = self.bytes.get(at..at + len as usize)?;
            at += len as usize;
            Some(Some(v))
        })
    }
}

/// One statement: its shape (the CQL text with `?` markers, an index into [`Writer::shapes`])
/// and the values bound to its markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stmt {
    /// Index of the statement's text in [`Writer::shapes`].
    pub shape: u32,
    /// The bound values.
    pub values: Values,
}

impl Stmt {
    /// The bytes its bound values take in a request: each value's 4-byte length, then the value.
    pub fn bytes(&self) -> u64 {
        self.values.bytes.len() as u64
    }
}

/// Whether a value binds as itself or as null (see [`Values`]).
fn bound<'b>(v: &Value<'_>, b: &'b [u8]) -> Option<&'b [u8]> {
    if matches!(v, Value::Empty) { None } else { Some(b) }
}

/// A source table and where it goes: the target's names, the source schema and header.
pub(crate) struct TableCtx {
    /// Target keyspace.
    pub keyspace: String,
    /// Target table.
    pub table: String,
    /// The source schema.
    pub schema: TableSchema,
    /// The source's serialization header (the columns the cells index).
    pub header: SerializationHeader,
    /// Source column renames.
    pub renames: Vec<(String, String)>,
}

impl TableCtx {
    /// `keyspace.table` as given (for messages).
    pub fn name(&self) -> String {
        format!("{}.{}", self.keyspace, self.table)
    }

    /// `keyspace.table` quoted for CQL.
    pub fn qname(&self) -> String {
        format!("{}.{}", render::maybe_quote_identifier(&self.keyspace), render::maybe_quote_identifier(&self.table))
    }

    /// A target column name, renamed and quoted for CQL.
    pub fn col(&self, name: &str) -> String {
        let n = self.renames.iter().find(|(a, _)| a == name).map_or(name, |(_, b)| b.as_str());
        render::maybe_quote_identifier(n)
    }

    /// Decode `b` as `ty`: `what` names it in an error.
    fn decode<'a>(
        &self,
        key: &[u8],
        what: impl FnOnce() -> String,
        ty: &CqlType,
        b: &'a [u8],
    ) -> Result<Value<'a>, LoadError> {
        decode(ty, b).map_err(|source| LoadError::Decode {
            table: self.name(),
            key: render::hex(key),
            what: what(),
            source: Box::new(source),
        })
    }

    /// Decode `b` as `ty` (checking it) and bind it to `out`.
    fn bind(
        &self,
        key: &[u8],
        what: impl FnOnce() -> String,
        ty: &CqlType,
        b: &[u8],
        out: &mut Values,
    ) -> Result<(), LoadError> {
        out.push(bound(&self.decode(key, what, ty, b)?, b));
        Ok(())
    }

    /// The values of a partition key's columns.
    fn key_values(&self, key: &[u8]) -> Result<Values, LoadError> {
        let parts = key_components(&self.header.key_type, key).map_err(|source| LoadError::Decode {
            table: self.name(),
            key: render::hex(key),
            what: "partition key".into(),
            source: Box::new(source),
        })?;
        let mut out = Values::with_capacity(key.len() + 4 * parts.len());
        for (c, b) in self.schema.partition_key.iter().zip(parts) {
            self.bind(key, || format!("partition key {}", c.name), &c.ty, b, &mut out)?;
        }
        Ok(out)
    }

    /// The first `n` clustering values of `u`, bound to `out`.
    fn clustering_values(&self, key: &[u8], u: &Unfiltered, n: usize, out: &mut Values) -> Result<(), LoadError> {
        for i in 0..n {
            let (c, _) = self.schema.clustering.get(i).ok_or_else(|| LoadError::ClusteringBeyondSchema {
                table: self.name(),
                key: render::hex(key),
                index: i,
            })?;
            let Some(b) = u.clustering_value(i) else {
                return Err(LoadError::NullClustering {
                    table: self.name(),
                    key: render::hex(key),
                    column: c.name.clone(),
                });
            };
            self.bind(key, || format!("clustering {}", c.name), &c.ty, b, out)?;
        }
        Ok(())
    }
}

/// The CQL names of a table, made once: the qualified table, its columns (renamed, quoted), and
/// the WHERE clause naming each clustering prefix.
struct Names {
    /// `keyspace.table`, quoted.
    qname: String,
    /// Partition key, then clustering columns.
    primary: Vec<String>,
    /// Partition key columns.
    keys: usize,
    /// Static columns, by header index.
    statics: Vec<String>,
    /// Regular columns, by header index.
    regulars: Vec<String>,
    /// `k = ? AND c1 = ? ...`: the partition key and the first `n` clustering columns, at `n`.
    where_: Vec<String>,
    /// The header's static and regular columns.
    static_defs: Vec<HeaderColumn>,
    regular_defs: Vec<HeaderColumn>,
}

impl Names {
    fn new(ctx: &TableCtx) -> Names {
        let primary: Vec<String> = ctx
            .schema
            .partition_key
            .iter()
            .map(|c| ctx.col(&c.name))
            .chain(ctx.schema.clustering.iter().map(|(c, _)| ctx.col(&c.name)))
            .collect();
        let keys = ctx.schema.partition_key.len();
        let where_ = (0..=ctx.schema.clustering.len())
            .map(|n| primary.iter().take(keys + n).map(|c| format!("{c} = ?")).collect::<Vec<_>>().join(" AND "))
            .collect();
        Names {
            qname: ctx.qname(),
            statics: ctx.header.static_columns.iter().map(|c| ctx.col(&c.name)).collect(),
            regulars: ctx.header.regular_columns.iter().map(|c| ctx.col(&c.name)).collect(),
            primary,
            keys,
            where_,
            static_defs: ctx.header.static_columns.clone(),
            regular_defs: ctx.header.regular_columns.clone(),
        }
    }

    /// The WHERE clause of the partition key and `n` clustering columns.
    fn where_n(&self, n: usize) -> &str {
        self.where_.get(n).map_or("", String::as_str)
    }

    /// [`Names::where_n`], then bounds on the next clustering column (`open`, `close`: indexes
    /// in [`OPS`], 0 for none).
    fn slice(&self, n: usize, open: usize, close: usize) -> String {
        let mut w = self.where_n(n).to_string();
        let name = self.primary.get(self.keys + n).map_or("", String::as_str);
        for op in [open, close] {
            if let Some(op) = OPS.get(op).filter(|o| !o.is_empty()) {
                w.push_str(&format!(" AND {name} {op} ?"));
            }
        }
        w
    }

    /// A static or regular column's name, by header index.
    fn column(&self, is_static: bool, i: u16) -> &str {
        let names = if is_static { &self.statics } else { &self.regulars };
        names.get(i as usize).map_or("", String::as_str)
    }

    /// The quoted name of field `i` of a UDT column.
    fn field(&self, is_static: bool, column: u16, i: u16) -> String {
        let defs = if is_static { &self.static_defs } else { &self.regular_defs };
        match defs.get(column as usize).map(|c| c.ty.unreversed()) {
            Some(CqlType::Udt(u)) => {
                u.fields.get(i as usize).map_or(String::new(), |(n, _)| render::maybe_quote_identifier(n))
            }
            _ => String::new(),
        }
    }
}

/// `USING TIMESTAMP ?`, with `AND TTL ?` when a TTL is bound.
fn using(ttl: bool) -> &'static str {
    if ttl { "USING TIMESTAMP ? AND TTL ?" } else { "USING TIMESTAMP ?" }
}

/// `?, ?, ...`: `n` markers.
fn markers(n: usize) -> String {
    let mut s = String::with_capacity(3 * n);
    for i in 0..n {
        s.push_str(if i == 0 { "?" } else { ", ?" });
    }
    s
}

/// Turns one table's reconciled partitions into CQL statements, counting what it writes.
pub(crate) struct Writer<'o> {
    /// The table.
    pub ctx: TableCtx,
    names: Rc<Names>,
    o: &'o LoadOptions,
    /// `--timestamp-mode rebase`: added to every timestamp.
    shift: i64,
    /// The load's time (µs), for `--timestamp-mode now`.
    now_us: i64,
    /// The counts so far.
    pub stats: TableLoad,
    /// The key of the partition being written (for errors).
    key: Vec<u8>,
    /// The statements' texts (with markers), each once, in the order they first appeared.
    pub shapes: Vec<String>,
    /// Per shape: a list append, which must not be sent twice (see [`APPEND`]).
    pub appending: Vec<bool>,
    /// Shapes by what determines their text (see [`Writer::shape`]), so a statement's text is
    /// made only the first time.
    shape_ids: HashMap<Vec<u16>, u32>,
}

/// A slice bound's operator in a shape key: none, `>`, `>=`, `<`, `<=`.
const OPS: [&str; 5] = ["", ">", ">=", "<", "<="];

/// What a DELETE deletes: rows (by its WHERE clause), a column, or a map element.
#[derive(Clone, Copy)]
enum Deleted {
    Rows,
    Column { is_static: bool, column: u16 },
    MapElement { is_static: bool, column: u16 },
}

/// What an UPDATE sets (shape key codes).
const SET: u16 = 0;
const SET_MAP: u16 = 1;
const ADD: u16 = 2;
const REMOVE: u16 = 3;
const SET_FIELD: u16 = 4;
/// `l = l + ?` on a list: the coordinator gives each element a new cell path, so sending it
/// twice appends twice (not idempotent).
const APPEND: u16 = 5;

impl<'o> Writer<'o> {
    /// A writer of `ctx`'s partitions; `max_ts` is the newest write timestamp in the input (µs),
    /// which `--timestamp-mode rebase` moves to just after `now_us`.
    pub fn new(ctx: TableCtx, o: &'o LoadOptions, max_ts: i64, now_us: i64, stats: TableLoad) -> Writer<'o> {
        let names = Rc::new(Names::new(&ctx));
        Writer {
            ctx,
            names,
            o,
            shift: now_us - max_ts + 1,
            now_us,
            stats,
            key: Vec::new(),
            shapes: Vec::new(),
            appending: Vec::new(),
            shape_ids: HashMap::new(),
        }
    }

    /// The shape whose text `text` makes; `key` says everything the text depends on.
    fn shape(&mut self, key: &[u16], text: impl FnOnce(&Names) -> String) -> u32 {
        if let Some(&i) = self.shape_ids.get(key) {
            return i;
        }
        let i = self.shapes.len() as u32;
        self.shapes.push(text(&self.names));
        self.appending.push(false);
        self.shape_ids.insert(key.to_vec(), i);
        i
    }

    /// The statements of the partition `merger` is positioned on (its header already read),
    /// consuming its rows, and its counts.
    pub fn partition(
        &mut self,
        merger: &mut Merger,
        key: &[u8],
        deletion: &DeletionTime,
    ) -> Result<Vec<Stmt>, LoadError> {
        self.key = key.to_vec();
        let key_values = self.ctx.key_values(key)?;
        let mut stmts = Vec::new();
        let rows_before = self.stats.rows;
        self.deletion(&mut stmts, Deleted::Rows, None, deletion, (0, 0, 0), &key_values);
        let mut live_static = false;
        if let Some(st) = merger.static_row().cloned() {
            live_static = self.row(&mut stmts, &key_values, &st, true)?;
        }
        let mut open: Option<Unfiltered> = None;
        while let Some(u) = merger.next_unfiltered()? {
            match u.kind() {
                UnfilteredKind::Marker(k) => {
                    if k.is_close()
                        && let Some(start) = open.take()
                    {
                        let d = start.deletion;
                        self.range(&mut stmts, &key_values, &start, u, &d)?;
                    }
                    if k.is_open() {
                        open = Some(u.clone());
                    }
                }
                _ => {
                    self.row(&mut stmts, &key_values, u, false)?;
                }
            }
        }
        // CQL returns a partition with static content and no row as one row (its clustering
        // columns null): count it as SELECT does.
        if live_static && self.stats.rows == rows_before {
            self.stats.rows += 1;
        }
        self.stats.partitions += 1;
        self.stats.statements += stmts.len() as u64;
        Ok(stmts)
    }

    /// The timestamp to write, or `None` when `--as-of` skips it.
    fn ts(&mut self, t: i64) -> Option<i64> {
        if self.o.as_of.is_some_and(|a| t > a) {
            self.stats.skipped_newer += 1;
            return None;
        }
        Some(match self.o.timestamp_mode {
            TimestampMode::Preserve => t,
            TimestampMode::Rebase => t + self.shift,
            TimestampMode::Now => self.now_us,
        })
    }

    /// The TTL to bind, unless `--drop-ttl`.
    fn ttl(&self, ttl: Option<i64>) -> Option<i64> {
        ttl.filter(|_| !self.o.drop_ttl)
    }

    /// A deletion, unless live (or skipped by `--as-of`): see [`Writer::delete_at`].
    fn deletion(
        &mut self,
        out: &mut Vec<Stmt>,
        what: Deleted,
        element: Option<Option<&[u8]>>,
        d: &DeletionTime,
        where_: (usize, usize, usize),
        where_values: &Values,
    ) {
        if d.is_live() {
            return;
        }
        if let Some(ts) = self.deletion_ts(d.marked_for_delete_at) {
            self.delete_at(out, what, element, ts, where_, where_values);
        }
    }

    /// The timestamp to delete at ([`Self::ts`]). With `--timestamp-mode now`, one microsecond
    /// before the writes: whatever is live in the source is newer than every deletion covering it
    /// (that is why it is live), and at one shared timestamp the deletions would win the tie (a
    /// tombstone wins a timestamp tie) and drop it, whole collections included (a collection
    /// written whole carries a deletion of the collection just before it).
    fn deletion_ts(&mut self, t: i64) -> Option<i64> {
        let ts = self.ts(t)?;
        Some(if self.o.timestamp_mode == TimestampMode::Now { ts - 1 } else { ts })
    }

    /// `DELETE [col | m[?]] FROM t USING TIMESTAMP ? WHERE ...` at `ts`, binding the map key
    /// `element`, the timestamp, then `where_values`. `where_`: the clustering columns restricted
    /// by equality, and the operators (indexes in [`OPS`]) bounding the next one.
    fn delete_at(
        &mut self,
        out: &mut Vec<Stmt>,
        what: Deleted,
        element: Option<Option<&[u8]>>,
        ts: i64,
        where_: (usize, usize, usize),
        where_values: &Values,
    ) {
        let (n, open, close) = where_;
        let (kind, is_static, column) = match what {
            Deleted::Rows => (0, false, 0),
            Deleted::Column { is_static, column } => (1, is_static, column),
            Deleted::MapElement { is_static, column } => (2, is_static, column),
        };
        let key = [0, kind, u16::from(is_static), column, n as u16, open as u16, close as u16];
        let shape = self.shape(&key, |names| {
            let cols = match what {
                Deleted::Rows => String::new(),
                Deleted::Column { .. } => format!("{} ", names.column(is_static, column)),
                Deleted::MapElement { .. } => format!("{}[?] ", names.column(is_static, column)),
            };
            format!("DELETE {cols}FROM {} USING TIMESTAMP ? WHERE {}", names.qname, names.slice(n, open, close))
        });
        let mut values = Values::with_capacity(16 + where_values.bytes.len());
        if let Some(e) = element {
            values.push(e);
        }
        values.bigint(ts);
        values.extend(where_values);
        out.push(Stmt { shape, values });
        self.stats.tombstones += 1;
    }

    /// The field of `udt` a cell of column `column` names by its path: one the type has, or an
    /// error (its value would otherwise be dropped).
    fn udt_field(&self, column: &str, udt: &cairn_format::types::UdtType, path: &[u8]) -> Result<u16, LoadError> {
        cairn_format::types::value::udt_field_index(path)
            .filter(|i| *i < udt.fields.len())
            .and_then(|i| u16::try_from(i).ok())
            .ok_or_else(|| self.no_field(column, path))
    }

    fn no_field(&self, column: &str, path: &[u8]) -> LoadError {
        LoadError::UdtFieldBeyondType {
            table: self.ctx.name(),
            key: render::hex(&self.key),
            column: column.to_string(),
            field: cairn_format::types::value::udt_field_index(path)
                .map_or_else(|| render::hex(path), |i| i.to_string()),
        }
    }

    /// `UPDATE t USING ... SET ... WHERE ...` of one column (`op`: what it sets, one of the shape
    /// codes above; `field`: the UDT field), binding the timestamp, the TTL, `set`'s values,
    /// then `where_values`. Returns where `set`'s values start in the statement's values.
    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        out: &mut Vec<Stmt>,
        ts: i64,
        ttl: Option<i64>,
        (is_static, column, op, field): (bool, u16, u16, u16),
        set: &Values,
        n: usize,
        where_values: &Values,
    ) -> usize {
        let key = [1, n as u16, u16::from(ttl.is_some()), u16::from(is_static), column, op, field];
        let shape = self.shape(&key, |names| {
            let name = names.column(is_static, column);
            let set = match op {
                SET_MAP => format!("{name}[?] = ?"),
                ADD | APPEND => format!("{name} = {name} + ?"),
                REMOVE => format!("{name} = {name} - ?"),
                SET_FIELD => format!("{name}.{} = ?", names.field(is_static, column, field)),
                _ => format!("{name} = ?"),
            };
            format!("UPDATE {} {} SET {set} WHERE {}", names.qname, using(ttl.is_some()), names.where_n(n))
        });
        if op == APPEND
            && let Some(a) = self.appending.get_mut(shape as usize)
        {
            *a = true;
        }
        let mut values = Values::with_capacity(32 + set.bytes.len() + where_values.bytes.len());
        values.bigint(ts);
        if let Some(t) = ttl {
            values.int(t);
        }
        let at = values.bytes.len();
        values.extend(set);
        values.extend(where_values);
        out.push(Stmt { shape, values });
        at
    }

    /// Statements for one row (or the static row); true when it wrote live content (a marker
    /// or a cell). A clustering row that did is counted in `rows`; the static row is counted by
    /// [`Writer::partition`], only when no clustering row is.
    fn row(&mut self, out: &mut Vec<Stmt>, key: &Values, u: &Unfiltered, is_static: bool) -> Result<bool, LoadError> {
        let names = Rc::clone(&self.names);
        let n = if is_static { 0 } else { u.clustering.len() };
        let mut where_values = Values::with_capacity(key.bytes.len() + 16 * n);
        where_values.extend(key);
        self.ctx.clustering_values(&self.key, u, n, &mut where_values)?;
        let where_ = (n, 0, 0);
        self.deletion(out, Deleted::Rows, None, &u.deletion, where_, &where_values);
        self.deletion(out, Deleted::Rows, None, &u.shadowable_deletion, where_, &where_values);
        let columns = if is_static { &names.static_defs } else { &names.regular_defs };
        let now = self.o.now_s;
        let mut wrote = false;
        // The row marker: an INSERT of the primary key, with the simple cells written with it
        // (same timestamp, same expiry) folded in, as the original INSERT wrote them.
        let mut folded: Vec<usize> = Vec::new();
        let l = u.liveness;
        if !is_static && !l.is_empty() {
            let expired = l.is_expired(now);
            if !expired && let Some(ts) = self.ts(l.timestamp) {
                let ttl = self.ttl(l.is_expiring().then(|| l.local_expiration_time - now));
                let mut values = Values::with_capacity(where_values.bytes.len() + 64);
                values.extend(&where_values);
                let mut key = vec![2, n as u16, u16::from(ttl.is_some())];
                for (i, c) in u.cells.iter().enumerate() {
                    let Some(col) = columns.get(c.column as usize) else { continue };
                    let same = c.timestamp == l.timestamp
                        && !c.is_tombstone()
                        && c.is_expiring() == l.is_expiring()
                        && (!c.is_expiring() || c.local_deletion_time == l.local_expiration_time);
                    if !same
                        || col.is_complex()
                        || u.path(c).is_some()
                        || matches!(col.ty.unreversed(), CqlType::Counter)
                    {
                        continue;
                    }
                    self.ctx.bind(&self.key, || format!("column {}", col.name), &col.ty, u.value(c), &mut values)?;
                    key.push(c.column);
                    folded.push(i);
                    self.stats.cells += 1;
                }
                let shape = self.shape(&key, |names| {
                    let cols: Vec<&str> = names
                        .primary
                        .iter()
                        .take(names.keys + n)
                        .map(String::as_str)
                        .chain(key[3..].iter().map(|&c| names.column(false, c)))
                        .collect();
                    format!(
                        "INSERT INTO {} ({}) VALUES ({}) {}",
                        names.qname,
                        cols.join(", "),
                        markers(cols.len()),
                        using(ttl.is_some())
                    )
                });
                values.bigint(ts);
                if let Some(t) = ttl {
                    values.int(t);
                }
                out.push(Stmt { shape, values });
                wrote = true;
            }
        }
        for d in &u.complex_deletions {
            if columns.get(d.column as usize).is_some() {
                let what = Deleted::Column { is_static, column: d.column };
                self.deletion(out, what, None, &d.deletion, where_, &where_values);
            }
        }
        // The list append under way: (its statement's index in `out`, where the list value
        // starts in its values, column, timestamp, TTL).
        let mut appending: Option<(usize, usize, u16, i64, Option<i64>)> = None;
        let mut set = Values::default();
        for (i, c) in u.cells.iter().enumerate() {
            if folded.contains(&i) {
                continue;
            }
            let Some(col) = columns.get(c.column as usize) else { continue };
            if matches!(col.ty.unreversed(), CqlType::Counter) {
                return Err(LoadError::Counters(self.ctx.qname()));
            }
            let Some(ts) = self.ts(c.timestamp) else { continue };
            let expired = c.is_expired(now);
            let path = u.path(c);
            let column = c.column;
            set.count = 0;
            set.bytes.clear();
            if c.is_tombstone() || expired {
                // An expired cell is the tombstone it has become.
                match (col.ty.unreversed(), path) {
                    (CqlType::Map { key, .. }, Some(p)) => {
                        let k = self.ctx.decode(&self.key, || format!("map key of {}", col.name), key, p)?;
                        let what = Deleted::MapElement { is_static, column };
                        self.delete_at(out, what, Some(bound(&k, p)), ts, where_, &where_values);
                    }
                    (CqlType::Set { elem, .. }, Some(p)) => {
                        // `s = s - {e}` deletes one element.
                        self.ctx.decode(&self.key, || format!("set element of {}", col.name), elem, p)?;
                        set.collection_of(p);
                        self.update(out, ts, None, (is_static, column, REMOVE, 0), &set, n, &where_values);
                        self.stats.tombstones += 1;
                    }
                    (CqlType::Udt(udt), Some(p)) => {
                        // `u.f = null` deletes one field.
                        let field = self.udt_field(&col.name, udt, p)?;
                        set.push(None);
                        self.update(out, ts, None, (is_static, column, SET_FIELD, field), &set, n, &where_values);
                        self.stats.tombstones += 1;
                    }
                    // A list element's deletion names its cell path, which CQL cannot (`DELETE
                    // l[i]` names a position): counted and reported, not written.
                    (_, Some(_)) => self.stats.unwritable_deletions += 1,
                    _ => self.delete_at(out, Deleted::Column { is_static, column }, None, ts, where_, &where_values),
                }
                continue;
            }
            let ttl = self.ttl(c.is_expiring().then(|| c.local_deletion_time - now));
            let value = u.value(c);
            let (op, field) = match (col.ty.unreversed(), path) {
                (CqlType::Map { key, value: vt, .. }, Some(p)) => {
                    self.ctx.bind(&self.key, || format!("map key of {}", col.name), key, p, &mut set)?;
                    self.ctx.bind(&self.key, || format!("map value of {}", col.name), vt, value, &mut set)?;
                    (SET_MAP, 0)
                }
                (CqlType::Set { elem, .. }, Some(p)) => {
                    self.ctx.decode(&self.key, || format!("set element of {}", col.name), elem, p)?;
                    set.collection_of(p);
                    (ADD, 0)
                }
                (CqlType::List { elem, .. }, Some(_)) => {
                    // Elements written together (same timestamp and TTL) are appended together, in order.
                    self.ctx.decode(&self.key, || format!("list element of {}", col.name), elem, value)?;
                    if let Some((at, start, c0, t0, l0)) = appending
                        && at + 1 == out.len()
                        && (c0, t0, l0) == (column, ts, ttl)
                        && let Some(last) = out.get_mut(at)
                    {
                        last.values.push_element(start, value);
                        self.stats.cells += 1;
                        continue;
                    }
                    set.collection_of(value);
                    let start = self.update(out, ts, ttl, (is_static, column, APPEND, 0), &set, n, &where_values);
                    appending = Some((out.len() - 1, start, column, ts, ttl));
                    self.stats.cells += 1;
                    wrote = true;
                    continue;
                }
                (CqlType::Udt(udt), Some(p)) => {
                    let index = self.udt_field(&col.name, udt, p)?;
                    let (field, ft) = udt.fields.get(usize::from(index)).ok_or_else(|| self.no_field(&col.name, p))?;
                    self.ctx.bind(&self.key, || format!("field {field} of {}", col.name), ft, value, &mut set)?;
                    (SET_FIELD, index)
                }
                (_, Some(_)) => continue,
                (ty, None) => {
                    self.ctx.bind(&self.key, || format!("column {}", col.name), ty, value, &mut set)?;
                    (SET, 0)
                }
            };
            self.update(out, ts, ttl, (is_static, column, op, field), &set, n, &where_values);
            self.stats.cells += 1;
            wrote = true;
        }
        if wrote && !is_static {
            self.stats.rows += 1;
        }
        Ok(wrote)
    }

    /// A range tombstone from its open and close markers.
    fn range(
        &mut self,
        out: &mut Vec<Stmt>,
        key: &Values,
        open: &Unfiltered,
        close: &Unfiltered,
        d: &DeletionTime,
    ) -> Result<(), LoadError> {
        let (so, sc) = (open.clustering.len(), close.clustering.len());
        // The slice shape CQL can express: a common prefix of equalities, then bounds on one column.
        let common = (0..so.min(sc)).take_while(|&i| open.clustering_value(i) == close.clustering_value(i)).count();
        let prefix_only = so == sc && common == so;
        let mut values = Values::with_capacity(key.bytes.len() + 64);
        values.extend(key);
        self.ctx.clustering_values(&self.key, open, common, &mut values)?;
        let (mut op_open, mut op_close) = (0, 0);
        if !prefix_only {
            if so > common + 1 || sc > common + 1 {
                return Err(LoadError::RangeNotASlice { table: self.ctx.name(), key: render::hex(&self.key) });
            }
            let (c, _) = self.ctx.schema.clustering.get(common).ok_or_else(|| LoadError::ClusteringBeyondSchema {
                table: self.ctx.name(),
                key: render::hex(&self.key),
                index: common,
            })?;
            let kind = |u: &Unfiltered| match u.kind() {
                UnfilteredKind::Marker(k) => k,
                _ => BoundKind::InclStartBound,
            };
            if so > common
                && let Some(b) = open.clustering_value(common)
            {
                self.ctx.bind(&self.key, || format!("range bound on {}", c.name), &c.ty, b, &mut values)?;
                op_open = if matches!(kind(open), BoundKind::InclStartBound | BoundKind::ExclEndInclStartBoundary) {
                    2
                } else {
                    1
                };
            }
            if sc > common
                && let Some(b) = close.clustering_value(common)
            {
                self.ctx.bind(&self.key, || format!("range bound on {}", c.name), &c.ty, b, &mut values)?;
                op_close = if matches!(kind(close), BoundKind::InclEndBound | BoundKind::InclEndExclStartBoundary) {
                    4
                } else {
                    3
                };
            }
        }
        self.deletion(out, Deleted::Rows, None, d, (common, op_open, op_close), &values);
        Ok(())
    }
}

/// Statements grouped `per_batch` at a time: one alone as itself, several as an unlogged batch
/// (one partition's statements only, so a batch never spans replicas).
pub(crate) fn batches(stmts: Vec<Stmt>, per_batch: usize) -> Vec<Vec<Stmt>> {
    let per_batch = per_batch.max(1);
    let mut out = Vec::with_capacity(stmts.len().div_ceil(per_batch));
    let mut it = stmts.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(per_batch).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_values_are_laid_out_as_the_protocol_sends_them() {
        let mut v = Values::default();
        v.push(Some(b"k"));
        v.push(None);
        v.bigint(-2);
        v.int(5);
        v.int(i64::MAX);
        let at = v.bytes.len();
        v.collection_of(b"ab");
        v.push_element(at, b"c");
        v.push(Some(b"w"));
        assert_eq!(v.count, 7);
        let got: Vec<Option<Vec<u8>>> = v.iter().map(|x| x.map(<[u8]>::to_vec)).collect();
        assert_eq!(
            got,
            vec![
                Some(b"k".to_vec()),
                None,
                Some((-2i64).to_be_bytes().to_vec()),
                Some(vec![0, 0, 0, 5]),
                Some(i32::MAX.to_be_bytes().to_vec()),
                // A list of two elements: count, then each with its length.
                Some(vec![0, 0, 0, 2, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 1, b'c']),
                Some(b"w".to_vec()),
            ]
        );
        let s = Stmt { shape: 0, values: v.clone() };
        assert_eq!(s.bytes(), v.bytes.len() as u64);
        assert_eq!(bound(&Value::Empty, &[]), None, "an empty int binds null, as its literal was");
        assert_eq!(bound(&Value::Text(""), &[]), Some(&[][..]), "an empty string is a value");
        assert_eq!(markers(3), "?, ?, ?");
    }

    #[test]
    fn batches_keep_the_order_and_the_size() {
        let stmts: Vec<Stmt> = (0..7).map(|i| Stmt { shape: i, values: Values::default() }).collect();
        let b = batches(stmts, 3);
        let shapes: Vec<Vec<u32>> = b.iter().map(|b| b.iter().map(|s| s.shape).collect()).collect();
        assert_eq!(shapes, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
    }
}
