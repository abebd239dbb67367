//! Accepting: drain the listener up to a budget, sort the errnos, and pause on fd exhaustion
//! instead of spinning (nginx disables accept events and re-enables them from a timer).

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use tracing::{debug, warn};

use crate::stats::WorkerStats;
use crate::sys::net;

/// Why `accept4` gave nothing this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptStop {
    /// The queue is empty (EAGAIN), or the budget is spent.
    Drained,
    /// Out of descriptors or kernel memory: stop polling the listener for a while.
    Exhausted,
}

/// Per-worker accept state.
#[derive(Debug)]
pub(crate) struct Acceptor {
    last_warning: Option<Instant>,
}

/// At most one EMFILE/ENFILE warning per this interval, however fast connections arrive.
const WARN_INTERVAL: Duration = Duration::from_secs(1);

impl Acceptor {
    pub(crate) fn new() -> Acceptor {
        Acceptor { last_warning: None }
    }

    /// Accepts up to `budget` connections, handing each to `on_conn`.
    pub(crate) fn accept_batch(
        &mut self,
        listener: &OwnedFd,
        budget: usize,
        now: Instant,
        stats: &WorkerStats,
        mut on_conn: impl FnMut(OwnedFd, Option<SocketAddr>),
    ) -> AcceptStop {
        for _ in 0..budget {
            match net::accept(listener.as_fd()) {
                Ok((fd, peer)) => on_conn(fd, peer),
                Err(Errno::EAGAIN) => return AcceptStop::Drained,
                // The connection died in the queue, or a transient protocol error: skip it.
                Err(Errno::ECONNABORTED | Errno::EPROTO | Errno::EPERM) => {
                    debug!("accepted connection was already gone");
                }
                Err(e @ (Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)) => {
                    let kind = match e {
                        Errno::EMFILE => 0,
                        Errno::ENFILE => 1,
                        _ => 2,
                    };
                    WorkerStats::add(&stats.accept_errors[kind], 1);
                    self.warn_exhausted(e, now);
                    return AcceptStop::Exhausted;
                }
                Err(errno) => {
                    WorkerStats::add(&stats.accept_errors[2], 1);
                    warn!(%errno, "accept4 failed");
                    return AcceptStop::Drained;
                }
            }
        }
        AcceptStop::Drained
    }

    fn warn_exhausted(&mut self, errno: Errno, now: Instant) {
        if self
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= WARN_INTERVAL)
        {
            self.last_warning = Some(now);
            warn!(%errno, "out of file descriptors; pausing accept until one is freed");
        }
    }
}

impl Default for Acceptor {
    fn default() -> Self {
        Acceptor::new()
    }
}
