//! CQL types as Cassandra names them on disk (`org.apache.cassandra.db.marshal.*`).
//!
//! The serialization header in Statistics.db stores every column's type as a marshal class
//! string, e.g. `org.apache.cassandra.db.marshal.MapType(...Int32Type,...UTF8Type)`,
//! `FrozenType(ListType(...))`, `ReversedType(TimestampType)`, or
//! `UserType(ks,6164647265737373,737472656574:UTF8Type,...)` (UDT and field names in hex).
//! [`CqlType::parse_marshal`] reads those strings; [`CqlType::parse_cql`] reads CQL type syntax
//! (`frozen<map<int, text>>`) for schema files. Values are decoded by [`value`] and rendered by
//! [`render`].
//!
//! This file (about 880 lines) holds the one `CqlType` enum and its two parsers side by side, on
//! purpose: Cassandra's marshal class names and CQL type syntax name the same types, and keeping
//! both parsers next to the enum is what keeps them in step.

pub mod compare;
pub mod parse;
pub mod render;
pub mod value;

use std::fmt;

use crate::error::{DecodeError, DecodeErrorKind};
use render::hex;

/// A CQL type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CqlType {
    /// `ascii` (AsciiType).
    Ascii,
    /// `bigint` (LongType).
    BigInt,
    /// `blob` (BytesType).
    Blob,
    /// `boolean` (BooleanType).
    Boolean,
    /// `counter` (CounterColumnType).
    Counter,
    /// `date` (SimpleDateType).
    Date,
    /// `decimal` (DecimalType).
    Decimal,
    /// `double` (DoubleType).
    Double,
    /// `duration` (DurationType).
    Duration,
    /// `float` (FloatType).
    Float,
    /// `inet` (InetAddressType).
    Inet,
    /// `int` (Int32Type).
    Int,
    /// `smallint` (ShortType).
    SmallInt,
    /// `text` / `varchar` (UTF8Type).
    Text,
    /// `time` (TimeType).
    Time,
    /// `timestamp` (TimestampType, and the legacy DateType).
    Timestamp,
    /// `timeuuid` (TimeUUIDType).
    TimeUuid,
    /// `tinyint` (ByteType).
    TinyInt,
    /// `uuid` (UUIDType).
    Uuid,
    /// `varint` (IntegerType).
    Varint,
    /// EmptyType: values are always empty.
    Empty,
    /// LexicalUUIDType (legacy, 16 bytes).
    LexicalUuid,
    /// `list<T>`.
    List {
        /// Element type.
        elem: Box<CqlType>,
        /// Whether frozen.
        frozen: bool,
    },
    /// `set<T>`.
    Set {
        /// Element type.
        elem: Box<CqlType>,
        /// Whether frozen.
        frozen: bool,
    },
    /// `map<K, V>`.
    Map {
        /// Key type.
        key: Box<CqlType>,
        /// Value type.
        value: Box<CqlType>,
        /// Whether frozen.
        frozen: bool,
    },
    /// `tuple<...>` (always frozen).
    Tuple(Vec<CqlType>),
    /// A user-defined type.
    Udt(Box<UdtType>),
    /// `vector<T, n>`.
    Vector {
        /// Element type.
        elem: Box<CqlType>,
        /// Dimension.
        dimension: u32,
    },
    /// `ReversedType(T)`: T in descending clustering order.
    Reversed(Box<CqlType>),
    /// `CompositeType(...)`: a multi-column partition key.
    Composite(Vec<CqlType>),
    /// A marshal class this reader does not interpret; values are shown as blobs.
    Custom(String),
}

/// A user-defined type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdtType {
    /// Keyspace.
    pub keyspace: String,
    /// Type name.
    pub name: String,
    /// Field names and types.
    pub fields: Vec<(String, CqlType)>,
    /// Whether frozen.
    pub frozen: bool,
}

/// Whether `newer` is `older` with fields added to its UDTs (`ALTER TYPE ... ADD`), at any
/// depth: every field of `older` is there in `newer`, in the same place, of a type that is the
/// same or grew in turn. Anything else (another type, a field renamed or retyped) is not growth.
pub fn grows_into(older: &CqlType, newer: &CqlType) -> bool {
    use CqlType::*;
    match (older, newer) {
        (Udt(a), Udt(b)) => {
            a.keyspace == b.keyspace
                && a.name == b.name
                && a.frozen == b.frozen
                && a.fields.len() <= b.fields.len()
                && a.fields.iter().zip(&b.fields).all(|((na, ta), (nb, tb))| na == nb && grows_into(ta, tb))
        }
        (List { elem: a, frozen: fa }, List { elem: b, frozen: fb })
        | (Set { elem: a, frozen: fa }, Set { elem: b, frozen: fb }) => fa == fb && grows_into(a, b),
        (Map { key: ka, value: va, frozen: fa }, Map { key: kb, value: vb, frozen: fb }) => {
            fa == fb && grows_into(ka, kb) && grows_into(va, vb)
        }
        (Tuple(a), Tuple(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| grows_into(x, y)),
        (Reversed(a), Reversed(b)) => grows_into(a, b),
        (a, b) => a == b,
    }
}

impl CqlType {
    /// The classes of the custom types in this type, nested ones included ([`CqlType::Custom`]:
    /// read as blobs).
    pub fn custom_classes<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            CqlType::Custom(c) => out.push(c),
            CqlType::List { elem, .. } | CqlType::Set { elem, .. } | CqlType::Vector { elem, .. } => {
                elem.custom_classes(out)
            }
            CqlType::Map { key, value, .. } => {
                key.custom_classes(out);
                value.custom_classes(out);
            }
            CqlType::Tuple(ts) | CqlType::Composite(ts) => ts.iter().for_each(|t| t.custom_classes(out)),
            CqlType::Udt(u) => u.fields.iter().for_each(|(_, t)| t.custom_classes(out)),
            CqlType::Reversed(t) => t.custom_classes(out),
            _ => {}
        }
    }

    /// The type with any `ReversedType` wrapper removed.
    pub fn unreversed(&self) -> &CqlType {
        match self {
            CqlType::Reversed(t) => t.unreversed(),
            t => t,
        }
    }

    /// Whether this is `ReversedType(...)`.
    pub fn is_reversed(&self) -> bool {
        matches!(self, CqlType::Reversed(_))
    }

    /// Whether a column of this type is stored as several cells (a non-frozen collection or
    /// UDT), i.e. is a *complex* column.
    pub fn is_multi_cell(&self) -> bool {
        match self {
            CqlType::List { frozen, .. } | CqlType::Set { frozen, .. } | CqlType::Map { frozen, .. } => !frozen,
            CqlType::Udt(u) => !u.frozen,
            _ => false,
        }
    }

    /// Whether this is a counter.
    pub fn is_counter(&self) -> bool {
        matches!(self.unreversed(), CqlType::Counter)
    }

    /// The serialized length of every value when it is fixed, or `None` when values carry a
    /// length (Cassandra `AbstractType.valueLengthIfFixed`).
    pub fn fixed_length(&self) -> Option<usize> {
        match self {
            CqlType::BigInt | CqlType::Double | CqlType::Timestamp => Some(8),
            CqlType::Boolean => Some(1),
            CqlType::Float | CqlType::Int => Some(4),
            CqlType::TimeUuid | CqlType::Uuid | CqlType::LexicalUuid => Some(16),
            CqlType::Empty => Some(0),
            CqlType::Reversed(t) => t.fixed_length(),
            CqlType::Vector { elem, dimension } => elem.fixed_length().and_then(|l| l.checked_mul(*dimension as usize)),
            _ => None,
        }
    }

    /// The same type, frozen (collections and UDTs inside a frozen type are frozen too).
    pub fn frozen(self) -> CqlType {
        match self {
            CqlType::List { elem, .. } => CqlType::List { elem: Box::new(elem.frozen()), frozen: true },
            CqlType::Set { elem, .. } => CqlType::Set { elem: Box::new(elem.frozen()), frozen: true },
            CqlType::Map { key, value, .. } => {
                CqlType::Map { key: Box::new(key.frozen()), value: Box::new(value.frozen()), frozen: true }
            }
            CqlType::Udt(mut u) => {
                u.frozen = true;
                u.fields = u.fields.into_iter().map(|(n, t)| (n, t.frozen())).collect();
                CqlType::Udt(u)
            }
            CqlType::Tuple(ts) => CqlType::Tuple(ts.into_iter().map(CqlType::frozen).collect()),
            CqlType::Vector { elem, dimension } => CqlType::Vector { elem: Box::new(elem.frozen()), dimension },
            CqlType::Reversed(t) => CqlType::Reversed(Box::new(t.frozen())),
            t => t,
        }
    }

    /// For a complex column: the type of its cell paths (list: timeuuid; set: element;
    /// map: key; UDT: the field index as a short).
    pub fn path_type(&self) -> Option<&CqlType> {
        match self {
            CqlType::List { .. } => Some(&CqlType::TimeUuid),
            CqlType::Set { elem, .. } => Some(elem),
            CqlType::Map { key, .. } => Some(key),
            CqlType::Udt(_) => Some(&CqlType::SmallInt),
            _ => None,
        }
    }

    /// Parse a marshal type string from a serialization header.
    pub fn parse_marshal(text: &str) -> Result<CqlType, DecodeError> {
        let mut p = MarshalParser { s: text.as_bytes(), pos: 0, text };
        let t = p.parse_type()?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(p.err("trailing characters after type"));
        }
        Ok(t)
    }

    /// The marshal class string Cassandra writes for this type (`AbstractType.toString()`):
    /// frozen collections, UDTs and tuples are wrapped in `FrozenType(...)` at the outermost
    /// frozen level only; types nested inside a frozen type are written without the wrapper.
    pub fn marshal_name(&self) -> String {
        let mut s = String::new();
        self.write_marshal(&mut s, false);
        s
    }

    fn write_marshal(&self, s: &mut String, ignore_freezing: bool) {
        const P: &str = "org.apache.cassandra.db.marshal.";
        let simple = |s: &mut String, n: &str| {
            s.push_str(P);
            s.push_str(n);
        };
        // (class, parameters, multi-cell) of parameterised types.
        let params_of = |s: &mut String, class: &str, params: &[&CqlType], multi_cell: bool| {
            let include_frozen = !ignore_freezing && !multi_cell;
            if include_frozen {
                s.push_str(P);
                s.push_str("FrozenType(");
            }
            s.push_str(P);
            s.push_str(class);
            s.push('(');
            for (i, t) in params.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                t.write_marshal(s, ignore_freezing || !multi_cell);
            }
            s.push(')');
            if include_frozen {
                s.push(')');
            }
        };
        match self {
            CqlType::Ascii => simple(s, "AsciiType"),
            CqlType::BigInt => simple(s, "LongType"),
            CqlType::Blob => simple(s, "BytesType"),
            CqlType::Boolean => simple(s, "BooleanType"),
            CqlType::Counter => simple(s, "CounterColumnType"),
            CqlType::Date => simple(s, "SimpleDateType"),
            CqlType::Decimal => simple(s, "DecimalType"),
            CqlType::Double => simple(s, "DoubleType"),
            CqlType::Duration => simple(s, "DurationType"),
            CqlType::Float => simple(s, "FloatType"),
            CqlType::Inet => simple(s, "InetAddressType"),
            CqlType::Int => simple(s, "Int32Type"),
            CqlType::SmallInt => simple(s, "ShortType"),
            CqlType::Text => simple(s, "UTF8Type"),
            CqlType::Time => simple(s, "TimeType"),
            CqlType::Timestamp => simple(s, "TimestampType"),
            CqlType::TimeUuid => simple(s, "TimeUUIDType"),
            CqlType::TinyInt => simple(s, "ByteType"),
            CqlType::Uuid => simple(s, "UUIDType"),
            CqlType::Varint => simple(s, "IntegerType"),
            CqlType::Empty => simple(s, "EmptyType"),
            CqlType::LexicalUuid => simple(s, "LexicalUUIDType"),
            CqlType::List { elem, frozen } => params_of(s, "ListType", &[elem], !frozen),
            CqlType::Set { elem, frozen } => params_of(s, "SetType", &[elem], !frozen),
            CqlType::Map { key, value, frozen } => params_of(s, "MapType", &[key, value], !frozen),
            // Tuples are always frozen and Cassandra writes them without the wrapper, their
            // parameters as inside a frozen type (`TupleType.toString`, 3.0 to 5.0).
            CqlType::Tuple(ts) => {
                s.push_str(P);
                s.push_str("TupleType(");
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    t.write_marshal(s, true);
                }
                s.push(')');
            }
            CqlType::Udt(u) => {
                let include_frozen = !ignore_freezing && u.frozen;
                if include_frozen {
                    s.push_str(P);
                    s.push_str("FrozenType(");
                }
                s.push_str(P);
                s.push_str("UserType(");
                s.push_str(&u.keyspace);
                s.push(',');
                s.push_str(&hex(u.name.as_bytes()));
                for (n, t) in &u.fields {
                    s.push(',');
                    s.push_str(&hex(n.as_bytes()));
                    s.push(':');
                    t.write_marshal(s, ignore_freezing || u.frozen);
                }
                s.push(')');
                if include_frozen {
                    s.push(')');
                }
            }
            CqlType::Vector { elem, dimension } => {
                s.push_str(P);
                s.push_str("VectorType(");
                elem.write_marshal(s, ignore_freezing);
                s.push(',');
                s.push_str(&dimension.to_string());
                s.push(')');
            }
            CqlType::Reversed(t) => {
                s.push_str(P);
                s.push_str("ReversedType(");
                t.write_marshal(s, ignore_freezing);
                s.push(')');
            }
            CqlType::Composite(ts) => {
                s.push_str(P);
                s.push_str("CompositeType(");
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    t.write_marshal(s, ignore_freezing);
                }
                s.push(')');
            }
            CqlType::Custom(c) => s.push_str(c),
        }
    }

    /// Parse CQL type syntax (`int`, `frozen<list<text>>`, `map<int, frozen<ut>>`,
    /// `vector<float, 3>`). User types are resolved through `udts`.
    pub fn parse_cql(text: &str, _keyspace: &str, udts: &dyn Fn(&str) -> Option<UdtType>) -> Result<CqlType, String> {
        let tokens = tokenize_cql_type(text)?;
        let mut pos = 0;
        let t = parse_cql_tokens(&tokens, &mut pos, udts)?;
        if pos != tokens.len() {
            return Err(format!("unexpected '{}' in type '{text}'", tokens.get(pos).map_or("", String::as_str)));
        }
        Ok(t)
    }

    /// Whether two types have the same structure, ignoring freezing and UDT keyspaces: the test
    /// for a schema type agreeing with a serialization-header type. Freezing is ignored because
    /// Cassandra wrote frozen UDTs into headers without their `FrozenType` wrapper
    /// (CASSANDRA-15035) and ScyllaDB 3.0 did the same for UDTs nested in collections; the
    /// schema's freezing is the one that holds.
    pub fn compatible_with(&self, other: &CqlType) -> bool {
        use CqlType::*;
        match (self, other) {
            (Reversed(a), Reversed(b)) => a.compatible_with(b),
            (List { elem: a, .. }, List { elem: b, .. }) | (Set { elem: a, .. }, Set { elem: b, .. }) => {
                a.compatible_with(b)
            }
            (Map { key: k1, value: v1, .. }, Map { key: k2, value: v2, .. }) => {
                k1.compatible_with(k2) && v1.compatible_with(v2)
            }
            (Tuple(a), Tuple(b)) | (Composite(a), Composite(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.compatible_with(y))
            }
            (Udt(a), Udt(b)) => {
                a.name == b.name
                    && a.fields.len() == b.fields.len()
                    && a.fields.iter().zip(&b.fields).all(|((n1, t1), (n2, t2))| n1 == n2 && t1.compatible_with(t2))
            }
            (Vector { elem: a, dimension: d1 }, Vector { elem: b, dimension: d2 }) => d1 == d2 && a.compatible_with(b),
            (a, b) => a == b,
        }
    }
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    String::from_utf8(bytes?).ok()
}

struct MarshalParser<'a> {
    s: &'a [u8],
    pos: usize,
    text: &'a str,
}

enum Param {
    Type(CqlType),
    Named(String, CqlType),
    Ident(String),
}

impl MarshalParser<'_> {
    fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError::new(self.pos as u64, DecodeErrorKind::BadTypeString { text: self.text.to_string(), reason })
    }

    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn ident(&mut self) -> String {
        self.skip_ws();
        let start = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.' | b'_' | b'&'))
        {
            self.pos += 1;
        }
        String::from_utf8_lossy(self.s.get(start..self.pos).unwrap_or(&[])).into_owned()
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn params(&mut self) -> Result<Vec<Param>, DecodeError> {
        let mut out = Vec::new();
        if self.peek() != Some(b'(') {
            return Ok(out);
        }
        self.pos += 1;
        loop {
            match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b',') => {
                    self.pos += 1;
                }
                None => return Err(self.err("unterminated parameter list")),
                _ => {}
            }
            let save = self.pos;
            let id = self.ident();
            if id.is_empty() {
                return Err(self.err("expected a type name"));
            }
            match self.peek() {
                Some(b':') => {
                    self.pos += 1;
                    let t = self.parse_type()?;
                    out.push(Param::Named(id, t));
                }
                Some(b'=') if self.s.get(self.pos + 1) == Some(&b'>') => {
                    self.pos += 2;
                    let t = self.parse_type()?;
                    out.push(Param::Named(id, t));
                }
                _ => {
                    // Bare identifiers: keyspace and hex names of UserType, VectorType's dimension.
                    if !id.contains('.') && !id.ends_with("Type") && self.peek() != Some(b'(') {
                        out.push(Param::Ident(id));
                    } else {
                        self.pos = save;
                        out.push(Param::Type(self.parse_type()?));
                    }
                }
            }
        }
    }

    fn parse_type(&mut self) -> Result<CqlType, DecodeError> {
        let name = self.ident();
        if name.is_empty() {
            return Err(self.err("expected a type name"));
        }
        // A class outside Cassandra's marshal package is a custom type whatever its simple name
        // (the empty name matches none of Cassandra's types below).
        let simple = crate::class_name::in_package(&name, MARSHAL_PACKAGE).unwrap_or_default().to_string();
        let params = self.params()?;
        let types = |ps: &[Param]| -> Vec<CqlType> {
            ps.iter()
                .filter_map(|p| match p {
                    Param::Type(t) | Param::Named(_, t) => Some(t.clone()),
                    _ => None,
                })
                .collect()
        };
        let one = |ps: &[Param], this: &Self| -> Result<CqlType, DecodeError> {
            let ts = types(ps);
            match <[CqlType; 1]>::try_from(ts) {
                Ok([t]) => Ok(t),
                Err(_) => Err(this.err("expected exactly one type parameter")),
            }
        };
        let t = match simple.as_str() {
            "AsciiType" => CqlType::Ascii,
            "LongType" => CqlType::BigInt,
            "BytesType" => CqlType::Blob,
            "BooleanType" => CqlType::Boolean,
            "CounterColumnType" => CqlType::Counter,
            "SimpleDateType" => CqlType::Date,
            "DecimalType" => CqlType::Decimal,
            "DoubleType" => CqlType::Double,
            "DurationType" => CqlType::Duration,
            "FloatType" => CqlType::Float,
            "InetAddressType" => CqlType::Inet,
            "Int32Type" => CqlType::Int,
            "ShortType" => CqlType::SmallInt,
            "UTF8Type" => CqlType::Text,
            "TimeType" => CqlType::Time,
            "TimestampType" | "DateType" => CqlType::Timestamp,
            "TimeUUIDType" => CqlType::TimeUuid,
            "ByteType" => CqlType::TinyInt,
            "UUIDType" => CqlType::Uuid,
            "IntegerType" => CqlType::Varint,
            "EmptyType" => CqlType::Empty,
            "LexicalUUIDType" => CqlType::LexicalUuid,
            "ListType" => CqlType::List { elem: Box::new(one(&params, self)?), frozen: false },
            "SetType" => CqlType::Set { elem: Box::new(one(&params, self)?), frozen: false },
            "MapType" => {
                let ts = types(&params);
                let [k, v] = <[CqlType; 2]>::try_from(ts).map_err(|_| self.err("MapType needs two parameters"))?;
                CqlType::Map { key: Box::new(k), value: Box::new(v), frozen: false }
            }
            "FrozenType" => one(&params, self)?.frozen(),
            "ReversedType" => CqlType::Reversed(Box::new(one(&params, self)?)),
            "TupleType" => CqlType::Tuple(types(&params)),
            "CompositeType" => CqlType::Composite(types(&params)),
            "VectorType" => {
                let elem = one(&params, self)?;
                let dimension = params
                    .iter()
                    .find_map(|p| if let Param::Ident(n) = p { n.parse::<u32>().ok() } else { None })
                    .ok_or_else(|| self.err("VectorType needs a dimension"))?;
                CqlType::Vector { elem: Box::new(elem), dimension }
            }
            "UserType" => {
                let mut it = params.into_iter();
                let keyspace = match it.next() {
                    Some(Param::Ident(k)) => k,
                    _ => return Err(self.err("UserType needs a keyspace")),
                };
                let name = match it.next() {
                    Some(Param::Ident(h)) => unhex(&h).ok_or_else(|| self.err("UserType name is not hex UTF-8"))?,
                    _ => return Err(self.err("UserType needs a name")),
                };
                let mut fields = Vec::new();
                for p in it {
                    match p {
                        Param::Named(h, t) => {
                            fields.push((unhex(&h).ok_or_else(|| self.err("field name is not hex UTF-8"))?, t))
                        }
                        _ => return Err(self.err("UserType fields must be name:type")),
                    }
                }
                CqlType::Udt(Box::new(UdtType { keyspace, name, fields, frozen: false }))
            }
            // Cassandra resolves a bare name inside its own marshal package and loads the class
            // (`db/marshal/TypeParser.java`, `getAbstractType`): a name there that is not one of
            // its classes does not load, so the header is damaged. So is a type name elsewhere in
            // Cassandra's own namespace: its types all live in the marshal package, so a changed
            // byte moved it there (other classes of it, such as a partitioner, appear only as
            // parameters). Elsewhere it is a custom type, read as a blob (and warned about when
            // an SSTable opens: `OpenWarning::CustomTypes`).
            _ if in_marshal_package(&name) && !UNINTERPRETED_MARSHAL_CLASSES.contains(&simple.as_str()) => {
                return Err(self.err("no such class in org.apache.cassandra.db.marshal"));
            }
            _ if name.starts_with(CASSANDRA_NAMESPACE) && !in_marshal_package(&name) && name.ends_with("Type") => {
                return Err(self.err("no such type class: Cassandra's types are in org.apache.cassandra.db.marshal"));
            }
            _ => CqlType::Custom(name.clone()),
        };
        Ok(t)
    }
}

/// The package Cassandra's own types live in, and where it looks up a bare type name.
const MARSHAL_PACKAGE: &str = "org.apache.cassandra.db.marshal.";

/// Cassandra's own namespace: a type class in it outside [`MARSHAL_PACKAGE`] does not exist.
const CASSANDRA_NAMESPACE: &str = "org.apache.cassandra.";

/// Classes of [`MARSHAL_PACKAGE`] that headers may name but that are read as blobs
/// ([`CqlType::Custom`]): Thrift-era comparators, internal index and virtual-table types, and
/// types of DataStax-derived releases.
const UNINTERPRETED_MARSHAL_CLASSES: [&str; 14] = [
    "DynamicCompositeType",
    "ColumnToCollectionType",
    "PartitionerDefinedOrder",
    "LocalByPartionerType",
    "LegacyTimeUUIDType",
    "TimestampUtf8Type",
    "TokenUtf8Type",
    "TxnIdUtf8Type",
    "DateRangeType",
    "PointType",
    "LineStringType",
    "PolygonType",
    "DenseFloat32Type",
    "Float32DenseVectorType",
];

/// Whether Cassandra would look `name` up among its own types: a bare name, or one in (or below)
/// [`MARSHAL_PACKAGE`].
fn in_marshal_package(name: &str) -> bool {
    crate::class_name::in_package(name, MARSHAL_PACKAGE).is_some()
}

fn tokenize_cql_type(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if matches!(c, '<' | '>' | ',') {
            out.push(c.to_string());
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\"");
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        s.push('"');
                    }
                    Some('"') => break,
                    Some(ch) => s.push(ch),
                    None => return Err(format!("unterminated quoted name in type '{text}'")),
                }
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_alphanumeric() || ch == '_' || ch == '.' {
                    s.push(ch);
                    chars.next();
                } else {
                    break;
                }
            }
            if s.is_empty() {
                return Err(format!("unexpected character '{c}' in type '{text}'"));
            }
            out.push(s);
        }
    }
    Ok(out)
}

fn parse_cql_tokens(
    toks: &[String],
    pos: &mut usize,
    udts: &dyn Fn(&str) -> Option<UdtType>,
) -> Result<CqlType, String> {
    let name = toks.get(*pos).ok_or("type expected")?.clone();
    *pos += 1;
    let expect = |pos: &mut usize, t: &str| -> Result<(), String> {
        if toks.get(*pos).map(String::as_str) == Some(t) {
            *pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{t}' in type"))
        }
    };
    let args = |pos: &mut usize| -> Result<Vec<CqlType>, String> {
        expect(pos, "<")?;
        let mut v = vec![parse_cql_tokens(toks, pos, udts)?];
        while toks.get(*pos).map(String::as_str) == Some(",") {
            *pos += 1;
            v.push(parse_cql_tokens(toks, pos, udts)?);
        }
        expect(pos, ">")?;
        Ok(v)
    };
    if let Some(quoted) = name.strip_prefix('"') {
        return udts(quoted).map(|u| CqlType::Udt(Box::new(u))).ok_or(format!("unknown type \"{quoted}\""));
    }
    let lower = name.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "ascii" => CqlType::Ascii,
        "bigint" => CqlType::BigInt,
        "blob" => CqlType::Blob,
        "boolean" => CqlType::Boolean,
        "counter" => CqlType::Counter,
        "date" => CqlType::Date,
        "decimal" => CqlType::Decimal,
        "double" => CqlType::Double,
        "duration" => CqlType::Duration,
        "float" => CqlType::Float,
        "inet" => CqlType::Inet,
        "int" => CqlType::Int,
        "smallint" => CqlType::SmallInt,
        "text" | "varchar" => CqlType::Text,
        "time" => CqlType::Time,
        "timestamp" => CqlType::Timestamp,
        "timeuuid" => CqlType::TimeUuid,
        "tinyint" => CqlType::TinyInt,
        "uuid" => CqlType::Uuid,
        "varint" => CqlType::Varint,
        "frozen" => {
            let [t] = <[CqlType; 1]>::try_from(args(pos)?).map_err(|_| "frozen<> takes one type")?;
            t.frozen()
        }
        "list" => {
            let [t] = <[CqlType; 1]>::try_from(args(pos)?).map_err(|_| "list<> takes one type")?;
            CqlType::List { elem: Box::new(t.frozen()), frozen: false }
        }
        "set" => {
            let [t] = <[CqlType; 1]>::try_from(args(pos)?).map_err(|_| "set<> takes one type")?;
            CqlType::Set { elem: Box::new(t.frozen()), frozen: false }
        }
        "map" => {
            let [k, v] = <[CqlType; 2]>::try_from(args(pos)?).map_err(|_| "map<> takes two types")?;
            CqlType::Map { key: Box::new(k.frozen()), value: Box::new(v.frozen()), frozen: false }
        }
        "tuple" => CqlType::Tuple(args(pos)?.into_iter().map(CqlType::frozen).collect()),
        "vector" => {
            expect(pos, "<")?;
            let elem = parse_cql_tokens(toks, pos, udts)?.frozen();
            expect(pos, ",")?;
            let n = toks.get(*pos).and_then(|t| t.parse::<u32>().ok()).ok_or("vector dimension expected")?;
            *pos += 1;
            expect(pos, ">")?;
            CqlType::Vector { elem: Box::new(elem), dimension: n }
        }
        _ => {
            let bare = name.rsplit('.').next().unwrap_or(&name);
            udts(&bare.to_ascii_lowercase())
                .or_else(|| udts(bare))
                .map(|u| CqlType::Udt(Box::new(u)))
                .ok_or(format!("unknown type '{name}'"))?
        }
    })
}

impl fmt::Display for CqlType {
    /// CQL syntax (`frozen<map<int, text>>`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wrap =
            |f: &mut fmt::Formatter<'_>, frozen: bool, inner: &dyn Fn(&mut fmt::Formatter<'_>) -> fmt::Result| {
                if frozen {
                    f.write_str("frozen<")?;
                    inner(f)?;
                    f.write_str(">")
                } else {
                    inner(f)
                }
            };
        match self {
            CqlType::Ascii => f.write_str("ascii"),
            CqlType::BigInt => f.write_str("bigint"),
            CqlType::Blob => f.write_str("blob"),
            CqlType::Boolean => f.write_str("boolean"),
            CqlType::Counter => f.write_str("counter"),
            CqlType::Date => f.write_str("date"),
            CqlType::Decimal => f.write_str("decimal"),
            CqlType::Double => f.write_str("double"),
            CqlType::Duration => f.write_str("duration"),
            CqlType::Float => f.write_str("float"),
            CqlType::Inet => f.write_str("inet"),
            CqlType::Int => f.write_str("int"),
            CqlType::SmallInt => f.write_str("smallint"),
            CqlType::Text => f.write_str("text"),
            CqlType::Time => f.write_str("time"),
            CqlType::Timestamp => f.write_str("timestamp"),
            CqlType::TimeUuid => f.write_str("timeuuid"),
            CqlType::TinyInt => f.write_str("tinyint"),
            CqlType::Uuid => f.write_str("uuid"),
            CqlType::Varint => f.write_str("varint"),
            CqlType::Empty => f.write_str("'org.apache.cassandra.db.marshal.EmptyType'"),
            CqlType::LexicalUuid => f.write_str("'org.apache.cassandra.db.marshal.LexicalUUIDType'"),
            CqlType::List { elem, frozen } => wrap(f, *frozen, &|f| write!(f, "list<{elem}>")),
            CqlType::Set { elem, frozen } => wrap(f, *frozen, &|f| write!(f, "set<{elem}>")),
            CqlType::Map { key, value, frozen } => wrap(f, *frozen, &|f| write!(f, "map<{key}, {value}>")),
            CqlType::Tuple(ts) => {
                f.write_str("frozen<tuple<")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(">>")
            }
            CqlType::Udt(u) => wrap(f, u.frozen, &|f| f.write_str(&u.name)),
            CqlType::Vector { elem, dimension } => write!(f, "vector<{elem}, {dimension}>"),
            CqlType::Reversed(t) => write!(f, "{t}"),
            CqlType::Composite(ts) => {
                f.write_str("composite<")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(">")
            }
            CqlType::Custom(c) => write!(f, "'{c}'"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_strings() {
        let t = CqlType::parse_marshal(
            "org.apache.cassandra.db.marshal.ReversedType(org.apache.cassandra.db.marshal.TimestampType)",
        )
        .unwrap();
        assert_eq!(t, CqlType::Reversed(Box::new(CqlType::Timestamp)));
        let t = CqlType::parse_marshal(
            "org.apache.cassandra.db.marshal.FrozenType(org.apache.cassandra.db.marshal.MapType(org.apache.cassandra.db.marshal.Int32Type,org.apache.cassandra.db.marshal.UTF8Type))",
        )
        .unwrap();
        assert!(!t.is_multi_cell());
        assert_eq!(t.to_string(), "frozen<map<int, text>>");
        let t = CqlType::parse_marshal("org.apache.cassandra.db.marshal.UserType(ks,7574,61:org.apache.cassandra.db.marshal.Int32Type,62:org.apache.cassandra.db.marshal.UTF8Type)").unwrap();
        let CqlType::Udt(u) = &t else { panic!("not a udt") };
        assert_eq!((u.name.as_str(), u.fields.len(), u.frozen), ("ut", 2, false));
        assert_eq!(u.fields[1], ("b".to_string(), CqlType::Text));
        assert!(t.is_multi_cell());
        let t = CqlType::parse_marshal(
            "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,3)",
        )
        .unwrap();
        assert_eq!(t.fixed_length(), Some(12));
    }

    #[test]
    fn marshal_names_round_trip() {
        for s in [
            "org.apache.cassandra.db.marshal.CompositeType(org.apache.cassandra.db.marshal.UUIDType,org.apache.cassandra.db.marshal.UTF8Type)",
            "org.apache.cassandra.db.marshal.ListType(org.apache.cassandra.db.marshal.FrozenType(org.apache.cassandra.db.marshal.SetType(org.apache.cassandra.db.marshal.Int32Type)))",
            "org.apache.cassandra.db.marshal.TupleType(org.apache.cassandra.db.marshal.Int32Type,org.apache.cassandra.db.marshal.UTF8Type)",
            "org.apache.cassandra.db.marshal.FrozenType(org.apache.cassandra.db.marshal.MapType(org.apache.cassandra.db.marshal.Int32Type,org.apache.cassandra.db.marshal.ListType(org.apache.cassandra.db.marshal.Int32Type)))",
        ] {
            assert_eq!(CqlType::parse_marshal(s).unwrap().marshal_name(), s);
        }
    }

    #[test]
    fn a_udt_grows_by_added_fields_only() {
        let udt = |fields: &[(&str, CqlType)]| {
            CqlType::Udt(Box::new(UdtType {
                keyspace: "ks".into(),
                name: "addr".into(),
                fields: fields.iter().map(|(n, t)| (n.to_string(), t.clone())).collect(),
                frozen: false,
            }))
        };
        let old = udt(&[("street", CqlType::Text)]);
        let new = udt(&[("street", CqlType::Text), ("zip", CqlType::Int)]);
        assert!(grows_into(&old, &new) && !grows_into(&new, &old));
        assert!(!grows_into(&old, &udt(&[("road", CqlType::Text), ("zip", CqlType::Int)])), "a renamed field");
        let list = |t: &CqlType| CqlType::List { elem: Box::new(t.clone()), frozen: true };
        assert!(grows_into(&list(&old), &list(&new)), "nested");
        assert!(!grows_into(&CqlType::Int, &CqlType::BigInt));
    }

    /// A seeded mutation run found `UTF8Type` changed to `UDF8Type` in a Statistics.db read as a
    /// blob, and `Int32Type` changed to `Mnt32Type` misaligning the cells after it, both with
    /// exit 0. No such class exists in Cassandra's marshal package, so the header is damaged.
    #[test]
    fn unknown_classes_of_the_marshal_package_are_errors() {
        for s in [
            "org.apache.cassandra.db.marshal.UDF8Type",
            "org.apache.cassandra.db.marshal.Mnt32Type",
            "org.apache.cassandra.db.marshal.I.t32Type",
            "UDF8Type",
            "org.apache.cassandra.db.marshal.ListType(org.apache.cassandra.db.marshal.Int32Typf)",
        ] {
            let e = CqlType::parse_marshal(s).expect_err(s);
            assert!(
                matches!(&e.kind, DecodeErrorKind::BadTypeString { reason, .. } if reason.contains("no such class")),
                "{s}: {e:?}"
            );
        }
        // A type class elsewhere in Cassandra's namespace does not exist: a damaged name.
        let e = CqlType::parse_marshal("org.apache.cassandra.eb.marshal.Int32Type").expect_err("moved package");
        assert!(
            matches!(&e.kind, DecodeErrorKind::BadTypeString { reason, .. } if reason.contains("no such type class"))
        );
        // Custom types live in other packages; known uninterpreted classes stay blobs, with
        // parameters from other Cassandra packages.
        for s in [
            "com.example.GeoType",
            // A custom class that shares a simple name with one of Cassandra's is still custom:
            // its bytes are not Int32Type's.
            "com.example.Int32Type",
            "org.apache.cassandra.db.marshal.DynamicCompositeType",
            "DynamicCompositeType",
            "org.apache.cassandra.db.marshal.PartitionerDefinedOrder(org.apache.cassandra.dht.Murmur3Partitioner)",
        ] {
            assert!(matches!(CqlType::parse_marshal(s), Ok(CqlType::Custom(_))), "{s}");
        }
    }

    #[test]
    fn bad_strings_are_errors() {
        for s in ["", "ListType(", "MapType(Int32Type)", "UserType(ks,zz)"] {
            assert!(CqlType::parse_marshal(s).is_err(), "{s}");
        }
    }

    #[test]
    fn parses_cql_syntax() {
        let none = |_: &str| None;
        let t = CqlType::parse_cql("map<int, frozen<list<text>>>", "ks", &none).unwrap();
        assert!(t.is_multi_cell());
        assert_eq!(t.to_string(), "map<int, frozen<list<text>>>");
        let t = CqlType::parse_cql("vector<float, 3>", "ks", &none).unwrap();
        assert_eq!(t, CqlType::Vector { elem: Box::new(CqlType::Float), dimension: 3 });
        assert!(CqlType::parse_cql("frozen<nope>", "ks", &none).is_err());
    }
}
