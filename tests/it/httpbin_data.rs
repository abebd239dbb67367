//! httpbin's generated and paced bodies against the real binary: `/bytes`, `/stream-bytes`,
//! `/stream`, `/range`, `/drip`, `/sse`, `/delay`; timings loose enough for a busy machine,
//! tight enough to tell a pace from a burst.

use crate::common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::bin::{exchange, get, raw, read_answer};
use common::Server;

fn server() -> Server {
    Server::start(&["--workers", "1"])
}

#[test]
fn bytes_are_seeded_and_bounded() {
    let s = server();
    let a = get(s.addr, "/bytes/100000?seed=42", &[]);
    assert_eq!((a.status, a.body.len()), (200, 100_000));
    assert_eq!(a.field("content-type"), Some("application/octet-stream"));
    assert_eq!(
        get(s.addr, "/bytes/100000?seed=42", &[]).body,
        a.body,
        "same seed, same bytes"
    );
    assert_ne!(get(s.addr, "/bytes/100000?seed=43", &[]).body, a.body);
    assert_ne!(
        get(s.addr, "/bytes/64", &[]).body,
        get(s.addr, "/bytes/64", &[]).body
    );
    assert_eq!(get(s.addr, "/bytes/0", &[]).body.len(), 0);
    assert_eq!(get(s.addr, "/bytes/1048576", &[]).body.len(), 1 << 20);
    for bad in [
        "/bytes/1048577",
        "/bytes/-1",
        "/bytes/x",
        "/bytes/10?seed=x",
    ] {
        assert_eq!(get(s.addr, bad, &[]).status, 400, "{bad}");
    }
    // The chunked stream of the same seed is the same bytes, in chunks of the size asked for.
    let c = get(s.addr, "/stream-bytes/100000?seed=42&chunk_size=4096", &[]);
    assert_eq!(c.field("transfer-encoding"), Some("chunked"));
    assert_eq!(c.body, a.body);
    assert!(
        c.chunks[..c.chunks.len() - 1].iter().all(|&n| n == 4096),
        "{:?}",
        c.chunks
    );
    assert_eq!(c.chunks.iter().sum::<usize>(), 100_000);
    let c = get(s.addr, "/stream-bytes/10?chunk_size=0", &[]);
    assert_eq!(c.chunks, [10]);
}

#[test]
fn the_limit_is_an_option() {
    let s = Server::start(&[
        "--workers",
        "1",
        "--max-generated-bytes",
        "10k",
        "--max-duration",
        "1s",
    ]);
    assert_eq!(get(s.addr, "/bytes/10240", &[]).status, 200);
    assert_eq!(get(s.addr, "/bytes/10241", &[]).status, 400);
    assert_eq!(get(s.addr, "/delay/1", &[]).status, 200);
    assert_eq!(get(s.addr, "/delay/1.5", &[]).status, 400);
}

#[test]
fn stream_lines_are_json_with_ids() {
    let s = server();
    let a = get(s.addr, "/stream/3?k=v", &[]);
    let lines: Vec<serde_json::Value> = a
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["id"], i);
        assert_eq!(line["args"]["k"], "v");
        assert_eq!(line["url"], "http://bin.test/stream/3?k=v");
    }
    assert_eq!(get(s.addr, "/stream/1000", &[]).text().lines().count(), 100);
}

#[test]
fn ranges_over_the_alphabet() {
    let s = server();
    let a = get(s.addr, "/range/30", &[]);
    assert_eq!(a.text(), "abcdefghijklmnopqrstuvwxyzabcd");
    assert_eq!(
        (a.field("accept-ranges"), a.field("etag")),
        (Some("bytes"), Some("\"range30\""))
    );
    let a = get(s.addr, "/range/26", &["Range: bytes=10-14"]);
    assert_eq!((a.status, a.text().as_str()), (206, "klmno"));
    assert_eq!(a.field("content-range"), Some("bytes 10-14/26"));
    assert_eq!(get(s.addr, "/range/26", &["Range: bytes=-3"]).text(), "xyz");
    let a = get(s.addr, "/range/26", &["Range: bytes=0-1,24-"]);
    assert_eq!(a.status, 206);
    let ct = a.field("content-type").unwrap();
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
    let text = a.text();
    assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 2);
    assert!(text.contains("Content-Range: bytes 0-1/26\r\n\r\nab\r\n"));
    assert!(text.contains("Content-Range: bytes 24-25/26\r\n\r\nyz\r\n"));
    assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    let a = get(s.addr, "/range/26", &["Range: bytes=30-40"]);
    assert_eq!(
        (a.status, a.field("content-range")),
        (416, Some("bytes */26"))
    );
    // If-Range with another tag: the whole body.
    let a = get(
        s.addr,
        "/range/26",
        &["Range: bytes=0-1", "If-Range: \"other\""],
    );
    assert_eq!((a.status, a.body.len()), (200, 26));
    assert_eq!(get(s.addr, "/range/0", &[]).status, 400);
}

#[test]
fn drip_paces_its_bytes() {
    let s = server();
    let started = Instant::now();
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(&raw(
            "GET",
            "/drip?numbytes=5&duration=0.8&delay=0.3&code=201",
            &[],
            b"",
        ))
        .unwrap();
    let a = read_answer(&mut stream, false);
    let took = started.elapsed();
    assert_eq!((a.status, a.body.as_slice()), (201, &b"*****"[..]));
    assert_eq!(a.field("content-length"), Some("5"));
    assert!(
        took >= Duration::from_millis(1050),
        "delay plus duration: {took:?}"
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
    // The head waits for the delay.
    let started = Instant::now();
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream
        .write_all(&raw(
            "GET",
            "/drip?numbytes=1&duration=0&delay=0.4",
            &[],
            b"",
        ))
        .unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stream, &mut first).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(380),
        "{:?}",
        started.elapsed()
    );
    for bad in [
        "/drip?numbytes=0",
        "/drip?duration=11",
        "/drip?duration=6&delay=6",
        "/drip?code=204",
        "/drip?code=99",
    ] {
        assert_eq!(get(s.addr, bad, &[]).status, 400, "{bad}");
    }
}

#[test]
fn sse_sends_its_events_over_the_duration() {
    let s = server();
    let started = Instant::now();
    let a = get(s.addr, "/sse?count=4&duration=0.6", &[]);
    let took = started.elapsed();
    assert_eq!(
        a.field("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    let text = a.text();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 4, "{text}");
    for (i, event) in events.iter().enumerate() {
        assert!(
            event.starts_with(&format!("event: ping\ndata: {{\"id\":{i},\"timestamp\":")),
            "{event}"
        );
    }
    assert!(
        took >= Duration::from_millis(580) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(get(s.addr, "/sse?count=0", &[]).status, 400);
}

#[test]
fn delay_answers_on_time_with_the_echo() {
    let s = server();
    for (path, wait) in [("/delay/0.3", 300), ("/delay/250ms", 250), ("/delay/0", 0)] {
        let started = Instant::now();
        let a = exchange(
            s.addr,
            &raw(
                "POST",
                path,
                &["Content-Type: application/json"],
                b"{\"a\":1}",
            ),
        );
        let took = started.elapsed();
        assert_eq!(a.status, 200, "{path}");
        assert!(took >= Duration::from_millis(wait), "{path}: {took:?}");
        assert!(
            took < Duration::from_millis(wait + 1500),
            "{path}: {took:?}"
        );
        let j = a.json();
        assert_eq!(j["data"], "{\"a\":1}");
        assert!(a
            .field("server-timing")
            .unwrap()
            .starts_with("initial_delay;dur="));
    }
    for bad in ["/delay/11", "/delay/-1", "/delay/x", "/delay/1h"] {
        assert_eq!(get(s.addr, bad, &[]).status, 400, "{bad}");
    }
}

#[test]
fn clients_that_never_read_cost_only_their_output_mark() {
    let s = server();
    let worker = s.workers()[0];
    let before = common::pss_kib(worker);
    let clients: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut c = TcpStream::connect(s.addr).unwrap();
            c.write_all(&raw("GET", "/bytes/1048576", &[], b""))
                .unwrap();
            c
        })
        .collect();
    // Measured once the worker has every request and has written all it will: each client's
    // socket is full and the rest waits in its output, up to the mark.
    let fds = || prefork_server::sys::procfs::open_fds(u64::from(worker)).unwrap();
    let accepted = common::wait_until(Duration::from_secs(10), || {
        (fds() >= clients.len()).then_some(())
    });
    assert!(accepted.is_some(), "the worker holds {} descriptors", fds());
    let stalled =
        common::wait_until_steady(Duration::from_secs(20), Duration::from_millis(200), || {
            common::bytes_written(worker)
        });
    assert!(stalled.is_some(), "the worker never stopped writing");
    let during = common::pss_kib(worker);
    let per_client = (during.saturating_sub(before)) * 1024 / clients.len() as u64;
    eprintln!("200 unread /bytes/1m: {per_client} bytes of worker Pss each");
    assert!(per_client < 64 * 1024, "{per_client} bytes each");
    // And the worker still answers.
    assert_eq!(get(s.addr, "/get", &[]).status, 200);
    drop(clients);
}
