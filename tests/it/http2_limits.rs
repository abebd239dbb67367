//! HTTP/2 at its edges, as a review found them: a body that ends in an empty part, compressed
//! bodies through a tiny window (every byte of their budget back), streams that wait on a
//! client that will not move (given up after the timeouts, pings or not), and the GOAWAY an
//! idle connection is closed with.

use crate::common::h2::{self, Frame, NO_ERROR};
use crate::common::tree::Tree;
use crate::common::{self, wait_until, Server};

use std::io::Read;
use std::time::{Duration, Instant};

/// `/raw` answers with its head and an empty body part: one END_STREAM, on the last DATA with
/// bytes.
#[test]
fn a_body_ending_in_an_empty_part_ends_the_stream_once() {
    let server = Server::start(&["--workers", "1"]);
    let mut c = h2::open(server.addr);
    for path in ["/raw", "/dump/request", "/"] {
        let resp = c.get(path);
        assert_eq!(resp.status, 200, "{path}");
        // A second request reads on past the first's frames: a stray DATA would show.
        assert_eq!(c.get("/").status, 200);
    }
    assert!(c.violations.is_empty(), "{:?}", c.violations);
}

/// Bodies compressed in steps (brotli, zstd, gzip) through a 500-byte window: whole, decoded
/// equal to the file, and the budget holds nothing once they are done.
#[test]
fn compressed_bodies_through_a_tiny_window_arrive_whole_and_give_back_their_memory() {
    let t = Tree::new();
    let text: Vec<u8> = (0..400_000u32)
        .flat_map(|i| format!("line {i} of a text that compresses well\n").into_bytes())
        .take(400_000)
        .collect();
    t.file("big.txt", &text);
    let server = Server::start(&["--workers", "1", "--root", t.arg(), "--compress"]);
    for coding in ["br", "zstd", "gzip"] {
        let mut c = h2::connect_prior_knowledge(server.addr);
        c.handshake(&[(h2::SETTINGS_INITIAL_WINDOW_SIZE, 500)])
            .unwrap();
        c.timeout = Duration::from_secs(20);
        let resp = c.request("GET", "/big.txt", &[("accept-encoding", coding)], b"");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-encoding"), Some(coding));
        let mut plain = Vec::new();
        match coding {
            "br" => brotli::Decompressor::new(&resp.body[..], 4096)
                .read_to_end(&mut plain)
                .unwrap(),
            "zstd" => zstd::stream::read::Decoder::new(&resp.body[..])
                .unwrap()
                .read_to_end(&mut plain)
                .unwrap(),
            _ => flate2::read::GzDecoder::new(&resp.body[..])
                .read_to_end(&mut plain)
                .unwrap(),
        };
        assert!(plain == text, "{coding}: {} bytes back", plain.len());
        assert!(c.violations.is_empty(), "{:?}", c.violations);
    }
    let freed = wait_until(Duration::from_secs(5), || {
        (common::metric(server.addr, "prefork_buffered_output_bytes", "") == 0).then_some(())
    });
    assert!(freed.is_some(), "the compressors' reservations came back");
}

/// A stream whose window the client never opens, and one whose declared body never comes,
/// are given up after the timeouts (GOAWAY), however many PINGs keep the socket busy.
#[test]
fn streams_waiting_on_a_silent_client_are_given_up_pings_or_not() {
    let server = Server::start(&[
        "--workers",
        "1",
        "--send-timeout",
        "1s",
        "--body-timeout",
        "1s",
    ]);
    let mut shut = h2::connect_prior_knowledge(server.addr);
    shut.handshake(&[(h2::SETTINGS_INITIAL_WINDOW_SIZE, 0)])
        .unwrap();
    shut.auto_window = false;
    shut.start_request("GET", "/bytes/100000", &[], b"")
        .unwrap();
    let mut upload = h2::open(server.addr);
    let id = upload.next_stream;
    upload.next_stream += 2;
    let fields = upload.request_fields("POST", "/echo", &[("content-length", "8000000")]);
    upload.send_headers(id, &fields, false).unwrap();
    let start = Instant::now();
    let mut ended = [false, false];
    while start.elapsed() < Duration::from_secs(8) && ended != [true, true] {
        for (i, c) in [&mut shut, &mut upload].into_iter().enumerate() {
            if ended[i] {
                continue;
            }
            let _ = c.ping(*b"stayhere");
            c.timeout = Duration::from_millis(100);
            loop {
                match c.read_frame() {
                    Ok(Frame::GoAway { code, .. }) => {
                        assert_eq!(code, NO_ERROR);
                        ended[i] = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
    }
    assert_eq!(
        ended,
        [true, true],
        "both stalled connections were given up"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
    let freed = wait_until(Duration::from_secs(5), || {
        (common::metric(server.addr, "prefork_buffered_body_bytes", "") == 0
            && common::metric(server.addr, "prefork_http2_streams", "") == 0)
            .then_some(())
    });
    assert!(freed.is_some(), "their reservations came back");
}

/// An idle connection closed by the keep-alive timeout is told so: GOAWAY(NO_ERROR), then the
/// close.
#[test]
fn an_idle_connection_is_closed_with_goaway() {
    let server = Server::start(&["--workers", "1", "--keepalive-timeout", "1s"]);
    let mut c = h2::open(server.addr);
    assert_eq!(c.get("/").status, 200);
    c.timeout = Duration::from_secs(5);
    let (last, code, _) = c.expect_goaway();
    assert_eq!((last, code), (1, NO_ERROR));
    c.expect_closed(Duration::from_secs(3));
}
