//! The ceiling probe of `bench/run`: how fast this machine, right now, does the irreducible work
//! of reading and writing a compressed SSTable — LZ4 decode plus CRC32 of every chunk of a
//! Data.db, and LZ4 encode plus CRC32 of its uncompressed bytes — with nothing else. Throughput
//! of Cairn's verbs is reported as a ratio to these numbers, measured in the same run.
//!
//! usage: probe DATA_DB — prints one JSON object (MB/s are 10^6 bytes of uncompressed data per
//! second of this thread's CPU time, best of five passes: `bench/run` times the verbs by their
//! CPU time too, so that neighbours on a shared machine slow neither side's clock).

use std::path::PathBuf;

use cairn_format::compression::Compressor;
use cairn_format::sstable::SsTable;

/// This thread's CPU time, in seconds.
fn cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

fn best_of<F: FnMut() -> usize>(mut f: F) -> f64 {
    (0..5)
        .map(|_| {
            let start = cpu_seconds();
            std::hint::black_box(f());
            cpu_seconds() - start
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = PathBuf::from(std::env::args().nth(1).ok_or("usage: probe DATA_DB")?);
    let table = SsTable::open(&path, None)?;
    let info = table.compression.clone().ok_or("the probe needs a compressed Data.db")?;
    let codec = info.compressor.ok_or("unknown compressor")?;
    if codec != Compressor::Lz4 {
        return Err("the probe needs an LZ4-compressed Data.db".into());
    }
    let file = std::fs::read(&path)?;
    let chunk = info.chunk_length as usize;
    let mut stored = Vec::new();
    for (i, start) in info.chunk_offsets.iter().enumerate() {
        let end = info.chunk_offsets.get(i + 1).map_or(file.len(), |e| *e as usize).saturating_sub(4);
        stored.push(file.get(*start as usize..end).ok_or("chunk offsets outside the file")?);
    }
    // Every chunk holds `chunk` bytes but the last, which holds the rest.
    let expected = |i: usize| chunk.min(info.data_length as usize - i * chunk);
    let mut raw = Vec::with_capacity(info.data_length as usize);
    for (i, s) in stored.iter().enumerate() {
        codec.decompress_into(s, expected(i), &mut raw)?;
    }
    let mut out = Vec::with_capacity(chunk);
    let decode = best_of(|| {
        let mut n = 0;
        for (i, s) in stored.iter().enumerate() {
            out.clear();
            n += crc32fast::hash(s) as usize & 1;
            let _ = Compressor::Lz4.decompress_into(s, expected(i), &mut out);
            n += out.len();
        }
        n
    });
    let encode = best_of(|| {
        let mut n = 0;
        for c in raw.chunks(chunk) {
            out.clear();
            let _ = Compressor::Lz4.compress_into(c, &mut out);
            n += out.len() + (crc32fast::hash(&out) as usize & 1);
        }
        n
    });
    let mb = raw.len() as f64 / 1e6;
    println!(
        "{{\"uncompressed_bytes\":{},\"lz4_decode_crc_mb_s\":{:.1},\"lz4_encode_crc_mb_s\":{:.1}}}",
        raw.len(),
        mb / decode,
        mb / encode
    );
    Ok(())
}
