//! The grammar of the request controls' values: percentages, weighted lists, delay
//! distributions, sizes. Pure functions over bytes that allocate nothing, so a request with
//! controls costs its response and no more; each error is a short text the 400 quotes.

use std::time::Duration;

/// Parts per million: a percentage with four decimals (`5.5` → 55,000), so weights add up
/// exactly and a draw is one integer comparison.
pub(crate) type Ppm = u32;

pub(crate) const ALL: Ppm = 1_000_000;

/// Most entries of a weighted list: enough for any mix anyone writes by hand.
pub(crate) const MAX_ENTRIES: usize = 8;

/// Values with their chances; whatever the chances leave to 100% means "as if not given".
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Weighted<T: Copy> {
    entries: [(T, Ppm); MAX_ENTRIES],
    len: usize,
}

impl<T: Copy + Default> Weighted<T> {
    /// `v` (always) or `v1:p1,v2:p2,…` (percentages summing to at most 100).
    pub(crate) fn parse(
        text: &[u8],
        value: impl Fn(&[u8]) -> Result<T, &'static str>,
    ) -> Result<Weighted<T>, &'static str> {
        let mut w = Weighted {
            entries: [(T::default(), 0); MAX_ENTRIES],
            len: 0,
        };
        if !text.contains(&b':') {
            w.entries[0] = (value(text)?, ALL);
            w.len = 1;
            return Ok(w);
        }
        let mut total: u64 = 0;
        for item in text.split(|&b| b == b',') {
            let colon = item
                .iter()
                .rposition(|&b| b == b':')
                .ok_or("each entry of a list is VALUE:PERCENT")?;
            if w.len == MAX_ENTRIES {
                return Err("at most 8 entries");
            }
            let chance = percent(&item[colon + 1..])?;
            total += u64::from(chance);
            w.entries[w.len] = (value(&item[..colon])?, chance);
            w.len += 1;
        }
        if total > u64::from(ALL) {
            return Err("the percentages add up to more than 100");
        }
        Ok(w)
    }

    /// The value a draw `x` in `0..ALL` picks, or `None` for the share left over.
    pub(crate) fn pick(&self, x: Ppm) -> Option<T> {
        let mut upto: u64 = 0;
        for &(value, chance) in &self.entries[..self.len] {
            upto += u64::from(chance);
            if u64::from(x) < upto {
                return Some(value);
            }
        }
        None
    }
}

/// A percentage from 0 to 100, with up to four decimals (`5`, `5.5`, `0.01`); `true` is 100
/// (fortio's `close=true`).
pub(crate) fn percent(text: &[u8]) -> Result<Ppm, &'static str> {
    const WHY: &str = "expected a percentage from 0 to 100, such as 5 or 0.5";
    if text == b"true" {
        return Ok(ALL);
    }
    let (whole, frac) = match text.iter().position(|&b| b == b'.') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &b""[..]),
    };
    let digits = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
    if whole.is_empty() || whole.len() > 3 || frac.len() > 4 || !digits(whole) || !digits(frac) {
        return Err(WHY);
    }
    let mut ppm: u32 = whole
        .iter()
        .fold(0, |n, &d| n * 10 + u32::from(d - b'0'))
        .saturating_mul(10_000);
    for (i, &d) in frac.iter().enumerate() {
        ppm += u32::from(d - b'0') * 10u32.pow(3 - i as u32);
    }
    if ppm > ALL {
        return Err(WHY);
    }
    Ok(ppm)
}

/// A final status code, 200 to 599 (a 1xx is not an answer).
pub(crate) fn status(text: &[u8]) -> Result<u16, &'static str> {
    let code = super::super::bin::params::int::<u16>(text).unwrap_or(0);
    if (200..=599).contains(&code) {
        Ok(code)
    } else {
        Err("expected a status code from 200 to 599")
    }
}

/// A duration as `/delay` takes one: `5ms`, `250us`, `1.5s`, or plain seconds.
pub(crate) fn duration(text: &[u8]) -> Result<Duration, &'static str> {
    super::super::bin::params::duration(text).ok_or("expected a duration such as 5ms or 1.5s")
}

/// A size in bytes: `1024`, `4k`, `1m` (powers of 1024).
pub(crate) fn size(text: &[u8]) -> Result<u64, &'static str> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| crate::config::parse_size(s).ok())
        .ok_or("expected a size such as 512, 4k or 1m")
}

/// How a delay is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Delay {
    /// `5ms`, or `5ms:90,200ms:10` (the rest: no delay).
    Weighted(Weighted<Duration>),
    /// `5ms..50ms`: uniform between the two.
    Uniform(Duration, Duration),
    /// `lognormal:p50=5ms,p99=200ms`: the logarithm is normal with this mean and deviation
    /// (in log-seconds), so the median is the p50 given and the other quantile falls where
    /// it was asked.
    Lognormal { mu: f64, sigma: f64 },
}

impl Delay {
    /// Parses a delay; no value it can give is over `max`, except a lognormal's tail, which
    /// is cut at `max` when drawn.
    pub(crate) fn parse(text: &[u8], max: Duration) -> Result<Delay, &'static str> {
        const TOO_LONG: &str = "longer than the longest delay (--max-duration)";
        let checked = |d: Duration| if d > max { Err(TOO_LONG) } else { Ok(d) };
        if let Some(rest) = text.strip_prefix(b"lognormal:") {
            return lognormal(rest, max);
        }
        if let Some(i) = text.windows(2).position(|w| w == b"..") {
            let lo = checked(duration(&text[..i])?)?;
            let hi = checked(duration(&text[i + 2..])?)?;
            if lo > hi {
                return Err("a range is LOW..HIGH");
            }
            return Ok(Delay::Uniform(lo, hi));
        }
        Ok(Delay::Weighted(Weighted::parse(text, |v| {
            checked(duration(v)?)
        })?))
    }
}

/// `p50=5ms,p99=200ms`: the median and one upper quantile (p90, p95, p99 or p999).
fn lognormal(text: &[u8], max: Duration) -> Result<Delay, &'static str> {
    const WHY: &str = "expected lognormal:p50=DURATION,p99=DURATION (or p90, p95, p999)";
    let (mut p50, mut upper) = (None, None);
    for item in text.split(|&b| b == b',') {
        let eq = item.iter().position(|&b| b == b'=').ok_or(WHY)?;
        let value = duration(&item[eq + 1..])?.as_secs_f64();
        // The standard normal's quantiles: how many deviations above the median each lies.
        let z = match &item[..eq] {
            b"p50" => {
                p50 = Some(value);
                continue;
            }
            b"p90" => 1.281_551_565_5,
            b"p95" => 1.644_853_626_9,
            b"p99" => 2.326_347_874_0,
            b"p999" => 3.090_232_306_2,
            _ => return Err(WHY),
        };
        upper = Some((value, z));
    }
    let (Some(p50), Some((pq, z))) = (p50, upper) else {
        return Err(WHY);
    };
    if p50 <= 0.0 || pq <= p50 {
        return Err("the upper quantile must be above a median above zero");
    }
    if p50 > max.as_secs_f64() {
        return Err("the median is longer than the longest delay (--max-duration)");
    }
    let mu = p50.ln();
    Ok(Delay::Lognormal {
        mu,
        sigma: (pq.ln() - mu) / z,
    })
}

/// A response header to add, `Name:value`: a token for the name, visible text for the value,
/// and never a field that frames the message (the controls shape framing themselves).
pub(crate) fn header(text: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    let colon = text
        .iter()
        .position(|&b| b == b':')
        .ok_or("expected NAME:VALUE")?;
    let (name, value) = (&text[..colon], text[colon + 1..].trim_ascii());
    let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if name.is_empty() || !name.iter().all(token) {
        return Err("the name must be a token (letters, digits, -)");
    }
    if !value
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err("the value must be visible ASCII text");
    }
    const FRAMING: [&[u8]; 6] = [
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"upgrade",
        b"trailer",
        b"keep-alive",
    ];
    if FRAMING.iter().any(|f| name.eq_ignore_ascii_case(f)) {
        return Err("framing fields cannot be set");
    }
    Ok((name, value))
}

#[cfg(test)]
#[path = "grammar_tests.rs"]
mod tests;
