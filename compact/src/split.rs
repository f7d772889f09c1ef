//! `cairn compact split`: the job of Cassandra's `sstablesplit` — rewrite each SSTable on its
//! own into pieces of at most `--size` MiB (default 50, as the tool), or into one SSTable per
//! token range (`--token-ranges N`, equal slices of the partitioner's token space), or both.
//!
//! Nothing is merged and nothing is purged (the tool runs without gc), but as in every
//! Cassandra rewrite expired cells become tombstones. Outputs are level 0, as the tool's are.
//! SSTables already below the size are skipped when only `--size` is given, as the tool skips
//! them. `--out DIR` leaves the inputs alone; in place, each input is deleted once its pieces are
//! complete (the tool snapshots the originals first unless told not to: keep a snapshot or use
//! `--out` if you want them back).

use cairn_format::sstable::SsTable;
use cairn_format::{Component, Descriptor, Version};

use crate::files::ExecuteTarget;
use crate::files::TargetError;
use crate::run::{RunOptions, run};

/// Why `compact split` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// Reading an input or writing a piece failed (the error says which file, and where).
    #[error(transparent)]
    Format(#[from] cairn_format::Error),
    /// The inputs or the output directory are refused.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// Rewriting one SSTable into its pieces failed.
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    /// Token-range splitting needs a hashing partitioner.
    #[error("{sstable}: {error}")]
    NoTokenRanges {
        /// The SSTable (its Data.db path).
        sstable: String,
        /// Its partitioner's refusal.
        error: cairn_format::partitioner::NoTokenRanges,
    },
}

/// `sstablesplit`'s default size (MiB).
pub const DEFAULT_SPLIT_SIZE_MB: u64 = 50;

/// How to split.
#[derive(Debug, Clone)]
pub struct SplitOptions {
    /// Output version.
    pub to: Version,
    /// Output compression (`None`: keep each input's).
    pub compression: Option<Option<cairn_format::compression::Compressor>>,
    /// Maximum Data.db size of a piece (bytes).
    pub max_bytes: Option<u64>,
    /// Number of equal token ranges.
    pub token_ranges: Option<u32>,
    /// Now (s): when TTLs count as expired.
    pub now_s: i64,
}

/// What happened to one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The input.
    pub input: Descriptor,
    /// Its pieces (empty when skipped).
    pub outputs: Vec<Descriptor>,
    /// Skipped: already below the size.
    pub skipped: bool,
    /// Deleted (in place).
    pub deleted: bool,
}

/// Split each of `tables`.
pub fn split(tables: &[SsTable], opts: &SplitOptions, target: &ExecuteTarget) -> Result<Vec<Split>, SplitError> {
    // Refused before the first piece is written, whichever input lands beside the inputs.
    if let ExecuteTarget::Out(dir) = target {
        let mut targets: Vec<std::path::PathBuf> =
            tables.iter().map(|t| crate::files::target_dir(&t.descriptor, dir)).collect();
        targets.dedup();
        for t in &targets {
            crate::files::refuse_beside_inputs(tables, t, dir)?;
            crate::files::refuse_existing_sstables::<SplitError>(t)?;
        }
    }
    let mut done = Vec::new();
    // In place, the whole split of a table directory is one lifecycle transaction.
    let mut txn = None;
    if *target == ExecuteTarget::InPlace
        && let Some(first) = tables.first()
    {
        let dir = &first.descriptor.directory;
        crate::files::same_directory(tables.iter().map(|t| t.descriptor.directory.as_path()))?;
        crate::files::check_no_unfinished::<SplitError>(dir)?;
        txn = Some(cairn_format::txn::Transaction::begin(dir, opts.to, cairn_format::txn::operation::SPLIT)?);
    }
    for t in tables {
        let name = t.path(Component::Data).display().to_string();
        let data = t.path(Component::Data);
        let data_bytes = std::fs::metadata(&data).map_err(|e| cairn_format::Error::io(&data, e))?.len();
        if opts.token_ranges.is_none() && opts.max_bytes.is_some_and(|m| data_bytes <= m) {
            done.push(Split { input: t.descriptor.clone(), outputs: vec![], skipped: true, deleted: false });
            continue;
        }
        let split_tokens = match opts.token_ranges {
            Some(n) => t
                .partitioner
                .token_boundaries(n)
                .map_err(|error| SplitError::NoTokenRanges { sstable: name.clone(), error })?,
            None => vec![],
        };
        let run_opts = RunOptions {
            compression: opts.compression,
            max_output_bytes: opts.max_bytes,
            split_tokens,
            no_purge: true,
            ..RunOptions::new(opts.to, opts.now_s)
        };
        let one = std::slice::from_ref(t);
        let report = match target {
            ExecuteTarget::Out(dir) => run(one, &run_opts, dir)?,
            ExecuteTarget::InPlace => {
                let r = crate::run::run_with(one, &[], &run_opts, &t.descriptor.directory, txn.as_mut(), &mut |_| {})?;
                if let Some(txn) = txn.as_mut() {
                    txn.remove(&t.descriptor)?;
                }
                r
            }
        };
        let deleted = *target == ExecuteTarget::InPlace;
        done.push(Split { input: t.descriptor.clone(), outputs: report.outputs, skipped: false, deleted });
    }
    if let Some(txn) = txn {
        txn.commit()?;
    }
    Ok(done)
}
