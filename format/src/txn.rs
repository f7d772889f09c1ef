//! Cassandra's lifecycle transaction log: how a rewrite of SSTables in a table directory is made
//! crash-safe (Cassandra 3.0+, `db/lifecycle/LogFile.java`, `LogRecord.java`,
//! `LogTransaction.java`). Cairn writes and reads the same files, so an operation interrupted
//! in Cairn is completed or rolled back by Cassandra's next start, and the other way round.
//!
//! A transaction is one text file beside the SSTables, named
//! `<version>_txn_<operation>_<uuid>.log` (`nb_txn_compaction_<uuid>.log`; the operation is
//! Cassandra's `OperationType` name in lower case without spaces). Each line is a record:
//!
//! ```text
//!   ADD:[/abs/dir/nb-7-big,0,8][2503484923]          a new SSTable (kept on commit)
//!   REMOVE:[/abs/dir/nb-3-big,1733450000123,8][...]  an old SSTable (kept on abort)
//!   COMMIT:[,0,0][2613697770]                        the new SSTables replace the old
//!   ABORT:[,0,0][...]                                the old SSTables stay
//!
//!   TYPE:[path, update time, number of files][checksum]
//! ```
//!
//! The path is the canonical absolute path of the SSTable's files up to, not including, the `-`
//! before the component name; the update time (ms, REMOVE only) is the newest modification time
//! of its files, the number of files how many it has. The checksum is CRC32 over the path bytes,
//! the type name, the update time as two big-endian 32-bit halves (low half first) and the
//! number of files, big-endian.
//!
//! The order of a rewrite, each step durable (file and directory fsync) before the next:
//!
//! 1. create the log; 2. an ADD record before each new SSTable is written; 3. write the new
//!    SSTables; 4. a REMOVE record for each input; 5. COMMIT; 6. delete the inputs (oldest file
//!    first); 7. delete the log.
//!
//! On the next start (`cairn compact cleanup`, `cairn node`, Cassandra) every log is resolved:
//! committed (its last valid record is COMMIT) → the REMOVE records' files go; otherwise → the
//! ADD records' files go (their hidden `.tmp` files too); then the log goes. A log whose only
//! bad record is the last one was interrupted while appending it and is resolved without it; a
//! bad record before the last, or a REMOVE record whose files have changed since (a backup
//! copied back), is an error and nothing is deleted. Readers that find a log do not change
//! anything: they read the SSTables the log says are live (the old ones until COMMIT, the new
//! ones after) and warn.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::descriptor::{Component, Descriptor};
use crate::error::{Error, Result};

/// The kind of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// A new SSTable, kept on commit.
    Add,
    /// An old SSTable, kept on abort.
    Remove,
    /// The transaction is committed.
    Commit,
    /// The transaction is aborted.
    Abort,
}

impl RecordType {
    fn name(self) -> &'static str {
        match self {
            RecordType::Add => "ADD",
            RecordType::Remove => "REMOVE",
            RecordType::Commit => "COMMIT",
            RecordType::Abort => "ABORT",
        }
    }

    fn parse(s: &str) -> Option<RecordType> {
        Some(match s.to_ascii_uppercase().as_str() {
            "ADD" => RecordType::Add,
            "REMOVE" => RecordType::Remove,
            "COMMIT" => RecordType::Commit,
            "ABORT" => RecordType::Abort,
            _ => return None,
        })
    }
}

/// One record of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its kind.
    pub kind: RecordType,
    /// The SSTable's path prefix (no trailing `-`); empty for COMMIT and ABORT.
    pub path: String,
    /// Newest modification time of its files (ms; REMOVE only, else 0).
    pub update_time: i64,
    /// Number of files (ADD and REMOVE; else 0).
    pub num_files: i32,
    /// The checksum as written.
    pub checksum: u64,
}

impl Record {
    fn new(kind: RecordType, path: String, update_time: i64, num_files: i32) -> Record {
        let mut r = Record { kind, path, update_time, num_files, checksum: 0 };
        r.checksum = r.compute_checksum();
        r
    }

    /// Cassandra's `LogRecord.computeChecksum`.
    pub fn compute_checksum(&self) -> u64 {
        let mut h = crc32fast::Hasher::new();
        h.update(self.path.as_bytes());
        h.update(self.kind.name().as_bytes());
        h.update(&(self.update_time as i32).to_be_bytes());
        h.update(&((self.update_time as u64 >> 32) as i32).to_be_bytes());
        h.update(&self.num_files.to_be_bytes());
        u64::from(h.finalize())
    }

    /// The record as a line (no newline).
    pub fn line(&self) -> String {
        format!("{}:[{},{},{}][{}]", self.kind.name(), self.path, self.update_time, self.num_files, self.checksum)
    }

    /// Parse a line; `None` when it is not a record (Cassandra's `UNKNOWN`).
    pub fn parse(line: &str) -> Option<Record> {
        let (kind, rest) = line.split_once(':')?;
        let kind = RecordType::parse(kind)?;
        let rest = rest.strip_prefix('[')?;
        let (fields, rest) = rest.split_once(']')?;
        let checksum = rest.strip_prefix('[')?.strip_suffix(']')?;
        let mut f = fields.rsplitn(3, ',');
        let num_files = f.next()?.parse().ok()?;
        let update_time = f.next()?.parse().ok()?;
        let path = f.next()?.to_string();
        let checksum = if checksum.is_empty() { 0 } else { checksum.parse().ok()? };
        Some(Record { kind, path, update_time, num_files, checksum })
    }

    /// Whether its checksum matches its content.
    pub fn is_valid(&self) -> bool {
        self.checksum == self.compute_checksum()
    }

    /// The directory and the file-name prefix (`nb-7-big-`) of the SSTable a file record names.
    fn prefix(&self) -> Option<(PathBuf, String)> {
        let p = Path::new(&self.path);
        Some((p.parent()?.to_path_buf(), format!("{}-", p.file_name()?.to_str()?)))
    }

    /// The files on disk of the SSTable a file record names (its components and Cairn's hidden
    /// temporary files for them).
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        let Some((dir, prefix)) = self.prefix() else { return Ok(Vec::new()) };
        let hidden = format!(".{prefix}");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io(&dir, e))?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) || (name.starts_with(&hidden) && name.ends_with(".tmp")) {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The path prefix a record uses for `d`: canonical directory, `<version>-<id>-big`.
fn record_path(d: &Descriptor) -> Result<String> {
    let dir = std::fs::canonicalize(&d.directory).map_err(|e| Error::io(&d.directory, e))?;
    Ok(dir.join(format!("{}-{}-big", d.version, d.id)).display().to_string())
}

/// Newest modification time (ms) of `files`, and how many exist.
fn update_time(files: &[PathBuf]) -> Result<(i64, i32)> {
    let mut newest = 0i64;
    let mut n = 0i32;
    for f in files {
        let m = match std::fs::metadata(f) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(f, e)),
        };
        let ms = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        newest = newest.max(ms);
        n += 1;
    }
    Ok((newest, n))
}

/// fsync a directory, so that the names created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(|e| Error::io(dir, e))
}

/// Fault injection for crash tests: with `CAIRN_CRASH_AT=N` in the environment, the process
/// aborts (no destructors, no cleanup: as a SIGKILL would leave it) at the N-th crash point it
/// reaches. Crash points sit at every durable step of a transaction and of publishing an
/// SSTable. Unset, this costs one environment read per step.
pub fn crash_point(what: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static REACHED: AtomicU64 = AtomicU64::new(0);
    let Some(at) = std::env::var("CAIRN_CRASH_AT").ok().and_then(|v| v.parse::<u64>().ok()) else { return };
    let n = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
    if n == at {
        eprintln!("cairn: crash point {n} ({what}): aborting as asked by CAIRN_CRASH_AT");
        std::process::abort();
    }
}

/// Whether a file name is a transaction log's.
pub fn is_log_name(name: &str) -> bool {
    name.ends_with(".log") && name.get(2..7) == Some("_txn_") && name.len() > 11
}

/// An operation under way: a log being written.
#[derive(Debug)]
pub struct Transaction {
    path: PathBuf,
    dir: PathBuf,
    file: File,
    records: Vec<Record>,
    done: bool,
}

/// Operation names as Cassandra writes them in log file names (`OperationType.fileName`).
pub mod operation {
    /// A compaction.
    pub const COMPACTION: &str = "compaction";
    /// `nodetool garbagecollect`.
    pub const GARBAGE_COLLECT: &str = "removedeleteddata";
    /// `sstablesplit` (which Cassandra runs as an unknown compaction type).
    pub const SPLIT: &str = "unknowncompactiontype";
    /// `sstableupgrade`.
    pub const UPGRADE: &str = "upgradesstables";
    /// A memtable flush.
    pub const FLUSH: &str = "flush";
    /// `nodetool cleanup`.
    pub const CLEANUP: &str = "cleanup";
    /// Streamed data written as SSTables (bootstrap, `cairn load --stream`).
    pub const STREAM: &str = "stream";
}

impl Transaction {
    /// Start a transaction of `operation` in `dir` (the log named for `version`).
    pub fn begin(dir: &Path, version: crate::Version, operation: &str) -> Result<Transaction> {
        let id = uuid_v4();
        let path = dir.join(format!("{version}_txn_{operation}_{id}.log"));
        let file = OpenOptions::new().create_new(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        sync_dir(dir)?;
        crash_point("transaction log created");
        Ok(Transaction { path, dir: dir.to_path_buf(), file, records: Vec::new(), done: false })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&mut self, r: Record) -> Result<()> {
        let line = format!("{}\n", r.line());
        self.file.write_all(line.as_bytes()).map_err(|e| Error::io(&self.path, e))?;
        self.file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        self.records.push(r);
        crash_point("transaction record appended");
        Ok(())
    }

    /// Record a new SSTable of `num_files` components, before any of its files is written.
    pub fn add(&mut self, d: &Descriptor, num_files: usize) -> Result<()> {
        let r = Record::new(RecordType::Add, record_path(d)?, 0, i32::try_from(num_files).unwrap_or(i32::MAX));
        self.append(r)
    }

    /// Record that `d` (an existing SSTable) goes when the transaction commits.
    pub fn remove(&mut self, d: &Descriptor) -> Result<()> {
        let mut r = Record::new(RecordType::Remove, record_path(d)?, 0, 0);
        let (time, n) = update_time(&r.files()?)?;
        r = Record::new(RecordType::Remove, r.path, time, n);
        self.append(r)
    }

    /// Commit: the new SSTables replace the removed ones, which are deleted, then the log.
    pub fn commit(mut self) -> Result<()> {
        // The new SSTables' names are durable before the commit that makes them live.
        sync_dir(&self.dir)?;
        self.append(Record::new(RecordType::Commit, String::new(), 0, 0))?;
        self.done = true;
        finish(&self.path, &self.records, true)
    }

    /// Abort: the new SSTables' files are deleted, then the log.
    pub fn abort(mut self) -> Result<()> {
        self.append(Record::new(RecordType::Abort, String::new(), 0, 0))?;
        self.done = true;
        finish(&self.path, &self.records, false)
    }
}

impl Drop for Transaction {
    /// A transaction dropped unfinished (an error on the way) is rolled back, as Cassandra's
    /// `LogTransaction` does on abort. A failure here leaves the log for the next cleanup.
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            let r = Record::new(RecordType::Abort, String::new(), 0, 0);
            let line = format!("{}\n", r.line());
            if self.file.write_all(line.as_bytes()).and_then(|()| self.file.sync_all()).is_ok() {
                self.records.push(r);
                let _ = finish(&self.path, &self.records, false);
            }
        }
    }
}

/// Delete the files of the records that lose (`Remove` after a commit, the added ones after an
/// abort), oldest first, then the log; each step durable.
fn finish(log: &Path, records: &[Record], committed: bool) -> Result<()> {
    let dir = log.parent().unwrap_or(Path::new("."));
    sync_dir(dir)?;
    let losing = if committed { RecordType::Remove } else { RecordType::Add };
    for r in records.iter().filter(|r| r.kind == losing) {
        let mut files = r.files()?;
        // Oldest first, so that an interrupted deletion leaves the newest time unchanged.
        let mut timed: Vec<(i64, PathBuf)> = Vec::new();
        for f in files.drain(..) {
            let (t, _) = update_time(std::slice::from_ref(&f))?;
            timed.push((t, f));
        }
        timed.sort();
        for (_, f) in timed {
            match std::fs::remove_file(&f) {
                Ok(()) => crash_point("file of a finished transaction deleted"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&f, e)),
            }
        }
    }
    sync_dir(dir)?;
    std::fs::remove_file(log).map_err(|e| Error::io(log, e))?;
    sync_dir(dir)?;
    crash_point("transaction log deleted");
    Ok(())
}

/// A log found in a directory, read and verified (nothing changed).
#[derive(Debug, Clone)]
pub struct LogState {
    /// The log file.
    pub path: PathBuf,
    /// Its valid records (a corrupt last record dropped, as Cassandra does).
    pub records: Vec<Record>,
    /// Committed: the REMOVE records' SSTables are obsolete; else the ADD records' are.
    pub committed: bool,
    /// Why it cannot be resolved automatically, if it cannot.
    pub problem: Option<String>,
}

impl LogState {
    /// The path prefixes of the SSTables this log makes obsolete (not live).
    pub fn obsolete(&self) -> impl Iterator<Item = &str> {
        let losing = if self.committed { RecordType::Remove } else { RecordType::Add };
        self.records.iter().filter(move |r| r.kind == losing).map(|r| r.path.as_str())
    }
}

/// Read and verify the log at `path` (Cassandra's `LogFile.verify`).
pub fn read_log(path: &Path) -> Result<LogState> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let mut records = Vec::new();
    let mut problem = None;
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        match Record::parse(line).filter(Record::is_valid) {
            Some(r) => records.push(r),
            // Interrupted while appending the last record: resolved without it.
            None if last => {}
            None => {
                problem = Some(format!("record {} is corrupt: {line:?}", i + 1));
                break;
            }
        }
    }
    if problem.is_none() {
        for r in records.iter().filter(|r| r.kind == RecordType::Remove) {
            let (time, n) = update_time(&r.files()?)?;
            if n > 0 && time != r.update_time {
                problem = Some(format!(
                    "the files of {} changed since the log was written (newest {time} ms, recorded {} ms)",
                    r.path, r.update_time
                ));
                break;
            }
        }
    }
    let committed = records.last().is_some_and(|r| r.kind == RecordType::Commit);
    Ok(LogState { path: path.to_path_buf(), records, committed, problem })
}

/// What a table directory holds besides live, complete SSTables.
#[derive(Debug, Clone, Default)]
pub struct Leftovers {
    /// Unfinished transactions.
    pub logs: Vec<LogState>,
    /// Hidden temporary files of an interrupted write (`.nb-7-big-Data.db.tmp`).
    pub temporary: Vec<PathBuf>,
    /// Components of SSTables without Data.db (what an interrupted deletion or copy leaves;
    /// readers never see them).
    pub incomplete: Vec<(PathBuf, String)>,
}

impl Leftovers {
    /// Nothing to report.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty() && self.temporary.is_empty() && self.incomplete.is_empty()
    }

    /// Whether `d` is obsolete by an unfinished transaction (so not live).
    pub fn is_obsolete(&self, d: &Descriptor) -> bool {
        let Ok(dir) = std::fs::canonicalize(&d.directory) else { return false };
        let p = dir.join(format!("{}-{}-big", d.version, d.id)).display().to_string();
        self.logs.iter().any(|l| l.obsolete().any(|o| o == p))
    }

    /// One line per leftover, for warnings and `verify`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for l in &self.logs {
            let state = if l.committed { "committed, not cleaned up" } else { "unfinished" };
            match &l.problem {
                Some(p) => out.push(format!("{}: transaction log {state}, cannot be resolved: {p}", l.path.display())),
                None => out.push(format!(
                    "{}: transaction log {state}: {} until `cairn compact cleanup` resolves it",
                    l.path.display(),
                    if l.committed { "its new SSTables are read" } else { "its new SSTables are ignored" }
                )),
            }
        }
        for t in &self.temporary {
            out.push(format!("{}: temporary file of an interrupted write", t.display()));
        }
        for (p, what) in &self.incomplete {
            out.push(format!("{}: incomplete SSTable: {what}", p.display()));
        }
        out
    }
}

/// Look at `dir` (a table or snapshot directory) without changing anything.
pub fn leftovers(dir: &Path) -> Result<Leftovers> {
    let mut l = Leftovers::default();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io(dir, e))?;
        if e.file_type().map_err(|err| Error::io(e.path(), err))?.is_file() {
            names.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let mut sstables: std::collections::BTreeMap<Descriptor, Vec<Component>> = Default::default();
    for name in &names {
        let p = dir.join(name);
        if is_log_name(name) {
            l.logs.push(read_log(&p)?);
        } else if name.starts_with('.') && name.ends_with(".tmp") {
            l.temporary.push(p);
        } else if let Ok((d, c)) = Descriptor::from_path(&p) {
            sstables.entry(d).or_default().push(c);
        }
    }
    let in_log = |d: &Descriptor| {
        let tail = format!("/{}-{}-big", d.version, d.id);
        l.logs.iter().any(|log| log.records.iter().any(|r| r.path.ends_with(&tail)))
    };
    let mut incomplete = Vec::new();
    for (d, present) in &sstables {
        // Files a transaction accounts for are its business. An SSTable with Data.db is read
        // (and `verify` checks its TOC); one without is invisible to readers: say so.
        if in_log(d) || present.contains(&Component::Data) {
            continue;
        }
        let names: Vec<&str> = present.iter().map(|c| c.suffix()).collect();
        incomplete.push((d.path(Component::Data), format!("no Data.db, only {}", names.join(", "))));
    }
    l.incomplete = incomplete;
    Ok(l)
}

/// What [`cleanup`] did in one directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// Logs resolved as committed (their removed SSTables deleted).
    pub committed: Vec<PathBuf>,
    /// Logs rolled back (their added SSTables deleted).
    pub rolled_back: Vec<PathBuf>,
    /// Temporary files deleted.
    pub temporary: Vec<PathBuf>,
}

/// Resolve every transaction in `dir` as Cassandra does at start-up, and delete leftover
/// temporary files. A log that cannot be resolved is an error; nothing of it is deleted.
/// Incomplete SSTables no log accounts for are left alone (they are reported, never guessed at).
pub fn cleanup(dir: &Path) -> Result<Cleaned> {
    let l = leftovers(dir)?;
    if let Some(bad) = l.logs.iter().find(|x| x.problem.is_some()) {
        return Err(Error::Transaction { path: bad.path.clone(), problem: bad.problem.clone().unwrap_or_default() });
    }
    let mut done = Cleaned::default();
    for log in &l.logs {
        finish(&log.path, &log.records, log.committed)?;
        if log.committed {
            done.committed.push(log.path.clone());
        } else {
            done.rolled_back.push(log.path.clone());
        }
    }
    for t in &l.temporary {
        match std::fs::remove_file(t) {
            Ok(()) => done.temporary.push(t.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(t, e)),
        }
    }
    if !done.temporary.is_empty() {
        sync_dir(dir)?;
    }
    Ok(done)
}

/// A random (version 4) UUID, from the OS's randomness where it can be read.
fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    let read = File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    if read.is_err() {
        // No /dev/urandom: time and process id are unique enough for one directory.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        b = (t ^ (u128::from(std::process::id()) << 64)).to_be_bytes();
    }
    let mut v = u128::from_be_bytes(b);
    // Version 4, variant 10.
    v = (v & !(0xf << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    let h = format!("{v:032x}");
    let part = |a: usize, z: usize| h.get(a..z).unwrap_or_default().to_string();
    format!("{}-{}-{}-{}-{}", part(0, 8), part(8, 12), part(12, 16), part(16, 20), part(20, 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_checksums_match_cassandras() {
        // A record as Cassandra 4.1 writes it (computed with LogRecord.computeChecksum's rule).
        let r = Record::new(RecordType::Add, "/var/lib/cassandra/data/ks/t-1/nb-5-big".into(), 0, 8);
        assert_eq!(Record::parse(&r.line()), Some(r.clone()));
        assert!(r.is_valid());
        let c = Record::new(RecordType::Commit, String::new(), 0, 0);
        assert_eq!(c.line(), format!("COMMIT:[,0,0][{}]", c.checksum));
        assert!(Record::parse(&c.line()).is_some_and(|x| x.is_valid()));
        let mut bad = r.clone();
        bad.num_files = 7;
        assert!(!bad.is_valid());
        assert_eq!(Record::parse("ADD:[/x/nb-5-big,0,8]"), None, "no checksum brackets");
        assert_eq!(Record::parse("UPDATE:[/x,0,8][1]"), None);
        assert!(is_log_name("nb_txn_compaction_0a1b2c3d-0000-4000-8000-000000000000.log"));
        assert!(!is_log_name("nb-1-big-Data.db"));
    }

    #[test]
    fn the_checksum_is_crc32_over_path_type_time_halves_and_count() {
        let r = Record::new(RecordType::Remove, "/d/nb-1-big".into(), 0x0000_0001_0000_0002, 3);
        let mut bytes = b"/d/nb-1-bigREMOVE".to_vec();
        bytes.extend([0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3]);
        assert_eq!(r.checksum, u64::from(crc32fast::hash(&bytes)));
    }
}
