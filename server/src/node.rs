//! The node: its configuration, identity (host id and tokens, kept across restarts), shared
//! state, and start-up — schema replay, commit-log replay, the acceptor thread, the periodic
//! commit-log sync and the admin interface. The work is done in the rooms this wires together:
//! [`crate::connection`] (serve, auth), [`crate::execute`] (statements), [`crate::catalog`]
//! (schema), [`crate::storage`] (memtables, SSTables, commit log), [`crate::admin`].
//!
//! Tables hold their data in memtables of `cairn_format` partitions — the model the SSTable
//! writer takes — so reconciliation (newest timestamp wins, deletions shadow older data, TTLs
//! expire) is the offline tools' own.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_format::types::render::hex;

use crate::catalog::{Catalog, replay_schema, unhex16};
use crate::connection::{Session, serve};
use crate::execute::execute;
use crate::execute::prepare::Prepared;
use crate::protocol::{Failure, Outcome, QueryParams, code};
use crate::storage::durable::Durable;
use crate::values;

/// How the node runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// `cluster_name`.
    pub cluster_name: String,
    /// Largest accepted frame body.
    pub max_frame_bytes: usize,
    /// Tokens this node owns (`num_tokens`).
    pub num_tokens: usize,
    /// `commitlog_sync`.
    pub commitlog_sync: crate::commitlog::SyncMode,
    /// `authenticator: PasswordAuthenticator` with these (user, password) pairs; `None`:
    /// `AllowAllAuthenticator`.
    pub users: Option<Vec<(String, String)>>,
    /// The admin interface's address (`None`: off).
    pub admin: Option<SocketAddr>,
    /// Tokens to own on the first start instead of random ones (`initial_token`).
    pub initial_tokens: Vec<i64>,
    /// Membership of a ring of nodes (`None`: a standalone node, a ring of one).
    pub ring: Option<crate::ring::cluster::RingConfig>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            data_dir: PathBuf::from("data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 9042)),
            cluster_name: "Cairn Cluster".into(),
            max_frame_bytes: 256 << 20,
            num_tokens: 16,
            commitlog_sync: crate::commitlog::SyncMode::Periodic(std::time::Duration::from_secs(10)),
            users: None,
            admin: None,
            initial_tokens: vec![],
            ring: None,
        }
    }
}

/// A running node.
pub struct NodeHandle {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The admin interface's address.
    pub admin: Option<SocketAddr>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: Option<JoinHandle<()>>,
    pub(crate) shared: Arc<Shared>,
}

impl NodeHandle {
    /// Flush every memtable to SSTables.
    pub fn flush(&self) -> Result<(), String> {
        self.shared.flush_tables(None, None).map(|_| ())
    }

    /// Flush, stop accepting connections and wait for the acceptor to end.
    pub fn stop(mut self) {
        if let Some(c) = &self.shared.cluster {
            c.announce_shutdown();
        }
        let _ = self.flush();
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Block until the node stops.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Prepared statements by id.
pub(crate) type PreparedById = HashMap<Vec<u8>, Arc<Prepared>>;

/// What every connection shares: the catalog (schema) behind a read-write lock, each table's
/// data behind its own lock (in the catalog), prepared statements, the clock, the commit log.
pub(crate) struct Shared {
    /// Keyspaces, types and tables. Statements take its read lock (DDL its write lock), then
    /// the lock of the table they touch.
    pub(crate) catalog: RwLock<Catalog>,
    /// Prepared statements by id (locked after `catalog`, or alone). EXECUTE and BATCH only
    /// read it, together (a read lock), and take the statement out shared ([`Arc`]), so no
    /// request holds it while it runs.
    pub(crate) prepared: RwLock<PreparedById>,
    /// The last write time handed out (microseconds).
    pub(crate) last_timestamp: AtomicI64,
    pub(crate) config: NodeConfig,
    pub(crate) host_id: [u8; 16],
    pub(crate) tokens: Vec<i64>,
    /// This node's part in a ring (`None`: standalone).
    pub(crate) cluster: Option<crate::ring::cluster::Cluster>,
    /// Connections registered for pushed events.
    pub(crate) events: Arc<crate::events::Events>,
    /// Table ids to reuse while the schema is replayed at start-up.
    pub(crate) pending_ids: Mutex<HashMap<(String, String), [u8; 16]>>,
    /// The commit log (locked after `catalog` and any table).
    pub(crate) commitlog: Mutex<Option<crate::commitlog::CommitLog>>,
    /// Group commit (batch sync): the log position known durable, whether an fsync is under
    /// way, and whether one failed (then nothing is answered any more: a failed fsync may have
    /// lost pages, and a later one could not tell — Cassandra's commit_failure_policy `stop`).
    /// Locked with nothing else held.
    pub(crate) durable: Mutex<Durable>,
    pub(crate) durable_cv: std::sync::Condvar,
}

impl Shared {
    /// The catalog, for reading.
    pub(crate) fn catalog_read(&self) -> Result<RwLockReadGuard<'_, Catalog>, Failure> {
        self.catalog.read().map_err(|_| poisoned("the catalog"))
    }

    /// The catalog, for a schema change.
    pub(crate) fn catalog_write(&self) -> Result<RwLockWriteGuard<'_, Catalog>, Failure> {
        self.catalog.write().map_err(|_| poisoned("the catalog"))
    }

    /// The prepared statements, for a change (PREPARE, or a DROP that forgets them).
    pub(crate) fn prepared(&self) -> Result<RwLockWriteGuard<'_, PreparedById>, Failure> {
        self.prepared.write().map_err(|_| poisoned("the prepared statements"))
    }

    /// The prepared statement of an id (EXECUTE, BATCH), if the node has it.
    pub(crate) fn prepared_get(&self, id: &[u8]) -> Result<Option<Arc<Prepared>>, Failure> {
        Ok(self.prepared.read().map_err(|_| poisoned("the prepared statements"))?.get(id).cloned())
    }

    /// A write time for a write that names none: now, and always after the last one handed out.
    pub(crate) fn next_timestamp(&self) -> i64 {
        let now = now_micros();
        let last = self.last_timestamp.fetch_max(now, Ordering::SeqCst);
        if last < now {
            return now;
        }
        // Someone took `now` or later: one past whatever is newest.
        self.last_timestamp.fetch_add(1, Ordering::SeqCst) + 1
    }
}

fn poisoned(what: &str) -> Failure {
    Failure { code: code::SERVER, message: format!("{what}: lock poisoned"), extra: vec![] }
}

/// Apply the commit log's writes to the memtables (after the schema replay). A write to a table
/// dropped since is not applicable and is counted as such.
pub(crate) fn replay_commitlog(shared: &Shared, entries: Vec<crate::commitlog::Logged>) {
    use crate::commitlog::Logged;
    let n = entries.len();
    let mut failed = 0;
    for e in entries {
        let applied = match e {
            Logged::Mutations(ms) => {
                for m in &ms {
                    if let Some(ts) = newest_timestamp(&m.partition) {
                        shared.last_timestamp.fetch_max(ts, Ordering::SeqCst);
                    }
                }
                shared.catalog_read().and_then(|cat| crate::execute::apply(&cat, ms))
            }
            Logged::Statement(e) => replay_statement(shared, e).map(|_| ()),
        };
        if applied.is_err() {
            failed += 1;
        }
    }
    if n > 0 {
        crate::log!("cairn node: replayed {} commit log entries ({failed} no longer applicable)", n - failed);
    }
}

/// The newest write time in a partition (so the node never hands out an older one).
fn newest_timestamp(p: &cairn_format::partition::Partition) -> Option<i64> {
    let rows = p.static_row.iter().chain(p.rows.values());
    let cells = rows.flat_map(|r| r.cells.iter().map(|c| c.timestamp).chain([r.liveness.timestamp]));
    cells.chain([p.deletion.marked_for_delete_at]).max()
}

/// A version 1 entry: the statement, executed again with its timestamps and server time.
fn replay_statement(shared: &Shared, e: crate::commitlog::Entry) -> Result<Outcome, Failure> {
    let mut session = Session {
        keyspace: (!e.keyspace.is_empty()).then(|| e.keyspace.clone()),
        compression: None,
        started: true,
        authenticated: true,
        pending_sync: None,
    };
    let (st, _) = crate::cql::parse(&e.statement).map_err(crate::protocol::syntax)?;
    shared.last_timestamp.fetch_max(e.timestamp, Ordering::SeqCst);
    let params = QueryParams { values: e.values, timestamp: Some(e.timestamp), ..Default::default() };
    // A table dropped since, for instance, makes it fail.
    execute(shared, &mut session, &st, &params, Some(e.now_s))
}

/// Read `cairn_node.txt`: the host id on the first line, then one token per line (blank lines
/// aside). Anything else is an error naming the line: a node that took a new identity or lost a
/// token would own other ranges than its data, and its peers' view of it.
fn saved_identity(text: &str) -> Result<([u8; 16], Vec<i64>), String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next().ok_or("empty")?;
    let id = unhex16(first.trim()).ok_or_else(|| format!("line 1 is not a host id: '{first}'"))?;
    let mut tokens = Vec::new();
    for (i, l) in lines {
        tokens.push(l.trim().parse::<i64>().map_err(|_| format!("line {} is not a token: '{l}'", i + 1))?);
    }
    if tokens.is_empty() {
        return Err("no tokens".into());
    }
    Ok((id, tokens))
}

/// This node's identity, kept across restarts in `<data>/cairn_node.txt`: host id, then tokens;
/// and whether this is its first start (the identity was made now).
pub(crate) fn identity(
    data: &std::path::Path,
    num_tokens: usize,
    initial: &[i64],
    seed: &mut u64,
) -> std::io::Result<([u8; 16], Vec<i64>, bool)> {
    let path = data.join("cairn_node.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (id, tokens) = saved_identity(&text).map_err(|why| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {why}; the node's host id and tokens are not replaced without a word (mend or remove the file)", path.display()),
                )
            })?;
            let mut given = initial.to_vec();
            given.sort_unstable();
            if !given.is_empty() && given != tokens {
                // As Cassandra: initial_token only matters the first time a node starts.
                crate::log!(
                    "cairn node: {}: keeping the tokens saved at the first start; --initial-token is ignored",
                    path.display()
                );
            }
            return Ok((id, tokens, false));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
    let host_id = random_uuid(seed);
    let mut tokens: Vec<i64> = if initial.is_empty() {
        (0..num_tokens.max(1)).map(|_| splitmix(seed) as i64).collect()
    } else {
        initial.to_vec()
    };
    tokens.sort_unstable();
    tokens.dedup();
    let mut text = format!("{}\n", hex(&host_id));
    for t in &tokens {
        text.push_str(&format!("{t}\n"));
    }
    // Written whole or not at all (a crash mid-write would leave a file the next start refuses).
    let tmp = data.join("cairn_node.txt.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok((host_id, tokens, true))
}

/// The seed of a node's host id, tokens and other random draws: the clock, and what tells apart
/// nodes started in the same microsecond — the nodes of a ring on one machine share a port
/// (127.0.0.x:9042), so their addresses and processes must enter it too, or two of them draw the
/// same host id and tokens (seen: "token … is claimed by both 127.0.0.4 and 127.0.0.6").
pub(crate) fn node_seed(now_micros: i64, addr: std::net::SocketAddr, pid: u32) -> u64 {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(a) => u64::from(u32::from(a)),
        std::net::IpAddr::V6(a) => {
            let v = u128::from(a);
            (v as u64) ^ ((v >> 64) as u64)
        }
    };
    let mut mixed = ip.rotate_left(17) ^ (u64::from(pid) << 24) ^ (u64::from(addr.port()) << 48);
    // One round of the generator, so that nearby addresses and pids differ in every bit.
    (now_micros as u64) ^ splitmix(&mut mixed)
}

pub(crate) fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

pub(crate) fn splitmix(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn random_uuid(seed: &mut u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&splitmix(seed).to_be_bytes());
    b[8..].copy_from_slice(&splitmix(seed).to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// A version-1 (time-based) UUID for list cell paths, as Cassandra makes them.
pub(crate) fn timeuuid(micros: i64, seed: &mut u64) -> [u8; 16] {
    cairn_format::types::value::timeuuid_at(micros, splitmix(seed))
}

/// Start a node.
pub fn start(config: NodeConfig) -> std::io::Result<NodeHandle> {
    std::fs::create_dir_all(&config.data_dir)?;
    let listener = TcpListener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    let mut seed = node_seed(now_micros(), addr, std::process::id());
    let (host_id, tokens, first_start) =
        identity(&config.data_dir, config.num_tokens, &config.initial_tokens, &mut seed)?;
    // A new node that is not a seed streams its ranges before it serves (bootstrap).
    let joining =
        first_start && config.ring.as_ref().is_some_and(|r| r.auto_bootstrap && !r.seeds.contains(&r.storage));
    // The internode port is bound before anything else happens, so a port in use fails the
    // start at once.
    let storage = match &config.ring {
        Some(r) => Some(TcpListener::bind(r.storage)?),
        None => None,
    };
    let events = Arc::new(crate::events::Events::default());
    let cluster = match config.ring.clone() {
        Some(r) => {
            let hints = crate::hints::Hints::open(&config.data_dir)?;
            let me = crate::ring::cluster::Identity {
                data: &config.data_dir,
                cluster_name: &config.cluster_name,
                rpc: addr,
                host_id,
                tokens: &tokens,
                joining,
                events: Arc::clone(&events),
            };
            // The schema version is announced once the schema is replayed.
            Some(crate::ring::cluster::Cluster::new(r, me, hints))
        }
        None => None,
    };
    let shared = Arc::new(Shared {
        catalog: RwLock::new(Catalog::new(seed)),
        prepared: RwLock::new(HashMap::new()),
        last_timestamp: AtomicI64::new(0),
        config,
        host_id,
        tokens,
        cluster,
        events,
        pending_ids: Mutex::new(HashMap::new()),
        commitlog: Mutex::new(None),
        durable: Mutex::new(Durable::default()),
        durable_cv: std::sync::Condvar::new(),
    });
    replay_schema(&shared)?;
    let (log, entries) =
        crate::commitlog::CommitLog::open(&shared.config.data_dir.join("commitlog"), shared.config.commitlog_sync)?;
    replay_commitlog(&shared, entries);
    if let Ok(mut slot) = shared.commitlog.lock() {
        *slot = Some(log);
    }
    if let crate::commitlog::SyncMode::Periodic(period) = shared.config.commitlog_sync {
        let weak = Arc::downgrade(&shared);
        std::thread::spawn(move || {
            while let Some(node) = weak.upgrade() {
                if let Ok(mut log) = node.commitlog.lock()
                    && let Some(log) = log.as_mut()
                {
                    let _ = log.sync();
                }
                drop(node);
                std::thread::sleep(period);
            }
        });
    }
    if let (Some(cluster), Some(listener)) = (&shared.cluster, storage) {
        let version = shared.catalog_read().map_err(|f| std::io::Error::other(f.message))?.schema_version;
        cluster.set_schema_version(version);
        let weak = Arc::downgrade(&shared);
        let handler: crate::ring::messaging::Handler =
            Arc::new(move |from, frame| crate::coordinator::replica::handle(&weak, from, frame));
        crate::ring::messaging::serve(listener, handler, Arc::clone(&cluster.stop));
        let weak = Arc::downgrade(&shared);
        let mut gossip_seed = seed ^ 0x5eed;
        let interval = cluster.config.gossip_interval;
        std::thread::spawn(move || {
            while let Some(node) = weak.upgrade() {
                let Some(cluster) = &node.cluster else { break };
                if cluster.stop.load(Ordering::SeqCst) {
                    break;
                }
                cluster.gossip_task(&weak, &mut gossip_seed);
                drop(node);
                std::thread::sleep(interval);
            }
        });
        if joining {
            crate::log!("cairn node: joining the ring (UJ): streaming the ranges this node takes over");
            let received = crate::ring::streaming::bootstrap(&shared)
                .map_err(|e| std::io::Error::other(format!("bootstrap failed: {e}")))?;
            crate::log!("cairn node: bootstrap done: {received} partition(s) streamed; normal (UN)");
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let node = Arc::clone(&shared);
    let thread = std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || serve(conn, &shared));
        }
    });
    let admin = match node.config.admin {
        Some(a) => {
            let token = match &node.config.users {
                Some(_) => {
                    let t = hex(&random_uuid(&mut seed));
                    let path = node.config.data_dir.join("cairn_admin.token");
                    std::fs::write(&path, &t)?;
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                    }
                    Some(t)
                }
                None => None,
            };
            Some(crate::admin::serve(a, Arc::clone(&node), token)?)
        }
        None => None,
    };
    Ok(NodeHandle { addr, admin, stop, thread: Some(thread), shared: node })
}

#[doc(hidden)]
pub fn _text(s: &str) -> Option<Vec<u8>> {
    values::text(s)
}

#[cfg(test)]
mod seed_tests {
    use super::*;

    #[test]
    fn nodes_started_in_the_same_microsecond_on_one_port_draw_different_identities() {
        let at = |ip: &str, port: u16, pid| {
            node_seed(1_700_000_000_000_000, format!("{ip}:{port}").parse().expect("addr"), pid)
        };
        let seeds = [
            at("127.0.0.4", 9042, 10),
            at("127.0.0.6", 9042, 10),
            at("127.0.0.4", 9042, 11),
            at("127.0.0.4", 9043, 10),
            at("[::1]", 9042, 10),
        ];
        let distinct: std::collections::BTreeSet<u64> = seeds.iter().copied().collect();
        assert_eq!(distinct.len(), seeds.len(), "{seeds:?}");
        // The tokens drawn from two of them.
        let tokens = |mut s: u64| {
            random_uuid(&mut s);
            (0..16).map(|_| splitmix(&mut s) as i64).collect::<std::collections::BTreeSet<_>>()
        };
        assert!(tokens(seeds[0]).is_disjoint(&tokens(seeds[1])));
    }
}
