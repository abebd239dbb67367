//! Process facts from /proc: open descriptors for `/metrics`; and for the tools around the
//! server, a process's children (the tests find a master's workers, the idle-connection bench
//! sums memory over the process tree).

use std::io;

/// The live (not zombie) direct children of `pid`, in pid order, from /proc/*/stat.
///
/// # Errors
/// If /proc cannot be listed. A process that exits while it is being read is skipped.
pub fn children_of(pid: u32) -> io::Result<Vec<u32>> {
    let mut kids = Vec::new();
    for child in pids()? {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        if parent_if_alive(&stat) == Some(pid) {
            kids.push(child);
        }
    }
    kids.sort_unstable();
    Ok(kids)
}

/// Every process's pid, from the numeric entries of /proc (a snapshot: any may exit meanwhile).
///
/// # Errors
/// If /proc cannot be listed.
pub fn pids() -> io::Result<impl Iterator<Item = u32>> {
    Ok(std::fs::read_dir("/proc")?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok()))
}

/// The memory this process may use: the smaller of the machine's RAM (`MemTotal` in
/// /proc/meminfo) and its cgroup's limit (v2 or v1, see `cgroup::memory_max`), in bytes;
/// `None` if neither can be read.
pub fn memory_limit() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let total = meminfo.as_deref().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    });
    let cgroup = super::cgroup::memory_max();
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

/// How many descriptors `pid` has open.
///
/// Since Linux 6.2 the size of /proc/PID/fd is that count, read in one `stat` whatever the
/// number of descriptors; older kernels report 0 there, and the entries are listed instead
/// (which costs time in proportion to the count: milliseconds at 15,000).
///
/// # Errors
/// If the process is gone or its fd table is not readable.
pub fn open_fds(pid: u64) -> io::Result<usize> {
    let dir = format!("/proc/{pid}/fd");
    let size = std::fs::metadata(&dir)?.len();
    if size > 0 {
        return Ok(usize::try_from(size).unwrap_or(usize::MAX));
    }
    Ok(std::fs::read_dir(&dir)?.count())
}

/// The parent pid in a /proc/PID/stat line, unless the process is a zombie. The command name is
/// in parentheses and may contain spaces and parentheses: the fields start after the last ')'.
fn parent_if_alive(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    (state != "Z").then_some(ppid)
}

/// The machine's host name (the UTS namespace's, as `hostname` prints it).
pub fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_parent_after_an_awkward_name() {
        assert_eq!(parent_if_alive("42 (a) b (c)) S 7 42 42 0"), Some(7));
        assert_eq!(parent_if_alive("42 (worker) Z 7 42 42 0"), None);
        assert_eq!(parent_if_alive("garbage"), None);
    }

    #[test]
    fn counts_descriptors_of_live_processes_only() {
        // Other tests run in parallel threads of this process, so only bounds are stable.
        assert!(open_fds(u64::from(std::process::id())).unwrap() >= 3);
        assert!(open_fds(u64::MAX).is_err());
    }

    #[test]
    fn lists_this_process() {
        assert!(pids().unwrap().any(|p| p == std::process::id()));
    }

    #[test]
    fn this_process_is_a_child_of_its_parent() {
        let me = std::process::id();
        let parent = std::os::unix::process::parent_id();
        assert!(children_of(parent).unwrap().contains(&me));
    }
}
