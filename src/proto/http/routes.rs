//! The routes: what each whole request gets, written into the output.

use std::time::Duration;

use super::parse::{Head, Method};
use super::produce::{Body, Producer};
use super::response::{ConnectionHeader, Framing, ResponseHead, StatusCode};
use super::target::Form;
use crate::buffer::Buf;
use crate::memory::{Grant, Use};
use crate::output::Output;
use crate::proto::{Context, MetricsAccess};

/// The longest `/debug/sleep` accepted, so a test aid cannot park a connection for ever.
const MAX_SLEEP_MS: u64 = 60_000;

/// Room kept for a response head when deciding whether its body fits the write buffer: our
/// heads are a few hundred bytes plus a copied Content-Type.
const HEAD_ROOM: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Root,
    Echo,
    Healthz,
    Whoami,
    DebugCrash,
    DebugHang,
    DebugSleep,
    Metrics,
    Status,
    /// `OPTIONS *`: the server as a whole.
    Server,
    /// A file under `--root` (see `files.rs`).
    File,
    /// An httpbin endpoint (see `bin/`).
    Bin(super::bin::Kind),
    Unknown,
}

/// What answering a request came to.
#[derive(Debug)]
pub(super) enum Reply {
    /// The response is written.
    Sent,
    /// A response written over time (delayed, paced or generated).
    Produce(Box<Producer>),
    /// The response body needs memory the budget cannot give yet; nothing was written, and the
    /// connection is queued for it.
    NeedMemory,
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

const ALLOW_GET_HEAD: &[u8] = b"GET, HEAD, OPTIONS";
const ALLOW_POST_PUT: &[u8] = b"POST, PUT, OPTIONS";
/// What `OPTIONS *` says the server as a whole implements.
const ALLOW_SERVER: &[u8] = b"GET, HEAD, POST, PUT, DELETE, OPTIONS";

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

/// The route for a request, with `--metrics-port` applied: the metrics port serves only
/// `/metrics`, `/status` and `/healthz` (where it may be changed), and the main port then
/// does not serve the first two.
pub(super) fn route_for(head: &Head<'_>, ctx: &Context<'_>) -> Route {
    match head.form {
        Form::Asterisk => return Route::Server,
        Form::Authority => return Route::Unknown,
        Form::Origin | Form::Absolute => {}
    }
    let route = match (route_of(head.path, ctx.debug_routes), ctx.files) {
        // Built-in routes first, then httpbin's (when on); any other path is a file under
        // --root. `/` is the root's index file when there is one, else the built-in hello.
        (Route::Unknown, files) => match ctx.httpbin.and_then(|_| super::bin::kind_of(head.path)) {
            Some(kind) => Route::Bin(kind),
            None if files.is_some() => Route::File,
            None => Route::Unknown,
        },
        (Route::Root, Some(files))
            if matches!(files.lookup(b"/", ctx.now), crate::files::Lookup::File(_)) =>
        {
            Route::File
        }
        (route, _) => route,
    };
    let is_metrics = matches!(route, Route::Metrics | Route::Status);
    match ctx.metrics {
        MetricsAccess::Elsewhere if is_metrics => Route::Unknown,
        MetricsAccess::Only if !is_metrics && route != Route::Healthz => Route::Unknown,
        _ => route,
    }
}

/// Whether answering needs the body's bytes (else they are framed, checked and dropped).
pub(super) fn keeps_body(route: Route, method: Method) -> bool {
    match route {
        Route::Echo => matches!(method, Method::Post | Method::Put),
        Route::Healthz => method == Method::Put,
        Route::Bin(kind) => super::bin::keeps_body(kind),
        _ => false,
    }
}

/// Routes whose answer is rendered for the request (all workers' figures): a pipelined run of
/// them yields the loop after each one.
pub(super) fn is_expensive(route: Route) -> bool {
    matches!(route, Route::Metrics | Route::Status)
}

/// The methods a route takes, for `Allow`.
fn allowed(route: Route) -> &'static [u8] {
    match route {
        Route::Echo => ALLOW_POST_PUT,
        Route::Healthz => super::health::ALLOW,
        Route::Server => ALLOW_SERVER,
        _ => ALLOW_GET_HEAD,
    }
}

/// The hot path, tried before the router: a keep-alive `GET /` is one copy of the response
/// pre-rendered for this second. False if this request is not that.
#[inline(always)]
pub(super) fn try_hello(
    route: Route,
    head: &Head<'_>,
    output: &mut Output,
    ctx: &Context<'_>,
) -> bool {
    let hit = route == Route::Root
        && head.method == Method::Get
        // Request controls (a query, an `X-Echo-` field) take the long way.
        && head.query.is_empty()
        && !head.echo_controls
        && head.keep_alive
        && head.minor_version == 1
        && !ctx.draining
        && !ctx.hello.is_empty();
    if hit {
        note_reply(ctx, 200, HELLO.len() as u64);
        output.bytes().extend_from_slice(ctx.hello);
    }
    hit
}

/// Writes the response to a whole request (or, for a deferred one, nothing yet);
/// `request_index` is its place on the connection, 0 for the first.
pub(super) fn respond(
    route: Route,
    head: &Head<'_>,
    body: &[u8],
    output: &mut Output,
    ctx: &Context<'_>,
    request_index: u64,
) -> Reply {
    // A draining worker ends each connection after its current response.
    let keep_alive = head.keep_alive && !ctx.draining;
    let connection = connection_header(keep_alive, head.minor_version);
    let with_body = head.method != Method::Head;
    let get_like = matches!(head.method, Method::Get | Method::Head);
    let text = |output: &mut Output, status, body: &[u8]| {
        text_response(
            output.bytes(),
            ctx,
            status,
            body,
            connection,
            None,
            with_body,
        )
    };
    if try_hello(route, head, output, ctx) {
        return Reply::Sent;
    }
    if let (Route::File, Some(files)) = (route, ctx.files) {
        return super::files::respond(head, files, output, ctx);
    }
    if let (Route::Bin(kind), Some(bin)) = (route, ctx.httpbin) {
        return super::bin::respond(kind, head, body, output, ctx, bin, request_index);
    }
    match route {
        Route::Root if get_like => text(output, StatusCode::Ok, HELLO),
        Route::Healthz if head.method != Method::Options => {
            super::health::respond(head, body, output, ctx, connection)
        }
        Route::Whoami if get_like => text(output, StatusCode::Ok, ctx.whoami),
        Route::Metrics if get_like => {
            let body = crate::metrics::render_prometheus(
                ctx.all_stats,
                ctx.master_stats,
                ctx.open_files_limit,
            );
            let ct: &[u8] = b"text/plain; version=0.0.4; charset=utf-8";
            return owned_response(output, ctx, ct, body.into_bytes(), connection, with_body);
        }
        Route::Status if get_like => {
            let body = crate::metrics::render_status_json(ctx.all_stats, ctx.master_stats);
            let ct: &[u8] = b"application/json";
            return owned_response(output, ctx, ct, body.into_bytes(), connection, with_body);
        }
        Route::Echo if matches!(head.method, Method::Post | Method::Put) => {
            return echo_response(head, body, output, ctx);
        }
        Route::DebugCrash if get_like => std::process::abort(),
        Route::DebugHang if get_like => loop {
            // Never return to the event loop: what a worker stuck in a bad syscall looks like.
            std::hint::spin_loop();
        },
        Route::DebugSleep if get_like => {
            let ms = query_u64(head.query, b"ms").unwrap_or(0).min(MAX_SLEEP_MS);
            let mut prelude = Buf::new();
            text_response(
                &mut prelude,
                ctx,
                StatusCode::Ok,
                SLEPT,
                ConnectionHeader::Omit,
                None,
                with_body,
            );
            // The few bytes of the rendered answer are not worth a reservation.
            let producer = Producer::new(
                prelude.filled().to_vec(),
                ctx.now + Duration::from_millis(ms),
                Body::Empty,
                (head.keep_alive, head.minor_version),
                0,
            );
            return Reply::Produce(Box::new(producer));
        }
        Route::Unknown if head.method == Method::Connect => {
            // No tunnels here: CONNECT is a method this server knows and does not allow.
            method_not_allowed(output, ctx, ALLOW_SERVER, connection, with_body)
        }
        Route::Unknown => text(
            output,
            StatusCode::NotFound,
            StatusCode::NotFound.reason_body(),
        ),
        route if head.method == Method::Options => {
            options_response(output, ctx, allowed(route), connection, with_body)
        }
        // A known path with another method: 405 and the methods it does take.
        route => method_not_allowed(output, ctx, allowed(route), connection, with_body),
    }
    Reply::Sent
}

/// OPTIONS on anything that exists: what it takes, and no body (RFC 9110 §9.3.7).
pub(super) fn options_response(
    output: &mut Output,
    ctx: &Context<'_>,
    allow: &'static [u8],
    connection: ConnectionHeader,
    with_body: bool,
) {
    let head = ResponseHead {
        status: StatusCode::Ok,
        content_type: None,
        framing: Framing::Length(0),
        connection,
        allow: Some(allow),
    };
    fixed_response(output.bytes(), ctx, head, b"", with_body);
}

pub(super) fn method_not_allowed(
    output: &mut Output,
    ctx: &Context<'_>,
    allow: &'static [u8],
    connection: ConnectionHeader,
    with_body: bool,
) {
    let status = StatusCode::MethodNotAllowed;
    text_response(
        output.bytes(),
        ctx,
        status,
        status.reason_body(),
        connection,
        Some(allow),
        with_body,
    );
}

/// The response head of `/echo` for a body of `len` bytes: Content-Type copied from the
/// request (else application/octet-stream).
pub(super) fn write_echo_head(head: &Head<'_>, len: usize, output: &mut Output, ctx: &Context<'_>) {
    let keep_alive = head.keep_alive && !ctx.draining;
    note_reply(ctx, 200, len as u64);
    ResponseHead {
        status: StatusCode::Ok,
        content_type: Some(head.content_type.unwrap_or(b"application/octet-stream")),
        framing: Framing::Length(len as u64),
        connection: connection_header(keep_alive, head.minor_version),
        allow: None,
    }
    .write(output.bytes(), ctx.date);
}

/// `/echo` of a body that is in the read buffer: copied into the write buffer when it fits,
/// else into memory reserved for it.
fn echo_response(head: &Head<'_>, body: &[u8], output: &mut Output, ctx: &Context<'_>) -> Reply {
    let head_room = HEAD_ROOM + head.content_type.map_or(0, <[u8]>::len);
    if body.len() + head_room <= output.inline_room() {
        write_echo_head(head, body.len(), output, ctx);
        output.bytes().extend_from_slice(body);
        return Reply::Sent;
    }
    let charge = body.len() as u64;
    match reserve_output(output, ctx, charge) {
        Room::Granted => {
            write_echo_head(head, body.len(), output, ctx);
            let unused = output.attach(body.to_vec(), 0, charge);
            ctx.budget.release(unused, Use::Output);
            Reply::Sent
        }
        Room::Wait => Reply::NeedMemory,
        Room::Refused => Reply::Sent,
    }
}

/// A response whose body was built for it (`/metrics`, `/status`): copied into the write
/// buffer when it fits, else attached as it is, once the budget has room for it.
fn owned_response(
    output: &mut Output,
    ctx: &Context<'_>,
    content_type: &[u8],
    body: Vec<u8>,
    connection: ConnectionHeader,
    with_body: bool,
) -> Reply {
    let head = ResponseHead {
        status: StatusCode::Ok,
        content_type: Some(content_type),
        framing: Framing::Length(body.len() as u64),
        connection,
        allow: None,
    };
    if !with_body || body.len() + HEAD_ROOM <= output.inline_room() {
        fixed_response(output.bytes(), ctx, head, &body, with_body);
        return Reply::Sent;
    }
    let charge = body.len() as u64;
    match reserve_output(output, ctx, charge) {
        Room::Granted => {
            note_reply(ctx, 200, charge);
            head.write(output.bytes(), ctx.date);
            let unused = output.attach(body, 0, charge);
            ctx.budget.release(unused, Use::Output);
            Reply::Sent
        }
        Room::Wait => Reply::NeedMemory,
        Room::Refused => Reply::Sent,
    }
}

/// What the budget said to a response body.
pub(super) enum Room {
    /// Reserved: write the response.
    Granted,
    /// Not yet: the connection is queued, nothing is written.
    Wait,
    /// Larger than the whole budget could ever hold: a 503 was written instead.
    Refused,
}

/// Reserves `bytes` of response body in the budget (see [`Room`]).
pub(super) fn reserve_output(output: &mut Output, ctx: &Context<'_>, bytes: u64) -> Room {
    match ctx.budget.reserve(ctx.token, bytes, Use::Output) {
        Grant::Granted => Room::Granted,
        Grant::Queued => Room::Wait,
        Grant::Never => {
            let status = StatusCode::ServiceUnavailable;
            text_response(
                output.bytes(),
                ctx,
                status,
                b"Response larger than the memory budget\n",
                ConnectionHeader::Omit,
                None,
                true,
            );
            Room::Refused
        }
    }
}

/// The body of `/debug/sleep`'s answer.
const SLEPT: &[u8] = b"slept\n";

pub(super) fn connection_header(keep_alive: bool, minor_version: u8) -> ConnectionHeader {
    match (keep_alive, minor_version) {
        (false, _) => ConnectionHeader::Close,
        (true, 0) => ConnectionHeader::KeepAlive,
        (true, _) => ConnectionHeader::Omit,
    }
}

/// Writes an error response with its short text body.
pub(super) fn write_error(output: &mut Output, ctx: &Context<'_>, status: StatusCode) {
    text_response(
        output.bytes(),
        ctx,
        status,
        status.reason_body(),
        ConnectionHeader::Close,
        None,
        true,
    );
}

pub(super) fn text_response(
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
pub(super) fn note_reply(ctx: &Context<'_>, status: u16, body_len: u64) {
    ctx.stats.on_response(status);
    if let Some(reply) = ctx.reply {
        reply.set((status, body_len));
    }
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
