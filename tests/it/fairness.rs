//! Fair under amplification: responses made of 1-byte chunks, sent to clients that never read,
//! cannot hold the loop (a fresh connection is still answered promptly), and the kernel holds
//! a bounded amount for each of those clients (`--send-lowat`). And the operators' endpoints
//! do not take the test traffic's `--default-params`.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{self, get, Server};

/// What a fresh `GET /` takes, `count` times, sorted.
fn probe(server: &Server, count: usize) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..count)
        .map(|_| {
            let start = Instant::now();
            let resp = common::request(
                server.addr,
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            );
            assert_eq!(resp.status, 200);
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

/// Clients that ask for `path` and never read a byte of the answer.
fn flood(server: &Server, path: &str, clients: usize) -> Vec<TcpStream> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    (0..clients)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            s
        })
        .collect()
}

/// Bytes the kernel holds to send on the server's side of connections to `port`: the
/// `tx_queue` column of /proc/net/tcp (written and not acknowledged), one entry per socket.
fn send_queues(port: u16) -> Vec<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!(":{port:04X} ");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is fields[1]; the server's side has the server's port there.
            (format!("{} ", fields[1]).ends_with(&local) && fields[3] == "01").then(|| {
                let queues = fields[4];
                u64::from_str_radix(queues.split(':').next().unwrap(), 16).unwrap()
            })
        })
        .collect()
}

#[test]
fn one_byte_chunks_to_clients_that_never_read_do_not_hold_the_loop() {
    let server = Server::start(&["--workers", "1"]);
    let quiet = probe(&server, 30);
    let mut clients = flood(&server, "/stream-bytes/1048576?chunk_size=1", 100);
    clients.extend(flood(&server, "/?size=1m&chunked=1", 100));
    // The flood is under way: the worker has written to every one of its clients.
    let written = common::wait_until(Duration::from_secs(10), || {
        let queues = send_queues(server.port());
        (queues.len() >= 200 && queues.iter().all(|&q| q > 0)).then_some(queues.len())
    });
    assert!(written.is_some(), "the flood did not get going");
    let loaded = probe(&server, 30);
    let median = |t: &[Duration]| t[t.len() / 2];
    // A ratio to the same probe without the flood, with a floor for a machine where the quiet
    // median is a fraction of a millisecond: before the drive budget counted work, the
    // median here was seconds.
    let bound = (median(&quiet) * 20).max(Duration::from_millis(20));
    assert!(
        median(&loaded) <= bound,
        "a fresh GET / took {:?} (median) under the flood, {:?} without it",
        median(&loaded),
        median(&quiet)
    );
    assert!(
        loaded[loaded.len() - 1] < Duration::from_secs(1),
        "worst fresh GET / under the flood: {:?}",
        loaded[loaded.len() - 1]
    );
    drop(clients);
}

#[test]
fn what_the_kernel_holds_for_a_client_that_never_reads_is_bounded() {
    let server = Server::start(&["--workers", "1", "--send-lowat", "64k"]);
    let clients = flood(&server, "/bytes/1048576", 20);
    // Every connection fills to where the kernel stops taking more.
    let settled = common::wait_until(Duration::from_secs(10), || {
        let first = send_queues(server.port());
        std::thread::sleep(Duration::from_millis(200));
        let second = send_queues(server.port());
        (first.len() == 20 && first == second).then_some(second)
    });
    let queues = settled.expect("the send queues settle");
    // Unsent bytes stop at about the low-water mark; one write may cross it. Without the
    // option, a loopback connection's autotuned send buffer holds over a megabyte.
    for q in &queues {
        assert!(*q <= 256 * 1024, "a send queue of {q} bytes: {queues:?}");
    }
    drop(clients);
}

#[test]
fn default_params_shape_test_traffic_not_the_operators_endpoints() {
    let server = Server::start(&[
        "--workers",
        "1",
        "--default-params",
        "status=503",
        "--metrics-port",
        "0",
    ]);
    assert_eq!(
        get(server.addr, "/get").status,
        503,
        "test traffic is shaped"
    );
    assert_eq!(get(server.addr, "/").status, 503);
    assert_eq!(get(server.addr, "/healthz").status, 200);
    // A control the request itself carries still applies on the main port.
    assert_eq!(get(server.addr, "/healthz?status=500").status, 500);
    let line = server
        .wait_for_log("serving /metrics and /status on ", Duration::from_secs(5))
        .expect("the metrics port in the log");
    let metrics: std::net::SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(get(metrics, "/metrics").status, 200);
    assert_eq!(get(metrics, "/status").status, 200);
    // On the operators' port, no control applies at all.
    assert_eq!(get(metrics, "/healthz?status=500").status, 200);
}
