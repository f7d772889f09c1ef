//! The node: accepts CQL connections, keeps the schema and the memtables, executes statements.
//!
//! One thread per connection; the schema and the data are behind one lock (a node of one,
//! serving tests and tools, not a throughput server yet). Tables hold their data in memtables of
//! `cairn_format` partitions — the model the SSTable writer takes — so reconciliation (newest
//! timestamp wins, deletions shadow older data, TTLs expire) is the offline tools' own.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_format::deletion::{DeletionTime, LivenessInfo};
use cairn_format::live::{LiveCells, LivePartition};
use cairn_format::partition::{OwnedCell, Partition};
use cairn_format::partitioner::{Token, murmur3_token};
use cairn_format::schema::TableSchema;
use cairn_format::schema::cql::CreateType;
use cairn_format::statistics::{
    DELETION_TIME_EPOCH, EncodingStats, HeaderColumn, SerializationHeader, TIMESTAMP_EPOCH,
};
use cairn_format::types::CqlType;
use cairn_format::types::compare::compare_values;
use cairn_format::types::render::hex;
use cairn_format::types::value::compose;

use crate::cql::{Assignment, QName, Relation, Selector, Statement, Term, Using};
use crate::protocol::{self, Compression, Incoming, QueryParams, Request, Value, Writer, code, opcode};
use crate::system;
use crate::values::{self, serialize_collection, serialize_fields, serialize_map, split_collection, split_fields};

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
        }
    }
}

/// A running node.
pub struct NodeHandle {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The admin interface's address.
    pub admin: Option<SocketAddr>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl NodeHandle {
    /// Flush every memtable to SSTables.
    pub fn flush(&self) -> Result<(), String> {
        self.shared.flush_tables(None, None).map(|_| ())
    }

    /// Flush, stop accepting connections and wait for the acceptor to end.
    pub fn stop(mut self) {
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

/// A failed request: the ERROR the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Error code.
    pub code: i32,
    /// Message.
    pub message: String,
    /// Code-specific extra body.
    pub extra: Vec<u8>,
}

/// A syntax error (0x2000) carrying the parser's message.
fn syntax(e: impl std::fmt::Display) -> Failure {
    Failure { code: code::SYNTAX, message: e.to_string(), extra: vec![] }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure { code: code::INVALID, message: message.into(), extra: vec![] }
}

type Row = Vec<Option<Vec<u8>>>;
type Columns = Vec<(String, CqlType)>;
/// A live column value: bytes, write time, seconds of TTL left.
type Timed = Option<(Vec<u8>, i64, Option<i64>)>;
/// Which partition keys and clustering prefixes a WHERE clause names.
type KeySet = (Vec<Vec<u8>>, Vec<Vec<Option<Vec<u8>>>>);
/// Notes a bind marker that binds a partition-key column.
type KeyMarker<'a> = dyn FnMut(&Term, &Col, &mut Vec<(usize, u16)>) + 'a;

/// What a statement returns.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Void,
    Rows { keyspace: String, table: String, columns: Columns, rows: Vec<Row>, paging_state: Option<Vec<u8>> },
    SetKeyspace(String),
    SchemaChange { change: &'static str, target: &'static str, keyspace: String, name: Option<String> },
}

pub(crate) struct Table {
    pub(crate) schema: TableSchema,
    pub(crate) header: Arc<SerializationHeader>,
    pub(crate) id: [u8; 16],
    memtable: BTreeMap<(Token, Vec<u8>), Partition>,
    /// Writes since the last flush.
    writes: u64,
    /// The table directory.
    dir: PathBuf,
    /// Its SSTables, oldest first.
    sstables: Vec<cairn_format::sstable::SsTable>,
    /// `CREATE TABLE` as the node replays it.
    create_text: String,
}

/// Memtable writes after which a table is flushed to an SSTable.
const FLUSH_AFTER_WRITES: u64 = 200_000;

impl Table {
    /// Flush the memtable to a new SSTable, then let the table's compaction strategy run.
    fn flush(&mut self) -> cairn_format::Result<()> {
        if let Some(t) = crate::storage::flush(&self.dir, &self.header, self.memtable.values())? {
            self.sstables.push(t);
            self.background_compaction();
        }
        self.memtable.clear();
        self.writes = 0;
        Ok(())
    }

    /// What the table's strategy (its `compaction` option, STCS by default) would compact next,
    /// compacted in place, as a node's background compaction does.
    fn background_compaction(&mut self) {
        use cairn_compact::plan;
        let strategy = self
            .schema
            .option("compaction")
            .and_then(cairn_format::schema::cql::parse_map)
            .and_then(|m| m.into_iter().find(|(k, _)| k == "class").and_then(|(_, v)| plan::Strategy::parse(&v)))
            .unwrap_or(plan::Strategy::SizeTiered);
        let req = plan::PlanRequest { strategy: Some(strategy), now_s: now_micros() / 1_000_000, ..Default::default() };
        let result = plan::plan_tables(&self.sstables, &req).map_err(|e| e.to_string()).and_then(|p| {
            let base = cairn_compact::run::RunOptions::new(cairn_format::Version::Nb, req.now_s);
            plan::execute(&p, &self.sstables, &base, &plan::ExecuteTarget::InPlace).map_err(|e| e.to_string())
        });
        match result {
            Ok(Some(_)) => match crate::storage::load_dir(&self.dir) {
                Ok(s) => self.sstables = s,
                Err(e) => crate::log!("cairn node: {}: reloading after compaction: {e}", self.dir.display()),
            },
            Ok(None) => {}
            Err(e) => crate::log!("cairn node: {}: background compaction: {e}", self.dir.display()),
        }
    }

    /// A major compaction: every SSTable into one, purged as Cassandra purges.
    fn compact_all(&mut self) -> cairn_format::Result<()> {
        if self.sstables.len() < 2 {
            return Ok(());
        }
        let now = now_micros() / 1_000_000;
        let opts = cairn_compact::run::RunOptions::new(cairn_format::Version::Nb, now);
        // One lifecycle transaction: the output replaces every input, or nothing changes.
        let operation = cairn_format::txn::operation::COMPACTION;
        cairn_compact::run::run_in_place(&self.sstables, &[], &opts, operation, &mut |_| {})
            .map_err(|e| cairn_format::Error::io(&self.dir, std::io::Error::other(e.to_string())))?;
        self.sstables = crate::storage::load_dir(&self.dir)?;
        Ok(())
    }

    /// The partitions with `keys` (all of them when `None`), memtable and SSTables merged.
    fn partitions(&self, keys: Option<&[(Token, Vec<u8>)]>) -> Result<Vec<Partition>, Failure> {
        let server = |e: cairn_format::Error| Failure { code: code::SERVER, message: e.to_string(), extra: vec![] };
        match keys {
            Some(keys) => {
                let mut out = Vec::new();
                for k in keys {
                    let mut p = self.memtable.get(k).cloned().unwrap_or_else(|| Partition::new(k.1.clone()));
                    crate::storage::read_partition(&self.sstables, &k.1, &mut p).map_err(server)?;
                    out.push(p);
                }
                Ok(out)
            }
            None => {
                let mut all = self.memtable.clone();
                crate::storage::read_all(&self.sstables, &mut all).map_err(server)?;
                Ok(all.into_values().collect())
            }
        }
    }
}

pub(crate) struct Keyspace {
    pub(crate) replication: Vec<(String, String)>,
    pub(crate) durable_writes: bool,
    pub(crate) tables: BTreeMap<String, Table>,
    pub(crate) types: Vec<CreateType>,
}

struct Prepared {
    keyspace: Option<String>,
    text: String,
    statement: Statement,
    binds: Columns,
    pk_indexes: Vec<u16>,
    table: (String, String),
    result: Option<Columns>,
}

pub(crate) struct State {
    pub(crate) keyspaces: BTreeMap<String, Keyspace>,
    prepared: HashMap<Vec<u8>, Prepared>,
    pub(crate) schema_version: [u8; 16],
    last_timestamp: i64,
    seed: u64,
    /// The server time a replayed write was made at.
    now_override: Option<i64>,
}

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) config: NodeConfig,
    pub(crate) host_id: [u8; 16],
    pub(crate) tokens: Vec<i64>,
    /// Table ids to reuse while the schema is replayed at start-up.
    pending_ids: Mutex<HashMap<(String, String), [u8; 16]>>,
    /// The commit log (locked after `state`).
    commitlog: Mutex<Option<crate::commitlog::CommitLog>>,
    /// Group commit (batch sync): the log position known durable, whether an fsync is under
    /// way, and whether one failed (then nothing is answered any more: a failed fsync may have
    /// lost pages, and a later one could not tell — Cassandra's commit_failure_policy `stop`).
    /// Locked with nothing else held.
    durable: Mutex<Durable>,
    durable_cv: std::sync::Condvar,
}

/// Group commit state (batch sync).
#[derive(Default)]
struct Durable {
    /// The log position known durable.
    synced: u64,
    /// An fsync is under way.
    syncing: bool,
    /// An fsync failed.
    failed: bool,
}

/// Execute a statement, logging it first when it writes.
fn logged_execute(
    state: &mut State,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    text: &str,
    params: &QueryParams,
) -> Result<Outcome, Failure> {
    let writes = matches!(
        st,
        Statement::Insert { .. } | Statement::Update { .. } | Statement::Delete { .. } | Statement::Batch { .. }
    );
    if !writes {
        // Batch sync: a read answers only once everything it may have seen is durable.
        if let Ok(log) = shared.commitlog.lock()
            && let Some(log) = log.as_ref()
            && log.mode() == crate::commitlog::SyncMode::Batch
        {
            let at = log.position();
            session.pending_sync = Some(session.pending_sync.map_or(at, |p| p.max(at)));
        }
        return execute(state, shared, session, st, params);
    }
    let ts = match params.timestamp {
        Some(t) => t,
        None => {
            let t = now_micros().max(state.last_timestamp + 1);
            state.last_timestamp = t;
            t
        }
    };
    let now_s = now_micros() / 1_000_000;
    let entry = crate::commitlog::Entry {
        timestamp: ts,
        now_s,
        keyspace: session.keyspace.clone().unwrap_or_default(),
        statement: text.to_string(),
        values: params.values.clone(),
    };
    if let Ok(mut log) = shared.commitlog.lock()
        && let Some(log) = log.as_mut()
    {
        let at = log.append(&entry).map_err(|e| Failure {
            code: code::SERVER,
            message: format!("commit log: {e}"),
            extra: vec![],
        })?;
        if log.mode() == crate::commitlog::SyncMode::Batch {
            // Answered only once an fsync covers it (the connection waits before replying).
            session.pending_sync = Some(session.pending_sync.map_or(at, |p| p.max(at)));
        }
    }
    let params = QueryParams { timestamp: Some(ts), ..params.clone() };
    state.now_override = Some(now_s);
    let out = execute(state, shared, session, st, &params);
    state.now_override = None;
    out
}

impl Shared {
    /// Wait until the commit log is durable up to `at` (group commit: whoever finds no fsync
    /// under way runs one for everything appended so far; the others wait for it).
    fn wait_durable(&self, at: u64) -> std::io::Result<()> {
        let poisoned = || std::io::Error::other("commit log state poisoned");
        let failed = || std::io::Error::other("an earlier commit log fsync failed: the node answers nothing more");
        let mut g = self.durable.lock().map_err(|_| poisoned())?;
        loop {
            if g.failed {
                return Err(failed());
            }
            if g.synced >= at {
                return Ok(());
            }
            if g.syncing {
                g = self.durable_cv.wait(g).map_err(|_| poisoned())?;
                continue;
            }
            g.syncing = true;
            drop(g);
            let handle = match self.commitlog.lock() {
                Ok(log) => log.as_ref().map(crate::commitlog::CommitLog::durable_handle).transpose(),
                Err(_) => Err(poisoned()),
            };
            let synced = handle.and_then(|h| match h {
                Some((pos, file)) => file.sync_data().map(|()| pos),
                None => Ok(at),
            });
            g = self.durable.lock().map_err(|_| poisoned())?;
            g.syncing = false;
            self.durable_cv.notify_all();
            match synced {
                Ok(pos) => g.synced = g.synced.max(pos),
                Err(e) => {
                    g.failed = true;
                    return Err(e);
                }
            }
        }
    }

    /// Flush the tables in scope (all when `None`); when every table was flushed the commit log
    /// is emptied. Returns how many tables were flushed.
    pub(crate) fn flush_tables(&self, ks: Option<&str>, table: Option<&str>) -> Result<usize, String> {
        let mut state = self.state.lock().map_err(|_| "node state poisoned".to_string())?;
        let mut n = 0;
        for (kn, k) in state.keyspaces.iter_mut() {
            if ks.is_some_and(|x| x != kn) {
                continue;
            }
            for (tn, t) in k.tables.iter_mut() {
                if table.is_some_and(|x| x != tn) {
                    continue;
                }
                t.flush().map_err(|e| e.to_string())?;
                n += 1;
            }
        }
        if ks.is_none()
            && let Ok(mut log) = self.commitlog.lock()
            && let Some(log) = log.as_mut()
        {
            // Everything logged is now in SSTables.
            log.truncate().map_err(|e| e.to_string())?;
        }
        Ok(n)
    }

    /// The directories of the tables in scope.
    pub(crate) fn table_dirs(&self, ks: Option<&str>, table: Option<&str>) -> Result<Vec<PathBuf>, String> {
        let state = self.state.lock().map_err(|_| "node state poisoned".to_string())?;
        let mut out = Vec::new();
        for (kn, k) in &state.keyspaces {
            for (tn, t) in &k.tables {
                if ks.is_none_or(|x| x == kn) && table.is_none_or(|x| x == tn) {
                    out.push(t.dir.clone());
                }
            }
        }
        if out.is_empty() && (ks.is_some() || table.is_some()) {
            return Err("no such keyspace or table".into());
        }
        Ok(out)
    }

    /// Major compaction of the tables in scope.
    pub(crate) fn compact_tables(&self, ks: Option<&str>, table: Option<&str>) -> Result<String, String> {
        let mut state = self.state.lock().map_err(|_| "node state poisoned".to_string())?;
        let mut out = String::new();
        for (kn, k) in state.keyspaces.iter_mut() {
            for (tn, t) in k.tables.iter_mut() {
                if ks.is_some_and(|x| x != kn) || table.is_some_and(|x| x != tn) {
                    continue;
                }
                t.flush().map_err(|e| e.to_string())?;
                let before = t.sstables.len();
                t.compact_all().map_err(|e| e.to_string())?;
                out.push_str(&format!("{kn}.{tn}: {before} SSTable(s) -> {}\n", t.sstables.len()));
            }
        }
        Ok(out)
    }

    /// `nodetool status`, for a ring of one.
    pub(crate) fn status(&self) -> Result<String, String> {
        let state = self.state.lock().map_err(|_| "node state poisoned".to_string())?;
        let load: u64 = state
            .keyspaces
            .values()
            .flat_map(|k| k.tables.values())
            .flat_map(|t| t.sstables.iter())
            .map(|s| std::fs::metadata(s.path(cairn_format::Component::Data)).map_or(0, |m| m.len()))
            .sum();
        let mut ip = self.config.listen.ip();
        if ip.is_unspecified() {
            ip = std::net::IpAddr::from([127, 0, 0, 1]);
        }
        let id = hex(&self.host_id);
        Ok(format!(
            "Datacenter: datacenter1\n=======================\nStatus=Up/Down  State=Normal/Leaving/Joining/Moving\n--  Address  Load  Tokens  Owns  Host ID  Rack\nUN  {ip}  {load} bytes  {}  100.0%  {}-{}-{}-{}-{}  rack1\n",
            self.tokens.len(),
            &id[0..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..32]
        ))
    }

    /// `nodetool tablestats`.
    pub(crate) fn tablestats(&self, ks: Option<&str>, table: Option<&str>) -> Result<String, String> {
        let state = self.state.lock().map_err(|_| "node state poisoned".to_string())?;
        let mut out = String::new();
        for (kn, k) in &state.keyspaces {
            for (tn, t) in &k.tables {
                if ks.is_some_and(|x| x != kn) || table.is_some_and(|x| x != tn) {
                    continue;
                }
                let bytes: u64 = t
                    .sstables
                    .iter()
                    .map(|s| {
                        let p = s.path(cairn_format::Component::Data);
                        std::fs::metadata(&p).map(|m| m.len()).map_err(|e| format!("{}: {e}", p.display()))
                    })
                    .sum::<Result<u64, String>>()?;
                // An SSTable without an estimator adds nothing; one that does not decode is an error.
                let keys: u64 = t
                    .sstables
                    .iter()
                    .map(|s| s.estimated_cardinality().map(|e| e.unwrap_or(0)).map_err(|e| e.to_string()))
                    .sum::<Result<u64, String>>()?;
                out.push_str(&format!(
                    "Table: {kn}.{tn}\n\tSSTable count: {}\n\tSpace used (live): {bytes}\n\tNumber of partitions (estimate): {}\n\tMemtable partitions: {}\n\tMemtable writes since flush: {}\n",
                    t.sstables.len(),
                    keys + t.memtable.len() as u64,
                    t.memtable.len(),
                    t.writes
                ));
            }
        }
        Ok(out)
    }
}

fn unhex16(s: &str) -> Option<[u8; 16]> {
    let v: Vec<u8> =
        (0..s.len()).step_by(2).filter_map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    <[u8; 16]>::try_from(v.as_slice()).ok()
}

/// Write the schema the node replays at start-up (`<data>/cairn_schema.cql`), atomically.
fn save_schema(state: &State, data: &std::path::Path) -> Result<(), Failure> {
    let mut out = String::from("-- The schema of this cairn node, replayed at start-up. One statement per line.\n");
    for (name, k) in &state.keyspaces {
        let repl: Vec<String> = k.replication.iter().map(|(a, b)| format!("'{a}': '{b}'")).collect();
        out.push_str(&format!(
            "CREATE KEYSPACE {name} WITH replication = {{{}}} AND durable_writes = {};\n",
            repl.join(", "),
            k.durable_writes
        ));
        for ty in &k.types {
            let fields: Vec<String> = ty.fields.iter().map(|(n, t)| format!("{n} {t}")).collect();
            out.push_str(&format!("CREATE TYPE {name}.{} ({});\n", ty.name, fields.join(", ")));
        }
        for (tn, t) in &k.tables {
            out.push_str(&format!("-- table {name}.{tn} {}\n{};\n", hex(&t.id), t.create_text));
        }
    }
    let path = data.join("cairn_schema.cql");
    let tmp = data.join("cairn_schema.cql.tmp");
    let io =
        |e: std::io::Error| Failure { code: code::SERVER, message: format!("{}: {e}", path.display()), extra: vec![] };
    std::fs::write(&tmp, out).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// Replay `<data>/cairn_schema.cql` into a new node.
fn replay_schema(shared: &Shared) -> std::io::Result<()> {
    let path = shared.config.data_dir.join("cairn_schema.cql");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let mut session =
        Session { keyspace: None, compression: None, started: true, authenticated: true, pending_sync: None };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("-- table ") {
            let mut parts = rest.split_whitespace();
            if let (Some(qualified), Some(id)) = (parts.next(), parts.next())
                && let (Some((ks, t)), Some(id)) = (qualified.split_once('.'), unhex16(id))
                && let Ok(mut ids) = shared.pending_ids.lock()
            {
                ids.insert((ks.to_string(), t.to_string()), id);
            }
            continue;
        }
        if line.trim().is_empty() || line.starts_with("--") {
            continue;
        }
        let bad = |m: String| std::io::Error::other(format!("{}: {m}", path.display()));
        let (st, _) = crate::cql::parse(line).map_err(|e| bad(e.to_string()))?;
        let mut state = shared.state.lock().map_err(|_| bad("poisoned".into()))?;
        execute(&mut state, shared, &mut session, &st, &QueryParams::default()).map_err(|f| bad(f.message))?;
    }
    Ok(())
}

/// Apply the commit log's writes to the memtables (after the schema replay).
fn replay_commitlog(shared: &Shared, entries: Vec<crate::commitlog::Entry>) {
    let n = entries.len();
    let mut failed = 0;
    for e in entries {
        let mut session = Session {
            keyspace: (!e.keyspace.is_empty()).then(|| e.keyspace.clone()),
            compression: None,
            started: true,
            authenticated: true,
            pending_sync: None,
        };
        let Ok((st, _)) = crate::cql::parse(&e.statement) else {
            failed += 1;
            continue;
        };
        let Ok(mut state) = shared.state.lock() else { return };
        state.now_override = Some(e.now_s);
        let params = QueryParams { values: e.values, timestamp: Some(e.timestamp), ..Default::default() };
        if execute(&mut state, shared, &mut session, &st, &params).is_err() {
            // A table dropped since, for instance.
            failed += 1;
        }
        state.now_override = None;
        state.last_timestamp = state.last_timestamp.max(e.timestamp);
    }
    if n > 0 {
        crate::log!("cairn node: replayed {} commit log entries ({failed} no longer applicable)", n - failed);
    }
}

/// This node's identity, kept across restarts in `<data>/cairn_node.txt`: host id, then tokens.
fn identity(data: &std::path::Path, num_tokens: usize, seed: &mut u64) -> std::io::Result<([u8; 16], Vec<i64>)> {
    let path = data.join("cairn_node.txt");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut lines = text.lines();
        if let Some(id) = lines.next().and_then(unhex16) {
            let tokens: Vec<i64> = lines.filter_map(|l| l.trim().parse().ok()).collect();
            if !tokens.is_empty() {
                return Ok((id, tokens));
            }
        }
    }
    let host_id = random_uuid(seed);
    let mut tokens: Vec<i64> = (0..num_tokens.max(1)).map(|_| splitmix(seed) as i64).collect();
    tokens.sort_unstable();
    let mut text = format!("{}\n", hex(&host_id));
    for t in &tokens {
        text.push_str(&format!("{t}\n"));
    }
    std::fs::write(&path, text)?;
    Ok((host_id, tokens))
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

fn splitmix(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn random_uuid(seed: &mut u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&splitmix(seed).to_be_bytes());
    b[8..].copy_from_slice(&splitmix(seed).to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// A version-1 (time-based) UUID for list cell paths, as Cassandra makes them.
fn timeuuid(micros: i64, seed: &mut u64) -> [u8; 16] {
    let ts = (micros as u64).wrapping_mul(10).wrapping_add(0x01B2_1DD2_1381_4000);
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&((ts & 0xFFFF_FFFF) as u32).to_be_bytes());
    b[4..6].copy_from_slice(&(((ts >> 32) & 0xFFFF) as u16).to_be_bytes());
    b[6..8].copy_from_slice(&((((ts >> 48) & 0x0FFF) as u16) | 0x1000).to_be_bytes());
    b[8..].copy_from_slice(&splitmix(seed).to_be_bytes());
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// Start a node.
pub fn start(config: NodeConfig) -> std::io::Result<NodeHandle> {
    std::fs::create_dir_all(&config.data_dir)?;
    let listener = TcpListener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    let mut seed = now_micros() as u64 ^ (u64::from(addr.port()) << 48);
    let (host_id, tokens) = identity(&config.data_dir, config.num_tokens, &mut seed)?;
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            keyspaces: BTreeMap::new(),
            prepared: HashMap::new(),
            schema_version: random_uuid(&mut seed),
            last_timestamp: 0,
            seed,
            now_override: None,
        }),
        config,
        host_id,
        tokens,
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

struct Session {
    keyspace: Option<String>,
    compression: Option<Compression>,
    started: bool,
    /// Authenticated (always, when authentication is off).
    authenticated: bool,
    /// The commit-log position the answers not yet sent must wait to be durable (batch sync).
    pending_sync: Option<u64>,
}

/// Send the answers held back, once the writes they acknowledge are durable (batch sync); false
/// when the connection should end.
fn send_answers(shared: &Shared, session: &mut Session, answers: &mut Vec<u8>, writer: &mut impl Write) -> bool {
    if let Some(at) = session.pending_sync.take()
        && let Err(e) = shared.wait_durable(at)
    {
        // Not durable: answer nothing (the client times out and retries), and stop.
        crate::log!("cairn node: commit log sync failed: {e}");
        return false;
    }
    let ok = writer.write_all(answers).is_ok() && writer.flush().is_ok();
    answers.clear();
    ok
}

fn serve(conn: TcpStream, shared: &Shared) {
    let _ = conn.set_nodelay(true);
    let Ok(read_half) = conn.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut writer = BufWriter::new(conn);
    let mut session =
        Session { keyspace: None, compression: None, started: false, authenticated: false, pending_sync: None };
    // Answers wait here while more requests are already buffered (pipelined), and go out
    // together — after one durability wait in batch sync mode.
    let mut answers: Vec<u8> = Vec::new();
    loop {
        let frame = match protocol::read_frame(&mut reader, shared.config.max_frame_bytes) {
            Err(_) | Ok(Ok(Incoming::Closed)) => return,
            Ok(Err(e)) => {
                let _ = send_answers(shared, &mut session, &mut answers, &mut writer);
                let _ = protocol::write_frame(
                    &mut writer,
                    0,
                    opcode::ERROR,
                    &protocol::error_body(code::PROTOCOL, &e.to_string()),
                    None,
                );
                let _ = writer.flush();
                return;
            }
            Ok(Ok(Incoming::WrongVersion(h))) => {
                let msg = format!(
                    "Invalid or unsupported protocol version ({}); supported versions are (4/v4)",
                    h.version & 0x7f
                );
                let _ = send_answers(shared, &mut session, &mut answers, &mut writer);
                let _ = protocol::write_frame(
                    &mut writer,
                    h.stream,
                    opcode::ERROR,
                    &protocol::error_body(code::PROTOCOL, &msg),
                    None,
                );
                let _ = writer.flush();
                return;
            }
            Ok(Ok(Incoming::Frame(h, body))) => (h, body),
        };
        let (h, body) = frame;
        let body = if h.flags & 0x01 != 0 {
            match session.compression.map(|c| c.decompress(&body)) {
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    let _ = send_answers(shared, &mut session, &mut answers, &mut writer);
                    let _ = protocol::write_frame(
                        &mut writer,
                        h.stream,
                        opcode::ERROR,
                        &protocol::error_body(code::PROTOCOL, &e.to_string()),
                        None,
                    );
                    let _ = writer.flush();
                    return;
                }
                None => {
                    let msg = "compressed frame before a compression was agreed in STARTUP";
                    let _ = send_answers(shared, &mut session, &mut answers, &mut writer);
                    let _ = protocol::write_frame(
                        &mut writer,
                        h.stream,
                        opcode::ERROR,
                        &protocol::error_body(code::PROTOCOL, msg),
                        None,
                    );
                    let _ = writer.flush();
                    return;
                }
            }
        } else {
            body
        };
        let (op, out, close) = match Request::parse(h.opcode, &body) {
            Err(e) => (opcode::ERROR, protocol::error_body(code::PROTOCOL, &e.to_string()), true),
            Ok(req) => match handle(req, &mut session, shared) {
                Ok((op, out)) => (op, out, false),
                Err(f) => {
                    let mut w = Writer::default();
                    w.int(f.code).string(&f.message);
                    w.buf.extend_from_slice(&f.extra);
                    (opcode::ERROR, w.buf, f.code == code::PROTOCOL)
                }
            },
        };
        let compression = if op == opcode::READY { None } else { session.compression };
        if protocol::write_frame(&mut answers, h.stream, op, &out, compression).is_err() {
            return;
        }
        if (close || reader.buffer().is_empty() || answers.len() >= 1 << 16)
            && !send_answers(shared, &mut session, &mut answers, &mut writer)
        {
            return;
        }
        if close {
            return;
        }
    }
}

fn handle(req: Request, session: &mut Session, shared: &Shared) -> Result<(u8, Vec<u8>), Failure> {
    let protocol_error = |m: &str| Failure { code: code::PROTOCOL, message: m.into(), extra: vec![] };
    match req {
        Request::Options => {
            let mut w = Writer::default();
            w.string_multimap(&[
                ("CQL_VERSION", &["3.4.7"]),
                ("COMPRESSION", &["lz4", "snappy"]),
                ("PROTOCOL_VERSIONS", &["4/v4"]),
            ]);
            Ok((opcode::SUPPORTED, w.buf))
        }
        Request::Startup(options) => {
            if let Some(c) = options.get("COMPRESSION") {
                session.compression = Some(
                    Compression::parse(c).ok_or_else(|| protocol_error(&format!("unsupported compression '{c}'")))?,
                );
            }
            session.started = true;
            if shared.config.users.is_some() {
                // PasswordAuthenticator: the client answers with SASL PLAIN.
                let mut w = Writer::default();
                w.string("org.apache.cassandra.auth.PasswordAuthenticator");
                return Ok((opcode::AUTHENTICATE, w.buf));
            }
            session.authenticated = true;
            Ok((opcode::READY, vec![]))
        }
        _ if !session.started => Err(protocol_error("Unexpected message, expecting STARTUP or OPTIONS")),
        Request::AuthResponse(token) => {
            let Some(users) = &shared.config.users else { return Err(protocol_error("authentication is not enabled")) };
            // SASL PLAIN: [authzid] NUL authcid NUL password.
            let token = token.unwrap_or_default();
            let mut parts = token.split(|b| *b == 0);
            let (_, user, password) = (parts.next(), parts.next(), parts.next());
            let (user, password) = (
                String::from_utf8_lossy(user.unwrap_or_default()).to_string(),
                String::from_utf8_lossy(password.unwrap_or_default()).to_string(),
            );
            if users.iter().any(|(u, p)| *u == user && *p == password) {
                session.authenticated = true;
                let mut w = Writer::default();
                w.bytes(None);
                Ok((opcode::AUTH_SUCCESS, w.buf))
            } else {
                Err(Failure {
                    code: code::BAD_CREDENTIALS,
                    message: format!("Provided username {user} and/or password are incorrect"),
                    extra: vec![],
                })
            }
        }
        _ if !session.authenticated => {
            Err(protocol_error("Unexpected message, expecting SASL_RESPONSE (authenticate first)"))
        }
        Request::Register(_) => Ok((opcode::READY, vec![])),
        Request::Query(text, params) => {
            let (statement, _) = crate::cql::parse(&text).map_err(syntax)?;
            let mut state = shared.state.lock().map_err(|_| invalid("node state poisoned"))?;
            let out = logged_execute(&mut state, shared, session, &statement, &text, &params)?;
            Ok((opcode::RESULT, encode_outcome(out, &params)))
        }
        Request::Prepare(text) => {
            let (statement, n) = crate::cql::parse(&text).map_err(syntax)?;
            let mut state = shared.state.lock().map_err(|_| invalid("node state poisoned"))?;
            let id = {
                let key = format!("{}\u{0}{text}", session.keyspace.clone().unwrap_or_default());
                let (a, b) = cairn_format::partitioner::murmur3_cassandra(key.as_bytes());
                let mut id = a.to_be_bytes().to_vec();
                id.extend_from_slice(&b.to_be_bytes());
                id
            };
            let mut p = prepare(&state, session, statement, n)?;
            p.text = text;
            let out = encode_prepared(&id, &p);
            state.prepared.insert(id, p);
            Ok((opcode::RESULT, out))
        }
        Request::Execute(id, params) => {
            let mut state = shared.state.lock().map_err(|_| invalid("node state poisoned"))?;
            let Some(p) = state.prepared.get(&id) else {
                let mut w = Writer::default();
                w.short_bytes(&id);
                return Err(Failure {
                    code: code::UNPREPARED,
                    message: "Prepared query with ID not found".into(),
                    extra: w.buf,
                });
            };
            let statement = p.statement.clone();
            let text = p.text.clone();
            let saved = session.keyspace.clone();
            if p.keyspace.is_some() && session.keyspace.is_none() {
                session.keyspace = p.keyspace.clone();
            }
            let skip = params.skip_metadata;
            let result = logged_execute(&mut state, shared, session, &statement, &text, &params);
            session.keyspace = saved.or(session.keyspace.take());
            let mut params = params;
            params.skip_metadata = skip;
            Ok((opcode::RESULT, encode_outcome(result?, &params)))
        }
        Request::Batch(_, statements, _, timestamp) => {
            let mut state = shared.state.lock().map_err(|_| invalid("node state poisoned"))?;
            for st in statements {
                let (statement, values, text) = match st {
                    protocol::BatchStatement::Query(q, v) => {
                        let (s, _) = crate::cql::parse(&q).map_err(syntax)?;
                        (s, v, q)
                    }
                    protocol::BatchStatement::Prepared(id, v) => match state.prepared.get(&id) {
                        Some(p) => (p.statement.clone(), v, p.text.clone()),
                        None => {
                            let mut w = Writer::default();
                            w.short_bytes(&id);
                            return Err(Failure {
                                code: code::UNPREPARED,
                                message: "Prepared query with ID not found".into(),
                                extra: w.buf,
                            });
                        }
                    },
                };
                if matches!(statement, Statement::Select { .. }) {
                    return Err(invalid(
                        "Invalid statement in batch: only UPDATE, INSERT and DELETE statements are allowed.",
                    ));
                }
                let params = QueryParams { values, timestamp, ..Default::default() };
                logged_execute(&mut state, shared, session, &statement, &text, &params)?;
            }
            let mut w = Writer::default();
            w.int(0x0001);
            Ok((opcode::RESULT, w.buf))
        }
    }
}

fn encode_rows_metadata(
    w: &mut Writer,
    keyspace: &str,
    table: &str,
    columns: &Columns,
    paging: Option<&[u8]>,
    no_metadata: bool,
) {
    let mut flags = 0x0001;
    if paging.is_some() {
        flags |= 0x0002;
    }
    if no_metadata {
        flags = (flags & 0x0002) | 0x0004;
    }
    w.int(flags).int(columns.len() as i32);
    if let Some(p) = paging {
        w.bytes(Some(p));
    }
    if no_metadata {
        return;
    }
    w.string(keyspace).string(table);
    for (name, ty) in columns {
        w.string(name);
        values::write_type(w, ty);
    }
}

fn encode_outcome(o: Outcome, params: &QueryParams) -> Vec<u8> {
    let mut w = Writer::default();
    match o {
        Outcome::Void => {
            w.int(0x0001);
        }
        Outcome::SetKeyspace(ks) => {
            w.int(0x0003).string(&ks);
        }
        Outcome::SchemaChange { change, target, keyspace, name } => {
            w.int(0x0005).string(change).string(target).string(&keyspace);
            if let Some(n) = name {
                w.string(&n);
            }
        }
        Outcome::Rows { keyspace, table, columns, rows, paging_state } => {
            w.int(0x0002);
            encode_rows_metadata(&mut w, &keyspace, &table, &columns, paging_state.as_deref(), params.skip_metadata);
            w.int(rows.len() as i32);
            for r in &rows {
                for v in r {
                    w.bytes(v.as_deref());
                }
            }
        }
    }
    w.buf
}

fn encode_prepared(id: &[u8], p: &Prepared) -> Vec<u8> {
    let mut w = Writer::default();
    w.int(0x0004).short_bytes(id);
    // Prepared metadata: global table spec, bind markers, partition-key marker indexes.
    w.int(0x0001).int(p.binds.len() as i32).int(p.pk_indexes.len() as i32);
    for i in &p.pk_indexes {
        w.short(*i);
    }
    w.string(&p.table.0).string(&p.table.1);
    for (name, ty) in &p.binds {
        w.string(name);
        values::write_type(&mut w, ty);
    }
    match &p.result {
        Some(cols) => encode_rows_metadata(&mut w, &p.table.0, &p.table.1, cols, None, false),
        None => {
            w.int(0x0004).int(0);
        }
    }
    w.buf
}

/// A value bound to a term: bytes, null, or unset.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bound {
    Bytes(Vec<u8>),
    Null,
    Unset,
}

struct Binder<'a> {
    params: &'a QueryParams,
}

impl Binder<'_> {
    fn bind(&self, t: &Term, ty: &CqlType, what: &str) -> Result<Bound, Failure> {
        match t {
            Term::Null => Ok(Bound::Null),
            Term::Literal(text) => cairn_format::types::parse::from_string(ty, text)
                .map(Bound::Bytes)
                .map_err(|e| invalid(format!("Invalid value for {what}: {e}"))),
            Term::Collection(text) => crate::literal::to_bytes(ty, text)
                .map(Bound::Bytes)
                .map_err(|e| invalid(format!("Invalid value for {what}: {e}"))),
            Term::Bind(i) => self.value_at(*i, None, what),
            Term::Named(name, i) => self.value_at(*i, Some(name), what),
        }
    }

    fn value_at(&self, i: usize, name: Option<&String>, what: &str) -> Result<Bound, Failure> {
        let index = match name {
            Some(n) if !self.params.names.is_empty() => {
                self.params.names.iter().position(|x| x == n).ok_or_else(|| invalid(format!("No value for :{n}")))?
            }
            _ => i,
        };
        match self.params.values.get(index) {
            Some(Value::Set(b)) => Ok(Bound::Bytes(b.clone())),
            Some(Value::Null) => Ok(Bound::Null),
            Some(Value::Unset) => Ok(Bound::Unset),
            None => Err(invalid(format!(
                "There were {} markers(?) in CQL but {} bound variables (for {what})",
                i + 1,
                self.params.values.len()
            ))),
        }
    }

    fn int(&self, t: &Term, what: &str) -> Result<Option<i64>, Failure> {
        match self.bind(t, &CqlType::BigInt, what) {
            Ok(Bound::Bytes(b)) => Ok(Some(match b.len() {
                4 => i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                8 => i64::from_be_bytes(b.try_into().unwrap_or_default()),
                _ => return Err(invalid(format!("Invalid {what}"))),
            })),
            Ok(_) => Ok(None),
            Err(f) => {
                // A bound TTL is an int.
                match self.bind(t, &CqlType::Int, what)? {
                    Bound::Bytes(b) if b.len() == 4 => {
                        Ok(Some(i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))))
                    }
                    _ => Err(f),
                }
            }
        }
    }
}

fn resolve_keyspace(session: &Session, q: &QName) -> Result<String, Failure> {
    q.keyspace.clone().or_else(|| session.keyspace.clone()).ok_or_else(|| {
        invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
    })
}

fn table_mut<'s>(state: &'s mut State, ks: &str, name: &str) -> Result<&'s mut Table, Failure> {
    let keyspace = state.keyspaces.get_mut(ks).ok_or_else(|| invalid(format!("Keyspace {ks} does not exist")))?;
    keyspace.tables.get_mut(name).ok_or_else(|| invalid(format!("table {name} does not exist")))
}

fn validate_name(name: &str) -> Result<(), Failure> {
    if name.is_empty() || name.len() > 48 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(invalid(format!("\"{name}\" is not a valid name: use up to 48 letters, digits or underscores")));
    }
    Ok(())
}

fn header_for(schema: &TableSchema) -> SerializationHeader {
    let key = match schema.partition_key.as_slice() {
        [one] => one.ty.clone(),
        many => CqlType::Composite(many.iter().map(|c| c.ty.clone()).collect()),
    };
    let clustering: Vec<CqlType> = schema
        .clustering
        .iter()
        .map(|(c, desc)| if *desc { CqlType::Reversed(Box::new(c.ty.clone())) } else { c.ty.clone() })
        .collect();
    // Cassandra's column order: simple columns before complex ones, then by name.
    let sorted = |cols: &[cairn_format::schema::ColumnDef]| {
        let mut v: Vec<HeaderColumn> = cols.iter().map(|c| HeaderColumn::new(&c.name, c.ty.clone())).collect();
        v.sort_by(|a, b| a.is_complex().cmp(&b.is_complex()).then_with(|| a.name.as_bytes().cmp(b.name.as_bytes())));
        v
    };
    SerializationHeader::new(
        EncodingStats {
            min_timestamp: TIMESTAMP_EPOCH,
            min_local_deletion_time: DELETION_TIME_EPOCH as u32,
            min_ttl: 0,
        },
        key,
        clustering,
        sorted(&schema.static_columns),
        sorted(&schema.regular_columns),
    )
}

/// Where a column lives.
#[derive(Debug, Clone, PartialEq)]
enum Col {
    Key(usize, CqlType),
    Clustering(usize, CqlType),
    Static(u16, CqlType),
    Regular(u16, CqlType),
}

impl Col {
    fn ty(&self) -> &CqlType {
        match self {
            Col::Key(_, t) | Col::Clustering(_, t) | Col::Static(_, t) | Col::Regular(_, t) => t,
        }
    }
}

fn column(t: &Table, name: &str) -> Option<Col> {
    if let Some(i) = t.schema.partition_key.iter().position(|c| c.name == name) {
        return t.schema.partition_key.get(i).map(|c| Col::Key(i, c.ty.clone()));
    }
    if let Some(i) = t.schema.clustering.iter().position(|(c, _)| c.name == name) {
        return t.schema.clustering.get(i).map(|(c, _)| Col::Clustering(i, c.ty.clone()));
    }
    if let Some(i) = t.header.static_columns.iter().position(|c| c.name == name) {
        return t.header.static_columns.get(i).map(|c| Col::Static(i as u16, c.ty.clone()));
    }
    t.header
        .regular_columns
        .iter()
        .position(|c| c.name == name)
        .and_then(|i| t.header.regular_columns.get(i).map(|c| Col::Regular(i as u16, c.ty.clone())))
}

fn all_columns(t: &Table) -> Columns {
    let mut v: Columns = t.schema.partition_key.iter().map(|c| (c.name.clone(), c.ty.clone())).collect();
    v.extend(t.schema.clustering.iter().map(|(c, _)| (c.name.clone(), c.ty.clone())));
    let mut others: Columns = t
        .header
        .static_columns
        .iter()
        .chain(&t.header.regular_columns)
        .map(|c| (c.name.clone(), c.ty.clone()))
        .collect();
    others.sort_by(|a, b| a.0.cmp(&b.0));
    v.extend(others);
    v
}

fn prepare(state: &State, session: &Session, statement: Statement, n: usize) -> Result<Prepared, Failure> {
    let mut binds: Columns = vec![(String::new(), CqlType::Blob); n];
    let mut pk_indexes = Vec::new();
    let (qname, result) = match &statement {
        Statement::Select { table, .. }
        | Statement::Insert { table, .. }
        | Statement::Update { table, .. }
        | Statement::Delete { table, .. } => (Some(table.clone()), matches!(statement, Statement::Select { .. })),
        _ => (None, false),
    };
    let Some(qname) = qname else {
        return Ok(Prepared {
            text: String::new(),
            keyspace: session.keyspace.clone(),
            statement,
            binds,
            pk_indexes,
            table: (String::new(), String::new()),
            result: None,
        });
    };
    let ks = resolve_keyspace(session, &qname)?;
    if ks == "system" || ks == "system_schema" {
        // Metadata queries of drivers: the columns are known from the system table itself.
        let cols = system::columns(&ks, &qname.name)
            .ok_or_else(|| invalid(format!("table {ks}.{} does not exist", qname.name)))?;
        let mark = |binds: &mut Columns, rels: &[Relation]| {
            for r in rels {
                for v in &r.values {
                    if let Term::Bind(i) | Term::Named(_, i) = v
                        && let (Some(slot), Some(c)) =
                            (binds.get_mut(*i), cols.iter().find(|c| Some(&c.0) == r.columns.first()))
                    {
                        *slot = c.clone();
                    }
                }
            }
        };
        let mut result_cols = None;
        if let Statement::Select { relations, selectors, .. } = &statement {
            mark(&mut binds, relations);
            result_cols = Some(project_columns(&cols, selectors.as_ref())?);
        }
        return Ok(Prepared {
            text: String::new(),
            keyspace: Some(ks.clone()),
            statement,
            binds,
            pk_indexes,
            table: (ks, qname.name),
            result: if result { result_cols } else { None },
        });
    }
    let t = state
        .keyspaces
        .get(&ks)
        .and_then(|k| k.tables.get(&qname.name))
        .ok_or_else(|| invalid(format!("table {} does not exist", qname.name)))?;
    let name_slot = |binds: &mut Columns, term: &Term, name: &str, ty: CqlType| {
        if let Term::Bind(i) | Term::Named(_, i) = term
            && let Some(slot) = binds.get_mut(*i)
        {
            *slot = (name.to_string(), ty);
        }
    };
    let mut key_marker = |term: &Term, col: &Col, pk: &mut Vec<(usize, u16)>| {
        if let (Term::Bind(i) | Term::Named(_, i), Col::Key(k, _)) = (term, col) {
            pk.push((*k, *i as u16));
        }
    };
    let mut pk: Vec<(usize, u16)> = Vec::new();
    let using = |binds: &mut Columns, u: &Using| {
        if let Some(Term::Bind(i) | Term::Named(_, i)) = &u.ttl
            && let Some(s) = binds.get_mut(*i)
        {
            *s = ("[ttl]".into(), CqlType::Int);
        }
        if let Some(Term::Bind(i) | Term::Named(_, i)) = &u.timestamp
            && let Some(s) = binds.get_mut(*i)
        {
            *s = ("[timestamp]".into(), CqlType::BigInt);
        }
    };
    let rels = |binds: &mut Columns,
                pk: &mut Vec<(usize, u16)>,
                relations: &[Relation],
                key_marker: &mut KeyMarker<'_>|
     -> Result<(), Failure> {
        for r in relations {
            if r.token {
                for v in &r.values {
                    if let Term::Bind(i) | Term::Named(_, i) = v
                        && let Some(s) = binds.get_mut(*i)
                    {
                        *s = ("partition key token".into(), CqlType::BigInt);
                    }
                }
                continue;
            }
            let Some(name) = r.columns.first() else { continue };
            let col = column(t, name).ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
            for v in &r.values {
                let ty = if r.op == "in" && r.values.len() == 1 && matches!(v, Term::Bind(_)) {
                    CqlType::List { elem: Box::new(col.ty().clone()), frozen: true }
                } else {
                    col.ty().clone()
                };
                if let Term::Bind(i) | Term::Named(_, i) = v
                    && let Some(s) = binds.get_mut(*i)
                {
                    *s = (name.clone(), ty);
                }
                if r.op == "=" {
                    key_marker(v, &col, pk);
                }
            }
        }
        Ok(())
    };
    let mut result_cols = None;
    match &statement {
        Statement::Insert { columns, values, using: u, .. } => {
            for (c, v) in columns.iter().zip(values) {
                let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                name_slot(&mut binds, v, c, col.ty().clone());
                key_marker(v, &col, &mut pk);
            }
            using(&mut binds, u);
        }
        Statement::Update { assignments, relations, using: u, .. } => {
            using(&mut binds, u);
            for a in assignments {
                match a {
                    Assignment::Set(c, v) | Assignment::Add(c, v) | Assignment::Remove(c, v) => {
                        let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                        name_slot(&mut binds, v, c, col.ty().clone());
                    }
                    Assignment::SetField(c, f, v) => {
                        let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                        if let CqlType::Udt(u) = col.ty().unreversed()
                            && let Some((_, ft)) = u.fields.iter().find(|(n, _)| n == f)
                        {
                            name_slot(&mut binds, v, f, ft.clone());
                        }
                    }
                    Assignment::SetElement(c, k, v) => {
                        let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                        if let CqlType::Map { key, value, .. } = col.ty() {
                            name_slot(&mut binds, k, c, (**key).clone());
                            name_slot(&mut binds, v, c, (**value).clone());
                        }
                    }
                }
            }
            rels(&mut binds, &mut pk, relations, &mut key_marker)?;
        }
        Statement::Delete { relations, using: u, .. } => {
            using(&mut binds, u);
            rels(&mut binds, &mut pk, relations, &mut key_marker)?;
        }
        Statement::Select { relations, selectors, limit, .. } => {
            rels(&mut binds, &mut pk, relations, &mut key_marker)?;
            if let Some(Term::Bind(i) | Term::Named(_, i)) = limit
                && let Some(s) = binds.get_mut(*i)
            {
                *s = ("[limit]".into(), CqlType::Int);
            }
            result_cols = Some(select_columns(t, selectors.as_ref())?);
        }
        _ => {}
    }
    pk.sort_unstable();
    if pk.len() == t.schema.partition_key.len() {
        pk_indexes = pk.into_iter().map(|(_, i)| i).collect();
    }
    Ok(Prepared {
        text: String::new(),
        keyspace: Some(ks.clone()),
        statement,
        binds,
        pk_indexes,
        table: (ks, qname.name),
        result: result_cols,
    })
}

fn project_columns(cols: &Columns, selectors: Option<&Vec<(Selector, Option<String>)>>) -> Result<Columns, Failure> {
    let Some(sel) = selectors else { return Ok(cols.clone()) };
    sel.iter()
        .map(|(s, alias)| {
            let (name, ty) = match s {
                Selector::Column(c) => cols
                    .iter()
                    .find(|x| &x.0 == c)
                    .cloned()
                    .ok_or_else(|| invalid(format!("Undefined column name {c}")))?,
                Selector::Count => ("count".to_string(), CqlType::BigInt),
                Selector::WriteTime(c) => (format!("writetime({c})"), CqlType::BigInt),
                Selector::Ttl(c) => (format!("ttl({c})"), CqlType::Int),
                Selector::Token(c) => (format!("system.token({})", c.join(", ")), CqlType::BigInt),
            };
            Ok((alias.clone().unwrap_or(name), ty))
        })
        .collect()
}

fn select_columns(t: &Table, selectors: Option<&Vec<(Selector, Option<String>)>>) -> Result<Columns, Failure> {
    project_columns(&all_columns(t), selectors)
}

fn next_timestamp(state: &mut State, params: &QueryParams, using: &Using, b: &Binder<'_>) -> Result<i64, Failure> {
    if let Some(t) = &using.timestamp
        && let Some(v) = b.int(t, "timestamp")?
    {
        return Ok(v);
    }
    if let Some(t) = params.timestamp {
        return Ok(t);
    }
    let now = now_micros().max(state.last_timestamp + 1);
    state.last_timestamp = now;
    Ok(now)
}

fn execute(
    state: &mut State,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
) -> Result<Outcome, Failure> {
    let out = execute_inner(state, shared, session, st, params)?;
    // Memtables are flushed to SSTables once they have taken enough writes.
    if let Statement::Insert { table, .. } | Statement::Update { table, .. } | Statement::Delete { table, .. } = st
        && let Ok(ks) = resolve_keyspace(session, table)
        && let Ok(t) = table_mut(state, &ks, &table.name)
    {
        t.writes += 1;
        if t.writes >= FLUSH_AFTER_WRITES {
            t.flush().map_err(|e| Failure { code: code::SERVER, message: e.to_string(), extra: vec![] })?;
        }
    }
    Ok(out)
}

fn execute_inner(
    state: &mut State,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
    params: &QueryParams,
) -> Result<Outcome, Failure> {
    let b = Binder { params };
    let now_s = state.now_override.unwrap_or_else(|| now_micros() / 1_000_000);
    match st {
        Statement::Use(ks) => {
            if !state.keyspaces.contains_key(ks) && !system::is_system_keyspace(ks) {
                return Err(invalid(format!("Keyspace '{ks}' does not exist")));
            }
            session.keyspace = Some(ks.clone());
            Ok(Outcome::SetKeyspace(ks.clone()))
        }
        Statement::CreateKeyspace { name, if_not_exists, replication, durable_writes } => {
            validate_name(name)?;
            if state.keyspaces.contains_key(name) || system::is_system_keyspace(name) {
                if *if_not_exists {
                    return Ok(Outcome::Void);
                }
                let mut w = Writer::default();
                w.string(name).string("");
                return Err(Failure {
                    code: code::ALREADY_EXISTS,
                    message: format!("Keyspace {name} already exists"),
                    extra: w.buf,
                });
            }
            if !replication.iter().any(|(k, _)| k == "class") {
                return Err(Failure {
                    code: code::CONFIG,
                    message: "Missing replication strategy class".into(),
                    extra: vec![],
                });
            }
            std::fs::create_dir_all(shared.config.data_dir.join(name)).map_err(|e| Failure {
                code: code::SERVER,
                message: e.to_string(),
                extra: vec![],
            })?;
            state.keyspaces.insert(
                name.clone(),
                Keyspace {
                    replication: replication.clone(),
                    durable_writes: *durable_writes,
                    tables: BTreeMap::new(),
                    types: vec![],
                },
            );
            state.schema_version = random_uuid(&mut state.seed);
            save_schema(state, &shared.config.data_dir)?;
            Ok(Outcome::SchemaChange { change: "CREATED", target: "KEYSPACE", keyspace: name.clone(), name: None })
        }
        Statement::DropKeyspace { name, if_exists } => {
            if state.keyspaces.remove(name).is_none() {
                return if *if_exists {
                    Ok(Outcome::Void)
                } else {
                    Err(invalid(format!("Keyspace {name} does not exist")))
                };
            }
            state.prepared.retain(|_, p| p.table.0 != *name);
            state.schema_version = random_uuid(&mut state.seed);
            save_schema(state, &shared.config.data_dir)?;
            Ok(Outcome::SchemaChange { change: "DROPPED", target: "KEYSPACE", keyspace: name.clone(), name: None })
        }
        Statement::CreateType { name, if_not_exists, text } => {
            let ks = resolve_keyspace(session, name)?;
            validate_name(&name.name)?;
            let parsed = cairn_format::schema::cql::parse(text).map_err(syntax)?;
            let mut ty = parsed.types.into_iter().next().ok_or_else(|| invalid("not a CREATE TYPE"))?;
            ty.keyspace = Some(ks.clone());
            let keyspace =
                state.keyspaces.get_mut(&ks).ok_or_else(|| invalid(format!("Keyspace {ks} does not exist")))?;
            if keyspace.types.iter().any(|t| t.name == ty.name) {
                if *if_not_exists {
                    return Ok(Outcome::Void);
                }
                let mut w = Writer::default();
                w.string(&ks).string(&ty.name);
                return Err(Failure {
                    code: code::ALREADY_EXISTS,
                    message: format!("A user type with name '{}' already exists", ty.name),
                    extra: w.buf,
                });
            }
            let n = ty.name.clone();
            keyspace.types.push(ty);
            state.schema_version = random_uuid(&mut state.seed);
            save_schema(state, &shared.config.data_dir)?;
            Ok(Outcome::SchemaChange { change: "CREATED", target: "TYPE", keyspace: ks, name: Some(n) })
        }
        Statement::CreateTable { table, if_not_exists, text } => {
            let ks = resolve_keyspace(session, table)?;
            validate_name(&table.name)?;
            let parsed = cairn_format::schema::cql::parse(text).map_err(syntax)?;
            let mut ct = parsed.tables.into_iter().next().ok_or_else(|| invalid("not a CREATE TABLE"))?;
            ct.keyspace = Some(ks.clone());
            let seed = &mut state.seed;
            let id = random_uuid(seed);
            let keyspace =
                state.keyspaces.get_mut(&ks).ok_or_else(|| invalid(format!("Keyspace {ks} does not exist")))?;
            if keyspace.tables.contains_key(&ct.name) {
                if *if_not_exists {
                    return Ok(Outcome::Void);
                }
                let mut w = Writer::default();
                w.string(&ks).string(&ct.name);
                return Err(Failure {
                    code: code::ALREADY_EXISTS,
                    message: format!("Cannot add already existing table \"{}\" to keyspace \"{ks}\"", ct.name),
                    extra: w.buf,
                });
            }
            if ct.partition_key.is_empty() {
                return Err(invalid("No PRIMARY KEY specified (exactly one required)"));
            }
            let mut schema = TableSchema::from_create(&ct, &keyspace.types).map_err(invalid)?;
            schema.keyspace = ks.clone();
            let header = Arc::new(header_for(&schema));
            let name = ct.name.clone();
            let id =
                shared.pending_ids.lock().ok().and_then(|mut m| m.remove(&(ks.clone(), name.clone()))).unwrap_or(id);
            let dir = crate::storage::table_dir(&shared.config.data_dir, &ks, &name, &id);
            let io = |e: std::io::Error| Failure { code: code::SERVER, message: e.to_string(), extra: vec![] };
            std::fs::create_dir_all(&dir).map_err(io)?;
            let create_text = text.replace(['\n', '\r'], " ");
            let mut schema_cql = String::new();
            for ty in &keyspace.types {
                let fields: Vec<String> = ty.fields.iter().map(|(n, t)| format!("{n} {t}")).collect();
                schema_cql.push_str(&format!("CREATE TYPE {ks}.{} ({});\n", ty.name, fields.join(", ")));
            }
            schema_cql.push_str(&create_text);
            schema_cql.push_str(";\n");
            std::fs::write(dir.join("schema.cql"), schema_cql).map_err(io)?;
            let sstables = crate::storage::open_table_dir(&dir).map_err(|e| Failure {
                code: code::SERVER,
                message: e.to_string(),
                extra: vec![],
            })?;
            keyspace.tables.insert(
                name.clone(),
                Table { schema, header, id, memtable: BTreeMap::new(), writes: 0, dir, sstables, create_text },
            );
            state.schema_version = random_uuid(&mut state.seed);
            save_schema(state, &shared.config.data_dir)?;
            Ok(Outcome::SchemaChange { change: "CREATED", target: "TABLE", keyspace: ks, name: Some(name) })
        }
        Statement::DropTable { table, if_exists } => {
            let ks = resolve_keyspace(session, table)?;
            let removed = state.keyspaces.get_mut(&ks).and_then(|k| k.tables.remove(&table.name));
            if removed.is_none() {
                return if *if_exists {
                    Ok(Outcome::Void)
                } else {
                    Err(invalid(format!("Table '{ks}.{}' doesn't exist", table.name)))
                };
            }
            state.prepared.retain(|_, p| !(p.table.0 == ks && p.table.1 == table.name));
            state.schema_version = random_uuid(&mut state.seed);
            Ok(Outcome::SchemaChange {
                change: "DROPPED",
                target: "TABLE",
                keyspace: ks,
                name: Some(table.name.clone()),
            })
        }
        Statement::Truncate(table) => {
            let ks = resolve_keyspace(session, table)?;
            let t = table_mut(state, &ks, &table.name)?;
            t.memtable.clear();
            // The SSTables go too (Cassandra snapshots first when auto_snapshot is on).
            for s in t.sstables.drain(..) {
                for c in cairn_format::Component::BIG {
                    let _ = std::fs::remove_file(s.path(c));
                }
            }
            Ok(Outcome::Void)
        }
        Statement::Insert { table, columns, values, using, if_not_exists, json } => {
            if *if_not_exists {
                return Err(invalid("Lightweight transactions (IF NOT EXISTS) are not supported by this node"));
            }
            if json.is_some() {
                return Err(invalid("INSERT JSON is not supported yet"));
            }
            let ks = resolve_keyspace(session, table)?;
            if columns.len() != values.len() {
                return Err(invalid("Unmatched column names/values"));
            }
            let ts = next_timestamp(state, params, using, &b)?;
            let t = table_mut(state, &ks, &table.name)?;
            let ttl = ttl_of(t, using, &b)?;
            let mut keys: Vec<Option<Vec<u8>>> = vec![None; t.schema.partition_key.len()];
            let mut cks: Vec<Option<Vec<u8>>> = vec![None; t.schema.clustering.len()];
            let mut cells: Vec<(Col, Bound)> = Vec::new();
            for (c, v) in columns.iter().zip(values) {
                let col = column(t, c).ok_or_else(|| invalid(format!("Undefined column name {c}")))?;
                let bound = b.bind(v, col.ty(), c)?;
                match (&col, bound) {
                    (Col::Key(i, _), Bound::Bytes(x)) => keys[*i] = Some(x),
                    (Col::Clustering(i, _), Bound::Bytes(x)) => cks[*i] = Some(x),
                    (Col::Key(..) | Col::Clustering(..), _) => {
                        return Err(invalid(format!("Invalid null value in condition for column {c}")));
                    }
                    (_, bound) => cells.push((col, bound)),
                }
            }
            let key = partition_key(t, &keys)?;
            let clustering = full_clustering(t, &cks)?;
            let header = Arc::clone(&t.header);
            let mut seed = statement_seed(st, params, ts);
            let p = partition_mut(t, key);
            p.row_mut(&clustering).add_liveness(liveness(ts, ttl, now_s));
            for (col, bound) in cells {
                write_cell(p, &header, &clustering, &col, bound, ts, ttl, now_s, &mut seed)?;
            }
            Ok(Outcome::Void)
        }
        Statement::Update { table, using, assignments, relations, conditional } => {
            if *conditional {
                return Err(invalid("Lightweight transactions (IF ...) are not supported by this node"));
            }
            let ks = resolve_keyspace(session, table)?;
            let ts = next_timestamp(state, params, using, &b)?;
            let t = table_mut(state, &ks, &table.name)?;
            let ttl = ttl_of(t, using, &b)?;
            let (keys, cks) = key_restrictions(t, relations, &b)?;
            let header = Arc::clone(&t.header);
            let schema = t.schema.clone();
            // List cell paths: derived from the statement, so a commit-log replay makes the same ones.
            let mut seed = statement_seed(st, params, ts);
            // An UPDATE of static columns only names the partition alone.
            let static_only = assignments.iter().all(|a| {
                let (Assignment::Set(c, _)
                | Assignment::Add(c, _)
                | Assignment::Remove(c, _)
                | Assignment::SetElement(c, _, _)
                | Assignment::SetField(c, _, _)) = a;
                matches!(column_in(&header, &schema, c), Ok(Col::Static(..)))
            });
            for key in keys {
                for cl in &cks {
                    let clustering =
                        if static_only && cl.iter().all(Option::is_none) { vec![] } else { full_clustering(t, cl)? };
                    let p = partition_mut(t, key.clone());
                    for a in assignments {
                        let (name, term) = match a {
                            Assignment::Set(c, v) | Assignment::Add(c, v) | Assignment::Remove(c, v) => (c, v),
                            Assignment::SetElement(c, _, v) | Assignment::SetField(c, _, v) => (c, v),
                        };
                        let col = column_in(&header, &schema, name)?;
                        if matches!(col, Col::Key(..) | Col::Clustering(..)) {
                            return Err(invalid(format!("PRIMARY KEY part {name} found in SET part")));
                        }
                        match a {
                            Assignment::Set(..) => {
                                let bound = b.bind(term, col.ty(), name)?;
                                write_cell(p, &header, &clustering, &col, bound, ts, ttl, now_s, &mut seed)?;
                            }
                            Assignment::Add(..) | Assignment::Remove(..) => {
                                // `m = m - {k, ...}` names map keys as a set.
                                let ty = match (a, col.ty().unreversed()) {
                                    (Assignment::Remove(..), CqlType::Map { key, .. }) => {
                                        CqlType::Set { elem: key.clone(), frozen: true }
                                    }
                                    (_, t) => t.clone(),
                                };
                                let bound = b.bind(term, &ty, name)?;
                                let add = matches!(a, Assignment::Add(..));
                                add_elements(p, &clustering, &col, bound, add, ts, ttl, now_s, &mut seed)?;
                            }
                            Assignment::SetField(_, field, v) => {
                                let CqlType::Udt(udt) = col.ty().unreversed() else {
                                    return Err(invalid(format!("Invalid field selection: {name} is not a user type")));
                                };
                                let i = udt
                                    .fields
                                    .iter()
                                    .position(|(n, _)| n == field)
                                    .ok_or_else(|| invalid(format!("Unknown field {field} in {name}")))?;
                                let ft = udt.fields[i].1.clone();
                                let path = (i as u16).to_be_bytes().to_vec();
                                let idx = col_index(&col);
                                let cell = match b.bind(v, &ft, field)? {
                                    Bound::Bytes(x) => make_cell(idx, Some(path), x, ts, ttl, now_s),
                                    Bound::Null => OwnedCell::tombstone(idx, Some(path), ts, now_s),
                                    Bound::Unset => continue,
                                };
                                row_for(p, &clustering, &col).add_cell(cell);
                            }
                            Assignment::SetElement(_, k, v) => {
                                let CqlType::Map { key: kt, value: vt, .. } = col.ty().unreversed() else {
                                    return Err(invalid(format!("Invalid operation for non-map column {name}")));
                                };
                                let (Bound::Bytes(kb), vb) = (b.bind(k, kt, name)?, b.bind(v, vt, name)?) else {
                                    return Err(invalid("Invalid null map key"));
                                };
                                let idx = col_index(&col);
                                let cell = match vb {
                                    Bound::Bytes(v) => make_cell(idx, Some(kb), v, ts, ttl, now_s),
                                    _ => OwnedCell::tombstone(idx, Some(kb), ts, now_s),
                                };
                                row_for(p, &clustering, &col).add_cell(cell);
                            }
                        }
                    }
                }
            }
            Ok(Outcome::Void)
        }
        Statement::Delete { table, columns, using, relations, conditional } => {
            if *conditional {
                return Err(invalid("Lightweight transactions (IF ...) are not supported by this node"));
            }
            let ks = resolve_keyspace(session, table)?;
            let ts = next_timestamp(state, params, using, &b)?;
            let t = table_mut(state, &ks, &table.name)?;
            // Slices on a clustering column (`c > ?`, `c <= ?`) delete a range: a range tombstone.
            let is_slice = |r: &Relation| matches!(r.op.as_str(), "<" | "<=" | ">" | ">=");
            let slices: Vec<&Relation> = relations.iter().filter(|r| is_slice(r)).collect();
            let eq: Vec<Relation> = relations.iter().filter(|r| !is_slice(r)).cloned().collect();
            let (keys, cks) = key_restrictions(t, &eq, &b)?;
            let header = Arc::clone(&t.header);
            let schema = t.schema.clone();
            let deletion = DeletionTime { marked_for_delete_at: ts, local_deletion_time: now_s };
            let n_ck = t.schema.clustering.len();
            if !slices.is_empty() {
                if !columns.is_empty() {
                    return Err(invalid("Range deletions are not supported for specific columns"));
                }
                let name = slices[0].columns.first().cloned().unwrap_or_default();
                if slices.iter().any(|r| r.columns.first() != Some(&name)) {
                    return Err(invalid("A range deletion restricts one clustering column"));
                }
                let Col::Clustering(i, ty) = column_in(&header, &schema, &name)? else {
                    return Err(invalid(format!(
                        "{name} is not a clustering column: only clustering columns can be restricted by a slice"
                    )));
                };
                // Each bound: the value and whether it is inclusive.
                type SliceBound = Option<(Vec<u8>, bool)>;
                let (mut start, mut end): (SliceBound, SliceBound) = (None, None);
                for r in &slices {
                    let v = bind_values(r, &ty, &name, &b)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| invalid("missing slice bound"))?;
                    match r.op.as_str() {
                        ">" => start = Some((v, false)),
                        ">=" => start = Some((v, true)),
                        "<" => end = Some((v, false)),
                        _ => end = Some((v, true)),
                    }
                }
                for key in &keys {
                    for cl in &cks {
                        let given = cl.iter().take_while(|c| c.is_some()).count();
                        if given != i {
                            return Err(invalid(
                                "The clustering columns before a sliced one must be restricted by equality",
                            ));
                        }
                        let prefix: Vec<Option<Vec<u8>>> = cl.iter().take(given).cloned().collect();
                        let bound = |b: &SliceBound| match b {
                            Some((v, incl)) => {
                                let mut p = prefix.clone();
                                p.push(Some(v.clone()));
                                (p, *incl)
                            }
                            None => (prefix.clone(), true),
                        };
                        let ((s, si), (e, ei)) = (bound(&start), bound(&end));
                        let p = partition_mut(t, key.clone());
                        p.range_tombstones.push(cairn_format::partition::RangeTombstone {
                            start: s,
                            start_inclusive: si,
                            end: e,
                            end_inclusive: ei,
                            deletion,
                        });
                    }
                }
                return Ok(Outcome::Void);
            }
            for key in keys {
                for cl in &cks {
                    let given = cl.iter().take_while(|c| c.is_some()).count();
                    let p = partition_mut(t, key.clone());
                    if columns.is_empty() {
                        if given == 0 {
                            p.delete(deletion);
                        } else if given == n_ck {
                            p.row_mut(cl).delete(deletion);
                        } else {
                            let prefix: Vec<Option<Vec<u8>>> = cl.iter().take(given).cloned().collect();
                            p.range_tombstones.push(cairn_format::partition::RangeTombstone {
                                start: prefix.clone(),
                                start_inclusive: true,
                                end: prefix,
                                end_inclusive: true,
                                deletion,
                            });
                        }
                        continue;
                    }
                    if given != n_ck && columns.iter().any(|(c, _)| !header.static_columns.iter().any(|s| &s.name == c))
                    {
                        return Err(invalid("Missing mandatory PRIMARY KEY part to delete columns"));
                    }
                    for (name, element) in columns {
                        let col = column_in(&header, &schema, name)?;
                        let idx = col_index(&col);
                        let row = row_for(p, cl, &col);
                        match element {
                            Some(k) => {
                                let kt = col.ty().path_type().cloned().unwrap_or(CqlType::Blob);
                                let Bound::Bytes(kb) = b.bind(k, &kt, name)? else {
                                    return Err(invalid("Invalid null element"));
                                };
                                row.add_cell(OwnedCell::tombstone(idx, Some(kb), ts, now_s));
                            }
                            None if col.ty().is_multi_cell() => row.delete_column(idx, deletion),
                            None => row.add_cell(OwnedCell::tombstone(idx, None, ts, now_s)),
                        }
                    }
                }
            }
            Ok(Outcome::Void)
        }
        Statement::Select {
            table,
            selectors,
            relations,
            limit,
            per_partition_limit,
            order,
            json,
            distinct,
            allow_filtering,
        } => {
            if *json || *distinct {
                return Err(invalid("SELECT JSON and SELECT DISTINCT are not supported yet"));
            }
            let ks = resolve_keyspace(session, table)?;
            let limit = match limit {
                Some(t) => b.int(t, "LIMIT")?.map(|v| v.max(0) as usize),
                None => None,
            };
            let ppl = match per_partition_limit {
                Some(t) => b.int(t, "PER PARTITION LIMIT")?.map(|v| v.max(0) as usize),
                None => None,
            };
            let (columns, rows, table_name) = if system::is_system_keyspace(&ks) {
                let (cols, rows) = system::table(state, shared, &ks, &table.name)
                    .ok_or_else(|| invalid(format!("table {ks}.{} does not exist", table.name)))?;
                let rows = filter_system_rows(&cols, rows, relations, &b)?;
                let out_cols = project_columns(&cols, selectors.as_ref())?;
                let rows = project_plain(&cols, rows, selectors.as_ref());
                (out_cols, rows, table.name.clone())
            } else {
                let t = state
                    .keyspaces
                    .get(&ks)
                    .and_then(|k| k.tables.get(&table.name))
                    .ok_or_else(|| invalid(format!("table {} does not exist", table.name)))?;
                let (cols, rows) =
                    select_rows(t, selectors.as_ref(), relations, order, ppl, *allow_filtering, &b, now_s)?;
                (cols, rows, table.name.clone())
            };
            let mut rows = rows;
            if let Some(l) = limit {
                rows.truncate(l);
            }
            // Paging: the state is the offset of the next row.
            let offset = params
                .paging_state
                .as_ref()
                .and_then(|s| <[u8; 8]>::try_from(s.as_slice()).ok())
                .map_or(0, u64::from_be_bytes) as usize;
            let page = params.page_size.filter(|&p| p > 0).map(|p| p as usize);
            let total = rows.len();
            let mut rows: Vec<Row> = rows.into_iter().skip(offset).collect();
            let mut paging_state = None;
            if let Some(p) = page
                && rows.len() > p
            {
                rows.truncate(p);
                paging_state = Some(((offset + p) as u64).to_be_bytes().to_vec());
            }
            let _ = total;
            Ok(Outcome::Rows { keyspace: ks, table: table_name, columns, rows, paging_state })
        }
        Statement::Batch { statements, using } => {
            let ts = next_timestamp(state, params, using, &b)?;
            for s in statements {
                let p = QueryParams { timestamp: Some(ts), ..params.clone() };
                execute(state, shared, session, s, &p)?;
            }
            Ok(Outcome::Void)
        }
        Statement::Describe(what, name) => describe(state, session, what, name.as_ref()),
        Statement::Unsupported(what) => Err(invalid(format!("{what} is not supported by this node"))),
    }
}

fn keyspace_cql(name: &str, k: &Keyspace) -> String {
    let repl: Vec<String> = k
        .replication
        .iter()
        .map(|(a, b)| {
            let v =
                if a == "class" && !b.contains('.') { format!("org.apache.cassandra.locator.{b}") } else { b.clone() };
            format!("'{a}': '{v}'")
        })
        .collect();
    format!(
        "CREATE KEYSPACE {name} WITH replication = {{{}}}  AND durable_writes = {};",
        repl.join(", "),
        k.durable_writes
    )
}

fn type_cql(ks: &str, ty: &CreateType) -> String {
    let fields: Vec<String> = ty.fields.iter().map(|(n, t)| format!("    {n} {t}")).collect();
    format!("CREATE TYPE {ks}.{} (\n{}\n);", ty.name, fields.join(",\n"))
}

/// Server-side DESCRIBE, as Cassandra 4.0 answers it: rows of (keyspace_name, type, name,
/// create_statement).
fn describe(state: &State, session: &Session, what: &str, name: Option<&QName>) -> Result<Outcome, Failure> {
    let columns: Columns = ["keyspace_name", "type", "name", "create_statement"]
        .iter()
        .map(|n| ((*n).to_string(), CqlType::Text))
        .collect();
    let row = |ks: &str, kind: &str, n: &str, stmt: &str| -> Row {
        vec![values::text(ks), values::text(kind), values::text(n), values::text(stmt)]
    };
    let keyspace_rows = |ks: &str, k: &Keyspace| -> Vec<Row> {
        let mut rows = vec![row(ks, "keyspace", ks, &keyspace_cql(ks, k))];
        rows.extend(k.types.iter().map(|t| row(ks, "type", &t.name, &type_cql(ks, t))));
        rows.extend(k.tables.iter().map(|(tn, t)| row(ks, "table", tn, &format!("{};", t.create_text))));
        rows
    };
    let find_ks = |n: &str| state.keyspaces.get(n).ok_or_else(|| invalid(format!("'{n}' not found in keyspaces")));
    let rows: Vec<Row> = match (what, name) {
        ("keyspaces", _) => state.keyspaces.keys().map(|k| row(k, "keyspace", k, k)).collect(),
        ("tables", _) => state
            .keyspaces
            .iter()
            .flat_map(|(k, ks)| ks.tables.keys().map(move |t| (k.clone(), t.clone())))
            .map(|(k, t)| row(&k, "table", &t, &t))
            .collect(),
        ("types", _) => state
            .keyspaces
            .iter()
            .flat_map(|(k, ks)| ks.types.iter().map(move |t| (k.clone(), t.name.clone())))
            .map(|(k, t)| row(&k, "type", &t, &t))
            .collect(),
        ("schema", _) => state.keyspaces.iter().flat_map(|(k, ks)| keyspace_rows(k, ks)).collect(),
        ("cluster", _) => {
            vec![row("", "cluster", "Cairn Cluster", "Partitioner: org.apache.cassandra.dht.Murmur3Partitioner")]
        }
        ("keyspace", q) => {
            let ks = match q {
                Some(q) => q.name.clone(),
                None => {
                    session.keyspace.clone().ok_or_else(|| invalid("No keyspace specified and no current keyspace"))?
                }
            };
            keyspace_rows(&ks, find_ks(&ks)?)
        }
        ("type", Some(q)) => {
            let ks = resolve_keyspace(session, q)?;
            let t = find_ks(&ks)?
                .types
                .iter()
                .find(|t| t.name == q.name)
                .ok_or_else(|| invalid(format!("Type '{}' not found", q.name)))?;
            vec![row(&ks, "type", &t.name, &type_cql(&ks, t))]
        }
        ("table", Some(q)) | ("name", Some(q)) => {
            if what == "name" && q.keyspace.is_none() && state.keyspaces.contains_key(&q.name) {
                let k = find_ks(&q.name)?;
                keyspace_rows(&q.name, k)
            } else {
                let ks = resolve_keyspace(session, q)?;
                let t = find_ks(&ks)?
                    .tables
                    .get(&q.name)
                    .ok_or_else(|| invalid(format!("'{}' not found in keyspace '{ks}'", q.name)))?;
                vec![row(&ks, "table", &q.name, &format!("{};", t.create_text))]
            }
        }
        _ => return Err(invalid("DESCRIBE what?")),
    };
    Ok(Outcome::Rows { keyspace: String::new(), table: "describe".into(), columns, rows, paging_state: None })
}

/// A seed for the timeuuid paths of list elements a statement appends: the same for the same
/// statement, values and timestamp (a commit-log replay), different otherwise.
fn statement_seed(st: &Statement, params: &QueryParams, ts: i64) -> u64 {
    let text = format!("{st:?}{:?}{ts}", params.values);
    let (a, b) = cairn_format::partitioner::murmur3_cassandra(text.as_bytes());
    (a ^ b) as u64
}

fn column_in(header: &SerializationHeader, schema: &TableSchema, name: &str) -> Result<Col, Failure> {
    if let Some(i) = schema.partition_key.iter().position(|c| c.name == name) {
        return Ok(Col::Key(i, schema.partition_key[i].ty.clone()));
    }
    if let Some(i) = schema.clustering.iter().position(|(c, _)| c.name == name) {
        return Ok(Col::Clustering(i, schema.clustering[i].0.ty.clone()));
    }
    if let Some(i) = header.static_columns.iter().position(|c| c.name == name) {
        return Ok(Col::Static(i as u16, header.static_columns[i].ty.clone()));
    }
    if let Some(i) = header.regular_columns.iter().position(|c| c.name == name) {
        return Ok(Col::Regular(i as u16, header.regular_columns[i].ty.clone()));
    }
    Err(invalid(format!("Undefined column name {name}")))
}

fn col_index(c: &Col) -> u16 {
    match c {
        Col::Static(i, _) | Col::Regular(i, _) => *i,
        _ => 0,
    }
}

fn ttl_of(t: &Table, using: &Using, b: &Binder<'_>) -> Result<i32, Failure> {
    let ttl = match &using.ttl {
        Some(term) => b.int(term, "ttl")?.unwrap_or(0),
        None => t.schema.option("default_time_to_live").and_then(|v| v.trim().parse().ok()).unwrap_or(0),
    };
    if !(0..=630_720_000).contains(&ttl) {
        return Err(invalid(format!("ttl is too large. requested ({ttl}) maximum (630720000)")));
    }
    Ok(ttl as i32)
}

fn liveness(ts: i64, ttl: i32, now_s: i64) -> LivenessInfo {
    if ttl > 0 {
        LivenessInfo { timestamp: ts, ttl, local_expiration_time: now_s + i64::from(ttl) }
    } else {
        LivenessInfo { timestamp: ts, ttl: 0, local_expiration_time: cairn_format::deletion::NO_DELETION_TIME }
    }
}

fn make_cell(column: u16, path: Option<Vec<u8>>, value: Vec<u8>, ts: i64, ttl: i32, now_s: i64) -> OwnedCell {
    if ttl > 0 {
        OwnedCell::expiring(column, path, value, ts, ttl, now_s)
    } else {
        OwnedCell::live(column, path, value, ts)
    }
}

fn partition_key(t: &Table, keys: &[Option<Vec<u8>>]) -> Result<Vec<u8>, Failure> {
    let missing: Vec<&str> =
        keys.iter().zip(&t.schema.partition_key).filter(|(k, _)| k.is_none()).map(|(_, c)| c.name.as_str()).collect();
    if !missing.is_empty() {
        return Err(invalid(format!("Some partition key parts are missing: {}", missing.join(", "))));
    }
    let parts: Vec<&[u8]> = keys.iter().map(|k| k.as_deref().unwrap_or_default()).collect();
    Ok(if parts.len() == 1 { parts[0].to_vec() } else { compose(&parts) })
}

fn full_clustering(t: &Table, cks: &[Option<Vec<u8>>]) -> Result<Vec<Option<Vec<u8>>>, Failure> {
    if let Some((c, _)) = cks.iter().zip(&t.schema.clustering).find(|(k, _)| k.is_none()).map(|(_, c)| c) {
        return Err(invalid(format!("Some clustering keys are missing: {}", c.name)));
    }
    Ok(cks.to_vec())
}

fn partition_mut(t: &mut Table, key: Vec<u8>) -> &mut Partition {
    let token = Token::Murmur3(murmur3_token(&key));
    t.memtable.entry((token, key.clone())).or_insert_with(|| Partition::new(key))
}

fn row_for<'p>(
    p: &'p mut Partition,
    clustering: &[Option<Vec<u8>>],
    col: &Col,
) -> &'p mut cairn_format::partition::Row {
    match col {
        Col::Static(..) => p.static_mut(),
        _ => p.row_mut(clustering),
    }
}

/// Write one column of a row: a simple cell, or a whole collection (a complex deletion just
/// before the write, then one cell per element, as Cassandra writes `c = {...}`).
#[allow(clippy::too_many_arguments)]
fn write_cell(
    p: &mut Partition,
    header: &SerializationHeader,
    clustering: &[Option<Vec<u8>>],
    col: &Col,
    bound: Bound,
    ts: i64,
    ttl: i32,
    now_s: i64,
    seed: &mut u64,
) -> Result<(), Failure> {
    let _ = header;
    let idx = col_index(col);
    let ty = col.ty().clone();
    let row = row_for(p, clustering, col);
    if !ty.is_multi_cell() {
        match bound {
            Bound::Bytes(v) => row.add_cell(make_cell(idx, None, v, ts, ttl, now_s)),
            Bound::Null => row.add_cell(OwnedCell::tombstone(idx, None, ts, now_s)),
            Bound::Unset => {}
        }
        return Ok(());
    }
    match bound {
        Bound::Unset => Ok(()),
        Bound::Null => {
            row.delete_column(idx, DeletionTime { marked_for_delete_at: ts, local_deletion_time: now_s });
            Ok(())
        }
        Bound::Bytes(v) => {
            row.delete_column(idx, DeletionTime { marked_for_delete_at: ts - 1, local_deletion_time: now_s });
            add_elements_to(row, idx, &ty, &v, true, ts, ttl, now_s, seed)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn add_elements(
    p: &mut Partition,
    clustering: &[Option<Vec<u8>>],
    col: &Col,
    bound: Bound,
    add: bool,
    ts: i64,
    ttl: i32,
    now_s: i64,
    seed: &mut u64,
) -> Result<(), Failure> {
    let idx = col_index(col);
    let ty = col.ty().clone();
    if !ty.is_multi_cell() {
        return Err(invalid(format!("Invalid operation for non-collection column (type {ty})")));
    }
    let Bound::Bytes(v) = bound else { return Ok(()) };
    let row = row_for(p, clustering, col);
    add_elements_to(row, idx, &ty, &v, add, ts, ttl, now_s, seed)
}

#[allow(clippy::too_many_arguments)]
fn add_elements_to(
    row: &mut cairn_format::partition::Row,
    idx: u16,
    ty: &CqlType,
    v: &[u8],
    add: bool,
    ts: i64,
    ttl: i32,
    now_s: i64,
    seed: &mut u64,
) -> Result<(), Failure> {
    let bad = || invalid(format!("Invalid value for a {ty}"));
    let cell = |path: Vec<u8>, value: Vec<u8>| {
        if add {
            make_cell(idx, Some(path), value, ts, ttl, now_s)
        } else {
            OwnedCell::tombstone(idx, Some(path), ts, now_s)
        }
    };
    match ty.unreversed() {
        CqlType::Set { .. } => {
            for (e, _) in split_collection(v, false).ok_or_else(bad)? {
                row.add_cell(cell(e, vec![]));
            }
        }
        CqlType::Map { .. } => {
            // `m = m - {k1, k2}` removes keys given as a set.
            if !add {
                for (k, _) in split_collection(v, false).ok_or_else(bad)? {
                    row.add_cell(OwnedCell::tombstone(idx, Some(k), ts, now_s));
                }
                return Ok(());
            }
            for (k, val) in split_collection(v, true).ok_or_else(bad)? {
                row.add_cell(cell(k, val.unwrap_or_default()));
            }
        }
        CqlType::List { .. } => {
            if !add {
                return Err(invalid("Removing list elements by value is not supported yet"));
            }
            for (i, (e, _)) in split_collection(v, false).ok_or_else(bad)?.into_iter().enumerate() {
                let path = timeuuid(ts + i as i64, seed).to_vec();
                row.add_cell(cell(path, e));
            }
        }
        CqlType::Udt(_) => {
            for (i, f) in split_fields(v).ok_or_else(bad)?.into_iter().enumerate() {
                let path = (i as u16).to_be_bytes().to_vec();
                match f {
                    Some(val) => row.add_cell(make_cell(idx, Some(path), val, ts, ttl, now_s)),
                    None => row.add_cell(OwnedCell::tombstone(idx, Some(path), ts, now_s)),
                }
            }
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// The partition keys and clustering prefixes a WHERE clause names (`=` and `IN` only).
fn key_restrictions(t: &Table, relations: &[Relation], b: &Binder<'_>) -> Result<KeySet, Failure> {
    let mut keys: Vec<Vec<Vec<u8>>> = vec![vec![]; t.schema.partition_key.len()];
    let mut cks: Vec<Vec<Vec<u8>>> = vec![vec![]; t.schema.clustering.len()];
    for r in relations {
        let Some(name) = r.columns.first() else { continue };
        let col = column(t, name).ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
        let vals = bind_values(r, col.ty(), name, b)?;
        match (&col, r.op.as_str()) {
            (Col::Key(i, _), "=" | "in") => keys[*i] = vals,
            (Col::Clustering(i, _), "=" | "in") => cks[*i] = vals,
            _ => {
                return Err(invalid(format!(
                    "Only EQ and IN relations on primary key columns are supported here (got {name} {})",
                    r.op
                )));
            }
        }
    }
    if keys.iter().any(Vec::is_empty) {
        let missing: Vec<&str> = keys
            .iter()
            .zip(&t.schema.partition_key)
            .filter(|(k, _)| k.is_empty())
            .map(|(_, c)| c.name.as_str())
            .collect();
        return Err(invalid(format!("Some partition key parts are missing: {}", missing.join(", "))));
    }
    let mut key_bytes = vec![vec![]];
    for options in &keys {
        key_bytes = key_bytes
            .into_iter()
            .flat_map(|prefix: Vec<Vec<u8>>| {
                options.iter().map(move |o| {
                    let mut p = prefix.clone();
                    p.push(o.clone());
                    p
                })
            })
            .collect();
    }
    let keys = key_bytes
        .into_iter()
        .map(|parts| {
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            if refs.len() == 1 { refs[0].to_vec() } else { compose(&refs) }
        })
        .collect();
    let mut clusterings: Vec<Vec<Option<Vec<u8>>>> = vec![vec![]];
    for (i, options) in cks.iter().enumerate() {
        if options.is_empty() {
            for c in &mut clusterings {
                c.extend(std::iter::repeat_n(None, t.schema.clustering.len() - i));
            }
            break;
        }
        clusterings = clusterings
            .into_iter()
            .flat_map(|prefix| {
                options.iter().map(move |o| {
                    let mut p = prefix.clone();
                    p.push(Some(o.clone()));
                    p
                })
            })
            .collect();
    }
    Ok((keys, clusterings))
}

fn bind_values(r: &Relation, ty: &CqlType, name: &str, b: &Binder<'_>) -> Result<Vec<Vec<u8>>, Failure> {
    let mut out = Vec::new();
    if r.op == "in" && r.values.len() == 1 && matches!(r.values[0], Term::Bind(_) | Term::Named(..)) {
        let list = CqlType::List { elem: Box::new(ty.clone()), frozen: true };
        if let Bound::Bytes(v) = b.bind(&r.values[0], &list, name)? {
            out.extend(
                split_collection(&v, false).ok_or_else(|| invalid("Invalid IN list"))?.into_iter().map(|(e, _)| e),
            );
        }
        return Ok(out);
    }
    for v in &r.values {
        match b.bind(v, ty, name)? {
            Bound::Bytes(x) => out.push(x),
            _ => return Err(invalid(format!("Invalid null value in condition for column {name}"))),
        }
    }
    Ok(out)
}

fn filter_system_rows(
    cols: &Columns,
    rows: Vec<Row>,
    relations: &[Relation],
    b: &Binder<'_>,
) -> Result<Vec<Row>, Failure> {
    let mut rows = rows;
    for r in relations {
        let Some(name) = r.columns.first() else { continue };
        let i =
            cols.iter().position(|c| &c.0 == name).ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
        let vals = bind_values(r, &cols[i].1, name, b)?;
        if r.op != "=" && r.op != "in" {
            return Err(invalid("only = and IN restrictions are supported on system tables"));
        }
        rows.retain(|row| row.get(i).and_then(|v| v.as_ref()).is_some_and(|v| vals.contains(v)));
    }
    Ok(rows)
}

fn project_plain(cols: &Columns, rows: Vec<Row>, selectors: Option<&Vec<(Selector, Option<String>)>>) -> Vec<Row> {
    let Some(sel) = selectors else { return rows };
    if sel.iter().any(|(s, _)| *s == Selector::Count) {
        return vec![vec![Some((rows.len() as i64).to_be_bytes().to_vec())]];
    }
    rows.into_iter()
        .map(|r| {
            sel.iter()
                .map(|(s, _)| match s {
                    Selector::Column(c) => {
                        cols.iter().position(|x| &x.0 == c).and_then(|i| r.get(i).cloned().flatten())
                    }
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// One live CQL row of a user table, with its cells' write times and TTLs.
struct LiveRow {
    key: Vec<u8>,
    clustering: Vec<Option<Vec<u8>>>,
    /// Per header column (static then regular): value, write time, TTL left.
    statics: Vec<Timed>,
    regulars: Vec<Timed>,
}

/// A row's live cells as the node answers them, gathered by [`cairn_format::live`].
struct TimedCells {
    now_s: i64,
    /// Per header column: a simple column's value, write time and TTL left.
    simple: Vec<Timed>,
    /// Per header column: a multi-cell column's live (path, value) cells.
    elems: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    /// Per header column: a multi-cell column's newest write time and its last cell's TTL left.
    times: Vec<(i64, Option<i64>)>,
}

impl TimedCells {
    fn new(columns: usize, now_s: i64) -> Self {
        TimedCells {
            now_s,
            simple: vec![None; columns],
            elems: vec![vec![]; columns],
            times: vec![(i64::MIN, None); columns],
        }
    }

    /// Per header column: value, write time, TTL left; a multi-cell column's cells serialized
    /// as one collection or UDT value.
    fn into_values(self, cols: &[HeaderColumn]) -> Vec<Timed> {
        let mut out = self.simple;
        for (i, e) in self.elems.into_iter().enumerate() {
            if e.is_empty() {
                continue;
            }
            let Some(hc) = cols.get(i) else { continue };
            let bytes = match hc.ty.unreversed() {
                CqlType::Set { .. } => serialize_collection(e.iter().map(|(p, _)| p.as_slice())),
                CqlType::List { .. } => serialize_collection(e.iter().map(|(_, v)| v.as_slice())),
                CqlType::Map { .. } => serialize_map(e.iter().map(|(p, v)| (p.as_slice(), v.as_slice()))),
                CqlType::Udt(udt) => {
                    let mut fields: Vec<Option<&[u8]>> = vec![None; udt.fields.len()];
                    for (p, v) in &e {
                        if let Some(f) =
                            cairn_format::types::value::udt_field_index(p).and_then(|fi| fields.get_mut(fi))
                        {
                            *f = Some(v.as_slice());
                        }
                    }
                    serialize_fields(fields.into_iter())
                }
                _ => continue,
            };
            if let Some(slot) = out.get_mut(i) {
                let (ts, ttl) = self.times.get(i).copied().unwrap_or((i64::MIN, None));
                *slot = Some((bytes, ts, ttl));
            }
        }
        out
    }
}

impl LiveCells for TimedCells {
    fn add(&mut self, cell: &cairn_format::data::Cell, path: Option<&[u8]>, value: &[u8]) {
        let i = cell.column as usize;
        let ttl_left = cell.is_expiring().then(|| cell.local_deletion_time - self.now_s);
        match path {
            Some(path) => {
                if let Some(e) = self.elems.get_mut(i) {
                    e.push((path.to_vec(), value.to_vec()));
                }
                if let Some(t) = self.times.get_mut(i) {
                    *t = (t.0.max(cell.timestamp), ttl_left);
                }
            }
            None => {
                if let Some(slot) = self.simple.get_mut(i) {
                    *slot = Some((value.to_vec(), cell.timestamp, ttl_left));
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.simple.iter().all(Option::is_none) && self.elems.iter().all(Vec::is_empty)
    }
}

fn live_rows(t: &Table, p: &Partition, now_s: i64) -> Vec<LiveRow> {
    let header = &t.header;
    let (static_columns, regular_columns) = (&header.static_columns, &header.regular_columns);
    let mut statics = TimedCells::new(static_columns.len(), now_s);
    let static_row = p.static_unfiltered(header);
    let mut partition = LivePartition::new(static_columns, regular_columns, now_s, static_row.as_ref(), &mut statics);
    let statics = statics.into_values(static_columns);
    let mut out = Vec::new();
    for u in p.unfiltereds(header) {
        let mut regulars = TimedCells::new(regular_columns.len(), now_s);
        if partition.row(&u, &mut regulars) {
            out.push(LiveRow {
                key: p.key.clone(),
                clustering: (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect(),
                statics: statics.clone(),
                regulars: regulars.into_values(regular_columns),
            });
        }
    }
    if partition.shows_static_row() {
        out.push(LiveRow {
            key: p.key.clone(),
            clustering: vec![None; t.schema.clustering.len()],
            statics,
            regulars: vec![None; regular_columns.len()],
        });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn select_rows(
    t: &Table,
    selectors: Option<&Vec<(Selector, Option<String>)>>,
    relations: &[Relation],
    order: &[(String, bool)],
    per_partition_limit: Option<usize>,
    allow_filtering: bool,
    b: &Binder<'_>,
    now_s: i64,
) -> Result<(Columns, Vec<Row>), Failure> {
    let columns = select_columns(t, selectors)?;
    // Partition-key restrictions decide which partitions are read; the rest filter rows.
    let pk_names: Vec<&str> = t.schema.partition_key.iter().map(|c| c.name.as_str()).collect();
    let pk_rels: Vec<&Relation> = relations
        .iter()
        .filter(|r| !r.token && r.columns.first().is_some_and(|c| pk_names.contains(&c.as_str())))
        .collect();
    let token_rels: Vec<&Relation> = relations.iter().filter(|r| r.token).collect();
    let mut filters: Vec<(Col, String, Vec<Vec<u8>>)> = Vec::new();
    for r in relations.iter().filter(|r| !r.token && !pk_rels.iter().any(|p| std::ptr::eq(*p, *r))) {
        let Some(name) = r.columns.first() else { continue };
        let col = column(t, name).ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
        if matches!(col, Col::Static(..) | Col::Regular(..)) && !allow_filtering {
            return Err(invalid(
                "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING",
            ));
        }
        filters.push((col.clone(), r.op.clone(), bind_values(r, col.ty(), name, b)?));
    }
    let partitions: Vec<Partition> = if !pk_rels.is_empty() {
        if pk_rels.len() != pk_names.len() || pk_rels.iter().any(|r| r.op != "=" && r.op != "in") {
            if !allow_filtering {
                return Err(invalid("Partition key parts must all be restricted by = or IN (or use ALLOW FILTERING)"));
            }
            t.partitions(None)?
        } else {
            let (keys, _) = key_restrictions(t, &pk_rels.iter().map(|r| (*r).clone()).collect::<Vec<_>>(), b)?;
            let mut keyed: Vec<(Token, Vec<u8>)> =
                keys.into_iter().map(|k| (Token::Murmur3(murmur3_token(&k)), k)).collect();
            keyed.sort();
            keyed.dedup();
            t.partitions(Some(&keyed))?
        }
    } else {
        t.partitions(None)?
    };
    let token_of = |p: &Partition| murmur3_token(&p.key);
    let mut token_bounds: Vec<(String, i64)> = Vec::new();
    for r in token_rels {
        let v = r.values.last().ok_or_else(|| invalid("token() needs a value"))?;
        let x = b.int(v, "token")?.ok_or_else(|| invalid("null token"))?;
        token_bounds.push((r.op.clone(), x));
    }
    let mut rows = Vec::new();
    for p in &partitions {
        let tok = token_of(p);
        if !token_bounds.iter().all(|(op, x)| match op.as_str() {
            ">" => tok > *x,
            ">=" => tok >= *x,
            "<" => tok < *x,
            "<=" => tok <= *x,
            "=" => tok == *x,
            _ => true,
        }) {
            continue;
        }
        let mut prows = live_rows(t, p, now_s);
        prows.retain(|r| {
            filters.iter().all(|(col, op, vals)| {
                let (value, ty) = match col {
                    Col::Clustering(i, ty) => (r.clustering.get(*i).cloned().flatten(), ty),
                    Col::Static(i, ty) => (r.statics.get(*i as usize).cloned().flatten().map(|v| v.0), ty),
                    Col::Regular(i, ty) => (r.regulars.get(*i as usize).cloned().flatten().map(|v| v.0), ty),
                    Col::Key(..) => return true,
                };
                let Some(value) = value else { return false };
                let cmp = |x: &Vec<u8>| compare_values(ty, &value, x);
                match op.as_str() {
                    "=" | "in" => vals.iter().any(|x| cmp(x).is_eq()),
                    ">" => vals.iter().all(|x| cmp(x).is_gt()),
                    ">=" => vals.iter().all(|x| cmp(x).is_ge()),
                    "<" => vals.iter().all(|x| cmp(x).is_lt()),
                    "<=" => vals.iter().all(|x| cmp(x).is_le()),
                    _ => false,
                }
            })
        });
        if let Some((first_ck, desc)) = order.first() {
            let table_desc = t.schema.clustering.first().is_some_and(|(c, d)| &c.name == first_ck && *d);
            if *desc != table_desc {
                prows.reverse();
            }
        }
        if let Some(l) = per_partition_limit {
            prows.truncate(l);
        }
        rows.extend(prows);
    }
    let count_only = selectors.is_some_and(|s| s.iter().any(|(x, _)| *x == Selector::Count));
    if count_only {
        return Ok((columns, vec![vec![Some((rows.len() as i64).to_be_bytes().to_vec())]]));
    }
    let header = &t.header;
    // A stored key that does not split into the table's key columns is a server error, never a
    // row whose key columns read as null.
    let key_count = t.schema.partition_key.len();
    let mut split_keys: Vec<Vec<Vec<u8>>> = Vec::with_capacity(rows.len());
    for r in &rows {
        let parts = cairn_format::types::value::key_components(&header.key_type, &r.key).map_err(|e| Failure {
            code: code::SERVER,
            message: format!("stored partition key {} does not split into {key_count} columns: {e}", hex(&r.key)),
            extra: vec![],
        })?;
        split_keys.push(parts.into_iter().map(<[u8]>::to_vec).collect());
    }
    let value_of = |(r, key_parts): (&LiveRow, &Vec<Vec<u8>>), name: &str, what: u8| -> Option<Vec<u8>> {
        let cell = |list: &Vec<Timed>, i: usize| list.get(i).cloned().flatten();
        let pick = |c: Option<(Vec<u8>, i64, Option<i64>)>| match what {
            0 => c.map(|x| x.0),
            1 => c.map(|x| x.1.to_be_bytes().to_vec()),
            _ => c.and_then(|x| x.2).map(|t| (t as i32).to_be_bytes().to_vec()),
        };
        if let Some(i) = t.schema.partition_key.iter().position(|c| c.name == name) {
            return key_parts.get(i).cloned();
        }
        if let Some(i) = t.schema.clustering.iter().position(|(c, _)| c.name == name) {
            return r.clustering.get(i).cloned().flatten();
        }
        if let Some(i) = header.static_columns.iter().position(|c| c.name == name) {
            return pick(cell(&r.statics, i));
        }
        header.regular_columns.iter().position(|c| c.name == name).and_then(|i| pick(cell(&r.regulars, i)))
    };
    let out = rows
        .iter()
        .zip(&split_keys)
        .map(|r| match selectors {
            None => all_columns(t).iter().map(|(n, _)| value_of(r, n, 0)).collect(),
            Some(sel) => sel
                .iter()
                .map(|(s, _)| match s {
                    Selector::Column(c) => value_of(r, c, 0),
                    Selector::WriteTime(c) => value_of(r, c, 1),
                    Selector::Ttl(c) => value_of(r, c, 2),
                    Selector::Token(_) => Some(murmur3_token(&r.0.key).to_be_bytes().to_vec()),
                    Selector::Count => None,
                })
                .collect(),
        })
        .collect();
    Ok((columns, out))
}

#[doc(hidden)]
pub fn _text(s: &str) -> Option<Vec<u8>> {
    values::text(s)
}
