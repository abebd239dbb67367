//! The commands that ask a running server: `prefork-server status --port P` fetches `/status`
//! and prints a table, so an operator can look without curl and jq; `prefork-server
//! healthcheck` asks `/healthz`, for a container image that has no curl.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// A JSON value as `/status` writes it: numbers, objects and arrays only.
#[derive(Debug, PartialEq)]
enum Json {
    Num(u64),
    Obj(Vec<(String, Json)>),
    Arr(Vec<Json>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn num(&self, key: &str) -> u64 {
        match self.get(key) {
            Some(Json::Num(n)) => *n,
            _ => 0,
        }
    }
}

/// A small parser for exactly what `/status` produces; anything else is an error.
fn parse(text: &str) -> Result<Json, String> {
    let bytes = text.trim().as_bytes();
    let (value, rest) = value(bytes)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err("trailing bytes after the JSON value".into())
    }
}

fn value(b: &[u8]) -> Result<(Json, &[u8]), String> {
    match b.first() {
        Some(b'{') => {
            let mut fields = Vec::new();
            let mut rest = &b[1..];
            if rest.first() == Some(&b'}') {
                return Ok((Json::Obj(fields), &rest[1..]));
            }
            loop {
                let r = rest.strip_prefix(b"\"").ok_or("expected a key")?;
                let end = r
                    .iter()
                    .position(|&c| c == b'"')
                    .ok_or("unterminated key")?;
                let key = String::from_utf8_lossy(&r[..end]).into_owned();
                let r = r[end + 1..].strip_prefix(b":").ok_or("expected ':'")?;
                let (v, r) = value(r)?;
                fields.push((key, v));
                match r.first() {
                    Some(b',') => rest = &r[1..],
                    Some(b'}') => return Ok((Json::Obj(fields), &r[1..])),
                    _ => return Err("expected ',' or '}'".into()),
                }
            }
        }
        Some(b'[') => {
            let mut items = Vec::new();
            let mut rest = &b[1..];
            if rest.first() == Some(&b']') {
                return Ok((Json::Arr(items), &rest[1..]));
            }
            loop {
                let (v, r) = value(rest)?;
                items.push(v);
                match r.first() {
                    Some(b',') => rest = &r[1..],
                    Some(b']') => return Ok((Json::Arr(items), &r[1..])),
                    _ => return Err("expected ',' or ']'".into()),
                }
            }
        }
        Some(c) if c.is_ascii_digit() => {
            let end = b
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(b.len());
            let n = std::str::from_utf8(&b[..end])
                .unwrap()
                .parse()
                .map_err(|_| "number too large")?;
            Ok((Json::Num(n), &b[end..]))
        }
        _ => Err("unexpected byte".into()),
    }
}

/// Renders the status as a table.
fn table(status: &Json) -> String {
    let mut out = String::new();
    let header = [
        "slot",
        "pid",
        "gen",
        "conns",
        "max",
        "accepted",
        "requests",
        "2xx",
        "4xx",
        "5xx",
        "bytes in",
        "bytes out",
        "timeouts",
        "bad req",
        "loop turns",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    if let Some(Json::Arr(workers)) = status.get("workers") {
        for w in workers {
            let r = w.get("responses");
            let class = |k: &str| r.map_or(0, |r| r.num(k)).to_string();
            rows.push(vec![
                w.num("slot").to_string(),
                w.num("pid").to_string(),
                w.num("generation").to_string(),
                w.num("connections").to_string(),
                w.num("connections_max").to_string(),
                w.num("accepted").to_string(),
                w.num("requests").to_string(),
                class("2xx"),
                class("4xx"),
                class("5xx"),
                w.num("bytes_in").to_string(),
                w.num("bytes_out").to_string(),
                w.num("timeouts").to_string(),
                w.num("parse_errors").to_string(),
                w.num("loop_turns").to_string(),
            ]);
        }
    }
    if let Some(t) = status.get("totals") {
        let n = |k: &str| t.num(k).to_string();
        rows.push(vec![
            "total".into(),
            format!("{} workers", t.num("workers")),
            String::new(),
            n("connections"),
            String::new(),
            n("accepted"),
            n("requests"),
            String::new(),
            String::new(),
            String::new(),
            n("bytes_in"),
            n("bytes_out"),
            n("timeouts"),
            n("parse_errors"),
            String::new(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:>w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    if let Some(r) = status.get("restarts") {
        let _ = writeln!(
            out,
            "restarts: {} crashed, {} hung, {} recycled",
            r.num("crashed"),
            r.num("hung"),
            r.num("recycled")
        );
    }
    if let Some(h) = status.get("health") {
        let _ = match (
            h.num("draining"),
            h.num("fail_status"),
            h.num("fail_percent"),
        ) {
            (0, 0, _) => writeln!(out, "health: ok"),
            (0, s, p) => writeln!(out, "health: failing with {s} for {p}% of checks"),
            _ => writeln!(out, "health: draining"),
        };
    }
    out
}

/// Fetches `/status` from `host:port` and prints it; returns the process exit code.
pub fn run(host: IpAddr, port: u16) -> i32 {
    let addr = SocketAddr::new(host, port);
    let fetched = fetch(addr, "/status", Duration::from_secs(5)).and_then(|(head, body)| {
        if head.starts_with("HTTP/1.1 200 ") {
            parse(&body).map_err(|e| format!("unexpected /status: {e}"))
        } else {
            Err(format!("answered {head}"))
        }
    });
    match fetched {
        Ok(status) => {
            print!("{}", table(&status));
            crate::error::exit::OK
        }
        Err(e) => {
            eprintln!("prefork-server status: {addr}: {e}");
            crate::error::exit::UNAVAILABLE
        }
    }
}

/// `prefork-server healthcheck`: 0 when `/healthz` answers 200, 1 otherwise (Docker's
/// HEALTHCHECK contract: 0 healthy, 1 unhealthy), with one line saying what was seen.
pub fn healthcheck(host: IpAddr, port: u16, timeout: Duration) -> i32 {
    let addr = SocketAddr::new(host, port);
    match fetch(addr, "/healthz", timeout) {
        Ok((head, body)) if head.starts_with("HTTP/1.1 200 ") => {
            println!("{addr}: {}", body.trim());
            crate::error::exit::OK
        }
        Ok((head, body)) => {
            eprintln!(
                "prefork-server healthcheck: {addr}: {head}: {}",
                body.trim()
            );
            crate::error::exit::FAILURE
        }
        Err(e) => {
            eprintln!("prefork-server healthcheck: {addr}: {e}");
            crate::error::exit::FAILURE
        }
    }
}

/// One HTTP/1.0 GET of `path`: the status line and the body (bounded: these answers are
/// small, and a stranger on the port must not make the command hold much).
fn fetch(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(String, String), String> {
    const MAX_ANSWER: u64 = 1 << 20;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.take(MAX_ANSWER)
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP response")?;
    let status = head.lines().next().unwrap_or("").to_string();
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_tabulates_a_status() {
        let text = r#"{"workers":[{"slot":0,"pid":42,"generation":1,"started_unix":1,"connections":3,"connections_max":5,"accepted":9,"closed":6,"requests":20,"responses":{"1xx":0,"2xx":18,"3xx":0,"4xx":2,"5xx":0},"bytes_in":100,"bytes_out":200,"parse_errors":1,"timeouts":0,"accept_errors":0,"loop_turns":7}],"totals":{"workers":1,"connections":3,"accepted":9,"closed":6,"requests":20,"bytes_in":100,"bytes_out":200,"parse_errors":1,"timeouts":0,"accept_errors":0},"restarts":{"crashed":1,"hung":0,"recycled":0},"health":{"draining":0,"fail_status":503,"fail_percent":30}}"#;
        let status = parse(text).unwrap();
        let t = table(&status);
        assert!(t.lines().next().unwrap().trim_start().starts_with("slot"));
        assert!(t.contains("42"), "{t}");
        assert!(t.contains("1 workers"));
        assert!(t.contains("restarts: 1 crashed, 0 hung, 0 recycled\n"));
        assert!(
            t.ends_with("health: failing with 503 for 30% of checks\n"),
            "{t}"
        );
        assert!(parse("{\"a\":x}").is_err());
        assert!(parse("[1,2").is_err());
    }
}
