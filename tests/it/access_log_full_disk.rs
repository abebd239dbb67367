//! The access log on a full disk: whole lines or nothing, dropped lines counted and reported
//! (at most once a second), and recovery after SIGUSR1 once there is room again.
//!
//! Counting and reporting run anywhere, against /dev/full (every write fails with ENOSPC).
//! Torn lines and recovery need a file system that really fills up and then has room again:
//! a 1 MiB tmpfs the test mounts itself, which needs root. That test is `#[ignore]`d, `.ci/run`
//! runs it (as root), and it fails rather than passes where it cannot mount.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{get, wait_until, Server};
use nix::sys::signal::Signal;

/// A tmpfs mounted for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts one, or panics saying why (the test needs root).
    fn mount(size: &str) -> Tmpfs {
        let dir = std::env::temp_dir().join(format!("prefork-full-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status();
        if !status.as_ref().is_ok_and(|s| s.success()) {
            let _ = std::fs::remove_dir(&dir);
            panic!(
                "cannot mount a tmpfs at {} ({status:?}): this test needs root; \
                 run it where .ci/run does (as root, with --ignored)",
                dir.display()
            );
        }
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the file system holding `dir` with a file, until it is full.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = [0u8; 4096];
    while f.write_all(&block).is_ok() {}
    filler
}

/// `n` pipelined `GET /` on one connection, all answered.
fn requests(server: &Server, n: usize) {
    common::pipeline_ok(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", n);
}

fn dropped(server: &Server) -> u64 {
    let body = get(server.addr, "/metrics").body;
    let text = String::from_utf8_lossy(&body);
    text.lines()
        .filter(|l| l.starts_with("prefork_access_log_dropped_lines_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Every line of the log is one whole access-log line.
fn assert_whole_lines(log: &Path) -> usize {
    let text = std::fs::read(log).unwrap();
    assert!(
        text.is_empty() || text.ends_with(b"\n"),
        "the log ends mid-line"
    );
    let text = String::from_utf8(text).expect("utf-8");
    for line in text.lines() {
        let whole = line.starts_with("127.0.0.1 - - [")
            && (line.ends_with("\"GET / HTTP/1.1\" 200 13 \"-\" \"-\"")
                || line.ends_with("\"GET /metrics HTTP/1.1\" 200")
                || line.contains("\"GET /metrics HTTP/1.1\" 200 "));
        assert!(whole, "a torn line: {line:?}");
    }
    text.lines().count()
}

/// Lines of the error report in the server's log so far.
fn reports(server: &Server) -> usize {
    server
        .log_text()
        .matches("access log is not being written")
        .count()
}

/// A log every write to fails: lines dropped are counted in /metrics and /status, the error is
/// reported, at most about once a second, and the server goes on serving.
#[test]
fn an_unwritable_log_costs_counted_lines_reported_at_most_once_a_second() {
    let server = Server::start(&["--workers", "1", "--access-log", "/dev/full"]);
    // ~100 bytes a line: 30,000 lines is three times the 1 MiB backlog.
    requests(&server, 30_000);
    let counted = wait_until(Duration::from_secs(5), || {
        (dropped(&server) > 0).then_some(())
    });
    assert!(counted.is_some(), "dropped lines are counted in /metrics");
    let reported = server.wait_for_log("access log is not being written", Duration::from_secs(5));
    assert!(reported.is_some(), "{}", server.log_text());
    let status = get(server.addr, "/status").body_str().to_owned();
    assert!(!status.contains("\"access_log_dropped\":0"), "{status}");
    // Errors are rate-limited: the writes go on failing for these 2 s (this wait is the
    // window the limit is measured over), and give a few lines, not thousands.
    std::thread::sleep(Duration::from_secs(2));
    assert!(reports(&server) <= 6, "{} error lines", reports(&server));
    assert_eq!(get(server.addr, "/").status, 200, "still serving");
}

#[test]
#[ignore = "needs root (mounts a tmpfs): run by .ci/run with --ignored"]
fn a_full_disk_costs_whole_lines_counted_and_recovers_after_sigusr1() {
    let fs = Tmpfs::mount("1m");
    let log = fs.0.join("access.log");
    let server = Server::start(&["--workers", "1", "--access-log", log.to_str().unwrap()]);
    requests(&server, 100);
    let written = wait_until(Duration::from_secs(5), || {
        (assert_whole_lines(&log) == 100).then_some(())
    });
    assert!(written.is_some(), "the first lines were written");
    let filler = fill(&fs.0);
    // ~100 bytes a line: 30,000 lines is three times the 1 MiB backlog.
    requests(&server, 30_000);
    let counted = wait_until(Duration::from_secs(5), || {
        (dropped(&server) > 0).then_some(())
    });
    assert!(counted.is_some(), "dropped lines are counted in /metrics");
    let reported = server.wait_for_log("access log is not being written", Duration::from_secs(5));
    assert!(reported.is_some(), "{}", server.log_text());
    let status = get(server.addr, "/status").body_str().to_owned();
    assert!(!status.contains("\"access_log_dropped\":0"), "{status}");
    // Errors are rate-limited: the writes go on failing for these 2 s (this wait is the
    // window the limit is measured over), and give a few lines, not thousands.
    std::thread::sleep(Duration::from_secs(2));
    assert!(reports(&server) <= 6, "{} error lines", reports(&server));
    assert_whole_lines(&log);
    // Room again, and logrotate's signal: the backlog and new lines arrive, whole.
    std::fs::remove_file(&filler).unwrap();
    server.signal(Signal::SIGUSR1);
    requests(&server, 50);
    // Read while the worker may be in the middle of a large write (a reader of a regular file
    // can see one half done): wait for the lines, then check them once the writes are done.
    let recovered = wait_until(Duration::from_secs(5), || {
        let text = std::fs::read(&log).ok()?;
        (text.ends_with(b"\n") && text.iter().filter(|&&b| b == b'\n').count() > 10_000)
            .then_some(())
    });
    assert!(
        recovered.is_some(),
        "the backlog and new lines were written after SIGUSR1"
    );
    assert!(assert_whole_lines(&log) > 10_000);
}
