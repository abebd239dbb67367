//! Requests handed to the application: the exchange it is told about, its reply acted on
//! (sent, produced, put off, reset), requests held and asked again, and the answers the
//! protocol gives itself (`refuse`).

use super::frame::ErrorCode;
use super::request;
use super::respond::{write_data, write_head, Responder, CUT};
use super::stream::{Held, Outgoing, Phase};
use super::{Http2, PutOff, State, UNCHARGED_HOLDS};
use crate::http::{Exchange, Handler, Length, Memo, Method, Reply, Request, StatusCode};
use crate::memory::Use;
use crate::output::Output;
use crate::proto::Env;
use crate::stats::WorkerStats;

impl Http2 {
    /// What the handler is told about an exchange on stream `id`.
    pub(super) fn exchange<'e>(
        &self,
        env: &'e Env<'_>,
        id: u32,
        memo: Option<&'e Memo>,
    ) -> Exchange<'e> {
        env.exchange(self.served, memo, Some(id))
    }

    /// Answers stream `i`'s request itself with `status` (a request it refuses before the
    /// handler sees it), then ends the stream; a client still sending is asked to stop
    /// (RST_STREAM NO_ERROR, §8.1).
    pub(super) fn refuse(
        &mut self,
        output: &mut Output,
        env: &Env<'_>,
        i: usize,
        status: StatusCode,
    ) {
        if self.state == State::Failed {
            return; // the GOAWAY was the last frame; the streams are gone
        }
        let id = self.streams[i].id;
        let body = status.reason_body();
        env.stats.on_response(status.code());
        WorkerStats::add(&env.stats.parse_errors, 1);
        write_head(
            output.bytes(),
            &mut self.encoder,
            id,
            status,
            Some(b"text/plain"),
            Length::Exactly(body.len() as u64),
            std::iter::empty(),
            env.date(),
            false,
            self.peer.max_frame,
        );
        let window = self.streams[i].send_window.min(self.send_window);
        if (body.len() as i64) <= window {
            write_data(output.bytes(), id, body, true, self.peer.max_frame);
            self.streams[i].send_window -= body.len() as i64;
            self.send_window -= body.len() as i64;
        } else {
            // No window for even the reason: the stream is cut after its head (CANCEL, not
            // REFUSED_STREAM: a status went out, so the request was looked at).
            return self.reset(output, env, id, ErrorCode::Cancel);
        }
        self.served += 1;
        log(env, None, self.served - 1, status.code(), body.len() as u64);
        if self.streams[i].remote_open {
            self.reset(output, env, id, ErrorCode::NoError);
        } else {
            self.forget(env, id);
        }
    }

    /// Stream `i`'s request is whole: answer it from what the stream held.
    pub(super) fn answer_held(
        &mut self,
        i: usize,
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) {
        let Phase::Request(mut held) =
            std::mem::replace(&mut self.streams[i].phase, Phase::Draining)
        else {
            return;
        };
        if held.not_before.is_some_and(|at| env.now < at) {
            self.streams[i].phase = Phase::Request(held);
            return;
        }
        let memo = held.memo.take();
        match self.answer(i, &held.head, &held.body, memo, output, env, app) {
            // Put off again: the stream keeps the request it already holds.
            Some(PutOff { memo, at }) => {
                held.memo = memo;
                held.not_before = at;
                held.needs_memory = at.is_none();
                if let Some(s) = self.streams.get_mut(i) {
                    s.phase = Phase::Request(held);
                }
            }
            None => self.let_go(env, &mut held),
        }
    }

    /// Gives back what a request no longer held took.
    pub(super) fn let_go(&mut self, env: &Env<'_>, held: &mut Held) {
        held.release(env.budget);
        if std::mem::take(&mut held.uncharged) {
            self.uncharged -= 1;
        }
    }

    /// Hands a whole request on stream `i` to the handler and acts on its reply.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn answer(
        &mut self,
        i: usize,
        head: &[u8],
        body: &[u8],
        memo: Option<Memo>,
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) -> Option<PutOff> {
        let id = self.streams[i].id;
        let limits = &env.http.limits;
        let Ok(mut req) = request::request(head, limits.marker, limits.max_uri_bytes) else {
            self.refuse(output, env, i, StatusCode::BadRequest);
            return None;
        };
        req.body = body;
        let with_body = req.method != Method::Head;
        let window = self.streams[i].send_window.min(self.send_window);
        let ex = self.exchange(env, id, memo.as_ref());
        let mut res = Responder {
            output,
            env,
            encoder: &mut self.encoder,
            stream: id,
            with_body,
            request_body: body,
            window,
            max_frame: self.peer.max_frame,
            sent: 0,
            outgoing: None,
            status: 0,
            length: 0,
            close: false,
            ended: false,
        };
        let reply = app.respond(&req, &ex, &mut res);
        let (sent, outgoing, status, length, close, ended) = (
            res.sent,
            res.outgoing,
            res.status,
            res.length,
            res.close,
            res.ended,
        );
        self.streams[i].send_window -= sent as i64;
        self.send_window -= sent as i64;
        self.close_after |= close;
        match reply {
            Reply::Sent | Reply::SentCostly => {
                log(env, Some(&req), self.served, status, length);
                self.count_answered(env);
                if ended {
                    self.finish(output, env, i);
                } else if let Some(out) = outgoing {
                    self.streams[i].phase = Phase::Response(out);
                } else {
                    // Refused with the 503 (ended), or nothing written: end the stream.
                    self.reset(output, env, id, ErrorCode::InternalError);
                }
            }
            Reply::Produce(producer) => {
                let (code, logged) = {
                    let h = producer.head();
                    (h.status.code(), h.length.logged())
                };
                log(env, Some(&req), self.served, code, logged);
                self.count_answered(env);
                let bodiless = !with_body || producer.head().length == Length::Bodiless;
                self.streams[i].phase = Phase::Response(Box::new(Outgoing {
                    producer: Some(producer),
                    bodiless,
                    ..Outgoing::default()
                }));
            }
            Reply::NeedMemory(memo) => return Some(PutOff { memo, at: None }),
            Reply::Later(at, memo) => {
                return Some(PutOff {
                    memo: Some(memo),
                    at: Some(at),
                })
            }
            Reply::Reset => {
                log(env, Some(&req), self.served, 0, 0);
                self.served += 1;
                self.reset(output, env, id, CUT);
            }
            // WebSocket over HTTP/2 (RFC 8441) is not offered: the handler answers 426 before
            // this, and a reply that asks for it anyway fails the stream.
            Reply::Upgrade(_) => self.reset(output, env, id, ErrorCode::InternalError),
        }
        None
    }

    pub(super) fn count_answered(&mut self, env: &Env<'_>) {
        self.served += 1;
        env.served.set(env.served.get() + 1);
        WorkerStats::add(&env.stats.h2_requests, 1);
    }

    /// Keeps a request answered from the scratch (no body) that the handler put off: its head
    /// is copied to the stream, reserved in the budget, or, when the budget is spent, held
    /// unreserved by at most [`UNCHARGED_HOLDS`] streams of the connection; a stream past that
    /// is refused (REFUSED_STREAM: not processed, the client may retry it).
    pub(super) fn hold(
        &mut self,
        i: usize,
        head: &[u8],
        put_off: PutOff,
        output: &mut Output,
        env: &Env<'_>,
    ) {
        let need = head.len() as u64;
        let charged = env.budget.try_reserve(need, 0, Use::Body);
        if !charged && self.uncharged >= UNCHARGED_HOLDS {
            let id = self.streams[i].id;
            return self.reset(output, env, id, ErrorCode::RefusedStream);
        }
        self.uncharged += usize::from(!charged);
        let held = Held {
            head: head.to_vec(),
            charge: if charged { need } else { 0 },
            uncharged: !charged,
            memo: put_off.memo,
            not_before: put_off.at,
            needs_memory: put_off.at.is_none(),
            ..Held::default()
        };
        self.streams[i].phase = Phase::Request(Box::new(held));
    }

    /// Stream `i`'s response went out whole.
    pub(super) fn finish(&mut self, output: &mut Output, env: &Env<'_>, i: usize) {
        let id = self.streams[i].id;
        if self.streams[i].remote_open {
            // §8.1: answered before the request was whole; ask the client to stop sending.
            return self.reset(output, env, id, ErrorCode::NoError);
        }
        self.forget(env, id);
    }

    /// Drops stream `i` if both sides are done with it.
    pub(super) fn finish_if_done(&mut self, env: &Env<'_>, i: usize) {
        if matches!(self.streams[i].phase, Phase::Draining) && !self.streams[i].remote_open {
            let id = self.streams[i].id;
            self.forget(env, id);
        }
    }

    /// Held requests whose moment came, or that wait for memory (asked again at each drive:
    /// the handler's reservation queued the connection, and the worker drives it when its turn
    /// comes).
    pub(super) fn retry_held(&mut self, output: &mut Output, env: &Env<'_>, app: &mut dyn Handler) {
        // Memory is worth asking for again only once the budget moved.
        let changes = env.budget.changes();
        let memory_moved = std::mem::replace(&mut self.memory_seen, changes) != changes;
        let mut i = 0;
        while i < self.streams.len() && self.state == State::Open {
            let s = &self.streams[i];
            let id = s.id;
            let due = match &s.phase {
                Phase::Request(held) if !s.remote_open => {
                    if held.needs_memory {
                        memory_moved
                    } else {
                        held.not_before.is_none_or(|at| at <= env.now)
                    }
                }
                _ => false,
            };
            if due {
                self.answer_held(i, output, env, app);
            }
            // The stream may be gone (answered whole): look at the same place again only if
            // another took it.
            if self.streams.get(i).is_some_and(|s| s.id == id) {
                i += 1;
            }
        }
    }
}

/// The access log's line for an exchange.
fn log(env: &Env<'_>, request: Option<&Request<'_>>, index: u64, status: u16, length: u64) {
    crate::proto::log_exchange(env, request, index, status, length);
}
