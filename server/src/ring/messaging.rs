//! Internode messaging: Cairn's own framed request/response protocol on the storage port.
//!
//! Nodes of a ring talk to each other on the *storage port* (7000 by default, as Cassandra's
//! `storage_port`), never on the CQL port. Cassandra 4.x speaks its own internode protocol there
//! (`org.apache.cassandra.net.Message`, framed by `FrameEncoderCrc`: a CRC24 header and CRC32
//! payload checksums); Cairn does not try to join a real Cassandra ring, so it speaks a simpler
//! protocol of its own that keeps the two ideas that matter — a *verb* naming the message and a
//! checksum on every part of the frame — and nothing else.
//!
//! # Frame layout (protocol version 1, all integers big-endian)
//!
//! ```text
//! offset  size  field
//! ------  ----  -----------------------------------------------------------------
//!      0     4  magic: the ASCII bytes "CRNI" (0x43 0x52 0x4E 0x49)
//!      4     1  protocol version: 1
//!      5     1  verb (see `Verb`; 0 is never a verb)
//!      6     2  flags: bit 0 (0x0001) = this frame is a response; the other bits are zero
//!      8     4  request id: chosen by the requester, copied into the response
//!     12     4  payload length n (at most the reader's limit)
//!     16     4  CRC32 (IEEE, as `crc32fast`) of bytes 0..16
//!     20     n  payload (its meaning depends on the verb)
//!   20+n     4  CRC32 of the payload (the CRC32 of zero bytes, 0, when n = 0)
//! ```
//!
//! ```text
//!  0       4   5    6       8          12         16         20             20+n
//!  +-------+---+----+-------+----------+----------+----------+--------------+---------+
//!  | CRNI  | 1 |verb| flags |    id    |    n     | hdr CRC  | payload (n)  | pay CRC |
//!  +-------+---+----+-------+----------+----------+----------+--------------+---------+
//! ```
//!
//! A reader checks, in this order: the magic (so that a CQL client or an HTTP probe on the wrong
//! port is named as such), the version, the header CRC (before it believes the verb, the flags or
//! the length), the verb, the flags, the length against its limit (before it allocates), and the
//! payload CRC. Any failure is a [`FrameError`]; a reader never panics, whatever the bytes. After
//! an error the stream is out of step, so the connection is closed.
//!
//! # Conversation
//!
//! A connection carries requests one at a time: the requester writes a frame without the response
//! flag and waits for the frame with the same id and the response flag before it writes the next
//! one. [`serve`] answers a connection's frames in order, one thread per connection; [`Messenger`]
//! is the requesting side, keeping a few idle connections per peer for reuse. A request that
//! fails on the receiving side is answered with [`Verb::Error`], whose payload is a UTF-8 message.
//!
//! Payload encodings are the business of the rooms that use a verb (gossip's are in
//! [`super::gossip`]).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The four bytes every frame starts with.
pub const MAGIC: [u8; 4] = *b"CRNI";
/// The protocol version this code speaks (byte 4 of a frame).
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes before the payload: magic, version, verb, flags, id, length, header CRC.
pub const HEADER_LEN: usize = 20;
/// Bytes after the payload: its CRC32.
pub const TRAILER_LEN: usize = 4;
/// Flag bit: the frame answers the request with the same id.
pub const FLAG_RESPONSE: u16 = 0x0001;
/// Every flag bit this version knows; frames with other bits set are refused.
pub const KNOWN_FLAGS: u16 = FLAG_RESPONSE;
/// The storage port a node listens on for internode messages unless configured otherwise.
pub const DEFAULT_STORAGE_PORT: u16 = 7000;
/// The payload limit [`serve`] and [`Messenger`] read with unless configured otherwise (64 MiB).
pub const DEFAULT_MAX_PAYLOAD: u32 = 64 << 20;

/// What a frame is about. The numbers are the wire values (byte 5) and never change meaning.
///
/// Requests and their responses have separate verbs where the response carries data of its own
/// (`Read` → `ReadResponse`); [`Verb::Ack`] is the empty "done" answer and [`Verb::Error`] the
/// failure answer to any request. The gossip exchange follows Cassandra's three messages
/// (`GOSSIP_DIGEST_SYN`, `GOSSIP_DIGEST_ACK`, `GOSSIP_DIGEST_ACK2` in Cassandra's `Verb.java`):
/// the Ack is the response to a Syn, and the Ack2 is a request of its own, answered by `Ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Verb {
    /// Gossip round, first message: the sender's digests ([`super::gossip::Syn`]).
    GossipSyn = 1,
    /// Gossip round, answer to a Syn: states the Syn's sender lacks and the digests the receiver
    /// wants ([`super::gossip::Ack`]).
    GossipAck = 2,
    /// Gossip round, third message: the states the Ack asked for ([`super::gossip::Ack2`]).
    GossipAck2 = 3,
    /// Apply a mutation to a replica.
    Mutation = 4,
    /// The replica applied a mutation.
    MutationAck = 5,
    /// Read one partition (or a slice of it) from a replica.
    Read = 6,
    /// The data or digest a `Read` asked for.
    ReadResponse = 7,
    /// Read a token range from a replica.
    RangeRead = 8,
    /// The rows of a `RangeRead`.
    RangeReadResponse = 9,
    /// Here is my schema (sent after a schema change).
    SchemaPush = 10,
    /// Send me your schema (sent when gossip shows another schema version).
    SchemaPull = 11,
    /// The schema a `SchemaPull` asked for.
    SchemaResponse = 12,
    /// A hinted mutation replayed to a replica that was down.
    Hint = 13,
    /// Ask a replica to stream a token range (bootstrap, repair).
    StreamRequest = 14,
    /// One chunk of a stream.
    StreamChunk = 15,
    /// The generic empty answer: the request was done.
    Ack = 16,
    /// The request failed on the receiver; the payload is a UTF-8 message.
    Error = 17,
    /// Build a Merkle tree of a table's partitions in a token range (repair's validation).
    ValidationRequest = 18,
    /// The tree a `ValidationRequest` asked for.
    ValidationResponse = 19,
    /// Forget a dead member whose ranges were re-replicated (removenode); the payload is its
    /// internode address as text.
    RemoveNode = 20,
    /// Describe the ring to a client about to stream into it (`cairn load --stream`).
    RingRequest = 21,
    /// The members, tokens, keyspaces' replication and tables a `RingRequest` asked for.
    RingDescription = 22,
    /// Open a repair session on a replica: it flushes the table and remembers the SSTables the
    /// session validates.
    RepairPrepare = 23,
    /// Close a repair session: the replica marks the session's SSTables in the repaired ranges
    /// repaired.
    RepairFinish = 24,
}

impl Verb {
    /// Every verb, in wire order.
    pub const ALL: [Verb; 24] = [
        Verb::GossipSyn,
        Verb::GossipAck,
        Verb::GossipAck2,
        Verb::Mutation,
        Verb::MutationAck,
        Verb::Read,
        Verb::ReadResponse,
        Verb::RangeRead,
        Verb::RangeReadResponse,
        Verb::SchemaPush,
        Verb::SchemaPull,
        Verb::SchemaResponse,
        Verb::Hint,
        Verb::StreamRequest,
        Verb::StreamChunk,
        Verb::Ack,
        Verb::Error,
        Verb::ValidationRequest,
        Verb::ValidationResponse,
        Verb::RemoveNode,
        Verb::RingRequest,
        Verb::RingDescription,
        Verb::RepairPrepare,
        Verb::RepairFinish,
    ];

    /// The verb with wire value `byte`, if there is one.
    pub fn from_u8(byte: u8) -> Option<Verb> {
        Verb::ALL.iter().copied().find(|v| *v as u8 == byte)
    }
}

/// One message: a verb, flags, the request id and the payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What the frame is about.
    pub verb: Verb,
    /// Flag bits ([`FLAG_RESPONSE`]).
    pub flags: u16,
    /// The request id (a response carries its request's).
    pub id: u32,
    /// The verb's payload.
    pub payload: Vec<u8>,
}

impl Frame {
    /// A request; [`Messenger::request`] assigns its id.
    pub fn request(verb: Verb, payload: Vec<u8>) -> Frame {
        Frame { verb, flags: 0, id: 0, payload }
    }

    /// The response to `request` with this verb and payload.
    pub fn response(request: &Frame, verb: Verb, payload: Vec<u8>) -> Frame {
        Frame { verb, flags: FLAG_RESPONSE, id: request.id, payload }
    }

    /// The [`Verb::Error`] response to `request`, carrying `message`.
    pub fn error(request: &Frame, message: &str) -> Frame {
        Frame::response(request, Verb::Error, message.as_bytes().to_vec())
    }

    /// Whether the response flag is set.
    pub fn is_response(&self) -> bool {
        self.flags & FLAG_RESPONSE != 0
    }

    /// The message of an [`Verb::Error`] frame's payload (invalid UTF-8 is shown with U+FFFD: the
    /// text is only ever displayed).
    pub fn error_message(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// The part of a frame a reader was in when the bytes ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePart {
    /// Bytes 0..20.
    Header,
    /// The payload.
    Payload,
    /// The payload's CRC32.
    PayloadCrc,
}

impl std::fmt::Display for FramePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FramePart::Header => "header",
            FramePart::Payload => "payload",
            FramePart::PayloadCrc => "payload CRC",
        })
    }
}

/// Why a frame could not be read (or written). Offsets are from the frame's first byte.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended cleanly before the first byte of a frame (the peer closed).
    #[error("connection closed between frames")]
    Closed,
    /// Bytes 0..4 are not "CRNI": the peer speaks another protocol.
    #[error("bad magic {found:02x?} at byte 0 (expected \"CRNI\"): not a Cairn internode peer")]
    BadMagic {
        /// The four bytes seen.
        found: [u8; 4],
    },
    /// Byte 4 names a protocol version this code does not speak.
    #[error("unsupported internode protocol version {found} at byte 4 (this node speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion {
        /// The version byte seen.
        found: u8,
    },
    /// The CRC32 at bytes 16..20 does not match bytes 0..16.
    #[error("header CRC32 mismatch at byte 16: stored {stored:#010x}, computed {computed:#010x}")]
    HeaderCrc {
        /// The CRC in the frame.
        stored: u32,
        /// The CRC of the header bytes read.
        computed: u32,
    },
    /// Byte 5 is no [`Verb`].
    #[error("unknown verb {found} at byte 5")]
    UnknownVerb {
        /// The verb byte seen.
        found: u8,
    },
    /// Bytes 6..8 set flag bits this version does not know.
    #[error("unknown flag bits {found:#06x} at byte 6")]
    UnknownFlags {
        /// The flags seen.
        found: u16,
    },
    /// The payload length exceeds the limit (on reading: bytes 12..16; on writing: the frame's).
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge {
        /// The payload length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The CRC32 after the payload does not match the payload.
    #[error("payload CRC32 mismatch at byte {offset}: stored {stored:#010x}, computed {computed:#010x}")]
    PayloadCrc {
        /// Offset of the stored CRC (20 + payload length).
        offset: usize,
        /// The CRC in the frame.
        stored: u32,
        /// The CRC of the payload read.
        computed: u32,
    },
    /// The stream ended inside a frame.
    #[error("frame truncated in the {part}: {got} of {expected} bytes (at byte {offset})")]
    Truncated {
        /// Which part was being read.
        part: FramePart,
        /// Offset of that part in the frame.
        offset: usize,
        /// Bytes of the part that arrived.
        got: usize,
        /// Bytes the part has.
        expected: usize,
    },
    /// Reading or writing failed (timeouts included: see [`io::Error::kind`]).
    #[error("internode i/o: {0}")]
    Io(#[from] io::Error),
}

/// The frame's bytes: header, payload, payload CRC.
pub fn encode_frame(frame: &Frame) -> Result<Vec<u8>, FrameError> {
    let len = u32::try_from(frame.payload.len())
        .map_err(|_| FrameError::PayloadTooLarge { len: frame.payload.len() as u64, max: u64::from(u32::MAX) })?;
    if frame.flags & !KNOWN_FLAGS != 0 {
        return Err(FrameError::UnknownFlags { found: frame.flags });
    }
    let mut buf = Vec::with_capacity(HEADER_LEN + frame.payload.len() + TRAILER_LEN);
    buf.extend_from_slice(&MAGIC);
    buf.push(PROTOCOL_VERSION);
    buf.push(frame.verb as u8);
    buf.extend_from_slice(&frame.flags.to_be_bytes());
    buf.extend_from_slice(&frame.id.to_be_bytes());
    buf.extend_from_slice(&len.to_be_bytes());
    let header_crc = crc32fast::hash(&buf);
    buf.extend_from_slice(&header_crc.to_be_bytes());
    buf.extend_from_slice(&frame.payload);
    buf.extend_from_slice(&crc32fast::hash(&frame.payload).to_be_bytes());
    Ok(buf)
}

/// Write one frame (in a single `write_all`, so that a frame is one segment where it fits).
pub fn write_frame(w: &mut impl Write, frame: &Frame) -> Result<(), FrameError> {
    let bytes = encode_frame(frame)?;
    w.write_all(&bytes)?;
    w.flush()?;
    Ok(())
}

/// Fill `buf` from `r`; the number of bytes read, short only at end of stream.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn be_u32(b: [u8; 4]) -> u32 {
    u32::from_be_bytes(b)
}

/// Read one frame, refusing payloads over `max_payload` bytes. See the module docs for the
/// order of checks; [`FrameError::Closed`] means the stream ended before the frame began.
pub fn read_frame(r: &mut impl Read, max_payload: u32) -> Result<Frame, FrameError> {
    let mut h = [0u8; HEADER_LEN];
    // The magic and version are read and judged first, on what arrived, so that a short probe
    // of another protocol is named as such at once instead of waiting for 20 bytes.
    let mut got = read_full(r, &mut h[..5])?;
    if got == 0 {
        return Err(FrameError::Closed);
    }
    let magic_got = got.min(4);
    if h[..magic_got] != MAGIC[..magic_got] {
        return Err(FrameError::BadMagic { found: [h[0], h[1], h[2], h[3]] });
    }
    if got == 5 {
        if h[4] != PROTOCOL_VERSION {
            return Err(FrameError::UnsupportedVersion { found: h[4] });
        }
        got += read_full(r, &mut h[5..])?;
    }
    if got < HEADER_LEN {
        return Err(FrameError::Truncated { part: FramePart::Header, offset: 0, got, expected: HEADER_LEN });
    }
    let stored = be_u32([h[16], h[17], h[18], h[19]]);
    let computed = crc32fast::hash(&h[..16]);
    if stored != computed {
        return Err(FrameError::HeaderCrc { stored, computed });
    }
    let verb = Verb::from_u8(h[5]).ok_or(FrameError::UnknownVerb { found: h[5] })?;
    let flags = u16::from_be_bytes([h[6], h[7]]);
    if flags & !KNOWN_FLAGS != 0 {
        return Err(FrameError::UnknownFlags { found: flags });
    }
    let id = be_u32([h[8], h[9], h[10], h[11]]);
    let len = be_u32([h[12], h[13], h[14], h[15]]);
    if len > max_payload {
        return Err(FrameError::PayloadTooLarge { len: u64::from(len), max: u64::from(max_payload) });
    }
    // `len` fits the limit, which the caller chose as an allocation it accepts.
    let len = len as usize;
    let mut payload = vec![0u8; len];
    let got = read_full(r, &mut payload)?;
    if got < len {
        return Err(FrameError::Truncated { part: FramePart::Payload, offset: HEADER_LEN, got, expected: len });
    }
    let mut c = [0u8; TRAILER_LEN];
    let got = read_full(r, &mut c)?;
    if got < TRAILER_LEN {
        return Err(FrameError::Truncated {
            part: FramePart::PayloadCrc,
            offset: HEADER_LEN + len,
            got,
            expected: TRAILER_LEN,
        });
    }
    let stored = be_u32(c);
    let computed = crc32fast::hash(&payload);
    if stored != computed {
        return Err(FrameError::PayloadCrc { offset: HEADER_LEN + len, stored, computed });
    }
    Ok(Frame { verb, flags, id, payload })
}

/// What [`serve`] calls for every request frame: the peer's address and the frame; it returns the
/// response. The server stamps the response with the request's id and the response flag, so a
/// handler may build it with [`Frame::response`] or any other way.
///
/// The address is the connection's source, which is not the peer's storage address: the port is
/// ephemeral, and on a loopback ring of 127.0.0.x nodes the source IP is 127.0.0.1 whichever node
/// connects (std cannot bind a socket before connecting). A verb whose handling depends on who
/// sent it carries the sender's storage address in its payload.
pub type Handler = Arc<dyn Fn(SocketAddr, Frame) -> Frame + Send + Sync>;

/// How often the accept loop and idle connections look at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How long [`serve`] waits for a peer to take a response before it gives the connection up.
const RESPONSE_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Answer internode requests on `listener` until `stop` is set: a thread per connection, each
/// reading frames and writing the handler's answer to each in order. A malformed frame (any
/// [`FrameError`] but a clean close), or a response frame sent as a request, is logged once and
/// closes that connection; so does a peer that does not take a response within 10 s. A handler
/// that panics is answered with [`Verb::Error`].
///
/// The returned thread ends after `stop` is set (within about 50 ms plus the time the handlers
/// still running take), having joined its connection threads.
pub fn serve(listener: TcpListener, handler: Handler, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        if let Err(e) = listener.set_nonblocking(true) {
            crate::log!("internode: cannot poll the listener ({e}); not serving");
            return;
        }
        let mut connections: Vec<JoinHandle<()>> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, peer)) => {
                    let handler = Arc::clone(&handler);
                    let stop = Arc::clone(&stop);
                    connections.retain(|c| !c.is_finished());
                    connections.push(std::thread::spawn(move || serve_connection(stream, peer, &handler, &stop)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(STOP_POLL),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    crate::log!("internode: accept failed: {e}");
                    std::thread::sleep(STOP_POLL);
                }
            }
        }
        for c in connections {
            let _ = c.join();
        }
    })
}

/// A reader that waits in slices of [`STOP_POLL`] and gives up when `stop` is set.
struct StopAware<'a> {
    stream: &'a TcpStream,
    stop: &'a AtomicBool,
}

impl Read for StopAware<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "node stopping"));
            }
            match (&mut &*self.stream).read(buf) {
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                other => return other,
            }
        }
    }
}

fn serve_connection(stream: TcpStream, peer: SocketAddr, handler: &Handler, stop: &AtomicBool) {
    let timeouts = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(STOP_POLL)))
        .and_then(|()| stream.set_write_timeout(Some(RESPONSE_WRITE_TIMEOUT)));
    if let Err(e) = timeouts {
        crate::log!("internode: connection from {peer}: cannot set its timeouts ({e}); closing");
        return;
    }
    // Responses are small and awaited: send them at once.
    let _ = stream.set_nodelay(true);
    loop {
        let request = match read_frame(&mut StopAware { stream: &stream, stop }, DEFAULT_MAX_PAYLOAD) {
            Ok(f) => f,
            Err(FrameError::Closed) => return,
            Err(FrameError::Io(e)) if stop.load(Ordering::Relaxed) && e.kind() == io::ErrorKind::ConnectionAborted => {
                return;
            }
            Err(e) => {
                crate::log!("internode: connection from {peer}: {e}; closing it");
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        };
        if request.is_response() {
            crate::log!(
                "internode: connection from {peer}: a response ({:?}, id {}) arrived as a request; closing it",
                request.verb,
                request.id
            );
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let id = request.id;
        let verb = request.verb;
        let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(peer, request)));
        let mut response = match answered {
            Ok(r) => r,
            Err(_) => {
                crate::log!("internode: the handler panicked on {verb:?} (id {id}) from {peer}");
                Frame { verb: Verb::Error, flags: 0, id, payload: format!("handler failed on {verb:?}").into_bytes() }
            }
        };
        response.id = id;
        response.flags |= FLAG_RESPONSE;
        if let Err(e) = write_frame(&mut &stream, &response) {
            crate::log!("internode: connection from {peer}: cannot answer {verb:?} (id {id}): {e}; closing it");
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Where a request was when it ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Opening the connection.
    Connect,
    /// Writing the request.
    Write,
    /// Waiting for or reading the response.
    Read,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connecting",
            Stage::Write => "writing the request",
            Stage::Read => "waiting for the response",
        })
    }
}

/// Why [`Messenger::request`] failed.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    /// Nothing listens on the peer's storage port (the node is down or not started).
    #[error("connection to {peer} refused")]
    ConnectionRefused {
        /// The peer.
        peer: SocketAddr,
    },
    /// The peer did not answer in time.
    #[error("request to {peer} timed out after {timeout:?} while {stage}")]
    Timeout {
        /// The peer.
        peer: SocketAddr,
        /// The time allowed (the connect timeout when connecting).
        timeout: Duration,
        /// Where the request was.
        stage: Stage,
    },
    /// The peer closed the connection before answering.
    #[error("{peer} closed the connection before answering")]
    Closed {
        /// The peer.
        peer: SocketAddr,
    },
    /// Any other socket error.
    #[error("internode i/o with {peer} while {stage}: {source}")]
    Io {
        /// The peer.
        peer: SocketAddr,
        /// Where the request was.
        stage: Stage,
        /// The error.
        source: io::Error,
    },
    /// The peer's answer is not a well-formed frame.
    #[error("{peer} sent a malformed frame: {source}")]
    Protocol {
        /// The peer.
        peer: SocketAddr,
        /// What was wrong.
        source: FrameError,
    },
    /// The peer's answer is a frame, but not the response to this request.
    #[error("{peer} answered request {expected} with {verb:?} frame id {found} (response flag {is_response})")]
    UnexpectedResponse {
        /// The peer.
        peer: SocketAddr,
        /// The request id.
        expected: u32,
        /// The id of the frame that came back.
        found: u32,
        /// Its verb.
        verb: Verb,
        /// Whether it had the response flag.
        is_response: bool,
    },
    /// The peer answered with [`Verb::Error`].
    #[error("{peer} failed the request: {message}")]
    Remote {
        /// The peer.
        peer: SocketAddr,
        /// The message it sent.
        message: String,
    },
}

/// Settings of a [`Messenger`].
#[derive(Debug, Clone)]
pub struct MessengerConfig {
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
    /// Idle connections kept per peer for reuse.
    pub max_idle_per_peer: usize,
    /// The largest response payload accepted.
    pub max_payload: u32,
}

impl Default for MessengerConfig {
    fn default() -> Self {
        MessengerConfig {
            connect_timeout: Duration::from_secs(2),
            max_idle_per_peer: 4,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// The requesting side: sends a request to a peer and waits for its response.
///
/// Connections are opened on demand and, after a clean exchange, kept idle (up to
/// [`MessengerConfig::max_idle_per_peer`] per peer) for the next request; a connection on which
/// anything went wrong is dropped. A request on a reused connection that the peer had closed
/// meanwhile (it restarted, say) is sent once more on a fresh connection, since the peer never
/// saw it. Request ids come from one counter per messenger, so they are unique among its
/// requests (until the counter wraps after 2³² requests). Shareable between threads (`&self`).
#[derive(Debug)]
pub struct Messenger {
    config: MessengerConfig,
    next_id: AtomicU32,
    idle: Mutex<HashMap<SocketAddr, Vec<TcpStream>>>,
}

/// A reader that gives up at a deadline (the request's timeout is for the whole response, not
/// for each `read`).
struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "request deadline passed"));
        }
        self.stream.set_read_timeout(Some(left))?;
        (&mut &*self.stream).read(buf)
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Errors that on a reused connection mean "the peer closed it while it was idle".
fn is_stale(e: &MessagingError) -> bool {
    match e {
        MessagingError::Closed { .. } => true,
        MessagingError::Io { source, .. } => matches!(
            source.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted
        ),
        _ => false,
    }
}

impl Default for Messenger {
    fn default() -> Self {
        Messenger::new(MessengerConfig::default())
    }
}

impl Messenger {
    /// A messenger with these settings and no connections yet.
    pub fn new(config: MessengerConfig) -> Messenger {
        Messenger { config, next_id: AtomicU32::new(1), idle: Mutex::new(HashMap::new()) }
    }

    /// Send `frame` to `to` as a request (its id and flags are replaced) and wait up to `timeout`
    /// for the response. A [`Verb::Error`] response is [`MessagingError::Remote`]; any other
    /// response frame is returned as it came.
    pub fn request(&self, to: SocketAddr, mut frame: Frame, timeout: Duration) -> Result<Frame, MessagingError> {
        frame.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        frame.flags &= !FLAG_RESPONSE;
        let bytes = encode_frame(&frame).map_err(|source| MessagingError::Protocol { peer: to, source })?;
        let deadline = Instant::now() + timeout;
        if let Some(stream) = self.take_idle(to) {
            match self.exchange(&stream, to, &bytes, frame.id, deadline, timeout) {
                Err(e) if is_stale(&e) => {}
                other => return self.finish(stream, to, other),
            }
        }
        let stream = self.connect(to, deadline, timeout)?;
        let result = self.exchange(&stream, to, &bytes, frame.id, deadline, timeout);
        self.finish(stream, to, result)
    }

    /// Number of idle connections kept for `peer` (for tests and metrics).
    pub fn idle_connections(&self, peer: SocketAddr) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).get(&peer).map_or(0, Vec::len)
    }

    /// Drop every idle connection to `peer` (when the peer is convicted or left the ring).
    pub fn forget(&self, peer: SocketAddr) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).remove(&peer);
    }

    fn take_idle(&self, peer: SocketAddr) -> Option<TcpStream> {
        // A poisoned lock only means another request panicked; the pool itself is sound.
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.get_mut(&peer).and_then(Vec::pop)
    }

    fn finish(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        result: Result<Frame, MessagingError>,
    ) -> Result<Frame, MessagingError> {
        // Only a connection whose exchange completed is in step; a remote Error is a complete
        // exchange too.
        let in_step = matches!(result, Ok(_) | Err(MessagingError::Remote { .. }));
        if in_step {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let conns = idle.entry(peer).or_default();
            if conns.len() < self.config.max_idle_per_peer {
                conns.push(stream);
            }
        }
        result
    }

    fn connect(&self, peer: SocketAddr, deadline: Instant, timeout: Duration) -> Result<TcpStream, MessagingError> {
        let allowed = self.config.connect_timeout.min(deadline.saturating_duration_since(Instant::now()));
        if allowed.is_zero() {
            return Err(MessagingError::Timeout { peer, timeout, stage: Stage::Connect });
        }
        let stream = TcpStream::connect_timeout(&peer, allowed).map_err(|e| match e.kind() {
            io::ErrorKind::ConnectionRefused => MessagingError::ConnectionRefused { peer },
            _ if is_timeout(&e) => MessagingError::Timeout { peer, timeout: allowed, stage: Stage::Connect },
            _ => MessagingError::Io { peer, stage: Stage::Connect, source: e },
        })?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    fn exchange(
        &self,
        stream: &TcpStream,
        peer: SocketAddr,
        bytes: &[u8],
        id: u32,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Frame, MessagingError> {
        let io_err = |stage: Stage, e: io::Error| {
            if is_timeout(&e) {
                MessagingError::Timeout { peer, timeout, stage }
            } else if e.kind() == io::ErrorKind::ConnectionRefused {
                MessagingError::ConnectionRefused { peer }
            } else {
                MessagingError::Io { peer, stage, source: e }
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(MessagingError::Timeout { peer, timeout, stage: Stage::Write });
        }
        stream.set_write_timeout(Some(left)).map_err(|e| io_err(Stage::Write, e))?;
        (&mut &*stream).write_all(bytes).map_err(|e| io_err(Stage::Write, e))?;
        let response = match read_frame(&mut DeadlineReader { stream, deadline }, self.config.max_payload) {
            Ok(f) => f,
            Err(FrameError::Closed) => return Err(MessagingError::Closed { peer }),
            Err(FrameError::Io(e)) => return Err(io_err(Stage::Read, e)),
            Err(source) => return Err(MessagingError::Protocol { peer, source }),
        };
        if response.id != id || !response.is_response() {
            return Err(MessagingError::UnexpectedResponse {
                peer,
                expected: id,
                found: response.id,
                verb: response.verb,
                is_response: response.is_response(),
            });
        }
        if response.verb == Verb::Error {
            return Err(MessagingError::Remote { peer, message: response.error_message() });
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(verb: Verb) -> Frame {
        Frame { verb, flags: 0, id: 0x0102_0304, payload: b"payload of a frame".to_vec() }
    }

    #[test]
    fn exact_bytes_of_a_frame() {
        let f = Frame { verb: Verb::Ack, flags: FLAG_RESPONSE, id: 7, payload: vec![0xAB] };
        let b = encode_frame(&f).unwrap();
        assert_eq!(&b[..16], &[b'C', b'R', b'N', b'I', 1, 16, 0, 1, 0, 0, 0, 7, 0, 0, 0, 1]);
        assert_eq!(b[16..20], crc32fast::hash(&b[..16]).to_be_bytes());
        assert_eq!(b[20], 0xAB);
        assert_eq!(b[21..25], crc32fast::hash(&[0xAB]).to_be_bytes());
        assert_eq!(b.len(), HEADER_LEN + 1 + TRAILER_LEN);
    }

    #[test]
    fn every_verb_round_trips() {
        for (i, verb) in Verb::ALL.into_iter().enumerate() {
            assert_eq!(verb as u8 as usize, i + 1, "wire values are 1.. in order");
            assert_eq!(Verb::from_u8(verb as u8), Some(verb));
            for flags in [0, FLAG_RESPONSE] {
                for payload in [Vec::new(), vec![verb as u8; 300]] {
                    let f = Frame { verb, flags, id: u32::MAX - i as u32, payload };
                    let mut bytes = Vec::new();
                    write_frame(&mut bytes, &f).unwrap();
                    let mut r = bytes.as_slice();
                    assert_eq!(read_frame(&mut r, DEFAULT_MAX_PAYLOAD).unwrap(), f);
                    assert!(r.is_empty(), "the reader takes exactly one frame");
                }
            }
        }
        assert_eq!(Verb::from_u8(0), None);
        assert_eq!(Verb::from_u8(Verb::ALL.len() as u8 + 1), None);
    }

    #[test]
    fn frames_follow_each_other_on_a_stream() {
        let mut bytes = Vec::new();
        for verb in Verb::ALL {
            write_frame(&mut bytes, &sample(verb)).unwrap();
        }
        let mut r = bytes.as_slice();
        for verb in Verb::ALL {
            assert_eq!(read_frame(&mut r, 1024).unwrap().verb, verb);
        }
        assert!(matches!(read_frame(&mut r, 1024), Err(FrameError::Closed)));
    }

    /// Every byte of a frame, changed in every possible way, gives the error of the field it is
    /// in, and nothing panics.
    #[test]
    fn every_single_byte_corruption_is_a_typed_error() {
        let good = encode_frame(&sample(Verb::Mutation)).unwrap();
        let payload_end = good.len() - TRAILER_LEN;
        for pos in 0..good.len() {
            for x in 1..=255u8 {
                let mut bad = good.clone();
                bad[pos] ^= x;
                let err = read_frame(&mut bad.as_slice(), DEFAULT_MAX_PAYLOAD).unwrap_err();
                let ok = match pos {
                    0..4 => matches!(err, FrameError::BadMagic { .. }),
                    4 => matches!(err, FrameError::UnsupportedVersion { found } if found == 1 ^ x),
                    5..20 => matches!(err, FrameError::HeaderCrc { .. }),
                    p if p < payload_end => matches!(err, FrameError::PayloadCrc { .. }),
                    _ => matches!(err, FrameError::PayloadCrc { offset, .. } if offset == payload_end),
                };
                assert!(ok, "byte {pos} ^ {x:#04x} gave {err:?}");
            }
        }
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let good = encode_frame(&sample(Verb::Read)).unwrap();
        let payload_len = good.len() - HEADER_LEN - TRAILER_LEN;
        for cut in 0..good.len() {
            let err = read_frame(&mut &good[..cut], DEFAULT_MAX_PAYLOAD).unwrap_err();
            let ok = match cut {
                0 => matches!(err, FrameError::Closed),
                c if c < HEADER_LEN => matches!(err,
                    FrameError::Truncated { part: FramePart::Header, got, expected: HEADER_LEN, .. } if got == c),
                c if c < HEADER_LEN + payload_len => matches!(err,
                    FrameError::Truncated { part: FramePart::Payload, got, expected, offset: HEADER_LEN }
                        if got == c - HEADER_LEN && expected == payload_len),
                c => matches!(err,
                    FrameError::Truncated { part: FramePart::PayloadCrc, got, expected: 4, .. }
                        if got == c - HEADER_LEN - payload_len),
            };
            assert!(ok, "cut at {cut} gave {err:?}");
        }
    }

    /// A header whose CRC is right but whose fields are not: each is named.
    #[test]
    fn well_checksummed_headers_with_bad_fields() {
        fn with(patch: impl Fn(&mut [u8])) -> FrameError {
            let mut b = encode_frame(&sample(Verb::Hint)).unwrap();
            patch(&mut b);
            let crc = crc32fast::hash(&b[..16]);
            b[16..20].copy_from_slice(&crc.to_be_bytes());
            read_frame(&mut b.as_slice(), 16).unwrap_err()
        }
        assert!(matches!(with(|b| b[5] = 0), FrameError::UnknownVerb { found: 0 }));
        assert!(matches!(with(|b| b[5] = 200), FrameError::UnknownVerb { found: 200 }));
        assert!(matches!(with(|b| b[7] = 0x02), FrameError::UnknownFlags { found: 2 }));
        // The sample's 18-byte payload is over a 16-byte limit; nothing of it is allocated.
        assert!(matches!(with(|_| {}), FrameError::PayloadTooLarge { len: 18, max: 16 }));
        assert!(matches!(
            with(|b| b[12..16].copy_from_slice(&u32::MAX.to_be_bytes())),
            FrameError::PayloadTooLarge { len: 0xFFFF_FFFF, max: 16 }
        ));
    }

    #[test]
    fn another_protocol_is_named() {
        // A CQL v4 STARTUP header, and an HTTP probe.
        let cql = [0x04u8, 0, 0, 1, 1, 0, 0, 0, 22];
        assert!(matches!(read_frame(&mut &cql[..], 1024), Err(FrameError::BadMagic { .. })));
        assert!(matches!(read_frame(&mut &b"GET / HTTP/1.1\r\n\r\n"[..], 1024), Err(FrameError::BadMagic { .. })));
        let mut v2 = encode_frame(&sample(Verb::Ack)).unwrap();
        v2[4] = 2;
        assert!(matches!(read_frame(&mut v2.as_slice(), 1024), Err(FrameError::UnsupportedVersion { found: 2 })));
    }

    #[test]
    fn writing_refuses_unknown_flags() {
        let f = Frame { flags: 0x8000, ..sample(Verb::Ack) };
        assert!(matches!(write_frame(&mut Vec::new(), &f), Err(FrameError::UnknownFlags { found: 0x8000 })));
    }

    /// A server whose handler answers `Read` with the reversed payload, `Mutation` with an
    /// Error, and anything else with an empty Ack.
    fn test_server() -> (SocketAddr, Arc<AtomicBool>, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(|_peer, req: Frame| match req.verb {
            Verb::Read => {
                let mut p = req.payload.clone();
                p.reverse();
                Frame::response(&req, Verb::ReadResponse, p)
            }
            Verb::Mutation => Frame::error(&req, "no such table ks.t"),
            Verb::Hint => panic!("handler bug"),
            _ => Frame::response(&req, Verb::Ack, Vec::new()),
        });
        let h = serve(listener, handler, Arc::clone(&stop));
        (addr, stop, h)
    }

    #[test]
    fn loopback_server_answers_many_concurrent_requests() {
        let (addr, stop, server) = test_server();
        let messenger = Arc::new(Messenger::default());
        let threads: Vec<_> = (0..6u32)
            .map(|t| {
                let m = Arc::clone(&messenger);
                std::thread::spawn(move || {
                    let mut ids = Vec::new();
                    for i in 0..50u32 {
                        let payload = format!("thread {t} request {i}").into_bytes();
                        let r = m.request(addr, Frame::request(Verb::Read, payload.clone()), Duration::from_secs(10));
                        let r = r.unwrap();
                        let mut want = payload;
                        want.reverse();
                        assert_eq!((r.verb, r.payload), (Verb::ReadResponse, want));
                        assert!(r.flags & FLAG_RESPONSE != 0);
                        ids.push(r.id);
                    }
                    ids
                })
            })
            .collect();
        let mut ids: Vec<u32> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 300, "request ids are unique per messenger");
        let pooled = messenger.idle_connections(addr);
        assert!((1..=4).contains(&pooled), "connections are pooled and bounded: {pooled}");
        // A remote failure is typed and leaves the connection usable.
        let before = messenger.idle_connections(addr);
        let err = messenger.request(addr, Frame::request(Verb::Mutation, vec![1]), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(&err, MessagingError::Remote { message, .. } if message == "no such table ks.t"), "{err}");
        assert_eq!(messenger.idle_connections(addr), before);
        // A panicking handler is an Error answer, not a dead connection.
        let err = messenger.request(addr, Frame::request(Verb::Hint, vec![]), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(&err, MessagingError::Remote { message, .. } if message.contains("Hint")), "{err}");
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap();
        // The server is gone: its pooled connections are stale, and a new connection is refused.
        let err = messenger.request(addr, Frame::request(Verb::Ack, vec![]), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, MessagingError::ConnectionRefused { .. }), "{err}");
    }

    #[test]
    fn a_pooled_connection_closed_by_a_restarted_peer_is_replaced() {
        let (addr, stop, server) = test_server();
        let m = Messenger::default();
        m.request(addr, Frame::request(Verb::SchemaPull, vec![]), Duration::from_secs(5)).unwrap();
        assert_eq!(m.idle_connections(addr), 1);
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap();
        // The same address serves again (a restart).
        let listener = TcpListener::bind(addr).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let server = serve(
            listener,
            Arc::new(|_, req| Frame::response(&req, Verb::SchemaResponse, b"v2".to_vec())),
            Arc::clone(&stop),
        );
        let r = m.request(addr, Frame::request(Verb::SchemaPull, vec![]), Duration::from_secs(5)).unwrap();
        assert_eq!((r.verb, r.payload.as_slice()), (Verb::SchemaResponse, &b"v2"[..]));
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap();
    }

    #[test]
    fn a_listener_that_never_answers_times_out() {
        // Never accepted: the kernel completes the connection, nobody reads.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let m = Messenger::default();
        let started = Instant::now();
        let err = m.request(addr, Frame::request(Verb::Read, vec![1, 2, 3]), Duration::from_millis(300)).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, MessagingError::Timeout { stage: Stage::Read, .. }), "{err}");
        assert!(took >= Duration::from_millis(290) && took < Duration::from_secs(3), "{took:?}");
        assert_eq!(m.idle_connections(addr), 0, "a timed-out connection is not reused");

        // Accepted and read, but never answered, while bytes dribble in: the timeout is for the
        // whole response.
        let mute = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = mute.local_addr().unwrap();
        let keeper = std::thread::spawn(move || {
            let (mut s, _) = mute.accept().unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            // Half a header, then one byte every 100 ms.
            let frame = encode_frame(&Frame::response(&sample(Verb::Ack), Verb::Ack, vec![])).unwrap();
            for b in frame.iter().take(10) {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let started = Instant::now();
        let err = m.request(addr, Frame::request(Verb::Read, vec![]), Duration::from_millis(350)).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, MessagingError::Timeout { stage: Stage::Read, .. }), "{err}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        keeper.join().unwrap();
    }

    #[test]
    fn connection_refused_is_reported_as_such() {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err =
            Messenger::default().request(addr, Frame::request(Verb::Ack, vec![]), Duration::from_secs(2)).unwrap_err();
        assert!(matches!(err, MessagingError::ConnectionRefused { peer } if peer == addr), "{err}");
    }

    #[test]
    fn a_malformed_request_closes_only_that_connection() {
        let (addr, stop, server) = test_server();
        let mut raw = TcpStream::connect(addr).unwrap();
        raw.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 8];
        // Closed at once (an 18-byte probe is not waited on for a 20-byte header): end of stream
        // or a reset, not the 5 s timeout.
        let closed = |r: io::Result<usize>| match r {
            Ok(0) => true,
            Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
            Ok(_) => false,
        };
        let started = Instant::now();
        assert!(closed(raw.read(&mut buf)), "the server closes the connection");
        assert!(started.elapsed() < Duration::from_secs(2));
        // A response sent as a request closes the connection too.
        let mut raw = TcpStream::connect(addr).unwrap();
        write_frame(&mut raw, &Frame::response(&sample(Verb::Read), Verb::ReadResponse, vec![])).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(closed(raw.read(&mut buf)));
        assert!(started.elapsed() < Duration::from_secs(2));
        // Other connections are served.
        let r = Messenger::default().request(addr, Frame::request(Verb::Read, vec![1, 2]), Duration::from_secs(5));
        assert_eq!(r.unwrap().payload, vec![2, 1]);
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap();
    }

    #[test]
    fn a_peer_answering_garbage_is_a_protocol_error() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            // A well-formed frame with the wrong id, on a second connection garbage.
            let f = Frame { verb: Verb::Ack, flags: FLAG_RESPONSE, id: 999_999, payload: vec![] };
            write_frame(&mut s, &f).unwrap();
            let (mut s, _) = l.accept().unwrap();
            let _ = s.read(&mut buf);
            s.write_all(b"CRNI\x01garbage-garbage-garbage").unwrap();
        });
        let m = Messenger::default();
        let err = m.request(addr, Frame::request(Verb::Read, vec![]), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, MessagingError::UnexpectedResponse { found: 999_999, .. }), "{err}");
        let err = m.request(addr, Frame::request(Verb::Read, vec![]), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, MessagingError::Protocol { source: FrameError::HeaderCrc { .. }, .. }), "{err}");
        t.join().unwrap();
    }
}
