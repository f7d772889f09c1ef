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
    /// Offset of the first key's length in Summary.db (the last key's length follows the first
    /// key), for errors about them.
    pub keys_offset: u64,
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
        let keys_offset = c.offset();
        let n = c.len_i32("first key length", c.remaining())?;
        let first_key = c.bytes(n)?.to_vec();
        let n = c.len_i32("last key length", c.remaining())?;
        let last_key = c.bytes(n)?.to_vec();
        Ok(Summary {
            min_index_interval,
            sampling_level,
            size_at_full_sampling,
            entries,
            first_key,
            last_key,
            keys_offset,
        })
    }

    /// Offset of the last key's length in Summary.db.
    pub fn last_key_offset(&self) -> u64 {
        self.keys_offset + 4 + self.first_key.len() as u64
    }
}

impl Summary {
    /// Sample Index.db entries at full sampling: every `min_index_interval`-th entry, starting
    /// with the first (Cassandra `IndexSummaryBuilder`).
    pub fn builder(min_index_interval: i32) -> SummaryBuilder {
        SummaryBuilder {
            interval: min_index_interval.max(1) as u64,
            keys: 0,
            entries: Vec::new(),
            first: None,
            last: Vec::new(),
        }
    }

    /// Serialize Summary.db.
    pub fn encode(&self) -> Vec<u8> {
        let count = self.entries.len();
        let entries_len: usize = self.entries.iter().map(|(k, _)| k.len() + 8).sum();
        let region = count * 4 + entries_len;
        let mut out = Vec::with_capacity(24 + region + self.first_key.len() + self.last_key.len() + 8);
        out.extend_from_slice(&self.min_index_interval.to_be_bytes());
        out.extend_from_slice(&(count as i32).to_be_bytes());
        out.extend_from_slice(&(region as i64).to_be_bytes());
        out.extend_from_slice(&self.sampling_level.to_be_bytes());
        out.extend_from_slice(&self.size_at_full_sampling.to_be_bytes());
        let mut offset = count * 4;
        for (k, _) in &self.entries {
            out.extend_from_slice(&(offset as i32).to_le_bytes());
            offset += k.len() + 8;
        }
        for (k, p) in &self.entries {
            out.extend_from_slice(k);
            out.extend_from_slice(&(*p as i64).to_le_bytes());
        }
        out.extend_from_slice(&(self.first_key.len() as i32).to_be_bytes());
        out.extend_from_slice(&self.first_key);
        out.extend_from_slice(&(self.last_key.len() as i32).to_be_bytes());
        out.extend_from_slice(&self.last_key);
        out
    }
}

/// Collects Summary.db samples while Index.db is written.
#[derive(Debug, Clone)]
pub struct SummaryBuilder {
    interval: u64,
    keys: u64,
    entries: Vec<(Vec<u8>, u64)>,
    first: Option<Vec<u8>>,
    last: Vec<u8>,
}

impl SummaryBuilder {
    /// A builder sampling every `min_index_interval`-th entry.
    pub fn new(min_index_interval: i32) -> Self {
        Summary::builder(min_index_interval)
    }

    /// Record the Index.db entry of `key` at `index_position`.
    pub fn add(&mut self, key: &[u8], index_position: u64) {
        if self.keys.is_multiple_of(self.interval) {
            self.entries.push((key.to_vec(), index_position));
        }
        if self.first.is_none() {
            self.first = Some(key.to_vec());
        }
        self.last.clear();
        self.last.extend_from_slice(key);
        self.keys += 1;
    }

    /// The summary.
    pub fn finish(self) -> Summary {
        let region: usize = self.entries.iter().map(|(k, _)| 4 + k.len() + 8).sum();
        Summary {
            keys_offset: 24 + region as u64,
            min_index_interval: self.interval as i32,
            sampling_level: 128,
            size_at_full_sampling: self.keys.div_ceil(self.interval) as i32,
            entries: self.entries,
            first_key: self.first.unwrap_or_default(),
            last_key: self.last,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// What the builder makes, written and parsed back, is the same summary, key offsets included.
    #[test]
    fn round_trips_with_key_offsets() {
        let mut b = SummaryBuilder::new(2);
        for (i, key) in [&b"a"[..], b"bc", b"def", b"ghij", b"k"].iter().enumerate() {
            b.add(key, i as u64 * 10);
        }
        let s = b.finish();
        let bytes = s.encode();
        assert_eq!(Summary::parse(&bytes).unwrap(), s);
        let at = |o: u64| usize::try_from(o).unwrap();
        assert_eq!(&bytes[at(s.keys_offset)..at(s.keys_offset) + 5], b"\0\0\0\x01a");
        assert_eq!(&bytes[at(s.last_key_offset())..], b"\0\0\0\x01k");
    }
}
