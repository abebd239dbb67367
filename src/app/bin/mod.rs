//! The httpbin routes: request inspection and response shaping, compatible with httpbin and
//! go-httpbin, at the speed of the rest of the server.
//!
//! [`kind_of`] maps a path to a [`Kind`] (cheap: a match on the first segment, tried only when
//! no built-in route matched); [`respond`] checks the method, adds httpbin's CORS headers and
//! hands the request to its family, one file each:
//! - [`inspect`]: `/get`, `/post`…, `/anything`, `/headers`, `/ip`, `/user-agent`, `/uuid`,
//!   `/hostname`, `/dump/request`, `/delay/{n}`;
//! - [`status`]: `/status/{codes}`, `/unstable`, the redirects;
//! - [`auth`]: cookies, basic, bearer and digest authentication;
//! - [`shape`]: `/response-headers`, `/cache`, `/etag`, compression, static pages and images,
//!   `/links`, `/base64`;
//! - [`data`]: `/bytes`, `/stream-bytes`, `/stream`, `/range`, `/drip`, `/sse`;
//! - beyond httpbin, what a proxy in front did to a request and its connection: [`raw`]
//!   (`/raw`, the head byte for byte) and [`introspect`] (`/inspect`, the request, its
//!   connection, the worker and the kernel's TCP figures as JSON), with the forwarding headers
//!   parsed by [`forwarded`].
//!
//! Where httpbin (Python) and go-httpbin disagree, the shapes follow httpbin (what most client
//! test suites were written against) and the limits go-httpbin (400 past them, not a silent
//! clamp); docs/httpbin.md lists each choice.

mod auth;
mod data;
mod digest;
pub mod forms;
pub(crate) mod forwarded;
mod inspect;
mod introspect;
pub(crate) mod json;
pub mod pairs;
pub(crate) mod params;
mod raw;
mod reply;
pub(crate) mod request;
mod shape;
mod status;

use std::cell::RefCell;

use self::reply::Resp;
use self::request::Request;
use crate::config::HttpbinOptions;
use crate::http::{self, Exchange, Method, Reply, Respond};
use crate::ids::WorkerId;

/// The httpbin routes of a worker: their options, and scratch space reused by every request,
/// so an echo allocates nothing in steady state. The scratch space is lent to a renderer
/// while the answer that uses it is written (a `RefCell`: both belong to the one request).
#[derive(Debug)]
pub struct Httpbin {
    pub options: HttpbinOptions,
    /// The worker answering, for `/inspect`.
    worker: WorkerId,
    scratch: RefCell<reply::Scratch>,
}

impl Httpbin {
    pub fn new(options: HttpbinOptions, worker: WorkerId) -> Httpbin {
        Httpbin {
            options,
            worker,
            scratch: RefCell::default(),
        }
    }
}

/// Which httpbin endpoint a path names (its parameters are parsed when it is answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Anything,
    Headers,
    Ip,
    UserAgent,
    Uuid,
    Hostname,
    DumpRequest,
    Delay,
    Status,
    Unstable,
    Redirect,
    RelativeRedirect,
    AbsoluteRedirect,
    RedirectTo,
    Cookies,
    CookiesSet,
    CookiesDelete,
    BasicAuth,
    HiddenBasicAuth,
    Bearer,
    DigestAuth,
    ResponseHeaders,
    Cache,
    Etag,
    Gzip,
    Deflate,
    Brotli,
    Html,
    JsonSample,
    Xml,
    Robots,
    Deny,
    Utf8,
    Image,
    Links,
    Base64,
    Bytes,
    StreamBytes,
    Stream,
    Range,
    Drip,
    Sse,
    /// `/raw`: ours, not httpbin's.
    Raw,
    /// `/inspect`: ours, not httpbin's.
    Inspect,
}

/// The endpoint for `path`, if it is one. Paths with parameters (`/status/418`) match on
/// their first segment; their family checks the rest, so `/status/` or `/bytes/x` get a 400
/// or 404 from the family that knows why.
pub fn kind_of(path: &[u8]) -> Option<Kind> {
    let rest = path.strip_prefix(b"/")?;
    let (first, more) = match rest.iter().position(|&b| b == b'/') {
        Some(i) => (&rest[..i], true),
        None => (rest, false),
    };
    Some(match (first, more) {
        (b"get", false) => Kind::Get,
        (b"post", false) => Kind::Post,
        (b"put", false) => Kind::Put,
        (b"patch", false) => Kind::Patch,
        (b"delete", false) => Kind::Delete,
        (b"anything", _) => Kind::Anything,
        (b"headers", false) => Kind::Headers,
        (b"ip", false) => Kind::Ip,
        (b"user-agent", false) => Kind::UserAgent,
        (b"uuid", false) => Kind::Uuid,
        (b"hostname", false) => Kind::Hostname,
        (b"dump", true) if path == b"/dump/request" => Kind::DumpRequest,
        (b"delay", true) => Kind::Delay,
        // The exact `/status` is the server's own (metrics); `/status/...` is httpbin's.
        (b"status", true) => Kind::Status,
        (b"unstable", false) => Kind::Unstable,
        (b"redirect", true) => Kind::Redirect,
        (b"relative-redirect", true) => Kind::RelativeRedirect,
        (b"absolute-redirect", true) => Kind::AbsoluteRedirect,
        (b"redirect-to", false) => Kind::RedirectTo,
        (b"cookies", false) => Kind::Cookies,
        (b"cookies", true) if path.starts_with(b"/cookies/set") => Kind::CookiesSet,
        (b"cookies", true) if path == b"/cookies/delete" => Kind::CookiesDelete,
        (b"basic-auth", true) => Kind::BasicAuth,
        (b"hidden-basic-auth", true) => Kind::HiddenBasicAuth,
        (b"bearer", false) => Kind::Bearer,
        (b"digest-auth", true) => Kind::DigestAuth,
        (b"response-headers", false) => Kind::ResponseHeaders,
        (b"cache", _) => Kind::Cache,
        (b"etag", true) => Kind::Etag,
        (b"gzip", false) => Kind::Gzip,
        (b"deflate", false) => Kind::Deflate,
        (b"brotli", false) => Kind::Brotli,
        (b"html", false) => Kind::Html,
        (b"json", false) => Kind::JsonSample,
        (b"xml", false) => Kind::Xml,
        (b"robots.txt", false) => Kind::Robots,
        (b"deny", false) => Kind::Deny,
        (b"encoding", true) if path == b"/encoding/utf8" => Kind::Utf8,
        (b"image", _) => Kind::Image,
        (b"links", true) => Kind::Links,
        (b"base64", true) => Kind::Base64,
        (b"bytes", true) => Kind::Bytes,
        (b"stream-bytes", true) => Kind::StreamBytes,
        (b"stream", true) => Kind::Stream,
        (b"range", true) => Kind::Range,
        (b"drip", false) => Kind::Drip,
        (b"sse", false) => Kind::Sse,
        (b"raw", false) => Kind::Raw,
        (b"inspect", false) => Kind::Inspect,
        _ => return None,
    })
}

/// The methods an endpoint takes, for `Allow` and 405; `None` for any method (most
/// endpoints, as in go-httpbin: a client's PUT to `/status/500` gets its 500).
fn allowed(kind: Kind) -> Option<&'static [u8]> {
    match kind {
        Kind::Get | Kind::Utf8 => Some(b"GET, HEAD, OPTIONS"),
        Kind::Post => Some(b"POST, OPTIONS"),
        Kind::Put => Some(b"PUT, OPTIONS"),
        Kind::Patch => Some(b"PATCH, OPTIONS"),
        Kind::Delete => Some(b"DELETE, OPTIONS"),
        _ => None,
    }
}

fn method_allowed(kind: Kind, method: Method) -> bool {
    match kind {
        Kind::Get | Kind::Utf8 => matches!(method, Method::Get | Method::Head),
        Kind::Post => method == Method::Post,
        Kind::Put => method == Method::Put,
        Kind::Patch => method == Method::Patch,
        Kind::Delete => method == Method::Delete,
        _ => method != Method::Connect,
    }
}

/// Whether answering needs the request body's bytes (else they are framed and dropped).
pub fn keeps_body(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Post
            | Kind::Put
            | Kind::Patch
            | Kind::Delete
            | Kind::Anything
            | Kind::Delay
            | Kind::DumpRequest
            | Kind::DigestAuth
            | Kind::Raw
    )
}

/// Answers a whole request for an httpbin endpoint.
pub(in crate::app) fn respond(
    kind: Kind,
    head: &http::Request<'_>,
    ex: &Exchange<'_>,
    res: &mut dyn Respond,
    bin: &Httpbin,
) -> Reply {
    let peer = ex.peer.addr();
    let req = Request {
        head,
        body: head.body,
        peer,
        believe_forwarding: bin.options.believes_forwarding_from(peer),
        tls: ex.tls.is_some(),
    };
    let mut r = Resp::new(req, ex, res, bin);
    if head.method == Method::Options {
        return r.preflight(allowed(kind).unwrap_or(reply::ALLOW_ANY));
    }
    if !method_allowed(kind, head.method) {
        return r.method_not_allowed(allowed(kind).unwrap_or(reply::ALLOW_ANY));
    }
    match kind {
        Kind::Get
        | Kind::Post
        | Kind::Put
        | Kind::Patch
        | Kind::Delete
        | Kind::Anything
        | Kind::Headers
        | Kind::Ip
        | Kind::UserAgent
        | Kind::Uuid
        | Kind::Hostname
        | Kind::DumpRequest
        | Kind::Delay => inspect::respond(kind, &mut r),
        Kind::Status
        | Kind::Unstable
        | Kind::Redirect
        | Kind::RelativeRedirect
        | Kind::AbsoluteRedirect
        | Kind::RedirectTo => status::respond(kind, &mut r),
        Kind::Cookies
        | Kind::CookiesSet
        | Kind::CookiesDelete
        | Kind::BasicAuth
        | Kind::HiddenBasicAuth
        | Kind::Bearer
        | Kind::DigestAuth => auth::respond(kind, &mut r),
        Kind::ResponseHeaders
        | Kind::Cache
        | Kind::Etag
        | Kind::Gzip
        | Kind::Deflate
        | Kind::Brotli
        | Kind::Html
        | Kind::JsonSample
        | Kind::Xml
        | Kind::Robots
        | Kind::Deny
        | Kind::Utf8
        | Kind::Image
        | Kind::Links
        | Kind::Base64 => shape::respond(kind, &mut r),
        Kind::Bytes | Kind::StreamBytes | Kind::Stream | Kind::Range | Kind::Drip | Kind::Sse => {
            data::respond(kind, &mut r)
        }
        Kind::Raw => raw::respond(&mut r),
        Kind::Inspect => introspect::respond(&mut r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_to_kinds() {
        assert_eq!(kind_of(b"/get"), Some(Kind::Get));
        assert_eq!(kind_of(b"/get/"), None);
        assert_eq!(kind_of(b"/anything/a/b"), Some(Kind::Anything));
        assert_eq!(kind_of(b"/status"), None, "the server's own /status");
        assert_eq!(kind_of(b"/status/418"), Some(Kind::Status));
        assert_eq!(kind_of(b"/status/"), Some(Kind::Status));
        assert_eq!(kind_of(b"/cookies/set/a/b"), Some(Kind::CookiesSet));
        assert_eq!(kind_of(b"/cookies/delete"), Some(Kind::CookiesDelete));
        assert_eq!(kind_of(b"/cookies/x"), None);
        assert_eq!(kind_of(b"/dump/request"), Some(Kind::DumpRequest));
        assert_eq!(kind_of(b"/image"), Some(Kind::Image));
        assert_eq!(kind_of(b"/robots.txt"), Some(Kind::Robots));
        assert_eq!(kind_of(b"/raw"), Some(Kind::Raw));
        assert_eq!(kind_of(b"/raw/x"), None);
        assert_eq!(kind_of(b"/inspect"), Some(Kind::Inspect));
        assert_eq!(kind_of(b"/nothing"), None);
        assert_eq!(kind_of(b""), None);
    }
}

#[cfg(test)]
mod fixtures_tests;
