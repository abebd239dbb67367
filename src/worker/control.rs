//! What the worker does when its master (over the channel) or a signal speaks: drain, exit,
//! turn unhealthy, reopen the log, ask to be recycled.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::{Exit, Worker};
use crate::channel;
use crate::signals;

/// How long past the deferral period a released socket is still accepted from: the handshake's
/// last ACK, or the first bytes, must still arrive and be accepted.
const RELEASE_MARGIN: Duration = Duration::from_millis(250);

impl Worker<'_> {
    /// SIGINT: exit now. SIGTERM, SIGQUIT: drain (a worker signalled directly, not by its master).
    pub(super) fn on_signals(&mut self, now: Instant) -> Option<Exit> {
        let got = self.signals.take();
        if got.contains(signals::SIGINT_NUM) {
            return Some(Exit::Now);
        }
        if got.contains_any(signals::STOP) {
            self.start_drain(now);
        }
        None
    }

    pub(super) fn on_channel(&mut self, now: Instant) -> Option<Exit> {
        let inbox = channel::receive(self.channel.as_fd());
        if inbox.closed {
            warn!("master is gone; exiting");
            return Some(Exit::Now);
        }
        if inbox.has(channel::EXIT) {
            return Some(Exit::Now);
        }
        if inbox.has(channel::UNHEALTHY) {
            self.site.healthy = false;
        }
        if inbox.has(channel::REOPEN_LOG) {
            crate::logging::reopen();
            if let Some(log) = &self.site.access_log {
                log.borrow_mut().reopen();
            }
        }
        if inbox.has(channel::RELEASE) && !self.site.draining {
            // The master has turned deferral off on the socket, so every connection still
            // deferred is handed over at its next SYN-ACK retransmission (or its first bytes),
            // within the deferral period.
            self.release_at = Some(now + self.defer_accept + RELEASE_MARGIN);
        }
        if inbox.has(channel::DRAIN) || inbox.has(channel::RELEASE) {
            self.start_drain(now);
        }
        None
    }

    /// Stops accepting (taking what is already queued first, so nothing queued is reset if this
    /// was the socket's last holder), ends keep-alive after each connection's current response,
    /// and gives idle connections a short grace before closing them.
    pub(super) fn start_drain(&mut self, now: Instant) {
        if self.site.draining {
            return;
        }
        self.site.draining = true;
        info!(connections = self.conns.len(), "draining");
        if let Some(metrics) = self.metrics_listener.take() {
            let _ = self.poller.delete(&metrics);
        }
        if self.release_at.is_none() {
            self.close_listeners(now);
        }
        // Deadlines are shorter now: re-arm every connection.
        for token in self.conns.tokens() {
            self.arm(token);
        }
    }

    /// Ends a release (see `channel::RELEASE`) once its grace is over.
    pub(super) fn maybe_finish_release(&mut self, now: Instant) {
        if self.release_at.is_some_and(|at| at <= now) {
            self.release_at = None;
            self.close_listeners(now);
        }
    }

    pub(super) fn maybe_ask_for_recycling(&mut self) {
        if let Some(limit) = self.recycle_after {
            if self.site.served.get() >= limit && !self.site.draining {
                info!(
                    served = self.site.served.get(),
                    "max requests reached; asking to be recycled"
                );
                channel::send(self.channel.as_fd(), channel::RECYCLE);
                self.recycle_after = None;
            }
        }
    }
}
