//! Conditional requests (RFC 9110 §13): the preconditions of a GET or HEAD evaluated against a
//! representation's validators, in the order of §13.2.2.
//!
//! 1. `If-Match` (strong comparison; `*` matches any current representation): no match, 412.
//! 2. Without `If-Match`, `If-Unmodified-Since`: modified since, 412.
//! 3. `If-None-Match` (weak comparison, lists, `*`): a match is 304 for GET and HEAD.
//! 4. Without `If-None-Match`, `If-Modified-Since`: not modified since, 304.
//! 5. `If-Range` (strong entity-tag, or exactly the Last-Modified date): no match, the Range
//!    header is ignored and the whole representation sent.
//!
//! A date that does not parse, or a field that holds more than one date, is ignored (§13.1.3);
//! so is a malformed entity-tag list (it matches nothing... but must not fail the request).

use super::date;
use super::fields::{FieldLines, Named};

/// What a representation is validated by.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// The representation's entity-tag, quotes included (`"5f1a-3e8"`), `W/` before a weak
    /// one (a body compressed on the fly): a weak tag matches only in the weak comparison of
    /// `If-None-Match`, never `If-Match` or `If-Range` (RFC 9110 §8.8.3.2).
    pub etag: &'a [u8],
    /// Last-Modified, in seconds since the epoch.
    pub last_modified: u64,
}

/// The precondition fields of one request (each the values of all its field lines, as found).
#[derive(Debug, Default, Clone, Copy)]
pub struct Preconditions<'a> {
    pub if_match: Option<Named<'a>>,
    pub if_none_match: Option<Named<'a>>,
    pub if_modified_since: Option<Named<'a>>,
    pub if_unmodified_since: Option<Named<'a>>,
    pub if_range: Option<Named<'a>>,
}

impl<'a> Preconditions<'a> {
    /// The precondition fields of a request.
    pub fn of(fields: FieldLines<'a>) -> Preconditions<'a> {
        Preconditions {
            if_match: fields.named(b"if-match"),
            if_none_match: fields.named(b"if-none-match"),
            if_modified_since: fields.named(b"if-modified-since"),
            if_unmodified_since: fields.named(b"if-unmodified-since"),
            if_range: fields.named(b"if-range"),
        }
    }
}

/// What the preconditions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer normally; `range` says whether a Range header may be honoured.
    Proceed { range: bool },
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions of a GET or HEAD (`is_get` tells which, for If-Range) against
/// a representation that exists.
pub fn evaluate(p: &Preconditions<'_>, v: &Validators<'_>, is_get: bool) -> Verdict {
    if let Some(fields) = p.if_match {
        if !list_matches(fields, v.etag, Comparison::Strong) {
            return Verdict::Failed;
        }
    } else if let Some(since) = p.if_unmodified_since.and_then(single_date) {
        if v.last_modified > since {
            return Verdict::Failed;
        }
    }
    if let Some(fields) = p.if_none_match {
        if list_matches(fields, v.etag, Comparison::Weak) {
            return Verdict::NotModified;
        }
    } else if let Some(since) = p.if_modified_since.and_then(single_date) {
        if v.last_modified <= since {
            return Verdict::NotModified;
        }
    }
    let range = match p.if_range {
        None => true,
        Some(fields) => is_get && if_range_matches(fields, v),
    };
    Verdict::Proceed { range }
}

fn single_date(fields: Named<'_>) -> Option<u64> {
    date::parse(fields.single()?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// True if the entity-tag list (or `*`) in these fields matches `etag`.
fn list_matches(fields: Named<'_>, etag: &[u8], how: Comparison) -> bool {
    let (our_weak, ours) = match etag.strip_prefix(b"W/") {
        Some(tag) => (true, opaque(tag)),
        None => (false, opaque(etag)),
    };
    fields.values().any(|value| {
        if value == b"*" {
            return true;
        }
        EntityTags(value).any(|tag| match tag {
            Some((weak, tag)) => tag == ours && (how == Comparison::Weak || !(weak || our_weak)),
            None => false,
        })
    })
}

/// If-Range: a strong entity-tag equal to ours, or a date exactly our Last-Modified.
fn if_range_matches(fields: Named<'_>, v: &Validators<'_>) -> bool {
    let Some(value) = fields.single() else {
        return false;
    };
    if value.starts_with(b"\"") {
        return value == v.etag;
    }
    if value.starts_with(b"W/") {
        return false; // a weak tag never matches (RFC 9110 §13.1.5)
    }
    date::parse(value) == Some(v.last_modified)
}

/// The opaque part of a quoted entity-tag.
fn opaque(etag: &[u8]) -> &[u8] {
    etag.strip_prefix(b"\"")
        .and_then(|t| t.strip_suffix(b"\""))
        .unwrap_or(etag)
}

/// The entity-tags of a `#entity-tag` list: `Some((weak, opaque))` each, or `None` for one
/// that does not parse (which matches nothing).
struct EntityTags<'a>(&'a [u8]);

impl<'a> Iterator for EntityTags<'a> {
    type Item = Option<(bool, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.0.trim_ascii_start();
        let rest = rest
            .strip_prefix(b",")
            .map_or(rest, |r| r.trim_ascii_start());
        if rest.is_empty() {
            return None;
        }
        let (weak, quoted) = match rest.strip_prefix(b"W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some(body) = quoted.strip_prefix(b"\"") else {
            // Skip to the next element; this one is malformed.
            let next = rest
                .iter()
                .position(|&b| b == b',')
                .map_or(rest.len(), |i| i + 1);
            self.0 = &rest[next..];
            return Some(None);
        };
        let Some(close) = body.iter().position(|&b| b == b'"') else {
            self.0 = b"";
            return Some(None);
        };
        self.0 = &body[close + 1..];
        Some(Some((weak, &body[..close])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &[u8] = b"\"abc\"";
    const MODIFIED: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";
    const BEFORE: &[u8] = b"Sat, 05 Nov 1994 08:49:37 GMT";
    const AFTER: &[u8] = b"Mon, 07 Nov 1994 08:49:37 GMT";

    /// Request fields, name and value.
    type Fields<'a> = &'a [(&'a str, &'a [u8])];

    fn verdict(fields: Fields<'_>, is_get: bool) -> Verdict {
        let mut head = b"GET /f HTTP/1.1\r\nHost: x\r\n".to_vec();
        for (name, value) in fields {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let v = Validators {
            etag: ETAG,
            last_modified: date::parse(MODIFIED).unwrap(),
        };
        evaluate(&Preconditions::of(FieldLines::Head(&head)), &v, is_get)
    }

    const GO: Verdict = Verdict::Proceed { range: true };
    const NO_RANGE: Verdict = Verdict::Proceed { range: false };

    /// Every row of RFC 9110 §13.2.2's precedence.
    #[test]
    fn precedence() {
        use Verdict::*;
        let rows: &[(Fields<'_>, Verdict)] = &[
            (&[], GO),
            // 1. If-Match, strong.
            (&[("If-Match", ETAG)], GO),
            (&[("If-Match", b"\"other\", \"abc\"")], GO),
            (&[("If-Match", b"*")], GO),
            (&[("If-Match", b"W/\"abc\"")], Failed),
            (&[("If-Match", b"\"other\"")], Failed),
            (&[("If-Match", b"\"other\""), ("If-Match", ETAG)], GO),
            // 2. If-Unmodified-Since, only without If-Match.
            (&[("If-Unmodified-Since", BEFORE)], Failed),
            (&[("If-Unmodified-Since", MODIFIED)], GO),
            (&[("If-Unmodified-Since", b"not a date")], GO),
            (&[("If-Match", ETAG), ("If-Unmodified-Since", BEFORE)], GO),
            // 3. If-None-Match, weak.
            (&[("If-None-Match", ETAG)], NotModified),
            (&[("If-None-Match", b"W/\"abc\"")], NotModified),
            (&[("If-None-Match", b"\"x\", W/\"abc\"")], NotModified),
            (&[("If-None-Match", b"*")], NotModified),
            (&[("If-None-Match", b"\"x\"")], GO),
            (&[("If-Match", b"\"x\""), ("If-None-Match", ETAG)], Failed),
            // 4. If-Modified-Since, only without If-None-Match.
            (&[("If-Modified-Since", MODIFIED)], NotModified),
            (&[("If-Modified-Since", AFTER)], NotModified),
            (&[("If-Modified-Since", BEFORE)], GO),
            (&[("If-Modified-Since", b"garbage")], GO),
            (
                &[
                    ("If-Modified-Since", MODIFIED),
                    ("If-Modified-Since", MODIFIED),
                ],
                GO,
            ),
            (
                &[("If-None-Match", b"\"x\""), ("If-Modified-Since", AFTER)],
                GO,
            ),
            // 5. If-Range.
            (&[("If-Range", ETAG)], GO),
            (&[("If-Range", b"\"x\"")], NO_RANGE),
            (&[("If-Range", b"W/\"abc\"")], NO_RANGE),
            (&[("If-Range", MODIFIED)], GO),
            (&[("If-Range", AFTER)], NO_RANGE),
            (&[("If-Range", b"junk")], NO_RANGE),
        ];
        for (fields, want) in rows {
            assert_eq!(verdict(fields, true), *want, "{fields:?}");
        }
        // If-Range applies to GET only.
        assert_eq!(verdict(&[("If-Range", ETAG)], false), NO_RANGE);
    }

    #[test]
    fn a_weak_current_tag_matches_only_weakly() {
        let check = |field: &str, value: &[u8]| {
            let mut head = format!("GET /f HTTP/1.1\r\n{field}: ").into_bytes();
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n\r\n");
            let v = Validators {
                etag: b"W/\"abc\"",
                last_modified: 0,
            };
            evaluate(&Preconditions::of(FieldLines::Head(&head)), &v, true)
        };
        assert_eq!(check("If-None-Match", b"W/\"abc\""), Verdict::NotModified);
        assert_eq!(check("If-None-Match", b"\"abc\""), Verdict::NotModified);
        assert_eq!(check("If-None-Match", b"\"abd\""), GO);
        assert_eq!(check("If-Match", b"\"abc\""), Verdict::Failed);
        assert_eq!(check("If-Match", b"W/\"abc\""), Verdict::Failed);
        assert_eq!(check("If-Match", b"*"), GO);
        assert_eq!(check("If-Range", b"W/\"abc\""), NO_RANGE);
    }

    #[test]
    fn entity_tag_lists() {
        let tags: Vec<_> = EntityTags(b" \"a\" , W/\"b\",bad, \"\" ").collect();
        assert_eq!(
            tags,
            vec![
                Some((false, &b"a"[..])),
                Some((true, &b"b"[..])),
                None,
                Some((false, &b""[..])),
            ]
        );
    }
}
