//! CompressionInfo.db and chunk decompression.
//!
//! ```text
//! u16+UTF-8   compressor class simple name (LZ4Compressor, SnappyCompressor,
//!             DeflateCompressor, ZstdCompressor, NoopCompressor)
//! i32         option count, then (u16 key, u16 value) pairs
//! i32         chunk length (uncompressed bytes per chunk; 64 KiB in 3.x, 16 KiB in 4.x)
//! [na+] i32   max compressed length: a stored chunk at least this long is raw, not compressed
//! i64         uncompressed Data.db length
//! i32         chunk count, then that many i64 Data.db offsets
//! ```
//!
//! Each stored chunk is followed by a big-endian CRC32 of its stored bytes. LZ4 payloads start
//! with the uncompressed length as 4 little-endian bytes; Deflate payloads are zlib streams.
//! (Cassandra `io/compress/CompressionMetadata.java`, `io/compress/*Compressor.java`.)

use std::io::Read as _;

use crate::codec::Cursor;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::version::Version;

/// The chunk codecs Cassandra ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressor {
    /// `LZ4Compressor`.
    Lz4,
    /// `SnappyCompressor`.
    Snappy,
    /// `DeflateCompressor` (zlib).
    Deflate,
    /// `ZstdCompressor`.
    Zstd,
    /// `NoopCompressor`.
    Noop,
}

impl Compressor {
    /// From the stored class name: bare or in `org.apache.cassandra.io.compress` (a class of
    /// another package is not Cassandra's, whatever its simple name).
    pub fn from_class(class: &str) -> Option<Compressor> {
        Some(match crate::class_name::in_package(class, "org.apache.cassandra.io.compress.")? {
            "LZ4Compressor" => Compressor::Lz4,
            "SnappyCompressor" => Compressor::Snappy,
            "DeflateCompressor" => Compressor::Deflate,
            "ZstdCompressor" => Compressor::Zstd,
            "NoopCompressor" => Compressor::Noop,
            _ => return None,
        })
    }

    /// The simple class name.
    pub fn class_name(self) -> &'static str {
        match self {
            Compressor::Lz4 => "LZ4Compressor",
            Compressor::Snappy => "SnappyCompressor",
            Compressor::Deflate => "DeflateCompressor",
            Compressor::Zstd => "ZstdCompressor",
            Compressor::Noop => "NoopCompressor",
        }
    }

    /// Decompress `src` (one stored chunk payload, CRC excluded), appending exactly
    /// `expected` bytes to `dst`.
    pub fn decompress_into(self, src: &[u8], expected: usize, dst: &mut Vec<u8>) -> Result<(), DecodeErrorKind> {
        let start = dst.len();
        let fail = |detail: String| DecodeErrorKind::Decompress { codec: self.class_name(), detail };
        match self {
            Compressor::Noop => dst.extend_from_slice(src),
            Compressor::Lz4 => {
                let (len, block) = src.split_at_checked(4).ok_or_else(|| fail("missing length prefix".into()))?;
                let len = u32::from_le_bytes(len.try_into().unwrap_or([0; 4])) as usize;
                if len != expected {
                    return Err(DecodeErrorKind::ChunkSize { expected: expected as u64, got: len as u64 });
                }
                dst.resize(start + len, 0);
                let out = dst.get_mut(start..).unwrap_or_default();
                let n = lz4_flex::block::decompress_into(block, out).map_err(|e| fail(e.to_string()))?;
                dst.truncate(start + n);
            }
            Compressor::Snappy => {
                let len = snap::raw::decompress_len(src).map_err(|e| fail(e.to_string()))?;
                if len != expected {
                    return Err(DecodeErrorKind::ChunkSize { expected: expected as u64, got: len as u64 });
                }
                dst.resize(start + len, 0);
                let out = dst.get_mut(start..).unwrap_or_default();
                snap::raw::Decoder::new().decompress(src, out).map_err(|e| fail(e.to_string()))?;
            }
            Compressor::Deflate => {
                let mut d = flate2::read::ZlibDecoder::new(src).take(expected as u64 + 1);
                d.read_to_end(dst).map_err(|e| fail(e.to_string()))?;
            }
            Compressor::Zstd => {
                dst.resize(start + expected, 0);
                let out = dst.get_mut(start..).unwrap_or_default();
                let n = zstd::bulk::decompress_to_buffer(src, out).map_err(|e| fail(e.to_string()))?;
                dst.truncate(start + n);
            }
        }
        let got = dst.len() - start;
        if got != expected {
            dst.truncate(start);
            return Err(DecodeErrorKind::ChunkSize { expected: expected as u64, got: got as u64 });
        }
        Ok(())
    }

    /// Compress `src`, appending the stored payload (without CRC) to `dst`, with the codec's
    /// default level (Zstd 3, as Cassandra's `ZstdCompressor`).
    pub fn compress_into(self, src: &[u8], dst: &mut Vec<u8>) -> std::io::Result<()> {
        self.compress_with_level(src, None, dst)
    }

    /// Compress with an explicit level (`compression_level` option of Zstd and Deflate). A codec
    /// that fails (Snappy past its input limit, Zstd out of memory) is an error and leaves `dst`
    /// as it was: a chunk is never written short.
    pub fn compress_with_level(self, src: &[u8], level: Option<i32>, dst: &mut Vec<u8>) -> std::io::Result<()> {
        let fail = |e: &dyn std::fmt::Display| std::io::Error::other(format!("{} compression: {e}", self.class_name()));
        match self {
            Compressor::Noop => dst.extend_from_slice(src),
            Compressor::Lz4 => dst.extend_from_slice(&lz4_flex::block::compress_prepend_size(src)),
            Compressor::Snappy => {
                dst.extend_from_slice(&snap::raw::Encoder::new().compress_vec(src).map_err(|e| fail(&e))?)
            }
            Compressor::Deflate => {
                use std::io::Write as _;
                let level =
                    level.map_or(flate2::Compression::default(), |l| flate2::Compression::new(l.clamp(0, 9) as u32));
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
                e.write_all(src).map_err(|e| fail(&e))?;
                dst.extend_from_slice(&e.finish().map_err(|e| fail(&e))?);
            }
            Compressor::Zstd => {
                dst.extend_from_slice(&zstd::bulk::compress(src, level.unwrap_or(3)).map_err(|e| fail(&e))?)
            }
        }
        Ok(())
    }
}

/// Whether a chunk of `stored_len` bytes (CRC excluded) is stored raw rather than compressed:
/// from `na` on, a chunk that does not compress below `max_compressed_length` is written
/// uncompressed, and the reader knows it by its length alone (Cassandra
/// `io/compress/CompressedSequentialWriter.java` and `io/util/CompressedChunkReader.java`). The
/// writer and the reader both ask this.
pub fn is_stored_raw(stored_len: usize, max_compressed_length: u32) -> bool {
    stored_len >= max_compressed_length as usize
}

/// Parsed CompressionInfo.db.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressionInfo {
    /// Compressor class name as stored.
    pub class: String,
    /// The codec, when known.
    pub compressor: Option<Compressor>,
    /// Compressor options.
    pub options: Vec<(String, String)>,
    /// Uncompressed bytes per chunk.
    pub chunk_length: u32,
    /// Stored chunks at least this long are raw (`na`+; `i32::MAX` before).
    pub max_compressed_length: u32,
    /// Uncompressed Data.db length.
    pub data_length: u64,
    /// Offset of each chunk in Data.db.
    pub chunk_offsets: Vec<u64>,
}

impl CompressionInfo {
    /// Parse CompressionInfo.db.
    pub fn parse(bytes: &[u8], version: Version) -> Result<CompressionInfo, DecodeError> {
        let mut c = Cursor::new(bytes);
        let class = c.utf("compressor class")?;
        let n = c.len_i32("compression option count", c.remaining() / 4)?;
        let mut options = Vec::with_capacity(n);
        for _ in 0..n {
            options.push((c.utf("option key")?, c.utf("option value")?));
        }
        let at = c.offset();
        let chunk_length = c.i32()?;
        if chunk_length <= 0 || (chunk_length & (chunk_length - 1)) != 0 {
            return Err(DecodeError::new(
                at,
                DecodeErrorKind::InvalidValue { what: "chunk length", value: i64::from(chunk_length) },
            ));
        }
        let max_compressed_length = if version.has_max_compressed_length() {
            let at = c.offset();
            let m = c.i32()?;
            if m <= 0 {
                return Err(DecodeError::new(
                    at,
                    DecodeErrorKind::InvalidValue { what: "max compressed length", value: i64::from(m) },
                ));
            }
            m as u32
        } else {
            i32::MAX as u32
        };
        let at = c.offset();
        let data_length = c.i64()?;
        if data_length < 0 {
            return Err(DecodeError::new(
                at,
                DecodeErrorKind::InvalidValue { what: "data length", value: data_length },
            ));
        }
        let count = c.len_i32("chunk count", c.remaining() / 8)?;
        let mut chunk_offsets = Vec::with_capacity(count);
        let mut last = 0i64;
        for i in 0..count {
            let at = c.offset();
            let o = c.i64()?;
            if o < 0 || (i > 0 && o < last) {
                return Err(DecodeError::new(at, DecodeErrorKind::InvalidValue { what: "chunk offset", value: o }));
            }
            last = o;
            chunk_offsets.push(o as u64);
        }
        let needed = (data_length as u64).div_ceil(chunk_length as u64) as usize;
        if chunk_offsets.len() < needed {
            return Err(DecodeError::new(
                c.offset(),
                DecodeErrorKind::SizeMismatch {
                    what: "chunk count",
                    recorded: chunk_offsets.len() as u64,
                    actual: needed as u64,
                },
            ));
        }
        Ok(CompressionInfo {
            compressor: Compressor::from_class(&class),
            class,
            options,
            chunk_length: chunk_length as u32,
            max_compressed_length,
            data_length: data_length as u64,
            chunk_offsets,
        })
    }

    /// Number of chunks that hold data.
    pub fn chunk_count(&self) -> usize {
        self.data_length.div_ceil(u64::from(self.chunk_length)) as usize
    }
}

/// CRC.db: chunk size and per-chunk CRC32 of an uncompressed Data.db.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkChecksums {
    /// Bytes per chunk.
    pub chunk_size: u32,
    /// CRC32 of each chunk (a trailing zero entry for an empty final flush is normal).
    pub crcs: Vec<u32>,
}

impl ChunkChecksums {
    /// Parse CRC.db.
    pub fn parse(bytes: &[u8]) -> Result<ChunkChecksums, DecodeError> {
        let mut c = Cursor::new(bytes);
        let at = c.offset();
        let size = c.i32()?;
        if size <= 0 {
            return Err(DecodeError::new(
                at,
                DecodeErrorKind::InvalidValue { what: "CRC chunk size", value: i64::from(size) },
            ));
        }
        if !c.remaining().is_multiple_of(4) {
            return Err(c.error(DecodeErrorKind::Truncated { needed: 4, available: (c.remaining() % 4) as u64 }));
        }
        let mut crcs = Vec::with_capacity(c.remaining() / 4);
        while !c.is_empty() {
            crcs.push(c.u32()?);
        }
        Ok(ChunkChecksums { chunk_size: size as u32, crcs })
    }
}

/// The longest Digest.crc32 read: a CRC32 in decimal is at most 11 characters with a sign.
const DIGEST_READ_LIMIT: u64 = 64;

/// Read and parse Digest.crc32 at `path`; `Ok(None)` when there is none. At most a few bytes are
/// read, whatever the path is (a device that never ends cannot stall the reader).
pub fn read_digest(path: &std::path::Path) -> crate::error::Result<Option<u32>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::error::Error::io(path, e)),
    };
    let mut bytes = Vec::new();
    file.take(DIGEST_READ_LIMIT).read_to_end(&mut bytes).map_err(|e| crate::error::Error::io(path, e))?;
    parse_digest(&bytes).map(Some).map_err(|e| e.located(path, crate::descriptor::Component::Digest))
}

/// Parse Digest.crc32: the decimal CRC32 of the whole Data.db, as Java's `CRC32.getValue()`
/// prints it (0 to 4294967295). A number outside that range is no CRC32 (Cassandra's verifier
/// would find it never matches) and is an error, never cut to 32 bits.
pub fn parse_digest(bytes: &[u8]) -> Result<u32, DecodeError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| DecodeError::new(0, DecodeErrorKind::InvalidUtf8 { what: "digest" }))?;
    let t = text.trim();
    t.parse::<u32>().map_err(|_| match t.parse::<i64>() {
        Ok(value) => DecodeError::new(0, DecodeErrorKind::InvalidValue { what: "digest (not a CRC32)", value }),
        Err(_) => {
            DecodeError::new(0, DecodeErrorKind::InvalidValue { what: "digest text length", value: t.len() as i64 })
        }
    })
}

impl CompressionInfo {
    /// Serialize CompressionInfo.db for `version`.
    pub fn encode(&self, version: Version) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.chunk_offsets.len() * 8);
        write_utf(&mut out, &self.class);
        out.extend_from_slice(&(self.options.len() as i32).to_be_bytes());
        for (k, v) in &self.options {
            write_utf(&mut out, k);
            write_utf(&mut out, v);
        }
        out.extend_from_slice(&(self.chunk_length as i32).to_be_bytes());
        if version.has_max_compressed_length() {
            out.extend_from_slice(&(self.max_compressed_length as i32).to_be_bytes());
        }
        out.extend_from_slice(&(self.data_length as i64).to_be_bytes());
        out.extend_from_slice(&(self.chunk_offsets.len() as i32).to_be_bytes());
        for o in &self.chunk_offsets {
            out.extend_from_slice(&(*o as i64).to_be_bytes());
        }
        out
    }
}

impl ChunkChecksums {
    /// Serialize CRC.db.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.crcs.len() * 4);
        out.extend_from_slice(&(self.chunk_size as i32).to_be_bytes());
        for c in &self.crcs {
            out.extend_from_slice(&c.to_be_bytes());
        }
        out
    }
}

/// Java `writeUTF`: u16 length + UTF-8 (names here are ASCII, where modified UTF-8 is UTF-8).
pub fn write_utf(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_a_crc32_or_an_error() {
        assert_eq!(parse_digest(b"4294967295\n").ok(), Some(u32::MAX));
        assert_eq!(parse_digest(b"0").ok(), Some(0));
        // 2^32 + 7 and -1 would once have been read as 7 and 4294967295.
        for bad in [&b"4294967303"[..], b"-1", b"12x"] {
            assert!(parse_digest(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn only_cassandras_compressor_classes_are_its_codecs() {
        assert_eq!(Compressor::from_class("ZstdCompressor"), Some(Compressor::Zstd));
        assert_eq!(Compressor::from_class("org.apache.cassandra.io.compress.LZ4Compressor"), Some(Compressor::Lz4));
        assert_eq!(Compressor::from_class("com.acme.LZ4Compressor"), None);
    }

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        for codec in [Compressor::Lz4, Compressor::Snappy, Compressor::Deflate, Compressor::Zstd, Compressor::Noop] {
            let mut stored = Vec::new();
            codec.compress_into(&data, &mut stored).unwrap();
            let mut out = Vec::new();
            codec.decompress_into(&stored, data.len(), &mut out).unwrap();
            assert_eq!(out, data, "{codec:?}");
            assert!(codec.decompress_into(&stored, data.len() + 1, &mut Vec::new()).is_err(), "{codec:?}");
        }
    }

    #[test]
    fn lz4_layout_is_little_endian_length_then_block() {
        let mut stored = Vec::new();
        Compressor::Lz4.compress_into(b"hello hello hello", &mut stored).unwrap();
        assert_eq!(&stored[..4], &17u32.to_le_bytes());
    }

    #[test]
    fn garbage_does_not_decompress() {
        for codec in [Compressor::Lz4, Compressor::Snappy, Compressor::Deflate, Compressor::Zstd] {
            assert!(codec.decompress_into(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3], 100, &mut Vec::new()).is_err());
        }
    }
}
