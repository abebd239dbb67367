//! `Upgrade: h2c` (RFC 7540 §3.2, which RFC 9113 deprecates but `curl --http2` still sends):
//! an HTTP/1.1 request without a body that asks for HTTP/2 gets `101 Switching Protocols`,
//! and becomes stream 1 of an HTTP/2 connection, answered there.
//!
//! The switch is made only when everything RFC 7540 asks is there: `Upgrade` lists `h2c`,
//! `Connection` names `Upgrade` and `HTTP2-Settings`, exactly one `HTTP2-Settings` field holds
//! a base64url SETTINGS payload. Otherwise, and over TLS (where `h2` comes by ALPN), on a
//! draining worker, or for a request with a body, the request is answered over HTTP/1.1 as if
//! the field were not there, as the RFC allows.

use base64::Engine;

use super::parse::Head;
use crate::proto::h2::Http2;
use crate::proto::Env;

/// The response that switches the connection.
pub(super) const SWITCHING: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

/// The HTTP/2 connection `head` (whole, no body) switches to, if it asks for one properly.
pub(super) fn switch(head: &Head<'_>, env: &Env<'_>) -> Option<Box<Http2>> {
    if !env.http.http2 || env.tls.is_some() || env.draining || head.minor_version != 1 {
        return None;
    }
    let fields = head.request.fields;
    let lists = |name: &'static [u8], token: &[u8]| {
        fields.named(name).is_some_and(|named| {
            named
                .values()
                .flat_map(|v| v.split(|&b| b == b','))
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
        })
    };
    if !lists(b"upgrade", b"h2c") || !lists(b"connection", b"http2-settings") {
        return None;
    }
    let mut settings = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"http2-settings"));
    let (Some((_, encoded)), None) = (settings.next(), settings.next()) else {
        return None;
    };
    // base64url without padding (RFC 7540 §3.2.1); padding from a lenient client is dropped.
    let encoded = encoded.trim_ascii();
    let unpadded = &encoded[..encoded
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |i| i + 1)];
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(unpadded)
        .ok()?;
    Http2::upgraded(env.now, &payload, render(head))
        .ok()
        .map(Box::new)
}

/// The request as HTTP/2 sees it: the request line with `HTTP/2.0`, then the fields in lower
/// case without those that only meant something to this HTTP/1.1 hop.
fn render(head: &Head<'_>) -> Vec<u8> {
    let req = &head.request;
    let line = req.request_line().unwrap_or_default();
    let target = line.split(|&b| b == b' ').nth(1).unwrap_or(b"/");
    let mut out = Vec::with_capacity(req.raw_head().map_or(64, <[u8]>::len));
    out.extend_from_slice(req.method.name());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/2.0\r\n");
    for (name, value) in req.fields.iter() {
        let hop = [
            &b"connection"[..],
            b"upgrade",
            b"http2-settings",
            b"keep-alive",
            b"proxy-connection",
            b"te",
            b"transfer-encoding",
        ];
        if hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        out.extend(name.iter().map(u8::to_ascii_lowercase));
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}
