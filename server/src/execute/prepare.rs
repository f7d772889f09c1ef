//! PREPARE: the types of a statement's bind markers (named after the columns they bind, as
//! drivers expect), which markers bind the partition key (so token-aware drivers can route), and
//! the result columns of a SELECT.

use cairn_format::types::CqlType;

use super::select::{project_columns, select_columns};
use super::{Col, KeyMarker, column, resolve_keyspace};
use crate::catalog::Catalog;
use crate::connection::Session;
use crate::cql::{Assignment, Relation, Statement, Term, Using};
use crate::protocol::{Columns, Failure, invalid};
use crate::system;

pub(crate) struct Prepared {
    pub(crate) keyspace: Option<String>,
    pub(crate) text: String,
    pub(crate) statement: Statement,
    pub(crate) binds: Columns,
    pub(crate) pk_indexes: Vec<u16>,
    pub(crate) table: (String, String),
    pub(crate) result: Option<Columns>,
}

pub(crate) fn prepare(state: &Catalog, session: &Session, statement: Statement, n: usize) -> Result<Prepared, Failure> {
    let mut binds: Columns = vec![(String::new(), CqlType::Blob); n];
    let mut pk_indexes = Vec::new();
    let (qname, result) = match &statement {
        Statement::Select { table, .. }
        | Statement::Insert { table, .. }
        | Statement::Update { table, .. }
        | Statement::Delete { table, .. } => (Some(table.clone()), matches!(statement, Statement::Select { .. })),
        _ => (None, false),
    };
    let Some(qname) = qname else {
        return Ok(Prepared {
            text: String::new(),
            keyspace: session.keyspace.clone(),
            statement,
            binds,
            pk_indexes,
            table: (String::new(), String::new()),
            result: None,
        });
    };
    let ks = resolve_keyspace(session, &qname)?;
    if ks == "system" || ks == "system_schema" {
        // Metadata queries of drivers: the columns are known from the system table itself.
        let cols = system::columns(&ks, &qname.name)
            .ok_or_else(|| invalid(format!("table {ks}.{} does not exist", qname.name)))?;
        let mark = |binds: &mut Columns, rels: &[Relation]| {
            for r in rels {
                for v in &r.values {
                    if let Term::Bind(i) | Term::Named(_, i) = v
                        && let (Some(slot), Some(c)) =
                            (binds.get_mut(*i), cols.iter().find(|c| Some(&c.0) == r.columns.first()))
                    {
                        // `IN ?` is bound to the whole list, as for a user table.
                        *slot = if r.in_marker {
                            (c.0.clone(), CqlType::List { elem: Box::new(c.1.clone()), frozen: true })
                        } else {
                            c.clone()
                        };
                    }
                }
            }
        };
        let mut result_cols = None;
        if let Statement::Select { relations, selectors, .. } = &statement {
            mark(&mut binds, relations);
            result_cols = Some(project_columns(&cols, selectors.as_ref())?);
        }
        return Ok(Prepared {
            text: String::new(),
            keyspace: Some(ks.clone()),
            statement,
            binds,
            pk_indexes,
            table: (ks, qname.name),
            result: if result { result_cols } else { None },
        });
    }
    let t = state
        .keyspaces
        .get(&ks)
        .and_then(|k| k.tables.get(&qname.name))
        .ok_or_else(|| invalid(format!("table {} does not exist", qname.name)))?;
    let name_slot = |binds: &mut Columns, term: &Term, name: &str, ty: CqlType| {
        if let Term::Bind(i) | Term::Named(_, i) = term
            && let Some(slot) = binds.get_mut(*i)
        {
            *slot = (name.to_string(), ty);
        }
    };
    let mut key_marker = |term: &Term, col: &Col, pk: &mut Vec<(usize, u16)>| {
        if let (Term::Bind(i) | Term::Named(_, i), Col::Key(k, _)) = (term, col) {
            pk.push((*k, *i as u16));
        }
    };
    let mut pk: Vec<(usize, u16)> = Vec::new();
    let using = |binds: &mut Columns, u: &Using| {
        if let Some(Term::Bind(i) | Term::Named(_, i)) = &u.ttl
            && let Some(s) = binds.get_mut(*i)
        {
            *s = ("[ttl]".into(), CqlType::Int);
        }
        if let Some(Term::Bind(i) | Term::Named(_, i)) = &u.timestamp
            && let Some(s) = binds.get_mut(*i)
        {
            *s = ("[timestamp]".into(), CqlType::BigInt);
        }
    };
    let rels = |binds: &mut Columns,
                pk: &mut Vec<(usize, u16)>,
                relations: &[Relation],
                key_marker: &mut KeyMarker<'_>|
     -> Result<(), Failure> {
        for r in relations {
            if r.token {
                let slot = if r.token_of {
                    let ty = super::select::token_argument_type(t)?;
                    (t.schema.partition_key.first().map(|c| c.name.clone()).unwrap_or_default(), ty.clone())
                } else {
                    ("partition key token".into(), CqlType::BigInt)
                };
                for v in &r.values {
                    if let Term::Bind(i) | Term::Named(_, i) = v
                        && let Some(s) = binds.get_mut(*i)
                    {
                        *s = slot.clone();
                    }
                }
                continue;
            }
            let Some(name) = r.columns.first() else { continue };
            let col = column(t, name).ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
            for v in &r.values {
                let ty = if r.in_marker {
                    CqlType::List { elem: Box::new(col.ty().clone()), frozen: true }
                } else {
                    col.ty().clone()
                };
                if let Term::Bind(i) | Term::Named(_, i) = v
                    && let Some(s) = binds.get_mut(*i)
                {
                    *s = (name.clone(), ty);
                }
                if r.op == "=" {
                    key_marker(v, &col, pk);
                }
            }
        }
        Ok(())
    };
    let mut result_cols = None;
    match &statement {
        Statement::Insert { columns, values, using: u, .. } => {
            for (c, v) in columns.iter().zip(values) {
                let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                name_slot(&mut binds, v, c, col.ty().clone());
                key_marker(v, &col, &mut pk);
            }
            using(&mut binds, u);
        }
        Statement::Update { assignments, relations, using: u, .. } => {
            using(&mut binds, u);
            for a in assignments {
                match a {
                    Assignment::Set(c, v)
                    | Assignment::Add(c, v)
                    | Assignment::Remove(c, v)
                    | Assignment::Prepend(c, v) => {
                        let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                        name_slot(&mut binds, v, c, super::write::operand_type(a, col.ty()));
                    }
                    Assignment::SetField(c, f, v) => {
                        let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                        if let CqlType::Udt(u) = col.ty().unreversed()
                            && let Some((_, ft)) = u.fields.iter().find(|(n, _)| n == f)
                        {
                            name_slot(&mut binds, v, f, ft.clone());
                        }
                    }
                    Assignment::SetElement(c, k, v) => {
                        let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                        if let CqlType::Map { key, value, .. } = col.ty() {
                            name_slot(&mut binds, k, c, (**key).clone());
                            name_slot(&mut binds, v, c, (**value).clone());
                        }
                    }
                }
            }
            rels(&mut binds, &mut pk, relations, &mut key_marker)?;
        }
        Statement::Delete { relations, using: u, columns, .. } => {
            using(&mut binds, u);
            // `DELETE m[?]`: the marker is a map key (a set element).
            for (c, element) in columns {
                let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                if let Some(k) = element {
                    name_slot(&mut binds, k, c, super::write::element_type(c, col.ty())?.clone());
                }
            }
            rels(&mut binds, &mut pk, relations, &mut key_marker)?;
        }
        Statement::Select { relations, selectors, limit, per_partition_limit, .. } => {
            rels(&mut binds, &mut pk, relations, &mut key_marker)?;
            for (term, name) in [(limit, "[limit]"), (per_partition_limit, "[per_partition_limit]")] {
                if let Some(Term::Bind(i) | Term::Named(_, i)) = term
                    && let Some(s) = binds.get_mut(*i)
                {
                    *s = (name.into(), CqlType::Int);
                }
            }
            result_cols = Some(select_columns(t, selectors.as_ref())?);
        }
        _ => {}
    }
    pk.sort_unstable();
    if pk.len() == t.schema.partition_key.len() {
        pk_indexes = pk.into_iter().map(|(_, i)| i).collect();
    }
    Ok(Prepared {
        text: String::new(),
        keyspace: Some(ks.clone()),
        statement,
        binds,
        pk_indexes,
        table: (ks, qname.name),
        result: result_cols,
    })
}
