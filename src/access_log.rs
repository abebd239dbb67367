//! `--access-log PATH|-`: one line per request, in the combined log format (or JSON with
//! `--log-format json`, which also names the connection and the request's place on it, so the
//! requests a proxy pooled or pipelined onto one connection can be told apart; the combined
//! format stays exactly the one log tools parse). Lines are appended to a per-worker buffer and written out at least once
//! a second (or at 64 KiB), so the event loop never waits on the log per request. SIGUSR1
//! reopens the file.
//!
//! Over TLS a line says so: in JSON, `tls_version`, `tls_cipher`, `sni` and `tls_resumed`; in
//! the combined format, one more quoted field after the user agent (`"TLSv1.3
//! TLS13_AES_128_GCM_SHA256 sni=example.com resumed"`), as nginx logs `$ssl_protocol` and
//! `$ssl_cipher` there; plaintext lines are unchanged.
//!
//! Whole lines or nothing: what a write does not take (a full disk, a stalled stdout reader)
//! stays in the buffer and is retried from the exact byte where it stopped, so the file never
//! holds half a line followed by another line. Beyond a 1 MiB backlog, new lines are dropped
//! whole and counted (`/metrics`, `/status`), and the error is logged at most once a second.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use tracing::{info, warn};

use crate::http::date::civil_from_days;
use crate::http::Request;
use crate::ids::ConnectionId;
use crate::peer::TlsFacts;
use crate::sys::net::{self, IoOutcome};

const FLUSH_EVERY: Duration = Duration::from_secs(1);
const FLUSH_AT: usize = 64 * 1024;
const MAX_BACKLOG: usize = 1024 * 1024;
/// At most one error line about the access log per this interval.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Which exchange a line is about: the connection (as `/inspect` names it) and the request's
/// place on it, 0 for the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeId {
    pub connection: ConnectionId,
    pub request_index: u64,
}

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
    /// The buffer starts in the middle of a line whose beginning was written already.
    mid_line: bool,
    /// Lines dropped (the backlog was full), not yet taken by `take_dropped`.
    dropped: u64,
    /// Lines dropped since the last error report, and why writes fail, if they do.
    unreported: u64,
    failing: Option<Errno>,
    last_report: Option<Instant>,
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
            mid_line: false,
            dropped: 0,
            unreported: 0,
            failing: None,
            last_report: None,
        })
    }

    /// Appends one line. `request` is `None` when the request could not be parsed; `bytes` is
    /// the response body's length; `tls`, what the connection's handshake settled.
    pub fn record(
        &mut self,
        peer: Option<SocketAddr>,
        request: Option<&Request<'_>>,
        status: u16,
        bytes: u64,
        exchange: ExchangeId,
        tls: Option<&TlsFacts>,
    ) {
        if self.buf.len() >= MAX_BACKLOG {
            self.dropped += 1;
            self.unreported += 1;
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.clock.0 != now {
            self.clock = (now, clf_time(now));
        }
        let field = |name: &[u8]| request.and_then(|r| r.field(name)).and_then(text);
        let referer = field(b"referer").unwrap_or("-");
        let agent = field(b"user-agent").unwrap_or("-");
        let request = request
            .and_then(Request::request_line)
            .and_then(text)
            .unwrap_or("-");
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
            let _ = write!(
                out,
                "\",\"connection\":\"{}\",\"request_index\":{}",
                exchange.connection, exchange.request_index
            );
            if let Some(tls) = tls {
                let _ = write!(
                    out,
                    ",\"tls_version\":\"{}\",\"tls_cipher\":\"{}\",\"sni\":\"",
                    tls.version, tls.cipher
                );
                escape_into(out, tls.server_name.as_deref().unwrap_or(""), Escape::Json);
                let _ = write!(out, "\",\"tls_resumed\":{}", tls.resumed);
            }
            out.extend_from_slice(b"}\n");
        } else {
            write_remote(out, peer);
            let _ = write!(out, " - - {time} \"");
            escape_into(out, request, Escape::Clf);
            let _ = write!(out, "\" {status} {bytes} \"");
            escape_into(out, referer, Escape::Clf);
            out.extend_from_slice(b"\" \"");
            escape_into(out, agent, Escape::Clf);
            out.push(b'"');
            if let Some(tls) = tls {
                let _ = write!(out, " \"{} {}", tls.version, tls.cipher);
                if let Some(name) = tls.server_name.as_deref() {
                    out.extend_from_slice(b" sni=");
                    escape_into(out, name, Escape::Clf);
                }
                if tls.resumed {
                    out.extend_from_slice(b" resumed");
                }
                out.push(b'"');
            }
            out.push(b'\n');
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
        self.report(now);
    }

    /// Writes as much of the buffer as the target takes; the rest stays for the next flush.
    pub fn flush(&mut self) {
        let stdout = io::stdout();
        let (fd, end) = match &self.target {
            Target::File { file, .. } => (file.as_fd(), self.whole_lines_that_fit(file)),
            Target::Stdout => (stdout.as_fd(), self.buf.len()),
        };
        let mut written = 0;
        let mut failure = (end < self.buf.len()).then_some(Errno::ENOSPC);
        while written < end {
            match net::write_some(fd, &self.buf[written..end]) {
                IoOutcome::Done(n) => written += n,
                // A stalled reader (stdout): the rest waits for the next flush.
                IoOutcome::WouldBlock => break,
                IoOutcome::Eof => break,
                IoOutcome::Closed => {
                    failure = Some(Errno::EPIPE);
                    break;
                }
                IoOutcome::Failed(errno) => {
                    failure = Some(errno);
                    break;
                }
            }
        }
        if written > 0 {
            self.mid_line = self.buf[written - 1] != b'\n';
            self.buf.drain(..written);
        }
        match (failure, self.failing) {
            (Some(errno), _) => self.failing = Some(errno),
            (None, Some(_)) if self.buf.is_empty() => {
                self.failing = None;
                info!("access log writes again");
            }
            _ => {}
        }
    }

    /// How much of the buffer to write to `file`: all of it if the file system has the room,
    /// else the whole lines that fit (a write that fails half-way through a line would end the
    /// file with half a line until there is room again). The room is the file system's own
    /// estimate; a write that still comes up short keeps its tail for the next flush.
    fn whole_lines_that_fit(&self, file: &File) -> usize {
        let Ok(fs) = nix::sys::statvfs::fstatvfs(file) else {
            return self.buf.len();
        };
        let room = fs.blocks_available().saturating_mul(fs.fragment_size());
        if room >= self.buf.len() as u64 {
            return self.buf.len();
        }
        let room = room as usize;
        self.buf[..room]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
    }

    /// Dropped lines not counted yet (the worker adds them to its shared figures).
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// One error line at most per `REPORT_EVERY` while writes fail or lines are dropped.
    fn report(&mut self, now: Instant) {
        if self.failing.is_none() && self.unreported == 0 {
            return;
        }
        if self
            .last_report
            .is_some_and(|at| now.duration_since(at) < REPORT_EVERY)
        {
            return;
        }
        self.last_report = Some(now);
        let error = self.failing.map_or_else(String::new, |e| e.to_string());
        warn!(
            %error,
            waiting_bytes = self.buf.len(),
            dropped_lines = self.unreported,
            "access log is not being written; lines are kept up to 1 MiB, then dropped whole"
        );
        self.unreported = 0;
    }

    /// Reopens the file at its path (after logrotate moved it, or once a full disk has room
    /// again). What the old file will not take goes to the new one, starting at a line: the
    /// rest of a line begun in the old file is dropped rather than torn across two files.
    pub fn reopen(&mut self) {
        self.flush();
        if let Target::File { path, file } = &mut self.target {
            match open(path) {
                Ok(new) => *file = new,
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "could not reopen the access log");
                    return;
                }
            }
        }
        if self.mid_line {
            let rest = self
                .buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.buf.len(), |i| i + 1);
            self.buf.drain(..rest);
            self.mid_line = false;
            self.dropped += 1;
            self.unreported += 1;
        }
        self.flush();
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

/// Bytes as text, if they are UTF-8.
fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
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
        let head = b"\r\nGET /x?y HTTP/1.1\r\nHost: h\r\nUser-Agent: t \"q\"\r\nReferer: r\r\n\r\n";
        let (parsed, _) = crate::proto::h1::parse::parse_head(head, &Default::default())
            .unwrap()
            .unwrap();
        let request = Some(&parsed.request);
        let exchange = ExchangeId {
            connection: ConnectionId {
                pid: 7,
                token: 1 << 32,
            },
            request_index: 2,
        };
        log.record(
            Some("127.0.0.1:5".parse().unwrap()),
            request,
            200,
            13,
            exchange,
            None,
        );
        log.record(None, None, 400, 12, exchange, None);
        let tls = TlsFacts {
            version: "TLSv1.3",
            cipher: "TLS13_AES_128_GCM_SHA256",
            server_name: Some("a.example".into()),
            alpn: None,
            resumed: true,
            client_cert: None,
        };
        log.record(None, request, 200, 1, exchange, Some(&tls));
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
        let over_tls = lines.next().unwrap();
        assert!(
            over_tls.ends_with("\" \"TLSv1.3 TLS13_AES_128_GCM_SHA256 sni=a.example resumed\""),
            "{over_tls}"
        );
        let mut json = AccessLog::open(path.to_str().unwrap(), true).unwrap();
        json.record(None, request, 404, 10, exchange, Some(&tls));
        json.flush();
        let last = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_string();
        assert!(last.starts_with("{\"remote\":\"-\",\"time\":\""), "{last}");
        assert!(last.contains("\"status\":404,\"bytes\":10"));
        assert!(
            last.ends_with(
                ",\"connection\":\"7-4294967296\",\"request_index\":2,\"tls_version\":\
                 \"TLSv1.3\",\"tls_cipher\":\"TLS13_AES_128_GCM_SHA256\",\"sni\":\"a.example\",\
                 \"tls_resumed\":true}"
            ),
            "{last}"
        );
        serde_json::from_str::<serde_json::Value>(&last).expect("a JSON line");
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
