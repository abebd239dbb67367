use std::time::Duration;

use super::*;
use crate::app::controls::grammar::Weighted;
use crate::config::ControlOptions;

fn controls() -> Controls<'static> {
    Controls {
        status: Some(Weighted::parse(b"503:20,429:5", super::super::grammar::status).unwrap()),
        delay: Some(Delay::parse(b"lognormal:p50=5ms,p99=200ms", Duration::from_secs(10)).unwrap()),
        close: 100_000,
        seed: Some(42),
        any: true,
        ..Controls::default()
    }
}

#[test]
fn seeded_draws_repeat_and_follow_the_weights() {
    let c = controls();
    let run = || (0..10_000u64).map(|i| draw(&c, i)).collect::<Vec<_>>();
    let first = run();
    assert_eq!(first, run(), "the same seed draws the same sequence");
    let share = |f: &dyn Fn(&Draw) -> bool| first.iter().filter(|d| f(d)).count() as f64 / 1e4;
    let s503 = share(&|d| d.status == Some(503));
    let s429 = share(&|d| d.status == Some(429));
    let close = share(&|d| d.fault == Some(Fault::Close));
    assert!((s503 - 0.20).abs() < 0.015, "503: {s503}");
    assert!((s429 - 0.05).abs() < 0.008, "429: {s429}");
    assert!((close - 0.10).abs() < 0.01, "close: {close}");
    let mut delays: Vec<f64> = first
        .iter()
        .map(|d| d.delay.unwrap().as_secs_f64())
        .collect();
    delays.sort_by(f64::total_cmp);
    let (p50, p99) = (delays[5_000], delays[9_900]);
    assert!((p50 - 0.005).abs() < 0.0005, "p50 {p50}");
    assert!((p99 - 0.2).abs() < 0.04, "p99 {p99}");
    let other = Controls {
        seed: Some(43),
        ..controls()
    };
    assert_ne!(draw(&other, 0), draw(&c, 0), "another seed, other draws");
}

#[test]
fn uniform_stays_in_range() {
    let c = Controls {
        delay: Some(Delay::Uniform(
            Duration::from_millis(5),
            Duration::from_millis(50),
        )),
        seed: Some(1),
        any: true,
        ..Controls::default()
    };
    let lo = Duration::from_millis(5);
    let hi = Duration::from_millis(50);
    let mean = (0..10_000)
        .map(|i| {
            let d = draw(&c, i).delay.unwrap();
            assert!(d >= lo && d <= hi);
            d.as_secs_f64()
        })
        .sum::<f64>()
        / 1e4;
    assert!((mean - 0.0275).abs() < 0.001, "mean {mean}");
}

#[test]
fn faults_take_turns_in_a_fixed_order() {
    let c = Controls {
        rst: 500_000,
        close: 1_000_000,
        seed: Some(7),
        any: true,
        ..Controls::default()
    };
    let draws: Vec<_> = (0..1000).map(|i| draw(&c, i).fault).collect();
    assert!(draws
        .iter()
        .all(|f| matches!(f, Some(Fault::Rst | Fault::Close))));
    let rst = draws.iter().filter(|f| **f == Some(Fault::Rst)).count();
    assert!((400..600).contains(&rst), "{rst}");
    let _ = ControlOptions::default();
}
