//! A response written over time ([`Producer`]) put on the wire: its head when its moment
//! comes (stamped with the `Date` of then, and a `Connection` decided then, since the worker
//! may have begun to drain), then its body as the output drains, framed as the head said.

use std::time::Instant;

use super::write::{ConnectionHeader, Framing, Head, LAST_CHUNK};
use crate::buffer::Buf;
use crate::http::{BodySink, Producer, Step};
use crate::memory::Use;
use crate::output::Output;
use crate::proto::Env;

/// What a call to [`Producing::produce`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Produced {
    /// The response is whole; the connection goes on if it may.
    Done { keep_alive: bool },
    /// Nothing more until this moment.
    Wait(Instant),
    /// More is ready as soon as the output has room.
    Room,
    /// More is ready, after the other connections have had the loop.
    Yield,
    /// Cut short on purpose (a control's fault): close the connection after what is written.
    Close,
}

/// A producer and how its response goes out on this connection.
#[derive(Debug)]
pub(super) struct Producing {
    producer: Producer,
    framing: Framing,
    minor_version: u8,
    /// The request's keep-alive: whether the connection may go on after this response.
    keep_alive: bool,
    /// False for HEAD: the head alone goes out.
    with_body: bool,
    head_written: bool,
}

impl Producing {
    pub(super) fn new(
        producer: Producer,
        minor_version: u8,
        keep_alive: bool,
        with_body: bool,
    ) -> Self {
        let length = producer.head().length;
        let framing = Framing::of(length, minor_version);
        // An HTTP/1.0 client reads an open-length body to the close.
        let close_delimited = length == crate::http::Length::Open && framing == Framing::None;
        Producing {
            producer,
            framing,
            minor_version,
            keep_alive: keep_alive && !close_delimited,
            with_body,
            head_written: false,
        }
    }

    pub(super) fn wake_at(&self) -> Instant {
        self.producer.wake_at()
    }

    /// The status and the announced length, for the access log.
    pub(super) fn logged(&self) -> (u16, u64) {
        let head = self.producer.head();
        (head.status.code(), head.length.logged())
    }

    /// Writes what is due and fits under the output's high-water mark.
    pub(super) fn produce(&mut self, output: &mut Output, env: &Env<'_>) -> Produced {
        if env.now < self.producer.wake_at() {
            return Produced::Wait(self.producer.wake_at());
        }
        let keep_alive = self.keep_alive && !env.draining && !self.producer.closes_after();
        if !self.head_written {
            self.head_written = true;
            self.write_head(output.bytes(), env, keep_alive);
            if self.producer.is_head_cut() {
                self.with_body = false;
            }
        }
        if !self.with_body {
            return match self.producer.is_head_cut() {
                // What is left of a cut response is its stall: the producer's body waits it out.
                true => self.stall(env.now),
                false => Produced::Done { keep_alive },
            };
        }
        while !output.has_tail() && output.len() < env.high_water {
            let mut sink = Sink {
                out: output.bytes(),
                high_water: env.high_water,
                chunked: self.framing == Framing::Chunked,
            };
            match self.producer.step(&mut sink, env.now) {
                Step::More => {}
                Step::Yield => return Produced::Yield,
                Step::Wait(at) => return Produced::Wait(at),
                Step::Done => {
                    if self.framing == Framing::Chunked {
                        output.bytes().extend_from_slice(LAST_CHUNK);
                    }
                    return Produced::Done { keep_alive };
                }
                Step::Close => return Produced::Close,
            }
        }
        Produced::Room
    }

    /// A head cut short: nothing more goes out until the stall ends, then the connection closes.
    fn stall(&mut self, now: Instant) -> Produced {
        let mut nothing = Buf::new();
        let mut sink = Sink {
            out: &mut nothing,
            high_water: 0,
            chunked: false,
        };
        match self.producer.step(&mut sink, now) {
            Step::Wait(at) => Produced::Wait(at),
            _ => Produced::Close,
        }
    }

    fn write_head(&self, out: &mut Buf, env: &Env<'_>, keep_alive: bool) {
        let head = self.producer.head();
        let rendered = Head {
            status: head.status,
            content_type: head.content_type(),
            framing: self.framing,
            fields: head.fields.iter(),
            connection: ConnectionHeader::of(keep_alive, self.minor_version),
        };
        if !self.producer.is_head_cut() {
            return rendered.write(out, env.date());
        }
        let mut whole = Buf::new();
        rendered.write(&mut whole, env.date());
        let half = &whole.filled()[..whole.len() / 2];
        out.extend_from_slice(half);
    }

    /// Gives back what the producer holds in the budget (it is done, or the connection is
    /// closing).
    pub(super) fn release(&mut self, budget: &crate::memory::Budget) {
        budget.release(self.producer.take_charge(), Use::Output);
    }
}

/// Body bytes into the output buffer, as chunks when the body is chunked.
struct Sink<'o> {
    out: &'o mut Buf,
    high_water: usize,
    chunked: bool,
}

impl BodySink for Sink<'_> {
    fn room(&self) -> usize {
        self.high_water.saturating_sub(self.out.len()).max(1)
    }

    fn begin_chunk(&mut self, len: u64) {
        debug_assert!(len > 0, "a chunk of 0 bytes would end the body");
        if self.chunked {
            super::write::write_chunk_size(self.out, len);
        }
    }

    fn end_chunk(&mut self) {
        if self.chunked {
            self.out.extend_from_slice(b"\r\n");
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn fill(&mut self, n: usize) -> &mut [u8] {
        let at = self.out.len();
        fill_zeros(self.out, n);
        &mut self.out.filled_mut()[at..at + n]
    }
}

/// Appends `n` zero bytes.
fn fill_zeros(out: &mut Buf, n: usize) {
    const BLOCK: [u8; 256] = [0; 256];
    let mut left = n;
    while left > 0 {
        let take = left.min(BLOCK.len());
        out.extend_from_slice(&BLOCK[..take]);
        left -= take;
    }
}
