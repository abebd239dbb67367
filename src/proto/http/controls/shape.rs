//! Reshaping a response the controls touch: the header lines they add, a response that stands
//! in for the route's (`status=`, `size=`), and a rendered response turned into one written
//! over time (`chunked=`, `drip=`, `truncate`, `stall`).

use std::time::{Duration, Instant};

use super::body::{End, Shaped, Source};
use super::draw::{Draw, Fault};
use super::{Controls, Stall};
use crate::buffer::Buf;
use crate::proto::http::produce::{Body, Producer};
use crate::proto::http::response::{self, ConnectionHeader, Framing, ResponseHead, StatusCode};
use crate::proto::Context;
use crate::rand::ByteStream;

/// Appends the header lines the controls add, each ending in CRLF: every `header=`,
/// `Server-Timing` for an injected delay, `X-Echo-Draw` saying what was drawn, and
/// `Connection: close` when the connection closes after this response.
pub fn write_headers(c: &Controls<'_>, d: &Draw, close: bool, out: &mut Buf) {
    for h in &c.headers[..c.header_count] {
        let mut scratch = [0u8; super::MAX_VALUE];
        let text = if h.encoded {
            crate::proto::http::bin::forms::percent_decode_into(h.text, true, &mut scratch)
        } else {
            Some(h.text)
        };
        // Checked when parsed; checked again rather than trusted.
        if let Some((name, value)) = text.and_then(|t| super::grammar::header(t.trim_ascii()).ok())
        {
            line(out, &[name, b": ", value]);
        }
    }
    if let Some(delay) = d.delay.filter(|_| c.delay.is_some()) {
        out.extend_from_slice(b"Server-Timing: injected;dur=");
        write_millis(out, delay);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"X-Echo-Draw: ");
    let mut sep = "";
    let mut item = |out: &mut Buf, name: &[u8]| {
        out.extend_from_slice(sep.as_bytes());
        out.extend_from_slice(name);
        sep = ", ";
    };
    if c.status.is_some() {
        item(out, b"status=");
        match d.status {
            Some(code) => response::write_decimal(out, u64::from(code)),
            None => out.extend_from_slice(b"none"),
        }
    }
    if c.delay.is_some() {
        item(out, b"delay=");
        write_millis(out, d.delay.unwrap_or_default());
        out.extend_from_slice(b"ms");
    }
    if c.size.is_some() {
        item(out, b"size=");
        match d.size {
            Some(n) => response::write_decimal(out, n),
            None => out.extend_from_slice(b"none"),
        }
    }
    if c.rst | c.truncate | c.close > 0 || c.stall.is_some() {
        item(out, b"fault=");
        out.extend_from_slice(match d.fault {
            None => b"none",
            Some(Fault::Close) => b"close",
            Some(Fault::Rst) => b"rst",
            Some(Fault::Truncate) => b"truncate",
            Some(Fault::Stall(Stall::Head)) => b"stall-head",
            Some(Fault::Stall(Stall::Body)) => b"stall-body",
        });
    }
    if sep.is_empty() {
        out.extend_from_slice(b"none");
    }
    out.extend_from_slice(b"\r\n");
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
}

fn line(out: &mut Buf, parts: &[&[u8]]) {
    for part in parts {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"\r\n");
}

/// Milliseconds with three decimals (`12.345`), as `Server-Timing` writes durations.
fn write_millis(out: &mut Buf, d: Duration) {
    let micros = d.as_micros().min(u128::from(u64::MAX)) as u64;
    response::write_decimal(out, micros / 1000);
    let frac = micros % 1000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
}

/// Where a rendered head's blank line starts (the head ends two bytes after it).
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
}

/// Removes the `Connection` line our own heads end with, if any (it is re-decided).
pub fn drop_connection_line(head: &mut Vec<u8>) {
    if let Some(at) = find(head, b"\r\nConnection: ") {
        if let Some(len) = find(&head[at + 2..], b"\r\n") {
            head.drain(at + 2..at + 2 + len + 2);
        }
    }
}

/// In a head we rendered, `Content-Length: n` becomes `Transfer-Encoding: chunked`; false if
/// it has no length to replace.
fn to_chunked(head: &mut Vec<u8>) -> bool {
    let Some(at) = find(head, b"\r\nContent-Length: ") else {
        return false;
    };
    let Some(len) = find(&head[at + 2..], b"\r\n") else {
        return false;
    };
    head.splice(
        at + 2..at + 2 + len,
        b"Transfer-Encoding: chunked".iter().copied(),
    );
    true
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// How the body of a response is to be written.
pub struct Plan {
    pub chunk: Option<u64>,
    pub pause: Duration,
    pub fault: Option<Fault>,
    /// When a stall ends (and the connection closes).
    pub stall_until: Instant,
    /// The request's keep-alive and minor version.
    pub keep: (bool, u8),
    pub with_body: bool,
}

impl Plan {
    /// The producer for a response of `head` (our rendering, `Connection` line removed,
    /// the controls' lines added) and a body of `len` bytes from `source`.
    pub fn producer(
        &self,
        mut head: Vec<u8>,
        source: Source,
        len: u64,
        due: Instant,
        charge: u64,
    ) -> Producer {
        let len = if self.with_body { len } else { 0 };
        if self.fault == Some(Fault::Stall(Stall::Head)) {
            head.truncate(head.len() / 2);
            let end = End::StallUntil(self.stall_until);
            let stalled = Shaped::new(Source::Zero, (0, 0), None, Duration::ZERO, end);
            return Producer::raw(head, due, Body::Shaped(Box::new(stalled)), charge);
        }
        // Only a body our head frames with a length is re-framed (not a 304's, not a HEAD's).
        let chunk = self
            .chunk
            .filter(|_| self.with_body && to_chunked(&mut head));
        let (write, end) = match self.fault {
            Some(Fault::Truncate) => (len / 2, End::Close),
            Some(Fault::Stall(Stall::Body)) => (len / 2, End::StallUntil(self.stall_until)),
            _ => (len, End::Whole),
        };
        let body = Shaped::new(source, (write, len), chunk, self.pause, end);
        let (keep_alive, minor) = self.keep;
        let keep_alive = keep_alive && self.fault.is_none();
        Producer::new(
            head,
            due,
            Body::Shaped(Box::new(body)),
            (keep_alive, minor),
            charge,
        )
    }
}

/// The response that stands in for the route's when a status or a size was drawn: that
/// status (200 if only a size was), with a generated body of that size, or the status's
/// reason as text. Its head lacks the controls' lines (the caller adds them).
pub fn stand_in(d: &Draw, content_zero: bool, ctx: &Context<'_>) -> (Vec<u8>, Source, u64) {
    let status = StatusCode::from_code(d.status.unwrap_or(200)).unwrap_or(StatusCode::Ok);
    let no_body = matches!(status.code(), 204 | 304);
    let (content_type, source, len): (&[u8], Source, u64) = match d.size {
        _ if no_body => (b"text/plain", Source::Zero, 0),
        Some(n) if content_zero => (b"application/octet-stream", Source::Zero, n),
        Some(n) => (
            b"application/octet-stream",
            Source::Random(ByteStream::seeded(d.content_seed)),
            n,
        ),
        None => {
            let text = status_text(status.code());
            let len = text.len() as u64;
            (b"text/plain", Source::Bytes { data: text, pos: 0 }, len)
        }
    };
    let mut head = Buf::new();
    ResponseHead {
        status,
        content_type: Some(content_type),
        framing: if no_body {
            Framing::None
        } else {
            Framing::Length(len)
        },
        connection: ConnectionHeader::Omit,
        allow: None,
    }
    .write(&mut head, ctx.date);
    let mut head = head.filled().to_vec();
    // The blank line is added back with the controls' lines.
    head.truncate(head.len() - 2);
    (head, source, len)
}

/// `503 Service Unavailable\n`: what an injected status says.
fn status_text(code: u16) -> Vec<u8> {
    let mut text = Vec::with_capacity(40);
    let mut digits = [0u8; 20];
    text.extend_from_slice(response::decimal(u64::from(code), &mut digits));
    text.push(b' ');
    text.extend_from_slice(response::reason_phrase(code));
    text.push(b'\n');
    text
}
