//! DATA from the client: the windows (both checked, both given back as bytes are taken),
//! the body kept for the handler within its reservation or dropped, `content-length` held to.

use super::frame::{self, flag, ErrorCode, FrameHeader};
use super::guard::Flood;
use super::stream::Phase;
use super::{Http2, UPDATE_AT};
use crate::http::{Handler, StatusCode};
use crate::output::Output;
use crate::proto::Env;
use crate::stats::WorkerStats;

impl Http2 {
    /// A frame's payload without its padding (RFC 9113 §6.1, §6.2); `None` if the padding
    /// does not fit (a connection error).
    pub(super) fn unpad(h: FrameHeader, payload: &[u8]) -> Option<&[u8]> {
        if !h.has(flag::PADDED) {
            return Some(payload);
        }
        let (&pad, rest) = payload.split_first()?;
        rest.len()
            .checked_sub(usize::from(pad))
            .map(|end| &rest[..end])
    }

    pub(super) fn on_data_frame(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) {
        if h.stream == 0 {
            return self.fail(output, env, ErrorCode::ProtocolError, b"DATA on stream 0");
        }
        let Some(data) = Self::unpad(h, payload) else {
            return self.fail(output, env, ErrorCode::ProtocolError, b"bad padding");
        };
        // The whole frame, padding included, counts against the windows (§6.9.1).
        let len = i64::from(h.len);
        if len > self.recv_window {
            return self.fail(
                output,
                env,
                ErrorCode::FlowControlError,
                b"connection window",
            );
        }
        self.recv_window -= len;
        let end = h.has(flag::END_STREAM);
        if data.is_empty() && !end && !self.meter(output, env, Flood::Empty) {
            return;
        }
        let Some(i) = self.index(h.stream) else {
            // Not a stream we know: its bytes still count, and are given back at once.
            self.credit_connection(output, h.len);
            if h.stream > self.last_stream {
                return self.fail(
                    output,
                    env,
                    ErrorCode::ProtocolError,
                    b"DATA on an idle stream",
                );
            }
            if !self.was_reset(h.stream) {
                self.reset(output, env, h.stream, ErrorCode::StreamClosed);
            }
            return;
        };
        let s = &mut self.streams[i];
        if !s.remote_open {
            self.credit_connection(output, h.len);
            return self.reset(output, env, h.stream, ErrorCode::StreamClosed);
        }
        if len > s.recv_window {
            self.credit_connection(output, h.len);
            return self.reset(output, env, h.stream, ErrorCode::FlowControlError);
        }
        s.recv_window -= len;
        if end {
            s.remote_open = false;
        }
        if !data.is_empty() || end {
            self.progress_at = env.now;
        }
        let held = match &mut s.phase {
            Phase::Request(held) => held,
            // The answer went out before the body was whole: the rest is dropped.
            _ => {
                self.credit(output, i, h.len);
                if !self.streams[i].remote_open {
                    self.finish_if_done(env, i);
                }
                return;
            }
        };
        held.received += data.len() as u64;
        if held
            .declared
            .is_some_and(|d| held.received > d || (end && held.received != d))
        {
            // RFC 9113 §8.1.1: DATA that disagrees with content-length is malformed.
            self.credit_connection(output, h.len);
            return self.reset(output, env, h.stream, ErrorCode::ProtocolError);
        }
        let limit = if held.keep {
            held.limit
        } else {
            env.http.limits.max_body_bytes
        };
        if held.received > limit {
            // Past --max-body-bytes, or past what the budget reserved for a body without a
            // length: 413, as HTTP/1.1 answers a chunked body that grows too large.
            let by_budget = held.keep && limit < env.http.limits.max_body_bytes;
            self.credit_connection(output, h.len);
            WorkerStats::add(&env.stats.too_large[1 + usize::from(by_budget)], 1);
            return self.refuse(output, env, i, StatusCode::PayloadTooLarge);
        }
        // Kept bytes were reserved with the stream (see `on_block`): the window reopens as
        // they are taken, kept or dropped.
        if held.keep {
            keep_within(&mut held.body, data, held.charge);
        }
        self.credit(output, i, h.len);
        if end {
            self.answer_held(i, output, env, app);
        }
    }

    /// Gives `n` bytes of window back to the connection, in batches.
    pub(super) fn credit_connection(&mut self, output: &mut Output, n: u32) {
        self.recv_unacked += n;
        if self.recv_unacked >= UPDATE_AT {
            frame::write_window_update(output.bytes(), 0, self.recv_unacked);
            self.recv_window += i64::from(self.recv_unacked);
            self.recv_unacked = 0;
        }
    }

    /// Gives `n` bytes of window back to the connection and to stream `i` (while the client
    /// still sends on it).
    pub(super) fn credit(&mut self, output: &mut Output, i: usize, n: u32) {
        self.credit_connection(output, n);
        let s = &mut self.streams[i];
        if !s.remote_open {
            return;
        }
        s.recv_unacked += n;
        if s.recv_unacked >= UPDATE_AT {
            frame::write_window_update(output.bytes(), s.id, s.recv_unacked);
            s.recv_window += i64::from(s.recv_unacked);
            s.recv_unacked = 0;
        }
    }
}

/// Appends `data` to a kept body, growing its storage by doubling but never past `limit` (the
/// reservation): the memory held stays the memory reserved.
fn keep_within(body: &mut Vec<u8>, data: &[u8], limit: u64) {
    let need = body.len() + data.len();
    if need > body.capacity() {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let grow = (body.capacity() * 2)
            .max(need)
            .max(4096)
            .min(limit.max(need));
        body.reserve_exact(grow - body.len());
    }
    body.extend_from_slice(data);
}
