//! Reconciliation: several SSTables read as one, with Cassandra's merge semantics.
//!
//! * Partitions come out in token order; a key present in several inputs is merged.
//! * Cells: the newer timestamp wins; on a tie a tombstone or expiring cell beats a live one, a
//!   tombstone beats an expiring cell, then the later local deletion time, then the greater value
//!   (Cassandra `db/rows/Cells.java`). Counter cells merge their shards (a tombstone wins).
//! * Deletions shadow everything written at or before their timestamp: partition deletion, the
//!   range tombstone open at a row, the row deletion, a complex-column deletion. Shadowed data
//!   disappears; deletions that are themselves superseded by a wider one disappear too.
//! * Range tombstones of all inputs are combined into one sequence of bound and boundary
//!   markers: at each marker position the active deletion is the newest one open in any input.
//! * Nothing is purged: tombstones stay, expired cells stay (they are tombstones only to
//!   readers that know the time). Purging is compaction policy (`cairn-compact`).
//!
//! Memory: one row or marker per input, plus the merged row.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::clustering::BoundKind;
use crate::data::scanner::Scanner;
use crate::data::{Cell, ComplexDeletion, PartitionHeader, PartitionStream, Unfiltered, UnfilteredKind};
use crate::deletion::{DeletionTime, LivenessInfo, NO_DELETION_TIME};
use crate::error::{Error, Result};
use crate::partitioner::{Partitioner, Token};
use crate::statistics::{HeaderColumn, SerializationHeader};
use crate::types::CqlType;
use crate::types::compare::compare_values;
use crate::types::value::{CounterShard, ShardKind, counter_shards};

struct Input {
    scanner: Scanner,
    static_map: Vec<u16>,
    regular_map: Vec<u16>,
    /// Whether this input's regular columns are the merged header's, in the same order (its
    /// rows' column indices need no mapping).
    regular_identity: bool,
    /// Current partition of this input, if it has one left.
    current: Option<(Token, Vec<u8>, DeletionTime, u64)>,
    static_row: Option<Unfiltered>,
    exhausted: bool,
    in_merge: bool,
    /// Whether the scanner's last unfiltered ([`Input::peek`]) is this input's next item.
    has_peek: bool,
    open: Option<DeletionTime>,
}

impl Input {
    /// The input's next item when `has_peek`: the scanner's last unfiltered, looked at where it
    /// is instead of copied out (the scanner keeps it until its next `next_unfiltered`).
    fn peek(&self) -> &Unfiltered {
        self.scanner.last_unfiltered()
    }
}

/// What reconciliation dropped so far (cumulative over a [`Merger`]'s life).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeCounts {
    /// Cells and row markers dropped because a newer deletion (partition, range, row, shadowable
    /// or collection) covers them.
    pub shadowed: u64,
    /// Older versions of a cell or row marker dropped because another input holds a newer one.
    pub superseded: u64,
}

/// Merges several SSTables' scanners into one reconciled stream.
pub struct Merger {
    counts: std::cell::Cell<MergeCounts>,
    inputs: Vec<Input>,
    header: Arc<SerializationHeader>,
    partitioner: Partitioner,
    partition: PartitionHeader,
    static_row: Unfiltered,
    has_static: bool,
    out: Unfiltered,
    active: Option<DeletionTime>,
    in_partition: bool,
    /// The inputs at the position being merged (reused from row to row).
    group: Vec<usize>,
    /// An input known to hold the partition's next item alone, while it does (see [`Run`]).
    run: Option<Run>,
    /// The input that held the last item alone, if one did.
    last_lead: Option<usize>,
    /// The input whose item was returned as it is (not merged into `out`); it moves on at the
    /// next call.
    passed: Option<usize>,
}

/// What [`Merger::merge_group`] made of a group.
enum Merged {
    /// Nothing to return (an empty row, a marker that changes nothing).
    Nothing,
    /// The merged item is in `out`.
    Out,
    /// The item of this input is returned as it is.
    Input(usize),
}

/// Input `lead`'s next item sorts before every other input's, whose smallest is `next`'s (`None`:
/// no other input has one left in this partition). Only `lead` advances while this holds, so
/// one comparison with `next`'s item tells whether `lead` still leads alone: rows that come in
/// runs from one SSTable (time windows, an upgrade's single input) cost one comparison each
/// instead of one per input. Found once an input has led alone twice in a row, dropped at the
/// first row it does not lead alone and at every partition.
#[derive(Clone, Copy)]
struct Run {
    lead: usize,
    next: Option<usize>,
}

/// The union of several headers' columns, in Cassandra's order. A column whose type grew
/// between the SSTables (`ALTER TYPE ... ADD` gives a UDT more fields) takes the grown type, as
/// Cassandra reads every SSTable with the current schema: with the older type, the fields added
/// since would not decode.
fn merge_columns<'a>(lists: impl Iterator<Item = &'a [HeaderColumn]>) -> Vec<HeaderColumn> {
    let mut out: Vec<HeaderColumn> = Vec::new();
    for list in lists {
        for c in list {
            match out.iter_mut().find(|o| o.name == c.name) {
                Some(o) => {
                    if o.ty != c.ty && crate::types::grows_into(&o.ty, &c.ty) {
                        *o = c.clone();
                    }
                }
                None => out.push(c.clone()),
            }
        }
    }
    out.sort_by(|a, b| a.is_complex().cmp(&b.is_complex()).then_with(|| a.name.as_bytes().cmp(b.name.as_bytes())));
    out
}

/// Whether `columns` are as [`merge_columns`] would leave them: simple before complex, each by
/// name bytes, no name twice.
fn in_merge_order(columns: &[HeaderColumn]) -> bool {
    let sorted = columns.windows(2).all(|w| match w {
        [a, b] => (a.is_complex(), a.name.as_bytes()) < (b.is_complex(), b.name.as_bytes()),
        _ => true,
    });
    sorted
        && columns
            .iter()
            .enumerate()
            .all(|(i, c)| columns.get(..i).unwrap_or_default().iter().all(|o| o.name != c.name))
}

fn column_map(from: &[HeaderColumn], to: &[HeaderColumn]) -> Vec<u16> {
    from.iter().map(|c| to.iter().position(|t| t.name == c.name).unwrap_or(0) as u16).collect()
}

impl Merger {
    /// The partitioner partitions are ordered by.
    pub fn partitioner(&self) -> Partitioner {
        self.partitioner
    }

    /// The merged header, shared.
    pub fn shared_header(&self) -> Arc<SerializationHeader> {
        Arc::clone(&self.header)
    }

    /// What reconciliation has dropped so far.
    pub fn counts(&self) -> MergeCounts {
        self.counts.get()
    }

    /// The scanners merged, given back wherever the merge left them (to be sought and reused).
    pub fn into_scanners(self) -> Vec<Scanner> {
        self.inputs.into_iter().map(|i| i.scanner).collect()
    }

    /// Merge `scanners` (each with its own header), all written by `partitioner`.
    pub fn new(scanners: Vec<Scanner>, partitioner: Partitioner) -> Result<Merger> {
        let first = scanners.first().map(|s| Arc::clone(s.shared_header()));
        let Some(first) = first else {
            return Err(Error::Unsupported { path: Default::default(), what: "merging zero SSTables".into() });
        };
        for s in scanners.iter().filter(|s| !Arc::ptr_eq(s.shared_header(), &first)) {
            let h = s.header();
            if h.clustering_types != first.clustering_types || h.key_type != first.key_type {
                return Err(Error::SchemaShape {
                    what: "merged SSTables' key and clustering types",
                    schema: first.clustering_types.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    header: h.clustering_types.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                });
            }
        }
        // Inputs with the first's columns, already in merge order, merge into the first's header
        // as it is (no copy of its column types per merger: gc makes one per partition).
        let same = scanners.iter().skip(1).all(|s| {
            let h = s.header();
            h.static_columns == first.static_columns && h.regular_columns == first.regular_columns
        }) && in_merge_order(&first.static_columns)
            && in_merge_order(&first.regular_columns);
        let header = if same {
            first
        } else {
            let statics = merge_columns(scanners.iter().map(|s| s.header().static_columns.as_slice()));
            let regulars = merge_columns(scanners.iter().map(|s| s.header().regular_columns.as_slice()));
            Arc::new(SerializationHeader { static_columns: statics, regular_columns: regulars, ..(*first).clone() })
        };
        let inputs = scanners
            .into_iter()
            .map(|scanner| {
                // Every input has the merged header's columns when `same`: no lookup by name.
                let identity = |n: usize| (0..n as u16).collect();
                let (static_map, regular_map, regular_identity) = if same {
                    (identity(header.static_columns.len()), identity(header.regular_columns.len()), true)
                } else {
                    (
                        column_map(&scanner.header().static_columns, &header.static_columns),
                        column_map(&scanner.header().regular_columns, &header.regular_columns),
                        scanner.header().regular_columns == header.regular_columns,
                    )
                };
                Input {
                    scanner,
                    static_map,
                    regular_map,
                    regular_identity,
                    current: None,
                    static_row: None,
                    exhausted: false,
                    in_merge: false,
                    has_peek: false,
                    open: None,
                }
            })
            .collect();
        Ok(Merger {
            counts: std::cell::Cell::new(MergeCounts::default()),
            inputs,
            header,
            partitioner,
            partition: PartitionHeader::default(),
            static_row: Unfiltered::default(),
            has_static: false,
            out: Unfiltered::default(),
            active: None,
            in_partition: false,
            group: Vec::new(),
            run: None,
            last_lead: None,
            passed: None,
        })
    }

    fn advance_partition(input: &mut Input, partitioner: Partitioner) -> Result<()> {
        match input.scanner.next_partition()? {
            Some(p) => {
                let token = partitioner.token(&p.key);
                input.current = Some((token, p.key.clone(), p.deletion, p.position));
                input.static_row = input.scanner.static_row().cloned();
            }
            None => {
                input.current = None;
                input.exhausted = true;
            }
        }
        Ok(())
    }

    fn advance_row(input: &mut Input) -> Result<()> {
        match input.scanner.next_unfiltered()? {
            Some(_) => input.has_peek = true,
            None => input.has_peek = false,
        }
        Ok(())
    }

    fn merged_deletion(&self) -> DeletionTime {
        self.partition.deletion
    }
}

/// Which of two deletions is newer (Cassandra `DeletionTime.supersedes`).
pub fn newer(a: DeletionTime, b: DeletionTime) -> DeletionTime {
    if b.supersedes(&a) { b } else { a }
}

/// The TTL Cassandra gives an "expired" row marker (materialized views).
pub const EXPIRED_LIVENESS_TTL: i32 = i32::MAX;

/// Whether liveness `a` supersedes `b` (Cassandra `LivenessInfo.supersedes`): the newer
/// timestamp; on a tie an expired marker, then (both expiring or both not) the later expiry,
/// else the expiring one.
pub fn liveness_supersedes(a: &LivenessInfo, b: &LivenessInfo) -> bool {
    if a.timestamp != b.timestamp {
        return a.timestamp > b.timestamp;
    }
    let (ea, eb) = (a.ttl == EXPIRED_LIVENESS_TTL, b.ttl == EXPIRED_LIVENESS_TTL);
    if ea != eb {
        return ea;
    }
    if a.is_expiring() == b.is_expiring() {
        return a.local_expiration_time > b.local_expiration_time;
    }
    a.is_expiring()
}

/// Reconcile two cells of the same column (and path): which one wins.
pub fn reconcile_cells<'c>(a: (&'c Cell, &[u8]), b: (&'c Cell, &[u8])) -> Ordering {
    let ((ca, va), (cb, vb)) = (a, b);
    if ca.timestamp != cb.timestamp {
        return ca.timestamp.cmp(&cb.timestamp);
    }
    let a_special = ca.local_deletion_time != NO_DELETION_TIME || ca.is_tombstone();
    let b_special = cb.local_deletion_time != NO_DELETION_TIME || cb.is_tombstone();
    if a_special != b_special {
        return a_special.cmp(&b_special);
    }
    if a_special {
        if ca.is_tombstone() != cb.is_tombstone() {
            return ca.is_tombstone().cmp(&cb.is_tombstone());
        }
        if ca.local_deletion_time != cb.local_deletion_time {
            return ca.local_deletion_time.cmp(&cb.local_deletion_time);
        }
    }
    va.cmp(vb)
}

/// Merge two counter contexts shard by shard (Cassandra `db/context/CounterContext.merge`): for
/// one counter id, a global shard beats the others (between globals the higher clock, then the
/// higher count), two local shards add up, a local shard beats a remote one, and between remote
/// shards the higher clock, then the higher count, wins. A context that does not decode is an
/// error (offsets within that context), never a merge that drops it.
pub fn merge_counter_contexts(a: &[u8], b: &[u8]) -> std::result::Result<Vec<u8>, crate::DecodeError> {
    let mut shards: Vec<CounterShard> = counter_shards(a)?;
    for s in counter_shards(b)? {
        match shards.iter_mut().find(|x| x.counter_id == s.counter_id) {
            Some(x) => match (x.kind, s.kind) {
                (ShardKind::Local, ShardKind::Local) => {
                    x.clock = x.clock.wrapping_add(s.clock);
                    x.count = x.count.wrapping_add(s.count);
                }
                (ShardKind::Global, ShardKind::Global) | (ShardKind::Remote, ShardKind::Remote)
                    if (s.clock, s.count) > (x.clock, x.count) =>
                {
                    *x = s;
                }
                (ShardKind::Global, ShardKind::Global) | (ShardKind::Remote, ShardKind::Remote) => {}
                (_, ShardKind::Global) | (ShardKind::Remote, ShardKind::Local) => *x = s,
                _ => {}
            },
            None => shards.push(s),
        }
    }
    shards.sort_by_key(|x| x.counter_id);
    let headers: Vec<i16> = shards
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s.kind {
            ShardKind::Global => Some(i as i16 + i16::MIN),
            ShardKind::Local => Some(i as i16),
            ShardKind::Remote => None,
        })
        .collect();
    let mut out = Vec::with_capacity(2 + headers.len() * 2 + shards.len() * 32);
    out.extend_from_slice(&(headers.len() as i16).to_be_bytes());
    for h in headers {
        out.extend_from_slice(&h.to_be_bytes());
    }
    for s in shards {
        out.extend_from_slice(&s.counter_id);
        out.extend_from_slice(&s.clock.to_be_bytes());
        out.extend_from_slice(&s.count.to_be_bytes());
    }
    Ok(out)
}

/// One row's worth of contributions: (input index, the input's row).
struct RowMerge<'a> {
    header: &'a SerializationHeader,
    is_static: bool,
    counts: &'a std::cell::Cell<MergeCounts>,
    /// The Data.db of each contributing row, in the order of the rows (for errors).
    paths: &'a [&'a std::path::Path],
}

impl RowMerge<'_> {
    fn count(&self, shadowed: u64, superseded: u64) {
        let mut c = self.counts.get();
        c.shadowed += shadowed;
        c.superseded += superseded;
        self.counts.set(c);
    }

    /// Merge `rows` (each with its column map) into `out`, shadowed by `active`.
    fn merge(&self, rows: &[(&Unfiltered, &[u16])], active: Option<DeletionTime>, out: &mut Unfiltered) -> Result<()> {
        let kind = if self.is_static { UnfilteredKind::StaticRow } else { UnfilteredKind::Row };
        let first = rows.first().map(|r| r.0);
        out.start(kind, first.map_or(0, |r| r.position));
        if let Some(f) = first {
            for i in 0..f.clustering.len() {
                out.push_clustering(f.clustering_value(i));
            }
        }
        let mut liveness = LivenessInfo::EMPTY;
        let mut deletion = DeletionTime::LIVE;
        let mut shadowable = DeletionTime::LIVE;
        let markers = rows.iter().filter(|(r, _)| !r.liveness.is_empty()).count() as u64;
        self.count(0, markers.saturating_sub(1));
        for (r, _) in rows {
            if !r.liveness.is_empty() && (liveness.is_empty() || liveness_supersedes(&r.liveness, &liveness)) {
                liveness = r.liveness;
            }
            deletion = newer(deletion, r.deletion);
            shadowable = newer(shadowable, r.shadowable_deletion);
        }
        let mut effective = active.unwrap_or(DeletionTime::LIVE);
        if effective.supersedes(&deletion) || deletion.is_live() {
            deletion = DeletionTime::LIVE;
        } else {
            effective = deletion;
        }
        // A shadowable deletion lasts only until the row is written again (materialized views).
        if !shadowable.is_live()
            && (liveness.timestamp > shadowable.marked_for_delete_at || effective.supersedes(&shadowable))
        {
            shadowable = DeletionTime::LIVE;
        }
        let shadowing = newer(effective, shadowable);
        if !liveness.is_empty() && !shadowing.is_live() && shadowing.deletes(liveness.timestamp) {
            liveness = LivenessInfo::EMPTY;
            self.count(1, 0);
        }
        out.liveness = liveness;
        out.deletion = deletion;
        out.shadowable_deletion = shadowable;
        let columns = if self.is_static { &self.header.static_columns } else { &self.header.regular_columns };
        for (ci, col) in columns.iter().enumerate() {
            let ci = ci as u16;
            if col.is_complex() {
                self.merge_complex(rows, ci, &col.ty, effective, shadowing, out);
            } else {
                self.merge_simple(rows, ci, &col.ty, shadowing, out)?;
            }
        }
        Ok(())
    }

    fn cells_of<'r>(row: &'r Unfiltered, map: &'r [u16], column: u16) -> impl Iterator<Item = &'r Cell> {
        row.cells.iter().filter(move |c| map.get(c.column as usize) == Some(&column))
    }

    fn merge_simple(
        &self,
        rows: &[(&Unfiltered, &[u16])],
        column: u16,
        ty: &CqlType,
        shadowing: DeletionTime,
        out: &mut Unfiltered,
    ) -> Result<()> {
        let mut best: Option<(&Cell, &Unfiltered)> = None;
        let mut counter: Option<Vec<u8>> = None;
        let mut seen = 0u64;
        for (k, (r, map)) in rows.iter().enumerate() {
            for c in Self::cells_of(r, map, column) {
                seen += 1;
                if ty.is_counter()
                    && !c.is_tombstone()
                    && !r.value(c).is_empty()
                    && best.is_some_and(|(b, br)| !b.is_tombstone() && !br.value(b).is_empty())
                {
                    let base =
                        counter.clone().unwrap_or_else(|| best.map(|(b, br)| br.value(b).to_vec()).unwrap_or_default());
                    let merged = merge_counter_contexts(&base, r.value(c)).map_err(|e| {
                        let path = self.paths.get(k).map_or_else(std::path::PathBuf::new, |p| p.to_path_buf());
                        crate::DecodeError::new(r.position, e.kind).located(path, crate::Component::Data)
                    })?;
                    counter = Some(merged);
                    if best.is_some_and(|(b, _)| c.timestamp > b.timestamp) {
                        best = Some((c, r));
                    }
                    continue;
                }
                best = match best {
                    None => Some((c, r)),
                    Some((b, br)) => {
                        let keep_new = if ty.is_counter() && (c.is_tombstone() != b.is_tombstone()) {
                            // A counter tombstone always wins (CASSANDRA-7346).
                            c.is_tombstone()
                        } else if ty.is_counter() && (r.value(c).is_empty() != br.value(b).is_empty()) {
                            r.value(c).is_empty()
                        } else {
                            reconcile_cells((c, r.value(c)), (b, br.value(b))) == Ordering::Greater
                        };
                        if keep_new {
                            if c.is_tombstone() {
                                counter = None;
                            }
                            Some((c, r))
                        } else {
                            Some((b, br))
                        }
                    }
                };
            }
        }
        // Counter shards are merged, not superseded.
        self.count(0, if ty.is_counter() { 0 } else { seen.saturating_sub(1) });
        if let Some((c, r)) = best {
            if !shadowing.is_live() && shadowing.deletes(c.timestamp) {
                self.count(1, 0);
                return Ok(());
            }
            match counter {
                Some(value) => out.push_cell(column, c, None, &value),
                None => out.push_cell(column, c, None, r.value(c)),
            }
        }
        Ok(())
    }

    fn merge_complex(
        &self,
        rows: &[(&Unfiltered, &[u16])],
        column: u16,
        ty: &CqlType,
        effective: DeletionTime,
        shadowing: DeletionTime,
        out: &mut Unfiltered,
    ) {
        let mut complex = DeletionTime::LIVE;
        for (r, map) in rows {
            for d in &r.complex_deletions {
                if map.get(d.column as usize) == Some(&column) {
                    complex = newer(complex, d.deletion);
                }
            }
        }
        // A column deletion stays only if it is newer than the deletion already covering the row.
        if !complex.is_live() && !complex.supersedes(&effective) {
            complex = DeletionTime::LIVE;
        }
        if !complex.is_live() {
            out.complex_deletions.push(ComplexDeletion { column, deletion: complex });
        }
        let shadow = newer(shadowing, complex);
        let path_ty = ty.path_type().unwrap_or(&CqlType::Blob);
        // Cells of every input, merged by path (each input's cells are sorted by path).
        let mut all: Vec<(&Cell, &Unfiltered)> =
            rows.iter().flat_map(|(r, map)| Self::cells_of(r, map, column).map(move |c| (c, *r))).collect();
        all.sort_by(|(a, ra), (b, rb)| {
            compare_values(path_ty, ra.path(a).unwrap_or_default(), rb.path(b).unwrap_or_default())
        });
        let mut i = 0;
        while i < all.len() {
            let mut j = i + 1;
            let path_of = |k: usize| all.get(k).map(|(c, r)| r.path(c).unwrap_or_default());
            while j < all.len() && path_of(j) == path_of(i) {
                j += 1;
            }
            let mut best: Option<(&Cell, &Unfiltered)> = None;
            self.count(0, (j - i) as u64 - 1);
            for &(c, r) in all.get(i..j).unwrap_or_default() {
                best = match best {
                    Some((b, br)) if reconcile_cells((c, r.value(c)), (b, br.value(b))) != Ordering::Greater => {
                        Some((b, br))
                    }
                    _ => Some((c, r)),
                };
            }
            if let Some((c, r)) = best {
                if shadow.is_live() || !shadow.deletes(c.timestamp) {
                    out.push_cell(column, c, r.path(c), r.value(c));
                } else {
                    self.count(1, 0);
                }
            }
            i = j;
        }
    }
}

/// Whether [`RowMerge::merge`] of `row` alone, under no deletion from outside it, gives `row`
/// back unchanged: nothing in the row deletes anything (no row, shadowable or collection
/// deletion), and its cells are already in merge order with nothing to reconcile (columns
/// increasing, a collection's cell paths strictly increasing). `columns` are the row's header
/// columns. Checking costs one pass over the cells; a row that fails it is merged as usual.
fn reconciles_to_itself(row: &Unfiltered, columns: &[HeaderColumn]) -> bool {
    if !row.deletion.is_live() || !row.shadowable_deletion.is_live() || !row.complex_deletions.is_empty() {
        return false;
    }
    let mut previous: Option<&Cell> = None;
    for c in &row.cells {
        if let Some(p) = previous {
            let in_order = match p.column.cmp(&c.column) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => {
                    let Some(path_ty) = columns
                        .get(c.column as usize)
                        .filter(|col| col.is_complex())
                        .and_then(|col| col.ty.path_type())
                    else {
                        return false;
                    };
                    let (Some(a), Some(b)) = (row.path(p), row.path(c)) else { return false };
                    compare_values(path_ty, a, b) == Ordering::Less
                }
            };
            if !in_order {
                return false;
            }
        }
        previous = Some(c);
    }
    true
}

fn marker_rank(kind: BoundKind) -> bool {
    // true = the position sorts before its clustering (inclusive start / exclusive end side).
    matches!(kind, BoundKind::InclStartBound | BoundKind::ExclEndBound | BoundKind::ExclEndInclStartBoundary)
}

impl Merger {
    fn position_cmp(&self, a: &Unfiltered, b: &Unfiltered) -> Ordering {
        compare_positions(&self.header.clustering_types, a, b)
    }
}

pub use crate::data::compare_positions;

impl PartitionStream for Merger {
    fn header(&self) -> &SerializationHeader {
        &self.header
    }

    fn next_partition(&mut self) -> Result<Option<&PartitionHeader>> {
        // Finish the partition in progress (which moves a passed input on too).
        self.passed = None;
        for input in self.inputs.iter_mut().filter(|i| i.in_merge) {
            while input.scanner.next_unfiltered()?.is_some() {}
            input.in_merge = false;
            input.has_peek = false;
            input.open = None;
            Self::advance_partition(input, self.partitioner)?;
        }
        for input in self.inputs.iter_mut().filter(|i| i.current.is_none() && !i.exhausted) {
            Self::advance_partition(input, self.partitioner)?;
        }
        let mut min: Option<(Token, Vec<u8>)> = None;
        for input in &self.inputs {
            if let Some((t, k, _, _)) = &input.current
                && min
                    .as_ref()
                    .is_none_or(|(mt, mk)| crate::partitioner::compare_decorated(t, k, mt, mk) == Ordering::Less)
            {
                min = Some((t.clone(), k.clone()));
            }
        }
        let Some((_, key)) = min else {
            self.in_partition = false;
            return Ok(None);
        };
        let mut deletion = DeletionTime::LIVE;
        let mut position = u64::MAX;
        for input in self.inputs.iter_mut() {
            if input.current.as_ref().is_some_and(|(_, k, _, _)| *k == key) {
                input.in_merge = true;
                if let Some((_, _, d, p)) = &input.current {
                    deletion = newer(deletion, *d);
                    position = position.min(*p);
                }
            }
        }
        self.partition = PartitionHeader { key, deletion, position, body_position: position };
        // Static rows.
        let contributing: Vec<&Input> = self.inputs.iter().filter(|i| i.in_merge && i.static_row.is_some()).collect();
        let rows: Vec<(&Unfiltered, &[u16])> =
            contributing.iter().filter_map(|i| i.static_row.as_ref().map(|r| (r, i.static_map.as_slice()))).collect();
        let paths: Vec<&std::path::Path> = contributing.iter().map(|i| i.scanner.source().path()).collect();
        self.has_static = false;
        if !rows.is_empty() {
            let active = (!deletion.is_live()).then_some(deletion);
            RowMerge { header: &self.header, is_static: true, counts: &self.counts, paths: &paths }.merge(
                &rows,
                active,
                &mut self.static_row,
            )?;
            self.has_static = !self.static_row.is_empty_row();
        }
        for input in self.inputs.iter_mut().filter(|i| i.in_merge) {
            input.current = None;
            input.open = None;
            Self::advance_row(input)?;
        }
        self.active = None;
        self.run = None;
        self.last_lead = None;
        self.in_partition = true;
        Ok(Some(&self.partition))
    }

    fn static_row(&self) -> Option<&Unfiltered> {
        self.has_static.then_some(&self.static_row)
    }

    fn next_unfiltered(&mut self) -> Result<Option<&Unfiltered>> {
        if !self.in_partition {
            return Ok(None);
        }
        if let Some(n) = self.passed.take()
            && let Some(input) = self.inputs.get_mut(n)
        {
            Self::advance_row(input)?;
        }
        loop {
            // The smallest position among the inputs' next items, and every input at it, in one
            // pass: the first input at the smallest position leads the group.
            let mut group = std::mem::take(&mut self.group);
            group.clear();
            if let Some(run) = self.run.take()
                && let Some(input) = self.inputs.get(run.lead)
                && input.in_merge
                && input.has_peek
                && run
                    .next
                    .and_then(|j| self.inputs.get(j))
                    .is_none_or(|other| self.position_cmp(input.peek(), other.peek()) == Ordering::Less)
            {
                group.push(run.lead);
                self.run = Some(run);
            }
            let mut min: Option<&Unfiltered> = group.first().and_then(|&n| self.inputs.get(n)).map(Input::peek);
            if min.is_none() {
                for (n, input) in self.inputs.iter().enumerate().filter(|(_, i)| i.in_merge && i.has_peek) {
                    match min.map(|m| self.position_cmp(input.peek(), m)) {
                        None | Some(Ordering::Less) => {
                            min = Some(input.peek());
                            group.clear();
                            group.push(n);
                        }
                        Some(Ordering::Equal) => group.push(n),
                        Some(Ordering::Greater) => {}
                    }
                }
                match group.as_slice() {
                    [lead] => {
                        if self.last_lead == Some(*lead) {
                            self.run = Some(Run { lead: *lead, next: self.runner_up(*lead) });
                        }
                        self.last_lead = Some(*lead);
                    }
                    _ => self.last_lead = None,
                }
            }
            if min.is_none() {
                self.group = group;
                self.in_partition = false;
                for input in self.inputs.iter_mut().filter(|i| i.in_merge) {
                    input.in_merge = false;
                    Self::advance_partition(input, self.partitioner)?;
                }
                return Ok(None);
            }
            let merged = self.merge_group(&group);
            self.group = group;
            match merged? {
                Merged::Nothing => {}
                Merged::Out => return Ok(Some(&self.out)),
                Merged::Input(n) => return Ok(self.inputs.get(n).map(Input::peek)),
            }
        }
    }
}

impl Merger {
    /// The input other than `lead` whose next item in this partition sorts first, if any has one.
    fn runner_up(&self, lead: usize) -> Option<usize> {
        let mut next: Option<(usize, &Unfiltered)> = None;
        for (n, input) in self.inputs.iter().enumerate().filter(|(n, i)| *n != lead && i.in_merge && i.has_peek) {
            if next.is_none_or(|(_, m)| self.position_cmp(input.peek(), m) == Ordering::Less) {
                next = Some((n, input.peek()));
            }
        }
        next.map(|(n, _)| n)
    }

    /// Merge the inputs of `group` (all at the smallest position, the first of them the one
    /// whose item is the smallest) into `self.out`, advancing them: whether `self.out` holds
    /// something to return.
    fn merge_group(&mut self, group: &[usize]) -> Result<Merged> {
        let Some(min) = group.first().and_then(|&n| self.inputs.get(n)).map(Input::peek) else {
            return Ok(Merged::Nothing);
        };
        let min_kind = min.kind();
        let position = min.position;
        let partition_deletion = self.merged_deletion();
        if let UnfilteredKind::Marker(kind) = min_kind {
            let before = marker_rank(kind);
            let prefix: Vec<Option<Vec<u8>>> =
                (0..min.clustering.len()).map(|i| min.clustering_value(i).map(<[u8]>::to_vec)).collect();
            for (_, input) in self.inputs.iter_mut().enumerate().filter(|(n, _)| group.contains(n)) {
                if let UnfilteredKind::Marker(k) = input.peek().kind() {
                    if k.is_close() {
                        input.open = None;
                    }
                    if k.is_open() {
                        input.open = Some(input.peek().deletion);
                    }
                }
                Self::advance_row(input)?;
            }
            let mut now: Option<DeletionTime> = None;
            for input in self.inputs.iter().filter(|i| i.in_merge) {
                if let Some(d) = input.open {
                    now = Some(now.map_or(d, |n| newer(n, d)));
                }
            }
            let now = now.filter(|d| d.supersedes(&partition_deletion));
            if now == self.active {
                return Ok(Merged::Nothing);
            }
            let kind = BoundKind::transition(self.active.is_some(), now.is_some(), before);
            self.out.start(UnfilteredKind::Marker(kind), position);
            for v in &prefix {
                self.out.push_clustering(v.as_deref());
            }
            self.out.close_deletion = self.active.unwrap_or(DeletionTime::LIVE);
            self.out.deletion = now.unwrap_or(DeletionTime::LIVE);
            self.active = now;
            return Ok(Merged::Out);
        }
        // Rows at the same clustering: reconcile.
        let active = match (self.active, partition_deletion.is_live()) {
            (Some(a), _) => Some(newer(a, partition_deletion)),
            (None, false) => Some(partition_deletion),
            (None, true) => None,
        };
        let merge = RowMerge { header: &self.header, is_static: false, counts: &self.counts, paths: &[] };
        match group {
            // One input at this position (always so when upgrading one SSTable): no lists.
            [n] => {
                if let Some(input) = self.inputs.get(*n) {
                    let row = input.peek();
                    if active.is_none()
                        && !row.is_empty_row()
                        && input.regular_identity
                        && reconciles_to_itself(row, &self.header.regular_columns)
                    {
                        // `RowMerge::merge` of this row alone would build the same row (the
                        // same cells, times and values), so it is returned as it is, and its
                        // input moves on at the next call.
                        self.passed = Some(*n);
                        return Ok(Merged::Input(*n));
                    } else {
                        let paths = [input.scanner.source().path()];
                        RowMerge { paths: &paths, ..merge }.merge(
                            &[(row, input.regular_map.as_slice())],
                            active,
                            &mut self.out,
                        )?;
                    }
                }
            }
            _ => {
                let contributing: Vec<&Input> =
                    self.inputs.iter().enumerate().filter(|(n, _)| group.contains(n)).map(|(_, i)| i).collect();
                let rows: Vec<(&Unfiltered, &[u16])> =
                    contributing.iter().map(|i| (i.peek(), i.regular_map.as_slice())).collect();
                let paths: Vec<&std::path::Path> = contributing.iter().map(|i| i.scanner.source().path()).collect();
                RowMerge { paths: &paths, ..merge }.merge(&rows, active, &mut self.out)?;
            }
        }
        for (_, input) in self.inputs.iter_mut().enumerate().filter(|(n, _)| group.contains(n)) {
            Self::advance_row(input)?;
        }
        Ok(if self.out.is_empty_row() { Merged::Nothing } else { Merged::Out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<HeaderColumn> {
        let column = |name: &str, ty: CqlType| HeaderColumn { name: name.into(), type_string: String::new(), ty };
        vec![column("a", CqlType::Int), column("s", CqlType::Set { elem: Box::new(CqlType::Int), frozen: false })]
    }

    /// A row with `a` and a set cell per element of `set` (in the order given).
    fn row(set: &[i32]) -> Unfiltered {
        let mut u = Unfiltered::default();
        u.start(UnfilteredKind::Row, 0);
        u.liveness = LivenessInfo { timestamp: 5, ttl: 0, local_expiration_time: NO_DELETION_TIME };
        let cell = Cell::live_for_tests(5);
        u.push_cell(0, &cell, None, &1i32.to_be_bytes());
        for e in set {
            u.push_cell(1, &cell, Some(&e.to_be_bytes()), &[]);
        }
        u
    }

    #[test]
    fn only_rows_with_nothing_to_reconcile_pass_through() {
        let cols = columns();
        assert!(reconciles_to_itself(&row(&[1, 2, 3]), &cols));
        // Set elements out of order, or twice: the merge sorts and reconciles them.
        assert!(!reconciles_to_itself(&row(&[2, 1]), &cols));
        assert!(!reconciles_to_itself(&row(&[1, 1]), &cols));
        // Anything that deletes: the merge shadows with it.
        let mut deleted = row(&[1]);
        deleted.deletion = DeletionTime { marked_for_delete_at: 6, local_deletion_time: 10 };
        assert!(!reconciles_to_itself(&deleted, &cols));
        let mut shadowable = row(&[1]);
        shadowable.shadowable_deletion = DeletionTime { marked_for_delete_at: 4, local_deletion_time: 10 };
        assert!(!reconciles_to_itself(&shadowable, &cols));
        let mut collection = row(&[1]);
        collection.complex_deletions.push(ComplexDeletion {
            column: 1,
            deletion: DeletionTime { marked_for_delete_at: 4, local_deletion_time: 10 },
        });
        assert!(!reconciles_to_itself(&collection, &cols));
        // Two cells of a simple column.
        let mut twice = row(&[]);
        let c = twice.cells[0];
        twice.push_cell(0, &c, None, &2i32.to_be_bytes());
        assert!(!reconciles_to_itself(&twice, &cols));
    }
}
