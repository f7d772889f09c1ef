//! The chunk layer: Data.db as a sequence of verified, decompressed chunks.
//!
//! A compressed Data.db is read chunk by chunk through CompressionInfo.db: the stored bytes of
//! chunk *i* run from `offsets[i]` to `offsets[i+1] - 4`, followed by their CRC32. An
//! uncompressed Data.db is read in the chunk size of CRC.db (64 KiB) and each piece checked
//! against its CRC when CRC.db is present. Either way callers see the uncompressed byte stream
//! and every byte they get has passed its checksum (unless verification was turned off for
//! forensics).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::compression::{ChunkChecksums, CompressionInfo, Compressor};
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
        }
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
        self.file.read_exact_at(buf, offset).map_err(|e| Error::io(&self.path, e))
    }

    /// Append the uncompressed bytes of chunk `index` to `out`.
    pub fn append_chunk(&mut self, index: u64, out: &mut Vec<u8>) -> Result<()> {
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
                let result = if payload.len() >= ci.max_compressed_length as usize {
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
            h.update(dst);
            off += n as u64;
        }
        Ok(h.finalize())
    }

    /// Read a compressed layout (for tests and tools that only want one chunk's stored bytes).
    pub fn compressor(&self) -> Option<Compressor> {
        match &self.layout {
            Layout::Compressed(ci) => ci.compressor,
            Layout::Uncompressed { .. } => None,
        }
    }
}

/// A decode error in the Data.db stream, located.
pub(crate) fn data_error(path: &Path, e: DecodeError) -> Error {
    Error::Corrupt { path: path.to_path_buf(), component: Component::Data, offset: e.offset, kind: e.kind }
}
