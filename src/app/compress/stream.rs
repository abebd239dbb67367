//! A body compressed as it is written: a [`Generate`] that reads a slice of its input (a file,
//! with `pread`, or bytes in memory), compresses it into at most the output's room, and writes
//! what came out as one chunk, so a 100 MB file costs the loop a slice at a time.
//!
//! Bounded twice: a step takes one input slice (16 KiB, 2 KiB at brotli's slowest levels),
//! and a connection compresses for at most [`TURN_SHARE`] per loop turn before it yields
//! ([`Step::Yield`]) to the others. The input and output slices are the worker's (one pair,
//! thread-local: a step finishes with them); a response holds only its encoder.

use std::cell::RefCell;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::codec::{Encoder, Levels};
use crate::http::encoding::Coding;
use crate::http::{BodySink, Generate, Step};
use crate::sys::file;
use crate::sys::net::IoOutcome;

/// Compression one connection may do in one loop turn before the others have theirs.
pub(crate) const TURN_SHARE: Duration = Duration::from_millis(1);

/// Input taken per step; brotli's levels 10 and 11 are 30 to 100 times slower.
const INPUT_STEP: usize = 16 * 1024;
const SLOW_INPUT_STEP: usize = 2 * 1024;

/// The output of one step: at most the room under the high-water mark, at least this (a
/// chunk's framing is not spent on a few bytes).
const OUTPUT_STEP: usize = 16 * 1024;
const MIN_CHUNK: usize = 1024;

struct Scratch {
    input: Box<[u8]>,
    output: Box<[u8]>,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Where the bytes to compress are.
#[derive(Debug)]
pub(crate) enum Source {
    /// A file's first `end` bytes (its size when the answer began).
    File(Rc<OwnedFd>),
    /// A body rendered for the response (its memory is in the producer's charge).
    Bytes(Vec<u8>),
    /// A built-in body.
    Static(&'static [u8]),
}

/// The rest of a compressed body.
#[derive(Debug)]
pub(crate) struct Stream {
    encoder: Option<Encoder>,
    source: Source,
    /// Input taken so far, and its whole length.
    pos: u64,
    end: u64,
    input_step: usize,
    /// The loop turn this connection last compressed in, and for how long it has.
    turn: Option<Instant>,
    spent: Duration,
}

impl Stream {
    pub(crate) fn new(
        encoder: Encoder,
        source: Source,
        len: u64,
        coding: Coding,
        levels: Levels,
    ) -> Stream {
        let slow = coding == Coding::Br && levels.brotli >= 10;
        Stream {
            encoder: Some(encoder),
            source,
            pos: 0,
            end: len,
            input_step: if slow { SLOW_INPUT_STEP } else { INPUT_STEP },
            turn: None,
            spent: Duration::ZERO,
        }
    }

    /// One slice in, what comes out written as one chunk.
    fn work(&mut self, scratch: &mut Scratch, out: &mut dyn BodySink) -> Step {
        let Some(encoder) = self.encoder.as_mut() else {
            return Step::Done;
        };
        let room = out.room().clamp(MIN_CHUNK, OUTPUT_STEP);
        let want = (self.end - self.pos).min(self.input_step as u64) as usize;
        let at = self.pos as usize;
        let input: &[u8] = match &self.source {
            Source::Bytes(v) => v.get(at..at + want).unwrap_or_default(),
            Source::Static(s) => s.get(at..at + want).unwrap_or_default(),
            Source::File(_) if want == 0 => &[],
            Source::File(fd) => {
                match file::read_at(fd.as_fd(), &mut scratch.input[..want], self.pos) {
                    IoOutcome::Done(n) => &scratch.input[..n],
                    // The file shrank (or cannot be read) after its answer began: end it short,
                    // as the uncompressed path does.
                    _ => return Step::Close,
                }
            }
        };
        let last = self.pos + input.len() as u64 == self.end;
        let output = &mut scratch.output[..room];
        let Ok((consumed, written, done)) = encoder.encode(input, output, last) else {
            return Step::Close;
        };
        if consumed == 0 && written == 0 && !done {
            return Step::Close; // no progress is possible: never spin
        }
        self.pos += consumed as u64;
        if written > 0 {
            out.begin_chunk(written as u64);
            out.data(&output[..written]);
            out.end_chunk();
        }
        if done {
            if let Some(e) = self.encoder.take() {
                e.give_back();
            }
            return Step::Done;
        }
        Step::More
    }
}

impl Generate for Stream {
    fn step(&mut self, out: &mut dyn BodySink, now: Instant) -> Step {
        if self.turn != Some(now) {
            self.turn = Some(now);
            self.spent = Duration::ZERO;
        } else if self.spent >= TURN_SHARE {
            // The next call (next turn) compresses again, whatever its clock says.
            self.spent = Duration::ZERO;
            self.turn = None;
            return Step::Yield;
        }
        let started = Instant::now();
        let step = SCRATCH.with(|cell| {
            let mut cell = cell.borrow_mut();
            let scratch = cell.get_or_insert_with(|| Scratch {
                input: vec![0; INPUT_STEP].into_boxed_slice(),
                output: vec![0; OUTPUT_STEP].into_boxed_slice(),
            });
            self.work(scratch, out)
        });
        self.spent += started.elapsed();
        step
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // An answer cut short (the client left) leaves its encoder for the next one.
        if let Some(e) = self.encoder.take() {
            e.give_back();
        }
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}
