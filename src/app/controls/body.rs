//! A body written the way the controls say: re-framed as chunks (`chunked=`), paced
//! (`drip=`), cut short (`truncate`, `stall=body`), from the route's own bytes or generated
//! (`size=`). Driven by a [`Producer`](crate::http::Producer) like any response written over
//! time, so it writes at most what the output has room for and a paced or stalled response
//! costs a timer, never a thread.

use std::time::{Duration, Instant};

use crate::http::{BodySink, Generate, Step};
use crate::rand::ByteStream;

/// Where the body's bytes come from.
#[derive(Debug)]
pub(super) enum Source {
    /// The route's rendered body (its memory is the producer's charge).
    Bytes {
        data: Vec<u8>,
        pos: usize,
    },
    Zero,
    Random(ByteStream),
}

/// What happens once the bytes to write are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The body is whole: the response is done.
    Whole,
    /// Cut short: the connection closes with what was written.
    Close,
    /// Cut short: nothing more until this moment, then the connection closes.
    StallUntil(Instant),
}

#[derive(Debug)]
pub(super) struct Shaped {
    source: Source,
    /// Body bytes still to write before `end`.
    left: u64,
    /// Bytes of the whole body not yet announced by a chunk's size line (more than `left`
    /// when the body is cut short).
    unannounced: u64,
    /// Chunk size, when the body is chunked.
    chunk: Option<u64>,
    /// What the current chunk still needs.
    in_chunk: u64,
    /// Between chunks; the n-th chunk is due at `start + n × pause`, so late wake-ups do not
    /// add up.
    pause: Duration,
    start: Option<Instant>,
    chunks: u32,
    end: End,
}

impl Shaped {
    /// `write` bytes of a body of `total` bytes from `source` (all of it, or the part before a
    /// cut), framed as `chunk`-byte chunks if given, `pause` apart, then `end`.
    pub(super) fn new(
        source: Source,
        (write, total): (u64, u64),
        chunk: Option<u64>,
        pause: Duration,
        end: End,
    ) -> Shaped {
        Shaped {
            source,
            left: write,
            unannounced: total,
            chunk,
            in_chunk: 0,
            pause,
            start: None,
            chunks: 0,
            end,
        }
    }
}

impl Generate for Shaped {
    /// As much as the room takes and is due: small chunks go many to a step (`chunked=1`
    /// costs a few bytes of framing a byte, not a step a byte).
    fn step(&mut self, out: &mut dyn BodySink, now: Instant) -> Step {
        loop {
            if let Some(stop) = self.piece(out, now) {
                return stop;
            }
            if out.room() <= MIN_PIECE {
                return Step::More;
            }
        }
    }
}

/// Room under which a step stops rather than begin another small piece: a chunk's framing
/// and a few bytes.
const MIN_PIECE: usize = 64;

impl Shaped {
    /// Writes one piece (at most the room): `None` to go on, else why it stops.
    fn piece(&mut self, out: &mut dyn BodySink, now: Instant) -> Option<Step> {
        if self.in_chunk == 0 {
            if self.left == 0 {
                return Some(self.finish(now));
            }
            if let Some(size) = self.chunk {
                let start = *self.start.get_or_insert(now);
                let due = start + self.pause.saturating_mul(self.chunks);
                if now < due {
                    return Some(Step::Wait(due));
                }
                self.chunks += 1;
                // A cut may fall inside a chunk: its size line still says the whole chunk.
                let announced = size.min(self.unannounced).max(1);
                self.unannounced = self.unannounced.saturating_sub(announced);
                out.begin_chunk(announced);
                self.in_chunk = announced;
            } else {
                self.in_chunk = self.left;
            }
        }
        let n = (out.room().max(1) as u64).min(self.in_chunk).min(self.left) as usize;
        self.write(out, n);
        self.in_chunk -= n as u64;
        self.left -= n as u64;
        if self.chunk.is_some() && self.in_chunk == 0 {
            out.end_chunk();
        }
        if self.left == 0 {
            // A cut inside a chunk ends it here.
            self.in_chunk = 0;
        }
        None
    }
}

impl Shaped {
    fn finish(&mut self, now: Instant) -> Step {
        match self.end {
            End::Whole => Step::Done,
            End::Close => Step::Close,
            End::StallUntil(at) if now < at => Step::Wait(at),
            End::StallUntil(_) => Step::Close,
        }
    }

    fn write(&mut self, out: &mut dyn BodySink, n: usize) {
        match &mut self.source {
            Source::Bytes { data, pos } => {
                let end = (*pos + n).min(data.len());
                out.data(&data[*pos..end]);
                *pos = end;
            }
            Source::Zero => {
                out.fill(n);
            }
            Source::Random(bytes) => bytes.fill(out.fill(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Body bytes into a vector, chunk-framed as HTTP/1.1 frames them.
    struct Sink {
        out: Vec<u8>,
        room: usize,
    }

    impl BodySink for Sink {
        fn room(&self) -> usize {
            self.room.saturating_sub(self.out.len())
        }
        fn begin_chunk(&mut self, len: u64) {
            self.out
                .extend_from_slice(format!("{len:x}\r\n").as_bytes());
        }
        fn end_chunk(&mut self) {
            self.out.extend_from_slice(b"\r\n");
        }
        fn data(&mut self, bytes: &[u8]) {
            self.out.extend_from_slice(bytes);
        }
        fn fill(&mut self, n: usize) -> &mut [u8] {
            let at = self.out.len();
            self.out.resize(at + n, 0);
            &mut self.out[at..]
        }
    }

    fn run(mut s: Shaped, room: usize) -> (Vec<u8>, Step) {
        let mut sink = Sink {
            out: Vec::new(),
            room,
        };
        let now = Instant::now();
        loop {
            match s.step(&mut sink, now) {
                Step::More => {}
                step => return (sink.out, step),
            }
        }
    }

    #[test]
    fn chunks_a_body_and_ends_it() {
        let data = b"hello world".to_vec();
        let s = Shaped::new(
            Source::Bytes { data, pos: 0 },
            (11, 11),
            Some(4),
            Duration::ZERO,
            End::Whole,
        );
        let (out, step) = run(s, 3);
        assert_eq!(out, b"4\r\nhell\r\n4\r\no wo\r\n3\r\nrld\r\n");
        assert_eq!(step, Step::Done);
    }

    #[test]
    fn truncates_inside_a_chunk() {
        let s = Shaped::new(Source::Zero, (6, 12), Some(4), Duration::ZERO, End::Close);
        let (out, step) = run(s, 100);
        assert_eq!(out, b"4\r\n\0\0\0\0\r\n4\r\n\0\0");
        assert_eq!(step, Step::Close);
    }

    #[test]
    fn paces_chunks() {
        let mut s = Shaped::new(
            Source::Zero,
            (8, 8),
            Some(4),
            Duration::from_millis(50),
            End::Whole,
        );
        let mut sink = Sink {
            out: Vec::new(),
            room: 100,
        };
        let t0 = Instant::now();
        // The first chunk at once; the second is not due in the same step.
        let at = t0 + Duration::from_millis(50);
        assert_eq!(s.step(&mut sink, t0), Step::Wait(at));
        assert_eq!(sink.out, b"4\r\n\0\0\0\0\r\n");
        assert_eq!(s.step(&mut sink, t0), Step::Wait(at));
        assert_eq!(s.step(&mut sink, at), Step::Done);
        assert_eq!(sink.out.len(), 2 * 9);
    }

    #[test]
    fn small_chunks_go_many_to_a_step() {
        let s = Shaped::new(
            Source::Zero,
            (1000, 1000),
            Some(1),
            Duration::ZERO,
            End::Whole,
        );
        let mut sink = Sink {
            out: Vec::new(),
            room: 600,
        };
        let mut s = s;
        assert_eq!(s.step(&mut sink, Instant::now()), Step::More);
        assert!(
            sink.out.len() >= 80 * 6,
            "{} bytes in one step",
            sink.out.len()
        );
        assert!(sink.out.starts_with(b"1\r\n\0\r\n1\r\n\0\r\n"));
    }

    #[test]
    fn stalls_then_closes() {
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs(1);
        let mut s = Shaped::new(
            Source::Zero,
            (2, 4),
            None,
            Duration::ZERO,
            End::StallUntil(until),
        );
        let mut sink = Sink {
            out: Vec::new(),
            room: 100,
        };
        // Half the body, then the stall.
        assert_eq!(s.step(&mut sink, t0), Step::Wait(until));
        assert_eq!(s.step(&mut sink, t0), Step::Wait(until));
        assert_eq!(s.step(&mut sink, until), Step::Close);
        assert_eq!(sink.out, b"\0\0");
    }
}
