//! Every generated dataset, in every version and codec: Cairn's reconciled read of the
//! SSTables the generator wrote equals the live content the generator's independent model
//! predicts (`--expected`), row for row and value for value.

use cairn_fixtures::generate::{DATASETS, Dataset, GenOptions, dataset, generate_dataset, live_row_line};
use cairn_fixtures::random::RandomTable;
use cairn_format::Version;
use cairn_format::compression::Compressor;
use cairn_format::descriptor::discover;
use cairn_format::reconcile::Merger;
use cairn_format::sstable::{OpenOptions, SsTable};

/// Generate `name` and compare the reconciled live view with the model's expectation.
fn check(
    name: &str,
    version: Version,
    compression: Option<Compressor>,
    rows: u64,
    sstables: u32,
    seed: u64,
) -> Result<usize, String> {
    check_dataset(dataset(name).ok_or("dataset")?.as_ref(), version, compression, rows, sstables, seed)
}

/// Generate `ds` and compare the reconciled live view with the model's expectation.
fn check_dataset(
    ds: &dyn Dataset,
    version: Version,
    compression: Option<Compressor>,
    rows: u64,
    sstables: u32,
    seed: u64,
) -> Result<usize, String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let expected_path = tmp.path().join("expected.ndjson");
    let opts = GenOptions {
        seed,
        rows,
        version,
        compression,
        sstables,
        out: tmp.path().join("data"),
        expected: Some(expected_path.clone()),
        now: cairn_fixtures::generate::BASE_TIME_S,
    };
    let g = generate_dataset(ds, &opts).map_err(|e| format!("generate: {e}"))?;
    let spec = ds.spec();
    let tables: Vec<SsTable> = discover(&g.table_dir)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|d| SsTable::open_with(d, &OpenOptions::default()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("open: {e}"))?;
    if tables.iter().any(|t| t.descriptor.version != version) {
        return Err("wrong version written".into());
    }
    let first = tables.first().ok_or("no SSTables written")?;
    let scanners = tables.iter().map(SsTable::scanner).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    let mut merger = Merger::new(scanners, first.partitioner).map_err(|e| e.to_string())?;
    let header = cairn_format::data::PartitionStream::header(&merger).clone();
    let mut ours = String::new();
    cairn_format::live::for_each_live_row(&mut merger, g.now, &mut |row| {
        ours.push_str(&live_row_line(&spec, &header, row))
    })
    .map_err(|e| format!("read: {e}"))?;
    let expected = std::fs::read_to_string(&expected_path).map_err(|e| e.to_string())?;
    let expected: String = expected.lines().skip(1).map(|l| format!("{l}\n")).collect();
    if ours != expected {
        let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), expected.lines().collect());
        let at = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        return Err(format!(
            "{} rows vs expected {}; first difference at row {at}:\n  ours     {}\n  expected {}",
            a.len(),
            b.len(),
            a.get(at).unwrap_or(&"<none>"),
            b.get(at).unwrap_or(&"<none>")
        ));
    }
    Ok(expected.lines().count())
}

#[test]
fn every_dataset_reads_back_as_its_model_predicts() {
    let mut failures = Vec::new();
    let mut rows = 0;
    for name in DATASETS {
        let n = if name == "wide" { 3000 } else { 400 };
        match check(name, Version::Nb, Some(Compressor::Lz4), n, 3, 7) {
            Ok(r) => rows += r,
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(rows > 1000, "only {rows} rows compared");
}

#[test]
fn every_version_and_codec_round_trips() {
    let mut failures = Vec::new();
    let codecs =
        [None, Some(Compressor::Lz4), Some(Compressor::Snappy), Some(Compressor::Deflate), Some(Compressor::Zstd)];
    for (i, version) in [Version::Ma, Version::Mc, Version::Md, Version::Me, Version::Na, Version::Nb, Version::Oa]
        .into_iter()
        .enumerate()
    {
        for (j, codec) in codecs.into_iter().enumerate() {
            for name in ["tombstones", "collections", "alltypes"] {
                if let Err(e) = check(name, version, codec, 120, 2, (i * 10 + j) as u64) {
                    failures.push(format!("{name} {version} {codec:?}: {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reconciliation_matches_the_model_on_random_histories() {
    // Many seeds of the tombstone-heavy dataset: random mutation histories of every kind
    // (cells, TTLs, cell/row/range/partition/collection deletions) split across random,
    // overlapping SSTables.
    let mut failures = Vec::new();
    for seed in 0..40 {
        let sstables = 1 + (seed % 5) as u32;
        if let Err(e) = check("tombstones", Version::Nb, None, 60, sstables, 1000 + seed) {
            failures.push(format!("seed {seed} ({sstables} SSTables): {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn random_schemas_and_histories_round_trip_in_every_version_and_codec() {
    // Property test: random tables (1-2 key components, 0-3 clustering columns in either order,
    // statics, every scalar type, frozen and non-frozen collections and UDTs, tuples, vectors)
    // with random mutation histories over 1-3 overlapping SSTables, written in every version
    // and codec and read back; the model decides what a read must return.
    let versions = [Version::Ma, Version::Mc, Version::Md, Version::Me, Version::Na, Version::Nb, Version::Oa];
    let codecs =
        [None, Some(Compressor::Lz4), Some(Compressor::Snappy), Some(Compressor::Deflate), Some(Compressor::Zstd)];
    let mut failures = Vec::new();
    let mut rows = 0;
    for seed in 0..140u64 {
        let version = versions[(seed % 7) as usize];
        let codec = codecs[((seed / 7) % 5) as usize];
        let table = RandomTable::new(seed);
        match check_dataset(&table, version, codec, 64, 1 + (seed % 3) as u32, seed) {
            Ok(n) => rows += n,
            Err(e) => failures.push(format!("seed {seed} {version} {codec:?}:\n{}\n{e}", table.spec().cql())),
        }
    }
    assert!(failures.is_empty(), "{} of 140 random tables failed:\n{}", failures.len(), failures.join("\n"));
    assert!(rows > 1000, "only {rows} live rows compared");
}
