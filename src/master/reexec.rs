//! SIGUSR2 under a service manager: re-execute the master in place, so its pid does not change.
//!
//! systemd supervises one main pid. The fork-style upgrade (`upgrade.rs`) hands it another one
//! with `MAINPID=`, but that process is not systemd's child, and systemd 252 then skips the
//! SIGTERM of a stop (and the SIGABRT of a watchdog timeout) and SIGKILLs the whole unit:
//! requests in flight die. Re-executing keeps the pid, so systemd never notices the change.
//!
//! 1. The new binary runs `--check` first, as a child, with our listening sockets passed (so it
//!    validates them instead of binding a port they hold). Only a clean exit lets the upgrade
//!    go on; a failure or a `--upgrade-timeout` leaves this master as it was.
//! 2. `execve` of the same path and arguments. Across it survive: the listening sockets
//!    (`PREFORK_UPGRADE_FDS`, as in the fork-style upgrade), every worker's channel
//!    (`PREFORK_REEXEC_WORKERS`), the blocked signal mask (signals wait, pending, for the new
//!    image's handlers), and the workers themselves, who are still our children and never see
//!    their parent die (no parent-death signal, no EOF).
//! 3. The new image adopts the old workers: each one that served a slot keeps serving it until
//!    the new worker of that slot is ready, then drains (as in a reload). A slot whose new worker
//!    cannot be forked keeps its old worker, and the fork is retried with backoff.
//!
//! Lost across the exec: the shared stats mapping (the old workers' figures and heartbeats, so
//! an adopted worker gets `--shutdown-timeout` to drain instead of a hang check), the `/healthz`
//! state and the restart counters. If `execve` fails, the signals are unblocked and this master
//! carries on. A new image that fails after a passing check is gone like any failed start,
//! taking the old workers with it; systemd's `Restart=` brings the service back.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tracing::{error, info, warn};

use super::lifecycle::retire;
use super::startup::{UPGRADE_FDS, UPGRADE_TLS_FDS};
use super::Master;
use crate::process::{ExitHow, WorkerProc};
use crate::signals;
use crate::sys::epoll::Interest;
use crate::sys::net;

/// Environment of a re-executed master: its workers, `pid:slot:generation:fd` separated by
/// commas (slot `-` for a worker already draining).
pub(super) const REEXEC_WORKERS: &str = "PREFORK_REEXEC_WORKERS";
/// Environment of a re-executed master: the generation its workers had reached.
pub(super) const REEXEC_GENERATION: &str = "PREFORK_REEXEC_GENERATION";

/// The new binary's `--check`, running.
pub(super) struct PendingCheck {
    pub pid: Pid,
    /// Killed by then (`--upgrade-timeout`), and the upgrade given up.
    pub deadline: Instant,
}

/// One worker as it crosses the exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub pid: i32,
    /// The slot it serves; `None` for one already draining.
    pub slot: Option<usize>,
    pub generation: u64,
    /// Its channel's master end, inherited across the exec.
    pub fd: RawFd,
}

/// `PREFORK_REEXEC_WORKERS`'s value.
pub(super) fn encode(entries: &[Entry]) -> String {
    let one = |e: &Entry| {
        let slot = e.slot.map_or("-".to_string(), |s| s.to_string());
        format!("{}:{slot}:{}:{}", e.pid, e.generation, e.fd)
    };
    entries.iter().map(one).collect::<Vec<_>>().join(",")
}

/// Parses `PREFORK_REEXEC_WORKERS`; a malformed entry is skipped.
pub(super) fn decode(value: &str) -> Vec<Entry> {
    let entry = |item: &str| {
        let mut parts = item.split(':');
        let pid = parts.next()?.parse().ok()?;
        let slot = match parts.next()? {
            "-" => None,
            s => Some(s.parse().ok()?),
        };
        let generation = parts.next()?.parse().ok()?;
        let fd = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Entry {
            pid,
            slot,
            generation,
            fd,
        })
    };
    value.split(',').filter_map(entry).collect()
}

/// What a re-executed master inherits from its previous image.
#[derive(Default)]
pub(super) struct Inherited {
    pub workers: Vec<(Entry, UnixStream)>,
    pub generation: Option<u64>,
}

/// Reads (and removes) the re-exec environment, taking ownership of each worker's channel.
/// A worker that is not our child (a stale or foreign variable) is left alone.
pub(super) fn inherited() -> Inherited {
    let Some(value) = std::env::var_os(REEXEC_WORKERS) else {
        return Inherited::default();
    };
    let generation = std::env::var(REEXEC_GENERATION)
        .ok()
        .and_then(|g| g.parse().ok());
    std::env::remove_var(REEXEC_WORKERS);
    std::env::remove_var(REEXEC_GENERATION);
    let children = crate::sys::procfs::children_of(std::process::id()).unwrap_or_default();
    let mut workers = Vec::new();
    for entry in decode(&value.to_string_lossy()) {
        // Owned first, so that even a channel refused below is closed, not leaked into workers.
        let adopted = net::adopt_channel(entry.fd).and_then(|fd| {
            let channel = UnixStream::from(fd);
            channel.set_nonblocking(true)?;
            Ok(channel)
        });
        match adopted {
            Ok(_) if !children.contains(&(entry.pid as u32)) => {
                warn!(pid = entry.pid, "re-exec: not a child of ours; not adopted")
            }
            Ok(channel) => workers.push((entry, channel)),
            Err(e) => warn!(pid = entry.pid, error = %e, "re-exec: a worker's channel is lost"),
        }
    }
    Inherited {
        workers,
        generation,
    }
}

impl Master {
    /// SIGUSR2 in exec mode, step 1: run the new binary's `--check` on our sockets.
    pub(super) fn start_check(&mut self) {
        let started = (|| {
            let dup_all = |tls| {
                self.listeners(tls)
                    .map(|fd| net::dup_inheritable(fd.as_fd()))
                    .collect::<io::Result<Vec<OwnedFd>>>()
            };
            let (passed, tls_passed) = (dup_all(false)?, dup_all(true)?);
            let numbers = |fds: &[OwnedFd]| {
                let list: Vec<String> = fds.iter().map(|fd| fd.as_raw_fd().to_string()).collect();
                list.join(",")
            };
            let mut command = Command::new(&self.exe);
            if !tls_passed.is_empty() {
                command.env(UPGRADE_TLS_FDS, numbers(&tls_passed));
            }
            let child = command
                .args(&self.args)
                .arg("--check")
                .env(UPGRADE_FDS, numbers(&passed))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()?;
            // `passed` closes here: the child has its copies.
            Ok::<_, io::Error>(Pid::from_raw(child.id() as i32))
        })();
        match started {
            Ok(pid) => {
                info!(pid = pid.as_raw(), exe = %self.exe.display(), "binary upgrade: checking the new binary before re-executing in place");
                let deadline = Instant::now() + self.config.lifecycle.upgrade_timeout;
                self.check = Some(PendingCheck { pid, deadline });
            }
            Err(e) => {
                error!(exe = %self.exe.display(), error = %e, "binary upgrade failed: could not run the new binary's --check; carrying on")
            }
        }
    }

    /// Step 2, once the check exits: re-execute if it passed.
    pub(super) fn on_check_exit(&mut self, how: ExitHow) {
        if how != ExitHow::Code(0) {
            return error!(exe = %self.exe.display(), "binary upgrade refused: the new binary's --check {how} (its own message on stderr says why); carrying on");
        }
        if self.stop.is_some() {
            return info!("binary upgrade dropped: stopping");
        }
        info!(exe = %self.exe.display(), "binary upgrade: --check passed; re-executing in place");
        self.notify(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}",
            crate::notify::monotonic_usec()
        ));
        let error = match signals::block(signals::MASTER) {
            Ok(old_mask) => {
                self.keep_recorded_signals();
                let error = self.exec();
                if let Err(e) = signals::restore_mask(&old_mask) {
                    error!(error = %e, "could not unblock the signals after a failed exec");
                }
                error
            }
            Err(e) => e,
        };
        error!(exe = %self.exe.display(), %error, "binary upgrade failed: could not re-execute; carrying on");
        self.notify(&format!("READY=1\n{}", self.status()));
    }

    /// Signals our handlers recorded since the loop last looked would die with this image's
    /// memory: raise them again while they are blocked, so the kernel keeps them pending
    /// across the exec (or until the mask is restored, if it fails). Not SIGUSR2: a second
    /// upgrade request during this one is refused, as at any other time.
    fn keep_recorded_signals(&self) {
        for signal in self.signals.take().iter() {
            if signal == signal_hook::consts::signal::SIGUSR2 {
                warn!("binary upgrade refused: one is under way");
                continue;
            }
            if let Ok(s) = Signal::try_from(signal) {
                if let Err(errno) = nix::sys::signal::raise(s) {
                    error!(signal = signals::name(signal), %errno, "could not keep a signal across the exec");
                }
            }
        }
    }

    /// A check still running at its deadline is killed; the upgrade is given up.
    pub(super) fn check_deadline(&mut self, now: Instant) {
        let Some(check) = self.check.take_if(|c| c.deadline <= now) else {
            return;
        };
        error!(
            pid = check.pid.as_raw(),
            "binary upgrade refused: the new binary's --check did not finish within \
             --upgrade-timeout; killing it and carrying on"
        );
        let _ = kill(check.pid, Signal::SIGKILL);
    }

    /// Every listening socket we hold, in slot order, then the adopted ones: the main port's,
    /// or (`tls`) `--tls-port`'s.
    pub(super) fn listeners(&self, tls: bool) -> impl Iterator<Item = &OwnedFd> {
        let (slots, adopted) = if tls {
            (
                self.slots
                    .iter()
                    .filter_map(|s| s.tls_listener.as_ref())
                    .collect::<Vec<_>>(),
                &self.tls_adopted,
            )
        } else {
            (
                self.slots
                    .iter()
                    .filter_map(|s| s.listener.as_ref())
                    .collect::<Vec<_>>(),
                &self.adopted,
            )
        };
        slots.into_iter().chain(adopted)
    }

    /// `execve` of our own binary with everything that must cross it; returns only on failure
    /// (the inheritable duplicates are closed again then).
    fn exec(&self) -> io::Error {
        let mut kept = Vec::new();
        let mut dup = |fd: &dyn AsFd| -> io::Result<RawFd> {
            let copy = net::dup_inheritable(fd.as_fd())?;
            let raw = copy.as_raw_fd();
            kept.push(copy);
            Ok(raw)
        };
        let mut listeners = Vec::new();
        for fd in self.listeners(false) {
            match dup(fd) {
                Ok(raw) => listeners.push(raw.to_string()),
                Err(e) => return e,
            }
        }
        let mut tls_listeners = Vec::new();
        for fd in self.listeners(true) {
            match dup(fd) {
                Ok(raw) => tls_listeners.push(raw.to_string()),
                Err(e) => return e,
            }
        }
        let mut workers = Vec::new();
        for (slot, w, serving) in self.workers_by_role() {
            match dup(&w.channel) {
                Ok(fd) => workers.push(Entry {
                    pid: w.pid.as_raw(),
                    slot: serving.then_some(slot),
                    generation: w.generation,
                    fd,
                }),
                Err(e) => return e,
            }
        }
        let ours = [
            UPGRADE_FDS,
            UPGRADE_TLS_FDS,
            REEXEC_WORKERS,
            REEXEC_GENERATION,
        ];
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(k, _)| !ours.iter().any(|o| k == o))
            .collect();
        env.push((UPGRADE_FDS.into(), listeners.join(",").into()));
        if !tls_listeners.is_empty() {
            env.push((UPGRADE_TLS_FDS.into(), tls_listeners.join(",").into()));
        }
        env.push((REEXEC_WORKERS.into(), encode(&workers).into()));
        env.push((REEXEC_GENERATION.into(), self.generation.to_string().into()));
        if let Some(n) = &self.notifier {
            env.extend(n.inherit.iter().map(|(k, v)| (k.into(), v.clone())));
        }
        let Ok(path) = CString::new(self.exe.as_os_str().as_bytes()) else {
            return io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the binary's path");
        };
        let argv = std::iter::once(self.exe.as_os_str())
            .chain(self.args.iter().map(|a| a.as_os_str()))
            .map(|a| CString::new(a.as_bytes()));
        let envp = env.iter().map(|(k, v)| {
            let mut pair = k.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(v.as_bytes());
            CString::new(pair)
        });
        let (Ok(argv), Ok(envp)) = (
            argv.collect::<Result<Vec<_>, _>>(),
            envp.collect::<Result<Vec<_>, _>>(),
        ) else {
            return io::Error::new(
                io::ErrorKind::InvalidInput,
                "a NUL in an argument or the environment",
            );
        };
        match nix::unistd::execve(&path, &argv, &envp) {
            Err(errno) => errno.into(),
            Ok(never) => match never {},
        }
    }

    /// Every worker with its slot, and whether it serves that slot (`false`: it drains, or its
    /// replacement is already serving).
    fn workers_by_role(&self) -> Vec<(usize, &WorkerProc, bool)> {
        let mut all = Vec::new();
        for s in &self.slots {
            all.extend(s.current.iter().map(|w| (s.index, w, true)));
            all.extend(s.replacing.iter().map(|w| (s.index, w, false)));
        }
        all.extend(self.retiring.iter().map(|w| (0, w, false)));
        all
    }

    /// Step 3, in the new image: the previous image's workers become ours again.
    pub(super) fn adopt_workers(&mut self, inherited: Inherited) {
        if let Some(g) = inherited.generation {
            self.generation = g + 1;
        }
        let count = inherited.workers.len();
        let now = Instant::now();
        for (entry, channel) in inherited.workers {
            // A cell of its own in the new stats mapping, unused (pid 0, so /metrics skips it):
            // its figures went with the old mapping.
            let Some(cell) = self.free_cells.pop() else {
                warn!(
                    pid = entry.pid,
                    "re-exec: no stats cell; the worker is let go"
                );
                continue;
            };
            let pid = Pid::from_raw(entry.pid);
            if let Err(e) =
                self.poller
                    .add(channel.as_fd(), pid.as_raw() as u64, Interest::READABLE)
            {
                warn!(pid = entry.pid, error = %e, "could not watch an adopted worker's channel");
            }
            let w = WorkerProc {
                pid,
                generation: entry.generation,
                channel,
                channel_closed: false,
                started: now,
                ready: true,
                heartbeat: cell,
                last_beat: (0, now),
                killed: false,
                inherited: true,
            };
            match entry.slot.filter(|&i| i < self.slots.len()) {
                Some(i) if self.slots[i].replacing.is_none() => self.slots[i].replacing = Some(w),
                _ => retire(&mut self.retiring, w),
            }
        }
        if count > 0 {
            info!(
                workers = count,
                generation = self.generation,
                "re-executed in place: the previous workers serve until this generation is ready, then drain"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_round_trip_through_the_environment() {
        let entries = [
            Entry {
                pid: 41,
                slot: Some(0),
                generation: 3,
                fd: 9,
            },
            Entry {
                pid: 42,
                slot: None,
                generation: 2,
                fd: 11,
            },
        ];
        let value = encode(&entries);
        assert_eq!(value, "41:0:3:9,42:-:2:11");
        assert_eq!(decode(&value), entries);
        assert_eq!(decode(""), []);
    }

    #[test]
    fn a_malformed_entry_is_skipped() {
        let got = decode("41:0:3:9,x:0:1:2,43:1:1,44:1:1:5:6,45:-:1:12");
        let pids: Vec<i32> = got.iter().map(|e| e.pid).collect();
        assert_eq!(pids, [41, 45]);
    }
}
