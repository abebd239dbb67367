//! The master: raise limits, bind, fork, then a flat wait → reap → act cycle until stopped.
//!
//! It serves no connections. It keeps every listening socket open for its whole life (until a
//! stop), so a worker that dies, is reloaded or recycled leaves its accept queue intact for the
//! worker that takes over its slot. The signal table is in `signals.rs`; the lifecycle moves
//! (reload, stop, resize, recycle, hung workers) are in `lifecycle.rs`.

mod announce;
mod lifecycle;
mod reexec;
pub mod startup;
mod supervise;
pub mod tls;
mod upgrade;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tracing::{error, info, warn};

use self::reexec::PendingCheck;
use self::upgrade::Upgrade;
use crate::channel;
use crate::config::{Config, UpgradeMode};
use crate::error::Error;
use crate::notify::Notifier;
use crate::pidfile::PidFile;
use crate::process::{WorkerProc, WorkerSlot};
use crate::signals::{self, Signals};
use crate::stats::{MasterStats, WorkerStats};
use crate::sys::epoll::{Events, Interest, Poller};
use crate::sys::shm::Shared;

const SIGNAL: u64 = u64::MAX;
const UPGRADE: u64 = u64::MAX - 1;
/// The old master's end of the ready channel, in a fork-style upgrade's new master.
const HANDOVER: u64 = u64::MAX - 2;

/// Stats slots in the shared mapping (one per live worker process): enough for every slot twice
/// over (a reload runs two generations side by side) plus the workers still draining.
const STATS_SLOTS: usize = 4096;

/// Runs the master until it stops; `Ok` means every worker exited and the master may exit 0.
///
/// # Errors
/// Startup failures (bind, fork, epoll, signals), a worker exiting with the fatal code, and
/// every slot given up after crash loops.
pub fn run(mut config: Config) -> Result<(), Error> {
    info!(version = crate::VERSION, "prefork-server starting");
    startup::hand_over_logs(&config)?;
    startup::raise_nofile_limit(&config);
    startup::warn_if_backlog_capped(config.backlog);
    let tls = tls::start(&config)?;
    let sockets = startup::listeners(&config)?;
    let listeners = sockets.main;
    let mut tls_listeners = sockets.tls;
    if let (Some(options), Some(bound)) = (&mut config.tls, &tls_listeners) {
        // Port 0 is now the port bound: the workers tell their TLS sockets by it.
        options.port = Some(bound.addr.port());
    }
    let metrics_listener = startup::metrics_listener(&config, listeners.addr)?;
    let inherited = reexec::inherited();
    let notifier = Notifier::from_env();
    let upgrade_ready = startup::upgrade_ready_fd();
    if config.lifecycle.upgrade_mode == UpgradeMode::Auto {
        // A service manager tracks our pid: only an upgrade that keeps it suits it.
        config.lifecycle.upgrade_mode = match notifier {
            Some(_) => UpgradeMode::Exec,
            None => UpgradeMode::Fork,
        };
    }
    startup::check_pid_file_folder(&config)?;
    let setup = |what| move |source| Error::Setup { what, source };
    let signals = Signals::register(signals::MASTER).map_err(Error::Signals)?;
    let poller = Poller::new().map_err(setup("the master's epoll instance"))?;
    poller
        .add(signals.fd(), SIGNAL, Interest::READABLE)
        .map_err(setup("the master's signal registration"))?;
    // Blocked still if we were re-executed in place; what arrived meanwhile is handled now.
    signals::unblock(signals::MASTER).map_err(Error::Signals)?;
    let stats = Shared::new(STATS_SLOTS).map_err(setup("the stats mapping"))?;
    let master_stats = Shared::new(1).map_err(setup("the stats mapping"))?;
    let mut tls_fds = tls_listeners
        .as_mut()
        .map(|t| std::mem::take(&mut t.fds))
        .unwrap_or_default()
        .into_iter();
    let slots = listeners
        .fds
        .into_iter()
        .enumerate()
        .map(|(i, fd)| WorkerSlot::new(i, fd, tls_fds.next()))
        .collect();
    let mut master = Master {
        config,
        addr: listeners.addr,
        tls_addr: tls_listeners.as_ref().map(|t| t.addr),
        shared_listeners: listeners.shared || tls_listeners.as_ref().is_some_and(|t| t.shared),
        metrics_listener,
        poller,
        signals,
        slots,
        retiring: Vec::new(),
        generation: 1,
        stats,
        master_stats,
        free_cells: (0..STATS_SLOTS).rev().collect(),
        stop: None,
        announced: false,
        reloading: false,
        fatal: None,
        upgrade: None,
        check: None,
        // A fork-style upgrade's new master is not systemd's main process until the old one
        // hands over (by closing this channel): until then it must not notify.
        notify_held: upgrade_ready.is_some() && notifier.is_some(),
        upgrade_ready,
        adopted: listeners.adopted,
        tls_adopted: tls_listeners.map(|t| t.adopted).unwrap_or_default(),
        tls,
        notifier,
        next_watchdog: None,
        exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe")),
        args: std::env::args_os().skip(1).collect(),
        pid_file: None,
    };
    master.adopt_workers(inherited);
    if let Err(e) = master.start_all() {
        master.kill_all(Signal::SIGKILL);
        master.wait_all_exited();
        return Err(e);
    }
    master.cycle()
}

/// A stop in progress.
#[derive(Debug, Clone, Copy)]
struct Stop {
    /// A graceful stop still in its drain delay: workers are told to drain at this instant.
    drain_at: Option<Instant>,
    /// When the workers left get SIGKILL.
    kill_at: Instant,
    killed: bool,
    graceful: bool,
}

struct Master {
    config: Config,
    addr: SocketAddr,
    /// `--tls-port`'s address, when it is on.
    tls_addr: Option<SocketAddr>,
    shared_listeners: bool,
    /// `--metrics-port`'s socket, shared by every worker.
    metrics_listener: Option<OwnedFd>,
    poller: Poller,
    signals: Signals,
    slots: Vec<WorkerSlot>,
    /// Workers told to drain (old generations, removed slots, recycled), until they exit.
    retiring: Vec<WorkerProc>,
    generation: u64,
    /// Every worker's figures (and heartbeat), one slot per live worker process.
    stats: Shared<WorkerStats>,
    /// The master's own figures (restarts by reason).
    master_stats: Shared<MasterStats>,
    free_cells: Vec<usize>,
    stop: Option<Stop>,
    /// The "listening on" line was logged.
    announced: bool,
    /// A reload is under way: say READY once the new generation is up.
    reloading: bool,
    /// Why the master exits non-zero, once everything has stopped.
    fatal: Option<Error>,
    /// A new master started by SIGUSR2, not ready yet.
    upgrade: Option<Upgrade>,
    /// The new binary's `--check` before an in-place upgrade (`reexec.rs`).
    check: Option<PendingCheck>,
    /// We are a fork-style upgrade's new master: tell the old one here once we serve, then wait
    /// for it to hand over (EOF).
    upgrade_ready: Option<OwnedFd>,
    /// Notifications wait for that handover (systemd takes them from its main pid only).
    notify_held: bool,
    /// Sockets an upgrade passed beyond one per slot, polled by every worker (see
    /// `startup::Listeners::adopted`); passed on again by our own upgrade.
    adopted: Vec<OwnedFd>,
    /// The same for `--tls-port`'s sockets.
    tls_adopted: Vec<OwnedFd>,
    /// The TLS configuration and ticket keys, when TLS is on.
    tls: Option<tls::MasterTls>,
    notifier: Option<Notifier>,
    next_watchdog: Option<Instant>,
    /// The binary and arguments to start on SIGUSR2 (the file on disk then).
    exe: PathBuf,
    args: Vec<OsString>,
    /// Written once every worker serves (so during a binary upgrade the file names the old
    /// master until the new one is ready, and a new master that fails never replaces it).
    pid_file: Option<PidFile>,
}

impl Master {
    fn cycle(mut self) -> Result<(), Error> {
        let mut events = Events::with_capacity(64);
        loop {
            let timeout = self
                .next_deadline()
                .saturating_duration_since(Instant::now());
            if let Err(e) = self.poller.wait(&mut events, Some(timeout)) {
                error!(error = %e, "epoll_wait failed in the master");
                std::thread::sleep(Duration::from_millis(100));
            }
            for ev in events.iter() {
                match ev.token {
                    SIGNAL => self.on_signals(),
                    UPGRADE => self.on_upgrade_channel(),
                    HANDOVER => self.on_handover(),
                    pid => self.on_channel(Pid::from_raw(pid as i32)),
                }
            }
            self.reap();
            let now = Instant::now();
            self.rotate_ticket_key(now);
            self.check_heartbeats(now);
            self.check_upgrade_deadline(now);
            self.send_watchdog(now);
            if self.stop.is_some() {
                if let Some(done) = self.advance_stop(now) {
                    return done;
                }
            } else {
                self.respawn_due(now);
                self.announce_when_ready();
            }
        }
    }

    /// When the loop must wake even if nothing happens.
    fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let beat_check = (self.config.lifecycle.worker_timeout / 4).min(Duration::from_secs(1));
        let mut at = now + beat_check;
        if let Some(stop) = self.stop {
            at = at
                .min(stop.drain_at.unwrap_or(stop.kill_at))
                .min(stop.kill_at);
            if stop.killed {
                // After SIGKILL the exits follow at once; poll briefly in case SIGCHLD coalesced.
                at = at.min(now + Duration::from_millis(50));
            }
        } else if let Some(r) = self.slots.iter().filter_map(|s| s.respawn_at).min() {
            at = at.min(r);
        }
        if let Some(w) = self.next_watchdog {
            at = at.min(w);
        }
        if let Some(u) = &self.upgrade {
            at = at.min(u.deadline);
        }
        if let Some(c) = &self.check {
            at = at.min(c.deadline);
        }
        if let Some(t) = &self.tls {
            at = at.min(t.rotate_at);
        }
        at
    }

    fn on_signals(&mut self) {
        let got = self.signals.take();
        for signal in got.iter() {
            if signal != signals::SIGCHLD_NUM {
                info!(signal = signals::name(signal), "signal received");
            }
        }
        use signal_hook::consts::signal::*;
        if got.contains(SIGINT) {
            self.begin_stop(false);
        } else if got.contains_any(&[SIGTERM, SIGQUIT]) {
            self.begin_stop(true);
        }
        if got.contains(SIGHUP) {
            self.reload();
        }
        if got.contains(SIGUSR1) {
            self.reopen_logs();
        }
        if got.contains(SIGUSR2) {
            self.start_upgrade();
        }
        if got.contains(SIGWINCH) {
            self.park_workers();
        }
        if got.contains(SIGTTIN) {
            self.add_slot();
        }
        if got.contains(SIGTTOU) {
            self.remove_slot();
        }
    }

    /// Every live worker process, in any role.
    fn workers(&self) -> impl Iterator<Item = &WorkerProc> {
        self.slots
            .iter()
            .flat_map(|s| s.current.iter().chain(&s.replacing))
            .chain(&self.retiring)
    }

    fn live_workers(&self) -> usize {
        self.workers().count()
    }

    fn kill_all(&self, signal: Signal) {
        for w in self.workers() {
            if let Err(errno) = kill(w.pid, signal) {
                warn!(pid = w.pid.as_raw(), %errno, "kill failed");
            }
        }
    }

    fn tell_all(&self, message: u8) {
        for w in self.workers() {
            channel::send(w.channel.as_fd(), message);
        }
    }

    /// A worker wrote to its channel (ready, recycle me) or closed it (it is exiting).
    fn on_channel(&mut self, pid: Pid) {
        let Some(w) = self.find_mut(pid) else {
            return;
        };
        let inbox = channel::receive(w.channel.as_fd());
        if inbox.closed && !w.channel_closed {
            w.channel_closed = true;
            // Level-triggered: an EOF left registered would wake the master until the reap.
            // (The delete must name the registered fd itself, not a duplicate.)
            if let Some(w) = self.workers().find(|w| w.pid == pid) {
                let _ = self.poller.delete(&w.channel);
            }
        }
        if inbox.has(channel::READY) {
            self.on_worker_ready(pid);
        }
        if inbox.has(channel::RECYCLE) {
            self.recycle(pid);
        }
    }

    fn find_mut(&mut self, pid: Pid) -> Option<&mut WorkerProc> {
        self.slots
            .iter_mut()
            .flat_map(|s| s.current.iter_mut().chain(s.replacing.iter_mut()))
            .chain(self.retiring.iter_mut())
            .find(|w| w.pid == pid)
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
