//! The encoder: response header blocks, with a dynamic table the peer's decoder mirrors.
//!
//! Policy, field by field:
//! - a field equal to a static or dynamic entry is sent as its index (one or two bytes);
//! - the values of fields that repeat across the responses of a connection (`content-type`,
//!   `server`, `date`, `cache-control`, `vary`, `content-encoding`, `access-control-*`, the
//!   security headers: [`indexing`] has the list) are added to the table, when 128 bytes or
//!   shorter: the second response sends them as indices. `date` changes once a second, so it
//!   takes a new entry as often, slowly evicting the oldest ones; worth it, as a busy
//!   connection sends many responses a second;
//! - `set-cookie`, `cookie` and the authorization fields are never indexed (§7.1.3): their
//!   values are secrets, and the flag tells intermediaries not to index them either;
//! - everything else goes without indexing: values unique to a resource or a response
//!   (`content-length`, `etag`, `last-modified`, `location`, `content-range`, …) would only
//!   churn the table, evicting the entries that do repeat. `content-length` repeats when one
//!   resource is fetched again, but its 1–4 Huffman bytes are about what an index into a table
//!   crowded with lengths would save;
//! - a name in the static table is sent as its index, else as the index of a dynamic entry
//!   of that name, else as a string.
//!
//! Strings are Huffman-coded when that makes them shorter, which it does for nearly all header
//! text (by 20-30 %). Measured (`huffman_timing`, `hpack_encode_timing`, optimised, on a busy
//! 2-core machine): about 5 ns a byte to encode; in the steady state only the values that are
//! not indexed pay it (in the timed response `content-length`, `etag` and `x-request-id`, some
//! 25 bytes: about 0.1 µs of the 0.6 µs the whole 8-field response takes), against bytes saved
//! on every response; so every string is coded when shorter, not only the indexed ones.
//!
//! The same response again costs one table scan per field and allocates nothing: the table's
//! arena and ring reach their largest size once (4096 bytes and 128 entries at most).

use super::huffman;
use super::table::{static_name_index, DynamicTable, STATIC};
use crate::buffer::Buf;

/// The dynamic table's size both sides start with (RFC 9113 §6.5.2), and the most this
/// encoder ever uses, whatever the peer allows: more would cost memory on every connection for
/// little gain on responses.
const TABLE_SIZE: usize = 4096;

/// Values longer than this are not indexed: they would evict many entries for one field.
const MAX_INDEXED_VALUE: usize = 128;

/// How a literal field is sent (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Indexing {
    /// Added to the table (§6.2.1).
    Incremental,
    /// Not added (§6.2.2).
    Without,
    /// Not added, here nor by any intermediary (§6.2.3).
    Never,
}

/// The policy of the module's doc, by name (lowercase) and value.
fn indexing(name: &[u8], value: &[u8]) -> Indexing {
    match name {
        b"set-cookie" | b"cookie" | b"authorization" | b"proxy-authorization" => Indexing::Never,
        _ if value.len() > MAX_INDEXED_VALUE => Indexing::Without,
        b"content-type"
        | b"server"
        | b"date"
        | b"cache-control"
        | b"vary"
        | b"content-encoding"
        | b"content-language"
        | b"accept-ranges"
        | b"allow"
        | b"alt-svc"
        | b"via"
        | b"strict-transport-security"
        | b"content-security-policy"
        | b"permissions-policy"
        | b"referrer-policy"
        | b"x-content-type-options"
        | b"x-frame-options"
        | b"x-xss-protection"
        | b"cross-origin-opener-policy"
        | b"cross-origin-resource-policy"
        | b"cross-origin-embedder-policy" => Indexing::Incremental,
        _ if name.starts_with(b"access-control-") => Indexing::Incremental,
        _ => Indexing::Without,
    }
}

/// A change of the table's size the peer's decoder has not been told of yet.
#[derive(Debug, Clone, Copy)]
struct Resize {
    /// The smallest size since the last block: §4.2 wants it signalled first, so the peer
    /// evicts what that size evicted.
    smallest: usize,
    last: usize,
}

/// The response side's HPACK state.
#[derive(Debug)]
pub(crate) struct Encoder {
    table: DynamicTable,
    resize: Option<Resize>,
}

impl Encoder {
    /// An encoder whose dynamic table may hold 4096 bytes, the size both sides start with.
    pub(crate) fn new() -> Encoder {
        Encoder {
            table: DynamicTable::new(TABLE_SIZE),
            resize: None,
        }
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE: the encoder uses min(this, 4096) and emits the
    /// dynamic table size update at the start of the next block (§4.2, §6.3); lowered and
    /// raised again between two blocks, it emits the minimum, then the final size.
    pub(crate) fn set_peer_max_table_size(&mut self, size: u32) {
        let size = usize::try_from(size).map_or(TABLE_SIZE, |s| s.min(TABLE_SIZE));
        match &mut self.resize {
            Some(resize) => {
                resize.smallest = resize.smallest.min(size);
                resize.last = size;
            }
            None if size != self.table.max_size() => {
                self.resize = Some(Resize {
                    smallest: size,
                    last: size,
                });
            }
            None => {}
        }
    }

    /// Starts a header block: emits the size updates not yet signalled. Call it before the
    /// first field of every block, a response's (before [`Encoder::status`]) or trailers';
    /// then one block's fields are all that may follow until the next call.
    pub(crate) fn begin_block(&mut self, out: &mut Buf) {
        let Some(resize) = self.resize.take() else {
            return;
        };
        if resize.smallest < resize.last {
            integer(resize.smallest, 5, 0x20, out);
            self.table.set_max_size(resize.smallest);
        }
        integer(resize.last, 5, 0x20, out);
        self.table.set_max_size(resize.last);
    }

    /// `:status`: an index for the seven codes of the static table, else a literal with the
    /// static name (index 8), not indexed.
    pub(crate) fn status(&mut self, code: u16, out: &mut Buf) {
        let index = match code {
            200 => 8,
            204 => 9,
            206 => 10,
            304 => 11,
            400 => 12,
            404 => 13,
            500 => 14,
            _ => {
                // Statuses are three digits; `% 10` keeps a stray code to three as well.
                let digits = [100, 10, 1].map(|d| b'0' + (code / d % 10) as u8);
                integer(8, 4, 0x00, out);
                string(&digits, out);
                return;
            }
        };
        integer(index, 7, 0x80, out);
    }

    /// One field, `name` already lowercase, as the module's policy says.
    pub(crate) fn field(&mut self, name: &[u8], value: &[u8], out: &mut Buf) {
        let static_name = static_name_index(name);
        if let Some(index) = static_name.and_then(|first| static_entry(first, name, value)) {
            integer(index, 7, 0x80, out);
            return;
        }
        let how = indexing(name, value);
        let mut name_index = static_name;
        // The table holds only fields the policy indexed: other fields with a static name
        // cannot be in it.
        if how == Indexing::Incremental || static_name.is_none() {
            let (whole, named) = self.table.find(name, value);
            if let Some(i) = whole {
                integer(STATIC.len() + 1 + i, 7, 0x80, out);
                return;
            }
            name_index = name_index.or(named.map(|i| STATIC.len() + 1 + i));
        }
        let (prefix, pattern) = match how {
            Indexing::Incremental => (6, 0x40),
            Indexing::Without => (4, 0x00),
            Indexing::Never => (4, 0x10),
        };
        integer(name_index.unwrap_or(0), prefix, pattern, out);
        if name_index.is_none() {
            string(name, out);
        }
        string(value, out);
        if how == Indexing::Incremental {
            self.table.insert(name, value);
        }
    }

    /// Bytes of memory this encoder holds (for the server's memory budget).
    pub(crate) fn memory(&self) -> usize {
        self.table.memory()
    }

    /// The dynamic table, for tests comparing it with a decoder's.
    #[cfg(test)]
    pub(crate) fn table(&self) -> &DynamicTable {
        &self.table
    }
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder::new()
    }
}

/// The wire index of the static entry `name: value`, the name's first entry at `first`.
fn static_entry(first: usize, name: &[u8], value: &[u8]) -> Option<usize> {
    (first..=STATIC.len())
        .take_while(|&i| STATIC[i - 1].0 == name)
        .find(|&i| STATIC[i - 1].1 == value)
}

/// An integer with a `prefix`-bit prefix (§5.1), the byte's other bits `pattern`.
fn integer(value: usize, prefix: u32, pattern: u8, out: &mut Buf) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.extend_from_slice(&[pattern | value as u8]);
        return;
    }
    let mut bytes = [0u8; 11];
    bytes[0] = pattern | max as u8;
    let mut rest = value - max;
    let mut n = 1;
    while rest >= 0x80 {
        bytes[n] = 0x80 | (rest & 0x7F) as u8;
        rest >>= 7;
        n += 1;
    }
    bytes[n] = rest as u8;
    out.extend_from_slice(&bytes[..=n]);
}

/// A string literal (§5.2), Huffman-coded when that is shorter.
fn string(s: &[u8], out: &mut Buf) {
    let coded = huffman::encoded_len(s);
    if coded < s.len() {
        integer(coded, 7, 0x80, out);
        huffman::encode_len(s, coded, out);
    } else {
        integer(s.len(), 7, 0x00, out);
        out.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode::tests::{fields, table_of};
    use super::super::{Decoded, Decoder};
    use super::*;

    fn block(e: &mut Encoder, status: u16, list: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Buf::new();
        e.begin_block(&mut out);
        e.status(status, &mut out);
        for (n, v) in list {
            e.field(n.as_bytes(), v.as_bytes(), &mut out);
        }
        out.filled().to_vec()
    }

    /// Encodes, decodes, and checks the fields and both tables agree.
    fn round_trip(e: &mut Encoder, d: &mut Decoder, status: u16, list: &[(&str, &str)]) -> Vec<u8> {
        let bytes = block(e, status, list);
        let (decoded, got) = fields(d, &bytes).unwrap();
        assert_eq!(decoded, Decoded::Complete);
        let mut want = vec![format!(":status: {status}")];
        want.extend(list.iter().map(|(n, v)| format!("{n}: {v}")));
        assert_eq!(got, want);
        assert_eq!(table_of(e.table()), table_of(d.table()));
        assert_eq!(e.table().max_size(), d.table().max_size());
        bytes
    }

    const RESPONSE: [(&str, &str); 7] = [
        ("content-type", "text/html; charset=utf-8"),
        ("content-length", "1234"),
        ("date", "Mon, 23 Nov 2026 11:04:17 GMT"),
        ("server", "prefork-server"),
        ("etag", "\"5f3a-19c2b\""),
        ("cache-control", "max-age=3600"),
        ("x-request-id", "abc-123"),
    ];

    #[test]
    fn statuses() {
        let mut e = Encoder::new();
        let mut d = Decoder::new(4096);
        for (code, bytes) in [
            (200, &[0x88][..]),
            (204, &[0x89]),
            (500, &[0x8E]),
            (404, &[0x8D]),
        ] {
            assert_eq!(round_trip(&mut e, &mut d, code, &[]), bytes);
        }
        for code in [100, 101, 201, 301, 302, 307, 403, 431, 503, 999] {
            let bytes = round_trip(&mut e, &mut d, code, &[]);
            assert_eq!(bytes[0], 0x08);
        }
        assert_eq!(e.table().len(), 0);
    }

    #[test]
    fn policy() {
        let mut e = Encoder::new();
        let mut d = Decoder::new(4096);
        let first = round_trip(&mut e, &mut d, 200, &RESPONSE);
        // content-type, date, server, cache-control were indexed; the rest not.
        assert_eq!(e.table().len(), 4);
        let again = round_trip(&mut e, &mut d, 200, &RESPONSE);
        assert!(
            again.len() < first.len() / 2,
            "{} {}",
            again.len(),
            first.len()
        );
        // :status, then content-type (the oldest of four: 65).
        assert_eq!(&again[..2], [0x88, 0xC1]);
        let mut out = Buf::new();
        e.field(b"set-cookie", b"id=1", &mut out);
        assert_eq!(&out.filled()[..2], [0x1F, 55 - 15]);
        let mut out = Buf::new();
        e.field(b"content-length", b"1", &mut out);
        assert_eq!(out.filled(), [0x0F, 28 - 15, 0x01, b'1']);
        let mut out = Buf::new();
        e.field(b"accept-encoding", b"gzip, deflate", &mut out);
        assert_eq!(out.filled(), [0x80 | 16]);
        // A long value of an indexed name is not indexed, but names the entry's name.
        let long = "x".repeat(MAX_INDEXED_VALUE + 1);
        round_trip(
            &mut e,
            &mut d,
            200,
            &[
                ("content-type", &long),
                ("access-control-allow-origin", "*"),
            ],
        );
        assert_eq!(e.table().len(), 5);
        assert_eq!(e.table().get(0).unwrap().0, b"access-control-allow-origin");
        // A custom name indexed (x-frame-options), then sent without indexing with another
        // value too long to index: by the dynamic name.
        round_trip(&mut e, &mut d, 200, &[("x-frame-options", "DENY")]);
        let bytes = round_trip(&mut e, &mut d, 200, &[("x-frame-options", &long)]);
        assert_eq!(bytes[1], 0x0F);
        assert_eq!(bytes[2], 62 - 15);
    }

    #[test]
    fn table_size_changes() {
        let mut e = Encoder::new();
        let mut d = Decoder::new(4096);
        round_trip(&mut e, &mut d, 200, &RESPONSE);
        // Unchanged: nothing to say.
        e.set_peer_max_table_size(4096);
        e.set_peer_max_table_size(1 << 20);
        assert_eq!(block(&mut e, 200, &[]), [0x88]);
        e.set_peer_max_table_size(0);
        let bytes = round_trip(&mut e, &mut d, 200, &RESPONSE);
        assert_eq!(bytes[0], 0x20);
        assert_eq!(e.table().len(), 0);
        e.set_peer_max_table_size(100);
        let bytes = round_trip(&mut e, &mut d, 200, &RESPONSE);
        assert_eq!(&bytes[..2], [0x3F, 100 - 31]);
        assert!(e.table().size() <= 100);
        // Lowered then raised between two blocks: the smallest, then the final.
        e.set_peer_max_table_size(0);
        e.set_peer_max_table_size(4096);
        let bytes = round_trip(&mut e, &mut d, 200, &RESPONSE);
        assert_eq!(&bytes[..4], [0x20, 0x3F, 0xE1, 0x1F]);
        assert_eq!(e.table().len(), 4);
    }

    /// Many blocks, fields and table sizes varying: the decoder reads back every field, and
    /// the tables agree after every block.
    #[test]
    fn many_blocks_round_trip() {
        let mut e = Encoder::new();
        let mut d = Decoder::new(4096);
        let mut x: u32 = 7;
        let sizes = [0, 100, 4096, 256, 4096];
        for i in 0..600 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if i % 37 == 0 {
                e.set_peer_max_table_size(sizes[(x >> 8) as usize % sizes.len()]);
                if x & 1 == 0 {
                    e.set_peer_max_table_size(sizes[(x >> 12) as usize % sizes.len()]);
                }
            }
            let value = format!("v{}", x % 50);
            let date = format!("Mon, 23 Nov 2026 11:04:{:02} GMT", i / 20 % 60);
            let long = "y".repeat((x >> 4) as usize % 300);
            let list = [
                ("content-type", value.as_str()),
                ("date", date.as_str()),
                ("vary", long.as_str()),
                ("x-custom", value.as_str()),
                ("access-control-max-age", value.as_str()),
                ("set-cookie", value.as_str()),
            ];
            let n = (x >> 20) as usize % (list.len() + 1);
            round_trip(&mut e, &mut d, [200, 302, 404][i % 3], &list[..n]);
        }
    }

    /// The same response again allocates nothing and sends only indices but the values that
    /// are not indexed.
    #[test]
    fn steady_state_does_not_allocate() {
        let mut e = Encoder::new();
        let mut out = Buf::new();
        let encode = |e: &mut Encoder, out: &mut Buf| {
            out.consume(out.len());
            e.begin_block(out);
            e.status(200, out);
            for (n, v) in RESPONSE {
                e.field(n.as_bytes(), v.as_bytes(), out);
            }
            out.len()
        };
        let first = encode(&mut e, &mut out);
        let memory = e.memory();
        let capacity = out.capacity();
        let second = encode(&mut e, &mut out);
        for _ in 0..100 {
            assert_eq!(encode(&mut e, &mut out), second);
        }
        assert_eq!((e.memory(), out.capacity()), (memory, capacity));
        assert!(second < first / 2);
        assert!(memory <= 4096 + 128 * 24, "{memory}");
    }

    /// The RFC's response fields (C.5) through this encoder at table size 256, and the
    /// decoder following along.
    #[test]
    fn appendix_c5_fields_round_trip() {
        let mut e = Encoder::new();
        e.set_peer_max_table_size(256);
        let mut d = Decoder::new(4096);
        let date = ("date", "Mon, 21 Oct 2013 20:13:21 GMT");
        let location = ("location", "https://www.example.com");
        round_trip(
            &mut e,
            &mut d,
            302,
            &[("cache-control", "private"), date, location],
        );
        round_trip(
            &mut e,
            &mut d,
            307,
            &[("cache-control", "private"), date, location],
        );
        round_trip(
            &mut e,
            &mut d,
            200,
            &[
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                location,
                ("content-encoding", "gzip"),
                (
                    "set-cookie",
                    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                ),
            ],
        );
        assert_eq!(d.table().max_size(), 256);
    }

    #[test]
    fn integers() {
        let mut d = Decoder::new(4096);
        for len in [0, 1, 126, 127, 128, 254, 255, 256, 16_383, 16_384, 70_000] {
            let name = "n".repeat(len);
            let mut out = Buf::new();
            integer(0, 4, 0x00, &mut out);
            integer(len, 7, 0x00, &mut out);
            out.extend_from_slice(name.as_bytes());
            integer(0, 7, 0x00, &mut out);
            let (_, got) = fields(&mut d, out.filled()).unwrap();
            assert_eq!(got, [format!("{name}: ")]);
        }
    }

    /// `cargo test --lib hpack_encode_timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn hpack_encode_timing() {
        use std::time::Instant;
        let mut e = Encoder::new();
        let mut out = Buf::new();
        let n = 1_000_000;
        let t = Instant::now();
        for _ in 0..n {
            out.consume(out.len());
            e.begin_block(&mut out);
            e.status(200, &mut out);
            for (name, value) in std::hint::black_box(RESPONSE) {
                e.field(name.as_bytes(), value.as_bytes(), &mut out);
            }
        }
        let per = t.elapsed().as_nanos() as f64 / n as f64;
        println!(
            "steady-state response of {} fields: {per:.0} ns, {} bytes",
            RESPONSE.len() + 1,
            out.len()
        );
        let mut d = Decoder::new(4096);
        let mut block = Buf::new();
        e = Encoder::new();
        for _ in 0..2 {
            block.consume(block.len());
            e.status(200, &mut block);
            for (name, value) in RESPONSE {
                e.field(name.as_bytes(), value.as_bytes(), &mut block);
            }
            d.decode(block.filled(), usize::MAX, &mut |_, _| {})
                .unwrap();
        }
        let t = Instant::now();
        for _ in 0..n {
            d.decode(
                std::hint::black_box(block.filled()),
                usize::MAX,
                &mut |n, v| {
                    std::hint::black_box((n, v));
                },
            )
            .unwrap();
        }
        let per = t.elapsed().as_nanos() as f64 / n as f64;
        println!("decoding it: {per:.0} ns");
    }
}
