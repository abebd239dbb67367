//! HTTP/1.1 per connection: read a whole request (head, body, trailers), answer it, and go
//! round again for every pipelined request already buffered, while the output stays under its
//! high-water mark.
//!
//! Nothing but `100 Continue` is written until a request is whole and has passed every framing
//! and limit check: a route never answers a request whose body might still turn out truncated,
//! malformed or too large. Small requests are answered straight from the read buffer; a body
//! that does not fit it moves to memory reserved in the worker's budget ([`body`]).

pub mod bin;
mod body;
pub mod chunked;
pub mod conditional;
pub mod controls;
pub mod date;
pub mod encoding;
mod files;
mod health;
pub mod parse;
mod produce;
pub mod range;
pub mod response;
mod routes;
pub mod target;

pub use self::routes::prerender_hello;

use std::time::Instant;

use self::body::{Assembly, Progress};
use self::parse::{BodyLen, Head, Reject, TooLarge};
use self::produce::{Produced, Producer};
use self::response::StatusCode;
use self::routes::{Reply, Route};
use super::{ConnectionId, Context, Next, Phase};
use crate::access_log::Exchange;
use crate::buffer::Buf;
use crate::memory::{Budget, Use};
use crate::output::Output;

pub use crate::config::HttpLimits as Limits;

/// A request whose head is in and whose answer waits for its body, or for memory.
#[derive(Debug)]
struct Pending {
    route: Route,
    body: Assembly,
    /// `Expect: 100-continue` with no body sent yet: the interim response is owed once the
    /// body may come (after any memory it needs was granted).
    continue_owed: bool,
    /// What the request's controls drew, once drawn (kept while it waits for its moment or
    /// for memory, so the answer is the one drawn).
    draw: Option<controls::draw::Draw>,
    /// An injected delay: the whole request is held until then.
    not_before: Option<Instant>,
}

/// Why a whole request is not answered yet.
enum Hold {
    /// Its answer needs memory the budget cannot give yet.
    Memory(Option<controls::draw::Draw>),
    /// A control's delay: answer at this moment, with this draw.
    Until(Instant, controls::draw::Draw),
}

#[derive(Debug)]
enum State {
    /// Waiting for a head; `scanned` is how far a previous partial scan got.
    Head { scanned: Option<usize> },
    /// Reading a body, or holding a whole request until memory for its answer is free.
    Body(Box<Pending>),
    /// A response written over time (delayed, paced or generated); input waits in the buffer
    /// meanwhile.
    Producing(Box<Producer>),
    /// The final response is written; nothing more is read.
    Done,
}

/// The result of one step of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Progress,
    NeedInput,
    /// Waiting for the budget: the worker wakes the connection when its turn comes.
    NeedMemory,
    /// An expensive answer was written: the next request waits for the next loop turn.
    Yield,
    /// A request is held until a moment (an injected delay).
    Wait,
    /// A control asked for the connection to be reset instead of answered.
    Reset,
    /// The clean end of the connection's last request.
    Close,
    /// An error ends the connection.
    Fail,
}

#[derive(Debug)]
pub struct Http {
    state: State,
    /// Requests answered on this connection.
    served: u64,
    /// The connection ends on an error: close it with a linger.
    linger: bool,
}

impl Default for Http {
    fn default() -> Http {
        Http::new()
    }
}

impl Http {
    pub fn new() -> Http {
        Http {
            state: State::Head { scanned: None },
            served: 0,
            linger: false,
        }
    }

    /// Where the connection is; `buffered` is the unread input.
    pub fn phase(&self, buffered: usize) -> Phase {
        match self.state {
            State::Head { scanned: None } if buffered == 0 => Phase::Idle {
                served: self.served > 0,
            },
            State::Head { .. } => Phase::Head,
            State::Body(ref p) if p.not_before.is_some() => Phase::Waiting,
            State::Body(_) => Phase::Body,
            State::Producing(_) => Phase::Waiting,
            State::Done => Phase::Idle { served: true },
        }
    }

    /// The connection ends on an error, a timeout or an unread body: the peer may still be
    /// sending, so it must be closed with a linger.
    pub fn needs_linger(&self) -> bool {
        self.linger || !matches!(self.state, State::Head { .. } | State::Done)
    }

    /// When a deferred response is due.
    pub fn wake_at(&self) -> Option<Instant> {
        match self.state {
            State::Producing(ref p) => Some(p.wake_at()),
            State::Body(ref p) => p.not_before,
            _ => None,
        }
    }

    /// Gives back what the connection holds in the budget (it is closing).
    pub fn release(&mut self, budget: &Budget) {
        match &mut self.state {
            State::Body(pending) => pending.body.release(budget),
            State::Producing(producer) => producer.release(budget),
            _ => {}
        }
    }

    /// A head or body did not arrive in time: 408, then close.
    pub fn on_read_timeout(&mut self, output: &mut Output, ctx: &Context<'_>) {
        if let State::Head { .. } | State::Body(_) = self.state {
            self.release(ctx.budget);
            routes::write_error(output, ctx, StatusCode::RequestTimeout);
            log_reply(ctx, None, self.served);
            self.state = State::Done;
            self.linger = true;
        }
    }

    #[inline(always)]
    pub fn on_data(&mut self, input: &mut Buf, output: &mut Output, ctx: &Context<'_>) -> Next {
        loop {
            if output.has_tail() || output.len() >= ctx.high_water {
                // A response in progress is not done: the peer's EOF must not end it early.
                return match self.state {
                    State::Producing(_) => Next::Waiting,
                    _ => Next::Blocked,
                };
            }
            let step = match &mut self.state {
                State::Head { scanned } => {
                    let scanned = *scanned;
                    self.on_head(scanned, input, output, ctx)
                }
                State::Body(_) => self.on_body(input, output, ctx),
                State::Producing(_) => match self.produce(output, ctx) {
                    Some(step) => step,
                    None => return Next::Waiting,
                },
                State::Done => {
                    input.consume(input.len());
                    Step::Close
                }
            };
            match step {
                Step::Progress => continue,
                Step::NeedInput => return Next::NeedInput,
                Step::NeedMemory => return Next::Memory,
                Step::Yield => return Next::Yield,
                Step::Wait => return Next::Waiting,
                Step::Reset => {
                    self.release(ctx.budget);
                    self.state = State::Done;
                    return Next::Reset;
                }
                Step::Close => {
                    self.state = State::Done;
                    return Next::Close;
                }
                Step::Fail => {
                    // The peer may still be sending (a rejected head, a bad body): linger.
                    self.release(ctx.budget);
                    self.linger = true;
                    self.state = State::Done;
                    return Next::Close;
                }
            }
        }
    }

    /// Writes what a response in progress has ready; `None` while it is not done.
    #[inline(never)]
    fn produce(&mut self, output: &mut Output, ctx: &Context<'_>) -> Option<Step> {
        let State::Producing(producer) = &mut self.state else {
            return Some(Step::Progress);
        };
        match producer.produce(output, ctx) {
            Produced::Done => {
                producer.release(ctx.budget);
                let keep_alive = producer.keep_alive && !ctx.draining;
                Some(self.finish_request(keep_alive))
            }
            Produced::Close => {
                producer.release(ctx.budget);
                Some(Step::Close)
            }
            Produced::Wait(_) | Produced::Room => None,
        }
    }

    fn on_head(
        &mut self,
        scanned: Option<usize>,
        input: &mut Buf,
        output: &mut Output,
        ctx: &Context<'_>,
    ) -> Step {
        let buf = input.filled();
        if buf.is_empty() {
            return Step::NeedInput;
        }
        // After a partial head, look only at the new bytes for the blank line before re-parsing.
        if let Some(scanned) = scanned {
            if parse::find_head_end(buf, scanned.saturating_sub(3)).is_none() {
                return self.wait_for_head(buf, ctx, output);
            }
        }
        let (head, head_len) = match parse::parse_head(buf, ctx.limits) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return self.wait_for_head(buf, ctx, output),
            Err(reject) => return reject_request(reject, output, ctx, self.served),
        };
        let route = routes::route_for(&head, ctx);
        // The common case: no body, or all of it already here. Answered at once, from the
        // read buffer.
        let whole_body = match head.body {
            BodyLen::Empty => Some(0),
            BodyLen::Length(n) => usize::try_from(n)
                .ok()
                .filter(|&n| buf.len() - head_len >= n),
            BodyLen::Chunked => None,
        };
        if let Some(body_len) = whole_body {
            if routes::try_hello(route, &head, output, ctx) {
                let step = self.after_answer(&head, true, ctx);
                input.consume(head_len + body_len);
                return step;
            }
            let body = &buf[head_len..head_len + body_len];
            return match self.answer(route, &head, body, output, ctx, None) {
                Ok(step) => {
                    if step != Step::Reset {
                        input.consume(head_len + body_len);
                    }
                    step
                }
                Err(hold) => {
                    let mut pending = Box::new(Pending {
                        route,
                        body: Assembly::whole_in_place(head_len, body_len),
                        continue_owed: false,
                        draw: None,
                        not_before: None,
                    });
                    let step = pending.hold(hold);
                    self.state = State::Body(pending);
                    step
                }
            };
        }
        let keep = routes::keeps_body(route, head.method);
        let continue_owed = head.expect_continue && buf.len() == head_len;
        let body = Assembly::new(
            head_len,
            head.body,
            keep,
            ctx.limits.max_body_bytes,
            ctx.limits.max_head_bytes,
            ctx.budget,
        );
        self.state = State::Body(Box::new(Pending {
            route,
            body,
            continue_owed,
            draw: None,
            not_before: None,
        }));
        Step::Progress
    }

    fn wait_for_head(&mut self, buf: &[u8], ctx: &Context<'_>, output: &mut Output) -> Step {
        if let Err(too_large) = parse::check_partial(buf, ctx.limits) {
            // The scan skipped re-parsing while the head grew; parse once now, so a syntax
            // error earlier in the head is reported as such, however the bytes were split.
            let reject = parse::parse_head(buf, ctx.limits)
                .err()
                .unwrap_or(too_large);
            return reject_request(reject, output, ctx, self.served);
        }
        self.state = State::Head {
            scanned: Some(buf.len()),
        };
        Step::NeedInput
    }

    /// Reads the body on; answers once the request is whole.
    fn on_body(&mut self, input: &mut Buf, output: &mut Output, ctx: &Context<'_>) -> Step {
        // Taken out while it is worked on, so answering can set the next state; put back if
        // the request is not answered yet.
        let State::Body(mut pending) = std::mem::replace(&mut self.state, State::Done) else {
            return Step::Progress;
        };
        match pending.body.advance(input, ctx.budget, ctx.token) {
            Progress::Complete => {}
            Progress::NeedInput => {
                if std::mem::take(&mut pending.continue_owed) && !pending.body.body_started(input) {
                    ctx.stats.on_response(100);
                    output.bytes().extend_from_slice(response::CONTINUE);
                }
                self.state = State::Body(pending);
                return Step::NeedInput;
            }
            Progress::NeedMemory => {
                self.state = State::Body(pending);
                return Step::NeedMemory;
            }
            Progress::Reject(reject) => {
                pending.body.release(ctx.budget);
                return reject_request(reject, output, ctx, self.served);
            }
        }
        if pending.not_before.is_some_and(|at| ctx.now < at) {
            self.state = State::Body(pending);
            return Step::Wait;
        }
        let answered = {
            let request = pending.body.request(input);
            let head_len = pending.body.head_len();
            // The same bytes parsed once already: this cannot fail, but a bug must not panic.
            match parse::parse_head(&request[..head_len], ctx.limits) {
                Ok(Some((head, _))) => {
                    let body = &request[head_len..];
                    if pending.route == Route::Echo && pending.body.is_spilled() {
                        // The body already sits in its own reserved memory: send it from there.
                        routes::write_echo_head(&head, body.len(), output, ctx);
                        let keep_alive = head.keep_alive && !ctx.draining;
                        Ok((self.after_answer(&head, keep_alive, ctx), true))
                    } else {
                        self.answer(pending.route, &head, body, output, ctx, pending.draw)
                            .map(|step| (step, false))
                    }
                }
                _ => Ok((
                    reject_request(Reject::BadRequest, output, ctx, self.served),
                    false,
                )),
            }
        };
        let (step, attach_body) = match answered {
            Ok(answered) => answered,
            Err(hold) => {
                let step = pending.hold(hold);
                self.state = State::Body(pending);
                return step;
            }
        };
        let head_len = pending.body.head_len();
        if let Some((buf, charge)) = pending.body.finish(input, ctx.budget) {
            if attach_body {
                ctx.budget.transfer(charge, Use::Body, Use::Output);
                let unused = output.attach(buf, head_len, charge);
                ctx.budget.release(unused, Use::Output);
            } else {
                ctx.budget.release(charge, Use::Body);
            }
        }
        step
    }

    /// Answers a whole request, or says why not yet; `drawn` is what its controls drew on an
    /// earlier attempt.
    #[inline(never)]
    fn answer(
        &mut self,
        route: Route,
        head: &Head<'_>,
        body: &[u8],
        output: &mut Output,
        ctx: &Context<'_>,
        drawn: Option<controls::draw::Draw>,
    ) -> Result<Step, Hold> {
        if !head.query.is_empty() || head.echo_controls || ctx.controls.defaults.is_some() {
            if let Some(answered) = self.answer_controlled(route, head, body, output, ctx, drawn) {
                return answered;
            }
        }
        let keep_alive = head.keep_alive && !ctx.draining;
        // This request's place on its connection (0 for the first), for `/inspect`.
        let request_index = self.served;
        match routes::respond(route, head, body, output, ctx, request_index) {
            Reply::Sent => {
                let step = self.after_answer(head, keep_alive, ctx);
                // Pipelined scrapes take turns with everyone else (a render is microseconds,
                // thousands in a row are not).
                Ok(match step {
                    Step::Progress if routes::is_expensive(route) => Step::Yield,
                    step => step,
                })
            }
            Reply::NeedMemory => Err(Hold::Memory(None)),
            Reply::Produce(producer) => Ok(self.start_producing(producer, head, ctx)),
        }
    }

    /// A request that may carry controls (see [`controls`]); `None` if it has none after all.
    #[inline(never)]
    fn answer_controlled(
        &mut self,
        route: Route,
        head: &Head<'_>,
        body: &[u8],
        output: &mut Output,
        ctx: &Context<'_>,
        drawn: Option<controls::draw::Draw>,
    ) -> Option<Result<Step, Hold>> {
        use controls::Answered;
        let index = self.served;
        Some(
            match controls::answer(route, head, body, output, ctx, index, drawn) {
                Answered::Plain => return None,
                Answered::Sent { keep_alive } => Ok(self.after_answer(head, keep_alive, ctx)),
                Answered::Produce(producer) => Ok(self.start_producing(producer, head, ctx)),
                Answered::NeedMemory(draw) => Err(Hold::Memory(Some(draw))),
                Answered::Later(at, draw) => Err(Hold::Until(at, draw)),
                Answered::Reset => {
                    log_reply(ctx, Some(head.raw), self.served);
                    self.count_answer(head, ctx);
                    Ok(Step::Reset)
                }
            },
        )
    }

    fn start_producing(
        &mut self,
        producer: Box<Producer>,
        head: &Head<'_>,
        ctx: &Context<'_>,
    ) -> Step {
        // Logged now: its status and length are known.
        log_reply(ctx, Some(head.raw), self.served);
        self.count_answer(head, ctx);
        self.state = State::Producing(producer);
        Step::Progress
    }

    /// Bookkeeping once a response is written: the access log, the counts, and whether the
    /// connection goes on.
    fn after_answer(&mut self, head: &Head<'_>, keep_alive: bool, ctx: &Context<'_>) -> Step {
        log_reply(ctx, Some(head.raw), self.served);
        self.count_answer(head, ctx);
        self.finish_request(keep_alive)
    }

    fn count_answer(&mut self, head: &Head<'_>, ctx: &Context<'_>) {
        // A client that wanted keep-alive but is refused it (the worker drains) may already be
        // sending its next request: close with a linger, not at once.
        self.linger |= head.keep_alive && ctx.draining;
        self.served += 1;
        ctx.served.set(ctx.served.get() + 1);
    }

    fn finish_request(&mut self, keep_alive: bool) -> Step {
        if keep_alive {
            self.state = State::Head { scanned: None };
            Step::Progress
        } else {
            Step::Close
        }
    }
}

impl Pending {
    /// Holds the request as `hold` says; the step that waits for it.
    fn hold(&mut self, hold: Hold) -> Step {
        match hold {
            Hold::Memory(draw) => {
                self.draw = draw.or(self.draw);
                Step::NeedMemory
            }
            Hold::Until(at, draw) => {
                self.draw = Some(draw);
                self.not_before = Some(at);
                Step::Wait
            }
        }
    }
}

/// Writes the error response for `reject`; the connection closes after it.
fn reject_request(
    reject: Reject,
    output: &mut Output,
    ctx: &Context<'_>,
    request_index: u64,
) -> Step {
    let status = match reject {
        Reject::BadRequest => StatusCode::BadRequest,
        Reject::PayloadTooLarge(cause) => {
            let index = match cause {
                TooLarge::Declared => 0,
                TooLarge::Chunked => 1,
                TooLarge::Budget => 2,
            };
            crate::stats::WorkerStats::add(&ctx.stats.too_large[index], 1);
            StatusCode::PayloadTooLarge
        }
        Reject::UriTooLong => StatusCode::UriTooLong,
        Reject::HeadTooLarge => StatusCode::HeadTooLarge,
        Reject::NotImplemented => StatusCode::NotImplemented,
        Reject::VersionNotSupported => StatusCode::VersionNotSupported,
    };
    crate::stats::WorkerStats::add(&ctx.stats.parse_errors, 1);
    routes::write_error(output, ctx, status);
    log_reply(ctx, None, request_index);
    Step::Fail
}

/// The access-log line for the response just written, whose status and body length the routes
/// noted in `ctx.reply`; `head` is the request's head, when one was read whole, and
/// `request_index` its place on the connection (0 for the first).
fn log_reply(ctx: &Context<'_>, head: Option<&[u8]>, request_index: u64) {
    if let (Some(log), Some(reply)) = (ctx.access_log, ctx.reply) {
        let (status, bytes) = reply.get();
        let exchange = Exchange {
            connection: ConnectionId {
                pid: ctx.worker.pid,
                token: ctx.token,
            },
            request_index,
        };
        log.borrow_mut()
            .record(ctx.peer.addr(), head, status, bytes, exchange);
    }
}

#[cfg(test)]
mod tests;
