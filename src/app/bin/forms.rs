//! Parsers for what clients send to the httpbin routes, each over a complete in-memory input:
//! `application/x-www-form-urlencoded` (query strings and form bodies), `multipart/form-data`
//! (RFC 7578 over RFC 2046's multipart syntax), media-type parameters (RFC 9110 §5.6.6) and
//! the `Cookie` header (RFC 6265 §4.2.1, parsed leniently as browsers and Python do).
//!
//! All of them are pure functions of their input: no I/O, no `unsafe`, no panic on any bytes
//! (`fuzz/fuzz_targets/forms.rs` checks this), results borrowed from the input where they can
//! be and every buffer bounded by the input's length. Each runs in time linear in its input.
//! Decoded bytes are returned as bytes: whether they are UTF-8 is the caller's question, as
//! the JSON writer must escape them anyway.

use std::borrow::Cow;

use crate::http::chars::is_tchar;
use crate::http::percent::percent_decode;

pub use super::pairs::{Groups, Pairs, Values};

/// Parses `application/x-www-form-urlencoded` (also used for query strings) into `out`
/// (appending), as the WHATWG URL standard's parser and Python's `urllib.parse.parse_qsl`
/// (with `keep_blank_values`, as Flask's `request.args` does) read it:
/// - pairs split on `&` only: `;` as a separator was dropped from Python in 3.9.2
///   (CVE-2021-23336, cache poisoning through a separator a proxy did not see);
/// - name and value split at the first `=`, so `==` is an empty name with the value `=`; a
///   pair with no `=` has an empty value (`?a` is `a` with an empty value);
/// - `+` is a space and `%XX` the byte it names; an invalid escape (`%`, `%4`, `%ZZ`) is kept
///   literally, as both do, rather than failing the request;
/// - empty pairs (`a=1&&b=2`, a trailing `&`) are skipped.
///
/// Never fails; writes at most `input.len()` bytes into the arena.
pub fn parse_urlencoded(input: &[u8], out: &mut Pairs) {
    for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &[][..]),
        };
        out.push_with(
            |a| percent_decode(name, true, a),
            |a| percent_decode(value, true, a),
        );
    }
}

/// The media type of a Content-Type value (RFC 9110 §8.3.1), trimmed, without parameters, e.g.
/// `Multipart/Form-Data; boundary=x` → `Multipart/Form-Data`. Type and subtype are
/// case-insensitive, so the caller compares with `eq_ignore_ascii_case`; the same cut gives the
/// disposition type of a Content-Disposition value (`form-data`).
pub fn media_type(content_type: &[u8]) -> &[u8] {
    let end = content_type
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(content_type.len());
    content_type[..end].trim_ascii()
}

/// The value of parameter `name` (case-insensitive) of a media type / Content-Type /
/// Content-Disposition value: RFC 9110 §5.6.6 `*( OWS ";" OWS [ name "=" value ] )` after the
/// type, the value a token or a quoted string. The first occurrence wins. `None` if absent or
/// if the parameters are malformed up to and including the one asked for (an unterminated
/// quote, a name without `=`, an empty value): then where a later parameter begins is unknown.
///
/// Leniencies, each one real clients need:
/// - an unquoted value may hold any visible byte but `"` and `;`, not only token characters:
///   JavaMail's `boundary=----=_Part_0_1` and RFC 2046 boundaries with `/`, `:`, `?`;
/// - whitespace is allowed around `=`, as Go's `mime` and Python's `cgi.parse_header` allow;
/// - in a quoted string only `\"` and `\\` are escapes; another backslash is kept. Browsers do
///   not escape (WHATWG HTML writes `"` as `%22` in names and filenames), so a field named
///   `a\b` arrives as `name="a\b"`, and Python's werkzeug and Go's `mime` keep it as `a\b`.
///
/// RFC 7578 §4.2 forbids the RFC 5987 `filename*=` form in multipart/form-data, so it is just
/// another parameter here: asking for `filename` never matches it.
pub fn param<'a>(value: &'a [u8], name: &[u8]) -> Option<Cow<'a, [u8]>> {
    let mut rest = &value[value.iter().position(|&b| b == b';')?..];
    // Each turn starts at the `;` before a parameter.
    while let Some(after) = rest.strip_prefix(b";") {
        let s = trim_ows_start(after);
        if s.is_empty() || s[0] == b';' {
            rest = s;
            continue;
        }
        let name_len = s.iter().position(|&b| !is_tchar(b)).unwrap_or(s.len());
        let (this, s) = s.split_at(name_len);
        let s = trim_ows_start(s).strip_prefix(b"=")?;
        let s = trim_ows_start(s);
        if this.is_empty() {
            return None;
        }
        let (found, s) = if s.first() == Some(&b'"') {
            quoted_string(s)?
        } else {
            let len = s.iter().position(|&b| b == b';').unwrap_or(s.len());
            let token = trim_ows_end(&s[..len]);
            let valid = |b: u8| b > b' ' && b != 0x7f && b != b'"';
            if token.is_empty() || !token.iter().all(|&b| valid(b)) {
                return None;
            }
            (Cow::Borrowed(token), &s[len..])
        };
        let s = trim_ows_start(s);
        if !s.is_empty() && s[0] != b';' {
            return None;
        }
        if this.eq_ignore_ascii_case(name) {
            return Some(found);
        }
        rest = s;
    }
    None
}

/// A quoted string at the start of `s` (which starts with `"`), unescaped, and what follows it.
fn quoted_string(s: &[u8]) -> Option<(Cow<'_, [u8]>, &[u8])> {
    let mut escapes = false;
    let mut i = 1;
    loop {
        match *s.get(i)? {
            b'"' => break,
            b'\\' if matches!(s.get(i + 1), Some(b'"' | b'\\')) => {
                escapes = true;
                i += 2;
            }
            // qdtext: no control characters but HTAB.
            b if (b < b' ' && b != b'\t') || b == 0x7f => return None,
            _ => i += 1,
        }
    }
    let inner = &s[1..i];
    let value = if escapes {
        let mut out = Vec::with_capacity(inner.len());
        let mut j = 0;
        while let Some(&b) = inner.get(j) {
            let escaped = b == b'\\' && matches!(inner.get(j + 1), Some(b'"' | b'\\'));
            j += usize::from(escaped);
            out.push(inner[j]);
            j += 1;
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(inner)
    };
    Some((value, &s[i + 1..]))
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows_start(s: &[u8]) -> &[u8] {
    &s[s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len())..]
}

fn trim_ows_end(s: &[u8]) -> &[u8] {
    &s[..s.iter().rposition(|&b| !is_ows(b)).map_or(0, |i| i + 1)]
}

/// One part of a multipart/form-data body (RFC 7578 §4): a form field, or a file when it has a
/// filename. Borrowed from the body, but for a name or filename with backslash escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The `name` parameter of its Content-Disposition (RFC 7578 §4.2); a part without one is
    /// an error.
    pub name: Cow<'a, [u8]>,
    /// The `filename` parameter, if any (present → a file; `filename=""` is Some(empty), what
    /// browsers send for a file input left empty).
    pub filename: Option<Cow<'a, [u8]>>,
    /// Its Content-Type field value, if any (trimmed). RFC 7578 §4.4: absent means text/plain.
    pub content_type: Option<&'a [u8]>,
    /// Its content: the bytes between the blank line after its headers and the CRLF before the
    /// next delimiter.
    pub data: &'a [u8],
}

/// Why a multipart/form-data body was refused; every one of them is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipartError {
    /// No `--boundary` delimiter line where the body must start (a preamble before it IS
    /// allowed, RFC 2046 §5.1.1).
    NoDelimiter,
    /// The body ends before the close delimiter `--boundary--`.
    Truncated,
    /// A part's headers are malformed (bad syntax, a bare LF, more than [`MAX_PART_HEADERS`],
    /// a repeated Content-Disposition or Content-Type), or it has no Content-Disposition
    /// `form-data` with a `name`.
    BadPart,
    /// More parts than `max_parts`.
    TooManyParts,
    /// The boundary parameter is missing (pass it empty), empty, longer than 70 bytes (RFC
    /// 2046), or has bytes RFC 2046 forbids.
    BadBoundary,
}

/// Most header fields in one part. Browsers send two (Content-Disposition, Content-Type).
pub const MAX_PART_HEADERS: usize = 32;

/// How a delimiter line found in a body ends.
#[derive(Debug, Clone, Copy)]
enum Line {
    /// `--boundary` LWSP CRLF: a part follows, starting at this offset.
    Open(usize),
    /// `--boundary--` LWSP, then CRLF or the end of the body: the epilogue follows.
    Close,
}

/// Parses a complete multipart/form-data body (RFC 7578, over the syntax of RFC 2046 §5.1.1)
/// delimited by `boundary` (the Content-Type parameter's value, without the leading `--`), into
/// at most `max_parts` parts (the caller passes e.g. 1000; the count bounds the work the
/// caller then does per part).
///
/// A delimiter line is `--boundary` at the start of the body or after a CRLF, followed by
/// optional linear whitespace (space/tab) and CRLF; the close delimiter is `--boundary--`
/// followed by optional whitespace and CRLF or the end of the body (curl and some libraries
/// omit the last CRLF). Anything else that starts with `CRLF--boundary` — a longer boundary
/// of a nested body, `--boundary` and junk — is content (RFC 2046 only forbids the delimiter
/// itself in content; Go's `mime/multipart` reads a longer boundary so too). The
/// preamble before the first delimiter and the epilogue after the close are ignored. A body
/// that is only the close delimiter (browsers send one for a form with no successful
/// controls) has no parts.
///
/// Line ends are strict CRLF, in delimiter lines and in part headers: RFC 2046 and RFC 7578
/// say so, and browsers, curl, Go, Python `requests` and .NET all send CRLF. A bare LF leaves a
/// delimiter unrecognised (so `Truncated`, or `NoDelimiter`) and fails a part's headers
/// (`BadPart`). This is stricter than werkzeug (Python httpbin's parser) and Go's
/// `mime/multipart` (go-httpbin's), which also take a bare LF (werkzeug a bare CR too): with
/// one line end, where a part's content ends has one answer, and a CR or LF at its end stays
/// content.
///
/// Linear in the body: the delimiter search visits candidates at each CR once, moving forward
/// only, and as `CRLF--boundary` holds no CR after its first byte, the bytes compared at one
/// candidate hold no other candidate; so each byte is looked at a bounded number of times.
/// Part headers are parsed once each, only up to the next delimiter.
pub fn parse_multipart<'a>(
    body: &'a [u8],
    boundary: &[u8],
    max_parts: usize,
) -> Result<Vec<Part<'a>>, MultipartError> {
    if !valid_boundary(boundary) {
        return Err(MultipartError::BadBoundary);
    }
    let first = match body.strip_prefix(b"--") {
        Some(rest) if rest.starts_with(boundary) => line_end(body, 2 + boundary.len()),
        _ => None,
    };
    let mut line = match first {
        Some(line) => line,
        None => {
            find_delimiter(body, 0, boundary)
                .ok_or(MultipartError::NoDelimiter)?
                .1
        }
    };
    let mut parts = Vec::new();
    while let Line::Open(start) = line {
        if parts.len() >= max_parts {
            return Err(MultipartError::TooManyParts);
        }
        let (end, next) = find_delimiter(body, start, boundary).ok_or(MultipartError::Truncated)?;
        parts.push(parse_part(body, start, end)?);
        line = next;
    }
    Ok(parts)
}

/// RFC 2046 §5.1.1: `0*69<bchars> bcharsnospace`.
fn valid_boundary(boundary: &[u8]) -> bool {
    let bchar = |b: &u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(b);
    (1..=70).contains(&boundary.len())
        && boundary.last() != Some(&b' ')
        && boundary.iter().all(bchar)
}

/// The first delimiter line at or after `from` that starts with CRLF: where its CRLF is (the
/// end of the previous part's content) and how it ends.
fn find_delimiter(body: &[u8], from: usize, boundary: &[u8]) -> Option<(usize, Line)> {
    let mut i = from;
    while let Some(offset) = body.get(i..)?.iter().position(|&b| b == b'\r') {
        let at = i + offset;
        let candidate = &body[at..];
        if candidate.starts_with(b"\r\n--") && candidate[4..].starts_with(boundary) {
            if let Some(line) = line_end(body, at + 4 + boundary.len()) {
                return Some((at, line));
            }
        }
        i = at + 1;
    }
    None
}

/// How the delimiter line whose boundary ends at `after` ends, if it is one.
fn line_end(body: &[u8], after: usize) -> Option<Line> {
    let rest = body.get(after..)?;
    let lwsp = |s: &[u8]| s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    if let Some(close) = rest.strip_prefix(b"--") {
        let tail = &close[lwsp(close)..];
        (tail.is_empty() || tail.starts_with(b"\r\n")).then_some(Line::Close)
    } else {
        let skip = lwsp(rest);
        rest[skip..]
            .starts_with(b"\r\n")
            .then_some(Line::Open(after + skip + 2))
    }
}

/// The part from `start` to `end` (the CRLF of the next delimiter).
fn parse_part(body: &[u8], start: usize, end: usize) -> Result<Part<'_>, MultipartError> {
    use MultipartError::BadPart;
    // RFC 2046: `body-part := MIME-part-headers [CRLF *OCTET]`, so the delimiter's CRLF may be
    // the blank line that ends the headers of a part without content.
    let block = &body[start..end + 2];
    let mut fields = [httparse::EMPTY_HEADER; MAX_PART_HEADERS];
    let Ok(httparse::Status::Complete((consumed, fields))) =
        httparse::parse_headers(block, &mut fields)
    else {
        return Err(BadPart);
    };
    // httparse takes a bare LF as a line end; multipart does not.
    let head = &block[..consumed];
    let bare_lf = |(i, &b): (usize, &u8)| b == b'\n' && (i == 0 || head[i - 1] != b'\r');
    if head.iter().enumerate().any(bare_lf) {
        return Err(BadPart);
    }
    let (mut disposition, mut content_type) = (None, None);
    for field in fields.iter() {
        let slot = if field.name.eq_ignore_ascii_case("content-disposition") {
            &mut disposition
        } else if field.name.eq_ignore_ascii_case("content-type") {
            &mut content_type
        } else {
            continue;
        };
        if slot.replace(field.value.trim_ascii()).is_some() {
            return Err(BadPart);
        }
    }
    let disposition = disposition.ok_or(BadPart)?;
    if !media_type(disposition).eq_ignore_ascii_case(b"form-data") {
        return Err(BadPart);
    }
    Ok(Part {
        name: param(disposition, b"name").ok_or(BadPart)?,
        filename: param(disposition, b"filename"),
        content_type,
        // Empty, but still at its place in the body, when the delimiter's CRLF ended the headers.
        data: &body[(start + consumed).min(end)..end],
    })
}

/// Calls `f(name, value)` for each cookie in a `Cookie` header value (RFC 6265 §4.2.1, read as
/// browsers write it and as Python's `http.cookies` and Go's `net/http` read it): pairs
/// separated by `;`, whitespace around names and values trimmed, split at the first `=` (a
/// value may hold `=`, as base64 does); a pair without `=` or with an empty name is skipped (no
/// cookie can be looked up by it); a value in double quotes (RFC 6265's `DQUOTE *cookie-octet
/// DQUOTE`) has the quotes removed. Never fails.
pub fn parse_cookies<'a>(header_value: &'a [u8], mut f: impl FnMut(&'a [u8], &'a [u8])) {
    for pair in header_value.split(|&b| b == b';') {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        let name = pair[..eq].trim_ascii();
        let value = pair[eq + 1..].trim_ascii();
        if name.is_empty() {
            continue;
        }
        let value = match value {
            [b'"', inner @ .., b'"'] => inner,
            _ => value,
        };
        f(name, value);
    }
}

#[cfg(test)]
#[path = "forms_tests.rs"]
mod tests;
