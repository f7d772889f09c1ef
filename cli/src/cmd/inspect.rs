//! The read-only verbs: dump, meta, verify, describe, tombstones, partitions.

use std::io::Write;

use cairn_format::sstable::OpenOptions;
use cairn_inspect::open_inputs;

use super::Outcome;
use crate::args::{
    DescribeArgs, DumpArgs, MetaArgs, PartitionsArgs, Timestamps, TombstonesArgs, VerifyArgs, parse_now, parse_size,
};
use crate::progress::{Counter, Progress, data_bytes};

pub fn dump(a: DumpArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let opts = cairn_inspect::dump::DumpOptions {
        keys: a.keys,
        exclude: a.exclude,
        keys_only: a.keys_only,
        tombstones_only: a.tombstones_only,
        raw_timestamps: a.timestamps == Timestamps::Raw,
        ndjson: a.ndjson,
        counter_shards: a.counter_shards,
        now_s: parse_now(a.now.as_deref())?,
        explicit: a.explicit,
    };
    cairn_inspect::dump::dump(&tables, &opts, a.merge, out)?;
    Ok(Outcome::Ok)
}

pub fn meta(a: MetaArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    // sstablemetadata reads only Statistics.db: a damaged Index.db is a warning here.
    let options = OpenOptions { metadata_only: true, ..a.inputs.options() };
    let tables = open_inputs(&a.inputs.paths, &options)?;
    let opts = cairn_inspect::meta::MetaOptions {
        gc_grace_seconds: a.gc_grace_seconds,
        now_s: parse_now(a.now.as_deref())?,
        scan: a.scan,
        json: a.json,
    };
    let clean = cairn_inspect::meta::meta(&tables, &opts, out)?;
    Ok(if clean { Outcome::Ok } else { Outcome::Problems })
}

pub fn verify(a: VerifyArgs, out: &mut dyn Write, progress: bool) -> anyhow::Result<Outcome> {
    // A checksum file the TOC lists but the disk lacks is one of the problems verify reports.
    let options = cairn_format::sstable::OpenOptions { reports_missing_checksums: true, ..a.inputs.options() };
    let tables = open_inputs(&a.inputs.paths, &options)?;
    let bar = Progress::start(progress, "verify", Counter::Read, Some(data_bytes(&tables)));
    let clean = cairn_inspect::verify::verify(&tables, a.json, out);
    drop(bar);
    let clean = clean?;
    Ok(if clean { Outcome::Ok } else { Outcome::Problems })
}

pub fn describe(a: DescribeArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    cairn_inspect::describe::describe(&tables, a.max_index_entries, out)?;
    Ok(Outcome::Ok)
}

pub fn tombstones(a: TombstonesArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let opts = cairn_inspect::tombstones::TombstoneOptions {
        now_s: parse_now(a.purge.now.as_deref())?,
        gc_grace_seconds: a.purge.gc_grace_seconds,
        only_purge_repaired: a.purge.only_purge_repaired,
        top: a.top,
        ndjson: a.ndjson,
        json: a.json,
    };
    cairn_inspect::tombstones::tombstones(&tables, &opts, out)?;
    Ok(Outcome::Ok)
}

pub fn partitions(a: PartitionsArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let opts = cairn_inspect::partitions::PartitionsOptions {
        min_size: a.min_size.as_deref().map(parse_size).transpose()?,
        min_rows: a.min_rows,
        min_cells: a.min_cells,
        min_tombstones: a.min_tombstones,
        keys: a.keys,
        exclude: a.exclude,
        now_s: parse_now(a.now.as_deref())?,
        csv: a.csv,
        json: a.json,
    };
    cairn_inspect::partitions::partitions(&tables, &opts, out)?;
    Ok(Outcome::Ok)
}
