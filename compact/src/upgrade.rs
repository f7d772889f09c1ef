//! `cairn compact upgrade`: rewrite SSTables into another format version and/or compression.
//!
//! Every partition, row, marker and cell is carried over unchanged (nothing is merged or
//! purged); the serialization header keeps its columns and encoding bases. Output files appear
//! atomically. A downgrade refuses data the older version cannot hold: `me` and `nb` store
//! local deletion times as signed 32-bit seconds, so a deletion or expiry after 2038-01-19 (which
//! `oa` can hold) makes `--to me|nb` fail with a located error instead of wrapping.
//!
//! Every out-of-place rewrite lays its output out with [`target_dir`] and refuses an output
//! directory that resolves to an input's own directory ([`refuse_beside_inputs`]); both live in
//! [`crate::files`].

use std::path::Path;

use cairn_format::compression::Compressor;
use cairn_format::data::PartitionStream;
use cairn_format::deletion::NO_DELETION_TIME;
use cairn_format::sstable::SsTable;
use cairn_format::writer::{CompressionParams, SsTableWriter, WriterOptions, next_generation};
use cairn_format::{Component, Descriptor, Version};

use crate::repair_state::RepairState;

pub use crate::files::{TargetError, refuse_beside_inputs, target_dir};

/// Why an upgrade failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Reading or writing failed (the error says which file, and where).
    #[error(transparent)]
    Format(#[from] cairn_format::Error),
    /// The data cannot be represented in the target version.
    #[error("{sstable}: Data.db at byte {position}: {what} cannot be written as version {to}")]
    DoesNotFit {
        /// The source SSTable.
        sstable: String,
        /// Offset of the row in the source Data.db.
        position: u64,
        /// What does not fit.
        what: String,
        /// Target version.
        to: Version,
    },
    /// The output directory is refused.
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// How to rewrite.
#[derive(Debug, Clone)]
pub struct UpgradeOptions {
    /// Target version.
    pub to: Version,
    /// Target compression: `None` keeps each source's, `Some(None)` writes uncompressed.
    pub compression: Option<Option<Compressor>>,
}

fn check_fits(
    table: &SsTable,
    to: Version,
    u: &cairn_format::data::Unfiltered,
    p_deletion_ldt: i64,
) -> Result<(), UpgradeError> {
    if to.has_uint_deletion_time() {
        return Ok(());
    }
    let limit = i64::from(i32::MAX) - 1;
    // Every time the unfiltered carries, in a fixed order (no list built: this runs per row).
    let mut ldts = [
        p_deletion_ldt,
        u.deletion.local_deletion_time,
        u.close_deletion.local_deletion_time,
        u.shadowable_deletion.local_deletion_time,
        u.liveness.local_expiration_time,
    ]
    .into_iter()
    .chain(u.cells.iter().map(|c| c.local_deletion_time))
    .chain(u.complex_deletions.iter().map(|d| d.deletion.local_deletion_time));
    if let Some(t) = ldts.find(|&t| t != NO_DELETION_TIME && t > limit) {
        return Err(UpgradeError::DoesNotFit {
            sstable: table.descriptor.display_name(),
            position: u.position,
            what: format!("local deletion time {t} (after 2038-01-19)"),
            to,
        });
    }
    Ok(())
}

/// Rewrite one SSTable into `out`; returns the new SSTable.
pub fn upgrade_one(table: &SsTable, opts: &UpgradeOptions, out: &Path) -> Result<Descriptor, UpgradeError> {
    let dir = target_dir(&table.descriptor, out);
    let compression = match &opts.compression {
        Some(Some(c)) => Some(CompressionParams::new(*c)),
        Some(None) => None,
        None => table
            .compression
            .as_ref()
            .map(|c| CompressionParams::keep(c, opts.to, &table.path(Component::CompressionInfo)))
            .transpose()?,
    };
    let stats = table.statistics.stats.as_ref();
    let repair = RepairState::of(table);
    // A bloom-filter sizing hint: without an estimator, size for 1024 keys; an unreadable one is an error.
    let expected = table.estimated_cardinality()?.unwrap_or(1024);
    let options = WriterOptions {
        version: opts.to,
        compression,
        bloom_fp_chance: table.statistics.validation.as_ref().map_or(0.01, |v| v.bloom_filter_fp_chance),
        expected_partitions: expected,
        partitioner: table.partitioner,
        originating_host_id: stats.and_then(|s| s.originating_host_id),
        // Repaired-at, the pending-repair session and the transient flag stay, as
        // `sstableupgrade` keeps them; a version without the fields (`me`) cannot record the
        // last two, and its data is unrepaired there.
        repaired_at: repair.repaired_at,
        pending_repair: repair.pending_repair,
        is_transient: repair.is_transient,
        sstable_level: stats.map_or(0, |s| s.sstable_level),
        ..WriterOptions::default()
    };
    let generation = next_generation(&dir)?;
    let mut w = SsTableWriter::create(&dir, generation, (*table.header).clone(), options)?;
    let mut s = table.scanner()?;
    while let Some(p) = s.next_partition()? {
        let p = p.clone();
        w.begin_partition(&p.key, p.deletion)?;
        if let Some(st) = s.static_row() {
            let st = st.clone();
            check_fits(table, opts.to, &st, p.deletion.local_deletion_time)?;
            w.write_static_row(&st)?;
        }
        while let Some(u) = PartitionStream::next_unfiltered(&mut s)? {
            check_fits(table, opts.to, u, p.deletion.local_deletion_time)?;
            w.write(u)?;
        }
        w.end_partition()?;
    }
    let d = w.finish()?;
    // A snapshot's schema.cql travels with its SSTables.
    let schema = table.descriptor.directory.join("schema.cql");
    if schema.is_file() && !dir.join("schema.cql").exists() {
        let _ = std::fs::copy(&schema, dir.join("schema.cql"));
    }
    Ok(d)
}

/// Rewrite every SSTable in `tables`. Refused before anything is written when `out` lays an
/// output out in the directory of an input ([`refuse_beside_inputs`]).
pub fn upgrade(tables: &[SsTable], opts: &UpgradeOptions, out: &Path) -> Result<Vec<Descriptor>, UpgradeError> {
    let mut targets: Vec<std::path::PathBuf> = tables.iter().map(|t| target_dir(&t.descriptor, out)).collect();
    targets.dedup();
    // Refused before the first write: beside the inputs, or where SSTables already are (a rerun
    // into the same --out would add a second copy).
    for t in &targets {
        refuse_beside_inputs(tables, t, out)?;
        crate::files::refuse_existing_sstables::<UpgradeError>(t)?;
    }
    tables.iter().map(|t| upgrade_one(t, opts, out)).collect()
}
