//! `/raw`: the request head exactly as it arrived, byte for byte: the request line with the
//! target as sent, every field line in its order with its case, its spacing and its
//! duplicates, and the CRLFs (any empty lines before the request line too). This is what a
//! proxy in front actually sent, which the JSON echoes (`/headers`, `/inspect`) cannot show:
//! they trim values and cannot say whether a line ended in CRLF or a bare LF.
//!
//! The body is summarised in two response fields, `X-Body-Length` (decimal) and
//! `X-Body-Sha256` (lower-case hex), so a client can check that a large upload arrived intact
//! without getting it back; `?body=1` (or `true`) appends the body itself after the head. A
//! chunked body is the decoded one: its framing and trailers are not kept.
//!
//! Fields and not a trailer section: the request is whole before it is answered, so the
//! figures are known before the head goes out, and every client reads fields (few expose
//! trailers). The media type is `text/plain`, not `message/http` (RFC 9112 §10.1): the body is
//! not always a well-formed message (a chunked request's head with its decoded body, or a
//! head whose Content-Length promises a body that is left out), and `message/http` makes
//! browsers download what curl prints. No charset: the bytes are whatever the client sent
//! (field values may be obs-text), and `nosniff` keeps a browser from taking a target like
//! `/raw?<script>` for HTML.
//!
//! Bounded: the head is at most `--max-header-bytes` and the body `--max-body-bytes` (both
//! enforced before any route runs); an answer that does not fit the write buffer goes through
//! the worker's memory budget like every other large answer.

use sha2::{Digest, Sha256};

use super::params;
use super::reply::Resp;
use crate::http::digits::decimal;
use crate::http::{Reply, StatusCode};

pub(super) fn respond(r: &mut Resp<'_, '_>) -> Reply {
    let req = r.req;
    let echo_body =
        params::query(req.head.query, b"body").is_some_and(|v| matches!(&*v, b"1" | b"true"));
    let mut hex = [0u8; 64];
    sha256_hex(req.body, &mut hex);
    let mut digits = [0u8; 20];
    let length = decimal(req.body.len() as u64, &mut digits);
    let fields = [
        (&b"X-Body-Length"[..], length),
        (&b"X-Body-Sha256"[..], &hex[..]),
        (&b"X-Content-Type-Options"[..], &b"nosniff"[..]),
    ];
    let body: &[u8] = if echo_body { req.body } else { b"" };
    r.send_parts(
        StatusCode::Ok,
        Some(b"text/plain"),
        &fields,
        &[req.head.raw_head().unwrap_or_default(), body],
    )
}

/// The SHA-256 of `bytes` in lower-case hex.
fn sha256_hex(bytes: &[u8], out: &mut [u8; 64]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest.iter()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0x0f)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestSite;

    fn answer(request: &[u8]) -> Vec<u8> {
        TestSite::new(Default::default()).answer(request)
    }

    #[test]
    fn the_known_digest() {
        let mut hex = [0u8; 64];
        sha256_hex(b"abc", &mut hex);
        assert_eq!(
            &hex[..],
            b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_head_comes_back_as_sent_and_the_body_on_request() {
        let head = b"\r\nPOST /raw?body=1 HTTP/1.1\r\nhOsT: x\r\nX-A:  1 \r\nx-a: 2\r\n\
Content-Length: 3\r\n\r\n";
        let mut request = head.to_vec();
        request.extend_from_slice(b"abc");
        let sent = answer(&request);
        let text = String::from_utf8_lossy(&sent);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("\r\nX-Body-Length: 3\r\n"), "{text}");
        assert!(text.contains(
            "\r\nX-Body-Sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\r\n"
        ));
        let body_at = sent.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let mut want = head.to_vec();
        want.extend_from_slice(b"abc");
        assert_eq!(&sent[body_at..], &want[..]);
        // Without ?body=1, the head alone (and HEAD sends nothing after the head).
        let sent = answer(b"PUT /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
        assert!(sent.ends_with(b"PUT /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"));
        let sent = answer(b"HEAD /raw HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(sent.ends_with(b"\r\n\r\n"));
        assert!(!sent.ends_with(b"Host: x\r\n\r\n"));
    }
}
