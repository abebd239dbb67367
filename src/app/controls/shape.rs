//! Reshaping a response the controls touch: the fields they add, a response that stands in
//! for the route's (`status=`, `size=`), and a response turned into one written over time
//! (`chunked=`, `drip=`, `truncate`, `stall`).

use std::time::{Duration, Instant};

use super::body::{End, Shaped, Source};
use super::draw::{Draw, Fault};
use super::{Controls, Stall};
use crate::http::digits::decimal;
use crate::http::percent::percent_decode_into;
use crate::http::{
    reason_phrase, FieldList, Length, OwnedHead, Producer, ResponseHead, StatusCode,
};
use crate::rand::ByteStream;

/// Appends the fields the controls add: every `header=`, `Server-Timing` for an injected
/// delay, and `X-Echo-Draw` saying what was drawn.
pub(super) fn control_fields(c: &Controls<'_>, d: &Draw, out: &mut FieldList) {
    for h in &c.headers[..c.header_count] {
        let mut scratch = [0u8; super::MAX_VALUE];
        let text = if h.encoded {
            percent_decode_into(h.text, true, &mut scratch)
        } else {
            Some(h.text)
        };
        // Checked when parsed; checked again rather than trusted.
        if let Some((name, value)) = text.and_then(|t| super::grammar::header(t.trim_ascii()).ok())
        {
            out.push(name, value);
        }
    }
    if let Some(delay) = d.delay.filter(|_| c.delay.is_some()) {
        out.push_with(b"Server-Timing", |v| {
            v.extend_from_slice(b"injected;dur=");
            write_millis(v, delay);
        });
    }
    out.push_with(b"X-Echo-Draw", |v| draw_text(c, d, v));
}

/// What was drawn, as `X-Echo-Draw` says it: `status=503, delay=5.000ms, fault=none`.
fn draw_text(c: &Controls<'_>, d: &Draw, out: &mut Vec<u8>) {
    let mut sep = "";
    let mut item = |out: &mut Vec<u8>, name: &[u8]| {
        out.extend_from_slice(sep.as_bytes());
        out.extend_from_slice(name);
        sep = ", ";
    };
    if c.status.is_some() {
        item(out, b"status=");
        match d.status {
            Some(code) => out.extend_from_slice(decimal(u64::from(code), &mut [0; 20])),
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
            Some(n) => out.extend_from_slice(decimal(n, &mut [0; 20])),
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
}

/// Milliseconds with three decimals (`12.345`), as `Server-Timing` writes durations.
fn write_millis(out: &mut Vec<u8>, d: Duration) {
    let micros = d.as_micros().min(u128::from(u64::MAX)) as u64;
    out.extend_from_slice(decimal(micros / 1000, &mut [0; 20]));
    let frac = micros % 1000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
}

/// How the body of a response is to be written.
pub(super) struct Plan {
    pub chunk: Option<u64>,
    pub pause: Duration,
    pub fault: Option<Fault>,
    /// When a stall ends (and the connection closes).
    pub stall_until: Instant,
    pub with_body: bool,
}

impl Plan {
    /// The producer for a response of `head` (the controls' fields added) and a body of `len`
    /// bytes from `source`, due at `due`, `charge` held for it in the budget.
    pub(super) fn producer(
        &self,
        mut head: OwnedHead,
        source: Source,
        len: u64,
        due: Instant,
        charge: u64,
    ) -> Producer {
        let len = if self.with_body { len } else { 0 };
        if self.fault == Some(Fault::Stall(Stall::Head)) {
            let end = End::StallUntil(self.stall_until);
            let stalled = Shaped::new(Source::Zero, (0, 0), None, Duration::ZERO, end);
            let mut p = Producer::new(head, due, Vec::new(), Some(Box::new(stalled)), charge);
            p.cut_head();
            return p;
        }
        // Only a body the head frames with a length is re-framed (not a 304's, not a HEAD's).
        let chunk = self
            .chunk
            .filter(|_| self.with_body && matches!(head.length, Length::Exactly(_)));
        if chunk.is_some() {
            head.length = Length::Open;
        }
        let (write, end) = match self.fault {
            Some(Fault::Truncate) => (len / 2, End::Close),
            Some(Fault::Stall(Stall::Body)) => (len / 2, End::StallUntil(self.stall_until)),
            _ => (len, End::Whole),
        };
        let body = Shaped::new(source, (write, len), chunk, self.pause, end);
        let mut p = Producer::new(head, due, Vec::new(), Some(Box::new(body)), charge);
        if self.fault.is_some() {
            p.close_after();
        }
        p
    }
}

/// The response that stands in for the route's when a status or a size was drawn: that
/// status (200 if only a size was), with a generated body of that size, or the status's
/// reason as text. Its head lacks the controls' fields (the caller adds them).
pub(super) fn stand_in(d: &Draw, content_zero: bool) -> (OwnedHead, Source, u64) {
    let status = StatusCode::from_code(d.status.unwrap_or(200)).unwrap_or(StatusCode::Ok);
    let no_body = !status.allows_body();
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
    let length = if no_body {
        Length::Bodiless
    } else {
        Length::Exactly(len)
    };
    let head = OwnedHead::of(&ResponseHead::new(status, Some(content_type), length));
    (head, source, len)
}

/// `503 Service Unavailable\n`: what an injected status says.
fn status_text(code: u16) -> Vec<u8> {
    let mut text = Vec::with_capacity(40);
    text.extend_from_slice(decimal(u64::from(code), &mut [0; 20]));
    text.push(b' ');
    text.extend_from_slice(reason_phrase(code));
    text.push(b'\n');
    text
}
