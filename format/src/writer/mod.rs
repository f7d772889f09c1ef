//! Writing SSTables: Data.db and every component Cassandra writes beside it.
//!
//! [`SsTableWriter`] takes partitions in token order and, within each, a static row and rows and
//! range-tombstone markers in clustering order, and streams them to Data.db (uncompressed with
//! CRC.db, or compressed chunk by chunk with CompressionInfo.db), Index.db (with promoted
//! indexes for partitions spanning several `column_index_size` blocks), Summary.db, Filter.db,
//! Statistics.db, Digest.crc32 and TOC.txt. Memory is bounded by the compression chunk and the
//! current index block, plus one Summary entry per 128 partitions and the bloom filter.
//!
//! Output is atomic: components are written under hidden temporary names and renamed when
//! complete, Data.db last, so that a crash never leaves an SSTable that looks whole (readers
//! find SSTables by their Data.db). Dropping an unfinished writer removes its files.
//!
//! One file of about 850 lines, on purpose: the writer is one state machine whose components
//! (Data.db, Index.db with its promoted index, Summary.db, Filter.db, Statistics.db, CRCs) are
//! fed by the same partition and row events; the encodings it calls live in [`data`] and [`row`].

pub mod data;
pub mod hll;
pub mod row;

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::clustering::{BoundKind, ClusteringBound};
use crate::compression::{CompressionInfo, Compressor};
use crate::data::{PartitionHeader, Unfiltered, UnfilteredKind};
use crate::deletion::{DeletionTime, NO_DELETION_TIME};
use crate::descriptor::{Component, Descriptor, SsTableId};
use crate::error::{Error, Result};
use crate::filter::BloomFilter;
use crate::index::{IndexBlock, IndexEntry, PromotedIndex};
use crate::partitioner::{Partitioner, Token, compare_decorated};
use crate::statistics::{
    CommitLogPosition, CompactionMetadata, CoveredClusterings, EstimatedHistogram, HeaderColumn, SerializationHeader,
    Statistics, StatsMetadata, TombstoneHistogram, ValidationMetadata,
};
use crate::summary::SummaryBuilder;
use crate::types::compare::compare_prefix_values;
use crate::version::Version;

use self::data::DataFileWriter;

/// Chunk compression settings.
#[derive(Debug, Clone)]
pub struct CompressionParams {
    /// The codec.
    pub compressor: Compressor,
    /// Uncompressed bytes per chunk (a power of two; Cassandra 4.x defaults to 16 KiB).
    pub chunk_length: u32,
    /// Chunks compressing to at least this many bytes are stored raw (`na`+); `i32::MAX` by
    /// default, i.e. never.
    pub max_compressed_length: u32,
    /// Options recorded in CompressionInfo.db.
    pub options: Vec<(String, String)>,
}

/// The option naming a codec's level: Zstd's, which Cassandra knows, and Deflate's, which only
/// Cairn reads.
pub const COMPRESSION_LEVEL: &str = "compression_level";

/// The levels Zstd accepts, as Cassandra's `ZstdCompressor.create` checks them (zstd's
/// `ZSTD_minCLevel` to `ZSTD_maxCLevel`; `io/compress/ZstdCompressor.java`).
const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = -131_072..=22;

impl CompressionParams {
    /// The level [`COMPRESSION_LEVEL`] sets, or `None` for the codec's default (Zstd 3, Deflate
    /// zlib's 6); other codecs ignore the option, as Cassandra's do. A value that is not an
    /// integer, or a Zstd level outside -131072..=22, is refused: Cassandra's `ZstdCompressor`
    /// refuses such options when it is created, and writing with a guessed level would hide
    /// what the source asked for. (Deflate's level is clamped to 0..=9 by the codec.) `path` is
    /// the file the error names: the Data.db to be written, or the CompressionInfo.db whose
    /// options are kept.
    pub fn level(&self, path: &Path) -> Result<Option<i32>> {
        let Some((_, value)) = self.options.iter().find(|(k, _)| k == COMPRESSION_LEVEL) else { return Ok(None) };
        if !matches!(self.compressor, Compressor::Zstd | Compressor::Deflate) {
            return Ok(None);
        }
        let refuse = |reason: String| Error::BadCompressionOption {
            path: path.to_path_buf(),
            compressor: self.compressor.class_name(),
            option: COMPRESSION_LEVEL,
            value: value.clone(),
            reason,
        };
        let level: i32 = value.parse().map_err(|_| refuse("not an integer".into()))?;
        if self.compressor == Compressor::Zstd && !ZSTD_LEVELS.contains(&level) {
            let (lo, hi) = (ZSTD_LEVELS.start(), ZSTD_LEVELS.end());
            return Err(refuse(format!("Zstd levels are {lo} to {hi}")));
        }
        Ok(Some(level))
    }

    /// The compression that keeps `source`'s (the CompressionInfo.db at `path`) in an SSTable
    /// of version `to`: its codec, chunk length and options (a `compression_level` among them),
    /// and its raw-chunk limit where `to` has one (`na` onwards). A codec Cairn does not know is
    /// refused: writing uncompressed, or with another codec, would not keep it; so is a level
    /// the codec cannot use ([`CompressionParams::level`]), naming `path`. Every rewrite
    /// that keeps its input's compression (`compact upgrade`, `run`, `gc`, `split`, `repair`)
    /// asks this.
    pub fn keep(source: &CompressionInfo, to: Version, path: &Path) -> Result<Self> {
        let Some(compressor) = source.compressor else {
            return Err(Error::UnknownCompressor { path: path.to_path_buf(), class: source.class.clone() });
        };
        let kept = CompressionParams {
            compressor,
            chunk_length: source.chunk_length,
            max_compressed_length: if to.has_max_compressed_length() {
                source.max_compressed_length
            } else {
                i32::MAX as u32
            },
            options: source.options.clone(),
        };
        kept.level(path)?;
        Ok(kept)
    }

    /// `compressor` with Cassandra 4.x's default 16 KiB chunks.
    pub fn new(compressor: Compressor) -> Self {
        CompressionParams {
            compressor,
            chunk_length: 16 * 1024,
            max_compressed_length: i32::MAX as u32,
            options: vec![],
        }
    }
}

/// Writer settings; the defaults are Cassandra 4.x's.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Format version (`nb` by default).
    pub version: Version,
    /// Compression, or `None` for an uncompressed Data.db with CRC.db.
    pub compression: Option<CompressionParams>,
    /// Promoted-index block size (`column_index_size`, 64 KiB).
    pub column_index_size: u64,
    /// Bloom filter false-positive chance (0.01).
    pub bloom_fp_chance: f64,
    /// Summary sampling interval (`min_index_interval`, 128).
    pub min_index_interval: i32,
    /// Partitions expected, to size the bloom filter.
    pub expected_partitions: u64,
    /// The partitioner.
    pub partitioner: Partitioner,
    /// Host id recorded in Statistics (`me`, `nb`, `oa`).
    pub originating_host_id: Option<[u8; 16]>,
    /// Repaired-at (ms), 0 = unrepaired.
    pub repaired_at: i64,
    /// The incremental-repair session the data is pending in (`na` and later record it; older
    /// versions have no field for it and the data is written unrepaired).
    pub pending_repair: Option<[u8; 16]>,
    /// Written by a transient replica (`na` and later; older versions have no field for it).
    pub is_transient: bool,
    /// LCS level.
    pub sstable_level: i32,
    /// Commit-log intervals the data covers.
    pub commit_log_intervals: Vec<(CommitLogPosition, CommitLogPosition)>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            version: Version::Nb,
            compression: Some(CompressionParams::new(Compressor::Lz4)),
            column_index_size: 64 * 1024,
            bloom_fp_chance: 0.01,
            min_index_interval: 128,
            expected_partitions: 1024,
            partitioner: Partitioner::Murmur3,
            originating_host_id: None,
            repaired_at: 0,
            pending_repair: None,
            is_transient: false,
            sstable_level: 0,
            commit_log_intervals: Vec::new(),
        }
    }
}

/// Reject cells a row cannot hold (Cassandra `Row` invariants): a column the header does not
/// have, a simple column with a cell path or more than one cell, a complex column cell without
/// a path, cells not in column order, complex cells not in strictly increasing path order.
// Inlined into the per-row step, as the row encoder is (see `row`'s module docs).
#[inline(always)]
fn check_cells(u: &Unfiltered, columns: &[HeaderColumn], pos: u64) -> Result<()> {
    let invalid = |column: u16, detail: &str| {
        let name = columns.get(column as usize).map_or_else(|| format!("#{column}"), |c| c.name.clone());
        Err(Error::InvalidRow { column: name, detail: format!("{detail} (row at Data.db byte {pos})") })
    };
    let mut previous: Option<(u16, Option<&[u8]>)> = None;
    for c in &u.cells {
        let Some(col) = columns.get(c.column as usize) else { return invalid(c.column, "no such column") };
        let path = u.path(c);
        match (col.ty.is_multi_cell(), path) {
            (false, Some(_)) => return invalid(c.column, "a cell path on a simple column"),
            (true, None) => return invalid(c.column, "a complex column cell without a path"),
            _ => {}
        }
        if let Some((pc, pp)) = previous {
            let order = pc.cmp(&c.column).then_with(|| match (pp, path, col.ty.path_type()) {
                (Some(a), Some(b), Some(t)) => crate::types::compare::compare_values(t, a, b),
                _ => std::cmp::Ordering::Equal,
            });
            if order != std::cmp::Ordering::Less {
                let what = if col.ty.is_multi_cell() { "cells out of path order" } else { "more than one cell" };
                return invalid(c.column, what);
            }
        }
        previous = Some((c.column, path));
    }
    Ok(())
}

/// The class name Statistics.db records for a partitioner.
pub fn partitioner_class(p: Partitioner) -> &'static str {
    match p {
        Partitioner::Murmur3 => "org.apache.cassandra.dht.Murmur3Partitioner",
        Partitioner::Random => "org.apache.cassandra.dht.RandomPartitioner",
        Partitioner::ByteOrdered => "org.apache.cassandra.dht.ByteOrderedPartitioner",
        Partitioner::OrderPreserving => "org.apache.cassandra.dht.OrderPreservingPartitioner",
        Partitioner::Local => "org.apache.cassandra.dht.LocalPartitioner",
    }
}

/// The next unused generation number in `dir`.
pub fn next_generation(dir: &Path) -> Result<u64> {
    let mut max = 0;
    if dir.exists() {
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let e = e.map_err(|e| Error::io(dir, e))?;
            if let Ok((d, _)) = Descriptor::from_path(&e.path())
                && let SsTableId::Sequence(n) = d.id
            {
                max = max.max(n);
            }
        }
    }
    Ok(max + 1)
}

/// What Statistics.db records, gathered while writing (Cassandra `MetadataCollector`).
#[derive(Debug)]
struct Collector {
    partition_sizes: EstimatedHistogram,
    cell_counts: EstimatedHistogram,
    min_ts: i64,
    max_ts: i64,
    min_ldt: i64,
    max_ldt: i64,
    min_ttl: i32,
    max_ttl: i32,
    tombstones: TombstoneHistogram,
    total_cells: i64,
    total_columns: i64,
    total_rows: i64,
    partition_cells: i64,
    min_clustering: Option<Vec<Option<Vec<u8>>>>,
    max_clustering: Option<Vec<Option<Vec<u8>>>>,
    min_prefix: Option<(Vec<Option<Vec<u8>>>, BoundKind)>,
    max_prefix: Option<(Vec<Option<Vec<u8>>>, BoundKind)>,
    has_partition_deletions: bool,
    hll: hll::HyperLogLogPlus,
}

impl Collector {
    fn new(version: Version) -> Self {
        Collector {
            partition_sizes: EstimatedHistogram::new(if version.has_uint_deletion_time() { 155 } else { 150 }),
            // Writers of `mc` and older counted cells in 114 buckets, `md` onwards in 118.
            cell_counts: EstimatedHistogram::new(if version >= Version::Md { 118 } else { 114 }),
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            min_ldt: NO_DELETION_TIME,
            max_ldt: i64::MIN,
            min_ttl: i32::MAX,
            max_ttl: i32::MIN,
            tombstones: TombstoneHistogram::new(100),
            total_cells: 0,
            total_columns: 0,
            total_rows: 0,
            partition_cells: 0,
            min_clustering: None,
            max_clustering: None,
            min_prefix: None,
            max_prefix: None,
            has_partition_deletions: false,
            hll: hll::HyperLogLogPlus::new(),
        }
    }

    fn timestamp(&mut self, ts: i64) {
        self.min_ts = self.min_ts.min(ts);
        self.max_ts = self.max_ts.max(ts);
    }

    fn ldt(&mut self, ldt: i64) {
        self.min_ldt = self.min_ldt.min(ldt);
        self.max_ldt = self.max_ldt.max(ldt);
        if ldt != NO_DELETION_TIME {
            self.tombstones.update(ldt);
        }
    }

    fn ttl(&mut self, ttl: i32) {
        self.min_ttl = self.min_ttl.min(ttl);
        self.max_ttl = self.max_ttl.max(ttl);
    }

    fn deletion(&mut self, d: &DeletionTime) {
        if !d.is_live() {
            self.timestamp(d.marked_for_delete_at);
            self.ldt(d.local_deletion_time);
        }
    }

    // Inlined into the per-row step, as the row encoder is (see `row`'s module docs).
    #[inline(always)]
    fn unfiltered(&mut self, u: &Unfiltered) {
        if u.is_marker() {
            self.deletion(&u.close_deletion);
            self.deletion(&u.deletion);
            return;
        }
        // Static rows count as rows (Cassandra `MetadataCollector`), empty ones are not rows.
        if !u.is_empty_row() {
            self.total_rows += 1;
        }
        if !u.liveness.is_empty() {
            self.timestamp(u.liveness.timestamp);
            if u.liveness.is_expiring() {
                self.ttl(u.liveness.ttl);
                self.ldt(u.liveness.local_expiration_time);
            } else {
                self.ttl(0);
                self.ldt(NO_DELETION_TIME);
            }
        }
        self.deletion(&u.deletion);
        self.deletion(&u.shadowable_deletion);
        for d in &u.complex_deletions {
            self.deletion(&d.deletion);
        }
        let mut last_column = None;
        for c in &u.cells {
            self.timestamp(c.timestamp);
            self.ttl(c.ttl);
            self.ldt(c.local_deletion_time);
            self.total_cells += 1;
            self.partition_cells += 1;
            // A complex column counts once, however many cells it has.
            if last_column != Some(c.column) {
                self.total_columns += 1;
                last_column = Some(c.column);
            }
        }
    }
}

// The clustering bounds Statistics.db records. Cassandra 3.x keeps the smallest and largest
// value of each component separately, by that component's type ([`track_components`], offered
// every row); 4.0 onwards keeps the smallest and largest whole prefix, rows and range-tombstone
// bounds alike. The writer refuses clusterings out of order, so between two static rows
// (normally: in the whole partition) the smallest prefix is the first written and the largest
// the last: only those two are offered ([`offer_min`], [`offer_max`]), not every row.

/// Offer `u` (bound `kind`) as the smallest clustering prefix.
fn offer_min(c: &mut Collector, types: &[crate::types::CqlType], u: &Unfiltered, kind: BoundKind) {
    let current = || (0..u.clustering.len()).map(|i| u.clustering_value(i));
    if c.min_prefix
        .as_ref()
        .is_none_or(|m| compare_prefix_values(types, current(), kind, m.0.iter().map(|v| v.as_deref()), m.1).is_lt())
    {
        c.min_prefix = Some((current().map(|v| v.map(<[u8]>::to_vec)).collect(), kind));
    }
}

/// Offer `last` (bound `kind`) as the largest clustering prefix.
fn offer_max(c: &mut Collector, types: &[crate::types::CqlType], last: &ClusteringBound, kind: BoundKind) {
    let current = || last.values.iter().map(|v| v.as_deref());
    if c.max_prefix
        .as_ref()
        .is_none_or(|m| compare_prefix_values(types, current(), kind, m.0.iter().map(|v| v.as_deref()), m.1).is_gt())
    {
        c.max_prefix = Some((last.values.clone(), kind));
    }
}

/// Offer each clustering value of `u` (not a static row) as its component's smallest and largest
/// (Cassandra 3.x), replacing a kept value in place.
fn track_components(c: &mut Collector, types: &[crate::types::CqlType], u: &Unfiltered) {
    if u.kind() == UnfilteredKind::StaticRow {
        return;
    }
    let min = c.min_clustering.get_or_insert_with(Vec::new);
    let max = c.max_clustering.get_or_insert_with(Vec::new);
    for i in 0..u.clustering.len() {
        let Some(v) = u.clustering_value(i) else { continue };
        let ty = types.get(i).unwrap_or(&crate::types::CqlType::Blob);
        while min.len() <= i {
            min.push(None);
        }
        while max.len() <= i {
            max.push(None);
        }
        for (slot, want) in [(min.get_mut(i), Ordering::Less), (max.get_mut(i), Ordering::Greater)] {
            if let Some(slot) = slot
                && slot.as_deref().is_none_or(|m| crate::types::compare::compare_values(ty, v, m) == want)
            {
                match slot {
                    Some(kept) => {
                        kept.clear();
                        kept.extend_from_slice(v);
                    }
                    None => *slot = Some(v.to_vec()),
                }
            }
        }
    }
}

/// Whether `u` (bound `kind`) comes strictly after `last` (bound `lk`) in clustering order.
#[inline]
fn follows(
    types: &[crate::types::CqlType],
    last: &ClusteringBound,
    lk: BoundKind,
    u: &Unfiltered,
    kind: BoundKind,
) -> bool {
    // A row after a row of as many values (the commonest case by far): their values alone.
    if lk == BoundKind::Clustering && kind == BoundKind::Clustering && last.values.len() == u.clustering.len() {
        return crate::types::compare::compare_clusterings(
            types,
            &last.values,
            |v| v.as_deref(),
            &u.clustering,
            |s| s.map(|s| u.get(s)),
        ) == Ordering::Less;
    }
    let a = last.values.iter().map(|v| v.as_deref());
    let b = (0..u.clustering.len()).map(|i| u.clustering_value(i));
    compare_prefix_values(types, a, lk, b, kind) == Ordering::Less
}

/// Streams partitions into a new SSTable.
pub struct SsTableWriter {
    descriptor: Descriptor,
    options: WriterOptions,
    /// Shared, so that a caller writing from the header's tables can hold it while writing.
    header: std::sync::Arc<SerializationHeader>,
    data: DataFileWriter,
    index: BufWriter<File>,
    index_tmp: PathBuf,
    index_pos: u64,
    summary: SummaryBuilder,
    filter: BloomFilter,
    collector: Collector,
    buf: Vec<u8>,
    entry_buf: Vec<u8>,
    /// The header's per-column encoding tables.
    encoder: row::RowEncoder,
    // Current partition.
    partition: Option<PartitionState>,
    last_key: Option<(Token, Vec<u8>)>,
    first_key: Option<Vec<u8>>,
    partitions: u64,
    temps: Vec<PathBuf>,
    finished: bool,
    static_pending: bool,
}

struct PartitionState {
    key: Vec<u8>,
    deletion: DeletionTime,
    start: u64,
    header_length: u64,
    previous_start: u64,
    blocks: Vec<IndexBlock>,
    block_first: Option<ClusteringBound>,
    block_start: u64,
    last: Option<(ClusteringBound, BoundKind)>,
    open_marker: Option<DeletionTime>,
    written: u64,
    /// `last` is a clustering row or marker not yet offered as the largest clustering of the
    /// SSTable (see [`SsTableWriter::track_clustering`]).
    max_pending: bool,
}

fn temp_name(d: &Descriptor, c: Component) -> PathBuf {
    d.directory.join(format!(".{}.tmp", d.file_name(c)))
}

/// Record that an SSTable's data is repaired (Cassandra's `sstablerepairedset`, and what a repair
/// session does to the SSTables it validated): Statistics.db is rewritten with `repairedAt` set
/// to `repaired_at` (milliseconds since the epoch; 0 marks it unrepaired again), every other
/// field as it is on disk. The new file is written beside the old one and renamed over it, so a
/// crash leaves one or the other, never half of each. No other component records repair state
/// (Digest.crc32 covers Data.db only).
pub fn set_repaired_at(d: &Descriptor, repaired_at: i64) -> Result<()> {
    let mut stats = crate::sstable::read_statistics(d)?;
    let path = d.path(Component::Statistics);
    let s = stats.stats.as_mut().ok_or_else(|| Error::Corrupt {
        path: path.clone(),
        component: Component::Statistics,
        offset: 0,
        kind: crate::error::DecodeErrorKind::InvalidValue { what: "missing stats component", value: 2 },
    })?;
    s.repaired_at = repaired_at;
    let tmp = temp_name(d, Component::Statistics);
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(&crate::statistics::encode(&stats, d.version))
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    crate::txn::sync_dir(&d.directory)
}

impl SsTableWriter {
    /// Start SSTable `generation` in `dir` (created if missing), written with `header`. The
    /// header's EncodingStats are the bases of every delta in Data.db; any values work, values
    /// at or below the data's minimums make the smallest files.
    pub fn create(
        dir: &Path,
        generation: u64,
        header: SerializationHeader,
        options: WriterOptions,
    ) -> Result<SsTableWriter> {
        let descriptor =
            Descriptor { directory: dir.to_path_buf(), version: options.version, id: SsTableId::Sequence(generation) };
        // A bad option is refused before anything is created.
        if let Some(c) = &options.compression {
            c.level(&descriptor.path(Component::Data))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for c in Component::BIG {
            if descriptor.path(c).exists() {
                return Err(Error::io(descriptor.path(c), std::io::Error::from(std::io::ErrorKind::AlreadyExists)));
            }
        }
        let data_tmp = temp_name(&descriptor, Component::Data);
        let index_tmp = temp_name(&descriptor, Component::Index);
        let data = DataFileWriter::create(&data_tmp, options.compression.clone())?;
        let index_file = File::create(&index_tmp).map_err(|e| Error::io(&index_tmp, e))?;
        let filter = BloomFilter::with_capacity(options.expected_partitions, options.bloom_fp_chance);
        let collector = Collector::new(options.version);
        let encoder = row::RowEncoder::new(&header);
        Ok(SsTableWriter {
            encoder,
            summary: SummaryBuilder::new(options.min_index_interval),
            descriptor,
            header: std::sync::Arc::new(header),
            data,
            index: BufWriter::with_capacity(1 << 16, index_file),
            temps: vec![data_tmp, index_tmp.clone()],
            index_tmp,
            index_pos: 0,
            filter,
            collector,
            buf: Vec::with_capacity(4096),
            entry_buf: Vec::new(),
            partition: None,
            last_key: None,
            first_key: None,
            partitions: 0,
            finished: false,
            static_pending: false,
            options,
        })
    }

    /// The descriptor the SSTable will have.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The header rows are written with.
    pub fn header(&self) -> &SerializationHeader {
        &self.header
    }

    /// The header rows are written with, shared (held while writing, no copy).
    pub fn shared_header(&self) -> std::sync::Arc<SerializationHeader> {
        std::sync::Arc::clone(&self.header)
    }

    /// Uncompressed bytes written to Data.db so far.
    pub fn data_position(&self) -> u64 {
        self.data.position()
    }

    /// Bytes of Data.db on disk so far (what LCS's `sstable_size_in_mb` limits).
    pub fn data_file_position(&self) -> u64 {
        self.data.file_position()
    }

    /// Begin a partition; keys must come in token order.
    pub fn begin_partition(&mut self, key: &[u8], deletion: DeletionTime) -> Result<()> {
        if self.partition.is_some() {
            self.end_partition()?;
        }
        let token = self.options.partitioner.token(key);
        if let Some((t, k)) = &self.last_key
            && compare_decorated(t, k, &token, key) != std::cmp::Ordering::Less
        {
            return Err(Error::OutOfOrder { what: "partition", detail: format!("token {token} after {t}") });
        }
        self.last_key = Some((token, key.to_vec()));
        if self.first_key.is_none() {
            self.first_key = Some(key.to_vec());
        }
        let start = self.data.position();
        self.buf.clear();
        row::write_partition_header(&mut self.buf, key, &deletion, self.options.version);
        self.data.write(&self.buf)?;
        self.filter.add(key);
        self.collector.hll.offer(key);
        self.collector.deletion(&deletion);
        self.collector.has_partition_deletions |= !deletion.is_live();
        self.collector.partition_cells = 0;
        self.partition = Some(PartitionState {
            key: key.to_vec(),
            deletion,
            start,
            header_length: self.data.position() - start,
            previous_start: start,
            blocks: Vec::new(),
            block_first: None,
            block_start: 0,
            last: None,
            open_marker: None,
            written: 0,
            max_pending: false,
        });
        self.static_pending = !self.header.static_columns.is_empty();
        Ok(())
    }

    /// Write the partition's static row (only right after `begin_partition`). A partition of a
    /// table with static columns gets an empty static row when none is written, as Cassandra
    /// writes one.
    pub fn write_static_row(&mut self, u: &Unfiltered) -> Result<()> {
        self.static_pending = false;
        check_cells(u, &self.header.static_columns, self.data.position())?;
        let out = self.data.buffer();
        let start = out.len();
        self.encoder.write(out, u, &self.header, self.options.version, 0);
        self.data.commit(start)?;
        self.collector.unfiltered(u);
        if let Some(p) = self.partition.as_mut() {
            p.header_length = self.data.position() - p.start;
            p.previous_start = p.start;
        }
        Ok(())
    }

    fn flush_static(&mut self) -> Result<()> {
        if self.static_pending {
            let mut empty = Unfiltered::default();
            empty.start(UnfilteredKind::StaticRow, 0);
            self.write_static_row(&empty)?;
        }
        Ok(())
    }

    /// Write a row or range-tombstone marker of the current partition.
    pub fn write(&mut self, u: &Unfiltered) -> Result<()> {
        self.flush_static()?;
        let pos = self.data.position();
        let Some(p) = self.partition.as_mut() else {
            return Err(Error::OutOfOrder { what: "row", detail: "written outside a partition".into() });
        };
        let kind = match u.kind() {
            UnfilteredKind::Marker(k) => k,
            _ => BoundKind::Clustering,
        };
        if let Some((last, lk)) = &p.last
            && !follows(&self.header.clustering_types, last, *lk, u, kind)
        {
            return Err(Error::OutOfOrder {
                what: "clustering",
                detail: format!("row or marker at Data.db byte {pos}"),
            });
        }
        if !matches!(u.kind(), UnfilteredKind::Marker(_)) {
            check_cells(u, &self.header.regular_columns, pos)?;
        }
        let values =
            |u: &Unfiltered| (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect();
        if p.block_first.is_none() {
            p.block_first = Some(ClusteringBound { kind, values: values(u) });
            p.block_start = pos;
        }
        let out = self.data.buffer();
        let start = out.len();
        self.encoder.write(out, u, &self.header, self.options.version, pos - p.previous_start);
        self.data.commit(start)?;
        p.previous_start = pos;
        p.written += 1;
        if let UnfilteredKind::Marker(k) = u.kind() {
            p.open_marker = if k.is_open() { Some(u.deletion) } else { None };
        }
        if self.options.version.has_pending_repair() {
            let types = &self.header.clustering_types;
            if u.kind() == UnfilteredKind::StaticRow {
                if p.max_pending
                    && let Some((last, lk)) = &p.last
                {
                    offer_max(&mut self.collector, types, last, *lk);
                }
                p.max_pending = false;
            } else {
                if !p.max_pending {
                    offer_min(&mut self.collector, types, u, kind);
                }
                p.max_pending = true;
            }
        } else {
            track_components(&mut self.collector, &self.header.clustering_types, u);
        }
        // The last bound, updated in place (no allocation per row once the buffers have grown).
        match &mut p.last {
            Some((last, lk)) if last.values.len() == u.clustering.len() => {
                for (i, slot) in last.values.iter_mut().enumerate() {
                    match (slot.as_mut(), u.clustering_value(i)) {
                        (Some(buf), Some(v)) => {
                            buf.clear();
                            crate::codec::append_value(buf, v);
                        }
                        (_, v) => *slot = v.map(<[u8]>::to_vec),
                    }
                }
                last.kind = kind;
                *lk = kind;
            }
            _ => p.last = Some((ClusteringBound { kind, values: values(u) }, kind)),
        }
        if self.data.position() - p.block_start >= self.options.column_index_size {
            Self::close_block(p, self.data.position());
        }
        self.collector.unfiltered(u);
        Ok(())
    }

    fn close_block(p: &mut PartitionState, end: u64) {
        if let (Some(first), Some((last, _))) = (p.block_first.take(), p.last.clone()) {
            p.blocks.push(IndexBlock {
                first,
                last,
                offset: p.block_start - p.start,
                width: end - p.block_start,
                end_open_marker: p.open_marker,
            });
        }
    }

    /// End the current partition: the end-of-partition byte, the index entry.
    pub fn end_partition(&mut self) -> Result<()> {
        self.flush_static()?;
        let Some(mut p) = self.partition.take() else { return Ok(()) };
        if p.max_pending
            && let Some((last, lk)) = &p.last
        {
            offer_max(&mut self.collector, &self.header.clustering_types, last, *lk);
        }
        self.data.write(&[crate::data::END_OF_PARTITION])?;
        let end = self.data.position();
        if p.written > 0 && p.block_first.is_some() {
            Self::close_block(&mut p, end);
        }
        let promoted = (p.blocks.len() > 1).then(|| PromotedIndex {
            header_length: p.header_length,
            deletion: p.deletion,
            offsets: vec![],
            blocks: std::mem::take(&mut p.blocks),
        });
        let entry = IndexEntry { index_position: self.index_pos, key: p.key.clone(), data_position: p.start, promoted };
        self.entry_buf.clear();
        entry.encode(&mut self.entry_buf, &self.header.clustering_types, self.options.version);
        self.index.write_all(&self.entry_buf).map_err(|e| Error::io(&self.index_tmp, e))?;
        self.summary.add(&p.key, self.index_pos);
        self.index_pos += self.entry_buf.len() as u64;
        self.collector.partition_sizes.add((end - p.start) as i64);
        self.collector.cell_counts.add(self.collector.partition_cells);
        self.partitions += 1;
        Ok(())
    }

    /// Write a whole partition from a stream positioned on it (`p` as returned by its
    /// `next_partition`).
    pub fn write_partition(
        &mut self,
        stream: &mut dyn crate::data::PartitionStream,
        p: &PartitionHeader,
    ) -> Result<()> {
        self.begin_partition(&p.key, p.deletion)?;
        if let Some(s) = stream.static_row() {
            let s = s.clone();
            self.write_static_row(&s)?;
        }
        while let Some(u) = stream.next_unfiltered()? {
            self.write(u)?;
        }
        self.end_partition()
    }

    /// How many component files a finished SSTable has (Data, Index, Summary, Filter,
    /// Statistics, Digest, TOC, and CompressionInfo or CRC).
    pub const COMPONENTS: usize = 8;

    /// Finish: write the remaining components and make the SSTable appear.
    pub fn finish(mut self) -> Result<Descriptor> {
        self.end_partition()?;
        let d = self.descriptor.clone();
        let v = self.options.version;
        self.index.flush().map_err(|e| Error::io(&self.index_tmp, e))?;
        self.index.get_ref().sync_all().map_err(|e| Error::io(&self.index_tmp, e))?;
        let data = std::mem::replace(&mut self.data, DataFileWriter::placeholder());
        let written = data.finish()?;
        let write = |c: Component, bytes: &[u8], temps: &mut Vec<PathBuf>| -> Result<()> {
            let tmp = temp_name(&d, c);
            let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| Error::io(&tmp, e))?;
            temps.push(tmp);
            Ok(())
        };
        let mut temps = std::mem::take(&mut self.temps);
        let mut components = vec![
            Component::Data,
            Component::Index,
            Component::Summary,
            Component::Filter,
            Component::Statistics,
            Component::Digest,
            Component::Toc,
        ];
        match &written.compression {
            Some(ci) => {
                write(Component::CompressionInfo, &ci.encode(v), &mut temps)?;
                components.push(Component::CompressionInfo);
            }
            None => {
                write(Component::Crc, &written.crcs.encode(), &mut temps)?;
                components.push(Component::Crc);
            }
        }
        write(Component::Digest, written.digest.to_string().as_bytes(), &mut temps)?;
        let summary =
            std::mem::replace(&mut self.summary, SummaryBuilder::new(self.options.min_index_interval)).finish();
        write(Component::Summary, &summary.encode(), &mut temps)?;
        write(Component::Filter, &self.filter.encode(v), &mut temps)?;
        let stats = self.statistics(&written);
        write(Component::Statistics, &crate::statistics::encode(&stats, v), &mut temps)?;
        let toc: String = components.iter().map(|c| format!("{}\n", c.suffix())).collect();
        write(Component::Toc, toc.as_bytes(), &mut temps)?;
        // Make it appear: everything but Data.db first, Data.db last.
        let mut order: Vec<Component> = components.iter().copied().filter(|c| *c != Component::Data).collect();
        order.push(Component::Data);
        // Every byte is durable before any name appears; the names are durable before the
        // SSTable is reported written (a transaction commits only after this).
        for c in order {
            let from = temp_name(&d, c);
            let to = d.path(c);
            std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
            crate::txn::crash_point("SSTable component renamed into place");
        }
        crate::txn::sync_dir(&d.directory)?;
        self.finished = true;
        Ok(d)
    }

    fn statistics(&mut self, written: &data::Written) -> Statistics {
        let v = self.options.version;
        let c = &mut self.collector;
        let none = c.min_ts > c.max_ts;
        // Values up to the first null (Cassandra writes `getBufferArray`, truncated there).
        let flat = |x: Option<&Vec<Option<Vec<u8>>>>| -> Vec<Vec<u8>> {
            x.map(|vals| vals.iter().map_while(Clone::clone).collect()).unwrap_or_default()
        };
        let (min_clustering_values, max_clustering_values) = if !v.has_legacy_min_max() {
            (vec![], vec![])
        } else if v.has_pending_repair() {
            (flat(c.min_prefix.as_ref().map(|p| &p.0)), flat(c.max_prefix.as_ref().map(|p| &p.0)))
        } else {
            (flat(c.min_clustering.as_ref()), flat(c.max_clustering.as_ref()))
        };
        let covered = (!v.has_legacy_min_max()).then(|| {
            let to_bound = |x: Option<&(Vec<Option<Vec<u8>>>, BoundKind)>, kind| ClusteringBound {
                kind,
                values: x.map(|p| p.0.iter().map_while(Clone::clone).map(Some).collect()).unwrap_or_default(),
            };
            CoveredClusterings {
                types: self.header.clustering_type_strings.clone(),
                start: to_bound(c.min_prefix.as_ref(), BoundKind::InclStartBound),
                end: to_bound(c.max_prefix.as_ref(), BoundKind::InclEndBound),
            }
        });
        let mut tombstones = std::mem::replace(&mut c.tombstones, TombstoneHistogram::new(100));
        if v >= Version::Na {
            tombstones.max_bins = tombstones.bins.len() as i32;
        }
        let stats = StatsMetadata {
            partition_sizes: c.partition_sizes.clone(),
            cell_counts: c.cell_counts.clone(),
            commit_log_upper_bound: self
                .options
                .commit_log_intervals
                .last()
                .map_or(CommitLogPosition { segment_id: -1, position: 0 }, |i| i.1),
            // Cassandra's tracker reports (Long.MIN_VALUE, Long.MAX_VALUE) when nothing was seen.
            min_timestamp: if none { i64::MIN } else { c.min_ts },
            max_timestamp: if none { i64::MAX } else { c.max_ts },
            min_local_deletion_time: c.min_ldt,
            max_local_deletion_time: if c.max_ldt == i64::MIN { NO_DELETION_TIME } else { c.max_ldt },
            min_ttl: if c.min_ttl > c.max_ttl { 0 } else { c.min_ttl },
            max_ttl: if c.min_ttl > c.max_ttl { 0 } else { c.max_ttl },
            compression_ratio: written.compression_ratio(),
            tombstone_histogram: tombstones,
            sstable_level: self.options.sstable_level,
            repaired_at: self.options.repaired_at,
            min_clustering_values,
            max_clustering_values,
            covered_clusterings: covered,
            has_legacy_counter_shards: false,
            total_columns_set: c.total_columns,
            total_rows: c.total_rows,
            commit_log_lower_bound: Some(
                self.options
                    .commit_log_intervals
                    .first()
                    .map_or(CommitLogPosition { segment_id: -1, position: 0 }, |i| i.0),
            ),
            commit_log_intervals: self.options.commit_log_intervals.clone(),
            pending_repair: self.options.pending_repair.filter(|_| v.has_pending_repair()),
            is_transient: self.options.is_transient && v.has_is_transient(),
            originating_host_id: self.options.originating_host_id,
            has_partition_level_deletions: Some(c.has_partition_deletions),
            first_key: self.first_key.clone(),
            last_key: self.last_key.as_ref().map(|(_, k)| k.clone()),
            token_space_coverage: Some(f64::NAN),
        };
        Statistics {
            validation: Some(ValidationMetadata {
                partitioner: partitioner_class(self.options.partitioner).to_string(),
                bloom_filter_fp_chance: self.options.bloom_fp_chance,
            }),
            compaction: Some(CompactionMetadata { cardinality: c.hll.to_bytes() }),
            stats: Some(stats),
            header: Some((*self.header).clone()),
            toc: vec![],
        }
    }

    /// Partitions written so far.
    pub fn partitions(&self) -> u64 {
        self.partitions
    }
}

impl Drop for SsTableWriter {
    fn drop(&mut self) {
        if !self.finished {
            for t in &self.temps {
                let _ = std::fs::remove_file(t);
            }
            for c in Component::BIG {
                let _ = std::fs::remove_file(temp_name(&self.descriptor, c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Cell;
    use crate::statistics::EncodingStats;
    use crate::types::CqlType;

    fn header() -> SerializationHeader {
        let set = CqlType::Set { elem: Box::new(CqlType::Int), frozen: false };
        SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: i32::MAX as u32, min_ttl: 0 },
            CqlType::Int,
            vec![CqlType::Int],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Text), HeaderColumn::new("s", set)],
        )
    }

    /// A test cell: column, path, value.
    type TestCell<'a> = (u16, Option<&'a [u8]>, &'a [u8]);

    fn row(cells: &[TestCell<'_>]) -> Unfiltered {
        let mut u = Unfiltered::default();
        u.start(UnfilteredKind::Row, 0);
        u.push_clustering(Some(&1i32.to_be_bytes()));
        let template = Cell::live_for_tests(5);
        for (column, path, value) in cells {
            u.push_cell(*column, &template, *path, value);
        }
        u
    }

    #[test]
    fn rows_that_break_row_invariants_are_refused_with_the_column() -> Result<()> {
        let cases: [(&[TestCell<'_>], &str); 5] = [
            (&[(0, None, b"a"), (0, None, b"b")], "more than one cell"),
            (&[(0, Some(b"p"), b"a")], "a cell path on a simple column"),
            (&[(1, None, b"")], "without a path"),
            (&[(1, Some(&[0, 0, 0, 2]), b""), (1, Some(&[0, 0, 0, 1]), b"")], "out of path order"),
            (&[(7, None, b"x")], "no such column"),
        ];
        for (cells, expected) in cases {
            let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
            let mut w = SsTableWriter::create(dir.path(), 1, header(), WriterOptions::default())?;
            w.begin_partition(&1i32.to_be_bytes(), DeletionTime::LIVE)?;
            match w.write(&row(cells)) {
                Err(Error::InvalidRow { detail, .. }) => assert!(detail.contains(expected), "{detail}"),
                other => panic!("{expected}: got {other:?}"),
            }
        }
        // A well-formed row (set cells in element order) is accepted.
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let mut w = SsTableWriter::create(dir.path(), 1, header(), WriterOptions::default())?;
        w.begin_partition(&1i32.to_be_bytes(), DeletionTime::LIVE)?;
        w.write(&row(&[(0, None, b"a"), (1, Some(&[0, 0, 0, 1]), b""), (1, Some(&[0, 0, 0, 2]), b"")]))?;
        w.finish()?;
        Ok(())
    }

    #[test]
    fn set_repaired_at_rewrites_only_repaired_at() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let mut w = SsTableWriter::create(dir.path(), 3, header(), WriterOptions::default())?;
        w.begin_partition(&1i32.to_be_bytes(), DeletionTime::LIVE)?;
        w.write(&row(&[(0, None, b"a")]))?;
        let d = w.finish()?;
        let before = std::fs::read(d.path(Component::Statistics)).map_err(|e| Error::io("read", e))?;
        set_repaired_at(&d, 1_700_000_000_123)?;
        let t = crate::sstable::SsTable::open(&d.path(Component::Data), None)?;
        assert_eq!(t.statistics.stats.as_ref().map(|s| s.repaired_at), Some(1_700_000_000_123));
        // Marking it unrepaired again gives back the very bytes the writer wrote.
        set_repaired_at(&d, 0)?;
        let after = std::fs::read(d.path(Component::Statistics)).map_err(|e| Error::io("read", e))?;
        assert_eq!(before, after);
        // Nothing but the component itself is left in the directory.
        let names = std::fs::read_dir(dir.path()).map_err(|e| Error::io("ls", e))?.count();
        assert_eq!(names, 8);
        Ok(())
    }

    /// A row of clustering `ck` (int) with text value `v`.
    fn text_row(ck: i32, v: &[u8]) -> Unfiltered {
        let mut u = Unfiltered::default();
        u.start(UnfilteredKind::Row, 0);
        u.push_clustering(Some(&ck.to_be_bytes()));
        let template = Cell::live_for_tests(5);
        u.push_cell(0, &template, None, v);
        u
    }

    #[test]
    fn rows_not_after_the_last_are_refused() -> Result<()> {
        // One clustering column, ascending and descending (the one-value order check), and two.
        let mut reversed = header();
        reversed.clustering_types = vec![CqlType::Reversed(Box::new(CqlType::Int))];
        let mut two = header();
        two.clustering_types = vec![CqlType::Int, CqlType::Int];
        let two_row = |a: i32, b: i32| {
            let mut u = Unfiltered::default();
            u.start(UnfilteredKind::Row, 0);
            u.push_clustering(Some(&a.to_be_bytes()));
            u.push_clustering(Some(&b.to_be_bytes()));
            u.push_cell(0, &Cell::live_for_tests(5), None, b"v");
            u
        };
        let cases: [(SerializationHeader, [Unfiltered; 4]); 3] = [
            (header(), [text_row(2, b"a"), text_row(2, b"b"), text_row(1, b"c"), text_row(3, b"d")]),
            (reversed, [text_row(2, b"a"), text_row(2, b"b"), text_row(3, b"c"), text_row(1, b"d")]),
            (two, [two_row(1, 2), two_row(1, 2), two_row(1, 1), two_row(2, 0)]),
        ];
        for (h, [first, same, before, after]) in cases {
            let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
            let mut w = SsTableWriter::create(dir.path(), 1, h, WriterOptions::default())?;
            w.begin_partition(&1i32.to_be_bytes(), DeletionTime::LIVE)?;
            w.write(&first)?;
            for refused in [same, before] {
                assert!(matches!(w.write(&refused), Err(Error::OutOfOrder { what: "clustering", .. })));
            }
            w.write(&after)?;
            w.end_partition()?;
            w.finish()?;
        }
        Ok(())
    }

    #[test]
    fn rows_larger_than_a_chunk_and_bodies_over_127_bytes_read_back() -> Result<()> {
        // Rows are encoded straight into the chunk buffer: a row spanning several chunks, and
        // bodies whose size vint needs 1, 2 and 3 bytes, must come back as written.
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let mut w = SsTableWriter::create(dir.path(), 1, header(), WriterOptions::default())?;
        let values: Vec<Vec<u8>> = [3usize, 100, 200, 20_000, 70_000, 5]
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| ((i * 31 + j * 7) % 251) as u8).collect())
            .collect();
        w.begin_partition(&1i32.to_be_bytes(), DeletionTime::LIVE)?;
        for (i, v) in values.iter().enumerate() {
            w.write(&text_row(i as i32, v))?;
        }
        let d = w.finish()?;
        let t = crate::sstable::SsTable::open(&d.path(Component::Data), None)?;
        let mut s = t.scanner()?;
        let mut got = Vec::new();
        while s.next_partition()?.is_some() {
            while let Some(u) = s.next_unfiltered()? {
                got.push(u.cells.first().map(|c| u.value(c).to_vec()).unwrap_or_default());
            }
        }
        assert_eq!(got, values);
        Ok(())
    }

    #[test]
    fn incompressible_chunks_are_stored_raw_and_read_back() -> Result<()> {
        // A chunk that compresses to `max_compressed_length` bytes or more is stored raw (`na`
        // onwards: its 16 KiB, then the CRC); the chunks around it are compressed. Every value
        // must come back as written, through the chunks' CRCs.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        };
        let values = vec![vec![b'a'; 20_000], noise(60_000), vec![b'b'; 20_000], noise(5_000), vec![b'c'; 3]];
        for compressor in [Compressor::Lz4, Compressor::Zstd, Compressor::Snappy] {
            let compression =
                CompressionParams { max_compressed_length: 15 * 1024, ..CompressionParams::new(compressor) };
            let options = WriterOptions { compression: Some(compression), ..WriterOptions::default() };
            let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
            let mut w = SsTableWriter::create(dir.path(), 1, header(), options)?;
            w.begin_partition(&1i32.to_be_bytes(), DeletionTime::LIVE)?;
            for (i, v) in values.iter().enumerate() {
                w.write(&text_row(i as i32, v))?;
            }
            let d = w.finish()?;
            let t = crate::sstable::SsTable::open(&d.path(Component::Data), None)?;
            let stored = std::fs::metadata(d.path(Component::Data)).map_err(|e| Error::io("stat", e))?.len();
            let raw_chunks = t.compression.as_ref().map_or(0, |ci| {
                let ends = ci.chunk_offsets.iter().skip(1).copied().chain([stored]);
                ci.chunk_offsets.iter().zip(ends).filter(|(a, b)| *b - *a == 16 * 1024 + 4).count()
            });
            assert!(raw_chunks >= 2, "{compressor:?}: {raw_chunks} chunks stored raw");
            let mut s = t.scanner()?;
            let mut got = Vec::new();
            while s.next_partition()?.is_some() {
                while let Some(u) = s.next_unfiltered()? {
                    got.push(u.cells.first().map(|c| u.value(c).to_vec()).unwrap_or_default());
                }
            }
            assert_eq!(got, values, "{compressor:?}");
        }
        Ok(())
    }

    #[test]
    fn compression_levels_are_used_or_refused_before_anything_is_written() -> Result<()> {
        // A level that parses is used (Zstd 19 and 1 give different bytes for the same rows,
        // both read back); one that does not, or a Zstd level out of range, is refused naming
        // the Data.db, and the directory is not even created.
        let write = |compressor: Compressor, level: &str, dir: &Path| -> Result<Vec<u8>> {
            let options = vec![(COMPRESSION_LEVEL.to_string(), level.to_string())];
            let compression = CompressionParams { options, ..CompressionParams::new(compressor) };
            let options = WriterOptions { compression: Some(compression), ..WriterOptions::default() };
            let mut w = SsTableWriter::create(dir, 1, header(), options)?;
            w.begin_partition(&1i32.to_be_bytes(), DeletionTime::LIVE)?;
            for i in 0..2000 {
                w.write(&text_row(i, format!("value {} of {i}", i % 7).as_bytes()))?;
            }
            let d = w.finish()?;
            let t = crate::sstable::SsTable::open(&d.path(Component::Data), None)?;
            let mut s = t.scanner()?;
            let mut rows = 0;
            while s.next_partition()?.is_some() {
                while s.next_unfiltered()?.is_some() {
                    rows += 1;
                }
            }
            assert_eq!(rows, 2000, "{compressor:?} level {level}");
            std::fs::read(d.path(Component::Data)).map_err(|e| Error::io("read", e))
        };
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let fast = write(Compressor::Zstd, "1", &tmp.path().join("z1"))?;
        let best = write(Compressor::Zstd, "19", &tmp.path().join("z19"))?;
        assert_ne!(fast, best, "the level must reach the codec");
        write(Compressor::Zstd, "-5", &tmp.path().join("zneg"))?;
        write(Compressor::Deflate, "9", &tmp.path().join("d9"))?;
        // LZ4 ignores the option, as Cassandra's LZ4Compressor does.
        write(Compressor::Lz4, "not a level", &tmp.path().join("lz4"))?;
        for (compressor, level) in [
            (Compressor::Zstd, "abc"),
            (Compressor::Zstd, "23"),
            (Compressor::Zstd, " 3"),
            (Compressor::Deflate, "6.5"),
        ] {
            let dir = tmp.path().join(format!("bad-{compressor:?}-{}", level.trim()));
            match write(compressor, level, &dir) {
                Err(Error::BadCompressionOption { path, value, .. }) => {
                    assert_eq!(value, level);
                    assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("nb-1-big-Data.db"));
                }
                other => panic!("{compressor:?} level {level:?}: {other:?}"),
            }
            assert!(!dir.exists(), "{compressor:?} level {level:?} created {}", dir.display());
        }
        Ok(())
    }

    #[test]
    fn clustering_bounds_are_the_smallest_first_and_largest_last_rows() -> Result<()> {
        // Only the first and last row of each partition are offered as bounds; the result must
        // be the smallest and largest over all partitions, whatever their order.
        for version in [Version::Nb, Version::Oa, Version::Me] {
            let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
            let options = WriterOptions { version, ..WriterOptions::default() };
            let mut w = SsTableWriter::create(dir.path(), 1, header(), options)?;
            let mut keys: Vec<(Token, i32)> =
                (0..4i32).map(|k| (Partitioner::Murmur3.token(&k.to_be_bytes()), k)).collect();
            keys.sort();
            let rows = [[5, 6, 7], [-3, 2, 4], [8, 9, 40], [0, 1, 12]];
            for (_, k) in keys {
                w.begin_partition(&k.to_be_bytes(), DeletionTime::LIVE)?;
                for ck in rows.get(k as usize).copied().unwrap_or_default() {
                    w.write(&text_row(ck, b"x"))?;
                }
            }
            let d = w.finish()?;
            let stats = crate::sstable::read_statistics(&d)?
                .stats
                .ok_or(Error::OutOfOrder { what: "test", detail: "no stats".into() })?;
            let int = |v: i32| v.to_be_bytes().to_vec();
            match stats.covered_clusterings {
                Some(c) => {
                    assert_eq!(c.start.values, vec![Some(int(-3))], "{version:?}");
                    assert_eq!(c.end.values, vec![Some(int(40))], "{version:?}");
                }
                None => {
                    assert_eq!(stats.min_clustering_values, vec![int(-3)], "{version:?}");
                    assert_eq!(stats.max_clustering_values, vec![int(40)], "{version:?}");
                }
            }
        }
        Ok(())
    }

    /// A header naming a type class Cairn does not decode opens with a warning naming it: its
    /// values are read as blobs, never silently.
    #[test]
    fn custom_types_are_warned_about_at_open() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let stats = EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 };
        let geo = CqlType::Custom("com.example.GeoType".into());
        let list = CqlType::List { elem: Box::new(geo.clone()), frozen: true };
        let columns = vec![HeaderColumn::new("g", geo), HeaderColumn::new("l", list)];
        let header = SerializationHeader::new(stats, CqlType::Int, vec![CqlType::Int], vec![], columns);
        let mut w = SsTableWriter::create(dir.path(), 1, header, WriterOptions::default())?;
        w.begin_partition(&1i32.to_be_bytes(), DeletionTime::LIVE)?;
        w.write(&row(&[(0, None, b"a")]))?;
        let d = w.finish()?;
        let t = crate::sstable::SsTable::open(&d.path(Component::Data), None)?;
        let warned: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].ends_with("-Statistics.db: Cairn does not decode the type class(es) com.example.GeoType: their values are read as blobs (shown in hex)"), "{warned:?}");
        Ok(())
    }
}
