//! How many CPUs this process may really use: its affinity mask, capped by a cgroup quota.

use nix::sched::{sched_getaffinity, CpuSet};
use nix::unistd::Pid;

/// CPUs in the affinity mask, capped by the tightest cgroup CPU quota (v2 or v1) from this
/// process's group up to the root; at least 1.
pub fn available() -> usize {
    let affinity = affinity_count()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    match super::cgroup::cpu_quota() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_is_at_least_one() {
        assert!(available() >= 1);
    }
}
