//! `--echo-delay`, `--echo-close-after` and `--echo-close-after-bytes` against the real binary:
//! the timing a client sees, within bounds loose enough for a loaded machine.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{get, Server, BIN};

const MS: Duration = Duration::from_millis(1);

fn echo_server(extra: &[&str]) -> Server {
    let mut args = vec!["--workers", "1", "--protocol", "echo"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Reads until the peer closes; how long that took from `since`, and what came.
fn read_until_closed(s: &mut TcpStream, since: Instant) -> (Duration, Vec<u8>) {
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("a clean close (FIN)");
    (since.elapsed(), got)
}

#[test]
fn a_delayed_echo_comes_back_no_sooner_than_the_delay() {
    let server = echo_server(&["--echo-delay", "300ms"]);
    let mut s = server.connect();
    for piece in [&b"ping"[..], b"second piece"] {
        let sent = Instant::now();
        s.write_all(piece).unwrap();
        let mut got = vec![0u8; piece.len()];
        s.read_exact(&mut got).unwrap();
        let took = sent.elapsed();
        assert_eq!(got, piece);
        assert!(took >= 300 * MS, "echoed after {took:?}");
        assert!(took < 1300 * MS, "echoed only after {took:?}");
    }
    // Two chunks 150 ms apart come back 150 ms apart: each keeps its own delay.
    let start = Instant::now();
    s.write_all(b"a").unwrap();
    // The gap between the two chunks is what the test times: the wait is the test.
    std::thread::sleep(150 * MS);
    s.write_all(b"b").unwrap();
    let mut one = [0u8; 1];
    s.read_exact(&mut one).unwrap();
    let first = start.elapsed();
    s.read_exact(&mut one).unwrap();
    let second = start.elapsed();
    assert!(
        first >= 300 * MS && second >= 450 * MS,
        "{first:?} {second:?}"
    );
    assert!(second - first >= 100 * MS, "{first:?} {second:?}");
}

#[test]
fn the_worker_serves_others_while_echoes_wait() {
    // One worker, a long delay: 20 connections wait at once (not one after another), and the
    // same worker answers HTTP on its metrics port meanwhile.
    let server = echo_server(&["--echo-delay", "1s", "--metrics-port", "0"]);
    let line = server
        .wait_for_log("serving /metrics and /status on ", 5000 * MS)
        .expect("metrics address logged");
    let metrics: std::net::SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    let start = Instant::now();
    let mut conns: Vec<TcpStream> = (0..20).map(|_| server.connect()).collect();
    for (i, s) in conns.iter_mut().enumerate() {
        s.write_all(format!("conn {i:02}").as_bytes()).unwrap();
    }
    let asked = Instant::now();
    assert_eq!(get(metrics, "/healthz").status, 200);
    let answered = asked.elapsed();
    assert!(
        answered < 500 * MS,
        "the worker took {answered:?} to answer"
    );
    for (i, s) in conns.iter_mut().enumerate() {
        let mut got = [0u8; 7];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, format!("conn {i:02}").as_bytes());
    }
    let took = start.elapsed();
    assert!(took >= 1000 * MS, "{took:?}");
    assert!(
        took < 3000 * MS,
        "20 delayed echoes took {took:?}: waited in turn?"
    );
}

#[test]
fn a_delayed_echo_under_backpressure_loses_nothing() {
    // More than the connection's read buffer, sent at once: the worker reads a buffer-full,
    // holds it for the delay, sends it, reads on.
    let server = echo_server(&["--echo-delay", "50ms"]);
    let data: Vec<u8> = (0..512 * 1024).map(|i| (i % 251) as u8).collect();
    let mut s = server.connect();
    common::echo_round_trip(&mut s, &data);
}

#[test]
fn close_after_closes_that_long_after_accept() {
    let server = echo_server(&["--echo-close-after", "500ms"]);
    let start = Instant::now();
    let mut s = server.connect();
    s.write_all(b"hi").unwrap();
    let mut got = [0u8; 2];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hi", "it echoes until then");
    let (took, rest) = read_until_closed(&mut s, start);
    assert!(rest.is_empty());
    assert!(took >= 500 * MS, "closed after {took:?}");
    assert!(took < 1500 * MS, "closed only after {took:?}");
}

#[test]
fn close_after_bytes_echoes_exactly_that_many_then_closes() {
    let server = echo_server(&["--echo-close-after-bytes", "10"]);
    let mut s = server.connect();
    s.write_all(b"0123456789abcdefghijklmno").unwrap();
    let (_, got) = read_until_closed(&mut s, Instant::now());
    assert_eq!(got, b"0123456789");

    // 0: closed as the first bytes arrive, nothing echoed ("before the response").
    let server = echo_server(&["--echo-close-after-bytes", "0"]);
    let mut s = server.connect();
    s.write_all(b"hello").unwrap();
    let (_, got) = read_until_closed(&mut s, Instant::now());
    assert!(got.is_empty());

    // With a delay: the bytes come after it, then the close.
    let server = echo_server(&["--echo-delay", "200ms", "--echo-close-after-bytes", "5"]);
    let mut s = server.connect();
    let start = Instant::now();
    s.write_all(b"hello world").unwrap();
    let (took, got) = read_until_closed(&mut s, start);
    assert_eq!(got, b"hello");
    assert!(took >= 200 * MS, "{took:?}");
}

#[test]
fn echo_options_need_the_echo_protocol() {
    let out = Command::new(BIN)
        .args(["--check", "--port", "0", "--echo-delay", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--protocol echo"));
}
