//! The commands beside the server: `--version`, `healthcheck` (a container's probe) and
//! `generate` (the man page and completions, which must cover every option `--help` shows).

use std::process::Command;
use std::time::Duration;

use crate::common::{self, request, Server, BIN};

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn version_names_the_commit() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with(&format!(
            "prefork-server {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{line}"
    );
    // Built from this checkout: the commit is HEAD's.
    if let Ok(head) = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
    {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
        if !head.is_empty() {
            assert!(line.contains(&head), "{line} does not name HEAD {head}");
        }
    }
}

#[test]
fn healthcheck_exits_0_when_healthy_and_1_when_failing_or_gone() {
    let server = Server::start(&["--workers", "1", "--metrics-port", "0"]);
    let line = server
        .wait_for_log("serving /metrics and /status on ", Duration::from_secs(5))
        .expect("metrics address logged");
    let metrics: std::net::SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    let port = server.port().to_string();
    let out = run(&["healthcheck", "--port", &port]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("127.0.0.1:{port}: ok")
    );
    // PREFORK_PORT names the port too, as in a container whose port is set by it.
    let out = Command::new(BIN)
        .arg("healthcheck")
        .env("PREFORK_PORT", &port)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let reply = request(
        metrics,
        b"PUT /healthz?fail=503 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(reply.status, 200);
    let out = run(&["healthcheck", "--port", &port]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("503") && stderr.contains("failing"),
        "{stderr}"
    );

    drop(server);
    let out = run(&["healthcheck", "--port", &port, "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("127.0.0.1:{port}")));
}

/// The long options `--help` lists, with their `[env: ...]` names.
fn options_in_help() -> Vec<(String, Option<String>)> {
    let help = String::from_utf8(run(&["--help"]).stdout).unwrap();
    let mut options: Vec<(String, Option<String>)> = Vec::new();
    for line in help.lines() {
        // An option's own line is indented by two (`-V, --version`) or six spaces; its help
        // text, below it, by ten.
        let indent = line.len() - line.trim_start().len();
        if indent > 6 {
            if let Some(env) = line.split("[env: ").nth(1) {
                let env = env.split(['=', ']']).next().unwrap().to_string();
                options.last_mut().unwrap().1 = Some(env);
            }
            continue;
        }
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("--").or_else(|| {
            t.strip_prefix("-")
                .and_then(|r| r.split_once(", --").map(|(_, l)| l))
        }) {
            let name = rest.split([' ', '=']).next().unwrap().to_string();
            options.push((name, None));
        }
        if let Some(env) = line.split("[env: ").nth(1) {
            let env = env.split(['=', ']']).next().unwrap().to_string();
            options.last_mut().unwrap().1 = Some(env);
        }
    }
    options
}

#[test]
fn generate_writes_a_man_page_and_completions_that_cover_every_option() {
    let dir = common::tree::Tree::new();
    let out = run(&["generate", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let listed = String::from_utf8(out.stdout).unwrap();
    for file in [
        "prefork-server.1",
        "prefork-server-status.1",
        "prefork-server-healthcheck.1",
        "prefork-server-generate.1",
        "prefork-server.bash",
        "_prefork-server",
        "prefork-server.fish",
    ] {
        assert!(listed.contains(file), "{file} not listed: {listed}");
        assert!(dir.path().join(file).is_file(), "{file} not written");
    }
    // roff escapes '-' as '\-'.
    let page = std::fs::read_to_string(dir.path().join("prefork-server.1"))
        .unwrap()
        .replace("\\-", "-");
    let bash = std::fs::read_to_string(dir.path().join("prefork-server.bash")).unwrap();
    let fish = std::fs::read_to_string(dir.path().join("prefork-server.fish")).unwrap();
    let options = options_in_help();
    assert!(options.len() > 50, "{options:?}");
    for (name, env) in &options {
        assert!(
            page.contains(&format!("--{name}")),
            "--{name} not in the man page"
        );
        assert!(bash.contains(&format!("--{name}")), "--{name} not in bash");
        assert!(fish.contains(&format!("-l {name}")), "--{name} not in fish");
        if let Some(env) = env {
            assert!(page.contains(env.as_str()), "{env} not in the man page");
        }
    }
    assert!(options
        .iter()
        .any(|(n, e)| n == "user" && e.as_deref() == Some("PREFORK_USER")));
    for section in ["SIGNALS", "EXIT STATUS", "ENVIRONMENT", "FILES"] {
        assert!(
            page.contains(&format!(".SH \"{section}\""))
                || page.contains(&format!(".SH {section}")),
            "no {section} section"
        );
    }
    for signal in [
        "SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGTTIN",
    ] {
        assert!(page.contains(signal), "{signal} not in the man page");
    }
    for code in [0, 1, 2, 69, 70, 71, 73, 75, 77, 78] {
        assert!(
            page.contains(&format!("\n.TP\n\\fB{code}\\fR")),
            "exit code {code} not in the man page"
        );
    }
    // A directory that cannot be made: 73, and a message naming it.
    let out = run(&["generate", "/proc/self/nope"]);
    assert_eq!(out.status.code(), Some(73));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/proc/self/nope"));
}
