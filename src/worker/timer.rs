//! A hashed timing wheel: O(1) to arm a deadline, O(1) per expiry, whatever the number of
//! connections (nginx keeps an rbtree; a wheel is cheaper when deadlines need only 100 ms
//! precision).
//!
//! Entries are lazy. A connection records the tick it is scheduled in; moving its deadline
//! later costs nothing (the entry fires, sees the new deadline, and is scheduled again), and
//! moving it earlier adds an entry and leaves the old one stale, to be skipped when it fires.

use std::time::{Duration, Instant};

/// Width of one slot.
pub(crate) const TICK: Duration = Duration::from_millis(100);
const TICK_NANOS: u64 = TICK.as_nanos() as u64;
const TICKS_PER_SEC: u64 = 1_000_000_000 / TICK_NANOS;
const _: () = assert!(
    1_000_000_000 % TICK_NANOS == 0,
    "a second must be whole ticks"
);
/// Slots in the wheel (a power of two): deadlines further than this many ticks away are parked
/// at the horizon and scheduled again from there.
const SLOTS: usize = 4096;

#[derive(Debug)]
pub(crate) struct TimerWheel {
    origin: Instant,
    buckets: Vec<Vec<u64>>,
    /// The next tick to expire.
    next_tick: u64,
    len: usize,
}

impl TimerWheel {
    pub(crate) fn new(origin: Instant) -> TimerWheel {
        TimerWheel {
            origin,
            buckets: (0..SLOTS).map(|_| Vec::new()).collect(),
            next_tick: 0,
            len: 0,
        }
    }

    /// The tick a deadline falls in (rounded up: a timer never fires early).
    pub(crate) fn tick_of(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.origin);
        // In u64: `as_nanos()` is a u128, whose division is a library call, and this runs
        // after every drive. A second is a whole number of ticks, so only the sub-second part
        // needs rounding up.
        since.as_secs() * TICKS_PER_SEC + u64::from(since.subsec_nanos()).div_ceil(TICK_NANOS)
    }

    /// Arms `token` for `at`; returns the tick it was placed in, which the caller records.
    pub(crate) fn schedule(&mut self, token: u64, at: Instant) -> u64 {
        let tick = self
            .tick_of(at)
            .max(self.next_tick)
            .min(self.next_tick + SLOTS as u64 - 1);
        self.buckets[(tick as usize) & (SLOTS - 1)].push(token);
        self.len += 1;
        tick
    }

    /// When the loop should wake next to expire timers, if any are armed.
    pub(crate) fn next_wakeup(&self) -> Option<Instant> {
        // In u64 nanoseconds: `TICK * u32` would wrap after 2^32 ticks (13.6 years up).
        (self.len > 0).then(|| self.origin + Duration::from_nanos(self.next_tick * TICK_NANOS))
    }

    /// Moves every entry whose tick has come (up to `now`) into `out` as `(token, tick)`.
    pub(crate) fn expire(&mut self, now: Instant, out: &mut Vec<(u64, u64)>) {
        let since = now.saturating_duration_since(self.origin);
        let target = since.as_secs() * TICKS_PER_SEC + u64::from(since.subsec_nanos()) / TICK_NANOS;
        // Never spin through more than one lap: after a long stall every slot has been visited.
        let last = target.min(self.next_tick + SLOTS as u64 - 1);
        while self.next_tick <= last {
            let tick = self.next_tick;
            let bucket = &mut self.buckets[(tick as usize) & (SLOTS - 1)];
            self.len -= bucket.len();
            out.extend(bucket.drain(..).map(|token| (token, tick)));
            self.next_tick += 1;
        }
        if self.next_tick <= target {
            self.next_tick = target + 1;
        }
    }

    /// Entries scheduled (for the tests).
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_or_after_the_deadline_never_before() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0);
        let at = t0 + Duration::from_millis(250);
        let tick = wheel.schedule(7, at);
        assert_eq!(tick, 3);
        let mut out = Vec::new();
        wheel.expire(t0 + Duration::from_millis(299), &mut out);
        assert!(out.is_empty());
        wheel.expire(t0 + Duration::from_millis(300), &mut out);
        assert_eq!(out, vec![(7, 3)]);
        assert!(wheel.is_empty());
    }

    #[test]
    fn ticks_round_up_across_whole_seconds() {
        let t0 = Instant::now();
        let wheel = TimerWheel::new(t0);
        let tick = |d| wheel.tick_of(t0 + d);
        assert_eq!(tick(Duration::ZERO), 0);
        assert_eq!(tick(Duration::from_nanos(1)), 1);
        assert_eq!(tick(Duration::from_secs(1)), 10);
        assert_eq!(tick(Duration::from_nanos(1_000_000_001)), 11);
        assert_eq!(tick(Duration::from_millis(2_050)), 21);
        assert_eq!(tick(Duration::from_secs(75)), 750);
        // Before the origin counts as now.
        if let Some(before) = t0.checked_sub(Duration::from_secs(1)) {
            assert_eq!(wheel.tick_of(before), 0);
        }
    }

    #[test]
    fn wakeups_stay_right_after_years_of_uptime() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0);
        let years = Duration::from_secs(14 * 365 * 86_400); // past 2^32 ticks
        let mut out = Vec::new();
        wheel.expire(t0 + years, &mut out);
        wheel.schedule(3, t0 + years);
        let wake = wheel.next_wakeup().expect("one timer armed");
        assert!(wake > t0 + years && wake <= t0 + years + TICK, "{wake:?}");
    }

    #[test]
    fn far_deadlines_park_at_the_horizon() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0);
        let tick = wheel.schedule(1, t0 + Duration::from_secs(3600));
        assert_eq!(tick, SLOTS as u64 - 1);
        let mut out = Vec::new();
        wheel.expire(t0 + TICK * (SLOTS as u32), &mut out);
        assert_eq!(out, vec![(1, SLOTS as u64 - 1)]);
    }

    #[test]
    fn past_deadlines_fire_on_the_next_expire() {
        let t0 = Instant::now();
        let mut wheel = TimerWheel::new(t0);
        let mut out = Vec::new();
        wheel.expire(t0 + Duration::from_secs(1), &mut out);
        wheel.schedule(2, t0);
        assert_eq!(wheel.next_wakeup(), Some(t0 + TICK * 11));
        wheel.expire(t0 + TICK * 11, &mut out);
        assert_eq!(out, vec![(2, 11)]);
    }
}
