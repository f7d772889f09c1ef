//! What the other SSTables of a table hold for one partition, merged: the "shadow" that
//! `compact gc` rewrites an SSTable against (`CompactionIterator.GarbageSkipper` and
//! `CompactionController.getShadowIterator` in Cassandra), and that `compact::run`'s merge
//! consults when it runs with a [`Granularity`].
//!
//! Kept apart from [`crate::gc`] (which orders and rewrites the SSTables) and [`crate::run`]
//! (which merges and writes), so that both use it and neither imports the other.

use std::cmp::Ordering;

use cairn_format::data::{PartitionStream, Unfiltered, UnfilteredKind};
use cairn_format::deletion::{DeletionTime, LivenessInfo};
use cairn_format::lookup::ForwardLookup;
use cairn_format::reconcile::{Merger, compare_positions, newer, reconcile_cells};
use cairn_format::sstable::SsTable;
use cairn_format::statistics::{HeaderColumn, SerializationHeader};

/// What `compact gc` removes besides what any compaction purges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Data covered by partition, range and row deletions in other SSTables.
    Row,
    /// Also cells other SSTables hold newer versions of.
    Cell,
}

/// An SSTable that may shadow the one being collected. The collected SSTable's partitions come
/// in token order, so each source is read as a merge-join: its Index.db forward
/// ([`ForwardLookup`]) and one scanner sought from partition to partition, reusing the chunk it
/// has decoded.
pub(crate) struct ShadowSource {
    table: SsTable,
    lookup: ForwardLookup,
    scanner: Option<cairn_format::data::scanner::Scanner>,
}

impl ShadowSource {
    pub(crate) fn new(table: &SsTable) -> Result<ShadowSource, cairn_format::Error> {
        Ok(ShadowSource { table: table.clone(), lookup: ForwardLookup::new(table)?, scanner: None })
    }
}

/// What the other SSTables hold for one partition, merged.
pub(crate) struct Shadow {
    header: std::sync::Arc<SerializationHeader>,
    deletion: DeletionTime,
    static_row: Option<Unfiltered>,
    /// Rows and range markers in clustering order.
    items: Vec<Unfiltered>,
    /// Next item not yet passed, and the range deletion open before it.
    cursor: usize,
    open: DeletionTime,
    /// Cells, markers and deletions dropped so far.
    pub(crate) collected: u64,
}

impl Shadow {
    /// The merged content of `key` in `sources`, or `None` when none of them holds it.
    pub(crate) fn load(
        sources: &mut [ShadowSource],
        key: &[u8],
        partitioner: cairn_format::partitioner::Partitioner,
    ) -> Result<Option<Shadow>, cairn_format::Error> {
        let mut scanners = Vec::new();
        let mut from = Vec::new();
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some(pos) = s.lookup.find(&s.table, key)? {
                let mut sc = match s.scanner.take() {
                    Some(sc) => sc,
                    None => s.table.scanner()?,
                };
                sc.seek(pos, None)?;
                scanners.push(sc);
                from.push(i);
            }
        }
        if scanners.is_empty() {
            return Ok(None);
        }
        let mut m = Merger::new(scanners, partitioner)?;
        let shadow = Self::read(&mut m, key);
        // The scanners go back to their sources for the next partition.
        for (i, sc) in from.into_iter().zip(m.into_scanners()) {
            if let Some(s) = sources.get_mut(i) {
                s.scanner = Some(sc);
            }
        }
        shadow
    }

    /// The merged partition `key` from `m`, whose inputs are positioned at it.
    fn read(m: &mut Merger, key: &[u8]) -> Result<Option<Shadow>, cairn_format::Error> {
        let header = m.shared_header();
        let Some(p) = m.next_partition()?.cloned() else { return Ok(None) };
        if p.key != key {
            return Ok(None);
        }
        let static_row = m.static_row().cloned();
        let mut items = Vec::new();
        while let Some(u) = m.next_unfiltered()? {
            items.push(u.clone());
        }
        Ok(Some(Shadow {
            header,
            deletion: p.deletion,
            static_row,
            items,
            cursor: 0,
            open: DeletionTime::LIVE,
            collected: 0,
        }))
    }

    /// The partition deletion of the collected SSTable: kept only if newer than the others'.
    pub(crate) fn partition_deletion(&mut self, d: DeletionTime) -> DeletionTime {
        if d.is_live() || d.supersedes(&self.deletion) {
            d
        } else {
            self.collected += 1;
            DeletionTime::LIVE
        }
    }

    /// `u` (a row or marker of the collected SSTable, whose columns `columns` describes) with
    /// what the others make dead removed, into `out`; false when nothing is left.
    pub(crate) fn filter(
        &mut self,
        u: &Unfiltered,
        columns: &SerializationHeader,
        granularity: Granularity,
        out: &mut Unfiltered,
    ) -> bool {
        let kind = u.kind();
        if let UnfilteredKind::Marker(_) = kind {
            out.copy_from(u);
            return true;
        }
        let is_static = kind == UnfilteredKind::StaticRow;
        let (tomb_row, active) = if is_static {
            (self.static_row.clone(), self.deletion)
        } else {
            self.advance_to(u);
            let row = self
                .items
                .get(self.cursor)
                .filter(|t| t.kind() == UnfilteredKind::Row && self.compare(t, u) == Ordering::Equal)
                .cloned();
            (row, newer(self.deletion, self.open))
        };
        let row_deletion = tomb_row.as_ref().map_or(DeletionTime::LIVE, |t| t.deletion);
        let covering = newer(active, row_deletion);
        let (mine, theirs) = if is_static {
            (&columns.static_columns, &self.header.static_columns)
        } else {
            (&columns.regular_columns, &self.header.regular_columns)
        };
        out.start(kind, u.position);
        for i in 0..u.clustering.len() {
            out.push_clustering(u.clustering_value(i));
        }
        out.deletion = if u.deletion.supersedes(&covering) { u.deletion } else { DeletionTime::LIVE };
        out.shadowable_deletion =
            if u.shadowable_deletion.supersedes(&covering) { u.shadowable_deletion } else { DeletionTime::LIVE };
        let marker_beaten = granularity == Granularity::Cell
            && tomb_row.as_ref().is_some_and(|t| {
                !t.liveness.is_empty() && cairn_format::reconcile::liveness_supersedes(&t.liveness, &u.liveness)
            });
        out.liveness = if u.liveness.is_empty() || covering.deletes(u.liveness.timestamp) || marker_beaten {
            LivenessInfo::EMPTY
        } else {
            u.liveness
        };
        for d in &u.complex_deletions {
            let theirs_complex = tomb_row
                .as_ref()
                .and_then(|t| {
                    let name = &mine.get(d.column as usize)?.name;
                    let col = theirs.iter().position(|c| &c.name == name)?;
                    t.complex_deletions.iter().find(|x| x.column as usize == col).map(|x| x.deletion)
                })
                .filter(|_| granularity == Granularity::Cell)
                .unwrap_or(DeletionTime::LIVE);
            if d.deletion.supersedes(&newer(covering, theirs_complex)) {
                out.complex_deletions.push(*d);
            }
        }
        for c in &u.cells {
            let mut dead = covering.deletes(c.timestamp);
            if !dead
                && granularity == Granularity::Cell
                && let Some(t) = &tomb_row
            {
                dead = newer_elsewhere(t, theirs, mine, u, c);
            }
            if !dead {
                out.push_cell(c.column, c, u.path(c), u.value(c));
            }
        }
        let count = |x: &Unfiltered| {
            x.cells.len()
                + x.complex_deletions.len()
                + usize::from(!x.liveness.is_empty())
                + usize::from(!x.deletion.is_live())
                + usize::from(!x.shadowable_deletion.is_live())
        };
        self.collected += (count(u) - count(out)) as u64;
        !(out.liveness.is_empty()
            && out.deletion.is_live()
            && out.shadowable_deletion.is_live()
            && out.complex_deletions.is_empty()
            && out.cells.is_empty())
    }

    fn compare(&self, a: &Unfiltered, b: &Unfiltered) -> Ordering {
        compare_positions(&self.header.clustering_types, a, b)
    }

    /// Pass every item before `u`, tracking the range deletion open at `u`.
    fn advance_to(&mut self, u: &Unfiltered) {
        while let Some(t) = self.items.get(self.cursor) {
            if self.compare(t, u) != Ordering::Less {
                break;
            }
            if let UnfilteredKind::Marker(k) = t.kind() {
                self.open = if k.is_open() { t.deletion } else { DeletionTime::LIVE };
            }
            self.cursor += 1;
        }
    }
}

/// Whether the other SSTables' row `t` holds a newer version of cell `c` of row `u` (or a
/// collection deletion covering it).
fn newer_elsewhere(
    t: &Unfiltered,
    theirs: &[HeaderColumn],
    mine: &[HeaderColumn],
    u: &Unfiltered,
    c: &cairn_format::data::Cell,
) -> bool {
    let Some(mine_col) = mine.get(c.column as usize) else { return false };
    // Counter cells merge their shards (and a counter tombstone always wins): a newer counter
    // cell elsewhere does not make this one dead. Only deletions do.
    if mine_col.ty.is_counter() {
        return false;
    }
    let name = &mine_col.name;
    let Some(col) = theirs.iter().position(|h| &h.name == name) else { return false };
    if let Some(d) = t.complex_deletions.iter().find(|x| x.column as usize == col)
        && d.deletion.deletes(c.timestamp)
    {
        return true;
    }
    let path = u.path(c);
    t.cells.iter().filter(|x| x.column as usize == col && t.path(x) == path).any(|x| {
        // Strictly newer only: an identical copy elsewhere is no reason to drop this one.
        reconcile_cells((x, t.value(x)), (c, u.value(c))) == Ordering::Greater
    })
}
