//! The command line: every option also comes from `PREFORK_<NAME>` in the environment.

mod admin;
mod compress;
mod cors;
mod echo;
mod files;
pub mod manual;
mod proxy;
mod tls;
mod upgrade;
mod user;
mod values;
mod websocket;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::config::{
    self, Config, CpuAffinity, HttpLimits, Lifecycle, LogFormat, ProtocolKind, Timeouts,
};
use crate::error::Error;
use crate::sys::cpus;

use self::values::{
    parse_affinity, parse_budget, parse_duration, parse_duration_or_zero, parse_header_size,
    parse_send_lowat, parse_workers,
};

/// A master/worker prefork HTTP/1.1 and echo server.
///
/// The master binds one SO_REUSEPORT socket per worker, forks the workers and respawns any that
/// dies. Signals: TERM/QUIT graceful stop, INT fast stop, HUP reload, USR2 binary upgrade,
/// WINCH park workers, TTIN/TTOU add/remove a worker, USR1 reopen the log file.
/// Log level from RUST_LOG (default info).
#[derive(Debug, Parser)]
#[command(name = "prefork-server", version = crate::VERSION, about, long_about = None)]
pub struct Cli {
    /// Worker processes: a number, or "auto" for the CPUs this process may use (affinity and cgroup quota).
    #[arg(long, env = "PREFORK_WORKERS", default_value = "auto", value_parser = parse_workers)]
    pub workers: Workers,

    /// TCP port to listen on; 0 picks a free port (the real one is logged).
    #[arg(long, env = "PREFORK_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Address to bind, IPv4 or IPv6 (e.g. 0.0.0.0, 127.0.0.1, ::, ::1).
    #[arg(long, env = "PREFORK_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Protocol spoken on every connection.
    #[arg(long, env = "PREFORK_PROTOCOL", value_enum, default_value_t = ProtocolArg::Http)]
    pub protocol: ProtocolArg,

    /// HTTP/2 beside HTTP/1.1: h2c by prior knowledge or Upgrade on the plain port, h2 by ALPN
    /// on TLS ("on", the default). "off" speaks HTTP/1.1 only: ALPN offers http/1.1 alone, the
    /// preface gets 505, Upgrade: h2c is ignored.
    #[arg(long, env = "PREFORK_HTTP2", value_enum, default_value = "on")]
    pub http2: Switch,

    /// listen(2) backlog per socket (the kernel caps it at net.core.somaxconn).
    #[arg(long, env = "PREFORK_BACKLOG", default_value_t = 4096, value_parser = clap::value_parser!(i32).range(1..))]
    pub backlog: i32,

    /// Upper bound for the open-file limit (RLIMIT_NOFILE); default: as many as the system allows.
    #[arg(long, env = "PREFORK_MAX_FDS", value_parser = clap::value_parser!(u64).range(64..))]
    pub max_fds: Option<u64>,

    /// Log line format on stderr.
    #[arg(long, env = "PREFORK_LOG_FORMAT", value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,

    /// On stop, how long workers get to exit before SIGKILL (e.g. 30, 30s, 500ms, 2m).
    #[arg(long, env = "PREFORK_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// Largest request line plus headers; larger gets 431. Sizes take k, m or g (16k).
    #[arg(long, env = "PREFORK_MAX_HEADER_BYTES", default_value = "16k", value_parser = parse_header_size)]
    pub max_header_bytes: u64,

    /// Largest request-target; longer gets 414. At most --max-header-bytes.
    #[arg(long, env = "PREFORK_MAX_URI_BYTES", default_value = "8k", value_parser = parse_header_size)]
    pub max_uri_bytes: u64,

    /// Largest request body, declared or chunked; larger gets 413 (a declared one unread).
    #[arg(long, env = "PREFORK_MAX_BODY_BYTES", default_value = "8m", value_parser = config::parse_size)]
    pub max_body_bytes: u64,

    /// What one worker may buffer for its clients (bodies waiting for an answer, answers waiting
    /// to be sent); at the budget, clients are paused, oldest resumed first. "auto": a quarter of
    /// the machine's (or cgroup's) memory over the workers, within 16m..128m.
    #[arg(long, env = "PREFORK_MEMORY_BUDGET", default_value = "auto", value_parser = parse_budget)]
    pub memory_budget: MemoryBudget,

    /// Time for a whole request head to arrive; a slow client gets 408 and a close.
    #[arg(long, env = "PREFORK_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Time allowed between two reads of a request body.
    #[arg(long, env = "PREFORK_BODY_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub body_timeout: Duration,

    /// How long an idle keep-alive connection is kept open between requests.
    #[arg(long, env = "PREFORK_KEEPALIVE_TIMEOUT", default_value = "75s", value_parser = parse_duration)]
    pub keepalive_timeout: Duration,

    /// Time allowed between two writes to a client that has stopped reading.
    #[arg(long, env = "PREFORK_SEND_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub send_timeout: Duration,

    /// How long an echo connection may go without traffic either way.
    #[arg(long, env = "PREFORK_IDLE_TIMEOUT", default_value = "300s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Connections per worker; at the cap it stops accepting until below 90%. Default: from the fd limit.
    #[arg(long, env = "PREFORK_MAX_CONNS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_conns: Option<u64>,

    /// On a graceful stop, answer /healthz with 503 for this long before unbinding (for load balancers).
    #[arg(long, env = "PREFORK_DRAIN_DELAY", default_value = "0s", value_parser = parse_duration_or_zero)]
    pub drain_delay: Duration,

    #[command(flatten)]
    pub upgrade: upgrade::UpgradeArgs,

    /// Kill and replace a worker whose event loop has not turned for this long.
    #[arg(long, env = "PREFORK_WORKER_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub worker_timeout: Duration,

    /// Recycle a worker gracefully after this many requests (guards against slow leaks).
    #[arg(long, env = "PREFORK_MAX_REQUESTS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_requests: Option<u64>,

    /// Add a random 0..=J to --max-requests per worker, so workers do not recycle together.
    #[arg(long, env = "PREFORK_MAX_REQUESTS_JITTER", default_value_t = 0)]
    pub max_requests_jitter: u64,

    /// Test aid: serve GET /debug/crash, /debug/hang and /debug/sleep?ms=N (404 without it).
    #[arg(long, env = "PREFORK_DEBUG_ROUTES")]
    pub debug_routes: bool,

    /// Write the master's pid to this file (atomically), removed at exit.
    #[arg(long, env = "PREFORK_PID_FILE")]
    pub pid_file: Option<std::path::PathBuf>,

    /// Append logs to this file instead of stderr; SIGUSR1 reopens it (for logrotate).
    #[arg(long, env = "PREFORK_LOG_FILE")]
    pub log_file: Option<std::path::PathBuf>,

    /// Pin workers to CPUs: "none", "auto" (worker i on CPU i), or a list such as 0,2,4.
    #[arg(long, env = "PREFORK_CPU_AFFINITY", default_value = "none", value_parser = parse_affinity)]
    pub cpu_affinity: CpuAffinity,

    /// Serve /metrics and /status on this port only (same --bind address), not on the main port;
    /// /healthz is served there too, and may be changed there (PUT, DELETE, ?fail=).
    #[arg(long, env = "PREFORK_METRICS_PORT")]
    pub metrics_port: Option<u16>,

    #[command(flatten)]
    pub admin: admin::AdminArgs,

    #[command(flatten)]
    pub echo: echo::EchoArgs,

    #[command(flatten)]
    pub proxy: proxy::ProxyArgs,

    #[command(flatten)]
    pub tls: tls::TlsArgs,

    #[command(flatten)]
    pub user: user::UserArgs,

    #[command(flatten)]
    pub websocket: websocket::WebSocketArgs,

    #[command(flatten)]
    pub cors: cors::CorsArgs,

    #[command(flatten)]
    pub compress: compress::CompressArgs,

    /// Serve files from this directory (GET, HEAD) for paths that are no built-in route; `/`
    /// serves its index file when there is one.
    #[arg(long, env = "PREFORK_ROOT")]
    pub root: Option<std::path::PathBuf>,

    /// Index file names tried, in order, for a path ending in / (comma-separated).
    #[arg(
        long,
        env = "PREFORK_INDEX",
        default_value = "index.html",
        value_delimiter = ','
    )]
    pub index: Vec<String>,

    /// Serve names that start with a dot (.git, .env); without it they are 404.
    #[arg(long, env = "PREFORK_DOTFILES")]
    pub dotfiles: bool,

    /// With --root: a GET or HEAD for a missing path whose last segment has no extension, from
    /// a client that takes HTML (Accept absent, text/html or */*), gets this file (relative to
    /// --root) with 200: a single-page application's routes. Files with an extension, and
    /// requests that accept only other types (an API call), still get 404.
    #[arg(long, env = "PREFORK_FALLBACK")]
    pub fallback: Option<String>,

    /// With --root: answer an error with this file's content and the error's status, e.g.
    /// 404=404.html (relative to --root; 403, 404, 500 and 503); repeatable. Never a redirect.
    #[arg(long, env = "PREFORK_ERROR_PAGE", value_parser = files::parse_error_page, value_delimiter = ',')]
    pub error_page: Vec<(u16, String)>,

    /// With --root: list a directory that has no index file (HTML, or JSON for
    /// `Accept: application/json` or `?format=json`): directories first, names, sizes, dates.
    #[arg(long, env = "PREFORK_AUTOINDEX")]
    pub autoindex: bool,

    /// With --autoindex: the most entries one listing shows; past it, the listing says it was
    /// cut.
    #[arg(long, env = "PREFORK_AUTOINDEX_MAX_ENTRIES", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub autoindex_max_entries: u64,

    /// A Cache-Control value for the files whose path (relative to --root) matches PATTERN,
    /// as PATTERN=VALUE, e.g. '*.js=public, max-age=31536000, immutable' or
    /// 'assets/*=public, max-age=3600' (one * at most); repeatable, the first match wins, and
    /// --cache-control is for the rest.
    #[arg(long, env = "PREFORK_CACHE_RULE", value_parser = files::parse_cache_rule)]
    pub cache_rule: Vec<(String, String)>,

    /// A Cache-Control value sent with every file (e.g. "public, max-age=3600").
    #[arg(long, env = "PREFORK_CACHE_CONTROL")]
    pub cache_control: Option<String>,

    /// The httpbin routes (/get, /post, /status/418, /delay/1, ...): on by default, off by
    /// default with --root (so a site's own /json or /status/ is served); "on" with --root puts
    /// them before the files.
    #[arg(long, env = "PREFORK_HTTPBIN", value_enum)]
    pub httpbin: Option<Switch>,

    /// Where request controls (?status=503:1&delay=5ms, X-Echo-Delay: 5ms) are read from: "on"
    /// (query and X-Echo-* headers), "headers" (headers only: every query is the route's own),
    /// or "off".
    #[arg(long, env = "PREFORK_CONTROLS", value_enum, default_value = "on")]
    pub controls: ControlsArg,

    /// Controls applied to every request, as a query string ("status=503:1&delay=5ms..20ms"),
    /// for clients that cannot change their requests; a request's own override them.
    #[arg(long, env = "PREFORK_DEFAULT_PARAMS")]
    pub default_params: Option<String>,

    /// Longest delay or duration the httpbin routes and the request controls accept (/delay,
    /// /drip, /sse, delay=, drip=, a stall); longer is 400.
    #[arg(long, env = "PREFORK_MAX_DURATION", default_value = "10s", value_parser = parse_duration)]
    pub max_duration: Duration,

    /// Largest body the httpbin routes generate (/bytes, /stream-bytes, /range, /drip); larger
    /// is 400. Sizes take k, m or g.
    #[arg(long, env = "PREFORK_MAX_GENERATED_BYTES", default_value = "1m", value_parser = config::parse_size)]
    pub max_generated_bytes: u64,

    /// Log one line per request to this file, or "-" for stdout (combined format, or JSON with --log-format json).
    #[arg(long, env = "PREFORK_ACCESS_LOG")]
    pub access_log: Option<String>,

    /// TCP_DEFER_ACCEPT in seconds (0 = off): the kernel hands a worker a new connection only
    /// once its first bytes arrive, so accepting it never costs an extra wake-up.
    #[arg(long, env = "PREFORK_DEFER_ACCEPT", default_value_t = config::DEFAULT_DEFER_ACCEPT_SECS,
          value_parser = clap::value_parser!(u32).range(0..=3600))]
    pub defer_accept: u32,

    /// Unsent bytes the kernel may hold for one connection (TCP_NOTSENT_LOWAT) before the
    /// socket stops being writable: bounds the kernel memory a client that does not read can
    /// make the server hold, whatever its answer's size. Sizes take k or m; 0 leaves it to
    /// the kernel (net.ipv4.tcp_notsent_lowat).
    #[arg(long, env = "PREFORK_SEND_LOWAT", default_value = "128k", value_parser = parse_send_lowat)]
    pub send_lowat: u32,

    /// `status`: print a running server's per-worker figures instead of starting one.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Validate the options and that the address can be bound, then exit (0, or the error's code).
    #[arg(long)]
    pub check: bool,
}

impl Cli {
    /// The httpbin routes' options, if they are on: by default unless a root is served.
    fn httpbin_options(&self, serving_files: bool) -> Option<config::HttpbinOptions> {
        let on = match self.httpbin {
            Some(switch) => switch == Switch::On,
            None => !serving_files,
        };
        on.then(|| config::HttpbinOptions {
            max_duration: self.max_duration,
            max_generated_bytes: self.max_generated_bytes,
            hostname: crate::sys::procfs::hostname().unwrap_or_else(|| "prefork-server".into()),
            trusted_proxies: self.proxy.trusted_proxies.clone(),
            own_cors: self.cors.cors_origin.is_empty(),
        })
    }

    /// The request controls' options; `--default-params` is parsed now, so a mistake in it is a
    /// usage error at start, not a 400 on every request.
    fn control_options(&self) -> Result<config::ControlOptions, Error> {
        let options = config::ControlOptions {
            mode: match self.controls {
                ControlsArg::On => config::ControlMode::On,
                ControlsArg::Headers => config::ControlMode::Headers,
                ControlsArg::Off => config::ControlMode::Off,
            },
            defaults: self.default_params.as_ref().map(|d| d.as_bytes().to_vec()),
            max_delay: self.max_duration,
            max_size: self.max_generated_bytes,
        };
        crate::app::controls::Controls::check_defaults(&options).map_err(|bad| {
            Error::Usage(format!(
                "--default-params: bad control {}: {}",
                bad.name, bad.why
            ))
        })?;
        Ok(options)
    }

    /// `--root` and its companions, checked: the root is a directory, the index names are
    /// plain names, the Cache-Control value is one header value.
    fn file_options(&self) -> Result<Option<crate::config::FileOptions>, Error> {
        let Some(root) = &self.root else {
            if self.fallback.is_some() || !self.error_page.is_empty() || !self.cache_rule.is_empty()
            {
                return Err(Error::Usage(
                    "--fallback, --error-page, --cache-rule and --autoindex are about files under \
                     --root: give --root"
                        .into(),
                ));
            }
            return Ok(None);
        };
        if !root.is_dir() {
            return Err(Error::Config(format!(
                "--root {}: not a directory (or not readable)",
                root.display()
            )));
        }
        let index: Vec<String> = self.index.iter().map(|n| n.trim().to_string()).collect();
        if index
            .iter()
            .any(|n| n.is_empty() || n.contains('/') || n.starts_with('.'))
        {
            return Err(Error::Usage(
                "--index takes plain file names (no slash, not starting with a dot)".into(),
            ));
        }
        if let Some(v) = &self.cache_control {
            if v.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
                return Err(Error::Usage(
                    "--cache-control holds a control character".into(),
                ));
            }
        }
        let fallback = self
            .fallback
            .as_deref()
            .map(|f| files::check_in_root(root, f, "--fallback"))
            .transpose()?;
        let error_pages = self
            .error_page
            .iter()
            .map(|(code, f)| Ok((*code, files::check_in_root(root, f, "--error-page")?)))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Some(crate::config::FileOptions {
            root: root.clone(),
            index,
            dotfiles: self.dotfiles,
            cache_control: self.cache_control.clone(),
            fallback,
            error_pages,
            cache_rules: self.cache_rule.clone(),
            autoindex: self
                .autoindex
                .then_some(usize::try_from(self.autoindex_max_entries).unwrap_or(usize::MAX)),
        }))
    }
}

/// Subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Fetch /status from a running server and print a table (per worker, plus totals).
    Status {
        /// The server's port.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The server's address.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
    },
    /// Ask a running server's /healthz: exit 0 if it answers 200, 1 otherwise (for a
    /// container's HEALTHCHECK, where no curl exists).
    Healthcheck {
        /// The server's port (the main port, or --metrics-port's).
        #[arg(long, env = "PREFORK_PORT", default_value_t = 8080)]
        port: u16,
        /// The server's address.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// How long to wait for the answer.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Write the man page (prefork-server.1) and shell completions (bash, zsh, fish) into DIR,
    /// from this binary's own options, so they always match --help.
    Generate {
        /// The directory to write into (created if missing).
        dir: std::path::PathBuf,
    },
}

/// `--controls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ControlsArg {
    On,
    Headers,
    Off,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `--memory-budget`: sized for the machine, or a number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryBudget {
    Auto,
    Bytes(u64),
}

/// `--workers`: a fixed count or the CPUs available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    Auto,
    Count(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    Http,
    Echo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl Cli {
    /// Resolves `auto` and the enums into the plain [`Config`] the processes share.
    ///
    /// # Errors
    /// Options that contradict each other (a target limit above the head limit).
    pub fn into_config(self) -> Result<Config, Error> {
        let workers = match self.workers {
            Workers::Count(n) => n,
            Workers::Auto => cpus::available(),
        };
        if self.max_uri_bytes > self.max_header_bytes {
            return Err(Error::Usage(format!(
                "--max-uri-bytes ({}) must not exceed --max-header-bytes ({}): the target is \
                 part of the head",
                self.max_uri_bytes, self.max_header_bytes
            )));
        }
        let files = self.file_options()?;
        let controls = self.control_options()?;
        let echo = self.echo.options(self.protocol == ProtocolArg::Echo)?;
        let admin_token = self.admin.token()?;
        let proxy = self.proxy.options()?;
        let tls = self.tls.options(self.port)?;
        let identity = self.user.identity()?;
        let websocket = self.websocket.options(self.max_duration)?;
        let cors = self.cors.options()?;
        let memory_budget = match self.memory_budget {
            MemoryBudget::Bytes(n) => n,
            MemoryBudget::Auto => {
                config::default_memory_budget(crate::sys::procfs::memory_limit(), workers)
            }
        };
        let compress = self.compress.options(memory_budget)?;
        Ok(Config {
            identity,
            workers,
            addr: SocketAddr::new(self.bind, self.port),
            protocol: match self.protocol {
                ProtocolArg::Http => ProtocolKind::Http,
                ProtocolArg::Echo => ProtocolKind::Echo,
            },
            backlog: self.backlog,
            max_fds: self.max_fds,
            log_format: match self.log_format {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            },
            shutdown_timeout: self.shutdown_timeout,
            limits: HttpLimits::new(
                self.max_header_bytes as usize,
                self.max_uri_bytes as usize,
                self.max_body_bytes,
            ),
            memory_budget,
            httpbin: self.httpbin_options(files.is_some()),
            http2: self.http2 == Switch::On,
            controls,
            files,
            compress,
            timeouts: Timeouts {
                header: self.header_timeout,
                body: self.body_timeout,
                keepalive: self.keepalive_timeout,
                send: self.send_timeout,
                idle: self.idle_timeout,
            },
            max_conns: self
                .max_conns
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            lifecycle: Lifecycle {
                drain_delay: self.drain_delay,
                worker_timeout: self.worker_timeout,
                max_requests: self.max_requests,
                max_requests_jitter: self.max_requests_jitter,
                debug_routes: self.debug_routes,
                upgrade_timeout: self.upgrade.upgrade_timeout,
                upgrade_mode: self.upgrade.mode(),
                pid_file: self.pid_file,
                log_file: self.log_file,
            },
            cpu_affinity: self.cpu_affinity,
            defer_accept: self.defer_accept,
            send_lowat: self.send_lowat,
            metrics_port: self.metrics_port,
            access_log: self.access_log,
            shared_listener: false,
            admin_token,
            echo,
            websocket,
            cors: cors.clone(),
            proxy,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_accepts_auto_and_counts() {
        assert_eq!(parse_workers("auto"), Ok(Workers::Auto));
        assert_eq!(parse_workers("AUTO"), Ok(Workers::Auto));
        assert_eq!(parse_workers("8"), Ok(Workers::Count(8)));
        assert!(parse_workers("0").is_err());
        assert!(parse_workers("-1").is_err());
        assert!(parse_workers("many").is_err());
        assert!(parse_workers("100000").is_err());
    }

    #[test]
    fn affinity() {
        assert_eq!(parse_affinity("none"), Ok(CpuAffinity::None));
        assert_eq!(parse_affinity("auto"), Ok(CpuAffinity::Auto));
        assert_eq!(parse_affinity("0,2"), Ok(CpuAffinity::List(vec![0, 2])));
        assert!(parse_affinity("cpu0").is_err());
        assert_eq!(CpuAffinity::List(vec![0, 2]).cpu_for(3, &[]), Some(2));
        assert_eq!(CpuAffinity::Auto.cpu_for(3, &[4, 5]), Some(5));
        assert_eq!(CpuAffinity::None.cpu_for(0, &[0]), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("99999999999999h").is_err());
        assert!(parse_duration("8d").is_err());
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let cfg = Cli::try_parse_from(["prefork-server"])
            .unwrap()
            .into_config()
            .unwrap();
        assert_eq!(cfg.timeouts, Timeouts::default());
        assert_eq!(cfg.limits, HttpLimits::default());
        assert_eq!(cfg.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(cfg.addr.port(), 8080);
    }

    #[test]
    fn sizes() {
        assert_eq!(config::parse_size("65536"), Ok(65536));
        assert_eq!(config::parse_size("16k"), Ok(16 * 1024));
        assert_eq!(config::parse_size("8M"), Ok(8 << 20));
        assert_eq!(config::parse_size("1g"), Ok(1 << 30));
        assert!(config::parse_size("1t").is_err());
        assert!(config::parse_size("k").is_err());
        assert!(config::parse_size("99999999999g").is_err());
        assert_eq!(parse_budget("auto"), Ok(MemoryBudget::Auto));
        assert_eq!(parse_budget("64m"), Ok(MemoryBudget::Bytes(64 << 20)));
        assert!(parse_budget("100k").is_err());
        assert!(parse_header_size("100").is_err());
    }

    #[test]
    fn the_target_limit_fits_in_the_head_limit() {
        let cli = Cli::try_parse_from(["prefork-server", "--max-uri-bytes", "20k"]).unwrap();
        assert!(cli.into_config().is_err());
    }

    #[test]
    fn budget_defaults_follow_the_machine() {
        use crate::config::{default_memory_budget, MEMORY_BUDGET_MAX, MEMORY_BUDGET_MIN};
        assert_eq!(default_memory_budget(Some(24 << 30), 2), MEMORY_BUDGET_MAX);
        assert_eq!(default_memory_budget(Some(512 << 20), 2), 64 << 20);
        assert_eq!(default_memory_budget(Some(256 << 20), 8), MEMORY_BUDGET_MIN);
        assert_eq!(default_memory_budget(None, 4), MEMORY_BUDGET_MAX);
    }

    #[test]
    fn ipv6_bind_parses() {
        let cli = Cli::try_parse_from(["prefork-server", "--bind", "::1", "--port", "0"]).unwrap();
        let cfg = cli.into_config().unwrap();
        assert_eq!(cfg.addr, "[::1]:0".parse().unwrap());
    }
}
