//! A progress bar on stderr for the verbs that can run long.
//!
//! The bar follows `cairn_format::progress`'s counters of Data.db bytes read (or written, for
//! `gen`) from a thread of its own, against the total the verb expects; no library reports its
//! own progress. It is drawn only when stderr is a terminal and `--quiet` was not given, and is
//! cleared when the verb ends, before its one-line summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the bar counts.
#[derive(Clone, Copy)]
pub enum Counter {
    /// Data.db bytes read.
    Read,
    /// Data.db bytes written.
    Written,
}

impl Counter {
    fn value(self) -> u64 {
        match self {
            Counter::Read => cairn_format::progress::data_read(),
            Counter::Written => cairn_format::progress::data_written(),
        }
    }
}

/// A running bar; dropping it stops and clears it.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Draw `label` with a bar over `total` bytes of `counter` (a spinner when `total` is
    /// `None`); nothing at all when `show` is false or stderr is not a terminal.
    pub fn start(show: bool, label: &str, counter: Counter, total: Option<u64>) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        if !show || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return Progress { stop, thread: None };
        }
        let bar = match total {
            Some(t) => {
                let bar = ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
                );
                if let Ok(s) = style {
                    bar.set_style(s.progress_chars("=> "));
                }
                bar
            }
            None => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                if let Ok(s) = ProgressStyle::with_template("{spinner} {msg} {binary_bytes} {binary_bytes_per_sec}") {
                    bar.set_style(s);
                }
                bar
            }
        };
        bar.set_message(label.to_string());
        let start = counter.value();
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let done = counter.value().saturating_sub(start);
                bar.set_position(total.map_or(done, |t| done.min(t)));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Progress { stop, thread: Some(thread) }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The stored size of the inputs' Data.db files: the total a full read of them reaches.
pub fn data_bytes(tables: &[cairn_format::sstable::SsTable]) -> u64 {
    tables.iter().map(|t| std::fs::metadata(t.path(cairn_format::Component::Data)).map_or(0, |m| m.len())).sum()
}
