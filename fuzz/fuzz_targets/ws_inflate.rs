//! permessage-deflate's inflater on arbitrary compressed data, with a limit the input picks;
//! and the compressor on arbitrary messages, round-tripped.
//!
//! Asserts: no panic; nothing past the limit is produced (a bomb stops at it); what is
//! compressed inflates back to itself at every window size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefork_server::proto::ws::deflate::{compress, inflate};

fuzz_target!(|input: &[u8]| {
    let Some((&pick, data)) = input.split_first() else {
        return;
    };
    let limit = usize::from(pick) * 97;
    let mut out = Vec::new();
    if let Ok(true) = inflate(data, limit, &mut out, |_| true) {
        assert!(out.len() <= limit, "{} past the limit {limit}", out.len());
    }
    assert!(out.len() <= limit + 16 * 1024);
    let bits = 9 + pick % 7;
    let mut packed = Vec::new();
    compress(data, bits, &mut packed);
    let mut back = Vec::new();
    assert_eq!(inflate(&packed, data.len(), &mut back, |_| true), Ok(true));
    assert_eq!(back, data);
});
