//! # cairn-inspect
//!
//! Read-only inspection of Cassandra SSTables, the library behind `cairn dump`, `meta`,
//! `verify`, `describe`, `tombstones` and `partitions`. Every verb takes opened [`SsTable`]s and writes to a
//! [`std::io::Write`]; JSON comes from view structs defined here, never from the format crate's
//! internal types, so output stays stable and deterministic.
//!
//! ```no_run
//! use cairn_inspect::{open_inputs, dump::{dump, DumpOptions}};
//!
//! let tables = open_inputs(&["data/ks/t-0123".into()], &Default::default())?;
//! let opts = DumpOptions { now_s: 1_700_000_000, ..Default::default() };
//! dump(&tables, &opts, false, &mut std::io::stdout())?;
//! # Ok::<(), cairn_inspect::InspectError>(())
//! ```

pub mod describe;
pub mod dump;
pub mod explain;
pub mod json;
pub mod meta;
pub mod order;
pub mod partitions;
pub mod tombstones;
pub mod verify;

use std::io::Write as _;
use std::path::PathBuf;

use cairn_format::sstable::{DataPlaces, OpenOptions, SsTable};
use cairn_format::{DecodeError, Error};

/// Errors of the inspection verbs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// Reading an SSTable failed.
    #[error(transparent)]
    Format(#[from] Error),
    /// The compaction judgement `tombstones` asks for failed.
    #[error(transparent)]
    Compact(#[from] cairn_compact::run::RunError),
    /// A value inside a row does not decode.
    #[error(
        "{}: a value of the row does not decode: {} (at byte {} of the value)",
        if places.0.is_empty() { format!("Data.db at byte {position}") } else { places.to_string() },
        error.kind,
        error.offset
    )]
    Value {
        /// Offset of the row in the stream read.
        position: u64,
        /// The Data.db file(s) it comes from (empty until the verb that read it says).
        places: DataPlaces,
        /// The decode error, at an offset within the value.
        error: DecodeError,
    },
    /// A `--key` could not be parsed for the table's key type.
    #[error("key '{key}': {reason}")]
    BadKey {
        /// The key as given.
        key: String,
        /// Why it does not parse.
        reason: String,
    },
    /// No SSTable was found under a path.
    #[error("{}: no SSTables found", path.display())]
    NoSsTables {
        /// The path.
        path: PathBuf,
    },
    /// Writing the output failed (a broken pipe is reported as this too).
    #[error("writing output: {0}")]
    Output(std::io::Error),
}

impl InspectError {
    fn value(position: u64, error: DecodeError) -> Self {
        InspectError::Value { position, places: DataPlaces::default(), error }
    }

    /// Say which Data.db file(s) a [`InspectError::Value`] error comes from.
    fn in_places(self, places: impl FnOnce(u64) -> DataPlaces) -> Self {
        match self {
            InspectError::Value { position, places: p, error } if p.0.is_empty() => {
                InspectError::Value { position, places: places(position), error }
            }
            other => other,
        }
    }

    /// Whether this is a closed output pipe (callers exit quietly).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, InspectError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Find and open every SSTable named by `paths` (component files, table, snapshot, keyspace or
/// data directories), in path order then generation order, each once. What an open noticed and
/// read around ([`SsTable::warnings`]) is printed on stderr, once per SSTable.
pub fn open_inputs(paths: &[PathBuf], options: &OpenOptions) -> Result<Vec<SsTable>, InspectError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for p in paths {
        let found = cairn_format::descriptor::discover(p)?;
        if found.is_empty() {
            return Err(InspectError::NoSsTables { path: p.clone() });
        }
        for d in found {
            if seen.insert(d.clone()) {
                let table = SsTable::open_with(d, options)?;
                for w in &table.warnings {
                    warn(w);
                }
                out.push(table);
            }
        }
    }
    for line in leftovers(&out)? {
        warn(&line);
    }
    Ok(out)
}

/// What interrupted operations left in the directories of `tables` (unfinished transaction
/// logs, temporary files, SSTables without Data.db), one line each, in directory order.
pub fn leftovers(tables: &[SsTable]) -> Result<Vec<String>, InspectError> {
    let dirs: std::collections::BTreeSet<&std::path::Path> =
        tables.iter().map(|t| t.descriptor.directory.as_path()).collect();
    let mut lines = Vec::new();
    for d in dirs {
        lines.extend(cairn_format::txn::leftovers(d)?.describe());
    }
    Ok(lines)
}

/// Print a warning on stderr, as the `cairn` binary shows them (`cairn: warning: ...`).
pub fn warn(what: &dyn std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "cairn: warning: {what}");
}

/// `1 thing` or `n things`; `None` for none (the counts of a warning).
pub(crate) fn count_of(n: u64, what: &str) -> Option<String> {
    match n {
        0 => None,
        1 => Some(format!("1 {what}")),
        n => Some(format!("{n} {what}s")),
    }
}

/// Values a verb showed in hex because they did not decode as their columns' types (a damaged
/// file, or a header that is not the data's), counted by kind for one warning: the output stays
/// lossless, and never passes bytes off as values silently. `dump`, `describe` and `--explain`
/// all count with it, so they word the warning alike.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShownInHex<const N: usize> {
    /// What each count counts (singular), in the order the warning lists them.
    kinds: [&'static str; N],
    counts: [u64; N],
    /// The file offset of the first value counted, where the caller knows one.
    first_at: Option<u64>,
}

impl<const N: usize> ShownInHex<N> {
    /// Nothing counted yet, of `kinds`.
    pub(crate) const fn new(kinds: [&'static str; N]) -> Self {
        ShownInHex { kinds, counts: [0; N], first_at: None }
    }

    /// The count of kind `k`, an index into the kinds given to [`Self::new`] (callers name
    /// their kinds by constants).
    pub(crate) fn count(&mut self, k: usize) -> &mut u64 {
        &mut self.counts[k]
    }

    /// How many values were counted, of every kind.
    pub(crate) fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Note where the first value counted is (later calls change nothing).
    pub(crate) fn note_at(&mut self, at: u64) {
        self.first_at.get_or_insert(at);
    }

    /// The warning, for `source`, when anything was counted: how many of each kind, and the
    /// offset of the first when `file` names the file its offsets are in.
    pub(crate) fn warning(&self, source: &dyn std::fmt::Display, file: Option<&str>) -> Option<String> {
        let what: Vec<String> = self.kinds.iter().zip(self.counts).filter_map(|(kind, n)| count_of(n, kind)).collect();
        if what.is_empty() {
            return None;
        }
        let first = match (file, self.first_at) {
            (Some(file), Some(at)) => format!(" (the first at {file} byte {at})"),
            _ => String::new(),
        };
        Some(format!("{source}: {} did not decode as the column types{first}; shown in hex", what.join(" and ")))
    }
}

/// The current time in seconds since the epoch (the default `--now`).
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
