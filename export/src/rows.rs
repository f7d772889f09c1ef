//! Live CQL rows out of a reconciled partition stream, with what `writetime()` and `ttl()` show.
//! Which rows are live is [`cairn_format::live`]'s rule; this module keeps their cells in one
//! buffer per row and reads a token range of the stream.

use std::sync::Arc;

use cairn_format::data::{PartitionHeader, PartitionStream, Unfiltered};
use cairn_format::error::Result;
use cairn_format::live::{LiveCells, LiveVisitor, Step, walk};
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

    /// Empty, keeping the buffers.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.cells.clear();
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

impl LiveCells for Cells {
    fn add(&mut self, cell: &cairn_format::data::Cell, path: Option<&[u8]>, value: &[u8]) {
        let Some(path) = path else {
            let ttl = if cell.is_expiring() { cell.ttl } else { 0 };
            let value = self.push_bytes(value);
            let simple = Cell::Simple { value, timestamp: cell.timestamp, ttl, expires: cell.local_deletion_time };
            self.cells.push((cell.column, simple));
            return;
        };
        let path = self.push_bytes(path);
        let value = self.push_bytes(value);
        match self.cells.last_mut() {
            Some((col, Cell::Complex(cells))) if *col == cell.column => cells.push((path, value)),
            _ => self.cells.push((cell.column, Cell::Complex(vec![(path, value)]))),
        }
    }

    fn is_empty(&self) -> bool {
        self.cells.is_empty()
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
    pub(crate) fn admits(&self, t: &Token) -> bool {
        self.start.as_ref().is_none_or(|s| t > s) && self.end.as_ref().is_none_or(|e| t <= e)
    }

    /// What a token-ordered scan does with a partition of token `t`: partitions come in token
    /// order, so past the end nothing more is admitted.
    pub(crate) fn step(&self, t: &Token) -> Step {
        if self.end.as_ref().is_some_and(|e| t > e) {
            Step::Stop
        } else if self.admits(t) {
            Step::Read
        } else {
            Step::Skip
        }
    }
}

/// Call `f` with every live row of `stream` at `now_s`, in token order, for partitions the
/// filter admits. `f` returns false to stop. Returns how many partitions the filter admitted
/// (read), live or not.
pub fn for_each_row(
    stream: &mut dyn PartitionStream,
    partitioner: Partitioner,
    now_s: i64,
    filter: &TokenFilter,
    f: &mut dyn FnMut(Row) -> Result<bool>,
) -> Result<u64> {
    struct Rows<'a> {
        partitioner: Partitioner,
        filter: &'a TokenFilter,
        key: Arc<[u8]>,
        token: Token,
        statics: Arc<Cells>,
        read: u64,
        f: &'a mut dyn FnMut(Row) -> Result<bool>,
    }
    impl LiveVisitor for Rows<'_> {
        type Cells = Cells;
        fn partition(&mut self, p: &PartitionHeader) -> Step {
            let token = self.partitioner.token(&p.key);
            let step = self.filter.step(&token);
            if !matches!(step, Step::Read) {
                return step;
            }
            self.key = Arc::from(&p.key[..]);
            self.token = token;
            self.read += 1;
            Step::Read
        }
        fn cells(&mut self) -> Cells {
            Cells { buf: Vec::with_capacity(64), cells: Vec::with_capacity(4) }
        }
        fn statics(&mut self, cells: Cells) {
            self.statics = Arc::new(cells);
        }
        fn row(&mut self, row: Option<&Unfiltered>, mut data: Cells) -> Result<bool> {
            // The static-only row of a partition without live rows has no clustering.
            let clustering = match row {
                Some(u) => (0..u.clustering.len()).map(|i| u.clustering_value(i).map(|b| data.push_bytes(b))).collect(),
                None => vec![],
            };
            let (key, token, statics) = (Arc::clone(&self.key), self.token.clone(), Arc::clone(&self.statics));
            (self.f)(Row { key, token, clustering, data, statics })
        }
    }
    let mut rows = Rows {
        partitioner,
        filter,
        key: Arc::from(&[][..]),
        token: Token::Murmur3(i64::MIN),
        statics: Arc::default(),
        read: 0,
        f,
    };
    walk(stream, now_s, &mut rows)?;
    Ok(rows.read)
}
