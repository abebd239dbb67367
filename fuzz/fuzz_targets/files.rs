//! The parsers of file serving on arbitrary bytes: URL paths, Range values, precondition and
//! Accept-Encoding fields, HTTP-dates. No panic, and each result keeps its invariants:
//! a resolved path names something beneath the root and resolves to itself again; ranges lie
//! within the file, sorted, disjoint, never more bytes than the file; a parsed date formats back
//! to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefork_server::app::files::path;
use prefork_server::http::conditional::{self, Preconditions, Validators};
use prefork_server::http::date;
use prefork_server::http::encoding::Accepted;
use prefork_server::http::range::{self, Ranges};
use prefork_server::http::FieldLines;

fuzz_target!(|input: &[u8]| {
    // Up to four fields separated by 0xFF: a path, a Range value, a precondition value, a
    // file length.
    let mut fields = input.split(|&b| b == 0xFF);
    let raw_path = fields.next().unwrap_or_default();
    let range_value = fields.next().unwrap_or_default();
    let condition = fields.next().unwrap_or_default();
    let len = fields.next().map_or(0, |b| {
        b.iter()
            .fold(0u64, |n, &d| n.wrapping_mul(31).wrapping_add(u64::from(d)))
    }) % (1 << 40);

    let mut target = b"/".to_vec();
    target.extend_from_slice(raw_path);
    let mut out = Vec::new();
    if let Ok(resolved) = path::resolve(&target, &mut out) {
        assert!(!out.starts_with(b"/") && !out.ends_with(b"/"));
        assert!(!out.contains(&0));
        for segment in out.split(|&b| b == b'/') {
            assert!(
                out.is_empty() || !segment.is_empty(),
                "an empty segment in {out:?}"
            );
            assert!(
                segment != b"." && segment != b"..",
                "a dot-segment in {out:?}"
            );
        }
        assert_eq!(
            resolved.hidden,
            out.split(|&b| b == b'/').any(|s| s.first() == Some(&b'.'))
        );
        // Encoded again and resolved again, the same path.
        let mut again_target = b"/".to_vec();
        path::encode_into(&out, &mut again_target);
        let mut again = Vec::new();
        path::resolve(&again_target, &mut again).expect("an encoded path resolves");
        assert_eq!(again, out);
    }

    match range::resolve(range_value, len) {
        Ranges::Whole | Ranges::Unsatisfiable => {}
        Ranges::One(s) => assert!(s.start <= s.end && s.end < len),
        Ranges::Many(spans) => {
            assert!(spans.len() >= 2 && spans.len() <= range::MAX_RANGES);
            assert!(spans.iter().all(|s| s.start <= s.end && s.end < len));
            assert!(spans.windows(2).all(|w| w[0].end + 1 < w[1].start));
            assert!(spans.iter().map(|s| s.len()).sum::<u64>() <= len);
        }
    }

    if let Some(t) = date::parse(condition) {
        assert_eq!(date::parse(&date::format(t)), Some(t));
    }
    let mut head = b"GET /f HTTP/1.1\r\n".to_vec();
    for name in [
        "If-Match",
        "If-None-Match",
        "If-Modified-Since",
        "If-Unmodified-Since",
        "If-Range",
        "Accept-Encoding",
    ] {
        if condition.contains(&b'\n') || condition.contains(&b'\r') {
            break;
        }
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(condition);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let validators = Validators {
        etag: b"\"5f-1a\"",
        last_modified: 784_111_777,
    };
    let fields = FieldLines::Head(&head);
    let _ = conditional::evaluate(&Preconditions::of(fields), &validators, true);
    let _ = Accepted::of(fields.named(b"accept-encoding")).choose([true, true, true]);
});
