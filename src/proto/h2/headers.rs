//! Header blocks from the client: HEADERS and CONTINUATION assembled within their bound,
//! decoded (the table kept in step even for a block that is refused), and turned into a new
//! stream, a request answered at once, or a trailer section.

use super::frame::{self, flag, ErrorCode, FrameHeader};
use super::guard::Flood;
use super::hpack::Decoded;
use super::request::{self, HeadWriter, Refused};
use super::stream::{Held, Phase, Stream};
use super::{Block, Http2, MAX_STREAMS, RECV_WINDOW, SCRATCH_KEEP};
use crate::http::{Handler, StatusCode};
use crate::memory::Use;
use crate::output::Output;
use crate::proto::Env;
use crate::stats::WorkerStats;

impl Http2 {
    pub(super) fn on_headers(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) {
        if h.stream == 0 || h.stream.is_multiple_of(2) {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"HEADERS on a bad stream id",
            );
        }
        let Some(mut block) = Self::unpad(h, payload) else {
            return self.fail(output, env, ErrorCode::ProtocolError, b"bad padding");
        };
        if h.has(flag::PRIORITY) {
            if block.len() < 5 {
                return self.fail(output, env, ErrorCode::FrameSizeError, b"short HEADERS");
            }
            let dependency = frame::u32_at(block, 0) & 0x7fff_ffff;
            block = &block[5..];
            if dependency == h.stream {
                // §5.3.1: a stream cannot depend on itself. The block is still decoded, to
                // keep HPACK's table in step.
                self.decode_and_drop(block, output, env);
                return self.reset(output, env, h.stream, ErrorCode::ProtocolError);
            }
        }
        if block.is_empty() && !h.has(flag::END_HEADERS) && !self.meter(output, env, Flood::Empty) {
            return;
        }
        let end_stream = h.has(flag::END_STREAM);
        if !h.has(flag::END_HEADERS) {
            if block.len() > self.block_limit(env) {
                return self.calm(output, env, Flood::HeaderBlock);
            }
            self.block = Some(Box::new(Block {
                stream: h.stream,
                end_stream,
                bytes: block.to_vec(),
            }));
            return;
        }
        self.on_block(h.stream, end_stream, block, output, env, app);
    }

    /// The most a header block may take, compressed: twice the head limit (a decoded list
    /// is rarely smaller than its block, and past its own limit it gets a 431).
    pub(super) fn block_limit(&self, env: &Env<'_>) -> usize {
        2 * env.http.limits.max_head_bytes
    }

    pub(super) fn on_continuation(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) {
        let limit = self.block_limit(env);
        let Some(block) = self.block.as_mut().filter(|b| b.stream == h.stream) else {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"unexpected CONTINUATION",
            );
        };
        if block.bytes.len() + payload.len() > limit {
            self.block = None;
            return self.calm(output, env, Flood::HeaderBlock);
        }
        block.bytes.extend_from_slice(payload);
        if payload.is_empty() && !h.has(flag::END_HEADERS) && !self.meter(output, env, Flood::Empty)
        {
            return;
        }
        if h.has(flag::END_HEADERS) {
            if let Some(block) = self.block.take() {
                self.on_block(
                    block.stream,
                    block.end_stream,
                    &block.bytes,
                    output,
                    env,
                    app,
                );
            }
        }
    }

    /// Decodes a block only to keep the decoder's table in step with the client's.
    pub(super) fn decode_and_drop(
        &mut self,
        block: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) -> bool {
        let max = env.http.limits.max_head_bytes;
        match self.decoder.decode(block, max, &mut |_, _| {}) {
            Ok(_) => true,
            Err(_) => {
                self.fail(output, env, ErrorCode::CompressionError, b"HPACK");
                false
            }
        }
    }

    /// A whole header block for `id`: a new request, or a trailer section. The scratch it is
    /// rendered in is freed after a large one, so an idle connection keeps little.
    pub(super) fn on_block(
        &mut self,
        id: u32,
        end_stream: bool,
        block: &[u8],
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) {
        self.on_whole_block(id, end_stream, block, output, env, app);
        self.scratch.shrink(SCRATCH_KEEP);
    }

    pub(super) fn on_whole_block(
        &mut self,
        id: u32,
        end_stream: bool,
        block: &[u8],
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) {
        if let Some(i) = self.index(id) {
            return self.on_trailers(i, end_stream, block, output, env, app);
        }
        if id <= self.last_stream {
            if !self.decode_and_drop(block, output, env) {
                return;
            }
            if self.was_reset(id) {
                return; // trailers of a stream we reset: in flight when we did
            }
            if self.was_closed(id) {
                // §5.1: HEADERS on a closed stream.
                return self.fail(
                    output,
                    env,
                    ErrorCode::StreamClosed,
                    b"HEADERS on a closed stream",
                );
            }
            // §5.1.1: stream ids only grow (an id never used is closed by a later one's use).
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"stream id not increasing",
            );
        }
        self.last_stream = id;
        let max = env.http.limits.max_head_bytes;
        let mut writer = HeadWriter::new(&mut self.scratch);
        let decoded = self
            .decoder
            .decode(block, max, &mut |n, v| writer.field(n, v));
        let facts = writer.finish();
        let decoded = match decoded {
            Ok(d) => d,
            Err(_) => return self.fail(output, env, ErrorCode::CompressionError, b"HPACK"),
        };
        // After GOAWAY, new streams are not processed (§6.8); nor past the limit (§5.1.2).
        if self.goaway.is_some() || self.peer_goaway {
            return self.reset(output, env, id, ErrorCode::RefusedStream);
        }
        if self.streams.len() >= MAX_STREAMS as usize {
            if !self.meter(output, env, Flood::Refused) {
                return;
            }
            return self.reset(output, env, id, ErrorCode::RefusedStream);
        }
        let facts = match facts {
            Ok(facts) => facts,
            Err(_) => return self.reset(output, env, id, ErrorCode::ProtocolError),
        };
        if facts
            .content_length
            .is_some_and(|n| n > env.http.limits.max_body_bytes)
            && !end_stream
        {
            // Declared over --max-body-bytes: 413 before a byte of it is read.
            let mut stream =
                Stream::new(id, self.peer.initial_window, RECV_WINDOW, Phase::Draining);
            stream.remote_open = true;
            WorkerStats::add(&env.stats.h2_streams, 1);
            WorkerStats::add(&env.stats.too_large[0], 1);
            self.streams.push(stream);
            let i = self.streams.len() - 1;
            return self.refuse(output, env, i, StatusCode::PayloadTooLarge);
        }
        if end_stream && facts.content_length.is_some_and(|n| n > 0) {
            // §8.1.1: a content-length its (absent) DATA cannot match.
            return self.reset(output, env, id, ErrorCode::ProtocolError);
        }
        let mut held = Box::new(Held {
            declared: facts.content_length,
            ..Held::default()
        });
        let mut stream = Stream::new(id, self.peer.initial_window, RECV_WINDOW, Phase::Draining);
        stream.remote_open = !end_stream;
        WorkerStats::add(&env.stats.h2_streams, 1);
        if self.streams.capacity() == 0 {
            // One stream at a time is the common client (and an idle connection keeps what
            // it grew to): room for one, not the four a Vec would start with.
            self.streams.reserve_exact(1);
        }
        self.streams.push(stream);
        self.progress_at = env.now;
        let i = self.streams.len() - 1;
        if decoded == Decoded::TooLarge {
            WorkerStats::add(&env.stats.h2_floods[Flood::HeaderList as usize], 1);
            return self.refuse(output, env, i, StatusCode::HeadTooLarge);
        }
        let head = std::mem::take(&mut self.scratch.head);
        let refused =
            match request::request(&head, env.http.limits.marker, env.http.limits.max_uri_bytes) {
                Err(Refused::BadRequest) => Some(StatusCode::BadRequest),
                Err(Refused::NotImplemented) => Some(StatusCode::NotImplemented),
                Err(Refused::UriTooLong) => Some(StatusCode::UriTooLong),
                Ok(_) => None,
            };
        if let Some(status) = refused {
            self.scratch.head = head;
            return self.refuse(output, env, i, status);
        }
        if end_stream {
            // The common case: a request without a body, answered at once from the scratch.
            if let Some(put_off) = self.answer(i, &head, &[], None, output, env, app) {
                self.hold(i, &head, put_off, output, env);
            }
            self.scratch.head = head;
            return;
        }
        // A body follows: keep the head, and reserve for the body if the handler wants it.
        let keep =
            match request::request(&head, env.http.limits.marker, env.http.limits.max_uri_bytes) {
                Ok(req) => app.keeps_body(&req, &self.exchange(env, id, None)),
                Err(_) => false,
            };
        held.keep = keep;
        held.head = head.clone();
        self.scratch.head = head;
        // A declared body its length; one without a length the most it may grow to, within
        // what the whole budget could hold beside its head (as HTTP/1.1 does for chunked).
        let head_bytes = held.head.capacity() as u64;
        let body_bytes = match (keep, held.declared) {
            (false, _) => 0,
            (true, Some(declared)) => declared,
            (true, None) => {
                let by_budget = env.budget.limit().saturating_sub(head_bytes);
                env.http.limits.max_body_bytes.min(by_budget)
            }
        };
        held.limit = body_bytes;
        let need = head_bytes + body_bytes;
        if need > env.budget.limit() {
            WorkerStats::add(&env.stats.too_large[2], 1);
            return self.refuse(output, env, i, StatusCode::PayloadTooLarge);
        }
        // Reserved before a byte is read, or not read at all: a stream that would have to wait
        // for memory is refused (not processed: the client may retry it), so what the
        // connection holds unreserved stays within one connection window.
        if !env.budget.try_reserve(need, 0, Use::Body) {
            return self.reset(output, env, id, ErrorCode::RefusedStream);
        }
        held.charge = need;
        self.streams[i].phase = Phase::Request(held);
    }

    pub(super) fn on_trailers(
        &mut self,
        i: usize,
        end_stream: bool,
        block: &[u8],
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) {
        let id = self.streams[i].id;
        let max = env.http.limits.max_head_bytes;
        let mut writer = HeadWriter::for_trailers(&mut self.scratch);
        let decoded = self
            .decoder
            .decode(block, max, &mut |n, v| writer.field(n, v));
        let ok = writer.finish().is_ok();
        if decoded.is_err() {
            return self.fail(output, env, ErrorCode::CompressionError, b"HPACK");
        }
        if !self.streams[i].remote_open {
            return self.reset(output, env, id, ErrorCode::StreamClosed);
        }
        // §8.1: trailers end the stream; a second HEADERS without END_STREAM is malformed.
        if !end_stream || !ok {
            return self.reset(output, env, id, ErrorCode::ProtocolError);
        }
        self.streams[i].remote_open = false;
        if let Phase::Request(held) = &self.streams[i].phase {
            if held.declared.is_some_and(|d| d != held.received) {
                return self.reset(output, env, id, ErrorCode::ProtocolError);
            }
            self.answer_held(i, output, env, app);
        } else {
            self.finish_if_done(env, i);
        }
    }
}
