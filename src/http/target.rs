//! The request-target (RFC 9112 §3.2) and the Host grammar (RFC 9112 §3.2, RFC 3986 §3.2.2).
//!
//! Four forms, each allowed only where the RFC allows it: origin-form (`/path?query`) for every
//! method, absolute-form (`http://host/path`) for every method, authority-form (`host:port`) only
//! for CONNECT, asterisk-form (`*`) only for OPTIONS. A target with a fragment, an invalid
//! percent-escape in its path, an empty host, a userinfo or a host that is not RFC 3986's
//! `uri-host` is malformed (400).

use std::net::Ipv6Addr;

/// Which of the four forms a target has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Origin,
    Absolute,
    Authority,
    Asterisk,
}

/// A request-target, split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'b> {
    pub form: Form,
    /// The path (`/` for an absolute-form target with none; the target itself for the
    /// authority and asterisk forms).
    pub path: &'b [u8],
    /// After the first `?`, empty if none.
    pub query: &'b [u8],
    /// The authority of an absolute-form or authority-form target.
    pub authority: Option<&'b [u8]>,
}

/// Splits and validates a request-target; `None` if it is malformed in any form.
#[inline]
pub fn parse(target: &[u8]) -> Option<Target<'_>> {
    // The common case in one pass: an origin-form path with no query, fragment or escape.
    if target.first() == Some(&b'/') && !target.iter().any(|&b| matches!(b, b'?' | b'#' | b'%')) {
        return Some(Target {
            form: Form::Origin,
            path: target,
            query: b"",
            authority: None,
        });
    }
    if target.contains(&b'#') {
        return None; // a fragment is never sent (RFC 9110 §4.2.5)
    }
    if target == b"*" {
        return Some(Target {
            form: Form::Asterisk,
            path: target,
            query: b"",
            authority: None,
        });
    }
    let (before, query) = match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &b""[..]),
    };
    if before.first() == Some(&b'/') {
        return is_valid_path(before).then_some(Target {
            form: Form::Origin,
            path: before,
            query,
            authority: None,
        });
    }
    if let Some(scheme_end) = before.windows(3).position(|w| w == b"://") {
        let scheme = &before[..scheme_end];
        if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
            return None;
        }
        let rest = &before[scheme_end + 3..];
        let authority_end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid; §4.2.4: a userinfo
        // is an error.
        if !is_valid_host(authority) || host_part(authority).is_empty() {
            return None;
        }
        let path: &[u8] = if path.is_empty() { b"/" } else { path };
        return is_valid_path(path).then_some(Target {
            form: Form::Absolute,
            path,
            query,
            authority: Some(authority),
        });
    }
    // authority-form: uri-host ":" port, nothing else (RFC 9112 §3.2.3).
    let is_authority = query.is_empty()
        && !target.contains(&b'?')
        && is_valid_host(target)
        && !host_part(target).is_empty()
        && port_part(target).is_some_and(|p| !p.is_empty());
    is_authority.then_some(Target {
        form: Form::Authority,
        path: target,
        query: b"",
        authority: Some(target),
    })
}

/// An absolute path whose every `%` starts a two-hex-digit escape.
fn is_valid_path(path: &[u8]) -> bool {
    let mut i = 0;
    while let Some(off) = path[i..].iter().position(|&b| b == b'%') {
        let at = i + off;
        let escape = path.get(at + 1..at + 3);
        if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
            return false;
        }
        i = at + 3;
    }
    true
}

/// The host of `uri-host [":" port]` (brackets included for an IP-literal).
fn host_part(value: &[u8]) -> &[u8] {
    if value.first() == Some(&b'[') {
        let end = value
            .iter()
            .position(|&b| b == b']')
            .map_or(value.len(), |i| i + 1);
        return &value[..end];
    }
    match value.iter().rposition(|&b| b == b':') {
        Some(i) => &value[..i],
        None => value,
    }
}

/// The port of `uri-host [":" port]`, if there is a colon.
fn port_part(value: &[u8]) -> Option<&[u8]> {
    let host = host_part(value);
    value[host.len()..].strip_prefix(b":")
}

/// A Host value (or the authority of a target) as RFC 3986 `uri-host [ ":" port ]`: a reg-name
/// (unreserved, sub-delims and percent-escapes), an IPv4 address (a reg-name too) or a bracketed
/// IPv6 or IPvFuture literal, then optionally `:` and digits. An empty value is valid (RFC 9112
/// §3.2: the authority may be empty); a space, `@`, `/` or a second colon is not.
pub fn is_valid_host(value: &[u8]) -> bool {
    // The common case in one pass: a plain reg-name or IPv4 address, then maybe `:port`.
    // Eight bytes at a time with one branch (this runs on every request).
    let is_name = |b: u8| REG_NAME_BYTE[usize::from(b)];
    let mut i = 0;
    for chunk in value.chunks_exact(8) {
        if !chunk.iter().fold(true, |all, &b| all & is_name(b)) {
            break;
        }
        i += 8;
    }
    while i < value.len() && is_name(value[i]) {
        i += 1;
    }
    if i == value.len() {
        return true;
    }
    if value[i] == b':' {
        let mut j = i + 1;
        while j < value.len() && value[j].is_ascii_digit() {
            j += 1;
        }
        return j == value.len();
    }
    if !matches!(value[i], b'%' | b'[') {
        return false;
    }
    let host = host_part(value);
    let after = &value[host.len()..];
    let port_ok = match after {
        [] => true,
        [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    port_ok
        && match host {
            [b'[', literal @ .., b']'] => is_ip_literal(literal),
            _ => is_reg_name(host),
        }
}

fn is_reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        match host[i] {
            b'%' => {
                let escape = host.get(i + 1..i + 3);
                if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
            }
            b if is_unreserved(b) || is_sub_delim(b) => i += 1,
            _ => return false,
        }
    }
    true
}

/// IPv6address or IPvFuture (`v` 1*HEXDIG `.` 1*( unreserved / sub-delims / `:` )).
fn is_ip_literal(literal: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = literal {
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    std::str::from_utf8(literal).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

/// The bytes a reg-name holds as they are: unreserved and sub-delims (RFC 3986 §3.2.2).
static REG_NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        b += 1;
    }
    table
};

/// RFC 3986 §2.3 unreserved: `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
pub fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §2.2 sub-delims.
pub fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for good in [
            &b""[..],
            b"example.com",
            b"example.com:8080",
            b"example.com:",
            b"127.0.0.1:80",
            b"[::1]",
            b"[::1]:8080",
            b"[2001:db8::7]",
            b"[v1.fe80::a+en1]",
            b"xn--bcher-kva.example",
            b"a%20b",
            b"under_score~!$&'()*+,;=",
        ] {
            assert!(is_valid_host(good), "{}", String::from_utf8_lossy(good));
        }
        for bad in [
            &b"a b"[..],
            b"user@example.com",
            b"example.com/path",
            b"example.com:80:80",
            b"example.com:8o",
            b"::1",
            b"[::1",
            b"[::g]",
            b"[::1]x",
            b"[v1.]",
            b"a%2",
            b"a%zz",
            b"caf\xc3\xa9",
            b"a\tb",
            b"exa\"mple",
        ] {
            assert!(!is_valid_host(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn forms() {
        let t = parse(b"/a/b?x=1?y").unwrap();
        assert_eq!(
            (t.form, t.path, t.query),
            (Form::Origin, &b"/a/b"[..], &b"x=1?y"[..])
        );
        let t = parse(b"http://example.com:80/echo?x").unwrap();
        assert_eq!(t.form, Form::Absolute);
        assert_eq!((t.path, t.query), (&b"/echo"[..], &b"x"[..]));
        assert_eq!(t.authority, Some(&b"example.com:80"[..]));
        let t = parse(b"HTTPS://example.com?q/r").unwrap();
        assert_eq!((t.path, t.query), (&b"/"[..], &b"q/r"[..]));
        assert_eq!(parse(b"*").unwrap().form, Form::Asterisk);
        let t = parse(b"example.com:443").unwrap();
        assert_eq!(
            (t.form, t.authority),
            (Form::Authority, Some(&b"example.com:443"[..]))
        );
        assert_eq!(parse(b"[::1]:443").unwrap().form, Form::Authority);
    }

    #[test]
    fn malformed_targets() {
        for bad in [
            &b"http:///echo"[..],
            b"http://",
            b"http://:80/",
            b"http://user@example.com/",
            b"http://a b/",
            b"ftp://example.com/",
            b"/a#frag",
            b"/a%zz",
            b"/a%2",
            b"*?x",
            b"?x",
            b"example.com",
            b"example.com:",
            b"example.com:443?x",
            b"relative/path",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        // Only the path's escapes are checked: a query is passed on as sent.
        assert!(parse(b"/a%41?q=%zz").is_some());
    }
}
