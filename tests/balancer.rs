//! Behind a real HAProxy (active checks on /healthz, retries off), a graceful stop and start,
//! a reload and a binary upgrade, one instance at a time under wrk, lose nothing: the run of
//! `benches/balancer.py` against this build. Skipped, saying why, where HAProxy, wrk or root
//! (for network namespaces) is missing; `.ci/run` installs them.

use std::process::Command;

#[test]
fn rolling_restarts_behind_haproxy_lose_nothing() {
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
        .args(["--binary", env!("CARGO_BIN_EXE_prefork-server")])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(77) => eprintln!("skipped: {}", text.trim()),
        Some(0) => assert!(text.contains(" 0 non-2xx, 0 socket errors"), "{text}"),
        code => panic!("the run lost requests or failed to set up (exit {code:?}):\n{text}"),
    }
}
