//! The worker: one process, one listening socket, one hand-written epoll loop.
//!
//! `poll → dispatch by token → re-drive connections that ran out of budget → expire timers`.
//! Each worker polls only its own SO_REUSEPORT listener (level-triggered); connections are
//! edge-triggered and registered once.

pub mod accept;
pub mod slab;
pub mod timer;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Instant, SystemTime};

use tracing::{debug, error, info, info_span, warn};

use self::accept::{AcceptStop, Acceptor};
use self::slab::Slab;
use self::timer::DeadlineQueue;
use crate::buffer::BufPool;
use crate::config::{self, Config, ProtocolKind};
use crate::conn::{Connection, Drive};
use crate::proto::http::date::HttpDate;
use crate::proto::http::Limits;
use crate::proto::{Context, Protocol};
use crate::signals::{self, Signals};
use crate::sys::epoll::{Events, Interest, Poller};
use crate::sys::net::{self, IoOutcome};

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

struct Worker {
    poller: Poller,
    listener: OwnedFd,
    listening: bool,
    channel: UnixStream,
    signals: Signals,
    protocol: ProtocolKind,
    conns: Slab<Connection>,
    /// Connections whose `drive` ran out of budget, to drive again this turn.
    again: Vec<u64>,
    lingering: DeadlineQueue,
    acceptor: Acceptor,
    pool: BufPool,
    date: HttpDate,
    whoami: Vec<u8>,
    limits: Limits,
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
        Ok(Worker {
            poller,
            listener: init.listener,
            listening: true,
            channel: init.channel,
            signals: init.signals,
            protocol: init.config.protocol,
            conns: Slab::default(),
            again: Vec::new(),
            lingering: DeadlineQueue::new(config::LINGER_TIMEOUT),
            acceptor: Acceptor::new(),
            pool: BufPool::new(config::READ_BUF_BYTES, config::BUFFER_POOL_MAX),
            date: HttpDate::new(SystemTime::now()),
            whoami: whoami.into_bytes(),
            limits: Limits::default(),
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
        loop {
            let timeout = if self.again.is_empty() {
                self.next_deadline()
                    .map(|at| at.saturating_duration_since(Instant::now()))
            } else {
                Some(std::time::Duration::ZERO)
            };
            self.poller.wait(&mut events, timeout)?;
            let now = Instant::now();
            self.date.update(SystemTime::now());
            let mut accept_ready = false;
            for ev in events.iter() {
                match ev.token {
                    LISTENER => accept_ready = true,
                    SIGNAL => {
                        let got = self.signals.take();
                        if got.contains_any(signals::STOP) {
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
                            driving.push(token);
                        }
                    }
                }
            }
            if accept_ready && self.listening {
                self.accept(now, &mut driving);
            }
            // Connections that ran out of budget last turn go after this turn's events.
            driving.append(&mut self.again);
            for token in driving.drain(..) {
                self.drive(token, now);
            }
            self.expire(now);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        match (self.lingering.next(), self.acceptor.paused_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn accept(&mut self, now: Instant, driving: &mut Vec<u64>) {
        let protocol = self.protocol;
        let poller = &self.poller;
        let conns = &mut self.conns;
        let stop = self
            .acceptor
            .accept_batch(&self.listener, config::ACCEPT_BUDGET, now, |fd| {
                if let Err(e) = net::set_nodelay(&fd) {
                    debug!(error = %e, "could not set TCP_NODELAY");
                }
                let token = conns.insert(Connection::new(fd, Protocol::new(protocol)));
                let conn = conns.get_mut(token).expect("just inserted");
                // Edge-triggered: data that arrived before the ADD still raises the first edge,
                // but drive once anyway so nothing waits on an event that already happened.
                match poller.add(conn.fd(), token, Interest::CONNECTION) {
                    Ok(()) => {
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
            self.pause_accepting(now);
        }
    }

    fn pause_accepting(&mut self, now: Instant) {
        if self.listening {
            // Level-triggered: leaving it registered would spin on the same pending connection.
            let _ = self.poller.delete(&self.listener);
            self.listening = false;
        }
        self.acceptor.paused_until = Some(now + config::ACCEPT_PAUSE);
    }

    fn resume_accepting(&mut self) {
        if self.listening {
            return;
        }
        match self
            .poller
            .add(&self.listener, LISTENER, Interest::READABLE)
        {
            Ok(()) => {
                self.listening = true;
                self.acceptor.paused_until = None;
                debug!("accepting again");
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
        match conn.drive(&ctx, &mut self.pool) {
            Drive::Wait => {}
            Drive::Again => self.again.push(token),
            Drive::Lingering => self.lingering.push(now, token),
            Drive::Close => self.close(token),
        }
    }

    fn close(&mut self, token: u64) {
        // Dropping the fd closes it, which also removes it from epoll: workers never fork, so
        // no other copy of the descriptor keeps the registration alive.
        if self.conns.remove(token).is_some() && !self.listening {
            self.resume_accepting();
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(token) = self.lingering.pop_expired(now) {
            if self.conns.get_mut(token).is_some_and(|c| c.is_lingering()) {
                self.close(token);
            }
        }
        if self.acceptor.paused_until.is_some_and(|at| at <= now) {
            self.acceptor.paused_until = None;
            self.resume_accepting();
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
