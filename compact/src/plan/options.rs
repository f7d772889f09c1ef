//! The options of the three strategies, by Cassandra's names and with Cassandra's defaults,
//! checked as each strategy's `validateOptions` checks them (`AbstractCompactionStrategy`,
//! `SizeTieredCompactionStrategyOptions`, `LeveledCompactionStrategy`,
//! `TimeWindowCompactionStrategyOptions`): an unknown option or a bad value is an error, never
//! a silent default.

use super::{PlanError, Strategy};

/// Cassandra's default `min_sstable_size` for STCS (50 MiB).
pub const DEFAULT_MIN_SSTABLE_SIZE: u64 = 50 * 1024 * 1024;

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
    pub(super) fn seconds(self) -> i64 {
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
    pub(super) fn to_millis(self, t: i64) -> i64 {
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

    pub(super) fn max_sstable_bytes(&self) -> u64 {
        self.sstable_size_in_mb.saturating_mul(1024 * 1024)
    }

    /// `LeveledManifest.maxBytesForLevel`.
    pub(super) fn max_bytes_for_level(&self, level: usize) -> f64 {
        let max = self.max_sstable_bytes() as f64;
        if level == 0 { 4.0 * max } else { f64::from(self.fanout_size).powi(level as i32) * max }
    }
}
