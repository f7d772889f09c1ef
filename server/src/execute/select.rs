//! SELECT: the partitions a WHERE clause names (or all of them), memtable and SSTables merged,
//! their live rows (TTLs expired, deletions applied, by `cairn_format::live`), filtered, ordered,
//! limited, projected and paged. System tables are answered from [`crate::system`].

use cairn_format::live::{LiveCells, LivePartition};
use cairn_format::partition::Partition;
use cairn_format::partitioner::{Token, murmur3_token};
use cairn_format::statistics::HeaderColumn;
use cairn_format::types::CqlType;
use cairn_format::types::compare::{compare_clusterings, compare_values};
use cairn_format::types::render::hex;

use super::{Binder, Col, Timed, all_columns, bind_values, column, key_restrictions, resolve_keyspace};
use crate::catalog::Catalog;
use crate::connection::Session;
use crate::coordinator::consistency::Consistency;
use crate::coordinator::read::RingSource;
use crate::cql::{Relation, Selector, Statement};
use crate::node::Shared;
use crate::protocol::{Columns, Failure, Outcome, QueryParams, Row, code, invalid};
use crate::storage::table::{PartitionSource, Table};
use crate::system;
use crate::values::{serialize_collection, serialize_fields, serialize_map};

pub(crate) fn project_columns(
    cols: &Columns,
    selectors: Option<&Vec<(Selector, Option<String>)>>,
) -> Result<Columns, Failure> {
    let Some(sel) = selectors else { return Ok(cols.clone()) };
    sel.iter()
        .map(|(s, alias)| {
            let (name, ty) = match s {
                Selector::Column(c) => cols
                    .iter()
                    .find(|x| &x.0 == c)
                    .cloned()
                    .ok_or_else(|| invalid(format!("Undefined column name {c}")))?,
                Selector::Count(None) => ("count".to_string(), CqlType::BigInt),
                Selector::Count(Some(c)) => (format!("system.count({c})"), CqlType::BigInt),
                Selector::WriteTime(c) => (format!("writetime({c})"), CqlType::BigInt),
                Selector::Ttl(c) => (format!("ttl({c})"), CqlType::Int),
                Selector::Token(c) => (format!("system.token({})", c.join(", ")), CqlType::BigInt),
            };
            Ok((alias.clone().unwrap_or(name), ty))
        })
        .collect()
}

pub(crate) fn select_columns(
    t: &Table,
    selectors: Option<&Vec<(Selector, Option<String>)>>,
) -> Result<Columns, Failure> {
    // writetime() and ttl() are of one cell: not of a key column, nor of a non-frozen
    // collection or UDT (several cells; Cassandra 4.0 refuses both the same way).
    for (s, _) in selectors.into_iter().flatten() {
        if let Selector::Count(Some(c)) = s
            && column(t, c).is_none()
        {
            return Err(invalid(format!("Undefined column name {c}")));
        }
        let (Selector::WriteTime(c) | Selector::Ttl(c)) = s else { continue };
        let function = if matches!(s, Selector::WriteTime(_)) { "writeTime" } else { "ttl" };
        match column(t, c) {
            Some(Col::Key(..) | Col::Clustering(..)) => {
                return Err(invalid(format!("Cannot use selection function {function} on PRIMARY KEY part {c}")));
            }
            Some(col) if col.ty().is_multi_cell() => {
                return Err(invalid(format!("Cannot use selection function {function} on non-frozen column {c}")));
            }
            _ => {}
        }
    }
    project_columns(&all_columns(t), selectors)
}

pub(crate) fn filter_system_rows(
    cols: &Columns,
    rows: Vec<Row>,
    relations: &[Relation],
    b: &Binder<'_>,
) -> Result<Vec<Row>, Failure> {
    let mut rows = rows;
    for r in relations {
        let Some(name) = r.columns.first() else { continue };
        let i =
            cols.iter().position(|c| &c.0 == name).ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
        let vals = bind_values(r, &cols[i].1, name, b)?;
        if r.op != "=" && r.op != "in" {
            return Err(invalid("only = and IN restrictions are supported on system tables"));
        }
        rows.retain(|row| row.get(i).and_then(|v| v.as_ref()).is_some_and(|v| vals.contains(v)));
    }
    Ok(rows)
}

pub(crate) fn project_plain(
    cols: &Columns,
    rows: Vec<Row>,
    selectors: Option<&Vec<(Selector, Option<String>)>>,
) -> Vec<Row> {
    let Some(sel) = selectors else { return rows };
    let value = |r: &Row, c: &str| cols.iter().position(|x| x.0 == c).and_then(|i| r.get(i).cloned().flatten());
    let projected = rows.iter().map(|r| {
        sel.iter()
            .map(|(s, _)| match s {
                Selector::Column(c) => value(r, c),
                _ => None,
            })
            .collect()
    });
    if is_aggregate(Some(sel)) {
        let first = projected.take(1).next();
        return vec![aggregate_row(sel, rows.len(), |c| rows.iter().filter(|r| value(r, c).is_some()).count(), first)];
    }
    projected.collect()
}

/// One live CQL row of a user table, with its cells' write times and TTLs.
pub(crate) struct LiveRow {
    pub(crate) key: Vec<u8>,
    pub(crate) clustering: Vec<Option<Vec<u8>>>,
    /// Per header column (static then regular): value, write time, TTL left.
    pub(crate) statics: Vec<Timed>,
    pub(crate) regulars: Vec<Timed>,
}

/// A row's live cells as the node answers them, gathered by [`cairn_format::live`].
pub(crate) struct TimedCells {
    pub(crate) now_s: i64,
    /// Per header column: a simple column's value, write time and TTL left.
    pub(crate) simple: Vec<Timed>,
    /// Per header column: a multi-cell column's live (path, value) cells.
    pub(crate) elems: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    /// Per header column: a multi-cell column's newest write time and its last cell's TTL left.
    pub(crate) times: Vec<(i64, Option<i64>)>,
}

impl TimedCells {
    fn new(columns: usize, now_s: i64) -> Self {
        TimedCells {
            now_s,
            simple: vec![None; columns],
            elems: vec![vec![]; columns],
            times: vec![(i64::MIN, None); columns],
        }
    }

    /// Per header column: value, write time, TTL left; a multi-cell column's cells serialized
    /// as one collection or UDT value.
    fn into_values(self, cols: &[HeaderColumn]) -> Vec<Timed> {
        let mut out = self.simple;
        for (i, e) in self.elems.into_iter().enumerate() {
            if e.is_empty() {
                continue;
            }
            let Some(hc) = cols.get(i) else { continue };
            let bytes = match hc.ty.unreversed() {
                CqlType::Set { .. } => serialize_collection(e.iter().map(|(p, _)| p.as_slice())),
                CqlType::List { .. } => serialize_collection(e.iter().map(|(_, v)| v.as_slice())),
                CqlType::Map { .. } => serialize_map(e.iter().map(|(p, v)| (p.as_slice(), v.as_slice()))),
                CqlType::Udt(udt) => {
                    let mut fields: Vec<Option<&[u8]>> = vec![None; udt.fields.len()];
                    for (p, v) in &e {
                        if let Some(f) =
                            cairn_format::types::value::udt_field_index(p).and_then(|fi| fields.get_mut(fi))
                        {
                            *f = Some(v.as_slice());
                        }
                    }
                    serialize_fields(fields.into_iter())
                }
                _ => continue,
            };
            if let Some(slot) = out.get_mut(i) {
                let (ts, ttl) = self.times.get(i).copied().unwrap_or((i64::MIN, None));
                *slot = Some((bytes, ts, ttl));
            }
        }
        out
    }
}

impl LiveCells for TimedCells {
    fn add(&mut self, cell: &cairn_format::data::Cell, path: Option<&[u8]>, value: &[u8]) {
        let i = cell.column as usize;
        let ttl_left = cell.is_expiring().then(|| cell.local_deletion_time - self.now_s);
        match path {
            Some(path) => {
                if let Some(e) = self.elems.get_mut(i) {
                    e.push((path.to_vec(), value.to_vec()));
                }
                if let Some(t) = self.times.get_mut(i) {
                    *t = (t.0.max(cell.timestamp), ttl_left);
                }
            }
            None => {
                if let Some(slot) = self.simple.get_mut(i) {
                    *slot = Some((value.to_vec(), cell.timestamp, ttl_left));
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.simple.iter().all(Option::is_none) && self.elems.iter().all(Vec::is_empty)
    }
}

pub(crate) fn live_rows(t: &Table, p: &Partition, now_s: i64) -> Vec<LiveRow> {
    let header = &t.header;
    let (static_columns, regular_columns) = (&header.static_columns, &header.regular_columns);
    let mut statics = TimedCells::new(static_columns.len(), now_s);
    let static_row = p.static_unfiltered(header);
    let mut partition = LivePartition::new(static_columns, regular_columns, now_s, static_row.as_ref(), &mut statics);
    let statics = statics.into_values(static_columns);
    let mut out = Vec::new();
    for u in p.unfiltereds(header) {
        let mut regulars = TimedCells::new(regular_columns.len(), now_s);
        if partition.row(&u, &mut regulars) {
            out.push(LiveRow {
                key: p.key.clone(),
                clustering: (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect(),
                statics: statics.clone(),
                regulars: regulars.into_values(regular_columns),
            });
        }
    }
    if partition.shows_static_row() {
        out.push(LiveRow {
            key: p.key.clone(),
            clustering: vec![None; t.schema.clustering.len()],
            statics,
            regulars: vec![None; regular_columns.len()],
        });
    }
    out
}

/// Where a page of a user table's rows ended: the last row returned (its partition key and
/// clustering) and how many rows were returned before it, in all and in its partition (for
/// LIMIT and PER PARTITION LIMIT). The next page resumes right after that row — a full scan
/// reads each partition once, not once per page. Sent to the client as opaque bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PagePosition {
    pub(crate) key: Vec<u8>,
    pub(crate) clustering: Vec<Option<Vec<u8>>>,
    /// Rows returned so far, this one included.
    pub(crate) returned: u64,
    /// Rows returned so far from this row's partition, this one included.
    pub(crate) in_partition: u64,
}

/// A paging state's first byte: a position in a user table, or an offset in a system table's rows.
const PAGE_AT_ROW: u8 = 1;
const PAGE_AT_OFFSET: u8 = 2;

impl PagePosition {
    /// The opaque bytes: kind, key, clustering values (a length of -1 for none), the counts.
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![PAGE_AT_ROW];
        out.extend_from_slice(&(self.key.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&(self.clustering.len() as u16).to_be_bytes());
        for c in &self.clustering {
            match c {
                Some(v) => {
                    out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    out.extend_from_slice(v);
                }
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        out.extend_from_slice(&self.returned.to_be_bytes());
        out.extend_from_slice(&self.in_partition.to_be_bytes());
        out
    }

    /// Read the bytes [`PagePosition::encode`] wrote, for a table of `clustering` columns.
    fn decode(b: &[u8], clustering: usize) -> Result<PagePosition, Failure> {
        let bad = || invalid("Invalid paging state: not one this node gave for this query");
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], Failure> {
            let v = b.get(at..at + n).ok_or_else(bad)?;
            at += n;
            Ok(v)
        };
        if take(1)? != [PAGE_AT_ROW] {
            return Err(bad());
        }
        let n = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
        let key = take(n)?.to_vec();
        let count = u16::from_be_bytes(take(2)?.try_into().map_err(|_| bad())?) as usize;
        if count != clustering {
            return Err(bad());
        }
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            let len = i32::from_be_bytes(take(4)?.try_into().map_err(|_| bad())?);
            values.push(if len < 0 { None } else { Some(take(len as usize)?.to_vec()) });
        }
        let returned = u64::from_be_bytes(take(8)?.try_into().map_err(|_| bad())?);
        let in_partition = u64::from_be_bytes(take(8)?.try_into().map_err(|_| bad())?);
        if at != b.len() {
            return Err(bad());
        }
        Ok(PagePosition { key, clustering: values, returned, in_partition })
    }
}

/// What a SELECT of a user table gives: the columns, one page of rows, and where the page ended
/// when more rows follow.
type Selected = (Columns, Vec<Row>, Option<PagePosition>);

/// Rows of a user table: from `resume` on (the start when `None`), at most `want` of them (all
/// when `None`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn select_rows(
    t: &Table,
    d: &dyn PartitionSource,
    selectors: Option<&Vec<(Selector, Option<String>)>>,
    relations: &[Relation],
    order: &[(String, bool)],
    per_partition_limit: Option<usize>,
    allow_filtering: bool,
    b: &Binder<'_>,
    now_s: i64,
    resume: Option<&PagePosition>,
    want: Option<usize>,
) -> Result<Selected, Failure> {
    let columns = select_columns(t, selectors)?;
    let count_only = is_aggregate(selectors);
    // A count reads everything, and is one row.
    let (resume, want) = if count_only { (None, None) } else { (resume, want) };
    // Partition-key restrictions decide which partitions are read; the rest filter rows.
    let pk_names: Vec<&str> = t.schema.partition_key.iter().map(|c| c.name.as_str()).collect();
    let pk_rels: Vec<&Relation> = relations
        .iter()
        .filter(|r| !r.token && r.columns.first().is_some_and(|c| pk_names.contains(&c.as_str())))
        .collect();
    let token_rels: Vec<&Relation> = relations.iter().filter(|r| r.token).collect();
    let mut filters: Vec<(Col, String, Vec<Vec<u8>>)> = Vec::new();
    for r in relations.iter().filter(|r| !r.token && !pk_rels.iter().any(|p| std::ptr::eq(*p, *r))) {
        let Some(name) = r.columns.first() else { continue };
        let col = column(t, name).ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
        if matches!(col, Col::Static(..) | Col::Regular(..)) && !allow_filtering {
            return Err(invalid(
                "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING",
            ));
        }
        filters.push((col.clone(), r.op.clone(), bind_values(r, col.ty(), name, b)?));
    }
    // The partitions named by the key (read at once), or a scan in ring order (read a chunk at
    // a time, from where the page resumes).
    let keyed: Option<Vec<(Token, Vec<u8>)>> = if !pk_rels.is_empty() {
        if pk_rels.len() != pk_names.len() || pk_rels.iter().any(|r| r.op != "=" && r.op != "in") {
            if !allow_filtering {
                return Err(invalid("Partition key parts must all be restricted by = or IN (or use ALLOW FILTERING)"));
            }
            None
        } else {
            let (keys, _) = key_restrictions(t, &pk_rels.iter().map(|r| (*r).clone()).collect::<Vec<_>>(), b)?;
            // In the partition key's type order, each key once, as Cassandra returns the
            // partitions of `k IN (...)` (the sorted set `MultiCBuilder` builds), not ring order.
            let mut keyed: Vec<(Token, Vec<u8>)> =
                keys.into_iter().map(|k| (Token::Murmur3(murmur3_token(&k)), k)).collect();
            keyed.sort_by(|a, b| compare_keys(t, &a.1, &b.1));
            keyed.dedup_by(|a, b| a.1 == b.1);
            Some(keyed)
        }
    } else {
        None
    };
    // Without the whole key, ALLOW FILTERING scans the table and the key's restrictions filter
    // it, as Cassandra (3.10 onwards) filters on partition key columns.
    if keyed.is_none() {
        for r in &pk_rels {
            let Some(name) = r.columns.first() else { continue };
            let col = column(t, name).ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
            filters.push((col.clone(), r.op.clone(), bind_values(r, col.ty(), name, b)?));
        }
    }
    let key_filtered = filters.iter().any(|(c, ..)| matches!(c, Col::Key(..)));
    let mut token_bounds: Vec<(String, i64)> = Vec::new();
    for r in token_rels {
        let v = r.values.last().ok_or_else(|| invalid("token() needs a value"))?;
        let x = if r.token_of {
            // token(k) > token(value): the token the value has as the partition key.
            let key = token_argument_type(t)?;
            match bind_values(r, key, "token", b)?.into_iter().next() {
                Some(k) => murmur3_token(&k),
                None => return Err(invalid("null token")),
            }
        } else {
            b.int(v, "token")?.ok_or_else(|| invalid("null token"))?
        };
        token_bounds.push((r.op.clone(), x));
    }
    let resume_place = resume.map(|r| (Token::Murmur3(murmur3_token(&r.key)), r.key.clone()));
    let reversed = order.first().is_some_and(|(first_ck, desc)| {
        let table_desc = t.schema.clustering.first().is_some_and(|(c, d)| &c.name == first_ck && *d);
        *desc != table_desc
    });
    // Rows gathered, each with its count in its partition; one more than `want` tells whether
    // another page follows.
    let mut rows: Vec<(LiveRow, u64)> = Vec::new();
    let enough = |rows: &Vec<(LiveRow, u64)>| want.is_some_and(|w| rows.len() > w);
    let take_partition = |p: &Partition, rows: &mut Vec<(LiveRow, u64)>| -> Result<(), Failure> {
        let tok = murmur3_token(&p.key);
        if !token_bounds.iter().all(|(op, x)| match op.as_str() {
            ">" => tok > *x,
            ">=" => tok >= *x,
            "<" => tok < *x,
            "<=" => tok <= *x,
            "=" => tok == *x,
            _ => true,
        }) {
            return Ok(());
        }
        let key: Vec<&[u8]> = if key_filtered { key_parts(t, &p.key)? } else { Vec::new() };
        let mut prows = live_rows(t, p, now_s);
        prows.retain(|r| {
            filters.iter().all(|(col, op, vals)| {
                let (value, ty) = match col {
                    Col::Clustering(i, ty) => (r.clustering.get(*i).cloned().flatten(), ty),
                    Col::Static(i, ty) => (r.statics.get(*i as usize).cloned().flatten().map(|v| v.0), ty),
                    Col::Regular(i, ty) => (r.regulars.get(*i as usize).cloned().flatten().map(|v| v.0), ty),
                    Col::Key(i, ty) => (key.get(*i).map(|v| v.to_vec()), ty),
                };
                let Some(value) = value else { return false };
                let cmp = |x: &Vec<u8>| compare_values(ty, &value, x);
                match op.as_str() {
                    "=" | "in" => vals.iter().any(|x| cmp(x).is_eq()),
                    ">" => vals.iter().all(|x| cmp(x).is_gt()),
                    ">=" => vals.iter().all(|x| cmp(x).is_ge()),
                    "<" => vals.iter().all(|x| cmp(x).is_lt()),
                    "<=" => vals.iter().all(|x| cmp(x).is_le()),
                    _ => false,
                }
            })
        });
        if reversed {
            prows.reverse();
        }
        // The partition the last page ended in: on after its last row.
        let mut before = 0;
        if let Some(r) = resume.filter(|r| r.key == p.key) {
            before = r.in_partition;
            let passed = prows.iter().take_while(|row| !after_in_output(t, &row.clustering, &r.clustering, reversed));
            let n = passed.count();
            prows.drain(..n);
        }
        if let Some(l) = per_partition_limit {
            prows.truncate(l.saturating_sub(before as usize));
        }
        for (i, row) in prows.into_iter().enumerate() {
            if enough(rows) {
                break;
            }
            rows.push((row, before + i as u64 + 1));
        }
        Ok(())
    };
    match &keyed {
        Some(keys) => {
            let keys: Vec<(Token, Vec<u8>)> = keys
                .iter()
                .filter(|k| resume_place.as_ref().is_none_or(|r| compare_keys(t, &k.1, &r.1).is_ge()))
                .cloned()
                .collect();
            for p in d.partitions(&keys)? {
                if enough(&rows) {
                    break;
                }
                take_partition(&p, &mut rows)?;
            }
        }
        None => {
            // The partition the last page ended in, then the ones after it, a chunk at a time.
            let mut after = None;
            if let Some(place) = &resume_place {
                for p in d.partitions(std::slice::from_ref(place))? {
                    take_partition(&p, &mut rows)?;
                }
                after = Some(place.clone());
            }
            let chunk = want.map_or(usize::MAX, |w| (w + 1).clamp(16, 4096));
            while !enough(&rows) {
                let ps = d.partitions_after(after.as_ref(), chunk)?;
                let last = ps.len() < chunk;
                for (place, p) in ps {
                    if enough(&rows) {
                        break;
                    }
                    take_partition(&p, &mut rows)?;
                    after = Some(place);
                }
                if last {
                    break;
                }
            }
        }
    }
    let returned_before = resume.map_or(0, |r| r.returned);
    let mut next = None;
    if let Some(w) = want
        && rows.len() > w
    {
        rows.truncate(w);
        next = rows.last().map(|(r, in_partition)| PagePosition {
            key: r.key.clone(),
            clustering: r.clustering.clone(),
            returned: returned_before + w as u64,
            in_partition: *in_partition,
        });
    }
    let rows: Vec<LiveRow> = rows.into_iter().map(|(r, _)| r).collect();
    let header = &t.header;
    let mut split_keys: Vec<Vec<Vec<u8>>> = Vec::with_capacity(rows.len());
    for r in &rows {
        split_keys.push(key_parts(t, &r.key)?.into_iter().map(<[u8]>::to_vec).collect());
    }
    let value_of = |(r, key_parts): (&LiveRow, &Vec<Vec<u8>>), name: &str, what: u8| -> Option<Vec<u8>> {
        let cell = |list: &Vec<Timed>, i: usize| list.get(i).cloned().flatten();
        let pick = |c: Option<(Vec<u8>, i64, Option<i64>)>| match what {
            0 => c.map(|x| x.0),
            1 => c.map(|x| x.1.to_be_bytes().to_vec()),
            _ => c.and_then(|x| x.2).map(|t| (t as i32).to_be_bytes().to_vec()),
        };
        if let Some(i) = t.schema.partition_key.iter().position(|c| c.name == name) {
            return key_parts.get(i).cloned();
        }
        if let Some(i) = t.schema.clustering.iter().position(|(c, _)| c.name == name) {
            return r.clustering.get(i).cloned().flatten();
        }
        if let Some(i) = header.static_columns.iter().position(|c| c.name == name) {
            return pick(cell(&r.statics, i));
        }
        header.regular_columns.iter().position(|c| c.name == name).and_then(|i| pick(cell(&r.regulars, i)))
    };
    let projected = rows.iter().zip(&split_keys).map(|r| match selectors {
        None => all_columns(t).iter().map(|(n, _)| value_of(r, n, 0)).collect(),
        Some(sel) => sel
            .iter()
            .map(|(s, _)| match s {
                Selector::Column(c) => value_of(r, c, 0),
                Selector::WriteTime(c) => value_of(r, c, 1),
                Selector::Ttl(c) => value_of(r, c, 2),
                Selector::Token(_) => Some(murmur3_token(&r.0.key).to_be_bytes().to_vec()),
                Selector::Count(_) => None,
            })
            .collect(),
    });
    if let Some(sel) = selectors.filter(|s| is_aggregate(Some(s))) {
        let set = |c: &str| rows.iter().zip(&split_keys).filter(|r| value_of(*r, c, 0).is_some()).count();
        let first = projected.take(1).next();
        return Ok((columns, vec![aggregate_row(sel, rows.len(), set, first)], None));
    }
    Ok((columns, projected.collect(), next))
}

/// Whether a row's clustering comes after `last` in the order rows are returned (the table's
/// clustering order, or its reverse). A static-only row (no clustering) ends its partition.
fn after_in_output(t: &Table, clustering: &[Option<Vec<u8>>], last: &[Option<Vec<u8>>], reversed: bool) -> bool {
    if last.iter().all(Option::is_none) {
        return false;
    }
    let ord = compare_clusterings(&t.header.clustering_types, clustering, |v| v.as_deref(), last, |v| v.as_deref());
    if reversed { ord.is_lt() } else { ord.is_gt() }
}

/// `SELECT`, paged.
pub(crate) fn select(
    cat: &Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
    now_s: i64,
) -> Result<Outcome, Failure> {
    let Statement::Select {
        table,
        selectors,
        relations,
        limit,
        per_partition_limit,
        order,
        json,
        distinct,
        allow_filtering,
    } = st
    else {
        return Err(invalid("not a Select statement"));
    };
    let b = Binder { params };
    if *json || *distinct {
        return Err(invalid("SELECT JSON and SELECT DISTINCT are not supported yet"));
    }
    let ks = resolve_keyspace(session, table)?;
    let limit = match limit {
        Some(t) => b.int(t, "LIMIT")?.map(|v| v.max(0) as usize),
        None => None,
    };
    let ppl = match per_partition_limit {
        Some(t) => b.int(t, "PER PARTITION LIMIT")?.map(|v| v.max(0) as usize),
        None => None,
    };
    let page = params.page_size.filter(|&p| p > 0).map(|p| p as usize);
    if !system::is_system_keyspace(&ks) {
        let t = cat
            .keyspaces
            .get(&ks)
            .and_then(|k| k.tables.get(&table.name))
            .ok_or_else(|| invalid(format!("table {} does not exist", table.name)))?;
        let resume = match &params.paging_state {
            Some(s) => Some(PagePosition::decode(s, t.schema.clustering.len())?),
            None => None,
        };
        // This page: the page size, or what the LIMIT leaves, whichever is smaller.
        let left = limit.map(|l| l.saturating_sub(resume.as_ref().map_or(0, |r| r.returned) as usize));
        let want = match (page, left) {
            (Some(p), Some(l)) => Some(p.min(l)),
            (p, l) => p.or(l),
        };
        let local;
        let ring;
        let source: &dyn PartitionSource = match &shared.cluster {
            Some(cluster) => {
                let cl = Consistency::from_code(params.consistency)?;
                ring = RingSource::new(shared, cluster, cat, t, cl)?;
                &ring
            }
            None => {
                local = t.lock()?;
                &*local
            }
        };
        let (columns, rows, next) = select_rows(
            t,
            source,
            selectors.as_ref(),
            relations,
            order,
            ppl,
            *allow_filtering,
            &b,
            now_s,
            resume.as_ref(),
            want,
        )?;
        // The LIMIT reached ends the paging.
        let next = next.filter(|n| limit.is_none_or(|l| (n.returned as usize) < l));
        let paging_state = next.map(|n| n.encode());
        return Ok(Outcome::Rows { keyspace: ks, table: table.name.clone(), columns, rows, paging_state });
    }
    let (columns, rows, table_name) = {
        let (cols, rows) = system::table(cat, shared, &ks, &table.name)
            .ok_or_else(|| invalid(format!("table {ks}.{} does not exist", table.name)))?;
        let rows = filter_system_rows(&cols, rows, relations, &b)?;
        let out_cols = project_columns(&cols, selectors.as_ref())?;
        let rows = project_plain(&cols, rows, selectors.as_ref());
        (out_cols, rows, table.name.clone())
    };
    let mut rows = rows;
    if let Some(l) = limit {
        rows.truncate(l);
    }
    // A system table's rows are few and made afresh: its paging state is the offset of the next row.
    let bad = || invalid("Invalid paging state: not one this node gave for this query");
    let offset = match &params.paging_state {
        None => 0,
        Some(s) => match s.split_first() {
            Some((&PAGE_AT_OFFSET, rest)) => {
                <[u8; 8]>::try_from(rest).map(u64::from_be_bytes).map_err(|_| bad())? as usize
            }
            _ => return Err(bad()),
        },
    };
    let mut rows: Vec<Row> = rows.into_iter().skip(offset).collect();
    let mut paging_state = None;
    if let Some(p) = page
        && rows.len() > p
    {
        rows.truncate(p);
        let mut state = vec![PAGE_AT_OFFSET];
        state.extend_from_slice(&((offset + p) as u64).to_be_bytes());
        paging_state = Some(state);
    }
    Ok(Outcome::Rows { keyspace: ks, table: table_name, columns, rows, paging_state })
}

/// The columns of a stored partition key. One that does not split into the table's key columns
/// is a server error, never a row whose key columns read as null or a filter that drops it.
/// Two serialized partition keys of `t` in the order of their types, component by component
/// (a key that does not split sorts by its bytes).
fn compare_keys(t: &Table, a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match (key_parts(t, a), key_parts(t, b)) {
        (Ok(x), Ok(y)) => {
            let types = t.schema.partition_key.iter().map(|c| &c.ty);
            x.iter()
                .zip(&y)
                .zip(types)
                .map(|((x, y), ty)| compare_values(ty, x, y))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| x.len().cmp(&y.len()))
        }
        _ => a.cmp(b),
    }
}

fn key_parts<'k>(t: &Table, key: &'k [u8]) -> Result<Vec<&'k [u8]>, Failure> {
    cairn_format::types::value::key_components(&t.header.key_type, key).map_err(|e| Failure {
        code: code::SERVER,
        message: format!(
            "stored partition key {} does not split into {} columns: {e}",
            hex(key),
            t.schema.partition_key.len()
        ),
        extra: vec![],
    })
}

/// The type of the value in `token(k) > token(value)`: the partition key's, which must be one
/// column (`token(a, b) > token(x, y)` is not supported).
pub(crate) fn token_argument_type(t: &Table) -> Result<&CqlType, Failure> {
    match t.schema.partition_key.as_slice() {
        [k] => Ok(&k.ty),
        _ => Err(invalid("token() of values is supported for a single-column partition key only")),
    }
}

/// Whether the selection aggregates (a `count`): the result is one row.
fn is_aggregate(selectors: Option<&Vec<(Selector, Option<String>)>>) -> bool {
    selectors.is_some_and(|s| s.iter().any(|(x, _)| matches!(x, Selector::Count(_))))
}

/// The one row of an aggregate selection over `rows` rows: `count(*)` counts them, `count(c)`
/// the ones where `c` is set (`set(c)`), and a plain selector takes the first row's value (null
/// when there is none), as Cassandra's `SimpleSelector` keeps the first input it is given.
fn aggregate_row(
    sel: &[(Selector, Option<String>)],
    rows: usize,
    set: impl Fn(&str) -> usize,
    first: Option<Row>,
) -> Row {
    let count = |n: usize| Some((n as i64).to_be_bytes().to_vec());
    sel.iter()
        .enumerate()
        .map(|(i, (s, _))| match s {
            Selector::Count(None) => count(rows),
            Selector::Count(Some(c)) => count(set(c)),
            _ => first.as_ref().and_then(|r| r.get(i).cloned().flatten()),
        })
        .collect()
}
