//! The master's lifecycle against the real binary: reload and upgrade under load, graceful
//! stop, hung and crashing workers, resizing, recycling, systemd notify and socket activation.

use crate::common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::load::{binary_copy, KillOnDrop, Load};
use common::{get, process_exists, wait_until, whoami_pid, Server};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn generation_of(addr: SocketAddr) -> String {
    let body = get(addr, "/whoami").body_str().to_string();
    body.rsplit("generation=").next().unwrap().to_string()
}

#[test]
fn reload_under_load_fails_no_request() {
    let server = Server::start(&["--workers", "2"]);
    let load = Load::start(server.addr);
    load.wait_answered(50, Duration::from_secs(10));
    for round in 2..=4 {
        server.signal(Signal::SIGHUP);
        let line = format!("generation={round}");
        let done = wait_until(Duration::from_secs(10), || {
            server
                .log_text()
                .lines()
                .any(|l| l.contains("reload complete") && l.contains(&line))
                .then_some(())
        });
        assert!(
            done.is_some(),
            "reload {round} did not complete:\n{}",
            server.log_text()
        );
        // Under load until the old generation has drained and exited, and a while after.
        let drained = wait_until(Duration::from_secs(10), || {
            (server.workers().len() == 2).then_some(())
        });
        assert!(
            drained.is_some(),
            "generation {} lingered after reload {round}: {:?}",
            round - 1,
            server.workers()
        );
        load.wait_answered(50, Duration::from_secs(10));
    }
    let (ok, failed) = load.finish();
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed across reloads",
        ok + failed
    );
    assert!(ok > 100, "only {ok} requests ran");
    assert_eq!(generation_of(server.addr), "4");
    // The old generations drained and exited.
    let workers = wait_until(Duration::from_secs(5), || {
        let w = server.workers();
        (w.len() == 2).then_some(w)
    });
    assert!(
        workers.is_some(),
        "old workers lingered: {:?}",
        server.workers()
    );
}

#[test]
fn graceful_stop_finishes_the_request_in_flight_then_refuses() {
    let server = Server::start(&["--workers", "1", "--debug-routes"]);
    let addr = server.addr;
    let in_flight = thread::spawn(move || {
        common::request(
            addr,
            b"GET /debug/sleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n",
        )
    });
    // In flight: accepted (with its request: deferred accept hands it over with its bytes) and
    // waiting on its timer. /status counts it and itself.
    let accepted = wait_until(Duration::from_secs(5), || {
        (common::open_connections(addr) == 2).then_some(())
    });
    assert!(accepted.is_some(), "the request never reached the worker");
    let started = Instant::now();
    let pid = server.pid;
    kill(Pid::from_raw(pid as i32), Signal::SIGTERM).unwrap();
    // New connections are refused once the drain starts.
    let refused = wait_until(Duration::from_secs(3), || {
        TcpStream::connect(addr).is_err().then_some(())
    });
    assert!(refused.is_some(), "still accepting after SIGTERM");
    let resp = in_flight.join().unwrap();
    assert_eq!((resp.status, resp.body_str()), (200, "slept\n"));
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "answered before its time"
    );
    let status = server.stop(Duration::from_secs(10)).expect("master exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn drain_delay_reports_unhealthy_while_still_serving() {
    let server = Server::start(&["--workers", "1", "--drain-delay", "1500ms"]);
    server.signal(Signal::SIGTERM);
    let unhealthy = wait_until(Duration::from_secs(2), || {
        (get(server.addr, "/healthz").status == 503).then_some(())
    });
    assert!(unhealthy.is_some(), "/healthz never said 503");
    assert_eq!(
        get(server.addr, "/").status,
        200,
        "stopped serving during the drain delay"
    );
    let status = server.stop(Duration::from_secs(10)).expect("master exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn hung_worker_is_killed_and_replaced() {
    let server = Server::start(&["--workers", "1", "--debug-routes", "--worker-timeout", "1s"]);
    let before = server.workers();
    let mut hang = server.connect();
    hang.write_all(b"GET /debug/hang HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let line = server.wait_for_log("worker hung", Duration::from_secs(5));
    assert!(
        line.is_some(),
        "hung worker not detected:\n{}",
        server.log_text()
    );
    let replaced = wait_until(Duration::from_secs(3), || {
        let now = server.workers();
        (now.len() == 1 && now != before).then_some(())
    });
    assert!(replaced.is_some());
    assert_eq!(get(server.addr, "/").status, 200);
}

#[test]
fn crashing_worker_is_replaced_and_a_crash_loop_backs_off() {
    let server = Server::start(&["--workers", "1", "--debug-routes"]);
    for _ in 0..4 {
        let up = wait_until(Duration::from_secs(5), || {
            TcpStream::connect(server.addr)
                .ok()
                .map(|_| get(server.addr, "/healthz").status)
        });
        assert_eq!(up, Some(200));
        let mut s = server.connect();
        s.write_all(b"GET /debug/crash HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf); // reset or EOF when the worker aborts
        let crashes = server.log_text().matches("killed by SIGABRT").count();
        let _ = wait_until(Duration::from_secs(5), || {
            (server.log_text().matches("killed by SIGABRT").count() > crashes).then_some(())
        });
    }
    let _ = wait_until(Duration::from_secs(5), || {
        (server.log_text().matches("respawn_in_ms").count() >= 4).then_some(())
    });
    let delays: Vec<u64> = server
        .log_text()
        .lines()
        .filter_map(|l| l.split("respawn_in_ms=").nth(1))
        .map(|v| v.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(delays, [100, 200, 400, 800], "log:\n{}", server.log_text());
    let served = wait_until(Duration::from_secs(5), || {
        TcpStream::connect(server.addr)
            .ok()
            .map(|_| get(server.addr, "/").status)
    });
    assert_eq!(served, Some(200));
}

#[test]
fn ttin_and_ttou_change_the_worker_count() {
    let server = Server::start(&["--workers", "2"]);
    server.signal(Signal::SIGTTIN);
    let three = wait_until(Duration::from_secs(5), || {
        (server.workers().len() == 3).then_some(())
    });
    assert!(three.is_some(), "no third worker");
    let pids: HashSet<u32> = (0..90)
        .map(|_| whoami_pid(&get(server.addr, "/whoami")))
        .collect();
    assert_eq!(pids.len(), 3, "the new worker serves too: {pids:?}");
    server.signal(Signal::SIGTTOU);
    let two = wait_until(Duration::from_secs(5), || {
        (server.workers().len() == 2).then_some(())
    });
    assert!(two.is_some(), "still {} workers", server.workers().len());
    for _ in 0..20 {
        assert_eq!(get(server.addr, "/").status, 200);
    }
}

#[test]
fn max_requests_recycles_without_a_failed_request() {
    let server = Server::start(&["--workers", "1", "--max-requests", "20"]);
    let mut pids = HashSet::new();
    // A worker keeps serving until its replacement is ready, which takes longer on a loaded
    // machine: count requests until two recycles are seen rather than a fixed number.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = 0;
    while pids.len() < 3 && Instant::now() < deadline {
        let resp = get(server.addr, "/whoami");
        assert_eq!(resp.status, 200, "request {sent}");
        pids.insert(whoami_pid(&resp));
        sent += 1;
    }
    assert!(
        pids.len() >= 3,
        "workers were not recycled after {sent} requests: {pids:?}"
    );
    assert!(
        sent >= 40,
        "recycled before 20 requests each: {sent} requests, {pids:?}"
    );
}

#[test]
fn sd_notify_reports_ready_reloading_and_stopping() {
    let dir = std::env::temp_dir().join(format!("prefork-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut cmd = Command::new(common::BIN);
    cmd.args(["--bind", "127.0.0.1", "--port", "0", "--workers", "1"])
        .env("NOTIFY_SOCKET", &path);
    let server = Server::spawn(cmd);
    let next = || {
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert!(next().starts_with("READY=1\nSTATUS=1 workers, generation 1"));
    server.signal(Signal::SIGHUP);
    let reloading = next();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert!(next().starts_with("READY=1\nSTATUS=1 workers, generation 2"));
    server.signal(Signal::SIGTERM);
    assert_eq!(next(), "STOPPING=1");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn socket_activation_serves_on_the_passed_socket() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    // Let the shell inherit it, then move it to fd 3 as systemd would.
    nix::fcntl::fcntl(
        &listener,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    let script = format!("exec 3<&{fd}; LISTEN_FDS=1 LISTEN_PID=$$ exec \"$0\" \"$@\"");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script, common::BIN, "--workers", "2", "--port", "1"]);
    let server = Server::spawn(cmd);
    assert_eq!(
        server.addr, addr,
        "serves on the passed socket, not on --port"
    );
    drop(listener);
    let pids: HashSet<u32> = (0..40).map(|_| whoami_pid(&get(addr, "/whoami"))).collect();
    assert!(!pids.is_empty());
    assert!(server
        .log_text()
        .contains("using inherited listening sockets"));
}

#[test]
fn check_validates_without_starting() {
    let out = Command::new(common::BIN)
        .args(["--check", "--bind", "127.0.0.1", "--port", "0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("configuration ok"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(common::BIN)
        .args(["--check", "--bind", "127.0.0.1", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75));
}

#[test]
fn binary_upgrade_under_load_fails_no_request() {
    let exe = binary_copy("ok");
    let pid_file = exe.with_file_name("master.pid");
    let mut cmd = Command::new(&exe);
    cmd.args([
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--workers",
        "2",
        "--pid-file",
    ])
    .arg(&pid_file);
    let server = Server::spawn(cmd);
    let old_pid = server.pid;
    let load = Load::start(server.addr);
    load.wait_answered(50, Duration::from_secs(10));
    server.signal(Signal::SIGUSR2);
    let new_pid = wait_until(Duration::from_secs(10), || {
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        (pid != old_pid).then_some(pid)
    })
    .unwrap_or_else(|| panic!("no new master:\n{}", server.log_text()));
    let _cleanup = KillOnDrop(new_pid);
    let old_gone = wait_until(Duration::from_secs(15), || {
        (!process_exists(old_pid)).then_some(())
    });
    assert!(
        old_gone.is_some(),
        "the old master did not exit:\n{}",
        server.log_text()
    );
    // Under load on the new master alone for a while.
    load.wait_answered(100, Duration::from_secs(10));
    let (ok, failed) = load.finish();
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed across the upgrade",
        ok + failed
    );
    let pid = whoami_pid(&get(server.addr, "/whoami"));
    assert!(
        common::children_of(new_pid).contains(&pid),
        "not served by the new master's workers"
    );
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}

#[test]
fn a_failed_upgrade_leaves_the_old_master_serving() {
    let exe = binary_copy("broken");
    let mut cmd = Command::new(&exe);
    cmd.args(["--bind", "127.0.0.1", "--port", "0", "--workers", "1"]);
    let server = Server::spawn(cmd);
    // Replace the file on disk with one that fails at start (rename: the running one is untouched).
    let broken = exe.with_file_name("broken.sh");
    std::fs::write(&broken, "#!/bin/sh\nexit 1\n").unwrap();
    let mut perms = std::fs::metadata(&broken).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&broken, perms).unwrap();
    std::fs::rename(&broken, &exe).unwrap();
    server.signal(Signal::SIGUSR2);
    let failed = server.wait_for_log("upgrade failed", Duration::from_secs(10));
    assert!(failed.is_some(), "{}", server.log_text());
    assert!(process_exists(server.pid));
    assert_eq!(get(server.addr, "/").status, 200);
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}

#[test]
fn sigusr1_reopens_the_log_file() {
    let dir = std::env::temp_dir().join(format!("prefork-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("server.log");
    let mut child = Command::new(common::BIN)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--workers",
            "1",
            "--log-file",
        ])
        .arg(&log)
        .env("RUST_LOG", "info")
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id() as i32);
    let ready = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|s| s.contains("listening on"))
    });
    assert!(ready.is_some());
    std::fs::rename(&log, dir.join("server.log.1")).unwrap();
    kill(pid, Signal::SIGUSR1).unwrap();
    let reopened = wait_until(Duration::from_secs(5), || log.exists().then_some(()));
    assert!(reopened.is_some(), "no new log file after SIGUSR1");
    kill(pid, Signal::SIGHUP).unwrap();
    let logged = wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|s| s.contains("reload complete"))
    });
    kill(pid, Signal::SIGTERM).unwrap();
    let _ = wait_until(Duration::from_secs(10), || child.try_wait().ok().flatten());
    let _ = child.kill();
    let _ = child.wait();
    assert!(logged.is_some(), "later lines did not go to the new file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn removing_a_worker_under_load_fails_no_request() {
    let server = Server::start(&["--workers", "3"]);
    let load = Load::start(server.addr);
    load.wait_answered(50, Duration::from_secs(10));
    server.signal(Signal::SIGTTOU);
    let two = wait_until(Duration::from_secs(5), || {
        (server.workers().len() == 2).then_some(())
    });
    assert!(two.is_some(), "still {} workers", server.workers().len());
    // Under load on the two left for a while.
    load.wait_answered(100, Duration::from_secs(10));
    let (ok, failed) = load.finish();
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed while a worker was removed",
        ok + failed
    );
    assert!(ok > 50);
}
