//! The worker: one process, one listening socket, one hand-written epoll loop.
//!
//! `poll → dispatch by token → accept → drive ready connections → expire timers → heartbeat`.
//! Each worker polls its own SO_REUSEPORT listener (level-triggered), and, with every other
//! worker, the sockets shared among them (EPOLLEXCLUSIVE): `--metrics-port`'s, and those an
//! upgrade passed beyond one per worker. Connections are edge-triggered and registered once.
//! The master drives the worker over its channel (`channel.rs`).

pub(crate) mod accept;
mod control;
mod listen;
mod setup;
mod site;
pub(crate) mod slab;
pub(crate) mod timer;
mod wakeups;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing::{debug, error, info, info_span, warn};

use self::accept::Acceptor;
use self::site::Site;
use self::slab::Slab;
use self::timer::TimerWheel;
use self::wakeups::Wakeups;
use crate::app::App;
use crate::buffer::BufPool;
use crate::channel;
use crate::config::{self, Config, EchoOptions, ProtocolKind, Timeouts};
use crate::conn::{Connection, Drive};
use crate::memory::Use;
use crate::signals::Signals;
use crate::stats::{MasterStats, WorkerStats};
use crate::sys::epoll::{Events, Interest, Poller};

const LISTENER: u64 = u64::MAX;
const SIGNAL: u64 = u64::MAX - 1;
const CHANNEL: u64 = u64::MAX - 2;
const METRICS: u64 = u64::MAX - 3;
/// The first socket adopted from an upgrade; the i-th is `ADOPTED - i` (see `listen.rs`).
const ADOPTED: u64 = u64::MAX - 64;

/// Pool buffers freed in one trim after which the heap is trimmed too (`malloc_trim` walks
/// the heap: worth it only after a burst).
const TRIM_HEAP_AFTER_BYTES: usize = 4 * 1024 * 1024;

/// What a forked worker is handed.
pub(crate) struct WorkerInit<'a> {
    pub slot: usize,
    pub generation: u64,
    pub listener: OwnedFd,
    /// Sockets an upgrade passed beyond one per worker, polled by every worker (EPOLLEXCLUSIVE).
    pub adopted: Vec<OwnedFd>,
    /// `--metrics-port`'s socket, shared by every worker (EPOLLEXCLUSIVE).
    pub metrics_listener: Option<OwnedFd>,
    /// The worker's end of its channel to the master; EOF means the master is gone.
    pub channel: UnixStream,
    pub signals: Signals,
    pub config: Config,
    /// This worker's slot in the shared stats mapping (its heartbeat included).
    pub stats: &'a WorkerStats,
    /// Every worker's slot, for `/metrics` and `/status`.
    pub all_stats: &'a [WorkerStats],
    pub master_stats: &'a MasterStats,
}

/// Why the listener is out of the poll set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcceptPause {
    /// Out of descriptors: resume when a connection closes or at this instant.
    Exhausted { until: Instant },
    /// At `max_conns`: resume below `RESUME_ACCEPT_PERCENT` of it.
    AtCap,
}

/// Why the loop ends.
enum Exit {
    Drained,
    Now,
}

struct Worker<'a> {
    poller: Poller,
    /// `None` once draining: the worker no longer accepts.
    listener: Option<OwnedFd>,
    /// Sockets adopted from an upgrade (see `WorkerInit::adopted`); emptied when draining.
    adopted: Vec<OwnedFd>,
    /// Adopted sockets that were readable this turn (reused, so a turn allocates nothing).
    ready_adopted: Vec<usize>,
    /// `--metrics-port`'s socket; dropped when draining.
    metrics_listener: Option<OwnedFd>,
    /// Connections open on the metrics port, and why it is out of the poll set, if it is.
    metrics_conns: usize,
    metrics_paused: Option<AcceptPause>,
    paused: Option<AcceptPause>,
    channel: UnixStream,
    signals: Signals,
    protocol: ProtocolKind,
    /// What an echo connection does beyond echoing (`--echo-*`).
    echo: EchoOptions,
    /// `--proxy-protocol`: whom connections are taken from, and the header they start with.
    proxy: Option<config::ProxyOptions>,
    conns: Slab<Connection>,
    max_conns: usize,
    listen_interest: Interest,
    /// `--defer-accept`: how long the kernel may hold a connection back from `accept4`. When it
    /// is on, a new connection is read at once (its request is already there); when off, epoll
    /// says when the request arrives (a read now would almost always be EAGAIN).
    defer_accept: Duration,
    /// Connections whose `drive` ran out of budget, to drive again next turn.
    again: Vec<u64>,
    /// The memory waiter last woken, and the budget's change count then.
    last_memory_wake: Option<(u64, u64)>,
    timers: TimerWheel,
    /// Deferred responses due at an exact moment.
    wakeups: Wakeups,
    timeouts: Timeouts,
    acceptor: Acceptor,
    pool: BufPool,
    /// What every connection draws on.
    site: Site<'a>,
    /// The application: what every request gets.
    app: App<'a>,
    /// Ask the master for a replacement after this many requests.
    recycle_after: Option<u64>,
    /// This worker's figures in shared memory (its heartbeat included).
    stats: &'a WorkerStats,
    /// The loop wakes at least this often, so an idle worker's heartbeat still moves.
    heartbeat_every: Duration,
}

/// Runs the worker until it is told to stop or its master goes away; returns the exit code.
pub(crate) fn run(init: WorkerInit<'_>) -> i32 {
    let pid = std::process::id();
    let _span = info_span!(
        "worker",
        slot = init.slot,
        pid,
        generation = init.generation
    )
    .entered();
    if let Some(cpu) = init
        .config
        .cpu_affinity
        .cpu_for(init.slot, &crate::sys::cpus::allowed())
    {
        match crate::sys::cpus::pin(cpu) {
            Ok(()) => debug!(cpu, "pinned to a CPU"),
            Err(errno) => warn!(cpu, %errno, "could not pin to that CPU; running unpinned"),
        }
    }
    let mut worker = match Worker::new(init) {
        Ok(w) => w,
        Err(e) => {
            error!(error = %e, "could not set up the worker");
            return crate::error::exit::OSERR;
        }
    };
    match worker.run() {
        Ok(()) => crate::error::exit::OK,
        Err(e) => {
            error!(error = %e, "event loop failed");
            crate::error::exit::FAILURE
        }
    }
}

impl Worker<'_> {
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        if !channel::send(self.channel.as_fd(), channel::READY) {
            warn!("could not tell the master we are ready; exiting");
            return Ok(());
        }
        debug!("worker ready");
        self.sample_open_fds();
        let mut driving = Vec::new();
        let mut expired = Vec::new();
        let mut due = Vec::new();
        // The end of the previous turn: one clock read serves both the turn's duration and the
        // next poll timeout.
        let mut turn_end = Instant::now();
        loop {
            WorkerStats::add(&self.stats.heartbeat, 1);
            let timeout = self.poll_timeout(turn_end);
            self.poller.wait(&mut events, Some(timeout))?;
            let now = Instant::now();
            if self.site.update_date() {
                self.once_a_second();
            }
            let mut accept_ready = false;
            for ev in events.iter() {
                match ev.token {
                    LISTENER => accept_ready = true,
                    METRICS => self.accept_metrics(now, &mut driving),
                    token if listen::adopted_index(token, self.adopted.len()).is_some() => {
                        self.ready_adopted
                            .extend(listen::adopted_index(token, self.adopted.len()));
                    }
                    SIGNAL => {
                        if let Some(exit) = self.on_signals(now) {
                            return self.exit(exit);
                        }
                    }
                    CHANNEL => {
                        if let Some(exit) = self.on_channel(now) {
                            return self.exit(exit);
                        }
                    }
                    token => {
                        if let Some(conn) = self.conns.get_mut(token) {
                            conn.on_event(ev.is_readable(), ev.is_writable(), ev.is_read_closed());
                            if !conn.queued {
                                conn.queued = true;
                                driving.push(token);
                            }
                        }
                    }
                }
            }
            if accept_ready && self.paused.is_none() {
                self.accept(listen::Source::Own, now, &mut driving);
            }
            let mut ready = std::mem::take(&mut self.ready_adopted);
            for i in ready.drain(..) {
                if self.paused.is_none() {
                    self.accept(listen::Source::Adopted(i), now, &mut driving);
                }
            }
            self.ready_adopted = ready;
            // Connections that ran out of budget last turn go after this turn's events.
            driving.append(&mut self.again);
            for token in driving.drain(..) {
                self.drive(token, now);
            }
            self.expire(now, &mut expired);
            self.wake_due(now, &mut due);
            self.wake_memory_waiter();
            self.maybe_ask_for_recycling();
            if let Some(log) = &self.site.access_log {
                let mut log = log.borrow_mut();
                log.maybe_flush(now);
                WorkerStats::add(&self.stats.access_log_dropped, log.take_dropped());
            }
            turn_end = Instant::now();
            self.stats
                .on_loop_turn(turn_end.duration_since(now).as_nanos() as u64);
            let listening = self.listener.is_some() || !self.adopted.is_empty();
            if self.site.draining && self.conns.is_empty() && !listening {
                return self.exit(Exit::Drained);
            }
        }
    }

    fn exit(&self, how: Exit) -> io::Result<()> {
        if let Some(log) = &self.site.access_log {
            log.borrow_mut().flush();
        }
        match how {
            Exit::Drained => info!(served = self.site.served.get(), "drained; exiting"),
            Exit::Now => info!(connections = self.conns.len(), "exiting now"),
        }
        Ok(())
    }

    /// Housekeeping at the start of each second: buffers that sat idle for the whole last
    /// second go back to the allocator, and, after a large release, the allocator's free pages
    /// go back to the system, so a burst does not pin its peak.
    fn once_a_second(&mut self) {
        self.sample_open_fds();
        let freed = self.pool.trim(config::BUFFER_POOL_RESERVE);
        if freed >= TRIM_HEAP_AFTER_BYTES {
            crate::sys::alloc::trim_heap();
        }
    }

    /// Counts this worker's descriptors for `/metrics` (one `stat`; see `procfs::open_fds`).
    fn sample_open_fds(&self) {
        if let Ok(n) = crate::sys::procfs::open_fds(u64::from(std::process::id())) {
            self.stats.open_fds.store(n as u64, Ordering::Relaxed);
        }
    }

    /// How long the next wait may sleep, counted from `now` (the end of the turn just done).
    fn poll_timeout(&self, now: Instant) -> Duration {
        if !self.again.is_empty() {
            return Duration::ZERO;
        }
        let mut wake = now + self.heartbeat_every;
        if let Some(at) = self.timers.next_wakeup() {
            wake = wake.min(at);
        }
        if let Some(at) = self.wakeups.next() {
            wake = wake.min(at);
        }
        for pause in [self.paused, self.metrics_paused] {
            if let Some(AcceptPause::Exhausted { until }) = pause {
                wake = wake.min(until);
            }
        }
        wake.saturating_duration_since(now)
    }

    #[inline(always)]
    fn drive(&mut self, token: u64, now: Instant) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let env = self
            .site
            .env(now, token, conn.peer, conn.socket(), conn.metrics_only);
        conn.queued = false;
        let wake_before = conn.wake_at();
        let outcome = conn.drive(&env, &mut self.app, &mut self.pool, now);
        self.after_drive(token, outcome, wake_before);
    }

    /// Acts on a drive's outcome and keeps the connection's timer armed, and its wake-up if
    /// it asked for a new one (`wake_before` is the one it had).
    fn after_drive(&mut self, token: u64, outcome: Drive, wake_before: Option<Instant>) {
        if outcome == Drive::Close {
            return self.close(token);
        }
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        // A wake-up set before the first drive (an echo's close-after) is pushed here, once.
        let first = !conn.registered;
        if !conn.registered {
            // Edge-triggered ADD still reports readiness that already exists, so nothing
            // that arrived since the first drive is missed.
            if let Err(e) = self.poller.add(conn.fd(), token, Interest::CONNECTION) {
                warn!(error = %e, "could not register a connection");
                return self.close(token);
            }
            conn.registered = true;
        }
        if outcome == Drive::Again && !conn.queued {
            conn.queued = true;
            self.again.push(token);
        }
        if let Some(at) = conn
            .wake_at()
            .filter(|&at| first || Some(at) != wake_before)
        {
            self.wakeups.push(token, at);
        }
        self.arm(token);
    }

    /// Drives the connections whose deferred responses are due; an entry for a wake-up that
    /// moved later is pushed again, one for a connection that no longer waits is dropped.
    fn wake_due(&mut self, now: Instant, due: &mut Vec<u64>) {
        if self.wakeups.next().is_none_or(|at| at > now) {
            return;
        }
        self.wakeups.due(now, due);
        for token in due.drain(..) {
            let Some(wake) = self.conns.get_mut(token).and_then(|c| c.wake_at()) else {
                continue;
            };
            if wake > now {
                self.wakeups.push(token, wake);
            } else {
                self.drive(token, now);
            }
        }
    }

    /// Schedules the connection's next deadline if it is earlier than the one already armed
    /// (a later one is found when the armed entry fires).
    fn arm(&mut self, token: u64) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let deadline = conn.deadline(&self.timeouts, self.site.draining);
        let tick = self.timers.tick_of(deadline);
        if conn.scheduled_tick.is_none_or(|t| tick < t) {
            conn.scheduled_tick = Some(self.timers.schedule(token, deadline));
        }
    }

    fn close(&mut self, token: u64) {
        // Dropping the fd closes it, which also removes it from epoll: workers never fork, so
        // no other copy of the descriptor keeps the registration alive.
        let Some(conn) = self.conns.remove(token) else {
            return;
        };
        let metrics_only = conn.metrics_only;
        conn.release(&mut self.pool, &self.site.budget, token);
        self.stats.on_close();
        self.on_conn_closed(metrics_only);
    }

    /// Memory was given back this turn: the connection first in line for it, if it fits now,
    /// is driven next turn (it reserves then). Also refreshes the budget's gauges.
    fn wake_memory_waiter(&mut self) {
        let budget = &self.site.budget;
        self.stats
            .buffered_body_bytes
            .store(budget.held(Use::Body), Ordering::Relaxed);
        self.stats
            .buffered_output_bytes
            .store(budget.held(Use::Output), Ordering::Relaxed);
        self.stats
            .memory_waiting
            .store(budget.waiting() as u64, Ordering::Relaxed);
        let Some(token) = budget.ready_waiter() else {
            return;
        };
        // Once per change in the budget: a waiter that still does not get its memory when
        // driven waits for the next release instead of being driven every turn.
        let change = (token, budget.changes());
        if self.last_memory_wake == Some(change) {
            return;
        }
        self.last_memory_wake = Some(change);
        match self.conns.get_mut(token) {
            Some(conn) if !conn.queued => {
                conn.queued = true;
                self.again.push(token);
            }
            Some(_) => {}
            // Closed without leaving the queue: a bug, but it must not block the others.
            None => budget.cancel(token),
        }
    }

    fn expire(&mut self, now: Instant, expired: &mut Vec<(u64, u64)>) {
        self.timers.expire(now, expired);
        for (token, tick) in expired.drain(..) {
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            if conn.scheduled_tick != Some(tick) {
                continue; // stale: a newer, earlier entry superseded this one
            }
            conn.scheduled_tick = None;
            let deadline = conn.deadline(&self.timeouts, self.site.draining);
            if deadline > now {
                conn.scheduled_tick = Some(self.timers.schedule(token, deadline));
                continue;
            }
            if let Some(kind) = conn.timeout_kind(now) {
                self.stats.on_timeout(kind);
            }
            let env = self
                .site
                .env(now, token, conn.peer, conn.socket(), conn.metrics_only);
            let wake_before = conn.wake_at();
            let outcome = conn.on_timeout(&env, &mut self.app, &mut self.pool, now);
            self.after_drive(token, outcome, wake_before);
        }
        self.resume_due(now);
    }
}
