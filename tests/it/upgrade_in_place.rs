//! SIGUSR2 in exec mode (what systemd gets, forced here with `--upgrade-mode exec`): the master
//! re-executes in place, keeps its pid, adopts its old workers and reaps them once drained; a
//! new binary that fails its `--check`, hangs in it, or cannot be executed leaves the old one.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::load::{binary_copy, Load};
use common::{get, process_exists, request, wait_until, whoami_pid, Server};
use nix::sys::signal::Signal;

/// Starts the copy at `exe` in exec mode.
fn start(exe: &Path, extra: &[&str]) -> Server {
    let mut cmd = Command::new(exe);
    cmd.args([
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--upgrade-mode",
        "exec",
    ])
    .args(extra);
    Server::spawn(cmd)
}

/// Waits for the readiness line of `generation`.
fn wait_for_generation(server: &Server, generation: u32) {
    let line = format!("generation={generation}");
    let ready = wait_until(Duration::from_secs(15), || {
        let log = server.log_text();
        log.lines()
            .any(|l| l.contains("listening on") && l.contains(&line))
            .then_some(())
    });
    assert!(ready.is_some(), "no {line}:\n{}", server.log_text());
}

#[test]
fn exec_upgrade_keeps_the_pid_finishes_requests_and_reaps_the_old_workers() {
    let exe = binary_copy("in-place");
    let server = start(&exe, &["--workers", "2"]);
    let addr = server.addr;
    let old_workers = server.workers();
    assert_eq!(old_workers.len(), 2);
    let in_flight = thread::spawn(move || {
        request(
            addr,
            b"GET /delay/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    });
    // In flight: accepted (with its request) and waiting on its timer; /status counts it and
    // itself. Then the load, before the upgrade.
    let accepted = wait_until(Duration::from_secs(5), || {
        (common::open_connections(addr) == 2).then_some(())
    });
    assert!(accepted.is_some(), "the request never reached a worker");
    let load = Load::start(addr);
    load.wait_answered(50, Duration::from_secs(10));
    server.signal(Signal::SIGUSR2);
    wait_for_generation(&server, 2);
    assert!(server.log_text().contains("--check passed"));
    // The same process, now with new workers; the old ones drain as its children and are
    // reaped (no zombie left) once the request in flight is answered.
    let reaped = wait_until(Duration::from_secs(10), || {
        old_workers
            .iter()
            .all(|&pid| !process_exists(pid) && !Path::new(&format!("/proc/{pid}")).exists())
            .then_some(())
    });
    assert!(
        reaped.is_some(),
        "old workers not reaped:\n{}",
        server.log_text()
    );
    let answer = in_flight.join().unwrap();
    assert_eq!(answer.status, 200, "the request in flight across the exec");
    // Under load on the new workers alone for a while.
    load.wait_answered(50, Duration::from_secs(10));
    let (ok, failed) = load.finish();
    assert_eq!(failed, 0, "{failed} of {} requests failed", ok + failed);
    let new_workers = server.workers();
    assert_eq!(new_workers.len(), 2);
    assert!(new_workers.iter().all(|pid| !old_workers.contains(pid)));
    assert!(new_workers.contains(&whoami_pid(&get(addr, "/whoami"))));
    // A second upgrade works the same way (the environment of the first is gone).
    server.signal(Signal::SIGUSR2);
    wait_for_generation(&server, 3);
    let status = server.stop(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}

#[test]
fn a_new_binary_that_fails_or_hangs_in_its_check_leaves_the_old_master() {
    let exe = binary_copy("check-fails");
    let server = start(&exe, &["--workers", "1", "--upgrade-timeout", "1s"]);
    let workers = server.workers();
    common::load::replace_with_script(&exe, "#!/bin/sh\necho 'broken on purpose' >&2\nexit 78\n");
    server.signal(Signal::SIGUSR2);
    let refused = server.wait_for_log("--check exited with code 78", Duration::from_secs(10));
    assert!(refused.is_some(), "{}", server.log_text());
    assert!(server.log_text().contains("broken on purpose"));
    common::load::replace_with_script(&exe, "#!/bin/sh\nexec sleep 600\n");
    server.signal(Signal::SIGUSR2);
    let timed_out = server.wait_for_log("did not finish", Duration::from_secs(10));
    assert!(timed_out.is_some(), "{}", server.log_text());
    // Nothing changed: the same workers serve (once the killed check is gone too), and the
    // master still stops cleanly.
    let same = wait_until(Duration::from_secs(5), || {
        (server.workers() == workers).then_some(())
    });
    assert!(same.is_some(), "{:?} then {:?}", workers, server.workers());
    assert_eq!(get(server.addr, "/").status, 200);
    assert!(!server.log_text().contains("generation=2"));
    let status = server.stop(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}

#[test]
fn an_exec_that_fails_leaves_the_old_master_serving_and_signalled() {
    let exe = binary_copy("exec-fails");
    let server = start(&exe, &["--workers", "1"]);
    let workers = server.workers();
    // Passes its check, and makes itself unexecutable on the way: the execve that follows
    // fails with EACCES.
    common::load::replace_with_script(&exe, "#!/bin/sh\nchmod -x \"$0\"\nexit 0\n");
    server.signal(Signal::SIGUSR2);
    let failed = server.wait_for_log("could not re-execute", Duration::from_secs(10));
    assert!(failed.is_some(), "{}", server.log_text());
    assert_eq!(server.workers(), workers);
    assert_eq!(get(server.addr, "/").status, 200);
    // The signals blocked for the exec are unblocked again: a reload and a stop still work.
    server.signal(Signal::SIGHUP);
    let reloaded = server.wait_for_log("reload complete", Duration::from_secs(10));
    assert!(reloaded.is_some(), "{}", server.log_text());
    let status = server.stop(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}

#[test]
fn a_stop_that_arrives_during_the_exec_is_not_lost() {
    let exe = binary_copy("stop-during-exec");
    let server = start(&exe, &["--workers", "1"]);
    let pid = server.pid;
    // Sent as soon as the exec is announced: the SIGTERM lands just before the signals are
    // blocked (recorded, then raised again), while they are (pending), or in the new image
    // before its handlers exist (pending too). Whichever, the master must stop cleanly.
    server.signal(Signal::SIGUSR2);
    let announced = server.wait_for_log("re-executing in place", Duration::from_secs(10));
    assert!(announced.is_some(), "{}", server.log_text());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGTERM).unwrap();
    // No second signal (a Server::stop would send one): this SIGTERM alone must stop it.
    let exited = server.wait_for_log("master exiting", Duration::from_secs(10));
    assert!(
        exited.is_some(),
        "the master did not stop after a SIGTERM during the exec:\n{}",
        server.log_text()
    );
    let gone = wait_until(Duration::from_secs(5), || {
        (!process_exists(pid)).then_some(())
    });
    assert!(gone.is_some(), "the master is still running");
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}
