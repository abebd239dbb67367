//! httpbin's cookies and authentication against the real binary, digest included: a client
//! computed here answers the server's challenge for each algorithm and qop.

use crate::common;

use common::bin::{exchange, get, raw, Answer};
use common::Server;
use serde_json::json;
use sha2::Digest;

fn server() -> Server {
    Server::start(&["--workers", "1"])
}

#[test]
fn cookies_are_set_shown_and_deleted() {
    let s = server();
    let a = get(s.addr, "/cookies/set?a=1&b=two", &[]);
    assert_eq!((a.status, a.field("location")), (302, Some("/cookies")));
    assert_eq!(a.all("set-cookie"), ["a=1; Path=/", "b=two; Path=/"]);
    let a = get(s.addr, "/cookies/set/name/va%20lue", &[]);
    assert_eq!(a.status, 400, "a space is not a cookie-octet");
    let a = get(s.addr, "/cookies/set/name/value", &[]);
    assert_eq!(a.all("set-cookie"), ["name=value; Path=/"]);
    // A quoted cookie-value (RFC 6265 §4.1.1), as python-requests' tests set one.
    let a = get(s.addr, "/cookies/set?foo=%22bar:baz%22", &[]);
    assert_eq!(a.all("set-cookie"), ["foo=\"bar:baz\"; Path=/"]);
    let j = get(s.addr, "/cookies", &["Cookie: b=two; a=1; a=shadowed"]).json();
    assert_eq!(j, json!({"cookies": {"a": "1", "b": "two"}}));
    let a = get(s.addr, "/cookies/delete?a", &[]);
    assert_eq!(a.status, 302);
    assert!(
        a.all("set-cookie")[0].starts_with("a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0")
    );
    // No header splitting through a cookie.
    let a = get(s.addr, "/cookies/set?a=1%0D%0AX-Evil:%201", &[]);
    assert_eq!(a.status, 400);
    assert!(a.field("x-evil").is_none());
}

#[test]
fn basic_hidden_and_bearer() {
    let s = server();
    // user:passwd
    let good = "Authorization: Basic dXNlcjpwYXNzd2Q=";
    let a = get(s.addr, "/basic-auth/user/passwd", &[good]);
    assert_eq!(a.json(), json!({"authenticated": true, "user": "user"}));
    let a = get(s.addr, "/basic-auth/user/other", &[good]);
    assert_eq!(a.status, 401);
    assert_eq!(
        a.field("www-authenticate"),
        Some("Basic realm=\"Fake Realm\"")
    );
    assert_eq!(get(s.addr, "/basic-auth/user/passwd", &[]).status, 401);
    assert_eq!(
        get(s.addr, "/hidden-basic-auth/user/passwd", &[good]).status,
        200
    );
    let a = get(s.addr, "/hidden-basic-auth/user/other", &[good]);
    assert_eq!((a.status, a.field("www-authenticate")), (404, None));
    assert_eq!(get(s.addr, "/basic-auth/user", &[]).status, 404);
    let a = get(s.addr, "/bearer", &["Authorization: Bearer tok-123"]);
    assert_eq!(a.json(), json!({"authenticated": true, "token": "tok-123"}));
    for bad in [
        "Authorization: Bearer",
        "Authorization: bearer x",
        "Authorization: Basic x",
    ] {
        let a = get(s.addr, "/bearer", &[bad]);
        assert_eq!(
            (a.status, a.field("www-authenticate")),
            (401, Some("Bearer")),
            "{bad}"
        );
    }
}

/// The `key="value"` or `key=value` parameters of a challenge.
fn challenge_param(challenge: &str, key: &str) -> String {
    let at = challenge.find(&format!("{key}=")).unwrap() + key.len() + 1;
    let rest = &challenge[at..];
    match rest.strip_prefix('"') {
        Some(q) => q[..q.find('"').unwrap()].to_string(),
        None => rest.split(',').next().unwrap().trim().to_string(),
    }
}

fn hash(algorithm: &str, text: &[u8]) -> String {
    let bytes: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(text).to_vec(),
        "SHA-256" => sha2::Sha256::digest(text).to_vec(),
        _ => sha2::Sha512::digest(text).to_vec(),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Answers `challenge` for `path` as a client would; returns the Authorization header line.
fn authorization(
    challenge: &str,
    path: &str,
    user: &str,
    pass: &str,
    qop: &str,
    body: &[u8],
) -> String {
    let algorithm = challenge_param(challenge, "algorithm");
    let (realm, nonce) = (
        challenge_param(challenge, "realm"),
        challenge_param(challenge, "nonce"),
    );
    let (nc, cnonce) = ("00000001", "0a4f113b");
    let h = |t: String| hash(&algorithm, t.as_bytes());
    let ha1 = h(format!("{user}:{realm}:{pass}"));
    let ha2 = if qop == "auth-int" {
        h(format!("POST:{path}:{}", hash(&algorithm, body)))
    } else {
        h(format!("GET:{path}"))
    };
    let response = h(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"));
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
         uri=\"{path}\", algorithm={algorithm}, qop={qop}, nc={nc}, cnonce=\"{cnonce}\", \
         response=\"{response}\", opaque=\"{}\"",
        challenge_param(challenge, "opaque")
    )
}

fn digest_round(
    s: &Server,
    path: &str,
    qop: &str,
    pass: &str,
    cookie: Option<&str>,
) -> (Answer, Answer) {
    let method = if qop == "auth-int" { "POST" } else { "GET" };
    let body: &[u8] = if qop == "auth-int" {
        b"signed body"
    } else {
        b""
    };
    let mut headers = vec![];
    if let Some(c) = cookie {
        headers.push(c);
    }
    let first = exchange(s.addr, &raw(method, path, &headers, body));
    assert_eq!(first.status, 401);
    let challenge = first.field("www-authenticate").unwrap().to_string();
    let auth = authorization(&challenge, path, "user", pass, qop, body);
    headers.push(&auth);
    let second = exchange(s.addr, &raw(method, path, &headers, body));
    (first, second)
}

#[test]
fn digest_for_every_algorithm_and_qop() {
    let s = server();
    for (suffix, name) in [
        ("", "MD5"),
        ("/MD5", "MD5"),
        ("/SHA-256", "SHA-256"),
        ("/SHA-512", "SHA-512"),
    ] {
        for qop in ["auth", "auth-int"] {
            let path = format!("/digest-auth/{qop}/user/passwd{suffix}");
            let (first, second) = digest_round(&s, &path, qop, "passwd", None);
            let challenge = first.field("www-authenticate").unwrap();
            assert!(
                challenge.starts_with("Digest realm=\"me@kennethreitz.com\""),
                "{challenge}"
            );
            assert!(
                challenge.contains(&format!("algorithm={name}")),
                "{challenge}"
            );
            assert!(challenge.contains("stale=FALSE"));
            assert_eq!(second.status, 200, "{path}: {}", second.text());
            assert_eq!(
                second.json(),
                json!({"authenticated": true, "user": "user"})
            );
            // The wrong password is refused.
            let (_, wrong) = digest_round(&s, &path, qop, "nope", None);
            assert_eq!(wrong.status, 401, "{path}");
        }
    }
    for bad in [
        "/digest-auth/auth/user/passwd/SHA-1",
        "/digest-auth/other/user/passwd",
    ] {
        assert_eq!(get(s.addr, bad, &[]).status, 400, "{bad}");
    }
}

#[test]
fn digest_nonces_go_stale_after_their_count() {
    let s = server();
    let path = "/digest-auth/auth/user/passwd/MD5/0";
    // stale_after=0: the first answer with a valid response is already stale.
    let (first, second) = digest_round(&s, path, "auth", "passwd", Some("Cookie: stale_after=0"));
    assert!(first
        .all("set-cookie")
        .iter()
        .any(|c| c.starts_with("stale_after=0")));
    assert_eq!(second.status, 401);
    assert!(second
        .field("www-authenticate")
        .unwrap()
        .contains("stale=TRUE"));
    // A count of 2 gives two successes, each counting down.
    let path = "/digest-auth/auth/user/passwd/MD5/2";
    let (_, ok) = digest_round(&s, path, "auth", "passwd", None);
    assert_eq!(ok.status, 200);
    assert!(ok.all("set-cookie").contains(&"stale_after=1; Path=/"));
}
