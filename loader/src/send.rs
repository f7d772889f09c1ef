//! Sending a load's statements: prepared, token-aware, several partitions in flight, throttled,
//! retried.
//!
//! Each statement is an EXECUTE of a prepared statement with its values bound (see the
//! `statements` module); a partition's statements go in unlogged protocol BATCHes of prepared
//! statements, one alone as an EXECUTE.
//!
//! Each partition's statements (its unlogged batches) go out in order as one unit of work, so
//! order-sensitive writes — list appends, whose cell paths the coordinator assigns — keep their
//! order; different partitions are in flight together, up to `max_in_flight`. Every statement
//! carries its own write timestamp, so the order between partitions never matters, and every
//! statement but a list append is idempotent (a replay writes the same cells with the same
//! timestamps), which makes retrying safe: transient failures (timeouts, overload, unavailable
//! replicas, broken connections) are retried with exponential backoff, anything else stops the
//! load. A list append gets a new cell path from the coordinator each time it is applied, so it
//! is marked not idempotent and sent again only after a failure that says it was not applied
//! (overload, unavailable replicas, never sent); after a timeout the load stops, saying so.
//!
//! Routing: statements are sent to a replica of their partition first (the driver's token map
//! and the keyspace's replication), then to the other nodes, as a token-aware driver would route
//! a prepared statement.
//!
//! Throttle: the bytes of bound values sent (each value with its 4-byte length, what
//! [`crate::TableLoad::bytes`] counts) are held to the rate asked for (a token bucket with a burst
//! of a fifth of a second's worth), measured from the first statement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scylla::client::session::Session;
use scylla::cluster::{ClusterState, NodeRef};
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::policies::load_balancing::{FallbackPlan, LoadBalancingPolicy, RoutingInfo};
use scylla::routing::{Shard, Token};
use scylla::serialize::SerializationError;
use scylla::serialize::row::{RowSerializationContext, SerializeRow};
use scylla::serialize::writers::RowWriter;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;

use crate::statements::Values;

/// Attempts per batch before a transient failure stops the load.
const ATTEMPTS: u32 = 8;
/// The first retry's delay; each further retry doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The throttle's burst: this many seconds' worth of bytes may go out at once.
const BURST_S: f64 = 0.2;

/// Replicas of one token first, then every other node.
#[derive(Debug)]
struct ReplicaFirst {
    keyspace: String,
    table: String,
    token: i64,
}

impl ReplicaFirst {
    fn plan<'a>(&self, cluster: &'a ClusterState) -> impl Iterator<Item = (NodeRef<'a>, Option<Shard>)> + use<'a> {
        let replicas: Vec<_> = cluster
            .get_token_endpoints(&self.keyspace, &self.table, Token::new(self.token))
            .into_iter()
            .map(|(n, _)| n.host_id)
            .collect();
        let nodes = cluster.get_nodes_info();
        let first: Vec<NodeRef<'a>> =
            replicas.iter().filter_map(|id| nodes.iter().find(|n| n.host_id == *id)).collect();
        let rest = nodes.iter().filter(move |n| !replicas.contains(&n.host_id));
        first.into_iter().chain(rest).filter(|n| n.is_enabled()).map(|n| (n, None))
    }
}

impl LoadBalancingPolicy for ReplicaFirst {
    fn pick<'a>(&'a self, _: &'a RoutingInfo, cluster: &'a ClusterState) -> Option<(NodeRef<'a>, Option<Shard>)> {
        self.plan(cluster).next()
    }

    fn fallback<'a>(&'a self, _: &'a RoutingInfo, cluster: &'a ClusterState) -> FallbackPlan<'a> {
        Box::new(self.plan(cluster))
    }

    fn name(&self) -> String {
        "cairn-load replica-first".into()
    }
}

/// Whether a failure may go away if the same write is sent again.
fn transient(e: &ExecutionError) -> bool {
    match e {
        ExecutionError::RequestTimeout(_) | ExecutionError::ConnectionPoolError(_) => true,
        ExecutionError::LastAttemptError(a) => match a {
            RequestAttemptError::DbError(db, _) => matches!(
                db,
                DbError::Overloaded
                    | DbError::Unavailable { .. }
                    | DbError::WriteTimeout { .. }
                    | DbError::ReadTimeout { .. }
                    | DbError::IsBootstrapping
            ),
            RequestAttemptError::BrokenConnectionError(_) | RequestAttemptError::UnableToAllocStreamId => true,
            _ => false,
        },
        _ => false,
    }
}

/// Whether a failure says the write was not applied: refused before it was sent, or by a
/// coordinator that did not start it. (A timeout or a broken connection may follow a write that
/// was applied.)
fn not_applied(e: &ExecutionError) -> bool {
    match e {
        ExecutionError::ConnectionPoolError(_) => true,
        ExecutionError::LastAttemptError(a) => match a {
            RequestAttemptError::DbError(db, _) => {
                matches!(db, DbError::Overloaded | DbError::Unavailable { .. } | DbError::IsBootstrapping)
            }
            RequestAttemptError::UnableToAllocStreamId => true,
            _ => false,
        },
        _ => false,
    }
}

/// How long to wait before sending `len` more bytes when `sent` bytes went out in `elapsed`
/// at `rate` bytes/s (a bucket holding `BURST_S` seconds' worth).
pub fn throttle_delay(rate: f64, sent: u64, len: u64, elapsed: Duration) -> Duration {
    let allowed = rate * (elapsed.as_secs_f64() + BURST_S);
    let after = (sent + len) as f64;
    if after <= allowed { Duration::ZERO } else { Duration::from_secs_f64((after - allowed) / rate) }
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The cluster refused a statement, or a transient failure outlasted the retries.
    #[error("`{statement}`{}: {source}", if *attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() })]
    Rejected {
        /// The beginning of the failed statement (at most [`STATEMENT_SHOWN`] characters).
        statement: String,
        /// Attempts made.
        attempts: u32,
        /// The driver's error.
        source: Box<ExecutionError>,
    },
    /// The cluster refused to prepare a statement.
    #[error("preparing `{statement}`: {source}")]
    Prepare {
        /// The statement (at most [`STATEMENT_SHOWN`] characters).
        statement: String,
        /// The driver's error.
        source: Box<scylla::errors::PrepareError>,
    },
    /// A write task panicked or was cancelled.
    #[error("a write task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Characters of a failed statement quoted in its error.
pub const STATEMENT_SHOWN: usize = 160;

/// The beginning of `text`, at most [`STATEMENT_SHOWN`] characters, marked when cut.
pub(crate) fn shown(text: &str) -> String {
    match text.char_indices().nth(STATEMENT_SHOWN) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// Values bound to a prepared statement's markers, as they are (the protocol's `Values`): the
/// loader checked them against the source schema, which the target's must equal.
pub struct BoundValues(pub(crate) Values);

/// The values do not match the prepared statement's markers (a loader bug, not bad data).
#[derive(Debug, thiserror::Error)]
#[error("{values} values bound to a statement with {markers} markers")]
struct MarkerCount {
    values: usize,
    markers: usize,
}

/// A value too long for the protocol's 32-bit length.
#[derive(Debug, thiserror::Error)]
#[error("a bound value of more than 2 GiB")]
struct TooLong;

impl SerializeRow for BoundValues {
    fn serialize(&self, ctx: &RowSerializationContext<'_>, writer: &mut RowWriter) -> Result<(), SerializationError> {
        if ctx.columns().len() != self.0.count {
            return Err(SerializationError::new(MarkerCount { values: self.0.count, markers: ctx.columns().len() }));
        }
        for v in self.0.iter() {
            let cell = writer.make_cell_writer();
            match v {
                Some(b) => {
                    cell.set_value(b).map_err(|_| SerializationError::new(TooLong))?;
                }
                None => {
                    cell.set_null();
                }
            }
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.0.count == 0
    }
}

/// One statement to send: what it executes and what it binds.
pub struct Call {
    /// The prepared statement.
    pub prepared: PreparedStatement,
    /// Its values.
    pub values: BoundValues,
}

impl Call {
    /// Bytes of its bound values.
    pub fn bytes(&self) -> u64 {
        self.values.0.bytes.len() as u64
    }
}

/// One partition's batches, with what routes them.
pub struct Unit {
    /// Target keyspace and table.
    pub keyspace: String,
    /// Target table.
    pub table: String,
    /// The partition's token (Murmur3), when the table's partitioner has one.
    pub token: Option<i64>,
    /// Batches of statements, sent in order (a batch of one as an EXECUTE).
    pub batches: Vec<Vec<Call>>,
}

/// Sends units with at most `max_in_flight` outstanding.
pub struct Sender {
    session: Arc<Session>,
    tasks: tokio::task::JoinSet<Result<u32, SendError>>,
    max_in_flight: usize,
    /// Bytes/s, if throttled.
    rate: Option<f64>,
    started: Option<Instant>,
    /// Bytes of bound values handed to the driver.
    pub sent_bytes: u64,
    /// Retries made.
    pub retries: u64,
}

impl Sender {
    /// A sender over `session`.
    pub fn new(session: Arc<Session>, max_in_flight: usize, throttle_mib_s: Option<f64>) -> Sender {
        Sender {
            session,
            tasks: tokio::task::JoinSet::new(),
            max_in_flight: max_in_flight.max(1),
            rate: throttle_mib_s.filter(|r| *r > 0.0).map(|r| r * 1024.0 * 1024.0),
            started: None,
            sent_bytes: 0,
            retries: 0,
        }
    }

    /// Queue `unit`, waiting first for room (and for the throttle).
    pub fn send(&mut self, rt: &tokio::runtime::Runtime, unit: Unit) -> Result<(), SendError> {
        while self.tasks.len() >= self.max_in_flight {
            self.join_one(rt)?;
        }
        let len: u64 = unit.batches.iter().flatten().map(Call::bytes).sum();
        let started = *self.started.get_or_insert_with(Instant::now);
        if let Some(rate) = self.rate {
            let wait = throttle_delay(rate, self.sent_bytes, len, started.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        self.sent_bytes += len;
        let session = self.session.clone();
        self.tasks.spawn_on(send_unit(session, unit), rt.handle());
        Ok(())
    }

    fn join_one(&mut self, rt: &tokio::runtime::Runtime) -> Result<(), SendError> {
        match rt.block_on(self.tasks.join_next()) {
            Some(Ok(Ok(retries))) => {
                self.retries += u64::from(retries);
                Ok(())
            }
            Some(Ok(Err(e))) => Err(e),
            Some(Err(e)) => Err(SendError::Task(e)),
            None => Ok(()),
        }
    }

    /// Wait until everything queued is written (or the first failure).
    pub fn drain(&mut self, rt: &tokio::runtime::Runtime) -> Result<(), SendError> {
        while !self.tasks.is_empty() {
            self.join_one(rt)?;
        }
        Ok(())
    }
}

async fn send_unit(session: Arc<Session>, unit: Unit) -> Result<u32, SendError> {
    let policy: Option<Arc<dyn LoadBalancingPolicy>> = unit.token.map(|token| {
        Arc::new(ReplicaFirst { keyspace: unit.keyspace.clone(), table: unit.table.clone(), token })
            as Arc<dyn LoadBalancingPolicy>
    });
    let mut retries = 0;
    for mut batch in unit.batches {
        // One statement is an EXECUTE; several, an unlogged BATCH of prepared statements.
        let (single, many) = if batch.len() == 1 {
            let Some(mut call) = batch.pop() else { continue };
            call.prepared.set_load_balancing_policy(policy.clone());
            (Some(call), None)
        } else {
            let mut b = Batch::new(BatchType::Unlogged);
            b.set_is_idempotent(batch.iter().all(|c| c.prepared.get_is_idempotent()));
            b.set_load_balancing_policy(policy.clone());
            let mut values = Vec::with_capacity(batch.len());
            for call in batch.drain(..) {
                b.append_statement(call.prepared);
                values.push(call.values);
            }
            (None, Some((b, values)))
        };
        let idempotent = match (&single, &many) {
            (Some(call), _) => call.prepared.get_is_idempotent(),
            (None, Some((b, _))) => b.get_is_idempotent(),
            (None, None) => true,
        };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let result = match (&single, &many) {
                (Some(call), _) => session.execute_unpaged(&call.prepared, &call.values).await,
                (None, Some((b, values))) => session.batch(b, values).await,
                (None, None) => break,
            };
            match result {
                Ok(_) => break,
                // A write that may have been applied is sent again only when that is harmless.
                Err(e) if transient(&e) && (idempotent || not_applied(&e)) && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                    retries += 1;
                }
                Err(e) => {
                    let statement = match (&single, &many) {
                        (Some(call), _) => shown(call.prepared.get_statement()),
                        (None, Some((b, _))) => quoted_batch(b),
                        (None, None) => String::new(),
                    };
                    return Err(SendError::Rejected { statement, attempts: attempt, source: Box::new(e) });
                }
            }
        }
    }
    Ok(retries)
}

/// What a failed batch is quoted as: its first statement, and how many it held.
fn quoted_batch(b: &Batch) -> String {
    let first = match b.statements.first() {
        Some(scylla::statement::batch::BatchStatement::PreparedStatement(p)) => p.get_statement(),
        Some(scylla::statement::batch::BatchStatement::Query(q)) => q.contents.as_str(),
        _ => "",
    };
    shown(&format!("BEGIN UNLOGGED BATCH {first}; ... ({} statements)", b.statements.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failure_that_says_the_write_was_not_applied_resends_a_list_append() {
        use scylla::statement::Consistency;
        let db = |e: DbError| ExecutionError::LastAttemptError(RequestAttemptError::DbError(e, String::new()));
        let timeout = db(DbError::WriteTimeout {
            consistency: Consistency::One,
            received: 0,
            required: 1,
            write_type: scylla::errors::WriteType::Simple,
        });
        assert!(transient(&timeout) && !not_applied(&timeout), "a timed-out write may have been applied");
        let overloaded = db(DbError::Overloaded);
        assert!(transient(&overloaded) && not_applied(&overloaded));
    }

    #[test]
    fn the_throttle_holds_the_rate_after_a_short_burst() {
        let mib = 1024.0 * 1024.0;
        // Within the burst: no wait.
        assert_eq!(throttle_delay(mib, 0, 200 * 1024, Duration::ZERO), Duration::ZERO);
        // 3 MiB sent after 1 s at 1 MiB/s: 1.8 MiB over the 1.2 MiB allowed.
        let d = throttle_delay(mib, 3 * 1024 * 1024, 0, Duration::from_secs(1));
        assert!((d.as_secs_f64() - 1.8).abs() < 1e-9, "{d:?}");
        // Behind the rate: no wait.
        assert_eq!(throttle_delay(mib, 1024, 1024, Duration::from_secs(10)), Duration::ZERO);
        // Over a long run the bytes sent track rate × time: sending 100 KiB units, sleeping as told.
        let (mut sent, mut t) = (0u64, 0.0f64);
        for _ in 0..1000 {
            t += throttle_delay(mib, sent, 100 * 1024, Duration::from_secs_f64(t)).as_secs_f64();
            sent += 100 * 1024;
        }
        let rate = sent as f64 / t / mib;
        assert!((rate - 1.0).abs() < 0.02, "{rate} MiB/s");
    }
}
