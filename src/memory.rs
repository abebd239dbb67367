//! The worker's memory budget: what clients can make a worker hold, bounded for all of them
//! together.
//!
//! A connection's read and write buffers are per-connection constants (one pooled buffer each
//! while it is active, none while idle). Everything else a worker buffers on a client's behalf
//! is reserved here **before** it is held: a request body that does not fit the read buffer, and
//! a response body that does not fit the write buffer. A reservation covers the whole need at
//! once (a declared body's full length, a chunked body's largest allowed size), so a connection
//! holding memory never waits for more, and so no set of waiting connections can deadlock.
//!
//! When a reservation does not fit, the connection joins a first-come-first-served queue and
//! stops reading (TCP backpressure fills its peer's window); the worker wakes the head of the
//! queue when enough memory is given back. Small requests, whose body and answer fit the
//! connection's own buffers, never come here, so they are served whatever the queue holds.
//!
//! Single-threaded, like everything in a worker: `Cell`s, no locks.

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};

/// What a reservation is for: the two gauges `/metrics` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A request body waiting to be answered.
    Body,
    /// A response body waiting to be sent.
    Output,
    /// A TLS session, and the record buffers of one that is reading or writing.
    Tls,
}

/// The answer to [`Budget::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Reserved: the caller holds the bytes until it releases them.
    Granted,
    /// Not now: the caller is queued (once) and is woken when its turn comes.
    Queued,
    /// More than the whole budget: it can never be granted.
    Never,
}

/// One queued need.
#[derive(Debug, Clone, Copy)]
struct Waiter {
    token: u64,
    need: u64,
}

/// A worker's budget. Tokens are the worker's connection tokens (slot index and generation),
/// so a token is never reused by another connection.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    bodies: Cell<u64>,
    output: Cell<u64>,
    tls: Cell<u64>,
    /// Waiting connections in arrival order; an entry whose token left `waiting` (its
    /// connection closed) is dropped when it reaches the front.
    queue: RefCell<VecDeque<Waiter>>,
    waiting: RefCell<HashSet<u64>>,
    /// Bumped whenever memory is given back or a waiter leaves: the worker wakes the head of
    /// the queue once per change, never in a loop.
    changes: Cell<u64>,
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget {
            limit,
            bodies: Cell::new(0),
            output: Cell::new(0),
            tls: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
            waiting: RefCell::new(HashSet::new()),
            changes: Cell::new(0),
        }
    }

    /// A number that changes whenever memory is given back or a waiter leaves.
    pub fn changes(&self) -> u64 {
        self.changes.get()
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes reserved for `what`.
    pub fn held(&self, what: Use) -> u64 {
        self.gauge(what).get()
    }

    /// Bytes reserved for anything.
    pub fn used(&self) -> u64 {
        self.bodies.get() + self.output.get() + self.tls.get()
    }

    /// Connections waiting for memory.
    pub fn waiting(&self) -> usize {
        self.waiting.borrow().len()
    }

    fn gauge(&self, what: Use) -> &Cell<u64> {
        match what {
            Use::Body => &self.bodies,
            Use::Output => &self.output,
            Use::Tls => &self.tls,
        }
    }

    fn fits(&self, need: u64) -> bool {
        need <= self.limit - self.used()
    }

    /// Reserves `need` bytes for connection `token`, first come first served: granted only
    /// when nobody is queued ahead of `token` and the bytes fit; otherwise `token` is queued
    /// (once) with this need.
    pub fn reserve(&self, token: u64, need: u64, what: Use) -> Grant {
        if need > self.limit {
            return Grant::Never;
        }
        self.prune();
        let mut queue = self.queue.borrow_mut();
        let first = queue.front().is_none_or(|w| w.token == token);
        if first && self.fits(need) {
            if !queue.is_empty() {
                queue.pop_front();
                self.waiting.borrow_mut().remove(&token);
            }
            let gauge = self.gauge(what);
            gauge.set(gauge.get() + need);
            return Grant::Granted;
        }
        if let Some(front) = queue.front_mut().filter(|w| w.token == token) {
            front.need = need;
        } else if self.waiting.borrow_mut().insert(token) {
            queue.push_back(Waiter { token, need });
        }
        Grant::Queued
    }

    /// Reserves `need` bytes at once if they fit with `headroom` to spare and nobody waits,
    /// without joining the queue: for what is refused rather than waited for (a new TLS
    /// session when the budget is spent; the headroom keeps room for one of those admitted to
    /// take its record buffers, so admitted sessions always move).
    pub fn try_reserve(&self, need: u64, headroom: u64, what: Use) -> bool {
        self.prune();
        let ask = need.saturating_add(headroom);
        if !self.queue.borrow().is_empty() || ask > self.limit || !self.fits(ask) {
            return false;
        }
        let gauge = self.gauge(what);
        gauge.set(gauge.get() + need);
        true
    }

    /// Gives `bytes` reserved for `what` back.
    ///
    /// # Panics
    /// If more is released than is held: a reservation counted twice is a bug that would
    /// otherwise let the budget drift.
    pub fn release(&self, bytes: u64, what: Use) {
        let gauge = self.gauge(what);
        let held = gauge.get();
        assert!(bytes <= held, "released {bytes} of {held} reserved bytes");
        gauge.set(held - bytes);
        self.changes.set(self.changes.get() + 1);
    }

    /// Moves `bytes` from one use to the other (a buffered body becomes the response body).
    pub fn transfer(&self, bytes: u64, from: Use, to: Use) {
        self.release(bytes, from);
        let gauge = self.gauge(to);
        gauge.set(gauge.get() + bytes);
    }

    /// The connection closed: it waits no more (its queue entry goes when it is reached).
    pub fn cancel(&self, token: u64) {
        let mut waiting = self.waiting.borrow_mut();
        if !waiting.is_empty() && waiting.remove(&token) {
            self.changes.set(self.changes.get() + 1);
        }
    }

    /// The connection at the head of the queue, if its need fits now: the worker drives it,
    /// and its `reserve` is then granted.
    pub fn ready_waiter(&self) -> Option<u64> {
        if self.queue.borrow().is_empty() {
            return None; // every loop turn asks: keep the common answer cheap
        }
        self.prune();
        let queue = self.queue.borrow();
        let front = queue.front()?;
        self.fits(front.need).then_some(front.token)
    }

    /// Drops cancelled entries from the head of the queue.
    fn prune(&self) {
        let mut queue = self.queue.borrow_mut();
        let waiting = self.waiting.borrow();
        while queue.front().is_some_and(|w| !waiting.contains(&w.token)) {
            queue.pop_front();
        }
        if queue.is_empty() && queue.capacity() > 64 {
            // A burst of waiters is over: give its storage back.
            *queue = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_what_fits_and_counts_it_by_use() {
        let b = Budget::new(100);
        assert_eq!(b.reserve(1, 60, Use::Body), Grant::Granted);
        assert_eq!(b.reserve(2, 30, Use::Output), Grant::Granted);
        assert_eq!((b.held(Use::Body), b.held(Use::Output)), (60, 30));
        b.transfer(60, Use::Body, Use::Output);
        assert_eq!((b.held(Use::Body), b.held(Use::Output)), (0, 90));
        b.release(90, Use::Output);
        assert_eq!(b.used(), 0);
        assert_eq!(b.reserve(3, 101, Use::Body), Grant::Never);
        assert_eq!(b.waiting(), 0, "a need that can never fit is not queued");
    }

    #[test]
    fn first_come_first_served_with_no_overtaking() {
        let b = Budget::new(100);
        assert_eq!(b.reserve(1, 80, Use::Body), Grant::Granted);
        assert_eq!(b.reserve(2, 50, Use::Body), Grant::Queued);
        // 20 bytes are free, but 3 must not overtake 2.
        assert_eq!(b.reserve(3, 10, Use::Body), Grant::Queued);
        assert_eq!(b.reserve(3, 10, Use::Body), Grant::Queued, "queued once");
        assert_eq!(b.waiting(), 2);
        assert_eq!(b.ready_waiter(), None);
        b.release(80, Use::Body);
        assert_eq!(b.ready_waiter(), Some(2));
        assert_eq!(
            b.reserve(3, 10, Use::Body),
            Grant::Queued,
            "2 still goes first"
        );
        assert_eq!(b.reserve(2, 50, Use::Body), Grant::Granted);
        assert_eq!(b.ready_waiter(), Some(3));
        assert_eq!(b.reserve(3, 10, Use::Body), Grant::Granted);
        assert_eq!(b.waiting(), 0);
        assert_eq!(b.used(), 60);
    }

    #[test]
    fn try_reserve_takes_what_fits_and_never_overtakes() {
        let b = Budget::new(100);
        assert!(b.try_reserve(60, 0, Use::Tls));
        assert!(!b.try_reserve(50, 0, Use::Tls), "does not fit");
        assert!(
            !b.try_reserve(20, 30, Use::Tls),
            "fits, but not with the headroom"
        );
        assert!(b.try_reserve(20, 20, Use::Tls), "fits with the headroom");
        b.release(20, Use::Tls);
        assert_eq!(b.waiting(), 0, "and is not queued");
        assert_eq!(b.reserve(1, 50, Use::Body), Grant::Queued);
        assert!(!b.try_reserve(10, 0, Use::Tls), "someone waits");
        b.release(60, Use::Tls);
        assert_eq!(b.held(Use::Tls), 0);
    }

    #[test]
    fn a_closed_waiter_does_not_block_the_queue() {
        let b = Budget::new(100);
        assert_eq!(b.reserve(1, 100, Use::Body), Grant::Granted);
        assert_eq!(b.reserve(2, 100, Use::Body), Grant::Queued);
        assert_eq!(b.reserve(3, 10, Use::Body), Grant::Queued);
        b.cancel(2);
        assert_eq!(b.waiting(), 1);
        b.release(50, Use::Body);
        assert_eq!(b.ready_waiter(), Some(3));
        assert_eq!(b.reserve(3, 10, Use::Body), Grant::Granted);
    }

    #[test]
    fn the_head_of_the_queue_may_change_its_need() {
        let b = Budget::new(100);
        assert_eq!(b.reserve(1, 90, Use::Body), Grant::Granted);
        assert_eq!(b.reserve(2, 50, Use::Output), Grant::Queued);
        assert_eq!(b.reserve(2, 5, Use::Output), Grant::Granted);
    }

    #[test]
    #[should_panic(expected = "released")]
    fn releasing_more_than_held_is_a_bug() {
        let b = Budget::new(100);
        b.release(1, Use::Body);
    }
}
