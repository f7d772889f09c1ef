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
    let config = cairn_server::NodeConfig {
        data_dir: a.data,
        listen: SocketAddr::new(a.listen, a.port),
        cluster_name: a.cluster_name,
        commitlog_sync: match a.commitlog_sync {
            CommitlogSync::Batch => cairn_server::commitlog::SyncMode::Batch,
            CommitlogSync::Periodic => {
                cairn_server::commitlog::SyncMode::Periodic(Duration::from_millis(a.commitlog_sync_period_ms.max(1)))
            }
        },
        admin: (a.admin_port != 0).then(|| SocketAddr::new(a.listen, a.admin_port)),
        users,
        num_tokens: a.num_tokens,
        initial_tokens: a.initial_token,
        ring: if a.seeds.is_empty() {
            None
        } else {
            let seeds = a.seeds.iter().map(|s| seed_address(s, a.storage_port)).collect::<anyhow::Result<_>>()?;
            let mut ring = cairn_server::RingConfig::new(SocketAddr::new(a.listen, a.storage_port), seeds);
            ring.dc = a.dc;
            ring.rack = a.rack;
            ring.gossip_interval = Duration::from_millis(a.gossip_interval_ms.max(10));
            ring.hinted_handoff = a.hinted_handoff == OnOff::On;
            ring.max_hint_window = Duration::from_secs(a.max_hint_window);
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
