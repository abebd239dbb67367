//! The Huffman code of RFC 7541 Appendix B (§5.2).
//!
//! Decoding walks the code's tree four bits at a time, as nghttp2 does: a state is an internal
//! node of the tree (there are 256 for 257 symbols), and [`DECODE`] says for each state and
//! nibble which state follows and which symbol, if any, was completed on the way. No code is
//! shorter than 5 bits, so a nibble completes at most one symbol. The table (12 KiB) is built
//! by `const fn` from [`CODES`] at compile time: nothing to generate, nothing to keep in step,
//! and a malformed code table fails the build (an index out of bounds in `tree`).
//!
//! Encoding packs each symbol's code into a 64-bit accumulator and writes whole bytes.

use super::huffman_table::CODES;
use super::HpackError;
use crate::buffer::Buf;

/// A child in [`tree`]: an internal node's number, or `LEAF | symbol`.
const LEAF: u16 = 0x8000;
/// The end-of-string symbol, which may only appear as padding (its prefix).
const EOS: u16 = 256;

/// The code's binary tree: `children[node][bit]`, node 0 the root. 0 means "no child", which
/// the root never is.
const fn tree() -> [[u16; 2]; 256] {
    let mut children = [[0u16; 2]; 256];
    let mut next_free: u16 = 1;
    let mut sym = 0;
    while sym < CODES.len() {
        let (code, len) = CODES[sym];
        let mut node = 0usize;
        let mut bit = len - 1;
        while bit > 0 {
            let b = ((code >> bit) & 1) as usize;
            if children[node][b] == 0 {
                children[node][b] = next_free;
                next_free += 1;
            }
            node = children[node][b] as usize;
            bit -= 1;
        }
        children[node][(code & 1) as usize] = LEAF | sym as u16;
        sym += 1;
    }
    children
}

/// A [`Step`] completed a symbol, in `sym`.
const SYM: u8 = 1;
/// A [`Step`] ran into EOS: a decoding error.
const FAIL: u8 = 2;

/// Where one nibble takes a state.
#[derive(Clone, Copy)]
struct Step {
    next: u8,
    sym: u8,
    flags: u8,
}

/// The decoder's transitions: `DECODE[state][nibble]`.
static DECODE: [[Step; 16]; 256] = steps();

/// A state in which the string may end: the bits since the last symbol are all ones, at
/// most 7 of them (the root included: no padding at all).
const ACCEPT: u8 = 1;
/// A state on the all-ones path from the root (EOS's prefix), at any depth.
const ONES: u8 = 2;

/// What each state means when the string ends in it.
static END: [u8; 256] = ends();

const fn steps() -> [[Step; 16]; 256] {
    let children = tree();
    let mut table = [[Step {
        next: 0,
        sym: 0,
        flags: 0,
    }; 16]; 256];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut step = Step {
                next: 0,
                sym: 0,
                flags: 0,
            };
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                let child = children[node][(nibble >> bit) & 1];
                if child & LEAF != 0 {
                    let sym = child & !LEAF;
                    if sym == EOS {
                        step.flags |= FAIL;
                    } else {
                        step.flags |= SYM;
                        step.sym = sym as u8;
                    }
                    node = 0;
                } else {
                    node = child as usize;
                }
            }
            step.next = node as u8;
            table[state][nibble] = step;
            nibble += 1;
        }
        state += 1;
    }
    table
}

const fn ends() -> [u8; 256] {
    let children = tree();
    let mut end = [0u8; 256];
    end[0] = ACCEPT | ONES;
    let mut node = 0;
    let mut depth = 1;
    // EOS is 30 ones: its prefixes of 1..=29 bits are internal nodes.
    while depth < 30 {
        node = children[node][1] as usize;
        end[node] = if depth <= 7 { ACCEPT | ONES } else { ONES };
        depth += 1;
    }
    end
}

/// Decodes `src`, appending to `out`; gives up (`Ok(false)`, `out` then holding a partial
/// string) once more than `limit` bytes would be appended, so that a string nobody will use
/// costs no memory.
pub(crate) fn decode(src: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<bool, HpackError> {
    let start = out.len();
    // Exactly what the string can decode to (no code is shorter than 5 bits) within the
    // limit: the caller's bound on `out` is its capacity too.
    out.reserve_exact(limit.min(src.len().saturating_mul(8) / 5));
    let mut state = 0usize;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0F] {
            let step = DECODE[state][usize::from(nibble)];
            if step.flags & FAIL != 0 {
                return Err(HpackError::HuffmanEos);
            }
            if step.flags & SYM != 0 {
                if out.len() - start >= limit {
                    return Ok(false);
                }
                out.push(step.sym);
            }
            state = usize::from(step.next);
        }
    }
    let end = END[state];
    if end & ACCEPT != 0 {
        Ok(true)
    } else if end & ONES != 0 {
        Err(HpackError::HuffmanPaddingTooLong)
    } else {
        Err(HpackError::HuffmanPaddingNotOnes)
    }
}

/// The length of `src` Huffman-coded, padding included.
pub(crate) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(CODES[usize::from(b)].1))
        .sum();
    bits.div_ceil(8)
}

/// Appends `src` Huffman-coded, padded with ones to a whole byte.
#[cfg(test)]
pub(crate) fn encode(src: &[u8], out: &mut Buf) {
    encode_len(src, encoded_len(src), out);
}

/// `src` Huffman-coded, padded with ones to a whole byte, when the caller already knows
/// `encoded_len(src)`, which it must be.
pub(super) fn encode_len(src: &[u8], len: usize, out: &mut Buf) {
    out.reserve(len);
    let dst = &mut out.spare_mut()[..len];
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    let mut at = 0;
    for &b in src {
        let (code, n) = CODES[usize::from(b)];
        // At most 7 bits wait in `acc`, plus at most 30: no bit of the pending ones is lost.
        acc = (acc << n) | u64::from(code);
        bits += u32::from(n);
        while bits >= 8 {
            bits -= 8;
            dst[at] = (acc >> bits) as u8;
            at += 1;
        }
    }
    if bits > 0 {
        dst[at] = ((acc << (8 - bits)) as u8) | (0xFF >> bits);
    }
    out.commit(len);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(src: &[u8]) -> Vec<u8> {
        let mut out = Buf::new();
        encode(src, &mut out);
        assert_eq!(out.len(), encoded_len(src));
        out.filled().to_vec()
    }

    fn dec(src: &[u8]) -> Result<Vec<u8>, HpackError> {
        let mut out = Vec::new();
        assert!(decode(src, &mut out, usize::MAX)?);
        Ok(out)
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The table is the appendix's: a complete prefix code (Kraft sum exactly 1), canonical
    /// (codes of one length consecutive, in symbol order, each length starting where the
    /// shorter ones left off), with the lengths and the first, last and EOS codes as printed.
    #[test]
    fn table_is_appendix_b() {
        let kraft: u64 = CODES.iter().map(|&(_, n)| 1u64 << (30 - n)).sum();
        assert_eq!(kraft, 1 << 30);
        let mut order: Vec<usize> = (0..257).collect();
        order.sort_by_key(|&s| (CODES[s].1, s));
        let (mut code, mut len) = (0u32, CODES[order[0]].1);
        for &s in &order {
            code <<= CODES[s].1 - len;
            len = CODES[s].1;
            assert_eq!(CODES[s].0, code, "symbol {s}");
            code += 1;
        }
        assert_eq!(CODES[b' ' as usize], (0x14, 6));
        assert_eq!(CODES[b'0' as usize], (0x0, 5));
        assert_eq!(CODES[b'a' as usize], (0x3, 5));
        assert_eq!(CODES[b'z' as usize], (0x7b, 7));
        assert_eq!(CODES[0], (0x1ff8, 13));
        assert_eq!(CODES[255], (0x3ffffee, 26));
        assert_eq!(CODES[256], (0x3fffffff, 30));
        let lengths: Vec<u8> = CODES.iter().map(|c| c.1).collect();
        assert_eq!(lengths.iter().filter(|&&n| n == 5).count(), 10);
        assert_eq!(lengths.iter().filter(|&&n| n == 30).count(), 4);
    }

    #[test]
    fn appendix_c_strings() {
        for (text, coded) in [
            ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
            ("no-cache", "a8eb 1064 9cbf"),
            ("custom-key", "25a8 49e9 5ba9 7d7f"),
            ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
            ("302", "6402"),
            ("private", "aec3 771a 4b"),
            ("Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"),
            ("https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"),
            ("gzip", "9bd9 ab"),
            (
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ),
        ] {
            assert_eq!(enc(text.as_bytes()), hex(coded), "{text}");
            assert_eq!(dec(&hex(coded)).unwrap(), text.as_bytes(), "{text}");
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(dec(&enc(&all)).unwrap(), all);
        for b in 0..=255u8 {
            for n in 1..=9 {
                let s = vec![b; n];
                assert_eq!(dec(&enc(&s)).unwrap(), s, "{b} x {n}");
            }
        }
        assert_eq!(dec(&[]).unwrap(), b"");
        assert_eq!(enc(b""), b"");
    }

    #[test]
    fn random_strings_round_trip() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 80) as usize;
            let s: Vec<u8> = (0..len)
                .map(|i| {
                    let r = x.rotate_left(i as u32 * 7) as u8;
                    // Half the strings are header-like text, half any byte.
                    if x & 1 == 0 {
                        b' ' + r % 95
                    } else {
                        r
                    }
                })
                .collect();
            assert_eq!(dec(&enc(&s)).unwrap(), s);
        }
    }

    #[test]
    fn eos_is_an_error() {
        // EOS (30 ones) then 2 bits of padding.
        assert_eq!(dec(&[0xFF, 0xFF, 0xFF, 0xFF]), Err(HpackError::HuffmanEos));
        // 'a' (00011), EOS, then 5 bits of padding.
        assert_eq!(
            dec(&[0x1F, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(HpackError::HuffmanEos)
        );
    }

    #[test]
    fn padding_longer_than_7_bits_is_an_error() {
        // A whole byte of ones, no symbol.
        assert_eq!(dec(&[0xFF]), Err(HpackError::HuffmanPaddingTooLong));
        // "0" (00000) then 11 bits of ones.
        assert_eq!(dec(&[0x07, 0xFF]), Err(HpackError::HuffmanPaddingTooLong));
        // Up to seven bits of padding are fine.
        assert_eq!(dec(&[0x07]).unwrap(), b"0");
    }

    #[test]
    fn padding_not_ones_is_an_error() {
        // "0" (00000) then 000: that is the start of another symbol, not padding.
        assert_eq!(dec(&[0x00]), Err(HpackError::HuffmanPaddingNotOnes));
        // "0" then 101.
        assert_eq!(dec(&[0x05]), Err(HpackError::HuffmanPaddingNotOnes));
    }

    #[test]
    fn decoding_stops_at_the_limit() {
        let coded = enc(b"hello world");
        let mut out = b"xy".to_vec();
        assert_eq!(decode(&coded, &mut out, 5), Ok(false));
        assert_eq!(decode(&coded, &mut out, 11), Ok(true));
    }

    /// `cargo test --lib huffman_timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn huffman_timing() {
        use std::time::Instant;
        let text = b"text/html; charset=utf-8 Mon, 23 Nov 2026 11:04:17 GMT \"5f3a-19c2b\"";
        let mut out = Buf::new();
        let n = 1_000_000;
        let t = Instant::now();
        for _ in 0..n {
            out.consume(out.len());
            encode(std::hint::black_box(text), &mut out);
        }
        let e = t.elapsed();
        let coded = out.filled().to_vec();
        let mut back = Vec::with_capacity(text.len());
        let t = Instant::now();
        for _ in 0..n {
            back.clear();
            decode(std::hint::black_box(&coded), &mut back, usize::MAX).unwrap();
        }
        let d = t.elapsed();
        println!(
            "{} bytes: encode {:.1} ns/byte, decode {:.1} ns/byte",
            text.len(),
            e.as_nanos() as f64 / (n * text.len()) as f64,
            d.as_nanos() as f64 / (n * text.len()) as f64,
        );
    }
}
