//! The httpbin form parsers on arbitrary bytes: urlencoded pairs, percent-decoding, media
//! types and their parameters, multipart/form-data, cookies.
//!
//! The first byte steers: its low 7 bits split the rest into a head (a multipart boundary, a
//! parameter name) and a tail (a body, a header value); its top bit is `plus_is_space`. Every
//! parser runs on every input. Asserts: no panic; decoding never grows; urlencoded pairs are
//! what splitting and decoding each pair gives, `sort_by_name` is a stable sort and `groups`
//! partitions it; multipart parts lie inside the body, in order, each just before a delimiter,
//! and a parsed body written out again parses to the same parts; forms built from the input
//! (encoded as browsers do) parse back to what was encoded; cookies hold no `;` and are trimmed.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use prefork_server::app::bin::forms::{self, Pairs, Part};
use prefork_server::http::percent;

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let (head, tail) = data.split_at(usize::from(control & 0x7f).min(data.len()));
    let plus_is_space = control & 0x80 != 0;

    decode(data, plus_is_space);
    urlencoded(data);
    media_type_and_param(tail, head);
    multipart(tail, head, usize::from(control % 7));
    multipart(data, b"AaB03x", 1000);
    cookies(data);
    round_trips(data, plus_is_space);
});

const UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn decode(data: &[u8], plus_is_space: bool) {
    let mut out = vec![b'x'];
    percent::percent_decode(data, plus_is_space, &mut out);
    assert_eq!(out[0], b'x', "appends");
    let out = &out[1..];
    assert!(out.len() <= data.len());
    if !data.contains(&b'%') && !(plus_is_space && data.contains(&b'+')) {
        assert_eq!(out, data);
    }
    // Every byte escaped decodes back to itself, whatever the case of the hex digits.
    let mut encoded = Vec::with_capacity(3 * data.len());
    for (i, &b) in data.iter().enumerate() {
        let digits = if i % 2 == 0 {
            UPPER
        } else {
            b"0123456789abcdef"
        };
        encoded.extend_from_slice(&[
            b'%',
            digits[usize::from(b >> 4)],
            digits[usize::from(b & 15)],
        ]);
    }
    let mut again = Vec::new();
    percent::percent_decode(&encoded, plus_is_space, &mut again);
    assert_eq!(again, data);
}

fn urlencoded(data: &[u8]) {
    let mut pairs = Pairs::new();
    forms::parse_urlencoded(data, &mut pairs);
    if !data.is_empty() && !data.iter().any(|b| b"%+&=".contains(b)) {
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs.get(0), (data, &b""[..]));
    }
    // The reference: each non-empty `&` piece split at its first `=`, each side decoded.
    let decode = |s: &[u8]| {
        let mut out = Vec::new();
        percent::percent_decode(s, true, &mut out);
        out
    };
    let mut reference: Vec<(Vec<u8>, Vec<u8>)> = data
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(eq) => (decode(&p[..eq]), decode(&p[eq + 1..])),
            None => (decode(p), Vec::new()),
        })
        .collect();
    assert_eq!(pairs.len(), reference.len());
    assert_eq!(pairs.is_empty(), reference.is_empty());
    assert!(pairs
        .iter()
        .eq(reference.iter().map(|(n, v)| (&n[..], &v[..]))));
    if let Some((name, value)) = reference.first() {
        assert_eq!(pairs.first(name), Some(&value[..]));
    }

    reference.sort_by(|a, b| a.0.cmp(&b.0)); // stable
    pairs.sort_by_name();
    assert!(pairs
        .iter()
        .eq(reference.iter().map(|(n, v)| (&n[..], &v[..]))));
    let mut flat = Vec::new();
    let mut previous: Option<&[u8]> = None;
    for (i, (name, values)) in pairs.groups().enumerate() {
        assert!(previous.is_none_or(|p| p < name), "names strictly increase");
        assert!(values.len() >= 1);
        if i < 16 {
            assert_eq!(pairs.first(name), values.clone().next());
        }
        flat.extend(values.map(|v| (name, v)));
        previous = Some(name);
    }
    assert!(flat.into_iter().eq(pairs.iter()));

    // Cleared and refilled, the same pairs in arrival order again.
    pairs.clear();
    assert!(pairs.is_empty() && pairs.groups().next().is_none());
    forms::parse_urlencoded(data, &mut pairs);
    assert_eq!(pairs.len(), reference.len());
    if let Some((name, value)) = data.split(|&b| b == b'&').find(|p| !p.is_empty()).map(|p| {
        let eq = p.iter().position(|&b| b == b'=').unwrap_or(p.len());
        (
            decode(&p[..eq]),
            decode(p.get(eq + 1..).unwrap_or_default()),
        )
    }) {
        assert_eq!(pairs.get(0), (&name[..], &value[..]));
    }
}

fn media_type_and_param(value: &[u8], name: &[u8]) {
    let media_type = forms::media_type(value);
    assert!(!media_type.contains(&b';'));
    assert_eq!(media_type, media_type.trim_ascii());
    assert!(inside(media_type, value));
    for name in [name, b"boundary", b"name", b"filename", b"charset"] {
        if let Some(found) = forms::param(value, name) {
            assert!(!name.is_empty());
            assert!(found.len() < value.len());
            if let Cow::Borrowed(b) = found {
                assert!(inside(b, value));
            }
        }
    }
}

fn multipart(body: &[u8], boundary: &[u8], max_parts: usize) {
    let Ok(parts) = forms::parse_multipart(body, boundary, max_parts) else {
        return;
    };
    assert!(parts.len() <= max_parts);
    let mut previous_end = 0;
    for part in &parts {
        let start = offset(part.data, body);
        let end = start + part.data.len();
        assert!(
            start >= previous_end && end <= body.len(),
            "in order, inside the body"
        );
        let delimiter = [&b"\r\n--"[..], boundary].concat();
        assert!(
            body[end..].starts_with(&delimiter),
            "data ends at a delimiter"
        );
        for field in [
            part.content_type,
            borrowed(&part.name),
            part.filename.as_ref().and_then(borrowed),
        ] {
            if let Some(field) = field {
                assert!(offset(field, body) >= previous_end && offset(field, body) < start);
            }
        }
        previous_end = end;
    }
    // Written out again, the same parts.
    let again = write_multipart(&parts, boundary);
    assert_eq!(
        forms::parse_multipart(&again, boundary, parts.len()),
        Ok(parts)
    );
}

fn cookies(data: &[u8]) {
    let mut count = 0;
    forms::parse_cookies(data, |name, value| {
        count += 1;
        assert!(!name.is_empty() && name == name.trim_ascii());
        assert!(!name.contains(&b';') && !value.contains(&b';') && !name.contains(&b'='));
        assert!(inside(name, data) && inside(value, data));
    });
    assert!(count <= data.iter().filter(|&&b| b == b';').count() + 1);
}

/// Forms built from the input, encoded as clients do, parse back to what was encoded.
fn round_trips(data: &[u8], plus_is_space: bool) {
    // Pieces separated by 0xFF, taken two at a time as a name and a value.
    let pieces: Vec<&[u8]> = data.split(|&b| b == 0xFF).collect();
    let pairs: Vec<(&[u8], &[u8])> = pieces
        .chunks(2)
        .map(|c| (c[0], c.get(1).copied().unwrap_or_default()))
        .collect();

    let mut query = Vec::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            query.push(b'&');
        }
        form_encode(name, plus_is_space, &mut query);
        query.push(b'=');
        form_encode(value, plus_is_space, &mut query);
    }
    let mut parsed = Pairs::new();
    forms::parse_urlencoded(&query, &mut parsed);
    assert!(parsed.iter().eq(pairs.iter().copied()));

    // Names as a browser may send them: no control characters but HTAB; `"` and `\` escaped.
    let names: Vec<Vec<u8>> = pairs
        .iter()
        .map(|(n, _)| {
            n.iter()
                .copied()
                .filter(|&b| b == b'\t' || (b >= b' ' && b != 0x7f))
                .collect()
        })
        .collect();
    let boundary: &[u8] = b"----RoundTripBoundary7MA4YWxkTrZu0gW";
    if data.windows(boundary.len()).any(|w| w == boundary) {
        return;
    }
    let parts: Vec<Part> = pairs
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, ((_, data), name))| Part {
            name: Cow::Borrowed(&name[..]),
            filename: (i % 2 == 1).then(|| Cow::Borrowed(&name[..])),
            content_type: (i % 3 == 2).then_some(&b"application/octet-stream"[..]),
            data,
        })
        .collect();
    let body = write_multipart(&parts, boundary);
    assert_eq!(
        forms::parse_multipart(&body, boundary, parts.len()),
        Ok(parts)
    );

    let mut disposition = b"form-data; x=\"a;b=\\\"c\"; name=".to_vec();
    quote(names.first().map_or(&b""[..], |n| &n[..]), &mut disposition);
    let found = forms::param(&disposition, b"NAME").expect("a quoted name");
    assert_eq!(&found[..], names.first().map_or(&b""[..], |n| &n[..]));
}

/// A body of `parts` as a browser writes it, every name and filename quoted.
fn write_multipart(parts: &[Part], boundary: &[u8]) -> Vec<u8> {
    let mut body = b"preamble\r\n".to_vec();
    for part in parts {
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary);
        body.extend_from_slice(b"\r\nContent-Disposition: form-data; name=");
        quote(&part.name, &mut body);
        if let Some(filename) = &part.filename {
            body.extend_from_slice(b"; filename=");
            quote(filename, &mut body);
        }
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(b"\r\nContent-Type: ");
            body.extend_from_slice(content_type);
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(part.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary);
    body.extend_from_slice(b"--\r\nepilogue");
    body
}

fn quote(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// As a browser encodes a form field: unreserved bytes kept, a space as `+` (or `%20`).
fn form_encode(s: &[u8], space_as_plus: bool, out: &mut Vec<u8>) {
    for &b in s {
        if b.is_ascii_alphanumeric() || b"-._~*".contains(&b) {
            out.push(b);
        } else if b == b' ' && space_as_plus {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', UPPER[usize::from(b >> 4)], UPPER[usize::from(b & 15)]]);
        }
    }
}

fn borrowed<'a>(c: &Cow<'a, [u8]>) -> Option<&'a [u8]> {
    match c {
        Cow::Borrowed(b) => Some(b),
        Cow::Owned(_) => None,
    }
}

/// Where `part` starts in `whole`; panics if it does not lie inside it.
fn offset(part: &[u8], whole: &[u8]) -> usize {
    let start = (part.as_ptr() as usize)
        .checked_sub(whole.as_ptr() as usize)
        .expect("inside");
    assert!(start + part.len() <= whole.len(), "inside");
    start
}

fn inside(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}
