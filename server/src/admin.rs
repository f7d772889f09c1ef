//! The admin interface, in place of JMX and nodetool: one request per TCP connection on the
//! admin port (loopback by default), a line `TOKEN COMMAND ARGS...` answered by `ok` or
//! `error: ...` and then the command's output. With authentication on, the token is the one the
//! node wrote to `<data>/cairn_admin.token` (readable by its owner only); otherwise `-`.
//!
//! Commands: `flush [ks[.table]]`, `snapshot TAG [ks[.table]]` (flush, then hard links under
//! each table's `snapshots/TAG/` with Cassandra's `manifest.json` and `schema.cql`),
//! `listsnapshots`, `clearsnapshot TAG|--all`, `compact [ks[.table]]` (a major compaction,
//! purging as Cassandra does), `status`, `tablestats [ks[.table]]`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use cairn_format::types::render::hex;
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::node::Shared;

/// Serve the admin interface on `addr` (in a thread); returns the bound address.
pub(crate) fn serve(addr: SocketAddr, shared: Arc<Shared>, token: Option<String>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let weak = Arc::downgrade(&shared);
    drop(shared);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let Some(shared) = weak.upgrade() else { break };
            let token = token.clone();
            std::thread::spawn(move || handle(conn, &shared, token.as_deref()));
        }
    });
    Ok(bound)
}

fn handle(conn: TcpStream, shared: &Shared, token: Option<&str>) {
    let Ok(read) = conn.try_clone() else { return };
    let mut line = String::new();
    if BufReader::new(read).take(64 * 1024).read_line(&mut line).is_err() {
        return;
    }
    let mut words = line.split_whitespace();
    let given = words.next().unwrap_or("-");
    let mut out = conn;
    if let Some(t) = token
        && given != t
    {
        let _ = writeln!(out, "error: a valid admin token is required (see <data>/cairn_admin.token)");
        return;
    }
    let args: Vec<&str> = words.collect();
    let reply = match args.split_first() {
        Some((cmd, rest)) => run(shared, cmd, rest),
        None => Err("no command".into()),
    };
    let _ = match reply {
        Ok(text) => write!(out, "ok\n{text}"),
        Err(e) => writeln!(out, "error: {e}"),
    };
}

fn scope(args: &[&str]) -> (Option<String>, Option<String>) {
    match args.first().map(|s| s.split_once('.')) {
        Some(Some((k, t))) => (Some(k.to_string()), Some(t.to_string())),
        Some(None) => (args.first().map(|s| s.to_string()), None),
        None => (None, None),
    }
}

fn run(shared: &Shared, cmd: &str, args: &[&str]) -> Result<String, String> {
    match cmd {
        "flush" => {
            let (ks, t) = scope(args);
            let n = shared.flush_tables(ks.as_deref(), t.as_deref())?;
            Ok(format!("flushed {n} table(s)\n"))
        }
        "snapshot" => {
            let tag = snapshot_tag(args.first().ok_or("snapshot needs a tag")?)?;
            let (ks, t) = scope(args.get(1..).unwrap_or_default());
            shared.flush_tables(ks.as_deref(), t.as_deref())?;
            let dirs = shared.table_dirs(ks.as_deref(), t.as_deref())?;
            let (mut sstables, mut files) = (0, 0);
            for dir in &dirs {
                let (s, f) = snapshot(dir, tag).map_err(|e| format!("{}: {e}", dir.display()))?;
                sstables += s;
                files += f;
            }
            // Files as `listsnapshots` counts them: every file of the snapshot directories
            // (each SSTable's components, `manifest.json`, `schema.cql`).
            Ok(format!("snapshot {tag}: {} table(s), {sstables} SSTable(s), {files} file(s)\n", dirs.len()))
        }
        "listsnapshots" => {
            let mut out = String::from("Snapshot name\tKeyspace\tTable\tFiles\tBytes\n");
            for dir in shared.table_dirs(None, None)? {
                let Ok(rd) = std::fs::read_dir(dir.join("snapshots")) else { continue };
                let mut tags: Vec<_> = rd.flatten().map(|e| e.path()).collect();
                tags.sort();
                for tag in tags {
                    let (n, bytes) = snapshot_files(&tag);
                    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                    let table = name(&dir);
                    let ks = dir.parent().map(name).unwrap_or_default();
                    out.push_str(&format!("{}\t{ks}\t{table}\t{n}\t{bytes}\n", name(&tag)));
                }
            }
            Ok(out)
        }
        "clearsnapshot" => {
            let tag = *args.first().ok_or("clearsnapshot needs a tag or --all")?;
            let tag = if tag == "--all" { tag } else { snapshot_tag(tag)? };
            let mut removed = 0;
            for dir in shared.table_dirs(None, None)? {
                let snaps = dir.join("snapshots");
                let targets: Vec<std::path::PathBuf> = if tag == "--all" {
                    std::fs::read_dir(&snaps).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default()
                } else {
                    vec![snaps.join(tag)]
                };
                for t in targets {
                    if t.is_dir() {
                        std::fs::remove_dir_all(&t).map_err(|e| format!("{}: {e}", t.display()))?;
                        removed += 1;
                    }
                }
            }
            Ok(format!("removed {removed} snapshot director(ies)\n"))
        }
        "compact" => {
            let (ks, t) = scope(args);
            shared.compact_tables(ks.as_deref(), t.as_deref())
        }
        "status" => match &shared.cluster {
            Some(cluster) => Ok(render_status(&ring_members(shared, cluster)?)),
            None => shared.status(),
        },
        "cleanup" => {
            let (ks, t) = scope(args);
            crate::ring::streaming::cleanup(shared, ks.as_deref(), t.as_deref())
        }
        "decommission" => crate::ring::streaming::decommission(shared),
        "removenode" => {
            let id = *args.first().ok_or("removenode needs the dead node's host id")?;
            crate::ring::streaming::removenode(shared, id)
        }
        "repair" => {
            // repair [--full] [--pr] [ks[.table]]: a full repair either way (incremental repair is
            // not implemented).
            let pr = args.contains(&"--pr");
            let rest: Vec<&str> = args.iter().copied().filter(|a| *a != "--pr" && *a != "--full").collect();
            let (ks, t) = scope(&rest);
            crate::ring::repair::repair(shared, ks.as_deref(), t.as_deref(), pr)
        }
        "ring" => match &shared.cluster {
            Some(cluster) => Ok(render_ring_json(&ring_members(shared, cluster)?)),
            None => Err("this node is standalone (started without --seeds)".into()),
        },
        "hints" => {
            let Some(cluster) = &shared.cluster else {
                return Err("this node is standalone: it keeps no hints".into());
            };
            match args.first().copied() {
                None | Some("list") => {
                    let pending = cluster.hints.pending().map_err(|e| e.to_string())?;
                    let mut out = String::from("host id	writes	mutations	bytes\n");
                    for p in &pending {
                        out.push_str(&format!("{}\t{}\t{}\t{}\n", p.host_id, p.entries, p.mutations, p.bytes));
                    }
                    Ok(out)
                }
                Some("truncate") => {
                    let n = cluster.hints.truncate().map_err(|e| e.to_string())?;
                    Ok(format!("removed {n} hint file(s)\n"))
                }
                Some(other) => Err(format!("hints {other}: expected list or truncate")),
            }
        }
        "tablestats" => {
            let (ks, t) = scope(args);
            shared.tablestats(ks.as_deref(), t.as_deref())
        }
        other => Err(format!("unknown command {other}")),
    }
}

/// The files of a snapshot directory and their bytes, as `listsnapshots` shows them.
/// A snapshot tag: letters, digits, `_` and `-` only, so that `snapshots/<tag>` is a directory
/// under `snapshots/` (`..` or an absolute path there would name the table's own directory, or
/// any other, to `clearsnapshot`'s removal).
fn snapshot_tag(tag: &str) -> Result<&str, String> {
    if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(format!("invalid snapshot tag {tag:?}"));
    }
    Ok(tag)
}

fn snapshot_files(snapshot: &Path) -> (usize, u64) {
    std::fs::read_dir(snapshot)
        .map(|rd| rd.flatten().fold((0, 0), |(n, b), e| (n + 1, b + e.metadata().map_or(0, |m| m.len()))))
        .unwrap_or((0, 0))
}

/// Hard-link every SSTable component of a table directory under `snapshots/<tag>/`, with
/// Cassandra 4.0's `manifest.json` and the table's `schema.cql`. Returns the SSTables snapshotted
/// and the files the snapshot directory holds (as [`snapshot_files`] counts them).
fn snapshot(dir: &Path, tag: &str) -> std::io::Result<(usize, usize)> {
    let target = dir.join("snapshots").join(tag);
    if target.exists() {
        return Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("snapshot {tag} already exists")));
    }
    std::fs::create_dir_all(&target)?;
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    entries.sort();
    for p in entries {
        let Some(name) = p.file_name().map(|n| n.to_string_lossy().to_string()) else { continue };
        if name == "schema.cql" {
            std::fs::copy(&p, target.join(&name))?;
            continue;
        }
        if !name.contains("-big-") {
            continue;
        }
        std::fs::hard_link(&p, target.join(&name))?;
        if name.ends_with("-Data.db") {
            files.push(name);
        }
    }
    let list: Vec<String> = files.iter().map(|f| format!("\"{f}\"")).collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let manifest = format!(
        "{{\"files\":[{}],\"created_at\":\"{}\",\"expires_at\":null}}\n",
        list.join(","),
        cairn_format::types::render::format_instant_ms(now)
    );
    std::fs::write(target.join("manifest.json"), manifest)?;
    Ok((files.len(), snapshot_files(&target).0))
}

/// Send one admin command; returns the output after `ok`, or the error.
pub fn request(addr: SocketAddr, token: Option<&str>, command: &[String]) -> std::io::Result<Result<String, String>> {
    let mut c = TcpStream::connect(addr)?;
    writeln!(c, "{} {}", token.unwrap_or("-"), command.join(" "))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut c, &mut text)?;
    Ok(match text.strip_prefix("ok\n") {
        Some(out) => Ok(out.to_string()),
        None => Err(text.trim_start_matches("error: ").trim_end().to_string()),
    })
}

use std::io::Read as _;

impl Shared {
    /// Flush the tables in scope (all when `None`); when every table was flushed the commit log
    /// is emptied. Returns how many tables were flushed.
    pub(crate) fn flush_tables(&self, ks: Option<&str>, table: Option<&str>) -> Result<usize, String> {
        // Flushing everything empties the commit log: no write may be logged in between, so
        // the catalog's write lock (writes hold its read lock from logging to applying).
        let (read, write);
        let cat: &Catalog = if ks.is_none() {
            write = self.catalog_write().map_err(|f| f.message)?;
            &write
        } else {
            read = self.catalog_read().map_err(|f| f.message)?;
            &read
        };
        let mut n = 0;
        for (kn, k) in &cat.keyspaces {
            if ks.is_some_and(|x| x != kn) {
                continue;
            }
            for (tn, t) in &k.tables {
                if table.is_some_and(|x| x != tn) {
                    continue;
                }
                let mut d = t.lock().map_err(|f| f.message)?;
                t.flush(&mut d).map_err(|e| e.to_string())?;
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
        let state = self.catalog_read().map_err(|f| f.message)?;
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
        let state = self.catalog_read().map_err(|f| f.message)?;
        let mut out = String::new();
        for (kn, k) in &state.keyspaces {
            for (tn, t) in &k.tables {
                if ks.is_some_and(|x| x != kn) || table.is_some_and(|x| x != tn) {
                    continue;
                }
                let mut d = t.lock().map_err(|f| f.message)?;
                t.flush(&mut d).map_err(|e| e.to_string())?;
                let before = d.sstables.len();
                t.compact_all(&mut d).map_err(|e| e.to_string())?;
                out.push_str(&format!("{kn}.{tn}: {before} SSTable(s) -> {}\n", d.sstables.len()));
            }
        }
        Ok(out)
    }

    /// `nodetool status`, for a ring of one.
    /// The bytes of this node's Data.db files.
    pub(crate) fn local_load(&self) -> Result<u64, String> {
        let state = self.catalog_read().map_err(|f| f.message)?;
        state
            .keyspaces
            .values()
            .flat_map(|k| k.tables.values())
            .map(|t| {
                let d = t.lock().map_err(|f| f.message)?;
                Ok(d.sstables
                    .iter()
                    .map(|s| std::fs::metadata(s.path(cairn_format::Component::Data)).map_or(0, |m| m.len()))
                    .sum::<u64>())
            })
            .sum::<Result<u64, String>>()
    }

    /// `nodetool status` of a standalone node.
    pub(crate) fn status(&self) -> Result<String, String> {
        let load = self.local_load()?;
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
        let state = self.catalog_read().map_err(|f| f.message)?;
        let mut out = String::new();
        for (kn, k) in &state.keyspaces {
            for (tn, t) in &k.tables {
                if ks.is_some_and(|x| x != kn) || table.is_some_and(|x| x != tn) {
                    continue;
                }
                let d = t.lock().map_err(|f| f.message)?;
                let bytes: u64 = d
                    .sstables
                    .iter()
                    .map(|s| {
                        let p = s.path(cairn_format::Component::Data);
                        std::fs::metadata(&p).map(|m| m.len()).map_err(|e| format!("{}: {e}", p.display()))
                    })
                    .sum::<Result<u64, String>>()?;
                // An SSTable without an estimator adds nothing; one that does not decode is an error.
                let keys: u64 = d
                    .sstables
                    .iter()
                    .map(|s| s.estimated_cardinality().map(|e| e.unwrap_or(0)).map_err(|e| e.to_string()))
                    .sum::<Result<u64, String>>()?;
                out.push_str(&format!(
                    "Table: {kn}.{tn}\n\tSSTable count: {}\n\tSpace used (live): {bytes}\n\tNumber of partitions (estimate): {}\n\tMemtable partitions: {}\n\tMemtable writes since flush: {}\n",
                    d.sstables.len(),
                    keys + d.memtable.len() as u64,
                    d.memtable.len(),
                    d.writes
                ));
            }
        }
        Ok(out)
    }
}

/// One member of the ring as `status` shows it.
pub(crate) struct MemberStatus {
    address: std::net::IpAddr,
    up: bool,
    state: &'static str,
    dc: String,
    rack: String,
    load: Option<u64>,
    tokens: usize,
    owns: f64,
    host_id: String,
    cql: std::net::SocketAddr,
}

/// The ring as this node sees it, for `status` and `ring`.
fn ring_members(shared: &Shared, cluster: &crate::ring::cluster::Cluster) -> Result<Vec<MemberStatus>, String> {
    use crate::ring::gossip::{status, status_kind};
    let view = cluster.view();
    let owns: std::collections::BTreeMap<std::net::IpAddr, f64> = view
        .tokens
        .as_ref()
        .map(|m| m.ownership(&crate::ring::tokens::Replication::Simple { rf: 1 }).into_iter().collect())
        .unwrap_or_default();
    let local_load = shared.local_load()?;
    Ok(view
        .peers
        .iter()
        .map(|(addr, p)| MemberStatus {
            address: *addr,
            up: p.alive,
            state: match status_kind(&p.status) {
                status::BOOT => "J",
                status::LEAVING => "L",
                status::MOVING => "M",
                _ => "N",
            },
            dc: p.dc.clone(),
            rack: p.rack.clone(),
            load: if *addr == view.me { Some(local_load) } else { p.load },
            tokens: p.tokens.len(),
            owns: owns.get(addr).copied().unwrap_or(0.0),
            host_id: p.host_id.map(|h| uuid_text(&h)).unwrap_or_default(),
            cql: p.rpc,
        })
        .collect())
}

fn uuid_text(id: &[u8; 16]) -> String {
    let h = hex(id);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `nodetool status`: per data centre, each member's state, address, load, tokens, ownership
/// of the token space, host id and rack.
fn render_status(members: &[MemberStatus]) -> String {
    let mut dcs: Vec<&str> = members.iter().map(|m| m.dc.as_str()).collect();
    dcs.sort_unstable();
    dcs.dedup();
    let mut out = String::new();
    for dc in dcs {
        let title = format!("Datacenter: {dc}");
        out.push_str(&format!("{title}\n{}\n", "=".repeat(title.len())));
        out.push_str("Status=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n");
        out.push_str("--  Address  Load  Tokens  Owns  Host ID  Rack\n");
        for m in members.iter().filter(|m| m.dc == dc) {
            let load = m.load.map_or_else(|| "?".to_string(), |l| format!("{l} bytes"));
            out.push_str(&format!(
                "{}{}  {}  {load}  {}  {:.1}%  {}  {}\n",
                if m.up { "U" } else { "D" },
                m.state,
                m.address,
                m.tokens,
                m.owns * 100.0,
                m.host_id,
                m.rack
            ));
        }
    }
    out
}

/// The ring as JSON: `{"nodes": [{"address", "status", "dc", "rack", "load", "tokens", "owns",
/// "host_id", "cql_address", "cql_port"}]}`.
fn render_ring_json(members: &[MemberStatus]) -> String {
    let q = |s: &str| {
        let mut o = String::new();
        cairn_format::types::render::quote_json(s, &mut o);
        o
    };
    let nodes: Vec<String> = members
        .iter()
        .map(|m| {
            format!(
                "{{\"address\": {}, \"status\": {}, \"dc\": {}, \"rack\": {}, \"load\": {}, \"tokens\": {}, \"owns\": {:.6}, \"host_id\": {}, \"cql_address\": {}, \"cql_port\": {}}}",
                q(&m.address.to_string()),
                q(&format!("{}{}", if m.up { "U" } else { "D" }, m.state)),
                q(&m.dc),
                q(&m.rack),
                m.load.map_or_else(|| "null".to_string(), |l| l.to_string()),
                m.tokens,
                m.owns,
                q(&m.host_id),
                q(&m.cql.ip().to_string()),
                m.cql.port()
            )
        })
        .collect();
    format!("{{\"nodes\": [{}]}}\n", nodes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Session, handle};
    use crate::protocol::Request;

    /// `snapshot` says how many files it made, counted as `listsnapshots` counts them (it said
    /// "3 file(s) linked" — the Data.db files — where `listsnapshots` listed every component).
    #[test]
    fn snapshot_counts_the_files_listsnapshots_lists() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = crate::NodeConfig {
            data_dir: tmp.path().join("data"),
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..Default::default()
        };
        let node = crate::start(config).expect("start");
        let shared = Arc::clone(&node.shared);
        let mut session =
            Session { keyspace: None, compression: None, started: true, authenticated: true, pending_sync: None };
        let mut cql = |text: &str| {
            handle(Request::Query(text.into(), Default::default()), &mut session, &shared).expect(text);
        };
        cql("CREATE KEYSPACE a WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
        cql("CREATE TABLE a.t (k int PRIMARY KEY, v text)");
        cql("CREATE TABLE a.u (k int PRIMARY KEY, v text)");
        for round in 0..3 {
            cql(&format!("INSERT INTO a.t (k, v) VALUES ({round}, 'x')"));
            cql(&format!("INSERT INTO a.u (k, v) VALUES ({round}, 'y')"));
            run(&shared, "flush", &["a"]).expect("flush");
        }
        let said = run(&shared, "snapshot", &["s1", "a"]).expect("snapshot");
        let listed = run(&shared, "listsnapshots", &[]).expect("listsnapshots");
        let files: usize = listed
            .lines()
            .skip(1)
            .map(|l| l.split('\t').nth(3).expect("Files column").parse::<usize>().expect("a count"))
            .sum();
        // Two tables of three SSTables, each SSTable with its components, plus a manifest and a
        // schema per table.
        assert!(files > 6 * 2 + 4, "{listed}");
        assert_eq!(said, format!("snapshot s1: 2 table(s), 6 SSTable(s), {files} file(s)\n"));
        // A tag that is not a name under snapshots/ is refused before anything is removed (`..`
        // once removed the table directories themselves).
        for tag in ["..", "/", "s1/../.."] {
            let err = run(&shared, "clearsnapshot", &[tag]).expect_err(tag);
            assert!(err.contains("invalid snapshot tag"), "{err}");
        }
        assert_eq!(run(&shared, "listsnapshots", &[]).expect("listsnapshots"), listed);
        assert_eq!(run(&shared, "clearsnapshot", &["s1"]).expect("clear"), "removed 2 snapshot director(ies)\n");
        node.stop();
    }
}
