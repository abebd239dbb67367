//! Delays are timers, not sleeps: 10,000 clients each waiting on `/delay/5` cost one worker
//! memory and nothing else, and every one of them is answered on time.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::{cpu_time, whoami_pid, Server};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

const CLIENTS: usize = 10_000;
const DELAY: Duration = Duration::from_secs(5);

/// Which of `streams` have something to read now.
fn readable(streams: &[TcpStream]) -> Vec<bool> {
    let mut ready = Vec::with_capacity(streams.len());
    for batch in streams.chunks(1024) {
        let mut fds: Vec<PollFd> = batch
            .iter()
            .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
            .collect();
        poll(&mut fds, PollTimeout::ZERO).unwrap();
        ready.extend(
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty())),
        );
    }
    ready
}

#[test]
fn ten_thousand_delayed_clients_cost_memory_only_and_end_on_time() {
    let _fds = common::raise_nofile(CLIENTS as u64 + 200);
    let server = Server::start(&["--workers", "1"]);
    let worker = whoami_pid(&common::get(server.addr, "/whoami"));
    let pss_before = common::pss_kib(worker);
    let request = b"GET /delay/5 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let first_sent = Instant::now();
    let streams: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).expect("connect");
            s.write_all(request).unwrap();
            s
        })
        .collect();
    let last_sent = Instant::now();
    eprintln!(
        "{CLIENTS} delayed requests sent in {:?}",
        last_sent - first_sent
    );
    assert!(
        last_sent - first_sent < Duration::from_secs(3),
        "sending took too long to time the delay"
    );
    // Once every request has been read, the worker only waits: no polling, no spinning. Read:
    // every connection accepted (/status counts them and itself) and every request's bytes in.
    let all_read = common::wait_until(Duration::from_secs(10), || {
        let totals = common::status_totals(server.addr);
        let open = totals["connections"].as_u64().unwrap() as usize;
        let bytes_in = totals["bytes_in"].as_u64().unwrap() as usize;
        (open > CLIENTS && bytes_in >= CLIENTS * request.len()).then_some(())
    });
    assert!(
        all_read.is_some(),
        "the worker did not read every request: {}",
        common::status_totals(server.addr)
    );
    let cpu_before = cpu_time(worker);
    let quiet_from = Instant::now();
    // The window the worker's CPU is measured over and no answer may arrive in: up to shortly
    // before the first answer is due. The wait is the measurement.
    std::thread::sleep(
        (first_sent + DELAY - Duration::from_millis(700)).saturating_duration_since(Instant::now()),
    );
    let idle_cpu = cpu_time(worker) - cpu_before;
    let waited = quiet_from.elapsed();
    let pss_during = common::pss_kib(worker);
    let early = readable(&streams).iter().filter(|&&r| r).count();
    assert_eq!(early, 0, "answers before their delay");
    // Every answer arrives between 5 s after its request and shortly after.
    let deadline = last_sent + DELAY + Duration::from_secs(3);
    let mut answered = vec![false; CLIENTS];
    let mut last_answer = Instant::now();
    while answered.iter().any(|a| !a) {
        assert!(
            Instant::now() < deadline,
            "{} answers late",
            answered.iter().filter(|a| !**a).count()
        );
        for (i, r) in readable(&streams).into_iter().enumerate() {
            if r && !answered[i] {
                answered[i] = true;
                last_answer = Instant::now();
            }
        }
        // The polling interval of this bounded wait for the answers (it times each one).
        std::thread::sleep(Duration::from_millis(5));
    }
    let first_due = first_sent + DELAY;
    assert!(last_answer >= first_due);
    let spread = last_answer - first_due;
    let per_client = (pss_during.saturating_sub(pss_before)) * 1024 / CLIENTS as u64;
    eprintln!(
        "worker CPU while {CLIENTS} waited: {idle_cpu:?} over {waited:?}; Pss {per_client} bytes \
         per waiting client; last answer {spread:?} after the first was due"
    );
    assert!(
        idle_cpu <= Duration::from_millis(200),
        "a waiting worker burned {idle_cpu:?}"
    );
    assert!(per_client < 4096, "{per_client} bytes per waiting client");
    // And the answers are the echo.
    for mut s in streams.into_iter().step_by(997) {
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("\"url\": \"http://t/delay/5\""), "{text}");
    }
}
