//! Answering a request that carries controls: read them, draw, wait out the delay (the
//! connection holds the request meanwhile, so the delay is the server's time to its first
//! byte, whatever the route), then run the route or stand in for it, and reshape what it wrote.

use std::time::Instant;

use super::draw::{self, Draw, Fault};
use super::shape::{self, Plan};
use super::{Bad, Content, Controls};
use crate::buffer::Buf;
use crate::output::Output;
use crate::proto::http::bin::Kind;
use crate::proto::http::parse::{Head, Method};
use crate::proto::http::produce::Producer;
use crate::proto::http::response::StatusCode;
use crate::proto::http::routes::{self, Reply, Route};
use crate::proto::Context;
use crate::stats::WorkerStats;

/// What answering a controlled request came to.
#[derive(Debug)]
pub enum Answered {
    /// No controls after all: answer as usual.
    Plain,
    /// The response is written; the connection stays open if `keep_alive`.
    Sent { keep_alive: bool },
    /// A response written over time.
    Produce(Box<Producer>),
    /// The route needs memory the budget cannot give yet; answer again later with this draw.
    NeedMemory(Draw),
    /// Answer at this moment, with this draw (its delay then served).
    Later(Instant, Draw),
    /// No response: reset the connection.
    Reset,
}

/// Answers a request whose query or headers may hold controls; `index` is its place on the
/// connection, `drawn` what an earlier attempt drew (after a delay, or a wait for memory).
pub fn answer(
    route: Route,
    head: &Head<'_>,
    body: &[u8],
    output: &mut Output,
    ctx: &Context<'_>,
    index: u64,
    drawn: Option<Draw>,
) -> Answered {
    let keep_alive = head.keep_alive && !ctx.draining;
    let c = match Controls::parse(head, route, ctx.controls) {
        Ok(Some(c)) => c,
        Ok(None) => return Answered::Plain,
        Err(bad) => {
            refuse(output, ctx, bad, head);
            return Answered::Sent { keep_alive };
        }
    };
    if c.shapes_body() && writes_over_time(route) {
        let why = "this route writes its body over time (a file or a stream)";
        let name = c.body_control_name();
        refuse(output, ctx, Bad { name, why }, head);
        return Answered::Sent { keep_alive };
    }
    let d = match drawn {
        Some(d) => d,
        None => {
            let mut d = draw::draw(&c, index);
            d.delay = d.delay.map(|t| t.min(ctx.controls.max_delay));
            if let Some(delay) = d.delay.filter(|t| !t.is_zero()) {
                return Answered::Later(ctx.now + delay, d);
            }
            d
        }
    };
    count(ctx.stats, &d);
    if d.fault == Some(Fault::Rst) {
        if let Some(reply) = ctx.reply {
            reply.set((0, 0));
        }
        return Answered::Reset;
    }
    let plan = Plan {
        chunk: c.chunked,
        pause: c.drip.unwrap_or_default(),
        fault: d.fault,
        stall_until: ctx.now + ctx.controls.max_delay,
        keep: (head.keep_alive, head.minor_version),
        with_body: head.method != Method::Head,
    };
    if d.status.is_some() || d.size.is_some() {
        let (mut h, source, len) = shape::stand_in(&d, c.content == Content::Zero, ctx);
        routes::note_reply(ctx, d.status.unwrap_or(200), len);
        add_lines(&mut h, &c, &d);
        return Answered::Produce(Box::new(plan.producer(h, source, len, ctx.now, 0)));
    }
    let reshape = c.chunked.is_some() || matches!(d.fault, Some(Fault::Truncate | Fault::Stall(_)));
    let mark = output.len();
    match routes::respond(route, head, body, output, ctx, index) {
        Reply::NeedMemory => Answered::NeedMemory(d),
        Reply::Produce(p) => match p.into_rendered() {
            Ok((bytes, due, charge)) => reshaped(bytes, due, charge, &c, &d, &plan),
            Err(mut p) => {
                let mut lines = Buf::new();
                shape::write_headers(&c, &d, false, &mut lines);
                p.add_headers(lines.filled());
                p.keep_alive &= d.fault.is_none();
                Answered::Produce(p)
            }
        },
        Reply::Sent if reshape => match output.take_since(mark) {
            Some((bytes, charge)) => reshaped(bytes, ctx.now, charge, &c, &d, &plan),
            None => Answered::Sent { keep_alive },
        },
        Reply::Sent => {
            let close = d.fault == Some(Fault::Close);
            inject_in_place(output.buffer(), mark, &c, &d, close);
            Answered::Sent {
                keep_alive: keep_alive && !close,
            }
        }
    }
}

/// A rendered response (`bytes`, due at `due`, `charge` held for it) written over time as the
/// plan says.
fn reshaped(
    bytes: Vec<u8>,
    due: Instant,
    charge: u64,
    c: &Controls<'_>,
    d: &Draw,
    plan: &Plan,
) -> Answered {
    let Some(end) = shape::head_end(&bytes) else {
        // Not a head we rendered (cannot happen): sent as it was.
        let p = Producer::raw(bytes, due, crate::proto::http::produce::Body::Empty, charge);
        return Answered::Produce(Box::new(p));
    };
    let body = bytes[end + 2..].to_vec();
    let mut head = bytes;
    head.truncate(end);
    shape::drop_connection_line(&mut head);
    add_lines(&mut head, c, d);
    let len = body.len() as u64;
    let source = super::body::Source::Bytes { data: body, pos: 0 };
    Answered::Produce(Box::new(plan.producer(head, source, len, due, charge)))
}

/// Ends `head` (cut after its last field's CRLF) with the controls' lines and the blank line.
fn add_lines(head: &mut Vec<u8>, c: &Controls<'_>, d: &Draw) {
    let mut lines = Buf::new();
    shape::write_headers(c, d, false, &mut lines);
    head.extend_from_slice(lines.filled());
    head.extend_from_slice(b"\r\n");
}

/// Adds the controls' lines to the head written at `mark` in `out`, moving its body along
/// (no copy out: the body is at most what the write buffer holds).
fn inject_in_place(out: &mut Buf, mark: usize, c: &Controls<'_>, d: &Draw, close: bool) {
    let Some(end) = shape::head_end(&out.filled()[mark..]).map(|e| mark + e) else {
        return;
    };
    let mut end = end;
    if close {
        let head = &out.filled()[mark..end];
        if let Some(at) = head.windows(14).position(|w| w == b"\r\nConnection: ") {
            let from = mark + at + 2;
            let len = out.filled()[from..end]
                .windows(2)
                .position(|w| w == b"\r\n")
                .map_or(end - from, |n| n + 2);
            out.remove_range(from, from + len);
            end -= len;
        }
    }
    let before = out.len();
    shape::write_headers(c, d, close, out);
    let added = out.len() - before;
    out.filled_mut()[end..].rotate_right(added);
}

/// Routes whose body is written over time, which `chunked`, `truncate` and `stall` cannot
/// reshape: files (sent with sendfile) and httpbin's streams.
fn writes_over_time(route: Route) -> bool {
    matches!(
        route,
        Route::File
            | Route::Bin(
                Kind::Bytes
                    | Kind::StreamBytes
                    | Kind::Stream
                    | Kind::Range
                    | Kind::Drip
                    | Kind::Sse
            )
    )
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
fn refuse(output: &mut Output, ctx: &Context<'_>, bad: Bad, head: &Head<'_>) {
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
    let keep_alive = head.keep_alive && !ctx.draining;
    routes::text_response(
        output.bytes(),
        ctx,
        StatusCode::BadRequest,
        &text[..len],
        routes::connection_header(keep_alive, head.minor_version),
        None,
        head.method != Method::Head,
    );
}
