//! Load generator for `bench/node`: prepared single-row INSERTs or point SELECTs through the
//! scylla driver against a running node, `--concurrency` requests in flight, closed loop (as
//! fast as the node answers) or open loop at `--rate` ops/s. Prints one JSON line: ops, seconds,
//! ops/s, p50/p99/max latency in µs, errors.
//!
//! usage: node_bench HOST:PORT write|read|ceiling [--ops N] [--concurrency C] [--rate R]
//!        [--connections K] [--keys N]
//!
//! `ceiling` reads one row of `system.local` (prepared): the driver and protocol round trip with
//! next to no storage work, the reference the other modes are compared with.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use scylla::client::PoolSize;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(addr), Some(mode)) = (args.get(1), args.get(2)) else {
        eprintln!(
            "usage: node_bench HOST:PORT write|read|ceiling [--ops N] [--concurrency C] [--rate R] [--connections K] [--keys N]"
        );
        std::process::exit(2);
    };
    let ops = arg(&args, "--ops", 100_000);
    let concurrency = arg(&args, "--concurrency", 64).max(1);
    let rate = arg(&args, "--rate", 0);
    let connections = arg(&args, "--connections", 1).max(1) as usize;
    let keys = arg(&args, "--keys", 100_000).max(1);
    let session: Session = SessionBuilder::new()
        .known_node(addr)
        .pool_size(PoolSize::PerHost(std::num::NonZeroUsize::new(connections).ok_or("connections")?))
        .build()
        .await?;
    session
        .query_unpaged(
            "CREATE KEYSPACE IF NOT EXISTS bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            &[],
        )
        .await?;
    session.query_unpaged("CREATE TABLE IF NOT EXISTS bench.kv (k bigint PRIMARY KEY, v text)", &[]).await?;
    session.refresh_metadata().await?;
    let stmt = match mode.as_str() {
        "write" => session.prepare("INSERT INTO bench.kv (k, v) VALUES (?, ?)").await?,
        "read" => session.prepare("SELECT v FROM bench.kv WHERE k = ?").await?,
        "ceiling" => session.prepare("SELECT release_version FROM system.local WHERE key = 'local'").await?,
        other => return Err(format!("unknown mode {other}").into()),
    };
    let session = Arc::new(session);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (session, stmt, next, errors, mode) =
            (session.clone(), stmt.clone(), next.clone(), errors.clone(), mode.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops {
                    break;
                }
                if rate > 0 {
                    // Open loop: operation i is due at i / rate seconds.
                    let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                // A multiplicative hash spreads keys over the ring.
                let k = ((i % keys).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1) as i64;
                let t = Instant::now();
                let r = match mode.as_str() {
                    "write" => session.execute_unpaged(&stmt, (k, format!("value-{i:016}"))).await.map(|_| ()),
                    "read" => session.execute_unpaged(&stmt, (k,)).await.map(|_| ()),
                    _ => session.execute_unpaged(&stmt, ()).await.map(|_| ()),
                };
                lat.push(t.elapsed().as_micros() as u64);
                if r.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct =
        |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0);
    println!(
        "{{\"mode\": \"{mode}\", \"ops\": {}, \"seconds\": {secs:.3}, \"ops_per_s\": {:.0}, \"p50_us\": {}, \"p99_us\": {}, \"max_us\": {}, \"errors\": {}}}",
        lat.len(),
        lat.len() as f64 / secs,
        pct(0.50),
        pct(0.99),
        lat.last().copied().unwrap_or(0),
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}
