//! Byte-compatibility with Cassandra: reading a Cassandra-written SSTable and writing the same
//! content back with the same version and parameters reproduces its Data.db, Index.db,
//! Filter.db, Summary.db, CRC.db and Digest.crc32 byte for byte. Statistics.db is compared
//! field by field, and every difference must be one of the explained ones.

use std::path::Path;

use cairn_fixtures::{Case, corpus};
use cairn_format::descriptor::{Component, discover};
use cairn_format::sstable::{OpenOptions, SsTable};
use cairn_format::writer::{SsTableWriter, WriterOptions};

/// Corpus `write_*` cases whose Data.db is not Cassandra's own bytes, and why.
const NOT_CASSANDRA_BYTES: &[(&str, &str)] = &[
    (
        "write_shadowable_deletion",
        "encodes the shadowable deletion with ScyllaDB's extension flag 0x80, which Cassandra never writes",
    ),
    ("write_empty_counter", "written by ScyllaDB (manifest writer: scylla)"),
];

/// The key count Cassandra sized the original bloom filter for: at flush the memtable's
/// partition count, at compaction the inputs' cardinality estimate. It is recovered from the
/// filter's size (bits = keys x bits-per-key + 20, rounded up to 64).
fn filter_capacity(table: &SsTable, fp_chance: f64) -> cairn_format::Result<u64> {
    let (_, per_key) = cairn_format::filter::bloom_spec(fp_chance);
    match table.filter()? {
        Some(f) => Ok((f.bit_count().saturating_sub(cairn_format::filter::BITSET_EXCESS)) / u64::from(per_key)),
        None => {
            let mut n = 0u64;
            let mut s = table.scanner()?;
            while s.next_partition()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
    }
}

fn rewrite(table: &SsTable, out: &Path) -> cairn_format::Result<cairn_format::Descriptor> {
    let stats = table.statistics.stats.as_ref();
    let fp = table.statistics.validation.as_ref().map_or(0.01, |v| v.bloom_filter_fp_chance);
    let partitions = filter_capacity(table, fp)?;
    let options = WriterOptions {
        version: table.descriptor.version,
        compression: table.compression.as_ref().and_then(|c| {
            Some(cairn_format::writer::CompressionParams {
                compressor: c.compressor?,
                chunk_length: c.chunk_length,
                max_compressed_length: c.max_compressed_length,
                options: c.options.clone(),
            })
        }),
        bloom_fp_chance: fp,
        expected_partitions: partitions,
        partitioner: table.partitioner,
        originating_host_id: stats.and_then(|s| s.originating_host_id),
        repaired_at: stats.map_or(0, |s| s.repaired_at),
        pending_repair: stats.and_then(|s| s.pending_repair),
        is_transient: stats.is_some_and(|s| s.is_transient),
        sstable_level: stats.map_or(0, |s| s.sstable_level),
        ..WriterOptions::default()
    };
    let generation = match &table.descriptor.id {
        cairn_format::descriptor::SsTableId::Sequence(n) => *n,
        cairn_format::descriptor::SsTableId::Uuid(_) => 1,
    };
    let mut w = SsTableWriter::create(out, generation, (*table.header).clone(), options)?;
    let mut s = table.scanner()?;
    while let Some(p) = s.next_partition()? {
        let p = p.clone();
        w.write_partition(&mut s, &p)?;
    }
    w.finish()
}

/// The uncompressed Data.db stream.
fn uncompressed(table: &SsTable) -> Vec<u8> {
    let mut src = table.data_source().expect("source");
    let mut out = Vec::new();
    for i in 0..src.chunk_count() {
        src.append_chunk(i, &mut out).expect("chunk");
    }
    out
}

fn data_is_original(case: &Case<'_>) -> Result<(), String> {
    if let Some((_, why)) = NOT_CASSANDRA_BYTES.iter().find(|(id, _)| *id == case.id) {
        return Err((*why).to_string());
    }
    let evidence = case.entry["writer_evidence"].as_str().unwrap_or("");
    if evidence.contains("Data.db was rewritten") {
        return Err("Data.db was patched by ScyllaDB (manifest)".into());
    }
    Ok(())
}

#[test]
fn cassandra_write_cases_rewrite_byte_for_byte() {
    let Some(corpus) = corpus() else { return };
    let mut failures = Vec::new();
    let mut identical = 0;
    for case in corpus.cases().into_iter().filter(|c| {
        let w = c.entry["writer"].as_str().unwrap_or("");
        w.starts_with("cassandra") && !w.contains("damaged") && !c.is_corrupt()
    }) {
        if let Err(why) = data_is_original(&case) {
            eprintln!("{}: not compared: {why}", case.id);
            continue;
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let schema = case.schema_cql().map(|cql| {
            let p = tmp.path().join("schema.cql.in");
            std::fs::write(&p, cql).expect("schema");
            p
        });
        let out_dir = tmp.path().join("out");
        let descs = discover(&case.dir).expect("discover");
        for d in descs {
            let opts = OpenOptions { schema_file: schema.clone(), ..Default::default() };
            let table = SsTable::open_with(d.clone(), &opts).expect("open");
            let compressed = table.compression.is_some();
            let written = match rewrite(&table, &out_dir) {
                Ok(w) => w,
                Err(e) => {
                    failures.push(format!("{}: write failed: {e}", case.id));
                    continue;
                }
            };
            for c in [
                Component::Data,
                Component::Index,
                Component::Filter,
                Component::Summary,
                Component::Crc,
                Component::Digest,
            ] {
                let Ok(mut orig) = std::fs::read(d.path(c)) else { continue };
                let mut ours = std::fs::read(written.path(c)).unwrap_or_default();
                if compressed && c == Component::Digest {
                    // The digest covers compressed bytes, whose exact form belongs to the codec
                    // library (lz4-java, zstd-jni) rather than to the format.
                    continue;
                }
                if compressed && c == Component::Data {
                    orig = uncompressed(&table);
                    let ours_table = SsTable::open_with(written.clone(), &OpenOptions::default()).expect("reopen");
                    ours = uncompressed(&ours_table);
                }
                if c == Component::Crc {
                    // Cassandra sometimes appends the CRC of an empty final flush (0).
                    while orig.len() > 4 && orig.ends_with(&[0, 0, 0, 0]) && orig.len() > ours.len() {
                        orig.truncate(orig.len() - 4);
                    }
                }
                if orig == ours {
                    identical += 1;
                } else {
                    let at = orig.iter().zip(&ours).position(|(a, b)| a != b).unwrap_or(orig.len().min(ours.len()));
                    failures.push(format!(
                        "{} {c}: {} bytes vs ours {}, first difference at byte {at}",
                        case.id,
                        orig.len(),
                        ours.len()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} component(s) differ:\n{}", failures.len(), failures.join("\n"));
    assert!(identical >= 40, "only {identical} components compared");
    eprintln!("{identical} components byte-identical to Cassandra's");
}

/// A Statistics.db field that may differ after a rewrite, and why.
const EXPLAINED_STATISTICS_DIFFERENCES: &[(&str, &str)] = &[
    (
        "commit_log",
        "commit-log positions and intervals name the writing node's commit log segments; a rewrite outside the node has none",
    ),
    (
        "compression_ratio",
        "compressed size over uncompressed size: the compressed bytes come from a different library (lz4_flex, snap, zstd) than Cassandra's (lz4-java, snappy-java, zstd-jni); the uncompressed streams are byte-identical",
    ),
    (
        "tombstone_histogram",
        "some Cassandra 3.11 releases fed the no-deletion sentinel 2147483647 of live cells into the drop-time histogram; it is not a deletion time and Cassandra 4.0 does not record it",
    ),
];

fn stats_fields(s: &cairn_format::statistics::Statistics) -> Vec<(&'static str, String)> {
    let mut v = vec![("validation", format!("{:?}", s.validation)), ("header", format!("{:?}", s.header))];
    if let Some(st) = &s.stats {
        v.extend([
            ("partition_sizes", format!("{:?}", st.partition_sizes)),
            ("cell_counts", format!("{:?}", st.cell_counts)),
            ("timestamps", format!("{} {}", st.min_timestamp, st.max_timestamp)),
            ("local_deletion_times", format!("{} {}", st.min_local_deletion_time, st.max_local_deletion_time)),
            ("ttls", format!("{} {}", st.min_ttl, st.max_ttl)),
            ("compression_ratio", format!("{}", st.compression_ratio)),
            ("tombstone_histogram", format!("{:?}", st.tombstone_histogram.bins)),
            ("level_repaired", format!("{} {}", st.sstable_level, st.repaired_at)),
            (
                "clustering_bounds",
                format!("{:?} {:?} {:?}", st.min_clustering_values, st.max_clustering_values, st.covered_clusterings),
            ),
            ("counters_totals", format!("{} {} {}", st.has_legacy_counter_shards, st.total_columns_set, st.total_rows)),
            (
                "commit_log",
                format!(
                    "{:?} {:?} {:?}",
                    st.commit_log_upper_bound, st.commit_log_lower_bound, st.commit_log_intervals
                ),
            ),
            ("repair_host", format!("{:?} {} {:?}", st.pending_repair, st.is_transient, st.originating_host_id)),
            ("oa_fields", format!("{:?} {:?} {:?}", st.has_partition_level_deletions, st.first_key, st.last_key)),
        ]);
    }
    if let Some(c) = &s.compaction {
        v.push(("cardinality", hex::encode(&c.cardinality)));
        v.push(("cardinality_estimate", format!("{:?}", c.estimated_cardinality())));
    }
    v
}

mod hex {
    pub fn encode(b: &[u8]) -> String {
        cairn_format::types::render::hex(b)
    }
}

#[test]
fn statistics_differences_are_listed_and_explained() {
    let Some(corpus) = corpus() else { return };
    let mut unexplained = Vec::new();
    let mut listed = std::collections::BTreeMap::<&str, usize>::new();
    for case in corpus.cases().into_iter().filter(|c| {
        let w = c.entry["writer"].as_str().unwrap_or("");
        w.starts_with("cassandra") && !w.contains("damaged") && !c.is_corrupt() && data_is_original(c).is_ok()
    }) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let schema = case.schema_cql().map(|cql| {
            let p = tmp.path().join("schema.cql.in");
            std::fs::write(&p, cql).expect("schema");
            p
        });
        for d in discover(&case.dir).expect("discover") {
            let opts = OpenOptions { schema_file: schema.clone(), ..Default::default() };
            let table = SsTable::open_with(d.clone(), &opts).expect("open");
            // A Statistics.db ScyllaDB regenerated (the manifest says so, or its TOC is not sorted
            // by type as Cassandra sorts it) is not Cassandra's.
            let regenerated = case.entry["writer_evidence"]
                .as_str()
                .unwrap_or("")
                .contains("Statistics.db in this folder was regenerated");
            if regenerated || !table.statistics.toc.windows(2).all(|w| w[0].0 < w[1].0) {
                continue;
            }
            let written = rewrite(&table, &tmp.path().join("out")).expect("rewrite");
            let ours = SsTable::open_with(written, &OpenOptions::default()).expect("reopen");
            let (a, b) = (stats_fields(&table.statistics), stats_fields(&ours.statistics));
            for ((name, x), (_, y)) in a.iter().zip(&b) {
                if x == y {
                    continue;
                }
                *listed.entry(name).or_default() += 1;

                if !EXPLAINED_STATISTICS_DIFFERENCES.iter().any(|(n, _)| n == name) {
                    unexplained.push(format!("{} {name}:\n  cassandra {x}\n  cairn     {y}", case.id));
                }
            }
        }
    }
    for (name, n) in &listed {
        let why = EXPLAINED_STATISTICS_DIFFERENCES.iter().find(|(f, _)| f == name).map_or("UNEXPLAINED", |(_, w)| w);
        eprintln!("Statistics.db field {name} differs in {n} SSTable(s): {why}");
    }
    assert!(unexplained.is_empty(), "{} unexplained difference(s):\n{}", unexplained.len(), unexplained.join("\n"));
}
