//! `--check` (like `nginx -t`): validate the options and the sockets, start nothing.

use crate::common;

use std::os::fd::AsRawFd;
use std::process::Command;

#[test]
fn check_validates_passed_sockets_instead_of_binding() {
    // The port is taken by the very socket passed, as under systemd's socket activation (or in
    // a binary upgrade's check of the new binary): a bind would fail with 75.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    nix::fcntl::fcntl(
        &listener,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    let script = format!(
        "exec 3<&{}; LISTEN_FDS=1 LISTEN_PID=$$ exec \"$0\" \"$@\"",
        listener.as_raw_fd()
    );
    let out = Command::new("sh")
        .args(["-c", &script, common::BIN, "--check", "--bind", "127.0.0.1"])
        .args(["--port", &port])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 listening socket(s) passed by systemd, on 127.0.0.1:"),
        "{stderr}"
    );
    // Without the socket passed, the same check tries the bind and reports the port taken.
    let out = Command::new(common::BIN)
        .args(["--check", "--bind", "127.0.0.1", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75));
}

#[test]
fn check_refuses_a_passed_descriptor_that_is_no_listener() {
    // fd 3 is a plain file here, not a socket.
    let script = "exec 3</dev/null; LISTEN_FDS=1 LISTEN_PID=$$ exec \"$0\" \"$@\"";
    let out = Command::new("sh")
        .args(["-c", script, common::BIN, "--check", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(71),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
