//! Generated and paced bodies: `/bytes/{n}`, `/stream-bytes/{n}`, `/stream/{n}`,
//! `/range/{n}`, `/drip` and `/sse`. None is held whole: each is a generator that writes as
//! the client reads, or as its timer comes due.

use std::time::Duration;

use super::inspect;
use super::json::Json;
use super::params;
use super::reply::{Resp, Work};
use super::Kind;
use crate::app::generate::{Drip, Events, Lines, Part, Pattern, Random};
use crate::http::range::{self, boundary, content_range, Ranges, Span};
use crate::http::{Length, Reply, StatusCode};
use crate::rand::ByteStream;

const OCTETS: &[u8] = b"application/octet-stream";

/// `/stream/{n}` sends at most this many lines (httpbin's cap).
const MAX_STREAM_LINES: u32 = 100;

/// `/stream-bytes` chunks are this large unless `chunk_size` says otherwise (httpbin's).
const DEFAULT_CHUNK: u64 = 10 * 1024;

pub(super) fn respond(kind: Kind, r: &mut Resp<'_, '_>) -> Reply {
    match kind {
        Kind::Bytes | Kind::StreamBytes => random(kind, r),
        Kind::Stream => stream(r),
        Kind::Range => range(r),
        Kind::Drip => drip(r),
        Kind::Sse => sse(r),
        _ => r.not_found(),
    }
}

/// The `{n}` of `/bytes/{n}` and its kin: a count from 0 to `max`, or the 400 that says so.
fn count(r: &mut Resp<'_, '_>, prefix: &[u8], max: u64) -> Result<u64, Reply> {
    let n = params::after(r.req.head.path, prefix).and_then(|s| params::int::<u64>(&s));
    match n {
        Some(n) if n <= max => Ok(n),
        _ => Err(r.bad_request(&format!("the count must be a whole number from 0 to {max}"))),
    }
}

/// A query parameter that, when present, must parse.
fn optional<T>(
    r: &mut Resp<'_, '_>,
    name: &str,
    parse: impl Fn(&[u8]) -> Option<T>,
    what: &str,
) -> Result<Option<T>, Reply> {
    match params::query(r.req.head.query, name.as_bytes()) {
        None => Ok(None),
        Some(v) => match parse(&v) {
            Some(t) => Ok(Some(t)),
            None => Err(r.bad_request(&format!("{name} must be {what}"))),
        },
    }
}

/// `/bytes/{n}?seed=` (one body with its length) and `/stream-bytes/{n}?seed=&chunk_size=`
/// (chunked): random bytes, the same ones for the same seed.
fn random(kind: Kind, r: &mut Resp<'_, '_>) -> Reply {
    let max = r.bin.options.max_generated_bytes;
    let streamed = kind == Kind::StreamBytes;
    let prefix: &[u8] = if streamed {
        b"/stream-bytes/"
    } else {
        b"/bytes/"
    };
    let parsed = (|| {
        let n = count(r, prefix, max)?;
        let seed = optional(r, "seed", params::int::<i64>, "a whole number")?;
        let chunk = optional(r, "chunk_size", params::int::<i64>, "a whole number")?;
        Ok((n, seed, chunk))
    })();
    let (n, seed, chunk) = match parsed {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let seed = seed.map_or_else(crate::rand::seed, |s| s as u64);
    let (length, chunk) = if streamed {
        // A size that is not positive, or larger than the body, is one chunk (go-httpbin).
        let size = match chunk {
            Some(c) if c > 0 && (c as u64) <= n => c as u64,
            Some(_) => n.max(1),
            None => DEFAULT_CHUNK,
        };
        (Length::Open, Some(size))
    } else {
        (Length::Exactly(n), None)
    };
    let body = Random::new(ByteStream::seeded(seed), n, chunk);
    let now = r.ex.now;
    let head = (StatusCode::Ok, Some(OCTETS), length);
    r.produce(head, &[], Vec::new(), now, Some(Box::new(body)))
}

/// `/stream/{n}`: n lines (at most 100) of the `/get` echo with an `id`, chunked.
fn stream(r: &mut Resp<'_, '_>) -> Reply {
    let n = match count(r, b"/stream/", u64::MAX) {
        Ok(n) => n.min(u64::from(MAX_STREAM_LINES)) as u32,
        Err(reply) => return reply,
    };
    let req = r.req;
    // One line's members after its id, rendered once: `"args": ..., "url": "..."}` + LF.
    let mut line = Vec::new();
    {
        let mut scratch = r.scratch();
        let work: &mut Work = &mut scratch.work;
        let mut j = Json::compact(&mut line);
        j.open();
        inspect::get_members(&mut j, &req, work);
        j.close();
    }
    line.remove(0);
    line.push(b'\n');
    let body = Lines::new(line, n);
    let now = r.ex.now;
    let head = (StatusCode::Ok, Some(&b"application/json"[..]), Length::Open);
    r.produce(head, &[], Vec::new(), now, Some(Box::new(body)))
}

/// `/range/{n}`: n bytes of `abc…z` repeating, with ranges (one, or several as
/// `multipart/byteranges`), an ETag and `Accept-Ranges`.
fn range(r: &mut Resp<'_, '_>) -> Reply {
    let max = r.bin.options.max_generated_bytes;
    let n = match count(r, b"/range/", max) {
        Ok(0) => return r.bad_request(&format!("the count must be from 1 to {max}")),
        Ok(n) => n,
        Err(reply) => return reply,
    };
    let etag = format!("\"range{n}\"");
    let header = r.req.head.fields.named(b"range").and_then(|f| f.single());
    // If-Range with another tag: the whole body (RFC 9110 §13.1.5).
    let if_range = r.req.field(b"if-range");
    let ranges = match header {
        Some(value) if if_range.is_none_or(|t| t == etag.as_bytes()) => range::resolve(value, n),
        _ => Ranges::Whole,
    };
    let fields_base = [
        (&b"Accept-Ranges"[..], &b"bytes"[..]),
        (b"ETag", etag.as_bytes()),
    ];
    let now = r.ex.now;
    let mut value = [0u8; 64];
    match ranges {
        Ranges::Whole => {
            let body = pattern(vec![Part::Pattern { from: 0, to: n }]);
            let head = (StatusCode::Ok, Some(OCTETS), Length::Exactly(n));
            r.produce(head, &fields_base, Vec::new(), now, body)
        }
        Ranges::One(span) => {
            let len = content_range(&mut value, Some(span), n);
            let fields = [
                fields_base[0],
                fields_base[1],
                (b"Content-Range", &value[..len]),
            ];
            let body = pattern(vec![Part::Pattern {
                from: span.start,
                to: span.end + 1,
            }]);
            let head = (
                StatusCode::PartialContent,
                Some(OCTETS),
                Length::Exactly(span.len()),
            );
            r.produce(head, &fields, Vec::new(), now, body)
        }
        Ranges::Many(spans) => {
            let (media, parts, total) = multipart(&spans, n);
            let head = (
                StatusCode::PartialContent,
                Some(&media[..]),
                Length::Exactly(total),
            );
            r.produce(head, &fields_base, Vec::new(), now, pattern(parts))
        }
        Ranges::Unsatisfiable => {
            let len = content_range(&mut value, None, n);
            let fields = [
                fields_base[0],
                fields_base[1],
                (b"Content-Range", &value[..len]),
            ];
            r.send(
                StatusCode::RangeNotSatisfiable,
                Some(b"text/plain"),
                &fields,
                super::reply::Body::Bytes(StatusCode::RangeNotSatisfiable.reason_body()),
            )
        }
    }
}

fn pattern(parts: Vec<Part>) -> Option<Box<dyn crate::http::Generate>> {
    Some(Box::new(Pattern::new(parts)))
}

/// The media type, parts and exact length of a `multipart/byteranges` body over the pattern.
fn multipart(spans: &[Span], n: u64) -> (Vec<u8>, Vec<Part>, u64) {
    let boundary = boundary();
    let mut parts = Vec::with_capacity(spans.len() * 2 + 1);
    let mut total = 0;
    for (i, span) in spans.iter().enumerate() {
        let mut head = Vec::new();
        if i > 0 {
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"--");
        head.extend_from_slice(&boundary);
        head.extend_from_slice(b"\r\nContent-Type: application/octet-stream\r\nContent-Range: ");
        let mut value = [0u8; 64];
        let len = content_range(&mut value, Some(*span), n);
        head.extend_from_slice(&value[..len]);
        head.extend_from_slice(b"\r\n\r\n");
        total += head.len() as u64 + span.len();
        parts.push(Part::Fixed(head));
        parts.push(Part::Pattern {
            from: span.start,
            to: span.end + 1,
        });
    }
    let mut close = b"\r\n--".to_vec();
    close.extend_from_slice(&boundary);
    close.extend_from_slice(b"--\r\n");
    total += close.len() as u64;
    parts.push(Part::Fixed(close));
    let mut media = b"multipart/byteranges; boundary=".to_vec();
    media.extend_from_slice(&boundary);
    (media, parts, total)
}

/// A duration parameter with its default, at most `max`.
fn duration_param(
    r: &mut Resp<'_, '_>,
    name: &str,
    default: Duration,
    max: Duration,
) -> Result<Duration, Reply> {
    let what = format!(
        "a duration (2, 0.5, 250ms) of at most {}s",
        max.as_secs_f64()
    );
    let d = optional(r, name, params::duration, &what)?.unwrap_or(default);
    if d > max {
        return Err(r.bad_request(&format!("{name} must be {what}")));
    }
    Ok(d)
}

/// A count parameter from 1 to `max` (default `default`).
fn count_param(r: &mut Resp<'_, '_>, name: &str, default: u64, max: u64) -> Result<u64, Reply> {
    let what = format!("a whole number from 1 to {max}");
    let n = optional(r, name, params::int::<u64>, &what)?.unwrap_or(default);
    if n == 0 || n > max {
        return Err(r.bad_request(&format!("{name} must be {what}")));
    }
    Ok(n)
}

/// `duration` (default `default`) and `delay` (default 0), which together may not pass
/// `--max-duration`.
fn pacing(r: &mut Resp<'_, '_>, default: Duration) -> Result<(Duration, Duration), Reply> {
    let max = r.bin.options.max_duration;
    let duration = duration_param(r, "duration", default, max)?;
    let delay = duration_param(r, "delay", Duration::ZERO, max)?;
    if duration + delay > max {
        let detail = format!("delay and duration add up to more than {max:?}");
        return Err(r.bad_request(&detail));
    }
    Ok((duration, delay))
}

/// `/drip?numbytes=10&duration=2&delay=0&code=200`: after `delay`, `numbytes` asterisks
/// spread over `duration` (the first at once, the last at the end), with a Content-Length.
fn drip(r: &mut Resp<'_, '_>) -> Reply {
    let max_bytes = r.bin.options.max_generated_bytes;
    let parsed = (|| {
        let n = count_param(r, "numbytes", 10, max_bytes)?;
        let (duration, delay) = pacing(r, Duration::from_secs(2))?;
        let what = "a status code from 200 to 599 that has a body";
        let code = optional(r, "code", params::int::<u16>, what)?.unwrap_or(200);
        let status =
            StatusCode::from_code(code).filter(|_| code >= 200 && code != 204 && code != 304);
        let Some(status) = status else {
            return Err(r.bad_request(&format!("code must be {what}")));
        };
        Ok((n, duration, delay, status))
    })();
    let (n, duration, delay, status) = match parsed {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let pause = spacing(duration, n);
    let start = r.ex.now + delay;
    let body = Drip::new(start, pause, n);
    let head = (status, Some(OCTETS), Length::Exactly(n));
    r.produce(head, &[], Vec::new(), start, Some(Box::new(body)))
}

/// The pause between `n` paced items spread over `duration`: the first goes at once, the last
/// when `duration` ends.
fn spacing(duration: Duration, n: u64) -> Duration {
    match n {
        0 | 1 => Duration::ZERO,
        n => duration / u32::try_from(n - 1).unwrap_or(u32::MAX),
    }
}

/// `/sse?count=10&duration=5&delay=0`: `count` server-sent events spread over `duration`.
fn sse(r: &mut Resp<'_, '_>) -> Reply {
    // An event is about 50 bytes: as many as fit the largest generated body.
    let max_count = (r.bin.options.max_generated_bytes / 50).clamp(1, u64::from(u32::MAX));
    let parsed = (|| {
        let count = count_param(r, "count", 10, max_count)?;
        let (duration, delay) = pacing(r, Duration::from_secs(5))?;
        Ok((count as u32, duration, delay))
    })();
    let (count, duration, delay) = match parsed {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let pause = spacing(duration, u64::from(count));
    let start = r.ex.now + delay;
    let body = Events::new(start, pause, count);
    let head = (
        StatusCode::Ok,
        Some(&b"text/event-stream; charset=utf-8"[..]),
        Length::Open,
    );
    let fields: &[crate::http::Field] = &[(b"Cache-Control", b"no-cache")];
    r.produce(head, fields, Vec::new(), start, Some(Box::new(body)))
}
