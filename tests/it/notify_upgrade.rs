//! sd_notify across a binary upgrade, with the sender of every datagram (SCM_CREDENTIALS): with
//! `NotifyAccess=main`, systemd drops (and warns about) any message not from its main pid.

use crate::common;

use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::load::KillOnDrop;
use common::{process_exists, Server};
use nix::sys::signal::Signal;
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};

/// A notify socket like systemd's: it learns who sent each datagram.
struct NotifySocket {
    sock: UnixDatagram,
    dir: PathBuf,
}

impl NotifySocket {
    fn bind(name: &str) -> NotifySocket {
        let dir = std::env::temp_dir().join(format!("prefork-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).unwrap();
        setsockopt(&sock, sockopt::PassCred, &true).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        NotifySocket { sock, dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("notify.sock")
    }

    /// The next datagram and its sender's pid.
    fn next(&self) -> (u32, String) {
        let mut buf = [0u8; 1024];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
        let msg = recvmsg::<()>(
            self.sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .expect("a notification within 10 s");
        let pid = msg
            .cmsgs()
            .unwrap()
            .find_map(|c| match c {
                ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid() as u32),
                _ => None,
            })
            .expect("the sender's credentials");
        let n = msg.bytes;
        (pid, String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(notify: &NotifySocket, mode: &str) -> Server {
    let mut cmd = Command::new(common::BIN);
    cmd.args(["--bind", "127.0.0.1", "--port", "0", "--workers", "1"])
        .args(["--upgrade-mode", mode])
        .env("NOTIFY_SOCKET", notify.path())
        .env("WATCHDOG_USEC", "200000");
    Server::spawn(cmd)
}

/// Reads notifications until one starts with `prefix`, skipping watchdog pings; each must come
/// from `main`.
fn expect_from(notify: &NotifySocket, main: u32, prefix: &str) -> String {
    loop {
        let (pid, text) = notify.next();
        assert_eq!(
            pid, main,
            "{text:?} from {pid}, not from the main pid {main}"
        );
        if text.starts_with(prefix) {
            return text;
        }
        assert_eq!(text, "WATCHDOG=1", "waiting for {prefix}");
    }
}

#[test]
fn an_exec_upgrade_notifies_from_the_same_pid_throughout() {
    let notify = NotifySocket::bind("notify-exec");
    let server = start(&notify, "auto");
    let main = server.pid;
    expect_from(&notify, main, "READY=1");
    server.signal(Signal::SIGUSR2);
    expect_from(&notify, main, "RELOADING=1\nMONOTONIC_USEC=");
    let ready = expect_from(&notify, main, "READY=1");
    assert!(ready.contains("generation 2"), "{ready}");
    expect_from(&notify, main, "WATCHDOG=1");
    server.signal(Signal::SIGTERM);
    expect_from(&notify, main, "STOPPING=1");
}

#[test]
fn a_fork_upgrade_notifies_only_from_the_main_pid_of_the_moment() {
    let notify = NotifySocket::bind("notify-fork");
    let server = start(&notify, "fork");
    let old = server.pid;
    expect_from(&notify, old, "READY=1");
    server.signal(Signal::SIGUSR2);
    let handover = expect_from(&notify, old, "MAINPID=");
    let new: u32 = handover["MAINPID=".len()..].trim().parse().unwrap();
    let _cleanup = KillOnDrop(new);
    // From here on, only the new master: its status, then its pings while the old master
    // drains and exits (no STOPPING=1 nor ping from the old one).
    expect_from(&notify, new, "STATUS=");
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_exists(old) && Instant::now() < deadline {
        expect_from(&notify, new, "WATCHDOG=1");
    }
    assert!(!process_exists(old), "the old master did not exit");
    expect_from(&notify, new, "WATCHDOG=1");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(new as i32), Signal::SIGTERM).unwrap();
    expect_from(&notify, new, "STOPPING=1");
}
