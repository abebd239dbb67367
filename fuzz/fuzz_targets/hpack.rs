//! HPACK (`src/proto/h2/hpack/`): a sequence of header blocks from arbitrary bytes, decoded with
//! a table size and a list bound the first byte picks, each block's fields then re-encoded
//! (under table sizes the input also changes) and decoded again. See
//! `prefork_server::testing::hpack_decode`.
//!
//! Asserts: no panic; the fields handed over stay within the bound and the decoder's memory
//! within its own; what is re-encoded decodes back to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| prefork_server::testing::hpack_decode(input));
