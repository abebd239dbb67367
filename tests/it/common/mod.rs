//! Shared helpers: start the real binary on port 0, wait (bounded) for its readiness line, talk
//! HTTP over raw sockets, and always clean up the process by its PID.
#![allow(dead_code)]

pub(crate) mod bin;
pub(crate) mod h2;
pub(crate) mod load;
pub(crate) mod tls;
pub(crate) mod tree;
pub(crate) mod ws;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_prefork-server");

/// How long a server may take to print its readiness line.
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Server {
    child: Option<Child>,
    pub pid: u32,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `prefork-server --bind 127.0.0.1 --port 0 ARGS` and waits for "listening on".
    pub(crate) fn start(args: &[&str]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["--bind", "127.0.0.1", "--port", "0"]).args(args);
        Server::spawn(cmd)
    }

    /// Starts a prepared command (its stderr is captured) and waits for "listening on".
    pub(crate) fn spawn(mut cmd: Command) -> Server {
        cmd.env("RUST_LOG", "info")
            .env_remove("PREFORK_WORKERS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = spawn_retrying(&mut cmd);
        let pid = child.id();
        let log = capture(child.stderr.take().expect("piped stderr"));
        let mut server = Server {
            child: Some(child),
            pid,
            addr: "127.0.0.1:0".parse().unwrap(),
            log,
        };
        let line = server
            .wait_for_log("listening on ", START_TIMEOUT)
            .unwrap_or_else(|| panic!("no readiness line; log:\n{}", server.log_text()));
        let after = &line[line.find("listening on ").unwrap() + "listening on ".len()..];
        // Up to the first character no address has: a space, or the quote that ends the
        // message in a `--log-format json` line.
        let addr: String = after
            .chars()
            .take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
            .collect();
        server.addr = addr.parse().expect("address in the readiness line");
        server
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `--tls-port`'s address, from the readiness line's `https=` field.
    pub(crate) fn https_addr(&self) -> SocketAddr {
        let line = self
            .wait_for_log("https=", Duration::from_secs(1))
            .expect("an https= address in the readiness line");
        let after = &line[line.find("https=").unwrap() + "https=".len()..];
        let addr: String = after
            .chars()
            .take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
            .collect();
        addr.parse().expect("the https address")
    }

    /// Waits for a log line containing `needle`; `None` after `timeout`.
    pub(crate) fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        wait_until(timeout, || {
            self.log
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
                .cloned()
        })
    }

    pub(crate) fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The master's children (its workers), from /proc.
    pub(crate) fn workers(&self) -> Vec<u32> {
        children_of(self.pid)
    }

    pub(crate) fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid as i32), signal).expect("signal the master");
    }

    /// Sends SIGTERM and waits (bounded) for the master to exit.
    pub(crate) fn stop(mut self, timeout: Duration) -> Option<ExitStatus> {
        self.signal(Signal::SIGTERM);
        let mut child = self.child.take().unwrap();
        let status = wait_until(timeout, || child.try_wait().ok().flatten());
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        status
    }

    pub(crate) fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let exited = wait_until(Duration::from_secs(5), || child.try_wait().ok().flatten());
            if exited.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Spawns `cmd`, retrying ETXTBSY: a binary copied by one test can still be open for writing
/// in a child another test thread is forking at that moment (until that child execs).
fn spawn_retrying(cmd: &mut Command) -> Child {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Ok(child) => return child,
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("spawn prefork-server: {e}"),
        }
    }
}

fn capture(stderr: std::process::ChildStderr) -> Arc<Mutex<Vec<String>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if std::env::var_os("PREFORK_TEST_ECHO_LOG").is_some() {
                eprintln!("[server] {line}");
            }
            sink.lock().unwrap().push(line);
        }
    });
    log
}

/// Raises this process's open-file soft limit to its hard limit, which must allow `need`
/// descriptors (the test says so plainly if it does not). The tests that hold thousands of
/// descriptors share this process (one test crate): they take turns, holding the guard this
/// returns until they end, so that two of them never need more than the limit together.
#[must_use = "the guard keeps other descriptor-hungry tests out until the test ends"]
pub(crate) fn raise_nofile(need: u64) -> std::sync::MutexGuard<'static, ()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    static MANY_FDS: Mutex<()> = Mutex::new(());
    // A test that failed while holding it leaves it poisoned; the next one may still go.
    let turn = MANY_FDS.lock().unwrap_or_else(|e| e.into_inner());
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= need,
        "this test needs an open-file hard limit of at least {need} (have {hard})"
    );
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    turn
}

/// A process's proportional set size in KiB, from /proc/PID/smaps_rollup.
pub(crate) fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .expect("smaps_rollup")
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("Pss in smaps_rollup")
}

/// Polls `f` every 10 ms until it returns `Some` or `timeout` passes.
pub(crate) fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `figure` every 10 ms until it has stayed the same for `quiet` (what it measures has
/// settled: a worker blocked on full sockets writes nothing more); the settled value, or `None`
/// if it is still changing after `timeout`.
pub(crate) fn wait_until_steady(
    timeout: Duration,
    quiet: Duration,
    mut figure: impl FnMut() -> u64,
) -> Option<u64> {
    let deadline = Instant::now() + timeout;
    let mut last = figure();
    let mut since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        let now = figure();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet {
            return Some(now);
        }
    }
    None
}

/// The bytes a process has handed to write-like calls (`write`, `writev`, `sendfile`, ...) so
/// far: `wchar` in /proc/PID/io.
pub(crate) fn bytes_written(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .expect("/proc/PID/io")
        .lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("wchar in /proc/PID/io")
}

/// The `totals` object of `/status`, summed over the workers.
pub(crate) fn status_totals(addr: SocketAddr) -> serde_json::Value {
    let body = get(addr, "/status").body;
    let status: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "/status is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    status["totals"].clone()
}

/// One figure of `/status`'s totals.
pub(crate) fn status_total(addr: SocketAddr, field: &str) -> u64 {
    let totals = status_totals(addr);
    totals[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in the /status totals: {totals}"))
}

/// Connections the workers hold open, from /status (the /status request itself counts as one).
pub(crate) fn open_connections(addr: SocketAddr) -> u64 {
    status_total(addr, "connections")
}

/// Live direct children of `pid`, from /proc.
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    prefork_server::sys::procfs::children_of(pid).expect("/proc is readable")
}

pub(crate) fn process_exists(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

/// One parsed HTTP response.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub(crate) fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Reads one response from `stream`, keeping extra bytes in `pending` for the next call.
/// `head_only` is for responses to HEAD, which carry Content-Length but no body.
pub(crate) fn read_response(
    stream: &mut impl Read,
    pending: &mut Vec<u8>,
    head_only: bool,
) -> Response {
    let head_end = loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        fill(stream, pending);
    };
    let head = String::from_utf8(pending[..head_end].to_vec()).expect("ascii head");
    pending.drain(..head_end);
    let status = head[9..12].parse().expect("status code");
    let mut resp = Response {
        status,
        head,
        body: Vec::new(),
    };
    if head_only || status == 100 {
        return resp;
    }
    let len: usize = resp
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    while pending.len() < len {
        fill(stream, pending);
    }
    resp.body = pending.drain(..len).collect();
    resp
}

fn fill(stream: &mut impl Read, pending: &mut Vec<u8>) {
    let mut buf = [0u8; 65536];
    let n = stream.read(&mut buf).expect("read response");
    assert!(
        n > 0,
        "connection closed mid-response; have {:?}",
        String::from_utf8_lossy(pending)
    );
    pending.extend_from_slice(&buf[..n]);
}

/// Sends one request on a fresh connection and reads one response.
pub(crate) fn request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    read_response(&mut s, &mut Vec::new(), raw.starts_with(b"HEAD "))
}

/// `GET path` with `Connection: close`.
pub(crate) fn get(addr: SocketAddr, path: &str) -> Response {
    request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// The pid in a `/whoami` body.
pub(crate) fn whoami_pid(resp: &Response) -> u32 {
    let body = resp.body_str();
    body.strip_prefix("pid=")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("bad whoami body {body:?}"))
}

/// True once the peer has closed: reads return 0 (or a reset) within `timeout`.
pub(crate) fn is_closed_by_peer(stream: &mut TcpStream, timeout: Duration) -> bool {
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// True if nothing at all arrives on `stream` for `quiet` (no byte, no close).
pub(crate) fn stays_silent(stream: &mut TcpStream, quiet: Duration) -> bool {
    stream.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 1];
    let silent = matches!(
        stream.read(&mut buf),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
    );
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    silent
}

/// CPU time a process has used (user + system), from /proc/PID/stat.
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process exists");
    let rest = &stat[stat.rfind(')').expect("comm ends") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ: /proc reports clock ticks of 1/100 s on every Linux architecture we run on.
    let hz = 100;
    Duration::from_micros(ticks * 1_000_000 / hz)
}

/// A port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends `n` copies of `request` pipelined on one connection (written from a second thread, so
/// neither side's buffers can stall the other) and asserts that every answer is a 200.
pub(crate) fn pipeline_ok(addr: SocketAddr, request: &[u8], n: usize) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut writer = s.try_clone().unwrap();
    let batch = request.repeat(n);
    let write = std::thread::spawn(move || writer.write_all(&batch).unwrap());
    let mut pending = Vec::new();
    for i in 0..n {
        let status = read_response(&mut s, &mut pending, false).status;
        assert_eq!(status, 200, "answer {i} of {n}");
    }
    write.join().unwrap();
}

/// Sends `data` on `s` from another thread while reading the echo back, and checks it is the
/// same bytes (a large echo must be read while it is written, or both sides fill up).
pub(crate) fn echo_round_trip(s: &mut TcpStream, data: &[u8]) {
    let mut writer = s.try_clone().unwrap();
    let sent = data.to_vec();
    let t = std::thread::spawn(move || writer.write_all(&sent).unwrap());
    let mut got = vec![0u8; data.len()];
    s.read_exact(&mut got).unwrap();
    t.join().unwrap();
    assert!(got == data, "echoed bytes differ");
}

/// Reads until EOF (or reset) and returns what arrived; panics if it takes longer than `within`.
pub(crate) fn read_until_closed(s: &mut TcpStream, within: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!(
                "not closed within {within:?}: {e}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

/// The sum over every worker of the `/metrics` family `name` (the lines of that exact name),
/// over the lines whose labels contain `label` (empty: all of them).
pub(crate) fn metric(addr: SocketAddr, name: &str, label: &str) -> u64 {
    let body = get(addr, "/metrics").body;
    let text = String::from_utf8_lossy(&body);
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']) && rest.contains(label))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
