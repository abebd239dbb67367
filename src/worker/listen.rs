//! The listener side of the worker: accept under a budget, pause at the connection cap or on
//! descriptor exhaustion, resume (with hysteresis at the cap). The same for the sockets adopted
//! from an upgrade, and, with its own small cap, for the metrics port.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Instant;

use tracing::{debug, warn};

use super::accept::AcceptStop;
use super::slab::Slab;
use super::{AcceptPause, TlsSite, Worker, ADOPTED, LISTENER, METRICS, TLS_LISTENER};
use crate::config::{self, ProtocolKind, ProxyOptions};
use crate::conn::Connection;
use crate::memory::{Budget, Use};
use crate::proto::Protocol;
use crate::stats::{ProxyOutcome, TlsOutcome, WorkerStats};
use crate::sys::epoll::Interest;
use crate::transport::tls::{self, TlsStream};

/// Where a connection is accepted from: the worker's own socket, or the i-th socket adopted
/// from an upgrade that passed more sockets than workers (polled by every worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Own,
    /// The worker's own `--tls-port` socket.
    OwnTls,
    Adopted(usize),
}

/// The token of the i-th adopted socket.
pub(super) fn adopted_token(i: usize) -> u64 {
    ADOPTED - i as u64
}

/// The adopted socket a token names, if it names one.
pub(super) fn adopted_index(token: u64, count: usize) -> Option<usize> {
    let i = ADOPTED.checked_sub(token)?;
    (i < count as u64).then_some(i as usize)
}

impl Worker<'_> {
    /// Accepts until every queue is empty (or descriptors run out), past the budget and the
    /// cap: for a drain, which must leave nothing queued on a socket about to close.
    pub(super) fn accept_all(&mut self, now: Instant, driving: &mut Vec<u64>) {
        let sources = [Source::Own, Source::OwnTls]
            .into_iter()
            .chain((0..self.adopted.len()).map(Source::Adopted));
        for source in sources.collect::<Vec<_>>() {
            loop {
                let before = self.conns.len();
                let stop = self.accept_with_budget(source, now, driving, config::ACCEPT_BUDGET);
                if stop != AcceptStop::Drained || self.conns.len() == before {
                    break;
                }
            }
        }
    }

    pub(super) fn accept(&mut self, source: Source, now: Instant, driving: &mut Vec<u64>) {
        let budget = config::ACCEPT_BUDGET.min(self.max_conns.saturating_sub(self.conns.len()));
        let stop = self.accept_with_budget(source, now, driving, budget);
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

    /// Accepts from the metrics port; its connections are served only `/metrics` and `/status`.
    /// They have a cap of their own (`METRICS_MAX_CONNS`, kept out of `--max-conns`'s
    /// descriptors, so an operator gets through a full worker and scrapers cannot eat the main
    /// port's share), and the same pause as the main listener at the cap or out of descriptors.
    pub(super) fn accept_metrics(&mut self, now: Instant, driving: &mut Vec<u64>) {
        let Some(listener) = &self.metrics_listener else {
            return;
        };
        let room = config::METRICS_MAX_CONNS.saturating_sub(self.metrics_conns);
        let conns = &mut self.conns;
        let stats = self.stats;
        let read_now = !self.defer_accept.is_zero();
        let mut accepted = 0;
        let stop = self
            .acceptor
            .accept_batch(listener, room.min(16), now, stats, |fd, peer| {
                // HTTP whatever the main protocol is: an echo server's metrics are HTTP too.
                let proto = Protocol::new(ProtocolKind::Http);
                let mut conn = Connection::new(fd, peer, proto, now);
                conn.metrics_only = true;
                admit(conns, conn, read_now, stats, driving);
                accepted += 1;
            });
        self.metrics_conns += accepted;
        if stop == AcceptStop::Exhausted {
            self.pause_metrics(AcceptPause::Exhausted {
                until: now + config::ACCEPT_PAUSE,
            });
        } else if self.metrics_conns >= config::METRICS_MAX_CONNS {
            self.pause_metrics(AcceptPause::AtCap);
        }
    }

    fn accept_with_budget(
        &mut self,
        source: Source,
        now: Instant,
        driving: &mut Vec<u64>,
        count: usize,
    ) -> AcceptStop {
        let main_tls = self.tls.as_ref().is_some_and(|t| t.on_main_port);
        let (listener, speaks_tls) = match source {
            Source::Own => (self.listener.as_ref(), main_tls),
            Source::OwnTls => (self.tls_listener.as_ref(), true),
            Source::Adopted(i) => (
                self.adopted.get(i),
                self.adopted_tls.get(i).copied().unwrap_or(false),
            ),
        };
        let Some(listener) = listener else {
            return AcceptStop::Drained;
        };
        let tls = self.tls.as_ref().filter(|_| speaks_tls);
        let (protocol, echo) = (self.protocol, self.echo);
        let proxy = self.proxy.as_ref();
        let conns = &mut self.conns;
        let stats = self.stats;
        let budget = &self.site.budget;
        let headroom = tls::BUFFERS_CHARGED * self.pool.buffer_size() as u64;
        let read_now = !self.defer_accept.is_zero();
        self.acceptor
            .accept_batch(listener, count, now, stats, |fd, peer| {
                let mut proto = Protocol::accepted(protocol, &echo, now);
                if let Some(proxy) = proxy {
                    if !is_trusted(proxy, peer) {
                        // Closed unread: only a trusted proxy may say who the client is.
                        debug!(?peer, "connection from outside --trusted-proxies; closing");
                        stats.on_proxy(ProxyOutcome::Refused);
                        drop(fd);
                        return;
                    }
                    if tls.is_none() {
                        proto = Protocol::behind_proxy(proxy.accept, proto);
                    }
                }
                let mut conn = Connection::new(fd, peer, proto, now);
                if let Some(tls) = tls {
                    // Over TLS the header comes before the handshake: the session reads it.
                    let preamble = proxy.map(|p| p.accept);
                    let Some(stream) = start_tls(tls, preamble, budget, headroom, stats) else {
                        return; // refused: closed unread
                    };
                    conn.set_tls(stream);
                }
                admit(conns, conn, read_now, stats, driving);
            })
    }

    /// Every listening socket this worker polls, with its token and interest.
    fn polled(&self) -> impl Iterator<Item = (&OwnedFd, u64, Interest)> {
        let own = self
            .listener
            .iter()
            .map(|fd| (fd, LISTENER, self.listen_interest))
            .chain(
                self.tls_listener
                    .iter()
                    .map(|fd| (fd, TLS_LISTENER, self.listen_interest)),
            );
        let adopted = self
            .adopted
            .iter()
            .enumerate()
            .map(|(i, fd)| (fd, adopted_token(i), Interest::EXCLUSIVE_READABLE));
        own.chain(adopted)
    }

    pub(super) fn pause_accepting(&mut self, why: AcceptPause) {
        if self.paused.is_none() {
            // Level-triggered: leaving them registered would spin on the same pending
            // connection.
            for (fd, _, _) in self.polled() {
                if let Err(e) = self.poller.delete(fd) {
                    warn!(error = %e, "could not pause accepting");
                }
            }
        }
        self.paused = Some(why);
    }

    pub(super) fn resume_accepting(&mut self) {
        if self.paused.take().is_none() {
            return;
        }
        for (fd, token, interest) in self.polled() {
            if let Err(e) = self.poller.add(fd, token, interest) {
                warn!(error = %e, "could not resume accepting");
            }
        }
        debug!(connections = self.conns.len(), "accepting again");
    }

    fn pause_metrics(&mut self, why: AcceptPause) {
        let Some(listener) = &self.metrics_listener else {
            return;
        };
        if self.metrics_paused.is_none() {
            if let Err(e) = self.poller.delete(listener) {
                warn!(error = %e, "could not pause the metrics port");
                return;
            }
        }
        self.metrics_paused = Some(why);
    }

    pub(super) fn resume_metrics(&mut self) {
        let Some(listener) = &self.metrics_listener else {
            return;
        };
        if self.metrics_paused.take().is_none() {
            return;
        }
        if let Err(e) = self
            .poller
            .add(listener, METRICS, Interest::EXCLUSIVE_READABLE)
        {
            warn!(error = %e, "could not resume the metrics port");
        }
    }

    /// A connection closed: resume whichever listener it makes room for.
    pub(super) fn on_conn_closed(&mut self, metrics_only: bool) {
        if metrics_only {
            self.metrics_conns -= 1;
        }
        let resume_main = match self.paused {
            Some(AcceptPause::Exhausted { .. }) => true,
            Some(AcceptPause::AtCap) => {
                self.conns.len() * 100 < self.max_conns * config::RESUME_ACCEPT_PERCENT
            }
            None => false,
        };
        if resume_main {
            self.resume_accepting();
        }
        let resume_metrics = match self.metrics_paused {
            Some(AcceptPause::Exhausted { .. }) => true,
            Some(AcceptPause::AtCap) => self.metrics_conns < config::METRICS_MAX_CONNS,
            None => false,
        };
        if resume_metrics {
            self.resume_metrics();
        }
    }

    /// Pauses that end at an instant (out of descriptors) end now if it has come.
    pub(super) fn resume_due(&mut self, now: Instant) {
        if let Some(AcceptPause::Exhausted { until }) = self.paused {
            if until <= now {
                self.resume_accepting();
            }
        }
        if let Some(AcceptPause::Exhausted { until }) = self.metrics_paused {
            if until <= now {
                self.resume_metrics();
            }
        }
    }

    /// A socket handed over by the master (a slot removed by SIGTTOU): polled from now on like
    /// the adopted sockets of an upgrade. A draining worker has no use for it.
    pub(super) fn adopt(&mut self, fd: OwnedFd) {
        if self.site.draining {
            return;
        }
        let token = adopted_token(self.adopted.len());
        if self.paused.is_none() {
            if let Err(e) = self.poller.add(&fd, token, Interest::EXCLUSIVE_READABLE) {
                return warn!(error = %e, "could not poll an adopted socket");
            }
        }
        self.adopted_tls.push(speaks_tls(self.tls.as_ref(), &fd));
        self.adopted.push(fd);
        debug!(adopted = self.adopted.len(), "adopted a listening socket");
    }

    /// Takes everything already queued, then lets go of the listeners: this worker may hold a
    /// socket's last reference, and closing it would reset what waits in its queue.
    pub(super) fn close_listeners(&mut self, now: Instant) {
        let mut driving = Vec::new();
        self.accept_all(now, &mut driving);
        for token in driving {
            self.drive(token, now);
        }
        if self.paused.is_none() {
            for (fd, _, _) in self.polled() {
                let _ = self.poller.delete(fd);
            }
        }
        self.listener = None;
        self.tls_listener = None;
        self.adopted.clear();
        self.adopted_tls.clear();
        self.paused = None;
    }
}

/// Whether a listening socket speaks TLS: every one does when the main port does; else those
/// on `--tls-port`.
pub(super) fn speaks_tls(tls: Option<&TlsSite>, fd: &OwnedFd) -> bool {
    let Some(tls) = tls else {
        return false;
    };
    tls.on_main_port
        || tls.port.is_some_and(|port| {
            crate::sys::net::local_addr(fd).is_ok_and(|addr| addr.port() == port)
        })
}

/// A TLS session for a connection just accepted, behind a PROXY header if `preamble` says so,
/// with its charge taken from the budget; `None` (the connection is closed unread) when the
/// budget cannot take one more session with `headroom` to spare (one session's record
/// buffers, so the sessions admitted always move): refusing a handshake is better than a
/// worker over its memory.
fn start_tls(
    tls: &TlsSite,
    preamble: Option<crate::proto::proxy::Accept>,
    budget: &Budget,
    headroom: u64,
    stats: &WorkerStats,
) -> Option<TlsStream> {
    if !budget.try_reserve(tls::HANDSHAKE_CHARGE, headroom, Use::Tls) {
        stats.on_tls(TlsOutcome::NoMemory, None);
        return None;
    }
    match TlsStream::new(tls.config.clone(), preamble) {
        Ok(stream) => Some(stream),
        Err(e) => {
            budget.release(tls::HANDSHAKE_CHARGE, Use::Tls);
            warn!(error = %e, "could not start a TLS session");
            None
        }
    }
}

/// Whether a connection from `peer` may send a PROXY header (a peer the kernel did not name,
/// which does not happen on TCP, is not trusted).
fn is_trusted(proxy: &ProxyOptions, peer: Option<SocketAddr>) -> bool {
    peer.is_some_and(|p| proxy.trusted.contains(p.ip()))
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
