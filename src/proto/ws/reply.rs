//! What goes back on a WebSocket: a large binary message echoed as it arrives, a whole
//! message's reply (compressed, in one frame or in fragments written as the write buffer has
//! room), and what follows it (`Then`).

use super::deflate;
use super::frame::{self, Header, Opcode, MAX_HEADER};
use super::{
    opcode_of, Action, Ending, Env, Fragments, Held, Message, MessageKind, Next, Reading, Reason,
    Step, Then, WebSocket, DEFLATE_MIN,
};
use crate::buffer::Buf;
use crate::memory::Use;
use crate::output::Output;
use crate::stats::WorkerStats;

impl WebSocket {
    /// A single-frame binary message larger than the write buffer, with no
    /// permessage-deflate: echoed as it arrives, each piece unmasked straight into the write
    /// buffer behind the reply's header (its length is known from the client's). Nothing is
    /// allocated or held beyond the two pooled buffers, however large the message: no copy
    /// into a message, and no fresh pages for one. (Text is put together first: its UTF-8 is
    /// checked before any of it is answered, so a bad byte can still be answered with 1007.)
    pub(super) fn stream(
        &mut self,
        h: Header,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
    ) -> Step {
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
    pub(super) fn streaming(&self) -> bool {
        self.reading.is_some_and(|r| r.echoing)
    }

    /// Moves what has arrived of a streamed message into the write buffer, as far as it has
    /// room without growing.
    pub(super) fn echo_payload(
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

    pub(super) fn fits_unfragmented(&self, len: usize) -> bool {
        self.limits.max_fragment == 0 || len <= self.limits.max_fragment as usize
    }

    /// Sends `message` back (compressed if agreed, cut into `max_fragment` frames if asked),
    /// then does `then`.
    pub(super) fn reply(
        &mut self,
        mut message: Message,
        then: Then,
        output: &mut Output,
        env: &Env<'_>,
    ) {
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
    pub(super) fn mid_reply(&self) -> bool {
        self.held.as_ref().is_some_and(|h| h.replying.is_some())
    }

    /// Writes what the write buffer has room for of a fragmented reply; true once its last
    /// fragment is out (the message's reservation is then given back).
    pub(super) fn continue_reply(&mut self, output: &mut Output, env: &Env<'_>) -> bool {
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

    pub(super) fn then(&mut self, then: Then) {
        match then {
            Then::Continue => {}
            Then::Close(code) => self.ending = Some(Ending::Close(code, Reason::FaultClose)),
            Then::Drop => self.ending = Some(Ending::Cut(Reason::FaultDrop)),
        }
    }
}
