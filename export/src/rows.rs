//! Live CQL rows out of a reconciled partition stream, with what `writetime()` and `ttl()` show.

use cairn_format::data::{PartitionStream, UnfilteredKind};
use cairn_format::error::Result;
use cairn_format::partitioner::{Partitioner, Token};

/// A live column value of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A simple column.
    Simple {
        /// Serialized value.
        value: Vec<u8>,
        /// Write time (µs).
        timestamp: i64,
        /// TTL (0: none).
        ttl: i32,
        /// Expiry (s), for TTL'd cells.
        expires: i64,
    },
    /// The live cells (path, value) of a multi-cell column, in path order.
    Complex(Vec<(Vec<u8>, Vec<u8>)>),
}

/// One CQL row as `SELECT *` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Serialized partition key.
    pub key: Vec<u8>,
    /// Token of the key.
    pub token: Token,
    /// Clustering values; empty for the static-only row of a partition without rows.
    pub clustering: Vec<Option<Vec<u8>>>,
    /// Static columns by header index.
    pub statics: Vec<(u16, Cell)>,
    /// Regular columns by header index.
    pub columns: Vec<(u16, Cell)>,
}

fn live_cells(u: &cairn_format::data::Unfiltered, now: i64, complex: &dyn Fn(u16) -> bool) -> Vec<(u16, Cell)> {
    let mut out: Vec<(u16, Cell)> = Vec::new();
    for c in u.cells.iter().filter(|c| c.is_live(now)) {
        let value = u.value(c).to_vec();
        if complex(c.column) {
            let path = u.path(c).unwrap_or_default().to_vec();
            match out.last_mut() {
                Some((col, Cell::Complex(cells))) if *col == c.column => cells.push((path, value)),
                _ => out.push((c.column, Cell::Complex(vec![(path, value)]))),
            }
        } else {
            let ttl = if c.is_expiring() { c.ttl } else { 0 };
            out.push((c.column, Cell::Simple { value, timestamp: c.timestamp, ttl, expires: c.local_deletion_time }));
        }
    }
    out
}

/// Which partitions to read: tokens in `(start, end]`, as Cassandra's token ranges.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    /// Exclusive lower bound.
    pub start: Option<Token>,
    /// Inclusive upper bound.
    pub end: Option<Token>,
}

impl TokenFilter {
    fn admits(&self, t: &Token) -> bool {
        self.start.as_ref().is_none_or(|s| t > s) && self.end.as_ref().is_none_or(|e| t <= e)
    }
}

/// Call `f` with every live row of `stream` at `now_s`, in token order, for partitions the
/// filter admits. `f` returns false to stop.
pub fn for_each_row(
    stream: &mut dyn PartitionStream,
    partitioner: Partitioner,
    now_s: i64,
    filter: &TokenFilter,
    f: &mut dyn FnMut(Row) -> Result<bool>,
) -> Result<()> {
    let header = stream.header().clone();
    let static_complex = |i: u16| header.static_columns.get(i as usize).is_some_and(|c| c.is_complex());
    let regular_complex = |i: u16| header.regular_columns.get(i as usize).is_some_and(|c| c.is_complex());
    while let Some(p) = stream.next_partition()? {
        let key = p.key.clone();
        let token = partitioner.token(&key);
        if !filter.admits(&token) {
            while stream.next_unfiltered()?.is_some() {}
            continue;
        }
        let statics = stream.static_row().map(|s| live_cells(s, now_s, &static_complex)).unwrap_or_default();
        let mut any = false;
        while let Some(u) = stream.next_unfiltered()? {
            if u.kind() != UnfilteredKind::Row {
                continue;
            }
            let columns = live_cells(u, now_s, &regular_complex);
            if !u.liveness.is_live(now_s) && columns.is_empty() {
                continue;
            }
            any = true;
            let row = Row {
                key: key.clone(),
                token: token.clone(),
                clustering: (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect(),
                statics: statics.clone(),
                columns,
            };
            if !f(row)? {
                return Ok(());
            }
        }
        // A partition with live static data and no live rows shows one row, clustering null.
        if !any && !statics.is_empty() {
            let row = Row { key, token, clustering: vec![], statics, columns: vec![] };
            if !f(row)? {
                return Ok(());
            }
        }
    }
    Ok(())
}
