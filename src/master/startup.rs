//! Before the first fork: the open-file limit, and the listening sockets — bound here, inherited
//! from an upgrading master, or passed by systemd (`LISTEN_FDS`).

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd, RawFd};

use tracing::{info, warn};

use crate::config::Config;
use crate::error::Error;
use crate::sys::{net, rlimit};

/// The listening sockets, one per worker slot, and the address they serve.
pub struct Listeners {
    pub fds: Vec<OwnedFd>,
    pub addr: SocketAddr,
    /// Fewer sockets were passed than workers: slots share them (EPOLLEXCLUSIVE).
    pub shared: bool,
    /// Sockets an upgrade passed beyond one per worker: kept for good and polled by every
    /// worker (EPOLLEXCLUSIVE), since closing one would reset what the kernel queues on it.
    pub adopted: Vec<OwnedFd>,
}

/// Environment of a binary upgrade: the listening fds in slot order, comma-separated.
pub const UPGRADE_FDS: &str = "PREFORK_UPGRADE_FDS";
/// Environment of a binary upgrade: the fd on which the new master says it is ready.
pub const UPGRADE_READY_FD: &str = "PREFORK_UPGRADE_READY_FD";

pub fn raise_nofile_limit(config: &Config) {
    match rlimit::raise_nofile(config.max_fds) {
        Ok(r) => {
            if let Some((wanted, errno)) = r.hard_refused {
                info!(
                    hard = r.after.1,
                    wanted,
                    %errno,
                    "could not raise the open-file hard limit (no CAP_SYS_RESOURCE); keeping it"
                );
            }
            info!(
                soft_before = r.before.0,
                hard_before = r.before.1,
                soft = r.after.0,
                hard = r.after.1,
                "open-file limit (RLIMIT_NOFILE)"
            );
        }
        Err(errno) => {
            warn!(%errno, "could not read or set RLIMIT_NOFILE; keeping the current limit")
        }
    }
}

pub fn warn_if_backlog_capped(backlog: i32) {
    if let Some(max) = net::somaxconn() {
        if max < backlog {
            warn!(
                backlog,
                somaxconn = max,
                "listen backlog is capped by net.core.somaxconn; raise the sysctl for a longer queue"
            );
        }
    }
}

/// The sockets to serve: inherited (upgrade, then systemd) if any were passed, else bound.
///
/// # Errors
/// A bind failure (naming the address), or passed fds that are not listening sockets.
pub fn listeners(config: &Config) -> Result<Listeners, Error> {
    let Some((source, raw)) = passed_fds() else {
        let listeners = bind_all(config)?;
        apply_socket_options(&listeners.fds, config);
        return Ok(listeners);
    };
    let mut fds = Vec::with_capacity(raw.len());
    for fd in raw {
        let owned = net::adopt_listener(fd).map_err(|source| Error::Setup {
            what: "a listener from an inherited descriptor",
            source,
        })?;
        fds.push(owned);
    }
    let addr = net::local_addr(&fds[0]).map_err(|source| Error::Setup {
        what: "the inherited listener's address",
        source,
    })?;
    info!(count = fds.len(), source, %addr, "using inherited listening sockets");
    let listeners = fit_to_workers(fds, addr, config, source == "upgrade")?;
    apply_socket_options(&listeners.fds, config);
    Ok(listeners)
}

/// Options set on every listener, bound or inherited; an accepted connection inherits them,
/// so they cost no syscall per connection.
///
/// Each is set even when it is off, so an inherited socket (an upgrade's, or systemd's with
/// `DeferAcceptSec=`) ends up as the command line says.
pub fn apply_socket_options(fds: &[OwnedFd], config: &Config) {
    for fd in fds {
        if let Err(e) = net::set_defer_accept(fd, config.defer_accept) {
            warn!(error = %e, "could not set TCP_DEFER_ACCEPT");
        }
        if let Err(e) = net::set_notsent_lowat(fd, config.send_lowat) {
            warn!(error = %e, "could not set TCP_NOTSENT_LOWAT");
        }
    }
}

/// Descriptors passed at exec: an upgrading master's, or systemd's socket activation.
fn passed_fds() -> Option<(&'static str, Vec<RawFd>)> {
    if let Ok(list) = std::env::var(UPGRADE_FDS) {
        std::env::remove_var(UPGRADE_FDS);
        let fds: Vec<RawFd> = list.split(',').filter_map(|s| s.parse().ok()).collect();
        return (!fds.is_empty()).then_some(("upgrade", fds));
    }
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let count: RawFd = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    // sd_listen_fds(3): the variables are for this process only, and fds start at 3.
    (pid == std::process::id() && count > 0).then(|| ("systemd", (3..3 + count).collect()))
}

/// One socket per worker: missing ones are bound on the same address (SO_REUSEPORT), or, if
/// that fails, the slots share the passed ones. Extra sockets from an upgrade are adopted: the
/// kernel spreads new connections over every socket of the port, so one that nobody polls
/// would leave its clients waiting, and closing it (once the old master lets go too) would reset
/// what waits in its queue. Extra sockets from systemd are closed (systemd keeps its own
/// reference).
fn fit_to_workers(
    mut fds: Vec<OwnedFd>,
    addr: SocketAddr,
    config: &Config,
    from_upgrade: bool,
) -> Result<Listeners, Error> {
    if fds.len() > config.workers && from_upgrade {
        let adopted = fds.split_off(config.workers);
        info!(
            passed = fds.len() + adopted.len(),
            workers = config.workers,
            "more inherited sockets than workers: every worker also polls the extra ones"
        );
        return Ok(Listeners {
            fds,
            addr,
            shared: false,
            adopted,
        });
    }
    if fds.len() > config.workers {
        warn!(
            passed = fds.len(),
            workers = config.workers,
            "more sockets than workers; closing the rest"
        );
        fds.truncate(config.workers);
    }
    let mut shared = false;
    while fds.len() < config.workers {
        let next = match net::bind_reuseport(addr, config.backlog) {
            Ok(fd) => fd,
            Err(_) => {
                shared = true;
                let original = &fds[fds.len() % fds.len().max(1)];
                original
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|source| Error::Setup {
                        what: "a shared listener",
                        source,
                    })?
            }
        };
        fds.push(next);
    }
    if shared {
        info!("workers share the passed sockets (EPOLLEXCLUSIVE)");
    }
    Ok(Listeners {
        fds,
        addr,
        shared,
        adopted: Vec::new(),
    })
}

/// Binds one SO_REUSEPORT socket per worker. Port 0 binds the first to a free port and the rest
/// to the same one. Nothing is forked yet, so a failure here leaves nothing behind.
fn bind_all(config: &Config) -> Result<Listeners, Error> {
    let mut addr = config.addr;
    let bind_error = |addr, source| Error::Bind { addr, source };
    if addr.port() != 0 {
        net::ensure_port_free(addr).map_err(|e| bind_error(addr, e))?;
    }
    let mut fds = Vec::with_capacity(config.workers);
    for index in 0..config.workers {
        let fd = net::bind_reuseport(addr, config.backlog).map_err(|e| bind_error(addr, e))?;
        if index == 0 {
            addr = net::local_addr(&fd).map_err(|e| bind_error(addr, e))?;
        }
        fds.push(fd);
    }
    Ok(Listeners {
        fds,
        addr,
        shared: false,
        adopted: Vec::new(),
    })
}

/// `--metrics-port`'s listener on the same address, SO_REUSEPORT so that a binary upgrade's new
/// master can bind it too while the old one still holds it.
///
/// # Errors
/// The bind failure, naming the address.
pub fn metrics_listener(config: &Config, main: SocketAddr) -> Result<Option<OwnedFd>, Error> {
    let Some(port) = config.metrics_port else {
        return Ok(None);
    };
    let addr = SocketAddr::new(main.ip(), port);
    let fd =
        net::bind_reuseport(addr, config.backlog).map_err(|source| Error::Bind { addr, source })?;
    let bound = net::local_addr(&fd).map_err(|source| Error::Bind { addr, source })?;
    // Deferred like the main listeners, so the workers accept from both the same way.
    apply_socket_options(std::slice::from_ref(&fd), config);
    info!("serving /metrics and /status on {bound}");
    Ok(Some(fd))
}

/// What `--check` found usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The address can be bound (a socket was bound and closed again).
    Bindable(SocketAddr),
    /// Listening sockets were passed (systemd's `LISTEN_FDS`, or an upgrading master's), and
    /// every one is a listening TCP socket; the first listens on `addr`.
    Inherited {
        count: usize,
        source: &'static str,
        addr: SocketAddr,
    },
}

impl std::fmt::Display for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Checked::Bindable(addr) => write!(f, "{addr} can be bound"),
            Checked::Inherited {
                count,
                source,
                addr,
            } => write!(
                f,
                "{count} listening socket(s) passed by {source}, on {addr}"
            ),
        }
    }
}

/// `--check`: the configuration parsed, and the sockets can be had: the passed ones are
/// listening sockets, or, when none were passed, the address can be bound (the socket is closed
/// again at once). Passed sockets are checked instead of a bind because their port is taken,
/// by the very socket passed: a binary upgrade checks its new binary this way.
///
/// # Errors
/// The bind failure, with its exit code, or a passed descriptor that is no listening socket.
pub fn check(config: &Config) -> Result<Checked, Error> {
    if let Some((from, raw)) = passed_fds() {
        let mut first = None;
        for fd in &raw {
            let owned = net::adopt_listener(*fd).map_err(|source| Error::Setup {
                what: "a listener from an inherited descriptor",
                source,
            })?;
            let here = net::local_addr(&owned).map_err(|source| Error::Setup {
                what: "the inherited listener's address",
                source,
            })?;
            first.get_or_insert(here);
        }
        if let Some(addr) = first {
            return Ok(Checked::Inherited {
                count: raw.len(),
                source: from,
                addr,
            });
        }
    }
    let addr = config.addr;
    if addr.port() != 0 {
        net::ensure_port_free(addr).map_err(|source| Error::Bind { addr, source })?;
    }
    let fd =
        net::bind_reuseport(addr, config.backlog).map_err(|source| Error::Bind { addr, source })?;
    let bound = net::local_addr(&fd).map_err(|source| Error::Bind { addr, source })?;
    Ok(Checked::Bindable(bound))
}

/// The pid file is written once the workers serve; its folder must exist now.
///
/// # Errors
/// If `--pid-file` names a file in a folder that does not exist.
pub fn check_pid_file_folder(config: &Config) -> Result<(), Error> {
    let folder = config
        .lifecycle
        .pid_file
        .as_deref()
        .and_then(|p| p.parent());
    match folder {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(Error::Setup {
            what: "the pid file (its folder does not exist)",
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }),
        _ => Ok(()),
    }
}

/// The fd on which this process, started by an upgrading master, reports that it is ready.
pub fn upgrade_ready_fd() -> Option<OwnedFd> {
    let raw: RawFd = std::env::var(UPGRADE_READY_FD).ok()?.parse().ok()?;
    std::env::remove_var(UPGRADE_READY_FD);
    crate::sys::net::adopt_channel(raw).ok()
}
