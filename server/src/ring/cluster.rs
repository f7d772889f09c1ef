//! A node's membership of a ring: its gossip (every `gossip_interval` a round with a random live
//! peer, sometimes an unreachable one, and a seed — Cassandra's `Gossiper.GossipTask`), the
//! failure detector fed by the heartbeats gossip carries, and the [`View`] the coordinator
//! places data with: every member's address, data centre, rack, tokens, status and liveness, and
//! the [`TokenMap`] of the members in NORMAL state.
//!
//! What a node gossips about itself (its application states): STATUS (`NORMAL`, or `shutdown`
//! when it stops cleanly so that its peers mark it down at once), TOKENS, DC, RACK, HOST_ID,
//! RPC_ADDRESS and NATIVE_PORT (where drivers reach it), SCHEMA (its schema version) and
//! RELEASE_VERSION. A node seeing another schema version pulls that node's schema and adopts
//! what it lacks (`catalog::adopt_schema`).
//!
//! Not yet: a node joining a ring that already holds data does not stream the ranges it takes
//! over (bootstrap), and nodes do not leave with their data (decommission).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use super::failure::{FailureDetector, FailureDetectorConfig};
use super::gossip::{Ack, Ack2, AppState, Change, Gossip, Syn, is_dead_status, status};
use super::messaging::{Frame, Messenger, Verb};
use super::tokens::{Member, Replication, TokenMap};
use crate::coordinator::consistency::Replica;
use crate::hints::Hints;
use crate::node::Shared;
use crate::protocol::{Failure, code};
use crate::storage::mutation::{self, Mutation};

/// How a node takes part in a ring: its internode address, the seeds it joins through, where it
/// sits (data centre and rack), and the hint and failure-detection settings.
#[derive(Debug, Clone)]
pub struct RingConfig {
    /// The internode address (`listen_address:storage_port`).
    pub storage: SocketAddr,
    /// Seeds' internode addresses.
    pub seeds: Vec<SocketAddr>,
    /// Data centre.
    pub dc: String,
    /// Rack.
    pub rack: String,
    /// How often a node gossips.
    pub gossip_interval: Duration,
    /// `phi_convict_threshold`.
    pub phi_convict_threshold: f64,
    /// How long a replica may take to acknowledge a write (`write_request_timeout`).
    pub write_timeout: Duration,
    /// How long replicas may take to answer a read (`read_request_timeout`).
    pub read_timeout: Duration,
    /// `hinted_handoff_enabled`.
    pub hinted_handoff: bool,
    /// `max_hint_window`: no hints are kept for a node down longer.
    pub max_hint_window: Duration,
    /// `auto_bootstrap`: a new node that is not a seed streams its ranges before it serves.
    pub auto_bootstrap: bool,
}

impl RingConfig {
    /// A ring member at `storage` joining through `seeds`, in datacenter1/rack1, with
    /// Cassandra's defaults otherwise (phi 8, 2 s write and 5 s read timeouts, hints kept for
    /// nodes down up to 3 hours) and a 250 ms
    /// gossip interval (Cassandra's is 1 s; a loopback ring convicts a dead node 4× sooner).
    pub fn new(storage: SocketAddr, seeds: Vec<SocketAddr>) -> RingConfig {
        RingConfig {
            storage,
            seeds,
            dc: "datacenter1".into(),
            rack: "rack1".into(),
            gossip_interval: Duration::from_millis(250),
            phi_convict_threshold: 8.0,
            write_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(5),
            hinted_handoff: true,
            max_hint_window: Duration::from_secs(3 * 3600),
            auto_bootstrap: true,
        }
    }
}

/// One member of the ring as this node sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    /// Internode address.
    pub storage: SocketAddr,
    /// Where drivers reach it (rpc address and native port).
    pub rpc: SocketAddr,
    /// Data centre.
    pub dc: String,
    /// Rack.
    pub rack: String,
    /// Host id.
    pub host_id: Option<[u8; 16]>,
    /// Tokens.
    pub tokens: Vec<i64>,
    /// Schema version.
    pub schema_version: Option<[u8; 16]>,
    /// Gossip status (`NORMAL`, `shutdown`, ...).
    pub status: String,
    /// Whether it is up: heard from recently and not announcing shutdown.
    pub alive: bool,
    /// The bytes of its Data.db files, as it last gossiped them.
    pub load: Option<u64>,
}

/// The ring as this node sees it at one moment.
pub struct View {
    /// This node.
    pub me: IpAddr,
    /// Every member, this node included.
    pub peers: BTreeMap<IpAddr, Peer>,
    /// The token ring of the members in NORMAL state (`None` before any has tokens).
    pub tokens: Option<TokenMap>,
    /// While nodes join or leave: the ring once they have (`None` otherwise).
    pub future: Option<TokenMap>,
}

impl View {
    /// The data centres of the ring.
    pub fn datacenters(&self) -> Vec<&str> {
        let mut dcs: Vec<&str> = self.peers.values().map(|p| p.dc.as_str()).collect();
        dcs.sort_unstable();
        dcs.dedup();
        dcs
    }

    /// A keyspace's replication, read from its options.
    pub fn replication(&self, options: &[(String, String)]) -> Result<Replication, Failure> {
        Replication::from_options(options, &self.datacenters()).map_err(|e| Failure {
            code: code::CONFIG,
            message: e.to_string(),
            extra: vec![],
        })
    }

    /// The replicas of `token`, in placement order, with their data centre and liveness.
    pub fn replicas(&self, token: i64, r: &Replication) -> Vec<Replica> {
        let Some(map) = &self.tokens else { return vec![] };
        map.replicas(token, r).into_iter().map(|addr| self.replica(addr)).collect()
    }

    /// A member as a replica: its data centre and whether it is up.
    fn replica(&self, addr: IpAddr) -> Replica {
        let p = self.peers.get(&addr);
        Replica {
            addr,
            dc: p.map_or_else(String::new, |p| p.dc.clone()),
            alive: addr == self.me || p.is_some_and(|p| p.alive),
        }
    }

    /// The replicas `token` will have once the nodes joining or leaving now have (writes go to
    /// them too, so a joining node misses nothing written while it streams); empty when no node
    /// is joining or leaving.
    pub fn pending(&self, token: i64, r: &Replication) -> Vec<Replica> {
        let Some(future) = &self.future else { return vec![] };
        let now: Vec<IpAddr> = self.tokens.as_ref().map(|m| m.replicas(token, r)).unwrap_or_default();
        future.replicas(token, r).into_iter().filter(|a| !now.contains(a)).map(|addr| self.replica(addr)).collect()
    }

    /// The internode address of `addr`.
    pub fn storage(&self, addr: IpAddr) -> Option<SocketAddr> {
        self.peers.get(&addr).map(|p| p.storage)
    }
}

/// This node's part in the ring.
pub(crate) struct Cluster {
    pub(crate) config: RingConfig,
    pub(crate) messenger: Arc<Messenger>,
    /// The threads that carry requests to other nodes.
    pub(crate) senders: crate::coordinator::pool::Senders,
    gossip: Mutex<Gossip>,
    detector: Mutex<FailureDetector<SocketAddr>>,
    view: RwLock<Arc<View>>,
    pub(crate) stop: Arc<AtomicBool>,
    /// When a schema was last pulled from a peer (not more than once a second).
    last_pull: Mutex<Option<Instant>>,
    /// Hints kept for other nodes.
    pub(crate) hints: Arc<Hints>,
    /// Since when each member this node sees down has been down.
    down_since: Mutex<BTreeMap<IpAddr, Instant>>,
    /// A hint delivery is under way.
    delivering: Arc<AtomicBool>,
    /// `<data>/cairn_peers.bin`: the other members' states as last gossiped.
    peers_file: std::path::PathBuf,
    /// Where ring changes are pushed.
    events: Arc<crate::events::Events>,
    /// Members removed (removenode), with the generation they had: gossip about them at that
    /// generation or older is ignored (Cassandra's quarantine), so a peer that has not heard of
    /// the removal cannot bring them back.
    removed: Mutex<BTreeMap<SocketAddr, i64>>,
}

/// Parse a UUID as gossip carries it (32 hex digits, dashes allowed).
fn uuid(s: &str) -> Option<[u8; 16]> {
    crate::catalog::unhex16(&s.replace('-', ""))
}

/// Who this node is, as it gossips itself.
pub(crate) struct Identity<'a> {
    /// The data directory (where the ring as last seen is kept).
    pub(crate) data: &'a std::path::Path,
    pub(crate) cluster_name: &'a str,
    /// Where drivers reach it.
    pub(crate) rpc: SocketAddr,
    pub(crate) host_id: [u8; 16],
    pub(crate) tokens: &'a [i64],
    /// It streams its ranges before it serves (bootstrap).
    pub(crate) joining: bool,
    /// Where ring changes are pushed to registered clients.
    pub(crate) events: Arc<crate::events::Events>,
}

impl Cluster {
    /// This node's gossip, announcing itself NORMAL (or joining) with its tokens.
    pub(crate) fn new(config: RingConfig, me: Identity<'_>, hints: Hints) -> Cluster {
        let Identity { data, cluster_name, rpc, host_id, tokens, joining, events } = me;
        let schema = [0u8; 16];
        let generation = crate::node::now_micros() / 1_000_000;
        let mut g =
            Gossip::new(config.storage, generation, cluster_name, "org.apache.cassandra.dht.Murmur3Partitioner");
        g.set_local(AppState::Dc, config.dc.clone());
        g.set_local(AppState::Rack, config.rack.clone());
        g.set_local(AppState::HostId, cairn_format::types::render::hex(&host_id));
        g.set_local(AppState::RpcAddress, rpc.ip().to_string());
        g.set_local(AppState::NativePort, rpc.port().to_string());
        g.set_local(AppState::ReleaseVersion, crate::system::RELEASE_VERSION);
        g.set_local(AppState::SchemaVersion, cairn_format::types::render::hex(&schema));
        g.set_local(AppState::Tokens, tokens.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
        // A node that must stream its ranges first joins as BOOT (UJ), then turns NORMAL.
        g.set_local(AppState::Status, if joining { status::BOOT } else { status::NORMAL });
        let fd = FailureDetector::new(FailureDetectorConfig {
            phi_convict_threshold: config.phi_convict_threshold,
            ..FailureDetectorConfig::for_gossip_interval(config.gossip_interval)
        });
        let me = config.storage.ip();
        let cluster = Cluster {
            config,
            // As many idle connections per peer as senders, so none is opened per request.
            messenger: Arc::new(Messenger::new(super::messaging::MessengerConfig {
                max_idle_per_peer: 32,
                ..Default::default()
            })),
            senders: crate::coordinator::pool::Senders::new(),
            gossip: Mutex::new(g),
            detector: Mutex::new(fd),
            view: RwLock::new(Arc::new(View { me, peers: BTreeMap::new(), tokens: None, future: None })),
            stop: Arc::new(AtomicBool::new(false)),
            last_pull: Mutex::new(None),
            hints: Arc::new(hints),
            down_since: Mutex::new(BTreeMap::new()),
            delivering: Arc::new(AtomicBool::new(false)),
            peers_file: data.join("cairn_peers.bin"),
            events,
            removed: Mutex::new(BTreeMap::new()),
        };
        cluster.load_peers();
        cluster.refresh_view();
        cluster
    }

    /// The ring as seen now.
    pub(crate) fn view(&self) -> Arc<View> {
        self.view.read().map_or_else(|p| Arc::clone(&p.into_inner()), |v| Arc::clone(&v))
    }

    /// The members known at the last run, as down until gossip hears from them: a node
    /// restarted while its seeds are down still knows the ring (and refuses what it cannot
    /// place) instead of believing itself alone, as Cassandra's saved `system.peers` does.
    fn load_peers(&self) {
        let Ok(bytes) = std::fs::read(&self.peers_file) else { return };
        match Ack2::decode(&bytes) {
            Ok(mut saved) => {
                saved.states.remove(&self.config.storage);
                if let Ok(mut g) = self.gossip.lock() {
                    g.apply(saved.states);
                }
                self.refresh_view();
            }
            Err(e) => crate::log!("cairn node: {}: {e}; the ring is learnt from the seeds", self.peers_file.display()),
        }
    }

    /// Keep the other members' states for the next start.
    fn save_peers(&self) {
        let Ok(g) = self.gossip.lock() else { return };
        let states: BTreeMap<SocketAddr, super::gossip::EndpointState> =
            g.endpoints().iter().map(|(a, s)| (*a, s.clone())).collect();
        drop(g);
        let tmp = self.peers_file.with_extension("bin.tmp");
        let written =
            std::fs::write(&tmp, Ack2 { states }.encode()).and_then(|()| std::fs::rename(&tmp, &self.peers_file));
        if let Err(e) = written {
            crate::log!("cairn node: {}: {e}", self.peers_file.display());
        }
    }

    /// Set one of this node's gossip states.
    pub(crate) fn set_local(&self, state: AppState, value: &str) {
        if let Ok(mut g) = self.gossip.lock() {
            g.set_local(state, value);
        }
        self.refresh_view();
    }

    /// A gossip round with every live peer now (a status change everyone should learn at once).
    pub(crate) fn announce(&self) {
        let view = self.view();
        for p in view.peers.values().filter(|p| p.alive && p.storage != self.config.storage) {
            let _ = self.round(p.storage);
        }
    }

    /// Announce a new schema version.
    pub(crate) fn set_schema_version(&self, v: [u8; 16]) {
        if let Ok(mut g) = self.gossip.lock() {
            g.set_local(AppState::SchemaVersion, cairn_format::types::render::hex(&v));
        }
        self.refresh_view();
    }

    /// Rebuild the view from gossip and the failure detector.
    fn refresh_view(&self) {
        let (Ok(g), Ok(fd)) = (self.gossip.lock(), self.detector.lock()) else { return };
        let me = self.config.storage;
        let mut peers = BTreeMap::new();
        let local = std::iter::once((me, g.local_state()));
        for (addr, state) in local.chain(g.endpoints().iter().map(|(a, s)| (*a, s))) {
            let value = |s: AppState| state.value(s).unwrap_or_default();
            let status_value = value(AppState::Status);
            // A node that left (decommissioned) is no longer a member.
            if super::gossip::status_kind(status_value) == status::LEFT && addr != me {
                continue;
            }
            let rpc_ip = value(AppState::RpcAddress).parse().unwrap_or(addr.ip());
            let rpc_port = value(AppState::NativePort).parse().unwrap_or(9042);
            let tokens: Vec<i64> = value(AppState::Tokens).split(',').filter_map(|t| t.trim().parse().ok()).collect();
            let alive =
                addr == me || (!fd.is_convicted(&addr) && fd.window(&addr).is_some() && !is_dead_status(status_value));
            peers.insert(
                addr.ip(),
                Peer {
                    storage: addr,
                    rpc: SocketAddr::new(rpc_ip, rpc_port),
                    dc: value(AppState::Dc).to_string(),
                    rack: value(AppState::Rack).to_string(),
                    host_id: uuid(value(AppState::HostId)),
                    tokens,
                    schema_version: uuid(value(AppState::SchemaVersion)),
                    status: status_value.to_string(),
                    alive,
                    load: value(AppState::Load).parse().ok(),
                },
            );
        }
        drop((g, fd));
        // The ring as it is (NORMAL members, those that shut down cleanly included: they still
        // own their ranges), and as it will be once joining nodes have joined and leaving nodes
        // have left (writes go to both: Cassandra's pending ranges).
        let kind = |p: &Peer| super::gossip::status_kind(&p.status).to_string();
        let map = |keep: &dyn Fn(&str) -> bool| {
            let members: Vec<Member> = peers
                .iter()
                .filter(|(_, p)| !p.tokens.is_empty() && keep(&kind(p)))
                .map(|(a, p)| Member { addr: *a, dc: p.dc.clone(), rack: p.rack.clone(), tokens: p.tokens.clone() })
                .collect();
            let local =
                if members.iter().any(|m| m.addr == me.ip()) { Some(me.ip()) } else { members.first().map(|m| m.addr) };
            match local.map(|l| TokenMap::new(members, l)) {
                Some(Ok(m)) => Some(m),
                Some(Err(e)) => {
                    crate::log!("cairn node: the ring as gossiped is not usable yet: {e}");
                    None
                }
                None => None,
            }
        };
        let tokens = map(&|k| matches!(k, status::NORMAL | status::SHUTDOWN | status::LEAVING));
        let changing = peers.values().any(|p| matches!(kind(p).as_str(), status::BOOT | status::LEAVING));
        let future =
            if changing { map(&|k| matches!(k, status::NORMAL | status::SHUTDOWN | status::BOOT)) } else { None };
        if let Ok(mut down) = self.down_since.lock() {
            for (addr, p) in &peers {
                if p.alive {
                    down.remove(addr);
                } else {
                    down.entry(*addr).or_insert_with(Instant::now);
                }
            }
        }
        let new = Arc::new(View { me: me.ip(), peers, tokens, future });
        let old = match self.view.write() {
            Ok(mut v) => std::mem::replace(&mut *v, Arc::clone(&new)),
            Err(_) => return,
        };
        self.publish_changes(&old, &new);
    }

    /// Push to registered clients what changed between two views: members joining the token
    /// ring (NEW_NODE) or leaving it (REMOVED_NODE), and going UP or DOWN.
    fn publish_changes(&self, old: &View, new: &View) {
        use crate::events::Event;
        let member = |v: &View, a: &IpAddr| v.tokens.as_ref().is_some_and(|m| m.members().iter().any(|x| x.addr == *a));
        for (addr, p) in &new.peers {
            if *addr == new.me {
                continue;
            }
            if member(new, addr) && !member(old, addr) {
                self.events.publish(&Event::Topology { change: "NEW_NODE", node: p.rpc });
            }
            let was = old.peers.get(addr).is_some_and(|o| o.alive);
            if p.alive != was {
                self.events.publish(&Event::Status { change: if p.alive { "UP" } else { "DOWN" }, node: p.rpc });
            }
        }
        for (addr, p) in &old.peers {
            if *addr != new.me && member(old, addr) && !member(new, addr) && !new.peers.contains_key(addr) {
                self.events.publish(&Event::Topology { change: "REMOVED_NODE", node: p.rpc });
            }
        }
    }

    /// Take gossip's changes: heartbeats to the failure detector, transitions logged.
    fn take(&self, changes: Vec<Change>) {
        let now = Instant::now();
        let mut changed = false;
        let mut restarted = Vec::new();
        self.forget_removed();
        if let Ok(mut fd) = self.detector.lock() {
            for c in changes {
                match c {
                    Change::Heard { endpoint } => {
                        if fd.report(endpoint, now) {
                            crate::log!("cairn node: {endpoint} is UP");
                            changed = true;
                        }
                    }
                    Change::Joined { endpoint, .. } => {
                        crate::log!("cairn node: {endpoint} joined the ring");
                        fd.report(endpoint, now);
                        changed = true;
                    }
                    Change::Restarted { endpoint, .. } => {
                        crate::log!("cairn node: {endpoint} restarted");
                        fd.remove(&endpoint);
                        fd.report(endpoint, now);
                        restarted.push(endpoint);
                        changed = true;
                    }
                    Change::StateChanged { .. } => changed = true,
                }
            }
        }
        if changed {
            self.refresh_view();
        }
        // A node that restarted before it was convicted was never seen down: clients that lost
        // their connections to it still need to hear it is up (as Cassandra's onRestart does).
        let view = self.view();
        for endpoint in restarted {
            if let Some(p) = view.peers.get(&endpoint.ip()).filter(|p| p.alive) {
                self.events.publish(&crate::events::Event::Status { change: "UP", node: p.rpc });
            }
        }
    }

    /// Answer a gossip Syn.
    pub(crate) fn on_syn(&self, from: SocketAddr, req: &Frame) -> Frame {
        let syn = match Syn::decode(&req.payload) {
            Ok(s) => s,
            Err(e) => return Frame::error(req, &e.to_string()),
        };
        match self.gossip.lock().map(|g| g.handle_syn(from, &syn)) {
            Ok(Ok(ack)) => Frame::response(req, Verb::GossipAck, ack.encode()),
            Ok(Err(e)) => Frame::error(req, &e.to_string()),
            Err(_) => Frame::error(req, "gossip state poisoned"),
        }
    }

    /// Take a gossip Ack2.
    pub(crate) fn on_ack2(&self, req: &Frame) -> Frame {
        match Ack2::decode(&req.payload) {
            Ok(ack2) => {
                let changes = self.gossip.lock().map(|mut g| g.handle_ack2(ack2)).unwrap_or_default();
                self.take(changes);
                Frame::response(req, Verb::Ack, vec![])
            }
            Err(e) => Frame::error(req, &e.to_string()),
        }
    }

    /// One round with `to`: Syn, Ack, Ack2.
    fn round(&self, to: SocketAddr) -> Result<(), String> {
        let syn = self.gossip.lock().map_err(|_| "gossip state poisoned")?.make_syn();
        let timeout = self.config.gossip_interval * 4;
        let ack = self
            .messenger
            .request(to, Frame::request(Verb::GossipSyn, syn.encode()), timeout)
            .map_err(|e| e.to_string())?;
        let ack = Ack::decode(&ack.payload).map_err(|e| e.to_string())?;
        let (ack2, changes) = self.gossip.lock().map_err(|_| "gossip state poisoned")?.handle_ack(ack);
        self.take(changes);
        if !ack2.is_empty() {
            self.messenger
                .request(to, Frame::request(Verb::GossipAck2, ack2.encode()), timeout)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The gossip task: every interval a heartbeat, a round with a random live peer, sometimes
    /// with an unreachable one, and with a seed when the live peer was not one; then the failure
    /// detector's verdicts.
    pub(crate) fn gossip_task(&self, shared: &Weak<Shared>, seed: &mut u64) {
        let me = self.config.storage;
        // The load, every 16 rounds (computed before the gossip lock is taken: it takes the
        // catalog's and the tables' locks).
        let beat = self.gossip.lock().map(|g| g.local_state().heartbeat).unwrap_or(0);
        if beat % 16 == 8 {
            self.save_peers();
        }
        let load = beat.is_multiple_of(16).then(|| shared.upgrade().and_then(|s| s.local_load().ok())).flatten();
        if let Ok(mut g) = self.gossip.lock() {
            g.beat();
            if let Some(load) = load {
                g.set_local(AppState::Load, load.to_string());
            }
        }
        let view = self.view();
        let others = view.peers.values().filter(|p| p.storage != me);
        let (live, dead): (Vec<&Peer>, Vec<&Peer>) = others.partition(|p| p.alive);
        let live: Vec<SocketAddr> = live.iter().map(|p| p.storage).collect();
        let dead: Vec<SocketAddr> = dead.iter().map(|p| p.storage).collect();
        let pick = |list: &[SocketAddr], seed: &mut u64| {
            (!list.is_empty()).then(|| list[(crate::node::splitmix(seed) % list.len() as u64) as usize])
        };
        let mut targets = Vec::new();
        let live_target = pick(&live, seed);
        targets.extend(live_target);
        // An unreachable member, with probability dead / (live + 1), as Cassandra does.
        if !dead.is_empty() && (crate::node::splitmix(seed) % (live.len() as u64 + 1)) < dead.len() as u64 {
            targets.extend(pick(&dead, seed));
        }
        let seeds: Vec<SocketAddr> = self.config.seeds.iter().copied().filter(|s| *s != me).collect();
        if live_target.is_none_or(|t| !seeds.contains(&t)) {
            targets.extend(pick(&seeds, seed));
        }
        targets.sort();
        targets.dedup();
        for t in targets {
            // An unreachable member is expected to fail; the detector says what it means.
            let _ = self.round(t);
        }
        let convicted = self.detector.lock().map(|mut fd| fd.interpret(Instant::now())).unwrap_or_default();
        for c in &convicted {
            crate::log!("cairn node: {} is DOWN (phi {:.1})", c.endpoint, c.phi);
        }
        if !convicted.is_empty() {
            self.refresh_view();
        }
        self.check_schema(shared);
        self.deliver_hints();
    }

    /// A live peer announcing another schema version: pull its schema and adopt what this node
    /// lacks (at most once a second).
    fn check_schema(&self, shared: &Weak<Shared>) {
        let view = self.view();
        let mine = view.peers.get(&view.me).and_then(|p| p.schema_version);
        let Some(other) =
            view.peers.values().find(|p| p.alive && p.schema_version.is_some() && p.schema_version != mine)
        else {
            return;
        };
        let Ok(mut last) = self.last_pull.lock() else { return };
        if last.is_some_and(|l| l.elapsed() < Duration::from_secs(1)) {
            return;
        }
        *last = Some(Instant::now());
        drop(last);
        let Some(shared) = shared.upgrade() else { return };
        match self.messenger.request(other.storage, Frame::request(Verb::SchemaPull, vec![]), Duration::from_secs(2)) {
            Ok(f) => match String::from_utf8(f.payload) {
                Ok(text) => {
                    if let Err(e) = crate::catalog::adopt_schema(&shared, &text) {
                        crate::log!("cairn node: adopting the schema of {}: {}", other.storage, e.message);
                    }
                }
                Err(_) => crate::log!("cairn node: {} sent a schema that is not UTF-8", other.storage),
            },
            Err(e) => crate::log!("cairn node: pulling the schema of {}: {e}", other.storage),
        }
    }

    /// Keep `mutations` as a hint for `addr`, unless hints are off, the node is unknown, or it
    /// has been down longer than `max_hint_window`. Returns whether a hint was kept.
    pub(crate) fn hint(&self, addr: IpAddr, mutations: &[Mutation]) -> bool {
        if !self.config.hinted_handoff {
            return false;
        }
        let view = self.view();
        let Some(host) = view.peers.get(&addr).and_then(|p| p.host_id) else { return false };
        let down_for = self.down_since.lock().ok().and_then(|d| d.get(&addr).map(Instant::elapsed));
        if down_for.is_some_and(|d| d > self.config.max_hint_window) {
            return false;
        }
        match self.hints.store(&cairn_format::types::render::hex(&host), mutations) {
            Ok(()) => true,
            Err(e) => {
                crate::log!("cairn node: keeping a hint for {addr}: {e}");
                false
            }
        }
    }

    /// Replay the hints of every live member that has some, on a thread of its own (one
    /// delivery at a time).
    fn deliver_hints(&self) {
        let view = self.view();
        let targets: Vec<(String, SocketAddr)> = view
            .peers
            .values()
            .filter(|p| p.alive && p.storage != self.config.storage)
            .filter_map(|p| p.host_id.map(|h| (cairn_format::types::render::hex(&h), p.storage)))
            .filter(|(h, _)| self.hints.has(h))
            .collect();
        if targets.is_empty() || self.delivering.swap(true, Ordering::SeqCst) {
            return;
        }
        let (hints, messenger, delivering) =
            (Arc::clone(&self.hints), Arc::clone(&self.messenger), Arc::clone(&self.delivering));
        let timeout = self.config.write_timeout;
        std::thread::spawn(move || {
            for (host, to) in targets {
                let mut send = |ms: &[Mutation]| {
                    let mut payload = Vec::new();
                    mutation::encode_all(ms, &mut payload);
                    messenger
                        .request(to, Frame::request(Verb::Hint, payload), timeout)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                match hints.deliver(&host, &mut send) {
                    Ok(n) if n > 0 => crate::log!("cairn node: delivered {n} hinted write(s) to {to}"),
                    Ok(_) => {}
                    Err(e) => crate::log!("cairn node: hints for {to}: {e}"),
                }
            }
            delivering.store(false, Ordering::SeqCst);
        });
    }

    /// Drop the quarantined (removed) members gossip brought back at their old generation.
    fn forget_removed(&self) {
        let Ok(removed) = self.removed.lock() else { return };
        if removed.is_empty() {
            return;
        }
        if let Ok(mut g) = self.gossip.lock() {
            for (addr, generation) in removed.iter() {
                if g.endpoint(*addr).is_some_and(|s| s.generation <= *generation) {
                    g.remove(*addr);
                }
            }
        }
    }

    /// Forget the member at `addr` (removenode): out of gossip, the failure detector and the
    /// view, and quarantined.
    pub(crate) fn forget(&self, addr: SocketAddr) {
        let generation = self.gossip.lock().ok().and_then(|g| g.endpoint(addr).map(|s| s.generation));
        if let Ok(mut removed) = self.removed.lock() {
            removed.insert(addr, generation.unwrap_or(i64::MAX));
        }
        self.forget_removed();
        if let Ok(mut fd) = self.detector.lock() {
            fd.remove(&addr);
        }
        self.refresh_view();
        self.save_peers();
        crate::log!("cairn node: {addr} removed from the ring");
    }

    /// Tell the live peers this node is shutting down, so they mark it down at once.
    pub(crate) fn announce_shutdown(&self) {
        // A node that left stays left.
        let left = self.view().peers.get(&self.view().me).is_some_and(|p| p.status == status::LEFT);
        if !left {
            self.set_local(AppState::Status, status::SHUTDOWN);
        }
        self.announce();
        self.save_peers();
        self.stop.store(true, Ordering::SeqCst);
    }
}
