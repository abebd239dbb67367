//! A request's header list, as HPACK decodes it, checked against RFC 9113 §8.2-8.3 and
//! rendered as an HTTP/1.1-style head (`GET /path HTTP/2.0`, then `name: value` lines): the
//! form every handler already reads fields from ([`FieldLines::Head`]), so the application
//! needs nothing new to serve HTTP/2, and `/raw` shows the decoded list in a familiar shape.
//!
//! The pseudo-header fields become the request line (`:method`, `:path`) and a `host` line
//! (`:authority`, when the request has no `host` field of its own); `:scheme` is checked and
//! dropped. `cookie` fields are joined into one line with `; ` (RFC 9113 §8.2.3), last.

use crate::http::chars::is_tchar;
use crate::http::target::{self, Form};
use crate::http::{FieldLines, Method, Request, Version};

/// Why a header list is not a request (a stream error, RFC 9113 §8.1.1: the stream is reset
/// with PROTOCOL_ERROR, the connection lives on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// A field or pseudo-header field breaks RFC 9113 §8.2 or §8.3.
    Fields(&'static str),
}

/// What a request's head says beside the fields a handler reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadFacts {
    /// `content-length`, if the request has one.
    pub(crate) content_length: Option<u64>,
}

/// The buffers a header list is rendered in, kept by the connection and reused.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The rendered head.
    pub(crate) head: Vec<u8>,
    /// The pseudo-header values, until the request line can be written.
    pseudo: Vec<u8>,
    /// The `cookie` line being joined.
    cookie: Vec<u8>,
}

impl Scratch {
    /// Frees what a large header list made them grow to.
    pub(crate) fn shrink(&mut self, keep: usize) {
        for v in [&mut self.head, &mut self.pseudo, &mut self.cookie] {
            if v.capacity() > keep {
                *v = Vec::new();
            }
        }
    }
}

/// Renders a decoded header list into [`Scratch::head`] as it arrives, field by field.
pub(crate) struct HeadWriter<'h> {
    head: &'h mut Vec<u8>,
    cookie: &'h mut Vec<u8>,
    method: Option<(usize, usize)>,
    scheme: bool,
    path: Option<(usize, usize)>,
    authority: Option<(usize, usize)>,
    pseudo: &'h mut Vec<u8>,
    /// Regular fields have begun: the request line is written.
    regular: bool,
    facts: HeadFacts,
    error: Option<&'static str>,
    /// A trailer section: no pseudo-header field, and nothing rendered.
    trailers: bool,
}

impl<'h> HeadWriter<'h> {
    /// Renders into `scratch.head` (cleared).
    pub(crate) fn new(scratch: &'h mut Scratch) -> Self {
        scratch.head.clear();
        scratch.pseudo.clear();
        scratch.cookie.clear();
        HeadWriter {
            head: &mut scratch.head,
            cookie: &mut scratch.cookie,
            pseudo: &mut scratch.pseudo,
            method: None,
            scheme: false,
            path: None,
            authority: None,
            regular: false,
            facts: HeadFacts {
                content_length: None,
            },
            error: None,
            trailers: false,
        }
    }

    /// Checks a trailer section instead (RFC 9113 §8.1: no pseudo-header fields); nothing is
    /// kept of it.
    pub(crate) fn for_trailers(scratch: &'h mut Scratch) -> Self {
        let mut w = HeadWriter::new(scratch);
        w.trailers = true;
        w.regular = true;
        w
    }

    fn fail(&mut self, why: &'static str) {
        self.error.get_or_insert(why);
    }

    /// One decoded field.
    pub(crate) fn field(&mut self, name: &[u8], value: &[u8]) {
        if self.error.is_some() {
            return;
        }
        // RFC 9113 §8.2.1: no NUL, CR or LF anywhere; no whitespace around a value.
        if value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
            || value.first().is_some_and(|&b| b == b' ' || b == b'\t')
            || value.last().is_some_and(|&b| b == b' ' || b == b'\t')
        {
            return self.fail("a field value with a forbidden character");
        }
        if let Some(pseudo) = name.strip_prefix(b":") {
            return self.pseudo_field(pseudo, value);
        }
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b) && !b.is_ascii_uppercase()) {
            return self.fail("a field name that is not a lower-case token");
        }
        // RFC 9113 §8.2.2: connection-specific fields have no place in HTTP/2.
        match name {
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding"
            | b"upgrade" => return self.fail("a connection-specific field"),
            b"te" if value != b"trailers" => return self.fail("te other than trailers"),
            _ => {}
        }
        if self.trailers {
            return;
        }
        if !self.regular {
            self.begin_fields();
            if self.error.is_some() {
                return;
            }
        }
        match name {
            b"content-length" => {
                let Some(n) = parse_length(value) else {
                    return self.fail("a content-length that is not a number");
                };
                if self.facts.content_length.is_some_and(|m| m != n) {
                    return self.fail("content-length fields that disagree");
                }
                self.facts.content_length = Some(n);
            }
            b"host" => {
                if let Some((from, to)) = self.authority {
                    // §8.3.1: a host naming another entity than :authority is malformed; the
                    // same one was already written from :authority.
                    if self.pseudo[from..to] != *value {
                        return self.fail("host and :authority disagree");
                    }
                    return;
                }
            }
            b"cookie" => {
                // Joined into one line, written at the end.
                let sep: &[u8] = if self.cookie.is_empty() {
                    b"cookie: "
                } else {
                    b"; "
                };
                self.cookie.extend_from_slice(sep);
                self.cookie.extend_from_slice(value);
                return;
            }
            _ => {}
        }
        self.line(name, value);
    }

    fn pseudo_field(&mut self, name: &[u8], value: &[u8]) {
        // The request line is built from these: a method is a token, and a target, an
        // authority or a scheme holds no space or control (else `:method: GET /admin` would
        // become the request line's target).
        let ok = match name {
            b"method" => crate::http::chars::is_token(value),
            b"scheme" => {
                value.first().is_some_and(u8::is_ascii_alphabetic)
                    && value
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            }
            _ => value.iter().all(|&b| b > b' ' && b != 0x7f),
        };
        if !ok {
            return self.fail("a pseudo-header field value that cannot be in a request line");
        }
        if self.regular {
            return self.fail(if self.trailers {
                "a pseudo-header field in trailers"
            } else {
                "a pseudo-header field after a regular one"
            });
        }
        let at = self.pseudo.len();
        self.pseudo.extend_from_slice(value);
        let span = (at, self.pseudo.len());
        let slot = match name {
            b"method" => &mut self.method,
            b"path" => &mut self.path,
            b"authority" => &mut self.authority,
            b"scheme" => {
                if std::mem::replace(&mut self.scheme, true) {
                    return self.fail("a repeated pseudo-header field");
                }
                return;
            }
            _ => return self.fail("an unknown pseudo-header field"),
        };
        if slot.replace(span).is_some() {
            self.fail("a repeated pseudo-header field");
        }
    }

    /// The pseudo-header fields are all in: the request line, and `host` from `:authority`.
    fn begin_fields(&mut self) {
        self.regular = true;
        let Some((m_from, m_to)) = self.method else {
            return self.fail("no :method");
        };
        let method = &self.pseudo[m_from..m_to];
        let connect = method == b"CONNECT";
        let target = if connect {
            // RFC 9113 §8.5: CONNECT has :authority only.
            if self.scheme || self.path.is_some() {
                return self.fail("CONNECT with :scheme or :path");
            }
            match self.authority {
                Some(a) => a,
                None => return self.fail("CONNECT without :authority"),
            }
        } else {
            match self.path {
                Some((from, to)) if self.scheme && to > from => (from, to),
                Some(_) if self.scheme => return self.fail("an empty :path"),
                _ => return self.fail("no :scheme or :path"),
            }
        };
        self.head.extend_from_slice(method);
        self.head.push(b' ');
        self.head
            .extend_from_slice(&self.pseudo[target.0..target.1]);
        self.head.extend_from_slice(b" HTTP/2.0\r\n");
        if let Some((from, to)) = self.authority {
            self.head.extend_from_slice(b"host: ");
            self.head.extend_from_slice(&self.pseudo[from..to]);
            self.head.extend_from_slice(b"\r\n");
        }
    }

    fn line(&mut self, name: &[u8], value: &[u8]) {
        self.head.extend_from_slice(name);
        self.head.extend_from_slice(b": ");
        self.head.extend_from_slice(value);
        self.head.extend_from_slice(b"\r\n");
    }

    /// The list is whole: what it says, or why it is not a request.
    pub(crate) fn finish(mut self) -> Result<HeadFacts, Malformed> {
        if !self.regular && !self.trailers {
            self.begin_fields();
        }
        if let Some(why) = self.error {
            return Err(Malformed::Fields(why));
        }
        if !self.trailers {
            if !self.cookie.is_empty() {
                self.head.extend_from_slice(self.cookie);
                self.head.extend_from_slice(b"\r\n");
            }
            self.head.extend_from_slice(b"\r\n");
        }
        Ok(self.facts)
    }
}

/// Why a rendered head is not a request the application can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// 400: a target or host that is not valid.
    BadRequest,
    /// 501: a method this server does not know.
    NotImplemented,
    /// 414.
    UriTooLong,
}

/// The request a rendered head (from [`HeadWriter`]) describes, its body empty; `marker` is
/// the field-name prefix that marks a request (`Limits::marker`).
pub(crate) fn request<'h>(
    head: &'h [u8],
    marker: &[u8],
    max_uri: usize,
) -> Result<Request<'h>, Refused> {
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    let line = &head[..line_end];
    let mut parts = line.splitn(3, |&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let method = Method::from_token(method).ok_or(Refused::NotImplemented)?;
    if target.len() > max_uri {
        return Err(Refused::UriTooLong);
    }
    let target = target::parse(target).ok_or(Refused::BadRequest)?;
    let form_ok = match target.form {
        Form::Asterisk => method == Method::Options,
        Form::Authority => method == Method::Connect,
        Form::Origin => method != Method::Connect,
        // RFC 9113 §8.3.1: :path is origin or asterisk form; a URI there is not a path.
        Form::Absolute => false,
    };
    if !form_ok {
        return Err(Refused::BadRequest);
    }
    let fields = FieldLines::Head(head);
    let mut host = None;
    let mut content_type = None;
    let mut marked = false;
    for (name, value) in fields.iter() {
        match name {
            b"host" => {
                if !target::is_valid_host(value) {
                    return Err(Refused::BadRequest);
                }
                host = Some(value);
            }
            b"content-type" => content_type = Some(value),
            _ => {
                marked |=
                    !marker.is_empty() && name.len() > marker.len() && name.starts_with(marker)
            }
        }
    }
    Ok(Request {
        method,
        path: target.path,
        query: target.query,
        form: target.form,
        authority: target.authority.or(host),
        version: Version::Http2,
        content_type,
        marked,
        fields,
        body: &[],
    })
}

/// `content-length`: 1*DIGIT that fits a u64.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(fields: &[(&[u8], &[u8])]) -> Result<(Vec<u8>, HeadFacts), Malformed> {
        let mut scratch = Scratch::default();
        let mut w = HeadWriter::new(&mut scratch);
        for (n, v) in fields {
            w.field(n, v);
        }
        let facts = w.finish()?;
        Ok((scratch.head, facts))
    }

    const GET: [(&[u8], &[u8]); 4] = [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":authority", b"example.com"),
        (b":path", b"/a?b=c"),
    ];

    #[test]
    fn a_request_renders_as_a_head_the_handlers_read() {
        let mut fields = GET.to_vec();
        fields.extend([
            (&b"x-echo-delay"[..], &b"1"[..]),
            (b"cookie", b"a=1"),
            (b"content-type", b"text/plain"),
            (b"cookie", b"b=2"),
            (b"host", b"example.com"),
        ]);
        let (head, facts) = render(&fields).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&head),
            "GET /a?b=c HTTP/2.0\r\nhost: example.com\r\nx-echo-delay: 1\r\ncontent-type: text/plain\r\ncookie: a=1; b=2\r\n\r\n"
        );
        assert_eq!(facts.content_length, None);
        let req = request(&head, b"x-echo-", 8192).unwrap();
        assert_eq!(
            (req.method, req.path, req.query),
            (Method::Get, &b"/a"[..], &b"b=c"[..])
        );
        assert_eq!(req.authority, Some(&b"example.com"[..]));
        assert_eq!(req.content_type, Some(&b"text/plain"[..]));
        assert!(req.marked);
        assert_eq!(req.version, Version::Http2);
        assert_eq!(req.request_line(), Some(&b"GET /a?b=c HTTP/2.0"[..]));
        assert_eq!(req.field(b"cookie"), Some(&b"a=1; b=2"[..]));
    }

    #[test]
    fn malformed_lists_are_refused() {
        let with = |extra: &[(&'static [u8], &'static [u8])]| {
            let mut f = GET.to_vec();
            f.extend_from_slice(extra);
            render(&f).map(|_| ())
        };
        assert!(with(&[(b"Upper", b"x")]).is_err());
        assert!(with(&[(b"connection", b"keep-alive")]).is_err());
        assert!(with(&[(b"te", b"gzip")]).is_err());
        assert!(with(&[(b"te", b"trailers")]).is_ok());
        assert!(with(&[(b"x", b" padded")]).is_err());
        assert!(with(&[(b"x", b"a\nb")]).is_err());
        assert!(with(&[(b"host", b"other.example")]).is_err());
        assert!(with(&[(b"content-length", b"1"), (b"content-length", b"2")]).is_err());
        assert!(with(&[(b"content-length", b"-1")]).is_err());
        assert!(with(&[(b"x", b"1"), (b":path", b"/")]).is_err());
        assert!(with(&[(b":path", b"/again")]).is_err());
        assert!(with(&[(b":status", b"200")]).is_err());
        let pseudo = |method: &'static [u8], path: &'static [u8]| {
            render(&[
                (b":method", method),
                (b":scheme", b"http"),
                (b":path", path),
            ])
            .map(|_| ())
        };
        assert!(
            pseudo(b"GET /admin", b"/public").is_err(),
            "a space in :method"
        );
        assert!(pseudo(b"GET", b"/a b").is_err(), "a space in :path");
        assert!(pseudo(b"GET", b"/a\x7f").is_err(), "a control in :path");
        assert!(
            pseudo(b"GET", b"/\xc3\xa9").is_ok(),
            "UTF-8 is for the target's rules"
        );
        assert!(render(&[
            (b":method", b"GET"),
            (b":scheme", b"ht tp"),
            (b":path", b"/")
        ])
        .is_err());
        assert!(render(&[(b":method", b"GET"), (b":path", b"/")]).is_err());
        assert!(render(&[(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"")]).is_err());
        assert!(render(&[(b":scheme", b"http"), (b":path", b"/")]).is_err());
        let (head, _) = render(&[(b":method", b"CONNECT"), (b":authority", b"h:443")]).unwrap();
        assert_eq!(request(&head, b"", 100).unwrap().form, Form::Authority);
        let (head, _) = render(&[
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":path", b"http://a/"),
        ])
        .unwrap();
        assert_eq!(request(&head, b"", 100).unwrap_err(), Refused::BadRequest);
        let (head, _) = render(&[
            (b":method", b"BREW"),
            (b":scheme", b"http"),
            (b":path", b"/"),
        ])
        .unwrap();
        assert_eq!(
            request(&head, b"", 100).unwrap_err(),
            Refused::NotImplemented
        );
    }

    #[test]
    fn trailers_take_no_pseudo_header_and_render_nothing() {
        let mut scratch = Scratch::default();
        let mut w = HeadWriter::for_trailers(&mut scratch);
        w.field(b"x-checksum", b"1");
        assert!(w.finish().is_ok());
        assert!(scratch.head.is_empty());
        let mut w = HeadWriter::for_trailers(&mut scratch);
        w.field(b":path", b"/");
        assert!(w.finish().is_err());
    }
}
