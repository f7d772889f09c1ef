//! The `--resume` checkpoint: per source table (its directories, comma-joined), the last
//! partition — in token order, the order the reconciled scan writes them — whose writes were all
//! acknowledged, as `<dir>\t<token>\t<key hex>` lines. A rerun skips every partition at or
//! before it. The file is rewritten every [`CHECKPOINT_EVERY`] partitions (after waiting for
//! every write in flight, so it never gets ahead of the cluster) and at the end of each table,
//! through a temporary file and a rename, so a crash leaves the old or the new file whole.
//!
//! A line that does not read, or whose token is not its key's token, stops the load: skipping
//! it would load that table again from its first partition (counters twice), and a foreign
//! token would skip the wrong partitions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::types::render;

use crate::LoadError;
use crate::error::CheckpointProblem;

/// Partitions between checkpoints: each checkpoint waits for every write in flight.
pub(crate) const CHECKPOINT_EVERY: u64 = 2000;

/// The checkpoint of a load (inert without `--resume`, or with `--plan`).
pub(crate) struct Checkpoint {
    /// The file (`--resume`).
    path: Option<PathBuf>,
    /// Whether partitions are recorded (not with `--plan`).
    record: bool,
    /// Per table directory: the last partition done (token text, key hex).
    done: BTreeMap<String, (String, String)>,
    /// The last partition handed to the sender since the file was last written.
    last: Option<(String, String)>,
    /// Partitions handed to the sender since the file was last written.
    since: u64,
}

impl Checkpoint {
    /// The checkpoint at `path` (none there yet: an empty one). Nothing is recorded when
    /// `record` is false (`--plan`), but a resumed plan still skips what is done.
    pub fn open(path: Option<&Path>, record: bool) -> Result<Checkpoint, LoadError> {
        let done = match path {
            Some(p) => read(p)?,
            None => BTreeMap::new(),
        };
        Ok(Checkpoint { path: path.map(Path::to_path_buf), record, done, last: None, since: 0 })
    }

    fn err(&self, problem: CheckpointProblem) -> LoadError {
        LoadError::Checkpoint { path: self.path.clone().unwrap_or_default(), problem }
    }

    /// Where table `dir` resumes: after this (token, key), checked to be the key's token.
    pub fn resume_after(&self, dir: &str, partitioner: Partitioner) -> Result<Option<(Token, Vec<u8>)>, LoadError> {
        let Some((t, k)) = self.done.get(dir) else { return Ok(None) };
        // Every key was checked to be hex when the file was read.
        let key = decode_hex(k).unwrap_or_default();
        let token = partitioner.token(&key);
        if token.to_string() != *t {
            return Err(self.err(CheckpointProblem::ForeignToken {
                dir: dir.to_string(),
                token: t.clone(),
                key: k.clone(),
                actual: token.to_string(),
            }));
        }
        Ok(Some((token, key)))
    }

    /// A partition was handed to the sender; true when a checkpoint is due (drain the sender,
    /// then [`Checkpoint::save`]).
    pub fn passed(&mut self, token: &Token, key: &[u8]) -> bool {
        if self.path.is_none() || !self.record {
            return false;
        }
        let t = match token {
            Token::Murmur3(t) => t.to_string(),
            other => other.to_string(),
        };
        self.last = Some((t, render::hex(key)));
        self.since += 1;
        self.since >= CHECKPOINT_EVERY
    }

    /// Record table `dir` as done up to the last partition passed (everything sent must be
    /// acknowledged first), and write the file.
    pub fn save(&mut self, dir: &str) -> Result<(), LoadError> {
        self.since = 0;
        let (Some(path), Some(last)) = (&self.path, self.last.take()) else { return Ok(()) };
        self.done.insert(dir.to_string(), last);
        let text: String = self.done.iter().map(|(d, (t, k))| format!("{d}\t{t}\t{k}\n")).collect();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| self.err(CheckpointProblem::Io(e)))
    }
}

/// The entries of a checkpoint file (none there: empty).
fn read(path: &Path) -> Result<BTreeMap<String, (String, String)>, LoadError> {
    let err = |problem| LoadError::Checkpoint { path: path.to_path_buf(), problem };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(err(CheckpointProblem::Io(e))),
    };
    let mut out = BTreeMap::new();
    for (n, l) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let bad = |why| err(CheckpointProblem::BadLine { line: n + 1, why });
        let fields: Vec<&str> = l.split('\t').collect();
        let [dir, token, key] = fields.as_slice() else { return Err(bad("not three tab-separated fields")) };
        if decode_hex(key).is_none() {
            return Err(bad("the key is not hex"));
        }
        out.insert(dir.to_string(), (token.to_string(), key.to_string()));
    }
    Ok(out)
}

/// Bytes of a hex string; `None` unless every character pair is a hex byte.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}
