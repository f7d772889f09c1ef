//! The STATS component (Cassandra `io/sstable/metadata/StatsMetadata.java`, its `StatsMetadataSerializer`),
//! read and written. Fields in file order, with the versions that carry them:
//!
//! ```text
//! EstimatedHistogram partition sizes · EstimatedHistogram cells per partition
//! i64 commit-log upper bound segment · i32 position
//! i64 min timestamp · i64 max timestamp
//! i32 min, max local deletion time (u32 in oa) · i32 min TTL · i32 max TTL
//! f64 compression ratio · TombstoneHistogram (see histogram)
//! i32 sstable level · i64 repaired at
//! before oa: i32 n · n x (u16 length, bytes) min clustering; the same for max
//! oa:        uvint n · n x type string · ClusteringBound start · ClusteringBound end
//! bool legacy counter shards · i64 total columns set · i64 total rows
//! mb+: commit-log lower bound (i64, i32)
//! mc+: i32 n · n x (lower, upper) commit-log interval
//! na+: pending repair (u8 present, 16-byte UUID) · bool transient
//! me, nb+: originating host id (u8 present, 16-byte UUID)
//! oa: bool partition-level deletions · uvint-length first key · uvint-length last key ·
//!     f64 token space coverage
//! ```

use crate::clustering::ClusteringBound;
use crate::codec::{Cursor, write_uvint};
use crate::deletion::{ldt_to_i32, ldt_to_u32, normalize_ldt_i32, normalize_ldt_u32};
use crate::error::DecodeError;
use crate::types::CqlType;
use crate::version::Version;

use super::header::{read_type, write_type};
use super::histogram::{EstimatedHistogram, TombstoneHistogram};

/// A commit-log position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitLogPosition {
    /// Segment id.
    pub segment_id: i64,
    /// Position in the segment.
    pub position: i32,
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
    pub(super) fn read(c: &mut Cursor<'_>, v: Version) -> Result<Self, DecodeError> {
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

impl StatsMetadata {
    pub(super) fn write(&self, out: &mut Vec<u8>, v: Version) {
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
