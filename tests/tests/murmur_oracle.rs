//! Murmur3 tokens checked against the Python driver's `Murmur3Token` (Cassandra's own hashing,
//! sign-extended tail bytes included) on thousands of random keys.

use std::io::Write;
use std::process::{Command, Stdio};

/// Deterministic pseudo-random keys of 1 to 48 bytes, biased towards bytes >= 0x80 in tails.
fn keys(n: usize) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n).map(|_| (0..1 + (next() % 48) as usize).map(|_| next() as u8).collect()).collect()
}

#[test]
fn tokens_match_the_python_driver() {
    let Some(python) = cairn_tests::peers_python("the Murmur3 oracle (Python driver)") else { return };
    let keys = keys(5000);
    let script = "import sys\nfrom cassandra.metadata import Murmur3Token\nfor line in sys.stdin:\n    print(Murmur3Token.from_key(bytes.fromhex(line.strip())).value)\n";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the peers python");
    // Feed the keys from another thread: the driver answers line by line, so writing everything
    // before reading would fill both pipes and deadlock.
    let mut stdin = child.stdin.take().expect("stdin");
    let input: String = keys.iter().map(|k| format!("{}\n", cairn_format::types::render::hex(k))).collect();
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python output");
    feeder.join().expect("feeder thread").expect("write keys");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf8");
    let theirs: Vec<i64> = text.lines().map(|l| l.trim().parse().expect("token")).collect();
    assert_eq!(theirs.len(), keys.len());
    let mut mismatches = 0;
    for (k, t) in keys.iter().zip(&theirs) {
        if cairn_format::partitioner::murmur3_token(k) != *t {
            mismatches += 1;
            eprintln!(
                "key {}: ours {}, driver {t}",
                cairn_format::types::render::hex(k),
                cairn_format::partitioner::murmur3_token(k)
            );
        }
    }
    assert_eq!(mismatches, 0);
    // The keys exercise the sign-extension quirk: many end in a byte >= 0x80 within the tail.
    assert!(keys.iter().filter(|k| k.len() % 16 != 0 && k.last().is_some_and(|b| *b >= 0x80)).count() > 1000);
}
