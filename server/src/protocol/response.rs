//! Responses: what the node answers. A statement's result is an `Outcome` (Void, Rows,
//! SetKeyspace, SchemaChange: the RESULT kinds of `native_protocol_v4.spec` §4.2.5) and a refused
//! request a [`Failure`] (an ERROR, §4.2.1, with its code-specific extra body); both are encoded
//! here and nowhere else.

use cairn_format::types::CqlType;

use super::{QueryParams, Writer, code};
use crate::execute::prepare::Prepared;
use crate::values;

/// An ERROR body.
pub fn error_body(code: i32, message: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.int(code).string(message);
    w.buf
}

/// A failed request: the ERROR the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Error code.
    pub code: i32,
    /// Message.
    pub message: String,
    /// Code-specific extra body.
    pub extra: Vec<u8>,
}

/// A syntax error (0x2000) carrying the parser's message.
pub(crate) fn syntax(e: impl std::fmt::Display) -> Failure {
    Failure { code: code::SYNTAX, message: e.to_string(), extra: vec![] }
}

pub(crate) fn invalid(message: impl Into<String>) -> Failure {
    Failure { code: code::INVALID, message: message.into(), extra: vec![] }
}
pub(crate) type Row = Vec<Option<Vec<u8>>>;
pub(crate) type Columns = Vec<(String, CqlType)>;
/// What a statement returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Void,
    Rows { keyspace: String, table: String, columns: Columns, rows: Vec<Row>, paging_state: Option<Vec<u8>> },
    SetKeyspace(String),
    SchemaChange { change: &'static str, target: &'static str, keyspace: String, name: Option<String> },
}
pub(crate) fn encode_rows_metadata(
    w: &mut Writer,
    keyspace: &str,
    table: &str,
    columns: &Columns,
    paging: Option<&[u8]>,
    no_metadata: bool,
) {
    let mut flags = 0x0001;
    if paging.is_some() {
        flags |= 0x0002;
    }
    if no_metadata {
        flags = (flags & 0x0002) | 0x0004;
    }
    w.int(flags).int(columns.len() as i32);
    if let Some(p) = paging {
        w.bytes(Some(p));
    }
    if no_metadata {
        return;
    }
    w.string(keyspace).string(table);
    for (name, ty) in columns {
        w.string(name);
        values::write_type(w, ty);
    }
}

pub(crate) fn encode_outcome(o: Outcome, params: &QueryParams) -> Vec<u8> {
    let mut w = Writer::default();
    match o {
        Outcome::Void => {
            w.int(0x0001);
        }
        Outcome::SetKeyspace(ks) => {
            w.int(0x0003).string(&ks);
        }
        Outcome::SchemaChange { change, target, keyspace, name } => {
            w.int(0x0005).string(change).string(target).string(&keyspace);
            if let Some(n) = name {
                w.string(&n);
            }
        }
        Outcome::Rows { keyspace, table, columns, rows, paging_state } => {
            w.int(0x0002);
            encode_rows_metadata(&mut w, &keyspace, &table, &columns, paging_state.as_deref(), params.skip_metadata);
            w.int(rows.len() as i32);
            for r in &rows {
                for v in r {
                    w.bytes(v.as_deref());
                }
            }
        }
    }
    w.buf
}

pub(crate) fn encode_prepared(id: &[u8], p: &Prepared) -> Vec<u8> {
    let mut w = Writer::default();
    w.int(0x0004).short_bytes(id);
    // Prepared metadata: global table spec, bind markers, partition-key marker indexes.
    w.int(0x0001).int(p.binds.len() as i32).int(p.pk_indexes.len() as i32);
    for i in &p.pk_indexes {
        w.short(*i);
    }
    w.string(&p.table.0).string(&p.table.1);
    for (name, ty) in &p.binds {
        w.string(name);
        values::write_type(&mut w, ty);
    }
    match &p.result {
        Some(cols) => encode_rows_metadata(&mut w, &p.table.0, &p.table.1, cols, None, false),
        None => {
            w.int(0x0004).int(0);
        }
    }
    w.buf
}
