//! The three encoders behind one interface ([`Encoder::encode`]: some input in, at most the
//! room given out), their parameters, and what each holds in memory.
//!
//! gzip is raw deflate from `flate2` (the zlib-rs backend) with the gzip header and trailer
//! written here; brotli is the `brotli` crate's streaming encoder; zstd is libzstd's
//! `ZSTD_compressStream2` through `zstd-safe`. Windows are bounded so that what one response
//! holds is known before it starts ([`state_bytes`], charged to the worker's budget): gzip's
//! 32 KiB window (zlib's default, and nginx's `gzip_window`), brotli's 256 KiB (`lgwin` 18,
//! where nginx's brotli module takes 512 KiB), zstd's 1 MiB (`windowLog` 20; libzstd's levels
//! 3 and up would take 2 to 8 MiB). Smaller bodies get smaller windows from the size given
//! beforehand (zstd's pledged size, brotli's size hint).
//!
//! Encoders are reused: a worker keeps up to [`IDLE_KEEP`] idle gzip and zstd encoders
//! (thread-local, like the WebSocket codec), so a steady flow of compressed answers allocates
//! no encoder state. brotli's cannot be reset, and is made for each answer.

use std::cell::RefCell;

use brotli::enc::encode::{
    BrotliEncoderOperation, BrotliEncoderParameter, BrotliEncoderStateStruct,
};
use brotli::enc::StandardAlloc;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use zstd::zstd_safe::{self, zstd_sys::ZSTD_EndDirective, CCtx, CParameter, InBuffer, OutBuffer};

use crate::http::encoding::Coding;

/// Idle encoders of each kind a worker keeps for the next answer.
pub(crate) const IDLE_KEEP: usize = 2;

/// brotli's window: 2^18 = 256 KiB.
const BROTLI_LGWIN: u32 = 18;

/// zstd's largest window: 2^20 = 1 MiB.
const ZSTD_WINDOW_LOG: u32 = 20;

pub(crate) use crate::config::CompressLevels as Levels;

/// The most memory one encoder holds at `levels`, in bytes: measured with a counting
/// allocator on a 4 MiB text (the windows above), rounded up. gzip is one figure at every
/// level (its tables depend on the window and `memLevel` 8 only).
pub(super) fn state_bytes(coding: Coding, levels: Levels) -> u64 {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    match coding {
        Coding::Gzip => 384 * KIB,
        Coding::Br => match levels.brotli {
            0 | 1 => 256 * KIB,
            2 | 3 => 1536 * KIB,
            4 => 7 * MIB,
            5 => 6 * MIB,
            6 => 8 * MIB,
            7 => 12 * MIB,
            8 => 20 * MIB,
            9 => 40 * MIB,
            10 => 16 * MIB,
            _ => 25 * MIB,
        },
        Coding::Zstd => match levels.zstd {
            ..=1 => 2 * MIB,
            2 => 2 * MIB + 128 * KIB,
            3 => 2 * MIB + 640 * KIB,
            4 => 4 * MIB,
            5 | 6 => 4 * MIB + 512 * KIB,
            7 | 8 => 7 * MIB,
            9..=12 => 12 * MIB,
            _ => 19 * MIB,
        },
    }
}

/// Why an encoder stopped: a library error (none is expected on memory it was given; the
/// answer is cut short).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EncodeError;

/// The gzip header of RFC 1952 §2.3 with no name, no time and the Unix OS byte.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// gzip: raw deflate framed by hand.
pub(super) struct Gzip {
    deflate: Compress,
    crc: Crc,
    /// Bytes of the header written so far.
    header: usize,
    /// Bytes of the trailer written so far (it is due once deflate has ended).
    trailer: usize,
    deflated: bool,
}

/// One body being compressed.
pub(super) enum Encoder {
    Gzip(Box<Gzip>),
    Br(Box<BrotliEncoderStateStruct<StandardAlloc>>),
    Zstd(CCtx<'static>),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoder::Gzip(_) => "Encoder::Gzip",
            Encoder::Br(_) => "Encoder::Br",
            Encoder::Zstd(_) => "Encoder::Zstd",
        })
    }
}

/// The idle encoders of this worker.
#[derive(Default)]
struct Idle {
    /// Boxed as in [`Encoder::Gzip`]: an encoder moves in and out without a copy.
    #[allow(clippy::vec_box)]
    gzip: Vec<Box<Gzip>>,
    zstd: Vec<CCtx<'static>>,
}

thread_local! {
    static IDLE: RefCell<Idle> = RefCell::new(Idle::default());
}

impl Encoder {
    /// An encoder for a body of `size` bytes (used to shrink the window of a small one),
    /// reused if the worker has one idle.
    ///
    /// # Errors
    /// If libzstd refuses a parameter (never with the levels the options allow).
    pub(super) fn take(coding: Coding, levels: Levels, size: u64) -> Result<Encoder, EncodeError> {
        match coding {
            Coding::Gzip => {
                let mut gzip = IDLE.with(|idle| idle.borrow_mut().gzip.pop());
                match &mut gzip {
                    Some(g) => {
                        g.deflate.reset();
                        g.crc.reset();
                        g.header = 0;
                        g.trailer = 0;
                        g.deflated = false;
                    }
                    None => {
                        gzip = Some(Box::new(Gzip {
                            deflate: Compress::new(Compression::new(levels.gzip.min(9)), false),
                            crc: Crc::new(),
                            header: 0,
                            trailer: 0,
                            deflated: false,
                        }));
                    }
                }
                gzip.map(Encoder::Gzip).ok_or(EncodeError)
            }
            Coding::Br => {
                let mut state = Box::new(BrotliEncoderStateStruct::new(StandardAlloc::default()));
                let hint = u32::try_from(size).unwrap_or(u32::MAX);
                let set = [
                    (BrotliEncoderParameter::BROTLI_PARAM_QUALITY, levels.brotli),
                    (BrotliEncoderParameter::BROTLI_PARAM_LGWIN, BROTLI_LGWIN),
                    (BrotliEncoderParameter::BROTLI_PARAM_SIZE_HINT, hint),
                ];
                for (param, value) in set {
                    if !state.set_parameter(param, value) {
                        return Err(EncodeError);
                    }
                }
                Ok(Encoder::Br(state))
            }
            Coding::Zstd => {
                let mut cctx = IDLE
                    .with(|idle| idle.borrow_mut().zstd.pop())
                    .unwrap_or_else(CCtx::create);
                let ok = cctx
                    .reset(zstd_safe::ResetDirective::SessionAndParameters)
                    .and_then(|_| cctx.set_parameter(CParameter::CompressionLevel(levels.zstd)))
                    .and_then(|_| {
                        // Levels 3 and up would take a window of 2 MiB or more.
                        if levels.zstd >= 3 {
                            cctx.set_parameter(CParameter::WindowLog(ZSTD_WINDOW_LOG))
                        } else {
                            Ok(0)
                        }
                    })
                    .and_then(|_| cctx.set_pledged_src_size(Some(size)));
                ok.map(|_| Encoder::Zstd(cctx)).map_err(|_| EncodeError)
            }
        }
    }

    /// Back to the worker's idle encoders, if it keeps fewer than [`IDLE_KEEP`].
    pub(super) fn give_back(self) {
        IDLE.with(|idle| {
            let mut idle = idle.borrow_mut();
            match self {
                Encoder::Gzip(g) if idle.gzip.len() < IDLE_KEEP => idle.gzip.push(g),
                Encoder::Zstd(c) if idle.zstd.len() < IDLE_KEEP => idle.zstd.push(c),
                _ => {}
            }
        });
    }

    /// Compresses from `input` into `out`: returns the input consumed, the bytes written and
    /// whether the stream is complete. `last` says `input` is all that is left of the body
    /// (then the encoder finishes the stream once it has taken it all; call again with what
    /// was not consumed, `last` still set, until it says complete).
    ///
    /// # Errors
    /// [`EncodeError`] from the library.
    pub(super) fn encode(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        last: bool,
    ) -> Result<(usize, usize, bool), EncodeError> {
        match self {
            Encoder::Gzip(g) => g.encode(input, out, last),
            Encoder::Br(state) => {
                let op = if last {
                    BrotliEncoderOperation::BROTLI_OPERATION_FINISH
                } else {
                    BrotliEncoderOperation::BROTLI_OPERATION_PROCESS
                };
                let (mut avail_in, mut in_at) = (input.len(), 0);
                let (mut avail_out, mut out_at) = (out.len(), 0);
                let mut total = Some(0);
                let ok = state.compress_stream(
                    op,
                    &mut avail_in,
                    input,
                    &mut in_at,
                    &mut avail_out,
                    out,
                    &mut out_at,
                    &mut total,
                    &mut no_metablock_callback,
                );
                if !ok {
                    return Err(EncodeError);
                }
                Ok((
                    in_at,
                    out_at,
                    last && in_at == input.len() && state.is_finished(),
                ))
            }
            Encoder::Zstd(cctx) => {
                let mut inb = InBuffer::around(input);
                let mut outb = OutBuffer::around(out);
                let end = if last {
                    ZSTD_EndDirective::ZSTD_e_end
                } else {
                    ZSTD_EndDirective::ZSTD_e_continue
                };
                let left = cctx
                    .compress_stream2(&mut outb, &mut inb, end)
                    .map_err(|_| EncodeError)?;
                let consumed = inb.pos();
                Ok((
                    consumed,
                    outb.pos(),
                    last && left == 0 && consumed == input.len(),
                ))
            }
        }
    }
}

impl Gzip {
    fn encode(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        last: bool,
    ) -> Result<(usize, usize, bool), EncodeError> {
        let mut written = 0;
        if self.header < GZIP_HEADER.len() {
            let n = (GZIP_HEADER.len() - self.header).min(out.len());
            out[..n].copy_from_slice(&GZIP_HEADER[self.header..self.header + n]);
            self.header += n;
            written = n;
            if self.header < GZIP_HEADER.len() {
                return Ok((0, written, false));
            }
        }
        let mut consumed = 0;
        if !self.deflated {
            let (in_before, out_before) = (self.deflate.total_in(), self.deflate.total_out());
            let flush = if last {
                FlushCompress::Finish
            } else {
                FlushCompress::None
            };
            let status = self
                .deflate
                .compress(input, &mut out[written..], flush)
                .map_err(|_| EncodeError)?;
            consumed = (self.deflate.total_in() - in_before) as usize;
            written += (self.deflate.total_out() - out_before) as usize;
            self.crc.update(&input[..consumed]);
            if status == Status::StreamEnd {
                self.deflated = true;
            } else {
                return Ok((consumed, written, false));
            }
        }
        let crc = self.crc.sum().to_le_bytes();
        let size = self.crc.amount().to_le_bytes();
        let trailer = [
            crc[0], crc[1], crc[2], crc[3], size[0], size[1], size[2], size[3],
        ];
        let n = (trailer.len() - self.trailer).min(out.len() - written);
        out[written..written + n].copy_from_slice(&trailer[self.trailer..self.trailer + n]);
        self.trailer += n;
        written += n;
        Ok((consumed, written, self.trailer == trailer.len()))
    }
}

/// brotli's per-metablock hook, unused.
fn no_metablock_callback(
    _: &mut brotli::enc::interface::PredictionModeContextMap<brotli::enc::InputReferenceMut<'_>>,
    _: &mut [brotli::enc::interface::StaticCommand],
    _: brotli::enc::InputPair<'_>,
    _: &mut StandardAlloc,
) {
}

/// Compresses all of `input` into `out` (appended; grown as needed) in one call: for the
/// small bodies sent with a `Content-Length`.
///
/// # Errors
/// [`EncodeError`] from the library.
pub(super) fn compress_whole(
    coding: Coding,
    levels: Levels,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let mut encoder = Encoder::take(coding, levels, input.len() as u64)?;
    // Most text shrinks to a third or less; the output grows if it does not.
    let mut at = 0;
    let result = loop {
        if out.capacity() - out.len() < 256 {
            out.reserve(input.len() / 2 + 1024);
        }
        let start = out.len();
        let room = out.capacity() - start;
        out.resize(start + room, 0);
        match encoder.encode(&input[at..], &mut out[start..], true) {
            Ok((consumed, written, done)) => {
                at += consumed;
                out.truncate(start + written);
                if done {
                    break Ok(());
                }
            }
            Err(e) => {
                out.truncate(start);
                break Err(e);
            }
        }
    };
    encoder.give_back();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    pub(crate) fn decode(coding: Coding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => flate2::read::GzDecoder::new(data).read_to_end(&mut out),
            Coding::Br => brotli::Decompressor::new(data, 4096).read_to_end(&mut out),
            Coding::Zstd => {
                zstd::stream::read::Decoder::new(data).and_then(|mut d| d.read_to_end(&mut out))
            }
        }
        .expect("a valid stream");
        out
    }

    const LEVELS: Levels = Levels {
        gzip: 6,
        brotli: 5,
        zstd: 3,
    };

    fn text(n: usize) -> Vec<u8> {
        (0..)
            .flat_map(|i: u32| format!("<li>item {i} of the list, {}</li>\n", i % 7).into_bytes())
            .take(n)
            .collect()
    }

    #[test]
    fn whole_bodies_round_trip() {
        for coding in Coding::ALL {
            for n in [0, 1, 100, 70_000] {
                let input = text(n);
                let mut out = Vec::new();
                compress_whole(coding, LEVELS, &input, &mut out).unwrap();
                assert_eq!(decode(coding, &out), input, "{coding:?} {n}");
                if n == 70_000 {
                    assert!(out.len() < n / 4, "{coding:?}: {}", out.len());
                }
            }
        }
    }

    /// The smallest rooms and steps: every byte of header and trailer can be cut anywhere.
    #[test]
    fn tiny_output_rooms_round_trip() {
        let input = text(5000);
        for coding in Coding::ALL {
            let mut e = Encoder::take(coding, LEVELS, input.len() as u64).unwrap();
            let mut out = Vec::new();
            let mut at = 0;
            for _ in 0..1_000_000 {
                let mut room = [0u8; 7];
                let end = (at + 300).min(input.len());
                let last = end == input.len();
                let (consumed, written, done) = e.encode(&input[at..end], &mut room, last).unwrap();
                at += consumed;
                out.extend_from_slice(&room[..written]);
                if done {
                    break;
                }
            }
            e.give_back();
            assert_eq!(decode(coding, &out), input, "{coding:?}");
        }
    }

    #[test]
    fn reused_encoders_start_afresh() {
        for coding in [Coding::Gzip, Coding::Zstd] {
            for n in [50_000, 10, 3000] {
                let input = text(n);
                let mut out = Vec::new();
                compress_whole(coding, LEVELS, &input, &mut out).unwrap();
                assert_eq!(decode(coding, &out), input);
            }
        }
        assert!(IDLE.with(|i| i.borrow().gzip.len() <= IDLE_KEEP));
    }
}
