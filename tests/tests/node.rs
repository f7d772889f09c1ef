//! `cairn node` against real clients: the Python driver (cassandra-driver 3.30.1) connects
//! with schema and token metadata and runs DDL, simple, prepared and batched statements,
//! paging, TTLs, WRITETIME and deletes of every kind (tests/peers/driver_smoke.py asserts each).

use std::path::Path;
use std::process::Command;

#[test]
fn the_python_driver_works_against_the_node() {
    let Some(python) = cairn_tests::peers_python("cassandra-driver") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers").join("driver_smoke.py");
    let out = Command::new(python).arg(script).arg(node.addr.port().to_string()).output().expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "driver smoke test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.stop();
}

#[test]
fn malformed_frames_get_a_protocol_error_and_the_node_keeps_serving() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = cairn_server::NodeConfig {
        data_dir: tmp.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        max_frame_bytes: 1 << 16,
        ..Default::default()
    };
    let node = cairn_server::start(config).expect("start");
    let read_error = |c: &mut std::net::TcpStream| -> (u8, i32, String) {
        let mut h = [0u8; 9];
        c.read_exact(&mut h).expect("header");
        let len = i32::from_be_bytes([h[5], h[6], h[7], h[8]]) as usize;
        let mut body = vec![0u8; len];
        c.read_exact(&mut body).expect("body");
        let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        let n = u16::from_be_bytes([body[4], body[5]]) as usize;
        (h[4], code, String::from_utf8_lossy(&body[6..6 + n]).to_string())
    };
    // Oversized, garbage opcode, a v5 client, a query before STARTUP.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0x04, 0, 0, 1, 0x07, 0x00, 0x10, 0x00, 0x00], "exceeds"),
        (vec![0x04, 0, 0, 1, 0x42, 0, 0, 0, 0], "unknown request opcode"),
        (vec![0x05, 0, 0, 1, 0x05, 0, 0, 0, 0], "unsupported protocol version"),
        (vec![0x04, 0, 0, 1, 0x07, 0, 0, 0, 9, 0, 0, 0, 1, b'x', 0, 1, 0, 0], "STARTUP"),
    ];
    for (bytes, expect) in cases {
        let mut c = std::net::TcpStream::connect(node.addr).expect("connect");
        c.write_all(&bytes).expect("write");
        let (op, code, msg) = read_error(&mut c);
        assert_eq!((op, code), (0x00, 0x000A), "{msg}");
        assert!(msg.to_lowercase().contains(&expect.to_lowercase()), "{msg}");
    }
    // Still serving: OPTIONS gets SUPPORTED.
    let mut c = std::net::TcpStream::connect(node.addr).expect("connect");
    c.write_all(&[0x04, 0, 0, 7, 0x05, 0, 0, 0, 0]).expect("write");
    let mut h = [0u8; 9];
    c.read_exact(&mut h).expect("header");
    assert_eq!((h[0], h[4]), (0x84, 0x06));
    node.stop();
}
