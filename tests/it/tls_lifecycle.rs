//! HTTPS through the lifecycle: binary upgrades (both modes) under TLS load lose nothing,
//! SIGTTIN/SIGTTOU carry the TLS sockets, systemd's named sockets are told apart; and memory:
//! 10,000 half-open handshakes and clients that never read stay inside the budget.

use crate::common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::load::{binary_copy, KillOnDrop};
use common::tls::{self, Ca};
use common::{get, pss_kib, wait_until, Server};
use nix::sys::signal::Signal;

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A CA and a server pair for localhost, in a directory of the test's own.
fn pki(
    name: &str,
) -> (
    std::path::PathBuf,
    Ca,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let dir = tls::test_dir(name);
    let (ca, cert, key) = tls::pki(&dir);
    (dir, ca, cert, key)
}

/// Clients that keep requesting over TLS until stopped: some on a new connection (and a full
/// or resumed handshake) per request, one on a keep-alive connection that reconnects when
/// told `Connection: close`. Every failure is counted.
struct TlsLoad {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl TlsLoad {
    fn start(addr: SocketAddr, ca: &Ca) -> TlsLoad {
        let (stop, ok, failed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let config = tls::client_config(&ca.pem, &Default::default());
        let mut threads = Vec::new();
        for keep_alive in [false, false, true] {
            let (stop, ok, failed, config) =
                (stop.clone(), ok.clone(), failed.clone(), config.clone());
            threads.push(thread::spawn(move || {
                let mut conn = None;
                while !stop.load(Ordering::Relaxed) {
                    let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        if conn.is_none() {
                            conn = Some(tls::connect(addr, &config, "localhost").unwrap());
                        }
                        let resp = tls::get(conn.as_mut().unwrap(), "/whoami");
                        if !keep_alive || resp.header("connection") == Some("close") {
                            conn = None;
                        }
                        resp.status
                    }));
                    match answered {
                        Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => {
                            conn = None;
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            }));
        }
        TlsLoad {
            stop,
            ok,
            failed,
            threads,
        }
    }

    fn wait_answered(&self, n: usize) {
        let from = self.ok.load(Ordering::Relaxed);
        let reached = wait_until(Duration::from_secs(20), || {
            (self.ok.load(Ordering::Relaxed) >= from + n).then_some(())
        });
        assert!(
            reached.is_some(),
            "{} more answers of {n}, {} failed",
            self.ok.load(Ordering::Relaxed) - from,
            self.failed.load(Ordering::Relaxed)
        );
    }

    fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// The master's pid once the pid file names one other than `old`.
fn new_master(pid_file: &Path, old: u32) -> Option<u32> {
    wait_until(Duration::from_secs(20), || {
        let pid: u32 = std::fs::read_to_string(pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        (pid != old).then_some(pid)
    })
}

#[test]
fn binary_upgrades_under_tls_load_lose_nothing() {
    for mode in ["fork", "exec"] {
        let (dir, ca, cert, key) = pki(&format!("upgrade-{mode}"));
        let exe = binary_copy(&format!("tls-{mode}"));
        let pid_file = dir.join("master.pid");
        let mut cmd = Command::new(&exe);
        cmd.args(["--bind", "127.0.0.1", "--port", "0", "--workers", "2"])
            .args(["--upgrade-mode", mode, "--pid-file", path(&pid_file)])
            .args(["--tls-port", "0"])
            .args(tls::cert_args(&cert, &key));
        let server = Server::spawn(cmd);
        let https = server.https_addr();
        let load = TlsLoad::start(https, &ca);
        load.wait_answered(100);
        server.signal(Signal::SIGUSR2);
        let _new = match mode {
            "fork" => {
                let pid = new_master(&pid_file, server.pid)
                    .unwrap_or_else(|| panic!("no new master:\n{}", server.log_text()));
                let gone = wait_until(Duration::from_secs(20), || {
                    (!common::process_exists(server.pid)).then_some(())
                });
                assert!(
                    gone.is_some(),
                    "the old master exits:\n{}",
                    server.log_text()
                );
                Some(KillOnDrop(pid))
            }
            _ => {
                let again = wait_until(Duration::from_secs(20), || {
                    server.log_text().contains("generation=2").then_some(())
                });
                assert!(again.is_some(), "re-executed:\n{}", server.log_text());
                None
            }
        };
        load.wait_answered(100);
        let (ok, failed) = load.finish();
        assert_eq!(
            failed,
            0,
            "{mode}: {failed} of {} TLS requests failed",
            ok + failed
        );
        // Both ports are still served, the TLS one with TLS.
        let config = tls::client_config(&ca.pem, &Default::default());
        let mut s = tls::connect(https, &config, "localhost").unwrap();
        assert_eq!(tls::get(&mut s, "/").status, 200);
        assert_eq!(get(server.addr, "/").status, 200);
    }
}

#[test]
fn sigttin_and_sigttou_carry_the_tls_sockets() {
    let (_dir, ca, cert, key) = pki("resize");
    let server = tls::start_https(&cert, &key, &["--workers", "2"]);
    let https = server.https_addr();
    let load = TlsLoad::start(https, &ca);
    load.wait_answered(50);
    for (signal, workers) in [
        (Signal::SIGTTIN, 3),
        (Signal::SIGTTOU, 2),
        (Signal::SIGTTOU, 1),
    ] {
        server.signal(signal);
        let resized = wait_until(Duration::from_secs(10), || {
            (server.workers().len() == workers).then_some(())
        });
        assert!(
            resized.is_some(),
            "{workers} workers:\n{}",
            server.log_text()
        );
        load.wait_answered(50);
    }
    let (ok, failed) = load.finish();
    assert_eq!(failed, 0, "{failed} of {} TLS requests failed", ok + failed);
    // The sockets the removed slots left are polled by the last worker, over TLS.
    let config = tls::client_config(&ca.pem, &Default::default());
    for _ in 0..20 {
        let mut s = tls::connect(https, &config, "localhost").unwrap();
        assert_eq!(tls::get(&mut s, "/").status, 200);
    }
}

#[test]
fn systemd_names_the_tls_socket() {
    let (_dir, ca, cert, key) = pki("systemd");
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let secure = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (plain_addr, secure_addr) = (plain.local_addr().unwrap(), secure.local_addr().unwrap());
    for l in [&plain, &secure] {
        nix::fcntl::fcntl(
            l,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .unwrap();
    }
    use std::os::fd::AsRawFd;
    // As systemd passes them: fds 3 and 4, named by FileDescriptorName=.
    let script = format!(
        "exec 3<&{} 4<&{}; LISTEN_FDS=2 LISTEN_FDNAMES=http:tls LISTEN_PID=$$ exec \"$0\" \"$@\"",
        plain.as_raw_fd(),
        secure.as_raw_fd()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script, common::BIN, "--workers", "2", "--port", "1"])
        .args(["--tls-port", "2"])
        .args(tls::cert_args(&cert, &key));
    let server = Server::spawn(cmd);
    drop((plain, secure));
    assert_eq!(server.addr, plain_addr);
    assert_eq!(server.https_addr(), secure_addr);
    assert_eq!(get(plain_addr, "/").status, 200);
    let config = tls::client_config(&ca.pem, &Default::default());
    let mut s = tls::connect(secure_addr, &config, "localhost").unwrap();
    assert_eq!(tls::get(&mut s, "/").status, 200);
}

/// The sum over every worker of a `/metrics` gauge or counter.
fn metric(addr: SocketAddr, name: &str, label: &str) -> u64 {
    let text = get(addr, "/metrics").body_str().to_string();
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn worker_pss(server: &Server) -> u64 {
    server.workers().iter().map(|&p| pss_kib(p)).sum()
}

#[test]
fn ten_thousand_half_open_handshakes_stay_inside_the_budget() {
    const CLIENTS: usize = 10_000;
    const BUDGET: u64 = 32 << 20;
    let _fds = common::raise_nofile(CLIENTS as u64 + 500);
    let (_dir, ca, cert, key) = pki("half-open");
    let server = tls::start_https(
        &cert,
        &key,
        &[
            "--workers",
            "1",
            "--memory-budget",
            "32m",
            "--header-timeout",
            "60s",
        ],
    );
    let https = server.https_addr();
    let before = worker_pss(&server);
    let hello = {
        let config = tls::client_config(&ca.pem, &Default::default());
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut bytes = Vec::new();
        conn.write_tls(&mut bytes).unwrap();
        bytes
    };
    // Each sends the first half of a ClientHello and nothing more.
    let mut held = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let Ok(mut s) = TcpStream::connect(https) else {
            continue;
        };
        let _ = s.write_all(&hello[..hello.len() / 2]);
        held.push(s);
    }
    let settled = wait_until(Duration::from_secs(30), || {
        let seen = metric(server.addr, "prefork_tls_handshakes_total", "no_memory")
            + common::open_connections(server.addr);
        (seen as usize >= CLIENTS).then_some(())
    });
    assert!(settled.is_some(), "every connection accepted or refused");
    let charged = metric(server.addr, "prefork_buffered_tls_bytes", "");
    let refused = metric(server.addr, "prefork_tls_handshakes_total", "no_memory");
    let grown = worker_pss(&server).saturating_sub(before);
    eprintln!(
        "{CLIENTS} half-open handshakes: {charged} B charged of {BUDGET}, {refused} refused, \
         the worker grew {grown} KiB"
    );
    assert!(charged <= BUDGET, "{charged} B charged");
    assert!(refused > 0, "past the budget, new handshakes are refused");
    assert!(
        grown < (BUDGET >> 10) + 16 * 1024,
        "the worker grew {grown} KiB"
    );
    // Everyone else is still served: plain HTTP at once, TLS once the half-open ones go.
    assert_eq!(get(server.addr, "/").status, 200);
    drop(held);
    let released = wait_until(Duration::from_secs(20), || {
        (metric(server.addr, "prefork_buffered_tls_bytes", "") == 0).then_some(())
    });
    assert!(released.is_some(), "the budget is given back");
    let config = tls::client_config(&ca.pem, &Default::default());
    let mut s = tls::connect(https, &config, "localhost").unwrap();
    assert_eq!(tls::get(&mut s, "/").status, 200);
}

#[test]
fn tls_clients_that_never_read_stay_inside_the_budget() {
    const CLIENTS: usize = 50;
    let (_dir, ca, cert, key) = pki("never-read");
    let server = tls::start_https(&cert, &key, &["--workers", "1", "--memory-budget", "16m"]);
    let https = server.https_addr();
    let before = worker_pss(&server);
    let config = tls::client_config(&ca.pem, &Default::default());
    // 2,000 pipelined requests: 80 KB, several records, more than the read buffer takes, so
    // records wait in `incoming` and are met again while answers are encrypted.
    let request = "GET /bytes/1048576 HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000);
    let mut held = Vec::new();
    for _ in 0..CLIENTS {
        let mut s = tls::connect(https, &config, "localhost").unwrap();
        s.write_all(request.as_bytes()).unwrap();
        s.flush().unwrap();
        held.push(s);
    }
    // Until the sockets and the budget are full: the gauges stop moving.
    thread::sleep(Duration::from_secs(3));
    let output = metric(server.addr, "prefork_buffered_output_bytes", "");
    let charged = metric(server.addr, "prefork_buffered_tls_bytes", "");
    let grown = worker_pss(&server).saturating_sub(before);
    eprintln!("{CLIENTS} clients that never read: {output} B of output and {charged} B of TLS charged, the worker grew {grown} KiB");
    assert!(
        output + charged <= 16 << 20,
        "{output} + {charged} B charged"
    );
    assert!(grown < 48 * 1024, "the worker grew {grown} KiB");
    // Another client is served meanwhile.
    let mut s = tls::connect(https, &config, "localhost").unwrap();
    assert_eq!(tls::get(&mut s, "/").status, 200);
    drop(held);
}
