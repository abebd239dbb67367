//! Raising RLIMIT_NOFILE: the soft limit to the hard one, and the hard one too where allowed.

use nix::errno::Errno;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// What the raise found and obtained, for the master to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NofileReport {
    /// (soft, hard) before.
    pub before: (u64, u64),
    /// (soft, hard) after.
    pub after: (u64, u64),
    /// The hard limit we wanted and the errno that refused it (no CAP_SYS_RESOURCE).
    pub hard_refused: Option<(u64, Errno)>,
}

/// The kernel's ceiling for any process's open files.
fn nr_open() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

/// Raises the limit: the hard limit up to `max_fds` (or fs.nr_open) when the process may, then the
/// soft limit to the hard one (or to `max_fds` when that is lower).
///
/// # Errors
/// Only if the limits cannot be read or the soft limit cannot be set within the hard one.
pub fn raise_nofile(max_fds: Option<u64>) -> nix::Result<NofileReport> {
    let before = getrlimit(Resource::RLIMIT_NOFILE)?;
    let wanted_hard = max_fds.unwrap_or_else(nr_open).min(nr_open());
    let mut hard = before.1;
    let mut hard_refused = None;
    if wanted_hard > hard {
        match setrlimit(Resource::RLIMIT_NOFILE, wanted_hard, wanted_hard) {
            Ok(()) => hard = wanted_hard,
            Err(e) => hard_refused = Some((wanted_hard, e)),
        }
    }
    let soft = max_fds.map_or(hard, |m| m.min(hard));
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?;
    let after = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok(NofileReport {
        before,
        after,
        hard_refused,
    })
}

/// The current soft limit on open files.
pub fn nofile_soft() -> u64 {
    getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

/// `fs.file-max`, the system-wide cap on open files.
pub fn file_max() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/file-max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX)
}
