//! The server's own small routes: `GET /`'s hello, `/echo`, `/whoami`, `OPTIONS *`, the
//! `/debug/*` aids, and the 404 and 405 every route shares.

use std::time::Duration;

use super::router::Route;
use super::text;
use crate::http::{
    Body, Exchange, Length, Method, OwnedHead, Producer, Reply, Request, Respond, ResponseHead,
    StaticResponse, StatusCode,
};

/// The longest `/debug/sleep` accepted, so a test aid cannot park a connection for ever.
const MAX_SLEEP_MS: u64 = 60_000;

/// `GET /`: the hello, the same bytes every time but for the date (so a protocol may render
/// it once a second: see [`App::static_routes`](super::App::static_routes)).
pub(super) const HELLO: StaticResponse = StaticResponse {
    status: StatusCode::Ok,
    content_type: b"text/plain",
    body: b"Hello, World!",
};

pub(super) const ALLOW_GET_HEAD: &[u8] = b"GET, HEAD, OPTIONS";
pub(super) const ALLOW_POST_PUT: &[u8] = b"POST, PUT, OPTIONS";
/// What `OPTIONS *` says the server as a whole implements.
pub(super) const ALLOW_SERVER: &[u8] = b"GET, HEAD, POST, PUT, DELETE, OPTIONS";

/// The body of `/debug/sleep`'s answer.
const SLEPT: &[u8] = b"slept\n";

/// `/` without a root index file: the hello.
#[inline]
pub(super) fn root(req: &Request<'_>, res: &mut dyn Respond) -> Reply {
    if !req.method.is_get_like() {
        return text::other_method(req, res, ALLOW_GET_HEAD);
    }
    let length = Length::Exactly(HELLO.body.len() as u64);
    let head = ResponseHead::new(HELLO.status, Some(HELLO.content_type), length);
    text::reply(res.send(&head, Body::Static(HELLO.body)))
}

/// `/whoami`: which worker answered.
pub(super) fn whoami(whoami: &[u8], req: &Request<'_>, res: &mut dyn Respond) -> Reply {
    if !req.method.is_get_like() {
        return text::other_method(req, res, ALLOW_GET_HEAD);
    }
    text::send(res, StatusCode::Ok, whoami)
}

/// `/echo`: the request body back, with the request's Content-Type (else
/// application/octet-stream); sent from wherever the protocol holds it.
pub(super) fn echo(req: &Request<'_>, res: &mut dyn Respond) -> Reply {
    if !matches!(req.method, Method::Post | Method::Put) {
        return text::other_method(req, res, ALLOW_POST_PUT);
    }
    let head = ResponseHead::new(
        StatusCode::Ok,
        Some(req.content_type.unwrap_or(b"application/octet-stream")),
        Length::Exactly(req.body.len() as u64),
    );
    text::reply(res.send(&head, Body::RequestBody))
}

/// The `/debug/*` aids (only with `--debug-routes`): a worker that crashes, one that hangs in
/// a loop that never returns to the event loop (what a worker stuck in a bad syscall looks
/// like), and an answer after `?ms=`.
pub(super) fn debug(route: Route, req: &Request<'_>, ex: &Exchange<'_>) -> Reply {
    match route {
        Route::DebugCrash => std::process::abort(),
        Route::DebugHang => loop {
            std::hint::spin_loop();
        },
        _ => {}
    }
    let ms = query_u64(req.query, b"ms").unwrap_or(0).min(MAX_SLEEP_MS);
    let head = ResponseHead::new(
        StatusCode::Ok,
        Some(b"text/plain"),
        Length::Exactly(SLEPT.len() as u64),
    );
    // The few bytes of the answer are not worth a reservation.
    let producer = Producer::new(
        OwnedHead::of(&head),
        ex.now + Duration::from_millis(ms),
        SLEPT.to_vec(),
        None,
        0,
    );
    Reply::Produce(Box::new(producer))
}

/// A path nothing serves: 404, or 405 for CONNECT (no tunnels here: a method this server
/// knows and does not allow).
pub(super) fn unknown(req: &Request<'_>, res: &mut dyn Respond) -> Reply {
    if req.method == Method::Connect {
        return text::method_not_allowed(res, ALLOW_SERVER);
    }
    not_found(req, res)
}

pub(super) fn not_found(_req: &Request<'_>, res: &mut dyn Respond) -> Reply {
    let status = StatusCode::NotFound;
    text::send(res, status, status.reason_body())
}

/// The value of `name` in a query string (`a=1&ms=200`), as a decimal number.
fn query_u64(query: &[u8], name: &[u8]) -> Option<u64> {
    query.split(|&b| b == b'&').find_map(|pair| {
        let value = pair.strip_prefix(name)?.strip_prefix(b"=")?;
        std::str::from_utf8(value).ok()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values() {
        assert_eq!(query_u64(b"ms=250", b"ms"), Some(250));
        assert_eq!(query_u64(b"a=1&ms=7", b"ms"), Some(7));
        assert_eq!(query_u64(b"msx=7", b"ms"), None);
        assert_eq!(query_u64(b"ms=-1", b"ms"), None);
        assert_eq!(query_u64(b"", b"ms"), None);
    }
}
