//! Typed, located errors.
//!
//! Parsers work on byte slices and report a [`DecodeError`]: an offset relative to the start of
//! the slice they were given plus a [`DecodeErrorKind`]. Readers that own files turn those into an
//! [`Error`] naming the file, the component and the absolute byte offset, so that every failure a
//! user sees says *where* it happened.

use std::fmt;
use std::path::PathBuf;

use crate::descriptor::Component;

/// What went wrong while decoding bytes, without saying where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The bytes ended before a value was complete.
    #[error("unexpected end of data: needed {needed} more byte(s), {available} available")]
    Truncated {
        /// Bytes the value needed.
        needed: u64,
        /// Bytes that were left.
        available: u64,
    },
    /// A length or count read from disk is impossible for the bytes that remain.
    #[error("{what} of {length} exceeds the limit of {limit}")]
    LengthOutOfRange {
        /// What the length measures.
        what: &'static str,
        /// The length read.
        length: u64,
        /// The largest acceptable value.
        limit: u64,
    },
    /// A field holds a value that the format does not allow.
    #[error("invalid {what}: {value}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// The value found.
        value: i64,
    },
    /// Text that must be UTF-8 (or ASCII) is not.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        what: &'static str,
    },
    /// A Cassandra marshal type string could not be parsed.
    #[error("cannot parse type '{text}': {reason}")]
    BadTypeString {
        /// The type string.
        text: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A compressed chunk could not be decompressed.
    #[error("{codec} chunk does not decompress: {detail}")]
    Decompress {
        /// The compressor class.
        codec: &'static str,
        /// The codec library's message.
        detail: String,
    },
    /// A decompressed chunk has the wrong size.
    #[error("chunk decompressed to {got} bytes, expected {expected}")]
    ChunkSize {
        /// Expected uncompressed length.
        expected: u64,
        /// Actual uncompressed length.
        got: u64,
    },
    /// A range-tombstone marker has a bound kind that markers cannot have.
    #[error("range tombstone marker with impossible bound kind {kind}")]
    InvalidBoundKind {
        /// The ordinal found.
        kind: u8,
    },
    /// A range tombstone was opened while another one was still open.
    #[error("range tombstone opened while another is open (opened at byte {open_at})")]
    NestedRangeTombstone {
        /// Data.db offset of the marker that opened the first one.
        open_at: u64,
    },
    /// A range tombstone close (or boundary) arrived with nothing open.
    #[error("range tombstone closed but none is open")]
    UnopenedRangeTombstone,
    /// The partition ended while a range tombstone was open.
    #[error("partition ends with a range tombstone still open (opened at byte {open_at})")]
    UnclosedRangeTombstone {
        /// Data.db offset of the opening marker.
        open_at: u64,
    },
    /// Open and close markers of one range tombstone carry different deletions.
    #[error(
        "range tombstone closes with deletion (ts {close_ts}, ldt {close_ldt}) but was opened \
         with (ts {open_ts}, ldt {open_ldt})"
    )]
    MismatchedRangeTombstone {
        /// Opening marker's timestamp.
        open_ts: i64,
        /// Opening marker's local deletion time.
        open_ldt: i64,
        /// Closing marker's timestamp.
        close_ts: i64,
        /// Closing marker's local deletion time.
        close_ldt: i64,
    },
    /// A size field disagrees with the bytes actually used.
    #[error("{what}: recorded {recorded}, actual {actual}")]
    SizeMismatch {
        /// The field.
        what: &'static str,
        /// What the file says.
        recorded: u64,
        /// What was found.
        actual: u64,
    },
    /// A row refers to a column that the serialization header does not have.
    #[error("column index {index} is out of range for {count} header columns")]
    ColumnIndex {
        /// Index found.
        index: u64,
        /// Columns in the header.
        count: u64,
    },
    /// A partition does not sort after the one before it (by token, then key bytes), as every
    /// SSTable's partitions must.
    #[error("partition out of token order (token {token} after {previous})")]
    PartitionOutOfOrder {
        /// This partition's token.
        token: String,
        /// The previous partition's token.
        previous: String,
    },
    /// Summary.db's first or last partition key is not the key of Index.db's first or last
    /// entry.
    #[error("the {end} partition key is not the key of Index.db's {end} entry")]
    EndKeyMismatch {
        /// `"first"` or `"last"`.
        end: &'static str,
    },
    /// A Summary.db sample points at an Index.db position that has no entry of the sample's key.
    #[error("a Summary.db sample points here, but Index.db has no entry of the sample's partition key here")]
    SampleKeyMismatch,
    /// Index.db placed the partition looked up here, but no partition of that key starts here.
    #[error("Index.db places the partition looked up at this byte, but no partition of that key starts here")]
    PlacedKeyMismatch,
    /// A static row was expected (or forbidden) here.
    #[error("{0}")]
    Structure(StructureError),
}

/// Structural rules of the unfiltered stream, named so that tests can match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StructureError {
    /// The header declares static columns but the partition has no static row.
    MissingStaticRow,
    /// A static row appears where a clustering row was expected.
    UnexpectedStaticRow,
    /// Data continues after the declared end of the file.
    TrailingBytes,
    /// A row or range-tombstone marker does not sort after the one before it in its partition.
    ClusteringOutOfOrder,
}

impl fmt::Display for StructureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StructureError::MissingStaticRow => "partition has no static row but the header has static columns",
            StructureError::UnexpectedStaticRow => "static row where a clustering row was expected",
            StructureError::TrailingBytes => "bytes after the end of the last structure",
            StructureError::ClusteringOutOfOrder => "clustering out of order within the partition",
        })
    }
}

/// What another component records that Data.db contradicts (see [`Error::Inconsistent`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mismatch {
    /// CRC.db holds a checksum per chunk of an uncompressed Data.db.
    #[error(
        "the data ends here ({chunks} chunk(s) of {chunk_size} bytes), but CRC.db has {checksums} chunk checksum(s)"
    )]
    ChunkCount {
        /// Chunks Data.db's length makes.
        chunks: u64,
        /// CRC.db's chunk size.
        chunk_size: u64,
        /// Checksums in CRC.db.
        checksums: u64,
    },
    /// CompressionInfo.db places a chunk beyond the end of the compressed file.
    #[error("the file ends here, but CompressionInfo.db places chunk {chunk} at byte {position}")]
    ChunkOffset {
        /// Chunk index.
        chunk: u64,
        /// Its offset in the compressed file.
        position: u64,
    },
    /// Index.db has an entry for a partition that would start at or past the end of the data.
    #[error("the data ends here, but Index.db places a partition at byte {position}")]
    IndexPosition {
        /// The Data.db position of the entry.
        position: u64,
    },
    /// Statistics.db records more partitions than the data has room for.
    #[error(
        "the data ends here, but Statistics.db records {partitions} partition(s), which take at least {min_bytes} bytes"
    )]
    TooShortForPartitions {
        /// Partitions recorded.
        partitions: u64,
        /// The fewest bytes they can take.
        min_bytes: u64,
    },
    /// The data holds a timestamp, local deletion time or TTL outside the range Statistics.db
    /// records for them ([`crate::data::ranges`]).
    #[error(
        "the data's {what} range from {low} to {high}, outside Statistics.db's record ({min} to {max}): the \
         serialization header's encoding statistics or that record is damaged"
    )]
    OutsideRecordedRange {
        /// `timestamps`, `local deletion times` or `TTLs`.
        what: &'static str,
        /// The smallest the data holds.
        low: i64,
        /// The largest.
        high: i64,
        /// The smallest Statistics.db records.
        min: i64,
        /// The largest.
        max: i64,
    },
    /// A scan of the whole data found another number of partitions than Statistics.db records.
    #[error("the data ends here after {scanned} partition(s), but Statistics.db records {recorded}")]
    PartitionCount {
        /// Partitions the scan read.
        scanned: u64,
        /// Partitions Statistics.db records.
        recorded: u64,
    },
}

impl Mismatch {
    /// The component whose record Data.db contradicts.
    pub fn witness(&self) -> Component {
        match self {
            Mismatch::ChunkCount { .. } => Component::Crc,
            Mismatch::ChunkOffset { .. } => Component::CompressionInfo,
            Mismatch::IndexPosition { .. } => Component::Index,
            Mismatch::TooShortForPartitions { .. }
            | Mismatch::PartitionCount { .. }
            | Mismatch::OutsideRecordedRange { .. } => Component::Statistics,
        }
    }
}

/// A decoding failure at an offset relative to the slice that was parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Offset of the failure (relative to the parser's input, or absolute where the parser was
    /// given a base offset).
    pub offset: u64,
    /// What went wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// A new error at `offset`.
    pub fn new(offset: u64, kind: DecodeErrorKind) -> Self {
        DecodeError { offset, kind }
    }

    /// Attach the file and component this error came from.
    pub fn located(self, path: impl Into<PathBuf>, component: Component) -> Error {
        Error::Corrupt { path: path.into(), component, offset: self.offset, kind: self.kind }
    }
}

/// Any failure of the format crate, naming the file and component it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A lifecycle transaction log cannot be resolved (corrupt before its last record, or its
    /// removed SSTables changed since): nothing of it is touched.
    #[error("{}: transaction log cannot be resolved: {problem}", path.display())]
    Transaction {
        /// The log file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The operating system refused a read. (The I/O error is part of the message, not a
    /// `source()`, so that a printed chain says it once.)
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// Bytes of a component do not decode.
    #[error("{} ({component}) at byte {offset}: {kind}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Which component it is.
        component: Component,
        /// Absolute byte offset in that file (or in the uncompressed Data.db stream for Data).
        offset: u64,
        /// What is wrong.
        kind: DecodeErrorKind,
    },
    /// A stored checksum disagrees with the bytes it covers.
    #[error("{} ({component}) at byte {offset}: {}", path.display(), self.detail())]
    ChecksumMismatch {
        /// The file whose bytes are wrong.
        path: PathBuf,
        /// The component.
        component: Component,
        /// Chunk index.
        chunk: u64,
        /// Byte offset of the chunk in the file.
        offset: u64,
        /// The stored checksum.
        expected: u32,
        /// The checksum of the bytes read.
        got: u32,
    },
    /// Digest.crc32 does not match the whole Data.db.
    #[error("{} (Data.db): {}", path.display(), self.detail())]
    DigestMismatch {
        /// The Data.db file.
        path: PathBuf,
        /// Value in Digest.crc32.
        expected: u32,
        /// CRC32 of Data.db.
        got: u32,
    },
    /// Data.db contradicts what another component records about it: a half-written,
    /// half-copied or mixed-up SSTable. Located in Data.db (its uncompressed stream) at the byte
    /// where its data ends.
    #[error("{} (Data.db) at byte {offset}: {mismatch}", path.display())]
    Inconsistent {
        /// The Data.db file.
        path: PathBuf,
        /// Where its data ends (uncompressed length), or the compressed file's length when the
        /// disagreement is about stored chunks.
        offset: u64,
        /// What disagrees with what.
        mismatch: Mismatch,
    },
    /// The file name carries a version letter pair this reader does not know.
    #[error("{}: unknown or unsupported SSTable version '{version}'", path.display())]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: String,
    },
    /// The file name is not a Cassandra component name.
    #[error("{}: not an SSTable component file name (expected <version>-<id>-big-<Component>)", path.display())]
    BadFileName {
        /// The file.
        path: PathBuf,
    },
    /// A checksum component TOC.txt lists is not on disk: the data cannot be checked against it.
    #[error(
        "{}: {component} is listed in TOC.txt but missing, so the data cannot be checked against it (--no-verify \
         reads it unchecked)",
        path.display()
    )]
    MissingChecksum {
        /// The missing file.
        path: PathBuf,
        /// Its component.
        component: Component,
    },
    /// A component TOC.txt lists is not on disk (reported by `meta` and `verify`; the reads that
    /// need it fail on their own).
    #[error("{}: {component} is listed in TOC.txt but missing on disk", path.display())]
    ListedMissing {
        /// The missing file.
        path: PathBuf,
        /// Its component.
        component: Component,
    },
    /// A component that must exist does not.
    #[error("{}: missing required component {component}", path.display())]
    MissingComponent {
        /// The SSTable (its Data.db path).
        path: PathBuf,
        /// The missing component.
        component: Component,
    },
    /// The SSTable uses a format family this reader cannot read (BTI `da`, legacy 2.x).
    #[error("{}: unsupported SSTable format: {what}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        what: String,
    },
    /// A schema given by the user contradicts the serialization header.
    #[error(
        "column '{column}': the schema says {schema_type} but the SSTable's serialization header says {header_type}"
    )]
    SchemaMismatch {
        /// The column.
        column: String,
        /// The type in the serialization header.
        header_type: String,
        /// The type in the schema.
        schema_type: String,
    },
    /// The SSTable has a column the schema does not know.
    #[error("column '{column}' of the SSTable's serialization header is not in the schema of {table}")]
    UnknownColumn {
        /// The column.
        column: String,
        /// The table.
        table: String,
    },
    /// The key or clustering layout of the schema disagrees with the header.
    #[error("{what}: the schema has {schema} but the SSTable has {header}")]
    SchemaShape {
        /// What disagrees.
        what: &'static str,
        /// The schema's count or type.
        schema: String,
        /// The header's count or type.
        header: String,
    },
    /// A writer was given a row SSTables cannot hold.
    #[error("invalid row, column '{column}': {detail}")]
    InvalidRow {
        /// The column.
        column: String,
        /// What is wrong, and where.
        detail: String,
    },
    /// A writer was given data in an order SSTables cannot hold.
    #[error("{what} out of order: {detail}")]
    OutOfOrder {
        /// What was out of order.
        what: &'static str,
        /// The offending values.
        detail: String,
    },
    /// A component path names something other than a regular file (a FIFO, a socket, a
    /// device, a directory). Components are opened only after this check, so a FIFO cannot
    /// block a read that waits for a writer.
    #[error("{}: not a regular file but a {kind}; an SSTable's {component} must be a regular file", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// The component it should hold.
        component: Component,
        /// What it is instead (`FIFO`, `socket`, `directory`, ...).
        kind: &'static str,
    },
    /// Data.db decodes neither with the serialization header's non-frozen UDT columns nor with
    /// them frozen (CASSANDRA-15035 headers declare frozen UDTs non-frozen), so how to read them
    /// cannot be decided from the files alone.
    #[error(
        "{error}; the serialization header declares {} as non-frozen UDT column(s) and the rows decode \
         neither that way nor frozen: if the table's schema says frozen (CASSANDRA-15035), give it \
         with --schema FILE.cql or a schema.cql beside the files",
        columns.join(", ")
    )]
    UdtFreezingUndecided {
        /// The columns whose freezing is in doubt.
        columns: Vec<String>,
        /// The error reading with the header as it is.
        error: Box<Error>,
    },
    /// A writer was given a compression option its codec cannot use. Nothing is written: the
    /// writer refuses before it creates a file.
    #[error("{}: cannot compress with {compressor} option {option}='{value}': {reason}", path.display())]
    BadCompressionOption {
        /// The Data.db that would have been written, or the CompressionInfo.db whose options a
        /// rewrite keeps.
        path: PathBuf,
        /// The codec's class name.
        compressor: &'static str,
        /// The option.
        option: &'static str,
        /// Its value as given.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A rewrite that keeps its source's compression cannot: the source names a compressor
    /// class Cairn does not know (it can still be read where its chunks are stored raw).
    #[error(
        "{}: compressor class '{class}' is not one Cairn can write, so the compression cannot be kept; \
         choose one with --compression",
        path.display()
    )]
    UnknownCompressor {
        /// The source's CompressionInfo.db.
        path: PathBuf,
        /// The class it names.
        class: String,
    },
    /// A CQL schema file does not parse. (The parse error is part of the message, not a
    /// `source()`.)
    #[error("{}: {error}", path.display())]
    Cql {
        /// The schema file.
        path: PathBuf,
        /// The parse error.
        error: crate::schema::cql::CqlError,
    },
}

impl Error {
    /// The I/O error for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), error: source }
    }

    /// The byte offset this error points at, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Corrupt { offset, .. }
            | Error::ChecksumMismatch { offset, .. }
            | Error::Inconsistent { offset, .. } => Some(*offset),
            Error::UdtFreezingUndecided { error, .. } => error.offset(),
            _ => None,
        }
    }

    /// What went wrong, without the file, component and offset that [`Error::path`],
    /// [`Error::component`] and [`Error::offset`] give (the message is this, prefixed by them):
    /// for reports that show the location in columns of their own.
    pub fn detail(&self) -> String {
        match self {
            Error::Io { error, .. } => error.to_string(),
            Error::Corrupt { kind, .. } => kind.to_string(),
            Error::ChecksumMismatch { chunk, expected, got, .. } => {
                format!("checksum mismatch in chunk {chunk}: stored {expected:#010x}, computed {got:#010x}")
            }
            Error::DigestMismatch { expected, got, .. } => {
                format!("Digest.crc32 says {expected} but the file's CRC32 is {got}")
            }
            Error::Inconsistent { mismatch, .. } => mismatch.to_string(),
            Error::Cql { error, .. } => error.to_string(),
            other => other.to_string(),
        }
    }

    /// The file this error concerns, when it names one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Io { path, .. }
            | Error::Corrupt { path, .. }
            | Error::ChecksumMismatch { path, .. }
            | Error::DigestMismatch { path, .. }
            | Error::Inconsistent { path, .. }
            | Error::UnknownVersion { path, .. }
            | Error::BadFileName { path }
            | Error::MissingComponent { path, .. }
            | Error::MissingChecksum { path, .. }
            | Error::ListedMissing { path, .. }
            | Error::Unsupported { path, .. }
            | Error::NotRegularFile { path, .. }
            | Error::Transaction { path, .. }
            | Error::BadCompressionOption { path, .. }
            | Error::UnknownCompressor { path, .. }
            | Error::Cql { path, .. } => Some(path),
            Error::UdtFreezingUndecided { error, .. } => error.path(),
            _ => None,
        }
    }

    /// The component this error concerns, when it names one.
    pub fn component(&self) -> Option<Component> {
        match self {
            Error::Corrupt { component, .. }
            | Error::ChecksumMismatch { component, .. }
            | Error::MissingComponent { component, .. }
            | Error::MissingChecksum { component, .. }
            | Error::ListedMissing { component, .. }
            | Error::NotRegularFile { component, .. } => Some(*component),
            Error::DigestMismatch { .. } => Some(Component::Digest),
            Error::UdtFreezingUndecided { error, .. } => error.component(),
            Error::Inconsistent { .. } => Some(Component::Data),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
