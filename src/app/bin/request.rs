//! The request as httpbin echoes it: `args`, `headers`, `origin`, `url`, `method`, and, for a
//! body, `data`, `files`, `form` and `json`, in the shape of the original (Python) httpbin:
//! a name with one value maps to a string, a repeated one to a list; header names title-cased
//! (`x-b3-traceid` → `X-B3-Traceid`) and repeated headers joined with a comma; `data` is the
//! body as text when it is UTF-8, else a `data:application/octet-stream;base64,…` URL; `json`
//! is the body parsed as JSON whatever its Content-Type (`null` if it is not JSON); a form or
//! multipart body fills `form` and `files` and leaves `data` empty. Every key is sorted.

use std::net::{IpAddr, SocketAddr};

use base64::Engine;

use super::forms::{self, Pairs, Part};
use super::json::Json;
use super::reply::Work;
use crate::http;

/// Bodies up to this size are parsed for `json`: a parse holds many times the body's size
/// while it runs (a node per array element), so larger ones are echoed in `data` only.
pub(crate) const JSON_PARSE_MAX: usize = 1024 * 1024;

/// A multipart body may hold at most this many parts.
const MAX_PARTS: usize = 1000;

/// The request an echo describes.
#[derive(Clone, Copy)]
pub(crate) struct Request<'a> {
    pub head: &'a http::Request<'a>,
    pub body: &'a [u8],
    /// The client: the socket's peer, or the client a PROXY header named.
    pub peer: Option<SocketAddr>,
    /// Whether `X-Forwarded-*` may be believed: always without `--trusted-proxies`, else only
    /// from a client in the list ([`crate::config::HttpbinOptions::believes_forwarding_from`]).
    pub believe_forwarding: bool,
    /// The request came over TLS: its scheme is `https` unless a believed proxy says.
    pub tls: bool,
}

impl<'a> Request<'a> {
    /// Each header field line, in arrival order, value trimmed (the head was validated whole,
    /// so a line split is safe).
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.head.fields.iter()
    }

    /// The first value of a field, by case-insensitive name.
    pub(crate) fn field(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.fields()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub(crate) fn method(&self) -> &'static [u8] {
        self.head.method.name()
    }

    /// httpbin's `origin`: the whole `X-Forwarded-For` when there is one and it may be
    /// believed (every field line of it, joined with `, `: repeated lines are one list, RFC
    /// 9110 §5.3), else the client's IP (an IPv4 client of an IPv6 socket shown as IPv4).
    pub(crate) fn origin(&self, out: &mut Vec<u8>) {
        let xff = self
            .believe_forwarding
            .then(|| self.head.fields.named(b"x-forwarded-for"))
            .flatten();
        if let Some(lines) = xff {
            for (i, value) in lines.values().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(value);
            }
            return;
        }
        if let Some(peer) = self.peer {
            let ip = match peer.ip() {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                v4 => v4,
            };
            // Formatted in place: no String per request.
            let _ = std::io::Write::write_fmt(out, format_args!("{ip}"));
        }
    }

    /// The URL the client asked for: the scheme (`X-Forwarded-Proto`, `X-Forwarded-Protocol`,
    /// `X-Forwarded-Ssl: on`, else `https` over TLS and `http` without), the host, the target's path and query as sent.
    pub(crate) fn url(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.scheme());
        out.extend_from_slice(b"://");
        out.extend_from_slice(self.head.authority.unwrap_or(b""));
        out.extend_from_slice(self.head.path);
        if !self.head.query.is_empty() {
            out.push(b'?');
            out.extend_from_slice(self.head.query);
        }
    }

    /// A field a proxy sets, if it may be believed (see `believe_forwarding`).
    fn forwarded_field(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.believe_forwarding.then(|| self.field(name)).flatten()
    }

    pub(crate) fn scheme(&self) -> &'a [u8] {
        if let Some(proto) = self
            .forwarded_field(b"x-forwarded-proto")
            .or_else(|| self.forwarded_field(b"x-forwarded-protocol"))
        {
            return proto;
        }
        match self.forwarded_field(b"x-forwarded-ssl") {
            Some(ssl) if ssl.eq_ignore_ascii_case(b"on") => b"https",
            _ if self.tls => b"https",
            _ => b"http",
        }
    }
}

/// Writes a JSON object of `pairs` (sorted here): one value as a string, several as a list.
pub(crate) fn write_grouped(j: &mut Json<'_>, pairs: &mut Pairs) {
    pairs.sort_by_name();
    j.open();
    for (name, values) in pairs.groups() {
        j.key(name);
        if values.len() == 1 {
            j.string(values.clone().next().unwrap_or_default());
        } else {
            j.open_array();
            for v in values {
                j.string(v);
            }
            j.close_array();
        }
    }
    j.close();
}

/// `"args": {...}` from the query string.
pub(crate) fn write_args(j: &mut Json<'_>, req: &Request<'_>, pairs: &mut Pairs) {
    pairs.clear();
    forms::parse_urlencoded(req.head.query, pairs);
    j.key(b"args");
    write_grouped(j, pairs);
}

/// `"headers": {...}`: names title-cased, repeated names joined with a comma.
pub(crate) fn write_headers(j: &mut Json<'_>, req: &Request<'_>, work: &mut Work, key: &[u8]) {
    let Work {
        pairs,
        text: joined,
        ..
    } = work;
    pairs.clear();
    let mut name = [0u8; 256];
    for (raw, value) in req.fields() {
        let titled = title_case(raw, &mut name);
        pairs.push(titled, value);
    }
    pairs.sort_by_name();
    j.key(key).open();
    for (name, values) in pairs.groups() {
        j.key(name);
        if values.len() == 1 {
            j.string(values.clone().next().unwrap_or_default());
        } else {
            joined.clear();
            for (i, v) in values.enumerate() {
                if i > 0 {
                    joined.push(b',');
                }
                joined.extend_from_slice(v);
            }
            j.string(joined);
        }
    }
    j.close();
}

/// A header name as Python's `str.title()` writes it, which is what httpbin shows: a letter
/// after a non-letter upper-cased, every other letter lower-cased. Names longer than `buf`
/// are cut (httparse allows long names; 256 bytes is plenty for an echo).
pub(crate) fn title_case<'b>(name: &[u8], buf: &'b mut [u8; 256]) -> &'b [u8] {
    let n = name.len().min(buf.len());
    let mut prev_letter = false;
    for (out, &b) in buf.iter_mut().zip(&name[..n]) {
        *out = if prev_letter {
            b.to_ascii_lowercase()
        } else {
            b.to_ascii_uppercase()
        };
        prev_letter = b.is_ascii_alphabetic();
    }
    &buf[..n]
}

/// `"origin": "..."`.
pub(crate) fn write_origin(j: &mut Json<'_>, req: &Request<'_>, text: &mut Vec<u8>) {
    text.clear();
    req.origin(text);
    j.key(b"origin").string(text);
}

/// `"url": "..."`.
pub(crate) fn write_url(j: &mut Json<'_>, req: &Request<'_>, text: &mut Vec<u8>) {
    text.clear();
    req.url(text);
    j.key(b"url").string(text);
}

/// What a request body is, decided once (a multipart body that does not parse is a 400).
pub(crate) enum Body<'a> {
    /// A form: its fields (decoded), and for multipart, its files.
    Form { multipart: Vec<Part<'a>> },
    /// Anything else: `data` and `json`.
    Raw { json: Option<serde_json::Value> },
}

/// Why a body cannot be echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    Multipart(forms::MultipartError),
}

impl<'a> Body<'a> {
    /// Sorts out the body by its Content-Type; a urlencoded form's fields go into `form`.
    pub(crate) fn of(req: &Request<'a>, form: &mut Pairs) -> Result<Body<'a>, BodyError> {
        form.clear();
        let ct = req.head.content_type.unwrap_or(b"");
        let media = forms::media_type(ct);
        if media.eq_ignore_ascii_case(b"application/x-www-form-urlencoded") {
            forms::parse_urlencoded(req.body, form);
            return Ok(Body::Form { multipart: vec![] });
        }
        if media.eq_ignore_ascii_case(b"multipart/form-data") {
            let boundary = forms::param(ct, b"boundary").unwrap_or_default();
            let parts = forms::parse_multipart(req.body, &boundary, MAX_PARTS)
                .map_err(BodyError::Multipart)?;
            for part in parts.iter().filter(|p| p.filename.is_none()) {
                form.push(&part.name, part.data);
            }
            return Ok(Body::Form { multipart: parts });
        }
        let json = (req.body.len() <= JSON_PARSE_MAX)
            .then(|| serde_json::from_slice(req.body).ok())
            .flatten();
        Ok(Body::Raw { json })
    }
}

/// `"data"`, `"files"`, `"form"` and `"json"`, in that (sorted) order, except that `"json"`
/// and `"form"` sit apart around `"headers"`: the caller writes `headers` between them, so
/// this writes the first three and [`write_json`] the last.
pub(crate) fn write_data_files_form(
    j: &mut Json<'_>,
    req: &Request<'_>,
    body: &Body<'_>,
    form: &mut Pairs,
    files: &mut Pairs,
    text: &mut Vec<u8>,
) {
    j.key(b"data");
    match body {
        Body::Form { .. } => j.string(b""),
        Body::Raw { .. } => {
            text.clear();
            data_text(req.body, b"application/octet-stream", text);
            j.string(text)
        }
    };
    files.clear();
    if let Body::Form { multipart } = body {
        for part in multipart.iter().filter(|p| p.filename.is_some()) {
            text.clear();
            data_text(
                part.data,
                part.content_type.unwrap_or(b"application/octet-stream"),
                text,
            );
            files.push(&part.name, text);
        }
    }
    j.key(b"files");
    write_grouped(j, files);
    j.key(b"form");
    write_grouped(j, form);
}

/// `"json": ...`; returns whether it was pretty-printed (see [`Json::value`]).
pub(crate) fn write_json(j: &mut Json<'_>, body: &Body<'_>, pretty_cap: usize) -> bool {
    j.key(b"json");
    match body {
        Body::Raw { json: Some(value) } => j.value(value, pretty_cap),
        _ => {
            j.raw(b"null");
            true
        }
    }
}

/// Bytes as httpbin shows them: the text if it is UTF-8, else a `data:` URL of `media`.
pub(crate) fn data_text(bytes: &[u8], media: &[u8], out: &mut Vec<u8>) {
    if std::str::from_utf8(bytes).is_ok() {
        out.extend_from_slice(bytes);
        return;
    }
    out.extend_from_slice(b"data:");
    out.extend_from_slice(media);
    out.extend_from_slice(b";base64,");
    let start = out.len();
    out.resize(
        start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
        0,
    );
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_like_python() {
        let mut buf = [0u8; 256];
        assert_eq!(title_case(b"x-b3traceid", &mut buf), b"X-B3Traceid");
        assert_eq!(title_case(b"USER-AGENT", &mut buf), b"User-Agent");
        assert_eq!(title_case(b"dnt", &mut buf), b"Dnt");
        assert_eq!(title_case(b"x_foo", &mut buf), b"X_Foo");
    }

    #[test]
    fn fields_after_empty_lines_before_the_request_line() {
        let raw = b"\r\n\r\nGET http://a:1/x HTTP/1.1\r\nHost: a:1\r\nX-Y:  z \r\n\r\n";
        let (head, _) = crate::proto::h1::parse::parse_head(raw, &Default::default())
            .unwrap()
            .unwrap();
        let req = Request {
            head: &head.request,
            body: b"",
            peer: None,
            believe_forwarding: true,
            tls: false,
        };
        let fields: Vec<_> = req.fields().collect();
        assert_eq!(fields, [(&b"Host"[..], &b"a:1"[..]), (b"X-Y", b"z")]);
    }

    #[test]
    fn forwarding_fields_only_when_believed() {
        let raw = b"GET /get HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.1\r\n\
X-Forwarded-Proto: https\r\n\r\n";
        let (head, _) = crate::proto::h1::parse::parse_head(raw, &Default::default())
            .unwrap()
            .unwrap();
        let mut req = Request {
            head: &head.request,
            body: b"",
            peer: Some("[::ffff:192.0.2.7]:5".parse().unwrap()),
            believe_forwarding: true,
            tls: false,
        };
        let (mut origin, mut url) = (Vec::new(), Vec::new());
        req.origin(&mut origin);
        req.url(&mut url);
        assert_eq!(origin, b"203.0.113.9, 10.0.0.1");
        assert_eq!(url, b"https://h/get");
        req.believe_forwarding = false;
        let (mut origin, mut url) = (Vec::new(), Vec::new());
        req.origin(&mut origin);
        req.url(&mut url);
        assert_eq!(origin, b"192.0.2.7");
        assert_eq!(url, b"http://h/get");
    }

    #[test]
    fn repeated_forwarded_for_lines_are_one_list() {
        let raw = b"GET /get HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\n\
x-forwarded-for: 10.0.0.1, 10.0.0.2\r\n\r\n";
        let (head, _) = crate::proto::h1::parse::parse_head(raw, &Default::default())
            .unwrap()
            .unwrap();
        let req = Request {
            head: &head.request,
            body: b"",
            peer: None,
            believe_forwarding: true,
            tls: false,
        };
        let mut origin = Vec::new();
        req.origin(&mut origin);
        assert_eq!(origin, b"203.0.113.9, 10.0.0.1, 10.0.0.2");
    }

    #[test]
    fn binary_data_becomes_a_data_url() {
        let mut out = Vec::new();
        data_text(b"plain text", b"x/y", &mut out);
        assert_eq!(out, b"plain text");
        out.clear();
        data_text(&[0xff, 0x00, 0xfe], b"image/png", &mut out);
        assert_eq!(out, b"data:image/png;base64,/wD+");
    }
}
