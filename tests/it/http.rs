//! HTTP/1.1 against the real binary: routes, HEAD, pipelining, partial reads, bodies, errors.

use crate::common;

use std::io::Write;
use std::time::Duration;

use common::{get, is_closed_by_peer, read_response, request, Server};

#[test]
fn get_root_has_the_standard_headers() {
    let server = Server::start(&["--workers", "1"]);
    let resp = get(server.addr, "/");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body_str(), "Hello, World!");
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    assert_eq!(resp.header("content-length"), Some("13"));
    assert_eq!(resp.header("server"), Some("prefork-server"));
    let date = resp.header("date").expect("Date header");
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
    assert_eq!(get(server.addr, "/healthz").body_str(), "ok");
}

#[test]
fn head_has_get_headers_and_no_body() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    s.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut pending = Vec::new();
    let head = read_response(&mut s, &mut pending, true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    // The next response follows at once: HEAD sent no body bytes.
    let next = read_response(&mut s, &mut pending, false);
    assert_eq!(next.body_str(), "ok");
}

#[test]
fn hundred_pipelined_requests_in_one_write() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    let batch = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
    s.write_all(&batch).unwrap();
    let mut pending = Vec::new();
    for i in 0..100 {
        let resp = read_response(&mut s, &mut pending, false);
        assert_eq!(
            (resp.status, resp.body_str()),
            (200, "Hello, World!"),
            "response {i}"
        );
    }
    assert!(pending.is_empty(), "no extra bytes");
}

#[test]
fn request_delivered_one_byte_at_a_time() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    s.set_nodelay(true).unwrap();
    let raw = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    for b in raw {
        s.write_all(&[*b]).unwrap();
        // Bytes apart in time, so the server reads them one at a time: the wait is the test.
        std::thread::sleep(Duration::from_millis(1));
    }
    let resp = read_response(&mut s, &mut Vec::new(), false);
    assert_eq!((resp.status, resp.body_str()), (200, "hello"));
}

#[test]
fn post_echo_one_mebibyte() {
    let server = Server::start(&["--workers", "1"]);
    let body: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let mut s = server.connect();
    let mut writer = s.try_clone().unwrap();
    let sent = body.clone();
    let t = std::thread::spawn(move || {
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-test\r\nContent-Length: {}\r\n\r\n",
            sent.len()
        );
        writer.write_all(head.as_bytes()).unwrap();
        writer.write_all(&sent).unwrap();
    });
    let resp = read_response(&mut s, &mut Vec::new(), false);
    t.join().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/x-test"));
    assert!(resp.body == body, "echoed body differs");
}

#[test]
fn chunked_post_is_echoed() {
    let server = Server::start(&["--workers", "1"]);
    let resp = request(
        server.addr,
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
    );
    // The body is whole before the answer, so it goes back with its length.
    assert_eq!((resp.status, resp.body_str()), (200, "hello"));
    assert_eq!(resp.header("content-length"), Some("5"));
    assert_eq!(resp.header("transfer-encoding"), None);
}

#[test]
fn not_found_and_method_not_allowed() {
    let server = Server::start(&["--workers", "1"]);
    let resp = get(server.addr, "/nope");
    assert_eq!(resp.status, 404);
    assert!(!resp.body.is_empty());
    let resp = request(server.addr, b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("allow"), Some("GET, HEAD, OPTIONS"));
    let resp = get(server.addr, "/echo");
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("allow"), Some("POST, PUT, OPTIONS"));
}

#[test]
fn malformed_gets_400_and_close_then_a_fresh_connection_works() {
    let server = Server::start(&["--workers", "1"]);
    for raw in [
        &b"THIS IS NOT HTTP\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ] {
        let mut s = server.connect();
        s.write_all(raw).unwrap();
        let resp = read_response(&mut s, &mut Vec::new(), false);
        assert_eq!(resp.status, 400, "{:?}", String::from_utf8_lossy(raw));
        assert_eq!(resp.header("connection"), Some("close"));
        assert!(is_closed_by_peer(&mut s, Duration::from_secs(5)));
        assert_eq!(get(server.addr, "/").status, 200);
    }
}

#[test]
fn http10_closes_unless_keep_alive_is_asked() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let resp = read_response(&mut s, &mut Vec::new(), false);
    assert_eq!(resp.status, 200);
    assert!(is_closed_by_peer(&mut s, Duration::from_secs(5)));

    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let mut pending = Vec::new();
    let resp = read_response(&mut s, &mut pending, false);
    assert_eq!(resp.header("connection"), Some("keep-alive"));
    s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s, &mut pending, false).body_str(), "ok");
}

#[test]
fn connection_close_is_honoured() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut s, &mut Vec::new(), false);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(is_closed_by_peer(&mut s, Duration::from_secs(5)));
}

#[test]
fn ipv6_loopback_works() {
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args(["--bind", "::1", "--port", "0", "--workers", "1"]);
    let server = Server::spawn(cmd);
    assert!(server.addr.is_ipv6());
    assert_eq!(get(server.addr, "/").status, 200);
}
