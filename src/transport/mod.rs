//! Transports: what carries a protocol's bytes between the socket and the connection's
//! buffers. Plain TCP is the socket itself (its reads and writes are `conn/io.rs`'s); [`tls`]
//! is rustls, driven sans-IO from the worker's loop. The protocols above see plaintext either
//! way, so HTTP/1.1 (and echo) run unchanged over TLS.
//!
//! Layering: a transport works with the foundations (buffers, the output queue, the memory
//! budget, the counters, `sys`) and reads the PROXY header that may precede a TLS stream with
//! [`crate::proto::proxy`]'s parser; the connection (`conn`) drives it.

pub mod tls;

/// What one read, write or sendfile call counts for in a drive's work (see
/// `conn::DRIVE_WORK`): about what copying a few KiB costs.
pub const SYSCALL_WORK: u64 = 4 * 1024;
