//! `cairn gen`: a generated dataset written as real SSTables.

use std::io::Write;

use super::Outcome;
use crate::args::{GenArgs, parse_now};
use crate::progress::{Counter, Progress};

pub fn run(a: GenArgs, out: &mut dyn Write, progress: bool) -> anyhow::Result<Outcome> {
    let opts = cairn_fixtures::generate::GenOptions {
        seed: a.seed,
        rows: a.rows,
        version: a.version.version(),
        compression: a.compression.compressor(),
        sstables: a.sstables,
        out: a.out,
        expected: a.expected,
        now: parse_now(a.now.as_deref().filter(|t| *t != "now"))?,
    };
    let ds = cairn_fixtures::generate::dataset(a.dataset.name()).ok_or_else(|| anyhow::anyhow!("unknown dataset"))?;
    let bar = Progress::start(progress, "gen: Data.db written", Counter::Written, None);
    let g = cairn_fixtures::generate::generate_dataset(ds.as_ref(), &opts);
    drop(bar);
    let g = g?;
    writeln!(
        out,
        "wrote {} partitions into {} SSTable(s) under {}",
        g.partitions,
        g.sstables.len(),
        g.table_dir.display()
    )?;
    writeln!(out, "schema: {}", g.schema.display())?;
    Ok(Outcome::Ok)
}
