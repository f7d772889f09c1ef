//! The live view: what a CQL read at a given time sees, from a reconciled stream.
//!
//! Given partitions whose deletions have already been applied (a [`crate::reconcile::Merger`]
//! removes shadowed data), a row is visible when its row marker is alive or it has at least
//! one live cell; cells are alive unless they are tombstones or have expired by `now`. A
//! partition with live static cells and no visible rows shows one row with only the static
//! columns, as a CQL query of whole partitions does (Cassandra `cql3/statements/
//! SelectStatement.java` `processPartition`; a row's liveness is `db/rows/Row.java`
//! `hasLiveData`).
//!
//! This module holds the rule once; readers keep their own representation of a row's cells by
//! implementing [`LiveCells`] (owned values here, spans of one buffer in export, values with
//! write times in the node). A stream is walked with [`walk`] and a [`LiveVisitor`]; a partition
//! held in memory is fed row by row to a [`LivePartition`].

use crate::data::{Cell, PartitionHeader, PartitionStream, Unfiltered, UnfilteredKind};
use crate::error::Result;
use crate::statistics::HeaderColumn;

/// Where the live cells of one row go.
pub trait LiveCells {
    /// Take one live cell of a row: a simple column's value (`path` is `None`), or one cell of
    /// a multi-cell column (`path` is its cell path; a column's cells come together, in path
    /// order).
    fn add(&mut self, cell: &Cell, path: Option<&[u8]>, value: &[u8]);
    /// Whether no cell was taken.
    fn is_empty(&self) -> bool;
}

/// Push the cells of `row` live at `now_s` into `out`; `columns` are the header's columns the
/// row's cell indices refer to (static or regular).
pub fn gather(row: &Unfiltered, columns: &[HeaderColumn], now_s: i64, out: &mut impl LiveCells) {
    for c in row.cells.iter().filter(|c| c.is_live(now_s)) {
        let complex = columns.get(c.column as usize).is_some_and(HeaderColumn::is_complex);
        // The scanner reads a path for every cell of a multi-cell column and the writer refuses
        // one without, so the default is never taken for data that was read or written.
        let path = complex.then(|| row.path(c).unwrap_or_default());
        out.add(c, path, row.value(c));
    }
}

/// The live view of one partition, fed its static row and then its rows in clustering order.
#[derive(Debug, Clone)]
pub struct LivePartition<'h> {
    regular: &'h [HeaderColumn],
    now_s: i64,
    static_live: bool,
    any_row: bool,
}

impl<'h> LivePartition<'h> {
    /// Start a partition of a table with `static_columns` and `regular` columns: the live cells
    /// of its static row, if it has one, go to `statics`.
    pub fn new(
        static_columns: &[HeaderColumn],
        regular: &'h [HeaderColumn],
        now_s: i64,
        static_row: Option<&Unfiltered>,
        statics: &mut impl LiveCells,
    ) -> Self {
        if let Some(s) = static_row {
            gather(s, static_columns, now_s, statics);
        }
        LivePartition { regular, now_s, static_live: !statics.is_empty(), any_row: false }
    }

    /// Push the live cells of `u` into `cells`; true when `u` is a visible row (a row, not a
    /// range-tombstone marker, whose marker is alive or which has a live cell).
    pub fn row(&mut self, u: &Unfiltered, cells: &mut impl LiveCells) -> bool {
        if u.kind() != UnfilteredKind::Row {
            return false;
        }
        gather(u, self.regular, self.now_s, cells);
        let visible = u.liveness.is_live(self.now_s) || !cells.is_empty();
        self.any_row |= visible;
        visible
    }

    /// After the last row: whether the partition shows one row of its static columns alone
    /// (it has live static cells and no visible row).
    pub fn shows_static_row(&self) -> bool {
        self.static_live && !self.any_row
    }
}

/// What a [`walk`] does with the partition it has come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Read its live rows.
    Read,
    /// Pass over it.
    Skip,
    /// End the walk.
    Stop,
}

/// What a [`walk`] hands the live rows it finds to.
pub trait LiveVisitor {
    /// How the visitor holds a row's live cells.
    type Cells: LiveCells;
    /// A partition begins.
    fn partition(&mut self, partition: &PartitionHeader) -> Step;
    /// Empty cells for the static row or a row.
    fn cells(&mut self) -> Self::Cells;
    /// The live cells of the partition's static row (empty when it has none), before its rows.
    fn statics(&mut self, cells: Self::Cells);
    /// A visible row and its live cells, or `None` for the one row of static columns a
    /// partition without visible rows shows (its `cells` are empty). `Ok(false)` ends the walk.
    fn row(&mut self, row: Option<&Unfiltered>, cells: Self::Cells) -> Result<bool>;
}

/// Hand every visible row of `stream` at `now_s` to `visitor`, partition by partition.
pub fn walk<V: LiveVisitor>(stream: &mut dyn PartitionStream, now_s: i64, visitor: &mut V) -> Result<()> {
    let header = stream.header().clone();
    while let Some(p) = stream.next_partition()? {
        match visitor.partition(p) {
            Step::Read => {}
            Step::Skip => {
                while stream.next_unfiltered()?.is_some() {}
                continue;
            }
            Step::Stop => return Ok(()),
        }
        let mut statics = visitor.cells();
        let mut partition = LivePartition::new(
            &header.static_columns,
            &header.regular_columns,
            now_s,
            stream.static_row(),
            &mut statics,
        );
        visitor.statics(statics);
        while let Some(u) = stream.next_unfiltered()? {
            if u.kind() != UnfilteredKind::Row {
                continue; // a range-tombstone marker: no cells to gather
            }
            let mut cells = visitor.cells();
            if partition.row(u, &mut cells) && !visitor.row(Some(u), cells)? {
                return Ok(());
            }
        }
        if partition.shows_static_row() {
            let cells = visitor.cells();
            if !visitor.row(None, cells)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// A visible column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveColumn {
    /// A simple column's value.
    Simple(Vec<u8>),
    /// A complex column's live cells: (path, value) in cell-path order.
    Complex(Vec<(Vec<u8>, Vec<u8>)>),
}

/// Live columns as (header column index, value), in column order.
pub type LiveColumns = Vec<(u16, LiveColumn)>;

impl LiveCells for LiveColumns {
    fn add(&mut self, cell: &Cell, path: Option<&[u8]>, value: &[u8]) {
        let Some(path) = path else {
            self.push((cell.column, LiveColumn::Simple(value.to_vec())));
            return;
        };
        let element = (path.to_vec(), value.to_vec());
        match self.last_mut() {
            Some((col, LiveColumn::Complex(cells))) if *col == cell.column => cells.push(element),
            _ => self.push((cell.column, LiveColumn::Complex(vec![element]))),
        }
    }

    fn is_empty(&self) -> bool {
        <[_]>::is_empty(self)
    }
}

/// One visible CQL row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRow {
    /// Serialized partition key.
    pub key: Vec<u8>,
    /// Clustering values, or `None` for the static-only row of a partition without rows.
    pub clustering: Option<Vec<Option<Vec<u8>>>>,
    /// Static columns (header static index, value).
    pub statics: LiveColumns,
    /// Regular columns (header regular index, value).
    pub columns: LiveColumns,
    /// Row liveness timestamp, if the marker is alive.
    pub marker_timestamp: Option<i64>,
}

/// Visit every visible row of `stream` at `now_s`.
pub fn for_each_live_row(stream: &mut dyn PartitionStream, now_s: i64, f: &mut dyn FnMut(&LiveRow)) -> Result<()> {
    struct Rows<'f> {
        now_s: i64,
        key: Vec<u8>,
        statics: LiveColumns,
        f: &'f mut dyn FnMut(&LiveRow),
    }
    impl LiveVisitor for Rows<'_> {
        type Cells = LiveColumns;
        fn partition(&mut self, partition: &PartitionHeader) -> Step {
            self.key.clone_from(&partition.key);
            Step::Read
        }
        fn cells(&mut self) -> LiveColumns {
            Vec::new()
        }
        fn statics(&mut self, cells: LiveColumns) {
            self.statics = cells;
        }
        fn row(&mut self, row: Option<&Unfiltered>, columns: LiveColumns) -> Result<bool> {
            (self.f)(&LiveRow {
                key: self.key.clone(),
                clustering: row
                    .map(|u| (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect()),
                statics: self.statics.clone(),
                columns,
                marker_timestamp: row.filter(|u| u.liveness.is_live(self.now_s)).map(|u| u.liveness.timestamp),
            });
            Ok(true)
        }
    }
    walk(stream, now_s, &mut Rows { now_s, key: Vec::new(), statics: Vec::new(), f })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deletion::{DeletionTime, LivenessInfo};
    use crate::partition::{OwnedCell, Partition, RangeTombstone};
    use crate::statistics::{EncodingStats, SerializationHeader};
    use crate::types::CqlType;

    const NOW: i64 = 1000;

    /// In-memory partitions as a stream, in the order given.
    struct Memory {
        header: SerializationHeader,
        partitions: std::vec::IntoIter<Partition>,
        current: PartitionHeader,
        static_row: Option<Unfiltered>,
        rows: std::vec::IntoIter<Unfiltered>,
        row: Unfiltered,
    }

    impl PartitionStream for Memory {
        fn header(&self) -> &SerializationHeader {
            &self.header
        }
        fn next_partition(&mut self) -> Result<Option<&PartitionHeader>> {
            let Some(p) = self.partitions.next() else { return Ok(None) };
            self.static_row = p.static_unfiltered(&self.header);
            self.rows = p.unfiltereds(&self.header).into_iter();
            self.current = PartitionHeader { key: p.key.clone(), ..Default::default() };
            Ok(Some(&self.current))
        }
        fn static_row(&self) -> Option<&Unfiltered> {
            self.static_row.as_ref()
        }
        fn next_unfiltered(&mut self) -> Result<Option<&Unfiltered>> {
            let Some(u) = self.rows.next() else { return Ok(None) };
            self.row = u;
            Ok(Some(&self.row))
        }
    }

    fn int(v: i32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    /// Key int, clustering int, static `s int`, regular `v int` and `m map<int, int>`.
    fn stream(partitions: Vec<Partition>) -> Memory {
        let stats = EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 };
        let map = CqlType::Map { key: Box::new(CqlType::Int), value: Box::new(CqlType::Int), frozen: false };
        let header = SerializationHeader::new(
            stats,
            CqlType::Int,
            vec![CqlType::Int],
            vec![HeaderColumn::new("s", CqlType::Int)],
            vec![HeaderColumn::new("v", CqlType::Int), HeaderColumn::new("m", map)],
        );
        Memory {
            header,
            partitions: partitions.into_iter(),
            current: PartitionHeader::default(),
            static_row: None,
            rows: Vec::new().into_iter(),
            row: Unfiltered::default(),
        }
    }

    fn partitions() -> Vec<Partition> {
        // 1: a static value and rows of every kind.
        let mut one = Partition::new(int(1));
        one.static_mut().add_cell(OwnedCell::live(0, None, int(10), 1));
        one.row_mut(&[Some(int(1))]).add_cell(OwnedCell::live(0, None, int(11), 1));
        // Only an expired cell and no marker: not visible.
        one.row_mut(&[Some(int(2))]).add_cell(OwnedCell::expiring(0, None, int(12), 1, 10, 0));
        // A live marker and no cells: visible.
        one.row_mut(&[Some(int(3))]).add_liveness(LivenessInfo {
            timestamp: 5,
            ttl: 0,
            local_expiration_time: crate::deletion::NO_DELETION_TIME,
        });
        let four = one.row_mut(&[Some(int(4))]);
        four.add_cell(OwnedCell::live(1, Some(int(1)), int(41), 1));
        four.add_cell(OwnedCell::live(1, Some(int(2)), int(42), 1));
        four.add_cell(OwnedCell::tombstone(1, Some(int(3)), 1, 0));
        one.range_tombstones.push(RangeTombstone {
            start: vec![Some(int(5))],
            start_inclusive: true,
            end: vec![Some(int(6))],
            end_inclusive: true,
            deletion: DeletionTime { marked_for_delete_at: 100, local_deletion_time: 0 },
        });
        // 2: static columns only.
        let mut two = Partition::new(int(2));
        two.static_mut().add_cell(OwnedCell::live(0, None, int(20), 1));
        // 3: nothing live.
        let mut three = Partition::new(int(3));
        three.row_mut(&[Some(int(1))]).add_cell(OwnedCell::tombstone(0, None, 1, 0));
        // 4: a static value and a live row: the row only.
        let mut four = Partition::new(int(4));
        four.static_mut().add_cell(OwnedCell::live(0, None, int(40), 1));
        four.row_mut(&[Some(int(1))]).add_cell(OwnedCell::live(0, None, int(41), 1));
        vec![one, two, three, four]
    }

    #[test]
    fn visible_rows_and_static_only_rows() {
        let mut rows = Vec::new();
        for_each_live_row(&mut stream(partitions()), NOW, &mut |r| rows.push(r.clone())).unwrap();
        let static_of = |v: i32| vec![(0, LiveColumn::Simple(int(v)))];
        let row =
            |key: i32, ck: Option<i32>, statics: LiveColumns, columns: LiveColumns, marker: Option<i64>| LiveRow {
                key: int(key),
                clustering: ck.map(|c| vec![Some(int(c))]),
                statics,
                columns,
                marker_timestamp: marker,
            };
        let map = LiveColumn::Complex(vec![(int(1), int(41)), (int(2), int(42))]);
        assert_eq!(
            rows,
            [
                row(1, Some(1), static_of(10), vec![(0, LiveColumn::Simple(int(11)))], None),
                row(1, Some(3), static_of(10), vec![], Some(5)),
                row(1, Some(4), static_of(10), vec![(1, map)], None),
                row(2, None, static_of(20), vec![], None),
                row(4, Some(1), static_of(40), vec![(0, LiveColumn::Simple(int(41)))], None),
            ]
        );
    }

    #[test]
    fn a_walk_skips_and_stops_where_told() {
        struct Keys(Vec<(Vec<u8>, bool)>, Vec<u8>);
        impl LiveVisitor for Keys {
            type Cells = LiveColumns;
            fn partition(&mut self, p: &PartitionHeader) -> Step {
                self.1.clone_from(&p.key);
                match p.key.last() {
                    Some(1) => Step::Skip,
                    Some(4) => Step::Stop,
                    _ => Step::Read,
                }
            }
            fn cells(&mut self) -> LiveColumns {
                Vec::new()
            }
            fn statics(&mut self, _: LiveColumns) {}
            fn row(&mut self, row: Option<&Unfiltered>, _: LiveColumns) -> Result<bool> {
                self.0.push((self.1.clone(), row.is_some()));
                Ok(true)
            }
        }
        let mut keys = Keys(vec![], vec![]);
        walk(&mut stream(partitions()), NOW, &mut keys).unwrap();
        assert_eq!(keys.0, [(int(2), false)]);
    }
}
