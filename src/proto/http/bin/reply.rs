//! Writing an httpbin answer: the head with httpbin's CORS fields, a body that is copied
//! when small, sent from where it lies when static, or reserved in the worker's budget when
//! large; JSON rendered once into reused scratch space (or, for a large echo, counted first so
//! exactly its size is reserved); and answers that go out over time, as a [`Producer`].

use std::cell::RefMut;
use std::time::Instant;

use super::forms::Pairs;
use super::json::{Count, Json};
use super::request::Request;
use super::Httpbin;
use crate::buffer::Buf;
use crate::memory::Use;
use crate::output::Output;
use crate::proto::http::produce::{self, Producer};
use crate::proto::http::response::{ConnectionHeader, Framing, ResponseHead, StatusCode};
use crate::proto::http::routes::{self, Reply, Room};
use crate::proto::Context;

/// What every endpoint without a narrower list takes.
pub const ALLOW_ANY: &[u8] = b"GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";

/// A request body up to this size is echoed from scratch space in one pass; a larger one is
/// counted first, so memory for exactly its answer is reserved before it is rendered.
const ONE_PASS_BODY: usize = 4096;

/// Scratch space above this is given back after the request that grew it.
const SCRATCH_KEEP: usize = 64 * 1024;

pub const JSON: &[u8] = b"application/json";

/// A header field: name and value.
pub type Field<'a> = (&'a [u8], &'a [u8]);

/// Space reused across requests.
#[derive(Debug, Default)]
pub struct Scratch {
    json: Vec<u8>,
    pub work: Work,
}

/// What renderers use while the JSON is written.
#[derive(Debug, Default)]
pub struct Work {
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
pub enum Body<'b> {
    /// Copied (reserved in the budget first if it does not fit the write buffer).
    Bytes(&'b [u8]),
    /// Built in: sent from where it lies.
    Static(&'static [u8]),
}

/// One answer being written.
pub struct Resp<'r, 'c> {
    pub req: Request<'r>,
    output: &'r mut Output,
    pub ctx: &'r Context<'c>,
    pub bin: &'r Httpbin,
    /// False for HEAD: the head says what GET would send, and nothing follows.
    pub with_body: bool,
    keep_alive: bool,
    cors: [Field<'r>; 2],
}

impl<'r, 'c> Resp<'r, 'c> {
    pub fn new(
        req: Request<'r>,
        output: &'r mut Output,
        ctx: &'r Context<'c>,
        bin: &'r Httpbin,
    ) -> Resp<'r, 'c> {
        // httpbin answers every origin, with credentials: the request's Origin, else `*`.
        let origin = req.field(b"origin").filter(|o| !o.is_empty());
        Resp {
            req,
            output,
            ctx,
            bin,
            with_body: req.head.method != crate::proto::http::parse::Method::Head,
            keep_alive: req.head.keep_alive && !ctx.draining,
            cors: [
                (b"Access-Control-Allow-Origin", origin.unwrap_or(b"*")),
                (b"Access-Control-Allow-Credentials", b"true"),
            ],
        }
    }

    fn connection(&self) -> ConnectionHeader {
        routes::connection_header(self.keep_alive, self.req.head.minor_version)
    }

    pub fn scratch(&self) -> RefMut<'r, Scratch> {
        self.bin.scratch.borrow_mut()
    }

    fn head(&mut self, status: StatusCode, ct: Option<&[u8]>, framing: Framing, fields: &[Field]) {
        let head = ResponseHead {
            status,
            content_type: ct,
            framing,
            connection: self.connection(),
            allow: None,
        };
        head.write_groups(self.output.bytes(), self.ctx.date, &[&self.cors, fields]);
    }

    /// A whole answer.
    pub fn send(
        &mut self,
        status: StatusCode,
        ct: Option<&[u8]>,
        fields: &[Field],
        body: Body<'_>,
    ) -> Reply {
        match body {
            Body::Bytes(b) => self.deliver(status, ct, fields, &[b], None),
            Body::Static(b) => self.deliver(status, ct, fields, &[b], Some(b)),
        }
    }

    /// A whole answer whose body is `parts` one after another (`/raw`'s head and body), copied
    /// once: into the write buffer when it fits, else into memory reserved for it first.
    pub fn send_parts(
        &mut self,
        status: StatusCode,
        ct: Option<&[u8]>,
        fields: &[Field],
        parts: &[&[u8]],
    ) -> Reply {
        self.deliver(status, ct, fields, parts, None)
    }

    /// [`Self::send`] and [`Self::send_parts`]: a body that is `parts`, or `fixed` (one static
    /// part, sent from where it lies when it does not fit).
    fn deliver(
        &mut self,
        status: StatusCode,
        ct: Option<&[u8]>,
        fields: &[Field],
        parts: &[&[u8]],
        fixed: Option<&'static [u8]>,
    ) -> Reply {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let framing = match status.code() {
            // No body and no length: RFC 9110 §8.6 forbids it on 204 and 1xx, and a 304's
            // would have to be the 200's.
            100..=199 | 204 | 304 => Framing::None,
            _ => Framing::Length(len as u64),
        };
        let send_body = self.with_body && framing != Framing::None;
        let fits = len + 1024 <= self.output.inline_room();
        let mut charge = 0;
        if send_body && !fits && fixed.is_none() {
            charge = len as u64;
            match routes::reserve_output(self.output, self.ctx, charge) {
                Room::Granted => {}
                Room::Wait => return Reply::NeedMemory,
                Room::Refused => return Reply::Sent,
            }
        }
        routes::note_reply(self.ctx, status.code(), len as u64);
        self.head(status, ct, framing, fields);
        if !send_body {
            return Reply::Sent;
        }
        match fixed {
            _ if fits => {
                for part in parts {
                    self.output.bytes().extend_from_slice(part);
                }
            }
            Some(b) => self.output.attach_static(b),
            None => {
                // Allocated only now that the budget holds its size.
                let mut body = Vec::with_capacity(len);
                for part in parts {
                    body.extend_from_slice(part);
                }
                let unused = self.output.attach(body, 0, charge);
                self.ctx.budget.release(unused, Use::Output);
            }
        }
        Reply::Sent
    }

    /// A JSON answer; `render` writes the document (and is called twice for a large echo:
    /// once to count, once to write).
    pub fn json(
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
        if self.with_body {
            match routes::reserve_output(self.output, self.ctx, len as u64) {
                Room::Granted => {}
                Room::Wait => return Reply::NeedMemory,
                Room::Refused => return Reply::Sent,
            }
        }
        routes::note_reply(self.ctx, status.code(), len as u64);
        self.head(status, Some(JSON), Framing::Length(len as u64), fields);
        if self.with_body {
            let mut body = Vec::with_capacity(len);
            render(&mut Json::new(&mut body), work);
            debug_assert_eq!(body.len(), len, "the two passes must agree");
            let unused = self.output.attach(body, 0, len as u64);
            self.ctx.budget.release(unused, Use::Output);
        }
        Reply::Sent
    }

    /// An error as go-httpbin writes one: `{"detail", "error", "status_code"}`.
    pub fn error(&mut self, status: StatusCode, detail: &str) -> Reply {
        let code = status.code();
        let reason = crate::proto::http::response::reason_phrase(code);
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
    pub fn bad_request(&mut self, detail: &str) -> Reply {
        self.error(StatusCode::BadRequest, detail)
    }

    pub fn not_found(&mut self) -> Reply {
        self.error(StatusCode::NotFound, "")
    }

    /// An answer written over time: its head now (rendered, reserved, with `prelude_body`
    /// after it), the rest by `body` from `due`.
    pub fn produce(
        &mut self,
        head: (StatusCode, Option<&[u8]>, Framing),
        fields: &[Field],
        prelude_body: &[u8],
        due: Instant,
        body: produce::Body,
    ) -> Reply {
        let (status, ct, framing) = head;
        let mut prelude = Buf::new();
        ResponseHead {
            status,
            content_type: ct,
            framing,
            // Decided when the head goes out (see `Producer`).
            connection: ConnectionHeader::Omit,
            allow: None,
        }
        .write_groups(&mut prelude, self.ctx.date, &[&self.cors, fields]);
        let (body, prelude_body) = if self.with_body {
            (body, prelude_body)
        } else {
            (produce::Body::Empty, &b""[..])
        };
        prelude.extend_from_slice(prelude_body);
        let charge = prelude.len() as u64;
        match routes::reserve_output(self.output, self.ctx, charge) {
            Room::Granted => {}
            Room::Wait => return Reply::NeedMemory,
            Room::Refused => return Reply::Sent,
        }
        let length = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        routes::note_reply(self.ctx, status.code(), length);
        let minor = self.req.head.minor_version;
        let producer = Producer::new(
            prelude.filled().to_vec(),
            due,
            body,
            (self.req.head.keep_alive, minor),
            charge,
        );
        Reply::Produce(Box::new(producer))
    }

    /// An interim (1xx) response before the final one; none to an HTTP/1.0 client, which does
    /// not know them (RFC 9110 §15.2).
    pub fn interim(&mut self, status: StatusCode) {
        if self.req.head.minor_version == 0 {
            return;
        }
        routes::note_reply(self.ctx, status.code(), 0);
        ResponseHead {
            status,
            content_type: None,
            framing: Framing::None,
            connection: ConnectionHeader::Omit,
            allow: None,
        }
        .write_groups(self.output.bytes(), self.ctx.date, &[]);
    }

    /// OPTIONS: a CORS preflight answer, as httpbin gives on every route.
    pub fn preflight(&mut self, allow: &[u8]) -> Reply {
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

    pub fn method_not_allowed(&mut self, allow: &[u8]) -> Reply {
        let status = StatusCode::MethodNotAllowed;
        let body = status.reason_body();
        routes::note_reply(self.ctx, status.code(), body.len() as u64);
        self.head(
            status,
            Some(b"text/plain"),
            Framing::Length(body.len() as u64),
            &[(b"Allow", allow)],
        );
        if self.with_body {
            self.output.bytes().extend_from_slice(body);
        }
        Reply::Sent
    }
}
