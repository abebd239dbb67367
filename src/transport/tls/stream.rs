//! One TLS connection, driven sans-IO through rustls's unbuffered API from the worker's loop:
//! ciphertext comes in through `incoming`, plaintext goes to the connection's read buffer;
//! plaintext from the connection's output is encrypted a record at a time into `outgoing`
//! and sent from there. No thread, no runtime.
//!
//! Both ciphertext buffers come from the worker's pool and go back to it when empty, like the
//! connection's read and write buffers, and are charged to the memory budget while held (both
//! at once, so a connection never holds one while it waits for the other): an idle session
//! holds none. A partial record left when a drive ends (a ClientHello sent a byte at a time)
//! is kept in a few bytes of its own, not in a pooled buffer.
//!
//! rustls allocates a `Vec` per record: it copies each decrypted record into one of its own,
//! and seals each encrypted one into one before we copy it out; a keep-alive request costs
//! those two (`tests/alloc.rs`). In-place decryption is future work in rustls
//! (`ReadTraffic`'s `_incoming_tls`).
//!
//! Here: the session's state, reads (the PROXY header, the plaintext sniff, records) and
//! writes; `records.rs` pumps rustls's state machine; `charge.rs` holds what it costs the
//! worker's memory.

mod charge;
mod records;

pub use self::charge::BUFFERS_CHARGED;

use std::cell::OnceCell;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::sync::Arc;

use rustls::server::UnbufferedServerConnection;
use rustls::{ProtocolVersion, ServerConfig};
use tracing::debug;

use self::records::{Intent, Ran};
use super::facts::facts_of;
use super::hello;
use super::{Lent, HANDSHAKE_CHARGE};
use crate::buffer::Buf;
use crate::output::{Output, Write};
use crate::peer::{Proxied, TlsFacts};
use crate::proto::proxy::{self, Accept};
use crate::stats::{ProxyOutcome, TlsOutcome, WorkerStats};
use crate::sys::file;
use crate::sys::net::{self, IoOutcome};
use crate::transport::SYSCALL_WORK;

/// The most plaintext one record carries (RFC 8446 §5.1): what is encrypted at a time, and the
/// room the read buffer needs before a record is decrypted into it.
pub const MAX_PLAINTEXT: usize = 16 * 1024;

/// Room for one record's ciphertext beyond its plaintext: header, content type, padding,
/// explicit nonce and tag, for any suite we offer.
const RECORD_OVERHEAD: usize = 256;

/// What is kept of a partial record at the end of a drive without a pooled buffer (and so
/// without a charge for one): a ClientHello is 250 bytes to 2 KiB.
const STASH_AT_MOST: usize = 2048;

/// What a TLS port answers to a plaintext HTTP request (nginx's words), then closes.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nServer: prefork-server\r\n\
Content-Type: text/plain\r\nContent-Length: 49\r\nConnection: close\r\n\r\n\
The plain HTTP request was sent to an HTTPS port\n";

/// What a read came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// `moved`: ciphertext came in or plaintext went to the read buffer. `drained`: the socket
    /// has nothing more now (a short read or EAGAIN); otherwise readiness is still there (the
    /// read buffer had no room for a record, or the budget no room for the record buffers).
    Read { moved: bool, drained: bool },
    /// The peer finished: close_notify, or its FIN (then the stream ends without one).
    Eof,
    /// The connection is gone (reset), or it must close without a word (a bad PROXY header).
    Closed,
    /// The session failed; an alert (or the 400 for plaintext HTTP) is queued: flush, then
    /// close.
    Fatal,
}

/// What a write came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Ciphertext bytes the socket took.
    pub sent: usize,
    /// Plaintext bytes taken from the output.
    pub taken: usize,
    /// What the output gave back of its budget charge (a large body sent).
    pub freed: u64,
    /// The socket is full: wait for it to be writable.
    pub full: bool,
    /// Records that arrived were decrypted into the read buffer on the way.
    pub decrypted: bool,
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// A PROXY header comes first, in the clear (`--proxy-protocol` on a TLS port).
    Preamble(Accept),
    Handshaking,
    Established,
    /// It failed, timed out, or plaintext HTTP arrived: what is queued goes out, then the
    /// close. Its outcome is counted.
    Failed,
}

pub struct TlsStream {
    conn: UnbufferedServerConnection,
    incoming: Buf,
    outgoing: Buf,
    /// A partial record kept between drives without a pooled buffer (see the module's doc).
    stash: Vec<u8>,
    stage: Stage,
    /// Whole records wait in `incoming` for room in the read buffer.
    pending: bool,
    /// The two record buffers are charged to the budget.
    charged: bool,
    /// What the session itself is charged now: [`HANDSHAKE_CHARGE`], then, once `settle`
    /// sees it established, [`SESSION_CHARGE`].
    charge: u64,
    /// The first byte was looked at (plaintext HTTP is told apart by it).
    sniffed: bool,
    /// close_notify received.
    peer_closed: bool,
    /// close_notify queued.
    notified: bool,
    /// What the handshake settled, once it has; shared with each drive's `Env`.
    facts: Rc<OnceCell<TlsFacts>>,
    /// Whom the PROXY header named, if one came first.
    proxied: Option<Rc<Proxied>>,
    /// The name the ClientHello asked for (see `hello.rs`), until the facts take it.
    server_name: Option<Box<str>>,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("stage", &self.stage)
            .field("incoming", &self.incoming.len())
            .field("outgoing", &self.outgoing.len())
            .finish_non_exhaustive()
    }
}

impl TlsStream {
    /// A server session under `config`, behind a PROXY header of a version `preamble` allows
    /// if it is given. The caller has charged [`HANDSHAKE_CHARGE`] for it.
    ///
    /// # Errors
    /// If rustls refuses the configuration (it was checked when it was built).
    pub fn new(
        config: Arc<ServerConfig>,
        preamble: Option<Accept>,
    ) -> Result<TlsStream, rustls::Error> {
        Ok(TlsStream {
            conn: UnbufferedServerConnection::new(config)?,
            incoming: Buf::new(),
            outgoing: Buf::new(),
            stash: Vec::new(),
            stage: preamble.map_or(Stage::Handshaking, Stage::Preamble),
            pending: false,
            charged: false,
            charge: HANDSHAKE_CHARGE,
            sniffed: false,
            peer_closed: false,
            notified: false,
            facts: Rc::new(OnceCell::new()),
            proxied: None,
            server_name: None,
        })
    }

    /// What the handshake settled (version, suite, name, ALPN, resumption, client
    /// certificate), once it has.
    pub fn facts(&self) -> Rc<OnceCell<TlsFacts>> {
        self.facts.clone()
    }

    /// Whom a PROXY header before the TLS stream named.
    pub fn proxied(&self) -> Option<Rc<Proxied>> {
        self.proxied.clone()
    }

    /// Still before the first byte of application data: the PROXY header or the handshake.
    /// The header timeout applies.
    pub fn is_handshaking(&self) -> bool {
        matches!(self.stage, Stage::Preamble(_) | Stage::Handshaking)
    }

    /// Whole records are buffered that were not decrypted yet (the read buffer had no room).
    pub fn has_input(&self) -> bool {
        self.pending && self.stage != Stage::Failed
    }

    /// Ciphertext (or the answer to plaintext HTTP) is waiting to be sent.
    pub fn has_output(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Reads what the socket has and decrypts what fits into `plain`; handshake messages to
    /// send go to `outgoing` (see [`TlsStream::write`]). `read_closed`: the peer's FIN is
    /// known to be coming, so a short read does not mean the socket is drained. `peer`: the
    /// socket's peer, for a PROXY header.
    pub fn read(
        &mut self,
        fd: BorrowedFd<'_>,
        plain: &mut Buf,
        read_closed: bool,
        peer: Option<SocketAddr>,
        lent: &mut Lent<'_>,
    ) -> ReadOutcome {
        if self.stage == Stage::Failed {
            return ReadOutcome::Fatal;
        }
        if !self.take_buffers(lent) {
            // No memory for the record buffers yet: the session waits in the budget's queue.
            // A client that went away meanwhile is seen now, not once memory comes (which,
            // with the budget full of sessions like it, could be their timeouts away).
            return match net::peek_some(fd, &mut [0u8; 1]) {
                IoOutcome::Eof => ReadOutcome::Eof,
                IoOutcome::Closed | IoOutcome::Failed(_) => ReadOutcome::Closed,
                IoOutcome::Done(_) | IoOutcome::WouldBlock => ReadOutcome::Read {
                    moved: false,
                    drained: false,
                },
            };
        }
        if !self.stash.is_empty() {
            self.incoming.extend_from_slice(&self.stash);
            self.stash = Vec::new();
        }
        let (mut moved, mut drained) = (false, false);
        loop {
            match self.take_input(plain, peer, lent) {
                Ran::NeedInput => {}
                Ran::Done => moved = true,
                Ran::NoRoom => return ReadOutcome::Read { moved, drained },
                Ran::PeerClosed => return ReadOutcome::Eof,
                Ran::Fatal if matches!(self.stage, Stage::Preamble(_)) => {
                    return ReadOutcome::Closed
                }
                Ran::Fatal => return ReadOutcome::Fatal,
            }
            if drained {
                return ReadOutcome::Read { moved, drained };
            }
            if self.incoming.room() == 0 {
                // A whole record (or PROXY header) always fits a pooled buffer: this one
                // claims to be larger than any allowed.
                return if let Stage::Preamble(_) = self.stage {
                    lent.stats.on_proxy(ProxyOutcome::Malformed);
                    self.stage = Stage::Failed;
                    ReadOutcome::Closed
                } else {
                    self.fail(lent.stats, TlsOutcome::Failed);
                    ReadOutcome::Fatal
                };
            }
            *lent.work += SYSCALL_WORK;
            let spare = self.incoming.spare_mut();
            let room = spare.len();
            match net::recv_some(fd, spare) {
                IoOutcome::Done(n) => {
                    *lent.work += n as u64;
                    self.incoming.commit(n);
                    WorkerStats::add(&lent.stats.bytes_in, n as u64);
                    moved = true;
                    drained = n < room && !read_closed;
                }
                IoOutcome::WouldBlock => {
                    return ReadOutcome::Read {
                        moved,
                        drained: true,
                    }
                }
                IoOutcome::Eof => return ReadOutcome::Eof,
                IoOutcome::Closed => return ReadOutcome::Closed,
                IoOutcome::Failed(errno) => {
                    debug!(%errno, "TLS read failed");
                    return ReadOutcome::Closed;
                }
            }
        }
    }

    /// Makes what it can of the buffered input: the PROXY header, then records. `Done` if
    /// plaintext or the session moved on.
    fn take_input(
        &mut self,
        plain: &mut Buf,
        peer: Option<SocketAddr>,
        lent: &mut Lent<'_>,
    ) -> Ran {
        if let Stage::Preamble(accept) = self.stage {
            match proxy::parse(self.incoming.filled(), accept) {
                Ok(None) => return Ran::NeedInput,
                Ok(Some((header, used))) => {
                    let read = proxy::proxied(&header, self.incoming.filled(), peer);
                    debug!(peer = ?read.socket_peer, client = ?read.client, "PROXY header read");
                    lent.stats.on_proxy(ProxyOutcome::Accepted);
                    self.proxied = Some(Rc::new(read));
                    self.incoming.consume(used);
                    self.stage = Stage::Handshaking;
                }
                Err(why) => {
                    debug!(?peer, %why, "not a valid PROXY header; closing");
                    lent.stats.on_proxy(ProxyOutcome::Malformed);
                    return Ran::Fatal;
                }
            }
        }
        if self.incoming.is_empty() {
            self.pending = false;
            return Ran::NeedInput;
        }
        if !self.sniffed {
            // No TLS record starts with a letter (content types are 20 to 24); an HTTP
            // method does. nginx answers that with a 400 in the clear; so do we.
            if self.incoming.filled()[0].is_ascii_uppercase() {
                self.sniffed = true;
                self.incoming.consume(self.incoming.len());
                self.outgoing.extend_from_slice(PLAIN_HTTP_ANSWER);
                self.fail(lent.stats, TlsOutcome::PlainHttp);
                return Ran::Fatal;
            }
            // The first record, once it is whole, is the ClientHello: its name is read here.
            let first = self.incoming.filled();
            match hello::record_len(first) {
                Some(len) if len <= first.len() => {
                    self.sniffed = true;
                    self.server_name = hello::server_name(&first[..len]).map(Box::from);
                }
                Some(_) => {}
                None => return Ran::NeedInput,
            }
        }
        let limit = lent.pool.buffer_size();
        let before = plain.len();
        let ran = self.run(plain, Intent::Read { limit }, lent.stats);
        self.pending = ran == Ran::NoRoom;
        match ran {
            Ran::NeedInput | Ran::NoRoom if plain.len() != before => Ran::Done,
            other => other,
        }
    }

    /// The handshake is done: its facts are read and counted.
    fn established(&mut self, stats: &WorkerStats) {
        self.stage = Stage::Established;
        let facts = facts_of(&self.conn, self.server_name.take());
        let outcome = if facts.resumed {
            TlsOutcome::Resumed
        } else {
            TlsOutcome::Full
        };
        let version = match self.conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => Some(0),
            Some(ProtocolVersion::TLSv1_2) => Some(1),
            _ => None,
        };
        stats.on_tls(outcome, version);
        let _ = self.facts.set(facts);
    }

    /// The session ends unsuccessfully for `why` (counted once, if it never got established).
    fn fail(&mut self, stats: &WorkerStats, why: TlsOutcome) {
        if self.is_handshaking() {
            stats.on_tls(why, None);
        }
        self.stage = Stage::Failed;
    }

    /// Sends the ciphertext waiting, then encrypts and sends what `out` holds (bytes, and file
    /// ranges read a record at a time), until the socket is full or nothing is left. Records
    /// that arrive meanwhile are decrypted into `plain`. `None` to close the connection.
    pub fn write(
        &mut self,
        fd: BorrowedFd<'_>,
        out: &mut Output,
        plain: &mut Buf,
        lent: &mut Lent<'_>,
    ) -> Option<Written> {
        let mut written = Written::default();
        if !self.take_buffers(lent) {
            return Some(written);
        }
        loop {
            if !self.outgoing.is_empty() {
                *lent.work += SYSCALL_WORK;
                match net::send_some(fd, self.outgoing.filled()) {
                    IoOutcome::Done(n) => {
                        *lent.work += n as u64;
                        WorkerStats::add(&lent.stats.bytes_out, n as u64);
                        written.sent += n;
                        let short = n < self.outgoing.len();
                        self.outgoing.consume(n);
                        if short {
                            written.full = true;
                            return Some(written);
                        }
                    }
                    IoOutcome::WouldBlock | IoOutcome::Eof => {
                        written.full = true;
                        return Some(written);
                    }
                    IoOutcome::Closed => return None,
                    IoOutcome::Failed(errno) => {
                        debug!(%errno, "TLS write failed");
                        return None;
                    }
                }
            }
            if self.stage != Stage::Established || out.is_empty() {
                return Some(written);
            }
            let before = plain.len();
            let (taken, freed) = self.encrypt_next(out, plain, lent.stats)?;
            written.decrypted |= plain.len() != before;
            if taken == 0 {
                return Some(written);
            }
            written.taken += taken;
            written.freed += freed;
        }
    }

    /// Encrypts the next piece of `out` (at most a record) into `outgoing`: the bytes taken,
    /// and the budget's charge `out` gave back; `None` to close.
    fn encrypt_next(
        &mut self,
        out: &mut Output,
        plain: &mut Buf,
        stats: &WorkerStats,
    ) -> Option<(usize, u64)> {
        // Set only for a file: zeroing 16 KiB for every small response would cost more than
        // encrypting it.
        let mut bounce: [u8; MAX_PLAINTEXT];
        let piece: &[u8] = match out.next_write() {
            Write::Nothing => return Some((0, 0)),
            Write::Bytes { first, second, .. } => {
                let bytes = if first.is_empty() { second } else { first };
                &bytes[..bytes.len().min(MAX_PLAINTEXT)]
            }
            Write::File { fd, offset, len } => {
                let want = usize::try_from(len)
                    .unwrap_or(usize::MAX)
                    .min(MAX_PLAINTEXT);
                bounce = [0u8; MAX_PLAINTEXT];
                match file::read_at(fd, &mut bounce[..want], offset) {
                    IoOutcome::Done(n) => &bounce[..n],
                    _ => {
                        debug!("a file shrank or failed while it was sent over TLS; closing");
                        return None;
                    }
                }
            }
        };
        match self.run(plain, Intent::Encrypt(piece), stats) {
            Ran::Done => {
                let taken = piece.len();
                Some((taken, out.advance(taken)))
            }
            _ => None,
        }
    }

    /// Queues close_notify (once, on an established session) before the connection closes.
    pub fn close_notify(&mut self, plain: &mut Buf, lent: &mut Lent<'_>) {
        if self.notified || self.stage != Stage::Established || !self.take_buffers(lent) {
            return;
        }
        self.notified = true;
        self.run(plain, Intent::CloseNotify, lent.stats);
    }

    /// The header timeout ran out before the handshake was done: counted (the PROXY header's
    /// own counter if it had not come yet); the connection closes without a word.
    pub fn timed_out(&mut self, stats: &WorkerStats) {
        match self.stage {
            Stage::Preamble(_) => {
                stats.on_proxy(ProxyOutcome::TimedOut);
                self.stage = Stage::Failed;
            }
            Stage::Handshaking => self.fail(stats, TlsOutcome::TimedOut),
            Stage::Established | Stage::Failed => {}
        }
    }
}
