//! The one entry point from a protocol into the application: [`Handler`].
//!
//! A protocol calls [`Handler::respond`] once a request is whole (head, body, every framing
//! and limit check passed) and acts on the [`Reply`]; it never knows which route answered.

use std::any::Any;
use std::time::Instant;

use super::request::Request;
use super::response::Respond;
use super::stream::Producer;
use crate::ids::ConnectionId;
use crate::peer::{Peer, Socket, TlsFacts};

/// What a handler keeps of a request it does not answer yet (a request control's draw), handed
/// back with the request when the protocol calls again.
pub type Memo = Box<dyn Any>;

/// Which kind of listener accepted the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRole {
    /// The server's main port, where clients come.
    Main,
    /// The operators' port (`--metrics-port`): whoever reaches it is trusted with the
    /// server's own endpoints.
    Admin,
}

/// What the connection tells a handler about one exchange, beside the request itself.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// The loop's clock for this turn.
    pub now: Instant,
    /// The current `Date` value, e.g. `Mon, 23 Nov 2026 11:04:17 GMT`.
    pub date: &'a [u8],
    /// The client: the socket's peer, or whom a PROXY header named.
    pub peer: Peer<'a>,
    pub connection: ConnectionId,
    /// The request's place on its connection, 0 for the first.
    pub index: u64,
    /// The connection's socket, for asking the kernel about it (`/inspect`); `None` where
    /// there is none (tests, benchmarks, the fuzzer).
    pub socket: Option<Socket>,
    pub port: PortRole,
    /// What the connection's TLS handshake settled; `None` over plaintext.
    pub tls: Option<&'a TlsFacts>,
    /// What the handler kept when it last put this request off ([`Reply::Later`],
    /// [`Reply::NeedMemory`]).
    pub memo: Option<&'a Memo>,
    /// The HTTP/2 stream the request came on; `None` over HTTP/1.x.
    pub stream: Option<u32>,
}

/// What answering a request came to.
#[derive(Debug)]
pub enum Reply {
    /// The response went out through the [`Respond`] (or was refused there with a 503).
    Sent,
    /// As `Sent`, and it cost more than most (rendered for the request from every worker's
    /// figures): a pipelined run of them lets the other connections have the loop in between.
    SentCostly,
    /// A response written over time.
    Produce(Box<Producer>),
    /// The answer needs memory the budget cannot give yet; nothing was written, and the
    /// connection is queued for it. Ask again, with this memo, when it is driven next.
    NeedMemory(Option<Memo>),
    /// Answer at this moment (a control's delay): the protocol holds the request until then and
    /// asks again with the memo.
    Later(Instant, Memo),
    /// No response: reset the connection (a control's `rst`).
    Reset,
    /// Switch the connection to WebSocket: the protocol writes the 101 and hands what follows
    /// on the connection to the framing.
    Upgrade(Box<super::websocket::Upgrade>),
}

/// The application: everything that decides what a request gets.
pub trait Handler {
    /// Whether answering `req` needs its body's bytes (else the protocol frames, checks and
    /// drops them as they arrive). Asked with the head only (`req.body` is empty), before a
    /// body that is not already whole is read.
    fn keeps_body(&mut self, req: &Request<'_>, ex: &Exchange<'_>) -> bool;

    /// Answers a whole request through `res`.
    fn respond(&mut self, req: &Request<'_>, ex: &Exchange<'_>, res: &mut dyn Respond) -> Reply;
}
