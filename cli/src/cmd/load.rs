//! `cairn load`: restore SSTables into a live cluster over CQL.

use std::io::Write;

use cairn_inspect::open_inputs;

use super::Outcome;
use crate::args::{LoadArgs, TimestampModeArg, parse_now};

pub fn run(a: LoadArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let password = match &a.password_file {
        Some(f) => {
            Some(std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?.trim().to_string())
        }
        None => None,
    };
    let mut renames = Vec::new();
    for r in &a.renames {
        let (o, n) = r.split_once('=').ok_or_else(|| anyhow::anyhow!("--rename-column {r:?}: expected OLD=NEW"))?;
        renames.push((o.to_string(), n.to_string()));
    }
    if a.throttle.is_some_and(|t| !t.is_finite() || t <= 0.0) {
        anyhow::bail!("--throttle must be a positive number of MiB/s");
    }
    let mut resume_in_doubt = std::collections::BTreeMap::new();
    for answer in &a.resume_in_doubt {
        let parsed = answer.rsplit_once('=').and_then(|(mark, what)| {
            let what = match what {
                "send" => cairn_loader::InDoubt::Send,
                "skip" => cairn_loader::InDoubt::Skip,
                _ => return None,
            };
            let (key, run) = mark.split_once('@')?;
            let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
            (hex(key) && key.len().is_multiple_of(2) && hex(run)).then(|| (mark.to_ascii_lowercase(), what))
        });
        let Some((mark, what)) = parsed else {
            anyhow::bail!(
                "--resume-in-doubt {answer:?}: expected KEY@RUN=send or KEY@RUN=skip, the mark as the refusal names it"
            );
        };
        if resume_in_doubt.insert(mark.clone(), what).is_some_and(|before| before != what) {
            anyhow::bail!("--resume-in-doubt answers mark {mark} both send and skip");
        }
    }
    if a.stream {
        if !resume_in_doubt.is_empty() {
            anyhow::bail!("--resume-in-doubt applies to CQL loading, not to --stream (which has no list appends)");
        }
        return stream(&a, &tables, !renames.is_empty(), out);
    }
    let opts = cairn_loader::LoadOptions {
        hosts: a
            .nodes
            .split(',')
            .map(|h| if h.contains(':') { h.to_string() } else { format!("{h}:{}", a.port) })
            .collect(),
        credentials: a.user.clone().map(|u| (u, password.unwrap_or_default())),
        target_keyspace: a.target_keyspace.clone(),
        target_table: a.target_table.clone(),
        renames,
        now_s: parse_now(a.now.as_deref())?,
        as_of: a.as_of.as_deref().map(|t| parse_now(Some(t)).map(|s| s.saturating_mul(1_000_000))).transpose()?,
        timestamp_mode: match a.timestamp_mode {
            TimestampModeArg::Preserve => cairn_loader::TimestampMode::Preserve,
            TimestampModeArg::Rebase => cairn_loader::TimestampMode::Rebase,
            TimestampModeArg::Now => cairn_loader::TimestampMode::Now,
        },
        drop_ttl: a.drop_ttl,
        plan: a.plan,
        create_schema: a.create_schema,
        batch_statements: 50,
        resume: a.resume.clone(),
        resume_in_doubt,
        stop_after: None,
        connections: a.connections,
        max_in_flight: a.max_in_flight.unwrap_or(0),
        throttle_mib_s: a.throttle,
        progress: !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let started = std::time::Instant::now();
    let summary = match cairn_loader::load(&tables, &opts) {
        Ok(s) => s,
        // The load began and writes failed (after retries): exit 1, resumable.
        Err(e @ cairn_loader::LoadError::Write { .. }) => {
            let hint = if a.resume.is_some() { "; run again with the same --resume file" } else { "" };
            eprintln!("cairn: {e}{hint}");
            return Ok(Outcome::Problems);
        }
        Err(e) => return Err(e.into()),
    };
    let seconds = started.elapsed().as_secs_f64();
    if a.json {
        let v = serde_json::json!({ "seconds": seconds, "tables": summary });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write!(out, "{}", cairn_loader::summary(&summary, a.plan, a.throttle, seconds))?;
    }
    Ok(Outcome::Ok)
}

/// `cairn load --stream`: the SSTables cut into each replica's share and streamed.
fn stream(
    a: &LoadArgs,
    tables: &[cairn_format::sstable::SsTable],
    renames: bool,
    out: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let cql_only = [
        (renames, "--rename-column"),
        (a.as_of.is_some(), "--as-of"),
        (a.drop_ttl, "--drop-ttl"),
        (a.create_schema, "--create-schema"),
        (a.timestamp_mode != TimestampModeArg::Preserve, "--timestamp-mode"),
        (a.user.is_some(), "--user"),
    ];
    if let Some((_, flag)) = cql_only.iter().find(|(given, _)| *given) {
        anyhow::bail!("{flag} applies to CQL loading, not to --stream (which keeps every cell as it is)");
    }
    let host = a.nodes.split(',').next().unwrap_or_default();
    let ip: std::net::IpAddr = host
        .split(':')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| anyhow::anyhow!("-d {host:?}: an IP address, with --stream"))?;
    let o = cairn_server::ring::load::StreamOptions {
        contact: std::net::SocketAddr::new(ip, a.storage_port),
        target_keyspace: a.target_keyspace.as_deref(),
        target_table: a.target_table.as_deref(),
        plan: a.plan,
        resume: a.resume.as_deref(),
        throttle_mib_s: a.throttle,
    };
    let started = std::time::Instant::now();
    let streamed = match cairn_server::ring::load::stream(tables, &o) {
        Ok(s) => s,
        Err(e) => {
            let hint = if a.resume.is_some() { "; run again with the same --resume file" } else { "" };
            eprintln!("cairn: {e}{hint}");
            return Ok(Outcome::Problems);
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    if a.json {
        let tables: Vec<serde_json::Value> = streamed
            .iter()
            .map(|t| {
                serde_json::json!({
                    "keyspace": t.keyspace, "table": t.table, "sstables": t.sstables, "skipped": t.skipped,
                    "partitions": t.partitions, "per_replica": t.per_replica, "bytes": t.bytes,
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "seconds": seconds, "tables": tables }))?
        )?;
        return Ok(Outcome::Ok);
    }
    let verb = if a.plan { "would stream" } else { "streamed" };
    for t in &streamed {
        writeln!(
            out,
            "{}.{}: {verb} {} partition(s) of {} SSTable(s) ({} skipped, done before), {:.2} MiB",
            t.keyspace,
            t.table,
            t.partitions,
            t.sstables,
            t.skipped,
            t.bytes as f64 / 1048576.0
        )?;
        for (replica, n) in &t.per_replica {
            writeln!(out, "  {replica}: {n} partition(s)")?;
        }
    }
    writeln!(out, "{seconds:.2} s")?;
    Ok(Outcome::Ok)
}
