//! Serving `--root`: for a GET or HEAD of a file, which representation (the file or a
//! precompressed sibling), whether the preconditions hold, which ranges, and which headers.
//! The store finds and opens the file; the protocol sends its bytes (with `sendfile` where it
//! can). Nothing here touches a descriptor.

use std::rc::Rc;

use super::store::{File, FileStore, Lookup};
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
        Lookup::File(f) => serve(req, store, &f, res),
        Lookup::Redirect(location) => redirect(req, location, res),
        Lookup::NotFound => match fallback(store, req, ex) {
            Some(f) => serve(req, store, &f, res),
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
    let mut fields = Headers::new(&f, &f, None, store);
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
        serve(req, store, &f, res)
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
fn serve(req: &Request<'_>, store: &FileStore, file: &Rc<File>, res: &mut dyn Respond) -> Reply {
    let is_get = req.method == Method::Get;
    // The representation: a precompressed sibling the client accepts, else the file.
    let mut coding = None;
    let mut rep = file;
    if file.has_siblings() {
        let accepted = Accepted::of(req.fields.named(b"accept-encoding"));
        let available = [0, 1, 2].map(|i| file.siblings[i].is_some());
        if let Some(c) = accepted.choose(available) {
            let index = Coding::ALL
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
    list: [Field<'a>; 8],
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
