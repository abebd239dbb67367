//! The limits a control group puts on this process: CPU quota and memory, from cgroup v2
//! (`cpu.max`, `memory.max`) or v1 (`cpu.cfs_quota_us` over `cpu.cfs_period_us`,
//! `memory.limit_in_bytes`), whichever the host mounts (both, on a hybrid host). Every level
//! from the process's group up to the controller's mount counts: the tightest wins. Inside a
//! container whose /proc/self/cgroup names the host's path, the mount's root is the container's
//! own group and is read all the same.

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

/// The whole CPUs of the tightest quota (1.5 CPUs is 2), if any is set.
pub fn cpu_quota() -> Option<usize> {
    let v2 = dirs_v2().filter_map(|d| read(&d, "cpu.max").and_then(|t| parse_cpu_max(&t)));
    let v1 = dirs_v1("cpu").filter_map(|d| {
        let quota = read(&d, "cpu.cfs_quota_us")?;
        let period = read(&d, "cpu.cfs_period_us")?;
        parse_cpu_max(&format!("{} {}", quota.trim(), period.trim()))
    });
    v2.chain(v1).min()
}

/// The tightest memory limit in bytes, if any is set.
pub fn memory_max() -> Option<u64> {
    let v2 = dirs_v2().filter_map(|d| read(&d, "memory.max")?.trim().parse::<u64>().ok());
    // v1 writes "no limit" as a huge number, which the machine's RAM caps anyway.
    let v1 = dirs_v1("memory").filter_map(|d| {
        read(&d, "memory.limit_in_bytes")?
            .trim()
            .parse::<u64>()
            .ok()
    });
    v2.chain(v1).min()
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn own_groups() -> String {
    std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default()
}

/// cgroup v2 ("0::/path", on a unified mount at /sys/fs/cgroup): the group and its ancestors.
fn dirs_v2() -> impl Iterator<Item = PathBuf> {
    let path = own_groups()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string));
    let unified = Path::new(ROOT).join("cgroup.controllers").exists();
    path.filter(|_| unified)
        .map(|p| up_to(Path::new(ROOT), &p))
        .unwrap_or_default()
        .into_iter()
}

/// cgroup v1 ("N:cpu,cpuacct:/path"): the group and its ancestors under the controller's
/// mount (/sys/fs/cgroup/cpu,cpuacct, or /sys/fs/cgroup/cpu).
fn dirs_v1(controller: &str) -> impl Iterator<Item = PathBuf> {
    let groups = own_groups();
    let found = groups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        controllers
            .split(',')
            .any(|c| c == controller)
            .then(|| (controllers.to_string(), path.to_string()))
    });
    let Some((controllers, path)) = found else {
        return Vec::new().into_iter();
    };
    [controllers.as_str(), controller]
        .iter()
        .map(|name| Path::new(ROOT).join(name))
        .find(|mount| mount.is_dir())
        .map(|mount| up_to(&mount, &path))
        .unwrap_or_default()
        .into_iter()
}

/// `mount/path`, then each parent up to `mount` itself.
fn up_to(mount: &Path, path: &str) -> Vec<PathBuf> {
    let mut dir = mount.join(path.trim_start_matches('/'));
    let mut dirs = Vec::new();
    loop {
        dirs.push(dir.clone());
        if dir == mount || !dir.pop() || !dir.starts_with(mount) {
            if dirs.last().map(PathBuf::as_path) != Some(mount) {
                dirs.push(mount.to_path_buf());
            }
            return dirs;
        }
    }
}

/// "QUOTA PERIOD" (v2's `cpu.max`, or v1's two files): "max" or a negative quota is no limit.
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
        assert_eq!(parse_cpu_max("-1 100000"), None);
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("150000 100000"), Some(2));
        assert_eq!(parse_cpu_max("50000 100000"), Some(1));
        assert_eq!(parse_cpu_max("garbage"), None);
    }

    #[test]
    fn walks_from_the_group_up_to_the_mount() {
        let m = Path::new("/sys/fs/cgroup/cpu");
        assert_eq!(
            up_to(m, "/a/b"),
            vec![m.join("a/b"), m.join("a"), m.to_path_buf()]
        );
        assert_eq!(up_to(m, "/"), vec![m.to_path_buf()]);
    }

    #[test]
    fn reads_without_failing_here() {
        // Whatever this machine mounts, the answers are sane.
        if let Some(n) = cpu_quota() {
            assert!(n >= 1);
        }
        if let Some(bytes) = memory_max() {
            assert!(bytes > 0);
        }
    }
}
