//! `--root`: which paths are served and how, against the real binary. Paths that climb out of
//! the root in every spelling, symlinks, FIFOs, dotfiles, directories, methods, headers.

use crate::common;

use std::time::{Duration, Instant};

use common::tree::Tree;
use common::{request, Server};

fn serve(tree: &Tree, extra: &[&str]) -> Server {
    let mut args = vec!["--workers", "1", "--root", tree.arg()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn get(server: &Server, target: &str) -> common::Response {
    request(
        server.addr,
        format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

#[test]
fn paths_that_climb_out_of_the_root_are_refused_in_every_spelling() {
    let tree = Tree::standard();
    let server = serve(&tree, &[]);
    for target in [
        "/../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/.%2e/etc/passwd",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/..%2f..%2fetc/passwd",
        "/docs/../../etc/passwd",
        "/docs/%2e%2e/%2e%2e/etc/passwd",
        "/a%00.txt",
        "http://t/../etc/passwd",
    ] {
        assert_eq!(get(&server, target).status, 400, "{target}");
    }
    // Inside the root, dot-segments resolve: /docs/../a.txt is /a.txt.
    assert_eq!(
        get(&server, "/docs/../a.txt").body_str(),
        "0123456789abcdefghijklmnopqrstuvwxyz"
    );
    assert_eq!(get(&server, "/docs/./index.html").body_str(), "docs\n");
    // A backslash is an ordinary byte, not a separator.
    assert_eq!(get(&server, "/docs%5c..%5ca.txt").status, 404);
}

#[test]
fn symlinks_fifos_and_dotfiles() {
    let tree = Tree::standard();
    let server = serve(&tree, &[]);
    assert_eq!(
        get(&server, "/inside").status,
        200,
        "a symlink that stays inside"
    );
    assert_eq!(
        get(&server, "/outside").status,
        404,
        "a symlink that leads out"
    );
    let start = Instant::now();
    assert_eq!(get(&server, "/fifo").status, 404, "not a regular file");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "the FIFO blocked the worker"
    );
    assert_eq!(get(&server, "/").status, 200, "the worker still serves");
    assert_eq!(get(&server, "/.git/config").status, 404);
    assert_eq!(get(&server, "/%2egit/config").status, 404);
    assert_eq!(get(&server, "/empty/.keep").status, 404);
    let open = serve(&tree, &["--dotfiles"]);
    assert_eq!(get(&open, "/.git/config").body_str(), "secret");
}

#[test]
fn directories_redirect_to_their_slash_and_serve_their_index() {
    let tree = Tree::standard();
    let server = serve(&tree, &[]);
    let resp = get(&server, "/docs");
    assert_eq!(resp.status, 301);
    assert_eq!(resp.header("location"), Some("/docs/"));
    assert_eq!(
        get(&server, "/docs?x=1&y=2").header("location"),
        Some("/docs/?x=1&y=2")
    );
    // However many leading slashes, the location cannot be read as another host.
    assert_eq!(get(&server, "//docs").header("location"), Some("/docs/"));
    assert_eq!(get(&server, "///docs").header("location"), Some("/docs/"));
    assert_eq!(get(&server, "/docs/").body_str(), "docs\n");
    assert_eq!(get(&server, "/empty/").status, 404, "no index");
    assert_eq!(
        get(&server, "/a.txt/").status,
        404,
        "a file named as a folder"
    );
    let head = request(
        server.addr,
        b"HEAD /docs HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((head.status, head.body.len()), (301, 0));
    // --index: the names, in order.
    tree.file("docs/home.htm", b"home\n");
    let custom = serve(&tree, &["--index", "missing.html,home.htm"]);
    assert_eq!(get(&custom, "/docs/").body_str(), "home\n");
}

#[test]
fn the_root_index_and_the_built_in_routes() {
    let tree = Tree::standard();
    let server = serve(&tree, &[]);
    assert_eq!(
        get(&server, "/").body_str(),
        "<h1>home</h1>\n",
        "/ is the index"
    );
    assert_eq!(
        get(&server, "/healthz").body_str(),
        "ok",
        "built-in routes come first"
    );
    let bare = Tree::new();
    bare.file("x.txt", b"x");
    let server = serve(&bare, &[]);
    assert_eq!(
        get(&server, "/").body_str(),
        "Hello, World!",
        "no index: the hello"
    );
}

#[test]
fn methods_other_than_get_and_head_are_405_with_allow() {
    let tree = Tree::standard();
    let server = serve(&tree, &[]);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let resp = request(
            server.addr,
            format!("{method} /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(resp.status, 405, "{method}");
        let allow = resp
            .header("allow")
            .expect("Allow on a 405 (RFC 9110 §15.5.6)");
        assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");
    }
    let resp = request(
        server.addr,
        b"OPTIONS /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        (resp.status, resp.header("allow")),
        (200, Some("GET, HEAD, OPTIONS"))
    );
}

#[test]
fn headers_of_a_file() {
    let tree = Tree::standard();
    let server = serve(&tree, &["--cache-control", "public, max-age=60"]);
    let resp = get(&server, "/a.txt");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(resp.header("content-length"), Some("36"));
    assert_eq!(resp.header("accept-ranges"), Some("bytes"));
    assert_eq!(resp.header("cache-control"), Some("public, max-age=60"));
    let etag = resp.header("etag").unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "{etag}"
    );
    let modified = resp.header("last-modified").unwrap();
    assert!(modified.ends_with(" GMT"), "{modified}");
    let unknown = get(&server, "/noext");
    assert_eq!(
        unknown.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(unknown.header("x-content-type-options"), Some("nosniff"));
    let empty = get(&server, "/zero.txt");
    assert_eq!(
        (empty.status, empty.header("content-length")),
        (200, Some("0"))
    );
    let head = request(
        server.addr,
        b"HEAD /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("36"))
    );
    assert!(head.body.is_empty());
}

#[test]
fn a_changed_file_is_seen_within_a_second_or_so() {
    let tree = Tree::standard();
    let server = serve(&tree, &[]);
    assert_eq!(get(&server, "/a.txt").body.len(), 36);
    tree.file("a.txt", b"changed");
    let seen = common::wait_until(Duration::from_secs(3), || {
        (get(&server, "/a.txt").body_str() == "changed").then_some(())
    });
    assert!(seen.is_some());
    tree.file("new.txt", b"new");
    let seen = common::wait_until(Duration::from_secs(3), || {
        (get(&server, "/new.txt").status == 200).then_some(())
    });
    assert!(seen.is_some(), "a new file appears too");
}

#[test]
fn a_root_that_is_not_a_directory_is_a_configuration_error() {
    let out = std::process::Command::new(common::BIN)
        .args(["--root", "/nonexistent/www", "--check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--root"));
}
