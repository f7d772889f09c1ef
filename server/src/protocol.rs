//! The CQL native protocol, version 4: frames, the notation's primitive types, requests and
//! responses (`native_protocol_v4.spec` in Cassandra's `doc/`).
//!
//! A frame is a 9-byte header — version (0x04 for requests, 0x84 for responses), flags (0x01
//! compressed body, 0x02 tracing, 0x04 custom payload, 0x08 warnings), stream id (i16), opcode
//! (u8), body length (i32) — then the body. After STARTUP chose `lz4` or `snappy`, bodies with the
//! compression flag are compressed: LZ4 as a 4-byte big-endian uncompressed length and one LZ4
//! block, Snappy as one raw Snappy block.

use std::collections::BTreeMap;
use std::io::{Read, Write};

/// Request/response opcodes.
pub mod opcode {
    /// ERROR.
    pub const ERROR: u8 = 0x00;
    /// STARTUP.
    pub const STARTUP: u8 = 0x01;
    /// READY.
    pub const READY: u8 = 0x02;
    /// AUTHENTICATE.
    pub const AUTHENTICATE: u8 = 0x03;
    /// OPTIONS.
    pub const OPTIONS: u8 = 0x05;
    /// SUPPORTED.
    pub const SUPPORTED: u8 = 0x06;
    /// QUERY.
    pub const QUERY: u8 = 0x07;
    /// RESULT.
    pub const RESULT: u8 = 0x08;
    /// PREPARE.
    pub const PREPARE: u8 = 0x09;
    /// EXECUTE.
    pub const EXECUTE: u8 = 0x0A;
    /// REGISTER.
    pub const REGISTER: u8 = 0x0B;
    /// EVENT.
    pub const EVENT: u8 = 0x0C;
    /// BATCH.
    pub const BATCH: u8 = 0x0D;
    /// AUTH_RESPONSE.
    pub const AUTH_RESPONSE: u8 = 0x0F;
    /// AUTH_SUCCESS.
    pub const AUTH_SUCCESS: u8 = 0x10;
}

/// Error codes drivers act on.
pub mod code {
    /// Server error.
    pub const SERVER: i32 = 0x0000;
    /// Protocol error.
    pub const PROTOCOL: i32 = 0x000A;
    /// Bad credentials.
    pub const BAD_CREDENTIALS: i32 = 0x0100;
    /// Unavailable.
    pub const UNAVAILABLE: i32 = 0x1000;
    /// Syntax error.
    pub const SYNTAX: i32 = 0x2000;
    /// Unauthorized.
    pub const UNAUTHORIZED: i32 = 0x2100;
    /// Invalid query.
    pub const INVALID: i32 = 0x2200;
    /// Configuration error.
    pub const CONFIG: i32 = 0x2300;
    /// Already exists.
    pub const ALREADY_EXISTS: i32 = 0x2400;
    /// Unprepared.
    pub const UNPREPARED: i32 = 0x2500;
}

/// The protocol version this node speaks.
pub const VERSION: u8 = 4;

/// Why a frame or message is malformed: the connection gets a protocol error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protocol error at body byte {offset}: {what}")]
pub struct ProtocolError {
    /// Offset in the body.
    pub offset: usize,
    /// What is wrong.
    pub what: String,
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Version byte (direction bit included).
    pub version: u8,
    /// Flags.
    pub flags: u8,
    /// Stream id.
    pub stream: i16,
    /// Opcode.
    pub opcode: u8,
    /// Body length.
    pub length: usize,
}

/// What reading a frame gave.
#[derive(Debug)]
pub enum Incoming {
    /// A frame.
    Frame(Header, Vec<u8>),
    /// A frame of another protocol version (its header; the body was skipped).
    WrongVersion(Header),
    /// The peer closed the connection.
    Closed,
}

/// Read one frame, refusing bodies over `max_body` bytes.
pub fn read_frame(r: &mut impl Read, max_body: usize) -> std::io::Result<Result<Incoming, ProtocolError>> {
    let mut h = [0u8; 9];
    let mut got = 0;
    while got < h.len() {
        let n = r.read(&mut h[got..])?;
        if n == 0 {
            return Ok(if got == 0 {
                Ok(Incoming::Closed)
            } else {
                Err(ProtocolError {
                    offset: 0,
                    what: format!("connection closed inside a frame header ({got} of 9 bytes)"),
                })
            });
        }
        got += n;
    }
    let length = i32::from_be_bytes([h[5], h[6], h[7], h[8]]);
    let header = Header {
        version: h[0],
        flags: h[1],
        stream: i16::from_be_bytes([h[2], h[3]]),
        opcode: h[4],
        length: usize::try_from(length).unwrap_or(usize::MAX),
    };
    if header.version & 0x80 != 0 {
        return Ok(Err(ProtocolError { offset: 0, what: "a response frame was sent to the server".into() }));
    }
    if length < 0 || header.length > max_body {
        return Ok(Err(ProtocolError {
            offset: 0,
            what: format!("frame body of {length} bytes exceeds the limit of {max_body}"),
        }));
    }
    if header.version != VERSION {
        // The body of another version is read and dropped so the stream stays in sync.
        std::io::copy(&mut r.take(header.length as u64), &mut std::io::sink())?;
        return Ok(Ok(Incoming::WrongVersion(header)));
    }
    let mut body = vec![0u8; header.length];
    r.read_exact(&mut body)?;
    Ok(Ok(Incoming::Frame(header, body)))
}

/// Frame body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// LZ4 with a 4-byte length prefix.
    Lz4,
    /// Raw Snappy.
    Snappy,
}

impl Compression {
    /// From STARTUP's `COMPRESSION` value.
    pub fn parse(name: &str) -> Option<Compression> {
        match name.to_ascii_lowercase().as_str() {
            "lz4" => Some(Compression::Lz4),
            "snappy" => Some(Compression::Snappy),
            _ => None,
        }
    }

    /// Decompress a body.
    pub fn decompress(self, body: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        let bad = |what: String| ProtocolError { offset: 0, what };
        match self {
            Compression::Lz4 => {
                let (len, rest) =
                    body.split_at_checked(4).ok_or_else(|| bad("LZ4 body shorter than its length".into()))?;
                let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
                lz4_flex::block::decompress(rest, n).map_err(|e| bad(format!("LZ4: {e}")))
            }
            Compression::Snappy => {
                snap::raw::Decoder::new().decompress_vec(body).map_err(|e| bad(format!("Snappy: {e}")))
            }
        }
    }

    /// Compress a body.
    pub fn compress(self, body: &[u8]) -> Vec<u8> {
        match self {
            Compression::Lz4 => {
                let mut out = (body.len() as u32).to_be_bytes().to_vec();
                out.extend(lz4_flex::block::compress(body));
                out
            }
            Compression::Snappy => snap::raw::Encoder::new().compress_vec(body).unwrap_or_default(),
        }
    }
}

/// Write a response frame.
pub fn write_frame(
    w: &mut impl Write,
    stream: i16,
    opcode: u8,
    body: &[u8],
    compression: Option<Compression>,
) -> std::io::Result<()> {
    let (flags, body) = match compression {
        Some(c) if opcode != opcode::READY && opcode != opcode::SUPPORTED && opcode != opcode::AUTHENTICATE => {
            (0x01, std::borrow::Cow::Owned(c.compress(body)))
        }
        _ => (0x00, std::borrow::Cow::Borrowed(body)),
    };
    let mut h = [0u8; 9];
    h[0] = 0x80 | VERSION;
    h[1] = flags;
    h[2..4].copy_from_slice(&stream.to_be_bytes());
    h[4] = opcode;
    h[5..9].copy_from_slice(&(body.len() as i32).to_be_bytes());
    w.write_all(&h)?;
    w.write_all(&body)
}

/// Reads the notation's primitive types from a body.
pub struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    fn err(&self, what: impl Into<String>) -> ProtocolError {
        ProtocolError { offset: self.pos, what: what.into() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        match end {
            Some(e) => {
                let s = &self.b[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            None => Err(self.err(format!("needs {n} more bytes, {} left", self.b.len() - self.pos))),
        }
    }

    /// Whether the body is consumed.
    pub fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    /// ``[byte]``.
    pub fn byte(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    /// ``[short]`` (unsigned).
    pub fn short(&mut self) -> Result<u16, ProtocolError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// ``[int]``.
    pub fn int(&mut self) -> Result<i32, ProtocolError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// ``[long]``.
    pub fn long(&mut self) -> Result<i64, ProtocolError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// ``[string]``.
    pub fn string(&mut self) -> Result<String, ProtocolError> {
        let n = self.short()? as usize;
        let at = self.pos;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| ProtocolError { offset: at, what: "string is not UTF-8".into() })
    }

    /// ``[long string]``.
    pub fn long_string(&mut self) -> Result<String, ProtocolError> {
        let n = self.int()?;
        let n = usize::try_from(n).map_err(|_| self.err("negative long string length"))?;
        let at = self.pos;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| ProtocolError { offset: at, what: "long string is not UTF-8".into() })
    }

    /// ``[short bytes]``.
    pub fn short_bytes(&mut self) -> Result<Vec<u8>, ProtocolError> {
        let n = self.short()? as usize;
        Ok(self.take(n)?.to_vec())
    }

    /// ``[bytes]`` (`None`: null).
    pub fn bytes(&mut self) -> Result<Option<Vec<u8>>, ProtocolError> {
        let n = self.int()?;
        if n < 0 {
            return Ok(None);
        }
        Ok(Some(self.take(n as usize)?.to_vec()))
    }

    /// ``[value]``: bytes, null (-1) or unset (-2).
    pub fn value(&mut self) -> Result<Value, ProtocolError> {
        let n = self.int()?;
        match n {
            -1 => Ok(Value::Null),
            -2 => Ok(Value::Unset),
            n if n < 0 => Err(self.err(format!("value length {n}"))),
            n => Ok(Value::Set(self.take(n as usize)?.to_vec())),
        }
    }

    /// ``[string map]``.
    pub fn string_map(&mut self) -> Result<BTreeMap<String, String>, ProtocolError> {
        let n = self.short()?;
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let k = self.string()?;
            m.insert(k, self.string()?);
        }
        Ok(m)
    }

    /// ``[string list]``.
    pub fn string_list(&mut self) -> Result<Vec<String>, ProtocolError> {
        let n = self.short()?;
        (0..n).map(|_| self.string()).collect()
    }
}

/// A bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Bytes.
    Set(Vec<u8>),
    /// null.
    Null,
    /// Not set (leave the column as it is).
    Unset,
}

/// Builds a body from the notation's primitive types.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    /// The bytes.
    pub buf: Vec<u8>,
}

impl Writer {
    /// ``[byte]``.
    pub fn byte(&mut self, b: u8) -> &mut Self {
        self.buf.push(b);
        self
    }

    /// ``[short]``.
    pub fn short(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// ``[int]``.
    pub fn int(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// ``[long]``.
    pub fn long(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// ``[string]``.
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.short(s.len().min(u16::MAX as usize) as u16);
        self.buf.extend_from_slice(&s.as_bytes()[..s.len().min(u16::MAX as usize)]);
        self
    }

    /// ``[long string]``.
    pub fn long_string(&mut self, s: &str) -> &mut Self {
        self.int(s.len() as i32);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// ``[short bytes]``.
    pub fn short_bytes(&mut self, b: &[u8]) -> &mut Self {
        self.short(b.len() as u16);
        self.buf.extend_from_slice(b);
        self
    }

    /// ``[bytes]`` (`None`: null).
    pub fn bytes(&mut self, b: Option<&[u8]>) -> &mut Self {
        match b {
            Some(b) => {
                self.int(b.len() as i32);
                self.buf.extend_from_slice(b);
            }
            None => {
                self.int(-1);
            }
        }
        self
    }

    /// ``[string list]``.
    pub fn string_list(&mut self, l: &[&str]) -> &mut Self {
        self.short(l.len() as u16);
        for s in l {
            self.string(s);
        }
        self
    }

    /// ``[string multimap]``.
    pub fn string_multimap(&mut self, m: &[(&str, &[&str])]) -> &mut Self {
        self.short(m.len() as u16);
        for (k, v) in m {
            self.string(k);
            self.string_list(v);
        }
        self
    }
}

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

/// An ERROR body.
pub fn error_body(code: i32, message: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.int(code).string(message);
    w.buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_round_trip_the_flags_drivers_send() {
        let mut w = Writer::default();
        w.long_string("SELECT * FROM t WHERE k = ?");
        w.short(0x0001).byte(0x01 | 0x04 | 0x08 | 0x20);
        w.short(2);
        w.bytes(Some(b"ab")).int(-1);
        w.int(5000);
        w.bytes(Some(&[1, 2, 3]));
        w.long(1_700_000_000_000_000);
        let r = Request::parse(opcode::QUERY, &w.buf).expect("parses");
        let Request::Query(q, p) = r else { panic!("query") };
        assert_eq!(q, "SELECT * FROM t WHERE k = ?");
        assert_eq!(p.values, vec![Value::Set(b"ab".to_vec()), Value::Null]);
        assert_eq!(p.page_size, Some(5000));
        assert_eq!(p.paging_state, Some(vec![1, 2, 3]));
        assert_eq!(p.timestamp, Some(1_700_000_000_000_000));
    }

    #[test]
    fn truncated_and_oversized_input_is_a_located_error() {
        let mut w = Writer::default();
        w.long_string("SELECT");
        let cut = &w.buf[..w.buf.len() - 2];
        let e = Request::parse(opcode::QUERY, cut).expect_err("truncated");
        assert_eq!(e.offset, 4);
        assert!(Request::parse(0x77, &[]).is_err());
        let mut frame: &[u8] = &[0x04, 0, 0, 1, opcode::QUERY, 0x7f, 0xff, 0xff, 0xff];
        let got = read_frame(&mut frame, 1 << 20).expect("io").expect_err("too big");
        assert!(got.what.contains("exceeds"));
        let mut frame: &[u8] = &[0x05, 0, 0, 1, opcode::OPTIONS, 0, 0, 0, 0];
        assert!(matches!(read_frame(&mut frame, 1 << 20).expect("io"), Ok(Incoming::WrongVersion(_))));
    }

    #[test]
    fn compression_round_trips() {
        let body: Vec<u8> = (0..5000u32).flat_map(|i| (i % 7).to_be_bytes()).collect();
        for (c, garbage) in
            [(Compression::Lz4, &[0u8, 0, 0, 9, 0xf0, 0xff][..]), (Compression::Snappy, &[0x0a, 0xff][..])]
        {
            assert_eq!(c.decompress(&c.compress(&body)).expect("round trip"), body);
            assert!(c.decompress(garbage).is_err(), "{c:?} accepted {garbage:?}");
        }
    }
}
