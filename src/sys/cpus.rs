//! How many CPUs this process may really use: its affinity mask, capped by a cgroup v2 quota.

use nix::sched::{sched_getaffinity, CpuSet};
use nix::unistd::Pid;

/// CPUs in the affinity mask, capped by the tightest `cpu.max` quota from this process's cgroup
/// up to the root; at least 1.
pub fn available() -> usize {
    let affinity = affinity_count()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    match cgroup_quota_cpus() {
        Some(quota) => affinity.min(quota).max(1),
        None => affinity.max(1),
    }
}

fn affinity_count() -> Option<usize> {
    let n = allowed().len();
    (n > 0).then_some(n)
}

/// The CPU numbers in this process's affinity mask, ascending.
pub fn allowed() -> Vec<usize> {
    let Ok(set) = sched_getaffinity(Pid::from_raw(0)) else {
        return Vec::new();
    };
    (0..CpuSet::count())
        .filter(|&i| set.is_set(i).unwrap_or(false))
        .collect()
}

/// Pins the calling process to one CPU.
///
/// # Errors
/// If the CPU number is out of range or not allowed to this process.
pub fn pin(cpu: usize) -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)
}

/// The smallest whole-CPU quota on the path from our cgroup to the root, if any is set.
fn cgroup_quota_cpus() -> Option<usize> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    // cgroup v2 has the single line "0::/path".
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mut dir = std::path::PathBuf::from("/sys/fs/cgroup");
    dir.push(path.trim_start_matches('/'));
    let mut best: Option<usize> = None;
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("cpu.max")) {
            if let Some(n) = parse_cpu_max(&text) {
                best = Some(best.map_or(n, |b| b.min(n)));
            }
        }
        if dir == std::path::Path::new("/sys/fs/cgroup") || !dir.pop() {
            return best;
        }
    }
}

/// `cpu.max` is "QUOTA PERIOD" or "max PERIOD"; a quota of 1.5 periods is 2 workers.
fn parse_cpu_max(text: &str) -> Option<usize> {
    let mut parts = text.split_whitespace();
    let quota: u64 = parts.next()?.parse().ok()?;
    let period: u64 = parts.next()?.parse().ok()?;
    if period == 0 {
        return None;
    }
    Some(quota.div_ceil(period).max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_rounds_quota_up() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("150000 100000"), Some(2));
        assert_eq!(parse_cpu_max("50000 100000"), Some(1));
        assert_eq!(parse_cpu_max("garbage"), None);
    }

    #[test]
    fn available_is_at_least_one() {
        assert!(available() >= 1);
    }
}
