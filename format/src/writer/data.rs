//! Data.db output: positions in the uncompressed stream, chunk compression with per-chunk
//! CRC32 (CompressionInfo.db), or raw bytes with CRC.db checksums, and the whole-file CRC32 for
//! Digest.crc32.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::compression::{ChunkChecksums, CompressionInfo};
use crate::error::{Error, Result};
use crate::writer::CompressionParams;

/// Bytes per CRC.db checksum (the Data.db writer's buffer, 64 KiB).
pub const CRC_CHUNK: usize = 65536;

/// What a finished Data.db is.
#[derive(Debug)]
pub struct Written {
    /// Uncompressed length.
    pub data_length: u64,
    /// Length on disk.
    pub file_length: u64,
    /// CompressionInfo.db, when compressed.
    pub compression: Option<CompressionInfo>,
    /// CRC.db, when uncompressed.
    pub crcs: ChunkChecksums,
    /// CRC32 of the file as stored.
    pub digest: u32,
}

impl Written {
    /// Compressed / uncompressed, or -1.0 when uncompressed (as Statistics.db records it).
    pub fn compression_ratio(&self) -> f64 {
        match &self.compression {
            Some(_) if self.data_length > 0 => self.file_length as f64 / self.data_length as f64,
            Some(_) => 0.0,
            None => -1.0,
        }
    }
}

/// Writes Data.db.
pub struct DataFileWriter {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    compression: Option<CompressionParams>,
    pos: u64,
    file_pos: u64,
    chunk: Vec<u8>,
    stored: Vec<u8>,
    offsets: Vec<u64>,
    crcs: Vec<u32>,
    digest: crc32fast::Hasher,
    /// LZ4's hash table, reused from chunk to chunk (cleared, not reallocated).
    lz4_table: lz4_flex::block::CompressTable,
    /// The codec's level ([`CompressionParams::level`]), parsed once.
    level: Option<i32>,
}

impl DataFileWriter {
    /// Create `path`.
    pub fn create(path: &Path, compression: Option<CompressionParams>) -> Result<Self> {
        let level = match &compression {
            Some(c) => c.level(path)?,
            None => None,
        };
        let f = File::create(path).map_err(|e| Error::io(path, e))?;
        let cap = compression.as_ref().map_or(CRC_CHUNK, |c| c.chunk_length as usize);
        Ok(DataFileWriter {
            path: path.to_path_buf(),
            out: Some(BufWriter::with_capacity(1 << 16, f)),
            compression,
            pos: 0,
            file_pos: 0,
            chunk: Vec::with_capacity(cap),
            stored: Vec::new(),
            offsets: Vec::new(),
            crcs: Vec::new(),
            digest: crc32fast::Hasher::new(),
            lz4_table: lz4_flex::block::CompressTable::default(),
            level,
        })
    }

    pub(crate) fn placeholder() -> Self {
        DataFileWriter {
            path: PathBuf::new(),
            out: None,
            compression: None,
            pos: 0,
            file_pos: 0,
            chunk: Vec::new(),
            stored: Vec::new(),
            offsets: Vec::new(),
            crcs: Vec::new(),
            digest: crc32fast::Hasher::new(),
            lz4_table: lz4_flex::block::CompressTable::default(),
            level: None,
        }
    }

    /// Uncompressed bytes written so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Bytes written to the file so far (compressed chunks and their checksums; the chunk being
    /// filled is not counted), as Cassandra's `getOnDiskFilePointer`.
    pub fn file_position(&self) -> u64 {
        self.file_pos
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        self.digest.update(bytes);
        self.file_pos += bytes.len() as u64;
        crate::progress::add_written(bytes.len());
        match self.out.as_mut() {
            Some(o) => o.write_all(bytes).map_err(|e| Error::io(&self.path, e)),
            None => Ok(()),
        }
    }

    fn chunk_capacity(&self) -> usize {
        self.compression.as_ref().map_or(CRC_CHUNK, |c| c.chunk_length as usize)
    }

    /// Store one chunk of uncompressed bytes: raw with its CRC.db checksum, or compressed with
    /// its CRC32 and offset.
    fn store(&mut self, chunk: &[u8]) -> Result<()> {
        let Some(c) = self.compression.as_ref() else {
            self.crcs.push(crc32fast::hash(chunk));
            return self.emit(chunk);
        };
        let (compressor, max_compressed_length) = (c.compressor, c.max_compressed_length as usize);
        let level = self.level;
        self.offsets.push(self.file_pos);
        let mut stored = std::mem::take(&mut self.stored);
        let used = if compressor == crate::compression::Compressor::Lz4 {
            lz4_compress(chunk, &mut self.lz4_table, &mut stored).map_err(|e| Error::io(&self.path, e))?
        } else {
            stored.clear();
            compressor.compress_with_level(chunk, level, &mut stored).map_err(|e| Error::io(&self.path, e))?;
            stored.len()
        };
        let raw = crate::compression::is_stored_raw(used, max_compressed_length as u32);
        if raw {
            // Incompressible: stored raw, padded to the limit (Cassandra `CompressedSequentialWriter`).
            stored.clear();
            stored.extend_from_slice(chunk);
            if stored.len() < max_compressed_length {
                stored.resize(max_compressed_length, 0);
            }
        }
        let body = if raw { Some(stored.as_slice()) } else { stored.get(..used) };
        let Some(body) = body else {
            let e = std::io::Error::other(format!("compressed chunk of {used} bytes is longer than its buffer"));
            return Err(Error::io(&self.path, e));
        };
        let crc = crc32fast::hash(body);
        let result = self.emit(body).and_then(|()| self.emit(&crc.to_be_bytes()));
        self.stored = stored;
        result
    }

    /// Store every whole chunk the buffer holds, keeping the rest (less than a chunk) in it.
    fn store_full_chunks(&mut self) -> Result<()> {
        let cap = self.chunk_capacity();
        if self.chunk.len() < cap {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.chunk);
        let mut done = 0;
        let mut result = Ok(());
        for c in chunk.chunks_exact(cap) {
            result = self.store(c);
            if result.is_err() {
                break;
            }
            done += cap;
        }
        self.chunk = chunk;
        self.chunk.drain(..done);
        result
    }

    /// The buffer of uncompressed bytes not yet stored: append to it, then call [`Self::commit`]
    /// with its length before appending (bytes are encoded where they will be compressed from,
    /// not copied there from a row buffer).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.chunk
    }

    /// Account for the bytes appended to [`Self::buffer`] since it was `start` long, and store
    /// the chunks they complete.
    pub fn commit(&mut self, start: usize) -> Result<()> {
        self.pos += self.chunk.len().saturating_sub(start) as u64;
        self.store_full_chunks()
    }

    /// Append uncompressed bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let start = self.chunk.len();
        self.chunk.extend_from_slice(bytes);
        self.commit(start)
    }

    /// Flush the last chunk and close the file.
    pub fn finish(mut self) -> Result<Written> {
        let rest = std::mem::take(&mut self.chunk);
        if !rest.is_empty() {
            self.store(&rest)?;
        }
        if let Some(mut o) = self.out.take() {
            o.flush().map_err(|e| Error::io(&self.path, e))?;
            o.get_ref().sync_all().map_err(|e| Error::io(&self.path, e))?;
        }
        let compression = self.compression.as_ref().map(|c| CompressionInfo {
            class: c.compressor.class_name().to_string(),
            compressor: Some(c.compressor),
            options: c.options.clone(),
            chunk_length: c.chunk_length,
            max_compressed_length: c.max_compressed_length,
            data_length: self.pos,
            chunk_offsets: self.offsets.clone(),
        });
        Ok(Written {
            data_length: self.pos,
            file_length: self.file_pos,
            compression,
            crcs: ChunkChecksums { chunk_size: CRC_CHUNK as u32, crcs: self.crcs.clone() },
            digest: self.digest.clone().finalize(),
        })
    }
}

/// LZ4-compress `src` into the front of `dst` as Cassandra's `LZ4Compressor` stores a chunk:
/// the uncompressed length (4 bytes, little-endian), then the LZ4 block; returns the bytes
/// used. The same bytes as `lz4_flex::block::compress_prepend_size`, with the hash table reused
/// and no allocation. `dst` keeps its length from chunk to chunk (only the front is this
/// chunk's), so the room a block may take is zeroed once, not again for every chunk.
fn lz4_compress(src: &[u8], table: &mut lz4_flex::block::CompressTable, dst: &mut Vec<u8>) -> std::io::Result<usize> {
    let len = u32::try_from(src.len()).map_err(std::io::Error::other)?;
    let room = 4 + lz4_flex::block::get_maximum_output_size(src.len());
    if dst.len() < room {
        dst.resize(room, 0);
    }
    let (head, body) = dst.split_at_mut(4);
    head.copy_from_slice(&len.to_le_bytes());
    let out = body.get_mut(..room - 4).unwrap_or_default();
    let n = lz4_flex::block::compress_into_with_table(src, out, table)
        .map_err(|e| std::io::Error::other(format!("LZ4 compression: {e}")))?;
    Ok(4 + n)
}
