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
}

impl DataFileWriter {
    /// Create `path`.
    pub fn create(path: &Path, compression: Option<CompressionParams>) -> Result<Self> {
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

    fn flush_chunk(&mut self) -> Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.chunk);
        match self.compression.clone() {
            None => {
                self.crcs.push(crc32fast::hash(&chunk));
                self.emit(&chunk)?;
            }
            Some(c) => {
                self.offsets.push(self.file_pos);
                let mut stored = std::mem::take(&mut self.stored);
                stored.clear();
                let level = c.options.iter().find(|(k, _)| k == "compression_level").and_then(|(_, v)| v.parse().ok());
                c.compressor.compress_with_level(&chunk, level, &mut stored).map_err(|e| Error::io(&self.path, e))?;
                if stored.len() >= c.max_compressed_length as usize {
                    // Incompressible: stored raw, padded to the limit (Cassandra `CompressedSequentialWriter`).
                    stored.clear();
                    stored.extend_from_slice(&chunk);
                    if stored.len() < c.max_compressed_length as usize {
                        stored.resize(c.max_compressed_length as usize, 0);
                    }
                }
                let crc = crc32fast::hash(&stored);
                self.emit(&stored)?;
                self.emit(&crc.to_be_bytes())?;
                self.stored = stored;
            }
        }
        self.chunk = chunk;
        self.chunk.clear();
        Ok(())
    }

    /// Append uncompressed bytes.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        let cap = self.chunk_capacity();
        while !bytes.is_empty() {
            let room = cap - self.chunk.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.chunk.extend_from_slice(now);
            self.pos += now.len() as u64;
            bytes = rest;
            if self.chunk.len() == cap {
                self.flush_chunk()?;
            }
        }
        Ok(())
    }

    /// Flush the last chunk and close the file.
    pub fn finish(mut self) -> Result<Written> {
        self.flush_chunk()?;
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
