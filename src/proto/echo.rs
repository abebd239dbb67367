//! Raw TCP echo: every byte comes back, in order, never more than the high-water mark pending.
//!
//! Echo streams (that is its job): bytes go back as they come, and a peer that stops reading
//! stops being read from once the write buffer holds the high-water mark, so a connection never
//! holds more than its two pooled buffers.
//!
//! For testing clients' timeouts, a connection can also (see [`EchoOptions`]):
//! - echo each chunk `--echo-delay` after it arrived. The bytes wait where they are, in the
//!   read buffer, so what a connection holds is bounded by that buffer: once it is full, the
//!   connection is not read from until the oldest chunk has gone out. The worker wakes the
//!   connection at the exact moment the oldest chunk is due ([`Echo::wake_at`]), never by
//!   sleeping.
//! - be closed `--echo-close-after` after accept, or once `--echo-close-after-bytes` were
//!   echoed: what was already echoed is sent, then the FIN; bytes not echoed yet are dropped.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Env, Next, Phase};
use crate::buffer::Buf;
use crate::config::EchoOptions;
use crate::output::Output;

/// Chunks a delay line tracks at most. Past it, a new chunk joins the newest one and makes it
/// due later: bytes may leave later than their delay, never earlier, and a peer sending one
/// byte at a time cannot grow the line.
const MAX_CHUNKS: usize = 64;

#[derive(Debug, Default)]
pub struct Echo {
    /// Bytes that may still be echoed before the connection closes (`--echo-close-after-bytes`).
    left: Option<u64>,
    /// When the connection closes (`--echo-close-after`, counted from accept).
    close_at: Option<Instant>,
    /// `--echo-delay`: boxed, so a plain echo connection stays small.
    delay: Option<Box<DelayLine>>,
}

/// The chunks held back in the read buffer, oldest first.
#[derive(Debug)]
struct DelayLine {
    delay: Duration,
    /// Bytes at the start of the read buffer already stamped with a due time; anything after
    /// them arrived since the last call.
    stamped: usize,
    /// (due, bytes) per chunk, in the read buffer's order.
    chunks: VecDeque<(Instant, usize)>,
}

impl Echo {
    /// A connection accepted at `now`.
    pub fn new(options: &EchoOptions, now: Instant) -> Echo {
        Echo {
            left: options.close_after_bytes,
            close_at: options.close_after.map(|d| now + d),
            delay: options.delay.map(|delay| {
                Box::new(DelayLine {
                    delay,
                    stamped: 0,
                    chunks: VecDeque::new(),
                })
            }),
        }
    }

    /// Moves input to output until the output reaches the high-water mark (with a delay, only
    /// the chunks that are due).
    pub fn on_data(&mut self, input: &mut Buf, output: &mut Output, ctx: &Env<'_>) -> Next {
        if self.close_at.is_some_and(|at| at <= ctx.now) || self.left == Some(0) {
            return Next::Close;
        }
        let mut room = ctx.high_water.saturating_sub(output.len());
        let Some(line) = self.delay.as_deref_mut() else {
            copy(input, output, input.len().min(room), &mut self.left);
            return match self.left {
                Some(0) => Next::Close,
                _ if input.is_empty() => Next::NeedInput,
                _ => Next::Blocked,
            };
        };
        line.stamp(input.len(), ctx.now);
        while let Some(n) = line.due(ctx.now, room) {
            let sent = copy(input, output, n, &mut self.left);
            line.take(sent);
            room -= sent;
            if self.left == Some(0) {
                return Next::Close;
            }
        }
        match line.chunks.front() {
            None => Next::NeedInput,
            // Due, but the output is at its bound: writing it makes room.
            Some(&(due, _)) if due <= ctx.now => Next::Blocked,
            Some(_) => Next::Waiting,
        }
    }

    /// When the connection wants to be driven without new input: its oldest delayed chunk's
    /// moment, or its close.
    pub fn wake_at(&self) -> Option<Instant> {
        let due = self
            .delay
            .as_ref()
            .and_then(|l| l.chunks.front())
            .map(|c| c.0);
        match (due, self.close_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Waiting while bytes are held back (the send and body timeouts count from their moment,
    /// so a long delay is no idle timeout), else a plain stream.
    pub fn phase(&self) -> Phase {
        match &self.delay {
            Some(line) if !line.chunks.is_empty() => Phase::Waiting,
            _ => Phase::Stream,
        }
    }
}

/// Copies the first `n` input bytes to the output, fewer if `left` (the bytes that may still
/// be echoed) runs out first; returns how many.
fn copy(input: &mut Buf, output: &mut Output, n: usize, left: &mut Option<u64>) -> usize {
    let n = match *left {
        Some(left) => n.min(usize::try_from(left).unwrap_or(usize::MAX)),
        None => n,
    };
    output.bytes().extend_from_slice(&input.filled()[..n]);
    input.consume(n);
    if let Some(left) = left {
        *left -= n as u64;
    }
    n
}

impl DelayLine {
    /// Stamps the bytes that arrived since the last call (the read buffer holds `buffered`)
    /// as one chunk, due `delay` from `now`.
    fn stamp(&mut self, buffered: usize, now: Instant) {
        if buffered < self.stamped {
            // Only the echo consumes the read buffer while the connection is open, so this
            // cannot happen; if it did, stamping every byte afresh keeps the chunks true to it.
            self.chunks.clear();
            self.stamped = 0;
        }
        let new = buffered - self.stamped;
        if new == 0 {
            return;
        }
        self.stamped = buffered;
        let due = now + self.delay;
        let full = self.chunks.len() >= MAX_CHUNKS;
        match self.chunks.back_mut() {
            Some(last) if full || last.0 == due => *last = (due, last.1 + new),
            _ => self.chunks.push_back((due, new)),
        }
    }

    /// How many bytes of the oldest chunk may go now: it is due and there is `room`.
    fn due(&self, now: Instant, room: usize) -> Option<usize> {
        let &(due, len) = self.chunks.front()?;
        (due <= now && room > 0).then(|| len.min(room))
    }

    /// `n` bytes of the oldest chunk leave the read buffer.
    fn take(&mut self, n: usize) {
        self.stamped -= n;
        if let Some(front) = self.chunks.front_mut() {
            front.1 -= n;
            if front.1 == 0 {
                self.chunks.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestSite;

    const MS: Duration = Duration::from_millis(1);

    /// Runs `on_data` at `now` with the high-water mark `hw`; returns what it said and the bytes
    /// it wrote.
    fn run(echo: &mut Echo, input: &mut Buf, now: Instant, hw: usize) -> (Next, Vec<u8>) {
        let site = TestSite::new(Default::default());
        let ctx = Env {
            now,
            ..site.env(hw)
        };
        let mut output = Output::new();
        let next = echo.on_data(input, &mut output, &ctx);
        let mut sent = Vec::new();
        output.drain_into(&mut sent);
        (next, sent)
    }

    fn with(options: EchoOptions, now: Instant) -> Echo {
        Echo::new(&options, now)
    }

    #[test]
    fn echoes_up_to_the_high_water_mark() {
        let site = TestSite::new(Default::default());
        let ctx = site.env(4);
        let mut input = Buf::from_slice(b"abcdef");
        let mut output = Output::new();
        let mut echo = Echo::default();
        assert_eq!(echo.on_data(&mut input, &mut output, &ctx), Next::Blocked);
        let mut sent = Vec::new();
        output.drain_into(&mut sent);
        assert_eq!(sent, b"abcd");
        assert_eq!(echo.on_data(&mut input, &mut output, &ctx), Next::NeedInput);
        output.drain_into(&mut sent);
        assert_eq!(sent, b"abcdef");
    }

    #[test]
    fn each_chunk_goes_back_its_delay_after_it_arrived() {
        let t0 = Instant::now();
        let delay = Some(100 * MS);
        let mut echo = with(
            EchoOptions {
                delay,
                ..Default::default()
            },
            t0,
        );
        let mut input = Buf::from_slice(b"abc");
        assert_eq!(
            run(&mut echo, &mut input, t0, 1024),
            (Next::Waiting, vec![])
        );
        assert_eq!(
            (echo.wake_at(), echo.phase()),
            (Some(t0 + 100 * MS), Phase::Waiting)
        );
        input.extend_from_slice(b"de");
        assert_eq!(run(&mut echo, &mut input, t0 + 50 * MS, 1024).1, b"");
        assert_eq!(run(&mut echo, &mut input, t0 + 99 * MS, 1024).1, b"");
        let (next, sent) = run(&mut echo, &mut input, t0 + 100 * MS, 1024);
        assert_eq!((next, &sent[..]), (Next::Waiting, &b"abc"[..]));
        assert_eq!(echo.wake_at(), Some(t0 + 150 * MS));
        let (next, sent) = run(&mut echo, &mut input, t0 + 150 * MS, 1024);
        assert_eq!((next, &sent[..]), (Next::NeedInput, &b"de"[..]));
        assert_eq!((echo.wake_at(), echo.phase()), (None, Phase::Stream));
        assert!(input.is_empty());
    }

    #[test]
    fn a_due_chunk_waits_for_room_in_the_output() {
        let t0 = Instant::now();
        let delay = Some(10 * MS);
        let mut echo = with(
            EchoOptions {
                delay,
                ..Default::default()
            },
            t0,
        );
        let mut input = Buf::from_slice(b"abcdef");
        run(&mut echo, &mut input, t0, 4);
        let (next, sent) = run(&mut echo, &mut input, t0 + 10 * MS, 4);
        assert_eq!((next, &sent[..]), (Next::Blocked, &b"abcd"[..]));
        let (next, sent) = run(&mut echo, &mut input, t0 + 11 * MS, 4);
        assert_eq!((next, &sent[..]), (Next::NeedInput, &b"ef"[..]));
    }

    #[test]
    fn many_tiny_chunks_are_bounded_and_never_early() {
        let t0 = Instant::now();
        let delay = Some(100 * MS);
        let mut echo = with(
            EchoOptions {
                delay,
                ..Default::default()
            },
            t0,
        );
        let mut input = Buf::new();
        let mut got = Vec::new();
        // Byte t arrives at t ms (for 200 ms); nothing may leave before its own 100 ms are up.
        for t in 0..=400u32 {
            if t < 200 {
                input.extend_from_slice(&[t as u8]);
            }
            let (_, sent) = run(&mut echo, &mut input, t0 + t * MS, 1 << 20);
            for &b in &sent {
                assert!(u32::from(b) + 100 <= t, "byte {b} left at {t} ms");
            }
            got.extend(sent);
            assert!(echo.delay.as_ref().unwrap().chunks.len() <= MAX_CHUNKS);
        }
        assert_eq!(got, (0..200u32).map(|i| i as u8).collect::<Vec<_>>());
    }

    #[test]
    fn close_after_bytes_echoes_exactly_that_many() {
        let t0 = Instant::now();
        let ten = EchoOptions {
            close_after_bytes: Some(4),
            ..Default::default()
        };
        let mut input = Buf::from_slice(b"abcdef");
        let (next, sent) = run(&mut with(ten, t0), &mut input, t0, 1024);
        assert_eq!((next, &sent[..]), (Next::Close, &b"abcd"[..]));
        let none = EchoOptions {
            close_after_bytes: Some(0),
            ..Default::default()
        };
        let mut input = Buf::from_slice(b"abc");
        assert_eq!(
            run(&mut with(none, t0), &mut input, t0, 1024),
            (Next::Close, vec![])
        );
        let delayed = EchoOptions {
            close_after_bytes: Some(2),
            delay: Some(MS),
            ..Default::default()
        };
        let mut echo = with(delayed, t0);
        let mut input = Buf::from_slice(b"abc");
        assert_eq!(
            run(&mut echo, &mut input, t0, 1024),
            (Next::Waiting, vec![])
        );
        assert_eq!(
            run(&mut echo, &mut input, t0 + MS, 1024),
            (Next::Close, b"ab".to_vec())
        );
    }

    #[test]
    fn close_after_a_time_counts_from_accept() {
        let t0 = Instant::now();
        let options = EchoOptions {
            close_after: Some(500 * MS),
            ..Default::default()
        };
        let mut echo = with(options, t0);
        assert_eq!(echo.wake_at(), Some(t0 + 500 * MS));
        let mut input = Buf::from_slice(b"hi");
        assert_eq!(
            run(&mut echo, &mut input, t0 + 10 * MS, 1024),
            (Next::NeedInput, b"hi".to_vec())
        );
        assert_eq!(
            run(&mut echo, &mut input, t0 + 499 * MS, 1024).0,
            Next::NeedInput
        );
        assert_eq!(
            run(&mut echo, &mut input, t0 + 500 * MS, 1024).0,
            Next::Close
        );
    }
}
