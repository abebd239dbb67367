//! `--proxy-protocol`: a connection from a trusted proxy starts with a PROXY protocol header
//! that names the real client; it is read before HTTP or echo begins, and the client it names
//! is then the connection's peer everywhere one is shown (access log, `/ip`, `origin`, logs).
//!
//! The worker refuses a connection from outside `--trusted-proxies` at accept, so only a
//! trusted peer ever gets here. A listener configured for the protocol takes nothing else
//! (the spec forbids guessing whether a header is there): bytes that are not a header, or no
//! header within `--header-timeout`, close the connection with no answer at all, since the peer
//! is a proxy speaking the wrong protocol, not a client to tell.
//!
//! Cost: connections without the option never see this module. A proxied connection's
//! protocol is wrapped in [`BehindProxy`] (boxed, so `Protocol` and `Connection` keep their
//! size), which parses the header, then hands every call to the wrapped protocol with the
//! context's peer set to [`Peer::Proxied`]. That is one copy of the context per drive, on
//! those connections only.

pub mod header;
mod v1;
pub mod v2;

use std::net::SocketAddr;
use std::time::Instant;

use tracing::debug;

pub use self::header::{parse, Accept, Addresses, Command, Header, Malformed, Version};
use super::{Env, Next, Phase, Protocol};
use crate::buffer::Buf;
use crate::http::Handler;
use crate::memory::Budget;
use crate::output::Output;
use crate::peer::{Endpoint, Peer, Proxied};
use crate::stats::ProxyOutcome;

/// What `header`, parsed from `bytes`, says about a connection whose socket peer is
/// `socket_peer`.
pub fn proxied(header: &Header, bytes: &[u8], socket_peer: Option<SocketAddr>) -> Proxied {
    let path = |r: &std::ops::Range<usize>| Endpoint::Unix(bytes[r.clone()].into());
    let (source, destination, client) = match &header.addresses {
        Addresses::Unspecified => (None, None, socket_peer),
        Addresses::Inet {
            source,
            destination,
        } => (
            Some(Endpoint::Inet(*source)),
            Some(Endpoint::Inet(*destination)),
            Some(*source),
        ),
        Addresses::Unix {
            source,
            destination,
        } => (Some(path(source)), Some(path(destination)), None),
    };
    Proxied {
        version: header.version,
        command: header.command,
        source,
        destination,
        tlvs: header.tlvs,
        socket_peer,
        client,
    }
}

/// A connection's protocol behind its PROXY header: first the header, then `inner` (never
/// itself behind a header: [`BehindProxy::new`] sees to that).
///
/// `phase`, `wake_at` and `needs_linger` look at `inner`'s variants themselves instead of
/// calling `Protocol`'s, and are never inlined: `Protocol`'s own run several times per request
/// on every connection, and must stay small enough to be inlined there. LLVM does not inline a
/// function that calls itself, and inlines less what holds a copy of these. Measured with
/// callgrind on keep-alive `GET /` without the option: +56 instructions per request with the
/// first, naive form, +45 (1.5 %) with this one and the attributes it goes with (`Protocol::
/// phase` and `wake_at`, `Connection::settle` and `wake_at`).
#[derive(Debug)]
pub struct BehindProxy {
    stage: Stage,
    inner: Protocol,
}

#[derive(Debug)]
enum Stage {
    /// No whole header yet; the versions this listener takes.
    Awaiting(Accept),
    Read(Proxied),
}

impl BehindProxy {
    /// `inner` behind a header of a version `accept` allows. A protocol already behind a
    /// header stays as it was: one header per connection.
    pub fn new(accept: Accept, inner: Protocol) -> BehindProxy {
        if let Protocol::BehindProxy(already) = inner {
            return *already;
        }
        BehindProxy {
            stage: Stage::Awaiting(accept),
            inner,
        }
    }

    /// Reads the header if it is not read yet, then lets the wrapped protocol work with the
    /// client as its peer; the first request is often in the same read as the header.
    pub fn on_data(
        &mut self,
        input: &mut Buf,
        output: &mut Output,
        ctx: &Env<'_>,
        app: &mut dyn Handler,
    ) -> Next {
        if let Stage::Awaiting(accept) = self.stage {
            match parse(input.filled(), accept) {
                Ok(None) => return Next::NeedInput,
                Ok(Some((header, consumed))) => {
                    let read = proxied(&header, input.filled(), ctx.peer.socket());
                    debug!(peer = ?read.socket_peer, client = ?read.client, "PROXY header read");
                    ctx.stats.on_proxy(ProxyOutcome::Accepted);
                    input.consume(consumed);
                    self.stage = Stage::Read(read);
                }
                Err(why) => {
                    debug!(peer = ?ctx.peer.socket(), %why, "not a valid PROXY header; closing");
                    ctx.stats.on_proxy(ProxyOutcome::Malformed);
                    // Nothing left unread in the buffer: the close is immediate, not a linger.
                    input.consume(input.len());
                    return Next::Close;
                }
            }
        }
        match &self.stage {
            Stage::Read(read) => {
                let ctx = Env {
                    peer: Peer::Proxied(read),
                    ..*ctx
                };
                self.inner.on_data(input, output, &ctx, app)
            }
            Stage::Awaiting(_) => Next::NeedInput,
        }
    }

    /// Until the header is in, the connection is reading a head: `--header-timeout` applies.
    #[inline(never)]
    pub fn phase(&self, buffered: usize) -> Phase {
        match (&self.stage, &self.inner) {
            (Stage::Awaiting(_), _) => Phase::Head,
            (Stage::Read(_), Protocol::Echo(e)) => e.phase(),
            (Stage::Read(_), Protocol::Http1(h)) => h.phase(buffered),
            (Stage::Read(_), Protocol::WebSocket(w)) => w.phase(),
            (Stage::Read(_), Protocol::Http2(h)) => h.phase(buffered),
            (Stage::Read(_), Protocol::BehindProxy(_)) => Phase::Head,
        }
    }

    #[inline(never)]
    pub fn wake_at(&self) -> Option<Instant> {
        match (&self.stage, &self.inner) {
            (Stage::Read(_), Protocol::Echo(e)) => e.wake_at(),
            (Stage::Read(_), Protocol::Http1(h)) => h.wake_at(),
            (Stage::Read(_), Protocol::WebSocket(w)) => w.wake_at(),
            (Stage::Read(_), Protocol::Http2(h)) => h.wake_at(),
            _ => None,
        }
    }

    /// A bad header left nothing to drain: close at once.
    #[inline(never)]
    pub fn needs_linger(&self) -> bool {
        match (&self.stage, &self.inner) {
            (Stage::Read(_), Protocol::Echo(_) | Protocol::WebSocket(_)) => true,
            (Stage::Read(_), Protocol::Http1(h)) => h.needs_linger(),
            (Stage::Read(_), Protocol::Http2(h)) => h.needs_linger(),
            _ => false,
        }
    }

    /// No header in time: counted and closed without a word (a proxy gets no HTTP 408).
    pub fn on_read_timeout(&mut self, output: &mut Output, ctx: &Env<'_>) {
        match &self.stage {
            Stage::Awaiting(_) => {
                debug!(peer = ?ctx.peer.socket(), "no PROXY header in time; closing");
                ctx.stats.on_proxy(ProxyOutcome::TimedOut);
            }
            Stage::Read(read) => {
                let ctx = Env {
                    peer: Peer::Proxied(read),
                    ..*ctx
                };
                self.inner.on_read_timeout(output, &ctx);
            }
        }
    }

    /// See [`Protocol::on_idle_close`](super::Protocol::on_idle_close).
    pub fn on_idle_close(
        &mut self,
        output: &mut crate::output::Output,
        env: &super::Env<'_>,
    ) -> bool {
        self.inner.on_idle_close(output, env)
    }

    pub fn release(&mut self, budget: &Budget, stats: &crate::stats::WorkerStats) {
        self.inner.release(budget, stats);
    }
}

#[cfg(test)]
mod tests;
