//! One connection: its socket, buffers, remembered readiness and protocol state.
//!
//! Registered once, edge-triggered, for both directions: readiness is remembered here and
//! cleared only by a short read/write or `EAGAIN`, so anything stopped early (backpressure, the
//! budget) is resumed by the loop, not by a new edge that would never come. The reads and
//! writes themselves are in `io.rs`; over TLS they go through the connection's
//! [`TlsStream`], and the protocol sees plaintext either way.

mod io;
mod tls;

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

use tracing::debug;

use crate::buffer::{Buf, BufPool};
use crate::config::{Timeouts, DRAIN_IDLE_GRACE, LINGER_TIMEOUT};
use crate::http::Handler;
use crate::memory::{Budget, Use};
use crate::output::Output;
use crate::peer::{Socket, SocketFacts, TcpFigures};
use crate::proto::{Env, Next, Phase, Protocol};
use crate::stats::{TimeoutKind, WorkerStats};
use crate::sys::net::{self, IoOutcome};
use crate::transport::tls::TlsStream;
pub use crate::transport::SYSCALL_WORK;

/// Rounds of read → process → write one `drive` call may do before yielding to other
/// connections (sozu's MAX_LOOP_ITERATIONS); a connection that still has work is re-queued.
const DRIVE_BUDGET: usize = 16;

/// The work one drive may do before the connection yields the loop to the others, in bytes
/// through the socket (read, written, sent from a file), each syscall priced as
/// [`SYSCALL_WORK`] bytes.
///
/// Why bytes on the wire: what the worker spends on a connection is in proportion to them
/// once a response's generator writes many small pieces per step (a 1-byte chunk is 6 bytes
/// on the wire, and costs about as much as 6 bytes of a copy, not as a step); and a syscall
/// costs about as much as copying a few KiB. A count of rounds (what bounded a drive before)
/// let one connection of 1-byte chunks spend 30 times what a plain download spent.
pub const DRIVE_WORK: u64 = 256 * 1024;

/// Most bytes of a file one `sendfile` call sends; after a slice the connection yields the
/// loop to the others.
const FILE_SLICE: u64 = 2 * 1024 * 1024;

/// No tick: a connection's scheduled tick is a `u64` with this for none, not an `Option`
/// (8 bytes, not 16, on every connection; a wheel never counts this far).
const NO_TICK: u64 = u64::MAX;

/// What the worker should do with the connection after [`Connection::drive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    /// Nothing more until the next readiness event.
    Wait,
    /// The budget ran out with work left: drive again on the next loop turn.
    Again,
    /// It just began its lingering close: arm the linger timer, then wait.
    Lingering,
    /// Close it now.
    Close,
}

#[derive(Debug)]
pub struct Connection {
    fd: OwnedFd,
    rbuf: Buf,
    out: Output,
    proto: Protocol,
    /// The TLS session, on a TLS port (boxed: a plaintext connection pays a pointer).
    tls: Option<Box<TlsStream>>,
    readable: bool,
    writable: bool,
    /// EPOLLRDHUP (or HUP/ERR) arrived: keep reading past a short read until the 0.
    read_closed: bool,
    /// The peer finished sending (read returned 0).
    peer_eof: bool,
    /// The protocol asked to close once the output is flushed.
    closing: bool,
    /// The last `on_data` consumed every whole frame and needs more input to go on.
    needs_input: bool,
    /// The last `on_data` is waiting for a moment in time (a deferred response) or for the
    /// memory budget: not for input, so the peer's EOF does not end it.
    waiting: bool,
    /// TCP_NODELAY is still to be set (on the first write of a connection that stays open).
    nodelay_pending: bool,
    /// The last flush sent a slice of a file: the drive yields (see `FILE_SLICE`).
    file_slice_sent: bool,
    /// The timer-wheel tick this connection is scheduled in, [`NO_TICK`] if none (owned by
    /// the worker, through [`Connection::scheduled_tick`]).
    tick: u64,
    /// The client's address, as `accept4` gave it.
    pub peer: Option<std::net::SocketAddr>,
    /// Accepted on the metrics port: only `/metrics`, `/status` and `/healthz` are served.
    pub metrics_only: bool,
    /// Registered with the worker's epoll (after its first drive, if it outlived it).
    pub registered: bool,
    /// Queued to be driven this turn or the next (owned by the worker), so a busy connection
    /// gets one budget per turn however many reasons it has to run.
    pub queued: bool,
    accepted_at: Instant,
    last_read: Instant,
    last_write: Instant,
    /// When the current request head began to arrive.
    head_started: Option<Instant>,
    /// Output has been pending since (or last moved at) this instant.
    send_since: Option<Instant>,
    /// Our FIN went out at this instant; since then we only drain what the peer still sends.
    linger_since: Option<Instant>,
}

impl Connection {
    pub fn new(
        fd: OwnedFd,
        peer: Option<std::net::SocketAddr>,
        proto: Protocol,
        now: Instant,
    ) -> Connection {
        Connection {
            fd,
            rbuf: Buf::new(),
            out: Output::new(),
            proto,
            tls: None,
            readable: false,
            writable: false,
            read_closed: false,
            peer_eof: false,
            closing: false,
            needs_input: true,
            waiting: false,
            nodelay_pending: true,
            file_slice_sent: false,
            tick: NO_TICK,
            registered: false,
            metrics_only: false,
            peer,
            queued: false,
            accepted_at: now,
            last_read: now,
            last_write: now,
            head_started: None,
            send_since: None,
            linger_since: None,
        }
    }

    /// Speaks TLS through `stream` (set before its first drive).
    pub fn set_tls(&mut self, stream: TlsStream) {
        self.tls = Some(Box::new(stream));
    }

    /// The timer-wheel tick this connection is scheduled in, if any.
    pub fn scheduled_tick(&self) -> Option<u64> {
        (self.tick != NO_TICK).then_some(self.tick)
    }

    pub fn set_scheduled_tick(&mut self, tick: Option<u64>) {
        self.tick = tick.unwrap_or(NO_TICK);
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The socket as a context carries it (see [`Socket`]): valid while this connection is.
    pub fn socket(&self) -> Socket {
        Socket {
            fd: self.fd.as_raw_fd(),
            probe: probe_socket,
        }
    }

    /// Records readiness from one epoll event.
    pub fn on_event(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.readable |= readable;
        self.writable |= writable;
        self.read_closed |= read_closed;
    }

    /// Reads, lets the protocol work (and `app` answer), and writes, until nothing more can
    /// be done now.
    pub fn drive(
        &mut self,
        env: &Env<'_>,
        app: &mut dyn Handler,
        pool: &mut BufPool,
        now: Instant,
    ) -> Drive {
        let outcome = if self.is_lingering() {
            self.drain_lingering(pool)
        } else if self.tls.is_some() {
            self.drive_tls(env, app, pool, now)
        } else {
            self.drive_open(env, app, pool, now)
        };
        self.settle(outcome, pool, env.budget, now);
        outcome
    }

    /// Output is waiting to be sent: the protocol's, or TLS records (the handshake's, an
    /// alert, close_notify, or what was encrypted and not sent yet).
    #[inline(always)]
    fn unsent(&self) -> bool {
        !self.out.is_empty() || self.tls.as_ref().is_some_and(|t| t.has_output())
    }

    /// Input is waiting that the socket will not announce again: TLS records decrypted once
    /// the read buffer has room.
    #[inline(always)]
    fn has_buffered_input(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.has_input())
    }

    /// Bookkeeping after a drive: buffers back to the pool when idle, and the instants the
    /// timeouts count from. Inlined always (as `wake_at`): once per drive, and LLVM's own choice
    /// flipped with the size of `Protocol`'s dispatch (see `proto::proxy::BehindProxy`).
    #[inline(always)]
    fn settle(&mut self, outcome: Drive, pool: &mut BufPool, budget: &Budget, now: Instant) {
        if outcome == Drive::Wait || outcome == Drive::Lingering {
            // An idle connection keeps no buffers: 10k idle connections cost little.
            pool.reclaim(&mut self.rbuf);
            pool.reclaim(self.out.buffer());
            if let Some(tls) = &mut self.tls {
                tls.settle(pool, budget, self.rbuf.capacity());
            }
        }
        if self.proto.phase(self.rbuf.len()) == Phase::Head {
            self.head_started.get_or_insert(now);
        } else {
            self.head_started = None;
        }
        if self.unsent() {
            self.send_since.get_or_insert(now);
        } else {
            self.send_since = None;
        }
    }

    /// When this connection's timeout in its current state fires (a deferred response's moment
    /// is [`Connection::wake_at`]). While `draining`, an idle connection gets only a short grace
    /// before it is closed.
    pub fn deadline(&self, t: &Timeouts, draining: bool) -> Instant {
        if let Some(since) = self.linger_since {
            return since + LINGER_TIMEOUT;
        }
        if let Some(since) = self.send_since {
            return since + t.send;
        }
        let idle = |timeout| {
            if draining {
                DRAIN_IDLE_GRACE.min(timeout)
            } else {
                timeout
            }
        };
        match self.proto.phase(self.rbuf.len()) {
            Phase::Idle { served: false } => self.accepted_at + idle(t.header),
            Phase::Idle { served: true } => self.last_read.max(self.last_write) + idle(t.keepalive),
            Phase::Head => self.head_started.unwrap_or(self.last_read) + t.header,
            Phase::Body => self.last_read + t.body,
            Phase::Stream => self.last_read.max(self.last_write) + idle(t.idle),
            // A response due later: counted from its moment, so a long delay is not a timeout.
            Phase::Waiting => {
                let due = self.proto.wake_at().unwrap_or(self.last_read);
                due.max(self.last_read) + t.send.max(t.body)
            }
        }
    }

    /// When the protocol wants to be driven again at a moment in time (a deferred response),
    /// kept apart from the timeouts: the worker wakes it to the millisecond.
    #[inline(always)]
    pub fn wake_at(&self) -> Option<Instant> {
        self.proto.wake_at()
    }

    /// Which timeout fires if the deadline has passed; `None` for a deferred response coming
    /// due, which is no timeout.
    pub fn timeout_kind(&self, now: Instant) -> Option<TimeoutKind> {
        if self.proto.wake_at().is_some_and(|at| at <= now) {
            return None;
        }
        if self.is_lingering() {
            return Some(TimeoutKind::Linger);
        }
        if self.unsent() {
            return Some(TimeoutKind::Send);
        }
        Some(match self.proto.phase(self.rbuf.len()) {
            Phase::Idle { served: false } | Phase::Head => TimeoutKind::Header,
            Phase::Body | Phase::Waiting => TimeoutKind::Body,
            Phase::Idle { served: true } => TimeoutKind::Keepalive,
            Phase::Stream => TimeoutKind::Idle,
        })
    }

    /// The deadline passed. A deferred response that is due is written; a half-received head
    /// or body gets its 408; an idle connection is closed gracefully (FIN first, so a request
    /// racing the close is not met with an RST); anything else is closed.
    pub fn on_timeout(
        &mut self,
        env: &Env<'_>,
        app: &mut dyn Handler,
        pool: &mut BufPool,
        now: Instant,
    ) -> Drive {
        if self.proto.wake_at().is_some_and(|at| at <= now) {
            return self.drive(env, app, pool, now);
        }
        if self.is_lingering() || self.unsent() {
            return Drive::Close;
        }
        if let Some(tls) = self.tls.as_mut().filter(|t| t.is_handshaking()) {
            // No handshake in time: nothing can be said to a client that has no session.
            tls.timed_out(env.stats);
            return Drive::Close;
        }
        match self.proto.phase(self.rbuf.len()) {
            Phase::Head | Phase::Body => {
                pool.fill(self.out.buffer());
                // The 408 is logged like any response: with this connection's peer.
                self.proto.on_read_timeout(&mut self.out, env);
                self.closing = true;
                // Try the write now; if the socket is full, the send timeout bounds the rest.
                self.writable = true;
                self.drive(env, app, pool, now)
            }
            Phase::Idle { .. } | Phase::Stream => {
                // close_notify (TLS) and FIN first: a request racing this close is drained,
                // not met with an RST.
                let mut work = 0;
                // A WebSocket says why first (1001, going away), HTTP/2 with GOAWAY.
                pool.fill(self.out.buffer());
                if self.proto.on_idle_close(&mut self.out, env) && self.writable {
                    let _ = self.flush(env, pool, &mut work);
                }
                if self.queue_close_notify(env, pool, &mut work) && self.writable {
                    let _ = self.flush(env, pool, &mut work);
                }
                let outcome = self.begin_close(pool, false, now);
                self.settle(outcome, pool, env.budget, now);
                outcome
            }
            Phase::Waiting => Drive::Close,
        }
    }

    /// One round is read → process → write, in that order, so a request that arrives in one
    /// read is answered in the first round and the second only finds nothing left to do.
    #[inline(always)]
    fn drive_open(
        &mut self,
        ctx: &Env<'_>,
        app: &mut dyn Handler,
        pool: &mut BufPool,
        now: Instant,
    ) -> Drive {
        let mut work = 0;
        let outcome = self.drive_rounds(ctx, app, pool, now, &mut work);
        ctx.work.set(ctx.work.get() + work);
        outcome
    }

    /// The rounds of [`Connection::drive_open`], adding what they cost to `work`.
    #[inline(always)]
    fn drive_rounds(
        &mut self,
        ctx: &Env<'_>,
        app: &mut dyn Handler,
        pool: &mut BufPool,
        now: Instant,
        work: &mut u64,
    ) -> Drive {
        for _ in 0..DRIVE_BUDGET {
            let mut progressed = false;
            let mut yielded = false;
            let ready = self.readable || self.has_buffered_input();
            let can_read = ready && !self.closing && !self.peer_eof;
            let has_room = !self.out.has_tail() && self.out.len() < ctx.high_water;
            if can_read && has_room {
                match self.fill(pool, ctx, work) {
                    Some(moved) => {
                        if moved {
                            self.last_read = now;
                        }
                        progressed |= moved;
                    }
                    None => return Drive::Close,
                }
            }
            // A protocol that stopped for anything but input (its output's mark, a moment, the
            // budget) is asked again without any: HTTP/2 has streams to send once the output
            // drains, with nothing to read.
            let has_work =
                !self.rbuf.is_empty() || !self.needs_input || self.proto.wake_at().is_some();
            if !self.closing && has_work && has_room {
                pool.fill(self.out.buffer());
                let before = (self.rbuf.len(), self.out.len());
                let next = self.proto.on_data(&mut self.rbuf, &mut self.out, ctx, app);
                if next == Next::Reset {
                    // Closed by the worker right after this: an RST, not a FIN.
                    if let Err(e) = net::reset_on_close(&self.fd) {
                        debug!("SO_LINGER for a reset: {e}");
                    }
                    return Drive::Close;
                }
                yielded = next == Next::Yield;
                self.needs_input = next == Next::NeedInput;
                self.waiting = matches!(next, Next::Waiting | Next::Memory);
                self.closing |= next == Next::Close;
                progressed |= before != (self.rbuf.len(), self.out.len()) || self.closing;
            }
            if self.writable && self.unsent() {
                match self.flush(ctx, pool, work) {
                    Some(moved) => {
                        if moved {
                            self.last_write = now;
                            self.send_since = Some(now);
                        }
                        progressed |= moved;
                    }
                    None => return Drive::Close,
                }
            }
            if self.closing && !self.unsent() {
                if self.queue_close_notify(ctx, pool, work) {
                    continue; // the next round sends it
                }
                return self.begin_close(pool, true, now);
            }
            if yielded || std::mem::take(&mut self.file_slice_sent) {
                return Drive::Again;
            }
            if *work >= DRIVE_WORK {
                // Its share of this turn is spent: the others go first.
                return Drive::Again;
            }
            // The peer is done sending and the protocol can make nothing more of what it sent.
            let nothing_left = (self.rbuf.is_empty() || self.needs_input) && !self.waiting;
            if self.peer_eof && !self.closing && nothing_left {
                self.closing = true;
                progressed = true;
            }
            if !progressed {
                return Drive::Wait;
            }
        }
        Drive::Again
    }

    /// Hands the buffers back to the pool and what the connection holds back to the budget,
    /// before it is dropped, so the next connection reuses the buffers instead of allocating
    /// and zeroing new ones.
    pub fn release(mut self, pool: &mut BufPool, budget: &Budget, stats: &WorkerStats, token: u64) {
        budget.cancel(token);
        self.proto.release(budget, stats);
        if let Some(tls) = &mut self.tls {
            tls.release(pool, budget, stats);
        }
        let unsent = self.out.discard();
        if unsent > 0 {
            budget.release(unsent, Use::Output);
        }
        self.rbuf.consume(self.rbuf.len());
        pool.reclaim(&mut self.rbuf);
        pool.reclaim(self.out.buffer());
    }

    fn begin_close(&mut self, pool: &mut BufPool, fast_if_clean: bool, now: Instant) -> Drive {
        let clean = !self.proto.needs_linger() && self.rbuf.is_empty() && !self.readable;
        if self.peer_eof || (fast_if_clean && clean) {
            return Drive::Close;
        }
        if net::shutdown_write(&self.fd).is_err() {
            return Drive::Close;
        }
        self.linger_since = Some(now);
        match self.drain_lingering(pool) {
            Drive::Wait => Drive::Lingering,
            other => other,
        }
    }

    fn is_lingering(&self) -> bool {
        self.linger_since.is_some()
    }

    fn drain_lingering(&mut self, pool: &mut BufPool) -> Drive {
        self.rbuf.consume(self.rbuf.len());
        pool.fill(&mut self.rbuf);
        for _ in 0..DRIVE_BUDGET {
            if !self.readable {
                return Drive::Wait;
            }
            match net::recv_some(self.fd.as_fd(), self.rbuf.spare_mut()) {
                IoOutcome::Done(_) => {}
                IoOutcome::WouldBlock => self.readable = false,
                IoOutcome::Eof | IoOutcome::Closed | IoOutcome::Failed(_) => return Drive::Close,
            }
        }
        Drive::Again
    }
}

/// What `/inspect` asks the kernel about a connection's socket (see [`Socket`]).
fn probe_socket(fd: RawFd) -> SocketFacts {
    SocketFacts {
        local: net::local_addr_of(fd).ok(),
        tcp: net::tcp_info(fd)
            .ok()
            .map(|(info, filled)| TcpFigures { info, filled }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection, idle or not, costs its slab entry: keep an eye on its size.
    #[test]
    fn a_connection_stays_small() {
        let size = std::mem::size_of::<Connection>();
        eprintln!("Connection is {size} bytes");
        assert!(size <= 288, "Connection grew to {size} bytes");
    }
}
