//! `cairn load --stream`: restore SSTables into a running Cairn ring the way sstableloader does
//! it for Cassandra — not over CQL. The client asks one node to describe the ring
//! ([`crate::ring::messaging::Verb::RingRequest`]), cuts each source SSTable into the partitions
//! each replica owns (the keyspace's replication over the ring's tokens), and sends every
//! replica its share as mutations over the internode protocol. A replica applies them as any
//! write (commit log, memtable, then SSTables of the table): write timestamps, TTL expiries and
//! local deletion times are kept exactly, and no value is rendered to CQL and parsed again —
//! unlike a CQL restore, where a deletion gets the load's time as its local deletion time.
//!
//! The ring description is text, one item a line, tab-separated:
//!
//! ```text
//! member   <storage address> <dc> <rack> <token,token,...>
//! keyspace <name> <option>=<value>;<option>=<value>...
//! table    <keyspace> <name> <id, 32 hex digits>
//! ```
//!
//! `--plan` counts each replica's share and sends nothing; `--resume FILE` records each source
//! SSTable once every replica acknowledged all of its partitions and skips those on the next
//! run (a node killed mid-stream: run again once it is back); `--throttle` caps the bytes sent.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use cairn_format::partition::Partition;
use cairn_format::sstable::SsTable;

use super::messaging::{Frame, Messenger, Verb};
use super::tokens::{Member, Replication, TokenMap};
use crate::node::Shared;
use crate::protocol::Failure;
use crate::storage::mutation::{self, Mutation};

/// Mutations per message.
const BATCH: usize = 256;

/// Describe the ring for a streaming client.
pub(crate) fn describe(shared: &Shared) -> Result<String, Failure> {
    let Some(cluster) = &shared.cluster else {
        return Err(crate::protocol::invalid("this node is standalone"));
    };
    let view = cluster.view();
    let mut out = String::new();
    if let Some(map) = &view.tokens {
        for m in map.members() {
            let Some(p) = view.peers.get(&m.addr) else { continue };
            let tokens: Vec<String> = m.tokens.iter().map(i64::to_string).collect();
            out.push_str(&format!("member\t{}\t{}\t{}\t{}\n", p.storage, m.dc, m.rack, tokens.join(",")));
        }
    }
    let cat = shared.catalog_read()?;
    for (ks, k) in &cat.keyspaces {
        let opts: Vec<String> = k.replication.iter().map(|(a, b)| format!("{a}={b}")).collect();
        out.push_str(&format!("keyspace\t{ks}\t{}\n", opts.join(";")));
        for (name, t) in &k.tables {
            out.push_str(&format!("table\t{ks}\t{name}\t{}\n", cairn_format::types::render::hex(&t.id)));
        }
    }
    Ok(out)
}

/// The ring as a streaming client sees it.
struct Ring {
    tokens: TokenMap,
    storage: BTreeMap<IpAddr, SocketAddr>,
    keyspaces: BTreeMap<String, Vec<(String, String)>>,
    tables: BTreeMap<(String, String), [u8; 16]>,
}

fn parse_ring(text: &str) -> Result<Ring, String> {
    let mut members = Vec::new();
    let mut storage = BTreeMap::new();
    let mut keyspaces = BTreeMap::new();
    let mut tables = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        let bad = || format!("the ring description, line {}: {line:?}", i + 1);
        match f.as_slice() {
            ["member", addr, dc, rack, tokens] => {
                let addr: SocketAddr = addr.parse().map_err(|_| bad())?;
                let tokens =
                    tokens.split(',').map(|t| t.parse::<i64>().map_err(|_| bad())).collect::<Result<_, _>>()?;
                storage.insert(addr.ip(), addr);
                members.push(Member { addr: addr.ip(), dc: dc.to_string(), rack: rack.to_string(), tokens });
            }
            ["keyspace", name, opts] => {
                let opts = opts
                    .split(';')
                    .filter(|o| !o.is_empty())
                    .map(|o| o.split_once('=').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(bad))
                    .collect::<Result<_, _>>()?;
                keyspaces.insert(name.to_string(), opts);
            }
            ["table", ks, name, id] => {
                let id = crate::catalog::unhex16(id).ok_or_else(bad)?;
                tables.insert((ks.to_string(), name.to_string()), id);
            }
            _ => return Err(bad()),
        }
    }
    let local = members.first().map(|m: &Member| m.addr).ok_or("the ring has no normal member")?;
    let tokens = TokenMap::new(members, local).map_err(|e| e.to_string())?;
    Ok(Ring { tokens, storage, keyspaces, tables })
}

/// What a stream load asks.
pub struct StreamOptions<'a> {
    /// A node of the ring's internode address.
    pub contact: SocketAddr,
    /// Load into this keyspace / table instead of the source's.
    pub target_keyspace: Option<&'a str>,
    /// Load into this table instead of the source's.
    pub target_table: Option<&'a str>,
    /// Count, send nothing.
    pub plan: bool,
    /// Record finished SSTables here and skip those already recorded.
    pub resume: Option<&'a Path>,
    /// Cap the bytes sent, in MiB/s.
    pub throttle_mib_s: Option<f64>,
}

/// What a stream load did (or, with `plan`, would do) for one table.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StreamedTable {
    /// Target keyspace.
    pub keyspace: String,
    /// Target table.
    pub table: String,
    /// Source SSTables streamed, and skipped as already done (`--resume`).
    pub sstables: usize,
    /// Source SSTables skipped.
    pub skipped: usize,
    /// Source partitions.
    pub partitions: u64,
    /// Partitions sent per replica (internode address).
    pub per_replica: BTreeMap<String, u64>,
    /// Bytes sent.
    pub bytes: u64,
}

/// Stream `sstables` into the ring `contact` belongs to.
pub fn stream(sstables: &[SsTable], o: &StreamOptions<'_>) -> Result<Vec<StreamedTable>, String> {
    let messenger = Messenger::default();
    let answer = messenger
        .request(o.contact, Frame::request(Verb::RingRequest, vec![]), Duration::from_secs(10))
        .map_err(|e| format!("asking {} for the ring: {e}", o.contact))?;
    let ring = parse_ring(&String::from_utf8_lossy(&answer.payload))?;
    let dcs: Vec<&str> = {
        let mut d: Vec<&str> = ring.tokens.members().iter().map(|m| m.dc.as_str()).collect();
        d.sort_unstable();
        d.dedup();
        d
    };
    let done: Vec<String> = match o.resume {
        Some(p) if p.exists() => std::fs::read_to_string(p)
            .map_err(|e| format!("{}: {e}", p.display()))?
            .lines()
            .map(str::to_string)
            .collect(),
        _ => vec![],
    };
    let mut out: BTreeMap<(String, String), StreamedTable> = BTreeMap::new();
    let started = Instant::now();
    let mut sent_bytes = 0u64;
    for t in sstables {
        let location = cairn_format::location::TableLocation::of(t);
        let ks = o
            .target_keyspace
            .map(str::to_string)
            .or(location.keyspace)
            .ok_or("a source SSTable's keyspace is unknown: give --target-keyspace")?;
        let name = o
            .target_table
            .map(str::to_string)
            .or(location.table)
            .ok_or("a source SSTable's table is unknown: give --target-table")?;
        let id = *ring
            .tables
            .get(&(ks.clone(), name.clone()))
            .ok_or_else(|| format!("the ring has no table {ks}.{name}: create it first"))?;
        let replication = Replication::from_options(
            ring.keyspaces
                .get(&ks)
                .ok_or_else(|| format!("the ring's description has table {ks}.{name} but not keyspace {ks}"))?,
            &dcs,
        )
        .map_err(|e| format!("{ks}: {e}"))?;
        let entry = out.entry((ks.clone(), name.clone())).or_insert_with(|| StreamedTable {
            keyspace: ks.clone(),
            table: name.clone(),
            ..Default::default()
        });
        let data = t.path(cairn_format::Component::Data).display().to_string();
        if done.contains(&data) {
            entry.skipped += 1;
            continue;
        }
        entry.sstables += 1;
        let mut pending: BTreeMap<IpAddr, Vec<Mutation>> = BTreeMap::new();
        let mut flush = |addr: IpAddr, ms: Vec<Mutation>, entry: &mut StreamedTable| -> Result<(), String> {
            let to = *ring.storage.get(&addr).ok_or_else(|| {
                format!("the ring's description places a replica on {addr} but has no address to stream to")
            })?;
            *entry.per_replica.entry(to.to_string()).or_default() += ms.len() as u64;
            let mut payload = Vec::new();
            mutation::encode_all(&ms, &mut payload);
            entry.bytes += payload.len() as u64;
            if o.plan {
                return Ok(());
            }
            sent_bytes += payload.len() as u64;
            if let Some(rate) = o.throttle_mib_s {
                let due = Duration::from_secs_f64(sent_bytes as f64 / (rate * 1048576.0));
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            messenger
                .request(to, Frame::request(Verb::Mutation, payload), Duration::from_secs(30))
                .map(|_| ())
                .map_err(|e| format!("streaming {data} to {to}: {e}"))
        };
        let mut scanner = t.scanner().map_err(|e| e.to_string())?;
        while let Some(h) = scanner.next_partition().map_err(|e| e.to_string())? {
            let mut p = Partition::new(h.key.clone());
            crate::storage::read_into(&mut scanner, &mut p).map_err(|e| e.to_string())?;
            entry.partitions += 1;
            let token = cairn_format::partitioner::murmur3_token(&p.key);
            for addr in ring.tokens.replicas(token, &replication) {
                let batch = pending.entry(addr).or_default();
                batch.push(Mutation { table_id: id, partition: p.clone() });
                if batch.len() >= BATCH {
                    let ms = std::mem::take(batch);
                    flush(addr, ms, entry)?;
                }
            }
        }
        for (addr, ms) in std::mem::take(&mut pending) {
            if !ms.is_empty() {
                flush(addr, ms, entry)?;
            }
        }
        if let (Some(path), false) = (o.resume, o.plan) {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            writeln!(f, "{data}").and_then(|()| f.sync_data()).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(out.into_values().collect())
}
