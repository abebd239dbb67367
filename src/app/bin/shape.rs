//! Response shaping: `/response-headers`, `/cache[/{n}]`, `/etag/{etag}`, `/gzip`,
//! `/deflate`, `/brotli`, the static pages (`/html`, `/json`, `/xml`, `/robots.txt`, `/deny`,
//! `/encoding/utf8`), `/image[/{kind}]`, `/links/{n}[/{offset}]` and `/base64/{value}`.
//!
//! Nothing a client sends is reflected where it could become markup or a new header: header
//! names and values are checked before they are set, framing headers cannot be set at all, a
//! body that carries reflected values is HTML-escaped whenever its Content-Type is one a
//! browser might render, and decoded base64 is served as plain text.

use std::io::Write;

use base64::Engine;

use super::inspect;
use super::params;
use super::reply::{Body, Field, Resp, JSON};
use super::Kind;
use crate::http::conditional::{self, Preconditions, Validators, Verdict};
use crate::http::Reply;
use crate::http::StatusCode;

const HTML: &[u8] = b"text/html; charset=utf-8";
const TEXT: &[u8] = b"text/plain; charset=utf-8";

const MOBY: &[u8] = include_bytes!("../../../assets/httpbin/moby.html");
const SAMPLE_JSON: &[u8] = include_bytes!("../../../assets/httpbin/sample.json");
const SAMPLE_XML: &[u8] = include_bytes!("../../../assets/httpbin/sample.xml");
const UTF8: &[u8] = include_bytes!("../../../assets/httpbin/utf8.html");
const PNG: &[u8] = include_bytes!("../../../assets/httpbin/image.png");
const JPEG: &[u8] = include_bytes!("../../../assets/httpbin/image.jpeg");
const SVG: &[u8] = include_bytes!("../../../assets/httpbin/image.svg");
const WEBP: &[u8] = include_bytes!("../../../assets/httpbin/image.webp");
const ROBOTS: &[u8] = b"User-agent: *\nDisallow: /deny\n";
const DENY: &[u8] = b"\n          .-''''''-.\n        .' _      _ '.\n       /   O      O   \\\n      :                :\n      |                |\n      :       __       :\n       \\  .-\"`  `\"-.  /\n        '.          .'\n          '-......-'\n     YOU SHOULDN'T BE HERE\n";

/// Headers a client may not set through `/response-headers`: they frame the message or the
/// connection, and a second one would make the response ambiguous (a smuggling vector).
const FORBIDDEN: &[&[u8]] = &[
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"keep-alive",
    b"upgrade",
    b"te",
    b"trailer",
    b"proxy-connection",
];

/// `/links/{n}` lists at most this many (go-httpbin's limit).
const MAX_LINKS: u64 = 256;

pub(super) fn respond(kind: Kind, r: &mut Resp<'_, '_>) -> Reply {
    let page = |r: &mut Resp<'_, '_>, ct: &[u8], body: &'static [u8]| {
        r.send(StatusCode::Ok, Some(ct), &[], Body::Static(body))
    };
    match kind {
        Kind::ResponseHeaders => response_headers(r),
        Kind::Cache => cache(r),
        Kind::Etag => etag(r),
        Kind::Gzip | Kind::Deflate | Kind::Brotli => compressed(kind, r),
        Kind::Html => page(r, HTML, MOBY),
        Kind::JsonSample => page(r, JSON, SAMPLE_JSON),
        Kind::Xml => page(r, b"application/xml", SAMPLE_XML),
        Kind::Robots => page(r, TEXT, ROBOTS),
        Kind::Deny => page(r, TEXT, DENY),
        Kind::Utf8 => page(r, HTML, UTF8),
        Kind::Image => image(r),
        Kind::Links => links(r),
        Kind::Base64 => base64(r),
        _ => r.not_found(),
    }
}

/// RFC 9110 §5.5: a field value has no control character but HTAB.
fn valid_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// A media type a browser would not render as a page: reflected text in it is inert.
fn inert(content_type: &[u8]) -> bool {
    let media = super::forms::media_type(content_type);
    [
        &b"application/json"[..],
        b"text/plain",
        b"application/octet-stream",
    ]
    .iter()
    .any(|m| media.eq_ignore_ascii_case(m))
}

/// `<`, `>`, `&`, `'` and `"` as HTML entities.
fn html_escape(text: &[u8], out: &mut Vec<u8>) {
    for &b in text {
        match b {
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'\'' => out.extend_from_slice(b"&#39;"),
            b'"' => out.extend_from_slice(b"&#34;"),
            _ => out.push(b),
        }
    }
}

/// `/response-headers?Name=value...`: each pair set as a header, and the response's headers
/// as its JSON body, `Content-Length` included (settled by re-rendering, as httpbin does).
fn response_headers(r: &mut Resp<'_, '_>) -> Reply {
    let mut pairs = super::forms::Pairs::new();
    super::forms::parse_urlencoded(r.req.head.query, &mut pairs);
    for (name, value) in pairs.iter() {
        let token = !name.is_empty() && name.iter().all(|&b| crate::http::chars::is_tchar(b));
        if !token || !valid_value(value) {
            return r.bad_request("header names must be tokens and values printable (RFC 9110 §5)");
        }
        if FORBIDDEN.iter().any(|f| name.eq_ignore_ascii_case(f)) {
            let detail = format!(
                "{} frames the message and cannot be set",
                String::from_utf8_lossy(name)
            );
            return r.bad_request(&detail);
        }
    }
    let content_type = pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
        .map_or(JSON.to_vec(), |(_, v)| v.to_vec());
    let escape = !inert(&content_type);
    // The body lists the headers, Content-Length among them: render until it holds still.
    let mut length = 0usize;
    let mut body = Vec::new();
    for _ in 0..4 {
        let mut listed = super::forms::Pairs::new();
        listed.push(b"Content-Length", length.to_string().as_bytes());
        if !pairs
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
        {
            listed.push(b"Content-Type", JSON);
        }
        let mut escaped = (Vec::new(), Vec::new());
        for (name, value) in pairs.iter() {
            if escape {
                escaped.0.clear();
                escaped.1.clear();
                html_escape(name, &mut escaped.0);
                html_escape(value, &mut escaped.1);
                listed.push(&escaped.0, &escaped.1);
            } else {
                listed.push(name, value);
            }
        }
        body.clear();
        let mut j = super::json::Json::new(&mut body);
        super::request::write_grouped(&mut j, &mut listed);
        j.finish();
        if body.len() == length {
            break;
        }
        length = body.len();
    }
    let mut fields: Vec<Field> = pairs
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(b"content-type"))
        .collect();
    fields.push((b"X-Content-Type-Options", b"nosniff"));
    r.send(
        StatusCode::Ok,
        Some(&content_type),
        &fields,
        Body::Bytes(&body),
    )
}

/// The `/get` echo with extra headers.
fn get_echo(r: &mut Resp<'_, '_>, fields: &[Field]) -> Reply {
    let req = r.req;
    r.json(StatusCode::Ok, fields, &|j, work| {
        j.open();
        inspect::get_members(j, &req, work);
        j.close().finish();
    })
}

/// `/cache`: 304 if the request has `If-Modified-Since` or `If-None-Match`, else the `/get`
/// echo with validators; `/cache/{n}`: the echo with `Cache-Control: public, max-age=n`.
fn cache(r: &mut Resp<'_, '_>) -> Reply {
    let path = r.req.head.path;
    if path == b"/cache" {
        let conditional =
            r.req.field(b"if-modified-since").is_some() || r.req.field(b"if-none-match").is_some();
        if conditional {
            return r.send(StatusCode::NotModified, None, &[], Body::Static(b""));
        }
        let etag = format!("\"{}\"", String::from_utf8_lossy(&crate::rand::hex::<32>()));
        let date = r.ex.date.to_vec();
        return get_echo(r, &[(b"Last-Modified", &date), (b"ETag", etag.as_bytes())]);
    }
    let seconds = params::after(path, b"/cache/").and_then(|s| params::int::<u64>(&s));
    let Some(seconds) = seconds else {
        return r.bad_request("max-age must be a whole number of seconds");
    };
    let value = format!("public, max-age={seconds}");
    get_echo(r, &[(b"Cache-Control", value.as_bytes())])
}

/// `/etag/{etag}`: the `/get` echo with `ETag: "{etag}"`, and the preconditions of RFC 9110
/// §13.2.2 evaluated against it (If-None-Match → 304, If-Match → 412).
fn etag(r: &mut Resp<'_, '_>) -> Reply {
    let tag = params::after(r.req.head.path, b"/etag/").unwrap_or_default();
    // RFC 9110 §8.8.3 etagc: no quote, no space, no control.
    let valid = !tag.is_empty()
        && tag
            .iter()
            .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80);
    if !valid {
        return r.bad_request("an entity-tag is printable characters without quotes or spaces");
    }
    let mut quoted = b"\"".to_vec();
    quoted.extend_from_slice(&tag);
    quoted.push(b'"');
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let validators = Validators {
        etag: &quoted,
        last_modified: now,
    };
    let is_get = matches!(
        r.req.head.method,
        crate::http::Method::Get | crate::http::Method::Head
    );
    match conditional::evaluate(&Preconditions::of(r.req.head.fields), &validators, is_get) {
        Verdict::NotModified if is_get => r.send(
            StatusCode::NotModified,
            None,
            &[(b"ETag", &quoted)],
            Body::Static(b""),
        ),
        Verdict::NotModified | Verdict::Failed => {
            let status = StatusCode::PreconditionFailed;
            r.send(
                status,
                Some(b"text/plain"),
                &[(b"ETag", &quoted)],
                Body::Static(status.reason_body()),
            )
        }
        Verdict::Proceed { .. } => get_echo(r, &[(b"ETag", &quoted)]),
    }
}

/// `/gzip`, `/deflate` (zlib-wrapped, as httpbin and browsers mean it) and `/brotli`: a JSON
/// echo, compressed whatever Accept-Encoding says.
fn compressed(kind: Kind, r: &mut Resp<'_, '_>) -> Reply {
    let req = r.req;
    let (flag, encoding): (&[u8], &[u8]) = match kind {
        Kind::Gzip => (b"gzipped", b"gzip"),
        Kind::Deflate => (b"deflated", b"deflate"),
        _ => (b"brotli", b"br"),
    };
    let mut json = Vec::new();
    {
        let mut scratch = r.scratch();
        let work = &mut scratch.work;
        let mut j = super::json::Json::new(&mut json);
        j.open().key(flag).boolean(true);
        super::request::write_headers(&mut j, &req, work, b"headers");
        j.key(b"method").string(req.method());
        super::request::write_origin(&mut j, &req, &mut work.text);
        j.close().finish();
    }
    let body = match kind {
        Kind::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&json).and_then(|()| e.finish())
        }
        Kind::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&json).and_then(|()| e.finish())
        }
        _ => {
            let mut out = Vec::new();
            let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            let written = e.write_all(&json).and_then(|()| e.flush());
            drop(e);
            written.map(|()| out)
        }
    };
    match body {
        Ok(body) => r.send(
            StatusCode::Ok,
            Some(JSON),
            &[(b"Content-Encoding", encoding)],
            Body::Bytes(&body),
        ),
        Err(_) => r.error(StatusCode::Code(500), "compression failed"),
    }
}

/// `/image/{png,jpeg,svg,webp}`, or `/image` by the Accept header, in httpbin's order: webp,
/// svg, jpeg, then png for `image/png`, `image/*` or no Accept at all; else 406.
fn image(r: &mut Resp<'_, '_>) -> Reply {
    let kind = match r.req.head.path {
        b"/image/png" => Some("png"),
        b"/image/jpeg" => Some("jpeg"),
        b"/image/svg" => Some("svg"),
        b"/image/webp" => Some("webp"),
        b"/image" => {
            let accept = r.req.field(b"accept").unwrap_or(b"").to_ascii_lowercase();
            let has = |m: &[u8]| accept.windows(m.len()).any(|w| w == m);
            if accept.is_empty() {
                Some("png")
            } else if has(b"image/webp") {
                Some("webp")
            } else if has(b"image/svg+xml") {
                Some("svg")
            } else if has(b"image/jpeg") {
                Some("jpeg")
            } else if has(b"image/png") || has(b"image/*") {
                Some("png")
            } else {
                let status = StatusCode::Code(406);
                return r.send(
                    status,
                    Some(JSON),
                    &[],
                    Body::Static(super::status::ACCEPT_406),
                );
            }
        }
        _ => None,
    };
    let (ct, bytes): (&[u8], &'static [u8]) = match kind {
        Some("png") => (b"image/png", PNG),
        Some("jpeg") => (b"image/jpeg", JPEG),
        Some("svg") => (b"image/svg+xml", SVG),
        Some("webp") => (b"image/webp", WEBP),
        _ => return r.not_found(),
    };
    r.send(StatusCode::Ok, Some(ct), &[], Body::Static(bytes))
}

/// `/links/{n}/{offset}`: a page of n links to its siblings; `/links/{n}` redirects to the
/// first.
fn links(r: &mut Resp<'_, '_>) -> Reply {
    let rest = params::after(r.req.head.path, b"/links/").unwrap_or_default();
    let mut parts = rest.splitn(2, |&b| b == b'/');
    let n = parts
        .next()
        .and_then(params::int::<u64>)
        .filter(|&n| n <= MAX_LINKS);
    let offset = parts.next();
    let Some(n) = n else {
        return r.bad_request(&format!(
            "the number of links must be from 0 to {MAX_LINKS}"
        ));
    };
    let Some(offset) = offset else {
        let location = format!("/links/{n}/0");
        let fields = [(&b"Location"[..], location.as_bytes())];
        return r.send(StatusCode::Code(302), None, &fields, Body::Static(b""));
    };
    let Some(offset) = params::int::<i64>(offset) else {
        return r.bad_request("the offset must be a whole number");
    };
    let mut page = b"<html><head><title>Links</title></head><body>".to_vec();
    for i in 0..n {
        if i as i64 == offset {
            page.extend_from_slice(format!("{i} ").as_bytes());
        } else {
            page.extend_from_slice(format!("<a href='/links/{n}/{i}'>{i}</a> ").as_bytes());
        }
    }
    page.extend_from_slice(b"</body></html>");
    r.send(StatusCode::Ok, Some(HTML), &[], Body::Bytes(&page))
}

/// `/base64/{value}` and `/base64/decode/{value}` (URL-safe or standard alphabet, padded or
/// not), `/base64/encode/{value}`: the result as plain text (decoded bytes are never served
/// as a page: that would let any link run script on this server's origin).
fn base64(r: &mut Resp<'_, '_>) -> Reply {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let rest = params::after(r.req.head.path, b"/base64/").unwrap_or_default();
    let (encode, value) = if let Some(v) = rest.strip_prefix(b"encode/") {
        (true, v)
    } else if let Some(v) = rest.strip_prefix(b"decode/") {
        (false, v)
    } else {
        (false, &rest[..])
    };
    let result = if encode {
        Some(URL_SAFE.encode(value).into_bytes())
    } else {
        [URL_SAFE, URL_SAFE_NO_PAD, STANDARD, STANDARD_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(value).ok())
    };
    match result {
        Some(bytes) => {
            let fields = [(&b"X-Content-Type-Options"[..], &b"nosniff"[..])];
            r.send(StatusCode::Ok, Some(TEXT), &fields, Body::Bytes(&bytes))
        }
        None => r.bad_request("Incorrect Base64 data try: SFRUUEJJTiBpcyBhd2Vzb21l"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_values() {
        let mut out = Vec::new();
        html_escape(b"<a href=\"x\">&'", &mut out);
        assert_eq!(out, b"&lt;a href=&#34;x&#34;&gt;&amp;&#39;");
        assert!(valid_value(b"a b\tc"));
        assert!(!valid_value(b"a\r\nb"));
        assert!(inert(b"application/json; charset=utf-8"));
        assert!(!inert(b"text/html"));
    }
}
