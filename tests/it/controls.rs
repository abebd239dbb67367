//! Request controls against the real binary: distributions drawn with a seed are the same on
//! every run and follow their weights, query and headers agree, and every fault does on the
//! wire exactly what it says.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::bin::{self, read_answer, Answer};
use common::Server;

/// Sends `n` requests one after another on one keep-alive connection; their answers.
fn sequence(server: &Server, target: &str, headers: &[&str], n: usize) -> Vec<Answer> {
    let mut s = server.connect();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    (0..n)
        .map(|_| {
            s.write_all(request.as_bytes()).unwrap();
            read_answer(&mut s, false)
        })
        .collect()
}

fn draws(answers: &[Answer]) -> Vec<String> {
    answers
        .iter()
        .map(|a| format!("{} {}", a.status, a.field("x-echo-draw").unwrap_or("-")))
        .collect()
}

/// Everything the peer sends until it closes or `quiet` passes in silence; whether it closed,
/// and whether with a reset.
fn read_all(s: &mut TcpStream, quiet: Duration) -> (Vec<u8>, &'static str) {
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, "eof"),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (out, "reset"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (out, "open")
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Reads until what arrived ends with `end`.
fn read_until(s: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    while !out.ends_with(end) {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn send(server: &Server, request: &str) -> TcpStream {
    let mut s = server.connect();
    s.write_all(request.as_bytes()).unwrap();
    s
}

#[test]
fn seeded_distributions_repeat_and_follow_their_weights() {
    let server = Server::start(&["--workers", "1"]);
    let target = "/?status=503:20,429:5&size=1k:50&close=0&seed=7";
    let first = draws(&sequence(&server, target, &[], 2000));
    let again = draws(&sequence(&server, target, &[], 2000));
    assert_eq!(
        first, again,
        "the same seed draws the same sequence on a new connection"
    );
    let share =
        |prefix: &str| first.iter().filter(|d| d.starts_with(prefix)).count() as f64 / 2000.0;
    assert!(
        (share("503 ") - 0.20).abs() < 0.03,
        "503: {}",
        share("503 ")
    );
    assert!(
        (share("429 ") - 0.05).abs() < 0.015,
        "429: {}",
        share("429 ")
    );
    let sized = first.iter().filter(|d| d.contains("size=1024")).count() as f64 / 2000.0;
    assert!((sized - 0.5).abs() < 0.04, "size: {sized}");
    // The header says what was drawn, and the response is that.
    for a in sequence(&server, target, &[], 200) {
        let draw = a.field("x-echo-draw").unwrap();
        assert!(
            draw.starts_with(&format!("status={}", a.status)) || a.status == 200,
            "{draw}"
        );
        if draw.contains("size=1024") {
            assert_eq!(a.body.len(), 1024);
        }
    }
}

#[test]
fn controls_by_header_and_by_query_agree() {
    let server = Server::start(&["--workers", "1"]);
    let by_query = draws(&sequence(
        &server,
        "/echo-free?status=500:30&delay=1ms..3ms&seed=9",
        &[],
        300,
    ));
    let by_header = draws(&sequence(
        &server,
        "/echo-free",
        &[
            "X-Echo-Status: 500:30",
            "x-echo-delay: 1ms..3ms",
            "X-ECHO-SEED: 9",
        ],
        300,
    ));
    assert_eq!(by_query, by_header);
    assert!(by_query.iter().any(|d| d.starts_with("500 ")));
    assert!(
        by_query.iter().any(|d| d.starts_with("404 ")),
        "the rest is the route's own"
    );
}

#[test]
fn delays_hold_any_route_and_keep_pipelined_order() {
    let server = Server::start(&["--workers", "1"]);
    for target in ["/get?delay=150ms", "/healthz?delay=150ms", "/?delay=150ms"] {
        let started = Instant::now();
        let a = bin::get(server.addr, target, &[]);
        let took = started.elapsed();
        assert_eq!(a.status, 200, "{target}");
        assert!(took >= Duration::from_millis(150), "{target} took {took:?}");
        assert!(took < Duration::from_millis(1000), "{target} took {took:?}");
        assert!(a
            .field("server-timing")
            .unwrap()
            .starts_with("injected;dur=150.000"));
    }
    // A delayed request holds the ones pipelined behind it; answers come in order.
    let mut s = send(
        &server,
        "GET /?delay=200ms HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let started = Instant::now();
    let both = read_until(&mut s, b"\r\n\r\nok");
    assert!(started.elapsed() >= Duration::from_millis(190));
    let hello = both
        .windows(13)
        .position(|w| w == b"Hello, World!")
        .unwrap();
    assert!(hello < both.len() - 2, "the delayed answer comes first");
}

#[test]
fn faults_do_what_they_say_on_the_wire() {
    let server = Server::start(&["--workers", "1"]);
    let request =
        |q: &str| format!("GET /?{q} HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let quiet = Duration::from_millis(400);

    // close: the whole response, announced, then EOF; the pipelined request is not answered.
    let (bytes, end) = read_all(&mut send(&server, &request("close=100")), quiet);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nHello, World!"), "{text}");
    assert_eq!(end, "eof");

    // rst: no response at all, a reset.
    let (bytes, end) = read_all(&mut send(&server, &request("rst=100")), quiet);
    assert!(bytes.is_empty(), "{bytes:?}");
    assert_eq!(end, "reset");

    // truncate: fewer body bytes than Content-Length, then EOF.
    let (bytes, end) = read_all(&mut send(&server, &request("truncate=100")), quiet);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Content-Length: 13\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nHello,"), "{text}");
    assert_eq!(end, "eof");

    // stall=head: half a head, then silence on an open connection.
    let (bytes, end) = read_all(&mut send(&server, &request("stall=head")), quiet);
    assert!(
        !bytes.is_empty() && !bytes.windows(4).any(|w| w == b"\r\n\r\n"),
        "{bytes:?}"
    );
    assert_eq!(end, "open");

    // stall=body: the head and half the body, then silence.
    let (bytes, end) = read_all(&mut send(&server, &request("stall=body")), quiet);
    assert!(String::from_utf8_lossy(&bytes).ends_with("\r\n\r\nHello,"));
    assert_eq!(end, "open");

    // The worker is fine for everyone else meanwhile.
    assert_eq!(bin::get(server.addr, "/", &[]).body, b"Hello, World!");
}

#[test]
fn stalls_end_with_the_longest_duration() {
    let server = Server::start(&["--workers", "1", "--max-duration", "1s"]);
    let mut s = send(&server, "GET /?stall=body HTTP/1.1\r\nHost: t\r\n\r\n");
    let started = Instant::now();
    let (_, end) = read_all(&mut s, Duration::from_secs(5));
    assert_eq!(end, "eof");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn chunks_are_paced_and_generated_bodies_seeded() {
    let server = Server::start(&["--workers", "1"]);
    let started = Instant::now();
    let a = bin::get(
        server.addr,
        "/?size=10k&chunked=4k&drip=100ms&content=seeded&seed=5",
        &[],
    );
    let took = started.elapsed();
    assert_eq!(a.chunks, vec![4096, 4096, 2048]);
    assert!(
        took >= Duration::from_millis(200),
        "three chunks 100 ms apart: {took:?}"
    );
    let b = bin::get(server.addr, "/get?size=10k&content=seeded&seed=5", &[]);
    assert_eq!(a.body, b.body, "seeded content is the same every time");
    assert!(a.body.iter().any(|&x| x != 0));
    let zero = bin::get(server.addr, "/?size=100", &[]);
    assert_eq!(zero.body, vec![0u8; 100]);
    assert_eq!(zero.field("content-type"), Some("application/octet-stream"));
    // The route's own body re-framed.
    let json = bin::get(server.addr, "/get?chunked=16", &[]);
    assert!(json.chunks.len() > 5 && json.chunks.iter().all(|&c| c <= 16));
    assert_eq!(json.json()["url"], "http://bin.test/get?chunked=16");
}

#[test]
fn headers_are_added_and_cannot_split() {
    let server = Server::start(&["--workers", "1"]);
    let a = bin::get(
        server.addr,
        "/?header=X-A:one&header=X-B%3A%20two%20words",
        &["X-Echo-Header: X-C: 3"],
    );
    assert_eq!(a.field("x-a"), Some("one"));
    assert_eq!(a.field("x-b"), Some("two words"));
    assert_eq!(a.field("x-c"), Some("3"));
    let bad = bin::get(server.addr, "/?header=X-A:a%0D%0ASet-Cookie:%20x=1", &[]);
    assert_eq!(bad.status, 400);
    assert!(bad.field("set-cookie").is_none());
    assert_eq!(
        bad.text(),
        "bad control header: the value must be visible ASCII text\n"
    );
}

#[test]
fn bad_controls_get_a_400_that_names_them_and_the_connection_goes_on() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = server.connect();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"GET /?delay=5parsecs HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let both = String::from_utf8(read_until(&mut s, b"Hello, World!")).unwrap();
    assert!(both.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{both}");
    assert!(
        both.contains(
            "\r\n\r\nbad control delay: expected a duration such as 5ms or 1.5s\nHTTP/1.1 200 OK"
        ),
        "the pipelined request behind it is answered on the same connection: {both}"
    );
    let stream = bin::get(server.addr, "/bytes/100?chunked=10", &[]);
    assert_eq!(stream.status, 400);
    assert!(
        stream.text().starts_with("bad control chunked: "),
        "{}",
        stream.text()
    );
    assert_eq!(
        bin::get(server.addr, "/?drip=1ms", &[]).status,
        400,
        "drip needs chunked"
    );
}

#[test]
fn default_params_apply_to_every_request_and_yield_to_its_own() {
    let server = Server::start(&[
        "--workers",
        "1",
        "--default-params",
        "status=503&header=X-Default:1",
    ]);
    let a = bin::get(server.addr, "/", &[]);
    assert_eq!((a.status, a.field("x-default")), (503, Some("1")));
    let b = bin::get(server.addr, "/?status=429", &[]);
    assert_eq!(b.status, 429, "the request's own wins");
    let c = bin::get(server.addr, "/", &["X-Echo-Status: 502"]);
    assert_eq!(c.status, 502);

    let out = Command::new(common::BIN)
        .args(["--port", "0", "--default-params", "status=7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--default-params: bad control status"),
        "{err}"
    );
}

#[test]
fn controls_can_be_headers_only_or_off() {
    let headers = Server::start(&["--workers", "1", "--controls", "headers"]);
    let a = bin::get(headers.addr, "/get?status=503", &["X-Echo-Header: X-H: 1"]);
    assert_eq!(a.status, 200, "the query is httpbin's args");
    assert_eq!(a.json()["args"]["status"], "503");
    assert_eq!(a.field("x-h"), Some("1"));
    let off = Server::start(&["--workers", "1", "--controls", "off"]);
    let b = bin::get(off.addr, "/?status=503", &["X-Echo-Status: 502"]);
    assert_eq!(b.status, 200);
    assert!(b.field("x-echo-draw").is_none());
}

#[test]
fn metrics_count_what_was_injected() {
    let server = Server::start(&["--workers", "1"]);
    sequence(&server, "/?delay=2ms&status=500&seed=1", &[], 10);
    for q in ["rst=100", "truncate=100", "close=100"] {
        let _ = read_all(
            &mut send(&server, &format!("GET /?{q} HTTP/1.1\r\nHost: t\r\n\r\n")),
            Duration::from_millis(300),
        );
    }
    let metrics = bin::get(server.addr, "/metrics", &[]).text();
    let value = |prefix: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(value("prefork_injected_delay_seconds_count"), 10);
    let bucket = |le: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("prefork_injected_delay_seconds_bucket")
                    && l.contains(&format!("le=\"{le}\""))
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
    };
    assert_eq!(bucket("0.001"), Some(0));
    assert_eq!(bucket("0.002"), Some(10), "2 ms delays land at le=2ms");
    assert_eq!(value("prefork_injected_statuses_total"), 10);
    for kind in ["rst", "truncate", "close"] {
        let line = format!("kind=\"{kind}\"}}");
        let n: u64 = metrics
            .lines()
            .filter(|l| l.starts_with("prefork_injected_faults_total") && l.contains(&line))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(n, 1, "{kind}");
    }
}
