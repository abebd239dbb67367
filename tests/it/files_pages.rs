//! `--fallback` (a single-page application's routes) and `--error-page` (an error answered
//! with a file's content and the error's status), against the real binary.

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

fn site() -> Tree {
    let t = Tree::new();
    t.file("index.html", b"<div id=app></div>\n");
    t.file("app.js", b"console.log(1)\n");
    t.file("404.html", b"<h1>nothing here</h1>\n");
    t.file("errors/down.html", b"<h1>back soon</h1>\n");
    t
}

#[test]
fn the_fallback_answers_routes_but_not_files_or_api_calls() {
    let t = site();
    let server = Server::start(&[
        "--workers",
        "1",
        "--root",
        t.arg(),
        "--fallback",
        "index.html",
    ]);
    for route in ["/settings", "/settings/profile", "/users/42", "/a/b/c"] {
        let r = ask(
            &server,
            "GET",
            route,
            "Accept: text/html,application/xhtml+xml;q=0.9\r\n",
        );
        assert_eq!(
            (r.status, r.body_str()),
            (200, "<div id=app></div>\n"),
            "{route}"
        );
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(
            r.header("etag").is_some(),
            "the fallback is the file, validators and all"
        );
    }
    // curl's */* and no Accept at all count as taking HTML.
    assert_eq!(ask(&server, "GET", "/route", "Accept: */*\r\n").status, 200);
    assert_eq!(ask(&server, "GET", "/route", "").status, 200);
    let head = ask(&server, "HEAD", "/route", "");
    assert_eq!((head.status, head.body.len()), (200, 0));
    // A file with an extension, and an API call for JSON, still learn it is missing.
    assert_eq!(ask(&server, "GET", "/missing.js", "").status, 404);
    assert_eq!(
        ask(&server, "GET", "/img/logo.png", "Accept: text/html\r\n").status,
        404
    );
    assert_eq!(
        ask(&server, "GET", "/api/users", "Accept: application/json\r\n").status,
        404
    );
    // Real files are themselves, and other methods are refused as before.
    assert_eq!(
        ask(&server, "GET", "/app.js", "").body_str(),
        "console.log(1)\n"
    );
    assert_eq!(
        ask(&server, "POST", "/settings", "Content-Length: 0\r\n").status,
        405
    );
}

#[test]
fn error_pages_carry_the_error_status_and_the_file() {
    let t = site();
    let server = Server::start(&[
        "--workers",
        "1",
        "--root",
        t.arg(),
        "--error-page",
        "404=404.html",
        "--error-page",
        "503=errors/down.html",
        "--cache-control",
        "public, max-age=31536000, immutable",
    ]);
    let r = ask(&server, "GET", "/nope", "");
    assert_eq!((r.status, r.body_str()), (404, "<h1>nothing here</h1>\n"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    // An error, not the file as a resource: no validators, not the files' caching policy.
    for field in [
        "etag",
        "last-modified",
        "cache-control",
        "location",
        "accept-ranges",
    ] {
        assert!(r.header(field).is_none(), "{field} on an error page");
    }
    let head = ask(&server, "HEAD", "/nope.txt", "");
    assert_eq!((head.status, head.body.len()), (404, 0));
    assert_eq!(head.header("content-length"), Some("22"));
    // The page itself is served as a file too, and the others still work.
    assert_eq!(ask(&server, "GET", "/404.html", "").status, 200);
    assert_eq!(ask(&server, "GET", "/app.js", "").status, 200);
    // With a fallback as well, an extensionless route takes the fallback, a file the 404 page.
    let both = Server::start(&[
        "--workers",
        "1",
        "--root",
        t.arg(),
        "--fallback",
        "index.html",
        "--error-page",
        "404=404.html",
    ]);
    assert_eq!(ask(&both, "GET", "/route", "").status, 200);
    let r = ask(&both, "GET", "/logo.png", "");
    assert_eq!((r.status, r.body_str()), (404, "<h1>nothing here</h1>\n"));
}

#[test]
fn the_options_are_checked_at_start() {
    let t = site();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(["--check", "--port", "0"])
            .args(args)
            .output()
            .unwrap()
    };
    let root = t.arg();
    for (args, code, says) in [
        (vec!["--fallback", "index.html"], 2, "give --root"),
        (
            vec!["--root", root, "--fallback", "../etc/passwd"],
            2,
            "without `..`",
        ),
        (
            vec!["--root", root, "--fallback", "none.html"],
            78,
            "no such file",
        ),
        (
            vec!["--root", root, "--error-page", "404=missing.html"],
            78,
            "no such file",
        ),
        (
            vec!["--root", root, "--error-page", "200=index.html"],
            2,
            "error pages replace",
        ),
        (vec!["--root", root, "--error-page", "404"], 2, "CODE=FILE"),
    ] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(run(&[
        "--root",
        root,
        "--fallback",
        "/index.html",
        "--error-page",
        "503=errors/down.html"
    ])
    .status
    .success());
}

#[test]
fn cache_rules_pick_a_value_per_path_first_match_wins() {
    let t = site();
    t.file("assets/app-3f2a.js", b"x");
    t.file("assets/site.css", b"y");
    let server = Server::start(&[
        "--workers",
        "1",
        "--root",
        t.arg(),
        "--cache-rule",
        "assets/*.js=public, max-age=31536000, immutable",
        "--cache-rule",
        "assets/*=public, max-age=3600",
        "--cache-rule",
        "index.html=no-cache",
        "--cache-control",
        "public, max-age=60",
    ]);
    let cc = |target: &str| {
        ask(&server, "GET", target, "")
            .header("cache-control")
            .map(str::to_string)
    };
    assert_eq!(
        cc("/assets/app-3f2a.js").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        cc("/assets/site.css").as_deref(),
        Some("public, max-age=3600")
    );
    assert_eq!(cc("/index.html").as_deref(), Some("no-cache"));
    assert_eq!(
        cc("/").as_deref(),
        Some("no-cache"),
        "the index file is index.html"
    );
    assert_eq!(cc("/app.js").as_deref(), Some("public, max-age=60"));
    // A 304 carries the same value as the 200 would.
    let etag = ask(&server, "GET", "/assets/site.css", "")
        .header("etag")
        .unwrap()
        .to_string();
    let r = ask(
        &server,
        "GET",
        "/assets/site.css",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(
        (r.status, r.header("cache-control")),
        (304, Some("public, max-age=3600"))
    );
    let out = Command::new(BIN)
        .args([
            "--check",
            "--port",
            "0",
            "--root",
            t.arg(),
            "--cache-rule",
            "a*b*=x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
