//! A JSON writer for the httpbin responses: pretty-printed with two spaces, as httpbin prints
//! (without Flask's trailing space after each comma), written straight into a byte buffer.
//!
//! The caller decides key order (httpbin sorts keys; the routes write them sorted). String
//! escaping is serde_json's, so every string, including one that came from a client as
//! arbitrary bytes (invalid UTF-8 becomes U+FFFD, as httpbin's and Go's encoders do), is valid
//! JSON. Parsed request bodies (`json`) are embedded with serde_json's own printer, re-indented
//! to their depth.

/// Where a document goes: bytes, or only their count (a first pass that sizes a large answer
/// exactly before memory is reserved for it).
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A sink that only counts.
#[derive(Debug, Default)]
pub(crate) struct Count(pub usize);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// `io::Write` over a sink, for serde_json, refusing to go past `cap` bytes.
struct Capped<'s> {
    sink: &'s mut dyn Sink,
    left: usize,
}

impl std::io::Write for Capped<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.left {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        self.left -= buf.len();
        self.sink.put(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes one JSON document into a sink (dynamic, so one rendering function serves both the
/// counting pass and the writing one).
pub(crate) struct Json<'o> {
    out: &'o mut dyn Sink,
    /// One bit per open container: set once it has a member (a comma goes before the next).
    filled: u64,
    depth: u32,
    /// A key was just written: the value goes on the same line.
    after_key: bool,
    /// One line, `, ` between members (httpbin's `/stream` lines, Python's `json.dumps`).
    compact: bool,
}

/// Containers nest at most this deep in what the routes write (the embedded `json` value is
/// printed by serde_json, whatever its depth).
const MAX_DEPTH: u32 = 63;

impl<'o> Json<'o> {
    pub(crate) fn new(out: &'o mut dyn Sink) -> Json<'o> {
        Json {
            out,
            filled: 0,
            depth: 0,
            after_key: false,
            compact: false,
        }
    }

    /// A writer for one line: `{"a": 1, "b": [2, 3]}`.
    pub(crate) fn compact(out: &'o mut dyn Sink) -> Json<'o> {
        Json {
            compact: true,
            ..Json::new(out)
        }
    }

    /// Starts an object.
    pub(crate) fn open(&mut self) -> &mut Self {
        self.container(b'{')
    }

    /// Ends the innermost object.
    pub(crate) fn close(&mut self) -> &mut Self {
        self.end(b'}')
    }

    pub(crate) fn open_array(&mut self) -> &mut Self {
        self.container(b'[')
    }

    pub(crate) fn close_array(&mut self) -> &mut Self {
        self.end(b']')
    }

    /// A member's key; its value comes next.
    pub(crate) fn key(&mut self, key: &[u8]) -> &mut Self {
        self.member_start();
        escape(self.out, key);
        self.out.put(b": ");
        self.after_key = true;
        self
    }

    /// A string value (any bytes; invalid UTF-8 becomes U+FFFD).
    pub(crate) fn string(&mut self, value: &[u8]) -> &mut Self {
        self.value_start();
        escape(self.out, value);
        self
    }

    /// A value written as it is: a number, `true`, `false`, `null`.
    pub(crate) fn raw(&mut self, value: &[u8]) -> &mut Self {
        self.value_start();
        self.out.put(value);
        self
    }

    pub(crate) fn number(&mut self, n: u64) -> &mut Self {
        self.value_start();
        self.out.put(crate::http::digits::decimal(n, &mut [0; 20]));
        self
    }

    pub(crate) fn boolean(&mut self, b: bool) -> &mut Self {
        self.raw(if b { b"true" } else { b"false" })
    }

    /// A parsed JSON value, pretty-printed at this depth, or on one line if pretty would take
    /// more than `pretty_cap` bytes (a deeply nested value indents quadratically; its compact
    /// form is never much longer than the text it was parsed from). Returns whether it went
    /// pretty, so a second pass over the same value can be told to do the same.
    pub(crate) fn value(&mut self, value: &serde_json::Value, pretty_cap: usize) -> bool {
        self.value_start();
        let pretty = !self.compact
            && pretty_cap > 0
            && serde_json::to_writer_pretty(
                Capped {
                    sink: &mut Count::default(),
                    left: pretty_cap,
                },
                value,
            )
            .is_ok();
        if pretty {
            let mut lines = Lines {
                json: &mut *self,
                pending: Vec::new(),
            };
            let _ = serde_json::to_writer_pretty(&mut lines, value);
            lines.flush_pending();
        } else {
            let writer = Capped {
                sink: &mut *self.out,
                left: usize::MAX,
            };
            let _ = serde_json::to_writer(writer, value);
        }
        pretty
    }

    /// Ends the document with a newline, as httpbin does.
    pub(crate) fn finish(&mut self) {
        self.out.put(b"\n");
    }

    fn container(&mut self, open: u8) -> &mut Self {
        self.value_start();
        self.out.put(&[open]);
        self.depth = (self.depth + 1).min(MAX_DEPTH);
        self.filled &= !(1 << self.depth);
        self
    }

    fn end(&mut self, close: u8) -> &mut Self {
        let had_members = self.filled & (1 << self.depth) != 0;
        self.depth = self.depth.saturating_sub(1);
        if had_members {
            self.newline();
        }
        self.out.put(&[close]);
        self
    }

    /// Before a key, or an array element: the comma and the line break.
    fn member_start(&mut self) {
        if self.depth > 0 {
            let first = self.filled & (1 << self.depth) == 0;
            self.filled |= 1 << self.depth;
            if self.compact {
                if !first {
                    self.out.put(b", ");
                }
                return;
            }
            if !first {
                self.out.put(b",");
            }
            self.newline();
        }
    }

    fn value_start(&mut self) {
        if std::mem::take(&mut self.after_key) {
            return;
        }
        self.member_start();
    }

    fn newline(&mut self) {
        if self.compact {
            return;
        }
        // One write: the newline and the indentation, cut from a line of spaces.
        const LINE: [u8; 2 * MAX_DEPTH as usize + 3] = {
            let mut line = [b' '; 2 * MAX_DEPTH as usize + 3];
            line[0] = b'\n';
            line
        };
        let width = 1 + 2 * self.depth as usize;
        self.out.put(&LINE[..width.min(LINE.len())]);
    }
}

/// Re-indents serde_json's pretty output to the writer's depth: every newline is serde's own
/// (strings never hold a raw one), so the indentation goes after each.
struct Lines<'j, 'o> {
    json: &'j mut Json<'o>,
    pending: Vec<u8>,
}

impl Lines<'_, '_> {
    fn flush_pending(&mut self) {
        self.json.out.put(&self.pending);
        self.pending.clear();
    }
}

impl std::io::Write for Lines<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&rest[..nl]);
            self.flush_pending();
            self.json.newline();
            rest = &rest[nl + 1..];
        }
        self.pending.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Appends `bytes` as a JSON string.
pub(crate) fn escape(out: &mut dyn Sink, bytes: &[u8]) {
    // Most strings (names, values, URLs) are printable ASCII with nothing to escape: as they are.
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.put(b"\"");
        out.put(bytes);
        out.put(b"\"");
        return;
    }
    let text = String::from_utf8_lossy(bytes);
    let writer = Capped {
        sink: out,
        left: usize::MAX,
    };
    // The sink never refuses.
    let _ = serde_json::to_writer(writer, text.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_like_httpbin() {
        let mut out = Vec::new();
        let mut j = Json::new(&mut out);
        j.open();
        j.key(b"args").open().close();
        j.key(b"headers").open();
        j.key(b"Accept").string(b"*/*");
        j.key(b"X-Bin").string(b"\xff\"\n");
        j.close();
        j.key(b"list")
            .open_array()
            .string(b"a")
            .number(2)
            .close_array();
        let value = serde_json::json!({"b": [1, {"c": null}], "a": "x"});
        assert!(j.key(b"json").value(&value, 1000));
        assert!(!j.key(b"flat").value(&value, 10));
        j.key(b"ok").boolean(true);
        j.close().finish();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\n  \"args\": {},\n  \"headers\": {\n    \"Accept\": \"*/*\",\n    \
             \"X-Bin\": \"\u{fffd}\\\"\\n\"\n  },\n  \"list\": [\n    \"a\",\n    2\n  ],\n  \
             \"json\": {\n    \"a\": \"x\",\n    \"b\": [\n      1,\n      {\n        \
             \"c\": null\n      }\n    ]\n  },\n  \"flat\": {\"a\":\"x\",\"b\":[1,{\"c\":null}]},\n  \
             \"ok\": true\n}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["headers"]["X-Bin"], "\u{fffd}\"\n");
        // Counting gives the same length.
        let mut count = Count::default();
        let mut j = Json::new(&mut count);
        j.open().key(b"a").string(b"\x01b").key(b"v");
        j.value(&value, 1000);
        j.close().finish();
        let mut bytes = Vec::new();
        let mut j = Json::new(&mut bytes);
        j.open().key(b"a").string(b"\x01b").key(b"v");
        j.value(&value, 1000);
        j.close().finish();
        assert_eq!(count.0, bytes.len());
    }

    #[test]
    fn compact_like_python_dumps() {
        let mut out = Vec::new();
        let mut j = Json::compact(&mut out);
        j.open().key(b"a").open().close().key(b"b").open_array();
        j.number(1).number(2).close_array().key(b"c").string(b"x");
        j.close();
        assert_eq!(out, br#"{"a": {}, "b": [1, 2], "c": "x"}"#);
    }
}
