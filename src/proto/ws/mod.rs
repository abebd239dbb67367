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
//!
//! Here: the connection's state and its drive; [`frame`] the wire format, [`deflate`] the
//! codec, `read` what comes in, `reply` what goes back.

pub mod deflate;
pub mod frame;
mod read;
mod reply;

use std::time::Instant;

use self::frame::{Opcode, MAX_HEADER};
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
