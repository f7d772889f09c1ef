//! Process-wide counters of Data.db bytes read and written, for progress reports.
//!
//! Every positioned read of a Data.db file (the stored bytes: compressed chunks, or the raw
//! bytes of an uncompressed file) adds to [`data_read`]; every write of Data.db bytes adds to
//! [`data_written`]. A front end compares them with the sizes of its inputs to draw a progress
//! bar, from another thread, without any verb having to report its own progress. The counters
//! only ever grow; they count I/O, not work, so a verb that reads a chunk twice counts it twice.

use std::sync::atomic::{AtomicU64, Ordering};

static DATA_READ: AtomicU64 = AtomicU64::new(0);
static DATA_WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Bytes of Data.db read by this process so far.
pub fn data_read() -> u64 {
    DATA_READ.load(Ordering::Relaxed)
}

/// Bytes of Data.db written by this process so far.
pub fn data_written() -> u64 {
    DATA_WRITTEN.load(Ordering::Relaxed)
}

pub(crate) fn add_read(bytes: usize) {
    DATA_READ.fetch_add(bytes as u64, Ordering::Relaxed);
}

pub(crate) fn add_written(bytes: usize) {
    DATA_WRITTEN.fetch_add(bytes as u64, Ordering::Relaxed);
}
