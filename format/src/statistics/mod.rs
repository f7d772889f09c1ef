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

//!
//! The components live in their own files, each type's read beside its write:
//! [`histogram`] (the estimated and tombstone histograms), [`stats`] (STATS), [`header`]
//! (HEADER and its encoding bases) and [`hll`] (the COMPACTION cardinality estimator).

pub mod header;
pub mod histogram;
pub mod hll;
pub mod stats;

pub use header::{
    DELETION_TIME_EPOCH, EncodingStats, HeaderColumn, SerializationHeader, TIMESTAMP_EPOCH, read_uvint32,
};
pub use histogram::{EstimatedHistogram, TombstoneHistogram};
pub use stats::{CommitLogPosition, CoveredClusterings, StatsMetadata};

use crate::codec::Cursor;
use crate::error::{DecodeError, DecodeErrorKind};
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
        // Cassandra knows four component types (`MetadataType`: validation, compaction, stats,
        // header) and fails on any other; one skipped here could be data it needs.
        if !(0..=3).contains(&ty) {
            return Err(DecodeError::new(
                at,
                DecodeErrorKind::InvalidValue { what: "metadata component type", value: i64::from(ty) },
            )
            .into());
        }
        if off < 0 || off as usize > bytes.len() {
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
            // 3: the header (no other type passed the table of contents).
            _ => out.header = Some(SerializationHeader::read(&mut c)?),
        }
    }
    Ok(out)
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
    fn a_component_type_cassandra_does_not_know_is_an_error() {
        // One entry, type 4, its (empty) body at offset 12: once skipped without a word.
        let mut bytes = 1i32.to_be_bytes().to_vec();
        bytes.extend(4i32.to_be_bytes());
        bytes.extend(12i32.to_be_bytes());
        let e = parse(&bytes, Version::Mc).expect_err("type 4");
        assert!(format!("{e:?}").contains("metadata component type"), "{e:?}");
    }

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
