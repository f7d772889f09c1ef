//! The partition-key cardinality estimator Cassandra stores in Statistics.db: stream-lib's
//! HyperLogLogPlus with p = 13, sp = 25, fed with Cassandra's `MurmurHash.hash2_64` of each
//! partition key (Cassandra `io/sstable/metadata/MetadataCollector.java`; stream-lib 2.5.2).
//!
//! The sketch is reproduced exactly, quirks included, so the bytes match what Cassandra writes
//! for the same keys in the same order: offers are buffered 1 537 at a time, sorted by sparse
//! index, and merged into the sparse list comparing the raw encoded values as signed 32-bit
//! ints (so the list is not strictly sorted and deltas can be negative); the sketch turns into
//! 8 192 five-bit registers once a merge leaves more than 6 144 entries. The byte layout is
//! described in [`crate::statistics::hll`].

const P: u32 = 13;
const SP: u32 = 25;
const M: usize = 1 << P;
const SPARSE_THRESHOLD: usize = M * 3 / 4;
const SORT_THRESHOLD: usize = SPARSE_THRESHOLD / 4;
const WORDS: usize = M / 6 + 1;

/// Cassandra's `MurmurHash.hash2_64` (MurmurHash64A, seed 0, tail bytes sign-extended).
pub fn hash2_64(key: &[u8]) -> u64 {
    const MUL: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h: u64 = (key.len() as u64).wrapping_mul(MUL);
    let mut blocks = key.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(MUL);
        k ^= k >> R;
        k = k.wrapping_mul(MUL);
        h ^= k;
        h = h.wrapping_mul(MUL);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (j, &b) in tail.iter().enumerate().rev() {
            h ^= (b as i8 as i64 as u64) << (8 * j);
        }
        h = h.wrapping_mul(MUL);
    }
    h ^= h >> R;
    h = h.wrapping_mul(MUL);
    h ^= h >> R;
    h
}

fn encode_hash(x: u64) -> i32 {
    let idx = (x >> (64 - SP)) as i32;
    let zero_test = idx.wrapping_shl((32 - SP) + P);
    if zero_test == 0 {
        let run = ((x << P) | (1 << (P - 1))).leading_zeros() as i32 + 1;
        (((idx << 6) | (run ^ 63)) << 1) | 1
    } else {
        idx << 1
    }
}

fn sparse_index(k: i32) -> i32 {
    if k & 1 == 1 { ((k as u32) >> 7) as i32 } else { ((k as u32) >> 1) as i32 }
}

fn encoded_hash(k: i32) -> i32 {
    k.wrapping_shl(P + 31 - SP)
}

fn decode_run_length(k: i32) -> i32 {
    if k & 1 == 1 {
        (((k as u32) >> 1) as i32 & 63) ^ 63
    } else {
        (k.wrapping_shl(P + 31 - SP) as u32).leading_zeros() as i32 + 1
    }
}

/// A HyperLogLogPlus sketch (p = 13, sp = 25) as Cassandra keeps and serializes it.
#[derive(Debug, Clone)]
pub struct HyperLogLogPlus {
    tmp: Vec<i32>,
    sparse: Vec<i32>,
    registers: Option<Vec<u32>>,
}

impl Default for HyperLogLogPlus {
    fn default() -> Self {
        Self::new()
    }
}

impl HyperLogLogPlus {
    /// An empty sketch.
    pub fn new() -> Self {
        HyperLogLogPlus { tmp: Vec::with_capacity(SORT_THRESHOLD + 1), sparse: Vec::new(), registers: None }
    }

    /// Offer a partition key.
    pub fn offer(&mut self, key: &[u8]) {
        self.offer_hashed(hash2_64(key));
    }

    /// Offer a 64-bit hash.
    pub fn offer_hashed(&mut self, x: u64) {
        if let Some(words) = self.registers.as_mut() {
            let idx = (x >> (64 - P)) as usize;
            let run = ((x << P) | (1 << (P - 1))).leading_zeros() as i32 + 1;
            update_if_greater(words, idx, run);
            return;
        }
        self.tmp.push(encode_hash(x));
        if self.tmp.len() > SORT_THRESHOLD {
            self.merge_temp();
            if self.sparse.len() > SPARSE_THRESHOLD {
                self.convert_to_normal();
            }
        }
    }

    fn merge_temp(&mut self) {
        if self.tmp.is_empty() {
            return;
        }
        let mut tmp = std::mem::take(&mut self.tmp);
        tmp.sort_by(|a, b| sparse_index(*a).cmp(&sparse_index(*b)).then(encoded_hash(*a).cmp(&encoded_hash(*b))));
        self.sparse = merge(&self.sparse, &tmp);
        tmp.clear();
        self.tmp = tmp;
    }

    fn convert_to_normal(&mut self) {
        self.merge_temp();
        let mut words = vec![0u32; WORDS];
        for &k in &self.sparse {
            let index = (sparse_index(k) as u32 >> (SP - P)) as usize;
            update_if_greater(&mut words, index, decode_run_length(k));
        }
        self.sparse = Vec::new();
        self.registers = Some(words);
    }

    /// Serialize (stream-lib `getBytes`, format version 2).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(-2i32).to_be_bytes());
        leb128(&mut out, P);
        leb128(&mut out, SP);
        match &self.registers {
            Some(words) => {
                leb128(&mut out, 0);
                leb128(&mut out, (words.len() * 4) as u32);
                for w in words {
                    out.extend_from_slice(&w.to_be_bytes());
                }
            }
            None => {
                leb128(&mut out, 1);
                let mut merged = self.clone();
                merged.merge_temp();
                leb128(&mut out, merged.sparse.len() as u32);
                let mut prev = 0i32;
                for &k in &merged.sparse {
                    leb128(&mut out, k.wrapping_sub(prev) as u32);
                    prev = k;
                }
            }
        }
        out
    }
}

fn update_if_greater(words: &mut [u32], position: usize, value: i32) {
    let shift = 5 * (position % 6) as u32;
    let mask = 0x1fu32 << shift;
    if let Some(w) = words.get_mut(position / 6) {
        let current = (*w & mask) as i32;
        let new = value.wrapping_shl(shift);
        if current < new {
            *w = (*w & !mask) | new as u32;
        }
    }
}

/// stream-lib's merge of the sorted temporary list into the sparse list.
fn merge(set: &[i32], tmp: &[i32]) -> Vec<i32> {
    let mut out = Vec::with_capacity(set.len() + tmp.len());
    let consume = |j: usize| -> usize {
        let idx = tmp.get(j).map(|k| sparse_index(*k));
        let mut j = j + 1;
        while j < tmp.len() && tmp.get(j).map(|k| sparse_index(*k)) == idx {
            j += 1;
        }
        j
    };
    let (mut i, mut j) = (0, 0);
    while i < set.len() || j < tmp.len() {
        match (set.get(i), tmp.get(j)) {
            (None, Some(&t)) => {
                out.push(t);
                j = consume(j);
            }
            (Some(&s), None) => {
                out.push(s);
                i += 1;
            }
            (Some(&s), Some(&t)) => {
                if sparse_index(s) == sparse_index(t) {
                    out.push(s.min(t));
                    i += 1;
                    j = consume(j);
                } else if s < t {
                    out.push(s);
                    i += 1;
                } else {
                    out.push(t);
                    j = consume(j);
                }
            }
            (None, None) => break,
        }
    }
    out
}

fn leb128(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statistics::hll::cardinality;

    #[test]
    fn hash_matches_cassandra_vectors() {
        // Vectors computed with Cassandra's own MurmurHash.hash2_64.
        assert_eq!(hash2_64(b""), 0);
        assert_eq!(hash2_64(b"a"), 0x0717_17d2_d36b_6b11);
        assert_eq!(hash2_64(b"abc"), 0x9cc9_c334_98a9_5efb);
        assert_eq!(hash2_64(b"hello"), 0x1e68_d17c_457b_f117);
        assert_eq!(hash2_64(b"12345678"), 0x758f_67d1_62b2_d202);
        assert_eq!(hash2_64(b"123456789"), 0x4977_4902_5167_4330);
        assert_eq!(hash2_64(b"The quick brown fox"), 0xf323_1866_c315_bc69);
        assert_eq!(hash2_64(&[0x80]), 0x5cb5_e363_145d_41b2);
        assert_eq!(hash2_64(&[0xff, 0xfe, 0xfd]), 0x64e2_5d6a_f5f3_514c);
        assert_eq!(hash2_64(&[0, 0, 0, 1]), 0x4fb1_a8c3_fb9e_da53);
        assert_eq!(hash2_64(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0x81]), 0x38a2_d5e9_3f30_feae);
    }

    fn sketch(n: i32) -> Vec<u8> {
        let mut h = HyperLogLogPlus::new();
        for i in 0..n {
            h.offer(&i.to_be_bytes());
        }
        h.to_bytes()
    }

    #[test]
    fn bytes_match_stream_lib() {
        // getBytes of stream-lib 2.5.2 fed with hash2_64 of int keys 0..n (research notes).
        let hex = |b: &[u8]| crate::types::render::hex(b);
        assert_eq!(hex(&sketch(0)), "fffffffe0d190100");
        assert_eq!(hex(&sketch(1)), "fffffffe0d190101debe890c");
        assert_eq!(hex(&sketch(3)), "fffffffe0d190103a28dfb09bcb18e02829dad06");
        assert_eq!(
            hex(&sketch(10)),
            "fffffffe0d19010ab0d9da03b0b3c502c280db0380949101bc9d7de4c9399ed3f305f0aa8401e0838904c280db03"
        );
        assert_eq!(sketch(5000).len(), 11797);
        assert_eq!(sketch(6144).len(), 14695);
        assert_eq!(sketch(6200).len(), 5473);
    }

    #[test]
    fn estimates_read_back() {
        for n in [0usize, 1, 10, 100, 1000, 5000, 50_000] {
            let mut h = HyperLogLogPlus::new();
            for i in 0..n {
                h.offer(format!("key{i}").as_bytes());
            }
            let est = cardinality(&h.to_bytes()).unwrap() as f64;
            let err = if n == 0 { est } else { (est - n as f64).abs() / n as f64 };
            assert!(err < 0.03, "n={n} estimated {est}");
        }
    }
}
