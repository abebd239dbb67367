//! Responses written over time: after a delay (`/delay`, `/debug/sleep`), paced (`/drip`,
//! `/sse`), or generated piece by piece as the client reads (`/bytes`, `/stream-bytes`,
//! `/stream`, `/range`), so that a megabyte of generated body never sits in memory and a
//! thousand delayed clients cost a timer each, never a sleeping thread.
//!
//! A [`Producer`] is the rest of one response: bytes rendered when the request was answered
//! (the head, maybe the whole body), the moment they are due, and a generator for the body.
//! The connection drives it when the moment comes (the worker's exact wake-ups) and whenever
//! the output has drained below its high-water mark; each call writes what is due and fits.
//! Bytes it holds (the prelude, a line template) are reserved in the worker's budget by the
//! route that made it, and given back here.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::response;
use crate::buffer::Buf;
use crate::memory::{Budget, Use};
use crate::output::Output;
use crate::proto::Context;
use crate::rand::ByteStream;

/// What is written first, when it is due: a head rendered without `Connection` (whether the
/// connection stays open is decided when it goes out: the worker may have begun to drain),
/// perhaps with its body.
#[derive(Debug)]
struct Prelude {
    bytes: Vec<u8>,
    /// Where the head's 29-byte `Date` value sits: stamped with the time it goes out, not the
    /// time it was rendered.
    date_at: Option<usize>,
    /// Where the blank line that ends the head starts: `Connection` goes in there.
    head_end: usize,
    /// Sent as it is, no `Date` or `Connection` added (a head cut short by `stall=head`).
    raw: bool,
}

/// The body, generated as it is written.
#[derive(Debug)]
pub(super) enum Body {
    /// Nothing after the prelude (a HEAD, or a body rendered into it).
    Empty,
    /// `left` bytes of a seeded stream: raw (`chunk: None`), or as chunks of `chunk` bytes of
    /// a chunked body; `in_chunk` is what the current chunk still needs.
    Random {
        bytes: ByteStream,
        left: u64,
        chunk: Option<u64>,
        in_chunk: u64,
    },
    /// Runs of fixed bytes and of the `a`..`z` pattern (`/range`, with its multipart parts).
    Pattern { parts: VecDeque<Part> },
    /// `count` lines of a chunked body: `{"id": <i>, ` and then `rest` (`/stream/{n}`).
    Lines {
        rest: Vec<u8>,
        next: u32,
        count: u32,
    },
    /// `total` asterisks: the first when the prelude goes, then one every `pause`.
    Drip {
        start: Instant,
        pause: Duration,
        sent: u64,
        total: u64,
    },
    /// `count` server-sent events in a chunked body, one every `pause`.
    Events {
        start: Instant,
        pause: Duration,
        sent: u32,
        count: u32,
    },
    /// A body shaped by the request's controls (see `controls::body`).
    Shaped(Box<super::controls::Shaped>),
}

/// A piece of a patterned body.
#[derive(Debug)]
pub(super) enum Part {
    Fixed(Vec<u8>),
    /// Bytes `from..to` of the infinite `abc…zabc…` pattern.
    Pattern {
        from: u64,
        to: u64,
    },
}

/// What a call to [`Producer::produce`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Produced {
    /// The response is whole.
    Done,
    /// Nothing more until this moment.
    Wait(Instant),
    /// More is ready as soon as the output has room.
    Room,
    /// Cut short on purpose (a control's fault): close the connection after what is written.
    Close,
}

#[derive(Debug)]
pub(super) struct Producer {
    /// After this response, the connection reads the next request (unless the worker drains).
    pub keep_alive: bool,
    /// The request's minor HTTP version, for the `Connection` header.
    minor_version: u8,
    prelude: Option<Prelude>,
    /// Nothing is written before this moment.
    due: Instant,
    body: Body,
    /// Bytes held in the budget (`Use::Output`) for the prelude and the body's own bytes.
    charge: u64,
}

impl Producer {
    /// A response whose `prelude` (a head rendered with `ConnectionHeader::Omit`, perhaps
    /// with its body) goes out at `due`, followed by `body`. `keep_alive` and `minor_version`
    /// are the request's; `charge` is what the caller reserved in the budget for the prelude.
    pub fn new(
        prelude: Vec<u8>,
        due: Instant,
        body: Body,
        (keep_alive, minor_version): (bool, u8),
        charge: u64,
    ) -> Self {
        let date_at = find(&prelude, b"\r\nDate: ").map(|i| i + 8);
        let head_end = find(&prelude, b"\r\n\r\n").map_or(prelude.len(), |i| i + 2);
        Producer {
            keep_alive,
            minor_version,
            prelude: Some(Prelude {
                bytes: prelude,
                date_at,
                head_end,
                raw: false,
            }),
            due,
            body,
            charge,
        }
    }

    /// A response whose first bytes, `bytes`, go out exactly as they are (no `Date` stamped,
    /// no `Connection` added): a head that is cut short on purpose.
    pub fn raw(bytes: Vec<u8>, due: Instant, body: Body, charge: u64) -> Self {
        let mut producer = Producer::new(bytes, due, body, (false, 1), charge);
        if let Some(prelude) = producer.prelude.as_mut() {
            prelude.raw = true;
        }
        producer
    }

    /// Adds header lines (each ending in CRLF) at the end of the head, before `Connection`.
    pub fn add_headers(&mut self, lines: &[u8]) {
        if let Some(p) = self.prelude.as_mut().filter(|p| !p.raw) {
            let at = p.head_end;
            p.bytes.splice(at..at, lines.iter().copied());
            p.head_end += lines.len();
        }
    }

    /// The whole response, if it was rendered at once (a delayed answer): its bytes, when they
    /// are due, and what the budget holds for them. Otherwise the producer, unchanged.
    pub fn into_rendered(mut self) -> Result<(Vec<u8>, Instant, u64), Box<Producer>> {
        match (&self.body, self.prelude.take()) {
            (Body::Empty, Some(p)) if !p.raw => Ok((p.bytes, self.due, self.charge)),
            (_, prelude) => {
                self.prelude = prelude;
                Err(Box::new(self))
            }
        }
    }

    /// When the producer next wants to run: a moment still to come, or one passed (it is ready
    /// as soon as the output has room).
    pub fn wake_at(&self) -> Instant {
        self.due
    }

    /// Writes what is due and fits under the output's high-water mark.
    pub fn produce(&mut self, output: &mut Output, ctx: &Context<'_>) -> Produced {
        if ctx.now < self.due {
            return Produced::Wait(self.due);
        }
        if let Some(prelude) = self.prelude.take() {
            self.write_prelude(prelude, output, ctx);
        }
        while !output.has_tail() && output.len() < ctx.high_water {
            let room = ctx.high_water - output.len();
            match self.step(output.bytes(), room, ctx.now) {
                Step::More => {}
                Step::Wait(at) => {
                    self.due = at;
                    return Produced::Wait(at);
                }
                Step::Done => return Produced::Done,
                Step::Close => return Produced::Close,
            }
        }
        Produced::Room
    }

    /// Gives back what the producer holds in the budget (it is done, or the connection is
    /// closing).
    pub fn release(&mut self, budget: &Budget) {
        budget.release(std::mem::take(&mut self.charge), Use::Output);
    }

    fn write_prelude(&mut self, mut prelude: Prelude, output: &mut Output, ctx: &Context<'_>) {
        if prelude.raw {
            let charge = (prelude.bytes.len() as u64).min(self.charge);
            self.charge -= charge;
            output.bytes().extend_from_slice(&prelude.bytes);
            ctx.budget.release(charge, Use::Output);
            return;
        }
        if let Some(at) = prelude.date_at {
            if let Some(date) = prelude.bytes.get_mut(at..at + ctx.date.len()) {
                date.copy_from_slice(ctx.date);
            }
        }
        let connection: &[u8] = match super::routes::connection_header(
            self.keep_alive && !ctx.draining,
            self.minor_version,
        ) {
            response::ConnectionHeader::Omit => b"",
            response::ConnectionHeader::KeepAlive => b"Connection: keep-alive\r\n",
            response::ConnectionHeader::Close => b"Connection: close\r\n",
        };
        let (head, rest) = prelude.bytes.split_at(prelude.head_end);
        let charge = (prelude.bytes.len() as u64).min(self.charge);
        self.charge -= charge;
        if prelude.bytes.len() + connection.len() <= output.inline_room() {
            let out = output.bytes();
            out.extend_from_slice(head);
            out.extend_from_slice(connection);
            out.extend_from_slice(rest);
            ctx.budget.release(charge, Use::Output);
        } else {
            // Too large to copy (a long delayed echo): it goes as it is, still reserved.
            let at = prelude.head_end;
            prelude.bytes.splice(at..at, connection.iter().copied());
            let unused = output.attach(prelude.bytes, 0, charge);
            ctx.budget.release(unused, Use::Output);
        }
    }

    /// Writes at most about `room` bytes of the body.
    fn step(&mut self, out: &mut Buf, room: usize, now: Instant) -> Step {
        match &mut self.body {
            Body::Empty => Step::Done,
            Body::Random {
                bytes,
                left,
                chunk,
                in_chunk,
            } => random_step(out, room, bytes, (left, in_chunk), *chunk),
            Body::Pattern { parts } => pattern_step(out, room, parts),
            Body::Lines { rest, next, count } => {
                if *next >= *count {
                    out.extend_from_slice(response::LAST_CHUNK);
                    return Step::Done;
                }
                let mut line = [0u8; 20];
                let digits = response::decimal(u64::from(*next), &mut line);
                let len = b"{\"id\": ".len() + digits.len() + b", ".len() + rest.len();
                response::write_chunk_size(out, len);
                out.extend_from_slice(b"{\"id\": ");
                out.extend_from_slice(digits);
                out.extend_from_slice(b", ");
                out.extend_from_slice(rest);
                out.extend_from_slice(b"\r\n");
                *next += 1;
                Step::More
            }
            Body::Drip {
                start,
                pause,
                sent,
                total,
            } => {
                // Every byte due by now (the loop may wake late; the total time still holds).
                let due = due_count(*start, *pause, now).min(*total);
                let n = (due - *sent).min(room as u64);
                if n > 0 {
                    fill(out, b'*', n as usize);
                    *sent += n;
                }
                if *sent == *total {
                    Step::Done
                } else if *sent < due {
                    Step::More
                } else {
                    Step::Wait(
                        *start + pause.saturating_mul(u32::try_from(*sent).unwrap_or(u32::MAX)),
                    )
                }
            }
            Body::Events {
                start,
                pause,
                sent,
                count,
            } => {
                if *sent == *count {
                    out.extend_from_slice(response::LAST_CHUNK);
                    return Step::Done;
                }
                let due = due_count(*start, *pause, now).min(u64::from(*count)) as u32;
                if *sent >= due {
                    return Step::Wait(*start + pause.saturating_mul(*sent));
                }
                write_event(out, *sent);
                *sent += 1;
                Step::More
            }
            Body::Shaped(shaped) => shaped.step(out, room, now),
        }
    }
}

/// What one step of a body came to.
pub(super) enum Step {
    More,
    Wait(Instant),
    Done,
    /// Cut short: close after what is written.
    Close,
}

/// How many paced items are due by `now`, the first at `start` and one every `pause`.
fn due_count(start: Instant, pause: Duration, now: Instant) -> u64 {
    if now < start {
        return 0;
    }
    if pause.is_zero() {
        return u64::MAX;
    }
    let elapsed = now.duration_since(start).as_nanos();
    (elapsed / pause.as_nanos())
        .saturating_add(1)
        .min(u128::from(u64::MAX)) as u64
}

/// One piece of a random body, at most `room` bytes of data: a chunk larger than the room is
/// written over several steps, so the output never grows past its mark.
fn random_step(
    out: &mut Buf,
    room: usize,
    bytes: &mut ByteStream,
    (left, in_chunk): (&mut u64, &mut u64),
    chunk: Option<u64>,
) -> Step {
    if *in_chunk == 0 {
        if *left == 0 {
            if chunk.is_some() {
                out.extend_from_slice(response::LAST_CHUNK);
            }
            return Step::Done;
        }
        *in_chunk = match chunk {
            Some(size) => {
                let n = size.min(*left);
                response::write_chunk_size(out, n as usize);
                n
            }
            None => *left,
        };
    }
    let n = (room.max(1) as u64).min(*in_chunk) as usize;
    let at = out.len();
    fill(out, 0, n);
    bytes.fill(&mut out.filled_mut()[at..at + n]);
    *in_chunk -= n as u64;
    *left -= n as u64;
    if chunk.is_some() && *in_chunk == 0 {
        out.extend_from_slice(b"\r\n");
    }
    Step::More
}

fn pattern_step(out: &mut Buf, room: usize, parts: &mut VecDeque<Part>) -> Step {
    let Some(part) = parts.front_mut() else {
        return Step::Done;
    };
    match part {
        Part::Fixed(bytes) => {
            out.extend_from_slice(bytes);
            parts.pop_front();
        }
        Part::Pattern { from, to } => {
            const ABC: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";
            let end = *from + (*to - *from).min(room.max(1) as u64);
            while *from < end {
                let at = (*from % 26) as usize;
                let take = (26 - at).min((end - *from) as usize);
                out.extend_from_slice(&ABC[at..at + take]);
                *from += take as u64;
            }
            if from == to {
                parts.pop_front();
            }
        }
    }
    Step::More
}

/// One server-sent event as a chunk: `event: ping`, and data with its id and the time.
fn write_event(out: &mut Buf, id: u32) {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut a = [0u8; 20];
    let mut b = [0u8; 20];
    let id = response::decimal(u64::from(id), &mut a);
    let millis = response::decimal(millis, &mut b);
    let parts: [&[u8]; 5] = [
        b"event: ping\ndata: {\"id\":",
        id,
        b",\"timestamp\":",
        millis,
        b"}\n\n",
    ];
    response::write_chunk_size(out, parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.extend_from_slice(part);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` copies of `byte`.
pub(super) fn fill(out: &mut Buf, byte: u8, n: usize) {
    const BLOCK: [u8; 256] = [0; 256];
    let mut left = n;
    let at = out.len();
    while left > 0 {
        let take = left.min(BLOCK.len());
        out.extend_from_slice(&BLOCK[..take]);
        left -= take;
    }
    if byte != 0 {
        out.filled_mut()[at..].fill(byte);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "produce_tests.rs"]
mod tests;
