//! WebSocket (RFC 6455 §5–7, RFC 7692) on a connection HTTP/1.1 switched over, sans-IO: frames
//! read from the input, messages put together and checked, handed to the application's
//! [`Messages`], and the replies framed into the output.
//!
//! - **Strict**: client frames must be masked; reserved bits (RSV1 but for a compressed
//!   message's first frame) and opcodes, fragmented or oversized control frames, a
//!   continuation with no message or a new message inside one fail the connection with 1002;
//!   text is checked as UTF-8 as its bytes arrive, and the first bad byte fails it with 1007;
//!   a close frame's code and reason are checked (1002, 1007) and answered with the same code.
//! - **Bounded**: a message is at most `Limits::max_message` bytes (inflated size included,
//!   checked before the bytes are made: 1009) in at most `Limits::max_frames` frames (1008);
//!   what a message holds is reserved in the worker's budget before it is read (the
//!   connection waits its turn when the budget is spent), and a reply larger than the write
//!   buffer goes out as the output's tail, its reservation moved along. A client that stops
//!   reading stops being read: the loop returns `Blocked` at the high-water mark, as for HTTP.
//! - **Fast path**: a whole unfragmented, uncompressed message in the read buffer whose echo
//!   fits the write buffer is unmasked in place and copied once, with nothing allocated.
//! - **Alive**: an idle connection is pinged every `Limits::ping_interval_ms`; one that does not
//!   answer within another interval is closed. A draining worker says 1001 (going away).
//!
//! After its close frame the server sends nothing more and closes the TCP connection (with a
//! linger, so the client's own close frame is read, not reset).

pub mod deflate;
pub mod frame;

use std::time::Instant;

use self::deflate::InflateError;
use self::frame::{Header, Opcode, MAX_HEADER};
use super::{Env, Next, Phase};
use crate::buffer::Buf;
use crate::http::websocket::{Action, Deflate, Limits, MessageKind, Messages, Then, Upgrade};
use crate::memory::{Grant, Use};
use crate::output::Output;
use crate::stats::WorkerStats;

/// Close codes (RFC 6455 §7.4.1).
pub const GOING_AWAY: u16 = 1001;
pub const PROTOCOL_ERROR: u16 = 1002;
pub const INVALID_DATA: u16 = 1007;
pub const POLICY: u16 = 1008;
pub const TOO_BIG: u16 = 1009;

/// Replies shorter than this go out uncompressed even with permessage-deflate (RSV1 is per
/// message, RFC 7692 §6): a deflate stream's own framing leaves little to gain below it, and
/// each compressed message costs a compressor reset (clearing its tables) whatever its size.
/// node's `ws` waits for 1024 bytes; nginx's `gzip_min_length` is 20.
const DEFLATE_MIN: usize = 128;

/// Indexes into `WorkerStats::ws_closes` (`WS_CLOSE_REASONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Client = 0,
    GoingAway = 1,
    Protocol = 2,
    InvalidData = 3,
    TooBig = 4,
    TooManyFrames = 5,
    PingTimeout = 6,
    FaultClose = 7,
    FaultDrop = 8,
}

/// One WebSocket connection.
#[derive(Debug)]
pub struct WebSocket {
    limits: Limits,
    deflate: Option<Deflate>,
    messages: Box<dyn Messages>,
    /// The data frame whose payload is being read into `message`.
    reading: Option<Reading>,
    /// The message being put together.
    message: Option<Box<Message>>,
    /// A whole message waiting for its moment (a delay), then what comes after it. Boxed
    /// like `message` and `decided`: an idle connection holds none of them, and every byte of
    /// it counts a hundred thousand times over.
    held: Option<Box<Held>>,
    /// When a frame last arrived.
    last_heard: Instant,
    /// A ping went out then and is not answered yet.
    ping_sent: Option<Instant>,
    /// A close frame (with this code) or a cut is due once the output has room.
    ending: Option<Ending>,
    /// What the application said of the message in the read buffer, kept while the
    /// connection waits for memory to hold it (so it is not asked twice).
    decided: Option<Box<Action>>,
    /// Nothing more is read or written: the connection is closing.
    closed: bool,
    /// The open-connections gauge was given back.
    released: bool,
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    Close(u16, Reason),
    Cut(Reason),
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    left: u64,
    mask: [u8; 4],
    /// Payload bytes of this frame read so far, modulo 4: where in the mask the next one is.
    phase: u8,
    fin: bool,
    /// The payload goes straight back out as it arrives (see `WebSocket::stream`): its
    /// reply frame's header is sent, and nothing else may be written until it is whole.
    echoing: bool,
}

/// A whole message held until `at`.
#[derive(Debug)]
struct Held {
    message: Message,
    at: Instant,
    then: Then,
    /// Its reply, cut into fragments, is being written from the message itself as the write
    /// buffer has room (no framed copy: 1-byte fragments would triple it).
    replying: Option<Fragments>,
}

/// How far a fragmented reply has got.
#[derive(Debug, Clone, Copy, Default)]
struct Fragments {
    /// Payload bytes written.
    sent: usize,
    /// Bytes left in the fragment being written (0: between fragments).
    frame_left: usize,
    /// The payload is compressed: RSV1 on the first fragment.
    compressed: bool,
}

impl Held {
    fn due(message: Message, at: Instant, then: Then) -> Box<Held> {
        Box::new(Held {
            message,
            at,
            then,
            replying: None,
        })
    }
}

/// A message: `MAX_HEADER` bytes kept free at the front of `data` for the reply's frame
/// header, then the payload.
#[derive(Debug)]
struct Message {
    kind: MessageKind,
    compressed: bool,
    data: Vec<u8>,
    frames: usize,
    /// Payload bytes checked as UTF-8 so far (uncompressed text).
    utf8_ok: usize,
    /// What the budget holds for `data`.
    charged: u64,
}

impl Message {
    fn new(kind: MessageKind, compressed: bool) -> Message {
        Message {
            kind,
            compressed,
            data: Vec::new(),
            frames: 0,
            utf8_ok: 0,
            charged: 0,
        }
    }

    fn payload(&self) -> &[u8] {
        self.data.get(MAX_HEADER..).unwrap_or_default()
    }

    fn payload_len(&self) -> usize {
        self.data.len().saturating_sub(MAX_HEADER)
    }
}

/// What one step of reading did.
enum Step {
    Continue,
    Return(Next),
}

impl WebSocket {
    /// The connection HTTP/1.1 switched over at `now`.
    pub fn new(upgrade: Upgrade, stats: &WorkerStats, now: Instant) -> WebSocket {
        WorkerStats::add(&stats.ws_open, 1);
        WebSocket {
            limits: upgrade.limits,
            deflate: upgrade.opening.deflate,
            messages: upgrade.messages,
            reading: None,
            message: None,
            held: None,
            last_heard: now,
            ping_sent: None,
            ending: None,
            decided: None,
            closed: false,
            released: false,
        }
    }

    pub fn phase(&self) -> Phase {
        Phase::Stream
    }

    /// The next moment the connection must be driven without input: a held echo coming due,
    /// a ping to send, or a ping whose answer is overdue.
    #[inline(never)]
    pub fn wake_at(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        // A reply in fragments is driven by the socket's room, not by a moment.
        let held = self
            .held
            .as_ref()
            .filter(|h| h.replying.is_none())
            .map(|h| h.at);
        let ping = self
            .limits
            .ping_interval()
            .map(|every| self.ping_sent.unwrap_or(self.last_heard) + every);
        match (held, ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The connection is closed by the server on a timeout (idle, or a stop's grace): say
    /// 1001 first. Returns whether a frame was written.
    pub fn on_idle_close(&mut self, output: &mut Output, env: &Env<'_>) -> bool {
        if self.closed || output.has_tail() || self.streaming() || self.mid_reply() {
            return false;
        }
        self.write_close(output, env, GOING_AWAY, Reason::GoingAway);
        true
    }

    /// Gives back what the connection holds in the budget; it is closing.
    pub fn release(&mut self, budget: &crate::memory::Budget, stats: &WorkerStats) {
        if let Some(m) = self.message.take() {
            budget.release(m.charged, Use::Body);
        }
        if let Some(h) = self.held.take() {
            budget.release(h.message.charged, Use::Body);
        }
        self.reading = None;
        if !self.released {
            self.released = true;
            let open = &stats.ws_open;
            open.store(
                open.load(std::sync::atomic::Ordering::Relaxed)
                    .saturating_sub(1),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    }

    #[inline(never)]
    pub fn on_data(&mut self, input: &mut Buf, output: &mut Output, env: &Env<'_>) -> Next {
        loop {
            if self.closed {
                input.consume(input.len());
                return Next::Close;
            }
            if output.has_tail() || output.len() >= env.high_water {
                return Next::Blocked;
            }
            if self.streaming() {
                // Our reply frame is half-sent: nothing may come between its bytes.
                if let Step::Return(next) = self.read_payload(input, output, env) {
                    return next;
                }
                continue;
            }
            if self.mid_reply() {
                // The same for a reply in fragments, until its last one is out.
                if !self.continue_reply(output, env) {
                    return Next::Blocked;
                }
                continue;
            }
            if let Some(ending) = self.ending.take() {
                match ending {
                    Ending::Close(code, reason) => self.write_close(output, env, code, reason),
                    Ending::Cut(reason) => self.end(env, reason),
                }
                continue;
            }
            if let Some(next) = self.keep_alive(output, env) {
                return next;
            }
            if let Some(held) = &self.held {
                if held.at > env.now {
                    return Next::Waiting;
                }
                let held = self.held.take().expect("held");
                self.reply(held.message, held.then, output, env);
                continue;
            }
            if env.draining {
                self.ending = Some(Ending::Close(GOING_AWAY, Reason::GoingAway));
                continue;
            }
            let step = if self.reading.is_some() {
                self.read_payload(input, output, env)
            } else {
                self.read_frame(input, output, env)
            };
            if let Step::Return(next) = step {
                return next;
            }
        }
    }

    /// Pings an idle peer; closes one that left a ping unanswered for an interval.
    fn keep_alive(&mut self, output: &mut Output, env: &Env<'_>) -> Option<Next> {
        let every = self.limits.ping_interval()?;
        match self.ping_sent {
            Some(sent) if env.now >= sent + every => {
                self.end(env, Reason::PingTimeout);
                Some(Next::Close)
            }
            Some(_) => None,
            None if env.now >= self.last_heard + every => {
                write_frame(output.bytes(), Opcode::Ping, false, b"");
                self.ping_sent = Some(env.now);
                None
            }
            None => None,
        }
    }

    /// Reads the next frame's header, and a control frame whole.
    fn read_frame(&mut self, input: &mut Buf, output: &mut Output, env: &Env<'_>) -> Step {
        let buf = input.filled();
        if buf.is_empty() {
            return Step::Return(Next::NeedInput);
        }
        let h = match frame::parse(buf) {
            Ok(Some(h)) => h,
            Ok(None) => return Step::Return(Next::NeedInput),
            Err(_) => return self.fail(PROTOCOL_ERROR, Reason::Protocol),
        };
        self.last_heard = env.now;
        self.ping_sent = None;
        if h.opcode.is_control() {
            return self.control(h, input, output, env);
        }
        let continuing = self.message.is_some();
        let kind = match h.opcode {
            Opcode::Text if !continuing => MessageKind::Text,
            Opcode::Binary if !continuing => MessageKind::Binary,
            Opcode::Continuation if continuing => self.message.as_ref().expect("continuing").kind,
            _ => return self.fail(PROTOCOL_ERROR, Reason::Protocol),
        };
        if h.rsv1 && (self.deflate.is_none() || continuing) {
            return self.fail(PROTOCOL_ERROR, Reason::Protocol);
        }
        let so_far = self.message.as_ref().map_or(0, |m| m.payload_len());
        if (so_far as u64).saturating_add(h.len) > self.limits.max_message as u64 {
            return self.fail(TOO_BIG, Reason::TooBig);
        }
        let len = h.len as usize;
        let whole = buf.len() >= h.size + len;
        // With permessage-deflate every reply is compressed: that takes the message path.
        let fast = !continuing && h.fin && !h.rsv1 && self.deflate.is_none();
        if fast && whole && MAX_HEADER + len <= output.inline_room() {
            return self.fast_message(h, kind, input, output, env);
        }
        if fast && kind == MessageKind::Binary && self.fits_unfragmented(len) {
            return self.stream(h, input, output, env);
        }
        input.consume(h.size);
        let message = self
            .message
            .get_or_insert_with(|| Box::new(Message::new(kind, h.rsv1)));
        message.frames += 1;
        if message.frames > self.limits.max_frames as usize {
            return self.fail(POLICY, Reason::TooManyFrames);
        }
        self.reading = Some(Reading {
            left: h.len,
            mask: h.mask,
            phase: 0,
            fin: h.fin,
            echoing: false,
        });
        Step::Continue
    }

    /// A whole small message in the read buffer: unmasked in place, checked, and echoed with
    /// one copy, nothing allocated.
    fn fast_message(
        &mut self,
        h: Header,
        kind: MessageKind,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
    ) -> Step {
        let end = h.size + h.len as usize;
        let payload = &mut input.filled_mut()[h.size..end];
        frame::unmask(payload, h.mask, 0);
        if kind == MessageKind::Text && std::str::from_utf8(payload).is_err() {
            return self.fail(INVALID_DATA, Reason::InvalidData);
        }
        let len = payload.len();
        let action = match self.decided.take() {
            Some(action) => *action,
            None => {
                WorkerStats::add(&env.stats.ws_messages[0], 1);
                self.messages.on_message(kind, len, env.now)
            }
        };
        match action {
            Action::Echo { at, then } if at <= env.now && self.fits_unfragmented(len) => {
                let payload = &input.filled()[h.size..end];
                write_frame(output.bytes(), opcode_of(kind), false, payload);
                WorkerStats::add(&env.stats.ws_messages[1], 1);
                input.consume(end);
                self.then(then);
                Step::Continue
            }
            Action::Echo { at, then } => {
                // Later, or in fragments: kept as a message like any other.
                let mut message = Message::new(kind, false);
                let need = (MAX_HEADER + len) as u64;
                match env.budget.reserve(env.token, need, Use::Body) {
                    Grant::Granted => {}
                    Grant::Queued => {
                        // Read again from the start of the frame when memory is granted:
                        // masked back as it came, and the application's answer kept.
                        frame::unmask(&mut input.filled_mut()[h.size..end], h.mask, 0);
                        self.decided = Some(Box::new(action));
                        return Step::Return(Next::Memory);
                    }
                    Grant::Never => return self.fail(TOO_BIG, Reason::TooBig),
                }
                message.charged = need;
                message.data.reserve_exact(MAX_HEADER + len);
                message.data.resize(MAX_HEADER, 0);
                message.data.extend_from_slice(&input.filled()[h.size..end]);
                input.consume(end);
                if at <= env.now {
                    self.reply(message, then, output, env);
                } else {
                    self.held = Some(Held::due(message, at, then));
                }
                Step::Continue
            }
            Action::Close(code) => {
                input.consume(end);
                self.ending = Some(Ending::Close(code, Reason::FaultClose));
                Step::Continue
            }
            Action::Drop => {
                input.consume(end);
                self.ending = Some(Ending::Cut(Reason::FaultDrop));
                Step::Continue
            }
        }
    }

    /// A single-frame binary message larger than the write buffer, with no
    /// permessage-deflate: echoed as it arrives, each piece unmasked straight into the write
    /// buffer behind the reply's header (its length is known from the client's). Nothing is
    /// allocated or held beyond the two pooled buffers, however large the message: no copy
    /// into a message, and no fresh pages for one. (Text is put together first: its UTF-8 is
    /// checked before any of it is answered, so a bad byte can still be answered with 1007.)
    fn stream(&mut self, h: Header, input: &mut Buf, output: &mut Output, env: &Env<'_>) -> Step {
        let len = h.len as usize;
        WorkerStats::add(&env.stats.ws_messages[0], 1);
        let action = self.messages.on_message(MessageKind::Binary, len, env.now);
        let then = match action {
            Action::Echo { at, then } if at <= env.now => then,
            action => {
                // Later, or not at all: put together like any other, the answer kept.
                self.decided = Some(Box::new(action));
                input.consume(h.size);
                self.message = Some(Box::new(Message::new(MessageKind::Binary, false)));
                self.message.as_mut().expect("just made").frames = 1;
                self.reading = Some(Reading {
                    left: h.len,
                    mask: h.mask,
                    phase: 0,
                    fin: true,
                    echoing: false,
                });
                return Step::Continue;
            }
        };
        input.consume(h.size);
        let (header, at) = frame::header(true, false, Opcode::Binary, len);
        output.bytes().extend_from_slice(&header[at..]);
        // What follows the echo, kept where a decision waits (boxed: rare, and the
        // connection's own size is what a hundred thousand idle ones cost).
        self.decided = Some(Box::new(Action::Echo { at: env.now, then }));
        self.reading = Some(Reading {
            left: h.len,
            mask: h.mask,
            phase: 0,
            fin: true,
            echoing: true,
        });
        Step::Continue
    }

    /// A streamed echo is half-sent.
    fn streaming(&self) -> bool {
        self.reading.is_some_and(|r| r.echoing)
    }

    /// Moves what has arrived of a streamed message into the write buffer, as far as it has
    /// room without growing.
    fn echo_payload(
        &mut self,
        reading: Reading,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
    ) -> Step {
        if reading.left > 0 {
            let room = output.inline_room();
            if room == 0 {
                return Step::Return(Next::Blocked);
            }
            let n = (input.len() as u64).min(reading.left).min(room as u64) as usize;
            if n == 0 {
                return Step::Return(Next::NeedInput);
            }
            let out = output.bytes();
            let start = out.len();
            out.extend_from_slice(&input.filled()[..n]);
            input.consume(n);
            frame::unmask(
                &mut out.filled_mut()[start..],
                reading.mask,
                usize::from(reading.phase),
            );
            let r = self.reading.as_mut().expect("reading");
            r.phase = ((usize::from(r.phase) + n) % 4) as u8;
            r.left -= n as u64;
            if r.left > 0 {
                return Step::Continue;
            }
        }
        self.reading = None;
        WorkerStats::add(&env.stats.ws_messages[1], 1);
        if let Some(Action::Echo { then, .. }) = self.decided.take().map(|a| *a) {
            self.then(then);
        }
        Step::Continue
    }

    fn fits_unfragmented(&self, len: usize) -> bool {
        self.limits.max_fragment == 0 || len <= self.limits.max_fragment as usize
    }

    /// A control frame, once all of it is in: ping answered at once (between a message's
    /// fragments too), pong noted, close answered.
    fn control(&mut self, h: Header, input: &mut Buf, output: &mut Output, env: &Env<'_>) -> Step {
        if h.rsv1 {
            return self.fail(PROTOCOL_ERROR, Reason::Protocol);
        }
        let end = h.size + h.len as usize;
        if input.len() < end {
            return Step::Return(Next::NeedInput);
        }
        let mut body = [0u8; 125];
        let body = &mut body[..h.len as usize];
        body.copy_from_slice(&input.filled()[h.size..end]);
        frame::unmask(body, h.mask, 0);
        input.consume(end);
        match h.opcode {
            Opcode::Ping => write_frame(output.bytes(), Opcode::Pong, false, body),
            Opcode::Pong => {}
            _ => return self.on_close(body, output, env),
        }
        Step::Continue
    }

    /// The client's close frame: checked, and answered with its code.
    fn on_close(&mut self, body: &[u8], output: &mut Output, env: &Env<'_>) -> Step {
        let code = match body {
            [] => None,
            [_] => return self.fail(PROTOCOL_ERROR, Reason::Protocol),
            [a, b, reason @ ..] => {
                let code = u16::from_be_bytes([*a, *b]);
                if !frame::close_code_ok(code) {
                    return self.fail(PROTOCOL_ERROR, Reason::Protocol);
                }
                if std::str::from_utf8(reason).is_err() {
                    return self.fail(INVALID_DATA, Reason::InvalidData);
                }
                Some(code)
            }
        };
        // Answered with the code it came with, or with none (§5.5.1).
        match code {
            Some(code) => write_frame(output.bytes(), Opcode::Close, false, &code.to_be_bytes()),
            None => write_frame(output.bytes(), Opcode::Close, false, b""),
        }
        self.end(env, Reason::Client);
        Step::Return(Next::Close)
    }

    /// Reads what has arrived of the current data frame's payload into the message.
    fn read_payload(&mut self, input: &mut Buf, output: &mut Output, env: &Env<'_>) -> Step {
        let reading = self.reading.expect("reading a frame");
        if reading.echoing {
            return self.echo_payload(reading, input, output, env);
        }
        if reading.left > 0 {
            let n = (input.len() as u64).min(reading.left) as usize;
            if n == 0 {
                return Step::Return(Next::NeedInput);
            }
            let message = self.message.as_mut().expect("a message is being read");
            if let Err(step) = grow(message, n, self.limits.max_message, env) {
                return match step {
                    Step::Return(next) => Step::Return(next),
                    Step::Continue => self.fail(TOO_BIG, Reason::TooBig),
                };
            }
            let start = message.data.len();
            message.data.extend_from_slice(&input.filled()[..n]);
            input.consume(n);
            frame::unmask(
                &mut message.data[start..],
                reading.mask,
                usize::from(reading.phase),
            );
            let r = self.reading.as_mut().expect("reading");
            r.phase = ((usize::from(r.phase) + n) % 4) as u8;
            r.left -= n as u64;
            if message.kind == MessageKind::Text && !message.compressed {
                let checked = MAX_HEADER + message.utf8_ok;
                match std::str::from_utf8(&message.data[checked..]) {
                    Ok(s) => message.utf8_ok += s.len(),
                    Err(e) if e.error_len().is_none() => message.utf8_ok += e.valid_up_to(),
                    Err(_) => return self.fail(INVALID_DATA, Reason::InvalidData),
                }
            }
            if reading.left > n as u64 {
                return Step::Return(Next::NeedInput);
            }
        }
        self.reading = None;
        if !reading.fin {
            return Step::Continue;
        }
        let message = self.message.take().expect("a message is being read");
        self.complete(*message, output, env)
    }

    /// A whole message: inflated and checked, then handed to the application.
    fn complete(&mut self, mut message: Message, output: &mut Output, env: &Env<'_>) -> Step {
        if message.compressed {
            let mut plain = vec![0u8; MAX_HEADER];
            let mut charged = 0u64;
            let budget = env.budget;
            let inflated = deflate::inflate(
                message.payload(),
                self.limits.max_message,
                &mut plain,
                |n| {
                    // Refused rather than queued: the worker's one decompressor cannot wait
                    // half-way for one connection.
                    let ok = budget.try_reserve(n as u64, 0, Use::Body);
                    charged += if ok { n as u64 } else { 0 };
                    ok
                },
            );
            let failed = match inflated {
                Ok(true) => None,
                Ok(false) => Some((TOO_BIG, Reason::TooBig)),
                Err(InflateError::TooBig) => Some((TOO_BIG, Reason::TooBig)),
                Err(InflateError::Corrupt) => Some((INVALID_DATA, Reason::InvalidData)),
            };
            env.budget.release(message.charged, Use::Body);
            message.charged = charged;
            message.data = plain;
            if let Some((code, reason)) = failed {
                env.budget.release(message.charged, Use::Body);
                return self.fail(code, reason);
            }
            if message.kind == MessageKind::Text && std::str::from_utf8(message.payload()).is_err()
            {
                env.budget.release(message.charged, Use::Body);
                return self.fail(INVALID_DATA, Reason::InvalidData);
            }
        } else if message.kind == MessageKind::Text && message.utf8_ok != message.payload_len() {
            env.budget.release(message.charged, Use::Body);
            return self.fail(INVALID_DATA, Reason::InvalidData);
        }
        if message.data.len() < MAX_HEADER {
            message.data.resize(MAX_HEADER, 0);
        }
        let action = match self.decided.take() {
            Some(action) => *action,
            None => {
                WorkerStats::add(&env.stats.ws_messages[0], 1);
                self.messages
                    .on_message(message.kind, message.payload_len(), env.now)
            }
        };
        match action {
            Action::Echo { at, then } if at > env.now => {
                self.held = Some(Held::due(message, at, then))
            }
            Action::Echo { then, .. } => self.reply(message, then, output, env),
            Action::Close(code) => {
                env.budget.release(message.charged, Use::Body);
                self.ending = Some(Ending::Close(code, Reason::FaultClose));
            }
            Action::Drop => {
                env.budget.release(message.charged, Use::Body);
                self.ending = Some(Ending::Cut(Reason::FaultDrop));
            }
        }
        Step::Continue
    }

    /// Sends `message` back (compressed if agreed, cut into `max_fragment` frames if asked),
    /// then does `then`.
    fn reply(&mut self, mut message: Message, then: Then, output: &mut Output, env: &Env<'_>) {
        let opcode = opcode_of(message.kind);
        let mut compressed = false;
        if let Some(d) = self
            .deflate
            .filter(|_| message.payload_len() >= DEFLATE_MIN)
        {
            let mut packed = vec![0u8; MAX_HEADER];
            deflate::compress(message.payload(), d.server_window_bits, &mut packed);
            // Sent compressed if the budget takes it, else as it is (RSV1 is per message).
            if env
                .budget
                .try_reserve(packed.capacity() as u64, 0, Use::Body)
            {
                env.budget.release(message.charged, Use::Body);
                message.charged = packed.capacity() as u64;
                message.data = packed;
                compressed = true;
            }
        }
        let len = message.payload_len();
        let fragment = match self.limits.max_fragment {
            0 => len.max(1),
            f => f as usize,
        };
        if len <= fragment {
            let (h, at) = frame::header(true, compressed, opcode, len);
            let size = MAX_HEADER - at;
            if size + len <= output.inline_room() {
                let bytes = output.bytes();
                bytes.extend_from_slice(&h[at..]);
                bytes.extend_from_slice(message.payload());
                env.budget.release(message.charged, Use::Body);
            } else {
                // The header goes in the room kept before the payload: no copy.
                message.data[at..MAX_HEADER].copy_from_slice(&h[at..]);
                env.budget.transfer(message.charged, Use::Body, Use::Output);
                let charge = message.charged;
                let give_back = output.attach(std::mem::take(&mut message.data), at, charge);
                env.budget.release(give_back, Use::Output);
            }
        } else {
            // In fragments, written from the message as the write buffer has room: the
            // message's own reservation covers all there is.
            self.held = Some(Box::new(Held {
                message,
                at: env.now,
                then,
                replying: Some(Fragments {
                    compressed,
                    ..Fragments::default()
                }),
            }));
            self.continue_reply(output, env);
            return;
        }
        WorkerStats::add(&env.stats.ws_messages[1], 1);
        self.then(then);
    }

    /// A reply in fragments is being written.
    fn mid_reply(&self) -> bool {
        self.held.as_ref().is_some_and(|h| h.replying.is_some())
    }

    /// Writes what the write buffer has room for of a fragmented reply; true once its last
    /// fragment is out (the message's reservation is then given back).
    fn continue_reply(&mut self, output: &mut Output, env: &Env<'_>) -> bool {
        let fragment = (self.limits.max_fragment as usize).max(1);
        let held = self.held.as_mut().expect("a reply in progress");
        let Some(f) = held.replying.as_mut() else {
            return true;
        };
        let payload = held.message.data.get(MAX_HEADER..).unwrap_or_default();
        let len = payload.len();
        while f.sent < len || f.frame_left > 0 {
            if f.frame_left == 0 {
                let n = fragment.min(len - f.sent);
                let first = f.sent == 0;
                let opcode = if first {
                    opcode_of(held.message.kind)
                } else {
                    Opcode::Continuation
                };
                let (h, at) = frame::header(f.sent + n == len, f.compressed && first, opcode, n);
                if output.inline_room() < MAX_HEADER - at {
                    return false;
                }
                output.bytes().extend_from_slice(&h[at..]);
                f.frame_left = n;
            }
            let k = output.inline_room().min(f.frame_left);
            if k == 0 {
                return false;
            }
            output
                .bytes()
                .extend_from_slice(&payload[f.sent..f.sent + k]);
            f.sent += k;
            f.frame_left -= k;
        }
        let held = self.held.take().expect("a reply in progress");
        env.budget.release(held.message.charged, Use::Body);
        WorkerStats::add(&env.stats.ws_messages[1], 1);
        self.then(held.then);
        true
    }

    fn then(&mut self, then: Then) {
        match then {
            Then::Continue => {}
            Then::Close(code) => self.ending = Some(Ending::Close(code, Reason::FaultClose)),
            Then::Drop => self.ending = Some(Ending::Cut(Reason::FaultDrop)),
        }
    }

    /// Fails the connection (RFC 6455 §7.1.7): a close frame with `code` once the output has
    /// room, and nothing more read.
    fn fail(&mut self, code: u16, reason: Reason) -> Step {
        self.reading = None;
        self.ending = Some(Ending::Close(code, reason));
        Step::Continue
    }

    fn write_close(&mut self, output: &mut Output, env: &Env<'_>, code: u16, reason: Reason) {
        write_frame(output.bytes(), Opcode::Close, false, &code.to_be_bytes());
        self.end(env, reason);
    }

    /// Nothing more is read or sent: counted once, by why.
    fn end(&mut self, env: &Env<'_>, reason: Reason) {
        if !self.closed {
            self.closed = true;
            WorkerStats::add(&env.stats.ws_closes[reason as usize], 1);
        }
    }
}

/// Makes room in `message` for `n` more payload bytes, reserved in the budget first (doubling,
/// up to the largest message).
///
/// # Errors
/// `Step::Return(Memory)` when the connection must wait its turn; `Step::Continue` when the
/// budget can never give it.
fn grow(message: &mut Message, n: usize, max_message: usize, env: &Env<'_>) -> Result<(), Step> {
    let len = message.data.len().max(MAX_HEADER);
    let cap = message.data.capacity();
    if len + n <= cap {
        return Ok(());
    }
    let want = (len + n).max(cap * 2).min(MAX_HEADER + max_message);
    let need = (want - cap) as u64;
    match env.budget.reserve(env.token, need, Use::Body) {
        Grant::Granted => {
            message.charged += need;
            if message.data.len() < MAX_HEADER {
                message.data.resize(MAX_HEADER, 0);
            }
            message.data.reserve_exact(want - message.data.len());
            Ok(())
        }
        Grant::Queued => Err(Step::Return(Next::Memory)),
        Grant::Never => Err(Step::Continue),
    }
}

fn opcode_of(kind: MessageKind) -> Opcode {
    match kind {
        MessageKind::Text => Opcode::Text,
        MessageKind::Binary => Opcode::Binary,
    }
}

/// Appends one unfragmented server frame.
fn write_frame(out: &mut Buf, opcode: Opcode, rsv1: bool, payload: &[u8]) {
    let (h, at) = frame::header(true, rsv1, opcode, payload.len());
    out.extend_from_slice(&h[at..]);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle WebSocket costs its box: kept small, as a hundred thousand of them are held.
    #[test]
    fn an_idle_connection_is_small() {
        let size = std::mem::size_of::<WebSocket>();
        assert!(size <= 120, "WebSocket is {size} bytes");
        eprintln!("WebSocket: {size} bytes");
    }
}
