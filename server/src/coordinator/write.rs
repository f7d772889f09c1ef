//! Writes in a ring: each mutation goes to every live replica of its partition (this node's
//! share applied here, the others sent as [`Verb::Mutation`]), and the client is answered once
//! every mutation has as many acknowledgements as its consistency level asks — or gets
//! Unavailable before anything is sent when too few replicas are alive, or WriteTimeout when too
//! few answer within `write_request_timeout` (Cassandra's `StorageProxy.mutate` and
//! `AbstractWriteResponseHandler`).
//!
//! A replica that is down, refuses the write or does not answer gets the write as a hint
//! ([`crate::hints`]), replayed when gossip sees it up again. At ANY, a hint counts as the one
//! acknowledgement the level needs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use super::consistency::{Consistency, Replica, Requirement, WriteType, write_timeout};
use crate::catalog::Catalog;
use crate::node::Shared;
use crate::protocol::{Failure, code};
use crate::ring::cluster::Cluster;
use crate::ring::messaging::{Frame, Verb};
use crate::storage::mutation::{self, Mutation};

/// Where a mutation goes: its replicas and what its level needs of them, and the replicas it
/// will have once joining or leaving nodes are done (sent to as well, not counted).
pub(crate) struct Placement {
    pub(crate) replicas: Vec<Replica>,
    pub(crate) requirement: Requirement,
    pub(crate) pending: Vec<Replica>,
}

/// The replicas of the partition a mutation writes, and what `cl` needs of them; Unavailable
/// when the live ones cannot meet it.
pub(crate) fn place(cluster: &Cluster, cat: &Catalog, m: &Mutation, cl: Consistency) -> Result<Placement, Failure> {
    let view = cluster.view();
    let t = cat.table_by_id(&m.table_id).ok_or_else(|| Failure {
        code: code::INVALID,
        message: format!("no table with id {}", cairn_format::types::render::hex(&m.table_id)),
        extra: vec![],
    })?;
    let ks = cat.keyspaces.get(&t.schema.keyspace).ok_or_else(|| Failure {
        code: code::INVALID,
        message: format!("keyspace {} does not exist", t.schema.keyspace),
        extra: vec![],
    })?;
    let replication = view.replication(&ks.replication)?;
    let replicas = view.replicas(m.token(), &replication);
    let requirement = Requirement::new(cl, &replicas, &cluster.config.dc);
    requirement.check_alive(&replicas)?;
    let pending = view.pending(m.token(), &replication);
    Ok(Placement { replicas, requirement, pending })
}

/// Write `mutations` at `cl`; returns this node's commit-log position when it holds a share
/// (for batch sync).
pub(crate) fn write(
    shared: &Shared,
    cluster: &Cluster,
    cat: &Catalog,
    mutations: Vec<Mutation>,
    cl: Consistency,
    kind: WriteType,
) -> Result<Option<u64>, Failure> {
    let placements: Vec<Placement> = mutations.iter().map(|m| place(cluster, cat, m, cl)).collect::<Result<_, _>>()?;
    let me = cluster.view().me;
    // Each live replica's share of the mutations.
    let mut shares: BTreeMap<IpAddr, Vec<usize>> = BTreeMap::new();
    for (i, p) in placements.iter().enumerate() {
        for r in p.replicas.iter().chain(&p.pending).filter(|r| r.alive) {
            shares.entry(r.addr).or_default().push(i);
        }
    }
    // The replicas that are down get hints now.
    let mut down: BTreeMap<IpAddr, Vec<usize>> = BTreeMap::new();
    for (i, p) in placements.iter().enumerate() {
        for r in p.replicas.iter().chain(&p.pending).filter(|r| !r.alive) {
            down.entry(r.addr).or_default().push(i);
        }
    }
    let mut hinted = vec![false; mutations.len()];
    for (addr, idx) in &down {
        let ms: Vec<Mutation> = idx.iter().map(|i| mutations[*i].clone()).collect();
        if cluster.hint(*addr, &ms) {
            for i in idx {
                hinted[*i] = true;
            }
        }
    }
    let (tx, rx) = mpsc::channel::<(IpAddr, bool)>();
    let view = cluster.view();
    let mut sent = 0;
    for (addr, idx) in &shares {
        if *addr == me {
            continue;
        }
        let Some(to) = view.storage(*addr) else { continue };
        let ms: Vec<Mutation> = idx.iter().map(|i| mutations[*i].clone()).collect();
        let mut payload = Vec::new();
        mutation::encode_all(&ms, &mut payload);
        let messenger = Arc::clone(&cluster.messenger);
        let (tx, addr, timeout) = (tx.clone(), *addr, cluster.config.write_timeout);
        // A failed send leaves a hint, even after the client was answered.
        let hint_to = view.peers.get(&addr).and_then(|p| p.host_id).filter(|_| cluster.config.hinted_handoff);
        let hints = Arc::clone(&cluster.hints);
        cluster.senders.run(move || {
            let ok = match messenger.request(to, Frame::request(Verb::Mutation, payload), timeout) {
                Ok(_) => true,
                Err(e) => {
                    crate::log!("cairn node: a write to replica {to}: {e}");
                    if let Some(host) = hint_to
                        && let Err(e) = hints.store(&cairn_format::types::render::hex(&host), &ms)
                    {
                        crate::log!("cairn node: keeping a hint for {to}: {e}");
                    }
                    false
                }
            };
            let _ = tx.send((addr, ok));
        });
        sent += 1;
    }
    drop(tx);
    let mut acked: Vec<Vec<String>> = vec![Vec::new(); mutations.len()];
    let dc_of = |addr: IpAddr| view.peers.get(&addr).map_or_else(String::new, |p| p.dc.clone());
    let mut position = None;
    if let Some(idx) = shares.get(&me) {
        let ms: Vec<Mutation> = idx.iter().map(|i| mutations[*i].clone()).collect();
        position = crate::execute::write_local(shared, cat, ms)?;
        for i in idx {
            if placements[*i].replicas.iter().any(|r| r.addr == me) {
                acked[*i].push(dc_of(me));
            }
        }
    }
    // At ANY a hint is an acknowledgement.
    if cl == Consistency::Any {
        for (i, h) in hinted.iter().enumerate() {
            if *h && acked[i].is_empty() {
                acked[i].push(cluster.config.dc.clone());
            }
        }
    }
    let met = |acked: &Vec<Vec<String>>| {
        placements.iter().zip(acked).all(|(p, a)| p.requirement.met_by(a.iter().map(String::as_str)))
    };
    let deadline = Instant::now() + cluster.config.write_timeout;
    let mut answered = 0;
    while !met(&acked) && answered < sent {
        // (Answers still on their way when the level is met are counted by nobody; a failed one
        // has left its hint.)
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((addr, ok)) => {
                answered += 1;
                let any_hinted = cl == Consistency::Any && !ok;
                if (ok || any_hinted)
                    && let Some(idx) = shares.get(&addr)
                {
                    for i in idx {
                        acked[*i].push(dc_of(addr));
                    }
                }
            }
            Err(_) => break,
        }
    }
    if let Some((p, a)) =
        placements.iter().zip(&acked).find(|(p, a)| !p.requirement.met_by(a.iter().map(String::as_str)))
    {
        let received = a.iter().filter(|dc| p.requirement.counts(dc)).count();
        return Err(write_timeout(cl, received, p.requirement.block_for, kind));
    }
    Ok(position)
}
