//! `repair sync`: what each side lacks, written as SSTables for it in its own format family and
//! compression, numbered past the receiving table directory's generations.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use cairn_format::data::PartitionStream;
use cairn_format::location::TableLocation;
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_format::writer::{CompressionParams, SsTableWriter, WriterOptions, next_generation};
use cairn_format::{Component, Version};
use serde::Serialize;

use crate::*;

/// What sync wrote for one table.
#[derive(Debug, Clone, Serialize)]
pub struct SyncedTable {
    /// Keyspace.
    pub keyspace: String,
    /// Table.
    pub table: String,
    /// Partitions that differed.
    pub differing_partitions: u64,
    /// The SSTable written for A (A lacked or had other versions of these partitions).
    pub for_a: Option<Written>,
    /// The SSTable written for B.
    pub for_b: Option<Written>,
}

/// One SSTable sync wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// Its Data.db.
    pub data: PathBuf,
    /// Partitions in it.
    pub partitions: u64,
}

/// The writable version of a family: `m*` → `me`, `n*` → `nb`, `oa` → `oa`.
pub fn writable(v: Version) -> Version {
    match v {
        Version::Ma | Version::Mb | Version::Mc | Version::Md | Version::Me => Version::Me,
        Version::Na | Version::Nb => Version::Nb,
        Version::Oa => Version::Oa,
    }
}

/// Where an SSTable for `target` (the side receiving it) goes under `out`:
/// `<keyspace>/<table>-<id>` (just `<table>` when the side's layout has no id).
pub(crate) fn target_dir(out: &Path, pair: &TablePair<'_>, target: &[&SsTable], source: &[&SsTable]) -> PathBuf {
    let loc = target.first().or(source.first()).map(|t| TableLocation::of(t)).unwrap_or_default();
    let name = match (&loc.id, &pair.index) {
        (Some(id), _) => format!("{}-{id}", pair.table),
        (None, _) => pair.table.clone(),
    };
    let dir = out.join(&pair.keyspace).join(name);
    match &pair.index {
        Some(i) => dir.join(format!(".{i}")),
        None => dir,
    }
}

/// Write `source`'s reconciled (unpurged) partitions whose keys are in `keys` into an SSTable in
/// `dir`, in the format family and compression of `target` (of `source` when `target` has none).
pub(crate) fn write_partitions(
    source: &[&SsTable],
    target: &[&SsTable],
    keys: &HashSet<Vec<u8>>,
    dir: &Path,
) -> Result<Option<Written>, RepairError> {
    let Some(first) = source.first() else { return Ok(None) };
    let model = target.first().unwrap_or(first);
    let scanners = source.iter().map(|t| t.scanner()).collect::<Result<Vec<_>, _>>()?;
    let mut merger = Merger::new(scanners, first.partitioner)?;
    let header = PartitionStream::header(&merger).clone();
    let version = writable(model.descriptor.version);
    let compression = model
        .compression
        .as_ref()
        .map(|c| CompressionParams::keep(c, version, &model.path(Component::CompressionInfo)))
        .transpose()?;
    let options = WriterOptions {
        version,
        compression,
        expected_partitions: (keys.len() as u64).max(1),
        partitioner: first.partitioner,
        ..WriterOptions::default()
    };
    let mut writer: Option<SsTableWriter> = None;
    let mut n = 0u64;
    while let Some(p) = merger.next_partition()?.cloned() {
        if !keys.contains(&p.key) {
            continue;
        }
        let w = match &mut writer {
            Some(w) => w,
            None => {
                // A generation the receiving table directory does not use yet, so that the files
                // can be moved into it as they are.
                let mut generation = next_generation(dir)?;
                if let Some(t) = target.first() {
                    generation = generation.max(next_generation(&t.descriptor.directory)?);
                }
                writer.insert(SsTableWriter::create(dir, generation, header.clone(), options.clone())?)
            }
        };
        w.write_partition(&mut merger, &p)?;
        n += 1;
    }
    match writer {
        Some(w) => {
            let d = w.finish()?;
            Ok(Some(Written { data: d.path(cairn_format::Component::Data), partitions: n }))
        }
        None => Ok(None),
    }
}

/// Diff, then write what each side lacks under `out/for-a/` and `out/for-b/`.
pub fn sync(a: &[SsTable], b: &[SsTable], opts: &RepairOptions, out: &Path) -> Result<Vec<SyncedTable>, RepairError> {
    // A rerun into the same place would add its SSTables beside the first run's.
    let holds_anything = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    if holds_anything {
        return Err(RepairError::OutNotEmpty { path: out.to_path_buf() });
    }
    let mut report = Vec::new();
    let result = sync_tables(a, b, opts, out, &mut report);
    if result.is_err() {
        // A sync that fails leaves none of what it wrote, the tables before the failure too.
        for w in report.iter().flat_map(|s| [&s.for_a, &s.for_b]).flatten() {
            if let Ok((d, _)) = cairn_format::descriptor::Descriptor::from_path(&w.data) {
                for c in Component::BIG {
                    let _ = std::fs::remove_file(d.path(c));
                }
            }
        }
    }
    result.map(|()| report)
}

/// [`sync`] table by table, each table's report pushed once it is written.
fn sync_tables(
    a: &[SsTable],
    b: &[SsTable],
    opts: &RepairOptions,
    out: &Path,
    report: &mut Vec<SyncedTable>,
) -> Result<(), RepairError> {
    let pairs = pair_tables(a, b, opts)?;
    // Each side must read what it receives, before anything is written.
    for pair in &pairs {
        schemas_agree(pair, true)?;
    }
    for pair in pairs {
        let d = diff_table(&pair, opts)?;
        let mut synced = SyncedTable {
            keyspace: pair.keyspace.clone(),
            table: pair.table.clone(),
            differing_partitions: d.differing_partitions.len() as u64,
            for_a: None,
            for_b: None,
        };
        // A whole table on one side only: all of it goes to the other side.
        let keys: Option<HashSet<Vec<u8>>> = match d.only_in {
            Some(_) => None,
            None => Some(d.differing_partitions.iter().map(|p| p.raw_key.clone()).collect()),
        };
        let all_of = |group: &[&SsTable]| -> Result<HashSet<Vec<u8>>, RepairError> {
            let mut keys = HashSet::new();
            for t in group {
                let mut s = t.scanner()?;
                while let Some(p) = s.next_partition()? {
                    keys.insert(p.key.clone());
                }
            }
            Ok(keys)
        };
        if !d.identical() {
            let to_b = match &keys {
                Some(k) => k.clone(),
                None => all_of(&pair.a)?,
            };
            let to_a = match keys {
                Some(k) => k,
                None => all_of(&pair.b)?,
            };
            // Reported as soon as written, so that a failure after it removes it too.
            synced.for_b =
                write_partitions(&pair.a, &pair.b, &to_b, &target_dir(&out.join("for-b"), &pair, &pair.b, &pair.a))?;
            report.push(synced);
            let for_a =
                write_partitions(&pair.b, &pair.a, &to_a, &target_dir(&out.join("for-a"), &pair, &pair.a, &pair.b))?;
            if let Some(last) = report.last_mut() {
                last.for_a = for_a;
            }
            continue;
        }
        report.push(synced);
    }
    Ok(())
}
