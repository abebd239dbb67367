//! The worker: one process, one listening socket, one hand-written epoll loop.
//!
//! `poll → dispatch by token → accept → drive ready connections → expire timers`.
//! Each worker polls only its own SO_REUSEPORT listener (level-triggered); connections are
//! edge-triggered and registered once.

pub mod accept;
pub mod slab;
pub mod timer;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, error, info, info_span, warn};

use self::accept::{AcceptStop, Acceptor};
use self::slab::Slab;
use self::timer::TimerWheel;
use crate::buffer::BufPool;
use crate::config::{self, Config, HttpLimits, ProtocolKind, Timeouts};
use crate::conn::{Connection, Drive};
use crate::proto::http::date::HttpDate;
use crate::proto::{Context, Protocol};
use crate::signals::{self, Signals};
use crate::sys::epoll::{Events, Interest, Poller};
use crate::sys::net::{self, IoOutcome};
use crate::sys::rlimit;

const LISTENER: u64 = u64::MAX;
const SIGNAL: u64 = u64::MAX - 1;
const CHANNEL: u64 = u64::MAX - 2;

/// The byte a worker sends its master once it is polling its listener.
pub const READY_BYTE: u8 = b'R';

/// What a forked worker is handed.
pub struct WorkerInit {
    pub slot: usize,
    pub generation: u64,
    pub listener: OwnedFd,
    /// The worker's end of its channel to the master; EOF means the master is gone.
    pub channel: UnixStream,
    pub signals: Signals,
    pub config: Config,
}

/// Why the listener is out of the poll set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcceptPause {
    /// Out of descriptors: resume when a connection closes or at this instant.
    Exhausted { until: Instant },
    /// At `max_conns`: resume below `RESUME_ACCEPT_PERCENT` of it.
    AtCap,
}

struct Worker {
    poller: Poller,
    listener: OwnedFd,
    paused: Option<AcceptPause>,
    channel: UnixStream,
    signals: Signals,
    protocol: ProtocolKind,
    conns: Slab<Connection>,
    max_conns: usize,
    /// Connections whose `drive` ran out of budget, to drive again next turn.
    again: Vec<u64>,
    timers: TimerWheel,
    timeouts: Timeouts,
    acceptor: Acceptor,
    pool: BufPool,
    date: HttpDate,
    whoami: Vec<u8>,
    limits: HttpLimits,
}

/// Runs the worker until it is told to stop or its master goes away; returns the exit code.
pub fn run(init: WorkerInit) -> i32 {
    let pid = std::process::id();
    let _span = info_span!(
        "worker",
        slot = init.slot,
        pid,
        generation = init.generation
    )
    .entered();
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

/// The connection cap when none is given: what the fd limit leaves after the reserved
/// descriptors, and no more than this worker's share of the system-wide file table.
fn default_max_conns(workers: usize) -> usize {
    let by_rlimit = rlimit::nofile_soft().saturating_sub(config::RESERVED_FDS as u64);
    let by_system = rlimit::file_max() / workers.max(1) as u64;
    usize::try_from(by_rlimit.min(by_system))
        .unwrap_or(usize::MAX)
        .max(1)
}

impl Worker {
    fn new(init: WorkerInit) -> io::Result<Worker> {
        let poller = Poller::new()?;
        poller.add(init.signals.fd(), SIGNAL, Interest::READABLE)?;
        init.channel.set_nonblocking(true)?;
        poller.add(init.channel.as_fd(), CHANNEL, Interest::READABLE)?;
        poller.add(init.listener.as_fd(), LISTENER, Interest::READABLE)?;
        let whoami = format!(
            "pid={} slot={} generation={}",
            std::process::id(),
            init.slot,
            init.generation
        );
        let cfg = &init.config;
        let max_conns = cfg
            .max_conns
            .unwrap_or_else(|| default_max_conns(cfg.workers));
        // The read buffer must hold a whole head of the largest size allowed.
        let buf_size = config::READ_BUF_BYTES.max(cfg.limits.max_head_bytes + 1);
        debug!(max_conns, "worker limits");
        Ok(Worker {
            poller,
            listener: init.listener,
            paused: None,
            channel: init.channel,
            signals: init.signals,
            protocol: cfg.protocol,
            conns: Slab::default(),
            max_conns,
            again: Vec::new(),
            timers: TimerWheel::new(Instant::now()),
            timeouts: cfg.timeouts,
            acceptor: Acceptor::new(),
            pool: BufPool::new(buf_size, config::BUFFER_POOL_MAX),
            date: HttpDate::new(SystemTime::now()),
            whoami: whoami.into_bytes(),
            limits: cfg.limits,
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        // Tell the master we are polling our listener.
        if net::write_some(self.channel.as_fd(), &[READY_BYTE]) != IoOutcome::Done(1) {
            warn!("could not tell the master we are ready; exiting");
            return Ok(());
        }
        debug!("worker ready");
        let mut driving = Vec::new();
        let mut expired = Vec::new();
        loop {
            let timeout = self.poll_timeout();
            self.poller.wait(&mut events, timeout)?;
            let now = Instant::now();
            self.date.update(SystemTime::now());
            let mut accept_ready = false;
            for ev in events.iter() {
                match ev.token {
                    LISTENER => accept_ready = true,
                    SIGNAL => {
                        if self.signals.take().contains_any(signals::STOP) {
                            info!(connections = self.conns.len(), "stop requested; exiting");
                            return Ok(());
                        }
                    }
                    CHANNEL => {
                        if self.master_gone() {
                            warn!("master is gone; exiting");
                            return Ok(());
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
                self.accept(now, &mut driving);
            }
            // Connections that ran out of budget last turn go after this turn's events.
            driving.append(&mut self.again);
            for token in driving.drain(..) {
                self.drive(token, now);
            }
            self.expire(now, &mut expired);
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.again.is_empty() {
            return Some(Duration::ZERO);
        }
        let pause_end = match self.paused {
            Some(AcceptPause::Exhausted { until }) => Some(until),
            _ => None,
        };
        let next = match (self.timers.next_wakeup(), pause_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        next.map(|at| at.saturating_duration_since(Instant::now()))
    }

    fn accept(&mut self, now: Instant, driving: &mut Vec<u64>) {
        let budget = config::ACCEPT_BUDGET.min(self.max_conns.saturating_sub(self.conns.len()));
        let protocol = self.protocol;
        let poller = &self.poller;
        let conns = &mut self.conns;
        let stop = self
            .acceptor
            .accept_batch(&self.listener, budget, now, |fd| {
                if let Err(e) = net::set_nodelay(&fd) {
                    debug!(error = %e, "could not set TCP_NODELAY");
                }
                let token = conns.insert(Connection::new(fd, Protocol::new(protocol), now));
                let conn = conns.get_mut(token).expect("just inserted");
                match poller.add(conn.fd(), token, Interest::CONNECTION) {
                    Ok(()) => {
                        // The request often arrives with the handshake: try to read at once
                        // rather than wait a loop turn for the first edge.
                        conn.on_event(true, true, false);
                        driving.push(token);
                    }
                    Err(e) => {
                        warn!(error = %e, "could not register a connection");
                        conns.remove(token);
                    }
                }
            });
        if stop == AcceptStop::Exhausted {
            self.pause_accepting(AcceptPause::Exhausted {
                until: now + config::ACCEPT_PAUSE,
            });
        } else if self.conns.len() >= self.max_conns {
            warn!(
                max_conns = self.max_conns,
                "connection cap reached; pausing accept"
            );
            self.pause_accepting(AcceptPause::AtCap);
        }
    }

    fn pause_accepting(&mut self, why: AcceptPause) {
        if self.paused.is_none() {
            // Level-triggered: leaving it registered would spin on the same pending connection.
            if let Err(e) = self.poller.delete(&self.listener) {
                warn!(error = %e, "could not pause accepting");
                return;
            }
        }
        self.paused = Some(why);
    }

    fn resume_accepting(&mut self) {
        if self.paused.is_none() {
            return;
        }
        match self
            .poller
            .add(&self.listener, LISTENER, Interest::READABLE)
        {
            Ok(()) => {
                self.paused = None;
                debug!(connections = self.conns.len(), "accepting again");
            }
            Err(e) => warn!(error = %e, "could not resume accepting"),
        }
    }

    fn drive(&mut self, token: u64, now: Instant) {
        let ctx = Context {
            date: self.date.as_bytes(),
            whoami: &self.whoami,
            high_water: config::WRITE_HIGH_WATER,
            limits: &self.limits,
        };
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        conn.queued = false;
        let outcome = conn.drive(&ctx, &mut self.pool, now);
        self.after_drive(token, outcome);
    }

    /// Acts on a drive's outcome and keeps the connection's timer armed.
    fn after_drive(&mut self, token: u64, outcome: Drive) {
        if outcome == Drive::Close {
            return self.close(token);
        }
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if outcome == Drive::Again && !conn.queued {
            conn.queued = true;
            self.again.push(token);
        }
        let deadline = conn.deadline(&self.timeouts);
        // Only an earlier deadline needs a new entry; a later one is found when the old fires.
        let tick = self.timers.tick_of(deadline);
        if conn.scheduled_tick.is_none_or(|t| tick < t) {
            conn.scheduled_tick = Some(self.timers.schedule(token, deadline));
        }
    }

    fn close(&mut self, token: u64) {
        // Dropping the fd closes it, which also removes it from epoll: workers never fork, so
        // no other copy of the descriptor keeps the registration alive.
        if self.conns.remove(token).is_none() {
            return;
        }
        let resume = match self.paused {
            Some(AcceptPause::Exhausted { .. }) => true,
            Some(AcceptPause::AtCap) => {
                self.conns.len() * 100 < self.max_conns * config::RESUME_ACCEPT_PERCENT
            }
            None => false,
        };
        if resume {
            self.resume_accepting();
        }
    }

    fn expire(&mut self, now: Instant, expired: &mut Vec<(u64, u64)>) {
        self.timers.expire(now, expired);
        for (token, tick) in expired.drain(..) {
            let timeouts = self.timeouts;
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            if conn.scheduled_tick != Some(tick) {
                continue; // stale: a newer, earlier entry superseded this one
            }
            conn.scheduled_tick = None;
            let deadline = conn.deadline(&timeouts);
            if deadline > now {
                conn.scheduled_tick = Some(self.timers.schedule(token, deadline));
                continue;
            }
            debug!(token, "connection timed out");
            let ctx = Context {
                date: self.date.as_bytes(),
                whoami: &self.whoami,
                high_water: config::WRITE_HIGH_WATER,
                limits: &self.limits,
            };
            let outcome = conn.on_timeout(&ctx, &mut self.pool, now);
            self.after_drive(token, outcome);
        }
        if let Some(AcceptPause::Exhausted { until }) = self.paused {
            if until <= now {
                self.resume_accepting();
            }
        }
    }

    /// Reads the channel; true if the master closed its end.
    fn master_gone(&mut self) -> bool {
        let mut buf = [0u8; 64];
        loop {
            match net::read_some(self.channel.as_fd(), &mut buf) {
                IoOutcome::Done(_) => continue,
                IoOutcome::WouldBlock => return false,
                IoOutcome::Eof | IoOutcome::Closed | IoOutcome::Failed(_) => return true,
            }
        }
    }
}
