//! From the path of a request to a path beneath the document root.
//!
//! Percent-escapes are decoded exactly once, on raw bytes (no Unicode normalisation; `\` is an
//! ordinary byte, not a separator), then dot-segments are resolved (RFC 3986 §5.2.4). A path
//! that would climb above the root, in any spelling (`..`, `%2e%2e`, `.%2e`, `..%2f`), is
//! refused, as are an encoded NUL and an invalid escape. The result names the file relative to
//! the root, its segments joined by `/`; the kernel then enforces containment again when it is
//! opened (see `sys::file::open_beneath`).

use crate::http::target;

/// Why a path cannot name anything beneath the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// `%00`: no file name holds a NUL.
    Nul,
    /// A `..` that would leave the root.
    AboveRoot,
}

/// A resolved path: written into the caller's buffer, with these facts about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The request named a directory: it ended in `/` (or in a `.` or `..` segment).
    pub trailing_slash: bool,
    /// Some segment starts with a dot (`.git`, `.env`): hidden unless allowed.
    pub hidden: bool,
}

/// Decodes and resolves `path` (the path of an origin-form target, starting with `/`) into
/// `out`, cleared first: `""` for the root itself, else `a/b/c`.
///
/// # Errors
/// See [`PathError`].
pub fn resolve(path: &[u8], out: &mut Vec<u8>) -> Result<Resolved, PathError> {
    out.clear();
    let mut resolved = Resolved {
        trailing_slash: path.ends_with(b"/"),
        hidden: false,
    };
    // Segments are appended to `out` as they are decoded; `..` cuts `out` back to the
    // separator before the previous segment.
    let mut depth = 0usize;
    let mut i = 0;
    while i < path.len() {
        // One raw segment, up to the next unescaped `/`; escapes are decoded into `segment`.
        let seg_start = out.len();
        if !out.is_empty() {
            out.push(b'/');
        }
        let name_start = out.len();
        while i < path.len() && path[i] != b'/' {
            let byte = if path[i] == b'%' {
                let hex = path.get(i + 1..i + 3).ok_or(PathError::BadEscape)?;
                let value = hex_pair(hex).ok_or(PathError::BadEscape)?;
                i += 3;
                if value == 0 {
                    return Err(PathError::Nul);
                }
                value
            } else {
                i += 1;
                // A request target cannot hold a raw NUL (the head parser refuses control
                // bytes), but nothing here relies on that.
                if path[i - 1] == 0 {
                    return Err(PathError::Nul);
                }
                path[i - 1]
            };
            if byte == b'/' {
                // An encoded slash separates segments once decoded, like a raw one.
                break;
            }
            out.push(byte);
        }
        i += usize::from(i < path.len() && path[i] == b'/');
        let last = i >= path.len();
        match &out[name_start..] {
            b"" => out.truncate(seg_start),
            b"." => {
                out.truncate(seg_start);
                resolved.trailing_slash |= last;
            }
            b".." => {
                out.truncate(seg_start);
                if depth == 0 {
                    return Err(PathError::AboveRoot);
                }
                depth -= 1;
                let back = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(back);
                resolved.trailing_slash |= last;
            }
            _ => depth += 1,
        }
    }
    resolved.hidden = out
        .split(|&b| b == b'/')
        .any(|segment| segment.first() == Some(&b'.'));
    if out.is_empty() {
        resolved.trailing_slash = true;
    }
    Ok(resolved)
}

fn hex_pair(hex: &[u8]) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    Some((digit(hex[0])? * 16 + digit(hex[1])?) as u8)
}

/// Appends `rel` (a resolved path) to `out` percent-encoded for a `Location` header: every byte
/// outside RFC 3986's pchar set (and `/`) is escaped, so the header can hold no space, CR, LF
/// or anything a client could read differently.
pub fn encode_into(rel: &[u8], out: &mut Vec<u8>) {
    for &b in rel {
        let plain =
            target::is_unreserved(b) || target::is_sub_delim(b) || matches!(b, b':' | b'@' | b'/');
        if plain {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(path: &str) -> (String, Resolved) {
        let mut out = Vec::new();
        let r = resolve(path.as_bytes(), &mut out).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        (String::from_utf8(out).unwrap(), r)
    }

    fn err(path: &str) -> PathError {
        resolve(path.as_bytes(), &mut Vec::new()).unwrap_err()
    }

    #[test]
    fn plain_paths() {
        assert_eq!(ok("/").0, "");
        assert!(ok("/").1.trailing_slash);
        assert_eq!(ok("/a/b.txt").0, "a/b.txt");
        assert!(!ok("/a/b.txt").1.trailing_slash);
        assert_eq!(ok("/a/").0, "a");
        assert!(ok("/a/").1.trailing_slash);
        assert_eq!(ok("//a///b").0, "a/b");
        assert_eq!(ok("/a\\b").0, "a\\b", "a backslash is an ordinary byte");
        assert_eq!(ok("/caf%C3%A9").0, "café");
        assert_eq!(ok("/a%20b").0, "a b");
    }

    #[test]
    fn dot_segments() {
        assert_eq!(ok("/a/./b").0, "a/b");
        assert_eq!(ok("/a/../b").0, "b");
        assert_eq!(ok("/a/b/..").0, "a");
        assert!(ok("/a/b/..").1.trailing_slash);
        assert!(ok("/a/.").1.trailing_slash);
        assert_eq!(ok("/a/%2e%2e/b").0, "b");
        assert_eq!(ok("/a/.%2e/b").0, "b");
        assert_eq!(
            ok("/a/..%2fb").0,
            "b",
            "an encoded slash separates once decoded"
        );
        assert_eq!(ok("/a/...").0, "a/...");
        let deep = format!("/{}{}", "d/".repeat(100), "../".repeat(100));
        assert_eq!(ok(&deep).0, "");
    }

    #[test]
    fn climbing_above_the_root_in_any_spelling() {
        for path in [
            "/..",
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/.%2e/etc",
            "/%2E./etc",
            "/..%2fetc",
            "/a/%2e%2e%2f%2e%2e/x",
        ] {
            assert_eq!(err(path), PathError::AboveRoot, "{path}");
        }
    }

    #[test]
    fn bad_escapes_and_nul() {
        assert_eq!(err("/a%00b"), PathError::Nul);
        assert_eq!(
            err("/a\0b"),
            PathError::Nul,
            "found by the fuzzer: a raw NUL"
        );
        assert_eq!(err("/a%zzb"), PathError::BadEscape);
        assert_eq!(err("/a%2"), PathError::BadEscape);
        assert_eq!(err("/a%"), PathError::BadEscape);
    }

    #[test]
    fn hidden_segments() {
        assert!(ok("/.git/config").1.hidden);
        assert!(ok("/a/.env").1.hidden);
        assert!(ok("/%2egit/config").1.hidden);
        assert!(!ok("/a/b.txt").1.hidden);
        assert!(!ok("/a/./b").1.hidden);
    }

    #[test]
    fn locations_are_encoded() {
        let mut out = Vec::new();
        encode_into("a b/c\r\n%é".as_bytes(), &mut out);
        assert_eq!(out, b"a%20b/c%0D%0A%25%C3%A9");
    }
}
