//! What HTTP/1.1 does with a whole request: hand it to the handler (or, for a static route,
//! send the copy rendered for this second), act on the reply, count and log it; and the
//! error responses it writes itself.

use super::parse::{Head, Reject, TooLarge};
use super::produce::Producing;
use super::respond::Responder;
use super::{write, Hold, Http1, State, Step};
use crate::http::{Exchange, Handler, Memo, Method, Reply, Request, StatusCode};
use crate::output::Output;
use crate::proto::Env;
use crate::stats::WorkerStats;

impl Http1 {
    /// A request for a static route ([`StaticRoute`](crate::http::StaticRoute)): the copy
    /// rendered for this second, without asking the handler (which would answer the same).
    #[inline(always)]
    pub(super) fn answer_static(
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
    pub(super) fn exchange<'e>(&self, env: &'e Env<'_>, memo: Option<&'e Memo>) -> Exchange<'e> {
        env.exchange(self.served, memo, None)
    }

    /// Asks the handler for the answer to a whole request, its body in `head.request`
    /// (`spilled`: in its own reserved memory). The step that follows and whether the spilled
    /// body is to be attached after what was written; or why there is no answer yet.
    #[inline(always)]
    pub(super) fn answer(
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
            Reply::Upgrade(upgrade) => {
                // A draining worker takes on no new conversation.
                if env.draining {
                    write_error(output, env, StatusCode::ServiceUnavailable, self.served);
                    self.served += 1;
                    return Ok((Step::Close, false));
                }
                env.stats.on_response(101);
                write::write_switching(output.bytes(), &upgrade.opening, env.date());
                self.after_answer(head, Some(request), (101, 0), env);
                self.state = State::Upgraded(upgrade);
                Ok((Step::Upgrade, false))
            }
        }
    }

    /// Bookkeeping once a request is answered: the access log and the counts.
    #[inline(always)]
    pub(super) fn after_answer(
        &mut self,
        head: &Head<'_>,
        request: Option<&Request<'_>>,
        (status, length): (u16, u64),
        env: &Env<'_>,
    ) {
        crate::proto::log_exchange(env, request, self.served, status, length);
        // A client that wanted keep-alive but is refused it (the worker drains) may already be
        // sending its next request: close with a linger, not at once.
        self.linger |= head.keep_alive && env.draining;
        self.served += 1;
        env.served.set(env.served.get() + 1);
    }

    #[inline(always)]
    pub(super) fn finish_request(&mut self, keep_alive: bool) -> Step {
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

/// Writes the error response for `reject`; the connection closes after it.
pub(super) fn reject_request(
    reject: Reject,
    output: &mut Output,
    env: &Env<'_>,
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
pub(super) fn write_error(
    output: &mut Output,
    env: &Env<'_>,
    status: StatusCode,
    request_index: u64,
) {
    env.stats.on_response(status.code());
    write::write_error(output.bytes(), status, env.date());
    let length = status.reason_body().len() as u64;
    crate::proto::log_exchange(env, None, request_index, status.code(), length);
}
