//! # cairn-loader
//!
//! `cairn load`: replay SSTables — a snapshot, a table directory, files — into a live cluster
//! over standard CQL (protocol v4, the scylla Rust driver), keeping what a restore must keep:
//! every cell's write timestamp (`USING TIMESTAMP`) and remaining TTL (`USING TTL`), and every
//! deletion — partition, row, range (clustering slices), cell, collection — so data deleted in
//! the snapshot stays deleted on a target that still holds it.
//!
//! The input of each table is read reconciled (newest wins, shadowed data dropped), the same
//! view `cairn dump --merge` shows, and written partition by partition as unlogged batches of
//! statements with literal values, several partitions in flight, routed to a replica, throttled
//! and retried (see [`send`]). Restore semantics: `--target-keyspace/--target-table`,
//! `--rename-column`, `--as-of` (skip writes newer than a time), `--timestamp-mode
//! preserve|rebase|now`, `--drop-ttl`, `--create-schema` (from the snapshot's schema.cql),
//! `--plan` (check the schema and count per host, write nothing), `--resume` (checkpoints). The
//! target schema is checked before any write.
//!
//! Cells expired at load time are written as the tombstones they have become. List elements
//! are appended (their original cell paths cannot be set through CQL), UDT fields of
//! non-frozen UDTs are written whole, counters are refused.

pub mod send;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cairn_format::clustering::BoundKind;
use cairn_format::data::{PartitionStream, Unfiltered, UnfilteredKind};
use cairn_format::deletion::DeletionTime;
use cairn_format::reconcile::Merger;
use cairn_format::schema::TableSchema;
use cairn_format::sstable::SsTable;
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::CqlType;
use cairn_format::types::render;
use cairn_format::types::value::{Value, decode, key_components};
use serde::Serialize;

/// How write timestamps are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampMode {
    /// The original timestamps.
    #[default]
    Preserve,
    /// Shifted so the newest input write lands just after the load starts: restored data wins
    /// over writes made after the snapshot, without a TRUNCATE.
    Rebase,
    /// Every write at the load's time.
    Now,
}

/// Options of a load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Contact points (`host:port`).
    pub hosts: Vec<String>,
    /// User and password.
    pub credentials: Option<(String, String)>,
    /// Write into this keyspace instead.
    pub target_keyspace: Option<String>,
    /// Write into this table instead.
    pub target_table: Option<String>,
    /// Rename source columns.
    pub renames: Vec<(String, String)>,
    /// The time of the load (s): TTLs remaining and expiry are computed against it.
    pub now_s: i64,
    /// Skip writes newer than this (µs).
    pub as_of: Option<i64>,
    /// Timestamps.
    pub timestamp_mode: TimestampMode,
    /// Drop TTLs (restored data does not expire).
    pub drop_ttl: bool,
    /// Only count; write nothing.
    pub plan: bool,
    /// Create a missing keyspace and table from the source schema.
    pub create_schema: bool,
    /// Statements per batch (one partition's statements at most).
    pub batch_statements: usize,
    /// Checkpoint file: finished partitions are recorded here and skipped when the load is
    /// run again (after a crash or an interruption).
    pub resume: Option<std::path::PathBuf>,
    /// Stop after this many partitions (an interruption, for tests and staged loads).
    pub stop_after: Option<u64>,
    /// Connections per host (0: the driver's default, one per host or shard).
    pub connections: usize,
    /// Partitions written concurrently (each partition's batches in order).
    pub max_in_flight: usize,
    /// Bytes of CQL sent per second, in MiB/s (`None`: unthrottled).
    pub throttle_mib_s: Option<f64>,
    /// Report progress on standard error (a terminal line, rewritten twice a second).
    pub progress: bool,
}

/// What a load did (or would do, with `--plan`), per table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableLoad {
    /// Target keyspace.
    pub keyspace: String,
    /// Target table.
    pub table: String,
    /// Partitions.
    pub partitions: u64,
    /// Rows (with a marker or a cell written).
    pub rows: u64,
    /// Cells written.
    pub cells: u64,
    /// Deletions written (partition, row, range, cell, collection).
    pub tombstones: u64,
    /// Writes skipped by `--as-of`.
    pub skipped_newer: u64,
    /// CQL statements sent.
    pub statements: u64,
    /// Partitions skipped because a previous run finished them (`--resume`).
    pub resumed_past: u64,
    /// Bytes of CQL text sent (or, with `--plan`, that would be).
    pub bytes: u64,
    /// Writes retried after a transient failure.
    pub retries: u64,
    /// The schema check: `ok`, or (with `--plan --create-schema`) that the table would be created.
    pub schema_check: String,
    /// Rows, cells and bytes per target host (the partition's first replica), with `--plan`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_host: BTreeMap<String, HostLoad>,
}

/// What goes to one host.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct HostLoad {
    /// Partitions.
    pub partitions: u64,
    /// Rows.
    pub rows: u64,
    /// Bytes of CQL.
    pub bytes: u64,
}

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading the SSTables failed.
    #[error(transparent)]
    Read(#[from] cairn_format::Error),
    /// A value does not decode.
    #[error("{0}")]
    Value(String),
    /// The cluster cannot be reached or refused the credentials.
    #[error("cannot connect to {hosts}: {message}")]
    Connect {
        /// Contact points.
        hosts: String,
        /// The driver's message.
        message: String,
    },
    /// The target schema does not fit the data.
    #[error("schema check failed for {table}: {message} (nothing was written)")]
    Schema {
        /// keyspace.table.
        table: String,
        /// What does not fit.
        message: String,
    },
    /// A write failed.
    #[error("write to {table} failed: {message}")]
    Write {
        /// keyspace.table.
        table: String,
        /// The error.
        message: String,
    },
    /// Stopped by `stop_after` (resume with the same checkpoint file).
    #[error("stopped after {0} partitions; run again with the same --resume file to finish")]
    Interrupted(u64),
    /// The checkpoint file cannot be read or written.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Counters cannot be replayed idempotently.
    #[error("{0} has counter columns: counters are not idempotent, a load would add to them; refused")]
    Counters(String),
}

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

struct TableCtx {
    keyspace: String,
    table: String,
    schema: TableSchema,
    header: SerializationHeader,
    renames: Vec<(String, String)>,
}

impl TableCtx {
    fn qname(&self) -> String {
        format!("{}.{}", render::maybe_quote_identifier(&self.keyspace), render::maybe_quote_identifier(&self.table))
    }

    fn col(&self, name: &str) -> String {
        let n = self.renames.iter().find(|(a, _)| a == name).map_or(name, |(_, b)| b.as_str());
        render::maybe_quote_identifier(n)
    }

    /// (column, literal) of a partition key.
    fn key_pairs(&self, key: &[u8]) -> Result<Vec<(String, String)>, LoadError> {
        let types: Vec<CqlType> = self.schema.partition_key.iter().map(|c| c.ty.clone()).collect();
        let parts = key_components(&self.header.key_type, key).map_err(|e| LoadError::Value(e.to_string()))?;
        let mut out = Vec::new();
        for ((c, t), b) in self.schema.partition_key.iter().zip(&types).zip(parts) {
            let v = decode(t, b).map_err(|e| LoadError::Value(format!("partition key {}: {e}", c.name)))?;
            out.push((self.col(&c.name), literal(t, &v)));
        }
        Ok(out)
    }

    /// `pk1 = v AND pk2 = v` for a partition key.
    fn key_where(&self, key: &[u8]) -> Result<String, LoadError> {
        Ok(self.key_pairs(key)?.iter().map(|(c, v)| format!("{c} = {v}")).collect::<Vec<_>>().join(" AND "))
    }

    /// (column, literal) of the first `n` clustering values.
    fn clustering_pairs(&self, u: &Unfiltered, n: usize) -> Result<Vec<(String, String)>, LoadError> {
        let mut out = Vec::new();
        for i in 0..n {
            let (c, _) = self.schema.clustering.get(i).ok_or_else(|| LoadError::Value("clustering".into()))?;
            let Some(b) = u.clustering_value(i) else {
                return Err(LoadError::Value(format!("null clustering value for {}", c.name)));
            };
            let v = decode(&c.ty, b).map_err(|e| LoadError::Value(format!("clustering {}: {e}", c.name)))?;
            out.push((self.col(&c.name), literal(&c.ty, &v)));
        }
        Ok(out)
    }

    /// Equalities on the first `n` clustering values.
    fn clustering_where(&self, u: &Unfiltered, n: usize) -> Result<Vec<String>, LoadError> {
        Ok(self.clustering_pairs(u, n)?.into_iter().map(|(c, v)| format!("{c} = {v}")).collect())
    }
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// Turns one table's reconciled partitions into CQL statements.
struct Writer<'o> {
    ctx: TableCtx,
    o: &'o LoadOptions,
    shift: i64,
    now_us: i64,
    stats: TableLoad,
}

impl Writer<'_> {
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

    /// Statements for one row (or the static row).
    fn row(
        &mut self,
        out: &mut Vec<String>,
        key: &[(String, String)],
        u: &Unfiltered,
        is_static: bool,
    ) -> Result<(), LoadError> {
        let n = if is_static { 0 } else { u.clustering.len() };
        let mut pairs: Vec<(String, String)> = key.to_vec();
        pairs.extend(self.ctx.clustering_pairs(u, n)?);
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
                    let v = decode(&col.ty, u.value(c)).map_err(|e| LoadError::Value(format!("{}: {e}", col.name)))?;
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
                        let k = decode(key, p).map_err(|e| LoadError::Value(e.to_string()))?;
                        format!("{name}[{}]", literal(key, &k))
                    }
                    (CqlType::Set { elem, .. }, Some(p)) => {
                        // `s = s - {e}` deletes one element.
                        let e = decode(elem, p).map_err(|e| LoadError::Value(e.to_string()))?;
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
                    let k = decode(key, p).map_err(|e| LoadError::Value(e.to_string()))?;
                    let v = decode(vt, value).map_err(|e| LoadError::Value(e.to_string()))?;
                    format!("{name}[{}] = {}", literal(key, &k), literal(vt, &v))
                }
                (CqlType::Set { elem, .. }, Some(p)) => {
                    let e = decode(elem, p).map_err(|e| LoadError::Value(e.to_string()))?;
                    format!("{name} = {name} + {{{}}}", literal(elem, &e))
                }
                (CqlType::List { elem, .. }, Some(_)) => {
                    // Elements written together (same timestamp and TTL) are appended together, in order.
                    let e = decode(elem, value).map_err(|e| LoadError::Value(e.to_string()))?;
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
                    let v = decode(ft, value).map_err(|e| LoadError::Value(e.to_string()))?;
                    format!("{name}.{} = {}", render::maybe_quote_identifier(field), literal(ft, &v))
                }
                (_, Some(_)) => continue,
                (ty, None) => {
                    let v = decode(ty, value).map_err(|e| LoadError::Value(format!("{}: {e}", col.name)))?;
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
        Ok(())
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
        parts.extend(self.ctx.clustering_where(open, common)?);
        if !prefix_only {
            if so > common + 1 || sc > common + 1 {
                return Err(LoadError::Value(format!(
                    "a range tombstone over {} cannot be written as one CQL slice",
                    self.ctx.qname()
                )));
            }
            let (c, _) =
                self.ctx.schema.clustering.get(common).ok_or_else(|| LoadError::Value("range bound".into()))?;
            let name = self.ctx.col(&c.name);
            let kind = |u: &Unfiltered| match u.kind() {
                UnfilteredKind::Marker(k) => k,
                _ => BoundKind::InclStartBound,
            };
            if so > common
                && let Some(b) = open.clustering_value(common)
            {
                let v = decode(&c.ty, b).map_err(|e| LoadError::Value(e.to_string()))?;
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
                let v = decode(&c.ty, b).map_err(|e| LoadError::Value(e.to_string()))?;
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

/// CREATE TYPE statements for the UDTs a schema uses (innermost first).
fn create_types(ctx: &TableCtx) -> Vec<String> {
    fn walk(t: &CqlType, out: &mut Vec<cairn_format::types::UdtType>) {
        match t.unreversed() {
            CqlType::List { elem, .. } | CqlType::Set { elem, .. } | CqlType::Vector { elem, .. } => walk(elem, out),
            CqlType::Map { key, value, .. } => {
                walk(key, out);
                walk(value, out);
            }
            CqlType::Tuple(ts) => ts.iter().for_each(|x| walk(x, out)),
            CqlType::Udt(u) => {
                u.fields.iter().for_each(|(_, x)| walk(x, out));
                if !out.iter().any(|o| o.name == u.name) {
                    out.push((**u).clone());
                }
            }
            _ => {}
        }
    }
    let mut udts = Vec::new();
    for c in ctx
        .schema
        .partition_key
        .iter()
        .chain(ctx.schema.clustering.iter().map(|(c, _)| c))
        .chain(&ctx.schema.static_columns)
        .chain(&ctx.schema.regular_columns)
    {
        walk(&c.ty, &mut udts);
    }
    udts.iter()
        .map(|u| {
            let fields: Vec<String> =
                u.fields.iter().map(|(n, t)| format!("{} {t}", render::maybe_quote_identifier(n))).collect();
            format!(
                "CREATE TYPE IF NOT EXISTS {}.{} ({})",
                render::maybe_quote_identifier(&ctx.keyspace),
                render::maybe_quote_identifier(&u.name),
                fields.join(", ")
            )
        })
        .collect()
}

/// The CREATE TABLE statement of a source schema.
fn create_table(ctx: &TableCtx) -> String {
    let mut cols = Vec::new();
    for c in &ctx.schema.partition_key {
        cols.push(format!("{} {}", ctx.col(&c.name), c.ty));
    }
    for (c, _) in &ctx.schema.clustering {
        cols.push(format!("{} {}", ctx.col(&c.name), c.ty));
    }
    for c in &ctx.schema.static_columns {
        cols.push(format!("{} {} static", ctx.col(&c.name), c.ty));
    }
    for c in &ctx.schema.regular_columns {
        cols.push(format!("{} {}", ctx.col(&c.name), c.ty));
    }
    let pk: Vec<String> = ctx.schema.partition_key.iter().map(|c| ctx.col(&c.name)).collect();
    let ck: Vec<String> = ctx.schema.clustering.iter().map(|(c, _)| ctx.col(&c.name)).collect();
    let mut key = format!("({})", pk.join(", "));
    for c in &ck {
        key.push_str(&format!(", {c}"));
    }
    let mut s = format!("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({key}))", ctx.qname(), cols.join(", "));
    if !ctx.schema.clustering.is_empty() {
        let order: Vec<String> = ctx
            .schema
            .clustering
            .iter()
            .map(|(c, d)| format!("{} {}", ctx.col(&c.name), if *d { "DESC" } else { "ASC" }))
            .collect();
        s.push_str(&format!(" WITH CLUSTERING ORDER BY ({})", order.join(", ")));
    }
    s
}

/// The checkpoint: per source table directory, the last partition (token order) fully written,
/// as `<dir>\t<token>\t<key hex>` lines. Written to a temporary file and renamed.
fn read_checkpoint(path: &std::path::Path) -> Result<BTreeMap<String, (String, String)>, LoadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(LoadError::Checkpoint { path: path.display().to_string(), message: e.to_string() }),
    };
    // A line that does not read is an error: skipping it would load that table again from its
    // first partition (counters twice).
    let bad = |n: usize, why: &str| LoadError::Checkpoint {
        path: path.display().to_string(),
        message: format!("line {}: {why} (expected <dir>\\t<token>\\t<key hex>)", n + 1),
    };
    let mut out = BTreeMap::new();
    for (n, l) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let fields: Vec<&str> = l.split('\t').collect();
        let [dir, token, key] = fields.as_slice() else { return Err(bad(n, "not three tab-separated fields")) };
        if decode_hex(key).is_none() {
            return Err(bad(n, "the key is not hex"));
        }
        out.insert(dir.to_string(), (token.to_string(), key.to_string()));
    }
    Ok(out)
}

fn write_checkpoint(path: &std::path::Path, done: &BTreeMap<String, (String, String)>) -> Result<(), LoadError> {
    let text: String = done.iter().map(|(d, (t, k))| format!("{d}\t{t}\t{k}\n")).collect();
    let tmp = path.with_extension("tmp");
    let err = |e: std::io::Error| LoadError::Checkpoint { path: path.display().to_string(), message: e.to_string() };
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Load `tables` (grouped by table directory) as `o` says.
pub fn load(tables: &[SsTable], o: &LoadOptions) -> Result<Vec<TableLoad>, LoadError> {
    // One group per table and point in time (cairn_format::location), checkpointed under its
    // directories.
    let groups: Vec<(String, Vec<SsTable>)> = cairn_format::location::group_by_table(tables)
        .into_iter()
        .map(|(_, g)| {
            let dirs: std::collections::BTreeSet<String> =
                g.iter().map(|t| t.descriptor.directory.display().to_string()).collect();
            (dirs.into_iter().collect::<Vec<_>>().join(","), g.into_iter().cloned().collect())
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LoadError::Connect { hosts: o.hosts.join(","), message: e.to_string() })?;
    let session = {
        let mut b = scylla::client::session_builder::SessionBuilder::new();
        for h in &o.hosts {
            b = b.known_node(h);
        }
        if let Some((u, p)) = &o.credentials {
            b = b.user(u, p);
        }
        if let Some(n) = std::num::NonZeroUsize::new(o.connections) {
            b = b.pool_size(scylla::client::PoolSize::PerHost(n));
        }
        Arc::new(
            rt.block_on(b.build())
                .map_err(|e| LoadError::Connect { hosts: o.hosts.join(","), message: e.to_string() })?,
        )
    };
    let mut sender = send::Sender::new(session.clone(), o.max_in_flight, o.throttle_mib_s);
    let mut progress = Progress::new(o.progress);
    let mut out = Vec::new();
    let mut checkpoint = match &o.resume {
        Some(p) => read_checkpoint(p)?,
        None => BTreeMap::new(),
    };
    let mut total_partitions = 0u64;
    for (dir_key, group) in &groups {
        let dir_key = dir_key.clone();
        let Some(first) = group.first() else { continue };
        let schema = first.schema.clone();
        let location = cairn_format::location::TableLocation::of(first);
        let ks = location.keyspace.clone().unwrap_or_else(|| "ks".into());
        let table = location.table.clone().unwrap_or_else(|| "table".into());
        let scanners = group.iter().map(SsTable::scanner).collect::<Result<Vec<_>, _>>()?;
        let mut merger = Merger::new(scanners, first.partitioner)?;
        let header = PartitionStream::header(&merger).clone();
        let ctx = TableCtx {
            keyspace: o.target_keyspace.clone().unwrap_or(ks),
            table: o.target_table.clone().unwrap_or(table),
            schema,
            header,
            renames: o.renames.clone(),
        };
        if ctx
            .header
            .static_columns
            .iter()
            .chain(&ctx.header.regular_columns)
            .any(|c| matches!(c.ty.unreversed(), CqlType::Counter))
        {
            return Err(LoadError::Counters(ctx.qname()));
        }
        let max_ts =
            group.iter().filter_map(|t| t.statistics.stats.as_ref().map(|s| s.max_timestamp)).max().unwrap_or(0);
        let now_us = now_micros();
        let name = format!("{}.{}", ctx.keyspace, ctx.table);
        let schema_err = |e: &dyn std::fmt::Display| LoadError::Schema { table: name.clone(), message: e.to_string() };
        let schema_check = if o.plan {
            match check_schema(&rt, &session, &ctx) {
                Ok(()) => "ok".to_string(),
                Err(LoadError::Schema { message, .. }) if o.create_schema && message.contains("does not exist") => {
                    "the table does not exist: --create-schema would create it".to_string()
                }
                Err(e) => return Err(e),
            }
        } else {
            if o.create_schema {
                let ks_cql = format!(
                    "CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}",
                    render::maybe_quote_identifier(&ctx.keyspace)
                );
                rt.block_on(session.query_unpaged(ks_cql, &[])).map_err(|e| schema_err(&e))?;
                for ty in create_types(&ctx) {
                    rt.block_on(session.query_unpaged(ty, &[])).map_err(|e| schema_err(&e))?;
                }
                rt.block_on(session.query_unpaged(create_table(&ctx), &[])).map_err(|e| schema_err(&e))?;
                rt.block_on(session.refresh_metadata()).map_err(|e| schema_err(&e))?;
            }
            check_schema(&rt, &session, &ctx)?;
            "ok".to_string()
        };
        let cluster = session.get_cluster_state();
        let estimated: u64 = group
            .iter()
            .filter_map(|t| t.statistics.stats.as_ref().map(|s| s.partition_sizes.count().max(0) as u64))
            .sum();
        progress.table(&name, estimated);
        let mut w = Writer {
            shift: now_us - max_ts + 1,
            now_us,
            o,
            stats: TableLoad {
                keyspace: ctx.keyspace.clone(),
                table: ctx.table.clone(),
                schema_check,
                ..Default::default()
            },
            ctx,
        };
        // Partitions at or before the checkpoint were written by an earlier run.
        // The token is the key's: one that is not means the checkpoint is not this table's.
        let resume_after = match checkpoint.get(&dir_key) {
            Some((t, k)) => {
                let key = decode_hex(k).unwrap_or_default();
                let token = first.partitioner.token(&key);
                if token.to_string() != *t {
                    return Err(LoadError::Checkpoint {
                        path: o.resume.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                        message: format!("{dir_key}: token {t} is not the token of key {k} ({token})"),
                    });
                }
                Some((token, key))
            }
            None => None,
        };
        let write_err = |e: String| LoadError::Write { table: name.clone(), message: e };
        // The last partition handed to the sender, for the checkpoint.
        let mut last: Option<(String, String)> = None;
        let mut since_checkpoint = 0u64;
        while let Some(p) = merger.next_partition()?.cloned() {
            let token = first.partitioner.token(&p.key);
            if let Some((t, k)) = &resume_after
                && cairn_format::partitioner::compare_decorated(&token, &p.key, t, k).is_le()
            {
                while merger.next_unfiltered()?.is_some() {}
                w.stats.resumed_past += 1;
                continue;
            }
            if o.stop_after.is_some_and(|n| total_partitions >= n) {
                sender.drain(&rt).map_err(write_err)?;
                if let (Some(path), Some(l)) = (&o.resume, last.take()) {
                    checkpoint.insert(dir_key.clone(), l);
                    write_checkpoint(path, &checkpoint)?;
                }
                return Err(LoadError::Interrupted(total_partitions));
            }
            total_partitions += 1;
            let key_pairs = w.ctx.key_pairs(&p.key)?;
            let key_where = w.ctx.key_where(&p.key)?;
            let mut stmts = Vec::new();
            let rows_before = w.stats.rows;
            w.deletion(&mut stmts, "", &p.deletion, &key_where);
            if let Some(st) = merger.static_row().cloned() {
                w.row(&mut stmts, &key_pairs, &st, true)?;
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
                            w.range(&mut stmts, &key_where, &start, &close, &d)?;
                        }
                        if k.is_open() {
                            open = Some(u.clone());
                        }
                    }
                    _ => {
                        let row = u.clone();
                        w.row(&mut stmts, &key_pairs, &row, false)?;
                    }
                }
            }
            w.stats.partitions += 1;
            w.stats.statements += stmts.len() as u64;
            let batches: Vec<String> = stmts
                .chunks(o.batch_statements.max(1))
                .map(|chunk| {
                    if chunk.len() == 1 {
                        chunk[0].clone()
                    } else {
                        format!("BEGIN UNLOGGED BATCH {}; APPLY BATCH", chunk.join("; "))
                    }
                })
                .collect();
            let bytes: u64 = batches.iter().map(|b| b.len() as u64).sum();
            w.stats.bytes += bytes;
            let murmur = match token {
                cairn_format::partitioner::Token::Murmur3(t) => Some(t),
                _ => None,
            };
            if o.plan {
                let host = murmur
                    .and_then(|t| {
                        cluster
                            .get_token_endpoints(&w.ctx.keyspace, &w.ctx.table, scylla::routing::Token::new(t))
                            .first()
                            .map(|(n, _)| n.address.to_string())
                    })
                    .unwrap_or_else(|| "(any)".into());
                let h = w.stats.per_host.entry(host).or_default();
                h.partitions += 1;
                h.rows += w.stats.rows - rows_before;
                h.bytes += bytes;
            } else {
                let unit =
                    send::Unit { keyspace: w.ctx.keyspace.clone(), table: w.ctx.table.clone(), token: murmur, batches };
                sender.send(&rt, unit).map_err(write_err)?;
            }
            progress.update(&w.stats);
            if let (Some(path), false) = (&o.resume, o.plan) {
                let t = match &token {
                    cairn_format::partitioner::Token::Murmur3(t) => t.to_string(),
                    other => other.to_string(),
                };
                last = Some((t, render::hex(&p.key)));
                since_checkpoint += 1;
                // Everything sent so far is acknowledged before the checkpoint moves past it.
                if since_checkpoint >= CHECKPOINT_EVERY {
                    sender.drain(&rt).map_err(write_err)?;
                    if let Some(l) = last.take() {
                        checkpoint.insert(dir_key.clone(), l);
                    }
                    write_checkpoint(path, &checkpoint)?;
                    since_checkpoint = 0;
                }
            }
        }
        sender.drain(&rt).map_err(write_err)?;
        if let (Some(path), Some(l)) = (&o.resume, last.take()) {
            checkpoint.insert(dir_key.clone(), l);
            write_checkpoint(path, &checkpoint)?;
        }
        w.stats.retries = sender.retries;
        sender.retries = 0;
        progress.done(&w.stats);
        out.push(w.stats);
    }
    Ok(out)
}

/// Partitions between checkpoints: each checkpoint waits for every write in flight.
const CHECKPOINT_EVERY: u64 = 2000;

/// The progress line on standard error: partitions, rows, rows/s, MiB/s, percentage and ETA
/// against the SSTables' own partition counts (an estimate: overlapping SSTables count a
/// partition more than once, so the percentage is held below 100 until the table is done).
struct Progress {
    on: bool,
    started: Instant,
    last: Option<Instant>,
    table: String,
    estimated: u64,
}

impl Progress {
    fn new(on: bool) -> Progress {
        Progress { on, started: Instant::now(), last: None, table: String::new(), estimated: 0 }
    }

    fn table(&mut self, name: &str, estimated: u64) {
        self.table = name.to_string();
        self.estimated = estimated;
        self.started = Instant::now();
    }

    fn line(&self, s: &TableLoad, done: bool) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let mut line = format!(
            "{}: {} partitions, {} rows, {:.0} rows/s, {:.2} MiB/s",
            self.table,
            s.partitions,
            s.rows,
            s.rows as f64 / secs,
            s.bytes as f64 / secs / (1024.0 * 1024.0),
        );
        if done {
            line.push_str(&format!(", done in {secs:.1} s"));
        } else if self.estimated > 0 && s.partitions > 0 {
            let pct = (s.partitions as f64 / self.estimated as f64 * 100.0).min(99.0);
            line.push_str(&format!(", {pct:.0}%, ETA {:.0} s", secs * (100.0 - pct) / pct));
        }
        line
    }

    fn update(&mut self, s: &TableLoad) {
        if !self.on || self.last.is_some_and(|l| l.elapsed().as_millis() < 500) {
            return;
        }
        self.last = Some(Instant::now());
        let _ = write!(std::io::stderr(), "\r\x1b[K{}", self.line(s, false));
    }

    fn done(&mut self, s: &TableLoad) {
        if self.on {
            let _ = writeln!(std::io::stderr(), "\r\x1b[K{}", self.line(s, true));
        }
    }
}

/// Bytes of a hex string; `None` unless every character pair is a hex byte.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

/// Every source column must exist on the target with the same type.
fn check_schema(
    rt: &tokio::runtime::Runtime,
    s: &scylla::client::session::Session,
    ctx: &TableCtx,
) -> Result<(), LoadError> {
    let name = format!("{}.{}", ctx.keyspace, ctx.table);
    let q = format!(
        "SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = '{}' AND table_name = '{}'",
        ctx.keyspace.replace('\'', "''"),
        ctx.table.replace('\'', "''")
    );
    let res = rt
        .block_on(s.query_unpaged(q, &[]))
        .map_err(|e| LoadError::Schema { table: name.clone(), message: e.to_string() })?
        .into_rows_result()
        .map_err(|e| LoadError::Schema { table: name.clone(), message: e.to_string() })?;
    let target: BTreeMap<String, String> = res
        .rows::<(String, String)>()
        .map_err(|e| LoadError::Schema { table: name.clone(), message: e.to_string() })?
        .filter_map(Result::ok)
        .collect();
    if target.is_empty() {
        return Err(LoadError::Schema {
            table: name,
            message: "the table does not exist (use --create-schema)".into(),
        });
    }
    let mut problems = Vec::new();
    let source = ctx
        .schema
        .partition_key
        .iter()
        .chain(ctx.schema.clustering.iter().map(|(c, _)| c))
        .chain(ctx.schema.static_columns.iter())
        .chain(ctx.schema.regular_columns.iter());
    for c in source {
        let renamed = ctx.renames.iter().find(|(a, _)| *a == c.name).map_or(c.name.as_str(), |(_, b)| b.as_str());
        match target.get(renamed) {
            None => problems.push(format!("column {renamed} is missing")),
            Some(t) if t.replace(' ', "") != c.ty.to_string().replace(' ', "") => {
                problems.push(format!("column {renamed} is {t} on the target, {} in the data", c.ty));
            }
            _ => {}
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(LoadError::Schema { table: name, message: problems.join("; ") }) }
}
