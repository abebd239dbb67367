//! A request's header fields, as its protocol delivered them, and the values of one name.
//!
//! HTTP/1.1 hands over the head it validated whole, and the fields are read from it line by
//! line when asked for (most requests are answered without reading one); another protocol adds
//! its own representation here, and every reader of fields goes through [`FieldLines`].

/// The header fields of one request.
#[derive(Debug, Clone, Copy)]
pub enum FieldLines<'a> {
    /// An HTTP/1.x head validated whole, request line to the blank line: each line after the
    /// request line is `name: value`, with no line folded.
    Head(&'a [u8]),
}

impl<'a> FieldLines<'a> {
    /// Each field as (name, value), in arrival order, the value trimmed of the whitespace
    /// around it (RFC 9110 §5.5: it is not part of the value).
    pub fn iter(self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        match self {
            FieldLines::Head(raw) => head_fields(raw),
        }
    }

    /// The first value of a field, by case-insensitive name.
    pub fn get(self, name: &[u8]) -> Option<&'a [u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every field line named `name`, if there is one.
    pub fn named(self, name: &'static [u8]) -> Option<Named<'a>> {
        let named = Named { lines: self, name };
        named.values().next().is_some().then_some(named)
    }

    /// Whether a field whose name starts with `prefix` (any case) may be present: false means
    /// there is none; true is checked by reading the fields. For the cheap tests on the hot
    /// path (`If-` preconditions).
    pub fn may_have_prefix(self, prefix: &[u8]) -> bool {
        match self {
            FieldLines::Head(raw) => raw
                .windows(prefix.len() + 1)
                .any(|w| w[0] == b'\n' && w[1..].eq_ignore_ascii_case(prefix)),
        }
    }
}

/// Each field line of an HTTP/1.x head, value trimmed. The head was validated whole, so
/// splitting at newlines and at the first colon is safe.
fn head_fields(raw: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    // Empty lines before the request line (RFC 9112 §2.2, skipped by the parser) are not it.
    let start = raw
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(raw.len());
    raw[start..]
        .split(|&b| b == b'\n')
        .skip(1)
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            Some((&line[..colon], line[colon + 1..].trim_ascii()))
        })
}

/// The field lines of one name, in order: a list-valued field may come as several lines,
/// which mean the same as one line with the values joined by commas (RFC 9110 §5.3).
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    lines: FieldLines<'a>,
    name: &'static [u8],
}

impl<'a> Named<'a> {
    /// Each field line's value, trimmed.
    pub fn values(self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let name = self.name;
        self.lines
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The only value, if there is exactly one field line.
    pub fn single(self) -> Option<&'a [u8]> {
        let mut values = self.values();
        let first = values.next()?;
        values.next().is_none().then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] =
        b"\r\nGET / HTTP/1.1\r\nHost: a\r\nX-A:  1 \r\nx-a: 2\r\nIf-None-Match: x\r\n\r\n";

    #[test]
    fn fields_of_a_head() {
        let lines = FieldLines::Head(HEAD);
        let all: Vec<_> = lines.iter().collect();
        assert_eq!(all[0], (&b"Host"[..], &b"a"[..]));
        assert_eq!(all[1], (&b"X-A"[..], &b"1"[..]));
        assert_eq!(all.len(), 4);
        assert_eq!(lines.get(b"x-a"), Some(&b"1"[..]));
        let named = lines.named(b"x-a").unwrap();
        assert_eq!(named.values().collect::<Vec<_>>(), [&b"1"[..], b"2"]);
        assert_eq!(named.single(), None);
        assert!(lines.named(b"nope").is_none());
        assert!(lines.may_have_prefix(b"if-"));
        assert!(!FieldLines::Head(b"GET /if-x HTTP/1.1\r\nHost: a\r\n\r\n").may_have_prefix(b"if-"));
    }
}
