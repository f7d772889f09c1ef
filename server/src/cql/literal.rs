//! CQL literals of every type to their serialized bytes: scalars through the format crate's
//! value parser, collections (`{...}`, `[...]`), maps, tuples (`(...)`) and UDTs
//! (`{field: value}`) here. Sets and maps are serialized in their type's order, without
//! duplicates, as Cassandra serializes them.

use cairn_format::types::CqlType;
use cairn_format::types::compare::compare_values;

use super::{Tok, lex};
use crate::values::{serialize_collection, serialize_fields, serialize_map};

struct LiteralCursor {
    toks: Vec<(Tok, usize)>,
    i: usize,
}

impl LiteralCursor {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) { Ok(()) } else { Err(format!("expected '{c}' in collection literal")) }
    }

    fn items<T>(
        &mut self,
        close: char,
        mut item: impl FnMut(&mut LiteralCursor) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if self.eat(close) {
                return Ok(out);
            }
            self.expect(',')?;
        }
    }

    fn value(&mut self, ty: &CqlType) -> Result<Vec<u8>, String> {
        let ty = ty.unreversed();
        match ty {
            CqlType::List { elem, .. } | CqlType::Vector { elem, .. } => {
                self.expect('[')?;
                let items = self.items(']', |p| p.value(elem))?;
                if let CqlType::Vector { .. } = ty {
                    return Ok(cairn_format::types::value::serialize_vector(elem, items.iter().map(Vec::as_slice)));
                }
                Ok(serialize_collection(items.iter().map(Vec::as_slice)))
            }
            CqlType::Set { elem, .. } => {
                self.expect('{')?;
                let mut items = self.items('}', |p| p.value(elem))?;
                items.sort_by(|a, b| compare_values(elem, a, b));
                items.dedup();
                Ok(serialize_collection(items.iter().map(Vec::as_slice)))
            }
            CqlType::Map { key, value, .. } => {
                self.expect('{')?;
                let mut pairs = self.items('}', |p| {
                    let k = p.value(key)?;
                    p.expect(':')?;
                    Ok((k, p.value(value)?))
                })?;
                pairs.sort_by(|a, b| compare_values(key, &a.0, &b.0));
                pairs.dedup_by(|a, b| a.0 == b.0);
                Ok(serialize_map(pairs.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))))
            }
            CqlType::Tuple(types) => {
                self.expect('(')?;
                let mut i = 0;
                let items = self.items(')', |p| {
                    let t = types.get(i).ok_or("too many tuple elements")?;
                    i += 1;
                    p.nullable(t)
                })?;
                Ok(serialize_fields(items.iter().map(Option::as_deref)))
            }
            CqlType::Udt(u) => {
                self.expect('{')?;
                let mut fields: Vec<Option<Vec<u8>>> = vec![None; u.fields.len()];
                self.items('}', |p| {
                    let name = match p.peek().cloned() {
                        Some(Tok::Ident(n) | Tok::Quoted(n)) => n,
                        _ => return Err("expected a field name".to_string()),
                    };
                    p.i += 1;
                    p.expect(':')?;
                    let i = u.fields.iter().position(|(n, _)| *n == name).ok_or(format!("unknown field {name}"))?;
                    let v = p.nullable(&u.fields[i].1)?;
                    fields[i] = v;
                    Ok(())
                })?;
                Ok(serialize_fields(fields.iter().map(Option::as_deref)))
            }
            _ => {
                let text = match self.peek().cloned() {
                    Some(Tok::Str(s)) => format!("'{}'", s.replace('\'', "''")),
                    Some(Tok::Number(n) | Tok::Uuid(n) | Tok::Hex(n) | Tok::Ident(n)) => n,
                    Some(Tok::Sym('-')) => {
                        self.i += 1;
                        match self.peek().cloned() {
                            Some(Tok::Ident(n) | Tok::Number(n)) => format!("-{n}"),
                            _ => return Err("expected a value".into()),
                        }
                    }
                    _ => return Err("expected a value".into()),
                };
                self.i += 1;
                cairn_format::types::parse::from_string(ty, &text)
            }
        }
    }

    fn nullable(&mut self, ty: &CqlType) -> Result<Option<Vec<u8>>, String> {
        if self.peek() == Some(&Tok::Ident("null".into())) {
            self.i += 1;
            return Ok(None);
        }
        self.value(ty).map(Some)
    }
}

/// The bytes of `text`, a literal of type `ty`.
pub fn to_bytes(ty: &CqlType, text: &str) -> Result<Vec<u8>, String> {
    let toks = lex(text).map_err(|e| e.to_string())?;
    let mut p = LiteralCursor { toks, i: 0 };
    let v = p.value(ty)?;
    if p.i != p.toks.len() {
        return Err(format!("unexpected text after the value in {text}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::split_collection;

    #[test]
    fn collections_and_udts() {
        let set = CqlType::Set { elem: Box::new(CqlType::Text), frozen: false };
        let b = to_bytes(&set, "{'b', 'a', 'b'}").expect("set");
        assert_eq!(split_collection(&b, false).expect("split").len(), 2);
        let map = CqlType::Map { key: Box::new(CqlType::Text), value: Box::new(CqlType::Int), frozen: false };
        let b = to_bytes(&map, "{'x': 1, 'y': -2}").expect("map");
        let pairs = split_collection(&b, true).expect("pairs");
        assert_eq!(pairs[1].1.as_deref(), Some(&(-2i32).to_be_bytes()[..]));
        let tuple = CqlType::Tuple(vec![CqlType::Int, CqlType::Text]);
        assert!(to_bytes(&tuple, "(1, 'a')").is_ok());
        assert!(to_bytes(&map, "{'x': 'notanint'}").is_err());
    }

    #[test]
    fn vectors_of_variable_length_elements_carry_their_lengths() {
        let v = CqlType::Vector { elem: Box::new(CqlType::Text), dimension: 2 };
        let b = to_bytes(&v, "['a', 'bc']").expect("vector");
        assert_eq!(b, vec![1, b'a', 2, b'b', b'c']);
        let decoded = cairn_format::types::value::decode(&v, &b).expect("decodes");
        assert_eq!(format!("{decoded:?}"), "Vector([Text(\"a\"), Text(\"bc\")])");
        let fixed = CqlType::Vector { elem: Box::new(CqlType::Int), dimension: 2 };
        assert_eq!(to_bytes(&fixed, "[1, 2]").expect("vector"), vec![0, 0, 0, 1, 0, 0, 0, 2]);
    }
}
