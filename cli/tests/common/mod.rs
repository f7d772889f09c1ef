//! Helpers shared by the CLI test files: the Python peers and a `cairn node` child process.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Run the built `cairn` with `args`.
pub fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output().expect("run cairn")
}

/// `out`, which must have succeeded (else the test fails with `what` and its stderr).
pub fn ok(out: Output, what: &str) -> Output {
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A path as an argument.
pub fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The one directory inside `p`.
pub fn only_subdir(p: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(p).expect("read_dir").map(|e| e.expect("entry").path()).filter(|p| p.is_dir()).collect();
    assert_eq!(dirs.len(), 1, "{}: {dirs:?}", p.display());
    dirs.into_iter().next().expect("one")
}

/// `cairn gen DATASET --rows ROWS` with `extra` options at the fixed clock 1700000000 into
/// `root`, which must succeed; returns the one table directory written.
pub fn gen_table(root: &Path, dataset: &str, rows: u32, extra: &[&str]) -> PathBuf {
    let (rows, out) = (rows.to_string(), s(root));
    let args = [&["gen", dataset, "--rows", &rows, "--now", "1700000000", "--out", &out][..], extra].concat();
    ok(cairn(&args), "gen");
    only_subdir(&root.join("cairn"))
}

/// The Python of the peers' virtualenv (`CAIRN_PEERS_PYTHON`); in CI its absence is a failure.
pub fn peers_python() -> Option<String> {
    match std::env::var("CAIRN_PEERS_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(std::env::var("CI").is_err(), "CAIRN_PEERS_PYTHON is not set");
            eprintln!("CAIRN_PEERS_PYTHON is not set: the driver test was not run");
            None
        }
    }
}

/// Start `cairn node` on a free port (retrying when another process takes the port between
/// choosing and binding it), with batch commit-log sync and `CAIRN_CRASH_AT=crash_at` when
/// given; returns the child and its port once it is ready.
pub fn start_node(data: &Path, crash_at: Option<u64>) -> (std::process::Child, u16) {
    for _ in 0..20 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
        c.args(["node", "--data", &data.display().to_string(), "--port", &port.to_string(), "--admin-port", "0"]);
        c.args(["--commitlog-sync", "batch"]).stderr(Stdio::piped());
        if let Some(n) = crash_at {
            c.env("CAIRN_CRASH_AT", n.to_string());
        }
        let mut child = c.spawn().expect("spawn node");
        let mut err = child.stderr.take().expect("stderr");
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        let ready = loop {
            if String::from_utf8_lossy(&seen).contains("ready, CQL") {
                break true;
            }
            match err.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => break false,
            }
        };
        if ready {
            // Keep draining its stderr, as a terminal would.
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return (child, port);
        }
        let _ = child.wait();
        assert!(String::from_utf8_lossy(&seen).contains("in use"), "node failed: {}", String::from_utf8_lossy(&seen));
    }
    panic!("no free port for the node");
}
