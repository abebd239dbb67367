//! SIGUSR2 the nginx way: start the binary on disk now as a new master that inherits our listening
//! sockets, beside this one.
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
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tracing::{error, info, warn};

use super::startup::{UPGRADE_FDS, UPGRADE_READY_FD, UPGRADE_TLS_FDS};
use super::{Master, HANDOVER, UPGRADE};
use crate::channel;
use crate::config::UpgradeMode;
use crate::sys::epoll::Interest;
use crate::sys::net;

/// A new master started by SIGUSR2 that has not said it is ready yet.
pub(super) struct Upgrade {
    pub pid: Pid,
    /// Our end of its ready channel. Closed once it says READY and `MAINPID=` is sent: that EOF
    /// tells the new master it is systemd's main process now.
    pub ready: UnixStream,
    /// Killed if not ready by then (`--upgrade-timeout`).
    pub deadline: Instant,
}

/// Starts `exe args` with the listeners inherited.
///
/// # Errors
/// If the descriptors cannot be duplicated or the process cannot be started (e.g. the file
/// on disk is gone or not executable).
fn start<'a>(
    exe: &Path,
    args: &[OsString],
    listeners: impl Iterator<Item = &'a OwnedFd>,
    tls_listeners: impl Iterator<Item = &'a OwnedFd>,
    env: &[(&str, OsString)],
    deadline: Instant,
) -> io::Result<Upgrade> {
    let (ours, theirs) = UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    // Inheritable copies, closed again in this process as soon as the child is started.
    let mut passed = Vec::new();
    let mut numbers = |fds: &mut dyn Iterator<Item = &'a OwnedFd>| -> io::Result<String> {
        let mut list = Vec::new();
        for fd in fds {
            let copy = net::dup_inheritable(fd.as_fd())?;
            list.push(copy.as_raw_fd().to_string());
            passed.push(copy);
        }
        Ok(list.join(","))
    };
    let (mut main, mut tls) = (listeners, tls_listeners);
    let main = numbers(&mut main)?;
    let tls = numbers(&mut tls)?;
    let ready = net::dup_inheritable(theirs.as_fd())?;
    let mut command = Command::new(exe);
    if !tls.is_empty() {
        command.env(UPGRADE_TLS_FDS, tls);
    }
    let child = command
        .args(args)
        .env(UPGRADE_FDS, main)
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

impl Master {
    /// SIGUSR2: start the binary on disk as a new master on our sockets.
    pub(super) fn start_upgrade(&mut self) {
        if self.stop.is_some() || self.upgrade.is_some() || self.check.is_some() {
            return warn!("binary upgrade refused: a stop or another upgrade is under way");
        }
        if self.config.lifecycle.upgrade_mode == UpgradeMode::Exec {
            return self.start_check();
        }
        // Every socket we hold, adopted ones too: a new master with fewer workers adopts the
        // rest in turn (see `startup::Listeners::adopted`).
        let (listeners, tls_listeners) = (self.listeners(false), self.listeners(true));
        // The new master takes over as systemd's main process: it must keep notifying.
        let env = self
            .notifier
            .as_ref()
            .map_or(Vec::new(), |n| n.inherit.clone());
        let deadline = Instant::now() + self.config.lifecycle.upgrade_timeout;
        match start(
            &self.exe,
            &self.args,
            listeners,
            tls_listeners,
            &env,
            deadline,
        ) {
            Ok(u) => {
                info!(pid = u.pid.as_raw(), exe = %self.exe.display(), "binary upgrade: new master started");
                if let Err(e) = self
                    .poller
                    .add(u.ready.as_fd(), UPGRADE, Interest::READABLE)
                {
                    warn!(error = %e, "could not watch the new master");
                }
                self.upgrade = Some(u);
            }
            Err(e) => {
                error!(exe = %self.exe.display(), error = %e, "binary upgrade failed to start; carrying on")
            }
        }
    }

    /// The new master said it is ready (this one drains and exits) or closed its channel
    /// without a word (it failed; this one carries on).
    pub(super) fn on_upgrade_channel(&mut self) {
        let Some(u) = &self.upgrade else {
            return;
        };
        let inbox = channel::receive(u.ready.as_fd());
        let new_pid = u.pid;
        if inbox.has(channel::READY) {
            info!(
                pid = new_pid.as_raw(),
                "binary upgrade: the new master is serving; this master drains and exits"
            );
            self.notify(&format!("MAINPID={}", new_pid.as_raw()));
            // systemd takes notifications from the new master only from now on; ours (STOPPING=1,
            // watchdog pings) would be refused, each with a warning in the journal.
            self.notifier = None;
            let u = self.upgrade.take().expect("checked");
            let _ = self.poller.delete(&u.ready);
            // Dropping `u` closes the channel: that EOF tells the new master it may notify.
            if self.stop.is_none() {
                // No drain delay: the new master serves the same sockets, healthy.
                self.begin_stop_with(true, Duration::ZERO);
            }
        } else if inbox.closed {
            let u = self.upgrade.take().expect("checked");
            let _ = self.poller.delete(&u.ready);
            error!(
                pid = new_pid.as_raw(),
                "binary upgrade failed: the new master quit before serving; carrying on"
            );
        }
    }

    /// A binary upgrade that has not reported ready within `--upgrade-timeout` is rolled back:
    /// the new master is killed (its workers, if any, follow it through their parent-death
    /// signal), and a later SIGUSR2 may try again.
    pub(super) fn check_upgrade_deadline(&mut self, now: Instant) {
        self.check_deadline(now);
        let Some(u) = self.upgrade.as_ref().filter(|u| u.deadline <= now) else {
            return;
        };
        error!(
            pid = u.pid.as_raw(),
            timeout_ms = self.config.lifecycle.upgrade_timeout.as_millis() as u64,
            "binary upgrade timed out: the new master did not report ready; killing it and \
             carrying on"
        );
        let u = self.upgrade.take().expect("checked");
        let _ = self.poller.delete(&u.ready);
        let _ = kill(u.pid, Signal::SIGKILL);
    }

    /// We are a fork-style upgrade's new master and said READY: keep the channel, and notify
    /// systemd only once the old master closes it (it has sent `MAINPID=` by then).
    pub(super) fn await_handover(&mut self, ready: OwnedFd) {
        channel::send(ready.as_fd(), channel::READY);
        if !self.notify_held {
            return;
        }
        match self.poller.add(ready.as_fd(), HANDOVER, Interest::READABLE) {
            Ok(()) => self.upgrade_ready = Some(ready),
            Err(e) => {
                warn!(error = %e, "could not watch the old master; notifying at once");
                self.notify_held = false;
            }
        }
    }

    /// The old master closed the ready channel: we are systemd's main process.
    pub(super) fn on_handover(&mut self) {
        let Some(fd) = &self.upgrade_ready else {
            return;
        };
        if !channel::receive(fd.as_fd()).closed {
            return;
        }
        let _ = self.poller.delete(fd);
        self.upgrade_ready = None;
        self.notify_held = false;
        self.notify(&self.status());
    }
}
