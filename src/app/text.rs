//! Short answers every part of the application gives the same way: a text body, a 405 with
//! what is allowed, and what a send that found no room comes to.

use crate::http::{
    Body, Length, Method, NoRoom, Reply, Request, Respond, ResponseHead, StatusCode,
};

/// What a send came to, as a reply: sent (or refused with a 503, which is an answer too), or
/// waiting for memory.
pub(super) fn reply(sent: Result<(), NoRoom>) -> Reply {
    match sent {
        Ok(()) | Err(NoRoom::Refused) => Reply::Sent,
        Err(NoRoom::Wait) => Reply::NeedMemory(None),
    }
}

/// A `text/plain` answer.
pub(super) fn send(res: &mut dyn Respond, status: StatusCode, body: &[u8]) -> Reply {
    let head = ResponseHead::new(
        status,
        Some(b"text/plain"),
        Length::Exactly(body.len() as u64),
    );
    reply(res.send(&head, Body::Copy(&[body])))
}

/// 405 and the methods the resource takes.
pub(super) fn method_not_allowed(res: &mut dyn Respond, allow: &[u8]) -> Reply {
    let status = StatusCode::MethodNotAllowed;
    let body = status.reason_body();
    let head = ResponseHead {
        fields: &[&[(b"Allow", allow)]],
        ..ResponseHead::new(
            status,
            Some(b"text/plain"),
            Length::Exactly(body.len() as u64),
        )
    };
    reply(res.send(&head, Body::Copy(&[body])))
}

/// A route that exists, asked with a method it does not take: what it takes (OPTIONS), or 405.
pub(super) fn other_method(req: &Request<'_>, res: &mut dyn Respond, allow: &[u8]) -> Reply {
    if req.method == Method::Options {
        options(res, allow)
    } else {
        method_not_allowed(res, allow)
    }
}

/// OPTIONS on anything that exists: what it takes, and no body (RFC 9110 §9.3.7).
pub(super) fn options(res: &mut dyn Respond, allow: &[u8]) -> Reply {
    let head = ResponseHead {
        fields: &[&[(b"Allow", allow)]],
        ..ResponseHead::new(StatusCode::Ok, None, Length::Exactly(0))
    };
    reply(res.send(&head, Body::Empty))
}
