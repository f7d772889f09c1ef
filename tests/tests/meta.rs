//! `meta`'s facts against the corpus: every cardinality estimator decodes (stream-lib's and
//! ScyllaDB's layouts alike) to an estimate that agrees with the SSTable's real partition count
//! within the estimator's own error.

use cairn_fixtures::corpus;
use cairn_format::descriptor::discover;
use cairn_format::sstable::{OpenOptions, SsTable};

/// Partitions of `table`: the manifest's count from the producer's Statistics.db when it has
/// one, else a scan of Data.db (`None` when the scan fails: a corrupt case).
fn partitions(entry: &serde_json::Value, table: &SsTable) -> Option<u64> {
    let generation = format!("{}-{}-big", table.descriptor.version, table.descriptor.id);
    if let Some(n) = entry["derived_from_metadata"][&generation]["stats"]["partitions"].as_u64() {
        return Some(n);
    }
    let mut scanner = table.scanner().ok()?;
    let mut n = 0;
    while scanner.next_partition().ok()?.is_some() {
        n += 1;
    }
    Some(n)
}

#[test]
fn every_cardinality_estimate_is_read_and_plausible() {
    let Some(corpus) = corpus() else { return };
    let opts = OpenOptions { metadata_only: true, ..Default::default() };
    let (mut checked, mut scylla_layout) = (0, 0);
    let mut failures = Vec::new();
    for case in corpus.cases() {
        for d in discover(&case.dir).expect("discover") {
            let table = match SsTable::open_with(d, &opts) {
                Ok(t) => t,
                Err(e) => {
                    failures.push(format!("{}: metadata does not open: {e}", case.id));
                    continue;
                }
            };
            let Some(bytes) = table.statistics.compaction.as_ref().map(|c| c.cardinality.clone()) else { continue };
            let estimate = match table.estimated_cardinality() {
                Ok(Some(e)) => e,
                Ok(None) if bytes.is_empty() => continue,
                other => {
                    failures.push(format!("{}: estimator of {} bytes gives {other:?}", case.id, bytes.len()));
                    continue;
                }
            };
            checked += 1;
            // i32 -2, then LEB128 p, sp, format (one byte each for these values).
            let (p, sp) = (bytes[4], bytes[5]);
            if sp == 0 {
                scylla_layout += 1;
            }
            let Some(n) = partitions(case.entry, &table) else { continue };
            // Sparse estimators are exact at these sizes; normal ones within three standard
            // errors (1.04 / sqrt(2^p)).
            let relative = if bytes[6] == 1 { 0.01 } else { 3.0 * 1.04 / f64::from(1u32 << p).sqrt() };
            let slack = (n as f64 * relative).max(1.0);
            if (estimate as f64 - n as f64).abs() > slack {
                failures.push(format!("{}: estimated {estimate} for {n} partitions (p = {p})", case.id));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 0 && scylla_layout > 0, "checked {checked} estimators, {scylla_layout} in ScyllaDB's layout");
    eprintln!("meta: {checked} cardinality estimates checked, {scylla_layout} written by ScyllaDB");
}
