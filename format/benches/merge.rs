//! Merge throughput: four SSTables of narrow rows (an int partition key, an int clustering
//! column, a bigint and a text column) whose partitions all overlap and whose rows interleave
//! (input `i` holds the rows `r` with `r % 4 == i`), reconciled into one stream by the
//! [`Merger`]. The reference, measured in the same run, is scanning the same four inputs one
//! after the other without merging: the ratio is what reconciliation costs on top of decoding.

use std::path::Path;
use std::sync::Arc;

use cairn_format::Version;
use cairn_format::codec::write_uvint;
use cairn_format::data::PartitionStream;
use cairn_format::data::scanner::Scanner;
use cairn_format::data::source::{DataSource, Layout};
use cairn_format::partitioner::{Partitioner, murmur3_token};
use cairn_format::reconcile::Merger;
use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
use cairn_format::types::CqlType;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const INPUTS: i32 = 4;

fn header() -> SerializationHeader {
    SerializationHeader::new(
        EncodingStats { min_timestamp: 1_600_000_000_000_000, min_local_deletion_time: i32::MAX as u32, min_ttl: 0 },
        CqlType::Int,
        vec![CqlType::Int],
        vec![],
        vec![HeaderColumn::new("n", CqlType::BigInt), HeaderColumn::new("v", CqlType::Text)],
    )
}

/// Input `input` of `partitions` partitions (in token order) of `rows` rows, every fourth one.
fn input_data(partitions: i32, rows: i32, input: i32) -> Vec<u8> {
    let mut keys: Vec<i32> = (0..partitions).collect();
    keys.sort_by_key(|p| murmur3_token(&p.to_be_bytes()));
    let mut out = Vec::new();
    for p in keys {
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&p.to_be_bytes());
        // Live partition: no deletion.
        out.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        let mut prev = 0u64;
        for r in (0..rows).filter(|r| r % INPUTS == input) {
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
            // Flags: has timestamp, has all columns; then the clustering header and value.
            out.push(0x24);
            out.push(0);
            out.extend_from_slice(&r.to_be_bytes());
            write_uvint(&mut out, body.len() as u64);
            out.extend_from_slice(&body);
            prev = (out.len() - start) as u64;
        }
        // End of partition.
        out.push(0x01);
    }
    out
}

fn scanner(bytes: &Arc<[u8]>, h: &Arc<SerializationHeader>) -> Scanner {
    let source = DataSource::from_bytes(
        Path::new("bench"),
        Arc::clone(bytes),
        Layout::Uncompressed { chunk_size: 65536, crcs: None },
        true,
    );
    Scanner::new(source, Arc::clone(h), Version::Nb)
}

/// Cells in every row of `stream`.
fn drain(stream: &mut dyn PartitionStream) -> u64 {
    let mut cells = 0u64;
    while stream.next_partition().expect("partition").is_some() {
        while let Some(u) = stream.next_unfiltered().expect("row") {
            cells += u.cells.len() as u64;
        }
    }
    cells
}

fn bench(c: &mut Criterion) {
    let h = Arc::new(header());
    let inputs: Vec<Arc<[u8]>> = (0..INPUTS).map(|i| input_data(2000, 100, i).into()).collect();
    let bytes: u64 = inputs.iter().map(|i| i.len() as u64).sum();
    let mut g = c.benchmark_group("merge");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("four_interleaved", |b| {
        b.iter(|| {
            let scanners = inputs.iter().map(|i| scanner(i, &h)).collect();
            let mut merger = Merger::new(scanners, Partitioner::Murmur3).expect("merger");
            let cells = drain(&mut merger);
            assert_eq!(cells, 2000 * 100 * 2);
            cells
        })
    });
    g.bench_function("reference_scan_each", |b| {
        b.iter(|| inputs.iter().map(|i| drain(&mut scanner(i, &h))).sum::<u64>())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
