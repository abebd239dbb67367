//! `/websocket/echo` over real sockets, with a client codec of the tests' own
//! (`common::ws`): the handshake's answers, echoes of every size and shape, fragments split at
//! every byte, control frames between fragments, every framing rule and its close code,
//! permessage-deflate and its bomb, the faults, pings, the budget, a graceful stop, and wss.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::ws::{self, BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT};
use crate::common::{get, request, wait_until, Server};
use nix::sys::signal::Signal;

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// A socket past a 101 for `target`.
fn open(server: &Server, target: &str) -> TcpStream {
    let mut s = connect(server);
    let head = ws::open(&mut s, target, "").unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    s
}

fn echo_of(s: &mut TcpStream, opcode: u8, payload: &[u8]) -> (u8, Vec<u8>, usize) {
    s.write_all(&ws::frame(true, opcode, payload)).unwrap();
    ws::read_message(s, &mut Vec::new()).unwrap()
}

/// Sends `bytes` and expects the close frame with `code`, then the TCP close.
fn refused_with(server: &Server, target: &str, bytes: &[u8], code: u16) {
    let mut s = open(server, target);
    s.write_all(bytes).unwrap();
    assert_eq!(ws::expect_close(&mut s), Some(code), "for {bytes:02x?}");
    ws::expect_eof(&mut s, Duration::from_secs(5));
}

#[test]
fn the_handshake_is_checked_and_answered() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = connect(&server);
    let head = ws::open(
        &mut s,
        "/websocket/echo",
        "Sec-WebSocket-Protocol: chat, superchat\r\n",
    )
    .unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("\r\nupgrade: websocket\r\n")
            && lower.contains("\r\nconnection: upgrade\r\n")
    );
    // RFC 6455 §1.3's key and answer.
    assert!(
        head.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{head}"
    );
    // No subprotocol the server did not choose, and none it was not offered.
    assert!(!lower.contains("sec-websocket-protocol"), "{head}");
    assert!(!lower.contains("content-length") && !lower.contains("transfer-encoding"));

    // A plain GET: 426 and what to upgrade to.
    let r = get(server.addr, "/websocket/echo");
    assert_eq!(r.status, 426);
    assert_eq!(r.header("upgrade"), Some("websocket"));
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    let send = |raw: String| request(server.addr, raw.as_bytes());
    let base = "Host: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    // Another version: 426 naming 13.
    let r = send(format!(
        "GET /websocket/echo HTTP/1.1\r\n{base}{key}Sec-WebSocket-Version: 8\r\n\r\n"
    ));
    assert_eq!(
        (r.status, r.header("sec-websocket-version")),
        (426, Some("13"))
    );
    // Broken upgrades: 400.
    for (what, raw) in [
        ("no key", format!("GET /websocket/echo HTTP/1.1\r\n{base}Sec-WebSocket-Version: 13\r\n\r\n")),
        ("a short key", format!("GET /websocket/echo HTTP/1.1\r\n{base}Sec-WebSocket-Key: AAAA\r\nSec-WebSocket-Version: 13\r\n\r\n")),
        ("no Connection: Upgrade", format!("GET /websocket/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n{key}Sec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n")),
        ("HTTP/1.0", format!("GET /websocket/echo HTTP/1.0\r\n{base}{key}Sec-WebSocket-Version: 13\r\n\r\n")),
        ("a POST", format!("POST /websocket/echo HTTP/1.1\r\n{base}{key}Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n")),
        ("a bad parameter", format!("GET /websocket/echo?max_message_size=0 HTTP/1.1\r\n{base}{key}Sec-WebSocket-Version: 13\r\n\r\n")),
    ] {
        assert_eq!(send(raw).status, 400, "{what}");
    }
    // Still answering after all that.
    let mut s = open(&server, "/websocket/echo");
    assert_eq!(echo_of(&mut s, TEXT, b"still here").1, b"still here");
}

#[test]
fn messages_of_every_size_and_kind_come_back_as_they_went() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = open(&server, "/websocket/echo");
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 100_000, 1 << 20] {
        let text: Vec<u8> = "añb€c🎉".bytes().cycle().take(len).collect::<Vec<u8>>();
        // Cut at a char boundary.
        let text = String::from_utf8_lossy(&text).into_owned();
        let text = text.trim_end_matches('\u{fffd}').as_bytes().to_vec();
        assert_eq!(
            echo_of(&mut s, TEXT, &text),
            (TEXT, text.clone(), 1),
            "text of {len}"
        );
        let bin: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(
            echo_of(&mut s, BINARY, &bin),
            (BINARY, bin, 1),
            "binary of {len}"
        );
    }
    // A normal close: answered with the same code, then the TCP close.
    s.write_all(&ws::frame(true, CLOSE, &[0x03, 0xe8, b'b', b'y', b'e']))
        .unwrap();
    assert_eq!(ws::expect_close(&mut s), Some(1000));
    ws::expect_eof(&mut s, Duration::from_secs(5));
    // An empty close is answered with an empty one.
    let mut s = open(&server, "/websocket/echo");
    s.write_all(&ws::frame(true, CLOSE, b"")).unwrap();
    let f = ws::read_frame(&mut s).unwrap();
    assert_eq!((f.opcode, f.payload.len()), (CLOSE, 0));
}

#[test]
fn fragments_split_at_every_byte_and_bytes_one_at_a_time() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = open(&server, "/websocket/echo");
    let message = "Hello, wörld — ✓".as_bytes();
    // Two fragments, split at every byte (inside multi-byte characters too), and three.
    for cut in 0..=message.len() {
        let mut bytes = ws::frame(false, TEXT, &message[..cut]);
        bytes.extend(ws::frame(true, CONTINUATION, &message[cut..]));
        s.write_all(&bytes).unwrap();
        let (op, got, _) = ws::read_message(&mut s, &mut Vec::new()).unwrap();
        assert_eq!((op, got.as_slice()), (TEXT, message), "cut at {cut}");
        for cut2 in (cut..=message.len()).step_by(5) {
            let mut bytes = ws::frame(false, BINARY, &message[..cut]);
            bytes.extend(ws::frame(false, CONTINUATION, &message[cut..cut2]));
            bytes.extend(ws::frame(true, CONTINUATION, &message[cut2..]));
            s.write_all(&bytes).unwrap();
            assert_eq!(
                ws::read_message(&mut s, &mut Vec::new()).unwrap().1,
                message
            );
        }
    }
    // A fragmented message whose frames arrive one byte per write.
    let mut bytes = ws::frame(false, TEXT, &message[..5]);
    bytes.extend(ws::frame(false, CONTINUATION, &message[5..9]));
    bytes.extend(ws::frame(true, CONTINUATION, &message[9..]));
    for b in &bytes {
        s.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    assert_eq!(
        ws::read_message(&mut s, &mut Vec::new()).unwrap().1,
        message
    );
    // A big message in many frames.
    let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    let mut bytes = Vec::new();
    let chunks: Vec<&[u8]> = big.chunks(1000).collect();
    for (i, c) in chunks.iter().enumerate() {
        let op = if i == 0 { BINARY } else { CONTINUATION };
        bytes.extend(ws::frame(i + 1 == chunks.len(), op, c));
    }
    s.write_all(&bytes).unwrap();
    assert_eq!(ws::read_message(&mut s, &mut Vec::new()).unwrap().1, big);
}

#[test]
fn control_frames_between_fragments_are_answered_at_once() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = open(&server, "/websocket/echo");
    s.write_all(&ws::frame(false, TEXT, b"first ")).unwrap();
    s.write_all(&ws::frame(true, PING, b"are you there"))
        .unwrap();
    // The pong comes before the rest of the message is even sent.
    let f = ws::read_frame(&mut s).unwrap();
    assert_eq!(
        (f.opcode, f.payload.as_slice()),
        (PONG, &b"are you there"[..])
    );
    s.write_all(&ws::frame(true, PONG, b"unsolicited")).unwrap();
    s.write_all(&ws::frame(true, CONTINUATION, b"second"))
        .unwrap();
    let (op, got, _) = ws::read_message(&mut s, &mut Vec::new()).unwrap();
    assert_eq!((op, got.as_slice()), (TEXT, &b"first second"[..]));
}

#[test]
fn every_framing_rule_is_enforced_with_its_close_code() {
    let server = Server::start(&["--workers", "1", "--ws-max-frames", "10"]);
    let e = "/websocket/echo";
    let masked = |fin, rsv, op, p: &[u8]| ws::frame_bytes(fin, rsv, op, p, Some([1, 2, 3, 4]));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "unmasked",
            ws::frame_bytes(true, 0, TEXT, b"hi", None),
            1002,
        ),
        ("RSV1 without deflate", masked(true, 4, TEXT, b"hi"), 1002),
        ("RSV2", masked(true, 2, TEXT, b"hi"), 1002),
        ("RSV3", masked(true, 1, BINARY, b"hi"), 1002),
        ("opcode 3", masked(true, 0, 3, b""), 1002),
        ("opcode 0xB", masked(true, 0, 0xB, b""), 1002),
        ("a fragmented ping", masked(false, 0, PING, b""), 1002),
        ("a 126-byte ping", masked(true, 0, PING, &[0; 126]), 1002),
        (
            "a continuation with no message",
            masked(true, 0, CONTINUATION, b"x"),
            1002,
        ),
        (
            "a message inside a message",
            [masked(false, 0, TEXT, b"a"), masked(true, 0, TEXT, b"b")].concat(),
            1002,
        ),
        ("a 1-byte close", masked(true, 0, CLOSE, &[3]), 1002),
        (
            "close code 1005",
            masked(true, 0, CLOSE, &[0x03, 0xed]),
            1002,
        ),
        (
            "close code 999",
            masked(true, 0, CLOSE, &[0x03, 0xe7]),
            1002,
        ),
        (
            "close code 5000",
            masked(true, 0, CLOSE, &[0x13, 0x88]),
            1002,
        ),
        (
            "a close reason not UTF-8",
            masked(true, 0, CLOSE, &[0x03, 0xe8, 0xff]),
            1007,
        ),
        (
            "text not UTF-8",
            masked(true, 0, TEXT, &[0xce, 0xba, 0xed, 0xa0, 0x80]),
            1007,
        ),
        (
            "text ending mid-character",
            masked(true, 0, TEXT, &[b'a', 0xe2, 0x82]),
            1007,
        ),
        (
            "11 frames",
            (0..11)
                .flat_map(|i| masked(false, 0, if i == 0 { BINARY } else { CONTINUATION }, b"x"))
                .collect(),
            1008,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut s = open(&server, e);
        s.write_all(&bytes).unwrap();
        let got = ws::expect_close(&mut s);
        assert_eq!(got, Some(code), "{what}");
        ws::expect_eof(&mut s, Duration::from_secs(5));
    }
    // UTF-8 fails fast: the first bad fragment closes, the message never finished.
    let mut s = open(&server, e);
    s.write_all(&ws::frame(false, TEXT, &[b'o', b'k', 0xc0, 0xaf]))
        .unwrap();
    assert_eq!(ws::expect_close(&mut s), Some(1007));
    // A character split over fragments is fine.
    let mut s = open(&server, e);
    s.write_all(
        &[
            ws::frame(false, TEXT, &[0xe2, 0x82]),
            ws::frame(true, CONTINUATION, &[0xac]),
        ]
        .concat(),
    )
    .unwrap();
    assert_eq!(
        ws::read_message(&mut s, &mut Vec::new()).unwrap().1,
        "€".as_bytes()
    );
    // Too big for max_message_size: 1009, before the payload is even sent whole.
    refused_with(
        &server,
        "/websocket/echo?max_message_size=100",
        &ws::frame(true, BINARY, &[0; 101])[..20],
        1009,
    );
    let mut s = open(&server, "/websocket/echo?max_message_size=100");
    assert_eq!(echo_of(&mut s, BINARY, &[7; 100]).1, vec![7; 100]);
    s.write_all(
        &[
            ws::frame(false, BINARY, &[0; 60]),
            ws::frame(true, CONTINUATION, &[0; 41]),
        ]
        .concat(),
    )
    .unwrap();
    assert_eq!(ws::expect_close(&mut s), Some(1009));
    // The worker serves on.
    let mut s = open(&server, e);
    assert_eq!(echo_of(&mut s, TEXT, b"fine").1, b"fine");
    let metrics = get(server.addr, "/metrics").body_str().to_string();
    for (reason, at_least) in [
        ("protocol_error", 14),
        ("invalid_data", 4),
        ("too_big", 2),
        ("too_many_frames", 1),
    ] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("prefork_websocket_closes_total{")
                    && l.contains(&format!("reason=\"{reason}\""))
            })
            .unwrap();
        let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(n >= at_least, "{line}");
    }
}

#[test]
fn replies_are_cut_into_max_fragment_size_frames() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = open(&server, "/websocket/echo?max_fragment_size=4");
    let (op, got, frames) = echo_of(&mut s, TEXT, b"0123456789");
    assert_eq!((op, got.as_slice(), frames), (TEXT, &b"0123456789"[..], 3));
    let (_, got, frames) = echo_of(&mut s, BINARY, &[1; 4]);
    assert_eq!((got.len(), frames), (4, 1));
}

/// A raw deflate of `data` without the sync tail, as a permessage-deflate client sends it.
fn deflated(data: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    while out.capacity() == out.len() {
        out.reserve(1 << 16);
        c.compress_vec(&[], &mut out, FlushCompress::Sync).unwrap();
    }
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn inflated(data: &[u8]) -> Vec<u8> {
    let mut d = flate2::Decompress::new(false);
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(1 << 22);
    d.decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
        .unwrap();
    out
}

#[test]
fn permessage_deflate_is_negotiated_and_bounded() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = connect(&server);
    let head = ws::open(
        &mut s,
        "/websocket/echo?max_message_size=1000000",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate\r\n",
    )
    .unwrap();
    assert!(head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10\r\n"), "{head}");
    let text = "compress me, compress me ".repeat(400);
    s.write_all(&ws::frame_bytes(
        true,
        4,
        TEXT,
        &deflated(text.as_bytes()),
        Some([5, 6, 7, 8]),
    ))
    .unwrap();
    let f = ws::read_frame(&mut s).unwrap();
    assert!(
        f.rsv1 && f.fin && f.opcode == TEXT,
        "{:?}",
        (f.rsv1, f.fin, f.opcode)
    );
    assert!(f.payload.len() < text.len() / 10);
    assert_eq!(inflated(&f.payload), text.as_bytes());
    // An uncompressed message on the same connection: fine, and answered compressed.
    s.write_all(&ws::frame(true, BINARY, &[42; 3000])).unwrap();
    let f = ws::read_frame(&mut s).unwrap();
    assert!(f.rsv1);
    assert_eq!(inflated(&f.payload), vec![42; 3000]);
    // A compressed message split over fragments (RSV1 on the first only).
    let packed = deflated(text.as_bytes());
    let (a, b) = packed.split_at(packed.len() / 2);
    s.write_all(
        &[
            ws::frame_bytes(false, 4, TEXT, a, Some([1, 1, 1, 1])),
            ws::frame(true, CONTINUATION, b),
        ]
        .concat(),
    )
    .unwrap();
    assert_eq!(
        inflated(&ws::read_frame(&mut s).unwrap().payload),
        text.as_bytes()
    );
    // A short reply goes out uncompressed (RSV1 is per message).
    s.write_all(&ws::frame_bytes(
        true,
        4,
        TEXT,
        &deflated(b"tiny"),
        Some([2, 2, 2, 2]),
    ))
    .unwrap();
    let f = ws::read_frame(&mut s).unwrap();
    assert_eq!((f.rsv1, f.payload.as_slice()), (false, &b"tiny"[..]));
    // RSV1 on a continuation: 1002.
    s.write_all(
        &[
            ws::frame(false, TEXT, b"a"),
            ws::frame_bytes(true, 4, CONTINUATION, b"b", Some([1, 1, 1, 1])),
        ]
        .concat(),
    )
    .unwrap();
    assert_eq!(ws::expect_close(&mut s), Some(1002));

    // A bomb: 64 MiB of zeros in a few KiB; the largest message is 1 MB: 1009, and the
    // worker never made the 64 MiB.
    let mut s = connect(&server);
    ws::open(
        &mut s,
        "/websocket/echo?max_message_size=1000000",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    )
    .unwrap();
    let bomb = deflated(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 100_000);
    s.write_all(&ws::frame_bytes(true, 4, BINARY, &bomb, Some([9, 9, 9, 9])))
        .unwrap();
    assert_eq!(ws::expect_close(&mut s), Some(1009));
    // Garbage that is not deflate: 1007.
    let mut s = connect(&server);
    ws::open(
        &mut s,
        "/websocket/echo",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
    )
    .unwrap();
    s.write_all(&ws::frame_bytes(
        true,
        4,
        BINARY,
        &[0xff; 40],
        Some([9, 9, 9, 9]),
    ))
    .unwrap();
    assert_eq!(ws::expect_close(&mut s), Some(1007));
    // Offers it cannot take are declined, not failed.
    let mut s = connect(&server);
    let head = ws::open(
        &mut s,
        "/websocket/echo",
        "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8, x-custom\r\n",
    )
    .unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101") && !head.contains("Sec-WebSocket-Extensions"),
        "{head}"
    );
}

#[test]
fn faults_delay_close_and_drop_on_purpose() {
    let server = Server::start(&["--workers", "1"]);
    let mut s = open(&server, "/websocket/echo?delay=300ms");
    let t = Instant::now();
    assert_eq!(echo_of(&mut s, TEXT, b"later").1, b"later");
    assert!(
        t.elapsed() >= Duration::from_millis(290),
        "{:?}",
        t.elapsed()
    );

    let mut s = open(&server, "/websocket/echo?close=2:4001");
    assert_eq!(echo_of(&mut s, TEXT, b"one").1, b"one");
    assert_eq!(echo_of(&mut s, TEXT, b"two").1, b"two");
    assert_eq!(ws::expect_close(&mut s), Some(4001));
    ws::expect_eof(&mut s, Duration::from_secs(5));

    let mut s = open(&server, "/websocket/echo?drop=1");
    assert_eq!(echo_of(&mut s, BINARY, b"x").1, b"x");
    // Cut: no close frame, just the end of the stream.
    ws::expect_eof(&mut s, Duration::from_secs(5));
}

#[test]
fn idle_connections_are_pinged_and_closed_when_pongs_stop() {
    let server = Server::start(&["--workers", "1", "--ws-ping-interval", "300ms"]);
    // A client that answers stays open.
    let mut alive = open(&server, "/websocket/echo");
    let mut silent = open(&server, "/websocket/echo");
    let t = Instant::now();
    let mut pings = 0;
    while t.elapsed() < Duration::from_millis(1500) {
        let f = ws::read_frame(&mut alive).unwrap();
        assert_eq!(f.opcode, PING);
        pings += 1;
        alive.write_all(&ws::frame(true, PONG, &f.payload)).unwrap();
    }
    assert!(pings >= 3, "{pings} pings in 1.5 s at 300 ms");
    assert_eq!(echo_of(&mut alive, TEXT, b"still open").1, b"still open");
    // The silent one got its ping, did not answer, and was closed.
    assert_eq!(ws::read_frame(&mut silent).unwrap().opcode, PING);
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    let metrics = get(server.addr, "/metrics").body_str().to_string();
    assert!(metrics.contains("reason=\"ping_timeout\"} 1"), "{metrics}");
}

#[test]
fn a_graceful_stop_says_going_away_and_exits() {
    let server = Server::start(&["--workers", "1", "--shutdown-timeout", "5s"]);
    let mut idle = open(&server, "/websocket/echo");
    assert_eq!(echo_of(&mut idle, TEXT, b"before").1, b"before");
    let mut busy = open(&server, "/websocket/echo");
    server.signal(Signal::SIGTERM);
    // An idle one within the drain's grace; a busy one at its next message.
    assert_eq!(ws::expect_close(&mut idle), Some(1001));
    ws::expect_eof(&mut idle, Duration::from_secs(5));
    let _ = busy.write_all(&ws::frame(true, TEXT, b"during"));
    assert_eq!(ws::expect_close(&mut busy), Some(1001));
    let exited = wait_until(Duration::from_secs(8), || {
        (!crate::common::process_exists(server.pid)).then_some(())
    });
    assert!(exited.is_some(), "{}", server.log_text());
}

#[test]
fn a_client_that_never_reads_is_held_to_the_budget() {
    let server = Server::start(&[
        "--workers",
        "1",
        "--memory-budget",
        "4m",
        "--send-lowat",
        "16k",
    ]);
    // Four clients each send 1 MiB messages and never read the echoes.
    let mut hogs: Vec<TcpStream> = (0..4).map(|_| open(&server, "/websocket/echo")).collect();
    let message = ws::frame(true, BINARY, &vec![1u8; 1 << 20]);
    let stop = Instant::now() + Duration::from_secs(3);
    for h in &mut hogs {
        h.set_write_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    let mut sent = 0usize;
    'outer: while Instant::now() < stop {
        for h in &mut hogs {
            match h.write(&message) {
                Ok(n) => sent += n,
                Err(_) => {
                    if Instant::now() >= stop {
                        break 'outer;
                    }
                }
            }
        }
    }
    assert!(sent > 4 << 20, "the hogs sent only {sent} bytes");
    // What the worker holds for them stays within its budget.
    let metrics = get(server.addr, "/metrics").body_str().to_string();
    let gauge = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let held = gauge("prefork_buffered_body_bytes{") + gauge("prefork_buffered_output_bytes{");
    assert!(held <= 4 << 20, "held {held} bytes over a 4 MiB budget");
    // And everyone else is still served.
    let mut s = open(&server, "/websocket/echo");
    assert_eq!(echo_of(&mut s, TEXT, b"served").1, b"served");
    assert_eq!(get(server.addr, "/").status, 200);
}

#[test]
fn wss_over_tls() {
    use crate::common::tls::{self as t, Ca};
    let dir = t::test_dir("wss");
    let ca = Ca::new("wss test CA");
    let (cert, key) = t::write_pair(&dir, "server", &ca.server(&["localhost"]));
    let server = t::start_https(&cert, &key, &["--workers", "1"]);
    let config = t::client_config(&ca.pem, &t::ClientOptions::default());
    let mut s = t::connect(server.https_addr(), &config, "localhost").unwrap();
    let head = ws::open(&mut s, "/websocket/echo", "").unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    s.write_all(&ws::frame(true, TEXT, b"secret")).unwrap();
    assert_eq!(
        ws::read_message(&mut s, &mut Vec::new()).unwrap().1,
        b"secret"
    );
    let big = vec![3u8; 200_000];
    s.write_all(&ws::frame(true, BINARY, &big)).unwrap();
    assert_eq!(ws::read_message(&mut s, &mut Vec::new()).unwrap().1, big);
    s.write_all(&ws::frame(true, CLOSE, &[0x03, 0xe8])).unwrap();
    assert_eq!(ws::expect_close(&mut s), Some(1000));
}

#[test]
fn a_reload_says_going_away_to_the_old_generation_and_new_ones_are_served() {
    let server = Server::start(&["--workers", "1"]);
    let mut old = open(&server, "/websocket/echo");
    assert_eq!(echo_of(&mut old, TEXT, b"gen 1").1, b"gen 1");
    server.signal(Signal::SIGHUP);
    assert_eq!(ws::expect_close(&mut old), Some(1001));
    ws::expect_eof(&mut old, Duration::from_secs(5));
    let mut new = open(&server, "/websocket/echo");
    assert_eq!(echo_of(&mut new, TEXT, b"gen 2").1, b"gen 2");
}

#[test]
fn replies_cut_into_tiny_fragments_are_charged_whole() {
    // A 1 MiB message echoed in 1-byte fragments is a 3 MiB framed copy: three clients that
    // never read must not make the worker hold 9 MiB past a 4 MiB budget.
    let server = Server::start(&[
        "--workers",
        "1",
        "--memory-budget",
        "4m",
        "--send-lowat",
        "16k",
    ]);
    let worker = server.workers()[0];
    let before = crate::common::pss_kib(worker);
    let message = ws::frame(true, BINARY, &vec![5u8; 1 << 20]);
    let mut hogs: Vec<TcpStream> = (0..3)
        .map(|_| open(&server, "/websocket/echo?max_fragment_size=1"))
        .collect();
    for h in &mut hogs {
        h.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = h.write_all(&message);
    }
    std::thread::sleep(Duration::from_millis(500));
    let grown_kib = crate::common::pss_kib(worker).saturating_sub(before);
    assert!(
        grown_kib < 7 * 1024,
        "the worker grew by {grown_kib} KiB over a 4 MiB budget"
    );
    let mut s = open(&server, "/websocket/echo");
    assert_eq!(echo_of(&mut s, TEXT, b"still served").1, b"still served");
    // The first framed copy is read whole, and correct.
    let mut first = std::io::BufReader::with_capacity(1 << 16, hogs.remove(0));
    let (_, got, frames) = ws::read_message(&mut first, &mut Vec::new()).unwrap();
    assert_eq!((got.len(), frames), (1 << 20, 1 << 20));
}
