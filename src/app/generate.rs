//! Bodies made as they are written ([`Generate`]): random bytes (`/bytes`, `/stream-bytes`),
//! runs of a pattern (`/range`), lines of JSON (`/stream`), paced asterisks (`/drip`) and
//! server-sent events (`/sse`). Each writes at most what the protocol's sink has room for, so
//! a megabyte of body never sits in memory; a paced one says when it wants to run next.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::http::digits::decimal;
use crate::http::{BodySink, Generate, Step};
use crate::rand::ByteStream;

/// `left` bytes of a seeded stream: raw (`chunk: None`), or as chunks of `chunk` bytes.
#[derive(Debug)]
pub(crate) struct Random {
    bytes: ByteStream,
    left: u64,
    chunk: Option<u64>,
    /// What the current chunk still needs.
    in_chunk: u64,
}

impl Random {
    pub(crate) fn new(bytes: ByteStream, len: u64, chunk: Option<u64>) -> Random {
        Random {
            bytes,
            left: len,
            chunk,
            in_chunk: 0,
        }
    }
}

impl Generate for Random {
    /// As much as the room takes: a chunk larger than the room is written over several steps,
    /// so the output never grows past its mark, and small chunks go many to a step, so a
    /// 1-byte chunk size costs a few bytes of framing each, not a step each.
    fn step(&mut self, out: &mut dyn BodySink, _now: Instant) -> Step {
        loop {
            if self.in_chunk == 0 {
                if self.left == 0 {
                    return Step::Done;
                }
                self.in_chunk = match self.chunk {
                    Some(size) => size.min(self.left),
                    None => self.left,
                };
                out.begin_chunk(self.in_chunk);
            }
            let n = (out.room().max(1) as u64).min(self.in_chunk) as usize;
            self.bytes.fill(out.fill(n));
            self.in_chunk -= n as u64;
            self.left -= n as u64;
            if self.in_chunk == 0 {
                out.end_chunk();
            }
            if out.room() <= MIN_PIECE {
                return Step::More;
            }
        }
    }
}

/// Room under which a generator stops for this step rather than begin another small piece:
/// a chunk's framing and a few bytes.
const MIN_PIECE: usize = 64;

/// A piece of a patterned body.
#[derive(Debug)]
pub(crate) enum Part {
    Fixed(Vec<u8>),
    /// Bytes `from..to` of the infinite `abc…zabc…` pattern.
    Pattern {
        from: u64,
        to: u64,
    },
}

/// Runs of fixed bytes and of the `a`..`z` pattern (`/range`, with its multipart parts).
#[derive(Debug)]
pub(crate) struct Pattern {
    parts: VecDeque<Part>,
}

impl Pattern {
    pub(crate) fn new(parts: Vec<Part>) -> Pattern {
        Pattern {
            parts: VecDeque::from(parts),
        }
    }
}

impl Generate for Pattern {
    fn step(&mut self, out: &mut dyn BodySink, _now: Instant) -> Step {
        let Some(part) = self.parts.front_mut() else {
            return Step::Done;
        };
        match part {
            Part::Fixed(bytes) => {
                out.data(bytes);
                self.parts.pop_front();
            }
            Part::Pattern { from, to } => {
                const ABC: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";
                let end = *from + (*to - *from).min(out.room().max(1) as u64);
                while *from < end {
                    let at = (*from % 26) as usize;
                    let take = (26 - at).min((end - *from) as usize);
                    out.data(&ABC[at..at + take]);
                    *from += take as u64;
                }
                if from == to {
                    self.parts.pop_front();
                }
            }
        }
        Step::More
    }
}

/// `count` lines, a chunk each: `{"id": <i>, ` and then `rest` (`/stream/{n}`).
#[derive(Debug)]
pub(crate) struct Lines {
    rest: Vec<u8>,
    next: u32,
    count: u32,
}

impl Lines {
    pub(crate) fn new(rest: Vec<u8>, count: u32) -> Lines {
        Lines {
            rest,
            next: 0,
            count,
        }
    }
}

impl Generate for Lines {
    fn step(&mut self, out: &mut dyn BodySink, _now: Instant) -> Step {
        if self.next >= self.count {
            return Step::Done;
        }
        let mut digits = [0u8; 20];
        let id = decimal(u64::from(self.next), &mut digits);
        let parts: [&[u8]; 4] = [b"{\"id\": ", id, b", ", &self.rest];
        write_chunk(out, &parts);
        self.next += 1;
        Step::More
    }
}

/// `total` asterisks: the first when the response starts, then one every `pause` (`/drip`).
#[derive(Debug)]
pub(crate) struct Drip {
    start: Instant,
    pause: Duration,
    sent: u64,
    total: u64,
}

impl Drip {
    pub(crate) fn new(start: Instant, pause: Duration, total: u64) -> Drip {
        Drip {
            start,
            pause,
            sent: 0,
            total,
        }
    }
}

impl Generate for Drip {
    fn step(&mut self, out: &mut dyn BodySink, now: Instant) -> Step {
        // Every byte due by now (the loop may wake late; the total time still holds).
        let due = due_count(self.start, self.pause, now).min(self.total);
        let n = (due - self.sent).min(out.room() as u64);
        if n > 0 {
            out.fill(n as usize).fill(b'*');
            self.sent += n;
        }
        if self.sent == self.total {
            Step::Done
        } else if self.sent < due {
            Step::More
        } else {
            let paused = u32::try_from(self.sent).unwrap_or(u32::MAX);
            Step::Wait(self.start + self.pause.saturating_mul(paused))
        }
    }
}

/// `count` server-sent events, a chunk each, one every `pause` (`/sse`).
#[derive(Debug)]
pub(crate) struct Events {
    start: Instant,
    pause: Duration,
    sent: u32,
    count: u32,
}

impl Events {
    pub(crate) fn new(start: Instant, pause: Duration, count: u32) -> Events {
        Events {
            start,
            pause,
            sent: 0,
            count,
        }
    }
}

impl Generate for Events {
    fn step(&mut self, out: &mut dyn BodySink, now: Instant) -> Step {
        if self.sent == self.count {
            return Step::Done;
        }
        let due = due_count(self.start, self.pause, now).min(u64::from(self.count)) as u32;
        if self.sent >= due {
            return Step::Wait(self.start + self.pause.saturating_mul(self.sent));
        }
        write_event(out, self.sent);
        self.sent += 1;
        Step::More
    }
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

/// `parts` one after another, as one chunk.
fn write_chunk(out: &mut dyn BodySink, parts: &[&[u8]]) {
    out.begin_chunk(parts.iter().map(|p| p.len() as u64).sum());
    for part in parts {
        out.data(part);
    }
    out.end_chunk();
}

/// One server-sent event as a chunk: `event: ping`, and data with its id and the time.
fn write_event(out: &mut dyn BodySink, id: u32) {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut a = [0u8; 20];
    let mut b = [0u8; 20];
    let id = decimal(u64::from(id), &mut a);
    let millis = decimal(millis, &mut b);
    write_chunk(
        out,
        &[
            b"event: ping\ndata: {\"id\":",
            id,
            b",\"timestamp\":",
            millis,
            b"}\n\n",
        ],
    );
}

#[cfg(test)]
#[path = "generate_tests.rs"]
mod tests;
