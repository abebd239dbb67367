//! A WebSocket connection on arbitrary client bytes: the handshake (with or without
//! permessage-deflate, replies cut into small fragments or not, a small largest message or
//! not, chosen by the first byte), then the rest of the input as what the client sends,
//! delivered in pieces whose sizes the input also chooses, with a tight memory budget.
//!
//! Asserts: no panic; the server's bytes after the 101 are well-formed frames (unmasked, no
//! reserved bits but RSV1 on a compressed first frame, control frames whole and short), and
//! nothing follows a close frame; every byte reserved in the budget is given back.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use prefork_server::buffer::{Buf, BufPool};
use prefork_server::config::HttpLimits as Limits;
use prefork_server::memory::Use;
use prefork_server::output::Output;
use prefork_server::proto::{Next, Protocol};
use prefork_server::testing::TestSite;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let Some((&cut, client)) = rest.split_first() else {
        return;
    };
    let mut handshake = String::from("GET /websocket/echo?");
    if mode & 1 != 0 {
        handshake.push_str("max_fragment_size=7&");
    }
    if mode & 2 != 0 {
        handshake.push_str("max_message_size=300&");
    }
    handshake.push_str(
        " HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    );
    if mode & 4 != 0 {
        handshake.push_str("Sec-WebSocket-Extensions: permessage-deflate\r\n");
    }
    handshake.push_str("\r\n");
    let site = TestSite::with_budget(Limits::new(4096, 2048, 1 << 16), 1 << 16);
    let mut env = site.env(1 << 14);
    let start = Instant::now();
    env.now = start;
    let mut app = site.app();
    let mut pool = BufPool::new(1 << 14, 2);
    let mut proto = Protocol::Http1(prefork_server::proto::h1::Http1::new());
    let mut input = Buf::new();
    pool.fill(&mut input);
    input.extend_from_slice(handshake.as_bytes());
    let mut output = Output::new();
    pool.fill(output.buffer());
    let mut sent = Vec::new();
    let step = usize::from(cut % 64) + 1;
    let mut fed = 0;
    let mut closed = false;
    for turn in 0..20_000 {
        let next = proto.on_data(&mut input, &mut output, &env, &mut *app);
        let freed = output.drain_into(&mut sent);
        site.budget.release(freed, Use::Output);
        env.now = start + Duration::from_millis(turn);
        match next {
            Next::Close | Next::Reset => {
                closed = true;
                break;
            }
            Next::NeedInput | Next::Blocked | Next::Waiting | Next::Memory | Next::Yield => {
                if fed == client.len() && next == Next::NeedInput {
                    break;
                }
                let n = step.min(client.len() - fed).min(input.room());
                input.extend_from_slice(&client[fed..fed + n]);
                fed += n;
            }
        }
    }
    proto.release(&site.budget, env.stats);
    assert_eq!(site.budget.used(), 0, "a reservation was not given back");
    check(&sent, mode & 4 != 0, closed);
});

/// The 101, then server frames only, none after a close. A connection still open may end
/// inside a frame: a large binary message is echoed as it arrives, so a client that stops
/// half-way through its frame leaves the echo half-sent too.
fn check(sent: &[u8], deflate: bool, closed: bool) {
    let Some(head_end) = sent.windows(4).position(|w| w == b"\r\n\r\n") else {
        panic!("no 101: {:?}", String::from_utf8_lossy(sent));
    };
    assert!(sent.starts_with(b"HTTP/1.1 101 "), "{:?}", String::from_utf8_lossy(&sent[..head_end]));
    let mut rest = &sent[head_end + 4..];
    let mut in_message = false;
    while !rest.is_empty() {
        if !closed && frame_len(rest).is_none_or(|n| rest.len() < n) {
            return;
        }
        assert!(rest.len() >= 2, "a partial frame header");
        let (b0, b1) = (rest[0], rest[1]);
        assert_eq!(b1 & 0x80, 0, "a masked server frame");
        assert_eq!(b0 & 0x30, 0, "RSV2/RSV3 set");
        let opcode = b0 & 0x0F;
        let fin = b0 & 0x80 != 0;
        let (len, at) = match b1 & 0x7F {
            126 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 => (u64::from_be_bytes(rest[2..10].try_into().unwrap()) as usize, 10),
            n => (n as usize, 2),
        };
        assert!(rest.len() >= at + len, "a partial frame after the connection closed");
        if b0 & 0x40 != 0 {
            assert!(deflate && !in_message && (opcode == 1 || opcode == 2), "RSV1 where it may not be");
        }
        match opcode {
            0 => assert!(in_message, "a continuation outside a message"),
            1 | 2 => assert!(!in_message, "a message inside a message"),
            8 | 9 | 10 => assert!(fin && len <= 125, "a bad control frame"),
            other => panic!("opcode {other}"),
        }
        if opcode <= 2 {
            in_message = !fin;
        }
        rest = &rest[at + len..];
        if opcode == 8 {
            assert!(rest.is_empty(), "bytes after the close frame");
        }
    }
}

/// The whole length of the server frame at the front of `rest`, once its header is in.
fn frame_len(rest: &[u8]) -> Option<usize> {
    let b1 = *rest.get(1)?;
    Some(match b1 & 0x7F {
        126 => 4 + u16::from_be_bytes(rest.get(2..4)?.try_into().unwrap()) as usize,
        127 => 10 + u64::from_be_bytes(rest.get(2..10)?.try_into().unwrap()) as usize,
        n => 2 + n as usize,
    })
}
