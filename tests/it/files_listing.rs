//! `--autoindex`: directory listings as HTML and JSON, against the real binary: order, hidden
//! names, names with every awkward byte (each link, followed, serves its file), conditional
//! requests, and a directory far larger than the cap.

use std::os::unix::ffi::OsStrExt;

use crate::common::tree::Tree;
use crate::common::{bin, request, Response, Server};

fn ask(server: &Server, target: &str, extra: &str) -> Response {
    request(
        server.addr,
        format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n").as_bytes(),
    )
}

/// Every `href="..."` of a listing, in order.
fn hrefs(html: &str) -> Vec<String> {
    html.split("<a href=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn listings_order_escape_and_link_every_name() {
    let t = Tree::new();
    t.file("b.txt", b"bee");
    t.file("a.txt", b"ay");
    t.file("zdir/inner.txt", b"in");
    t.file("adir/.keep", b"");
    t.file(".secret", b"no");
    let odd = [
        "we\"ird <name>.txt",
        "hash#q?.txt",
        "100%.txt",
        "sp ace&amp.txt",
        "quote'.txt",
    ];
    for name in odd {
        t.file(name, name.as_bytes());
    }
    let raw_name = std::ffi::OsStr::from_bytes(b"raw\xffbyte.bin");
    std::fs::write(t.path().join(raw_name), b"raw").unwrap();
    let server = Server::start(&["--workers", "1", "--root", t.arg(), "--autoindex"]);
    let r = ask(&server, "/", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.body_str().to_string();
    assert!(!html.contains("secret"), "a hidden name was listed");
    assert!(
        !html.contains("<name>") && !html.contains("we\"ird"),
        "a name was not escaped: {html}"
    );
    let links = hrefs(&html);
    // Directories first, then files, each group by name.
    assert_eq!(&links[..2], &["adir/", "zdir/"]);
    assert_eq!(
        links.iter().filter(|l| !l.ends_with('/')).count(),
        3 + odd.len()
    );
    // Every link, followed, is its file.
    for link in links.iter().filter(|l| !l.ends_with('/')) {
        let got = ask(&server, &format!("/{link}"), "");
        assert_eq!(got.status, 200, "{link}");
    }
    assert_eq!(ask(&server, "/raw%FFbyte.bin", "").body, b"raw");
    // A subdirectory: its own listing, with a way up.
    let sub = ask(&server, "/zdir/", "");
    assert_eq!(hrefs(sub.body_str()), vec!["../", "inner.txt"]);
    // Without the slash: the redirect to it, as before.
    assert_eq!(ask(&server, "/zdir", "").status, 301);
}

#[test]
fn json_on_request_and_conditional_answers() {
    let t = Tree::new();
    t.file("one.txt", b"1");
    t.file("dir/x", b"");
    let server = Server::start(&["--workers", "1", "--root", t.arg(), "--autoindex"]);
    for (target, extra) in [("/", "Accept: application/json\r\n"), ("/?format=json", "")] {
        let r = ask(&server, target, extra);
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{target}"
        );
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let entries = v["entries"].as_array().unwrap();
        assert_eq!(entries[0]["name"], "dir");
        assert_eq!(entries[0]["type"], "directory");
        assert_eq!(entries[1]["name"], "one.txt");
        assert_eq!(entries[1]["size"], 1);
        assert!(entries[1]["mtime"].as_i64().unwrap() > 1_700_000_000);
        assert_eq!(v["truncated"], false);
    }
    // A browser's Accept gets HTML.
    let r = ask(&server, "/", "Accept: text/html,application/json;q=0.9\r\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    // Weak validator from the directory: 304 until an entry changes.
    let etag = r.header("etag").unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let again = ask(&server, "/", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((again.status, again.body.len()), (304, 0));
    std::thread::sleep(std::time::Duration::from_millis(20));
    t.file("two.txt", b"2");
    let changed = ask(&server, "/", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(changed.status, 200);
    assert!(changed.body_str().contains("two.txt"));
}

#[test]
fn a_huge_directory_is_cut_at_the_cap_with_a_marker_and_the_worker_serves_on() {
    let t = Tree::new();
    let dir = t.path().join("many");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..20_000 {
        std::fs::File::create(dir.join(format!("f{i:05}"))).unwrap();
    }
    let server = Server::start(&[
        "--workers",
        "1",
        "--root",
        t.arg(),
        "--autoindex",
        "--autoindex-max-entries",
        "1000",
    ]);
    let r = ask(&server, "/many/", "");
    assert_eq!(r.status, 200);
    assert_eq!(
        hrefs(r.body_str()).len(),
        1 + 1000,
        "the way up and 1,000 entries"
    );
    assert!(r.body_str().contains("Listing cut at 1000 entries"));
    let j: serde_json::Value =
        serde_json::from_slice(&ask(&server, "/many/?format=json", "").body).unwrap();
    assert_eq!(
        (j["entries"].as_array().unwrap().len(), &j["truncated"]),
        (1000, &serde_json::json!(true))
    );
    assert_eq!(ask(&server, "/", "").status, 200);
}

/// A directory past one step (1,024 entries) is listed in steps: read and described a slice
/// per turn of the loop, written as the client reads (chunked), sorted the same, cut at the
/// cap with the marker; another client is answered meanwhile.
#[test]
fn large_directories_are_listed_in_steps() {
    let t = Tree::new();
    for i in 0..5_000 {
        t.file(&format!("big/f{i:05}.txt"), b"");
    }
    t.file("big/zz/keep", b"");
    let server = Server::start(&[
        "--workers",
        "1",
        "--root",
        t.arg(),
        "--autoindex",
        "--autoindex-max-entries",
        "6000",
    ]);
    let r = bin::get(server.addr, "/big/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.field("transfer-encoding"), Some("chunked"));
    assert!(r.field("etag").is_some_and(|e| e.starts_with("W/")));
    let html = r.text();
    let links = hrefs(&html);
    assert_eq!(
        links.len(),
        1 + 5_001,
        "the way up, the directory and 5,000 files"
    );
    assert_eq!(&links[..3], &["../", "zz/", "f00000.txt"]);
    assert_eq!(links.last().map(String::as_str), Some("f04999.txt"));
    assert!(!html.contains("Listing cut"));
    let j = bin::get(server.addr, "/big/?format=json", &[]).json();
    assert_eq!(j["entries"].as_array().unwrap().len(), 5_001);
    assert_eq!(j["truncated"], false);
    assert_eq!(j["entries"][0]["type"], "directory");
    let head = request(
        server.addr,
        b"HEAD /big/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(ask(&server, "/", "").status, 200);

    let capped = Server::start(&[
        "--workers",
        "1",
        "--root",
        t.arg(),
        "--autoindex",
        "--autoindex-max-entries",
        "3000",
    ]);
    let html = bin::get(capped.addr, "/big/", &[]).text();
    assert_eq!(hrefs(&html).len(), 1 + 3_000);
    assert!(html.contains("Listing cut at 3000 entries"));
}

#[test]
fn without_the_switch_a_directory_without_index_is_404_and_dotfiles_lists_hidden() {
    let t = Tree::new();
    t.file("d/a", b"a");
    t.file(".env", b"x");
    let plain = Server::start(&["--workers", "1", "--root", t.arg()]);
    assert_eq!(ask(&plain, "/d/", "").status, 404);
    let dots = Server::start(&[
        "--workers",
        "1",
        "--root",
        t.arg(),
        "--autoindex",
        "--dotfiles",
    ]);
    assert!(hrefs(ask(&dots, "/", "").body_str()).contains(&".env".to_string()));
}
