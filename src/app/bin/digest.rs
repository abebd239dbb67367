//! `/digest-auth/{qop}/{user}/{passwd}[/{algorithm}[/{stale_after}]]`: HTTP Digest
//! authentication (RFC 7616) as httpbin does it, so that clients' digest code can be tested:
//! MD5, SHA-256 and SHA-512; `qop` `auth` or `auth-int` (whose digest covers the body); and
//! httpbin's cookies: `stale_after` counts the successes one nonce gets before it is answered
//! with `stale=TRUE`, `last_nonce` makes a nonce that failed stale on its next use.
//!
//! The check is httpbin's: HA1 = H(user:realm:password) with the client's realm, HA2 =
//! H(method:request-target) (with H(body) for `auth-int`), and the response
//! H(HA1:nonce:nc:cnonce:qop:HA2), or H(HA1:nonce:HA2) without a qop; H is the algorithm the
//! client names. Nonces are random and not remembered, as in httpbin: this is a test server.

use md5::Md5;
use sha2::{Digest, Sha256, Sha512};

use super::auth::{request_cookies, split_scheme};
use super::forms::Pairs;
use super::params;
use super::reply::{Body, Field, Resp};
use crate::http::Reply;
use crate::http::StatusCode;

const REALM: &str = "me@kennethreitz.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Algorithm {
    Md5,
    Sha256,
    Sha512,
}

impl Algorithm {
    fn parse(name: &[u8]) -> Option<Algorithm> {
        match name.to_ascii_uppercase().as_slice() {
            b"MD5" => Some(Algorithm::Md5),
            b"SHA-256" => Some(Algorithm::Sha256),
            b"SHA-512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512 => "SHA-512",
        }
    }

    /// The lower-case hex digest of the parts joined by `:`.
    pub(super) fn hex(self, parts: &[&[u8]]) -> String {
        fn run<D: Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            d.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        }
        match self {
            Algorithm::Md5 => run::<Md5>(parts),
            Algorithm::Sha256 => run::<Sha256>(parts),
            Algorithm::Sha512 => run::<Sha512>(parts),
        }
    }
}

/// The parameters of a `Digest` Authorization value (RFC 7616 §3.4): `name=token` or
/// `name="quoted"`, comma-separated; a quoted value may hold commas.
pub(super) fn parse_params(value: &[u8], out: &mut Pairs) {
    let mut rest = value;
    loop {
        rest = rest.trim_ascii_start();
        let Some(eq) = rest.iter().position(|&b| b == b'=') else {
            return;
        };
        let name = rest[..eq].trim_ascii().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_ascii_start();
        let mut val = Vec::new();
        if let Some(quoted) = rest.strip_prefix(b"\"") {
            let mut i = 0;
            while i < quoted.len() && quoted[i] != b'"' {
                if quoted[i] == b'\\' && i + 1 < quoted.len() {
                    i += 1;
                }
                val.push(quoted[i]);
                i += 1;
            }
            rest = quoted.get(i + 1..).unwrap_or(b"");
        } else {
            let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
            val.extend_from_slice(rest[..end].trim_ascii());
            rest = &rest[end..];
        }
        out.push(&name, &val);
        match rest.iter().position(|&b| b == b',') {
            Some(comma) => rest = &rest[comma + 1..],
            None => return,
        }
    }
}

/// What the client's credentials come to.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    Wrong,
    Missing,
}

/// The expected `response` for these credentials and request.
pub(super) fn expected(
    p: &Pairs,
    password: &[u8],
    method: &[u8],
    target: &[u8],
    body: &[u8],
) -> String {
    let get = |name: &[u8]| p.first(name).unwrap_or(b"");
    let algorithm = Algorithm::parse(get(b"algorithm")).unwrap_or(Algorithm::Md5);
    let ha1 = algorithm.hex(&[get(b"username"), get(b"realm"), password]);
    let qop = get(b"qop");
    let ha2 = if qop == b"auth-int" {
        let body_hash = algorithm.hex(&[body]);
        algorithm.hex(&[method, target, body_hash.as_bytes()])
    } else {
        algorithm.hex(&[method, target])
    };
    if qop.is_empty() {
        algorithm.hex(&[ha1.as_bytes(), get(b"nonce"), ha2.as_bytes()])
    } else {
        let (nc, cnonce) = (get(b"nc"), get(b"cnonce"));
        algorithm.hex(&[
            ha1.as_bytes(),
            get(b"nonce"),
            nc,
            cnonce,
            qop,
            ha2.as_bytes(),
        ])
    }
}

pub(super) fn respond(r: &mut Resp<'_, '_>) -> Reply {
    let path = r.req.head.path;
    let rest = path.strip_prefix(b"/digest-auth/").unwrap_or(b"");
    let segments: Vec<&[u8]> = rest.split(|&b| b == b'/').collect();
    let (qop, algorithm, stale_after) = match segments.as_slice() {
        [qop, _, _] => (*qop, Algorithm::Md5, &b"never"[..]),
        [qop, _, _, alg] | [qop, _, _, alg, _] => match Algorithm::parse(alg) {
            Some(a) => (*qop, a, segments.get(4).copied().unwrap_or(b"never")),
            None => return r.bad_request("the algorithm must be MD5, SHA-256 or SHA-512"),
        },
        _ => return r.not_found(),
    };
    if qop != b"auth" && qop != b"auth-int" {
        return r.bad_request("qop must be auth or auth-int");
    }
    if stale_after != b"never" && params::int::<u64>(stale_after).is_none() {
        return r.bad_request("stale_after must be a whole number or never");
    }
    let user = params::decoded(segments[1], false).into_owned();
    let password = params::decoded(segments[2], false).into_owned();
    let mut jar = Pairs::new();
    request_cookies(r, &mut jar);
    let require_cookie = params::query(r.req.head.query, b"require-cookie")
        .is_some_and(|v| matches!(v.as_ref(), b"1" | b"t" | b"true"));
    if require_cookie && jar.first(b"fake") != Some(b"fake_value") {
        return r.error(StatusCode::Code(403), "missing cookie set on challenge");
    }
    let mut p = Pairs::new();
    let auth = r.req.field(b"authorization").and_then(split_scheme);
    let verdict = match auth {
        Some((scheme, value)) if scheme.eq_ignore_ascii_case(b"digest") => {
            parse_params(value, &mut p);
            let complete = [&b"username"[..], b"realm", b"nonce", b"uri", b"response"]
                .iter()
                .all(|n| p.first(n).is_some());
            let mut target = r.req.head.path.to_vec();
            if !r.req.head.query.is_empty() {
                target.push(b'?');
                target.extend_from_slice(r.req.head.query);
            }
            if !complete || p.first(b"username") != Some(&user[..]) {
                Verdict::Missing
            } else if expected(&p, &password, r.req.method(), &target, r.req.body).as_bytes()
                == p.first(b"response").unwrap_or(b"")
            {
                Verdict::Ok
            } else {
                Verdict::Wrong
            }
        }
        _ => Verdict::Missing,
    };
    let nonce = p.first(b"nonce").unwrap_or(b"").to_vec();
    let stale = verdict != Verdict::Missing
        && (jar.first(b"last_nonce") == Some(&nonce[..])
            || jar.first(b"stale_after") == Some(b"0"));
    if verdict == Verdict::Ok && !stale {
        let left = match params::int::<u64>(jar.first(b"stale_after").unwrap_or(stale_after)) {
            Some(n) => n.saturating_sub(1).to_string(),
            None => "never".into(),
        };
        let cookies = [
            format!("stale_after={left}; Path=/"),
            "fake=fake_value; Path=/".to_string(),
        ];
        let fields: Vec<Field> = cookies
            .iter()
            .map(|c| (&b"Set-Cookie"[..], c.as_bytes()))
            .collect();
        return r.json(StatusCode::Ok, &fields, &|j, _| {
            j.open().key(b"authenticated").boolean(true);
            j.key(b"user").string(&user).close().finish();
        });
    }
    challenge(r, qop, algorithm, stale, stale_after, &nonce, verdict)
}

/// 401 with a fresh challenge, and the cookies that track staleness.
fn challenge(
    r: &mut Resp<'_, '_>,
    qop: &[u8],
    algorithm: Algorithm,
    stale: bool,
    stale_after: &[u8],
    nonce: &[u8],
    verdict: Verdict,
) -> Reply {
    let random = crate::rand::hex::<32>();
    let new_nonce = algorithm.hex(&[&random, r.ex.date]);
    let opaque = algorithm.hex(&[&crate::rand::hex::<32>()]);
    let value = format!(
        "Digest realm=\"{REALM}\", nonce=\"{new_nonce}\", qop=\"{}\", opaque=\"{opaque}\", \
         algorithm={}, stale={}",
        String::from_utf8_lossy(qop),
        algorithm.name(),
        if stale { "TRUE" } else { "FALSE" }
    );
    let mut cookies = vec![format!(
        "stale_after={}; Path=/",
        String::from_utf8_lossy(stale_after)
    )];
    cookies.push("fake=fake_value; Path=/".into());
    if verdict != Verdict::Missing && nonce.iter().all(u8::is_ascii_hexdigit) {
        cookies.push(format!(
            "last_nonce={}; Path=/",
            String::from_utf8_lossy(nonce)
        ));
    }
    let mut fields: Vec<Field> = vec![(b"WWW-Authenticate", value.as_bytes())];
    fields.extend(cookies.iter().map(|c| (&b"Set-Cookie"[..], c.as_bytes())));
    r.send(StatusCode::Code(401), None, &fields, Body::Static(b""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2617_example() {
        // RFC 2617 §3.5: Mufasa, "Circle Of Life", GET /dir/index.html.
        let mut p = Pairs::new();
        parse_params(
            br#"username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
            &mut p,
        );
        assert_eq!(p.first(b"qop"), Some(&b"auth"[..]));
        assert_eq!(p.first(b"nc"), Some(&b"00000001"[..]));
        let expected = expected(&p, b"Circle Of Life", b"GET", b"/dir/index.html", b"");
        assert_eq!(expected, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn go_httpbin_vector() {
        let mut p = Pairs::new();
        parse_params(
            br#"username="user", realm="go-httpbin", nonce="6fb213c6593975c877bb1247370527ad", uri="/digest-auth/auth/user/pass/MD5", algorithm=MD5, response="9b7a05d78051b4f668356eedf32f55d6", opaque="fd1c386a015a2bb7c41585f54329ce91", qop=auth, nc=00000001, cnonce="aaab705226af5bd4""#,
            &mut p,
        );
        let target = b"/digest-auth/auth/user/pass/MD5";
        assert_eq!(
            expected(&p, b"pass", b"GET", target, b""),
            "9b7a05d78051b4f668356eedf32f55d6"
        );
    }

    #[test]
    fn quoted_commas_and_sha() {
        let mut p = Pairs::new();
        parse_params(br#"realm="a, b", nonce=x"#, &mut p);
        assert_eq!(p.first(b"realm"), Some(&b"a, b"[..]));
        assert_eq!(p.first(b"nonce"), Some(&b"x"[..]));
        assert_eq!(Algorithm::Sha256.hex(&[b"a", b"b"]).len(), 64);
        assert_eq!(Algorithm::Sha512.hex(&[b""]).len(), 128);
    }
}
