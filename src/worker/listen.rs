//! The listener side of the worker: accept under a budget, pause at the connection cap or on
//! descriptor exhaustion, resume (with hysteresis at the cap).

use std::time::Instant;

use tracing::{debug, warn};

use super::accept::AcceptStop;
use super::slab::Slab;
use super::{AcceptPause, Worker, LISTENER};
use crate::config::{self, ProtocolKind};
use crate::conn::Connection;
use crate::proto::Protocol;
use crate::stats::WorkerStats;
use crate::sys::net;

impl Worker<'_> {
    /// Accepts until the queue is empty (or descriptors run out), past the budget and the cap:
    /// for a drain, which must leave nothing queued on a socket about to close.
    pub(super) fn accept_all(&mut self, now: Instant, driving: &mut Vec<u64>) {
        loop {
            let before = self.conns.len();
            if self.accept_with_budget(now, driving, config::ACCEPT_BUDGET) != AcceptStop::Drained
                || self.conns.len() == before
            {
                return;
            }
        }
    }

    pub(super) fn accept(&mut self, now: Instant, driving: &mut Vec<u64>) {
        let budget = config::ACCEPT_BUDGET.min(self.max_conns.saturating_sub(self.conns.len()));
        let stop = self.accept_with_budget(now, driving, budget);
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

    /// Accepts a few connections from the metrics port; they are served only `/metrics` and
    /// `/status` (and not counted against `--max-conns`: an operator must get through).
    pub(super) fn accept_metrics(&mut self, now: Instant, driving: &mut Vec<u64>) {
        let Some(listener) = &self.metrics_listener else {
            return;
        };
        let conns = &mut self.conns;
        let stats = self.stats;
        let read_now = !self.defer_accept.is_zero();
        self.acceptor.accept_batch(listener, 16, now, stats, |fd| {
            // HTTP whatever the main protocol is: an echo server's metrics are HTTP too.
            let mut conn = Connection::new(fd, Protocol::new(ProtocolKind::Http), now);
            conn.metrics_only = true;
            admit(conns, conn, read_now, stats, driving);
        });
    }

    fn accept_with_budget(
        &mut self,
        now: Instant,
        driving: &mut Vec<u64>,
        budget: usize,
    ) -> AcceptStop {
        let Some(listener) = &self.listener else {
            return AcceptStop::Drained;
        };
        let protocol = self.protocol;
        let conns = &mut self.conns;
        let stats = self.stats;
        let want_peer = self.site.access_log.is_some();
        let read_now = !self.defer_accept.is_zero();
        self.acceptor
            .accept_batch(listener, budget, now, stats, |fd| {
                // One more syscall per connection, only when the access log needs the address.
                let peer = if want_peer { net::peer_addr(&fd) } else { None };
                let mut conn = Connection::new(fd, Protocol::new(protocol), now);
                conn.peer = peer;
                admit(conns, conn, read_now, stats, driving);
            })
    }

    pub(super) fn pause_accepting(&mut self, why: AcceptPause) {
        let Some(listener) = &self.listener else {
            return;
        };
        if self.paused.is_none() {
            // Level-triggered: leaving it registered would spin on the same pending connection.
            if let Err(e) = self.poller.delete(listener) {
                warn!(error = %e, "could not pause accepting");
                return;
            }
        }
        self.paused = Some(why);
    }

    pub(super) fn resume_accepting(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        if self.paused.is_none() {
            return;
        }
        match self.poller.add(listener, LISTENER, self.listen_interest) {
            Ok(()) => {
                self.paused = None;
                debug!(connections = self.conns.len(), "accepting again");
            }
            Err(e) => warn!(error = %e, "could not resume accepting"),
        }
    }
}

/// Takes a just-accepted connection in and queues its first drive.
///
/// With TCP_DEFER_ACCEPT (`read_now`) the request came with the connection: the drive serves it
/// at once, and the connection joins epoll only if it outlives that drive (see
/// `Worker::after_drive`), so a one-request connection never costs an epoll_ctl. Without it, the
/// drive does nothing and the connection is registered, as in nginx: a read before the request
/// arrives would be one more wasted syscall.
fn admit(
    conns: &mut Slab<Connection>,
    mut conn: Connection,
    read_now: bool,
    stats: &WorkerStats,
    driving: &mut Vec<u64>,
) {
    stats.on_accept();
    conn.on_event(read_now, true, false);
    conn.queued = true;
    driving.push(conns.insert(conn));
}
