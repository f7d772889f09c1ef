//! `cairn repair diff|sync`: open both sides, call cairn-repair, print its report.

use std::io::Write;

use cairn_format::sstable::OpenOptions;
use cairn_inspect::open_inputs;
use cairn_repair::RepairOptions;

use super::Outcome;
use crate::args::{RepairDiffArgs, RepairSides, RepairSyncArgs, parse_now};

fn open(
    s: &RepairSides,
) -> anyhow::Result<(Vec<cairn_format::sstable::SsTable>, Vec<cairn_format::sstable::SsTable>, RepairOptions)> {
    let options = OpenOptions { schema_file: s.schema.clone(), ..Default::default() };
    let a = open_inputs(std::slice::from_ref(&s.a), &options)?;
    let b = open_inputs(std::slice::from_ref(&s.b), &options)?;
    let opts = RepairOptions {
        keyspace: s.keyspace.clone(),
        table: s.table.clone(),
        depth: s.depth,
        now_s: parse_now(s.now.as_deref())?,
        gc_grace_seconds: s.gc_grace_seconds,
    };
    Ok((a, b, opts))
}

pub fn diff(a: RepairDiffArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let (sa, sb, opts) = open(&a.sides)?;
    let tables = cairn_repair::diff(&sa, &sb, &opts)?;
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "tables": tables }))?;
        writeln!(out)?;
    } else if a.ndjson {
        for t in &tables {
            for p in &t.differing_partitions {
                let mut v = serde_json::to_value(p)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("type".into(), "partition".into());
                    o.insert("keyspace".into(), t.keyspace.clone().into());
                    o.insert("table".into(), t.table.clone().into());
                }
                writeln!(out, "{v}")?;
            }
            let mut v = serde_json::to_value(t)?;
            if let Some(o) = v.as_object_mut() {
                o.remove("differing_partitions");
                o.insert("differing_partitions".into(), t.differing_partitions.len().into());
                o.insert("type".into(), "table".into());
            }
            writeln!(out, "{v}")?;
        }
    } else {
        for t in &tables {
            t.write_human(out)?;
        }
    }
    Ok(if tables.iter().all(cairn_repair::TableDiff::identical) { Outcome::Ok } else { Outcome::Problems })
}

pub fn sync(a: RepairSyncArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let (sa, sb, opts) = open(&a.sides)?;
    let report = cairn_repair::sync(&sa, &sb, &opts, &a.out)?;
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "tables": report }))?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    for t in &report {
        if t.for_a.is_none() && t.for_b.is_none() {
            writeln!(out, "{}.{}: identical, nothing written", t.keyspace, t.table)?;
            continue;
        }
        writeln!(out, "{}.{}: {} partitions differ", t.keyspace, t.table, t.differing_partitions)?;
        for (side, w) in [("A", &t.for_a), ("B", &t.for_b)] {
            if let Some(w) = w {
                writeln!(out, "  for {side}: {} partitions in {}", w.partitions, w.data.display())?;
            }
        }
    }
    Ok(Outcome::Ok)
}
