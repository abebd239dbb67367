//! `--access-log PATH|-`: one line per request, in the combined log format (or JSON with
//! `--log-format json`). Lines are appended to a per-worker buffer and written out at least once
//! a second (or at 64 KiB), so the event loop never waits on the log per request. SIGUSR1
//! reopens the file. To stdout the writes are nonblocking: if the reader stalls, lines beyond a
//! 1 MiB backlog are dropped and counted, never waited for.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::proto::http::date::civil_from_days;
use crate::sys::net::{self, IoOutcome};

const FLUSH_EVERY: Duration = Duration::from_secs(1);
const FLUSH_AT: usize = 64 * 1024;
const MAX_BACKLOG: usize = 1024 * 1024;

enum Target {
    File { path: PathBuf, file: File },
    Stdout,
}

pub struct AccessLog {
    target: Target,
    json: bool,
    buf: Vec<u8>,
    last_flush: Instant,
    /// The current second and its `[10/Oct/2000:13:55:36 +0000]` text.
    clock: (u64, String),
    /// Lines dropped because stdout did not keep up.
    pub dropped: u64,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.target {
            Target::File { path, .. } => path.display().to_string(),
            Target::Stdout => "-".to_string(),
        };
        f.debug_struct("AccessLog")
            .field("target", &target)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

fn open(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl AccessLog {
    /// `-` is stdout; anything else a file opened for appending.
    ///
    /// # Errors
    /// If the file cannot be opened.
    pub fn open(spec: &str, json: bool) -> io::Result<AccessLog> {
        let target = if spec == "-" {
            Target::Stdout
        } else {
            let path = PathBuf::from(spec);
            let file = open(&path)?;
            Target::File { path, file }
        };
        Ok(AccessLog {
            target,
            json,
            buf: Vec::with_capacity(FLUSH_AT),
            last_flush: Instant::now(),
            clock: (u64::MAX, String::new()),
            dropped: 0,
        })
    }

    /// Appends one line. `head` is the raw request head (`None` when the request could not be
    /// parsed); `bytes` is the response body length.
    pub fn record(
        &mut self,
        peer: Option<SocketAddr>,
        head: Option<&[u8]>,
        status: u16,
        bytes: u64,
    ) {
        if self.buf.len() >= MAX_BACKLOG {
            self.dropped += 1;
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.clock.0 != now {
            self.clock = (now, clf_time(now));
        }
        let request = head.map(request_line).unwrap_or("-");
        let referer = head.and_then(|h| header(h, "referer")).unwrap_or("-");
        let agent = head.and_then(|h| header(h, "user-agent")).unwrap_or("-");
        // Written straight into the buffer: no String per field.
        let out = &mut self.buf;
        let time = &self.clock.1;
        if self.json {
            out.extend_from_slice(b"{\"remote\":\"");
            write_remote(out, peer);
            let _ = write!(
                out,
                "\",\"time\":\"{}\",\"request\":\"",
                &time[1..time.len() - 1]
            );
            escape_into(out, request, Escape::Json);
            let _ = write!(
                out,
                "\",\"status\":{status},\"bytes\":{bytes},\"referer\":\""
            );
            escape_into(out, referer, Escape::Json);
            out.extend_from_slice(b"\",\"user_agent\":\"");
            escape_into(out, agent, Escape::Json);
            out.extend_from_slice(b"\"}\n");
        } else {
            write_remote(out, peer);
            let _ = write!(out, " - - {time} \"");
            escape_into(out, request, Escape::Clf);
            let _ = write!(out, "\" {status} {bytes} \"");
            escape_into(out, referer, Escape::Clf);
            out.extend_from_slice(b"\" \"");
            escape_into(out, agent, Escape::Clf);
            out.extend_from_slice(b"\"\n");
        }
    }

    /// Writes the buffer out if a second has passed or it is large.
    pub fn maybe_flush(&mut self, now: Instant) {
        if !self.buf.is_empty()
            && (self.buf.len() >= FLUSH_AT || now - self.last_flush >= FLUSH_EVERY)
        {
            self.flush();
            self.last_flush = now;
        }
    }

    pub fn flush(&mut self) {
        match &mut self.target {
            Target::File { file, .. } => {
                if file.write_all(&self.buf).is_err() {
                    self.dropped += 1;
                }
                self.buf.clear();
            }
            Target::Stdout => {
                let stdout = io::stdout();
                let mut written = 0;
                while written < self.buf.len() {
                    match net::write_some(stdout.as_fd(), &self.buf[written..]) {
                        IoOutcome::Done(n) => written += n,
                        // A stalled reader: keep the rest for the next flush (bounded above).
                        _ => break,
                    }
                }
                self.buf.drain(..written);
            }
        }
    }

    /// Reopens the file at its path (after logrotate moved it).
    pub fn reopen(&mut self) {
        self.flush();
        if let Target::File { path, file } = &mut self.target {
            if let Ok(new) = open(path) {
                *file = new;
            }
        }
    }
}

/// `[23/Nov/2026:11:04:17 +0000]`.
fn clf_time(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "[{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000]",
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn request_line(head: &[u8]) -> &str {
    let end = head
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(head.len());
    std::str::from_utf8(&head[..end]).unwrap_or("-")
}

fn header<'h>(head: &'h [u8], name: &str) -> Option<&'h str> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let (n, v) = std::str::from_utf8(line).ok()?.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The client's address, or `-`.
fn write_remote(out: &mut Vec<u8>, peer: Option<SocketAddr>) {
    match peer {
        Some(p) => {
            let _ = write!(out, "{}", p.ip());
        }
        None => out.push(b'-'),
    }
}

/// How control characters are written: `\x01` in the combined format, `\u0001` in JSON.
#[derive(Clone, Copy)]
enum Escape {
    Clf,
    Json,
}

/// Appends `s` with quotes, backslashes and control characters escaped, so a client cannot
/// forge log lines.
fn escape_into(out: &mut Vec<u8>, s: &str, style: Escape) {
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if c.is_control() => {
                let _ = match style {
                    Escape::Clf => write!(out, "\\x{:02x}", c as u32),
                    Escape::Json => write!(out, "\\u{:04x}", c as u32),
                };
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_and_json_lines() {
        let dir = std::env::temp_dir().join(format!("prefork-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.log");
        let mut log = AccessLog::open(path.to_str().unwrap(), false).unwrap();
        let head = b"GET /x?y HTTP/1.1\r\nHost: h\r\nUser-Agent: t \"q\"\r\nReferer: r\r\n\r\n";
        log.record(Some("127.0.0.1:5".parse().unwrap()), Some(head), 200, 13);
        log.record(None, None, 400, 12);
        log.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let first = lines.next().unwrap();
        assert!(first.starts_with("127.0.0.1 - - ["), "{first}");
        assert!(
            first.ends_with("\"GET /x?y HTTP/1.1\" 200 13 \"r\" \"t \\\"q\\\"\""),
            "{first}"
        );
        assert!(lines.next().unwrap().contains("\"-\" 400 12 \"-\" \"-\""));
        let mut json = AccessLog::open(path.to_str().unwrap(), true).unwrap();
        json.record(None, Some(head), 404, 10);
        json.flush();
        let last = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_string();
        assert!(last.starts_with("{\"remote\":\"-\",\"time\":\""), "{last}");
        assert!(last.contains("\"status\":404,\"bytes\":10"));
        assert_eq!(clf_time(1_795_431_857), "[23/Nov/2026:11:04:17 +0000]");
        for (style, want) in [
            (Escape::Clf, "a\\\"b\\\\c\\x01é"),
            (Escape::Json, "a\\\"b\\\\c\\u0001é"),
        ] {
            let mut out = Vec::new();
            escape_into(&mut out, "a\"b\\c\u{1}é", style);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
