//! What a session holds of the worker's memory: its record buffers, taken from the pool and
//! charged to the budget together (and given back together once both are empty between
//! drives), and the session's own charge, lowered once the handshake is done.
//!
//! The charge for the buffers is [`BUFFERS_CHARGED`] pooled buffers: the two record buffers,
//! and what the connection's read buffer may grow past its pooled size while TLS fills it. A
//! record is decrypted into it only below the read limit (one pooled buffer) and only with
//! room for a whole record (`records.rs` `room_for_a_record`, growing it exactly), so it holds
//! at most the limit plus a record; records met while encrypting (rustls deframes what waits
//! in `incoming` before it lets us encrypt) add at most what `incoming` holds, one pooled
//! buffer. So at most three buffers' worth, two past its own: four in all with ours. The
//! charge is kept while the read buffer is grown, and given back with the buffers after.

use super::{Stage, TlsStream, STASH_AT_MOST};

/// Pooled buffers' worth charged for an active session (see the module's doc).
pub const BUFFERS_CHARGED: u64 = 4;
use crate::buffer::BufPool;
use crate::memory::{Budget, Grant, Use};
use crate::stats::{TlsOutcome, WorkerStats};
use crate::transport::tls::{Lent, SESSION_CHARGE};

impl TlsStream {
    /// Takes the two record buffers from the pool, charging them to the budget first (or
    /// queueing for that: `false`, and the worker drives the connection again when its turn
    /// comes).
    pub(super) fn take_buffers(&mut self, lent: &mut Lent<'_>) -> bool {
        if !self.charged {
            let need = BUFFERS_CHARGED * lent.pool.buffer_size() as u64;
            match lent.budget.reserve(lent.token, need, Use::Tls) {
                Grant::Granted => self.charged = true,
                Grant::Queued | Grant::Never => return false,
            }
        }
        lent.pool.fill(&mut self.incoming);
        lent.pool.fill(&mut self.outgoing);
        true
    }

    /// Between drives: a small partial record moves to a few bytes of its own, and empty
    /// buffers go back to the pool with their charge, so a waiting session holds neither;
    /// unless the connection's read buffer, `plain_capacity` bytes, is still grown past its
    /// pooled size (its growth is in the same charge).
    pub fn settle(&mut self, pool: &mut BufPool, budget: &Budget, plain_capacity: usize) {
        if self.stage == Stage::Established && self.charge > SESSION_CHARGE {
            // The handshake's state is gone: the session costs less from now on.
            budget.release(self.charge - SESSION_CHARGE, Use::Tls);
            self.charge = SESSION_CHARGE;
        }
        if !self.charged {
            return;
        }
        let small = self.incoming.len() <= STASH_AT_MOST && !self.pending;
        if small && self.outgoing.is_empty() && plain_capacity <= pool.buffer_size() {
            if !self.incoming.is_empty() {
                self.stash.extend_from_slice(self.incoming.filled());
                let len = self.incoming.len();
                self.incoming.consume(len);
            }
            self.give_buffers(pool, budget);
        }
    }

    /// Gives the record buffers back (the connection is closing), and the session's charge;
    /// a handshake that never finished is counted as closed by the client.
    pub fn release(&mut self, pool: &mut BufPool, budget: &Budget, stats: &WorkerStats) {
        match self.stage {
            Stage::Handshaking => stats.on_tls(TlsOutcome::Closed, None),
            Stage::Preamble(_) | Stage::Established | Stage::Failed => {}
        }
        let (i, o) = (self.incoming.len(), self.outgoing.len());
        self.incoming.consume(i);
        self.outgoing.consume(o);
        if self.charged {
            self.give_buffers(pool, budget);
        }
        budget.release(self.charge, Use::Tls);
        self.charge = 0;
    }

    fn give_buffers(&mut self, pool: &mut BufPool, budget: &Budget) {
        // (A buffer grown past the pool's size is taken out all the same, and freed there.)
        pool.reclaim(&mut self.incoming);
        pool.reclaim(&mut self.outgoing);
        budget.release(BUFFERS_CHARGED * pool.buffer_size() as u64, Use::Tls);
        self.charged = false;
    }
}
