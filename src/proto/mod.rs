//! Protocols, sans-IO: each takes the bytes read so far, consumes whole frames, appends its
//! output, and says whether to go on. None of them touches a socket, so each is unit-tested on
//! byte slices.
//!
//! - [`h1`]: HTTP/1.1, which hands every whole request to the application through
//!   [`Handler`](crate::http::Handler) and names no route;
//! - [`h2`]: HTTP/2, the same requests to the same handler, many at once on one connection;
//! - [`echo`]: raw TCP echo;
//! - [`proxy`]: the PROXY protocol header, read before either of them begins;
//! - [`h2`]: HTTP/2, so far its header compression (HPACK) only.
//!
//! What a protocol works with beside its bytes is an [`Env`]: the connection's facts and the
//! worker's limits, budget and counters, built by the worker for each drive.

pub(crate) mod echo;
pub mod h1;
pub mod h2;
pub mod proxy;
pub mod ws;

use std::cell::{Cell, OnceCell, RefCell};
use std::time::Instant;

use crate::access_log::{AccessLog, ExchangeId};
use crate::buffer::Buf;
use crate::config::{EchoOptions, ProtocolKind};
use crate::http::{Exchange, Handler, Memo, PortRole, Request};
use crate::ids::ConnectionId;
use crate::memory::Budget;
use crate::output::Output;
use crate::peer::{Peer, Socket, TlsFacts};
use crate::stats::WorkerStats;

/// What a protocol wants after [`Protocol::on_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Every whole frame was handled; more input is needed to go on.
    NeedInput,
    /// Output reached its high-water mark; call again once some of it is written.
    Blocked,
    /// Flush the output, then close the connection.
    Close,
    /// Reset the connection now, dropping any output (a request control's `rst`).
    Reset,
    /// Waiting for a moment in time, not for input (a deferred response); see `wake_at`.
    Waiting,
    /// Waiting for the worker's memory budget, not for input: the worker drives the
    /// connection again when its turn comes.
    Memory,
    /// An expensive answer was just written: let the other connections have the loop before
    /// this one's next pipelined request (the worker drives it again next turn).
    Yield,
}

/// What a protocol works with beside its bytes, for one drive of one connection: the clock,
/// the connection's facts, and the worker's limits, budget and counters.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// The loop's clock for this turn.
    pub now: Instant,
    /// HTTP/1.1's limits, and what is pre-rendered once a second (the `Date` among it).
    pub http: &'a h1::Site,
    /// Unsent output above which a protocol must stop producing more.
    pub high_water: usize,
    /// The worker is draining: end each connection after its current response.
    pub draining: bool,
    /// What the worker may buffer on its clients' behalf.
    pub budget: &'a Budget,
    /// The connection being driven: its place in the budget's queue, and half its id.
    pub token: u64,
    /// The worker's pid: the other half of a connection's id.
    pub pid: u32,
    /// The client: the socket's peer, or whom a PROXY header named (see [`Peer`]).
    pub peer: Peer<'a>,
    /// A TLS connection's handshake facts, filled the moment it is done (often within the
    /// drive that reads its first request, so not a value copied before it); `None` on a
    /// plaintext connection. See [`Env::tls_facts`].
    pub tls: Option<&'a OnceCell<TlsFacts>>,
    /// The connection's socket, for the routes that ask the kernel about it (`/inspect`);
    /// `None` where there is no socket (tests, benchmarks, the fuzzer).
    pub socket: Option<Socket>,
    /// Which listener accepted the connection.
    pub port: PortRole,
    /// This worker's figures (responses by class, bytes, parse errors).
    pub stats: &'a WorkerStats,
    /// Requests answered by this worker, counted by the protocol.
    pub served: &'a Cell<u64>,
    /// Work done this loop turn (see `conn::DRIVE_WORK`), added to by each drive: the worker
    /// ends a turn once it passes a bound, so that new connections are admitted between
    /// slices whatever the writable set.
    pub work: &'a Cell<u64>,
    /// The access log, when `--access-log` is on: every connection the worker drives, one at
    /// a time, appends to the one buffer, so it is shared behind a `RefCell` (borrowed for the
    /// length of one line, never across a call).
    pub access_log: Option<&'a RefCell<AccessLog>>,
}

impl Env<'_> {
    /// The current `Date` value, e.g. `Mon, 23 Nov 2026 11:04:17 GMT`.
    pub fn date(&self) -> &[u8] {
        self.http.prerendered.date()
    }

    /// What the connection's TLS handshake settled, once it has; `None` over plaintext.
    pub fn tls_facts(&self) -> Option<&TlsFacts> {
        self.tls.and_then(OnceCell::get)
    }

    /// The connection's id: the worker's pid and the connection's token.
    pub fn connection_id(&self) -> ConnectionId {
        ConnectionId {
            pid: self.pid,
            token: self.token,
        }
    }

    /// What a handler is told about the exchange with place `index` on the connection (and
    /// HTTP/2 `stream`), beside the request: the protocols' one way to make an [`Exchange`].
    #[inline(always)]
    pub fn exchange<'e>(
        &'e self,
        index: u64,
        memo: Option<&'e Memo>,
        stream: Option<u32>,
    ) -> Exchange<'e> {
        Exchange {
            now: self.now,
            date: self.date(),
            peer: self.peer,
            connection: self.connection_id(),
            index,
            socket: self.socket,
            port: self.port,
            tls: self.tls_facts(),
            memo,
            stream,
        }
    }
}

/// One connection's protocol state.
#[derive(Debug)]
pub enum Protocol {
    Echo(echo::Echo),
    Http1(h1::Http1),
    /// Either of them behind a PROXY protocol header (`--proxy-protocol`); boxed, so a
    /// connection without the option stays as small as before.
    BehindProxy(Box<proxy::BehindProxy>),
    /// What an HTTP/1.1 connection became after a 101 to WebSocket; boxed, as above.
    WebSocket(Box<ws::WebSocket>),
    /// HTTP/2: by prior knowledge, ALPN, or a 101 to h2c; boxed, as above.
    Http2(Box<h2::Http2>),
}

impl Protocol {
    /// A connection with the default options (a plain echo).
    pub fn new(kind: ProtocolKind) -> Protocol {
        match kind {
            ProtocolKind::Echo => Protocol::Echo(echo::Echo::default()),
            ProtocolKind::Http => Protocol::Http1(h1::Http1::new()),
        }
    }

    /// A connection accepted at `now`, an echo one with `echo`'s options.
    pub fn accepted(kind: ProtocolKind, echo: &EchoOptions, now: Instant) -> Protocol {
        match kind {
            ProtocolKind::Echo => Protocol::Echo(echo::Echo::new(echo, now)),
            ProtocolKind::Http => Protocol::Http1(h1::Http1::new()),
        }
    }

    /// `inner`, behind a PROXY header of a version `accept` allows.
    pub fn behind_proxy(accept: proxy::Accept, inner: Protocol) -> Protocol {
        Protocol::BehindProxy(Box::new(proxy::BehindProxy::new(accept, inner)))
    }

    /// Consumes what it can from `input`, appending to `output`; a whole HTTP request is
    /// answered by `app`.
    pub fn on_data(
        &mut self,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) -> Next {
        match self {
            Protocol::Echo(e) => e.on_data(input, output, env),
            Protocol::Http1(h) => {
                let next = h.on_data(input, output, env, app);
                if h.is_upgraded() {
                    return self.upgrade(input, output, env, app);
                }
                next
            }
            Protocol::BehindProxy(p) => p.on_data(input, output, env, app),
            Protocol::WebSocket(w) => w.on_data(input, output, env),
            Protocol::Http2(h) => h.on_data(input, output, env, app),
        }
    }

    /// HTTP/1.1 handed the connection over: after a 101 it speaks WebSocket (starting with any
    /// frames that came right behind the handshake) or HTTP/2 (h2c), or the client opened with
    /// HTTP/2's preface. Out of line, so that the HTTP path
    /// above stays small enough to be inlined whole.
    #[cold]
    #[inline(never)]
    fn upgrade(
        &mut self,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) -> Next {
        if let Protocol::Http1(h) = self {
            match h.take_upgrade() {
                Some(h1::Switch::WebSocket(upgrade)) => {
                    let ws = ws::WebSocket::new(*upgrade, env.stats, env.now);
                    *self = Protocol::WebSocket(Box::new(ws));
                }
                Some(h1::Switch::Http2(h2)) => *self = Protocol::Http2(h2),
                None => {}
            }
        }
        self.on_data(input, output, env, app)
    }

    /// Where the connection is, for picking its timeout; `buffered` is the unread input.
    ///
    /// Inlined always, as `wake_at` below: both run several times per request, and the third
    /// variant made them large enough for LLVM to stop inlining them (see
    /// [`proxy::BehindProxy`]).
    #[inline(always)]
    pub fn phase(&self, buffered: usize) -> Phase {
        match self {
            Protocol::Echo(e) => e.phase(),
            Protocol::Http1(h) => h.phase(buffered),
            Protocol::BehindProxy(p) => p.phase(buffered),
            Protocol::WebSocket(w) => w.phase(),
            Protocol::Http2(h) => h.phase(buffered),
        }
    }

    /// When the protocol wants to be driven again without new input (a deferred response).
    #[inline(always)]
    pub fn wake_at(&self) -> Option<Instant> {
        match self {
            Protocol::Echo(e) => e.wake_at(),
            Protocol::Http1(h) => h.wake_at(),
            Protocol::BehindProxy(p) => p.wake_at(),
            Protocol::WebSocket(w) => w.wake_at(),
            Protocol::Http2(h) => h.wake_at(),
        }
    }

    /// The connection ends on an error (or a timeout) and the peer may still be sending: close
    /// with a linger, not at once.
    pub fn needs_linger(&self) -> bool {
        match self {
            Protocol::Echo(_) | Protocol::WebSocket(_) => true,
            Protocol::Http1(h) => h.needs_linger(),
            Protocol::BehindProxy(p) => p.needs_linger(),
            Protocol::Http2(h) => h.needs_linger(),
        }
    }

    /// A request head or body did not arrive in time: append the response that says so
    /// (HTTP 408). The connection closes after it.
    pub fn on_read_timeout(&mut self, output: &mut Output, env: &Env<'_>) {
        match self {
            Protocol::Echo(_) | Protocol::WebSocket(_) => {}
            Protocol::Http1(h) => h.on_read_timeout(output, env),
            Protocol::BehindProxy(p) => p.on_read_timeout(output, env),
            Protocol::Http2(h) => h.on_read_timeout(output, env),
        }
    }

    /// The server closes an idle connection (its idle timeout, or a stopping worker's grace):
    /// a WebSocket says 1001 (going away) first. Returns whether anything was written.
    pub fn on_idle_close(&mut self, output: &mut Output, env: &Env<'_>) -> bool {
        match self {
            Protocol::WebSocket(w) => w.on_idle_close(output, env),
            Protocol::BehindProxy(p) => p.on_idle_close(output, env),
            Protocol::Http2(h) => h.on_idle_close(output, env),
            Protocol::Echo(_) | Protocol::Http1(_) => false,
        }
    }

    /// Gives back what the protocol holds in the budget (the connection is closing).
    pub fn release(&mut self, budget: &Budget, stats: &WorkerStats) {
        match self {
            Protocol::Echo(_) => {}
            Protocol::Http1(h) => h.release(budget),
            Protocol::BehindProxy(p) => p.release(budget, stats),
            Protocol::WebSocket(w) => w.release(budget, stats),
            Protocol::Http2(h) => h.release(budget, stats),
        }
    }
}

/// Where a connection is between its frames, which decides the timeout that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Between requests with nothing buffered; `served` is false before the first request.
    Idle { served: bool },
    /// Part of a request head has arrived.
    Head,
    /// Reading a request body.
    Body,
    /// A byte stream with no frames (echo).
    Stream,
    /// Waiting for a moment in time (see [`Protocol::wake_at`]).
    Waiting,
}

/// The access-log line for an exchange: `request` is the request, when one was read whole, and
/// `request_index` its place on the connection (0 for the first).
#[inline(always)]
pub(crate) fn log_exchange(
    env: &Env<'_>,
    request: Option<&Request<'_>>,
    request_index: u64,
    status: u16,
    length: u64,
) {
    if env.access_log.is_some() {
        write_log(env, request, request_index, status, length);
    }
}

#[inline(never)]
fn write_log(
    env: &Env<'_>,
    request: Option<&Request<'_>>,
    request_index: u64,
    status: u16,
    length: u64,
) {
    if let Some(log) = env.access_log {
        let id = ExchangeId {
            connection: env.connection_id(),
            request_index,
        };
        log.borrow_mut().record(
            env.peer.addr(),
            request,
            status,
            length,
            id,
            env.tls_facts(),
        );
    }
}
