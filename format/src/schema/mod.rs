//! Table schemas: what the columns of an SSTable are called and typed.
//!
//! The serialization header of Statistics.db names and types the static and regular columns
//! and types the key and clustering columns, but does not name the latter. A `CREATE TABLE`
//! (a snapshot's `schema.cql`, or `--schema FILE.cql`) supplies those names; it must agree with
//! the header, or [`TableSchema::from_cql_file`] fails naming the column and both types.
//!
//! Columns dropped from the table ([`TableSchema::dropped`], from the `ALTER TABLE ... DROP ...
//! USING TIMESTAMP` lines of a snapshot's schema.cql) may still be in an SSTable's header; every
//! read leaves out their cells written at or before the drop, as Cassandra's does
//! (`SerializationHelper.isDropped` in its `db/rows/`), so a dropped column's data never comes back.

pub mod cql;
pub mod lexer;
pub mod render;

use std::path::Path;

use crate::error::{Error, Result};
use crate::statistics::SerializationHeader;
use crate::types::CqlType;

/// A column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Name.
    pub name: String,
    /// Type (without the `ReversedType` wrapper).
    pub ty: CqlType,
}

/// A column dropped from the table (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    /// The column as it was.
    pub column: ColumnDef,
    /// Whether it was static.
    pub is_static: bool,
    /// When it was dropped (µs): its cells and deletions at or before then are gone.
    pub dropped_at: i64,
}

/// Where the key and clustering names came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaSource {
    /// Only the serialization header: key columns get placeholder names.
    Header,
    /// A CQL file.
    Cql(std::path::PathBuf),
}

/// The schema of one table as far as reading its SSTables needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// Keyspace (empty when unknown).
    pub keyspace: String,
    /// Table (empty when unknown).
    pub table: String,
    /// Partition key columns.
    pub partition_key: Vec<ColumnDef>,
    /// Clustering columns, with whether each is DESC.
    pub clustering: Vec<(ColumnDef, bool)>,
    /// Static columns (from the schema when known, else the header).
    pub static_columns: Vec<ColumnDef>,
    /// Regular columns.
    pub regular_columns: Vec<ColumnDef>,
    /// Table options from `WITH` (raw text).
    pub options: Vec<(String, String)>,
    /// `WITH COMPACT STORAGE`.
    pub compact_storage: bool,
    /// Where the names came from.
    pub source: SchemaSource,
    /// Columns dropped since the table was made.
    pub dropped: Vec<Dropped>,
}

impl TableSchema {
    /// A schema from the serialization header alone. Key columns are called `partition_key`
    /// (or `partition_key_N`) and `clustering_N`, as Cassandra's offline tools name them.
    pub fn from_header(h: &SerializationHeader) -> TableSchema {
        let keys = h.key_components();
        let partition_key = if keys.len() == 1 {
            vec![ColumnDef { name: "partition_key".into(), ty: keys.into_iter().next().unwrap_or(CqlType::Blob) }]
        } else {
            keys.into_iter().enumerate().map(|(i, ty)| ColumnDef { name: format!("partition_key_{i}"), ty }).collect()
        };
        let clustering = h
            .clustering_types
            .iter()
            .enumerate()
            .map(|(i, t)| (ColumnDef { name: format!("clustering_{i}"), ty: t.unreversed().clone() }, t.is_reversed()))
            .collect();
        let col = |c: &crate::statistics::HeaderColumn| ColumnDef { name: c.name.clone(), ty: c.ty.clone() };
        TableSchema {
            keyspace: String::new(),
            table: String::new(),
            partition_key,
            clustering,
            static_columns: h.static_columns.iter().map(col).collect(),
            regular_columns: h.regular_columns.iter().map(col).collect(),
            options: vec![],
            compact_storage: false,
            source: SchemaSource::Header,
            dropped: vec![],
        }
    }

    /// Read `path` (a CQL file) and build the schema of the table it defines that matches
    /// `keyspace.table` (else a table of that name, else its first table), checked against
    /// `header`.
    pub fn from_cql_file(
        path: &Path,
        keyspace: Option<&str>,
        table: Option<&str>,
        header: &SerializationHeader,
    ) -> Result<TableSchema> {
        let s = Self::from_cql_file_alone(path, keyspace, table)?;
        s.check_against(header)?;
        Ok(s)
    }

    /// Read `path` (a CQL file) and build the schema of the table it defines that matches
    /// `keyspace.table` (else a table of that name, else its first table), with no SSTable to
    /// check it against (for writing new SSTables of the table).
    pub fn from_cql_file_alone(path: &Path, keyspace: Option<&str>, table: Option<&str>) -> Result<TableSchema> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let file = cql::parse(&text).map_err(|error| Error::Cql { path: path.to_path_buf(), error })?;
        let pick = match table {
            Some(name) => file
                .tables
                .iter()
                .find(|t| t.name == name && keyspace.is_some() && t.keyspace.as_deref() == keyspace)
                .or_else(|| file.tables.iter().find(|t| t.name == name))
                .or_else(|| file.tables.first()),
            None => file.tables.first(),
        };
        let Some(t) = pick else {
            return Err(Error::Cql {
                path: path.to_path_buf(),
                error: cql::CqlError { position: 0, message: "no CREATE TABLE statement".into() },
            });
        };
        let mut s = Self::from_create(t, &file.types).map_err(|message| Error::Cql {
            path: path.to_path_buf(),
            error: cql::CqlError { position: 0, message },
        })?;
        s.source = SchemaSource::Cql(path.to_path_buf());
        Ok(s)
    }

    /// The serialization header SSTables of this table are written with: the partition key's
    /// type (`CompositeType` for several columns), clustering types (`ReversedType` for DESC),
    /// static and regular columns in Cassandra's order (simple before complex, then by name
    /// bytes: `ColumnMetadata`'s comparison in `schema/ColumnMetadata.java`), and delta bases at
    /// Cassandra's encoding epoch (`EncodingStats.NO_STATS`).
    pub fn serialization_header(&self) -> SerializationHeader {
        use crate::statistics::{DELETION_TIME_EPOCH, EncodingStats, HeaderColumn, TIMESTAMP_EPOCH};
        let key = match self.partition_key.as_slice() {
            [one] => one.ty.clone(),
            many => CqlType::Composite(many.iter().map(|c| c.ty.clone()).collect()),
        };
        let clustering: Vec<CqlType> = self
            .clustering
            .iter()
            .map(|(c, desc)| if *desc { CqlType::Reversed(Box::new(c.ty.clone())) } else { c.ty.clone() })
            .collect();
        let sorted = |cols: &[ColumnDef]| {
            let mut v: Vec<HeaderColumn> = cols.iter().map(|c| HeaderColumn::new(&c.name, c.ty.clone())).collect();
            v.sort_by(|a, b| {
                a.is_complex().cmp(&b.is_complex()).then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
            });
            v
        };
        SerializationHeader::new(
            EncodingStats {
                min_timestamp: TIMESTAMP_EPOCH,
                min_local_deletion_time: DELETION_TIME_EPOCH as u32,
                min_ttl: 0,
            },
            key,
            clustering,
            sorted(&self.static_columns),
            sorted(&self.regular_columns),
        )
    }

    /// Build a schema from a parsed `CREATE TABLE`.
    pub fn from_create(t: &cql::CreateTable, types: &[cql::CreateType]) -> std::result::Result<TableSchema, String> {
        let ks = t.keyspace.clone().unwrap_or_default();
        let lookup = |n: &str| cql::resolve_udt(types, &ks, n);
        let ty_of = |name: &str| -> std::result::Result<CqlType, String> {
            let c = t.columns.iter().find(|c| c.name == name).ok_or(format!("column {name} is not defined"))?;
            CqlType::parse_cql(&c.type_text, &ks, &lookup)
        };
        let partition_key = t
            .partition_key
            .iter()
            .map(|n| Ok(ColumnDef { name: n.clone(), ty: ty_of(n)? }))
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let clustering = t
            .clustering
            .iter()
            .map(|n| Ok((ColumnDef { name: n.clone(), ty: ty_of(n)? }, t.descending.contains(n))))
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let mut static_columns = Vec::new();
        let mut regular_columns = Vec::new();
        for c in &t.columns {
            if t.partition_key.contains(&c.name) || t.clustering.contains(&c.name) {
                continue;
            }
            let def = ColumnDef { name: c.name.clone(), ty: ty_of(&c.name)? };
            if c.is_static { static_columns.push(def) } else { regular_columns.push(def) }
        }
        // Options that decide what is purged or expired must be numbers: one that is not is
        // refused here, never read as "unset" (which would mean the default gc grace).
        for name in ["gc_grace_seconds", "default_time_to_live"] {
            if let Some((_, v)) = t.options.iter().find(|(k, _)| k == name)
                && !v.trim().parse::<i64>().is_ok_and(|n| n >= 0)
            {
                return Err(format!("table option {name} = {v} is not a whole number of seconds"));
            }
        }
        let dropped = t
            .dropped
            .iter()
            .map(|d| {
                let ty = CqlType::parse_cql(&d.type_text, &ks, &lookup)?;
                let column = ColumnDef { name: d.name.clone(), ty };
                Ok(Dropped { column, is_static: d.is_static, dropped_at: d.dropped_at })
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        Ok(TableSchema {
            dropped,
            keyspace: ks,
            table: t.name.clone(),
            partition_key,
            clustering,
            static_columns,
            regular_columns,
            options: t.options.clone(),
            compact_storage: t.compact_storage,
            source: SchemaSource::Header,
        })
    }

    /// Check this schema against an SSTable's serialization header.
    pub fn check_against(&self, h: &SerializationHeader) -> Result<()> {
        let keys = h.key_components();
        let table = format!("{}.{}", self.keyspace, self.table);
        if keys.len() != self.partition_key.len() {
            return Err(Error::SchemaShape {
                what: "partition key columns",
                schema: self.partition_key.len().to_string(),
                header: keys.len().to_string(),
            });
        }
        for (def, ty) in self.partition_key.iter().zip(&keys) {
            if !def.ty.compatible_with(ty) {
                return Err(Error::SchemaMismatch {
                    column: def.name.clone(),
                    header_type: ty.to_string(),
                    schema_type: def.ty.to_string(),
                });
            }
        }
        // COMPACT STORAGE tables without clustering keep their columns as static columns
        // beside a hidden clustering column; the header then has more clustering than CQL.
        let hidden_compact = self.compact_storage && self.clustering.is_empty();
        if !hidden_compact {
            if h.clustering_types.len() != self.clustering.len() {
                return Err(Error::SchemaShape {
                    what: "clustering columns",
                    schema: self.clustering.len().to_string(),
                    header: h.clustering_types.len().to_string(),
                });
            }
            for ((def, desc), ty) in self.clustering.iter().zip(&h.clustering_types) {
                if !def.ty.compatible_with(ty.unreversed()) || *desc != ty.is_reversed() {
                    let schema_type = if *desc { format!("{} DESC", def.ty) } else { def.ty.to_string() };
                    let header_type =
                        if ty.is_reversed() { format!("{} DESC", ty.unreversed()) } else { ty.to_string() };
                    return Err(Error::SchemaMismatch { column: def.name.clone(), header_type, schema_type });
                }
            }
        }
        let all: Vec<&ColumnDef> = self.static_columns.iter().chain(&self.regular_columns).collect();
        for hc in h.static_columns.iter().chain(&h.regular_columns) {
            if hidden_compact && (hc.name.is_empty() || hc.name == "value") {
                continue;
            }
            // A column added again after a drop has the type it was added with (Cassandra
            // refuses an incompatible one); a column dropped for good, the type it had.
            let Some(def) = all.iter().find(|d| d.name == hc.name).copied() else {
                // A column dropped for good: its cells up to the drop are never read, so its
                // type is not checked (Cassandra records a dropped UDT column as the tuple it
                // expands to, where the header still says the UDT).
                if self.dropped.iter().any(|d| d.column.name == hc.name) {
                    continue;
                }
                return Err(Error::UnknownColumn { column: hc.name.clone(), table });
            };
            if !def.ty.compatible_with(&hc.ty) {
                return Err(Error::SchemaMismatch {
                    column: hc.name.clone(),
                    header_type: hc.ty.to_string(),
                    schema_type: def.ty.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Adopt the schema's freezing for header columns whose types agree structurally but not in
    /// freezing (CASSANDRA-15035: frozen UDTs written into headers as non-frozen), then restore
    /// Cassandra's column order. Cassandra itself takes column complexity from the schema.
    pub fn fix_header(&self, h: &mut SerializationHeader) {
        let defs: Vec<&ColumnDef> = self
            .static_columns
            .iter()
            .chain(&self.regular_columns)
            .chain(self.dropped.iter().map(|d| &d.column))
            .collect();
        for col in h.static_columns.iter_mut().chain(h.regular_columns.iter_mut()) {
            if let Some(def) = defs.iter().find(|d| d.name == col.name)
                && def.ty.compatible_with(&col.ty)
                && def.ty.is_multi_cell() != col.ty.is_multi_cell()
            {
                col.ty = def.ty.clone();
            }
        }
        for list in [&mut h.static_columns, &mut h.regular_columns] {
            list.sort_by(|a, b| {
                a.is_complex().cmp(&b.is_complex()).then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
            });
        }
    }

    /// Whether column `name` was dropped and not added again.
    pub fn dropped_for_good(&self, name: &str) -> bool {
        self.dropped.iter().any(|d| d.column.name == name)
            && !self.static_columns.iter().chain(&self.regular_columns).any(|c| c.name == name)
    }

    /// The header columns of `h` this schema says were dropped, with when: for its static
    /// columns (`statics`) or its regular ones, each as its index in that list of `h`.
    pub fn dropped_in(&self, h: &SerializationHeader, statics: bool) -> Vec<(u16, i64)> {
        let list = if statics { &h.static_columns } else { &h.regular_columns };
        self.dropped
            .iter()
            .filter(|d| d.is_static == statics)
            .filter_map(|d| list.iter().position(|c| c.name == d.column.name).map(|i| (i as u16, d.dropped_at)))
            .collect()
    }

    /// A table option's raw value.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `gc_grace_seconds` from the table options (checked to be a number when the schema was
    /// built from CQL).
    pub fn gc_grace_seconds(&self) -> Option<i64> {
        self.option("gc_grace_seconds").and_then(|v| v.trim().parse().ok())
    }

    /// The table's `default_time_to_live` (s): the TTL of a write that names none (Cassandra's
    /// `Attributes.getTimeToLive`); `None` when unset or 0.
    pub fn default_time_to_live(&self) -> Option<i32> {
        self.option("default_time_to_live").and_then(|v| v.trim().parse().ok()).filter(|&ttl: &i32| ttl > 0)
    }
}
