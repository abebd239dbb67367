//! The producers on their own: deferred preludes, seeded and chunked random bodies,
//! patterns, lines, drips that catch up after a late wake, event streams.

use super::*;
use crate::proto::TestSite;

fn run(p: &mut Producer, site: &TestSite, at: Instant) -> (Vec<u8>, Produced) {
    let mut ctx = site.context(64);
    ctx.now = at;
    let mut output = Output::new();
    output.bytes().reserve(4096);
    let mut all = Vec::new();
    loop {
        let produced = p.produce(&mut output, &ctx);
        output.drain_into(&mut all);
        if produced != Produced::Room {
            return (all, produced);
        }
    }
}

#[test]
fn a_deferred_prelude_waits_then_gets_the_current_date() {
    let site = TestSite::new(Default::default());
    let t0 = Instant::now();
    let head = b"HTTP/1.1 200 OK\r\nServer: x\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n";
    let mut p = Producer::new(
        head.to_vec(),
        t0 + Duration::from_secs(1),
        Body::Empty,
        (true, 1),
        0,
    );
    let (bytes, produced) = run(&mut p, &site, t0);
    assert_eq!(
        (bytes.len(), produced),
        (0, Produced::Wait(t0 + Duration::from_secs(1)))
    );
    let (bytes, produced) = run(&mut p, &site, t0 + Duration::from_secs(1));
    assert_eq!(produced, Produced::Done);
    assert!(bytes
        .windows(35)
        .any(|w| w == b"Date: Mon, 23 Nov 2026 11:04:17 GMT"));
    assert!(bytes.ends_with(b"GMT\r\n\r\n"));
    // The worker began to drain meanwhile: the connection closes after this response.
    let mut p = Producer::new(head.to_vec(), t0, Body::Empty, (true, 1), 0);
    let mut ctx = site.context(4096);
    ctx.draining = true;
    let mut output = Output::new();
    output.bytes().reserve(4096);
    assert_eq!(p.produce(&mut output, &ctx), Produced::Done);
    let mut bytes = Vec::new();
    output.drain_into(&mut bytes);
    assert!(bytes.ends_with(b"GMT\r\nConnection: close\r\n\r\n"));
}

#[test]
fn random_bodies_are_seeded_and_chunked_when_asked() {
    let site = TestSite::new(Default::default());
    let now = Instant::now();
    let body = |chunk| Body::Random {
        bytes: ByteStream::seeded(1),
        left: 100,
        chunk,
        in_chunk: 0,
    };
    // Pieces follow the room under the high-water mark (64 here): the bytes do not.
    let (raw, _) = run(
        &mut Producer::new(vec![], now, body(None), (true, 1), 0),
        &site,
        now,
    );
    let mut expected = vec![0u8; 100];
    ByteStream::seeded(1).fill(&mut expected);
    assert_eq!(raw, expected);
    let (chunked, _) = run(
        &mut Producer::new(vec![], now, body(Some(30)), (true, 1), 0),
        &site,
        now,
    );
    let mut framed = Vec::new();
    for piece in expected.chunks(30) {
        framed.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        framed.extend_from_slice(piece);
        framed.extend_from_slice(b"\r\n");
    }
    framed.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(chunked, framed);
}

#[test]
fn patterns_and_lines() {
    let site = TestSite::new(Default::default());
    let now = Instant::now();
    let parts = VecDeque::from([
        Part::Fixed(b"<".to_vec()),
        Part::Pattern { from: 24, to: 28 },
        Part::Fixed(b">".to_vec()),
    ]);
    let (bytes, _) = run(
        &mut Producer::new(vec![], now, Body::Pattern { parts }, (true, 1), 0),
        &site,
        now,
    );
    assert_eq!(bytes, b"<yzab>");
    let lines = Body::Lines {
        rest: b"\"url\": \"u\"}\n".to_vec(),
        next: 0,
        count: 2,
    };
    let (bytes, _) = run(
        &mut Producer::new(vec![], now, lines, (true, 1), 0),
        &site,
        now,
    );
    assert_eq!(
        bytes,
        b"16\r\n{\"id\": 0, \"url\": \"u\"}\n\r\n16\r\n{\"id\": 1, \"url\": \"u\"}\n\r\n0\r\n\r\n"
    );
}

#[test]
fn drips_are_paced_and_catch_up_after_a_late_wake() {
    let site = TestSite::new(Default::default());
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let drip = |sent| Body::Drip {
        start: t0,
        pause: ms(100),
        sent,
        total: 5,
    };
    let (bytes, produced) = run(
        &mut Producer::new(vec![], t0, drip(0), (true, 1), 0),
        &site,
        t0,
    );
    assert_eq!(
        (bytes.as_slice(), produced),
        (&b"*"[..], Produced::Wait(t0 + ms(100)))
    );
    // Woken 250 ms late: the three bytes due by then go at once.
    let late = t0 + ms(350);
    let (bytes, produced) = run(
        &mut Producer::new(vec![], t0, drip(1), (true, 1), 0),
        &site,
        late,
    );
    assert_eq!(
        (bytes.as_slice(), produced),
        (&b"***"[..], Produced::Wait(t0 + ms(400)))
    );
    let last = t0 + ms(400);
    let (bytes, produced) = run(
        &mut Producer::new(vec![], t0, drip(4), (true, 1), 0),
        &site,
        last,
    );
    assert_eq!((bytes.as_slice(), produced), (&b"*"[..], Produced::Done));
}

#[test]
fn events_are_chunks_of_ping() {
    let site = TestSite::new(Default::default());
    let t0 = Instant::now();
    let events = Body::Events {
        start: t0,
        pause: Duration::ZERO,
        sent: 0,
        count: 2,
    };
    let (bytes, produced) = run(
        &mut Producer::new(vec![], t0, events, (true, 1), 0),
        &site,
        t0,
    );
    assert_eq!(produced, Produced::Done);
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text.matches("event: ping\ndata: {\"id\":").count(), 2);
    assert!(text.contains("{\"id\":1,\"timestamp\":"));
    assert!(text.ends_with("\r\n0\r\n\r\n"));
}
