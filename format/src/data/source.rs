//! The chunk layer: Data.db as a sequence of verified, decompressed chunks.
//!
//! A compressed Data.db is read chunk by chunk through CompressionInfo.db: the stored bytes of
//! chunk *i* run from `offsets[i]` to `offsets[i+1] - 4`, followed by their CRC32. An
//! uncompressed Data.db is read in the chunk size of CRC.db (64 KiB) and each piece checked
//! against its CRC when CRC.db is present. Either way callers see the uncompressed byte stream
//! and every byte they get has passed its checksum (unless verification was turned off for
//! forensics).
//!
//! Digest.crc32 holds the CRC32 of the whole stored Data.db (Cassandra
//! `io/util/ChecksumWriter.java`, `writeFullChecksum`). It is the only check an uncompressed
//! Data.db without CRC.db has, so a [`DigestCoverage`] attached to a source hashes the stored
//! bytes of every chunk as it is read, once per chunk, and joins adjacent chunks' CRCs
//! (CRC32 combines: the CRC of `a ‖ b` follows from those of `a` and `b` and the length of `b`).
//! When the chunks read add up to the whole file — a full scan, or the token ranges of an export
//! sharing one coverage — [`DigestCoverage::check`] compares the result with Digest.crc32
//! without reading anything a second time.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::compression::{ChunkChecksums, CompressionInfo, Compressor, read_digest};
use crate::descriptor::Component;
use crate::error::{DecodeError, DecodeErrorKind, Error, Result};

/// How Data.db is stored.
#[derive(Debug, Clone)]
pub enum Layout {
    /// Compressed chunks.
    Compressed(CompressionInfo),
    /// Raw bytes, optionally with CRC.db checksums.
    Uncompressed {
        /// Chunk size for reading and checksums.
        chunk_size: u32,
        /// CRC.db contents, if present.
        crcs: Option<ChunkChecksums>,
    },
}

/// Where the stored bytes of Data.db come from: a file (positioned reads), or memory (tests
/// and fuzzing).
#[derive(Debug)]
enum Backing {
    File(File),
    Memory(std::sync::Arc<[u8]>),
}

impl Backing {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        match self {
            Backing::File(f) => f.read_exact_at(buf, offset),
            Backing::Memory(m) => {
                let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
                let src = m.get(start..start + buf.len()).ok_or(std::io::ErrorKind::UnexpectedEof)?;
                buf.copy_from_slice(src);
                Ok(())
            }
        }
    }
}

/// Reads uncompressed chunks of one Data.db.
#[derive(Debug)]
pub struct DataSource {
    path: PathBuf,
    file: Backing,
    file_len: u64,
    layout: Layout,
    data_length: u64,
    verify: bool,
    scratch: Vec<u8>,
    digest: Option<DigestCoverage>,
    /// Chunks `0..read_in_order` were read, in order, without error ([`Self::chunks_read_in_order`]).
    read_in_order: u64,
}

impl DataSource {
    /// Open `path` with the given layout.
    pub fn open(path: &Path, layout: Layout, verify: bool) -> Result<DataSource> {
        let file = crate::component_file::open_required(path, Component::Data)?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let data_length = match &layout {
            Layout::Compressed(ci) => ci.data_length,
            Layout::Uncompressed { .. } => file_len,
        };
        Ok(DataSource {
            path: path.to_path_buf(),
            file: Backing::File(file),
            file_len,
            layout,
            data_length,
            verify,
            scratch: Vec::new(),
            digest: None,
            read_in_order: 0,
        })
    }

    /// A source over Data.db bytes held in memory; `name` is used in error messages.
    pub fn from_bytes(name: &Path, bytes: impl Into<std::sync::Arc<[u8]>>, layout: Layout, verify: bool) -> DataSource {
        let bytes: std::sync::Arc<[u8]> = bytes.into();
        let file_len = bytes.len() as u64;
        let data_length = match &layout {
            Layout::Compressed(ci) => ci.data_length,
            Layout::Uncompressed { .. } => file_len,
        };
        DataSource {
            path: name.to_path_buf(),
            file: Backing::Memory(bytes),
            file_len,
            layout,
            data_length,
            verify,
            scratch: Vec::new(),
            digest: None,
            read_in_order: 0,
        }
    }

    /// Hash the stored bytes of every chunk read into `digest` (see [`DigestCoverage`]).
    pub fn with_digest(mut self, digest: DigestCoverage) -> DataSource {
        self.digest = Some(digest);
        self
    }

    /// The digest coverage this source feeds, if any.
    pub fn digest(&self) -> Option<&DigestCoverage> {
        self.digest.as_ref()
    }

    /// Whether checksums (and the checks of a scan) are verified.
    pub fn verifies(&self) -> bool {
        self.verify
    }

    /// Uncompressed length of Data.db.
    pub fn data_length(&self) -> u64 {
        self.data_length
    }

    /// Size of the Data.db file on disk.
    pub fn file_length(&self) -> u64 {
        self.file_len
    }

    /// Uncompressed bytes per chunk.
    pub fn chunk_size(&self) -> u64 {
        match &self.layout {
            Layout::Compressed(ci) => u64::from(ci.chunk_length),
            Layout::Uncompressed { chunk_size, .. } => u64::from(*chunk_size),
        }
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> u64 {
        self.data_length.div_ceil(self.chunk_size().max(1))
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Path of Data.db.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn corrupt(&self, offset: u64, kind: DecodeErrorKind) -> Error {
        Error::Corrupt { path: self.path.clone(), component: Component::Data, offset, kind }
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        if offset.saturating_add(buf.len() as u64) > self.file_len {
            return Err(self.corrupt(
                offset,
                DecodeErrorKind::Truncated {
                    needed: buf.len() as u64,
                    available: self.file_len.saturating_sub(offset),
                },
            ));
        }
        self.file.read_exact_at(buf, offset).map_err(|e| Error::io(&self.path, e))?;
        crate::progress::add_read(buf.len());
        Ok(())
    }

    /// How many chunks from the first were read, one after the other, without error: a reader
    /// that checks every chunk (`cairn verify`) reads only the ones after them again.
    pub fn chunks_read_in_order(&self) -> u64 {
        self.read_in_order
    }

    /// Append the uncompressed bytes of chunk `index` to `out`.
    pub fn append_chunk(&mut self, index: u64, out: &mut Vec<u8>) -> Result<()> {
        let read = self.read_chunk(index, out);
        if read.is_ok() && index == self.read_in_order {
            self.read_in_order += 1;
        }
        read
    }

    fn read_chunk(&mut self, index: u64, out: &mut Vec<u8>) -> Result<()> {
        let cs = self.chunk_size();
        let start = index * cs;
        if start >= self.data_length {
            return Err(self.corrupt(start, DecodeErrorKind::Truncated { needed: 1, available: 0 }));
        }
        let expected = (self.data_length - start).min(cs) as usize;
        match &self.layout {
            Layout::Uncompressed { crcs, .. } => {
                let at = out.len();
                out.resize(at + expected, 0);
                let dst = out.get_mut(at..).unwrap_or_default();
                self.read_at(dst, start)?;
                if let Some(d) = &self.digest {
                    d.add(index, out.get(at..).unwrap_or_default());
                }
                if self.verify
                    && let Some(crcs) = crcs
                {
                    let got = crc32fast::hash(out.get(at..).unwrap_or_default());
                    let stored = crcs.crcs.get(index as usize).copied();
                    match stored {
                        Some(expected) if expected == got => {}
                        Some(expected) => {
                            out.truncate(at);
                            return Err(Error::ChecksumMismatch {
                                path: self.path.clone(),
                                component: Component::Data,
                                chunk: index,
                                offset: start,
                                expected,
                                got,
                            });
                        }
                        None => {
                            out.truncate(at);
                            return Err(Error::Corrupt {
                                path: self.path.with_file_name(
                                    self.path
                                        .file_name()
                                        .and_then(|n| n.to_str())
                                        .unwrap_or("")
                                        .replace("Data.db", "CRC.db"),
                                ),
                                component: Component::Crc,
                                offset: 4 + index * 4,
                                kind: DecodeErrorKind::Truncated { needed: 4, available: 0 },
                            });
                        }
                    }
                }
                Ok(())
            }
            Layout::Compressed(ci) => {
                let i = index as usize;
                let off = *ci.chunk_offsets.get(i).ok_or_else(|| {
                    self.corrupt(
                        start,
                        DecodeErrorKind::SizeMismatch {
                            what: "chunk index",
                            recorded: ci.chunk_offsets.len() as u64,
                            actual: index + 1,
                        },
                    )
                })?;
                let next = ci.chunk_offsets.get(i + 1).copied().unwrap_or(self.file_len);
                if next < off + 4 || next > self.file_len {
                    return Err(Error::Corrupt {
                        path: self.path.clone(),
                        component: Component::Data,
                        offset: off,
                        kind: DecodeErrorKind::Truncated {
                            needed: next.saturating_sub(off).max(4),
                            available: self.file_len.saturating_sub(off),
                        },
                    });
                }
                let stored_len = (next - off) as usize;
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.resize(stored_len, 0);
                let r = self.read_at(&mut scratch, off);
                if let Err(e) = r {
                    self.scratch = scratch;
                    return Err(e);
                }
                if let Some(d) = &self.digest {
                    d.add(index, &scratch);
                }
                let (payload, crc) = scratch.split_at(stored_len - 4);
                let stored_crc = u32::from_be_bytes(crc.try_into().unwrap_or([0; 4]));
                if self.verify {
                    let got = crc32fast::hash(payload);
                    if got != stored_crc {
                        self.scratch = scratch;
                        return Err(Error::ChecksumMismatch {
                            path: self.path.clone(),
                            component: Component::Data,
                            chunk: index,
                            offset: off,
                            expected: stored_crc,
                            got,
                        });
                    }
                }
                let result = if crate::compression::is_stored_raw(payload.len(), ci.max_compressed_length) {
                    // Stored raw (na+ with min_compress_ratio); the last chunk may be padded.
                    out.extend_from_slice(payload.get(..expected).unwrap_or(payload));
                    if payload.len() < expected {
                        Err(DecodeErrorKind::ChunkSize { expected: expected as u64, got: payload.len() as u64 })
                    } else {
                        Ok(())
                    }
                } else {
                    match ci.compressor {
                        Some(c) => c.decompress_into(payload, expected, out),
                        None => Err(DecodeErrorKind::Decompress { codec: "unknown", detail: ci.class.clone() }),
                    }
                };
                self.scratch = scratch;
                result.map_err(|kind| self.corrupt(off, kind))
            }
        }
    }

    /// CRC32 of the whole Data.db file as stored (what Digest.crc32 records).
    pub fn file_crc32(&self) -> Result<u32> {
        let mut h = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0u64;
        while off < self.file_len {
            let n = ((self.file_len - off) as usize).min(buf.len());
            let dst = buf.get_mut(..n).unwrap_or_default();
            self.file.read_exact_at(dst, off).map_err(|e| Error::io(&self.path, e))?;
            crate::progress::add_read(n);
            h.update(dst);
            off += n as u64;
        }
        Ok(h.finalize())
    }

    /// Compare Digest.crc32 with the CRC32 of the whole stored file: from the chunks the
    /// attached [`DigestCoverage`] has seen when they cover the file, else by reading it.
    /// `Ok(false)` when there is no Digest.crc32.
    pub fn check_digest(&self) -> Result<bool> {
        let Some(d) = &self.digest else { return Ok(false) };
        match d.whole(self)? {
            Some(got) => d.compare(got),
            None => d.compare(self.file_crc32()?),
        }
    }

    /// Read a compressed layout (for tests and tools that only want one chunk's stored bytes).
    pub fn compressor(&self) -> Option<Compressor> {
        match &self.layout {
            Layout::Compressed(ci) => ci.compressor,
            Layout::Uncompressed { .. } => None,
        }
    }
}

/// The CRC32s of the stored chunks of one Data.db read so far, joined into runs of adjacent
/// chunks; clones share one record (the token-range scanners of one SSTable).
#[derive(Debug, Clone)]
pub struct DigestCoverage {
    /// Digest.crc32.
    digest_path: PathBuf,
    /// Data.db (named by a mismatch).
    data_path: PathBuf,
    runs: Arc<Mutex<BTreeMap<u64, Run>>>,
}

/// Chunks `start..end` (the map key is `start`): their stored length and CRC32.
#[derive(Debug)]
struct Run {
    end: u64,
    bytes: u64,
    hasher: crc32fast::Hasher,
}

impl DigestCoverage {
    /// A coverage that checks Data.db `data_path` against Digest.crc32 `digest_path`.
    pub fn new(data_path: &Path, digest_path: &Path) -> DigestCoverage {
        DigestCoverage {
            digest_path: digest_path.to_path_buf(),
            data_path: data_path.to_path_buf(),
            runs: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Run>> {
        // Nothing panics while holding the lock; a poisoned map is still consistent.
        self.runs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Record the stored bytes of `chunk` (a chunk already recorded is not hashed again).
    fn add(&self, chunk: u64, stored: &[u8]) {
        let mut runs = self.lock();
        if runs.range(..=chunk).next_back().is_some_and(|(_, r)| r.end > chunk) {
            return;
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(stored);
        let start = match runs.range_mut(..chunk).next_back() {
            Some((s, r)) if r.end == chunk => {
                r.hasher.combine(&hasher);
                r.end += 1;
                r.bytes += stored.len() as u64;
                *s
            }
            _ => {
                runs.insert(chunk, Run { end: chunk + 1, bytes: stored.len() as u64, hasher });
                chunk
            }
        };
        if let Some(next) = runs.remove(&(chunk + 1))
            && let Some(r) = runs.get_mut(&start)
        {
            r.hasher.combine(&next.hasher);
            r.end = next.end;
            r.bytes += next.bytes;
        }
    }

    /// The CRC32 of the whole file, when the chunks recorded are all of `source`'s chunks
    /// from the start of the file. Bytes after the last chunk (an empty final chunk some
    /// writers add, which no read needs) are read here; nothing else is.
    fn whole(&self, source: &DataSource) -> Result<Option<u32>> {
        let (mut hasher, covered) = {
            let runs = self.lock();
            let chunks = source.chunk_count();
            match runs.iter().next() {
                _ if chunks == 0 => (crc32fast::Hasher::new(), 0),
                Some((0, r)) if runs.len() == 1 && r.end == chunks => (r.hasher.clone(), r.bytes),
                _ => return Ok(None),
            }
        };
        let first = match &source.layout {
            Layout::Compressed(ci) => ci.chunk_offsets.first().copied().unwrap_or(0),
            Layout::Uncompressed { .. } => 0,
        };
        if first != 0 || covered > source.file_length() {
            return Ok(None);
        }
        let mut at = covered;
        let mut buf = vec![0u8; (source.file_length() - at).min(1 << 16) as usize];
        while at < source.file_length() {
            let n = ((source.file_length() - at) as usize).min(buf.len());
            let piece = buf.get_mut(..n).unwrap_or_default();
            source.read_at(piece, at)?;
            hasher.update(piece);
            at += n as u64;
        }
        Ok(Some(hasher.finalize()))
    }

    fn compare(&self, got: u32) -> Result<bool> {
        let Some(expected) = read_digest(&self.digest_path)? else { return Ok(false) };
        if expected != got {
            return Err(Error::DigestMismatch { path: self.data_path.clone(), expected, got });
        }
        Ok(true)
    }

    /// Compare Digest.crc32 with the CRC32 of the chunks recorded, when they are all of
    /// `source`'s chunks; `Ok(None)` when they are not (nothing is read then).
    pub fn check(&self, source: &DataSource) -> Result<Option<bool>> {
        match self.whole(source)? {
            Some(got) => self.compare(got).map(Some),
            None => Ok(None),
        }
    }
}

/// A decode error in the Data.db stream, located.
pub(crate) fn data_error(path: &Path, e: DecodeError) -> Error {
    Error::Corrupt { path: path.to_path_buf(), component: Component::Data, offset: e.offset, kind: e.kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(bytes: &[u8], dir: &Path, digest: u32) -> (DataSource, DigestCoverage) {
        let digest_path = dir.join("Digest.crc32");
        std::fs::write(&digest_path, digest.to_string()).unwrap();
        let coverage = DigestCoverage::new(Path::new("Data.db"), &digest_path);
        let layout = Layout::Uncompressed { chunk_size: 16, crcs: None };
        let s =
            DataSource::from_bytes(Path::new("Data.db"), bytes.to_vec(), layout, true).with_digest(coverage.clone());
        (s, coverage)
    }

    #[test]
    fn chunks_read_in_any_order_by_several_readers_make_the_whole_file_crc() {
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 7 % 251) as u8).collect();
        let dir = std::env::temp_dir().join(format!("cairn-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut a, coverage) = source(&bytes, &dir, crc32fast::hash(&bytes));
        let mut b = DataSource::from_bytes(
            Path::new("Data.db"),
            bytes.clone(),
            Layout::Uncompressed { chunk_size: 16, crcs: None },
            true,
        )
        .with_digest(coverage.clone());
        let mut out = Vec::new();
        // Two readers, overlapping (chunk 6 twice), out of order; not yet the whole file.
        for i in [7, 8, 9, 6, 0, 1] {
            a.append_chunk(i, &mut out).unwrap();
        }
        for i in [6, 2, 3, 12] {
            b.append_chunk(i, &mut out).unwrap();
        }
        assert_eq!(coverage.check(&a).unwrap(), None, "chunks 4, 5, 10, 11 unread");
        for i in [4, 5, 10, 11] {
            b.append_chunk(i, &mut out).unwrap();
        }
        assert_eq!(coverage.check(&a).unwrap(), Some(true));
        // Another digest on disk: a mismatch naming Data.db.
        let (mut c, coverage) = source(&bytes, &dir, crc32fast::hash(&bytes) ^ 1);
        for i in 0..c.chunk_count() {
            c.append_chunk(i, &mut out).unwrap();
        }
        assert!(matches!(coverage.check(&c), Err(Error::DigestMismatch { .. })));
        // Partly read: the source reads the rest itself.
        let (mut d, _) = source(&bytes, &dir, crc32fast::hash(&bytes) ^ 1);
        d.append_chunk(3, &mut out).unwrap();
        assert!(matches!(d.check_digest(), Err(Error::DigestMismatch { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
