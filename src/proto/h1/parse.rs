//! The request head: httparse over the read buffer, then the RFC 9110/9112 rules.
//!
//! Sans-IO and three-way: `Ok(None)` is "need more bytes" (never an error), `Ok(Some((head,
//! consumed)))` a whole head, `Err(reject)` a request that gets an error status and a close.

use std::mem::MaybeUninit;

use httparse::{Header, Status};

use super::Limits;
use crate::config::MAX_HEADERS;
use crate::http::chars::is_tchar;
use crate::http::target::{self, Form, Target};
use crate::http::{FieldLines, Method, Request, Version};

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLen {
    Empty,
    Length(u64),
    Chunked,
}

/// A parsed request head; borrows the bytes it was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct Head<'b> {
    /// The request as a handler sees it (its body still empty).
    pub request: Request<'b>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (and for 1.2–1.9, treated as 1.1, RFC 9110 §2.5).
    pub minor_version: u8,
    pub keep_alive: bool,
    pub body: BodyLen,
    pub expect_continue: bool,
    /// `Connection` names `upgrade`: the request may ask to switch protocols (h2c).
    pub connection_upgrade: bool,
}

/// Why a body is too large (413), counted by cause in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooLarge {
    /// Content-Length over `--max-body-bytes`.
    Declared,
    /// A chunked body grew over `--max-body-bytes`.
    Chunked,
    /// The body would not fit the worker's whole memory budget.
    Budget,
}

/// Why a request is refused; each maps to one status, and the connection closes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// 400: malformed syntax or ambiguous framing.
    BadRequest,
    /// 413: the body is larger than a limit.
    PayloadTooLarge(TooLarge),
    /// 414: the request-target is longer than the limit.
    UriTooLong,
    /// 431: the head is larger than the limit or has too many fields.
    HeadTooLarge,
    /// 501: a method or a transfer coding we do not implement.
    NotImplemented,
    /// 505: a major HTTP version other than 1.
    VersionNotSupported,
}

/// Where the blank line ending a head is, scanning from `from` (the caller passes where the
/// previous scan stopped, minus 3, so a slow client cannot make re-scanning quadratic).
/// Returns the index just past the blank line.
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match buf.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// What to say about a head that is not complete yet but already too long: 414 when the
/// request-target alone is over its limit (as a complete head would be told), else 431.
pub fn check_partial(buf: &[u8], limits: &Limits) -> Result<(), Reject> {
    if buf.len() < limits.max_head_bytes {
        return Ok(());
    }
    let window = &buf[..limits.max_head_bytes];
    let line = match window.iter().position(|&b| b == b'\n') {
        Some(end) => &window[..end],
        None => window,
    };
    let target_len = line.split(|&b| b == b' ').nth(1).map_or(0, <[u8]>::len);
    if target_len > limits.max_uri_bytes {
        return Err(Reject::UriTooLong);
    }
    Err(Reject::HeadTooLarge)
}

/// Parses one request head from the start of `buf`.
///
/// # Errors
/// A [`Reject`] for anything malformed, ambiguous or over a limit.
pub fn parse_head<'b>(buf: &'b [u8], limits: &Limits) -> Result<Option<(Head<'b>, usize)>, Reject> {
    let mut headers = [const { MaybeUninit::<Header<'b>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    // Only the first `max_head_bytes` are ever judged, so the verdict on an oversized head does
    // not depend on how much of it had arrived.
    let window = &buf[..buf.len().min(limits.max_head_bytes)];
    let consumed = match req.parse_with_uninit_headers(window, &mut headers) {
        Ok(Status::Complete(n)) => n,
        Ok(Status::Partial) => return check_partial(buf, limits).map(|()| None),
        Err(httparse::Error::TooManyHeaders) => return Err(Reject::HeadTooLarge),
        // Whether a bad version is 505, 400 or a 1.x to treat as 1.1 depends on the whole
        // request line: wait for it.
        Err(httparse::Error::Version) if !window.contains(&b'\n') => {
            return check_partial(buf, limits).map(|()| None)
        }
        Err(httparse::Error::Version) => return parse_other_version(buf, window, limits),
        Err(_) => return Err(Reject::BadRequest),
    };
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(Reject::BadRequest);
    };
    let line = RequestLine {
        method: method.as_bytes(),
        target: target.as_bytes(),
        minor_version,
    };
    interpret(line, req.headers, &buf[..consumed], limits).map(|head| Some((head, consumed)))
}

/// The three parts of a request line.
struct RequestLine<'b> {
    method: &'b [u8],
    target: &'b [u8],
    minor_version: u8,
}

/// A request line whose version httparse does not take (it knows only 1.0 and 1.1): a 1.x
/// with another minor digit is parsed here and treated as 1.1 (RFC 9110 §2.5); another major
/// version with the `HTTP/d.d` syntax is 505; anything else is 400.
fn parse_other_version<'b>(
    buf: &'b [u8],
    window: &'b [u8],
    limits: &Limits,
) -> Result<Option<(Head<'b>, usize)>, Reject> {
    // httparse skips empty lines before a request line (RFC 9112 §2.2); so do we.
    let skipped = window
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let rest = &window[skipped..];
    // The newline the caller saw may have been one of the skipped blank lines.
    let Some(line_end) = rest.iter().position(|&b| b == b'\n') else {
        return check_partial(buf, limits).map(|()| None);
    };
    let line = rest[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&rest[..line_end]);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reject::BadRequest);
    };
    let (major, minor) = match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            (*major, *minor)
        }
        _ => return Err(Reject::BadRequest),
    };
    if major != b'1' {
        return Err(Reject::VersionNotSupported);
    }
    // httparse already accepted the method and target before it reached the version, but
    // check them as it does all the same: this path must not be laxer.
    let target_ok = !target.is_empty()
        && target
            .iter()
            .all(|&b| (0x21..0x7f).contains(&b) || b >= 0x80)
        && std::str::from_utf8(target).is_ok();
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) || !target_ok {
        return Err(Reject::BadRequest);
    }
    debug_assert!(minor > b'1', "httparse takes 1.0 and 1.1");
    let fields_start = skipped + line_end + 1;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let consumed = match httparse::parse_headers(&window[fields_start..], &mut headers) {
        Ok(Status::Complete((n, _))) => fields_start + n,
        Ok(Status::Partial) => return check_partial(buf, limits).map(|()| None),
        Err(httparse::Error::TooManyHeaders) => return Err(Reject::HeadTooLarge),
        Err(_) => return Err(Reject::BadRequest),
    };
    let count = headers.iter().take_while(|h| !h.name.is_empty()).count();
    let line = RequestLine {
        method,
        target,
        minor_version: 1,
    };
    interpret(line, &headers[..count], &buf[..consumed], limits).map(|head| Some((head, consumed)))
}

/// The rules on a syntactically whole head: limits, method, target form, fields, framing.
/// Inlined so the `Head` is built where the caller returns it, not copied out of a frame.
#[inline(always)]
fn interpret<'b>(
    line: RequestLine<'b>,
    headers: &[Header<'b>],
    raw: &'b [u8],
    limits: &Limits,
) -> Result<Head<'b>, Reject> {
    if line.target.len() > limits.max_uri_bytes {
        return Err(Reject::UriTooLong);
    }
    if raw.len() > limits.max_head_bytes {
        return Err(Reject::HeadTooLarge);
    }
    let method = Method::from_token(line.method).ok_or(Reject::NotImplemented)?;
    let Target {
        form,
        path,
        query,
        authority,
    } = target::parse(line.target).ok_or(Reject::BadRequest)?;
    // Each form only where RFC 9112 §3.2 allows it.
    let form_ok = match form {
        Form::Asterisk => method == Method::Options,
        Form::Authority => method == Method::Connect,
        Form::Origin | Form::Absolute => method != Method::Connect,
    };
    if !form_ok {
        return Err(Reject::BadRequest);
    }
    let minor_version = line.minor_version;
    let fields = read_fields(headers, minor_version, limits)?;
    let keep_alive = match minor_version {
        1 => !fields.close,
        _ => fields.keep_alive && !fields.close,
    };
    Ok(Head {
        request: Request {
            method,
            path,
            query,
            form,
            // RFC 9112 §3.2.2: with an absolute-form target, the target's authority wins.
            authority: authority.or(fields.host),
            version: if minor_version == 0 {
                Version::Http10
            } else {
                Version::Http11
            },
            content_type: fields.content_type,
            marked: fields.marked,
            fields: FieldLines::Head(raw),
            body: &[],
        },
        minor_version,
        keep_alive,
        body: fields.body,
        // RFC 9110 §10.1.1: a 1.0 client's expectation is ignored.
        expect_continue: fields.expect_continue && minor_version == 1,
        connection_upgrade: fields.upgrade,
    })
}

/// The header facts the response depends on.
struct Fields<'b> {
    body: BodyLen,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    upgrade: bool,
    content_type: Option<&'b [u8]>,
    host: Option<&'b [u8]>,
    /// A field's name starts with `Limits::marker`.
    marked: bool,
}

#[inline(always)]
fn read_fields<'b>(
    headers: &[Header<'b>],
    minor_version: u8,
    limits: &Limits,
) -> Result<Fields<'b>, Reject> {
    let mut hosts = 0;
    let mut length: Option<u64> = None;
    let mut codings = Codings::default();
    let mut f = Fields {
        body: BodyLen::Empty,
        close: false,
        keep_alive: false,
        expect_continue: false,
        upgrade: false,
        content_type: None,
        host: None,
        marked: false,
    };
    let marker = limits.marker;
    for h in headers {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            // RFC 9112 §3.2: an invalid Host value MUST get 400.
            if !target::is_valid_host(h.value) {
                return Err(Reject::BadRequest);
            }
            f.host = Some(h.value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_content_length(h.value).ok_or(Reject::BadRequest)?;
            // Repeated Content-Length fields must agree (RFC 9112 §6.3 rule 5).
            if length.is_some_and(|prev| prev != n) {
                return Err(Reject::BadRequest);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            codings.add(h.value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                f.close |= token.eq_ignore_ascii_case(b"close");
                f.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                f.upgrade |= token.eq_ignore_ascii_case(b"upgrade");
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            f.expect_continue = h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case(b"content-type") {
            f.content_type = Some(h.value);
        } else if name.len() > marker.len()
            && !marker.is_empty()
            // The first letter alone rules out nearly every other field, cheaply.
            && name[0] | 0x20 == marker[0]
            && name[..marker.len()].eq_ignore_ascii_case(marker)
        {
            f.marked = true;
        }
    }
    // RFC 9112 §3.2: a 1.1 request has exactly one Host.
    if hosts > 1 || (minor_version == 1 && hosts == 0) {
        return Err(Reject::BadRequest);
    }
    f.body = match (codings.seen, length) {
        // §6.3 rule 3: both framings at once is a smuggling attempt; refuse it.
        (true, Some(_)) => return Err(Reject::BadRequest),
        // §6.1: a 1.0 peer cannot use chunked framing.
        (true, None) if minor_version == 0 => return Err(Reject::BadRequest),
        (true, None) => codings.framing()?,
        (false, Some(n)) if n > limits.max_body_bytes => {
            return Err(Reject::PayloadTooLarge(TooLarge::Declared))
        }
        (false, Some(0)) | (false, None) => BodyLen::Empty,
        (false, Some(n)) => BodyLen::Length(n),
    };
    Ok(f)
}

/// The transfer codings of all Transfer-Encoding fields, in order.
#[derive(Default)]
struct Codings {
    seen: bool,
    chunked_count: u32,
    last_is_chunked: bool,
    unknown: bool,
    malformed: bool,
}

impl Codings {
    fn add(&mut self, value: &[u8]) {
        self.seen = true;
        for coding in value.split(|&b| b == b',') {
            let coding = coding.trim_ascii();
            if coding.is_empty() {
                self.malformed = true;
                continue;
            }
            let is_chunked = coding.eq_ignore_ascii_case(b"chunked");
            self.chunked_count += u32::from(is_chunked);
            self.last_is_chunked = is_chunked;
            self.unknown |= !is_chunked;
        }
    }

    /// Only `chunked`, once and last, frames a request (§6.3 rule 4: otherwise the length
    /// cannot be known, 400); a coding before it that we do not implement is 501.
    fn framing(&self) -> Result<BodyLen, Reject> {
        if self.malformed || self.chunked_count > 1 || !self.last_is_chunked {
            Err(Reject::BadRequest)
        } else if self.unknown {
            Err(Reject::NotImplemented)
        } else {
            Ok(BodyLen::Chunked)
        }
    }
}

/// Content-Length is 1*DIGIT: no sign, no spaces inside, no list, and it must fit in a u64.
/// Leading zeros are part of a valid value (`000…05` is 5), however many there are.
fn parse_content_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let zeros = value.iter().take_while(|&&d| d == b'0').count();
    value[zeros..].iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<(Head<'_>, usize)>, Reject> {
        parse_head(raw, &Limits::default())
    }

    fn body_of(raw: &[u8]) -> Result<BodyLen, Reject> {
        parse(raw).map(|h| h.expect("complete head").0.body)
    }

    #[test]
    fn simple_get() {
        let raw = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\nrest";
        let (head, n) = parse(raw).unwrap().unwrap();
        assert_eq!(n, raw.len() - 4);
        assert_eq!(head.request.method, Method::Get);
        assert_eq!(head.request.path, b"/a");
        assert!(head.keep_alive);
        assert_eq!(head.body, BodyLen::Empty);
    }

    #[test]
    fn partial_is_not_an_error() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        assert!(parse(b"").unwrap().is_none());
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |raw: &[u8]| parse(raw).unwrap().unwrap().0.keep_alive;
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: TE, Close\r\n\r\n"
        ));
    }

    #[test]
    fn framing_rules() {
        let h = |extra: &str| format!("POST /echo HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
        assert_eq!(
            body_of(h("Content-Length: 5\r\n").as_bytes()),
            Ok(BodyLen::Length(5))
        );
        assert_eq!(
            body_of(h("Content-Length: 5\r\nContent-Length: 5\r\n").as_bytes()),
            Ok(BodyLen::Length(5))
        );
        assert_eq!(
            body_of(h("Transfer-Encoding: chunked\r\n").as_bytes()),
            Ok(BodyLen::Chunked)
        );
        let bad = [
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: 5, 5\r\n",
            "Content-Length: +5\r\n",
            "Content-Length: 0x5\r\n",
            "Content-Length: 99999999999999999999\r\n",
            "Content-Length: 000018446744073709551616\r\n",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked, identity\r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: ,chunked\r\n",
        ];
        for extra in bad {
            assert_eq!(
                body_of(h(extra).as_bytes()),
                Err(Reject::BadRequest),
                "{extra:?}"
            );
        }
        assert_eq!(
            body_of(h("Transfer-Encoding: gzip, chunked\r\n").as_bytes()),
            Err(Reject::NotImplemented)
        );
        assert_eq!(
            body_of(h("Content-Length: 9999999999\r\n").as_bytes()),
            Err(Reject::PayloadTooLarge(TooLarge::Declared))
        );
        // Leading zeros are valid, however many: the value is what counts.
        let zeros = format!("Content-Length: {}5\r\n", "0".repeat(21));
        assert_eq!(body_of(h(&zeros).as_bytes()), Ok(BodyLen::Length(5)));
        let zero = format!("Content-Length: {}\r\n", "0".repeat(30));
        assert_eq!(body_of(h(&zero).as_bytes()), Ok(BodyLen::Empty));
        assert_eq!(
            body_of(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Reject::BadRequest)
        );
    }

    #[test]
    fn host_rules() {
        let host = |value: &str| {
            let raw = format!("GET / HTTP/1.1\r\nHost: {value}\r\n\r\n");
            parse_head(raw.as_bytes(), &Limits::default())
                .map(|h| h.map(|(head, _)| head.request.authority.map(<[u8]>::to_vec)))
        };
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
        assert!(parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
        for bad in [
            "a b",
            "user@example.com",
            "example.com/path",
            "a:b:c",
            "[::1",
        ] {
            assert_eq!(host(bad).unwrap_err(), Reject::BadRequest, "{bad}");
        }
        for good in [
            "",
            "example.com",
            "example.com:8080",
            "[::1]:80",
            "127.0.0.1",
        ] {
            assert_eq!(host(good), Ok(Some(Some(good.as_bytes().to_vec()))));
        }
        // The absolute-form target's authority wins over Host (RFC 9112 §3.2.2).
        let (head, _) = parse(b"GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (head.request.authority, head.request.path),
            (Some(&b"a.example"[..]), &b"/x"[..])
        );
        assert_eq!(
            parse(b"GET http:///echo HTTP/1.1\r\nHost: x\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
    }

    #[test]
    fn methods_and_forms() {
        let method = |m: &str, target: &str| {
            parse(format!("{m} {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .map(|h| h.unwrap().0.request.method)
        };
        assert_eq!(method("PATCH", "/"), Ok(Method::Patch));
        assert_eq!(method("OPTIONS", "*"), Ok(Method::Options));
        assert_eq!(method("CONNECT", "example.com:443"), Ok(Method::Connect));
        for unknown in ["BREW", "get", "PROPFIND"] {
            assert_eq!(
                method(unknown, "/"),
                Err(Reject::NotImplemented),
                "{unknown}"
            );
        }
        for (m, target) in [
            ("GET", "*"),
            ("CONNECT", "/"),
            ("GET", "example.com:443"),
            ("GET", "/a#b"),
        ] {
            assert_eq!(method(m, target), Err(Reject::BadRequest), "{m} {target}");
        }
    }

    #[test]
    fn versions_and_syntax() {
        for other in [
            &b"GET / HTTP/2.0\r\n\r\n"[..],
            b"GET / HTTP/0.9\r\n\r\n",
            b"GET / HTTP/3.1\r\n\r\n",
        ] {
            assert_eq!(parse(other).unwrap_err(), Reject::VersionNotSupported);
        }
        // A 1.x minor version we do not know is served as 1.1 (RFC 9110 §2.5).
        let (head, n) = parse(b"\r\nGET /x?q HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\nnext")
            .unwrap()
            .unwrap();
        assert_eq!((head.minor_version, head.keep_alive), (1, false));
        assert_eq!(
            (head.request.path, head.request.query, n),
            (&b"/x"[..], &b"q"[..], 51)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.9\r\n\r\n").unwrap_err(),
            Reject::BadRequest,
            "still 1.1 rules: Host is required"
        );
        assert!(parse(b"GET / HTTP/1.2\r\nHost: x\r\n").unwrap().is_none());
        for bad in [
            &b"GET / FOO\r\n\r\n"[..],
            b"GET / HTTP/2\r\n\r\n",
            b"GET / HTTP/1.10\r\n\r\n",
            b"GET  / HTTP/1.2\r\nHost: x\r\n\r\n",
            b"G(T / HTTP/1.2\r\nHost: x\r\n\r\n",
            b"GET / HTTP/1.2\r\nHost : x\r\n\r\n",
            b"POST /echo ST /echo HTTP/1.1\r\nHost: x\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n",
        ] {
            assert_eq!(
                parse(bad).unwrap_err(),
                Reject::BadRequest,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // An incomplete line is not judged yet.
        assert!(parse(b"GET / HTTP/2.").unwrap().is_none());
        // Found by the fuzzer: the only newline is in the blank lines before the request line,
        // which is not complete yet.
        assert!(parse(b"\r\nPUT /i HTTP/1.5").unwrap().is_none());
        assert!(parse(b"\r\nPUT /i HTTP/1.5\r\nHost: x\r\n")
            .unwrap()
            .is_none());
    }

    #[test]
    fn limits() {
        let limits = Limits {
            max_head_bytes: 64,
            max_uri_bytes: 32,
            ..Limits::default()
        };
        let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(40));
        assert_eq!(
            parse_head(long_uri.as_bytes(), &limits).unwrap_err(),
            Reject::UriTooLong
        );
        let partial_uri = format!("GET /{}", "a".repeat(80));
        assert_eq!(
            parse_head(partial_uri.as_bytes(), &limits).unwrap_err(),
            Reject::UriTooLong
        );
        let big_head = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n", "b".repeat(80));
        assert_eq!(
            parse_head(big_head.as_bytes(), &limits).unwrap_err(),
            Reject::HeadTooLarge
        );
        let many = format!(
            "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS)
        );
        assert_eq!(parse(many.as_bytes()).unwrap_err(), Reject::HeadTooLarge);
    }

    #[test]
    fn head_end_scan() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\n", 0), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\n", 0), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\n", 14), Some(18));
        assert_eq!(find_head_end(b"ab", 5), None);
    }
}
