//! Serving `--root`: for a GET or HEAD of a file, which representation (the file or a
//! precompressed sibling), whether the preconditions hold, which ranges, and which headers.
//! The file store below the protocol finds and opens the file; the connection sends its bytes
//! with `sendfile`. Nothing here touches a descriptor.

use std::rc::Rc;

use super::conditional::{self, Fields, Preconditions, Validators, Verdict};
use super::encoding::Accepted;
use super::parse::{Head, Method};
use super::range::{self, Ranges, Span};
use super::response::{ConnectionHeader, Framing, ResponseHead, StatusCode};
use super::routes::{self, Reply};
use crate::buffer::Buf;
use crate::files::{File, FileStore, Lookup};
use crate::output::Output;
use crate::proto::Context;

/// What a file resource allows.
const ALLOW: &[u8] = b"GET, HEAD, OPTIONS";

/// Room kept for the head when deciding whether a cached small file is copied whole into the
/// write buffer.
const HEAD_ROOM: usize = 1024;

/// Answers a request for a path under `--root`.
pub(super) fn respond(
    head: &Head<'_>,
    store: &FileStore,
    output: &mut Output,
    ctx: &Context<'_>,
) -> Reply {
    let keep_alive = head.keep_alive && !ctx.draining;
    let connection = routes::connection_header(keep_alive, head.minor_version);
    let with_body = head.method != Method::Head;
    match head.method {
        Method::Get | Method::Head => {}
        Method::Options => {
            routes::options_response(output, ctx, ALLOW, connection, with_body);
            return Reply::Sent;
        }
        _ => {
            routes::method_not_allowed(output, ctx, ALLOW, connection, with_body);
            return Reply::Sent;
        }
    }
    let text = |output: &mut Output, status: StatusCode| {
        routes::text_response(
            output.bytes(),
            ctx,
            status,
            status.reason_body(),
            connection,
            None,
            with_body,
        );
        Reply::Sent
    };
    match store.lookup(head.path, ctx.now) {
        Lookup::File(f) => serve(head, store, &f, output, ctx, connection),
        Lookup::Redirect(location) => redirect(head, location, output, ctx, connection),
        Lookup::NotFound => text(output, StatusCode::NotFound),
        Lookup::BadPath => text(output, StatusCode::BadRequest),
        Lookup::Unavailable => text(output, StatusCode::ServiceUnavailable),
    }
}

/// 301 to the directory's slash form, the query kept.
fn redirect(
    head: &Head<'_>,
    mut location: Vec<u8>,
    output: &mut Output,
    ctx: &Context<'_>,
    connection: ConnectionHeader,
) -> Reply {
    if !head.query.is_empty() {
        location.push(b'?');
        location.extend_from_slice(head.query);
    }
    let status = StatusCode::MovedPermanently;
    let body = status.reason_body();
    let response = ResponseHead {
        status,
        content_type: Some(b"text/plain"),
        framing: Framing::Length(body.len() as u64),
        connection,
        allow: None,
    };
    routes::note_reply(ctx, status.code(), body.len() as u64);
    response.write_with(output.bytes(), ctx.date, &[(b"Location", &location)]);
    if head.method != Method::Head {
        output.bytes().extend_from_slice(body);
    }
    Reply::Sent
}

/// A file that exists: preconditions, representation, ranges.
fn serve(
    head: &Head<'_>,
    store: &FileStore,
    file: &Rc<File>,
    output: &mut Output,
    ctx: &Context<'_>,
    connection: ConnectionHeader,
) -> Reply {
    let is_get = head.method == Method::Get;
    // The representation: a precompressed sibling the client accepts, else the file.
    let mut coding = None;
    let mut rep = file;
    if file.has_siblings() {
        let accepted = Accepted::of(Fields::find(head.raw, b"accept-encoding"));
        let available = [0, 1, 2].map(|i| file.siblings[i].is_some());
        if let Some(c) = accepted.choose(available) {
            let index = super::encoding::Coding::ALL
                .iter()
                .position(|&x| x == c)
                .expect("a coding of ALL");
            rep = file.siblings[index].as_ref().expect("available");
            coding = Some(c.name());
        }
    }
    // `Content-Range`'s value, formatted here so the fields can borrow it.
    let mut range_value = [0u8; 64];
    let mut fields = Headers::new(file, rep, coding, store);
    let validators = Validators {
        etag: &rep.etag,
        last_modified: rep.modified,
    };
    let verdict = if has_precondition(head.raw) {
        conditional::evaluate(&Preconditions::of(head.raw), &validators, is_get)
    } else {
        Verdict::Proceed { range: true }
    };
    let range_allowed = match verdict {
        Verdict::Failed => {
            let status = StatusCode::PreconditionFailed;
            let body = status.reason_body();
            fields.content_only();
            return fixed(
                output,
                ctx,
                status,
                b"text/plain",
                body,
                connection,
                &fields,
                head,
            );
        }
        Verdict::NotModified => {
            // No body, no length: what a 200 would have carried, less the content.
            fields.validators_only();
            let response = ResponseHead {
                status: StatusCode::NotModified,
                content_type: None,
                framing: Framing::None,
                connection,
                allow: None,
            };
            routes::note_reply(ctx, 304, 0);
            response.write_with(output.bytes(), ctx.date, fields.as_slice());
            return Reply::Sent;
        }
        Verdict::Proceed { range } => range,
    };
    // RFC 9110 §14.2: only a GET has its Range honoured (a HEAD gets the 200's head).
    let ranges = if is_get && range_allowed {
        Fields::find(head.raw, b"range")
            .and_then(|f| {
                let mut values = f.values();
                let first = values.next()?;
                values.next().is_none().then_some(first)
            })
            .map_or(Ranges::Whole, |value| range::resolve(value, rep.size))
    } else {
        Ranges::Whole
    };
    let content_type = file.content_type;
    let with_body = head.method != Method::Head;
    match ranges {
        Ranges::Whole => {
            // An empty file has no byte to send (and no last position).
            let span = (rep.size > 0).then(|| Span {
                start: 0,
                end: rep.size - 1,
            });
            single(
                output,
                ctx,
                StatusCode::Ok,
                content_type,
                rep,
                span,
                connection,
                &fields,
                with_body,
            )
        }
        Ranges::One(span) => {
            let n = content_range(&mut range_value, Some(span), rep.size);
            fields.push(b"Content-Range", &range_value[..n]);
            single(
                output,
                ctx,
                StatusCode::PartialContent,
                content_type,
                rep,
                Some(span),
                connection,
                &fields,
                with_body,
            )
        }
        Ranges::Many(spans) => multipart(
            output,
            ctx,
            content_type,
            rep,
            &spans,
            connection,
            &fields,
            with_body,
        ),
        Ranges::Unsatisfiable => {
            let n = content_range(&mut range_value, None, rep.size);
            fields.content_only();
            fields.push(b"Content-Range", &range_value[..n]);
            let status = StatusCode::RangeNotSatisfiable;
            fixed(
                output,
                ctx,
                status,
                b"text/plain",
                status.reason_body(),
                connection,
                &fields,
                head,
            )
        }
    }
}

/// True if the head may hold a precondition (an `If-…` field): most requests have none, and
/// are spared the scan for five names.
fn has_precondition(raw: &[u8]) -> bool {
    raw.windows(4)
        .any(|w| w[0] == b'\n' && w[1..3].eq_ignore_ascii_case(b"if") && w[3] == b'-')
}

/// The fields of a file answer besides the framing, borrowed from the file and the store:
/// an answer builds its head without allocating.
struct Headers<'a> {
    list: [(&'static [u8], &'a [u8]); 8],
    len: usize,
}

impl<'a> Headers<'a> {
    fn new(
        file: &'a File,
        rep: &'a File,
        coding: Option<&'static [u8]>,
        store: &'a FileStore,
    ) -> Headers<'a> {
        let mut h = Headers {
            list: [(b"", b""); 8],
            len: 0,
        };
        h.push(b"Last-Modified", &rep.last_modified);
        h.push(b"ETag", &rep.etag);
        h.push(b"Accept-Ranges", b"bytes");
        if file.has_siblings() {
            h.push(b"Vary", b"Accept-Encoding");
        }
        if let Some(coding) = coding {
            h.push(b"Content-Encoding", coding);
        }
        if let Some(cc) = &store.cache_control {
            h.push(b"Cache-Control", cc);
        }
        if file.unknown_type {
            h.push(b"X-Content-Type-Options", b"nosniff");
        }
        h
    }

    fn push(&mut self, name: &'static [u8], value: &'a [u8]) {
        self.list[self.len] = (name, value);
        self.len += 1;
    }

    fn retain(&mut self, keep: impl Fn(&[u8]) -> bool) {
        let mut kept = 0;
        for i in 0..self.len {
            if keep(self.list[i].0) {
                self.list[kept] = self.list[i];
                kept += 1;
            }
        }
        self.len = kept;
    }

    /// A 304 carries the validators and what varies, not the content's description.
    fn validators_only(&mut self) {
        self.retain(|name| {
            matches!(
                name,
                b"Last-Modified" | b"ETag" | b"Vary" | b"Cache-Control"
            )
        });
    }

    /// A 412 or 416 describes no representation: only what varies.
    fn content_only(&mut self) {
        self.retain(|name| matches!(name, b"Vary" | b"Cache-Control"));
    }

    fn as_slice(&self) -> &[(&'static [u8], &'a [u8])] {
        &self.list[..self.len]
    }
}

/// A short answer with a body of its own (412, 416).
#[allow(clippy::too_many_arguments)]
fn fixed(
    output: &mut Output,
    ctx: &Context<'_>,
    status: StatusCode,
    content_type: &[u8],
    body: &[u8],
    connection: ConnectionHeader,
    fields: &Headers<'_>,
    head: &Head<'_>,
) -> Reply {
    let response = ResponseHead {
        status,
        content_type: Some(content_type),
        framing: Framing::Length(body.len() as u64),
        connection,
        allow: None,
    };
    routes::note_reply(ctx, status.code(), body.len() as u64);
    response.write_with(output.bytes(), ctx.date, fields.as_slice());
    if head.method != Method::Head {
        output.bytes().extend_from_slice(body);
    }
    Reply::Sent
}

/// 200 or 206 with one range (`None`: an empty file).
#[allow(clippy::too_many_arguments)]
fn single(
    output: &mut Output,
    ctx: &Context<'_>,
    status: StatusCode,
    content_type: &[u8],
    rep: &File,
    span: Option<Span>,
    connection: ConnectionHeader,
    fields: &Headers<'_>,
    with_body: bool,
) -> Reply {
    let len = span.map_or(0, |s| s.len());
    let response = ResponseHead {
        status,
        content_type: Some(content_type),
        framing: Framing::Length(len),
        connection,
        allow: None,
    };
    routes::note_reply(ctx, status.code(), len);
    response.write_with(output.bytes(), ctx.date, fields.as_slice());
    let Some(span) = span.filter(|_| with_body) else {
        return Reply::Sent;
    };
    // A cached small file that fits is copied: the answer leaves in one `send`.
    let cached = rep
        .bytes
        .as_ref()
        .filter(|_| (len as usize) + HEAD_ROOM <= output.inline_room());
    match cached {
        Some(bytes) => {
            output
                .bytes()
                .extend_from_slice(&bytes[span.start as usize..=span.end as usize]);
        }
        None => output.attach_file(Rc::clone(&rep.fd), span.start, len),
    }
    Reply::Sent
}

/// 206 `multipart/byteranges`: each part's head, then its bytes from the file, then the close
/// delimiter, with the exact Content-Length of the whole.
#[allow(clippy::too_many_arguments)]
fn multipart(
    output: &mut Output,
    ctx: &Context<'_>,
    content_type: &[u8],
    rep: &File,
    spans: &[Span],
    connection: ConnectionHeader,
    fields: &Headers<'_>,
    with_body: bool,
) -> Reply {
    let boundary = boundary();
    let part_head = |first: bool, span: Span| {
        let mut b = Buf::new();
        if !first {
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--");
        b.extend_from_slice(&boundary);
        b.extend_from_slice(b"\r\nContent-Type: ");
        b.extend_from_slice(content_type);
        b.extend_from_slice(b"\r\nContent-Range: ");
        let mut value = [0u8; 64];
        let n = content_range(&mut value, Some(span), rep.size);
        b.extend_from_slice(&value[..n]);
        b.extend_from_slice(b"\r\n\r\n");
        b.filled().to_vec()
    };
    let mut close = b"\r\n--".to_vec();
    close.extend_from_slice(&boundary);
    close.extend_from_slice(b"--\r\n");
    let heads: Vec<Vec<u8>> = spans
        .iter()
        .enumerate()
        .map(|(i, &s)| part_head(i == 0, s))
        .collect();
    let total = heads.iter().map(|h| h.len() as u64).sum::<u64>()
        + spans.iter().map(Span::len).sum::<u64>()
        + close.len() as u64;
    let mut media = b"multipart/byteranges; boundary=".to_vec();
    media.extend_from_slice(&boundary);
    let response = ResponseHead {
        status: StatusCode::PartialContent,
        content_type: Some(&media),
        framing: Framing::Length(total),
        connection,
        allow: None,
    };
    routes::note_reply(ctx, 206, total);
    response.write_with(output.bytes(), ctx.date, fields.as_slice());
    if with_body {
        // The part heads are small and bounded (`range::MAX_RANGES` of them): a per-connection
        // constant, not charged to the budget.
        for (part_head, span) in heads.into_iter().zip(spans) {
            let _ = output.attach(part_head, 0, 0);
            output.attach_file(Rc::clone(&rep.fd), span.start, span.len());
        }
        let _ = output.attach(close, 0, 0);
    }
    Reply::Sent
}

/// Writes `bytes first-last/len` (or `bytes */len` for an unsatisfiable range) into `out`;
/// returns its length (at most 6 + 3 × 20 + 2 bytes).
pub(super) fn content_range(out: &mut [u8; 64], span: Option<Span>, len: u64) -> usize {
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(b"bytes ");
    match span {
        Some(s) => {
            put(super::response::decimal(s.start, &mut [0; 20]));
            put(b"-");
            put(super::response::decimal(s.end, &mut [0; 20]));
        }
        None => put(b"*"),
    }
    put(b"/");
    put(super::response::decimal(len, &mut [0; 20]));
    at
}

/// A multipart boundary: 20 random hex digits, so a file's bytes cannot be guessed to
/// contain it.
pub(super) fn boundary() -> [u8; 20] {
    crate::rand::hex::<20>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditions_are_spotted_cheaply() {
        assert!(has_precondition(
            b"GET / HTTP/1.1\r\nIf-None-Match: x\r\n\r\n"
        ));
        assert!(has_precondition(
            b"GET / HTTP/1.1\r\nHost: a\r\nif-range: x\r\n\r\n"
        ));
        assert!(!has_precondition(b"GET /if-x HTTP/1.1\r\nHost: a\r\n\r\n"));
    }

    #[test]
    fn boundaries_differ() {
        let (a, b) = (boundary(), boundary());
        assert_ne!(a, b);
        assert!(a.iter().all(u8::is_ascii_hexdigit));
    }
}
