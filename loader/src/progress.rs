//! What a load says while it runs and when it is done.
//!
//! While it runs (on a terminal): one line on standard error, rewritten twice a second —
//! partitions, rows, rows/s, MiB/s, and a percentage and ETA against the SSTables' own partition
//! counts (an estimate: overlapping SSTables count a partition more than once, so the percentage
//! is held below 100 until the table is done).
//!
//! When it is done: [`summary`], the text `cairn load` prints — per table what was written (or,
//! with `--plan`, would be, with the schema check, the share of each host and a time at the
//! throttle), a total, and what the counts count.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

use crate::TableLoad;

/// The progress line on standard error (off when not asked for).
pub(crate) struct Progress {
    on: bool,
    started: Instant,
    last: Option<Instant>,
    table: String,
    estimated: u64,
}

impl Progress {
    /// A progress line, shown when `on`.
    pub fn new(on: bool) -> Progress {
        Progress { on, started: Instant::now(), last: None, table: String::new(), estimated: 0 }
    }

    /// A table starts: `estimated` partitions (the SSTables' own counts, summed).
    pub fn table(&mut self, name: &str, estimated: u64) {
        self.table = name.to_string();
        self.estimated = estimated;
        self.started = Instant::now();
    }

    fn line(&self, s: &TableLoad, done: bool) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let mut line = format!(
            "{}: {} partitions, {} rows, {:.0} rows/s, {:.2} MiB/s",
            self.table,
            s.partitions,
            s.rows,
            s.rows as f64 / secs,
            s.bytes as f64 / secs / (1024.0 * 1024.0),
        );
        if done {
            line.push_str(&format!(", done in {secs:.1} s"));
        } else if self.estimated > 0 && s.partitions > 0 {
            let pct = (s.partitions as f64 / self.estimated as f64 * 100.0).min(99.0);
            line.push_str(&format!(", {pct:.0}%, ETA {:.0} s", secs * (100.0 - pct) / pct));
        }
        line
    }

    /// Rewrite the line (at most twice a second).
    pub fn update(&mut self, s: &TableLoad) {
        if !self.on || self.last.is_some_and(|l| l.elapsed().as_millis() < 500) {
            return;
        }
        self.last = Some(Instant::now());
        let _ = write!(std::io::stderr(), "\r\x1b[K{}", self.line(s, false));
    }

    /// The table is done: its final line.
    pub fn done(&mut self, s: &TableLoad) {
        if self.on {
            let _ = writeln!(std::io::stderr(), "\r\x1b[K{}", self.line(s, true));
        }
    }
}

/// What the counts of [`summary`] count.
pub const COUNTED: &str = "rows are counted as a SELECT returns them (a partition with only static cells is one row); \
     deletions are counted apart";

/// The text summary of a load (`plan`: of a `--plan`), `seconds` after it began; `throttle`
/// (MiB/s) gives a plan its time estimate.
pub fn summary(tables: &[TableLoad], plan: bool, throttle: Option<f64>, seconds: f64) -> String {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let mut out = String::new();
    for s in tables {
        let _ = writeln!(
            out,
            "{}{}.{}: {} partitions, {} rows, {} cells, {} deletions, {} skipped (--as-of), {} statements, {:.2} MiB of CQL",
            if plan { "plan: " } else { "" },
            s.keyspace,
            s.table,
            s.partitions,
            s.rows,
            s.cells,
            s.tombstones,
            s.skipped_newer,
            s.statements,
            mib(s.bytes)
        );
        if s.skipped_newer > 0 {
            // The cut is made on the merged view: what a skipped write overwrote or deleted in
            // the source is already gone from it, so it is not restored either.
            let _ = writeln!(
                out,
                "  warning: --as-of cuts the merged view: data that the {} skipped newer write(s) or deletion(s) \
                 overwrote or deleted in the source is not restored as it was at the cut-off",
                s.skipped_newer
            );
        }
        if s.unwritable_deletions > 0 {
            let _ = writeln!(
                out,
                "  {} list-element deletion(s) not written: CQL cannot name a list element's cell path",
                s.unwritable_deletions
            );
        }
        if plan {
            let _ = writeln!(out, "  schema: {}", s.schema_check);
            for (host, h) in &s.per_host {
                let _ =
                    writeln!(out, "  {host}: {} partitions, {} rows, {:.2} MiB", h.partitions, h.rows, mib(h.bytes));
            }
            match throttle {
                Some(t) => {
                    let _ = writeln!(out, "  estimate: {:.0} s at {t} MiB/s", mib(s.bytes) / t);
                }
                None => {
                    let _ = writeln!(out, "  estimate: unthrottled (give --throttle for a time)");
                }
            }
        } else if s.resumed_past > 0 || s.retries > 0 {
            let _ = writeln!(
                out,
                "  {} partitions skipped as done by an earlier run, {} retries",
                s.resumed_past, s.retries
            );
        }
        if s.in_doubt_appends_skipped > 0 {
            let _ = writeln!(
                out,
                "  {} list-append statement(s) of the partitions in doubt not sent again (--resume-in-doubt MARK=skip)",
                s.in_doubt_appends_skipped
            );
        }
    }
    if !plan {
        let rows: u64 = tables.iter().map(|s| s.rows).sum();
        let bytes: u64 = tables.iter().map(|s| s.bytes).sum();
        let _ = writeln!(
            out,
            "loaded {rows} rows in {seconds:.1} s: {:.0} rows/s, {:.2} MiB/s",
            rows as f64 / seconds.max(1e-3),
            mib(bytes) / seconds.max(1e-3)
        );
    }
    let _ = writeln!(out, "({COUNTED})");
    out
}
