//! `/raw` and `/inspect` against the real binary: the head byte for byte, the body's length
//! and hash, the ordered headers, the forwarding chain, which connection and which request on
//! it, which worker, the kernel's TCP figures; and the JSON access log naming the same
//! connection.

use crate::common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::bin::{exchange, get, raw, read_answer, Answer};
use common::Server;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn server() -> Server {
    Server::start(&["--workers", "1"])
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn raw_returns_the_head_exactly_as_sent() {
    let s = server();
    // A long target with percent-escapes, a blank line before the request line, odd case,
    // duplicates, spacing the parser takes (none, tabs, trailing), an empty value and a line
    // ending in a bare LF.
    let target = format!("/raw?q={}&z=%00%FF+%2B", "%E2%9C%93%20a%2Fb".repeat(200));
    let head = format!(
        "\r\nGET {target} HTTP/1.1\r\nhOsT: bin.test\r\nX-Dup: one\r\nx-dup:two\r\n\
X-DUP: \t three \t \r\nX-Empty:\r\nAccept: */*\nConnection: close\r\n\r\n"
    );
    assert!(target.len() > 3000);
    let a = exchange(s.addr, head.as_bytes());
    assert_eq!(a.status, 200);
    assert_eq!(a.field("content-type"), Some("text/plain"));
    assert_eq!(a.field("x-content-type-options"), Some("nosniff"));
    assert_eq!(a.field("x-body-length"), Some("0"));
    assert_eq!(a.field("x-body-sha256"), Some(sha256_hex(b"").as_str()));
    assert_eq!(a.body, head.as_bytes(), "the head, byte for byte");
    // HEAD: the same head, no body.
    let head_req = "HEAD /raw HTTP/1.1\r\nHost: bin.test\r\nConnection: close\r\n\r\n";
    let a = exchange(s.addr, head_req.as_bytes());
    assert_eq!(a.status, 200);
    assert_eq!(
        a.field("content-length"),
        Some(&*head_req.len().to_string())
    );
    assert!(a.body.is_empty());
}

#[test]
fn raw_hashes_the_body_and_appends_it_on_request() {
    let s = server();
    // Larger than the write buffer: the answer goes through the memory budget.
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let hash = sha256_hex(&body);
    for (target, echoed) in [
        ("/raw", false),
        ("/raw?body=1", true),
        ("/raw?body=0", false),
    ] {
        let request = raw("PUT", target, &["Content-Type: application/x-thing"], &body);
        let head_len = request.len() - body.len();
        let a = exchange(s.addr, &request);
        assert_eq!(a.status, 200, "{target}");
        assert_eq!(a.field("x-body-length"), Some("200000"));
        assert_eq!(a.field("x-body-sha256"), Some(hash.as_str()));
        let want = if echoed {
            &request[..]
        } else {
            &request[..head_len]
        };
        assert!(a.body == want, "{target}: not the request as sent");
    }
    // A chunked body: the head as sent, the body decoded (its framing is not kept).
    let head = "POST /raw?body=true HTTP/1.1\r\nHost: bin.test\r\nTransfer-Encoding: chunked\r\n\
Connection: close\r\n\r\n";
    let mut request = head.as_bytes().to_vec();
    request.extend_from_slice(b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n");
    let a = exchange(s.addr, &request);
    assert_eq!(a.field("x-body-length"), Some("5"));
    assert_eq!(
        a.field("x-body-sha256"),
        Some(sha256_hex(b"abcde").as_str())
    );
    assert_eq!(a.body, format!("{head}abcde").as_bytes());
}

#[test]
fn inspect_lists_headers_in_order_and_parses_the_forwarding_chain() {
    let s = server();
    let j = get(
        s.addr,
        "/inspect?a=%41",
        &[
            "x-dup: 1",
            "X-Dup:2",
            "X-Forwarded-For: 203.0.113.7, 10.0.0.1",
            "Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8::17]:4711\"",
            "X-Forwarded-For:10.0.0.2 ,",
            "Forwarded: for=\"a\\\"b\";host=x",
        ],
    )
    .json();
    assert_eq!(j["method"], "GET");
    assert_eq!(j["target"], "/inspect?a=%41");
    assert_eq!(j["version"], "HTTP/1.1");
    assert_eq!(
        j["headers"],
        json!([
            ["Host", "bin.test"],
            ["Connection", "close"],
            ["x-dup", "1"],
            ["X-Dup", "2"],
            ["X-Forwarded-For", "203.0.113.7, 10.0.0.1"],
            [
                "Forwarded",
                "for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8::17]:4711\""
            ],
            ["X-Forwarded-For", "10.0.0.2 ,"],
            ["Forwarded", "for=\"a\\\"b\";host=x"]
        ])
    );
    assert_eq!(
        j["x_forwarded_for"],
        json!(["203.0.113.7", "10.0.0.1", "10.0.0.2"])
    );
    assert_eq!(
        j["forwarded"],
        json!([
            {"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"},
            {"for": "[2001:db8::17]:4711"},
            {"for": "a\"b", "host": "x"}
        ])
    );
    assert_eq!(j["proxy"], Value::Null, "no PROXY protocol yet");
    let j = get(s.addr, "/inspect", &[]).json();
    assert_eq!(j["x_forwarded_for"], Value::Null);
    assert_eq!(j["forwarded"], Value::Null);
}

/// Sends `request` on `conn` and reads its answer.
fn ask(conn: &mut TcpStream, request: &str) -> Answer {
    conn.write_all(request.as_bytes()).unwrap();
    read_answer(conn, false)
}

const INSPECT: &str = "GET /inspect HTTP/1.1\r\nHost: bin.test\r\n\r\n";

#[test]
fn inspect_names_the_connection_the_request_the_worker_and_the_path() {
    let s = server();
    let whoami = common::get(s.addr, "/whoami");
    let pid = common::whoami_pid(&whoami);
    let mut first = s.connect();
    let answers: Vec<Value> = (0..3).map(|_| ask(&mut first, INSPECT).json()).collect();
    let id = answers[0]["connection"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with(&format!("{pid}-")), "{id}");
    for (i, j) in answers.iter().enumerate() {
        assert_eq!(j["connection"]["request_index"], i as u64);
        assert_eq!(j["connection"]["id"], id.as_str(), "one id per connection");
        assert_eq!(j["worker"]["pid"], pid);
        assert_eq!(j["worker"]["slot"], 0);
        assert_eq!(j["worker"]["generation"], 1);
        assert_eq!(j["peer"], first.local_addr().unwrap().to_string());
        assert_eq!(j["local"], s.addr.to_string());
    }
    // The kernel's figures: after two exchanges the RTT is measured, even on loopback.
    let tcp = &answers[2]["tcp_info"];
    assert!(tcp["rtt_us"].as_u64().unwrap() > 0, "{tcp}");
    assert!(tcp["snd_cwnd"].as_u64().unwrap() > 0, "{tcp}");
    assert!(tcp["pmtu"].as_u64().unwrap() > 0, "{tcp}");
    assert_eq!(tcp["total_retrans"], 0, "{tcp}");
    assert_eq!(tcp["state"], 1, "TCP_ESTABLISHED: {tcp}");
    // Pipelined: three in one write, indices go on.
    first.write_all(INSPECT.repeat(3).as_bytes()).unwrap();
    let mut pending = Vec::new();
    for i in 3..6u64 {
        let answer = common::read_response(&mut first, &mut pending, false);
        let j: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(j["connection"]["request_index"], i);
        assert_eq!(j["connection"]["id"], id.as_str());
    }
    // Another connection, while the first is open and after it closed: another id.
    let mut second = s.connect();
    let j = ask(&mut second, INSPECT).json();
    assert_ne!(j["connection"]["id"], id.as_str());
    assert_eq!(j["connection"]["request_index"], 0);
    drop((first, second));
    let third = get(s.addr, "/inspect", &[]).json();
    assert_ne!(third["connection"]["id"], id.as_str());
    assert_ne!(third["connection"]["id"], j["connection"]["id"]);
}

#[test]
fn the_json_access_log_names_the_connection_and_the_request() {
    let dir = std::env::temp_dir().join(format!("prefork-inspect-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("access.log");
    let s = Server::start(&[
        "--workers",
        "1",
        "--log-format",
        "json",
        "--access-log",
        path.to_str().unwrap(),
    ]);
    let mut conn = s.connect();
    ask(&mut conn, "GET /get HTTP/1.1\r\nHost: bin.test\r\n\r\n");
    let id = ask(&mut conn, INSPECT).json()["connection"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Flushed at least once a second.
    let text = common::wait_until(Duration::from_secs(5), || {
        let t = std::fs::read_to_string(&path).ok()?;
        (t.lines().count() >= 2).then_some(t)
    })
    .expect("two lines within a few seconds");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["connection"], id.as_str(), "{line}");
        assert_eq!(line["request_index"], i as u64, "{line}");
    }
    assert_eq!(lines[1]["request"], "GET /inspect HTTP/1.1");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
