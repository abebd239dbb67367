//! The lines of a chunked body (RFC 9112 §7.1): chunk-size lines and trailer fields, strictly.
//!
//! Strict because a line that two parsers end in different places is a request-smuggling seam:
//! every line ends in CRLF (a bare LF or CR is an error), an extension is `;name[=value]` with a
//! token name and a token or quoted-string value, and nothing else is allowed on the line.

use crate::http::chars::is_tchar;

/// Longest chunk-size or trailer line accepted, CRLF included; a chunk extension has no use to
/// us, so this is generous.
pub const MAX_LINE: usize = 1024;

/// A chunk-size line that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// Not the grammar (or longer than [`MAX_LINE`]): 400.
    Malformed,
    /// A size beyond 64 bits: larger than any body we take, 413.
    TooLarge,
}

/// Parses a chunk-size line at the start of `buf`: `Ok(None)` if it is not complete yet,
/// `Ok(Some((line_len, size)))` when it is.
///
/// Leading zeros are allowed in any number (`000…05` is 5); only the significant digits must
/// fit in 64 bits.
pub fn size_line(buf: &[u8]) -> Result<Option<(usize, u64)>, LineError> {
    let window = &buf[..buf.len().min(MAX_LINE)];
    let digits = window.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return if window.is_empty() {
            Ok(None)
        } else {
            Err(LineError::Malformed)
        };
    }
    let mut i = digits;
    if !skip_extensions(window, &mut i)? {
        return partial(buf);
    }
    match window.get(i..i + 2) {
        Some(b"\r\n") => {}
        Some(_) => return Err(LineError::Malformed),
        None if window.get(i).is_none_or(|&b| b == b'\r') => return partial(buf),
        None => return Err(LineError::Malformed),
    }
    let zeros = window[..digits].iter().take_while(|&&b| b == b'0').count();
    let significant = &window[zeros..digits];
    if significant.len() > 16 {
        return Err(LineError::TooLarge);
    }
    let size = significant.iter().fold(0u64, |n, &d| {
        (n << 4) | u64::from(char::from(d).to_digit(16).unwrap_or(0))
    });
    Ok(Some((i + 2, size)))
}

/// An incomplete line: wait for more, unless it is already too long to ever be one.
fn partial<T>(buf: &[u8]) -> Result<Option<T>, LineError> {
    if buf.len() >= MAX_LINE {
        Err(LineError::Malformed)
    } else {
        Ok(None)
    }
}

/// Skips `*( BWS ";" BWS name [ BWS "=" BWS value ] )` from `*i`. `Ok(false)` if the
/// extensions run to the end of `buf` (the line is not complete yet).
fn skip_extensions(buf: &[u8], i: &mut usize) -> Result<bool, LineError> {
    loop {
        // Whitespace belongs to an extension only if a `;` follows it.
        let before = *i;
        skip_bws(buf, i);
        match buf.get(*i) {
            None => return Ok(false),
            Some(b';') => *i += 1,
            Some(_) => {
                *i = before;
                return Ok(true);
            }
        }
        skip_bws(buf, i);
        if !skip_token(buf, i) {
            return if *i >= buf.len() {
                Ok(false)
            } else {
                Err(LineError::Malformed)
            };
        }
        skip_bws(buf, i);
        if buf.get(*i) != Some(&b'=') {
            continue;
        }
        *i += 1;
        skip_bws(buf, i);
        match buf.get(*i) {
            None => return Ok(false),
            Some(b'"') => {
                if !skip_quoted(buf, i)? {
                    return Ok(false);
                }
            }
            Some(_) => {
                if !skip_token(buf, i) {
                    return Err(LineError::Malformed);
                }
            }
        }
    }
}

fn skip_bws(buf: &[u8], i: &mut usize) {
    while matches!(buf.get(*i), Some(b' ' | b'\t')) {
        *i += 1;
    }
}

/// Skips one or more token characters; false if there is none.
fn skip_token(buf: &[u8], i: &mut usize) -> bool {
    let start = *i;
    while buf.get(*i).is_some_and(|&b| is_tchar(b)) {
        *i += 1;
    }
    *i > start
}

/// Skips a quoted-string starting at the `"` at `*i`. `Ok(false)` if it runs to the end.
fn skip_quoted(buf: &[u8], i: &mut usize) -> Result<bool, LineError> {
    *i += 1;
    loop {
        match buf.get(*i) {
            None => return Ok(false),
            Some(b'"') => {
                *i += 1;
                return Ok(true);
            }
            Some(b'\\') => match buf.get(*i + 1) {
                None => return Ok(false),
                Some(&b) if b == b'\t' || b == b' ' || (0x21..0x7f).contains(&b) || b >= 0x80 => {
                    *i += 2
                }
                Some(_) => return Err(LineError::Malformed),
            },
            Some(&b) if b == b'\t' || b == b' ' || (0x21..0x7f).contains(&b) || b >= 0x80 => {
                *i += 1
            }
            Some(_) => return Err(LineError::Malformed),
        }
    }
}

/// What the next trailer-section line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailerLine {
    /// The blank line that ends the body, 2 bytes.
    End,
    /// A trailer field of this many bytes (dropped: none of them changes our answer).
    Field(usize),
}

/// Parses the next line of the trailer section at the start of `buf`: `Ok(None)` if it is not
/// complete yet. A field is `token ":" value CRLF` with no CR, LF or NUL in the value.
pub fn trailer_line(buf: &[u8]) -> Result<Option<TrailerLine>, LineError> {
    let window = &buf[..buf.len().min(MAX_LINE)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if window.contains(&b'\r') && !window.ends_with(b"\r") {
            Err(LineError::Malformed)
        } else {
            partial(buf)
        };
    };
    if lf == 0 || window[lf - 1] != b'\r' {
        return Err(LineError::Malformed);
    }
    if lf == 1 {
        return Ok(Some(TrailerLine::End));
    }
    let field = &window[..lf - 1];
    let name_len = field.iter().take_while(|&&b| is_tchar(b)).count();
    let valid = name_len > 0
        && field.get(name_len) == Some(&b':')
        && field[name_len + 1..]
            .iter()
            .all(|&b| b == b'\t' || (b' '..0x7f).contains(&b) || b >= 0x80);
    if valid {
        Ok(Some(TrailerLine::Field(lf + 1)))
    } else {
        Err(LineError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size_line(b"5\r\nhello"), Ok(Some((3, 5))));
        assert_eq!(size_line(b"1A\r\n"), Ok(Some((4, 26))));
        assert_eq!(size_line(b"0\r\n"), Ok(Some((3, 0))));
        let zeros = format!("{}5\r\n", "0".repeat(40));
        assert_eq!(size_line(zeros.as_bytes()), Ok(Some((43, 5))));
        assert_eq!(size_line(b"ffffffffffffffff\r\n"), Ok(Some((18, u64::MAX))));
        assert_eq!(
            size_line(b"10000000000000000\r\n"),
            Err(LineError::TooLarge)
        );
    }

    #[test]
    fn extensions() {
        assert_eq!(size_line(b"5;a=1\r\n"), Ok(Some((7, 5))));
        assert_eq!(size_line(b"5 ; a = \"x;y\\\"\" ;b\r\n"), Ok(Some((20, 5))));
        for bad in [
            &b"5;\r\n"[..],
            b"5;a=\r\n",
            b"5;=1\r\n",
            b"5;a b\r\n",
            b"5 x\r\n",
            b"5 \r\n",
            b"5;a=\"\x01\"\r\n",
        ] {
            assert_eq!(size_line(bad), Err(LineError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn line_ends_are_crlf_only() {
        for bad in [
            &b"5\n"[..],
            b"5\rx",
            b"5;a\n",
            b"\r\n",
            b"x\r\n",
            b"5\r\r\n",
        ] {
            assert_eq!(size_line(bad), Err(LineError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn incomplete_lines_wait_until_they_are_too_long() {
        for partial in [
            &b""[..],
            b"5",
            b"5\r",
            b"5;a",
            b"5;a=\"x",
            b"5 ",
            b"5;a=\"\\",
        ] {
            assert_eq!(size_line(partial), Ok(None), "{partial:?}");
        }
        let long = format!("5;a=\"{}", "x".repeat(MAX_LINE));
        assert_eq!(size_line(long.as_bytes()), Err(LineError::Malformed));
    }

    #[test]
    fn trailers() {
        assert_eq!(trailer_line(b"\r\nGET"), Ok(Some(TrailerLine::End)));
        assert_eq!(
            trailer_line(b"X-T: a b\r\n\r\n"),
            Ok(Some(TrailerLine::Field(10)))
        );
        assert_eq!(trailer_line(b"X-T: 1"), Ok(None));
        assert_eq!(trailer_line(b"X-T: 1\r"), Ok(None));
        for bad in [
            &b"\n"[..],
            b"X-T: 1\n",
            b"not a field\r\n",
            b": x\r\n",
            b"X T: 1\r\n",
            b"X-T: a\x00b\r\n",
            b"X-T: a\rb\r\n",
        ] {
            assert_eq!(trailer_line(bad), Err(LineError::Malformed), "{bad:?}");
        }
    }
}
