//! The `--resume` checkpoint: per source table (its directories, comma-joined), the last
//! partition — in token order, the order the reconciled scan writes them — whose writes were all
//! acknowledged, as `<dir>\t<token>\t<key hex>` lines. A rerun skips every partition at or
//! before it. The file is rewritten every [`CHECKPOINT_EVERY`] partitions (after waiting for
//! every write in flight, so it never gets ahead of the cluster), before each partition with
//! list appends (below) and at the end of each table: through a temporary file, fsynced, and a
//! rename, its directory fsynced, so that neither a killed load nor an operating-system crash
//! leaves less than the old or the new file.
//!
//! A line that does not read, or whose token is not its key's token, stops the load: skipping
//! it would load that table again from its first partition (counters twice), and a foreign
//! token would skip the wrong partitions.
//!
//! # Partitions in doubt
//!
//! Every write is idempotent but a list append: Cassandra's coordinator gives the element a new
//! timeuuid cell path each time it applies it, so a partition with appends sent again after a
//! crash would hold its elements twice. Before such a partition is sent, every write before it
//! is acknowledged, and one write of the file moves the checkpoint up to the partition before it
//! and marks it in doubt:
//!
//! ```text
//! <dir>\t<token>\t<key hex>\tin-doubt\t<run>
//! ```
//!
//! `<run>` names the run that wrote the mark (lowercase hex, as the key). The next such
//! partition's write (or a periodic or final checkpoint, everything acknowledged) moves past it
//! and drops the mark: a run leaves at most one partition in doubt. Partitions without appends around it may still be in flight;
//! a rerun sends them again, which is harmless.
//!
//! A rerun cannot know whether the marked partition's appends were applied: all, none, or, for a
//! partition sent in several batches, some. It stops before writing anything until the operator,
//! having looked at the partition on the target, answers for that mark (`KEY@RUN=send|skip`,
//! [`InDoubt`]). An answer names the run, so it decides that mark only: a rerun that marks the
//! partition again (to send its appends again) replaces the mark with its own, which needs a new
//! answer. A
//! mark at or before the partition done is settled (the checkpoint moved past it once it was
//! acknowledged) and dropped; so is an answered mark whose partition the input no longer holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::types::render;

use crate::LoadError;
use crate::error::CheckpointProblem;

/// What a resumed load does with the list appends of a partition marked in doubt
/// (`--resume-in-doubt KEY@RUN=send|skip`).
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

/// A partition marked in doubt.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    /// The table's directories (comma-joined).
    pub dir: String,
    /// The token, as the file writes it.
    pub token: String,
    /// The key, in hex.
    pub key: String,
    /// The run that wrote the mark.
    pub run: String,
}

impl Mark {
    /// How an answer names it: `KEY@RUN`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.key, self.run)
    }
}

/// The checkpoint of a load (inert without `--resume`, or with `--plan`).
pub(crate) struct Checkpoint {
    /// The file (`--resume`).
    path: Option<PathBuf>,
    /// Whether partitions are recorded (not with `--plan`).
    record: bool,
    /// This run's name in the marks it writes.
    run: String,
    /// Per table directory: the last partition done (token text, key hex).
    done: BTreeMap<String, (String, String)>,
    /// Partitions marked in doubt.
    marks: BTreeSet<Mark>,
    /// Marks passed since the file was last written (dropped when it is written).
    passed_marks: Vec<Mark>,
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
        let (done, marks) = match path {
            Some(p) => read(p)?,
            None => Default::default(),
        };
        Ok(Checkpoint {
            path: path.map(Path::to_path_buf),
            record,
            run: run_name(),
            done,
            marks,
            passed_marks: Vec::new(),
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
        match self.done.get(dir) {
            Some((t, k)) => self.checked(dir, t, k, partitioner).map(Some),
            None => Ok(None),
        }
    }

    /// The marks of table `dir`, each with its token and key, the token checked to be the key's.
    pub fn marks(&self, dir: &str, partitioner: Partitioner) -> Result<Vec<(Mark, Token, Vec<u8>)>, LoadError> {
        let mut out = Vec::new();
        for m in self.marks.iter().filter(|m| m.dir == dir) {
            let (token, key) = self.checked(dir, &m.token, &m.key, partitioner)?;
            out.push((m.clone(), token, key));
        }
        Ok(out)
    }

    /// Every mark (for checking the operator's answers).
    pub fn all_marks(&self) -> &BTreeSet<Mark> {
        &self.marks
    }

    /// A recorded token and key, the token checked to be the key's.
    fn checked(&self, dir: &str, t: &str, k: &str, partitioner: Partitioner) -> Result<(Token, Vec<u8>), LoadError> {
        // Every key was checked to be hex when the file was read.
        let key = decode_hex(k).unwrap_or_default();
        let token = partitioner.token(&key);
        if token.to_string() != t {
            return Err(self.err(CheckpointProblem::ForeignToken {
                dir: dir.to_string(),
                token: t.to_string(),
                key: k.to_string(),
                actual: token.to_string(),
            }));
        }
        Ok((token, key))
    }

    /// A partition was handed to the sender; true when a checkpoint is due (drain the sender,
    /// then [`Checkpoint::save`]).
    pub fn passed(&mut self, token: &Token, key: &[u8]) -> bool {
        if !self.records() {
            return false;
        }
        let entry = entry(token, key);
        self.passed_marks.extend(self.marks.iter().filter(|m| (&m.token, &m.key) == (&entry.0, &entry.1)).cloned());
        self.last = Some(entry);
        self.since += 1;
        self.since >= CHECKPOINT_EVERY
    }

    /// Record table `dir` as done up to the last partition passed (everything sent must be
    /// acknowledged first), and write the file.
    pub fn save(&mut self, dir: &str) -> Result<(), LoadError> {
        self.since = 0;
        if self.last.is_none() && !std::mem::take(&mut self.settled) {
            return Ok(());
        }
        self.move_past(dir);
        self.write()
    }

    /// Before sending a partition with list appends (everything sent before it acknowledged):
    /// record table `dir` as done up to the last partition passed, drop the marks passed, mark
    /// this one in doubt, and write the file.
    pub fn mark_in_doubt(&mut self, dir: &str, token: &Token, key: &[u8]) -> Result<(), LoadError> {
        if !self.records() {
            return Ok(());
        }
        self.since = 0;
        self.move_past(dir);
        let (token, key) = entry(token, key);
        // A partition marked by an earlier run and sent again (answered `send`): the new mark
        // replaces it, so a partition has one mark and one answer decides it.
        self.marks.retain(|m| (m.dir.as_str(), &m.token, &m.key) != (dir, &token, &key));
        self.marks.insert(Mark { dir: dir.to_string(), token, key, run: self.run.clone() });
        self.write()
    }

    /// Done up to the last partition passed; the marks passed dropped.
    fn move_past(&mut self, dir: &str) {
        if let Some(last) = self.last.take() {
            self.done.insert(dir.to_string(), last);
        }
        // A mark of another table with the same token and key is not this partition's.
        for m in std::mem::take(&mut self.passed_marks).into_iter().filter(|m| m.dir == dir) {
            self.marks.remove(&m);
        }
    }

    /// Drop `mark` (settled: at or before the partition done, or answered and not in the
    /// input); the file is written at the next [`Checkpoint::save`]. Nothing with `--plan`.
    pub fn settle(&mut self, mark: &Mark) {
        if self.records() && self.marks.remove(mark) {
            self.settled = true;
        }
    }

    /// Write the file: a temporary file, fsynced, renamed over it, the directory fsynced.
    fn write(&self) -> Result<(), LoadError> {
        let Some(path) = &self.path else { return Ok(()) };
        let mut text: String = self.done.iter().map(|(d, (t, k))| format!("{d}\t{t}\t{k}\n")).collect();
        text.extend(self.marks.iter().map(|m| format!("{}\t{}\t{}\t{IN_DOUBT}\t{}\n", m.dir, m.token, m.key, m.run)));
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, path)?;
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::File::open(dir)?.sync_all()
        })();
        written.map_err(|e| self.err(CheckpointProblem::Io(e)))?;
        cairn_format::txn::crash_point("load checkpoint written");
        Ok(())
    }
}

/// A name for this run's marks: the clock and the process id, in hex.
fn run_name() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    format!("{:x}", nanos ^ (u64::from(std::process::id()) << 40))
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

/// The entries of a checkpoint file (none there: empty): the partitions done, and the marks.
fn read(path: &Path) -> Result<(Entries, BTreeSet<Mark>), LoadError> {
    let err = |problem| LoadError::Checkpoint { path: path.to_path_buf(), problem };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(err(CheckpointProblem::Io(e))),
    };
    let (mut done, mut marks) = (BTreeMap::new(), BTreeSet::new());
    for (n, l) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let bad = |why| err(CheckpointProblem::BadLine { line: n + 1, why });
        let fields: Vec<&str> = l.split('\t').collect();
        let (dir, token, key, run) = match fields.as_slice() {
            [dir, token, key] => (dir, token, key, None),
            [dir, token, key, mark, run] if *mark == IN_DOUBT && !run.is_empty() => (dir, token, key, Some(run)),
            _ => return Err(bad("not three tab-separated fields, or five with in-doubt and a run")),
        };
        // Lowercase, as written and as answers name them.
        let lower_hex = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if decode_hex(key).is_none() || !lower_hex(key) {
            return Err(bad("the key is not lowercase hex"));
        }
        if run.is_some_and(|r| !lower_hex(r)) {
            return Err(bad("the run is not lowercase hex"));
        }
        let (dir, token, key) = (dir.to_string(), token.to_string(), key.to_string());
        match run {
            Some(run) => {
                marks.insert(Mark { dir, token, key, run: run.to_string() });
            }
            None => {
                done.insert(dir, (token, key));
            }
        }
    }
    Ok((done, marks))
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

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    fn keys_of(c: &Checkpoint, dir: &str) -> Vec<Vec<u8>> {
        c.marks(dir, Partitioner::Murmur3).expect("marks").into_iter().map(|(_, _, k)| k).collect()
    }

    #[test]
    fn a_mark_moves_the_checkpoint_up_to_the_partition_before_and_the_next_drops_it() -> Result<(), LoadError> {
        let tmp = dir();
        let path = tmp.path().join("load.state");
        let reopen = || Checkpoint::open(Some(&path), true);
        let ((t1, k1), (t2, k2), (t3, k3)) = (key(1), key(2), key(3));
        let mut c = reopen()?;
        assert!(!c.passed(&t1, &k1));
        // Before the partition with appends (the one before it acknowledged): done up to the
        // one before, it marked.
        c.mark_in_doubt("d", &t2, &k2)?;
        let r = reopen()?;
        assert_eq!(r.resume_after("d", Partitioner::Murmur3)?, Some((t1.clone(), k1.clone())));
        assert_eq!(keys_of(&r, "d"), std::slice::from_ref(&k2));
        assert_eq!(keys_of(&r, "other"), Vec::<Vec<u8>>::new());
        // The next mark moves past it and drops it.
        c.passed(&t2, &k2);
        c.mark_in_doubt("d", &t3, &k3)?;
        let r = reopen()?;
        assert_eq!(r.resume_after("d", Partitioner::Murmur3)?, Some((t2.clone(), k2.clone())));
        assert_eq!(keys_of(&r, "d"), std::slice::from_ref(&k3));
        // So does the final checkpoint.
        c.passed(&t3, &k3);
        c.save("d")?;
        let r = reopen()?;
        assert_eq!(r.resume_after("d", Partitioner::Murmur3)?, Some((t3, k3)));
        assert!(r.all_marks().is_empty());
        Ok(())
    }

    #[test]
    fn a_rerun_keeps_a_mark_until_it_passes_it_and_its_own_mark_is_a_new_one() -> Result<(), LoadError> {
        let tmp = dir();
        let path = tmp.path().join("load.state");
        let ((t1, k1), (t2, k2)) = (key(1), key(2));
        let mut c = Checkpoint::open(Some(&path), true)?;
        c.mark_in_doubt("d", &t2, &k2)?;
        let first = Checkpoint::open(Some(&path), true)?.all_marks().clone();
        // A rerun checkpoints a partition before the one in doubt: the mark stays.
        let mut c = Checkpoint::open(Some(&path), true)?;
        c.passed(&t1, &k1);
        c.save("d")?;
        assert_eq!(Checkpoint::open(Some(&path), true)?.all_marks(), &first);
        // It marks the partition again to send it again: its own mark replaces the first.
        c.mark_in_doubt("d", &t2, &k2)?;
        let marks = Checkpoint::open(Some(&path), true)?.all_marks().clone();
        assert_eq!(marks.len(), 1);
        assert!(marks.iter().all(|m| m.run != first.iter().next().expect("one").run));
        // Passed and saved: gone.
        c.passed(&t2, &k2);
        c.save("d")?;
        assert!(Checkpoint::open(Some(&path), true)?.all_marks().is_empty());
        Ok(())
    }

    #[test]
    fn passing_a_partition_drops_the_mark_of_its_own_table_only() -> Result<(), LoadError> {
        let tmp = dir();
        let path = tmp.path().join("load.state");
        let (t1, k1) = key(1);
        let mut c = Checkpoint::open(Some(&path), true)?;
        c.mark_in_doubt("e", &t1, &k1)?;
        c.mark_in_doubt("d", &t1, &k1)?;
        c.passed(&t1, &k1);
        c.save("d")?;
        let r = Checkpoint::open(Some(&path), true)?;
        assert_eq!(keys_of(&r, "d"), Vec::<Vec<u8>>::new());
        assert_eq!(keys_of(&r, "e"), std::slice::from_ref(&k1));
        Ok(())
    }

    #[test]
    fn a_plan_neither_marks_nor_settles() -> Result<(), LoadError> {
        let tmp = dir();
        let path = tmp.path().join("load.state");
        let (t1, k1) = key(1);
        Checkpoint::open(Some(&path), true)?.mark_in_doubt("d", &t1, &k1)?;
        let before = std::fs::read_to_string(&path).expect("state");
        let mut plan = Checkpoint::open(Some(&path), false)?;
        assert!(!plan.records());
        let marks: Vec<Mark> = plan.all_marks().iter().cloned().collect();
        plan.settle(&marks[0]);
        plan.save("d")?;
        plan.mark_in_doubt("e", &t1, &k1)?;
        assert_eq!(std::fs::read_to_string(&path).expect("state"), before);
        Ok(())
    }

    #[test]
    fn a_mark_line_needs_in_doubt_and_a_run() {
        let bad = [
            "d\t1\t00\tin-doubt\n",
            "d\t1\t00\tdone\tab\n",
            "d\t1\t00\tin-doubt\t\n",
            "d\t1\tzz\tin-doubt\tab\n",
            "d\t1\t0A\tin-doubt\tab\n",
            "d\t1\t0a\tin-doubt\trun\n",
        ];
        for text in bad {
            let tmp = dir();
            let path = tmp.path().join("load.state");
            std::fs::write(&path, text).expect("write");
            let e = Checkpoint::open(Some(&path), true).err();
            assert!(
                matches!(e, Some(LoadError::Checkpoint { problem: CheckpointProblem::BadLine { line: 1, .. }, .. })),
                "{text:?}: {e:?}"
            );
        }
    }
}
