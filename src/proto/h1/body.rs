//! A request body, read whole before the request is answered.
//!
//! The request is assembled as one run of bytes, its head then its decoded body, so a route
//! sees a whole request as a single slice:
//!
//! - **In place**, in the read buffer, while it fits: the head stays at the front, a
//!   Content-Length body follows it as it arrived, and a chunked body is de-chunked by moving
//!   each chunk's data down over the framing before it. Bytes already processed but not kept
//!   (chunk framing, a body nobody reads) are cut out when the buffer fills. No allocation and
//!   no budget: this is every small request.
//! - **Spilled** to memory reserved in the worker's [`Budget`] when it does not fit: a declared
//!   body reserves its whole length, a chunked body the most it may grow to, before a byte of it
//!   is held, so a connection that holds memory never waits for more.
//!
//! Only routes that use the body keep it; for the others it is framed, checked and dropped as it
//! arrives (a request is answered only once it is whole, whatever the route).

use super::chunked::{self, LineError, TrailerLine};
use super::parse::{BodyLen, Reject, TooLarge};
use crate::buffer::Buf;
use crate::memory::{Budget, Grant, Use};

/// How the rest of the body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Length { remaining: u64 },
    Chunked(Chunked),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Chunked {
    phase: Phase,
    /// Decoded bytes so far.
    total: u64,
    /// The most the decoded body may grow to, and what going past it means.
    cap: u64,
    over_cap: TooLarge,
    /// Trailer-section bytes so far, bounded like a head.
    trailer_bytes: usize,
    max_trailer_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Finished,
}

/// Where the request is kept until it is whole.
#[derive(Debug)]
enum Store {
    /// In the read buffer: `[0, head_len)` the head, `[head_len, head_len + kept)` the decoded
    /// body, `[head_len + kept, wire)` processed bytes no longer needed, `[wire, ..)` not
    /// processed yet.
    InPlace { wire: usize },
    /// In its own memory: the head then the decoded body; everything in the read buffer is
    /// unprocessed. `charge` is what the budget holds for it.
    Spilled { buf: Vec<u8>, charge: u64 },
}

/// What one call to [`Assembly::advance`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// Head and body are whole: see [`Assembly::request`].
    Complete,
    NeedInput,
    /// The body must move out of the read buffer and its memory is not free yet: the
    /// connection is queued in the budget and woken when its turn comes.
    NeedMemory,
    Reject(Reject),
}

/// One request being assembled.
#[derive(Debug)]
pub(super) struct Assembly {
    head_len: usize,
    /// Decoded body bytes kept.
    kept: usize,
    wire: Wire,
    /// Whether the route uses the body (else it is dropped as it is framed).
    keep: bool,
    store: Store,
}

impl Assembly {
    /// Starts a request whose head is the first `head_len` bytes of the read buffer and whose
    /// body is framed as `body` (not `Empty`). `max_body` is `--max-body-bytes`; a kept chunked
    /// body is also held to what the whole budget could ever reserve for it.
    pub(super) fn new(
        head_len: usize,
        body: BodyLen,
        keep: bool,
        max_body: u64,
        max_head: usize,
        budget: &Budget,
    ) -> Assembly {
        let wire = match body {
            BodyLen::Length(remaining) => Wire::Length { remaining },
            BodyLen::Empty => Wire::Length { remaining: 0 },
            BodyLen::Chunked => {
                let by_budget = budget.limit().saturating_sub(head_len as u64);
                let (cap, over_cap) = if keep && by_budget < max_body {
                    (by_budget, TooLarge::Budget)
                } else {
                    (max_body, TooLarge::Chunked)
                };
                Wire::Chunked(Chunked {
                    phase: Phase::Size,
                    total: 0,
                    cap,
                    over_cap,
                    trailer_bytes: 0,
                    max_trailer_bytes: max_head,
                })
            }
        };
        Assembly {
            head_len,
            kept: 0,
            wire,
            keep,
            store: Store::InPlace { wire: head_len },
        }
    }

    /// A request already whole in the read buffer: its head, then `body_len` body bytes.
    pub(super) fn whole_in_place(head_len: usize, body_len: usize) -> Assembly {
        Assembly {
            head_len,
            kept: body_len,
            wire: Wire::Length { remaining: 0 },
            keep: true,
            store: Store::InPlace {
                wire: head_len + body_len,
            },
        }
    }

    pub(super) fn head_len(&self) -> usize {
        self.head_len
    }

    /// True once any body byte has arrived (then `100 Continue` is no longer useful).
    pub(super) fn body_started(&self, input: &Buf) -> bool {
        match self.store {
            Store::InPlace { wire } => input.len() > self.head_len || wire > self.head_len,
            Store::Spilled { .. } => true,
        }
    }

    /// True if the body lives in its own (budgeted) memory.
    pub(super) fn is_spilled(&self) -> bool {
        matches!(self.store, Store::Spilled { .. })
    }

    /// Frames, checks and keeps (or drops) what has arrived. `token` is the connection's, for
    /// its place in the budget's queue.
    pub(super) fn advance(&mut self, input: &mut Buf, budget: &Budget, token: u64) -> Progress {
        loop {
            if let Some(progress) = self.spill_if_too_large(input, budget, token) {
                return progress;
            }
            let avail = match self.store {
                Store::InPlace { wire } => &input.filled()[wire..],
                Store::Spilled { .. } => input.filled(),
            };
            let step = match next_step(&mut self.wire, avail) {
                Ok(step) => step,
                Err(reject) => return Progress::Reject(reject),
            };
            match step {
                Step::Done => return Progress::Complete,
                Step::Data(n) => self.take_data(input, n),
                Step::Skip(n) => self.skip(input, n),
                Step::Need => return self.need_input(input, budget, token),
            }
        }
    }

    /// A declared body that can never fit in place moves out before it is read.
    fn spill_if_too_large(
        &mut self,
        input: &mut Buf,
        budget: &Budget,
        token: u64,
    ) -> Option<Progress> {
        let (Store::InPlace { .. }, Wire::Length { remaining }, true) =
            (&self.store, self.wire, self.keep)
        else {
            return None;
        };
        let whole = (self.head_len + self.kept) as u64 + remaining;
        if whole <= input.capacity() as u64 {
            return None;
        }
        self.spill(input, budget, token, whole)
    }

    fn take_data(&mut self, input: &mut Buf, n: usize) {
        match &mut self.store {
            Store::InPlace { wire } if self.keep => {
                let to = self.head_len + self.kept;
                if to != *wire {
                    input.filled_mut().copy_within(*wire..*wire + n, to);
                }
                self.kept += n;
                *wire += n;
            }
            Store::InPlace { wire } => *wire += n,
            Store::Spilled { buf, charge } => {
                grow_within(buf, n, *charge);
                buf.extend_from_slice(&input.filled()[..n]);
                self.kept += n;
                input.consume(n);
            }
        }
    }

    fn skip(&mut self, input: &mut Buf, n: usize) {
        match &mut self.store {
            Store::InPlace { wire } => *wire += n,
            Store::Spilled { .. } => input.consume(n),
        }
    }

    /// Everything that arrived is processed. In place and out of room: cut the processed bytes
    /// out, or, if there are none and the body is kept, move it out to budgeted memory.
    fn need_input(&mut self, input: &mut Buf, budget: &Budget, token: u64) -> Progress {
        let Store::InPlace { wire } = &mut self.store else {
            return Progress::NeedInput;
        };
        if input.room() > 0 {
            return Progress::NeedInput;
        }
        let live = self.head_len + self.kept;
        if *wire > live {
            input.remove_range(live, *wire);
            *wire = live;
            return Progress::NeedInput;
        }
        let need = match self.wire {
            Wire::Chunked(c) if self.keep => self.head_len as u64 + c.cap,
            // A head and one framing line always fit a read buffer (see the worker's sizing);
            // anything else would be a bug in that sizing.
            _ => return Progress::Reject(Reject::HeadTooLarge),
        };
        self.spill(input, budget, token, need)
            .unwrap_or(Progress::NeedInput)
    }

    /// Reserves `need` bytes and moves the head and the body so far into them. `None` once
    /// spilled (the caller goes on), else what to tell the connection.
    fn spill(
        &mut self,
        input: &mut Buf,
        budget: &Budget,
        token: u64,
        need: u64,
    ) -> Option<Progress> {
        let Store::InPlace { wire } = self.store else {
            return None;
        };
        match budget.reserve(token, need, Use::Body) {
            Grant::Granted => {}
            Grant::Queued => return Some(Progress::NeedMemory),
            Grant::Never => {
                return Some(Progress::Reject(Reject::PayloadTooLarge(TooLarge::Budget)))
            }
        }
        let live = self.head_len + self.kept;
        let first = match self.wire {
            Wire::Length { .. } => need as usize,
            // A chunked body grows as it comes, doubling up to its reservation.
            Wire::Chunked(_) => (live * 2).max(64 * 1024).min(need as usize),
        };
        let mut buf = Vec::with_capacity(first);
        buf.extend_from_slice(&input.filled()[..live]);
        input.consume(wire);
        self.store = Store::Spilled { buf, charge: need };
        None
    }

    /// The whole request, head then decoded body (after `Complete`).
    pub(super) fn request<'a>(&'a self, input: &'a Buf) -> &'a [u8] {
        match &self.store {
            Store::InPlace { .. } => &input.filled()[..self.head_len + self.kept],
            Store::Spilled { buf, .. } => buf,
        }
    }

    /// Ends the request: its bytes leave the read buffer, and a spilled body's memory is
    /// handed over (buffer and charge, still held in the budget as `Use::Body`). A chunked
    /// body reserved the most it could grow to; what it did not use goes back now.
    pub(super) fn finish(self, input: &mut Buf, budget: &Budget) -> Option<(Vec<u8>, u64)> {
        match self.store {
            Store::InPlace { wire } => {
                input.consume(wire);
                None
            }
            Store::Spilled { buf, charge } => {
                let held = (buf.capacity() as u64).min(charge);
                budget.release(charge - held, Use::Body);
                Some((buf, held))
            }
        }
    }

    /// Gives the budget back what this request holds (its connection is closing).
    pub(super) fn release(&mut self, budget: &Budget) {
        if let Store::Spilled { charge, .. } = &mut self.store {
            budget.release(std::mem::take(charge), Use::Body);
        }
    }
}

/// Grows `buf` for `n` more bytes without its capacity passing `limit` (its reservation):
/// a doubling `Vec` would otherwise hold up to twice what the budget counted.
fn grow_within(buf: &mut Vec<u8>, n: usize, limit: u64) {
    let want = buf.len() + n;
    if want <= buf.capacity() {
        return;
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let target = (buf.capacity() * 2).max(want).min(limit.max(want));
    buf.reserve_exact(target - buf.len());
}

/// The next thing the bytes at the front of `avail` are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `n` bytes of body data.
    Data(usize),
    /// `n` bytes of framing.
    Skip(usize),
    /// The body is complete.
    Done,
    /// More bytes are needed.
    Need,
}

fn next_step(wire: &mut Wire, avail: &[u8]) -> Result<Step, Reject> {
    match wire {
        Wire::Length { remaining: 0 } => Ok(Step::Done),
        Wire::Length { remaining } => {
            let n = take(avail, *remaining);
            *remaining -= n as u64;
            Ok(if n == 0 { Step::Need } else { Step::Data(n) })
        }
        Wire::Chunked(c) => next_chunked_step(c, avail),
    }
}

/// Up to `remaining` of the bytes in `avail`.
fn take(avail: &[u8], remaining: u64) -> usize {
    avail
        .len()
        .min(usize::try_from(remaining).unwrap_or(usize::MAX))
}

fn next_chunked_step(c: &mut Chunked, avail: &[u8]) -> Result<Step, Reject> {
    let malformed = |e: LineError| match e {
        LineError::Malformed => Reject::BadRequest,
        LineError::TooLarge => Reject::PayloadTooLarge(TooLarge::Chunked),
    };
    match c.phase {
        Phase::Size => match chunked::size_line(avail).map_err(malformed)? {
            None => Ok(Step::Need),
            Some((line, size)) => {
                let total = c.total.saturating_add(size);
                if total > c.cap {
                    return Err(Reject::PayloadTooLarge(c.over_cap));
                }
                c.total = total;
                c.phase = if size == 0 {
                    Phase::Trailers
                } else {
                    Phase::Data(size)
                };
                Ok(Step::Skip(line))
            }
        },
        Phase::Data(remaining) => {
            let n = take(avail, remaining);
            if n == 0 {
                return Ok(Step::Need);
            }
            let left = remaining - n as u64;
            c.phase = if left == 0 {
                Phase::DataEnd
            } else {
                Phase::Data(left)
            };
            Ok(Step::Data(n))
        }
        Phase::DataEnd => match avail {
            [b'\r', b'\n', ..] => {
                c.phase = Phase::Size;
                Ok(Step::Skip(2))
            }
            [] | [b'\r'] => Ok(Step::Need),
            _ => Err(Reject::BadRequest),
        },
        Phase::Trailers => match chunked::trailer_line(avail).map_err(malformed)? {
            None => Ok(Step::Need),
            Some(TrailerLine::End) => {
                c.phase = Phase::Finished;
                Ok(Step::Skip(2))
            }
            Some(TrailerLine::Field(n)) => {
                c.trailer_bytes += n;
                if c.trailer_bytes > c.max_trailer_bytes {
                    return Err(Reject::HeadTooLarge);
                }
                Ok(Step::Skip(n))
            }
        },
        Phase::Finished => Ok(Step::Done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::BufPool;

    const HEAD: &[u8] = b"POST /echo HTTP/1.1\r\nHost: x\r\n\r\n";

    /// Feeds `wire` (after `HEAD`) into a read buffer of `capacity`, as a connection would:
    /// only as much as fits, then `advance`. Returns the result and the request bytes.
    fn assemble(
        body: BodyLen,
        wire: &[u8],
        keep: bool,
        capacity: usize,
        budget: &Budget,
    ) -> (Progress, Vec<u8>, usize) {
        let mut input = Buf::new();
        BufPool::new(capacity, 1).fill(&mut input);
        input.spare_mut()[..HEAD.len()].copy_from_slice(HEAD);
        input.commit(HEAD.len());
        let mut stream = wire.to_vec();
        let mut a = Assembly::new(HEAD.len(), body, keep, 1 << 20, 8192, budget);
        loop {
            let room = input.spare_mut().len().min(stream.len()).min(7);
            input.spare_mut()[..room].copy_from_slice(&stream[..room]);
            input.commit(room);
            stream.drain(..room);
            let progress = a.advance(&mut input, budget, 1);
            if progress != Progress::NeedInput || stream.is_empty() {
                if progress == Progress::Complete {
                    let request = a.request(&input).to_vec();
                    let left = stream.len();
                    let spilled = a.finish(&mut input, budget);
                    if let Some((_, charge)) = spilled {
                        budget.release(charge, Use::Body);
                    }
                    return (progress, request, input.len() + left);
                }
                return (progress, Vec::new(), 0);
            }
        }
    }

    fn chunked_wire(body: &[u8], chunk: usize) -> Vec<u8> {
        let mut w = Vec::new();
        for piece in body.chunks(chunk) {
            w.extend_from_slice(format!("{:x};e=1\r\n", piece.len()).as_bytes());
            w.extend_from_slice(piece);
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\nNEXT");
        w
    }

    #[test]
    fn content_length_in_place_and_spilled() {
        let body: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut wire = body.clone();
        wire.extend_from_slice(b"NEXT");
        for capacity in [8192, 1024] {
            let budget = Budget::new(1 << 20);
            let (p, request, left) =
                assemble(BodyLen::Length(5000), &wire, true, capacity, &budget);
            assert_eq!(p, Progress::Complete);
            assert_eq!(&request[HEAD.len()..], &body[..], "capacity {capacity}");
            assert_eq!(left, 4, "the next request stays unread");
            assert_eq!(budget.used(), 0);
        }
    }

    #[test]
    fn chunked_is_decoded_in_place_and_spilled() {
        let body: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
        for (capacity, chunk) in [(64 * 1024, 1000), (4096, 1), (4096, 777), (2048, 5000)] {
            let budget = Budget::new(4 << 20);
            let wire = chunked_wire(&body, chunk);
            let (p, request, left) = assemble(BodyLen::Chunked, &wire, true, capacity, &budget);
            assert_eq!(p, Progress::Complete, "capacity {capacity} chunk {chunk}");
            assert_eq!(request.len() - HEAD.len(), body.len());
            assert!(
                request[HEAD.len()..] == body[..],
                "capacity {capacity} chunk {chunk}"
            );
            assert_eq!(left, 4);
        }
    }

    #[test]
    fn a_dropped_body_never_spills() {
        let body = vec![b'z'; 100_000];
        let budget = Budget::new(1024);
        let (p, request, _) = assemble(BodyLen::Length(100_000), &body, false, 2048, &budget);
        assert_eq!((p, &request[..]), (Progress::Complete, HEAD));
        let (p, request, _) = assemble(
            BodyLen::Chunked,
            &chunked_wire(&body, 300),
            false,
            2048,
            &budget,
        );
        assert_eq!((p, &request[..]), (Progress::Complete, HEAD));
    }

    #[test]
    fn limits_and_budget() {
        let budget = Budget::new(4096);
        let big = vec![b'a'; 10_000];
        let (p, _, _) = assemble(BodyLen::Length(10_000), &big, true, 1024, &budget);
        assert_eq!(
            p,
            Progress::Reject(Reject::PayloadTooLarge(TooLarge::Budget))
        );
        let (p, _, _) = assemble(
            BodyLen::Chunked,
            &chunked_wire(&big, 100),
            true,
            1024,
            &budget,
        );
        assert_eq!(
            p,
            Progress::Reject(Reject::PayloadTooLarge(TooLarge::Budget))
        );
        let roomy = Budget::new(1 << 30);
        let huge = vec![b'a'; (1 << 20) + 1];
        let (p, _, _) = assemble(
            BodyLen::Chunked,
            &chunked_wire(&huge, 4096),
            false,
            1024,
            &roomy,
        );
        assert_eq!(
            p,
            Progress::Reject(Reject::PayloadTooLarge(TooLarge::Chunked))
        );
        let (p, _, _) = assemble(BodyLen::Chunked, b"5\r\nhelloXX", true, 1024, &roomy);
        assert_eq!(p, Progress::Reject(Reject::BadRequest));
        assert_eq!(roomy.used(), 0);
    }

    #[test]
    fn waits_for_memory_in_turn() {
        let budget = Budget::new(8000);
        assert_eq!(budget.reserve(99, 5000, Use::Body), Grant::Granted);
        let (p, _, _) = assemble(BodyLen::Length(5000), &[b'a'; 5000], true, 1024, &budget);
        assert_eq!(p, Progress::NeedMemory);
        assert_eq!(budget.waiting(), 1);
    }
}
