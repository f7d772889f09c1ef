//! What a node does when another node of the ring asks: apply mutations (logged first, and
//! durable before the answer under batch sync), read partitions by key or in ring order from its
//! own data, take part in gossip, and hand out or adopt schema. The internode handler
//! (`handle`) dispatches frames by verb; the reads answer as [`crate::storage::mutation`]
//! lists, so the coordinator reconciles what every replica sends with one decoder.

use std::net::SocketAddr;
use std::sync::Weak;

use cairn_format::partitioner::Token;

use crate::node::Shared;
use crate::protocol::{Failure, code, invalid};
use crate::ring::messaging::{Frame, Verb};
use crate::storage::mutation::{self, Mutation};
use crate::storage::table::Place;

/// Answer a frame from another node.
pub(crate) fn handle(shared: &Weak<Shared>, from: SocketAddr, req: Frame) -> Frame {
    let Some(shared) = shared.upgrade() else { return Frame::error(&req, "the node is stopping") };
    let Some(cluster) = &shared.cluster else { return Frame::error(&req, "this node is not in a ring") };
    match req.verb {
        Verb::GossipSyn => cluster.on_syn(from, &req),
        Verb::GossipAck2 => cluster.on_ack2(&req),
        Verb::SchemaPull => match shared.catalog_read() {
            Ok(cat) => Frame::response(&req, Verb::SchemaResponse, crate::catalog::schema_text(&cat).into_bytes()),
            Err(f) => Frame::error(&req, &f.message),
        },
        Verb::SchemaPush => {
            let result = std::str::from_utf8(&req.payload)
                .map_err(|_| invalid("a schema push that is not UTF-8"))
                .and_then(|text| crate::catalog::adopt_schema(&shared, text));
            match result {
                Ok(()) => Frame::response(&req, Verb::Ack, vec![]),
                Err(f) => Frame::error(&req, &f.message),
            }
        }
        Verb::Mutation | Verb::Hint | Verb::Read | Verb::RangeRead => {
            let reply = match req.verb {
                Verb::Mutation | Verb::Hint => Verb::MutationAck,
                Verb::Read => Verb::ReadResponse,
                _ => Verb::RangeReadResponse,
            };
            let verb = if req.verb == Verb::Hint { Verb::Mutation } else { req.verb };
            match answer(&shared, verb, &req.payload) {
                Ok(b) => Frame::response(&req, reply, b),
                Err(f) => Frame::error(&req, &f.message),
            }
        }
        Verb::RemoveNode => match std::str::from_utf8(&req.payload).ok().and_then(|a| a.parse().ok()) {
            Some(addr) => {
                cluster.forget(addr);
                Frame::response(&req, Verb::Ack, vec![])
            }
            None => Frame::error(&req, "removenode: not an internode address"),
        },
        Verb::RingRequest => match crate::ring::load::describe(&shared) {
            Ok(text) => Frame::response(&req, Verb::RingDescription, text.into_bytes()),
            Err(f) => Frame::error(&req, &f.message),
        },
        Verb::ValidationRequest => match crate::ring::repair::validate(&shared, &req.payload) {
            Ok(b) => Frame::response(&req, Verb::ValidationResponse, b),
            Err(f) => Frame::error(&req, &f.message),
        },
        Verb::RepairPrepare | Verb::RepairFinish => {
            let answer = if req.verb == Verb::RepairPrepare {
                crate::ring::repair::prepare(&shared, &req.payload)
            } else {
                crate::ring::repair::finish(&shared, &req.payload)
            };
            match answer {
                Ok(b) => Frame::response(&req, Verb::Ack, b),
                Err(f) => Frame::error(&req, &f.message),
            }
        }
        Verb::StreamRequest => match crate::ring::streaming::answer(&shared, &req.payload) {
            Ok(b) => Frame::response(&req, Verb::StreamChunk, b),
            Err(f) => Frame::error(&req, &f.message),
        },
        other => Frame::error(&req, &format!("{other:?} is not served by this node yet")),
    }
}

/// This node's answer to a data request: a [`Verb::Mutation`] applied (an empty answer), or the
/// partitions a [`Verb::Read`] or [`Verb::RangeRead`] asks for, as a mutation list.
pub(crate) fn answer(shared: &Shared, verb: Verb, payload: &[u8]) -> Result<Vec<u8>, Failure> {
    let bad = |e: String| Failure { code: code::PROTOCOL, message: e, extra: vec![] };
    match verb {
        Verb::Mutation => {
            let ms = mutation::decode_all(payload).map_err(|e| bad(e.to_string()))?;
            let cat = shared.catalog_read()?;
            let at = crate::execute::write_local(shared, &cat, ms)?;
            drop(cat);
            if let Some(at) = at {
                shared.wait_durable(at).map_err(|e| Failure {
                    code: code::SERVER,
                    message: format!("commit log: {e}"),
                    extra: vec![],
                })?;
            }
            Ok(vec![])
        }
        Verb::Read => {
            let mut r = Cursor(payload);
            let id = r.id()?;
            let n = r.u32()? as usize;
            let mut keys = Vec::new();
            for _ in 0..n.min(payload.len()) {
                let key = r.bytes()?;
                keys.push((Token::Murmur3(cairn_format::partitioner::murmur3_token(&key)), key));
            }
            let cat = shared.catalog_read()?;
            let t = cat.table_by_id(&id).ok_or_else(|| invalid(format!("no table with id {}", hex(&id))))?;
            let ps = t.lock()?.partitions(&keys)?;
            let ms: Vec<Mutation> = ps.into_iter().map(|partition| Mutation { table_id: id, partition }).collect();
            let mut out = Vec::new();
            mutation::encode_all(&ms, &mut out);
            Ok(out)
        }
        Verb::RangeRead => {
            let mut r = Cursor(payload);
            let id = r.id()?;
            let after = r.after()?;
            let n = r.u32()? as usize;
            let cat = shared.catalog_read()?;
            let t = cat.table_by_id(&id).ok_or_else(|| invalid(format!("no table with id {}", hex(&id))))?;
            let ps = t.lock()?.partitions_after(after.as_ref(), n)?;
            let ms: Vec<Mutation> = ps.into_iter().map(|(_, partition)| Mutation { table_id: id, partition }).collect();
            let mut out = Vec::new();
            mutation::encode_all(&ms, &mut out);
            Ok(out)
        }
        other => Err(invalid(format!("{other:?} is not a data request"))),
    }
}

fn hex(b: &[u8]) -> String {
    cairn_format::types::render::hex(b)
}

/// Where a page of partitions resumes, as requests carry it:
/// `[u8 0]` (from the start) or `[u8 1] [i64 token] [u32 length] key` (after that partition).
pub(crate) fn put_after(b: &mut Vec<u8>, after: Option<&Place>) {
    match after {
        Some((Token::Murmur3(t), key)) => {
            b.push(1);
            b.extend_from_slice(&t.to_be_bytes());
            b.extend_from_slice(&(key.len() as u32).to_be_bytes());
            b.extend_from_slice(key);
        }
        _ => b.push(0),
    }
}

/// A request payload being read.
pub(crate) struct Cursor<'a>(pub(crate) &'a [u8]);

impl Cursor<'_> {
    /// What [`put_after`] wrote.
    pub(crate) fn after(&mut self) -> Result<Option<Place>, Failure> {
        Ok(match self.u8()? {
            0 => None,
            _ => {
                let token = self.i64()?;
                Some((Token::Murmur3(token), self.bytes()?))
            }
        })
    }

    pub(crate) fn i64(&mut self) -> Result<i64, Failure> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], Failure> {
        if self.0.len() < n {
            return Err(Failure {
                code: code::PROTOCOL,
                message: "a truncated internode request".into(),
                extra: vec![],
            });
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Failure> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Failure> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn id(&mut self) -> Result<[u8; 16], Failure> {
        let mut id = [0; 16];
        id.copy_from_slice(self.take(16)?);
        Ok(id)
    }

    pub(crate) fn bytes(&mut self) -> Result<Vec<u8>, Failure> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
}
