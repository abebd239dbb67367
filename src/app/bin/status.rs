//! Statuses and redirects: `/status/{code}` and `/status/{code:weight,...}`, `/unstable`,
//! `/redirect/{n}`, `/relative-redirect/{n}`, `/absolute-redirect/{n}` and `/redirect-to`.

use super::params;
use super::reply::{Body, Field, Resp};
use super::Kind;
use crate::http::Reply;
use crate::http::StatusCode;
use crate::rand::Rng;

/// The teapot of httpbin's 418.
const TEAPOT: &[u8] = b"\n    -=[ teapot ]=-\n\n       _...._\n     .'  _ _ `.\n    | .\"` ^ `\". _,\n    \\_;`\"---\"`|//\n      |       ;/\n      \\_     _/\n        `\"\"\"`\n";

pub(super) const ACCEPT_406: &[u8] = b"{\n  \"accept\": [\n    \"image/webp\",\n    \"image/svg+xml\",\n    \"image/jpeg\",\n    \"image/png\",\n    \"image/*\"\n  ],\n  \"message\": \"Client did not request a supported media type.\"\n}\n";

/// Most choices `/status/a:w,b:w,...` may list.
const MAX_CHOICES: usize = 64;

pub(super) fn respond(kind: Kind, r: &mut Resp<'_, '_>) -> Reply {
    match kind {
        Kind::Status => status(r),
        Kind::Unstable => unstable(r),
        Kind::Redirect | Kind::RelativeRedirect | Kind::AbsoluteRedirect => redirect(kind, r),
        Kind::RedirectTo => redirect_to(r),
        _ => r.not_found(),
    }
}

/// The code `/status/{spec}` picks: one code, or one of several by weight (`200:0.9,500:0.1`;
/// a missing weight is 1), drawn from `rng`. Codes must be from 100 to 599.
pub(super) fn pick(spec: &[u8], rng: &mut Rng) -> Result<u16, String> {
    let mut choices = [(0u16, 0f64); MAX_CHOICES];
    let mut n = 0;
    for item in spec.split(|&b| b == b',') {
        if n == MAX_CHOICES {
            return Err(format!("at most {MAX_CHOICES} choices"));
        }
        let (code, weight) = match item.iter().position(|&b| b == b':') {
            Some(i) => (&item[..i], Some(&item[i + 1..])),
            None => (item, None),
        };
        let code = params::int::<u16>(code)
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(|| {
                format!(
                    "invalid status code {:?}: codes are from 100 to 599",
                    String::from_utf8_lossy(code)
                )
            })?;
        let weight = match weight {
            None => 1.0,
            Some(w) => std::str::from_utf8(w)
                .ok()
                .and_then(|w| w.parse::<f64>().ok())
                .filter(|w| w.is_finite() && *w >= 0.0)
                .ok_or_else(|| format!("invalid weight {:?}", String::from_utf8_lossy(w)))?,
        };
        choices[n] = (code, weight);
        n += 1;
    }
    let choices = &choices[..n];
    let total: f64 = choices.iter().map(|c| c.1).sum();
    if total <= 0.0 {
        return Err("the weights add up to nothing".into());
    }
    let mut at = rng.unit() * total;
    for &(code, weight) in choices {
        if at < weight {
            return Ok(code);
        }
        at -= weight;
    }
    // Rounding at the very top: the last choice that has weight.
    Ok(choices
        .iter()
        .rev()
        .find(|c| c.1 > 0.0)
        .map_or(200, |c| c.0))
}

fn status(r: &mut Resp<'_, '_>) -> Reply {
    let spec = params::after(r.req.head.path, b"/status/").unwrap_or_default();
    let code = match crate::rand::with(|rng| pick(&spec, rng)) {
        Ok(code) => code,
        Err(detail) => return r.bad_request(&detail),
    };
    let Some(status) = StatusCode::from_code(code) else {
        return r.bad_request("codes are from 100 to 599");
    };
    const TEXT: &[u8] = b"text/html; charset=utf-8";
    if code < 200 {
        // An interim status, then a final 200, as go-httpbin does: a 1xx alone is not an
        // answer. 101 would tell the client the protocol changed, which it did not.
        if code == 101 {
            return r.bad_request("101 needs an Upgrade this server does not do");
        }
        r.interim(status);
        return r.send(StatusCode::Ok, Some(TEXT), &[], Body::Static(b""));
    }
    let (fields, ct, body): (&[Field], Option<&[u8]>, &'static [u8]) = match code {
        301 | 302 | 303 | 305 | 307 | 308 => (&[(b"Location", b"/redirect/1")], None, b""),
        401 => (
            &[(b"WWW-Authenticate", b"Basic realm=\"Fake Realm\"")],
            Some(TEXT),
            b"",
        ),
        402 => (
            &[(b"X-More-Info", b"http://vimeo.com/22053820")],
            Some(TEXT),
            b"Fuck you, pay me!",
        ),
        406 => (&[], Some(super::reply::JSON), ACCEPT_406),
        407 => (
            &[(b"Proxy-Authenticate", b"Basic realm=\"Fake Realm\"")],
            Some(TEXT),
            b"",
        ),
        418 => (
            &[(b"X-More-Info", b"http://tools.ietf.org/html/rfc2324")],
            Some(TEXT),
            TEAPOT,
        ),
        _ => (&[], Some(TEXT), b""),
    };
    r.send(status, ct, fields, Body::Static(body))
}

/// `/unstable?failure_rate=0.5&seed=N`: 500 with that probability, else 200.
fn unstable(r: &mut Resp<'_, '_>) -> Reply {
    let query = r.req.head.query;
    let rate = match params::query(query, b"failure_rate") {
        None => Some(0.5),
        Some(v) => std::str::from_utf8(&v)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|f| (0.0..=1.0).contains(f)),
    };
    let Some(rate) = rate else {
        return r.bad_request("failure_rate must be a number from 0 to 1");
    };
    let draw = match params::query(query, b"seed") {
        None => crate::rand::with(Rng::unit),
        Some(seed) => match params::int::<i64>(&seed) {
            Some(seed) => Rng::seeded(seed as u64).unit(),
            None => return r.bad_request("seed must be a whole number"),
        },
    };
    let status = if draw < rate {
        StatusCode::Code(500)
    } else {
        StatusCode::Ok
    };
    r.send(status, Some(b"text/plain"), &[], Body::Static(b""))
}

/// The redirect chains: each hop is a 302 to the next with one fewer, and the last to `/get`.
fn redirect(kind: Kind, r: &mut Resp<'_, '_>) -> Reply {
    let prefix: &[u8] = match kind {
        Kind::Redirect => b"/redirect/",
        Kind::RelativeRedirect => b"/relative-redirect/",
        _ => b"/absolute-redirect/",
    };
    let n = params::after(r.req.head.path, prefix).and_then(|s| params::int::<u64>(&s));
    let Some(n) = n.filter(|&n| n >= 1) else {
        return r.bad_request("the number of redirects must be a whole number from 1");
    };
    let absolute = match kind {
        Kind::AbsoluteRedirect => true,
        Kind::Redirect => params::query(r.req.head.query, b"absolute")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"true")),
        _ => false,
    };
    let mut location = Vec::new();
    if absolute {
        location.extend_from_slice(r.req.scheme());
        location.extend_from_slice(b"://");
        location.extend_from_slice(r.req.head.authority.unwrap_or(b""));
    }
    if n == 1 {
        location.extend_from_slice(b"/get");
    } else {
        location.extend_from_slice(if absolute {
            b"/absolute-redirect/"
        } else {
            b"/relative-redirect/"
        });
        location.extend_from_slice((n - 1).to_string().as_bytes());
    }
    r.send(
        StatusCode::Code(302),
        None,
        &[(b"Location", &location)],
        Body::Static(b""),
    )
}

/// `/redirect-to?url=...&status_code=302`: to any URI reference, as httpbin: absolute (with a
/// scheme), a path on this server, or relative to this one (`url=post` is `/post` to the
/// client, RFC 3986 §5). The value is percent-encoded where it is not visible ASCII, so it can
/// never split the header.
fn redirect_to(r: &mut Resp<'_, '_>) -> Reply {
    let query = r.req.head.query;
    let Some(url) = params::query(query, b"url").filter(|u| !u.is_empty()) else {
        return r.bad_request("missing required query parameter: url");
    };
    let code = match params::query(query, b"status_code") {
        None => Some(302),
        Some(v) => params::int::<u16>(&v).filter(|c| (300..=399).contains(c)),
    };
    let Some(code) = code else {
        return r.bad_request("status_code must be from 300 to 399");
    };
    let mut location = Vec::with_capacity(url.len());
    for &b in url.iter() {
        if (0x21..0x7f).contains(&b) {
            location.push(b);
        } else {
            location.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    r.send(
        StatusCode::Code(code),
        None,
        &[(b"Location", &location)],
        Body::Static(b""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_choices() {
        let mut rng = Rng::seeded(3);
        assert_eq!(pick(b"418", &mut rng), Ok(418));
        assert!(pick(b"600", &mut rng).is_err());
        assert!(pick(b"99", &mut rng).is_err());
        assert!(pick(b"abc", &mut rng).is_err());
        assert!(pick(b"200:x", &mut rng).is_err());
        assert!(pick(b"200:0", &mut rng).is_err());
        assert!(pick(b"", &mut rng).is_err());
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            match pick(b"200:0.9,500:0.1", &mut rng).unwrap() {
                200 => counts[0] += 1,
                500 => counts[1] += 1,
                other => panic!("{other}"),
            }
        }
        assert!((800..1200).contains(&counts[1]), "{counts:?}");
        for _ in 0..100 {
            assert_eq!(pick(b"200:0,503", &mut rng), Ok(503));
        }
    }
}
