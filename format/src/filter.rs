//! Filter.db: the bloom filter over partition keys.
//!
//! ```text
//! i32 BE  hash count k
//! i32 BE  number of 64-bit words W          (m = 64 W bits)
//! < na:   W big-endian i64 words; bit b is bit (b mod 64) of word b/64
//! ≥ na:   8 W bytes; bit b is bit (b mod 8) of byte b/8
//! ```
//!
//! A key's bits: (h0, h1) = Murmur3 x64-128 of the key (Cassandra's sign-extending variant);
//! bit i = |(h1 + i·h0) mod m| for i in 0..k, with Java's signed `%` and wrapping adds.
//! (Cassandra `utils/BloomFilter.java`, `utils/BloomFilterSerializer.java`.)

use crate::codec::Cursor;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::partitioner::murmur3_cassandra;
use crate::version::Version;

/// A loaded bloom filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BloomFilter {
    /// Number of hash functions.
    pub hash_count: u32,
    /// Bits, in the ≥`na` byte order.
    pub bits: Vec<u8>,
}

impl BloomFilter {
    /// Parse Filter.db of `version`.
    pub fn parse(bytes: &[u8], version: Version) -> Result<BloomFilter, DecodeError> {
        let mut c = Cursor::new(bytes);
        let at = c.offset();
        let k = c.i32()?;
        if !(1..=64).contains(&k) {
            return Err(DecodeError::new(
                at,
                DecodeErrorKind::InvalidValue { what: "bloom filter hash count", value: i64::from(k) },
            ));
        }
        let words = c.len_i32("bloom filter word count", c.remaining() / 8)?;
        let raw = c.bytes(words * 8)?;
        let bits = if version.has_old_bf_format() {
            raw.chunks_exact(8).flat_map(|w| w.iter().rev().copied()).collect()
        } else {
            raw.to_vec()
        };
        if !c.is_empty() {
            return Err(c.error(DecodeErrorKind::Structure(crate::error::StructureError::TrailingBytes)));
        }
        Ok(BloomFilter { hash_count: k as u32, bits })
    }

    /// Bits in the filter.
    pub fn bit_count(&self) -> u64 {
        self.bits.len() as u64 * 8
    }

    /// The bit positions of `key`.
    pub fn positions(key: &[u8], hash_count: u32, bit_count: u64) -> impl Iterator<Item = u64> {
        let (h0, h1) = murmur3_cassandra(key);
        let m = bit_count as i64;
        (0..i64::from(hash_count)).map(move |i| {
            if m == 0 {
                return 0;
            }
            let h = h1.wrapping_add(i.wrapping_mul(h0));
            (h % m).unsigned_abs()
        })
    }

    /// Whether `key` may be present (false = certainly absent).
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let m = self.bit_count();
        Self::positions(key, self.hash_count, m)
            .all(|b| self.bits.get((b / 8) as usize).is_some_and(|byte| byte & (1 << (b % 8)) != 0))
    }

    /// Number of set bits (for fill-ratio reports).
    pub fn set_bits(&self) -> u64 {
        self.bits.iter().map(|b| u64::from(b.count_ones())).sum()
    }
}
