//! HTTP/2 (RFC 9113) per connection, over the same handlers as HTTP/1.1.
//!
//! Three ways in, all ending here: the connection preface on the plain port (prior
//! knowledge), `Upgrade: h2c` from an HTTP/1.1 request (RFC 7540 §3.2; the request becomes
//! stream 1), and ALPN `h2` on TLS (the client then sends the preface). HTTP/1.1 notices the
//! preface (its request line, `PRI * HTTP/2.0`, is refused as a version) and hands the
//! connection over before a byte is answered.
//!
//! Each request's header list is decoded with HPACK ([`hpack`]), checked and rendered as an
//! HTTP/1.1-style head ([`request`]), and handed to the [`Handler`] once the request is whole,
//! exactly as HTTP/1.1 does; the answer comes back through [`respond::Responder`]. Bodies go
//! out as DATA under both windows ([`send`]), streams taking turns a frame at a time.
//!
//! Bounds: at most [`MAX_STREAMS`] streams at once; a header block of at most twice the
//! server's head limit (else GOAWAY: the CONTINUATION flood) and a decoded list of at most the
//! head limit (else 431); request bodies and held requests are reserved in the budget like
//! HTTP/1.1's, and the peer's window is opened only for bytes that are dropped or covered by a
//! reservation, so what a client can make us hold unreserved is one connection window
//! (64 KiB). Floods of control frames are metered ([`guard`]).
//!
//! Not supported: server push (never sent; SETTINGS_ENABLE_PUSH from the client is only
//! checked), priorities (ignored, as RFC 9113 §5.3 allows), extended CONNECT (RFC 8441).

#![allow(dead_code)] // Until every part is wired (issue 23).

pub(crate) mod frame;
pub(crate) mod guard;
pub mod hpack;
pub(crate) mod request;
mod respond;
mod send;
mod stream;

use std::time::{Duration, Instant};

use self::frame::{flag, kind, setting, ErrorCode, FrameHeader, HEADER_LEN, PREFACE};
use self::guard::{Flood, Meter};
use self::hpack::{Decoded, Decoder, Encoder};
use self::request::{HeadWriter, Refused, Scratch};
use self::respond::{write_data, write_head, Responder, CUT};
use self::send::{send_one, Sent};
use self::stream::{Held, Outgoing, Phase, Stream};
use super::{Env, Next, Phase as ConnPhase};
use crate::buffer::Buf;
use crate::http::{Exchange, Handler, Length, Memo, Method, Reply, Request, StatusCode};
use crate::ids::ConnectionId;
use crate::memory::Use;
use crate::output::Output;
use crate::stats::WorkerStats;

/// Streams the server lets a client have open at once (SETTINGS_MAX_CONCURRENT_STREAMS): nginx
/// allows 128, h2o 100.
pub const MAX_STREAMS: u32 = 128;

/// Our receive window per stream and for the connection: the protocol's initial one.
const RECV_WINDOW: i64 = frame::DEFAULT_WINDOW;

/// Window credit is given back once this much of a window was taken.
const UPDATE_AT: u32 = 16 * 1024;

/// The largest frame we accept (our SETTINGS_MAX_FRAME_SIZE: the protocol's initial one).
const MAX_FRAME_IN: u32 = frame::DEFAULT_MAX_FRAME;

/// The HPACK dynamic table we keep for the client's blocks (SETTINGS_HEADER_TABLE_SIZE).
const TABLE_SIZE: usize = 4096;

/// Streams remembered as lately closed (see `Http2::recent`).
const RECENT: usize = 16;

/// The tag on a remembered stream id that we reset (stream ids are 31 bits).
const RESET_BY_US: u32 = 1 << 31;

/// Scratch kept between header lists; a larger one is freed once used.
const SCRATCH_KEEP: usize = 16 * 1024;

/// Requests put off (a delay, memory) that one connection may keep without a reservation
/// when the budget is spent: each holds no more than a head (`--max-head-bytes`).
const UNCHARGED_HOLDS: usize = 4;

/// A request the handler put off: until `at`, or (without one) until memory is free.
struct PutOff {
    memo: Option<Memo>,
    at: Option<Instant>,
}

/// What the peer told us in its SETTINGS.
#[derive(Debug, Clone, Copy)]
struct PeerSettings {
    initial_window: i64,
    max_frame: usize,
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Our SETTINGS are not written yet.
    Start,
    /// Waiting for the client's preface.
    Preface,
    /// The preface is in; its SETTINGS frame must come first (RFC 9113 §3.4).
    Settings,
    /// Frames.
    Open,
    /// A connection error was sent (GOAWAY): nothing more is read; close once written.
    Failed,
}

/// A header block being read across CONTINUATION frames.
#[derive(Debug)]
struct Block {
    stream: u32,
    end_stream: bool,
    bytes: Vec<u8>,
}

/// One HTTP/2 connection.
#[derive(Debug)]
pub struct Http2 {
    state: State,
    decoder: Decoder,
    encoder: Encoder,
    peer: PeerSettings,
    streams: Vec<Stream>,
    /// The highest stream id the client opened (or tried to).
    last_stream: u32,
    /// The last stream id a GOAWAY of ours promised to process; no new stream after it.
    goaway: Option<u32>,
    /// The client sent GOAWAY: no new streams; close when the last one is done.
    peer_goaway: bool,
    /// A control's `close`: GOAWAY once the response is out, then close.
    close_after: bool,
    /// Bytes we may send on the connection.
    send_window: i64,
    /// Bytes the client may still send on the connection before we grant more.
    recv_window: i64,
    /// Bytes taken since we last granted more.
    recv_unacked: u32,
    block: Option<Box<Block>>,
    scratch: Scratch,
    meter: Meter,
    /// Streams that closed lately, newest last: frames the client had in flight for one we
    /// reset are dropped quietly (the id with [`RESET_BY_US`] set); HEADERS on another is
    /// STREAM_CLOSED, not a stream id going backwards.
    recent: [u32; RECENT],
    recent_at: u8,
    /// Requests answered on the connection.
    served: u64,
    /// Where the next round of sending starts, so streams take turns.
    turn: usize,
    /// The connection ends on an error: close with a linger.
    linger: bool,
    /// Requests held without a reservation (at most [`UNCHARGED_HOLDS`]).
    uncharged: usize,
    /// A producer spent the connection's share of this loop turn: `Next::Yield`.
    yielded: bool,
    /// When a stream last moved (see [`Http2::stall_deadline`]), and how long it may stand.
    progress_at: Instant,
    stall_ms: u32,
    /// The budget's count of changes when held requests last asked it for memory.
    memory_seen: u64,
}

impl Http2 {
    /// A connection whose client is about to send the preface (prior knowledge, ALPN `h2`).
    pub fn new(now: Instant) -> Http2 {
        Http2 {
            state: State::Start,
            decoder: Decoder::new(TABLE_SIZE),
            encoder: Encoder::new(),
            peer: PeerSettings {
                initial_window: frame::DEFAULT_WINDOW,
                max_frame: frame::DEFAULT_MAX_FRAME as usize,
            },
            streams: Vec::new(),
            last_stream: 0,
            goaway: None,
            peer_goaway: false,
            close_after: false,
            send_window: frame::DEFAULT_WINDOW,
            recv_window: RECV_WINDOW,
            recv_unacked: 0,
            block: None,
            scratch: Scratch::default(),
            meter: Meter::new(now),
            recent: [0; RECENT],
            recent_at: 0,
            served: 0,
            turn: 0,
            linger: false,
            uncharged: 0,
            yielded: false,
            progress_at: now,
            stall_ms: 60_000,
            memory_seen: 0,
        }
    }

    /// A connection upgraded from HTTP/1.1 (`Upgrade: h2c`): `settings` is the decoded
    /// HTTP2-Settings payload, `head` the request's head rendered for HTTP/2 (see
    /// [`request`]): it becomes stream 1, whole (half-closed remote), answered once the
    /// client's preface is in.
    pub(crate) fn upgraded(
        now: Instant,
        settings: &[u8],
        head: Vec<u8>,
    ) -> Result<Http2, ErrorCode> {
        let mut h2 = Http2::new(now);
        h2.apply_settings(settings)?;
        h2.last_stream = 1;
        let charge = 0; // the head is the request HTTP/1.1 had in its buffer: a constant's worth
        let held = Box::new(Held {
            head,
            charge,
            ..Held::default()
        });
        let mut stream = Stream::new(1, h2.peer.initial_window, RECV_WINDOW, Phase::Request(held));
        stream.remote_open = false;
        h2.streams.push(stream);
        Ok(h2)
    }

    /// Where the connection is, for its timeout.
    pub fn phase(&self, buffered: usize) -> ConnPhase {
        if self.block.is_some() || (buffered > 0 && self.streams.is_empty()) {
            return ConnPhase::Head;
        }
        if self.streams.iter().any(|s| s.remote_open) {
            return ConnPhase::Body;
        }
        if self.streams.is_empty() {
            return ConnPhase::Idle {
                served: self.served > 0,
            };
        }
        ConnPhase::Waiting
    }

    /// When the connection wants to be driven without input: a held request's or a producer's
    /// moment. (A stream stopped by the output's mark is driven again when the output drains:
    /// `Next::Blocked`.)
    ///
    /// A producer whose window is shut has no moment (only a WINDOW_UPDATE moves it); while a
    /// stream waits on the client (a body to come, a window to open), the connection's
    /// deadline for progress is one ([`Http2::stall_deadline`]).
    pub fn wake_at(&self) -> Option<Instant> {
        let moments = self
            .streams
            .iter()
            .filter(|s| !self.shut_out(s))
            .filter_map(Stream::wake_at);
        moments.chain(self.stall_deadline()).min()
    }

    /// A response whose head is out and whose window (the stream's or the connection's) is
    /// shut: it can send nothing until the client opens it.
    fn shut_out(&self, s: &Stream) -> bool {
        matches!(&s.phase, Phase::Response(out) if out.head_sent)
            && s.send_window.min(self.send_window) <= 0
    }

    /// When streams that wait on the client (a body still to come, a shut window) are given up:
    /// `stall` after the connection last moved (a stream opened, body bytes in, response bytes
    /// out). Frames that move nothing (PING, SETTINGS) do not count: a client cannot hold
    /// reservations open by pinging.
    fn stall_deadline(&self) -> Option<Instant> {
        let waits = self
            .streams
            .iter()
            .any(|s| s.remote_open || self.shut_out(s));
        waits.then_some(self.progress_at + Duration::from_millis(u64::from(self.stall_ms)))
    }

    pub fn needs_linger(&self) -> bool {
        self.linger
    }

    /// Gives back what the connection holds in the budget (it is closing).
    pub fn release(&mut self, budget: &crate::memory::Budget, stats: &crate::stats::WorkerStats) {
        for s in &mut self.streams {
            s.release(budget);
        }
        WorkerStats::sub(&stats.h2_streams, self.streams.len() as u64);
        self.streams.clear();
    }

    /// The client was silent too long inside a frame or a request: GOAWAY, then close.
    pub fn on_read_timeout(&mut self, output: &mut Output, env: &Env<'_>) {
        if self.state != State::Failed {
            self.fail(output, env, ErrorCode::NoError, b"timeout");
        }
    }

    /// The server closes an idle connection: it says so with GOAWAY(NO_ERROR).
    pub fn on_idle_close(&mut self, output: &mut Output, env: &Env<'_>) -> bool {
        if self.state == State::Open && self.goaway.is_none() {
            self.send_goaway(output, env, ErrorCode::NoError, b"");
            return true;
        }
        false
    }

    /// Consumes the frames in `input`, answering requests through `app`.
    pub fn on_data(
        &mut self,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) -> Next {
        if self.state == State::Start {
            self.start(output, env);
        }
        self.stall_ms = u32::try_from(env.http.stall.as_millis()).unwrap_or(u32::MAX);
        if self.stall_deadline().is_some_and(|at| env.now >= at) {
            self.fail(output, env, ErrorCode::NoError, b"stalled");
            return Next::Close;
        }
        if self.state == State::Preface {
            let have = input.filled();
            let n = have.len().min(PREFACE.len());
            if have[..n] != PREFACE[..n] {
                self.fail(output, env, ErrorCode::ProtocolError, b"bad preface");
                return Next::Close;
            }
            if n < PREFACE.len() {
                return Next::NeedInput;
            }
            input.consume(PREFACE.len());
            self.state = State::Settings;
        }
        while matches!(self.state, State::Open | State::Settings) && output.len() < env.high_water {
            let Some(h) = FrameHeader::parse(input.filled()) else {
                break;
            };
            if h.len > MAX_FRAME_IN {
                self.fail(output, env, ErrorCode::FrameSizeError, b"frame too large");
                break;
            }
            let total = HEADER_LEN + h.len as usize;
            if input.len() < total {
                break;
            }
            if self.state == State::Settings {
                if h.kind != kind::SETTINGS || h.has(flag::ACK) {
                    self.fail(
                        output,
                        env,
                        ErrorCode::ProtocolError,
                        b"preface without SETTINGS",
                    );
                    break;
                }
                self.state = State::Open;
            }
            self.on_frame(h, &input.filled()[HEADER_LEN..total], output, env, app);
            input.consume(total);
        }
        if self.state == State::Open {
            self.pump(output, env, app);
        }
        self.next(input, output, env)
    }

    /// What the connection wants next.
    fn next(&mut self, input: &Buf, output: &Output, env: &Env<'_>) -> Next {
        if self.state == State::Failed {
            return Next::Close;
        }
        let done = self.goaway.is_some() || self.peer_goaway;
        if done && self.streams.is_empty() && self.block.is_none() {
            return Next::Close;
        }
        if output.len() >= env.high_water {
            return Next::Blocked;
        }
        if std::mem::take(&mut self.yielded) {
            return Next::Yield;
        }
        // Whatever its streams wait for (a moment, memory, a window), the connection reads on:
        // never `Waiting`, so a client that leaves is seen leaving (its EOF closes it).
        let _ = input;
        Next::NeedInput
    }

    /// Our SETTINGS, first thing on the connection (RFC 9113 §3.4).
    fn start(&mut self, output: &mut Output, env: &Env<'_>) {
        let max_list = u32::try_from(env.http.limits.max_head_bytes).unwrap_or(u32::MAX);
        frame::write_settings(
            output.bytes(),
            &[
                (setting::MAX_CONCURRENT_STREAMS, MAX_STREAMS),
                (setting::INITIAL_WINDOW_SIZE, RECV_WINDOW as u32),
                (setting::MAX_HEADER_LIST_SIZE, max_list),
            ],
        );
        WorkerStats::add(&env.stats.h2_connections, 1);
        self.state = State::Preface;
    }

    /// A connection error (RFC 9113 §5.4.1): GOAWAY with `code`, and the connection ends.
    fn fail(&mut self, output: &mut Output, env: &Env<'_>, code: ErrorCode, debug: &[u8]) {
        if self.state == State::Failed {
            return;
        }
        // Whatever was pending goes: the client is told what was processed, and no more (never
        // more than an earlier GOAWAY said, RFC 9113 §6.8).
        let last = self.goaway.unwrap_or(self.last_stream);
        frame::write_goaway(output.bytes(), last, code, debug);
        WorkerStats::add(&env.stats.h2_goaways[code as usize], 1);
        self.goaway = Some(last);
        self.state = State::Failed;
        self.linger = true;
        for s in &mut self.streams {
            s.release(env.budget);
        }
        WorkerStats::sub(&env.stats.h2_streams, self.streams.len() as u64);
        self.streams.clear();
    }

    /// A guard tripped: GOAWAY(ENHANCE_YOUR_CALM), counted by class.
    fn calm(&mut self, output: &mut Output, env: &Env<'_>, class: Flood) {
        WorkerStats::add(&env.stats.h2_floods[class as usize], 1);
        self.fail(
            output,
            env,
            ErrorCode::EnhanceYourCalm,
            Flood::LABELS[class as usize].as_bytes(),
        );
    }

    /// Counts a frame of a metered class; trips the guard past its rate.
    fn meter(&mut self, output: &mut Output, env: &Env<'_>, class: Flood) -> bool {
        if self.meter.allow(class, env.now) {
            return true;
        }
        self.calm(output, env, class);
        false
    }

    /// GOAWAY on a graceful end (drain, idle, a control's close): streams up to the last one
    /// opened are finished, later ones refused.
    fn send_goaway(&mut self, output: &mut Output, env: &Env<'_>, code: ErrorCode, debug: &[u8]) {
        frame::write_goaway(output.bytes(), self.last_stream, code, debug);
        WorkerStats::add(&env.stats.h2_goaways[code as usize], 1);
        self.goaway = Some(self.last_stream);
    }

    /// A stream error (RFC 9113 §5.4.2): RST_STREAM, and the stream is gone.
    fn reset(&mut self, output: &mut Output, env: &Env<'_>, id: u32, code: ErrorCode) {
        if self.state == State::Failed {
            return; // the GOAWAY was the last frame
        }
        frame::write_rst_stream(output.bytes(), id, code);
        WorkerStats::add(&env.stats.h2_resets[0], 1);
        self.forget(env, id);
        self.remember(id | RESET_BY_US);
    }

    /// Drops a stream, giving back what it held.
    fn forget(&mut self, env: &Env<'_>, id: u32) {
        if let Some(i) = self.index(id) {
            let mut s = self.streams.swap_remove(i);
            self.remember(id);
            if let Phase::Request(held) = &mut s.phase {
                self.uncharged -= usize::from(std::mem::take(&mut held.uncharged));
            }
            s.release(env.budget);
            WorkerStats::sub(&env.stats.h2_streams, 1);
        }
    }

    fn index(&self, id: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    /// Notes a stream that closed (`id`, or `id | RESET_BY_US`).
    fn remember(&mut self, tagged: u32) {
        let at = usize::from(self.recent_at);
        // A stream we reset was just remembered as closed (`forget` first): keep one entry.
        if at > 0 && self.recent[at - 1] & !RESET_BY_US == tagged & !RESET_BY_US {
            self.recent[at - 1] = tagged;
            return;
        }
        if at == RECENT {
            self.recent.copy_within(1.., 0);
            self.recent[RECENT - 1] = tagged;
        } else {
            self.recent[at] = tagged;
            self.recent_at += 1;
        }
    }

    fn was_closed(&self, id: u32) -> bool {
        id != 0 && self.recent.iter().any(|&r| r & !RESET_BY_US == id)
    }

    fn was_reset(&self, id: u32) -> bool {
        id != 0 && self.recent.contains(&(id | RESET_BY_US))
    }

    fn on_frame(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
        app: &mut dyn Handler,
    ) {
        // RFC 9113 §6.10: nothing may come between a HEADERS without END_HEADERS and its last
        // CONTINUATION.
        if self.block.is_some() && h.kind != kind::CONTINUATION {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"expected CONTINUATION",
            );
        }
        match h.kind {
            kind::DATA => self.on_data_frame(h, payload, output, env, app),
            kind::HEADERS => self.on_headers(h, payload, output, env, app),
            kind::PRIORITY => self.on_priority(h, payload, output, env),
            kind::RST_STREAM => self.on_rst_stream(h, payload, output, env),
            kind::SETTINGS => self.on_settings(h, payload, output, env),
            kind::PUSH_PROMISE => self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"PUSH_PROMISE from a client",
            ),
            kind::PING => self.on_ping(h, payload, output, env),
            kind::GOAWAY => self.on_goaway(h, payload, output, env),
            kind::WINDOW_UPDATE => self.on_window_update(h, payload, output, env),
            kind::CONTINUATION => self.on_continuation(h, payload, output, env, app),
            // RFC 9113 §5.5: unknown frame types are ignored.
            _ => {}
        }
    }

    /// A frame's payload without its padding (RFC 9113 §6.1, §6.2); `None` if the padding
    /// does not fit (a connection error).
    fn unpad(h: FrameHeader, payload: &[u8]) -> Option<&[u8]> {
        if !h.has(flag::PADDED) {
            return Some(payload);
        }
        let (&pad, rest) = payload.split_first()?;
        rest.len()
            .checked_sub(usize::from(pad))
            .map(|end| &rest[..end])
    }

    fn on_data_frame(
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
    fn credit_connection(&mut self, output: &mut Output, n: u32) {
        self.recv_unacked += n;
        if self.recv_unacked >= UPDATE_AT {
            frame::write_window_update(output.bytes(), 0, self.recv_unacked);
            self.recv_window += i64::from(self.recv_unacked);
            self.recv_unacked = 0;
        }
    }

    /// Gives `n` bytes of window back to the connection and to stream `i` (while the client
    /// still sends on it).
    fn credit(&mut self, output: &mut Output, i: usize, n: u32) {
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

    fn on_headers(
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
    fn block_limit(&self, env: &Env<'_>) -> usize {
        2 * env.http.limits.max_head_bytes
    }

    fn on_continuation(
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
    fn decode_and_drop(&mut self, block: &[u8], output: &mut Output, env: &Env<'_>) -> bool {
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
    fn on_block(
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

    fn on_whole_block(
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

    fn on_trailers(
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

    fn on_priority(&mut self, h: FrameHeader, payload: &[u8], output: &mut Output, env: &Env<'_>) {
        if h.stream == 0 {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"PRIORITY on stream 0",
            );
        }
        if h.len != 5 {
            return self.reset(output, env, h.stream, ErrorCode::FrameSizeError);
        }
        if !self.meter(output, env, Flood::Control) {
            return;
        }
        if frame::u32_at(payload, 0) & 0x7fff_ffff == h.stream {
            self.reset(output, env, h.stream, ErrorCode::ProtocolError);
        }
    }

    fn on_rst_stream(
        &mut self,
        h: FrameHeader,
        _payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) {
        if h.stream == 0 {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"RST_STREAM on stream 0",
            );
        }
        if h.len != 4 {
            return self.fail(output, env, ErrorCode::FrameSizeError, b"RST_STREAM size");
        }
        if h.stream > self.last_stream {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"RST_STREAM on an idle stream",
            );
        }
        if self.index(h.stream).is_some() {
            WorkerStats::add(&env.stats.h2_resets[1], 1);
            self.forget(env, h.stream);
            self.meter(output, env, Flood::Reset);
        }
    }

    fn on_settings(&mut self, h: FrameHeader, payload: &[u8], output: &mut Output, env: &Env<'_>) {
        if h.stream != 0 {
            return self.fail(
                output,
                env,
                ErrorCode::ProtocolError,
                b"SETTINGS on a stream",
            );
        }
        if h.has(flag::ACK) {
            if h.len != 0 {
                self.fail(
                    output,
                    env,
                    ErrorCode::FrameSizeError,
                    b"SETTINGS ack with payload",
                );
            }
            return;
        }
        if !h.len.is_multiple_of(6) {
            return self.fail(output, env, ErrorCode::FrameSizeError, b"SETTINGS size");
        }
        if !self.meter(output, env, Flood::Settings) {
            return;
        }
        let before = self.peer.initial_window;
        if let Err(code) = self.apply_settings(payload) {
            return self.fail(output, env, code, b"SETTINGS value");
        }
        // §6.9.2: a new initial window moves every stream's window by the difference.
        let delta = self.peer.initial_window - before;
        if delta != 0 {
            for s in &mut self.streams {
                s.send_window += delta;
                if s.send_window > frame::MAX_WINDOW {
                    return self.fail(output, env, ErrorCode::FlowControlError, b"window overflow");
                }
            }
        }
        frame::write_settings_ack(output.bytes());
    }

    /// Applies a SETTINGS payload (whole 6-byte entries).
    fn apply_settings(&mut self, payload: &[u8]) -> Result<(), ErrorCode> {
        if !payload.len().is_multiple_of(6) {
            return Err(ErrorCode::FrameSizeError);
        }
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = frame::u32_at(entry, 2);
            match id {
                setting::HEADER_TABLE_SIZE => self.encoder.set_peer_max_table_size(value),
                setting::ENABLE_PUSH if value > 1 => return Err(ErrorCode::ProtocolError),
                setting::INITIAL_WINDOW_SIZE => {
                    if i64::from(value) > frame::MAX_WINDOW {
                        return Err(ErrorCode::FlowControlError);
                    }
                    self.peer.initial_window = i64::from(value);
                }
                setting::MAX_FRAME_SIZE => {
                    if !(frame::DEFAULT_MAX_FRAME..(1 << 24)).contains(&value) {
                        return Err(ErrorCode::ProtocolError);
                    }
                    self.peer.max_frame = value as usize;
                }
                _ => {} // the others bind a server in nothing it does; unknown ones are ignored
            }
        }
        Ok(())
    }

    fn on_ping(&mut self, h: FrameHeader, payload: &[u8], output: &mut Output, env: &Env<'_>) {
        if h.stream != 0 {
            return self.fail(output, env, ErrorCode::ProtocolError, b"PING on a stream");
        }
        let Ok(data) = <&[u8; 8]>::try_from(payload) else {
            return self.fail(output, env, ErrorCode::FrameSizeError, b"PING size");
        };
        if h.has(flag::ACK) {
            return;
        }
        if self.meter(output, env, Flood::Ping) {
            frame::write_ping_ack(output.bytes(), data);
        }
    }

    fn on_goaway(&mut self, h: FrameHeader, _payload: &[u8], output: &mut Output, env: &Env<'_>) {
        if h.stream != 0 {
            return self.fail(output, env, ErrorCode::ProtocolError, b"GOAWAY on a stream");
        }
        if h.len < 8 {
            return self.fail(output, env, ErrorCode::FrameSizeError, b"GOAWAY size");
        }
        self.peer_goaway = true;
    }

    fn on_window_update(
        &mut self,
        h: FrameHeader,
        payload: &[u8],
        output: &mut Output,
        env: &Env<'_>,
    ) {
        if h.len != 4 {
            return self.fail(
                output,
                env,
                ErrorCode::FrameSizeError,
                b"WINDOW_UPDATE size",
            );
        }
        let increment = i64::from(frame::u32_at(payload, 0) & 0x7fff_ffff);
        if increment < 1024 && !self.meter(output, env, Flood::Control) {
            return;
        }
        if h.stream == 0 {
            if increment == 0 {
                return self.fail(output, env, ErrorCode::ProtocolError, b"WINDOW_UPDATE of 0");
            }
            self.send_window += increment;
            if self.send_window > frame::MAX_WINDOW {
                return self.fail(output, env, ErrorCode::FlowControlError, b"window overflow");
            }
            return;
        }
        let Some(i) = self.index(h.stream) else {
            if h.stream > self.last_stream {
                self.fail(
                    output,
                    env,
                    ErrorCode::ProtocolError,
                    b"WINDOW_UPDATE on an idle stream",
                );
            }
            return;
        };
        if increment == 0 {
            return self.reset(output, env, h.stream, ErrorCode::ProtocolError);
        }
        let s = &mut self.streams[i];
        s.send_window += increment;
        if s.send_window > frame::MAX_WINDOW {
            self.reset(output, env, h.stream, ErrorCode::FlowControlError);
        }
    }

    /// What the handler is told about an exchange on stream `id`.
    fn exchange<'e>(&self, env: &'e Env<'_>, id: u32, memo: Option<&'e Memo>) -> Exchange<'e> {
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
            tls: env.tls_facts(),
            memo,
            stream: Some(id),
        }
    }

    /// Answers stream `i`'s request itself with `status` (a request it refuses before the
    /// handler sees it), then ends the stream; a client still sending is asked to stop
    /// (RST_STREAM NO_ERROR, §8.1).
    fn refuse(&mut self, output: &mut Output, env: &Env<'_>, i: usize, status: StatusCode) {
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
    fn answer_held(&mut self, i: usize, output: &mut Output, env: &Env<'_>, app: &mut dyn Handler) {
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
    fn let_go(&mut self, env: &Env<'_>, held: &mut Held) {
        held.release(env.budget);
        if std::mem::take(&mut held.uncharged) {
            self.uncharged -= 1;
        }
    }

    /// Hands a whole request on stream `i` to the handler and acts on its reply.
    #[allow(clippy::too_many_arguments)]
    fn answer(
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
                    status: code,
                    close_after: close,
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

    fn count_answered(&mut self, env: &Env<'_>) {
        self.served += 1;
        env.served.set(env.served.get() + 1);
        WorkerStats::add(&env.stats.h2_requests, 1);
    }

    /// Keeps a request answered from the scratch (no body) that the handler put off: its head
    /// is copied to the stream, reserved in the budget, or, when the budget is spent, held
    /// unreserved by at most [`UNCHARGED_HOLDS`] streams of the connection; a stream past that
    /// is refused (REFUSED_STREAM: not processed, the client may retry it).
    fn hold(&mut self, i: usize, head: &[u8], put_off: PutOff, output: &mut Output, env: &Env<'_>) {
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
    fn finish(&mut self, output: &mut Output, env: &Env<'_>, i: usize) {
        let id = self.streams[i].id;
        if self.streams[i].remote_open {
            // §8.1: answered before the request was whole; ask the client to stop sending.
            return self.reset(output, env, id, ErrorCode::NoError);
        }
        self.forget(env, id);
    }

    /// Drops stream `i` if both sides are done with it.
    fn finish_if_done(&mut self, env: &Env<'_>, i: usize) {
        if matches!(self.streams[i].phase, Phase::Draining) && !self.streams[i].remote_open {
            let id = self.streams[i].id;
            self.forget(env, id);
        }
    }

    /// After the frames: requests whose moment or memory came are answered, responses waiting
    /// for windows are sent, and a draining worker's GOAWAY goes out.
    fn pump(&mut self, output: &mut Output, env: &Env<'_>, app: &mut dyn Handler) {
        if (env.draining || self.close_after) && self.goaway.is_none() {
            self.send_goaway(output, env, ErrorCode::NoError, b"");
        }
        self.retry_held(output, env, app);
        self.send(output, env);
    }

    /// Held requests whose moment came, or that wait for memory (asked again at each drive:
    /// the handler's reservation queued the connection, and the worker drives it when its turn
    /// comes).
    fn retry_held(&mut self, output: &mut Output, env: &Env<'_>, app: &mut dyn Handler) {
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

    /// Sends what the windows allow, a frame per stream per round.
    fn send(&mut self, output: &mut Output, env: &Env<'_>) {
        let mut progress = true;
        while progress && self.state == State::Open {
            progress = false;
            let n = self.streams.len();
            for k in 0..n {
                if output.len() >= env.high_water {
                    return; // `Next::Blocked`: driven again once the output drains
                }
                let i = (self.turn + k) % n.max(1);
                let Some(s) = self.streams.get_mut(i) else {
                    break;
                };
                let Phase::Response(out) = &mut s.phase else {
                    continue;
                };
                let id = s.id;
                if !out.head_sent {
                    let Some(p) = out.producer.as_ref() else {
                        out.head_sent = true;
                        continue;
                    };
                    if env.now < p.wake_at() {
                        continue;
                    }
                    out.head_sent = true;
                    if !p.is_head_cut() {
                        let h = p.head();
                        write_head(
                            output.bytes(),
                            &mut self.encoder,
                            id,
                            h.status,
                            h.content_type(),
                            h.length,
                            h.fields.iter(),
                            env.date(),
                            out.bodiless,
                            self.peer.max_frame,
                        );
                        env.stats.on_response(h.status.code());
                    }
                    if out.bodiless && !p.is_head_cut() {
                        let charge = out.producer.as_mut().map_or(0, |p| p.take_charge());
                        env.budget.release(charge, Use::Output);
                        out.producer = None;
                        self.finish(output, env, i);
                        progress = true;
                        break;
                    }
                }
                let window = s.send_window.min(self.send_window).max(0) as u64;
                let room = env.high_water.saturating_sub(output.len()) as u64;
                let Phase::Response(out) = &mut self.streams[i].phase else {
                    continue;
                };
                match send_one(
                    out,
                    id,
                    window.min(room),
                    self.peer.max_frame,
                    output.bytes(),
                    env.now,
                ) {
                    Sent::Some(n) => {
                        self.streams[i].send_window -= n as i64;
                        self.send_window -= n as i64;
                        self.progress_at = env.now;
                        progress = true;
                    }
                    Sent::Yield(n) => {
                        self.progress_at = env.now;
                        self.streams[i].send_window -= n as i64;
                        self.send_window -= n as i64;
                        self.yielded = true;
                        return;
                    }
                    Sent::Done(n) => {
                        self.streams[i].send_window -= n as i64;
                        self.send_window -= n as i64;
                        self.progress_at = env.now;
                        self.finish(output, env, i);
                        progress = true;
                        break; // the streams moved
                    }
                    Sent::Reset(code) => {
                        self.reset(output, env, id, code);
                        progress = true;
                        break;
                    }
                    Sent::Nothing | Sent::Wait(_) => {}
                }
            }
            self.turn = self.turn.wrapping_add(1);
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

/// The access log's line for an exchange.
fn log(env: &Env<'_>, request: Option<&Request<'_>>, index: u64, status: u16, length: u64) {
    super::log_exchange(env, request, index, status, length);
}
