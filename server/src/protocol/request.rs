//! Requests: the messages a client sends (STARTUP, OPTIONS, QUERY, PREPARE, EXECUTE, BATCH,
//! REGISTER, AUTH_RESPONSE), parsed from their bodies.

use std::collections::BTreeMap;

use super::{ProtocolError, Reader, Value, opcode};

/// Consistency levels by their protocol code.
pub fn consistency_name(c: u16) -> &'static str {
    match c {
        0x0000 => "ANY",
        0x0001 => "ONE",
        0x0002 => "TWO",
        0x0003 => "THREE",
        0x0004 => "QUORUM",
        0x0005 => "ALL",
        0x0006 => "LOCAL_QUORUM",
        0x0007 => "EACH_QUORUM",
        0x0008 => "SERIAL",
        0x0009 => "LOCAL_SERIAL",
        0x000A => "LOCAL_ONE",
        _ => "UNKNOWN",
    }
}

/// Parameters of QUERY and EXECUTE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    /// Consistency.
    pub consistency: u16,
    /// Bound values (positional).
    pub values: Vec<Value>,
    /// Names of the values, when sent by name.
    pub names: Vec<String>,
    /// Skip result metadata (EXECUTE).
    pub skip_metadata: bool,
    /// Page size.
    pub page_size: Option<i32>,
    /// Paging state from a previous page.
    pub paging_state: Option<Vec<u8>>,
    /// Default timestamp (µs).
    pub timestamp: Option<i64>,
}

impl QueryParams {
    /// Parse `<consistency><flags>[...]`.
    pub fn read(r: &mut Reader<'_>) -> Result<QueryParams, ProtocolError> {
        let mut p = QueryParams { consistency: r.short()?, ..Default::default() };
        let flags = r.byte()?;
        if flags & 0x01 != 0 {
            let n = r.short()?;
            for _ in 0..n {
                if flags & 0x40 != 0 {
                    p.names.push(r.string()?);
                }
                p.values.push(r.value()?);
            }
        }
        p.skip_metadata = flags & 0x02 != 0;
        if flags & 0x04 != 0 {
            p.page_size = Some(r.int()?);
        }
        if flags & 0x08 != 0 {
            p.paging_state = r.bytes()?;
        }
        if flags & 0x10 != 0 {
            r.short()?;
        }
        if flags & 0x20 != 0 {
            p.timestamp = Some(r.long()?);
        }
        Ok(p)
    }
}

/// One statement of a BATCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchStatement {
    /// A query string.
    Query(String, Vec<Value>),
    /// A prepared statement id.
    Prepared(Vec<u8>, Vec<Value>),
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// STARTUP.
    Startup(BTreeMap<String, String>),
    /// OPTIONS.
    Options,
    /// QUERY.
    Query(String, QueryParams),
    /// PREPARE.
    Prepare(String),
    /// EXECUTE.
    Execute(Vec<u8>, QueryParams),
    /// BATCH: type (0 logged, 1 unlogged, 2 counter), statements, consistency, default timestamp.
    Batch(u8, Vec<BatchStatement>, u16, Option<i64>),
    /// REGISTER.
    Register(Vec<String>),
    /// AUTH_RESPONSE.
    AuthResponse(Option<Vec<u8>>),
}

impl Request {
    /// Parse a request body.
    pub fn parse(opcode: u8, body: &[u8]) -> Result<Request, ProtocolError> {
        let mut r = Reader::new(body);
        let req = match opcode {
            opcode::STARTUP => Request::Startup(r.string_map()?),
            opcode::OPTIONS => Request::Options,
            opcode::QUERY => {
                let q = r.long_string()?;
                Request::Query(q, QueryParams::read(&mut r)?)
            }
            opcode::PREPARE => Request::Prepare(r.long_string()?),
            opcode::EXECUTE => {
                let id = r.short_bytes()?;
                Request::Execute(id, QueryParams::read(&mut r)?)
            }
            opcode::BATCH => {
                let kind = r.byte()?;
                let n = r.short()?;
                let mut statements = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let k = r.byte()?;
                    let st = match k {
                        0 => BatchStatement::Query(r.long_string()?, vec![]),
                        1 => BatchStatement::Prepared(r.short_bytes()?, vec![]),
                        other => return Err(r.err(format!("batch statement kind {other}"))),
                    };
                    let nv = r.short()?;
                    let values = (0..nv).map(|_| r.value()).collect::<Result<Vec<_>, _>>()?;
                    statements.push(match st {
                        BatchStatement::Query(q, _) => BatchStatement::Query(q, values),
                        BatchStatement::Prepared(id, _) => BatchStatement::Prepared(id, values),
                    });
                }
                let consistency = r.short()?;
                let flags = r.byte()?;
                if flags & 0x10 != 0 {
                    r.short()?;
                }
                let ts = if flags & 0x20 != 0 { Some(r.long()?) } else { None };
                Request::Batch(kind, statements, consistency, ts)
            }
            opcode::REGISTER => Request::Register(r.string_list()?),
            opcode::AUTH_RESPONSE => Request::AuthResponse(r.bytes()?),
            other => return Err(ProtocolError { offset: 0, what: format!("unknown request opcode 0x{other:02x}") }),
        };
        Ok(req)
    }
}
