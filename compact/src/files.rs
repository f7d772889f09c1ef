//! File concerns shared by the rewriting verbs (upgrade, run, gc, split, an executed plan):
//! where an output goes ([`ExecuteTarget`], [`target_dir`]), which output directories are
//! refused ([`TargetError`]), and how an SSTable is deleted ([`delete_sstable`], in Cassandra's
//! order).
//!
//! Every out-of-place rewrite lays its output out with [`target_dir`] and refuses an output
//! directory that resolves to an input's own directory ([`refuse_beside_inputs`]): the data
//! would be doubled there, and Cassandra (or the next command given that directory) would read
//! both copies. `compact run` (and an executed plan) also refuses an output directory that
//! already holds SSTables ([`refuse_existing_sstables`]): a rerun would add a second copy of the
//! data beside the first. Rewriting in place is a separate, explicit choice. A dry run writes
//! nothing and is not refused. In place, a directory with an unresolved lifecycle transaction
//! is refused ([`check_no_unfinished`]) until `cairn compact cleanup` resolves it, as Cassandra
//! resolves them at start-up.

use std::path::{Path, PathBuf};

use cairn_format::sstable::SsTable;
use cairn_format::{Component, Descriptor};

/// Where a rewrite may not write, or which inputs it may not take together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
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
    /// The directory the output would be written to already holds SSTables.
    #[error(
        "{target} already holds SSTables ({}): writing there again would add a second copy of the data beside them; choose an empty directory, or remove them first",
        .existing.join(", ")
    )]
    OutputHoldsSstables {
        /// Where the output would be written.
        target: String,
        /// The Data.db file names already there.
        existing: Vec<String>,
    },
    /// Two inputs are pending in different incremental-repair sessions (or one is and the other
    /// is not), or one was written by a transient replica and the other by a full one.
    #[error(
        "{other} ({other_state}) and {first} ({first_state}) are in different repair states: Cassandra never compacts them together, as the output can carry only one; compact each group apart (`cairn compact plan` lists them)"
    )]
    MixedRepairState {
        /// The first input's Data.db.
        first: String,
        /// Its repair state (`pending repair <uuid>`, `transient`, …).
        first_state: String,
        /// The input that differs.
        other: String,
        /// Its repair state.
        other_state: String,
    },
}

/// Where an executed plan (or gc, split) writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecuteTarget {
    /// Under this directory (keyspace/table directories recreated), inputs untouched.
    Out(PathBuf),
    /// Into the table directory; the compacted SSTables are deleted once the outputs are
    /// complete, as Cassandra does when a compaction commits.
    InPlace,
}

/// Where a source SSTable's rewrite goes: `out/<keyspace>/<table>-<id>/` when the source sits in
/// a Cassandra table directory (or a snapshot or the backups of one), with a secondary index's
/// `.<index>/` below it; else `out/` itself. The layout is read by
/// [`cairn_format::location::TableLocation`], the one reading of Cassandra's directory layout.
pub fn target_dir(source: &Descriptor, out: &Path) -> PathBuf {
    let loc = cairn_format::location::TableLocation::from_directory(&source.directory);
    match (&loc.keyspace, &loc.table, &loc.id) {
        (Some(ks), Some(table), Some(id)) => {
            let dir = out.join(ks).join(format!("{table}-{id}"));
            match &loc.index {
                Some(index) => dir.join(format!(".{index}")),
                None => dir,
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
pub fn refuse_beside_inputs(inputs: &[SsTable], target: &Path, out: &Path) -> Result<(), TargetError> {
    let Ok(target_c) = std::fs::canonicalize(target) else { return Ok(()) };
    for t in inputs {
        // An input directory that cannot be resolved any more is not the existing target.
        if std::fs::canonicalize(&t.descriptor.directory).is_ok_and(|d| d == target_c) {
            return Err(TargetError::OutputBesideInputs {
                out: out.display().to_string(),
                target: target.display().to_string(),
                sstable: data_file_name(&t.descriptor),
            });
        }
    }
    Ok(())
}

/// Refuse to write into `target` when it already holds SSTables (a rerun of `compact run --out`
/// would add a second copy of the data). A target that does not exist yet holds none.
pub fn refuse_existing_sstables<E: From<TargetError> + From<cairn_format::Error>>(target: &Path) -> Result<(), E> {
    if !target.is_dir() {
        return Ok(());
    }
    // The directory itself, not below it: a plain output directory may hold other tables' directories.
    let io = |e: std::io::Error| cairn_format::Error::io(target, e);
    let mut existing = Vec::new();
    for entry in std::fs::read_dir(target).map_err(io)? {
        let name = entry.map_err(io)?.file_name().to_string_lossy().into_owned();
        // Any Data.db counts, even one whose name Cairn does not read: it is refused, not guessed at.
        if name.ends_with("-Data.db") {
            existing.push(name);
        }
    }
    existing.sort();
    if existing.is_empty() {
        return Ok(());
    }
    Err(TargetError::OutputHoldsSstables { target: target.display().to_string(), existing }.into())
}

/// The Data.db file name of an SSTable (its name in its directory).
fn data_file_name(d: &Descriptor) -> String {
    d.path(Component::Data).file_name().map_or_else(|| d.display_name(), |n| n.to_string_lossy().to_string())
}

/// Refuse SSTables of more than one table directory: the compactions compact one table.
pub fn same_directory<'a>(mut dirs: impl Iterator<Item = &'a Path>) -> Result<(), TargetError> {
    let Some(first) = dirs.next() else { return Ok(()) };
    match dirs.find(|d| *d != first) {
        Some(other) => {
            Err(TargetError::NotOneTable { first: first.display().to_string(), other: other.display().to_string() })
        }
        None => Ok(()),
    }
}

/// Refuse to rewrite in `dir` while an earlier operation there is unresolved (a transaction log
/// left by a crash): `cairn compact cleanup` first, as Cassandra resolves them at start-up.
pub fn check_no_unfinished<E: From<TargetError> + From<cairn_format::Error>>(dir: &Path) -> Result<(), E> {
    let left = cairn_format::txn::leftovers(dir)?;
    match left.logs.first() {
        Some(log) => {
            Err(TargetError::Unfinished { dir: dir.display().to_string(), log: log.path.display().to_string() }.into())
        }
        None => Ok(()),
    }
}

/// Delete an SSTable's components, Data.db first (Cassandra's order: without Data.db the rest is
/// never read, so an interrupted deletion leaves no half SSTable behind).
pub fn delete_sstable(d: &Descriptor) -> Result<(), cairn_format::Error> {
    for c in Component::BIG {
        let p = d.path(c);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(cairn_format::Error::io(&p, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use cairn_format::descriptor::SsTableId;
    use cairn_format::{Descriptor, Version};

    use super::target_dir;

    fn at(dir: &str) -> Descriptor {
        Descriptor { directory: PathBuf::from(dir), version: Version::Nb, id: SsTableId::Sequence(1) }
    }

    const TABLE: &str = "/data/ks/events-0123456789abcdef0123456789abcdef";

    /// A table directory, its snapshots and backups all rewrite into `out/<keyspace>/<table-id>`;
    /// a secondary index into its own `.<index>` directory below that; a plain directory into `out`.
    #[test]
    fn target_dir_follows_the_table_location() {
        let out = Path::new("/out");
        let table = out.join("ks/events-0123456789abcdef0123456789abcdef");
        assert_eq!(target_dir(&at(TABLE), out), table);
        assert_eq!(target_dir(&at(&format!("{TABLE}/snapshots/before")), out), table);
        assert_eq!(target_dir(&at(&format!("{TABLE}/backups")), out), table);
        assert_eq!(target_dir(&at(&format!("{TABLE}/.events_by_kind")), out), table.join(".events_by_kind"));
        assert_eq!(target_dir(&at("/tmp/copied"), out), out);
    }
}
