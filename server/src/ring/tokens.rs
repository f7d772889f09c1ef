//! Tokens, ranges and replica placement (Murmur3Partitioner, `i64` tokens).
//!
//! ## Tokens and ranges
//!
//! Every member of the ring holds one or more tokens. Sorted, they cut the token space into
//! ranges: a token `t` closes the range `(p, t]` opened by its predecessor `p` on the ring, and
//! the member holding `t` is that range's *primary* owner. The range closed by the smallest
//! token opens at the largest one and wraps through `i64::MAX` to `i64::MIN` ([`TokenRange`]
//! keeps it whole, as Cassandra's `Range` does). A single token makes the range `(t, t]`: the
//! whole ring. The key tokens Murmur3 produces are never `i64::MIN` (Cassandra maps that hash to
//! `i64::MAX`), so `i64::MIN` is only ever a range bound.
//!
//! ## Finding the replicas of a token
//!
//! The walk starts at the first ring token `>=` the key's token, wrapping to the smallest when the
//! key is past the largest, and visits each ring token once, clockwise, looking at the member that
//! holds it (`TokenMetadata.firstToken` and `ringIterator`). The Cassandra files cited here are
//! under `src/java/org/apache/cassandra/`, that one in `locator/TokenMetadata.java`.
//!
//! - **SimpleStrategy** (`locator/SimpleStrategy.java`, `calculateNaturalReplicas`): keep each
//!   member not already kept until `rf` are kept (or the ring is exhausted: `rf` larger than the
//!   ring gives every member).
//! - **NetworkTopologyStrategy** (`locator/NetworkTopologyStrategy.java`, Cassandra 4.0's
//!   `calculateNaturalReplicas` with its `DatacenterEndpoints` helper). Each datacenter with a
//!   positive factor and at least one member keeps two counters: the replicas still wanted,
//!   `min(rf, members in the DC)`, and the *rack repeats* allowed, `rf - racks in the DC` (how
//!   many replicas must share a rack because the DC has fewer racks than `rf`). A member from a
//!   datacenter that still wants replicas and is not yet kept is kept when its rack is new for
//!   that DC; when its rack already holds a replica it is kept only while rack repeats remain
//!   (using one up), and otherwise skipped. The walk stops once every DC has what it wants.
//!   Replicas come out in walk order, datacenters interleaved, so the first is the primary
//!   replica.
//!
//!   Before Cassandra 3.2 (CASSANDRA-10200, which rewrote the walk into the form above), and
//!   still in the Python driver's `NetworkTopologyStrategy`, members of an already used rack
//!   were set aside and appended once every rack of the DC held a replica. Both rules keep the
//!   same members; they order them differently when a DC has fewer racks than its factor
//!   (`tests/tests/ring_placement.rs` compares with the driver accordingly).
//! - **LocalStrategy** (the `system` keyspaces): the local node alone.
//!
//! ## Ownership
//!
//! A member *replicates* the range closed by a ring token when it is among that token's replicas
//! ([`TokenMap::ranges_for`]); its effective ownership is the fraction of the token space those
//! ranges cover ([`TokenMap::ownership`], the "Owns (effective)" column of
//! `nodetool status <keyspace>`), so the fractions of all members add up to the replication
//! factor (capped by the members available).
//!
//! ## Replication options
//!
//! [`Replication::from_options`] reads a keyspace's replication map as `CREATE KEYSPACE` gives it
//! and as `system_schema.keyspaces` stores it, following Cassandra 4.0
//! (`locator/AbstractReplicationStrategy.java`, `NetworkTopologyStrategy.prepareOptions`): a class
//! name without a package is looked up in `org.apache.cassandra.locator`; NetworkTopologyStrategy
//! expands a `replication_factor` shorthand to every datacenter the ring knows and that the map
//! does not name, and drops datacenters with factor 0. Two choices differ from Cassandra:
//! transient replicas (`'3/1'`) are refused, and datacenter names the ring does not know are
//! accepted (they get no replicas until members of that DC join) rather than refused.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

/// The package Cassandra prefixes to a replication class named without one.
const LOCATOR_PACKAGE: &str = "org.apache.cassandra.locator.";

/// The `replication_factor` option (SimpleStrategy's factor, NetworkTopologyStrategy's shorthand).
const REPLICATION_FACTOR: &str = "replication_factor";

/// How a keyspace places its replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replication {
    /// `SimpleStrategy`: the first `rf` distinct members clockwise from the token.
    Simple {
        /// Replicas per token.
        rf: usize,
    },
    /// `NetworkTopologyStrategy`: per datacenter, spread over racks.
    NetworkTopology {
        /// Replicas per datacenter (datacenters with factor 0 are left out).
        per_dc: BTreeMap<String, usize>,
    },
    /// `LocalStrategy` (system keyspaces): only this node.
    Local,
}

/// A replication map Cairn cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationError {
    /// The map has no `class`.
    #[error("the replication map has no 'class'")]
    MissingClass,
    /// The class is none of the strategies Cairn implements.
    #[error("unknown replication class '{0}' (SimpleStrategy, NetworkTopologyStrategy or LocalStrategy)")]
    UnknownClass(String),
    /// An option appears twice.
    #[error("replication option '{0}' is given twice")]
    DuplicateOption(String),
    /// SimpleStrategy without its factor.
    #[error("SimpleStrategy requires a 'replication_factor' option")]
    MissingReplicationFactor,
    /// An option the class does not take.
    #[error("unrecognized replication option '{option}' for {class}")]
    UnrecognizedOption {
        /// The strategy's short class name.
        class: &'static str,
        /// The option's key.
        option: String,
    },
    /// A factor that is not a non-negative integer.
    #[error("replication factor '{value}' of option '{option}' is not a non-negative integer")]
    InvalidFactor {
        /// The option's key (`replication_factor` or a datacenter).
        option: String,
        /// The value as given.
        value: String,
    },
    /// A transient replication factor (`'3/1'`), which Cairn does not implement.
    #[error(
        "replication factor '{value}' of option '{option}' asks for transient replicas, which Cairn does not support"
    )]
    TransientUnsupported {
        /// The option's key.
        option: String,
        /// The value as given.
        value: String,
    },
    /// NetworkTopologyStrategy with no datacenter left (none given, or all with factor 0 and no
    /// known datacenter to expand `replication_factor` to).
    #[error("NetworkTopologyStrategy needs a replication factor for at least one datacenter")]
    NoDatacenters,
}

impl Replication {
    /// Parse a keyspace's replication map (`class` plus the strategy's options).
    ///
    /// `known_dcs` are the datacenters of the ring's members ([`TokenMap::datacenters`]); a
    /// NetworkTopologyStrategy `replication_factor` shorthand gives that factor to each of them
    /// not named in the map, as Cassandra 4 does when the keyspace is created.
    pub fn from_options(options: &[(String, String)], known_dcs: &[&str]) -> Result<Replication, ReplicationError> {
        let mut seen = HashSet::new();
        for (k, _) in options {
            if !seen.insert(k.as_str()) {
                return Err(ReplicationError::DuplicateOption(k.clone()));
            }
        }
        let class = options.iter().find(|(k, _)| k == "class").map(|(_, v)| v.as_str());
        let class = class.ok_or(ReplicationError::MissingClass)?;
        let short = class.strip_prefix(LOCATOR_PACKAGE).unwrap_or(class);
        let rest = options.iter().filter(|(k, _)| k != "class");
        match short {
            "SimpleStrategy" => {
                let mut rf = None;
                for (k, v) in rest {
                    if k != REPLICATION_FACTOR {
                        return Err(ReplicationError::UnrecognizedOption {
                            class: "SimpleStrategy",
                            option: k.clone(),
                        });
                    }
                    rf = Some(parse_factor(k, v)?);
                }
                Ok(Replication::Simple { rf: rf.ok_or(ReplicationError::MissingReplicationFactor)? })
            }
            "NetworkTopologyStrategy" => {
                let mut per_dc = BTreeMap::new();
                let mut shorthand = None;
                for (k, v) in rest {
                    let rf = parse_factor(k, v)?;
                    if k == REPLICATION_FACTOR {
                        shorthand = Some(rf);
                    } else {
                        per_dc.insert(k.clone(), rf);
                    }
                }
                if let Some(rf) = shorthand {
                    for dc in known_dcs {
                        per_dc.entry((*dc).to_string()).or_insert(rf);
                    }
                }
                per_dc.retain(|_, rf| *rf > 0);
                if per_dc.is_empty() {
                    return Err(ReplicationError::NoDatacenters);
                }
                Ok(Replication::NetworkTopology { per_dc })
            }
            "LocalStrategy" => match rest.into_iter().next() {
                Some((k, _)) => Err(ReplicationError::UnrecognizedOption { class: "LocalStrategy", option: k.clone() }),
                None => Ok(Replication::Local),
            },
            _ => Err(ReplicationError::UnknownClass(class.to_string())),
        }
    }
}

/// A replication factor as `ReplicationFactor.fromString` reads it, transient ones refused.
fn parse_factor(option: &str, value: &str) -> Result<usize, ReplicationError> {
    let err = || (option.to_string(), value.to_string());
    if value.contains('/') {
        let (option, value) = err();
        return Err(ReplicationError::TransientUnsupported { option, value });
    }
    value.parse::<usize>().map_err(|_| {
        let (option, value) = err();
        ReplicationError::InvalidFactor { option, value }
    })
}

/// One node of the ring as the token map sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The node's address (its identity on the ring).
    pub addr: IpAddr,
    /// Its datacenter.
    pub dc: String,
    /// Its rack within the datacenter.
    pub rack: String,
    /// The tokens it holds.
    pub tokens: Vec<i64>,
}

/// A set of members that do not form a ring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// No members at all.
    #[error("the ring has no members")]
    Empty,
    /// The same address twice.
    #[error("member {0} is listed twice")]
    DuplicateMember(IpAddr),
    /// A member holding no token (it would own nothing and cannot be placed).
    #[error("member {0} holds no token")]
    NoTokens(IpAddr),
    /// Two members (or one member twice) claim the same token.
    #[error("token {token} is claimed by both {first} and {second}")]
    DuplicateToken {
        /// The token.
        token: i64,
        /// Its first claimant.
        first: IpAddr,
        /// Its second claimant.
        second: IpAddr,
    },
    /// The local node is not among the members.
    #[error("the local node {0} is not a member of the ring")]
    LocalNotMember(IpAddr),
}

/// A token range `(start, end]`: start exclusive, end inclusive. When `start >= end` it wraps
/// through `i64::MAX` to `i64::MIN`; `start == end` is the whole ring (a ring of one token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenRange {
    /// The exclusive start (the previous ring token).
    pub start: i64,
    /// The inclusive end (the ring token that closes the range).
    pub end: i64,
}

impl TokenRange {
    /// Whether the range wraps through the ends of the token space (or is the whole ring).
    pub fn wraps(&self) -> bool {
        self.start >= self.end
    }

    /// Whether `token` falls in `(start, end]`.
    pub fn contains(&self, token: i64) -> bool {
        if self.wraps() { token > self.start || token <= self.end } else { token > self.start && token <= self.end }
    }

    /// The fraction of the token space the range covers (Cassandra's `LongToken.size`: the
    /// whole ring is 1).
    pub fn fraction(&self) -> f64 {
        let width = self.end.wrapping_sub(self.start) as u64;
        if width == 0 { 1.0 } else { width as f64 / TOKEN_SPACE }
    }
}

/// 2^64, the number of tokens.
const TOKEN_SPACE: f64 = 18_446_744_073_709_551_616.0;

/// Per-datacenter facts the NetworkTopologyStrategy walk needs (Cassandra's `Topology`).
#[derive(Debug, Clone, Default)]
struct DcTopology {
    members: usize,
    racks: usize,
}

/// The ring: members, their sorted tokens, and replica placement over them.
#[derive(Debug, Clone)]
pub struct TokenMap {
    members: Vec<Member>,
    /// (token, index into `members`), sorted by token.
    ring: Vec<(i64, usize)>,
    dcs: BTreeMap<String, DcTopology>,
    local: usize,
}

impl TokenMap {
    /// Build the ring of `members`, seen from the node at `local` (the only replica of
    /// [`Replication::Local`] keyspaces).
    pub fn new(members: Vec<Member>, local: IpAddr) -> Result<TokenMap, RingError> {
        if members.is_empty() {
            return Err(RingError::Empty);
        }
        let mut addrs = HashSet::new();
        let mut ring = Vec::new();
        let mut racks: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut dcs: BTreeMap<String, DcTopology> = BTreeMap::new();
        for (i, m) in members.iter().enumerate() {
            if !addrs.insert(m.addr) {
                return Err(RingError::DuplicateMember(m.addr));
            }
            if m.tokens.is_empty() {
                return Err(RingError::NoTokens(m.addr));
            }
            ring.extend(m.tokens.iter().map(|t| (*t, i)));
            racks.entry(&m.dc).or_default().insert(&m.rack);
            dcs.entry(m.dc.clone()).or_default().members += 1;
        }
        for (dc, r) in racks {
            if let Some(t) = dcs.get_mut(dc) {
                t.racks = r.len();
            }
        }
        ring.sort_unstable();
        for w in ring.windows(2) {
            if let [(a, i), (b, j)] = w
                && a == b
            {
                return Err(RingError::DuplicateToken { token: *a, first: members[*i].addr, second: members[*j].addr });
            }
        }
        let local = members.iter().position(|m| m.addr == local).ok_or(RingError::LocalNotMember(local))?;
        Ok(TokenMap { members, ring, dcs, local })
    }

    /// The members, in the order given.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The ring: every token with the index of its member in [`members`](Self::members), sorted.
    pub fn ring(&self) -> &[(i64, usize)] {
        &self.ring
    }

    /// The datacenters of the members, sorted.
    pub fn datacenters(&self) -> Vec<&str> {
        self.dcs.keys().map(String::as_str).collect()
    }

    /// The position in [`ring`](Self::ring) of the first token `>= token`, wrapping to 0: the
    /// ring token closing the range `token` falls in.
    fn first_index(&self, token: i64) -> usize {
        let i = self.ring.partition_point(|(t, _)| *t < token);
        if i == self.ring.len() { 0 } else { i }
    }

    /// The ring positions visited by the clockwise walk from `token`, each once.
    fn walk(&self, token: i64) -> impl Iterator<Item = usize> + '_ {
        let start = self.first_index(token);
        let n = self.ring.len();
        (0..n).map(move |k| self.ring[(start + k) % n].1)
    }

    /// The primary owner of `token`: the member holding the first ring token `>= token`.
    pub fn owner(&self, token: i64) -> IpAddr {
        self.members[self.ring[self.first_index(token)].1].addr
    }

    /// The replicas of `token` under `r`, in Cassandra's order (the first is the primary
    /// replica).
    pub fn replicas(&self, token: i64, r: &Replication) -> Vec<IpAddr> {
        self.replica_indices(token, r).into_iter().map(|i| self.members[i].addr).collect()
    }

    fn replica_indices(&self, token: i64, r: &Replication) -> Vec<usize> {
        match r {
            Replication::Local => vec![self.local],
            Replication::Simple { rf } => {
                let mut kept: Vec<usize> = Vec::with_capacity(*rf);
                for m in self.walk(token) {
                    if kept.len() >= *rf {
                        break;
                    }
                    if !kept.contains(&m) {
                        kept.push(m);
                    }
                }
                kept
            }
            Replication::NetworkTopology { per_dc } => self.nts_replicas(token, per_dc),
        }
    }

    /// Cassandra 4.0's `NetworkTopologyStrategy.calculateNaturalReplicas` (see the module docs).
    fn nts_replicas(&self, token: i64, per_dc: &BTreeMap<String, usize>) -> Vec<usize> {
        /// One datacenter's progress: replicas still wanted, rack repeats still allowed.
        struct Wanted {
            left: usize,
            rack_repeats: isize,
        }
        let mut wanted: HashMap<&str, Wanted> = HashMap::new();
        for (dc, rf) in per_dc {
            match self.dcs.get(dc) {
                Some(t) if *rf > 0 && t.members > 0 => {
                    let repeats = *rf as isize - t.racks as isize;
                    wanted.insert(dc, Wanted { left: (*rf).min(t.members), rack_repeats: repeats });
                }
                _ => {}
            }
        }
        let mut dcs_to_fill = wanted.len();
        let mut kept: Vec<usize> = Vec::new();
        let mut seen_racks: HashSet<(&str, &str)> = HashSet::new();
        for m in self.walk(token) {
            if dcs_to_fill == 0 {
                break;
            }
            let member = &self.members[m];
            let Some(w) = wanted.get_mut(member.dc.as_str()) else { continue };
            if w.left == 0 || kept.contains(&m) {
                continue;
            }
            if seen_racks.insert((&member.dc, &member.rack)) {
                // A rack of this DC without a replica yet.
            } else if w.rack_repeats > 0 {
                // The DC has fewer racks than its factor: this rack takes a second replica.
                w.rack_repeats -= 1;
            } else {
                continue;
            }
            kept.push(m);
            w.left -= 1;
            if w.left == 0 {
                dcs_to_fill -= 1;
            }
        }
        kept
    }

    /// The ranges `addr` owns primarily: one per token it holds, `(previous ring token, token]`,
    /// sorted by their end. Empty when `addr` is not a member.
    pub fn primary_ranges(&self, addr: IpAddr) -> Vec<TokenRange> {
        (0..self.ring.len()).filter(|&i| self.members[self.ring[i].1].addr == addr).map(|i| self.range_at(i)).collect()
    }

    /// The ranges `addr` holds a replica of under `r` (its primary ranges among them), sorted by
    /// their end: Cassandra's `getAddressReplicas`, the ranges `nodetool describering` lists
    /// with `addr` among their endpoints.
    pub fn ranges_for(&self, addr: IpAddr, r: &Replication) -> Vec<TokenRange> {
        (0..self.ring.len())
            .filter(|&i| self.replica_indices(self.ring[i].0, r).iter().any(|&m| self.members[m].addr == addr))
            .map(|i| self.range_at(i))
            .collect()
    }

    /// The range closed by the ring token at position `i`.
    fn range_at(&self, i: usize) -> TokenRange {
        let prev = if i == 0 { self.ring.len() - 1 } else { i - 1 };
        TokenRange { start: self.ring[prev].0, end: self.ring[i].0 }
    }

    /// Each member's effective ownership under `r`: the fraction of the token space it holds a
    /// replica of ("Owns (effective)" of `nodetool status <keyspace>`, as a fraction rather than a
    /// rounded percentage), sorted by address. The fractions add up to the replica count per
    /// token.
    pub fn ownership(&self, r: &Replication) -> Vec<(IpAddr, f64)> {
        let mut owns = vec![0.0f64; self.members.len()];
        for i in 0..self.ring.len() {
            let share = self.range_at(i).fraction();
            for m in self.replica_indices(self.ring[i].0, r) {
                owns[m] += share;
            }
        }
        let mut out: Vec<(IpAddr, f64)> = self.members.iter().map(|m| m.addr).zip(owns).collect();
        out.sort_by_key(|(a, _)| *a);
        out
    }
}

/// `n` distinct random tokens, sorted, the same for the same `seed` (splitmix64, as
/// `node.rs` draws a node's tokens). `i64::MIN` is never drawn: Cassandra's
/// `Murmur3Partitioner.getRandomToken` maps it to `i64::MAX`, the minimum token being reserved
/// as the ring's lower bound.
pub fn allocate_tokens(n: usize, seed: u64) -> Vec<i64> {
    let mut state = seed;
    let mut tokens = BTreeSet::new();
    while tokens.len() < n {
        let t = splitmix64(&mut state) as i64;
        tokens.insert(if t == i64::MIN { i64::MAX } else { t });
    }
    tokens.into_iter().collect()
}

/// The splitmix64 generator (Steele, Lea and Flood), advancing `state`.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A `--initial-token` list Cairn cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitialTokenError {
    /// Nothing but separators and blanks.
    #[error("--initial-token names no token")]
    Empty,
    /// An entry that is not a signed 64-bit integer.
    #[error("--initial-token entry {position} ('{text}') is not a Murmur3 token (a signed 64-bit integer)")]
    NotAToken {
        /// 1-based position in the list.
        position: usize,
        /// The entry as given.
        text: String,
    },
    /// The same token twice.
    #[error("--initial-token names token {0} twice")]
    Duplicate(i64),
}

/// Parse `--initial-token T1,T2,...` (Cassandra's `initial_token`: comma-separated Murmur3
/// tokens, blanks around entries allowed), keeping the order given.
pub fn parse_initial_tokens(text: &str) -> Result<Vec<i64>, InitialTokenError> {
    if text.trim().is_empty() {
        return Err(InitialTokenError::Empty);
    }
    let mut seen = HashSet::new();
    let mut tokens = Vec::new();
    for (i, entry) in text.split(',').enumerate() {
        let entry = entry.trim();
        let t: i64 =
            entry.parse().map_err(|_| InitialTokenError::NotAToken { position: i + 1, text: entry.to_string() })?;
        if !seen.insert(t) {
            return Err(InitialTokenError::Duplicate(t));
        }
        tokens.push(t);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    fn member(last: u8, dc: &str, rack: &str, tokens: &[i64]) -> Member {
        Member { addr: ip(last), dc: dc.into(), rack: rack.into(), tokens: tokens.to_vec() }
    }

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn simple(rf: usize) -> Replication {
        Replication::Simple { rf }
    }

    fn nts(pairs: &[(&str, usize)]) -> Replication {
        Replication::NetworkTopology { per_dc: pairs.iter().map(|(d, r)| (d.to_string(), *r)).collect() }
    }

    /// The ring drawn in the module docs of `ring`: A = .1 at -6000 and 4000, B = .2 at -2000,
    /// C = .3 at 1000 and 8000.
    fn abc() -> TokenMap {
        TokenMap::new(
            vec![
                member(1, "dc1", "r1", &[4000, -6000]),
                member(2, "dc1", "r1", &[-2000]),
                member(3, "dc1", "r1", &[1000, 8000]),
            ],
            ip(1),
        )
        .unwrap()
    }

    #[test]
    fn simple_walks_clockwise_and_wraps() {
        let m = abc();
        let (a, b, c) = (ip(1), ip(2), ip(3));
        // rf 1: the primary owner; a token equal to a ring token is that token's owner's.
        assert_eq!(m.replicas(-2000, &simple(1)), vec![b]);
        assert_eq!(m.replicas(-1999, &simple(1)), vec![c]);
        assert_eq!(m.replicas(8000, &simple(1)), vec![c]);
        assert_eq!(m.replicas(8001, &simple(1)), vec![a]);
        assert_eq!(m.replicas(i64::MAX, &simple(1)), vec![a]);
        assert_eq!(m.replicas(i64::MIN + 1, &simple(1)), vec![a]);
        assert_eq!(m.owner(-6000), a);
        // rf 2 and 3, as the module docs say.
        assert_eq!(m.replicas(0, &simple(2)), vec![c, a]);
        assert_eq!(m.replicas(-2000, &simple(2)), vec![b, c]);
        assert_eq!(m.replicas(9000, &simple(2)), vec![a, b]);
        // From 4000: A (4000), C (8000), A again (-6000, skipped), B (-2000).
        assert_eq!(m.replicas(3000, &simple(3)), vec![a, c, b]);
        assert_eq!(m.replicas(5000, &simple(3)), vec![c, a, b]);
        // More replicas than members: every member once.
        assert_eq!(m.replicas(5000, &simple(5)), vec![c, a, b]);
        assert_eq!(m.replicas(5000, &simple(0)), Vec::<IpAddr>::new());
        assert_eq!(m.replicas(5000, &Replication::Local), vec![a]);
    }

    #[test]
    fn primary_and_replicated_ranges() {
        let m = abc();
        let r = |start, end| TokenRange { start, end };
        assert_eq!(m.primary_ranges(ip(1)), vec![r(8000, -6000), r(1000, 4000)]);
        assert_eq!(m.primary_ranges(ip(2)), vec![r(-6000, -2000)]);
        assert_eq!(m.primary_ranges(ip(3)), vec![r(-2000, 1000), r(4000, 8000)]);
        assert!(m.primary_ranges(ip(9)).is_empty());
        assert!(r(8000, -6000).wraps() && r(8000, -6000).contains(i64::MAX) && r(8000, -6000).contains(-6000));
        assert!(!r(8000, -6000).contains(8000) && !r(1000, 4000).contains(1000) && r(1000, 4000).contains(4000));
        // rf 2: B replicates its own range and the one before it, (8000, -6000] (A then B).
        assert_eq!(m.ranges_for(ip(2), &simple(2)), vec![r(8000, -6000), r(-6000, -2000)]);
        // C replicates B's range and its own two, and (1000, 4000] (A's, then C at 8000).
        assert_eq!(
            m.ranges_for(ip(3), &simple(2)),
            vec![r(-6000, -2000), r(-2000, 1000), r(1000, 4000), r(4000, 8000)]
        );
        assert_eq!(m.ranges_for(ip(1), &simple(3)).len(), 5);
        // A single token owns the whole ring.
        let one = TokenMap::new(vec![member(1, "dc1", "r1", &[42])], ip(1)).unwrap();
        assert_eq!(one.primary_ranges(ip(1)), vec![r(42, 42)]);
        assert!(r(42, 42).contains(42) && r(42, 42).contains(i64::MIN + 1) && r(42, 42).fraction() == 1.0);
        assert_eq!(one.ownership(&simple(3)), vec![(ip(1), 1.0)]);
    }

    #[test]
    fn ownership_sums_ranges() {
        // Four evenly spaced tokens: each quarter of the ring.
        let q = 1i64 << 62;
        let m = TokenMap::new(
            vec![member(1, "dc1", "r1", &[-2 * q, 0]), member(2, "dc1", "r1", &[-q]), member(3, "dc1", "r1", &[q])],
            ip(1),
        )
        .unwrap();
        assert_eq!(m.ownership(&simple(1)), vec![(ip(1), 0.5), (ip(2), 0.25), (ip(3), 0.25)]);
        // rf 2: the ranges closed by -2q and -q go to .1 and .2, those closed by 0 and q to .1
        // and .3 (the walk from q wraps to -2q).
        assert_eq!(m.ownership(&simple(2)), vec![(ip(1), 1.0), (ip(2), 0.5), (ip(3), 0.5)]);
        assert_eq!(m.ownership(&simple(3)), vec![(ip(1), 1.0), (ip(2), 1.0), (ip(3), 1.0)]);
        assert_eq!(m.ownership(&Replication::Local), vec![(ip(1), 1.0), (ip(2), 0.0), (ip(3), 0.0)]);
        let total: f64 = m.ownership(&simple(2)).iter().map(|(_, f)| f).sum();
        assert_eq!(total, 2.0);
    }

    /// Two datacenters. dc1: .1 (r1, 100), .2 (r1, 200), .3 (r2, 300), .4 (r1, 400).
    /// dc2: .5 (ra, 150), .6 (rb, 250), .7 (ra, 350).
    fn two_dcs() -> TokenMap {
        TokenMap::new(
            vec![
                member(1, "dc1", "r1", &[100]),
                member(2, "dc1", "r1", &[200]),
                member(3, "dc1", "r2", &[300]),
                member(4, "dc1", "r1", &[400]),
                member(5, "dc2", "ra", &[150]),
                member(6, "dc2", "rb", &[250]),
                member(7, "dc2", "ra", &[350]),
            ],
            ip(1),
        )
        .unwrap()
    }

    #[test]
    fn nts_spreads_over_racks_and_interleaves_datacenters() {
        let m = two_dcs();
        // Ring: 100 .1(dc1 r1), 150 .5(dc2 ra), 200 .2(dc1 r1), 250 .6(dc2 rb), 300 .3(dc1 r2),
        // 350 .7(dc2 ra), 400 .4(dc1 r1).
        // dc1 rf 2 over 2 racks: .1 (r1), .2 skipped (r1 again, no repeats allowed), .3 (r2).
        assert_eq!(m.replicas(100, &nts(&[("dc1", 2)])), vec![ip(1), ip(3)]);
        // Both DCs, in walk order: .1, .5, (.2 skipped), .6, .3.
        assert_eq!(m.replicas(50, &nts(&[("dc1", 2), ("dc2", 2)])), vec![ip(1), ip(5), ip(6), ip(3)]);
        // From 301: .7 (ra), .4 (r1), wrap .1 (r1, skipped), .5 (ra, skipped), .2 skipped,
        // .6 (rb), .3 (r2).
        assert_eq!(m.replicas(301, &nts(&[("dc1", 2), ("dc2", 2)])), vec![ip(7), ip(4), ip(6), ip(3)]);
        // A DC unknown to the ring or with factor 0 gets nothing.
        assert_eq!(m.replicas(50, &nts(&[("dc1", 1), ("dc9", 3)])), vec![ip(1)]);
        assert_eq!(m.replicas(50, &nts(&[("dc1", 1), ("dc2", 0)])), vec![ip(1)]);
    }

    #[test]
    fn nts_with_fewer_racks_than_rf_repeats_racks_in_walk_order() {
        let m = two_dcs();
        // dc1 rf 3 over 2 racks: one rack repeat allowed, taken by the first member met on an
        // already used rack. From 50: .1 (r1), .2 (r1, the repeat), .3 (r2): done before .4.
        assert_eq!(m.replicas(50, &nts(&[("dc1", 3)])), vec![ip(1), ip(2), ip(3)]);
        // From 301: .4 (r1), wrap .1 (r1, repeat), .2 (r1, no repeat left: skipped), .3 (r2).
        assert_eq!(m.replicas(301, &nts(&[("dc1", 3)])), vec![ip(4), ip(1), ip(3)]);
        // The pre-3.2 rule (and the Python driver) would give .4, .3, .1: the same members.
        // dc2 rf 3 with 3 members over 2 racks: all of them, in walk order.
        assert_eq!(m.replicas(200, &nts(&[("dc2", 3)])), vec![ip(6), ip(7), ip(5)]);
    }

    #[test]
    fn nts_rf_larger_than_the_datacenter_takes_every_member_once() {
        let m = two_dcs();
        // dc2 has 3 members: from 350, .7 (ra), .5 (ra, a repeat), .6 (rb).
        assert_eq!(m.replicas(350, &nts(&[("dc2", 5)])), vec![ip(7), ip(5), ip(6)]);
        // Everyone, in walk order, datacenters interleaved.
        let all = m.replicas(0, &nts(&[("dc1", 9), ("dc2", 9)]));
        assert_eq!(all, [1, 5, 2, 6, 3, 7, 4].map(ip).to_vec());
        let owns = m.ownership(&nts(&[("dc1", 9), ("dc2", 9)]));
        assert!(owns.iter().all(|(_, f)| *f == 1.0), "{owns:?}");
    }

    #[test]
    fn nts_single_rack_is_the_simple_walk_within_the_datacenter() {
        let m = TokenMap::new(
            (1..=5)
                .map(|i| member(i, "dc1", "r1", &[i64::from(i) * 10]))
                .chain([member(6, "dc2", "r1", &[25])])
                .collect(),
            ip(6),
        )
        .unwrap();
        // From 41: .5 (50), wrap .1 (10), .2 (20), .6 (25, dc2), .3 (30).
        assert_eq!(m.replicas(41, &nts(&[("dc1", 4)])), vec![ip(5), ip(1), ip(2), ip(3)]);
        assert_eq!(m.replicas(41, &simple(4)), vec![ip(5), ip(1), ip(2), ip(6)]);
    }

    #[test]
    fn replication_options_parse_as_cql_gives_them() {
        let dcs = ["dc1", "dc2"];
        let parse = |pairs: &[(&str, &str)]| Replication::from_options(&opts(pairs), &dcs);
        assert_eq!(parse(&[("class", "SimpleStrategy"), ("replication_factor", "3")]), Ok(simple(3)));
        assert_eq!(
            parse(&[("class", "org.apache.cassandra.locator.SimpleStrategy"), ("replication_factor", "1")]),
            Ok(simple(1))
        );
        assert_eq!(
            parse(&[("class", "org.apache.cassandra.locator.NetworkTopologyStrategy"), ("dc1", "3"), ("dc2", "2")]),
            Ok(nts(&[("dc1", 3), ("dc2", 2)]))
        );
        // The shorthand fills every known DC not named; a factor 0 drops the DC.
        assert_eq!(
            parse(&[("class", "NetworkTopologyStrategy"), ("replication_factor", "2"), ("dc1", "5")]),
            Ok(nts(&[("dc1", 5), ("dc2", 2)]))
        );
        assert_eq!(
            parse(&[("class", "NetworkTopologyStrategy"), ("replication_factor", "2"), ("dc2", "0")]),
            Ok(nts(&[("dc1", 2)]))
        );
        assert_eq!(parse(&[("class", "LocalStrategy")]), Ok(Replication::Local));
        assert_eq!(parse(&[("class", "org.apache.cassandra.locator.LocalStrategy")]), Ok(Replication::Local));
    }

    #[test]
    fn replication_options_errors_say_what_is_wrong() {
        let parse = |pairs: &[(&str, &str)]| Replication::from_options(&opts(pairs), &["dc1"]);
        assert_eq!(parse(&[("replication_factor", "3")]), Err(ReplicationError::MissingClass));
        assert_eq!(
            parse(&[("class", "OldNetworkTopologyStrategy")]),
            Err(ReplicationError::UnknownClass("OldNetworkTopologyStrategy".into()))
        );
        assert_eq!(parse(&[("class", "SimpleStrategy")]), Err(ReplicationError::MissingReplicationFactor));
        assert_eq!(
            parse(&[("class", "SimpleStrategy"), ("replication_factor", "1"), ("dc1", "1")]),
            Err(ReplicationError::UnrecognizedOption { class: "SimpleStrategy", option: "dc1".into() })
        );
        assert_eq!(
            parse(&[("class", "SimpleStrategy"), ("replication_factor", "-1")]),
            Err(ReplicationError::InvalidFactor { option: "replication_factor".into(), value: "-1".into() })
        );
        assert_eq!(
            parse(&[("class", "NetworkTopologyStrategy"), ("dc1", "three")]),
            Err(ReplicationError::InvalidFactor { option: "dc1".into(), value: "three".into() })
        );
        assert_eq!(
            parse(&[("class", "NetworkTopologyStrategy"), ("dc1", "3/1")]),
            Err(ReplicationError::TransientUnsupported { option: "dc1".into(), value: "3/1".into() })
        );
        assert_eq!(parse(&[("class", "NetworkTopologyStrategy")]), Err(ReplicationError::NoDatacenters));
        assert_eq!(parse(&[("class", "NetworkTopologyStrategy"), ("dc1", "0")]), Err(ReplicationError::NoDatacenters));
        assert_eq!(
            parse(&[("class", "SimpleStrategy"), ("replication_factor", "1"), ("replication_factor", "2")]),
            Err(ReplicationError::DuplicateOption("replication_factor".into()))
        );
        assert_eq!(
            parse(&[("class", "LocalStrategy"), ("replication_factor", "1")]),
            Err(ReplicationError::UnrecognizedOption { class: "LocalStrategy", option: "replication_factor".into() })
        );
        let e = parse(&[("class", "NetworkTopologyStrategy"), ("dc1", "3/1")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "replication factor '3/1' of option 'dc1' asks for transient replicas, which Cairn does not support"
        );
    }

    #[test]
    fn ring_errors() {
        let a = || member(1, "dc1", "r1", &[1, 2]);
        assert_eq!(TokenMap::new(vec![], ip(1)).unwrap_err(), RingError::Empty);
        assert_eq!(TokenMap::new(vec![a(), a()], ip(1)).unwrap_err(), RingError::DuplicateMember(ip(1)));
        assert_eq!(
            TokenMap::new(vec![a(), member(2, "dc1", "r1", &[])], ip(1)).unwrap_err(),
            RingError::NoTokens(ip(2))
        );
        assert_eq!(
            TokenMap::new(vec![a(), member(2, "dc1", "r1", &[5, 2])], ip(1)).unwrap_err(),
            RingError::DuplicateToken { token: 2, first: ip(1), second: ip(2) }
        );
        assert_eq!(TokenMap::new(vec![a()], ip(2)).unwrap_err(), RingError::LocalNotMember(ip(2)));
    }

    #[test]
    fn allocated_tokens_are_distinct_sorted_and_repeatable() {
        let t = allocate_tokens(256, 7);
        assert_eq!(t.len(), 256);
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(t, allocate_tokens(256, 7));
        assert_ne!(t, allocate_tokens(256, 8));
        assert!(!t.contains(&i64::MIN));
        assert!(allocate_tokens(0, 1).is_empty());
    }

    #[test]
    fn initial_tokens_parse() {
        assert_eq!(parse_initial_tokens("-9223372036854775807, 0,42"), Ok(vec![-9223372036854775807, 0, 42]));
        assert_eq!(parse_initial_tokens("7"), Ok(vec![7]));
        assert_eq!(parse_initial_tokens(" "), Err(InitialTokenError::Empty));
        assert_eq!(
            parse_initial_tokens("1,,2"),
            Err(InitialTokenError::NotAToken { position: 2, text: String::new() })
        );
        assert_eq!(
            parse_initial_tokens("1,9223372036854775808"),
            Err(InitialTokenError::NotAToken { position: 2, text: "9223372036854775808".into() })
        );
        assert_eq!(parse_initial_tokens("3,1,3"), Err(InitialTokenError::Duplicate(3)));
    }
}
