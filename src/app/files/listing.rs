//! `--autoindex`: a directory without an index file, listed as HTML or JSON.
//!
//! Bounded: at most `--autoindex-max-entries` entries are read (a directory of 100,000 names
//! costs a read of that many, then the listing says it was cut). A directory of up to
//! [`STEP`] entries is listed at once, as an owned body the protocol sends once the worker's
//! memory budget has room for it; a larger one is listed in steps ([`Streamed`]: [`STEP`]
//! entries read and described per turn of the loop, then rows written as the output drains),
//! its entries reserved in the budget as they are read, so neither the loop nor the memory is
//! held by one large directory. Names are bytes, any bytes: a link is the
//! name percent-encoded byte by byte (every byte but the unreserved ones), and the text shown
//! is the name as UTF-8 (invalid sequences as U+FFFD) with HTML's five special characters
//! escaped; JSON gets the same text and the link. Hidden names stay hidden unless
//! `--dotfiles`. The answer is conditional on a weak entity-tag from the directory's own
//! modification time and size, which change when an entry is added, removed or renamed.

use std::time::Instant;

use super::store::FileStore;
use crate::app::bin::json;
use crate::http::conditional::{self, Preconditions, Validators, Verdict};
use crate::http::{
    Body, BodySink, Exchange, Generate, Length, NoRoom, OwnedHead, Producer, Reply, Request,
    Respond, ResponseHead, StatusCode, Step,
};
use crate::sys::file::{self, DirEntry, DirReader, Kind};

/// Entries read and described (a `stat` each) in one turn of the loop: a directory this size
/// or smaller is listed in one go.
const STEP: usize = 1024;

/// What one entry is reckoned to hold when a streamed listing reserves for the entries it is
/// about to read: its place in the list and a name of up to 64 bytes. A longer name reserves
/// its excess as it comes; when the budget cannot give that, the listing is cut there.
const ENTRY_BYTES: u64 = std::mem::size_of::<DirEntry>() as u64 + 64;

use super::super::text;

/// Lists the directory the store's last look-up resolved.
pub(super) fn respond(
    store: &FileStore,
    req: &Request<'_>,
    ex: &Exchange<'_>,
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
    let keep = |name: &[u8]| shown(dotfiles, name);
    // The first step now, so that a directory that cannot be read gets its status.
    let mut entries = Vec::new();
    let read = DirReader::open(dir).and_then(|mut reader| {
        let done = reader.read(STEP.min(max.saturating_add(1)), keep, &mut entries)?;
        Ok((reader, done))
    });
    let (reader, done) = match read {
        Ok(read) => read,
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
    let content_type: &'static [u8] = if json {
        b"application/json"
    } else {
        b"text/html; charset=utf-8"
    };
    let fields: [(&[u8], &[u8]); 3] = [
        (b"ETag", etag.as_bytes()),
        (b"Last-Modified", &last_modified),
        (b"Vary", vary),
    ];
    let render = Render {
        json,
        path: crate::app::bin::params::decoded(req.path, false).into_owned(),
        max,
    };
    if done || entries.len() > max {
        // Read whole (the common case): one body, at once.
        let cut = entries.len() > max;
        entries.truncate(max);
        sort(&mut entries);
        let mut body = Vec::with_capacity(render.estimate(&entries));
        render.preamble(&mut body);
        for (i, e) in entries.iter().enumerate() {
            render.row(e, i == 0, &mut body);
        }
        render.epilogue(cut, &mut body);
        let head = ResponseHead {
            fields: &[&fields],
            ..ResponseHead::new(
                StatusCode::Ok,
                Some(content_type),
                Length::Exactly(body.len() as u64),
            )
        };
        return text::reply(res.send(&head, Body::Owned(body)));
    }
    // A large directory: the rest is read, described and written in steps.
    let head = ResponseHead {
        fields: &[&fields],
        ..ResponseHead::new(StatusCode::Ok, Some(content_type), Length::Open)
    };
    let owned = OwnedHead::of(&head);
    let held: u64 = entries.iter().map(entry_bytes).sum();
    let charge =
        held + max.saturating_sub(entries.len()) as u64 * ENTRY_BYTES + owned.size() as u64;
    if let Err(no_room) = res.reserve(charge) {
        return match no_room {
            NoRoom::Wait => Reply::NeedMemory(None),
            NoRoom::Refused => Reply::Sent,
        };
    }
    let streamed = Streamed {
        reader: Some(reader),
        dotfiles,
        entries,
        render,
        max,
        cut: false,
        spare: charge - held - owned.size() as u64,
        budget_short: false,
        next: 0,
        started: false,
        pending: Vec::new(),
        sent: 0,
        ended: false,
    };
    let producer = Producer::new(owned, ex.now, Vec::new(), Some(Box::new(streamed)), charge);
    Reply::Produce(Box::new(producer))
}

/// Whether a name is listed: hidden ones only with `--dotfiles`.
fn shown(dotfiles: bool, name: &[u8]) -> bool {
    dotfiles || !name.starts_with(b".")
}

/// Directories first, then by name (bytewise: the same order for every client).
fn sort(entries: &mut [DirEntry]) {
    entries.sort_by(|a, b| (a.kind != Kind::Dir, &a.name).cmp(&(b.kind != Kind::Dir, &b.name)));
}

/// What an entry holds in memory.
fn entry_bytes(e: &DirEntry) -> u64 {
    std::mem::size_of::<DirEntry>() as u64 + e.name.capacity() as u64
}

/// A large directory's listing, made as the client reads it.
struct Streamed {
    /// Until the directory is read whole (or the cap is reached).
    reader: Option<DirReader>,
    /// `--dotfiles`: hidden names are listed too.
    dotfiles: bool,
    entries: Vec<DirEntry>,
    render: Render,
    max: usize,
    cut: bool,
    /// What the reservation still covers of entries to come (see [`ENTRY_BYTES`]).
    spare: u64,
    /// The listing was cut because the budget could not cover a long name.
    budget_short: bool,
    /// The next entry to write a row for.
    next: usize,
    started: bool,
    /// Rows rendered and not yet written, from `sent`.
    pending: Vec<u8>,
    sent: usize,
    ended: bool,
}

impl std::fmt::Debug for Streamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamed")
            .field("entries", &self.entries.len())
            .field("next", &self.next)
            .field("reading", &self.reader.is_some())
            .finish()
    }
}

impl Streamed {
    /// One step of reading: [`STEP`] more entries, and the cap.
    fn read_step(&mut self) -> Result<(), ()> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(());
        };
        let before = self.entries.len();
        let want = STEP.min(self.max + 1 - before.min(self.max));
        let dotfiles = self.dotfiles;
        let done = reader
            .read(want, |name| shown(dotfiles, name), &mut self.entries)
            .map_err(|_| ())?;
        // Names longer than reckoned take from what is left for the entries to come; past
        // that, the listing stops there.
        for i in before..self.entries.len() {
            let need = entry_bytes(&self.entries[i]);
            if need > self.spare {
                self.entries.truncate(i);
                self.budget_short = true;
                break;
            }
            self.spare -= need;
        }
        if self.entries.len() > self.max {
            self.entries.truncate(self.max);
            self.cut = true;
        }
        if done || self.cut || self.budget_short {
            self.reader = None;
            sort(&mut self.entries);
        }
        Ok(())
    }
}

impl Generate for Streamed {
    fn step(&mut self, out: &mut dyn BodySink, _now: Instant) -> Step {
        if self.reader.is_some() {
            if self.read_step().is_err() {
                return Step::Close; // the directory failed under us: the listing is cut
            }
            // A slice of the loop spent on stat calls: the others go first.
            return Step::Yield;
        }
        loop {
            if self.sent < self.pending.len() {
                let room = out.room();
                let end = self.pending.len().min(self.sent + room);
                out.begin_chunk((end - self.sent) as u64);
                out.data(&self.pending[self.sent..end]);
                out.end_chunk();
                self.sent = end;
                if self.sent < self.pending.len() {
                    return Step::More;
                }
            }
            if self.ended {
                return Step::Done;
            }
            self.pending.clear();
            self.sent = 0;
            if !self.started {
                self.started = true;
                self.render.preamble(&mut self.pending);
            }
            let end = self.entries.len().min(self.next + STEP / 4);
            for i in self.next..end {
                self.render.row(&self.entries[i], i == 0, &mut self.pending);
            }
            self.next = end;
            if self.next == self.entries.len() {
                self.render
                    .epilogue(self.cut || self.budget_short, &mut self.pending);
                self.ended = true;
                self.entries = Vec::new();
            }
        }
    }
}

/// How a listing is written: HTML or JSON, in three parts (so a whole listing and a streamed
/// one are the same bytes).
struct Render {
    json: bool,
    /// The directory's path, decoded, as shown.
    path: Vec<u8>,
    max: usize,
}

impl Render {
    /// Bytes a listing of `entries` is about to take: plain names appear twice beside about
    /// 95 bytes of markup (a body of a thousand entries stays on the heap, not mapped apart).
    fn estimate(&self, entries: &[DirEntry]) -> usize {
        let names: usize = entries.iter().map(|e| e.name.len()).sum();
        512 + entries.len() * 96 + 2 * names
    }

    fn preamble(&self, out: &mut Vec<u8>) {
        if self.json {
            out.extend_from_slice(b"{\"path\": ");
            json::escape(
                out,
                &String::from_utf8_lossy(&self.path)
                    .into_owned()
                    .into_bytes(),
            );
            out.extend_from_slice(b",\n\"entries\": [");
            return;
        }
        let mut title = Vec::new();
        name_text(&self.path, &mut title);
        out.extend_from_slice(
            b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ",
        );
        out.extend_from_slice(&title);
        out.extend_from_slice(
            b"</title><style>body{font-family:sans-serif}td{padding:0 1em}td.n{text-align:right}\
              </style></head>\n<body><h1>Index of ",
        );
        out.extend_from_slice(&title);
        out.extend_from_slice(
            b"</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n",
        );
        if self.path != b"/" {
            out.extend_from_slice(b"<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
        }
    }

    fn row(&self, e: &DirEntry, first: bool, out: &mut Vec<u8>) {
        let dir = e.kind == Kind::Dir;
        if self.json {
            out.extend_from_slice(if first {
                b"\n  {\"name\": "
            } else {
                b",\n  {\"name\": "
            });
            json::escape(out, String::from_utf8_lossy(&e.name).as_bytes());
            out.extend_from_slice(b", \"href\": \"");
            href(&e.name, dir, out);
            out.extend_from_slice(b"\", \"type\": \"");
            out.extend_from_slice(match e.kind {
                Kind::Dir => b"directory",
                Kind::File => b"file",
                Kind::Other => b"other",
            });
            out.extend_from_slice(b"\", \"size\": ");
            match e.kind {
                Kind::File => push_decimal(out, e.size, 1),
                _ => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b", \"mtime\": ");
            if e.mtime < 0 {
                out.push(b'-');
            }
            push_decimal(out, e.mtime.unsigned_abs(), 1);
            out.push(b'}');
            return;
        }
        out.extend_from_slice(b"<tr><td><a href=\"");
        href(&e.name, dir, out);
        out.extend_from_slice(b"\">");
        name_text(&e.name, out);
        if dir {
            out.push(b'/');
        }
        out.extend_from_slice(b"</a></td><td class=n");
        if dir {
            out.extend_from_slice(b">-");
        } else {
            out.extend_from_slice(b" title=\"");
            push_decimal(out, e.size, 1);
            out.extend_from_slice(b" bytes\">");
            size_text(e.size, out);
        }
        out.extend_from_slice(b"</td><td>");
        date_text(e.mtime, out);
        out.extend_from_slice(b"</td></tr>\n");
    }

    fn epilogue(&self, cut: bool, out: &mut Vec<u8>) {
        if self.json {
            out.extend_from_slice(b"\n],\n\"truncated\": ");
            out.extend_from_slice(if cut { b"true" } else { b"false" });
            out.extend_from_slice(b",\n\"max_entries\": ");
            push_decimal(out, self.max as u64, 1);
            out.extend_from_slice(b"}\n");
            return;
        }
        out.extend_from_slice(b"</table>\n");
        if cut {
            out.extend_from_slice(b"<p><strong>Listing cut at ");
            push_decimal(out, self.max as u64, 1);
            out.extend_from_slice(
                b" entries</strong> (--autoindex-max-entries): the directory holds more.</p>\n",
            );
        }
        out.extend_from_slice(b"</body></html>\n");
    }
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
fn href(name: &[u8], dir: bool, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    let mut rest = name;
    while !rest.is_empty() {
        let run = rest.iter().position(|&b| !plain(b)).unwrap_or(rest.len());
        out.extend_from_slice(&rest[..run]);
        let Some(&b) = rest.get(run) else {
            break;
        };
        out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        rest = &rest[run + 1..];
    }
    if dir {
        out.push(b'/');
    }
}

/// Text for HTML: `& < > " '` escaped; runs without them copied whole.
fn html_text(s: &[u8], out: &mut Vec<u8>) {
    let mut rest = s;
    while let Some(at) = rest.iter().position(|b| b"&<>\"'".contains(b)) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(match rest[at] {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            _ => b"&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
}

/// A name as HTML text: itself when it is UTF-8 (nearly always, and no copy), else with
/// U+FFFD for what is not.
fn name_text(name: &[u8], out: &mut Vec<u8>) {
    match std::str::from_utf8(name) {
        Ok(_) => html_text(name, out),
        Err(_) => html_text(String::from_utf8_lossy(name).as_bytes(), out),
    }
}

/// A size for people: `812 B`, `1.5 KiB`, `3.0 MiB` (one decimal, rounded down).
fn size_text(size: u64, out: &mut Vec<u8>) {
    const UNITS: [&[u8]; 5] = [b"B", b"KiB", b"MiB", b"GiB", b"TiB"];
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
        out.push(b'.');
        push_decimal(out, (size % unit_bytes) * 10 / unit_bytes, 1);
    }
    out.push(b' ');
    out.extend_from_slice(UNITS[unit]);
}

/// `YYYY-MM-DD HH:MM` (UTC).
fn date_text(secs: i64, out: &mut Vec<u8>) {
    let (year, month, day) = crate::http::date::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    push_decimal(out, u64::try_from(year).unwrap_or(0), 4);
    out.push(b'-');
    push_decimal(out, u64::from(month), 2);
    out.push(b'-');
    push_decimal(out, u64::from(day), 2);
    out.push(b' ');
    push_decimal(out, (rem / 3600) as u64, 2);
    out.push(b':');
    push_decimal(out, (rem % 3600 / 60) as u64, 2);
}

/// `n` in decimal, zero-padded to `width` digits: the listing writes a thousand rows, so no
/// formatting machinery per field.
fn push_decimal(out: &mut Vec<u8>, n: u64, width: usize) {
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
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn names_are_encoded_for_links_and_escaped_for_text() {
        assert_eq!(
            text(|o| href(b"a \"q\"<x>#?%.txt", false, o)),
            "a%20%22q%22%3Cx%3E%23%3F%25.txt"
        );
        assert_eq!(text(|o| href(&[0xff, b'd'], true, o)), "%FFd/");
        assert_eq!(
            text(|o| html_text(b"<a href='x'>&\"", o)),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert_eq!(text(|o| name_text(b"a\xffb<", o)), "a\u{fffd}b&lt;");
    }

    #[test]
    fn dates_and_sizes() {
        assert_eq!(text(|o| date_text(0, o)), "1970-01-01 00:00");
        assert_eq!(text(|o| date_text(1_796_000_000, o)), "2026-11-30 00:53");
        assert_eq!(text(|o| date_text(951_782_400, o)), "2000-02-29 00:00");
        assert_eq!(text(|o| date_text(-1, o)), "1969-12-31 23:59");
        assert_eq!(text(|o| size_text(0, o)), "0 B");
        assert_eq!(text(|o| size_text(512, o)), "512 B");
        assert_eq!(text(|o| size_text(1536, o)), "1.5 KiB");
        assert_eq!(text(|o| size_text(1024 * 1024 - 1, o)), "1023.9 KiB");
        assert_eq!(text(|o| size_text(3 << 20, o)), "3.0 MiB");
        assert_eq!(text(|o| size_text(u64::MAX, o)), "16777215.9 TiB");
        assert_eq!(
            text(|o| {
                push_decimal(o, 7, 4);
                push_decimal(o, 123_456, 2);
            }),
            "0007123456"
        );
    }

    #[test]
    fn json_rows_parse_and_whole_equals_streamed_parts() {
        let r = Render {
            json: true,
            path: b"/d\"ir/".to_vec(),
            max: 5,
        };
        let entries = [
            DirEntry {
                name: b"sub".to_vec(),
                kind: Kind::Dir,
                size: 4096,
                mtime: -5,
            },
            DirEntry {
                name: b"a \"b\"\xff".to_vec(),
                kind: Kind::File,
                size: 3,
                mtime: 1_796_000_000,
            },
        ];
        let mut out = Vec::new();
        r.preamble(&mut out);
        for (i, e) in entries.iter().enumerate() {
            r.row(e, i == 0, &mut out);
        }
        r.epilogue(true, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["path"], "/d\"ir/");
        assert_eq!(v["entries"][0]["type"], "directory");
        assert_eq!(v["entries"][0]["size"], serde_json::Value::Null);
        assert_eq!(v["entries"][0]["mtime"], -5);
        assert_eq!(v["entries"][1]["name"], "a \"b\"\u{fffd}");
        assert_eq!(v["entries"][1]["href"], "a%20%22b%22%FF");
        assert_eq!(v["truncated"], true);
        assert_eq!(v["max_entries"], 5);
        let mut empty = Vec::new();
        r.preamble(&mut empty);
        r.epilogue(false, &mut empty);
        let v: serde_json::Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(v["entries"], serde_json::json!([]));
    }
}
