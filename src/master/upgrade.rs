//! SIGUSR2: start the binary on disk now as a new master that inherits our listening sockets.
//!
//! The listeners are passed as inheritable duplicates, their numbers in slot order in
//! `PREFORK_UPGRADE_FDS` (the way systemd's `LISTEN_FDS` works), plus one end of a socketpair
//! in `PREFORK_UPGRADE_READY_FD`. The new master writes `READY` there once its workers serve;
//! then this master drains and exits. If the new one dies first, nothing here has changed.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use nix::unistd::Pid;

use super::startup::{UPGRADE_FDS, UPGRADE_READY_FD};
use crate::sys::net;

/// A new master started by SIGUSR2 that has not said it is ready yet.
pub struct Upgrade {
    pub pid: Pid,
    /// Our end of its ready channel. Kept open after it says READY, until this master exits:
    /// its EOF tells the new master that we are gone.
    pub ready: UnixStream,
    /// Killed if not ready by then (`--upgrade-timeout`).
    pub deadline: Instant,
}

/// Starts `exe args` with the listeners inherited.
///
/// # Errors
/// If the descriptors cannot be duplicated or the process cannot be started (e.g. the file
/// on disk is gone or not executable).
pub fn start<'a>(
    exe: &Path,
    args: &[OsString],
    listeners: impl Iterator<Item = &'a OwnedFd>,
    env: &[(&str, OsString)],
    deadline: Instant,
) -> io::Result<Upgrade> {
    let (ours, theirs) = UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    // Inheritable copies, closed again in this process as soon as the child is started.
    let mut passed = Vec::new();
    for fd in listeners {
        passed.push(net::dup_inheritable(fd.as_fd())?);
    }
    let ready = net::dup_inheritable(theirs.as_fd())?;
    let numbers: Vec<String> = passed.iter().map(|fd| fd.as_raw_fd().to_string()).collect();
    let child = Command::new(exe)
        .args(args)
        .env(UPGRADE_FDS, numbers.join(","))
        .env(UPGRADE_READY_FD, ready.as_raw_fd().to_string())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn()?;
    // The master reaps its children with waitpid(-1); the `Child` handle is not needed.
    let pid = Pid::from_raw(child.id() as i32);
    drop(child);
    Ok(Upgrade {
        pid,
        ready: ours,
        deadline,
    })
}
