//! A thin epoll wrapper in mio's shape: `Poller`, `Interest`, `Events`, `Event`.
//!
//! Tokens are plain `u64`s; the worker packs a slab index and generation into them. Edge-triggered
//! registrations must be drained until `WouldBlock`: no new edge comes for data already waiting.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

/// What a registration waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest(EpollFlags);

impl Interest {
    /// Level-triggered readability: listeners, pipes and channels.
    pub const READABLE: Interest = Interest(EpollFlags::EPOLLIN);
    /// A listener shared with other workers: only one of them is woken per connection.
    pub const EXCLUSIVE_READABLE: Interest =
        Interest(EpollFlags::EPOLLIN.union(EpollFlags::EPOLLEXCLUSIVE));
    /// A connection: registered once, edge-triggered, for both directions and the peer's FIN.
    pub const CONNECTION: Interest = Interest(
        EpollFlags::EPOLLIN
            .union(EpollFlags::EPOLLOUT)
            .union(EpollFlags::EPOLLRDHUP)
            .union(EpollFlags::EPOLLET),
    );
}

/// One readiness report.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub token: u64,
    flags: EpollFlags,
}

impl Event {
    /// Data (or EOF) to read. Errors and hang-ups count too, so the read reports the real errno.
    pub fn is_readable(&self) -> bool {
        self.flags.intersects(
            EpollFlags::EPOLLIN
                | EpollFlags::EPOLLRDHUP
                | EpollFlags::EPOLLERR
                | EpollFlags::EPOLLHUP,
        )
    }

    /// Room to write. Errors and hang-ups count too, so the write reports the real errno.
    pub fn is_writable(&self) -> bool {
        self.flags
            .intersects(EpollFlags::EPOLLOUT | EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP)
    }

    /// The peer shut down its write side (or the connection is gone): read on until 0.
    pub fn is_read_closed(&self) -> bool {
        self.flags
            .intersects(EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR)
    }
}

/// A reusable buffer for `epoll_wait` results.
pub struct Events {
    buf: Vec<EpollEvent>,
    len: usize,
}

impl Events {
    pub fn with_capacity(n: usize) -> Events {
        Events {
            buf: vec![EpollEvent::empty(); n.max(1)],
            len: 0,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.buf[..self.len].iter().map(|e| Event {
            token: e.data(),
            flags: e.events(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Owns one epoll instance (closed on drop).
pub struct Poller {
    epoll: Epoll,
}

impl std::os::fd::AsRawFd for Poller {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.epoll.0.as_raw_fd()
    }
}

impl Poller {
    /// Creates the epoll instance, close-on-exec.
    pub fn new() -> io::Result<Poller> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        Ok(Poller { epoll })
    }

    pub fn add(&self, fd: impl AsFd, token: u64, interest: Interest) -> io::Result<()> {
        Ok(self.epoll.add(fd, EpollEvent::new(interest.0, token))?)
    }

    pub fn delete(&self, fd: impl AsFd) -> io::Result<()> {
        Ok(self.epoll.delete(fd)?)
    }

    /// Waits for events, at most `timeout` (`None`: until one comes).
    ///
    /// An interrupted wait (EINTR, a signal arrived) returns with no events rather than an error:
    /// the caller's loop checks its signal flags on every turn anyway.
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = match timeout {
            None => EpollTimeout::NONE,
            // Round up, so a deadline 0.3 ms away does not become a busy zero timeout.
            Some(d) => {
                let ms = d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::MAX)
            }
        };
        match self.epoll.wait(&mut events.buf, timeout) {
            Ok(n) => {
                events.len = n;
                Ok(())
            }
            Err(Errno::EINTR) => {
                events.len = 0;
                Ok(())
            }
            Err(e) => {
                events.len = 0;
                Err(e.into())
            }
        }
    }
}
