//! One table's reconciled partitions as CQL statements — the restore's translation rules.
//!
//! A partition becomes, in order: its partition deletion (`DELETE ... WHERE key`), its static
//! row, then its rows and range tombstones in clustering order. Every statement carries the
//! original write time (`USING TIMESTAMP`, or the rebased/now time of `--timestamp-mode`) and
//! the remaining TTL (`USING TTL`, computed against the load's clock), and every value is a
//! literal, so each statement is idempotent and the order between partitions never matters.
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

use cairn_format::clustering::BoundKind;
use cairn_format::data::{PartitionStream, Unfiltered, UnfilteredKind};
use cairn_format::deletion::DeletionTime;
use cairn_format::reconcile::Merger;
use cairn_format::schema::TableSchema;
use cairn_format::statistics::SerializationHeader;
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

    /// A decode failure in partition `key` while decoding `what`.
    fn decode_err(&self, key: &[u8], what: String) -> impl FnOnce(cairn_format::DecodeError) -> LoadError {
        let (table, key) = (self.name(), render::hex(key));
        move |source| LoadError::Decode { table, key, what, source: Box::new(source) }
    }

    /// Decode `b` as `ty`: `what` names it in an error.
    fn decode<'a>(&self, key: &[u8], what: &str, ty: &CqlType, b: &'a [u8]) -> Result<Value<'a>, LoadError> {
        decode(ty, b).map_err(self.decode_err(key, what.to_string()))
    }

    /// (column, literal) of a partition key.
    fn key_pairs(&self, key: &[u8]) -> Result<Vec<(String, String)>, LoadError> {
        let parts = key_components(&self.header.key_type, key).map_err(self.decode_err(key, "partition key".into()))?;
        let mut out = Vec::new();
        for (c, b) in self.schema.partition_key.iter().zip(parts) {
            let v = self.decode(key, &format!("partition key {}", c.name), &c.ty, b)?;
            out.push((self.col(&c.name), literal(&c.ty, &v)));
        }
        Ok(out)
    }

    /// `pk1 = v AND pk2 = v` for a partition key.
    fn key_where(&self, key: &[u8]) -> Result<String, LoadError> {
        Ok(self.key_pairs(key)?.iter().map(|(c, v)| format!("{c} = {v}")).collect::<Vec<_>>().join(" AND "))
    }

    /// (column, literal) of the first `n` clustering values.
    fn clustering_pairs(&self, key: &[u8], u: &Unfiltered, n: usize) -> Result<Vec<(String, String)>, LoadError> {
        let mut out = Vec::new();
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
            let v = self.decode(key, &format!("clustering {}", c.name), &c.ty, b)?;
            out.push((self.col(&c.name), literal(&c.ty, &v)));
        }
        Ok(out)
    }

    /// Equalities on the first `n` clustering values.
    fn clustering_where(&self, key: &[u8], u: &Unfiltered, n: usize) -> Result<Vec<String>, LoadError> {
        Ok(self.clustering_pairs(key, u, n)?.into_iter().map(|(c, v)| format!("{c} = {v}")).collect())
    }
}

/// Turns one table's reconciled partitions into CQL statements, counting what it writes.
pub(crate) struct Writer<'o> {
    /// The table.
    pub ctx: TableCtx,
    o: &'o LoadOptions,
    /// `--timestamp-mode rebase`: added to every timestamp.
    shift: i64,
    /// The load's time (µs), for `--timestamp-mode now`.
    now_us: i64,
    /// The counts so far.
    pub stats: TableLoad,
    /// The key of the partition being written (for errors).
    key: Vec<u8>,
}

impl<'o> Writer<'o> {
    /// A writer of `ctx`'s partitions; `max_ts` is the newest write timestamp in the input (µs),
    /// which `--timestamp-mode rebase` moves to just after `now_us`.
    pub fn new(ctx: TableCtx, o: &'o LoadOptions, max_ts: i64, now_us: i64, stats: TableLoad) -> Writer<'o> {
        Writer { ctx, o, shift: now_us - max_ts + 1, now_us, stats, key: Vec::new() }
    }

    /// The statements of the partition `merger` is positioned on (its header already read),
    /// consuming its rows, and its counts.
    pub fn partition(
        &mut self,
        merger: &mut Merger,
        key: &[u8],
        deletion: &DeletionTime,
    ) -> Result<Vec<String>, LoadError> {
        self.key = key.to_vec();
        let key_pairs = self.ctx.key_pairs(key)?;
        let key_where = self.ctx.key_where(key)?;
        let mut stmts = Vec::new();
        let rows_before = self.stats.rows;
        self.deletion(&mut stmts, "", deletion, &key_where);
        let mut live_static = false;
        if let Some(st) = merger.static_row().cloned() {
            live_static = self.row(&mut stmts, &key_pairs, &st, true)?;
        }
        let mut open: Option<Unfiltered> = None;
        while let Some(u) = merger.next_unfiltered()? {
            match u.kind() {
                UnfilteredKind::Marker(k) => {
                    if k.is_close()
                        && let Some(start) = open.take()
                    {
                        let d = start.deletion;
                        let close = u.clone();
                        self.range(&mut stmts, &key_where, &start, &close, &d)?;
                    }
                    if k.is_open() {
                        open = Some(u.clone());
                    }
                }
                _ => {
                    let row = u.clone();
                    self.row(&mut stmts, &key_pairs, &row, false)?;
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

    fn using(&self, ts: i64, ttl: Option<i64>) -> String {
        match ttl {
            Some(t) if !self.o.drop_ttl => format!("USING TIMESTAMP {ts} AND TTL {t}"),
            _ => format!("USING TIMESTAMP {ts}"),
        }
    }

    fn deletion(&mut self, out: &mut Vec<String>, cols: &str, d: &DeletionTime, where_: &str) {
        if d.is_live() {
            return;
        }
        if let Some(ts) = self.ts(d.marked_for_delete_at) {
            out.push(format!("DELETE {cols}FROM {} USING TIMESTAMP {ts} WHERE {where_}", self.ctx.qname()));
            self.stats.tombstones += 1;
        }
    }

    /// Statements for one row (or the static row); true when it wrote live content (a marker
    /// or a cell). A clustering row that did is counted in `rows`; the static row is counted by
    /// [`Writer::partition`], only when no clustering row is.
    fn row(
        &mut self,
        out: &mut Vec<String>,
        key: &[(String, String)],
        u: &Unfiltered,
        is_static: bool,
    ) -> Result<bool, LoadError> {
        let n = if is_static { 0 } else { u.clustering.len() };
        let mut pairs: Vec<(String, String)> = key.to_vec();
        pairs.extend(self.ctx.clustering_pairs(&self.key, u, n)?);
        let where_ = pairs.iter().map(|(c, v)| format!("{c} = {v}")).collect::<Vec<_>>().join(" AND ");
        self.deletion(out, "", &u.deletion, &where_);
        self.deletion(out, "", &u.shadowable_deletion, &where_);
        let columns =
            if is_static { self.ctx.header.static_columns.clone() } else { self.ctx.header.regular_columns.clone() };
        let now = self.o.now_s;
        let mut wrote = false;
        // The row marker: an INSERT of the primary key, with the simple cells written with it
        // (same timestamp, same expiry) folded in, as the original INSERT wrote them.
        let mut folded: Vec<usize> = Vec::new();
        let l = u.liveness;
        if !is_static && !l.is_empty() {
            let expired = l.is_expiring() && l.local_expiration_time <= now;
            if !expired && let Some(ts) = self.ts(l.timestamp) {
                let ttl = l.is_expiring().then(|| l.local_expiration_time - now);
                let mut names: Vec<String> = pairs.iter().map(|(c, _)| c.clone()).collect();
                let mut values: Vec<String> = pairs.iter().map(|(_, v)| v.clone()).collect();
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
                    let v = self.ctx.decode(&self.key, &format!("column {}", col.name), &col.ty, u.value(c))?;
                    names.push(self.ctx.col(&col.name));
                    values.push(literal(&col.ty, &v));
                    folded.push(i);
                    self.stats.cells += 1;
                }
                out.push(format!(
                    "INSERT INTO {} ({}) VALUES ({}) {}",
                    self.ctx.qname(),
                    names.join(", "),
                    values.join(", "),
                    self.using(ts, ttl)
                ));
                wrote = true;
            }
        }
        for d in &u.complex_deletions {
            if let Some(c) = columns.get(d.column as usize) {
                let cols = format!("{} ", self.ctx.col(&c.name));
                self.deletion(out, &cols, &d.deletion, &where_);
            }
        }
        for (i, c) in u.cells.iter().enumerate() {
            if folded.contains(&i) {
                continue;
            }
            let Some(col) = columns.get(c.column as usize) else { continue };
            if matches!(col.ty.unreversed(), CqlType::Counter) {
                return Err(LoadError::Counters(self.ctx.qname()));
            }
            let Some(ts) = self.ts(c.timestamp) else { continue };
            let name = self.ctx.col(&col.name);
            let expired = c.is_expiring() && !c.is_tombstone() && c.local_deletion_time <= now;
            let path = u.path(c);
            if c.is_tombstone() || expired {
                // An expired cell is the tombstone it has become.
                let target = match (col.ty.unreversed(), path) {
                    (CqlType::Map { key, .. }, Some(p)) => {
                        let k = self.ctx.decode(&self.key, &format!("map key of {}", col.name), key, p)?;
                        format!("{name}[{}]", literal(key, &k))
                    }
                    (CqlType::Set { elem, .. }, Some(p)) => {
                        // `s = s - {e}` deletes one element.
                        let e = self.ctx.decode(&self.key, &format!("set element of {}", col.name), elem, p)?;
                        out.push(format!(
                            "UPDATE {} USING TIMESTAMP {ts} SET {name} = {name} - {{{}}} WHERE {where_}",
                            self.ctx.qname(),
                            literal(elem, &e)
                        ));
                        self.stats.tombstones += 1;
                        continue;
                    }
                    (_, Some(_)) => continue,
                    _ => name.clone(),
                };
                out.push(format!("DELETE {target} FROM {} USING TIMESTAMP {ts} WHERE {where_}", self.ctx.qname()));
                self.stats.tombstones += 1;
                continue;
            }
            let ttl = c.is_expiring().then(|| c.local_deletion_time - now);
            let value = u.value(c);
            let set = match (col.ty.unreversed(), path) {
                (CqlType::Map { key, value: vt, .. }, Some(p)) => {
                    let k = self.ctx.decode(&self.key, &format!("map key of {}", col.name), key, p)?;
                    let v = self.ctx.decode(&self.key, &format!("map value of {}", col.name), vt, value)?;
                    format!("{name}[{}] = {}", literal(key, &k), literal(vt, &v))
                }
                (CqlType::Set { elem, .. }, Some(p)) => {
                    let e = self.ctx.decode(&self.key, &format!("set element of {}", col.name), elem, p)?;
                    format!("{name} = {name} + {{{}}}", literal(elem, &e))
                }
                (CqlType::List { elem, .. }, Some(_)) => {
                    // Elements written together (same timestamp and TTL) are appended together, in order.
                    let e = self.ctx.decode(&self.key, &format!("list element of {}", col.name), elem, value)?;
                    let lit = literal(elem, &e);
                    let prefix = format!("UPDATE {} {} SET {name} = {name} + [", self.ctx.qname(), self.using(ts, ttl));
                    let suffix = format!("] WHERE {where_}");
                    if let Some(last) = out.last_mut()
                        && last.starts_with(&prefix)
                        && last.ends_with(&suffix)
                    {
                        let inner = &last[prefix.len()..last.len() - suffix.len()];
                        *last = format!("{prefix}{inner}, {lit}{suffix}");
                        self.stats.cells += 1;
                        continue;
                    }
                    format!("{name} = {name} + [{lit}]")
                }
                (CqlType::Udt(udt), Some(p)) => {
                    let Some((field, ft)) =
                        cairn_format::types::value::udt_field_index(p).and_then(|i| udt.fields.get(i))
                    else {
                        continue;
                    };
                    let v = self.ctx.decode(&self.key, &format!("field {field} of {}", col.name), ft, value)?;
                    format!("{name}.{} = {}", render::maybe_quote_identifier(field), literal(ft, &v))
                }
                (_, Some(_)) => continue,
                (ty, None) => {
                    let v = self.ctx.decode(&self.key, &format!("column {}", col.name), ty, value)?;
                    format!("{name} = {}", literal(ty, &v))
                }
            };
            out.push(format!("UPDATE {} {} SET {set} WHERE {where_}", self.ctx.qname(), self.using(ts, ttl)));
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
        out: &mut Vec<String>,
        key_where: &str,
        open: &Unfiltered,
        close: &Unfiltered,
        d: &DeletionTime,
    ) -> Result<(), LoadError> {
        let (so, sc) = (open.clustering.len(), close.clustering.len());
        // The slice shape CQL can express: a common prefix of equalities, then bounds on one column.
        let common = (0..so.min(sc)).take_while(|&i| open.clustering_value(i) == close.clustering_value(i)).count();
        let prefix_only = so == sc && common == so;
        let mut parts = vec![key_where.to_string()];
        parts.extend(self.ctx.clustering_where(&self.key, open, common)?);
        if !prefix_only {
            if so > common + 1 || sc > common + 1 {
                return Err(LoadError::RangeNotASlice { table: self.ctx.name(), key: render::hex(&self.key) });
            }
            let (c, _) = self.ctx.schema.clustering.get(common).ok_or_else(|| LoadError::ClusteringBeyondSchema {
                table: self.ctx.name(),
                key: render::hex(&self.key),
                index: common,
            })?;
            let name = self.ctx.col(&c.name);
            let kind = |u: &Unfiltered| match u.kind() {
                UnfilteredKind::Marker(k) => k,
                _ => BoundKind::InclStartBound,
            };
            if so > common
                && let Some(b) = open.clustering_value(common)
            {
                let v = self.ctx.decode(&self.key, &format!("range bound on {}", c.name), &c.ty, b)?;
                let op = if matches!(kind(open), BoundKind::InclStartBound | BoundKind::ExclEndInclStartBoundary) {
                    ">="
                } else {
                    ">"
                };
                parts.push(format!("{name} {op} {}", literal(&c.ty, &v)));
            }
            if sc > common
                && let Some(b) = close.clustering_value(common)
            {
                let v = self.ctx.decode(&self.key, &format!("range bound on {}", c.name), &c.ty, b)?;
                let op = if matches!(kind(close), BoundKind::InclEndBound | BoundKind::InclEndExclStartBoundary) {
                    "<="
                } else {
                    "<"
                };
                parts.push(format!("{name} {op} {}", literal(&c.ty, &v)));
            }
        }
        let where_ = parts.join(" AND ");
        self.deletion(out, "", d, &where_);
        Ok(())
    }
}
/// Statements grouped `per_batch` at a time: one alone as itself, several as an unlogged batch
/// (one partition's statements only, so a batch never spans replicas).
pub(crate) fn batches(stmts: &[String], per_batch: usize) -> Vec<String> {
    stmts
        .chunks(per_batch.max(1))
        .map(|chunk| {
            if chunk.len() == 1 {
                chunk[0].clone()
            } else {
                format!("BEGIN UNLOGGED BATCH {}; APPLY BATCH", chunk.join("; "))
            }
        })
        .collect()
}
