//! The master ↔ worker channel: one socketpair per worker, one byte per message.
//!
//! Signals reach a process, not a conversation; the channel lets the master drive one worker
//! (drain this one, not its replacement) and lets a worker speak up (ready, recycle me). EOF on
//! either side means the other process is gone.

use std::os::fd::BorrowedFd;

use crate::sys::net::{self, IoOutcome};

/// Master → worker: stop accepting, finish what is in flight, exit.
pub(crate) const DRAIN: u8 = b'Q';
/// Master → worker, with a listening socket attached (SCM_RIGHTS): poll this one too. A slot
/// removed by SIGTTOU leaves its socket to the others rather than closing it: the kernel keeps
/// spreading new connections over every socket of the port, and closing one resets what races
/// the close.
pub(crate) const ADOPT: u8 = b'A';
/// Master → worker: exit now.
pub(crate) const EXIT: u8 = b'X';
/// Master → worker: reopen the log file.
pub(crate) const REOPEN_LOG: u8 = b'L';
/// Worker → master: polling the listener.
pub(crate) const READY: u8 = b'R';
/// Worker → master: served its `--max-requests`; replace me, then drain me.
pub(crate) const RECYCLE: u8 = b'M';

/// What one read of a channel found.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    /// A bit per message byte seen (by its value modulo 64), in any order.
    seen: u64,
    /// The other side closed its end.
    pub closed: bool,
    /// Descriptors that came with the messages (`ADOPT`), in order.
    pub fds: Vec<std::os::fd::OwnedFd>,
}

impl Inbox {
    pub(crate) fn has(&self, message: u8) -> bool {
        self.seen & (1 << (message % 64)) != 0
    }
}

/// Reads everything pending on a nonblocking channel.
pub(crate) fn receive(fd: BorrowedFd<'_>) -> Inbox {
    let mut inbox = Inbox::default();
    let mut buf = [0u8; 64];
    loop {
        match net::recv_with_fds(fd, &mut buf, &mut inbox.fds) {
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
pub(crate) fn send(fd: BorrowedFd<'_>, message: u8) -> bool {
    net::write_some(fd, &[message]) == IoOutcome::Done(1)
}

/// Sends `ADOPT` with a copy of `listener`.
pub(crate) fn send_adopt(fd: BorrowedFd<'_>, listener: BorrowedFd<'_>) -> bool {
    net::send_with_fd(fd, ADOPT, listener)
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

    #[test]
    fn a_listener_travels_with_adopt() {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(send_adopt(a.as_fd(), listener.as_fd()));
        let inbox = receive(b.as_fd());
        assert!(inbox.has(ADOPT));
        assert_eq!(inbox.fds.len(), 1);
        drop(listener);
        // The received copy is the same listening socket.
        let copy = std::net::TcpListener::from(inbox.fds.into_iter().next().unwrap());
        assert_eq!(copy.local_addr().unwrap(), addr);
        let _client = std::net::TcpStream::connect(addr).unwrap();
        assert!(copy.accept().is_ok());
    }
}
