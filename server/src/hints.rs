//! Hinted handoff: a write a replica missed — it was down, refused the connection or did not
//! answer — is kept by the coordinator as a *hint* and replayed to that replica once gossip sees
//! it up again (Cassandra's `hints/HintsService`). Hints are kept only for a replica down less
//! than `max_hint_window` (3 hours by default): one down longer must be repaired instead.
//!
//! Hints live on disk, so they survive a restart of the coordinator: one file per target node,
//! `<data>/hints/<host id>.hints`, each entry framed as the commit log frames its entries:
//!
//! ```text
//! [u32 payload length][u32 CRC32 of those 4 bytes][payload][u32 CRC32 of the payload]
//! payload := [i64 creation time, ms since the epoch] [u32 n] mutation*   (storage::mutation)
//! ```
//!
//! Delivery renames the file to `<host id>.hints.delivering` first (new hints go to a new file
//! meanwhile), sends its entries in order as [`crate::ring::messaging::Verb::Hint`] messages, and
//! removes it once every entry was applied; a delivery that fails part-way keeps the file for the
//! next attempt (replaying a hint twice is harmless: mutations reconcile). A torn or corrupt entry
//! — a coordinator killed mid-append — ends the file: it and what follows are dropped, logged.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::storage::mutation::{self, Mutation};

/// The hints a node keeps for others.
pub(crate) struct Hints {
    dir: PathBuf,
    /// Serialises appends and delivery.
    lock: Mutex<()>,
}

/// Hints kept for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The target's host id (hex).
    pub host_id: String,
    /// Entries (writes) kept.
    pub entries: usize,
    /// Mutations in them.
    pub mutations: usize,
    /// Bytes on disk.
    pub bytes: u64,
}

/// The entries of a hint file (creation time, mutations), stopping at a torn or corrupt entry.
pub(crate) fn read_file(path: &Path) -> std::io::Result<Vec<(i64, Vec<Mutation>)>> {
    let b = std::fs::read(path)?;
    let (payloads, torn) = crate::storage::commitlog::frames(&b);
    let mut out = Vec::new();
    let bad = |pos: usize, what: &str| {
        crate::log!("cairn node: {}: {what} at byte {pos}; the rest of the file is dropped", path.display());
    };
    for (pos, payload) in payloads {
        let Some((created, rest)) = payload.split_first_chunk::<8>() else {
            bad(pos, "an entry without its creation time");
            return Ok(out);
        };
        match mutation::decode_all(rest) {
            Ok(ms) => out.push((i64::from_be_bytes(*created), ms)),
            Err(e) => {
                bad(pos, &e.to_string());
                return Ok(out);
            }
        }
    }
    if let Some(pos) = torn {
        bad(pos, "a torn or corrupt entry");
    }
    Ok(out)
}

impl Hints {
    /// The hints under `<data>/hints`.
    pub(crate) fn open(data: &Path) -> std::io::Result<Hints> {
        let dir = data.join("hints");
        std::fs::create_dir_all(&dir)?;
        Ok(Hints { dir, lock: Mutex::new(()) })
    }

    fn path(&self, host_id: &str) -> PathBuf {
        self.dir.join(format!("{host_id}.hints"))
    }

    /// Keep `mutations` for the node with `host_id`.
    pub(crate) fn store(&self, host_id: &str, mutations: &[Mutation]) -> std::io::Result<()> {
        let mut payload = crate::node::now_micros().div_euclid(1000).to_be_bytes().to_vec();
        mutation::encode_all(mutations, &mut payload);
        let _g = self.lock.lock().map_err(|_| std::io::Error::other("hints lock poisoned"))?;
        let mut f = OpenOptions::new().create(true).append(true).open(self.path(host_id))?;
        // One write: an entry reaches the file whole or torn at its end.
        f.write_all(&crate::storage::commitlog::frame(&payload))
    }

    /// The targets with hints, and how many.
    pub(crate) fn pending(&self) -> std::io::Result<Vec<Pending>> {
        let _g = self.lock.lock().map_err(|_| std::io::Error::other("hints lock poisoned"))?;
        let mut by_host: BTreeMap<String, Pending> = BTreeMap::new();
        for e in std::fs::read_dir(&self.dir)? {
            let path = e?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            let Some(host) = name.strip_suffix(".hints").or_else(|| name.strip_suffix(".hints.delivering")) else {
                continue;
            };
            // A file being delivered may be gone by now: it holds nothing any more.
            let entries = match read_file(&path) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let bytes = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let p = by_host.entry(host.to_string()).or_insert_with(|| Pending {
                host_id: host.to_string(),
                entries: 0,
                mutations: 0,
                bytes: 0,
            });
            p.entries += entries.len();
            p.mutations += entries.iter().map(|(_, ms)| ms.len()).sum::<usize>();
            p.bytes += bytes;
        }
        Ok(by_host.into_values().collect())
    }

    /// Whether any hints are kept for `host_id`.
    pub(crate) fn has(&self, host_id: &str) -> bool {
        self.path(host_id).is_file() || self.dir.join(format!("{host_id}.hints.delivering")).is_file()
    }

    /// Deliver the hints for `host_id` with `send` (which applies one entry's mutations on the
    /// target); returns the entries delivered. The file goes once all were.
    pub(crate) fn deliver(
        &self,
        host_id: &str,
        send: &mut dyn FnMut(&[Mutation]) -> Result<(), String>,
    ) -> std::io::Result<usize> {
        let delivering = self.dir.join(format!("{host_id}.hints.delivering"));
        {
            let _g = self.lock.lock().map_err(|_| std::io::Error::other("hints lock poisoned"))?;
            if !delivering.exists() {
                if !self.path(host_id).exists() {
                    return Ok(0);
                }
                std::fs::rename(self.path(host_id), &delivering)?;
            }
        }
        let entries = read_file(&delivering)?;
        for (i, (_, ms)) in entries.iter().enumerate() {
            if let Err(e) = send(ms) {
                crate::log!("cairn node: delivering hints to {host_id}: {e}; {} of {} delivered", i, entries.len());
                return Ok(i);
            }
        }
        let _g = self.lock.lock().map_err(|_| std::io::Error::other("hints lock poisoned"))?;
        std::fs::remove_file(&delivering)?;
        Ok(entries.len())
    }

    /// Drop every hint (`cairn admin hints truncate`); returns the files removed.
    pub(crate) fn truncate(&self) -> std::io::Result<usize> {
        let _g = self.lock.lock().map_err(|_| std::io::Error::other("hints lock poisoned"))?;
        let mut n = 0;
        for e in std::fs::read_dir(&self.dir)? {
            let path = e?.path();
            if path.extension().is_some_and(|x| x == "hints" || x == "delivering") {
                std::fs::remove_file(path)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_format::partition::{OwnedCell, Partition};

    fn m(i: i64) -> Mutation {
        let mut p = Partition::new(i.to_be_bytes().to_vec());
        p.row_mut(&[]).add_cell(OwnedCell::live(0, None, vec![7], i));
        Mutation { table_id: [1; 16], partition: p }
    }

    #[test]
    fn hints_are_kept_delivered_in_order_and_survive_a_failed_delivery() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let hints = Hints::open(tmp.path()).expect("open");
        hints.store("aa", &[m(1)]).expect("store");
        hints.store("aa", &[m(2), m(3)]).expect("store");
        hints.store("bb", &[m(4)]).expect("store");
        let pending = hints.pending().expect("pending");
        assert_eq!(
            pending.iter().map(|p| (p.host_id.as_str(), p.entries, p.mutations)).collect::<Vec<_>>(),
            [("aa", 2, 3), ("bb", 1, 1)]
        );
        // The first attempt fails at the second entry: nothing is lost.
        let mut seen = Vec::new();
        let n = hints
            .deliver("aa", &mut |ms| {
                if seen.len() == 1 {
                    return Err("refused".into());
                }
                seen.push(ms.to_vec());
                Ok(())
            })
            .expect("deliver");
        assert_eq!(n, 1);
        assert!(hints.has("aa"));
        let mut all = Vec::new();
        let n = hints.deliver("aa", &mut |ms| {
            all.extend(ms.iter().cloned());
            Ok(())
        });
        assert_eq!(n.expect("deliver"), 2);
        assert_eq!(all, [m(1), m(2), m(3)], "in order, the entry already delivered once included");
        assert!(!hints.has("aa"));
        assert_eq!(hints.truncate().expect("truncate"), 1);
        assert!(hints.pending().expect("pending").is_empty());
    }

    #[test]
    fn a_torn_tail_ends_the_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let hints = Hints::open(tmp.path()).expect("open");
        hints.store("aa", &[m(1)]).expect("store");
        hints.store("aa", &[m(2)]).expect("store");
        let path = hints.path("aa");
        let len = std::fs::metadata(&path).expect("meta").len();
        OpenOptions::new().write(true).open(&path).expect("open").set_len(len - 2).expect("cut");
        assert_eq!(read_file(&path).expect("read").len(), 1);
    }
}
