//! One HTTP/2 stream: its windows, the request while it is read or held, and the response
//! while it waits for the peer's window.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Instant;

use crate::http::{Memo, Producer};
use crate::memory::{Budget, Use};

/// A stream the connection knows (RFC 9113 §5.1: open or half-closed; a closed stream is
/// dropped).
#[derive(Debug)]
pub(super) struct Stream {
    pub(super) id: u32,
    /// The client may still send on it (no END_STREAM yet): half-closed (remote) once false.
    pub(super) remote_open: bool,
    /// Bytes we may still send on it (may go below zero when the peer shrinks its initial
    /// window, RFC 9113 §6.9.2).
    pub(super) send_window: i64,
    /// Bytes the client may still send on it before we grant more.
    pub(super) recv_window: i64,
    /// Bytes taken from it since we last granted more.
    pub(super) recv_unacked: u32,
    pub(super) phase: Phase,
}

/// Where the exchange on a stream is.
#[derive(Debug)]
pub(super) enum Phase {
    /// The request is being read, or is whole and waits for its answer.
    Request(Box<Held>),
    /// The answer is going out.
    Response(Box<Outgoing>),
    /// No request kept and no answer pending: between a bodiless request's HEADERS and its
    /// answer (made at once, from the connection's scratch), or after an answer that went out
    /// whole while the client still sends (what arrives is counted for flow control and
    /// dropped).
    Draining,
}

/// A request read or held: its head (rendered, see `request.rs`) and its body.
#[derive(Debug, Default)]
pub(super) struct Held {
    pub(super) head: Vec<u8>,
    /// The body's bytes, when the handler keeps them.
    pub(super) body: Vec<u8>,
    /// Whether the handler wants the body (else it is counted and dropped).
    pub(super) keep: bool,
    /// `content-length`, if the request has one: DATA must add up to it (RFC 9113 §8.1.1).
    pub(super) declared: Option<u64>,
    /// Body bytes received so far.
    pub(super) received: u64,
    /// The most a kept body may grow to: what was reserved for it.
    pub(super) limit: u64,
    /// Budget held for `head` and `body` (`Use::Body`).
    pub(super) charge: u64,
    /// Held without a reservation (the connection counts these).
    pub(super) uncharged: bool,
    /// What the handler kept when it put the answer off.
    pub(super) memo: Option<Memo>,
    /// Not answered before this moment (a control's delay).
    pub(super) not_before: Option<Instant>,
    /// The answer waits for memory the budget could not give.
    pub(super) needs_memory: bool,
}

impl Held {
    /// Gives back what it holds in the budget.
    pub(super) fn release(&mut self, budget: &Budget) {
        budget.release(std::mem::take(&mut self.charge), Use::Body);
    }
}

/// A piece of a response body waiting for the peer's window.
#[derive(Debug)]
pub(super) enum Piece {
    /// Bytes made for the response (their memory is in `Outgoing::charge`).
    Bytes { data: Vec<u8>, pos: usize },
    /// A built-in body.
    Static { data: &'static [u8], pos: usize },
    /// A span of an open file, read into the output as the window opens.
    File {
        fd: Rc<OwnedFd>,
        offset: u64,
        remaining: u64,
    },
}

impl Piece {
    pub(super) fn remaining(&self) -> u64 {
        match self {
            Piece::Bytes { data, pos } => (data.len() - pos) as u64,
            Piece::Static { data, pos } => (data.len() - pos) as u64,
            Piece::File { remaining, .. } => *remaining,
        }
    }
}

/// A response going out on a stream.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    /// Body still to send, in order, before any producer.
    pub(super) pieces: VecDeque<Piece>,
    /// A body produced over time (delayed, paced or generated); its head goes out when due.
    pub(super) producer: Option<Box<Producer>>,
    /// The response head is on the wire.
    pub(super) head_sent: bool,
    /// HEAD, or a bodiless status: the head ends the stream.
    pub(super) bodiless: bool,
    /// Output memory reserved for `pieces` (a spent producer's charge joins it).
    pub(super) charge: u64,
}

impl Outgoing {
    /// Gives back what it holds in the budget.
    pub(super) fn release(&mut self, budget: &Budget) {
        let producer = self.producer.as_mut().map_or(0, |p| p.take_charge());
        budget.release(std::mem::take(&mut self.charge) + producer, Use::Output);
        self.pieces.clear();
    }
}

impl Stream {
    /// A stream in `phase`: a request held, or `Draining` for one about to be answered from
    /// the connection's scratch (no allocation for the common bodiless request).
    pub(super) fn new(id: u32, send_window: i64, recv_window: i64, phase: Phase) -> Stream {
        Stream {
            id,
            remote_open: true,
            send_window,
            recv_window,
            recv_unacked: 0,
            phase,
        }
    }

    /// Gives back what the stream holds in the budget (it is closed or reset).
    pub(super) fn release(&mut self, budget: &Budget) {
        match &mut self.phase {
            Phase::Request(held) => held.release(budget),
            Phase::Response(out) => out.release(budget),
            Phase::Draining => {}
        }
    }

    /// When the stream wants to run again without input: a held request's moment, or a
    /// producer's.
    pub(super) fn wake_at(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Request(held) if !self.remote_open => held.not_before,
            Phase::Response(out) if out.pieces.is_empty() => {
                out.producer.as_ref().map(|p| p.wake_at())
            }
            _ => None,
        }
    }
}
