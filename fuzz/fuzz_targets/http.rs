//! The HTTP protocol layer on arbitrary bytes in arbitrary splits.
//!
//! Asserts: no panic; the output is a well-formed sequence of HTTP/1.1 responses; and the
//! responses do not depend on how the input was split or on the output high-water mark (up to
//! the chunk boundaries of an echoed chunked body, which follow the reads; `100-continue` is
//! neutralised in the input, since the interim response depends on the split by design). Both runs end with a
//! blank line, so a head cut off by the end of the input is completed and judged the same way
//! in both (a malformed head may be rejected at once or when it completes; both are fine).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefork_server::buffer::Buf;
use prefork_server::proto::http::{Http, Limits};
use prefork_server::proto::{Context, Next};

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    let (control, data) = input.split_at(3);
    let mut data = data.to_vec();
    // `100 Continue` is sent only when the body has not arrived yet, so it depends on the split
    // by design (unit and integration tests cover it); take the expectation out of play.
    for i in 0..data.len().saturating_sub(11) {
        if data[i..i + 12].eq_ignore_ascii_case(b"100-continue") {
            data[i + 4] = b'x';
        }
    }
    data.extend_from_slice(b"\r\n\r\n");
    let data = &data[..];
    let limits = Limits::new(512, 4096);
    let whole = run(data, &[data.len() - 4, 4], 1 << 20, &limits);
    let mut seed = u32::from_le_bytes([control[0], control[1], control[2], 1]);
    let mut cuts = Vec::new();
    let mut left = data.len() - 4;
    while left > 0 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = 1 + (seed as usize % 64).min(left - 1);
        cuts.push(n);
        left -= n;
    }
    cuts.push(4);
    let high_water = 64 + (control[2] as usize) * 8;
    let split = run(data, &cuts, high_water, &limits);
    check_well_formed(&whole);
    check_well_formed(&split);
    assert_eq!(normalise(&whole), normalise(&split), "split changed the responses");
});

fn run(data: &[u8], cuts: &[usize], high_water: usize, limits: &Limits) -> Vec<u8> {
    // Debug routes stay off: /debug/crash would abort the fuzzer by design.
    let served = std::cell::Cell::new(0);
    let ctx = Context::for_tests(limits, &served, high_water);
    let mut http = Http::new();
    let mut input = Buf::new();
    let mut output = Buf::new();
    let mut out = Vec::new();
    let mut at = 0;
    for &n in cuts {
        input.extend_from_slice(&data[at..at + n]);
        at += n;
        loop {
            let next = http.on_data(&mut input, &mut output, &ctx);
            out.extend_from_slice(output.filled());
            output.consume(output.len());
            match next {
                Next::Blocked => continue,
                Next::Close => return out,
                Next::NeedInput | Next::Waiting => break,
            }
        }
    }
    out
}

/// Re-frames chunked bodies as one run of bytes.
fn normalise(out: &[u8]) -> Vec<u8> {
    let mut result = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let Some(head_len) = head_end(rest) else {
            result.extend_from_slice(rest);
            break;
        };
        let head = &rest[..head_len];
        rest = &rest[head_len..];
        result.extend_from_slice(head);
        if contains(head, b"\r\nTransfer-Encoding: chunked\r\n") {
            let (body, used) = dechunk(rest);
            result.extend_from_slice(&body);
            rest = &rest[used..];
        }
    }
    result
}

fn check_well_formed(out: &[u8]) {
    let mut rest = out;
    while !rest.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!("malformed response head: {other:?} in {:?}", String::from_utf8_lossy(rest)),
        };
        let code = resp.code.unwrap();
        assert!(
            [100, 200, 400, 404, 405, 408, 413, 414, 431, 501, 505].contains(&code),
            "unexpected status {code}"
        );
        let length = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| std::str::from_utf8(h.value).unwrap().parse::<usize>().unwrap());
        let chunked = resp.headers.iter().any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
        rest = &rest[n..];
        if code == 100 {
            continue;
        }
        if chunked {
            let (_, used) = dechunk(rest);
            rest = &rest[used..];
            continue;
        }
        let length = length.expect("every final response has a length");
        if rest.len() < length {
            // An echoed body cut off where the input ended; nothing may follow it.
            break;
        }
        // A HEAD response carries the length but no body: either reading is well-formed.
        let after_body = rest.get(length..).filter(|r| r.is_empty() || r.starts_with(b"HTTP/1.1 "));
        rest = match after_body {
            Some(r) => r,
            None => {
                assert!(rest.is_empty() || rest.starts_with(b"HTTP/1.1 "), "bad body framing");
                rest
            }
        };
    }
}

/// Decodes a chunked body from the start of `bytes`: (payload, bytes used). A body cut off by
/// a close (the request's body was bad) is returned as far as it goes.
fn dechunk(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_end) = find(&bytes[at..], b"\r\n") else {
            return (body, bytes.len());
        };
        let size = usize::from_str_radix(std::str::from_utf8(&bytes[at..at + line_end]).unwrap(), 16)
            .expect("hex chunk size");
        at += line_end + 2;
        if size == 0 {
            assert_eq!(&bytes[at..at + 2], b"\r\n", "last chunk ends the body");
            return (body, at + 2);
        }
        if bytes.len() < at + size + 2 {
            body.extend_from_slice(&bytes[at..]);
            return (body, bytes.len());
        }
        body.extend_from_slice(&bytes[at..at + size]);
        assert_eq!(&bytes[at + size..at + size + 2], b"\r\n");
        at += size + 2;
    }
}

fn head_end(bytes: &[u8]) -> Option<usize> {
    find(bytes, b"\r\n\r\n").map(|i| i + 4)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}
