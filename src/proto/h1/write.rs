//! The HTTP/1.1 wire form of a response head: status line, `Server`, `Date`, the content type,
//! the framing, the fields a handler gave, `Connection`. No allocation, no formatting
//! machinery: slices appended to the output buffer.

use crate::buffer::Buf;
use crate::http::digits::{hex, write_decimal};
use crate::http::websocket::Opening;
use crate::http::{reason_phrase, Field, Length, StatusCode};

/// The interim response to `Expect: 100-continue`.
pub(super) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The last chunk of a chunked body, with no trailers.
pub(super) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// What the `Connection` header says, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConnectionHeader {
    /// HTTP/1.1 keep-alive: the default, so no header.
    Omit,
    /// An HTTP/1.0 client asked for keep-alive and gets it.
    KeepAlive,
    Close,
}

impl ConnectionHeader {
    /// For a connection that stays open or not, with a client of this minor version.
    pub(super) fn of(keep_alive: bool, minor_version: u8) -> ConnectionHeader {
        match (keep_alive, minor_version) {
            (false, _) => ConnectionHeader::Close,
            (true, 0) => ConnectionHeader::KeepAlive,
            (true, _) => ConnectionHeader::Omit,
        }
    }
}

/// How the body follows the head on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Nothing: no body (1xx, 204, 304), or a body that ends with the connection (an open
    /// length for an HTTP/1.0 client, which cannot read chunks).
    None,
}

impl Framing {
    /// How a body of `length` is framed for a client of this minor version.
    pub(super) fn of(length: Length, minor_version: u8) -> Framing {
        match length {
            Length::Exactly(n) => Framing::Length(n),
            Length::Open if minor_version >= 1 => Framing::Chunked,
            Length::Open | Length::Bodiless => Framing::None,
        }
    }
}

/// One response head, ready to be written.
pub(super) struct Head<'a, F> {
    pub status: StatusCode,
    pub content_type: Option<&'a [u8]>,
    pub framing: Framing,
    pub fields: F,
    pub connection: ConnectionHeader,
}

impl<'a, F: Iterator<Item = Field<'a>>> Head<'a, F> {
    /// Appends the status line and headers, up to and including the blank line.
    pub(super) fn write(self, out: &mut Buf, date: &[u8]) {
        write_status_line(out, self.status);
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
        for (name, value) in self.fields {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
        }
        match self.connection {
            ConnectionHeader::Omit => {}
            ConnectionHeader::KeepAlive => out.extend_from_slice(b"\r\nConnection: keep-alive"),
            ConnectionHeader::Close => out.extend_from_slice(b"\r\nConnection: close"),
        }
        out.extend_from_slice(b"\r\n\r\n");
    }
}

/// The status line of the statuses this server names itself.
fn static_line(status: StatusCode) -> Option<&'static [u8]> {
    Some(match status {
        StatusCode::Ok => b"HTTP/1.1 200 OK\r\n",
        StatusCode::PartialContent => b"HTTP/1.1 206 Partial Content\r\n",
        StatusCode::MovedPermanently => b"HTTP/1.1 301 Moved Permanently\r\n",
        StatusCode::NotModified => b"HTTP/1.1 304 Not Modified\r\n",
        StatusCode::BadRequest => b"HTTP/1.1 400 Bad Request\r\n",
        StatusCode::Forbidden => b"HTTP/1.1 403 Forbidden\r\n",
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
fn write_status_line(out: &mut Buf, status: StatusCode) {
    if let Some(line) = static_line(status) {
        return out.extend_from_slice(line);
    }
    let code = status.code();
    out.extend_from_slice(b"HTTP/1.1 ");
    // Three digits: a code outside 100..=599 is never made (see `StatusCode::from_code`).
    write_decimal(out, u64::from(code.clamp(100, 999)));
    out.extend_from_slice(b" ");
    out.extend_from_slice(reason_phrase(code));
    out.extend_from_slice(b"\r\n");
}

/// Appends the size line of a chunk of `len` bytes (`len` must not be 0); the caller writes
/// the data and its closing CRLF.
pub(super) fn write_chunk_size(out: &mut Buf, len: u64) {
    out.extend_from_slice(hex(len, &mut [0; 16]));
    out.extend_from_slice(b"\r\n");
}

/// An error response with its short text body, ending the connection: what the protocol
/// itself answers to a request it cannot hand over (400, 408, 413, 414, 431, 501, 505).
pub(super) fn write_error(out: &mut Buf, status: StatusCode, date: &[u8]) {
    let body = status.reason_body();
    Head {
        status,
        content_type: Some(b"text/plain"),
        framing: Framing::Length(body.len() as u64),
        fields: std::iter::empty(),
        connection: ConnectionHeader::Close,
    }
    .write(out, date);
    out.extend_from_slice(body);
}

/// `101 Switching Protocols` to WebSocket (RFC 6455 §4.2.2): no length, no body.
pub(super) fn write_switching(out: &mut Buf, opening: &Opening, date: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nServer: prefork-server\r\nDate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(
        b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(&opening.accept);
    if let Some(deflate) = &opening.deflate {
        let mut value = Vec::with_capacity(96);
        deflate.response_value(&mut value);
        out.extend_from_slice(b"\r\nSec-WebSocket-Extensions: ");
        out.extend_from_slice(&value);
    }
    out.extend_from_slice(b"\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8] = b"Mon, 23 Nov 2026 11:04:17 GMT";

    #[test]
    fn head_bytes() {
        let mut out = Buf::new();
        let fields: [Field<'_>; 1] = [(b"Allow", b"GET, HEAD")];
        Head {
            status: StatusCode::MethodNotAllowed,
            content_type: Some(b"text/plain"),
            framing: Framing::Length(19),
            fields: fields.into_iter(),
            connection: ConnectionHeader::Close,
        }
        .write(&mut out, DATE);
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
        write_status_line(&mut out, StatusCode::from_code(418).unwrap());
        write_status_line(&mut out, StatusCode::from_code(599).unwrap());
        write_status_line(&mut out, StatusCode::NotFound);
        assert_eq!(
            out.filled(),
            &b"HTTP/1.1 418 I'm a teapot\r\nHTTP/1.1 599 \r\nHTTP/1.1 404 Not Found\r\n"[..]
        );
    }

    #[test]
    fn every_named_status_line_says_its_code() {
        for status in [
            StatusCode::Ok,
            StatusCode::PartialContent,
            StatusCode::MovedPermanently,
            StatusCode::NotModified,
            StatusCode::BadRequest,
            StatusCode::NotFound,
            StatusCode::MethodNotAllowed,
            StatusCode::RequestTimeout,
            StatusCode::PreconditionFailed,
            StatusCode::PayloadTooLarge,
            StatusCode::RangeNotSatisfiable,
            StatusCode::UriTooLong,
            StatusCode::HeadTooLarge,
            StatusCode::NotImplemented,
            StatusCode::ServiceUnavailable,
            StatusCode::VersionNotSupported,
        ] {
            let line = static_line(status).unwrap();
            let code = status.code().to_string();
            assert_eq!(&line[9..12], code.as_bytes(), "{status:?}");
            assert!(
                line.ends_with(b"\r\n")
                    && line[13..line.len() - 2] == *reason_phrase(status.code())
            );
        }
    }

    #[test]
    fn framing_for_each_version() {
        assert_eq!(Framing::of(Length::Exactly(3), 1), Framing::Length(3));
        assert_eq!(Framing::of(Length::Open, 1), Framing::Chunked);
        assert_eq!(Framing::of(Length::Open, 0), Framing::None);
        assert_eq!(Framing::of(Length::Bodiless, 1), Framing::None);
        let mut out = Buf::new();
        write_chunk_size(&mut out, 26);
        assert_eq!(out.filled(), b"1a\r\n");
    }
}
