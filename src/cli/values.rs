//! The parsers clap runs on option values: durations, sizes, the memory budget, CPU lists,
//! worker counts. Each says what was wrong in its error, which clap prints with the option.

use std::time::Duration;

use super::{MemoryBudget, Workers};
use crate::config::{self, CpuAffinity};

/// Most workers accepted: far beyond any useful count, low enough to catch a typo.
const MAX_WORKERS: usize = 1024;

/// Longest timeout accepted: longer is surely a typo, and deadlines stay far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A duration: plain seconds (`10`), or a number with `ms`, `s`, `m` or `h` (`500ms`, `2m`).
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a duration such as 10, 10s, 500ms or 2m, got {s:?}"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("unknown unit {unit:?}: use ms, s, m or h")),
    };
    if d.is_zero() {
        return Err("a timeout of zero would close every connection at once".into());
    }
    if d > MAX_DURATION {
        return Err("at most 7 days".into());
    }
    Ok(d)
}

/// A head or target limit: 256 bytes to 1 MiB.
pub(super) fn parse_header_size(s: &str) -> Result<u64, String> {
    let n = config::parse_size(s)?;
    if (256..=1 << 20).contains(&n) {
        Ok(n)
    } else {
        Err("expected 256 bytes to 1m".into())
    }
}

/// `--memory-budget`: `auto` or a size of at least 1 MiB.
pub(super) fn parse_budget(s: &str) -> Result<MemoryBudget, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(MemoryBudget::Auto);
    }
    let n = config::parse_size(s)?;
    if n < 1 << 20 {
        return Err("at least 1m: a worker needs room for more than a few small bodies".into());
    }
    Ok(MemoryBudget::Bytes(n))
}

pub(super) fn parse_affinity(s: &str) -> Result<CpuAffinity, String> {
    match s.trim() {
        "none" => Ok(CpuAffinity::None),
        "auto" => Ok(CpuAffinity::Auto),
        list => list
            .split(',')
            .map(|c| {
                c.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("expected none, auto or a list of CPU numbers, got {s:?}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(CpuAffinity::List),
    }
}

pub(super) fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    match s.trim() {
        "0" | "0s" | "0ms" => Ok(Duration::ZERO),
        _ => parse_duration(s),
    }
}

pub(super) fn parse_workers(s: &str) -> Result<Workers, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(Workers::Auto);
    }
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(Workers::Count(n)),
        _ => Err(format!(
            "expected \"auto\" or a number from 1 to {MAX_WORKERS}"
        )),
    }
}

/// `--send-lowat`: a size from 4 KiB to 64 MiB, or 0 for the kernel's default.
pub(super) fn parse_send_lowat(s: &str) -> Result<u32, String> {
    let n = config::parse_size(s)?;
    match n {
        0 => Ok(0),
        n if (4096..=64 << 20).contains(&n) => Ok(n as u32),
        _ => Err("a size from 4k to 64m, or 0 for the kernel's default".into()),
    }
}
