//! Gossip: the state every node spreads about itself and learns about the others, after
//! Cassandra 4.x's `Gossiper` (`src/java/org/apache/cassandra/gms/`: `Gossiper.java`,
//! `EndpointState.java`, `HeartBeatState.java`, `VersionedValue.java`, `ApplicationState.java`,
//! `GossipDigest*.java`, `GossipDigest*VerbHandler.java`).
//!
//! This module is the pure state model: no threads, sockets or clocks. The node owns one
//! [`Gossip`], calls it every gossip round and for every gossip message, carries the messages in
//! [`super::messaging`] frames, and turns the [`Change`]s it reports into ring updates, client
//! events and failure-detector reports ([`super::failure`]).
//!
//! # State
//!
//! Every endpoint (a node, named by its storage address) has an [`EndpointState`]:
//!
//! * a **generation**: fixed for the life of a process and larger at every restart (Cassandra
//!   uses the start time in seconds, stored so that it always grows). A higher generation means
//!   the endpoint restarted: its whole old state is replaced.
//! * a **heartbeat** version, bumped by the endpoint itself every gossip round: it is how others
//!   see that it is alive.
//! * **application states** ([`AppState`]: status, tokens, data center, rack, schema version,
//!   addresses, host id, release, load), each a string with the version it was set at.
//!
//! Versions come from **one counter per node** (Cassandra's `VersionGenerator`): the heartbeat and
//! every application state the node sets take the next number. So within one generation an
//! endpoint's versions are totally ordered, and "what has it published since version v" is a
//! well-defined question. The largest version in a state is its **max version**.
//!
//! # One round: Syn, Ack, Ack2
//!
//! Every round (Cassandra: every second; Cairn on loopback: 200–250 ms) a node bumps its
//! heartbeat and starts an exchange with a peer (Cassandra's `GossipTask`: a random live peer,
//! sometimes an unreachable one, a seed when needed):
//!
//! ```text
//!  A (initiator)                                              B
//!  Syn  { cluster, partitioner, digests: for every endpoint A knows,
//!         (address, generation, max version) }          ───────▶
//!                                                         B compares each digest with its own:
//!                                                           B newer  → B sends that state (the
//!                                                                      part newer than A's max
//!                                                                      version; all of it if A's
//!                                                                      generation is older)
//!                                                           A newer  → B asks (addr, gen, B's max
//!                                                                      version; 0 if B's
//!                                                                      generation is older or B
//!                                                                      does not know it)
//!        ◀─────── Ack { requests: digests B wants, states: deltas A lacks }
//!  A applies the states, then answers the requests:
//!  Ack2 { states: for each request, A's state newer than its version } ───────▶
//!                                                         B applies the states
//! ```
//!
//! A Syn from another cluster name or partitioner is refused ([`GossipError`]). Endpoints that
//! B knows but A's Syn does not mention are not sent (as in Cassandra): A learns them when B
//! starts a round with A, or from a third node. In [`super::messaging`] the Syn is a
//! [`GossipSyn`](super::messaging::Verb::GossipSyn) request, the Ack its
//! [`GossipAck`](super::messaging::Verb::GossipAck) response, and the Ack2 a
//! [`GossipAck2`](super::messaging::Verb::GossipAck2) request answered by an empty
//! [`Ack`](super::messaging::Verb::Ack).
//!
//! # Merge rules (`Gossiper.applyStateLocally`, `applyNewStates`)
//!
//! For every endpoint in a received map, except this node itself:
//!
//! * unknown endpoint → its state is taken whole ([`Change::Joined`]);
//! * higher generation → the old state is **replaced** whole, states absent from the new one are
//!   gone ([`Change::Restarted`]);
//! * same generation and a higher max version → the heartbeat is advanced and each application
//!   state is taken if its version is higher than the one held (older ones are ignored);
//! * anything else (a lower generation, nothing newer) is ignored.
//!
//! All states of a message are applied before any change is reported, so a consumer handling a
//! status change finds the endpoint's tokens already in [`Gossip::endpoint`]. Per endpoint the
//! changes come as: `Joined`/`Restarted`, then [`Change::StateChanged`] for `Status` first and
//! the others after (Cassandra runs STATUS first so that the endpoint is a member before its
//! other states are handled), then [`Change::Heard`] — the cue to report a heartbeat to the
//! failure detector (Cassandra's `notifyFailureDetector`). Not modelled: quarantine of removed
//! endpoints, the shadow round, the generation sanity bound against the local clock, and the
//! ordering of endpoints by status within one message (endpoints are applied in address order).
//!
//! # Encoding (all integers big-endian)
//!
//! ```text
//! Syn     = u8 kind=1 | string cluster_name | string partitioner | u32 n | n × digest
//! Ack     = u8 kind=2 | u32 n | n × digest | u32 m | m × (endpoint | endpoint_state)
//! Ack2    = u8 kind=3 | u32 m | m × (endpoint | endpoint_state)
//! digest  = endpoint | i64 generation | u64 max_version
//! endpoint       = u8 family (4 or 6) | 4 or 16 address bytes | u16 port
//! endpoint_state = i64 generation | u64 heartbeat | u16 k
//!                  | k × (u8 app_state | u64 version | string value)
//! string  = u32 byte length | UTF-8 bytes
//! ```
//!
//! Decoding takes exactly one message: trailing bytes, unknown kinds, application states or
//! address families, invalid UTF-8 and an endpoint (or application state) listed twice are
//! [`DecodeError`]s with the byte offset; nothing panics and no count is trusted for allocation.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// An application state: what an endpoint publishes about itself besides its heartbeat. The
/// numbers are the wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum AppState {
    /// Where the endpoint is in its life: [`status`] values, optionally followed by `,` and
    /// details (Cassandra's `STATUS_WITH_PORT`, e.g. `NORMAL,<token>`).
    Status = 1,
    /// The endpoint's tokens (their text is `ring::tokens`' business).
    Tokens = 2,
    /// Its data center (`DC`).
    Dc = 3,
    /// Its rack (`RACK`).
    Rack = 4,
    /// The UUID of its schema version (`SCHEMA`): differing values trigger a schema pull.
    SchemaVersion = 5,
    /// The address clients reach it at (`RPC_ADDRESS` / `NATIVE_ADDRESS_AND_PORT`).
    RpcAddress = 6,
    /// Its CQL native port.
    NativePort = 7,
    /// Its host id UUID (`HOST_ID`).
    HostId = 8,
    /// Its release version (`RELEASE_VERSION`).
    ReleaseVersion = 9,
    /// Bytes of data it holds (`LOAD`).
    Load = 10,
}

impl AppState {
    /// Every application state, in wire order.
    pub const ALL: [AppState; 10] = [
        AppState::Status,
        AppState::Tokens,
        AppState::Dc,
        AppState::Rack,
        AppState::SchemaVersion,
        AppState::RpcAddress,
        AppState::NativePort,
        AppState::HostId,
        AppState::ReleaseVersion,
        AppState::Load,
    ];

    /// The application state with wire value `byte`, if there is one.
    pub fn from_u8(byte: u8) -> Option<AppState> {
        AppState::ALL.iter().copied().find(|s| *s as u8 == byte)
    }
}

/// Values of [`AppState::Status`] (Cassandra's `VersionedValue` constants). A status value is one
/// of these, optionally followed by `,` and details; [`status_kind`] takes the first part.
pub mod status {
    /// Joining: streaming its ranges, not yet serving reads (`STATUS_BOOTSTRAPPING`).
    pub const BOOT: &str = "BOOT";
    /// A full member of the ring (`STATUS_NORMAL`).
    pub const NORMAL: &str = "NORMAL";
    /// Decommissioning: handing its ranges over (`STATUS_LEAVING`).
    pub const LEAVING: &str = "LEAVING";
    /// Left the ring (`STATUS_LEFT`).
    pub const LEFT: &str = "LEFT";
    /// Moving to another token (`STATUS_MOVING`).
    pub const MOVING: &str = "MOVING";
    /// Being removed by another node (`REMOVING_TOKEN`).
    pub const REMOVING: &str = "removing";
    /// Removed by another node (`REMOVED_TOKEN`).
    pub const REMOVED: &str = "removed";
    /// Shut down cleanly; will be back (`SHUTDOWN`).
    pub const SHUTDOWN: &str = "shutdown";
    /// Replacing another node, not announcing itself (`HIBERNATE`).
    pub const HIBERNATE: &str = "hibernate";
}

/// The status part of a status value (`"NORMAL"` of `"NORMAL,-42"`).
pub fn status_kind(value: &str) -> &str {
    value.split(',').next().unwrap_or(value)
}

/// Whether a status means the endpoint is out of the ring for good (Cassandra's
/// `Gossiper.DEAD_STATES`: removing, removed, LEFT, hibernate).
pub fn is_dead_status(value: &str) -> bool {
    matches!(status_kind(value), status::REMOVING | status::REMOVED | status::LEFT | status::HIBERNATE)
}

/// A value with the version it was set at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The value.
    pub value: String,
    /// The version (from the owning endpoint's counter).
    pub version: u64,
}

/// Everything gossip knows about one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointState {
    /// The endpoint's generation (larger at every restart).
    pub generation: i64,
    /// The version of its latest heartbeat.
    pub heartbeat: u64,
    /// Its application states.
    pub states: BTreeMap<AppState, Versioned>,
}

impl EndpointState {
    /// A state of this generation with heartbeat 0 and no application state.
    pub fn new(generation: i64) -> EndpointState {
        EndpointState { generation, heartbeat: 0, states: BTreeMap::new() }
    }

    /// The largest version in the state: the heartbeat's or an application state's.
    pub fn max_version(&self) -> u64 {
        self.states.values().map(|v| v.version).fold(self.heartbeat, u64::max)
    }

    /// The value of an application state.
    pub fn value(&self, state: AppState) -> Option<&str> {
        self.states.get(&state).map(|v| v.value.as_str())
    }

    /// The part of the state newer than `version`: the heartbeat and the application states
    /// with a higher version; `None` when nothing is newer (Cassandra's
    /// `getStateForVersionBiggerThan`).
    pub fn newer_than(&self, version: u64) -> Option<EndpointState> {
        if self.max_version() <= version {
            return None;
        }
        let states = self.states.iter().filter(|(_, v)| v.version > version).map(|(k, v)| (*k, v.clone())).collect();
        Some(EndpointState { generation: self.generation, heartbeat: self.heartbeat, states })
    }
}

/// What an endpoint's state is, in short: enough for a peer to tell who has newer news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// The endpoint.
    pub endpoint: SocketAddr,
    /// Its generation.
    pub generation: i64,
    /// The max version known of it (in requests: the version to send states newer than).
    pub max_version: u64,
}

/// The first message of a round: the initiator's digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syn {
    /// The initiator's cluster name; a receiver of another cluster refuses the Syn.
    pub cluster_name: String,
    /// The initiator's partitioner class; a receiver with another refuses the Syn.
    pub partitioner: String,
    /// One digest per endpoint the initiator knows, itself included.
    pub digests: Vec<Digest>,
}

/// The answer to a Syn.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ack {
    /// States the receiver wants: send those newer than each `max_version`.
    pub requests: Vec<Digest>,
    /// States the receiver has newer than the initiator's digests said.
    pub states: BTreeMap<SocketAddr, EndpointState>,
}

/// The third message: the states an Ack requested.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ack2 {
    /// The requested states.
    pub states: BTreeMap<SocketAddr, EndpointState>,
}

impl Ack2 {
    /// Whether there is nothing to send (the round can end without an Ack2).
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

/// What applying received states changed, for the node to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new endpoint (its states follow as `StateChanged`).
    Joined {
        /// The endpoint.
        endpoint: SocketAddr,
        /// Its generation.
        generation: i64,
    },
    /// An endpoint restarted: its old state was replaced (its new states follow).
    Restarted {
        /// The endpoint.
        endpoint: SocketAddr,
        /// The generation it had.
        old_generation: i64,
        /// The generation it has now.
        new_generation: i64,
    },
    /// An application state of an endpoint has a new value.
    StateChanged {
        /// The endpoint.
        endpoint: SocketAddr,
        /// Which state.
        state: AppState,
        /// Its new value and version.
        value: Versioned,
    },
    /// Newer news of the endpoint arrived (heartbeat or state): report it to the failure
    /// detector.
    Heard {
        /// The endpoint.
        endpoint: SocketAddr,
    },
}

/// Why a Syn was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GossipError {
    /// The Syn's sender belongs to another cluster.
    #[error("gossip Syn from {from} names cluster {theirs:?}, this node is in {ours:?}")]
    ClusterNameMismatch {
        /// The sender.
        from: SocketAddr,
        /// This node's cluster name.
        ours: String,
        /// The sender's.
        theirs: String,
    },
    /// The Syn's sender uses another partitioner.
    #[error("gossip Syn from {from} names partitioner {theirs:?}, this node uses {ours:?}")]
    PartitionerMismatch {
        /// The sender.
        from: SocketAddr,
        /// This node's partitioner.
        ours: String,
        /// The sender's.
        theirs: String,
    },
}

/// This node's view of the ring's gossip: its own state and every endpoint's it has heard of.
#[derive(Debug, Clone)]
pub struct Gossip {
    local: SocketAddr,
    cluster_name: String,
    partitioner: String,
    /// The last version handed out by this node's counter.
    version: u64,
    /// Every endpoint's state, this node's included.
    endpoints: BTreeMap<SocketAddr, EndpointState>,
}

impl Gossip {
    /// The gossip of a node at `local` starting with `generation` (larger than any generation
    /// this address had before: Cassandra uses the start time in seconds), heartbeat 0 and no
    /// application state.
    pub fn new(local: SocketAddr, generation: i64, cluster_name: &str, partitioner: &str) -> Gossip {
        let mut endpoints = BTreeMap::new();
        endpoints.insert(local, EndpointState::new(generation));
        Gossip {
            local,
            cluster_name: cluster_name.to_owned(),
            partitioner: partitioner.to_owned(),
            version: 0,
            endpoints,
        }
    }

    /// This node's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn local_mut(&mut self) -> &mut EndpointState {
        // `new` inserts the local state and nothing removes it (`remove` refuses the local
        // address), so the entry is always there.
        self.endpoints.entry(self.local).or_insert_with(|| EndpointState::new(0))
    }

    fn next_version(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    /// This node's own state.
    pub fn local_state(&self) -> &EndpointState {
        // See `local_mut`: the entry always exists; the fallback is never taken.
        self.endpoints.get(&self.local).unwrap_or(&EMPTY_STATE)
    }

    /// Bump this node's heartbeat (once per round, before the Syn); its new version.
    pub fn beat(&mut self) -> u64 {
        let v = self.next_version();
        self.local_mut().heartbeat = v;
        v
    }

    /// Set one of this node's application states; the version it got.
    pub fn set_local(&mut self, state: AppState, value: impl Into<String>) -> u64 {
        let version = self.next_version();
        self.local_mut().states.insert(state, Versioned { value: value.into(), version });
        version
    }

    /// What gossip knows of `endpoint`.
    pub fn endpoint(&self, endpoint: SocketAddr) -> Option<&EndpointState> {
        self.endpoints.get(&endpoint)
    }

    /// Every endpoint's state, this node's included, in address order.
    pub fn endpoints(&self) -> &BTreeMap<SocketAddr, EndpointState> {
        &self.endpoints
    }

    /// Forget an endpoint (it left, or was removed); never this node itself.
    pub fn remove(&mut self, endpoint: SocketAddr) -> Option<EndpointState> {
        if endpoint == self.local { None } else { self.endpoints.remove(&endpoint) }
    }

    /// One digest per known endpoint, this node's included.
    pub fn digests(&self) -> Vec<Digest> {
        self.endpoints
            .iter()
            .map(|(a, s)| Digest { endpoint: *a, generation: s.generation, max_version: s.max_version() })
            .collect()
    }

    /// The Syn starting a round (call [`beat`](Self::beat) first).
    pub fn make_syn(&self) -> Syn {
        Syn { cluster_name: self.cluster_name.clone(), partitioner: self.partitioner.clone(), digests: self.digests() }
    }

    /// Answer a Syn (Cassandra's `GossipDigestSynVerbHandler` and `examineGossiper`); `from` is
    /// only named in errors. Changes nothing here: the Syn carries no state.
    pub fn handle_syn(&self, from: SocketAddr, syn: &Syn) -> Result<Ack, GossipError> {
        if syn.cluster_name != self.cluster_name {
            return Err(GossipError::ClusterNameMismatch {
                from,
                ours: self.cluster_name.clone(),
                theirs: syn.cluster_name.clone(),
            });
        }
        if syn.partitioner != self.partitioner {
            return Err(GossipError::PartitionerMismatch {
                from,
                ours: self.partitioner.clone(),
                theirs: syn.partitioner.clone(),
            });
        }
        let mut ack = Ack::default();
        for d in &syn.digests {
            let Some(local) = self.endpoints.get(&d.endpoint) else {
                ack.requests.push(Digest { max_version: 0, ..*d });
                continue;
            };
            let local_max = local.max_version();
            if d.generation > local.generation {
                ack.requests.push(Digest { max_version: 0, ..*d });
            } else if d.generation < local.generation {
                // The initiator has an old generation: it needs all of the current one.
                ack.states.insert(d.endpoint, local.clone());
            } else if d.max_version > local_max {
                ack.requests.push(Digest { max_version: local_max, ..*d });
            } else if let Some(newer) = local.newer_than(d.max_version) {
                ack.states.insert(d.endpoint, newer);
            }
        }
        Ok(ack)
    }

    /// Apply an Ack's states and answer its requests (Cassandra's
    /// `GossipDigestAckVerbHandler`): the Ack2 to send (possibly empty) and the changes.
    pub fn handle_ack(&mut self, ack: Ack) -> (Ack2, Vec<Change>) {
        let changes = self.apply(ack.states);
        let mut ack2 = Ack2::default();
        for r in &ack.requests {
            if let Some(newer) = self.endpoints.get(&r.endpoint).and_then(|s| s.newer_than(r.max_version)) {
                ack2.states.insert(r.endpoint, newer);
            }
        }
        (ack2, changes)
    }

    /// Apply an Ack2's states (Cassandra's `GossipDigestAck2VerbHandler`).
    pub fn handle_ack2(&mut self, ack2: Ack2) -> Vec<Change> {
        self.apply(ack2.states)
    }

    /// Merge received states by the rules in the module docs; the changes, per endpoint in
    /// address order.
    pub fn apply(&mut self, states: BTreeMap<SocketAddr, EndpointState>) -> Vec<Change> {
        let mut changes = Vec::new();
        for (endpoint, remote) in states {
            if endpoint == self.local {
                continue;
            }
            let (head, updated): (Option<Change>, Vec<(AppState, Versioned)>) = match self.endpoints.get_mut(&endpoint)
            {
                None => {
                    let updated = remote.states.iter().map(|(k, v)| (*k, v.clone())).collect();
                    let head = Change::Joined { endpoint, generation: remote.generation };
                    self.endpoints.insert(endpoint, remote);
                    (Some(head), updated)
                }
                Some(local) if remote.generation > local.generation => {
                    let updated = remote.states.iter().map(|(k, v)| (*k, v.clone())).collect();
                    let head = Change::Restarted {
                        endpoint,
                        old_generation: local.generation,
                        new_generation: remote.generation,
                    };
                    *local = remote;
                    (Some(head), updated)
                }
                Some(local) if remote.generation == local.generation && remote.max_version() > local.max_version() => {
                    local.heartbeat = local.heartbeat.max(remote.heartbeat);
                    let mut updated = Vec::new();
                    for (state, value) in remote.states {
                        if local.states.get(&state).is_none_or(|held| held.version < value.version) {
                            local.states.insert(state, value.clone());
                            updated.push((state, value));
                        }
                    }
                    (None, updated)
                }
                Some(_) => continue,
            };
            changes.extend(head);
            // Status first, then the others (Gossiper.applyNewStates).
            let (first, rest): (Vec<_>, Vec<_>) = updated.into_iter().partition(|(s, _)| *s == AppState::Status);
            for (state, value) in first.into_iter().chain(rest) {
                changes.push(Change::StateChanged { endpoint, state, value });
            }
            changes.push(Change::Heard { endpoint });
        }
        changes
    }
}

static EMPTY_STATE: EndpointState = EndpointState { generation: 0, heartbeat: 0, states: BTreeMap::new() };

/// Why gossip bytes could not be decoded. Offsets are from the message's first byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end inside a field.
    #[error("gossip message truncated at byte {offset}: {what} needs {needed} bytes, {left} left")]
    Truncated {
        /// Where the field starts.
        offset: usize,
        /// The field.
        what: &'static str,
        /// Its size.
        needed: usize,
        /// Bytes left.
        left: usize,
    },
    /// The first byte is not the kind expected.
    #[error("gossip message kind {found} at byte 0, expected {expected}")]
    WrongKind {
        /// The kind byte seen.
        found: u8,
        /// The kind expected (1 Syn, 2 Ack, 3 Ack2).
        expected: u8,
    },
    /// An application state byte names no [`AppState`].
    #[error("unknown application state {found} at byte {offset}")]
    UnknownAppState {
        /// Where.
        offset: usize,
        /// The byte.
        found: u8,
    },
    /// An address family byte is neither 4 nor 6.
    #[error("unknown address family {found} at byte {offset}")]
    UnknownAddressFamily {
        /// Where.
        offset: usize,
        /// The byte.
        found: u8,
    },
    /// A string is not UTF-8.
    #[error("{what} at byte {offset} is not UTF-8")]
    InvalidUtf8 {
        /// Where the string's bytes start.
        offset: usize,
        /// Which string.
        what: &'static str,
    },
    /// An endpoint appears twice in one state map.
    #[error("endpoint {endpoint} listed twice (again at byte {offset})")]
    DuplicateEndpoint {
        /// Where the second entry starts.
        offset: usize,
        /// The endpoint.
        endpoint: SocketAddr,
    },
    /// An application state appears twice in one endpoint state.
    #[error("application state {state:?} listed twice (again at byte {offset})")]
    DuplicateAppState {
        /// Where the second entry starts.
        offset: usize,
        /// The state.
        state: AppState,
    },
    /// Bytes remain after the message.
    #[error("{len} bytes after the end of the gossip message at byte {offset}")]
    TrailingBytes {
        /// Where the message ended.
        offset: usize,
        /// How many bytes follow.
        len: usize,
    },
}

const KIND_SYN: u8 = 1;
const KIND_ACK: u8 = 2;
const KIND_ACK2: u8 = 3;

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// A count; gossip counts are far below 2³² (a longer list is cut, which `len` prevents in
    /// practice: the types hold at most one entry per endpoint or state).
    fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn string(&mut self, s: &str) {
        // Values are short (tokens of a node: a few KiB); a string over 4 GiB cannot be sent.
        self.count(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn endpoint(&mut self, a: &SocketAddr) {
        match a.ip() {
            IpAddr::V4(ip) => {
                self.u8(4);
                self.0.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                self.u8(6);
                self.0.extend_from_slice(&ip.octets());
            }
        }
        self.u16(a.port());
    }
    fn digests(&mut self, ds: &[Digest]) {
        self.count(ds.len());
        for d in ds {
            self.endpoint(&d.endpoint);
            self.i64(d.generation);
            self.u64(d.max_version);
        }
    }
    fn states(&mut self, states: &BTreeMap<SocketAddr, EndpointState>) {
        self.count(states.len());
        for (a, s) in states {
            self.endpoint(a);
            self.i64(s.generation);
            self.u64(s.heartbeat);
            self.u16(u16::try_from(s.states.len()).unwrap_or(u16::MAX));
            for (k, v) in &s.states {
                self.u8(*k as u8);
                self.u64(v.version);
                self.string(&v.value);
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let left = self.buf.len() - self.pos;
        if n > left {
            return Err(DecodeError::Truncated { offset: self.pos, what, needed: n, left });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }
    fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let len = self.u32(what)? as usize;
        let offset = self.pos;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| DecodeError::InvalidUtf8 { offset, what })
    }
    fn kind(&mut self, expected: u8) -> Result<(), DecodeError> {
        let found = self.u8("message kind")?;
        if found == expected { Ok(()) } else { Err(DecodeError::WrongKind { found, expected }) }
    }
    fn endpoint(&mut self) -> Result<SocketAddr, DecodeError> {
        let offset = self.pos;
        let ip = match self.u8("address family")? {
            4 => IpAddr::V4(Ipv4Addr::from(self.array::<4>("IPv4 address")?)),
            6 => IpAddr::V6(Ipv6Addr::from(self.array::<16>("IPv6 address")?)),
            found => return Err(DecodeError::UnknownAddressFamily { offset, found }),
        };
        Ok(SocketAddr::new(ip, self.u16("port")?))
    }
    fn digests(&mut self) -> Result<Vec<Digest>, DecodeError> {
        let n = self.u32("digest count")?;
        // No allocation from the count: entries are pushed as they decode.
        let mut ds = Vec::new();
        for _ in 0..n {
            let endpoint = self.endpoint()?;
            ds.push(Digest { endpoint, generation: self.i64("generation")?, max_version: self.u64("max version")? });
        }
        Ok(ds)
    }
    fn states(&mut self) -> Result<BTreeMap<SocketAddr, EndpointState>, DecodeError> {
        let n = self.u32("endpoint state count")?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let offset = self.pos;
            let endpoint = self.endpoint()?;
            let mut s = EndpointState::new(self.i64("generation")?);
            s.heartbeat = self.u64("heartbeat")?;
            let k = self.u16("application state count")?;
            for _ in 0..k {
                let at = self.pos;
                let byte = self.u8("application state")?;
                let state = AppState::from_u8(byte).ok_or(DecodeError::UnknownAppState { offset: at, found: byte })?;
                let version = self.u64("version")?;
                let value = self.string("application state value")?;
                if s.states.insert(state, Versioned { value, version }).is_some() {
                    return Err(DecodeError::DuplicateAppState { offset: at, state });
                }
            }
            if map.insert(endpoint, s).is_some() {
                return Err(DecodeError::DuplicateEndpoint { offset, endpoint });
            }
        }
        Ok(map)
    }
    fn end(&self) -> Result<(), DecodeError> {
        let len = self.buf.len() - self.pos;
        if len == 0 { Ok(()) } else { Err(DecodeError::TrailingBytes { offset: self.pos, len }) }
    }
}

impl Syn {
    /// The message's bytes (module docs: Encoding).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.u8(KIND_SYN);
        w.string(&self.cluster_name);
        w.string(&self.partitioner);
        w.digests(&self.digests);
        w.0
    }

    /// Decode exactly one Syn.
    pub fn decode(bytes: &[u8]) -> Result<Syn, DecodeError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        r.kind(KIND_SYN)?;
        let cluster_name = r.string("cluster name")?;
        let partitioner = r.string("partitioner")?;
        let digests = r.digests()?;
        r.end()?;
        Ok(Syn { cluster_name, partitioner, digests })
    }
}

impl Ack {
    /// The message's bytes (module docs: Encoding).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.u8(KIND_ACK);
        w.digests(&self.requests);
        w.states(&self.states);
        w.0
    }

    /// Decode exactly one Ack.
    pub fn decode(bytes: &[u8]) -> Result<Ack, DecodeError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        r.kind(KIND_ACK)?;
        let requests = r.digests()?;
        let states = r.states()?;
        r.end()?;
        Ok(Ack { requests, states })
    }
}

impl Ack2 {
    /// The message's bytes (module docs: Encoding).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.u8(KIND_ACK2);
        w.states(&self.states);
        w.0
    }

    /// Decode exactly one Ack2.
    pub fn decode(bytes: &[u8]) -> Result<Ack2, DecodeError> {
        let mut r = Reader { buf: bytes, pos: 0 };
        r.kind(KIND_ACK2)?;
        let states = r.states()?;
        r.end()?;
        Ok(Ack2 { states })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = "Test Cluster";
    const PARTITIONER: &str = "org.apache.cassandra.dht.Murmur3Partitioner";

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, i], 7000))
    }

    fn node(i: u8, generation: i64) -> Gossip {
        let mut g = Gossip::new(addr(i), generation, CLUSTER, PARTITIONER);
        g.set_local(AppState::Tokens, format!("{}", i64::from(i) * 1000));
        g.set_local(AppState::Dc, "datacenter1");
        g.set_local(AppState::HostId, format!("00000000-0000-0000-0000-00000000000{i}"));
        g.set_local(AppState::Status, format!("{},{}", status::NORMAL, i64::from(i) * 1000));
        g
    }

    fn two(nodes: &mut [Gossip], i: usize, j: usize) -> (&mut Gossip, &mut Gossip) {
        assert_ne!(i, j);
        if i < j {
            let (a, b) = nodes.split_at_mut(j);
            (&mut a[i], &mut b[0])
        } else {
            let (a, b) = nodes.split_at_mut(i);
            (&mut b[0], &mut a[j])
        }
    }

    /// One round from `a` to `b`, every message through its bytes; the changes each side saw.
    fn round(a: &mut Gossip, b: &mut Gossip) -> (Vec<Change>, Vec<Change>) {
        a.beat();
        let syn = Syn::decode(&a.make_syn().encode()).unwrap();
        let ack = b.handle_syn(a.local_addr(), &syn).unwrap();
        let ack = Ack::decode(&ack.encode()).unwrap();
        let (ack2, seen_by_a) = a.handle_ack(ack);
        let seen_by_b = b.handle_ack2(Ack2::decode(&ack2.encode()).unwrap());
        (seen_by_a, seen_by_b)
    }

    fn converged(nodes: &[Gossip]) -> bool {
        nodes.windows(2).all(|w| w[0].endpoints() == w[1].endpoints())
    }

    #[test]
    fn three_nodes_converge_through_a_seed() {
        let mut nodes = vec![node(1, 100), node(2, 200), node(3, 300)];
        // 2 and 3 know only the seed's address: their rounds go to it, then it gossips back.
        let (_, seen_by_seed) = {
            let (b, a) = two(&mut nodes, 1, 0);
            round(b, a)
        };
        assert_eq!(seen_by_seed[0], Change::Joined { endpoint: addr(2), generation: 200 });
        assert_eq!(
            seen_by_seed[1],
            Change::StateChanged {
                endpoint: addr(2),
                state: AppState::Status,
                value: Versioned { value: "NORMAL,2000".into(), version: 4 }
            },
            "status is reported first"
        );
        assert_eq!(seen_by_seed.last(), Some(&Change::Heard { endpoint: addr(2) }));
        assert_eq!(seen_by_seed.len(), 1 + 4 + 1);
        for (i, j) in [(2, 0), (0, 1), (0, 2)] {
            let (a, b) = two(&mut nodes, i, j);
            round(a, b);
        }
        assert!(!converged(&nodes), "heartbeats of the last rounds are still travelling");
        // Rounds without beats settle everything.
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let (a, b) = two(&mut nodes, i, j);
            let syn = a.make_syn();
            let (ack2, _) = a.handle_ack(b.handle_syn(a.local_addr(), &syn).unwrap());
            b.handle_ack2(ack2);
        }
        assert!(converged(&nodes), "{:#?}", nodes.iter().map(Gossip::endpoints).collect::<Vec<_>>());
        assert_eq!(nodes[2].endpoint(addr(2)).unwrap().value(AppState::Tokens), Some("2000"));

        // A change spreads by random rounds and is reported once per node.
        nodes[1].set_local(AppState::Load, "12345");
        let mut seen = [0usize; 3];
        let mut x: u32 = 0x2545_f491;
        for _ in 0..30 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let i = (x % 3) as usize;
            let j = (i + 1 + (x / 3 % 2) as usize) % 3;
            let (a, b) = two(&mut nodes, i, j);
            let (ca, cb) = round(a, b);
            for (k, changes) in [(i, ca), (j, cb)] {
                seen[k] += changes
                    .iter()
                    .filter(|c| matches!(c, Change::StateChanged { state: AppState::Load, endpoint, .. } if *endpoint == addr(2)))
                    .count();
            }
        }
        assert_eq!(seen, [1, 0, 1]);
        for n in &nodes {
            assert_eq!(n.endpoint(addr(2)).unwrap().value(AppState::Load), Some("12345"));
        }
    }

    /// The wiring the node does: a round carried in messaging frames between two servers.
    #[test]
    fn a_round_over_messaging() {
        use crate::ring::messaging::{Frame, Handler, Messenger, Verb, serve};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        use std::time::Duration;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b_addr = listener.local_addr().unwrap();
        let b = Arc::new(Mutex::new(Gossip::new(b_addr, 2, CLUSTER, PARTITIONER)));
        b.lock().unwrap().set_local(AppState::Status, status::NORMAL);
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::clone(&b);
        let handler: Handler = Arc::new(move |from, req: Frame| {
            let mut g = served.lock().unwrap();
            match req.verb {
                Verb::GossipSyn => match Syn::decode(&req.payload).map(|syn| g.handle_syn(from, &syn)) {
                    Ok(Ok(ack)) => Frame::response(&req, Verb::GossipAck, ack.encode()),
                    Ok(Err(e)) => Frame::error(&req, &e.to_string()),
                    Err(e) => Frame::error(&req, &e.to_string()),
                },
                Verb::GossipAck2 => match Ack2::decode(&req.payload) {
                    Ok(ack2) => {
                        g.handle_ack2(ack2);
                        Frame::response(&req, Verb::Ack, Vec::new())
                    }
                    Err(e) => Frame::error(&req, &e.to_string()),
                },
                _ => Frame::error(&req, "not a gossip verb"),
            }
        });
        let server = serve(listener, handler, Arc::clone(&stop));

        let a_addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let mut a = Gossip::new(a_addr, 1, CLUSTER, PARTITIONER);
        a.set_local(AppState::Load, "7");
        a.beat();
        let m = Messenger::default();
        let t = Duration::from_secs(5);
        let ack = m.request(b_addr, Frame::request(Verb::GossipSyn, a.make_syn().encode()), t).unwrap();
        assert_eq!(ack.verb, Verb::GossipAck);
        let (ack2, changes) = a.handle_ack(Ack::decode(&ack.payload).unwrap());
        assert!(changes.is_empty(), "b's Ack carries no state: a's Syn did not mention b");
        assert!(!ack2.is_empty());
        let done = m.request(b_addr, Frame::request(Verb::GossipAck2, ack2.encode()), t).unwrap();
        assert_eq!((done.verb, done.payload.len()), (Verb::Ack, 0));
        assert_eq!(b.lock().unwrap().endpoint(a_addr).unwrap().value(AppState::Load), Some("7"));
        // Another cluster is refused with a remote error.
        let other = Gossip::new(a_addr, 1, "Other", PARTITIONER).make_syn();
        let err = m.request(b_addr, Frame::request(Verb::GossipSyn, other.encode()), t).unwrap_err();
        assert!(err.to_string().contains("names cluster \"Other\""), "{err}");
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap();
    }

    #[test]
    fn one_counter_versions_heartbeat_and_states() {
        let mut g = Gossip::new(addr(1), 7, CLUSTER, PARTITIONER);
        assert_eq!(g.local_state().max_version(), 0);
        assert_eq!(g.set_local(AppState::Status, status::BOOT), 1);
        assert_eq!(g.beat(), 2);
        assert_eq!(g.set_local(AppState::Status, status::NORMAL), 3);
        assert_eq!(g.beat(), 4);
        let s = g.local_state();
        assert_eq!((s.generation, s.heartbeat, s.max_version()), (7, 4, 4));
        assert_eq!(s.states[&AppState::Status], Versioned { value: "NORMAL".into(), version: 3 });
        // The delta newer than 3 is the heartbeat alone; newer than 4, nothing.
        let d = s.newer_than(3).unwrap();
        assert_eq!((d.heartbeat, d.states.len()), (4, 0));
        assert_eq!(s.newer_than(4), None);
        assert_eq!(s.newer_than(2).unwrap().states.len(), 1);
    }

    #[test]
    fn a_restarted_endpoint_is_replaced_whole() {
        let mut a = node(1, 100);
        let mut b = node(2, 200);
        b.set_local(AppState::Load, "999");
        for _ in 0..5 {
            round(&mut b, &mut a);
        }
        assert_eq!(a.endpoint(addr(2)).unwrap().value(AppState::Load), Some("999"));
        let old_max = a.endpoint(addr(2)).unwrap().max_version();
        assert!(old_max > 5);
        // Restart: a higher generation, the version counter from 0 again, no Load yet.
        let mut b = node(2, 201);
        let (_, seen_by_a) = round(&mut b, &mut a);
        assert_eq!(seen_by_a[0], Change::Restarted { endpoint: addr(2), old_generation: 200, new_generation: 201 });
        assert!(matches!(seen_by_a[1], Change::StateChanged { state: AppState::Status, .. }));
        assert_eq!(seen_by_a.len(), 1 + 4 + 1);
        let s = a.endpoint(addr(2)).unwrap();
        assert_eq!((s.generation, s.value(AppState::Load)), (201, None), "the old generation's states are gone");
        assert!(s.max_version() < old_max);
        // And the old generation, gossiped late by someone, is ignored.
        let mut stale = BTreeMap::new();
        let mut old = EndpointState::new(200);
        old.heartbeat = 1000;
        stale.insert(addr(2), old);
        assert_eq!(a.apply(stale), vec![]);
        assert_eq!(a.endpoint(addr(2)).unwrap().generation, 201);
    }

    #[test]
    fn older_versions_are_ignored_and_newer_ones_taken_per_state() {
        let mut g = Gossip::new(addr(1), 1, CLUSTER, PARTITIONER);
        let mut s = EndpointState::new(50);
        s.heartbeat = 10;
        s.states.insert(AppState::Status, Versioned { value: "NORMAL".into(), version: 8 });
        s.states.insert(AppState::Load, Versioned { value: "1".into(), version: 9 });
        g.apply(BTreeMap::from([(addr(2), s)]));
        // Same generation, nothing newer: ignored, nothing reported.
        let mut same = EndpointState::new(50);
        same.heartbeat = 10;
        same.states.insert(AppState::Load, Versioned { value: "0".into(), version: 7 });
        assert_eq!(g.apply(BTreeMap::from([(addr(2), same)])), vec![]);
        // Newer max version: the newer state is taken, the older one in the same message is not.
        let mut mixed = EndpointState::new(50);
        mixed.heartbeat = 12;
        mixed.states.insert(AppState::Status, Versioned { value: "LEAVING".into(), version: 5 });
        mixed.states.insert(AppState::Load, Versioned { value: "2".into(), version: 11 });
        let changes = g.apply(BTreeMap::from([(addr(2), mixed)]));
        assert_eq!(
            changes,
            vec![
                Change::StateChanged {
                    endpoint: addr(2),
                    state: AppState::Load,
                    value: Versioned { value: "2".into(), version: 11 }
                },
                Change::Heard { endpoint: addr(2) },
            ]
        );
        let held = g.endpoint(addr(2)).unwrap();
        assert_eq!(
            (held.heartbeat, held.value(AppState::Status), held.value(AppState::Load)),
            (12, Some("NORMAL"), Some("2"))
        );
        // States about this node itself are never taken from others.
        let mut me = EndpointState::new(99);
        me.heartbeat = 99;
        assert_eq!(g.apply(BTreeMap::from([(addr(1), me)])), vec![]);
        assert_eq!(g.local_state().generation, 1);
    }

    #[test]
    fn syn_answers_follow_cassandras_examination() {
        let mut a = node(1, 100);
        let mut b = node(2, 200);
        round(&mut a, &mut b);
        round(&mut b, &mut a);
        // a knows b at some version; b moves on.
        let known = a.endpoint(addr(2)).unwrap().max_version();
        b.set_local(AppState::Load, "5");
        let ack = b.handle_syn(addr(1), &a.make_syn()).unwrap();
        let delta = &ack.states[&addr(2)];
        assert_eq!(delta.states.keys().copied().collect::<Vec<_>>(), vec![AppState::Load]);
        // b knows less of a than a does: it asks from its own max version.
        a.set_local(AppState::Load, "6");
        let b_knows = b.endpoint(addr(1)).unwrap().max_version();
        let ack = b.handle_syn(addr(1), &a.make_syn()).unwrap();
        assert_eq!(ack.requests, vec![Digest { endpoint: addr(1), generation: 100, max_version: b_knows }]);
        assert!(known < b.local_state().max_version());
        // An unknown endpoint and a newer generation are asked for whole.
        let syn = Syn {
            cluster_name: CLUSTER.into(),
            partitioner: PARTITIONER.into(),
            digests: vec![
                Digest { endpoint: addr(9), generation: 5, max_version: 40 },
                Digest { endpoint: addr(1), generation: 101, max_version: 3 },
            ],
        };
        let ack = b.handle_syn(addr(9), &syn).unwrap();
        assert_eq!(
            ack.requests,
            vec![
                Digest { endpoint: addr(9), generation: 5, max_version: 0 },
                Digest { endpoint: addr(1), generation: 101, max_version: 0 }
            ]
        );
        // An older generation gets the whole current state.
        let syn = Syn { digests: vec![Digest { endpoint: addr(2), generation: 150, max_version: 1000 }], ..syn };
        let ack = b.handle_syn(addr(9), &syn).unwrap();
        assert_eq!(&ack.states[&addr(2)], b.local_state());
    }

    #[test]
    fn another_cluster_or_partitioner_is_refused() {
        let a = node(1, 1);
        let other = Gossip::new(addr(2), 1, "Other Cluster", PARTITIONER);
        assert!(matches!(
            a.handle_syn(addr(2), &other.make_syn()),
            Err(GossipError::ClusterNameMismatch { theirs, .. }) if theirs == "Other Cluster"
        ));
        let other = Gossip::new(addr(2), 1, CLUSTER, "org.apache.cassandra.dht.RandomPartitioner");
        assert!(matches!(a.handle_syn(addr(2), &other.make_syn()), Err(GossipError::PartitionerMismatch { .. })));
    }

    #[test]
    fn status_helpers() {
        assert_eq!(status_kind("NORMAL,-42"), status::NORMAL);
        assert_eq!(status_kind("shutdown"), status::SHUTDOWN);
        assert!(is_dead_status("LEFT,-42,1700000000000"));
        assert!(!is_dead_status(status::SHUTDOWN) && !is_dead_status(status::NORMAL));
    }

    fn sample_ack() -> Ack {
        let mut a = node(1, 1_700_000_000);
        let v6 = SocketAddr::from(([0xfd00, 0, 0, 0, 0, 0, 0, 1], 7001));
        let mut s = EndpointState::new(-3);
        s.heartbeat = u64::MAX;
        s.states.insert(AppState::Rack, Versioned { value: "räck1".into(), version: 2 });
        a.apply(BTreeMap::from([(v6, s)]));
        Ack { requests: a.digests(), states: a.endpoints().clone() }
    }

    #[test]
    fn messages_round_trip_with_exact_bytes() {
        let syn = Syn {
            cluster_name: "c".into(),
            partitioner: "p".into(),
            digests: vec![Digest { endpoint: addr(2), generation: 1, max_version: 2 }],
        };
        let bytes = syn.encode();
        #[rustfmt::skip]
        let want = [
            1, 0, 0, 0, 1, b'c', 0, 0, 0, 1, b'p', 0, 0, 0, 1,
            4, 127, 0, 0, 2, 0x1b, 0x58, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2,
        ];
        assert_eq!(bytes, want);
        assert_eq!(Syn::decode(&bytes).unwrap(), syn);
        let ack = sample_ack();
        assert_eq!(Ack::decode(&ack.encode()).unwrap(), ack);
        let ack2 = Ack2 { states: ack.states.clone() };
        assert_eq!(Ack2::decode(&ack2.encode()).unwrap(), ack2);
        assert_eq!(Ack2::decode(&Ack2::default().encode()).unwrap(), Ack2::default());
        // One message's bytes are not another's.
        assert_eq!(Ack::decode(&syn.encode()), Err(DecodeError::WrongKind { found: 1, expected: 2 }));
    }

    #[test]
    fn malformed_messages_are_typed_errors() {
        let ack2 = Ack2 { states: sample_ack().states };
        let good = ack2.encode();
        let mut long = good.clone();
        long.push(0);
        assert_eq!(Ack2::decode(&long), Err(DecodeError::TrailingBytes { offset: good.len(), len: 1 }));
        // The first entry: kind(1) count(4) endpoint(7) generation(8) heartbeat(8) k(2) then the
        // first application state byte at 30.
        let mut bad = good.clone();
        bad[30] = 0;
        assert_eq!(Ack2::decode(&bad), Err(DecodeError::UnknownAppState { offset: 30, found: 0 }));
        let mut bad = good.clone();
        bad[5] = 5;
        assert_eq!(Ack2::decode(&bad), Err(DecodeError::UnknownAddressFamily { offset: 5, found: 5 }));
        let mut bad = good.clone();
        bad[30] = AppState::Tokens as u8; // the first state is Status=1; make it Tokens=2, twice
        assert!(matches!(Ack2::decode(&bad), Err(DecodeError::DuplicateAppState { state: AppState::Tokens, .. })));
        // The map's two entries twice, with a count of 4: the first endpoint comes again.
        let mut dup = [&good[..], &good[5..]].concat();
        assert_eq!(good[1..5], [0, 0, 0, 2]);
        dup[4] = 4;
        assert!(
            matches!(Ack2::decode(&dup), Err(DecodeError::DuplicateEndpoint { endpoint, .. }) if endpoint == addr(1))
        );
        let syn = Syn { cluster_name: "ab".into(), partitioner: "p".into(), digests: vec![] };
        let mut bad = syn.encode();
        bad[5] = 0xFF;
        assert_eq!(Syn::decode(&bad), Err(DecodeError::InvalidUtf8 { offset: 5, what: "cluster name" }));
        assert!(matches!(
            Syn::decode(&[1, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(DecodeError::Truncated { offset: 5, what: "cluster name", needed: 0xFFFF_FFFF, left: 0 })
        ));
        assert!(matches!(Ack::decode(&[]), Err(DecodeError::Truncated { offset: 0, what: "message kind", .. })));
    }

    /// Every truncation, every single-byte change and a stream of pseudo-random inputs decode to
    /// a value or a typed error, never a panic.
    #[test]
    fn garbage_never_panics() {
        let ack = sample_ack();
        let syn = Syn { cluster_name: CLUSTER.into(), partitioner: PARTITIONER.into(), digests: ack.requests.clone() };
        let inputs = [ack.encode(), Ack2 { states: ack.states.clone() }.encode(), syn.encode()];
        let decode_all = |b: &[u8]| {
            let _ = Syn::decode(b);
            let _ = Ack::decode(b);
            let _ = Ack2::decode(b);
        };
        for good in &inputs {
            for cut in 0..good.len() {
                decode_all(&good[..cut]);
                assert!(Ack::decode(&good[..cut]).is_err() && Ack2::decode(&good[..cut]).is_err());
                assert!(Syn::decode(&good[..cut]).is_err());
            }
            for pos in 0..good.len() {
                for x in [0x01u8, 0x80, 0xFF] {
                    let mut bad = good.clone();
                    bad[pos] ^= x;
                    decode_all(&bad);
                }
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..2000usize {
            let bytes: Vec<u8> = (0..len % 97)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            decode_all(&bytes);
            for kind in 1..=3 {
                let mut b = bytes.clone();
                b.insert(0, kind);
                decode_all(&b);
            }
        }
    }
}
