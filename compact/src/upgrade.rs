//! `cairn compact upgrade`: rewrite SSTables into another format version and/or compression.
//!
//! Every partition, row, marker and cell is carried over unchanged (nothing is merged or
//! purged); the serialization header keeps its columns and encoding bases. Output files appear
//! atomically. A downgrade refuses data the older version cannot hold: `me` and `nb` store
//! local deletion times as signed 32-bit seconds, so a deletion or expiry after 2038-01-19 (which
//! `oa` can hold) makes `--to me|nb` fail with a located error instead of wrapping.
//!
//! Every out-of-place rewrite (upgrade, run, split, gc, an executed plan) lays its output out
//! with [`target_dir`] and refuses an output directory that resolves to an input's own directory
//! ([`refuse_beside_inputs`]): the data would be doubled there, and Cassandra (or the next
//! command given that directory) would read both copies. Rewriting in place is a separate,
//! explicit choice. A dry run writes nothing and is not refused.

use std::path::{Path, PathBuf};

use cairn_format::compression::Compressor;
use cairn_format::data::PartitionStream;
use cairn_format::deletion::NO_DELETION_TIME;
use cairn_format::sstable::SsTable;
use cairn_format::writer::{CompressionParams, SsTableWriter, WriterOptions, next_generation};
use cairn_format::{Descriptor, Version};

/// Why an upgrade failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Reading or writing failed.
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
    /// An earlier operation in the directory was interrupted and is not resolved yet.
    #[error("{dir}: an interrupted operation is not resolved ({log}); run `cairn compact cleanup {dir}` first")]
    Unfinished {
        /// The table directory.
        dir: String,
        /// Its transaction log.
        log: String,
    },
    /// A compaction was given SSTables of more than one table directory.
    #[error("{first} and {other} are not SSTables of the same table directory; compact one table at a time")]
    NotOneTable {
        /// The first input's directory.
        first: String,
        /// The other directory.
        other: String,
    },
    /// The output directory lays the output out in the directory of an input SSTable.
    #[error(
        "output directory {out}{} is the directory of input {sstable}: the output would be written beside its inputs; choose another directory (or rewrite in place where the command offers it)",
        laid_out(.out, .target)
    )]
    OutputBesideInputs {
        /// The output directory as given.
        out: String,
        /// Where the output would be written (`out`, or `out/<keyspace>/<table-id>`).
        target: String,
        /// The Data.db file name of an input SSTable in that directory.
        sstable: String,
    },
    /// Token-range splitting needs a hashing partitioner.
    #[error("{sstable}: {error}")]
    NoTokenRanges {
        /// The SSTable.
        sstable: String,
        /// Its partitioner's refusal.
        error: cairn_format::partitioner::NoTokenRanges,
    },
}

/// How to rewrite.
#[derive(Debug, Clone)]
pub struct UpgradeOptions {
    /// Target version.
    pub to: Version,
    /// Target compression: `None` keeps each source's, `Some(None)` writes uncompressed.
    pub compression: Option<Option<Compressor>>,
}

/// Where a source SSTable's rewrite goes: `out/<keyspace>/<table-id>/` when the source sits in a
/// Cassandra table directory, else `out/` itself.
pub fn target_dir(source: &Descriptor, out: &Path) -> PathBuf {
    let dir = &source.directory;
    let table_dir = if dir.parent().and_then(Path::file_name).is_some_and(|n| n == "snapshots") {
        dir.parent().and_then(Path::parent)
    } else {
        Some(dir.as_path())
    };
    match table_dir {
        Some(t) if cairn_format::location::TableLocation::table_name_of(t).is_some() => {
            let ks = t.parent().and_then(Path::file_name);
            let name = t.file_name();
            match (ks, name) {
                (Some(ks), Some(name)) => out.join(ks).join(name),
                _ => out.to_path_buf(),
            }
        }
        _ => out.to_path_buf(),
    }
}

fn laid_out(out: &str, target: &str) -> String {
    if out == target { String::new() } else { format!(" lays the output out in {target}, which") }
}

/// Refuse to write under `out` into `target` (where [`target_dir`] lays a rewrite out) when
/// `target` is the directory of one of `inputs`: an out-of-place rewrite there would put a second
/// copy of the data beside the first. That happens when `out` is an input's own directory (a
/// directory that is not a Cassandra table directory is its own target) or the data directory
/// above its keyspace. Paths are compared canonicalized, so `.`/`..` and symbolic links do not
/// hide it; a target that does not exist yet cannot be an input's directory.
pub fn refuse_beside_inputs(inputs: &[SsTable], target: &Path, out: &Path) -> Result<(), UpgradeError> {
    let Ok(target_c) = std::fs::canonicalize(target) else { return Ok(()) };
    for t in inputs {
        // An input directory that cannot be resolved any more is not the existing target.
        if std::fs::canonicalize(&t.descriptor.directory).is_ok_and(|d| d == target_c) {
            return Err(UpgradeError::OutputBesideInputs {
                out: out.display().to_string(),
                target: target.display().to_string(),
                sstable: t
                    .descriptor
                    .path(cairn_format::Component::Data)
                    .file_name()
                    .map_or_else(|| t.descriptor.display_name(), |n| n.to_string_lossy().to_string()),
            });
        }
    }
    Ok(())
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
    let mut ldts = vec![
        p_deletion_ldt,
        u.deletion.local_deletion_time,
        u.close_deletion.local_deletion_time,
        u.shadowable_deletion.local_deletion_time,
    ];
    ldts.push(u.liveness.local_expiration_time);
    ldts.extend(u.cells.iter().map(|c| c.local_deletion_time));
    ldts.extend(u.complex_deletions.iter().map(|d| d.deletion.local_deletion_time));
    if let Some(t) = ldts.into_iter().find(|&t| t != NO_DELETION_TIME && t > limit) {
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
        None => table.compression.as_ref().and_then(|c| {
            Some(CompressionParams {
                compressor: c.compressor?,
                chunk_length: c.chunk_length,
                max_compressed_length: if opts.to.has_max_compressed_length() {
                    c.max_compressed_length
                } else {
                    i32::MAX as u32
                },
                options: c.options.clone(),
            })
        }),
    };
    let stats = table.statistics.stats.as_ref();
    // A bloom-filter sizing hint: without an estimator, size for 1024 keys; an unreadable one is an error.
    let expected = table.estimated_cardinality()?.unwrap_or(1024);
    let options = WriterOptions {
        version: opts.to,
        compression,
        bloom_fp_chance: table.statistics.validation.as_ref().map_or(0.01, |v| v.bloom_filter_fp_chance),
        expected_partitions: expected,
        partitioner: table.partitioner,
        originating_host_id: stats.and_then(|s| s.originating_host_id),
        repaired_at: stats.map_or(0, |s| s.repaired_at),
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
    for t in tables {
        refuse_beside_inputs(tables, &target_dir(&t.descriptor, out), out)?;
    }
    tables.iter().map(|t| upgrade_one(t, opts, out)).collect()
}
