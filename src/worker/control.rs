//! What the worker does when its master (over the channel) or a signal speaks: drain, exit,
//! reopen the log, ask to be recycled. (A graceful stop's drain delay reaches `/healthz`
//! through shared memory instead: see `health.rs`.)

use std::os::fd::AsFd;
use std::time::Instant;

use tracing::{info, warn};

use super::{Exit, Worker};
use crate::channel;
use crate::signals;

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
        if inbox.has(channel::REOPEN_LOG) {
            crate::logging::reopen();
            if let Some(log) = &self.site.access_log {
                log.borrow_mut().reopen();
            }
        }
        let drain = inbox.has(channel::DRAIN);
        for fd in inbox.fds {
            self.adopt(fd);
        }
        if drain {
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
        self.close_listeners(now);
        // Deadlines are shorter now: re-arm every connection.
        for token in self.conns.tokens() {
            self.arm(token);
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
