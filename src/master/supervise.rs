//! Supervision: fork workers, reap exited children, decide what each exit means, respawn with
//! backoff.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::time::Instant;

use nix::unistd::Pid;
use tracing::{debug, error, info, warn};

use super::{lifecycle, Master};
use crate::error::Error;
use crate::process::{self, ExitHow, WorkerProc};
use crate::stats::Restart;
use crate::sys::epoll::Interest;

impl Master {
    /// Returns a worker's stats slot; pid 0 marks it free, so `/metrics` stops listing it.
    pub(super) fn free_cell(&mut self, cell: usize) {
        self.stats.slots()[cell].pid.store(0, Ordering::Relaxed);
        self.free_cells.push(cell);
    }

    pub(super) fn reap(&mut self) {
        loop {
            match process::reap_one() {
                Ok(Some((pid, how))) => self.on_child_exit(pid, how),
                Ok(None) => return,
                Err(errno) => {
                    warn!(%errno, "waitpid failed");
                    return;
                }
            }
        }
    }

    fn on_child_exit(&mut self, pid: Pid, how: ExitHow) {
        if self.check.take_if(|c| c.pid == pid).is_some() {
            return self.on_check_exit(how);
        }
        if self.upgrade.as_ref().is_some_and(|u| u.pid == pid) {
            error!(
                pid = pid.as_raw(),
                "binary upgrade failed: the new master {how}; carrying on"
            );
            self.upgrade = None;
            return;
        }
        if let Some(i) = self.retiring.iter().position(|w| w.pid == pid) {
            let w = self.retiring.swap_remove(i);
            info!(
                pid = pid.as_raw(),
                generation = w.generation,
                "retired worker {how}"
            );
            self.free_cell(w.heartbeat);
            return;
        }
        for index in 0..self.slots.len() {
            let slot = &mut self.slots[index];
            if slot.replacing.as_ref().is_some_and(|w| w.pid == pid) {
                let w = slot.replacing.take().expect("checked");
                info!(
                    pid = pid.as_raw(),
                    slot = index,
                    generation = w.generation,
                    "replaced worker {how}"
                );
                self.free_cell(w.heartbeat);
                return;
            }
            if slot.current.as_ref().is_some_and(|w| w.pid == pid) {
                let w = slot.current.take().expect("checked");
                self.free_cell(w.heartbeat);
                self.on_current_exit(index, w, how);
                return;
            }
        }
        debug!(pid = pid.as_raw(), %how, "reaped an unknown child");
    }

    /// The worker serving a slot exited: respawn it, with backoff if it keeps dying young.
    fn on_current_exit(&mut self, index: usize, w: WorkerProc, how: ExitHow) {
        let (pid, generation) = (w.pid.as_raw(), w.generation);
        let uptime = w.started.elapsed();
        if self.stop.is_some() {
            info!(pid, slot = index, generation, "worker {how}");
            return;
        }
        if how.is_fatal() && self.slots[index].replacing.is_some() {
            // After an in-place upgrade: the previous binary's worker still serves this slot,
            // so the slot is given up rather than the whole server stopped.
            error!(
                pid,
                slot = index,
                generation,
                "worker {how}: fatal configuration error; the previous worker keeps serving"
            );
            self.slots[index].given_up = true;
            return;
        }
        if how.is_fatal() {
            error!(
                pid,
                slot = index,
                generation,
                "worker {how}: fatal configuration error; stopping"
            );
            self.fatal = Some(Error::WorkerFatal { slot: index });
            self.begin_stop(false);
            return;
        }
        let slot = &mut self.slots[index];
        let delay = lifecycle::respawn_delay(slot, uptime);
        if slot.given_up {
            error!(
                pid,
                slot = index,
                generation,
                crashes = slot.crash_streak,
                "worker {how}; it keeps crashing: slot given up"
            );
            if self
                .slots
                .iter()
                .all(|s| (s.given_up || s.parked) && s.replacing.is_none())
            {
                self.fatal = Some(Error::GaveUp);
                self.begin_stop(false);
            }
            return;
        }
        slot.respawn_at = Some(Instant::now() + delay);
        if !w.killed {
            // A worker killed for hanging was counted as "hung" when it was killed.
            self.master_stats.slots()[0].on_restart(Restart::Crashed);
        }
        warn!(
            pid,
            slot = index,
            generation,
            uptime_ms = uptime.as_millis() as u64,
            respawn_in_ms = delay.as_millis() as u64,
            "worker {how}; respawning"
        );
    }

    pub(super) fn respawn_due(&mut self, now: Instant) {
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            let due = slot.respawn_at.is_some_and(|at| at <= now);
            if slot.current.is_some() || slot.parked || slot.given_up || !due {
                continue;
            }
            if let Err(e) = self.spawn(index) {
                let slot = &mut self.slots[index];
                slot.crash_streak += 1;
                let delay = lifecycle::backoff(slot.crash_streak);
                slot.respawn_at = Some(now + delay);
                error!(slot = index, error = %e, retry_in_ms = delay.as_millis() as u64, "respawn failed");
            }
        }
    }

    /// Forks every slot's worker. After an in-place upgrade, a slot whose fork fails keeps the
    /// previous image's worker and is retried with backoff; otherwise the failure is the start's.
    pub(super) fn start_all(&mut self) -> Result<(), Error> {
        for index in 0..self.slots.len() {
            if let Err(e) = self.spawn(index) {
                let slot = &mut self.slots[index];
                if slot.replacing.is_none() {
                    return Err(e);
                }
                slot.crash_streak += 1;
                let delay = lifecycle::backoff(slot.crash_streak);
                slot.respawn_at = Some(Instant::now() + delay);
                error!(slot = index, error = %e, retry_in_ms = delay.as_millis() as u64,
                    "could not fork; the previous worker keeps serving the slot");
            }
        }
        Ok(())
    }

    /// The master's descriptors a child must close: epoll, the upgrade channel, other slots'
    /// listeners, and every master end of a channel. (The child's own listener is duplicated
    /// before its copy closes.)
    fn inherited_fds(&self, except_slot: usize) -> Vec<RawFd> {
        let mut fds = vec![self.poller.as_raw_fd()];
        fds.extend(self.upgrade.as_ref().map(|u| u.ready.as_raw_fd()));
        fds.extend(self.upgrade_ready.as_ref().map(|fd| fd.as_raw_fd()));
        fds.extend(self.adopted.iter().map(|fd| fd.as_raw_fd()));
        fds.extend(self.tls_adopted.iter().map(|fd| fd.as_raw_fd()));
        fds.extend(self.metrics_listener.as_ref().map(|fd| fd.as_raw_fd()));
        for s in &self.slots {
            if s.index != except_slot {
                fds.extend(s.listener.as_ref().map(|l| l.as_raw_fd()));
                fds.extend(s.tls_listener.as_ref().map(|l| l.as_raw_fd()));
            }
            for w in s.current.iter().chain(&s.replacing) {
                fds.push(w.channel.as_raw_fd());
            }
        }
        fds.extend(self.retiring.iter().map(|w| w.channel.as_raw_fd()));
        fds
    }

    /// Forks a worker into `slot` as its current one.
    pub(super) fn spawn(&mut self, index: usize) -> Result<(), Error> {
        let inherited = self.inherited_fds(index);
        let Some(cell) = self.free_cells.pop() else {
            return Err(Error::Fork(std::io::Error::other("no free heartbeat cell")));
        };
        self.stats.slots()[cell].reset();
        let mut config = self.config.clone();
        config.shared_listener = self.shared_listeners;
        let shared = process::SharedStats {
            all: self.stats.slots(),
            own: cell,
            master: &self.master_stats.slots()[0],
        };
        let spawned = process::spawn(
            &self.slots[index],
            self.generation,
            &config,
            &self.signals,
            &inherited,
            shared,
            process::SharedListeners {
                metrics: self.metrics_listener.as_ref(),
                adopted: &self.adopted,
                tls_adopted: &self.tls_adopted,
                tls: self.tls.as_ref().map(|t| &t.config),
            },
        );
        let (pid, channel) = match spawned {
            Ok(s) => s,
            Err(e) => {
                self.free_cells.push(cell);
                return Err(e);
            }
        };
        if let Err(e) = self
            .poller
            .add(channel.as_fd(), pid.as_raw() as u64, Interest::READABLE)
        {
            // Without the channel the master cannot see this worker become ready; it still
            // supervises it through SIGCHLD.
            warn!(slot = index, error = %e, "could not watch a worker channel");
        }
        let now = Instant::now();
        let slot = &mut self.slots[index];
        slot.current = Some(WorkerProc {
            pid,
            generation: self.generation,
            channel,
            channel_closed: false,
            started: now,
            ready: false,
            heartbeat: cell,
            last_beat: (0, now),
            killed: false,
            inherited: false,
        });
        slot.respawn_at = None;
        debug!(
            slot = index,
            pid = pid.as_raw(),
            generation = self.generation,
            "worker forked"
        );
        Ok(())
    }
}
