//! Index.db: one entry per partition, in token order, with the promoted (row) index of wide
//! partitions.
//!
//! ```text
//! u16 key length · key · uvint Data.db position · uvint size of the rest (0 = no row index)
//! promoted index (size > 0):
//!   uvint partition header length · partition DeletionTime (version form) · uvint block count ·
//!   blocks · block count x i32 offset of each block from the first block
//! block (IndexInfo):
//!   first clustering prefix · last clustering prefix   (kind byte; u16 size unless kind = 4)
//!   uvint offset from partition start · svint (width − 65536) · bool open marker ·
//!   [DeletionTime of the range tombstone open at the block end]
//! ```
//! (Cassandra `db/RowIndexEntry.java`, `io/sstable/IndexInfo.java`; every `m*`, `n*` and `oa`
//! file has the offsets array.)

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::clustering::ClusteringBound;
use crate::codec::Cursor;
use crate::deletion::DeletionTime;
use crate::descriptor::Component;
use crate::error::{DecodeError, DecodeErrorKind, Error, Result};
use crate::types::CqlType;
use crate::version::Version;

/// One Index.db entry.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// Offset of the entry in Index.db.
    pub index_position: u64,
    /// Serialized partition key.
    pub key: Vec<u8>,
    /// Offset of the partition in the uncompressed Data.db.
    pub data_position: u64,
    /// Row index of a partition spanning several blocks.
    pub promoted: Option<PromotedIndex>,
}

/// The promoted index of a wide partition.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotedIndex {
    /// Bytes of the partition header (key, deletion, static row).
    pub header_length: u64,
    /// Partition deletion.
    pub deletion: DeletionTime,
    /// Blocks.
    pub blocks: Vec<IndexBlock>,
    /// Offset of each block's serialization from the first block.
    pub offsets: Vec<u32>,
}

/// One block of a promoted index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexBlock {
    /// First clustering in the block.
    pub first: ClusteringBound,
    /// Last clustering in the block.
    pub last: ClusteringBound,
    /// Block start relative to the partition start.
    pub offset: u64,
    /// Block length in bytes.
    pub width: u64,
    /// Range tombstone open at the end of the block.
    pub end_open_marker: Option<DeletionTime>,
}

fn parse_promoted(c: &mut Cursor<'_>, types: &[CqlType], version: Version) -> Result<PromotedIndex, DecodeError> {
    let header_length = c.uvint()?;
    let deletion = DeletionTime::read(c, version)?;
    let count = c.uvint_count("index block count")?;
    let mut blocks = Vec::with_capacity(count);
    for _ in 0..count {
        let first = ClusteringBound::read(c, types)?;
        let last = ClusteringBound::read(c, types)?;
        let offset = c.uvint()?;
        let at = c.offset();
        let width = c.svint()?.wrapping_add(65536);
        if width < 0 {
            return Err(DecodeError::new(
                at,
                DecodeErrorKind::InvalidValue { what: "index block width", value: width },
            ));
        }
        let end_open_marker = if c.bool()? { Some(DeletionTime::read(c, version)?) } else { None };
        blocks.push(IndexBlock { first, last, offset, width: width as u64, end_open_marker });
    }
    let mut offsets = Vec::with_capacity(count);
    for _ in 0..count {
        offsets.push(c.u32()?);
    }
    Ok(PromotedIndex { header_length, deletion, blocks, offsets })
}

/// Parse one entry from `c` (which must hold the whole entry).
pub fn parse_entry(c: &mut Cursor<'_>, types: &[CqlType], version: Version) -> Result<IndexEntry, DecodeError> {
    let index_position = c.offset();
    let key = c.u16_bytes()?.to_vec();
    let data_position = c.uvint()?;
    let size = c.uvint_len("promoted index size")?;
    let promoted = if size > 0 {
        let body = c.bytes(size)?;
        let mut pc = Cursor::with_base(body, c.offset() - size as u64);
        let p = parse_promoted(&mut pc, types, version)?;
        if !pc.is_empty() {
            return Err(pc.error(DecodeErrorKind::SizeMismatch {
                what: "promoted index size",
                recorded: size as u64,
                actual: pc.position() as u64,
            }));
        }
        Some(p)
    } else {
        None
    };
    Ok(IndexEntry { index_position, key, data_position, promoted })
}

/// Streams the entries of Index.db with bounded memory.
#[derive(Debug)]
pub struct IndexReader {
    path: PathBuf,
    file: File,
    len: u64,
    buf: Vec<u8>,
    pos: usize,
    start: u64,
    types: Vec<CqlType>,
    version: Version,
}

const READ_SIZE: usize = 1 << 16;

impl IndexReader {
    /// Open Index.db; `types` are the clustering types (for promoted-index bounds).
    pub fn open(path: &Path, types: Vec<CqlType>, version: Version) -> Result<IndexReader> {
        let file = crate::component_file::open_required(path, Component::Index)?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(IndexReader { path: path.to_path_buf(), file, len, buf: Vec::new(), pos: 0, start: 0, types, version })
    }

    /// Start reading at `position` (an entry start, e.g. from Summary.db).
    pub fn seek(&mut self, position: u64) {
        self.buf.clear();
        self.pos = 0;
        self.start = position.min(self.len);
    }

    fn fill(&mut self) -> Result<bool> {
        let end = self.start + self.buf.len() as u64;
        if end >= self.len {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.start += self.pos as u64;
            self.pos = 0;
        }
        let end = self.start + self.buf.len() as u64;
        let n = ((self.len - end) as usize).min(READ_SIZE.max(self.buf.len()));
        let at = self.buf.len();
        self.buf.resize(at + n, 0);
        let dst = self.buf.get_mut(at..).unwrap_or_default();
        self.file.read_exact_at(dst, end).map_err(|e| Error::io(&self.path, e))?;
        Ok(true)
    }

    /// The next entry, `None` at the end of the file.
    pub fn next_entry(&mut self) -> Result<Option<IndexEntry>> {
        loop {
            let slice = self.buf.get(self.pos..).unwrap_or_default();
            if slice.is_empty() && !self.fill()? {
                return Ok(None);
            }
            let slice = self.buf.get(self.pos..).unwrap_or_default();
            let mut c = Cursor::with_base(slice, self.start + self.pos as u64);
            match parse_entry(&mut c, &self.types, self.version) {
                Ok(e) => {
                    self.pos += c.position();
                    return Ok(Some(e));
                }
                Err(e)
                    if matches!(
                        e.kind,
                        DecodeErrorKind::Truncated { .. } | DecodeErrorKind::LengthOutOfRange { .. }
                    ) =>
                {
                    if !self.fill()? {
                        return Err(e.located(&self.path, Component::Index));
                    }
                }
                Err(e) => return Err(e.located(&self.path, Component::Index)),
            }
        }
    }

    /// Size of Index.db.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether Index.db is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl IndexEntry {
    /// Serialize this entry (Index.db layout of `version`).
    pub fn encode(&self, out: &mut Vec<u8>, types: &[CqlType], version: Version) {
        out.extend_from_slice(&(self.key.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.key);
        crate::codec::write_uvint(out, self.data_position);
        match &self.promoted {
            None => out.push(0),
            Some(p) => {
                let mut body = Vec::new();
                crate::codec::write_uvint(&mut body, p.header_length);
                p.deletion.write(&mut body, version);
                crate::codec::write_uvint(&mut body, p.blocks.len() as u64);
                let blocks_start = body.len();
                let mut offsets = Vec::with_capacity(p.blocks.len());
                for b in &p.blocks {
                    offsets.push((body.len() - blocks_start) as u32);
                    b.first.write(&mut body, types);
                    b.last.write(&mut body, types);
                    crate::codec::write_uvint(&mut body, b.offset);
                    crate::codec::write_svint(&mut body, b.width as i64 - 65536);
                    match &b.end_open_marker {
                        Some(d) => {
                            body.push(1);
                            d.write(&mut body, version);
                        }
                        None => body.push(0),
                    }
                }
                for o in offsets {
                    body.extend_from_slice(&o.to_be_bytes());
                }
                crate::codec::write_uvint(out, body.len() as u64);
                out.extend_from_slice(&body);
            }
        }
    }
}
