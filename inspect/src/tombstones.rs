//! `cairn tombstones`: where the tombstones are, how old they are, and why the old ones stay.
//!
//! Each SSTable S is judged as a compaction of S alone would judge it — by the very code that
//! compaction runs (`cairn_compact::run` in dry-run mode, deciding through
//! `cairn_compact::purge`), so `tombstones` and `compact run S --dry-run` cannot disagree:
//!
//! - **droppable**: what that compaction purges: past gc_grace, and no other SSTable of the
//!   table may hold older data for the partition (none whose bloom filter admits the key and
//!   whose minimum timestamp is at or below the tombstone's timestamp);
//! - **blocked**: past gc_grace but such an SSTable exists; the report names it (the
//!   per-partition form of `sstableexpiredblockers`). Compacting the blocker together with S is
//!   what lets the tombstone go;
//! - **younger than gc_grace**: its local deletion time is not before `now - gc_grace_seconds`.
//!
//! With `--only-purge-repaired` and an SSTable that is not repaired, nothing is droppable: the
//! tombstones past gc_grace are blocked for that reason (`blocked_because_unrepaired`), and no
//! SSTable is named as blocking them.
//!
//! "Other SSTables" are every other SSTable of S's table directory (whether named on the command
//! line or not), as for the compaction. Tombstones are counted as that compaction sees them:
//! after reconciliation within S, a range tombstone once (at its opening bound), an expired TTL
//! cell or row marker as one tombstone. An expired cell that cannot go at its expiry is re-dated
//! to its write time (`expiry - ttl`) and judged again, as Cassandra's `AbstractCell.purge`
//! does: it may be droppable while its expiry is younger than gc_grace. Ages are counted from
//! the deletion time as written (the expiry for expired TTLs). `partitions` counts tombstones
//! in the same unit, so its per-partition count equals this one's.
//!
//! A tombstone younger than gc_grace becomes droppable once `now` passes its deletion time plus
//! gc_grace (Cassandra's `gcBefore`); the report prints that instant (UTC) for the first of
//! them, per partition and per SSTable. The human report ends with a total over every SSTable
//! reported.

use std::io::Write;

use cairn_compact::purge::TombstoneKind;
use cairn_compact::run::{Explanation, RunOptions};
use cairn_format::sstable::SsTable;
use serde::Serialize;

use crate::InspectError;
use crate::dump::Renderer;

/// Options of `cairn tombstones`.
#[derive(Debug, Clone, Default)]
pub struct TombstoneOptions {
    /// The time tombstones are judged at (s).
    pub now_s: i64,
    /// gc_grace_seconds (default: the table's, else Cassandra's default of 864000).
    pub gc_grace_seconds: Option<i64>,
    /// Judge as a compaction under `only_purge_repaired_tombstones` would.
    pub only_purge_repaired: bool,
    /// How many partitions to list per SSTable in the summary.
    pub top: usize,
    /// One JSON object per partition with tombstones instead of the summary.
    pub ndjson: bool,
    /// The summary as JSON.
    pub json: bool,
}

pub use cairn_compact::DEFAULT_GC_GRACE_SECONDS;

/// Tombstones by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Kinds {
    /// Partition deletions.
    pub partition: u64,
    /// Row deletions.
    pub row: u64,
    /// Shadowable row deletions (materialized views).
    pub shadowable: u64,
    /// Range tombstones (open bounds and boundaries).
    pub range: u64,
    /// Cell tombstones.
    pub cell: u64,
    /// Complex-column (collection, UDT) deletions.
    pub complex: u64,
    /// Expired TTL cells and row markers.
    pub expired_ttl: u64,
}

impl Kinds {
    /// All tombstones.
    pub fn total(&self) -> u64 {
        self.partition + self.row + self.shadowable + self.range + self.cell + self.complex + self.expired_ttl
    }

    fn add(&mut self, o: &Kinds) {
        self.partition += o.partition;
        self.row += o.row;
        self.shadowable += o.shadowable;
        self.range += o.range;
        self.cell += o.cell;
        self.complex += o.complex;
        self.expired_ttl += o.expired_ttl;
    }
}

/// Tombstones by age (time since their local deletion time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Ages {
    /// Less than an hour (or in the future).
    pub under_1h: u64,
    /// One hour to a day.
    pub under_1d: u64,
    /// One to seven days.
    pub under_7d: u64,
    /// Seven to thirty days.
    pub under_30d: u64,
    /// Thirty days or more.
    pub older: u64,
}

impl Ages {
    fn count(&mut self, age_s: i64) {
        let slot = if age_s < 3_600 {
            &mut self.under_1h
        } else if age_s < 86_400 {
            &mut self.under_1d
        } else if age_s < 604_800 {
            &mut self.under_7d
        } else if age_s < 2_592_000 {
            &mut self.under_30d
        } else {
            &mut self.older
        };
        *slot += 1;
    }
}

/// How the tombstones stand against gc_grace and overlapping SSTables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Verdicts {
    /// Past gc_grace and not blocked: a compaction of this SSTable drops them.
    pub droppable: u64,
    /// Past gc_grace but another SSTable may hold older data for the partition.
    pub blocked: u64,
    /// Not yet past gc_grace.
    pub younger_than_gc_grace: u64,
}

impl Verdicts {
    fn add(&mut self, o: &Verdicts) {
        self.droppable += o.droppable;
        self.blocked += o.blocked;
        self.younger_than_gc_grace += o.younger_than_gc_grace;
    }
}

/// One partition's tombstones.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionTombstones {
    /// The SSTable (Data.db path).
    pub sstable: String,
    /// Partition key components, as `sstabledump` prints them.
    pub key: Vec<String>,
    /// Offset of the partition in Data.db.
    pub position: u64,
    /// Rows (not markers) in the partition.
    pub rows: u64,
    /// Tombstones by kind.
    pub tombstones: Kinds,
    /// Verdicts.
    #[serde(flatten)]
    pub verdicts: Verdicts,
    /// The SSTables that block tombstones past gc_grace (Data.db paths).
    pub blocked_by: Vec<String>,
    /// The blocked tombstones are held back because only repaired data may be purged
    /// (`--only-purge-repaired`) and the SSTable is not repaired, not by another SSTable
    /// (written only when so).
    #[serde(skip_serializing_if = "is_false")]
    pub blocked_because_unrepaired: bool,
    /// When the first tombstone younger than gc_grace becomes droppable: after this time (s),
    /// its deletion time plus gc_grace. `None` when none is younger.
    pub droppable_after: Option<i64>,
}

/// One SSTable's summary.
#[derive(Debug, Clone, Serialize)]
pub struct SsTableTombstones {
    /// The SSTable (Data.db path).
    pub sstable: String,
    /// gc_grace_seconds applied.
    pub gc_grace_seconds: i64,
    /// The time judged at (s).
    pub now: i64,
    /// Partitions.
    pub partitions: u64,
    /// Partitions holding at least one tombstone.
    pub partitions_with_tombstones: u64,
    /// Tombstones by kind.
    pub tombstones: Kinds,
    /// Tombstones by age.
    pub ages: Ages,
    /// Verdicts.
    #[serde(flatten)]
    pub verdicts: Verdicts,
    /// When the first tombstone younger than gc_grace becomes droppable (s, see
    /// [`PartitionTombstones::droppable_after`]).
    pub droppable_after: Option<i64>,
    /// The SSTables that block tombstones past gc_grace here, each with the number of blocked
    /// tombstones it holds back (a tombstone blocked by two SSTables counts for both).
    pub blocked_by: std::collections::BTreeMap<String, u64>,
    /// As [`PartitionTombstones::blocked_because_unrepaired`], for the SSTable.
    #[serde(skip_serializing_if = "is_false")]
    pub blocked_because_unrepaired: bool,
    /// The partitions with the most tombstones (at most `--top`), most first.
    pub top_partitions: Vec<PartitionTombstones>,
}

impl Kinds {
    fn count(&mut self, kind: TombstoneKind) {
        let slot = match kind {
            TombstoneKind::Partition => &mut self.partition,
            TombstoneKind::Row => &mut self.row,
            TombstoneKind::Shadowable => &mut self.shadowable,
            TombstoneKind::Range => &mut self.range,
            TombstoneKind::Cell => &mut self.cell,
            TombstoneKind::Complex => &mut self.complex,
            TombstoneKind::ExpiredTtl => &mut self.expired_ttl,
        };
        *slot += 1;
    }
}

/// Report on `tables`: a summary per SSTable (human text or `--json`), or one JSON object per
/// partition holding tombstones (`--ndjson`).
pub fn tombstones(tables: &[SsTable], opts: &TombstoneOptions, out: &mut dyn Write) -> Result<(), InspectError> {
    let mut summaries = Vec::new();
    for t in tables {
        let me = t.path(cairn_format::Component::Data).display().to_string();
        let dir = t.descriptor.directory.clone();
        let mut run = RunOptions::new(t.descriptor.version, opts.now_s);
        run.gc_grace_seconds = opts.gc_grace_seconds;
        run.only_purge_repaired = opts.only_purge_repaired;
        run.dry_run = true;
        run.judgements = true;
        let mut s = SsTableTombstones {
            sstable: me.clone(),
            gc_grace_seconds: cairn_compact::purge::gc_grace_seconds(opts.gc_grace_seconds, &t.schema),
            now: opts.now_s,
            partitions: 0,
            partitions_with_tombstones: 0,
            tombstones: Kinds::default(),
            ages: Ages::default(),
            verdicts: Verdicts::default(),
            droppable_after: None,
            blocked_by: std::collections::BTreeMap::new(),
            blocked_because_unrepaired: false,
            top_partitions: Vec::new(),
        };
        let header = t.header.clone();
        let mut failed: Option<InspectError> = None;
        let mut explain = |e: &Explanation| {
            if e.judged.is_empty() || failed.is_some() {
                return;
            }
            let mut kinds = Kinds::default();
            for j in &e.judged {
                kinds.count(j.kind);
                s.ages.count(opts.now_s.saturating_sub(j.local_deletion_time));
            }
            let verdicts =
                Verdicts { droppable: e.purged, blocked: e.kept_overlap, younger_than_gc_grace: e.kept_young };
            s.partitions_with_tombstones += 1;
            s.tombstones.add(&kinds);
            s.verdicts.add(&verdicts);
            s.droppable_after = earliest(s.droppable_after, e.droppable_after);
            let unrepaired = e.unrepaired && e.kept_overlap > 0;
            s.blocked_because_unrepaired |= unrepaired;
            for b in &e.blockers {
                *s.blocked_by.entry(dir.join(b).display().to_string()).or_default() += e.kept_overlap;
            }
            let report = PartitionTombstones {
                sstable: me.clone(),
                key: Renderer::key_strings(&header, &e.key),
                position: e.position,
                rows: e.rows,
                tombstones: kinds,
                verdicts,
                blocked_by: e.blockers.iter().map(|b| dir.join(b).display().to_string()).collect(),
                blocked_because_unrepaired: unrepaired,
                droppable_after: e.droppable_after,
            };
            if opts.ndjson {
                let written = serde_json::to_string(&report)
                    .map_err(std::io::Error::other)
                    .and_then(|line| writeln!(out, "{line}"));
                if let Err(err) = written {
                    failed = Some(InspectError::Output(err));
                }
            } else {
                keep_top(&mut s.top_partitions, report, opts.top);
            }
        };
        let report = cairn_compact::run::run_explained(std::slice::from_ref(t), &run, &dir, &mut explain)?;
        if let Some(err) = failed {
            return Err(err);
        }
        s.partitions = report.partitions_in;
        debug_assert_eq!(
            (s.verdicts.droppable, s.verdicts.blocked, s.verdicts.younger_than_gc_grace),
            (report.purged, report.kept_for_overlap, report.kept_young)
        );
        if !opts.ndjson {
            summaries.push(s);
        }
    }
    if opts.ndjson {
        return Ok(());
    }
    if opts.json {
        let text = serde_json::to_string_pretty(&summaries).map_err(|e| InspectError::Output(e.into()))?;
        writeln!(out, "{text}").map_err(InspectError::Output)?;
        return Ok(());
    }
    for s in &summaries {
        human(s, out).map_err(InspectError::Output)?;
    }
    total(&summaries, out).map_err(InspectError::Output)
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `after DATE` for a droppable-after time (s).
fn after(t: i64) -> String {
    format!("after {}", crate::dump::instant_micros(t.saturating_mul(1_000_000)))
}

/// The total line of the human report: every SSTable reported, summed.
fn total(summaries: &[SsTableTombstones], out: &mut dyn Write) -> std::io::Result<()> {
    let mut kinds = Kinds::default();
    let mut verdicts = Verdicts::default();
    let (mut partitions, mut with) = (0, 0);
    let mut first = None;
    for s in summaries {
        kinds.add(&s.tombstones);
        verdicts.add(&s.verdicts);
        partitions += s.partitions;
        with += s.partitions_with_tombstones;
        first = earliest(first, s.droppable_after);
    }
    write!(
        out,
        "total over {} SSTable(s): {} tombstones in {with} of {partitions} partitions; droppable {}, blocked {}, younger than gc_grace {}",
        summaries.len(),
        kinds.total(),
        verdicts.droppable,
        verdicts.blocked,
        verdicts.younger_than_gc_grace
    )?;
    match first {
        Some(t) => writeln!(out, " (the first of those droppable {})", after(t)),
        None => writeln!(out),
    }
}

/// Keep the `n` partitions with the most tombstones (ties: earlier in the file first).
fn keep_top(top: &mut Vec<PartitionTombstones>, p: PartitionTombstones, n: usize) {
    if n == 0 {
        return;
    }
    let at = top.partition_point(|x| x.tombstones.total() >= p.tombstones.total());
    if at < n {
        top.insert(at, p);
        top.truncate(n);
    }
}

fn human(s: &SsTableTombstones, out: &mut dyn Write) -> std::io::Result<()> {
    let k = &s.tombstones;
    writeln!(out, "{}", s.sstable)?;
    writeln!(out, "  partitions: {}, with tombstones: {}", s.partitions, s.partitions_with_tombstones)?;
    writeln!(
        out,
        "  tombstones: {} (partition {}, row {}, shadowable {}, range {}, cell {}, complex {}, expired TTL {})",
        k.total(),
        k.partition,
        k.row,
        k.shadowable,
        k.range,
        k.cell,
        k.complex,
        k.expired_ttl
    )?;
    let a = &s.ages;
    writeln!(
        out,
        "  age: <1h {}, 1h-1d {}, 1d-7d {}, 7d-30d {}, >=30d {}",
        a.under_1h, a.under_1d, a.under_7d, a.under_30d, a.older
    )?;
    let blocked = match s.blocked_because_unrepaired {
        true => format!("blocked {} ({})", s.verdicts.blocked, cairn_compact::purge::UNREPAIRED),
        false => format!("blocked by overlapping SSTables {}", s.verdicts.blocked),
    };
    writeln!(
        out,
        "  at gc_grace_seconds {} and now {}: droppable {}, {blocked}, younger than gc_grace {}",
        s.gc_grace_seconds,
        crate::dump::instant_micros(s.now.saturating_mul(1_000_000)),
        s.verdicts.droppable,
        s.verdicts.younger_than_gc_grace
    )?;
    for (b, n) in &s.blocked_by {
        writeln!(out, "  {n} blocked by {b} (may hold older data for their keys)")?;
    }
    if let Some(t) = s.droppable_after {
        writeln!(out, "  the first tombstone younger than gc_grace becomes droppable {}", after(t))?;
    }
    if !s.top_partitions.is_empty() {
        writeln!(out, "  partitions with the most tombstones:")?;
    }
    for p in &s.top_partitions {
        let v = &p.verdicts;
        writeln!(
            out,
            "    key {} (at byte {}, {} rows): {} tombstones, droppable {}, blocked {}, younger than gc_grace {}",
            p.key.join(":"),
            p.position,
            p.rows,
            p.tombstones.total(),
            v.droppable,
            v.blocked,
            v.younger_than_gc_grace
        )?;
        if let Some(t) = p.droppable_after {
            writeln!(out, "      the first younger than gc_grace becomes droppable {}", after(t))?;
        }
        for b in &p.blocked_by {
            writeln!(out, "      blocked by {b} (may hold older data for this key)")?;
        }
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_format::partition::{OwnedCell, Partition};
    use cairn_format::partitioner::murmur3_token;
    use cairn_format::sstable::{OpenOptions, SsTable};
    use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
    use cairn_format::types::CqlType;
    use cairn_format::writer::{SsTableWriter, WriterOptions};

    const NOW: i64 = 1_700_000_000;
    const GC: i64 = 3_600;

    fn write(dir: &std::path::Path, generation: u64, mut parts: Vec<Partition>) -> SsTable {
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Int,
            vec![CqlType::Int],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Text)],
        );
        parts.sort_by_key(|p| murmur3_token(&p.key));
        let options = WriterOptions { expected_partitions: parts.len() as u64, ..WriterOptions::default() };
        let mut w = SsTableWriter::create(dir, generation, header, options).expect("writer");
        for p in &parts {
            w.write_partition_content(p).expect("write");
        }
        SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open")
    }

    fn partition(key: i32, cell: OwnedCell) -> Partition {
        let mut p = Partition::new(key.to_be_bytes().to_vec());
        p.row_mut(&[Some(1i32.to_be_bytes().to_vec())]).add_cell(cell);
        p
    }

    #[test]
    fn tombstones_are_judged_as_compaction_would_and_blockers_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A: old data for key 1. B: tombstones. C: newer data for key 1 (cannot block).
        let a = write(dir.path(), 1, vec![partition(1, OwnedCell::live(0, None, b"old".to_vec(), 100))]);
        let b = write(
            dir.path(),
            2,
            vec![
                // Past gc_grace, key also in A whose data (ts 100) is older: blocked by A.
                partition(1, OwnedCell::tombstone(0, None, 200, NOW - 10 * GC)),
                // Past gc_grace, key in no other SSTable: droppable.
                partition(2, OwnedCell::tombstone(0, None, 200, NOW - 10 * GC)),
                // Deleted a minute ago: younger than gc_grace.
                partition(3, OwnedCell::tombstone(0, None, 200, NOW - 60)),
                // Expired TTL: written 3 gc periods ago with a one-period TTL.
                partition(4, OwnedCell::expiring(0, None, b"x".to_vec(), 200, GC as i32, NOW - 3 * GC)),
            ],
        );
        let c = write(dir.path(), 3, vec![partition(1, OwnedCell::live(0, None, b"new".to_vec(), 300))]);
        let tables = [a, b, c];
        let opts =
            TombstoneOptions { now_s: NOW, gc_grace_seconds: Some(GC), top: 10, ndjson: true, ..Default::default() };
        let mut out = Vec::new();
        tombstones(&tables, &opts, &mut out).expect("report");
        let lines: Vec<serde_json::Value> =
            String::from_utf8(out).expect("utf8").lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        assert_eq!(lines.len(), 4, "only B's four partitions hold tombstones: {lines:?}");
        let by_key = |k: &str| lines.iter().find(|l| l["key"][0] == k).unwrap_or_else(|| panic!("key {k}"));
        let a_path = tables[0].path(cairn_format::Component::Data).display().to_string();
        assert_eq!(by_key("1")["blocked"], 1);
        assert_eq!(by_key("1")["blocked_by"], serde_json::json!([a_path]));
        assert_eq!(by_key("2")["droppable"], 1);
        assert_eq!(by_key("2")["blocked_by"], serde_json::json!([]));
        assert_eq!(by_key("3")["younger_than_gc_grace"], 1);
        assert_eq!(by_key("4")["tombstones"]["expired_ttl"], 1);
        assert_eq!(by_key("4")["droppable"], 1);
        for k in ["1", "2", "3"] {
            assert_eq!(by_key(k)["tombstones"]["cell"], 1);
        }

        // The summary agrees with the partitions, and with a gc_grace longer than every age
        // nothing is droppable or blocked.
        let mut out = Vec::new();
        let long = TombstoneOptions { gc_grace_seconds: Some(100 * GC), ndjson: false, json: true, ..opts };
        tombstones(&tables, &long, &mut out).expect("report");
        let summary: serde_json::Value = serde_json::from_slice(&out).expect("json");
        let b_summary = &summary[1];
        assert_eq!(b_summary["tombstones"]["cell"], 3);
        assert_eq!(b_summary["younger_than_gc_grace"], 4);
        assert_eq!(b_summary["droppable"], 0);
        assert_eq!(summary[0]["partitions_with_tombstones"], 0);

        // The human report: when the young tombstone (deleted a minute before NOW) becomes
        // droppable, per partition and per SSTable, and a total over the three SSTables.
        let mut out = Vec::new();
        tombstones(&tables, &TombstoneOptions { ndjson: false, ..opts }, &mut out).expect("report");
        let text = String::from_utf8(out).expect("utf8");
        let when = "droppable after 2023-11-14T23:12:20Z";
        assert!(text.contains(&format!("the first tombstone younger than gc_grace becomes {when}")), "{text}");
        assert!(text.contains(&format!("the first younger than gc_grace becomes {when}")), "{text}");
        let total = format!(
            "total over 3 SSTable(s): 4 tombstones in 4 of 6 partitions; droppable 2, blocked 1, younger than gc_grace 1 (the first of those {when})"
        );
        assert!(text.lines().any(|l| l == total), "{text}");
        // B's summary names its blocker, A, with the one tombstone it holds back.
        assert!(
            text.lines().any(|l| l == format!("  1 blocked by {a_path} (may hold older data for their keys)")),
            "{text}"
        );
        let mut out = Vec::new();
        tombstones(&tables, &TombstoneOptions { ndjson: false, json: true, ..opts }, &mut out).expect("report");
        let summary: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(summary[1]["blocked_by"], serde_json::json!({ a_path.clone(): 1 }));
        assert_eq!(summary[0]["blocked_by"], serde_json::json!({}));
        assert!(summary[1].get("blocked_because_unrepaired").is_none(), "written only when so");

        // Only repaired data purged, and B is not repaired: what is past gc_grace is blocked
        // for that reason, with no SSTable named.
        let only_repaired = TombstoneOptions { only_purge_repaired: true, ..opts };
        let mut out = Vec::new();
        tombstones(&tables, &only_repaired, &mut out).expect("report");
        let lines: Vec<serde_json::Value> =
            String::from_utf8(out).expect("utf8").lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        let by_key = |k: &str| lines.iter().find(|l| l["key"][0] == k).unwrap_or_else(|| panic!("key {k}"));
        for k in ["1", "2", "4"] {
            assert_eq!((by_key(k)["blocked"].as_u64(), by_key(k)["droppable"].as_u64()), (Some(1), Some(0)), "{k}");
            assert_eq!(by_key(k)["blocked_by"], serde_json::json!([]), "{k}");
            assert_eq!(by_key(k)["blocked_because_unrepaired"], true, "{k}");
        }
        assert!(by_key("3").get("blocked_because_unrepaired").is_none(), "nothing of key 3 is blocked");
        let mut out = Vec::new();
        tombstones(&tables, &TombstoneOptions { ndjson: false, ..only_repaired }, &mut out).expect("report");
        let text = String::from_utf8(out).expect("utf8");
        let reason = format!("droppable 0, blocked 3 ({}), younger", cairn_compact::purge::UNREPAIRED);
        assert!(text.contains(&reason), "{text}");
        assert!(!text.contains(&format!("blocked by {a_path}")), "no SSTable is named: {text}");
    }
}
