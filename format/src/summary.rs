//! Summary.db: a sample of Index.db for binary search.
//!
//! ```text
//! i32 BE  min index interval (128)
//! i32 BE  entry count
//! i64 BE  size of the offsets + entries region
//! i32 BE  sampling level (128 = full)
//! i32 BE  entries at full sampling
//! count x i32 LITTLE-endian offset of each entry from the region start
//! entries: key bytes (length implied by the next offset) · i64 LITTLE-endian Index.db position
//! i32 BE length + first key · i32 BE length + last key
//! ```
//! (Cassandra `io/sstable/indexsummary/IndexSummary.java`; unchanged from `ma` to `oa`.)

use crate::codec::Cursor;
use crate::error::{DecodeError, DecodeErrorKind};

/// Parsed Summary.db.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Min index interval.
    pub min_index_interval: i32,
    /// Sampling level.
    pub sampling_level: i32,
    /// Entries at full sampling.
    pub size_at_full_sampling: i32,
    /// (key, Index.db position) samples.
    pub entries: Vec<(Vec<u8>, u64)>,
    /// First partition key of the SSTable.
    pub first_key: Vec<u8>,
    /// Last partition key.
    pub last_key: Vec<u8>,
}

impl Summary {
    /// Parse Summary.db.
    pub fn parse(bytes: &[u8]) -> Result<Summary, DecodeError> {
        let mut c = Cursor::new(bytes);
        let min_index_interval = c.i32()?;
        let count = c.len_i32("summary entry count", c.remaining() / 12)?;
        let at = c.offset();
        let region = c.i64()?;
        let sampling_level = c.i32()?;
        let size_at_full_sampling = c.i32()?;
        let region_len =
            usize::try_from(region).ok().filter(|&r| r <= c.remaining() && r >= count * 4).ok_or_else(|| {
                DecodeError::new(
                    at,
                    DecodeErrorKind::LengthOutOfRange {
                        what: "summary region",
                        length: region as u64,
                        limit: c.remaining() as u64,
                    },
                )
            })?;
        let region_start = c.offset();
        let region_bytes = c.bytes(region_len)?;
        let mut offs = Cursor::with_base(region_bytes, region_start);
        let mut offsets = Vec::with_capacity(count);
        for _ in 0..count {
            let at = offs.offset();
            let o = offs.i32_le()?;
            if o < 0 || o as usize > region_len {
                return Err(DecodeError::new(
                    at,
                    DecodeErrorKind::InvalidValue { what: "summary entry offset", value: i64::from(o) },
                ));
            }
            offsets.push(o as usize);
        }
        let mut entries = Vec::with_capacity(count);
        for (i, &o) in offsets.iter().enumerate() {
            let end = offsets.get(i + 1).copied().unwrap_or(region_len);
            let entry = region_bytes.get(o..end).filter(|e| e.len() >= 8).ok_or_else(|| {
                DecodeError::new(
                    region_start + o as u64,
                    DecodeErrorKind::InvalidValue { what: "summary entry length", value: end as i64 - o as i64 },
                )
            })?;
            let (key, pos) = entry.split_at(entry.len() - 8);
            let pos = i64::from_le_bytes(pos.try_into().unwrap_or([0; 8]));
            if pos < 0 {
                return Err(DecodeError::new(
                    region_start + end as u64 - 8,
                    DecodeErrorKind::InvalidValue { what: "index position", value: pos },
                ));
            }
            entries.push((key.to_vec(), pos as u64));
        }
        let n = c.len_i32("first key length", c.remaining())?;
        let first_key = c.bytes(n)?.to_vec();
        let n = c.len_i32("last key length", c.remaining())?;
        let last_key = c.bytes(n)?.to_vec();
        Ok(Summary { min_index_interval, sampling_level, size_at_full_sampling, entries, first_key, last_key })
    }
}
