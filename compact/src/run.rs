//! `cairn compact run`: merge SSTables of one table into one new SSTable, purging what
//! Cassandra's compaction would purge.
//!
//! The inputs are reconciled by [`cairn_format::reconcile::Merger`] (newest data wins, data
//! shadowed by a deletion disappears). Then every tombstone is judged as Cassandra's
//! `CompactionController`/`PurgeFunction` judge it: it is purged when its local deletion time is
//! before `gc_before = now - gc_grace_seconds` **and** its timestamp is below the smallest
//! minimum timestamp of the SSTables *outside* the compaction whose bloom filter admits the
//! partition key — otherwise older data it shadows could come back. Expired TTL cells are
//! purged the same way (their expiry as deletion time); one that must stay becomes a tombstone
//! with deletion time `expiry - ttl`, as Cassandra converts it (`AbstractCell.purge`), and is
//! judged again. Expired row markers follow the same rule. A range tombstone boundary whose one
//! side is purged becomes a bound of the other side. Partitions and rows left empty vanish.
//!
//! The inputs are never modified; the output appears atomically (the writer's guarantee).

use std::path::Path;

use cairn_format::clustering::BoundKind;
use cairn_format::data::{Cell, PartitionStream, Unfiltered, UnfilteredKind};
use cairn_format::deletion::{DeletionTime, LivenessInfo};
use cairn_format::filter::BloomFilter;
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_format::writer::{CompressionParams, SsTableWriter, WriterOptions, next_generation};
use cairn_format::{Component, Descriptor, Version};

use crate::upgrade::{UpgradeError, target_dir};

/// Settings of a compaction.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output version.
    pub to: Version,
    /// Output compression: `None` keeps the first input's, `Some(None)` writes uncompressed.
    pub compression: Option<Option<cairn_format::compression::Compressor>>,
    /// gc_grace_seconds (default: the table's from the schema, else 864000).
    pub gc_grace_seconds: Option<i64>,
    /// The time of the compaction (s).
    pub now_s: i64,
    /// Purge tombstones only when every input is repaired (`only_purge_repaired_tombstones`).
    pub only_purge_repaired: bool,
    /// LCS level recorded in the outputs' Statistics.db (0 outside LCS).
    pub level: i32,
    /// Start a new output SSTable once Data.db reaches this many bytes on disk (LCS's
    /// `sstable_size_in_mb`, `compact split --size`); `None`: one output.
    pub max_output_bytes: Option<u64>,
    /// Also start a new output at each of these tokens (ascending): one output per token range.
    pub split_tokens: Vec<cairn_format::partitioner::Token>,
    /// Purge nothing (`sstablesplit`): tombstones stay whatever their age; expired cells still
    /// become tombstones, as in every Cassandra compaction.
    pub no_purge: bool,
    /// Decide everything, write nothing (`--dry-run`).
    pub dry_run: bool,
    /// Also drop what other SSTables of the table make dead (`compact gc`).
    pub garbage: Option<crate::gc::Granularity>,
}

impl RunOptions {
    /// Compact at `now_s` into `to`, keeping the inputs' compression, gc_grace from the schema.
    pub fn new(to: Version, now_s: i64) -> RunOptions {
        RunOptions {
            to,
            compression: None,
            gc_grace_seconds: None,
            now_s,
            only_purge_repaired: false,
            level: 0,
            max_output_bytes: None,
            split_tokens: Vec::new(),
            no_purge: false,
            dry_run: false,
            garbage: None,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// The SSTables written, in token order (none when nothing survived).
    pub outputs: Vec<Descriptor>,
    /// Partitions read (after merging) and written.
    pub partitions_in: u64,
    /// Partitions written.
    pub partitions_out: u64,
    /// Tombstones (of any kind, expired TTLs included) purged.
    pub purged: u64,
    /// Tombstones past gc_grace kept because an SSTable outside the compaction may hold older
    /// data for their partition.
    pub kept_for_overlap: u64,
}

/// Why one partition changed in a compaction (`--explain`): what reconciliation dropped, what
/// the purge rules dropped, and why the tombstones that stay, stay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The partition key (serialized).
    pub key: Vec<u8>,
    /// Cells and row markers dropped because a newer deletion covers them.
    pub shadowed: u64,
    /// Older versions of cells dropped because a newer write of the same cell exists.
    pub superseded: u64,
    /// Expired TTL cells and markers kept as tombstones (not yet purgeable).
    pub expired_kept: u64,
    /// Tombstones (expired cells included) purged: past gc_grace, and no SSTable outside the
    /// compaction may hold older data for the key.
    pub purged: u64,
    /// Tombstones kept because they are younger than gc_grace.
    pub kept_young: u64,
    /// When the first of those becomes purgeable (s): its deletion time plus gc_grace.
    pub droppable_after: Option<i64>,
    /// Tombstones past gc_grace kept because an SSTable outside the compaction may hold older
    /// data they shadow.
    pub kept_overlap: u64,
    /// Those SSTables (Data.db file names): their bloom filter admits the key and their oldest
    /// write is at or before the newest tombstone kept for them.
    pub blockers: Vec<String>,
    /// Cells, markers and deletions `compact gc` dropped because other SSTables make them dead.
    pub collected: u64,
    /// Nothing of the partition is written.
    pub removed: bool,
}

/// An SSTable of the table that is not being compacted.
struct Outside {
    name: String,
    filter: Option<BloomFilter>,
    min_timestamp: i64,
}

/// One partition's purge decisions.
#[derive(Default)]
struct Tally {
    purged: u64,
    young: u64,
    young_min_ldt: Option<i64>,
    overlap: u64,
    overlap_max_ts: Option<i64>,
    expired_kept: u64,
}

struct Purger {
    gc_before: i64,
    gc_grace: i64,
    now: i64,
    /// Timestamps below this may be purged in the current partition.
    max_purgeable: i64,
    purged: u64,
    kept_for_overlap: u64,
    tally: Tally,
}

/// What compaction does with one tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Not yet past gc_grace.
    Young,
    /// Past gc_grace, but an SSTable outside the compaction may hold older data.
    Overlap,
    /// Purged.
    Purge,
}

impl Purger {
    fn fate(&self, ts: i64, ldt: i64) -> Fate {
        if ldt >= self.gc_before {
            Fate::Young
        } else if ts < self.max_purgeable {
            Fate::Purge
        } else {
            Fate::Overlap
        }
    }

    /// Count a final decision on a tombstone written at `ts`, deleting from `ldt`; true when
    /// it goes.
    fn decide(&mut self, fate: Fate, ts: i64, ldt: i64) -> bool {
        let t = &mut self.tally;
        match fate {
            Fate::Purge => {
                self.purged += 1;
                t.purged += 1;
            }
            Fate::Overlap => {
                self.kept_for_overlap += 1;
                t.overlap += 1;
                t.overlap_max_ts = Some(t.overlap_max_ts.map_or(ts, |m| m.max(ts)));
            }
            Fate::Young => {
                t.young += 1;
                t.young_min_ldt = Some(t.young_min_ldt.map_or(ldt, |m| m.min(ldt)));
            }
        }
        fate == Fate::Purge
    }

    /// Whether a tombstone written at `ts`, deleting from `ldt`, goes.
    fn should_purge(&mut self, ts: i64, ldt: i64) -> bool {
        let fate = self.fate(ts, ldt);
        self.decide(fate, ts, ldt)
    }

    fn deletion(&mut self, d: DeletionTime) -> DeletionTime {
        if !d.is_live() && self.should_purge(d.marked_for_delete_at, d.local_deletion_time) {
            DeletionTime::LIVE
        } else {
            d
        }
    }

    /// The cell as compaction leaves it, or `None` when purged.
    fn cell(&mut self, c: &Cell) -> Option<Cell> {
        if c.is_live(self.now) {
            return Some(*c);
        }
        if c.is_tombstone() {
            return if self.should_purge(c.timestamp, c.local_deletion_time) { None } else { Some(*c) };
        }
        // An expired cell goes when its expiry is purgeable; one that must stay becomes a
        // tombstone dated from its write, which may be purgeable in turn.
        let ldt = c.local_deletion_time - i64::from(c.ttl);
        let (fate, judged) = match self.fate(c.timestamp, c.local_deletion_time) {
            Fate::Purge => (Fate::Purge, c.local_deletion_time),
            _ => (self.fate(c.timestamp, ldt), ldt),
        };
        if self.decide(fate, c.timestamp, judged) {
            return None;
        }
        self.tally.expired_kept += 1;
        Some(Cell {
            flags: (c.flags | cairn_format::data::CELL_IS_DELETED) & !cairn_format::data::CELL_IS_EXPIRING,
            ttl: 0,
            local_deletion_time: ldt,
            ..*c
        })
    }

    /// `u` purged into `out`; false when nothing of it remains.
    fn unfiltered(&mut self, u: &Unfiltered, out: &mut Unfiltered) -> bool {
        if let UnfilteredKind::Marker(kind) = u.kind() {
            let close = if kind.is_close() { self.deletion(u.close_deletion) } else { DeletionTime::LIVE };
            let open = if kind.is_open() { self.deletion(u.deletion) } else { DeletionTime::LIVE };
            let kind = match (kind, close.is_live(), open.is_live()) {
                (_, true, true) => return false,
                (BoundKind::ExclEndInclStartBoundary, true, false) => BoundKind::InclStartBound,
                (BoundKind::ExclEndInclStartBoundary, false, true) => BoundKind::ExclEndBound,
                (BoundKind::InclEndExclStartBoundary, true, false) => BoundKind::ExclStartBound,
                (BoundKind::InclEndExclStartBoundary, false, true) => BoundKind::InclEndBound,
                (k, _, _) => k,
            };
            out.start(UnfilteredKind::Marker(kind), u.position);
            for i in 0..u.clustering.len() {
                out.push_clustering(u.clustering_value(i));
            }
            out.close_deletion = close;
            out.deletion = open;
            return true;
        }
        out.start(u.kind(), u.position);
        for i in 0..u.clustering.len() {
            out.push_clustering(u.clustering_value(i));
        }
        out.deletion = self.deletion(u.deletion);
        out.shadowable_deletion = self.deletion(u.shadowable_deletion);
        let l = u.liveness;
        let expired = l.is_expiring() && l.local_expiration_time <= self.now;
        out.liveness = if !expired {
            l
        } else if self.should_purge(l.timestamp, l.local_expiration_time) {
            LivenessInfo::EMPTY
        } else {
            self.tally.expired_kept += 1;
            l
        };
        for d in &u.complex_deletions {
            let kept = self.deletion(d.deletion);
            if !kept.is_live() {
                out.complex_deletions.push(cairn_format::data::ComplexDeletion { column: d.column, deletion: kept });
            }
        }
        for c in &u.cells {
            if let Some(kept) = self.cell(c) {
                let value = if kept.is_tombstone() { &[][..] } else { u.value(c) };
                out.push_cell(kept.column, &kept, u.path(c), value);
            }
        }
        !(out.liveness.is_empty()
            && out.deletion.is_live()
            && out.shadowable_deletion.is_live()
            && out.complex_deletions.is_empty()
            && out.cells.is_empty())
    }
}

/// Compact `tables` (SSTables of one table) into new SSTables under `out` (laid out as
/// `upgrade` lays it out). SSTables of the same table directories that are not among `tables`
/// are consulted, never read in full, to decide what may be purged.
pub fn run(tables: &[SsTable], opts: &RunOptions, out: &Path) -> Result<RunReport, UpgradeError> {
    let Some(first) = tables.first() else { return Ok(RunReport::default()) };
    run_into(tables, opts, &target_dir(&first.descriptor, out))
}

/// [`run`], writing into exactly `out_dir` (which may be the table directory itself: the
/// outputs take new generations and the inputs stay until the caller removes them).
pub fn run_into(tables: &[SsTable], opts: &RunOptions, out_dir: &Path) -> Result<RunReport, UpgradeError> {
    run_explained(tables, opts, out_dir, &mut |_| {})
}

/// [`run_into`], calling `explain` for every partition the compaction changes (in token order).
pub fn run_explained(
    tables: &[SsTable],
    opts: &RunOptions,
    out_dir: &Path,
    explain: &mut dyn FnMut(&Explanation),
) -> Result<RunReport, UpgradeError> {
    let Some(first) = tables.first() else { return Ok(RunReport::default()) };
    let dir = first.descriptor.directory.as_path();
    if let Some(t) = tables.iter().find(|t| t.descriptor.directory != dir) {
        return Err(UpgradeError::NotOneTable {
            first: dir.display().to_string(),
            other: t.descriptor.directory.display().to_string(),
        });
    }
    let mut others = Vec::new();
    for d in cairn_format::descriptor::discover(dir)? {
        if !tables.iter().any(|t| t.descriptor == d) {
            others.push(SsTable::open_with(d, &Default::default())?);
        }
    }
    run_with(tables, &others, opts, out_dir, explain)
}

/// [`run_explained`] with the rest of the table given: `others` are the SSTables outside the
/// compaction (consulted for purging and, with `garbage`, for what they make dead).
pub fn run_with(
    tables: &[SsTable],
    others: &[SsTable],
    opts: &RunOptions,
    out_dir: &Path,
    explain: &mut dyn FnMut(&Explanation),
) -> Result<RunReport, UpgradeError> {
    let Some(first) = tables.first() else { return Ok(RunReport::default()) };
    let mut outside = Vec::new();
    let mut shadow_sources = Vec::new();
    let min_ts = tables.iter().filter_map(|t| t.statistics.stats.as_ref().map(|s| s.min_timestamp)).min();
    for t in others {
        let filter = t.filter()?;
        let stats = t.statistics.stats.as_ref();
        // Only an SSTable with writes newer than the oldest being compacted can shadow them.
        if opts.garbage.is_some() && stats.is_none_or(|s| min_ts.is_none_or(|m| s.max_timestamp > m)) {
            shadow_sources.push(crate::gc::ShadowSource { table: t.clone(), filter: filter.clone() });
        }
        outside.push(Outside {
            name: crate::gc::data_name(&t.descriptor),
            filter,
            min_timestamp: stats.map_or(i64::MIN, |s| s.min_timestamp),
        });
    }
    let gc =
        opts.gc_grace_seconds.or_else(|| first.schema.gc_grace_seconds()).unwrap_or(crate::DEFAULT_GC_GRACE_SECONDS);
    let repaired: Vec<i64> = tables.iter().map(|t| t.statistics.stats.as_ref().map_or(0, |s| s.repaired_at)).collect();
    // CompactionController.compactingRepaired: with only_purge_repaired_tombstones, nothing is
    // purged unless every input is repaired.
    let may_purge = !opts.no_purge && (!opts.only_purge_repaired || repaired.iter().all(|&r| r != 0));
    let gc_before = if opts.no_purge { i64::MIN } else { opts.now_s - gc };
    let mut purger = Purger {
        gc_before,
        gc_grace: gc,
        now: opts.now_s,
        max_purgeable: i64::MAX,
        purged: 0,
        kept_for_overlap: 0,
        tally: Tally::default(),
    };
    let scanners = tables.iter().map(SsTable::scanner).collect::<Result<Vec<_>, _>>()?;
    let mut merger = Merger::new(scanners, first.partitioner)?;
    let header = PartitionStream::header(&merger).clone();
    let compression = match &opts.compression {
        Some(Some(c)) => Some(CompressionParams::new(*c)),
        Some(None) => None,
        None => first.compression.as_ref().and_then(|c| c.compressor).map(CompressionParams::new),
    };
    // A bloom-filter sizing hint: an SSTable without an estimator counts as 128 keys; one whose
    // estimator does not decode is an error.
    let expected: u64 =
        tables.iter().map(|t| t.estimated_cardinality().map(|e| e.unwrap_or(128))).sum::<Result<u64, _>>()?;
    let options = WriterOptions {
        version: opts.to,
        compression,
        bloom_fp_chance: first.statistics.validation.as_ref().map_or(0.01, |v| v.bloom_filter_fp_chance),
        expected_partitions: expected.max(1),
        partitioner: first.partitioner,
        // Repaired only when every input was repaired at the same time (Cassandra keeps the
        // minimum; mixing repaired and unrepaired data is never repaired).
        repaired_at: if repaired.windows(2).all(|w| w.first() == w.last()) {
            repaired.first().copied().unwrap_or(0)
        } else {
            0
        },
        sstable_level: opts.level,
        ..WriterOptions::default()
    };
    let mut outputs = Outputs { dir: out_dir, header, options, writer: None, done: Vec::new(), dry: opts.dry_run };
    let garbage = opts.garbage.filter(|_| may_purge).map(|g| (g, shadow_sources.as_slice()));
    let result = compact_partitions(
        &mut merger,
        first.partitioner,
        &mut purger,
        &outside,
        may_purge,
        opts,
        &mut outputs,
        garbage,
        explain,
    );
    let report = match result {
        Ok(mut report) => {
            if let Some(w) = outputs.writer.take() {
                match w.finish() {
                    Ok(d) => outputs.done.push(d),
                    Err(e) => {
                        outputs.discard();
                        return Err(e.into());
                    }
                }
            }
            report.purged = purger.purged;
            report.kept_for_overlap = purger.kept_for_overlap;
            report.outputs = std::mem::take(&mut outputs.done);
            report
        }
        Err(e) => {
            // No half-compaction: SSTables already finished go too.
            outputs.discard();
            return Err(e);
        }
    };
    let schema = first.descriptor.directory.join("schema.cql");
    if !report.outputs.is_empty() && schema.is_file() && !out_dir.join("schema.cql").exists() {
        let _ = std::fs::copy(&schema, out_dir.join("schema.cql"));
    }
    Ok(report)
}

/// The output SSTables of a compaction: one open writer, the finished ones. A dry run writes
/// nothing.
struct Outputs<'a> {
    dir: &'a Path,
    header: cairn_format::statistics::SerializationHeader,
    options: WriterOptions,
    writer: Option<SsTableWriter>,
    done: Vec<Descriptor>,
    dry: bool,
}

impl Outputs<'_> {
    fn begin(&mut self, key: &[u8], deletion: DeletionTime) -> Result<(), UpgradeError> {
        if !self.dry {
            self.writer()?.begin_partition(key, deletion)?;
        }
        Ok(())
    }

    fn static_row(&mut self, u: &Unfiltered) -> Result<(), UpgradeError> {
        if !self.dry {
            self.writer()?.write_static_row(u)?;
        }
        Ok(())
    }

    fn row(&mut self, u: &Unfiltered) -> Result<(), UpgradeError> {
        if !self.dry {
            self.writer()?.write(u)?;
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), UpgradeError> {
        if !self.dry {
            self.writer()?.end_partition()?;
        }
        Ok(())
    }

    fn writer(&mut self) -> Result<&mut SsTableWriter, UpgradeError> {
        let w = match self.writer.take() {
            Some(w) => w,
            None => {
                SsTableWriter::create(self.dir, next_generation(self.dir)?, self.header.clone(), self.options.clone())?
            }
        };
        Ok(self.writer.insert(w))
    }

    /// Close the current output once it holds `max` bytes.
    fn roll(&mut self, max: Option<u64>) -> Result<(), UpgradeError> {
        if let (Some(max), Some(w)) = (max, self.writer.as_ref())
            && w.data_file_position() >= max
            && let Some(w) = self.writer.take()
        {
            self.done.push(w.finish()?);
        }
        Ok(())
    }

    /// Remove everything written (dropping the open writer removes its temporary files).
    fn discard(&mut self) {
        self.writer = None;
        for d in self.done.drain(..) {
            for c in Component::BIG {
                let _ = std::fs::remove_file(d.path(c));
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn compact_partitions(
    merger: &mut Merger,
    partitioner: cairn_format::partitioner::Partitioner,
    purger: &mut Purger,
    outside: &[Outside],
    may_purge: bool,
    opts: &RunOptions,
    out: &mut Outputs<'_>,
    garbage: Option<(crate::gc::Granularity, &[crate::gc::ShadowSource])>,
    explain: &mut dyn FnMut(&Explanation),
) -> Result<RunReport, UpgradeError> {
    let mut report = RunReport::default();
    let mut purged_row = Unfiltered::default();
    let mut collected_row = Unfiltered::default();
    let header = PartitionStream::header(merger).clone();
    let mut boundaries = opts.split_tokens.iter().peekable();
    while let Some(p) = merger.next_partition()?.cloned() {
        report.partitions_in += 1;
        let counts_before = merger.counts();
        purger.tally = Tally::default();
        if boundaries.peek().is_some() {
            let token = partitioner.token(&p.key);
            let mut crossed = false;
            while boundaries.peek().is_some_and(|b| **b <= token) {
                boundaries.next();
                crossed = true;
            }
            if crossed {
                out.roll(Some(0))?;
            }
        }
        let admitting: Vec<&Outside> =
            outside.iter().filter(|o| o.filter.as_ref().is_none_or(|f| f.may_contain(&p.key))).collect();
        purger.max_purgeable =
            if may_purge { admitting.iter().map(|o| o.min_timestamp).min().unwrap_or(i64::MAX) } else { i64::MIN };
        let mut shadow = match garbage {
            Some((_, sources)) => crate::gc::Shadow::load(sources, &p.key, partitioner)?,
            None => None,
        };
        let partition_deletion = match &mut shadow {
            Some(s) => s.partition_deletion(p.deletion),
            None => p.deletion,
        };
        // What other SSTables make dead goes first (compact gc), then what compaction purges.
        // Without gc, rows go to the purger as read (no copy).
        let mut collect = |u: &Unfiltered, into: &mut Unfiltered| -> Option<bool> {
            match (&mut shadow, garbage) {
                (Some(s), Some((g, _))) => Some(s.filter(u, &header, g, into)),
                _ => None,
            }
        };
        let deletion = purger.deletion(partition_deletion);
        let mut begun = !deletion.is_live();
        if begun {
            out.begin(&p.key, deletion)?;
        }
        if let Some(st) = merger.static_row()
            && let Some(st) = match collect(st, &mut collected_row) {
                None => Some(st),
                Some(true) => Some(&collected_row),
                Some(false) => None,
            }
            && purger.unfiltered(st, &mut purged_row)
        {
            if !begun {
                out.begin(&p.key, deletion)?;
                begun = true;
            }
            out.static_row(&purged_row)?;
        }
        while let Some(u) = merger.next_unfiltered()? {
            let u = match collect(u, &mut collected_row) {
                None => u,
                Some(true) => &collected_row,
                Some(false) => continue,
            };
            if !purger.unfiltered(u, &mut purged_row) {
                continue;
            }
            if !begun {
                out.begin(&p.key, deletion)?;
                begun = true;
            }
            out.row(&purged_row)?;
        }
        if begun {
            out.end()?;
            report.partitions_out += 1;
            out.roll(opts.max_output_bytes)?;
        }
        let counts = merger.counts();
        let t = &purger.tally;
        let e = Explanation {
            key: Vec::new(),
            shadowed: counts.shadowed - counts_before.shadowed,
            superseded: counts.superseded - counts_before.superseded,
            expired_kept: t.expired_kept,
            purged: t.purged,
            kept_young: t.young,
            droppable_after: t.young_min_ldt.map(|l| l.saturating_add(purger.gc_grace)),
            kept_overlap: t.overlap,
            blockers: t
                .overlap_max_ts
                .map(|ts| admitting.iter().filter(|o| o.min_timestamp <= ts).map(|o| o.name.clone()).collect())
                .unwrap_or_default(),
            collected: shadow.as_ref().map_or(0, |s| s.collected),
            removed: !begun,
        };
        if e.shadowed + e.superseded + e.expired_kept + e.purged + e.kept_young + e.kept_overlap + e.collected > 0
            || e.removed
        {
            explain(&Explanation { key: p.key.clone(), ..e });
        }
    }
    Ok(report)
}
