//! The generators on their own, through a sink that frames chunks as HTTP/1.1 does: seeded
//! and chunked random bodies, patterns, lines, drips that catch up after a late wake, event
//! streams.

use super::*;

/// Body bytes into a vector, `room` at a time, chunk-framed when `chunked`.
struct Sink {
    out: Vec<u8>,
    room: usize,
    chunked: bool,
}

impl BodySink for Sink {
    fn room(&self) -> usize {
        self.room
    }
    fn begin_chunk(&mut self, len: u64) {
        if self.chunked {
            self.out
                .extend_from_slice(format!("{len:x}\r\n").as_bytes());
        }
    }
    fn end_chunk(&mut self) {
        if self.chunked {
            self.out.extend_from_slice(b"\r\n");
        }
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

/// Steps `g` at `at` until it stops asking for more; what it wrote and why it stopped.
fn run(g: &mut dyn Generate, at: Instant, chunked: bool) -> (Vec<u8>, Step) {
    let mut sink = Sink {
        out: Vec::new(),
        room: 64,
        chunked,
    };
    loop {
        match g.step(&mut sink, at) {
            Step::More => {}
            step => return (sink.out, step),
        }
    }
}

#[test]
fn random_bodies_are_seeded_and_chunked_when_asked() {
    let now = Instant::now();
    // Pieces follow the room (64 here): the bytes do not.
    let (raw, step) = run(
        &mut Random::new(ByteStream::seeded(1), 100, None),
        now,
        false,
    );
    let mut expected = vec![0u8; 100];
    ByteStream::seeded(1).fill(&mut expected);
    assert_eq!((raw.as_slice(), step), (expected.as_slice(), Step::Done));
    let (chunked, _) = run(
        &mut Random::new(ByteStream::seeded(1), 100, Some(30)),
        now,
        true,
    );
    let mut framed = Vec::new();
    for piece in expected.chunks(30) {
        framed.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        framed.extend_from_slice(piece);
        framed.extend_from_slice(b"\r\n");
    }
    assert_eq!(chunked, framed);
    let (empty, step) = run(
        &mut Random::new(ByteStream::seeded(1), 0, Some(30)),
        now,
        true,
    );
    assert_eq!((empty.len(), step), (0, Step::Done));
}

#[test]
fn patterns_and_lines() {
    let now = Instant::now();
    let mut pattern = Pattern::new(vec![
        Part::Fixed(b"<".to_vec()),
        Part::Pattern { from: 24, to: 28 },
        Part::Fixed(b">".to_vec()),
    ]);
    let (bytes, _) = run(&mut pattern, now, false);
    assert_eq!(bytes, b"<yzab>");
    let mut lines = Lines::new(b"\"url\": \"u\"}\n".to_vec(), 2);
    let (bytes, _) = run(&mut lines, now, true);
    assert_eq!(
        bytes,
        b"16\r\n{\"id\": 0, \"url\": \"u\"}\n\r\n16\r\n{\"id\": 1, \"url\": \"u\"}\n\r\n"
    );
}

#[test]
fn drips_are_paced_and_catch_up_after_a_late_wake() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut drip = Drip::new(t0, ms(100), 5);
    let (bytes, step) = run(&mut drip, t0, false);
    assert_eq!(
        (bytes.as_slice(), step),
        (&b"*"[..], Step::Wait(t0 + ms(100)))
    );
    // Woken 250 ms late: the three bytes due by then go at once.
    let (bytes, step) = run(&mut drip, t0 + ms(350), false);
    assert_eq!(
        (bytes.as_slice(), step),
        (&b"***"[..], Step::Wait(t0 + ms(400)))
    );
    let (bytes, step) = run(&mut drip, t0 + ms(400), false);
    assert_eq!((bytes.as_slice(), step), (&b"*"[..], Step::Done));
}

#[test]
fn events_are_chunks_of_ping() {
    let t0 = Instant::now();
    let (bytes, step) = run(&mut Events::new(t0, Duration::ZERO, 2), t0, true);
    assert_eq!(step, Step::Done);
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text.matches("event: ping\ndata: {\"id\":").count(), 2);
    assert!(text.contains("{\"id\":1,\"timestamp\":"));
    assert!(text.ends_with("}\n\n\r\n"));
}
