//! What comes in on a WebSocket: frames read from the input and checked, control frames
//! answered, a message's payload put together (its UTF-8 checked as it arrives) and, once
//! whole, inflated and handed to the application.

use super::deflate::{self, InflateError};
use super::frame::{self, Header, Opcode, MAX_HEADER};
use super::{
    grow, opcode_of, write_frame, Action, Ending, Env, Held, Message, MessageKind, Next, Reading,
    Reason, Step, WebSocket, INVALID_DATA, POLICY, PROTOCOL_ERROR, TOO_BIG,
};
use crate::buffer::Buf;
use crate::memory::{Grant, Use};
use crate::output::Output;
use crate::stats::WorkerStats;

impl WebSocket {
    /// Reads the next frame's header, and a control frame whole.
    pub(super) fn read_frame(
        &mut self,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
    ) -> Step {
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
    pub(super) fn fast_message(
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

    /// A control frame, once all of it is in: ping answered at once (between a message's
    /// fragments too), pong noted, close answered.
    pub(super) fn control(
        &mut self,
        h: Header,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
    ) -> Step {
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
    pub(super) fn on_close(&mut self, body: &[u8], output: &mut Output, env: &Env<'_>) -> Step {
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
    pub(super) fn read_payload(
        &mut self,
        input: &mut Buf,
        output: &mut Output,
        env: &Env<'_>,
    ) -> Step {
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
    pub(super) fn complete(
        &mut self,
        mut message: Message,
        output: &mut Output,
        env: &Env<'_>,
    ) -> Step {
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
}
