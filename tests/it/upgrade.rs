//! Binary upgrades (SIGUSR2) that go wrong: more sockets than workers, a new binary that
//! hangs before it is ready, and a stop while an upgrade is pending.

use crate::common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::load::{binary_copy, KillOnDrop, Load};
use common::{get, process_exists, wait_until, Server};
use nix::sys::signal::Signal;

/// Starts the copy at `exe` with a pid file beside it.
fn start(exe: &Path, extra: &[&str]) -> (Server, PathBuf) {
    let pid_file = exe.with_file_name("master.pid");
    let mut cmd = Command::new(exe);
    cmd.args(["--bind", "127.0.0.1", "--port", "0", "--pid-file"])
        .arg(&pid_file)
        .args(extra);
    (Server::spawn(cmd), pid_file)
}

/// The pid in the pid file once it names a master other than `old`.
fn new_master(pid_file: &Path, old: u32, server: &Server) -> u32 {
    wait_until(Duration::from_secs(15), || {
        let pid: u32 = std::fs::read_to_string(pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        (pid != old).then_some(pid)
    })
    .unwrap_or_else(|| panic!("no new master:\n{}", server.log_text()))
}

/// Puts the real binary back at `exe`.
fn restore_binary(exe: &Path) {
    let tmp = exe.with_file_name("restored");
    std::fs::copy(common::BIN, &tmp).unwrap();
    std::fs::rename(&tmp, exe).unwrap();
}

/// Puts a binary that never gets ready on disk and sends SIGUSR2: the pid of the new master
/// started, and a guard that kills it at the end of the test.
fn start_hung_upgrade(server: &Server, exe: &Path) -> (u32, KillOnDrop) {
    common::load::replace_with_script(exe, "#!/bin/sh\nexec sleep 600\n");
    server.signal(Signal::SIGUSR2);
    let started = server
        .wait_for_log("new master started", Duration::from_secs(5))
        .expect("the upgrade started");
    let hung = pid_in(&started);
    (hung, KillOnDrop(hung))
}

/// The pid a log line gives as `pid=N`.
fn pid_in(line: &str) -> u32 {
    let at = line.find("pid=").expect("a pid in the line") + 4;
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|p| p.parse().ok())
        .expect("digits after pid=")
}

#[test]
fn an_upgrade_from_more_slots_than_workers_resets_nothing() {
    let exe = binary_copy("slots");
    let (server, pid_file) = start(&exe, &["--workers", "2"]);
    for more in 3..=5 {
        // One at a time: a SIGTTIN sent before the last was handled would merge with it.
        server.signal(Signal::SIGTTIN);
        let added = wait_until(Duration::from_secs(10), || {
            (server.workers().len() == more).then_some(())
        });
        assert!(added.is_some(), "{more} workers:\n{}", server.log_text());
    }
    let five = wait_until(Duration::from_secs(10), || {
        (server.workers().len() == 5).then_some(())
    });
    assert!(five.is_some(), "five workers:\n{}", server.log_text());
    // Many clients on a new connection per request: the kernel spreads them over all five
    // sockets, three of them beyond the new master's --workers 2.
    let load = Load::with_clients(server.addr, 32);
    load.wait_answered(100, Duration::from_secs(10));
    let old_pid = server.pid;
    server.signal(Signal::SIGUSR2);
    let new_pid = new_master(&pid_file, old_pid, &server);
    let _cleanup = KillOnDrop(new_pid);
    let old_gone = wait_until(Duration::from_secs(20), || {
        (!process_exists(old_pid)).then_some(())
    });
    assert!(
        old_gone.is_some(),
        "the old master did not exit:\n{}",
        server.log_text()
    );
    // Served by the new master's two workers alone for a while: the three adopted sockets
    // keep receiving connections, and the workers accept from them. 300 new connections
    // spread by the kernel's hash over five sockets leave none of them out (a socket that
    // nobody polled would leave its clients waiting, and count as failures at `finish`).
    load.wait_answered(300, Duration::from_secs(20));
    let (ok, failed) = load.finish();
    assert_eq!(
        common::children_of(new_pid).len(),
        2,
        "--workers 2 after the upgrade"
    );
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed across the upgrade",
        ok + failed
    );
    for _ in 0..50 {
        assert_eq!(get(server.addr, "/").status, 200);
    }
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}

#[test]
fn a_hung_upgrade_is_rolled_back_and_a_later_one_succeeds() {
    let exe = binary_copy("hung");
    let (server, pid_file) = start(&exe, &["--workers", "1", "--upgrade-timeout", "1s"]);
    let old_pid = server.pid;
    let (hung, _cleanup_hung) = start_hung_upgrade(&server, &exe);
    // A second SIGUSR2 meanwhile is refused, not queued.
    server.signal(Signal::SIGUSR2);
    assert!(server
        .wait_for_log("upgrade refused", Duration::from_secs(5))
        .is_some());
    let timed_out = server.wait_for_log("upgrade timed out", Duration::from_secs(5));
    assert!(timed_out.is_some(), "{}", server.log_text());
    let killed = wait_until(Duration::from_secs(5), || {
        (!process_exists(hung)).then_some(())
    });
    assert!(killed.is_some(), "the hung new master was not killed");
    assert_eq!(
        get(server.addr, "/").status,
        200,
        "the old master still serves"
    );
    // With a binary that works, the next SIGUSR2 goes through.
    restore_binary(&exe);
    server.signal(Signal::SIGUSR2);
    let new_pid = new_master(&pid_file, old_pid, &server);
    let _cleanup = KillOnDrop(new_pid);
    assert!(
        wait_until(Duration::from_secs(15), || (!process_exists(old_pid))
            .then_some(()))
        .is_some()
    );
    assert_eq!(get(server.addr, "/").status, 200);
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}

#[test]
fn stopping_while_an_upgrade_is_pending_leaves_no_listener() {
    let exe = binary_copy("pending");
    let (server, _) = start(&exe, &["--workers", "1"]);
    let addr = server.addr;
    let (hung, _cleanup_hung) = start_hung_upgrade(&server, &exe);
    let status = server.stop(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let killed = wait_until(Duration::from_secs(5), || {
        (!process_exists(hung)).then_some(())
    });
    assert!(
        killed.is_some(),
        "the pending new master outlived the old one"
    );
    // Nobody holds the listeners any more: clients are refused, not left hanging.
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}
