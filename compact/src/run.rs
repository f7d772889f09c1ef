//! `cairn compact run`: merge SSTables of one table into one new SSTable, purging what
//! Cassandra's compaction would purge.
//!
//! The inputs are reconciled by [`cairn_format::reconcile::Merger`] (newest data wins, data
//! shadowed by a deletion disappears). Then every tombstone is judged by [`crate::purge`], the one
//! place that decides what compaction may drop: past gc_grace and no SSTable outside the
//! compaction may hold older data for the key; an expired TTL cell that cannot go at its expiry
//! is re-dated to its write and judged again. A range tombstone boundary whose one side is purged
//! becomes a bound of the other side. Partitions and rows left empty vanish.
//!
//! The inputs are never modified; the output appears atomically (the writer's guarantee).

use std::path::Path;

use cairn_format::data::{PartitionStream, Unfiltered};
use cairn_format::deletion::DeletionTime;
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_format::writer::{CompressionParams, SsTableWriter, WriterOptions, next_generation};
use cairn_format::{Component, Descriptor, Version};

use cairn_format::txn::Transaction;

use crate::files::{TargetError, target_dir};
use crate::purge::{Judged, Overlaps, PurgeClock, Purger, TombstoneKind};
use crate::repair_state::RepairState;

pub use crate::files::check_no_unfinished;

/// Why a compaction failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Reading an input or writing an output failed (the error says which file, and where).
    #[error(transparent)]
    Format(#[from] cairn_format::Error),
    /// The inputs or the output directory are refused.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A bloom filter a purge relied on rejects keys its own Index.db holds.
    #[error(transparent)]
    DamagedFilter(#[from] crate::purge::DamagedFilter),
}

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
    pub garbage: Option<crate::shadow::Granularity>,
    /// Record every tombstone judged in [`Explanation::judged`] (`cairn tombstones`).
    pub judgements: bool,
    /// Cleanup (`nodetool cleanup`): keep only the partitions whose Murmur3 token lies in one of
    /// these `(start, end]` ranges (`start >= end` wraps through the ends of the token space);
    /// `None`: keep every partition.
    pub keep_ranges: Option<Vec<(i64, i64)>>,
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
            judgements: false,
            keep_ranges: None,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// The SSTables written, in token order (none when nothing survived); with inputs of
    /// several repair groups, each group's in turn.
    pub outputs: Vec<Descriptor>,
    /// Partitions read (after merging) and written.
    pub partitions_in: u64,
    /// Partitions written.
    pub partitions_out: u64,
    /// Tombstones (of any kind, expired TTLs included) purged.
    pub purged: u64,
    /// Tombstones past gc_grace kept because an SSTable outside the compaction may hold older
    /// data for their partition, or (when `unrepaired`) because an input is not repaired.
    pub kept_for_overlap: u64,
    /// Of `kept_for_overlap`, those kept because only repaired data may be purged
    /// (`--only-purge-repaired`) and their inputs are not all repaired ([`PurgeClock::unrepaired`]),
    /// not for an overlapping SSTable.
    pub kept_unrepaired: u64,
    /// Tombstones kept because they are younger than gc_grace.
    pub kept_young: u64,
    /// Partitions dropped because no range of [`RunOptions::keep_ranges`] holds them.
    pub cleaned: u64,
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
    /// `kept_overlap` counts tombstones kept because only repaired data may be purged and an
    /// input is not repaired (no SSTable blocks them: `blockers` is empty).
    pub unrepaired: bool,
    /// Cells, markers and deletions `compact gc` dropped because other SSTables make them dead.
    pub collected: u64,
    /// Nothing of the partition is written.
    pub removed: bool,
    /// Its offset in Data.db (the smallest among the inputs holding it).
    pub position: u64,
    /// Rows (not range markers) of the partition after reconciliation.
    pub rows: u64,
    /// Every tombstone judged, in stream order (only with [`RunOptions::judgements`]).
    pub judged: Vec<Judged>,
}

/// Compact `tables` (SSTables of one table) into new SSTables under `out` (laid out by
/// [`target_dir`]; refused when that is an input's own directory). A verb that writes one
/// compaction's output into a fresh directory (`compact run --out`, an executed plan) checks
/// first with [`check_out_dir`]; split and gc write several into one and do not. SSTables of the same
/// table directories that are not among `tables` are consulted, never read in full, to decide
/// what may be purged.
pub fn run(tables: &[SsTable], opts: &RunOptions, out: &Path) -> Result<RunReport, RunError> {
    let Some(first) = tables.first() else { return Ok(RunReport::default()) };
    let target = target_dir(&first.descriptor, out);
    if !opts.dry_run {
        crate::files::refuse_beside_inputs(tables, &target, out)?;
    }
    run_into(tables, opts, &target)
}

/// Refuse to compact `tables` out of place into `target` (where [`target_dir`] lays the output
/// out under `out`) when that is an input's own directory
/// ([`crate::files::refuse_beside_inputs`]) or already holds SSTables
/// ([`crate::files::refuse_existing_sstables`]: a rerun into the same `--out` would add a second
/// copy of the data). Nothing is written when refused.
pub fn check_out_dir(tables: &[SsTable], target: &Path, out: &Path) -> Result<(), RunError> {
    crate::files::refuse_beside_inputs(tables, target, out)?;
    crate::files::refuse_existing_sstables::<RunError>(target)
}

/// [`run`], writing into exactly `out_dir` (which may be the table directory itself: the
/// outputs take new generations and the inputs stay until the caller removes them).
pub fn run_into(tables: &[SsTable], opts: &RunOptions, out_dir: &Path) -> Result<RunReport, RunError> {
    run_explained(tables, opts, out_dir, &mut |_| {})
}

/// [`run_into`], calling `explain` for every partition the compaction changes (in token order).
pub fn run_explained(
    tables: &[SsTable],
    opts: &RunOptions,
    out_dir: &Path,
    explain: &mut dyn FnMut(&Explanation),
) -> Result<RunReport, RunError> {
    let Some(first) = tables.first() else { return Ok(RunReport::default()) };
    let dir = first.descriptor.directory.as_path();
    crate::files::same_directory(tables.iter().map(|t| t.descriptor.directory.as_path()))?;
    let mut others = Vec::new();
    for d in cairn_format::descriptor::discover(dir)? {
        if !tables.iter().any(|t| t.descriptor == d) {
            others.push(SsTable::open_with(d, &Default::default())?);
        }
    }
    run_by_repair_group(tables, &others, opts, out_dir, None, explain)
}

/// Compact `tables` in their own table directory as one lifecycle transaction
/// ([`cairn_format::txn`]): the outputs are recorded before they are written, the inputs (and
/// `also_remove`, e.g. fully expired SSTables dropped whole) are recorded as removed, then the
/// commit makes the outputs replace them. Killed at any point, `cairn compact cleanup` (or
/// Cassandra's start) leaves exactly the inputs or exactly the outputs. `operation` names the
/// log (`txn::operation`).
pub fn run_in_place(
    tables: &[SsTable],
    also_remove: &[Descriptor],
    opts: &RunOptions,
    operation: &str,
    explain: &mut dyn FnMut(&Explanation),
) -> Result<RunReport, RunError> {
    let Some(dir) =
        tables.first().map(|t| &t.descriptor.directory).or_else(|| also_remove.first().map(|d| &d.directory))
    else {
        return Ok(RunReport::default());
    };
    let dir = dir.clone();
    crate::files::same_directory(
        std::iter::once(dir.as_path())
            .chain(tables.iter().map(|t| t.descriptor.directory.as_path()))
            .chain(also_remove.iter().map(|d| d.directory.as_path())),
    )?;
    if opts.dry_run {
        return run_explained(tables, opts, &dir, explain);
    }
    check_no_unfinished::<RunError>(&dir)?;
    let mut others = Vec::new();
    for d in cairn_format::descriptor::discover(&dir)? {
        if !tables.iter().any(|t| t.descriptor == d) {
            others.push(SsTable::open_with(d, &Default::default())?);
        }
    }
    let mut txn = Transaction::begin(&dir, opts.to, operation)?;
    let report = if tables.is_empty() {
        RunReport::default()
    } else {
        run_by_repair_group(tables, &others, opts, &dir, Some(&mut txn), explain)?
    };
    for d in tables.iter().map(|t| &t.descriptor).chain(also_remove) {
        txn.remove(d)?;
    }
    txn.commit()?;
    Ok(report)
}

/// Compact `tables` as Cassandra's major compaction does: one compaction per repair group
/// (repaired, unrepaired, each pending-repair session; [`RepairState::group`]), in the order
/// of Cassandra's holders, never merging two (each group's output records one repair state).
/// Each sees the other groups' SSTables among `others`. The reports add up; a partition with
/// data in two groups is counted in each.
fn run_by_repair_group(
    tables: &[SsTable],
    others: &[SsTable],
    opts: &RunOptions,
    out_dir: &Path,
    mut txn: Option<&mut Transaction>,
    explain: &mut dyn FnMut(&Explanation),
) -> Result<RunReport, RunError> {
    let mut groups: Vec<(crate::repair_state::Holder, String, Vec<usize>)> = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let state = RepairState::of(t);
        let name = state.group();
        match groups.iter_mut().find(|(_, n, _)| *n == name) {
            Some((.., members)) => members.push(i),
            None => groups.push((state.holder(), name, vec![i])),
        }
    }
    if groups.len() <= 1 {
        return run_with(tables, others, opts, out_dir, txn, explain);
    }
    groups.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut total = RunReport::default();
    for (_, _, members) in &groups {
        let group: Vec<SsTable> = members.iter().filter_map(|&i| tables.get(i).cloned()).collect();
        let mut rest: Vec<SsTable> = others.to_vec();
        rest.extend(tables.iter().enumerate().filter(|(i, _)| !members.contains(i)).map(|(_, t)| t.clone()));
        let r = match run_with(&group, &rest, opts, out_dir, txn.as_deref_mut(), explain) {
            Ok(r) => r,
            Err(e) => {
                // The groups before this one are complete: a failed run leaves none of them.
                for d in &total.outputs {
                    for c in Component::BIG {
                        let _ = std::fs::remove_file(d.path(c));
                    }
                }
                return Err(e);
            }
        };
        total.outputs.extend(r.outputs);
        total.partitions_in += r.partitions_in;
        total.partitions_out += r.partitions_out;
        total.purged += r.purged;
        total.kept_for_overlap += r.kept_for_overlap;
        total.kept_unrepaired += r.kept_unrepaired;
        total.kept_young += r.kept_young;
        total.cleaned += r.cleaned;
    }
    Ok(total)
}

/// [`run_explained`] with the rest of the table given: `others` are the SSTables outside the
/// compaction (consulted for purging and, with `garbage`, for what they make dead). With `txn`,
/// every output is recorded in it (ADD) before it is written.
pub fn run_with(
    tables: &[SsTable],
    others: &[SsTable],
    opts: &RunOptions,
    out_dir: &Path,
    txn: Option<&mut Transaction>,
    explain: &mut dyn FnMut(&Explanation),
) -> Result<RunReport, RunError> {
    let Some(first) = tables.first() else { return Ok(RunReport::default()) };
    let overlaps = Overlaps::new(others)?;
    let mut shadow_sources = Vec::new();
    if opts.garbage.is_some() {
        let min_ts = tables.iter().filter_map(|t| t.statistics.stats.as_ref().map(|s| s.min_timestamp)).min();
        for t in others {
            // Only an SSTable with writes newer than the oldest being compacted can shadow them.
            let stats = t.statistics.stats.as_ref();
            if stats.is_none_or(|s| min_ts.is_none_or(|m| s.max_timestamp > m)) {
                shadow_sources.push(crate::shadow::ShadowSource::new(t)?);
            }
        }
    }
    let clock =
        PurgeClock::for_compaction(tables, opts.now_s, opts.gc_grace_seconds, opts.only_purge_repaired, opts.no_purge);
    let repair = RepairState::of_inputs(tables)?;
    let mut purger = Purger::new(clock);
    purger.record = opts.judgements;
    let scanners = tables.iter().map(SsTable::scanner).collect::<Result<Vec<_>, _>>()?;
    let mut merger = Merger::new(scanners, first.partitioner)?;
    let header = PartitionStream::header(&merger).clone();
    let compression = match &opts.compression {
        Some(Some(c)) => Some(CompressionParams::new(*c)),
        Some(None) => None,
        None => first
            .compression
            .as_ref()
            .map(|c| CompressionParams::keep(c, opts.to, &first.path(Component::CompressionInfo)))
            .transpose()?,
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
        repaired_at: repair.repaired_at,
        pending_repair: repair.pending_repair,
        is_transient: repair.is_transient,
        sstable_level: opts.level,
        ..WriterOptions::default()
    };
    let mut outputs = Outputs { dir: out_dir, header, options, writer: None, done: Vec::new(), dry: opts.dry_run, txn };
    let garbage = opts.garbage.filter(|_| clock.may_purge).map(|g| (g, shadow_sources.as_mut_slice()));
    let result = compact_partitions(
        &mut merger,
        first.partitioner,
        &mut purger,
        &overlaps,
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
            report.kept_unrepaired = if clock.unrepaired() { purger.kept_for_overlap } else { 0 };
            report.kept_young = purger.kept_young;
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
    /// Boxed: [`Outputs::writer`] takes it out and puts it back for every row, a move of a
    /// pointer rather than of the whole (large) writer.
    writer: Option<Box<SsTableWriter>>,
    done: Vec<Descriptor>,
    dry: bool,
    txn: Option<&'a mut Transaction>,
}

impl Outputs<'_> {
    fn begin(&mut self, key: &[u8], deletion: DeletionTime) -> Result<(), RunError> {
        if !self.dry {
            self.writer()?.begin_partition(key, deletion)?;
        }
        Ok(())
    }

    fn static_row(&mut self, u: &Unfiltered) -> Result<(), RunError> {
        if !self.dry {
            self.writer()?.write_static_row(u)?;
        }
        Ok(())
    }

    fn row(&mut self, u: &Unfiltered) -> Result<(), RunError> {
        if !self.dry {
            self.writer()?.write(u)?;
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), RunError> {
        if !self.dry {
            self.writer()?.end_partition()?;
        }
        Ok(())
    }

    fn writer(&mut self) -> Result<&mut SsTableWriter, RunError> {
        let w = match self.writer.take() {
            Some(w) => w,
            None => {
                let generation = next_generation(self.dir)?;
                if let Some(txn) = self.txn.as_deref_mut() {
                    let d = Descriptor {
                        directory: self.dir.to_path_buf(),
                        version: self.options.version,
                        id: cairn_format::descriptor::SsTableId::Sequence(generation),
                    };
                    txn.add(&d, SsTableWriter::COMPONENTS)?;
                }
                Box::new(SsTableWriter::create(self.dir, generation, self.header.clone(), self.options.clone())?)
            }
        };
        Ok(self.writer.insert(w))
    }

    /// Close the current output once it holds `max` bytes.
    fn roll(&mut self, max: Option<u64>) -> Result<(), RunError> {
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
    overlaps: &Overlaps,
    opts: &RunOptions,
    out: &mut Outputs<'_>,
    mut garbage: Option<(crate::shadow::Granularity, &mut [crate::shadow::ShadowSource])>,
    explain: &mut dyn FnMut(&Explanation),
) -> Result<RunReport, RunError> {
    let mut report = RunReport::default();
    let mut purged_row = Unfiltered::default();
    let mut collected_row = Unfiltered::default();
    let header = PartitionStream::header(merger).clone();
    let mut boundaries = opts.split_tokens.iter().peekable();
    let kept = |ranges: &[(i64, i64)], token: i64| {
        ranges.iter().any(
            |&(start, end)| {
                if start >= end { token > start || token <= end } else { token > start && token <= end }
            },
        )
    };
    while let Some(p) = merger.next_partition()?.cloned() {
        report.partitions_in += 1;
        if let Some(ranges) = &opts.keep_ranges
            && !kept(ranges, cairn_format::partitioner::murmur3_token(&p.key))
        {
            while merger.next_unfiltered()?.is_some() {}
            report.cleaned += 1;
            continue;
        }
        let counts_before = merger.counts();
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
        let admitting = overlaps.admitting(&p.key);
        purger.begin_partition(&admitting);
        let granularity = garbage.as_ref().map(|(g, _)| *g);
        let mut shadow = match &mut garbage {
            Some((_, sources)) => crate::shadow::Shadow::load(sources, &p.key, partitioner)?,
            None => None,
        };
        let partition_deletion = match &mut shadow {
            Some(s) => s.partition_deletion(p.deletion),
            None => p.deletion,
        };
        // What other SSTables make dead goes first (compact gc), then what compaction purges.
        // Without gc, rows go to the purger as read (no copy).
        let mut collect = |u: &Unfiltered, into: &mut Unfiltered| -> Option<bool> {
            match (&mut shadow, granularity) {
                (Some(s), Some(g)) => Some(s.filter(u, &header, g, into)),
                _ => None,
            }
        };
        let deletion = purger.deletion(partition_deletion, TombstoneKind::Partition);
        let mut rows = 0u64;
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
            rows += u64::from(!u.is_marker());
            // Most rows hold nothing to purge: those are written as they are, not copied.
            let kept = if purger.leaves_whole(u) {
                u
            } else if purger.unfiltered(u, &mut purged_row) {
                &purged_row
            } else {
                continue;
            };
            if !begun {
                out.begin(&p.key, deletion)?;
                begun = true;
            }
            out.row(kept)?;
        }
        // A purge that relied on a bloom filter's "not here" is checked before it stands.
        if let Some(ts) = purger.tally.purged_max_ts {
            overlaps.check_rejections(&p.key, ts)?;
        }
        if begun {
            out.end()?;
            report.partitions_out += 1;
            out.roll(opts.max_output_bytes)?;
        }
        let counts = merger.counts();
        let (gc_grace, unrepaired) = (purger.clock().gc_grace, purger.clock().unrepaired());
        let t = &mut purger.tally;
        let e = Explanation {
            key: Vec::new(),
            shadowed: counts.shadowed - counts_before.shadowed,
            superseded: counts.superseded - counts_before.superseded,
            expired_kept: t.expired_kept,
            purged: t.purged,
            kept_young: t.young,
            droppable_after: t.young_min_ldt.map(|l| l.saturating_add(gc_grace)),
            kept_overlap: t.overlap,
            unrepaired,
            // Not repaired, nothing may go: no SSTable is why a tombstone stays.
            blockers: t
                .overlap_max_ts
                .filter(|_| !unrepaired)
                .map(|ts| admitting.iter().filter(|o| o.min_timestamp <= ts).map(|o| o.name.clone()).collect())
                .unwrap_or_default(),
            collected: shadow.as_ref().map_or(0, |s| s.collected),
            removed: !begun,
            position: p.position,
            rows,
            judged: std::mem::take(&mut t.judged),
        };
        if e.shadowed + e.superseded + e.expired_kept + e.purged + e.kept_young + e.kept_overlap + e.collected > 0
            || e.removed
        {
            explain(&Explanation { key: p.key.clone(), ..e });
        }
    }
    Ok(report)
}
