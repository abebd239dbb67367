//! The master: raise limits, bind, fork, then a flat wait → reap → act cycle until stopped.
//!
//! It serves no connections. It keeps every listening socket open for its whole life, so a
//! worker that dies leaves its accept queue intact for the replacement forked into its slot.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::error::Error;
use crate::process::{self, ExitHow, WorkerSlot};
use crate::signals::{self, Signals};
use crate::sys::epoll::{Events, Interest, Poller};
use crate::sys::{net, rlimit};
use crate::worker::READY_BYTE;

const SIGNAL: u64 = u64::MAX;

/// First respawn delay after a worker dies young; doubles per further young death.
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest respawn delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A worker that lived this long before dying resets its slot's crash streak.
const STABLE_UPTIME: Duration = Duration::from_secs(10);

/// Runs the master until a stop signal; `Ok` means every worker exited and the master may exit 0.
///
/// # Errors
/// Startup failures (bind, fork, epoll, signals), and a worker exiting with the fatal code.
pub fn run(config: Config) -> Result<(), Error> {
    raise_nofile_limit(&config);
    warn_if_backlog_capped(config.backlog);
    let (slots, addr) = bind_listeners(&config)?;
    let signals = Signals::register(signals::MASTER).map_err(Error::Signals)?;
    let poller = Poller::new().map_err(|source| Error::Setup {
        what: "the master's epoll instance",
        source,
    })?;
    poller
        .add(signals.fd(), SIGNAL, Interest::READABLE)
        .map_err(|source| Error::Setup {
            what: "the master's signal registration",
            source,
        })?;
    let mut master = Master {
        config,
        addr,
        poller,
        signals,
        slots,
        generation: 1,
        stop: None,
        announced: false,
        fatal: None,
    };
    if let Err(e) = master.start_all() {
        master.kill_all(Signal::SIGKILL);
        master.wait_all_exited();
        return Err(e);
    }
    master.cycle()
}

fn raise_nofile_limit(config: &Config) {
    match rlimit::raise_nofile(config.max_fds) {
        Ok(r) => {
            if let Some((wanted, errno)) = r.hard_refused {
                info!(
                    hard = r.after.1,
                    wanted,
                    %errno,
                    "could not raise the open-file hard limit (no CAP_SYS_RESOURCE); keeping it"
                );
            }
            info!(
                soft_before = r.before.0,
                hard_before = r.before.1,
                soft = r.after.0,
                hard = r.after.1,
                "open-file limit (RLIMIT_NOFILE)"
            );
        }
        Err(errno) => {
            warn!(%errno, "could not read or set RLIMIT_NOFILE; keeping the current limit")
        }
    }
}

fn warn_if_backlog_capped(backlog: i32) {
    if let Some(max) = net::somaxconn() {
        if max < backlog {
            warn!(
                backlog,
                somaxconn = max,
                "listen backlog is capped by net.core.somaxconn; raise the sysctl for a longer queue"
            );
        }
    }
}

/// Binds one SO_REUSEPORT socket per worker. Port 0 binds the first to a free port and the rest
/// to the same one. Nothing is forked yet, so a failure here leaves nothing behind.
fn bind_listeners(config: &Config) -> Result<(Vec<WorkerSlot>, SocketAddr), Error> {
    let mut addr = config.addr;
    let bind_error = |addr, source| Error::Bind { addr, source };
    if addr.port() != 0 {
        net::ensure_port_free(addr).map_err(|e| bind_error(addr, e))?;
    }
    let mut slots = Vec::with_capacity(config.workers);
    for index in 0..config.workers {
        let fd = net::bind_reuseport(addr, config.backlog).map_err(|e| bind_error(addr, e))?;
        if index == 0 {
            addr = net::local_addr(&fd).map_err(|e| bind_error(addr, e))?;
        }
        slots.push(WorkerSlot::new(index, fd));
    }
    Ok((slots, addr))
}

/// A stop in progress.
#[derive(Debug, Clone, Copy)]
struct Stop {
    /// When the workers left get SIGKILL.
    kill_at: Instant,
    killed: bool,
}

struct Master {
    config: Config,
    addr: SocketAddr,
    poller: Poller,
    signals: Signals,
    slots: Vec<WorkerSlot>,
    generation: u64,
    stop: Option<Stop>,
    /// The "listening on" line was logged.
    announced: bool,
    /// A worker exited with the fatal code: stop and report it.
    fatal: Option<Error>,
}

impl Master {
    fn start_all(&mut self) -> Result<(), Error> {
        for index in 0..self.slots.len() {
            self.spawn(index)?;
        }
        Ok(())
    }

    /// The master's descriptors a child must close: epoll, other slots' listeners, and every
    /// master end of a channel. (The child's own listener is duplicated before its copy closes.)
    fn inherited_fds(&self, except_slot: usize) -> Vec<RawFd> {
        let mut fds = vec![self.poller_fd()];
        for s in &self.slots {
            if s.index != except_slot {
                fds.push(s.listener.as_raw_fd());
            }
            if let Some(ch) = &s.channel {
                fds.push(ch.as_raw_fd());
            }
        }
        fds
    }

    fn poller_fd(&self) -> RawFd {
        self.poller.as_raw_fd()
    }

    fn spawn(&mut self, index: usize) -> Result<(), Error> {
        let inherited = self.inherited_fds(index);
        let slot = &self.slots[index];
        let (pid, channel) = process::spawn(
            slot,
            self.generation,
            &self.config,
            &self.signals,
            &inherited,
        )?;
        let token = index as u64;
        if let Err(e) = self.poller.add(channel.as_fd(), token, Interest::READABLE) {
            // Without the channel the master cannot see this worker become ready; it still
            // supervises it through SIGCHLD.
            warn!(slot = index, error = %e, "could not watch a worker channel");
        }
        let slot = &mut self.slots[index];
        slot.pid = Some(pid);
        slot.generation = self.generation;
        slot.channel = Some(channel);
        slot.started = Instant::now();
        slot.ready = false;
        slot.respawn_at = None;
        debug!(
            slot = index,
            pid = pid.as_raw(),
            generation = self.generation,
            "worker forked"
        );
        Ok(())
    }

    fn cycle(mut self) -> Result<(), Error> {
        let mut events = Events::with_capacity(64);
        loop {
            let timeout = self
                .next_deadline()
                .map(|at| at.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poller.wait(&mut events, timeout) {
                error!(error = %e, "epoll_wait failed in the master");
                std::thread::sleep(Duration::from_millis(100));
            }
            for ev in events.iter() {
                if ev.token == SIGNAL {
                    self.on_signals();
                } else {
                    self.on_channel(ev.token as usize);
                }
            }
            self.reap();
            let now = Instant::now();
            if let Some(stop) = self.stop {
                if self.live_workers() == 0 {
                    info!("all workers exited; master exiting");
                    return match self.fatal.take() {
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                }
                if !stop.killed && now >= stop.kill_at {
                    warn!(
                        left = self.live_workers(),
                        "shutdown timeout; sending SIGKILL"
                    );
                    self.kill_all(Signal::SIGKILL);
                    self.stop = Some(Stop {
                        killed: true,
                        ..stop
                    });
                }
            } else {
                self.respawn_due(now);
                self.announce_when_ready();
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        match self.stop {
            Some(stop) if !stop.killed => Some(stop.kill_at),
            // After SIGKILL the exits follow at once; poll briefly in case SIGCHLD is coalesced.
            Some(_) => Some(Instant::now() + Duration::from_millis(50)),
            None => self.slots.iter().filter_map(|s| s.respawn_at).min(),
        }
    }

    fn on_signals(&mut self) {
        let got = self.signals.take();
        for signal in got.iter() {
            if signal != signals::SIGCHLD_NUM {
                info!(signal = signals::name(signal), "signal received");
            }
        }
        if got.contains_any(signals::STOP) {
            self.begin_stop();
        }
        if got.contains_any(signals::RESERVED) {
            info!("that signal is reserved for a later version and is ignored");
        }
    }

    fn begin_stop(&mut self) {
        if self.stop.is_some() {
            return;
        }
        info!(
            workers = self.live_workers(),
            "stopping: SIGTERM to every worker"
        );
        self.kill_all(Signal::SIGTERM);
        self.stop = Some(Stop {
            kill_at: Instant::now() + self.config.shutdown_timeout,
            killed: false,
        });
    }

    fn kill_all(&self, signal: Signal) {
        for slot in &self.slots {
            if let Some(pid) = slot.pid {
                if let Err(errno) = kill(pid, signal) {
                    warn!(pid = pid.as_raw(), %errno, "kill failed");
                }
            }
        }
    }

    fn live_workers(&self) -> usize {
        self.slots.iter().filter(|s| s.pid.is_some()).count()
    }

    /// A worker wrote to its channel (the ready byte) or closed it (it is exiting).
    fn on_channel(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let Some(channel) = &slot.channel else {
            return;
        };
        let mut buf = [0u8; 16];
        loop {
            match net::read_some(channel.as_fd(), &mut buf) {
                net::IoOutcome::Done(n) => {
                    if buf[..n].contains(&READY_BYTE) {
                        slot.ready = true;
                        debug!(slot = index, "worker ready");
                    }
                }
                net::IoOutcome::WouldBlock => return,
                _ => {
                    // Closed: stop watching it (the reap will account for the worker).
                    slot.channel = None;
                    return;
                }
            }
        }
    }

    fn reap(&mut self) {
        loop {
            match process::reap_one() {
                Ok(Some((pid, how))) => self.on_worker_exit(pid, how),
                Ok(None) => return,
                Err(errno) => {
                    warn!(%errno, "waitpid failed");
                    return;
                }
            }
        }
    }

    fn on_worker_exit(&mut self, pid: nix::unistd::Pid, how: ExitHow) {
        let Some(slot) = self.slots.iter_mut().find(|s| s.pid == Some(pid)) else {
            debug!(pid = pid.as_raw(), %how, "reaped an unknown child");
            return;
        };
        let uptime = slot.started.elapsed();
        slot.pid = None;
        slot.channel = None;
        slot.ready = false;
        let (index, generation) = (slot.index, slot.generation);
        if self.stop.is_some() {
            info!(pid = pid.as_raw(), slot = index, generation, "worker {how}");
            return;
        }
        if how.is_fatal() {
            error!(
                pid = pid.as_raw(),
                slot = index,
                generation,
                "worker {how}: fatal configuration error; stopping"
            );
            self.fatal = Some(Error::WorkerFatal { slot: index });
            self.begin_stop();
            return;
        }
        let delay = if uptime >= STABLE_UPTIME {
            slot.crash_streak = 0;
            Duration::ZERO
        } else {
            slot.crash_streak += 1;
            backoff(slot.crash_streak)
        };
        slot.respawn_at = Some(Instant::now() + delay);
        warn!(
            pid = pid.as_raw(),
            slot = index,
            generation,
            uptime_ms = uptime.as_millis() as u64,
            respawn_in_ms = delay.as_millis() as u64,
            "worker {how}; respawning"
        );
    }

    fn respawn_due(&mut self, now: Instant) {
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if slot.pid.is_some() || slot.respawn_at.is_none_or(|at| at > now) {
                continue;
            }
            if let Err(e) = self.spawn(index) {
                let slot = &mut self.slots[index];
                slot.crash_streak += 1;
                let delay = backoff(slot.crash_streak);
                slot.respawn_at = Some(now + delay);
                error!(slot = index, error = %e, retry_in_ms = delay.as_millis() as u64, "respawn failed");
            }
        }
    }

    fn announce_when_ready(&mut self) {
        if self.announced || !self.slots.iter().all(|s| s.ready) {
            return;
        }
        self.announced = true;
        info!(
            workers = self.slots.len(),
            protocol = self.config.protocol.name(),
            "listening on {}",
            self.addr
        );
    }

    /// After a failed start: wait (bounded) for the workers already forked to exit.
    fn wait_all_exited(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.live_workers() > 0 && Instant::now() < deadline {
            self.reap();
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// 100 ms, 200 ms, 400 ms, … up to 10 s for the n-th young death in a row (n ≥ 1).
fn backoff(streak: u32) -> Duration {
    let factor = 1u32 << streak.saturating_sub(1).min(16);
    BACKOFF_START.saturating_mul(factor).min(BACKOFF_MAX)
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
