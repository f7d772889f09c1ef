//! Server-side DESCRIBE, as Cassandra 4.0 answers it: rows of (keyspace_name, type, name,
//! create_statement).

use cairn_format::schema::cql::CreateType;
use cairn_format::schema::render::{self, Style};
use cairn_format::types::CqlType;

use super::resolve_keyspace;
use crate::catalog::Catalog;
use crate::catalog::Keyspace;
use crate::connection::Session;
use crate::cql::QName;
use crate::protocol::{Columns, Failure, Outcome, Row, invalid};
use crate::values;

/// A keyspace's `CREATE KEYSPACE` as DESCRIBE shows it: the strategy class fully qualified.
pub(crate) fn keyspace_cql(name: &str, k: &Keyspace) -> String {
    let replication: Vec<(String, String)> = k
        .replication
        .iter()
        .map(|(a, b)| {
            let v =
                if a == "class" && !b.contains('.') { format!("org.apache.cassandra.locator.{b}") } else { b.clone() };
            (a.clone(), v)
        })
        .collect();
    format!("{};", render::create_keyspace(name, &replication, Some(k.durable_writes), Style::DESCRIBE))
}

/// A type's `CREATE TYPE` as DESCRIBE shows it.
pub(crate) fn type_cql(ks: &str, ty: &CreateType) -> String {
    format!("{};", render::create_type(ks, ty, Style::DESCRIBE))
}

/// Server-side DESCRIBE, as Cassandra 4.0 answers it: rows of (keyspace_name, type, name,
/// create_statement).
pub(crate) fn describe(
    state: &Catalog,
    session: &Session,
    what: &str,
    name: Option<&QName>,
) -> Result<Outcome, Failure> {
    let columns: Columns = ["keyspace_name", "type", "name", "create_statement"]
        .iter()
        .map(|n| ((*n).to_string(), CqlType::Text))
        .collect();
    let row = |ks: &str, kind: &str, n: &str, stmt: &str| -> Row {
        vec![values::text(ks), values::text(kind), values::text(n), values::text(stmt)]
    };
    let keyspace_rows = |ks: &str, k: &Keyspace| -> Vec<Row> {
        let mut rows = vec![row(ks, "keyspace", ks, &keyspace_cql(ks, k))];
        rows.extend(k.types.iter().map(|t| row(ks, "type", &t.name, &type_cql(ks, t))));
        rows.extend(k.tables.iter().map(|(tn, t)| row(ks, "table", tn, &format!("{};", t.create_text))));
        rows
    };
    let find_ks = |n: &str| state.keyspaces.get(n).ok_or_else(|| invalid(format!("'{n}' not found in keyspaces")));
    let rows: Vec<Row> = match (what, name) {
        ("keyspaces", _) => state.keyspaces.keys().map(|k| row(k, "keyspace", k, k)).collect(),
        ("tables", _) => state
            .keyspaces
            .iter()
            .flat_map(|(k, ks)| ks.tables.keys().map(move |t| (k.clone(), t.clone())))
            .map(|(k, t)| row(&k, "table", &t, &t))
            .collect(),
        ("types", _) => state
            .keyspaces
            .iter()
            .flat_map(|(k, ks)| ks.types.iter().map(move |t| (k.clone(), t.name.clone())))
            .map(|(k, t)| row(&k, "type", &t, &t))
            .collect(),
        ("schema", _) => state.keyspaces.iter().flat_map(|(k, ks)| keyspace_rows(k, ks)).collect(),
        ("cluster", _) => {
            vec![row("", "cluster", "Cairn Cluster", "Partitioner: org.apache.cassandra.dht.Murmur3Partitioner")]
        }
        ("keyspace", q) => {
            let ks = match q {
                Some(q) => q.name.clone(),
                None => {
                    session.keyspace.clone().ok_or_else(|| invalid("No keyspace specified and no current keyspace"))?
                }
            };
            keyspace_rows(&ks, find_ks(&ks)?)
        }
        ("type", Some(q)) => {
            let ks = resolve_keyspace(session, q)?;
            let t = find_ks(&ks)?
                .types
                .iter()
                .find(|t| t.name == q.name)
                .ok_or_else(|| invalid(format!("Type '{}' not found", q.name)))?;
            vec![row(&ks, "type", &t.name, &type_cql(&ks, t))]
        }
        ("table", Some(q)) | ("name", Some(q)) => {
            if what == "name" && q.keyspace.is_none() && state.keyspaces.contains_key(&q.name) {
                let k = find_ks(&q.name)?;
                keyspace_rows(&q.name, k)
            } else {
                let ks = resolve_keyspace(session, q)?;
                let t = find_ks(&ks)?
                    .tables
                    .get(&q.name)
                    .ok_or_else(|| invalid(format!("'{}' not found in keyspace '{ks}'", q.name)))?;
                vec![row(&ks, "table", &q.name, &format!("{};", t.create_text))]
            }
        }
        _ => return Err(invalid("DESCRIBE what?")),
    };
    Ok(Outcome::Rows { keyspace: String::new(), table: "describe".into(), columns, rows, paging_state: None })
}
