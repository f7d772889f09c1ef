//! Conformance: every case of the corpus manifest is read and compared with its `expected`
//! content; every corrupt case fails with the error its manifest entry documents.

use std::path::{Path, PathBuf};

use cairn_fixtures::{Case, corpus};
use cairn_format::descriptor::discover;
use cairn_format::error::{DecodeErrorKind, Error};
use cairn_format::sstable::{OpenOptions, SsTable};
use serde_json::Value as J;

use cairn_format::data::PartitionStream;
use cairn_format::reconcile::Merger;

use crate::model::{partitions_match, read_all, read_stream};

fn open_case(case: &Case<'_>, schema: Option<&Path>, no_verify: bool) -> Result<Vec<SsTable>, Error> {
    let opts = OpenOptions { schema_file: schema.map(Path::to_path_buf), no_verify, ..Default::default() };
    discover(&case.dir)?.into_iter().map(|d| SsTable::open_with(d, &opts)).collect()
}

fn schema_file(case: &Case<'_>, dir: &Path) -> Option<PathBuf> {
    let cql = case.schema_cql()?;
    let p = dir.join(format!("{}.cql", case.id));
    std::fs::write(&p, cql).ok()?;
    Some(p)
}

/// Known transcription errors of the manifest, each checked against the bytes on disk: (case,
/// JSON pointer into `expected`, the value the file really holds, why). When the manifest is
/// corrected the erratum no longer applies and the test says so.
const ERRATA: &[(&str, &str, &str, &str)] = &[(
    "me_utf8_with_special_chars",
    "/partitions_unordered/3/rows/0/cells/val",
    "\u{24c8}\u{24c5}\u{24ba}\u{24b8}\u{24be}\u{24b6}\u{24c1}\u{2008}\u{249e}\u{24a3}\u{249c}\u{24ad}\u{24ae} and normal ones",
    "Data.db holds U+2008 PUNCTUATION SPACE (e2 80 88) where the manifest transcribed a plain space",
)];

/// `expected` with errata applied; errors when an erratum no longer matches the manifest.
fn corrected_expected(case: &Case<'_>) -> Result<J, String> {
    let mut e = case.expected().clone();
    for (id, pointer, value, why) in ERRATA {
        if *id != case.id {
            continue;
        }
        let value = (*value).to_string();
        let slot = e.pointer_mut(pointer).ok_or(format!("erratum {pointer} ({why}) no longer applies"))?;
        if slot.as_str() == Some(value.as_str()) {
            return Err(format!("erratum {pointer} is fixed in the manifest; remove it from ERRATA"));
        }
        *slot = J::String(value);
    }
    Ok(e)
}

/// Check one well-formed case, with its schema when `with_schema` (else from the serialization
/// header alone); `Ok(true)` when its content was compared.
fn check_case(case: &Case<'_>, tmp: &Path, with_schema: bool) -> Result<bool, String> {
    let schema = if with_schema { schema_file(case, tmp) } else { None };
    let tables = open_case(case, schema.as_deref(), false).map_err(|e| format!("open: {e}"))?;
    if tables.is_empty() {
        return Err("no SSTables found".into());
    }
    let corrected = corrected_expected(case)?;
    let e = &corrected;
    let mut compared = false;
    if let Some(per) = e["per_generation"].as_object() {
        for (gen_id, parts) in per {
            let t = tables
                .iter()
                .find(|t| t.descriptor.id.to_string() == *gen_id)
                .ok_or(format!("generation {gen_id} not found"))?;
            let got = read_all(t).map_err(|e| format!("generation {gen_id}: {e}"))?;
            partitions_match(&t.header, &got, parts.as_array().map_or(&[][..], Vec::as_slice), true)
                .map_err(|m| format!("generation {gen_id}: {m}"))?;
        }
        compared = true;
    }
    if let Some(merged) = e["merged"].as_array() {
        let first = tables.first().ok_or("no tables")?;
        let scanners = tables.iter().map(SsTable::scanner).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
        let mut merger = Merger::new(scanners, first.partitioner).map_err(|e| e.to_string())?;
        let header = merger.header().clone();
        let got = read_stream(&mut merger).map_err(|e| format!("merge: {e}"))?;
        partitions_match(&header, &got, merged, true).map_err(|m| format!("merged: {m}"))?;
        compared = true;
    }
    let [table] = tables.as_slice() else {
        // Multi-generation cases are compared per generation and merged above.
        return Ok(compared);
    };
    let got = read_all(table).map_err(|e| format!("read: {e}"))?;
    for (key, ordered) in [("partitions", true), ("partitions_unordered", false)] {
        if let Some(list) = e[key].as_array() {
            partitions_match(&table.header, &got, list, ordered)?;
            compared = true;
        }
    }
    if let Some(known) = e["known"].as_object() {
        if let Some(n) = known.get("partitions").and_then(J::as_u64)
            && got.len() as u64 != n
        {
            return Err(format!("{} partitions, known {n}", got.len()));
        }
        if let Some(n) = known.get("rows").and_then(J::as_u64) {
            let rows = got.iter().map(|p| p.rows.len()).sum::<usize>() as u64;
            if rows != n {
                return Err(format!("{rows} rows, known {n}"));
            }
        }
        if let Some(keys) = known.get("partition_keys").and_then(J::as_array) {
            if keys.len() != got.len() {
                return Err(format!("{} partitions, known keys {}", got.len(), keys.len()));
            }
            for e in keys {
                if !got.iter().any(|p| crate::model::key_matches(&table.header, &p.key, e).is_ok()) {
                    return Err(format!("known key {e} not found"));
                }
            }
        }
    }
    if e["generated"].is_string() && e["partitions"].is_null() {
        // Generated content: every partition decodes; the count is in the stats.
        let total = table.statistics.stats.as_ref().map(|s| s.total_rows).unwrap_or(0);
        let rows = got.iter().map(|p| p.rows.len()).sum::<usize>() as i64;
        if rows != total {
            return Err(format!("{rows} rows, Statistics.db says {total}"));
        }
        compared = true;
    }
    Ok(compared)
}

#[test]
fn every_public_case_matches_its_manifest() {
    let Some(corpus) = corpus() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let (mut compared, mut well) = (0, 0);
    for case in corpus.cases() {
        if case.is_corrupt() {
            continue;
        }
        // Every case also reads from its serialization header alone (CASSANDRA-15035 headers
        // included: their frozen UDTs are recognised from the rows).
        if let Err(m) = check_case(&case, tmp.path(), false) {
            failures.push(format!("{} (header only, no schema): {m}", case.id));
        }
        match check_case(&case, tmp.path(), true) {
            Ok(c) => {
                if case.well_described() {
                    well += 1;
                    if c {
                        compared += 1;
                    } else {
                        failures.push(format!("{}: well described but nothing was compared", case.id));
                    }
                }
            }
            Err(m) => failures.push(format!("{}: {m}", case.id)),
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
    assert!(compared > 0 && compared == well, "compared {compared} of {well} well-described cases");
    eprintln!("conformance: {compared} well-described cases compared");
}

/// What each corrupt case must produce. The manifest documents the outcome in prose; this table
/// states it as error variants. A corrupt case without an entry fails the test.
/// A description and a predicate on the error.
type Expectation = (&'static str, fn(&Error) -> bool);

fn expected_error(id: &str) -> Option<Expectation> {
    Some(match id {
        "uncompressed_integrity_invalid_checksums" => {
            ("chunk checksum mismatch in chunk 1", |e| matches!(e, Error::ChecksumMismatch { chunk: 1, .. }))
        }
        // Refused at open (CompressionInfo.db places chunks past the end of the file), or while
        // reading when the file's length is not checked (no_verify).
        "compression_premature_eof" => ("Data.db truncated", |e| {
            matches!(
                e,
                Error::Corrupt {
                    component: cairn_format::Component::Data,
                    kind: DecodeErrorKind::Truncated { .. },
                    ..
                } | Error::Inconsistent { mismatch: cairn_format::error::Mismatch::ChunkOffset { .. }, .. }
            )
        }),
        "broken_open_tombstone" => ("nested range tombstone", |e| {
            matches!(e, Error::Corrupt { kind: DecodeErrorKind::NestedRangeTombstone { .. }, .. })
        }),
        "invalid_boundary" => ("static bound kind on a marker", |e| {
            matches!(e, Error::Corrupt { kind: DecodeErrorKind::InvalidBoundKind { kind: 3 }, .. })
        }),
        "mismatched_timestamp" => ("mismatched range tombstone deletions", |e| {
            matches!(e, Error::Corrupt { kind: DecodeErrorKind::MismatchedRangeTombstone { .. }, .. })
        }),
        "empty_index" => ("Index.db truncated inside its first entry", |e| {
            matches!(
                e,
                Error::Corrupt {
                    component: cairn_format::Component::Index,
                    kind: DecodeErrorKind::Truncated { .. },
                    offset: 0,
                    ..
                }
            )
        }),
        "lz4_integrity_invalid_digest" => {
            ("digest mismatch (rows still readable)", |e| matches!(e, Error::DigestMismatch { .. }))
        }
        "incompatible_serialized_type" => {
            ("schema type disagrees with the header", |e| matches!(e, Error::SchemaMismatch { .. }))
        }
        _ => return None,
    })
}

fn first_error(case: &Case<'_>, no_verify: bool) -> Option<Error> {
    let tables = match open_case(case, None, no_verify) {
        Ok(t) => t,
        Err(e) => return Some(e),
    };
    for t in &tables {
        if let Err(e) = read_all(t) {
            return Some(e);
        }
        // Whole-file validation.
        if let (Ok(Some(expected)), Ok(src)) = (t.recorded_digest(), t.data_source())
            && let Ok(got) = src.file_crc32()
            && got != expected
        {
            return Some(Error::DigestMismatch { path: t.path(cairn_format::Component::Data), expected, got });
        }
    }
    None
}

#[test]
fn every_corrupt_case_fails_as_documented() {
    let Some(corpus) = corpus() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for case in corpus.cases().into_iter().filter(Case::is_corrupt) {
        let Some((what, matches)) = expected_error(case.id) else {
            failures.push(format!("{}: corrupt case without a documented expectation in this test", case.id));
            continue;
        };
        if case.id == "incompatible_serialized_type" {
            // Not damaged: the header says text; a schema saying int must be refused, a schema
            // without the column too, and the header alone reads.
            let tables = open_case(&case, None, false).map_err(|e| e.to_string());
            if let Err(e) =
                tables.and_then(|t| t.iter().try_for_each(|t| read_all(t).map(|_| ()).map_err(|e| e.to_string())))
            {
                failures.push(format!("{}: header-only read failed: {e}", case.id));
            }
            let header =
                open_case(&case, None, false).ok().and_then(|t| t.into_iter().next()).map(|t| t.header.clone());
            let Some(header) = header else { continue };
            let col = header.regular_columns.first().map(|c| c.name.clone()).unwrap_or_default();
            // A schema identical to the header except that the column is an int.
            let keys: Vec<String> =
                header.key_components().iter().enumerate().map(|(i, t)| format!("k{i} {t}")).collect();
            let cks: Vec<String> =
                header.clustering_types.iter().enumerate().map(|(i, t)| format!("c{i} {}", t.unreversed())).collect();
            let key_names: Vec<String> = (0..keys.len()).map(|i| format!("k{i}")).collect();
            let ck_names: Vec<String> = (0..cks.len()).map(|i| format!("c{i}")).collect();
            let mut pk = format!("({})", key_names.join(", "));
            for c in &ck_names {
                pk.push_str(", ");
                pk.push_str(c);
            }
            let defs = [keys, cks].concat().join(", ");
            let table = |extra: &str| format!("CREATE TABLE ks.t ({defs}, {extra}PRIMARY KEY ({pk}));");
            let conflicting = tmp.path().join("conflict.cql");
            std::fs::write(&conflicting, table(&format!("{col} int, "))).expect("write");
            match open_case(&case, Some(&conflicting), false) {
                Err(e) if matches(&e) => {
                    let text = e.to_string();
                    if !(text.contains(&col) && text.contains("int") && text.contains("text")) {
                        failures
                            .push(format!("{}: mismatch message does not name column and both types: {text}", case.id));
                    }
                }
                other => failures.push(format!("{}: expected {what}, got {other:?}", case.id)),
            }
            let missing = tmp.path().join("missing.cql");
            std::fs::write(&missing, table("other int, ")).expect("write");
            if !matches!(open_case(&case, Some(&missing), false), Err(Error::UnknownColumn { .. })) {
                failures.push(format!("{}: a schema without the column must be refused", case.id));
            }
            continue;
        }
        // Hand-edited files keep their old chunk checksums: the checksum catches them first;
        // with verification off the structural error must still be found.
        let verified = first_error(&case, false);
        let unverified = first_error(&case, true);
        let ok = match (&verified, &unverified) {
            (Some(v), _) if matches(v) => true,
            (Some(Error::ChecksumMismatch { .. }), Some(u)) if matches(u) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!("{}: expected {what}; got {verified:?} (unverified: {unverified:?})", case.id));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
