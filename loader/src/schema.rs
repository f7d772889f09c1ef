//! The target's schema: checked before any write, created with `--create-schema`.
//!
//! The check reads `system_schema.columns` for the target table (Cassandra's schema tables,
//! schema/SchemaKeyspace.java) and requires every source column — after `--rename-column` — to
//! exist with the same CQL type; a missing table or any mismatch stops the load before it
//! writes anything. `--create-schema` creates the keyspace (SimpleStrategy, replication factor
//! 1: a restore target's replication is the operator's choice, made beforehand), the UDTs the
//! columns use (innermost first), and the table with the source's primary key and clustering
//! order. With `--plan` nothing is created: a missing table is reported as what
//! `--create-schema` would do.

use std::collections::BTreeMap;

use cairn_format::schema::render::{self as ddl, Layout, Style};
use cairn_format::types::CqlType;

use crate::session::Target;
use crate::statements::TableCtx;
use crate::{LoadError, LoadOptions};

/// Make sure the target can take `ctx`'s data (creating it with `--create-schema`), and say
/// how it stands: `ok`, or with `--plan --create-schema`, that the table would be created.
pub(crate) fn prepare(target: &Target, ctx: &TableCtx, o: &LoadOptions) -> Result<String, LoadError> {
    if o.plan {
        return match check(target, ctx) {
            Ok(()) => Ok("ok".to_string()),
            Err(LoadError::TableMissing { .. }) if o.create_schema => {
                Ok("the table does not exist: --create-schema would create it".to_string())
            }
            Err(e) => Err(e),
        };
    }
    if o.create_schema {
        create(target, ctx)?;
    }
    check(target, ctx)?;
    Ok("ok".to_string())
}

/// The loader creates what is missing and leaves what exists.
const IF_NOT_EXISTS: Style = Style { if_not_exists: true, layout: Layout::Line };

/// Create the keyspace, the UDTs and the table (each `IF NOT EXISTS`), then refresh the
/// driver's metadata so routing knows the table.
fn create(target: &Target, ctx: &TableCtx) -> Result<(), LoadError> {
    let fail = |statement: &str, e: Box<dyn std::error::Error + Send + Sync>| LoadError::CreateSchema {
        table: ctx.name(),
        statement: statement.to_string(),
        source: e,
    };
    let replication = [("class", "SimpleStrategy"), ("replication_factor", "1")].map(|(k, v)| (k.into(), v.into()));
    let keyspace = ddl::create_keyspace(&ctx.keyspace, &replication, None, IF_NOT_EXISTS);
    let mut statements = vec![keyspace];
    statements.extend(create_types(ctx));
    statements.push(create_table(ctx));
    for cql in statements {
        target.rt.block_on(target.session.query_unpaged(cql.as_str(), &[])).map_err(|e| fail(&cql, Box::new(e)))?;
    }
    target.rt.block_on(target.session.refresh_metadata()).map_err(|e| fail("refresh metadata", Box::new(e)))
}

/// CREATE TYPE statements for the UDTs a schema uses (innermost first).
fn create_types(ctx: &TableCtx) -> Vec<String> {
    fn walk(t: &CqlType, out: &mut Vec<cairn_format::types::UdtType>) {
        match t.unreversed() {
            CqlType::List { elem, .. } | CqlType::Set { elem, .. } | CqlType::Vector { elem, .. } => walk(elem, out),
            CqlType::Map { key, value, .. } => {
                walk(key, out);
                walk(value, out);
            }
            CqlType::Tuple(ts) => ts.iter().for_each(|x| walk(x, out)),
            CqlType::Udt(u) => {
                u.fields.iter().for_each(|(_, x)| walk(x, out));
                if !out.iter().any(|o| o.name == u.name) {
                    out.push((**u).clone());
                }
            }
            _ => {}
        }
    }
    let mut udts = Vec::new();
    for c in ctx
        .schema
        .partition_key
        .iter()
        .chain(ctx.schema.clustering.iter().map(|(c, _)| c))
        .chain(&ctx.schema.static_columns)
        .chain(&ctx.schema.regular_columns)
    {
        walk(&c.ty, &mut udts);
    }
    udts.iter()
        .map(|u| {
            let fields = u.fields.iter().map(|(n, t)| (n.as_str(), t.to_string()));
            ddl::create_type_fields(&ctx.keyspace, &u.name, fields, IF_NOT_EXISTS)
        })
        .collect()
}

/// The CREATE TABLE statement of a source schema, under the target's names (keyspace, table,
/// renamed columns); the source's table options are not carried over.
fn create_table(ctx: &TableCtx) -> String {
    let mut target = ctx.schema.clone();
    target.keyspace.clone_from(&ctx.keyspace);
    target.table.clone_from(&ctx.table);
    target.options.clear();
    let rename = |c: &mut cairn_format::schema::ColumnDef| {
        if let Some((_, new)) = ctx.renames.iter().find(|(old, _)| *old == c.name) {
            c.name.clone_from(new);
        }
    };
    target.partition_key.iter_mut().for_each(rename);
    target.clustering.iter_mut().for_each(|(c, _)| rename(c));
    target.static_columns.iter_mut().for_each(rename);
    target.regular_columns.iter_mut().for_each(rename);
    ddl::create_table(&target, IF_NOT_EXISTS)
}

/// Every source column must exist on the target with the same type.
fn check(target: &Target, ctx: &TableCtx) -> Result<(), LoadError> {
    let name = ctx.name();
    let q = format!(
        "SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = '{}' AND table_name = '{}'",
        ctx.keyspace.replace('\'', "''"),
        ctx.table.replace('\'', "''")
    );
    let query_err =
        |e: Box<dyn std::error::Error + Send + Sync>| LoadError::SchemaQuery { table: name.clone(), source: e };
    let res = target
        .rt
        .block_on(target.session.query_unpaged(q, &[]))
        .map_err(|e| query_err(Box::new(e)))?
        .into_rows_result()
        .map_err(|e| query_err(Box::new(e)))?;
    let target: BTreeMap<String, String> = res
        .rows::<(String, String)>()
        .map_err(|e| query_err(Box::new(e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| query_err(Box::new(e)))?;
    if target.is_empty() {
        return Err(LoadError::TableMissing { table: name });
    }
    let mut problems = Vec::new();
    let source = ctx
        .schema
        .partition_key
        .iter()
        .chain(ctx.schema.clustering.iter().map(|(c, _)| c))
        .chain(ctx.schema.static_columns.iter())
        .chain(ctx.schema.regular_columns.iter());
    for c in source {
        let renamed = ctx.renames.iter().find(|(a, _)| *a == c.name).map_or(c.name.as_str(), |(_, b)| b.as_str());
        match target.get(renamed) {
            None => problems.push(format!("column {renamed} is missing")),
            Some(t) if t.replace(' ', "") != c.ty.to_string().replace(' ', "") => {
                problems.push(format!("column {renamed} is {t} on the target, {} in the data", c.ty));
            }
            _ => {}
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(LoadError::SchemaMismatch { table: name, problems }) }
}
