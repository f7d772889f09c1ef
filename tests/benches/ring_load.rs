//! A write load for `bench/ring`: the scylla driver (token-aware) inserting into a table at one
//! consistency level, many requests in flight; prints one JSON line with writes/s and latency
//! percentiles. Not a timed test: `bench/ring` runs it against a single node and a ring in the
//! same run and reports ratios.
//!
//! usage: ring_load HOST PORT KEYSPACE RF CONSISTENCY OPS IN_FLIGHT

use std::sync::Arc;
use std::time::{Duration, Instant};

use scylla::client::session_builder::SessionBuilder;
use scylla::statement::Consistency;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    // `cargo test --all-targets` runs bench targets without arguments: nothing to load then.
    if args.is_empty() {
        return;
    }
    let [host, port, ks, rf, cl, ops, in_flight] = args.as_slice() else {
        eprintln!("usage: ring_load HOST PORT KEYSPACE RF CONSISTENCY OPS IN_FLIGHT");
        std::process::exit(2);
    };
    let consistency = match cl.as_str() {
        "ONE" => Consistency::One,
        "QUORUM" => Consistency::Quorum,
        "ALL" => Consistency::All,
        other => panic!("consistency {other}: ONE, QUORUM or ALL"),
    };
    let ops: usize = ops.parse().expect("OPS");
    let in_flight: usize = in_flight.parse().expect("IN_FLIGHT");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let session =
            SessionBuilder::new().known_node(format!("{host}:{port}")).build().await.expect("connect");
        let ddl = format!(
            "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
        );
        session.query_unpaged(ddl, &[]).await.expect("keyspace");
        session
            .query_unpaged(format!("CREATE TABLE IF NOT EXISTS {ks}.w (k bigint PRIMARY KEY, v text)"), &[])
            .await
            .expect("table");
        session.await_schema_agreement().await.expect("schema agreement");
        let mut insert = session.prepare(format!("INSERT INTO {ks}.w (k, v) VALUES (?, ?)")).await.expect("prepare");
        insert.set_consistency(consistency);
        let session = Arc::new(session);
        let insert = Arc::new(insert);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..in_flight {
            let (session, insert) = (Arc::clone(&session), Arc::clone(&insert));
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut k = t;
                while k < ops {
                    let t0 = Instant::now();
                    session.execute_unpaged(&insert, (k as i64, "a session payload of moderate size")).await.expect("insert");
                    latencies.push(t0.elapsed());
                    k += in_flight;
                }
                latencies
            }));
        }
        let mut all: Vec<Duration> = Vec::with_capacity(ops);
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        let seconds = start.elapsed().as_secs_f64();
        all.sort_unstable();
        let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        println!(
            "{{\"consistency\": \"{cl}\", \"ops\": {}, \"seconds\": {seconds:.3}, \"per_s\": {:.0}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}}}",
            all.len(),
            all.len() as f64 / seconds,
            pct(0.50),
            pct(0.99)
        );
    });
}
