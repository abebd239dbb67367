//! The echo protocol against the real binary.

use crate::common;

use std::io::{Read, Write};
use std::net::Shutdown;

use common::Server;

#[test]
fn one_mebibyte_in_one_go_comes_back_identical() {
    let server = Server::start(&["--workers", "1", "--protocol", "echo"]);
    let data: Vec<u8> = (0..1024 * 1024).map(|i| (i % 253) as u8).collect();
    let mut s = server.connect();
    common::echo_round_trip(&mut s, &data);
}

#[test]
fn interactive_exchange_in_small_pieces() {
    let server = Server::start(&["--workers", "1", "--protocol", "echo"]);
    let mut s = server.connect();
    for piece in ["h", "el", "lo ", "wor", "ld\n", "x"] {
        s.write_all(piece.as_bytes()).unwrap();
        let mut got = vec![0u8; piece.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, piece.as_bytes());
    }
}

#[test]
fn half_close_flushes_then_closes() {
    let server = Server::start(&["--workers", "1", "--protocol", "echo"]);
    let mut s = server.connect();
    let data = b"last words before the FIN".repeat(1000);
    s.write_all(&data).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("server closes after flushing");
    assert!(got == data);
}

#[test]
fn a_client_that_never_reads_does_not_grow_the_server_without_bound() {
    let server = Server::start(&["--workers", "1", "--protocol", "echo"]);
    let mut s = server.connect();
    s.set_write_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    // Write without reading until the kernel buffers and the server's bound are full.
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 64 * 1024 * 1024 {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent < 64 * 1024 * 1024,
        "the server kept reading without bound"
    );
    // Now read everything back: nothing was dropped.
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.set_write_timeout(None).unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while got < sent {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        assert!(buf[..n].iter().all(|&b| b == b'x'));
        got += n;
    }
    assert_eq!(got, sent);
}
