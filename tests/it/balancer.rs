//! Behind a real HAProxy (active checks on /healthz, retries off), a graceful stop and start,
//! a reload and a binary upgrade, one instance at a time under wrk, lose nothing: the run of
//! `benches/balancer.py` against this build. It needs HAProxy, wrk, `ip` (iproute2), python3
//! and root (for network namespaces), so it is `#[ignore]`d; `.ci/run` installs them and runs
//! it, and where one is missing it fails (the script's exit 77) rather than passes.

use std::process::Command;

#[test]
#[ignore = "needs root, haproxy, wrk, ip and python3: run by .ci/run with --ignored"]
fn rolling_restarts_behind_haproxy_lose_nothing() {
    run_balancer(&[]);
}

/// The same with HTTPS on the instances: HAProxy in TCP mode passes the TLS stream through
/// (its checks speak TLS), with a PROXY v2 header in front that the instances read before the
/// handshake.
#[test]
#[ignore = "needs root, haproxy, wrk, ip, openssl and python3: run by .ci/run with --ignored"]
fn rolling_restarts_behind_haproxy_passing_tls_through_lose_nothing() {
    run_balancer(&["--tls"]);
}

fn run_balancer(extra: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/balancer.py");
    let out = Command::new("python3")
        .args([
            script,
            "--balancer",
            "haproxy",
            "--duration",
            "12",
            "--clients",
            "16",
        ])
        .args(extra)
        .args(["--binary", env!("CARGO_BIN_EXE_prefork-server")])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): this test needs it"));
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(77) => panic!(
            "cannot run here (benches/balancer.py exit 77): {}; install what it names and run \
             as root, as .ci/run does",
            text.trim()
        ),
        Some(0) => assert!(text.contains(" 0 non-2xx, 0 socket errors"), "{text}"),
        code => panic!("the run lost requests or failed to set up (exit {code:?}):\n{text}"),
    }
}
