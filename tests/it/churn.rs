//! Descriptor churn: 50,000 connections, good and malformed, opened and closed; each worker's
//! open-fd count returns to its baseline and the stats agree exactly with what was sent.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{get, wait_until, Server};

const CONNECTIONS: usize = 50_000;

fn open_fds(pid: u32) -> usize {
    prefork_server::sys::procfs::open_fds(pid.into()).unwrap_or(0)
}

/// The value of an unlabelled-per-worker metric, summed over workers.
fn metric_sum(text: &str, name: &str, label: Option<&str>) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && label.is_none_or(|x| l.contains(x)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// One connection: a good request (`Connection: close`) or garbage; returns the status.
fn one(addr: SocketAddr, good: bool) -> u16 {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let raw: &[u8] = if good {
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    } else {
        b"NOT HTTP AT ALL\r\n\r\n"
    };
    s.write_all(raw).unwrap();
    let mut reply = Vec::with_capacity(256);
    s.read_to_end(&mut reply)
        .expect("read until the server closes");
    std::str::from_utf8(&reply[9..12]).unwrap().parse().unwrap()
}

#[test]
fn fifty_thousand_connections_leave_no_descriptor_behind_and_are_counted_exactly() {
    let server = Server::start(&["--workers", "2"]);
    let workers = server.workers();
    let baseline: Vec<usize> = workers.iter().map(|&p| open_fds(p)).collect();
    let (mut good, mut bad) = (0u64, 0u64);
    for i in 0..CONNECTIONS {
        let is_good = i % 5 != 0;
        let status = one(server.addr, is_good);
        if is_good {
            assert_eq!(status, 200);
            good += 1;
        } else {
            assert_eq!(status, 400);
            bad += 1;
        }
    }
    // Every worker is back to its baseline once the last lingering close has ended.
    for (&pid, &base) in workers.iter().zip(&baseline) {
        let back = wait_until(Duration::from_secs(10), || {
            (open_fds(pid) == base).then_some(())
        });
        assert!(
            back.is_some(),
            "worker {pid}: {} fds, baseline {base}",
            open_fds(pid)
        );
    }
    let metrics = get(server.addr, "/metrics");
    let text = metrics.body_str();
    // The /metrics connection itself is accepted and still open while it is rendered.
    assert_eq!(
        metric_sum(text, "prefork_connections_accepted_total", None),
        CONNECTIONS as u64 + 1
    );
    assert_eq!(
        metric_sum(text, "prefork_connections_closed_total", None),
        CONNECTIONS as u64
    );
    assert_eq!(
        metric_sum(text, "prefork_responses_total", Some("class=\"2xx\"")),
        good
    );
    assert_eq!(
        metric_sum(text, "prefork_responses_total", Some("class=\"4xx\"")),
        bad
    );
    assert_eq!(metric_sum(text, "prefork_parse_errors_total", None), bad);
    assert_eq!(metric_sum(text, "prefork_connections", None), 1);
}
