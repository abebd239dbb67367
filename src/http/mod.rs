//! HTTP semantics (RFC 9110), below every protocol that carries them and every application
//! that answers them: what a request and a response are, whatever the wire.
//!
//! The seam between the two layers is here:
//! - a protocol (`proto::h1` today, HTTP/2 next) parses bytes into a [`Request`] and hands it,
//!   whole, to a [`Handler`];
//! - the handler answers through [`Respond`], which the protocol implements: a head and a body
//!   ([`ResponseHead`], [`Body`]), or a [`Producer`] for a response written over time;
//! - the protocol frames what it is given (status line and chunks for HTTP/1.1), counts it and
//!   logs it. A handler never sees a wire format, and a protocol never names a route.
//!
//! The rest are helpers both sides use: dates, targets and character classes, percent
//! decoding, conditional requests, ranges and content negotiation.

pub mod chars;
pub mod conditional;
pub mod date;
pub mod digits;
pub mod encoding;
pub mod fields;
mod handler;
mod method;
pub mod percent;
pub mod range;
mod request;
mod response;
mod status;
mod stream;
pub mod target;
pub mod websocket;

pub use self::fields::{FieldLines, Named};
pub use self::handler::{Exchange, Handler, Memo, PortRole, Reply};
pub use self::method::Method;
pub use self::request::{Request, Version};
pub use self::response::{
    Body, Field, Length, NoRoom, Respond, ResponseHead, Segment, StaticResponse, StaticRoute,
};
pub use self::status::{reason_phrase, StatusCode};
pub use self::stream::{BodySink, FieldList, Generate, OwnedHead, Producer, Step};
