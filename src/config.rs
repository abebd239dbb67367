//! The validated configuration, as plain data, and the limits every layer shares.

use std::net::SocketAddr;
use std::time::Duration;

pub use crate::cidr::TrustedProxies;

/// Which protocol every connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolKind {
    /// HTTP/1.1 (and 1.0) with keep-alive and pipelining.
    Http,
    /// Raw TCP echo: every byte comes back, in order.
    Echo,
}

impl ProtocolKind {
    /// The name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::Http => "http",
            ProtocolKind::Echo => "echo",
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the master and the workers need to know, fixed before the first fork.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--user`/`--group`, resolved: what each worker drops to after its fork.
    pub identity: Option<crate::sys::identity::Identity>,
    /// Number of worker processes (and listening sockets).
    pub workers: usize,
    /// Address and port to bind; port 0 asks the kernel for a free port.
    pub addr: SocketAddr,
    pub protocol: ProtocolKind,
    /// listen(2) backlog for each socket.
    pub backlog: i32,
    /// Upper bound for RLIMIT_NOFILE; `None` means as many as the system allows.
    pub max_fds: Option<u64>,
    pub log_format: LogFormat,
    /// How long the master waits after SIGTERM before it SIGKILLs the workers left.
    pub shutdown_timeout: Duration,
    /// Per-request size limits (HTTP).
    pub limits: HttpLimits,
    /// What one worker may buffer on its clients' behalf, in bytes (see `memory.rs`).
    pub memory_budget: u64,
    /// `--root` and its companions: serve files.
    pub files: Option<FileOptions>,
    /// `--compress`: bodies compressed on the fly, for files and generated answers alike.
    pub compress: Option<CompressOptions>,
    /// The httpbin routes, when on.
    pub httpbin: Option<HttpbinOptions>,
    /// HTTP/2 is spoken beside HTTP/1.1 (`--http2`).
    pub http2: bool,
    /// The request controls (`?status=`, `X-Echo-Delay`, `--default-params`).
    pub controls: ControlOptions,
    /// Per-connection timeouts.
    pub timeouts: Timeouts,
    /// Connections one worker holds at most; `None` derives it from the fd limit.
    pub max_conns: Option<usize>,
    /// Lifecycle settings (drain, recycling, hung-worker detection, files).
    pub lifecycle: Lifecycle,
    /// Which CPU each worker is pinned to.
    pub cpu_affinity: CpuAffinity,
    /// `--access-log`: a file path, or `-` for stdout.
    pub access_log: Option<String>,
    /// Serve /metrics and /status on this port (same address) instead of the main one.
    pub metrics_port: Option<u16>,
    /// TCP_DEFER_ACCEPT on the listeners, in seconds; 0 turns it off (also on inherited ones).
    pub defer_accept: u32,
    /// TCP_NOTSENT_LOWAT on the listeners (and so on every connection), in bytes; 0 leaves
    /// the kernel's default (also on inherited ones).
    pub send_lowat: u32,
    /// Workers share listening sockets (fewer were passed than workers): register them with
    /// EPOLLEXCLUSIVE against the thundering herd. Set by the master, not by the command line.
    pub shared_listener: bool,
    /// `--admin-token`: lets a request on the public port change `/healthz`.
    pub admin_token: Option<AdminToken>,
    /// What an echo connection does beyond echoing (`--echo-*`).
    pub echo: EchoOptions,
    /// `/websocket/echo`'s limits.
    pub websocket: WebSocketOptions,
    /// `--cors-origin` and its companions.
    pub cors: Option<CorsOptions>,
    /// `--proxy-protocol`: every connection on the main port starts with a PROXY header.
    pub proxy: Option<ProxyOptions>,
    /// `--tls-cert` and its companions: HTTPS, on the main port or on `--tls-port`.
    pub tls: Option<TlsOptions>,
}

/// What `--tls-cert`, `--tls-key`, `--tls-port` and the client options say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Certificate chain and key files, in pairs: the first the default, the others chosen by
    /// the name the client asks for (SNI).
    pub pairs: Vec<(std::path::PathBuf, std::path::PathBuf)>,
    /// `--tls-port`: HTTPS there, plain HTTP on the main port. `None`: the main port speaks
    /// TLS. Port 0 picks a free port; the master writes the real one here before it forks.
    pub port: Option<u16>,
    /// `--tls-client-ca`: the CAs client certificates are checked against.
    pub client_ca: Option<std::path::PathBuf>,
    pub client_auth: ClientAuth,
}

impl TlsOptions {
    /// Whether the listeners of the main port speak TLS (no `--tls-port`).
    pub fn on_main_port(&self) -> bool {
        self.port.is_none()
    }
}

/// `--tls-client-auth`: whether a client must present a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate is asked for.
    Off,
    /// Asked for; a client without one is served, one with a bad one is refused.
    Optional,
    /// A client without a certificate the CAs vouch for is refused in the handshake.
    Required,
}

/// What `--root` and its companions say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    pub root: std::path::PathBuf,
    /// Index file names tried, in order, for a path ending in `/`.
    pub index: Vec<String>,
    /// Serve names starting with a dot (`.git`, `.env`): off by default.
    pub dotfiles: bool,
    /// A `Cache-Control` value sent with every file.
    pub cache_control: Option<String>,
    /// `--fallback`: the file (relative to the root) a missing extensionless path gets.
    pub fallback: Option<String>,
    /// `--error-page`: (status, file relative to the root).
    pub error_pages: Vec<(u16, String)>,
    /// `--cache-rule`: (pattern with at most one `*`, `Cache-Control` value), first match wins.
    pub cache_rules: Vec<(String, String)>,
    /// `--autoindex`: list directories without an index file, at most this many entries.
    pub autoindex: Option<usize>,
}

/// `--compress` and its companions: bodies compressed on the fly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressOptions {
    /// Media types compressed (`text/*` for a whole top-level type).
    pub types: Vec<String>,
    /// Bodies shorter than this are sent as they are.
    pub min_size: u64,
    pub levels: CompressLevels,
}

/// The levels `--compress-level-*` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressLevels {
    /// 1 (fastest) to 9.
    pub gzip: u32,
    /// 0 to 11.
    pub brotli: u32,
    /// 1 to 19.
    pub zstd: i32,
}

/// `--cors-*`: a CORS policy for every route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsOptions {
    /// Allowed origins, exactly as browsers send them (`https://app.example`), or `*`.
    pub origins: Vec<String>,
    /// Methods a preflight may ask for, and their `Access-Control-Allow-Methods` value.
    pub methods: Vec<String>,
    pub methods_value: String,
    /// Headers a preflight may ask for (case-insensitive), or `*` for any.
    pub headers: Vec<String>,
    /// `Access-Control-Max-Age`'s value, if set.
    pub max_age_value: Option<String>,
    /// `Access-Control-Allow-Credentials: true` (and the origin itself, never `*`).
    pub credentials: bool,
    /// `Access-Control-Expose-Headers`' value, if set.
    pub expose_value: Option<String>,
}

/// `--proxy-protocol` with its `--trusted-proxies`, without which it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOptions {
    /// The header versions taken.
    pub accept: ProxyAccept,
    /// The only peers a connection is taken from: anyone else could name any client.
    pub trusted: TrustedProxies,
}

/// Which PROXY header versions a listener takes (`--proxy-protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyAccept {
    V1,
    V2,
    /// Either, told apart by the first bytes.
    Any,
}

impl ProxyAccept {
    pub fn takes_v1(self) -> bool {
        self != ProxyAccept::V2
    }

    pub fn takes_v2(self) -> bool {
        self != ProxyAccept::V1
    }
}

/// A bearer token that allows changing `/healthz` from the public port. Its `Debug` does not
/// show it, so a logged config never leaks it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(Vec<u8>);

/// Shortest token accepted: guessing 16 characters of base64 over the network is hopeless,
/// and a shorter one is more likely a placeholder than a secret.
pub const ADMIN_TOKEN_MIN: usize = 16;
/// Longest token accepted (also the most read from a token file).
pub const ADMIN_TOKEN_MAX: usize = 4096;

impl AdminToken {
    /// Checks `token`: RFC 6750's `b64token` (what may follow `Bearer `), of a sane length.
    ///
    /// # Errors
    /// What is wrong with it, for a usage message.
    pub fn new(token: &[u8]) -> Result<AdminToken, &'static str> {
        if !(ADMIN_TOKEN_MIN..=ADMIN_TOKEN_MAX).contains(&token.len()) {
            return Err("the admin token must be 16 to 4096 characters long");
        }
        // Everything up to the trailing `=` padding must be b64token characters.
        let end = token.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
        let b64 = |b: &u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(b);
        if end == 0 || !token[..end].iter().all(b64) {
            return Err(
                "the admin token may hold only letters, digits and -._~+/ (then = padding)",
            );
        }
        Ok(AdminToken(token.to_vec()))
    }

    /// Whether `given` is the token, in a time that depends only on the token's length, not on
    /// where `given` first differs (so timing cannot reveal it a byte at a time).
    pub fn matches(&self, given: &[u8]) -> bool {
        let want = &self.0;
        let mut diff = u8::from(want.len() != given.len());
        for (i, &w) in want.iter().enumerate() {
            diff |= w ^ given.get(i).copied().unwrap_or(!w);
        }
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// `/websocket/echo`'s limits (`--ws-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketOptions {
    /// The largest message, inflated.
    pub max_message: usize,
    /// The most frames per message.
    pub max_frames: usize,
    /// How often an idle connection is pinged; `None`: never.
    pub ping_interval: Option<Duration>,
    /// The longest `?delay=` (`--max-duration`).
    pub max_delay: Duration,
}

impl Default for WebSocketOptions {
    fn default() -> WebSocketOptions {
        WebSocketOptions {
            max_message: 16 << 20,
            max_frames: 100_000,
            ping_interval: Some(Duration::from_secs(30)),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// What an echo connection does beyond echoing, so a client's timeouts and its handling of a
/// server that closes can be tested (`--echo-delay`, `--echo-close-after`,
/// `--echo-close-after-bytes`). The default is a plain echo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EchoOptions {
    /// Each chunk read is echoed this long after it arrived.
    pub delay: Option<Duration>,
    /// The connection is closed this long after it was accepted.
    pub close_after: Option<Duration>,
    /// The connection is closed once this many bytes were echoed; 0 closes it when its first
    /// bytes arrive, echoing none.
    pub close_after_bytes: Option<u64>,
}

/// How workers are drained, recycled and watched, and where the master writes its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// On a graceful stop, answer `/healthz` with 503 for this long before unbinding.
    pub drain_delay: Duration,
    /// A worker whose heartbeat has not moved for this long is killed and replaced.
    pub worker_timeout: Duration,
    /// Recycle a worker after this many requests (plus up to `max_requests_jitter`).
    pub max_requests: Option<u64>,
    pub max_requests_jitter: u64,
    /// Serve `/debug/crash`, `/debug/hang` and `/debug/sleep` (a test aid).
    pub debug_routes: bool,
    /// A new master started by SIGUSR2 that has not reported ready within this is killed,
    /// and this master carries on.
    pub upgrade_timeout: Duration,
    /// How SIGUSR2 replaces the binary: in place, or with a new master beside this one.
    pub upgrade_mode: UpgradeMode,
    pub pid_file: Option<std::path::PathBuf>,
    pub log_file: Option<std::path::PathBuf>,
}

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle {
            drain_delay: Duration::ZERO,
            worker_timeout: Duration::from_secs(30),
            max_requests: None,
            max_requests_jitter: 0,
            debug_routes: false,
            upgrade_timeout: Duration::from_secs(30),
            upgrade_mode: UpgradeMode::Auto,
            pid_file: None,
            log_file: None,
        }
    }
}

/// How a binary upgrade (SIGUSR2) replaces the running master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeMode {
    /// `Exec` under a service manager (`$NOTIFY_SOCKET` set), `Fork` otherwise.
    Auto,
    /// Re-execute the master in place: the pid stays, so a service manager that tracks it
    /// (systemd's main PID) keeps supervising it, and its stop and watchdog signals still land.
    Exec,
    /// Start a new master beside this one (nginx's way); this one drains once it serves, so a
    /// new binary that fails to start leaves this master as it was.
    Fork,
}

/// Per-request limits; each maps to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Request line plus headers (431). At least `max_uri_bytes` plus room for the method,
    /// the version and ordinary headers.
    pub max_head_bytes: usize,
    /// Request-target (414), checked before the head limit so a long target is told apart
    /// from many headers.
    pub max_uri_bytes: usize,
    /// Body, declared or discovered while reading chunks (413).
    pub max_body_bytes: u64,
}

impl HttpLimits {
    pub fn new(max_head_bytes: usize, max_uri_bytes: usize, max_body_bytes: u64) -> HttpLimits {
        HttpLimits {
            max_head_bytes,
            max_uri_bytes,
            max_body_bytes,
        }
    }
}

/// The httpbin routes' limits (`--max-duration`, `--max-generated-bytes`) and facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpbinOptions {
    /// Longest `/delay`, `/drip` (delay plus duration), `/sse` and `/range?duration=`.
    pub max_duration: Duration,
    /// Largest generated body: `/bytes`, `/stream-bytes`, `/range`, `/drip`.
    pub max_generated_bytes: u64,
    /// What `/hostname` says.
    pub hostname: String,
    /// `--trusted-proxies`: when set, `X-Forwarded-*` fields are believed only from a client
    /// in these blocks; when not, from anyone (httpbin's own behaviour).
    pub trusted_proxies: Option<TrustedProxies>,
    /// httpbin's own CORS answers (every origin, with credentials); off when `--cors-origin`
    /// sets a policy for every route.
    pub own_cors: bool,
}

impl HttpbinOptions {
    /// Whether a request from `client` may say, in `X-Forwarded-*`, whom it forwards.
    pub fn believes_forwarding_from(&self, client: Option<std::net::SocketAddr>) -> bool {
        match &self.trusted_proxies {
            None => true,
            Some(trusted) => client.is_some_and(|c| trusted.contains(c.ip())),
        }
    }
}

/// Where the request controls are read from (`--controls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlMode {
    /// Query parameters and `X-Echo-*` headers.
    On,
    /// `X-Echo-*` headers only: every query string is the route's own (httpbin's `args`).
    Headers,
    Off,
}

/// The request controls' options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlOptions {
    pub mode: ControlMode,
    /// `--default-params`: controls applied to every request, as a query string.
    pub defaults: Option<Vec<u8>>,
    /// Longest delay, drip pause or stall (`--max-duration`).
    pub max_delay: Duration,
    /// Largest generated body or chunk (`--max-generated-bytes`).
    pub max_size: u64,
}

impl Default for ControlOptions {
    fn default() -> ControlOptions {
        ControlOptions {
            mode: ControlMode::On,
            defaults: None,
            max_delay: HTTPBIN_MAX_DURATION,
            max_size: HTTPBIN_MAX_GENERATED_BYTES,
        }
    }
}

/// go-httpbin's defaults: 10 s and 1 MiB.
pub const HTTPBIN_MAX_DURATION: Duration = Duration::from_secs(10);
pub const HTTPBIN_MAX_GENERATED_BYTES: u64 = 1024 * 1024;

impl Default for HttpbinOptions {
    fn default() -> HttpbinOptions {
        HttpbinOptions {
            max_duration: HTTPBIN_MAX_DURATION,
            max_generated_bytes: HTTPBIN_MAX_GENERATED_BYTES,
            hostname: "prefork-server".into(),
            trusted_proxies: None,
            own_cors: true,
        }
    }
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits::new(MAX_HEAD_BYTES, MAX_URI_BYTES, MAX_BODY_BYTES)
    }
}

/// How long a connection may sit in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For a whole request head to arrive, from its first byte (or from accept): 408 and close.
    pub header: Duration,
    /// Between two reads of a request body.
    pub body: Duration,
    /// An idle HTTP connection between requests.
    pub keepalive: Duration,
    /// Between two writes while output is pending (a client that stops reading).
    pub send: Duration,
    /// An echo connection with no traffic either way.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            header: Duration::from_secs(10),
            body: Duration::from_secs(60),
            keepalive: Duration::from_secs(75),
            send: Duration::from_secs(60),
            idle: Duration::from_secs(300),
        }
    }
}

/// Bytes a worker reads per `recv(2)` call and keeps per connection while it has input pending
/// (more when `--max-header-bytes` needs it: see [`read_buffer_bytes`]).
pub const READ_BUF_BYTES: usize = 16 * 1024;

/// The size of a connection's pooled read and write buffers: [`READ_BUF_BYTES`], or more so a
/// head of the largest size allowed still leaves room for a chunk-size line after it (a
/// chunked body is framed in place behind its head).
pub fn read_buffer_bytes(max_head_bytes: usize) -> usize {
    READ_BUF_BYTES.max(max_head_bytes + 4096)
}

/// Unsent output above which a connection stops producing more (and so stops reading):
/// echo's backpressure bound and HTTP's pipelining bound. Below the write buffer's size, so
/// small responses never make it grow; a larger body is held outside it, in the budget.
pub const OUTPUT_HIGH_WATER: usize = 16 * 1024;

/// Default largest request line plus headers (431 above it): a target of `MAX_URI_BYTES` and
/// about 8 KiB of headers.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Default largest request-target (414 above it): RFC 9110 §4.1 asks for at least 8000 octets.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The default memory budget per worker is a quarter of the memory this server may use shared
/// among the workers, within these bounds: enough for a few bodies of the largest default size,
/// and never so much that a client mix can push one worker far past it.
pub const MEMORY_BUDGET_MIN: u64 = 16 * 1024 * 1024;
pub const MEMORY_BUDGET_MAX: u64 = 128 * 1024 * 1024;

/// The default `--memory-budget` for `workers` workers on a machine (or cgroup) with
/// `memory` bytes: see [`MEMORY_BUDGET_MIN`].
pub fn default_memory_budget(memory: Option<u64>, workers: usize) -> u64 {
    let share = memory.map_or(MEMORY_BUDGET_MAX, |m| m / 4 / workers.max(1) as u64);
    share.clamp(MEMORY_BUDGET_MIN, MEMORY_BUDGET_MAX)
}

/// Buffers a worker keeps in its pool beyond what it used during the last second (the pool
/// trims the rest, and the allocator gives the pages back).
pub const BUFFER_POOL_RESERVE: usize = 32;

/// Most header fields accepted in one request (431 above it).
pub const MAX_HEADERS: usize = 100;

/// Default largest request body (413 above it).
pub const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// How many connections one wake-up of the listener may accept before the loop serves others.
pub const ACCEPT_BUDGET: usize = 128;

/// While draining, an idle keep-alive connection is closed after this long without a request.
pub const DRAIN_IDLE_GRACE: Duration = Duration::from_secs(1);

/// How long a closing connection may keep sending us bytes after our final response.
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// TCP_DEFER_ACCEPT by default, as nginx's `listen ... deferred` (which also uses 1 s): both our
/// protocols have the client speak first, so a worker is woken once per connection, with the
/// request already there, instead of once for the handshake and again for the request. A client
/// that connects and says nothing is handed over after about this long anyway, when the kernel's
/// SYN-ACK retransmission is answered.
pub const DEFAULT_DEFER_ACCEPT_SECS: u32 = 1;

/// How long accepting stays paused after EMFILE/ENFILE unless a connection closes first.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(500);

/// How many idle buffers a worker keeps for reuse instead of returning them to the allocator.
pub const BUFFER_POOL_MAX: usize = 1024;

/// Descriptors a worker keeps out of its connection budget (listener, epoll, pipes, logs).
pub const RESERVED_FDS: usize = 64;

/// Connections a worker holds at most on `--metrics-port` (beyond them, the kernel queues):
/// enough for every scraper and operator, kept out of the main port's descriptors.
pub const METRICS_MAX_CONNS: usize = 64;

/// After hitting `max_conns`, accepting resumes only below this share of it (in percent), so a
/// worker at its cap does not flap between accepting and refusing.
pub const RESUME_ACCEPT_PERCENT: usize = 90;

/// `--cpu-affinity`: nginx's `worker_cpu_affinity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuAffinity {
    /// Let the scheduler place workers.
    None,
    /// Worker i on the i-th CPU this process may use (wrapping around).
    Auto,
    /// Worker i on `cpus[i % len]`.
    List(Vec<usize>),
}

impl CpuAffinity {
    /// The CPU for the worker in `slot`, if it is to be pinned; `allowed` is the affinity mask.
    pub fn cpu_for(&self, slot: usize, allowed: &[usize]) -> Option<usize> {
        match self {
            CpuAffinity::None => None,
            CpuAffinity::Auto => (!allowed.is_empty()).then(|| allowed[slot % allowed.len()]),
            CpuAffinity::List(cpus) => (!cpus.is_empty()).then(|| cpus[slot % cpus.len()]),
        }
    }
}

/// A size in bytes: plain (`65536`) or with `k`, `m` or `g` (powers of 1024: `16k`, `8m`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a size such as 65536, 16k, 8m or 1g, got {s:?}"))?;
    // Compared without lowering a copy: the request controls parse sizes per request.
    let is = |names: &[&str]| names.iter().any(|n| unit.eq_ignore_ascii_case(n));
    let scale: u64 = if is(&["", "b"]) {
        1
    } else if is(&["k", "kb", "kib"]) {
        1 << 10
    } else if is(&["m", "mb", "mib"]) {
        1 << 20
    } else if is(&["g", "gb", "gib"]) {
        1 << 30
    } else {
        return Err(format!("unknown unit {unit:?}: use k, m or g"));
    };
    n.checked_mul(scale).ok_or_else(|| "too large".to_string())
}
