//! Expensive answers take turns. A `/metrics` render is microseconds, but thousands pipelined
//! on a few connections must not hold the loop from everyone else, whatever the worker's
//! descriptor count (which a scrape used to count by listing /proc/PID/fd, every time).

use crate::common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{get, whoami_pid, Server};

const IDLE: usize = 15_000;
const SCRAPERS: usize = 4;
const SCRAPES: usize = 3_000;

#[test]
fn pipelined_scrapes_under_15000_connections_do_not_stall_the_worker() {
    let _fds = common::raise_nofile(IDLE as u64 + 200);
    let server = Server::start(&["--workers", "1"]);
    let worker = whoami_pid(&get(server.addr, "/whoami"));
    // Idle keep-alive connections, each served once (their answers wait unread: they are
    // small, and the point is the worker's descriptor count).
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            s
        })
        .collect();
    let addr = server.addr;
    let scrapers: Vec<_> = (0..SCRAPERS)
        .map(|_| {
            std::thread::spawn(move || {
                common::pipeline_ok(addr, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", SCRAPES)
            })
        })
        .collect();
    // Meanwhile, a client on fresh connections.
    let mut latencies = Vec::new();
    let until = Instant::now() + Duration::from_secs(60);
    while scrapers.iter().any(|t| !t.is_finished()) && Instant::now() < until {
        let start = Instant::now();
        assert_eq!(get(addr, "/").status, 200);
        latencies.push(start.elapsed());
    }
    for t in scrapers {
        t.join().expect("a scraper failed");
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    eprintln!(
        "{} GET / during {} pipelined scrapes with {IDLE} idle connections: p50 {:?}, p99 {p99:?}",
        latencies.len(),
        SCRAPERS * SCRAPES,
        latencies[latencies.len() / 2]
    );
    assert!(latencies.len() >= 20, "too few samples to judge");
    assert!(
        p99 < Duration::from_millis(50),
        "GET / p99 {p99:?} while scrapes ran"
    );
    assert_eq!(
        whoami_pid(&get(addr, "/whoami")),
        worker,
        "the worker was replaced"
    );
    assert!(server.wait_for_log("worker hung", Duration::ZERO).is_none());
    drop(idle);
}
