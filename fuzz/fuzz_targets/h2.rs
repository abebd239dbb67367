//! An HTTP/2 connection on arbitrary client frames: the preface (through HTTP/1.1, which
//! hands the connection over on it), the client's SETTINGS, then frames built from the input:
//! each record picks a type, flags, a small stream id and a payload; a HEADERS or CONTINUATION
//! payload is either raw bytes or one of a few valid HPACK blocks (so requests reach the
//! handlers: `GET /`, a POST to `/echo`, a delay, a drip, a file-less 404), split anywhere.
//! The bytes arrive in pieces whose size the input chooses, under a tight memory budget, with
//! the clock moving on.
//!
//! Asserts: no panic; the server writes whole frames, none over 16,384 bytes of payload (the
//! client never raised SETTINGS_MAX_FRAME_SIZE), nothing after a GOAWAY but GOAWAY-free
//! closing; every byte reserved in the budget is given back.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use prefork_server::buffer::{Buf, BufPool};
use prefork_server::config::HttpLimits as Limits;
use prefork_server::memory::Use;
use prefork_server::output::Output;
use prefork_server::proto::{Next, Protocol};
use prefork_server::testing::TestSite;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Valid blocks (no Huffman, no indexing): `:method`, `:scheme`, `:path`, `:authority`...
fn block(which: u8) -> Vec<u8> {
    fn lit(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
        out.push(0x00);
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.push(value.len() as u8);
        out.extend_from_slice(value);
    }
    let mut b = Vec::new();
    let (method, path): (&[u8], &[u8]) = match which % 6 {
        0 => (b"GET", b"/"),
        1 => (b"POST", b"/echo"),
        2 => (b"GET", b"/delay/0.2"),
        3 => (b"GET", b"/drip?numbytes=5&duration=0.1"),
        4 => (b"GET", b"/bytes/70000"),
        _ => (b"HEAD", b"/missing"),
    };
    lit(&mut b, b":method", method);
    lit(&mut b, b":scheme", b"http");
    lit(&mut b, b":path", path);
    lit(&mut b, b":authority", b"fuzz");
    if which % 6 == 1 {
        lit(&mut b, b"content-length", b"5");
    }
    b
}

fuzz_target!(|input: &[u8]| {
    let Some((&cut, mut rest)) = input.split_first() else {
        return;
    };
    let mut client = Vec::from(PREFACE);
    client.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // SETTINGS, empty
    while let [kind, flags, stream, len, tail @ ..] = rest {
        let kind = kind % 11;
        let stream = u32::from(stream % 8) * 2 + u32::from(*stream >= 128);
        let (payload, after) = if (kind == 1 || kind == 9) && flags & 0x40 != 0 {
            let b = block(*len);
            let cut = usize::from(*len >> 3) % (b.len() + 1);
            let part = if flags & 0x80 != 0 { b[..cut].to_vec() } else { b };
            (part, tail)
        } else {
            let n = usize::from(*len).min(tail.len());
            (tail[..n].to_vec(), &tail[n..])
        };
        rest = after;
        let l = payload.len();
        client.extend_from_slice(&[(l >> 16) as u8, (l >> 8) as u8, l as u8, kind, flags & 0x3f]);
        client.extend_from_slice(&stream.to_be_bytes());
        client.extend_from_slice(&payload);
    }

    let site = TestSite::with_budget(Limits::new(4096, 2048, 1 << 16), 1 << 17);
    let mut env = site.env(1 << 14);
    let start = Instant::now();
    env.now = start;
    let mut app = site.app();
    let mut pool = BufPool::new(1 << 15, 2);
    let mut proto = Protocol::Http1(prefork_server::proto::h1::Http1::new());
    let mut input = Buf::new();
    pool.fill(&mut input);
    let mut output = Output::new();
    pool.fill(output.buffer());
    let mut sent = Vec::new();
    let step = usize::from(cut % 128) + 1;
    let mut fed = 0;
    for turn in 0..5_000u64 {
        let n = step.min(client.len() - fed).min(input.room());
        input.extend_from_slice(&client[fed..fed + n]);
        fed += n;
        let next = proto.on_data(&mut input, &mut output, &env, &mut *app);
        let freed = output.drain_into(&mut sent);
        site.budget.release(freed, Use::Output);
        env.now = start + Duration::from_millis(turn * 7);
        match next {
            Next::Close | Next::Reset => break,
            Next::NeedInput if fed == client.len() && proto.wake_at().is_none() => break,
            _ => {}
        }
    }
    proto.release(&site.budget, env.stats);
    assert_eq!(site.budget.used(), 0, "a reservation was not given back");
    check(&sent);
});

/// Whole frames, each within the default largest frame, and nothing after a GOAWAY.
fn check(sent: &[u8]) {
    let mut kinds = Vec::new();
    let mut rest = sent;
    while rest.len() >= 9 {
        let len = (usize::from(rest[0]) << 16) | (usize::from(rest[1]) << 8) | usize::from(rest[2]);
        assert!(len <= 16_384, "a frame of {len} bytes");
        assert!(rest.len() >= 9 + len, "a partial frame");
        let kind = rest[3];
        kinds.push((kind, rest[4], u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]])));
        rest = &rest[9 + len..];
        if kind == 7 {
            assert!(rest.is_empty(), "frames after GOAWAY: {kinds:?} then {:?}", &rest[..rest.len().min(9)]);
        }
    }
    assert!(rest.is_empty(), "a partial frame header");
}
