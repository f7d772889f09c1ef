//! `cairn demo`: the whole story on a generated table, each step the command a user would type.
//!
//! 1. `gen` writes a web-session table (TTLs, renewals, logouts) as three SSTables.
//! 2. `node` starts a Cassandra-compatible node on a free loopback port (in this process).
//! 3. `load` restores the table directory into it over CQL.
//! 4. `tombstones` finds the build-up, and names the SSTable that blocks each purge.
//! 5. `compact run` merges the three SSTables and purges what nothing blocks any more.
//! 6. `export` writes the compacted table as Parquet; the row counts are read back from the
//!    Parquet files' footers.
//!
//! The demo clock is the current time with a one-hour gc_grace, so that the logouts of the last
//! day are purgeable. The node runs inside the demo's process, so nothing outlives it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use cairn_format::sstable::OpenOptions;
use cairn_inspect::open_inputs;

use super::Outcome;
use crate::args::DemoArgs;

/// The gc_grace_seconds of the demo: an hour, so that a day of logouts is past it.
const GC_GRACE: i64 = 3600;

pub fn run(a: DemoArgs, o: &mut dyn Write) -> anyhow::Result<Outcome> {
    let dir = a.out.unwrap_or_else(|| std::env::temp_dir().join(format!("cairn-demo-{}", std::process::id())));
    let now = cairn_inspect::now_seconds();
    let data = dir.join("data");
    writeln!(o, "Cairn demo: a web-session table from generation to Parquet. Files under {}.", dir.display())?;

    // 1. Generate.
    step(o, 1, &format!("cairn gen sessions --rows 400 --sstables 3 --now {now} --out {}", data.display()))?;
    let opts = cairn_fixtures::generate::GenOptions {
        seed: 2014,
        rows: 400,
        version: cairn_format::Version::Nb,
        compression: Some(cairn_format::compression::Compressor::Lz4),
        sstables: 3,
        out: data.clone(),
        expected: None,
        now,
    };
    let ds = cairn_fixtures::generate::dataset("sessions").ok_or_else(|| anyhow::anyhow!("no sessions dataset"))?;
    let g = cairn_fixtures::generate::generate_dataset(ds.as_ref(), &opts)?;
    writeln!(
        o,
        "   Web sessions written USING TTL over the last day, some renewed, some logged out (deleted),\n   \
         flushed as {} SSTables of {} partitions under {}.",
        g.sstables.len(),
        g.partitions,
        g.table_dir.display()
    )?;
    let table_dir = g.table_dir.clone();
    let tables = open_inputs(std::slice::from_ref(&table_dir), &OpenOptions::default())?;

    // 2. A node.
    let config = cairn_server::NodeConfig {
        data_dir: dir.join("node"),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        admin: None,
        ..Default::default()
    };
    let node = cairn_server::start(config)?;
    let port = node.addr.port();
    step(o, 2, &format!("cairn node --data {} --port {port} --admin-port 0", dir.join("node").display()))?;
    writeln!(o, "   A Cassandra-compatible node serves CQL on {} (inside this process for the demo).", node.addr)?;

    // 3. Restore into it.
    step(
        o,
        3,
        &format!("cairn load {} --nodes 127.0.0.1 --port {} --create-schema --now {now}", table_dir.display(), port),
    )?;
    let load = cairn_loader::LoadOptions {
        hosts: vec![format!("127.0.0.1:{}", port)],
        credentials: None,
        target_keyspace: None,
        target_table: None,
        renames: Vec::new(),
        now_s: now,
        as_of: None,
        timestamp_mode: cairn_loader::TimestampMode::Preserve,
        drop_ttl: false,
        plan: false,
        create_schema: true,
        batch_statements: 50,
        resume: None,
        resume_in_doubt: Default::default(),
        stop_after: None,
        connections: 1,
        max_in_flight: 32,
        throttle_mib_s: None,
        progress: false,
    };
    for s in cairn_loader::load(&tables, &load)? {
        writeln!(
            o,
            "   Restored {}.{} over CQL with the original write times and TTLs: {} partitions, {} rows,\n   \
             {} deletions, in {} statements.",
            s.keyspace, s.table, s.partitions, s.rows, s.tombstones, s.statements
        )?;
    }
    node.stop();
    writeln!(o, "   Node stopped; its data is under {}.", dir.join("node").display())?;

    // 4. The tombstone build-up, and what blocks its purge.
    let newest = g.sstables.last().ok_or_else(|| anyhow::anyhow!("gen wrote no SSTable"))?;
    step(o, 4, &format!("cairn tombstones {} --gc-grace-seconds {GC_GRACE} --now {now}", newest.display()))?;
    let mut json = Vec::new();
    let topts = cairn_inspect::tombstones::TombstoneOptions {
        now_s: now,
        gc_grace_seconds: Some(GC_GRACE),
        json: true,
        ..Default::default()
    };
    let newest_tables = open_inputs(std::slice::from_ref(newest), &OpenOptions::default())?;
    cairn_inspect::tombstones::tombstones(&newest_tables, &topts, &mut json)?;
    let summary: serde_json::Value = serde_json::from_slice(&json)?;
    let number = |k: &str| summary[0][k].as_u64().unwrap_or(0);
    let (droppable, blocked, young) = (number("droppable"), number("blocked"), number("younger_than_gc_grace"));
    let counted = droppable + blocked + young;
    let blockers: BTreeMap<String, u64> = summary[0]["blocked_by"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, n)| (file_name(path), n.as_u64().unwrap_or(0)))
        .collect();
    writeln!(
        o,
        "   The newest SSTable holds {counted} tombstones: {droppable} droppable now, {young} younger than gc_grace,\n   \
         and {} past gc_grace but blocked, because older data for their keys sits in{}.",
        blocked,
        blockers.iter().map(|(f, n)| format!(" {f} ({n})")).collect::<Vec<_>>().join(",")
    )?;

    // 5. Purge by compacting the table's SSTables together.
    let compacted = dir.join("compacted");
    step(
        o,
        5,
        &format!(
            "cairn compact run {} --gc-grace-seconds {GC_GRACE} --now {now} --out {}",
            table_dir.display(),
            compacted.display()
        ),
    )?;
    let mut ropts = cairn_compact::run::RunOptions::new(cairn_format::Version::Nb, now);
    ropts.gc_grace_seconds = Some(GC_GRACE);
    let r = cairn_compact::run::run(&tables, &ropts, &compacted)?;
    writeln!(
        o,
        "   {} SSTables in, {} out: {} tombstones purged, {} kept for overlapping SSTables (none are left\n   \
         outside), {} kept as younger than gc_grace. The inputs are untouched.",
        tables.len(),
        r.outputs.len(),
        r.purged,
        r.kept_for_overlap,
        r.kept_young
    )?;

    // 6. Export the compacted table and read the Parquet back.
    let parquet = dir.join("parquet");
    step(o, 6, &format!("cairn export {} --out {} --now {now}", compacted.display(), parquet.display()))?;
    let outputs = open_inputs(std::slice::from_ref(&compacted), &OpenOptions::default())?;
    let eopts = cairn_export::ExportOptions { out: parquet.clone(), now_s: now, threads: 1, ..Default::default() };
    for s in cairn_export::export(&outputs, &eopts)? {
        let mut rows = 0;
        for f in &s.files {
            rows += parquet_rows(&Path::new(&s.path).join(&f.path))?;
        }
        writeln!(
            o,
            "   {}.{}: {} live rows written to {} Parquet file(s) at {}; the Parquet footers count {rows}.",
            s.keyspace,
            s.table,
            s.rows,
            s.files.len(),
            s.path
        )?;
    }
    writeln!(o, "\nDone. Everything is under {}; delete it when you are finished.", dir.display())?;
    Ok(Outcome::Ok)
}

/// One step's heading: its number and the command a user would type.
fn step(o: &mut dyn Write, n: u32, command: &str) -> std::io::Result<()> {
    writeln!(o, "\n{n}. $ {command}")
}

fn file_name(p: &str) -> String {
    Path::new(p).file_name().map_or_else(|| p.to_string(), |f| f.to_string_lossy().into_owned())
}

/// The row count a Parquet file's footer states (read by the parquet crate, not by Cairn).
fn parquet_rows(path: &Path) -> anyhow::Result<i64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let reader = SerializedFileReader::new(file).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(reader.metadata().file_metadata().num_rows())
}
