//! What one HTTP/2 connection may ask of the server per second, beside its requests: the
//! guards against the known floods. Each class is counted over one-second windows; a
//! connection that passes a class's limit is sent GOAWAY(ENHANCE_YOUR_CALM) and closed, the
//! class is counted in `/metrics`, and the worker serves everyone else as before.
//!
//! The classes and the attacks they stop:
//! - `ping`, `settings`: CVE-2019-9512 (ping flood) and 9515 (settings flood), frames that
//!   each make us queue an acknowledgement;
//! - `reset`: CVE-2019-9514 (reset flood) and CVE-2023-44487 (rapid reset), streams opened and
//!   cancelled by the client;
//! - `empty`: CVE-2019-9518, frames that carry nothing (DATA without bytes or end, an empty
//!   CONTINUATION or HEADERS fragment);
//! - `control`: PRIORITY frames and WINDOW_UPDATEs that make tiny windows (9511, 9513's cousins);
//! - `refused`: streams beyond MAX_CONCURRENT_STREAMS, opened again and again.
//!
//! Two guards are bounds, not rates: a header block larger than the limit (the 2024
//! CONTINUATION flood; `header_block`) and a decoded header list past
//! SETTINGS_MAX_HEADER_LIST_SIZE (the HPACK bomb, 9516's cousin; answered 431 on its stream,
//! counted as `header_list`).

use std::time::{Duration, Instant};

/// The classes, in the order `/metrics` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flood {
    Ping = 0,
    Settings = 1,
    Reset = 2,
    Empty = 3,
    Control = 4,
    Refused = 5,
    /// A header block past its bound (CONTINUATION flood).
    HeaderBlock = 6,
    /// A header list past its bound (answered 431; the connection lives on).
    HeaderList = 7,
}

impl Flood {
    pub(crate) const COUNT: usize = 8;

    /// The `/metrics` label of each class, by its number.
    pub(crate) const LABELS: [&'static str; Flood::COUNT] = crate::stats::H2_GUARDS;

    /// Frames of this class one connection may send in one second: far above what any real
    /// client does (a browser cancels a few streams a second, pings once a minute), far below
    /// what costs the worker anything.
    fn per_second(self) -> u32 {
        match self {
            Flood::Ping | Flood::Settings => 100,
            Flood::Reset | Flood::Refused => 200,
            Flood::Empty => 1_000,
            Flood::Control => 2_000,
            Flood::HeaderBlock | Flood::HeaderList => u32::MAX,
        }
    }
}

/// The counts of one connection's current second.
#[derive(Debug)]
pub(crate) struct Meter {
    since: Instant,
    /// Within one second; a class trips long before 65,535.
    counts: [u16; 6],
}

impl Meter {
    pub(crate) fn new(now: Instant) -> Meter {
        Meter {
            since: now,
            counts: [0; 6],
        }
    }

    /// Counts one frame of `class`; false once the connection passed the class's limit.
    pub(crate) fn allow(&mut self, class: Flood, now: Instant) -> bool {
        let i = class as usize;
        if i >= self.counts.len() {
            return true;
        }
        if now.saturating_duration_since(self.since) >= Duration::from_secs(1) {
            self.since = now;
            self.counts = [0; 6];
        }
        self.counts[i] = self.counts[i].saturating_add(1);
        u32::from(self.counts[i]) <= class.per_second()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_trips_past_its_rate_and_recovers_the_next_second() {
        let t0 = Instant::now();
        let mut m = Meter::new(t0);
        for _ in 0..100 {
            assert!(m.allow(Flood::Ping, t0));
        }
        assert!(!m.allow(Flood::Ping, t0));
        assert!(m.allow(Flood::Settings, t0), "classes are counted apart");
        assert!(m.allow(Flood::Ping, t0 + Duration::from_secs(1)));
        assert!(m.allow(Flood::HeaderList, t0));
        assert_eq!(Flood::LABELS[Flood::HeaderList as usize], "header_list");
    }
}
