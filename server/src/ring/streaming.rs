//! Streaming whole token ranges between nodes: how a node joining a ring gets the data of the
//! ranges it takes over (bootstrap: it announces itself joining, `UJ`, while the others already
//! send it the writes of its future ranges; it pulls each range from a current replica, and only
//! then turns normal, `UN`, and serves reads), how a node leaving hands its ranges to their new
//! replicas (decommission), and how a node drops what it no longer replicates (cleanup) —
//! Cassandra's `dht/BootStrapper`, `StorageService.decommission` and `nodetool cleanup`.
//!
//! A stream request ([`crate::ring::messaging::Verb::StreamRequest`]) asks a node for one page of
//! a table's partitions in one token range:
//!
//! ```text
//! request  := [16 table id] [i64 start, exclusive] [i64 end, inclusive]
//!             [u8 0 | 1 [i64 token] [u32 length] key]   (resume after this partition)
//!             [u32 partitions per page]
//! response := [u8 1: the range is done | 0: more follow] [u32 n] mutation*   (storage::mutation)
//! ```
//!
//! A range is never wrapping on the wire: `(start, end]` with `start >= end` is asked as
//! `(start, i64::MAX]` and `(i64::MIN, end]` (Murmur3 gives no key the token `i64::MIN`).
//! Streamed partitions are applied as writes (commit log, then memtable), so a streamed range is
//! as durable as any write, and streaming a partition twice is harmless.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use cairn_format::partitioner::{Token, murmur3_token};

use super::gossip::{AppState, status};
use super::messaging::{Frame, Verb};
use super::tokens::TokenRange;
use crate::node::Shared;
use crate::protocol::{Failure, invalid};
use crate::storage::mutation::{self, Mutation};
use crate::storage::table::Place;

/// Partitions per stream page.
const PAGE: u32 = 256;

/// `(start, end]` as ranges that do not wrap.
pub(crate) fn unwrapped(r: TokenRange) -> Vec<(i64, i64)> {
    if r.start < r.end { vec![(r.start, r.end)] } else { vec![(r.start, i64::MAX), (i64::MIN, r.end)] }
}

fn request(table: &[u8; 16], start: i64, end: i64, after: Option<&Place>) -> Vec<u8> {
    let mut b = table.to_vec();
    b.extend_from_slice(&start.to_be_bytes());
    b.extend_from_slice(&end.to_be_bytes());
    crate::coordinator::replica::put_after(&mut b, after);
    b.extend_from_slice(&PAGE.to_be_bytes());
    b
}

/// Answer a stream request from this node's data.
pub(crate) fn answer(shared: &Shared, payload: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut r = crate::coordinator::replica::Cursor(payload);
    let id = r.id()?;
    let (start, end) = (r.i64()?, r.i64()?);
    // From the start: every partition with a token above `start`.
    let after = r.after()?.unwrap_or((Token::Murmur3(start), Vec::new()));
    let n = r.u32()? as usize;
    let cat = shared.catalog_read()?;
    let t = cat.table_by_id(&id).ok_or_else(|| invalid("a stream request for a table this node does not have"))?;
    let page = t.lock()?.partitions_after(Some(&after), n.max(1))?;
    let mut done = page.len() < n.max(1);
    let mut ms = Vec::new();
    for ((token, _), partition) in page {
        let Token::Murmur3(token) = token else { continue };
        if token > end {
            done = true;
            break;
        }
        if token > start {
            ms.push(Mutation { table_id: id, partition });
        }
    }
    let mut out = vec![u8::from(done)];
    mutation::encode_all(&ms, &mut out);
    Ok(out)
}

/// Every page of a table's partitions in `(start, end]` (not wrapping) on `from`, handed to
/// `each` in ring order.
pub(crate) fn pages(
    cluster: &super::cluster::Cluster,
    from: SocketAddr,
    table: [u8; 16],
    (start, end): (i64, i64),
    each: &mut dyn FnMut(Vec<Mutation>) -> Result<(), String>,
) -> Result<(), String> {
    let mut after: Option<Place> = None;
    loop {
        let frame = Frame::request(Verb::StreamRequest, request(&table, start, end, after.as_ref()));
        let reply = cluster.messenger.request(from, frame, Duration::from_secs(30)).map_err(|e| e.to_string())?;
        let (&done, rest) = reply.payload.split_first().ok_or("an empty stream answer")?;
        let ms = mutation::decode_all(rest).map_err(|e| e.to_string())?;
        if let Some(last) = ms.last() {
            let key = last.partition.key.clone();
            after = Some((Token::Murmur3(murmur3_token(&key)), key));
        }
        let empty = ms.is_empty();
        if !empty {
            each(ms)?;
        }
        if done == 1 || empty {
            return Ok(());
        }
    }
}

/// Pull one range of a table from `from` and apply it here; returns the partitions received.
fn fetch(shared: &Shared, table: [u8; 16], range: TokenRange, from: SocketAddr) -> Result<u64, String> {
    let Some(cluster) = &shared.cluster else { return Err("not in a ring".into()) };
    let mut received = 0;
    for part in unwrapped(range) {
        pages(cluster, from, table, part, &mut |ms| {
            received += ms.len() as u64;
            let cat = shared.catalog_read().map_err(|f| f.message)?;
            crate::execute::write_local(shared, &cat, ms).map(|_| ()).map_err(|f| f.message)
        })?;
    }
    Ok(received)
}

/// A table to stream: its keyspace, id and the keyspace's replication options.
type Streamed = (String, [u8; 16], Vec<(String, String)>);

/// Every user table.
fn tables(shared: &Shared) -> Result<Vec<Streamed>, String> {
    let cat = shared.catalog_read().map_err(|f| f.message)?;
    Ok(cat
        .keyspaces
        .iter()
        .flat_map(|(ks, k)| k.tables.values().map(move |t| (ks.clone(), t.id, k.replication.clone())))
        .collect())
}

/// Wait until `cond` holds, polling, for at most `limit`.
fn wait(limit: Duration, what: &str, cond: &mut dyn FnMut() -> bool) -> Result<(), String> {
    let t = Instant::now();
    while !cond() {
        if t.elapsed() > limit {
            return Err(format!("timed out after {}s waiting for {what}", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Bootstrap: this node is gossiping as joining (`BOOT`). Learn the ring and its schema, let the
/// others learn this node is joining, pull every range it will replicate from a current replica,
/// then turn normal.
pub(crate) fn bootstrap(shared: &Shared) -> Result<u64, String> {
    let Some(cluster) = &shared.cluster else { return Ok(0) };
    let interval = cluster.config.gossip_interval;
    wait(Duration::from_secs(30), "a normal member of the ring", &mut || {
        let v = cluster.view();
        v.tokens.is_some() && v.peers.values().any(|p| p.alive && p.storage != cluster.config.storage)
    })?;
    // The schema first: the tables to stream.
    let view = cluster.view();
    let source = view
        .peers
        .values()
        .find(|p| {
            p.alive && p.storage != cluster.config.storage && super::gossip::status_kind(&p.status) == status::NORMAL
        })
        .map(|p| p.storage)
        .ok_or("no normal member to take the schema from")?;
    let schema = cluster
        .messenger
        .request(source, Frame::request(Verb::SchemaPull, vec![]), Duration::from_secs(10))
        .map_err(|e| format!("pulling the schema from {source}: {e}"))?;
    let text = String::from_utf8(schema.payload).map_err(|_| "a schema that is not UTF-8")?;
    crate::catalog::adopt_schema(shared, &text).map_err(|f| f.message)?;
    // A ring without tables has nothing to stream and nothing to miss.
    if tables(shared)?.is_empty() {
        cluster.set_status(status::NORMAL);
        return Ok(0);
    }
    // Let every member learn that this node is joining, so they send it the writes of its
    // future ranges from now on (Cassandra waits RING_DELAY for the same reason).
    std::thread::sleep(interval * 8);
    let me = view.me;
    let mut received = 0;
    for (ks, id, replication) in tables(shared)? {
        let view = cluster.view();
        let (Some(now), Some(future)) = (&view.tokens, &view.future) else {
            return Err("the ring does not show this node joining".into());
        };
        let r = view.replication(&replication).map_err(|f| f.message)?;
        for range in future.ranges_for(me, &r) {
            let from = now
                .replicas(range.end, &r)
                .into_iter()
                .filter(|a| *a != me)
                .find_map(|a| view.peers.get(&a).filter(|p| p.alive).map(|p| p.storage))
                .ok_or_else(|| format!("{ks}: no live replica of range ({}, {}]", range.start, range.end))?;
            received += fetch(shared, id, range, from).map_err(|e| format!("{ks}: streaming from {from}: {e}"))?;
        }
    }
    cluster.set_status(status::NORMAL);
    Ok(received)
}

/// Decommission: announce leaving, push every range this node replicates to the nodes that
/// replicate it once this node is gone, then announce it left.
pub(crate) fn decommission(shared: &Shared) -> Result<String, String> {
    let Some(cluster) = &shared.cluster else { return Err("this node is standalone".into()) };
    cluster.set_status(status::LEAVING);
    std::thread::sleep(cluster.config.gossip_interval * 8);
    let me = cluster.view().me;
    let mut sent = 0u64;
    let mut to_nodes: Vec<IpAddr> = Vec::new();
    for (ks, id, replication) in tables(shared)? {
        let view = cluster.view();
        let (Some(now), Some(future)) = (&view.tokens, &view.future) else {
            return Err("the ring does not show this node leaving".into());
        };
        let r = view.replication(&replication).map_err(|f| f.message)?;
        for range in now.ranges_for(me, &r) {
            let before = now.replicas(range.end, &r);
            for target in future.replicas(range.end, &r).into_iter().filter(|a| !before.contains(a)) {
                let to = view.storage(target).ok_or_else(|| format!("{target} is not a member"))?;
                sent += push(shared, id, range, to).map_err(|e| format!("{ks}: streaming to {to}: {e}"))?;
                if !to_nodes.contains(&target) {
                    to_nodes.push(target);
                }
            }
        }
    }
    cluster.set_status(status::LEFT);
    cluster.announce();
    let to: Vec<String> = to_nodes.iter().map(IpAddr::to_string).collect();
    Ok(format!("decommissioned: streamed {sent} partition(s) to {}; this node has left the ring\n", to.join(", ")))
}

/// Removenode: the member with `host_id` is dead; each range it replicated gets a new replica
/// (the ring without it), streamed from a live replica that already had it; then every live
/// member forgets it.
pub(crate) fn removenode(shared: &Shared, host_id: &str) -> Result<String, String> {
    let Some(cluster) = &shared.cluster else { return Err("this node is standalone".into()) };
    let view = cluster.view();
    let wanted = host_id.replace('-', "").to_ascii_lowercase();
    let (&dead, peer) = view
        .peers
        .iter()
        .find(|(_, p)| p.host_id.is_some_and(|h| cairn_format::types::render::hex(&h) == wanted))
        .ok_or_else(|| format!("no member with host id {host_id}"))?;
    if peer.alive {
        return Err(format!("{dead} is up: decommission it instead"));
    }
    let dead_storage = peer.storage;
    let Some(now) = &view.tokens else { return Err("the ring is not known yet".into()) };
    let members: Vec<super::tokens::Member> = now.members().iter().filter(|m| m.addr != dead).cloned().collect();
    let after = super::tokens::TokenMap::new(members, view.me).map_err(|e| e.to_string())?;
    let mut streamed = 0u64;
    for (ks, id, replication) in tables(shared)? {
        let r = view.replication(&replication).map_err(|f| f.message)?;
        for range in now.ranges_for(dead, &r) {
            let before = now.replicas(range.end, &r);
            let source = before
                .iter()
                .filter(|a| **a != dead)
                .find_map(|a| view.peers.get(a).filter(|p| p.alive).map(|p| p.storage))
                .ok_or_else(|| format!("{ks}: no live replica of range ({}, {}]", range.start, range.end))?;
            for target in after.replicas(range.end, &r).into_iter().filter(|a| !before.contains(a)) {
                let to = view.storage(target).ok_or_else(|| format!("{target} is not a member"))?;
                // The target pulls from the source: pages from one, applied on the other.
                for part in unwrapped(range) {
                    pages(cluster, source, id, part, &mut |ms| {
                        streamed += ms.len() as u64;
                        let mut payload = Vec::new();
                        mutation::encode_all(&ms, &mut payload);
                        cluster
                            .messenger
                            .request(to, Frame::request(Verb::Mutation, payload), Duration::from_secs(30))
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    })?;
                }
            }
        }
    }
    let payload = dead_storage.to_string().into_bytes();
    for p in view.peers.values().filter(|p| p.alive && p.storage != cluster.config.storage) {
        cluster
            .messenger
            .request(p.storage, Frame::request(Verb::RemoveNode, payload.clone()), Duration::from_secs(10))
            .map_err(|e| format!("telling {} to forget {dead}: {e}", p.storage))?;
    }
    cluster.forget(dead_storage);
    Ok(format!("removed {dead}: streamed {streamed} partition(s) to the replicas that took over its ranges\n"))
}

/// Send this node's partitions of `range` to `to`, a page at a time.
fn push(shared: &Shared, table: [u8; 16], range: TokenRange, to: SocketAddr) -> Result<u64, String> {
    let Some(cluster) = &shared.cluster else { return Err("not in a ring".into()) };
    let mut sent = 0;
    for (start, end) in unwrapped(range) {
        let mut after: Option<Place> = None;
        loop {
            let page = answer(shared, &request(&table, start, end, after.as_ref())).map_err(|f| f.message)?;
            let (&done, rest) = page.split_first().ok_or("an empty page")?;
            let ms = mutation::decode_all(rest).map_err(|e| e.to_string())?;
            if let Some(last) = ms.last() {
                let key = last.partition.key.clone();
                after = Some((Token::Murmur3(murmur3_token(&key)), key));
            }
            if !ms.is_empty() {
                sent += ms.len() as u64;
                let mut payload = Vec::new();
                mutation::encode_all(&ms, &mut payload);
                cluster
                    .messenger
                    .request(to, Frame::request(Verb::Mutation, payload), Duration::from_secs(30))
                    .map_err(|e| e.to_string())?;
            }
            if done == 1 || after.is_none() {
                break;
            }
        }
    }
    Ok(sent)
}

/// Cleanup: drop from this node's tables (of `keyspace`, `table` when given) the partitions it
/// no longer replicates.
pub(crate) fn cleanup(shared: &Shared, keyspace: Option<&str>, table: Option<&str>) -> Result<String, String> {
    let Some(cluster) = &shared.cluster else { return Err("this node is standalone: it replicates everything".into()) };
    let view = cluster.view();
    let Some(now) = &view.tokens else { return Err("the ring is not known yet".into()) };
    let cat = shared.catalog_read().map_err(|f| f.message)?;
    let mut out = String::new();
    for (ks, k) in &cat.keyspaces {
        if keyspace.is_some_and(|x| x != ks) {
            continue;
        }
        let r = view.replication(&k.replication).map_err(|f| f.message)?;
        let ranges: Vec<(i64, i64)> = now.ranges_for(view.me, &r).into_iter().map(|t| (t.start, t.end)).collect();
        for (name, t) in &k.tables {
            if table.is_some_and(|x| x != name) {
                continue;
            }
            let mut d = t.lock().map_err(|f| f.message)?;
            let dropped = t.cleanup(&mut d, ranges.clone()).map_err(|e| e.to_string())?;
            out.push_str(&format!("{ks}.{name}: dropped {dropped} partition(s) this node no longer replicates\n"));
        }
    }
    Ok(out)
}

impl super::cluster::Cluster {
    /// Gossip a new status.
    pub(crate) fn set_status(&self, value: &str) {
        self.set_local(AppState::Status, value);
    }
}
