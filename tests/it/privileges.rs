//! `--user`/`--group`: the master keeps root (it binds, reopens logs, upgrades), every worker
//! drops to the user right after its fork, and stays dropped across reloads and upgrades.
//! Most need root (`#[ignore]`d in a plain `cargo test`; `.ci/run` runs them as root).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::time::Duration;

use crate::common::load::binary_copy;
use crate::common::tree::Tree;
use crate::common::{get, process_exists, wait_until, Server, BIN};
use nix::sys::signal::Signal;

/// `nobody` and `nogroup`, as on Debian.
const NOBODY: u32 = 65534;

/// `Uid`, `Gid`, `Groups` and `NoNewPrivs` from /proc/PID/status.
fn credentials(pid: u32) -> (String, String, String, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    (
        field("Uid:"),
        field("Gid:"),
        field("Groups:"),
        field("NoNewPrivs:"),
    )
}

fn assert_dropped(pid: u32) {
    let (uid, gid, groups, nnp) = credentials(pid);
    let all = format!("{NOBODY} {NOBODY} {NOBODY} {NOBODY}");
    assert_eq!(uid, all, "worker {pid}: real, effective, saved and fs uid");
    assert_eq!(gid, all, "worker {pid}: gids");
    assert_eq!(
        groups,
        NOBODY.to_string(),
        "worker {pid}: supplementary groups"
    );
    assert_eq!(nnp, "1", "worker {pid}: PR_SET_NO_NEW_PRIVS");
}

fn start(exe: &std::path::Path, args: &[&str]) -> Server {
    let mut cmd = Command::new(exe);
    cmd.args(["--bind", "127.0.0.1", "--port", "0", "--user", "nobody"])
        .args(args);
    Server::spawn(cmd)
}

/// A tree the user may walk: world-readable folders, one public and one root-only file.
fn tree() -> Tree {
    let t = Tree::new();
    t.file("public.txt", b"for everyone\n");
    t.file("secret.txt", b"root only\n");
    t.file("locked/inside.txt", b"behind a closed folder\n");
    let mode = |rel: &str, m: u32| {
        std::fs::set_permissions(t.path().join(rel), std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode("", 0o755);
    mode("public.txt", 0o644);
    mode("secret.txt", 0o600);
    mode("locked", 0o700);
    // The temporary folder above it must be walkable too (it is: /tmp is 1777).
    t
}

#[test]
#[ignore = "needs root (setuid to nobody)"]
fn workers_serve_as_the_user_and_read_files_as_it() {
    let www = tree();
    let logs = Tree::new();
    let access = logs.path().join("access.log");
    let server = start(
        std::path::Path::new(BIN),
        &[
            "--workers",
            "2",
            "--root",
            www.arg(),
            "--access-log",
            access.to_str().unwrap(),
        ],
    );
    assert!(server
        .log_text()
        .contains("workers will serve as this user user=nobody (uid 65534, gid 65534)"));
    // The master keeps root: it binds, reopens the logs and upgrades.
    assert!(credentials(server.pid).0.starts_with("0 0 0 0"));
    let workers = server.workers();
    assert_eq!(workers.len(), 2);
    for &w in &workers {
        assert_dropped(w);
    }
    assert_eq!(get(server.addr, "/public.txt").status, 200);
    // Root-only: the worker cannot open it, and says so (nginx's answer), not 404.
    let secret = get(server.addr, "/secret.txt");
    assert_eq!(secret.status, 403);
    assert!(!secret.body_str().contains("root only"));
    assert_eq!(get(server.addr, "/locked/inside.txt").status, 403);
    assert_eq!(get(server.addr, "/missing.txt").status, 404);

    // The access log was created by the master and handed to the user; the workers write it.
    let logged = || {
        wait_until(Duration::from_secs(5), || {
            let text = std::fs::read_to_string(&access).ok()?;
            text.contains("\"GET /public.txt HTTP/1.1\" 200")
                .then_some(text)
        })
    };
    assert!(logged()
        .unwrap()
        .contains("\"GET /secret.txt HTTP/1.1\" 403"));
    assert_eq!(std::fs::metadata(&access).unwrap().uid(), NOBODY);
    // logrotate: move it away, SIGUSR1; the master creates a new one for the workers, which
    // could not create it themselves in a folder only root may write.
    std::fs::set_permissions(logs.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&access, logs.path().join("access.log.1")).unwrap();
    server.signal(Signal::SIGUSR1);
    let reopened = wait_until(Duration::from_secs(5), || {
        get(server.addr, "/public.txt");
        let text = std::fs::read_to_string(&access).ok()?;
        text.contains("\"GET /public.txt HTTP/1.1\" 200")
            .then_some(())
    });
    assert!(reopened.is_some(), "{}", server.log_text());
    assert_eq!(std::fs::metadata(&access).unwrap().uid(), NOBODY);
    assert!(
        !server.log_text().contains("could not reopen"),
        "{}",
        server.log_text()
    );

    // The parent-death signal survives the drop (set after it): workers die with the master.
    let master = server.pid;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(master as i32), Signal::SIGKILL).unwrap();
    let gone = wait_until(Duration::from_secs(5), || {
        workers.iter().all(|&w| !process_exists(w)).then_some(())
    });
    assert!(gone.is_some(), "workers outlived a killed master");
}

#[test]
#[ignore = "needs root (setuid to nobody)"]
fn a_reload_and_an_upgrade_keep_the_drop() {
    let exe = binary_copy("privileges");
    let server = start(&exe, &["--workers", "2", "--upgrade-mode", "exec"]);
    let first = server.workers();
    server.signal(Signal::SIGHUP);
    let reloaded = wait_until(Duration::from_secs(15), || {
        let now = server.workers();
        (now.len() == 2 && now.iter().all(|w| !first.contains(w))).then_some(now)
    })
    .expect("a new generation after SIGHUP");
    for &w in &reloaded {
        assert_dropped(w);
    }
    server.signal(Signal::SIGUSR2);
    let upgraded = wait_until(Duration::from_secs(20), || {
        let log = server.log_text();
        let ready = log
            .lines()
            .any(|l| l.contains("listening on") && l.contains("generation=3"));
        let now = server.workers();
        (ready && now.len() == 2 && now.iter().all(|w| !reloaded.contains(w))).then_some(now)
    })
    .unwrap_or_else(|| panic!("no upgraded workers:\n{}", server.log_text()));
    for &w in &upgraded {
        assert_dropped(w);
    }
    assert_eq!(get(server.addr, "/").status, 200);
    assert!(credentials(server.pid).0.starts_with("0 0 0 0"));
}

#[test]
#[ignore = "needs root (setuid to nobody)"]
fn a_root_the_user_cannot_open_stops_the_start_with_a_clear_error() {
    let www = tree();
    std::fs::set_permissions(www.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = Command::new(BIN)
        .args(["--bind", "127.0.0.1", "--port", "0", "--workers", "1"])
        .args(["--user", "nobody", "--root", www.arg()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert!(stderr.contains(www.arg()), "{stderr}");
}

#[test]
#[ignore = "needs root (to start as nobody with setpriv)"]
fn another_user_without_root_is_refused_with_77() {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["--check", "--port", "0", "--user", "root"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{stderr}");
    assert!(
        stderr.contains("needs the master to start as root"),
        "{stderr}"
    );
    // Naming the user it already runs as is nothing to drop.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["--check", "--port", "0", "--user", "nobody"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_names_and_a_group_alone_are_refused() {
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(["--check", "--port", "0"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--user", "no-such-user-prefork"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--user no-such-user-prefork: no such user")
    );
    let out = run(&["--user", "root", "--group", "no-such-group-prefork"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--group no-such-group-prefork: no such group"));
    // clap: --group requires --user.
    let out = run(&["--group", "root"]);
    assert_eq!(out.status.code(), Some(2));
}
