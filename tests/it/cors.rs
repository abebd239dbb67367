//! `--cors-origin` and its companions, against the real binary: preflights allowed and
//! refused (origin, method, header), the fields on every kind of answer (the hello, httpbin's,
//! a stream, a file, /metrics), `Vary: Origin`, and httpbin's own CORS when no policy is set.

use std::process::Command;

use crate::common::tree::Tree;
use crate::common::{request, Response, Server, BIN};

fn ask(server: &Server, method: &str, target: &str, extra: &str) -> Response {
    request(
        server.addr,
        format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n")
            .as_bytes(),
    )
}

/// Every value of a field (the test's `header` gives the first).
fn all(r: &Response, name: &str) -> Vec<String> {
    r.head
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .collect()
}

const APP: &str = "Origin: https://app.example\r\n";
const EVIL: &str = "Origin: https://evil.example\r\n";

#[test]
fn a_policy_answers_preflights_and_marks_every_answer() {
    let server = Server::start(&[
        "--workers",
        "1",
        "--cors-origin",
        "https://app.example,https://admin.example",
        "--cors-headers",
        "X-Token,Content-Type",
        "--cors-max-age",
        "600",
        "--cors-credentials",
        "--cors-expose-headers",
        "X-Request-Id",
    ]);
    // An allowed preflight: 204 with what is allowed.
    let r = ask(&server, "OPTIONS", "/anything/x", &format!(
        "{APP}Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: x-token, content-type\r\n"));
    assert_eq!(r.status, 204, "{}", r.head);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, HEAD, POST, PUT, PATCH, DELETE")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("x-token, content-type")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert!(r.header("vary").unwrap().contains("Origin"));
    assert!(r.header("content-length").is_none() && r.body.is_empty());
    // Refused: another origin, a method not listed, a header not listed. 403, no grant.
    for (what, extra) in [
        ("origin", format!("{EVIL}Access-Control-Request-Method: PUT\r\n")),
        ("method", format!("{APP}Access-Control-Request-Method: PROPFIND\r\n")),
        ("header", format!("{APP}Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: X-Other\r\n")),
    ] {
        let r = ask(&server, "OPTIONS", "/get", &extra);
        assert_eq!(r.status, 403, "{what}: {}", r.head);
        assert!(r.header("access-control-allow-origin").is_none(), "{what}");
        assert!(r.body_str().contains(what), "{what}: {}", r.body_str());
    }
    // A plain OPTIONS (no preflight) is the route's own.
    let r = ask(&server, "OPTIONS", "/", APP);
    assert_eq!(r.status, 200);
    assert!(r.header("allow").is_some());

    // Actual requests from an allowed origin: the grant, once, on every kind of answer.
    for target in [
        "/",
        "/get",
        "/status/418",
        "/stream/2",
        "/drip?numbytes=3&duration=0",
        "/metrics",
        "/healthz",
        "/nope",
    ] {
        let r = ask(&server, "GET", target, APP);
        assert_eq!(
            all(&r, "access-control-allow-origin"),
            vec!["https://app.example"],
            "{target}: {}",
            r.head
        );
        assert_eq!(
            r.header("access-control-allow-credentials"),
            Some("true"),
            "{target}"
        );
        assert_eq!(
            r.header("access-control-expose-headers"),
            Some("X-Request-Id"),
            "{target}"
        );
        assert!(
            all(&r, "vary").iter().any(|v| v.contains("Origin")),
            "{target}"
        );
    }
    // Another origin: no grant (httpbin's own every-origin answer gives way), but Vary still.
    for target in ["/", "/get"] {
        let r = ask(&server, "GET", target, EVIL);
        assert_eq!(r.status, 200);
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "{target}: {}",
            r.head
        );
        assert!(
            r.header("access-control-allow-credentials").is_none(),
            "{target}"
        );
        assert!(
            all(&r, "vary").iter().any(|v| v.contains("Origin")),
            "{target}"
        );
    }
    // No Origin: an answer that varies by origin says so, so caches keep them apart.
    let r = ask(&server, "GET", "/", "");
    assert!(r.header("access-control-allow-origin").is_none());
    assert_eq!(r.header("vary"), Some("Origin"));
}

#[test]
fn any_origin_is_a_star_without_vary_and_files_get_it_too() {
    let t = Tree::new();
    t.file("data.json", b"{}");
    let server = Server::start(&["--workers", "1", "--root", t.arg(), "--cors-origin", "*"]);
    let r = ask(&server, "GET", "/data.json", APP);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-credentials").is_none());
    assert!(
        all(&r, "vary").iter().all(|v| !v.contains("Origin")),
        "{}",
        r.head
    );
    // A 304 and a 404 carry it as well.
    let etag = r.header("etag").unwrap().to_string();
    let r = ask(
        &server,
        "GET",
        "/data.json",
        &format!("{APP}If-None-Match: {etag}\r\n"),
    );
    assert_eq!(
        (r.status, r.header("access-control-allow-origin")),
        (304, Some("*"))
    );
    assert_eq!(
        ask(&server, "GET", "/missing", APP).header("access-control-allow-origin"),
        Some("*")
    );
    let r = ask(
        &server,
        "OPTIONS",
        "/data.json",
        &format!("{APP}Access-Control-Request-Method: DELETE\r\n"),
    );
    assert_eq!(
        (r.status, r.header("access-control-allow-origin")),
        (204, Some("*"))
    );
}

#[test]
fn without_a_policy_httpbin_keeps_its_own_cors() {
    let server = Server::start(&["--workers", "1"]);
    let r = ask(&server, "GET", "/get", EVIL);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://evil.example")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    // The server's own routes carry none.
    assert!(ask(&server, "GET", "/", EVIL)
        .header("access-control-allow-origin")
        .is_none());
}

#[test]
fn companions_need_an_origin_and_origins_are_checked() {
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(["--check", "--port", "0"])
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        vec!["--cors-credentials"],
        vec!["--cors-max-age", "5"],
        vec!["--cors-origin", "app.example"],
        vec!["--cors-origin", "https://app.example/"],
        vec!["--cors-origin", "*", "--cors-headers", "bad header"],
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(run(&[
        "--cors-origin",
        "https://app.example:8443,http://localhost:3000"
    ])
    .status
    .success());
}
