//! Live CQL rows out of a reconciled partition stream, with what `writetime()` and `ttl()` show.

use std::sync::Arc;

use cairn_format::data::{PartitionStream, UnfilteredKind};
use cairn_format::error::Result;
use cairn_format::partitioner::{Partitioner, Token};

/// A byte range in a [`Cells`] buffer.
pub type Span = (u32, u32);

/// A live column value of one row; its bytes live in the [`Cells`] buffer holding it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A simple column.
    Simple {
        /// The serialized value.
        value: Span,
        /// Write time (µs).
        timestamp: i64,
        /// TTL (0: none).
        ttl: i32,
        /// Expiry (s), for TTL'd cells.
        expires: i64,
    },
    /// The live cells (path, value) of a multi-cell column, in path order.
    Complex(Vec<(Span, Span)>),
}

/// Cells and the one buffer their bytes live in (a few allocations per row, not one per value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cells {
    /// All bytes.
    pub buf: Vec<u8>,
    /// Cells by header column index.
    pub cells: Vec<(u16, Cell)>,
}

impl Cells {
    /// The bytes of a span.
    pub fn bytes(&self, s: Span) -> &[u8] {
        self.buf.get(s.0 as usize..s.1 as usize).unwrap_or_default()
    }

    fn push_bytes(&mut self, b: &[u8]) -> Span {
        let start = self.buf.len() as u32;
        self.buf.extend_from_slice(b);
        (start, self.buf.len() as u32)
    }

    /// The cell of column `idx`.
    pub fn get(&self, idx: u16) -> Option<&Cell> {
        self.cells.iter().find(|(i, _)| *i == idx).map(|(_, c)| c)
    }
}

/// One CQL row as `SELECT *` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Serialized partition key (shared by the partition's rows).
    pub key: Arc<[u8]>,
    /// Token of the key.
    pub token: Token,
    /// Clustering values (spans in `data`); empty for the static-only row of a partition
    /// without rows.
    pub clustering: Vec<Option<Span>>,
    /// Regular columns, and the clustering bytes.
    pub data: Cells,
    /// Static columns (shared by the partition's rows).
    pub statics: Arc<Cells>,
}

fn live_cells(u: &cairn_format::data::Unfiltered, now: i64, complex: &dyn Fn(u16) -> bool, out: &mut Cells) {
    for c in u.cells.iter().filter(|c| c.is_live(now)) {
        if complex(c.column) {
            let path = out.push_bytes(u.path(c).unwrap_or_default());
            let value = out.push_bytes(u.value(c));
            match out.cells.last_mut() {
                Some((col, Cell::Complex(cells))) if *col == c.column => cells.push((path, value)),
                _ => out.cells.push((c.column, Cell::Complex(vec![(path, value)]))),
            }
        } else {
            let ttl = if c.is_expiring() { c.ttl } else { 0 };
            let value = out.push_bytes(u.value(c));
            out.cells
                .push((c.column, Cell::Simple { value, timestamp: c.timestamp, ttl, expires: c.local_deletion_time }));
        }
    }
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
        let token = partitioner.token(&p.key);
        // Partitions come in token order: past the end, nothing more is admitted.
        if filter.end.as_ref().is_some_and(|e| token > *e) {
            return Ok(());
        }
        if !filter.admits(&token) {
            while stream.next_unfiltered()?.is_some() {}
            continue;
        }
        let key: Arc<[u8]> = Arc::from(&p.key[..]);
        let mut statics = Cells::default();
        if let Some(s) = stream.static_row() {
            live_cells(s, now_s, &static_complex, &mut statics);
        }
        let statics = Arc::new(statics);
        let mut any = false;
        while let Some(u) = stream.next_unfiltered()? {
            if u.kind() != UnfilteredKind::Row {
                continue;
            }
            let mut data = Cells { buf: Vec::with_capacity(64), cells: Vec::with_capacity(4) };
            live_cells(u, now_s, &regular_complex, &mut data);
            if !u.liveness.is_live(now_s) && data.cells.is_empty() {
                continue;
            }
            any = true;
            let clustering =
                (0..u.clustering.len()).map(|i| u.clustering_value(i).map(|b| data.push_bytes(b))).collect();
            let row =
                Row { key: Arc::clone(&key), token: token.clone(), clustering, data, statics: Arc::clone(&statics) };
            if !f(row)? {
                return Ok(());
            }
        }
        // A partition with live static data and no live rows shows one row, clustering null.
        if !any && !statics.cells.is_empty() {
            let row = Row { key, token, clustering: vec![], data: Cells::default(), statics };
            if !f(row)? {
                return Ok(());
            }
        }
    }
    Ok(())
}
