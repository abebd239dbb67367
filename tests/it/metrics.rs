//! `/metrics` and `/status` from the shared stats, checked with a strict exposition-format parser.

use crate::common;

use std::collections::HashMap;
use std::io::Write;

use common::{get, read_response, Server};

/// One sample: metric name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

/// Parses the Prometheus text format (0.0.4) strictly: every sample belongs to a family whose
/// TYPE came first, names and labels are well-formed, values are numbers, no duplicates.
fn parse_exposition(text: &str) -> (HashMap<String, String>, Vec<Sample>) {
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut types = HashMap::new();
    let mut samples = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "empty line in exposition");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(valid_name(name), "bad HELP name {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind));
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {name}"
            );
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment {line}");
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        assert!(valid_name(name), "bad metric name {name}");
        let mut map = HashMap::new();
        if !labels.is_empty() {
            for pair in labels.split(',') {
                let (k, v) = pair.split_once('=').expect("label=value");
                assert!(valid_name(k) && !k.starts_with("__"), "bad label {k}");
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .expect("quoted value");
                assert!(!v.contains('"') && !v.contains('\n'));
                map.insert(k.to_string(), v.to_string());
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {name}");
        assert!(seen.insert(series.to_string()), "duplicate series {series}");
        samples.push((name.to_string(), map, value));
    }
    (types, samples)
}

fn sum(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name && label.is_none_or(|(k, v)| l.get(k).is_some_and(|x| x == v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[test]
fn metrics_count_what_happened_and_parse_strictly() {
    let server = Server::start(&["--workers", "2"]);
    for _ in 0..10 {
        assert_eq!(get(server.addr, "/").status, 200);
    }
    for _ in 0..3 {
        assert_eq!(get(server.addr, "/nope").status, 404);
    }
    for _ in 0..2 {
        let mut s = server.connect();
        s.write_all(b"BROKEN\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut s, &mut Vec::new(), false).status, 400);
    }
    let resp = get(server.addr, "/metrics");
    assert_eq!(resp.status, 200);
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let (types, samples) = parse_exposition(resp.body_str());
    assert_eq!(types["prefork_loop_turn_seconds"], "histogram");
    assert_eq!(sum(&samples, "prefork_workers", None), 2.0);
    assert!(sum(&samples, "prefork_responses_total", Some(("class", "2xx"))) >= 10.0);
    assert!(sum(&samples, "prefork_responses_total", Some(("class", "4xx"))) >= 5.0);
    assert_eq!(sum(&samples, "prefork_parse_errors_total", None), 2.0);
    let accepted = sum(&samples, "prefork_connections_accepted_total", None);
    assert!(accepted >= 16.0, "accepted {accepted}");
    // Per-worker series carry worker and generation labels.
    let workers: std::collections::HashSet<_> = samples
        .iter()
        .filter(|(n, _, _)| n == "prefork_connections_accepted_total")
        .map(|(_, l, _)| (l["worker"].clone(), l["generation"].clone()))
        .collect();
    assert_eq!(workers.len(), 2);
    // Histogram buckets are cumulative and end at _count.
    for (_, labels, count) in samples
        .iter()
        .filter(|(n, _, _)| n == "prefork_loop_turn_seconds_count")
    {
        let mut last = 0.0;
        for (_, l, v) in samples.iter().filter(|(n, l2, _)| {
            n == "prefork_loop_turn_seconds_bucket" && l2["pid"] == labels["pid"]
        }) {
            assert!(*v >= last, "buckets not cumulative at le={}", l["le"]);
            last = *v;
        }
        assert_eq!(last, *count);
    }
}

/// `promtool check metrics` (Debian's `prometheus` package) agrees with the strict parser
/// above. The strict parser runs everywhere (`metrics_count_what_happened_and_parse_strictly`);
/// `.ci/run` installs promtool and runs this test, which fails where promtool is missing.
#[test]
#[ignore = "needs promtool (Debian's prometheus package): run by .ci/run with --ignored"]
fn promtool_accepts_the_metrics() {
    let server = Server::start(&["--workers", "2"]);
    get(server.addr, "/");
    let body = get(server.addr, "/metrics").body_str().to_string();
    parse_exposition(&body);
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}): install Debian's prometheus package, as .ci/run does"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {report}");
    assert!(report.trim().is_empty(), "promtool warnings: {report}");
}

#[test]
fn status_is_json_with_workers_and_totals() {
    let server = Server::start(&["--workers", "2"]);
    for _ in 0..5 {
        get(server.addr, "/");
    }
    let resp = get(server.addr, "/status");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = resp.body_str();
    assert!(body.starts_with("{\"workers\":[{\"slot\":"), "{body}");
    assert_eq!(body.matches("\"pid\":").count(), 2);
    assert!(body.contains("\"totals\":{\"workers\":2,"));
    assert!(body.contains("\"restarts\":{\"crashed\":0,\"hung\":0,\"recycled\":0}"));
    assert_eq!(body.matches('{').count(), body.matches('}').count());
}

#[test]
fn a_killed_worker_counts_as_a_crash_restart_and_leaves_the_listing() {
    let server = Server::start(&["--workers", "2"]);
    let victim = server.workers()[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let replaced = common::wait_until(std::time::Duration::from_secs(5), || {
        let w = server.workers();
        (w.len() == 2 && !w.contains(&victim)).then_some(())
    });
    assert!(replaced.is_some());
    let seen = common::wait_until(std::time::Duration::from_secs(5), || {
        let (_, samples) = parse_exposition(get(server.addr, "/metrics").body_str());
        let crashed = sum(
            &samples,
            "prefork_worker_restarts_total",
            Some(("reason", "crashed")),
        );
        let listed_victim = samples
            .iter()
            .any(|(_, l, _)| l.get("pid") == Some(&victim.to_string()));
        (crashed == 1.0 && !listed_victim).then_some(())
    });
    assert!(
        seen.is_some(),
        "restart not counted or the dead worker still listed"
    );
}

#[test]
fn status_subcommand_prints_a_table() {
    let server = Server::start(&["--workers", "2"]);
    get(server.addr, "/");
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--port", &server.port().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .trim_start()
            .starts_with("slot"),
        "{table}"
    );
    assert!(table.contains("total  2 workers"), "{table}");
    assert!(table.contains("restarts: 0 crashed"));
    // Nothing listening: a clear error and a non-zero exit.
    drop(server);
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--port", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:1"));
}

#[test]
fn metrics_port_serves_metrics_only_and_the_main_port_no_longer_does() {
    let server = Server::start(&[
        "--workers",
        "2",
        "--protocol",
        "echo",
        "--metrics-port",
        "0",
    ]);
    let line = server
        .wait_for_log(
            "serving /metrics and /status on ",
            std::time::Duration::from_secs(5),
        )
        .expect("metrics address logged");
    let addr: std::net::SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    let resp = get(addr, "/metrics");
    assert_eq!(resp.status, 200);
    let (_, samples) = parse_exposition(resp.body_str());
    assert_eq!(sum(&samples, "prefork_workers", None), 2.0);
    assert_eq!(get(addr, "/status").status, 200);
    assert_eq!(
        get(addr, "/").status,
        404,
        "the metrics port serves nothing else"
    );
    // The main port speaks echo, and never answers /metrics.
    let mut s = server.connect();
    s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut back = [0u8; 25];
    std::io::Read::read_exact(&mut s, &mut back).unwrap();
    assert_eq!(&back, b"GET /metrics HTTP/1.1\r\n\r\n");
}

#[test]
fn with_a_metrics_port_the_main_port_answers_404_for_metrics() {
    let server = Server::start(&["--workers", "1", "--metrics-port", "0"]);
    assert_eq!(get(server.addr, "/metrics").status, 404);
    assert_eq!(get(server.addr, "/status").status, 404);
    assert_eq!(get(server.addr, "/").status, 200);
}

#[test]
fn access_log_writes_one_combined_line_per_request() {
    let dir = std::env::temp_dir().join(format!("prefork-access-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("access.log");
    let server = Server::start(&["--workers", "1", "--access-log", path.to_str().unwrap()]);
    assert_eq!(get(server.addr, "/").status, 200);
    assert_eq!(get(server.addr, "/nope").status, 404);
    let mut s = server.connect();
    s.write_all(b"GARBAGE\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s, &mut Vec::new(), false).status, 400);
    // Flushed at least once a second.
    let text = common::wait_until(std::time::Duration::from_secs(5), || {
        let t = std::fs::read_to_string(&path).ok()?;
        (t.lines().count() >= 3).then_some(t)
    })
    .expect("three lines within a few seconds");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("127.0.0.1 - - ["), "{}", lines[0]);
    assert!(
        lines[0].contains("\"GET / HTTP/1.1\" 200 13 \"-\" \"-\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("\"GET /nope HTTP/1.1\" 404 10 "),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("\"-\" 400 12 "), "{}", lines[2]);
    // SIGUSR1 (logrotate): later lines go to a new file at the same path.
    std::fs::rename(&path, dir.join("access.log.1")).unwrap();
    server.signal(nix::sys::signal::Signal::SIGUSR1);
    let rotated = common::wait_until(std::time::Duration::from_secs(5), || {
        get(server.addr, "/healthz");
        let t = std::fs::read_to_string(&path).ok()?;
        t.contains("\"GET /healthz HTTP/1.1\" 200").then_some(())
    });
    assert!(rotated.is_some(), "no new access log after SIGUSR1");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_header_timeout_is_logged_with_its_peer() {
    let dir = std::env::temp_dir().join(format!("prefork-access-408-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("access.log");
    let server = Server::start(&[
        "--workers",
        "1",
        "--header-timeout",
        "300ms",
        "--access-log",
        path.to_str().unwrap(),
    ]);
    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    assert_eq!(read_response(&mut s, &mut Vec::new(), false).status, 408);
    let text = common::wait_until(std::time::Duration::from_secs(5), || {
        let t = std::fs::read_to_string(&path).ok()?;
        (!t.is_empty()).then_some(t)
    })
    .expect("a line within a few seconds");
    assert!(
        text.starts_with("127.0.0.1 - - [") && text.contains("\"-\" 408 16 "),
        "{text}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_access_log_that_cannot_be_opened_is_a_configuration_error() {
    let out = std::process::Command::new(common::BIN)
        .args(["--port", "0", "--access-log", "/nonexistent-dir/access.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-dir/access.log"));
}
