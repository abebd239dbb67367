//! The master ↔ worker channel: one socketpair per worker, one byte per message.
//!
//! Signals reach a process, not a conversation; the channel lets the master drive one worker
//! (drain this one, not its replacement) and lets a worker speak up (ready, recycle me). EOF on
//! either side means the other process is gone.

use std::os::fd::BorrowedFd;

use crate::sys::net::{self, IoOutcome};

/// Master → worker: stop accepting, finish what is in flight, exit.
pub const DRAIN: u8 = b'Q';
/// Master → worker: drain, and this socket is being closed for good (one worker fewer): keep
/// accepting until the connections the kernel still defers on it (TCP_DEFER_ACCEPT) are handed
/// over, because closing the last reference would reset them.
pub const RELEASE: u8 = b'D';
/// Master → worker: exit now.
pub const EXIT: u8 = b'X';
/// Master → worker: answer `/healthz` with 503 (a graceful stop's drain delay).
pub const UNHEALTHY: u8 = b'H';
/// Master → worker: reopen the log file.
pub const REOPEN_LOG: u8 = b'L';
/// Worker → master: polling the listener.
pub const READY: u8 = b'R';
/// Worker → master: served its `--max-requests`; replace me, then drain me.
pub const RECYCLE: u8 = b'M';

/// What one read of a channel found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Inbox {
    /// A bit per message byte seen (by its value modulo 64), in any order.
    seen: u64,
    /// The other side closed its end.
    pub closed: bool,
}

impl Inbox {
    pub fn has(&self, message: u8) -> bool {
        self.seen & (1 << (message % 64)) != 0
    }
}

/// Reads everything pending on a nonblocking channel.
pub fn receive(fd: BorrowedFd<'_>) -> Inbox {
    let mut inbox = Inbox::default();
    let mut buf = [0u8; 64];
    loop {
        match net::read_some(fd, &mut buf) {
            IoOutcome::Done(n) => {
                for &b in &buf[..n] {
                    inbox.seen |= 1 << (b % 64);
                }
            }
            IoOutcome::WouldBlock => return inbox,
            IoOutcome::Eof | IoOutcome::Closed | IoOutcome::Failed(_) => {
                inbox.closed = true;
                return inbox;
            }
        }
    }
}

/// Sends one message; false if the other side is gone (or, never in practice, the tiny
/// socket buffer is full).
pub fn send(fd: BorrowedFd<'_>, message: u8) -> bool {
    net::write_some(fd, &[message]) == IoOutcome::Done(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn messages_round_trip_and_eof_is_seen() {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        assert!(send(a.as_fd(), READY));
        assert!(send(a.as_fd(), RECYCLE));
        let inbox = receive(b.as_fd());
        assert!(inbox.has(READY) && inbox.has(RECYCLE) && !inbox.has(DRAIN));
        assert!(!inbox.closed);
        drop(a);
        assert!(receive(b.as_fd()).closed);
    }
}
