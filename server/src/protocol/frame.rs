//! Frames: the 9-byte header, body compression, and the notation's primitive types ([`Reader`],
//! [`Writer`]) bodies are made of.

use std::io::{Read, Write};

use std::collections::BTreeMap;

use super::{ProtocolError, VERSION, opcode};

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

    pub(crate) fn err(&self, what: impl Into<String>) -> ProtocolError {
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
