//! The routes: what each request gets, written into the output buffer.

use std::time::Duration;

use super::parse::{BodyLen, Head, Method};
use super::response::{self, ConnectionHeader, Framing, ResponseHead, StatusCode};
use super::{Sink, State};
use crate::buffer::Buf;
use crate::proto::{Context, MetricsAccess};

/// The longest `/debug/sleep` accepted, so a test aid cannot park a connection for ever.
const MAX_SLEEP_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Root,
    Echo,
    Healthz,
    Whoami,
    DebugCrash,
    DebugHang,
    DebugSleep,
    Metrics,
    Status,
    Unknown,
}

const HELLO: &[u8] = b"Hello, World!";

/// Renders the keep-alive response to `GET /` for `date` into `out` (replacing its contents),
/// once a second, so the hot path is a single copy.
pub fn prerender_hello(out: &mut Buf, date: &[u8]) {
    out.consume(out.len());
    ResponseHead {
        status: StatusCode::Ok,
        content_type: Some(b"text/plain"),
        framing: Framing::Length(HELLO.len() as u64),
        connection: ConnectionHeader::Omit,
        allow: None,
    }
    .write(out, date);
    out.extend_from_slice(HELLO);
}

const ALLOW_GET_HEAD: &[u8] = b"GET, HEAD";
const ALLOW_POST_PUT: &[u8] = b"POST, PUT";

fn route_of(path: &[u8], debug_routes: bool) -> Route {
    match path {
        b"/" => Route::Root,
        b"/echo" => Route::Echo,
        b"/healthz" => Route::Healthz,
        b"/whoami" => Route::Whoami,
        b"/metrics" => Route::Metrics,
        b"/status" => Route::Status,
        b"/debug/crash" if debug_routes => Route::DebugCrash,
        b"/debug/hang" if debug_routes => Route::DebugHang,
        b"/debug/sleep" if debug_routes => Route::DebugSleep,
        _ => Route::Unknown,
    }
}

/// Writes the response to `head` (or, for a deferred one, nothing yet) and returns the state
/// that reads its body, waits, or closes.
pub(super) fn respond(
    head: &Head<'_>,
    body_in_buffer: bool,
    output: &mut Buf,
    ctx: &Context<'_>,
) -> State {
    respond_route(route_for(head.path, ctx), head, body_in_buffer, output, ctx)
}

/// The route, with `--metrics-port` applied: the metrics port serves only `/metrics` and
/// `/status`, and the main port then does not serve them.
fn route_for(path: &[u8], ctx: &Context<'_>) -> Route {
    let route = route_of(path, ctx.debug_routes);
    let is_metrics = matches!(route, Route::Metrics | Route::Status);
    match ctx.metrics {
        MetricsAccess::Elsewhere if is_metrics => Route::Unknown,
        MetricsAccess::Only if !is_metrics => Route::Unknown,
        _ => route,
    }
}

fn respond_route(
    route: Route,
    head: &Head<'_>,
    body_in_buffer: bool,
    output: &mut Buf,
    ctx: &Context<'_>,
) -> State {
    // A draining worker ends each connection after its current response.
    let keep_alive = head.keep_alive && !ctx.draining;
    let connection = connection_header(keep_alive, head.minor_version);
    let with_body = head.method != Method::Head;
    let get_like = matches!(head.method, Method::Get | Method::Head);
    let mut sink = Sink::Discard;
    let text = |output: &mut Buf, status, body: &[u8]| {
        text_response(output, ctx, status, body, connection, None, with_body)
    };
    match route {
        // The hot path: one copy of the response pre-rendered for this second.
        Route::Root
            if head.method == Method::Get
                && connection == ConnectionHeader::Omit
                && !ctx.hello.is_empty() =>
        {
            note_reply(ctx, 200, HELLO.len() as u64);
            output.extend_from_slice(ctx.hello)
        }
        Route::Root if get_like => text(output, StatusCode::Ok, HELLO),
        Route::Healthz if get_like && ctx.healthy => text(output, StatusCode::Ok, b"ok"),
        Route::Healthz if get_like => text(output, StatusCode::ServiceUnavailable, b"draining\n"),
        Route::Whoami if get_like => text(output, StatusCode::Ok, ctx.whoami),
        Route::Metrics if get_like => {
            let body = crate::metrics::render_prometheus(
                ctx.all_stats,
                ctx.master_stats,
                ctx.open_files_limit,
            );
            let ct: &[u8] = b"text/plain; version=0.0.4; charset=utf-8";
            typed_response(output, ctx, ct, body.as_bytes(), connection, with_body);
        }
        Route::Status if get_like => {
            let body = crate::metrics::render_status_json(ctx.all_stats, ctx.master_stats);
            typed_response(
                output,
                ctx,
                b"application/json",
                body.as_bytes(),
                connection,
                with_body,
            );
        }
        Route::Echo if matches!(head.method, Method::Post | Method::Put) => {
            if head.expect_continue && head.body != BodyLen::Empty && !body_in_buffer {
                ctx.stats.on_response(100);
                output.extend_from_slice(response::CONTINUE);
            }
            let length = match head.body {
                BodyLen::Length(n) => n,
                _ => 0,
            };
            note_reply(ctx, 200, length);
            ResponseHead {
                status: StatusCode::Ok,
                content_type: Some(head.content_type.unwrap_or(b"application/octet-stream")),
                framing: match head.body {
                    BodyLen::Empty => Framing::Length(0),
                    BodyLen::Length(n) => Framing::Length(n),
                    BodyLen::Chunked => Framing::Chunked,
                },
                connection,
                allow: None,
            }
            .write(output, ctx.date);
            sink = Sink::Echo;
        }
        Route::DebugCrash if get_like => std::process::abort(),
        Route::DebugHang if get_like => loop {
            // Never return to the event loop: what a worker stuck in a bad syscall looks like.
            std::hint::spin_loop();
        },
        Route::DebugSleep if get_like && head.body == BodyLen::Empty => {
            let ms = query_u64(head.query, b"ms").unwrap_or(0).min(MAX_SLEEP_MS);
            // Logged now, with the length of the body `write_slept` will send.
            if let Some(reply) = ctx.reply {
                reply.set((200, SLEPT.len() as u64));
            }
            return State::Sleeping {
                until: ctx.now + Duration::from_millis(ms),
                keep_alive,
                head_only: !with_body,
            };
        }
        // A known path with another method: 405 and the methods it does take.
        route @ (Route::Root
        | Route::Healthz
        | Route::Whoami
        | Route::DebugCrash
        | Route::DebugHang
        | Route::DebugSleep
        | Route::Metrics
        | Route::Status
        | Route::Echo) => {
            let allow = if route == Route::Echo {
                ALLOW_POST_PUT
            } else {
                ALLOW_GET_HEAD
            };
            let status = StatusCode::MethodNotAllowed;
            text_response(
                output,
                ctx,
                status,
                status.reason_body(),
                connection,
                Some(allow),
                with_body,
            )
        }
        Route::Unknown => text(
            output,
            StatusCode::NotFound,
            StatusCode::NotFound.reason_body(),
        ),
    }
    after_response(head.body, sink, keep_alive)
}

/// What the connection does once the response is written: read the request's body (into
/// `sink`), wait for the next request, or close.
fn after_response(body: BodyLen, sink: Sink, keep_alive: bool) -> State {
    match body {
        BodyLen::Empty if keep_alive => State::Head { scanned: None },
        BodyLen::Empty => State::Done,
        BodyLen::Length(remaining) => State::Body {
            remaining,
            sink,
            keep_alive,
        },
        BodyLen::Chunked => State::Chunked {
            phase: super::ChunkPhase::Size,
            total: 0,
            sink,
            keep_alive,
        },
    }
}

/// The body of `/debug/sleep`'s answer.
const SLEPT: &[u8] = b"slept\n";

/// The deferred response of `/debug/sleep`, once its time has come.
pub(super) fn write_slept(output: &mut Buf, ctx: &Context<'_>, keep_alive: bool, head_only: bool) {
    let connection = if keep_alive && !ctx.draining {
        ConnectionHeader::Omit
    } else {
        ConnectionHeader::Close
    };
    text_response(
        output,
        ctx,
        StatusCode::Ok,
        SLEPT,
        connection,
        None,
        !head_only,
    );
}

fn connection_header(keep_alive: bool, minor_version: u8) -> ConnectionHeader {
    match (keep_alive, minor_version) {
        (false, _) => ConnectionHeader::Close,
        (true, 0) => ConnectionHeader::KeepAlive,
        (true, _) => ConnectionHeader::Omit,
    }
}

/// Writes an error response with its short text body.
pub(super) fn write_error(output: &mut Buf, ctx: &Context<'_>, status: StatusCode) {
    text_response(
        output,
        ctx,
        status,
        status.reason_body(),
        ConnectionHeader::Close,
        None,
        true,
    );
}

fn text_response(
    output: &mut Buf,
    ctx: &Context<'_>,
    status: StatusCode,
    body: &[u8],
    connection: ConnectionHeader,
    allow: Option<&'static [u8]>,
    with_body: bool,
) {
    let head = ResponseHead {
        status,
        content_type: Some(b"text/plain"),
        framing: Framing::Length(body.len() as u64),
        connection,
        allow,
    };
    fixed_response(output, ctx, head, body, with_body);
}

/// Writes `head` (its framing is the body's length) and the body unless `with_body` is false
/// (HEAD), counted and noted for the access log.
fn fixed_response(
    output: &mut Buf,
    ctx: &Context<'_>,
    head: ResponseHead<'_>,
    body: &[u8],
    with_body: bool,
) {
    note_reply(ctx, head.status.code(), body.len() as u64);
    head.write(output, ctx.date);
    if with_body {
        output.extend_from_slice(body);
    }
}

/// Counts a response and notes it for the access log.
fn note_reply(ctx: &Context<'_>, status: u16, body_len: u64) {
    ctx.stats.on_response(status);
    if let Some(reply) = ctx.reply {
        reply.set((status, body_len));
    }
}

/// A 200 with the given content type (`/metrics`, `/status`).
fn typed_response(
    output: &mut Buf,
    ctx: &Context<'_>,
    content_type: &[u8],
    body: &[u8],
    connection: ConnectionHeader,
    with_body: bool,
) {
    let head = ResponseHead {
        status: StatusCode::Ok,
        content_type: Some(content_type),
        framing: Framing::Length(body.len() as u64),
        connection,
        allow: None,
    };
    fixed_response(output, ctx, head, body, with_body);
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

    #[test]
    fn debug_routes_exist_only_when_enabled() {
        assert_eq!(route_of(b"/debug/crash", false), Route::Unknown);
        assert_eq!(route_of(b"/debug/crash", true), Route::DebugCrash);
        assert_eq!(route_of(b"/debug/sleep", true), Route::DebugSleep);
    }
}
