//! Wake-ups at an exact moment, for responses that are due at a time rather than on a
//! timeout: `/delay/0.25`, a `/drip` byte, a `/sse` event. The timing wheel rounds up to its
//! 100 ms tick, which is right for timeouts and wrong here (a 250 ms delay must not become
//! 300 ms), so these live in a min-heap to the millisecond, as nginx keeps its timers in a
//! red-black tree: O(log n) per wake-up, only for connections that asked for one.
//!
//! Entries are lazy, like the wheel's: the connection's protocol says when it is due
//! ([`crate::proto::Protocol::wake_at`]); an entry that fires early or for a connection that no
//! longer wants it is checked against that and dropped or pushed again.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug, Default)]
pub(super) struct Wakeups {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl Wakeups {
    pub(super) fn new() -> Wakeups {
        Wakeups::default()
    }

    /// Wakes `token` at `at` (or on the first turn after it).
    pub(super) fn push(&mut self, token: u64, at: Instant) {
        self.heap.push(Reverse((at, token)));
    }

    /// The earliest wake-up, for the poll timeout.
    #[inline]
    pub(super) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Moves every token due by `now` into `out`, earliest first.
    pub(super) fn due(&mut self, now: Instant, out: &mut Vec<u64>) {
        while let Some(&Reverse((at, token))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            out.push(token);
        }
        // A heap that grew under a burst of delayed requests gives its memory back once empty.
        if self.heap.is_empty() && self.heap.capacity() > 4096 {
            self.heap = BinaryHeap::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn due_in_time_order_and_not_before() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut w = Wakeups::new();
        w.push(1, t0 + ms(250));
        w.push(2, t0 + ms(5));
        w.push(3, t0 + ms(251));
        assert_eq!(w.next(), Some(t0 + ms(5)));
        let mut out = Vec::new();
        w.due(t0 + ms(4), &mut out);
        assert!(out.is_empty());
        w.due(t0 + ms(250), &mut out);
        assert_eq!(out, [2, 1]);
        assert_eq!(w.next(), Some(t0 + ms(251)));
    }
}
