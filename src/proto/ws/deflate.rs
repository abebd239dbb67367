//! permessage-deflate's codec (RFC 7692 §7.2). Both sides agreed to no context takeover (see
//! `http::websocket::Deflate`), so each message is compressed and inflated alone, and one
//! compressor (per window size) and one decompressor per worker serve every connection in
//! turn: a connection keeps no codec state between messages, and a message is worked in one
//! call, so two connections never share one half-way.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The empty stored block a sender strips from the end of each message (§7.2.1), and the
/// receiver puts back before inflating (§7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// Bytes inflated per step, so the limit is checked before more is produced.
const STEP: usize = 16 * 1024;

thread_local! {
    /// The worker's compressors, by window bits (9 to 15), made when first needed.
    static COMPRESSORS: RefCell<[Option<Compress>; 7]> = const { RefCell::new([None, None, None, None, None, None, None]) };
    static DECOMPRESSOR: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// Why a compressed message cannot be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// It inflates to more than the limit (close 1009); nothing past the limit was produced.
    TooBig,
    /// Not a valid deflate stream (close 1007).
    Corrupt,
}

/// Inflates one message's `compressed` payload into `out`, growing it by at most `limit`
/// bytes; `grow` is asked before each step for the bytes it adds (the budget), and may refuse.
///
/// # Errors
/// [`InflateError`]; `Ok(false)` when `grow` refused (nothing to undo: `out` holds what was
/// inflated so far, and the caller drops it).
pub fn inflate(
    compressed: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
    mut grow: impl FnMut(usize) -> bool,
) -> Result<bool, InflateError> {
    DECOMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let d = cell.get_or_insert_with(|| Decompress::new(false));
        d.reset(false);
        let start = out.len();
        let mut step = (compressed.len() * 4).clamp(1024, STEP);
        for input in [compressed, &TAIL[..]] {
            let mut pos = 0;
            loop {
                let produced = out.len() - start;
                let (in_before, out_before) = (d.total_in(), d.total_out());
                if produced >= limit {
                    // Not one byte more may be made: see whether one would be.
                    let mut probe = [0u8; 1];
                    d.decompress(&input[pos..], &mut probe, FlushDecompress::Sync)
                        .map_err(|_| InflateError::Corrupt)?;
                    if d.total_out() > out_before {
                        return Err(InflateError::TooBig);
                    }
                    let consumed = (d.total_in() - in_before) as usize;
                    pos += consumed;
                    if consumed == 0 {
                        break;
                    }
                    continue;
                }
                // Steps start near what the input may make and double, so a small message
                // is not given (or cleared) a whole step.
                let room = (limit - produced).min(step);
                step = (step * 2).min(STEP);
                if out.capacity() - out.len() < room {
                    if !grow(room) {
                        return Ok(false);
                    }
                    out.reserve_exact(room);
                }
                // Into the spare capacity, which was reserved (and charged) above: never past
                // `limit`, and nothing cleared first.
                let status = d.decompress_vec(&input[pos..], out, FlushDecompress::Sync);
                let wrote = (d.total_out() - out_before) as usize;
                let status = status.map_err(|_| InflateError::Corrupt)?;
                let consumed = (d.total_in() - in_before) as usize;
                pos += consumed;
                // Done with this input once all of it is in and the output was not what
                // stopped the inflater.
                if status == Status::StreamEnd || (pos == input.len() && out.capacity() > out.len())
                {
                    break;
                }
                if consumed == 0 && wrote == 0 {
                    // Input left, room left, and no progress: not a deflate stream.
                    return Err(InflateError::Corrupt);
                }
            }
        }
        Ok(true)
    })
}

/// Compresses one message for sending with a window of `window_bits` (9 to 15), appending
/// to `out` without the trailing empty block.
pub fn compress(payload: &[u8], window_bits: u8, out: &mut Vec<u8>) {
    COMPRESSORS.with(|cell| {
        let mut all = cell.borrow_mut();
        let slot = &mut all[usize::from(window_bits.clamp(9, 15) - 9)];
        let c = slot.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::default(), false, window_bits.clamp(9, 15))
        });
        c.reset();
        let start = out.len();
        let mut pos = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(payload.len() / 2 + 64);
            }
            let before = c.total_in();
            c.compress_vec(&payload[pos..], out, FlushCompress::Sync)
                .expect("deflate never fails on memory it was given");
            pos += (c.total_in() - before) as usize;
            // Done once everything is in and the flush left room to spare.
            if pos == payload.len() && out.capacity() > out.len() {
                break;
            }
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(payload: &[u8], bits: u8) {
        let mut c = Vec::new();
        compress(payload, bits, &mut c);
        let mut back = Vec::new();
        assert_eq!(inflate(&c, payload.len(), &mut back, |_| true), Ok(true));
        assert_eq!(back, payload);
    }

    #[test]
    fn messages_round_trip_at_every_window() {
        let text: Vec<u8> = b"hello, websocket "
            .iter()
            .copied()
            .cycle()
            .take(100_000)
            .collect();
        for bits in 9..=15 {
            roundtrip(b"", bits);
            roundtrip(b"Hello", bits);
            roundtrip(&text, bits);
        }
        let noise: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        roundtrip(&noise, 15);
    }

    #[test]
    fn rfc_7692_example() {
        // §7.2.3.1: "Hello" compressed, without the tail.
        let mut out = Vec::new();
        let c = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate(&c, 5, &mut out, |_| true), Ok(true));
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn a_bomb_stops_at_the_limit_without_producing_more() {
        let zeros = vec![0u8; 10 << 20];
        let mut c = Vec::new();
        compress(&zeros, 15, &mut c);
        assert!(c.len() < 20_000, "{}", c.len());
        let mut out = Vec::new();
        assert_eq!(
            inflate(&c, 1 << 20, &mut out, |_| true),
            Err(InflateError::TooBig)
        );
        assert!(out.capacity() <= (1 << 20) + STEP, "{}", out.capacity());
        // Exactly at the limit is fine.
        let mut out = Vec::new();
        assert_eq!(inflate(&c, 10 << 20, &mut out, |_| true), Ok(true));
        assert_eq!(out.len(), 10 << 20);
    }

    #[test]
    fn garbage_is_corrupt_and_a_refused_grow_stops() {
        let mut out = Vec::new();
        assert_eq!(
            inflate(&[0xFF; 32], 1000, &mut out, |_| true),
            Err(InflateError::Corrupt)
        );
        let mut c = Vec::new();
        compress(&[7u8; 100_000], 15, &mut c);
        let mut out = Vec::new();
        assert_eq!(inflate(&c, 1 << 20, &mut out, |_| false), Ok(false));
    }
}
