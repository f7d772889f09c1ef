//! The partition-key cardinality estimator of the COMPACTION component: a stream-lib
//! HyperLogLogPlus (p = 13, sp = 25) as Cassandra serializes it.
//!
//! ```text
//! i32 -2 (format version 2, negated) · LEB128 p · LEB128 sp · LEB128 format
//! format 0 (normal): LEB128 byte length · big-endian i32 words, six 5-bit registers per word
//!                    (register j in word j/6 at bit 5·(j mod 6))
//! format 1 (sparse): LEB128 entry count · LEB128 deltas of the sorted encoded entries
//! ```
//!
//! Sparse estimates are linear counting at precision sp, exactly as stream-lib computes them.
//! Normal estimates use the HyperLogLog raw estimate with linear counting below the p = 13
//! threshold (6500); stream-lib additionally subtracts an empirical bias for raw estimates up
//! to 5·m, so in that band (about 6 000 to 40 000 keys) Cairn's figure can differ from
//! `sstablemetadata`'s by the bias, a few percent at most.

use crate::codec::Cursor;

fn leb128(c: &mut Cursor<'_>) -> Option<u32> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = c.u8().ok()?;
        v |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Estimated distinct count from serialized HyperLogLogPlus bytes; `None` when unreadable.
pub fn cardinality(bytes: &[u8]) -> Option<u64> {
    let mut c = Cursor::new(bytes);
    if c.i32().ok()? != -2 {
        return None;
    }
    let p = leb128(&mut c)?;
    let sp = leb128(&mut c)?;
    let format = leb128(&mut c)?;
    if !(4..=18).contains(&p) || sp > 32 || sp < p {
        return None;
    }
    match format {
        1 => {
            let n = f64::from(leb128(&mut c)?);
            if n == 0.0 {
                return Some(0);
            }
            let m = (1u64 << sp) as f64;
            if n >= m {
                return None;
            }
            Some((m * (m / (m - n)).ln()).round() as u64)
        }
        0 => {
            let len = leb128(&mut c)? as usize;
            let words = c.bytes(len).ok()?;
            let m = 1usize << p;
            let mut z = 0f64;
            let mut zeros = 0usize;
            for j in 0..m {
                let w = words.get((j / 6) * 4..(j / 6) * 4 + 4)?;
                let word = u32::from_be_bytes(w.try_into().ok()?);
                let reg = (word >> (5 * (j % 6))) & 0x1f;
                if reg == 0 {
                    zeros += 1;
                }
                z += 1.0 / f64::from(1u32 << reg);
            }
            let mf = m as f64;
            let alpha_mm = 0.7213 / (1.0 + 1.079 / mf) * mf * mf;
            let e = alpha_mm / z;
            let h = if zeros > 0 { mf * (mf / zeros as f64).ln() } else { e };
            const THRESHOLDS: [f64; 15] = [
                10.0, 20.0, 40.0, 80.0, 220.0, 400.0, 900.0, 1800.0, 3100.0, 6500.0, 15500.0, 20000.0, 50000.0,
                120000.0, 350000.0,
            ];
            let threshold = THRESHOLDS.get(p as usize - 4).copied().unwrap_or(6500.0);
            Some(if h < threshold { h.round() as u64 } else { e.round() as u64 })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sparse_estimator() {
        assert_eq!(cardinality(&[0xff, 0xff, 0xff, 0xfe, 0x0d, 0x19, 0x01, 0x00]), Some(0));
        assert_eq!(cardinality(&[0xff, 0xff, 0xff, 0xfe, 0x0d, 0x19, 0x01, 0x0a]), Some(10));
        assert_eq!(cardinality(&[1, 2, 3]), None);
    }
}
