//! Clustering values: the blocks of up to 32 values with a 2-bit-per-value header.
//!
//! ```text
//! per group of 32 values:  uvint header   bit 2i   = value i is empty
//!                                         bit 2i+1 = value i is null (absent)
//!                          then each value that is neither: fixed-width types raw,
//!                          others uvint length + bytes
//! ```
//!
//! Rows carry one value per clustering column; bounds (range-tombstone markers, index blocks,
//! Statistics min/max in `oa`) carry a prefix with its own u16 size. Source: Cassandra
//! `db/ClusteringPrefix.java` (`Serializer.deserializeValuesWithoutSize`, `makeHeader`).

use crate::codec::Cursor;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::types::CqlType;

/// Kinds of clustering prefixes (ordinal on disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoundKind {
    /// 0: exclusive end bound.
    ExclEndBound,
    /// 1: inclusive start bound.
    InclStartBound,
    /// 2: boundary closing exclusively and opening inclusively.
    ExclEndInclStartBoundary,
    /// 3: the static clustering.
    StaticClustering,
    /// 4: a row's clustering.
    Clustering,
    /// 5: boundary closing inclusively and opening exclusively.
    InclEndExclStartBoundary,
    /// 6: inclusive end bound.
    InclEndBound,
    /// 7: exclusive start bound.
    ExclStartBound,
}

impl BoundKind {
    /// The range-tombstone marker at a position where the deletion in force changes from open
    /// (`was_open`) or not to open (`now_open`) or not; `before` is true when the position sorts
    /// just before the clustering prefix it names (an inclusive start, an exclusive end), false
    /// when just after. Called only where something changes.
    pub fn transition(was_open: bool, now_open: bool, before: bool) -> BoundKind {
        match (was_open, now_open, before) {
            (false, _, true) => BoundKind::InclStartBound,
            (false, _, false) => BoundKind::ExclStartBound,
            (true, false, true) => BoundKind::ExclEndBound,
            (true, false, false) => BoundKind::InclEndBound,
            (true, true, true) => BoundKind::ExclEndInclStartBoundary,
            (true, true, false) => BoundKind::InclEndExclStartBoundary,
        }
    }

    /// From the ordinal byte.
    pub fn from_ordinal(b: u8) -> Option<BoundKind> {
        Some(match b {
            0 => BoundKind::ExclEndBound,
            1 => BoundKind::InclStartBound,
            2 => BoundKind::ExclEndInclStartBoundary,
            3 => BoundKind::StaticClustering,
            4 => BoundKind::Clustering,
            5 => BoundKind::InclEndExclStartBoundary,
            6 => BoundKind::InclEndBound,
            7 => BoundKind::ExclStartBound,
            _ => return None,
        })
    }

    /// The ordinal byte.
    pub fn ordinal(self) -> u8 {
        match self {
            BoundKind::ExclEndBound => 0,
            BoundKind::InclStartBound => 1,
            BoundKind::ExclEndInclStartBoundary => 2,
            BoundKind::StaticClustering => 3,
            BoundKind::Clustering => 4,
            BoundKind::InclEndExclStartBoundary => 5,
            BoundKind::InclEndBound => 6,
            BoundKind::ExclStartBound => 7,
        }
    }

    /// Whether this is a boundary (closes one range tombstone and opens another).
    pub fn is_boundary(self) -> bool {
        matches!(self, BoundKind::ExclEndInclStartBoundary | BoundKind::InclEndExclStartBoundary)
    }

    /// Whether this opens a range tombstone (start bound or boundary).
    pub fn is_open(self) -> bool {
        matches!(self, BoundKind::InclStartBound | BoundKind::ExclStartBound) || self.is_boundary()
    }

    /// Whether this closes a range tombstone (end bound or boundary).
    pub fn is_close(self) -> bool {
        matches!(self, BoundKind::InclEndBound | BoundKind::ExclEndBound) || self.is_boundary()
    }

    /// Whether a range-tombstone marker may carry this kind.
    pub fn is_marker_kind(self) -> bool {
        !matches!(self, BoundKind::StaticClustering | BoundKind::Clustering)
    }

    /// For a start side: inclusive? For an end side: inclusive? (Boundaries: `(end, start)`.)
    pub fn inclusivity(self) -> (bool, bool) {
        match self {
            BoundKind::ExclEndBound => (false, false),
            BoundKind::InclStartBound => (false, true),
            BoundKind::ExclEndInclStartBoundary => (false, true),
            BoundKind::InclEndExclStartBoundary => (true, false),
            BoundKind::InclEndBound => (true, false),
            BoundKind::ExclStartBound => (false, false),
            BoundKind::StaticClustering | BoundKind::Clustering => (true, true),
        }
    }
}

/// Read `count` clustering values with `types`, calling `f(index, value)` for each; `None` is a
/// null value, `Some(&[])` an empty one.
pub fn read_values<'a>(
    c: &mut Cursor<'a>,
    types: &[CqlType],
    count: usize,
    f: impl FnMut(usize, Option<&'a [u8]>),
) -> Result<(), DecodeError> {
    read_prefix(c, types.len(), count, |i| types.get(i).and_then(CqlType::fixed_length), f)
}

/// [`read_values`] with each type's fixed width worked out beforehand (`fixed[i]` is
/// `types[i].fixed_length()`), for readers that parse many prefixes of one header.
#[inline]
pub fn read_values_fixed<'a>(
    c: &mut Cursor<'a>,
    fixed: &[Option<usize>],
    count: usize,
    f: impl FnMut(usize, Option<&'a [u8]>),
) -> Result<(), DecodeError> {
    read_prefix(c, fixed.len(), count, |i| fixed.get(i).copied().flatten(), f)
}

/// A clustering prefix of `count` values out of `columns`: per 32 values a header of two bits
/// each (null, empty), then each other value, `width(i)` bytes when its type has a fixed width,
/// else length-prefixed.
#[inline]
fn read_prefix<'a>(
    c: &mut Cursor<'a>,
    columns: usize,
    count: usize,
    width: impl Fn(usize) -> Option<usize>,
    mut f: impl FnMut(usize, Option<&'a [u8]>),
) -> Result<(), DecodeError> {
    if count > columns {
        return Err(c.error(DecodeErrorKind::LengthOutOfRange {
            what: "clustering prefix size",
            length: count as u64,
            limit: columns as u64,
        }));
    }
    let mut i = 0;
    while i < count {
        let header = c.uvint()?;
        let limit = count.min(i + 32);
        while i < limit {
            let shift = (i % 32) * 2;
            if header & (1u64 << (shift + 1)) != 0 {
                f(i, None);
            } else if header & (1u64 << shift) != 0 {
                f(i, Some(&[]));
            } else {
                let v = match width(i) {
                    Some(n) => c.bytes(n)?,
                    None => c.uvint_bytes("clustering value length")?,
                };
                f(i, Some(v));
            }
            i += 1;
        }
    }
    Ok(())
}

/// Read `count` values into owned buffers.
pub fn read_owned(c: &mut Cursor<'_>, types: &[CqlType], count: usize) -> Result<Vec<Option<Vec<u8>>>, DecodeError> {
    let mut out = Vec::with_capacity(count);
    read_values(c, types, count, |_, v| out.push(v.map(<[u8]>::to_vec)))?;
    Ok(out)
}

/// A clustering prefix with its kind, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusteringBound {
    /// Kind of the prefix.
    pub kind: BoundKind,
    /// Values (`None` = null).
    pub values: Vec<Option<Vec<u8>>>,
}

impl ClusteringBound {
    /// Read a bound as serialized in index blocks and Statistics (`oa`): kind byte; for rows
    /// (kind 4) the full clustering, otherwise a u16 size then that many values.
    pub fn read(c: &mut Cursor<'_>, types: &[CqlType]) -> Result<ClusteringBound, DecodeError> {
        let at = c.offset();
        let k = c.u8()?;
        let kind = BoundKind::from_ordinal(k).ok_or_else(|| {
            DecodeError::new(at, DecodeErrorKind::InvalidValue { what: "clustering kind", value: i64::from(k) })
        })?;
        let count = if kind == BoundKind::Clustering { types.len() } else { c.u16()? as usize };
        let values = read_owned(c, types, count)?;
        Ok(ClusteringBound { kind, values })
    }
}

/// Append clustering values in the block encoding.
pub fn write_values(out: &mut Vec<u8>, types: &[CqlType], values: &[Option<&[u8]>]) {
    write_values_by(out, values, |v| *v, |i| types.get(i).unwrap_or(&CqlType::Blob).fixed_length().is_none());
}

/// The block encoding itself, over any representation of the values: `value` gives a value's
/// bytes (`None`: null), `has_length(i)` whether value `i` is written after its length (its type
/// has no fixed one). Blocks of up to 32 values, each led by a vint of two bits per value (null,
/// empty), then the values neither null nor empty (Cassandra `ClusteringPrefix.Serializer`).
/// [`write_values`] and the row writer both write through it.
#[inline(always)]
pub fn write_values_by<'v, A>(
    out: &mut Vec<u8>,
    values: &[A],
    value: impl Fn(&A) -> Option<&'v [u8]>,
    has_length: impl Fn(usize) -> bool,
) {
    for (g, group) in values.chunks(32).enumerate() {
        let mut header = 0u64;
        for (i, v) in group.iter().enumerate() {
            match value(v) {
                None => header |= 1 << (i * 2 + 1),
                Some([]) => header |= 1 << (i * 2),
                Some(_) => {}
            }
        }
        crate::codec::write_uvint(out, header);
        for (i, v) in group.iter().enumerate() {
            if let Some(b) = value(v)
                && !b.is_empty()
            {
                if has_length(g * 32 + i) {
                    crate::codec::write_uvint(out, b.len() as u64);
                }
                crate::codec::append_value(out, b);
            }
        }
    }
}

impl ClusteringBound {
    /// Serialize as index blocks and `oa` Statistics store it (the inverse of [`Self::read`]).
    pub fn write(&self, out: &mut Vec<u8>, types: &[CqlType]) {
        out.push(self.kind.ordinal());
        if self.kind != BoundKind::Clustering {
            out.extend_from_slice(&(self.values.len() as u16).to_be_bytes());
        }
        let vals: Vec<Option<&[u8]>> = self.values.iter().map(|v| v.as_deref()).collect();
        write_values(out, types, &vals);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_nulls_and_empties() {
        let types = vec![CqlType::Int, CqlType::Text, CqlType::Text, CqlType::Int];
        let one = 1i32.to_be_bytes();
        let values: Vec<Option<&[u8]>> = vec![Some(&one), Some(b"ab"), Some(b""), None];
        let mut out = Vec::new();
        write_values(&mut out, &types, &values);
        // header: value 2 empty (bit 4), value 3 null (bit 7) = 0x90 -> 2-byte vint.
        assert_eq!(out, [0x80, 0x90, 0, 0, 0, 1, 2, b'a', b'b']);
        let mut c = Cursor::new(&out);
        let got = read_owned(&mut c, &types, 4).unwrap();
        assert_eq!(got, vec![Some(one.to_vec()), Some(b"ab".to_vec()), Some(vec![]), None]);
        assert!(c.is_empty());
    }

    #[test]
    fn forty_values_use_two_headers() {
        let types = vec![CqlType::Int; 40];
        let b = 7i32.to_be_bytes();
        let values: Vec<Option<&[u8]>> = vec![Some(&b); 40];
        let mut out = Vec::new();
        write_values(&mut out, &types, &values);
        assert_eq!(out.len(), 2 + 160);
        let mut c = Cursor::new(&out);
        assert_eq!(read_owned(&mut c, &types, 40).unwrap().len(), 40);
    }
}
