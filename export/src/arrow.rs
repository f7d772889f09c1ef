//! CQL types to Arrow types, and decoded CQL values to Arrow arrays.
//!
//! | CQL | Arrow |
//! | --- | --- |
//! | `tinyint`, `smallint`, `int`, `bigint`, `counter` | Int8, Int16, Int32, Int64, Int64 |
//! | `float`, `double`, `boolean` | Float32, Float64, Boolean |
//! | `ascii`, `text`, `varchar`, `inet` | Utf8 (`inet` as Cassandra prints it) |
//! | `blob` (and unknown custom types) | Binary |
//! | `uuid`, `timeuuid` | Utf8, the canonical lowercase 8-4-4-4-12 text (with `uuid_as_binary`: FixedSizeBinary(16) tagged `arrow.uuid`, written as Parquet's UUID logical type) |
//! | `timestamp` | Timestamp(ms, UTC) |
//! | `date`, `time` | Date32, Time64(ns) |
//! | `duration` | Struct{months: Int32, days: Int32, nanoseconds: Int64} — Parquet has no month-day-nano interval, so the three fields are kept apart, unrounded |
//! | `decimal` | Decimal128(38, s) when every value fits at the column's largest scale, else Utf8 (exact text) |
//! | `varint` | Decimal128(38, 0) when every value fits, else Utf8 |
//! | `list<T>`, `set<T>` | `List<T>` |
//! | `map<K, V>` | `Map<K, V>` (entries `key`, `value`) |
//! | UDT, `tuple` | Struct (tuple fields `f0`, `f1`, ...) |
//! | `vector<T, n>` | `FixedSizeList<T, n>` |
//!
//! Frozen and non-frozen collections map alike. Decimal and varint columns inside collections,
//! tuples or UDTs are exported as Utf8 (their scale is not known up front); at the top level
//! the exporter measures them first ([`NumericShape`]). A value CQL shows as null — absent, or
//! an empty value of a type whose values are never empty — is null.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int8Builder, Int16Builder,
    Int32Builder, Int64Builder, StringBuilder, Time64NanosecondBuilder, TimestampMillisecondBuilder,
};
use arrow_array::types::Decimal128Type;
use arrow_array::{
    Array, ArrayRef, FixedSizeBinaryArray, FixedSizeListArray, ListArray, MapArray, PrimitiveArray, StructArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Fields, TimeUnit};

use cairn_format::types::CqlType;
use cairn_format::types::render;
use cairn_format::types::value::Value;

/// Field metadata key of Arrow extension types.
pub const EXTENSION_NAME: &str = "ARROW:extension:name";

/// How a top-level decimal or varint column is laid out, from a first pass over its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericShape {
    /// Decimal128 with this scale.
    Decimal128(i8),
    /// Exact text: values Decimal128 cannot hold. Not Decimal256, which DuckDB reads as a
    /// double (losing digits, silently) and Spark refuses, with the whole file.
    Text,
}

/// What a first pass learns of a decimal or varint column: the largest scale and the most
/// integer digits of any value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NumericSpan {
    /// Largest scale seen (0 for varint).
    pub max_scale: i32,
    /// Most digits left of the point.
    pub max_int_digits: i32,
    /// A value whose scale is negative or too large for Arrow decimals was seen.
    pub unrepresentable: bool,
}

impl NumericSpan {
    /// Account for one value.
    pub fn add(&mut self, v: &Value<'_>) {
        let (scale, unscaled) = match v {
            Value::Decimal { scale, unscaled } => (*scale, *unscaled),
            Value::Varint(b) => (0, *b),
            _ => return,
        };
        if !(0..=76).contains(&scale) {
            self.unrepresentable = true;
            return;
        }
        let digits = render::varint_to_string(unscaled).trim_start_matches('-').len() as i32;
        self.max_scale = self.max_scale.max(scale);
        self.max_int_digits = self.max_int_digits.max(digits - scale);
    }

    /// The layout every value fits.
    pub fn shape(&self) -> NumericShape {
        let s = self.max_scale;
        let total = self.max_int_digits.max(1) + s;
        if self.unrepresentable {
            NumericShape::Text
        } else if total <= 38 {
            NumericShape::Decimal128(s as i8)
        } else {
            NumericShape::Text
        }
    }
}

/// Type-mapping choices.
#[derive(Debug, Clone, Copy, Default)]
pub struct TypeOptions {
    /// UUIDs as FixedSizeBinary(16) tagged `arrow.uuid` (Parquet: FIXED_LEN_BYTE_ARRAY(16) with
    /// the UUID logical type, which pyarrow and DuckDB read as a UUID but Spark rejects as an
    /// illegal Parquet type) instead of their canonical text, which every reader reads.
    pub uuid_as_binary: bool,
}

/// The Arrow type of a CQL type (`numeric`: the measured layout of a top-level decimal/varint).
pub fn data_type(ty: &CqlType, o: TypeOptions, numeric: Option<NumericShape>) -> DataType {
    match ty.unreversed() {
        CqlType::TinyInt => DataType::Int8,
        CqlType::SmallInt => DataType::Int16,
        CqlType::Int => DataType::Int32,
        CqlType::BigInt | CqlType::Counter => DataType::Int64,
        CqlType::Float => DataType::Float32,
        CqlType::Double => DataType::Float64,
        CqlType::Boolean => DataType::Boolean,
        CqlType::Ascii | CqlType::Text | CqlType::Inet => DataType::Utf8,
        CqlType::Blob | CqlType::Custom(_) | CqlType::Empty | CqlType::Composite(_) => DataType::Binary,
        CqlType::Uuid | CqlType::TimeUuid | CqlType::LexicalUuid => {
            if o.uuid_as_binary {
                DataType::FixedSizeBinary(16)
            } else {
                DataType::Utf8
            }
        }
        CqlType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        CqlType::Date => DataType::Date32,
        CqlType::Time => DataType::Time64(TimeUnit::Nanosecond),
        CqlType::Duration => DataType::Struct(duration_fields()),
        CqlType::Decimal | CqlType::Varint => match numeric {
            Some(NumericShape::Decimal128(s)) => DataType::Decimal128(38, s),
            Some(NumericShape::Text) | None => DataType::Utf8,
        },
        CqlType::List { elem, .. } | CqlType::Set { elem, .. } => DataType::List(Arc::new(field("element", elem, o))),
        CqlType::Map { key, value, .. } => DataType::Map(Arc::new(map_entries(key, value, o)), false),
        CqlType::Tuple(types) => DataType::Struct(
            types.iter().enumerate().map(|(i, t)| field(&format!("f{i}"), t, o)).collect::<Vec<_>>().into(),
        ),
        CqlType::Udt(u) => DataType::Struct(u.fields.iter().map(|(n, t)| field(n, t, o)).collect::<Vec<_>>().into()),
        CqlType::Vector { elem, dimension } => {
            DataType::FixedSizeList(Arc::new(field("element", elem, o)), i32::try_from(*dimension).unwrap_or(i32::MAX))
        }
        CqlType::Reversed(t) => data_type(t, o, numeric),
    }
}

fn duration_fields() -> Fields {
    vec![
        Field::new("months", DataType::Int32, false),
        Field::new("days", DataType::Int32, false),
        Field::new("nanoseconds", DataType::Int64, false),
    ]
    .into()
}

fn map_entries(key: &CqlType, value: &CqlType, o: TypeOptions) -> Field {
    let mut k = field("key", key, o);
    k.set_nullable(false);
    Field::new("entries", DataType::Struct(vec![k, field("value", value, o)].into()), false)
}

/// A nullable field of a CQL type (nested decimals and varints as text).
pub fn field(name: &str, ty: &CqlType, o: TypeOptions) -> Field {
    field_with(name, ty, o, None)
}

/// A nullable field, with the measured layout of a top-level decimal or varint.
pub fn field_with(name: &str, ty: &CqlType, o: TypeOptions, numeric: Option<NumericShape>) -> Field {
    let f = Field::new(name, data_type(ty, o, numeric), true);
    match ty.unreversed() {
        CqlType::Uuid | CqlType::TimeUuid | CqlType::LexicalUuid if o.uuid_as_binary => {
            f.with_metadata([(EXTENSION_NAME, "arrow.uuid")])
        }
        _ => f,
    }
}

/// An Arrow array of `values` (`None`: null) of CQL type `ty`, typed as `dt` (from
/// [`data_type`]).
pub fn to_array<'v, 'a>(ty: &CqlType, dt: &DataType, values: &[Option<&'v Value<'a>>]) -> ArrayRef {
    let vals: Vec<Option<&'v Value<'a>>> = values
        .iter()
        .map(|v| match v {
            Some(Value::Null | Value::Empty) | None => None,
            Some(x) => Some(*x),
        })
        .collect();
    if let Some(mut b) = Scalar::new(ty, vals.len()) {
        for v in &vals {
            b.push(*v);
        }
        return b.finish();
    }
    match (ty.unreversed(), dt) {
        (_, DataType::Utf8) => {
            let mut b = StringBuilder::with_capacity(vals.len(), vals.len() * 16);
            for v in &vals {
                match v {
                    Some(Value::Inet(x)) => b.append_value(render::format_inet(x)),
                    Some(Value::Uuid(u) | Value::TimeUuid(u)) => b.append_value(render::format_uuid(u)),
                    Some(Value::Decimal { scale, unscaled }) => {
                        b.append_value(render::decimal_to_string(*scale, unscaled))
                    }
                    Some(Value::Varint(x)) => b.append_value(render::varint_to_string(x)),
                    Some(Value::Blob(x)) if x.len() == 16 => {
                        b.append_value(render::format_uuid(&<[u8; 16]>::try_from(*x).unwrap_or_default()))
                    }
                    Some(other) => b.append_value(render::to_cql_string(ty, other)),
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        (_, DataType::FixedSizeBinary(16)) => {
            let iter = vals.iter().map(|v| match v {
                Some(Value::Uuid(u) | Value::TimeUuid(u)) => Some(u.to_vec()),
                Some(Value::Blob(b)) if b.len() == 16 => Some(b.to_vec()),
                _ => None,
            });
            match FixedSizeBinaryArray::try_from_sparse_iter_with_size(iter, 16) {
                Ok(a) => Arc::new(a),
                Err(_) => arrow_array::new_null_array(dt, vals.len()),
            }
        }
        (_, DataType::Binary) => {
            let mut b = BinaryBuilder::with_capacity(vals.len(), vals.len() * 16);
            for v in &vals {
                match v {
                    Some(Value::Blob(x)) => b.append_value(x),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        (CqlType::Duration, DataType::Struct(fields)) => {
            let parts = |f: &dyn Fn(i32, i32, i64) -> i64| -> Vec<i64> {
                vals.iter()
                    .map(|v| match v {
                        Some(Value::Duration { months, days, nanos }) => f(*months, *days, *nanos),
                        _ => 0,
                    })
                    .collect()
            };
            let months: Vec<i32> = parts(&|m, _, _| i64::from(m)).into_iter().map(|x| x as i32).collect();
            let days: Vec<i32> = parts(&|_, d, _| i64::from(d)).into_iter().map(|x| x as i32).collect();
            let nanos = parts(&|_, _, n| n);
            let children: Vec<ArrayRef> = vec![
                Arc::new(PrimitiveArray::<arrow_array::types::Int32Type>::from(months)),
                Arc::new(PrimitiveArray::<arrow_array::types::Int32Type>::from(days)),
                Arc::new(PrimitiveArray::<arrow_array::types::Int64Type>::from(nanos)),
            ];
            Arc::new(StructArray::new(fields.clone(), children, nulls(&vals)))
        }
        (_, DataType::Decimal128(p, s)) => {
            let iter = vals.iter().map(|v| v.and_then(|v| rescale(v, i32::from(*s))));
            let a: PrimitiveArray<Decimal128Type> = iter.collect();
            Arc::new(
                a.with_precision_and_scale(*p, *s).unwrap_or_else(|_| PrimitiveArray::from(vec![None; vals.len()])),
            )
        }
        (CqlType::List { elem, .. } | CqlType::Set { elem, .. }, DataType::List(child)) => {
            let mut offsets = Vec::with_capacity(vals.len() + 1);
            offsets.push(0i32);
            let mut flat: Vec<Option<&Value<'_>>> = Vec::new();
            for v in &vals {
                if let Some(Value::List(items) | Value::Set(items)) = v {
                    flat.extend(items.iter().map(Some));
                }
                offsets.push(flat.len() as i32);
            }
            let values = to_array(elem, child.data_type(), &flat);
            Arc::new(ListArray::new(child.clone(), OffsetBuffer::new(offsets.into()), values, nulls(&vals)))
        }
        (CqlType::Map { key, value, .. }, DataType::Map(entries, _)) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return arrow_array::new_null_array(dt, vals.len());
            };
            let mut offsets = vec![0i32];
            let (mut keys, mut items): (Vec<Option<&Value<'_>>>, Vec<Option<&Value<'_>>>) = (vec![], vec![]);
            for v in &vals {
                if let Some(Value::Map(pairs)) = v {
                    for (k, x) in pairs {
                        keys.push(Some(k));
                        items.push(Some(x));
                    }
                }
                offsets.push(keys.len() as i32);
            }
            let (Some(kf), Some(vf)) = (kv.first(), kv.get(1)) else {
                return arrow_array::new_null_array(dt, vals.len());
            };
            let children = vec![to_array(key, kf.data_type(), &keys), to_array(value, vf.data_type(), &items)];
            let entries_array = StructArray::new(kv.clone(), children, None);
            Arc::new(MapArray::new(
                entries.clone(),
                OffsetBuffer::new(offsets.into()),
                entries_array,
                nulls(&vals),
                false,
            ))
        }
        (CqlType::Tuple(types), DataType::Struct(fields)) => struct_array(types.iter(), fields, &vals),
        (CqlType::Udt(u), DataType::Struct(fields)) => struct_array(u.fields.iter().map(|(_, t)| t), fields, &vals),
        (CqlType::Vector { elem, dimension }, DataType::FixedSizeList(child, size)) => {
            let mut flat: Vec<Option<&Value<'_>>> = Vec::with_capacity(vals.len() * *dimension as usize);
            for v in &vals {
                match v {
                    Some(Value::Vector(items)) if items.len() == *dimension as usize => {
                        flat.extend(items.iter().map(Some))
                    }
                    _ => flat.extend(std::iter::repeat_n(None, *dimension as usize)),
                }
            }
            let values = to_array(elem, child.data_type(), &flat);
            Arc::new(FixedSizeListArray::new(child.clone(), *size, values, nulls(&vals)))
        }
        _ => arrow_array::new_null_array(dt, vals.len()),
    }
}

/// An Arrow builder of a scalar CQL type (the integers, floats, `boolean`, `time`, `timestamp`,
/// `date`, `ascii` and `text`), filled one value at a time: [`to_array`]'s mapping of those
/// types, for callers that decode values one by one instead of collecting them first.
#[derive(Debug)]
pub(crate) enum Scalar {
    /// `tinyint`.
    TinyInt(Int8Builder),
    /// `smallint`.
    SmallInt(Int16Builder),
    /// `int`.
    Int(Int32Builder),
    /// `bigint`.
    BigInt(Int64Builder),
    /// `counter`.
    Counter(Int64Builder),
    /// `float`.
    Float(Float32Builder),
    /// `double`.
    Double(Float64Builder),
    /// `boolean`.
    Boolean(BooleanBuilder),
    /// `time`.
    Time(Time64NanosecondBuilder),
    /// `timestamp`.
    Timestamp(TimestampMillisecondBuilder),
    /// `date`.
    Date(Date32Builder),
    /// `ascii`, `text`.
    Text(StringBuilder),
}

impl Scalar {
    /// A builder for `n` values of `ty`, if it is a scalar type.
    pub(crate) fn new(ty: &CqlType, n: usize) -> Option<Scalar> {
        Some(match ty.unreversed() {
            CqlType::TinyInt => Scalar::TinyInt(Int8Builder::with_capacity(n)),
            CqlType::SmallInt => Scalar::SmallInt(Int16Builder::with_capacity(n)),
            CqlType::Int => Scalar::Int(Int32Builder::with_capacity(n)),
            CqlType::BigInt => Scalar::BigInt(Int64Builder::with_capacity(n)),
            CqlType::Counter => Scalar::Counter(Int64Builder::with_capacity(n)),
            CqlType::Float => Scalar::Float(Float32Builder::with_capacity(n)),
            CqlType::Double => Scalar::Double(Float64Builder::with_capacity(n)),
            CqlType::Boolean => Scalar::Boolean(BooleanBuilder::with_capacity(n)),
            CqlType::Time => Scalar::Time(Time64NanosecondBuilder::with_capacity(n)),
            CqlType::Timestamp => Scalar::Timestamp(TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC")),
            CqlType::Date => Scalar::Date(Date32Builder::with_capacity(n)),
            CqlType::Ascii | CqlType::Text => Scalar::Text(StringBuilder::with_capacity(n, n * 16)),
            _ => return None,
        })
    }

    /// Append one value (`None`, [`Value::Null`], [`Value::Empty`] and values of another type:
    /// null).
    pub(crate) fn push(&mut self, v: Option<&Value<'_>>) {
        match (self, v) {
            (Scalar::TinyInt(b), Some(Value::TinyInt(x))) => b.append_value(*x),
            (Scalar::SmallInt(b), Some(Value::SmallInt(x))) => b.append_value(*x),
            (Scalar::Int(b), Some(Value::Int(x))) => b.append_value(*x),
            (Scalar::BigInt(b), Some(Value::BigInt(x))) => b.append_value(*x),
            (Scalar::Counter(b), Some(Value::Counter(x))) => b.append_value(*x),
            (Scalar::Float(b), Some(Value::Float(x))) => b.append_value(*x),
            (Scalar::Double(b), Some(Value::Double(x))) => b.append_value(*x),
            (Scalar::Boolean(b), Some(Value::Boolean(x))) => b.append_value(*x),
            (Scalar::Time(b), Some(Value::Time(x))) => b.append_value(*x),
            (Scalar::Timestamp(b), Some(Value::Timestamp(ms))) => b.append_value(*ms),
            (Scalar::Date(b), Some(Value::Date(d))) => b.append_value((i64::from(*d) - (1i64 << 31)) as i32),
            (Scalar::Text(b), Some(Value::Text(s) | Value::Ascii(s))) => b.append_value(s),
            (Scalar::TinyInt(b), _) => b.append_null(),
            (Scalar::SmallInt(b), _) => b.append_null(),
            (Scalar::Int(b), _) => b.append_null(),
            (Scalar::BigInt(b) | Scalar::Counter(b), _) => b.append_null(),
            (Scalar::Float(b), _) => b.append_null(),
            (Scalar::Double(b), _) => b.append_null(),
            (Scalar::Boolean(b), _) => b.append_null(),
            (Scalar::Time(b), _) => b.append_null(),
            (Scalar::Timestamp(b), _) => b.append_null(),
            (Scalar::Date(b), _) => b.append_null(),
            (Scalar::Text(b), _) => b.append_null(),
        }
    }

    /// Append `v` `n` times (as `n` calls of [`Scalar::push`]).
    pub(crate) fn push_n(&mut self, v: Option<&Value<'_>>, n: usize) {
        match (self, v) {
            (Scalar::TinyInt(b), Some(Value::TinyInt(x))) => b.append_value_n(*x, n),
            (Scalar::SmallInt(b), Some(Value::SmallInt(x))) => b.append_value_n(*x, n),
            (Scalar::Int(b), Some(Value::Int(x))) => b.append_value_n(*x, n),
            (Scalar::BigInt(b), Some(Value::BigInt(x))) => b.append_value_n(*x, n),
            (Scalar::Counter(b), Some(Value::Counter(x))) => b.append_value_n(*x, n),
            (Scalar::Float(b), Some(Value::Float(x))) => b.append_value_n(*x, n),
            (Scalar::Double(b), Some(Value::Double(x))) => b.append_value_n(*x, n),
            (Scalar::Boolean(b), Some(Value::Boolean(x))) => b.append_n(n, *x),
            (Scalar::Time(b), Some(Value::Time(x))) => b.append_value_n(*x, n),
            (Scalar::Timestamp(b), Some(Value::Timestamp(ms))) => b.append_value_n(*ms, n),
            (Scalar::Date(b), Some(Value::Date(d))) => b.append_value_n((i64::from(*d) - (1i64 << 31)) as i32, n),
            (Scalar::Text(b), Some(Value::Text(s) | Value::Ascii(s))) => b.append_value_n(s, n),
            (this, v) => {
                for _ in 0..n {
                    this.push(v);
                }
            }
        }
    }

    /// Append the value of `ty` (this builder's type) serialized as `b`: what [`decode`] and
    /// [`Scalar::push`] append, or `decode`'s error (then nothing is appended). Values of their
    /// type's usual length go straight into the builder, without a [`Value`] in between.
    ///
    /// [`decode`]: cairn_format::types::value::decode
    pub(crate) fn push_bytes(&mut self, ty: &CqlType, b: &[u8]) -> Result<(), cairn_format::DecodeError> {
        let done = match self {
            Scalar::TinyInt(x) => <[u8; 1]>::try_from(b).map(|a| x.append_value(i8::from_be_bytes(a))).is_ok(),
            Scalar::SmallInt(x) => <[u8; 2]>::try_from(b).map(|a| x.append_value(i16::from_be_bytes(a))).is_ok(),
            Scalar::Int(x) => <[u8; 4]>::try_from(b).map(|a| x.append_value(i32::from_be_bytes(a))).is_ok(),
            Scalar::BigInt(x) => <[u8; 8]>::try_from(b).map(|a| x.append_value(i64::from_be_bytes(a))).is_ok(),
            Scalar::Float(x) => <[u8; 4]>::try_from(b).map(|a| x.append_value(f32::from_be_bytes(a))).is_ok(),
            Scalar::Double(x) => <[u8; 8]>::try_from(b).map(|a| x.append_value(f64::from_be_bytes(a))).is_ok(),
            Scalar::Boolean(x) => <[u8; 1]>::try_from(b).map(|a| x.append_value(a != [0])).is_ok(),
            Scalar::Timestamp(x) => <[u8; 8]>::try_from(b).map(|a| x.append_value(i64::from_be_bytes(a))).is_ok(),
            Scalar::Date(x) => <[u8; 4]>::try_from(b)
                .map(|a| x.append_value((i64::from(u32::from_be_bytes(a)) - (1i64 << 31)) as i32))
                .is_ok(),
            Scalar::Text(x) => match std::str::from_utf8(b) {
                Ok(s) if !matches!(ty.unreversed(), CqlType::Ascii) || s.is_ascii() => {
                    x.append_value(s);
                    true
                }
                _ => false,
            },
            // Range-checked (`time`) or summed from shards (`counter`): decoded in full.
            Scalar::Time(_) | Scalar::Counter(_) => false,
        };
        if !done {
            let v = cairn_format::types::value::decode(ty, b)?;
            self.push(Some(&v));
        }
        Ok(())
    }

    /// The array.
    pub(crate) fn finish(self) -> ArrayRef {
        match self {
            Scalar::TinyInt(mut b) => Arc::new(b.finish()),
            Scalar::SmallInt(mut b) => Arc::new(b.finish()),
            Scalar::Int(mut b) => Arc::new(b.finish()),
            Scalar::BigInt(mut b) | Scalar::Counter(mut b) => Arc::new(b.finish()),
            Scalar::Float(mut b) => Arc::new(b.finish()),
            Scalar::Double(mut b) => Arc::new(b.finish()),
            Scalar::Boolean(mut b) => Arc::new(b.finish()),
            Scalar::Time(mut b) => Arc::new(b.finish()),
            Scalar::Timestamp(mut b) => Arc::new(b.finish()),
            Scalar::Date(mut b) => Arc::new(b.finish()),
            Scalar::Text(mut b) => Arc::new(b.finish()),
        }
    }
}

fn struct_array<'t>(
    types: impl Iterator<Item = &'t CqlType>,
    fields: &Fields,
    vals: &[Option<&Value<'_>>],
) -> ArrayRef {
    let children: Vec<ArrayRef> = types
        .zip(fields.iter())
        .enumerate()
        .map(|(i, (t, f))| {
            let column: Vec<Option<&Value<'_>>> = vals
                .iter()
                .map(|v| match v {
                    Some(Value::Tuple(items) | Value::Udt(items)) => items.get(i),
                    _ => None,
                })
                .collect();
            to_array(t, f.data_type(), &column)
        })
        .collect();
    if children.is_empty() {
        return Arc::new(StructArray::new_empty_fields(vals.len(), nulls(vals)));
    }
    Arc::new(StructArray::new(fields.clone(), children, nulls(vals)))
}

fn nulls(vals: &[Option<&Value<'_>>]) -> Option<NullBuffer> {
    if vals.iter().all(Option::is_some) {
        return None;
    }
    Some(NullBuffer::from(vals.iter().map(Option::is_some).collect::<Vec<bool>>()))
}

/// The unscaled value at `scale` (exact; `None` when it does not fit in i128·10^k arithmetic).
fn rescale(v: &Value<'_>, scale: i32) -> Option<i128> {
    let (s, unscaled) = match v {
        Value::Decimal { scale, unscaled } => (*scale, *unscaled),
        Value::Varint(b) => (0, *b),
        _ => return None,
    };
    let base = be_to_i128(unscaled)?;
    let up = u32::try_from(scale - s).ok()?;
    base.checked_mul(10i128.checked_pow(up)?)
}

fn be_to_i128(b: &[u8]) -> Option<i128> {
    if b.len() > 16 {
        return None;
    }
    let mut bytes = [if b.first().is_some_and(|x| x & 0x80 != 0) { 0xff } else { 0 }; 16];
    bytes.get_mut(16 - b.len()..)?.copy_from_slice(b);
    Some(i128::from_be_bytes(bytes))
}

/// Whether an Arrow array's length matches (a check for callers assembling batches).
pub fn same_len(arrays: &[ArrayRef], n: usize) -> bool {
    arrays.iter().all(|a| a.len() == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_beyond_decimal128_are_exact_text() {
        let shape = |digits: usize| {
            let text = "9".repeat(digits);
            let bytes = cairn_format::types::parse::from_string(&CqlType::Varint, &text).expect("varint");
            let mut span = NumericSpan::default();
            span.add(&Value::Varint(&bytes));
            span.shape()
        };
        assert_eq!(shape(38), NumericShape::Decimal128(0));
        assert_eq!(shape(39), NumericShape::Text);
        assert_eq!(shape(70), NumericShape::Text);
    }
    use cairn_format::types::value::decode;

    /// Byte strings of every length class: the usual lengths, empty, too short and too long,
    /// text that is not UTF-8 or not ASCII, a `time` past midnight.
    fn inputs() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = vec![vec![], vec![0], vec![1], vec![0xff], vec![0, 1, 2]];
        v.push(7i16.to_be_bytes().to_vec());
        v.push((-5i32).to_be_bytes().to_vec());
        v.push(1.5f32.to_be_bytes().to_vec());
        v.push(u32::MAX.to_be_bytes().to_vec());
        v.push(123_456_789i64.to_be_bytes().to_vec());
        v.push((-1i64).to_be_bytes().to_vec());
        v.push(86_400_000_000_000i64.to_be_bytes().to_vec());
        v.push(f64::NAN.to_be_bytes().to_vec());
        v.push(b"plain".to_vec());
        v.push("caf\u{e9}".as_bytes().to_vec());
        v.push(vec![0xc3, 0x28]);
        v.push(vec![0; 9]);
        v
    }

    /// `push_bytes` appends what `decode` then `push` append, and fails where `decode` fails,
    /// for every scalar type and every kind of input.
    #[test]
    fn push_bytes_is_decode_then_push() {
        let types = [
            CqlType::TinyInt,
            CqlType::SmallInt,
            CqlType::Int,
            CqlType::BigInt,
            CqlType::Counter,
            CqlType::Float,
            CqlType::Double,
            CqlType::Boolean,
            CqlType::Time,
            CqlType::Timestamp,
            CqlType::Date,
            CqlType::Ascii,
            CqlType::Text,
            CqlType::Reversed(Box::new(CqlType::Ascii)),
        ];
        for ty in &types {
            let (mut fast, mut slow) = (Scalar::new(ty, 4).expect("scalar"), Scalar::new(ty, 4).expect("scalar"));
            let mut failures = 0;
            for b in inputs() {
                let want = decode(ty, &b);
                let got = fast.push_bytes(ty, &b);
                assert_eq!(got.is_err(), want.is_err(), "{ty:?} {b:?}");
                match want {
                    Ok(v) => slow.push(Some(&v)),
                    Err(e) => {
                        assert_eq!(got.err().map(|g| g.to_string()), Some(e.to_string()), "{ty:?} {b:?}");
                        failures += 1;
                    }
                }
            }
            assert!(failures > 0, "{ty:?}: some input does not decode");
            assert_eq!(fast.finish().to_data(), slow.finish().to_data(), "{ty:?}");
        }
    }

    /// `push_n` appends what `n` calls of `push` append.
    #[test]
    fn push_n_is_n_pushes() {
        let values = [
            (CqlType::Int, Some(Value::Int(-3))),
            (CqlType::Date, Some(Value::Date(7))),
            (CqlType::Text, Some(Value::Text("k"))),
            (CqlType::Boolean, Some(Value::Boolean(true))),
            (CqlType::Int, Some(Value::Empty)),
            (CqlType::Text, None),
        ];
        for (ty, v) in &values {
            let (mut fast, mut slow) = (Scalar::new(ty, 4).expect("scalar"), Scalar::new(ty, 4).expect("scalar"));
            fast.push_n(v.as_ref(), 3);
            for _ in 0..3 {
                slow.push(v.as_ref());
            }
            assert_eq!(fast.finish().to_data(), slow.finish().to_data(), "{ty:?} {v:?}");
        }
    }
}
