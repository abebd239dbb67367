//! Holds N idle keep-alive connections to a server on 127.0.0.1 and reports the server's memory
//! per connection; checks at the end that every connection still answers.
//!
//! ```text
//! cargo bench --bench hold -- --port 8080 [-n 100000] [--procs 6] [--sources 8] [--pid PID]
//!                            [--hold SECS] [--websocket]
//! ```
//!
//! With `--hold SECS` it prints `holding` once every connection has its first answer, keeps
//! them for that long (a driver such as `benches/million.py` measures meanwhile), then sends
//! the second request. Lines starting with `established:` and `answered:` carry the figures.
//!
//! With `--sse SECS` each connection asks for `/sse` instead, one event every SECS seconds for
//! the hold (the server needs `--max-duration` above the hold), and the `events:` line counts
//! the events delivered against those due.
//!
//! With `--websocket` each connection upgrades to `/websocket/echo` instead and holds an idle
//! WebSocket (give the server a `--ws-ping-interval` longer than the hold, or 0); the check at
//! the end sends one text message on each and counts the echoes.
//!
//! One process holds at most its open-file limit of sockets, so the client side is spread over
//! `--procs` child processes (this binary again, with `--child`), each with nonblocking connects
//! in its own epoll loop, from several loopback source addresses (127.0.0.2, .3, …) so ephemeral
//! ports do not run out. Memory is the sum of `Pss` over the server's process tree (from
//! `/proc/PID/smaps_rollup`), before and after, divided by N. Only 127.0.0.1 is contacted; every
//! phase has a deadline; everything is closed at the end.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::socket::sockopt;
use prefork_server::sys::epoll::{Events, Interest, Poller};
use prefork_server::sys::net::{read_some, write_some, IoOutcome};
use prefork_server::sys::procfs;
use socket2::{Domain, SockRef, Socket, Type};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: hold\r\n\r\n";
/// `--websocket`: the opening handshake, then one masked text frame "hi" and its echo.
const WS_HANDSHAKE: &[u8] = b"GET /websocket/echo HTTP/1.1\r\nHost: hold\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const WS_MESSAGE: &[u8] = &[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
const WS_ECHO: &[u8] = &[0x81, 0x02, b'h', b'i'];

/// `--websocket` (from the parent's environment).
fn websocket() -> bool {
    std::env::var_os("HOLD_WS").is_some()
}
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && arg(&args, "--port").is_none() {
        eprintln!("hold: usage: cargo bench --bench hold -- --port PORT [-n N] [--procs K] [--sources S] [--pid PID]");
        return;
    }
    let port: u16 = arg(&args, "--port").expect("--port").parse().expect("port");
    if let Some(spec) = arg(&args, "--child") {
        let mut it = spec.split(',').map(|v| v.parse::<usize>().unwrap());
        let (count, first_source, sources) =
            (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        return child(port, count, first_source, sources);
    }
    let n: usize = arg(&args, "-n").map_or(10_000, |v| v.parse().unwrap());
    let procs: usize = arg(&args, "--procs")
        .map_or(n.div_ceil(15_000), |v| v.parse().unwrap())
        .max(1);
    let sources: usize = arg(&args, "--sources").map_or(8, |v| v.parse().unwrap());
    let hold = Duration::from_secs(arg(&args, "--hold").map_or(3, |v| v.parse().unwrap()));
    if args.iter().any(|a| a == "--websocket") {
        std::env::set_var("HOLD_WS", "1");
    }
    if let Some(every) = arg(&args, "--sse") {
        // Children learn the stream's shape from the environment they inherit.
        let every: u64 = every.parse().expect("--sse SECS");
        let count = (hold.as_secs() / every.max(1)).max(1);
        std::env::set_var("HOLD_SSE", format!("{count},{every}"));
    }
    let server = match arg(&args, "--pid") {
        Some(p) => p.parse().unwrap(),
        None => listener_pid(port).expect("no process listens on that port; pass --pid"),
    };
    parent(port, n, (procs, sources), server, hold);
}

fn parent(port: u16, n: usize, (procs, sources): (usize, usize), server: u32, hold: Duration) {
    let before = tree_pss_kib(server);
    let started = Instant::now();
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for i in 0..procs {
        let count = n / procs + usize::from(i < n % procs);
        let spec = format!("{count},{},{sources}", i * sources / procs);
        let child = Command::new(&exe)
            .args(["--port", &port.to_string(), "--child", &spec])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn a client process");
        children.push(child);
    }
    let mut readers: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().unwrap()))
        .collect();
    let report = |readers: &mut Vec<BufReader<std::process::ChildStdout>>| -> usize {
        readers
            .iter_mut()
            .map(|r| {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                line.trim().parse::<usize>().unwrap_or(0)
            })
            .sum()
    };
    let answered = report(&mut readers);
    let took = started.elapsed().as_secs_f64();
    println!(
        "established: {answered} connections answered once in {took:.1} s ({:.0} per second)",
        answered as f64 / took
    );
    println!("holding");
    std::io::stdout().flush().unwrap();
    std::thread::sleep(hold);
    let after = tree_pss_kib(server);
    for c in &mut children {
        writeln!(c.stdin.as_mut().unwrap(), "check").unwrap();
    }
    let still = report(&mut readers);
    if let Some((count, _)) = sse() {
        println!("events: {still} of {} due", n as u64 * count);
    }
    for c in &mut children {
        let _ = writeln!(c.stdin.as_mut().unwrap(), "exit");
        let _ = c.wait();
    }
    let per_conn = (after.saturating_sub(before) as f64 * 1024.0) / answered.max(1) as f64;
    if sse().is_none() {
        println!(
            "connections: {n} requested, {answered} answered once, {still} answered again at the end"
        );
        println!("answered: {still} of {n}");
    }
    println!("server Pss (tree of pid {server}): {before} KiB before, {after} KiB with the connections held");
    println!("server memory per idle connection: {per_conn:.0} bytes");
}

/// Connections a client process has between connect and first answer at most: a burst of
/// thousands of handshakes overruns the listeners' SYN queues, and every dropped SYN costs the
/// client a retransmission timeout (1 s, then 3, 7, 15…), which a million connections turn into
/// minutes.
const CONNECT_WINDOW: usize = 256;

/// `--sse`: events per stream and seconds between them (from the parent's environment).
fn sse() -> Option<(u64, u64)> {
    let spec = std::env::var("HOLD_SSE").ok()?;
    let (count, every) = spec.split_once(',')?;
    Some((count.parse().ok()?, every.parse().ok()?))
}

/// The first answer is in: the whole `GET /`, or a stream's head.
fn first_answer(got: &[u8]) -> bool {
    if websocket() {
        return got.starts_with(b"HTTP/1.1 101") && got.ends_with(b"\r\n\r\n");
    }
    match sse() {
        None => got.ends_with(b"Hello, World!"),
        Some(_) => got.starts_with(b"HTTP/1.1 200") && got.windows(4).any(|w| w == b"\r\n\r\n"),
    }
}

/// One client process: open `count` connections, one request each (at most `CONNECT_WINDOW`
/// in flight), report, wait, check again.
fn child(port: u16, count: usize, first_source: usize, sources: usize) {
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let target = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    let poller = Poller::new().unwrap();
    let mut conns: Vec<OwnedFd> = Vec::with_capacity(count);
    let mut sent = vec![false; count];
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); count];
    let (mut answered, mut failed, mut in_flight) = (0, 0, 0);
    let deadline = Instant::now() + PHASE_TIMEOUT;
    let mut events = Events::with_capacity(4096);
    let mut ready: Vec<usize> = Vec::new();
    let mut first = vec![false; count];
    let request = match sse() {
        None if websocket() => WS_HANDSHAKE.to_vec(),
        None => REQUEST.to_vec(),
        Some((events, every)) => format!(
            "GET /sse?count={events}&delay=0s&duration={}s HTTP/1.1\r\nHost: hold\r\n\r\n",
            (events - 1) * every
        )
        .into_bytes(),
    };
    while answered + failed < count && Instant::now() < deadline {
        while in_flight < CONNECT_WINDOW && conns.len() < count {
            let i = conns.len();
            let source = Ipv4Addr::new(127, 0, 0, 2 + ((first_source + i) % sources.max(1)) as u8);
            let socket = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None).unwrap();
            // The port is chosen by connect, for this 4-tuple: bind alone would search the
            // address's whole port range for one free for every destination, a scan that
            // grows with the connections already held (and caps a source at 28k sockets).
            nix::sys::socket::setsockopt(&socket, sockopt::IpBindAddressNoPort, &true).unwrap();
            socket
                .bind(&SocketAddr::V4(SocketAddrV4::new(source, 0)).into())
                .unwrap();
            match socket.connect(&target.into()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                Err(e) => panic!("connect: {e}"),
            }
            let fd: OwnedFd = socket.into();
            poller
                .add(fd.as_fd(), i as u64, Interest::CONNECTION)
                .unwrap();
            conns.push(fd);
            in_flight += 1;
            ready.push(i);
        }
        for i in ready.drain(..) {
            if i >= conns.len() || first[i] {
                continue;
            }
            let fd = conns[i].as_fd();
            if !sent[i] {
                if SockRef::from(&fd).take_error().ok().flatten().is_some() {
                    failed += 1;
                    in_flight -= 1;
                    got[i] = b"failed".to_vec();
                    continue;
                }
                match write_some(fd, &request) {
                    IoOutcome::Done(n) if n == request.len() => sent[i] = true,
                    _ => continue,
                }
            }
            let mut buf = [0u8; 512];
            while let IoOutcome::Done(n) = read_some(fd, &mut buf) {
                got[i].extend_from_slice(&buf[..n]);
            }
            if first_answer(&got[i]) {
                answered += 1;
                in_flight -= 1;
                first[i] = true;
                if sse().is_none() {
                    got[i] = Vec::new();
                }
            }
        }
        poller
            .wait(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        ready.extend(events.iter().map(|e| e.token as usize));
    }
    if failed > 0 {
        eprintln!("hold: {failed} connections failed to connect");
    }
    println!("{answered}");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let still = match sse() {
        None => exchange(&poller, &conns),
        Some((events, _)) => count_events(&poller, &conns, events as usize, &got),
    };
    println!("{still}");
    std::io::stdout().flush().unwrap();
    line.clear();
    std::io::stdin().read_line(&mut line).unwrap();
}

/// Sends one request on every connection and counts the complete responses (bounded in time;
/// a connection that failed or was closed counts as finished, unanswered).
fn exchange(poller: &Poller, conns: &[OwnedFd]) -> usize {
    let mut sent = vec![false; conns.len()];
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); conns.len()];
    let mut done = vec![false; conns.len()];
    let (mut answered, mut finished) = (0, 0);
    let deadline = Instant::now() + PHASE_TIMEOUT;
    let mut events = Events::with_capacity(4096);
    // Every socket starts "maybe writable": try each once, then follow the events.
    let mut ready: Vec<usize> = (0..conns.len()).collect();
    let (request, answer) = if websocket() {
        (WS_MESSAGE, WS_ECHO)
    } else {
        (REQUEST, &b"Hello, World!"[..])
    };
    while finished < conns.len() && Instant::now() < deadline {
        for i in ready.drain(..) {
            if done[i] {
                continue;
            }
            let fd = conns[i].as_fd();
            if !sent[i] {
                if SockRef::from(&fd).take_error().ok().flatten().is_some() {
                    done[i] = true;
                    finished += 1;
                    continue;
                }
                match write_some(fd, request) {
                    IoOutcome::Done(n) if n == request.len() => sent[i] = true,
                    IoOutcome::WouldBlock => continue,
                    _ => {
                        done[i] = true;
                        finished += 1;
                        continue;
                    }
                }
            }
            let mut buf = [0u8; 512];
            let closed = loop {
                match read_some(fd, &mut buf) {
                    IoOutcome::Done(n) => got[i].extend_from_slice(&buf[..n]),
                    IoOutcome::WouldBlock => break false,
                    _ => break true,
                }
            };
            if got[i].ends_with(answer) {
                answered += 1;
            }
            if closed || got[i].ends_with(answer) {
                done[i] = true;
                finished += 1;
            }
        }
        poller
            .wait(&mut events, Some(Duration::from_millis(200)))
            .unwrap();
        ready.extend(events.iter().map(|e| e.token as usize));
    }
    answered
}

/// Reads every stream until each has `due` events (or a minute passes); the events counted.
/// An event split across what came with the head and what follows is missed (heads and first
/// events arrive in one segment here).
fn count_events(poller: &Poller, conns: &[OwnedFd], due: usize, first: &[Vec<u8>]) -> usize {
    // What came with each stream's head is counted first (its first event is sent at once).
    let mut seen: Vec<usize> = first
        .iter()
        .map(|got| got.windows(11).filter(|w| w == b"event: ping").count())
        .collect();
    let mut tail: Vec<Vec<u8>> = vec![Vec::new(); conns.len()];
    let mut complete = seen.iter().filter(|&&s| s >= due).count();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut events = Events::with_capacity(4096);
    let mut ready: Vec<usize> = (0..conns.len()).collect();
    while complete < conns.len() && Instant::now() < deadline {
        for i in ready.drain(..) {
            if seen[i] >= due {
                continue;
            }
            let mut buf = [0u8; 4096];
            while let IoOutcome::Done(n) = read_some(conns[i].as_fd(), &mut buf) {
                // Keep the last few bytes, so an event split between reads is counted once.
                tail[i].extend_from_slice(&buf[..n]);
                let text = &tail[i];
                seen[i] += text.windows(11).filter(|w| w == b"event: ping").count();
                let keep = text.len().saturating_sub(10);
                tail[i].drain(..keep);
            }
            if seen[i] >= due {
                complete += 1;
            }
        }
        poller
            .wait(&mut events, Some(Duration::from_millis(200)))
            .unwrap();
        ready.extend(events.iter().map(|e| e.token as usize));
    }
    seen.iter().map(|&s| s.min(due)).sum()
}

/// Pss (KiB) summed over `pid` and all its descendants.
fn tree_pss_kib(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            total += text
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
        stack.extend(procfs::children_of(p).unwrap_or_default());
    }
    total
}

/// The oldest process with a listening socket on `port` (the master), from /proc.
fn listener_pid(port: u16) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?
        + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    let needle = format!(":{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && f[1].ends_with(&needle) && f[3] == "0A").then(|| f[9].to_string())
        })
        .collect();
    let mut owners = Vec::new();
    for pid in procfs::pids().ok()? {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let owns = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .map(|t| {
                    inodes
                        .iter()
                        .any(|i| t.to_string_lossy() == format!("socket:[{i}]"))
                })
                .unwrap_or(false)
        });
        if owns {
            owners.push(pid);
        }
    }
    owners.into_iter().min()
}
