//! `cairn compact plan`: what Cassandra's compaction strategy would compact next in a table
//! directory, and why.
//!
//! The three strategies are modelled on Cassandra 5.0's code, with their own option names and
//! defaults (`db/compaction/SizeTieredCompactionStrategy.java`, `LeveledManifest.java`,
//! `LeveledCompactionStrategy.java`, `TimeWindowCompactionStrategy.java`,
//! `AbstractCompactionStrategy.worthDroppingTombstones`, `CompactionController.getFullyExpiredSSTables`):
//!
//! - **Repair state first.** Cassandra keeps one strategy instance per repair state: repaired,
//!   unrepaired, and each pending repair session are planned (and compacted) apart, never
//!   together. The group with the most estimated remaining tasks goes first, as
//!   `CompactionStrategyManager` orders its task suppliers.
//! - Within a group, the strategy chooses one task through `ChooseTask` (the shape of
//!   lsm-tree's `CompactionStrategy::choose`): `stcs` (size tiers), `lcs` (levels),
//!   `twcs` (time windows). Each module documents its rules.
//! - When nothing qualifies, each strategy looks for one SSTable worth a **tombstone
//!   compaction**: older than `tombstone_compaction_interval`, estimated droppable ratio above
//!   `tombstone_threshold`, and either not overlapping other SSTables, fully expired, or with
//!   enough of its partitions outside every overlapping SSTable's token range. Cassandra
//!   estimates that last fraction from the index summary; here the partition index is counted
//!   exactly. TWCS disables tombstone compactions unless one of those two options is set.
//!
//! What only a running node knows is taken as a freshly started node sees it: nothing is
//! compacting, no SSTable is suspect, LCS's starvation counters are zero. SSTable "creation
//! time" is the Data.db modification time, as in Cassandra. Where Cassandra iterates a hash set
//! (ties between equally sized or equally old SSTables), generation order decides.
//!
//! The rest of the planner: `options` (the strategies' options, checked as Cassandra checks
//! them), `facts` (what a strategy reads of each SSTable), `java_hash_map` (the iteration
//! order STCS's ties depend on), `render` (text and JSON), `execute` (running the chosen task).

mod execute;
mod facts;
mod java_hash_map;
mod lcs;
mod options;
mod render;
mod stcs;
mod twcs;

use cairn_format::Descriptor;
use cairn_format::sstable::SsTable;

pub use crate::files::ExecuteTarget;
pub use execute::{Executed, execute};
pub use facts::{KeyBound, PlanClock, SsTableFacts, facts};
#[cfg(test)]
use java_hash_map::JavaLongMap;

use crate::repair_state::Holder;
pub use lcs::{LEVEL_COUNT, MAX_COMPACTING_L0};
pub use options::{DEFAULT_MIN_SSTABLE_SIZE, StrategyOptions, TimestampResolution, WindowUnit};
pub use render::{human_bytes, render_json, render_text};

/// A compaction strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// SizeTieredCompactionStrategy.
    SizeTiered,
    /// LeveledCompactionStrategy.
    Leveled,
    /// TimeWindowCompactionStrategy.
    TimeWindow,
}

impl Strategy {
    /// From `stcs`/`lcs`/`twcs` or a class name (simple or fully qualified).
    pub fn parse(name: &str) -> Option<Strategy> {
        let simple = name.rsplit('.').next().unwrap_or(name);
        Some(match simple.to_ascii_lowercase().as_str() {
            "stcs" | "sizetieredcompactionstrategy" => Strategy::SizeTiered,
            "lcs" | "leveledcompactionstrategy" => Strategy::Leveled,
            "twcs" | "timewindowcompactionstrategy" => Strategy::TimeWindow,
            _ => return None,
        })
    }

    /// The class name Cassandra uses.
    pub fn class_name(self) -> &'static str {
        match self {
            Strategy::SizeTiered => "SizeTieredCompactionStrategy",
            Strategy::Leveled => "LeveledCompactionStrategy",
            Strategy::TimeWindow => "TimeWindowCompactionStrategy",
        }
    }
}

/// How a strategy chooses, for one repair group, what it would compact next: its view of the
/// group (tiers, notes, the estimate of remaining tasks) and at most one task, as lsm-tree's
/// `CompactionStrategy::choose` does. One implementation per strategy.
trait ChooseTask {
    /// The plan of the group of `members` (indexes into `ctx.all`).
    fn choose(&self, ctx: &Ctx<'_>, members: &[usize]) -> GroupPlan;
}

impl Strategy {
    fn chooser(self) -> &'static dyn ChooseTask {
        match self {
            Strategy::SizeTiered => &stcs::SizeTiered,
            Strategy::Leveled => &lcs::Leveled,
            Strategy::TimeWindow => &twcs::TimeWindow,
        }
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Cassandra would refuse the option.
    #[error("compaction option {name} is not understood by {strategy}")]
    UnknownOption {
        /// Option name.
        name: String,
        /// Strategy class.
        strategy: &'static str,
    },
    /// A value Cassandra would refuse.
    #[error("compaction option {name} has an invalid value: {value}")]
    BadOption {
        /// Option name.
        name: String,
        /// Value given.
        value: String,
    },
    /// TWCS's unsafe expiration without its safety catch.
    #[error(
        "unsafe_aggressive_sstable_expiration: true is refused unless allowed (Cassandra's -Dcassandra.allow_unsafe_aggressive_sstable_expiration=true; here --allow-unsafe-aggressive-sstable-expiration)"
    )]
    UnsafeExpiration,
    /// Reading the SSTables failed (the error says which file, and where).
    #[error(transparent)]
    Read(#[from] cairn_format::Error),
    /// The SSTables are not of one table directory, or the output directory is refused.
    #[error(transparent)]
    Target(#[from] crate::files::TargetError),
    /// Running the chosen task failed.
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
}

/// What to plan: the strategy and options (by default the table's, from its schema.cql), and
/// the clock.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// The strategy; `None`: the table's `compaction` class from schema.cql.
    pub strategy: Option<Strategy>,
    /// Options by CQL name, overriding the schema's (which apply only when the strategy is the
    /// schema's own).
    pub options: Vec<(String, String)>,
    /// Now (s).
    pub now_s: i64,
    /// gc_grace_seconds (default: the table's, else 864000).
    pub gc_grace_seconds: Option<i64>,
    /// Allow TWCS's `unsafe_aggressive_sstable_expiration` (Cassandra's JVM property).
    pub allow_unsafe_expiration: bool,
}

/// Plan the next compaction of `tables`, all SSTables of one table directory.
pub fn plan_tables(tables: &[SsTable], req: &PlanRequest) -> Result<Plan, PlanError> {
    let Some(first) = tables.first() else {
        let options = StrategyOptions::default();
        let clock = PlanClock { now_s: req.now_s, gc_before: req.now_s };
        let mut p = plan(req.strategy.unwrap_or(Strategy::SizeTiered), &options, clock, vec![]);
        if req.strategy.is_none() {
            p.strategy_source = StrategySource::Default { schema_given: false };
        }
        return Ok(p);
    };
    crate::files::same_directory(tables.iter().map(|t| t.descriptor.directory.as_path()))?;
    // The schema's compaction map must parse: one that does not is an error, never a silent
    // fall back to the defaults. A class Cairn does not plan (UCS, DTCS) is an error unless
    // --strategy says which one to plan instead.
    let schema_map = match first.schema.option("compaction") {
        Some(text) => cairn_format::schema::cql::parse_map(text)
            .ok_or_else(|| PlanError::BadOption { name: "compaction".into(), value: text.to_string() })?,
        None => Vec::new(),
    };
    let schema_strategy = match schema_map.iter().find(|(k, _)| k == "class") {
        Some((_, class)) => match (Strategy::parse(class), req.strategy) {
            (Some(s), _) => Some(s),
            (None, Some(_)) => None,
            (None, None) => return Err(PlanError::BadOption { name: "class".into(), value: class.clone() }),
        },
        None => None,
    };
    // A table created without `compaction` gets Cassandra's default, STCS
    // (`schema/CompactionParams.java`, `DEFAULT`); so does one whose schema Cairn was not given.
    let (strategy, source) = match (req.strategy, schema_strategy) {
        (Some(s), _) => (s, StrategySource::Given),
        (None, Some(s)) => (s, StrategySource::Schema),
        (None, None) => (
            Strategy::SizeTiered,
            StrategySource::Default { schema_given: first.schema.source != cairn_format::schema::SchemaSource::Header },
        ),
    };
    let mut pairs: Vec<(String, String)> = if schema_strategy == Some(strategy) {
        schema_map.into_iter().filter(|(k, _)| k != "class").collect()
    } else {
        vec![]
    };
    for (k, v) in &req.options {
        pairs.retain(|(k2, _)| k2 != k);
        pairs.push((k.clone(), v.clone()));
    }
    let options = StrategyOptions::from_pairs(strategy, &pairs, req.allow_unsafe_expiration)?;
    let gc = crate::purge::gc_grace_seconds(req.gc_grace_seconds, &first.schema);
    let clock = PlanClock { now_s: req.now_s, gc_before: crate::purge::gc_before(req.now_s, gc) };
    let mut p = plan(strategy, &options, clock, facts(tables, &options, clock)?);
    p.strategy_source = source;
    Ok(p)
}

/// How Cassandra would compact a set of SSTables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskKind {
    /// A regular compaction picked by the strategy.
    Compaction,
    /// LCS size-tiering in L0 because L0 fell behind.
    SizeTieredInL0,
    /// One SSTable rewritten to drop tombstones.
    Tombstone,
    /// Only fully expired SSTables, dropped whole (TWCS).
    ExpiredOnly,
}

/// The next compaction of a repair group.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// What sort of task.
    pub kind: TaskKind,
    /// The SSTables compacted (indexes into [`Plan::sstables`]), expired ones included.
    pub sstables: Vec<usize>,
    /// Fully expired SSTables among them, dropped without being read (TWCS).
    pub expired: Vec<usize>,
    /// LCS: the level the output goes to.
    pub level: Option<i32>,
    /// LCS: the output is split at this many bytes.
    pub max_sstable_bytes: Option<u64>,
    /// Why these.
    pub reason: String,
}

/// One tier of a strategy's view (an STCS bucket, an LCS level, a TWCS window), for the
/// explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// "bucket 1", "L2", "window 2026-11-20T00:00Z".
    pub label: String,
    /// Members (indexes into [`Plan::sstables`]).
    pub members: Vec<usize>,
    /// What the strategy makes of it.
    pub note: String,
}

/// The plan of one repair group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    /// "unrepaired", "repaired", `pending repair UUID`.
    pub group: String,
    /// Members.
    pub members: Vec<usize>,
    /// The strategy's view.
    pub tiers: Vec<Tier>,
    /// Things worth knowing (e.g. an SSTable sent back to L0).
    pub notes: Vec<String>,
    /// What compacts next, if anything.
    pub task: Option<Task>,
    /// When nothing compacts: why (which threshold was not met, with the numbers).
    pub idle: Option<String>,
    /// The strategy's estimate of remaining tasks.
    pub estimated_remaining_tasks: u64,
}

/// Where a plan's strategy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategySource {
    /// Given ([`PlanRequest::strategy`], `--strategy`).
    Given,
    /// The table's `compaction` option in its schema.
    Schema,
    /// Neither: Cassandra's default for a table without a `compaction` option, STCS.
    Default {
        /// Whether a schema was given (and set no `compaction`).
        schema_given: bool,
    },
}

/// A plan for a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Strategy.
    pub strategy: Strategy,
    /// Where the strategy came from.
    pub strategy_source: StrategySource,
    /// Options in effect.
    pub options: StrategyOptions,
    /// Clock.
    pub clock: PlanClock,
    /// The SSTables, in generation order.
    pub sstables: Vec<SsTableFacts>,
    /// One plan per repair group, the one Cassandra would serve first first.
    pub groups: Vec<GroupPlan>,
}

impl Plan {
    /// The task Cassandra would run first, with its group.
    pub fn next(&self) -> Option<(&GroupPlan, &Task)> {
        self.groups.iter().find_map(|g| g.task.as_ref().map(|t| (g, t)))
    }
}

/// Plan the next compaction of `sstables` (all SSTables of one table).
pub fn plan(strategy: Strategy, options: &StrategyOptions, clock: PlanClock, mut sstables: Vec<SsTableFacts>) -> Plan {
    sstables.sort_by(|a, b| a.descriptor.id.cmp(&b.descriptor.id));
    let mut groups: Vec<(String, Holder, Vec<usize>)> = Vec::new();
    for (i, f) in sstables.iter().enumerate() {
        let name = f.repair.group();
        match groups.iter_mut().find(|(n, ..)| *n == name) {
            Some((.., m)) => m.push(i),
            None => groups.push((name, f.repair.holder(), vec![i])),
        }
    }
    let ctx = Ctx { all: &sstables, o: options, clock };
    let mut plans: Vec<(Holder, GroupPlan)> = groups
        .into_iter()
        .map(|(name, holder, members)| {
            let mut g = strategy.chooser().choose(&ctx, &members);
            g.group = name;
            g.members = members;
            (holder, g)
        })
        .collect();
    // CompactionStrategyManager stable-sorts its holders' task suppliers by estimated remaining
    // tasks. STCS and TWCS only update that estimate while picking a task, so a freshly started
    // node sees 0 for them; LCS computes it on demand.
    let live_estimate = |g: &GroupPlan| if strategy == Strategy::Leveled { g.estimated_remaining_tasks } else { 0 };
    plans.sort_by_key(|(holder, g)| (std::cmp::Reverse(live_estimate(g)), *holder));
    // The pending-repair sessions of a holder share one supplier that asks only its busiest.
    for pending in [Holder::TransientPending, Holder::Pending] {
        let mut served = false;
        for (_, g) in plans.iter_mut().filter(|(h, _)| *h == pending) {
            if served && g.task.take().is_some() {
                let why = "waits: Cassandra compacts one pending-repair session at a time";
                g.notes.push(why.into());
                g.idle = Some(why.into());
            }
            served |= g.task.is_some();
        }
    }
    let mut plans: Vec<GroupPlan> = plans.into_iter().map(|(_, g)| g).collect();
    if !options.enabled {
        for g in &mut plans {
            if g.task.take().is_some() {
                let why = "compaction is disabled (enabled: false): nothing runs";
                g.notes.push(why.into());
                g.idle = Some(why.into());
            }
        }
    }
    Plan { strategy, strategy_source: StrategySource::Given, options: options.clone(), clock, sstables, groups: plans }
}

struct Ctx<'a> {
    all: &'a [SsTableFacts],
    o: &'a StrategyOptions,
    clock: PlanClock,
}

fn empty_group() -> GroupPlan {
    GroupPlan {
        group: String::new(),
        members: Vec::new(),
        tiers: Vec::new(),
        notes: Vec::new(),
        task: None,
        idle: None,
        estimated_remaining_tasks: 0,
    }
}

impl Ctx<'_> {
    fn f(&self, i: usize) -> &SsTableFacts {
        // Indexes come from enumerating `all`; an out-of-range one is a bug caught in tests.
        #[allow(clippy::indexing_slicing)]
        &self.all[i]
    }

    fn total_data(&self, set: &[usize]) -> u64 {
        set.iter().map(|&i| self.f(i).data_bytes).sum()
    }

    fn tombstone_task(&self, i: usize, level: Option<i32>) -> Task {
        Task {
            kind: TaskKind::Tombstone,
            sstables: vec![i],
            expired: vec![],
            level,
            max_sstable_bytes: None,
            reason: format!(
                "no regular compaction is due; estimated droppable tombstone ratio {:.3} exceeds tombstone_threshold {}",
                self.f(i).droppable_ratio,
                self.o.tombstone_threshold
            ),
        }
    }

    /// Why none of `members` is worth a tombstone compaction, with the numbers.
    fn no_tombstone_compaction(&self, members: &[usize]) -> String {
        if self.o.tombstone_compactions_disabled {
            return "tombstone compactions are off (TWCS without tombstone_threshold or tombstone_compaction_interval)"
                .into();
        }
        let above = members.iter().filter(|&&i| self.f(i).droppable_ratio > self.o.tombstone_threshold).count();
        if above == 0 {
            let highest = members.iter().map(|&i| self.f(i).droppable_ratio).fold(0.0, f64::max);
            format!(
                "no SSTable's estimated droppable tombstone ratio exceeds tombstone_threshold {} (highest {highest:.3})",
                self.o.tombstone_threshold
            )
        } else {
            format!(
                "{above} SSTable(s) exceed tombstone_threshold {} but are younger than tombstone_compaction_interval ({} s) or overlap SSTables holding their partitions",
                self.o.tombstone_threshold, self.o.tombstone_compaction_interval
            )
        }
    }

    /// `AbstractCompactionStrategy.worthDroppingTombstones`.
    fn worth_dropping_tombstones(&self, i: usize) -> bool {
        let f = self.f(i);
        if self.o.tombstone_compactions_disabled {
            return false;
        }
        let now_ms = self.clock.now_s.saturating_mul(1000);
        if now_ms < f.created_ms.saturating_add(self.o.tombstone_compaction_interval.saturating_mul(1000)) {
            return false;
        }
        if f.droppable_ratio <= self.o.tombstone_threshold {
            return false;
        }
        if self.o.unchecked_tombstone_compaction {
            return true;
        }
        let overlaps: Vec<usize> = (0..self.all.len()).filter(|&j| j != i && self.f(j).overlaps(f)).collect();
        if overlaps.is_empty() {
            return true;
        }
        if !self.fully_expired(&[i], &overlaps, false).is_empty() {
            return true;
        }
        match f.outside_overlap_ratio {
            Some(r) => r * f.droppable_ratio > self.o.tombstone_threshold,
            None => false,
        }
    }

    /// `CompactionController.getFullyExpiredSSTables`.
    fn fully_expired(&self, compacting: &[usize], overlapping: &[usize], ignore_overlaps: bool) -> Vec<usize> {
        let gc_before = self.clock.gc_before;
        if self.o.only_purge_repaired_tombstones && compacting.iter().any(|&i| !self.f(i).repair.is_repaired()) {
            return vec![];
        }
        if ignore_overlaps {
            return compacting.iter().copied().filter(|&i| self.f(i).max_local_deletion_time < gc_before).collect();
        }
        let mut min_ts = overlapping
            .iter()
            .map(|&i| self.f(i))
            .filter(|f| f.max_local_deletion_time >= gc_before)
            .map(|f| f.min_timestamp)
            .min()
            .unwrap_or(i64::MAX);
        let mut candidates = Vec::new();
        for &i in compacting {
            if self.f(i).max_local_deletion_time < gc_before {
                candidates.push(i);
            } else {
                min_ts = min_ts.min(self.f(i).min_timestamp);
            }
        }
        candidates.retain(|&i| self.f(i).max_timestamp < min_ts);
        candidates
    }
}

/// `<version>-<id>-big`: an SSTable's name within its table directory.
pub fn short_name(d: &Descriptor) -> String {
    format!("{}-{}-big", d.version, d.id)
}

fn sorted_by_gen(v: &[usize]) -> Vec<usize> {
    // Facts are sorted by generation, so index order is generation order.
    let mut v = v.to_vec();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests;
