//! A whole request, as a protocol hands it to a handler.

use super::fields::FieldLines;
use super::method::Method;
use super::target::Form;

/// The protocol version a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    /// HTTP/1.1, and 1.2–1.9 (treated as 1.1, RFC 9110 §2.5).
    Http11,
    /// HTTP/2 (RFC 9113).
    Http2,
}

impl Version {
    /// As a request line or an access log writes it.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Version::Http10 => b"HTTP/1.0",
            Version::Http11 => b"HTTP/1.1",
            Version::Http2 => b"HTTP/2.0",
        }
    }
}

/// A whole request, head and body, borrowed from the connection's buffers for one call into
/// a handler. Everything a handler may ask about the request is here; what the connection
/// knows (the client, the clock) is in the [`Exchange`](super::Exchange).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: Method,
    /// The path of the target without the query (origin and absolute forms); the target
    /// itself for the authority and asterisk forms. Not decoded.
    pub path: &'a [u8],
    /// The query string after `?` (empty if none), not decoded.
    pub query: &'a [u8],
    pub form: Form,
    /// The target's authority (absolute and authority forms), else the Host field's value.
    pub authority: Option<&'a [u8]>,
    pub version: Version,
    pub content_type: Option<&'a [u8]>,
    /// A field's name starts with the marker the server was set up with (`Limits::marker`):
    /// found while the head was parsed, so a handler that cares (request controls) need not
    /// read every field of every request to learn there is none.
    pub marked: bool,
    pub fields: FieldLines<'a>,
    /// The body, whole and decoded (no chunk framing).
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// The first value of a field, by case-insensitive name.
    pub fn field(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.fields.get(name)
    }

    /// The head as it arrived, byte for byte (any empty lines before the request line
    /// included), where the protocol has one (HTTP/1.x): what `/raw` and `/dump/request` show.
    /// Over HTTP/2, the decoded header list rendered in the same form: `:method` and `:path`
    /// as the request line (`GET / HTTP/2.0`), `:authority` as `host`, then each field as it
    /// came, names in lower case.
    pub fn raw_head(&self) -> Option<&'a [u8]> {
        match self.fields {
            FieldLines::Head(raw) => Some(raw),
        }
    }

    /// The request line as sent (HTTP/1.x), without its CRLF: what the access log writes.
    pub fn request_line(&self) -> Option<&'a [u8]> {
        let raw = request_line_onwards(self.raw_head()?);
        let line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }

    /// Whether `Accept` names the media type `media` (case-insensitive; parameters and weights
    /// are not read); `None` when the request has no `Accept`.
    pub fn accept_names(&self, media: &[u8]) -> Option<bool> {
        let accept = self.fields.named(b"accept")?;
        Some(accept.values().any(|v| {
            v.split(|&b| b == b',').any(|t| {
                let t = t.split(|&b| b == b';').next().unwrap_or_default();
                t.trim_ascii().eq_ignore_ascii_case(media)
            })
        }))
    }

    /// A request for a representation without its body: every answer's head is the same as
    /// a GET's, and nothing follows it.
    pub fn is_head(&self) -> bool {
        self.method == Method::Head
    }
}

/// The head from its request line on: the empty lines a client may send before it (RFC 9112
/// §2.2, which the parser skips) are left out, so they are not taken for the request line.
fn request_line_onwards(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(raw.len());
    &raw[start..]
}
