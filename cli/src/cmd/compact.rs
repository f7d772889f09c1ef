//! `cairn compact`: upgrade, run, plan (--execute), split, gc and cleanup.

use std::io::Write;
use std::path::PathBuf;

use cairn_compact::plan::ExecuteTarget;
use cairn_format::Component;
use cairn_inspect::open_inputs;

use super::Outcome;
use crate::args::{
    CleanupArgs, CompressionArg, GcArgs, GranularityArg, PlanArgs, RunArgs, SplitArgs, UpgradeArgs, parse_now,
};
use crate::progress::{Counter, Progress, data_bytes};

pub fn run(a: RunArgs, out: &mut dyn Write, progress: bool) -> anyhow::Result<Outcome> {
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let mut opts = a.purge.options(a.to.version())?;
    opts.compression = a.compression.map(CompressionArg::compressor);
    opts.dry_run = a.dry_run;
    let out_root = a.out.clone().unwrap_or_default();
    let first = tables.first().ok_or_else(|| anyhow::anyhow!("no SSTables to compact"))?;
    let target = cairn_compact::upgrade::target_dir(&first.descriptor, &out_root);
    if !a.dry_run && !a.in_place {
        cairn_compact::run::check_out_dir(&tables, &target, &out_root)?;
    }
    let header = first.header.clone();
    let bar = Progress::start(progress, "compact run", Counter::Read, Some(data_bytes(&tables)));
    let mut written = Ok(());
    let mut explainer = cairn_inspect::explain::Explainer::default();
    let mut explain = |e: &cairn_compact::run::Explanation| {
        if a.explain && written.is_ok() {
            written = writeln!(out, "{}", explainer.line(e, &header, a.ndjson));
        }
    };
    let r = if a.in_place {
        let operation = cairn_format::txn::operation::COMPACTION;
        cairn_compact::run::run_in_place(&tables, &[], &opts, operation, &mut explain)
    } else {
        cairn_compact::run::run_explained(&tables, &opts, &target, &mut explain)
    };
    drop(bar);
    // Also when the rewrite stopped at an error: the lines written showed the keys.
    explainer.finish();
    let r = r?;
    written?;
    if !a.explain {
        for d in &r.outputs {
            writeln!(out, "{}", d.path(Component::Data).display())?;
        }
        if r.outputs.is_empty() && !a.dry_run {
            writeln!(out, "(nothing survived: no SSTable written)")?;
        }
    }
    let written = if a.dry_run {
        "dry run: nothing written".to_string()
    } else {
        let names: Vec<String> = r.outputs.iter().map(|d| d.path(Component::Data).display().to_string()).collect();
        format!("written: {}", if names.is_empty() { "nothing".into() } else { names.join(", ") })
    };
    let kept = format!("{} past gc_grace kept {}", r.kept_for_overlap, kept_why(&r));
    eprintln!(
        "compacted {} SSTables: {} partitions in, {} out; {} tombstones purged, {kept}, {} kept as younger than gc_grace; {written}",
        tables.len(),
        r.partitions_in,
        r.partitions_out,
        r.purged,
        r.kept_young
    );
    Ok(Outcome::Ok)
}

/// Why a rewrite kept the tombstones past gc_grace it kept: overlapping SSTables, or inputs not
/// all repaired under `--only-purge-repaired` (repair groups may differ: both, counted apart).
fn kept_why(r: &cairn_compact::run::RunReport) -> String {
    let (all, unrepaired) = (r.kept_for_overlap, r.kept_unrepaired);
    let why = cairn_compact::purge::UNREPAIRED;
    match unrepaired {
        0 => "for overlapping SSTables".to_string(),
        n if n == all => format!("({why})"),
        n => format!("({} for overlapping SSTables, {n} because {why})", all - n),
    }
}

pub fn gc(a: GcArgs, out: &mut dyn Write, progress: bool) -> anyhow::Result<Outcome> {
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let target = match (&a.out, a.in_place) {
        (Some(d), _) => ExecuteTarget::Out(d.clone()),
        (None, true) => ExecuteTarget::InPlace,
        // A dry run writes nothing anywhere.
        (None, false) => ExecuteTarget::Out(PathBuf::new()),
    };
    let mut opts = a.purge.options(a.to.version())?;
    opts.compression = a.compression.map(CompressionArg::compressor);
    opts.dry_run = a.dry_run;
    let granularity = match a.granularity {
        GranularityArg::Row => cairn_compact::gc::Granularity::Row,
        GranularityArg::Cell => cairn_compact::gc::Granularity::Cell,
    };
    let header = tables.first().map(|t| t.header.clone());
    let bar = Progress::start(progress, "compact gc", Counter::Read, Some(data_bytes(&tables)));
    let mut written = Ok(());
    let mut explainer = cairn_inspect::explain::Explainer::default();
    let mut explain = |e: &cairn_compact::run::Explanation| {
        if let (true, Some(h), true) = (a.explain, &header, written.is_ok()) {
            written = writeln!(out, "{}", explainer.line(e, h, false));
        }
    };
    let done = cairn_compact::gc::gc(&tables, granularity, &opts, &target, &mut explain);
    drop(bar);
    explainer.finish();
    let done = done?;
    written?;
    let (mut collected, mut purged) = (0u64, 0u64);
    for c in &done {
        collected += c.collected;
        purged += c.report.purged;
        let outputs: Vec<String> =
            c.report.outputs.iter().map(|d| d.path(Component::Data).display().to_string()).collect();
        let into = if a.dry_run {
            "dry run".to_string()
        } else if outputs.is_empty() {
            "nothing left".to_string()
        } else {
            outputs.join(", ")
        };
        writeln!(
            out,
            "{} -> {into}: {} collected, {} tombstones purged{}",
            c.input.path(Component::Data).display(),
            c.collected,
            c.report.purged,
            if c.deleted { " (input deleted)" } else { "" }
        )?;
    }
    eprintln!(
        "garbage-collected {} SSTables: {collected} cells, markers and deletions collected, {purged} tombstones purged",
        done.len()
    );
    Ok(Outcome::Ok)
}

pub fn split(a: SplitArgs, out: &mut dyn Write, progress: bool) -> anyhow::Result<Outcome> {
    let target = match (&a.out, a.in_place) {
        (Some(d), _) => ExecuteTarget::Out(d.clone()),
        (None, true) => ExecuteTarget::InPlace,
        (None, false) => anyhow::bail!("compact split needs --out DIR (inputs untouched) or --in-place"),
    };
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let size = match (a.size, a.token_ranges) {
        (Some(mb), _) => Some(mb.saturating_mul(1 << 20)),
        (None, None) => Some(cairn_compact::split::DEFAULT_SPLIT_SIZE_MB << 20),
        (None, Some(_)) => None,
    };
    let opts = cairn_compact::split::SplitOptions {
        to: a.to.version(),
        compression: a.compression.map(CompressionArg::compressor),
        max_bytes: size,
        token_ranges: a.token_ranges,
        now_s: parse_now(a.now.as_deref())?,
    };
    let bar = Progress::start(progress, "compact split", Counter::Read, Some(data_bytes(&tables)));
    let pieces = cairn_compact::split::split(&tables, &opts, &target)?;
    drop(bar);
    for s in pieces {
        if s.skipped {
            eprintln!("skipping {}: already within the size", s.input.display_name());
        }
        for d in &s.outputs {
            writeln!(out, "{}", d.path(Component::Data).display())?;
        }
    }
    Ok(Outcome::Ok)
}

pub fn cleanup(a: CleanupArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut resolved = 0;
    for p in &a.paths {
        for (_, done) in cairn_compact::cleanup::cleanup(p)? {
            for l in &done.committed {
                writeln!(out, "completed {} (committed: the SSTables it replaced are deleted)", l.display())?;
            }
            for l in &done.rolled_back {
                writeln!(out, "rolled back {} (not committed: the SSTables it added are deleted)", l.display())?;
            }
            for t in &done.temporary {
                writeln!(out, "deleted {}", t.display())?;
            }
            resolved += done.committed.len() + done.rolled_back.len() + done.temporary.len();
        }
    }
    eprintln!("cleanup: {resolved} leftovers resolved");
    Ok(Outcome::Ok)
}

pub fn plan(a: PlanArgs, out: &mut dyn Write, progress: bool) -> anyhow::Result<Outcome> {
    use cairn_compact::plan;
    if a.execute && a.out.is_none() && !a.in_place {
        anyhow::bail!("--execute needs --out DIR (inputs untouched) or --in-place (replace them, as Cassandra does)");
    }
    let strategy = match a.strategy.as_deref() {
        None => None,
        Some(s) => Some(
            plan::Strategy::parse(s).ok_or_else(|| anyhow::anyhow!("unknown strategy {s:?}: use stcs, lcs or twcs"))?,
        ),
    };
    let mut options = Vec::new();
    for o in &a.options {
        let (k, v) = o.split_once('=').ok_or_else(|| anyhow::anyhow!("--option {o:?}: expected NAME=VALUE"))?;
        options.push((k.trim().to_string(), v.trim().to_string()));
    }
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let req = plan::PlanRequest {
        strategy,
        options,
        now_s: parse_now(a.now.as_deref())?,
        gc_grace_seconds: a.gc_grace_seconds,
        allow_unsafe_expiration: a.allow_unsafe_aggressive_sstable_expiration,
    };
    let p = plan::plan_tables(&tables, &req)?;
    if a.json {
        writeln!(out, "{}", plan::render_json(&p))?;
    } else {
        write!(out, "{}", plan::render_text(&p))?;
    }
    if !a.execute {
        return Ok(Outcome::Ok);
    }
    let target = match &a.out {
        Some(d) => ExecuteTarget::Out(d.clone()),
        None => ExecuteTarget::InPlace,
    };
    let mut base = cairn_compact::run::RunOptions::new(a.to.version(), p.clock.now_s);
    base.compression = a.compression.map(CompressionArg::compressor);
    let bar = Progress::start(progress, "compact plan --execute", Counter::Read, Some(data_bytes(&tables)));
    let executed = plan::execute(&p, &tables, &base, &target)?;
    drop(bar);
    match executed {
        None => eprintln!("nothing to compact"),
        Some(x) => {
            for d in &x.report.outputs {
                writeln!(out, "{}", d.path(Component::Data).display())?;
            }
            let kept = format!("{} kept {}", x.report.kept_for_overlap, kept_why(&x.report));
            eprintln!(
                "compacted {} SSTables into {} ({} partitions in, {} out; {} tombstones purged, {kept}); {} fully expired dropped; {} deleted",
                x.compacted.len(),
                x.report.outputs.len(),
                x.report.partitions_in,
                x.report.partitions_out,
                x.report.purged,
                x.dropped.len(),
                x.deleted.len()
            );
        }
    }
    Ok(Outcome::Ok)
}

pub fn upgrade(a: UpgradeArgs, out: &mut dyn Write, progress: bool) -> anyhow::Result<Outcome> {
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let opts = cairn_compact::upgrade::UpgradeOptions {
        to: a.to.version(),
        compression: a.compression.map(CompressionArg::compressor),
    };
    let bar = Progress::start(progress, "compact upgrade", Counter::Read, Some(data_bytes(&tables)));
    let written = cairn_compact::upgrade::upgrade(&tables, &opts, &a.out)?;
    drop(bar);
    for d in written {
        writeln!(out, "{}", d.path(Component::Data).display())?;
    }
    Ok(Outcome::Ok)
}
