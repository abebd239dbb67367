//! A response as a handler gives it: a head ([`ResponseHead`]) and a body ([`Body`]), handed
//! to the protocol through [`Respond`]. The protocol decides the wire form: the status line,
//! `Server`, `Date`, the framing and `Connection` for HTTP/1.1.

use std::os::fd::OwnedFd;
use std::rc::Rc;

use super::status::StatusCode;

/// A header field: name and value.
pub type Field<'a> = (&'a [u8], &'a [u8]);

/// How much body a response has, as its head announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// Exactly this many bytes (`Content-Length`).
    Exactly(u64),
    /// Not known up front: the body ends when the protocol says so (HTTP/1.1: chunked, or the
    /// close for an HTTP/1.0 client).
    Open,
    /// No body may follow, and no length is sent: a 1xx, 204 or 304 (a 304's length would have
    /// to be the 200's).
    Bodiless,
}

impl Length {
    /// `Exactly(len)`, or `Bodiless` for a status that may have no body.
    pub fn of(status: StatusCode, len: u64) -> Length {
        if status.allows_body() {
            Length::Exactly(len)
        } else {
            Length::Bodiless
        }
    }

    /// What the access log counts as the body's length: the announced one, else 0.
    pub fn logged(self) -> u64 {
        match self {
            Length::Exactly(n) => n,
            Length::Open | Length::Bodiless => 0,
        }
    }
}

/// Everything in a response head a handler decides; the protocol adds the rest.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'a> {
    pub status: StatusCode,
    pub content_type: Option<&'a [u8]>,
    pub length: Length,
    /// More fields, in groups (so a route can add its own to a family's common ones without
    /// copying either), written in order.
    pub fields: &'a [&'a [Field<'a>]],
}

impl<'a> ResponseHead<'a> {
    pub fn new(status: StatusCode, content_type: Option<&'a [u8]>, length: Length) -> Self {
        ResponseHead {
            status,
            content_type,
            length,
            fields: &[],
        }
    }

    /// Every field of every group, in order.
    pub fn each_field(&self) -> impl Iterator<Item = Field<'a>> + 'a {
        self.fields.iter().flat_map(|group| group.iter().copied())
    }

    /// Bytes the fields and the content type take, for deciding whether a body is copied.
    pub fn size_hint(&self) -> usize {
        self.content_type.map_or(0, <[u8]>::len)
            + self
                .each_field()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>()
    }
}

/// A response body, and where its bytes are.
#[derive(Debug)]
pub enum Body<'a> {
    /// Nothing (a HEAD's answer, a 304, an empty body).
    Empty,
    /// These parts one after another, copied: into the output when they fit, else into memory
    /// reserved in the worker's budget first.
    Copy(&'a [&'a [u8]]),
    /// Built in: copied when it fits, else sent from where it lies.
    Static(&'static [u8]),
    /// Built for this response and not yet reserved: copied when it fits, else kept as it is
    /// once the budget has room for it.
    Owned(Vec<u8>),
    /// Built for this response in memory already reserved ([`Respond::reserve`]).
    Reserved { data: Vec<u8>, charge: u64 },
    /// A span of a file, sent with `sendfile`; `cached` is the span's bytes when they are in
    /// memory (a small file), copied instead when they fit.
    File {
        fd: Rc<OwnedFd>,
        offset: u64,
        len: u64,
        cached: Option<&'a [u8]>,
    },
    /// Small pieces and file spans one after another (`multipart/byteranges`).
    Segments(Vec<Segment>),
    /// The request's own body, back as it came (`/echo`): the protocol sends it from wherever
    /// it holds it, without another copy where it can.
    RequestBody,
}

/// A piece of a [`Body::Segments`] body. The pieces are small and bounded in number (a part's
/// head), so they are not charged to the budget.
#[derive(Debug)]
pub enum Segment {
    Bytes(Vec<u8>),
    File {
        fd: Rc<OwnedFd>,
        offset: u64,
        len: u64,
    },
}

/// Why nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoom {
    /// The body needs memory the budget cannot give yet: nothing was written, and the
    /// connection is queued for it (answer again when it is driven next).
    Wait,
    /// The body is larger than the whole budget could ever hold: a 503 was sent instead.
    Refused,
}

/// Where a handler writes its answer to one request; each protocol implements it.
pub trait Respond {
    /// Sends a whole response. The protocol leaves the body out for a HEAD request and for a
    /// bodiless status, and counts and logs what it sent.
    ///
    /// # Errors
    /// [`NoRoom`] when the body needs memory the budget does not give.
    fn send(&mut self, head: &ResponseHead<'_>, body: Body<'_>) -> Result<(), NoRoom>;

    /// Reserves `bytes` of response memory in the worker's budget for this connection, before
    /// a body ([`Body::Reserved`]) or a [`Producer`](super::Producer) is built in it.
    ///
    /// # Errors
    /// As [`Respond::send`]; on [`NoRoom::Refused`] the 503 is the response.
    fn reserve(&mut self, bytes: u64) -> Result<(), NoRoom>;

    /// Sends an interim (1xx) response before the final one; nothing to a client that does not
    /// know them (HTTP/1.0, RFC 9110 §15.2).
    fn interim(&mut self, status: StatusCode);

    /// The connection ends after this response (a control's `close` fault).
    fn close_after(&mut self);
}

/// A response that never changes but for its `Date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticResponse {
    pub status: StatusCode,
    pub content_type: &'static [u8],
    pub body: &'static [u8],
}

/// What the application promises to answer, always the same way, to one exact request: a GET
/// of `path` (origin form, no query, no marked field, no body) on the main port. A protocol
/// may render the answer once a second and send a copy without asking the handler, which
/// would give the very same bytes (HTTP/1.1 does, for keep-alive `GET /`: its whole cost is
/// then the parse and one copy). The application declares none that a request could change
/// (under `--root`, `/` may be a file; under `--default-params`, every request has controls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticRoute {
    pub path: &'static [u8],
    pub response: StaticResponse,
}
