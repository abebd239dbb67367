//! Request controls: any route's response shaped by the request itself, so one wrk run can
//! exercise a client's retries, timeouts and tail latency (fortio's echo parameters, grown).
//!
//! A control comes from the query (`?status=503:1&delay=5ms`), from an `X-Echo-<Name>` header
//! (`X-Echo-Delay: 5ms`, for clients or ingress rules that can only change one of the two), or
//! from `--default-params` (for clients that cannot change the request at all), in that order
//! of precedence, name by name. [`Controls::parse`] reads them without allocating;
//! [`draw`] picks this request's values (reproducibly with `seed`); [`answer`] runs the route
//! or stands in for it and [`shape`] reshapes what it wrote.
//!
//! A request with none of them never comes here: the parser notes a query or an `X-Echo-`
//! header on the way, and the keep-alive `GET /` path checks that one flag.

mod answer;
mod body;
pub(crate) mod draw;
pub(crate) mod grammar;
mod shape;
mod wrap;

pub(super) use self::answer::answer;

use std::time::Duration;

use self::grammar::{Delay, Ppm, Weighted};
use super::router::Route;
use crate::config::{ControlMode, ControlOptions};
use crate::http::percent::percent_decode_into;
use crate::http::Request;

/// The prefix of a field that carries a control (`X-Echo-Delay: 5ms`), lower case.
pub(crate) const FIELD_PREFIX: &[u8] = b"x-echo-";

/// Most `header=` controls one request may carry.
pub(crate) const MAX_HEADERS: usize = 16;

/// Longest query value a control takes once decoded (a header value, a weighted list).
const MAX_VALUE: usize = 1024;

/// What the generated body of `size=` is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Content {
    #[default]
    Zero,
    /// Random bytes, new for each response (from the request's draw: reproducible with
    /// `seed`).
    Random,
    /// The same random bytes for every response, from `seed` (0 without one).
    Seeded,
}

/// Where `stall=` stops a response: halfway through its head, or halfway through its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stall {
    Head,
    Body,
}

/// One `header=` control: where its `Name:value` lies, still percent-encoded if it came from
/// the query (it is decoded again when written: nothing is kept in between).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HeaderControl<'a> {
    pub text: &'a [u8],
    pub encoded: bool,
}

/// The controls of one request, as parsed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Controls<'a> {
    pub status: Option<Weighted<u16>>,
    pub delay: Option<Delay>,
    pub size: Option<Weighted<u64>>,
    pub content: Content,
    pub chunked: Option<u64>,
    pub drip: Option<Duration>,
    pub close: Ppm,
    pub rst: Ppm,
    pub truncate: Ppm,
    pub stall: Option<(Stall, Ppm)>,
    pub headers: [HeaderControl<'a>; MAX_HEADERS],
    pub header_count: usize,
    pub seed: Option<u64>,
    /// Any control at all was given.
    pub any: bool,
}

/// A control that could not be read: the 400 names it and says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bad {
    pub name: &'static str,
    pub why: &'static str,
}

/// The control names, as the query spells them.
const NAMES: [&str; 12] = [
    "status", "delay", "size", "content", "chunked", "drip", "close", "rst", "truncate", "stall",
    "header", "seed",
];

impl<'a> Controls<'a> {
    /// The controls of a request: `--default-params` first, then `X-Echo-*` headers, then the
    /// query, each overriding the one before for the names it sets (`header=` adds up).
    /// `Ok(None)` when there are none, the common case.
    pub(super) fn parse(
        req: &Request<'a>,
        route: Route,
        options: &'a ControlOptions,
    ) -> Result<Option<Controls<'a>>, Bad> {
        if options.mode == ControlMode::Off {
            return Ok(None);
        }
        let mut c = Controls::default();
        // Test traffic's defaults are not the operators' endpoints' (see `Route::is_operator`).
        if let Some(defaults) = options.defaults.as_deref().filter(|_| !route.is_operator()) {
            c.read_query(defaults, Route::Unknown, options)?;
        }
        if req.marked {
            for (name, value) in req.fields.iter() {
                let Some(suffix) = strip_prefix_ignore_case(name, FIELD_PREFIX) else {
                    continue;
                };
                if let Some(name) = NAMES
                    .iter()
                    .find(|n| suffix.eq_ignore_ascii_case(n.as_bytes()))
                {
                    c.set(name, value, false, options)?;
                }
            }
        }
        if options.mode == ControlMode::On && !req.query.is_empty() {
            c.read_query(req.query, route, options)?;
        }
        c.check()?;
        Ok(c.any.then_some(c))
    }

    /// Checks `--default-params` once, at start.
    pub(crate) fn check_defaults(options: &ControlOptions) -> Result<(), Bad> {
        let mut c = Controls::default();
        if let Some(defaults) = options.defaults.as_deref() {
            c.read_query(defaults, Route::Unknown, options)?;
        }
        c.check()
    }

    /// What holds only between controls.
    fn check(&self) -> Result<(), Bad> {
        if self.drip.is_some() && self.chunked.is_none() {
            return Err(Bad {
                name: "drip",
                why: "paces chunks: give chunked= too",
            });
        }
        Ok(())
    }

    fn read_query(
        &mut self,
        query: &'a [u8],
        route: Route,
        options: &ControlOptions,
    ) -> Result<(), Bad> {
        for pair in query.split(|&b| b == b'&') {
            let (raw_name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => continue,
            };
            let Some(name) = NAMES.iter().find(|n| raw_name == n.as_bytes()) else {
                continue;
            };
            if !route.owns_parameter(name) {
                self.set(name, value, true, options)?;
            }
        }
        Ok(())
    }

    /// Sets control `name` from `raw` (percent-encoded when `encoded`).
    fn set(
        &mut self,
        name: &'static str,
        raw: &'a [u8],
        encoded: bool,
        options: &ControlOptions,
    ) -> Result<(), Bad> {
        let bad = |why| Bad { name, why };
        let mut scratch = [0u8; MAX_VALUE];
        let value = if encoded {
            percent_decode_into(raw, true, &mut scratch).ok_or(bad("too long"))?
        } else {
            raw
        };
        let value = value.trim_ascii();
        self.any = true;
        match name {
            "status" => self.status = Some(Weighted::parse(value, grammar::status).map_err(bad)?),
            "delay" => self.delay = Some(Delay::parse(value, options.max_delay).map_err(bad)?),
            "size" => {
                let max = options.max_size;
                let size = |v: &[u8]| match grammar::size(v)? {
                    n if n > max => Err("larger than the largest body (--max-generated-bytes)"),
                    n => Ok(n),
                };
                self.size = Some(Weighted::parse(value, size).map_err(bad)?);
            }
            "content" => {
                self.content = match value {
                    b"zero" => Content::Zero,
                    b"random" => Content::Random,
                    b"seeded" => Content::Seeded,
                    _ => return Err(bad("expected zero, random or seeded")),
                }
            }
            "chunked" => {
                let n = grammar::size(value).map_err(bad)?;
                if n == 0 || n > options.max_size {
                    return Err(bad("a chunk size from 1 byte to --max-generated-bytes"));
                }
                self.chunked = Some(n);
            }
            "drip" => {
                let d = grammar::duration(value).map_err(bad)?;
                if d > options.max_delay {
                    return Err(bad("longer than the longest delay (--max-duration)"));
                }
                self.drip = Some(d);
            }
            "close" => self.close = grammar::percent(value).map_err(bad)?,
            "rst" => self.rst = grammar::percent(value).map_err(bad)?,
            "truncate" => self.truncate = grammar::percent(value).map_err(bad)?,
            "stall" => self.stall = Some(stall(value).map_err(bad)?),
            "header" => {
                grammar::header(value).map_err(bad)?;
                if self.header_count == MAX_HEADERS {
                    return Err(bad("at most 16 headers"));
                }
                self.headers[self.header_count] = HeaderControl { text: raw, encoded };
                self.header_count += 1;
            }
            "seed" => {
                let seed = super::bin::params::int::<u64>(value);
                self.seed = Some(seed.ok_or(bad("expected a whole number"))?);
            }
            _ => {}
        }
        Ok(())
    }

    /// Controls that reshape the body, which a response written over time (a file, a stream)
    /// cannot take.
    pub(crate) fn shapes_body(&self) -> bool {
        self.chunked.is_some() || self.truncate > 0 || self.stall.is_some()
    }

    /// The name of the first control that reshapes the body, for the 400 that refuses it.
    pub(crate) fn body_control_name(&self) -> &'static str {
        if self.chunked.is_some() {
            "chunked"
        } else if self.truncate > 0 {
            "truncate"
        } else {
            "stall"
        }
    }
}

/// `head`, `body`, `head:5` or `body:5` (a percentage of responses; 100 without one).
fn stall(value: &[u8]) -> Result<(Stall, Ppm), &'static str> {
    const WHY: &str = "expected head or body, with an optional :PERCENT";
    let (what, chance) = match value.iter().position(|&b| b == b':') {
        Some(i) => (&value[..i], grammar::percent(&value[i + 1..])?),
        None => (value, grammar::ALL),
    };
    let at = match what {
        b"head" => Stall::Head,
        b"body" => Stall::Body,
        _ => return Err(WHY),
    };
    Ok((at, chance))
}

fn strip_prefix_ignore_case<'b>(bytes: &'b [u8], prefix: &[u8]) -> Option<&'b [u8]> {
    let head = bytes.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &bytes[prefix.len()..])
}

#[cfg(test)]
#[path = "controls_tests.rs"]
mod tests;
