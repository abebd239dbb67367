//! Before the first fork: the open-file limit, and the listening sockets — bound here, inherited
//! from an upgrading master, or passed by systemd (`LISTEN_FDS`). With `--tls-port` there are
//! two sets, one per port: a passed socket belongs to the TLS set when systemd names it `tls`
//! or `https` (`FileDescriptorName=`), listens on `--tls-port`, or an upgrading master passed
//! it as one (`PREFORK_UPGRADE_TLS_FDS`).

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

/// The sockets of both ports: the main one's, and `--tls-port`'s when it is on.
pub struct Sockets {
    pub main: Listeners,
    pub tls: Option<Listeners>,
}

/// Environment of a binary upgrade: the listening fds in slot order, comma-separated.
pub const UPGRADE_FDS: &str = "PREFORK_UPGRADE_FDS";
/// Environment of a binary upgrade: `--tls-port`'s listening fds, in slot order.
pub const UPGRADE_TLS_FDS: &str = "PREFORK_UPGRADE_TLS_FDS";

/// The names systemd's `FileDescriptorName=` gives a socket that speaks TLS.
const TLS_FD_NAMES: [&str; 2] = ["tls", "https"];
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

/// The sockets to serve: inherited (upgrade, then systemd) if any were passed, else bound;
/// `--tls-port`'s as well when it is on (what was not passed for it is bound).
///
/// # Errors
/// A bind failure (naming the address), or passed fds that are not listening sockets.
pub fn listeners(config: &Config) -> Result<Sockets, Error> {
    let tls_port = config.tls.as_ref().and_then(|t| t.port);
    let (source, main, tls) = match passed_fds() {
        Some(passed) => {
            let (main, tls) = sort_passed(passed.fds, tls_port)?;
            (Some(passed.source), main, tls)
        }
        None => (None, Vec::new(), Vec::new()),
    };
    let main = adopt_or_bind(main, config.addr, source, config)?;
    apply_socket_options(&main.fds, config);
    let tls = match tls_port {
        Some(port) => {
            let addr = SocketAddr::new(main.addr.ip(), port);
            let tls = adopt_or_bind(tls, addr, source, config)?;
            apply_socket_options(&tls.fds, config);
            Some(tls)
        }
        None if !tls.is_empty() => {
            warn!(
                count = tls.len(),
                "sockets for TLS were passed but --tls-port is not given; closing them"
            );
            None
        }
        None => None,
    };
    Ok(Sockets { main, tls })
}

/// One port's sockets: the passed ones fitted to the workers, or all bound on `addr`.
fn adopt_or_bind(
    fds: Vec<OwnedFd>,
    addr: SocketAddr,
    source: Option<&'static str>,
    config: &Config,
) -> Result<Listeners, Error> {
    let Some(first) = fds.first() else {
        return bind_all(addr, config);
    };
    let addr = net::local_addr(first).map_err(|source| Error::Setup {
        what: "the inherited listener's address",
        source,
    })?;
    let source = source.unwrap_or("systemd");
    info!(count = fds.len(), source, %addr, "using inherited listening sockets");
    fit_to_workers(fds, addr, config, source == "upgrade")
}

/// Descriptors passed at exec, each with whether it is known to speak TLS (`Some(true)`: an
/// upgrading master said so, or systemd named it so).
struct Passed {
    source: &'static str,
    fds: Vec<(RawFd, Option<bool>)>,
}

/// Takes ownership of the passed descriptors, and sorts them into the main port's and the TLS
/// port's: by what the passer said, else by the port they listen on.
fn sort_passed(
    passed: Vec<(RawFd, Option<bool>)>,
    tls_port: Option<u16>,
) -> Result<(Vec<OwnedFd>, Vec<OwnedFd>), Error> {
    let (mut main, mut tls) = (Vec::new(), Vec::new());
    for (raw, said) in passed {
        let fd = net::adopt_listener(raw).map_err(|source| Error::Setup {
            what: "a listener from an inherited descriptor",
            source,
        })?;
        let speaks_tls = said.unwrap_or_else(|| {
            let port = net::local_addr(&fd).map(|a| a.port()).ok();
            tls_port.is_some_and(|p| p != 0 && port == Some(p))
        });
        if speaks_tls {
            tls.push(fd);
        } else {
            main.push(fd);
        }
    }
    Ok((main, tls))
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
fn passed_fds() -> Option<Passed> {
    let list = |var| -> Vec<RawFd> {
        let value = std::env::var(var).unwrap_or_default();
        std::env::remove_var(var);
        value.split(',').filter_map(|s| s.parse().ok()).collect()
    };
    if std::env::var_os(UPGRADE_FDS).is_some() || std::env::var_os(UPGRADE_TLS_FDS).is_some() {
        let main = list(UPGRADE_FDS).into_iter().map(|fd| (fd, Some(false)));
        let tls = list(UPGRADE_TLS_FDS).into_iter().map(|fd| (fd, Some(true)));
        let fds: Vec<_> = main.chain(tls).collect();
        return (!fds.is_empty()).then_some(Passed {
            source: "upgrade",
            fds,
        });
    }
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let count: RawFd = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    // sd_listen_fds(3): the variables are for this process only, and fds start at 3; the
    // names (sd_listen_fds_with_names) are colon-separated, in the same order.
    if pid != std::process::id() || count <= 0 {
        return None;
    }
    let mut names = names.split(':');
    let fds = (3..3 + count)
        .map(|fd| {
            let name = names.next().unwrap_or("");
            (fd, TLS_FD_NAMES.contains(&name).then_some(true))
        })
        .collect();
    Some(Passed {
        source: "systemd",
        fds,
    })
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

/// Binds one SO_REUSEPORT socket per worker on `addr`. Port 0 binds the first to a free port
/// and the rest to the same one. Nothing is forked yet, so a failure here leaves nothing behind.
fn bind_all(addr: SocketAddr, config: &Config) -> Result<Listeners, Error> {
    let mut addr = addr;
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
    /// The addresses can be bound (a socket was bound and closed again): the main port's, and
    /// `--tls-port`'s.
    Bindable {
        main: SocketAddr,
        tls: Option<SocketAddr>,
    },
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
            Checked::Bindable { main, tls: None } => write!(f, "{main} can be bound"),
            Checked::Bindable {
                main,
                tls: Some(tls),
            } => write!(f, "{main} and {tls} (TLS) can be bound"),
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
    if let Some(passed) = passed_fds() {
        let (from, raw): (_, Vec<RawFd>) =
            (passed.source, passed.fds.iter().map(|f| f.0).collect());
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
    let bound = check_bind(config.addr, config)?;
    // `--port 0` asks not to try the real port (a systemd unit's check, while the running
    // server or the socket unit holds it): the TLS port is not tried either then.
    let tls_port = config.tls.as_ref().and_then(|t| t.port).map(|port| {
        if config.addr.port() == 0 {
            0
        } else {
            port
        }
    });
    let tls = tls_port
        .map(|port| check_bind(SocketAddr::new(config.addr.ip(), port), config))
        .transpose()?;
    Ok(Checked::Bindable { main: bound, tls })
}

/// Binds `addr` (and closes the socket again): what it was bound to.
fn check_bind(addr: SocketAddr, config: &Config) -> Result<SocketAddr, Error> {
    if addr.port() != 0 {
        net::ensure_port_free(addr).map_err(|source| Error::Bind { addr, source })?;
    }
    let fd =
        net::bind_reuseport(addr, config.backlog).map_err(|source| Error::Bind { addr, source })?;
    net::local_addr(&fd).map_err(|source| Error::Bind { addr, source })
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

/// With `--user`: the log files a worker opens (the access log) or reopens (the log file, after
/// SIGUSR1) are created here, by the master, and given to the workers' user, as nginx does, so
/// a worker needs no write access to their directory. Without it, a root master says that its
/// workers serve as root.
///
/// # Errors
/// A file that cannot be created or handed over.
pub(super) fn hand_over_logs(config: &Config) -> Result<(), Error> {
    let Some(identity) = &config.identity else {
        if nix::unistd::Uid::effective().is_root() {
            warn!(
                "running as root without --user: the workers serve as root too; give --user \
                 (e.g. --user nobody) to drop it"
            );
        }
        return Ok(());
    };
    for path in worker_log_files(config) {
        identity.hand_over(path).map_err(|e| {
            Error::Config(format!(
                "could not hand {} over to {identity}: {e}",
                path.display()
            ))
        })?;
    }
    info!(user = %identity, "workers will serve as this user");
    Ok(())
}

/// The files a worker writes by path: the access log (unless stdout) and the log file.
pub(super) fn worker_log_files(config: &Config) -> impl Iterator<Item = &std::path::Path> {
    let access = config
        .access_log
        .as_deref()
        .filter(|spec| *spec != "-")
        .map(std::path::Path::new);
    access
        .into_iter()
        .chain(config.lifecycle.log_file.as_deref())
}
