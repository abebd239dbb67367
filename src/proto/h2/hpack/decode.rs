//! The decoder: header blocks from the peer (requests) to fields, in order.
//!
//! Bounds:
//! - a field list past `max_list_size` stops reaching the caller ([`Decoded::TooLarge`]), but
//!   the rest of the block is still decoded, so the table follows the peer's;
//! - strings not Huffman-coded are handed out as slices of the block, never copied;
//! - a Huffman-coded string is decoded into `scratch`, which holds the current field only and
//!   stops a string at the longest length it could still be used at: what is left of the
//!   list's budget, or what the dynamic table could hold if the field is inserted. So
//!   `scratch.len()` never exceeds max(`max_list_size`, table size) − 32, nor 8/5 of the block
//!   (no code is shorter than 5 bits); a string past its bound is skipped without being
//!   decoded further (nor checked: nobody will read it). Past [`SCRATCH_KEEP`] bytes its
//!   storage is given back after the block, so one large block does not stay held.
//!
//! Field validation (case, pseudo-header order, forbidden characters) is the HTTP/2 layer's:
//! this module only decodes.

use super::table::{DynamicTable, ENTRY_OVERHEAD, STATIC};
use super::{huffman, HpackError};

/// The scratch storage kept between blocks; above it, it is given back.
const SCRATCH_KEEP: usize = 4096;

/// How a block ended, when it could be decoded at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// Every field was handed to the caller.
    Complete,
    /// The field list passed its bound: the fields from the one that passed it on were not
    /// handed over (the stream gets a 431 or a reset), though the table took them in.
    TooLarge,
}

/// The request side's HPACK state: the dynamic table the peer's encoder fills.
#[derive(Debug)]
pub(crate) struct Decoder {
    table: DynamicTable,
    /// Huffman-decoded names and values of the current field; see the module's doc.
    scratch: Vec<u8>,
}

impl Decoder {
    /// `max_table_size`: what we advertise as SETTINGS_HEADER_TABLE_SIZE (4096 by default).
    /// The table starts at that size, as if the peer had adopted it (the server's SETTINGS go
    /// out before any request is read); a size update above it is an error.
    pub(crate) fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(max_table_size),
            scratch: Vec::new(),
        }
    }

    /// Decodes one whole header block (HEADERS + CONTINUATION payloads already joined),
    /// calling `field(name, value)` for each field in order. `max_list_size` is the
    /// SETTINGS_MAX_HEADER_LIST_SIZE bound (sum over fields of name.len() + value.len() + 32).
    pub(crate) fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
        field: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<Decoded, HpackError> {
        let mut list = List {
            size: 0,
            max: max_list_size,
            too_large: false,
            field,
        };
        let result = self.block(&mut Cursor { block, at: 0 }, &mut list);
        self.scratch.clear();
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch.shrink_to(SCRATCH_KEEP);
        }
        result?;
        Ok(if list.too_large {
            Decoded::TooLarge
        } else {
            Decoded::Complete
        })
    }

    /// Bytes of memory this decoder holds (for the server's memory budget).
    pub(crate) fn memory(&self) -> usize {
        self.table.memory() + self.scratch.capacity()
    }

    /// The dynamic table, for tests comparing it with an encoder's.
    #[cfg(test)]
    pub(crate) fn table(&self) -> &DynamicTable {
        &self.table
    }

    fn block(&mut self, cur: &mut Cursor<'_>, list: &mut List<'_>) -> Result<(), HpackError> {
        let mut updates = 0;
        let mut fields = false;
        while let Some(&first) = cur.block.get(cur.at) {
            if first & 0x80 != 0 {
                let index = cur.integer(7)?;
                let (name, value) = self.entry(index)?;
                list.emit(name, value);
            } else if first & 0x40 != 0 {
                self.literal(cur, list, 6, true)?;
            } else if first & 0x20 != 0 {
                // §4.2: only before the first field, and at most the smallest size and the
                // final one.
                if fields {
                    return Err(HpackError::SizeUpdateNotAtStart);
                }
                if updates == 2 {
                    return Err(HpackError::TooManySizeUpdates);
                }
                updates += 1;
                let size = cur.integer(5)?;
                if size > self.table.limit() {
                    return Err(HpackError::SizeUpdateTooLarge);
                }
                self.table.set_max_size(size);
                continue;
            } else {
                // Without indexing (0000) or never indexed (0001): the same to a decoder.
                self.literal(cur, list, 4, false)?;
            }
            fields = true;
        }
        Ok(())
    }

    /// The entry at wire index `index` (§2.3.3).
    fn entry(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        match index {
            0 => Err(HpackError::IndexZero),
            1..=61 => Ok(STATIC[index - 1]),
            _ => self
                .table
                .get(index - 62)
                .ok_or(HpackError::IndexBeyondTables),
        }
    }

    /// A literal field whose first byte is at the cursor: its name an index in a `prefix`-bit
    /// integer or a string, then its value; added to the table if `insert`.
    fn literal(
        &mut self,
        cur: &mut Cursor<'_>,
        list: &mut List<'_>,
        prefix: u32,
        insert: bool,
    ) -> Result<(), HpackError> {
        self.scratch.clear();
        let name_index = cur.integer(prefix)?;
        let name = match name_index {
            0 => {
                let limit = self.string_limit(list, insert, 0);
                cur.string(&mut self.scratch, limit)?
            }
            1..=61 => Piece::Static(STATIC[name_index - 1].0),
            _ => {
                // Copied: the insert below may evict the entry it comes from (§4.4).
                let (name, _) = self
                    .table
                    .get(name_index - 62)
                    .ok_or(HpackError::IndexBeyondTables)?;
                self.scratch.extend_from_slice(name);
                Piece::Scratch(0, name.len())
            }
        };
        let value = match name.len() {
            Some(name_len) => {
                let limit = self.string_limit(list, insert, name_len);
                cur.string(&mut self.scratch, limit)?
            }
            None => cur.string(&mut self.scratch, 0)?,
        };
        let (Some(_), Some(_)) = (name.len(), value.len()) else {
            // Too long to be used: the entry would not fit the table either.
            if insert {
                self.table.clear();
            }
            list.too_large = true;
            return Ok(());
        };
        let name = name.slice(cur.block, &self.scratch);
        let value = value.slice(cur.block, &self.scratch);
        if insert {
            self.table.insert(name, value);
        }
        list.emit(name, value);
        Ok(())
    }

    /// The longest a string of the current field can be and still be used: for the list, what
    /// is left of its budget; for the table, what an entry may hold.
    fn string_limit(&self, list: &List<'_>, insert: bool, name_len: usize) -> usize {
        let overhead = ENTRY_OVERHEAD + name_len;
        let emit = if list.too_large {
            0
        } else {
            list.max.saturating_sub(list.size).saturating_sub(overhead)
        };
        let keep = if insert {
            self.table.max_size().saturating_sub(overhead)
        } else {
            0
        };
        emit.max(keep)
    }
}

/// The fields of one block so far, and where they go.
struct List<'f> {
    /// Their size as SETTINGS_MAX_HEADER_LIST_SIZE counts it.
    size: usize,
    max: usize,
    /// A field passed `max`: none goes to `field` from then on.
    too_large: bool,
    field: &'f mut dyn FnMut(&[u8], &[u8]),
}

impl List<'_> {
    fn emit(&mut self, name: &[u8], value: &[u8]) {
        if self.too_large {
            return;
        }
        self.size = self
            .size
            .saturating_add(name.len() + value.len() + ENTRY_OVERHEAD);
        if self.size > self.max {
            self.too_large = true;
        } else {
            (self.field)(name, value);
        }
    }
}

/// A name or value: where its bytes are, or that it was too long to be used.
#[derive(Debug, Clone, Copy)]
enum Piece {
    Block(usize, usize),
    Scratch(usize, usize),
    Static(&'static [u8]),
    TooLong,
}

impl Piece {
    /// Its length, unless too long.
    fn len(self) -> Option<usize> {
        match self {
            Piece::Block(from, to) | Piece::Scratch(from, to) => Some(to - from),
            Piece::Static(s) => Some(s.len()),
            Piece::TooLong => None,
        }
    }

    fn slice<'a>(self, block: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        match self {
            Piece::Block(from, to) => &block[from..to],
            Piece::Scratch(from, to) => &scratch[from..to],
            Piece::Static(s) => s,
            Piece::TooLong => &[],
        }
    }
}

/// Integers above this are refused: no length, index or size in a header block comes near.
const MAX_INTEGER: u64 = u32::MAX as u64;

/// The block and how far it has been read.
struct Cursor<'b> {
    block: &'b [u8],
    at: usize,
}

impl Cursor<'_> {
    /// An integer with a `prefix`-bit prefix (§5.1), its first byte at the cursor.
    fn integer(&mut self, prefix: u32) -> Result<usize, HpackError> {
        let first = *self
            .block
            .get(self.at)
            .ok_or(HpackError::TruncatedInteger)?;
        self.at += 1;
        let mask = (1u8 << prefix) - 1;
        let mut value = u64::from(first & mask);
        if value < u64::from(mask) {
            return Ok(value as usize);
        }
        let mut shift = 0;
        loop {
            let byte = *self
                .block
                .get(self.at)
                .ok_or(HpackError::TruncatedInteger)?;
            self.at += 1;
            value += u64::from(byte & 0x7F) << shift;
            if value > MAX_INTEGER {
                return Err(HpackError::IntegerOverflow);
            }
            if byte & 0x80 == 0 {
                return usize::try_from(value).map_err(|_| HpackError::IntegerOverflow);
            }
            shift += 7;
            // 2^32 takes five bytes of seven bits: a sixth is padding, or an attack.
            if shift > 28 {
                return Err(HpackError::IntegerOverflow);
            }
        }
    }

    /// A string literal (§5.2) at the cursor: raw, a slice of the block; Huffman-coded,
    /// appended to `scratch` unless it decodes to more than `limit` bytes.
    fn string(&mut self, scratch: &mut Vec<u8>, limit: usize) -> Result<Piece, HpackError> {
        let huffman = self.block.get(self.at).is_some_and(|b| b & 0x80 != 0);
        let len = self.integer(7)?;
        let start = self.at;
        let end = start
            .checked_add(len)
            .filter(|&end| end <= self.block.len())
            .ok_or(HpackError::TruncatedString)?;
        self.at = end;
        if !huffman {
            return Ok(Piece::Block(start, end));
        }
        // No code is longer than 30 bits: the string decodes to at least this many bytes.
        if len.saturating_mul(8) / 30 > limit {
            return Ok(Piece::TooLong);
        }
        let from = scratch.len();
        if huffman::decode(&self.block[start..end], scratch, limit)? {
            Ok(Piece::Scratch(from, scratch.len()))
        } else {
            scratch.truncate(from);
            Ok(Piece::TooLong)
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Decodes `block`, returning the fields as `name: value` lines.
    pub(crate) fn fields(
        d: &mut Decoder,
        block: &[u8],
    ) -> Result<(Decoded, Vec<String>), HpackError> {
        let mut out = Vec::new();
        let decoded = d.decode(block, usize::MAX, &mut |n, v| {
            out.push(format!(
                "{}: {}",
                String::from_utf8_lossy(n),
                String::from_utf8_lossy(v)
            ));
        })?;
        Ok((decoded, out))
    }

    /// The dynamic table as `name: value` lines, newest first, and its size.
    pub(crate) fn table_of(t: &DynamicTable) -> (Vec<String>, usize) {
        let lines = (0..t.len())
            .map(|i| {
                let (n, v) = t.get(i).unwrap();
                format!(
                    "{}: {}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(v)
                )
            })
            .collect();
        (lines, t.size())
    }

    fn check(d: &mut Decoder, block: &str, want: &[&str], table: &[&str], size: usize) {
        let (decoded, got) = fields(d, &hex(block)).unwrap();
        assert_eq!(decoded, Decoded::Complete);
        assert_eq!(got, want);
        assert_eq!(
            table_of(&d.table),
            (table.iter().map(|s| s.to_string()).collect(), size)
        );
    }

    /// The request blocks of RFC 7541 C.3 (raw strings) and C.4 (Huffman), with the table
    /// after each.
    pub(crate) const REQUESTS: [[&str; 3]; 2] = [
        [
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ],
        [
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ],
    ];

    /// The response blocks of RFC 7541 C.5 (raw) and C.6 (Huffman), table size 256.
    pub(crate) const RESPONSES: [[&str; 3]; 2] = [
        [
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
             6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
             54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
             5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
             3d31",
        ],
        [
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 \
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab \
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f \
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ],
    ];

    #[test]
    fn c2_single_fields() {
        let mut d = Decoder::new(4096);
        check(
            &mut d,
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            &["custom-key: custom-header"],
            &["custom-key: custom-header"],
            55,
        );
        let mut d = Decoder::new(4096);
        check(
            &mut d,
            "040c 2f73 616d 706c 652f 7061 7468",
            &[":path: /sample/path"],
            &[],
            0,
        );
        check(
            &mut d,
            "1008 7061 7373 776f 7264 0673 6563 7265 74",
            &["password: secret"],
            &[],
            0,
        );
        check(&mut d, "82", &[":method: GET"], &[], 0);
    }

    #[test]
    fn c3_c4_requests() {
        for blocks in REQUESTS {
            let mut d = Decoder::new(4096);
            let first = [
                ":method: GET",
                ":scheme: http",
                ":path: /",
                ":authority: www.example.com",
            ];
            check(
                &mut d,
                blocks[0],
                &first,
                &[":authority: www.example.com"],
                57,
            );
            let mut second = first.to_vec();
            second.push("cache-control: no-cache");
            let table = ["cache-control: no-cache", ":authority: www.example.com"];
            check(&mut d, blocks[1], &second, &table, 110);
            check(
                &mut d,
                blocks[2],
                &[
                    ":method: GET",
                    ":scheme: https",
                    ":path: /index.html",
                    ":authority: www.example.com",
                    "custom-key: custom-value",
                ],
                &[
                    "custom-key: custom-value",
                    "cache-control: no-cache",
                    ":authority: www.example.com",
                ],
                164,
            );
        }
    }

    #[test]
    fn c5_c6_responses_with_eviction() {
        let date1 = "date: Mon, 21 Oct 2013 20:13:21 GMT";
        let date2 = "date: Mon, 21 Oct 2013 20:13:22 GMT";
        let location = "location: https://www.example.com";
        let cookie = "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
        for blocks in RESPONSES {
            let mut d = Decoder::new(256);
            let first = [":status: 302", "cache-control: private", date1, location];
            let table = [location, date1, "cache-control: private", ":status: 302"];
            check(&mut d, blocks[0], &first, &table, 222);
            let second = [":status: 307", "cache-control: private", date1, location];
            let table = [":status: 307", location, date1, "cache-control: private"];
            check(&mut d, blocks[1], &second, &table, 222);
            let third = [
                ":status: 200",
                "cache-control: private",
                date2,
                location,
                "content-encoding: gzip",
                cookie,
            ];
            check(
                &mut d,
                blocks[2],
                &third,
                &[cookie, "content-encoding: gzip", date2],
                215,
            );
        }
    }

    fn error(d: &mut Decoder, block: &[u8]) -> HpackError {
        fields(d, block).unwrap_err()
    }

    #[test]
    fn errors() {
        let mut d = Decoder::new(4096);
        // Integers: truncated in the prefix's continuation, or the block ends before a string.
        assert_eq!(error(&mut d, &[0xFF]), HpackError::TruncatedInteger);
        assert_eq!(error(&mut d, &[0xFF, 0x80]), HpackError::TruncatedInteger);
        assert_eq!(error(&mut d, &[0x40]), HpackError::TruncatedInteger);
        assert_eq!(error(&mut d, &[0x41]), HpackError::TruncatedInteger);
        // 2^32 and more, and six continuation bytes even of zeros.
        assert_eq!(
            error(&mut d, &[0xFF, 0x81, 0xFF, 0xFF, 0xFF, 0x0F]),
            HpackError::IntegerOverflow
        );
        assert_eq!(
            error(&mut d, &[0xFF, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            HpackError::IntegerOverflow
        );
        // Five continuation bytes are fine (index 127 + 0 = past the tables here).
        assert_eq!(
            error(&mut d, &[0xFF, 0x80, 0x80, 0x80, 0x80, 0x00]),
            HpackError::IndexBeyondTables
        );
        // Strings.
        assert_eq!(
            error(&mut d, &[0x40, 0x05, b'a', b'b']),
            HpackError::TruncatedString
        );
        assert_eq!(
            error(&mut d, &[0x41, 0x7F, 0xFF, 0xFF, 0xFF, 0x0F]),
            HpackError::TruncatedString
        );
        // Indices.
        assert_eq!(error(&mut d, &[0x80]), HpackError::IndexZero);
        assert_eq!(error(&mut d, &[0xBE]), HpackError::IndexBeyondTables);
        assert_eq!(error(&mut d, &[0x7E, 0x00]), HpackError::IndexBeyondTables);
        assert_eq!(
            error(&mut d, &[0x0F, 0x2F, 0x00]),
            HpackError::IndexBeyondTables
        );
        // Huffman: EOS, long padding, padding not ones.
        assert_eq!(
            error(&mut d, &[0x41, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]),
            HpackError::HuffmanEos
        );
        assert_eq!(
            error(&mut d, &[0x41, 0x81, 0xFF]),
            HpackError::HuffmanPaddingTooLong
        );
        assert_eq!(
            error(&mut d, &[0x41, 0x81, 0x00]),
            HpackError::HuffmanPaddingNotOnes
        );
        assert_eq!(
            error(&mut d, &[0x00, 0x81, 0x00, 0x00]),
            HpackError::HuffmanPaddingNotOnes
        );
        // Size updates: above our setting, after a field, a third one.
        assert_eq!(
            error(&mut d, &[0x3F, 0xE2, 0x1F]),
            HpackError::SizeUpdateTooLarge
        );
        assert_eq!(
            error(&mut d, &[0x82, 0x20]),
            HpackError::SizeUpdateNotAtStart
        );
        assert_eq!(
            error(&mut d, &[0x20, 0x20, 0x20]),
            HpackError::TooManySizeUpdates
        );
        assert_eq!(HpackError::IndexZero.to_string(), "hpack: index 0");
    }

    #[test]
    fn size_updates() {
        let mut d = Decoder::new(4096);
        fields(&mut d, &hex(REQUESTS[0][0])).unwrap();
        assert_eq!(d.table.len(), 1);
        // 4096 exactly is allowed; two at the start (the smallest, then the final) too.
        fields(&mut d, &[0x3F, 0xE1, 0x1F]).unwrap();
        assert_eq!(d.table.len(), 1);
        let (_, got) = fields(&mut d, &[0x20, 0x3F, 0xE1, 0x1F, 0x82]).unwrap();
        assert_eq!(got, [":method: GET"]);
        assert_eq!((d.table.len(), d.table.max_size()), (0, 4096));
        // A size of 0 keeps nothing: a literal with indexing goes nowhere.
        fields(&mut d, &[0x20, 0x40, 0x01, b'a', 0x01, b'b']).unwrap();
        assert_eq!(d.table.len(), 0);
        assert_eq!(error(&mut d, &[0xBE]), HpackError::IndexBeyondTables);
        // A smaller setting: the peer may not go above it.
        let mut small = Decoder::new(100);
        assert_eq!(
            error(&mut small, &[0x3F, 0x46]),
            HpackError::SizeUpdateTooLarge
        );
        fields(&mut small, &[0x3F, 0x45]).unwrap();
        assert_eq!(small.table.max_size(), 100);
    }

    #[test]
    fn an_entry_larger_than_the_table_empties_it() {
        let mut d = Decoder::new(64);
        fields(&mut d, &[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
        assert_eq!(d.table.len(), 1);
        let mut big = vec![0x40, 0x01, b'n', 0x20];
        big.extend_from_slice(&[b'v'; 32]); // 1 + 32 + 32 = 65 > 64
        let (_, got) = fields(&mut d, &big).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(d.table.len(), 0);
    }

    /// A block past the list's bound is still decoded whole: the next block, which refers to
    /// the entries it inserted, decodes as the peer meant.
    #[test]
    fn too_large_keeps_the_table_in_sync() {
        let mut block = vec![0x82];
        for (name, value) in [("x-one", "1111"), ("x-two", "2222"), ("x-three", "3333")] {
            block.extend_from_slice(&[0x40, name.len() as u8]);
            block.extend_from_slice(name.as_bytes());
            block.push(value.len() as u8);
            block.extend_from_slice(value.as_bytes());
        }
        // A Huffman-coded inserted value, longer than the list allows.
        let long = vec![b'z'; 200];
        let mut coded = crate::buffer::Buf::new();
        huffman::encode(&long, &mut coded);
        block.extend_from_slice(&[0x40, 0x06]);
        block.extend_from_slice(b"x-four");
        block.extend_from_slice(&[0xFF, (coded.len() - 127) as u8]);
        block.extend_from_slice(coded.filled());
        // And one not inserted, never decoded.
        block.extend_from_slice(&[0x0F, 0x2B - 15, 0x81, 0x00]);

        let mut d = Decoder::new(4096);
        let mut seen = Vec::new();
        let decoded = d
            .decode(&block, 32 + 10 + 32 + 9 + 32, &mut |n, v| {
                seen.push((n.to_vec(), v.to_vec()))
            })
            .unwrap();
        assert_eq!(decoded, Decoded::TooLarge);
        assert_eq!(
            seen,
            [
                (b":method".to_vec(), b"GET".to_vec()),
                (b"x-one".to_vec(), b"1111".to_vec())
            ]
        );
        assert_eq!(d.table.len(), 4);
        // Indices 62..=65: x-four, x-three, x-two, x-one.
        let (decoded, got) = fields(&mut d, &[0xBE, 0xBF, 0xC0, 0xC1]).unwrap();
        assert_eq!(decoded, Decoded::Complete);
        assert_eq!(got[0], format!("x-four: {}", "z".repeat(200)));
        assert_eq!(&got[1..], ["x-three: 3333", "x-two: 2222", "x-one: 1111"]);
        // The scratch never held more than the longest string it had to keep.
        assert!(d.memory() < 4096 + 4096 + 1024, "{}", d.memory());
    }

    /// A Huffman string too long for the list or the table is not decoded at all.
    #[test]
    fn unusable_strings_are_skipped() {
        let long = vec![b'a'; 5000];
        let mut coded = crate::buffer::Buf::new();
        huffman::encode(&long, &mut coded);
        let mut block = vec![0x0F, 0x2B - 15, 0xFF];
        let mut len = coded.len() - 127;
        while len >= 128 {
            block.push((len % 128) as u8 | 0x80);
            len /= 128;
        }
        block.push(len as u8);
        block.extend_from_slice(coded.filled());
        let mut d = Decoder::new(4096);
        let decoded = d
            .decode(&block, 1000, &mut |_, _| panic!("too large"))
            .unwrap();
        assert_eq!(decoded, Decoded::TooLarge);
        assert!(d.scratch.capacity() <= 1000, "{}", d.scratch.capacity());
        // The same with indexing: too large for the table as well, which empties.
        fields(&mut d, &hex(REQUESTS[0][0])).unwrap();
        block[0] = 0x40 | 0x2B;
        block.remove(1);
        let decoded = d
            .decode(&block, 1000, &mut |_, _| panic!("too large"))
            .unwrap();
        assert_eq!(decoded, Decoded::TooLarge);
        assert_eq!(d.table.len(), 0);
    }

    /// No input panics: every prefix of the appendix's blocks, and bytes flipped in them.
    #[test]
    fn damaged_blocks_do_not_panic() {
        for blocks in REQUESTS.iter().chain(RESPONSES.iter()) {
            for block in blocks {
                let block = hex(block);
                for cut in 0..block.len() {
                    let _ = fields(&mut Decoder::new(256), &block[..cut]);
                    for bit in 0..8 {
                        let mut b = block.clone();
                        b[cut] ^= 1 << bit;
                        let _ = Decoder::new(256).decode(&b, 200, &mut |_, _| {});
                    }
                }
            }
        }
    }
}
