//! Protocols, sans-IO: each takes the bytes read so far, consumes whole frames, appends its
//! output, and says whether to go on. None of them touches a socket, so each is unit-tested on
//! byte slices.

pub mod echo;
pub mod http;
mod prerendered;
pub mod proxy;

pub use self::prerendered::Prerendered;
pub use self::proxy::Peer;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::Instant;

use crate::access_log::AccessLog;
use crate::buffer::Buf;
use crate::config::{AdminToken, EchoOptions, ProtocolKind};
use crate::memory::Budget;
use crate::output::Output;
use crate::stats::{MasterStats, WorkerStats};

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

/// Facts about the worker that responses may carry, refreshed by the loop (not per request).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The current `Date` header value, e.g. `Mon, 23 Nov 2026 11:04:17 GMT`.
    pub date: &'a [u8],
    /// The `/whoami` body: `pid=<pid> slot=<n> generation=<g>`.
    pub whoami: &'a [u8],
    /// The whole keep-alive response to `GET /`, pre-rendered with the current `Date`.
    pub hello: &'a [u8],
    /// Unsent output above which a protocol must stop producing more.
    pub high_water: usize,
    /// HTTP limits.
    pub limits: &'a http::Limits,
    /// The loop's clock for this turn.
    pub now: Instant,
    /// The worker is draining: end each connection after its current response.
    pub draining: bool,
    /// Serve the `/debug/*` fault-injection routes.
    pub debug_routes: bool,
    /// Requests answered by this worker, counted by the protocol.
    pub served: &'a Cell<u64>,
    /// This worker's figures (responses by class, bytes, parse errors).
    pub stats: &'a WorkerStats,
    /// Every worker's figures, for `/metrics` and `/status`.
    pub all_stats: &'a [WorkerStats],
    pub master_stats: &'a MasterStats,
    /// RLIMIT_NOFILE, for `/metrics`.
    pub open_files_limit: u64,
    /// Where `/metrics` and `/status` are served, relative to this connection.
    pub metrics: MetricsAccess,
    /// `--admin-token`: a request on the public port that carries it may change `/healthz`.
    pub admin_token: Option<&'a AdminToken>,
    /// The access log, when `--access-log` is on.
    pub access_log: Option<&'a RefCell<AccessLog>>,
    /// The client: the socket's peer, or whom a PROXY header named (see [`Peer`]).
    pub peer: Peer<'a>,
    /// The connection being driven, for its place in the budget's queue.
    pub token: u64,
    /// What the worker may buffer on its clients' behalf.
    pub budget: &'a Budget,
    /// `--root`'s files, when serving a directory.
    pub files: Option<&'a crate::files::FileStore>,
    /// The httpbin routes, when they are on.
    pub httpbin: Option<&'a http::bin::Httpbin>,
    /// The request controls' options.
    pub controls: &'a crate::config::ControlOptions,
    /// Where the last response's status and body length are noted, for the access log.
    pub reply: Option<&'a Cell<(u16, u64)>>,
    /// Which worker this is, for `/inspect` and connection ids.
    pub worker: WorkerId,
    /// The connection's socket, for the routes that ask the kernel about it (`/inspect`);
    /// `None` where there is no socket (tests, benchmarks, the fuzzer).
    pub socket: Option<Socket>,
}

/// A worker's identity, as `/whoami` tells it (`whoami` is the same, rendered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerId {
    pub pid: u32,
    /// The worker's slot, `0..--workers`.
    pub slot: u32,
    /// How many workers this slot has had, this one included.
    pub generation: u64,
}

/// A connection's id, as `/inspect` and the JSON access log write it: `<worker pid>-<token>`.
///
/// Derived, not stored (a `Connection` must not grow): the token is the connection's slab
/// key, `generation << 32 | index`, unique among one worker's connections for the worker's
/// life because a slot's generation moves on at every close; the pid sets the workers apart.
/// So an id names one connection on this host, until pids wrap around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionId {
    pub pid: u32,
    pub token: u64,
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.pid, self.token)
    }
}

/// The socket of the connection being driven, for the few routes that ask the kernel about it
/// (`/inspect`, never the hot path). Protocols make no syscalls of their own (they are tested
/// on byte slices), so the worker hands over the asking along with the descriptor.
#[derive(Debug, Clone, Copy)]
pub struct Socket {
    /// The connection's descriptor: a number, not an owner or a borrow (the connection is
    /// mutably borrowed while it is driven). It stays open for as long as any context built for
    /// the drive lives, and is used only for read-only queries.
    pub fd: RawFd,
    /// Asks the kernel about `fd` (the worker passes `conn::probe_socket`).
    pub probe: fn(RawFd) -> SocketFacts,
}

impl Socket {
    pub fn facts(&self) -> SocketFacts {
        (self.probe)(self.fd)
    }
}

/// What the kernel says about a connection's socket; each part `None` if asking failed.
#[derive(Clone, Copy, Default)]
pub struct SocketFacts {
    /// `getsockname`: the address the client reached.
    pub local: Option<SocketAddr>,
    /// `getsockopt(TCP_INFO)`.
    pub tcp: Option<TcpFigures>,
}

/// `getsockopt(TCP_INFO)`'s answer.
#[derive(Clone, Copy)]
pub struct TcpFigures {
    pub info: libc::tcp_info,
    /// How many bytes of `info` the kernel filled: a kernel older than the `libc` struct fills
    /// a prefix, and a field past it is unknown, not zero.
    pub filled: usize,
}

/// Whether this connection may see `/metrics` and `/status`, and change `/healthz` freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAccess {
    /// No separate metrics port: every connection may see them (a change of `/healthz` still
    /// needs the admin token: this is the public port).
    Anywhere,
    /// A connection on the main port while `--metrics-port` is set: they are 404 here.
    Elsewhere,
    /// A connection on the metrics port: only they and `/healthz` are served, and `/healthz`
    /// may be changed without a token (whoever reaches this port is an operator).
    Only,
}

/// Figures for contexts that belong to no worker (tests, benchmarks, the fuzzer).
static DETACHED_STATS: WorkerStats = WorkerStats::zeroed();
static DETACHED_MASTER: MasterStats = MasterStats::zeroed();

/// What a [`Context`] borrows, for tests and tools that have no worker: default limits, an
/// unbounded budget unless one is given.
#[derive(Debug)]
pub struct TestSite {
    pub limits: http::Limits,
    pub served: Cell<u64>,
    pub budget: Budget,
    /// The httpbin routes (on, with their default options).
    pub httpbin: Option<http::bin::Httpbin>,
    pub controls: crate::config::ControlOptions,
}

impl TestSite {
    pub fn new(limits: http::Limits) -> TestSite {
        TestSite::with_budget(limits, u64::MAX)
    }

    pub fn with_budget(limits: http::Limits, budget: u64) -> TestSite {
        TestSite {
            limits,
            served: Cell::new(0),
            budget: Budget::new(budget),
            httpbin: Some(http::bin::Httpbin::new(Default::default())),
            controls: Default::default(),
        }
    }

    /// Everything the HTTP protocol writes for `request` on a fresh connection, as far as it
    /// goes without more input (for unit tests of the routes).
    pub fn answer(&self, request: &[u8]) -> Vec<u8> {
        let ctx = self.context(1 << 20);
        let mut input = Buf::from_slice(request);
        let mut output = Output::new();
        http::Http::new().on_data(&mut input, &mut output, &ctx);
        let mut sent = Vec::new();
        output.drain_into(&mut sent);
        sent
    }

    /// A context with a fixed date, not draining, for connection 1.
    pub fn context(&self, high_water: usize) -> Context<'_> {
        Context {
            date: b"Mon, 23 Nov 2026 11:04:17 GMT",
            whoami: b"pid=1 slot=0 generation=1",
            hello: b"",
            high_water,
            limits: &self.limits,
            now: Instant::now(),
            draining: false,
            debug_routes: false,
            served: &self.served,
            stats: &DETACHED_STATS,
            all_stats: std::slice::from_ref(&DETACHED_STATS),
            master_stats: &DETACHED_MASTER,
            open_files_limit: 0,
            metrics: MetricsAccess::Anywhere,
            admin_token: None,
            access_log: None,
            peer: Peer::Direct(None),
            reply: None,
            worker: WorkerId {
                pid: 1,
                slot: 0,
                generation: 1,
            },
            socket: None,
            token: 1,
            budget: &self.budget,
            files: None,
            httpbin: self.httpbin.as_ref(),
            controls: &self.controls,
        }
    }
}

/// One connection's protocol state.
#[derive(Debug)]
pub enum Protocol {
    Echo(echo::Echo),
    Http(http::Http),
    /// Either of them behind a PROXY protocol header (`--proxy-protocol`); boxed, so a
    /// connection without the option stays as small as before.
    BehindProxy(Box<proxy::BehindProxy>),
}

impl Protocol {
    /// A connection with the default options (a plain echo).
    pub fn new(kind: ProtocolKind) -> Protocol {
        match kind {
            ProtocolKind::Echo => Protocol::Echo(echo::Echo::default()),
            ProtocolKind::Http => Protocol::Http(http::Http::new()),
        }
    }

    /// A connection accepted at `now`, an echo one with `echo`'s options.
    pub fn accepted(kind: ProtocolKind, echo: &EchoOptions, now: Instant) -> Protocol {
        match kind {
            ProtocolKind::Echo => Protocol::Echo(echo::Echo::new(echo, now)),
            ProtocolKind::Http => Protocol::Http(http::Http::new()),
        }
    }

    /// `inner`, behind a PROXY header of a version `accept` allows.
    pub fn behind_proxy(accept: proxy::Accept, inner: Protocol) -> Protocol {
        Protocol::BehindProxy(Box::new(proxy::BehindProxy::new(accept, inner)))
    }

    /// Consumes what it can from `input`, appending to `output`.
    pub fn on_data(&mut self, input: &mut Buf, output: &mut Output, ctx: &Context<'_>) -> Next {
        match self {
            Protocol::Echo(e) => e.on_data(input, output, ctx),
            Protocol::Http(h) => h.on_data(input, output, ctx),
            Protocol::BehindProxy(p) => p.on_data(input, output, ctx),
        }
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
            Protocol::Http(h) => h.phase(buffered),
            Protocol::BehindProxy(p) => p.phase(buffered),
        }
    }

    /// When the protocol wants to be driven again without new input (a deferred response).
    #[inline(always)]
    pub fn wake_at(&self) -> Option<Instant> {
        match self {
            Protocol::Echo(e) => e.wake_at(),
            Protocol::Http(h) => h.wake_at(),
            Protocol::BehindProxy(p) => p.wake_at(),
        }
    }

    /// The connection ends on an error (or a timeout) and the peer may still be sending: close
    /// with a linger, not at once.
    pub fn needs_linger(&self) -> bool {
        match self {
            Protocol::Echo(_) => true,
            Protocol::Http(h) => h.needs_linger(),
            Protocol::BehindProxy(p) => p.needs_linger(),
        }
    }

    /// A request head or body did not arrive in time: append the response that says so
    /// (HTTP 408). The connection closes after it.
    pub fn on_read_timeout(&mut self, output: &mut Output, ctx: &Context<'_>) {
        match self {
            Protocol::Echo(_) => {}
            Protocol::Http(h) => h.on_read_timeout(output, ctx),
            Protocol::BehindProxy(p) => p.on_read_timeout(output, ctx),
        }
    }

    /// Gives back what the protocol holds in the budget (the connection is closing).
    pub fn release(&mut self, budget: &Budget) {
        match self {
            Protocol::Echo(_) => {}
            Protocol::Http(h) => h.release(budget),
            Protocol::BehindProxy(p) => p.release(budget),
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
