//! Rendering values the way Cassandra does.
//!
//! * [`write_json`]: CQL JSON, as `SELECT JSON` and `sstabledump` print values
//!   (`AbstractType.toJSONString` in Cassandra's `db/marshal/*`).
//! * [`to_cql_string`]: the plain string form (`AbstractType.getString`), used for partition keys
//!   and clustering values in `sstabledump` output.
//! * [`to_cql_literal`]: a CQL literal that parses back to the same value (quoted text, `0x` blobs).
//!
//! Number formatting follows Java (`Float.toString`, `Double.toString`, `BigDecimal`), dates and
//! times use the proleptic Gregorian calendar in UTC, as `java.time` does.

use std::fmt::Write as _;

use crate::types::CqlType;
use crate::types::value::Value;

/// Append the CQL JSON form of `v` (of type `ty`) to `out`.
pub fn write_json(ty: &CqlType, v: &Value<'_>, out: &mut String) {
    let ty = ty.unreversed();
    match v {
        Value::Null => out.push_str("null"),
        Value::Empty => out.push_str("\"\""),
        Value::Ascii(s) | Value::Text(s) => quote_json(s, out),
        Value::BigInt(n) | Value::Counter(n) => push_display(out, n),
        Value::Int(n) => push_display(out, n),
        Value::SmallInt(n) => push_display(out, n),
        Value::TinyInt(n) => push_display(out, n),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Varint(b) => out.push_str(&varint_to_string(b)),
        Value::Decimal { scale, unscaled } => out.push_str(&decimal_to_string(*scale, unscaled)),
        Value::Float(f) => json_float(java_float_string(*f), f.is_finite(), out),
        Value::Double(d) => json_float(java_double_string(*d), d.is_finite(), out),
        Value::Blob(_)
        | Value::Date(_)
        | Value::Time(_)
        | Value::Timestamp(_)
        | Value::Uuid(_)
        | Value::TimeUuid(_)
        | Value::Inet(_)
        | Value::Duration { .. } => quote_json(&to_cql_string(ty, v), out),
        Value::List(items) | Value::Set(items) | Value::Vector(items) => {
            let elem = match ty {
                CqlType::List { elem, .. } | CqlType::Set { elem, .. } | CqlType::Vector { elem, .. } => elem.as_ref(),
                _ => &CqlType::Blob,
            };
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(elem, item, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let (kt, vt) = match ty {
                CqlType::Map { key, value, .. } => (key.as_ref(), value.as_ref()),
                _ => (&CqlType::Blob, &CqlType::Blob),
            };
            out.push('{');
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                // JSON object keys are strings: a key whose JSON form is not a string is quoted.
                let mut key = String::new();
                write_json(kt, k, &mut key);
                if key.starts_with('"') {
                    out.push_str(&key);
                } else {
                    quote_json(&key, out);
                }
                out.push_str(": ");
                write_json(vt, val, out);
            }
            out.push('}');
        }
        Value::Tuple(items) | Value::Composite(items) => {
            let types: &[CqlType] = match ty {
                CqlType::Tuple(ts) | CqlType::Composite(ts) => ts,
                _ => &[],
            };
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(types.get(i).unwrap_or(&CqlType::Blob), item, out);
            }
            out.push(']');
        }
        Value::Udt(items) => {
            out.push('{');
            if let CqlType::Udt(u) = ty {
                for (i, ((name, fty), item)) in u.fields.iter().zip(items).enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    quote_json(&maybe_quote_identifier(name), out);
                    out.push_str(": ");
                    write_json(fty, item, out);
                }
            }
            out.push('}');
        }
    }
}

fn push_display(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

fn json_float(s: String, finite: bool, out: &mut String) {
    if finite {
        out.push_str(&s);
    } else {
        quote_json(&s, out);
    }
}

/// The CQL JSON of a value as a new string.
pub fn to_json(ty: &CqlType, v: &Value<'_>) -> String {
    let mut s = String::new();
    write_json(ty, v, &mut s);
    s
}

/// Append `s` as a JSON string literal.
pub fn quote_json(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Copy runs of bytes that need no escape in one go; only '"', '\\' and control characters
    // (all ASCII, so never inside a multi-byte UTF-8 sequence) are escaped.
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(s.get(run..i).unwrap_or_default());
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04X}", b);
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(s.get(run..).unwrap_or_default());
    out.push('"');
}

/// CQL identifiers that are not all lowercase letters, digits and underscores are double-quoted.
pub fn maybe_quote_identifier(name: &str) -> String {
    let plain = !name.is_empty()
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// The plain string form of a value (Cassandra `AbstractType.getString`).
pub fn to_cql_string(ty: &CqlType, v: &Value<'_>) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Empty => String::new(),
        Value::Ascii(s) | Value::Text(s) => (*s).to_string(),
        Value::BigInt(n) | Value::Counter(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::SmallInt(n) => n.to_string(),
        Value::TinyInt(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Blob(b) => format!("0x{}", hex(b)),
        Value::Date(d) => format_date(*d),
        Value::Time(t) => format_time(*t),
        Value::Timestamp(ms) => format_timestamp_ms(*ms),
        Value::Uuid(u) | Value::TimeUuid(u) => format_uuid(u),
        Value::Inet(b) => format_inet(b),
        Value::Varint(b) => varint_to_string(b),
        Value::Decimal { scale, unscaled } => decimal_to_string(*scale, unscaled),
        Value::Float(f) => java_float_string(*f),
        Value::Double(d) => java_double_string(*d),
        Value::Duration { months, days, nanos } => format_duration(*months, *days, *nanos),
        Value::Composite(items) => {
            let types: &[CqlType] = if let CqlType::Composite(ts) = ty.unreversed() { ts } else { &[] };
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_cql_string(types.get(i).unwrap_or(&CqlType::Blob), item).replace(':', "\\:"))
                .collect::<Vec<_>>()
                .join(":")
        }
        _ => to_json(ty, v),
    }
}

/// A CQL literal for `v`: text single-quoted, blobs as `0x..`, temporal and uuid values quoted
/// where CQL needs it.
pub fn to_cql_literal(ty: &CqlType, v: &Value<'_>) -> String {
    match v {
        Value::Ascii(s) | Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) | Value::Inet(_) | Value::Duration { .. } => {
            if matches!(v, Value::Duration { .. }) {
                to_cql_string(ty, v)
            } else {
                format!("'{}'", to_cql_string(ty, v))
            }
        }
        Value::Empty => "''".to_string(),
        _ => to_cql_string(ty, v),
    }
}

/// Lowercase hexadecimal.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// `8-4-4-4-12` lowercase UUID text.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let h = hex(u);
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or(""),
        h.get(8..12).unwrap_or(""),
        h.get(12..16).unwrap_or(""),
        h.get(16..20).unwrap_or(""),
        h.get(20..32).unwrap_or("")
    )
}

/// Java `InetAddress.getHostAddress()`: dotted quad, or eight uncompressed hex groups.
pub fn format_inet(b: &[u8]) -> String {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        return format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
    }
    b.chunks(2)
        .map(|c| format!("{:x}", u16::from_be_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)])))
        .collect::<Vec<_>>()
        .join(":")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01, proleptic Gregorian.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn format_year(y: i64) -> String {
    if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else if y > 9999 {
        format!("+{y}")
    } else {
        format!("-{:04}", -y)
    }
}

/// `date` text: `yyyy-MM-dd`.
pub fn format_date(d: u32) -> String {
    let days = i64::from(d) - (1i64 << 31);
    let (y, m, dd) = civil_from_days(days);
    format!("{}-{m:02}-{dd:02}", format_year(y))
}

/// `time` text: `HH:mm:ss.nnnnnnnnn`.
pub fn format_time(ns: i64) -> String {
    let s = ns / 1_000_000_000;
    format!("{:02}:{:02}:{:02}.{:09}", s / 3600, (s / 60) % 60, s % 60, ns % 1_000_000_000)
}

/// `timestamp` text: `yyyy-MM-dd HH:mm:ss.SSSZ` in UTC, as Cassandra's JSON date formatter writes it.
pub fn format_timestamp_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1000;
    let mut s = String::with_capacity(24);
    if (0..=9999).contains(&y) {
        push_digits(&mut s, y, 4);
    } else {
        s.push_str(&format_year(y));
    }
    // Fixed-width fields, written digit by digit (this runs once per timestamp cell in a dump).
    for (sep, v, width) in [
        ('-', m as i64, 2),
        ('-', d as i64, 2),
        (' ', secs / 3600, 2),
        (':', (secs / 60) % 60, 2),
        (':', secs % 60, 2),
        ('.', rem % 1000, 3),
    ] {
        s.push(sep);
        push_digits(&mut s, v, width);
    }
    s.push('Z');
    s
}

/// Append the non-negative `v` as exactly `width` decimal digits (zero-padded).
fn push_digits(s: &mut String, v: i64, width: u32) {
    for i in (0..width).rev() {
        let digit = (v / 10i64.pow(i)) % 10;
        s.push(char::from(b'0' + digit as u8));
    }
}

/// ISO-8601 instant (`yyyy-MM-ddTHH:mm:ss[.fff]Z`) of epoch milliseconds, as `java.time.Instant`
/// prints it (fraction omitted when zero, else 3 digits).
pub fn format_instant_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1000;
    let frac = rem % 1000;
    let mut s = format!("{}-{m:02}-{d:02}T{:02}:{:02}:{:02}", format_year(y), secs / 3600, (secs / 60) % 60, secs % 60);
    if frac != 0 {
        let _ = write!(s, ".{frac:03}");
    }
    s.push('Z');
    s
}

/// `duration` text in Cassandra's compact form, e.g. `1h4m48s20ms`, `-2y3mo`.
pub fn format_duration(months: i32, days: i32, nanos: i64) -> String {
    let mut s = String::new();
    if months < 0 || days < 0 || nanos < 0 {
        s.push('-');
    }
    let months = i64::from(months).unsigned_abs();
    let days = i64::from(days).unsigned_abs();
    let mut rest = nanos.unsigned_abs();
    let part = |s: &mut String, v: u64, unit: &str| {
        if v != 0 {
            let _ = write!(s, "{v}{unit}");
        }
    };
    part(&mut s, months / 12, "y");
    part(&mut s, months % 12, "mo");
    part(&mut s, days, "d");
    for (size, unit) in [
        (3_600_000_000_000u64, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ] {
        part(&mut s, rest / size, unit);
        rest %= size;
    }
    if s.is_empty() || s == "-" {
        s = "0s".to_string();
    }
    s
}

/// Big-endian two's complement integer to decimal text, any length.
pub fn varint_to_string(b: &[u8]) -> String {
    if b.is_empty() {
        return "0".to_string();
    }
    let negative = b.first().is_some_and(|&x| x & 0x80 != 0);
    // Magnitude as big-endian bytes.
    let mut mag: Vec<u8> = if negative {
        let mut v: Vec<u8> = b.iter().map(|x| !x).collect();
        for x in v.iter_mut().rev() {
            let (r, carry) = x.overflowing_add(1);
            *x = r;
            if !carry {
                break;
            }
        }
        v
    } else {
        b.to_vec()
    };
    // Repeated division by 10^9.
    let mut digits: Vec<u32> = Vec::new();
    while mag.iter().any(|&x| x != 0) {
        let mut rem: u64 = 0;
        for x in mag.iter_mut() {
            let cur = (rem << 8) | u64::from(*x);
            *x = (cur / 1_000_000_000) as u8;
            rem = cur % 1_000_000_000;
        }
        digits.push(rem as u32);
        while mag.first() == Some(&0) {
            mag.remove(0);
        }
    }
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    match digits.split_last() {
        None => s.push('0'),
        Some((last, rest)) => {
            let _ = write!(s, "{last}");
            for d in rest.iter().rev() {
                let _ = write!(s, "{d:09}");
            }
        }
    }
    s
}

/// Java `BigDecimal.toString()` of unscaled × 10^-scale.
pub fn decimal_to_string(scale: i32, unscaled: &[u8]) -> String {
    let int = varint_to_string(unscaled);
    let (neg, digits) = match int.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, int),
    };
    let sign = if neg { "-" } else { "" };
    let n = digits.len() as i64;
    let scale = i64::from(scale);
    let adjusted = -scale + (n - 1);
    if scale >= 0 && adjusted >= -6 {
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        if n > scale {
            let (a, b) = digits.split_at((n - scale) as usize);
            return format!("{sign}{a}.{b}");
        }
        return format!("{sign}0.{}{digits}", "0".repeat((scale - n) as usize));
    }
    let (first, rest) = digits.split_at(1);
    let mut s = format!("{sign}{first}");
    if !rest.is_empty() {
        s.push('.');
        s.push_str(rest);
    }
    s.push('E');
    if adjusted >= 0 {
        s.push('+');
    }
    let _ = write!(s, "{adjusted}");
    s
}

fn java_fp_string(sci: String, abs: f64) -> String {
    // `sci` is Rust's shortest round-trip scientific form, e.g. "1.2345e6" or "-5e-7".
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let (first, rest) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = || first.chars().chain(rest.chars());
    let count = first.len() + rest.len();
    let mut out = String::with_capacity(count + 8);
    if neg {
        out.push('-');
    }
    if (1e-3..1e7).contains(&abs) {
        // Plain notation with at least one fractional digit.
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            out.push_str("0.");
            (0..-point).for_each(|_| out.push('0'));
            out.extend(digits());
        } else if point as usize >= count {
            out.extend(digits());
            (0..point as usize - count).for_each(|_| out.push('0'));
            out.push_str(".0");
        } else {
            for (i, c) in digits().enumerate() {
                if i == point as usize {
                    out.push('.');
                }
                out.push(c);
            }
        }
        return out;
    }
    out.push_str(first);
    out.push('.');
    out.push_str(if rest.is_empty() { "0" } else { rest });
    out.push('E');
    let _ = write!(out, "{exp}");
    out
}

/// Java `Double.toString`.
pub fn java_double_string(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    java_fp_string(format!("{d:e}"), d.abs())
}

/// Java `Float.toString`.
pub fn java_float_string(f: f32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    java_fp_string(format!("{f:e}"), f64::from(f.abs()))
}

/// `AbstractType.getString` (Cassandra 4.0+) of serialized bytes: the plain form `sstabledump`
/// uses for partition keys and collection paths. Blobs and frozen collections are hex without
/// `0x`; timestamps are `yyyy-MM-ddTHH:mm:ss.SSSZ`; tuples and UDTs join fields with `:`.
pub fn get_string(ty: &CqlType, raw: &[u8]) -> String {
    let ty = ty.unreversed();
    match ty {
        CqlType::List { .. } | CqlType::Set { .. } | CqlType::Map { .. } | CqlType::Blob | CqlType::Custom(_) => {
            return hex(raw);
        }
        CqlType::Tuple(_) | CqlType::Udt(_) => {
            let types: Vec<&CqlType> = match ty {
                CqlType::Tuple(ts) => ts.iter().collect(),
                CqlType::Udt(u) => u.fields.iter().map(|(_, t)| t).collect(),
                _ => vec![],
            };
            let mut c = crate::codec::Cursor::new(raw);
            let mut parts = Vec::new();
            for t in types {
                if c.is_empty() {
                    break;
                }
                let Ok(len) = c.i32() else { break };
                if len < 0 {
                    parts.push("@".to_string());
                    continue;
                }
                let Ok(b) = c.bytes(len as usize) else { break };
                parts.push(get_string(t, b).replace('\\', "\\\\").replace(':', "\\:").replace('@', "\\@"));
            }
            return parts.join(":");
        }
        CqlType::Composite(types) => {
            let Ok(parts) = crate::types::value::composite_components(raw) else { return hex(raw) };
            return types
                .iter()
                .zip(parts)
                .map(|(t, p)| get_string(t, p).replace(':', "\\:"))
                .collect::<Vec<_>>()
                .join(":");
        }
        _ => {}
    }
    match crate::types::value::decode(ty, raw) {
        Ok(Value::Timestamp(ms)) => {
            let s = format_timestamp_ms(ms);
            // "yyyy-MM-dd HH:mm:ss.SSSZ" -> "yyyy-MM-ddTHH:mm:ss.SSSZ"
            s.replacen(' ', "T", 1)
        }
        Ok(Value::Blob(b)) => hex(b),
        Ok(v) => to_cql_string(ty, &v),
        Err(_) => hex(raw),
    }
}

/// A CQL identifier as `ColumnIdentifier.toCQLString` prints it: unquoted when it is
/// `[a-z][a-z0-9_]*` and not a reserved keyword, else double-quoted.
pub fn cql_identifier(name: &str) -> String {
    const RESERVED: &[&str] = &[
        "add",
        "allow",
        "alter",
        "and",
        "apply",
        "asc",
        "authorize",
        "batch",
        "begin",
        "by",
        "columnfamily",
        "create",
        "delete",
        "desc",
        "describe",
        "drop",
        "entries",
        "execute",
        "from",
        "full",
        "grant",
        "if",
        "in",
        "index",
        "infinity",
        "insert",
        "into",
        "is",
        "keyspace",
        "limit",
        "materialized",
        "modify",
        "nan",
        "norecursive",
        "not",
        "null",
        "of",
        "on",
        "or",
        "order",
        "primary",
        "rename",
        "revoke",
        "schema",
        "select",
        "set",
        "table",
        "to",
        "token",
        "truncate",
        "unlogged",
        "update",
        "use",
        "using",
        "view",
        "where",
        "with",
    ];
    let plain = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !RESERVED.contains(&name);
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_number_formats() {
        assert_eq!(java_double_string(0.55), "0.55");
        assert_eq!(java_double_string(36.6), "36.6");
        assert_eq!(java_double_string(100.0), "100.0");
        assert_eq!(java_double_string(1e7), "1.0E7");
        assert_eq!(java_double_string(1.5e-4), "1.5E-4");
        assert_eq!(java_double_string(0.001), "0.001");
        assert_eq!(java_float_string(7.62), "7.62");
        assert_eq!(java_float_string(0.1), "0.1");
        assert_eq!(java_float_string(-0.0001), "-1.0E-4");
        assert_eq!(java_float_string(99.0), "99.0");
    }

    #[test]
    fn varint_and_decimal() {
        assert_eq!(varint_to_string(&[0x7b]), "123");
        assert_eq!(varint_to_string(&[0xff]), "-1");
        assert_eq!(varint_to_string(&[0x00, 0x80]), "128");
        assert_eq!(varint_to_string(&[0x80]), "-128");
        let big = [0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(varint_to_string(&big), "79228162514264337593543950336");
        assert_eq!(decimal_to_string(2, &[0x02, 0x21]), "5.45");
        assert_eq!(decimal_to_string(0, &[0x05]), "5");
        assert_eq!(decimal_to_string(3, &[0x05]), "0.005");
        assert_eq!(decimal_to_string(-2, &[0x05]), "5E+2");
        assert_eq!(decimal_to_string(10, &[0x05]), "5E-10");
    }

    #[test]
    fn temporal_formats() {
        assert_eq!(format_timestamp_ms(1_430_472_654_234), "2015-05-01 09:30:54.234Z");
        assert_eq!(format_timestamp_ms(-1), "1969-12-31 23:59:59.999Z");
        assert_eq!(format_date((1u32 << 31) + 17291), "2017-05-05");
        assert_eq!(format_time(71_105_090_000_000), "19:45:05.090000000");
        assert_eq!(format_duration(0, 0, 3_888_020_000_000), "1h4m48s20ms");
        assert_eq!(format_duration(-14, 0, 0), "-1y2mo");
        assert_eq!(days_from_civil(2017, 5, 5), 17291);
        assert_eq!(format_instant_ms(1_525_385_507_816), "2018-05-03T22:11:47.816Z");
    }

    #[test]
    fn json_strings_and_identifiers() {
        let mut s = String::new();
        quote_json("a\"b\\c\nd\u{1}", &mut s);
        assert_eq!(s, r#""a\"b\\c\nd\u0001""#);
        assert_eq!(maybe_quote_identifier("abc_1"), "abc_1");
        assert_eq!(maybe_quote_identifier("Abc"), "\"Abc\"");
        assert_eq!(format_inet(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), "0:0:0:0:0:0:0:1");
        assert_eq!(
            format_uuid(&[
                0x01, 0x23, 0x45, 0x67, 0x01, 0x23, 0x01, 0x23, 0x01, 0x23, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab
            ]),
            "01234567-0123-0123-0123-0123456789ab"
        );
    }
}
