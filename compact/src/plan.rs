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
//! - **STCS** sorts SSTables by Data.db size and groups them in buckets: a file joins the first
//!   bucket whose average it lies strictly within `(avg × bucket_low, avg × bucket_high)`, or
//!   any bucket when both are below `min_sstable_size`. Cassandra keeps buckets in a
//!   `HashMap<Long, List>` keyed by average size, and the order in which it tries them decides
//!   ties; that iteration order is reproduced here. Buckets with at least `min_threshold`
//!   SSTables are trimmed to `max_threshold` and the one with the largest average size wins
//!   (hotness breaks ties first in Cassandra, but read meters live in a running node's
//!   `system.sstable_activity`; offline every SSTable is equally cold).
//! - **LCS** reads levels from Statistics.db (an SSTable overlapping a neighbour in its level
//!   is sent to L0, as Cassandra does on start-up), scores levels 8…1 by bytes over
//!   `fanout^level × sstable_size_in_mb`, compacts the first level scoring above 1.001 (one
//!   SSTable, resuming after the newest SSTable of the next level, with everything it overlaps
//!   there), does size-tiering in L0 first when L0 holds more than 32 SSTables, and otherwise
//!   compacts L0 (oldest first, overlaps pulled in, at most `max_threshold`, with the L1 files
//!   it overlaps once it exceeds one SSTable's worth).
//! - **TWCS** drops fully expired SSTables (every cell expired past gc_grace and no older live
//!   data overlapping them, unless `unsafe_aggressive_sstable_expiration`), groups the rest in
//!   windows of their max timestamp, size-tiers the newest window when it reaches
//!   `min_threshold`, and otherwise compacts the newest older window holding two or more
//!   SSTables (the smallest `max_threshold`).
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

use std::fmt::Write as _;

use cairn_format::partitioner::Token;
use cairn_format::sstable::SsTable;
use cairn_format::types::render::{civil_from_days, format_uuid};
use cairn_format::{Component, Descriptor};

use crate::upgrade::UpgradeError;

/// Cassandra's default `min_sstable_size` for STCS (50 MiB).
pub const DEFAULT_MIN_SSTABLE_SIZE: u64 = 50 * 1024 * 1024;
/// L0 size above which LCS size-tiers L0 first (`LeveledManifest.MAX_COMPACTING_L0`).
pub const MAX_COMPACTING_L0: usize = 32;
/// Levels LCS keeps (`LeveledGenerations.MAX_LEVEL_COUNT`).
pub const LEVEL_COUNT: usize = 9;

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

/// TWCS `compaction_window_unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowUnit {
    /// MINUTES.
    Minutes,
    /// HOURS.
    Hours,
    /// DAYS.
    Days,
}

impl WindowUnit {
    fn seconds(self) -> i64 {
        match self {
            WindowUnit::Minutes => 60,
            WindowUnit::Hours => 3600,
            WindowUnit::Days => 86_400,
        }
    }

    fn name(self) -> &'static str {
        match self {
            WindowUnit::Minutes => "MINUTES",
            WindowUnit::Hours => "HOURS",
            WindowUnit::Days => "DAYS",
        }
    }
}

/// A strategy's options, by Cassandra's names, with Cassandra's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyOptions {
    /// `min_threshold` (4).
    pub min_threshold: usize,
    /// `max_threshold` (32).
    pub max_threshold: usize,
    /// `tombstone_threshold` (0.2).
    pub tombstone_threshold: f64,
    /// `tombstone_compaction_interval` in seconds (86400).
    pub tombstone_compaction_interval: i64,
    /// `unchecked_tombstone_compaction` (false).
    pub unchecked_tombstone_compaction: bool,
    /// `only_purge_repaired_tombstones` (false).
    pub only_purge_repaired_tombstones: bool,
    /// Tombstone compactions off: TWCS's default unless `tombstone_threshold` or
    /// `tombstone_compaction_interval` is given.
    pub tombstone_compactions_disabled: bool,
    /// STCS `bucket_low` (0.5).
    pub bucket_low: f64,
    /// STCS `bucket_high` (1.5).
    pub bucket_high: f64,
    /// STCS `min_sstable_size` in bytes (50 MiB).
    pub min_sstable_size: u64,
    /// LCS `sstable_size_in_mb` (160).
    pub sstable_size_in_mb: u64,
    /// LCS `fanout_size` (10).
    pub fanout_size: u32,
    /// TWCS `compaction_window_unit` (DAYS).
    pub window_unit: WindowUnit,
    /// TWCS `compaction_window_size` (1).
    pub window_size: i64,
    /// TWCS `timestamp_resolution`, as microseconds per unit (MICROSECONDS: 1).
    pub timestamp_resolution: TimestampResolution,
    /// TWCS `unsafe_aggressive_sstable_expiration` (false).
    pub unsafe_aggressive_sstable_expiration: bool,
    /// `enabled` (true): background compaction on.
    pub enabled: bool,
}

/// TWCS `timestamp_resolution`: the unit of the write timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampResolution {
    /// SECONDS.
    Seconds,
    /// MILLISECONDS.
    Milliseconds,
    /// MICROSECONDS (Cassandra's own timestamps).
    Microseconds,
    /// NANOSECONDS.
    Nanoseconds,
}

impl TimestampResolution {
    /// A timestamp in this unit, in milliseconds (`TimeUnit.MILLISECONDS.convert`: truncating,
    /// saturating).
    fn to_millis(self, t: i64) -> i64 {
        match self {
            TimestampResolution::Seconds => t.saturating_mul(1000),
            TimestampResolution::Milliseconds => t,
            TimestampResolution::Microseconds => t / 1000,
            TimestampResolution::Nanoseconds => t / 1_000_000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TimestampResolution::Seconds => "SECONDS",
            TimestampResolution::Milliseconds => "MILLISECONDS",
            TimestampResolution::Microseconds => "MICROSECONDS",
            TimestampResolution::Nanoseconds => "NANOSECONDS",
        }
    }
}

impl Default for StrategyOptions {
    fn default() -> Self {
        StrategyOptions {
            min_threshold: 4,
            max_threshold: 32,
            tombstone_threshold: 0.2,
            tombstone_compaction_interval: 86_400,
            unchecked_tombstone_compaction: false,
            only_purge_repaired_tombstones: false,
            tombstone_compactions_disabled: false,
            bucket_low: 0.5,
            bucket_high: 1.5,
            min_sstable_size: DEFAULT_MIN_SSTABLE_SIZE,
            sstable_size_in_mb: 160,
            fanout_size: 10,
            window_unit: WindowUnit::Days,
            window_size: 1,
            timestamp_resolution: TimestampResolution::Microseconds,
            unsafe_aggressive_sstable_expiration: false,
            enabled: true,
        }
    }
}

/// Options Cassandra accepts for every strategy and ignores here (they steer a running node).
const IGNORED_OPTIONS: &[&str] = &["class", "log_all", "provide_overlapping_tombstones"];

impl StrategyOptions {
    /// Options as `compaction = {...}` gives them (names as in CQL, values as text), checked as
    /// Cassandra's `validateOptions` checks them: an unknown option or a bad value is an error.
    ///
    /// `allow_unsafe_expiration` stands for Cassandra's JVM property
    /// `cassandra.allow_unsafe_aggressive_sstable_expiration`, without which TWCS refuses
    /// `unsafe_aggressive_sstable_expiration: true`.
    pub fn from_pairs(
        strategy: Strategy,
        pairs: &[(String, String)],
        allow_unsafe_expiration: bool,
    ) -> Result<StrategyOptions, PlanError> {
        let mut o = StrategyOptions::default();
        let mut tombstone_option_given = false;
        for (k, v) in pairs {
            let bad = || PlanError::BadOption { name: k.clone(), value: v.clone() };
            // Java's parseLong/parseFloat and the strict true/false check of validateOptions.
            let int = || v.parse::<i64>().map_err(|_| bad());
            let float = || v.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(bad);
            let boolean = || match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(bad()),
            };
            let common = matches!(
                k.as_str(),
                "min_threshold"
                    | "max_threshold"
                    | "tombstone_threshold"
                    | "tombstone_compaction_interval"
                    | "unchecked_tombstone_compaction"
                    | "only_purge_repaired_tombstones"
            );
            let stcs_like = matches!(k.as_str(), "bucket_low" | "bucket_high" | "min_sstable_size");
            let known = common
                || k == "enabled"
                || IGNORED_OPTIONS.contains(&k.as_str())
                || match strategy {
                    Strategy::SizeTiered => stcs_like,
                    // LCS and TWCS accept the size-tiering options they use for L0 and the newest window.
                    Strategy::Leveled => {
                        stcs_like
                            || matches!(k.as_str(), "sstable_size_in_mb" | "fanout_size" | "single_sstable_uplevel")
                    }
                    Strategy::TimeWindow => {
                        stcs_like
                            || matches!(
                                k.as_str(),
                                "compaction_window_unit"
                                    | "compaction_window_size"
                                    | "timestamp_resolution"
                                    | "expired_sstable_check_frequency_seconds"
                                    | "unsafe_aggressive_sstable_expiration"
                            )
                    }
                };
            if !known {
                return Err(PlanError::UnknownOption { name: k.clone(), strategy: strategy.class_name() });
            }
            match k.as_str() {
                "min_threshold" => o.min_threshold = usize::try_from(int()?).map_err(|_| bad())?,
                "max_threshold" => o.max_threshold = usize::try_from(int()?).map_err(|_| bad())?,
                "tombstone_threshold" => {
                    // A Java float: 0.2 is 0.2000000030, and ratios must exceed that.
                    o.tombstone_threshold = f64::from(float()? as f32);
                    if o.tombstone_threshold < 0.0 {
                        return Err(bad());
                    }
                    tombstone_option_given = true;
                }
                "tombstone_compaction_interval" => {
                    o.tombstone_compaction_interval = int()?;
                    if o.tombstone_compaction_interval < 0 {
                        return Err(bad());
                    }
                    tombstone_option_given = true;
                }
                "unchecked_tombstone_compaction" => o.unchecked_tombstone_compaction = boolean()?,
                "only_purge_repaired_tombstones" => o.only_purge_repaired_tombstones = boolean()?,
                "bucket_low" => o.bucket_low = float()?,
                "bucket_high" => o.bucket_high = float()?,
                "min_sstable_size" => o.min_sstable_size = u64::try_from(int()?).map_err(|_| bad())?,
                "sstable_size_in_mb" => {
                    o.sstable_size_in_mb = u64::try_from(int()?).ok().filter(|&s| s > 0).ok_or_else(bad)?
                }
                "fanout_size" => o.fanout_size = u32::try_from(int()?).ok().filter(|&s| s > 0).ok_or_else(bad)?,
                "compaction_window_unit" => {
                    // TimeUnit.valueOf: upper case only.
                    o.window_unit = match v.as_str() {
                        "MINUTES" => WindowUnit::Minutes,
                        "HOURS" => WindowUnit::Hours,
                        "DAYS" => WindowUnit::Days,
                        _ => return Err(bad()),
                    }
                }
                "compaction_window_size" => o.window_size = int().ok().filter(|&s| s >= 1).ok_or_else(bad)?,
                "timestamp_resolution" => {
                    o.timestamp_resolution = match v.as_str() {
                        "SECONDS" => TimestampResolution::Seconds,
                        "MILLISECONDS" => TimestampResolution::Milliseconds,
                        "MICROSECONDS" => TimestampResolution::Microseconds,
                        "NANOSECONDS" => TimestampResolution::Nanoseconds,
                        _ => return Err(bad()),
                    }
                }
                "unsafe_aggressive_sstable_expiration" => {
                    o.unsafe_aggressive_sstable_expiration = boolean()?;
                    if o.unsafe_aggressive_sstable_expiration && !allow_unsafe_expiration {
                        return Err(PlanError::UnsafeExpiration);
                    }
                }
                "enabled" => o.enabled = boolean()?,
                "log_all" => {
                    boolean()?;
                }
                "expired_sstable_check_frequency_seconds" => {
                    int().ok().filter(|&f| f >= 0).ok_or_else(bad)?;
                }
                _ => {}
            }
        }
        if o.min_threshold < 2 {
            return Err(PlanError::BadOption { name: "min_threshold".into(), value: o.min_threshold.to_string() });
        }
        if o.max_threshold < o.min_threshold {
            return Err(PlanError::BadOption { name: "max_threshold".into(), value: o.max_threshold.to_string() });
        }
        if o.bucket_high <= o.bucket_low {
            return Err(PlanError::BadOption { name: "bucket_high".into(), value: o.bucket_high.to_string() });
        }
        o.tombstone_compactions_disabled = strategy == Strategy::TimeWindow && !tombstone_option_given;
        Ok(o)
    }

    /// The options in effect, by Cassandra's names, for printing.
    pub fn effective(&self, strategy: Strategy) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("enabled", self.enabled.to_string()),
            ("min_threshold", self.min_threshold.to_string()),
            ("max_threshold", self.max_threshold.to_string()),
            ("tombstone_threshold", self.tombstone_threshold.to_string()),
            ("tombstone_compaction_interval", self.tombstone_compaction_interval.to_string()),
            ("unchecked_tombstone_compaction", self.unchecked_tombstone_compaction.to_string()),
            ("only_purge_repaired_tombstones", self.only_purge_repaired_tombstones.to_string()),
        ];
        let stcs = [
            ("bucket_low", self.bucket_low.to_string()),
            ("bucket_high", self.bucket_high.to_string()),
            ("min_sstable_size", self.min_sstable_size.to_string()),
        ];
        match strategy {
            Strategy::SizeTiered => v.extend(stcs),
            Strategy::Leveled => {
                v.push(("sstable_size_in_mb", self.sstable_size_in_mb.to_string()));
                v.push(("fanout_size", self.fanout_size.to_string()));
                v.extend(stcs);
            }
            Strategy::TimeWindow => {
                v.push(("compaction_window_unit", self.window_unit.name().to_string()));
                v.push(("compaction_window_size", self.window_size.to_string()));
                v.push(("timestamp_resolution", self.timestamp_resolution.name().to_string()));
                v.push(("unsafe_aggressive_sstable_expiration", self.unsafe_aggressive_sstable_expiration.to_string()));
                v.extend(stcs);
            }
        }
        v
    }

    fn max_sstable_bytes(&self) -> u64 {
        self.sstable_size_in_mb.saturating_mul(1024 * 1024)
    }

    /// `LeveledManifest.maxBytesForLevel`.
    fn max_bytes_for_level(&self, level: usize) -> f64 {
        let max = self.max_sstable_bytes() as f64;
        if level == 0 { 4.0 * max } else { f64::from(self.fanout_size).powi(level as i32) * max }
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
    /// No strategy given and none in the schema.
    #[error("no compaction strategy: give --strategy, or a schema.cql with the table's compaction options")]
    NoStrategy,
    /// Reading the SSTables failed.
    #[error(transparent)]
    Read(#[from] UpgradeError),
}

impl From<cairn_format::Error> for PlanError {
    fn from(e: cairn_format::Error) -> Self {
        PlanError::Read(UpgradeError::from(e))
    }
}

/// A partition as an SSTable bound: its token and key.
pub type KeyBound = (Token, Vec<u8>);

/// What a strategy looks at, for one SSTable.
#[derive(Debug, Clone, PartialEq)]
pub struct SsTableFacts {
    /// The SSTable.
    pub descriptor: Descriptor,
    /// Data.db size (`onDiskLength`): what STCS buckets and LCS levels count.
    pub data_bytes: u64,
    /// All components' sizes (`bytesOnDisk`): STCS's tie-break between buckets.
    pub bytes_on_disk: u64,
    /// Data.db modification time (ms since the epoch).
    pub created_ms: i64,
    /// Min write timestamp (µs).
    pub min_timestamp: i64,
    /// Max write timestamp (µs).
    pub max_timestamp: i64,
    /// Max local deletion time (s; "never" for live, non-expiring data).
    pub max_local_deletion_time: i64,
    /// LCS level from Statistics.db.
    pub level: i32,
    /// Repaired (repaired_at ≠ 0).
    pub repaired_at: i64,
    /// Pending repair session, if any.
    pub pending_repair: Option<[u8; 16]>,
    /// First and last partition: token and key.
    pub first: KeyBound,
    /// Last partition.
    pub last: KeyBound,
    /// Estimated droppable tombstone ratio at the plan's gc_before.
    pub droppable_ratio: f64,
    /// Fraction of partitions outside every overlapping SSTable's token range `(first, last]`
    /// (`None`: too few samples, as Cassandra's `isEstimationInformative`; computed only when a
    /// tombstone compaction depends on it).
    pub outside_overlap_ratio: Option<f64>,
}

impl SsTableFacts {
    fn overlaps(&self, other: &SsTableFacts) -> bool {
        self.first.0 <= other.last.0 && other.first.0 <= self.last.0
    }

    fn first_key_order(&self, other: &SsTableFacts) -> std::cmp::Ordering {
        self.first.cmp(&other.first).then_with(|| self.descriptor.id.cmp(&other.descriptor.id))
    }
}

/// The clock and gc_grace of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanClock {
    /// Now (s).
    pub now_s: i64,
    /// `now - gc_grace_seconds` (s).
    pub gc_before: i64,
}

/// Read the facts of `tables` (one table) a plan needs. `options` decide which estimates are
/// worth computing (the overlap fraction is counted from Index.db only for SSTables whose
/// droppable ratio exceeds `tombstone_threshold`).
pub fn facts(tables: &[SsTable], options: &StrategyOptions, clock: PlanClock) -> Result<Vec<SsTableFacts>, PlanError> {
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        let stats = t.statistics.stats.as_ref();
        let data = t.path(Component::Data);
        let meta = std::fs::metadata(&data).map_err(|e| cairn_format::Error::io(&data, e))?;
        let created_ms = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut bytes_on_disk = 0;
        for c in Component::BIG {
            if let Ok(m) = std::fs::metadata(t.path(c)) {
                bytes_on_disk += m.len();
            }
        }
        let (first, last) = key_range(t)?;
        out.push(SsTableFacts {
            descriptor: t.descriptor.clone(),
            data_bytes: meta.len(),
            bytes_on_disk,
            created_ms,
            min_timestamp: stats.map_or(i64::MIN, |s| s.min_timestamp),
            max_timestamp: stats.map_or(i64::MAX, |s| s.max_timestamp),
            max_local_deletion_time: stats.map_or(i64::MAX, |s| s.max_local_deletion_time),
            level: stats.map_or(0, |s| s.sstable_level),
            repaired_at: stats.map_or(0, |s| s.repaired_at),
            pending_repair: stats.and_then(|s| s.pending_repair),
            first,
            last,
            droppable_ratio: stats.map_or(0.0, |s| s.estimated_droppable_tombstone_ratio(clock.gc_before)),
            outside_overlap_ratio: None,
        });
    }
    // Only SSTables a tombstone compaction could pick need the exact count.
    for i in 0..out.len() {
        let Some(f) = out.get(i) else { continue };
        if f.droppable_ratio <= options.tombstone_threshold || options.unchecked_tombstone_compaction {
            continue;
        }
        let ranges: Vec<(Token, Token)> = out
            .iter()
            .enumerate()
            .filter(|&(j, o)| j != i && o.overlaps(f))
            .map(|(_, o)| (o.first.0.clone(), o.last.0.clone()))
            .collect();
        if ranges.is_empty() {
            continue;
        }
        let Some(table) = tables.get(i) else { continue };
        let ratio = outside_ratio(table, &ranges)?;
        if let Some(f) = out.get_mut(i) {
            f.outside_overlap_ratio = ratio;
        }
    }
    Ok(out)
}

/// First and last partition of an SSTable: as Statistics.db (5.0) or Summary.db record them
/// ([`SsTable::key_range`]), else Index.db's first and last entries.
fn key_range(t: &SsTable) -> Result<(KeyBound, KeyBound), PlanError> {
    let (first, last) = match t.key_range()? {
        Some(k) => k,
        None => {
            let mut r = t.index_reader()?;
            let mut first = None;
            let mut last = None;
            while let Some(e) = r.next_entry()? {
                if first.is_none() {
                    first = Some(e.key.clone());
                }
                last = Some(e.key);
            }
            (first.unwrap_or_default(), last.unwrap_or_default())
        }
    };
    Ok(((t.token(&first), first), (t.token(&last), last)))
}

/// The fraction of `t`'s partitions whose token lies in none of `ranges` (each `(left, right]`,
/// Cassandra's `Range`). `None` when Cassandra would call the estimate uninformative (an index
/// summary of fewer than two entries).
fn outside_ratio(t: &SsTable, ranges: &[(Token, Token)]) -> Result<Option<f64>, PlanError> {
    if let Some(s) = t.summary()?
        && s.entries.len() < 2
    {
        return Ok(None);
    }
    let mut r = t.index_reader()?;
    let (mut total, mut outside) = (0u64, 0u64);
    while let Some(e) = r.next_entry()? {
        total += 1;
        let tok = t.token(&e.key);
        // Range (l, h]; with l >= h it wraps around the ring (a single-partition SSTable's range
        // covers everything, as Cassandra's Range does).
        let within = |l: &Token, h: &Token| if l < h { *l < tok && tok <= *h } else { tok > *l || tok <= *h };
        if !ranges.iter().any(|(l, h)| within(l, h)) {
            outside += 1;
        }
    }
    Ok((total > 0).then(|| outside as f64 / total as f64))
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
        return Ok(plan(req.strategy.unwrap_or(Strategy::SizeTiered), &options, clock, vec![]));
    };
    if let Some(t) = tables.iter().find(|t| t.descriptor.directory != first.descriptor.directory) {
        return Err(UpgradeError::NotOneTable {
            first: first.descriptor.directory.display().to_string(),
            other: t.descriptor.directory.display().to_string(),
        }
        .into());
    }
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
    let strategy = req.strategy.or(schema_strategy).ok_or(PlanError::NoStrategy)?;
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
    Ok(plan(strategy, &options, clock, facts(tables, &options, clock)?))
}

/// Where an executed plan writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecuteTarget {
    /// Under this directory (keyspace/table directories recreated), inputs untouched.
    Out(std::path::PathBuf),
    /// Into the table directory; the compacted SSTables are deleted once the outputs are
    /// complete, as Cassandra does when a compaction commits.
    InPlace,
}

/// What running a plan's next task did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The compaction's report (outputs, purges).
    pub report: crate::run::RunReport,
    /// SSTables compacted (read and merged).
    pub compacted: Vec<Descriptor>,
    /// Fully expired SSTables dropped without being read.
    pub dropped: Vec<Descriptor>,
    /// Input SSTables deleted (in place only).
    pub deleted: Vec<Descriptor>,
}

/// Run the next task of `plan` over `tables` (those the plan was made from). `base` gives the
/// output version and compression; level, output size, gc_grace and the clock come from the
/// plan. `None` when there is nothing to compact.
pub fn execute(
    plan: &Plan,
    tables: &[SsTable],
    base: &crate::run::RunOptions,
    target: &ExecuteTarget,
) -> Result<Option<Executed>, PlanError> {
    let Some((_, task)) = plan.next() else { return Ok(None) };
    let descriptor = |i: usize| plan.sstables.get(i).map(|f| f.descriptor.clone());
    let dropped: Vec<Descriptor> = task.expired.iter().filter_map(|&i| descriptor(i)).collect();
    let compacted: Vec<Descriptor> =
        task.sstables.iter().filter(|i| !task.expired.contains(i)).filter_map(|&i| descriptor(i)).collect();
    let inputs: Vec<SsTable> = tables.iter().filter(|t| compacted.contains(&t.descriptor)).cloned().collect();
    let opts = crate::run::RunOptions {
        gc_grace_seconds: Some(plan.clock.now_s - plan.clock.gc_before),
        now_s: plan.clock.now_s,
        only_purge_repaired: plan.options.only_purge_repaired_tombstones,
        level: task.level.unwrap_or(0),
        max_output_bytes: task.max_sstable_bytes,
        ..base.clone()
    };
    let report = match target {
        ExecuteTarget::Out(dir) => crate::run::run(&inputs, &opts, dir)?,
        // One lifecycle transaction: the outputs replace the compacted and the dropped SSTables.
        ExecuteTarget::InPlace => {
            crate::run::run_in_place(&inputs, &dropped, &opts, cairn_format::txn::operation::COMPACTION, &mut |_| {})?
        }
    };
    let deleted = if *target == ExecuteTarget::InPlace {
        compacted.iter().chain(&dropped).cloned().collect()
    } else {
        Vec::new()
    };
    Ok(Some(Executed { report, compacted, dropped, deleted }))
}

/// Delete an SSTable's components, Data.db first (Cassandra's order: without Data.db the rest is
/// never read, so an interrupted deletion leaves no half SSTable behind).
pub(crate) fn delete_sstable(d: &Descriptor) -> Result<(), UpgradeError> {
    for c in Component::BIG {
        let p = d.path(c);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(UpgradeError::Format(cairn_format::Error::io(&p, e))),
        }
    }
    Ok(())
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
    /// The strategy's estimate of remaining tasks.
    pub estimated_remaining_tasks: u64,
}

/// A plan for a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Strategy.
    pub strategy: Strategy,
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
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, f) in sstables.iter().enumerate() {
        let name = match (f.pending_repair, f.repaired_at) {
            (Some(id), _) => format!("pending repair {}", format_uuid(&id)),
            (None, 0) => "unrepaired".to_string(),
            (None, _) => "repaired".to_string(),
        };
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, m)) => m.push(i),
            None => groups.push((name, vec![i])),
        }
    }
    let ctx = Ctx { all: &sstables, o: options, clock };
    let mut plans: Vec<GroupPlan> = groups
        .into_iter()
        .map(|(name, members)| {
            let mut g = match strategy {
                Strategy::SizeTiered => ctx.stcs(&members),
                Strategy::Leveled => ctx.lcs(&members),
                Strategy::TimeWindow => ctx.twcs(&members),
            };
            g.group = name;
            g.members = members;
            g
        })
        .collect();
    // CompactionStrategyManager keeps its holders in the order pending repair, repaired,
    // unrepaired, and stable-sorts their task suppliers by estimated remaining tasks. STCS and
    // TWCS only update that estimate while picking a task, so a freshly started node sees 0
    // for them; LCS computes it on demand.
    let rank = |g: &GroupPlan| match g.group.as_str() {
        n if n.starts_with("pending repair") => 0,
        "repaired" => 1,
        _ => 2,
    };
    let live_estimate = |g: &GroupPlan| if strategy == Strategy::Leveled { g.estimated_remaining_tasks } else { 0 };
    plans.sort_by_key(|g| (std::cmp::Reverse(live_estimate(g)), rank(g)));
    // Pending repair sessions share one supplier that asks only its busiest session.
    let mut served_pending = false;
    for g in plans.iter_mut().filter(|g| rank(g) == 0) {
        if served_pending && g.task.take().is_some() {
            g.notes.push("waits: Cassandra compacts one pending-repair session at a time".into());
        }
        served_pending |= g.task.is_some();
    }
    if !options.enabled {
        for g in &mut plans {
            if g.task.take().is_some() {
                g.notes.push("compaction is disabled (enabled: false): nothing runs".into());
            }
        }
    }
    Plan { strategy, options: options.clone(), clock, sstables, groups: plans }
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

    /// `SizeTieredCompactionStrategy.getBuckets`, in the order Cassandra's `HashMap` yields them.
    fn stcs_buckets(&self, members: &[usize]) -> Vec<Vec<usize>> {
        let mut sorted = members.to_vec();
        sorted.sort_by_key(|&i| self.f(i).data_bytes);
        let mut map = JavaLongMap::default();
        'outer: for i in sorted {
            let size = self.f(i).data_bytes as i64;
            let min = self.o.min_sstable_size as i64;
            for (avg, bucket) in map.iter_ordered() {
                if ((size as f64) > (avg as f64) * self.o.bucket_low
                    && (size as f64) < (avg as f64) * self.o.bucket_high)
                    || (size < min && avg < min)
                {
                    let mut bucket = bucket.clone();
                    map.remove(avg);
                    let n = bucket.len() as i64;
                    let new_avg = (n * avg + size) / (n + 1);
                    bucket.push(i);
                    map.put(new_avg, bucket);
                    continue 'outer;
                }
            }
            map.put(size, vec![i]);
        }
        map.iter_ordered().into_iter().map(|(_, b)| b.clone()).collect()
    }

    /// `SizeTieredCompactionStrategy.mostInterestingBucket` (every SSTable equally cold).
    fn stcs_most_interesting(&self, buckets: &[Vec<usize>]) -> Option<Vec<usize>> {
        let mut best: Option<(u64, Vec<usize>)> = None;
        for b in buckets {
            let trimmed: Vec<usize> = b.iter().copied().take(self.o.max_threshold).collect();
            if trimmed.len() < self.o.min_threshold {
                continue;
            }
            let avg = trimmed.iter().map(|&i| self.f(i).bytes_on_disk).sum::<u64>() / trimmed.len() as u64;
            // Collections.max keeps the first of equals; the larger average wins ties of hotness.
            if best.as_ref().is_none_or(|(a, _)| avg > *a) {
                best = Some((avg, trimmed));
            }
        }
        best.map(|(_, b)| b)
    }

    fn stcs_estimated_tasks(&self, buckets: &[Vec<usize>]) -> u64 {
        buckets
            .iter()
            .filter(|b| b.len() >= self.o.min_threshold)
            .map(|b| b.len().div_ceil(self.o.max_threshold) as u64)
            .sum()
    }

    fn stcs(&self, members: &[usize]) -> GroupPlan {
        let mut g = empty_group();
        let buckets = self.stcs_buckets(members);
        let chosen = self.stcs_most_interesting(&buckets);
        g.estimated_remaining_tasks = self.stcs_estimated_tasks(&buckets);
        for (n, b) in buckets.iter().enumerate() {
            let avg = self.total_data(b) / b.len().max(1) as u64;
            let note = if chosen.as_ref().is_some_and(|c| c.first().is_some_and(|x| b.contains(x))) {
                format!(
                    "chosen: {} SSTables of similar size (average {})",
                    b.len().min(self.o.max_threshold),
                    human_bytes(avg)
                )
            } else if b.len() < self.o.min_threshold {
                format!("{} SSTable(s), below min_threshold {}", b.len(), self.o.min_threshold)
            } else {
                format!(
                    "{} SSTables (average {}), waits: a bucket of larger files goes first",
                    b.len(),
                    human_bytes(avg)
                )
            };
            g.tiers.push(Tier { label: format!("bucket {}", n + 1), members: sorted_by_gen(b), note });
        }
        g.task = match chosen {
            Some(c) => Some(Task {
                kind: TaskKind::Compaction,
                reason: format!(
                    "{} similarly sized SSTables (min_threshold {}, max_threshold {}, bucket {}..{} of the average, files under {} grouped together)",
                    c.len(),
                    self.o.min_threshold,
                    self.o.max_threshold,
                    self.o.bucket_low,
                    self.o.bucket_high,
                    human_bytes(self.o.min_sstable_size)
                ),
                sstables: sorted_by_gen(&c),
                expired: vec![],
                level: None,
                max_sstable_bytes: None,
            }),
            None => {
                // Cassandra: the largest SSTable worth a tombstone compaction.
                let mut best: Option<usize> = None;
                for &i in members {
                    if self.worth_dropping_tombstones(i)
                        && best.is_none_or(|b| self.f(i).data_bytes > self.f(b).data_bytes)
                    {
                        best = Some(i);
                    }
                }
                best.map(|i| self.tombstone_task(i, None))
            }
        };
        g
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
        if self.o.only_purge_repaired_tombstones && compacting.iter().any(|&i| self.f(i).repaired_at == 0) {
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

    // ---- LCS ----

    fn lcs(&self, members: &[usize]) -> GroupPlan {
        let mut g = empty_group();
        let mut levels: Vec<Vec<usize>> = vec![Vec::new(); LEVEL_COUNT];
        let mut by_first = members.to_vec();
        by_first.sort_by(|&a, &b| self.f(a).first_key_order(self.f(b)));
        for i in by_first {
            let level = usize::try_from(self.f(i).level).unwrap_or(0).min(LEVEL_COUNT - 1);
            let lv = levels.get_mut(level).map(|l| (l.last().copied(), l));
            if let Some((prev, lv)) = lv {
                if level > 0
                    && let Some(p) = prev
                    && self.f(p).last >= self.f(i).first
                {
                    g.notes.push(format!(
                        "{} is marked L{level} but overlaps {} there: Cassandra sends it to L0",
                        short_name(&self.f(i).descriptor),
                        short_name(&self.f(p).descriptor)
                    ));
                } else {
                    lv.push(i);
                    continue;
                }
            }
            if let Some(l0) = levels.first_mut() {
                l0.push(i);
            }
        }
        let level = |n: usize| levels.get(n).map_or(&[][..], Vec::as_slice);
        // The level each SSTable is in now (after any demotion to L0).
        let effective = |i: usize| -> i32 { levels.iter().position(|l| l.contains(&i)).unwrap_or(0) as i32 };
        let max_bytes = self.o.max_sstable_bytes();
        // Size-tiering in L0 when L0 fell behind.
        let l0 = level(0);
        let l0_stcs = if l0.len() > MAX_COMPACTING_L0 {
            self.stcs_most_interesting(&self.stcs_buckets(l0)).map(|c| Task {
                kind: TaskKind::SizeTieredInL0,
                reason: format!(
                    "L0 holds {} SSTables (more than {MAX_COMPACTING_L0}): size-tiering there first",
                    l0.len()
                ),
                sstables: sorted_by_gen(&c),
                expired: vec![],
                level: Some(0),
                max_sstable_bytes: None,
            })
        } else {
            None
        };
        // Estimated tasks (LeveledManifest.getEstimatedTasks).
        let mut tasks = 0u64;
        for n in 0..LEVEL_COUNT {
            let over = self.total_data(level(n)) as f64 - (self.o.max_bytes_for_level(n) * 1.001).floor();
            tasks += (over.max(0.0) / max_bytes as f64).ceil() as u64;
        }
        if l0.len() > self.o.max_threshold {
            tasks += (l0.len() / self.o.max_threshold) as u64;
        }
        g.estimated_remaining_tasks = tasks;
        for n in 0..LEVEL_COUNT {
            let lv = level(n);
            if lv.is_empty() {
                continue;
            }
            let bytes = self.total_data(lv);
            let score = bytes as f64 / self.o.max_bytes_for_level(n);
            g.tiers.push(Tier {
                label: format!("L{n}"),
                members: lv.to_vec(),
                note: format!(
                    "{} SSTables, {} of {} (score {:.3})",
                    lv.len(),
                    human_bytes(bytes),
                    human_bytes(self.o.max_bytes_for_level(n) as u64),
                    score
                ),
            });
        }
        let mut task = None;
        for n in (1..LEVEL_COUNT).rev() {
            let lv = level(n);
            if lv.is_empty() {
                continue;
            }
            let score = self.total_data(lv) as f64 / self.o.max_bytes_for_level(n);
            if score <= 1.001 {
                continue;
            }
            if n == LEVEL_COUNT - 1 {
                g.notes.push(format!("L{n} (the highest level) holds more than its maximum size"));
                continue;
            }
            if let Some(t) = l0_stcs.clone() {
                task = Some(t);
                break;
            }
            let candidates = self.lcs_candidates_for(n, lv, level(n + 1));
            if !candidates.is_empty() {
                let next = self.next_level(&candidates, &effective);
                task = Some(Task {
                    kind: TaskKind::Compaction,
                    reason: format!(
                        "L{n} is over its size (score {score:.3} > 1.001): one L{n} SSTable with the L{} SSTables it overlaps",
                        n + 1
                    ),
                    sstables: sorted_by_gen(&candidates),
                    expired: vec![],
                    level: Some(next),
                    max_sstable_bytes: Some(max_bytes),
                });
                break;
            }
        }
        if task.is_none() && !l0.is_empty() {
            let candidates = self.lcs_l0_candidates(l0, level(1));
            task = if candidates.is_empty() {
                l0_stcs
            } else {
                let next = self.next_level(&candidates, &effective);
                let with_l1 = candidates.iter().filter(|&&i| level(1).contains(&i)).count();
                Some(Task {
                    kind: TaskKind::Compaction,
                    reason: if next == 0 {
                        format!(
                            "{} L0 SSTables, together less than sstable_size_in_mb ({}): compacted within L0",
                            candidates.len(),
                            human_bytes(max_bytes)
                        )
                    } else {
                        format!(
                            "{} L0 SSTables (oldest first, with those they overlap) and {with_l1} overlapping L1 SSTables",
                            candidates.len() - with_l1
                        )
                    },
                    sstables: sorted_by_gen(&candidates),
                    expired: vec![],
                    level: Some(next),
                    max_sstable_bytes: Some(max_bytes),
                })
            };
        }
        if task.is_none() {
            // LeveledCompactionStrategy.findDroppableSSTable: highest level first, best ratio first.
            let highest = (0..LEVEL_COUNT).rev().find(|&n| !level(n).is_empty()).unwrap_or(0);
            'levels: for n in (0..=highest).rev() {
                let mut lv = level(n).to_vec();
                lv.sort_by(|&a, &b| self.f(b).droppable_ratio.total_cmp(&self.f(a).droppable_ratio));
                for i in lv {
                    if self.f(i).droppable_ratio <= self.o.tombstone_threshold {
                        continue 'levels;
                    }
                    if self.worth_dropping_tombstones(i) {
                        let mut t = self.tombstone_task(i, Some(effective(i)));
                        t.max_sstable_bytes = Some(max_bytes);
                        task = Some(t);
                        break 'levels;
                    }
                }
            }
        }
        g.task = task;
        g
    }

    /// `LeveledManifest.getCandidatesFor(level)` for level ≥ 1, as just after start-up: resume
    /// after the newest SSTable of the next level.
    fn lcs_candidates_for(&self, _n: usize, lv: &[usize], next: &[usize]) -> Vec<usize> {
        let pivot = next.iter().copied().fold(None::<usize>, |best, i| match best {
            Some(b) if self.f(b).created_ms > self.f(i).created_ms => Some(b),
            _ => Some(i),
        });
        let start = pivot
            .and_then(|p| lv.iter().position(|&i| self.f(i).first > self.f(p).last))
            .or_else(|| (!lv.is_empty()).then_some(0));
        let Some(sstable) = start.and_then(|s| lv.get(s)).copied() else { return vec![] };
        let mut c = vec![sstable];
        c.extend(next.iter().copied().filter(|&j| self.f(j).overlaps(self.f(sstable))));
        c
    }

    /// `LeveledManifest.getCandidatesFor(0)`.
    fn lcs_l0_candidates(&self, l0: &[usize], l1: &[usize]) -> Vec<usize> {
        let age_sorted = |set: &[usize]| {
            let mut v = set.to_vec();
            v.sort_by_key(|&i| (self.f(i).max_timestamp, self.f(i).descriptor.id.clone()));
            v
        };
        let mut remaining: Vec<usize> = l0.to_vec();
        let mut candidates: Vec<usize> = Vec::new();
        for s in age_sorted(l0) {
            if candidates.contains(&s) {
                continue;
            }
            let overlapped: Vec<usize> = remaining
                .iter()
                .copied()
                .filter(|&r| r == s || self.f(r).overlaps(self.f(s)))
                .chain(std::iter::once(s))
                .collect();
            for c in overlapped {
                if !candidates.contains(&c) {
                    candidates.push(c);
                }
                remaining.retain(|&r| r != c);
            }
            if candidates.len() > self.o.max_threshold {
                candidates = age_sorted(&candidates).into_iter().take(self.o.max_threshold).collect();
                break;
            }
        }
        if self.total_data(&candidates) > self.o.max_sstable_bytes() {
            let first = candidates.iter().map(|&i| &self.f(i).first.0).min();
            let last = candidates.iter().map(|&i| &self.f(i).last.0).max();
            if let (Some(first), Some(last)) = (first, last) {
                for &j in l1 {
                    if self.f(j).first.0 <= *last && *first <= self.f(j).last.0 {
                        candidates.push(j);
                    }
                }
            }
        }
        if candidates.len() < 2 { vec![] } else { candidates }
    }

    /// `LeveledManifest.getNextLevel`.
    fn next_level(&self, set: &[usize], level_of: &dyn Fn(usize) -> i32) -> i32 {
        let levels = || set.iter().map(|&i| level_of(i));
        let (min, max) = (levels().min().unwrap_or(0), levels().max().unwrap_or(0));
        if min == 0 && max == 0 && self.total_data(set) < self.o.max_sstable_bytes() {
            0
        } else if min == max {
            max + 1
        } else {
            max
        }
    }

    // ---- TWCS ----

    /// The lower bound (ms) of the window holding a timestamp (`getWindowBoundsInMillis`).
    fn window_of(&self, ts: i64) -> i64 {
        let secs = self.o.timestamp_resolution.to_millis(ts) / 1000;
        let width = self.o.window_unit.seconds() * self.o.window_size;
        (secs - secs % width).saturating_mul(1000)
    }

    fn twcs(&self, members: &[usize]) -> GroupPlan {
        let mut g = empty_group();
        let overlapping: Vec<usize> = if self.o.unsafe_aggressive_sstable_expiration {
            vec![]
        } else {
            (0..self.all.len())
                .filter(|j| !members.contains(j) && members.iter().any(|&m| self.f(*j).overlaps(self.f(m))))
                .collect()
        };
        let expired = self.fully_expired(members, &overlapping, self.o.unsafe_aggressive_sstable_expiration);
        let live: Vec<usize> = members.iter().copied().filter(|i| !expired.contains(i)).collect();
        // Windows by max timestamp; the newest window seen is "now".
        let mut windows: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
        let mut highest = 0i64;
        for &i in &live {
            let w = self.window_of(self.f(i).max_timestamp);
            windows.entry(w).or_default().push(i);
            highest = highest.max(w);
        }
        // TimeWindowCompactionStrategy.newestBucket's count: one task per compactable window,
        // more where a window holds well over max_threshold SSTables.
        let tasks_for = |n: usize| -> u64 {
            let remaining = n as f64 - self.o.max_threshold as f64;
            1 + if remaining > self.o.min_threshold as f64 {
                (remaining / self.o.max_threshold as f64).ceil() as u64
            } else {
                0
            }
        };
        g.estimated_remaining_tasks = windows
            .iter()
            .filter(|(k, b)| {
                if **k >= highest {
                    b.len() >= self.o.min_threshold && self.stcs_most_interesting(&self.stcs_buckets(b)).is_some()
                } else {
                    b.len() >= 2
                }
            })
            .map(|(_, b)| tasks_for(b.len()))
            .sum();
        let mut chosen: Option<(i64, Vec<usize>, String)> = None;
        for (&key, bucket) in windows.iter().rev() {
            let note;
            if key >= highest && bucket.len() >= self.o.min_threshold {
                let stcs = self.stcs_most_interesting(&self.stcs_buckets(bucket));
                match stcs {
                    Some(c) if chosen.is_none() => {
                        note = format!("newest window: size-tiered, {} SSTables of similar size chosen", c.len());
                        chosen = Some((
                            key,
                            c,
                            format!(
                                "the newest window holds {} SSTables (min_threshold {}): the most similar in size compact",
                                bucket.len(),
                                self.o.min_threshold
                            ),
                        ));
                    }
                    Some(_) => note = "newest window: compactable".to_string(),
                    None => note = "newest window: no bucket of similar sizes reaches min_threshold".to_string(),
                }
            } else if key < highest && bucket.len() >= 2 {
                if chosen.is_none() {
                    let mut b = bucket.clone();
                    b.sort_by_key(|&i| (self.f(i).data_bytes, self.f(i).descriptor.id.clone()));
                    b.truncate(self.o.max_threshold);
                    note = format!("older window with {} SSTables: compacted into one", bucket.len());
                    chosen = Some((
                        key,
                        b,
                        format!(
                            "window {} is past and holds {} SSTables: compacted into one (the smallest {} at most)",
                            iso_minutes(key),
                            bucket.len(),
                            self.o.max_threshold
                        ),
                    ));
                } else {
                    note = format!("older window with {} SSTables: compacts after the newer ones", bucket.len());
                }
            } else if key >= highest {
                note =
                    format!("newest window: {} SSTable(s), below min_threshold {}", bucket.len(), self.o.min_threshold);
            } else {
                note = "older window: one SSTable, done".to_string();
            }
            g.tiers.push(Tier { label: format!("window {}", iso_minutes(key)), members: sorted_by_gen(bucket), note });
        }
        if !expired.is_empty() {
            g.tiers.push(Tier {
                label: "fully expired".into(),
                members: sorted_by_gen(&expired),
                note: "every cell expired or deleted before gc_before, and no overlapping SSTable holds older live data: dropped whole".into(),
            });
        }
        let mut task = match chosen {
            Some((_, c, reason)) => Some(Task {
                kind: TaskKind::Compaction,
                sstables: sorted_by_gen(&c),
                expired: vec![],
                level: None,
                max_sstable_bytes: None,
                reason,
            }),
            None => {
                // The smallest SSTable worth a tombstone compaction.
                let mut best: Option<usize> = None;
                for &i in &live {
                    if self.worth_dropping_tombstones(i)
                        && best.is_none_or(|b| self.f(i).data_bytes < self.f(b).data_bytes)
                    {
                        best = Some(i);
                    }
                }
                best.map(|i| self.tombstone_task(i, None))
            }
        };
        if !expired.is_empty() {
            let t = task.get_or_insert_with(|| Task {
                kind: TaskKind::ExpiredOnly,
                sstables: vec![],
                expired: vec![],
                level: None,
                max_sstable_bytes: None,
                reason: "fully expired SSTables are dropped".into(),
            });
            t.sstables.extend(expired.iter().copied());
            t.sstables = sorted_by_gen(&t.sstables);
            t.expired = sorted_by_gen(&expired);
        }
        g.task = task;
        g
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

/// The iteration order of Java's `HashMap<Long, V>` (default capacity 16, load factor 0.75):
/// by bin (`(h ^ h >>> 16) & (capacity - 1)`, with `Long.hashCode`), then by insertion within a
/// bin. A replaced key keeps its place. Bins are never treeified at the sizes compaction sees.
#[derive(Default)]
struct JavaLongMap {
    entries: Vec<(i64, u64, Vec<usize>)>,
    next_seq: u64,
    capacity: usize,
}

impl JavaLongMap {
    fn spread(k: i64) -> u32 {
        let h = (k ^ ((k as u64) >> 32) as i64) as i32 as u32;
        h ^ (h >> 16)
    }

    fn put(&mut self, k: i64, v: Vec<usize>) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.0 == k) {
            e.2 = v;
            return;
        }
        self.entries.push((k, self.next_seq, v));
        self.next_seq += 1;
        if self.capacity == 0 {
            self.capacity = 16;
        }
        while self.entries.len() * 4 > self.capacity * 3 {
            self.capacity *= 2;
        }
    }

    fn remove(&mut self, k: i64) {
        self.entries.retain(|e| e.0 != k);
    }

    fn iter_ordered(&self) -> Vec<(i64, &Vec<usize>)> {
        let mask = self.capacity.max(16) as u32 - 1;
        let mut v: Vec<&(i64, u64, Vec<usize>)> = self.entries.iter().collect();
        v.sort_by_key(|e| (Self::spread(e.0) & mask, e.1));
        v.into_iter().map(|e| (e.0, &e.2)).collect()
    }
}

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
fn iso_minutes(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}Z", rem / 3600, rem % 3600 / 60)
}

/// The plan as text: the options, each group's tiers, and the next task.
pub fn render_text(p: &Plan) -> String {
    let mut s = String::new();
    let name = |i: usize| p.sstables.get(i).map_or_else(|| "?".to_string(), |f| short_name(&f.descriptor));
    if let Some(f) = p.sstables.first() {
        let _ = writeln!(s, "table: {}", f.descriptor.directory.display());
    }
    let _ = writeln!(s, "strategy: {}", p.strategy.class_name());
    let opts: Vec<String> = p.options.effective(p.strategy).iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(s, "options: {}", opts.join(" "));
    let _ = writeln!(s, "now: {}  gc_before: {}", p.clock.now_s, p.clock.gc_before);
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
            None => {
                let _ = writeln!(s, "  next: nothing to compact");
            }
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
                "repaired_at": f.repaired_at,
                "min_timestamp": f.min_timestamp,
                "max_timestamp": f.max_timestamp,
                "max_local_deletion_time": f.max_local_deletion_time,
                "droppable_ratio": f.droppable_ratio,
            })
        })
        .collect();
    json!({
        "strategy": p.strategy.class_name(),
        "options": p.options.effective(p.strategy).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "now": p.clock.now_s,
        "gc_before": p.clock.gc_before,
        "sstables": sstables,
        "groups": groups,
    })
}

#[cfg(test)]
mod tests;
