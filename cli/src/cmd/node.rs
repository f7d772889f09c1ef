//! `cairn node`: run a node until SIGTERM or SIGINT.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Outcome;
use crate::args::{CommitlogSync, NodeArgs, OnOff};

pub fn run(a: NodeArgs) -> anyhow::Result<Outcome> {
    let users = if a.users.is_empty() {
        None
    } else {
        let parsed = a.users.iter().map(|u| {
            u.split_once(':')
                .map(|(n, p)| (n.to_string(), p.to_string()))
                .ok_or_else(|| anyhow::anyhow!("--user {u:?}: expected NAME:PASSWORD"))
        });
        Some(parsed.collect::<anyhow::Result<Vec<_>>>()?)
    };
    // Flags, then the file, then the defaults.
    let file = match &a.config {
        Some(path) => cairn_server::config::FileConfig::read(path)?,
        None => cairn_server::config::FileConfig::default(),
    };
    let data = a
        .data
        .or(file.data)
        .ok_or_else(|| anyhow::anyhow!("--data DIR is required (or data_file_directories in --config)"))?;
    let listen = a.listen.or(file.rpc_address).or(file.listen_address).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let port = a.port.or(file.native_port).unwrap_or(9042);
    let storage_port = a.storage_port.or(file.storage_port).unwrap_or(7000);
    let batch = match a.commitlog_sync {
        Some(s) => s == CommitlogSync::Batch,
        None => file.commitlog_batch.unwrap_or(false),
    };
    let period = a.commitlog_sync_period_ms.map(Duration::from_millis).or(file.commitlog_sync_period);
    let seeds = if a.seeds.is_empty() { file.seeds } else { a.seeds };
    let config = cairn_server::NodeConfig {
        data_dir: data,
        listen: SocketAddr::new(listen, port),
        cluster_name: a.cluster_name.or(file.cluster_name).unwrap_or_else(|| "Cairn Cluster".into()),
        commitlog_sync: if batch {
            cairn_server::commitlog::SyncMode::Batch
        } else {
            let period = period.unwrap_or(Duration::from_secs(10)).max(Duration::from_millis(1));
            cairn_server::commitlog::SyncMode::Periodic(period)
        },
        admin: (a.admin_port != 0).then(|| SocketAddr::new(listen, a.admin_port)),
        users,
        num_tokens: a.num_tokens.or(file.num_tokens).unwrap_or(16),
        initial_tokens: if a.initial_token.is_empty() { file.initial_tokens } else { a.initial_token },
        ring: if seeds.is_empty() {
            None
        } else {
            let seeds = seeds.iter().map(|s| seed_address(s, storage_port)).collect::<anyhow::Result<_>>()?;
            let mut ring = cairn_server::RingConfig::new(SocketAddr::new(listen, storage_port), seeds);
            ring.dc = a.dc.or(file.dc).unwrap_or_else(|| "datacenter1".into());
            ring.rack = a.rack.or(file.rack).unwrap_or_else(|| "rack1".into());
            ring.gossip_interval = Duration::from_millis(a.gossip_interval_ms.max(10));
            ring.hinted_handoff = match a.hinted_handoff {
                Some(h) => h == OnOff::On,
                None => file.hinted_handoff.unwrap_or(true),
            };
            if let Some(w) = a.max_hint_window.map(Duration::from_secs).or(file.max_hint_window) {
                ring.max_hint_window = w;
            }
            if let Some(phi) = file.phi_convict_threshold {
                ring.phi_convict_threshold = phi;
            }
            if let Some(b) = file.auto_bootstrap {
                ring.auto_bootstrap = b;
            }
            Some(ring)
        },
        ..Default::default()
    };
    // SIGTERM and SIGINT stop the node cleanly: memtables flushed, commit log emptied.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let node = cairn_server::start(config)?;
    cairn_server::log!("cairn node: ready, CQL native protocol v4 on {}", node.addr);
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    cairn_server::log!("cairn node: stopping (flushing memtables)");
    node.stop();
    cairn_server::log!("cairn node: stopped");
    Ok(Outcome::Ok)
}

/// A seed as ADDR or ADDR:PORT (this node's storage port when none is given).
fn seed_address(s: &str, storage_port: u16) -> anyhow::Result<SocketAddr> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let ip: IpAddr = s.parse().map_err(|_| anyhow::anyhow!("--seeds {s:?}: expected ADDR or ADDR:PORT"))?;
    Ok(SocketAddr::new(ip, storage_port))
}
