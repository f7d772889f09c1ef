//! `cairn demo`: the story told on a generated table.

use std::io::Write;

use cairn_format::sstable::OpenOptions;
use cairn_inspect::open_inputs;

use super::Outcome;
use crate::args::DemoArgs;

/// `cairn demo`: a sessions dataset, then every inspection verb on it.
pub fn run(a: DemoArgs, o: &mut dyn Write) -> anyhow::Result<Outcome> {
    let out = a.out;
    let dir = out.unwrap_or_else(|| std::env::temp_dir().join(format!("cairn-demo-{}", std::process::id())));
    let opts = cairn_fixtures::generate::GenOptions {
        seed: 2014,
        rows: 200,
        version: cairn_format::Version::Nb,
        compression: Some(cairn_format::compression::Compressor::Lz4),
        sstables: 2,
        out: dir.clone(),
        expected: Some(dir.join("expected.ndjson")),
    };
    writeln!(o, "== cairn gen sessions --rows 200 --sstables 2 --out {}", dir.display())?;
    writeln!(
        o,
        "   Web sessions written USING TTL, some renewed, some logged out (deleted), flushed into 2 SSTables."
    )?;
    let g = cairn_fixtures::generate::generate("sessions", &opts)?;
    for s in &g.sstables {
        writeln!(o, "   {}", s.display())?;
    }
    let tables = open_inputs(std::slice::from_ref(&g.table_dir), &OpenOptions::default())?;
    let now = g.now;
    writeln!(
        o,
        "\n== cairn dump --merge --ndjson (first 3 partitions; the two SSTables reconciled, at the dataset's clock)"
    )?;
    let mut buf = Vec::new();
    let dopts = cairn_inspect::dump::DumpOptions { ndjson: true, now_s: now, ..Default::default() };
    cairn_inspect::dump::dump(&tables, &dopts, true, &mut buf)?;
    for line in String::from_utf8_lossy(&buf).lines().take(3) {
        writeln!(o, "{line}")?;
    }
    writeln!(o, "\n== cairn dump --tombstones-only (first SSTable, first 2 partitions with tombstones)")?;
    let mut buf = Vec::new();
    let topts =
        cairn_inspect::dump::DumpOptions { ndjson: true, tombstones_only: true, now_s: now, ..Default::default() };
    cairn_inspect::dump::dump(&tables[..1], &topts, false, &mut buf)?;
    for line in String::from_utf8_lossy(&buf).lines().take(2) {
        writeln!(o, "{line}")?;
    }
    writeln!(
        o,
        "\n== cairn tombstones --top 2 --now <11 days later> (every logout and expired session past gc_grace)"
    )?;
    let topts = cairn_inspect::tombstones::TombstoneOptions { now_s: now + 11 * 86_400, top: 2, ..Default::default() };
    cairn_inspect::tombstones::tombstones(&tables, &topts, o)?;
    writeln!(o, "== cairn meta (first SSTable)")?;
    let mopts = cairn_inspect::meta::MetaOptions { gc_grace_seconds: None, now_s: now, scan: true, json: false };
    cairn_inspect::meta::meta(&tables[..1], &mopts, o)?;
    writeln!(o, "\n== cairn verify")?;
    let clean = cairn_inspect::verify::verify(&tables, false, o)?;
    writeln!(o, "\n== cairn describe --max-index-entries 2 (first SSTable)")?;
    cairn_inspect::describe::describe(&tables[..1], Some(2), o)?;
    writeln!(o, "\nEverything is under {} (schema.cql, expected.ndjson, cairn/sessions-*/).", dir.display())?;
    Ok(if clean { Outcome::Ok } else { Outcome::Problems })
}
