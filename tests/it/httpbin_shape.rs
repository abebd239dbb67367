//! httpbin's response shaping against the real binary: set headers, caching, ETags,
//! compression, built-in pages and images, links and base64; and that nothing reflected can
//! become a header or markup.

use crate::common;

use std::io::Read;

use common::bin::{get, Answer};
use common::Server;
use serde_json::json;

fn server() -> Server {
    Server::start(&["--workers", "1"])
}

#[test]
fn response_headers_are_set_and_listed() {
    let s = server();
    let a = get(
        s.addr,
        "/response-headers?animal=dog&animal=cat&X-One=1",
        &[],
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.all("animal"), ["dog", "cat"]);
    assert_eq!(a.field("x-one"), Some("1"));
    let j = a.json();
    assert_eq!(j["animal"], json!(["dog", "cat"]));
    assert_eq!(j["Content-Type"], "application/json");
    // The body lists its own length, exactly.
    assert_eq!(j["Content-Length"], a.body.len().to_string());
    // A chosen Content-Type replaces ours; reflected text in a renderable type is escaped.
    let a = get(
        s.addr,
        "/response-headers?Content-Type=text/html&x=%3Cscript%3E",
        &[],
    );
    assert_eq!(a.field("content-type"), Some("text/html"));
    assert_eq!(a.field("x"), Some("<script>"));
    assert!(a.text().contains("&lt;script&gt;") && !a.text().contains("<script>"));
    assert_eq!(a.field("x-content-type-options"), Some("nosniff"));
    for bad in [
        "/response-headers?X-A=1%0D%0AX-Evil:%201",
        "/response-headers?Content-Length=5",
        "/response-headers?Transfer-Encoding=chunked",
        "/response-headers?bad%20name=1",
    ] {
        let a = get(s.addr, bad, &[]);
        assert_eq!(a.status, 400, "{bad}");
        assert!(a.field("x-evil").is_none());
    }
}

#[test]
fn cache_and_etag_validators() {
    let s = server();
    let a = get(s.addr, "/cache", &[]);
    assert_eq!(a.status, 200);
    assert!(a.field("last-modified").unwrap().ends_with("GMT"));
    assert!(a.field("etag").unwrap().starts_with('"'));
    assert_eq!(get(s.addr, "/cache", &["If-None-Match: \"x\""]).status, 304);
    assert_eq!(
        get(
            s.addr,
            "/cache",
            &["If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"]
        )
        .status,
        304
    );
    assert_eq!(
        get(s.addr, "/cache/60", &[]).field("cache-control"),
        Some("public, max-age=60")
    );
    assert_eq!(get(s.addr, "/cache/x", &[]).status, 400);
    let a = get(s.addr, "/etag/abc", &[]);
    assert_eq!((a.status, a.field("etag")), (200, Some("\"abc\"")));
    assert!(a.json()["headers"].is_object());
    for inm in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
        let a = get(s.addr, "/etag/abc", &[&format!("If-None-Match: {inm}")]);
        assert_eq!((a.status, a.field("etag")), (304, Some("\"abc\"")), "{inm}");
    }
    assert_eq!(get(s.addr, "/etag/abc", &["If-Match: \"abc\""]).status, 200);
    assert_eq!(
        get(s.addr, "/etag/abc", &["If-Match: \"other\""]).status,
        412
    );
    assert_eq!(
        get(s.addr, "/etag/a%22b", &[]).status,
        400,
        "a quote cannot be in a tag"
    );
}

fn decoded(a: &Answer) -> serde_json::Value {
    let mut out = Vec::new();
    match a.field("content-encoding") {
        Some("gzip") => flate2::read::GzDecoder::new(&a.body[..]).read_to_end(&mut out),
        Some("deflate") => flate2::read::ZlibDecoder::new(&a.body[..]).read_to_end(&mut out),
        Some("br") => brotli::Decompressor::new(&a.body[..], 4096).read_to_end(&mut out),
        other => panic!("encoding {other:?}"),
    }
    .unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn compressed_echoes() {
    let s = server();
    for (path, flag) in [
        ("/gzip", "gzipped"),
        ("/deflate", "deflated"),
        ("/brotli", "brotli"),
    ] {
        let j = decoded(&get(s.addr, path, &["X-Probe: 1"]));
        assert_eq!(j[flag], true, "{path}");
        assert_eq!(j["headers"]["X-Probe"], "1");
        assert_eq!(j["method"], "GET");
    }
}

#[test]
fn built_in_pages_and_images() {
    let s = server();
    let asset = |name: &str| {
        std::fs::read(format!(
            "{}/assets/httpbin/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    for (path, file, ct) in [
        ("/html", "moby.html", "text/html; charset=utf-8"),
        ("/json", "sample.json", "application/json"),
        ("/xml", "sample.xml", "application/xml"),
        ("/encoding/utf8", "utf8.html", "text/html; charset=utf-8"),
        ("/image/png", "image.png", "image/png"),
        ("/image/jpeg", "image.jpeg", "image/jpeg"),
        ("/image/svg", "image.svg", "image/svg+xml"),
        ("/image/webp", "image.webp", "image/webp"),
    ] {
        let a = get(s.addr, path, &[]);
        assert_eq!(
            (a.status, a.field("content-type")),
            (200, Some(ct)),
            "{path}"
        );
        assert_eq!(a.body, asset(file), "{path}");
    }
    assert_eq!(
        get(s.addr, "/robots.txt", &[]).text(),
        "User-agent: *\nDisallow: /deny\n"
    );
    assert!(get(s.addr, "/deny", &[])
        .text()
        .contains("YOU SHOULDN'T BE HERE"));
    for (accept, ct) in [
        ("", "image/png"),
        ("image/webp,image/*", "image/webp"),
        ("image/svg+xml", "image/svg+xml"),
        ("image/jpeg", "image/jpeg"),
        ("image/*", "image/png"),
    ] {
        let headers: Vec<String> = if accept.is_empty() {
            vec![]
        } else {
            vec![format!("Accept: {accept}")]
        };
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        assert_eq!(
            get(s.addr, "/image", &headers).field("content-type"),
            Some(ct),
            "{accept}"
        );
    }
    assert_eq!(get(s.addr, "/image", &["Accept: text/html"]).status, 406);
    assert_eq!(get(s.addr, "/image/gif", &[]).status, 404);
}

#[test]
fn links_and_base64() {
    let s = server();
    let a = get(s.addr, "/links/3/1", &[]);
    assert_eq!(
        a.text(),
        "<html><head><title>Links</title></head><body><a href='/links/3/0'>0</a> 1 \
         <a href='/links/3/2'>2</a> </body></html>"
    );
    let a = get(s.addr, "/links/5", &[]);
    assert_eq!((a.status, a.field("location")), (302, Some("/links/5/0")));
    assert_eq!(get(s.addr, "/links/257/0", &[]).status, 400);
    let a = get(s.addr, "/base64/SFRUUEJJTiBpcyBhd2Vzb21l", &[]);
    assert_eq!(
        (a.text().as_str(), a.field("content-type")),
        ("HTTPBIN is awesome", Some("text/plain; charset=utf-8"))
    );
    assert_eq!(
        get(s.addr, "/base64/decode/aGk", &[]).text(),
        "hi",
        "unpadded"
    );
    assert_eq!(get(s.addr, "/base64/encode/hi%3F", &[]).text(), "aGk_");
    // Decoded markup is served as plain text, never as a page.
    let a = get(s.addr, "/base64/PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", &[]);
    assert_eq!(a.text(), "<script>alert(1)</script>");
    assert_eq!(a.field("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(a.field("x-content-type-options"), Some("nosniff"));
    assert_eq!(get(s.addr, "/base64/!!!", &[]).status, 400);
}
