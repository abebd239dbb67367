//! HPACK (RFC 7541): how HTTP/2 compresses header fields. Each side keeps a dynamic table of
//! recent fields that the other side's encoder fills; a field is sent as an index into it (or
//! into the 61-entry static table), or as literal strings, optionally Huffman-coded and
//! optionally added to the table. The decoder must apply every block in order, even one whose
//! fields it throws away, or its table drifts from the peer's and every later block is garbage.
//!
//! Written here rather than taken from the `h2` crate, whose codec lives inside its tokio-based
//! connection; and so that its memory is bounded the way the worker's budget needs:
//!
//! - the dynamic table is a byte arena as large as the table's limit plus a ring of entry
//!   offsets, both grown to that limit at most and never allocated per insert
//!   (`table::DynamicTable`);
//! - the decoder's scratch buffer (Huffman-coded strings) holds one field at a time and no
//!   string longer than what the field could still be used for (see `decode`);
//! - integers are capped at 2^32 − 1 in at most five continuation bytes, and every length is
//!   checked against the block before it is used: no input makes it panic or allocate without
//!   bound.
//!
//! Here: `huffman` the Appendix B code, `table` the static and dynamic tables, `decode`
//! the request side, `encode` the response side.

pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod huffman;
mod huffman_table;
pub(crate) mod table;

use std::fmt;

pub(crate) use self::decode::{Decoded, Decoder};
pub(crate) use self::encode::Encoder;

/// A header block HPACK cannot decode: a COMPRESSION_ERROR, which ends the connection (the
/// dynamic tables of the two sides can no longer be trusted to agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HpackError {
    /// The block ends inside an integer (an index, a length or a size update).
    TruncatedInteger,
    /// An integer above 2^32 − 1, or spelled with more than five continuation bytes.
    IntegerOverflow,
    /// A string's length runs past the end of the block.
    TruncatedString,
    /// Index 0, which names no entry (§6.1).
    IndexZero,
    /// An index past the end of the static and dynamic tables.
    IndexBeyondTables,
    /// The EOS symbol inside a Huffman-coded string (§5.2).
    HuffmanEos,
    /// More than 7 bits of padding at the end of a Huffman-coded string (§5.2).
    HuffmanPaddingTooLong,
    /// Padding that is not the most significant bits of EOS (all ones) (§5.2).
    HuffmanPaddingNotOnes,
    /// A dynamic table size update above what we advertised (§6.3).
    SizeUpdateTooLarge,
    /// A dynamic table size update after the block's first field (§4.2).
    SizeUpdateNotAtStart,
    /// More than two size updates at the start of a block (§4.2 allows the smallest and the
    /// final size, no more).
    TooManySizeUpdates,
}

impl HpackError {
    /// A short reason, for the GOAWAY's debug data and the log.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            HpackError::TruncatedInteger => "hpack: block ends inside an integer",
            HpackError::IntegerOverflow => "hpack: integer too large",
            HpackError::TruncatedString => "hpack: string runs past the block",
            HpackError::IndexZero => "hpack: index 0",
            HpackError::IndexBeyondTables => "hpack: index beyond the tables",
            HpackError::HuffmanEos => "hpack: EOS inside a Huffman string",
            HpackError::HuffmanPaddingTooLong => "hpack: Huffman padding over 7 bits",
            HpackError::HuffmanPaddingNotOnes => "hpack: Huffman padding not all ones",
            HpackError::SizeUpdateTooLarge => "hpack: table size update above our setting",
            HpackError::SizeUpdateNotAtStart => "hpack: table size update after a field",
            HpackError::TooManySizeUpdates => "hpack: more than two table size updates",
        }
    }
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for HpackError {}

#[cfg(test)]
mod tests {
    /// The fuzzer's entry on its seeds (the Appendix C blocks), with every table size and
    /// list bound, and on every prefix of them.
    #[test]
    fn fuzz_entry_on_the_seeds() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/hpack");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let mut seed = std::fs::read(entry.unwrap().path()).unwrap();
            for pick in 0..=255u8 {
                seed[0] = pick;
                crate::testing::hpack_decode(&seed);
            }
            for cut in 0..seed.len() {
                crate::testing::hpack_decode(&seed[..cut]);
            }
            seen += 1;
        }
        assert!(seen >= 6);
    }
}
