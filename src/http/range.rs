//! Range requests (RFC 9110 §14): a `Range: bytes=…` value resolved against a representation's
//! length, with checked arithmetic throughout.
//!
//! What is not a usable byte range set is ignored (the whole representation, 200): another
//! unit, bad syntax, a first position after the last, more than [`MAX_RANGES`] ranges, or ranges
//! that add up to more than the representation (the "Range DoS" of CVE-2011-3192). A set that
//! is valid but overlaps nothing is unsatisfiable (416). Overlapping or adjacent ranges are
//! coalesced, so a multipart answer never repeats a byte. And what answers carry: the
//! `Content-Range` value, and a `multipart/byteranges` boundary.

use super::digits::decimal;

/// Most ranges in one request before the header is ignored.
pub const MAX_RANGES: usize = 32;

/// Bytes `start..=end` of a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// What a Range header comes to for a representation of a given length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// Send the whole representation (no usable Range header).
    Whole,
    /// 206 with one range.
    One(Span),
    /// 206 multipart/byteranges: at least two ranges, sorted, disjoint, not adjacent.
    Many(Vec<Span>),
    /// 416 `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Resolves a Range header value against a representation of `len` bytes.
pub fn resolve(value: &[u8], len: u64) -> Ranges {
    let Some(set) = strip_unit(value) else {
        return Ranges::Whole;
    };
    let mut spans = [Span { start: 0, end: 0 }; MAX_RANGES];
    let mut count = 0;
    let mut valid_specs = 0;
    let mut requested: u64 = 0;
    for spec in set.split(|&b| b == b',') {
        let spec = spec.trim_ascii();
        if spec.is_empty() {
            continue; // empty list elements are ignored (RFC 9110 §5.6.1.2)
        }
        valid_specs += 1;
        if valid_specs > MAX_RANGES {
            return Ranges::Whole;
        }
        let Some(spec) = parse_spec(spec) else {
            return Ranges::Whole;
        };
        if let Some(span) = spec.clip(len) {
            requested = requested.saturating_add(span.len());
            spans[count] = span;
            count += 1;
        }
    }
    if valid_specs == 0 {
        return Ranges::Whole;
    }
    if count == 0 {
        return Ranges::Unsatisfiable;
    }
    if requested > len {
        return Ranges::Whole;
    }
    let spans = &mut spans[..count];
    spans.sort_unstable_by_key(|s| s.start);
    let mut merged: Vec<Span> = Vec::with_capacity(count);
    for &span in spans.iter() {
        match merged.last_mut() {
            // Overlapping or adjacent: one part.
            Some(last) if span.start <= last.end.saturating_add(1) => {
                last.end = last.end.max(span.end);
            }
            _ => merged.push(span),
        }
    }
    if merged.len() == 1 {
        Ranges::One(merged[0])
    } else {
        Ranges::Many(merged)
    }
}

/// The range set after `bytes=` (the unit is case-insensitive), if the unit is bytes.
fn strip_unit(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let eq = value.iter().position(|&b| b == b'=')?;
    value[..eq]
        .eq_ignore_ascii_case(b"bytes")
        .then(|| &value[eq + 1..])
}

/// One range-spec as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-[last]`; positions beyond 64 bits saturate (a last position that large still
    /// means "to the end").
    From { first: u64, last: Option<u64> },
    /// `-suffix`: the last `suffix` bytes.
    Suffix(u64),
}

impl Spec {
    /// The bytes it selects of a representation of `len` bytes, if any.
    fn clip(self, len: u64) -> Option<Span> {
        match self {
            Spec::From { first, last } => {
                if first >= len {
                    return None;
                }
                let end = last.map_or(len - 1, |l| l.min(len - 1));
                Some(Span { start: first, end })
            }
            Spec::Suffix(0) => None,
            Spec::Suffix(n) => (len > 0).then(|| Span {
                start: len.saturating_sub(n),
                end: len - 1,
            }),
        }
    }
}

fn parse_spec(spec: &[u8]) -> Option<Spec> {
    let dash = spec.iter().position(|&b| b == b'-')?;
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    if first.is_empty() {
        return Some(Spec::Suffix(number(last)?));
    }
    let first = number(first)?;
    let last = if last.is_empty() {
        None
    } else {
        Some(number(last)?)
    };
    // A last position before the first makes the spec, and so the header, invalid.
    if last.is_some_and(|l| l < first) {
        return None;
    }
    Some(Spec::From { first, last })
}

/// 1*DIGIT, saturating at u64::MAX.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Writes `bytes first-last/len` (or `bytes */len` for an unsatisfiable range) into `out`;
/// returns its length (at most 6 + 3 × 20 + 2 bytes).
pub fn content_range(out: &mut [u8; 64], span: Option<Span>, len: u64) -> usize {
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(b"bytes ");
    match span {
        Some(s) => {
            put(decimal(s.start, &mut [0; 20]));
            put(b"-");
            put(decimal(s.end, &mut [0; 20]));
        }
        None => put(b"*"),
    }
    put(b"/");
    put(decimal(len, &mut [0; 20]));
    at
}

/// A multipart boundary: 20 random hex digits, so a file's bytes cannot be guessed to
/// contain it.
pub fn boundary() -> [u8; 20] {
    crate::rand::hex::<20>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_differ() {
        let (a, b) = (boundary(), boundary());
        assert_ne!(a, b);
        assert!(a.iter().all(u8::is_ascii_hexdigit));
    }

    #[test]
    fn content_range_values() {
        let mut out = [0u8; 64];
        let n = content_range(&mut out, Some(Span { start: 0, end: 9 }), 100);
        assert_eq!(&out[..n], b"bytes 0-9/100");
        let n = content_range(&mut out, None, 100);
        assert_eq!(&out[..n], b"bytes */100");
    }

    fn one(start: u64, end: u64) -> Ranges {
        Ranges::One(Span { start, end })
    }

    #[test]
    fn single_ranges() {
        assert_eq!(resolve(b"bytes=0-4", 10), one(0, 4));
        assert_eq!(resolve(b"bytes=5-", 10), one(5, 9));
        assert_eq!(resolve(b"bytes=-3", 10), one(7, 9));
        assert_eq!(
            resolve(b"bytes=-30", 10),
            one(0, 9),
            "a suffix longer than the file"
        );
        assert_eq!(resolve(b"bytes=8-30", 10), one(8, 9), "clipped at the end");
        assert_eq!(resolve(b"BYTES=2-3", 10), one(2, 3));
        assert_eq!(
            resolve(b"bytes=0-4,", 10),
            one(0, 4),
            "an empty element is ignored"
        );
        assert_eq!(resolve(b"bytes=, ,0-4", 10), one(0, 4));
        assert_eq!(
            resolve(b"bytes=3-99999999999999999999999999", 10),
            one(3, 9),
            "a last position beyond 64 bits still means to the end"
        );
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(resolve(b"bytes=10-", 10), Ranges::Unsatisfiable);
        assert_eq!(resolve(b"bytes=10-20, 30-40", 10), Ranges::Unsatisfiable);
        assert_eq!(resolve(b"bytes=-0", 10), Ranges::Unsatisfiable);
        assert_eq!(resolve(b"bytes=0-0", 0), Ranges::Unsatisfiable);
        assert_eq!(resolve(b"bytes=-5", 0), Ranges::Unsatisfiable);
        assert_eq!(
            resolve(b"bytes=99999999999999999999999-", 10),
            Ranges::Unsatisfiable
        );
    }

    #[test]
    fn ignored() {
        for value in [
            &b""[..],
            b"bytes",
            b"bytes=",
            b"bytes=,",
            b"items=0-4",
            b"bytes=abc",
            b"bytes=5-2",
            b"bytes=0-4;x",
            b"bytes=1-2-3",
            b"bytes= -",
            b"bytes=+1-2",
            b"bytes = 2-3",
        ] {
            assert_eq!(
                resolve(value, 10),
                Ranges::Whole,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
        let many = format!("bytes={}", "0-0,".repeat(MAX_RANGES + 1));
        assert_eq!(
            resolve(many.as_bytes(), 1000),
            Ranges::Whole,
            "too many ranges"
        );
        // Overlapping ranges adding up to more than the file: CVE-2011-3192.
        assert_eq!(resolve(b"bytes=0-9,0-9", 10), Ranges::Whole);
        assert_eq!(resolve(b"bytes=0-5,1-6", 10), Ranges::Whole);
    }

    #[test]
    fn several_are_sorted_and_coalesced() {
        let span = |start, end| Span { start, end };
        assert_eq!(
            resolve(b"bytes=6-7,0-1", 10),
            Ranges::Many(vec![span(0, 1), span(6, 7)])
        );
        assert_eq!(resolve(b"bytes=0-1,2-3", 10), one(0, 3), "adjacent");
        assert_eq!(resolve(b"bytes=0-2,1-3", 10), one(0, 3), "overlapping");
        assert_eq!(
            resolve(b"bytes=0-0,-1,50-60", 10),
            Ranges::Many(vec![span(0, 0), span(9, 9)]),
            "unsatisfiable ones are dropped"
        );
    }

    /// Against a model: every byte a resolution selects is one the header asked for, in order,
    /// each once, and nothing is out of the representation.
    #[test]
    fn property_against_a_model() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..20_000 {
            let len = next(40);
            let count = 1 + next(4);
            let mut wanted = vec![false; len as usize];
            let mut parts = Vec::new();
            let mut any = false;
            for _ in 0..count {
                let (a, b) = (next(50), next(50));
                match next(3) {
                    0 => {
                        let (first, last) = (a.min(b), a.max(b));
                        parts.push(format!("{first}-{last}"));
                        for i in first..=last.min(len.saturating_sub(1)) {
                            if i < len {
                                wanted[i as usize] = true;
                                any = true;
                            }
                        }
                    }
                    1 => {
                        parts.push(format!("{a}-"));
                        for i in a..len {
                            wanted[i as usize] = true;
                            any = true;
                        }
                    }
                    _ => {
                        parts.push(format!("-{a}"));
                        for i in len.saturating_sub(a)..len {
                            if a > 0 {
                                wanted[i as usize] = true;
                                any = true;
                            }
                        }
                    }
                }
            }
            let value = format!("bytes={}", parts.join(","));
            match resolve(value.as_bytes(), len) {
                Ranges::Unsatisfiable => assert!(!any, "{value} on {len}"),
                Ranges::Whole => {} // allowed: too much asked for
                Ranges::One(s) => {
                    let got: Vec<bool> = (0..len).map(|i| i >= s.start && i <= s.end).collect();
                    assert_eq!(got, wanted, "{value} on {len}");
                }
                Ranges::Many(spans) => {
                    assert!(spans.windows(2).all(|w| w[0].end + 1 < w[1].start));
                    let got: Vec<bool> = (0..len)
                        .map(|i| spans.iter().any(|s| i >= s.start && i <= s.end))
                        .collect();
                    assert_eq!(got, wanted, "{value} on {len}");
                }
            }
        }
    }
}
