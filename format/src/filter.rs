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

/// Extra bits Cassandra adds to every filter (`FilterFactory.BITSET_EXCESS`).
pub const BITSET_EXCESS: u64 = 20;

/// False-positive rates by bits per element (row) and hash count (column), as Cassandra's
/// `utils/BloomCalculations.java` tabulates them (three significant digits; rows are ragged).
const PROBS: [&[f64]; 21] = [
    &[1.0],
    &[1.0, 1.0],
    &[1.0, 0.393, 0.400],
    &[1.0, 0.283, 0.237, 0.253],
    &[1.0, 0.221, 0.155, 0.147, 0.160],
    &[1.0, 0.181, 0.109, 0.092, 0.092, 0.101],
    &[1.0, 0.154, 0.0804, 0.0609, 0.0561, 0.0578, 0.0638],
    &[1.0, 0.133, 0.0618, 0.0423, 0.0359, 0.0347, 0.0364],
    &[1.0, 0.118, 0.0489, 0.0306, 0.024, 0.0217, 0.0216, 0.0229],
    &[1.0, 0.105, 0.0397, 0.0228, 0.0166, 0.0141, 0.0133, 0.0135, 0.0145],
    &[1.0, 0.0952, 0.0329, 0.0174, 0.0118, 0.00943, 0.00844, 0.00819, 0.00846],
    &[1.0, 0.0869, 0.0276, 0.0136, 0.00864, 0.0065, 0.00552, 0.00513, 0.00509],
    &[1.0, 0.08, 0.0236, 0.0108, 0.00646, 0.00459, 0.00371, 0.00329, 0.00314],
    &[1.0, 0.074, 0.0203, 0.00875, 0.00492, 0.00332, 0.00255, 0.00217, 0.00199, 0.00194],
    &[1.0, 0.0689, 0.0177, 0.00718, 0.00381, 0.00244, 0.00179, 0.00146, 0.00129, 0.00121, 0.0012],
    &[1.0, 0.0645, 0.0156, 0.00596, 0.003, 0.00183, 0.00128, 0.001, 0.000852, 0.000775, 0.000744],
    &[1.0, 0.0606, 0.0138, 0.005, 0.00239, 0.00139, 0.000935, 0.000702, 0.000574, 0.000505, 0.00047, 0.000459],
    &[
        1.0, 0.0571, 0.0123, 0.00423, 0.00193, 0.00107, 0.000692, 0.000499, 0.000394, 0.000335, 0.000302, 0.000287,
        0.000284,
    ],
    &[
        1.0, 0.054, 0.0111, 0.00362, 0.00158, 0.000839, 0.000519, 0.00036, 0.000275, 0.000226, 0.000198, 0.000183,
        0.000176,
    ],
    &[
        1.0, 0.0513, 0.00998, 0.00312, 0.0013, 0.000663, 0.000394, 0.000264, 0.000194, 0.000155, 0.000132, 0.000118,
        0.000111, 0.000109,
    ],
    &[
        1.0, 0.0488, 0.00906, 0.0027, 0.00108, 0.00053, 0.000303, 0.000196, 0.00014, 0.000108, 8.89e-05, 7.77e-05,
        7.12e-05, 6.79e-05, 6.71e-05,
    ],
];

fn prob(buckets: usize, k: usize) -> f64 {
    PROBS.get(buckets).and_then(|row| row.get(k)).copied().unwrap_or(1.0)
}

/// The hash count with the lowest rate for `buckets` bits per element (first one on ties).
fn optimal_k(buckets: usize) -> usize {
    let row = PROBS.get(buckets).copied().unwrap_or(&[1.0]);
    let mut best = (0, f64::INFINITY);
    for (k, &p) in row.iter().enumerate() {
        if p < best.1 {
            best = (k, p);
        }
    }
    best.0.max(1)
}

/// (hash count, bits per element) for a false-positive chance (Cassandra
/// `BloomCalculations.computeBloomSpec`): the fewest bits per element whose optimal hash count
/// meets the chance, then as few hashes as still meet it. Chances of 0.393 or more get
/// Cassandra's answer of 2 hashes over 1 bit per element (its constructor arguments are swapped).
pub fn bloom_spec(fp_chance: f64) -> (u32, u32) {
    if fp_chance >= prob(2, 1) {
        return (2, optimal_k(2) as u32);
    }
    let mut b = 2;
    let mut k = optimal_k(b);
    while prob(b, k) > fp_chance && b < PROBS.len() - 1 {
        b += 1;
        k = optimal_k(b);
    }
    while k > 1 && prob(b, k - 1) <= fp_chance {
        k -= 1;
    }
    (k as u32, b as u32)
}

impl BloomFilter {
    /// An empty filter sized for `elements` keys at `fp_chance` (Cassandra `FilterFactory`).
    pub fn with_capacity(elements: u64, fp_chance: f64) -> BloomFilter {
        let (k, buckets) = bloom_spec(fp_chance);
        let bits = elements.max(1) * u64::from(buckets) + BITSET_EXCESS;
        let words = bits.div_ceil(64) as usize;
        BloomFilter { hash_count: k, bits: vec![0; words * 8] }
    }

    /// Add a partition key.
    pub fn add(&mut self, key: &[u8]) {
        let m = self.bit_count();
        for b in Self::positions(key, self.hash_count, m) {
            if let Some(byte) = self.bits.get_mut((b / 8) as usize) {
                *byte |= 1 << (b % 8);
            }
        }
    }

    /// Serialize Filter.db for `version`.
    pub fn encode(&self, version: Version) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.bits.len());
        out.extend_from_slice(&(self.hash_count as i32).to_be_bytes());
        out.extend_from_slice(&((self.bits.len() / 8) as i32).to_be_bytes());
        if version.has_old_bf_format() {
            for w in self.bits.chunks_exact(8) {
                out.extend(w.iter().rev());
            }
        } else {
            out.extend_from_slice(&self.bits);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_matches_cassandra_for_common_chances() {
        // 0.01 (the default) gives 10 bits per key and 5 hashes in Cassandra-written files.
        assert_eq!(bloom_spec(0.01), (5, 10));
        assert_eq!(bloom_spec(0.1), (3, 5));
        assert_eq!(bloom_spec(0.001), (7, 15));
        assert_eq!(bloom_spec(1e-4), (10, 20));
        assert_eq!(bloom_spec(0.3), (1, 3));
        assert_eq!(bloom_spec(0.5), (2, 1));
        let f = BloomFilter::with_capacity(65536, 0.01);
        assert_eq!(f.bits.len() / 8, 10241);
        assert_eq!(BloomFilter::with_capacity(5, 0.01).bits.len(), 16);
    }

    #[test]
    fn round_trip_both_layouts() {
        let mut f = BloomFilter::with_capacity(100, 0.01);
        for i in 0..100u32 {
            f.add(&i.to_be_bytes());
        }
        for v in [Version::Mc, Version::Nb] {
            let g = BloomFilter::parse(&f.encode(v), v).unwrap();
            assert_eq!(g, f);
            assert!((0..100u32).all(|i| g.may_contain(&i.to_be_bytes())));
        }
    }
}
