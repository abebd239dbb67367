//! This request's draw: the status, delay, size and fault its controls pick.
//!
//! Without `seed`, draws come from the worker's generator. With `seed=N`, the k-th request on
//! a connection draws from a generator seeded by N and k, so a run of requests over one
//! keep-alive connection gets the same sequence every time (and a client can replay it),
//! while the draws still follow the weights across the run.

use std::time::Duration;

use super::grammar::{Delay, Ppm, ALL};
use super::{Content, Controls, Stall};
use crate::rand::Rng;

/// A fault that ends the response early or instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The response, then the connection closes (announced with `Connection: close`).
    Close,
    /// No response: the connection is reset.
    Rst,
    /// Half the body the head announces, then the connection closes.
    Truncate,
    /// Half the head or half the body, then nothing until the stall ends.
    Stall(Stall),
}

impl Fault {
    /// The index into `WorkerStats::injected_faults` (named as in `stats::FAULT_KINDS`).
    pub(crate) fn index(self) -> usize {
        match self {
            Fault::Close => 0,
            Fault::Rst => 1,
            Fault::Truncate => 2,
            Fault::Stall(_) => 3,
        }
    }
}

/// What was drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Draw {
    /// A status that stands in for the route's answer.
    pub status: Option<u16>,
    pub delay: Option<Duration>,
    /// A generated body that stands in for the route's.
    pub size: Option<u64>,
    pub fault: Option<Fault>,
    /// Seeds the generated body's bytes (`content=random` or `seeded`).
    pub content_seed: u64,
}

/// Draws this request's values; `index` is the request's place on its connection.
pub(crate) fn draw(c: &Controls<'_>, index: u64) -> Draw {
    match c.seed {
        Some(seed) => draw_with(c, &mut seeded(seed, index)),
        None => crate::rand::with(|rng| draw_with(c, rng)),
    }
}

/// The generator for request `index` under `seed`: SplitMix64 takes any state, so the two are
/// folded into one with a large odd multiplier (Weyl sequence) and the first outputs are
/// already well mixed.
fn seeded(seed: u64, index: u64) -> Rng {
    Rng::seeded(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// Draws in a fixed order (status, delay, size, faults, content), each control consuming its
/// numbers only when given, so a seeded sequence depends on the controls given and nothing else.
fn draw_with(c: &Controls<'_>, rng: &mut Rng) -> Draw {
    let status = c.status.and_then(|w| w.pick(chance(rng)));
    let delay = c.delay.and_then(|d| delay(d, rng));
    let size = c.size.and_then(|w| w.pick(chance(rng)));
    let mut fault = None;
    let mut roll = |ppm: Ppm, f: Fault| {
        // Every given fault rolls, so adding one does not shift the others' draws.
        let hit = ppm > 0 && chance(rng) < ppm;
        if hit && fault.is_none() {
            fault = Some(f);
        }
    };
    roll(c.rst, Fault::Rst);
    roll(c.truncate, Fault::Truncate);
    if let Some((at, ppm)) = c.stall {
        roll(ppm, Fault::Stall(at));
    }
    roll(c.close, Fault::Close);
    let content_seed = match c.content {
        Content::Zero => 0,
        Content::Random => rng.next_u64(),
        Content::Seeded => c.seed.unwrap_or(0),
    };
    Draw {
        status,
        delay,
        size,
        fault,
        content_seed,
    }
}

/// A number in `0..ALL`, for a percentage's chance.
fn chance(rng: &mut Rng) -> Ppm {
    (rng.next_u64() % u64::from(ALL)) as Ppm
}

fn delay(d: Delay, rng: &mut Rng) -> Option<Duration> {
    match d {
        Delay::Weighted(w) => w.pick(chance(rng)),
        Delay::Uniform(lo, hi) => {
            let span = (hi - lo).as_nanos() as f64;
            Some(lo + Duration::from_nanos((rng.unit() * span) as u64))
        }
        Delay::Lognormal { mu, sigma } => {
            let seconds = (mu + sigma * normal(rng)).exp();
            // The tail past what a delay may be (the cap is applied where it is used).
            Some(Duration::from_secs_f64(seconds.clamp(0.0, 1e6)))
        }
    }
}

/// A standard normal variate (Box–Muller; one of the pair is enough here).
fn normal(rng: &mut Rng) -> f64 {
    // 1 - unit() lies in (0, 1], so its logarithm is finite.
    let u1 = 1.0 - rng.unit();
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
#[path = "draw_tests.rs"]
mod tests;
