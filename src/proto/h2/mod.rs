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
//! HTTP/1.1's (a kept body before its window opens; a dropped one is counted and let go), and
//! what a connection holds outside the budget is bounded per connection (docs/http2.md,
//! "Memory"). Floods of control frames are metered ([`guard`]).
//!
//! Here: the connection itself (its state, frames read in turn, GOAWAY, resets, the stall
//! deadline); `headers.rs` (HEADERS and CONTINUATION to a stream), `data.rs` (DATA and both
//! windows), `control.rs` (PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE),
//! `answer.rs` (the handler's replies, held requests), `send.rs` (DATA out as the windows
//! open), `stream.rs`, `frame.rs`, `request.rs`, `respond.rs`, `guard.rs`, `hpack/`.
//!
//! Not supported: server push (never sent; SETTINGS_ENABLE_PUSH from the client is only
//! checked), priorities (ignored, as RFC 9113 §5.3 allows), extended CONNECT (RFC 8441).

mod answer;
mod control;
mod data;
pub(crate) mod frame;
pub(crate) mod guard;
mod headers;
pub mod hpack;
pub(crate) mod request;
mod respond;
mod send;
mod stream;

use std::time::{Duration, Instant};

use self::frame::{flag, kind, setting, ErrorCode, FrameHeader, HEADER_LEN, PREFACE};
use self::guard::{Flood, Meter};
use self::hpack::{Decoder, Encoder};
use self::request::Scratch;
use self::stream::{Held, Phase, Stream};
use super::{Env, Next, Phase as ConnPhase};
use crate::buffer::Buf;
use crate::http::{Handler, Memo};
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

    /// After the frames: requests whose moment or memory came are answered, responses waiting
    /// for windows are sent, and a draining worker's GOAWAY goes out.
    fn pump(&mut self, output: &mut Output, env: &Env<'_>, app: &mut dyn Handler) {
        if (env.draining || self.close_after) && self.goaway.is_none() {
            self.send_goaway(output, env, ErrorCode::NoError, b"");
        }
        self.retry_held(output, env, app);
        self.send(output, env);
    }
}
