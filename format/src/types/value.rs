//! Decoding serialized values into [`Value`]s.
//!
//! Encodings (native protocol v4 value encodings, which Cassandra also uses on disk):
//!
//! ```text
//! int/bigint/smallint/tinyint   big-endian two's complement, 4/8/2/1 bytes
//! float/double                  IEEE-754 big-endian
//! boolean                       1 byte, non-zero = true
//! timestamp                     i64 milliseconds since the epoch
//! date                          u32 days, 2^31 = 1970-01-01
//! time                          i64 nanoseconds since midnight
//! uuid/timeuuid                 16 bytes
//! varint                        minimal big-endian two's complement
//! decimal                       i32 scale, then varint unscaled value
//! duration                      svint months, svint days, svint nanoseconds
//! inet                          4 or 16 address bytes
//! frozen list/set               i32 n, then n x (i32 length, bytes)
//! frozen map                    i32 n, then n x (key, value), each i32-length-prefixed
//! tuple/frozen UDT              per field: i32 length (-1 = null), bytes; trailing fields may be absent
//! vector<T, n>                  n elements; fixed-size T raw, others uvint-length-prefixed
//! counter                       counter context: i16 header count, header, 32-byte shards
//! ```
//!
//! Values nested inside collections, tuples and UDTs always use the frozen encoding.

use crate::codec::Cursor;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::types::CqlType;

/// A decoded value, borrowing variable-length data from the bytes it was decoded from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A null element (tuple or UDT field set to null).
    Null,
    /// A zero-length value of a type whose values are normally non-empty.
    Empty,
    /// `ascii`.
    Ascii(&'a str),
    /// `text`.
    Text(&'a str),
    /// `bigint`.
    BigInt(i64),
    /// `blob` (also unknown custom types).
    Blob(&'a [u8]),
    /// `boolean`.
    Boolean(bool),
    /// `counter`: the total of all shards.
    Counter(i64),
    /// `date`: days with 2^31 = 1970-01-01.
    Date(u32),
    /// `decimal`.
    Decimal {
        /// Scale (digits after the point).
        scale: i32,
        /// Unscaled value, big-endian two's complement.
        unscaled: &'a [u8],
    },
    /// `double`.
    Double(f64),
    /// `duration`.
    Duration {
        /// Months.
        months: i32,
        /// Days.
        days: i32,
        /// Nanoseconds.
        nanos: i64,
    },
    /// `float`.
    Float(f32),
    /// `inet` (4 or 16 bytes).
    Inet(&'a [u8]),
    /// `int`.
    Int(i32),
    /// `smallint`.
    SmallInt(i16),
    /// `time`: nanoseconds since midnight.
    Time(i64),
    /// `timestamp`: milliseconds since the epoch.
    Timestamp(i64),
    /// `timeuuid`.
    TimeUuid([u8; 16]),
    /// `tinyint`.
    TinyInt(i8),
    /// `uuid`.
    Uuid([u8; 16]),
    /// `varint`, big-endian two's complement.
    Varint(&'a [u8]),
    /// `list`.
    List(Vec<Value<'a>>),
    /// `set`.
    Set(Vec<Value<'a>>),
    /// `map`.
    Map(Vec<(Value<'a>, Value<'a>)>),
    /// `tuple`, positional.
    Tuple(Vec<Value<'a>>),
    /// UDT fields, positional (names come from the type); absent trailing fields are null.
    Udt(Vec<Value<'a>>),
    /// `vector`.
    Vector(Vec<Value<'a>>),
    /// A multi-column partition key.
    Composite(Vec<Value<'a>>),
}

fn invalid(what: &'static str, value: i64) -> DecodeError {
    DecodeError::new(0, DecodeErrorKind::InvalidValue { what, value })
}

fn exact<const N: usize>(b: &[u8], what: &'static str) -> Result<[u8; N], DecodeError> {
    <[u8; N]>::try_from(b).map_err(|_| invalid(what, b.len() as i64))
}

/// Decode one serialized value of type `ty`.
pub fn decode<'a>(ty: &CqlType, b: &'a [u8]) -> Result<Value<'a>, DecodeError> {
    if b.is_empty()
        && !matches!(
            ty.unreversed(),
            CqlType::Ascii | CqlType::Text | CqlType::Blob | CqlType::Empty | CqlType::Custom(_)
        )
    {
        return Ok(Value::Empty);
    }
    Ok(match ty.unreversed() {
        CqlType::Ascii => {
            if !b.is_ascii() {
                return Err(DecodeError::new(0, DecodeErrorKind::InvalidUtf8 { what: "ascii value" }));
            }
            Value::Ascii(
                std::str::from_utf8(b)
                    .map_err(|_| DecodeError::new(0, DecodeErrorKind::InvalidUtf8 { what: "ascii value" }))?,
            )
        }
        CqlType::Text => Value::Text(
            std::str::from_utf8(b)
                .map_err(|_| DecodeError::new(0, DecodeErrorKind::InvalidUtf8 { what: "text value" }))?,
        ),
        CqlType::Blob | CqlType::Custom(_) | CqlType::Empty => Value::Blob(b),
        CqlType::BigInt => Value::BigInt(i64::from_be_bytes(exact(b, "bigint length")?)),
        CqlType::Boolean => Value::Boolean(exact::<1>(b, "boolean length")? != [0]),
        CqlType::Counter => Value::Counter(counter_total(b)?),
        CqlType::Date => Value::Date(u32::from_be_bytes(exact(b, "date length")?)),
        CqlType::Decimal => {
            let mut c = Cursor::new(b);
            let scale = c.i32()?;
            let unscaled = c.rest();
            if unscaled.is_empty() {
                return Err(invalid("decimal unscaled length", 0));
            }
            Value::Decimal { scale, unscaled }
        }
        CqlType::Double => Value::Double(f64::from_be_bytes(exact(b, "double length")?)),
        CqlType::Duration => {
            let mut c = Cursor::new(b);
            let months = c.svint()?;
            let days = c.svint()?;
            let nanos = c.svint()?;
            let months = i32::try_from(months).map_err(|_| invalid("duration months", months))?;
            let days = i32::try_from(days).map_err(|_| invalid("duration days", days))?;
            if !c.is_empty() {
                return Err(c.error(DecodeErrorKind::InvalidValue {
                    what: "duration trailing bytes",
                    value: c.remaining() as i64,
                }));
            }
            Value::Duration { months, days, nanos }
        }
        CqlType::Float => Value::Float(f32::from_be_bytes(exact(b, "float length")?)),
        CqlType::Inet => {
            if b.len() != 4 && b.len() != 16 {
                return Err(invalid("inet length", b.len() as i64));
            }
            Value::Inet(b)
        }
        CqlType::Int => Value::Int(i32::from_be_bytes(exact(b, "int length")?)),
        CqlType::SmallInt => Value::SmallInt(i16::from_be_bytes(exact(b, "smallint length")?)),
        CqlType::Time => {
            let t = i64::from_be_bytes(exact(b, "time length")?);
            if !(0..86_400_000_000_000).contains(&t) {
                return Err(invalid("time of day (ns)", t));
            }
            Value::Time(t)
        }
        CqlType::Timestamp => Value::Timestamp(i64::from_be_bytes(exact(b, "timestamp length")?)),
        CqlType::TimeUuid => Value::TimeUuid(exact(b, "timeuuid length")?),
        CqlType::Uuid | CqlType::LexicalUuid => Value::Uuid(exact(b, "uuid length")?),
        CqlType::TinyInt => Value::TinyInt(i8::from_be_bytes(exact(b, "tinyint length")?)),
        CqlType::Varint => Value::Varint(b),
        CqlType::List { elem, .. } => Value::List(decode_elements(elem, b)?),
        CqlType::Set { elem, .. } => Value::Set(decode_elements(elem, b)?),
        CqlType::Map { key, value, .. } => {
            let mut c = Cursor::new(b);
            let n = c.len_i32("map size", b.len() / 8)?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let k = element(&mut c, key)?;
                let v = element(&mut c, value)?;
                out.push((k, v));
            }
            trailing(&c)?;
            Value::Map(out)
        }
        CqlType::Tuple(types) => Value::Tuple(decode_fields(types.iter(), b)?),
        CqlType::Udt(u) => Value::Udt(decode_fields(u.fields.iter().map(|(_, t)| t), b)?),
        CqlType::Vector { elem, dimension } => {
            let mut c = Cursor::new(b);
            let mut out = Vec::with_capacity((*dimension as usize).min(b.len()));
            for _ in 0..*dimension {
                let v = match elem.fixed_length() {
                    Some(n) => c.bytes(n)?,
                    None => c.uvint_bytes("vector element length")?,
                };
                out.push(decode(elem, v).map_err(|e| shift(e, &c, v.len()))?);
            }
            trailing(&c)?;
            Value::Vector(out)
        }
        CqlType::Composite(types) => Value::Composite(decode_composite(types, b)?),
        CqlType::Reversed(_) => return Err(invalid("nested reversed type", 0)),
    })
}

fn shift(e: DecodeError, c: &Cursor<'_>, len: usize) -> DecodeError {
    DecodeError::new(e.offset + c.offset() - len as u64, e.kind)
}

fn trailing(c: &Cursor<'_>) -> Result<(), DecodeError> {
    if c.is_empty() {
        Ok(())
    } else {
        Err(c.error(DecodeErrorKind::InvalidValue {
            what: "trailing bytes after collection",
            value: c.remaining() as i64,
        }))
    }
}

fn element<'a>(c: &mut Cursor<'a>, ty: &CqlType) -> Result<Value<'a>, DecodeError> {
    let at = c.offset();
    let len = c.i32()?;
    if len < 0 {
        return Ok(Value::Null);
    }
    let remaining = c.remaining();
    let b = c.bytes(crate::codec::check_len(at, "element length", i64::from(len), remaining)?)?;
    decode(ty, b).map_err(|e| DecodeError::new(e.offset + at + 4, e.kind))
}

fn decode_elements<'a>(ty: &CqlType, b: &'a [u8]) -> Result<Vec<Value<'a>>, DecodeError> {
    let mut c = Cursor::new(b);
    let n = c.len_i32("collection size", b.len() / 4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(element(&mut c, ty)?);
    }
    trailing(&c)?;
    Ok(out)
}

fn decode_fields<'a, 't>(types: impl Iterator<Item = &'t CqlType>, b: &'a [u8]) -> Result<Vec<Value<'a>>, DecodeError> {
    let mut c = Cursor::new(b);
    let mut out = Vec::new();
    for t in types {
        if c.is_empty() {
            out.push(Value::Null);
            continue;
        }
        out.push(element(&mut c, t)?);
    }
    trailing(&c)?;
    Ok(out)
}

/// The field index a non-frozen UDT cell's path names (a big-endian `short`, per Cassandra's
/// `UserType.fieldNameAsString`/`CellPath` use), or `None` when the path is not two bytes.
pub fn udt_field_index(path: &[u8]) -> Option<usize> {
    <[u8; 2]>::try_from(path).ok().map(|b| u16::from_be_bytes(b) as usize)
}

/// The CQL value of a multi-cell (non-frozen) column from its live cells `(path, value)`, in the
/// order given: a set's elements are the paths, a list's the values (its paths are timeuuids), a
/// map's entries are `(path, value)`, and a UDT's fields are placed by [`udt_field_index`] (fields
/// without a cell are null). Any other type is not multi-cell and gives [`Value::Null`].
pub fn from_cells<'a>(
    ty: &CqlType,
    cells: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Value<'a>, DecodeError> {
    let cells = cells.into_iter();
    Ok(match ty.unreversed() {
        CqlType::Set { elem, .. } => Value::Set(cells.map(|(p, _)| decode(elem, p)).collect::<Result<_, _>>()?),
        CqlType::List { elem, .. } => Value::List(cells.map(|(_, v)| decode(elem, v)).collect::<Result<_, _>>()?),
        CqlType::Map { key, value, .. } => Value::Map(
            cells.map(|(p, v)| Ok((decode(key, p)?, decode(value, v)?))).collect::<Result<_, DecodeError>>()?,
        ),
        CqlType::Udt(u) => {
            let mut fields = vec![Value::Null; u.fields.len()];
            for (p, v) in cells {
                let index = udt_field_index(p);
                match (index.and_then(|i| fields.get_mut(i)), index.and_then(|i| u.fields.get(i))) {
                    (Some(slot), Some((_, t))) => *slot = decode(t, v)?,
                    _ => return Err(invalid("UDT field index", index.map_or(-1, |i| i as i64))),
                }
            }
            Value::Udt(fields)
        }
        _ => Value::Null,
    })
}

/// Split CompositeType bytes (u16 length, bytes, end-of-component byte per component).
pub fn composite_components(b: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut c = Cursor::new(b);
    let mut out = Vec::new();
    while !c.is_empty() {
        out.push(c.u16_bytes()?);
        c.u8()?;
    }
    Ok(out)
}

/// The serialized values of a partition key whose type is `key_type`, one per key column: the
/// components of a CompositeType key, exactly as many as the type lists, else the key itself.
/// Cassandra gives a table a CompositeType key exactly when it has more than one partition key
/// column (`schema/TableMetadata.java`), laid out as [`composite_components`] reads it.
///
/// The error is the value's own (offset 0 or within the key): callers say which key of which
/// file it was.
pub fn key_components<'a>(key_type: &CqlType, key: &'a [u8]) -> Result<Vec<&'a [u8]>, DecodeError> {
    match key_type {
        CqlType::Composite(types) => exact_components(key, types.len()),
        _ => Ok(vec![key]),
    }
}

/// CompositeType components that must be exactly `count`.
fn exact_components(b: &[u8], count: usize) -> Result<Vec<&[u8]>, DecodeError> {
    let parts = composite_components(b)?;
    if parts.len() != count {
        return Err(invalid("composite component count", parts.len() as i64));
    }
    Ok(parts)
}

fn decode_composite<'a>(types: &[CqlType], b: &'a [u8]) -> Result<Vec<Value<'a>>, DecodeError> {
    let parts = exact_components(b, types.len())?;
    types.iter().zip(parts).map(|(t, p)| decode(t, p)).collect()
}

/// Build CompositeType bytes from components (end-of-component byte 0).
pub fn compose(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(p);
        out.push(0);
    }
    out
}

/// Serialize a list or set: `[int n]` then each element as `[int length][bytes]`.
pub fn serialize_collection<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = (items.len() as i32).to_be_bytes().to_vec();
    for i in items {
        out.extend_from_slice(&(i.len() as i32).to_be_bytes());
        out.extend_from_slice(i);
    }
    out
}

/// Serialize a map: `[int n]` then key and value each as `[int length][bytes]`.
pub fn serialize_map<'a>(pairs: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut out = (pairs.len() as i32).to_be_bytes().to_vec();
    for (k, v) in pairs {
        for b in [k, v] {
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(b);
        }
    }
    out
}

/// Serialize UDT or tuple fields: each `[int length][bytes]`, `-1` for null.
pub fn serialize_fields<'a>(fields: impl Iterator<Item = Option<&'a [u8]>>) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        match f {
            Some(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    out
}

/// Serialize a duration: months, days and nanoseconds, each a zig-zag vint
/// (`DurationSerializer` in `serializers/DurationSerializer.java`).
pub fn serialize_duration(months: i32, days: i32, nanos: i64) -> Vec<u8> {
    let mut out = Vec::new();
    crate::codec::write_svint(&mut out, i64::from(months));
    crate::codec::write_svint(&mut out, i64::from(days));
    crate::codec::write_svint(&mut out, nanos);
    out
}

/// Serialize a vector of `elem` values: fixed-length elements back to back, variable-length
/// ones each after its unsigned vint length (`VectorType` in `db/marshal/VectorType.java`).
pub fn serialize_vector<'a>(elem: &CqlType, items: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let fixed = elem.fixed_length().is_some();
    for i in items {
        if !fixed {
            crate::codec::write_uvint(&mut out, i.len() as u64);
        }
        out.extend_from_slice(i);
    }
    out
}

/// A version-1 (time-based) UUID at `micros` since the Unix epoch, with `clock_and_node` as
/// its clock sequence and node bits (the variant bits are set here). Cassandra names the cells
/// of a non-frozen list with such UUIDs (`Lists.Appender` in `cql3/Lists.java` takes
/// `UUIDGen.getTimeUUIDBytes()`), so cells appended later sort later.
pub fn timeuuid_at(micros: i64, clock_and_node: u64) -> [u8; 16] {
    let ts = (micros as u64).wrapping_mul(10).wrapping_add(0x01B2_1DD2_1381_4000);
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&((ts & 0xFFFF_FFFF) as u32).to_be_bytes());
    b[4..6].copy_from_slice(&(((ts >> 32) & 0xFFFF) as u16).to_be_bytes());
    b[6..8].copy_from_slice(&((((ts >> 48) & 0x0FFF) as u16) | 0x1000).to_be_bytes());
    b[8..].copy_from_slice(&clock_and_node.to_be_bytes());
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// One shard of a counter context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterShard {
    /// Counter id (host id of the replica that owns the shard).
    pub counter_id: [u8; 16],
    /// Logical clock.
    pub clock: i64,
    /// Count.
    pub count: i64,
    /// Kind from the header: global, local, or remote.
    pub kind: ShardKind,
}

/// Counter shard kinds (Cassandra `db/context/CounterContext.java`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardKind {
    /// Header entry with the top bit set.
    Global,
    /// Header entry without the top bit.
    Local,
    /// Not listed in the header.
    Remote,
}

/// Parse a counter context.
///
/// ```text
/// i16 h (|h| header entries) · h x i16 (shard index, +i16::MIN when global) · shards:
/// 16-byte counter id · i64 clock · i64 count
/// ```
pub fn counter_shards(b: &[u8]) -> Result<Vec<CounterShard>, DecodeError> {
    let mut c = Cursor::new(b);
    let h = c.i16()?.unsigned_abs() as usize;
    let mut header = Vec::with_capacity(h.min(b.len() / 2));
    for _ in 0..h {
        header.push(c.i16()?);
    }
    if !c.remaining().is_multiple_of(32) {
        return Err(c.error(DecodeErrorKind::InvalidValue {
            what: "counter context shard bytes",
            value: c.remaining() as i64,
        }));
    }
    let mut out = Vec::with_capacity(c.remaining() / 32);
    let mut i = 0i64;
    while !c.is_empty() {
        let counter_id = c.array::<16>()?;
        let clock = c.i64()?;
        let count = c.i64()?;
        let kind = header
            .iter()
            .find_map(|&e| {
                if i64::from(e) == i {
                    Some(ShardKind::Local)
                } else if i64::from(e) - i64::from(i16::MIN) == i {
                    Some(ShardKind::Global)
                } else {
                    None
                }
            })
            .unwrap_or(ShardKind::Remote);
        out.push(CounterShard { counter_id, clock, count, kind });
        i += 1;
    }
    Ok(out)
}

/// The value of a counter: the sum of its shards' counts.
pub fn counter_total(b: &[u8]) -> Result<i64, DecodeError> {
    Ok(counter_shards(b)?.iter().fold(0i64, |a, s| a.wrapping_add(s.count)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_components_split_composite_keys_only() {
        let one: &[u8] = &compose(&[b"a"]);
        // A one-column key is the value itself, whatever its bytes look like.
        assert_eq!(key_components(&CqlType::Blob, one).unwrap(), [one]);
        let two = CqlType::Composite(vec![CqlType::Int, CqlType::Text]);
        let key = compose(&[&7i32.to_be_bytes(), b"x"]);
        assert_eq!(key_components(&two, &key).unwrap(), [&7i32.to_be_bytes()[..], b"x"]);
        let three = compose(&[b"a", b"b", b"c"]);
        let e = key_components(&two, &three).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::InvalidValue { what: "composite component count", value: 3 }), "{e}");
        let e = key_components(&two, &key[..key.len() - 2]).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::Truncated { .. }), "{e}");
    }

    #[test]
    fn scalars() {
        assert_eq!(decode(&CqlType::Int, &[0, 0, 3, 0xe9]).unwrap(), Value::Int(1001));
        assert_eq!(decode(&CqlType::Int, &[]).unwrap(), Value::Empty);
        assert!(decode(&CqlType::Int, &[1, 2, 3]).is_err());
        assert_eq!(decode(&CqlType::Text, b"").unwrap(), Value::Text(""));
        assert!(decode(&CqlType::Text, &[0xff]).is_err());
        assert!(decode(&CqlType::Ascii, "é".as_bytes()).is_err());
        assert!(decode(&CqlType::Time, &(-1i64).to_be_bytes()).is_err());
    }

    #[test]
    fn frozen_collections_and_udts() {
        let list = CqlType::List { elem: Box::new(CqlType::Int), frozen: true };
        let b = [0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2];
        assert_eq!(decode(&list, &b).unwrap(), Value::List(vec![Value::Int(1), Value::Int(2)]));
        assert!(decode(&list, &b[..b.len() - 1]).is_err());
        let tuple = CqlType::Tuple(vec![CqlType::Int, CqlType::Text, CqlType::Int]);
        let b = [0, 0, 0, 4, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(decode(&tuple, &b).unwrap(), Value::Tuple(vec![Value::Int(7), Value::Null, Value::Null]));
        // A huge count is rejected before anything is allocated.
        assert!(decode(&list, &[0x7f, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn counter_context() {
        let mut b = vec![0, 1, 0x80, 0x00];
        b.extend_from_slice(&[7; 16]);
        b.extend_from_slice(&3i64.to_be_bytes());
        b.extend_from_slice(&(-5i64).to_be_bytes());
        let shards = counter_shards(&b).unwrap();
        assert_eq!(shards.len(), 1);
        assert_eq!((shards[0].clock, shards[0].count, shards[0].kind), (3, -5, ShardKind::Global));
        assert_eq!(counter_total(&b).unwrap(), -5);
    }
}
