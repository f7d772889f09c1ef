//! Pushed events (`native_protocol_v4.spec` §4.2.6): a client that sent REGISTER for
//! TOPOLOGY_CHANGE, STATUS_CHANGE or SCHEMA_CHANGE gets an EVENT frame (stream id -1) when a node
//! joins or leaves the ring, goes up or down, or when this node's schema changes. Drivers
//! depend on them: the Python driver marks a restarted node up again when it hears STATUS_CHANGE
//! UP instead of waiting out its reconnection back-off.
//!
//! A registered connection's socket is shared between its own thread and the event publisher,
//! so each writes whole frames under the connection's lock and frames never interleave.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use crate::protocol::{self, Compression, Writer, opcode};

/// An event to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A node joined or left the ring.
    Topology {
        /// `NEW_NODE` or `REMOVED_NODE`.
        change: &'static str,
        /// Its CQL address.
        node: SocketAddr,
    },
    /// A node went up or down.
    Status {
        /// `UP` or `DOWN`.
        change: &'static str,
        /// Its CQL address.
        node: SocketAddr,
    },
    /// This node's schema changed.
    Schema {
        /// `CREATED`, `UPDATED` or `DROPPED`.
        change: &'static str,
        /// `KEYSPACE`, `TABLE` or `TYPE`.
        target: &'static str,
        /// The keyspace.
        keyspace: String,
        /// The table or type (none for a keyspace).
        name: Option<String>,
    },
}

impl Event {
    fn kind(&self) -> &'static str {
        match self {
            Event::Topology { .. } => "TOPOLOGY_CHANGE",
            Event::Status { .. } => "STATUS_CHANGE",
            Event::Schema { .. } => "SCHEMA_CHANGE",
        }
    }

    /// The EVENT body.
    pub fn body(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.string(self.kind());
        let inet = |w: &mut Writer, a: &SocketAddr| {
            let ip = match a.ip() {
                std::net::IpAddr::V4(v) => v.octets().to_vec(),
                std::net::IpAddr::V6(v) => v.octets().to_vec(),
            };
            w.buf.push(ip.len() as u8);
            w.buf.extend_from_slice(&ip);
            w.int(i32::from(a.port()));
        };
        match self {
            Event::Topology { change, node } | Event::Status { change, node } => {
                w.string(change);
                inet(&mut w, node);
            }
            Event::Schema { change, target, keyspace, name } => {
                w.string(change).string(target).string(keyspace);
                if let Some(n) = name {
                    w.string(n);
                }
            }
        }
        w.buf
    }
}

/// A registered connection.
struct Subscriber {
    types: Vec<String>,
    stream: Arc<Mutex<TcpStream>>,
    compression: Option<Compression>,
}

/// The registered connections of a node.
#[derive(Default)]
pub(crate) struct Events {
    subscribers: Mutex<Vec<Subscriber>>,
}

impl Events {
    /// Register a connection for these event types.
    pub(crate) fn subscribe(
        &self,
        types: Vec<String>,
        stream: Arc<Mutex<TcpStream>>,
        compression: Option<Compression>,
    ) {
        if let Ok(mut s) = self.subscribers.lock() {
            s.push(Subscriber { types, stream, compression });
        }
    }

    /// Push `event` to every connection registered for its type; a connection that cannot take
    /// it (closed) is dropped.
    pub(crate) fn publish(&self, event: &Event) {
        let Ok(mut subs) = self.subscribers.lock() else { return };
        let body = event.body();
        subs.retain(|s| {
            if !s.types.iter().any(|t| t == event.kind()) {
                return true;
            }
            let mut frame = Vec::new();
            if protocol::write_frame(&mut frame, -1, opcode::EVENT, &body, s.compression).is_err() {
                return false;
            }
            match s.stream.lock() {
                Ok(mut stream) => stream.write_all(&frame).and_then(|()| stream.flush()).is_ok(),
                Err(_) => false,
            }
        });
    }
}
