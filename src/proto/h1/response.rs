//! Writing responses into the output buffer: no allocation, no formatting machinery.

use crate::buffer::Buf;

/// The statuses this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    Ok,
    PartialContent,
    MovedPermanently,
    NotModified,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PreconditionFailed,
    PayloadTooLarge,
    RangeNotSatisfiable,
    UriTooLong,
    HeadTooLarge,
    NotImplemented,
    ServiceUnavailable,
    VersionNotSupported,
    /// Any other code from 100 to 599 (httpbin's `/status/{code}`).
    Code(u16),
}

impl StatusCode {
    /// The status line of the named statuses.
    fn static_line(self) -> Option<&'static [u8]> {
        Some(match self {
            StatusCode::Ok => b"HTTP/1.1 200 OK\r\n",
            StatusCode::PartialContent => b"HTTP/1.1 206 Partial Content\r\n",
            StatusCode::MovedPermanently => b"HTTP/1.1 301 Moved Permanently\r\n",
            StatusCode::NotModified => b"HTTP/1.1 304 Not Modified\r\n",
            StatusCode::BadRequest => b"HTTP/1.1 400 Bad Request\r\n",
            StatusCode::NotFound => b"HTTP/1.1 404 Not Found\r\n",
            StatusCode::MethodNotAllowed => b"HTTP/1.1 405 Method Not Allowed\r\n",
            StatusCode::RequestTimeout => b"HTTP/1.1 408 Request Timeout\r\n",
            StatusCode::PreconditionFailed => b"HTTP/1.1 412 Precondition Failed\r\n",
            StatusCode::PayloadTooLarge => b"HTTP/1.1 413 Content Too Large\r\n",
            StatusCode::RangeNotSatisfiable => b"HTTP/1.1 416 Range Not Satisfiable\r\n",
            StatusCode::UriTooLong => b"HTTP/1.1 414 URI Too Long\r\n",
            StatusCode::HeadTooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            StatusCode::NotImplemented => b"HTTP/1.1 501 Not Implemented\r\n",
            StatusCode::ServiceUnavailable => b"HTTP/1.1 503 Service Unavailable\r\n",
            StatusCode::VersionNotSupported => b"HTTP/1.1 505 HTTP Version Not Supported\r\n",
            StatusCode::Code(_) => return None,
        })
    }

    /// Appends the status line.
    fn write_line(self, out: &mut Buf) {
        match (self.static_line(), self) {
            (Some(line), _) => out.extend_from_slice(line),
            (None, StatusCode::Code(code)) => {
                out.extend_from_slice(b"HTTP/1.1 ");
                // Three digits: a code outside 100..=599 is never made (see `from_code`).
                write_decimal(out, u64::from(code.clamp(100, 999)));
                out.extend_from_slice(b" ");
                out.extend_from_slice(reason_phrase(code));
                out.extend_from_slice(b"\r\n");
            }
            (None, _) => unreachable!("every named status has a static line"),
        }
    }

    /// The status for a numeric code from 100 to 599; `None` outside that range.
    pub fn from_code(code: u16) -> Option<StatusCode> {
        (100..=599)
            .contains(&code)
            .then_some(StatusCode::Code(code))
    }

    /// The numeric code.
    pub fn code(self) -> u16 {
        match (self.static_line(), self) {
            (_, StatusCode::Code(code)) => code,
            (Some(line), _) => line[9..12]
                .iter()
                .fold(0, |n, d| n * 10 + u16::from(d - b'0')),
            (None, _) => unreachable!("every named status has a static line"),
        }
    }

    /// The short text body of an error status.
    pub fn reason_body(self) -> &'static [u8] {
        match self {
            StatusCode::Ok => b"OK\n",
            StatusCode::PartialContent => b"Partial Content\n",
            StatusCode::MovedPermanently => b"Moved Permanently\n",
            StatusCode::NotModified => b"",
            StatusCode::BadRequest => b"Bad Request\n",
            StatusCode::NotFound => b"Not Found\n",
            StatusCode::MethodNotAllowed => b"Method Not Allowed\n",
            StatusCode::RequestTimeout => b"Request Timeout\n",
            StatusCode::PreconditionFailed => b"Precondition Failed\n",
            StatusCode::PayloadTooLarge => b"Content Too Large\n",
            StatusCode::RangeNotSatisfiable => b"Range Not Satisfiable\n",
            StatusCode::UriTooLong => b"URI Too Long\n",
            StatusCode::HeadTooLarge => b"Request Header Fields Too Large\n",
            StatusCode::NotImplemented => b"Not Implemented\n",
            StatusCode::ServiceUnavailable => b"Service Unavailable\n",
            StatusCode::VersionNotSupported => b"HTTP Version Not Supported\n",
            StatusCode::Code(_) => b"",
        }
    }
}

/// The reason phrase of a registered status code (the IANA HTTP Status Code Registry), empty
/// for an unregistered one: the phrase is optional on the wire (RFC 9112 §4).
pub fn reason_phrase(code: u16) -> &'static [u8] {
    match code {
        100 => b"Continue",
        101 => b"Switching Protocols",
        102 => b"Processing",
        103 => b"Early Hints",
        200 => b"OK",
        201 => b"Created",
        202 => b"Accepted",
        203 => b"Non-Authoritative Information",
        204 => b"No Content",
        205 => b"Reset Content",
        206 => b"Partial Content",
        207 => b"Multi-Status",
        208 => b"Already Reported",
        226 => b"IM Used",
        300 => b"Multiple Choices",
        301 => b"Moved Permanently",
        302 => b"Found",
        303 => b"See Other",
        304 => b"Not Modified",
        305 => b"Use Proxy",
        307 => b"Temporary Redirect",
        308 => b"Permanent Redirect",
        400 => b"Bad Request",
        401 => b"Unauthorized",
        402 => b"Payment Required",
        403 => b"Forbidden",
        404 => b"Not Found",
        405 => b"Method Not Allowed",
        406 => b"Not Acceptable",
        407 => b"Proxy Authentication Required",
        408 => b"Request Timeout",
        409 => b"Conflict",
        410 => b"Gone",
        411 => b"Length Required",
        412 => b"Precondition Failed",
        413 => b"Content Too Large",
        414 => b"URI Too Long",
        415 => b"Unsupported Media Type",
        416 => b"Range Not Satisfiable",
        417 => b"Expectation Failed",
        418 => b"I'm a teapot",
        421 => b"Misdirected Request",
        422 => b"Unprocessable Content",
        423 => b"Locked",
        424 => b"Failed Dependency",
        425 => b"Too Early",
        426 => b"Upgrade Required",
        428 => b"Precondition Required",
        429 => b"Too Many Requests",
        431 => b"Request Header Fields Too Large",
        451 => b"Unavailable For Legal Reasons",
        500 => b"Internal Server Error",
        501 => b"Not Implemented",
        502 => b"Bad Gateway",
        503 => b"Service Unavailable",
        504 => b"Gateway Timeout",
        505 => b"HTTP Version Not Supported",
        506 => b"Variant Also Negotiates",
        507 => b"Insufficient Storage",
        508 => b"Loop Detected",
        510 => b"Not Extended",
        511 => b"Network Authentication Required",
        _ => b"",
    }
}

/// What the `Connection` header says, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionHeader {
    /// HTTP/1.1 keep-alive: the default, so no header.
    Omit,
    /// An HTTP/1.0 client asked for keep-alive and gets it.
    KeepAlive,
    Close,
}

/// How the body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    /// No body and no length (304: a length there would have to be the 200's).
    None,
}

/// Everything in a response head besides the fixed `Server` and the `Date` from the loop.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'a> {
    pub status: StatusCode,
    pub content_type: Option<&'a [u8]>,
    pub framing: Framing,
    pub connection: ConnectionHeader,
    pub allow: Option<&'static [u8]>,
}

/// The interim response to `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The last chunk of a chunked body, with no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

impl ResponseHead<'_> {
    /// Appends the status line and headers, up to and including the blank line.
    pub fn write(&self, out: &mut Buf, date: &[u8]) {
        self.write_with(out, date, &[]);
    }

    /// Like [`ResponseHead::write`], with more fields (name, value) before `Connection`.
    pub fn write_with(&self, out: &mut Buf, date: &[u8], fields: &[(&[u8], &[u8])]) {
        self.write_groups(out, date, &[fields]);
    }

    /// Like [`ResponseHead::write_with`], the fields given in groups.
    pub fn write_groups(&self, out: &mut Buf, date: &[u8], groups: &[&[(&[u8], &[u8])]]) {
        self.status.write_line(out);
        out.extend_from_slice(b"Server: prefork-server\r\nDate: ");
        out.extend_from_slice(date);
        if let Some(ct) = self.content_type {
            out.extend_from_slice(b"\r\nContent-Type: ");
            out.extend_from_slice(ct);
        }
        match self.framing {
            Framing::Length(n) => {
                out.extend_from_slice(b"\r\nContent-Length: ");
                write_decimal(out, n);
            }
            Framing::Chunked => out.extend_from_slice(b"\r\nTransfer-Encoding: chunked"),
            Framing::None => {}
        }
        for (name, value) in groups.iter().flat_map(|g| g.iter()) {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
        }
        if let Some(allow) = self.allow {
            out.extend_from_slice(b"\r\nAllow: ");
            out.extend_from_slice(allow);
        }
        match self.connection {
            ConnectionHeader::Omit => {}
            ConnectionHeader::KeepAlive => out.extend_from_slice(b"\r\nConnection: keep-alive"),
            ConnectionHeader::Close => out.extend_from_slice(b"\r\nConnection: close"),
        }
        out.extend_from_slice(b"\r\n\r\n");
    }
}

/// Appends `data` as one chunk of a chunked body (`data` must not be empty).
pub fn write_chunk(out: &mut Buf, data: &[u8]) {
    write_chunk_size(out, data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the size line of a chunk of `len` bytes (`len` must not be 0); the caller writes
/// the data and its closing CRLF.
pub fn write_chunk_size(out: &mut Buf, len: usize) {
    write_hex(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
pub fn write_decimal(out: &mut Buf, n: u64) {
    out.extend_from_slice(decimal(n, &mut [0; 20]));
}

/// The decimal digits of `n`, written at the end of `buf`.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

fn write_hex(out: &mut Buf, mut n: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_bytes() {
        let mut out = Buf::new();
        ResponseHead {
            status: StatusCode::MethodNotAllowed,
            content_type: Some(b"text/plain"),
            framing: Framing::Length(19),
            connection: ConnectionHeader::Close,
            allow: Some(b"GET, HEAD"),
        }
        .write(&mut out, b"Mon, 23 Nov 2026 11:04:17 GMT");
        assert_eq!(
            out.filled(),
            &b"HTTP/1.1 405 Method Not Allowed\r\nServer: prefork-server\r\n\
               Date: Mon, 23 Nov 2026 11:04:17 GMT\r\nContent-Type: text/plain\r\n\
               Content-Length: 19\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n"[..]
        );
    }

    #[test]
    fn any_code_gets_a_status_line() {
        let mut out = Buf::new();
        StatusCode::from_code(418).unwrap().write_line(&mut out);
        StatusCode::from_code(599).unwrap().write_line(&mut out);
        StatusCode::NotFound.write_line(&mut out);
        assert_eq!(
            out.filled(),
            &b"HTTP/1.1 418 I'm a teapot\r\nHTTP/1.1 599 \r\nHTTP/1.1 404 Not Found\r\n"[..]
        );
        assert_eq!(StatusCode::from_code(599).unwrap().code(), 599);
        assert_eq!(StatusCode::PayloadTooLarge.code(), 413);
        assert_eq!(StatusCode::from_code(99), None);
        assert_eq!(StatusCode::from_code(600), None);
    }

    #[test]
    fn numbers() {
        let mut out = Buf::new();
        write_decimal(&mut out, 0);
        out.extend_from_slice(b" ");
        write_decimal(&mut out, u64::MAX);
        out.extend_from_slice(b" ");
        write_chunk(&mut out, &[b'x'; 26]);
        assert_eq!(
            out.filled(),
            &b"0 18446744073709551615 1a\r\nxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"[..]
        );
    }
}
