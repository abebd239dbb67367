//! Protocols, sans-IO: each takes the bytes read so far, consumes whole frames, appends its
//! output, and says whether to go on. None of them touches a socket, so each is unit-tested on
//! byte slices.

pub mod echo;
pub mod http;

use crate::buffer::Buf;
use crate::config::ProtocolKind;

/// What a protocol wants after [`Protocol::on_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Every whole frame was handled; more input is needed to go on.
    NeedInput,
    /// Output reached its high-water mark; call again once some of it is written.
    Blocked,
    /// Flush the output, then close the connection.
    Close,
}

/// Facts about the worker that responses may carry, refreshed by the loop (not per request).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The current `Date` header value, e.g. `Mon, 23 Nov 2026 11:04:17 GMT`.
    pub date: &'a [u8],
    /// The `/whoami` body: `pid=<pid> slot=<n> generation=<g>`.
    pub whoami: &'a [u8],
    /// Unsent output above which a protocol must stop producing more.
    pub high_water: usize,
    /// HTTP limits.
    pub limits: &'a http::Limits,
}

/// One connection's protocol state.
#[derive(Debug)]
pub enum Protocol {
    Echo(echo::Echo),
    Http(http::Http),
}

impl Protocol {
    pub fn new(kind: ProtocolKind) -> Protocol {
        match kind {
            ProtocolKind::Echo => Protocol::Echo(echo::Echo),
            ProtocolKind::Http => Protocol::Http(http::Http::new()),
        }
    }

    /// Consumes what it can from `input`, appending to `output`.
    pub fn on_data(&mut self, input: &mut Buf, output: &mut Buf, ctx: &Context<'_>) -> Next {
        match self {
            Protocol::Echo(e) => e.on_data(input, output, ctx),
            Protocol::Http(h) => h.on_data(input, output, ctx),
        }
    }

    /// True between requests: nothing half-read, so an idle connection may give its buffers back.
    pub fn is_idle(&self) -> bool {
        match self {
            Protocol::Echo(_) => true,
            Protocol::Http(h) => h.is_idle(),
        }
    }
}
