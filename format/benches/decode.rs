//! Decode throughput of Data.db: narrow rows (an int clustering column and two regular
//! columns), uncompressed and LZ4-compressed, against an LZ4 decode of the same bytes measured
//! in the same run as the reference ceiling.

use std::path::Path;
use std::sync::Arc;

use cairn_format::Version;
use cairn_format::codec::write_uvint;
use cairn_format::compression::{CompressionInfo, Compressor};
use cairn_format::data::scanner::Scanner;
use cairn_format::data::source::{DataSource, Layout};
use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
use cairn_format::types::CqlType;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn header() -> SerializationHeader {
    SerializationHeader::new(
        EncodingStats { min_timestamp: 1_600_000_000_000_000, min_local_deletion_time: i32::MAX as u32, min_ttl: 0 },
        CqlType::Int,
        vec![CqlType::Int],
        vec![],
        vec![HeaderColumn::new("n", CqlType::BigInt), HeaderColumn::new("v", CqlType::Text)],
    )
}

/// `partitions` partitions of `rows` narrow rows each, in the `nb` layout.
fn narrow_data(partitions: i32, rows: i32) -> Vec<u8> {
    let mut out = Vec::new();
    for p in 0..partitions {
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&p.to_be_bytes());
        out.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        let mut prev = 0u64;
        for r in 0..rows {
            let mut body = Vec::new();
            write_uvint(&mut body, prev);
            write_uvint(&mut body, (r as u64) * 1000);
            body.push(0x08);
            body.extend_from_slice(&(i64::from(r) * 7).to_be_bytes());
            body.push(0x08);
            let text = format!("value-{p}-{r}-payload");
            write_uvint(&mut body, text.len() as u64);
            body.extend_from_slice(text.as_bytes());
            let start = out.len();
            out.push(0x24);
            out.push(0);
            out.extend_from_slice(&r.to_be_bytes());
            write_uvint(&mut out, body.len() as u64);
            out.extend_from_slice(&body);
            prev = (out.len() - start) as u64;
        }
        out.push(0x01);
    }
    out
}

fn scan_all(source: DataSource, h: &Arc<SerializationHeader>) -> u64 {
    let mut s = Scanner::new(source, Arc::clone(h), Version::Nb);
    let mut cells = 0u64;
    while s.next_partition().expect("partition").is_some() {
        while let Some(u) = s.next_unfiltered().expect("row") {
            cells += u.cells.len() as u64;
        }
    }
    cells
}

fn lz4_compress(data: &[u8], chunk: usize) -> (Vec<u8>, CompressionInfo) {
    let mut file = Vec::new();
    let mut offsets = Vec::new();
    for c in data.chunks(chunk) {
        offsets.push(file.len() as u64);
        let mut stored = Vec::new();
        Compressor::Lz4.compress_into(c, &mut stored).expect("LZ4 compresses");
        let crc = crc32fast::hash(&stored);
        file.extend_from_slice(&stored);
        file.extend_from_slice(&crc.to_be_bytes());
    }
    let info = CompressionInfo {
        class: "LZ4Compressor".into(),
        compressor: Some(Compressor::Lz4),
        options: vec![],
        chunk_length: chunk as u32,
        max_compressed_length: i32::MAX as u32,
        data_length: data.len() as u64,
        chunk_offsets: offsets,
    };
    (file, info)
}

fn bench(c: &mut Criterion) {
    let data = narrow_data(2000, 100);
    let h = Arc::new(header());
    let mut g = c.benchmark_group("data_decode");
    g.throughput(Throughput::Bytes(data.len() as u64));
    let bytes: Arc<[u8]> = data.clone().into();
    g.bench_function("narrow_uncompressed", |b| {
        b.iter(|| {
            let src = DataSource::from_bytes(
                Path::new("bench"),
                Arc::clone(&bytes),
                Layout::Uncompressed { chunk_size: 65536, crcs: None },
                true,
            );
            scan_all(src, &h)
        })
    });
    let (file, info) = lz4_compress(&data, 16 * 1024);
    let file: Arc<[u8]> = file.into();
    g.bench_function("narrow_lz4", |b| {
        b.iter(|| {
            let src =
                DataSource::from_bytes(Path::new("bench"), Arc::clone(&file), Layout::Compressed(info.clone()), true);
            scan_all(src, &h)
        })
    });
    // Reference ceiling: LZ4 decode and CRC32 of the same chunks, nothing else.
    let chunks: Vec<Vec<u8>> = data
        .chunks(16 * 1024)
        .map(|c| {
            let mut v = Vec::new();
            Compressor::Lz4.compress_into(c, &mut v).expect("LZ4 compresses");
            v
        })
        .collect();
    g.bench_function("reference_lz4_decode_crc", |b| {
        let mut out = Vec::with_capacity(16 * 1024);
        b.iter(|| {
            let mut n = 0usize;
            for (c, raw) in chunks.iter().zip(data.chunks(16 * 1024)) {
                out.clear();
                let _ = crc32fast::hash(c);
                Compressor::Lz4.decompress_into(c, raw.len(), &mut out).expect("lz4");
                n += out.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
