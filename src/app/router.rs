//! The route table: which part of the application answers a request.
//!
//! A match on the path, no allocation and no syscall: the built-in routes first, then
//! httpbin's (when on), then `--root`'s files (any other path). `/` is the root's index file
//! when there is one, else the hello; which one is learnt once, when the request is answered
//! (one look-up in the file cache, not one to route and another to answer).

use super::{bin, builtin, files, health, metrics, text, App};
use crate::http::target::Form;
use crate::http::{Exchange, Method, PortRole, Reply, Request, Respond};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// `/`: the root's index file under `--root`, else the hello.
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
    /// A file under `--root` (see `files`).
    File,
    /// An httpbin endpoint (see `bin`).
    Bin(bin::Kind),
    /// `/websocket/echo` (see `websocket`).
    WebSocket,
    Unknown,
}

impl Route {
    /// The server's own endpoints, for operators and their tools (balancers' health checks,
    /// Prometheus): `--default-params`, meant for test traffic, never shapes them, and on the
    /// operators' port no control does (see `controls::answer`).
    pub(super) fn is_operator(self) -> bool {
        matches!(self, Route::Healthz | Route::Metrics | Route::Status)
    }

    /// Routes whose body is written over time (a file sent with `sendfile`, httpbin's
    /// streams), which a control that reshapes a body cannot take.
    pub(super) fn writes_over_time(self) -> bool {
        use bin::Kind;
        matches!(
            self,
            Route::File
                | Route::WebSocket
                | Route::Bin(
                    Kind::Bytes
                        | Kind::StreamBytes
                        | Kind::Stream
                        | Kind::Range
                        | Kind::Drip
                        | Kind::Sse
                )
        )
    }

    /// A query parameter this route reads itself, which keeps its meaning there instead of
    /// being taken for a control: `/drip`'s and `/sse`'s `delay`, `/bytes`' and
    /// `/stream-bytes`' `seed`, and every key of `/response-headers` (each one is a header to
    /// send). Headers and defaults still apply.
    pub(super) fn owns_parameter(self, name: &str) -> bool {
        use bin::Kind;
        match self {
            Route::Bin(Kind::Drip | Kind::Sse) => name == "delay",
            Route::Bin(Kind::Bytes | Kind::StreamBytes) => name == "seed",
            Route::Bin(Kind::ResponseHeaders) | Route::WebSocket => true,
            _ => false,
        }
    }
}

fn route_of(path: &[u8], debug_routes: bool) -> Route {
    match path {
        b"/" => Route::Root,
        b"/echo" => Route::Echo,
        b"/websocket/echo" => Route::WebSocket,
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

/// The route for a request, with `--metrics-port` applied: the operators' port serves only
/// `/metrics`, `/status` and `/healthz` (where it may be changed), and the main port then
/// does not serve the first two.
#[inline]
pub(super) fn route_for(app: &App<'_>, req: &Request<'_>, port: PortRole) -> Route {
    match req.form {
        Form::Asterisk => return Route::Server,
        Form::Authority => return Route::Unknown,
        Form::Origin | Form::Absolute => {}
    }
    let route = match route_of(req.path, app.debug_routes) {
        Route::Unknown => match app.httpbin.as_ref().and_then(|_| bin::kind_of(req.path)) {
            Some(kind) => Route::Bin(kind),
            None if app.files.is_some() => Route::File,
            None => Route::Unknown,
        },
        route => route,
    };
    let is_metrics = matches!(route, Route::Metrics | Route::Status);
    match port {
        PortRole::Main if is_metrics && app.metrics_port => Route::Unknown,
        PortRole::Admin if !is_metrics && route != Route::Healthz => Route::Unknown,
        _ => route,
    }
}

/// Whether answering needs the body's bytes (else they are framed, checked and dropped).
pub(super) fn keeps_body(route: Route, method: Method) -> bool {
    match route {
        Route::Echo => matches!(method, Method::Post | Method::Put),
        Route::Healthz => method == Method::Put,
        Route::Bin(kind) => bin::keeps_body(kind),
        _ => false,
    }
}

/// Answers a whole request on `route`.
#[inline]
pub(super) fn respond(
    app: &mut App<'_>,
    route: Route,
    req: &Request<'_>,
    ex: &Exchange<'_>,
    res: &mut dyn Respond,
) -> Reply {
    match route {
        Route::Root => match app.files.as_mut() {
            Some(store) => {
                files::respond_root(store, req, ex, res).unwrap_or_else(|| builtin::root(req, res))
            }
            None => builtin::root(req, res),
        },
        Route::File => match app.files.as_mut() {
            Some(store) => files::respond(store, req, ex, res),
            None => builtin::not_found(req, res),
        },
        Route::Bin(kind) => match app.httpbin.as_ref() {
            Some(bin) => bin::respond(kind, req, ex, res, bin),
            None => builtin::not_found(req, res),
        },
        Route::Healthz if req.method != Method::Options => {
            health::respond(app.master_stats, app.admin_token.as_ref(), req, ex, res)
        }
        Route::Metrics | Route::Status if req.method.is_get_like() => {
            metrics::respond(app, route == Route::Metrics, res)
        }
        Route::Echo => builtin::echo(req, res),
        Route::WebSocket => super::websocket::respond(&app.websocket, req, res),
        Route::Whoami => builtin::whoami(&app.whoami, req, res),
        Route::DebugCrash | Route::DebugHang | Route::DebugSleep if req.method.is_get_like() => {
            builtin::debug(route, req, ex)
        }
        Route::Server => text::options(res, builtin::ALLOW_SERVER),
        Route::Unknown => builtin::unknown(req, res),
        route => text::other_method(req, res, allowed(route)),
    }
}

/// The methods a route takes, for `Allow`.
fn allowed(route: Route) -> &'static [u8] {
    match route {
        Route::Echo => builtin::ALLOW_POST_PUT,
        Route::Healthz => health::ALLOW,
        Route::Server => builtin::ALLOW_SERVER,
        _ => builtin::ALLOW_GET_HEAD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_routes_exist_only_when_enabled() {
        assert_eq!(route_of(b"/debug/crash", false), Route::Unknown);
        assert_eq!(route_of(b"/debug/crash", true), Route::DebugCrash);
        assert_eq!(route_of(b"/debug/sleep", true), Route::DebugSleep);
    }
}
