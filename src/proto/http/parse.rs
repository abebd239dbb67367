//! The request head: httparse over the read buffer, then the RFC 9112 framing rules.
//!
//! Sans-IO and three-way: `Ok(None)` is "need more bytes" (never an error), `Ok(Some((head,
//! consumed)))` a whole head, `Err(reject)` a request that gets an error status and a close.

use std::mem::MaybeUninit;

use httparse::{Header, Request, Status};

use super::Limits;
use crate::config::MAX_HEADERS;

/// The methods the routes distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Other,
}

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLen {
    Empty,
    Length(u64),
    Chunked,
}

/// A parsed request head; borrows the read buffer for as long as the response is being chosen.
#[derive(Debug)]
pub struct Head<'b> {
    pub method: Method,
    /// The path of the target, without the query, for origin- and absolute-form targets.
    pub path: &'b [u8],
    /// The query string after `?` (empty if none).
    pub query: &'b [u8],
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub keep_alive: bool,
    pub body: BodyLen,
    pub expect_continue: bool,
    pub content_type: Option<&'b [u8]>,
}

/// Why a request is refused; each maps to one status, and the connection closes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// 400: malformed syntax or ambiguous framing.
    BadRequest,
    /// 413: the declared body is larger than the limit.
    PayloadTooLarge,
    /// 414: the request-target is longer than the limit.
    UriTooLong,
    /// 431: the head is larger than the limit or has too many fields.
    HeadTooLarge,
    /// 501: a transfer coding we do not implement.
    NotImplemented,
    /// 505: an HTTP version other than 1.0 and 1.1.
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
    let mut req = Request::new(&mut []);
    // Only the first `max_head_bytes` are ever judged, so the verdict on an oversized head does
    // not depend on how much of it had arrived.
    let window = &buf[..buf.len().min(limits.max_head_bytes)];
    let consumed = match req.parse_with_uninit_headers(window, &mut headers) {
        Ok(Status::Complete(n)) => n,
        Ok(Status::Partial) => return check_partial(buf, limits).map(|()| None),
        Err(httparse::Error::TooManyHeaders) => return Err(Reject::HeadTooLarge),
        // Whether a bad version is 505 or 400 depends on the whole request line: wait for it.
        Err(httparse::Error::Version) if !window.contains(&b'\n') => {
            return check_partial(buf, limits).map(|()| None)
        }
        Err(httparse::Error::Version) if is_other_version(window) => {
            return Err(Reject::VersionNotSupported)
        }
        Err(_) => return Err(Reject::BadRequest),
    };
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(Reject::BadRequest);
    };
    if target.len() > limits.max_uri_bytes {
        return Err(Reject::UriTooLong);
    }
    if consumed > limits.max_head_bytes {
        return Err(Reject::HeadTooLarge);
    }
    let (path, query) = split_target(target.as_bytes()).ok_or(Reject::BadRequest)?;
    let fields = read_fields(req.headers, minor_version, limits)?;
    let keep_alive = match minor_version {
        1 => !fields.close,
        _ => fields.keep_alive && !fields.close,
    };
    let head = Head {
        method: match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            _ => Method::Other,
        },
        path,
        query,
        minor_version,
        keep_alive,
        body: fields.body,
        expect_continue: fields.expect_continue && minor_version == 1,
        content_type: fields.content_type,
    };
    Ok(Some((head, consumed)))
}

/// The header facts the response depends on.
struct Fields<'b> {
    body: BodyLen,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    content_type: Option<&'b [u8]>,
}

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
        content_type: None,
    };
    for h in headers {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
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
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            f.expect_continue = h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case(b"content-type") {
            f.content_type = Some(h.value);
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
        (false, Some(n)) if n > limits.max_body_bytes => return Err(Reject::PayloadTooLarge),
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
fn parse_content_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The path and the query (after the first `?`, empty if none) of an origin-form (`/a?b`),
/// absolute-form (`http://h/a?b`) or asterisk-form (`*`) target; `None` for anything else.
fn split_target(target: &[u8]) -> Option<(&[u8], &[u8])> {
    if target == b"*" {
        return Some((target, b""));
    }
    let (before, query) = match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &b""[..]),
    };
    if before.first() == Some(&b'/') {
        return Some((before, query));
    }
    let scheme_end = before.windows(3).position(|w| w == b"://")?;
    let scheme = &before[..scheme_end];
    if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
        return None;
    }
    let authority_and_path = &before[scheme_end + 3..];
    let path = match authority_and_path.iter().position(|&b| b == b'/') {
        Some(i) => &authority_and_path[i..],
        None => b"/",
    };
    Some((path, query))
}

/// True if the (complete) request line is `METHOD TARGET HTTP/<digits>.<digits>`: a
/// well-formed but unsupported version (505) rather than a malformed line (400).
fn is_other_version(buf: &[u8]) -> bool {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let line = buf[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&buf[..line_end]);
    let tokens: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [_, _, version] = tokens[..] else {
        return false;
    };
    let Some(number) = version.strip_prefix(b"HTTP/") else {
        return false;
    };
    let mut parts = number.splitn(2, |&b| b == b'.');
    let digits =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    digits(parts.next()) && digits(parts.next())
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
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.path, b"/a");
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
            Err(Reject::PayloadTooLarge)
        );
        assert_eq!(
            body_of(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Reject::BadRequest)
        );
    }

    #[test]
    fn host_rules() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
        assert!(parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn versions_and_syntax() {
        assert_eq!(
            parse(b"GET / HTTP/2.0\r\n\r\n").unwrap_err(),
            Reject::VersionNotSupported
        );
        assert_eq!(
            parse(b"GET / HTTP/1.2\r\n\r\n").unwrap_err(),
            Reject::VersionNotSupported
        );
        assert_eq!(parse(b"GET / FOO\r\n\r\n").unwrap_err(), Reject::BadRequest);
        assert_eq!(
            parse(b"GET / HTTP/2\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
        assert_eq!(
            parse(b"POST /echo ST /echo HTTP/1.1\r\nHost: x\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
        // An incomplete line is not judged yet.
        assert!(parse(b"GET / HTTP/2.").unwrap().is_none());
        assert_eq!(
            parse(b"G(T / HTTP/1.1\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n").unwrap_err(),
            Reject::BadRequest
        );
    }

    #[test]
    fn targets() {
        let split = |t: &'static [u8]| split_target(t);
        assert_eq!(split(b"/"), Some((&b"/"[..], &b""[..])));
        assert_eq!(split(b"/echo?a=1?b"), Some((&b"/echo"[..], &b"a=1?b"[..])));
        assert_eq!(split(b"/x?y://z/w"), Some((&b"/x"[..], &b"y://z/w"[..])));
        assert_eq!(split(b"*"), Some((&b"*"[..], &b""[..])));
        assert_eq!(split(b"*?x"), None);
        assert_eq!(split(b"?x"), None);
        assert_eq!(
            split(b"http://example.com/echo?x"),
            Some((&b"/echo"[..], &b"x"[..]))
        );
        assert_eq!(split(b"HTTPS://example.com"), Some((&b"/"[..], &b""[..])));
        assert_eq!(
            split(b"http://example.com?q/r"),
            Some((&b"/"[..], &b"q/r"[..]))
        );
        assert_eq!(split(b"ftp://x/"), None);
        assert_eq!(split(b"example.com:80"), None);
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
