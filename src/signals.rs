//! The signal table, and signal delivery into an event loop.
//!
//! Handlers only record: each signal sets its flag and writes a byte to a self-pipe that the
//! master's or worker's `Poller` watches, and the loop acts on the flags (nginx's design, through
//! signal-hook's `flag` and `low_level::pipe`).
//!
//! What each signal does is [`TABLE`] (rendered into the man page by `prefork-server generate`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use signal_hook::consts::signal::*;
use signal_hook::SigId;

/// One signal's meaning, to the master and to a worker signalled directly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignalUse {
    pub(crate) names: &'static str,
    pub(crate) master: &'static str,
    pub(crate) worker: &'static str,
}

/// Every signal the server acts on, for operators (the man page, docs/operations.md).
pub(crate) const TABLE: &[SignalUse] = &[
    SignalUse {
        names: "SIGTERM, SIGQUIT",
        master: "graceful stop: drain every worker, SIGKILL after --shutdown-timeout, exit 0",
        worker: "drain, exit",
    },
    SignalUse {
        names: "SIGINT (or a second SIGTERM/SIGQUIT)",
        master: "fast stop: workers exit at once",
        worker: "exit at once",
    },
    SignalUse {
        names: "SIGHUP",
        master: "reload: a new generation of workers on the same sockets (TLS certificates read \
                 again); the old workers drain",
        worker: "ignored",
    },
    SignalUse {
        names: "SIGUSR2",
        master: "binary upgrade: the binary on disk, with the sockets inherited, as a new master \
                 beside this one or (under systemd) re-executed in place",
        worker: "ignored",
    },
    SignalUse {
        names: "SIGWINCH",
        master: "park: drain the workers, keep the master and its sockets (SIGHUP starts them)",
        worker: "ignored",
    },
    SignalUse {
        names: "SIGTTIN, SIGTTOU",
        master: "one worker more, one fewer",
        worker: "ignored",
    },
    SignalUse {
        names: "SIGUSR1",
        master: "reopen the log file and the access log, here and in every worker",
        worker: "ignored",
    },
    SignalUse {
        names: "SIGCHLD",
        master: "reap exited workers and respawn them",
        worker: "not handled",
    },
    SignalUse {
        names: "SIGPIPE",
        master: "ignored (a reset peer is an EPIPE from write)",
        worker: "ignored",
    },
];

/// SIGCHLD's number, which the master does not log (it reaps on every turn anyway).
pub(crate) const SIGCHLD_NUM: i32 = SIGCHLD;

/// SIGINT's number: a fast stop for the master and for a worker.
pub(crate) const SIGINT_NUM: i32 = SIGINT;

/// The signals a stop request arrives by.
pub(crate) const STOP: &[i32] = &[SIGTERM, SIGINT, SIGQUIT];

/// Every signal the master handles.
pub(crate) const MASTER: &[i32] = &[
    SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU,
];

/// Every signal a worker handles.
pub(crate) const WORKER: &[i32] = &[
    SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU,
];

/// The conventional name of a signal number, for logs.
pub(crate) fn name(signal: i32) -> &'static str {
    signal_hook::low_level::signal_name(signal).unwrap_or("unknown signal")
}

/// Blocks `signals` in this (single-threaded) process and returns the mask before, for
/// [`restore_mask`]. A blocked signal stays pending instead of being lost, across a `fork` (for
/// the parent) and across an `execve`, which keeps the mask and the pending set but resets the
/// handlers: unblocked, a SIGTERM in that gap would kill the process by its default action.
///
/// # Errors
/// If `sigprocmask` fails.
pub(crate) fn block(signals: &[i32]) -> io::Result<SigSet> {
    let mut old = SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&set_of(signals)),
        Some(&mut old),
    )?;
    Ok(old)
}

/// Puts back the mask [`block`] returned.
///
/// # Errors
/// If `sigprocmask` fails.
pub(crate) fn restore_mask(old: &SigSet) -> io::Result<()> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(old), None)?;
    Ok(())
}

/// Unblocks `signals`: the master does so once its handlers are in place, since a master
/// re-executed by an in-place upgrade starts with them blocked (see [`block`]); whatever
/// arrived meanwhile is delivered to the new handlers then.
///
/// # Errors
/// If `sigprocmask` fails.
pub(crate) fn unblock(signals: &[i32]) -> io::Result<()> {
    sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set_of(signals)), None)?;
    Ok(())
}

fn set_of(signals: &[i32]) -> SigSet {
    let mut set = SigSet::empty();
    for &signal in signals {
        if let Ok(s) = Signal::try_from(signal) {
            set.add(s);
        }
    }
    set
}

/// Signals received since the last [`Signals::take`]; a bit per signal number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Received(u64);

impl Received {
    pub(crate) fn contains(self, signal: i32) -> bool {
        (0..64).contains(&signal) && self.0 & (1 << signal) != 0
    }

    pub(crate) fn contains_any(self, signals: &[i32]) -> bool {
        signals.iter().any(|&s| self.contains(s))
    }

    /// The signal numbers in ascending order.
    pub(crate) fn iter(self) -> impl Iterator<Item = i32> {
        (1..64).filter(move |&s| self.contains(s))
    }
}

/// Registered handlers plus the self-pipe that wakes the loop.
pub(crate) struct Signals {
    flags: Vec<(i32, Arc<AtomicBool>)>,
    ids: Vec<SigId>,
    wake_read: UnixStream,
    /// Kept open for the handlers, which write to its raw fd.
    wake_write: OwnedFd,
}

impl Signals {
    /// Registers `signals`.
    ///
    /// # Errors
    /// If the pipe cannot be created or a handler cannot be installed.
    pub(crate) fn register(signals: &[i32]) -> io::Result<Signals> {
        let (wake_read, wake_write) = UnixStream::pair()?;
        wake_read.set_nonblocking(true)?;
        wake_write.set_nonblocking(true)?;
        let wake_write: OwnedFd = wake_write.into();
        let mut me = Signals {
            flags: Vec::with_capacity(signals.len()),
            ids: Vec::with_capacity(signals.len() * 2),
            wake_read,
            wake_write,
        };
        for &signal in signals {
            let flag = Arc::new(AtomicBool::new(false));
            // The flag is set before the pipe is written, so a woken loop always sees it.
            me.ids
                .push(signal_hook::flag::register(signal, Arc::clone(&flag))?);
            me.ids.push(signal_hook::low_level::pipe::register_raw(
                signal,
                me.wake_write.as_raw_fd(),
            )?);
            me.flags.push((signal, flag));
        }
        Ok(me)
    }

    /// The fd to poll for readability.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.wake_read.as_fd()
    }

    /// Drains the self-pipe, then returns and clears the recorded signals (signal-hook's order:
    /// clear the pipe first, then act, so no signal is lost between the two).
    pub(crate) fn take(&self) -> Received {
        let mut buf = [0u8; 64];
        while matches!(
            crate::sys::net::read_some(self.wake_read.as_fd(), &mut buf),
            crate::sys::net::IoOutcome::Done(_)
        ) {}
        let mut bits = 0u64;
        for (signal, flag) in &self.flags {
            if flag.swap(false, Ordering::SeqCst) {
                bits |= 1 << signal;
            }
        }
        Received(bits)
    }

    /// In a forked child: removes the master's handlers (after the child registered its own) and
    /// closes its copies of the master's pipe, so the child neither acts on the master's flags
    /// nor wakes the master. The `Signals` value itself is never dropped in the child.
    pub(crate) fn forget_in_child(&self) {
        for &id in &self.ids {
            signal_hook::low_level::unregister(id);
        }
        crate::sys::close_inherited(&[self.wake_read.as_raw_fd(), self.wake_write.as_raw_fd()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_bits_round_trip() {
        let r = Received((1 << SIGTERM) | (1 << SIGCHLD));
        assert!(r.contains(SIGTERM));
        assert!(r.contains_any(STOP));
        assert!(!r.contains(SIGINT));
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![SIGTERM, SIGCHLD]);
        assert!(!r.contains(100));
    }
}
