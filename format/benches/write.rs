//! Write throughput: whole SSTables (every component) of narrow rows — an int partition key, an
//! int clustering column, a bigint and a text column — per codec, against an LZ4 encode and
//! CRC32 of the same uncompressed bytes measured in the same run as the reference ceiling.
//!
//! Throughput is in uncompressed Data.db bytes; rows/s is that divided by the ≈ 42 bytes a row
//! takes (printed once at start-up). The rows are built before timing, as the serialized rows
//! (`Unfiltered`s) a compaction or an upgrade hands the writer; `from_partitions/*` measures the
//! generators' path instead, which also turns in-memory partitions into rows (purging shadowed
//! data and sorting by the clustering comparator).

use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_format::data::Unfiltered;
use cairn_format::deletion::{DeletionTime, LivenessInfo};
use cairn_format::partition::{OwnedCell, Partition};
use cairn_format::partitioner::murmur3_token;
use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
use cairn_format::types::CqlType;
use cairn_format::writer::{CompressionParams, SsTableWriter, WriterOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BASE_TS: i64 = 1_600_000_000_000_000;

fn header() -> SerializationHeader {
    SerializationHeader::new(
        EncodingStats { min_timestamp: BASE_TS, min_local_deletion_time: i32::MAX as u32, min_ttl: 0 },
        CqlType::Int,
        vec![CqlType::Int],
        vec![],
        vec![HeaderColumn::new("n", CqlType::BigInt), HeaderColumn::new("v", CqlType::Text)],
    )
}

/// `partitions` partitions of `rows` narrow rows, in token order.
fn partitions(partitions: i32, rows: i32) -> Vec<Partition> {
    let mut keys: Vec<Vec<u8>> = (0..partitions).map(|p| p.to_be_bytes().to_vec()).collect();
    keys.sort_by_key(|k| murmur3_token(k));
    keys.into_iter()
        .enumerate()
        .map(|(p, key)| {
            let mut part = Partition::new(key);
            for r in 0..rows {
                let ts = BASE_TS + i64::from(r) * 1000;
                let row = part.row_mut(&[Some(r.to_be_bytes().to_vec())]);
                row.add_liveness(LivenessInfo { timestamp: ts, ..LivenessInfo::EMPTY });
                row.add_cell(OwnedCell::live(0, None, (i64::from(r) * 7).to_be_bytes().to_vec(), ts));
                row.add_cell(OwnedCell::live(1, None, format!("value-{p}-{r}-payload").into_bytes(), ts));
            }
            part
        })
        .collect()
}

fn writer(dir: &std::path::Path, generation: u64, partitions: usize, codec: Option<Compressor>) -> SsTableWriter {
    let options = WriterOptions {
        version: Version::Nb,
        compression: codec.map(CompressionParams::new),
        expected_partitions: partitions as u64,
        ..WriterOptions::default()
    };
    SsTableWriter::create(dir, generation, header(), options).expect("create")
}

fn write_partitions(dir: &std::path::Path, generation: u64, parts: &[Partition], codec: Option<Compressor>) -> u64 {
    let mut w = writer(dir, generation, parts.len(), codec);
    for p in parts {
        w.write_partition_content(p).expect("write");
    }
    let size = w.data_position();
    w.finish().expect("finish");
    size
}

fn write_rows(
    dir: &std::path::Path,
    generation: u64,
    rows: &[(Vec<u8>, Vec<Unfiltered>)],
    codec: Option<Compressor>,
) -> u64 {
    let mut w = writer(dir, generation, rows.len(), codec);
    for (key, us) in rows {
        w.begin_partition(key, DeletionTime::LIVE).expect("partition");
        for u in us {
            w.write(u).expect("row");
        }
        w.end_partition().expect("end");
    }
    let size = w.data_position();
    w.finish().expect("finish");
    size
}

fn bench(c: &mut Criterion) {
    let parts = partitions(2000, 100);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_len = write_partitions(&tmp.path().join("probe"), 1, &parts, None);
    let h = header();
    let rows: Vec<(Vec<u8>, Vec<Unfiltered>)> = parts.iter().map(|p| (p.key.clone(), p.unfiltereds(&h))).collect();
    eprintln!("write bench: {} rows, {data_len} bytes of Data.db ({} B/row)", 2000 * 100, data_len / 200_000);
    let mut g = c.benchmark_group("sstable_write");
    g.throughput(Throughput::Bytes(data_len));
    g.sample_size(10);
    let codecs = [
        ("none", None),
        ("lz4", Some(Compressor::Lz4)),
        ("snappy", Some(Compressor::Snappy)),
        ("deflate", Some(Compressor::Deflate)),
        ("zstd", Some(Compressor::Zstd)),
    ];
    for (name, codec) in codecs {
        let dir = tmp.path().join(name);
        let mut generation = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                generation += 1;
                write_rows(&dir, generation, &rows, codec)
            })
        });
        if matches!(name, "none" | "lz4") {
            g.bench_function(format!("from_partitions/{name}"), |b| {
                b.iter(|| {
                    generation += 1;
                    write_partitions(&dir, generation, &parts, codec)
                })
            });
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Reference ceiling: LZ4 encode and CRC32 of bytes of the same size and shape, nothing else.
    let probe = cairn_format::descriptor::discover(&tmp.path().join("probe")).expect("discover");
    let raw = std::fs::read(probe.first().expect("probe").path(cairn_format::Component::Data)).expect("read");
    g.bench_function("reference_lz4_encode_crc", |b| {
        let mut out = Vec::with_capacity(20 * 1024);
        b.iter(|| {
            let mut n = 0usize;
            for chunk in raw.chunks(16 * 1024) {
                out.clear();
                Compressor::Lz4.compress_into(chunk, &mut out).expect("LZ4 compresses");
                n += out.len() + crc32fast::hash(&out) as usize % 2;
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
