//! `cairn dump` rendering throughput: the `timeseries` dataset (narrow rows: a text/date key, a
//! timestamp clustering column, a few scalar columns), one LZ4 SSTable, rendered as sstabledump
//! JSON (ISO and raw timestamps) and as partition keys only, into a sink. The reference ceiling,
//! measured in the same run, is an LZ4 decode and CRC32 of the same Data.db chunks.
//!
//! Throughput is in uncompressed Data.db bytes.

use cairn_fixtures::generate::{self, GenOptions};
use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_format::sstable::SsTable;
use cairn_inspect::dump::{DumpOptions, dump};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = GenOptions {
        seed: 1,
        rows: 100_000,
        version: Version::Nb,
        compression: Some(Compressor::Lz4),
        sstables: 1,
        out: tmp.path().join("data"),
        expected: None,
        now: cairn_fixtures::generate::BASE_TIME_S,
    };
    let g = generate::generate("timeseries", &opts).expect("generate");
    let data = g.sstables.first().expect("an SSTable");
    let table = SsTable::open(data, Some(&g.schema)).expect("open");
    let info = table.compression.clone().expect("compressed");
    let uncompressed = info.data_length;
    let mut group = c.benchmark_group("dump_render");
    group.throughput(Throughput::Bytes(uncompressed));
    group.sample_size(10);
    let variants = [
        ("json_iso", DumpOptions { now_s: g.now, ..DumpOptions::default() }),
        ("json_raw_ndjson", DumpOptions { now_s: g.now, raw_timestamps: true, ndjson: true, ..DumpOptions::default() }),
        ("keys_only", DumpOptions { now_s: g.now, keys_only: true, ..DumpOptions::default() }),
    ];
    for (name, o) in variants {
        group.bench_function(name, |b| {
            b.iter(|| {
                let tables = [SsTable::open(data, Some(&g.schema)).expect("open")];
                let mut sink = std::io::sink();
                dump(&tables, &o, false, &mut sink).expect("dump").partitions
            })
        });
    }
    // Reference ceiling: LZ4 decode and CRC32 of the same chunks, nothing else.
    let file = std::fs::read(data).expect("read Data.db");
    group.bench_function("reference_lz4_decode_crc", |b| {
        let mut out = Vec::with_capacity(info.chunk_length as usize);
        b.iter(|| {
            let mut n = 0usize;
            let chunk = u64::from(info.chunk_length);
            for (i, start) in info.chunk_offsets.iter().enumerate() {
                let end = info.chunk_offsets.get(i + 1).map_or(file.len(), |e| *e as usize);
                let stored = file.get(*start as usize..end.saturating_sub(4)).expect("chunk");
                let expected = chunk.min(uncompressed - i as u64 * chunk) as usize;
                out.clear();
                n += crc32fast::hash(stored) as usize % 2;
                Compressor::Lz4.decompress_into(stored, expected, &mut out).expect("lz4");
                n += out.len();
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
