//! Consistency levels: how many replicas must answer a write or a read before the coordinator
//! answers the client, and the three errors a client gets when they do not — Unavailable
//! (too few replicas alive to even try), WriteTimeout and ReadTimeout (too few answered in
//! time) — with the fields the native protocol gives them (`native_protocol_v4.spec` §9), so
//! drivers' retry policies can decide. The rules are Cassandra 4.x's `db/ConsistencyLevel.java`:
//!
//! | level | replicas that must answer |
//! |---|---|
//! | ANY | 1 (a hint on the coordinator counts, writes only) |
//! | ONE, TWO, THREE | 1, 2, 3 |
//! | QUORUM | ⌊RF ÷ 2⌋ + 1 of the total RF (every DC's summed) |
//! | ALL | every replica |
//! | LOCAL_ONE, LOCAL_QUORUM | 1, or a quorum of the coordinator's DC's RF, counting only replicas in that DC |
//! | EACH_QUORUM | a quorum in every DC |
//!
//! SERIAL and LOCAL_SERIAL need lightweight transactions (Paxos), which this node does not have:
//! they are refused with an Invalid error naming the level.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::protocol::{Failure, Writer, code, invalid};

/// A consistency level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Any node, a hint included.
    Any,
    /// One replica.
    One,
    /// Two replicas.
    Two,
    /// Three replicas.
    Three,
    /// A quorum of all replicas.
    Quorum,
    /// Every replica.
    All,
    /// A quorum of the coordinator's DC.
    LocalQuorum,
    /// A quorum in every DC.
    EachQuorum,
    /// One replica of the coordinator's DC.
    LocalOne,
}

/// Error code of a write timeout.
pub const WRITE_TIMEOUT: i32 = 0x1100;
/// Error code of a read timeout.
pub const READ_TIMEOUT: i32 = 0x1200;

impl Consistency {
    /// The level with protocol code `c`, or why it cannot be used.
    pub fn from_code(c: u16) -> Result<Consistency, Failure> {
        Ok(match c {
            0x0000 => Consistency::Any,
            0x0001 => Consistency::One,
            0x0002 => Consistency::Two,
            0x0003 => Consistency::Three,
            0x0004 => Consistency::Quorum,
            0x0005 => Consistency::All,
            0x0006 => Consistency::LocalQuorum,
            0x0007 => Consistency::EachQuorum,
            0x000A => Consistency::LocalOne,
            0x0008 | 0x0009 => {
                return Err(invalid(format!(
                    "{} needs lightweight transactions, which this node does not support",
                    crate::protocol::consistency_name(c)
                )));
            }
            _ => return Err(invalid(format!("unknown consistency level code 0x{c:04x}"))),
        })
    }

    /// The protocol code.
    pub fn code(self) -> u16 {
        match self {
            Consistency::Any => 0x0000,
            Consistency::One => 0x0001,
            Consistency::Two => 0x0002,
            Consistency::Three => 0x0003,
            Consistency::Quorum => 0x0004,
            Consistency::All => 0x0005,
            Consistency::LocalQuorum => 0x0006,
            Consistency::EachQuorum => 0x0007,
            Consistency::LocalOne => 0x000A,
        }
    }

    /// The name drivers and cqlsh print.
    pub fn name(self) -> &'static str {
        crate::protocol::consistency_name(self.code())
    }

    fn is_local(self) -> bool {
        matches!(self, Consistency::LocalOne | Consistency::LocalQuorum)
    }
}

/// ⌊rf ÷ 2⌋ + 1.
pub fn quorum(rf: usize) -> usize {
    rf / 2 + 1
}

/// One replica of a token as the coordinator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// Its address.
    pub addr: IpAddr,
    /// Its data centre.
    pub dc: String,
    /// Whether the failure detector thinks it is up.
    pub alive: bool,
}

/// How many answers a request at a level needs, for one token's replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The level.
    pub consistency: Consistency,
    /// Answers needed in total (for EACH_QUORUM, the sum over DCs).
    pub block_for: usize,
    /// For EACH_QUORUM: answers needed per DC.
    pub per_dc: BTreeMap<String, usize>,
    /// For LOCAL_*: the only DC whose answers count.
    pub local_dc: Option<String>,
}

impl Requirement {
    /// What `cl` needs of `replicas` (every replica of the token, alive or not), for a
    /// coordinator in `local_dc`.
    pub fn new(cl: Consistency, replicas: &[Replica], local_dc: &str) -> Requirement {
        let rf = replicas.len();
        let mut rf_by_dc: BTreeMap<String, usize> = BTreeMap::new();
        for r in replicas {
            *rf_by_dc.entry(r.dc.clone()).or_default() += 1;
        }
        let local_rf = rf_by_dc.get(local_dc).copied().unwrap_or(0);
        let mut per_dc = BTreeMap::new();
        let block_for = match cl {
            Consistency::Any | Consistency::One | Consistency::LocalOne => 1,
            Consistency::Two => 2,
            Consistency::Three => 3,
            Consistency::Quorum => quorum(rf),
            Consistency::All => rf,
            Consistency::LocalQuorum => quorum(local_rf),
            Consistency::EachQuorum => {
                per_dc = rf_by_dc.iter().map(|(dc, n)| (dc.clone(), quorum(*n))).collect();
                per_dc.values().sum()
            }
        };
        let local_dc = cl.is_local().then(|| local_dc.to_string());
        Requirement { consistency: cl, block_for, per_dc, local_dc }
    }

    /// Whether an answer from a replica in `dc` counts.
    pub fn counts(&self, dc: &str) -> bool {
        self.local_dc.as_deref().is_none_or(|l| l == dc)
    }

    /// Whether the answers so far (the DCs of the replicas that answered) are enough.
    pub fn met_by<'a>(&self, answered: impl IntoIterator<Item = &'a str>) -> bool {
        let mut total = 0;
        let mut by_dc: BTreeMap<&str, usize> = BTreeMap::new();
        for dc in answered {
            if self.counts(dc) {
                total += 1;
                *by_dc.entry(dc).or_default() += 1;
            }
        }
        total >= self.block_for && self.per_dc.iter().all(|(dc, n)| by_dc.get(dc.as_str()).copied().unwrap_or(0) >= *n)
    }

    /// Unavailable when the live replicas cannot meet the level (checked before anything is
    /// sent, as Cassandra's `assureSufficientLiveReplicas` does). ANY needs no live replica: the
    /// coordinator keeps a hint.
    pub fn check_alive(&self, replicas: &[Replica]) -> Result<(), Failure> {
        if self.consistency == Consistency::Any {
            return Ok(());
        }
        let alive: Vec<&str> = replicas.iter().filter(|r| r.alive).map(|r| r.dc.as_str()).collect();
        if let Some((dc, need)) =
            self.per_dc.iter().find(|(dc, n)| alive.iter().filter(|a| **a == dc.as_str()).count() < **n)
        {
            let have = alive.iter().filter(|a| **a == dc.as_str()).count();
            return Err(unavailable(self.consistency, *need, have));
        }
        let have = alive.iter().filter(|dc| self.counts(dc)).count();
        if have < self.block_for {
            return Err(unavailable(self.consistency, self.block_for, have));
        }
        Ok(())
    }
}

/// Unavailable (0x1000): `<consistency><required><alive>`.
pub fn unavailable(cl: Consistency, required: usize, alive: usize) -> Failure {
    let mut w = Writer::default();
    w.short(cl.code()).int(required as i32).int(alive as i32);
    Failure {
        code: code::UNAVAILABLE,
        message: format!(
            "Cannot achieve consistency level {} (required {required} replicas, {alive} alive)",
            cl.name()
        ),
        extra: w.buf,
    }
}

/// What a timed-out write was (the protocol's `writeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteType {
    /// A single-partition write.
    Simple,
    /// A logged batch.
    Batch,
    /// An unlogged batch.
    UnloggedBatch,
}

impl WriteType {
    fn name(self) -> &'static str {
        match self {
            WriteType::Simple => "SIMPLE",
            WriteType::Batch => "BATCH",
            WriteType::UnloggedBatch => "UNLOGGED_BATCH",
        }
    }
}

/// Write timeout (0x1100): `<consistency><received><blockfor><writeType>`.
pub fn write_timeout(cl: Consistency, received: usize, block_for: usize, kind: WriteType) -> Failure {
    let mut w = Writer::default();
    w.short(cl.code()).int(received as i32).int(block_for as i32).string(kind.name());
    Failure {
        code: WRITE_TIMEOUT,
        message: format!(
            "Operation timed out - received only {received} responses (needed {block_for} at {})",
            cl.name()
        ),
        extra: w.buf,
    }
}

/// Read timeout (0x1200): `<consistency><received><blockfor><data_present>`.
pub fn read_timeout(cl: Consistency, received: usize, block_for: usize, data_present: bool) -> Failure {
    let mut w = Writer::default();
    w.short(cl.code()).int(received as i32).int(block_for as i32);
    w.buf.push(u8::from(data_present));
    Failure {
        code: READ_TIMEOUT,
        message: format!(
            "Operation timed out - received only {received} responses (needed {block_for} at {})",
            cl.name()
        ),
        extra: w.buf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicas(spec: &[(&str, bool)]) -> Vec<Replica> {
        spec.iter()
            .enumerate()
            .map(|(i, (dc, alive))| Replica {
                addr: IpAddr::from([127, 0, 0, i as u8 + 1]),
                dc: dc.to_string(),
                alive: *alive,
            })
            .collect()
    }

    #[test]
    fn levels_need_what_cassandra_needs() {
        let r = replicas(&[("dc1", true), ("dc1", true), ("dc1", true), ("dc2", true), ("dc2", true), ("dc2", true)]);
        let need = |cl| Requirement::new(cl, &r, "dc1").block_for;
        assert_eq!(need(Consistency::One), 1);
        assert_eq!(need(Consistency::Quorum), 4);
        assert_eq!(need(Consistency::All), 6);
        assert_eq!(need(Consistency::LocalQuorum), 2);
        assert_eq!(need(Consistency::EachQuorum), 4);
        let each = Requirement::new(Consistency::EachQuorum, &r, "dc1");
        assert!(!each.met_by(["dc1", "dc1", "dc1", "dc2"]), "one DC short of its quorum");
        assert!(each.met_by(["dc1", "dc1", "dc2", "dc2"]));
        let local = Requirement::new(Consistency::LocalQuorum, &r, "dc1");
        assert!(!local.met_by(["dc2", "dc2", "dc2", "dc1"]), "other DCs' answers do not count");
        assert!(local.met_by(["dc2", "dc1", "dc1"]));
    }

    #[test]
    fn unavailable_names_required_and_alive() {
        let r = replicas(&[("dc1", true), ("dc1", false), ("dc1", true)]);
        assert!(Requirement::new(Consistency::Quorum, &r, "dc1").check_alive(&r).is_ok());
        let e = Requirement::new(Consistency::All, &r, "dc1").check_alive(&r).expect_err("one down");
        assert_eq!(e.code, code::UNAVAILABLE);
        assert_eq!(e.extra, [0, 5, 0, 0, 0, 3, 0, 0, 0, 2], "consistency ALL, required 3, alive 2");
        let dcs = replicas(&[("dc1", true), ("dc1", true), ("dc2", false), ("dc2", false)]);
        assert!(Requirement::new(Consistency::LocalQuorum, &dcs, "dc1").check_alive(&dcs).is_ok());
        let e = Requirement::new(Consistency::EachQuorum, &dcs, "dc1").check_alive(&dcs).expect_err("dc2 down");
        assert_eq!(e.extra, [0, 7, 0, 0, 0, 2, 0, 0, 0, 0]);
        assert!(Requirement::new(Consistency::Any, &dcs, "dc1").check_alive(&replicas(&[("dc1", false)])).is_ok());
    }

    #[test]
    fn serial_levels_are_refused_by_name() {
        let e = Consistency::from_code(0x0008).expect_err("serial");
        assert!(e.message.contains("SERIAL"), "{}", e.message);
        assert_eq!(Consistency::from_code(0x000A).expect("local one"), Consistency::LocalOne);
    }

    #[test]
    fn timeouts_carry_their_fields() {
        let e = write_timeout(Consistency::Quorum, 1, 2, WriteType::Simple);
        assert_eq!(e.code, WRITE_TIMEOUT);
        assert_eq!(e.extra, [0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 6, b'S', b'I', b'M', b'P', b'L', b'E']);
        let e = read_timeout(Consistency::One, 0, 1, false);
        assert_eq!(e.extra, [0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    }
}
