//! `cairn ring`: start, watch and break a ring of `cairn node`s on 127.0.0.x. The ring is
//! described by `DIR/ring.json` (each node's name, address, ports, data centre, rack, data
//! directory and process id), which every other subcommand reads.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Outcome;
use crate::args::{OnOff, RingAddArgs, RingDirArgs, RingNodeArgs, RingStatusArgs, RingUpArgs};

/// How long `up` and `start` wait for the ring to settle.
const SETTLE: Duration = Duration::from_secs(60);

/// A node of the ring as `ring.json` records it.
#[derive(Clone)]
struct Node {
    name: String,
    address: IpAddr,
    cql_port: u16,
    /// The internode port (the same on every node, each on its own address).
    storage_port: u16,
    /// The admin port.
    admin_port: u16,
    dc: String,
    rack: String,
    data: PathBuf,
    seeds: String,
    num_tokens: usize,
    hinted_handoff: bool,
    pid: u32,
}

impl Node {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name, "address": self.address.to_string(), "cql_port": self.cql_port,
            "admin_port": self.admin_port, "storage_port": self.storage_port, "pid": self.pid, "dc": self.dc,
            "rack": self.rack, "data": self.data.display().to_string(), "seeds": self.seeds,
            "num_tokens": self.num_tokens, "hinted_handoff": self.hinted_handoff,
        })
    }

    fn from_json(v: &Value) -> anyhow::Result<Node> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string).with_context(|| format!("no {k:?}"));
        let n = |k: &str| v.get(k).and_then(Value::as_u64).with_context(|| format!("no {k:?}"));
        Ok(Node {
            name: s("name")?,
            address: s("address")?.parse().context("address")?,
            cql_port: u16::try_from(n("cql_port")?).context("cql_port")?,
            storage_port: u16::try_from(n("storage_port")?).context("storage_port")?,
            admin_port: u16::try_from(n("admin_port")?).context("admin_port")?,
            dc: s("dc")?,
            rack: s("rack")?,
            data: PathBuf::from(s("data")?),
            seeds: s("seeds")?,
            num_tokens: n("num_tokens")? as usize,
            hinted_handoff: v.get("hinted_handoff").and_then(Value::as_bool).unwrap_or(true),
            pid: u32::try_from(n("pid")?).context("pid")?,
        })
    }

    fn admin(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.admin_port)
    }

    fn log(&self) -> PathBuf {
        self.data.parent().map_or_else(|| PathBuf::from("node.log"), |p| p.join("node.log"))
    }

    /// Start the node's process, detached (its own process group), logging to its node.log.
    fn spawn(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data).with_context(|| self.data.display().to_string())?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .with_context(|| self.log().display().to_string())?;
        let exe = std::env::current_exe().context("the cairn executable")?;
        let mut c = Command::new(exe);
        c.arg("node").arg("--data").arg(&self.data);
        c.args(["--listen", &self.address.to_string(), "--port", &self.cql_port.to_string()]);
        c.args(["--storage-port", &self.storage_port.to_string(), "--admin-port", &self.admin_port.to_string()]);
        c.args(["--seeds", &self.seeds, "--dc", &self.dc, "--rack", &self.rack]);
        c.args(["--num-tokens", &self.num_tokens.to_string()]);
        c.args(["--hinted-handoff", if self.hinted_handoff { "on" } else { "off" }]);
        c.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let child = c.spawn().with_context(|| format!("starting {}", self.name))?;
        self.pid = child.id();
        Ok(())
    }

    fn running(&self) -> bool {
        rustix::process::Pid::from_raw(self.pid as i32).is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
            && !zombie(self.pid)
    }

    /// The ring as this node sees it (`cairn admin ring`).
    fn view(&self) -> anyhow::Result<Value> {
        let reply = cairn_server::admin::request(self.admin(), None, &["ring".to_string()])
            .with_context(|| format!("{} ({}) does not answer", self.name, self.admin()))?;
        let text = reply.map_err(|e| anyhow::anyhow!("{}: {e}", self.name))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// Whether a process has exited but was not reaped (it is not running).
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
}

fn ring_file(dir: &Path) -> PathBuf {
    dir.join("ring.json")
}

fn load(dir: &Path) -> anyhow::Result<Vec<Node>> {
    let path = ring_file(dir);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}: no ring here", path.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| path.display().to_string())?;
    let nodes = v.get("nodes").and_then(Value::as_array).with_context(|| format!("{}: no nodes", path.display()))?;
    nodes.iter().map(Node::from_json).collect::<anyhow::Result<_>>().with_context(|| path.display().to_string())
}

fn save(dir: &Path, nodes: &[Node]) -> anyhow::Result<()> {
    let path = ring_file(dir);
    let tmp = dir.join("ring.json.tmp");
    let v = json!({ "nodes": nodes.iter().map(Node::to_json).collect::<Vec<_>>() });
    std::fs::write(&tmp, serde_json::to_string_pretty(&v)? + "\n")?;
    std::fs::rename(&tmp, &path).with_context(|| path.display().to_string())
}

fn find<'a>(nodes: &'a mut [Node], which: &str) -> anyhow::Result<&'a mut Node> {
    let which = which.trim();
    let wanted =
        |n: &Node| n.name == which || n.address.to_string() == which || n.name.strip_prefix("node") == Some(which);
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    nodes
        .iter_mut()
        .find(|n| wanted(n))
        .with_context(|| format!("no node {which:?} in this ring ({})", names.join(", ")))
}

/// Wait until every node in `nodes` that should run sees each of them UN (`down`: the ones
/// expected down, seen DN by the others).
fn settle(nodes: &[Node], down: &[&str]) -> anyhow::Result<()> {
    let deadline = Instant::now() + SETTLE;
    let mut last = String::new();
    loop {
        let mut ok = true;
        for n in nodes.iter().filter(|n| !down.contains(&n.name.as_str())) {
            match n.view() {
                Ok(v) => {
                    let seen: Vec<(String, String)> = v["nodes"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| {
                                    (
                                        x["address"].as_str().unwrap_or("").to_string(),
                                        x["status"].as_str().unwrap_or("").to_string(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    for m in nodes {
                        let expected_down = down.contains(&m.name.as_str());
                        let state = seen.iter().find(|(a, _)| *a == m.address.to_string()).map(|(_, s)| s.as_str());
                        // A stopped node is seen down, or not at all by a node started since.
                        let fine = match state {
                            Some(s) if expected_down => s.starts_with('D'),
                            Some(s) => s == "UN",
                            None => expected_down,
                        };
                        if !fine {
                            ok = false;
                            last = format!("{} sees {} as {}", n.name, m.name, state.unwrap_or("unknown"));
                        }
                    }
                }
                Err(e) => {
                    ok = false;
                    last = format!("{e:#}");
                }
            }
        }
        if ok {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the ring did not settle in {}s: {last}", SETTLE.as_secs());
        }
        if let Some(dead) = nodes.iter().find(|n| !down.contains(&n.name.as_str()) && !n.running()) {
            let log = std::fs::read_to_string(dead.log()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            bail!(
                "{} exited while the ring was starting; the end of {}:\n{}",
                dead.name,
                dead.log().display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn print_nodes(nodes: &[Node], as_json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if as_json {
        let v = json!({ "nodes": nodes.iter().map(|n| {
            let mut j = n.to_json();
            if let Some(o) = j.as_object_mut() {
                o.retain(|k, _| ["name", "address", "cql_port", "admin_port", "pid", "dc", "rack", "data"].contains(&k.as_str()));
            }
            j
        }).collect::<Vec<_>>() });
        writeln!(out, "{}", serde_json::to_string(&v)?)?;
        return Ok(());
    }
    writeln!(out, "name\taddress\tcql\tdc\track\tpid\tdata")?;
    for n in nodes {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            n.name,
            n.address,
            n.cql_port,
            n.dc,
            n.rack,
            n.pid,
            n.data.display()
        )?;
    }
    Ok(())
}

/// `ring up`.
pub fn up(a: RingUpArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    if a.nodes == 0 || a.nodes > 254 {
        bail!("a ring of {} nodes: between 1 and 254 (node i listens on 127.0.0.i)", a.nodes);
    }
    if ring_file(&a.dir).exists() && load(&a.dir)?.iter().any(Node::running) {
        bail!("{} already holds a running ring (cairn ring down --dir {} first)", a.dir.display(), a.dir.display());
    }
    // The data centre of each node, in order.
    let mut dcs: Vec<String> = Vec::new();
    for spec in &a.dcs {
        let (name, n) = spec.split_once(':').with_context(|| format!("--dcs {spec:?}: expected DC:N"))?;
        let n: usize = n.parse().with_context(|| format!("--dcs {spec:?}: expected DC:N"))?;
        dcs.extend(std::iter::repeat_n(name.to_string(), n));
    }
    if dcs.is_empty() {
        dcs = vec!["datacenter1".into(); a.nodes];
    }
    if dcs.len() != a.nodes {
        bail!("--dcs names {} nodes, but the ring has {}", dcs.len(), a.nodes);
    }
    // One seed per data centre: its first node.
    let mut seeds: Vec<String> = Vec::new();
    for (i, dc) in dcs.iter().enumerate() {
        if dcs[..i].iter().all(|d| d != dc) {
            seeds.push(format!("127.0.0.{}:{}", i + 1, a.storage_port));
        }
    }
    let seeds = seeds.join(",");
    std::fs::create_dir_all(&a.dir).with_context(|| a.dir.display().to_string())?;
    let dir = a.dir.canonicalize()?;
    let mut nodes: Vec<Node> = (1..=a.nodes)
        .map(|i| Node {
            name: format!("node{i}"),
            address: IpAddr::from([127, 0, 0, i as u8]),
            cql_port: a.port,
            storage_port: a.storage_port,
            admin_port: a.admin_port,
            dc: dcs[i - 1].clone(),
            rack: "rack1".into(),
            data: dir.join(format!("node{i}")).join("data"),
            seeds: seeds.clone(),
            num_tokens: a.num_tokens,
            hinted_handoff: a.hinted_handoff == OnOff::On,
            pid: 0,
        })
        .collect();
    for n in &mut nodes {
        n.spawn()?;
    }
    save(&dir, &nodes)?;
    settle(&nodes, &[])?;
    print_nodes(&nodes, a.json, out)?;
    Ok(Outcome::Ok)
}

/// `ring status`: as the first node that answers sees the ring.
pub fn status(a: RingStatusArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let nodes = load(&a.dir)?;
    for n in nodes.iter().filter(|n| n.running()) {
        let command = if a.json { "ring" } else { "status" };
        if let Ok(Ok(text)) = cairn_server::admin::request(n.admin(), None, &[command.to_string()]) {
            write!(out, "{text}")?;
            return Ok(Outcome::Ok);
        }
    }
    bail!("no node of the ring in {} answers", a.dir.display())
}

/// What `signal` does to a node.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Stop,
    Kill,
    Pause,
    Resume,
}

/// `ring stop|kill|pause|resume NODE`.
pub fn signal(a: RingNodeArgs, action: Action, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut nodes = load(&a.dir)?;
    let n = find(&mut nodes, &a.node)?;
    if !n.running() {
        bail!("{} (pid {}) is not running", n.name, n.pid);
    }
    let pid = rustix::process::Pid::from_raw(n.pid as i32).context("pid")?;
    let (sig, done) = match action {
        Action::Stop => (rustix::process::Signal::TERM, "stopped"),
        Action::Kill => (rustix::process::Signal::KILL, "killed"),
        Action::Pause => (rustix::process::Signal::STOP, "paused"),
        Action::Resume => (rustix::process::Signal::CONT, "resumed"),
    };
    rustix::process::kill_process(pid, sig).with_context(|| format!("signalling {} (pid {})", n.name, n.pid))?;
    if matches!(action, Action::Stop | Action::Kill) {
        let deadline = Instant::now() + SETTLE;
        while n.running() {
            if Instant::now() > deadline {
                bail!("{} (pid {}) did not exit in {}s", n.name, n.pid, SETTLE.as_secs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    writeln!(out, "{} {done}", n.name)?;
    Ok(Outcome::Ok)
}

/// `ring start NODE`: the same node again; waits until the ring sees it up.
pub fn start(a: RingNodeArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut nodes = load(&a.dir)?;
    let n = find(&mut nodes, &a.node)?;
    if n.running() {
        bail!("{} (pid {}) is already running", n.name, n.pid);
    }
    n.spawn()?;
    let name = n.name.clone();
    save(&a.dir, &nodes)?;
    let stopped: Vec<String> = nodes.iter().filter(|m| !m.running()).map(|m| m.name.clone()).collect();
    let stopped: Vec<&str> = stopped.iter().map(String::as_str).collect();
    settle(&nodes, &stopped)?;
    writeln!(out, "{name} started")?;
    Ok(Outcome::Ok)
}

/// `ring down`: every node stopped cleanly.
pub fn down(a: RingDirArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let nodes = load(&a.dir)?;
    for n in nodes.iter().filter(|n| n.running()) {
        if let Some(pid) = rustix::process::Pid::from_raw(n.pid as i32) {
            // A paused node must run again to stop.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
            rustix::process::kill_process(pid, rustix::process::Signal::TERM)
                .with_context(|| format!("stopping {} (pid {})", n.name, n.pid))?;
        }
    }
    let deadline = Instant::now() + SETTLE;
    for n in &nodes {
        while n.running() {
            if Instant::now() > deadline {
                bail!("{} (pid {}) did not exit in {}s", n.name, n.pid, SETTLE.as_secs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        writeln!(out, "{} stopped", n.name)?;
    }
    Ok(Outcome::Ok)
}

/// `ring add`: the next node joins (bootstrap streaming), and the ring settles with it UN.
pub fn add(a: RingAddArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut nodes = load(&a.dir)?;
    let first = nodes.first().cloned().context("an empty ring")?;
    let i = nodes.iter().filter_map(|n| n.name.strip_prefix("node")?.parse::<usize>().ok()).max().unwrap_or(0) + 1;
    if i > 254 {
        bail!("no address left for a node {i}");
    }
    let mut n = Node {
        name: format!("node{i}"),
        address: IpAddr::from([127, 0, 0, i as u8]),
        dc: a.dc.unwrap_or(first.dc.clone()),
        data: first.data.parent().and_then(Path::parent).map_or_else(
            || PathBuf::from(format!("node{i}")).join("data"),
            |d| d.join(format!("node{i}")).join("data"),
        ),
        pid: 0,
        ..first
    };
    n.spawn()?;
    let name = n.name.clone();
    nodes.push(n);
    save(&a.dir, &nodes)?;
    let stopped: Vec<String> = nodes.iter().filter(|m| !m.running()).map(|m| m.name.clone()).collect();
    let stopped: Vec<&str> = stopped.iter().map(String::as_str).collect();
    settle(&nodes, &stopped)?;
    writeln!(out, "{name} joined")?;
    Ok(Outcome::Ok)
}

/// `ring decommission NODE`: it streams its ranges away and leaves; then it is stopped and
/// removed from the ring's file.
pub fn decommission(a: RingNodeArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut nodes = load(&a.dir)?;
    let n = find(&mut nodes, &a.node)?.clone();
    if !n.running() {
        bail!("{} is not running: a dead node is removed, not decommissioned", n.name);
    }
    let reply = cairn_server::admin::request(n.admin(), None, &["decommission".to_string()])
        .with_context(|| format!("{} does not answer", n.name))?;
    let text = reply.map_err(|e| anyhow::anyhow!("{}: {e}", n.name))?;
    write!(out, "{text}")?;
    if let Some(pid) = rustix::process::Pid::from_raw(n.pid as i32) {
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).context("stopping the node")?;
    }
    let deadline = Instant::now() + SETTLE;
    while n.running() {
        if Instant::now() > deadline {
            bail!("{} (pid {}) did not exit in {}s", n.name, n.pid, SETTLE.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    nodes.retain(|m| m.name != n.name);
    save(&a.dir, &nodes)?;
    writeln!(out, "{} left the ring", n.name)?;
    Ok(Outcome::Ok)
}

/// `ring removenode NODE`: a dead node's ranges re-replicated from the live nodes, and the node
/// forgotten (removed from the ring's file too).
pub fn removenode(a: RingNodeArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut nodes = load(&a.dir)?;
    let n = find(&mut nodes, &a.node)?.clone();
    if n.running() {
        bail!("{} is running: decommission it, or kill it first", n.name);
    }
    let live = nodes.iter().find(|m| m.running()).context("no node of the ring is running")?;
    let view = live.view()?;
    let host_id = view["nodes"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["address"].as_str() == Some(&n.address.to_string())))
        .and_then(|x| x["host_id"].as_str())
        .map(str::to_string)
        .with_context(|| format!("{} does not know {}", live.name, n.name))?;
    let reply = cairn_server::admin::request(live.admin(), None, &["removenode".to_string(), host_id])
        .with_context(|| format!("{} does not answer", live.name))?;
    write!(out, "{}", reply.map_err(|e| anyhow::anyhow!("{}: {e}", live.name))?)?;
    nodes.retain(|m| m.name != n.name);
    save(&a.dir, &nodes)?;
    Ok(Outcome::Ok)
}
