//! Statistics.db: the metadata Cassandra keeps beside every SSTable.
//!
//! ```text
//! i32 n                                   number of components
//! [na+] u32 CRC32(n)
//! n x (i32 type, i32 absolute offset)     0 VALIDATION, 1 COMPACTION, 2 STATS, 3 HEADER
//! [na+] u32 CRC32 running over n and the table of contents
//! components at their offsets, each [na+] followed by the CRC32 of its own bytes
//! ```
//!
//! Components are found by their offsets, never parsed back to back: `oa` writers pad the STATS
//! component with zeros (Cassandra `io/sstable/metadata/MetadataSerializer.java`).
//!
//! * VALIDATION: `writeUTF` partitioner class, f64 bloom-filter FP chance.
//! * COMPACTION: i32 length + HyperLogLogPlus bytes (partition-key cardinality estimate).
//! * STATS: see [`StatsMetadata`] for the field order per version.
//! * HEADER: the serialization header, see [`SerializationHeader`].

use crate::clustering::ClusteringBound;
use crate::codec::Cursor;
use crate::deletion::{normalize_ldt_i32, normalize_ldt_u32};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::types::CqlType;
use crate::version::Version;

/// Everything in Statistics.db.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// VALIDATION component.
    pub validation: Option<ValidationMetadata>,
    /// COMPACTION component.
    pub compaction: Option<CompactionMetadata>,
    /// STATS component.
    pub stats: Option<StatsMetadata>,
    /// HEADER component.
    pub header: Option<SerializationHeader>,
    /// Component types and absolute offsets, as listed in the table of contents.
    pub toc: Vec<(u32, u64)>,
}

/// VALIDATION: partitioner and bloom-filter parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationMetadata {
    /// Partitioner class name as stored.
    pub partitioner: String,
    /// Bloom filter false-positive chance.
    pub bloom_filter_fp_chance: f64,
}

/// COMPACTION: the serialized cardinality estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionMetadata {
    /// stream-lib HyperLogLogPlus bytes.
    pub cardinality: Vec<u8>,
}

impl CompactionMetadata {
    /// The estimated number of distinct partition keys; `None` when the estimator is empty
    /// (ScyllaDB writes a zero-length one for some system tables), an error when its bytes do
    /// not decode (offsets relative to the estimator's first byte).
    pub fn estimated_cardinality(&self) -> Result<Option<u64>, DecodeError> {
        if self.cardinality.is_empty() {
            return Ok(None);
        }
        crate::statistics::hll::cardinality(&self.cardinality).map(Some)
    }
}

/// A commit-log position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitLogPosition {
    /// Segment id.
    pub segment_id: i64,
    /// Position in the segment.
    pub position: i32,
}

/// Estimated histogram (Cassandra `utils/EstimatedHistogram.java`): bucket offsets and counts.
///
/// On disk: i32 N, then N x (i64 offset, i64 count), where pair 0 and pair 1 both carry the first
/// offset and the last pair is the overflow bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstimatedHistogram {
    /// Upper bound of each bucket (the overflow bucket repeats the last offset).
    pub offsets: Vec<i64>,
    /// Count of each bucket.
    pub counts: Vec<i64>,
}

impl EstimatedHistogram {
    fn read(c: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let n = c.len_i32("histogram size", c.remaining() / 16)?;
        let mut offsets = Vec::with_capacity(n);
        let mut counts = Vec::with_capacity(n);
        for _ in 0..n {
            offsets.push(c.i64()?);
            counts.push(c.i64()?);
        }
        Ok(EstimatedHistogram { offsets, counts })
    }

    /// The bucket bounds Cassandra generates for `n` buckets (1, 2, 3, ... growing by 1.2).
    pub fn bucket_offsets(n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let mut last = 1i64;
        out.push(last);
        for _ in 1..n {
            let mut next = (last as f64 * 1.2).round() as i64;
            if next == last {
                next += 1;
            }
            out.push(next);
            last = next;
        }
        out
    }

    /// The upper bound of bucket `i` (pairs 0 and 1 share the first offset; bucket `i` ≥ 1 ends at
    /// `offsets[i]` of the generated series, which the file stores in pair `i + 1`).
    fn upper(&self, i: usize) -> i64 {
        // Stored pair i carries o_{i-1} for i >= 1, and pair 0 carries o_0; bucket i's bound is o_i,
        // which is stored in pair i+1 (the overflow pair repeats the last bound).
        self.offsets.get(i + 1).copied().or_else(|| self.offsets.last().copied()).unwrap_or(0)
    }

    /// Counts without the overflow bucket (Cassandra clears it on load).
    fn buckets(&self) -> &[i64] {
        self.counts.split_last().map_or(&[], |(_, rest)| rest)
    }

    /// Total count (without overflow).
    pub fn count(&self) -> i64 {
        self.buckets().iter().sum()
    }

    /// Whether the overflow bucket holds anything.
    pub fn overflowed(&self) -> bool {
        self.counts.last().is_some_and(|&c| c > 0)
    }

    /// Smallest recorded value's bucket lower bound (+1), 0 when empty.
    pub fn min(&self) -> i64 {
        match self.buckets().iter().position(|&c| c > 0) {
            None | Some(0) => 0,
            Some(i) => self.upper(i - 1) + 1,
        }
    }

    /// The least the recorded values can add up to: each at its bucket's lower bound (bucket
    /// `i` holds the values above bucket `i - 1`'s bound, up to its own).
    pub fn lower_bound_sum(&self) -> u64 {
        let at_least = |i: usize| if i == 0 { 0 } else { self.upper(i - 1).saturating_add(1) };
        self.buckets()
            .iter()
            .enumerate()
            .map(|(i, &c)| u64::try_from(c).unwrap_or(0).saturating_mul(u64::try_from(at_least(i)).unwrap_or(0)))
            .fold(0, u64::saturating_add)
    }

    /// Largest recorded value's bucket bound, 0 when empty.
    pub fn max(&self) -> i64 {
        self.buckets().iter().rposition(|&c| c > 0).map_or(0, |i| self.upper(i))
    }

    /// The bucket bound at quantile `q` (0..1).
    pub fn percentile(&self, q: f64) -> i64 {
        let pc = (self.count() as f64 * q).ceil() as i64;
        if pc == 0 {
            return 0;
        }
        let mut running = 0;
        for (i, &c) in self.buckets().iter().enumerate() {
            running += c;
            if running >= pc {
                return self.upper(i);
            }
        }
        0
    }

    /// Mean, rounded up as Cassandra does (`(long) ceil(rawMean)`).
    pub fn mean(&self) -> i64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let sum: i128 =
            self.buckets().iter().enumerate().map(|(i, &c)| i128::from(c) * i128::from(self.upper(i))).sum();
        (sum as f64 / n as f64).ceil() as i64
    }
}

/// Tombstone drop-time histogram: (local deletion time rounded up to a minute, count) bins.
#[derive(Debug, Clone, PartialEq)]
pub struct TombstoneHistogram {
    /// Max bins the writer used (informational).
    pub max_bins: i32,
    /// Sorted (point, count) bins.
    pub bins: Vec<(i64, i64)>,
}

impl TombstoneHistogram {
    /// Estimated number of values at or below `b`, with the trapezoid interpolation of the
    /// streaming histogram (Cassandra `utils/streamhist/TombstoneHistogram.sum`).
    pub fn sum(&self, b: i64) -> f64 {
        let mut total = 0f64;
        let mut prev: Option<(i64, i64)> = None;
        for &(p, m) in &self.bins {
            if p > b {
                let Some((pp, pm)) = prev else { return 0.0 };
                let w = (b - pp) as f64 / (p - pp) as f64;
                let mb = pm as f64 + (m - pm) as f64 * w;
                return total - pm as f64 + (pm as f64 + mb) * w / 2.0 + pm as f64 / 2.0;
            }
            total += m as f64;
            prev = Some((p, m));
        }
        total
    }

    /// Total number of values.
    pub fn total(&self) -> i64 {
        self.bins.iter().map(|b| b.1).sum()
    }
}

/// The STATS component.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsMetadata {
    /// Estimated partition sizes (bytes).
    pub partition_sizes: EstimatedHistogram,
    /// Estimated cells per partition.
    pub cell_counts: EstimatedHistogram,
    /// Commit-log upper bound.
    pub commit_log_upper_bound: CommitLogPosition,
    /// Smallest write timestamp (µs).
    pub min_timestamp: i64,
    /// Largest write timestamp (µs).
    pub max_timestamp: i64,
    /// Smallest local deletion time (s), or `NO_DELETION_TIME`.
    pub min_local_deletion_time: i64,
    /// Largest local deletion time (s), or `NO_DELETION_TIME`.
    pub max_local_deletion_time: i64,
    /// Smallest TTL.
    pub min_ttl: i32,
    /// Largest TTL.
    pub max_ttl: i32,
    /// Compressed / uncompressed size, -1.0 when not compressed.
    pub compression_ratio: f64,
    /// Tombstone drop times.
    pub tombstone_histogram: TombstoneHistogram,
    /// LCS level.
    pub sstable_level: i32,
    /// Repair time (ms), 0 = unrepaired.
    pub repaired_at: i64,
    /// Smallest clustering values (legacy lists, `m*`/`n*`).
    pub min_clustering_values: Vec<Vec<u8>>,
    /// Largest clustering values (legacy lists, `m*`/`n*`).
    pub max_clustering_values: Vec<Vec<u8>>,
    /// `oa`: clustering types and the covered slice.
    pub covered_clusterings: Option<CoveredClusterings>,
    /// Whether pre-3.0 counter shards may be present.
    pub has_legacy_counter_shards: bool,
    /// Total cells written.
    pub total_columns_set: i64,
    /// Total rows written.
    pub total_rows: i64,
    /// Commit-log lower bound (`mb`+).
    pub commit_log_lower_bound: Option<CommitLogPosition>,
    /// Commit-log intervals covered (`mc`+).
    pub commit_log_intervals: Vec<(CommitLogPosition, CommitLogPosition)>,
    /// Pending repair session (`na`+).
    pub pending_repair: Option<[u8; 16]>,
    /// Transient replica data (`na`+).
    pub is_transient: bool,
    /// Host that wrote the SSTable (`me`, `nb`+).
    pub originating_host_id: Option<[u8; 16]>,
    /// `oa`: whether any partition-level deletion is present.
    pub has_partition_level_deletions: Option<bool>,
    /// `oa`: first partition key.
    pub first_key: Option<Vec<u8>>,
    /// `oa`: last partition key.
    pub last_key: Option<Vec<u8>>,
    /// `oa`: fraction of the token space covered.
    pub token_space_coverage: Option<f64>,
}

/// `oa` min/max clustering: types and a slice.
#[derive(Debug, Clone, PartialEq)]
pub struct CoveredClusterings {
    /// Clustering types (marshal strings).
    pub types: Vec<String>,
    /// Start bound.
    pub start: ClusteringBound,
    /// End bound.
    pub end: ClusteringBound,
}

/// EncodingStats: the bases that Data.db timestamps, TTLs and deletion times are deltas from.
///
/// Stored as three uvints relative to fixed epochs: min timestamp − 1442880000000000 µs
/// (2015-09-22), min local deletion time − 1442880000 s (as a 32-bit delta), min TTL − 0
/// (Cassandra `db/rows/EncodingStats.java`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingStats {
    /// Base timestamp (µs).
    pub min_timestamp: i64,
    /// Base local deletion time, as 32 raw bits.
    pub min_local_deletion_time: u32,
    /// Base TTL.
    pub min_ttl: i32,
}

/// Timestamp epoch of [`EncodingStats`] (2015-09-22T00:00Z in µs).
pub const TIMESTAMP_EPOCH: i64 = 1_442_880_000_000_000;
/// Deletion-time epoch of [`EncodingStats`] (2015-09-22T00:00Z in s).
pub const DELETION_TIME_EPOCH: i32 = 1_442_880_000;

impl EncodingStats {
    /// Read the three uvints.
    pub fn read(c: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let ts = c.uvint()?;
        let ldt = read_uvint32(c)?;
        let ttl = read_uvint32(c)?;
        Ok(EncodingStats {
            min_timestamp: TIMESTAMP_EPOCH.wrapping_add(ts as i64),
            min_local_deletion_time: (ldt as u32).wrapping_add(DELETION_TIME_EPOCH as u32),
            min_ttl: ttl,
        })
    }

    /// Append the three uvints.
    pub fn write(&self, out: &mut Vec<u8>) {
        crate::codec::write_uvint(out, self.min_timestamp.wrapping_sub(TIMESTAMP_EPOCH) as u64);
        let ldt = (self.min_local_deletion_time as i32).wrapping_sub(DELETION_TIME_EPOCH);
        crate::codec::write_uvint(out, i64::from(ldt) as u64);
        crate::codec::write_uvint(out, i64::from(self.min_ttl) as u64);
    }

    /// Decode a delta-encoded timestamp.
    pub fn timestamp(&self, delta: u64) -> i64 {
        self.min_timestamp.wrapping_add(delta as i64)
    }

    /// Decode a delta-encoded local deletion time for `version` (32-bit arithmetic; unsigned in `oa`).
    pub fn local_deletion_time(&self, delta: i32, version: Version) -> i64 {
        let raw = self.min_local_deletion_time.wrapping_add(delta as u32);
        if version.has_uint_deletion_time() { normalize_ldt_u32(raw) } else { normalize_ldt_i32(raw as i32) }
    }

    /// Decode a delta-encoded TTL.
    pub fn ttl(&self, delta: i32) -> i32 {
        self.min_ttl.wrapping_add(delta)
    }
}

/// A uvint holding a 32-bit delta. Writers sign-extend the i32 before encoding; like Cassandra
/// 3.x and 4.x (`(int) readUnsignedVInt()`), the low 32 bits are taken, so files whose writer
/// stored a wider value (ScyllaDB's "no deletion" base) still read.
pub fn read_uvint32(c: &mut Cursor<'_>) -> Result<i32, DecodeError> {
    Ok(c.uvint()? as i32)
}

/// A column of the serialization header.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderColumn {
    /// Column name (UTF-8 bytes as stored).
    pub name: String,
    /// Type string as stored.
    pub type_string: String,
    /// Parsed type.
    pub ty: CqlType,
}

impl HeaderColumn {
    /// A column of `ty`, with the type string Cassandra would store for it.
    pub fn new(name: &str, ty: CqlType) -> Self {
        HeaderColumn { name: name.into(), type_string: ty.marshal_name(), ty }
    }

    /// Whether the column is stored as several cells.
    pub fn is_complex(&self) -> bool {
        self.ty.is_multi_cell()
    }
}

/// HEADER: the types the Data.db of this SSTable was written with.
#[derive(Debug, Clone, PartialEq)]
pub struct SerializationHeader {
    /// Bases of delta encodings.
    pub stats: EncodingStats,
    /// Partition key type (`CompositeType(...)` for multi-column keys).
    pub key_type: CqlType,
    /// Key type string as stored.
    pub key_type_string: String,
    /// Clustering column types.
    pub clustering_types: Vec<CqlType>,
    /// Clustering type strings as stored.
    pub clustering_type_strings: Vec<String>,
    /// Static columns in Cassandra's column order (simple before complex, then by name bytes).
    pub static_columns: Vec<HeaderColumn>,
    /// Regular columns in the same order.
    pub regular_columns: Vec<HeaderColumn>,
}

impl SerializationHeader {
    /// A header for a key of `key_type`, `clustering` types and the given columns, with the type
    /// strings Cassandra would store and the delta bases in `stats`.
    pub fn new(
        stats: EncodingStats,
        key_type: CqlType,
        clustering: Vec<CqlType>,
        static_columns: Vec<HeaderColumn>,
        regular_columns: Vec<HeaderColumn>,
    ) -> Self {
        SerializationHeader {
            stats,
            key_type_string: key_type.marshal_name(),
            key_type,
            clustering_type_strings: clustering.iter().map(CqlType::marshal_name).collect(),
            clustering_types: clustering,
            static_columns,
            regular_columns,
        }
    }

    fn read(c: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let stats = EncodingStats::read(c)?;
        let (key_type_string, key_type) = read_type(c)?;
        let n = c.uvint_count("clustering type count")?;
        let mut clustering_types = Vec::with_capacity(n);
        let mut clustering_type_strings = Vec::with_capacity(n);
        for _ in 0..n {
            let (s, t) = read_type(c)?;
            clustering_type_strings.push(s);
            clustering_types.push(t);
        }
        let static_columns = read_columns(c)?;
        let regular_columns = read_columns(c)?;
        Ok(SerializationHeader {
            stats,
            key_type,
            key_type_string,
            clustering_types,
            clustering_type_strings,
            static_columns,
            regular_columns,
        })
    }

    /// Whether partitions carry a static row.
    pub fn has_static(&self) -> bool {
        !self.static_columns.is_empty()
    }

    /// Types of the partition key's components.
    pub fn key_components(&self) -> Vec<CqlType> {
        match &self.key_type {
            CqlType::Composite(ts) => ts.clone(),
            t => vec![t.clone()],
        }
    }
}

fn read_type(c: &mut Cursor<'_>) -> Result<(String, CqlType), DecodeError> {
    let at = c.offset();
    let b = c.uvint_bytes("type string length")?;
    let s = std::str::from_utf8(b)
        .map_err(|_| DecodeError::new(at, DecodeErrorKind::InvalidUtf8 { what: "type string" }))?;
    let t = CqlType::parse_marshal(s).map_err(|e| DecodeError::new(at, e.kind))?;
    Ok((s.to_string(), t))
}

fn read_columns(c: &mut Cursor<'_>) -> Result<Vec<HeaderColumn>, DecodeError> {
    let n = c.uvint_count("column count")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let at = c.offset();
        let name = c.uvint_bytes("column name length")?;
        let name = String::from_utf8(name.to_vec())
            .map_err(|_| DecodeError::new(at, DecodeErrorKind::InvalidUtf8 { what: "column name" }))?;
        let (type_string, ty) = read_type(c)?;
        out.push(HeaderColumn { name, type_string, ty });
    }
    // Cassandra orders columns simple-before-complex, then by name bytes (ColumnMetadata
    // comparison); the reader rebuilds that order whatever the file lists.
    out.sort_by(|a, b| a.is_complex().cmp(&b.is_complex()).then_with(|| a.name.as_bytes().cmp(b.name.as_bytes())));
    Ok(out)
}

fn read_position(c: &mut Cursor<'_>) -> Result<CommitLogPosition, DecodeError> {
    Ok(CommitLogPosition { segment_id: c.i64()?, position: c.i32()? })
}

fn read_uuid_opt(c: &mut Cursor<'_>) -> Result<Option<[u8; 16]>, DecodeError> {
    if c.u8()? != 0 { Ok(Some(c.array::<16>()?)) } else { Ok(None) }
}

fn read_value_list(c: &mut Cursor<'_>) -> Result<Vec<Vec<u8>>, DecodeError> {
    let n = c.len_i32("clustering value count", c.remaining() / 2)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(c.u16_bytes()?.to_vec());
    }
    Ok(out)
}

impl StatsMetadata {
    fn read(c: &mut Cursor<'_>, v: Version) -> Result<Self, DecodeError> {
        let partition_sizes = EstimatedHistogram::read(c)?;
        let cell_counts = EstimatedHistogram::read(c)?;
        let commit_log_upper_bound = read_position(c)?;
        let min_timestamp = c.i64()?;
        let max_timestamp = c.i64()?;
        let (min_ldt, max_ldt) = if v.has_uint_deletion_time() {
            (normalize_ldt_u32(c.u32()?), normalize_ldt_u32(c.u32()?))
        } else {
            (normalize_ldt_i32(c.i32()?), normalize_ldt_i32(c.i32()?))
        };
        let min_ttl = c.i32()?;
        let max_ttl = c.i32()?;
        let compression_ratio = c.f64()?;
        let max_bins = c.i32()?;
        let bin_size = if v.has_uint_deletion_time() { 12 } else { 16 };
        let n = c.len_i32("tombstone histogram size", c.remaining() / bin_size)?;
        let mut bins = Vec::with_capacity(n);
        for _ in 0..n {
            if v.has_uint_deletion_time() {
                bins.push((c.i64()?, i64::from(c.i32()?)));
            } else {
                bins.push((c.f64()? as i64, c.i64()?));
            }
        }
        let sstable_level = c.i32()?;
        let repaired_at = c.i64()?;
        let (mut min_clustering_values, mut max_clustering_values, mut covered_clusterings) = (vec![], vec![], None);
        if v.has_legacy_min_max() {
            min_clustering_values = read_value_list(c)?;
            max_clustering_values = read_value_list(c)?;
        } else {
            let n = c.uvint_count("clustering type count")?;
            let mut types = Vec::with_capacity(n);
            let mut parsed = Vec::with_capacity(n);
            for _ in 0..n {
                let (s, t) = read_type(c)?;
                types.push(s);
                parsed.push(t);
            }
            let start = ClusteringBound::read(c, &parsed)?;
            let end = ClusteringBound::read(c, &parsed)?;
            covered_clusterings = Some(CoveredClusterings { types, start, end });
        }
        let has_legacy_counter_shards = c.bool()?;
        let total_columns_set = c.i64()?;
        let total_rows = c.i64()?;
        let commit_log_lower_bound = if v.has_commit_log_lower_bound() { Some(read_position(c)?) } else { None };
        let mut commit_log_intervals = Vec::new();
        if v.has_commit_log_intervals() {
            let n = c.len_i32("commit log interval count", c.remaining() / 24)?;
            for _ in 0..n {
                commit_log_intervals.push((read_position(c)?, read_position(c)?));
            }
        }
        let pending_repair = if v.has_pending_repair() { read_uuid_opt(c)? } else { None };
        let is_transient = if v.has_is_transient() { c.bool()? } else { false };
        let originating_host_id = if v.has_originating_host_id() { read_uuid_opt(c)? } else { None };
        let (mut has_partition_level_deletions, mut first_key, mut last_key, mut token_space_coverage) =
            (None, None, None, None);
        if v.has_improved_min_max() {
            has_partition_level_deletions = Some(c.bool()?);
            first_key = Some(c.uvint_bytes("first key length")?.to_vec());
            last_key = Some(c.uvint_bytes("last key length")?.to_vec());
        }
        if v.has_token_space_coverage() {
            token_space_coverage = Some(c.f64()?);
        }
        Ok(StatsMetadata {
            partition_sizes,
            cell_counts,
            commit_log_upper_bound,
            min_timestamp,
            max_timestamp,
            min_local_deletion_time: min_ldt,
            max_local_deletion_time: max_ldt,
            min_ttl,
            max_ttl,
            compression_ratio,
            tombstone_histogram: TombstoneHistogram { max_bins, bins },
            sstable_level,
            repaired_at,
            min_clustering_values,
            max_clustering_values,
            covered_clusterings,
            has_legacy_counter_shards,
            total_columns_set,
            total_rows,
            commit_log_lower_bound,
            commit_log_intervals,
            pending_repair,
            is_transient,
            originating_host_id,
            has_partition_level_deletions,
            first_key,
            last_key,
            token_space_coverage,
        })
    }

    /// Estimated fraction of droppable tombstones at `gc_before` (s): tombstones whose local
    /// deletion time is before it, over the estimated cell count (Cassandra
    /// `StatsMetadata.getEstimatedDroppableTombstoneRatio`).
    pub fn estimated_droppable_tombstone_ratio(&self, gc_before: i64) -> f64 {
        let cells = self.cell_counts.mean().saturating_mul(self.cell_counts.count());
        if cells > 0 { self.tombstone_histogram.sum(gc_before) / cells as f64 } else { 0.0 }
    }
}

/// A checksum failure inside Statistics.db.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataChecksumError {
    /// Offset of the checksummed region.
    pub offset: u64,
    /// Stored CRC.
    pub expected: u32,
    /// Computed CRC.
    pub got: u32,
}

/// Why Statistics.db could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum StatisticsError {
    /// Bytes do not decode.
    Decode(DecodeError),
    /// A CRC does not match.
    Checksum(MetadataChecksumError),
}

impl From<DecodeError> for StatisticsError {
    fn from(e: DecodeError) -> Self {
        StatisticsError::Decode(e)
    }
}

/// Parse Statistics.db of `version`, verifying its checksums (`na`+).
pub fn parse(bytes: &[u8], version: Version) -> Result<Statistics, StatisticsError> {
    let mut c = Cursor::new(bytes);
    let n = c.len_i32("metadata component count", 16)?;
    let checksummed = version.has_metadata_checksum();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&(n as i32).to_be_bytes());
    if checksummed {
        let at = c.offset();
        let stored = c.u32()?;
        let got = crc.clone().finalize();
        if stored != got {
            return Err(StatisticsError::Checksum(MetadataChecksumError { offset: at, expected: stored, got }));
        }
    }
    let mut toc = Vec::with_capacity(n);
    for _ in 0..n {
        let at = c.offset();
        let ty = c.i32()?;
        let off = c.i32()?;
        crc.update(&ty.to_be_bytes());
        crc.update(&off.to_be_bytes());
        if ty < 0 || off < 0 || off as usize > bytes.len() {
            return Err(DecodeError::new(
                at,
                DecodeErrorKind::InvalidValue { what: "metadata component entry", value: i64::from(off) },
            )
            .into());
        }
        toc.push((ty as u32, off as u64));
    }
    if checksummed {
        let at = c.offset();
        let stored = c.u32()?;
        let got = crc.finalize();
        if stored != got {
            return Err(StatisticsError::Checksum(MetadataChecksumError { offset: at, expected: stored, got }));
        }
    }
    let mut sorted: Vec<(u32, u64)> = toc.clone();
    sorted.sort_by_key(|e| e.1);
    let mut out = Statistics { validation: None, compaction: None, stats: None, header: None, toc };
    for (i, &(ty, off)) in sorted.iter().enumerate() {
        let end = sorted.get(i + 1).map_or(bytes.len() as u64, |e| e.1);
        let region = bytes.get(off as usize..end as usize).ok_or_else(|| {
            DecodeError::new(off, DecodeErrorKind::Truncated { needed: end.saturating_sub(off), available: 0 })
        })?;
        let body = if checksummed {
            let (body, tail) = region.split_at(region.len().checked_sub(4).ok_or_else(|| {
                DecodeError::new(off, DecodeErrorKind::Truncated { needed: 4, available: region.len() as u64 })
            })?);
            let stored = u32::from_be_bytes(tail.try_into().unwrap_or([0; 4]));
            let got = crc32fast::hash(body);
            if stored != got {
                return Err(StatisticsError::Checksum(MetadataChecksumError { offset: off, expected: stored, got }));
            }
            body
        } else {
            region
        };
        let mut c = Cursor::with_base(body, off);
        match ty {
            0 => {
                let partitioner = c.utf("partitioner")?;
                let bloom_filter_fp_chance = c.f64()?;
                out.validation = Some(ValidationMetadata { partitioner, bloom_filter_fp_chance });
            }
            1 => {
                let len = c.len_i32("cardinality estimator length", c.remaining())?;
                out.compaction = Some(CompactionMetadata { cardinality: c.bytes(len)?.to_vec() });
            }
            2 => out.stats = Some(StatsMetadata::read(&mut c, version)?),
            3 => out.header = Some(SerializationHeader::read(&mut c)?),
            _ => {}
        }
    }
    Ok(out)
}

pub mod hll;

// -------------------------------------------------------------------------------------------
// Writing

use crate::codec::write_uvint;
use crate::deletion::{ldt_to_i32, ldt_to_u32};

impl EstimatedHistogram {
    /// An empty histogram with Cassandra's `n` bucket bounds (n + 1 stored pairs).
    pub fn new(n: usize) -> Self {
        let bounds = Self::bucket_offsets(n);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(bounds.first().copied().unwrap_or(1));
        offsets.extend_from_slice(&bounds);
        EstimatedHistogram { offsets, counts: vec![0; n + 1] }
    }

    /// Count one value: the first bucket whose bound is at least `v` (or the overflow bucket).
    pub fn add(&mut self, v: i64) {
        let bounds = self.offsets.get(1..).unwrap_or_default();
        let i = bounds.partition_point(|&b| b < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.counts.len() as i32).to_be_bytes());
        for (o, c) in self.offsets.iter().zip(&self.counts) {
            out.extend_from_slice(&o.to_be_bytes());
            out.extend_from_slice(&c.to_be_bytes());
        }
    }
}

impl TombstoneHistogram {
    /// An empty histogram holding at most `max_bins` bins.
    pub fn new(max_bins: i32) -> Self {
        TombstoneHistogram { max_bins, bins: Vec::new() }
    }

    /// Record a local deletion time, rounded up to a whole minute
    /// (Cassandra `StreamingTombstoneHistogramBuilder`, `roundSeconds` 60); when there are more
    /// than `max_bins` points, the two closest merge into their count-weighted mean.
    pub fn update(&mut self, ldt: i64) {
        let p = round_up(ldt, 60);
        match self.bins.binary_search_by_key(&p, |b| b.0) {
            Ok(i) => {
                if let Some(b) = self.bins.get_mut(i) {
                    b.1 += 1;
                }
            }
            Err(i) => self.bins.insert(i, (p, 1)),
        }
        while self.bins.len() > self.max_bins.max(1) as usize {
            let mut best = 0;
            let mut gap = i64::MAX;
            for (i, w) in self.bins.windows(2).enumerate() {
                if let [a, b] = w
                    && b.0 - a.0 < gap
                {
                    gap = b.0 - a.0;
                    best = i;
                }
            }
            let (Some(&(p1, c1)), Some(&(p2, c2))) = (self.bins.get(best), self.bins.get(best + 1)) else { break };
            let merged =
                round_up(((p1 as i128 * c1 as i128 + p2 as i128 * c2 as i128) / (c1 + c2).max(1) as i128) as i64, 60);
            self.bins.remove(best + 1);
            if let Some(b) = self.bins.get_mut(best) {
                *b = (merged, c1 + c2);
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>, version: Version) {
        if version.has_uint_deletion_time() {
            out.extend_from_slice(&(self.bins.len() as i32).to_be_bytes());
            out.extend_from_slice(&(self.bins.len() as i32).to_be_bytes());
            for (p, c) in &self.bins {
                out.extend_from_slice(&p.to_be_bytes());
                out.extend_from_slice(&(*c as i32).to_be_bytes());
            }
        } else {
            // 3.x writes the configured maximum (100), 4.0+ the bin count: `max_bins` holds
            // whichever the writer stores.
            out.extend_from_slice(&self.max_bins.to_be_bytes());
            out.extend_from_slice(&(self.bins.len() as i32).to_be_bytes());
            for (p, c) in &self.bins {
                out.extend_from_slice(&(*p as f64).to_be_bytes());
                out.extend_from_slice(&c.to_be_bytes());
            }
        }
    }
}

fn round_up(v: i64, unit: i64) -> i64 {
    let r = v.rem_euclid(unit);
    if r == 0 { v } else { v.saturating_add(unit - r) }
}

fn write_position(out: &mut Vec<u8>, p: &CommitLogPosition) {
    out.extend_from_slice(&p.segment_id.to_be_bytes());
    out.extend_from_slice(&p.position.to_be_bytes());
}

fn write_uuid_opt(out: &mut Vec<u8>, u: &Option<[u8; 16]>) {
    match u {
        Some(u) => {
            out.push(1);
            out.extend_from_slice(u);
        }
        None => out.push(0),
    }
}

fn write_type(out: &mut Vec<u8>, s: &str) {
    write_uvint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

impl StatsMetadata {
    fn write(&self, out: &mut Vec<u8>, v: Version) {
        self.partition_sizes.write(out);
        self.cell_counts.write(out);
        write_position(out, &self.commit_log_upper_bound);
        out.extend_from_slice(&self.min_timestamp.to_be_bytes());
        out.extend_from_slice(&self.max_timestamp.to_be_bytes());
        if v.has_uint_deletion_time() {
            out.extend_from_slice(&ldt_to_u32(self.min_local_deletion_time).to_be_bytes());
            out.extend_from_slice(&ldt_to_u32(self.max_local_deletion_time).to_be_bytes());
        } else {
            out.extend_from_slice(&ldt_to_i32(self.min_local_deletion_time).to_be_bytes());
            out.extend_from_slice(&ldt_to_i32(self.max_local_deletion_time).to_be_bytes());
        }
        out.extend_from_slice(&self.min_ttl.to_be_bytes());
        out.extend_from_slice(&self.max_ttl.to_be_bytes());
        out.extend_from_slice(&self.compression_ratio.to_be_bytes());
        self.tombstone_histogram.write(out, v);
        out.extend_from_slice(&self.sstable_level.to_be_bytes());
        out.extend_from_slice(&self.repaired_at.to_be_bytes());
        if v.has_legacy_min_max() {
            for list in [&self.min_clustering_values, &self.max_clustering_values] {
                out.extend_from_slice(&(list.len() as i32).to_be_bytes());
                for value in list {
                    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
                    out.extend_from_slice(value);
                }
            }
        } else {
            let (types, start, end) = match &self.covered_clusterings {
                Some(c) => (c.types.clone(), c.start.clone(), c.end.clone()),
                None => (
                    vec![],
                    ClusteringBound { kind: crate::clustering::BoundKind::InclStartBound, values: vec![] },
                    ClusteringBound { kind: crate::clustering::BoundKind::InclEndBound, values: vec![] },
                ),
            };
            write_uvint(out, types.len() as u64);
            for t in &types {
                write_type(out, t);
            }
            let parsed: Vec<CqlType> =
                types.iter().map(|t| CqlType::parse_marshal(t).unwrap_or(CqlType::Blob)).collect();
            start.write(out, &parsed);
            end.write(out, &parsed);
        }
        out.push(u8::from(self.has_legacy_counter_shards));
        out.extend_from_slice(&self.total_columns_set.to_be_bytes());
        out.extend_from_slice(&self.total_rows.to_be_bytes());
        if v.has_commit_log_lower_bound() {
            write_position(
                out,
                &self.commit_log_lower_bound.unwrap_or(CommitLogPosition { segment_id: -1, position: 0 }),
            );
        }
        if v.has_commit_log_intervals() {
            out.extend_from_slice(&(self.commit_log_intervals.len() as i32).to_be_bytes());
            for (a, b) in &self.commit_log_intervals {
                write_position(out, a);
                write_position(out, b);
            }
        }
        if v.has_pending_repair() {
            write_uuid_opt(out, &self.pending_repair);
        }
        if v.has_is_transient() {
            out.push(u8::from(self.is_transient));
        }
        if v.has_originating_host_id() {
            write_uuid_opt(out, &self.originating_host_id);
        }
        if v.has_improved_min_max() {
            out.push(u8::from(self.has_partition_level_deletions.unwrap_or(true)));
            for k in [&self.first_key, &self.last_key] {
                let k = k.as_deref().unwrap_or_default();
                write_uvint(out, k.len() as u64);
                out.extend_from_slice(k);
            }
        }
        if v.has_token_space_coverage() {
            out.extend_from_slice(&self.token_space_coverage.unwrap_or(f64::NAN).to_be_bytes());
            // Cassandra 5.0 sizes the component with 16 bytes per tombstone-histogram bin but
            // writes 12, and writes the whole buffer: the difference is zero padding here.
            out.resize(out.len() + 4 * self.tombstone_histogram.bins.len(), 0);
        }
    }
}

impl SerializationHeader {
    /// Serialize the HEADER component.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.stats.write(out);
        write_type(out, &self.key_type_string);
        write_uvint(out, self.clustering_type_strings.len() as u64);
        for t in &self.clustering_type_strings {
            write_type(out, t);
        }
        for list in [&self.static_columns, &self.regular_columns] {
            write_uvint(out, list.len() as u64);
            for c in list {
                write_uvint(out, c.name.len() as u64);
                out.extend_from_slice(c.name.as_bytes());
                write_type(out, &c.type_string);
            }
        }
    }
}

/// Serialize Statistics.db for `version`: table of contents, then each component at its
/// offset, with the `na`+ checksums.
pub fn encode(s: &Statistics, version: Version) -> Vec<u8> {
    let mut parts: Vec<(u32, Vec<u8>)> = Vec::new();
    if let Some(v) = &s.validation {
        let mut b = Vec::new();
        crate::compression::write_utf(&mut b, &v.partitioner);
        b.extend_from_slice(&v.bloom_filter_fp_chance.to_be_bytes());
        parts.push((0, b));
    }
    if let Some(c) = &s.compaction {
        let mut b = Vec::new();
        b.extend_from_slice(&(c.cardinality.len() as i32).to_be_bytes());
        b.extend_from_slice(&c.cardinality);
        parts.push((1, b));
    }
    if let Some(st) = &s.stats {
        let mut b = Vec::new();
        st.write(&mut b, version);
        parts.push((2, b));
    }
    if let Some(h) = &s.header {
        let mut b = Vec::new();
        h.write(&mut b);
        parts.push((3, b));
    }
    let checksummed = version.has_metadata_checksum();
    let crc_len = if checksummed { 4 } else { 0 };
    let mut out = Vec::new();
    let mut crc = crc32fast::Hasher::new();
    let n = parts.len() as i32;
    out.extend_from_slice(&n.to_be_bytes());
    crc.update(&n.to_be_bytes());
    if checksummed {
        out.extend_from_slice(&crc.clone().finalize().to_be_bytes());
    }
    let mut offset = 4 + 8 * parts.len() + 2 * crc_len;
    for (ty, body) in &parts {
        let (t, o) = (*ty as i32, offset as i32);
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&o.to_be_bytes());
        crc.update(&t.to_be_bytes());
        crc.update(&o.to_be_bytes());
        offset += body.len() + crc_len;
    }
    if checksummed {
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    for (_, body) in &parts {
        out.extend_from_slice(body);
        if checksummed {
            out.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_offsets_follow_cassandra() {
        let o = EstimatedHistogram::bucket_offsets(30);
        assert_eq!(&o[..20], &[1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 17, 20, 24, 29, 35, 42, 50, 60, 72]);
        assert_eq!(*EstimatedHistogram::bucket_offsets(118).last().unwrap(), 4_139_110_981);
        assert_eq!(*EstimatedHistogram::bucket_offsets(150).last().unwrap(), 1_414_838_745_986);
    }

    #[test]
    fn tombstone_sum_interpolates() {
        let h = TombstoneHistogram { max_bins: 100, bins: vec![(100, 10), (200, 20)] };
        assert_eq!(h.sum(50), 0.0);
        assert_eq!(h.sum(1000), 30.0);
        // w = 0.5, m_b = 15: 10 - 10 + (10 + 15) * 0.25 + 5 = 11.25
        assert_eq!(h.sum(150), 11.25);
        assert_eq!(
            h.sum(100),
            10.0 - 10.0 + 10.0 * 0.0 + 5.0 + 0.0 + 5.0 * 0.0 + 0.0 + 0.0 + 0.0 + 0.0 + 0.0 + 0.0 + 0.0
        );
    }

    #[test]
    fn encoding_stats_round_trip() {
        let s = EncodingStats { min_timestamp: 0, min_local_deletion_time: i32::MAX as u32, min_ttl: 0 };
        let mut out = Vec::new();
        s.write(&mut out);
        let mut c = Cursor::new(&out);
        assert_eq!(EncodingStats::read(&mut c).unwrap(), s);
    }
}
