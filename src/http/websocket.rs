//! WebSocket's HTTP side: whether a request is a valid opening handshake (RFC 6455 §4.2.1),
//! the key's answer, which permessage-deflate offer is taken (RFC 7692 §5–7), and the
//! [`Upgrade`] a handler returns to turn the connection over to the framing (`proto::ws`),
//! with the [`Messages`] that decide what each message gets. HTTP/1.1 writes the 101.

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine;
use sha1::{Digest, Sha1};

use super::fields::Named;
use super::method::Method;
use super::request::{Request, Version};

/// RFC 6455 §1.3: appended to the client's key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why a request is not an opening handshake this server takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Upgrade: websocket` at all: 426, naming the protocol to upgrade to.
    NotAnUpgrade,
    /// `Sec-WebSocket-Version` is not 13: 426 with `Sec-WebSocket-Version: 13` (§4.4).
    Version,
    /// An upgrade, but a broken one: 400 with the reason.
    Bad(&'static str),
}

/// What a valid opening handshake settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// `Sec-WebSocket-Accept`'s value.
    pub accept: [u8; 28],
    /// The permessage-deflate offer taken, if any.
    pub deflate: Option<Deflate>,
}

/// permessage-deflate as agreed. The server always answers with both
/// `server_no_context_takeover` and `client_no_context_takeover` (RFC 7692 §7.1.1.1 and
/// §7.1.1.2 let it add either): every message is compressed alone, so no connection keeps a
/// compressor's or a decompressor's window (tens to hundreds of KiB) between messages, and one
/// codec per worker serves every connection in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deflate {
    /// The LZ77 window the server compresses with (`server_max_window_bits`, 9 to 15).
    pub server_window_bits: u8,
}

impl Deflate {
    /// The `Sec-WebSocket-Extensions` value that accepts it.
    pub fn response_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        );
        if self.server_window_bits < 15 {
            out.extend_from_slice(b"; server_max_window_bits=");
            out.extend_from_slice(self.server_window_bits.to_string().as_bytes());
        }
    }
}

/// Checks `req` as an opening handshake (RFC 6455 §4.2.1), in the order that gives the most
/// useful answer: a plain GET learns it must upgrade, an old client learns the version.
///
/// # Errors
/// The [`Refusal`] that says what is wrong.
pub fn check(req: &Request<'_>) -> Result<Opening, Refusal> {
    if !values(req, b"upgrade").any(|v| has_token(v, b"websocket")) {
        return Err(Refusal::NotAnUpgrade);
    }
    if req.method != Method::Get {
        return Err(Refusal::Bad("a WebSocket handshake is a GET"));
    }
    if req.version != Version::Http11 {
        return Err(Refusal::Bad("a WebSocket handshake needs HTTP/1.1"));
    }
    if !values(req, b"connection").any(|v| has_token(v, b"upgrade")) {
        return Err(Refusal::Bad("Connection must list Upgrade"));
    }
    if !req.body.is_empty() || req.field(b"content-length").is_some_and(|v| v != b"0") {
        return Err(Refusal::Bad("a WebSocket handshake has no body"));
    }
    match values(req, b"sec-websocket-version").next() {
        Some(v) if v.trim_ascii() == b"13" => {}
        _ => return Err(Refusal::Version),
    }
    let mut keys = values(req, b"sec-websocket-key");
    let key = keys
        .next()
        .map(<[u8]>::trim_ascii)
        .ok_or(Refusal::Bad("Sec-WebSocket-Key is missing"))?;
    if keys.next().is_some() {
        return Err(Refusal::Bad("more than one Sec-WebSocket-Key"));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|_| Refusal::Bad("Sec-WebSocket-Key is not base64"))?;
    if decoded.len() != 16 {
        return Err(Refusal::Bad("Sec-WebSocket-Key is not 16 bytes"));
    }
    let deflate = values(req, b"sec-websocket-extensions")
        .flat_map(|v| v.split(|&b| b == b','))
        .find_map(deflate_offer);
    Ok(Opening {
        accept: accept_key(key),
        deflate,
    })
}

/// Every value of the fields named `name` (any case), in order.
fn values<'a>(req: &Request<'a>, name: &'static [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    req.fields.named(name).into_iter().flat_map(Named::values)
}

/// `base64(SHA-1(key + GUID))`.
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut hash = Sha1::new();
    hash.update(key);
    hash.update(GUID);
    let digest = hash.finalize();
    let mut out = [0u8; 28];
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut out)
        .unwrap_or(0);
    debug_assert_eq!(n, 28);
    out
}

/// A comma-separated list holds `token`, case-insensitively.
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// One extension offer, if it is a permessage-deflate this server can take (RFC 7692 §7.1): a
/// parameter it does not know, one given twice, or a bad value declines the offer (§5.1),
/// and the next one is tried. `server_max_window_bits=8` is declined too: zlib cannot
/// compress with a 256-byte raw window.
fn deflate_offer(offer: &[u8]) -> Option<Deflate> {
    let mut parts = offer.split(|&b| b == b';');
    if !parts
        .next()?
        .trim_ascii()
        .eq_ignore_ascii_case(b"permessage-deflate")
    {
        return None;
    }
    let mut seen = [false; 4];
    let mut server_window_bits = 15;
    for param in parts {
        let (name, value) = match param.iter().position(|&b| b == b'=') {
            Some(eq) => (
                param[..eq].trim_ascii(),
                Some(unquote(param[eq + 1..].trim_ascii())),
            ),
            None => (param.trim_ascii(), None),
        };
        let which = match name {
            b"server_no_context_takeover" => 0,
            b"client_no_context_takeover" => 1,
            b"server_max_window_bits" => 2,
            b"client_max_window_bits" => 3,
            _ => return None,
        };
        if std::mem::replace(&mut seen[which], true) {
            return None;
        }
        match (which, value) {
            (0 | 1, None) => {}
            (2, Some(v)) => server_window_bits = window_bits(v).filter(|&b| b >= 9)?,
            // The client may limit its own window or just say it could be limited; ours
            // inflates any window, so it is never limited in the answer.
            (3, None) => {}
            (3, Some(v)) => {
                window_bits(v)?;
            }
            _ => return None,
        }
    }
    Some(Deflate { server_window_bits })
}

fn unquote(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(v)
}

/// 8 to 15, as decimal digits with no leading zero (RFC 7692 §7.1.2).
fn window_bits(v: &[u8]) -> Option<u8> {
    match v {
        [d] if (b'8'..=b'9').contains(d) => Some(d - b'0'),
        [b'1', d] if (b'0'..=b'5').contains(d) => Some(10 + d - b'0'),
        _ => None,
    }
}

/// A WebSocket message's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Binary,
}

/// What the application does with one whole message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send it back as it came, at this moment (now, or later for a delay), then `then`.
    Echo { at: Instant, then: Then },
    /// Send nothing back: close with this code (a close frame, then the TCP close).
    Close(u16),
    /// Send nothing back: cut the TCP connection, with no close frame.
    Drop,
}

/// What follows an echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Continue,
    /// Close with this code.
    Close(u16),
    /// Cut the TCP connection.
    Drop,
}

/// The application's side of a WebSocket: told of each whole message (its payload decoded
/// and, for text, checked as UTF-8), it says what to do.
pub trait Messages: fmt::Debug {
    fn on_message(&mut self, kind: MessageKind, len: usize, now: Instant) -> Action;
}

/// Limits that apply to one WebSocket connection, in compact types: every connection keeps
/// them, and a hundred thousand idle connections are a use this server is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest message, after inflation; larger closes with 1009.
    pub max_message: usize,
    /// The most frames one message may come in; more closes with 1008.
    pub max_frames: u32,
    /// Replies are cut into frames of at most this many payload bytes (0: one frame).
    pub max_fragment: u32,
    /// An idle connection is pinged every this many milliseconds, and closed when a ping goes
    /// unanswered for as long; 0: never.
    pub ping_interval_ms: u32,
}

impl Limits {
    pub fn ping_interval(&self) -> Option<Duration> {
        (self.ping_interval_ms > 0).then(|| Duration::from_millis(self.ping_interval_ms.into()))
    }
}

/// What a handler returns to turn an HTTP/1.1 connection into a WebSocket: the 101's fields
/// and what the connection then needs.
#[derive(Debug)]
pub struct Upgrade {
    pub opening: Opening,
    pub limits: Limits,
    pub messages: Box<dyn Messages>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_key_is_answered() {
        // RFC 6455 §1.3.
        assert_eq!(
            &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn deflate_offers_are_taken_or_declined() {
        let d = |s: &str| deflate_offer(s.as_bytes());
        assert_eq!(
            d("permessage-deflate"),
            Some(Deflate {
                server_window_bits: 15
            })
        );
        assert_eq!(
            d(" permessage-deflate; client_max_window_bits"),
            Some(Deflate {
                server_window_bits: 15
            })
        );
        assert_eq!(
            d("permessage-deflate; server_max_window_bits=10; client_no_context_takeover"),
            Some(Deflate {
                server_window_bits: 10
            })
        );
        assert_eq!(
            d("permessage-deflate; server_max_window_bits=\"12\""),
            Some(Deflate {
                server_window_bits: 12
            })
        );
        for declined in [
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=09",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; unknown",
        ] {
            assert_eq!(d(declined), None, "{declined}");
        }
        let mut v = Vec::new();
        Deflate {
            server_window_bits: 10,
        }
        .response_value(&mut v);
        assert_eq!(
            v,
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
              server_max_window_bits=10"
        );
    }

    #[test]
    fn tokens_are_case_insensitive_in_lists() {
        assert!(has_token(b"keep-alive, Upgrade", b"upgrade"));
        assert!(has_token(b"WebSocket", b"websocket"));
        assert!(!has_token(b"upgrades", b"upgrade"));
    }
}
