//! The `--resume` checkpoint: per source table (its directories, comma-joined), the last
//! partition — in token order, the order the reconciled scan writes them — whose writes were all
//! acknowledged, as `<dir>\t<token>\t<key hex>` lines. A rerun skips every partition at or
//! before it. The file is rewritten every [`CHECKPOINT_EVERY`] partitions (after waiting for
//! every write in flight, so it never gets ahead of the cluster), around each partition with
//! list appends (below) and at the end of each table, through a temporary file and a rename, so
//! a killed load leaves the old or the new file whole.
//!
//! A line that does not read, or whose token is not its key's token, stops the load: skipping
//! it would load that table again from its first partition (counters twice), and a foreign
//! token would skip the wrong partitions.
//!
//! Every write is idempotent but a list append: the coordinator gives the element a new cell
//! path each time it applies it, so a partition with appends sent again after a crash would
//! hold its elements twice. Such a partition is marked in doubt by a fourth field
//! (`<dir>\t<token>\t<key hex>\tin-doubt`), written and fsynced (an operating-system crash
//! keeps it too) before the partition is sent; the checkpoint moves past it, the mark gone, once
//! it and everything before it are acknowledged, before the next partition is sent: a run has
//! at most one partition in doubt. Partitions without appends before it may still be in flight
//! when it is marked; a rerun sends them again, which is harmless. A rerun that finds a mark
//! cannot know whether the appends were applied (all, none, or, for a partition sent in several
//! batches, some), so it stops until the operator, having looked at the partition on the target,
//! answers for that key ([`InDoubt`]). A mark at or before the partition done is settled (the
//! checkpoint moved past it after it was acknowledged) and dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::types::render;

use crate::LoadError;
use crate::error::CheckpointProblem;

/// What a resumed load does with the list appends of a partition marked in doubt
/// (`--resume-in-doubt KEY=send|skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InDoubt {
    /// Send them again (the previous run's did not reach the cluster).
    Send,
    /// Send the rest of the partition, not its list appends (they were applied).
    Skip,
}

/// The fourth field of a partition in doubt.
const IN_DOUBT: &str = "in-doubt";

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
    /// Partitions whose list appends were being sent when the file was written: (table
    /// directory, token text, key hex). One at a time in a run; a rerun keeps the earlier run's
    /// until it has passed it.
    in_doubt: Doubts,
    /// Partitions in doubt passed since the file was last written (token text, key hex).
    doubts_passed: Vec<(String, String)>,
    /// Marks were dropped since the file was last written.
    settled: bool,
    /// The last partition handed to the sender since the file was last written.
    last: Option<(String, String)>,
    /// Partitions handed to the sender since the file was last written.
    since: u64,
}

impl Checkpoint {
    /// The checkpoint at `path` (none there yet: an empty one). Nothing is recorded when
    /// `record` is false (`--plan`), but a resumed plan still skips what is done.
    pub fn open(path: Option<&Path>, record: bool) -> Result<Checkpoint, LoadError> {
        let (done, in_doubt) = match path {
            Some(p) => read(p)?,
            None => Default::default(),
        };
        Ok(Checkpoint {
            path: path.map(Path::to_path_buf),
            record,
            done,
            in_doubt,
            doubts_passed: Vec::new(),
            settled: false,
            last: None,
            since: 0,
        })
    }

    /// Whether partitions are recorded (a file, and not `--plan`).
    pub fn records(&self) -> bool {
        self.path.is_some() && self.record
    }

    fn err(&self, problem: CheckpointProblem) -> LoadError {
        LoadError::Checkpoint { path: self.path.clone().unwrap_or_default(), problem }
    }

    /// Where table `dir` resumes: after this (token, key), checked to be the key's token.
    pub fn resume_after(&self, dir: &str, partitioner: Partitioner) -> Result<Option<(Token, Vec<u8>)>, LoadError> {
        self.checked(dir, self.done.get(dir), partitioner)
    }

    /// The partitions of table `dir` whose list appends a previous run was sending when it
    /// stopped (normally one at most), each checked to be its key's token.
    pub fn in_doubt(&self, dir: &str, partitioner: Partitioner) -> Result<Vec<(Token, Vec<u8>)>, LoadError> {
        let mut out = Vec::new();
        for (_, t, k) in self.in_doubt.iter().filter(|(d, _, _)| d == dir) {
            out.extend(self.checked(dir, Some(&(t.clone(), k.clone())), partitioner)?);
        }
        Ok(out)
    }

    /// An entry's token and key, the token checked to be the key's.
    fn checked(
        &self,
        dir: &str,
        entry: Option<&(String, String)>,
        partitioner: Partitioner,
    ) -> Result<Option<(Token, Vec<u8>)>, LoadError> {
        let Some((t, k)) = entry else { return Ok(None) };
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
        if !self.records() {
            return false;
        }
        let entry = entry(token, key);
        if self.in_doubt.iter().any(|(_, t, k)| (t, k) == (&entry.0, &entry.1)) {
            self.doubts_passed.push(entry.clone());
        }
        self.last = Some(entry);
        self.since += 1;
        self.since >= CHECKPOINT_EVERY
    }

    /// Record table `dir` as done up to the last partition passed (everything sent must be
    /// acknowledged first), and write the file.
    pub fn save(&mut self, dir: &str) -> Result<(), LoadError> {
        self.since = 0;
        let last = self.last.take();
        if last.is_none() && !std::mem::take(&mut self.settled) {
            return Ok(());
        }
        if let Some(last) = last {
            self.done.insert(dir.to_string(), last);
        }
        for (t, k) in std::mem::take(&mut self.doubts_passed) {
            self.in_doubt.remove(&(dir.to_string(), t, k));
        }
        self.write(false)
    }

    /// Every key marked in doubt, in hex (for checking the operator's answers).
    pub fn marked_keys(&self) -> BTreeSet<&str> {
        self.in_doubt.iter().map(|(_, _, k)| k.as_str()).collect()
    }

    /// Drop table `dir`'s mark of `key` (settled: at or before the partition done, or answered
    /// and not in the input); the file is written at the next [`Checkpoint::save`].
    pub fn settle(&mut self, dir: &str, key: &[u8]) {
        let hex = render::hex(key);
        let before = self.in_doubt.len();
        self.in_doubt.retain(|(d, _, k)| !(d == dir && *k == hex));
        self.settled |= self.in_doubt.len() != before;
    }

    /// Before sending a partition with list appends (no other is in flight: each is
    /// acknowledged before the next is sent): mark it in doubt for table `dir` and write the
    /// file; what is done stays as it was. Once it is acknowledged, [`Checkpoint::passed`] then
    /// [`Checkpoint::save`] move past it and drop the mark.
    pub fn mark_in_doubt(&mut self, dir: &str, token: &Token, key: &[u8]) -> Result<(), LoadError> {
        if !self.records() {
            return Ok(());
        }
        let (t, k) = entry(token, key);
        self.in_doubt.insert((dir.to_string(), t, k));
        self.write(true)
    }

    /// Write the file: through a temporary file and a rename; `durable`: fsynced, the file
    /// and then its directory, before returning (a mark must outlive an operating-system crash;
    /// progress may be lost, which only sends idempotent writes again).
    fn write(&self, durable: bool) -> Result<(), LoadError> {
        let Some(path) = &self.path else { return Ok(()) };
        let mut text: String = self.done.iter().map(|(d, (t, k))| format!("{d}\t{t}\t{k}\n")).collect();
        text.extend(self.in_doubt.iter().map(|(d, t, k)| format!("{d}\t{t}\t{k}\t{IN_DOUBT}\n")));
        let tmp = path.with_extension("tmp");
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            if durable {
                f.sync_all()?;
            }
            drop(f);
            std::fs::rename(&tmp, path)?;
            if durable {
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        written.map_err(|e| self.err(CheckpointProblem::Io(e)))?;
        cairn_format::txn::crash_point("load checkpoint written");
        Ok(())
    }
}

/// A partition as the file records it: token text, key hex.
fn entry(token: &Token, key: &[u8]) -> (String, String) {
    let t = match token {
        Token::Murmur3(t) => t.to_string(),
        other => other.to_string(),
    };
    (t, render::hex(key))
}

/// Table directory → partition (token text, key hex).
type Entries = BTreeMap<String, (String, String)>;

/// Partitions in doubt: (table directory, token text, key hex).
type Doubts = BTreeSet<(String, String, String)>;

/// The entries of a checkpoint file (none there: empty): the partitions done, and those in doubt.
fn read(path: &Path) -> Result<(Entries, Doubts), LoadError> {
    let err = |problem| LoadError::Checkpoint { path: path.to_path_buf(), problem };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(err(CheckpointProblem::Io(e))),
    };
    let (mut done, mut in_doubt) = (BTreeMap::new(), BTreeSet::new());
    for (n, l) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let bad = |why| err(CheckpointProblem::BadLine { line: n + 1, why });
        let fields: Vec<&str> = l.split('\t').collect();
        let (dir, token, key, doubt) = match fields.as_slice() {
            [dir, token, key] => (dir, token, key, false),
            [dir, token, key, mark] if *mark == IN_DOUBT => (dir, token, key, true),
            _ => return Err(bad("not three tab-separated fields, or four ending in in-doubt")),
        };
        if decode_hex(key).is_none() {
            return Err(bad("the key is not hex"));
        }
        let (dir, token, key) = (dir.to_string(), token.to_string(), key.to_string());
        if doubt {
            in_doubt.insert((dir, token, key));
        } else {
            done.insert(dir, (token, key));
        }
    }
    Ok((done, in_doubt))
}

/// Bytes of a hex string; `None` unless every character pair is a hex byte.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> (Token, Vec<u8>) {
        let key = vec![0, 0, 0, i];
        (Partitioner::Murmur3.token(&key), key)
    }

    #[test]
    fn a_partition_with_appends_is_in_doubt_until_it_is_passed_and_saved() -> Result<(), LoadError> {
        let dir = tempfile::tempdir()
            .map_err(|e| LoadError::Checkpoint { path: PathBuf::new(), problem: CheckpointProblem::Io(e) })?;
        let path = dir.path().join("load.state");
        let reopen = || Checkpoint::open(Some(&path), true);
        let (t1, k1) = key(1);
        let (t2, k2) = key(2);
        let mut c = reopen()?;
        assert!(!c.passed(&t1, &k1));
        // Before the partition with appends: it is in doubt, and the one before it (perhaps
        // still in flight) not done yet.
        c.mark_in_doubt("d", &t2, &k2)?;
        let r = reopen()?;
        assert_eq!(r.resume_after("d", Partitioner::Murmur3)?, None);
        assert_eq!(r.in_doubt("d", Partitioner::Murmur3)?, vec![(t2.clone(), k2.clone())]);
        assert_eq!(r.in_doubt("other", Partitioner::Murmur3)?, vec![]);
        // Acknowledged: done, no longer in doubt.
        c.passed(&t2, &k2);
        c.save("d")?;
        let r = reopen()?;
        assert_eq!(r.resume_after("d", Partitioner::Murmur3)?, Some((t2.clone(), k2.clone())));
        assert_eq!(r.in_doubt("d", Partitioner::Murmur3)?, vec![]);
        Ok(())
    }

    #[test]
    fn a_rerun_keeps_the_mark_until_it_has_passed_the_partition_in_doubt() -> Result<(), LoadError> {
        let dir = tempfile::tempdir()
            .map_err(|e| LoadError::Checkpoint { path: PathBuf::new(), problem: CheckpointProblem::Io(e) })?;
        let path = dir.path().join("load.state");
        let (t1, k1) = key(1);
        let (t2, k2) = key(2);
        let mut c = Checkpoint::open(Some(&path), true)?;
        c.mark_in_doubt("d", &t2, &k2)?;
        // A rerun checkpoints a partition before the one in doubt, and marks another (its input
        // has changed): both marks stay.
        let (t3, k3) = key(3);
        let mut c = Checkpoint::open(Some(&path), true)?;
        c.mark_in_doubt("d", &t3, &k3)?;
        c.passed(&t3, &k3);
        c.passed(&t1, &k1);
        let r = Checkpoint::open(Some(&path), true)?;
        assert_eq!(r.in_doubt("d", Partitioner::Murmur3)?.len(), 2);
        c.save("d")?;
        let r = Checkpoint::open(Some(&path), true)?;
        assert_eq!(r.in_doubt("d", Partitioner::Murmur3)?, vec![(t2.clone(), k2.clone())]);
        // Passed and saved: gone.
        c.passed(&t2, &k2);
        c.save("d")?;
        assert_eq!(Checkpoint::open(Some(&path), true)?.in_doubt("d", Partitioner::Murmur3)?, vec![]);
        // --plan records nothing, and marks nothing.
        let mut plan = Checkpoint::open(Some(&path), false)?;
        assert!(!plan.records());
        plan.mark_in_doubt("e", &t1, &k1)?;
        assert_eq!(Checkpoint::open(Some(&path), true)?.in_doubt("e", Partitioner::Murmur3)?, vec![]);
        Ok(())
    }

    #[test]
    fn a_fourth_field_other_than_in_doubt_does_not_read() {
        for text in ["d\t1\t00\tdone\n", "d\t1\t00\tin-doubt\tx\n", "d\t1\tzz\tin-doubt\n"] {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("load.state");
            std::fs::write(&path, text).expect("write");
            let e = Checkpoint::open(Some(&path), true).err();
            assert!(
                matches!(e, Some(LoadError::Checkpoint { problem: CheckpointProblem::BadLine { line: 1, .. }, .. })),
                "{text:?}: {e:?}"
            );
        }
    }
}
