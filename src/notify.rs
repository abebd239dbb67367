//! systemd's notify protocol, by hand: datagrams to `$NOTIFY_SOCKET` (a path, or an abstract
//! name when it starts with `@`). Without the variable every call does nothing.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tracing::debug;

pub(crate) struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// `$NOTIFY_SOCKET` and `$WATCHDOG_USEC` as received, for a binary upgrade's new master
    /// or re-executed image, which is the main process and must go on notifying (and pinging
    /// the watchdog).
    pub inherit: Vec<(&'static str, std::ffi::OsString)>,
    /// Half of `$WATCHDOG_USEC`, when the watchdog is on for this process.
    pub watchdog_every: Option<Duration>,
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET` (and `$WATCHDOG_USEC`/`$WATCHDOG_PID`) and removes them from the
    /// environment, so no child mistakes them for its own.
    pub(crate) fn from_env() -> Option<Notifier> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let watchdog_usec: Option<u64> = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse().ok());
        let watchdog_pid: Option<u32> = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|v| v.parse().ok());
        let mut inherit = vec![("NOTIFY_SOCKET", path.clone())];
        if let Some(usec) = std::env::var_os("WATCHDOG_USEC") {
            inherit.push(("WATCHDOG_USEC", usec));
        }
        for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            std::env::remove_var(var);
        }
        let bytes = path.as_encoded_bytes();
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => SocketAddr::from_abstract_name(name).ok()?,
            None => SocketAddr::from_pathname(std::path::Path::new(&path)).ok()?,
        };
        let socket = UnixDatagram::unbound().ok()?;
        let ours = watchdog_pid.is_none_or(|p| p == std::process::id());
        let watchdog_every = watchdog_usec
            .filter(|&u| u > 0 && ours)
            .map(|u| Duration::from_micros(u / 2));
        Some(Notifier {
            socket,
            addr,
            inherit,
            watchdog_every,
        })
    }

    /// Sends one state update, e.g. `READY=1\nSTATUS=…`. Failures are logged at debug only:
    /// the service manager may be gone, and serving matters more.
    pub(crate) fn send(&self, state: &str) {
        if let Err(e) = self.socket.send_to_addr(state.as_bytes(), &self.addr) {
            debug!(error = %e, "sd_notify failed");
        }
    }
}

/// `MONOTONIC_USEC=` for a reload notification: CLOCK_MONOTONIC now, in microseconds.
pub(crate) fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000
    })
}
