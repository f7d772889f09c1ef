//! Execution: a parsed statement against the catalog and the tables. The rooms: [`prepare`]
//! (PREPARE: bind-marker types and partition-key indexes), [`write`](mod@write) (INSERT, UPDATE, DELETE into
//! memtables, as Cassandra's `UpdateParameters` makes cells), [`select`] (SELECT: reads merged
//! from memtable and SSTables, filtered, ordered and paged), [`describe`] (server-side DESCRIBE).
//! DDL is the [`crate::catalog`]'s. Binding of values to terms and the WHERE clause's key
//! restrictions, shared by all of them, are here.

pub mod describe;
pub mod prepare;
pub mod select;
pub mod write;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use cairn_format::schema::TableSchema;
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::CqlType;
use cairn_format::types::value::compose;

use crate::catalog;
use crate::catalog::Catalog;
use crate::connection::Session;
use crate::coordinator::consistency::{Consistency, WriteType};
use crate::cql::{QName, Relation, Statement, Term, Using};
use crate::node::{Shared, now_micros};
use crate::protocol::{Columns, Failure, Outcome, QueryParams, Value, code, invalid};
use crate::storage::mutation::{Mutation, Staged};
use crate::storage::table::Table;
use crate::values::split_collection;

/// A live column value: bytes, write time, seconds of TTL left.
pub(crate) type Timed = Option<(Vec<u8>, i64, Option<i64>)>;

/// Which partition keys and clustering prefixes a WHERE clause names.
pub(crate) type KeySet = (Vec<Vec<u8>>, Vec<Vec<Option<Vec<u8>>>>);

/// Notes a bind marker that binds a partition-key column.
pub(crate) type KeyMarker<'a> = dyn FnMut(&Term, &Col, &mut Vec<(usize, u16)>) + 'a;

/// Execute a statement. A write is staged as mutations, appended to the commit log and applied,
/// all under the catalog's read lock, so a flush of every table (which takes the write
/// lock, then empties the log) never loses a write logged between its flushes.
pub(crate) fn logged_execute(
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
) -> Result<Outcome, Failure> {
    let writes = matches!(
        st,
        Statement::Insert { .. } | Statement::Update { .. } | Statement::Delete { .. } | Statement::Batch { .. }
    );
    if !writes {
        // Batch sync: a read answers only once everything it may have seen is durable.
        if let Ok(log) = shared.commitlog.lock()
            && let Some(log) = log.as_ref()
            && log.mode() == crate::commitlog::SyncMode::Batch
        {
            let at = log.position();
            session.pending_sync = Some(session.pending_sync.map_or(at, |p| p.max(at)));
        }
        let out = execute(shared, session, st, params, None)?;
        if let (Some(cluster), Outcome::SchemaChange { .. }) = (&shared.cluster, &out) {
            push_schema(shared, cluster, &out);
        }
        return Ok(out);
    }
    write_all(shared, session, &[(st, params)], params.consistency)
}

/// Execute write statements as one write (a statement, or a protocol BATCH) at consistency
/// level `cl`: staged together with one write time (unless they name theirs), then — on a
/// standalone node — logged as one commit-log entry and applied, or — in a ring — sent to the
/// replicas of each partition by the coordinator.
pub(crate) fn write_all(
    shared: &Shared,
    session: &mut Session,
    statements: &[(&Statement, &QueryParams)],
    cl: u16,
) -> Result<Outcome, Failure> {
    let now_s = now_micros() / 1_000_000;
    let mut ts = None;
    let cat = shared.catalog_read()?;
    let mut staged = Staged::default();
    for (st, params) in statements {
        if params.timestamp.is_some() || names_its_timestamp(st, params) {
            // The write time is the statement's own: the request's is never read.
            write::stage(&cat, shared, session, st, params, now_s, &mut staged)?;
            continue;
        }
        let ts = *ts.get_or_insert_with(|| shared.next_timestamp());
        let params = QueryParams { timestamp: Some(ts), ..(*params).clone() };
        write::stage(&cat, shared, session, st, &params, now_s, &mut staged)?;
    }
    let mutations = staged.into_mutations();
    if mutations.is_empty() {
        return Ok(Outcome::Void);
    }
    let at = match &shared.cluster {
        Some(cluster) => {
            let kind = match statements {
                [_] if !matches!(statements[0].0, Statement::Batch { .. }) => WriteType::Simple,
                _ => WriteType::Batch,
            };
            let cl = Consistency::from_code(cl)?;
            crate::coordinator::write::write(shared, cluster, &cat, mutations, cl, kind)?
        }
        None => write_local(shared, &cat, mutations)?,
    };
    if let Some(at) = at {
        // Answered only once an fsync covers it (the connection waits before replying).
        session.pending_sync = Some(session.pending_sync.map_or(at, |p| p.max(at)));
    }
    Ok(Outcome::Void)
}

/// Whether a write statement gives its own write time: `USING TIMESTAMP` with a literal, or
/// with a marker bound (by position) to a value — what [`next_timestamp`] takes first.
fn names_its_timestamp(st: &Statement, params: &QueryParams) -> bool {
    let using = match st {
        Statement::Insert { using, .. } | Statement::Update { using, .. } | Statement::Delete { using, .. } => using,
        _ => return false,
    };
    match &using.timestamp {
        Some(Term::Literal(_)) => true,
        Some(Term::Bind(i)) => params.names.is_empty() && matches!(params.values.get(*i), Some(Value::Set(_))),
        _ => false,
    }
}

/// Log mutations to this node's commit log and apply them; under batch sync, the log position
/// an fsync must cover before the write is acknowledged.
pub(crate) fn write_local(shared: &Shared, cat: &Catalog, mutations: Vec<Mutation>) -> Result<Option<u64>, Failure> {
    let mut at = None;
    if let Ok(mut log) = shared.commitlog.lock()
        && let Some(log) = log.as_mut()
    {
        let pos = log.append_mutations(&mutations).map_err(|e| Failure {
            code: code::SERVER,
            message: format!("commit log: {e}"),
            extra: vec![],
        })?;
        if log.mode() == crate::commitlog::SyncMode::Batch {
            at = Some(pos);
        }
    }
    apply(cat, mutations)?;
    Ok(at)
}

/// After a client's schema change: announce the new schema version and send the change to
/// every live node of the ring, waiting (a bounded time) for them to take it, so a driver
/// checking schema agreement right after finds every node agreeing.
fn push_schema(shared: &Shared, cluster: &crate::ring::cluster::Cluster, change: &Outcome) {
    let Ok(cat) = shared.catalog_read() else { return };
    let (version, text) = (cat.schema_version, catalog::change_text(&cat, change));
    drop(cat);
    cluster.set_schema_version(version);
    let Some(text) = text else { return };
    let view = cluster.view();
    let peers: Vec<std::net::SocketAddr> =
        view.peers.values().filter(|p| p.alive && p.storage != cluster.config.storage).map(|p| p.storage).collect();
    std::thread::scope(|s| {
        for to in peers {
            let frame = crate::ring::messaging::Frame::request(
                crate::ring::messaging::Verb::SchemaPush,
                text.clone().into_bytes(),
            );
            s.spawn(move || {
                if let Err(e) = cluster.messenger.request(to, frame, std::time::Duration::from_secs(5)) {
                    crate::log!("cairn node: sending a schema change to {to}: {e} (it will pull it when gossip shows the difference)");
                }
            });
        }
    });
}

/// Apply mutations to the memtables of their tables (after they were logged, or while the log
/// is replayed). A mutation of a table the catalog no longer has (dropped since) is refused.
pub(crate) fn apply(cat: &Catalog, mutations: Vec<Mutation>) -> Result<(), Failure> {
    for m in mutations {
        let t = cat.table_by_id(&m.table_id).ok_or_else(|| {
            invalid(format!("no table with id {} (dropped?)", cairn_format::types::render::hex(&m.table_id)))
        })?;
        t.apply(m.partition)?;
    }
    Ok(())
}

/// A value bound to a term: bytes, null, or unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bound {
    Bytes(Vec<u8>),
    Null,
    Unset,
}

pub(crate) struct Binder<'a> {
    pub(crate) params: &'a QueryParams,
}

impl Binder<'_> {
    fn bind(&self, t: &Term, ty: &CqlType, what: &str) -> Result<Bound, Failure> {
        match t {
            Term::Null => Ok(Bound::Null),
            Term::Literal(text) => cairn_format::types::parse::from_string(ty, text)
                .map(Bound::Bytes)
                .map_err(|e| invalid(format!("Invalid value for {what}: {e}"))),
            Term::Collection(text) => crate::cql::literal::to_bytes(ty, text)
                .map(Bound::Bytes)
                .map_err(|e| invalid(format!("Invalid value for {what}: {e}"))),
            Term::Bind(i) => self.checked(self.value_at(*i, None, what)?, ty, what),
            Term::Named(name, i) => self.checked(self.value_at(*i, Some(name), what)?, ty, what),
        }
    }

    /// A bound value is checked against its column's type before it is used, as Cassandra's
    /// `AbstractType.validate` checks it ("Expected 4 or 0 byte int"): an 8-byte value bound to
    /// an `int` would otherwise be stored as it is, giving a wrong token for a key, or a cell
    /// that no reader of the SSTable can decode.
    fn checked(&self, bound: Bound, ty: &CqlType, what: &str) -> Result<Bound, Failure> {
        if let Bound::Bytes(b) = &bound {
            cairn_format::types::value::decode(ty, b)
                .map_err(|e| invalid(format!("Invalid value for {what} (type {ty}): {e}")))?;
        }
        Ok(bound)
    }

    fn value_at(&self, i: usize, name: Option<&String>, what: &str) -> Result<Bound, Failure> {
        let index = match name {
            Some(n) if !self.params.names.is_empty() => {
                self.params.names.iter().position(|x| x == n).ok_or_else(|| invalid(format!("No value for :{n}")))?
            }
            _ => i,
        };
        match self.params.values.get(index) {
            Some(Value::Set(b)) => Ok(Bound::Bytes(b.clone())),
            Some(Value::Null) => Ok(Bound::Null),
            Some(Value::Unset) => Ok(Bound::Unset),
            None => Err(invalid(format!(
                "There were {} markers(?) in CQL but {} bound variables (for {what})",
                i + 1,
                self.params.values.len()
            ))),
        }
    }

    /// A bound TTL, timestamp, limit or token: `None` when unset (the statement then behaves as
    /// if it had none: the table's default TTL, the server's clock, no limit), as Cassandra's
    /// `Attributes` and `SelectStatement` read them. Null is refused, as there.
    fn int(&self, t: &Term, what: &str) -> Result<Option<i64>, Failure> {
        // A bound value is checked by its length here (an int or a bigint), not first decoded as
        // a bigint: drivers send a TTL as an int, which would fail that and be bound again.
        let bound = match t {
            Term::Bind(i) => self.value_at(*i, None, what),
            Term::Named(name, i) => self.value_at(*i, Some(name), what),
            _ => self.bind(t, &CqlType::BigInt, what),
        };
        match bound {
            Ok(Bound::Bytes(b)) => Ok(Some(match b.len() {
                4 => i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                8 => i64::from_be_bytes(b.try_into().unwrap_or_default()),
                _ => return Err(invalid(format!("Invalid {what}"))),
            })),
            Ok(Bound::Null) => Err(invalid(format!("Invalid null value of {what}"))),
            Ok(Bound::Unset) => Ok(None),
            Err(f) => {
                // A bound TTL is an int.
                match self.bind(t, &CqlType::Int, what)? {
                    Bound::Bytes(b) if b.len() == 4 => {
                        Ok(Some(i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))))
                    }
                    _ => Err(f),
                }
            }
        }
    }
}

pub(crate) fn resolve_keyspace(session: &Session, q: &QName) -> Result<String, Failure> {
    q.keyspace.clone().or_else(|| session.keyspace.clone()).ok_or_else(|| {
        invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
    })
}

pub(crate) fn table_of<'c>(cat: &'c Catalog, ks: &str, name: &str) -> Result<&'c Arc<Table>, Failure> {
    let keyspace = cat.keyspaces.get(ks).ok_or_else(|| invalid(format!("Keyspace {ks} does not exist")))?;
    keyspace.tables.get(name).ok_or_else(|| invalid(format!("table {name} does not exist")))
}

/// Where a column lives.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Col {
    Key(usize, CqlType),
    Clustering(usize, CqlType),
    Static(u16, CqlType),
    Regular(u16, CqlType),
}

impl Col {
    fn ty(&self) -> &CqlType {
        match self {
            Col::Key(_, t) | Col::Clustering(_, t) | Col::Static(_, t) | Col::Regular(_, t) => t,
        }
    }
}

pub(crate) fn column(t: &Table, name: &str) -> Option<Col> {
    if let Some(i) = t.schema.partition_key.iter().position(|c| c.name == name) {
        return t.schema.partition_key.get(i).map(|c| Col::Key(i, c.ty.clone()));
    }
    if let Some(i) = t.schema.clustering.iter().position(|(c, _)| c.name == name) {
        return t.schema.clustering.get(i).map(|(c, _)| Col::Clustering(i, c.ty.clone()));
    }
    if let Some(i) = t.header.static_columns.iter().position(|c| c.name == name) {
        return t.header.static_columns.get(i).map(|c| Col::Static(i as u16, c.ty.clone()));
    }
    t.header
        .regular_columns
        .iter()
        .position(|c| c.name == name)
        .and_then(|i| t.header.regular_columns.get(i).map(|c| Col::Regular(i as u16, c.ty.clone())))
}

pub(crate) fn all_columns(t: &Table) -> Columns {
    let mut v: Columns = t.schema.partition_key.iter().map(|c| (c.name.clone(), c.ty.clone())).collect();
    v.extend(t.schema.clustering.iter().map(|(c, _)| (c.name.clone(), c.ty.clone())));
    let mut others: Columns = t
        .header
        .static_columns
        .iter()
        .chain(&t.header.regular_columns)
        .map(|c| (c.name.clone(), c.ty.clone()))
        .collect();
    others.sort_by(|a, b| a.0.cmp(&b.0));
    v.extend(others);
    v
}

pub(crate) fn next_timestamp(
    shared: &Shared,
    params: &QueryParams,
    using: &Using,
    b: &Binder<'_>,
) -> Result<i64, Failure> {
    if let Some(t) = &using.timestamp
        && let Some(v) = b.int(t, "timestamp")?
    {
        return Ok(v);
    }
    if let Some(t) = params.timestamp {
        return Ok(t);
    }
    Ok(shared.next_timestamp())
}

/// Whether a statement changes the schema (it takes the catalog's write lock).
fn is_ddl(st: &Statement) -> bool {
    matches!(
        st,
        Statement::CreateKeyspace { .. }
            | Statement::DropKeyspace { .. }
            | Statement::CreateType { .. }
            | Statement::CreateTable { .. }
            | Statement::DropTable { .. }
    )
}

/// Execute a statement; `now_s` is the server time a replayed write was made at (now when
/// `None`). DDL takes the catalog's write lock; everything else its read lock, and then the
/// lock of the one table it touches.
pub(crate) fn execute(
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
    now_s: Option<i64>,
) -> Result<Outcome, Failure> {
    if is_ddl(st) {
        let mut cat = shared.catalog_write()?;
        let out = match st {
            Statement::CreateKeyspace { .. } => catalog::create_keyspace(&mut cat, shared, st),
            Statement::DropKeyspace { .. } => catalog::drop_keyspace(&mut cat, shared, st),
            Statement::CreateType { .. } => catalog::create_type(&mut cat, shared, session, st),
            Statement::CreateTable { .. } => catalog::create_table(&mut cat, shared, session, st),
            _ => catalog::drop_table(&mut cat, shared, session, st),
        }?;
        drop(cat);
        if let Outcome::SchemaChange { change, target, keyspace, name } = &out {
            let event = crate::events::Event::Schema { change, target, keyspace: keyspace.clone(), name: name.clone() };
            shared.events.publish(&event);
        }
        return Ok(out);
    }
    let cat = shared.catalog_read()?;
    let now_s = now_s.unwrap_or_else(|| now_micros() / 1_000_000);
    execute_read(&cat, shared, session, st, params, now_s)
}

/// Execute a statement that leaves the schema alone, under the catalog's read lock.
pub(crate) fn execute_read(
    cat: &Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
    now_s: i64,
) -> Result<Outcome, Failure> {
    let out = match st {
        Statement::Use(_) => catalog::use_keyspace(cat, session, st),
        Statement::Truncate(_) => catalog::truncate(cat, session, st),
        Statement::Insert { .. } | Statement::Update { .. } | Statement::Delete { .. } | Statement::Batch { .. } => {
            let mut staged = Staged::default();
            write::stage(cat, shared, session, st, params, now_s, &mut staged)?;
            apply(cat, staged.into_mutations())?;
            Ok(Outcome::Void)
        }
        Statement::Select { .. } => select::select(cat, shared, session, st, params, now_s),
        Statement::Describe(what, name) => describe::describe(cat, session, what, name.as_ref()),
        Statement::Unsupported(what) => Err(invalid(format!("{what} is not supported by this node"))),
        _ => Err(invalid("a schema change outside the catalog's write lock")),
    }?;
    Ok(out)
}

pub(crate) fn column_in(header: &SerializationHeader, schema: &TableSchema, name: &str) -> Result<Col, Failure> {
    if let Some(i) = schema.partition_key.iter().position(|c| c.name == name) {
        return Ok(Col::Key(i, schema.partition_key[i].ty.clone()));
    }
    if let Some(i) = schema.clustering.iter().position(|(c, _)| c.name == name) {
        return Ok(Col::Clustering(i, schema.clustering[i].0.ty.clone()));
    }
    if let Some(i) = header.static_columns.iter().position(|c| c.name == name) {
        return Ok(Col::Static(i as u16, header.static_columns[i].ty.clone()));
    }
    if let Some(i) = header.regular_columns.iter().position(|c| c.name == name) {
        return Ok(Col::Regular(i as u16, header.regular_columns[i].ty.clone()));
    }
    Err(invalid(format!("Undefined column name {name}")))
}

pub(crate) fn col_index(c: &Col) -> u16 {
    match c {
        Col::Static(i, _) | Col::Regular(i, _) => *i,
        _ => 0,
    }
}

/// The partition keys and clustering prefixes a WHERE clause names (`=` and `IN` only). A
/// column restricted to no values (`IN ()`, or `IN ?` bound to an empty list) names no key or
/// prefix at all, as in Cassandra, never the whole partition; a clustering column restricted
/// after one that is not is refused, as Cassandra refuses it.
pub(crate) fn key_restrictions(t: &Table, relations: &[Relation], b: &Binder<'_>) -> Result<KeySet, Failure> {
    let mut keys: Vec<Option<Vec<Vec<u8>>>> = vec![None; t.schema.partition_key.len()];
    let mut cks: Vec<Option<Vec<Vec<u8>>>> = vec![None; t.schema.clustering.len()];
    for r in relations {
        let Some(name) = r.columns.first() else { continue };
        let col = column(t, name).ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
        let vals = bind_values(r, col.ty(), name, b)?;
        let slot = match (&col, r.op.as_str()) {
            (Col::Key(i, _), "=" | "in") => keys.get_mut(*i),
            (Col::Clustering(i, _), "=" | "in") => cks.get_mut(*i),
            _ => {
                return Err(invalid(format!(
                    "Only EQ and IN relations on primary key columns are supported here (got {name} {})",
                    r.op
                )));
            }
        };
        match slot {
            // As Cassandra: `c = 1 AND c = 2` is refused, never the last relation alone.
            Some(Some(_)) => {
                return Err(invalid(format!(
                    "{name} cannot be restricted by more than one relation if it includes an Equal"
                )));
            }
            Some(slot) => *slot = Some(vals),
            None => return Err(invalid(format!("Undefined column name {name}"))),
        }
    }
    if keys.iter().any(Option::is_none) {
        let missing: Vec<&str> = keys
            .iter()
            .zip(&t.schema.partition_key)
            .filter(|(k, _)| k.is_none())
            .map(|(_, c)| c.name.as_str())
            .collect();
        return Err(invalid(format!("Some partition key parts are missing: {}", missing.join(", "))));
    }
    let unrestricted = cks.iter().position(Option::is_none);
    if let Some(gap) = unrestricted
        && let Some(after) = cks.iter().skip(gap).position(Option::is_some)
    {
        let name = |i: usize| t.schema.clustering.get(i).map_or("?", |(c, _)| c.name.as_str());
        return Err(invalid(format!(
            "PRIMARY KEY column \"{}\" cannot be restricted as preceding column \"{}\" is not restricted",
            name(gap + after),
            name(gap)
        )));
    }
    let mut key_bytes = vec![vec![]];
    for options in keys.iter().flatten() {
        key_bytes = key_bytes
            .into_iter()
            .flat_map(|prefix: Vec<Vec<u8>>| {
                options.iter().map(move |o| {
                    let mut p = prefix.clone();
                    p.push(o.clone());
                    p
                })
            })
            .collect();
    }
    let keys = key_bytes
        .into_iter()
        .map(|parts| {
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            if refs.len() == 1 { refs[0].to_vec() } else { compose(&refs) }
        })
        .collect();
    let mut clusterings: Vec<Vec<Option<Vec<u8>>>> = vec![vec![]];
    for (i, options) in cks.iter().enumerate() {
        let Some(options) = options else {
            for c in &mut clusterings {
                c.extend(std::iter::repeat_n(None, t.schema.clustering.len() - i));
            }
            break;
        };
        clusterings = clusterings
            .into_iter()
            .flat_map(|prefix| {
                options.iter().map(move |o| {
                    let mut p = prefix.clone();
                    p.push(Some(o.clone()));
                    p
                })
            })
            .collect();
    }
    Ok((keys, clusterings))
}

pub(crate) fn bind_values(r: &Relation, ty: &CqlType, name: &str, b: &Binder<'_>) -> Result<Vec<Vec<u8>>, Failure> {
    let mut out = Vec::new();
    if r.in_marker {
        let list = CqlType::List { elem: Box::new(ty.clone()), frozen: true };
        let marker = r.values.first().ok_or_else(|| invalid(format!("IN without a marker for column {name}")))?;
        // As Cassandra's `InRestrictionWithMarker`: a null or unset list is refused, never
        // taken for "no restriction" (a DELETE would then remove the whole partition).
        match b.bind(marker, &list, name)? {
            Bound::Bytes(v) => out.extend(
                split_collection(&v, false).ok_or_else(|| invalid("Invalid IN list"))?.into_iter().map(|(e, _)| e),
            ),
            Bound::Null => return Err(invalid(format!("Invalid null value for column {name}"))),
            Bound::Unset => return Err(invalid(format!("Invalid unset value for column {name}"))),
        }
        return Ok(out);
    }
    for v in &r.values {
        match b.bind(v, ty, name)? {
            Bound::Bytes(x) => out.push(x),
            _ => return Err(invalid(format!("Invalid null value in condition for column {name}"))),
        }
    }
    Ok(out)
}
