//! Parsing values from text into their serialized bytes: CQL literals (`'text'`, `0x00ff`,
//! `'2024-01-02 03:04:05+0000'`, `123`) and the plain forms `sstabledump` accepts for keys
//! (`text`, composite keys as `a:1`).

use crate::types::CqlType;
use crate::types::render::days_from_civil;

/// Parse `text` as a value of `ty`, returning its serialized bytes.
pub fn from_string(ty: &CqlType, text: &str) -> Result<Vec<u8>, String> {
    let ty = ty.unreversed();
    let t = text.trim();
    let unq = strip_quotes(t);
    let bad = || format!("'{text}' is not a valid {ty}");
    Ok(match ty {
        CqlType::Ascii | CqlType::Text => {
            let s = if t.starts_with('\'') { unq.replace("''", "'") } else { text.to_string() };
            if matches!(ty, CqlType::Ascii) && !s.is_ascii() {
                return Err(bad());
            }
            s.into_bytes()
        }
        CqlType::Int => unq.parse::<i32>().map_err(|_| bad())?.to_be_bytes().to_vec(),
        CqlType::BigInt | CqlType::Counter => unq.parse::<i64>().map_err(|_| bad())?.to_be_bytes().to_vec(),
        CqlType::SmallInt => unq.parse::<i16>().map_err(|_| bad())?.to_be_bytes().to_vec(),
        CqlType::TinyInt => unq.parse::<i8>().map_err(|_| bad())?.to_be_bytes().to_vec(),
        CqlType::Boolean => match unq.to_ascii_lowercase().as_str() {
            "true" => vec![1],
            "false" => vec![0],
            _ => return Err(bad()),
        },
        CqlType::Float => unq.parse::<f32>().map_err(|_| bad())?.to_be_bytes().to_vec(),
        CqlType::Double => unq.parse::<f64>().map_err(|_| bad())?.to_be_bytes().to_vec(),
        CqlType::Blob | CqlType::Custom(_) => {
            let h = unq.strip_prefix("0x").or_else(|| unq.strip_prefix("0X")).unwrap_or(unq);
            parse_hex(h).ok_or_else(bad)?
        }
        CqlType::Uuid | CqlType::TimeUuid | CqlType::LexicalUuid => parse_uuid(unq).ok_or_else(bad)?.to_vec(),
        CqlType::Timestamp => parse_timestamp_ms(unq).ok_or_else(bad)?.to_be_bytes().to_vec(),
        CqlType::Date => {
            let days = parse_date(unq).or_else(|| unq.parse::<i64>().ok().map(|d| d - (1 << 31))).ok_or_else(bad)?;
            ((days + (1 << 31)) as u32).to_be_bytes().to_vec()
        }
        CqlType::Time => parse_time_ns(unq).ok_or_else(bad)?.to_be_bytes().to_vec(),
        CqlType::Inet => {
            let ip: std::net::IpAddr = unq.parse().map_err(|_| bad())?;
            match ip {
                std::net::IpAddr::V4(a) => a.octets().to_vec(),
                std::net::IpAddr::V6(a) => a.octets().to_vec(),
            }
        }
        CqlType::Varint => decimal_to_twos_complement(unq).ok_or_else(bad)?,
        CqlType::Decimal => {
            let (mantissa, exp) = match unq.split_once(['e', 'E']) {
                Some((m, e)) => (m, e.parse::<i32>().map_err(|_| bad())?),
                None => (unq, 0),
            };
            let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let digits = format!("{int}{frac}");
            let scale = frac.len() as i32 - exp;
            let mut out = scale.to_be_bytes().to_vec();
            out.extend(decimal_to_twos_complement(&digits).ok_or_else(bad)?);
            out
        }
        CqlType::Duration => {
            let (months, days, nanos) = parse_duration(unq).ok_or_else(bad)?;
            crate::types::value::serialize_duration(months, days, nanos)
        }
        CqlType::Composite(types) => {
            let parts = split_composite(t);
            if parts.len() != types.len() {
                return Err(format!("'{text}' has {} components, the key has {}", parts.len(), types.len()));
            }
            let encoded: Vec<Vec<u8>> =
                types.iter().zip(&parts).map(|(ty, p)| from_string(ty, p)).collect::<Result<_, _>>()?;
            let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
            crate::types::value::compose(&refs)
        }
        _ => return Err(format!("cannot parse values of type {ty} from text")),
    })
}

fn strip_quotes(t: &str) -> &str {
    t.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')).unwrap_or(t)
}

/// Split a composite key: `(a, 1)` tuple form, or `a:1` with `\:` escapes.
fn split_composite(t: &str) -> Vec<String> {
    if let Some(inner) = t.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        for c in inner.chars() {
            match c {
                '\'' => {
                    quoted = !quoted;
                    cur.push(c)
                }
                ',' if !quoted => parts.push(std::mem::take(&mut cur).trim().to_string()),
                c => cur.push(c),
            }
        }
        parts.push(cur.trim().to_string());
        return parts;
    }
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = t.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n)
                }
            }
            ':' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn parse_hex(h: &str) -> Option<Vec<u8>> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| h.get(i..i + 2).and_then(|x| u8::from_str_radix(x, 16).ok())).collect()
}

/// Parse `8-4-4-4-12` UUID text.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    if h.len() != 32 || s.len() != 36 {
        return None;
    }
    parse_hex(&h)?.try_into().ok()
}

fn parse_date(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut it = s.splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(if neg { -y } else { y }, m, d))
}

/// Parse `HH:MM:SS[.fffffffff]` into nanoseconds since midnight.
pub fn parse_time_ns(s: &str) -> Option<i64> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut it = hms.split(':');
    let h: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let sec: i64 = it.next().unwrap_or("0").parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let ns: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().ok()? };
    Some(((h * 60 + m) * 60 + sec) * 1_000_000_000 + ns)
}

/// Parse a timestamp literal: milliseconds, or `yyyy-mm-dd[( |T)HH:MM[:SS[.fff]]][Z|+hhmm|+hh:mm]`.
pub fn parse_timestamp_ms(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    let (date, rest) = match s.find([' ', 'T']) {
        Some(i) => (s.get(..i)?, s.get(i + 1..)?),
        None => {
            let (d, tz) = split_tz(s);
            return Some(parse_date(d)? * 86_400_000 - tz?);
        }
    };
    let days = parse_date(date)?;
    let (time, tz) = split_tz(rest);
    let ns = parse_time_ns(time)?;
    Some(days * 86_400_000 + ns / 1_000_000 - tz?)
}

fn split_tz(s: &str) -> (&str, Option<i64>) {
    if let Some(t) = s.strip_suffix('Z') {
        return (t, Some(0));
    }
    if let Some(i) = s.rfind(['+', '-']).filter(|&i| {
        i > 0 && s.len() - i >= 3 && s.get(..i).is_some_and(|p| p.contains(':') || p.len() == 10 || !p.contains('-'))
    }) {
        let (t, z) = s.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let digits: String = z.get(1..).unwrap_or("").chars().filter(|c| *c != ':').collect();
        if digits.len() == 4 || digits.len() == 2 {
            let h: i64 = digits.get(..2).and_then(|x| x.parse().ok()).unwrap_or(0);
            let m: i64 = digits.get(2..).and_then(|x| x.parse().ok()).unwrap_or(0);
            return (t, Some(sign * (h * 60 + m) * 60_000));
        }
    }
    (s, Some(0))
}

/// Parse a duration in Cassandra's compact form (`1y2mo3w4d5h6m7s8ms9us10ns`, `-1h`).
pub fn parse_duration(s: &str) -> Option<(i32, i32, i64)> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    let (mut months, mut days, mut nanos) = (0i64, 0i64, 0i64);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n: i64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = rest.get(..unit_len)?.to_ascii_lowercase();
        rest = rest.get(unit_len..)?;
        match unit.as_str() {
            "y" => months = months.checked_add(n.checked_mul(12)?)?,
            "mo" => months = months.checked_add(n)?,
            "w" => days = days.checked_add(n.checked_mul(7)?)?,
            "d" => days = days.checked_add(n)?,
            "h" => nanos = nanos.checked_add(n.checked_mul(3_600_000_000_000)?)?,
            "m" => nanos = nanos.checked_add(n.checked_mul(60_000_000_000)?)?,
            "s" => nanos = nanos.checked_add(n.checked_mul(1_000_000_000)?)?,
            "ms" => nanos = nanos.checked_add(n.checked_mul(1_000_000)?)?,
            "us" | "µs" => nanos = nanos.checked_add(n.checked_mul(1000)?)?,
            "ns" => nanos = nanos.checked_add(n)?,
            _ => return None,
        }
    }
    let sign = if neg { -1 } else { 1 };
    Some((i32::try_from(sign * months).ok()?, i32::try_from(sign * days).ok()?, sign * nanos))
}

/// Decimal integer text to minimal big-endian two's complement.
pub fn decimal_to_twos_complement(s: &str) -> Option<Vec<u8>> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Magnitude, big-endian base 256.
    let mut mag: Vec<u8> = vec![0];
    for d in digits.bytes() {
        let mut carry = u32::from(d - b'0');
        for b in mag.iter_mut().rev() {
            let v = u32::from(*b) * 10 + carry;
            *b = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            mag.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    if neg {
        // Two's complement: invert and add one, with a leading byte for the sign.
        mag.insert(0, 0);
        for b in mag.iter_mut() {
            *b = !*b;
        }
        for b in mag.iter_mut().rev() {
            let (r, c) = b.overflowing_add(1);
            *b = r;
            if !c {
                break;
            }
        }
    } else {
        mag.insert(0, 0);
    }
    Some(minimal_twos_complement(&mag))
}

/// Big-endian two's complement bytes in minimal form (Java's `BigInteger.toByteArray`): the
/// redundant leading sign bytes dropped, at least one byte kept.
pub fn minimal_twos_complement(be: &[u8]) -> Vec<u8> {
    let mut start = 0;
    while start + 1 < be.len() {
        let (a, b) = (be.get(start).copied().unwrap_or(0), be.get(start + 1).copied().unwrap_or(0));
        if (a == 0 && b & 0x80 == 0) || (a == 0xff && b & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    match be.get(start..) {
        Some(rest) if !rest.is_empty() => rest.to_vec(),
        _ => vec![0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::render::{decimal_to_string, hex, to_cql_literal, varint_to_string};
    use crate::types::value::decode;
    use proptest::prelude::*;

    #[test]
    fn exact_bytes_of_every_scalar() {
        // (type, literal, serialized bytes) — the native protocol v4 encodings Cassandra uses.
        let cases: &[(CqlType, &str, &str)] = &[
            (CqlType::Int, "-2147483648", "80000000"),
            (CqlType::BigInt, "9223372036854775807", "7fffffffffffffff"),
            (CqlType::SmallInt, "32767", "7fff"),
            (CqlType::TinyInt, "-1", "ff"),
            (CqlType::Boolean, "true", "01"),
            (CqlType::Float, "7.62", "40f3d70a"),
            (CqlType::Double, "36.6", "40424ccccccccccd"),
            (CqlType::Text, "'привет'", "d0bfd180d0b8d0b2d0b5d182"),
            (CqlType::Ascii, "'hello'", "68656c6c6f"),
            (CqlType::Blob, "0x6772656174", "6772656174"),
            (CqlType::Uuid, "01234567-0123-0123-0123-0123456789ab", "0123456701230123012301234567 89ab"),
            (CqlType::Timestamp, "'2015-05-01 09:30:54.234+0000'", "0000014d0ed07d9a"),
            (CqlType::Date, "'2017-05-05'", "8000438b"),
            (CqlType::Time, "'19:45:05.090'", "000040ab71a19480"),
            (CqlType::Inet, "'192.168.0.110'", "c0a8006e"),
            (CqlType::Varint, "123", "7b"),
            (CqlType::Varint, "-129", "ff7f"),
            (CqlType::Decimal, "5.45", "00000002"),
            (CqlType::Duration, "1h4m48s20ms", "0000fc0712801a1a00"),
        ];
        for (ty, lit, expected) in cases {
            let want: String = expected.chars().filter(|c| !c.is_whitespace()).collect();
            let got = hex(&from_string(ty, lit).unwrap());
            if *ty == CqlType::Decimal {
                assert_eq!(got, format!("{want}0221"), "{ty} {lit}");
            } else {
                assert_eq!(got, want, "{ty} {lit}");
            }
        }
    }

    fn scalar() -> impl Strategy<Value = (CqlType, Vec<u8>)> {
        prop_oneof![
            any::<i32>().prop_map(|v| (CqlType::Int, v.to_be_bytes().to_vec())),
            any::<i64>().prop_map(|v| (CqlType::BigInt, v.to_be_bytes().to_vec())),
            any::<i16>().prop_map(|v| (CqlType::SmallInt, v.to_be_bytes().to_vec())),
            any::<i8>().prop_map(|v| (CqlType::TinyInt, v.to_be_bytes().to_vec())),
            any::<bool>().prop_map(|v| (CqlType::Boolean, vec![u8::from(v)])),
            any::<f32>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|v| (CqlType::Float, v.to_be_bytes().to_vec())),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|v| (CqlType::Double, v.to_be_bytes().to_vec())),
            "[a-zA-Z0-9 'é😀]{0,20}".prop_map(|s| (CqlType::Text, s.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(|b| (CqlType::Blob, b)),
            any::<[u8; 16]>().prop_map(|u| (CqlType::Uuid, u.to_vec())),
            (-62_000_000_000_000i64..250_000_000_000_000)
                .prop_map(|ms| (CqlType::Timestamp, ms.to_be_bytes().to_vec())),
            (0u32..=u32::MAX)
                .prop_filter("4-digit years", |d| {
                    let days = i64::from(*d) - (1i64 << 31);
                    (-719_000..2_900_000).contains(&days)
                })
                .prop_map(|d| (CqlType::Date, d.to_be_bytes().to_vec())),
            (0i64..86_400_000_000_000).prop_map(|t| (CqlType::Time, t.to_be_bytes().to_vec())),
            any::<[u8; 4]>().prop_map(|a| (CqlType::Inet, a.to_vec())),
            any::<[u8; 16]>().prop_map(|a| (CqlType::Inet, a.to_vec())),
            proptest::collection::vec(any::<u8>(), 1..24).prop_map(|b| (CqlType::Varint, minimal(b))),
            (any::<i16>(), proptest::collection::vec(any::<u8>(), 1..12)).prop_map(|(s, b)| {
                let mut out = i32::from(s).to_be_bytes().to_vec();
                out.extend(minimal(b));
                (CqlType::Decimal, out)
            }),
            (any::<i32>(), any::<i32>(), any::<i64>())
                .prop_filter("one sign", |(m, d, n)| {
                    (*m >= 0 && *d >= 0 && *n >= 0) || (*m <= 0 && *d <= 0 && *n <= 0)
                })
                .prop_map(|(m, d, n)| {
                    let mut out = Vec::new();
                    crate::codec::write_svint(&mut out, i64::from(m));
                    crate::codec::write_svint(&mut out, i64::from(d));
                    crate::codec::write_svint(&mut out, n);
                    (CqlType::Duration, out)
                }),
        ]
    }

    /// Minimal two's complement (what Cassandra writes for varints).
    fn minimal(mut b: Vec<u8>) -> Vec<u8> {
        while b.len() > 1 && ((b[0] == 0 && b[1] & 0x80 == 0) || (b[0] == 0xff && b[1] & 0x80 != 0)) {
            b.remove(0);
        }
        b
    }

    proptest! {
        #[test]
        fn every_scalar_round_trips_through_its_literal((ty, bytes) in scalar()) {
            let v = decode(&ty, &bytes).unwrap();
            let lit = to_cql_literal(&ty, &v);
            let back = from_string(&ty, &lit).unwrap();
            if ty == CqlType::Duration {
                // i64::MIN nanoseconds has no positive counterpart in the text form.
                prop_assume!(!lit.contains("9223372036854775808"));
            }
            prop_assert_eq!(hex(&back), hex(&bytes), "{} via {}", ty, lit);
        }
    }

    #[test]
    fn literals() {
        assert_eq!(from_string(&CqlType::Int, "5").unwrap(), [0, 0, 0, 5]);
        assert_eq!(from_string(&CqlType::Text, "'it''s'").unwrap(), b"it's");
        assert_eq!(from_string(&CqlType::Text, "plain").unwrap(), b"plain");
        assert_eq!(from_string(&CqlType::Blob, "0x00ff").unwrap(), [0, 0xff]);
        assert_eq!(parse_timestamp_ms("2015-05-01 09:30:54.234+0000"), Some(1_430_472_654_234));
        assert_eq!(parse_timestamp_ms("2015-05-01T09:30:54.234Z"), Some(1_430_472_654_234));
        assert_eq!(parse_time_ns("19:45:05.090"), Some(71_105_090_000_000));
        let comp = CqlType::Composite(vec![CqlType::Text, CqlType::Int]);
        assert_eq!(from_string(&comp, "a:1").unwrap(), from_string(&comp, "('a', 1)").unwrap());
    }

    #[test]
    fn big_numbers_round_trip() {
        for s in [
            "0",
            "1",
            "-1",
            "127",
            "128",
            "-128",
            "-129",
            "79228162514264337593543950336",
            "-79228162514264337593543950336",
        ] {
            assert_eq!(varint_to_string(&decimal_to_twos_complement(s).unwrap()), s);
        }
        let b = from_string(&CqlType::Decimal, "5.45").unwrap();
        assert_eq!(decimal_to_string(i32::from_be_bytes(b[..4].try_into().unwrap()), &b[4..]), "5.45");
    }
}
