//! RFC 9110/9112 rules on the request line and Host, raw bytes against the real binary: what
//! gets 400, 414, 431, 501, and what must be accepted.

use crate::common;

use common::{request, Server};

fn status(server: &Server, raw: &[u8]) -> u16 {
    request(server.addr, raw).status
}

#[test]
fn invalid_host_values_are_400() {
    let server = Server::start(&["--workers", "1"]);
    for host in [
        "a b",
        "user@example.com",
        "example.com/path",
        "example.com:80:80",
        "example.com:http",
        "[::1",
        "exa\"mple",
    ] {
        let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        assert_eq!(status(&server, raw.as_bytes()), 400, "Host: {host}");
    }
    for host in [
        "example.com",
        "example.com:8080",
        "127.0.0.1",
        "[::1]:80",
        "",
    ] {
        let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        assert_eq!(status(&server, raw.as_bytes()), 200, "Host: {host}");
    }
}

#[test]
fn absolute_form_targets_need_a_valid_authority() {
    let server = Server::start(&["--workers", "1"]);
    for target in [
        "http:///echo",
        "http://user@example.com/",
        "http://a b/",
        "http://:80/",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(status(&server, raw.as_bytes()), 400, "{target}");
    }
    let raw =
        b"GET http://example.com/healthz HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n";
    assert_eq!(request(server.addr, raw).body_str(), "ok");
}

#[test]
fn unknown_methods_are_501_known_ones_405() {
    let server = Server::start(&["--workers", "1"]);
    for method in ["BREW", "PROPFIND", "get"] {
        let raw = format!("{method} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(status(&server, raw.as_bytes()), 501, "{method}");
    }
    for method in ["DELETE", "PATCH", "TRACE", "POST"] {
        let raw = format!(
            "{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let resp = request(server.addr, raw.as_bytes());
        assert_eq!(resp.status, 405, "{method}");
        assert_eq!(resp.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
    let resp = request(
        server.addr,
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    assert!(resp.header("allow").is_some());
    assert_eq!(
        status(
            &server,
            b"GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ),
        400
    );
}

#[test]
fn unknown_minor_versions_are_served_as_1_1() {
    let server = Server::start(&["--workers", "1"]);
    let resp = request(
        server.addr,
        b"GET / HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((resp.status, resp.body_str()), (200, "Hello, World!"));
    assert!(resp.head.starts_with("HTTP/1.1 200"));
    // Still 1.1's rules: a Host is required.
    assert_eq!(status(&server, b"GET / HTTP/1.7\r\n\r\n"), 400);
}

#[test]
fn leading_zeros_in_lengths_are_valid() {
    let server = Server::start(&["--workers", "1"]);
    let zeros = "0".repeat(21);
    let raw = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {zeros}5\r\nConnection: close\r\n\r\nhello"
    );
    assert_eq!(request(server.addr, raw.as_bytes()).body_str(), "hello");
    let raw = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {zeros}5\r\nhello\r\n{zeros}0\r\n\r\n"
    );
    assert_eq!(request(server.addr, raw.as_bytes()).body_str(), "hello");
}

#[test]
fn an_8000_octet_target_is_served_by_default_and_limits_still_hold() {
    let server = Server::start(&["--workers", "1"]);
    let path = format!("/{}", "a".repeat(7999));
    let ordinary = "User-Agent: conformance/1.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n";
    let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{ordinary}Connection: close\r\n\r\n");
    assert_eq!(status(&server, raw.as_bytes()), 404, "served, not 414");
    let raw = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(8192)
    );
    assert_eq!(status(&server, raw.as_bytes()), 414);
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(17_000)
    );
    assert_eq!(status(&server, raw.as_bytes()), 431);
}

#[test]
fn contradictory_limits_are_a_usage_error() {
    let out = std::process::Command::new(common::BIN)
        .args([
            "--max-header-bytes",
            "4k",
            "--max-uri-bytes",
            "8k",
            "--check",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-uri-bytes"));
}
