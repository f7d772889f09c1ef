//! The commit log: every write is appended here before it is applied, and replayed at
//! start-up into the memtables, so an acknowledged write survives the process being killed.
//!
//! Segments are `<data>/commitlog/CommitLog-2-<id>.log` (version 2, as Cassandra names segments
//! `CommitLog-<version>-<id>.log`). Each entry is
//!
//! ```text
//! [u32 payload length][u32 CRC32 of those 4 bytes][payload][u32 CRC32 of the payload]
//! ```
//!
//! (big-endian; the length has its own checksum, as Cassandra's entries do, so a torn length is
//! told from a torn payload). The payload is the mutations one write made, as
//! [`crate::storage::mutation`] lays them out (`[u32 n] mutation*`): every timestamp, TTL and
//! local deletion time is in them, so replaying reproduces the same cells without re-executing
//! anything, a mutation of a table dropped since (its id is gone) is not applied, and replaying a
//! write whose data was already flushed is harmless (the same cells reconcile to themselves).
//!
//! Version 1 segments (`CommitLog-<id>.log`, written by earlier Cairn releases) held the
//! statement as executed instead — `[long] write timestamp (µs) [long] server time (s) [string]
//! session keyspace [long string] statement [short] n, n × [value]` — and are still replayed,
//! by executing the statement again with the same timestamps and server time. A torn or corrupt tail entry — a process
//! killed mid-append — is detected by its checksums and skipped, never applied in part.
//!
//! Sync: `batch` acknowledges a write only once an fsync covers its entry. Group commit: one
//! fsync covers every entry appended before it began, whichever connection wrote them, and a
//! connection answers the requests it has pipelined after one wait (see [`crate::node`]). Reads
//! wait too, so nothing not yet durable is ever seen; a failed fsync stops the log (Cassandra's
//! `commit_failure_policy: stop`). `periodic` (the default) writes every entry to the file at
//! once (it survives the process) and fsyncs every period (a machine crash loses at most that
//! window). All segments are removed once every table has been flushed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(test)]
use crate::protocol::Writer;
use crate::protocol::{Reader, Value};
use crate::storage::mutation::{self, Mutation};

/// When appended entries reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync every period.
    Periodic(Duration),
    /// fsync each entry before acknowledging it.
    Batch,
}

/// A write as a version 1 segment logged it: the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Write timestamp (µs).
    pub timestamp: i64,
    /// Server time (s).
    pub now_s: i64,
    /// Session keyspace (empty: none).
    pub keyspace: String,
    /// The statement text.
    pub statement: String,
    /// Bound values.
    pub values: Vec<Value>,
}

/// What a segment holds, to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logged {
    /// A version 2 entry: one write's mutations.
    Mutations(Vec<Mutation>),
    /// A version 1 entry: a statement to execute again.
    Statement(Entry),
}

impl Entry {
    #[cfg(test)]
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.long(self.timestamp).long(self.now_s).string(&self.keyspace).long_string(&self.statement);
        w.short(self.values.len() as u16);
        for v in &self.values {
            match v {
                Value::Set(b) => {
                    w.bytes(Some(b));
                }
                Value::Null => {
                    w.int(-1);
                }
                Value::Unset => {
                    w.int(-2);
                }
            }
        }
        w.buf
    }

    fn decode(b: &[u8]) -> Option<Entry> {
        let mut r = Reader::new(b);
        let timestamp = r.long().ok()?;
        let now_s = r.long().ok()?;
        let keyspace = r.string().ok()?;
        let statement = r.long_string().ok()?;
        let n = r.short().ok()?;
        let values = (0..n).map(|_| r.value()).collect::<Result<Vec<_>, _>>().ok()?;
        r.at_end().then_some(Entry { timestamp, now_s, keyspace, statement, values })
    }
}

/// The open commit log.
pub struct CommitLog {
    dir: PathBuf,
    file: File,
    id: u64,
    size: u64,
    mode: SyncMode,
    /// Bytes appended since the log was opened, over every segment: an entry's position.
    written: u64,
    /// An fsync failed: the pages it covered may be lost and a later fsync would not say so,
    /// so the log takes no more entries.
    failed: bool,
}

/// Segments are rotated past this size.
const SEGMENT_BYTES: u64 = 32 << 20;

/// The version segments are written in.
const VERSION: u32 = 2;

/// The segments of `dir` by id (ids continue across versions): id, version, path.
fn segments(dir: &Path) -> std::io::Result<Vec<(u64, u32, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let name = p.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("CommitLog-"));
        let Some(name) = name.and_then(|n| n.strip_suffix(".log")) else { continue };
        let parsed = match name.split_once('-') {
            Some((v, id)) => v.parse::<u32>().ok().zip(id.parse::<u64>().ok()),
            None => name.parse::<u64>().ok().map(|id| (1, id)),
        };
        match parsed {
            Some((version, id)) => out.push((id, version, p)),
            None => crate::log!("cairn node: {}: not a commit log segment name; left alone", p.display()),
        }
    }
    out.sort();
    Ok(out)
}

/// One entry framed as the log frames it (hints are framed the same way):
/// `[u32 length][u32 CRC32 of the length][payload][u32 CRC32 of the payload]`.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut buf = Vec::with_capacity(payload.len() + 12);
    buf.extend_from_slice(&len);
    buf.extend_from_slice(&crc32fast::hash(&len).to_be_bytes());
    buf.extend_from_slice(payload);
    buf.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    buf
}

/// The payloads of the framed entries in `b`, each with its byte offset, and the offset of a
/// torn or corrupt entry that ended them (nothing after it is trusted).
pub(crate) fn frames(b: &[u8]) -> (Vec<(usize, &[u8])>, Option<usize>) {
    let be32 = |s: &[u8]| u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < b.len() {
        let Some(head) = b.get(pos..pos + 8) else { return (out, Some(pos)) };
        let len = be32(&head[..4]) as usize;
        if crc32fast::hash(&head[..4]) != be32(&head[4..]) {
            return (out, Some(pos));
        }
        let (Some(payload), Some(crc)) = (b.get(pos + 8..pos + 8 + len), b.get(pos + 8 + len..pos + 12 + len)) else {
            return (out, Some(pos));
        };
        if crc32fast::hash(payload) != be32(crc) {
            return (out, Some(pos));
        }
        out.push((pos, payload));
        pos += 12 + len;
    }
    (out, None)
}

/// The entries of one segment of `version`, and whether it ended in a torn or corrupt entry.
pub fn read_segment(path: &Path, version: u32) -> std::io::Result<(Vec<Logged>, Option<u64>)> {
    let b = std::fs::read(path)?;
    let (payloads, torn) = frames(&b);
    let mut out = Vec::new();
    for (pos, payload) in payloads {
        let entry = match version {
            1 => Entry::decode(payload).map(Logged::Statement),
            _ => match mutation::decode_all(payload) {
                Ok(ms) => Some(Logged::Mutations(ms)),
                Err(e) => {
                    crate::log!("cairn node: {}: entry at byte {pos}: {e}", path.display());
                    None
                }
            },
        };
        match entry {
            Some(e) => out.push(e),
            // An entry whose checksums hold but does not decode ends the segment too.
            None => return Ok((out, Some(pos as u64))),
        }
    }
    Ok((out, torn.map(|p| p as u64)))
}

impl CommitLog {
    /// Open the log in `dir`, returning it and every entry to replay (oldest first).
    pub fn open(dir: &Path, mode: SyncMode) -> std::io::Result<(CommitLog, Vec<Logged>)> {
        std::fs::create_dir_all(dir)?;
        let mut replay = Vec::new();
        let existing = segments(dir)?;
        for (_, version, p) in &existing {
            if *version > VERSION {
                return Err(std::io::Error::other(format!(
                    "{}: a commit log segment of version {version}, newer than this node writes ({VERSION})",
                    p.display()
                )));
            }
            let (entries, torn) = read_segment(p, *version)?;
            if let Some(at) = torn {
                crate::log!(
                    "cairn node: {}: torn or corrupt entry at byte {at} skipped (and anything after it)",
                    p.display()
                );
            }
            replay.extend(entries);
        }
        let id = existing.iter().map(|(id, _, _)| id + 1).max().unwrap_or(1);
        let file = Self::create(dir, id)?;
        Ok((CommitLog { dir: dir.to_path_buf(), file, id, size: 0, mode, written: 0, failed: false }, replay))
    }

    fn create(dir: &Path, id: u64) -> std::io::Result<File> {
        OpenOptions::new().create(true).append(true).open(dir.join(format!("CommitLog-{VERSION}-{id}.log")))
    }

    /// Append one write's mutations as an entry, returning the log position just past it (durable once
    /// [`CommitLog::durable_handle`]'s fsync taken at or after that position returns). A
    /// finished segment is fsynced before the next one begins.
    pub fn append_mutations(&mut self, mutations: &[Mutation]) -> std::io::Result<u64> {
        let mut payload = Vec::new();
        mutation::encode_all(mutations, &mut payload);
        self.append(&payload)
    }

    fn append(&mut self, payload: &[u8]) -> std::io::Result<u64> {
        if self.failed {
            return Err(std::io::Error::other("an earlier commit log fsync failed; no more writes are taken"));
        }
        if self.size > SEGMENT_BYTES {
            if let Err(e) = self.file.sync_data() {
                self.failed = true;
                return Err(e);
            }
            self.id += 1;
            self.file = Self::create(&self.dir, self.id)?;
            self.size = 0;
        }
        let buf = frame(payload);
        // One write: the entry reaches the OS whole or is torn at the end, never interleaved.
        self.file.write_all(&buf)?;
        self.size += buf.len() as u64;
        self.written += buf.len() as u64;
        Ok(self.written)
    }

    /// The position everything appended so far ends at.
    pub fn position(&self) -> u64 {
        self.written
    }

    /// The position everything appended so far ends at, and a handle to fsync for it (earlier
    /// segments were fsynced when they were finished).
    pub fn durable_handle(&self) -> std::io::Result<(u64, File)> {
        Ok((self.written, self.file.try_clone()?))
    }

    /// fsync the current segment.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Everything is flushed: remove every segment and start a new one.
    pub fn truncate(&mut self) -> std::io::Result<()> {
        self.file.sync_data()?;
        for (_, _, p) in segments(&self.dir)? {
            std::fs::remove_file(p)?;
        }
        self.id += 1;
        self.file = Self::create(&self.dir, self.id)?;
        self.size = 0;
        Ok(())
    }

    /// The sync mode.
    pub fn mode(&self) -> SyncMode {
        self.mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_format::partition::{OwnedCell, Partition};

    fn write(i: i64) -> Vec<Mutation> {
        let mut p = Partition::new(i.to_be_bytes().to_vec());
        p.row_mut(&[]).add_cell(OwnedCell::live(0, None, vec![1, 2], i));
        vec![Mutation { table_id: [3; 16], partition: p }]
    }

    #[test]
    fn entries_round_trip_and_a_torn_tail_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, replay) = CommitLog::open(dir.path(), SyncMode::Batch).expect("open");
            assert!(replay.is_empty());
            for i in 0..3 {
                log.append_mutations(&write(i)).expect("append");
            }
        }
        // Tear the last entry.
        let seg = segments(dir.path()).expect("list")[0].2.clone();
        assert!(seg.to_string_lossy().ends_with("CommitLog-2-1.log"), "{}", seg.display());
        let len = std::fs::metadata(&seg).expect("meta").len();
        let f = OpenOptions::new().write(true).open(&seg).expect("open");
        f.set_len(len - 3).expect("truncate");
        let (mut log, replay) = CommitLog::open(dir.path(), SyncMode::Batch).expect("reopen");
        assert_eq!(
            replay,
            vec![Logged::Mutations(write(0)), Logged::Mutations(write(1))],
            "the torn entry is not applied"
        );
        log.truncate().expect("truncate");
        assert_eq!(segments(dir.path()).expect("list").len(), 1);
        let (_, replay) = CommitLog::open(dir.path(), SyncMode::Batch).expect("reopen");
        assert!(replay.is_empty());
        // A flipped payload byte fails its checksum.
        let mut w = CommitLog::open(dir.path(), SyncMode::Batch).expect("open").0;
        w.append_mutations(&write(9)).expect("append");
        let seg = segments(dir.path()).expect("list").last().expect("seg").2.clone();
        let mut bytes = std::fs::read(&seg).expect("read");
        bytes[12] ^= 0xff;
        std::fs::write(&seg, bytes).expect("write");
        let (_, replay) = CommitLog::open(dir.path(), SyncMode::Batch).expect("reopen");
        assert!(replay.is_empty());
    }

    #[test]
    fn version_1_segments_are_replayed_as_statements_before_newer_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = Entry {
            timestamp: 5,
            now_s: 7,
            keyspace: "ks".into(),
            statement: "INSERT INTO t (k) VALUES (?)".into(),
            values: vec![Value::Set(vec![1, 2]), Value::Null, Value::Unset],
        };
        let payload = e.encode();
        let len = (payload.len() as u32).to_be_bytes();
        let mut seg = len.to_vec();
        seg.extend_from_slice(&crc32fast::hash(&len).to_be_bytes());
        seg.extend_from_slice(&payload);
        seg.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
        std::fs::write(dir.path().join("CommitLog-4.log"), seg).expect("write v1");
        let (mut log, replay) = CommitLog::open(dir.path(), SyncMode::Batch).expect("open");
        assert_eq!(replay, vec![Logged::Statement(e.clone())]);
        log.append_mutations(&write(1)).expect("append");
        assert!(dir.path().join("CommitLog-2-5.log").is_file(), "ids continue after the version 1 segment");
        let (_, replay) = CommitLog::open(dir.path(), SyncMode::Batch).expect("reopen");
        assert_eq!(replay, vec![Logged::Statement(e), Logged::Mutations(write(1))]);
        std::fs::write(dir.path().join("CommitLog-9-1.log"), b"").expect("write v9");
        let err = CommitLog::open(dir.path(), SyncMode::Batch).err().expect("a newer version is refused");
        assert!(err.to_string().contains("version 9"), "{err}");
    }
}
