//! Mechanism for the master: the worker slot table, `fork`, and decoding `waitpid` statuses.
#![allow(unsafe_code)]

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Instant;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, getppid, ForkResult, Pid};
use rustls::ServerConfig;

use crate::config::Config;
use crate::error::{exit, Error};
use crate::signals::{self, Signals};
use crate::stats::{MasterStats, WorkerStats};
use crate::worker::{self, WorkerInit};

/// One running worker process, as the master sees it.
#[derive(Debug)]
pub(crate) struct WorkerProc {
    pub pid: Pid,
    /// Which generation of workers it belongs to (a reload bumps it).
    pub generation: u64,
    /// The master's end of the worker's channel.
    pub channel: UnixStream,
    /// The worker closed its channel (it is exiting); no longer polled.
    pub channel_closed: bool,
    pub started: Instant,
    /// The worker said it polls its listener.
    pub ready: bool,
    /// Its slot in the shared stats mapping (which holds its heartbeat).
    pub heartbeat: usize,
    /// The last heartbeat value seen, and when it last changed.
    pub last_beat: (u64, Instant),
    /// Already SIGKILLed for hanging; not killed again.
    pub killed: bool,
    /// Forked by this master's previous image, before an in-place upgrade: its heartbeat is in
    /// a mapping this image cannot see, so it is not hang-checked; once told to drain it gets
    /// `--shutdown-timeout` (counted from `last_beat`'s instant) before SIGKILL.
    pub inherited: bool,
}

/// One worker position. The slot owns its listening socket for the life of the master, so a
/// replacement worker inherits the same socket, and with it the connections queued on it.
#[derive(Debug)]
pub(crate) struct WorkerSlot {
    pub index: usize,
    /// `None` once the master let go of it (a stop, or the slot being removed).
    pub listener: Option<OwnedFd>,
    /// Its `--tls-port` socket, when that port is on (held and let go with `listener`).
    pub tls_listener: Option<OwnedFd>,
    /// The worker serving this slot now.
    pub current: Option<WorkerProc>,
    /// The worker `current` replaces (reload, recycling); told to drain once `current` is ready.
    pub replacing: Option<WorkerProc>,
    /// Consecutive deaths soon after start; drives the respawn backoff.
    pub crash_streak: u32,
    /// When to fork a replacement, if one is due.
    pub respawn_at: Option<Instant>,
    /// SIGWINCH stopped this slot's worker; SIGHUP starts one again.
    pub parked: bool,
    /// Crashed so often that the master stopped respawning it.
    pub given_up: bool,
}

impl WorkerSlot {
    pub(crate) fn new(
        index: usize,
        listener: OwnedFd,
        tls_listener: Option<OwnedFd>,
    ) -> WorkerSlot {
        WorkerSlot {
            index,
            listener: Some(listener),
            tls_listener,
            current: None,
            replacing: None,
            crash_streak: 0,
            respawn_at: None,
            parked: false,
            given_up: false,
        }
    }
}

/// The shared stats a worker is handed: every slot (for `/metrics`), which one is its own, and
/// the master's figures.
#[derive(Clone, Copy)]
pub(crate) struct SharedStats<'a> {
    pub all: &'a [WorkerStats],
    pub own: usize,
    pub master: &'a MasterStats,
}

/// How a worker ended, decoded from `waitpid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitHow {
    Code(i32),
    Signal { signal: Signal, core_dumped: bool },
}

impl ExitHow {
    /// A worker asked not to be respawned: its configuration can never work.
    pub(crate) fn is_fatal(self) -> bool {
        self == ExitHow::Code(exit::CONFIG)
    }
}

impl fmt::Display for ExitHow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitHow::Code(code) => write!(f, "exited with code {code}"),
            ExitHow::Signal {
                signal,
                core_dumped,
            } => {
                write!(f, "killed by {}", signals::name(signal as i32))?;
                if core_dumped {
                    write!(f, " (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}

/// Collects one exited child without blocking: `Ok(None)` when none is left to collect now.
/// EINTR is retried; ECHILD (no children at all) is `Ok(None)`.
pub(crate) fn reap_one() -> nix::Result<Option<(Pid, ExitHow)>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => return Ok(Some((pid, ExitHow::Code(code)))),
            Ok(WaitStatus::Signaled(pid, signal, core_dumped)) => {
                return Ok(Some((
                    pid,
                    ExitHow::Signal {
                        signal,
                        core_dumped,
                    },
                )))
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            // Stopped/continued reports are not asked for; skip any that arrive.
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The listening sockets every worker shares besides its slot's own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SharedListeners<'a> {
    /// `--metrics-port`'s socket.
    pub metrics: Option<&'a OwnedFd>,
    /// Sockets adopted from an upgrade (see `master::startup::Listeners::adopted`).
    pub adopted: &'a [OwnedFd],
    /// The same for `--tls-port`'s sockets.
    pub tls_adopted: &'a [OwnedFd],
    /// What the TLS sockets serve with (certificates, ticket keys), made by the master.
    pub tls: Option<&'a Arc<ServerConfig>>,
}

/// Forks the worker for `slot`. Returns its pid and the master's end of its channel.
///
/// `inherited` lists the master's descriptors that the child must close (other slots'
/// listeners and channels, the master's epoll).
///
/// # Errors
/// If the channel cannot be created or `fork` fails.
pub(crate) fn spawn(
    slot: &WorkerSlot,
    generation: u64,
    config: &Config,
    master_signals: &Signals,
    inherited: &[RawFd],
    stats: SharedStats<'_>,
    shared: SharedListeners<'_>,
) -> Result<(Pid, UnixStream), Error> {
    let Some(listener) = &slot.listener else {
        return Err(Error::Setup {
            what: "a worker (its slot has no listener)",
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    };
    let (master_end, worker_end) = UnixStream::pair().map_err(|source| Error::Setup {
        what: "a worker channel",
        source,
    })?;
    // Before the fork: once a child exists, nothing may fail on the parent's side, or the
    // master would forget a live worker (and hand its stats slot to the next one).
    master_end
        .set_nonblocking(true)
        .map_err(|source| Error::Setup {
            what: "a worker channel",
            source,
        })?;
    let master_pid = nix::unistd::getpid();
    // Hold the signals back across the fork: until the child has its own handlers, a stop
    // signal would run the master's handlers in the child and be lost there.
    let old_mask = signals::block(signals::MASTER).map_err(Error::Signals)?;
    // SAFETY: the master is single-threaded when it forks (logging writes synchronously to
    // stderr and spawns no thread; signal-hook's low-level registration spawns none), so the
    // child's copy of every lock and allocator state is consistent and it may run ordinary Rust.
    // The child never returns from this branch: it leaves through `std::process::exit`.
    let forked = unsafe { fork() };
    if !matches!(forked, Ok(ForkResult::Child)) {
        let _ = signals::restore_mask(&old_mask);
    }
    match forked {
        Ok(ForkResult::Parent { child }) => {
            drop(worker_end);
            Ok((child, master_end))
        }
        Ok(ForkResult::Child) => {
            drop(master_end);
            let code = child_main(
                slot,
                listener,
                stats,
                generation,
                config,
                master_signals,
                inherited,
                master_pid,
                worker_end,
                &old_mask,
                shared,
            );
            std::process::exit(code)
        }
        Err(errno) => Err(Error::Fork(errno.into())),
    }
}

/// The child's side of `spawn`: undo what the master's state means here, then run the worker.
#[allow(clippy::too_many_arguments)]
fn child_main(
    slot: &WorkerSlot,
    slot_listener: &OwnedFd,
    stats: SharedStats<'_>,
    generation: u64,
    config: &Config,
    master_signals: &Signals,
    inherited: &[RawFd],
    master_pid: Pid,
    channel: UnixStream,
    old_mask: &SigSet,
    shared: SharedListeners<'_>,
) -> i32 {
    let SharedListeners {
        metrics: metrics_listener,
        adopted,
        tls_adopted,
        tls,
    } = shared;
    // Our own handlers first, then drop the master's, so no stop signal falls in between.
    let signals = match Signals::register(signals::WORKER) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("prefork-server worker: could not set up signal handling: {e}");
            return exit::OSERR;
        }
    };
    // Take our own copy of the shared metrics socket before the master's copies are closed.
    let metrics_listener = match metrics_listener
        .map(|fd| fd.as_fd().try_clone_to_owned())
        .transpose()
    {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("prefork-server worker: could not take the metrics listener: {e}");
            return exit::OSERR;
        }
    };
    // And of the adopted sockets every worker polls.
    let adopted = match adopted
        .iter()
        .chain(tls_adopted)
        .map(|fd| fd.as_fd().try_clone_to_owned())
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(fds) => fds,
        Err(e) => {
            eprintln!("prefork-server worker: could not take an adopted listener: {e}");
            return exit::OSERR;
        }
    };
    master_signals.forget_in_child();
    // Signals held back since before the fork now reach the worker's own handlers.
    if let Err(e) = signals::restore_mask(old_mask) {
        eprintln!("prefork-server worker: could not restore the signal mask: {e}");
        return exit::OSERR;
    }
    crate::sys::close_inherited(inherited);
    // `--user`: drop root before anything else is opened (the access log, the root of the
    // files), and before the parent-death signal, which a change of credentials clears.
    if let Some(identity) = &config.identity {
        if let Err(e) = identity.drop_privileges() {
            eprintln!("prefork-server worker: could not drop to {identity}: {e}");
            return exit::CONFIG;
        }
    }
    // Die with the master, and close the race where it died before the line above.
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() || getppid() != master_pid {
        return exit::OK;
    }
    let tls_listener = match slot
        .tls_listener
        .as_ref()
        .map(|fd| fd.as_fd().try_clone_to_owned())
    {
        Some(Ok(fd)) => Some(fd),
        Some(Err(e)) => {
            eprintln!("prefork-server worker: could not take the TLS listener: {e}");
            return exit::OSERR;
        }
        None => None,
    };
    let listener = match slot_listener.as_fd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("prefork-server worker: could not take the listener: {e}");
            return exit::OSERR;
        }
    };
    // The slot's own copy stays in the master's memory image, never dropped here; close it so
    // the worker holds exactly one descriptor for its listener.
    crate::sys::close_inherited(&[slot_listener.as_raw_fd()]);
    if let Some(fd) = &slot.tls_listener {
        crate::sys::close_inherited(&[fd.as_raw_fd()]);
    }
    let init = WorkerInit {
        tls_listener,
        tls: tls.cloned(),
        metrics_listener,
        adopted,
        stats: &stats.all[stats.own],
        all_stats: stats.all,
        master_stats: stats.master,
        slot: slot.index,
        generation,
        listener,
        channel,
        signals,
        config: config.clone(),
    };
    // A panic must never unwind out of the fork into the master's code.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker::run(init)))
        .unwrap_or(exit::SOFTWARE)
}
