//! `cairn compact cleanup`: resolve what interrupted operations left, as Cassandra does when it
//! starts (`LifecycleTransaction.removeUnfinishedLeftovers`): every lifecycle transaction log is
//! completed (committed: the SSTables it removed go) or rolled back (not committed: the SSTables
//! it added go), and hidden temporary files of interrupted writes go. See
//! [`cairn_format::txn`] for the log and its rules. A log that cannot be resolved safely (corrupt
//! before its last record, or its removed SSTables changed since) is an error and nothing of it
//! is touched.

use std::path::{Path, PathBuf};

use cairn_format::txn::{self, Cleaned};

/// Why `compact cleanup` failed: a directory could not be listed, or a log could not be
/// resolved safely (the error says which file, and why).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CleanupError {
    /// Listing a directory or resolving its leftovers failed.
    #[error(transparent)]
    Format(#[from] cairn_format::Error),
}

/// Resolve leftovers in `path` — a table directory, or a keyspace or data directory (every table
/// directory below it; snapshots and backups are never touched). Returns what was done per
/// directory that had something to do, in path order.
pub fn cleanup(path: &Path) -> Result<Vec<(PathBuf, Cleaned)>, CleanupError> {
    let mut out = Vec::new();
    walk(path, 0, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, Cleaned)>) -> Result<(), CleanupError> {
    let io = |e: std::io::Error| CleanupError::Format(cairn_format::Error::io(dir, e));
    let mut subdirs = Vec::new();
    let mut leftovers_here = false;
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().map_err(io)?.is_dir() {
            if name != "snapshots" && name != "backups" && depth < 3 {
                subdirs.push(e.path());
            }
        } else if txn::is_log_name(&name) || (name.starts_with('.') && name.ends_with(".tmp")) {
            leftovers_here = true;
        }
    }
    if leftovers_here {
        let done = txn::cleanup(dir)?;
        if done != Cleaned::default() {
            out.push((dir.to_path_buf(), done));
        }
    }
    subdirs.sort();
    for s in subdirs {
        walk(&s, depth + 1, out)?;
    }
    Ok(())
}
