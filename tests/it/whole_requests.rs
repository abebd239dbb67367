//! A request is answered only once it is whole (head, body, trailers) and has passed every
//! framing and limit check: nothing but `100 Continue` goes out before that. Raw bytes against
//! the real binary.

use crate::common;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::{is_closed_by_peer, read_response, stays_silent, Server};

/// Long enough that a response the server had already sent would have arrived.
const QUIET: Duration = Duration::from_millis(300);

#[test]
fn a_body_sent_in_pieces_is_answered_after_its_last_byte() {
    let server = Server::start(&["--workers", "1"]);
    for route in ["/echo", "/missing", "/"] {
        let mut s = server.connect();
        s.write_all(
            format!("POST {route} HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\n").as_bytes(),
        )
        .unwrap();
        for piece in [&b"abcdefghij"[..], b"klmnopqrst"] {
            s.write_all(piece).unwrap();
            assert!(
                stays_silent(&mut s, QUIET),
                "{route}: answered before the body was whole"
            );
        }
        s.write_all(b"uvwxyz").unwrap();
        let resp = read_response(&mut s, &mut Vec::new(), false);
        match route {
            "/echo" => assert_eq!(
                (resp.status, resp.body_str()),
                (200, "abcdefghijklmnopqrstuvwxyz")
            ),
            "/missing" => assert_eq!(resp.status, 404),
            _ => assert_eq!(resp.status, 405),
        }
    }
}

#[test]
fn a_chunked_body_is_answered_after_its_trailers() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    s.write_all(
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    )
    .unwrap();
    assert!(stays_silent(&mut s, QUIET));
    s.write_all(b"0\r\nX-Checksum: 1\r\n").unwrap();
    assert!(
        stays_silent(&mut s, QUIET),
        "answered before the trailer section ended"
    );
    s.write_all(b"\r\n").unwrap();
    let resp = read_response(&mut s, &mut Vec::new(), false);
    assert_eq!((resp.status, resp.body_str()), (200, "hello"));
    assert_eq!(resp.header("content-length"), Some("5"));
}

#[test]
fn a_truncated_body_gets_no_success() {
    let server = Server::start(&["--workers", "1"]);
    for framing in [
        "Content-Length: 100\r\n\r\nonly some of it",
        "Transfer-Encoding: chunked\r\n\r\n64\r\nonly some of it",
    ] {
        let mut s = server.connect();
        s.write_all(format!("POST /echo HTTP/1.1\r\nHost: x\r\n{framing}").as_bytes())
            .unwrap();
        // The client gives up: RFC 9112 §6.3 makes the message incomplete.
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = std::io::Read::read_to_end(&mut s, &mut rest);
        let text = String::from_utf8_lossy(&rest);
        assert!(
            !text.contains(" 200 "),
            "a truncated body was answered: {text:?}"
        );
    }
}

#[test]
fn http_1_0_ignores_expect_continue() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    s.write_all(b"POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .unwrap();
    // Neither a 100 (1.0 has none) nor the 200 before the body.
    assert!(stays_silent(&mut s, QUIET));
    s.write_all(b"ping").unwrap();
    let resp = read_response(&mut s, &mut Vec::new(), false);
    assert_eq!((resp.status, resp.body_str()), (200, "ping"));
    assert!(is_closed_by_peer(&mut s, Duration::from_secs(5)));
}

#[test]
fn expect_continue_then_the_whole_body_then_the_answer() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\n",
    )
    .unwrap();
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut s, &mut pending, false).status, 100);
    s.write_all(b"half").unwrap();
    assert!(stays_silent(&mut s, QUIET));
    s.write_all(b"full").unwrap();
    let resp = read_response(&mut s, &mut pending, false);
    assert_eq!((resp.status, resp.body_str()), (200, "halffull"));
}

#[test]
fn metrics_and_status_see_whole_requests_too() {
    let server = Server::start(&["--workers", "1"]);
    for route in ["/metrics", "/status"] {
        let mut s = server.connect();
        s.write_all(
            format!("GET {route} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab").as_bytes(),
        )
        .unwrap();
        assert!(stays_silent(&mut s, QUIET), "{route}");
        s.write_all(b"cde").unwrap();
        assert_eq!(read_response(&mut s, &mut Vec::new(), false).status, 200);
    }
}

#[test]
fn pipelined_requests_after_bodies_are_answered_in_order() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    let body = vec![b'z'; 200_000];
    let mut raw = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    raw.extend_from_slice(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    raw.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut writer = s.try_clone().unwrap();
    let t = std::thread::spawn(move || writer.write_all(&raw).unwrap());
    let mut pending = Vec::new();
    let first = read_response(&mut s, &mut pending, false);
    assert_eq!((first.status, first.body.len()), (200, body.len()));
    assert!(first.body == body);
    assert_eq!(read_response(&mut s, &mut pending, false).body_str(), "abc");
    assert_eq!(read_response(&mut s, &mut pending, false).body_str(), "ok");
    t.join().unwrap();
}
