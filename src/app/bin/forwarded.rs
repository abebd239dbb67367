//! The two ways proxies say whom they forwarded for, parsed for `/inspect`:
//! `X-Forwarded-For` (a de-facto comma-separated chain of addresses) and `Forwarded`
//! (RFC 7239: a list of elements, each a `;`-separated list of `name=value` pairs).
//!
//! Both are read leniently, as a debugging aid should: what a proxy got wrong is shown as far
//! as it can be made sense of, never refused, and never a panic. Several field lines of one
//! name are one list (RFC 9110 §5.3), in the order they arrived. Both are bounded by the head
//! they come from (at most `--max-header-bytes`).

use std::borrow::Cow;

/// The hops of `X-Forwarded-For` field values, in order: each comma-separated entry with the
/// spaces and tabs around it trimmed; empty entries (`a,,b`, a trailing comma) are dropped, as
/// RFC 9110 §5.6.1 says a list's recipient must. Entries are not checked as addresses: a
/// proxy that writes `unknown` or an address with a port is shown doing so.
pub(crate) fn x_forwarded_for<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<&'a [u8]> {
    values
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim_ows)
        .filter(|hop| !hop.is_empty())
        .collect()
}

/// One `Forwarded` element: its pairs in order, names lower-cased (they are case-insensitive,
/// RFC 7239 §4), values with their quotes and backslash escapes removed.
pub(crate) type Element<'a> = Vec<(Cow<'a, [u8]>, Cow<'a, [u8]>)>;

/// The elements of `Forwarded` field values, in order.
///
/// Lenient where RFC 7239 §4 is strict: a value that should have been quoted (`for=[::1]:80`,
/// `for=1.2.3.4:5`) runs to the next `;`, `,` or space; an unterminated quoted string runs to
/// the end of its field line; a pair without `=` or with a name that is not a token is
/// dropped, as is a repeated name within one element (the first one stands); elements left
/// with no pairs are dropped. Bytes that follow a value before the next separator are
/// skipped.
pub(crate) fn forwarded<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<Element<'a>> {
    let mut elements = Vec::new();
    for value in values {
        let mut rest = value;
        let mut element = Element::new();
        loop {
            let (pair, after, end) = next_pair(rest);
            if let Some((name, value)) = pair {
                if !element.iter().any(|(n, _)| **n == *name) {
                    element.push((name, value));
                }
            }
            rest = after;
            match end {
                End::Pair => {}
                End::Element | End::Line => {
                    if !element.is_empty() {
                        elements.push(std::mem::take(&mut element));
                    }
                    if end == End::Line {
                        break;
                    }
                }
            }
        }
    }
    elements
}

/// What ended a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// `;`: another pair of the same element follows.
    Pair,
    /// `,`: another element follows.
    Element,
    /// The end of the field line.
    Line,
}

/// A name-value pair taken from the start of `input` (`None` if malformed), the input after
/// the separator that ended it, and which separator that was.
#[allow(clippy::type_complexity)]
fn next_pair(input: &[u8]) -> (Option<(Cow<'_, [u8]>, Cow<'_, [u8]>)>, &[u8], End) {
    let input = trim_start_ows(input);
    let name_end = input
        .iter()
        .position(|&b| matches!(b, b'=' | b';' | b','))
        .unwrap_or(input.len());
    let name = trim_ows(&input[..name_end]);
    let valid_name = !name.is_empty() && name.iter().all(|&b| is_tchar(b));
    if input.get(name_end) != Some(&b'=') {
        // No value: the pair is dropped, and `skip_to_separator` finds what ended it.
        let (rest, end) = skip_to_separator(&input[name_end..]);
        return (None, rest, end);
    }
    let after_eq = trim_start_ows(&input[name_end + 1..]);
    let (value, after_value) = match after_eq.first() {
        Some(b'"') => quoted(&after_eq[1..]),
        _ => {
            let len = after_eq
                .iter()
                .position(|&b| matches!(b, b';' | b',' | b' ' | b'\t'))
                .unwrap_or(after_eq.len());
            (Cow::Borrowed(&after_eq[..len]), &after_eq[len..])
        }
    };
    let (rest, end) = skip_to_separator(after_value);
    let pair = valid_name.then(|| (lower(name), value));
    (pair, rest, end)
}

/// A quoted string's content (opening quote already taken), its escapes undone, and the input
/// after the closing quote (or nothing, if it never closes).
fn quoted(input: &[u8]) -> (Cow<'_, [u8]>, &[u8]) {
    for (i, &b) in input.iter().enumerate() {
        match b {
            // Rare: only then is the value copied.
            b'\\' => return unescape(input),
            b'"' => return (Cow::Borrowed(&input[..i]), &input[i + 1..]),
            _ => {}
        }
    }
    (Cow::Borrowed(input), &[])
}

/// A quoted string with backslash escapes (`\"`, `\\`): copied, each escape undone.
fn unescape(input: &[u8]) -> (Cow<'_, [u8]>, &[u8]) {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.iter().enumerate();
    while let Some((i, &b)) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some((_, &escaped)) => out.push(escaped),
                None => break,
            },
            b'"' => return (Cow::Owned(out), &input[i + 1..]),
            b => out.push(b),
        }
    }
    (Cow::Owned(out), &[])
}

/// Skips to just past the next `;` or `,` (outside of anything: values are already taken).
fn skip_to_separator(input: &[u8]) -> (&[u8], End) {
    match input.iter().position(|&b| b == b';' || b == b',') {
        Some(i) if input[i] == b';' => (&input[i + 1..], End::Pair),
        Some(i) => (&input[i + 1..], End::Element),
        None => (&[], End::Line),
    }
}

fn lower(name: &[u8]) -> Cow<'_, [u8]> {
    if name.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

fn is_tchar(b: u8) -> bool {
    crate::http::chars::is_tchar(b)
}

fn trim_start_ows(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    &s[start..]
}

/// Optional whitespace (RFC 9110 §5.6.3) trimmed from both ends.
fn trim_ows(s: &[u8]) -> &[u8] {
    let s = trim_start_ows(s);
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> Vec<String> {
        x_forwarded_for(values.iter().map(|v| v.as_bytes()))
            .into_iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect()
    }

    /// Elements as `name=value` strings joined with `;`, for compact expectations.
    fn fwd(values: &[&str]) -> Vec<String> {
        forwarded(values.iter().map(|v| v.as_bytes()))
            .into_iter()
            .map(|element| {
                let pairs: Vec<String> = element
                    .iter()
                    .map(|(n, v)| {
                        format!(
                            "{}={}",
                            String::from_utf8_lossy(n),
                            String::from_utf8_lossy(v)
                        )
                    })
                    .collect();
                pairs.join(";")
            })
            .collect()
    }

    #[test]
    fn x_forwarded_for_chains() {
        assert_eq!(
            xff(&["203.0.113.7, 10.0.0.1", "10.0.0.2"]),
            ["203.0.113.7", "10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(xff(&["  a ,\tb\t"]), ["a", "b"]);
        // Empty entries are not hops; odd ones are shown as they are.
        assert_eq!(xff(&[",,a,, ,b,"]), ["a", "b"]);
        assert_eq!(xff(&["unknown, [::1]:80"]), ["unknown", "[::1]:80"]);
        assert!(xff(&[""]).is_empty());
        assert!(xff(&[]).is_empty());
        assert!(xff(&[",", " , ,"]).is_empty());
    }

    #[test]
    fn forwarded_as_rfc_7239_writes_it() {
        // RFC 7239 §4 and §7.1's examples.
        assert_eq!(fwd(&["for=\"_gazonk\""]), ["for=_gazonk"], "quotes removed");
        assert_eq!(
            fwd(&["For=\"[2001:db8:cafe::17]:4711\""]),
            ["for=[2001:db8:cafe::17]:4711"],
            "names lower-cased"
        );
        assert_eq!(
            fwd(&["for=192.0.2.60;proto=http;by=203.0.113.43"]),
            ["for=192.0.2.60;proto=http;by=203.0.113.43"]
        );
        assert_eq!(
            fwd(&["for=192.0.2.43, for=198.51.100.17"]),
            ["for=192.0.2.43", "for=198.51.100.17"]
        );
        // Several field lines are one list.
        assert_eq!(fwd(&["for=a", "for=b;by=c"]), ["for=a", "for=b;by=c"]);
        // Escapes, and separators inside quotes.
        assert_eq!(
            fwd(&[r#"for="a\"b\\c";host="x;y,z""#]),
            [r#"for=a"b\c;host=x;y,z"#]
        );
        assert_eq!(fwd(&["for=\"\""]), ["for="], "an empty quoted value");
        assert_eq!(
            fwd(&[" for = a ; by = b "]),
            ["for=a;by=b"],
            "spaces around"
        );
    }

    #[test]
    fn malformed_forwarded_is_read_as_far_as_it_goes() {
        // Unquoted values that needed quotes run to the next separator.
        assert_eq!(
            fwd(&["for=[::1]:80;proto=https"]),
            ["for=[::1]:80;proto=https"]
        );
        // An unterminated quote takes the rest of its line, and only its line.
        assert_eq!(fwd(&["for=\"abc;by=x", "for=y"]), ["for=abc;by=x", "for=y"]);
        assert_eq!(fwd(&["for=\"ab\\"]), ["for=ab"], "a trailing backslash");
        // Pairs without `=`, names that are not tokens, repeated names: dropped.
        assert_eq!(fwd(&["for;by=b"]), ["by=b"]);
        assert_eq!(fwd(&["f o=1;by=b"]), ["by=b"]);
        assert_eq!(fwd(&["=1;by=b"]), ["by=b"]);
        assert_eq!(fwd(&["for=a;FOR=b"]), ["for=a"]);
        // Junk after a value is skipped to the next separator.
        assert_eq!(fwd(&["for=\"a\"junk;by=b"]), ["for=a;by=b"]);
        assert_eq!(fwd(&["for=a b c, for=d"]), ["for=a", "for=d"]);
        // Empty elements and lines give nothing.
        assert!(fwd(&["", ",,;;", " ; , "]).is_empty());
        assert!(fwd(&["\"", "=", "\\", "\"\"\"", "for", ";=;"]).is_empty());
        // Arbitrary bytes never panic.
        for bytes in [
            &b"\xff=\xfe"[..],
            b"for=\xff\"",
            b"a=\"\\\xff",
            b"\x00=\x00;",
        ] {
            let _ = forwarded(std::iter::once(bytes));
            let _ = x_forwarded_for(std::iter::once(bytes));
        }
    }
}
