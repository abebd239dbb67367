//! Deadlines with O(1) cost per connection. Every deadline in one queue has the same duration,
//! so pushing in time order keeps the queue sorted: push at the back, expire from the front.
//! An entry whose connection is gone (or no longer in that state) is skipped when it expires.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct DeadlineQueue {
    after: Duration,
    entries: VecDeque<(Instant, u64)>,
}

impl DeadlineQueue {
    pub fn new(after: Duration) -> DeadlineQueue {
        DeadlineQueue {
            after,
            entries: VecDeque::new(),
        }
    }

    /// Arms a deadline `after` from `now` for `token`.
    pub fn push(&mut self, now: Instant, token: u64) {
        self.entries.push_back((now + self.after, token));
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Instant> {
        self.entries.front().map(|&(at, _)| at)
    }

    /// Removes and returns the next token whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<u64> {
        match self.entries.front() {
            Some(&(at, token)) if at <= now => {
                self.entries.pop_front();
                Some(token)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_order() {
        let t0 = Instant::now();
        let mut q = DeadlineQueue::new(Duration::from_secs(2));
        q.push(t0, 1);
        q.push(t0 + Duration::from_secs(1), 2);
        assert_eq!(q.next(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(q.pop_expired(t0 + Duration::from_secs(1)), None);
        assert_eq!(q.pop_expired(t0 + Duration::from_secs(2)), Some(1));
        assert_eq!(q.pop_expired(t0 + Duration::from_secs(2)), None);
        assert_eq!(q.pop_expired(t0 + Duration::from_secs(3)), Some(2));
        assert_eq!(q.next(), None);
    }
}
