//! DATA for the responses kept on streams ([`Outgoing`]), as the peer's windows and the
//! output's mark allow: pieces of a body (bytes, a built-in body, a file read as it goes) and
//! bodies produced over time, each in frames no larger than the peer's SETTINGS_MAX_FRAME_SIZE
//! and never past a window (RFC 9113 §6.9).

use std::os::fd::AsFd;
use std::time::Instant;

use super::frame::{self, flag, kind, ErrorCode, HEADER_LEN};
use super::respond::write_head;
use super::respond::CUT;
use super::stream::{Outgoing, Phase, Piece};
use super::State;
use crate::buffer::Buf;
use crate::http::{BodySink, Step};
use crate::memory::Use;
use crate::output::Output;
use crate::proto::Env;
use crate::sys::file::read_at;
use crate::sys::net::IoOutcome;

/// What one turn of sending on a stream came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    /// Body bytes went out; there may be more.
    Some(u64),
    /// As `Some`, and the producer spent the connection's share of the loop turn (a body
    /// compressed on the fly): the others go first.
    Yield(u64),
    /// Nothing can go now (no window, or a producer with nothing ready).
    Nothing,
    /// Nothing until this moment.
    Wait(Instant),
    /// The response ended (END_STREAM is written), after this many body bytes.
    Done(u64),
    /// The response is cut short: reset the stream with this code.
    Reset(ErrorCode),
}

/// Sends at most one frame of `out`'s body: `allowed` is the smaller of the windows and of the
/// room under the output's mark; `max_frame` the peer's largest frame.
pub(super) fn send_one(
    out: &mut Outgoing,
    stream: u32,
    allowed: u64,
    max_frame: usize,
    buf: &mut Buf,
    now: Instant,
) -> Sent {
    let take = allowed.min(max_frame as u64);
    let last_piece = out.pieces.len() == 1 && out.producer.is_none();
    let Some(piece) = out.pieces.front_mut() else {
        return match out.producer.as_mut() {
            Some(_) => produce(out, stream, take, buf, now),
            None => {
                frame::write_header(buf, 0, kind::DATA, flag::END_STREAM, stream);
                Sent::Done(0)
            }
        };
    };
    let remaining = piece.remaining();
    let n = take.min(remaining);
    if n == 0 && remaining > 0 {
        return Sent::Nothing;
    }
    let end = if last_piece && n == remaining {
        flag::END_STREAM
    } else {
        0
    };
    let n_usize = n as usize;
    match piece {
        Piece::Bytes { data, pos } => {
            frame::write_header(buf, n_usize, kind::DATA, end, stream);
            buf.extend_from_slice(&data[*pos..*pos + n_usize]);
            *pos += n_usize;
        }
        Piece::Static { data, pos } => {
            frame::write_header(buf, n_usize, kind::DATA, end, stream);
            buf.extend_from_slice(&data[*pos..*pos + n_usize]);
            *pos += n_usize;
        }
        Piece::File {
            fd,
            offset,
            remaining,
        } => {
            let at = buf.len();
            frame::write_header(buf, n_usize, kind::DATA, end, stream);
            buf.reserve(n_usize);
            let mut got = 0;
            while got < n_usize {
                match read_at(fd.as_fd(), &mut buf.spare_mut()[..n_usize - got], *offset) {
                    IoOutcome::Done(k) => {
                        buf.commit(k);
                        got += k;
                        *offset += k as u64;
                        *remaining -= k as u64;
                    }
                    // The file shrank or failed under us: what was promised cannot be sent.
                    _ => {
                        buf.truncate(at);
                        return Sent::Reset(ErrorCode::InternalError);
                    }
                }
            }
        }
    }
    if piece.remaining() == 0 {
        out.pieces.pop_front();
    }
    if end != 0 {
        Sent::Done(n)
    } else {
        Sent::Some(n)
    }
}

/// One step of a producer into one DATA frame of at most `take` bytes.
fn produce(out: &mut Outgoing, stream: u32, take: u64, buf: &mut Buf, now: Instant) -> Sent {
    let Some(producer) = out.producer.as_mut() else {
        return Sent::Nothing;
    };
    if producer.is_head_cut() {
        // `stall=head`: nothing of the response goes out; the stream fails when the stall ends.
        let mut nothing = Buf::new();
        let mut sink = DataSink {
            out: &mut nothing,
            start: 0,
            room: 0,
        };
        return match producer.step(&mut sink, now) {
            Step::Wait(at) => Sent::Wait(at),
            _ => Sent::Reset(CUT),
        };
    }
    if take == 0 {
        return match now < producer.wake_at() {
            true => Sent::Wait(producer.wake_at()),
            false => Sent::Nothing,
        };
    }
    let at = buf.len();
    buf.extend_from_slice(&[0; HEADER_LEN]);
    let start = buf.len();
    let mut sink = DataSink {
        out: buf,
        start,
        room: take as usize,
    };
    let step = producer.step(&mut sink, now);
    let written = buf.len() - start;
    // A generator may write a little past the room it was given (a whole event): what passes
    // the window waits on the stream, in order, before the producer is asked again.
    let n = written.min(take as usize);
    if written > n {
        let over = buf.filled()[start + n..].to_vec();
        buf.truncate(start + n);
        out.pieces.push_back(Piece::Bytes { data: over, pos: 0 });
    }
    let done = step == Step::Done && out.pieces.is_empty();
    if n == 0 && !done {
        buf.truncate(at);
    } else {
        let flags = if done { flag::END_STREAM } else { 0 };
        let header = frame::header_bytes(n, kind::DATA, flags, stream);
        buf.filled_mut()[at..at + HEADER_LEN].copy_from_slice(&header);
    }
    match step {
        Step::Done if done => Sent::Done(n as u64),
        Step::Done => {
            // The producer is spent; the bytes past the window go out as pieces, and what the
            // budget holds for it stays held until the stream is done.
            if let Some(mut spent) = out.producer.take() {
                out.charge += spent.take_charge();
            }
            Sent::Some(n as u64)
        }
        Step::Close => Sent::Reset(CUT),
        Step::Yield => Sent::Yield(n as u64),
        Step::Wait(at) if n == 0 => Sent::Wait(at),
        Step::Wait(_) | Step::More if n > 0 => Sent::Some(n as u64),
        Step::Wait(_) => Sent::Nothing,
        // Input taken and nothing out yet (a compressor filling its window): work was done,
        // so the connection yields and is driven again next turn, rather than waiting for an
        // event that will not come.
        Step::More => Sent::Yield(0),
    }
}

/// Body bytes from a producer into one DATA frame's payload.
struct DataSink<'b> {
    out: &'b mut Buf,
    start: usize,
    room: usize,
}

impl BodySink for DataSink<'_> {
    fn room(&self) -> usize {
        self.room.saturating_sub(self.out.len() - self.start).max(1)
    }

    // HTTP/2 frames the body itself: a generator's chunks are not marked.
    fn begin_chunk(&mut self, _len: u64) {}

    fn end_chunk(&mut self) {}

    fn data(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn fill(&mut self, n: usize) -> &mut [u8] {
        let at = self.out.len();
        self.out.reserve(n);
        let spare = &mut self.out.spare_mut()[..n];
        spare.fill(0);
        self.out.commit(n);
        &mut self.out.filled_mut()[at..at + n]
    }
}

impl super::Http2 {
    /// Sends what the windows allow, a frame per stream per round.
    pub(super) fn send(&mut self, output: &mut Output, env: &Env<'_>) {
        let mut progress = true;
        while progress && self.state == State::Open {
            progress = false;
            let n = self.streams.len();
            for k in 0..n {
                if output.len() >= env.high_water {
                    return; // `Next::Blocked`: driven again once the output drains
                }
                let i = (self.turn + k) % n.max(1);
                let Some(s) = self.streams.get_mut(i) else {
                    break;
                };
                let Phase::Response(out) = &mut s.phase else {
                    continue;
                };
                let id = s.id;
                if !out.head_sent {
                    let Some(p) = out.producer.as_ref() else {
                        out.head_sent = true;
                        continue;
                    };
                    if env.now < p.wake_at() {
                        continue;
                    }
                    out.head_sent = true;
                    if !p.is_head_cut() {
                        let h = p.head();
                        write_head(
                            output.bytes(),
                            &mut self.encoder,
                            id,
                            h.status,
                            h.content_type(),
                            h.length,
                            h.fields.iter(),
                            env.date(),
                            out.bodiless,
                            self.peer.max_frame,
                        );
                        env.stats.on_response(h.status.code());
                    }
                    if out.bodiless && !p.is_head_cut() {
                        let charge = out.producer.as_mut().map_or(0, |p| p.take_charge());
                        env.budget.release(charge, Use::Output);
                        out.producer = None;
                        self.finish(output, env, i);
                        progress = true;
                        break;
                    }
                }
                let window = s.send_window.min(self.send_window).max(0) as u64;
                let room = env.high_water.saturating_sub(output.len()) as u64;
                let Phase::Response(out) = &mut self.streams[i].phase else {
                    continue;
                };
                match send_one(
                    out,
                    id,
                    window.min(room),
                    self.peer.max_frame,
                    output.bytes(),
                    env.now,
                ) {
                    Sent::Some(n) => {
                        self.streams[i].send_window -= n as i64;
                        self.send_window -= n as i64;
                        self.progress_at = env.now;
                        progress = true;
                    }
                    Sent::Yield(n) => {
                        self.progress_at = env.now;
                        self.streams[i].send_window -= n as i64;
                        self.send_window -= n as i64;
                        self.yielded = true;
                        return;
                    }
                    Sent::Done(n) => {
                        self.streams[i].send_window -= n as i64;
                        self.send_window -= n as i64;
                        self.progress_at = env.now;
                        self.finish(output, env, i);
                        progress = true;
                        break; // the streams moved
                    }
                    Sent::Reset(code) => {
                        self.reset(output, env, id, code);
                        progress = true;
                        break;
                    }
                    Sent::Nothing | Sent::Wait(_) => {}
                }
            }
            self.turn = self.turn.wrapping_add(1);
        }
    }
}
