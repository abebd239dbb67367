//! The master: forking, limits, sockets, respawn, the kept accept queue, stop, bind failure.

use crate::common;

use std::collections::HashSet;
use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{children_of, get, process_exists, read_response, wait_until, whoami_pid, Server};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn nofile_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut f = line["Max open files".len()..].split_whitespace();
    (f.next().unwrap().to_string(), f.next().unwrap().to_string())
}

/// Listening sockets on `port` in /proc/net/tcp (state 0A = LISTEN).
fn listening_sockets(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let needle = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&needle) && f[3] == "0A"
        })
        .count()
}

#[test]
fn forks_n_workers_with_raised_limits_and_n_sockets() {
    // Start with a low soft limit, so the raise is visible.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -Sn 1024 && exec \"$0\" \"$@\"", common::BIN])
        .args(["--bind", "127.0.0.1", "--port", "0", "--workers", "3"]);
    let server = Server::spawn(cmd);
    let workers = server.workers();
    assert_eq!(workers.len(), 3, "workers: {workers:?}");
    for pid in workers {
        let (soft, hard) = nofile_limits(pid);
        assert_ne!(soft, "1024", "worker {pid} kept the low soft limit");
        assert_eq!(
            soft, hard,
            "worker {pid}: soft limit raised to the hard one"
        );
    }
    assert_eq!(listening_sockets(server.port()), 3);
    assert!(server.log_text().contains("open-file limit"));
}

#[test]
fn connections_spread_over_workers() {
    let server = Server::start(&["--workers", "2"]);
    let pids: HashSet<u32> = (0..64)
        .map(|_| whoami_pid(&get(server.addr, "/whoami")))
        .collect();
    assert_eq!(pids.len(), 2, "64 new connections all landed on {pids:?}");
    let workers: HashSet<u32> = server.workers().into_iter().collect();
    assert_eq!(pids, workers);
}

#[test]
fn killed_worker_is_logged_and_replaced_within_a_second() {
    let server = Server::start(&["--workers", "2"]);
    let before = server.workers();
    let victim = before[0];
    let killed_at = Instant::now();
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).unwrap();
    let replacement = wait_until(Duration::from_secs(1), || {
        let now = server.workers();
        let new: Vec<u32> = now
            .iter()
            .copied()
            .filter(|p| !before.contains(p))
            .collect();
        (now.len() == 2 && !new.is_empty()).then(|| new[0])
    })
    .unwrap_or_else(|| panic!("no replacement within 1 s; log:\n{}", server.log_text()));
    // The replacement serves the same port.
    let served = wait_until(Duration::from_secs(5), || {
        (whoami_pid(&get(server.addr, "/whoami")) == replacement).then_some(())
    });
    assert!(served.is_some(), "the replacement never answered");
    assert!(killed_at.elapsed() < Duration::from_secs(5));
    let line = server
        .wait_for_log("killed by SIGKILL", Duration::from_secs(2))
        .expect("exit logged");
    assert!(line.contains(&format!("pid={victim}")), "{line}");
}

#[test]
fn queued_connections_survive_a_worker_death() {
    let server = Server::start(&["--workers", "2"]);
    let workers = server.workers();
    let stopped = workers[0];
    kill(Pid::from_raw(stopped as i32), Signal::SIGSTOP).unwrap();
    // Half of these land in the stopped worker's accept queue, held by the master's socket.
    let mut conns: Vec<_> = (0..20)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(b"GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    kill(Pid::from_raw(stopped as i32), Signal::SIGKILL).unwrap();
    let mut served_by = HashSet::new();
    for s in &mut conns {
        let resp = read_response(s, &mut Vec::new(), false);
        assert_eq!(resp.status, 200);
        served_by.insert(whoami_pid(&resp));
    }
    assert!(!served_by.contains(&stopped));
    let replacement_served = served_by.iter().any(|p| !workers.contains(p));
    assert!(
        replacement_served,
        "no queued connection reached the replacement: {served_by:?}"
    );
}

#[test]
fn sigterm_stops_everything_with_status_zero_and_frees_the_port() {
    let server = Server::start(&["--workers", "2"]);
    let workers = server.workers();
    let addr = server.addr;
    let status = server
        .stop(Duration::from_secs(15))
        .expect("master exits within the timeout");
    assert_eq!(status.code(), Some(0));
    for pid in workers {
        assert!(
            wait_until(Duration::from_secs(2), || (!process_exists(pid))
                .then_some(()))
            .is_some(),
            "worker {pid} outlived the master"
        );
    }
    TcpListener::bind(addr).expect("port free again");
}

#[test]
fn workers_exit_when_the_master_is_killed() {
    let server = Server::start(&["--workers", "2"]);
    let workers = server.workers();
    server.signal(Signal::SIGKILL);
    for pid in workers {
        assert!(
            wait_until(Duration::from_secs(5), || (!process_exists(pid))
                .then_some(()))
            .is_some(),
            "worker {pid} became an orphan"
        );
    }
}

#[test]
fn port_in_use_fails_fast_with_a_clear_message_and_no_children() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut child = Command::new(common::BIN)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--workers",
            "2",
        ])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = wait_until(Duration::from_secs(10), || child.try_wait().ok().flatten())
        .expect("exits at once");
    assert!(children_of(pid).is_empty());
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(75), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.contains("ERROR"))
        .expect("an error line");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.to_lowercase().contains("in use"), "{error}");
    assert!(
        !stderr.contains("worker forked"),
        "a worker was forked:\n{stderr}"
    );
}

#[test]
fn bad_address_and_usage_errors_exit_with_their_codes() {
    let out = Command::new(common::BIN)
        .args(["--bind", "192.0.2.1", "--port", "0", "--workers", "1"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(common::BIN)
        .args(["--workers", "zero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(common::BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--workers",
        "--port",
        "--bind",
        "--protocol",
        "--backlog",
        "--max-fds",
        "--log-format",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    assert!(
        help.contains("PREFORK_PORT"),
        "--help names the environment variables"
    );
    let out = Command::new(common::BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("prefork-server "));
}

#[test]
fn options_come_from_the_environment_too() {
    let mut cmd = Command::new(common::BIN);
    cmd.env("PREFORK_BIND", "127.0.0.1")
        .env("PREFORK_PORT", "0")
        .env("PREFORK_PROTOCOL", "echo");
    let server = Server::spawn(cmd);
    let workers = server.workers().len();
    assert!(workers >= 1);
    assert!(server.log_text().contains("protocol=\"echo\""));
}

#[test]
fn cpu_affinity_pins_each_worker_and_defer_accept_still_serves() {
    let server = Server::start(&[
        "--workers",
        "2",
        "--cpu-affinity",
        "0",
        "--defer-accept",
        "5",
    ]);
    for pid in server.workers() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap();
        assert_eq!(cpus.trim(), "0", "worker {pid}");
    }
    let master = std::fs::read_to_string(format!("/proc/{}/status", server.pid)).unwrap();
    let master_cpus = master
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap();
    assert_ne!(master_cpus.trim(), "", "the master is not pinned");
    for _ in 0..10 {
        assert_eq!(get(server.addr, "/").status, 200);
    }
}
