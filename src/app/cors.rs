//! `--cors-origin` and its companions: CORS (the Fetch standard's HTTP side) for every route,
//! files included. A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//! is answered here, before any route; any other request from an allowed origin gets its
//! answer's `Access-Control-Allow-Origin` (and `-Credentials`, `-Expose-Headers`) added by
//! [`WithCors`], whichever route wrote it. When the answer depends on the request's origin,
//! every answer says `Vary: Origin`, so a cache never hands one origin's answer to another.
//! With a policy set, the httpbin routes' own CORS (every origin, with credentials) gives way
//! to it.

use crate::config::CorsOptions;
use crate::http::{
    Body, Field, Length, Method, NoRoom, Reply, Request, Respond, ResponseHead, StatusCode,
};

/// What the policy says of one request's origin.
#[derive(Debug, Clone, Copy)]
pub(super) struct Verdict<'r> {
    /// `Access-Control-Allow-Origin`'s value, when the origin is allowed.
    allow_origin: Option<&'r [u8]>,
    /// The answer depends on the origin: `Vary: Origin`.
    vary: bool,
}

impl CorsOptions {
    /// The verdict for a request (its `Origin`, if any).
    pub(super) fn verdict<'r>(&'r self, req: &Request<'r>) -> Verdict<'r> {
        let vary = !self.any_origin() || self.credentials;
        let Some(origin) = req.field(b"origin").filter(|o| !o.is_empty()) else {
            return Verdict {
                allow_origin: None,
                vary,
            };
        };
        let allowed = self.any_origin() || self.origins.iter().any(|o| o.as_bytes() == origin);
        let allow_origin = allowed.then_some(if self.any_origin() && !self.credentials {
            &b"*"[..]
        } else {
            // With credentials a browser refuses `*`: the origin itself.
            origin
        });
        Verdict { allow_origin, vary }
    }

    fn any_origin(&self) -> bool {
        self.origins.iter().any(|o| o == "*")
    }
}

/// A CORS preflight, answered here: 204 with what the policy allows, or 403 saying why not.
/// `None` for any other request.
pub(super) fn preflight(
    cors: &CorsOptions,
    req: &Request<'_>,
    res: &mut dyn Respond,
) -> Option<Reply> {
    if req.method != Method::Options {
        return None;
    }
    let method = req.field(b"access-control-request-method")?.trim_ascii();
    req.field(b"origin")?;
    let verdict = cors.verdict(req);
    let requested = req
        .field(b"access-control-request-headers")
        .unwrap_or_default()
        .trim_ascii();
    let refusal = if verdict.allow_origin.is_none() {
        Some(&b"CORS preflight refused: this origin is not allowed (--cors-origin)\n"[..])
    } else if !listed(&cors.methods, method) && !is_simple_method(method) {
        Some(&b"CORS preflight refused: this method is not allowed (--cors-methods)\n"[..])
    } else if !cors.headers.iter().any(|h| h == "*")
        && !requested
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .filter(|h| !h.is_empty())
            .all(|h| listed(&cors.headers, h))
    {
        Some(&b"CORS preflight refused: a requested header is not allowed (--cors-headers)\n"[..])
    } else {
        None
    };
    let vary: Field = (
        b"Vary",
        b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    );
    if let Some(why) = refusal {
        let head = ResponseHead {
            fields: &[&[vary]],
            ..ResponseHead::new(
                StatusCode::Forbidden,
                Some(b"text/plain"),
                Length::Exactly(why.len() as u64),
            )
        };
        return Some(super::text::reply(res.send(&head, Body::Copy(&[why]))));
    }
    let mut fields: [Field; 6] = [(b"", b""); 6];
    let mut n = 0;
    for f in [
        Some((
            &b"Access-Control-Allow-Origin"[..],
            verdict.allow_origin.unwrap_or(b"*"),
        )),
        Some((
            &b"Access-Control-Allow-Methods"[..],
            cors.methods_value.as_bytes(),
        )),
        // Every requested header was checked above (or any is allowed): named back.
        (!requested.is_empty()).then_some((&b"Access-Control-Allow-Headers"[..], requested)),
        cors.max_age_value
            .as_ref()
            .map(|age| (&b"Access-Control-Max-Age"[..], age.as_bytes())),
        cors.credentials
            .then_some((&b"Access-Control-Allow-Credentials"[..], &b"true"[..])),
        Some(vary),
    ]
    .into_iter()
    .flatten()
    {
        fields[n] = f;
        n += 1;
    }
    let head = ResponseHead {
        fields: &[&fields[..n]],
        ..ResponseHead::new(StatusCode::Code(204), None, Length::Bodiless)
    };
    Some(super::text::reply(res.send(&head, Body::Empty)))
}

/// GET, HEAD and POST need no preflight's permission (Fetch's CORS-safelisted methods).
fn is_simple_method(method: &[u8]) -> bool {
    matches!(method, b"GET" | b"HEAD" | b"POST")
}

/// `name` is in the list, case-insensitively.
fn listed(list: &[String], name: &[u8]) -> bool {
    list.iter().any(|l| l.as_bytes().eq_ignore_ascii_case(name))
}

/// The handler's `Respond`, with the policy's fields added to every answer it writes.
pub(super) struct WithCors<'a, 'r> {
    pub(super) inner: &'a mut dyn Respond,
    fields: [Field<'r>; 4],
    len: usize,
}

impl<'a, 'r> WithCors<'a, 'r> {
    pub(super) fn new(
        cors: &'r CorsOptions,
        req: &Request<'r>,
        inner: &'a mut dyn Respond,
    ) -> Self {
        let verdict = cors.verdict(req);
        let mut w = WithCors {
            inner,
            fields: [(b"", b""); 4],
            len: 0,
        };
        if let Some(origin) = verdict.allow_origin {
            w.push((b"Access-Control-Allow-Origin", origin));
            if cors.credentials {
                w.push((b"Access-Control-Allow-Credentials", b"true"));
            }
            if let Some(expose) = &cors.expose_value {
                w.push((b"Access-Control-Expose-Headers", expose.as_bytes()));
            }
        }
        if verdict.vary {
            w.push((b"Vary", b"Origin"));
        }
        w
    }

    fn push(&mut self, f: Field<'r>) {
        self.fields[self.len] = f;
        self.len += 1;
    }

    fn fields(&self) -> &[Field<'r>] {
        &self.fields[..self.len]
    }

    /// A response written over time carries the fields in its own head.
    pub(super) fn finish(&self, reply: Reply) -> Reply {
        match reply {
            Reply::Produce(mut producer) => {
                let head = producer.head_mut();
                for (name, value) in self.fields() {
                    head.fields.push(name, value);
                }
                Reply::Produce(producer)
            }
            other => other,
        }
    }
}

impl Respond for WithCors<'_, '_> {
    fn send(&mut self, head: &ResponseHead<'_>, body: Body<'_>) -> Result<(), NoRoom> {
        if self.len == 0 {
            return self.inner.send(head, body);
        }
        // The policy's group first, then the route's (a handful of groups: kept on the stack).
        let own = self.fields;
        let own = &own[..self.len];
        let mut groups: [&[Field<'_>]; 8] = [&[]; 8];
        groups[0] = own;
        let n = head.fields.len().min(7);
        groups[1..=n].copy_from_slice(&head.fields[..n]);
        let mut all: Vec<Field<'_>>;
        let fields: &[&[Field<'_>]] = if head.fields.len() <= 7 {
            &groups[..=n]
        } else {
            all = own.to_vec();
            all.extend(head.each_field());
            groups[0] = &all;
            &groups[..1]
        };
        let head = ResponseHead { fields, ..*head };
        self.inner.send(&head, body)
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
