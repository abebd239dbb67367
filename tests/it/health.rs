//! `/healthz` for every worker at once: changed through the metrics port or with the admin
//! token, seen by each worker (and by one forked after the change), refused on the public port
//! without the token, failing a share of the checks, and overruled by a graceful stop's drain.

use crate::common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::{get, read_response, request, wait_until, Response, Server, BIN};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const TOKEN: &str = "s3cret-token-for-tests_0123456789";

/// Starts a server on port 0 with `args`, and `PREFORK_ADMIN_TOKEN` if `token` is given; returns
/// it with its metrics address when it has one (`--metrics-port 0`).
fn start(args: &[&str], token: Option<&str>) -> (Server, Option<SocketAddr>) {
    let mut cmd = Command::new(BIN);
    cmd.args(["--bind", "127.0.0.1", "--port", "0"]).args(args);
    cmd.env_remove("PREFORK_ADMIN_TOKEN");
    if let Some(token) = token {
        cmd.env("PREFORK_ADMIN_TOKEN", token);
    }
    let server = Server::spawn(cmd);
    let metrics = args.contains(&"--metrics-port").then(|| {
        let line = server
            .wait_for_log("serving /metrics and /status on ", Duration::from_secs(5))
            .expect("metrics address logged");
        line.rsplit(' ').next().unwrap().parse().unwrap()
    });
    (server, metrics)
}

/// `METHOD target` with optional extra header lines, on a fresh connection.
fn send(addr: SocketAddr, method: &str, target: &str, extra: &str, body: &str) -> Response {
    let raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    request(addr, raw.as_bytes())
}

/// On fresh connections until every pid in `want` has answered (bounded): which worker
/// answered (`/whoami`) and what its `/healthz` said, on the same connection.
fn healthz_by_worker(addr: SocketAddr, want: &[u32]) -> HashMap<u32, (u16, String)> {
    let mut seen = HashMap::new();
    for _ in 0..2000 {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(
            b"GET /whoami HTTP/1.1\r\nHost: t\r\n\r\n\
              GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut pending = Vec::new();
        let pid = common::whoami_pid(&read_response(&mut s, &mut pending, false));
        let health = read_response(&mut s, &mut pending, false);
        seen.insert(pid, (health.status, health.body_str().to_string()));
        if want.iter().all(|p| seen.contains_key(p)) {
            return seen;
        }
    }
    panic!(
        "not every worker answered: want {want:?}, saw {:?}",
        seen.keys()
    );
}

#[test]
fn one_change_reaches_every_worker_and_one_forked_later() {
    let (server, metrics) = start(&["--workers", "4", "--metrics-port", "0"], None);
    let metrics = metrics.unwrap();
    let workers = server.workers();
    assert_eq!(workers.len(), 4);

    let reply = send(metrics, "PUT", "/healthz?fail=503", "", "");
    assert_eq!(reply.status, 200, "{}", reply.body_str());
    assert_eq!(
        reply.body_str(),
        "{\"state\":\"failing\",\"status\":503,\"percent\":100}\n"
    );
    for (pid, answer) in healthz_by_worker(server.addr, &workers) {
        assert_eq!(answer, (503, "failing\n".into()), "worker {pid}");
    }
    // The metrics port answers the check too, and shows the state.
    assert_eq!(get(metrics, "/healthz").status, 503);
    let text = get(metrics, "/metrics").body_str().to_string();
    assert!(
        text.contains("prefork_health_state{state=\"failing\"} 1"),
        "{text}"
    );
    assert!(text.contains("prefork_health_fail_status 503"), "{text}");
    assert!(text.contains("prefork_health_changes_total 1"), "{text}");
    let status = get(metrics, "/status").body_str().to_string();
    assert!(
        status.contains("\"health\":{\"draining\":0,\"fail_status\":503,\"fail_percent\":100}"),
        "{status}"
    );

    // A worker forked after the change reads the same state.
    let victim = workers[0];
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).unwrap();
    let fresh = wait_until(Duration::from_secs(10), || {
        let now = server.workers();
        let new: Vec<u32> = now.into_iter().filter(|p| !workers.contains(p)).collect();
        (new.len() == 1).then(|| new[0])
    })
    .expect("the killed worker was replaced");
    let answers = healthz_by_worker(server.addr, &[fresh]);
    assert_eq!(answers[&fresh], (503, "failing\n".into()));

    // Back to ok, everywhere, with DELETE.
    let reply = send(metrics, "DELETE", "/healthz", "", "");
    assert_eq!(reply.body_str(), "{\"state\":\"ok\"}\n");
    let all = server.workers();
    for (pid, answer) in healthz_by_worker(server.addr, &all) {
        assert_eq!(answer, (200, "ok".into()), "worker {pid}");
    }
}

#[test]
fn a_percentage_fails_about_that_share_of_checks() {
    let (server, metrics) = start(&["--workers", "2", "--metrics-port", "0"], None);
    let metrics = metrics.unwrap();
    let reply = send(metrics, "PUT", "/healthz", "", "fail=500:30");
    assert_eq!(reply.status, 200, "{}", reply.body_str());
    // 20 connections of 100 pipelined checks: the draw is per check, not per connection.
    let mut failed = 0;
    for _ in 0..20 {
        let mut s = server.connect();
        s.write_all(&b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n".repeat(100))
            .unwrap();
        let mut pending = Vec::new();
        for _ in 0..100 {
            let r = read_response(&mut s, &mut pending, false);
            match r.status {
                200 => assert_eq!(r.body_str(), "ok"),
                500 => failed += 1,
                other => panic!("status {other}"),
            }
        }
    }
    // 2,000 checks at 30 %: 600 expected, one standard deviation is about 20.
    eprintln!("{failed} of 2000 checks failed");
    assert!((500..=700).contains(&failed), "{failed} of 2000 failed");
}

#[test]
fn the_public_port_needs_the_admin_token_and_a_refusal_changes_nothing() {
    let (server, _) = start(&["--workers", "2"], Some(TOKEN));
    let addr = server.addr;
    let refused = [
        send(addr, "PUT", "/healthz?fail=503", "", ""),
        send(addr, "GET", "/healthz?fail=503", "", ""),
        send(addr, "DELETE", "/healthz", "", ""),
        send(
            addr,
            "PUT",
            "/healthz",
            "Authorization: Bearer wrong-token-0123456789\r\n",
            "503",
        ),
        send(
            addr,
            "PUT",
            "/healthz",
            "Authorization: Basic dXNlcjpwYXNz\r\n",
            "503",
        ),
    ];
    for (i, r) in refused.iter().enumerate() {
        assert_eq!(r.status, 401, "attempt {i}: {}", r.body_str());
        let challenge = r.header("www-authenticate").expect("a challenge");
        assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    }
    assert!(refused[3]
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(get(addr, "/healthz").status, 200, "nothing changed");

    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let reply = send(addr, "PUT", "/healthz", &auth, "fail=503");
    assert_eq!(reply.status, 200, "{}", reply.body_str());
    assert!(reply.body_str().contains("\"state\":\"failing\""));
    assert_eq!(get(addr, "/healthz").status, 503);
    let reply = send(addr, "GET", "/healthz?fail=off", &auth, "");
    assert_eq!(reply.body_str(), "{\"state\":\"ok\"}\n");
    assert_eq!(get(addr, "/healthz").status, 200);
    let bad = send(addr, "PUT", "/healthz?fail=200", &auth, "");
    assert_eq!(bad.status, 400);
    assert_eq!(
        get(addr, "/healthz").status,
        200,
        "a bad value changes nothing"
    );
}

#[test]
fn without_a_token_or_metrics_port_no_one_may_change_it() {
    let (server, _) = start(&["--workers", "1"], None);
    let r = send(server.addr, "PUT", "/healthz?fail=503", "", "");
    assert_eq!(r.status, 403, "{}", r.body_str());
    let r = send(
        server.addr,
        "PUT",
        "/healthz",
        &format!("Authorization: Bearer {TOKEN}\r\n"),
        "503",
    );
    assert_eq!(r.status, 403);
    assert_eq!(get(server.addr, "/healthz").status, 200);
    // HEAD never changes anything, and is no refusal either.
    let head = request(
        server.addr,
        b"HEAD /healthz?fail=503 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(head.status, 200);
}

#[test]
fn the_token_may_come_from_a_file() {
    let dir = std::env::temp_dir().join(format!("prefork-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let path = file.to_str().unwrap();
    let (server, _) = start(&["--workers", "1", "--admin-token-file", path], None);
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    assert_eq!(
        send(server.addr, "PUT", "/healthz", &auth, "500").status,
        200
    );
    assert_eq!(get(server.addr, "/healthz").status, 500);
    drop(server);
    std::fs::write(&file, "short\n").unwrap();
    let out = Command::new(BIN)
        .args(["--check", "--port", "0", "--admin-token-file", path])
        .env_remove("PREFORK_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(78),
        "a bad token file is a config error"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn draining_wins_over_a_forced_ok() {
    let args = [
        "--workers",
        "2",
        "--metrics-port",
        "0",
        "--drain-delay",
        "3s",
    ];
    let (server, metrics) = start(&args, None);
    let metrics = metrics.unwrap();
    assert_eq!(
        send(metrics, "PUT", "/healthz?fail=off", "", "").status,
        200
    );
    server.signal(Signal::SIGTERM);
    let draining = wait_until(Duration::from_secs(2), || {
        let r = get(server.addr, "/healthz");
        (r.status == 503).then_some(r)
    })
    .expect("/healthz never said 503");
    assert_eq!(draining.body_str(), "draining\n");
    // Forcing ok during the drain delay is taken, and still overruled.
    let reply = send(metrics, "PUT", "/healthz?fail=off", "", "");
    assert_eq!(reply.body_str(), "{\"state\":\"draining\"}\n");
    for _ in 0..20 {
        assert_eq!(get(server.addr, "/healthz").status, 503);
    }
    assert_eq!(get(server.addr, "/").status, 200, "still serving meanwhile");
    let text = get(metrics, "/metrics").body_str().to_string();
    assert!(
        text.contains("prefork_health_state{state=\"draining\"} 1"),
        "{text}"
    );
}
