//! The partition-key cardinality estimator of the COMPACTION component: a stream-lib
//! HyperLogLogPlus as Cassandra serializes it (`HyperLogLogPlus.getBytes`, stream-lib 2.5;
//! Cassandra's `io/sstable/metadata/CompactionMetadata.java` stores the bytes with an i32
//! length in front).
//!
//! ```text
//! i32 -2 (format version 2, negated) · LEB128 p · LEB128 sp · LEB128 format
//! format 0 (normal): LEB128 byte length · big-endian i32 words, six 5-bit registers per word
//!                    (register j in word j/6 at bit 5·(j mod 6))
//! format 1 (sparse): LEB128 entry count · LEB128 deltas of the sorted encoded entries
//!
//! ScyllaDB (sstables/hyperloglog.hh, `HyperLogLog::get_bytes`), p = 4, sp = 0:
//! format 0:          LEB128 2^p · 2^p bytes, one register per byte
//! ```
//!
//! Cassandra writes p = 13, sp = 25. `sp = 0` means "sparse representation off" (stream-lib's
//! constructor accepts 4 <= p and either sp = 0 or p <= sp <= 32), so such estimators are always
//! in the normal format. ScyllaDB writes that header but its registers one per byte, 2^p bytes
//! where stream-lib's words take about two thirds of that; the byte length tells the two apart
//! (stream-lib itself would misread ScyllaDB's registers as packed words). Anything else is a
//! [`DecodeError`] at its offset in the estimator's bytes.
//!
//! Sparse estimates are linear counting at precision sp, exactly as stream-lib computes them.
//! Normal estimates follow stream-lib's choice between linear counting and the HyperLogLog raw
//! estimate (α·m² / Σ 2^-register, with α = 0.673, 0.697, 0.709 for p = 4, 5, 6 and
//! 0.7213 / (1 + 1.079 / m) above) at stream-lib's thresholds per p. Where stream-lib subtracts
//! its empirical bias table from the raw estimate (raw estimates up to 5·m), Cairn takes linear
//! counting instead while any register is still zero. Linear counting is unbiased; its standard
//! error at p = 13 (Cassandra's) stays below 2.6 % up to 5·m, so there Cairn's figure differs
//! from `sstablemetadata`'s by about that much at most. With ScyllaDB's 16 registers any estimate
//! is coarse (the raw estimate's standard error alone is 26 %).

use crate::codec::Cursor;
use crate::error::{DecodeError, DecodeErrorKind};

/// stream-lib's linear-counting thresholds for p = 4 ..= 18 (from the HyperLogLog++ paper).
const THRESHOLDS: [f64; 15] = [
    10.0, 20.0, 40.0, 80.0, 220.0, 400.0, 900.0, 1800.0, 3100.0, 6500.0, 11500.0, 20000.0, 50000.0, 120000.0, 350000.0,
];

fn leb128(c: &mut Cursor<'_>, what: &'static str) -> Result<u32, DecodeError> {
    let at = c.offset();
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = c.u8()?;
        v |= u32::from(b & 0x7f)
            .checked_shl(shift)
            .filter(|x| x >> shift == u32::from(b & 0x7f))
            .ok_or_else(|| c.error_at(at, DecodeErrorKind::InvalidValue { what, value: -1 }))?;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(c.error_at(at, DecodeErrorKind::InvalidValue { what, value: -1 }))
}

/// Σ 2^-register and the number of zero registers.
fn sum_registers(registers: impl Iterator<Item = u32>) -> (f64, usize) {
    let mut sum = 0f64;
    let mut zeros = 0usize;
    for reg in registers {
        if reg == 0 {
            zeros += 1;
        }
        sum += (-f64::from(reg)).exp2();
    }
    (sum, zeros)
}

fn linear_counting(m: f64, zeros: f64) -> f64 {
    m * (m / zeros).ln()
}

/// Estimated distinct count from serialized HyperLogLogPlus bytes.
pub fn cardinality(bytes: &[u8]) -> Result<u64, DecodeError> {
    let mut c = Cursor::new(bytes);
    let version = c.i32()?;
    if version != -2 {
        return Err(
            c.error_at(0, DecodeErrorKind::InvalidValue { what: "HyperLogLogPlus version", value: version.into() })
        );
    }
    let at = c.offset();
    let p = leb128(&mut c, "HyperLogLogPlus precision p")?;
    if !(4..=18).contains(&p) {
        return Err(
            c.error_at(at, DecodeErrorKind::InvalidValue { what: "HyperLogLogPlus precision p", value: p.into() })
        );
    }
    let at = c.offset();
    let sp = leb128(&mut c, "HyperLogLogPlus sparse precision sp")?;
    if sp != 0 && !(p..=32).contains(&sp) {
        return Err(c.error_at(
            at,
            DecodeErrorKind::InvalidValue { what: "HyperLogLogPlus sparse precision sp", value: sp.into() },
        ));
    }
    let at = c.offset();
    let format = leb128(&mut c, "HyperLogLogPlus format")?;
    match format {
        1 if sp != 0 => {
            let at = c.offset();
            let n = f64::from(leb128(&mut c, "HyperLogLogPlus sparse entry count")?);
            let m = (1u64 << sp) as f64;
            if n >= m {
                return Err(c.error_at(
                    at,
                    DecodeErrorKind::LengthOutOfRange {
                        what: "HyperLogLogPlus sparse entry count",
                        length: n as u64,
                        limit: (m as u64).saturating_sub(1),
                    },
                ));
            }
            Ok(linear_counting(m, m - n).round() as u64)
        }
        0 => {
            let m = 1usize << p;
            let len_at = c.offset();
            let len = leb128(&mut c, "HyperLogLogPlus register bytes")? as usize;
            // stream-lib's RegisterSet: six registers per 32-bit word.
            let packed = m.div_ceil(6) * 4;
            let (sum, zeros) = if len == m {
                // ScyllaDB: one register per byte.
                let at = c.offset();
                let bytes = c.bytes(len)?;
                if let Some((i, &r)) = bytes.iter().enumerate().find(|(_, r)| **r > 64) {
                    return Err(c.error_at(
                        at + i as u64,
                        DecodeErrorKind::InvalidValue { what: "HyperLogLog register", value: r.into() },
                    ));
                }
                sum_registers(bytes.iter().map(|&r| u32::from(r)))
            } else if len >= packed {
                let words = c.bytes(len)?;
                sum_registers(
                    words
                        .chunks_exact(4)
                        .map(|w| w.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
                        .flat_map(|word| (0..6).map(move |k| (word >> (5 * k)) & 0x1f))
                        .take(m),
                )
            } else {
                return Err(c.error_at(
                    len_at,
                    DecodeErrorKind::SizeMismatch {
                        what: "HyperLogLogPlus register bytes",
                        recorded: len as u64,
                        actual: packed as u64,
                    },
                ));
            };
            let mf = m as f64;
            let alpha = match p {
                4 => 0.673,
                5 => 0.697,
                6 => 0.709,
                _ => 0.7213 / (1.0 + 1.079 / mf),
            };
            let raw = alpha * mf * mf / sum;
            let threshold = THRESHOLDS.get(p as usize - 4).copied().unwrap_or(f64::INFINITY);
            let estimate = if zeros > 0 {
                let lc = linear_counting(mf, zeros as f64);
                if lc < threshold || raw <= 5.0 * mf { lc } else { raw }
            } else {
                raw
            };
            Ok(estimate.round() as u64)
        }
        _ => {
            Err(c.error_at(at, DecodeErrorKind::InvalidValue { what: "HyperLogLogPlus format", value: format.into() }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sparse_estimator() {
        assert_eq!(cardinality(&[0xff, 0xff, 0xff, 0xfe, 0x0d, 0x19, 0x01, 0x00]), Ok(0));
        assert_eq!(cardinality(&[0xff, 0xff, 0xff, 0xfe, 0x0d, 0x19, 0x01, 0x0a]), Ok(10));
        assert!(matches!(cardinality(&[1, 2, 3]), Err(DecodeError { kind: DecodeErrorKind::Truncated { .. }, .. })));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn scylla_writes_one_register_per_byte() {
        // ScyllaDB's write_many_live_partitions (65536 partitions) and write_shadowable_deletion
        // (2 partitions), Statistics.db COMPACTION bytes: p = 4, sp = 0, normal, 16 bytes.
        assert_eq!(cardinality(&hex("fffffffe040000100b0d0d0c100b0d0b0c0c0f0d110e0c0c")), Ok(52395));
        assert_eq!(cardinality(&hex("fffffffe0400001000000000010002000000000000000000")), Ok(2));
        assert_eq!(cardinality(&hex("fffffffe0400001000000000000000000000000000000000")), Ok(0));
        // A register no 64-bit hash can produce.
        assert!(matches!(
            cardinality(&hex("fffffffe0400001000000041000000000000000000000000")),
            Err(DecodeError { offset: 11, kind: DecodeErrorKind::InvalidValue { value: 0x41, .. } })
        ));
    }

    #[test]
    fn sparse_off_reads_stream_lib_words() {
        // stream-lib HyperLogLogPlus(4, 0): three words of six 5-bit registers; register 0 = 1.
        assert_eq!(cardinality(&hex("fffffffe0400000c000000010000000000000000")), Ok(1));
        // Registers 0..16 all 2: raw estimate 0.673 * 256 / 4 = 43.07, below 5m with no zero
        // register, so the raw estimate stands.
        let word = (0..6).fold(0u32, |w, k| w | (2 << (5 * k)));
        let mut b = hex("fffffffe0400000c");
        for _ in 0..3 {
            b.extend_from_slice(&word.to_be_bytes());
        }
        assert_eq!(cardinality(&b), Ok(43));
    }

    #[test]
    fn impossible_parameters_are_located_errors() {
        let invalid = |b: &[u8], at: u64| matches!(cardinality(b), Err(DecodeError { offset, kind: DecodeErrorKind::InvalidValue { .. } }) if offset == at);
        assert!(invalid(&hex("fffffffd0d190100"), 0), "version");
        assert!(invalid(&hex("fffffffe03000000"), 4), "p below 4");
        assert!(invalid(&hex("fffffffe0d050100"), 5), "0 < sp < p");
        assert!(invalid(&hex("fffffffe0d210100"), 5), "sp above 32");
        assert!(invalid(&hex("fffffffe04000100"), 6), "sparse format with sparse off");
        assert!(matches!(
            cardinality(&hex("fffffffe04000008")),
            Err(DecodeError { offset: 7, kind: DecodeErrorKind::SizeMismatch { recorded: 8, actual: 12, .. } })
        ));
    }
}
