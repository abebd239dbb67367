//! The PROXY protocol header parser (`src/proto/proxy/`) on arbitrary bytes; the first byte
//! picks the versions accepted (v1, v2, any).
//!
//! Asserts: no panic; a parsed header consumed at least one byte and no more than it was
//! given, within the version's size bound, with any UNIX paths inside what it consumed; the
//! same header comes out of exactly its bytes, and every cut of them is "need more" (a header
//! split across reads is read the same); an error is final (no more bytes undo it) and is the
//! same error on the whole input; `any` answers what the matching single version answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prefork_server::proto::proxy::header::{MAX_V1_BYTES, MAX_V2_BYTES};
use prefork_server::proto::proxy::{parse, Accept, Addresses, Malformed, Version};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let accept = match mode % 3 {
        0 => Accept::V1,
        1 => Accept::V2,
        _ => Accept::Any,
    };
    let whole = parse(bytes, accept);
    match &whole {
        Ok(Some((header, n))) => {
            let n = *n;
            assert!(n > 0 && n <= bytes.len());
            let bound = match header.version {
                Version::V1 => MAX_V1_BYTES,
                Version::V2 => MAX_V2_BYTES,
            };
            assert!(n <= bound, "{n} bytes");
            if let Addresses::Unix {
                source,
                destination,
            } = &header.addresses
            {
                assert!(source.end <= n && destination.end <= n);
            }
            assert_eq!(parse(&bytes[..n], accept), whole);
            for cut in [0, n / 2, n - 1] {
                assert_eq!(parse(&bytes[..cut], accept), Ok(None), "cut at {cut}");
            }
        }
        Ok(None) => {}
        Err(_) => {}
    }
    // Errors are final: whatever a prefix was refused for, the whole is refused for.
    if let Err(e) = parse(&bytes[..bytes.len() / 2], accept) {
        assert_eq!(whole, Err(e));
    }
    if accept == Accept::Any {
        let v1 = parse(bytes, Accept::V1);
        let v2 = parse(bytes, Accept::V2);
        let single = if v1 != Err(Malformed::NotProxy) { v1 } else { v2 };
        assert_eq!(whole, single);
    }
});
