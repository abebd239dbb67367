//! HTTP/1.1 per connection: read a whole request (head, body, trailers), hand it to the
//! application, write what it answers, and go round again for every pipelined request already
//! buffered, while the output stays under its high-water mark.
//!
//! Nothing but `100 Continue` is written until a request is whole and has passed every framing
//! and limit check: the application never answers a request whose body might still turn out
//! truncated, malformed or too large. Small requests are answered straight from the read
//! buffer; a body that does not fit it moves to memory reserved in the worker's budget
//! ([`body`]).
//!
//! The machine names no route: it asks the [`Handler`] whether a request's body is needed
//! ([`Handler::keeps_body`]) and, once the request is whole, for its answer
//! ([`Handler::respond`]), which comes back through [`respond::Responder`] and, for a
//! response written over time, [`produce::Producing`].

mod body;
pub mod chunked;
pub mod parse;
mod prerendered;
mod produce;
mod respond;
mod write;

pub use self::prerendered::Prerendered;

use std::time::Instant;

use self::body::{Assembly, Progress};
use self::parse::{BodyLen, Head, Reject, TooLarge};
use self::produce::{Produced, Producing};
use self::respond::Responder;
use super::{Env, Next, Phase};
use crate::access_log::ExchangeId;
use crate::buffer::Buf;
use crate::config::HttpLimits;
use crate::http::{Exchange, Handler, Memo, Method, Reply, Request, StatusCode};
use crate::ids::ConnectionId;
use crate::memory::{Budget, Use};
use crate::output::Output;
use crate::stats::WorkerStats;

/// What the parser judges a request by: the configured limits, and the field-name prefix it
/// marks while it reads the fields ([`Request::marked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Request line plus headers (431).
    pub max_head_bytes: usize,
    /// Request-target (414).
    pub max_uri_bytes: usize,
    /// Body, declared or discovered while reading chunks (413).
    pub max_body_bytes: u64,
    /// A field whose name starts with this (lower case; empty for none) marks its request.
    pub marker: &'static [u8],
}

impl Limits {
    pub fn new(limits: HttpLimits, marker: &'static [u8]) -> Limits {
        debug_assert!(
            !marker.iter().any(u8::is_ascii_uppercase),
            "a lower-case marker"
        );
        Limits {
            max_head_bytes: limits.max_head_bytes,
            max_uri_bytes: limits.max_uri_bytes,
            max_body_bytes: limits.max_body_bytes,
            marker,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(HttpLimits::default(), b"")
    }
}

/// What every HTTP/1.1 connection of a worker shares: the limits, and what is rendered once a
/// second (the `Date`, the static responses).
#[derive(Debug)]
pub struct Site {
    pub limits: Limits,
    pub prerendered: Prerendered,
}

/// A request whose head is in and whose answer waits for its body, or for memory, or for its
/// moment.
#[derive(Debug)]
struct Pending {
    body: Assembly,
    /// `Expect: 100-continue` with no body sent yet: the interim response is owed once the
    /// body may come (after any memory it needs was granted).
    continue_owed: bool,
    /// What the handler kept when it put the answer off, handed back when it is asked again.
    memo: Option<Memo>,
    /// The whole request is held until then (a control's delay).
    not_before: Option<Instant>,
}

/// Why a whole request is not answered yet.
enum Hold {
    /// Its answer needs memory the budget cannot give yet.
    Memory(Option<Memo>),
    /// Answer at this moment.
    Until(Instant, Memo),
}

#[derive(Debug)]
enum State {
    /// Waiting for a head; `scanned` is how far a previous partial scan got.
    Head { scanned: Option<usize> },
    /// Reading a body, or holding a whole request until memory for its answer is free.
    Body(Box<Pending>),
    /// A response written over time (delayed, paced or generated); input waits in the buffer
    /// meanwhile.
    Producing(Box<Producing>),
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
pub struct Http1 {
    state: State,
    /// Requests answered on this connection.
    served: u64,
    /// The connection ends on an error: close it with a linger.
    linger: bool,
}

impl Default for Http1 {
    fn default() -> Http1 {
        Http1::new()
    }
}

impl Http1 {
    pub fn new() -> Http1 {
        Http1 {
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
            State::Producing(producing) => producing.release(budget),
            _ => {}
        }
    }

    /// A head or body did not arrive in time: 408, then close.
    pub fn on_read_timeout(&mut self, output: &mut Output, env: &Env<'_>) {
        if let State::Head { .. } | State::Body(_) = self.state {
            self.release(env.budget);
            write_error(output, env, StatusCode::RequestTimeout, self.served);
            self.state = State::Done;
            self.linger = true;
        }
    }

    #[inline(always)]
    pub fn on_data(
        &mut self,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) -> Next {
        loop {
            if output.has_tail() || output.len() >= env.high_water {
                // A response in progress is not done: the peer's EOF must not end it early.
                return match self.state {
                    State::Producing(_) => Next::Waiting,
                    _ => Next::Blocked,
                };
            }
            let step = match &mut self.state {
                State::Head { scanned } => {
                    let scanned = *scanned;
                    self.on_head(scanned, input, output, env, app)
                }
                State::Body(_) => self.on_body(input, output, env, app),
                State::Producing(_) => match self.produce(output, env) {
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
                    self.release(env.budget);
                    self.state = State::Done;
                    return Next::Reset;
                }
                Step::Close => {
                    self.state = State::Done;
                    return Next::Close;
                }
                Step::Fail => {
                    // The peer may still be sending (a rejected head, a bad body): linger.
                    self.release(env.budget);
                    self.linger = true;
                    self.state = State::Done;
                    return Next::Close;
                }
            }
        }
    }

    /// Writes what a response in progress has ready; `None` while it is not done.
    #[inline(never)]
    fn produce(&mut self, output: &mut Output, env: &Env<'_>) -> Option<Step> {
        let State::Producing(producing) = &mut self.state else {
            return Some(Step::Progress);
        };
        match producing.produce(output, env) {
            Produced::Done { keep_alive } => {
                producing.release(env.budget);
                Some(self.finish_request(keep_alive))
            }
            Produced::Close => {
                producing.release(env.budget);
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
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) -> Step {
        let buf = input.filled();
        if buf.is_empty() {
            return Step::NeedInput;
        }
        let limits = &env.http.limits;
        // After a partial head, look only at the new bytes for the blank line before re-parsing.
        if let Some(scanned) = scanned {
            if parse::find_head_end(buf, scanned.saturating_sub(3)).is_none() {
                return self.wait_for_head(buf, env, output);
            }
        }
        let (mut head, head_len) = match parse::parse_head(buf, limits) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return self.wait_for_head(buf, env, output),
            Err(reject) => return reject_request(reject, output, env, self.served),
        };
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
            if body_len == 0 && head.keep_alive && head.minor_version == 1 && !env.draining {
                if let Some(answer) = env.http.prerendered.answer(&head.request, env.port) {
                    let step = self.answer_static(&head, answer, env, output);
                    input.consume(head_len);
                    return step;
                }
            }
            head.request.body = &buf[head_len..head_len + body_len];
            return match self.answer(&head, false, output, env, app, None) {
                Ok((step, _)) => {
                    if step != Step::Reset {
                        input.consume(head_len + body_len);
                    }
                    step
                }
                Err(hold) => {
                    let mut pending = Box::new(Pending {
                        body: Assembly::whole_in_place(head_len, body_len),
                        continue_owed: false,
                        memo: None,
                        not_before: None,
                    });
                    let step = pending.hold(hold);
                    self.state = State::Body(pending);
                    step
                }
            };
        }
        let keep = app.keeps_body(&head.request, &self.exchange(env, None));
        let continue_owed = head.expect_continue && buf.len() == head_len;
        let body = Assembly::new(
            head_len,
            head.body,
            keep,
            limits.max_body_bytes,
            limits.max_head_bytes,
            env.budget,
        );
        self.state = State::Body(Box::new(Pending {
            body,
            continue_owed,
            memo: None,
            not_before: None,
        }));
        Step::Progress
    }

    fn wait_for_head(&mut self, buf: &[u8], env: &Env<'_>, output: &mut Output) -> Step {
        let limits = &env.http.limits;
        if let Err(too_large) = parse::check_partial(buf, limits) {
            // The scan skipped re-parsing while the head grew; parse once now, so a syntax
            // error earlier in the head is reported as such, however the bytes were split.
            let reject = parse::parse_head(buf, limits).err().unwrap_or(too_large);
            return reject_request(reject, output, env, self.served);
        }
        self.state = State::Head {
            scanned: Some(buf.len()),
        };
        Step::NeedInput
    }

    /// Reads the body on; answers once the request is whole.
    fn on_body(
        &mut self,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) -> Step {
        // Taken out while it is worked on, so answering can set the next state; put back if
        // the request is not answered yet.
        let State::Body(mut pending) = std::mem::replace(&mut self.state, State::Done) else {
            return Step::Progress;
        };
        match pending.body.advance(input, env.budget, env.token) {
            Progress::Complete => {}
            Progress::NeedInput => {
                if std::mem::take(&mut pending.continue_owed) && !pending.body.body_started(input) {
                    env.stats.on_response(100);
                    output.bytes().extend_from_slice(write::CONTINUE);
                }
                self.state = State::Body(pending);
                return Step::NeedInput;
            }
            Progress::NeedMemory => {
                self.state = State::Body(pending);
                return Step::NeedMemory;
            }
            Progress::Reject(reject) => {
                pending.body.release(env.budget);
                return reject_request(reject, output, env, self.served);
            }
        }
        if pending.not_before.is_some_and(|at| env.now < at) {
            self.state = State::Body(pending);
            return Step::Wait;
        }
        let answered = {
            let request = pending.body.request(input);
            let head_len = pending.body.head_len();
            let spilled = pending.body.is_spilled();
            let memo = pending.memo.as_ref();
            // The same bytes parsed once already: this cannot fail, but a bug must not panic.
            match parse::parse_head(&request[..head_len], &env.http.limits) {
                Ok(Some((mut head, _))) => {
                    head.request.body = &request[head_len..];
                    self.answer(&head, spilled, output, env, app, memo)
                }
                _ => Ok((
                    reject_request(Reject::BadRequest, output, env, self.served),
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
        if let Some((buf, charge)) = pending.body.finish(input, env.budget) {
            if attach_body {
                // `/echo` of a spilled body: it goes out from its own memory, still reserved.
                env.budget.transfer(charge, Use::Body, Use::Output);
                let unused = output.attach(buf, head_len, charge);
                env.budget.release(unused, Use::Output);
            } else {
                env.budget.release(charge, Use::Body);
            }
        }
        step
    }

    /// A request for a static route ([`StaticRoute`](crate::http::StaticRoute)): the copy
    /// rendered for this second, without asking the handler (which would answer the same).
    #[inline(always)]
    fn answer_static(
        &mut self,
        head: &Head<'_>,
        (rendered, logged): (&[u8], (u16, u64)),
        env: &Env<'_>,
        output: &mut Output,
    ) -> Step {
        env.stats.on_response(logged.0);
        output.bytes().extend_from_slice(rendered);
        self.after_answer(head, Some(&head.request), logged, env);
        self.finish_request(true)
    }

    /// What the handler is told about this exchange beside the request.
    #[inline(always)]
    fn exchange<'e>(&self, env: &'e Env<'_>, memo: Option<&'e Memo>) -> Exchange<'e> {
        Exchange {
            now: env.now,
            date: env.date(),
            peer: env.peer,
            connection: ConnectionId {
                pid: env.pid,
                token: env.token,
            },
            index: self.served,
            socket: env.socket,
            port: env.port,
            memo,
        }
    }

    /// Asks the handler for the answer to a whole request, its body in `head.request`
    /// (`spilled`: in its own reserved memory). The step that follows and whether the spilled
    /// body is to be attached after what was written; or why there is no answer yet.
    #[inline(always)]
    fn answer(
        &mut self,
        head: &Head<'_>,
        spilled: bool,
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
        memo: Option<&Memo>,
    ) -> Result<(Step, bool), Hold> {
        // A draining worker ends each connection after its current response.
        let keep_alive = head.keep_alive && !env.draining;
        let request = &head.request;
        let with_body = request.method != Method::Head;
        let ex = self.exchange(env, memo);
        let mut res = Responder::new(
            output,
            env,
            head.minor_version,
            keep_alive,
            with_body,
            request.body,
            spilled,
        );
        let reply = app.respond(request, &ex, &mut res);
        let (status, length, close) = (res.status, res.length, res.close);
        let attach = res.attach_request_body;
        match reply {
            Reply::Sent | Reply::SentCostly => {
                self.after_answer(head, Some(request), (status, length), env);
                let step = self.finish_request(keep_alive && !close);
                // Pipelined scrapes take turns with everyone else (a render is microseconds,
                // thousands in a row are not).
                let costly = matches!(reply, Reply::SentCostly);
                Ok((
                    if costly && step == Step::Progress {
                        Step::Yield
                    } else {
                        step
                    },
                    attach,
                ))
            }
            Reply::Produce(mut producer) => {
                if close {
                    producer.close_after();
                }
                let producing =
                    Producing::new(*producer, head.minor_version, keep_alive, with_body);
                // Logged now: its status and length are known.
                self.after_answer(head, Some(request), producing.logged(), env);
                self.state = State::Producing(Box::new(producing));
                Ok((Step::Progress, false))
            }
            Reply::NeedMemory(memo) => Err(Hold::Memory(memo)),
            Reply::Later(at, memo) => Err(Hold::Until(at, memo)),
            Reply::Reset => {
                self.after_answer(head, Some(request), (0, 0), env);
                Ok((Step::Reset, false))
            }
        }
    }

    /// Bookkeeping once a request is answered: the access log and the counts.
    #[inline(always)]
    fn after_answer(
        &mut self,
        head: &Head<'_>,
        request: Option<&Request<'_>>,
        (status, length): (u16, u64),
        env: &Env<'_>,
    ) {
        log_reply(env, request, self.served, status, length);
        // A client that wanted keep-alive but is refused it (the worker drains) may already be
        // sending its next request: close with a linger, not at once.
        self.linger |= head.keep_alive && env.draining;
        self.served += 1;
        env.served.set(env.served.get() + 1);
    }

    #[inline(always)]
    fn finish_request(&mut self, keep_alive: bool) -> Step {
        if keep_alive {
            match &mut self.state {
                // Answered straight from its head (the common case): nothing to drop.
                State::Head { scanned } => *scanned = None,
                state => *state = State::Head { scanned: None },
            }
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
            Hold::Memory(memo) => {
                if memo.is_some() {
                    self.memo = memo;
                }
                Step::NeedMemory
            }
            Hold::Until(at, memo) => {
                self.memo = Some(memo);
                self.not_before = Some(at);
                Step::Wait
            }
        }
    }
}

/// Writes the error response for `reject`; the connection closes after it.
fn reject_request(reject: Reject, output: &mut Output, env: &Env<'_>, request_index: u64) -> Step {
    let status = match reject {
        Reject::BadRequest => StatusCode::BadRequest,
        Reject::PayloadTooLarge(cause) => {
            let index = match cause {
                TooLarge::Declared => 0,
                TooLarge::Chunked => 1,
                TooLarge::Budget => 2,
            };
            WorkerStats::add(&env.stats.too_large[index], 1);
            StatusCode::PayloadTooLarge
        }
        Reject::UriTooLong => StatusCode::UriTooLong,
        Reject::HeadTooLarge => StatusCode::HeadTooLarge,
        Reject::NotImplemented => StatusCode::NotImplemented,
        Reject::VersionNotSupported => StatusCode::VersionNotSupported,
    };
    WorkerStats::add(&env.stats.parse_errors, 1);
    write_error(output, env, status, request_index);
    Step::Fail
}

/// An error the protocol answers itself (no request to hand over), counted and logged.
fn write_error(output: &mut Output, env: &Env<'_>, status: StatusCode, request_index: u64) {
    env.stats.on_response(status.code());
    write::write_error(output.bytes(), status, env.date());
    let length = status.reason_body().len() as u64;
    log_reply(env, None, request_index, status.code(), length);
}

/// The access-log line for a response: `request` is the request, when one was read whole, and
/// `request_index` its place on the connection (0 for the first).
#[inline(always)]
fn log_reply(
    env: &Env<'_>,
    request: Option<&Request<'_>>,
    request_index: u64,
    status: u16,
    length: u64,
) {
    if env.access_log.is_some() {
        write_log(env, request, request_index, status, length);
    }
}

#[inline(never)]
fn write_log(
    env: &Env<'_>,
    request: Option<&Request<'_>>,
    request_index: u64,
    status: u16,
    length: u64,
) {
    if let Some(log) = env.access_log {
        let id = ExchangeId {
            connection: ConnectionId {
                pid: env.pid,
                token: env.token,
            },
            request_index,
        };
        log.borrow_mut()
            .record(env.peer.addr(), request, status, length, id);
    }
}

#[cfg(test)]
mod tests;
