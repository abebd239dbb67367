//! What a session holds of the worker's memory: its record buffers, taken from the pool and
//! charged to the budget together (and given back together once both are empty between
//! drives), and the session's own charge, lowered once the handshake is done.

use super::{Stage, TlsStream, STASH_AT_MOST};
use crate::buffer::{Buf, BufPool};
use crate::memory::{Budget, Grant, Use};
use crate::stats::{TlsOutcome, WorkerStats};
use crate::transport::tls::{Lent, SESSION_CHARGE};

impl TlsStream {
    /// Takes the two record buffers from the pool, charging them to the budget first (or
    /// queueing for that: `false`, and the worker drives the connection again when its turn
    /// comes).
    pub(super) fn take_buffers(&mut self, lent: &mut Lent<'_>) -> bool {
        if !self.charged {
            let need = 2 * lent.pool.buffer_size() as u64;
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
    /// buffers go back to the pool with their charge, so a waiting session holds neither.
    pub fn settle(&mut self, pool: &mut BufPool, budget: &Budget) {
        if self.stage == Stage::Established && self.charge > SESSION_CHARGE {
            // The handshake's state is gone: the session costs less from now on.
            budget.release(self.charge - SESSION_CHARGE, Use::Tls);
            self.charge = SESSION_CHARGE;
        }
        if !self.charged {
            return;
        }
        let small = self.incoming.len() <= STASH_AT_MOST && !self.pending;
        if small && self.outgoing.is_empty() {
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
        pool.reclaim(&mut self.incoming);
        pool.reclaim(&mut self.outgoing);
        // A buffer grown past the pool's size is dropped by the pool: free it here either way.
        self.incoming = Buf::new();
        self.outgoing = Buf::new();
        budget.release(2 * pool.buffer_size() as u64, Use::Tls);
        self.charged = false;
    }
}
