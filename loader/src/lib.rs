//! # cairn-loader
//!
//! `cairn load`: replay SSTables — a snapshot, a table directory, files — into a live cluster
//! over standard CQL (protocol v4, the scylla Rust driver), keeping what a restore must keep:
//! every cell's write timestamp (`USING TIMESTAMP`) and remaining TTL (`USING TTL`), and every
//! deletion — partition, row, range (clustering slices), cell, collection — so data deleted in
//! the snapshot stays deleted on a target that still holds it.
//!
//! The input of each table is read reconciled (newest wins, shadowed data dropped), the same
//! view `cairn dump --merge` shows, and written partition by partition as unlogged batches of
//! prepared statements with bound values (each distinct statement prepared once per table; the
//! values bound as the bytes the SSTable holds), several partitions in flight, routed to a
//! replica, throttled and retried (see [`send`]). Restore semantics: `--target-keyspace/--target-table`,
//! `--rename-column`, `--as-of` (skip writes newer than a time), `--timestamp-mode
//! preserve|rebase|now`, `--drop-ttl`, `--create-schema` (from the snapshot's schema.cql),
//! `--plan` (check the schema and count per host, write nothing), `--resume` (checkpoints; a
//! partition with list appends is marked in doubt before it is sent, and a rerun that finds the
//! mark stops until the operator answers for it, see `checkpoint`). The
//! target schema is checked before any write.
//!
//! Cells expired at load time are written as the tombstones they have become. List elements
//! are appended (their original cell paths cannot be set through CQL), so the deletion of one
//! list element cannot be written either: such deletions are counted
//! ([`TableLoad::unwritable_deletions`]) and reported, never dropped without a word. Fields of
//! non-frozen UDTs are written one by one (`u.f = ?`), a field's deletion as `u.f = null`; a
//! cell naming a field its type lacks is an error. Counters are refused.

//!
//! The rooms: `session` connects, `schema` checks (or creates) the target table, `statements`
//! turns partitions into prepared statements and their values, [`send`] writes them, `checkpoint` records what is done for
//! `--resume`, [`progress`] reports; [`error`] says why a load stopped and where.
//! [`load`] below is the sequence that ties them together.

mod checkpoint;
pub mod error;
pub mod progress;
mod schema;
pub mod send;
mod session;
mod statements;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_format::data::PartitionStream;
use cairn_format::partitioner::Token;
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_format::types::CqlType;
use serde::Serialize;

pub use checkpoint::InDoubt;
pub use error::{CheckpointProblem, LoadError};
pub use progress::summary;
pub use statements::literal;

use checkpoint::Checkpoint;
use progress::Progress;
use scylla::statement::prepared::PreparedStatement;
use session::Target;
use statements::{Stmt, TableCtx, Writer};

/// How write timestamps are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampMode {
    /// The original timestamps.
    #[default]
    Preserve,
    /// Shifted so the newest input write lands just after the load starts: restored data wins
    /// over writes made after the snapshot, without a TRUNCATE.
    Rebase,
    /// Every write at the load's time.
    Now,
}

/// Options of a load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Contact points (`host:port`).
    pub hosts: Vec<String>,
    /// User and password.
    pub credentials: Option<(String, String)>,
    /// Write into this keyspace instead.
    pub target_keyspace: Option<String>,
    /// Write into this table instead.
    pub target_table: Option<String>,
    /// Rename source columns.
    pub renames: Vec<(String, String)>,
    /// The time of the load (s): TTLs remaining and expiry are computed against it.
    pub now_s: i64,
    /// Skip writes newer than this (µs).
    pub as_of: Option<i64>,
    /// Timestamps.
    pub timestamp_mode: TimestampMode,
    /// Drop TTLs (restored data does not expire).
    pub drop_ttl: bool,
    /// Only count; write nothing.
    pub plan: bool,
    /// Create a missing keyspace and table from the source schema.
    pub create_schema: bool,
    /// Statements per batch (one partition's statements at most).
    pub batch_statements: usize,
    /// Checkpoint file: finished partitions are recorded here and skipped when the load is
    /// run again (after a crash or an interruption).
    pub resume: Option<std::path::PathBuf>,
    /// The operator's answer for partitions the checkpoint marks in doubt, by mark (`KEY@RUN`,
    /// lowercase hex): what to do with their list appends. A mark without an answer stops the
    /// load ([`LoadError::InDoubt`]); an answer that names no mark is refused.
    pub resume_in_doubt: BTreeMap<String, InDoubt>,
    /// Stop after this many partitions (an interruption, for tests and staged loads).
    pub stop_after: Option<u64>,
    /// Connections per host (0: the driver's default, one per host or shard).
    pub connections: usize,
    /// Partitions written concurrently (each partition's batches in order); 0:
    /// [`IN_FLIGHT_PER_NODE`] per node of the target cluster.
    pub max_in_flight: usize,
    /// Bytes of bound values sent per second (see [`TableLoad::bytes`]), in MiB/s (`None`:
    /// unthrottled).
    pub throttle_mib_s: Option<f64>,
    /// Report progress on standard error (a terminal line, rewritten twice a second).
    pub progress: bool,
}

/// What a load did (or would do, with `--plan`), per table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableLoad {
    /// Target keyspace.
    pub keyspace: String,
    /// Target table.
    pub table: String,
    /// Partitions.
    pub partitions: u64,
    /// Rows, as a CQL `SELECT` counts them: clustering rows with a live marker or cell
    /// written, plus one per partition whose only live content is static.
    pub rows: u64,
    /// Cells written.
    pub cells: u64,
    /// Deletions written (partition, row, range, cell, collection).
    pub tombstones: u64,
    /// Writes skipped by `--as-of`.
    pub skipped_newer: u64,
    /// Deletions of single list elements, which CQL cannot write (`DELETE l[i]` names a
    /// position, not the element's cell path): counted and reported, not sent.
    pub unwritable_deletions: u64,
    /// CQL statements sent.
    pub statements: u64,
    /// Partitions skipped because a previous run finished them (`--resume`).
    pub resumed_past: u64,
    /// List-append statements of partitions in doubt not sent again (`--resume-in-doubt MARK=skip`;
    /// their elements still count in `cells`).
    #[serde(skip_serializing_if = "is_zero")]
    pub in_doubt_appends_skipped: u64,
    /// Bytes of bound values sent (or, with `--plan`, that would be): every value bound to a
    /// statement — keys, clustering values, cells, timestamps, TTLs — with its 4-byte length,
    /// as it goes in the EXECUTE and BATCH requests (statement texts, prepared once, are not
    /// counted).
    pub bytes: u64,
    /// Writes retried after a transient failure.
    pub retries: u64,
    /// The schema check: `ok`, or (with `--plan --create-schema`) that the table would be created.
    pub schema_check: String,
    /// Rows, cells and bytes per target host (the partition's first replica), with `--plan`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_host: BTreeMap<String, HostLoad>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What goes to one host.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct HostLoad {
    /// Partitions.
    pub partitions: u64,
    /// Rows.
    pub rows: u64,
    /// Bytes of bound values (see [`TableLoad::bytes`]).
    pub bytes: u64,
}

/// Partitions in flight per node of the target, by default: each node works on its share of
/// them at once, so a larger cluster takes more.
pub const IN_FLIGHT_PER_NODE: usize = 32;

/// Load `tables` (grouped by table and point in time) as `o` says: connect, then table by
/// table check the target schema and write every partition, checkpointing as it goes.
pub fn load(tables: &[SsTable], o: &LoadOptions) -> Result<Vec<TableLoad>, LoadError> {
    let mut checkpoint = Checkpoint::open(o.resume.as_deref(), !o.plan)?;
    let groups = table_groups(tables);
    let doubts = doubts(&mut checkpoint, &groups, o)?;
    let target = Target::connect(o)?;
    let in_flight = match o.max_in_flight {
        0 => IN_FLIGHT_PER_NODE * target.session.get_cluster_state().get_nodes_info().len().max(1),
        n => n,
    };
    let mut run = Run {
        o,
        sender: send::Sender::new(target.session.clone(), in_flight, o.throttle_mib_s),
        target,
        progress: Progress::new(o.progress),
        checkpoint,
        partitions: 0,
    };
    let mut out = Vec::new();
    for ((dirs, _, group), doubts) in groups.iter().zip(doubts) {
        out.push(run.table(dirs, group, &doubts)?);
    }
    Ok(out)
}

/// A partition a previous run marked in doubt, and the operator's answer for it.
struct Doubt {
    mark: checkpoint::Mark,
    token: Token,
    key: Vec<u8>,
    answer: InDoubt,
}

/// The marks of each table group with the operator's answers, before anything is written: a
/// mark at or before the group's partition done is settled (the checkpoint moved past it once
/// it was acknowledged); a mark without an answer stops the load (not with `--plan`, which
/// writes nothing); an answer must name a mark of this checkpoint, and `skip` needs preserved
/// timestamps: rebased or `now` ones move with each run's clock, so the partition's collection
/// deletions would be newer than the appends already applied, and hide them.
fn doubts(
    checkpoint: &mut Checkpoint,
    groups: &[(String, String, Vec<SsTable>)],
    o: &LoadOptions,
) -> Result<Vec<Vec<Doubt>>, LoadError> {
    let path = || o.resume.clone().unwrap_or_default();
    for (id, answer) in &o.resume_in_doubt {
        if !checkpoint.all_marks().iter().any(|m| m.id() == *id) {
            return Err(LoadError::Checkpoint {
                path: path(),
                problem: CheckpointProblem::NotInDoubt { mark: id.clone() },
            });
        }
        if *answer == InDoubt::Skip && o.timestamp_mode != TimestampMode::Preserve {
            return Err(LoadError::InDoubtSkip { mark: id.clone() });
        }
    }
    let mut unanswered = Vec::new();
    let mut out = Vec::new();
    for (dirs, label, group) in groups {
        let mut table = Vec::new();
        if let Some(first) = group.first() {
            let done = checkpoint.resume_after(dirs, first.partitioner)?;
            for (mark, token, key) in checkpoint.marks(dirs, first.partitioner)? {
                if done
                    .as_ref()
                    .is_some_and(|(dt, dk)| cairn_format::partitioner::compare_decorated(&token, &key, dt, dk).is_le())
                {
                    checkpoint.settle(&mark);
                    continue;
                }
                match o.resume_in_doubt.get(&mark.id()) {
                    Some(&answer) => table.push(Doubt { mark, token, key, answer }),
                    None => unanswered.push(format!(
                        "{label}: partition {} (token {}), mark {}",
                        mark.key,
                        mark.token,
                        mark.id()
                    )),
                }
            }
        }
        out.push(table);
    }
    if !unanswered.is_empty() && !o.plan {
        return Err(LoadError::InDoubt { marks: unanswered, path: path() });
    }
    Ok(out)
}

/// One group per table and point in time ([`cairn_format::location`]): its directories
/// (comma-joined: the checkpoint's key), its name for messages, its SSTables.
fn table_groups(tables: &[SsTable]) -> Vec<(String, String, Vec<SsTable>)> {
    let groups = cairn_format::location::group_by_table(tables);
    let locations: Vec<_> = groups.iter().map(|(l, _)| l.clone()).collect();
    groups
        .into_iter()
        .map(|(location, g)| {
            let dirs: BTreeSet<String> = g.iter().map(|t| t.descriptor.directory.display().to_string()).collect();
            let name = location.label_among(&locations);
            (dirs.into_iter().collect::<Vec<_>>().join(","), name, g.into_iter().cloned().collect())
        })
        .collect()
}

/// A load under way: the session, the sender, and what spans tables.
struct Run<'o> {
    o: &'o LoadOptions,
    target: Target,
    sender: send::Sender,
    progress: Progress,
    checkpoint: Checkpoint,
    /// Partitions written so far, over all tables (for `stop_after`).
    partitions: u64,
}

impl Run<'_> {
    /// Load one table's SSTables (`dirs`: their directories).
    fn table(&mut self, dirs: &str, group: &[SsTable], doubts: &[Doubt]) -> Result<TableLoad, LoadError> {
        let o = self.o;
        let Some(first) = group.first() else { return Ok(TableLoad::default()) };
        let scanners = group.iter().map(SsTable::scanner).collect::<Result<Vec<_>, _>>()?;
        let mut merger = Merger::new(scanners, first.partitioner)?;
        let ctx = table_ctx(first, PartitionStream::header(&merger).clone(), o);
        refuse_counters(&ctx)?;
        let schema_check = schema::prepare(&self.target, &ctx, o)?;
        let name = ctx.name();
        let estimated: u64 = group
            .iter()
            .filter_map(|t| t.statistics.stats.as_ref().map(|s| s.partition_sizes.count().max(0) as u64))
            .sum();
        self.progress.table(&name, estimated);
        let max_ts =
            group.iter().filter_map(|t| t.statistics.stats.as_ref().map(|s| s.max_timestamp)).max().unwrap_or(0);
        let stats =
            TableLoad { keyspace: ctx.keyspace.clone(), table: ctx.table.clone(), schema_check, ..Default::default() };
        let mut w = Writer::new(ctx, o, max_ts, now_micros(), stats);
        // The prepared statements of `w.shapes`, by index.
        let mut prepared: Vec<PreparedStatement> = Vec::new();
        // Partitions at or before the checkpoint were written by an earlier run.
        let resume_after = self.checkpoint.resume_after(dirs, first.partitioner)?;
        let write_err = |source| LoadError::Write { table: name.clone(), source };
        while let Some(p) = merger.next_partition()?.cloned() {
            let token = first.partitioner.token(&p.key);
            if let Some((t, k)) = &resume_after
                && cairn_format::partitioner::compare_decorated(&token, &p.key, t, k).is_le()
            {
                while merger.next_unfiltered()?.is_some() {}
                w.stats.resumed_past += 1;
                continue;
            }
            if o.stop_after.is_some_and(|n| self.partitions >= n) {
                self.sender.drain(&self.target.rt).map_err(write_err)?;
                self.checkpoint.save(dirs)?;
                return Err(LoadError::Interrupted(self.partitions));
            }
            self.partitions += 1;
            let rows_before = w.stats.rows;
            let mut stmts = w.partition(&mut merger, &p.key, &p.deletion)?;
            let appends = |s: &Stmt| w.appending.get(s.shape as usize).copied().unwrap_or(true);
            let answer = doubts.iter().find(|d| d.token == token && d.key == p.key).map(|d| d.answer);
            if answer == Some(InDoubt::Skip) {
                let before = stmts.len();
                stmts.retain(|s| !appends(s));
                let skipped = (before - stmts.len()) as u64;
                w.stats.in_doubt_appends_skipped += skipped;
                w.stats.statements -= skipped;
            }
            // A partition with list appends is marked in doubt before it is sent, everything before
            // it acknowledged (see `checkpoint`): sent twice, its elements would be added twice.
            let alone = self.checkpoint.records() && stmts.iter().any(appends);
            let bytes: u64 = stmts.iter().map(Stmt::bytes).sum();
            let batches = statements::batches(stmts, o.batch_statements);
            w.stats.bytes += bytes;
            let murmur = match token {
                Token::Murmur3(t) => Some(t),
                _ => None,
            };
            if o.plan {
                let host = self.first_replica(&w.ctx, murmur);
                let h = w.stats.per_host.entry(host).or_default();
                h.partitions += 1;
                h.rows += w.stats.rows - rows_before;
                h.bytes += bytes;
            } else {
                self.prepare(&w.shapes, &w.appending, &mut prepared).map_err(write_err)?;
                let batches = batches
                    .into_iter()
                    .map(|b| {
                        b.into_iter()
                            .filter_map(|s| {
                                let prepared = prepared.get(s.shape as usize)?.clone();
                                Some(send::Call { prepared, values: send::BoundValues(s.values) })
                            })
                            .collect()
                    })
                    .collect();
                let unit =
                    send::Unit { keyspace: w.ctx.keyspace.clone(), table: w.ctx.table.clone(), token: murmur, batches };
                if alone {
                    self.sender.drain(&self.target.rt).map_err(write_err)?;
                    self.checkpoint.mark_in_doubt(dirs, &token, &p.key)?;
                }
                self.sender.send(&self.target.rt, unit).map_err(write_err)?;
            }
            self.progress.update(&w.stats);
            // Everything sent so far is acknowledged before the checkpoint moves past it.
            if self.checkpoint.passed(&token, &p.key) {
                self.sender.drain(&self.target.rt).map_err(write_err)?;
                self.checkpoint.save(dirs)?;
            }
        }
        self.sender.drain(&self.target.rt).map_err(write_err)?;
        // Answered marks are settled, whether passed or not (the input no longer holds the
        // partition).
        for d in doubts {
            self.checkpoint.settle(&d.mark);
        }
        self.checkpoint.save(dirs)?;
        w.stats.retries = self.sender.retries;
        self.sender.retries = 0;
        self.progress.done(&w.stats);
        Ok(w.stats)
    }

    /// Prepare the statements of `shapes` not prepared yet (`prepared` holds the others, by index).
    /// Each is idempotent (sending it again writes the same cells with the same timestamps) but
    /// a list append (`appending`), whose element the coordinator would add twice.
    fn prepare(
        &self,
        shapes: &[String],
        appending: &[bool],
        prepared: &mut Vec<PreparedStatement>,
    ) -> Result<(), send::SendError> {
        for (i, text) in shapes.iter().enumerate().skip(prepared.len()) {
            let mut p = self
                .target
                .rt
                .block_on(self.target.session.prepare(text.as_str()))
                .map_err(|e| send::SendError::Prepare { statement: send::shown(text), source: Box::new(e) })?;
            p.set_is_idempotent(!appending.get(i).copied().unwrap_or(true));
            prepared.push(p);
        }
        Ok(())
    }

    /// The first replica of a token on the target (`--plan`'s per-host counts).
    fn first_replica(&self, ctx: &TableCtx, murmur: Option<i64>) -> String {
        murmur
            .and_then(|t| {
                self.target
                    .session
                    .get_cluster_state()
                    .get_token_endpoints(&ctx.keyspace, &ctx.table, scylla::routing::Token::new(t))
                    .first()
                    .map(|(n, _)| n.address.to_string())
            })
            .unwrap_or_else(|| "(any)".into())
    }
}

/// Where a source table goes: its keyspace and table (from its location, or the targets asked
/// for), its schema and header, the renames.
fn table_ctx(first: &SsTable, header: cairn_format::statistics::SerializationHeader, o: &LoadOptions) -> TableCtx {
    let location = cairn_format::location::TableLocation::of(first);
    TableCtx {
        keyspace: o.target_keyspace.clone().or(location.keyspace).unwrap_or_else(|| "ks".into()),
        table: o.target_table.clone().or(location.table).unwrap_or_else(|| "table".into()),
        schema: first.schema.clone(),
        header,
        renames: o.renames.clone(),
    }
}

/// Counters cannot be replayed: a load would add to them.
fn refuse_counters(ctx: &TableCtx) -> Result<(), LoadError> {
    let counters = ctx
        .header
        .static_columns
        .iter()
        .chain(&ctx.header.regular_columns)
        .any(|c| matches!(c.ty.unreversed(), CqlType::Counter));
    if counters { Err(LoadError::Counters(ctx.qname())) } else { Ok(()) }
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}
