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

use std::cell::RefCell;
use std::fmt::Write as _;

use crate::error::DecodeError;
use crate::types::CqlType;
use crate::types::value::{Value, decode};

/// Append the CQL JSON form of `v` (of type `ty`) to `out`.
pub fn write_json(ty: &CqlType, v: &Value<'_>, out: &mut String) {
    let ty = ty.unreversed();
    match v {
        Value::Null => out.push_str("null"),
        Value::Empty => out.push_str("\"\""),
        Value::Ascii(s) | Value::Text(s) => quote_json(s, out),
        Value::BigInt(n) | Value::Counter(n) => push_int(out, *n),
        Value::Int(n) => push_int(out, *n),
        Value::SmallInt(n) => push_int(out, *n),
        Value::TinyInt(n) => push_int(out, *n),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Varint(b) => out.push_str(&varint_to_string(b)),
        Value::Decimal { scale, unscaled } => out.push_str(&decimal_to_string(*scale, unscaled)),
        Value::Float(f) => json_float(*f, out),
        Value::Double(d) => json_double(*d, out),
        // These texts are ASCII digits and punctuation: nothing in them needs a JSON escape, so
        // they are written between quotes as they are formatted, without a string of their own.
        Value::Blob(b) => {
            out.push_str("\"0x");
            write_hex(b, out);
            out.push('"');
        }
        Value::Date(d) => {
            out.push('"');
            write_date(*d, out);
            out.push('"');
        }
        Value::Time(t) => {
            out.push('"');
            write_time(*t, out);
            out.push('"');
        }
        Value::Timestamp(ms) => json_timestamp(*ms, out),
        Value::Uuid(u) | Value::TimeUuid(u) => {
            out.push('"');
            write_uuid(u, out);
            out.push('"');
        }
        Value::Inet(_) | Value::Duration { .. } => quote_json(&to_cql_string(ty, v), out),
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

/// Append the CQL JSON form of the serialized value `raw` of type `ty`: [`decode`] then
/// [`write_json`], except that the fixed-width numbers and timestamps most rows are made of are
/// formatted straight from their bytes, by the same functions [`write_json`] calls, without a
/// [`Value`] in between (`dump` renders every clustering value and cell through here). A value
/// that does not decode is [`decode`]'s error, whatever its type.
pub fn write_json_bytes(ty: &CqlType, raw: &[u8], out: &mut String) -> Result<(), DecodeError> {
    let ty = ty.unreversed();
    // Exactly the width `decode` takes for these types: it could not have failed.
    let (eight, four) = (<[u8; 8]>::try_from(raw).ok(), <[u8; 4]>::try_from(raw).ok());
    match (ty, eight, four) {
        (CqlType::Double, Some(b), _) => json_double(f64::from_be_bytes(b), out),
        (CqlType::Timestamp, Some(b), _) => json_timestamp(i64::from_be_bytes(b), out),
        (CqlType::BigInt, Some(b), _) => push_int(out, i64::from_be_bytes(b)),
        (CqlType::Int, _, Some(b)) => push_int(out, i32::from_be_bytes(b)),
        (CqlType::Float, _, Some(b)) => json_float(f32::from_be_bytes(b), out),
        _ => write_json(ty, &decode(ty, raw)?, out),
    }
    Ok(())
}

/// A `double` in JSON: Java's text, a bare number when finite; non-finite numbers are not JSON
/// numbers, so they are quoted (`"NaN"`, `"Infinity"`).
fn json_double(d: f64, out: &mut String) {
    if d.is_finite() { write_java_double(d, out) } else { quote_json(&java_double_string(d), out) }
}

/// A `float` in JSON, as [`json_double`].
fn json_float(f: f32, out: &mut String) {
    if f.is_finite() { write_java_float(f, out) } else { quote_json(&java_float_string(f), out) }
}

/// A `timestamp` in JSON: its text between quotes (ASCII digits and punctuation, nothing to
/// escape).
fn json_timestamp(ms: i64, out: &mut String) {
    out.push('"');
    write_timestamp_ms(ms, out);
    out.push('"');
}

/// Append the decimal text of an integer (as `to_string` writes it), formatted on the stack.
pub fn push_int(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
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
    // Most strings (field names, keys, timestamps) need no escape: one scan, one copy.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
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
    write_hex(b, &mut s);
    s
}

/// Append `b` in lowercase hexadecimal.
pub fn write_hex(b: &[u8], out: &mut String) {
    let digit = |n: u8| char::from(if n < 10 { b'0' + n } else { b'a' + (n - 10) });
    out.reserve(b.len() * 2);
    for &x in b {
        out.push(digit(x >> 4));
        out.push(digit(x & 0xf));
    }
}

/// `8-4-4-4-12` lowercase UUID text.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    write_uuid(u, &mut s);
    s
}

/// Append the `8-4-4-4-12` lowercase text of a UUID.
pub fn write_uuid(u: &[u8; 16], out: &mut String) {
    let (a, rest) = u.split_at(4);
    let (b, rest) = rest.split_at(2);
    let (c, rest) = rest.split_at(2);
    let (d, e) = rest.split_at(2);
    write_hex(a, out);
    for part in [b, c, d, e] {
        out.push('-');
        write_hex(part, out);
    }
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

/// Append a year as `java.time` prints it: four digits at least, `+` above 9999.
fn write_year(y: i64, out: &mut String) {
    if (0..=9999).contains(&y) {
        push_digits(out, y, 4);
    } else if y > 9999 {
        out.push('+');
        push_int(out, y);
    } else {
        out.push('-');
        let a = y.unsigned_abs();
        if a <= 9999 {
            push_digits(out, a as i64, 4);
        } else {
            push_int(out, a);
        }
    }
}

thread_local! {
    /// The day number and `yyyy-MM-dd` text [`write_ymd`] wrote last on this thread: the dates
    /// and timestamps of one partition mostly fall on the same day.
    static LAST_YMD: RefCell<(Option<i64>, String)> = const { RefCell::new((None, String::new())) };
}

/// Append `yyyy-MM-dd` of a day number (days since 1970-01-01).
fn write_ymd(days: i64, out: &mut String) {
    let cached = LAST_YMD.try_with(|last| {
        let Ok(mut last) = last.try_borrow_mut() else { return false };
        if last.0 != Some(days) {
            let (day, text) = &mut *last;
            text.clear();
            compute_ymd(days, text);
            *day = Some(days);
        }
        out.push_str(&last.1);
        true
    });
    if cached != Ok(true) {
        compute_ymd(days, out);
    }
}

/// [`write_ymd`] without the cache.
fn compute_ymd(days: i64, out: &mut String) {
    let (y, m, d) = civil_from_days(days);
    write_year(y, out);
    out.push('-');
    push_digits(out, i64::from(m), 2);
    out.push('-');
    push_digits(out, i64::from(d), 2);
}

/// `date` text: `yyyy-MM-dd`.
pub fn format_date(d: u32) -> String {
    let mut s = String::with_capacity(10);
    write_date(d, &mut s);
    s
}

/// Append `date` text: `yyyy-MM-dd` (the day number is centred on 2^31 = 1970-01-01).
pub fn write_date(d: u32, out: &mut String) {
    write_ymd(i64::from(d) - (1i64 << 31), out);
}

/// `time` text: `HH:mm:ss.nnnnnnnnn`.
pub fn format_time(ns: i64) -> String {
    let mut s = String::with_capacity(18);
    write_time(ns, &mut s);
    s
}

/// Append `time` text: `HH:mm:ss.nnnnnnnnn` (nanoseconds since midnight).
pub fn write_time(ns: i64, out: &mut String) {
    let s = ns / 1_000_000_000;
    if !(0..86_400_000_000_000).contains(&ns) {
        // Outside a day (the decoder rejects these; kept as Rust's padding prints them).
        let _ = write!(out, "{:02}:{:02}:{:02}.{:09}", s / 3600, (s / 60) % 60, s % 60, ns % 1_000_000_000);
        return;
    }
    push_digits(out, s / 3600, 2);
    out.push(':');
    push_digits(out, (s / 60) % 60, 2);
    out.push(':');
    push_digits(out, s % 60, 2);
    out.push('.');
    push_digits(out, ns % 1_000_000_000, 9);
}

/// `timestamp` text: `yyyy-MM-dd HH:mm:ss.SSSZ` in UTC, as Cassandra's JSON date formatter writes it.
pub fn format_timestamp_ms(ms: i64) -> String {
    let mut s = String::with_capacity(24);
    write_timestamp_ms(ms, &mut s);
    s
}

/// Append `timestamp` text: `yyyy-MM-dd HH:mm:ss.SSSZ` in UTC ([`format_timestamp_ms`]).
pub fn write_timestamp_ms(ms: i64, out: &mut String) {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // The common case, a four-digit year: the whole text built on the stack, copied once.
    let whole = LAST_YMD.try_with(|last| {
        let Ok(mut last) = last.try_borrow_mut() else { return false };
        if last.0 != Some(days) {
            let (day, text) = &mut *last;
            text.clear();
            compute_ymd(days, text);
            *day = Some(days);
        }
        let Ok(ymd) = <[u8; 10]>::try_from(last.1.as_bytes()) else { return false };
        let secs = rem / 1000;
        let (h, m, s, f) = (secs / 3600, (secs / 60) % 60, secs % 60, rem % 1000);
        let d = |v: i64| b'0' + (v % 10) as u8;
        let mut text = [0u8; 24];
        let (date, time) = text.split_at_mut(10);
        date.copy_from_slice(&ymd);
        time.copy_from_slice(&[
            b' ',
            d(h / 10),
            d(h),
            b':',
            d(m / 10),
            d(m),
            b':',
            d(s / 10),
            d(s),
            b'.',
            d(f / 100),
            d(f / 10),
            d(f),
            b'Z',
        ]);
        match std::str::from_utf8(&text) {
            Ok(text) => {
                out.push_str(text);
                true
            }
            Err(_) => false,
        }
    });
    if whole == Ok(true) {
        return;
    }
    write_ymd(days, out);
    out.push(' ');
    write_hms(rem / 1000, out);
    out.push('.');
    push_digits(out, rem % 1000, 3);
    out.push('Z');
}

/// Append `HH:mm:ss` of the seconds since midnight.
fn write_hms(secs: i64, out: &mut String) {
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if (0..100).contains(&h) && (0..60).contains(&m) && (0..60).contains(&s) {
        let two = |v: i64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        let ([h1, h2], [m1, m2], [s1, s2]) = (two(h), two(m), two(s));
        let text = [h1, h2, b':', m1, m2, b':', s1, s2];
        if let Ok(text) = std::str::from_utf8(&text) {
            out.push_str(text);
            return;
        }
    }
    push_digits(out, h, 2);
    out.push(':');
    push_digits(out, m, 2);
    out.push(':');
    push_digits(out, s, 2);
}

/// Append the non-negative `v` as exactly `width` decimal digits (zero-padded, the lowest
/// `width` digits of a larger value; `width` <= 18).
fn push_digits(s: &mut String, v: i64, width: u32) {
    let mut buf = [b'0'; 18];
    let width = (width as usize).clamp(1, 18);
    let mut v = v;
    for slot in buf.iter_mut().take(width).rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let text = buf.get(..width).unwrap_or_default();
    match std::str::from_utf8(text) {
        Ok(text) => s.push_str(text),
        // Not digits (a negative `v`): each byte as the character of that code point.
        Err(_) => text.iter().for_each(|&c| s.push(char::from(c))),
    }
}

/// ISO-8601 instant (`yyyy-MM-ddTHH:mm:ss[.fff]Z`) of epoch milliseconds, as `java.time.Instant`
/// prints it (fraction omitted when zero, else 3 digits).
pub fn format_instant_ms(ms: i64) -> String {
    let mut s = String::with_capacity(24);
    InstantWriter::default().write_ms(ms, &mut s);
    s
}

/// Writes ISO-8601 instants ([`format_instant_ms`]) into a caller's buffer, keeping the date part
/// (`yyyy-MM-ddT`) of the last one: consecutive instants of the same UTC day (the timestamps of
/// one partition, mostly) format only their time of day.
#[derive(Debug, Clone, Default)]
pub struct InstantWriter {
    day: Option<i64>,
    prefix: String,
}

impl InstantWriter {
    /// Append the instant of epoch milliseconds `ms`.
    pub fn write_ms(&mut self, ms: i64, out: &mut String) {
        let days = ms.div_euclid(86_400_000);
        let rem = ms.rem_euclid(86_400_000);
        if self.day != Some(days) {
            self.prefix.clear();
            write_ymd(days, &mut self.prefix);
            self.prefix.push('T');
            self.day = Some(days);
        }
        out.push_str(&self.prefix);
        write_hms(rem / 1000, out);
        let frac = rem % 1000;
        if frac != 0 {
            out.push('.');
            push_digits(out, frac, 3);
        }
        out.push('Z');
    }

    /// Append `Instant.ofEpochSecond(secs, nanos)` as `java.time` prints it: the fraction, when
    /// not zero, in groups of three digits (milli, micro or nanoseconds). `nanos` is in
    /// `0..10^9`.
    pub fn write_instant(&mut self, secs: i64, nanos: i64, out: &mut String) {
        self.write_ms(secs.saturating_mul(1000), out);
        if nanos == 0 {
            return;
        }
        out.pop(); // the 'Z'
        out.push('.');
        if !(0..1_000_000_000).contains(&nanos) {
            let _ = write!(out, "{nanos:09}");
        } else if nanos % 1_000_000 == 0 {
            push_digits(out, nanos / 1_000_000, 3);
        } else if nanos % 1000 == 0 {
            push_digits(out, nanos / 1000, 6);
        } else {
            push_digits(out, nanos, 9);
        }
        out.push('Z');
    }
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

/// Text formatted on the stack (a float's `{:e}` form is at most 25 bytes).
struct StackText {
    buf: [u8; 48],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        StackText { buf: [0; 48], len: 0 }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are copied in, so the bytes are UTF-8.
        self.buf.get(..self.len).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The shortest round-trip decimal of a finite, non-zero number: its significant digits (no
/// leading or trailing zero) and the power of ten of the first one.
struct Shortest {
    neg: bool,
    digits: [u8; 40],
    count: usize,
    /// Scientific exponent: the value is `0.d1d2… × 10^(exp + 1)`, i.e. `d1.d2… × 10^exp`.
    exp: i32,
}

impl Shortest {
    /// Read a formatter's text of the shortest decimal: Rust's `{:e}` form ("-1.5e-4", "1e16")
    /// or zmij's ("12.34", "0.001234", "1.234e-7", "1e+33").
    fn parse(text: &str) -> Shortest {
        let (neg, text) = match text.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, text),
        };
        let (mantissa, exp_text) = text.split_once(['e', 'E']).unwrap_or((text, ""));
        let exp_neg = exp_text.starts_with('-');
        let exp_abs = exp_text.bytes().filter(u8::is_ascii_digit).fold(0i32, |a, c| a * 10 + i32::from(c - b'0'));
        let exp = if exp_neg { -exp_abs } else { exp_abs };
        // The significant digits, and how many of them stand before the decimal point.
        let mut digits = [b'0'; 40];
        let mut n = 0usize;
        let mut point: Option<i32> = None;
        let mut lead = true;
        for c in mantissa.bytes() {
            if c == b'.' {
                point = Some(n as i32);
            } else if lead && c == b'0' {
                // A leading zero moves the first significant digit one place to the right.
                if point.is_some() {
                    point = point.map(|p| p - 1);
                }
            } else if let Some(slot) = digits.get_mut(n) {
                lead = false;
                *slot = c;
                n += 1;
            }
        }
        let point = point.unwrap_or(n as i32);
        let trail = digits.get(..n).unwrap_or_default().iter().rev().take_while(|&&c| c == b'0').count();
        let mut count = n - trail;
        if count == 0 {
            // Only zeros (not a finite non-zero number): one digit, as Java would print.
            count = 1;
        }
        // Scientific exponent of the first significant digit.
        Shortest { neg, digits, count, exp: point - 1 + exp }
    }

    /// The power of ten of the last significant digit.
    fn last_exp(&self) -> i32 {
        self.exp - (self.count as i32 - 1)
    }

    /// Append Java's layout (`Double.toString`, `Float.toString`): plain notation with at least
    /// one fractional digit when `plain` (magnitudes in [10^-3, 10^7)), else `d.dddE±n`.
    fn write_java(&self, plain: bool, out: &mut String) {
        let mut buf = [b'0'; 64];
        let mut len = 0usize;
        let mut put = |b: &mut [u8; 64], c: u8| {
            if let Some(slot) = b.get_mut(len) {
                *slot = c;
                len += 1;
            }
        };
        let digits = self.digits.get(..self.count).unwrap_or_default();
        if self.neg {
            put(&mut buf, b'-');
        }
        if plain {
            let point = self.exp + 1; // digits before the decimal point
            if point <= 0 {
                put(&mut buf, b'0');
                put(&mut buf, b'.');
                (0..-point).for_each(|_| put(&mut buf, b'0'));
                digits.iter().for_each(|&c| put(&mut buf, c));
            } else if point as usize >= digits.len() {
                digits.iter().for_each(|&c| put(&mut buf, c));
                (0..point as usize - digits.len()).for_each(|_| put(&mut buf, b'0'));
                put(&mut buf, b'.');
                put(&mut buf, b'0');
            } else {
                let (int, frac) = digits.split_at(point as usize);
                int.iter().for_each(|&c| put(&mut buf, c));
                put(&mut buf, b'.');
                frac.iter().for_each(|&c| put(&mut buf, c));
            }
        } else {
            let (first, rest) = digits.split_at(digits.len().min(1));
            first.iter().for_each(|&c| put(&mut buf, c));
            put(&mut buf, b'.');
            if rest.is_empty() {
                put(&mut buf, b'0');
            } else {
                rest.iter().for_each(|&c| put(&mut buf, c));
            }
            put(&mut buf, b'E');
            let mut e = itoa::Buffer::new();
            e.format(self.exp).bytes().for_each(|c| put(&mut buf, c));
        }
        // Only ASCII digits and punctuation were written.
        out.push_str(buf.get(..len).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default());
    }
}

/// Append zmij's `text` of `v = m × 2^k` as it is when it is already Java's plain layout and
/// Rust's digits (see [`shortest`]); else append nothing and return false.
///
/// For magnitudes in [10^-3, 10^7) zmij writes fixed notation: `12.34`, `0.001234`, or the
/// digits padded with zeros and `.0` (`12300.0`), which is exactly Java's layout of the same
/// digits.
fn plain_as_java(text: &str, m: u64, k: i32, out: &mut String) -> bool {
    // One pass: where the point is, how many zeros end the text, that the rest are digits.
    let bytes = text.as_bytes();
    let mut point = None;
    let mut zeros = 0usize;
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'0' => zeros += 1,
            b'1'..=b'9' => zeros = 0,
            b'.' if point.is_none() => {
                point = Some(i);
                zeros = 0;
            }
            b'-' if i == 0 => {}
            _ => return false,
        }
    }
    let Some(point) = point else { return false };
    let frac = bytes.len() - point - 1;
    // The power of ten of the last significant digit.
    let last_exp = if frac == 1 && zeros == 1 {
        // `d….0`: count the zeros that end the integer part.
        bytes.get(..point).unwrap_or_default().iter().rev().take_while(|&&c| c == b'0').count() as i32
    } else if zeros == 0 && frac > 0 {
        -(frac as i32)
    } else {
        // Java writes no trailing zero after the point but the one of `.0`.
        return false;
    };
    if last_exp == k + m.trailing_zeros() as i32 + 1 {
        return false;
    }
    out.push_str(text);
    true
}

/// The shortest round-trip digits of a finite, non-zero number `v = m × 2^k` (`m` the binary
/// significand, `k` its exponent, `formatted` zmij's text of it), as Rust's `{:e}` gives them.
///
/// zmij and Rust both pick the shortest decimal in the rounding interval that lies closest to
/// the exact value; they differ only on an exact tie between two such decimals, where zmij
/// takes the even last digit (as JDK 19+ does) and Rust rounds up (`312985.125f` prints
/// `312985.13`). A tie means `2|v| = (2D + 1) × 10^e` for the decimal `D × 10^e` printed, so the
/// power of two in `2|v|` must equal `e`; only then (rarely) are Rust's digits formatted
/// instead, so that every value prints exactly as it always has.
fn shortest(formatted: &str, m: u64, k: i32, rust: impl FnOnce(&mut StackText)) -> Shortest {
    let fast = Shortest::parse(formatted);
    let twos = k + m.trailing_zeros() as i32 + 1;
    if fast.last_exp() != twos {
        return fast;
    }
    let mut t = StackText::new();
    rust(&mut t);
    Shortest::parse(t.as_str())
}

/// Java `Double.toString`.
pub fn java_double_string(d: f64) -> String {
    let mut s = String::with_capacity(24);
    write_java_double(d, &mut s);
    s
}

/// Append Java's `Double.toString` of `d` (shortest round-trip digits).
pub fn write_java_double(d: f64, out: &mut String) {
    if d.is_nan() {
        out.push_str("NaN");
    } else if d.is_infinite() {
        out.push_str(if d > 0.0 { "Infinity" } else { "-Infinity" });
    } else if d == 0.0 {
        out.push_str(if d.is_sign_negative() { "-0.0" } else { "0.0" });
    } else {
        let bits = d.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (m, k) = if biased == 0 { (frac, -1074) } else { (frac | (1u64 << 52), biased - 1075) };
        let plain = (1e-3..1e7).contains(&d.abs());
        let mut z = zmij::Buffer::new();
        let text = z.format_finite(d);
        if plain && plain_as_java(text, m, k, out) {
            return;
        }
        let digits = shortest(text, m, k, |t| {
            let _ = write!(t, "{d:e}");
        });
        digits.write_java(plain, out);
    }
}

/// Java `Float.toString`.
pub fn java_float_string(f: f32) -> String {
    let mut s = String::with_capacity(16);
    write_java_float(f, &mut s);
    s
}

/// Append Java's `Float.toString` of `f` (shortest round-trip digits of the `float`).
pub fn write_java_float(f: f32, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
    } else {
        let bits = f.to_bits();
        let biased = ((bits >> 23) & 0xff) as i32;
        let frac = u64::from(bits & ((1u32 << 23) - 1));
        let (m, k) = if biased == 0 { (frac, -149) } else { (frac | (1u64 << 23), biased - 150) };
        let plain = (1e-3..1e7).contains(&f64::from(f.abs()));
        let mut z = zmij::Buffer::new();
        let text = z.format_finite(f);
        if plain && plain_as_java(text, m, k, out) {
            return;
        }
        let digits = shortest(text, m, k, |t| {
            let _ = write!(t, "{f:e}");
        });
        digits.write_java(plain, out);
    }
}

/// `AbstractType.getString` (Cassandra 4.0+) of serialized bytes: the plain form `sstabledump`
/// uses for partition keys and collection paths. Blobs and frozen collections are hex without
/// `0x`; timestamps are `yyyy-MM-ddTHH:mm:ss.SSSZ`; tuples and UDTs join fields with `:`.
pub fn get_string(ty: &CqlType, raw: &[u8]) -> String {
    get_string_checked(ty, raw).0
}

/// A partition key's parts as [`get_string`] renders them (one for a single-column key, one per
/// component of a compound key's `CompositeType`), and whether the key split into the key
/// type's components and every part decoded as its type. A key that does not split is one
/// string, its hex. The one rule every verb renders partition keys by.
pub fn key_strings_checked(key_type: &CqlType, key: &[u8]) -> (Vec<String>, bool) {
    let Ok(parts) = crate::types::value::key_components(key_type, key) else {
        return (vec![hex(key)], false);
    };
    let types = match key_type {
        CqlType::Composite(types) => types.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut decoded = true;
    let strings = types
        .iter()
        .zip(parts)
        .map(|(t, p)| {
            let (text, ok) = get_string_checked(t, p);
            decoded &= ok;
            text
        })
        .collect();
    (strings, decoded)
}

/// [`get_string`], and whether `raw` decoded as `ty`: when it does not, the text is its hex (or,
/// in a tuple or UDT, the fields before the one that does not), which a caller should not pass
/// off as a value without saying so. Blobs, collections and custom types are hex by design.
pub fn get_string_checked(ty: &CqlType, raw: &[u8]) -> (String, bool) {
    let ty = ty.unreversed();
    match ty {
        CqlType::List { .. } | CqlType::Set { .. } | CqlType::Map { .. } | CqlType::Blob | CqlType::Custom(_) => {
            return (hex(raw), true);
        }
        CqlType::Tuple(_) | CqlType::Udt(_) => {
            let types: Vec<&CqlType> = match ty {
                CqlType::Tuple(ts) => ts.iter().collect(),
                CqlType::Udt(u) => u.fields.iter().map(|(_, t)| t).collect(),
                _ => vec![],
            };
            let mut c = crate::codec::Cursor::new(raw);
            let mut parts = Vec::new();
            let mut decoded = true;
            // Fewer fields than the type has is a value written before fields were added.
            for t in types {
                if c.is_empty() {
                    break;
                }
                let Ok(len) = c.i32() else {
                    decoded = false;
                    break;
                };
                if len < 0 {
                    parts.push("@".to_string());
                    continue;
                }
                let Ok(b) = c.bytes(len as usize) else {
                    decoded = false;
                    break;
                };
                let (text, ok) = get_string_checked(t, b);
                decoded &= ok;
                parts.push(text.replace('\\', "\\\\").replace(':', "\\:").replace('@', "\\@"));
            }
            return (parts.join(":"), decoded);
        }
        CqlType::Composite(types) => {
            let Ok(parts) = crate::types::value::composite_components(raw) else { return (hex(raw), false) };
            let mut decoded = true;
            let text = types
                .iter()
                .zip(parts)
                .map(|(t, p)| {
                    let (text, ok) = get_string_checked(t, p);
                    decoded &= ok;
                    text.replace(':', "\\:")
                })
                .collect::<Vec<_>>()
                .join(":");
            return (text, decoded);
        }
        _ => {}
    }
    match crate::types::value::decode(ty, raw) {
        Ok(Value::Timestamp(ms)) => {
            let s = format_timestamp_ms(ms);
            // "yyyy-MM-dd HH:mm:ss.SSSZ" -> "yyyy-MM-ddTHH:mm:ss.SSSZ"
            (s.replacen(' ', "T", 1), true)
        }
        Ok(Value::Blob(b)) => (hex(b), true),
        Ok(v) => (to_cql_string(ty, &v), true),
        Err(_) => (hex(raw), false),
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
    fn json_of_bytes_is_decode_then_write_json() {
        let reversed = |t: CqlType| CqlType::Reversed(Box::new(t));
        let values: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x7f],
            vec![0, 0, 0, 42],
            vec![0xff; 4],
            f32::NAN.to_be_bytes().to_vec(),
            (-0.0f32).to_be_bytes().to_vec(),
            vec![0, 0, 0, 0, 0, 0, 7],
            (-5.54f64).to_be_bytes().to_vec(),
            f64::INFINITY.to_be_bytes().to_vec(),
            f64::NAN.to_be_bytes().to_vec(),
            1_699_919_700_000i64.to_be_bytes().to_vec(),
            (-62_135_596_800_001i64).to_be_bytes().to_vec(),
            i64::MIN.to_be_bytes().to_vec(),
            b"a\"b".to_vec(),
        ];
        let types = [
            CqlType::Double,
            CqlType::Float,
            CqlType::Int,
            CqlType::BigInt,
            CqlType::Timestamp,
            CqlType::Counter,
            CqlType::Text,
            reversed(CqlType::Timestamp),
            reversed(CqlType::Double),
        ];
        for ty in &types {
            for raw in &values {
                let mut fast = String::new();
                let got = write_json_bytes(ty, raw, &mut fast).map(|()| fast);
                let want = decode(ty, raw).map(|v| {
                    let mut s = String::new();
                    write_json(ty, &v, &mut s);
                    s
                });
                assert_eq!(got, want, "{ty:?} {raw:?}");
            }
        }
    }

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
        // An exact tie between two shortest decimals rounds up (JDK 19+ would print 312985.12).
        assert_eq!(java_float_string(312_985.125_f64 as f32), "312985.13");
    }

    /// The layout before the stack-buffer rewrite: Rust's shortest `{:e}` text laid out as Java
    /// does. Every value must print exactly as it did.
    fn reference_fp_string(sci: String, abs: f64) -> String {
        let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let (neg, mantissa) = match mantissa.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, mantissa),
        };
        let (first, rest) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = || first.chars().chain(rest.chars());
        let count = first.len() + rest.len();
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        if (1e-3..1e7).contains(&abs) {
            let point = exp + 1;
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

    #[test]
    fn shortest_floats_print_as_before() {
        let check_d = |d: f64| {
            if d.is_finite() && d != 0.0 {
                assert_eq!(java_double_string(d), reference_fp_string(format!("{d:e}"), d.abs()), "{d:e}");
            }
        };
        let check_f = |f: f32| {
            if f.is_finite() && f != 0.0 {
                assert_eq!(java_float_string(f), reference_fp_string(format!("{f:e}"), f64::from(f.abs())), "{f:e}");
            }
        };
        // Edges: layout switches, powers of ten, extremes, subnormals, integers.
        for d in [
            1e-3,
            9.99e-4,
            1e7,
            9_999_999.0,
            9_999_999.999,
            1e-323,
            5e-324,
            f64::MIN_POSITIVE,
            f64::MAX,
            0.1,
            0.3,
            1.0,
            123_456.0,
            2.5e-5,
            1e22,
            1e23,
            4.35,
            -36.6,
        ] {
            check_d(d);
            check_d(-d);
        }
        for f in [1e-3f32, 1e7, 9_999_999.0, 1e-45, f32::MIN_POSITIVE, f32::MAX, 0.1, 7.62, 16_777_216.0] {
            check_f(f);
            check_f(-f);
        }
        // Every power of ten and its neighbours; then random bit patterns.
        for e in -324..=308 {
            let d: f64 = format!("1e{e}").parse().unwrap_or(1.0);
            check_d(d);
            check_d(f64::from_bits(d.to_bits().wrapping_add(1)));
            check_d(f64::from_bits(d.to_bits().wrapping_sub(1)));
            check_f(d as f32);
        }
        // Every binary exponent with the smallest, largest and a few other significands
        // (powers of two take the narrower-below rounding interval), for both widths.
        for e in 0..2047u64 {
            for sig in [0u64, 1, 2, 3, (1 << 52) - 1, 1 << 51, 0x8_0000_0000_0001] {
                check_d(f64::from_bits((e << 52) | sig));
            }
        }
        for e in 0..255u32 {
            for sig in [0u32, 1, 2, 3, (1 << 23) - 1, 1 << 22, 0x40_0001] {
                check_f(f32::from_bits((e << 23) | sig));
            }
        }
        // Exact ties between two shortest decimals (where zmij, picking the even digit, and
        // Rust, rounding up, differ) are dyadic values with few digits: n / 2^j and n × 2^j.
        for j in 0..40 {
            for n in 1..3000u64 {
                let scale = (1u64 << j) as f64;
                check_d(n as f64 / scale);
                check_d(n as f64 * scale);
                check_d((n * 1_000_003) as f64 / scale);
                check_f((n as f64 / scale) as f32);
                check_f((n as f64 * scale) as f32);
                check_f(((n * 1_003) as f64 / scale) as f32);
            }
        }
        check_f(312_985.125_f64 as f32);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..3_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check_d(f64::from_bits(x));
            check_f(f32::from_bits(x as u32));
            // Values with few digits (like measurements) take other paths than random bits.
            check_d((x % 2_000_000) as f64 / 100.0 - 10_000.0);
            check_f(((x >> 20) % 200_000) as f32 / 1000.0);
        }
    }

    #[test]
    fn instants_reuse_the_date_and_match_one_off_formatting() {
        let mut w = InstantWriter::default();
        let mut out = String::new();
        let samples = [
            1_525_385_507_816i64,
            1_525_385_507_000,
            1_525_385_599_999,
            1_525_392_000_000, // next day, midnight
            -1,
            0,
            -62_167_219_200_000, // year 0
            -62_167_219_200_001, // year -1
            253_402_300_800_000, // year 10000
            i64::MAX,
            i64::MIN,
        ];
        for ms in samples {
            out.clear();
            w.write_ms(ms, &mut out);
            let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
            let rem = ms.rem_euclid(86_400_000);
            let secs = rem / 1000;
            let year = if (0..=9999).contains(&y) {
                format!("{y:04}")
            } else if y > 9999 {
                format!("+{y}")
            } else {
                format!("-{:04}", -y)
            };
            let mut want = format!("{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60);
            if rem % 1000 != 0 {
                let _ = write!(want, ".{:03}", rem % 1000);
            }
            want.push('Z');
            assert_eq!(out, want, "{ms}");
            assert_eq!(format_instant_ms(ms), want);
            let (date, time) = want.split_once('T').unwrap_or_default();
            let time = time.get(..8).unwrap_or_default();
            assert_eq!(format_timestamp_ms(ms), format!("{date} {time}.{:03}Z", rem % 1000), "{ms}");
        }
        // `date` and `time` as the `format!` layout printed them, out-of-range values included.
        for d in [0u32, 1 << 31, (1 << 31) + 17291, (1 << 31) - 800_000, u32::MAX] {
            let (y, m, dd) = civil_from_days(i64::from(d) - (1i64 << 31));
            let year = if (0..=9999).contains(&y) {
                format!("{y:04}")
            } else if y > 9999 {
                format!("+{y}")
            } else {
                format!("-{:04}", -y)
            };
            assert_eq!(format_date(d), format!("{year}-{m:02}-{dd:02}"), "{d}");
        }
        for ns in [0i64, 1, 71_105_090_000_000, 86_399_999_999_999, 86_400_000_000_000, -1, i64::MAX, i64::MIN] {
            let s = ns / 1_000_000_000;
            let want = format!("{:02}:{:02}:{:02}.{:09}", s / 3600, (s / 60) % 60, s % 60, ns % 1_000_000_000);
            assert_eq!(format_time(ns), want, "{ns}");
        }
    }

    /// The `yyyy-MM-dd` cache gives the text computed afresh, whatever order days come in.
    #[test]
    fn cached_dates_match_fresh_ones() {
        let fresh = |days: i64| {
            let mut s = String::new();
            compute_ymd(days, &mut s);
            s
        };
        let fresh_ts = |ms: i64| {
            let days = ms.div_euclid(86_400_000);
            let rem = ms.rem_euclid(86_400_000);
            let secs = rem / 1000;
            format!("{} {:02}:{:02}:{:02}.{:03}Z", fresh(days), secs / 3600, (secs / 60) % 60, secs % 60, rem % 1000)
        };
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut ms = 1_700_000_000_000i64;
        for i in 0..2_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Runs of nearby instants (same day, crossing midnight), jumps across eras and
            // negative epochs, and the extremes.
            ms = match i % 5 {
                0 => ms.wrapping_add((x % 7_200_000) as i64 - 3_600_000),
                1 => (x as i64) >> (x % 40),
                2 => ms.wrapping_neg(),
                3 => {
                    if x.is_multiple_of(4) {
                        i64::MIN
                    } else {
                        i64::MAX
                    }
                }
                _ => ms.saturating_add(86_400_000),
            };
            assert_eq!(format_timestamp_ms(ms), fresh_ts(ms), "{ms}");
            let days = ms.div_euclid(86_400_000);
            let d = u32::try_from(days + (1i64 << 31)).unwrap_or((x >> 32) as u32);
            assert_eq!(format_date(d), fresh(i64::from(d) - (1i64 << 31)), "{d}");
        }
        for ms in [-62_167_219_200_001, -62_167_219_200_000, -1, 0, 253_402_300_799_999, 253_402_300_800_000] {
            assert_eq!(format_timestamp_ms(ms), fresh_ts(ms), "{ms}");
        }
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
