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
