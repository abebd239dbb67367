//! Client test suites that use an httpbin, run against this build: python-requests' own
//! (`tests/clients/python-requests.sh`: its `httpbin` and `httpbin_secure` fixtures served
//! here, HTTPS with pytest-httpbin's certificate). It needs python3 with venv and the Python
//! package index, so it is `#[ignore]`d; `.ci/run` installs python3-venv and runs it.

use std::process::Command;

#[test]
#[ignore = "needs python3-venv and the Python package index: run by .ci/run with --ignored"]
fn python_requests_suite_passes_over_http_and_https() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/python-requests.sh"
    );
    let out = Command::new("bash")
        .args([script, env!("CARGO_BIN_EXE_prefork-server")])
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash ({e})"));
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(0) => assert!(text.contains(" passed"), "{text}"),
        Some(77) => panic!("python3 -m venv or pip failed: install python3-venv, as .ci/run does"),
        code => panic!("python-requests' tests failed (exit {code:?})"),
    }
}
