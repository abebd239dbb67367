//! A connection over TLS: its drive sees what the handshake settled, its reads and writes go
//! through its [`TlsStream`](crate::transport::tls::TlsStream), and its close is preceded by
//! close_notify. Kept apart, and out of line, so the plaintext drive stays as it was.

use std::os::fd::AsFd;
use std::time::Instant;

use super::{Connection, Drive};
use crate::buffer::BufPool;
use crate::http::Handler;
use crate::memory::Use;
use crate::peer::Peer;
use crate::proto::Env;
use crate::transport::tls::{Lent, ReadOutcome};

impl Connection {
    /// [`Connection::drive_open`] over TLS: the protocol sees what the handshake settled,
    /// and whom a PROXY header before it named (one copy of the environment per drive, on TLS
    /// connections only). Kept out of line, so the plaintext drive stays as it was.
    #[inline(never)]
    pub(super) fn drive_tls(
        &mut self,
        env: &Env<'_>,
        app: &mut dyn Handler,
        pool: &mut BufPool,
        now: Instant,
    ) -> Drive {
        let Some(tls) = &self.tls else {
            return self.drive_open(env, app, pool, now);
        };
        let (facts, proxied) = (tls.facts(), tls.proxied());
        let env = Env {
            tls: Some(&facts),
            peer: proxied.as_deref().map_or(env.peer, Peer::Proxied),
            ..*env
        };
        self.drive_open(&env, app, pool, now)
    }

    /// Reads through TLS: records decrypted into the read buffer, the handshake moved on.
    #[inline(never)]
    pub(super) fn fill_tls(
        &mut self,
        pool: &mut BufPool,
        env: &Env<'_>,
        work: &mut u64,
    ) -> Option<bool> {
        let tls = self.tls.as_deref_mut()?;
        let mut lent = lent(pool, env, work);
        lent.pool.fill(&mut self.rbuf);
        let read = tls.read(
            self.fd.as_fd(),
            &mut self.rbuf,
            self.read_closed,
            self.peer,
            &mut lent,
        );
        match read {
            ReadOutcome::Read { moved, drained } => {
                if drained {
                    self.readable = false;
                }
                if moved {
                    self.needs_input = false;
                }
                Some(moved)
            }
            ReadOutcome::Eof => {
                self.readable = false;
                self.peer_eof = true;
                Some(true)
            }
            ReadOutcome::Closed => None,
            ReadOutcome::Fatal => {
                // The alert (or the 400 to plaintext HTTP) goes out, then the close.
                self.closing = true;
                Some(true)
            }
        }
    }

    /// Writes through TLS: records waiting go out, then the output is encrypted a record at a
    /// time (files read through a bounded buffer: no `sendfile` without kTLS).
    #[inline(never)]
    pub(super) fn flush_tls(
        &mut self,
        env: &Env<'_>,
        pool: &mut BufPool,
        work: &mut u64,
    ) -> Option<bool> {
        let tls = self.tls.as_deref_mut()?;
        let mut lent = lent(pool, env, work);
        let written = tls.write(self.fd.as_fd(), &mut self.out, &mut self.rbuf, &mut lent)?;
        if written.freed > 0 {
            env.budget.release(written.freed, Use::Output);
        }
        if written.full {
            self.writable = false;
        }
        if written.decrypted {
            self.needs_input = false;
        }
        Some(written.sent > 0 || written.taken > 0 || written.decrypted)
    }

    /// The output is flushed and the protocol is done. If the peer may still be sending, send
    /// our FIN and drain its bytes for a while, so that closing with unread data (which makes
    /// the kernel send an RST) cannot destroy a response the client has not read yet.
    ///
    /// With `fast_if_clean`, a connection whose request ended cleanly (no error, nothing left
    /// unread in the buffer or the socket) is closed at once, as nginx does: the linger would
    /// cost a shutdown, a wake-up and a read for nothing.
    /// On an established TLS session that has not said so yet, queues close_notify; `true`
    /// if it did (it is then to be sent before the FIN).
    pub(super) fn queue_close_notify(
        &mut self,
        env: &Env<'_>,
        pool: &mut BufPool,
        work: &mut u64,
    ) -> bool {
        let Some(tls) = self.tls.as_deref_mut() else {
            return false;
        };
        let mut lent = lent(pool, env, work);
        tls.close_notify(&mut self.rbuf, &mut lent);
        tls.has_output()
    }
}

/// What a TLS stream borrows for one call, from the worker (`pool`, and `env`'s budget,
/// counters and this connection's token) and the drive (`work`).
fn lent<'a>(pool: &'a mut BufPool, env: &'a Env<'_>, work: &'a mut u64) -> Lent<'a> {
    Lent {
        pool,
        budget: env.budget,
        token: env.token,
        stats: env.stats,
        work,
    }
}
