//! [`Respond`] for one HTTP/2 stream: the handler's head as a HEADERS frame, its body as DATA
//! frames as far as the peer's windows and the output's mark allow at once, and the rest kept
//! on the stream ([`Outgoing`]) for the connection to send as the windows open.
//!
//! A body kept past this call costs the budget what HTTP/1.1 would pay for it (a copied or
//! built body that does not go out at once is reserved; a file or a built-in body costs
//! nothing), and a body that must wait for memory is refused before a byte is written, so the
//! handler is asked again with nothing on the wire.

use std::collections::VecDeque;

use super::frame::{self, flag, kind, ErrorCode, HEADER_LEN};
use super::hpack::Encoder;
use super::stream::{Outgoing, Piece};
use crate::buffer::Buf;
use crate::http::digits::decimal;
use crate::http::{Body, Field, Length, NoRoom, Respond, ResponseHead, Segment, StatusCode};
use crate::memory::{Grant, Use};
use crate::output::Output;
use crate::proto::Env;

/// The text of the 503 that stands in for a body larger than the whole budget.
const TOO_LARGE: &[u8] = b"Response larger than the memory budget\n";

/// Appends a response head as one HEADERS frame (and CONTINUATION frames, should the block
/// pass the peer's frame size).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_head<'f>(
    out: &mut Buf,
    encoder: &mut Encoder,
    stream: u32,
    status: StatusCode,
    content_type: Option<&[u8]>,
    length: Length,
    fields: impl Iterator<Item = Field<'f>>,
    date: &[u8],
    end_stream: bool,
    max_frame: usize,
) {
    let at = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    encoder.begin_block(out);
    encoder.status(status.code(), out);
    encoder.field(b"server", b"prefork-server", out);
    encoder.field(b"date", date, out);
    if let Some(ct) = content_type {
        encoder.field(b"content-type", ct, out);
    }
    if let Length::Exactly(n) = length {
        encoder.field(b"content-length", decimal(n, &mut [0; 20]), out);
    }
    let mut lower = [0u8; 64];
    for (name, value) in fields {
        if is_connection_specific(name) {
            continue; // RFC 9113 §8.2.2: not in HTTP/2
        }
        match name.get(..lower.len().min(name.len())) {
            Some(n) if n.len() == name.len() => {
                let l = &mut lower[..n.len()];
                l.copy_from_slice(n);
                l.make_ascii_lowercase();
                encoder.field(l, value, out);
            }
            _ => encoder.field(&name.to_ascii_lowercase(), value, out),
        }
    }
    let block_len = out.len() - at - HEADER_LEN;
    let end = if end_stream { flag::END_STREAM } else { 0 };
    if block_len <= max_frame {
        let header = frame::header_bytes(block_len, kind::HEADERS, flag::END_HEADERS | end, stream);
        out.filled_mut()[at..at + HEADER_LEN].copy_from_slice(&header);
        return;
    }
    // Rare: a block over the frame size goes out as HEADERS then CONTINUATION frames.
    let block = out.filled()[at + HEADER_LEN..].to_vec();
    out.truncate(at);
    for (i, part) in block.chunks(max_frame).enumerate() {
        let last = (i + 1) * max_frame >= block.len();
        let (k, mut flags) = match i {
            0 => (kind::HEADERS, end),
            _ => (kind::CONTINUATION, 0),
        };
        if last {
            flags |= flag::END_HEADERS;
        }
        frame::write_header(out, part.len(), k, flags, stream);
        out.extend_from_slice(part);
    }
}

/// Fields that describe an HTTP/1.1 connection, never sent over HTTP/2.
fn is_connection_specific(name: &[u8]) -> bool {
    [
        &b"connection"[..],
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

/// Appends DATA frames carrying `bytes` (split at `max_frame`), the last with END_STREAM if
/// `end`.
pub(super) fn write_data(out: &mut Buf, stream: u32, bytes: &[u8], end: bool, max_frame: usize) {
    if bytes.is_empty() {
        if end {
            frame::write_header(out, 0, kind::DATA, flag::END_STREAM, stream);
        }
        return;
    }
    let mut chunks = bytes.chunks(max_frame).peekable();
    while let Some(chunk) = chunks.next() {
        let flags = if end && chunks.peek().is_none() {
            flag::END_STREAM
        } else {
            0
        };
        frame::write_header(out, chunk.len(), kind::DATA, flags, stream);
        out.extend_from_slice(chunk);
    }
}

/// One stream's answer being written.
pub(super) struct Responder<'r, 'e> {
    pub(super) output: &'r mut Output,
    pub(super) env: &'r Env<'e>,
    pub(super) encoder: &'r mut Encoder,
    pub(super) stream: u32,
    /// False for HEAD: the head says what GET would send, and ends the stream.
    pub(super) with_body: bool,
    pub(super) request_body: &'r [u8],
    /// What may be sent at once: the smaller of the stream's and the connection's windows.
    pub(super) window: i64,
    pub(super) max_frame: usize,
    /// Body bytes written at once (to take from the windows).
    pub(super) sent: u64,
    /// The rest of the answer, if any is left for later.
    pub(super) outgoing: Option<Box<Outgoing>>,
    /// The final response's status (0 until one is written) and announced length.
    pub(super) status: u16,
    pub(super) length: u64,
    /// A control asked for the connection to end after this response.
    pub(super) close: bool,
    /// A response went out whole, END_STREAM included.
    pub(super) ended: bool,
}

/// Where a body's bytes are, once the memory question is settled.
enum Source<'a> {
    Slices(&'a [&'a [u8]]),
    One(&'a [u8]),
    Static(&'static [u8]),
    Vec { data: Vec<u8>, charge: u64 },
    Pieces(VecDeque<Piece>),
}

impl Responder<'_, '_> {
    /// Bytes that may go out now: the window, and the output's mark (a frame's worth past it
    /// at most, so a small answer is never split for want of room).
    fn room(&self) -> u64 {
        let room = self.env.high_water.saturating_sub(self.output.len()) + self.max_frame;
        (self.window.max(0) as u64).min(room as u64)
    }

    fn reserve_output(&mut self, bytes: u64) -> Result<(), NoRoom> {
        match self.env.budget.reserve(self.env.token, bytes, Use::Output) {
            Grant::Granted => Ok(()),
            Grant::Queued => Err(NoRoom::Wait),
            Grant::Never => {
                // The reason as a body when the window has room for it (it is counted there),
                // else the status alone.
                let status = StatusCode::ServiceUnavailable;
                let fits = TOO_LARGE.len() as i64 <= self.window;
                let body: &[u8] = if fits && self.with_body {
                    TOO_LARGE
                } else {
                    b""
                };
                self.note(status, Length::Exactly(body.len() as u64));
                self.head(
                    status,
                    Some(b"text/plain"),
                    Length::Exactly(body.len() as u64),
                    &[],
                    body.is_empty(),
                );
                if !body.is_empty() {
                    write_data(self.output.bytes(), self.stream, body, true, self.max_frame);
                }
                self.sent = body.len() as u64;
                self.ended = true;
                Err(NoRoom::Refused)
            }
        }
    }

    fn note(&mut self, status: StatusCode, length: Length) {
        self.status = status.code();
        self.length = length.logged();
        self.env.stats.on_response(self.status);
    }

    fn head(
        &mut self,
        status: StatusCode,
        content_type: Option<&[u8]>,
        length: Length,
        fields: &[&[Field<'_>]],
        end_stream: bool,
    ) {
        write_head(
            self.output.bytes(),
            self.encoder,
            self.stream,
            status,
            content_type,
            length,
            fields.iter().flat_map(|g| g.iter().copied()),
            self.env.date(),
            end_stream,
            self.max_frame,
        );
    }

    /// Writes `now` bytes of `source` at once; keeps the rest.
    fn body(&mut self, source: Source<'_>, total: u64, now: u64) {
        let end_now = now == total;
        let mut pieces = VecDeque::new();
        let mut charge = 0;
        let (stream, max_frame) = (self.stream, self.max_frame);
        let out = self.output.bytes();
        match source {
            Source::Slices(parts) => {
                let mut left = now as usize;
                let mut rest = Vec::new();
                // END_STREAM goes on the last part with bytes (an empty part gets no frame).
                let last = parts.iter().rposition(|p| !p.is_empty()).unwrap_or(0);
                for (i, part) in parts.iter().enumerate() {
                    let take = left.min(part.len());
                    if take > 0 {
                        let end = end_now && i == last && take == part.len();
                        write_data(out, stream, &part[..take], end, max_frame);
                    }
                    left -= take;
                    rest.extend_from_slice(&part[take..]);
                }
                if !rest.is_empty() {
                    charge = rest.len() as u64;
                    pieces.push_back(Piece::Bytes { data: rest, pos: 0 });
                }
            }
            Source::One(bytes) => {
                write_data(out, stream, &bytes[..now as usize], end_now, max_frame);
                if !end_now {
                    let rest = bytes[now as usize..].to_vec();
                    charge = rest.len() as u64;
                    pieces.push_back(Piece::Bytes { data: rest, pos: 0 });
                }
            }
            Source::Static(bytes) => {
                write_data(out, stream, &bytes[..now as usize], end_now, max_frame);
                if !end_now {
                    pieces.push_back(Piece::Static {
                        data: bytes,
                        pos: now as usize,
                    });
                }
            }
            Source::Vec { data, charge: held } => {
                write_data(out, stream, &data[..now as usize], end_now, max_frame);
                if end_now {
                    self.env.budget.release(held, Use::Output);
                } else {
                    charge = held;
                    pieces.push_back(Piece::Bytes {
                        data,
                        pos: now as usize,
                    });
                }
            }
            Source::Pieces(all) => {
                // Files and parts: all sent by the connection, as the windows open.
                pieces = all;
                self.sent = 0;
                self.outgoing = Some(Box::new(Outgoing {
                    pieces,
                    head_sent: true,
                    ..Outgoing::default()
                }));
                return;
            }
        }
        self.sent = now;
        if end_now {
            self.ended = true;
        } else {
            self.outgoing = Some(Box::new(Outgoing {
                pieces,
                head_sent: true,
                charge,
                ..Outgoing::default()
            }));
        }
    }
}

impl Respond for Responder<'_, '_> {
    fn send(&mut self, head: &ResponseHead<'_>, body: Body<'_>) -> Result<(), NoRoom> {
        let send_body = self.with_body && head.length != Length::Bodiless;
        let body = match body {
            Body::Reserved { charge, .. } if !send_body => {
                self.env.budget.release(charge, Use::Output);
                Body::Empty
            }
            _ if !send_body => Body::Empty,
            body => body,
        };
        // The memory question first: nothing is written if the answer must wait.
        let room = self.room();
        let (source, total) = match body {
            Body::Empty => (None, 0),
            Body::Copy(parts) => {
                let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
                if len > room {
                    self.reserve_output(len - room)?;
                }
                (Some(Source::Slices(parts)), len)
            }
            Body::Owned(data) => {
                let len = data.len() as u64;
                if len > room {
                    self.reserve_output(len)?;
                    (Some(Source::Vec { data, charge: len }), len)
                } else {
                    (Some(Source::Vec { data, charge: 0 }), len)
                }
            }
            Body::Reserved { data, charge } => {
                let len = data.len() as u64;
                (Some(Source::Vec { data, charge }), len)
            }
            Body::Static(bytes) => (Some(Source::Static(bytes)), bytes.len() as u64),
            Body::RequestBody => {
                let len = self.request_body.len() as u64;
                if len > room {
                    self.reserve_output(len - room)?;
                }
                (Some(Source::One(self.request_body)), len)
            }
            Body::File {
                cached: Some(bytes),
                ..
            } if (bytes.len() as u64) <= room => (Some(Source::One(bytes)), bytes.len() as u64),
            Body::File {
                fd, offset, len, ..
            } => {
                let pieces = VecDeque::from([Piece::File {
                    fd,
                    offset,
                    remaining: len,
                }]);
                (Some(Source::Pieces(pieces)), len)
            }
            Body::Segments(segments) => {
                let mut total = 0;
                let pieces: VecDeque<Piece> = segments
                    .into_iter()
                    .map(|s| match s {
                        Segment::Bytes(data) => {
                            total += data.len() as u64;
                            Piece::Bytes { data, pos: 0 }
                        }
                        Segment::File { fd, offset, len } => {
                            total += len;
                            Piece::File {
                                fd,
                                offset,
                                remaining: len,
                            }
                        }
                    })
                    .collect();
                (Some(Source::Pieces(pieces)), total)
            }
        };
        self.note(head.status, head.length);
        let empty = source.is_none() || total == 0;
        self.head(
            head.status,
            head.content_type,
            head.length,
            head.fields,
            empty,
        );
        match source {
            Some(source) if total > 0 => self.body(source, total, room.min(total)),
            Some(Source::Vec { charge, .. }) => {
                self.env.budget.release(charge, Use::Output);
                self.ended = true;
            }
            _ => self.ended = true,
        }
        Ok(())
    }

    fn reserve(&mut self, bytes: u64) -> Result<(), NoRoom> {
        self.reserve_output(bytes)
    }

    fn interim(&mut self, status: StatusCode) {
        self.env.stats.on_response(status.code());
        let out = self.output.bytes();
        let at = out.len();
        out.extend_from_slice(&[0; HEADER_LEN]);
        self.encoder.begin_block(out);
        self.encoder.status(status.code(), out);
        let len = out.len() - at - HEADER_LEN;
        let header = frame::header_bytes(len, kind::HEADERS, flag::END_HEADERS, self.stream);
        out.filled_mut()[at..at + HEADER_LEN].copy_from_slice(&header);
    }

    fn close_after(&mut self) {
        self.close = true;
    }
}

/// The code a stream is reset with when its answer is cut short on purpose (a control's `rst`
/// or `truncate`): the client sees the stream fail, as an HTTP/1.1 client sees the connection
/// fail.
pub(super) const CUT: ErrorCode = ErrorCode::InternalError;
