//! CQL values on the wire: the protocol's type options, and the serialized forms of
//! collections and UDTs (the same bytes SSTables hold for frozen values).

use cairn_format::types::CqlType;

use crate::protocol::Writer;

/// Write a type as the protocol's `[option]`.
pub fn write_type(w: &mut Writer, ty: &CqlType) {
    let simple = |w: &mut Writer, id: u16| {
        w.short(id);
    };
    match ty.unreversed() {
        CqlType::Ascii => simple(w, 0x0001),
        CqlType::BigInt => simple(w, 0x0002),
        CqlType::Blob => simple(w, 0x0003),
        CqlType::Boolean => simple(w, 0x0004),
        CqlType::Counter => simple(w, 0x0005),
        CqlType::Decimal => simple(w, 0x0006),
        CqlType::Double => simple(w, 0x0007),
        CqlType::Float => simple(w, 0x0008),
        CqlType::Int => simple(w, 0x0009),
        CqlType::Timestamp => simple(w, 0x000B),
        CqlType::Uuid => simple(w, 0x000C),
        CqlType::Text => simple(w, 0x000D),
        CqlType::Varint => simple(w, 0x000E),
        CqlType::TimeUuid => simple(w, 0x000F),
        CqlType::Inet => simple(w, 0x0010),
        CqlType::Date => simple(w, 0x0011),
        CqlType::Time => simple(w, 0x0012),
        CqlType::SmallInt => simple(w, 0x0013),
        CqlType::TinyInt => simple(w, 0x0014),
        CqlType::Duration => simple(w, 0x0015),
        CqlType::List { elem, .. } => {
            w.short(0x0020);
            write_type(w, elem);
        }
        CqlType::Map { key, value, .. } => {
            w.short(0x0021);
            write_type(w, key);
            write_type(w, value);
        }
        CqlType::Set { elem, .. } => {
            w.short(0x0022);
            write_type(w, elem);
        }
        CqlType::Udt(u) => {
            w.short(0x0030).string(&u.keyspace).string(&u.name).short(u.fields.len() as u16);
            for (n, t) in &u.fields {
                w.string(n);
                write_type(w, t);
            }
        }
        CqlType::Tuple(types) => {
            w.short(0x0031).short(types.len() as u16);
            for t in types {
                write_type(w, t);
            }
        }
        other => {
            w.short(0x0000).string(&other.marshal_name());
        }
    }
}

pub use cairn_format::types::value::{serialize_collection, serialize_fields, serialize_map};

/// Elements of a serialized collection: the element (or map key) and, for maps, the value.
pub type Elements = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Split a serialized list/set into elements, or a map into (key, value) pairs (`None` when malformed).
pub fn split_collection(b: &[u8], pairs: bool) -> Option<Elements> {
    let mut pos = 0usize;
    let mut int = |b: &[u8]| -> Option<i32> {
        let v = i32::from_be_bytes(b.get(pos..pos + 4)?.try_into().ok()?);
        pos += 4;
        Some(v)
    };
    let n = int(b)?;
    let mut out = Vec::with_capacity(n.max(0) as usize);
    let read = |b: &[u8], pos: &mut usize| -> Option<Vec<u8>> {
        let len = i32::from_be_bytes(b.get(*pos..*pos + 4)?.try_into().ok()?);
        *pos += 4;
        let len = usize::try_from(len).ok()?;
        let v = b.get(*pos..*pos + len)?.to_vec();
        *pos += len;
        Some(v)
    };
    for _ in 0..n.max(0) {
        let k = read(b, &mut pos)?;
        let v = if pairs { Some(read(b, &mut pos)?) } else { None };
        out.push((k, v));
    }
    (pos == b.len()).then_some(out)
}

/// Split serialized UDT fields (`None` when malformed).
pub fn split_fields(b: &[u8]) -> Option<Vec<Option<Vec<u8>>>> {
    let mut pos = 0usize;
    let mut out = Vec::new();
    while pos < b.len() {
        let len = i32::from_be_bytes(b.get(pos..pos + 4)?.try_into().ok()?);
        pos += 4;
        if len < 0 {
            out.push(None);
            continue;
        }
        let len = len as usize;
        out.push(Some(b.get(pos..pos + len)?.to_vec()));
        pos += len;
    }
    Some(out)
}

/// Text as a CQL `text` value.
pub fn text(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_round_trip() {
        let items: Vec<&[u8]> = vec![b"a", b"bc"];
        let b = serialize_collection(items.iter().copied());
        let back = split_collection(&b, false).expect("splits");
        assert_eq!(back, vec![(b"a".to_vec(), None), (b"bc".to_vec(), None)]);
        let m = serialize_map([(&b"k"[..], &b"v"[..])].into_iter());
        assert_eq!(split_collection(&m, true).expect("map"), vec![(b"k".to_vec(), Some(b"v".to_vec()))]);
        assert!(split_collection(&m[..m.len() - 1], true).is_none());
        let f = serialize_fields([Some(&b"x"[..]), None].into_iter());
        assert_eq!(split_fields(&f).expect("fields"), vec![Some(b"x".to_vec()), None]);
    }
}
