//! How a new connection reaches a worker. By default the listeners have TCP_DEFER_ACCEPT (1 s):
//! the kernel keeps a silent connection until its first bytes arrive, or until about a second
//! has passed, so a worker is woken once per connection with the request already there.
//! `--defer-accept 0` hands every connection over as soon as its handshake completes.

use crate::common;

use std::collections::HashSet;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{get, read_response, wait_until, Server};
use nix::sys::signal::Signal;

/// Connections the workers hold open, from /status (the /status request itself counts as one).
fn open_connections(server: &Server) -> u64 {
    common::open_connections(server.addr)
}

/// The sockets `pid` holds ("socket:[inode]"), from /proc/PID/fd.
fn sockets_of(pid: u32) -> HashSet<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.flatten()
        .filter_map(|e| {
            std::fs::read_link(e.path())
                .ok()?
                .to_str()
                .map(String::from)
        })
        .filter(|target| target.starts_with("socket:"))
        .collect()
}

fn open_fds(pid: u32) -> usize {
    prefork_server::sys::procfs::open_fds(u64::from(pid)).unwrap()
}

fn ask(stream: &mut TcpStream) -> u16 {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    read_response(stream, &mut Vec::new(), false).status
}

#[test]
fn by_default_a_silent_connection_waits_in_the_kernel_then_is_served() {
    let server = Server::start(&["--workers", "1"]);
    assert_eq!(open_connections(&server), 1);
    let connected = Instant::now();
    let mut silent = TcpStream::connect(server.addr).unwrap();
    // This wait is the test: for 300 ms the connection must NOT reach a worker, so there is no
    // event to wait for instead.
    std::thread::sleep(Duration::from_millis(300));
    // The kernel hands it over at its first SYN-ACK retransmission, about 1 s in: a reading
    // that came back before 800 ms is conclusive, a later one proves nothing.
    let open = open_connections(&server);
    if connected.elapsed() < Duration::from_millis(800) {
        assert_eq!(
            open, 1,
            "a connection that has sent nothing is not handed to a worker yet"
        );
    }
    // A client that connects and says nothing still reaches a worker (and its timeouts) once
    // the kernel's SYN-ACK retransmission, about a second in, is answered.
    let handed_over = wait_until(Duration::from_secs(5), || {
        (open_connections(&server) == 2).then_some(())
    });
    assert!(handed_over.is_some(), "the silent connection never arrived");
    assert!(connected.elapsed() >= Duration::from_millis(800));
    assert_eq!(ask(&mut silent), 200);
    // A client that speaks at once is served at once.
    let mut prompt = TcpStream::connect(server.addr).unwrap();
    assert_eq!(ask(&mut prompt), 200);
}

#[test]
fn with_defer_accept_off_a_connection_is_handed_over_at_once() {
    let server = Server::start(&["--workers", "1", "--defer-accept", "0"]);
    let mut silent = TcpStream::connect(server.addr).unwrap();
    let connected = Instant::now();
    let handed_over = wait_until(Duration::from_secs(5), || {
        (open_connections(&server) == 2).then_some(())
    });
    assert!(handed_over.is_some(), "the connection never arrived");
    assert!(
        connected.elapsed() < Duration::from_millis(900),
        "took {:?}: was accept deferred anyway?",
        connected.elapsed()
    );
    assert_eq!(ask(&mut silent), 200);
}

/// SIGTTOU removes a worker, not its SO_REUSEPORT socket: connections the kernel is still
/// deferring on it (handshake done, request not yet sent) belong to that socket, and closing it
/// would reset them. The socket is handed to the remaining workers, which serve them.
#[test]
fn removing_a_worker_resets_no_connection_whose_accept_was_deferred() {
    let server = Server::start(&["--workers", "2"]);
    // Each worker's sockets; its listening socket is one the other does not hold.
    let sockets: Vec<(u32, HashSet<String>)> = server
        .workers()
        .into_iter()
        .map(|w| (w, sockets_of(w)))
        .collect();
    assert_eq!(sockets.len(), 2);
    // Connections spread over both sockets by the reuseport hash; none has sent anything.
    let mut silent: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    server.signal(Signal::SIGTTOU);
    assert!(
        server
            .wait_for_log("removed a worker", Duration::from_secs(5))
            .is_some(),
        "SIGTTOU was not handled"
    );
    // The remaining worker has been handed the removed one's socket once it holds a socket that
    // only the other worker held before.
    let adopted = wait_until(Duration::from_secs(5), || {
        sockets
            .iter()
            .any(|(w, mine)| {
                let now = sockets_of(*w);
                sockets
                    .iter()
                    .filter(|(other, _)| other != w)
                    .any(|(_, theirs)| theirs.iter().any(|s| !mine.contains(s) && now.contains(s)))
            })
            .then_some(())
    });
    assert!(
        adopted.is_some(),
        "the remaining worker was not handed the removed worker's socket:\n{}",
        server.log_text()
    );
    for (i, stream) in silent.iter_mut().enumerate() {
        assert_eq!(ask(stream), 200, "connection {i}");
    }
    let one = wait_until(Duration::from_secs(10), || {
        (server.workers().len() == 1).then_some(())
    });
    assert!(one.is_some(), "the removed worker did not exit");
}

/// `n` connections to `addr`, each having sent the start of a request (so deferred accept hands
/// it over at once) and waiting for the rest.
fn connect_speaking(addr: std::net::SocketAddr, n: usize, start: &[u8]) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(start).unwrap();
            s
        })
        .collect()
}

/// The worker uses under 5% of a core for 2 s: no spinning on a listener it cannot serve.
fn assert_worker_idle(worker: u32) {
    let before = common::cpu_time(worker);
    // The window the CPU time is measured over: the wait is the measurement.
    std::thread::sleep(Duration::from_secs(2));
    let used = common::cpu_time(worker) - before;
    assert!(
        used < Duration::from_millis(100),
        "the worker used {used:?} of 2 s"
    );
}

/// The metrics port has a cap of its own (64 connections per worker): beyond it, connections
/// wait in the kernel and the worker does not spin on them; the main port serves meanwhile,
/// and the metrics port serves again once a slot frees.
#[test]
fn a_flood_on_the_metrics_port_is_capped_without_spinning() {
    let metrics_port = common::free_port();
    let port = metrics_port.to_string();
    let server = Server::start(&["--workers", "1", "--metrics-port", &port]);
    let worker = server.workers()[0];
    let idle_fds = open_fds(worker);
    let metrics = std::net::SocketAddr::new(server.addr.ip(), metrics_port);
    // Each sends a request, so deferred accept hands every one over at once.
    let flood = connect_speaking(metrics, 300, b"GET /metrics HTTP/1.1\r\nHost: t\r\n");
    // The worker has taken the metrics port's 64 connections: it is at the cap.
    let at_cap = wait_until(Duration::from_secs(5), || {
        (open_fds(worker) >= idle_fds + 64).then_some(())
    });
    assert!(
        at_cap.is_some(),
        "the worker took {} of the flood's connections, not the cap's 64",
        open_fds(worker).saturating_sub(idle_fds)
    );
    let fds = open_fds(worker);
    assert!(
        fds < 64 + 32,
        "{fds} descriptors: the metrics port took more than its cap"
    );
    assert_worker_idle(worker);
    let fds = open_fds(worker);
    assert!(
        fds < 64 + 32,
        "{fds} descriptors 2 s later: the metrics port took more than its cap"
    );
    assert_eq!(
        get(server.addr, "/").status,
        200,
        "the main port still serves"
    );
    drop(flood);
    let served = wait_until(Duration::from_secs(10), || {
        (get(metrics, "/metrics").status == 200).then_some(())
    });
    assert!(served.is_some(), "the metrics port serves again");
}

/// Out of descriptors, the metrics port pauses like the main one instead of spinning on a
/// level-triggered listener (it used to run at 100% CPU until descriptors freed).
#[test]
fn out_of_descriptors_the_metrics_port_pauses_instead_of_spinning() {
    let metrics_port = common::free_port();
    let port = metrics_port.to_string();
    let server = Server::start(&[
        "--workers",
        "1",
        "--metrics-port",
        &port,
        "--max-fds",
        "200",
        "--max-conns",
        "1000",
    ]);
    let worker = server.workers()[0];
    // The main port takes every descriptor the worker has left.
    let main = connect_speaking(server.addr, 260, b"GET / HTTP/1.1\r\nHost: t\r\n");
    let metrics = std::net::SocketAddr::new(server.addr.ip(), metrics_port);
    let flood = connect_speaking(metrics, 20, b"GET /metrics HTTP/1.1\r\nHost: t\r\n");
    // The worker has run out of descriptors (and so cannot take the metrics flood either).
    let exhausted = server.wait_for_log("out of file descriptors", Duration::from_secs(5));
    assert!(
        exhausted.is_some(),
        "the worker never ran out of descriptors:\n{}",
        server.log_text()
    );
    assert_worker_idle(worker);
    drop(main);
    drop(flood);
    let served = wait_until(Duration::from_secs(10), || {
        (get(metrics, "/metrics").status == 200).then_some(())
    });
    assert!(served.is_some(), "the metrics port serves again");
    assert_eq!(get(server.addr, "/").status, 200);
}
