//! `/healthz`: the check, open to every client on every port, and its control, which is not.
//!
//! A check (GET or HEAD) answers what the state shared by every worker says (`crate::health`):
//! 200 `ok`, the failing status with `failing`, or 503 `draining`. A change (`PUT` with
//! `fail=...` in the query or the body, `DELETE`, or `GET ?fail=...` for tools that can only
//! GET) is taken on the metrics port, or on the public port with `Authorization: Bearer
//! <--admin-token>`; anything else is refused (403 when no token is set, else 401) and changes
//! nothing. The reply to a change is the new state, as JSON.

use tracing::info;

use super::text;
use crate::config::AdminToken;
use crate::health::{Mode, Verdict};
use crate::http::percent::percent_decode;
use crate::http::{Body, Exchange, Length, Method, PortRole, Reply, Request, Respond};
use crate::http::{ResponseHead, StatusCode};
use crate::stats::MasterStats;

/// What `/healthz` takes.
pub(super) const ALLOW: &[u8] = b"GET, HEAD, PUT, DELETE, OPTIONS";

/// The longest change a PUT body may spell (`fail=503:100` is 12 bytes); a longer body is
/// refused rather than decoded.
const MAX_SPEC: usize = 64;

const REALM: &[u8] = b"Bearer realm=\"prefork-server\"";
const REALM_INVALID: &[u8] = b"Bearer realm=\"prefork-server\", error=\"invalid_token\"";

/// Why a change was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The public port with no `--admin-token` set: no credentials can help (403).
    NoToken,
    /// No bearer token in the request (401).
    Missing,
    /// A bearer token that is not the admin token (401, `invalid_token`).
    Wrong,
}

/// Answers any `/healthz` request but OPTIONS (the router answers that).
pub(super) fn respond(
    master: &MasterStats,
    admin_token: Option<&AdminToken>,
    req: &Request<'_>,
    ex: &Exchange<'_>,
    res: &mut dyn Respond,
) -> Reply {
    let wanted = match req.method {
        Method::Get => fail_value(req.query).map(|v| Mode::parse(&v)),
        Method::Head => None,
        Method::Put => Some(put_mode(req.query, req.body)),
        Method::Delete => Some(Ok(Mode::Ok)),
        _ => return text::method_not_allowed(res, ALLOW),
    };
    let Some(wanted) = wanted else {
        let answer = match master.health.check(roll) {
            Verdict::Ok => Answer::text(StatusCode::Ok, b"ok"),
            Verdict::Fail(code) => Answer::text(fail_status(code), b"failing\n"),
            Verdict::Draining => Answer::text(StatusCode::ServiceUnavailable, b"draining\n"),
        };
        return send(res, answer);
    };
    let via = match authorize(req, ex, admin_token) {
        Ok(via) => via,
        Err(Refusal::NoToken) => {
            let text = b"changing /healthz takes the metrics port or --admin-token\n";
            return send(res, Answer::text(StatusCode::Code(403), text));
        }
        Err(why) => {
            let challenge = if why == Refusal::Wrong {
                REALM_INVALID
            } else {
                REALM
            };
            let answer = Answer {
                challenge: Some(challenge),
                ..Answer::text(StatusCode::Code(401), b"Unauthorized\n")
            };
            return send(res, answer);
        }
    };
    match wanted {
        Ok(mode) => {
            let health = &master.health;
            health.set(mode);
            let now = health.snapshot();
            info!(state = now.state(), fail = ?now.failing(), via, peer = ?ex.peer.addr(), "/healthz changed");
            let json = format!("{now}\n");
            let answer = Answer {
                content_type: b"application/json",
                ..Answer::text(StatusCode::Ok, json.as_bytes())
            };
            send(res, answer)
        }
        Err(why) => {
            let text = format!("{why}\n");
            send(res, Answer::text(StatusCode::BadRequest, text.as_bytes()))
        }
    }
}

/// One whole answer.
struct Answer<'a> {
    status: StatusCode,
    content_type: &'static [u8],
    body: &'a [u8],
    /// `WWW-Authenticate`, for a 401.
    challenge: Option<&'static [u8]>,
}

impl<'a> Answer<'a> {
    fn text(status: StatusCode, body: &'a [u8]) -> Answer<'a> {
        Answer {
            status,
            content_type: b"text/plain",
            body,
            challenge: None,
        }
    }
}

/// A number below 100, for a check that fails a percentage of the time.
fn roll() -> u64 {
    crate::rand::with(|rng| rng.next_u64() % 100)
}

/// The status a failing check answers (`Mode` only holds 400 to 599).
fn fail_status(code: u16) -> StatusCode {
    StatusCode::from_code(code).unwrap_or(StatusCode::ServiceUnavailable)
}

/// Who may change the state: the metrics port, or the public port with the admin token
/// (compared in constant time). `Ok` says which, for the log.
fn authorize(
    req: &Request<'_>,
    ex: &Exchange<'_>,
    admin_token: Option<&AdminToken>,
) -> Result<&'static str, Refusal> {
    if ex.port == PortRole::Admin {
        return Ok("metrics port");
    }
    let token = admin_token.ok_or(Refusal::NoToken)?;
    let given = req
        .field(b"authorization")
        .and_then(bearer)
        .ok_or(Refusal::Missing)?;
    if token.matches(given) {
        Ok("admin token")
    } else {
        Err(Refusal::Wrong)
    }
}

/// The token of a `Bearer` Authorization value (the scheme is case-insensitive, RFC 9110 §11.1).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, token) = (&value[..space], value[space + 1..].trim_ascii());
    (scheme.eq_ignore_ascii_case(b"bearer") && !token.is_empty()).then_some(token)
}

/// The decoded value of `fail` in a query or form (`fail=503%3A30` is `503:30`).
fn fail_value(form: &[u8]) -> Option<Vec<u8>> {
    form.split(|&b| b == b'&').find_map(|pair| {
        let value = pair.strip_prefix(b"fail=")?;
        let mut decoded = Vec::new();
        percent_decode(&value[..value.len().min(MAX_SPEC)], true, &mut decoded);
        Some(decoded)
    })
}

/// A PUT's mode: `fail=` in the query, else the body (a form with `fail=`, or the bare value,
/// so `curl -X PUT -d 503:30` works as well as `-d fail=503:30`).
fn put_mode(query: &[u8], body: &[u8]) -> Result<Mode, &'static str> {
    if let Some(value) = fail_value(query) {
        return Mode::parse(&value);
    }
    let body = body.trim_ascii();
    if body.len() > MAX_SPEC {
        return Err("the body is too long to be a fail= value");
    }
    match fail_value(body) {
        Some(value) => Mode::parse(&value),
        None if body.is_empty() => Err("PUT /healthz takes fail=off, fail=503 or fail=503:30"),
        None => Mode::parse(body),
    }
}

/// Sends one whole answer.
fn send(res: &mut dyn Respond, answer: Answer<'_>) -> Reply {
    let Answer {
        status,
        content_type,
        body,
        challenge,
    } = answer;
    let fields: &[(&[u8], &[u8])] = match &challenge {
        Some(value) => &[(b"WWW-Authenticate", value)],
        None => &[],
    };
    let head = ResponseHead {
        fields: &[fields],
        ..ResponseHead::new(
            status,
            Some(content_type),
            Length::Exactly(body.len() as u64),
        )
    };
    text::reply(res.send(&head, Body::Copy(&[body])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer   abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
        assert_eq!(bearer(b"Bearer "), None);
    }

    #[test]
    fn change_forms() {
        let fail = |status, percent| Ok(Mode::Failing { status, percent });
        assert_eq!(fail_value(b"x=1&fail=503%3A30"), Some(b"503:30".to_vec()));
        assert_eq!(fail_value(b"failing=1"), None);
        assert_eq!(put_mode(b"fail=500", b"fail=off"), fail(500, 100));
        assert_eq!(put_mode(b"", b"fail=503:30\n"), fail(503, 30));
        assert_eq!(put_mode(b"", b"503:30"), fail(503, 30));
        assert_eq!(put_mode(b"", b"off"), Ok(Mode::Ok));
        assert!(put_mode(b"", b"").is_err());
        assert!(put_mode(b"", &[b'5'; 100]).is_err());
    }
}
