//! A plan as text (for people: the options, each group's tiers, the next task or why there is
//! none) and as one JSON document (for programs).

use std::fmt::Write as _;

use cairn_format::Component;
use cairn_format::types::render::civil_from_days;

use super::{Plan, StrategySource, TaskKind, short_name};

/// Bytes in binary units with one decimal.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS.get(u).copied().unwrap_or("B")) }
}

/// A window start (ms) as `YYYY-MM-DDTHH:MMZ`.
pub(super) fn iso_minutes(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}Z", rem / 3600, rem % 3600 / 60)
}

/// Seconds since the epoch as an ISO 8601 UTC date-time, `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn iso_seconds(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The plan as text: the strategy (and where it came from), the options, each group's tiers,
/// and the next task or why there is none. Times are ISO 8601 UTC.
pub fn render_text(p: &Plan) -> String {
    let mut s = String::new();
    let name = |i: usize| p.sstables.get(i).map_or_else(|| "?".to_string(), |f| short_name(&f.descriptor));
    if let Some(f) = p.sstables.first() {
        let _ = writeln!(s, "table: {}", f.descriptor.directory.display());
    }
    let source = match p.strategy_source {
        StrategySource::Given => "",
        StrategySource::Schema => " (the table's, from its schema)",
        StrategySource::Default { schema_given: false } => " (Cassandra's default; no schema given)",
        StrategySource::Default { schema_given: true } => " (Cassandra's default; the schema sets no compaction)",
    };
    let _ = writeln!(s, "strategy: {}{source}", p.strategy.class_name());
    let opts: Vec<String> = p.options.effective(p.strategy).iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(s, "options: {}", opts.join(" "));
    let _ = writeln!(s, "now: {}  gc_before: {}", iso_seconds(p.clock.now_s), iso_seconds(p.clock.gc_before));
    for g in &p.groups {
        let _ = writeln!(
            s,
            "\n{} ({} SSTables, estimated remaining tasks: {})",
            g.group,
            g.members.len(),
            g.estimated_remaining_tasks
        );
        for t in &g.tiers {
            let _ = writeln!(s, "  {}: {}", t.label, t.note);
            for &i in &t.members {
                if let Some(f) = p.sstables.get(i) {
                    let _ = writeln!(
                        s,
                        "    {}  {}  L{}  droppable {:.3}",
                        short_name(&f.descriptor),
                        human_bytes(f.data_bytes),
                        f.level,
                        f.droppable_ratio
                    );
                }
            }
        }
        for n in &g.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        match &g.task {
            None => match &g.idle {
                Some(why) => {
                    let _ = writeln!(s, "  next: nothing to compact: {why}");
                }
                None => {
                    let _ = writeln!(s, "  next: nothing to compact");
                }
            },
            Some(t) => {
                let kind = match t.kind {
                    TaskKind::Compaction => "compaction",
                    TaskKind::SizeTieredInL0 => "size-tiered compaction in L0",
                    TaskKind::Tombstone => "tombstone compaction",
                    TaskKind::ExpiredOnly => "drop of fully expired SSTables",
                };
                let level = t.level.map(|l| format!(" into L{l}")).unwrap_or_default();
                let _ = writeln!(s, "  next: {kind} of {} SSTable(s){level}: {}", t.sstables.len(), t.reason);
                for &i in &t.sstables {
                    let tag = if t.expired.contains(&i) { "  (fully expired, dropped)" } else { "" };
                    let _ = writeln!(s, "    {}{tag}", name(i));
                }
            }
        }
    }
    s
}

/// The plan as one JSON document.
pub fn render_json(p: &Plan) -> serde_json::Value {
    use serde_json::json;
    let path = |i: usize| {
        p.sstables
            .get(i)
            .map_or(serde_json::Value::Null, |f| json!(f.descriptor.path(Component::Data).display().to_string()))
    };
    let groups: Vec<_> = p
        .groups
        .iter()
        .map(|g| {
            json!({
                "group": g.group,
                "estimated_remaining_tasks": g.estimated_remaining_tasks,
                "tiers": g.tiers.iter().map(|t| json!({
                    "label": t.label,
                    "note": t.note,
                    "sstables": t.members.iter().map(|&i| path(i)).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "notes": g.notes,
                "idle": g.idle,
                "next": g.task.as_ref().map(|t| json!({
                    "kind": match t.kind {
                        TaskKind::Compaction => "compaction",
                        TaskKind::SizeTieredInL0 => "stcs_in_l0",
                        TaskKind::Tombstone => "tombstone",
                        TaskKind::ExpiredOnly => "expired_only",
                    },
                    "sstables": t.sstables.iter().map(|&i| path(i)).collect::<Vec<_>>(),
                    "fully_expired": t.expired.iter().map(|&i| path(i)).collect::<Vec<_>>(),
                    "level": t.level,
                    "max_sstable_bytes": t.max_sstable_bytes,
                    "reason": t.reason,
                })),
            })
        })
        .collect();
    let sstables: Vec<_> = p
        .sstables
        .iter()
        .map(|f| {
            json!({
                "path": f.descriptor.path(Component::Data).display().to_string(),
                "data_bytes": f.data_bytes,
                "level": f.level,
                "repaired_at": f.repair.repaired_at,
                "min_timestamp": f.min_timestamp,
                "max_timestamp": f.max_timestamp,
                "max_local_deletion_time": f.max_local_deletion_time,
                "droppable_ratio": f.droppable_ratio,
            })
        })
        .collect();
    json!({
        "strategy": p.strategy.class_name(),
        "strategy_source": match p.strategy_source {
            StrategySource::Given => "given",
            StrategySource::Schema => "schema",
            StrategySource::Default { .. } => "default",
        },
        "options": p.options.effective(p.strategy).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "now": p.clock.now_s,
        "gc_before": p.clock.gc_before,
        "sstables": sstables,
        "groups": groups,
    })
}
