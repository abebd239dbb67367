//! Talking to the httpbin routes: whole exchanges on a fresh connection (chunked bodies
//! de-chunked), with the body parsed as JSON when it is.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// One answer: status, head fields in order (names lower-cased), body (de-chunked), and the
/// chunk sizes when it was chunked.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub fields: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub chunks: Vec<usize>,
}

impl Answer {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `raw` on a new connection and reads the whole answer (the request should ask for
/// `Connection: close`, or be the only one).
pub(crate) fn exchange(addr: SocketAddr, raw: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(raw).unwrap();
    let head_only = raw.starts_with(b"HEAD ");
    let answer = read_answer(&mut s, head_only);
    if head_only {
        // Connection: close: nothing may follow the head.
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty(), "a body after a HEAD answer: {rest:?}");
    }
    answer
}

/// Reads one answer (interim 1xx answers skipped) from `s`.
pub(crate) fn read_answer(s: &mut impl Read, head_only: bool) -> Answer {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            fill(s, &mut buf);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end);
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next().unwrap()[9..12].parse().unwrap();
        if (100..200).contains(&status) {
            continue;
        }
        let fields: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut answer = Answer {
            status,
            fields,
            body: Vec::new(),
            chunks: Vec::new(),
        };
        if head_only || matches!(status, 204 | 304) {
            assert!(buf.is_empty(), "bytes after a bodiless answer: {buf:?}");
            return answer;
        }
        if answer.field("transfer-encoding") == Some("chunked") {
            loop {
                let nl = loop {
                    if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    fill(s, &mut buf);
                };
                let size = usize::from_str_radix(std::str::from_utf8(&buf[..nl]).unwrap(), 16)
                    .expect("a chunk size");
                buf.drain(..nl + 2);
                while buf.len() < size + 2 {
                    fill(s, &mut buf);
                }
                if size == 0 {
                    return answer;
                }
                answer.chunks.push(size);
                answer.body.extend_from_slice(&buf[..size]);
                buf.drain(..size + 2);
            }
        }
        let len: usize = answer
            .field("content-length")
            .map_or(0, |v| v.parse().unwrap());
        while buf.len() < len {
            fill(s, &mut buf);
        }
        answer.body = buf[..len].to_vec();
        return answer;
    }
}

fn fill(s: &mut impl Read, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 65536];
    let n = s.read(&mut chunk).expect("read");
    assert!(
        n > 0,
        "closed mid-answer: {:?}",
        String::from_utf8_lossy(buf)
    );
    buf.extend_from_slice(&chunk[..n]);
}

/// A request with `Host: bin.test`, `Connection: close` and the given extra header lines and
/// body (a Content-Length is added when there is one).
pub(crate) fn raw(method: &str, target: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: bin.test\r\nConnection: close\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// `GET target` with extra header lines.
pub(crate) fn get(addr: SocketAddr, target: &str, headers: &[&str]) -> Answer {
    exchange(addr, &raw("GET", target, headers, b""))
}
