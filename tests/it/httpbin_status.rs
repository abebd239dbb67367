//! httpbin's statuses and redirects against the real binary.

use crate::common;

use common::bin::{exchange, get, raw};
use common::Server;

fn server() -> Server {
    Server::start(&["--workers", "1"])
}

#[test]
fn status_codes_and_their_special_answers() {
    let s = server();
    for code in [200, 201, 299, 404, 500, 503, 599] {
        let a = get(s.addr, &format!("/status/{code}"), &[]);
        assert_eq!((a.status, a.body.len()), (code, 0));
    }
    let teapot = get(s.addr, "/status/418", &[]);
    assert_eq!(teapot.status, 418);
    assert!(teapot.text().contains("-=[ teapot ]=-"));
    assert_eq!(
        teapot.field("x-more-info"),
        Some("http://tools.ietf.org/html/rfc2324")
    );
    let a = get(s.addr, "/status/401", &[]);
    assert_eq!(
        a.field("www-authenticate"),
        Some("Basic realm=\"Fake Realm\"")
    );
    let a = get(s.addr, "/status/302", &[]);
    assert_eq!(a.field("location"), Some("/redirect/1"));
    let a = get(s.addr, "/status/406", &[]);
    assert_eq!(
        a.json()["message"],
        "Client did not request a supported media type."
    );
    let a = get(s.addr, "/status/204", &[]);
    assert_eq!((a.status, a.field("content-length")), (204, None));
    // A 1xx is interim: the final answer follows it (read_answer skips the 100).
    let a = get(s.addr, "/status/100", &[]);
    assert_eq!(a.status, 200);
    for bad in [
        "/status/600",
        "/status/99",
        "/status/abc",
        "/status/",
        "/status/101",
        "/status/200:x",
    ] {
        let a = get(s.addr, bad, &[]);
        assert_eq!(a.status, 400, "{bad}");
        assert!(a.json()["detail"].is_string(), "{bad}: says why");
    }
    // Any method.
    assert_eq!(
        exchange(s.addr, &raw("PUT", "/status/409", &[], b"x")).status,
        409
    );
}

#[test]
fn weighted_codes_follow_their_weights() {
    let s = server();
    let mut counts = [0u32; 3];
    for _ in 0..600 {
        match get(s.addr, "/status/200:6,500:3,503:1", &[]).status {
            200 => counts[0] += 1,
            500 => counts[1] += 1,
            503 => counts[2] += 1,
            other => panic!("{other}"),
        }
    }
    // Expected 360, 180, 60: generous bounds (a failure here is about 1 in 10^6).
    assert!((290..430).contains(&counts[0]), "{counts:?}");
    assert!((120..240).contains(&counts[1]), "{counts:?}");
    assert!((25..100).contains(&counts[2]), "{counts:?}");
    for _ in 0..20 {
        assert_eq!(get(s.addr, "/status/200:0,418", &[]).status, 418);
    }
}

#[test]
fn unstable_is_reproducible_with_a_seed() {
    let s = server();
    let first: Vec<u16> = (0..20)
        .map(|i| get(s.addr, &format!("/unstable?seed={i}"), &[]).status)
        .collect();
    let again: Vec<u16> = (0..20)
        .map(|i| get(s.addr, &format!("/unstable?seed={i}"), &[]).status)
        .collect();
    assert_eq!(first, again);
    assert!(first.contains(&200) && first.contains(&500), "{first:?}");
    assert_eq!(get(s.addr, "/unstable?failure_rate=1", &[]).status, 500);
    assert_eq!(get(s.addr, "/unstable?failure_rate=0", &[]).status, 200);
    assert_eq!(get(s.addr, "/unstable?failure_rate=2", &[]).status, 400);
}

/// Follows redirects from `path`; returns the hops and the final answer's status.
fn follow(s: &Server, path: &str) -> (Vec<String>, u16) {
    let mut hops = Vec::new();
    let mut next = path.to_string();
    for _ in 0..20 {
        let a = get(s.addr, &next, &[]);
        if a.status != 302 {
            return (hops, a.status);
        }
        let location = a.field("location").unwrap().to_string();
        hops.push(location.clone());
        next = location
            .strip_prefix("http://bin.test")
            .unwrap_or(&location)
            .to_string();
    }
    panic!("too many redirects: {hops:?}");
}

#[test]
fn redirect_chains_end_at_get() {
    let s = server();
    let (hops, status) = follow(&s, "/redirect/3");
    assert_eq!(
        hops,
        ["/relative-redirect/2", "/relative-redirect/1", "/get"]
    );
    assert_eq!(status, 200);
    let (hops, _) = follow(&s, "/redirect/2?absolute=true");
    assert_eq!(
        hops,
        ["http://bin.test/absolute-redirect/1", "http://bin.test/get"]
    );
    let (hops, _) = follow(&s, "/absolute-redirect/1");
    assert_eq!(hops, ["http://bin.test/get"]);
    for bad in [
        "/redirect/0",
        "/redirect/-1",
        "/redirect/x",
        "/relative-redirect/1.5",
    ] {
        assert_eq!(get(s.addr, bad, &[]).status, 400, "{bad}");
    }
}

#[test]
fn redirect_to_goes_where_it_is_told_and_nowhere_else() {
    let s = server();
    let a = get(
        s.addr,
        "/redirect-to?url=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1",
        &[],
    );
    assert_eq!(
        (a.status, a.field("location")),
        (302, Some("https://example.com/a?b=1"))
    );
    let a = get(s.addr, "/redirect-to?url=/get&status_code=307", &[]);
    assert_eq!((a.status, a.field("location")), (307, Some("/get")));
    // A CR LF in the target cannot start a header of its own.
    let a = get(
        s.addr,
        "/redirect-to?url=http://a.test/%0D%0ASet-Cookie:%20x=1",
        &[],
    );
    assert_eq!(
        a.field("location"),
        Some("http://a.test/%0D%0ASet-Cookie:%20x=1")
    );
    assert!(a.field("set-cookie").is_none());
    for (target, status) in [
        ("/redirect-to", 400),
        ("/redirect-to?url=/get&status_code=200", 400),
        ("/redirect-to?url=/get&status_code=x", 400),
    ] {
        assert_eq!(get(s.addr, target, &[]).status, status, "{target}");
    }
    // Any URI reference, as httpbin: python-requests redirects `url=post` to /post.
    for url in ["post", "../get?a=1", "//other.test/x"] {
        let a = get(s.addr, &format!("/redirect-to?url={url}"), &[]);
        assert_eq!((a.status, a.field("location")), (302, Some(url)), "{url}");
    }
}
