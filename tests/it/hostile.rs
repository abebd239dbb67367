//! Every framing and limit rule, raw bytes in, exact status and connection state out; after each
//! hostile case a fresh connection is served by the same (single) worker.

use crate::common;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::{get, is_closed_by_peer, read_response, wait_until, whoami_pid, Server};

/// Sends `raw`, expects one response with `status` and `Connection: close`, then the close,
/// and then checks that the same worker still serves a fresh connection.
fn expect_rejected(server: &Server, raw: &[u8], status: u16) {
    let worker = whoami_pid(&get(server.addr, "/whoami"));
    let mut s = server.connect();
    s.write_all(raw).unwrap();
    let mut pending = Vec::new();
    let resp = read_response(&mut s, &mut pending, false);
    let shown = String::from_utf8_lossy(raw);
    assert_eq!(resp.status, status, "for {shown:?}");
    assert_eq!(resp.header("connection"), Some("close"), "for {shown:?}");
    assert!(
        pending.is_empty(),
        "a second response followed for {shown:?}"
    );
    assert!(
        is_closed_by_peer(&mut s, Duration::from_secs(5)),
        "not closed for {shown:?}"
    );
    assert_eq!(
        whoami_pid(&get(server.addr, "/whoami")),
        worker,
        "the worker changed"
    );
}

fn server() -> Server {
    Server::start(&["--workers", "1"])
}

#[test]
fn ambiguous_framing_is_400() {
    let server = server();
    let post = |headers: &str| format!("POST /echo HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
    for headers in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5, 5\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 0x10\r\n",
        "Content-Length: 5 5\r\n",
        "Content-Length: -1\r\n",
        "Content-Length:\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ] {
        expect_rejected(&server, post(headers).as_bytes(), 400);
    }
    // HTTP/1.0 cannot use chunked framing.
    expect_rejected(
        &server,
        b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn unknown_transfer_coding_is_501() {
    let server = server();
    expect_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    );
}

#[test]
fn a_smuggling_attempt_is_never_read_as_two_requests() {
    let server = server();
    expect_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n\
          0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
    );
}

#[test]
fn host_rules_and_request_forms() {
    let server = server();
    expect_rejected(&server, b"GET / HTTP/1.1\r\n\r\n", 400);
    expect_rejected(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
    let resp = common::request(
        server.addr,
        b"GET http://example.com/healthz?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    assert_eq!((resp.status, resp.body_str()), (200, "ok"));
    // HTTP/1.0 needs no Host.
    let resp = common::request(server.addr, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(resp.status, 200);
}

#[test]
fn major_versions_other_than_1_are_505() {
    let server = server();
    expect_rejected(&server, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
    expect_rejected(&server, b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505);
    expect_rejected(&server, b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505);
    // A 1.x minor version we do not know is served as the highest we do (RFC 9110 §2.5).
    let resp = common::request(server.addr, b"GET / HTTP/1.2\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 200);
}

#[test]
fn syntax_errors_are_400() {
    let server = server();
    for raw in [
        &b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x1bb\r\n\r\n",
        b"GE(T / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    ] {
        expect_rejected(&server, raw, 400);
    }
}

#[test]
fn size_limits_map_to_431_414_413() {
    let server = Server::start(&[
        "--workers",
        "1",
        "--max-header-bytes",
        "4096",
        "--max-uri-bytes",
        "2048",
        "--max-body-bytes",
        "1000",
    ]);
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(5000)
    );
    expect_rejected(&server, big_header.as_bytes(), 431);
    let many = format!(
        "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
        "X-A: b\r\n".repeat(101)
    );
    expect_rejected(&server, many.as_bytes(), 431);
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "p".repeat(3000));
    expect_rejected(&server, long_target.as_bytes(), 414);
    // A request line that never ends is the target's fault too.
    expect_rejected(
        &server,
        format!("GET /{}", "p".repeat(5000)).as_bytes(),
        414,
    );
    // 413 is sent without reading the body.
    expect_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n",
        413,
    );
    // Exactly at the limits is fine.
    let body = vec![b'b'; 1000];
    let mut raw = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".to_vec();
    raw.extend_from_slice(&body);
    assert_eq!(common::request(server.addr, &raw).body, body);
}

#[test]
fn oversized_chunked_body_is_413() {
    let server = Server::start(&["--workers", "1", "--max-body-bytes", "1000"]);
    // Discovered while reading chunks, whatever the route: 413, never a partial 200.
    for route in ["/echo", "/missing"] {
        let mut raw =
            format!("POST {route} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                .into_bytes();
        raw.extend_from_slice(b"1f4\r\n");
        raw.extend_from_slice(&[b'a'; 500]);
        raw.extend_from_slice(b"\r\n1f5\r\n");
        expect_rejected(&server, &raw, 413);
    }
}

#[test]
fn invalid_chunked_framing_is_rejected_without_a_second_request() {
    let server = server();
    for (chunk, status) in [
        (&b"zz\r\n"[..], 400),
        (b"\r\n", 400),
        (b"-1\r\n", 400),
        (b"5\r\nhelloXX", 400),
        (b"5 \r\nhello\r\n", 400),
        (b"5;a=\"x\r\nhello\r\n", 400),
        (b"11111111111111111\r\n", 413),
    ] {
        let mut raw =
            b"POST /missing HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        // The request is judged whole before any answer: its error, and nothing after it.
        expect_rejected(&server, &raw, status);
    }
}

#[test]
fn chunk_extensions_and_trailers_are_accepted_and_ignored() {
    let server = server();
    let mut s = server.connect();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          4;name=value\r\nabcd\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n\
          GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut pending = Vec::new();
    let echoed = read_response(&mut s, &mut pending, false);
    // The body is whole before the answer: it goes back with its length.
    assert_eq!((echoed.status, echoed.body_str()), (200, "abcd"));
    assert_eq!(echoed.header("content-length"), Some("4"));
    assert_eq!(read_response(&mut s, &mut pending, false).body_str(), "ok");
}

#[test]
fn expect_100_continue() {
    let server = server();
    // The interim response comes before the body is sent.
    let mut s = server.connect();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    )
    .unwrap();
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut s, &mut pending, false).status, 100);
    s.write_all(b"ping").unwrap();
    let resp = read_response(&mut s, &mut pending, false);
    assert_eq!((resp.status, resp.body_str()), (200, "ping"));
    // Body already there: no 100.
    let resp = common::request(
        server.addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\npong",
    );
    assert_eq!((resp.status, resp.body_str()), (200, "pong"));
    // Too large: 413 and close, never a 100.
    expect_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 99999999999\r\n\r\n",
        413,
    );
}

#[test]
fn error_bodies_are_short_text_with_content_length() {
    let server = server();
    for (raw, status) in [
        (&b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"[..], 404),
        (b"PATCH / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"BAD\r\n\r\n", 400),
    ] {
        let resp = common::request(server.addr, raw);
        assert_eq!(resp.status, status);
        assert_eq!(resp.header("content-type"), Some("text/plain"));
        let len: usize = resp.header("content-length").unwrap().parse().unwrap();
        assert!(len > 0 && len < 64 && resp.body.len() == len);
    }
}

#[test]
fn lingering_close_delivers_the_response_despite_unread_input() {
    let server = server();
    let mut s = server.connect();
    // A bad request followed by a lot more data: closing with unread data would send an RST
    // that could destroy the 400 before the client reads it.
    let mut raw = b"GARB(AGE / HTTP/1.1\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 256 * 1024));
    let mut writer = s.try_clone().unwrap();
    let t = std::thread::spawn(move || {
        let _ = writer.write_all(&raw);
        let _ = writer.shutdown(Shutdown::Write);
    });
    // Read only once the server has answered (and, were it to close with the input unread,
    // reset the connection): the one worker counts the parse error, then answers /status.
    let answered = wait_until(Duration::from_secs(5), || {
        (common::status_total(server.addr, "parse_errors") >= 1).then_some(())
    });
    assert!(answered.is_some(), "the bad request was not answered");
    let resp = read_response(&mut s, &mut Vec::new(), false);
    assert_eq!(resp.status, 400);
    t.join().unwrap();
    assert!(is_closed_by_peer(&mut s, Duration::from_secs(5)));
}

#[test]
fn a_pipelining_client_that_never_reads_is_bounded() {
    let server = server();
    let mut s = server.connect();
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let batch = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    let mut sent = 0usize;
    while sent < 512 * 1024 * 1024 {
        match s.write(&batch) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(sent < 512 * 1024 * 1024, "the server parsed without bound");
    // The worker is still healthy for everyone else.
    assert_eq!(get(server.addr, "/").status, 200);
}

#[test]
fn lingering_close_is_bounded_even_if_the_client_never_stops_sending() {
    let server = server();
    let mut s = server.connect();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"BAD REQUEST\r\n\r\n").unwrap();
    let chunk = vec![b'x'; 16 * 1024];
    let start = std::time::Instant::now();
    // The server answers 400, shuts down its side and drains for at most 2 s, then closes;
    // a client still sending then gets a reset.
    let closed = loop {
        if s.write_all(&chunk).is_err() {
            break true;
        }
        if start.elapsed() > Duration::from_secs(10) {
            break false;
        }
    };
    assert!(closed, "the lingering close never ended");
    assert_eq!(get(server.addr, "/").status, 200);
}
