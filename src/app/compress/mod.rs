//! `--compress`: bodies compressed on the fly with gzip, brotli or zstd, whichever the
//! request's `Accept-Encoding` prefers (`http::encoding`), for the listed types above a
//! minimum size.
//!
//! Two ways in, one way out:
//! - files (`files/serve.rs`) decide here whether a file has compressed representations
//!   ([`Compression::applies`]), and then choose one themselves, since their validators and
//!   ranges depend on it; they send it with [`send`];
//! - every other answer whose body is in memory (httpbin's JSON, listings, `/metrics`) goes
//!   through [`Compressing`], a [`Respond`] the application puts between its routes and the
//!   protocol, which does the same to the head and body a route sends.
//!
//! [`send`] compresses a body up to [`WHOLE`] at once (sent with `Content-Length`; a HEAD is
//! compressed too, so its length is the GET's) and a larger one as it is written, in bounded
//! steps ([`stream::Stream`], sent chunked to HTTP/1.1 and close-delimited to HTTP/1.0),
//! holding only its encoder, whose size ([`codec::state_bytes`]) is reserved in the worker's
//! budget first: when the budget has no room, the answer waits its turn like any other body.
//!
//! Everything here is protocol-neutral: an `Open` length is the protocol's to frame.

mod codec;
mod stream;

use std::cell::RefCell;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::Instant;

use self::codec::{compress_whole, state_bytes, Encoder};
use self::stream::{Source, Stream};
pub(crate) use crate::config::CompressLevels as Levels;
use crate::config::CompressOptions;
use crate::http::encoding::{Accepted, Coding};
use crate::http::{
    Body, Field, FieldLines, Length, NoRoom, OwnedHead, Producer, Reply, Respond, ResponseHead,
    StatusCode,
};
use crate::sys::file;
use crate::sys::net::IoOutcome;

/// Bodies up to this size are compressed in one step and sent with their length.
pub(crate) const WHOLE: u64 = 64 * 1024;

/// The `Vary` every answer whose representation depends on `Accept-Encoding` carries.
pub(crate) const VARY: Field<'static> = (b"Vary", b"Accept-Encoding");

/// What a worker compresses, and how.
#[derive(Debug)]
pub(crate) struct Compression {
    /// `--compress-types`, lower-case: a whole media type, or `type/` for `type/*`.
    types: Vec<Box<[u8]>>,
    min_size: u64,
    levels: Levels,
}

impl Compression {
    pub(crate) fn new(options: &CompressOptions) -> Compression {
        Compression {
            types: options
                .types
                .iter()
                .map(|t| {
                    let t = t.trim().to_ascii_lowercase();
                    t.strip_suffix('*').unwrap_or(&t).as_bytes().into()
                })
                .collect(),
            min_size: options.min_size,
            levels: options.levels,
        }
    }

    /// Whether a body of this type and length has compressed representations (its answers
    /// then vary on `Accept-Encoding`, compressed or not).
    pub(crate) fn applies(&self, content_type: &[u8], len: u64) -> bool {
        len >= self.min_size && self.type_listed(content_type)
    }

    fn type_listed(&self, content_type: &[u8]) -> bool {
        let media = content_type
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        self.types.iter().any(|t| {
            if t.ends_with(b"/") {
                media.len() > t.len() && media[..t.len()].eq_ignore_ascii_case(t)
            } else {
                media.eq_ignore_ascii_case(t)
            }
        })
    }

    /// The coding the request prefers among the three, `None` for identity.
    pub(crate) fn choose(&self, fields: FieldLines<'_>) -> Option<Coding> {
        Accepted::of(fields.named(b"accept-encoding")).choose([true; 3])
    }
}

/// The most one compressing answer holds at `levels` (its encoder), for checking the
/// options against the budget.
pub(crate) fn largest_state(levels: Levels) -> u64 {
    Coding::ALL
        .iter()
        .map(|&c| state_bytes(c, levels))
        .max()
        .unwrap_or(0)
}

/// Where the body to compress is.
pub(crate) enum Input<'a> {
    /// Borrowed parts one after another (`Body::Copy`).
    Parts(&'a [&'a [u8]]),
    Owned(Vec<u8>),
    Static(&'static [u8]),
    /// A file's first `len` bytes, and its bytes if the cache holds them.
    File {
        fd: &'a Rc<OwnedFd>,
        len: u64,
        cached: Option<&'a [u8]>,
    },
}

impl<'a> Input<'a> {
    fn len(&self) -> u64 {
        match self {
            Input::Parts(parts) => parts.iter().map(|p| p.len() as u64).sum(),
            Input::Owned(v) => v.len() as u64,
            Input::Static(s) => s.len() as u64,
            Input::File { len, .. } => *len,
        }
    }

    /// The body as it was given (a file is not: files are sent by their own route).
    fn into_body(self) -> Body<'a> {
        match self {
            Input::Parts(parts) => Body::Copy(parts),
            Input::Static(s) => Body::Static(s),
            Input::Owned(v) => Body::Owned(v),
            Input::File { .. } => Body::Empty,
        }
    }
}

/// What [`send`] came to.
pub(crate) enum Outcome {
    /// Sent through the [`Respond`] (or refused there), or waiting for memory.
    Sent(Result<(), NoRoom>),
    /// The rest goes out over time.
    Produce(Box<Producer>),
    /// The file could not be read (it shrank since it was described): nothing was sent.
    Unreadable,
}

impl Outcome {
    pub(crate) fn reply(self) -> Reply {
        match self {
            Outcome::Sent(Ok(()) | Err(NoRoom::Refused)) => Reply::Sent,
            Outcome::Sent(Err(NoRoom::Wait)) => Reply::NeedMemory(None),
            Outcome::Produce(p) => Reply::Produce(p),
            Outcome::Unreadable => Reply::Sent,
        }
    }
}

/// The worker's space for small bodies: a file read whole, and what it compresses to.
#[derive(Default)]
struct Whole {
    input: Vec<u8>,
    output: Vec<u8>,
}

thread_local! {
    static WHOLE_SCRATCH: RefCell<Whole> = RefCell::new(Whole::default());
}

/// Sends `input` compressed with `coding` under `head` (whose fields already say
/// `Content-Encoding`, `Vary` and the validators; its length is replaced): at once up to
/// [`WHOLE`], else as a producer (after reserving its encoder). `head_only` for a HEAD.
pub(crate) fn send(
    policy: &Compression,
    res: &mut dyn Respond,
    head: &ResponseHead<'_>,
    coding: Coding,
    input: Input<'_>,
    head_only: bool,
    now: Instant,
) -> Outcome {
    let len = input.len();
    if len <= WHOLE {
        return WHOLE_SCRATCH.with(|cell| {
            let mut cell = cell.borrow_mut();
            let Whole {
                input: scratch,
                output,
            } = &mut *cell;
            let bytes: &[u8] = match &input {
                Input::Parts([one]) => one,
                Input::Owned(v) => v,
                Input::Static(s) => s,
                Input::Parts(parts) => {
                    scratch.clear();
                    parts.iter().for_each(|p| scratch.extend_from_slice(p));
                    scratch
                }
                Input::File {
                    cached: Some(c), ..
                } => c,
                Input::File { fd, len, .. } => {
                    if read_file(fd, *len as usize, scratch).is_err() {
                        return Outcome::Unreadable;
                    }
                    scratch
                }
            };
            output.clear();
            if compress_whole(coding, policy.levels, bytes, output).is_err() {
                return Outcome::Unreadable;
            }
            let head = ResponseHead {
                length: Length::Exactly(output.len() as u64),
                ..*head
            };
            let sent = res.send(&head, Body::Copy(&[output]));
            // Scratch grown by an odd body is not kept.
            if output.capacity() > 4 * WHOLE as usize {
                *output = Vec::new();
            }
            Outcome::Sent(sent)
        });
    }
    let head = ResponseHead {
        length: Length::Open,
        ..*head
    };
    if head_only {
        return Outcome::Sent(res.send(&head, Body::Empty));
    }
    // The body's own memory: already in the route's hands (a file, a static), or reserved
    // with the encoder's (a body rendered for this answer).
    let (source, body_bytes) = match input {
        Input::File { fd, .. } => (Source::File(Rc::clone(fd)), 0),
        Input::Static(s) => (Source::Static(s), 0),
        Input::Parts(parts) => (Source::Bytes(parts.concat()), len as usize),
        Input::Owned(v) => {
            let n = v.capacity();
            (Source::Bytes(v), n)
        }
    };
    let owned = OwnedHead::of(&head);
    let charge = state_bytes(coding, policy.levels) + (owned.size() + body_bytes) as u64;
    if let Err(no_room) = res.reserve(charge) {
        return Outcome::Sent(Err(no_room));
    }
    let Ok(encoder) = Encoder::take(coding, policy.levels, len) else {
        // Never with the levels the options allow; the charge goes back with the producer.
        let producer = Producer::new(owned, now, Vec::new(), None, charge);
        return Outcome::Produce(Box::new(producer));
    };
    let body = Stream::new(encoder, source, len, coding, policy.levels);
    let producer = Producer::new(owned, now, Vec::new(), Some(Box::new(body)), charge);
    Outcome::Produce(Box::new(producer))
}

/// Reads a file's first `len` bytes into `buf`.
fn read_file(fd: &OwnedFd, len: usize, buf: &mut Vec<u8>) -> Result<(), ()> {
    buf.clear();
    buf.resize(len, 0);
    let mut at = 0;
    while at < len {
        match file::read_at(fd.as_fd(), &mut buf[at..], at as u64) {
            IoOutcome::Done(n) => at += n,
            _ => return Err(()),
        }
    }
    Ok(())
}

/// A [`Respond`] that compresses what routes send, when the body is in memory and its type
/// and size are listed (see the module's doc). A body already reserved in the budget (a large
/// echo) is sent as it is: its memory is the route's, and compressing it would need more.
pub(crate) struct Compressing<'a, 'r> {
    inner: &'a mut dyn Respond,
    policy: &'a Compression,
    fields: FieldLines<'r>,
    head_only: bool,
    now: Instant,
    /// A large body's producer, handed to the protocol by [`Compressing::finish`].
    produce: Option<Box<Producer>>,
}

impl<'a, 'r> Compressing<'a, 'r> {
    pub(crate) fn new(
        policy: &'a Compression,
        req: &crate::http::Request<'r>,
        now: Instant,
        inner: &'a mut dyn Respond,
    ) -> Self {
        Compressing {
            inner,
            policy,
            fields: req.fields,
            head_only: req.is_head(),
            now,
            produce: None,
        }
    }

    /// The route's reply, or the producer of the compressed body it sent.
    pub(crate) fn finish(self, reply: Reply) -> Reply {
        match self.produce {
            Some(p) => Reply::Produce(p),
            None => reply,
        }
    }
}

/// True for the answers whose content may be compressed: a status with a body that is not
/// a part of one (206) and not already encoded.
fn eligible(head: &ResponseHead<'_>) -> bool {
    head.status.allows_body()
        && head.status != StatusCode::PartialContent
        && !head.each_field().any(|(name, _)| {
            name.eq_ignore_ascii_case(b"content-encoding")
                || name.eq_ignore_ascii_case(b"content-range")
        })
}

impl Respond for Compressing<'_, '_> {
    fn send(&mut self, head: &ResponseHead<'_>, body: Body<'_>) -> Result<(), NoRoom> {
        let Length::Exactly(len) = head.length else {
            return self.inner.send(head, body);
        };
        let listed = head
            .content_type
            .is_some_and(|ct| self.policy.applies(ct, len));
        if !listed || !eligible(head) {
            return self.inner.send(head, body);
        }
        let input = match body {
            Body::Copy(parts) => Input::Parts(parts),
            Body::Static(s) => Input::Static(s),
            Body::Owned(v) => Input::Owned(v),
            body => return with_fields(head, &[VARY], |head| self.inner.send(head, body)),
        };
        let Some(coding) = self.policy.choose(self.fields) else {
            let body = input.into_body();
            return with_fields(head, &[VARY], |head| self.inner.send(head, body));
        };
        // A strong validator of the identity body would be wrong for the compressed one: it
        // becomes weak (RFC 9110 §8.8.3).
        let mut weak: Vec<u8> = Vec::new();
        let weakened: Vec<Field<'_>>;
        let strong = head
            .each_field()
            .any(|(n, v)| n.eq_ignore_ascii_case(b"etag") && v.starts_with(b"\""));
        let groups: [&[Field<'_>]; 1];
        let base = if strong {
            for (n, v) in head.each_field() {
                if n.eq_ignore_ascii_case(b"etag") && v.starts_with(b"\"") {
                    weak = [&b"W/"[..], v].concat();
                }
            }
            weakened = head
                .each_field()
                .map(|(n, v)| {
                    if n.eq_ignore_ascii_case(b"etag") {
                        (n, &weak[..])
                    } else {
                        (n, v)
                    }
                })
                .collect();
            groups = [&weakened];
            ResponseHead {
                fields: &groups,
                ..*head
            }
        } else {
            *head
        };
        let fields = [VARY, (b"Content-Encoding", coding.name())];
        let (policy, head_only, now) = (self.policy, self.head_only, self.now);
        let sent = with_fields(&base, &fields, |head| {
            send(policy, self.inner, head, coding, input, head_only, now)
        });
        match sent {
            Outcome::Sent(result) => result,
            Outcome::Produce(p) => {
                self.produce = Some(p);
                Ok(())
            }
            Outcome::Unreadable => Ok(()),
        }
    }

    fn reserve(&mut self, bytes: u64) -> Result<(), NoRoom> {
        self.inner.reserve(bytes)
    }

    fn interim(&mut self, status: StatusCode) {
        self.inner.interim(status);
    }

    fn close_after(&mut self) {
        self.inner.close_after();
    }
}

/// `head` with `extra` fields after its own (a handful of groups: kept on the stack).
fn with_fields<T>(
    head: &ResponseHead<'_>,
    extra: &[Field<'_>],
    then: impl FnOnce(&ResponseHead<'_>) -> T,
) -> T {
    let mut groups: [&[Field<'_>]; 8] = [&[]; 8];
    let all: Vec<Field<'_>>;
    let fields: &[&[Field<'_>]] = if head.fields.len() < groups.len() {
        let n = head.fields.len();
        groups[..n].copy_from_slice(head.fields);
        groups[n] = extra;
        &groups[..=n]
    } else {
        all = head.each_field().chain(extra.iter().copied()).collect();
        groups[0] = &all;
        &groups[..1]
    };
    then(&ResponseHead { fields, ..*head })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(types: &[&str]) -> Compression {
        Compression::new(&CompressOptions {
            types: types.iter().map(|t| t.to_string()).collect(),
            min_size: 100,
            levels: Levels {
                gzip: 6,
                brotli: 5,
                zstd: 3,
            },
        })
    }

    #[test]
    fn types_and_sizes() {
        let p = policy(&["text/*", "application/json", "image/svg+xml"]);
        assert!(p.applies(b"text/html; charset=utf-8", 100));
        assert!(p.applies(b"TEXT/CSS", 5000));
        assert!(p.applies(b"application/json", 100));
        assert!(p.applies(b" Application/JSON ;x=y", 100));
        assert!(p.applies(b"image/svg+xml", 100));
        assert!(!p.applies(b"text/html", 99), "below the minimum");
        assert!(!p.applies(b"text/", 1000), "no subtype");
        assert!(!p.applies(b"application/json-seq", 1000));
        assert!(!p.applies(b"application/octet-stream", 1000));
        assert!(!p.applies(b"image/png", 1000));
        assert!(!p.applies(b"", 1000));
    }
}
