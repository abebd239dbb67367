//! Our answers against the original httpbin's, case by case: `tests/fixtures/httpbin/cases.json`
//! holds raw requests and what httpbin (Python) answered them, recorded by `record.py` beside
//! it. Each case goes through our state machine; the status, the media type and the JSON shape
//! must match: the same keys at every level, the same values, except what depends on the
//! machine (`origin`, the `uuid`, a random `ETag`), and our one addition, a `method` member in
//! every echo (as go-httpbin has).

use std::io::Read;

use serde_json::Value;

use crate::buffer::{Buf, BufPool};
use crate::memory::Use;
use crate::output::Output;
use crate::proto::h1::Http1;
use crate::proto::Next;
use crate::testing::TestSite;

const CASES: &str = include_str!("../../../tests/fixtures/httpbin/cases.json");

/// One response: status, head fields (lower-case names), body (de-chunked).
struct Answer {
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Runs one raw request through the HTTP state machine and parses the first response.
fn answer(raw: &[u8]) -> Answer {
    let site = TestSite::new(Default::default());
    let ctx = site.env(1 << 20);
    let mut pool = BufPool::new(1 << 20, 2);
    let mut http = Http1::new();
    let mut input = Buf::new();
    pool.fill(&mut input);
    input.spare_mut()[..raw.len()].copy_from_slice(raw);
    input.commit(raw.len());
    let mut output = Output::new();
    pool.fill(output.buffer());
    let mut out = Vec::new();
    for _ in 0..100 {
        let next = http.on_data(&mut input, &mut output, &ctx, &mut *site.app());
        let freed = output.drain_into(&mut out);
        site.budget.release(freed, Use::Output);
        if matches!(next, Next::Close | Next::NeedInput) {
            break;
        }
    }
    http.release(&site.budget);
    parse(&out)
}

fn parse(bytes: &[u8]) -> Answer {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head")
        + 4;
    let head = String::from_utf8_lossy(&bytes[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let fields: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &bytes[end..];
    let mut body = if fields
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
    {
        dechunk(rest)
    } else {
        let len = fields
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        rest[..len].to_vec()
    };
    let encoding = fields
        .iter()
        .find(|(n, _)| n == "content-encoding")
        .map(|(_, v)| v.clone());
    body = match encoding.as_deref() {
        Some("gzip") => read_all(flate2::read::GzDecoder::new(&body[..])),
        Some("deflate") => read_all(flate2::read::ZlibDecoder::new(&body[..])),
        Some("br") => read_all(brotli::Decompressor::new(&body[..], 4096)),
        _ => body,
    };
    Answer {
        status,
        fields,
        body,
    }
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out)
        .expect("a well-formed compressed body");
    out
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap(), 16).unwrap();
        rest = &rest[nl + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Compares two JSON values; `path` names where, for the message.
fn same_shape(ours: &Value, theirs: &Value, path: &str, failures: &mut Vec<String>) {
    let machine_bound = ["origin", "uuid"];
    if machine_bound
        .iter()
        .any(|k| path.ends_with(&format!("/{k}")))
    {
        if ours.is_string() != theirs.is_string() {
            failures.push(format!("{path}: {ours} is not like {theirs}"));
        }
        return;
    }
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            for key in b.keys() {
                match a.get(key) {
                    Some(v) => same_shape(v, &b[key], &format!("{path}/{key}"), failures),
                    None => failures.push(format!("{path}: missing {key}")),
                }
            }
            for key in a.keys().filter(|k| !b.contains_key(*k)) {
                // Our one addition: the method, in every echo.
                let echo = a.contains_key("headers") || a.contains_key("args");
                if !(key == "method" && echo && path.is_empty()) {
                    failures.push(format!("{path}: extra {key}"));
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => failures.push(format!("{path}: {a} != {b}")),
    }
}

#[test]
fn every_recorded_case_has_httpbins_shape() {
    let fixtures: Value = serde_json::from_str(CASES).unwrap();
    let cases = fixtures["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "the fixtures are all there");
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        // record.py wrote the raw bytes as Latin-1 text.
        let raw: Vec<u8> = case["request"]
            .as_str()
            .unwrap()
            .chars()
            .map(|c| c as u8)
            .collect();
        let ours = answer(&raw);
        let status = case["status"].as_u64().unwrap() as u16;
        if ours.status != status {
            failures.push(format!("{name}: status {} != {status}", ours.status));
            continue;
        }
        match case["kind"].as_str().unwrap() {
            "json" => {
                let ct = ours.field("content-type").unwrap_or("");
                if !ct.starts_with("application/json") {
                    failures.push(format!("{name}: content-type {ct}"));
                }
                let mut theirs = case["body"].clone();
                // What httpbin lists as its own response's length differs with its headers.
                if name == "response_headers" {
                    theirs["Content-Length"] = Value::Null;
                }
                let mut value: Value = match serde_json::from_slice(&ours.body) {
                    Ok(v) => v,
                    Err(e) => {
                        failures.push(format!("{name}: not JSON ({e})"));
                        continue;
                    }
                };
                if name == "response_headers" {
                    value["Content-Length"] = Value::Null;
                }
                let mut found = Vec::new();
                same_shape(&value, &theirs, "", &mut found);
                failures.extend(found.into_iter().map(|f| format!("{name}{f}")));
            }
            _ => {
                let theirs = case["body"].as_str().unwrap();
                let ours = String::from_utf8_lossy(&ours.body);
                // httpbin's templates lose their last newline (Jinja); the text is the same.
                if ours.trim_end() != theirs.trim_end() {
                    failures.push(format!("{name}: body {ours:?} != {theirs:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "differences:\n{}", failures.join("\n"));
}
