//! CQL DDL text from the schema types: `CREATE KEYSPACE`, `CREATE TYPE` and `CREATE TABLE`, in
//! one place. Identifiers are double-quoted when they are not plain lowercase names
//! ([`maybe_quote_identifier`]); type texts are written as given ([`crate::types::CqlType`]'s `Display` is
//! CQL). The statements carry no trailing `;` — a schema file adds one per statement, DESCRIBE
//! adds its own.
//!
//! Two layouts: [`Layout::Line`] (one line per statement, as a replayed schema file wants it) and
//! [`Layout::Describe`] (cqlsh's DESCRIBE layout: a type's fields one per line, `  AND` before
//! keyspace options; Cassandra's `SchemaCQLHelper` / `KeyspaceMetadata.toCqlString`).

use super::TableSchema;
use super::cql::CreateType;
use crate::types::render::maybe_quote_identifier;

/// How a statement is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// One line.
    #[default]
    Line,
    /// As cqlsh's DESCRIBE shows it.
    Describe,
}

/// Options of a rendered statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// `IF NOT EXISTS` after the object kind.
    pub if_not_exists: bool,
    /// The layout.
    pub layout: Layout,
}

impl Style {
    /// One line, without `IF NOT EXISTS`.
    pub const LINE: Style = Style { if_not_exists: false, layout: Layout::Line };
    /// cqlsh's DESCRIBE layout.
    pub const DESCRIBE: Style = Style { if_not_exists: false, layout: Layout::Describe };

    fn ine(&self) -> &'static str {
        if self.if_not_exists { "IF NOT EXISTS " } else { "" }
    }
}

/// `keyspace.name`, each part quoted when it needs to be.
fn qualified(keyspace: &str, name: &str) -> String {
    if keyspace.is_empty() {
        maybe_quote_identifier(name)
    } else {
        format!("{}.{}", maybe_quote_identifier(keyspace), maybe_quote_identifier(name))
    }
}

/// A CQL string literal.
fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `CREATE KEYSPACE name WITH replication = {...}` (and `AND durable_writes = ...` when given).
pub fn create_keyspace(
    name: &str,
    replication: &[(String, String)],
    durable_writes: Option<bool>,
    style: Style,
) -> String {
    let map: Vec<String> =
        replication.iter().map(|(k, v)| format!("{}: {}", string_literal(k), string_literal(v))).collect();
    let mut out = format!(
        "CREATE KEYSPACE {}{} WITH replication = {{{}}}",
        style.ine(),
        maybe_quote_identifier(name),
        map.join(", ")
    );
    if let Some(d) = durable_writes {
        let and = if style.layout == Layout::Describe { "  AND" } else { " AND" };
        out.push_str(&format!("{and} durable_writes = {d}"));
    }
    out
}

/// `CREATE TYPE keyspace.name (field type, ...)` from (name, type text) fields.
pub fn create_type_fields<'a>(
    keyspace: &str,
    name: &str,
    fields: impl IntoIterator<Item = (&'a str, String)>,
    style: Style,
) -> String {
    let fields: Vec<String> = fields.into_iter().map(|(n, t)| format!("{} {t}", maybe_quote_identifier(n))).collect();
    let body = match style.layout {
        Layout::Line => fields.join(", "),
        Layout::Describe => format!("\n    {}\n", fields.join(",\n    ")),
    };
    format!("CREATE TYPE {}{} ({body})", style.ine(), qualified(keyspace, name))
}

/// `CREATE TYPE` of a parsed type, in `keyspace`.
pub fn create_type(keyspace: &str, ty: &CreateType, style: Style) -> String {
    create_type_fields(keyspace, &ty.name, ty.fields.iter().map(|(n, t)| (n.as_str(), t.clone())), style)
}

/// `CREATE TABLE` of a table schema: partition key, clustering, static and regular columns in
/// that order, the primary key, the clustering order, then the other options as written.
pub fn create_table(schema: &TableSchema, style: Style) -> String {
    let q = |n: &str| maybe_quote_identifier(n);
    let mut cols: Vec<String> = Vec::new();
    cols.extend(schema.partition_key.iter().map(|c| format!("{} {}", q(&c.name), c.ty)));
    cols.extend(schema.clustering.iter().map(|(c, _)| format!("{} {}", q(&c.name), c.ty)));
    cols.extend(schema.static_columns.iter().map(|c| format!("{} {} static", q(&c.name), c.ty)));
    cols.extend(schema.regular_columns.iter().map(|c| format!("{} {}", q(&c.name), c.ty)));
    let pk: Vec<String> = schema.partition_key.iter().map(|c| q(&c.name)).collect();
    let mut key = if pk.len() == 1 { pk.join("") } else { format!("({})", pk.join(", ")) };
    for (c, _) in &schema.clustering {
        key.push_str(", ");
        key.push_str(&q(&c.name));
    }
    cols.push(format!("PRIMARY KEY ({key})"));
    let (open, sep, close, and) = match style.layout {
        Layout::Line => ("", ", ", "", " AND "),
        Layout::Describe => ("\n    ", ",\n    ", "\n", "\n    AND "),
    };
    let mut out = format!(
        "CREATE TABLE {}{} ({open}{}{close})",
        style.ine(),
        qualified(&schema.keyspace, &schema.table),
        cols.join(sep)
    );
    let mut with: Vec<String> = Vec::new();
    if schema.compact_storage {
        with.push("COMPACT STORAGE".into());
    }
    if !schema.clustering.is_empty() {
        let order: Vec<String> = schema
            .clustering
            .iter()
            .map(|(c, desc)| format!("{} {}", q(&c.name), if *desc { "DESC" } else { "ASC" }))
            .collect();
        with.push(format!("CLUSTERING ORDER BY ({})", order.join(", ")));
    }
    with.extend(schema.options.iter().map(|(k, v)| format!("{k} = {v}")));
    if !with.is_empty() {
        out.push_str(" WITH ");
        out.push_str(&with.join(and));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::cql::parse;

    #[test]
    fn keyspaces_types_and_tables_render_and_parse_back() {
        let repl = vec![("class".to_string(), "SimpleStrategy".to_string()), ("replication_factor".into(), "1".into())];
        assert_eq!(
            create_keyspace("ks", &repl, Some(true), Style::LINE),
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'} AND durable_writes = true"
        );
        assert_eq!(
            create_keyspace("Ks", &repl[..1], None, Style { if_not_exists: true, ..Style::LINE }),
            "CREATE KEYSPACE IF NOT EXISTS \"Ks\" WITH replication = {'class': 'SimpleStrategy'}"
        );
        let file = parse(
            "CREATE TYPE ks.addr (street text, \"Zip\" int);\n\
             CREATE TABLE ks.t (k int, \"C\" text, s int static, v frozen<addr>, m map<int, text>, \
             PRIMARY KEY ((k), \"C\")) WITH CLUSTERING ORDER BY (\"C\" DESC) AND gc_grace_seconds = 10;",
        )
        .expect("parses");
        let ty = &file.types[0];
        assert_eq!(create_type("ks", ty, Style::LINE), "CREATE TYPE ks.addr (street text, \"Zip\" int)");
        assert_eq!(
            create_type("ks", ty, Style::DESCRIBE),
            "CREATE TYPE ks.addr (\n    street text,\n    \"Zip\" int\n)"
        );
        let mut schema = TableSchema::from_create(&file.tables[0], &file.types).expect("schema");
        schema.keyspace = "ks".into();
        let text = create_table(&schema, Style::LINE);
        assert_eq!(
            text,
            "CREATE TABLE ks.t (k int, \"C\" text, s int static, v frozen<addr>, m map<int, text>, \
             PRIMARY KEY (k, \"C\")) WITH CLUSTERING ORDER BY (\"C\" DESC) AND gc_grace_seconds = 10"
        );
        // What is rendered is what was parsed.
        let again = parse(&format!("{};", create_type("ks", ty, Style::LINE))).expect("reparses");
        assert_eq!(&again.types[0].fields, &ty.fields);
        let again = parse(&text).expect("reparses");
        let mut back = TableSchema::from_create(&again.tables[0], &file.types).expect("schema");
        back.keyspace = "ks".into();
        assert_eq!(back, schema);
        let pretty = create_table(&schema, Style::DESCRIBE);
        assert!(pretty.starts_with("CREATE TABLE ks.t (\n    k int,\n"), "{pretty}");
        let again = parse(&pretty).expect("reparses");
        assert_eq!(again.tables[0].columns, file.tables[0].columns);
    }
}
