//! Startup and master failures, one variant per step, and the exit-code table.
//!
//! The codes and what each means are [`exit::TABLE`] (also in the man page).

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Exit codes, named after sysexits(3).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const UNAVAILABLE: i32 = 69;
    pub const SOFTWARE: i32 = 70;
    pub const OSERR: i32 = 71;
    pub const CANTCREAT: i32 = 73;
    pub const TEMPFAIL: i32 = 75;
    pub const NOPERM: i32 = 77;
    pub const CONFIG: i32 = 78;

    /// Every exit code and its meaning, for operators (the man page, docs/operations.md).
    pub const TABLE: &[(i32, &str)] = &[
        (OK, "clean stop"),
        (
            FAILURE,
            "unexpected runtime failure; for `healthcheck`: the server is not healthy or \
             could not be reached (Docker's HEALTHCHECK convention)",
        ),
        (
            USAGE,
            "bad command line (a usage error, or options that contradict each other), or a TLS \
             certificate or key that cannot serve (unreadable, mismatched, expired, no name)",
        ),
        (
            UNAVAILABLE,
            "every worker slot was given up after crash loops (EX_UNAVAILABLE); for `status`: \
             the server could not be reached",
        ),
        (SOFTWARE, "a worker caught a panic (EX_SOFTWARE)"),
        (
            OSERR,
            "fork, epoll, socketpair or signal setup failed (EX_OSERR)",
        ),
        (
            CANTCREAT,
            "`generate`: a file could not be written (EX_CANTCREAT)",
        ),
        (
            TEMPFAIL,
            "address in use (EX_TEMPFAIL: an old instance may still be exiting)",
        ),
        (
            NOPERM,
            "permission denied: binding the address, or --user without running as root \
             (EX_NOPERM)",
        ),
        (
            CONFIG,
            "invalid configuration or address, or a user or group that does not exist \
             (EX_CONFIG); from a worker (e.g. it could not drop privileges): fatal, not \
             respawned",
        ),
    ];
}

/// A failure that stops the master.
#[derive(Debug)]
pub enum Error {
    /// Options that contradict each other (clap checks each option alone).
    Usage(String),
    /// An option names something unusable (a root that is not a directory).
    Config(String),
    /// `--user` asks for a switch the process has no right to make (it is not root).
    Privileges(String),
    /// A TLS certificate or key cannot serve: the message names the file and the problem.
    Tls(String),
    /// Binding or listening on the address failed.
    Bind { addr: SocketAddr, source: io::Error },
    /// Setting up signal handling failed.
    Signals(io::Error),
    /// Creating the master's epoll instance or a worker channel failed.
    Setup {
        what: &'static str,
        source: io::Error,
    },
    /// fork(2) failed while starting the workers.
    Fork(io::Error),
    /// A worker exited with the fatal-configuration code; respawning it would only loop.
    WorkerFatal { slot: usize },
    /// Every slot crashed so often that the master gave up on it.
    GaveUp,
}

impl Error {
    /// The documented exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Tls(_) => exit::USAGE,
            Error::Config(_) => exit::CONFIG,
            Error::Privileges(_) => exit::NOPERM,
            Error::Bind { source, .. } => match source.kind() {
                io::ErrorKind::AddrInUse => exit::TEMPFAIL,
                io::ErrorKind::PermissionDenied => exit::NOPERM,
                _ => exit::CONFIG,
            },
            Error::Signals(_) | Error::Setup { .. } | Error::Fork(_) => exit::OSERR,
            Error::WorkerFatal { .. } => exit::CONFIG,
            Error::GaveUp => exit::UNAVAILABLE,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) | Error::Config(message) | Error::Privileges(message) => {
                write!(f, "{message}")
            }
            Error::Tls(message) => write!(f, "TLS: {message}"),
            Error::Bind { addr, source } => write!(f, "could not listen on {addr}: {source}"),
            Error::Signals(e) => write!(f, "could not set up signal handling: {e}"),
            Error::Setup { what, source } => write!(f, "could not create {what}: {source}"),
            Error::Fork(e) => write!(f, "could not fork a worker: {e}"),
            Error::WorkerFatal { slot } => write!(
                f,
                "worker {slot} exited with the fatal configuration code {}; not respawning",
                exit::CONFIG
            ),
            Error::GaveUp => write!(f, "every worker slot kept crashing and was given up"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } | Error::Setup { source, .. } => Some(source),
            Error::Signals(e) | Error::Fork(e) => Some(e),
            Error::Usage(_)
            | Error::Config(_)
            | Error::Privileges(_)
            | Error::Tls(_)
            | Error::WorkerFatal { .. }
            | Error::GaveUp => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_errors_map_to_sysexits() {
        let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let code = |kind| {
            Error::Bind {
                addr,
                source: io::Error::from(kind),
            }
            .exit_code()
        };
        assert_eq!(code(io::ErrorKind::AddrInUse), 75);
        assert_eq!(code(io::ErrorKind::PermissionDenied), 77);
        assert_eq!(code(io::ErrorKind::AddrNotAvailable), 78);
    }
}
