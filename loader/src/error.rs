//! Why a load failed, and where: each variant carries the place it stopped — the contact points,
//! the target `keyspace.table`, the partition (its key in hex), the column, the statement, the
//! checkpoint file — so a message names it once and a caller matches on the variant, never on
//! the text. The driver's own errors are kept as sources, classified by their typed kinds
//! (`scylla::errors`), not by their wording.

use std::path::PathBuf;

use scylla::errors::{
    ConnectionError, ConnectionPoolError, ConnectionSetupRequestErrorKind, DbError, MetadataError, NewSessionError,
};

use crate::send::SendError;

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading the SSTables failed (the error names the file and the byte offset).
    #[error(transparent)]
    Read(#[from] cairn_format::Error),
    /// A key, clustering or cell value does not decode as its column's type.
    #[error("{table}: partition {key}: {what}: {source}")]
    Decode {
        /// Source `keyspace.table` (as written on the target).
        table: String,
        /// The partition key, in hex.
        key: String,
        /// What was being decoded: `partition key k`, `clustering c`, `column v`, `map key of m`...
        what: String,
        /// The decoder's located error.
        source: Box<cairn_format::error::DecodeError>,
    },
    /// A row has fewer clustering values than its table: a COMPACT STORAGE row written through
    /// Thrift with a clustering prefix, which CQL cannot address.
    #[error(
        "{table}: partition {key}: null clustering value for {column}: CQL cannot write a row with a clustering prefix"
    )]
    NullClustering {
        /// Target `keyspace.table`.
        table: String,
        /// The partition key, in hex.
        key: String,
        /// The first clustering column without a value.
        column: String,
    },
    /// A cell of a non-frozen UDT column names a field the column's type does not have (or a
    /// cell path that is no field number): its value would be dropped.
    #[error("{table}: partition {key}: column {column}: a cell names field {field}, which its UDT type does not have")]
    UdtFieldBeyondType {
        /// Target `keyspace.table`.
        table: String,
        /// The partition key, in hex.
        key: String,
        /// The UDT column.
        column: String,
        /// The field the cell names (its path in hex when it is no field number).
        field: String,
    },
    /// A row or bound has more clustering values than the schema has clustering columns.
    #[error("{table}: partition {key}: clustering value {index} has no clustering column in the schema")]
    ClusteringBeyondSchema {
        /// Target `keyspace.table`.
        table: String,
        /// The partition key, in hex.
        key: String,
        /// The clustering position (0-based).
        index: usize,
    },
    /// A range tombstone whose bounds differ in more than one clustering column after their
    /// common prefix: CQL's DELETE can bound only the last restricted column.
    #[error("{table}: partition {key}: a range tombstone cannot be written as one CQL slice")]
    RangeNotASlice {
        /// Target `keyspace.table`.
        table: String,
        /// The partition key, in hex.
        key: String,
    },
    /// The load's async runtime could not be started.
    #[error("cannot start the load's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// No contact point answered.
    #[error("cannot reach {hosts} ({reason})")]
    Unreachable {
        /// Contact points.
        hosts: String,
        /// Why the last attempt failed: `connection refused`, `timed out`, ...
        reason: String,
    },
    /// A contact point answered and refused the credentials.
    #[error("cannot connect to {hosts}: the credentials were refused: {message}")]
    Credentials {
        /// Contact points.
        hosts: String,
        /// The node's message.
        message: String,
    },
    /// The session could not be set up for another reason (the driver's error says which).
    #[error("cannot connect to {hosts}: {source}")]
    Connect {
        /// Contact points.
        hosts: String,
        /// The driver's error.
        source: Box<NewSessionError>,
    },
    /// The target's schema tables could not be read.
    #[error("cannot read the schema of {table} on the target: {source} (nothing was written)")]
    SchemaQuery {
        /// Target `keyspace.table`.
        table: String,
        /// The driver's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The target table does not exist.
    #[error("{table} does not exist on the target (use --create-schema; nothing was written)")]
    TableMissing {
        /// Target `keyspace.table`.
        table: String,
    },
    /// The target table exists and does not fit the data.
    #[error("schema check failed for {table}: {} (nothing was written)", problems.join("; "))]
    SchemaMismatch {
        /// Target `keyspace.table`.
        table: String,
        /// Each column that is missing or has another type.
        problems: Vec<String>,
    },
    /// `--create-schema`: a CREATE statement failed.
    #[error("creating {table} failed at `{statement}`: {source}")]
    CreateSchema {
        /// Target `keyspace.table`.
        table: String,
        /// The statement (or `refresh metadata`).
        statement: String,
        /// The driver's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A write failed (after retries, for transient failures): the load began and can be resumed.
    #[error("write to {table} failed: {source}")]
    Write {
        /// Target `keyspace.table`.
        table: String,
        /// The failed statement and the driver's error.
        source: SendError,
    },
    /// Stopped by `stop_after` (resume with the same checkpoint file).
    #[error("stopped after {0} partitions; run again with the same --resume file to finish")]
    Interrupted(u64),
    /// The checkpoint file cannot be read, written, or is not this load's.
    #[error("checkpoint {}: {problem}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: CheckpointProblem,
    },
    /// A previous run stopped while a partition with list appends was being written: whether
    /// the cluster applied them is unknown, and sending them again could add every element
    /// twice. Nothing was written.
    #[error(
        "a previous run stopped while it was writing a partition with list appends (checkpoint {}): {}. \
         Whether the appends were applied is unknown, and sending them again could add their elements \
         twice; nothing was written. Look at each partition on the target and answer for its mark: \
         --resume-in-doubt MARK=send if its lists hold none of the source's elements, MARK=skip if \
         they hold all of them (the rest of the partition is sent; needs --timestamp-mode \
         preserve); if only some (a partition sent in several batches), mend its lists by hand, then \
         skip",
        path.display(),
        marks.join("; ")
    )]
    InDoubt {
        /// Each mark: table, partition key in hex, token, and the mark's name (`KEY@RUN`).
        marks: Vec<String>,
        /// The checkpoint file.
        path: PathBuf,
    },
    /// `--resume-in-doubt MARK=skip` without preserved timestamps.
    #[error(
        "--resume-in-doubt {mark}=skip needs --timestamp-mode preserve: rebased or current timestamps \
         move with each run's clock, so the partition's collection deletions would be newer than the \
         list elements already applied and hide them"
    )]
    InDoubtSkip {
        /// The mark (`KEY@RUN`).
        mark: String,
    },
    /// Counters cannot be replayed idempotently.
    #[error("{0} has counter columns: counters are not idempotent, a load would add to them; refused")]
    Counters(String),
}

/// What is wrong with a checkpoint file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointProblem {
    /// Reading or writing it failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A line does not read.
    #[error("line {line}: {why} (expected <dir>\\t<token>\\t<key hex>[\\tin-doubt\\t<run>])")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        why: &'static str,
    },
    /// `--resume-in-doubt` answers for a mark the checkpoint does not hold.
    #[error(
        "--resume-in-doubt names mark {mark}, which it does not hold (the marks are KEY@RUN, as a refusal names them)"
    )]
    NotInDoubt {
        /// The mark given.
        mark: String,
    },
    /// The recorded token is not the recorded key's: the checkpoint is not this table's.
    #[error("{dir}: token {token} is not the token of key {key} ({actual})")]
    ForeignToken {
        /// The source table directories of the entry.
        dir: String,
        /// The recorded token.
        token: String,
        /// The recorded key, in hex.
        key: String,
        /// The key's token under the table's partitioner.
        actual: String,
    },
}

/// The error of a session that could not be set up, by the driver's typed error kinds: no
/// contact point answered, the credentials were refused, or something else.
pub(crate) fn connect_error(hosts: &[String], e: NewSessionError) -> LoadError {
    let hosts = hosts.join(", ");
    let last = match &e {
        NewSessionError::MetadataError(MetadataError::ConnectionPoolError(ConnectionPoolError::Broken {
            last_connection_error,
        })) => Some(last_connection_error),
        _ => None,
    };
    let reason = match last {
        Some(ConnectionError::IoError(io)) => Some(match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            std::io::ErrorKind::TimedOut => "timed out".to_string(),
            std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                "no route to the host".to_string()
            }
            _ => io.to_string(),
        }),
        Some(ConnectionError::ConnectTimeout) => Some("timed out".to_string()),
        Some(ConnectionError::ConnectionSetupRequestError(s)) => {
            if let ConnectionSetupRequestErrorKind::DbError(DbError::AuthenticationError, message) = &s.error {
                return LoadError::Credentials { hosts, message: message.clone() };
            }
            None
        }
        _ => None,
    };
    match (reason, &e) {
        (Some(reason), _) => LoadError::Unreachable { hosts, reason },
        (None, NewSessionError::FailedToResolveAnyHostname(_)) => {
            LoadError::Unreachable { hosts, reason: "the host name does not resolve".into() }
        }
        (None, _) => LoadError::Connect { hosts, source: Box::new(e) },
    }
}
