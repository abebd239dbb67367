//! `--proxy-protocol` and `--trusted-proxies` against the real binary: the client a PROXY
//! header names shows in `/ip`, `/inspect` and the access log; a header in pieces; LOCAL health
//! checks; a peer outside the list, a malformed header and a missing one each closed without a
//! byte; echo behind a header; `X-Forwarded-For` believed only from a trusted peer.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::bin::{read_answer, Answer};
use common::Server;

const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

fn proxied(version: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "--workers",
        "1",
        "--proxy-protocol",
        version,
        "--trusted-proxies",
        "127.0.0.1/32",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Sends `bytes` on a new connection and reads one answer.
fn ask(addr: SocketAddr, bytes: &[u8]) -> Answer {
    let mut s = connect(addr);
    s.write_all(bytes).unwrap();
    read_answer(&mut s, false)
}

fn get(target: &str, headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n").into_bytes()
}

fn v2(command: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[0x20 | command, fam]);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(body);
    h
}

/// TCP over IPv6 from [2001:db8::7]:4242 to [2001:db8::1]:443, with an ALPN TLV.
fn v2_tcp6() -> Vec<u8> {
    let mut body = Vec::new();
    for ip in ["2001:db8::7", "2001:db8::1"] {
        body.extend_from_slice(&ip.parse::<std::net::Ipv6Addr>().unwrap().octets());
    }
    body.extend_from_slice(&4242u16.to_be_bytes());
    body.extend_from_slice(&443u16.to_be_bytes());
    body.extend_from_slice(&[0x01, 0x00, 0x08]);
    body.extend_from_slice(b"http/1.1");
    v2(1, 0x21, &body)
}

/// The sum over workers of `prefork_proxy_headers_total{outcome=...}`, read through a
/// connection that itself comes with a header.
fn proxy_metric(addr: SocketAddr, outcome: &str) -> u64 {
    let header = b"PROXY TCP4 192.0.2.200 192.0.2.1 1 80\r\n";
    let answer = ask(addr, &[&header[..], &get("/metrics", "")].concat());
    let needle = format!("outcome=\"{outcome}\"}} ");
    answer
        .text()
        .lines()
        .filter(|l| l.starts_with("prefork_proxy_headers_total{"))
        .filter_map(|l| l.split_once(&needle))
        .map(|(_, v)| v.trim().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn v1_names_the_client_in_ip_and_in_the_access_log() {
    let dir = std::env::temp_dir().join(format!("prefork-proxy-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("access.log");
    let s = proxied("v1", &["--access-log", log.to_str().unwrap()]);
    let header = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
    // The client's own X-Forwarded-For is not believed: 192.0.2.1 is no trusted proxy.
    let request = get("/ip", "X-Forwarded-For: 6.6.6.6\r\nUser-Agent: pp-test\r\n");
    let a = ask(s.addr, &[&header[..], &request].concat());
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["origin"], "192.0.2.1");
    let line = common::wait_until(Duration::from_secs(5), || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.lines()
            .find(|l| l.contains("pp-test"))
            .map(String::from)
    })
    .expect("an access-log line within a few seconds");
    assert!(line.starts_with("192.0.2.1 - - ["), "{line}");
    assert_eq!(proxy_metric(s.addr, "accepted"), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn v2_in_pieces_then_inspect_shows_both_ends() {
    let s = proxied("v2", &[]);
    let header = v2_tcp6();
    let mut conn = connect(s.addr);
    // Cut inside the signature, inside the fixed bytes, inside the addresses, inside a TLV.
    for piece in [
        &header[..5],
        &header[5..14],
        &header[14..30],
        &header[30..60],
        &header[60..],
    ] {
        conn.write_all(piece).unwrap();
        // Pieces apart in time, so each arrives in a read of its own: the wait is the test.
        std::thread::sleep(Duration::from_millis(30));
    }
    conn.write_all(&get("/inspect", "")).unwrap();
    let j = read_answer(&mut conn, false).json();
    let local = conn.local_addr().unwrap();
    assert_eq!(j["peer"], local.to_string(), "peer stays the socket's");
    assert_eq!(
        j["proxy"],
        serde_json::json!({"version": 2, "command": "PROXY", "source": "[2001:db8::7]:4242",
            "destination": "[2001:db8::1]:443", "tlvs": 1, "client": "[2001:db8::7]:4242"})
    );
    let a = ask(s.addr, &[&header[..], &get("/ip", "")].concat());
    assert_eq!(a.json()["origin"], "2001:db8::7");
}

#[test]
fn v2_local_is_a_health_check_from_the_proxy_itself() {
    let s = proxied("any", &[]);
    // LOCAL with an address block that must be ignored, and a NOOP TLV.
    let mut body = vec![10, 9, 8, 7, 10, 9, 8, 6, 0, 1, 0, 2];
    body.extend_from_slice(&[0x04, 0x00, 0x02, 0, 0]);
    let a = ask(s.addr, &[&v2(0, 0x11, &body)[..], &get("/ip", "")].concat());
    assert_eq!(a.json()["origin"], "127.0.0.1");
    // And the same listener takes v1.
    let a = ask(
        s.addr,
        &[&b"PROXY UNKNOWN\r\n"[..], &get("/ip", "")].concat(),
    );
    assert_eq!(a.json()["origin"], "127.0.0.1");
}

#[test]
fn a_peer_outside_the_trusted_proxies_is_closed_without_a_byte() {
    let s = proxied("v1", &[]);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
        .unwrap();
    socket.connect(&s.addr.into()).unwrap();
    let mut conn: TcpStream = socket.into();
    // Refused at accept: the write may already meet the reset.
    let _ = conn.write_all(
        &[
            &b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n"[..],
            &get("/ip", ""),
        ]
        .concat(),
    );
    assert!(common::read_until_closed(&mut conn, Duration::from_secs(5)).is_empty());
    assert_eq!(proxy_metric(s.addr, "refused"), 1);
}

#[test]
fn a_malformed_header_or_plain_http_is_closed_without_a_byte() {
    let s = proxied("any", &[]);
    for bytes in [
        get("/ip", ""),
        [&b"PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n"[..], &get("/ip", "")].concat(),
        [&b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n"[..], &get("/ip", "")].concat(),
        [&v2(3, 0x11, &[0; 12])[..], &get("/ip", "")].concat(),
    ] {
        let mut conn = connect(s.addr);
        conn.write_all(&bytes).unwrap();
        let got = common::read_until_closed(&mut conn, Duration::from_secs(5));
        assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    }
    assert_eq!(proxy_metric(s.addr, "malformed"), 4);
}

#[test]
fn no_header_within_the_header_timeout_is_closed_without_a_byte() {
    let s = proxied("v1", &["--header-timeout", "1s", "--defer-accept", "0"]);
    let mut silent = connect(s.addr);
    let mut partial = connect(s.addr);
    partial.write_all(b"PROXY TCP4 192.0.2.1 ").unwrap();
    let start = Instant::now();
    for conn in [&mut silent, &mut partial] {
        assert!(common::read_until_closed(conn, Duration::from_secs(5)).is_empty());
    }
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "closed early"
    );
    assert_eq!(proxy_metric(s.addr, "timeout"), 2);
}

#[test]
fn echo_behind_a_header_echoes_only_what_follows_it() {
    let s = proxied("any", &["--protocol", "echo"]);
    let mut conn = connect(s.addr);
    conn.write_all(b"PROXY TCP6 2001:db8::7 2001:db8::1 4242 7\r\nhello")
        .unwrap();
    let mut got = [0u8; 5];
    conn.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    conn.write_all(&v2_tcp6()).unwrap();
    let mut got = vec![0u8; v2_tcp6().len()];
    conn.read_exact(&mut got).unwrap();
    assert_eq!(got, v2_tcp6(), "a second header is data");
    let mut bad = connect(s.addr);
    bad.write_all(b"hello").unwrap();
    assert!(common::read_until_closed(&mut bad, Duration::from_secs(5)).is_empty());
}

#[test]
fn the_protocol_without_trusted_proxies_is_a_usage_error() {
    let out = std::process::Command::new(common::BIN)
        .args(["--port", "0", "--proxy-protocol", "v2"])
        .env_remove("PREFORK_TRUSTED_PROXIES")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--trusted-proxies"), "{err}");
}

#[test]
fn x_forwarded_for_is_believed_only_from_a_trusted_peer() {
    let request = get(
        "/get",
        "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n",
    );
    let trusted = Server::start(&["--workers", "1", "--trusted-proxies", "127.0.0.0/8"]);
    let j = ask(trusted.addr, &request).json();
    assert_eq!(j["origin"], "203.0.113.9");
    assert_eq!(j["url"], "https://t/get");
    let untrusted = Server::start(&["--workers", "1", "--trusted-proxies", "10.0.0.0/8"]);
    let j = ask(untrusted.addr, &request).json();
    assert_eq!(j["origin"], "127.0.0.1");
    assert_eq!(j["url"], "http://t/get");
    // Without the option, httpbin's own rule: whoever sends it is believed.
    let open = Server::start(&["--workers", "1"]);
    assert_eq!(ask(open.addr, &request).json()["origin"], "203.0.113.9");
}
