//! Partitioners: how a partition key becomes a token, and so where it sorts.
//!
//! * `Murmur3Partitioner` (the default since 1.2): the first 64-bit word of MurmurHash3 x64-128
//!   (seed 0) over the serialized key, with Cassandra's quirk that tail bytes are sign-extended
//!   (Java `byte` to `long`) before they are shifted in. `Long.MIN_VALUE` becomes
//!   `Long.MAX_VALUE`, and the empty key is the minimum token (Cassandra
//!   `dht/Murmur3Partitioner.java`, `utils/MurmurHash.java`).
//! * `RandomPartitioner`: the absolute value of the MD5 digest read as a signed 128-bit
//!   big-endian integer (`dht/RandomPartitioner.java`).
//! * `ByteOrderedPartitioner`: the key bytes themselves.
//!
//! The second Murmur3 word is the base of the bloom filter's hash positions (see [`crate::filter`]).

use std::cmp::Ordering;
use std::fmt;

use md5::{Digest, Md5};

/// MurmurHash3 x64-128 as Cassandra computes it (tail bytes sign-extended), seed 0.
pub fn murmur3_cassandra(key: &[u8]) -> (i64, i64) {
    hash3_x64_128(key, 0, true)
}

/// Standard MurmurHash3 x64-128 (unsigned tail bytes) with `seed`, as Guava computes it.
pub fn murmur3_standard(key: &[u8], seed: u64) -> (i64, i64) {
    hash3_x64_128(key, seed, false)
}

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

fn hash3_x64_128(key: &[u8], seed: u64, sign_extend_tail: bool) -> (i64, i64) {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let mut h1 = seed;
    let mut h2 = seed;
    let mut blocks = key.chunks_exact(16);
    for block in &mut blocks {
        let (a, b) = block.split_at(8);
        let mut k1 = u64::from_le_bytes(a.try_into().unwrap_or([0; 8]));
        let mut k2 = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1.rotate_left(27).wrapping_add(h2).wrapping_mul(5).wrapping_add(0x52dc_e729);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2.rotate_left(31).wrapping_add(h1).wrapping_mul(5).wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let byte = |i: usize| -> u64 {
        let b = tail.get(i).copied().unwrap_or(0);
        if sign_extend_tail { b as i8 as i64 as u64 } else { u64::from(b) }
    };
    let mut k1: u64 = 0;
    let mut k2: u64 = 0;
    if tail.len() > 8 {
        for i in (8..tail.len()).rev() {
            k2 ^= byte(i) << ((i - 8) * 8);
        }
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
    }
    if !tail.is_empty() {
        for i in (0..tail.len().min(8)).rev() {
            k1 ^= byte(i) << (i * 8);
        }
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
    }
    let len = key.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1 as i64, h2 as i64)
}

/// The Murmur3Partitioner token of a serialized partition key.
pub fn murmur3_token(key: &[u8]) -> i64 {
    if key.is_empty() {
        return i64::MIN;
    }
    let (h1, _) = murmur3_cassandra(key);
    if h1 == i64::MIN { i64::MAX } else { h1 }
}

/// The RandomPartitioner token: |MD5(key)| as a signed 128-bit integer; -1 for the empty key.
pub fn random_token(key: &[u8]) -> i128 {
    if key.is_empty() {
        return -1;
    }
    let digest: [u8; 16] = Md5::digest(key).into();
    let v = i128::from_be_bytes(digest);
    // BigInteger.abs(); |i128::MIN| = 2^127 does not fit, but it is not a possible MD5 outcome
    // worth more than saturating.
    v.checked_abs().unwrap_or(i128::MAX)
}

/// Which partitioner wrote an SSTable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioner {
    /// `org.apache.cassandra.dht.Murmur3Partitioner`.
    Murmur3,
    /// `org.apache.cassandra.dht.RandomPartitioner`.
    Random,
    /// `org.apache.cassandra.dht.ByteOrderedPartitioner`.
    ByteOrdered,
    /// `org.apache.cassandra.dht.OrderPreservingPartitioner` (keys compared as UTF-8 text).
    OrderPreserving,
    /// `LocalPartitioner` (system tables and secondary indexes): keys sort by their type.
    Local,
}

impl Partitioner {
    /// From the class name stored in Statistics.db: bare or in `org.apache.cassandra.dht` (a
    /// class of another package is not Cassandra's, whatever its simple name).
    pub fn from_class(class: &str) -> Option<Partitioner> {
        Some(match crate::class_name::in_package(class, "org.apache.cassandra.dht.")? {
            "Murmur3Partitioner" => Partitioner::Murmur3,
            "RandomPartitioner" => Partitioner::Random,
            "ByteOrderedPartitioner" => Partitioner::ByteOrdered,
            "OrderPreservingPartitioner" => Partitioner::OrderPreserving,
            s if s.starts_with("LocalPartitioner") => Partitioner::Local,
            _ => return None,
        })
    }

    /// The token of a serialized key.
    pub fn token(self, key: &[u8]) -> Token {
        match self {
            Partitioner::Murmur3 => Token::Murmur3(murmur3_token(key)),
            Partitioner::Random => Token::Random(random_token(key)),
            Partitioner::ByteOrdered | Partitioner::OrderPreserving | Partitioner::Local => Token::Bytes(key.to_vec()),
        }
    }

    /// The `n - 1` tokens dividing the token space into `n` equal ranges (`n` of 0 counts as 1),
    /// for splitting a table by token range. Only hashing partitioners have a token space to
    /// divide: the others' tokens are the keys themselves.
    pub fn token_boundaries(self, n: u32) -> Result<Vec<Token>, NoTokenRanges> {
        let n = i128::from(n.max(1));
        match self {
            Partitioner::Murmur3 => {
                // Tokens are in [i64::MIN, i64::MAX] (MIN itself is never a key's token).
                let (lo, width) = (i128::from(i64::MIN), i128::from(u64::MAX));
                Ok((1..n).map(|i| Token::Murmur3((lo + width * i / n) as i64)).collect())
            }
            Partitioner::Random => {
                let top = 1i128 << 126; // 2^127 / 2, times 2 below, without overflowing.
                Ok((1..n).map(|i| Token::Random(top / n * i * 2)).collect())
            }
            Partitioner::ByteOrdered | Partitioner::OrderPreserving | Partitioner::Local => Err(NoTokenRanges(self)),
        }
    }
}

/// A partitioner whose token space cannot be divided into equal ranges (see
/// [`Partitioner::token_boundaries`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("token ranges cannot be computed for the {0:?} partitioner")]
pub struct NoTokenRanges(pub Partitioner);

/// A token of any partitioner.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Token {
    /// A Murmur3 token.
    Murmur3(i64),
    /// A RandomPartitioner token.
    Random(i128),
    /// A byte-ordered token (the key).
    Bytes(Vec<u8>),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Murmur3(t) => write!(f, "{t}"),
            Token::Random(t) => write!(f, "{t}"),
            Token::Bytes(b) => f.write_str(&crate::types::render::hex(b)),
        }
    }
}

/// Cassandra's order of decorated keys: by token, then by key bytes (unsigned).
pub fn compare_decorated(t1: &Token, k1: &[u8], t2: &Token, k2: &[u8]) -> Ordering {
    t1.cmp(t2).then_with(|| k1.cmp(k2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cassandras_partitioner_classes_are_its_partitioners() {
        assert_eq!(Partitioner::from_class("org.apache.cassandra.dht.Murmur3Partitioner"), Some(Partitioner::Murmur3));
        assert_eq!(Partitioner::from_class("RandomPartitioner"), Some(Partitioner::Random));
        assert_eq!(Partitioner::from_class("org.apache.cassandra.dht.LocalPartitioner"), Some(Partitioner::Local));
        assert_eq!(Partitioner::from_class("com.acme.Murmur3Partitioner"), None);
    }

    #[test]
    fn token_boundaries_divide_the_hashing_token_spaces() {
        let m = Partitioner::Murmur3.token_boundaries(4).unwrap();
        assert_eq!(m, [-4_611_686_018_427_387_905, -1, 4_611_686_018_427_387_903].map(Token::Murmur3));
        let r = Partitioner::Random.token_boundaries(4).unwrap();
        assert_eq!(r, [1i128 << 125, 1 << 126, 3 << 125].map(Token::Random));
        assert_eq!(Partitioner::Murmur3.token_boundaries(1).unwrap(), []);
        assert_eq!(Partitioner::Murmur3.token_boundaries(0).unwrap(), []);
        let e = Partitioner::ByteOrdered.token_boundaries(4).unwrap_err();
        assert_eq!(e, NoTokenRanges(Partitioner::ByteOrdered));
        assert_eq!(e.to_string(), "token ranges cannot be computed for the ByteOrdered partitioner");
    }

    #[test]
    fn murmur3_tokens_match_the_python_driver() {
        // Values from research/ecosystem.md section 3 (scylla, cassandra-protocol and the Python
        // driver agree on all of them).
        assert_eq!(murmur3_token(&0i32.to_be_bytes()), -3485513579396041028);
        assert_eq!(murmur3_token(&1i32.to_be_bytes()), -4069959284402364209);
        assert_eq!(murmur3_token(&2i32.to_be_bytes()), -3248873570005575792);
        assert_eq!(murmur3_token(&3i32.to_be_bytes()), 9010454139840013625);
        assert_eq!(murmur3_token(b"test"), -6017608668500074083);
        assert_eq!(murmur3_token("kremówki".as_bytes()), 4354931215268080151);
        assert_eq!(murmur3_token("château".as_bytes()), 9114062196463836094);
        assert_eq!(murmur3_token(&[0xff, 0xff, 0xff]), -9154616442117352147);
        let sixteen: Vec<u8> = (0x80..=0x8f).collect();
        assert_eq!(murmur3_token(&sixteen), 7217206371623098675);
    }

    #[test]
    fn book_tokens() {
        // Cassandra High Availability, chapter 1 (SEEDS.md).
        assert_eq!(murmur3_token(b"John"), -3916187946103363496);
        assert_eq!(murmur3_token(b"Jane"), 4290246218330003133);
        assert_eq!(murmur3_token(b"Sue"), -8489302296308032607);
    }

    #[test]
    fn standard_variant_differs_only_on_high_tail_bytes() {
        assert_eq!(murmur3_standard("kremówki".as_bytes(), 0).0, 5170069825885792609);
        assert_eq!(murmur3_standard(b"test", 0).0, murmur3_cassandra(b"test").0);
    }

    #[test]
    fn empty_key_is_minimum() {
        assert_eq!(murmur3_token(b""), i64::MIN);
        assert_eq!(random_token(b""), -1);
    }
}
