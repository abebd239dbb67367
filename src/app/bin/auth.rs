//! Cookies and authentication: `/cookies`, `/cookies/set`, `/cookies/delete`,
//! `/basic-auth/{user}/{passwd}`, `/hidden-basic-auth/...`, `/bearer` and
//! `/digest-auth/{qop}/{user}/{passwd}[/{algorithm}[/{stale_after}]]`, as httpbin does them
//! (digest included: MD5, SHA-256 and SHA-512, `auth` and `auth-int`, and the cookie-kept
//! `stale_after` count that makes a nonce go stale).

use base64::Engine;

use super::digest;
use super::forms::{self, Pairs};
use super::params;
use super::reply::{Body, Field, Resp};
use super::Kind;
use crate::http::Reply;
use crate::http::StatusCode;

const REALM: &[u8] = b"Basic realm=\"Fake Realm\"";

pub(super) fn respond(kind: Kind, r: &mut Resp<'_, '_>) -> Reply {
    match kind {
        Kind::Cookies => cookies(r),
        Kind::CookiesSet => set_cookies(r, false),
        Kind::CookiesDelete => set_cookies(r, true),
        Kind::BasicAuth => basic(r, false),
        Kind::HiddenBasicAuth => basic(r, true),
        Kind::Bearer => bearer(r),
        Kind::DigestAuth => digest::respond(r),
        _ => r.not_found(),
    }
}

/// The request's cookies, each name once (the first one sent wins, as in httpbin).
pub(super) fn request_cookies<'a>(r: &Resp<'a, '_>, out: &mut Pairs) {
    out.clear();
    for (name, value) in r.req.fields() {
        if name.eq_ignore_ascii_case(b"cookie") {
            forms::parse_cookies(value, |n, v| out.push(n, v));
        }
    }
}

fn cookies(r: &mut Resp<'_, '_>) -> Reply {
    let mut jar = Pairs::new();
    request_cookies(r, &mut jar);
    jar.sort_by_name();
    r.json(StatusCode::Ok, &[], &|j, _| {
        j.open().key(b"cookies").open();
        for (name, mut values) in jar.groups() {
            j.key(name).string(values.next().unwrap_or_default());
        }
        j.close().close().finish();
    })
}

/// RFC 6265 §4.1.1: a cookie name is a token; a value is cookie-octets (no control
/// character, space, double quote, comma, semicolon or backslash), or cookie-octets between
/// double quotes (`foo="bar:baz"`, which python-requests' tests set).
pub(super) fn valid_cookie(name: &[u8], value: &[u8]) -> bool {
    let octets = match value {
        [b'"', inner @ .., b'"'] => inner,
        _ => value,
    };
    !name.is_empty()
        && name.iter().all(|&b| crate::http::chars::is_tchar(b))
        && octets
            .iter()
            .all(|&b| matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e))
}

/// `/cookies/set?name=value...` (or `/cookies/set/{name}/{value}`) and `/cookies/delete?name`:
/// a `Set-Cookie` for each, then a 302 to `/cookies`.
fn set_cookies(r: &mut Resp<'_, '_>, delete: bool) -> Reply {
    let mut pairs = Pairs::new();
    let path = r.req.head.path;
    if let Some(rest) = path.strip_prefix(b"/cookies/set/") {
        let mut parts = rest.splitn(2, |&b| b == b'/');
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            return r.not_found();
        };
        pairs.push(
            &params::decoded(name, false),
            &params::decoded(value, false),
        );
    } else if path != b"/cookies/set" && path != b"/cookies/delete" {
        return r.not_found();
    } else {
        forms::parse_urlencoded(r.req.head.query, &mut pairs);
    }
    let mut lines = Vec::with_capacity(pairs.len());
    for (name, value) in pairs.iter() {
        if !valid_cookie(name, if delete { b"" } else { value }) {
            let detail = "cookie names must be tokens and values cookie-octets (RFC 6265)";
            return r.bad_request(detail);
        }
        let mut line = name.to_vec();
        line.push(b'=');
        if delete {
            line.extend_from_slice(b"; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0");
        } else {
            line.extend_from_slice(value);
        }
        line.extend_from_slice(b"; Path=/");
        lines.push(line);
    }
    let mut fields: Vec<Field> = lines.iter().map(|l| (&b"Set-Cookie"[..], &l[..])).collect();
    fields.push((b"Location", b"/cookies"));
    r.send(StatusCode::Code(302), None, &fields, Body::Static(b""))
}

/// The user and password of a `Basic` Authorization value.
pub(super) fn basic_credentials(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, rest) = split_scheme(value)?;
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// `Scheme rest` → (`Scheme`, `rest`).
pub(super) fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    Some((&value[..space], value[space + 1..].trim_ascii()))
}

/// The `{user}/{passwd}` after `prefix`, decoded; `None` unless exactly two segments.
pub(super) fn user_and_password(path: &[u8], prefix: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let rest = path.strip_prefix(prefix)?;
    let mut parts = rest.split(|&b| b == b'/');
    let (Some(user), Some(pass), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    Some((
        params::decoded(user, false).into_owned(),
        params::decoded(pass, false).into_owned(),
    ))
}

fn basic(r: &mut Resp<'_, '_>, hidden: bool) -> Reply {
    let prefix: &[u8] = if hidden {
        b"/hidden-basic-auth/"
    } else {
        b"/basic-auth/"
    };
    let Some((user, pass)) = user_and_password(r.req.head.path, prefix) else {
        return r.not_found();
    };
    let given = r.req.field(b"authorization").and_then(basic_credentials);
    if given.as_ref() == Some(&(user.clone(), pass)) {
        return r.json(StatusCode::Ok, &[], &|j, _| {
            j.open().key(b"authenticated").boolean(true);
            j.key(b"user").string(&user).close().finish();
        });
    }
    if hidden {
        return r.not_found();
    }
    let fields = [(&b"WWW-Authenticate"[..], REALM)];
    r.send(StatusCode::Code(401), None, &fields, Body::Static(b""))
}

/// `/bearer`: any token in `Authorization: Bearer <token>`.
fn bearer(r: &mut Resp<'_, '_>) -> Reply {
    let token = r
        .req
        .field(b"authorization")
        .and_then(split_scheme)
        .filter(|(scheme, token)| *scheme == b"Bearer" && !token.is_empty())
        .map(|(_, token)| token);
    match token {
        Some(token) => r.json(StatusCode::Ok, &[], &|j, _| {
            j.open().key(b"authenticated").boolean(true);
            j.key(b"token").string(token).close().finish();
        }),
        None => {
            let fields = [(&b"WWW-Authenticate"[..], &b"Bearer"[..])];
            r.send(StatusCode::Code(401), None, &fields, Body::Static(b""))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_values() {
        // "user:pa:ss"
        assert_eq!(
            basic_credentials(b"Basic dXNlcjpwYTpzcw=="),
            Some((b"user".to_vec(), b"pa:ss".to_vec()))
        );
        assert_eq!(
            basic_credentials(b"basic dXNlcjpwYTpzcw=="),
            Some((b"user".to_vec(), b"pa:ss".to_vec()))
        );
        assert_eq!(basic_credentials(b"Bearer dXNlcjpwYTpzcw=="), None);
        assert_eq!(basic_credentials(b"Basic !!"), None);
        assert_eq!(basic_credentials(b"Basic dXNlcg=="), None, "no colon");
    }

    #[test]
    fn cookie_syntax() {
        assert!(valid_cookie(b"a", b"1"));
        assert!(valid_cookie(b"a", b""));
        assert!(!valid_cookie(b"a b", b"1"));
        assert!(!valid_cookie(b"a", b"x\r\nSet-Cookie: evil=1"));
        assert!(!valid_cookie(b"a", b"x;y"));
        assert!(!valid_cookie(b"", b"1"));
        assert!(
            valid_cookie(b"foo", b"\"bar:baz\""),
            "a quoted value (RFC 6265)"
        );
        assert!(valid_cookie(b"foo", b"\"\""));
        assert!(!valid_cookie(b"foo", b"\"a\"b\""), "a quote inside");
        assert!(!valid_cookie(b"foo", b"\"a"), "an open quote");
    }

    #[test]
    fn path_credentials() {
        assert_eq!(
            user_and_password(b"/basic-auth/u/p%2Fq", b"/basic-auth/"),
            Some((b"u".to_vec(), b"p/q".to_vec()))
        );
        assert_eq!(user_and_password(b"/basic-auth/u", b"/basic-auth/"), None);
        assert_eq!(
            user_and_password(b"/basic-auth/u/p/x", b"/basic-auth/"),
            None
        );
    }
}
