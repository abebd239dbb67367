//! HTTP/1.1 per connection: read a head, answer it, stream or skip its body, and go round again
//! for every pipelined request already buffered, while the output stays under its high-water mark.

pub mod date;
pub mod parse;
pub mod response;
mod routes;

pub use self::routes::prerender_hello;

use std::time::Instant;

use self::parse::Reject;
use self::response::StatusCode;
use super::{Context, Next, Phase};
use crate::buffer::Buf;

pub use crate::config::HttpLimits as Limits;

/// Longest chunk-size or trailer line accepted; a chunk extension has no use to us.
const MAX_CHUNK_LINE: usize = 1024;

/// What happens to body bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// Copied to the output (`/echo`).
    Echo,
    /// Read and dropped, to keep the connection's framing.
    Discard,
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkPhase {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a head; `scanned` is how far a previous partial scan got.
    Head { scanned: Option<usize> },
    Body {
        remaining: u64,
        sink: Sink,
        keep_alive: bool,
    },
    Chunked {
        phase: ChunkPhase,
        total: u64,
        sink: Sink,
        keep_alive: bool,
    },
    /// `/debug/sleep`: the response is due at `until`; input waits in the buffer meanwhile.
    Sleeping {
        until: Instant,
        keep_alive: bool,
        head_only: bool,
    },
    /// The final response is written; nothing more is read.
    Done,
}

/// The result of one step of the state machine.
enum Step {
    Progress,
    NeedInput,
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
            State::Body { .. } | State::Chunked { .. } => Phase::Body,
            State::Sleeping { .. } => Phase::Waiting,
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
            State::Sleeping { until, .. } => Some(until),
            _ => None,
        }
    }

    /// The head did not arrive within the header timeout: 408, then close.
    pub fn on_header_timeout(&mut self, output: &mut Buf, ctx: &Context<'_>) {
        if let State::Head { .. } = self.state {
            routes::write_error(output, ctx, StatusCode::RequestTimeout);
            log_reply(ctx, None);
            self.state = State::Done;
            self.linger = true;
        }
    }

    pub fn on_data(&mut self, input: &mut Buf, output: &mut Buf, ctx: &Context<'_>) -> Next {
        loop {
            if output.len() >= ctx.high_water {
                return Next::Blocked;
            }
            let step = match self.state {
                State::Head { scanned } => self.on_head(scanned, input, output, ctx),
                State::Body {
                    remaining,
                    sink,
                    keep_alive,
                } => self.on_body(remaining, sink, keep_alive, input, output, ctx),
                State::Chunked {
                    phase,
                    total,
                    sink,
                    keep_alive,
                } => self.on_chunked(phase, total, sink, keep_alive, input, output, ctx),
                State::Sleeping {
                    until,
                    keep_alive,
                    head_only,
                } => {
                    if ctx.now < until {
                        return Next::Waiting;
                    }
                    routes::write_slept(output, ctx, keep_alive, head_only);
                    self.finish_request(keep_alive && !ctx.draining)
                }
                State::Done => {
                    input.consume(input.len());
                    Step::Close
                }
            };
            match step {
                Step::Progress => continue,
                Step::NeedInput => return Next::NeedInput,
                Step::Close => {
                    self.state = State::Done;
                    return Next::Close;
                }
                Step::Fail => {
                    // The peer may still be sending (a rejected head, a bad body): linger.
                    self.linger = true;
                    self.state = State::Done;
                    return Next::Close;
                }
            }
        }
    }

    fn on_head(
        &mut self,
        scanned: Option<usize>,
        input: &mut Buf,
        output: &mut Buf,
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
        let (head, consumed) = match parse::parse_head(buf, ctx.limits) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return self.wait_for_head(buf, ctx, output),
            Err(reject) => return reject_request(reject, output, ctx),
        };
        let body_in_buffer = buf.len() > consumed;
        // A client that wanted keep-alive but is refused it (the worker drains) may already be
        // sending its next request: close with a linger, not at once.
        self.linger |= head.keep_alive && ctx.draining;
        let next = routes::respond(&head, body_in_buffer, output, ctx);
        log_reply(ctx, Some(&buf[..consumed]));
        self.served += 1;
        ctx.served.set(ctx.served.get() + 1);
        input.consume(consumed);
        self.state = next;
        match next {
            State::Done => Step::Close,
            _ => Step::Progress,
        }
    }

    fn wait_for_head(&mut self, buf: &[u8], ctx: &Context<'_>, output: &mut Buf) -> Step {
        if let Err(too_large) = parse::check_partial(buf, ctx.limits) {
            // The scan skipped re-parsing while the head grew; parse once now, so a syntax
            // error earlier in the head is reported as such, however the bytes were split.
            let reject = parse::parse_head(buf, ctx.limits)
                .err()
                .unwrap_or(too_large);
            return reject_request(reject, output, ctx);
        }
        self.state = State::Head {
            scanned: Some(buf.len()),
        };
        Step::NeedInput
    }

    fn on_body(
        &mut self,
        remaining: u64,
        sink: Sink,
        keep_alive: bool,
        input: &mut Buf,
        output: &mut Buf,
        ctx: &Context<'_>,
    ) -> Step {
        if remaining == 0 {
            return self.finish_request(keep_alive);
        }
        let n = take_body(remaining, sink, false, input, output, ctx);
        if n == 0 {
            return Step::NeedInput;
        }
        self.state = State::Body {
            remaining: remaining - n as u64,
            sink,
            keep_alive,
        };
        Step::Progress
    }

    #[allow(clippy::too_many_arguments)]
    fn on_chunked(
        &mut self,
        phase: ChunkPhase,
        total: u64,
        sink: Sink,
        keep_alive: bool,
        input: &mut Buf,
        output: &mut Buf,
        ctx: &Context<'_>,
    ) -> Step {
        let buf = input.filled();
        let (consumed, phase, total) = match phase {
            ChunkPhase::Size => match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((n, size))) if is_strict_chunk_line(&buf[..n]) => {
                    let total = total.saturating_add(size);
                    if total > ctx.limits.max_body_bytes {
                        // The response head went out already; closing is the only honest end.
                        return Step::Fail;
                    }
                    let next = if size == 0 {
                        ChunkPhase::Trailers
                    } else {
                        ChunkPhase::Data(size)
                    };
                    (n, next, total)
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_CHUNK_LINE => {
                    return Step::NeedInput
                }
                _ => return Step::Fail,
            },
            ChunkPhase::Data(remaining) => {
                let n = take_body(remaining, sink, true, input, output, ctx);
                if n == 0 {
                    return Step::NeedInput;
                }
                let left = remaining - n as u64;
                let next = if left == 0 {
                    ChunkPhase::DataEnd
                } else {
                    ChunkPhase::Data(left)
                };
                self.state = State::Chunked {
                    phase: next,
                    total,
                    sink,
                    keep_alive,
                };
                return Step::Progress;
            }
            ChunkPhase::DataEnd => match buf {
                [b'\r', b'\n', ..] => (2, ChunkPhase::Size, total),
                [] | [b'\r'] => return Step::NeedInput,
                _ => return Step::Fail,
            },
            ChunkPhase::Trailers => match buf.iter().position(|&b| b == b'\n') {
                // The blank line ends the body; any other line is a trailer field, dropped.
                Some(1) if buf[0] == b'\r' => {
                    input.consume(2);
                    if sink == Sink::Echo {
                        output.extend_from_slice(response::LAST_CHUNK);
                    }
                    return self.finish_request(keep_alive);
                }
                Some(i) if i < MAX_CHUNK_LINE && is_trailer_line(&buf[..=i]) => {
                    (i + 1, ChunkPhase::Trailers, total)
                }
                None if buf.len() < MAX_CHUNK_LINE => return Step::NeedInput,
                _ => return Step::Fail,
            },
        };
        input.consume(consumed);
        self.state = State::Chunked {
            phase,
            total,
            sink,
            keep_alive,
        };
        Step::Progress
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

/// A chunk-size line of at most `MAX_CHUNK_LINE` bytes: a hex size first, and no CR or LF before
/// its closing CRLF. httparse lets any byte through in an extension, but a bare LF there would
/// end the line early for a peer that accepts LF alone: a request-smuggling seam.
fn is_strict_chunk_line(line: &[u8]) -> bool {
    line.len() <= MAX_CHUNK_LINE
        && line.first().is_some_and(u8::is_ascii_hexdigit)
        && line.ends_with(b"\r\n")
        && !line[..line.len() - 2]
            .iter()
            .any(|&b| b == b'\r' || b == b'\n')
}

/// A trailer field line, `name: value` ending in CRLF. A bare LF is refused here as in chunk
/// lines, so no peer can read the end of the body somewhere else.
fn is_trailer_line(line: &[u8]) -> bool {
    let Some(body) = line.strip_suffix(b"\r\n") else {
        return false;
    };
    let Some(colon) = body.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0
        && body[..colon].iter().all(u8::is_ascii_graphic)
        && !body.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

/// Moves up to `remaining` body bytes out of `input`, echoing them (as one chunk when
/// `as_chunk`) or dropping them. Returns how many were taken.
fn take_body(
    remaining: u64,
    sink: Sink,
    as_chunk: bool,
    input: &mut Buf,
    output: &mut Buf,
    ctx: &Context<'_>,
) -> usize {
    let mut n = input
        .len()
        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
    if sink == Sink::Echo {
        n = n.min(ctx.high_water.saturating_sub(output.len()));
        if n == 0 {
            return 0;
        }
        let data = &input.filled()[..n];
        if as_chunk {
            response::write_chunk(output, data);
        } else {
            output.extend_from_slice(data);
        }
    }
    input.consume(n);
    n
}

/// Writes the error response for `reject`; the connection closes after it.
fn reject_request(reject: Reject, output: &mut Buf, ctx: &Context<'_>) -> Step {
    let status = match reject {
        Reject::BadRequest => StatusCode::BadRequest,
        Reject::PayloadTooLarge => StatusCode::PayloadTooLarge,
        Reject::UriTooLong => StatusCode::UriTooLong,
        Reject::HeadTooLarge => StatusCode::HeadTooLarge,
        Reject::NotImplemented => StatusCode::NotImplemented,
        Reject::VersionNotSupported => StatusCode::VersionNotSupported,
    };
    crate::stats::WorkerStats::add(&ctx.stats.parse_errors, 1);
    routes::write_error(output, ctx, status);
    log_reply(ctx, None);
    Step::Fail
}

/// The access-log line for the response just written, whose status and body length the routes
/// noted in `ctx.reply`; `head` is the request's head, when one was read whole.
fn log_reply(ctx: &Context<'_>, head: Option<&[u8]>) {
    if let (Some(log), Some(reply)) = (ctx.access_log, ctx.reply) {
        let (status, bytes) = reply.get();
        log.borrow_mut().record(ctx.peer, head, status, bytes);
    }
}

#[cfg(test)]
mod tests;
