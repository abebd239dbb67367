//! `--autoindex`: a directory without an index file, listed as HTML or JSON.
//!
//! Bounded: at most `--autoindex-max-entries` entries are read (a directory of 100,000 names
//! costs a read of that many, then the listing says it was cut), their names and figures are
//! held only while the answer is built, and the answer is an owned body the protocol sends
//! once the worker's memory budget has room for it. Names are bytes, any bytes: a link is the
//! name percent-encoded byte by byte (every byte but the unreserved ones), and the text shown
//! is the name as UTF-8 (invalid sequences as U+FFFD) with HTML's five special characters
//! escaped; JSON gets the same text and the link. Hidden names stay hidden unless
//! `--dotfiles`. The answer is conditional on a weak entity-tag from the directory's own
//! modification time and size, which change when an entry is added, removed or renamed.

use std::fmt::Write as _;

use super::store::FileStore;
use crate::http::conditional::{self, Preconditions, Validators, Verdict};
use crate::http::{Body, Exchange, Length, Reply, Request, Respond, ResponseHead, StatusCode};
use crate::sys::file::{self, DirEntry, Kind};

use super::super::text;

/// Lists the directory the store's last look-up resolved.
pub(super) fn respond(
    store: &FileStore,
    req: &Request<'_>,
    _ex: &Exchange<'_>,
    res: &mut dyn Respond,
) -> Reply {
    let rel = store.last_rel().to_vec();
    let Ok(dir) = file::open_beneath(store.root(), &rel) else {
        return text::send(
            res,
            StatusCode::NotFound,
            StatusCode::NotFound.reason_body(),
        );
    };
    let Ok(meta) = file::meta(std::os::fd::AsFd::as_fd(&dir)) else {
        return text::send(
            res,
            StatusCode::NotFound,
            StatusCode::NotFound.reason_body(),
        );
    };
    let nanos = i128::from(meta.mtime.0) * 1_000_000_000 + i128::from(meta.mtime.1);
    let opaque = format!("\"d{:x}-{:x}\"", nanos.max(0), meta.size);
    let etag = format!("W/{opaque}");
    let modified = u64::try_from(meta.mtime.0).unwrap_or(0);
    let last_modified = crate::http::date::format(modified);
    let json = wants_json(req);
    let vary: &[u8] = b"Accept";
    // Only If-None-Match and If-Modified-Since: a weak tag never satisfies If-Match.
    if req.fields.may_have_prefix(b"if-") {
        let all = Preconditions::of(req.fields);
        let p = Preconditions {
            if_none_match: all.if_none_match,
            if_modified_since: all.if_modified_since,
            ..Preconditions::default()
        };
        let v = Validators {
            etag: opaque.as_bytes(),
            last_modified: modified,
        };
        if conditional::evaluate(&p, &v, true) == Verdict::NotModified {
            let head = ResponseHead {
                fields: &[&[
                    (b"ETag", etag.as_bytes()),
                    (b"Last-Modified", &last_modified),
                    (b"Vary", vary),
                ]],
                ..ResponseHead::new(StatusCode::NotModified, None, Length::Bodiless)
            };
            return text::reply(res.send(&head, Body::Empty));
        }
    }
    let max = store.autoindex.unwrap_or(0);
    let dotfiles = store.dotfiles();
    let (mut entries, cut) =
        match file::list_dir(dir, max, |name| dotfiles || !name.starts_with(b".")) {
            Ok(listed) => listed,
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                return text::send(
                    res,
                    StatusCode::Forbidden,
                    StatusCode::Forbidden.reason_body(),
                )
            }
            Err(_) => {
                let status = StatusCode::ServiceUnavailable;
                return text::send(res, status, status.reason_body());
            }
        };
    // Directories first, then by name (bytewise: the same order for every client).
    entries.sort_by(|a, b| (a.kind != Kind::Dir, &a.name).cmp(&(b.kind != Kind::Dir, &b.name)));
    let body = if json {
        render_json(req.path, &entries, cut, max)
    } else {
        render_html(req.path, &entries, cut, max)
    };
    let content_type: &[u8] = if json {
        b"application/json"
    } else {
        b"text/html; charset=utf-8"
    };
    let head = ResponseHead {
        fields: &[&[
            (b"ETag", etag.as_bytes()),
            (b"Last-Modified", &last_modified),
            (b"Vary", vary),
        ]],
        ..ResponseHead::new(
            StatusCode::Ok,
            Some(content_type),
            Length::Exactly(body.len() as u64),
        )
    };
    text::reply(res.send(&head, Body::Owned(body)))
}

/// `?format=json`, or an `Accept` that names JSON and not HTML.
fn wants_json(req: &Request<'_>) -> bool {
    if req.query.split(|&b| b == b'&').any(|p| p == b"format=json") {
        return true;
    }
    req.accept_names(b"application/json") == Some(true)
        && req.accept_names(b"text/html") != Some(true)
}

/// A name as a relative link: every byte but the unreserved ones percent-encoded. Stricter
/// than `path::encode_into` (which keeps sub-delimiters, `:` and `@` for `Location`): in a
/// relative reference a `:` before any `/` would read as a scheme (`a:b.txt`), and an `&`
/// inside an HTML attribute as the start of a character reference. Runs of plain bytes are
/// copied whole (a listing writes a thousand of these).
fn href(name: &[u8], dir: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    let mut rest = name;
    while !rest.is_empty() {
        let run = rest.iter().position(|&b| !plain(b)).unwrap_or(rest.len());
        // ASCII only: always a valid str.
        out.push_str(std::str::from_utf8(&rest[..run]).unwrap_or_default());
        let Some(&b) = rest.get(run) else {
            break;
        };
        out.push('%');
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
        rest = &rest[run + 1..];
    }
    if dir {
        out.push('/');
    }
}

/// Text for HTML: `& < > " '` escaped; runs without them copied whole.
fn html_text(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// A name as text: itself when it is UTF-8 (nearly always, and no copy), else with U+FFFD
/// for what is not.
fn name_text(name: &[u8], out: &mut String) {
    match std::str::from_utf8(name) {
        Ok(text) => html_text(text, out),
        Err(_) => html_text(&String::from_utf8_lossy(name), out),
    }
}

/// A size for people: `812 B`, `1.5 KiB`, `3.0 MiB` (one decimal, rounded down).
fn size_text(size: u64, out: &mut String) {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut scaled = size;
    while scaled >= 1024 && unit + 1 < UNITS.len() {
        scaled /= 1024;
        unit += 1;
    }
    push_decimal(out, scaled, 1);
    if unit > 0 {
        // The tenth: what is left below the unit, in tenths of it.
        let unit_bytes = 1u64 << (10 * unit);
        let tenth = (size % unit_bytes) * 10 / unit_bytes;
        out.push('.');
        push_decimal(out, tenth, 1);
    }
    out.push(' ');
    out.push_str(UNITS[unit]);
}

/// `YYYY-MM-DD HH:MM` (UTC).
fn date_text(secs: i64, out: &mut String) {
    let (year, month, day) = crate::http::date::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    push_decimal(out, u64::try_from(year).unwrap_or(0), 4);
    out.push('-');
    push_decimal(out, u64::from(month), 2);
    out.push('-');
    push_decimal(out, u64::from(day), 2);
    out.push(' ');
    push_decimal(out, (rem / 3600) as u64, 2);
    out.push(':');
    push_decimal(out, (rem % 3600 / 60) as u64, 2);
}

/// `n` in decimal, zero-padded to `width` digits: the listing writes a thousand rows, so no
/// formatting machinery per field.
fn push_decimal(out: &mut String, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    at = at.min(digits.len() - width.min(digits.len()));
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

fn render_html(path: &[u8], entries: &[DirEntry], cut: bool, max: usize) -> Vec<u8> {
    let shown_path = crate::app::bin::params::decoded(path, false);
    let mut title = String::new();
    html_text(&String::from_utf8_lossy(&shown_path), &mut title);
    // Sized for plain names (each appears twice, beside about 95 bytes of markup), so the
    // body is one allocation, on the heap for a thousand entries rather than mapped apart.
    let names: usize = entries.iter().map(|e| e.name.len()).sum();
    let mut out = String::with_capacity(512 + entries.len() * 96 + 2 * names);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title>\
         <style>body{{font-family:sans-serif}}td{{padding:0 1em}}td.n{{text-align:right}}</style>\
         </head>\n<body><h1>Index of {title}</h1>\n<table>\n\
         <tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n"
    );
    if path != b"/" {
        out.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for e in entries {
        let dir = e.kind == Kind::Dir;
        out.push_str("<tr><td><a href=\"");
        href(&e.name, dir, &mut out);
        out.push_str("\">");
        name_text(&e.name, &mut out);
        if dir {
            out.push('/');
        }
        out.push_str("</a></td><td class=n");
        if dir {
            out.push_str(">-");
        } else {
            out.push_str(" title=\"");
            push_decimal(&mut out, e.size, 1);
            out.push_str(" bytes\">");
            size_text(e.size, &mut out);
        }
        out.push_str("</td><td>");
        date_text(e.mtime, &mut out);
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n");
    if cut {
        let _ = writeln!(
            out,
            "<p><strong>Listing cut at {max} entries</strong> (--autoindex-max-entries): the \
             directory holds more.</p>"
        );
    }
    out.push_str("</body></html>\n");
    out.into_bytes()
}

fn render_json(path: &[u8], entries: &[DirEntry], cut: bool, max: usize) -> Vec<u8> {
    let shown =
        String::from_utf8_lossy(&crate::app::bin::params::decoded(path, false)).into_owned();
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut link = String::new();
            href(&e.name, e.kind == Kind::Dir, &mut link);
            serde_json::json!({
                "name": String::from_utf8_lossy(&e.name),
                "href": link,
                "type": match e.kind { Kind::Dir => "directory", Kind::File => "file", Kind::Other => "other" },
                "size": if e.kind == Kind::File { Some(e.size) } else { None },
                "mtime": e.mtime,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "path": shown,
        "entries": list,
        "truncated": cut,
        "max_entries": max,
    });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_for_links_and_escaped_for_text() {
        let mut h = String::new();
        href(b"a \"q\"<x>#?%.txt", false, &mut h);
        assert_eq!(h, "a%20%22q%22%3Cx%3E%23%3F%25.txt");
        let mut h = String::new();
        href(&[0xff, b'd'], true, &mut h);
        assert_eq!(h, "%FFd/");
        let mut t = String::new();
        html_text("<a href='x'>&\"", &mut t);
        assert_eq!(t, "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
    }

    #[test]
    fn dates_and_sizes() {
        let date = |secs| {
            let mut s = String::new();
            date_text(secs, &mut s);
            s
        };
        let size = |n| {
            let mut s = String::new();
            size_text(n, &mut s);
            s
        };
        assert_eq!(date(0), "1970-01-01 00:00");
        assert_eq!(date(1_796_000_000), "2026-11-30 00:53");
        assert_eq!(date(951_782_400), "2000-02-29 00:00");
        assert_eq!(date(-1), "1969-12-31 23:59");
        assert_eq!(size(0), "0 B");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(1024 * 1024 - 1), "1023.9 KiB");
        assert_eq!(size(3 << 20), "3.0 MiB");
        assert_eq!(size(u64::MAX), "16777215.9 TiB");
        let mut s = String::new();
        push_decimal(&mut s, 7, 4);
        push_decimal(&mut s, 123_456, 2);
        assert_eq!(s, "0007123456");
    }
}
