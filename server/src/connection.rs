//! Connections: one thread per client, reading frames, answering STARTUP/OPTIONS and the SASL
//! PLAIN exchange of `PasswordAuthenticator`, then handing statements to the executor. Answers
//! to pipelined requests are held back and sent together — after one durability wait when the
//! commit log syncs in batch mode.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use crate::cql::Statement;
use crate::execute::logged_execute;
use crate::execute::prepare::prepare;
use crate::node::Shared;
use crate::protocol::{
    self, Compression, Failure, Incoming, QueryParams, Request, Writer, code, encode_outcome, encode_prepared, invalid,
    opcode, syntax,
};

pub(crate) struct Session {
    pub(crate) keyspace: Option<String>,
    pub(crate) compression: Option<Compression>,
    pub(crate) started: bool,
    /// Authenticated (always, when authentication is off).
    pub(crate) authenticated: bool,
    /// The commit-log position the answers not yet sent must wait to be durable (batch sync).
    pub(crate) pending_sync: Option<u64>,
}

/// Send the answers held back, once the writes they acknowledge are durable (batch sync); false
/// when the connection should end.
pub(crate) fn send_answers(
    shared: &Shared,
    session: &mut Session,
    answers: &mut Vec<u8>,
    writer: &mut impl Write,
) -> bool {
    if let Some(at) = session.pending_sync.take()
        && let Err(e) = shared.wait_durable(at)
    {
        // Not durable: answer nothing (the client times out and retries), and stop.
        crate::log!("cairn node: commit log sync failed: {e}");
        return false;
    }
    let ok = writer.write_all(answers).is_ok() && writer.flush().is_ok();
    answers.clear();
    ok
}

/// A connection's socket, shared with the event publisher: each `write` sends its whole buffer
/// under the lock, so a frame written in one call is never split by an event.
pub(crate) struct SharedStream(pub(crate) Arc<Mutex<TcpStream>>);

impl Write for SharedStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut s = self.0.lock().map_err(|_| std::io::Error::other("connection lock poisoned"))?;
        s.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().map_err(|_| std::io::Error::other("connection lock poisoned"))?.flush()
    }
}

pub(crate) fn serve(conn: TcpStream, shared: &Shared) {
    let _ = conn.set_nodelay(true);
    let Ok(read_half) = conn.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let stream = Arc::new(Mutex::new(conn));
    // Answers are gathered in `answers` and written with one call.
    let mut writer = SharedStream(Arc::clone(&stream));
    let mut session =
        Session { keyspace: None, compression: None, started: false, authenticated: false, pending_sync: None };
    // Answers wait here while more requests are already buffered (pipelined), and go out
    // together — after one durability wait in batch sync mode.
    let mut answers: Vec<u8> = Vec::new();
    loop {
        let frame = match protocol::read_frame(&mut reader, shared.config.max_frame_bytes) {
            Err(_) | Ok(Ok(Incoming::Closed)) => return,
            Ok(Err(e)) => {
                let _ = protocol::write_frame(
                    &mut answers,
                    0,
                    opcode::ERROR,
                    &protocol::error_body(code::PROTOCOL, &e.to_string()),
                    None,
                );
                let _ = send_answers(shared, &mut session, &mut answers, &mut writer);
                return;
            }
            Ok(Ok(Incoming::WrongVersion(h))) => {
                let msg = format!(
                    "Invalid or unsupported protocol version ({}); supported versions are (4/v4)",
                    h.version & 0x7f
                );
                let _ = protocol::write_frame(
                    &mut answers,
                    h.stream,
                    opcode::ERROR,
                    &protocol::error_body(code::PROTOCOL, &msg),
                    None,
                );
                let _ = send_answers(shared, &mut session, &mut answers, &mut writer);
                return;
            }
            Ok(Ok(Incoming::Frame(h, body))) => (h, body),
        };
        let (h, body) = frame;
        let body = if h.flags & 0x01 != 0 {
            match session.compression.map(|c| c.decompress(&body)) {
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    let _ = protocol::write_frame(
                        &mut answers,
                        h.stream,
                        opcode::ERROR,
                        &protocol::error_body(code::PROTOCOL, &e.to_string()),
                        None,
                    );
                    let _ = send_answers(shared, &mut session, &mut answers, &mut writer);
                    return;
                }
                None => {
                    let msg = "compressed frame before a compression was agreed in STARTUP";
                    let _ = protocol::write_frame(
                        &mut answers,
                        h.stream,
                        opcode::ERROR,
                        &protocol::error_body(code::PROTOCOL, msg),
                        None,
                    );
                    let _ = send_answers(shared, &mut session, &mut answers, &mut writer);
                    return;
                }
            }
        } else {
            body
        };
        let (op, out, close) = match Request::parse(h.opcode, &body) {
            Err(e) => (opcode::ERROR, protocol::error_body(code::PROTOCOL, &e.to_string()), true),
            Ok(Request::Register(types)) if session.started && session.authenticated => {
                // Events go straight to the socket, under the same lock as the answers.
                shared.events.subscribe(types, Arc::clone(&stream), session.compression);
                (opcode::READY, vec![], false)
            }
            Ok(req) => match handle(req, &mut session, shared) {
                Ok((op, out)) => (op, out, false),
                Err(f) => {
                    let mut w = Writer::default();
                    w.int(f.code).string(&f.message);
                    w.buf.extend_from_slice(&f.extra);
                    (opcode::ERROR, w.buf, f.code == code::PROTOCOL)
                }
            },
        };
        let compression = if op == opcode::READY { None } else { session.compression };
        if protocol::write_frame(&mut answers, h.stream, op, &out, compression).is_err() {
            return;
        }
        if (close || reader.buffer().is_empty() || answers.len() >= 1 << 16)
            && !send_answers(shared, &mut session, &mut answers, &mut writer)
        {
            return;
        }
        if close {
            return;
        }
    }
}

pub(crate) fn handle(req: Request, session: &mut Session, shared: &Shared) -> Result<(u8, Vec<u8>), Failure> {
    let protocol_error = |m: &str| Failure { code: code::PROTOCOL, message: m.into(), extra: vec![] };
    match req {
        Request::Options => {
            let mut w = Writer::default();
            w.string_multimap(&[
                ("CQL_VERSION", &["3.4.7"]),
                ("COMPRESSION", &["lz4", "snappy"]),
                ("PROTOCOL_VERSIONS", &["4/v4"]),
            ]);
            Ok((opcode::SUPPORTED, w.buf))
        }
        Request::Startup(options) => {
            if let Some(c) = options.get("COMPRESSION") {
                session.compression = Some(
                    Compression::parse(c).ok_or_else(|| protocol_error(&format!("unsupported compression '{c}'")))?,
                );
            }
            session.started = true;
            if shared.config.users.is_some() {
                // PasswordAuthenticator: the client answers with SASL PLAIN.
                let mut w = Writer::default();
                w.string("org.apache.cassandra.auth.PasswordAuthenticator");
                return Ok((opcode::AUTHENTICATE, w.buf));
            }
            session.authenticated = true;
            Ok((opcode::READY, vec![]))
        }
        _ if !session.started => Err(protocol_error("Unexpected message, expecting STARTUP or OPTIONS")),
        Request::AuthResponse(token) => {
            let Some(users) = &shared.config.users else { return Err(protocol_error("authentication is not enabled")) };
            // SASL PLAIN: [authzid] NUL authcid NUL password.
            let token = token.unwrap_or_default();
            let mut parts = token.split(|b| *b == 0);
            let (_, user, password) = (parts.next(), parts.next(), parts.next());
            let (user, password) = (
                String::from_utf8_lossy(user.unwrap_or_default()).to_string(),
                String::from_utf8_lossy(password.unwrap_or_default()).to_string(),
            );
            if users.iter().any(|(u, p)| *u == user && *p == password) {
                session.authenticated = true;
                let mut w = Writer::default();
                w.bytes(None);
                Ok((opcode::AUTH_SUCCESS, w.buf))
            } else {
                Err(Failure {
                    code: code::BAD_CREDENTIALS,
                    message: format!("Provided username {user} and/or password are incorrect"),
                    extra: vec![],
                })
            }
        }
        _ if !session.authenticated => {
            Err(protocol_error("Unexpected message, expecting SASL_RESPONSE (authenticate first)"))
        }
        Request::Register(_) => Ok((opcode::READY, vec![])),
        Request::Query(text, params) => {
            let (statement, _) = crate::cql::parse(&text).map_err(syntax)?;
            let out = logged_execute(shared, session, &statement, &params)?;
            Ok((opcode::RESULT, encode_outcome(out, &params)))
        }
        Request::Prepare(text) => {
            let (statement, n) = crate::cql::parse(&text).map_err(syntax)?;
            let id = {
                let key = format!("{}\u{0}{text}", session.keyspace.clone().unwrap_or_default());
                let (a, b) = cairn_format::partitioner::murmur3_cassandra(key.as_bytes());
                let mut id = a.to_be_bytes().to_vec();
                id.extend_from_slice(&b.to_be_bytes());
                id
            };
            let mut p = prepare(&*shared.catalog_read()?, session, statement, n)?;
            p.text = text;
            let out = encode_prepared(&id, &p);
            shared.prepared()?.insert(id, Arc::new(p));
            Ok((opcode::RESULT, out))
        }
        Request::Execute(id, params) => {
            let p = shared.prepared_get(&id)?.ok_or_else(|| unprepared(&id))?;
            let saved = session.keyspace.clone();
            if p.keyspace.is_some() && session.keyspace.is_none() {
                session.keyspace.clone_from(&p.keyspace);
            }
            let result = logged_execute(shared, session, &p.statement, &params);
            // The statement's keyspace served this statement only (a prepared USE keeps its
            // own): left on the connection, it would change the ids the connection's later
            // PREPAREs get, and a driver preparing on every connection sees the ids disagree.
            if !matches!(p.statement, Statement::Use(_)) {
                session.keyspace = saved;
            }
            Ok((opcode::RESULT, encode_outcome(result?, &params)))
        }
        Request::Batch(_, statements, consistency, timestamp) => {
            // One write: staged together, logged as one entry, applied together.
            let mut items: Vec<(Held, QueryParams)> = Vec::with_capacity(statements.len());
            for st in statements {
                let (statement, values) = match st {
                    protocol::BatchStatement::Query(q, v) => {
                        let (s, _) = crate::cql::parse(&q).map_err(syntax)?;
                        (Held::Parsed(s), v)
                    }
                    protocol::BatchStatement::Prepared(id, v) => {
                        (Held::Prepared(shared.prepared_get(&id)?.ok_or_else(|| unprepared(&id))?), v)
                    }
                };
                if matches!(statement.get(), Statement::Select { .. }) {
                    return Err(invalid(
                        "Invalid statement in batch: only UPDATE, INSERT and DELETE statements are allowed.",
                    ));
                }
                items.push((statement, QueryParams { values, timestamp, ..Default::default() }));
            }
            let items: Vec<(&Statement, &QueryParams)> = items.iter().map(|(s, p)| (s.get(), p)).collect();
            crate::execute::write_all(shared, session, &items, consistency)?;
            let mut w = Writer::default();
            w.int(0x0001);
            Ok((opcode::RESULT, w.buf))
        }
    }
}

/// A statement of a BATCH: parsed from its text, or a prepared one (shared, not copied).
enum Held {
    Parsed(Statement),
    Prepared(Arc<crate::execute::prepare::Prepared>),
}

impl Held {
    fn get(&self) -> &Statement {
        match self {
            Held::Parsed(s) => s,
            Held::Prepared(p) => &p.statement,
        }
    }
}

/// The answer to an EXECUTE or BATCH of an id the node has not prepared (or forgot, with its
/// table): drivers prepare it again and retry.
fn unprepared(id: &[u8]) -> Failure {
    let mut w = Writer::default();
    w.short_bytes(id);
    Failure { code: code::UNPREPARED, message: "Prepared query with ID not found".into(), extra: w.buf }
}
