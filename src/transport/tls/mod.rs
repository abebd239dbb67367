//! TLS: rustls's unbuffered (sans-IO) server, fed from and drained into pooled buffers by the
//! connection's own reads and writes, with no thread and no runtime.
//!
//! - [`setup`]: the configuration the master builds before it forks (certificates by SNI,
//!   client authentication, versions, suites, ALPN), rebuilt at each reload;
//! - [`ticket`]: session-ticket keys shared by every worker (made and rotated by the master),
//!   so a session resumes whichever worker accepts the next connection;
//! - [`stream`]: one connection's session: handshake, decryption into the read buffer,
//!   encryption of the output a record at a time (files too, read through a bounded buffer),
//!   close_notify, and what a TLS port answers to plaintext HTTP;
//! - [`facts`]: what a handshake settled, for `/inspect`, the access log and `/metrics`;
//! - [`hello`]: the name a ClientHello asks for, read before rustls takes it.
//!
//! Memory: a session is charged [`HANDSHAKE_CHARGE`] to the worker's budget when it is accepted
//! (refused at once if that does not fit), [`SESSION_CHARGE`] once its handshake is done, and
//! [`BUFFERS_CHARGED`] pooled buffers while it holds its record buffers (an idle session holds
//! none); see `stream/charge.rs`.
//!
//! kTLS: with a kernel TLS ULP, the record layer of an established session could move into
//! the kernel (`setsockopt(TCP_ULP, "tls")` and the traffic secrets rustls exports), and files
//! would go out with `sendfile` again. The kernels these servers are built and tested on have
//! no TLS ULP (ENOENT), so there is no such path here; `TlsStream::write` is where it would
//! fork off.

pub mod facts;
pub mod hello;
pub mod setup;
pub mod stream;
pub mod ticket;

use crate::buffer::BufPool;
use crate::memory::Budget;
use crate::stats::WorkerStats;

pub use self::setup::{build, SetupError};
pub use self::stream::{ReadOutcome, TlsStream, Written, BUFFERS_CHARGED};
pub use self::ticket::TicketKeys;

/// What a session is charged while it handshakes: rustls's handshake state (transcript, key
/// shares, the certificate chain it sends) and the few bytes a slow ClientHello may leave
/// between drives (at most 2 KiB, `stream.rs`).
pub const HANDSHAKE_CHARGE: u64 = 8 * 1024;

/// What an established session is charged for the rest of its life: rustls's record keys
/// and state, our stream and its facts. Measured: 10,000 idle TLS 1.3 connections grow a
/// worker's Pss by 4,060 B each, the plain connection's ~300 B included
/// (`benches/tls_handshakes.py`).
pub const SESSION_CHARGE: u64 = 4 * 1024;

/// The smallest pooled buffer that holds a whole record (16 KiB of plaintext and its
/// overhead): the worker's buffers are at least this large when TLS is on.
pub const MIN_BUFFER: usize = stream::MAX_PLAINTEXT + 2048;

/// What a TLS stream works with for one call, lent by its connection and the worker.
pub struct Lent<'a> {
    /// The worker's buffers: the record buffers come from there and go back there.
    pub pool: &'a mut BufPool,
    /// What the record buffers are charged to, under the connection's `token`.
    pub budget: &'a Budget,
    pub token: u64,
    /// Handshakes, versions and bytes are counted there.
    pub stats: &'a WorkerStats,
    /// The drive's work so far (see `conn::DRIVE_WORK`).
    pub work: &'a mut u64,
}
