//! Writing an httpbin answer: the head with httpbin's CORS fields, a body that is copied
//! when small, sent from where it lies when static, or reserved in the worker's budget when
//! large (all three decided by the protocol's [`Respond`]); JSON rendered once into reused
//! scratch space (or, for a large echo, counted first so exactly its size is reserved); and
//! answers that go out over time, as a [`Producer`].

use std::cell::RefMut;
use std::time::Instant;

use super::forms::Pairs;
use super::json::{Count, Json};
use super::request::Request;
use super::Httpbin;
use crate::app::text;
use crate::http::{
    self, reason_phrase, Exchange, Generate, Length, NoRoom, OwnedHead, Producer, Reply, Respond,
    ResponseHead, StatusCode,
};

/// What every endpoint without a narrower list takes.
pub(super) const ALLOW_ANY: &[u8] = b"GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";

/// A request body up to this size is echoed from scratch space in one pass; a larger one is
/// counted first, so memory for exactly its answer is reserved before it is rendered.
const ONE_PASS_BODY: usize = 4096;

/// Scratch space above this is given back after the request that grew it.
const SCRATCH_KEEP: usize = 64 * 1024;

pub(super) const JSON: &[u8] = b"application/json";

pub(super) use crate::http::Field;

/// Space reused across requests.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    json: Vec<u8>,
    pub work: Work,
}

/// What renderers use while the JSON is written.
#[derive(Debug, Default)]
pub(crate) struct Work {
    pub text: Vec<u8>,
    pub pairs: Pairs,
    pub form: Pairs,
    pub files: Pairs,
}

impl Work {
    fn trim(&mut self) {
        for v in [&mut self.text] {
            if v.capacity() > SCRATCH_KEEP {
                *v = Vec::new();
            }
        }
        for p in [&mut self.pairs, &mut self.form, &mut self.files] {
            if p.capacity_bytes() > SCRATCH_KEEP {
                *p = Pairs::new();
            }
        }
    }
}

/// A body to send.
pub(super) enum Body<'b> {
    /// Copied (reserved in the budget first if it does not fit the write buffer).
    Bytes(&'b [u8]),
    /// Built in: sent from where it lies.
    Static(&'static [u8]),
}

/// One answer being written.
pub(super) struct Resp<'r, 'e> {
    pub req: Request<'r>,
    pub ex: &'r Exchange<'e>,
    res: &'r mut dyn Respond,
    pub bin: &'r Httpbin,
    /// False for HEAD: the head says what GET would send, and nothing follows.
    pub with_body: bool,
    cors: [Field<'r>; 2],
    /// How many of `cors` are sent: none when `--cors-origin` sets the policy instead.
    cors_len: usize,
}

impl<'r, 'e> Resp<'r, 'e> {
    pub(super) fn new(
        req: Request<'r>,
        ex: &'r Exchange<'e>,
        res: &'r mut dyn Respond,
        bin: &'r Httpbin,
    ) -> Resp<'r, 'e> {
        // httpbin answers every origin, with credentials: the request's Origin, else `*`.
        let origin = req.field(b"origin").filter(|o| !o.is_empty());
        Resp {
            req,
            ex,
            res,
            bin,
            with_body: !req.head.is_head(),
            cors: [
                (b"Access-Control-Allow-Origin", origin.unwrap_or(b"*")),
                (b"Access-Control-Allow-Credentials", b"true"),
            ],
            cors_len: if bin.options.own_cors { 2 } else { 0 },
        }
    }

    pub(super) fn scratch(&self) -> RefMut<'r, Scratch> {
        self.bin.scratch.borrow_mut()
    }

    /// A whole answer.
    pub(super) fn send(
        &mut self,
        status: StatusCode,
        ct: Option<&[u8]>,
        fields: &[Field],
        body: Body<'_>,
    ) -> Reply {
        match body {
            Body::Bytes(b) => self.send_parts(status, ct, fields, &[b]),
            Body::Static(b) => self.deliver(status, ct, fields, http::Body::Static(b), b.len()),
        }
    }

    /// A whole answer whose body is `parts` one after another (`/raw`'s head and body), copied
    /// once: into the write buffer when it fits, else into memory reserved for it first.
    pub(super) fn send_parts(
        &mut self,
        status: StatusCode,
        ct: Option<&[u8]>,
        fields: &[Field],
        parts: &[&[u8]],
    ) -> Reply {
        let len = parts.iter().map(|p| p.len()).sum();
        self.deliver(status, ct, fields, http::Body::Copy(parts), len)
    }

    /// An answer with httpbin's CORS fields before the route's own.
    fn deliver(
        &mut self,
        status: StatusCode,
        ct: Option<&[u8]>,
        fields: &[Field],
        body: http::Body<'_>,
        len: usize,
    ) -> Reply {
        let head = ResponseHead {
            fields: &[&self.cors[..self.cors_len], fields],
            ..ResponseHead::new(status, ct, Length::of(status, len as u64))
        };
        text::reply(self.res.send(&head, body))
    }

    /// A JSON answer; `render` writes the document (and is called twice for a large echo:
    /// once to count, once to write).
    pub(super) fn json(
        &mut self,
        status: StatusCode,
        fields: &[Field],
        render: &dyn Fn(&mut Json<'_>, &mut Work),
    ) -> Reply {
        let mut scratch = self.scratch();
        let Scratch { json, work } = &mut *scratch;
        let reply = if self.req.body.len() <= ONE_PASS_BODY {
            json.clear();
            render(&mut Json::new(json), work);
            self.send(status, Some(JSON), fields, Body::Bytes(json))
        } else {
            self.json_counted(status, fields, render, work)
        };
        if json.capacity() > SCRATCH_KEEP {
            *json = Vec::new();
        }
        work.trim();
        reply
    }

    /// A large JSON answer: counted, reserved, then rendered into memory of its own.
    fn json_counted(
        &mut self,
        status: StatusCode,
        fields: &[Field],
        render: &dyn Fn(&mut Json<'_>, &mut Work),
        work: &mut Work,
    ) -> Reply {
        let mut count = Count::default();
        render(&mut Json::new(&mut count), work);
        let len = count.0;
        let body = if self.with_body {
            if let Err(no_room) = self.res.reserve(len as u64) {
                return text::reply(Err(no_room));
            }
            let mut body = Vec::with_capacity(len);
            render(&mut Json::new(&mut body), work);
            debug_assert_eq!(body.len(), len, "the two passes must agree");
            http::Body::Reserved {
                data: body,
                charge: len as u64,
            }
        } else {
            http::Body::Empty
        };
        let head = ResponseHead {
            fields: &[&self.cors[..self.cors_len], fields],
            ..ResponseHead::new(status, Some(JSON), Length::Exactly(len as u64))
        };
        text::reply(self.res.send(&head, body))
    }

    /// An error as go-httpbin writes one: `{"detail", "error", "status_code"}`.
    pub(super) fn error(&mut self, status: StatusCode, detail: &str) -> Reply {
        let code = status.code();
        let reason = reason_phrase(code);
        self.json(status, &[], &|j, _| {
            j.open();
            if !detail.is_empty() {
                j.key(b"detail").string(detail.as_bytes());
            }
            j.key(b"error").string(reason);
            j.key(b"status_code").number(u64::from(code));
            j.close().finish();
        })
    }

    /// A 400 naming what was wrong.
    pub(super) fn bad_request(&mut self, detail: &str) -> Reply {
        self.error(StatusCode::BadRequest, detail)
    }

    pub(super) fn not_found(&mut self) -> Reply {
        self.error(StatusCode::NotFound, "")
    }

    /// An answer written over time: `rendered` (a body made now) then what `body` generates,
    /// from `due`; its head and `rendered` are reserved in the budget until it is done.
    pub(super) fn produce(
        &mut self,
        head: (StatusCode, Option<&[u8]>, Length),
        fields: &[Field],
        rendered: Vec<u8>,
        due: Instant,
        body: Option<Box<dyn Generate>>,
    ) -> Reply {
        let (status, ct, length) = head;
        let head = ResponseHead {
            fields: &[&self.cors[..self.cors_len], fields],
            ..ResponseHead::new(status, ct, length)
        };
        let head = OwnedHead::of(&head);
        let (rendered, body) = if self.with_body {
            (rendered, body)
        } else {
            (Vec::new(), None)
        };
        let charge = (head.size() + rendered.capacity()) as u64;
        match self.res.reserve(charge) {
            Ok(()) => {}
            Err(NoRoom::Wait) => return Reply::NeedMemory(None),
            Err(NoRoom::Refused) => return Reply::Sent,
        }
        let producer = Producer::new(head, due, rendered, body, charge);
        Reply::Produce(Box::new(producer))
    }

    /// An interim (1xx) response before the final one (none to an HTTP/1.0 client).
    pub(super) fn interim(&mut self, status: StatusCode) {
        self.res.interim(status);
    }

    /// OPTIONS: a CORS preflight answer, as httpbin gives on every route.
    pub(super) fn preflight(&mut self, allow: &[u8]) -> Reply {
        let requested = self
            .req
            .field(b"access-control-request-headers")
            .unwrap_or(b"");
        let mut fields: Vec<Field> = vec![
            (b"Allow", allow),
            (b"Access-Control-Allow-Methods", ALLOW_ANY),
            (b"Access-Control-Max-Age", b"3600"),
        ];
        if !requested.is_empty() {
            fields.push((b"Access-Control-Allow-Headers", requested));
        }
        self.send(StatusCode::Ok, None, &fields, Body::Bytes(b""))
    }

    pub(super) fn method_not_allowed(&mut self, allow: &[u8]) -> Reply {
        let status = StatusCode::MethodNotAllowed;
        let body = status.reason_body();
        self.send(
            status,
            Some(b"text/plain"),
            &[(b"Allow", allow)],
            Body::Bytes(body),
        )
    }
}
