//! Primitive encodings: big-endian fixed widths and Cassandra's variable-length integers.
//!
//! ```text
//! unsigned vint (VIntCoding, Cassandra 3.0+)
//!   first byte: n leading 1-bits = n extra bytes (0..=8), the rest are the top value bits
//!   0xxxxxxx                      0 ..= 127
//!   10xxxxxx xxxxxxxx             up to 2^14 - 1
//!   110xxxxx xxxxxxxx xxxxxxxx    up to 2^21 - 1
//!   ...
//!   11111111 + 8 bytes            any u64
//! signed vint = zigzag(value) as unsigned vint
//! ```
//!
//! [`Cursor`] reads these from a byte slice and reports every shortfall as a
//! [`DecodeErrorKind::Truncated`] at the exact offset; it never panics.

use crate::error::{DecodeError, DecodeErrorKind};

/// Number of bytes `value` takes as an unsigned vint.
pub fn uvint_size(value: u64) -> usize {
    // 1 byte carries 7 bits, every extra byte 8 more minus the length bit it steals; a 9-byte
    // vint carries all 64.
    let bits = 64 - (value | 1).leading_zeros() as usize;
    if bits > 56 { 9 } else { (bits - 1) / 7 + 1 }
}

/// Append `value` as an unsigned vint.
#[inline]
pub fn write_uvint(out: &mut Vec<u8>, value: u64) {
    if value < 0x80 {
        out.push(value as u8);
    } else {
        write_uvint_long(out, value);
    }
}

/// The most bytes an unsigned vint takes: a length byte of all ones and eight value bytes.
pub const MAX_UVINT_SIZE: usize = 9;

/// `value` as an unsigned vint in the first `size` of 16 bytes, and `size` (the rest are zero).
///
/// The one place the vint's byte layout is built for writing: the value's `size` low bytes,
/// big-endian, with the length bits (a run of `size - 1` ones) over the top of the first. The
/// 16-byte form lets a writer copy it whole, a fixed-width copy with no length to branch on,
/// and then count only `size` of it.
#[inline]
pub fn encode_uvint(value: u64) -> ([u8; 16], usize) {
    let size = uvint_size(value);
    let length_bits = (0xFF00u16 >> (size - 1)) as u8;
    let bytes = (u128::from(value) << (128 - 8 * size)) | (u128::from(length_bits) << 120);
    (bytes.to_be_bytes(), size)
}

/// Append a value's bytes; the commonest fixed widths (int, float, bigint, double, timestamp)
/// as one fixed-size copy instead of a call to copy a slice of any length.
#[inline(always)]
pub fn append_value(out: &mut Vec<u8>, value: &[u8]) {
    if let Ok(v) = <[u8; 8]>::try_from(value) {
        out.extend_from_slice(&v);
    } else if let Ok(v) = <[u8; 4]>::try_from(value) {
        out.extend_from_slice(&v);
    } else {
        out.extend_from_slice(value);
    }
}

/// [`write_uvint`] of a value that takes two bytes or more: [`encode_uvint`] appended in one
/// fixed-width copy, then the unused tail cut off.
fn write_uvint_long(out: &mut Vec<u8>, value: u64) {
    let (bytes, size) = encode_uvint(value);
    let end = out.len() + size;
    out.extend_from_slice(&bytes);
    out.truncate(end);
}

/// Append `value` as a signed (zigzag) vint.
pub fn write_svint(out: &mut Vec<u8>, value: i64) {
    write_uvint(out, zigzag(value));
}

/// Zigzag-encode a signed value.
pub fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Undo [`zigzag`].
pub fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// A position-tracking reader over a byte slice.
///
/// Offsets it reports are `base + position`, so a parser given a slice taken from the middle of
/// a file can still report absolute positions.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`, reporting offsets from 0.
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0, base: 0 }
    }

    /// A cursor at the start of `buf`, reporting offsets from `base`.
    pub fn with_base(buf: &'a [u8], base: u64) -> Self {
        Cursor { buf, pos: 0, base }
    }

    /// Absolute offset of the next byte.
    #[inline]
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Position relative to the start of the slice.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// An error of `kind` at the current offset.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(self.offset(), kind)
    }

    /// An error of `kind` at `offset` (absolute).
    pub fn error_at(&self, offset: u64, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(offset, kind)
    }

    #[cold]
    fn truncated(&self, needed: usize) -> DecodeError {
        self.error(DecodeErrorKind::Truncated { needed: needed as u64, available: self.remaining() as u64 })
    }

    /// Read `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated(n))?;
        let out = self.buf.get(self.pos..end).ok_or_else(|| self.truncated(n))?;
        self.pos = end;
        Ok(out)
    }

    /// Skip `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.bytes(n).map(|_| ())
    }

    /// Read a fixed-size array.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Read one byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| self.truncated(1))?;
        self.pos += 1;
        Ok(b)
    }

    /// Look at the next byte without consuming it.
    pub fn peek_u8(&self) -> Result<u8, DecodeError> {
        self.buf.get(self.pos).copied().ok_or_else(|| self.truncated(1))
    }

    /// Read a boolean byte (non-zero is true).
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.u8()? != 0)
    }

    /// Big-endian u16.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Big-endian i16.
    pub fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    /// Big-endian i32.
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Big-endian i64.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// Little-endian i32 (Summary.db offsets).
    pub fn i32_le(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    /// Little-endian i64 (Summary.db positions).
    pub fn i64_le(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Big-endian IEEE-754 double.
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    /// A non-negative i32 count or length, checked against `limit`.
    pub fn len_i32(&mut self, what: &'static str, limit: usize) -> Result<usize, DecodeError> {
        let at = self.offset();
        let v = self.i32()?;
        check_len(at, what, i64::from(v), limit)
    }

    /// Unsigned vint.
    #[inline]
    pub fn uvint(&mut self) -> Result<u64, DecodeError> {
        // One byte, the common case, inline; so is a longer one with its first byte and eight
        // more in reach (one big-endian load, as in `uvint_long`); the rest out of line.
        if let Some(&first) = self.buf.get(self.pos) {
            if first < 0x80 {
                self.pos += 1;
                return Ok(u64::from(first));
            }
            if let Some(&window) = self.buf.get(self.pos + 1..).and_then(|rest| rest.first_chunk::<8>()) {
                let extra = first.leading_ones();
                let high = u64::from(first & 0xFFu8.checked_shr(extra).unwrap_or(0));
                let low = u64::from_be_bytes(window).checked_shr(8 * (8 - extra)).unwrap_or(0);
                self.pos += 1 + extra as usize;
                return Ok(high.checked_shl(8 * extra).unwrap_or(0) | low);
            }
        }
        self.uvint_long()
    }

    #[inline(never)]
    fn uvint_long(&mut self) -> Result<u64, DecodeError> {
        let first = self.u8()?;
        if first < 0x80 {
            return Ok(u64::from(first));
        }
        let extra = first.leading_ones() as usize;
        let high = u64::from(first & (0xFFu8.checked_shr(extra as u32).unwrap_or(0)));
        // With eight bytes in reach, the `extra` bytes are the top of one big-endian load.
        if let Some(&window) = self.buf.get(self.pos..).and_then(|rest| rest.first_chunk::<8>()) {
            let low = u64::from_be_bytes(window).checked_shr(8 * (8 - extra as u32)).unwrap_or(0);
            self.pos += extra;
            return Ok(high.checked_shl(8 * extra as u32).unwrap_or(0) | low);
        }
        let mut value = high;
        let rest = self.bytes(extra).map_err(|e| {
            // Report the truncation at the start of the vint.
            DecodeError::new(e.offset.saturating_sub(1), e.kind)
        })?;
        for &b in rest {
            value = (value << 8) | u64::from(b);
        }
        Ok(value)
    }

    /// Signed (zigzag) vint.
    pub fn svint(&mut self) -> Result<i64, DecodeError> {
        Ok(unzigzag(self.uvint()?))
    }

    /// An unsigned vint used as a length, checked against the bytes left and `limit`.
    #[inline]
    pub fn uvint_len(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let at = self.offset();
        let v = self.uvint()?;
        let limit = self.remaining();
        if v > limit as u64 {
            return Err(DecodeError::new(
                at,
                DecodeErrorKind::LengthOutOfRange { what, length: v, limit: limit as u64 },
            ));
        }
        Ok(v as usize)
    }

    /// An unsigned vint used as a count of items that each take at least one byte.
    pub fn uvint_count(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        self.uvint_len(what)
    }

    /// Bytes prefixed by an unsigned vint length.
    #[inline]
    pub fn uvint_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.uvint_len(what)?;
        self.bytes(n)
    }

    /// Bytes prefixed by a big-endian u16 length.
    pub fn u16_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u16()? as usize;
        self.bytes(n)
    }

    /// Java `writeUTF` string: u16 length + (modified) UTF-8.
    pub fn utf(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let at = self.offset();
        let b = self.u16_bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError::new(at, DecodeErrorKind::InvalidUtf8 { what }))
    }
}

/// Check a length read at `at` against `limit`.
pub fn check_len(at: u64, what: &'static str, value: i64, limit: usize) -> Result<usize, DecodeError> {
    if value < 0 {
        return Err(DecodeError::new(at, DecodeErrorKind::InvalidValue { what, value }));
    }
    if value as u64 > limit as u64 {
        return Err(DecodeError::new(
            at,
            DecodeErrorKind::LengthOutOfRange { what, length: value as u64, limit: limit as u64 },
        ));
    }
    Ok(value as usize)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_uvint(&mut out, v);
        out
    }

    #[test]
    fn uvint_exact_bytes() {
        // Values and encodings from Cassandra's VIntCoding rules.
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(127), [0x7F]);
        assert_eq!(enc(128), [0x80, 0x80]);
        assert_eq!(enc(255), [0x80, 0xFF]);
        assert_eq!(enc(16383), [0xBF, 0xFF]);
        assert_eq!(enc(16384), [0xC0, 0x40, 0x00]);
        assert_eq!(enc((1 << 56) - 1), [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(enc(1 << 56), [0xFF, 0x01, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc(u64::MAX), [0xFF; 9]);
    }

    #[test]
    fn svint_exact_bytes() {
        let mut out = Vec::new();
        write_svint(&mut out, -1);
        write_svint(&mut out, 1);
        write_svint(&mut out, -65536);
        assert_eq!(out, [0x01, 0x02, 0xC1, 0xFF, 0xFF]);
    }

    #[test]
    fn truncated_vint_is_located() {
        let mut c = Cursor::with_base(&[0x00, 0xC0, 0x01], 100);
        c.u8().unwrap();
        let e = c.uvint().unwrap_err();
        assert_eq!(e.offset, 101);
        assert!(matches!(e.kind, DecodeErrorKind::Truncated { needed: 2, available: 1 }));
    }

    #[test]
    fn oversized_length_is_rejected_before_allocation() {
        let mut c = Cursor::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(c.uvint_len("x").unwrap_err().kind, DecodeErrorKind::LengthOutOfRange { .. }));
    }

    proptest! {
        #[test]
        fn uvint_round_trip(v: u64) {
            let b = enc(v);
            prop_assert_eq!(b.len(), uvint_size(v));
            let mut c = Cursor::new(&b);
            prop_assert_eq!(c.uvint().unwrap(), v);
            prop_assert!(c.is_empty());
        }

        #[test]
        fn uvint_bytes_are_cassandras(v: u64, shift in 0u32..64, after: u8) {
            // Every length: the bytes Cassandra's VIntCoding.writeUnsignedVInt writes (a run of
            // one bits as long as the extra bytes, then the value big-endian), appended after
            // what the buffer already holds.
            let v = v >> shift;
            let size = uvint_size(v);
            let mut expected = vec![after];
            if size == 9 {
                expected.push(0xFF);
                expected.extend_from_slice(&v.to_be_bytes());
            } else {
                let be = v.to_be_bytes();
                let tail = &be[8 - size..];
                expected.push(tail[0] | !(0xFFu8 >> (size - 1)));
                expected.extend_from_slice(&tail[1..]);
            }
            let mut b = vec![after];
            write_uvint(&mut b, v);
            prop_assert_eq!(b, expected);
        }

        #[test]
        fn uvint_round_trip_with_bytes_after(v: u64, after: [u8; 9]) {
            // Eight bytes in reach take the one-load path; the bytes after must not leak in.
            let mut b = enc(v);
            let len = b.len();
            b.extend_from_slice(&after);
            let mut c = Cursor::new(&b);
            prop_assert_eq!(c.uvint().unwrap(), v);
            prop_assert_eq!(c.position(), len);
        }

        #[test]
        fn svint_round_trip(v: i64) {
            let mut b = Vec::new();
            write_svint(&mut b, v);
            let mut c = Cursor::new(&b);
            prop_assert_eq!(c.svint().unwrap(), v);
        }
    }
}
