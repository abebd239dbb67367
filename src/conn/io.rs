//! A connection's two syscall paths: reading into its buffer, and writing its output (bytes,
//! and file ranges with `sendfile`), each sorting the outcome at the boundary. Over TLS both
//! go through the connection's `TlsStream`, whose outcomes are sorted here the same way.

use std::os::fd::AsFd;

use tracing::{debug, warn};

use super::{Connection, FILE_SLICE, SYSCALL_WORK};
use crate::buffer::BufPool;
use crate::memory::Use;
use crate::output::Write;
use crate::proto::Env;
use crate::stats::WorkerStats;
use crate::sys::file;
use crate::sys::net::{self, IoOutcome};

impl Connection {
    /// Reads once into the read buffer. `Some(true)` if bytes or EOF arrived, `None` to close.
    /// Inlined always, as `flush`: once per round of every drive (LLVM stopped inlining both
    /// when the TLS branches came; measured with callgrind: +36 instructions a request).
    #[inline(always)]
    pub(super) fn fill(
        &mut self,
        pool: &mut BufPool,
        env: &Env<'_>,
        work: &mut u64,
    ) -> Option<bool> {
        if self.tls.is_some() {
            return self.fill_tls(pool, env, work);
        }
        let stats = env.stats;
        pool.fill(&mut self.rbuf);
        let spare = self.rbuf.spare_mut();
        let room = spare.len();
        if room == 0 {
            // Full: the protocol must consume first. Readiness stays remembered.
            return Some(false);
        }
        *work += SYSCALL_WORK;
        match net::recv_some(self.fd.as_fd(), spare) {
            IoOutcome::Done(n) => {
                *work += n as u64;
                self.rbuf.commit(n);
                WorkerStats::add(&stats.bytes_in, n as u64);
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

    /// Writes until the output is empty, the socket is full, or one slice of a file has gone
    /// out (so one download cannot hold the loop). `Some(true)` if bytes moved, `None` to
    /// close. A response head and the large body behind it leave in one `sendmsg`; the head of
    /// a file answer goes with MSG_MORE, so the kernel sends it with the file's first bytes.
    #[inline(always)]
    pub(super) fn flush(
        &mut self,
        ctx: &Env<'_>,
        pool: &mut BufPool,
        work: &mut u64,
    ) -> Option<bool> {
        if self.nodelay_pending && !self.closing {
            // Only a connection that stays open needs Nagle off (its next response must not wait
            // for an ACK); a one-response connection saves the syscall.
            self.nodelay_pending = false;
            if let Err(e) = net::set_nodelay(&self.fd) {
                debug!(error = %e, "could not set TCP_NODELAY");
            }
        }
        if self.tls.is_some() {
            return self.flush_tls(ctx, pool, work);
        }
        let mut moved = false;
        loop {
            let (outcome, offered, from_file) = match self.out.next_write() {
                Write::Nothing => break,
                Write::Bytes {
                    first,
                    second: [],
                    more,
                } => {
                    let sent = if more {
                        file::send_more(self.fd.as_fd(), first)
                    } else {
                        net::send_some(self.fd.as_fd(), first)
                    };
                    (sent, first.len(), false)
                }
                Write::Bytes {
                    first: [], second, ..
                } => (net::send_some(self.fd.as_fd(), second), second.len(), false),
                Write::Bytes { first, second, .. } => (
                    net::send_vectored(self.fd.as_fd(), &[first, second]),
                    first.len() + second.len(),
                    false,
                ),
                Write::File { fd, offset, len } => {
                    let count = usize::try_from(len.min(FILE_SLICE)).unwrap_or(usize::MAX);
                    let mut at = offset;
                    (
                        file::send_file(self.fd.as_fd(), fd, &mut at, count),
                        count,
                        true,
                    )
                }
            };
            *work += SYSCALL_WORK;
            match outcome {
                IoOutcome::Done(n) => {
                    *work += n as u64;
                    let freed = self.out.advance(n);
                    if freed > 0 {
                        ctx.budget.release(freed, Use::Output);
                    }
                    WorkerStats::add(&ctx.stats.bytes_out, n as u64);
                    moved = true;
                    if n < offered {
                        self.writable = false;
                        break;
                    }
                    if from_file && matches!(self.out.next_write(), Write::File { .. }) {
                        // A slice is out and more of the file is to follow: other connections
                        // go next; the worker drives this one again next turn (`Drive::Again`).
                        self.file_slice_sent = true;
                        break;
                    }
                }
                IoOutcome::WouldBlock => {
                    self.writable = false;
                    break;
                }
                IoOutcome::Eof if from_file => {
                    warn!("a file shrank while it was being sent; closing the connection");
                    return None;
                }
                IoOutcome::Eof => {
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
}
