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
    let tmp = tempfile::tempdir().expect("tempdir");
    for e in std::fs::read_dir(&case.dir).expect("case dir").filter_map(Result::ok).filter(|e| e.path().is_file()) {
        let dest = tmp.path().join(e.file_name());
        if e.file_name().to_string_lossy().ends_with("-Data.db") {
            data(&std::fs::read(e.path()).expect("read Data.db"), &dest);
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
