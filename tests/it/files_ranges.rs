//! `--root`: conditional requests, ranges and precompressed siblings over HTTP, against the real
//! binary. The precedence of RFC 9110 §13.2.2 row by row is unit-tested in
//! `proto/http/conditional.rs`; here, what reaches the wire.

use crate::common;

use common::tree::Tree;
use common::{request, Response, Server};

fn serve(tree: &Tree) -> Server {
    Server::start(&["--workers", "1", "--root", tree.arg()])
}

/// A request with extra fields.
fn ask(server: &Server, method: &str, target: &str, fields: &[(&str, &str)]) -> Response {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (name, value) in fields {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    request(server.addr, raw.as_bytes())
}

const A: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

#[test]
fn preconditions_on_the_wire() {
    let tree = Tree::standard();
    let server = serve(&tree);
    let plain = ask(&server, "GET", "/a.txt", &[]);
    let etag = plain.header("etag").unwrap().to_string();
    let modified = plain.header("last-modified").unwrap().to_string();
    // 304: validators and Vary, no body, no length.
    let resp = ask(&server, "GET", "/a.txt", &[("If-None-Match", &etag)]);
    assert_eq!(resp.status, 304);
    assert_eq!(resp.header("etag"), Some(etag.as_str()));
    assert_eq!(resp.header("last-modified"), Some(modified.as_str()));
    assert_eq!(resp.header("vary"), Some("Accept-Encoding"));
    assert_eq!(resp.header("content-length"), None);
    assert!(resp.body.is_empty());
    let weak = format!("W/{etag}");
    assert_eq!(
        ask(&server, "GET", "/a.txt", &[("If-None-Match", &weak)]).status,
        304
    );
    assert_eq!(
        ask(&server, "HEAD", "/a.txt", &[("If-None-Match", "*")]).status,
        304
    );
    assert_eq!(
        ask(
            &server,
            "GET",
            "/a.txt",
            &[("If-Modified-Since", &modified)]
        )
        .status,
        304
    );
    // If-None-Match wins over If-Modified-Since (nginx wants both).
    let fields = [
        ("If-None-Match", "\"other\""),
        ("If-Modified-Since", modified.as_str()),
    ];
    assert_eq!(ask(&server, "GET", "/a.txt", &fields).status, 200);
    // If-Match is strong, and If-Unmodified-Since is ignored beside it.
    assert_eq!(
        ask(&server, "GET", "/a.txt", &[("If-Match", "\"other\"")]).status,
        412
    );
    assert_eq!(
        ask(&server, "GET", "/a.txt", &[("If-Match", &weak)]).status,
        412
    );
    let old = "Sat, 01 Jan 2000 00:00:00 GMT";
    assert_eq!(
        ask(&server, "GET", "/a.txt", &[("If-Unmodified-Since", old)]).status,
        412
    );
    let fields = [("If-Match", etag.as_str()), ("If-Unmodified-Since", old)];
    assert_eq!(ask(&server, "GET", "/a.txt", &fields).status, 200);
    // An invalid date is ignored, not a 412 (nginx 412s); so is one field with two dates.
    assert_eq!(
        ask(
            &server,
            "GET",
            "/a.txt",
            &[("If-Unmodified-Since", "garbage")]
        )
        .status,
        200
    );
    let two = [
        ("If-Modified-Since", modified.as_str()),
        ("If-Modified-Since", modified.as_str()),
    ];
    assert_eq!(ask(&server, "GET", "/a.txt", &two).status, 200);
}

#[test]
fn single_ranges() {
    let tree = Tree::standard();
    let server = serve(&tree);
    let range = |value: &str| ask(&server, "GET", "/a.txt", &[("Range", value)]);
    let resp = range("bytes=0-4");
    assert_eq!((resp.status, resp.body_str()), (206, "01234"));
    assert_eq!(resp.header("content-range"), Some("bytes 0-4/36"));
    assert_eq!(resp.header("content-length"), Some("5"));
    assert_eq!(range("bytes=-3").body_str(), "xyz");
    assert_eq!(range("bytes=30-").body_str(), "uvwxyz");
    assert_eq!(range("bytes=34-99").body_str(), "yz", "clipped at the end");
    assert_eq!(
        range("bytes=0-4,").body_str(),
        "01234",
        "an empty element is ignored"
    );
    let huge = range("bytes=35-99999999999999999999999999");
    assert_eq!(
        (huge.status, huge.body_str()),
        (206, "z"),
        "a last position past 64 bits"
    );
    let unsatisfiable = range("bytes=36-");
    assert_eq!(unsatisfiable.status, 416);
    assert_eq!(unsatisfiable.header("content-range"), Some("bytes */36"));
    for ignored in ["bytes=5-2", "items=0-1", "bytes=x", "bytes=0-9,0-9,0-9,0-9"] {
        let resp = range(ignored);
        assert_eq!((resp.status, resp.body_str()), (200, A), "{ignored}");
    }
    // HEAD ignores Range (RFC 9110 §14.2): the 200's head.
    let head = ask(&server, "HEAD", "/a.txt", &[("Range", "bytes=0-4")]);
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("36"))
    );
    // If-Range: a match keeps the range, anything else gets the whole file.
    let etag = ask(&server, "GET", "/a.txt", &[])
        .header("etag")
        .unwrap()
        .to_string();
    let fields = [("Range", "bytes=0-1"), ("If-Range", etag.as_str())];
    assert_eq!(ask(&server, "GET", "/a.txt", &fields).status, 206);
    let fields = [("Range", "bytes=0-1"), ("If-Range", "\"stale\"")];
    assert_eq!(ask(&server, "GET", "/a.txt", &fields).body_str(), A);
}

/// Parses a multipart/byteranges body into (Content-Range, bytes) per part.
fn parts(resp: &Response) -> Vec<(String, Vec<u8>)> {
    let media = resp.header("content-type").unwrap();
    let boundary = media.split("boundary=").nth(1).expect("a boundary");
    let delimiter = format!("--{boundary}");
    let body = &resp.body;
    assert_eq!(
        resp.header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        body.len(),
        "the exact length"
    );
    let text = String::from_utf8_lossy(body).into_owned();
    assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")), "closed");
    let mut out = Vec::new();
    for part in text.split(&delimiter).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let (heads, rest) = part.split_once("\r\n\r\n").unwrap();
        let range = heads
            .lines()
            .find_map(|l| l.strip_prefix("Content-Range: "))
            .unwrap()
            .to_string();
        let bytes = rest.strip_suffix("\r\n").unwrap_or(rest);
        out.push((range, bytes.as_bytes().to_vec()));
    }
    out
}

#[test]
fn several_ranges_are_multipart() {
    let tree = Tree::standard();
    let server = serve(&tree);
    let resp = ask(
        &server,
        "GET",
        "/a.txt",
        &[("Range", "bytes=30-31, 0-1,2-3, -2")],
    );
    assert_eq!(resp.status, 206);
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("multipart/byteranges; boundary="));
    assert_eq!(
        parts(&resp),
        vec![
            ("bytes 0-3/36".to_string(), b"0123".to_vec()),
            ("bytes 30-31/36".to_string(), b"uv".to_vec()),
            ("bytes 34-35/36".to_string(), b"yz".to_vec()),
        ],
        "sorted and coalesced"
    );
    let other = ask(&server, "GET", "/a.txt", &[("Range", "bytes=0-0,5-5")]);
    assert_ne!(
        resp.header("content-type"),
        other.header("content-type"),
        "a fresh boundary each time"
    );
}

#[test]
fn precompressed_siblings_by_q_value() {
    let tree = Tree::standard();
    let server = serve(&tree);
    let enc = |accept: &str| ask(&server, "GET", "/a.txt", &[("Accept-Encoding", accept)]);
    let identity = ask(&server, "GET", "/a.txt", &[]);
    assert_eq!(identity.body_str(), A);
    assert_eq!(
        identity.header("vary"),
        Some("Accept-Encoding"),
        "Vary on every answer"
    );
    assert_eq!(identity.header("content-encoding"), None);
    let br = enc("gzip, br");
    assert_eq!(
        (br.body_str(), br.header("content-encoding")),
        ("BROTLI-BYTES-OF-A", Some("br"))
    );
    assert_eq!(
        br.header("content-type"),
        Some("text/plain; charset=utf-8"),
        "the original's type"
    );
    assert_eq!(
        br.header("content-length"),
        Some("17"),
        "the sibling's length"
    );
    let gzip = enc("gzip, br;q=0.5");
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(enc("identity, gzip;q=0.5").header("content-encoding"), None);
    assert_eq!(
        enc("zstd").header("content-encoding"),
        None,
        "no .zst sibling"
    );
    let tags = [&identity, &br, &gzip].map(|r| r.header("etag").unwrap().to_string());
    assert!(
        tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
        "{tags:?}"
    );
    // Ranges are over the encoded bytes.
    let fields = [("Accept-Encoding", "br"), ("Range", "bytes=0-5")];
    let part = ask(&server, "GET", "/a.txt", &fields);
    assert_eq!((part.status, part.body_str()), (206, "BROTLI"));
    assert_eq!(part.header("content-range"), Some("bytes 0-5/17"));
    // A file without siblings says nothing about encodings.
    assert_eq!(
        ask(&server, "GET", "/noext", &[("Accept-Encoding", "br")]).header("vary"),
        None
    );
}
