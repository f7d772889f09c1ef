//! The HEADER component (Cassandra `db/SerializationHeader.java`, its `Serializer`), read and
//! written: the bases Data.db's deltas are taken from ([`EncodingStats`], Cassandra
//! `db/rows/EncodingStats.java`), the partition-key type, the clustering types and the static and
//! regular columns.
//!
//! ```text
//! uvint min timestamp − TIMESTAMP_EPOCH · uvint min local deletion time − DELETION_TIME_EPOCH ·
//! uvint min TTL
//! uvint-length key type string · uvint n · n x uvint-length clustering type string
//! static columns, then regular columns: uvint n · n x (uvint-length name, uvint-length type)
//! ```

use crate::codec::{Cursor, write_uvint};
use crate::deletion::{normalize_ldt_i32, normalize_ldt_u32};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::types::CqlType;
use crate::version::Version;

/// EncodingStats: the bases that Data.db timestamps, TTLs and deletion times are deltas from.
///
/// Stored as three uvints relative to fixed epochs: min timestamp − 1442880000000000 µs
/// (2015-09-22), min local deletion time − 1442880000 s (as a 32-bit delta), min TTL − 0
/// (Cassandra `db/rows/EncodingStats.java`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingStats {
    /// Base timestamp (µs).
    pub min_timestamp: i64,
    /// Base local deletion time, as 32 raw bits.
    pub min_local_deletion_time: u32,
    /// Base TTL.
    pub min_ttl: i32,
}

/// Timestamp epoch of [`EncodingStats`] (2015-09-22T00:00Z in µs).
pub const TIMESTAMP_EPOCH: i64 = 1_442_880_000_000_000;
/// Deletion-time epoch of [`EncodingStats`] (2015-09-22T00:00Z in s).
pub const DELETION_TIME_EPOCH: i32 = 1_442_880_000;

impl EncodingStats {
    /// Read the three uvints.
    pub fn read(c: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let ts = c.uvint()?;
        let ldt = read_uvint32(c)?;
        let ttl = read_uvint32(c)?;
        Ok(EncodingStats {
            min_timestamp: TIMESTAMP_EPOCH.wrapping_add(ts as i64),
            min_local_deletion_time: (ldt as u32).wrapping_add(DELETION_TIME_EPOCH as u32),
            min_ttl: ttl,
        })
    }

    /// Append the three uvints.
    pub fn write(&self, out: &mut Vec<u8>) {
        crate::codec::write_uvint(out, self.min_timestamp.wrapping_sub(TIMESTAMP_EPOCH) as u64);
        let ldt = (self.min_local_deletion_time as i32).wrapping_sub(DELETION_TIME_EPOCH);
        crate::codec::write_uvint(out, i64::from(ldt) as u64);
        crate::codec::write_uvint(out, i64::from(self.min_ttl) as u64);
    }

    /// Decode a delta-encoded timestamp.
    pub fn timestamp(&self, delta: u64) -> i64 {
        self.min_timestamp.wrapping_add(delta as i64)
    }

    /// Decode a delta-encoded local deletion time for `version` (32-bit arithmetic; unsigned in `oa`).
    pub fn local_deletion_time(&self, delta: i32, version: Version) -> i64 {
        let raw = self.min_local_deletion_time.wrapping_add(delta as u32);
        if version.has_uint_deletion_time() { normalize_ldt_u32(raw) } else { normalize_ldt_i32(raw as i32) }
    }

    /// Decode a delta-encoded TTL.
    pub fn ttl(&self, delta: i32) -> i32 {
        self.min_ttl.wrapping_add(delta)
    }
}

/// A uvint holding a 32-bit delta. Writers sign-extend the i32 before encoding; like Cassandra
/// 3.x and 4.x (`(int) readUnsignedVInt()`), the low 32 bits are taken, so files whose writer
/// stored a wider value (ScyllaDB's "no deletion" base) still read.
pub fn read_uvint32(c: &mut Cursor<'_>) -> Result<i32, DecodeError> {
    Ok(c.uvint()? as i32)
}

/// A column of the serialization header.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderColumn {
    /// Column name (UTF-8 bytes as stored).
    pub name: String,
    /// Type string as stored.
    pub type_string: String,
    /// Parsed type.
    pub ty: CqlType,
}

impl HeaderColumn {
    /// A column of `ty`, with the type string Cassandra would store for it.
    pub fn new(name: &str, ty: CqlType) -> Self {
        HeaderColumn { name: name.into(), type_string: ty.marshal_name(), ty }
    }

    /// Whether the column is stored as several cells.
    pub fn is_complex(&self) -> bool {
        self.ty.is_multi_cell()
    }
}

/// HEADER: the types the Data.db of this SSTable was written with.
#[derive(Debug, Clone, PartialEq)]
pub struct SerializationHeader {
    /// Bases of delta encodings.
    pub stats: EncodingStats,
    /// Partition key type (`CompositeType(...)` for multi-column keys).
    pub key_type: CqlType,
    /// Key type string as stored.
    pub key_type_string: String,
    /// Clustering column types.
    pub clustering_types: Vec<CqlType>,
    /// Clustering type strings as stored.
    pub clustering_type_strings: Vec<String>,
    /// Static columns in Cassandra's column order (simple before complex, then by name bytes).
    pub static_columns: Vec<HeaderColumn>,
    /// Regular columns in the same order.
    pub regular_columns: Vec<HeaderColumn>,
}

impl SerializationHeader {
    /// A header for a key of `key_type`, `clustering` types and the given columns, with the type
    /// strings Cassandra would store and the delta bases in `stats`.
    pub fn new(
        stats: EncodingStats,
        key_type: CqlType,
        clustering: Vec<CqlType>,
        static_columns: Vec<HeaderColumn>,
        regular_columns: Vec<HeaderColumn>,
    ) -> Self {
        SerializationHeader {
            stats,
            key_type_string: key_type.marshal_name(),
            key_type,
            clustering_type_strings: clustering.iter().map(CqlType::marshal_name).collect(),
            clustering_types: clustering,
            static_columns,
            regular_columns,
        }
    }

    pub(super) fn read(c: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let stats = EncodingStats::read(c)?;
        let (key_type_string, key_type) = read_type(c)?;
        let n = c.uvint_count("clustering type count")?;
        let mut clustering_types = Vec::with_capacity(n);
        let mut clustering_type_strings = Vec::with_capacity(n);
        for _ in 0..n {
            let (s, t) = read_type(c)?;
            clustering_type_strings.push(s);
            clustering_types.push(t);
        }
        let static_columns = read_columns(c)?;
        let regular_columns = read_columns(c)?;
        Ok(SerializationHeader {
            stats,
            key_type,
            key_type_string,
            clustering_types,
            clustering_type_strings,
            static_columns,
            regular_columns,
        })
    }

    /// Whether partitions carry a static row.
    pub fn has_static(&self) -> bool {
        !self.static_columns.is_empty()
    }

    /// The classes of the custom types any column of this header has ([`CqlType::custom_classes`]),
    /// sorted, each once.
    pub fn custom_classes(&self) -> Vec<String> {
        let mut classes = Vec::new();
        self.key_type.custom_classes(&mut classes);
        for t in &self.clustering_types {
            t.custom_classes(&mut classes);
        }
        for c in self.static_columns.iter().chain(&self.regular_columns) {
            c.ty.custom_classes(&mut classes);
        }
        let mut classes: Vec<String> = classes.into_iter().map(str::to_string).collect();
        classes.sort();
        classes.dedup();
        classes
    }

    /// Types of the partition key's components.
    pub fn key_components(&self) -> Vec<CqlType> {
        match &self.key_type {
            CqlType::Composite(ts) => ts.clone(),
            t => vec![t.clone()],
        }
    }
}

pub(super) fn read_type(c: &mut Cursor<'_>) -> Result<(String, CqlType), DecodeError> {
    let at = c.offset();
    let b = c.uvint_bytes("type string length")?;
    let s = std::str::from_utf8(b)
        .map_err(|_| DecodeError::new(at, DecodeErrorKind::InvalidUtf8 { what: "type string" }))?;
    let t = CqlType::parse_marshal(s).map_err(|e| DecodeError::new(at, e.kind))?;
    Ok((s.to_string(), t))
}

fn read_columns(c: &mut Cursor<'_>) -> Result<Vec<HeaderColumn>, DecodeError> {
    let n = c.uvint_count("column count")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let at = c.offset();
        let name = c.uvint_bytes("column name length")?;
        let name = String::from_utf8(name.to_vec())
            .map_err(|_| DecodeError::new(at, DecodeErrorKind::InvalidUtf8 { what: "column name" }))?;
        let (type_string, ty) = read_type(c)?;
        out.push(HeaderColumn { name, type_string, ty });
    }
    // Cassandra orders columns simple-before-complex, then by name bytes (ColumnMetadata
    // comparison); the reader rebuilds that order whatever the file lists.
    out.sort_by(|a, b| a.is_complex().cmp(&b.is_complex()).then_with(|| a.name.as_bytes().cmp(b.name.as_bytes())));
    Ok(out)
}

pub(super) fn write_type(out: &mut Vec<u8>, s: &str) {
    write_uvint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

impl SerializationHeader {
    /// Serialize the HEADER component.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.stats.write(out);
        write_type(out, &self.key_type_string);
        write_uvint(out, self.clustering_type_strings.len() as u64);
        for t in &self.clustering_type_strings {
            write_type(out, t);
        }
        for list in [&self.static_columns, &self.regular_columns] {
            write_uvint(out, list.len() as u64);
            for c in list {
                write_uvint(out, c.name.len() as u64);
                out.extend_from_slice(c.name.as_bytes());
                write_type(out, &c.type_string);
            }
        }
    }
}
