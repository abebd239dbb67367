//! Timeouts and the connection cap against the real binary, with short settings.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{get, is_closed_by_peer, read_response, Server};

#[test]
fn slow_head_gets_408_at_the_header_timeout() {
    let server = Server::start(&["--workers", "1", "--header-timeout", "1s"]);
    let mut s = server.connect();
    let start = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    // Trickle header lines; the timeout counts from the head's start, not from the last byte.
    let mut writer = s.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for i in 0..20 {
            // The trickle's pace (a line every 200 ms, never idle 1 s): the wait is the test.
            std::thread::sleep(Duration::from_millis(200));
            if writer
                .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                .is_err()
            {
                return;
            }
        }
    });
    let got = common::read_until_closed(&mut s, Duration::from_secs(5));
    let elapsed = start.elapsed();
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.contains("Connection: close"));
    assert!(
        elapsed >= Duration::from_millis(900),
        "fired early: {elapsed:?}"
    );
    trickle.join().unwrap();
    assert_eq!(get(server.addr, "/").status, 200);
}

#[test]
fn silent_new_connection_is_closed_at_the_header_timeout_without_a_response() {
    let server = Server::start(&["--workers", "1", "--header-timeout", "1s"]);
    let mut s = server.connect();
    assert!(common::read_until_closed(&mut s, Duration::from_secs(5)).is_empty());
}

#[test]
fn idle_keep_alive_is_closed_at_the_keepalive_timeout() {
    let server = Server::start(&["--workers", "1", "--keepalive-timeout", "1s"]);
    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut s, &mut pending, false).status, 200);
    let start = Instant::now();
    assert!(common::read_until_closed(&mut s, Duration::from_secs(5)).is_empty());
    assert!(start.elapsed() >= Duration::from_millis(800));
}

#[test]
fn stalled_body_is_closed_at_the_body_timeout() {
    let server = Server::start(&["--workers", "1", "--body-timeout", "1s"]);
    let mut s = server.connect();
    s.write_all(b"POST /missing HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        .unwrap();
    let start = Instant::now();
    let got = common::read_until_closed(&mut s, Duration::from_secs(5));
    // Nothing is answered before the body is whole; when it stalls, the client is told so.
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(start.elapsed() >= Duration::from_millis(800));
}

#[test]
fn a_client_that_stops_reading_is_closed_at_the_send_timeout() {
    let server = Server::start(&[
        "--workers",
        "1",
        "--protocol",
        "echo",
        "--send-timeout",
        "1s",
    ]);
    let mut s = server.connect();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let chunk = vec![b'z'; 64 * 1024];
    let start = Instant::now();
    // Never read: the server's output fills, its writes stall, and it must give up.
    let err = loop {
        if let Err(e) = s.write_all(&chunk) {
            break e;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never closed");
    };
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "{err}"
    );
}

#[test]
fn idle_echo_connection_is_closed_at_the_idle_timeout() {
    let server = Server::start(&[
        "--workers",
        "1",
        "--protocol",
        "echo",
        "--idle-timeout",
        "1s",
    ]);
    let mut s = server.connect();
    s.write_all(b"hi").unwrap();
    let mut got = [0u8; 2];
    s.read_exact(&mut got).unwrap();
    assert!(common::read_until_closed(&mut s, Duration::from_secs(5)).is_empty());
}

#[test]
fn connection_cap_pauses_accepting_and_resumes_below_it() {
    let server = Server::start(&["--workers", "1", "--max-conns", "4"]);
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            assert_eq!(read_response(&mut s, &mut Vec::new(), false).status, 200);
            s
        })
        .collect();
    // The fifth waits in the kernel's queue: not refused, not served.
    let mut fifth = server.connect();
    fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 16];
    let waited = fifth.read(&mut buf);
    assert!(
        matches!(&waited, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "served above the cap: {waited:?}"
    );
    // One closes: 3 < 90% of 4, so accepting resumes and the fifth is served.
    drop(held.pop());
    fifth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let resp = read_response(&mut fifth, &mut Vec::new(), false);
    assert_eq!(resp.body_str(), "ok");
}

#[test]
fn slowloris_does_not_starve_normal_clients_and_is_closed_at_the_header_timeout() {
    const SLOW: usize = 1000;
    let server = Server::start(&["--workers", "1", "--header-timeout", "3s"]);
    let mut slow: Vec<TcpStream> = (0..SLOW)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    let mut round = 0;
    while start.elapsed() < Duration::from_secs(2) {
        for s in &mut slow {
            let _ = s.write_all(format!("X-Drip-{round}: 1\r\n").as_bytes());
        }
        round += 1;
        for _ in 0..20 {
            let t = Instant::now();
            assert_eq!(get(server.addr, "/").status, 200);
            worst = worst.max(t.elapsed());
        }
    }
    // Generous: on a loaded 2-core machine a normal request still takes far less than this.
    assert!(
        worst < Duration::from_secs(1),
        "a normal client waited {worst:?}"
    );
    let mut answered_408 = 0;
    for s in &mut slow {
        let got = common::read_until_closed(s, Duration::from_secs(10));
        answered_408 += usize::from(got.starts_with(b"HTTP/1.1 408 "));
    }
    assert_eq!(answered_408, SLOW);
    assert!(is_closed_by_peer(
        &mut server.connect(),
        Duration::from_secs(5)
    ));
}
