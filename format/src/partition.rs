//! Partitions held in memory and turned into the ordered unfiltered stream an SSTable stores:
//! rows sorted by clustering, range tombstones (which may overlap) swept into non-overlapping
//! bound and boundary markers, cells of one column in cell-path order. Generators and the
//! node's memtables build partitions this way before writing them.

use std::cmp::Ordering;

use crate::clustering::BoundKind;
use crate::data::{Cell, ComplexDeletion, Unfiltered, UnfilteredKind};
use crate::deletion::{DeletionTime, LivenessInfo, NO_DELETION_TIME};
use crate::reconcile::{liveness_supersedes, newer, reconcile_cells};
use crate::statistics::SerializationHeader;
use crate::types::CqlType;
use crate::types::compare::{compare_prefix_values, compare_values};

/// A clustering (or clustering prefix) with owned values; `None` is a null component.
pub type Clustering = Vec<Option<Vec<u8>>>;

/// One cell, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedCell {
    /// Column index in the header's static or regular list.
    pub column: u16,
    /// Cell path (non-frozen collections and UDTs).
    pub path: Option<Vec<u8>>,
    /// Value bytes (empty for tombstones).
    pub value: Vec<u8>,
    /// Write timestamp (µs).
    pub timestamp: i64,
    /// TTL (0 = none).
    pub ttl: i32,
    /// Expiry of an expiring cell, deletion time of a tombstone, else `NO_DELETION_TIME`.
    pub local_deletion_time: i64,
    /// Whether this is a tombstone.
    pub tombstone: bool,
}

impl OwnedCell {
    /// A live cell.
    pub fn live(column: u16, path: Option<Vec<u8>>, value: Vec<u8>, timestamp: i64) -> Self {
        OwnedCell { column, path, value, timestamp, ttl: 0, local_deletion_time: NO_DELETION_TIME, tombstone: false }
    }

    /// An expiring cell written at `now_s` with `ttl` seconds to live.
    pub fn expiring(column: u16, path: Option<Vec<u8>>, value: Vec<u8>, timestamp: i64, ttl: i32, now_s: i64) -> Self {
        OwnedCell { column, path, value, timestamp, ttl, local_deletion_time: now_s + i64::from(ttl), tombstone: false }
    }

    /// A cell tombstone written at `now_s`.
    pub fn tombstone(column: u16, path: Option<Vec<u8>>, timestamp: i64, now_s: i64) -> Self {
        OwnedCell { column, path, value: vec![], timestamp, ttl: 0, local_deletion_time: now_s, tombstone: true }
    }

    /// The cell's flags and times as a [`Cell`] (its path and value spans empty: they are the
    /// owner's), for [`Unfiltered::push_cell`] and the reconciliation rules.
    pub fn as_cell(&self) -> Cell {
        Cell {
            column: self.column,
            flags: if self.tombstone { crate::data::CELL_IS_DELETED } else { 0 },
            timestamp: self.timestamp,
            local_deletion_time: self.local_deletion_time,
            ttl: self.ttl,
            path: None,
            value: Default::default(),
        }
    }
}

/// A row, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Clustering values (empty for static rows and tables without clustering).
    pub clustering: Clustering,
    /// Row marker.
    pub liveness: LivenessInfo,
    /// Row deletion.
    pub deletion: DeletionTime,
    /// Complex-column deletions.
    pub complex_deletions: Vec<(u16, DeletionTime)>,
    /// Cells.
    pub cells: Vec<OwnedCell>,
}

impl Row {
    /// An empty row at `clustering`.
    pub fn new(clustering: Clustering) -> Self {
        Row {
            clustering,
            liveness: LivenessInfo::EMPTY,
            deletion: DeletionTime::LIVE,
            complex_deletions: vec![],
            cells: vec![],
        }
    }

    /// Merge a cell in (the reconciliation winner stays).
    pub fn add_cell(&mut self, c: OwnedCell) {
        match self.cells.iter_mut().find(|x| x.column == c.column && x.path == c.path) {
            Some(x) => {
                if reconcile_cells((&c.as_cell(), &c.value), (&x.as_cell(), &x.value)) == Ordering::Greater {
                    *x = c;
                }
            }
            None => self.cells.push(c),
        }
    }

    /// Merge a row marker in.
    pub fn add_liveness(&mut self, l: LivenessInfo) {
        if self.liveness.is_empty() || liveness_supersedes(&l, &self.liveness) {
            self.liveness = l;
        }
    }

    /// Merge a row deletion in.
    pub fn delete(&mut self, d: DeletionTime) {
        self.deletion = newer(self.deletion, d);
    }

    /// Merge a complex-column deletion in.
    pub fn delete_column(&mut self, column: u16, d: DeletionTime) {
        match self.complex_deletions.iter_mut().find(|x| x.0 == column) {
            Some(x) => x.1 = newer(x.1, d),
            None => self.complex_deletions.push((column, d)),
        }
    }

    fn is_empty(&self) -> bool {
        self.liveness.is_empty()
            && self.deletion.is_live()
            && self.cells.is_empty()
            && self.complex_deletions.is_empty()
    }

    /// Fill `out` with this row for `header` (cells by column, then by cell path).
    pub fn to_unfiltered(&self, header: &SerializationHeader, kind: UnfilteredKind, out: &mut Unfiltered) {
        out.start(kind, 0);
        for v in &self.clustering {
            out.push_clustering(v.as_deref());
        }
        out.liveness = self.liveness;
        out.deletion = self.deletion;
        let columns = if kind == UnfilteredKind::StaticRow { &header.static_columns } else { &header.regular_columns };
        let order = |a: &OwnedCell, b: &OwnedCell| {
            a.column.cmp(&b.column).then_with(|| {
                let path_ty = columns.get(a.column as usize).and_then(|c| c.ty.path_type()).unwrap_or(&CqlType::Blob);
                compare_values(path_ty, a.path.as_deref().unwrap_or_default(), b.path.as_deref().unwrap_or_default())
            })
        };
        let mut push = |c: &OwnedCell| out.push_cell(c.column, &c.as_cell(), c.path.as_deref(), &c.value);
        // Cells usually come in order already (then the sort, which is stable, would change nothing).
        if self.cells.is_sorted_by(|a, b| order(a, b) != Ordering::Greater) {
            self.cells.iter().for_each(&mut push);
        } else {
            let mut cells: Vec<&OwnedCell> = self.cells.iter().collect();
            cells.sort_by(|a, b| order(a, b));
            cells.into_iter().for_each(push);
        }
        let mut cds = self.complex_deletions.clone();
        cds.sort_by_key(|d| d.0);
        for (column, deletion) in cds {
            out.complex_deletions.push(ComplexDeletion { column, deletion });
        }
    }
}

/// A range tombstone: a clustering slice deleted at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeTombstone {
    /// Start prefix (empty = from the partition start).
    pub start: Clustering,
    /// Whether the start is inclusive.
    pub start_inclusive: bool,
    /// End prefix (empty = to the partition end).
    pub end: Clustering,
    /// Whether the end is inclusive.
    pub end_inclusive: bool,
    /// The deletion.
    pub deletion: DeletionTime,
}

/// A partition held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Serialized partition key.
    pub key: Vec<u8>,
    /// Partition deletion.
    pub deletion: DeletionTime,
    /// Static row.
    pub static_row: Option<Row>,
    /// Rows by clustering (byte order here; clustering order when written).
    pub rows: std::collections::BTreeMap<Clustering, Row>,
    /// Range tombstones (may overlap).
    pub range_tombstones: Vec<RangeTombstone>,
}

impl Partition {
    /// An empty partition.
    pub fn new(key: Vec<u8>) -> Self {
        Partition {
            key,
            deletion: DeletionTime::LIVE,
            static_row: None,
            rows: Default::default(),
            range_tombstones: vec![],
        }
    }

    /// The row at `clustering`, created if missing.
    pub fn row_mut(&mut self, clustering: &[Option<Vec<u8>>]) -> &mut Row {
        self.row_mut_owned(clustering.to_vec())
    }

    /// [`Self::row_mut`] with the clustering given owned (copied only when the row is new).
    pub fn row_mut_owned(&mut self, clustering: Clustering) -> &mut Row {
        match self.rows.entry(clustering) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let c = v.key().clone();
                v.insert(Row::new(c))
            }
        }
    }

    /// The static row, created if missing.
    pub fn static_mut(&mut self) -> &mut Row {
        self.static_row.get_or_insert_with(|| Row::new(vec![]))
    }

    /// Merge a partition deletion in.
    pub fn delete(&mut self, d: DeletionTime) {
        self.deletion = newer(self.deletion, d);
    }

    /// The newest deletion covering a row at `clustering`: the partition deletion and every
    /// range tombstone whose slice contains it.
    fn covering_deletion(&self, types: &[CqlType], clustering: &Clustering) -> DeletionTime {
        let mut d = self.deletion;
        for rt in &self.range_tombstones {
            let sk = if rt.start_inclusive { BoundKind::InclStartBound } else { BoundKind::ExclStartBound };
            let ek = if rt.end_inclusive { BoundKind::InclEndBound } else { BoundKind::ExclEndBound };
            if cmp(types, &rt.start, sk, clustering, BoundKind::Clustering) == Ordering::Less
                && cmp(types, clustering, BoundKind::Clustering, &rt.end, ek) == Ordering::Less
            {
                d = newer(d, rt.deletion);
            }
        }
        d
    }

    /// Rows and markers in clustering order, as an SSTable stores them. As Cassandra's
    /// memtables do, data shadowed by a deletion of the same partition is left out: a row keeps
    /// its deletion only when it is newer than the partition or range deletion covering it, and
    /// its marker and cells only when they are newer than every deletion covering them.
    pub fn unfiltereds(&self, header: &SerializationHeader) -> Vec<Unfiltered> {
        let mut out = Vec::new();
        // The callback never fails.
        let _ = self.each_unfiltered(header, &mut |u| {
            out.push(u.clone());
            Ok(())
        });
        out
    }

    /// [`Self::unfiltereds`], one at a time: `f` sees each in turn, in one buffer reused from
    /// one to the next (no list of the partition's rows is built); stops at `f`'s first error.
    pub fn each_unfiltered(
        &self,
        header: &SerializationHeader,
        f: &mut dyn FnMut(&Unfiltered) -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        let types = &header.clustering_types;
        let mut u = Unfiltered::default();
        // Range-tombstone bound events: (prefix, kind as a position, is_start, index).
        let mut events: Vec<(Clustering, BoundKind, bool, usize)> = Vec::new();
        for (i, rt) in self.range_tombstones.iter().enumerate() {
            if !rt.deletion.supersedes(&self.deletion) {
                continue;
            }
            let sk = if rt.start_inclusive { BoundKind::InclStartBound } else { BoundKind::ExclStartBound };
            let ek = if rt.end_inclusive { BoundKind::InclEndBound } else { BoundKind::ExclEndBound };
            // An empty slice (start at or after end) deletes nothing.
            if cmp(types, &rt.start, sk, &rt.end, ek) != Ordering::Less {
                continue;
            }
            events.push((rt.start.clone(), sk, true, i));
            events.push((rt.end.clone(), ek, false, i));
        }
        events.sort_by(|a, b| cmp(types, &a.0, a.1, &b.0, b.1));
        let purged: Vec<std::borrow::Cow<'_, Row>> =
            self.rows.values().map(|r| self.purge(types, r, false)).filter(|r| !r.is_empty()).collect();
        let mut rows: Vec<&Row> = purged.iter().map(|r| r.as_ref()).collect();
        rows.sort_by(|a, b| cmp(types, &a.clustering, BoundKind::Clustering, &b.clustering, BoundKind::Clustering));
        let mut open: Vec<usize> = Vec::new();
        let mut active: Option<DeletionTime> = None;
        let mut ri = 0;
        let mut ei = 0;
        while ri < rows.len() || ei < events.len() {
            let take_row = match (rows.get(ri), events.get(ei)) {
                (Some(r), Some(e)) => cmp(types, &r.clustering, BoundKind::Clustering, &e.0, e.1) == Ordering::Less,
                (Some(_), None) => true,
                _ => false,
            };
            if take_row {
                if let Some(r) = rows.get(ri) {
                    r.to_unfiltered(header, UnfilteredKind::Row, &mut u);
                    f(&u)?;
                }
                ri += 1;
                continue;
            }
            // All events at this position together.
            let Some(first) = events.get(ei).cloned() else { break };
            let before = matches!(first.1, BoundKind::InclStartBound | BoundKind::ExclEndBound);
            while let Some(e) = events.get(ei) {
                if cmp(types, &e.0, e.1, &first.0, first.1) != Ordering::Equal {
                    break;
                }
                if e.2 {
                    open.push(e.3);
                } else if let Some(p) = open.iter().position(|&x| x == e.3) {
                    open.remove(p);
                }
                ei += 1;
            }
            let now = open.iter().filter_map(|&i| self.range_tombstones.get(i).map(|r| r.deletion)).reduce(newer);
            if now == active {
                continue;
            }
            let kind = BoundKind::transition(active.is_some(), now.is_some(), before);
            u.start(UnfilteredKind::Marker(kind), 0);
            for v in &first.0 {
                u.push_clustering(v.as_deref());
            }
            u.close_deletion = active.unwrap_or(DeletionTime::LIVE);
            u.deletion = now.unwrap_or(DeletionTime::LIVE);
            active = now;
            f(&u)?;
        }
        Ok(())
    }

    /// `row` without what deletions of this partition shadow (see [`Self::unfiltereds`]).
    fn purge<'a>(&self, types: &[CqlType], row: &'a Row, is_static: bool) -> std::borrow::Cow<'a, Row> {
        let covering = if is_static { self.deletion } else { self.covering_deletion(types, &row.clustering) };
        if covering.is_live() && row.deletion.is_live() && row.complex_deletions.is_empty() {
            // Nothing of this partition can shadow anything in the row (the common case).
            return std::borrow::Cow::Borrowed(row);
        }
        let mut out = Row::new(row.clustering.clone());
        let active = if row.deletion.supersedes(&covering) {
            out.deletion = row.deletion;
            row.deletion
        } else {
            covering
        };
        let shadowed = |ts: i64, d: &DeletionTime| !d.is_live() && d.deletes(ts);
        if !row.liveness.is_empty() && !shadowed(row.liveness.timestamp, &active) {
            out.liveness = row.liveness;
        }
        for &(column, d) in &row.complex_deletions {
            if d.supersedes(&active) {
                out.complex_deletions.push((column, d));
            }
        }
        for c in &row.cells {
            let column_deletion =
                out.complex_deletions.iter().find(|x| x.0 == c.column).map_or(DeletionTime::LIVE, |x| x.1);
            if !shadowed(c.timestamp, &newer(active, column_deletion)) {
                out.cells.push(c.clone());
            }
        }
        std::borrow::Cow::Owned(out)
    }

    /// The static row as an unfiltered, if any.
    pub fn static_unfiltered(&self, header: &SerializationHeader) -> Option<Unfiltered> {
        let s = self
            .static_row
            .as_ref()
            .map(|r| self.purge(&header.clustering_types, r, true))
            .filter(|r| !r.is_empty())?;
        let mut u = Unfiltered::default();
        s.to_unfiltered(header, UnfilteredKind::StaticRow, &mut u);
        Some(u)
    }
}

/// Compare two clusterings (or prefixes) with their kinds, without allocating.
fn cmp(types: &[CqlType], a: &Clustering, ka: BoundKind, b: &Clustering, kb: BoundKind) -> Ordering {
    compare_prefix_values(types, a.iter().map(|v| v.as_deref()), ka, b.iter().map(|v| v.as_deref()), kb)
}

impl crate::writer::SsTableWriter {
    /// Write a whole in-memory partition.
    pub fn write_partition_content(&mut self, p: &Partition) -> crate::error::Result<()> {
        self.begin_partition(&p.key, p.deletion)?;
        let header = self.shared_header();
        if let Some(s) = p.static_unfiltered(&header) {
            self.write_static_row(&s)?;
        }
        p.each_unfiltered(&header, &mut |u| self.write(u))?;
        self.end_partition()
    }
}
