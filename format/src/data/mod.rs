//! Data.db: partitions, rows, range-tombstone markers and cells.
//!
//! ```text
//! partition   u16 key length · key · partition deletion (see deletion) ·
//!             [static row, iff the header has static columns] · unfiltered* · 0x01
//! row         flags · [ext flags if flags & 0x80] · [clustering blocks unless static] ·
//!             uvint row size (bytes after this field) · uvint previous unfiltered size ·
//!             [liveness: ts delta, [ttl delta, ldt delta]] · [deletion: ts delta, ldt delta] ·
//!             [column subset unless HAS_ALL_COLUMNS] · cells of simple columns ·
//!             per complex column: [deletion pair] · uvint count · cells
//! marker      0x02 · kind · u16 prefix size · clustering blocks · uvint size · uvint prev size ·
//!             bound: one deletion pair; boundary: closing pair then opening pair
//! cell        flags · [ts delta] · [ldt delta] · [ttl delta] · [path: uvint length + bytes] ·
//!             [value: fixed width, or uvint length + bytes]
//! ```
//!
//! Row flags: 0x01 end of partition, 0x02 marker, 0x04 has timestamp, 0x08 has TTL, 0x10 has
//! deletion, 0x20 has all columns, 0x40 has complex deletion, 0x80 extension byte follows.
//! Extension flags: 0x01 static, 0x02 shadowable deletion. Cell flags: 0x01 deleted, 0x02
//! expiring, 0x04 empty value, 0x08 use row timestamp, 0x10 use row TTL.
//! (Cassandra `db/rows/UnfilteredSerializer.java`, `db/rows/Cell.java`, `db/Columns.java`.)

pub mod ranges;
pub mod scanner;
pub mod source;

use std::cmp::Ordering;

use crate::clustering::BoundKind;
use crate::deletion::{DeletionTime, LivenessInfo, NO_DELETION_TIME};
use crate::types::CqlType;
use crate::types::compare::compare_prefix_values;

/// Row flag: end of partition.
pub const END_OF_PARTITION: u8 = 0x01;
/// Row flag: range-tombstone marker.
pub const IS_MARKER: u8 = 0x02;
/// Row flag: liveness timestamp present.
pub const HAS_TIMESTAMP: u8 = 0x04;
/// Row flag: liveness TTL present.
pub const HAS_TTL: u8 = 0x08;
/// Row flag: row deletion present.
pub const HAS_DELETION: u8 = 0x10;
/// Row flag: every header column is present.
pub const HAS_ALL_COLUMNS: u8 = 0x20;
/// Row flag: complex columns carry deletions.
pub const HAS_COMPLEX_DELETION: u8 = 0x40;
/// Row flag: extension byte follows.
pub const EXTENSION_FLAG: u8 = 0x80;
/// Extension flag: static row.
pub const IS_STATIC: u8 = 0x01;
/// Extension flag: the row deletion is shadowable (Cassandra 3.0 to 3.11, materialized views).
pub const HAS_SHADOWABLE_DELETION: u8 = 0x02;
/// Extension flag written by ScyllaDB: a shadowable deletion follows the regular one.
pub const HAS_SCYLLA_SHADOWABLE_DELETION: u8 = 0x80;

/// Cell flag: tombstone.
pub const CELL_IS_DELETED: u8 = 0x01;
/// Cell flag: expiring.
pub const CELL_IS_EXPIRING: u8 = 0x02;
/// Cell flag: no value bytes.
pub const CELL_HAS_EMPTY_VALUE: u8 = 0x04;
/// Cell flag: timestamp is the row's.
pub const CELL_USE_ROW_TIMESTAMP: u8 = 0x08;
/// Cell flag: TTL and expiry are the row's.
pub const CELL_USE_ROW_TTL: u8 = 0x10;

/// The order of two rows or range markers of one partition: by clustering, a marker's bound
/// kind placing it before or after the rows it bounds (Cassandra `db/ClusteringComparator.java`).
/// Every partition's unfiltereds are stored in strictly increasing order of it; the merger and
/// the scan's order check both use this one rule. No allocation (called for every unfiltered).
#[inline(always)]
pub fn compare_positions(clustering_types: &[CqlType], a: &Unfiltered, b: &Unfiltered) -> Ordering {
    // Two rows with as many values each (the commonest case by far): their values alone.
    if let (UnfilteredKindOpt::Kind(UnfilteredKind::Row), UnfilteredKindOpt::Kind(UnfilteredKind::Row)) =
        (a.kind, b.kind)
        && a.clustering.len() == b.clustering.len()
    {
        return crate::types::compare::compare_clusterings(
            clustering_types,
            &a.clustering,
            |s| s.map(|s| a.get(s)),
            &b.clustering,
            |s| s.map(|s| b.get(s)),
        );
    }
    compare_with_bounds(clustering_types, a, b)
}

/// [`compare_positions`] of anything but two rows of as many values: bound kinds decide ties.
#[inline(never)]
fn compare_with_bounds(clustering_types: &[CqlType], a: &Unfiltered, b: &Unfiltered) -> Ordering {
    let kind = |u: &Unfiltered| match u.kind() {
        UnfilteredKind::Marker(k) => k,
        UnfilteredKind::Row => BoundKind::Clustering,
        UnfilteredKind::StaticRow => BoundKind::StaticClustering,
    };
    compare_prefix_values(
        clustering_types,
        (0..a.clustering.len()).map(|i| a.clustering_value(i)),
        kind(a),
        (0..b.clustering.len()).map(|i| b.clustering_value(i)),
        kind(b),
    )
}

/// A byte range inside an [`Unfiltered`]'s buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Start.
    pub start: u32,
    /// Length.
    pub len: u32,
}

impl Span {
    fn of(start: usize, len: usize) -> Span {
        Span { start: start as u32, len: len as u32 }
    }
}

/// What an unfiltered is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnfilteredKind {
    /// A clustering row.
    Row,
    /// The partition's static row.
    StaticRow,
    /// A range-tombstone bound or boundary.
    Marker(BoundKind),
}

/// A partition header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionHeader {
    /// Serialized partition key.
    pub key: Vec<u8>,
    /// Partition-level deletion.
    pub deletion: DeletionTime,
    /// Offset of the partition in the (uncompressed) Data.db.
    pub position: u64,
    /// Offset just after the partition header and static row.
    pub body_position: u64,
}

impl Default for DeletionTime {
    fn default() -> Self {
        DeletionTime::LIVE
    }
}

/// One cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Index of the column in the header's static or regular column list.
    pub column: u16,
    /// Cell flags as stored.
    pub flags: u8,
    /// Write timestamp (µs).
    pub timestamp: i64,
    /// Local deletion time (tombstone) or expiry (expiring cell), else `NO_DELETION_TIME`.
    pub local_deletion_time: i64,
    /// TTL, 0 if none.
    pub ttl: i32,
    /// Cell path (complex columns).
    pub path: Option<Span>,
    /// Value bytes.
    pub value: Span,
}

impl Cell {
    /// Whether this is a tombstone.
    pub fn is_tombstone(&self) -> bool {
        self.flags & CELL_IS_DELETED != 0
    }

    /// Whether this cell has a TTL.
    pub fn is_expiring(&self) -> bool {
        self.flags & CELL_IS_EXPIRING != 0 || self.ttl != 0
    }

    /// Whether the cell is live at `now_s`.
    pub fn is_live(&self, now_s: i64) -> bool {
        !self.is_tombstone() && !self.is_expired(now_s)
    }

    /// Whether an expiring cell has expired at `now_s`.
    pub fn is_expired(&self, now_s: i64) -> bool {
        self.is_expiring()
            && !self.is_tombstone()
            && self.local_deletion_time != NO_DELETION_TIME
            && now_s >= self.local_deletion_time
    }
}

#[cfg(test)]
impl Cell {
    /// A live cell of column 0 written at `timestamp`, without path or value: the template tests
    /// build rows from ([`Unfiltered::push_cell`] sets the column, path and value).
    pub(crate) fn live_for_tests(timestamp: i64) -> Cell {
        Cell {
            column: 0,
            flags: 0,
            timestamp,
            local_deletion_time: NO_DELETION_TIME,
            ttl: 0,
            path: None,
            value: Span::default(),
        }
    }
}

/// A complex column's deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComplexDeletion {
    /// Column index.
    pub column: u16,
    /// Deletion.
    pub deletion: DeletionTime,
}

/// A row or range-tombstone marker. Values are spans into its own buffer ([`Unfiltered::raw`]); scanners reuse
/// one `Unfiltered` so that decoding allocates nothing per row once buffers have grown.
#[derive(Debug, Clone, Default)]
pub struct Unfiltered {
    /// Row, static row or marker.
    pub kind: UnfilteredKindOpt,
    /// Offset in the uncompressed Data.db.
    pub position: u64,
    /// Row flags as stored.
    pub flags: u8,
    /// Extension flags as stored.
    pub ext_flags: u8,
    /// Clustering values (`None` = null) for rows; the bound prefix for markers.
    pub clustering: Vec<Option<Span>>,
    /// Row liveness (rows only).
    pub liveness: LivenessInfo,
    /// Row deletion (rows), or the deletion a marker opens.
    pub deletion: DeletionTime,
    /// Shadowable row deletion (materialized views), LIVE when none.
    pub shadowable_deletion: DeletionTime,
    /// The deletion a closing marker (end bound or boundary) closes.
    pub close_deletion: DeletionTime,
    /// Cells in column order.
    pub cells: Vec<Cell>,
    /// Complex-column deletions (non-live only).
    pub complex_deletions: Vec<ComplexDeletion>,
    /// Size of the serialized unfiltered (bytes after its size field).
    pub serialized_size: u64,
    /// Previous unfiltered's size as stored.
    pub prev_size: u64,
    /// `(recorded, actual)` when the size field disagrees with the bytes the structure took.
    pub size_mismatch: Option<(u64, u64)>,
    bytes: Vec<u8>,
}

/// [`UnfilteredKind`] with a default, for reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnfilteredKindOpt {
    /// Not yet filled.
    #[default]
    Empty,
    /// Filled.
    Kind(UnfilteredKind),
}

impl Default for LivenessInfo {
    fn default() -> Self {
        LivenessInfo::EMPTY
    }
}

impl Unfiltered {
    /// The kind.
    pub fn kind(&self) -> UnfilteredKind {
        match self.kind {
            UnfilteredKindOpt::Kind(k) => k,
            UnfilteredKindOpt::Empty => UnfilteredKind::Row,
        }
    }

    /// Bytes of a span.
    #[inline]
    pub fn get(&self, span: Span) -> &[u8] {
        self.bytes.get(span.start as usize..(span.start as usize + span.len as usize)).unwrap_or(&[])
    }

    /// Clustering value `i` (`None` when null or absent).
    #[inline]
    pub fn clustering_value(&self, i: usize) -> Option<&[u8]> {
        self.clustering.get(i).copied().flatten().map(|s| self.get(s))
    }

    /// Value bytes of a cell.
    pub fn value(&self, cell: &Cell) -> &[u8] {
        self.get(cell.value)
    }

    /// Path bytes of a cell.
    pub fn path(&self, cell: &Cell) -> Option<&[u8]> {
        cell.path.map(|p| self.get(p))
    }

    /// Whether this is a range-tombstone marker.
    pub fn is_marker(&self) -> bool {
        matches!(self.kind(), UnfilteredKind::Marker(_))
    }

    /// Whether a row carries nothing (no liveness, deletion or cells).
    pub fn is_empty_row(&self) -> bool {
        !self.is_marker()
            && self.liveness.is_empty()
            && self.deletion.is_live()
            && self.shadowable_deletion.is_live()
            && self.cells.is_empty()
            && self.complex_deletions.is_empty()
    }

    /// The raw bytes this unfiltered's spans point into.
    pub fn raw(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn reset(&mut self) {
        self.kind = UnfilteredKindOpt::Empty;
        self.flags = 0;
        self.ext_flags = 0;
        self.clustering.clear();
        self.liveness = LivenessInfo::EMPTY;
        self.deletion = DeletionTime::LIVE;
        self.shadowable_deletion = DeletionTime::LIVE;
        self.close_deletion = DeletionTime::LIVE;
        self.cells.clear();
        self.complex_deletions.clear();
        self.bytes.clear();
        self.size_mismatch = None;
    }

    /// An owned copy (for callers that keep rows across scanner calls).
    pub fn to_owned_copy(&self) -> Unfiltered {
        self.clone()
    }

    /// Make `self` a copy of `other`, reusing `self`'s buffers.
    pub fn copy_from(&mut self, other: &Unfiltered) {
        self.kind = other.kind;
        self.position = other.position;
        self.flags = other.flags;
        self.ext_flags = other.ext_flags;
        self.clustering.clear();
        self.clustering.extend_from_slice(&other.clustering);
        self.liveness = other.liveness;
        self.deletion = other.deletion;
        self.shadowable_deletion = other.shadowable_deletion;
        self.close_deletion = other.close_deletion;
        self.cells.clear();
        self.cells.extend_from_slice(&other.cells);
        self.complex_deletions.clear();
        self.complex_deletions.extend_from_slice(&other.complex_deletions);
        self.serialized_size = other.serialized_size;
        self.prev_size = other.prev_size;
        self.size_mismatch = other.size_mismatch;
        self.bytes.clear();
        self.bytes.extend_from_slice(&other.bytes);
    }

    /// Start building a new unfiltered of `kind` in this (reused) value.
    pub fn start(&mut self, kind: UnfilteredKind, position: u64) {
        self.reset();
        self.kind = UnfilteredKindOpt::Kind(kind);
        self.position = position;
    }

    /// Append a clustering value.
    pub fn push_clustering(&mut self, v: Option<&[u8]>) {
        let span = v.map(|b| self.push_bytes(b));
        self.clustering.push(span);
    }

    /// Copy bytes into the buffer, returning their span.
    pub fn push_bytes(&mut self, b: &[u8]) -> Span {
        let span = Span::of(self.bytes.len(), b.len());
        self.bytes.extend_from_slice(b);
        span
    }

    /// Append a cell like `template` (flags, times) for `column`, with its own path and value.
    pub fn push_cell(&mut self, column: u16, template: &Cell, path: Option<&[u8]>, value: &[u8]) {
        let path = path.map(|p| self.push_bytes(p));
        let value = self.push_bytes(value);
        self.cells.push(Cell { column, path, value, ..*template });
    }
}

/// Anything that yields partitions of unfiltereds: one SSTable's [`scanner::Scanner`], or a
/// reconciled merge of several ([`crate::reconcile::Merger`]).
pub trait PartitionStream {
    /// The header that column indices of the unfiltereds refer to.
    fn header(&self) -> &crate::statistics::SerializationHeader;
    /// The next partition.
    fn next_partition(&mut self) -> crate::error::Result<Option<&PartitionHeader>>;
    /// The current partition's non-empty static row.
    fn static_row(&self) -> Option<&Unfiltered>;
    /// The next row or marker of the current partition.
    fn next_unfiltered(&mut self) -> crate::error::Result<Option<&Unfiltered>>;
}

impl PartitionStream for scanner::Scanner {
    fn header(&self) -> &crate::statistics::SerializationHeader {
        scanner::Scanner::header(self)
    }
    fn next_partition(&mut self) -> crate::error::Result<Option<&PartitionHeader>> {
        scanner::Scanner::next_partition(self)
    }
    fn static_row(&self) -> Option<&Unfiltered> {
        scanner::Scanner::static_row(self)
    }
    fn next_unfiltered(&mut self) -> crate::error::Result<Option<&Unfiltered>> {
        scanner::Scanner::next_unfiltered(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::compare::compare_prefixes;
    use proptest::prelude::*;

    fn row(values: &[Option<Vec<u8>>]) -> Unfiltered {
        let mut u = Unfiltered::default();
        u.start(UnfilteredKind::Row, 0);
        for v in values {
            u.push_clustering(v.as_deref());
        }
        u
    }

    proptest! {
        /// Rows take `compare_positions`' fast path; it must agree with the general rule for
        /// rows, nulls, empty values and values of the wrong width included.
        #[test]
        fn rows_compare_as_the_general_rule_says(
            a in proptest::collection::vec(proptest::option::of(proptest::collection::vec(0u8..4, 0..9)), 3),
            b in proptest::collection::vec(proptest::option::of(proptest::collection::vec(0u8..4, 0..9)), 3),
        ) {
            let types = [CqlType::Int, CqlType::Reversed(Box::new(CqlType::Text)), CqlType::Reversed(Box::new(CqlType::BigInt))];
            let (va, vb): (Vec<_>, Vec<_>) = (a.iter().map(|x| x.as_deref()).collect(), b.iter().map(|x| x.as_deref()).collect());
            let expected = compare_prefixes(&types, &va, BoundKind::Clustering, &vb, BoundKind::Clustering);
            prop_assert_eq!(compare_positions(&types, &row(&a), &row(&b)), expected);
            prop_assert_eq!(compare_positions(&types, &row(&a), &row(&a)), Ordering::Equal);
            // One clustering column (the one-value path), of each type.
            for i in 0..types.len() {
                let (t, x, y) = (&types[i..=i], &a[i..=i], &b[i..=i]);
                let expected = compare_prefixes(t, &va[i..=i], BoundKind::Clustering, &vb[i..=i], BoundKind::Clustering);
                prop_assert_eq!(compare_positions(t, &row(x), &row(y)), expected);
            }
        }
    }
}
