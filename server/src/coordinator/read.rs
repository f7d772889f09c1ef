//! Reads in a ring. A read of named partitions asks as many live replicas of each as the
//! consistency level needs (this node first when it is one), reconciles their answers with the
//! format crate's rules, and — when a replica's answer differs from the reconciled partition —
//! writes the reconciled partition back to that replica before answering (blocking read
//! repair, as Cassandra 4.0). A scan asks every live node for the next partitions in ring order
//! and merges them, after checking that every token range has enough live replicas for the
//! level.
//!
//! Each contacted replica sends its data (Cassandra sends data from one and digests from the
//! others; here the partitions are small and the ring is on loopback, and a digest would save
//! only bytes).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use cairn_format::partition::Partition;
use cairn_format::partitioner::{Token, murmur3_token};

use super::consistency::{Consistency, Replica, Requirement, read_timeout};
use crate::catalog::Catalog;
use crate::node::Shared;
use crate::protocol::{Failure, code};
use crate::ring::cluster::{Cluster, View};
use crate::ring::messaging::{Frame, Verb};
use crate::ring::tokens::Replication;
use crate::storage::mutation::{self, Mutation};
use crate::storage::table::{PartitionSource, Place, Table};

/// A replica's answer: its partitions, or why there are none.
type Answer = (IpAddr, Result<Vec<Mutation>, String>);

/// How long a read waits for the replicas it asked first before asking the others too.
const SPECULATE_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// A table's partitions as the ring holds them, read at a consistency level.
pub(crate) struct RingSource<'a> {
    shared: &'a Shared,
    cluster: &'a Cluster,
    table: &'a Table,
    cl: Consistency,
    replication: Replication,
    view: Arc<View>,
}

impl<'a> RingSource<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        cluster: &'a Cluster,
        cat: &Catalog,
        table: &'a Table,
        cl: Consistency,
    ) -> Result<RingSource<'a>, Failure> {
        let view = cluster.view();
        let ks = cat.keyspaces.get(&table.schema.keyspace).ok_or_else(|| Failure {
            code: code::INVALID,
            message: format!("keyspace {} does not exist", table.schema.keyspace),
            extra: vec![],
        })?;
        let replication = view.replication(&ks.replication)?;
        Ok(RingSource { shared, cluster, table, cl, replication, view })
    }

    /// The live replicas of `token` whose answers count for the level, this node first, and
    /// what the level needs; Unavailable when too few are alive.
    fn targets(&self, token: i64) -> Result<(Vec<Replica>, Requirement), Failure> {
        let replicas = self.view.replicas(token, &self.replication);
        let req = Requirement::new(self.cl, &replicas, &self.cluster.config.dc);
        req.check_alive(&replicas)?;
        let mut alive: Vec<Replica> = replicas.into_iter().filter(|r| r.alive && req.counts(&r.dc)).collect();
        alive.sort_by_key(|r| r.addr != self.view.me);
        Ok((alive, req))
    }

    /// Ask `first` (a request payload each), in parallel — this node answers from its own data
    /// — until `enough` holds of the answers so far; when it does not once they have all
    /// answered, or after [`SPECULATE_AFTER`], ask `more` too (Cassandra's speculative retry). At
    /// most `read_request_timeout` in all.
    fn ask(
        &self,
        verb: Verb,
        first: &[(IpAddr, Vec<u8>)],
        more: &[(IpAddr, Vec<u8>)],
        enough: &dyn Fn(&[Answer]) -> bool,
    ) -> Vec<Answer> {
        let (tx, rx) = mpsc::channel();
        let mut out = Vec::new();
        let mut pending = 0;
        let send = |targets: &[(IpAddr, Vec<u8>)], out: &mut Vec<Answer>, pending: &mut usize| {
            for (addr, payload) in targets {
                if *addr == self.view.me {
                    let answer = super::replica::answer(self.shared, verb, payload).map_err(|f| f.message);
                    out.push((*addr, answer.and_then(|b| mutation::decode_all(&b).map_err(|e| e.to_string()))));
                    continue;
                }
                let Some(to) = self.view.storage(*addr) else { continue };
                let messenger = Arc::clone(&self.cluster.messenger);
                let (tx, addr, payload, timeout) =
                    (tx.clone(), *addr, payload.clone(), self.cluster.config.read_timeout);
                self.cluster.senders.run(move || {
                    let answer = messenger
                        .request(to, Frame::request(verb, payload), timeout)
                        .map_err(|e| e.to_string())
                        .and_then(|f| mutation::decode_all(&f.payload).map_err(|e| e.to_string()));
                    let _ = tx.send((addr, answer));
                });
                *pending += 1;
            }
        };
        send(first, &mut out, &mut pending);
        let start = Instant::now();
        let deadline = start + self.cluster.config.read_timeout;
        let mut more_sent = more.is_empty();
        loop {
            if enough(&out) {
                break;
            }
            if !more_sent && (pending == 0 || start.elapsed() >= SPECULATE_AFTER) {
                send(more, &mut out, &mut pending);
                more_sent = true;
                continue;
            }
            if pending == 0 {
                break;
            }
            let wait_until = if more_sent { deadline } else { (start + SPECULATE_AFTER).min(deadline) };
            match rx.recv_timeout(wait_until.saturating_duration_since(Instant::now())) {
                Ok(a) => {
                    out.push(a);
                    pending -= 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) if !more_sent => {}
                Err(_) => break,
            }
        }
        out
    }

    /// Write `p` back to the replicas at `stale` (blocking read repair).
    fn repair(&self, p: &Partition, stale: &[IpAddr]) {
        let m = Mutation { table_id: self.table.id, partition: p.clone() };
        let mut payload = Vec::new();
        mutation::encode_all(std::slice::from_ref(&m), &mut payload);
        let targets: Vec<(IpAddr, Vec<u8>)> = stale.iter().map(|a| (*a, payload.clone())).collect();
        for (addr, result) in self.ask(Verb::Mutation, &targets, &[], &|_| false) {
            if let Err(e) = result {
                crate::log!("cairn node: read repair of replica {addr}: {e}");
            }
        }
    }
}

/// `[16 table id][u32 n] ([u32 length] key)*`
fn read_request(table: &[u8; 16], keys: &[&[u8]]) -> Vec<u8> {
    let mut b = table.to_vec();
    b.extend_from_slice(&(keys.len() as u32).to_be_bytes());
    for k in keys {
        b.extend_from_slice(&(k.len() as u32).to_be_bytes());
        b.extend_from_slice(k);
    }
    b
}

/// `[16 table id][u8 0 | 1 [i64 token][u32 length] key][u32 n]`
pub(crate) fn range_request(table: &[u8; 16], after: Option<&Place>, n: usize) -> Vec<u8> {
    let mut b = table.to_vec();
    super::replica::put_after(&mut b, after);
    b.extend_from_slice(&(n.min(u32::MAX as usize) as u32).to_be_bytes());
    b
}

impl PartitionSource for RingSource<'_> {
    fn partitions(&self, keys: &[Place]) -> Result<Vec<Partition>, Failure> {
        let mut out = Vec::with_capacity(keys.len());
        for (_, key) in keys {
            let token = murmur3_token(key);
            let (targets, req) = self.targets(token)?;
            let payload = read_request(&self.table.id, &[key.as_slice()]);
            let asks: Vec<(IpAddr, Vec<u8>)> = targets.iter().map(|r| (r.addr, payload.clone())).collect();
            // First as many replicas as the level needs (all for EACH_QUORUM), then the others
            // if those fail or are slow.
            let split = if req.per_dc.is_empty() { req.block_for.max(1).min(asks.len()) } else { asks.len() };
            let (first, more) = asks.split_at(split);
            let dc_of = |a: &IpAddr| targets.iter().find(|r| r.addr == *a).map_or("", |r| r.dc.as_str());
            let enough =
                |answers: &[Answer]| req.met_by(answers.iter().filter(|(_, r)| r.is_ok()).map(|(a, _)| dc_of(a)));
            let mut answers: Vec<(IpAddr, Partition)> = Vec::new();
            for (addr, result) in self.ask(Verb::Read, first, more, &enough) {
                match result {
                    Ok(mut ms) if ms.len() == 1 => answers.push((addr, ms.remove(0).partition)),
                    Ok(ms) => crate::log!("cairn node: replica {addr} answered a one-partition read with {}", ms.len()),
                    Err(e) => crate::log!("cairn node: a read from replica {addr}: {e}"),
                }
            }
            if !req.met_by(answers.iter().map(|(a, _)| dc_of(a))) {
                let received = answers.iter().filter(|(a, _)| req.counts(dc_of(a))).count();
                return Err(read_timeout(self.cl, received, req.block_for, !answers.is_empty()));
            }
            let mut merged = Partition::new(key.clone());
            for (_, p) in &answers {
                mutation::merge(&mut merged, p.clone());
            }
            // Replicas are compared as repair compares them: by the hash of their content.
            let hash = |p: &Partition| crate::ring::repair::partition_hash(p, &self.table.header);
            let want = hash(&merged);
            let stale: Vec<IpAddr> = answers.iter().filter(|(_, p)| hash(p) != want).map(|(a, _)| *a).collect();
            if !stale.is_empty() {
                self.repair(&merged, &stale);
            }
            out.push(merged);
        }
        Ok(out)
    }

    fn partitions_after(&self, after: Option<&Place>, n: usize) -> Result<Vec<(Place, Partition)>, Failure> {
        // Every range must have enough live replicas for the level.
        if let Some(map) = &self.view.tokens {
            for (t, _) in map.ring() {
                self.targets(*t)?;
            }
        }
        let payload = range_request(&self.table.id, after, n);
        let asks: Vec<(IpAddr, Vec<u8>)> = self
            .view
            .peers
            .iter()
            .filter(|(a, p)| **a == self.view.me || p.alive)
            .map(|(a, _)| (*a, payload.clone()))
            .collect();
        let mut merged: BTreeMap<Place, Partition> = BTreeMap::new();
        let mut answered: Vec<IpAddr> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        for (addr, result) in self.ask(Verb::RangeRead, &asks, &[], &|_| false) {
            let ms = match result {
                Ok(ms) => ms,
                Err(e) => {
                    failures.push(format!("{addr}: {e}"));
                    continue;
                }
            };
            answered.push(addr);
            for m in ms {
                let place = (Token::Murmur3(murmur3_token(&m.partition.key)), m.partition.key.clone());
                match merged.get_mut(&place) {
                    Some(p) => mutation::merge(p, m.partition),
                    None => {
                        merged.insert(place, m.partition);
                    }
                }
            }
        }
        // A node that did not answer (down but not yet convicted) matters only when a range is
        // left without enough replicas that did.
        if let Some(map) = &self.view.tokens {
            for (t, _) in map.ring() {
                let replicas = self.view.replicas(*t, &self.replication);
                let req = Requirement::new(self.cl, &replicas, &self.cluster.config.dc);
                let dcs = replicas.iter().filter(|r| answered.contains(&r.addr)).map(|r| r.dc.as_str());
                if !req.met_by(dcs) {
                    let received = replicas.iter().filter(|r| answered.contains(&r.addr) && req.counts(&r.dc)).count();
                    let mut f = read_timeout(self.cl, received, req.block_for, received > 0);
                    f.message = format!("a range read reached too few replicas of token {t}: {}", failures.join("; "));
                    return Err(f);
                }
            }
        }
        Ok(merged.into_iter().take(n).collect())
    }
}
