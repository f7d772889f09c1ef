//! Online anti-entropy repair (`cairn admin repair [KS[.TABLE]] [--pr]`): for each token range
//! this node replicates (only its primary ranges with `--pr`), every live replica builds a
//! Merkle tree of its partitions in the range — memtable and SSTables merged, as Cassandra's
//! validation compaction reads them — and the coordinator compares the trees. For each leaf
//! whose hashes differ it reads the leaf's partitions from every replica, reconciles them, and
//! writes the reconciled partition to each replica that held something else (Cassandra streams
//! the differing ranges between replicas instead; reconciling first sends each replica only what
//! it lacks, and the result is the same).
//!
//! A validation request and its answer:
//!
//! ```text
//! request  := [16 table id] [i64 start, exclusive] [i64 end, inclusive] [u8 depth]
//! response := [u8 depth] [u64 partitions] [u32 n] ([u32 leaf] [16 hash])*   (non-empty leaves)
//! ```
//!
//! The tree spans the whole token space at the given depth (`format::merkle`); only partitions of
//! the range are added, so every leaf outside it is empty on every replica. Partitions are hashed
//! over their reconciled content ([`cairn_format::merkle::PartitionHasher`], the offline `cairn
//! repair`'s hash): the key, partition deletion, static row and rows in clustering order with
//! every marker, deletion and cell. Online, nothing is purged before hashing (replicas judge
//! gc_grace at slightly different moments; a tombstone one has purged is simply written back).
//!
//! A repair of a table is one session, as in Cassandra 3.x's full repair: first every replica
//! taking part flushes the table and remembers the SSTables it holds (`RepairPrepare`); then the
//! ranges are validated and synced; last (`RepairFinish`) each replica marks those SSTables
//! repaired — `repairedAt` in Statistics.db, the session's start in milliseconds — when every
//! partition they hold lies in ranges the session repaired on that replica. Compaction keeps
//! repaired and unrepaired SSTables apart (`compact`'s planner) and, with
//! `only_purge_repaired_tombstones`, purges only repaired tombstones.
//!
//! ```text
//! prepare  := [16 table id] [16 session id]                     → empty answer
//! finish   := [16 table id] [16 session id] [i64 repairedAt ms]
//!             [u32 n] ([i64 start, exclusive] [i64 end, inclusive])*   → [u64 SSTables marked]
//! ```
//!
//! Choices: this is a full repair (incremental repair is not implemented). SSTables are marked
//! as 3.x's full repair marks them (Cassandra 4.0 stopped marking after full repairs, leaving
//! that to incremental repair); an SSTable that also holds ranges the session did not repair is
//! not split by anticompaction but stays unrepaired, as one compacted since validation does. A
//! range with a replica down is skipped and reported, as Cassandra fails such a session, and
//! nothing a failed session validated is marked.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use cairn_format::merkle::{Hash, MerkleTree, PartitionHasher};
use cairn_format::partition::Partition;
use cairn_format::partitioner::{Token, murmur3_token};
use cairn_format::statistics::SerializationHeader;

use super::messaging::{Frame, Verb};
use super::tokens::TokenRange;
use crate::node::Shared;
use crate::protocol::{Failure, code, invalid};
use crate::storage::mutation::{self, Mutation};

/// The depth of the trees compared (4096 leaves a range).
const DEPTH: u8 = 12;

/// A partition's repair hash: what replicas are compared by, in repair and in read repair.
pub(crate) fn partition_hash(p: &Partition, header: &SerializationHeader) -> Hash {
    let mut h = PartitionHasher::new(&p.key, &p.deletion);
    if let Some(s) = p.static_unfiltered(header) {
        h.add(header, &s);
    }
    for u in p.unfiltereds(header) {
        h.add(header, &u);
    }
    h.finish()
}

/// This node's partitions of a table in `(start, end]` (not wrapping), every page of them.
fn local_partitions(shared: &Shared, table: [u8; 16], start: i64, end: i64) -> Result<Vec<Partition>, Failure> {
    let cat = shared.catalog_read()?;
    let t = cat.table_by_id(&table).ok_or_else(|| invalid("a table this node does not have"))?;
    let d = t.lock()?;
    let mut out = Vec::new();
    let mut after = (Token::Murmur3(start), Vec::new());
    loop {
        let page = d.partitions_after(Some(&after), 512)?;
        let last = page.len() < 512;
        for ((token, key), p) in page {
            let Token::Murmur3(t) = token else { continue };
            if t > end {
                return Ok(out);
            }
            after = (token, key);
            if t > start {
                out.push(p);
            }
        }
        if last {
            return Ok(out);
        }
    }
}

/// Answer a validation request: the tree of this node's partitions in the range.
pub(crate) fn validate(shared: &Shared, payload: &[u8]) -> Result<Vec<u8>, Failure> {
    let bad = || Failure { code: code::PROTOCOL, message: "a malformed validation request".into(), extra: vec![] };
    if payload.len() != 33 {
        return Err(bad());
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&payload[..16]);
    let start = i64::from_be_bytes(payload[16..24].try_into().map_err(|_| bad())?);
    let end = i64::from_be_bytes(payload[24..32].try_into().map_err(|_| bad())?);
    let depth = payload[32];
    let header = {
        let cat = shared.catalog_read()?;
        let t = cat.table_by_id(&id).ok_or_else(|| invalid("a table this node does not have"))?;
        (*t.header).clone()
    };
    let mut tree = MerkleTree::new(depth);
    for (s, e) in super::streaming::unwrapped(TokenRange { start, end }) {
        for p in local_partitions(shared, id, s, e)? {
            let token = Token::Murmur3(murmur3_token(&p.key));
            tree.add(&token, &partition_hash(&p, &header)).map_err(|e| invalid(e.to_string()))?;
        }
    }
    let leaves: Vec<(u32, Hash)> = (0..tree.leaves())
        .map(|i| (i as u32, tree.node(tree.depth() as usize, i)))
        .filter(|(_, h)| *h != cairn_format::merkle::EMPTY)
        .collect();
    let mut out = vec![tree.depth()];
    out.extend_from_slice(&tree.partitions().to_be_bytes());
    out.extend_from_slice(&(leaves.len() as u32).to_be_bytes());
    for (i, h) in leaves {
        out.extend_from_slice(&i.to_be_bytes());
        out.extend_from_slice(&h);
    }
    Ok(out)
}

/// A session request's table id and session id.
fn session_of(payload: &[u8]) -> Result<([u8; 16], [u8; 16]), Failure> {
    let bad = || Failure { code: code::PROTOCOL, message: "a malformed repair session request".into(), extra: vec![] };
    let table: [u8; 16] = payload.get(..16).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
    let session: [u8; 16] = payload.get(16..32).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
    Ok((table, session))
}

/// Answer `RepairPrepare`: flush the table and remember what the session validates.
pub(crate) fn prepare(shared: &Shared, payload: &[u8]) -> Result<Vec<u8>, Failure> {
    let (table, session) = session_of(payload)?;
    let cat = shared.catalog_read()?;
    let t = cat.table_by_id(&table).ok_or_else(|| invalid("a table this node does not have"))?;
    let mut d = t.lock()?;
    t.prepare_repair(&mut d, session).map_err(|e| Failure {
        code: code::SERVER,
        message: e.to_string(),
        extra: vec![],
    })?;
    Ok(vec![])
}

/// Answer `RepairFinish`: mark the session's SSTables in the repaired ranges repaired.
pub(crate) fn finish(shared: &Shared, payload: &[u8]) -> Result<Vec<u8>, Failure> {
    let bad = || Failure { code: code::PROTOCOL, message: "a malformed repair finish request".into(), extra: vec![] };
    let (table, session) = session_of(payload)?;
    let mut r = crate::coordinator::replica::Cursor(payload.get(32..).ok_or_else(bad)?);
    let repaired_at = r.i64()?;
    let n = r.u32()? as usize;
    let mut ranges = Vec::new();
    for _ in 0..n.min(payload.len() / 16) {
        ranges.push(TokenRange { start: r.i64()?, end: r.i64()? });
    }
    let cat = shared.catalog_read()?;
    let t = cat.table_by_id(&table).ok_or_else(|| invalid("a table this node does not have"))?;
    let mut d = t.lock()?;
    let marked = t.finish_repair(&mut d, session, &spans(ranges), repaired_at).map_err(|e| Failure {
        code: code::SERVER,
        message: e.to_string(),
        extra: vec![],
    })?;
    Ok(marked.to_be_bytes().to_vec())
}

/// Token ranges as sorted, merged `(start, end]` spans that do not wrap.
fn spans(ranges: impl IntoIterator<Item = TokenRange>) -> Vec<(i64, i64)> {
    let mut pieces: Vec<(i64, i64)> = ranges.into_iter().flat_map(super::streaming::unwrapped).collect();
    pieces.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (s, e) in pieces {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Send `payload` to replica `to` as `verb`, or answer it here with `local` when `to` is this
/// node.
fn ask(
    shared: &Shared,
    cluster: &super::cluster::Cluster,
    to: SocketAddr,
    verb: Verb,
    payload: Vec<u8>,
    local: fn(&Shared, &[u8]) -> Result<Vec<u8>, Failure>,
) -> Result<Vec<u8>, String> {
    if to == cluster.config.storage {
        local(shared, &payload).map_err(|f| f.message)
    } else {
        let frame = Frame::request(verb, payload);
        Ok(cluster.messenger.request(to, frame, Duration::from_secs(60)).map_err(|e| e.to_string())?.payload)
    }
}

/// A tree from a validation answer.
fn tree_of(b: &[u8]) -> Result<MerkleTree, String> {
    let bad = || "a malformed validation answer".to_string();
    let depth = *b.first().ok_or_else(bad)?;
    let n = u32::from_be_bytes(b.get(9..13).ok_or_else(bad)?.try_into().map_err(|_| bad())?) as usize;
    let mut tree = MerkleTree::new(depth);
    for i in 0..n {
        let at = 13 + i * 20;
        let entry = b.get(at..at + 20).ok_or_else(bad)?;
        let leaf = u32::from_be_bytes(entry[..4].try_into().map_err(|_| bad())?) as usize;
        let mut h = [0u8; 16];
        h.copy_from_slice(&entry[4..]);
        // A token inside the leaf puts the hash there.
        let r = tree.range_of(leaf);
        let token = if r.right == i64::MIN { i64::MAX } else { r.right };
        tree.add(&Token::Murmur3(token), &h).map_err(|e| e.to_string())?;
    }
    tree.finish();
    Ok(tree)
}

/// What a repair of one table did.
#[derive(Default)]
struct Tally {
    ranges: u64,
    out_of_sync: u64,
    skipped: u64,
    partitions: u64,
    bytes: u64,
    marked: u64,
}

/// `cairn admin repair`: repair the tables in scope over the ranges this node replicates (its
/// primary ranges only with `pr`); a summary per table.
pub(crate) fn repair(shared: &Shared, keyspace: Option<&str>, table: Option<&str>, pr: bool) -> Result<String, String> {
    let Some(cluster) = &shared.cluster else { return Err("this node is standalone: nothing to repair".into()) };
    let view = cluster.view();
    let Some(now) = &view.tokens else { return Err("the ring is not known yet".into()) };
    // Keyspace, table, table id, replication options.
    type InScope = (String, String, [u8; 16], Vec<(String, String)>);
    let scope: Vec<InScope> = {
        let cat = shared.catalog_read().map_err(|f| f.message)?;
        cat.keyspaces
            .iter()
            .filter(|(ks, _)| keyspace.is_none_or(|k| k == *ks))
            .flat_map(|(ks, k)| {
                k.tables
                    .iter()
                    .filter(|(n, _)| table.is_none_or(|x| x == *n))
                    .map(move |(n, t)| (ks.clone(), n.clone(), t.id, k.replication.clone()))
            })
            .collect()
    };
    if scope.is_empty() {
        return Err("no table to repair".into());
    }
    let mut out = String::new();
    for (ks, name, id, replication) in scope {
        let r = view.replication(&replication).map_err(|f| f.message)?;
        let ranges = if pr { now.primary_ranges(view.me) } else { now.ranges_for(view.me, &r) };
        let mut tally = Tally::default();
        // The ranges this session repairs, each with its replicas.
        let mut plan: Vec<(TokenRange, Vec<SocketAddr>)> = Vec::new();
        for range in ranges {
            tally.ranges += 1;
            let replicas = now.replicas(range.end, &r);
            let down: Vec<&IpAddr> = replicas.iter().filter(|a| !view.peers.get(a).is_some_and(|p| p.alive)).collect();
            if !down.is_empty() {
                tally.skipped += 1;
                continue;
            }
            plan.push((range, replicas.iter().filter_map(|a| view.storage(*a)).collect()));
        }
        session(shared, cluster, id, &plan, &mut tally).map_err(|e| format!("{ks}.{name}: {e}"))?;
        out.push_str(&format!(
            "{ks}.{name}: {} range(s) compared, {} out of sync, {} skipped (a replica down); {} partition(s) written to replicas ({} bytes); {} SSTable(s) marked repaired\n",
            tally.ranges, tally.out_of_sync, tally.skipped, tally.partitions, tally.bytes, tally.marked
        ));
    }
    Ok(out)
}

/// One table's repair session over `plan`: prepare every replica taking part, repair each
/// range, then have each replica mark what the session repaired on it (nothing when a range
/// failed).
fn session(
    shared: &Shared,
    cluster: &super::cluster::Cluster,
    table: [u8; 16],
    plan: &[(TokenRange, Vec<SocketAddr>)],
    tally: &mut Tally,
) -> Result<(), String> {
    let mut seed = crate::node::now_micros() as u64 ^ u64::from(cluster.config.storage.port());
    let session = crate::node::random_uuid(&mut seed);
    let repaired_at = crate::node::now_micros() / 1000;
    let mut head = table.to_vec();
    head.extend_from_slice(&session);
    let mut participants: Vec<SocketAddr> = plan.iter().flat_map(|(_, r)| r.iter().copied()).collect();
    participants.sort_unstable();
    participants.dedup();
    let mut prepared = Vec::new();
    let mut result = Ok(());
    for to in &participants {
        match ask(shared, cluster, *to, Verb::RepairPrepare, head.clone(), prepare) {
            Ok(_) => prepared.push(*to),
            Err(e) => {
                result = Err(format!("preparing {to}: {e}"));
                break;
            }
        }
    }
    if result.is_ok() {
        result =
            plan.iter().try_for_each(|(range, replicas)| repair_range(shared, cluster, table, *range, replicas, tally));
    }
    for to in prepared {
        // Each replica marks the ranges it took part in; after a failure, none.
        let ranges: Vec<TokenRange> = match result {
            Ok(()) => plan.iter().filter(|(_, r)| r.contains(&to)).map(|(range, _)| *range).collect(),
            Err(_) => Vec::new(),
        };
        let mut finish_request = head.clone();
        finish_request.extend_from_slice(&repaired_at.to_be_bytes());
        finish_request.extend_from_slice(&(ranges.len() as u32).to_be_bytes());
        for r in &ranges {
            finish_request.extend_from_slice(&r.start.to_be_bytes());
            finish_request.extend_from_slice(&r.end.to_be_bytes());
        }
        let answer = ask(shared, cluster, to, Verb::RepairFinish, finish_request, finish).and_then(|b| {
            let count: [u8; 8] = b.as_slice().try_into().map_err(|_| "a malformed repair finish answer".to_string())?;
            Ok(u64::from_be_bytes(count))
        });
        match answer {
            Ok(marked) => tally.marked += marked,
            Err(e) if result.is_ok() => result = Err(format!("finishing on {to}: {e}")),
            Err(_) => {}
        }
    }
    result
}

/// Validate one range on every replica, and reconcile the leaves that differ.
fn repair_range(
    shared: &Shared,
    cluster: &super::cluster::Cluster,
    table: [u8; 16],
    range: TokenRange,
    replicas: &[SocketAddr],
    tally: &mut Tally,
) -> Result<(), String> {
    let me = cluster.config.storage;
    let mut request = table.to_vec();
    request.extend_from_slice(&range.start.to_be_bytes());
    request.extend_from_slice(&range.end.to_be_bytes());
    request.push(DEPTH);
    let mut trees = Vec::new();
    for to in replicas {
        trees.push(tree_of(&ask(shared, cluster, *to, Verb::ValidationRequest, request.clone(), validate)?)?);
    }
    let mut leaves: Vec<usize> = Vec::new();
    for t in trees.iter().skip(1) {
        leaves.extend(trees[0].difference(t).map_err(|e| e.to_string())?);
    }
    leaves.sort_unstable();
    leaves.dedup();
    if leaves.is_empty() {
        return Ok(());
    }
    tally.out_of_sync += 1;
    for leaf in leaves {
        let lr = trees[0].range_of(leaf);
        let (start, end) = (lr.left, if lr.right == i64::MIN { i64::MAX } else { lr.right });
        // Each replica's partitions of the leaf (inside the range), by key.
        let mut held: BTreeMap<Vec<u8>, Vec<(usize, Partition)>> = BTreeMap::new();
        for (i, to) in replicas.iter().enumerate() {
            let ps = if *to == me {
                local_partitions(shared, table, start, end).map_err(|f| f.message)?
            } else {
                fetch(cluster, *to, table, start, end)?
            };
            for p in ps.into_iter().filter(|p| range.contains(murmur3_token(&p.key))) {
                held.entry(p.key.clone()).or_default().push((i, p));
            }
        }
        let header = {
            let cat = shared.catalog_read().map_err(|f| f.message)?;
            (*cat.table_by_id(&table).ok_or("the table was dropped")?.header).clone()
        };
        let mut to_send: Vec<Vec<Mutation>> = vec![Vec::new(); replicas.len()];
        for (key, versions) in held {
            let mut merged = Partition::new(key);
            for (_, p) in &versions {
                mutation::merge(&mut merged, p.clone());
            }
            let want = partition_hash(&merged, &header);
            for (i, sent) in to_send.iter_mut().enumerate() {
                let has = versions.iter().find(|(j, _)| *j == i).map(|(_, p)| partition_hash(p, &header));
                if has != Some(want) {
                    sent.push(Mutation { table_id: table, partition: merged.clone() });
                }
            }
        }
        for (i, ms) in to_send.into_iter().enumerate() {
            if ms.is_empty() {
                continue;
            }
            let mut payload = Vec::new();
            mutation::encode_all(&ms, &mut payload);
            tally.partitions += ms.len() as u64;
            tally.bytes += payload.len() as u64;
            let to = replicas[i];
            if to == me {
                let cat = shared.catalog_read().map_err(|f| f.message)?;
                crate::execute::write_local(shared, &cat, ms).map_err(|f| f.message)?;
            } else {
                cluster
                    .messenger
                    .request(to, Frame::request(Verb::Mutation, payload), Duration::from_secs(30))
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// A replica's partitions of a table in `(start, end]` (not wrapping), over stream requests.
fn fetch(
    cluster: &super::cluster::Cluster,
    to: SocketAddr,
    table: [u8; 16],
    start: i64,
    end: i64,
) -> Result<Vec<Partition>, String> {
    let mut out = Vec::new();
    super::streaming::pages(cluster, to, table, (start, end), &mut |ms| {
        out.extend(ms.into_iter().map(|m| m.partition));
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_unwrap_sort_and_merge_ranges() {
        let r = |start, end| TokenRange { start, end };
        // Adjacent ranges merge; a wrapping range is cut at the ends of the token space.
        assert_eq!(spans([r(10, 20), r(-5, 10), r(30, 40)]), vec![(-5, 20), (30, 40)]);
        assert_eq!(spans([r(100, -100)]), vec![(i64::MIN, -100), (100, i64::MAX)]);
        // Every range of a ring: the whole token space.
        assert_eq!(spans([r(-100, 0), r(0, 100), r(100, -100)]), vec![(i64::MIN, i64::MAX)]);
        assert_eq!(spans([r(7, 7)]), vec![(i64::MIN, i64::MAX)]);
    }
}
