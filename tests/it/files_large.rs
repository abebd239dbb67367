//! `--root` with large files: sent with `sendfile`, intact, without holding file bytes in user
//! memory, without one download delaying other clients, and without a client that hangs up
//! mid-download hurting the worker.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::tree::Tree;
use common::{get, read_response, whoami_pid, Server};

const SIZE: usize = 64 << 20;

/// The byte at `i` of the big file.
fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

fn big_tree() -> Tree {
    let tree = Tree::new();
    let bytes: Vec<u8> = (0..SIZE).map(pattern).collect();
    tree.file("big.bin", &bytes);
    tree.file("small.txt", b"small");
    tree
}

#[test]
fn a_64_mib_download_arrives_intact_and_the_next_request_follows() {
    let tree = big_tree();
    let server = Server::start(&["--workers", "1", "--root", tree.arg()]);
    let mut s = server.connect();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut pending = Vec::new();
    let big = read_response(&mut s, &mut pending, false);
    assert_eq!(big.status, 200);
    assert_eq!(big.body.len(), SIZE);
    let first_bad = big
        .body
        .iter()
        .enumerate()
        .position(|(i, &b)| b != pattern(i));
    assert_eq!(first_bad, None, "the download differs from the file");
    assert_eq!(
        read_response(&mut s, &mut pending, false).body_str(),
        "small"
    );
    // A range in the middle comes from the same descriptor.
    let mut s = server.connect();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=33554432-33554441\r\n\r\n")
        .unwrap();
    let part = read_response(&mut s, &mut Vec::new(), false);
    let want: Vec<u8> = (33_554_432..33_554_442).map(pattern).collect();
    assert_eq!((part.status, part.body), (206, want));
}

#[test]
fn a_slow_reader_does_not_delay_others() {
    let tree = big_tree();
    let server = Server::start(&["--workers", "1", "--root", tree.arg()]);
    let mut slow = server.connect();
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let until = Instant::now() + Duration::from_secs(3);
        let mut got = 0;
        while Instant::now() < until {
            got += slow.read(&mut buf).unwrap();
            // The slow reader's pace: this wait is what makes it slow.
            std::thread::sleep(Duration::from_millis(5));
        }
        got
    });
    let mut latencies = Vec::new();
    while !reader.is_finished() {
        let start = Instant::now();
        assert_eq!(get(server.addr, "/small.txt").status, 200);
        latencies.push(start.elapsed());
        // The sampling pace of the others' latency while the slow reader reads.
        std::thread::sleep(Duration::from_millis(10));
    }
    let got = reader.join().unwrap();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    assert!(got > 0 && got < SIZE, "the reader was slow: {got} bytes");
    assert!(
        p99 < Duration::from_millis(50),
        "others waited: p99 {p99:?}"
    );
}

#[test]
fn clients_that_hang_up_mid_download_leave_the_worker_healthy() {
    let tree = big_tree();
    let server = Server::start(&["--workers", "1", "--root", tree.arg()]);
    let worker = whoami_pid(&get(server.addr, "/whoami"));
    let fds = || prefork_server::sys::procfs::open_fds(u64::from(worker)).unwrap();
    // Once first, so the cache holds the file's descriptor before the count is taken.
    let mut warm = server.connect();
    warm.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    warm.read_exact(&mut [0u8; 4096]).unwrap();
    let with_warm = fds();
    drop(warm);
    // Counted once the worker has closed the warm connection (and kept the file's descriptor).
    let closed = common::wait_until(Duration::from_secs(5), || (fds() < with_warm).then_some(()));
    assert!(
        closed.is_some(),
        "the worker did not close the warm connection: {with_warm} descriptors"
    );
    let before = fds();
    for _ in 0..20 {
        let mut s = server.connect();
        s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut buf = vec![0u8; 1 << 20];
        s.read_exact(&mut buf).unwrap();
        drop(s); // with unread bytes: a reset
    }
    let settled = common::wait_until(Duration::from_secs(5), || (fds() <= before).then_some(()));
    assert!(
        settled.is_some(),
        "descriptors leaked: {} then {}",
        before,
        fds()
    );
    assert_eq!(
        whoami_pid(&get(server.addr, "/whoami")),
        worker,
        "the same worker"
    );
    assert_eq!(get(server.addr, "/small.txt").body_str(), "small");
}

#[test]
fn concurrent_downloads_hold_no_file_bytes_in_user_memory() {
    const CLIENTS: usize = 200;
    let tree = big_tree();
    let server = Server::start(&["--workers", "1", "--root", tree.arg()]);
    let worker = whoami_pid(&get(server.addr, "/whoami"));
    let before = common::pss_kib(worker);
    // Each starts a download and reads a little: the rest waits in the kernel and the file.
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 4096];
            s.read_exact(&mut buf).unwrap();
            s
        })
        .collect();
    // Measured once the worker has filled every client's socket and waits: it writes no more.
    let stalled =
        common::wait_until_steady(Duration::from_secs(20), Duration::from_millis(200), || {
            common::bytes_written(worker)
        });
    assert!(stalled.is_some(), "the worker never stopped sending");
    let during = common::pss_kib(worker);
    let per_connection = during.saturating_sub(before) * 1024 / CLIENTS as u64;
    eprintln!("{CLIENTS} downloads of 64 MiB in progress: {per_connection} bytes of Pss each");
    assert!(
        per_connection < 64 * 1024,
        "{per_connection} bytes per download: file bytes in user memory?"
    );
    drop(clients);
}
