//! Opening an SSTable: its components, schema and readers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codec::Cursor;
use crate::compression::{ChunkChecksums, CompressionInfo, parse_digest};
use crate::data::scanner::Scanner;
use crate::data::source::{DataSource, DigestCoverage, Layout};
use crate::descriptor::{Component, Descriptor};
use crate::error::{DecodeErrorKind, Error, Mismatch, Result};
use crate::filter::BloomFilter;
use crate::index::{IndexReader, parse_entry};
use crate::partitioner::{Partitioner, Token};
use crate::schema::TableSchema;
use crate::statistics::{self, SerializationHeader, Statistics, StatisticsError};
use crate::summary::Summary;

/// How to open an SSTable.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// A CQL schema file to name and check columns with (else `schema.cql` beside the files,
    /// else the serialization header alone).
    pub schema_file: Option<PathBuf>,
    /// Skip checksum verification, the Data.db cross-checks at open and the order, size and
    /// count checks of reads (forensics only).
    pub no_verify: bool,
    /// Open for reading metadata (`cairn meta`): a failed Index.db check, or UDT freezing that
    /// the rows do not settle, becomes an [`OpenWarning`] instead of failing the open, since
    /// Statistics.db still reads.
    pub metadata_only: bool,
    /// The caller reports checksum components TOC.txt lists but the disk lacks (`verify`,
    /// which checks the TOC against the disk): they do not fail the open.
    pub reports_missing_checksums: bool,
}

/// Something an open noticed and read around, for the caller to show (the CLI prints these on
/// stderr).
#[derive(Debug, Clone)]
pub enum OpenWarning {
    /// Columns the serialization header declares as non-frozen UDTs decode only frozen
    /// (CASSANDRA-15035) and are read as frozen; see [`crate::header_fix`].
    UdtReadAsFrozen {
        /// Statistics.db, which holds the header.
        path: PathBuf,
        /// The columns read as frozen.
        columns: Vec<String>,
    },
    /// A component failed a check that only [`OpenOptions::metadata_only`] reads past.
    Unreadable(Arc<Error>),
    /// The header names type classes Cairn does not decode (custom types, or Cassandra's
    /// uninterpreted ones): their values are read as blobs.
    CustomTypes {
        /// Statistics.db, which holds the header.
        path: PathBuf,
        /// The classes.
        classes: Vec<String>,
    },
}

impl std::fmt::Display for OpenWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenWarning::UdtReadAsFrozen { path, columns } => write!(
                f,
                "{}: column(s) {}: the serialization header declares a non-frozen UDT but the rows decode only \
                 frozen (CASSANDRA-15035), so they are read as frozen; --schema FILE.cql (or schema.cql beside \
                 the files) makes this certain",
                path.display(),
                columns.join(", ")
            ),
            OpenWarning::Unreadable(e) => write!(f, "{e}"),
            OpenWarning::CustomTypes { path, classes } => write!(
                f,
                "{}: Cairn does not decode the type class(es) {}: their values are read as blobs (shown in hex)",
                path.display(),
                classes.join(", ")
            ),
        }
    }
}

/// An opened SSTable.
#[derive(Debug, Clone)]
pub struct SsTable {
    /// Which SSTable.
    pub descriptor: Descriptor,
    /// Components listed in TOC.txt (when present).
    pub toc: Option<Vec<Component>>,
    /// Components present on disk.
    pub present: Vec<Component>,
    /// Statistics.db.
    pub statistics: Statistics,
    /// The serialization header.
    pub header: Arc<SerializationHeader>,
    /// CompressionInfo.db, for compressed SSTables.
    pub compression: Option<CompressionInfo>,
    /// CRC.db, for uncompressed SSTables that have it.
    pub crc: Option<ChunkChecksums>,
    /// The partitioner.
    pub partitioner: Partitioner,
    /// Table schema.
    pub schema: TableSchema,
    /// What the open noticed and read around.
    pub warnings: Vec<OpenWarning>,
    verify: bool,
}

fn read_component(d: &Descriptor, c: Component) -> Result<Option<Vec<u8>>> {
    crate::component_file::read(&d.path(c), c)
}

/// Statistics.db of `d` as it is on disk, its errors located.
pub(crate) fn read_statistics(d: &Descriptor) -> Result<Statistics> {
    let path = d.path(Component::Statistics);
    let bytes = read_component(d, Component::Statistics)?.unwrap_or_default();
    statistics::parse(&bytes, d.version).map_err(|e| match e {
        StatisticsError::Decode(e) => e.located(&path, Component::Statistics),
        StatisticsError::Checksum(c) => Error::ChecksumMismatch {
            path: path.clone(),
            component: Component::Statistics,
            chunk: 0,
            offset: c.offset,
            expected: c.expected,
            got: c.got,
        },
    })
}

impl SsTable {
    /// Open the SSTable that `path` (any of its component files) belongs to.
    pub fn open(path: &Path, schema_file: Option<&Path>) -> Result<SsTable> {
        let (d, _) = Descriptor::from_path(path)?;
        Self::open_with(d, &OpenOptions { schema_file: schema_file.map(Path::to_path_buf), ..Default::default() })
    }

    /// Open `descriptor` with `options`.
    pub fn open_with(descriptor: Descriptor, options: &OpenOptions) -> Result<SsTable> {
        let d = descriptor;
        let present = crate::component_file::present(&d)?;
        let toc = read_component(&d, Component::Toc)?.map(|b| crate::toc::parse(&String::from_utf8_lossy(&b)).0);
        let required = [Component::Data, Component::Statistics];
        for c in required {
            if !present.contains(&c) {
                return Err(Error::MissingComponent { path: d.path(c), component: c });
            }
        }
        if toc.as_ref().is_some_and(|t| t.contains(&Component::CompressionInfo))
            && !present.contains(&Component::CompressionInfo)
        {
            return Err(Error::MissingComponent {
                path: d.path(Component::CompressionInfo),
                component: Component::CompressionInfo,
            });
        }
        let stats_path = d.path(Component::Statistics);
        let statistics = read_statistics(&d)?;
        let header = statistics.header.clone().ok_or_else(|| Error::Corrupt {
            path: stats_path.clone(),
            component: Component::Statistics,
            offset: 0,
            kind: DecodeErrorKind::InvalidValue { what: "missing serialization header component", value: 3 },
        })?;
        let partitioner_class = statistics.validation.as_ref().map(|v| v.partitioner.clone()).unwrap_or_default();
        let partitioner = Partitioner::from_class(&partitioner_class).ok_or_else(|| Error::Unsupported {
            path: stats_path.clone(),
            what: format!("partitioner '{partitioner_class}'"),
        })?;
        let compression = match read_component(&d, Component::CompressionInfo)? {
            Some(b) => {
                let p = d.path(Component::CompressionInfo);
                Some(CompressionInfo::parse(&b, d.version).map_err(|e| e.located(&p, Component::CompressionInfo))?)
            }
            None => None,
        };
        let crc = match (&compression, read_component(&d, Component::Crc)?) {
            (None, Some(b)) => {
                let p = d.path(Component::Crc);
                Some(ChunkChecksums::parse(&b).map_err(|e| e.located(&p, Component::Crc))?)
            }
            _ => None,
        };
        let schema = Self::find_schema(&d, options, &header)?;
        let mut header = header;
        schema.fix_header(&mut header);
        let mut table = SsTable {
            descriptor: d,
            toc,
            present,
            statistics,
            header: Arc::new(header),
            compression,
            crc,
            partitioner,
            schema,
            warnings: Vec::new(),
            verify: !options.no_verify,
        };
        let tolerate = |table: &mut SsTable, r: Result<()>| match r {
            Err(e) if options.metadata_only => {
                table.warnings.push(OpenWarning::Unreadable(Arc::new(e)));
                Ok(())
            }
            r => r,
        };
        let codec = table.check_compressor();
        tolerate(&mut table, codec)?;
        if table.verify && !options.reports_missing_checksums {
            let listed = table.check_listed_checksums();
            tolerate(&mut table, listed)?;
        }
        // `meta` lists every other component TOC.txt names and the disk lacks (`verify` checks
        // the TOC against the disk itself).
        if options.metadata_only {
            let checked = |c: &Component| table.verify && matches!(c, Component::Digest | Component::Crc);
            let missing: Vec<Component> = table.listed_but_missing().filter(|c| !checked(c)).collect();
            for component in missing {
                let e = Error::ListedMissing { path: table.path(component), component };
                table.warnings.push(OpenWarning::Unreadable(Arc::new(e)));
            }
        }
        let checked = table.check_index_start();
        let index_readable = checked.is_ok();
        tolerate(&mut table, checked)?;
        // Data.db against what the other components say of it (an unreadable Index.db, already
        // reported, is not reported twice).
        if table.verify && index_readable {
            let consistent = table.check_data_length();
            tolerate(&mut table, consistent)?;
        }
        let settled = table.settle_udt_freezing();
        tolerate(&mut table, settled)?;
        let classes = table.header.custom_classes();
        if !classes.is_empty() {
            table.warnings.push(OpenWarning::CustomTypes { path: table.path(Component::Statistics), classes });
        }
        Ok(table)
    }

    /// CompressionInfo.db must name a compressor Cairn can decompress with (Cassandra cannot load
    /// an SSTable whose compressor class it does not have either).
    fn check_compressor(&self) -> Result<()> {
        match &self.compression {
            Some(c) if c.compressor.is_none() => Err(Error::Unsupported {
                path: self.path(Component::CompressionInfo),
                what: format!("compressor class '{}'", c.class),
            }),
            _ => Ok(()),
        }
    }

    /// The checksum components TOC.txt lists (Digest.crc32, and CRC.db of an uncompressed
    /// Data.db) must be on disk: without them a damaged Data.db reads as good data, silently.
    fn check_listed_checksums(&self) -> Result<()> {
        match self.listed_but_missing().find(|c| matches!(c, Component::Digest | Component::Crc)) {
            Some(c) => Err(Error::MissingChecksum { path: self.path(c), component: c }),
            None => Ok(()),
        }
    }

    /// The components TOC.txt lists that are not on disk, in the TOC's order.
    pub fn listed_but_missing(&self) -> impl Iterator<Item = Component> + '_ {
        self.toc.iter().flatten().copied().filter(|c| !self.present.contains(c))
    }

    /// Settle the freezing of UDT columns the header declares non-frozen when there is no
    /// schema ([`crate::header_fix`]).
    fn settle_udt_freezing(&mut self) -> Result<()> {
        let mut header = Arc::clone(&self.header);
        let mut schema = self.schema.clone();
        let open = |h: Arc<SerializationHeader>| -> Result<Scanner> {
            Ok(Scanner::new(self.data_source()?, h, self.descriptor.version))
        };
        if let crate::header_fix::Settled::Frozen(columns) = crate::header_fix::settle(&mut header, &mut schema, &open)?
        {
            self.header = header;
            self.schema = schema;
            self.warnings.push(OpenWarning::UdtReadAsFrozen { path: self.path(Component::Statistics), columns });
        }
        Ok(())
    }

    fn find_schema(d: &Descriptor, options: &OpenOptions, header: &SerializationHeader) -> Result<TableSchema> {
        let loc = crate::location::TableLocation::from_directory(&d.directory);
        let (keyspace, table) = (loc.keyspace.as_deref(), loc.table.as_deref());
        if let Some(f) = &options.schema_file {
            return TableSchema::from_cql_file(f, keyspace, table, header);
        }
        let beside = d.directory.join("schema.cql");
        if beside.is_file() {
            return TableSchema::from_cql_file(&beside, keyspace, table, header);
        }
        Ok(TableSchema::from_header(header))
    }

    /// Index.db must start with a whole entry when Data.db holds anything (Cassandra and
    /// ScyllaDB refuse to load an SSTable whose index cannot be read).
    fn check_index_start(&self) -> Result<()> {
        let p = self.descriptor.path(Component::Index);
        let Ok(meta) = std::fs::metadata(&p) else { return Ok(()) };
        let data_len = self.data_length()?;
        if data_len == 0 {
            return Ok(());
        }
        let mut f = IndexReader::open(&p, self.header.clustering_types.clone(), self.descriptor.version)?;
        if meta.len() == 0 {
            return Err(Error::Corrupt {
                path: p,
                component: Component::Index,
                offset: 0,
                kind: DecodeErrorKind::Truncated { needed: 2, available: 0 },
            });
        }
        f.next_entry()?;
        Ok(())
    }

    /// Before Data.db is trusted, what the other components record about it must hold: the
    /// chunks CRC.db has checksums for, the chunks CompressionInfo.db places in the file, the
    /// last partition Index.db points at, the partition count and sizes of Statistics.db (which
    /// bound the uncompressed length from below, to within a histogram bucket). A half-written
    /// or half-copied Data.db (even an empty one) contradicts at least one of them where they
    /// exist, and is refused here rather than read as a smaller table.
    ///
    /// The last Index.db entry is found from the last Summary.db sample (a few entries to read);
    /// without a usable Summary.db the whole Index.db is read.
    pub fn check_data_length(&self) -> Result<()> {
        let data_path = self.path(Component::Data);
        let length = self.data_length()?;
        let refuse =
            |offset: u64, mismatch: Mismatch| Err(Error::Inconsistent { path: data_path.clone(), offset, mismatch });
        match (&self.compression, &self.crc) {
            (Some(ci), _) => {
                let file_length = {
                    let p = &data_path;
                    std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len()
                };
                // Each stored chunk ends with its 4-byte CRC.
                let last = ci.chunk_count().checked_sub(1);
                if let Some((chunk, &position)) = last.and_then(|i| Some((i, ci.chunk_offsets.get(i)?)))
                    && position.saturating_add(4) > file_length
                {
                    return refuse(file_length, Mismatch::ChunkOffset { chunk: chunk as u64, position });
                }
            }
            (None, Some(crc)) => {
                let chunks = length.div_ceil(u64::from(crc.chunk_size.max(1)));
                // One checksum per chunk; Cassandra may append a zero one after the last.
                let extra = usize::try_from(chunks).ok().and_then(|c| crc.crcs.get(c..));
                if extra.is_none_or(|extra| extra.iter().any(|&c| c != 0)) {
                    let checksums = crc.crcs.len() as u64;
                    return refuse(
                        length,
                        Mismatch::ChunkCount { chunks, chunk_size: u64::from(crc.chunk_size), checksums },
                    );
                }
            }
            (None, None) => {}
        }
        if let Some(partitions) = self.recorded_partitions() {
            // Statistics.db records the Data.db bytes of every partition (Cassandra
            // `BigTableWriter.append`: the position after it less the position before), each
            // in a histogram bucket: the data holds at least their buckets' lower bounds, and
            // at least the smallest partition's bytes each.
            let sizes = self.statistics.stats.as_ref().map_or(0, |s| s.partition_sizes.lower_bound_sum());
            let min_bytes = partitions.saturating_mul(min_partition_bytes(self.descriptor.version)).max(sizes);
            if length < min_bytes {
                return refuse(length, Mismatch::TooShortForPartitions { partitions, min_bytes });
            }
        }
        // A Summary.db that does not parse only costs the shortcut to the last entry.
        let summary = self.summary().ok().flatten();
        if let Some(position) = self.last_index_entry(summary.as_ref())?.map(|e| e.data_position)
            && position >= length
        {
            return refuse(length, Mismatch::IndexPosition { position });
        }
        Ok(())
    }

    /// The partition count Statistics.db records (one entry per partition written in its
    /// partition-size histogram), when it has one that did not overflow.
    pub fn recorded_partitions(&self) -> Option<u64> {
        let sizes = &self.statistics.stats.as_ref()?.partition_sizes;
        if sizes.overflowed() {
            return None;
        }
        u64::try_from(sizes.count()).ok()
    }

    /// The last Index.db entry, `None` without Index.db or entries. It is read from the last
    /// sample of `summary`; a sample that does not lead to an entry only costs that shortcut,
    /// and the index is then read from its start.
    fn last_index_entry(&self, summary: Option<&Summary>) -> Result<Option<crate::index::IndexEntry>> {
        if !self.present.contains(&Component::Index) {
            return Ok(None);
        }
        let start = summary.and_then(|s| s.entries.last()).map_or(0, |(_, p)| *p);
        let mut last = None;
        let mut idx = self.index_reader()?;
        if start > 0 {
            idx.seek(start);
            match idx.next_entry() {
                Ok(Some(e)) => last = Some(e),
                _ => idx.seek(0),
            }
        }
        while let Some(e) = idx.next_entry()? {
            last = Some(e);
        }
        Ok(last)
    }

    /// The first and last partition keys as the SSTable records them, which `sstablemetadata`
    /// shows: in Statistics.db (`nc`+), else in Summary.db; `None` when neither has them.
    ///
    /// Statistics.db is checksummed from `na` on; nothing checksums Summary.db. So its keys
    /// are checked against the first and last entries of Index.db (the last one read from the
    /// last summary sample: a few entries), and keys that are not Index.db's ends are an
    /// [`DecodeErrorKind::EndKeyMismatch`] at the key in Summary.db — never shown as the table's
    /// range. Without Index.db, Summary.db's keys are taken as they are.
    pub fn key_range(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        if let Some(s) = &self.statistics.stats
            && let (Some(first), Some(last)) = (&s.first_key, &s.last_key)
        {
            return Ok(Some((first.clone(), last.clone())));
        }
        let Some(s) = self.summary()? else { return Ok(None) };
        if !self.present.contains(&Component::Index) {
            return Ok(Some((s.first_key, s.last_key)));
        }
        let first = self.first_index_entry()?.map(|e| e.key);
        let last = self.last_index_entry(Some(&s))?.map(|e| e.key);
        // An Index.db without entries matches the empty keys an empty table's summary holds.
        for (end, recorded, indexed, offset) in
            [("first", &s.first_key, first, s.keys_offset), ("last", &s.last_key, last, s.last_key_offset())]
        {
            if indexed.unwrap_or_default() != *recorded {
                return Err(Error::Corrupt {
                    path: self.path(Component::Summary),
                    component: Component::Summary,
                    offset,
                    kind: DecodeErrorKind::EndKeyMismatch { end },
                });
            }
        }
        Ok(Some((s.first_key, s.last_key)))
    }

    /// The uncompressed length of Data.db.
    pub fn data_length(&self) -> Result<u64> {
        match &self.compression {
            Some(ci) => Ok(ci.data_length),
            None => {
                let p = self.descriptor.path(Component::Data);
                Ok(std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len())
            }
        }
    }

    /// Path of a component.
    pub fn path(&self, c: Component) -> PathBuf {
        self.descriptor.path(c)
    }

    /// A record of the Data.db chunks read, for checking Digest.crc32 without a second read
    /// (see [`DigestCoverage`]); `None` when not verifying or without Digest.crc32. Share one
    /// between scanners that read parts of this SSTable ([`SsTable::scanner_covering`]).
    pub fn digest_coverage(&self) -> Option<DigestCoverage> {
        (self.verify && self.present.contains(&Component::Digest))
            .then(|| DigestCoverage::new(&self.path(Component::Data), &self.path(Component::Digest)))
    }

    /// The chunk source of Data.db (feeding a fresh [`SsTable::digest_coverage`]).
    pub fn data_source(&self) -> Result<DataSource> {
        self.data_source_covering(self.digest_coverage())
    }

    fn data_source_covering(&self, digest: Option<DigestCoverage>) -> Result<DataSource> {
        let layout = match &self.compression {
            Some(ci) => Layout::Compressed(ci.clone()),
            None => Layout::Uncompressed {
                chunk_size: self.crc.as_ref().map_or(65536, |c| c.chunk_size),
                crcs: self.crc.clone(),
            },
        };
        let source = DataSource::open(&self.path(Component::Data), layout, self.verify)?;
        Ok(match digest {
            Some(d) => source.with_digest(d),
            None => source,
        })
    }

    /// A scanner over all partitions, with every check of a full read (partition order and
    /// count, clustering order, sizes, Digest.crc32) unless opened with `no_verify`.
    pub fn scanner(&self) -> Result<Scanner> {
        self.scanner_covering(self.digest_coverage())
    }

    /// [`SsTable::scanner`] feeding `digest` (shared with other scanners of this SSTable).
    pub fn scanner_covering(&self, digest: Option<DigestCoverage>) -> Result<Scanner> {
        let source = self.data_source_covering(digest)?;
        let (statics, regulars) =
            (self.schema.dropped_in(&self.header, true), self.schema.dropped_in(&self.header, false));
        Ok(Scanner::new(source, Arc::clone(&self.header), self.descriptor.version)
            .with_table_checks(
                self.partitioner,
                self.recorded_partitions(),
                self.statistics.stats.as_ref().map(crate::data::ranges::Recorded::of),
            )
            .with_dropped_columns(statics, regulars))
    }

    /// A reader over Index.db.
    pub fn index_reader(&self) -> Result<IndexReader> {
        IndexReader::open(&self.path(Component::Index), self.header.clustering_types.clone(), self.descriptor.version)
    }

    /// Summary.db, if present.
    pub fn summary(&self) -> Result<Option<Summary>> {
        let p = self.path(Component::Summary);
        match read_component(&self.descriptor, Component::Summary)? {
            Some(b) => Ok(Some(Summary::parse(&b).map_err(|e| e.located(&p, Component::Summary))?)),
            None => Ok(None),
        }
    }

    /// Filter.db, if present.
    pub fn filter(&self) -> Result<Option<BloomFilter>> {
        let p = self.path(Component::Filter);
        match read_component(&self.descriptor, Component::Filter)? {
            Some(b) => {
                Ok(Some(BloomFilter::parse(&b, self.descriptor.version).map_err(|e| e.located(&p, Component::Filter))?))
            }
            None => Ok(None),
        }
    }

    /// The CRC32 recorded in Digest.crc32, if present.
    pub fn recorded_digest(&self) -> Result<Option<u32>> {
        let p = self.path(Component::Digest);
        match read_component(&self.descriptor, Component::Digest)? {
            Some(b) => Ok(Some(parse_digest(&b).map_err(|e| e.located(&p, Component::Digest))?)),
            None => Ok(None),
        }
    }

    /// The estimated number of distinct partition keys from Statistics.db's COMPACTION
    /// component; `None` when there is no estimator (no COMPACTION component, or a zero-length
    /// estimator). An estimator that does not decode is an error at its byte in Statistics.db.
    pub fn estimated_cardinality(&self) -> Result<Option<u64>> {
        let Some(c) = &self.statistics.compaction else { return Ok(None) };
        c.estimated_cardinality().map_err(|e| {
            // The estimator's bytes follow the component's i32 length.
            let base = self.statistics.toc.iter().find(|(t, _)| *t == 1).map_or(0, |(_, o)| o + 4);
            crate::DecodeError::new(base + e.offset, e.kind)
                .located(self.path(Component::Statistics), Component::Statistics)
        })
    }

    /// Token of a serialized partition key.
    pub fn token(&self, key: &[u8]) -> Token {
        self.partitioner.token(key)
    }

    /// Find a partition by key through Filter.db, Summary.db and Index.db; returns its Data.db
    /// position. A missing Filter.db or Summary.db only costs time (the index is read from its
    /// start); one that does not parse is an error, never skipped.
    pub fn find_partition(&self, key: &[u8]) -> Result<Option<u64>> {
        crate::lookup::PartitionLookup::new(self)?.find(self, key)
    }

    /// The Data.db position of the first partition whose token is above `token` (through
    /// Summary.db and Index.db), or `None` when there is none. A Summary.db that does not parse
    /// is an error, as in [`SsTable::find_partition`]. (Many look-ups: load a
    /// [`crate::lookup::PartitionLookup`] once.)
    pub fn position_after_token(&self, token: &Token) -> Result<Option<u64>> {
        crate::lookup::PartitionLookup::new(self)?.position_after_token(self, token)
    }

    /// First partition of Index.db, parsed (for tools that show it).
    pub fn first_index_entry(&self) -> Result<Option<crate::index::IndexEntry>> {
        let mut r = self.index_reader()?;
        r.next_entry()
    }
}

/// Places in Data.db files, each with a byte offset where one is known: where a problem found
/// in a merged read of several SSTables comes from. Shown as `<file> (Data.db) at byte <n>`,
/// comma-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataPlaces(pub Vec<(PathBuf, Option<u64>)>);

impl std::fmt::Display for DataPlaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("Data.db");
        }
        for (i, (path, offset)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} (Data.db)", path.display())?;
            if let Some(o) = offset {
                write!(f, " at byte {o}")?;
            }
        }
        Ok(())
    }
}

/// The Data.db files of `tables` that hold partition `key`, each with the partition's position
/// (through Summary.db and Index.db); when none can be found that way (no index, or an index
/// that does not read), every table's Data.db without a position. Only for naming where a
/// problem is: a failure here costs the position, never the error being reported.
pub fn partition_places<'a>(tables: impl IntoIterator<Item = &'a SsTable>, key: &[u8]) -> DataPlaces {
    let tables: Vec<&SsTable> = tables.into_iter().collect();
    let found: Vec<(PathBuf, Option<u64>)> = tables
        .iter()
        .filter_map(|t| match t.find_partition(key) {
            Ok(Some(p)) => Some((t.path(Component::Data), Some(p))),
            _ => None,
        })
        .collect();
    if found.is_empty() {
        return DataPlaces(tables.iter().map(|t| (t.path(Component::Data), None)).collect());
    }
    DataPlaces(found)
}

/// The fewest bytes a partition takes in Data.db: key length (u16), an empty key, the
/// partition deletion (12 bytes before `oa`, 1 byte for a live one from `oa`), the
/// end-of-partition flag (Cassandra `db/rows/UnfilteredRowIteratorSerializer.java`).
fn min_partition_bytes(version: crate::Version) -> u64 {
    2 + if version.has_uint_deletion_time() { 1 } else { 12 } + 1
}

/// Parse one index entry from bytes (for `describe` and fuzzing).
pub fn parse_index_entry(
    bytes: &[u8],
    header: &SerializationHeader,
    version: crate::Version,
) -> Result<crate::index::IndexEntry, crate::DecodeError> {
    let mut c = Cursor::new(bytes);
    parse_entry(&mut c, &header.clustering_types, version)
}
