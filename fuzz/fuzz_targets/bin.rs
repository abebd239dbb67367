//! The httpbin routes on arbitrary requests: a route picked by the first byte, the rest of the
//! input spread over its path parameter, query string, a few header values and the body.
//!
//! Request controls ride along in the query and in `X-Echo-*` headers.
//!
//! Asserts: no panic; unless a fault was asked for, every answer is a well-formed HTTP/1.1 response framed by Content-Length
//! or chunked, and there is one per request; answers due later (delays, drips) are written
//! once their time has come; every byte reserved in the memory budget is given back.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use prefork_server::buffer::{Buf, BufPool};
use prefork_server::memory::Use;
use prefork_server::output::Output;
use prefork_server::config::HttpLimits as Limits;
use prefork_server::proto::h1::Http1;
use prefork_server::proto::Next;
use prefork_server::testing::TestSite;

const ROUTES: &[&str] = &[
    "/",
    "/echo",
    "/get",
    "/post",
    "/put",
    "/patch",
    "/delete",
    "/anything/",
    "/headers",
    "/ip",
    "/user-agent",
    "/uuid",
    "/hostname",
    "/dump/request",
    "/delay/",
    "/status/",
    "/unstable",
    "/redirect/",
    "/relative-redirect/",
    "/absolute-redirect/",
    "/redirect-to",
    "/cookies",
    "/cookies/set/",
    "/cookies/set",
    "/cookies/delete",
    "/basic-auth/",
    "/hidden-basic-auth/",
    "/bearer",
    "/digest-auth/",
    "/response-headers",
    "/cache",
    "/cache/",
    "/etag/",
    "/gzip",
    "/deflate",
    "/brotli",
    "/html",
    "/json",
    "/xml",
    "/robots.txt",
    "/deny",
    "/encoding/utf8",
    "/image",
    "/image/",
    "/links/",
    "/base64/",
    "/bytes/",
    "/stream-bytes/",
    "/stream/",
    "/range/",
    "/drip",
    "/sse",
    "/raw",
    "/inspect",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH"];
const HEADERS: &[&str] = &[
    "Content-Type",
    "Authorization",
    "Cookie",
    "Range",
    "If-None-Match",
    "If-Match",
    "Accept",
    "X-Forwarded-For",
    "Forwarded",
    "Origin",
    "If-Range",
    "X-Echo-Status",
    "X-Echo-Delay",
    "X-Echo-Size",
    "X-Echo-Chunked",
    "X-Echo-Header",
    "X-Echo-Content",
];

/// Bytes a request-target may hold (httparse's rules), others replaced.
fn target_bytes(raw: &[u8]) -> Vec<u8> {
    raw.iter()
        .map(|&b| {
            if (0x21..0x7f).contains(&b) && b != b'#' {
                b
            } else {
                b'%'
            }
        })
        .collect()
}

/// Bytes a header value may hold.
fn value_bytes(raw: &[u8]) -> Vec<u8> {
    raw.iter()
        .map(|&b| {
            if b == b'\t' || (0x20..0x7f).contains(&b) {
                b
            } else {
                b' '
            }
        })
        .collect()
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 4 {
        return;
    }
    let route = ROUTES[input[0] as usize % ROUTES.len()];
    let method = METHODS[input[1] as usize % METHODS.len()];
    let mut fields = input[3..].split(|&b| b == 0xff);
    let param = target_bytes(fields.next().unwrap_or(b""));
    let query = target_bytes(fields.next().unwrap_or(b""));
    let mut raw = format!("{method} {route}").into_bytes();
    raw.extend_from_slice(&param);
    if !query.is_empty() {
        raw.push(b'?');
        raw.extend_from_slice(&query);
    }
    raw.extend_from_slice(b" HTTP/1.1\r\nHost: fuzz\r\n");
    for (i, value) in fields.by_ref().take(3).enumerate() {
        let name = HEADERS[(input[2] as usize + i * 3) % HEADERS.len()];
        raw.extend_from_slice(name.as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value_bytes(value).trim_ascii());
        raw.extend_from_slice(b"\r\n");
    }
    let body: Vec<u8> = fields.flatten().copied().collect();
    raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    raw.extend_from_slice(&body);
    let out = run(&raw);
    // Faults asked for on purpose (request controls) cut answers short or leave them out.
    let lower = raw.to_ascii_lowercase();
    let faulty = [&b"rst"[..], b"truncate", b"stall"]
        .iter()
        .any(|f| lower.windows(f.len()).any(|w| w == *f));
    if !faulty {
        check(&out);
    }
});

/// One request through the state machine; later calls see a clock an hour on, so whatever
/// was deferred is due.
fn run(raw: &[u8]) -> Vec<u8> {
    let site = TestSite::new(Limits::new(4096, 2048, 1 << 16));
    let mut ctx = site.env(1 << 14);
    let mut app = site.app();
    let start = Instant::now();
    ctx.now = start;
    let mut pool = BufPool::new(1 << 17, 2);
    let mut http = Http1::new();
    let mut input = Buf::new();
    pool.fill(&mut input);
    input.spare_mut()[..raw.len()].copy_from_slice(raw);
    input.commit(raw.len());
    let mut output = Output::new();
    pool.fill(output.buffer());
    let mut out = Vec::new();
    for turn in 0..100_000 {
        let next = http.on_data(&mut input, &mut output, &ctx, &mut *app);
        let freed = output.drain_into(&mut out);
        site.budget.release(freed, Use::Output);
        if turn == 0 {
            ctx.now = start + Duration::from_secs(3600);
        }
        match next {
            Next::Close | Next::NeedInput | Next::Reset => break,
            _ => {}
        }
    }
    http.release(&site.budget);
    assert_eq!(site.budget.used(), 0, "a reservation was not given back");
    out
}

/// One or more whole responses (a 1xx before the final one), each framed as it says.
fn check(mut out: &[u8]) {
    assert!(!out.is_empty(), "no answer");
    while !out.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(out) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!(
                "malformed head: {other:?} in {:?}",
                String::from_utf8_lossy(out)
            ),
        };
        let code = resp.code.unwrap();
        let field = |name: &str| {
            resp.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| std::str::from_utf8(h.value).unwrap().to_string())
        };
        let length = field("content-length").map(|v| v.parse::<usize>().unwrap());
        let chunked = field("transfer-encoding").as_deref() == Some("chunked");
        out = &out[n..];
        if (100..200).contains(&code) || code == 204 || code == 304 {
            assert!(length.is_none() && !chunked, "{code} with a body");
            continue;
        }
        if chunked {
            assert!(length.is_none(), "both framings");
            loop {
                if out.is_empty() {
                    return; // a HEAD answer: the head only
                }
                let nl = out
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .expect("a chunk line");
                let size =
                    usize::from_str_radix(std::str::from_utf8(&out[..nl]).unwrap(), 16).unwrap();
                out = &out[nl + 2..];
                assert!(out.len() >= size + 2, "a short chunk");
                assert_eq!(&out[size..size + 2], b"\r\n");
                out = &out[size + 2..];
                if size == 0 {
                    break;
                }
            }
        } else {
            let length = length.expect("a Content-Length");
            // A HEAD answer carries the length of what GET would send, and nothing.
            if out.len() < length {
                assert!(out.is_empty(), "a short body");
                return;
            }
            out = &out[length..];
        }
    }
}
