//! HTTP/2 clients that send and never read: request bodies are reserved before they are let
//! in, answers kept for a shut window are reserved, and streams that would need more are
//! refused; the worker stays within its budget, answers a well-behaved client meanwhile, and
//! gets every byte back once they leave.

use crate::common::{self, h2, wait_until, Server};

use std::time::{Duration, Instant};

#[test]
fn clients_that_send_and_never_read_stay_within_the_budget() {
    let server = Server::start(&["--workers", "1", "--memory-budget", "16m"]);
    let worker = server.workers()[0];
    let budget = common::metric(server.addr, "prefork_memory_budget_bytes", "");
    assert_eq!(budget, 16 << 20);
    let before = common::pss_kib(worker);

    // 24 connections that shut their window (INITIAL_WINDOW_SIZE 0: no DATA may come back),
    // each opening 100 streams that POST 60 KB to /echo: 144 MB of echoes asked for, nine
    // times the budget, none of which can leave.
    let body = vec![b'x'; 60_000];
    let length = body.len().to_string();
    let mut hostile = Vec::new();
    let start = Instant::now();
    for _ in 0..24 {
        let mut c = h2::connect_prior_knowledge(server.addr);
        c.handshake(&[(h2::SETTINGS_INITIAL_WINDOW_SIZE, 0)])
            .expect("handshake");
        c.auto_window = false;
        for _ in 0..100 {
            let id = c.next_stream;
            c.next_stream += 2;
            let fields = c.request_fields("POST", "/echo", &[("content-length", &length)]);
            if c.send_headers(id, &fields, false).is_err() {
                break;
            }
            // The server's windows for our bodies: sent whole, in frames, whatever it says
            // (a refused stream's bytes are counted and dropped by the server).
            let sent = body.chunks(16_384).enumerate().all(|(i, chunk)| {
                c.send_data(id, chunk, (i + 1) * 16_384 >= body.len())
                    .is_ok()
            });
            if !sent {
                break;
            }
        }
        hostile.push(c);
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "the flood took too long to send"
        );
    }
    let held = common::metric(server.addr, "prefork_buffered_body_bytes", "")
        + common::metric(server.addr, "prefork_buffered_output_bytes", "");
    let refused = common::metric(
        server.addr,
        "prefork_http2_resets_total",
        "direction=\"sent\"",
    );
    let during = common::pss_kib(worker);
    // A well-behaved client is answered meanwhile.
    let mut good = h2::open(server.addr);
    let resp = good.get("/");
    assert_eq!(resp.status, 200);
    eprintln!(
        "budget {} MiB: {held} bytes reserved under {} connections that never read, {refused} \
         streams reset; worker Pss {} KiB before, {during} KiB during",
        budget >> 20,
        hostile.len(),
        before
    );
    assert!(held <= budget, "{held} bytes reserved past the budget");
    assert!(
        held > budget / 2,
        "the flood filled the budget ({held} bytes)"
    );
    assert!(refused > 0, "streams past the budget were refused");
    assert!(
        during.saturating_sub(before) < (budget >> 10) + 32 * 1024,
        "Pss grew by {} KiB: budget plus per-connection constants",
        during.saturating_sub(before)
    );

    drop(hostile);
    drop(good);
    let freed = wait_until(Duration::from_secs(20), || {
        let held = common::metric(server.addr, "prefork_buffered_body_bytes", "")
            + common::metric(server.addr, "prefork_buffered_output_bytes", "");
        (held == 0 && common::metric(server.addr, "prefork_http2_streams", "") == 0).then_some(())
    });
    assert!(
        freed.is_some(),
        "every reservation given back once they left"
    );
}
