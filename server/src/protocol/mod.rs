//! The CQL native protocol, version 4: frames, the notation's primitive types, requests and
//! responses (`native_protocol_v4.spec` in Cassandra's `doc/`).
//!
//! A frame is a 9-byte header — version (0x04 for requests, 0x84 for responses), flags (0x01
//! compressed body, 0x02 tracing, 0x04 custom payload, 0x08 warnings), stream id (i16), opcode
//! (u8), body length (i32) — then the body. After STARTUP chose `lz4` or `snappy`, bodies with the
//! compression flag are compressed: LZ4 as a 4-byte big-endian uncompressed length and one LZ4
//! block, Snappy as one raw Snappy block.

//!
//! The rooms: [`frame`] (the header, compression, the notation's primitive types), [`request`]
//! (the messages a client sends, parsed), [`response`] (the RESULT and ERROR bodies the node
//! answers with, typed, as `native_protocol_v4.spec` §4.2 lays them out).

pub mod frame;
pub mod request;
pub mod response;

pub use frame::*;
pub use request::*;
pub use response::*;

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
