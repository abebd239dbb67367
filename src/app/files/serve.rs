//! Serving `--root`: for a GET or HEAD of a file, which representation (the file or a
//! precompressed sibling), whether the preconditions hold, which ranges, and which headers.
//! The store finds and opens the file; the protocol sends its bytes (with `sendfile` where it
//! can). Nothing here touches a descriptor.

use std::rc::Rc;
use std::time::Instant;

use super::store::{File, FileStore, Lookup};
use crate::app::compress::{self, Input};
use crate::app::text;
use crate::http::conditional::{self, Preconditions, Validators, Verdict};
use crate::http::encoding::{Accepted, Coding};
use crate::http::range::{self, boundary, content_range, Ranges, Span};
use crate::http::{Body, Exchange, Field, Length, Method, Reply, Request, Respond};
use crate::http::{ResponseHead, Segment, StatusCode};

/// What a file resource allows.
const ALLOW: &[u8] = b"GET, HEAD, OPTIONS";

/// Answers a request for a path under `--root`.
pub(in crate::app) fn respond(
    store: &mut FileStore,
    req: &Request<'_>,
    ex: &Exchange<'_>,
    res: &mut dyn Respond,
) -> Reply {
    if !req.method.is_get_like() {
        return text::other_method(req, res, ALLOW);
    }
    match store.lookup(req.path, ex.now) {
        Lookup::File(f) => serve(req, store, &f, ex.now, res),
        Lookup::Redirect(location) => redirect(req, location, res),
        Lookup::NotFound => match fallback(store, req, ex) {
            Some(f) => serve(req, store, &f, ex.now, res),
            None => error(store, ex, res, StatusCode::NotFound),
        },
        Lookup::Forbidden => error(store, ex, res, StatusCode::Forbidden),
        Lookup::BadPath => status_text(res, StatusCode::BadRequest),
        Lookup::Unavailable => error(store, ex, res, StatusCode::ServiceUnavailable),
        Lookup::Listing => super::listing::respond(store, req, ex, res),
    }
}

/// `--fallback`'s file, if it applies to this missing path: the last segment has no
/// extension (`/app/settings`, not `/app.js`), and the client takes HTML (no `Accept`, or one
/// that lists `text/html` or `*/*`), so an API call for JSON still learns the path is missing.
fn fallback(store: &mut FileStore, req: &Request<'_>, ex: &Exchange<'_>) -> Option<Rc<File>> {
    store.fallback.as_ref()?;
    let last = req.path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    if last.contains(&b'.') {
        return None;
    }
    let takes_html = req
        .accept_names(b"text/html")
        .is_none_or(|html| html || req.accept_names(b"*/*") == Some(true));
    if !takes_html {
        return None;
    }
    // Taken out for the look-up (which needs the store), and put back: nothing allocated.
    let page = store.fallback.take()?;
    let found = store.lookup(&page, ex.now);
    store.fallback = Some(page);
    match found {
        Lookup::File(f) => Some(f),
        _ => None,
    }
}

/// An error answered with `--error-page`'s file for `status` (its content, that status, no
/// validators: it describes the error, not a resource), else the plain text.
fn error(
    store: &mut FileStore,
    ex: &Exchange<'_>,
    res: &mut dyn Respond,
    status: StatusCode,
) -> Reply {
    let Some(i) = store
        .error_pages
        .iter()
        .position(|(code, _)| *code == status.code())
    else {
        return status_text(res, status);
    };
    // Taken out for the look-up (which needs the store), and put back: nothing allocated.
    let page = std::mem::take(&mut store.error_pages[i].1);
    let found = store.lookup(&page, ex.now);
    store.error_pages[i].1 = page;
    let Lookup::File(f) = found else {
        return status_text(res, status);
    };
    let mut fields = Headers::new(&f, &f, &f.etag, None, store);
    // What varies, and nothing of the files' caching policy or validators: it is an error.
    fields.retain(|name| name == b"Vary");
    let span = (f.size > 0).then(|| Span {
        start: 0,
        end: f.size - 1,
    });
    single(res, status, f.content_type, &f, span, &fields)
}

/// `/` under `--root`: its index file, if it has one (looked up once, here); `None` leaves
/// `/` to the hello.
pub(in crate::app) fn respond_root(
    store: &mut FileStore,
    req: &Request<'_>,
    ex: &Exchange<'_>,
    res: &mut dyn Respond,
) -> Option<Reply> {
    let f = match store.lookup(b"/", ex.now) {
        Lookup::File(f) => f,
        Lookup::Listing if req.method.is_get_like() => {
            return Some(super::listing::respond(store, req, ex, res))
        }
        Lookup::Listing => return Some(text::other_method(req, res, ALLOW)),
        _ => return None,
    };
    Some(if req.method.is_get_like() {
        serve(req, store, &f, ex.now, res)
    } else {
        text::other_method(req, res, ALLOW)
    })
}

fn status_text(res: &mut dyn Respond, status: StatusCode) -> Reply {
    text::send(res, status, status.reason_body())
}

/// 301 to the directory's slash form, the query kept.
fn redirect(req: &Request<'_>, mut location: Vec<u8>, res: &mut dyn Respond) -> Reply {
    if !req.query.is_empty() {
        location.push(b'?');
        location.extend_from_slice(req.query);
    }
    let status = StatusCode::MovedPermanently;
    let body = status.reason_body();
    let head = ResponseHead {
        fields: &[&[(b"Location", &location)]],
        ..ResponseHead::new(
            status,
            Some(b"text/plain"),
            Length::Exactly(body.len() as u64),
        )
    };
    text::reply(res.send(&head, Body::Copy(&[body])))
}

/// A file that exists: preconditions, representation, ranges.
fn serve(
    req: &Request<'_>,
    store: &FileStore,
    file: &Rc<File>,
    now: Instant,
    res: &mut dyn Respond,
) -> Reply {
    let is_get = req.method == Method::Get;
    // The representation: a precompressed sibling the client accepts, else the file, which
    // `--compress` may compress on the fly (a file with siblings is left to them).
    let mut coding = None;
    let mut rep = file;
    let mut on_the_fly = None;
    let policy = store.compress.as_deref();
    let policy = policy.filter(|p| !file.has_siblings() && p.applies(file.content_type, file.size));
    if file.has_siblings() {
        let accepted = Accepted::of(req.fields.named(b"accept-encoding"));
        let available = [0, 1, 2].map(|i| file.siblings[i].is_some());
        if let Some(c) = accepted.choose(available) {
            rep = file.siblings[c.index()].as_ref().expect("available");
            coding = Some(c.name());
        }
    } else if let Some(policy) = policy {
        // A range is served from the identity representation only (as nginx does): a
        // request with a Range field gets its bytes, with the strong validator.
        let ranged = is_get && req.fields.named(b"range").is_some();
        if !ranged {
            on_the_fly = policy.choose(req.fields);
            coding = on_the_fly.map(Coding::name);
        }
    }
    // A compressed body is not byte-for-byte the same at every level and version: its
    // entity-tag is the file's, weak (RFC 9110 §8.8.3), so `If-None-Match` with either
    // still gives 304, and `If-Match` and `If-Range` never match it.
    let mut weak = [0u8; 128];
    let etag: &[u8] = match on_the_fly {
        Some(_) => {
            let n = rep.etag.len() + 2;
            weak[..2].copy_from_slice(b"W/");
            weak[2..n].copy_from_slice(&rep.etag);
            &weak[..n]
        }
        None => &rep.etag,
    };
    // `Content-Range`'s value, formatted here so the fields can borrow it.
    let mut range_value = [0u8; 64];
    let mut fields = Headers::new(file, rep, etag, coding, store);
    if policy.is_some() {
        fields.push(compress::VARY.0, compress::VARY.1);
    }
    if on_the_fly.is_some() {
        // Ranges are not offered on the compressed body (they are over the file's bytes).
        fields.retain(|name| name != b"Accept-Ranges");
    }
    let validators = Validators {
        etag,
        last_modified: rep.modified,
    };
    // Most requests have no `If-` field, and are spared the scan for five names.
    let verdict = if req.fields.may_have_prefix(b"if-") {
        conditional::evaluate(&Preconditions::of(req.fields), &validators, is_get)
    } else {
        Verdict::Proceed { range: true }
    };
    let range_allowed = match verdict {
        Verdict::Failed => {
            fields.content_only();
            let status = StatusCode::PreconditionFailed;
            return fixed(res, status, status.reason_body(), &fields);
        }
        Verdict::NotModified => {
            // No body, no length: what a 200 would have carried, less the content.
            fields.validators_only();
            let head = ResponseHead {
                fields: &[fields.as_slice()],
                ..ResponseHead::new(StatusCode::NotModified, None, Length::Bodiless)
            };
            return text::reply(res.send(&head, Body::Empty));
        }
        Verdict::Proceed { range } => range,
    };
    // RFC 9110 §14.2: only a GET has its Range honoured (a HEAD gets the 200's head).
    let ranges = if is_get && range_allowed {
        req.fields
            .named(b"range")
            .and_then(|f| f.single())
            .map_or(Ranges::Whole, |value| range::resolve(value, rep.size))
    } else {
        Ranges::Whole
    };
    let content_type = file.content_type;
    if let (Some(c), Some(policy)) = (on_the_fly, policy) {
        let head = ResponseHead {
            fields: &[fields.as_slice()],
            ..ResponseHead::new(
                StatusCode::Ok,
                Some(content_type),
                Length::Exactly(rep.size),
            )
        };
        let input = Input::File {
            fd: &rep.fd,
            len: rep.size,
            cached: rep.bytes.as_deref(),
        };
        return match compress::send(policy, res, &head, c, input, !is_get, now) {
            // It shrank since it was described: as when the file cannot be opened.
            compress::Outcome::Unreadable => status_text(res, StatusCode::ServiceUnavailable),
            sent => sent.reply(),
        };
    }
    match ranges {
        Ranges::Whole => {
            // An empty file has no byte to send (and no last position).
            let span = (rep.size > 0).then(|| Span {
                start: 0,
                end: rep.size - 1,
            });
            single(res, StatusCode::Ok, content_type, rep, span, &fields)
        }
        Ranges::One(span) => {
            let n = content_range(&mut range_value, Some(span), rep.size);
            fields.push(b"Content-Range", &range_value[..n]);
            let status = StatusCode::PartialContent;
            single(res, status, content_type, rep, Some(span), &fields)
        }
        Ranges::Many(spans) => multipart(res, content_type, rep, &spans, &fields),
        Ranges::Unsatisfiable => {
            let n = content_range(&mut range_value, None, rep.size);
            fields.content_only();
            fields.push(b"Content-Range", &range_value[..n]);
            let status = StatusCode::RangeNotSatisfiable;
            fixed(res, status, status.reason_body(), &fields)
        }
    }
}

/// The fields of a file answer besides the framing, borrowed from the file and the store:
/// an answer builds its head without allocating.
struct Headers<'a> {
    list: [Field<'a>; 10],
    len: usize,
}

impl<'a> Headers<'a> {
    /// `etag` is the representation's (a sibling's own, or the file's, weak when compressed
    /// on the fly).
    fn new(
        file: &'a File,
        rep: &'a File,
        etag: &'a [u8],
        coding: Option<&'static [u8]>,
        store: &'a FileStore,
    ) -> Headers<'a> {
        let mut h = Headers {
            list: [(b"", b""); 10],
            len: 0,
        };
        h.push(b"Last-Modified", &rep.last_modified);
        h.push(b"ETag", etag);
        h.push(b"Accept-Ranges", b"bytes");
        if file.has_siblings() {
            h.push(b"Vary", b"Accept-Encoding");
        }
        if let Some(coding) = coding {
            h.push(b"Content-Encoding", coding);
        }
        if let Some(cc) = store.cache_control_for_last() {
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

    fn as_slice(&self) -> &[Field<'a>] {
        &self.list[..self.len]
    }
}

/// A short answer with a text body of its own (412, 416).
fn fixed(res: &mut dyn Respond, status: StatusCode, body: &[u8], fields: &Headers<'_>) -> Reply {
    let head = ResponseHead {
        fields: &[fields.as_slice()],
        ..ResponseHead::new(
            status,
            Some(b"text/plain"),
            Length::Exactly(body.len() as u64),
        )
    };
    text::reply(res.send(&head, Body::Copy(&[body])))
}

/// 200 or 206 with one range (`None`: an empty file).
fn single(
    res: &mut dyn Respond,
    status: StatusCode,
    content_type: &[u8],
    rep: &File,
    span: Option<Span>,
    fields: &Headers<'_>,
) -> Reply {
    let len = span.map_or(0, |s| s.len());
    let head = ResponseHead {
        fields: &[fields.as_slice()],
        ..ResponseHead::new(status, Some(content_type), Length::Exactly(len))
    };
    let body = match span {
        None => Body::Empty,
        Some(span) => Body::File {
            fd: Rc::clone(&rep.fd),
            offset: span.start,
            len,
            // A cached small file is copied when it fits: the answer leaves in one `send`.
            cached: rep
                .bytes
                .as_ref()
                .map(|bytes| &bytes[span.start as usize..=span.end as usize]),
        },
    };
    text::reply(res.send(&head, body))
}

/// 206 `multipart/byteranges`: each part's head, then its bytes from the file, then the close
/// delimiter, with the exact Content-Length of the whole.
fn multipart(
    res: &mut dyn Respond,
    content_type: &[u8],
    rep: &File,
    spans: &[Span],
    fields: &Headers<'_>,
) -> Reply {
    let boundary = boundary();
    let part_head = |first: bool, span: Span| {
        let mut b = Vec::with_capacity(128);
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
        b
    };
    let mut close = b"\r\n--".to_vec();
    close.extend_from_slice(&boundary);
    close.extend_from_slice(b"--\r\n");
    // The part heads are small and bounded (`range::MAX_RANGES` of them): a per-connection
    // constant, not charged to the budget.
    let mut segments = Vec::with_capacity(spans.len() * 2 + 1);
    let mut total = 0;
    for (i, &span) in spans.iter().enumerate() {
        let head = part_head(i == 0, span);
        total += head.len() as u64 + span.len();
        segments.push(Segment::Bytes(head));
        segments.push(Segment::File {
            fd: Rc::clone(&rep.fd),
            offset: span.start,
            len: span.len(),
        });
    }
    total += close.len() as u64;
    segments.push(Segment::Bytes(close));
    let mut media = b"multipart/byteranges; boundary=".to_vec();
    media.extend_from_slice(&boundary);
    let head = ResponseHead {
        fields: &[fields.as_slice()],
        ..ResponseHead::new(
            StatusCode::PartialContent,
            Some(&media),
            Length::Exactly(total),
        )
    };
    text::reply(res.send(&head, Body::Segments(segments)))
}

#[cfg(test)]
mod tests {
    use crate::http::FieldLines;

    #[test]
    fn preconditions_are_spotted_cheaply() {
        let lines = |head: &'static [u8]| FieldLines::Head(head);
        assert!(lines(b"GET / HTTP/1.1\r\nIf-None-Match: x\r\n\r\n").may_have_prefix(b"if-"));
        assert!(lines(b"GET / HTTP/1.1\r\nHost: a\r\nif-range: x\r\n\r\n").may_have_prefix(b"if-"));
        assert!(!lines(b"GET /if-x HTTP/1.1\r\nHost: a\r\n\r\n").may_have_prefix(b"if-"));
    }
}
