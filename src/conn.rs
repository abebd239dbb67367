//! One connection: its socket, buffers, remembered readiness and protocol state.
//!
//! Registered once, edge-triggered, for both directions: readiness is remembered here and
//! cleared only by a short read/write or `EAGAIN`, so anything stopped early (backpressure, the
//! budget) is resumed by the loop, not by a new edge that would never come.

use std::os::fd::{AsFd, OwnedFd};

use tracing::{debug, warn};

use crate::buffer::{Buf, BufPool};
use crate::proto::{Context, Next, Protocol};
use crate::sys::net::{self, IoOutcome};

/// Rounds of read → process → write one `drive` call may do before yielding to other
/// connections (sozu's MAX_LOOP_ITERATIONS); a connection that still has work is re-queued.
const DRIVE_BUDGET: usize = 16;

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
    wbuf: Buf,
    proto: Protocol,
    readable: bool,
    writable: bool,
    /// EPOLLRDHUP (or HUP/ERR) arrived: keep reading past a short read until the 0.
    read_closed: bool,
    /// The peer finished sending (read returned 0).
    peer_eof: bool,
    /// The protocol asked to close once the output is flushed.
    closing: bool,
    /// Our FIN is sent; we only drain what the peer still sends.
    lingering: bool,
    /// The last `on_data` consumed every whole frame and needs more input to go on.
    needs_input: bool,
}

impl Connection {
    pub fn new(fd: OwnedFd, proto: Protocol) -> Connection {
        Connection {
            fd,
            rbuf: Buf::new(),
            wbuf: Buf::new(),
            proto,
            readable: false,
            writable: false,
            read_closed: false,
            peer_eof: false,
            closing: false,
            lingering: false,
            needs_input: true,
        }
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Records readiness from one epoll event.
    pub fn on_event(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.readable |= readable;
        self.writable |= writable;
        self.read_closed |= read_closed;
    }

    /// Reads, lets the protocol work, and writes, until nothing more can be done now.
    pub fn drive(&mut self, ctx: &Context<'_>, pool: &mut BufPool) -> Drive {
        let outcome = if self.lingering {
            self.drain_lingering(pool)
        } else {
            self.drive_open(ctx, pool)
        };
        if outcome == Drive::Wait || outcome == Drive::Lingering {
            // An idle connection keeps no buffers: 10k idle connections cost little.
            pool.reclaim(&mut self.rbuf);
            pool.reclaim(&mut self.wbuf);
        }
        outcome
    }

    fn drive_open(&mut self, ctx: &Context<'_>, pool: &mut BufPool) -> Drive {
        for _ in 0..DRIVE_BUDGET {
            let mut progressed = false;
            if !self.closing && !self.rbuf.is_empty() && self.wbuf.len() < ctx.high_water {
                pool.fill(&mut self.wbuf);
                let before = (self.rbuf.len(), self.wbuf.len());
                let next = self.proto.on_data(&mut self.rbuf, &mut self.wbuf, ctx);
                self.needs_input = next == Next::NeedInput;
                self.closing |= next == Next::Close;
                progressed |= before != (self.rbuf.len(), self.wbuf.len()) || self.closing;
            }
            if self.writable && !self.wbuf.is_empty() {
                match self.flush() {
                    Some(moved) => progressed |= moved,
                    None => return Drive::Close,
                }
            }
            if self.closing && self.wbuf.is_empty() {
                return self.begin_close(pool);
            }
            let can_read = self.readable && !self.closing && !self.peer_eof;
            if can_read && self.wbuf.len() < ctx.high_water {
                match self.fill(pool) {
                    Some(moved) => progressed |= moved,
                    None => return Drive::Close,
                }
            }
            // The peer is done sending and the protocol can make nothing more of what it sent.
            if self.peer_eof && !self.closing && (self.rbuf.is_empty() || self.needs_input) {
                self.closing = true;
                progressed = true;
            }
            if !progressed {
                return Drive::Wait;
            }
        }
        Drive::Again
    }

    /// Reads once into the read buffer. `Some(true)` if bytes or EOF arrived, `None` to close.
    fn fill(&mut self, pool: &mut BufPool) -> Option<bool> {
        pool.fill(&mut self.rbuf);
        let spare = self.rbuf.spare_mut();
        let room = spare.len();
        if room == 0 {
            // Full: the protocol must consume first. Readiness stays remembered.
            return Some(false);
        }
        match net::read_some(self.fd.as_fd(), spare) {
            IoOutcome::Done(n) => {
                self.rbuf.commit(n);
                self.needs_input = false;
                // A short read drained the socket, unless a FIN is pending: then read on to the 0.
                if n < room && !self.read_closed {
                    self.readable = false;
                }
                Some(true)
            }
            IoOutcome::Eof => {
                self.readable = false;
                self.peer_eof = true;
                Some(true)
            }
            IoOutcome::WouldBlock => {
                self.readable = false;
                Some(false)
            }
            IoOutcome::Closed => {
                debug!("connection reset by peer while reading");
                None
            }
            IoOutcome::Failed(errno) => {
                warn!(%errno, "read failed; closing the connection");
                None
            }
        }
    }

    /// Writes until the output is empty or the socket is full. `Some(true)` if bytes moved.
    fn flush(&mut self) -> Option<bool> {
        let mut moved = false;
        while !self.wbuf.is_empty() {
            let pending = self.wbuf.len();
            match net::write_some(self.fd.as_fd(), self.wbuf.filled()) {
                IoOutcome::Done(n) => {
                    self.wbuf.consume(n);
                    moved = true;
                    if n < pending {
                        self.writable = false;
                        break;
                    }
                }
                IoOutcome::WouldBlock | IoOutcome::Eof => {
                    self.writable = false;
                    break;
                }
                IoOutcome::Closed => {
                    debug!("connection reset by peer while writing");
                    return None;
                }
                IoOutcome::Failed(errno) => {
                    warn!(%errno, "write failed; closing the connection");
                    return None;
                }
            }
        }
        Some(moved)
    }

    /// The output is flushed and the protocol is done. If the peer may still be sending, send
    /// our FIN and drain its bytes for a while, so that closing with unread data (which makes
    /// the kernel send an RST) cannot destroy a response the client has not read yet.
    fn begin_close(&mut self, pool: &mut BufPool) -> Drive {
        if self.peer_eof {
            return Drive::Close;
        }
        if net::shutdown_write(&self.fd).is_err() {
            return Drive::Close;
        }
        self.lingering = true;
        match self.drain_lingering(pool) {
            Drive::Wait => Drive::Lingering,
            other => other,
        }
    }

    fn drain_lingering(&mut self, pool: &mut BufPool) -> Drive {
        self.rbuf.consume(self.rbuf.len());
        pool.fill(&mut self.rbuf);
        for _ in 0..DRIVE_BUDGET {
            if !self.readable {
                return Drive::Wait;
            }
            match net::read_some(self.fd.as_fd(), self.rbuf.spare_mut()) {
                IoOutcome::Done(_) => {}
                IoOutcome::WouldBlock => self.readable = false,
                IoOutcome::Eof | IoOutcome::Closed | IoOutcome::Failed(_) => return Drive::Close,
            }
        }
        Drive::Again
    }

    /// True once the final response is out and only the peer's leftovers are being drained.
    pub fn is_lingering(&self) -> bool {
        self.lingering
    }
}
