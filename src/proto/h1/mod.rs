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

mod answer;
mod body;
pub mod chunked;
mod h2c;
pub mod parse;
mod prerendered;
mod produce;
mod respond;
mod write;

pub use self::prerendered::Prerendered;

use std::time::Instant;

use self::answer::{reject_request, write_error};
use self::body::{Assembly, Progress};
use self::parse::{BodyLen, Reject};
use self::produce::{Produced, Producing};
use super::{Env, Next, Phase};
use crate::buffer::Buf;
use crate::config::HttpLimits;
use crate::http::websocket::Upgrade;
use crate::http::{Handler, Memo, StatusCode};
use crate::memory::{Budget, Use};
use crate::output::Output;
use crate::proto::h2::Http2;

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
    /// HTTP/2 is spoken too (`--http2`): the preface and `Upgrade: h2c` hand a connection over.
    pub http2: bool,
    /// How long an HTTP/2 connection's streams may wait on the client (a body to come, a
    /// window to open) without moving: the larger of `--body-timeout` and `--send-timeout`.
    pub stall: std::time::Duration,
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
    /// A 101 went out: what follows belongs to WebSocket ([`Http1::take_upgrade`]).
    Upgraded(Box<Upgrade>),
    /// What follows belongs to HTTP/2: a 101 to h2c went out, or the client opened with
    /// HTTP/2's preface. (Two variants, not one holding a [`Switch`]: a connection stays a
    /// word smaller.)
    Http2(Box<Http2>),
}

/// The protocol an HTTP/1.1 connection hands itself over to.
#[derive(Debug)]
pub enum Switch {
    /// After a 101 to `websocket`.
    WebSocket(Box<Upgrade>),
    /// After a 101 to `h2c`, or at HTTP/2's preface in place of a first request.
    Http2(Box<Http2>),
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
    /// The connection now speaks WebSocket.
    Upgrade,
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

    /// The connection switched protocols: [`Http1::take_upgrade`] has the next one.
    #[inline(always)]
    pub fn is_upgraded(&self) -> bool {
        matches!(self.state, State::Upgraded(_) | State::Http2(_))
    }

    /// The protocol the connection switched to, once: the caller then drives that instead.
    pub fn take_upgrade(&mut self) -> Option<Switch> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Upgraded(upgrade) => Some(Switch::WebSocket(upgrade)),
            State::Http2(h2) => Some(Switch::Http2(h2)),
            state => {
                self.state = state;
                None
            }
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
            State::Done | State::Upgraded(_) | State::Http2(_) => Phase::Idle { served: true },
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
                State::Upgraded(_) | State::Http2(_) => return Next::NeedInput,
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
                // The protocol above takes the connection over (`take_upgrade`) with what is
                // left in the input.
                Step::Upgrade => return Next::NeedInput,
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
            Produced::Yield => Some(Step::Yield),
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
            Err(reject) => return self.reject_or_switch(reject, buf, output, env),
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
            if head.connection_upgrade && body_len == 0 {
                if let Some(h2) = h2c::switch(&head, env) {
                    output.bytes().extend_from_slice(h2c::SWITCHING);
                    env.stats.on_response(101);
                    input.consume(head_len);
                    self.state = State::Http2(h2);
                    return Step::Upgrade;
                }
            }
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

    /// A head that is not HTTP/1.x: refused, unless it is HTTP/2's preface opening the
    /// connection (prior knowledge, or ALPN `h2`): then the connection is HTTP/2's.
    #[cold]
    fn reject_or_switch(
        &mut self,
        reject: Reject,
        buf: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) -> Step {
        let request_line = &crate::proto::h2::frame::PREFACE[..16];
        if env.http.http2 && self.served == 0 && buf.starts_with(request_line) {
            self.state = State::Http2(Box::new(Http2::new(env.now)));
            return Step::Upgrade;
        }
        reject_request(reject, output, env, self.served)
    }

    fn wait_for_head(&mut self, buf: &[u8], env: &Env<'_>, output: &mut Output) -> Step {
        let limits = &env.http.limits;
        if let Err(too_large) = parse::check_partial(buf, limits) {
            // The scan skipped re-parsing while the head grew; parse once now, so a syntax
            // error earlier in the head is reported as such, however the bytes were split.
            let reject = parse::parse_head(buf, limits).err().unwrap_or(too_large);
            return self.reject_or_switch(reject, buf, output, env);
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

#[cfg(test)]
mod tests;
