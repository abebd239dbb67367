//! 10,000 concurrent connections against 2 workers, each answered correctly.

use crate::common;

use std::collections::HashSet;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{read_response, whoami_pid, Server};

const CONNECTIONS: usize = 10_000;

#[test]
fn ten_thousand_concurrent_connections() {
    let _fds = common::raise_nofile(CONNECTIONS as u64 + 100);
    let server = Server::start(&["--workers", "2"]);
    let deadline = Instant::now() + Duration::from_secs(120);

    let mut conns = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let s = TcpStream::connect(server.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        conns.push(s);
        assert!(Instant::now() < deadline, "connecting took too long");
    }
    // Every connection is open at once; now each sends a request and must get its answer.
    for s in &mut conns {
        s.write_all(b"GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    let mut pids = HashSet::new();
    for (i, s) in conns.iter_mut().enumerate() {
        let resp = read_response(s, &mut Vec::new(), false);
        assert_eq!(resp.status, 200, "connection {i}");
        pids.insert(whoami_pid(&resp));
        assert!(Instant::now() < deadline, "answers took too long");
    }
    assert_eq!(pids.len(), 2, "both workers served: {pids:?}");
    // And the keep-alive connections still work afterwards.
    let mut s = conns.pop().unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_response(&mut s, &mut Vec::new(), false).body_str(),
        "ok"
    );
}
