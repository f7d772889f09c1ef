//! Ordering of values and clustering prefixes, as Cassandra's comparators sort them
//! (`db/marshal/*Type.compare`, `db/ClusteringComparator.java`, `db/ClusteringPrefix.java`
//! `Kind`): rows and range-tombstone bounds within a partition are in this order on disk.

use std::cmp::Ordering;

use crate::clustering::BoundKind;
use crate::types::CqlType;
use crate::types::value::{Value, decode};

/// Compare two serialized values of `ty` as Cassandra's comparator does.
#[inline(always)]
pub fn compare_values(ty: &CqlType, a: &[u8], b: &[u8]) -> Ordering {
    // The commonest clustering types inline (every read checks the order of its rows); the
    // rest, and values of the wrong width, out of line.
    let fast = match ty {
        CqlType::Reversed(t) => compare_common(t, a, b).map(Ordering::reverse),
        _ => compare_common(ty, a, b),
    };
    match fast {
        Some(o) => o,
        None => compare_values_out_of_line(ty, a, b),
    }
}

/// [`compare_values`] for the commonest types at their width; `None` for anything else.
#[inline(always)]
fn compare_common(ty: &CqlType, a: &[u8], b: &[u8]) -> Option<Ordering> {
    match ty {
        CqlType::Int if a.len() == 4 && b.len() == 4 => {
            Some(i32::from_be_bytes(first_bytes(a)).cmp(&i32::from_be_bytes(first_bytes(b))))
        }
        CqlType::BigInt | CqlType::Timestamp | CqlType::Time | CqlType::Counter if a.len() == 8 && b.len() == 8 => {
            Some(i64::from_be_bytes(first_bytes(a)).cmp(&i64::from_be_bytes(first_bytes(b))))
        }
        // Byte order (empty first) is these types' order; see below.
        CqlType::Text | CqlType::Ascii | CqlType::Blob | CqlType::Inet | CqlType::Boolean | CqlType::Date => {
            Some(a.cmp(b))
        }
        _ => None,
    }
}

/// The first `N` bytes of `v` (zeros past its end; callers check the length).
#[inline(always)]
fn first_bytes<const N: usize>(v: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(head) = v.get(..N) {
        out.copy_from_slice(head);
    }
    out
}

#[inline(never)]
fn compare_values_out_of_line(ty: &CqlType, a: &[u8], b: &[u8]) -> Ordering {
    if let CqlType::Reversed(t) = ty {
        return compare_values(t, a, b).reverse();
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    // Fast paths for the common clustering types: no decoding.
    fn fixed<const N: usize>(a: &[u8], b: &[u8]) -> Option<([u8; N], [u8; N])> {
        Some((<[u8; N]>::try_from(a).ok()?, <[u8; N]>::try_from(b).ok()?))
    }
    match ty {
        CqlType::Int => {
            if let Some((x, y)) = fixed::<4>(a, b) {
                return i32::from_be_bytes(x).cmp(&i32::from_be_bytes(y));
            }
        }
        CqlType::BigInt | CqlType::Timestamp | CqlType::Time | CqlType::Counter => {
            if let Some((x, y)) = fixed::<8>(a, b) {
                return i64::from_be_bytes(x).cmp(&i64::from_be_bytes(y));
            }
        }
        CqlType::SmallInt => {
            if let Some((x, y)) = fixed::<2>(a, b) {
                return i16::from_be_bytes(x).cmp(&i16::from_be_bytes(y));
            }
        }
        CqlType::TinyInt => {
            if let Some((x, y)) = fixed::<1>(a, b) {
                return i8::from_be_bytes(x).cmp(&i8::from_be_bytes(y));
            }
        }
        // UTF8Type, AsciiType, BytesType, InetAddressType, BooleanType and SimpleDateType (an
        // unsigned int) compare their bytes.
        CqlType::Text | CqlType::Ascii | CqlType::Blob | CqlType::Inet | CqlType::Boolean | CqlType::Date => {
            return a.cmp(b);
        }
        _ => {}
    }
    match (decode(ty, a), decode(ty, b)) {
        (Ok(x), Ok(y)) => compare_decoded(ty, &x, &y, a, b),
        _ => a.cmp(b),
    }
}

fn compare_decoded(ty: &CqlType, x: &Value<'_>, y: &Value<'_>, a: &[u8], b: &[u8]) -> Ordering {
    use Value::*;
    match (x, y) {
        (Int(p), Int(q)) => p.cmp(q),
        (BigInt(p), BigInt(q)) | (Timestamp(p), Timestamp(q)) | (Time(p), Time(q)) | (Counter(p), Counter(q)) => {
            p.cmp(q)
        }
        (SmallInt(p), SmallInt(q)) => p.cmp(q),
        (TinyInt(p), TinyInt(q)) => p.cmp(q),
        (Float(p), Float(q)) => p.total_cmp(q),
        (Double(p), Double(q)) => p.total_cmp(q),
        (Varint(p), Varint(q)) => compare_varint(p, q),
        (Decimal { scale: s1, unscaled: u1 }, Decimal { scale: s2, unscaled: u2 }) => compare_decimal(*s1, u1, *s2, u2),
        (TimeUuid(p), TimeUuid(q)) => timeuuid_key(p).cmp(&timeuuid_key(q)),
        (Uuid(p), Uuid(q)) => {
            let (vp, vq) = (p.get(6).copied().unwrap_or(0) >> 4, q.get(6).copied().unwrap_or(0) >> 4);
            vp.cmp(&vq).then_with(|| if vp == 1 { timeuuid_key(p).cmp(&timeuuid_key(q)) } else { p.cmp(q) })
        }
        (List(p), List(q)) | (Set(p), Set(q)) | (Vector(p), Vector(q)) => {
            let elem = match ty {
                CqlType::List { elem, .. } | CqlType::Set { elem, .. } | CqlType::Vector { elem, .. } => elem.as_ref(),
                _ => &CqlType::Blob,
            };
            compare_lists(p.iter().map(|v| (elem, v)), q.iter().map(|v| (elem, v)), p.len(), q.len())
        }
        (Map(p), Map(q)) => {
            let (kt, vt) = match ty {
                CqlType::Map { key, value, .. } => (key.as_ref(), value.as_ref()),
                _ => (&CqlType::Blob, &CqlType::Blob),
            };
            for ((k1, v1), (k2, v2)) in p.iter().zip(q) {
                let c = compare_value(kt, k1, k2).then_with(|| compare_value(vt, v1, v2));
                if c != Ordering::Equal {
                    return c;
                }
            }
            p.len().cmp(&q.len())
        }
        (Tuple(p), Tuple(q)) | (Udt(p), Udt(q)) => {
            let types: Vec<&CqlType> = match ty {
                CqlType::Tuple(ts) => ts.iter().collect(),
                CqlType::Udt(u) => u.fields.iter().map(|(_, t)| t).collect(),
                _ => vec![],
            };
            let tys = |v: &[Value<'_>]| -> Vec<&CqlType> {
                (0..v.len()).map(|i| types.get(i).copied().unwrap_or(&CqlType::Blob)).collect()
            };
            let (tp, tq) = (tys(p), tys(q));
            compare_lists(tp.into_iter().zip(p.iter()), tq.into_iter().zip(q.iter()), p.len(), q.len())
        }
        _ => a.cmp(b),
    }
}

/// Compare two decimals exactly, as `BigDecimal.compareTo` does (`1.0` equals `1.00`): each is
/// normalised to a sign, its significant digits and a decimal exponent.
fn compare_decimal(s1: i32, u1: &[u8], s2: i32, u2: &[u8]) -> Ordering {
    // (sign, exponent, digits without leading or trailing zeros): value = sign × 0.digits × 10^exponent.
    let key = |scale: i32, unscaled: &[u8]| {
        let text = crate::types::render::varint_to_string(unscaled);
        let (negative, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d.to_string()),
            None => (false, text),
        };
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return (0i8, 0i64, String::new());
        }
        let exponent = digits.len() as i64 - i64::from(scale);
        (if negative { -1 } else { 1 }, exponent, digits.trim_end_matches('0').to_string())
    };
    let (a, b) = (key(s1, u1), key(s2, u2));
    let magnitude = a.1.cmp(&b.1).then_with(|| a.2.cmp(&b.2));
    match a.0.cmp(&b.0) {
        Ordering::Equal if a.0 < 0 => magnitude.reverse(),
        Ordering::Equal if a.0 == 0 => Ordering::Equal,
        Ordering::Equal => magnitude,
        other => other,
    }
}

/// Compare two decoded values of `ty` (nested collection elements have no raw bytes of their own
/// here; nulls sort first).
fn compare_value(ty: &CqlType, x: &Value<'_>, y: &Value<'_>) -> Ordering {
    match (x, y) {
        (Value::Null, Value::Null) | (Value::Empty, Value::Empty) => Ordering::Equal,
        (Value::Null | Value::Empty, _) => Ordering::Less,
        (_, Value::Null | Value::Empty) => Ordering::Greater,
        (Value::Text(a) | Value::Ascii(a), Value::Text(b) | Value::Ascii(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Value::Blob(a) | Value::Inet(a), Value::Blob(b) | Value::Inet(b)) => a.cmp(b),
        (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
        (Value::Date(a), Value::Date(b)) => a.cmp(b),
        _ => compare_decoded(ty.unreversed(), x, y, &[], &[]),
    }
}

fn compare_lists<'v, 'a: 'v>(
    p: impl Iterator<Item = (&'v CqlType, &'v Value<'a>)>,
    q: impl Iterator<Item = (&'v CqlType, &'v Value<'a>)>,
    lp: usize,
    lq: usize,
) -> Ordering {
    for ((t, a), (_, b)) in p.zip(q) {
        let c = compare_value(t, a, b);
        if c != Ordering::Equal {
            return c;
        }
    }
    lp.cmp(&lq)
}

fn timeuuid_key(u: &[u8; 16]) -> (u64, [i8; 8]) {
    let [u0, u1, u2, u3, u4, u5, u6, u7, rest @ ..] = *u;
    let hi = u64::from(u6 & 0x0f) << 56
        | u64::from(u7) << 48
        | u64::from(u4) << 40
        | u64::from(u5) << 32
        | u64::from(u0) << 24
        | u64::from(u1) << 16
        | u64::from(u2) << 8
        | u64::from(u3);
    (hi, rest.map(|b| b as i8))
}

fn compare_varint(a: &[u8], b: &[u8]) -> Ordering {
    let neg = |x: &[u8]| x.first().is_some_and(|v| v & 0x80 != 0);
    match (neg(a), neg(b)) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (n, _) => {
            let len = a.len().cmp(&b.len());
            let len = if n { len.reverse() } else { len };
            len.then_with(|| a.cmp(b))
        }
    }
}

fn kind_rank(k: BoundKind) -> (i32, i32) {
    // (comparison, comparedToClustering) as in ClusteringPrefix.Kind.
    match k {
        BoundKind::ExclEndBound | BoundKind::InclStartBound | BoundKind::ExclEndInclStartBoundary => (0, -1),
        BoundKind::StaticClustering => (1, -1),
        BoundKind::Clustering => (2, 0),
        BoundKind::InclEndExclStartBoundary | BoundKind::InclEndBound | BoundKind::ExclStartBound => (3, 1),
    }
}

/// Compare two clustering prefixes with their kinds.
pub fn compare_prefixes(
    types: &[CqlType],
    a: &[Option<&[u8]>],
    ka: BoundKind,
    b: &[Option<&[u8]>],
    kb: BoundKind,
) -> Ordering {
    compare_prefix_values(types, a.iter().copied(), ka, b.iter().copied(), kb)
}

/// Two rows' clusterings of as many values each, the commonest comparison by far: the first
/// unequal value decides (null first), and equal values are equal positions, as
/// [`compare_prefix_values`] says of two [`BoundKind::Clustering`] prefixes; without its bound
/// kinds. The scan's and the merger's order ([`crate::data::compare_positions`]) and the writer's
/// order check use it.
///
/// One value of one type each (most tables' clustering) is compared without the loop: this runs
/// for every row a scan or a write checks, and the loop's iterator machinery cost more than the
/// comparison.
#[inline(always)]
pub fn compare_clusterings<'a, 'b, A, B>(
    types: &[CqlType],
    a: &'a [A],
    value_a: impl Fn(&'a A) -> Option<&'a [u8]>,
    b: &'b [B],
    value_b: impl Fn(&'b B) -> Option<&'b [u8]>,
) -> Ordering {
    if let ([x], [y], [ty]) = (a, b, types)
        && let Some(x) = value_a(x)
        && let Some(y) = value_b(y)
    {
        return compare_values(ty, x, y);
    }
    compare_each(types, a.iter().map(value_a), b.iter().map(value_b))
}

/// [`compare_clusterings`] of any number of values: the first unequal component decides.
#[inline(never)]
fn compare_each<'a, 'b>(
    types: &[CqlType],
    a: impl Iterator<Item = Option<&'a [u8]>>,
    b: impl Iterator<Item = Option<&'b [u8]>>,
) -> Ordering {
    for (i, (x, y)) in a.zip(b).enumerate() {
        let c = compare_component(types.get(i).unwrap_or(&CqlType::Blob), x, y);
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

/// One clustering component of two prefixes: null before any value, values by their type.
#[inline(always)]
fn compare_component(ty: &CqlType, x: Option<&[u8]>, y: Option<&[u8]>) -> Ordering {
    match (x, y) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => compare_values(ty, x, y),
    }
}

/// [`compare_prefixes`] over any two sequences of component values (no allocation).
#[inline]
pub fn compare_prefix_values<'a, 'b>(
    types: &[CqlType],
    a: impl ExactSizeIterator<Item = Option<&'a [u8]>>,
    ka: BoundKind,
    b: impl ExactSizeIterator<Item = Option<&'b [u8]>>,
    kb: BoundKind,
) -> Ordering {
    let (la, lb) = (a.len(), b.len());
    for (i, (x, y)) in a.zip(b).enumerate() {
        let c = compare_component(types.get(i).unwrap_or(&CqlType::Blob), x, y);
        if c != Ordering::Equal {
            return c;
        }
    }
    if la == lb {
        return kind_rank(ka).0.cmp(&kind_rank(kb).0);
    }
    if la < lb { kind_rank(ka).1.cmp(&0) } else { 0.cmp(&kind_rank(kb).1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_sort_around_rows() {
        let t = vec![CqlType::Int, CqlType::Int];
        let one = 1i32.to_be_bytes();
        let two = 2i32.to_be_bytes();
        let row: Vec<Option<&[u8]>> = vec![Some(&one), Some(&two)];
        let prefix: Vec<Option<&[u8]>> = vec![Some(&one)];
        assert_eq!(
            compare_prefixes(&t, &prefix, BoundKind::InclStartBound, &row, BoundKind::Clustering),
            Ordering::Less
        );
        assert_eq!(
            compare_prefixes(&t, &prefix, BoundKind::InclEndBound, &row, BoundKind::Clustering),
            Ordering::Greater
        );
        let rev = [CqlType::Reversed(Box::new(CqlType::Int))];
        assert_eq!(compare_values(&rev[0], &one, &two), Ordering::Greater);
        assert_eq!(compare_varint(&[0xff], &[0x01]), Ordering::Less);
        assert_eq!(compare_varint(&[0x01, 0x00], &[0x7f]), Ordering::Greater);
        // Decimals compare exactly: 1.0 = 1.00, 0.1 < 0.10000000000000001, -2 < -1.5 < 0 < 1e-9.
        let dec = |scale: i32, unscaled: &str| {
            let mut b = scale.to_be_bytes().to_vec();
            b.extend(crate::types::parse::decimal_to_twos_complement(unscaled).unwrap_or_default());
            b
        };
        let d = CqlType::Decimal;
        assert_eq!(compare_values(&d, &dec(1, "10"), &dec(2, "100")), Ordering::Equal);
        assert_eq!(compare_values(&d, &dec(1, "1"), &dec(17, "10000000000000001")), Ordering::Less);
        let ascending = [dec(0, "-2"), dec(1, "-15"), dec(0, "0"), dec(9, "1"), dec(-3, "7")];
        for w in ascending.windows(2) {
            assert_eq!(compare_values(&d, &w[0], &w[1]), Ordering::Less, "{w:?}");
            assert_eq!(compare_values(&d, &w[1], &w[0]), Ordering::Greater, "{w:?}");
        }
    }
}
