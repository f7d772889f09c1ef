//! Robustness: every corpus file, with bytes flipped and cut off at many offsets, makes `dump`
//! and `verify` end — with an error or a reported problem where the damage is detectable — and
//! never panic or hang.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use cairn_fixtures::corpus;
use cairn_format::descriptor::discover;
use cairn_format::sstable::{OpenOptions, SsTable};
use cairn_inspect::dump::{DumpOptions, dump};
use cairn_inspect::verify::verify_one;

/// What happened to one damaged SSTable.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Opening or reading failed with an error, or verify reported problems.
    Detected,
    /// Everything read and verified cleanly.
    Clean,
}

fn exercise(dir: &Path) -> Outcome {
    let opts = OpenOptions::default();
    let Ok(descs) = discover(dir) else { return Outcome::Detected };
    let mut detected = false;
    for d in descs {
        let table = match SsTable::open_with(d, &opts) {
            Ok(t) => t,
            Err(_) => {
                detected = true;
                continue;
            }
        };
        let dopts = DumpOptions { now_s: 1_700_000_000, ..Default::default() };
        if dump(std::slice::from_ref(&table), &dopts, false, &mut std::io::sink()).is_err() {
            detected = true;
        }
        match verify_one(&table) {
            Ok(r) if r.problems.is_empty() => {}
            _ => detected = true,
        }
    }
    if detected { Outcome::Detected } else { Outcome::Clean }
}

/// Run `exercise` on a thread and fail if it does not finish in time (a hang).
fn exercise_bounded(dir: &Path) -> Result<Outcome, String> {
    let (tx, rx) = mpsc::channel();
    let d = dir.to_path_buf();
    let handle = std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| exercise(&d));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(o)) => {
            let _ = handle.join();
            Ok(o)
        }
        Ok(Err(_)) => Err("panicked".into()),
        Err(_) => Err("did not finish within 60 s (hang)".into()),
    }
}

fn offsets(len: usize, n: usize) -> Vec<usize> {
    if len == 0 {
        return vec![];
    }
    let mut v: Vec<usize> = (0..n).map(|i| i * len / n).collect();
    v.extend([0, len.saturating_sub(1), len / 2, 1.min(len - 1)]);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn damaged_files_never_panic_or_hang() {
    let Some(corpus) = corpus() else { return };
    let mut failures = Vec::new();
    let mut runs = 0usize;
    for case in corpus.cases() {
        let Ok(entries) = std::fs::read_dir(&case.dir) else { continue };
        let files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
        let data_has_digest = files.iter().any(|p| p.to_string_lossy().ends_with("-Digest.crc32"));
        for target in &files {
            let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            let Some(component) = name.rsplit('-').next() else { continue };
            if cairn_format::Component::from_suffix(component).is_none()
                || component == "TOC.txt"
                || component == "Digest.crc32"
            {
                continue;
            }
            let original = std::fs::read(target).expect("read");
            let mut variants: Vec<(String, Vec<u8>, bool)> = Vec::new();
            for at in offsets(original.len(), 12) {
                let mut flipped = original.clone();
                flipped[at] ^= 0x5a;
                // A flipped Data.db byte is always detectable through Digest.crc32.
                variants.push((format!("flip@{at}"), flipped, component == "Data.db" && data_has_digest));
                // A cut component is always detectable, except an empty tail of CRC.db (the
                // zero entry Cassandra appends) and Data.db's last byte when nothing covers it.
                let cut = original[..at].to_vec();
                let must = component != "CRC.db" || at + 4 <= original.len() - 4;
                variants.push((format!("cut@{at}"), cut, must));
            }
            for (what, bytes, must_detect) in variants {
                let tmp = tempfile::tempdir().expect("tempdir");
                for f in &files {
                    let dest = tmp.path().join(f.file_name().expect("name"));
                    if f == target {
                        std::fs::write(&dest, &bytes).expect("write");
                    } else {
                        std::fs::copy(f, &dest).expect("copy");
                    }
                }
                runs += 1;
                match exercise_bounded(tmp.path()) {
                    Ok(Outcome::Detected) => {}
                    Ok(Outcome::Clean) if !must_detect => {}
                    Ok(Outcome::Clean) => failures.push(format!("{}/{name} {what}: damage went unnoticed", case.id)),
                    Err(e) => failures.push(format!("{}/{name} {what}: {e}", case.id)),
                }
            }
        }
    }
    assert!(runs > 1000, "only {runs} damaged variants were exercised");
    assert!(failures.is_empty(), "{} of {runs} damaged variants failed:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Never a wrong answer: damaged or half-written files are refused, not read as something else.
// ---------------------------------------------------------------------------------------------

/// A copy of a corpus case in a temp dir, with its Data.db replaced by `data` (a function of
/// the original bytes and the destination path, which may also make a symlink).
fn copy_case(case: &cairn_fixtures::Case<'_>, data: impl Fn(&[u8], &Path)) -> tempfile::TempDir {
    copy_case_with(case, "-Data.db", data)
}

/// [`copy_case`] replacing the component(s) whose file name ends with `suffix`.
fn copy_case_with(case: &cairn_fixtures::Case<'_>, suffix: &str, data: impl Fn(&[u8], &Path)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for e in std::fs::read_dir(&case.dir).expect("case dir").filter_map(Result::ok).filter(|e| e.path().is_file()) {
        let dest = tmp.path().join(e.file_name());
        if e.file_name().to_string_lossy().ends_with(suffix) {
            data(&std::fs::read(e.path()).expect("read"), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
    tmp
}

fn open_all(dir: &Path, no_verify: bool) -> Result<Vec<SsTable>, cairn_format::Error> {
    let opts = OpenOptions { no_verify, ..OpenOptions::default() };
    discover(dir)?.into_iter().map(|d| SsTable::open_with(d, &opts)).collect()
}

/// Every case whose Statistics.db records partitions: an empty Data.db is refused when the
/// SSTable is opened, naming Data.db and what contradicts it — never read as an empty table
/// (`--no-verify` still opens it); one that is a symlink to /dev/zero is refused as no regular
/// file, with or without `--no-verify`.
#[test]
fn empty_or_endless_data_db_is_refused_at_open() {
    let Some(corpus) = corpus() else { return };
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt()) {
        let Ok(tables) = open_all(&case.dir, false) else { continue };
        if !tables.iter().any(|t| t.recorded_partitions().is_some_and(|n| n > 0)) {
            continue;
        }
        for (what, tmp) in [
            ("empty", copy_case(&case, |_, dest| std::fs::write(dest, b"").expect("write"))),
            ("/dev/zero", copy_case(&case, |_, dest| std::os::unix::fs::symlink("/dev/zero", dest).expect("link"))),
        ] {
            checked += 1;
            if what == "/dev/zero" {
                // A device is refused before anything reads it (components are regular files),
                // with or without --no-verify.
                for no_verify in [false, true] {
                    match open_all(tmp.path(), no_verify) {
                        Err(e @ cairn_format::Error::NotRegularFile { .. }) => {
                            if !e.path().is_some_and(|p| p.to_string_lossy().ends_with("-Data.db")) {
                                failures.push(format!("{} ({what}): not located at Data.db: {e}", case.id));
                            }
                        }
                        Err(e) => failures.push(format!("{} ({what}): refused, but not as a device: {e}", case.id)),
                        Ok(_) => failures.push(format!("{} ({what}): opened", case.id)),
                    }
                }
                continue;
            }
            match open_all(tmp.path(), false) {
                Err(e @ cairn_format::Error::Inconsistent { .. }) => {
                    let data = e.path().is_some_and(|p| p.to_string_lossy().ends_with("-Data.db"));
                    if !data || e.offset() != Some(0) {
                        failures.push(format!("{} ({what}): not located at Data.db byte 0: {e}", case.id));
                    }
                }
                Err(e) => failures.push(format!("{} ({what}): refused, but not as inconsistent: {e}", case.id)),
                Ok(_) => failures.push(format!("{} ({what}): opened", case.id)),
            }
            if let Err(e) = open_all(tmp.path(), true) {
                failures.push(format!("{} ({what}): --no-verify does not open it: {e}", case.id));
            }
        }
    }
    assert!(checked > 50, "only {checked} variants");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Dump every table of `dir` as `dump --merge` (or plainly) would, into a string.
fn dump_dir(dir: &Path, merge: bool, no_verify: bool) -> Result<String, String> {
    let tables = open_all(dir, no_verify).map_err(|e| e.to_string())?;
    let opts = DumpOptions { now_s: 1_700_000_000, ..Default::default() };
    let mut out = Vec::new();
    dump(&tables, &opts, merge, &mut out).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Every case with Digest.crc32: a Data.db with one byte changed anywhere never reads
/// successfully, merged or not — whatever the byte decodes to, a full read covers the whole
/// file and checks the digest.
#[test]
fn a_changed_data_byte_never_reads_successfully_when_a_digest_exists() {
    let Some(corpus) = corpus() else { return };
    let mut runs = 0;
    let mut failures = Vec::new();
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt()) {
        let files: Vec<_> =
            std::fs::read_dir(&case.dir).expect("dir").filter_map(Result::ok).map(|e| e.path()).collect();
        let has = |suffix: &str| files.iter().any(|p| p.to_string_lossy().ends_with(suffix));
        // One SSTable per case keeps "the whole file" unambiguous.
        let sstables = files.iter().filter(|p| p.to_string_lossy().ends_with("-Data.db")).count();
        if !has("-Digest.crc32") || sstables != 1 || dump_dir(&case.dir, true, false).is_err() {
            continue;
        }
        let len = files
            .iter()
            .find(|p| p.to_string_lossy().ends_with("-Data.db"))
            .and_then(|p| p.metadata().ok())
            .map_or(0, |m| m.len() as usize);
        for at in offsets(len, 8) {
            for (merge, mode) in [(true, "dump --merge"), (false, "dump")] {
                runs += 1;
                let tmp = copy_case(&case, |b, dest| {
                    let mut b = b.to_vec();
                    b[at] ^= 0x5a;
                    std::fs::write(dest, b).expect("write");
                });
                if let Ok(out) = dump_dir(tmp.path(), merge, false) {
                    failures.push(format!("{} flip@{at}: {mode} succeeded ({} bytes out)", case.id, out.len()));
                }
            }
        }
    }
    assert!(runs > 200, "only {runs} runs");
    assert!(failures.is_empty(), "{} of {runs} reads answered:\n{}", failures.len(), failures.join("\n"));
}

/// The corpus case `id`'s directory with the Data.db byte at `at` set to `value`.
fn mutated(id: &str, at: usize, value: u8) -> Option<tempfile::TempDir> {
    let corpus = corpus()?;
    let case = corpus.cases().into_iter().find(|c| c.id == id).expect("case in the manifest");
    Some(copy_case(&case, |b, dest| {
        let mut b = b.to_vec();
        assert_ne!(b[at], value, "{id}: byte {at} already holds {value:#04x}");
        b[at] = value;
        std::fs::write(dest, b).expect("write");
    }))
}

/// Two mutations an adversarial run found read back as altered rows with exit 0 (uncompressed
/// files without CRC.db): a partition out of token order, a row out of clustering order. Every
/// full read now fails at the offending byte; export publishes nothing; `--no-verify` reads.
#[test]
fn out_of_order_data_fails_every_full_read() {
    use cairn_format::DecodeErrorKind as K;
    use cairn_format::error::StructureError;
    type Expect = fn(&cairn_format::Error) -> bool;
    let cases: [(&str, usize, u8, u64, Expect); 2] = [
        ("write_many_live_partitions", 617_447, 0x00, 617_443, |e| {
            matches!(e, cairn_format::Error::Corrupt { kind: K::PartitionOutOfOrder { .. }, .. })
        }),
        ("write_multiple_rows", 35, 0x80, 33, |e| {
            matches!(e, cairn_format::Error::Corrupt { kind: K::Structure(StructureError::ClusteringOutOfOrder), .. })
        }),
    ];
    for (id, at, value, offset, expect) in cases {
        let Some(tmp) = mutated(id, at, value) else { return };
        let tables = open_all(tmp.path(), false).expect("opens");
        // The merged read every dump --merge and export uses.
        let scanners = tables.iter().map(|t| t.scanner().expect("scanner")).collect();
        let mut m = cairn_format::reconcile::Merger::new(scanners, tables[0].partitioner).expect("merger");
        let read = |m: &mut cairn_format::reconcile::Merger| -> cairn_format::Result<()> {
            use cairn_format::data::PartitionStream;
            while m.next_partition()?.is_some() {
                while m.next_unfiltered()?.is_some() {}
            }
            Ok(())
        };
        let err = read(&mut m).expect_err("the merged read fails");
        assert!(expect(&err), "{id}: {err:?}");
        assert_eq!(err.offset(), Some(offset), "{id}: {err}");
        assert_eq!(err.component(), Some(cairn_format::Component::Data), "{id}");
        for merge in [true, false] {
            let e = dump_dir(tmp.path(), merge, false).expect_err("dump fails");
            assert!(e.contains("-Data.db (Data.db) at byte"), "{id}: {e}");
            dump_dir(tmp.path(), merge, true).unwrap_or_else(|e| panic!("{id}: --no-verify dump: {e}"));
        }
        for threads in [1, 4] {
            let out = tempfile::tempdir().expect("out");
            let opts = cairn_export::ExportOptions { out: out.path().join("x"), threads, ..Default::default() };
            let e = cairn_export::export(&tables, &opts).expect_err("export fails");
            assert!(matches!(&e, cairn_export::ExportError::Read(e) if expect(e)), "{id} threads {threads}: {e}");
            assert!(!out.path().join("x").exists(), "{id}: export left output behind");
        }
        let lenient = open_all(tmp.path(), true).expect("opens");
        let opts = cairn_export::ExportOptions { out: tmp.path().join("forensic"), ..Default::default() };
        cairn_export::export(&lenient, &opts).unwrap_or_else(|e| panic!("{id}: --no-verify export: {e}"));
    }
}

/// A seeded mutation run found Statistics.db's `UTF8Type` changed to `UDF8Type` read as a blob,
/// and `Int32Type` changed to `Mnt32Type` read as a blob that misaligned the cells after it,
/// both with exit 0 (Statistics.db has no checksum before `na`). Cassandra's marshal package has
/// no such class, so every case before `na` whose header names `Int32Type` is now refused at
/// open, at the type string in Statistics.db, when one letter of the class name is changed.
#[test]
fn a_misspelt_marshal_class_in_the_header_is_refused() {
    use cairn_format::DecodeErrorKind as K;
    let Some(corpus) = corpus() else { return };
    let needle = b"db.marshal.Int32Type";
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt()) {
        // From `na` on, Statistics.db's checksum refuses any changed byte.
        let Ok(tables) = open_all(&case.dir, false) else { continue };
        if tables.iter().any(|t| t.descriptor.version.has_metadata_checksum()) {
            continue;
        }
        let stats: Vec<_> = std::fs::read_dir(&case.dir)
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with("-Statistics.db"))
            .collect();
        let Some(bytes) = stats.first().map(|p| std::fs::read(p).expect("read")) else { continue };
        let Some(at) = bytes.windows(needle.len()).position(|w| w == needle).map(|i| i + "db.marshal.".len()) else {
            continue;
        };
        let tmp = copy_case_with(&case, "-Statistics.db", |b, dest| {
            let mut b = b.to_vec();
            if b.get(at..at + needle.len() - "db.marshal.".len()) == Some(&needle["db.marshal.".len()..]) {
                b[at] = b'M';
            }
            std::fs::write(dest, b).expect("write");
        });
        checked += 1;
        match open_all(tmp.path(), false) {
            Err(e @ cairn_format::Error::Corrupt { kind: K::BadTypeString { .. }, .. }) => {
                let offset = e.offset().unwrap_or(u64::MAX) as usize;
                let names = e.path().is_some_and(|p| p.to_string_lossy().ends_with("-Statistics.db"));
                // Located at the type string's length, before the changed letter.
                if !names
                    || e.component() != Some(cairn_format::Component::Statistics)
                    || offset > at
                    || at - offset > 400
                {
                    failures.push(format!("{}: not located at the type in Statistics.db (byte {at}): {e}", case.id));
                }
                if !e.to_string().contains("Mnt32Type") || !e.to_string().contains("no such class") {
                    failures.push(format!("{}: {e}", case.id));
                }
            }
            Err(e) => failures.push(format!("{}: refused, but not as a bad type: {e}", case.id)),
            Ok(_) => failures.push(format!("{}: opened with Mnt32Type in its header", case.id)),
        }
    }
    assert!(checked > 30, "only {checked} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A seeded mutation run found `meta` showing first and last keys that a changed byte of
/// Summary.db made up (nothing checksums Summary.db), with exit 0. Every case whose first and
/// last keys come from Summary.db: with a byte of either key changed, `meta` reports a problem
/// (exit 1) and shows no keys, and [`SsTable::key_range`] names the key's byte in Summary.db.
#[test]
fn summary_keys_that_are_not_index_ends_are_a_meta_problem() {
    use cairn_format::DecodeErrorKind as K;
    let Some(corpus) = corpus() else { return };
    let meta_only = OpenOptions { metadata_only: true, ..OpenOptions::default() };
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt()) {
        let Ok(tables) = discover(&case.dir)
            .and_then(|d| d.into_iter().map(|d| SsTable::open_with(d, &meta_only)).collect::<Result<Vec<_>, _>>())
        else {
            continue;
        };
        // One SSTable with Summary.db and Index.db, and keys nowhere else.
        let [table] = tables.as_slice() else { continue };
        let in_stats = table.statistics.stats.as_ref().is_some_and(|s| s.first_key.is_some());
        let Ok(Some(summary)) = table.summary() else { continue };
        if in_stats || !table.present.contains(&cairn_format::Component::Index) || summary.first_key.is_empty() {
            continue;
        }
        for (end, offset, len) in [
            ("first", summary.keys_offset, summary.first_key.len()),
            ("last", summary.last_key_offset(), summary.last_key.len()),
        ] {
            // The key's last byte (its first may be a length of a composite component).
            let at = (offset + 4) as usize + len - 1;
            let tmp = copy_case_with(&case, "-Summary.db", |b, dest| {
                let mut b = b.to_vec();
                b[at] ^= 0x01;
                std::fs::write(dest, b).expect("write");
            });
            checked += 1;
            let tables: Vec<SsTable> = discover(tmp.path())
                .expect("discover")
                .into_iter()
                .map(|d| SsTable::open_with(d, &meta_only).expect("opens"))
                .collect();
            match tables[0].key_range() {
                Err(e @ cairn_format::Error::Corrupt { kind: K::EndKeyMismatch { end: e_end }, .. })
                    if e_end == end
                        && e.offset() == Some(offset)
                        && e.component() == Some(cairn_format::Component::Summary) => {}
                other => failures.push(format!("{} ({end} key, byte {at}): key_range gave {other:?}", case.id)),
            }
            let opts = cairn_inspect::meta::MetaOptions { now_s: 1_700_000_000, json: true, ..Default::default() };
            let mut out = Vec::new();
            match cairn_inspect::meta::meta(&tables, &opts, &mut out) {
                Ok(false) => {
                    let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
                    if !v["first_key"].is_null() || !v["last_key"].is_null() {
                        failures.push(format!("{} ({end} key): meta still shows keys", case.id));
                    }
                }
                other => failures.push(format!("{} ({end} key): meta gave {other:?}", case.id)),
            }
        }
    }
    assert!(checked > 40, "only {checked} variants");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A seeded mutation run found `meta` exiting 0 on a Data.db cut short by most of its bytes:
/// only a full read's digest saw it. Statistics.db records every partition's size, each within
/// a histogram bucket; every uncompressed case whose Data.db is cut one byte below the least
/// those sizes add up to is now refused at open, at the byte where the data ends.
#[test]
fn data_shorter_than_the_recorded_partition_sizes_is_refused_at_open() {
    use cairn_format::error::Mismatch;
    let Some(corpus) = corpus() else { return };
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in corpus.cases().into_iter().filter(|c| !c.is_corrupt()) {
        let Ok(tables) = open_all(&case.dir, false) else { continue };
        let [table] = tables.as_slice() else { continue };
        let Some(sizes) = table.statistics.stats.as_ref().map(|s| s.partition_sizes.clone()) else { continue };
        let least = sizes.lower_bound_sum();
        if table.compression.is_some() || table.recorded_partitions().is_none() || least < 2 {
            continue;
        }
        let cut = least - 1;
        // Where CRC.db would lose a chunk's checksum, it is the first witness.
        let length = std::fs::metadata(table.path(cairn_format::Component::Data)).expect("Data.db").len();
        if table.crc.as_ref().is_some_and(|c| {
            let chunk = u64::from(c.chunk_size.max(1));
            cut.div_ceil(chunk) != length.div_ceil(chunk)
        }) {
            continue;
        }
        let tmp = copy_case(&case, |b, dest| std::fs::write(dest, &b[..cut as usize]).expect("write"));
        checked += 1;
        match open_all(tmp.path(), false) {
            Err(cairn_format::Error::Inconsistent {
                offset,
                mismatch: Mismatch::TooShortForPartitions { min_bytes, .. },
                ..
            }) if offset == cut && min_bytes == least => {}
            other => failures.push(format!("{}: Data.db cut to {cut} of {least}+ bytes: {other:?}", case.id)),
        }
    }
    assert!(checked > 40, "only {checked} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Seeded mutations through every reading verb: detected, harmless, or undetectable by design.
// ---------------------------------------------------------------------------------------------

mod mutation {
    //! One seeded mutation harness over the whole corpus (issue 12's "Done when").
    //!
    //! For every corpus case whose unmutated read succeeds, a copy of the case gets one mutation
    //! at a time — a byte set or flipped, the file cut short, or a range zeroed — in one of its
    //! Data.db, Index.db, Summary.db, Statistics.db, CompressionInfo.db, CRC.db, Digest.crc32 or
    //! Filter.db files. Then `dump`, `dump --merge`, `verify`, `meta`, `tombstones` and `export`
    //! (NDJSON) run in process, each on its own thread with a time limit and a caught panic, and
    //! every run is classified:
    //!
    //! - **detected**: an error, or exit status 1 (verify's and meta's problems);
    //! - **harmless**: exit 0 with output identical to the unmutated read's;
    //! - **undetectable by design**: exit 0 with different output, where the changed bytes lie
    //!   in a component nothing checksums and the verb reads (Cassandra checksums only Data.db —
    //!   chunk CRCs in CompressionInfo.db or CRC.db, the whole file in Digest.crc32 — and
    //!   Statistics.db from `na` on), and every order check of the read passed (a full read
    //!   checks them, so exit 0 says they did). These are listed;
    //! - **wrong**: any other exit 0 with different output — a failure, as are panics and hangs.
    //!
    //! The seed is printed; `CAIRN_MUTATION_SEED=<n>` repeats a run. Each case gets a fixed
    //! number of mutations by size, so a seed names the same mutations on every machine.

    use std::fmt;
    use std::path::{Path, PathBuf};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use cairn_fixtures::rng::Rng;
    use cairn_fixtures::{Case, corpus};
    use cairn_format::Component;
    use cairn_format::descriptor::{Descriptor, discover};
    use cairn_format::sstable::{OpenOptions, SsTable};

    /// The time every verb reads at.
    const NOW_S: i64 = 1_700_000_000;
    /// How long one verb may take on one mutated case before it counts as a hang (debug build,
    /// shared CI cores; the largest case reads in a few seconds).
    const TIME_LIMIT: Duration = Duration::from_secs(120);
    /// Components mutated, with a weight (Data.db and the metadata that drives its decoding
    /// get more of the mutations).
    const TARGETS: [(Component, u64); 8] = [
        (Component::Data, 6),
        (Component::Statistics, 3),
        (Component::Index, 3),
        (Component::Summary, 2),
        (Component::CompressionInfo, 2),
        (Component::Crc, 2),
        (Component::Digest, 1),
        (Component::Filter, 2),
    ];

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Verb {
        Dump,
        DumpMerge,
        Verify,
        Meta,
        Tombstones,
        Export,
    }

    const VERBS: [Verb; 6] = [Verb::Dump, Verb::DumpMerge, Verb::Verify, Verb::Meta, Verb::Tombstones, Verb::Export];

    impl fmt::Display for Verb {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(match self {
                Verb::Dump => "dump",
                Verb::DumpMerge => "dump --merge",
                Verb::Verify => "verify",
                Verb::Meta => "meta",
                Verb::Tombstones => "tombstones",
                Verb::Export => "export",
            })
        }
    }

    /// How one verb ended.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ended {
        /// Exit 0, with this output (paths of the temp dir replaced by `<dir>`).
        Output(String),
        /// An error, or problems reported (exit 1).
        Failed(String),
        Panicked(String),
        Hung,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mutation {
        Set { at: usize, value: u8 },
        Flip { at: usize, mask: u8 },
        Cut { at: usize },
        Zero { at: usize, len: usize },
    }

    impl fmt::Display for Mutation {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Mutation::Set { at, value } => write!(f, "set@{at}={value:#04x}"),
                Mutation::Flip { at, mask } => write!(f, "flip@{at}^{mask:#04x}"),
                Mutation::Cut { at } => write!(f, "cut@{at}"),
                Mutation::Zero { at, len } => write!(f, "zero@{at}+{len}"),
            }
        }
    }

    impl Mutation {
        /// A random mutation of `bytes` that changes them, if there is one.
        fn pick(rng: &mut Rng, bytes: &[u8]) -> Option<Mutation> {
            let len = bytes.len() as u64;
            if len == 0 {
                return None;
            }
            for _ in 0..16 {
                let at = rng.below(len) as usize;
                let m = match rng.below(8) {
                    0..=2 => Mutation::Set { at, value: bytes[at] ^ (1 + rng.below(255) as u8) },
                    3..=5 => Mutation::Flip { at, mask: 1 << rng.below(8) },
                    6 => Mutation::Cut { at },
                    _ => Mutation::Zero { at, len: (1 + rng.below(64) as usize).min(bytes.len() - at) },
                };
                if m.apply(bytes) != bytes {
                    return Some(m);
                }
            }
            None
        }

        fn apply(self, bytes: &[u8]) -> Vec<u8> {
            let mut b = bytes.to_vec();
            match self {
                Mutation::Set { at, value } => b[at] = value,
                Mutation::Flip { at, mask } => b[at] ^= mask,
                Mutation::Cut { at } => b.truncate(at),
                Mutation::Zero { at, len } => b[at..at + len].fill(0),
            }
            b
        }
    }

    /// One planned mutation of one case.
    #[derive(Debug, Clone)]
    struct Planned {
        /// The file's name in the case directory.
        file: String,
        component: Component,
        mutation: Mutation,
    }

    /// A copy of `files` in `<tmp>/<name>` (so the table directory's name, which export and
    /// dump --merge show, is the case's own), with `mutated` replacing one of them.
    fn copy_to(tmp: &Path, name: &str, files: &[PathBuf], mutated: Option<(&str, &[u8])>) -> PathBuf {
        let dir = tmp.join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in files {
            let file_name = f.file_name().and_then(|n| n.to_str()).expect("name");
            let dest = dir.join(file_name);
            match mutated {
                Some((m, bytes)) if m == file_name => std::fs::write(&dest, bytes).expect("write"),
                _ => {
                    std::fs::copy(f, &dest).expect("copy");
                }
            }
        }
        dir
    }

    fn open(dir: &Path, options: &OpenOptions) -> Result<Vec<SsTable>, String> {
        let found = discover(dir).map_err(|e| e.to_string())?;
        if found.is_empty() {
            return Err("no SSTables found".into());
        }
        found.into_iter().map(|d| SsTable::open_with(d, options).map_err(|e| e.to_string())).collect()
    }

    /// Run `verb` on the table directory `dir` as the CLI would, in process.
    fn run(verb: Verb, dir: &Path, scratch: &Path) -> Result<(String, bool), String> {
        // meta reads past a damaged Index.db, as the CLI opens for it.
        let options = OpenOptions { metadata_only: verb == Verb::Meta, ..OpenOptions::default() };
        let tables = open(dir, &options)?;
        let mut out = Vec::new();
        let clean = match verb {
            Verb::Dump | Verb::DumpMerge => {
                let opts = cairn_inspect::dump::DumpOptions { now_s: NOW_S, ..Default::default() };
                cairn_inspect::dump::dump(&tables, &opts, verb == Verb::DumpMerge, &mut out)
                    .map_err(|e| e.to_string())?;
                true
            }
            Verb::Verify => cairn_inspect::verify::verify(&tables, true, &mut out).map_err(|e| e.to_string())?,
            Verb::Meta => {
                let opts = cairn_inspect::meta::MetaOptions { now_s: NOW_S, json: true, ..Default::default() };
                cairn_inspect::meta::meta(&tables, &opts, &mut out).map_err(|e| e.to_string())?
            }
            Verb::Tombstones => {
                let opts = cairn_inspect::tombstones::TombstoneOptions {
                    now_s: NOW_S,
                    top: 10,
                    json: true,
                    ..Default::default()
                };
                cairn_inspect::tombstones::tombstones(&tables, &opts, &mut out).map_err(|e| e.to_string())?;
                true
            }
            Verb::Export => {
                let root = scratch.join("export");
                let opts = cairn_export::ExportOptions {
                    out: root.clone(),
                    now_s: NOW_S,
                    format: cairn_export::Format::Ndjson,
                    threads: 1,
                    ..Default::default()
                };
                let summaries = cairn_export::export(&tables, &opts).map_err(|e| e.to_string())?;
                for s in summaries {
                    let schema: Vec<String> = s.schema.iter().map(|c| format!("{} {}", c.name, c.cql_type)).collect();
                    out.extend(
                        format!(
                            "{}.{}: {} rows, {} partitions, {} input bytes; {}\n",
                            s.keyspace,
                            s.table,
                            s.rows,
                            s.partitions,
                            s.input_bytes,
                            schema.join(", ")
                        )
                        .bytes(),
                    );
                    for f in s.files {
                        let path = Path::new(&s.path).join(&f.path);
                        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                        out.extend(format!("== {} ({} rows)\n{text}", f.path, f.rows).bytes());
                    }
                }
                true
            }
        };
        let text = String::from_utf8_lossy(&out).replace(&dir.display().to_string(), "<dir>");
        Ok((text, clean))
    }

    /// `run`, on its own thread, with a time limit and a caught panic.
    fn run_bounded(verb: Verb, dir: &Path) -> Ended {
        let (tx, rx) = mpsc::channel();
        let d = dir.to_path_buf();
        let handle = std::thread::spawn(move || {
            let scratch = tempfile::tempdir().expect("scratch dir");
            let r = std::panic::catch_unwind(|| run(verb, &d, scratch.path()));
            let _ = tx.send(r);
        });
        match rx.recv_timeout(TIME_LIMIT) {
            Ok(r) => {
                let _ = handle.join();
                match r {
                    Ok(Ok((out, true))) => Ended::Output(out),
                    Ok(Ok((out, false))) => Ended::Failed(format!("problems reported: {}", out.len())),
                    Ok(Err(e)) => Ended::Failed(e),
                    Err(p) => Ended::Panicked(
                        p.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default(),
                    ),
                }
            }
            // The thread is left running: it cannot be stopped, and the test fails anyway.
            Err(_) => Ended::Hung,
        }
    }

    /// Whether a difference in `verb`'s output after changing `component` of an SSTable of
    /// `version` (whose other components are `present`) is beyond any check by design: no
    /// checksum covers the changed bytes, and the verb reads them.
    fn undetectable_by_design(
        component: Component,
        version: cairn_format::Version,
        present: &[Component],
        verb: Verb,
        (expected, out): (&str, &str),
    ) -> bool {
        let has = |c| present.contains(&c);
        match component {
            // Chunk CRCs (compressed), CRC.db or Digest.crc32 cover every Data.db byte. meta
            // reads none of them, only the file's length, which it reports as it finds it: a cut
            // that leaves every position Index.db, CRC.db and CompressionInfo.db record inside
            // the file, and the bytes Statistics.db's partition sizes need at the least, is seen
            // only by a full read's digest (`meta --scan`, dump, verify).
            Component::Data if verb == Verb::Meta => only_data_file_size_differs(expected, out),
            Component::Data => !has(Component::CompressionInfo) && !has(Component::Crc) && !has(Component::Digest),
            // Checksummed from `na` on; before, the serialization header (but for a class name
            // Cassandra does not have), the stats and the partitioner are whatever the bytes
            // say, for every verb.
            Component::Statistics => !version.has_metadata_checksum(),
            // Nothing checksums Filter.db: tombstones trusts it, as compaction does, to say
            // which other SSTables may hold older data for a key (a cleared bit hides a blocker;
            // only verify, which checks every key, sees it).
            Component::Filter => verb == Verb::Tombstones,
            // Nothing checksums CompressionInfo.db: meta shows the compressor class as stored
            // (the reading verbs refuse a class they cannot decompress with; a moved chunk
            // offset fails that chunk's CRC).
            Component::CompressionInfo => verb == Verb::Meta,
            // Summary.db's keys are checked against Index.db's ends (meta shows no others);
            // Index.db is checked against Data.db at open and by every read that uses it. CRC.db
            // and Digest.crc32 are the checksums: Data.db is unchanged, so any other output
            // than the unmutated one is wrong.
            _ => false,
        }
    }

    /// Whether meta's JSON outputs `a` and `b` differ in `data_file_size` alone.
    fn only_data_file_size_differs(a: &str, b: &str) -> bool {
        fn rest(s: &str) -> Vec<&str> {
            s.lines().filter(|l| !l.trim_start().starts_with("\"data_file_size\":")).collect()
        }
        rest(a) == rest(b)
    }

    /// A case to mutate: its files and what the unmutated read of every verb gave.
    struct Prepared {
        id: String,
        name: String,
        files: Vec<PathBuf>,
        baseline: Vec<(Verb, String)>,
        /// The verbs whose unmutated run fails or reports problems (not run on mutations).
        failing: Vec<String>,
    }

    fn prepare(case: &Case<'_>) -> Result<Prepared, String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&case.dir)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let name = case.dir.file_name().and_then(|n| n.to_str()).unwrap_or("case").to_string();
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = copy_to(tmp.path(), &name, &files, None);
        let mut baseline = Vec::new();
        let mut failing = Vec::new();
        for verb in VERBS {
            match run_bounded(verb, &dir) {
                Ended::Output(out) => baseline.push((verb, out)),
                Ended::Failed(e) => failing.push(format!("{verb}: {e}")),
                other => return Err(format!("unmutated {verb}: {other:?}")),
            }
        }
        // A case damaged on purpose is left out when its unmutated read already fails.
        if case.is_corrupt() && !failing.is_empty() {
            return Err(format!("corrupt by design, the unmutated read fails: {}", failing.join("; ")));
        }
        Ok(Prepared { id: case.id.to_string(), name, files, baseline, failing })
    }

    /// The mutations of one case: a fixed number by size, from a generator derived from the
    /// seed and the case's index.
    fn plan(p: &Prepared, seed: u64, index: u64) -> Vec<Planned> {
        let size: u64 = p.files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
        let count = match size {
            0..=65_536 => 12,
            65_537..=262_144 => 4,
            _ => 2,
        };
        let mut rng = Rng::derive(seed, index);
        let targets: Vec<(&PathBuf, Component, u64)> = p
            .files
            .iter()
            .filter_map(|f| {
                let name = f.file_name()?.to_str()?;
                let (_, c) = Descriptor::from_path(f).ok()?;
                let w = TARGETS.iter().find(|(t, _)| *t == c)?.1;
                (!name.ends_with(".new")).then_some((f, c, w))
            })
            .collect();
        let total: u64 = targets.iter().map(|t| t.2).sum();
        let mut out = Vec::new();
        for _ in 0..count * 4 {
            if out.len() == count || total == 0 {
                break;
            }
            let mut pick = rng.below(total);
            let Some(&(file, component, _)) = targets.iter().find(|t| {
                if pick < t.2 {
                    true
                } else {
                    pick -= t.2;
                    false
                }
            }) else {
                break;
            };
            let bytes = std::fs::read(file).expect("read");
            if let Some(mutation) = Mutation::pick(&mut rng, &bytes) {
                let file = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                out.push(Planned { file, component, mutation });
            }
        }
        out
    }

    #[derive(Default)]
    struct Counts {
        runs: usize,
        detected: usize,
        harmless: usize,
        by_design: usize,
        wrong: usize,
        panics: usize,
        hangs: usize,
    }

    impl Counts {
        fn add(&mut self, c: &Counts) {
            self.runs += c.runs;
            self.detected += c.detected;
            self.harmless += c.harmless;
            self.by_design += c.by_design;
            self.wrong += c.wrong;
            self.panics += c.panics;
            self.hangs += c.hangs;
        }
    }

    impl fmt::Display for Counts {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            writeln!(f, "| runs | detected | harmless | undetectable by design | wrong | panics | hangs |")?;
            writeln!(f, "|-----:|---------:|---------:|-----------------------:|------:|-------:|------:|")?;
            write!(
                f,
                "| {} | {} | {} | {} | {} | {} | {} |",
                self.runs, self.detected, self.harmless, self.by_design, self.wrong, self.panics, self.hangs
            )
        }
    }

    /// What happened to one mutated case.
    struct Outcome {
        component: Component,
        by_design: Vec<String>,
        failures: Vec<String>,
        counts: Counts,
    }

    fn exercise(p: &Prepared, m: &Planned) -> Outcome {
        let source = p.files.iter().find(|f| f.file_name().and_then(|n| n.to_str()) == Some(m.file.as_str()));
        let original = std::fs::read(source.expect("file of the case")).expect("read");
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = copy_to(tmp.path(), &p.name, &p.files, Some((&m.file, &m.mutation.apply(&original))));
        let (d, _) = Descriptor::from_path(&dir.join(&m.file)).expect("descriptor");
        let present: Vec<Component> = p
            .files
            .iter()
            .filter_map(|f| Descriptor::from_path(f).ok())
            .filter(|(o, _)| o.id == d.id)
            .map(|(_, c)| c)
            .collect();
        let what = format!("{} {} {}", p.id, m.file, m.mutation);
        let mut o = Outcome { component: m.component, by_design: vec![], failures: vec![], counts: Counts::default() };
        for (verb, expected) in &p.baseline {
            o.counts.runs += 1;
            match run_bounded(*verb, &dir) {
                Ended::Failed(_) => o.counts.detected += 1,
                Ended::Output(out) if out == *expected => o.counts.harmless += 1,
                Ended::Output(out) => {
                    let diff = first_difference(expected, &out);
                    if undetectable_by_design(m.component, d.version, &present, *verb, (expected, &out)) {
                        o.counts.by_design += 1;
                        o.by_design.push(format!("{what}: {verb}: {diff}"));
                    } else {
                        o.counts.wrong += 1;
                        o.failures.push(format!("WRONG {what}: {verb} exits 0 with other output: {diff}"));
                    }
                }
                Ended::Panicked(msg) => {
                    o.counts.panics += 1;
                    o.failures.push(format!("PANIC {what}: {verb}: {msg}"));
                }
                Ended::Hung => {
                    o.counts.hangs += 1;
                    o.failures.push(format!("HANG {what}: {verb}: still running after {TIME_LIMIT:?}"));
                }
            }
        }
        o
    }

    /// Where two outputs first differ, shortly.
    fn first_difference(a: &str, b: &str) -> String {
        let mut at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        while !a.is_char_boundary(at) {
            at -= 1;
        }
        let line = a[..at].matches('\n').count() + 1;
        let snip = |s: &str| {
            let start = s[..at.min(s.len())].rfind('\n').map_or(0, |i| i + 1);
            s[start..].chars().take(100).collect::<String>().replace('\n', "⏎")
        };
        format!("line {line}: {:?} became {:?}", snip(a), snip(b))
    }

    /// Write `text` to the process's stderr. Not through `eprintln!`, which the test harness
    /// captures and shows only for a failing test: the seed and the counts are for every run's
    /// log (CI's included) to show.
    fn show(text: &str) {
        use std::io::Write as _;
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    /// The seed: `CAIRN_MUTATION_SEED`, else one from the clock.
    fn seed() -> u64 {
        match std::env::var("CAIRN_MUTATION_SEED") {
            Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("CAIRN_MUTATION_SEED={s:?} is not a u64")),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64 % 1_000_000_000_000),
        }
    }

    #[test]
    fn seeded_mutations_never_give_a_wrong_answer() {
        let Some(corpus) = corpus() else { return };
        let seed = seed();
        show(&format!("mutation run: seed {seed} (repeat with CAIRN_MUTATION_SEED={seed})\n"));
        let started = Instant::now();
        let mut skipped = Vec::new();
        let mut jobs: Vec<(usize, Planned)> = Vec::new();
        let mut prepared = Vec::new();
        for (index, case) in corpus.cases().iter().enumerate() {
            match prepare(case) {
                Ok(p) => {
                    jobs.extend(plan(&p, seed, index as u64).into_iter().map(|m| (prepared.len(), m)));
                    prepared.push(p);
                }
                Err(e) => skipped.push(format!("{}: {e}", case.id)),
            }
        }
        let baseline_s = started.elapsed().as_secs_f64();
        // Mutated cases run on every core, each worker taking the next job.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let workers = std::thread::available_parallelism().map_or(2, usize::from).clamp(1, 4);
        let mut outcomes: Vec<(usize, Outcome)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((case, m)) = jobs.get(i) else { break };
                            done.push((i, exercise(&prepared[*case], m)));
                        }
                        done
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("worker")).collect()
        });
        outcomes.sort_by_key(|(i, _)| *i);
        let mut total = Counts::default();
        let mut by_component: std::collections::BTreeMap<String, Counts> = Default::default();
        let mut by_design = Vec::new();
        let mut failures = Vec::new();
        for (_, o) in outcomes {
            total.add(&o.counts);
            by_component.entry(o.component.to_string()).or_default().add(&o.counts);
            by_design.extend(o.by_design);
            failures.extend(o.failures);
        }
        use std::fmt::Write as _;
        let mut report = String::new();
        for s in &skipped {
            let _ = writeln!(report, "skipped {}", s.chars().take(240).collect::<String>());
        }
        for p in prepared.iter().filter(|p| !p.failing.is_empty()) {
            let _ = writeln!(report, "{}: its mutations skip what fails unmutated: {}", p.id, p.failing.join("; "));
        }
        let _ = writeln!(report, "undetectable by design ({}):", by_design.len());
        for b in &by_design {
            let _ = writeln!(report, "  {b}");
        }
        for f in &failures {
            let _ = writeln!(report, "{f}");
        }
        let summary = format!(
            "seed {seed}: {} mutations of {} cases ({} skipped), {:.1}s (baseline {baseline_s:.1}s)\n{total}",
            jobs.len(),
            prepared.len(),
            skipped.len(),
            started.elapsed().as_secs_f64()
        );
        let _ = writeln!(report, "{summary}\nby mutated component:");
        for (c, n) in &by_component {
            let _ = writeln!(
                report,
                "  {c:<19} runs {:>4}  detected {:>4}  harmless {:>4}  by design {:>3}  wrong {}  panics {}  hangs {}",
                n.runs, n.detected, n.harmless, n.by_design, n.wrong, n.panics, n.hangs
            );
        }
        show(&report);
        assert!(total.runs >= 3000, "only {} runs\n{summary}", total.runs);
        assert!(failures.is_empty(), "{} failures:\n{}\n{summary}", failures.len(), failures.join("\n"));
    }
}
