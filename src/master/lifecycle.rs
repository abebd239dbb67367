//! The master's lifecycle moves: stop (graceful or fast), reload, park, resize,
//! recycle, hung-worker detection, and the respawn backoff.

use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tracing::{error, info, warn};

use super::{Master, Stop};
use crate::channel;
use crate::error::Error;
use crate::process::{WorkerProc, WorkerSlot};
use crate::stats::Restart;
use crate::sys::net;

/// First respawn delay after a worker dies young; doubles per further young death.
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest respawn delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A worker that lived this long before dying resets its slot's crash streak.
const STABLE_UPTIME: Duration = Duration::from_secs(10);
/// Young deaths in a row after which a slot is given up (about a minute of backoff).
const GIVE_UP_AFTER: u32 = 12;

/// 100 ms, 200 ms, 400 ms, … up to 10 s for the n-th young death in a row (n ≥ 1).
pub(super) fn backoff(streak: u32) -> Duration {
    let factor = 1u32 << streak.saturating_sub(1).min(16);
    BACKOFF_START.saturating_mul(factor).min(BACKOFF_MAX)
}

/// Updates the slot's crash streak for a worker that lived `uptime`, and returns the delay
/// before its replacement (marking the slot given up after too many young deaths).
pub(super) fn respawn_delay(slot: &mut WorkerSlot, uptime: Duration) -> Duration {
    if uptime >= STABLE_UPTIME {
        slot.crash_streak = 0;
        return Duration::ZERO;
    }
    slot.crash_streak += 1;
    if slot.crash_streak >= GIVE_UP_AFTER {
        slot.given_up = true;
    }
    backoff(slot.crash_streak)
}

impl Master {
    /// SIGTERM/SIGQUIT (graceful) or SIGINT (fast). A second graceful request during a graceful
    /// stop makes it fast.
    pub(super) fn begin_stop(&mut self, graceful: bool) {
        self.begin_stop_with(graceful, self.config.lifecycle.drain_delay);
    }

    pub(super) fn begin_stop_with(&mut self, graceful: bool, drain_delay: Duration) {
        let now = Instant::now();
        if let Some(stop) = self.stop {
            if stop.graceful {
                info!("second stop request: stopping fast");
                self.tell_all(channel::EXIT);
                self.stop = Some(Stop {
                    graceful: false,
                    drain_at: None,
                    ..stop
                });
            }
            return;
        }
        self.notify("STOPPING=1");
        if let Some(check) = self.check.take() {
            // Its verdict no longer matters; it must not outlive us.
            let _ = kill(check.pid, Signal::SIGKILL);
        }
        if let Some(u) = self.upgrade.take() {
            // A new master that is not serving yet would keep the listeners open (and
            // connections queueing) after we are gone: it goes with us.
            warn!(
                pid = u.pid.as_raw(),
                "stopping: killing the binary upgrade not ready yet"
            );
            let _ = self.poller.delete(&u.ready);
            let _ = kill(u.pid, Signal::SIGKILL);
        }
        let delay = if graceful {
            drain_delay
        } else {
            Duration::ZERO
        };
        self.stop = Some(Stop {
            drain_at: graceful.then_some(now + delay),
            kill_at: now + delay + self.config.shutdown_timeout,
            killed: false,
            graceful,
        });
        if !graceful {
            info!(workers = self.live_workers(), "stopping fast");
            self.tell_all(channel::EXIT);
            self.release_listeners();
        } else if delay > Duration::ZERO {
            info!(
                drain_delay_ms = delay.as_millis() as u64,
                "stopping gracefully: /healthz says 503 first"
            );
            // One store reaches every worker, and any forked from now on.
            self.master_stats.slots()[0].health.set_draining();
        }
    }

    /// Moves a stop along: start the drain when its delay is over, SIGKILL at the deadline,
    /// and finish once every worker is gone. `Some` is the master's result.
    pub(super) fn advance_stop(&mut self, now: Instant) -> Option<Result<(), Error>> {
        let mut stop = self.stop?;
        if stop.drain_at.is_some_and(|at| at <= now) {
            info!(
                workers = self.live_workers(),
                "stopping gracefully: workers drain"
            );
            self.tell_all(channel::DRAIN);
            self.release_listeners();
            stop.drain_at = None;
        }
        if self.live_workers() == 0 {
            info!("all workers exited; master exiting");
            return Some(self.fatal.take().map_or(Ok(()), Err));
        }
        if !stop.killed && now >= stop.kill_at {
            warn!(
                left = self.live_workers(),
                "shutdown timeout; sending SIGKILL"
            );
            self.kill_all(Signal::SIGKILL);
            stop.killed = true;
        }
        self.stop = Some(stop);
        None
    }

    /// Closes the master's copies of the listeners: once the workers close theirs too, new
    /// connections are refused instead of queueing for a server that is leaving.
    fn release_listeners(&mut self) {
        for slot in &mut self.slots {
            slot.listener = None;
            slot.tls_listener = None;
        }
        self.adopted.clear();
        self.tls_adopted.clear();
        self.metrics_listener = None;
    }

    /// SIGHUP: a new generation of workers on the same sockets; each old worker drains once
    /// its replacement is ready. Parked and given-up slots start again too. The certificates
    /// are read again first: if they cannot serve, nothing changes.
    pub(super) fn reload(&mut self) {
        if self.stop.is_some() || !self.reload_tls() {
            return;
        }
        self.generation += 1;
        self.reloading = true;
        info!(
            generation = self.generation,
            "reloading: starting a new generation"
        );
        self.notify(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}",
            crate::notify::monotonic_usec()
        ));
        for index in 0..self.slots.len() {
            let slot = &mut self.slots[index];
            slot.parked = false;
            slot.given_up = false;
            slot.crash_streak = 0;
            if let Some(older) = slot.replacing.take() {
                // A reload during a reload: the oldest generation drains now.
                retire(&mut self.retiring, older);
            }
            slot.replacing = slot.current.take();
            if let Err(e) = self.spawn(index) {
                error!(slot = index, error = %e, "reload: could not fork; keeping the old worker");
                let slot = &mut self.slots[index];
                slot.current = slot.replacing.take();
                if slot.current.is_none() {
                    slot.respawn_at = Some(Instant::now() + backoff(1));
                }
            }
        }
    }

    /// A worker reported ready: the one it replaces (if any) may drain now.
    pub(super) fn on_worker_ready(&mut self, pid: Pid) {
        for slot in &mut self.slots {
            let Some(current) = slot.current.as_mut().filter(|w| w.pid == pid) else {
                continue;
            };
            current.ready = true;
            if let Some(old) = slot.replacing.take() {
                retire(&mut self.retiring, old);
            }
            return;
        }
        if let Some(w) = self.retiring.iter_mut().find(|w| w.pid == pid) {
            w.ready = true;
        }
    }

    /// A worker served its `--max-requests`: fork its replacement; it drains once that is ready.
    pub(super) fn recycle(&mut self, pid: Pid) {
        if self.stop.is_some() {
            return;
        }
        let Some(index) = self.slots.iter().position(|s| {
            s.current.as_ref().is_some_and(|w| w.pid == pid) && s.replacing.is_none()
        }) else {
            return;
        };
        info!(
            pid = pid.as_raw(),
            slot = index,
            "recycling worker after --max-requests"
        );
        self.master_stats.slots()[0].on_restart(Restart::Recycled);
        let slot = &mut self.slots[index];
        slot.replacing = slot.current.take();
        if let Err(e) = self.spawn(index) {
            error!(slot = index, error = %e, "recycle: could not fork; keeping the old worker");
            let slot = &mut self.slots[index];
            slot.current = slot.replacing.take();
        }
    }

    /// SIGWINCH: drain every worker but keep the master and its sockets (the rollback point
    /// after an upgrade); SIGHUP starts workers again.
    pub(super) fn park_workers(&mut self) {
        info!("parking: workers drain; SIGHUP starts them again");
        for slot in &mut self.slots {
            slot.parked = true;
            slot.respawn_at = None;
            for w in [slot.current.take(), slot.replacing.take()]
                .into_iter()
                .flatten()
            {
                retire(&mut self.retiring, w);
            }
        }
    }

    /// SIGTTIN: one more worker, on a socket of its own: one a SIGTTOU left behind if there is
    /// one (the workers that adopted it keep polling it too), else a new SO_REUSEPORT socket.
    pub(super) fn add_slot(&mut self) {
        if self.stop.is_some() {
            return;
        }
        let Some(fd) = self.socket_for_new_slot(false) else {
            return;
        };
        let tls_fd = match self.tls_addr {
            Some(_) => match self.socket_for_new_slot(true) {
                Some(fd) => Some(fd),
                None => {
                    self.adopted.push(fd);
                    return;
                }
            },
            None => None,
        };
        let index = self.slots.len();
        self.slots.push(WorkerSlot::new(index, fd, tls_fd));
        self.config.workers = self.slots.len();
        match self.spawn(index) {
            Ok(()) => info!(workers = self.slots.len(), "added a worker"),
            Err(e) => {
                error!(error = %e, "could not add a worker");
                // Keep the socket: closing it could reset connections already queued on it.
                if let Some(slot) = self.slots.pop() {
                    self.adopted.extend(slot.listener);
                    self.tls_adopted.extend(slot.tls_listener);
                }
                self.config.workers = self.slots.len();
            }
        }
    }

    /// A socket for a new slot, of the main port or (`tls`) the TLS port: one a SIGTTOU left
    /// behind, else a new one bound beside the others. `None` (logged) if the bind fails.
    fn socket_for_new_slot(&mut self, tls: bool) -> Option<std::os::fd::OwnedFd> {
        let (left, addr) = if tls {
            (&mut self.tls_adopted, self.tls_addr?)
        } else {
            (&mut self.adopted, self.addr)
        };
        if let Some(fd) = left.pop() {
            return Some(fd);
        }
        match net::bind_reuseport(addr, self.config.backlog) {
            Ok(fd) => {
                super::startup::apply_socket_options(std::slice::from_ref(&fd), &self.config);
                Some(fd)
            }
            Err(e) => {
                error!(%addr, error = %e, "could not add a worker: bind failed");
                None
            }
        }
    }

    /// SIGTTOU: one worker fewer. Its worker drains; its socket stays open and is handed to
    /// the other workers (`channel::ADOPT`), which poll it from then on. Closing it instead
    /// would reset whatever the kernel queued on it while it closes: it keeps spreading new
    /// connections over every socket of the port until the last reference is gone.
    pub(super) fn remove_slot(&mut self) {
        if self.stop.is_some() || self.slots.len() <= 1 {
            return;
        }
        let mut slot = self.slots.pop().expect("more than one slot");
        self.config.workers = self.slots.len();
        for (fd, tls) in [
            (slot.listener.take(), false),
            (slot.tls_listener.take(), true),
        ] {
            let Some(fd) = fd else {
                continue;
            };
            for w in self
                .slots
                .iter()
                .flat_map(|s| s.current.iter().chain(&s.replacing))
            {
                if !channel::send_adopt(w.channel.as_fd(), fd.as_fd()) {
                    warn!(pid = w.pid.as_raw(), "could not hand a socket to a worker");
                }
            }
            if tls {
                self.tls_adopted.push(fd);
            } else {
                self.adopted.push(fd);
            }
        }
        for w in [slot.current.take(), slot.replacing.take()]
            .into_iter()
            .flatten()
        {
            retire(&mut self.retiring, w);
        }
        info!(
            workers = self.slots.len(),
            adopted_sockets = self.adopted.len(),
            "removed a worker"
        );
    }

    /// SIGUSR1: reopen the log file here and in every worker.
    pub(super) fn reopen_logs(&mut self) {
        crate::logging::reopen();
        if let Some(identity) = &self.config.identity {
            // The files were moved away (logrotate): create them again, the workers' own.
            for path in super::startup::worker_log_files(&self.config) {
                if let Err(e) = identity.hand_over(path) {
                    warn!(path = %path.display(), error = %e, "could not hand a log file over to the workers' user");
                }
            }
        }
        self.tell_all(channel::REOPEN_LOG);
    }

    /// Kills (and so replaces) any worker whose heartbeat has not moved for `--worker-timeout`.
    pub(super) fn check_heartbeats(&mut self, now: Instant) {
        let timeout = self.config.lifecycle.worker_timeout;
        let cells = self.stats.slots();
        let master_stats = &self.master_stats.slots()[0];
        let all = self
            .slots
            .iter_mut()
            .flat_map(|s| s.current.iter_mut().chain(s.replacing.iter_mut()))
            .chain(self.retiring.iter_mut());
        for w in all.filter(|w| !w.inherited) {
            let beat = cells[w.heartbeat].heartbeat.load(Ordering::Relaxed);
            if beat != w.last_beat.0 {
                w.last_beat = (beat, now);
            } else if !w.killed && now.duration_since(w.last_beat.1) >= timeout {
                w.killed = true;
                warn!(
                    pid = w.pid.as_raw(),
                    generation = w.generation,
                    silent_ms = now.duration_since(w.last_beat.1).as_millis() as u64,
                    "worker hung (its event loop stopped turning); killing it"
                );
                let _ = kill(w.pid, Signal::SIGKILL);
                master_stats.on_restart(Restart::Hung);
            }
        }
        let grace = self.config.shutdown_timeout;
        let overdue = self
            .retiring
            .iter_mut()
            .filter(|w| w.inherited && !w.killed && now.duration_since(w.last_beat.1) >= grace);
        for w in overdue {
            w.killed = true;
            warn!(
                pid = w.pid.as_raw(),
                generation = w.generation,
                "worker from before the re-exec still draining after --shutdown-timeout; killing it"
            );
            let _ = kill(w.pid, Signal::SIGKILL);
        }
    }
}

/// Tells `w` to drain and keeps it among the retiring until it exits.
pub(super) fn retire(retiring: &mut Vec<WorkerProc>, mut w: WorkerProc) {
    if w.inherited {
        // Its drain deadline counts from now (see `WorkerProc::inherited`).
        w.last_beat.1 = Instant::now();
    }
    channel::send(w.channel.as_fd(), channel::DRAIN);
    retiring.push(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(8), Duration::from_secs(10));
        assert_eq!(backoff(1000), Duration::from_secs(10));
    }
}
