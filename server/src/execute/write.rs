//! INSERT, UPDATE and DELETE: cells, row liveness, collection elements (a whole collection
//! written as a complex deletion just before its elements, as Cassandra writes `c = {...}`),
//! row, partition and range tombstones, staged as mutations (see [`crate::storage::mutation`]). TTLs and write times
//! as Cassandra's `UpdateParameters` gives them.

use std::sync::Arc;

use cairn_format::deletion::{DeletionTime, LivenessInfo};
use cairn_format::partition::{OwnedCell, Partition, Row};
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::CqlType;
use cairn_format::types::value::compose;

use super::{
    Binder, Bound, Col, bind_values, col_index, column, column_in, key_restrictions, next_timestamp, resolve_keyspace,
    table_of,
};
use crate::catalog::Catalog;
use crate::connection::Session;
use crate::cql::{Assignment, Relation, Statement, Using};
use crate::node::{Shared, timeuuid};
use crate::protocol::{Failure, QueryParams, invalid};
use crate::storage::mutation::Staged;
use crate::storage::table::Table;
use crate::values::{split_collection, split_fields};

/// Stage what a write statement (INSERT, UPDATE, DELETE, BATCH) changes: the partitions it
/// writes, built in `staged` and nowhere else (see [`crate::storage::mutation`]).
pub(crate) fn stage(
    cat: &Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
    now_s: i64,
    staged: &mut Staged,
) -> Result<(), Failure> {
    match st {
        Statement::Insert { .. } => insert(cat, shared, session, st, params, now_s, staged),
        Statement::Update { .. } => update(cat, shared, session, st, params, now_s, staged),
        Statement::Delete { .. } => delete(cat, shared, session, st, params, now_s, staged),
        Statement::Batch { .. } => batch(cat, shared, session, st, params, now_s, staged),
        _ => Err(invalid("not a write statement")),
    }
}

/// A seed for the timeuuid paths of list elements a statement appends: the same for the same
/// statement, values and timestamp (a commit-log replay), different otherwise.
pub(crate) fn statement_seed(st: &Statement, params: &QueryParams, ts: i64) -> u64 {
    let text = format!("{st:?}{:?}{ts}", params.values);
    let (a, b) = cairn_format::partitioner::murmur3_cassandra(text.as_bytes());
    (a ^ b) as u64
}

/// A statement's [`statement_seed`], made when a list element first needs a path (most
/// statements append none, and the seed costs a rendering of the whole statement).
pub(crate) struct Seed<'a> {
    st: &'a Statement,
    params: &'a QueryParams,
    ts: i64,
    value: Option<u64>,
}

impl<'a> Seed<'a> {
    pub(crate) fn new(st: &'a Statement, params: &'a QueryParams, ts: i64) -> Seed<'a> {
        Seed { st, params, ts, value: None }
    }

    /// The seed, advanced by each path made from it.
    fn get(&mut self) -> &mut u64 {
        let (st, params, ts) = (self.st, self.params, self.ts);
        self.value.get_or_insert_with(|| statement_seed(st, params, ts))
    }
}

pub(crate) fn ttl_of(t: &Table, using: &Using, b: &Binder<'_>) -> Result<i32, Failure> {
    // No TTL, or an unset one: the table's default (Cassandra's `Attributes.getTimeToLive`).
    let given = match &using.ttl {
        Some(term) => b.int(term, "TTL")?,
        None => None,
    };
    let ttl = match given {
        Some(ttl) => ttl,
        None => t.schema.default_time_to_live().map_or(0, i64::from),
    };
    if !(0..=630_720_000).contains(&ttl) {
        return Err(invalid(format!("ttl is too large. requested ({ttl}) maximum (630720000)")));
    }
    Ok(ttl as i32)
}

pub(crate) fn liveness(ts: i64, ttl: i32, now_s: i64) -> LivenessInfo {
    if ttl > 0 {
        LivenessInfo { timestamp: ts, ttl, local_expiration_time: now_s + i64::from(ttl) }
    } else {
        LivenessInfo { timestamp: ts, ttl: 0, local_expiration_time: cairn_format::deletion::NO_DELETION_TIME }
    }
}

pub(crate) fn make_cell(
    column: u16,
    path: Option<Vec<u8>>,
    value: Vec<u8>,
    ts: i64,
    ttl: i32,
    now_s: i64,
) -> OwnedCell {
    if ttl > 0 {
        OwnedCell::expiring(column, path, value, ts, ttl, now_s)
    } else {
        OwnedCell::live(column, path, value, ts)
    }
}

pub(crate) fn partition_key(t: &Table, keys: &[Option<Vec<u8>>]) -> Result<Vec<u8>, Failure> {
    let missing: Vec<&str> =
        keys.iter().zip(&t.schema.partition_key).filter(|(k, _)| k.is_none()).map(|(_, c)| c.name.as_str()).collect();
    if !missing.is_empty() {
        return Err(invalid(format!("Some partition key parts are missing: {}", missing.join(", "))));
    }
    let parts: Vec<&[u8]> = keys.iter().map(|k| k.as_deref().unwrap_or_default()).collect();
    Ok(if parts.len() == 1 { parts[0].to_vec() } else { compose(&parts) })
}

pub(crate) fn full_clustering(t: &Table, cks: &[Option<Vec<u8>>]) -> Result<Vec<Option<Vec<u8>>>, Failure> {
    if let Some((c, _)) = cks.iter().zip(&t.schema.clustering).find(|(k, _)| k.is_none()).map(|(_, c)| c) {
        return Err(invalid(format!("Some clustering keys are missing: {}", c.name)));
    }
    Ok(cks.to_vec())
}

/// The row a column's cell goes to: the static row, or the row at `clustering`.
pub(crate) fn row_for<'p>(
    p: &'p mut Partition,
    clustering: &[Option<Vec<u8>>],
    col: &Col,
) -> Result<&'p mut Row, Failure> {
    match col {
        Col::Static(..) => Ok(p.static_mut()),
        _ => row_at(p, clustering),
    }
}

/// The row at `clustering`, created if missing. A statement writes the same row once per
/// column: the clustering is copied only when the row is new (`Partition::row_mut` copies it
/// twice on every call).
pub(crate) fn row_at<'p>(p: &'p mut Partition, clustering: &[Option<Vec<u8>>]) -> Result<&'p mut Row, Failure> {
    if !p.rows.contains_key(clustering) {
        p.rows.insert(clustering.to_vec(), Row::new(clustering.to_vec()));
    }
    p.rows.get_mut(clustering).ok_or_else(|| Failure {
        code: crate::protocol::code::SERVER,
        message: "a staged row is missing right after it was made".into(),
        extra: vec![],
    })
}

/// Write one column of a row: a simple cell, or a whole collection (a complex deletion just
/// before the write, then one cell per element, as Cassandra writes `c = {...}`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_cell(
    p: &mut Partition,
    header: &SerializationHeader,
    clustering: &[Option<Vec<u8>>],
    col: &Col,
    bound: Bound,
    ts: i64,
    ttl: i32,
    now_s: i64,
    seed: &mut Seed<'_>,
) -> Result<(), Failure> {
    let _ = header;
    if col.ty().is_counter() {
        // A counter cell holds a counter context (shards), not a value; Cassandra refuses to set
        // one, and this node does not apply increments.
        return Err(invalid("Counter columns can only be incremented, and this node does not support counter updates"));
    }
    let idx = col_index(col);
    let ty = col.ty();
    let row = row_for(p, clustering, col)?;
    if !ty.is_multi_cell() {
        match bound {
            Bound::Bytes(v) => row.add_cell(make_cell(idx, None, v, ts, ttl, now_s)),
            Bound::Null => row.add_cell(OwnedCell::tombstone(idx, None, ts, now_s)),
            Bound::Unset => {}
        }
        return Ok(());
    }
    match bound {
        Bound::Unset => Ok(()),
        Bound::Null => {
            row.delete_column(idx, DeletionTime { marked_for_delete_at: ts, local_deletion_time: now_s });
            Ok(())
        }
        Bound::Bytes(v) => {
            row.delete_column(idx, DeletionTime { marked_for_delete_at: ts - 1, local_deletion_time: now_s });
            add_elements_to(row, idx, ty, &v, Elements::Add, ts, ttl, now_s, seed)
        }
    }
}

/// What a collection operation does with its elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elements {
    /// Add them (`c = c + v`; a whole value written).
    Add,
    /// Remove them (`c = c - v`).
    Remove,
    /// Put them before a list's elements (`l = v + l`).
    Prepend,
}

/// The earliest time a timeuuid holds (1582-10-15), in microseconds from the Unix epoch.
const TIMEUUID_EPOCH_MICROS: i64 = -12_219_292_800_000_000;

#[allow(clippy::too_many_arguments)]
pub(crate) fn add_elements(
    p: &mut Partition,
    clustering: &[Option<Vec<u8>>],
    col: &Col,
    bound: Bound,
    how: Elements,
    ts: i64,
    ttl: i32,
    now_s: i64,
    seed: &mut Seed<'_>,
) -> Result<(), Failure> {
    let idx = col_index(col);
    let ty = col.ty();
    if !ty.is_multi_cell() {
        return Err(invalid(format!("Invalid operation for non-collection column (type {ty})")));
    }
    let Bound::Bytes(v) = bound else { return Ok(()) };
    let row = row_for(p, clustering, col)?;
    add_elements_to(row, idx, ty, &v, how, ts, ttl, now_s, seed)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn add_elements_to(
    row: &mut Row,
    idx: u16,
    ty: &CqlType,
    v: &[u8],
    how: Elements,
    ts: i64,
    ttl: i32,
    now_s: i64,
    seed: &mut Seed<'_>,
) -> Result<(), Failure> {
    let add = how != Elements::Remove;
    let bad = || invalid(format!("Invalid value for a {ty}"));
    let cell = |path: Vec<u8>, value: Vec<u8>| {
        if add {
            make_cell(idx, Some(path), value, ts, ttl, now_s)
        } else {
            OwnedCell::tombstone(idx, Some(path), ts, now_s)
        }
    };
    match ty.unreversed() {
        CqlType::Set { .. } => {
            for (e, _) in split_collection(v, false).ok_or_else(bad)? {
                row.add_cell(cell(e, vec![]));
            }
        }
        CqlType::Map { .. } => {
            // `m = m - {k1, k2}` removes keys given as a set.
            if !add {
                for (k, _) in split_collection(v, false).ok_or_else(bad)? {
                    row.add_cell(OwnedCell::tombstone(idx, Some(k), ts, now_s));
                }
                return Ok(());
            }
            for (k, val) in split_collection(v, true).ok_or_else(bad)? {
                row.add_cell(cell(k, val.unwrap_or_default()));
            }
        }
        CqlType::List { .. } => {
            if !add {
                return Err(invalid("Removing list elements by value is not supported yet"));
            }
            let elements = split_collection(v, false).ok_or_else(bad)?;
            // Paths in the elements' order: from the write time for an append, from its mirror
            // image about Cassandra's reference time for a prepend.
            // A prepend's paths mirror its write time about the Unix epoch (Cassandra mirrors
            // the server's clock about 2010, `Lists.PrecisionTime`): before every element
            // appended at a time since 1970, a later prepend before an earlier one.
            let n = elements.len() as i64;
            let first = match how {
                Elements::Prepend => ts
                    .checked_neg()
                    .and_then(|t| t.checked_sub(n))
                    .filter(|&t| t >= TIMEUUID_EPOCH_MICROS)
                    .ok_or_else(|| invalid(format!("a list prepend at timestamp {ts} has no timeuuid paths")))?,
                _ => ts,
            };
            for (i, (e, _)) in elements.into_iter().enumerate() {
                let path = timeuuid(first + i as i64, seed.get()).to_vec();
                row.add_cell(cell(path, e));
            }
        }
        CqlType::Udt(_) => {
            for (i, f) in split_fields(v).ok_or_else(bad)?.into_iter().enumerate() {
                let path = (i as u16).to_be_bytes().to_vec();
                match f {
                    Some(val) => row.add_cell(make_cell(idx, Some(path), val, ts, ttl, now_s)),
                    None => row.add_cell(OwnedCell::tombstone(idx, Some(path), ts, now_s)),
                }
            }
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// Where a write statement goes and when: its table and its write time (`USING TIMESTAMP`, the
/// request's default timestamp, else the node's clock). A lightweight transaction (`lwt`, the
/// clause it used) is refused before anything else.
fn target<'c>(
    cat: &'c Catalog,
    shared: &Shared,
    session: &Session,
    table: &crate::cql::QName,
    using: &Using,
    b: &Binder<'_>,
    lwt: Option<&str>,
) -> Result<(&'c Arc<Table>, i64), Failure> {
    if let Some(clause) = lwt {
        return Err(invalid(format!("Lightweight transactions ({clause}) are not supported by this node")));
    }
    let ks = resolve_keyspace(session, table)?;
    let ts = next_timestamp(shared, b.params, using, b)?;
    Ok((table_of(cat, &ks, &table.name)?, ts))
}

/// `INSERT`.
pub(crate) fn insert(
    cat: &Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
    now_s: i64,
    staged: &mut Staged,
) -> Result<(), Failure> {
    let Statement::Insert { table, columns, values, using, if_not_exists, json } = st else {
        return Err(invalid("not a Insert statement"));
    };
    let b = Binder { params };
    let lwt = if_not_exists.then_some("IF NOT EXISTS");
    if lwt.is_none() && json.is_some() {
        return Err(invalid("INSERT JSON is not supported yet"));
    }
    let (t, ts) = target(cat, shared, session, table, using, &b, lwt)?;
    if columns.len() != values.len() {
        return Err(invalid("Unmatched column names/values"));
    }
    let ttl = ttl_of(t, using, &b)?;
    let mut keys: Vec<Option<Vec<u8>>> = vec![None; t.schema.partition_key.len()];
    let mut cks: Vec<Option<Vec<u8>>> = vec![None; t.schema.clustering.len()];
    let mut cells: Vec<(Col, Bound)> = Vec::new();
    for (c, v) in columns.iter().zip(values) {
        let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
        let bound = b.bind(v, col.ty(), c)?;
        match (&col, bound) {
            (Col::Key(i, _), Bound::Bytes(x)) => keys[*i] = Some(x),
            (Col::Clustering(i, _), Bound::Bytes(x)) => cks[*i] = Some(x),
            (Col::Key(..) | Col::Clustering(..), _) => {
                return Err(invalid(format!("Invalid null value in condition for column {c}")));
            }
            (_, bound) => cells.push((col, bound)),
        }
    }
    let key = partition_key(t, &keys)?;
    // An INSERT naming no clustering and setting static columns only writes the partition's
    // static row, and no row (Cassandra's `ModificationStatement`: no primary key liveness).
    let static_only = !cks.is_empty()
        && cks.iter().all(Option::is_none)
        && !cells.is_empty()
        && cells.iter().all(|(c, _)| matches!(c, Col::Static(..)));
    let clustering = if static_only { vec![] } else { full_clustering(t, &cks)? };
    let header = Arc::clone(&t.header);
    let mut seed = Seed::new(st, params, ts);
    let p = staged.partition_mut(t, key);
    if !static_only {
        row_at(p, &clustering)?.add_liveness(liveness(ts, ttl, now_s));
    }
    for (col, bound) in cells {
        write_cell(p, &header, &clustering, &col, bound, ts, ttl, now_s, &mut seed)?;
    }
    Ok(())
}

/// `UPDATE`.
pub(crate) fn update(
    cat: &Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
    now_s: i64,
    staged: &mut Staged,
) -> Result<(), Failure> {
    let Statement::Update { table, using, assignments, relations, conditional } = st else {
        return Err(invalid("not a Update statement"));
    };
    let b = Binder { params };
    let (t, ts) = target(cat, shared, session, table, using, &b, conditional.then_some("IF ..."))?;
    let ttl = ttl_of(t, using, &b)?;
    let (keys, cks) = key_restrictions(t, relations, &b)?;
    let header = Arc::clone(&t.header);
    let schema = t.schema.clone();
    // List cell paths: derived from the statement, so a commit-log replay makes the same ones.
    let mut seed = Seed::new(st, params, ts);
    // An UPDATE of static columns only names the partition alone.
    let static_only = assignments.iter().all(|a| {
        let (Assignment::Set(c, _)
        | Assignment::Add(c, _)
        | Assignment::Remove(c, _)
        | Assignment::Prepend(c, _)
        | Assignment::SetElement(c, _, _)
        | Assignment::SetField(c, _, _)) = a;
        matches!(column_in(&header, &schema, c), Ok(Col::Static(..)))
    });
    if static_only && !t.schema.clustering.is_empty() && cks.iter().any(|cl| cl.iter().any(Option::is_some)) {
        return Err(invalid(
            "Invalid restrictions on clustering columns since the UPDATE statement modifies only static columns",
        ));
    }
    for key in keys {
        for cl in &cks {
            let clustering =
                if static_only && cl.iter().all(Option::is_none) { vec![] } else { full_clustering(t, cl)? };
            let p = staged.partition_mut(t, key.clone());
            for a in assignments {
                let (name, term) = match a {
                    Assignment::Set(c, v)
                    | Assignment::Add(c, v)
                    | Assignment::Remove(c, v)
                    | Assignment::Prepend(c, v) => (c, v),
                    Assignment::SetElement(c, _, v) | Assignment::SetField(c, _, v) => (c, v),
                };
                let col = column_in(&header, &schema, name)?;
                if matches!(col, Col::Key(..) | Col::Clustering(..)) {
                    return Err(invalid(format!("PRIMARY KEY part {name} found in SET part")));
                }
                if !matches!(a, Assignment::Set(..)) {
                    updatable_in_place(a, name, col.ty())?;
                }
                match a {
                    Assignment::Set(..) => {
                        let bound = b.bind(term, col.ty(), name)?;
                        write_cell(p, &header, &clustering, &col, bound, ts, ttl, now_s, &mut seed)?;
                    }
                    Assignment::Add(..) | Assignment::Remove(..) | Assignment::Prepend(..) => {
                        let bound = b.bind(term, &operand_type(a, col.ty()), name)?;
                        let how = match a {
                            Assignment::Remove(..) => Elements::Remove,
                            Assignment::Prepend(..) => Elements::Prepend,
                            _ => Elements::Add,
                        };
                        add_elements(p, &clustering, &col, bound, how, ts, ttl, now_s, &mut seed)?;
                    }
                    Assignment::SetField(_, field, v) => {
                        let CqlType::Udt(udt) = col.ty().unreversed() else {
                            return Err(invalid(format!("Invalid field selection: {name} is not a user type")));
                        };
                        let i = udt
                            .fields
                            .iter()
                            .position(|(n, _)| n == field)
                            .ok_or_else(|| invalid(format!("Unknown field {field} in {name}")))?;
                        let ft = udt.fields[i].1.clone();
                        let path = (i as u16).to_be_bytes().to_vec();
                        let idx = col_index(&col);
                        let cell = match b.bind(v, &ft, field)? {
                            Bound::Bytes(x) => make_cell(idx, Some(path), x, ts, ttl, now_s),
                            Bound::Null => OwnedCell::tombstone(idx, Some(path), ts, now_s),
                            Bound::Unset => continue,
                        };
                        row_for(p, &clustering, &col)?.add_cell(cell);
                    }
                    Assignment::SetElement(_, k, v) => {
                        let CqlType::Map { key: kt, value: vt, .. } = col.ty().unreversed() else {
                            return Err(invalid(format!("Invalid operation for non-map column {name}")));
                        };
                        let (Bound::Bytes(kb), vb) = (b.bind(k, kt, name)?, b.bind(v, vt, name)?) else {
                            return Err(invalid("Invalid null map key"));
                        };
                        let idx = col_index(&col);
                        let cell = match vb {
                            Bound::Bytes(v) => make_cell(idx, Some(kb), v, ts, ttl, now_s),
                            _ => OwnedCell::tombstone(idx, Some(kb), ts, now_s),
                        };
                        row_for(p, &clustering, &col)?.add_cell(cell);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The type of the value an assignment to a column of type `ty` takes: `m = m - {k, ...}` names
/// map keys as a set; every other operand has the column's type.
pub(crate) fn operand_type(a: &Assignment, ty: &CqlType) -> CqlType {
    match (a, ty.unreversed()) {
        (Assignment::Remove(..), CqlType::Map { key, .. }) => CqlType::Set { elem: key.clone(), frozen: true },
        (_, t) => t.clone(),
    }
}

/// Element operations update a non-frozen collection or UDT cell by cell, each on what it can:
/// `c = c + v` and `c = c - v` a list, set or map, `l = v + l` a list, `c[k] = v` a map, `u.f = v`
/// a UDT. Anything else — a frozen value (one cell), a column that is no collection — Cassandra
/// refuses (`Operation` in its `cql3/`), and so does this node.
fn updatable_in_place(a: &Assignment, name: &str, ty: &CqlType) -> Result<(), Failure> {
    let ty = ty.unreversed();
    let fits = ty.is_multi_cell()
        && matches!(
            (a, ty),
            (
                Assignment::Add(..) | Assignment::Remove(..),
                CqlType::List { .. } | CqlType::Set { .. } | CqlType::Map { .. },
            ) | (Assignment::Prepend(..), CqlType::List { .. })
                | (Assignment::SetElement(..), CqlType::Map { .. })
                | (Assignment::SetField(..), CqlType::Udt(_))
        );
    match ty {
        _ if fits => Ok(()),
        CqlType::Counter => Err(invalid(format!("Counter updates are not supported: {name}"))),
        CqlType::List { .. } | CqlType::Set { .. } | CqlType::Map { .. } if !ty.is_multi_cell() => {
            Err(invalid(format!("Invalid operation for frozen collection column {name}")))
        }
        CqlType::Udt(_) if !ty.is_multi_cell() => {
            Err(invalid(format!("Invalid operation for frozen UDT column {name}")))
        }
        CqlType::List { .. } | CqlType::Set { .. } | CqlType::Map { .. } | CqlType::Udt(_) => {
            Err(invalid(format!("Invalid operation for column {name} of type {ty}")))
        }
        _ => Err(invalid(format!("Invalid operation for non-collection column {name}"))),
    }
}

/// The type naming one element of column `name` in `DELETE c[k]`: a key of a non-frozen map, an
/// element of a non-frozen set. Cassandra also deletes a list element by index, which needs the
/// list read first; that is refused here, as is any other column.
pub(crate) fn element_type<'t>(name: &str, ty: &'t CqlType) -> Result<&'t CqlType, Failure> {
    match ty.unreversed() {
        CqlType::Map { key, frozen: false, .. } => Ok(key),
        CqlType::Set { elem, frozen: false } => Ok(elem),
        CqlType::List { frozen: false, .. } => {
            Err(invalid(format!("Deleting a list element by index is not supported: {name}")))
        }
        CqlType::List { .. } | CqlType::Set { .. } | CqlType::Map { .. } => {
            Err(invalid(format!("Invalid deletion operation for frozen collection column {name}")))
        }
        _ => Err(invalid(format!("Invalid deletion operation for non collection column {name}"))),
    }
}

/// `DELETE`: cells, rows, partitions, or a range of rows (a range tombstone).
pub(crate) fn delete(
    cat: &Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
    now_s: i64,
    staged: &mut Staged,
) -> Result<(), Failure> {
    let Statement::Delete { table, columns, using, relations, conditional } = st else {
        return Err(invalid("not a Delete statement"));
    };
    let b = Binder { params };
    let (t, ts) = target(cat, shared, session, table, using, &b, conditional.then_some("IF ..."))?;
    // Slices on a clustering column (`c > ?`, `c <= ?`) delete a range: a range tombstone.
    let is_slice = |r: &Relation| matches!(r.op.as_str(), "<" | "<=" | ">" | ">=");
    let slices: Vec<&Relation> = relations.iter().filter(|r| is_slice(r)).collect();
    let eq: Vec<Relation> = relations.iter().filter(|r| !is_slice(r)).cloned().collect();
    let (keys, cks) = key_restrictions(t, &eq, &b)?;
    let header = Arc::clone(&t.header);
    let schema = t.schema.clone();
    let deletion = DeletionTime { marked_for_delete_at: ts, local_deletion_time: now_s };
    let n_ck = t.schema.clustering.len();
    if !slices.is_empty() {
        if !columns.is_empty() {
            return Err(invalid("Range deletions are not supported for specific columns"));
        }
        let name = slices[0].columns.first().cloned().unwrap_or_default();
        if slices.iter().any(|r| r.columns.first() != Some(&name)) {
            return Err(invalid("A range deletion restricts one clustering column"));
        }
        let Col::Clustering(i, ty) = column_in(&header, &schema, &name)? else {
            return Err(invalid(format!(
                "{name} is not a clustering column: only clustering columns can be restricted by a slice"
            )));
        };
        // Each bound: the value and whether it is inclusive.
        type SliceBound = Option<(Vec<u8>, bool)>;
        let (mut start, mut end): (SliceBound, SliceBound) = (None, None);
        // A range tombstone's start comes first in clustering order: on a DESC column that is
        // the upper bound (`a < 3` starts the range `a > 0 AND a < 3` deletes).
        let desc = ty.is_reversed() || schema.clustering.get(i).is_some_and(|(_, desc)| *desc);
        for r in &slices {
            let v = bind_values(r, &ty, &name, &b)?.into_iter().next().ok_or_else(|| invalid("missing slice bound"))?;
            let (lower, inclusive) = match r.op.as_str() {
                ">" => (true, false),
                ">=" => (true, true),
                "<" => (false, false),
                _ => (false, true),
            };
            *if lower != desc { &mut start } else { &mut end } = Some((v, inclusive));
        }
        for key in &keys {
            for cl in &cks {
                let given = cl.iter().take_while(|c| c.is_some()).count();
                if given != i {
                    return Err(invalid("The clustering columns before a sliced one must be restricted by equality"));
                }
                let prefix: Vec<Option<Vec<u8>>> = cl.iter().take(given).cloned().collect();
                let bound = |b: &SliceBound| match b {
                    Some((v, incl)) => {
                        let mut p = prefix.clone();
                        p.push(Some(v.clone()));
                        (p, *incl)
                    }
                    None => (prefix.clone(), true),
                };
                let ((s, si), (e, ei)) = (bound(&start), bound(&end));
                let p = staged.partition_mut(t, key.clone());
                p.range_tombstones.push(cairn_format::partition::RangeTombstone {
                    start: s,
                    start_inclusive: si,
                    end: e,
                    end_inclusive: ei,
                    deletion,
                });
            }
        }
        return Ok(());
    }
    for key in keys {
        for cl in &cks {
            let given = cl.iter().take_while(|c| c.is_some()).count();
            let p = staged.partition_mut(t, key.clone());
            if columns.is_empty() {
                if given == 0 {
                    p.delete(deletion);
                } else if given == n_ck {
                    row_at(p, cl)?.delete(deletion);
                } else {
                    let prefix: Vec<Option<Vec<u8>>> = cl.iter().take(given).cloned().collect();
                    p.range_tombstones.push(cairn_format::partition::RangeTombstone {
                        start: prefix.clone(),
                        start_inclusive: true,
                        end: prefix,
                        end_inclusive: true,
                        deletion,
                    });
                }
                continue;
            }
            if given != n_ck && columns.iter().any(|(c, _)| !header.static_columns.iter().any(|s| &s.name == c)) {
                return Err(invalid("Missing mandatory PRIMARY KEY part to delete columns"));
            }
            for (name, element) in columns {
                let col = column_in(&header, &schema, name)?;
                let idx = col_index(&col);
                let row = row_for(p, cl, &col)?;
                match element {
                    Some(k) => {
                        let kt = element_type(name, col.ty())?;
                        let Bound::Bytes(kb) = b.bind(k, kt, name)? else {
                            return Err(invalid("Invalid null element"));
                        };
                        row.add_cell(OwnedCell::tombstone(idx, Some(kb), ts, now_s));
                    }
                    None if col.ty().is_multi_cell() => row.delete_column(idx, deletion),
                    None => row.add_cell(OwnedCell::tombstone(idx, None, ts, now_s)),
                }
            }
        }
    }
    Ok(())
}

/// `BATCH` (a logged and an unlogged batch alike).
pub(crate) fn batch(
    cat: &Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
    now_s: i64,
    staged: &mut Staged,
) -> Result<(), Failure> {
    let Statement::Batch { statements, using } = st else { return Err(invalid("not a Batch statement")) };
    let b = Binder { params };
    let ts = next_timestamp(shared, params, using, &b)?;
    for s in statements {
        let p = QueryParams { timestamp: Some(ts), ..params.clone() };
        stage(cat, shared, session, s, &p, now_s, staged)?;
    }
    Ok(())
}
