//! Group commit (`commitlog_sync: batch`): a write is answered once an fsync covers its log
//! position; whoever finds no fsync under way runs one for everything appended so far, the others
//! wait for it (Cassandra's `AbstractCommitLogService`).

use crate::node::Shared;

/// Group commit state (batch sync).
#[derive(Default)]
pub(crate) struct Durable {
    /// The log position known durable.
    pub(crate) synced: u64,
    /// An fsync is under way.
    pub(crate) syncing: bool,
    /// An fsync failed.
    pub(crate) failed: bool,
}

impl Shared {
    /// Wait until the commit log is durable up to `at` (group commit: whoever finds no fsync
    /// under way runs one for everything appended so far; the others wait for it).
    pub(crate) fn wait_durable(&self, at: u64) -> std::io::Result<()> {
        let poisoned = || std::io::Error::other("commit log state poisoned");
        let failed = || std::io::Error::other("an earlier commit log fsync failed: the node answers nothing more");
        let mut g = self.durable.lock().map_err(|_| poisoned())?;
        loop {
            if g.failed {
                return Err(failed());
            }
            if g.synced >= at {
                return Ok(());
            }
            if g.syncing {
                g = self.durable_cv.wait(g).map_err(|_| poisoned())?;
                continue;
            }
            g.syncing = true;
            drop(g);
            let handle = match self.commitlog.lock() {
                Ok(log) => log.as_ref().map(crate::commitlog::CommitLog::durable_handle).transpose(),
                Err(_) => Err(poisoned()),
            };
            let synced = handle.and_then(|h| match h {
                Some((pos, file)) => file.sync_data().map(|()| pos),
                None => Ok(at),
            });
            g = self.durable.lock().map_err(|_| poisoned())?;
            g.syncing = false;
            self.durable_cv.notify_all();
            match synced {
                Ok(pos) => g.synced = g.synced.max(pos),
                Err(e) => {
                    g.failed = true;
                    return Err(e);
                }
            }
        }
    }
}
