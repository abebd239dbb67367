//! A worker's memory has a budget. Clients that send and never read cannot grow a worker past
//! its budget plus per-connection constants, a normal client is still served meanwhile, the
//! memory comes back once they leave, and bodies that do not all fit at once are each echoed
//! intact in their turn.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{get, wait_until, Server};

/// The worker's proportional set size in MiB.
fn pss_mib(pid: u32) -> f64 {
    common::pss_kib(pid) as f64 / 1024.0
}

/// One hostile connection: what it sends, how far it got.
struct Pusher {
    stream: TcpStream,
    head: Vec<u8>,
    /// Bytes of `head` sent, then bytes of the endless stream after it.
    sent: usize,
    target: usize,
    /// Pipelined GETs instead of a body.
    pipeline: bool,
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

impl Pusher {
    fn new(addr: SocketAddr, pipeline: bool, target: usize) -> Pusher {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nonblocking(true).unwrap();
        let head = if pipeline {
            Vec::new()
        } else {
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n".to_vec()
        };
        Pusher {
            stream,
            head,
            sent: 0,
            target,
            pipeline,
        }
    }

    /// Writes what the socket takes now; false once the target is reached or it is full.
    fn push(&mut self, scratch: &[u8]) -> bool {
        if self.sent >= self.target {
            return false;
        }
        let chunk = if self.sent < self.head.len() {
            &self.head[self.sent..]
        } else if self.pipeline {
            let at = (self.sent - self.head.len()) % GET.len();
            &scratch[at..at + 16 * 1024]
        } else {
            &scratch[..(self.target - self.sent).min(64 * 1024)]
        };
        match self.stream.write(chunk) {
            Ok(n) => {
                self.sent += n;
                n > 0
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(_) => {
                self.target = 0;
                false
            }
        }
    }
}

/// GET / on fresh connections, one at a time: the latencies, sorted.
fn probe(addr: SocketAddr, count: usize) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..count)
        .map(|_| {
            let start = Instant::now();
            let resp = get(addr, "/");
            assert_eq!(resp.status, 200);
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

#[test]
fn clients_that_send_and_never_read_stay_within_the_budget() {
    let _fds = common::raise_nofile(2_000);
    let server = Server::start(&["--workers", "1"]);
    let worker = server.workers()[0];
    let budget_mib =
        common::metric(server.addr, "prefork_memory_budget_bytes", "") as f64 / 1048576.0;
    assert!(budget_mib <= 128.0, "the default budget is at most 128 MiB");
    probe(server.addr, 20);
    let before = pss_mib(worker);

    // 32 uploads that send all 8 MB (first, so the budget fills with bytes, not just
    // reservations), 1,000 that declare 8 MB and push 2 MiB, and 500 streams of pipelined GETs:
    // none of them ever reads a byte.
    let scratch: Vec<u8> = GET
        .iter()
        .copied()
        .cycle()
        .take(GET.len() + 64 * 1024)
        .collect();
    let mut pushers: Vec<Pusher> = (0..32)
        .map(|_| Pusher::new(server.addr, false, 8_000_000 + 60))
        .chain((0..1000).map(|_| Pusher::new(server.addr, false, 2 << 20)))
        .chain((0..500).map(|_| Pusher::new(server.addr, true, 2 << 20)))
        .collect();
    let start = Instant::now();
    let mut idle_since = Instant::now();
    while start.elapsed() < Duration::from_secs(30) && idle_since.elapsed() < Duration::from_secs(2)
    {
        let mut moved = false;
        for p in &mut pushers {
            while p.push(&scratch) {
                moved = true;
            }
        }
        if moved {
            idle_since = Instant::now();
        } else {
            // Polling interval of the bounded wait above: until nothing moved for 2 s.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let paused = common::metric(server.addr, "prefork_memory_paused_connections", "");
    let held = common::metric(server.addr, "prefork_buffered_body_bytes", "")
        + common::metric(server.addr, "prefork_buffered_output_bytes", "");
    let during = pss_mib(worker);
    let latencies = probe(server.addr, 200);
    let p99 = latencies[latencies.len() * 99 / 100];
    eprintln!(
        "budget {budget_mib:.0} MiB; worker Pss {before:.1} MiB before, {during:.1} MiB under \
         {} connections that never read ({held} bytes reserved, {paused} paused); GET / p99 \
         {p99:?} meanwhile",
        pushers.len()
    );
    assert!(held <= (budget_mib * 1048576.0) as u64);
    assert!(paused > 0, "the budget was reached, so someone waits");
    assert!(
        during - before < 256.0,
        "Pss grew by {:.1} MiB",
        during - before
    );
    assert!(
        during - before <= budget_mib + 96.0,
        "budget plus per-connection constants"
    );
    assert!(
        p99 < Duration::from_millis(100),
        "GET / p99 {p99:?} under the flood"
    );

    drop(pushers);
    let quiet = wait_until(Duration::from_secs(20), || {
        (common::metric(server.addr, "prefork_connections", "") <= 1).then_some(())
    });
    assert!(quiet.is_some(), "the flood's connections closed");
    // The pool trims what sat idle for a whole second, then the heap is trimmed.
    let after = wait_until(Duration::from_secs(10), || {
        let now = pss_mib(worker);
        (now - before < 64.0).then_some(now)
    });
    eprintln!("worker Pss {:.1} MiB after they left", pss_mib(worker));
    assert!(
        after.is_some(),
        "memory came back within 64 MiB of the start"
    );
    assert_eq!(
        common::metric(server.addr, "prefork_buffered_body_bytes", ""),
        0
    );
    assert_eq!(
        common::metric(server.addr, "prefork_buffered_output_bytes", ""),
        0
    );
}

/// The byte at `i` of upload `id`: every upload differs, so a mix-up shows.
fn pattern(id: usize, i: usize) -> u8 {
    (i.wrapping_mul(31).wrapping_add(id * 7) % 251) as u8
}

#[test]
fn uploads_larger_together_than_the_budget_are_each_echoed_intact() {
    const UPLOADS: usize = 100;
    const SIZE: usize = 8 << 20;
    let _fds = common::raise_nofile(400);
    let server = Server::start(&["--workers", "1", "--memory-budget", "32m"]);
    let addr = server.addr;
    let most_paused = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (most_paused, done) = (Arc::clone(&most_paused), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let paused = common::metric(addr, "prefork_memory_paused_connections", "");
                most_paused.fetch_max(paused, Ordering::Relaxed);
                // The sampling interval of the gauge while the uploads run.
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|id| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                let head = format!(
                    "PUT /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {SIZE}\r\n\r\n"
                );
                s.write_all(head.as_bytes()).unwrap();
                let mut chunk = vec![0u8; 64 * 1024];
                for at in (0..SIZE).step_by(chunk.len()) {
                    for (k, b) in chunk.iter_mut().enumerate() {
                        *b = pattern(id, at + k);
                    }
                    s.write_all(&chunk).unwrap();
                }
                let mut reply = Vec::new();
                s.read_to_end(&mut reply).unwrap();
                let body_at = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"), "upload {id}");
                assert_eq!(reply.len() - body_at, SIZE, "upload {id}");
                let intact = reply[body_at..]
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == pattern(id, i));
                assert!(intact, "upload {id} came back altered");
            })
        })
        .collect();
    for u in uploads {
        u.join().expect("an upload failed");
    }
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let paused = most_paused.load(Ordering::Relaxed);
    eprintln!("{UPLOADS} uploads of {SIZE} bytes through a 32 MiB budget: up to {paused} paused");
    assert!(
        paused > 0,
        "the budget was smaller than the uploads: some had to wait"
    );
    assert_eq!(common::metric(addr, "prefork_buffered_body_bytes", ""), 0);
    assert_eq!(common::metric(addr, "prefork_buffered_output_bytes", ""), 0);
}
