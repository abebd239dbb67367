//! Answering a request that carries controls: read them, draw, wait out the delay (the
//! protocol holds the request meanwhile, so the delay is the server's time to its first byte,
//! whatever the route), then run the route or stand in for it, and reshape what it answered.

use std::time::Instant;

use super::body::Source;
use super::draw::{self, Draw, Fault};
use super::shape::{self, Plan};
use super::wrap::{Capture, Captured, Inject, MAX_FIELDS};
use super::{Bad, Content, Controls};
use crate::app::router::{self, Route};
use crate::app::{text, App};
use crate::config::ControlOptions;
use crate::http::{Exchange, Field, OwnedHead, Reply, Request, Respond, StatusCode};
use crate::stats::WorkerStats;

/// Answers a request whose query or fields may hold controls; `None` if it has none after
/// all (the route answers as usual).
pub(in crate::app) fn answer(
    app: &mut App<'_>,
    route: Route,
    req: &Request<'_>,
    ex: &Exchange<'_>,
    res: &mut dyn Respond,
) -> Option<Reply> {
    // The controls borrow their options while the route, which needs the whole application,
    // answers: they are lent out of it meanwhile.
    let options = std::mem::take(&mut app.controls);
    let reply = answer_with(app, &options, route, req, ex, res);
    app.controls = options;
    reply
}

fn answer_with(
    app: &mut App<'_>,
    options: &ControlOptions,
    route: Route,
    req: &Request<'_>,
    ex: &Exchange<'_>,
    res: &mut dyn Respond,
) -> Option<Reply> {
    let c = match Controls::parse(req, route, options) {
        Ok(Some(c)) => c,
        Ok(None) => return None,
        Err(bad) => return Some(refuse(res, bad)),
    };
    if c.shapes_body() && route.writes_over_time() {
        let why = "this route writes its body over time (a file or a stream)";
        let name = c.body_control_name();
        return Some(refuse(res, Bad { name, why }));
    }
    // Drawn once: an answer put off (for its delay, or for memory) keeps its draw.
    let d = match ex.memo.and_then(|m| m.downcast_ref::<Draw>()) {
        Some(d) => *d,
        None => {
            let mut d = draw::draw(&c, ex.index);
            d.delay = d.delay.map(|t| t.min(options.max_delay));
            if let Some(delay) = d.delay.filter(|t| !t.is_zero()) {
                return Some(Reply::Later(ex.now + delay, Box::new(d)));
            }
            d
        }
    };
    count(app.stats, &d);
    if d.fault == Some(Fault::Rst) {
        return Some(Reply::Reset);
    }
    let plan = Plan {
        chunk: c.chunked,
        pause: c.drip.unwrap_or_default(),
        fault: d.fault,
        stall_until: ex.now + options.max_delay,
        with_body: !req.is_head(),
    };
    if d.status.is_some() || d.size.is_some() {
        let (mut head, source, len) = shape::stand_in(&d, c.content == Content::Zero);
        add_fields(&mut head, &c, &d);
        return Some(Reply::Produce(Box::new(
            plan.producer(head, source, len, ex.now, 0),
        )));
    }
    let reshape = c.chunked.is_some() || matches!(d.fault, Some(Fault::Truncate | Fault::Stall(_)));
    let reply = if reshape {
        let mut capture = Capture {
            inner: res,
            request_body: req.body,
            taken: None,
        };
        match router::respond(app, route, req, ex, &mut capture) {
            Reply::Sent | Reply::SentCostly => match capture.taken {
                Some(captured) => reshaped(captured, ex.now, &c, &d, &plan),
                None => Reply::Sent,
            },
            reply => reply,
        }
    } else {
        // Rendered into space the application keeps for it: nothing allocated once warm.
        let mut list = std::mem::take(&mut app.control_fields);
        list.clear();
        shape::control_fields(&c, &d, &mut list);
        let mut fields: [Field<'_>; MAX_FIELDS] = [(b"", b""); MAX_FIELDS];
        let mut count = 0;
        for (slot, field) in fields.iter_mut().zip(list.iter()) {
            *slot = field;
            count += 1;
        }
        let mut inject = Inject {
            inner: res,
            fields: &fields[..count],
            close: d.fault == Some(Fault::Close),
        };
        let reply = router::respond(app, route, req, ex, &mut inject);
        app.control_fields = list;
        reply
    };
    Some(match reply {
        // Asked again when memory frees, with the same draw.
        Reply::NeedMemory(_) => Reply::NeedMemory(Some(Box::new(d))),
        // Written over time by the route itself: the controls' fields go on its head.
        Reply::Produce(p) => match p.into_rendered() {
            Ok((head, body, due, charge)) => {
                let captured = Captured { head, body, charge };
                reshaped(captured, due, &c, &d, &plan)
            }
            Err(mut p) => {
                add_fields(p.head_mut(), &c, &d);
                if d.fault.is_some() {
                    p.close_after();
                }
                Reply::Produce(p)
            }
        },
        reply => reply,
    })
}

/// A whole answer written over time as the plan says, from `due`.
fn reshaped(captured: Captured, due: Instant, c: &Controls<'_>, d: &Draw, plan: &Plan) -> Reply {
    let Captured {
        mut head,
        body,
        charge,
    } = captured;
    add_fields(&mut head, c, d);
    let len = body.len() as u64;
    let source = Source::Bytes { data: body, pos: 0 };
    Reply::Produce(Box::new(plan.producer(head, source, len, due, charge)))
}

/// Adds the controls' fields to a kept head.
fn add_fields(head: &mut OwnedHead, c: &Controls<'_>, d: &Draw) {
    shape::control_fields(c, d, &mut head.fields);
}

/// Counts what was injected, for `/metrics`.
fn count(stats: &WorkerStats, d: &Draw) {
    if let Some(delay) = d.delay {
        stats.on_injected_delay(delay);
    }
    if let Some(fault) = d.fault {
        WorkerStats::add(&stats.injected_faults[fault.index()], 1);
    }
    if d.status.is_some() {
        WorkerStats::add(&stats.injected_statuses, 1);
    }
}

/// The 400 for a control that cannot be read: `bad control status: expected …`.
fn refuse(res: &mut dyn Respond, bad: Bad) -> Reply {
    let mut text = [0u8; 256];
    let mut len = 0;
    for part in [
        b"bad control ".as_slice(),
        bad.name.as_bytes(),
        b": ",
        bad.why.as_bytes(),
        b"\n",
    ] {
        let take = part.len().min(text.len() - len);
        text[len..len + take].copy_from_slice(&part[..take]);
        len += take;
    }
    text::send(res, StatusCode::BadRequest, &text[..len])
}
