//! `--compress`: files and generated answers compressed on the fly, against the real binary.
//! Each coding decoded back; `Vary`, weak validators and their 304s; ranges on identity; HEAD
//! like GET; what is left alone (small, other types, siblings, no coding acceptable, off by
//! default); a 20 MB file that does not hold the loop; clients that never read.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::bin::{exchange, read_answer, Answer};
use common::tree::Tree;
use common::{wait_until, Server};

/// Text that compresses like a web page: repeated markup, varied numbers.
fn page(len: usize) -> Vec<u8> {
    (0u64..)
        .flat_map(|i| {
            format!(
                "<tr><td class=\"n\">{i}</td><td><a href=\"/item/{}\">item {}</a></td></tr>\n",
                i.wrapping_mul(2_654_435_761) % 100_000,
                i % 97
            )
            .into_bytes()
        })
        .take(len)
        .collect()
}

fn decode(coding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
        "br" => brotli::Decompressor::new(data, 4096).read_to_end(&mut out),
        "zstd" => zstd::stream::read::Decoder::new(data).and_then(|mut d| d.read_to_end(&mut out)),
        other => panic!("no decoder for {other}"),
    }
    .unwrap_or_else(|e| panic!("{coding}: not a valid stream: {e}"));
    out
}

fn ask(addr: SocketAddr, method: &str, target: &str, fields: &[(&str, &str)]) -> Answer {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (n, v) in fields {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    exchange(addr, raw.as_bytes())
}

fn varies(a: &Answer) -> bool {
    a.all("vary").iter().any(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding"))
    })
}

struct Site {
    tree: Tree,
    big: Vec<u8>,
    small: Vec<u8>,
}

fn site() -> Site {
    let tree = Tree::new();
    let big = page(300_000);
    let small = page(20_000);
    tree.file("big.html", &big);
    tree.file("small.css", &small);
    tree.file("tiny.html", b"<p>under the minimum</p>\n");
    tree.file("pic.png", &page(5000));
    tree.file("app.js", &page(4000));
    tree.file("app.js.gz", b"PRECOMPRESSED-GZIP");
    tree.file("list/a.txt", b"a");
    for i in 0..100 {
        tree.file(&format!("list/file-{i:03}.txt"), b"x");
    }
    Site { tree, big, small }
}

fn serve(site: &Site, extra: &[&str]) -> Server {
    let mut args = vec!["--workers", "1", "--root", site.tree.arg(), "--compress"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

#[test]
fn each_coding_decodes_back_to_the_file_with_vary_and_a_weak_tag() {
    let site = site();
    let server = serve(&site, &[]);
    let identity = ask(server.addr, "GET", "/big.html", &[]);
    assert_eq!(identity.body, site.big);
    assert!(varies(&identity), "the identity answer varies too");
    let strong = identity.field("etag").unwrap().to_string();
    assert!(strong.starts_with('"'), "{strong}");
    for coding in ["gzip", "br", "zstd"] {
        for (path, file) in [("/big.html", &site.big), ("/small.css", &site.small)] {
            let a = ask(server.addr, "GET", path, &[("Accept-Encoding", coding)]);
            assert_eq!(a.status, 200, "{coding} {path}");
            assert_eq!(a.field("content-encoding"), Some(coding), "{path}");
            assert!(varies(&a), "{coding} {path}");
            assert!(
                a.field("etag").unwrap().starts_with("W/\""),
                "{coding} {path}"
            );
            assert_eq!(
                a.field("accept-ranges"),
                None,
                "ranges are on identity only"
            );
            assert!(
                a.body.len() < file.len() / 3,
                "{coding} {path}: {}",
                a.body.len()
            );
            assert_eq!(&decode(coding, &a.body), file, "{coding} {path}");
            if path == "/small.css" {
                // Compressed at once: sent with its length.
                assert_eq!(a.field("content-length"), Some(&*a.body.len().to_string()));
            } else {
                // Compressed in steps: chunked, in many chunks.
                assert_eq!(a.field("transfer-encoding"), Some("chunked"));
                assert!(a.chunks.len() >= 2, "{coding}: {:?}", a.chunks);
            }
        }
    }
    // The weak tag is the strong one, weakened; the dates are the file's.
    let gz = ask(
        server.addr,
        "GET",
        "/big.html",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(gz.field("etag").unwrap(), format!("W/{strong}"));
    assert_eq!(gz.field("last-modified"), identity.field("last-modified"));
    // q-values choose; ties go br, zstd, gzip.
    for (accept, want) in [
        ("gzip, br", Some("br")),
        ("gzip;q=1, br;q=0.5", Some("gzip")),
        ("zstd;q=0.9, gzip;q=0.8", Some("zstd")),
        ("*", Some("br")),
        ("gzip;q=0, *", Some("br")),
        ("identity;q=1, gzip;q=0.5", None),
        ("GZip;Q=0.5", Some("gzip")),
        ("br;q=2, gzip;q=0.1", Some("gzip")),
        ("deflate", None),
        ("", None),
    ] {
        let a = ask(
            server.addr,
            "GET",
            "/small.css",
            &[("Accept-Encoding", accept)],
        );
        assert_eq!(a.field("content-encoding"), want, "{accept:?}");
        assert!(varies(&a), "{accept:?}");
    }
}

#[test]
fn validators_ranges_and_head() {
    let site = site();
    let server = serve(&site, &[]);
    let strong = ask(server.addr, "GET", "/big.html", &[])
        .field("etag")
        .unwrap()
        .to_string();
    let weak = format!("W/{strong}");
    // If-None-Match with either tag: 304 for the compressed answer, with its weak tag.
    for tag in [&weak, &strong] {
        let a = ask(
            server.addr,
            "GET",
            "/big.html",
            &[("Accept-Encoding", "gzip"), ("If-None-Match", tag)],
        );
        assert_eq!(a.status, 304, "{tag}");
        assert_eq!(a.field("etag"), Some(&*weak));
        assert!(varies(&a));
    }
    let other = ask(
        server.addr,
        "GET",
        "/big.html",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", "\"other\"")],
    );
    assert_eq!(other.status, 200);
    // A weak tag never satisfies If-Match.
    let a = ask(
        server.addr,
        "GET",
        "/big.html",
        &[("Accept-Encoding", "gzip"), ("If-Match", &strong)],
    );
    assert_eq!(a.status, 412);
    // A Range is served from the identity body, with the strong tag.
    let r = ask(
        server.addr,
        "GET",
        "/big.html",
        &[("Accept-Encoding", "gzip, br"), ("Range", "bytes=100-199")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.field("content-encoding"), None);
    assert_eq!(r.field("etag"), Some(&*strong));
    assert_eq!(
        r.field("content-range"),
        Some(&*format!("bytes 100-199/{}", site.big.len()))
    );
    assert_eq!(r.body, &site.big[100..200]);
    assert!(varies(&r));
    let r = ask(
        server.addr,
        "GET",
        "/big.html",
        &[
            ("Accept-Encoding", "gzip"),
            ("Range", "bytes=0-9"),
            ("If-Range", &strong),
        ],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &site.big[..10]);
    // HEAD: the GET's head, without the body (no length where the GET is chunked).
    for (path, coding) in [
        ("/big.html", "br"),
        ("/small.css", "gzip"),
        ("/small.css", "zstd"),
    ] {
        let ae = [("Accept-Encoding", coding)];
        let get = ask(server.addr, "GET", path, &ae);
        let head = ask(server.addr, "HEAD", path, &ae);
        let same = |a: &Answer| -> Vec<(String, String)> {
            a.fields
                .iter()
                .filter(|(n, _)| n != "date")
                .cloned()
                .collect()
        };
        assert_eq!(same(&head), same(&get), "{path} {coding}");
        assert!(head.body.is_empty());
    }
    let head = ask(
        server.addr,
        "HEAD",
        "/big.html",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(head.field("content-length"), None);
    assert_eq!(head.field("transfer-encoding"), Some("chunked"));
}

#[test]
fn what_is_left_alone() {
    let site = site();
    let server = serve(&site, &[]);
    let gzip = [("Accept-Encoding", "gzip, br, zstd")];
    // Below the minimum size, and a type not listed: identity, and nothing varies.
    for path in ["/tiny.html", "/pic.png"] {
        let a = ask(server.addr, "GET", path, &gzip);
        assert_eq!(a.field("content-encoding"), None, "{path}");
        assert!(!varies(&a), "{path}");
        assert!(a.field("etag").unwrap().starts_with('"'));
    }
    // A precompressed sibling wins; with none the client takes, the file as it is.
    let a = ask(server.addr, "GET", "/app.js", &gzip);
    assert_eq!(a.field("content-encoding"), Some("gzip"));
    assert_eq!(a.body, b"PRECOMPRESSED-GZIP");
    let a = ask(server.addr, "GET", "/app.js", &[("Accept-Encoding", "br")]);
    assert_eq!(a.field("content-encoding"), None);
    assert!(varies(&a));
    // Nothing acceptable (identity refused, no coding we have): identity all the same, as
    // RFC 9110 §12.5.3 allows and nginx does.
    for accept in ["identity;q=0", "identity;q=0, deflate", "*;q=0"] {
        let a = ask(
            server.addr,
            "GET",
            "/small.css",
            &[("Accept-Encoding", accept)],
        );
        assert_eq!(a.status, 200, "{accept}");
        assert_eq!(a.field("content-encoding"), None, "{accept}");
        assert_eq!(a.body, site.small);
    }
    // A smaller minimum and a narrower list of types.
    let narrow = serve(
        &site,
        &["--compress-min-size", "10", "--compress-types", "text/html"],
    );
    let a = ask(narrow.addr, "GET", "/tiny.html", &gzip);
    assert_eq!(a.field("content-encoding"), Some("br"));
    let a = ask(narrow.addr, "GET", "/small.css", &gzip);
    assert_eq!(a.field("content-encoding"), None);
    // Off by default.
    let mut args = vec!["--workers", "1", "--root", site.tree.arg()];
    args.push("--autoindex");
    let off = Server::start(&args);
    for path in ["/big.html", "/list/"] {
        let a = ask(off.addr, "GET", path, &gzip);
        assert_eq!(a.field("content-encoding"), None, "{path}");
        assert!(!varies(&a), "{path}");
    }
}

#[test]
fn generated_answers_are_compressed_too() {
    let site = site();
    let server = serve(&site, &["--autoindex", "--compress-level-gzip", "9"]);
    let listing = ask(server.addr, "GET", "/list/", &[("Accept-Encoding", "gzip")]);
    assert_eq!(listing.field("content-encoding"), Some("gzip"));
    assert!(varies(&listing));
    assert!(listing.field("etag").unwrap().starts_with("W/"));
    let html = String::from_utf8(decode("gzip", &listing.body)).unwrap();
    assert!(html.contains("file-099.txt"), "{html}");
    let plain = ask(server.addr, "GET", "/list/", &[]);
    assert_eq!(plain.field("content-encoding"), None);
    assert!(varies(&plain));
    // 304 for the listing's tag still.
    let tag = listing.field("etag").unwrap().to_string();
    let again = ask(
        server.addr,
        "GET",
        "/list/",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", &tag)],
    );
    assert_eq!(again.status, 304);

    let bin = Server::start(&["--workers", "1", "--compress"]);
    let pad = "p".repeat(2000);
    let get = ask(
        bin.addr,
        "GET",
        "/get",
        &[("Accept-Encoding", "gzip"), ("X-Pad", &pad)],
    );
    assert_eq!(get.field("content-encoding"), Some("gzip"));
    let json: serde_json::Value = serde_json::from_slice(&decode("gzip", &get.body)).unwrap();
    assert_eq!(json["headers"]["X-Pad"], serde_json::json!(pad));
    // Already encoded (/gzip), binary (/bytes), small (/get without the pad): left alone.
    let gz = ask(
        bin.addr,
        "GET",
        "/brotli",
        &[("Accept-Encoding", "gzip, br")],
    );
    assert_eq!(gz.all("content-encoding"), ["br"]);
    let bytes = ask(
        bin.addr,
        "GET",
        "/bytes/5000",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(bytes.field("content-encoding"), None);
    assert_eq!(bytes.body.len(), 5000);
    let small = ask(bin.addr, "GET", "/get", &[("Accept-Encoding", "gzip")]);
    assert_eq!(small.field("content-encoding"), None);
    // /metrics for a scraper that asks for gzip.
    let m = ask(bin.addr, "GET", "/metrics", &[("Accept-Encoding", "gzip")]);
    assert_eq!(m.field("content-encoding"), Some("gzip"));
    let text = String::from_utf8(decode("gzip", &m.body)).unwrap();
    assert!(text.contains("prefork_responses_total"), "{text}");
    // The keep-alive hello is as it was.
    let hello = ask(bin.addr, "GET", "/", &[("Accept-Encoding", "gzip")]);
    assert_eq!(hello.body, b"Hello, World!");
    assert!(!varies(&hello));
}

/// A 20 MB file compressed in steps: another connection's `GET /` is answered within
/// milliseconds all along, and the whole body decodes back.
#[test]
fn a_large_file_is_compressed_in_steps_without_holding_the_loop() {
    let tree = Tree::new();
    let big = page(20 << 20);
    tree.file("huge.txt", &big);
    let server = Server::start(&[
        "--workers",
        "1",
        "--root",
        tree.arg(),
        "--compress",
        "--compress-level-gzip",
        "1",
    ]);
    let addr = server.addr;
    let download = std::thread::spawn(move || {
        let started = Instant::now();
        let a = ask(addr, "GET", "/huge.txt", &[("Accept-Encoding", "gzip")]);
        (a, started.elapsed())
    });
    let mut hello = TcpStream::connect(addr).unwrap();
    hello
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut worst = Duration::ZERO;
    let mut asked = 0;
    while !download.is_finished() {
        let t = Instant::now();
        hello
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let a = read_answer(&mut hello, false);
        assert_eq!(a.status, 200);
        worst = worst.max(t.elapsed());
        asked += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let (a, took) = download.join().unwrap();
    assert_eq!(a.field("content-encoding"), Some("gzip"));
    assert_eq!(decode("gzip", &a.body), big);
    assert!(asked >= 5, "the download took {took:?}: too short to tell");
    assert!(
        worst < Duration::from_millis(250),
        "a GET / waited {worst:?} while {took:?} of compression went on ({asked} asked)"
    );
}

/// Clients that ask for a large compressed file and never read: each holds an encoder
/// (brotli, 6 MiB) only once the budget has room for it; the others wait, the worker stays
/// within its budget, and a normal client is served meanwhile.
#[test]
fn clients_that_never_read_wait_for_the_budget() {
    let tree = Tree::new();
    tree.file("big.html", &page(4 << 20));
    let server = Server::start(&[
        "--workers",
        "1",
        "--root",
        tree.arg(),
        "--compress",
        "--memory-budget",
        "32m",
    ]);
    let worker = server.workers()[0];
    let _ = common::get(server.addr, "/");
    let before = common::pss_kib(worker) as f64 / 1024.0;
    let hogs: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(b"GET /big.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    let waiting = wait_until(Duration::from_secs(10), || {
        let n = common::metric(server.addr, "prefork_memory_paused_connections", "");
        (n > 0).then_some(n)
    });
    assert!(
        waiting.is_some(),
        "nobody waits: the encoders were not charged"
    );
    std::thread::sleep(Duration::from_millis(500));
    let held = common::metric(server.addr, "prefork_buffered_output_bytes", "");
    assert!(held <= 32 << 20, "{held} bytes held, over the budget");
    let grew = common::pss_kib(worker) as f64 / 1024.0 - before;
    assert!(
        grew < 64.0,
        "the worker grew {grew:.1} MiB (40 encoders would be 240)"
    );
    let hello = common::get(server.addr, "/");
    assert_eq!(hello.status, 200);
    drop(hogs);
    // Once they are gone, the memory is back and a client gets the whole body.
    wait_until(Duration::from_secs(10), || {
        (common::metric(server.addr, "prefork_buffered_output_bytes", "") == 0).then_some(())
    })
    .expect("the charges come back");
    let a = ask(
        server.addr,
        "GET",
        "/big.html",
        &[("Accept-Encoding", "br")],
    );
    assert_eq!(decode("br", &a.body), page(4 << 20));
}
