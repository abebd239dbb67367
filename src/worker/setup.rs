//! Building a worker from what the master handed it: its descriptors in epoll, its stats slot
//! stamped, its limits, buffers and pre-rendered response.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tracing::debug;

use super::accept::Acceptor;
use super::listen::speaks_tls;
use super::slab::Slab;
use super::timer::TimerWheel;
use super::wakeups::Wakeups;
use super::{Site, TlsSite, Worker, WorkerInit, CHANNEL, LISTENER, METRICS, SIGNAL, TLS_LISTENER};
use crate::access_log::AccessLog;
use crate::app::{self, App};
use crate::buffer::BufPool;
use crate::config::{self, LogFormat};
use crate::ids::WorkerId;
use crate::memory::Budget;
use crate::proto::h1;
use crate::sys::epoll::{Interest, Poller};
use crate::sys::rlimit;

/// The connection cap when none is given: what the fd limit leaves after the reserved
/// descriptors (and the metrics port's own share, if it is on), and no more than this worker's
/// share of the system-wide file table.
fn default_max_conns(workers: usize, metrics_port: bool, files: bool) -> usize {
    let reserved = config::RESERVED_FDS
        + if metrics_port {
            config::METRICS_MAX_CONNS
        } else {
            0
        }
        + if files { app::files::CACHE_FDS } else { 0 };
    let by_rlimit = rlimit::nofile_soft().saturating_sub(reserved as u64);
    let by_system = rlimit::file_max() / workers.max(1) as u64;
    usize::try_from(by_rlimit.min(by_system))
        .unwrap_or(usize::MAX)
        .max(1)
}

/// `--max-requests` plus a jitter drawn from this process's pid and the clock, so workers
/// started together do not all recycle together.
fn recycle_threshold(max: Option<u64>, jitter: u64) -> Option<u64> {
    let max = max?;
    if jitter == 0 {
        return Some(max);
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = (u64::from(std::process::id()) << 32) ^ u64::from(nanos);
    Some(max + seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) % (jitter + 1))
}

impl<'a> Worker<'a> {
    /// Registers the worker's descriptors, stamps its stats slot and prepares what every
    /// response draws on.
    pub(super) fn new(init: WorkerInit<'a>) -> io::Result<Worker<'a>> {
        // Forked workers would otherwise share the generator's state and repeat each other.
        crate::rand::reseed_from_os();
        let poller = Poller::new()?;
        poller.add(init.signals.fd(), SIGNAL, Interest::READABLE)?;
        init.channel.set_nonblocking(true)?;
        poller.add(init.channel.as_fd(), CHANNEL, Interest::READABLE)?;
        let listen_interest = if init.config.shared_listener {
            Interest::EXCLUSIVE_READABLE
        } else {
            Interest::READABLE
        };
        poller.add(init.listener.as_fd(), LISTENER, listen_interest)?;
        if let Some(fd) = &init.tls_listener {
            poller.add(fd.as_fd(), TLS_LISTENER, listen_interest)?;
        }
        if let Some(fd) = &init.metrics_listener {
            poller.add(fd.as_fd(), METRICS, Interest::EXCLUSIVE_READABLE)?;
        }
        for (i, fd) in init.adopted.iter().enumerate() {
            poller.add(
                fd.as_fd(),
                super::listen::adopted_token(i),
                Interest::EXCLUSIVE_READABLE,
            )?;
        }
        let cfg = &init.config;
        let started = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        init.stats
            .pid
            .store(u64::from(std::process::id()), Ordering::Relaxed);
        init.stats.slot.store(init.slot as u64, Ordering::Relaxed);
        init.stats
            .generation
            .store(init.generation, Ordering::Relaxed);
        init.stats
            .started_unix_secs
            .store(started, Ordering::Relaxed);
        let max_conns = cfg.max_conns.unwrap_or_else(|| {
            default_max_conns(cfg.workers, cfg.metrics_port.is_some(), cfg.files.is_some())
        });
        // The read buffer must hold a whole head of the largest size allowed; with TLS, every
        // buffer a whole record.
        let mut buf_size = config::read_buffer_bytes(cfg.limits.max_head_bytes);
        let tls = init.tls.map(|config| TlsSite {
            config,
            on_main_port: cfg.tls.as_ref().is_some_and(|t| t.on_main_port()),
            port: cfg.tls.as_ref().and_then(|t| t.port),
        });
        if tls.is_some() {
            buf_size = buf_size.max(crate::transport::tls::MIN_BUFFER);
        }
        let adopted_tls = init
            .adopted
            .iter()
            .map(|fd| speaks_tls(tls.as_ref(), fd))
            .collect();
        init.stats
            .memory_budget_bytes
            .store(cfg.memory_budget, Ordering::Relaxed);
        let life = &cfg.lifecycle;
        let access_log = match &cfg.access_log {
            Some(spec) => Some(RefCell::new(
                AccessLog::open(spec, cfg.log_format == LogFormat::Json)
                    .map_err(|e| io::Error::new(e.kind(), format!("the access log {spec}: {e}")))?,
            )),
            None => None,
        };
        debug!(max_conns, "worker limits");
        let worker = WorkerId {
            pid: std::process::id(),
            slot: init.slot as u32,
            generation: init.generation,
        };
        let app = App::new(
            cfg,
            worker,
            init.stats,
            init.all_stats,
            init.master_stats,
            rlimit::nofile_soft(),
        )?;
        Ok(Worker {
            poller,
            listener: Some(init.listener),
            tls_listener: init.tls_listener,
            adopted_tls,
            tls,
            ready_adopted: Vec::with_capacity(init.adopted.len()),
            adopted: init.adopted,
            metrics_listener: init.metrics_listener,
            metrics_conns: 0,
            metrics_paused: None,
            paused: None,
            channel: init.channel,
            signals: init.signals,
            protocol: cfg.protocol,
            echo: cfg.echo,
            proxy: cfg.proxy.clone(),
            conns: Slab::with_capacity(max_conns),
            max_conns,
            listen_interest,
            defer_accept: Duration::from_secs(cfg.defer_accept.into()),
            again: Vec::new(),
            last_memory_wake: None,
            timers: TimerWheel::new(Instant::now()),
            wakeups: Wakeups::new(),
            timeouts: cfg.timeouts,
            acceptor: Acceptor::new(),
            pool: BufPool::new(buf_size, config::BUFFER_POOL_MAX),
            site: Site {
                access_log,
                http: h1::Site {
                    limits: h1::Limits::new(cfg.limits, app::CONTROL_MARKER),
                    prerendered: h1::Prerendered::new(SystemTime::now(), &app.static_routes()),
                    http2: cfg.http2,
                    stall: cfg.timeouts.body.max(cfg.timeouts.send),
                },
                stats: init.stats,
                draining: false,
                served: Cell::new(0),
                work: Cell::new(0),
                budget: Budget::new(cfg.memory_budget),
                pid: std::process::id(),
            },
            app,
            recycle_after: recycle_threshold(life.max_requests, life.max_requests_jitter),
            stats: init.stats,
            heartbeat_every: (life.worker_timeout / 4)
                .clamp(Duration::from_millis(10), Duration::from_secs(1)),
        })
    }
}
