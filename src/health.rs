//! What `/healthz` answers, for every worker at once.
//!
//! The state lives in the shared mapping the master creates before its first fork (inside
//! [`crate::stats::MasterStats`]), so a change made through any worker, or by the master, is
//! seen by every worker on its next check, including workers forked later (respawned, reloaded,
//! added). A binary upgrade starts a new master with a mapping of its own: its workers start
//! `ok`, whatever the old ones said.
//!
//! Two words, each read and written whole: the mode an operator set (ok, or failing with a
//! status for a share of the checks), and the draining flag the master raises for a graceful
//! stop's drain delay. Draining wins over any mode, so a load balancer always sees a leaving
//! server leave. Concurrent changes through two workers are last-writer-wins.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The statuses a failing check may answer with.
pub(crate) const FAIL_STATUSES: std::ops::RangeInclusive<u16> = 400..=599;

/// What an operator set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every check answers 200.
    Ok,
    /// `percent` of the checks (1 to 100, drawn per check) answer `status`; the others 200.
    Failing { status: u16, percent: u8 },
}

impl Mode {
    /// One word: 0 for ok, else `status << 8 | percent`.
    fn encode(self) -> u64 {
        match self {
            Mode::Ok => 0,
            Mode::Failing { status, percent } => u64::from(status) << 8 | u64::from(percent),
        }
    }

    /// The mode a word holds; anything [`Mode::encode`] cannot have made reads as ok.
    fn decode(word: u64) -> Mode {
        let status = u16::try_from(word >> 8).unwrap_or(0);
        let percent = (word & 0xff) as u8;
        if FAIL_STATUSES.contains(&status) && (1..=100).contains(&percent) {
            Mode::Failing { status, percent }
        } else {
            Mode::Ok
        }
    }

    /// Parses a `fail=` value: `off` (or `ok`) for ok, `503` for every check failing with 503,
    /// `503:30` (or `503:30%`) for 30 % of them.
    ///
    /// # Errors
    /// A short reason, for the 400 that answers a bad value.
    pub fn parse(spec: &[u8]) -> Result<Mode, &'static str> {
        let spec = spec.trim_ascii();
        if spec.eq_ignore_ascii_case(b"off") || spec.eq_ignore_ascii_case(b"ok") {
            return Ok(Mode::Ok);
        }
        let (status, percent) = match spec.iter().position(|&b| b == b':') {
            Some(i) => (&spec[..i], Some(&spec[i + 1..])),
            None => (spec, None),
        };
        let status = decimal(status)
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| FAIL_STATUSES.contains(s))
            .ok_or("expected off, a status from 400 to 599, or STATUS:PERCENT (503:30)")?;
        let percent = match percent {
            None => 100,
            Some(p) => decimal(p.strip_suffix(b"%").unwrap_or(p))
                .and_then(|p| u8::try_from(p).ok())
                .filter(|p| (1..=100).contains(p))
                .ok_or("expected a percentage of checks from 1 to 100 after the colon")?,
        };
        Ok(Mode::Failing { status, percent })
    }
}

/// A plain decimal of at most 9 digits (no sign, no spaces).
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

/// What one check answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Failing with this status.
    Fail(u16),
    /// A graceful stop's drain delay: 503.
    Draining,
}

/// The state as one reading of it: what `/metrics`, `/status` and a change's reply show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub mode: Mode,
    pub draining: bool,
}

impl Snapshot {
    /// `ok`, `failing` or `draining` (which wins).
    pub fn state(&self) -> &'static str {
        match (self.draining, self.mode) {
            (true, _) => "draining",
            (false, Mode::Ok) => "ok",
            (false, Mode::Failing { .. }) => "failing",
        }
    }

    /// The failing status and percentage, or zeros when the mode is ok.
    pub fn failing(&self) -> (u16, u8) {
        match self.mode {
            Mode::Ok => (0, 0),
            Mode::Failing { status, percent } => (status, percent),
        }
    }
}

/// The reply to a change: `{"state":"failing","status":503,"percent":30}` (a mode kept while
/// draining shows too, as `status` and `percent` beside `"state":"draining"`).
impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{\"state\":\"{}\"", self.state())?;
        if let Mode::Failing { status, percent } = self.mode {
            write!(f, ",\"status\":{status},\"percent\":{percent}")?;
        }
        f.write_str("}")
    }
}

/// The shared state. All-zero bytes are "ok, not draining", which is what a fresh mapping holds.
#[derive(Debug)]
#[repr(C)]
pub struct Health {
    /// [`Mode::encode`]d.
    mode: AtomicU64,
    /// Non-zero once the master began a graceful stop with a drain delay.
    draining: AtomicU64,
    /// Changes made through `/healthz`, for `/metrics`.
    changes: AtomicU64,
}

impl Health {
    pub const fn new() -> Health {
        Health {
            mode: AtomicU64::new(0),
            draining: AtomicU64::new(0),
            changes: AtomicU64::new(0),
        }
    }

    /// Sets the mode for every worker (a relaxed store is enough: each word stands alone, and
    /// a check that races the change may see either side of it).
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode.encode(), Ordering::Relaxed);
        self.changes.fetch_add(1, Ordering::Relaxed);
    }

    /// The master began a graceful stop's drain delay: every check says 503 from now on.
    pub fn set_draining(&self) {
        self.draining.store(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            mode: Mode::decode(self.mode.load(Ordering::Relaxed)),
            draining: self.draining.load(Ordering::Relaxed) != 0,
        }
    }

    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// What one check answers. `roll` draws a number below 100, called only when a share of
    /// the checks fails (so a check that always fails or never does costs no draw).
    pub fn check(&self, roll: impl FnOnce() -> u64) -> Verdict {
        let now = self.snapshot();
        match now.mode {
            _ if now.draining => Verdict::Draining,
            Mode::Ok => Verdict::Ok,
            Mode::Failing {
                status,
                percent: 100,
            } => Verdict::Fail(status),
            Mode::Failing { status, percent } if roll() < u64::from(percent) => {
                Verdict::Fail(status)
            }
            Mode::Failing { .. } => Verdict::Ok,
        }
    }
}

impl Default for Health {
    fn default() -> Health {
        Health::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let fail = |status, percent| Ok(Mode::Failing { status, percent });
        assert_eq!(Mode::parse(b"off"), Ok(Mode::Ok));
        assert_eq!(Mode::parse(b"OK\n"), Ok(Mode::Ok));
        assert_eq!(Mode::parse(b"503"), fail(503, 100));
        assert_eq!(Mode::parse(b"500:30"), fail(500, 30));
        assert_eq!(Mode::parse(b" 429:1% "), fail(429, 1));
        for bad in [
            &b""[..],
            b"200",
            b"600",
            b"503:0",
            b"503:101",
            b"503:",
            b":30",
            b"-503",
            b"5033333333333",
            b"503:30:1",
            b"on",
        ] {
            assert!(
                Mode::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_mode_survives_its_word_and_a_stray_word_reads_as_ok() {
        for mode in [
            Mode::Ok,
            Mode::Failing {
                status: 503,
                percent: 100,
            },
            Mode::Failing {
                status: 400,
                percent: 1,
            },
        ] {
            assert_eq!(Mode::decode(mode.encode()), mode);
        }
        assert_eq!(Mode::decode(200 << 8 | 50), Mode::Ok);
        assert_eq!(Mode::decode(503 << 8), Mode::Ok);
        assert_eq!(Mode::decode(u64::MAX), Mode::Ok);
    }

    #[test]
    fn checks_follow_the_mode_and_draining_wins() {
        let h = Health::new();
        assert_eq!(h.check(|| unreachable!()), Verdict::Ok);
        h.set(Mode::Failing {
            status: 500,
            percent: 100,
        });
        assert_eq!(h.check(|| unreachable!()), Verdict::Fail(500));
        h.set(Mode::Failing {
            status: 503,
            percent: 30,
        });
        assert_eq!(h.check(|| 29), Verdict::Fail(503));
        assert_eq!(h.check(|| 30), Verdict::Ok);
        h.set(Mode::Ok);
        h.set_draining();
        assert_eq!(h.check(|| 0), Verdict::Draining);
        assert_eq!(h.snapshot().state(), "draining");
        assert_eq!(h.changes(), 3);
        h.set(Mode::Failing {
            status: 500,
            percent: 5,
        });
        assert_eq!(
            h.snapshot().to_string(),
            r#"{"state":"draining","status":500,"percent":5}"#
        );
    }
}
