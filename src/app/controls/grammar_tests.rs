use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn percentages() {
    assert_eq!(percent(b"5"), Ok(50_000));
    assert_eq!(percent(b"5.5"), Ok(55_000));
    assert_eq!(percent(b"0.0001"), Ok(1));
    assert_eq!(percent(b"100"), Ok(ALL));
    assert_eq!(percent(b"true"), Ok(ALL));
    for bad in [
        &b""[..],
        b"101",
        b"-1",
        b"1e2",
        b".5",
        b"5.",
        b"0.00001",
        b"abc",
        b"1000",
    ] {
        let shown = String::from_utf8_lossy(bad);
        if bad == b"5." {
            // A bare trailing dot reads as "5": harmless, and what people type.
            assert_eq!(percent(bad), Ok(50_000), "{shown}");
            continue;
        }
        assert!(percent(bad).is_err(), "{shown}");
    }
}

#[test]
fn weighted_lists() {
    let w = Weighted::parse(b"503:20,429:1", status).unwrap();
    assert_eq!(w.pick(0), Some(503));
    assert_eq!(w.pick(199_999), Some(503));
    assert_eq!(w.pick(200_000), Some(429));
    assert_eq!(w.pick(209_999), Some(429));
    assert_eq!(w.pick(210_000), None, "the rest is as if not given");
    let always = Weighted::parse(b"503", status).unwrap();
    assert_eq!(always.pick(ALL - 1), Some(503));
    assert!(
        Weighted::parse(b"503:60,500:50", status).is_err(),
        "over 100%"
    );
    assert!(Weighted::parse(b"503:20,", status).is_err());
    assert!(
        Weighted::parse(b"99:20", status).is_err(),
        "1xx is no answer"
    );
    assert!(Weighted::parse(b"600", status).is_err());
    let nine = b"200:1,201:1,202:1,203:1,204:1,205:1,206:1,207:1,208:1";
    assert!(Weighted::parse(nine, status).is_err(), "too many entries");
}

#[test]
fn delays() {
    let max = Duration::from_secs(10);
    assert_eq!(
        Delay::parse(b"5ms", max),
        Ok(Delay::Weighted(Weighted::parse(b"5ms", duration).unwrap()))
    );
    assert_eq!(
        Delay::parse(b"5ms..50ms", max),
        Ok(Delay::Uniform(ms(5), ms(50)))
    );
    assert!(Delay::parse(b"50ms..5ms", max).is_err());
    assert!(Delay::parse(b"11s", max).is_err(), "over --max-duration");
    assert!(Delay::parse(b"1ms..11s", max).is_err());
    let Ok(Delay::Lognormal { mu, sigma }) = Delay::parse(b"lognormal:p50=5ms,p99=200ms", max)
    else {
        panic!("a lognormal");
    };
    assert!((mu.exp() - 0.005).abs() < 1e-9, "the median is p50");
    let p99 = (mu + 2.326_347_874 * sigma).exp();
    assert!((p99 - 0.2).abs() < 1e-6, "p99 lands at 200 ms: {p99}");
    for bad in [
        &b"lognormal:p50=5ms"[..],
        b"lognormal:p99=5ms",
        b"lognormal:p50=5ms,p99=1ms",
        b"lognormal:p50=0ms,p99=1ms",
        b"lognormal:p50=5ms,p42=9ms",
        b"lognormal:",
    ] {
        assert!(
            Delay::parse(bad, max).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn sizes_and_headers() {
    assert_eq!(size(b"1k"), Ok(1024));
    assert_eq!(size(b"1m"), Ok(1 << 20));
    assert!(size(b"1x").is_err());
    assert_eq!(header(b"X-A: b c"), Ok((&b"X-A"[..], &b"b c"[..])));
    assert_eq!(header(b"X-Time:12:30"), Ok((&b"X-Time"[..], &b"12:30"[..])));
    assert!(header(b"X-A").is_err());
    assert!(header(b":v").is_err());
    assert!(header(b"X A:v").is_err());
    assert!(
        header(b"X-A:v\r\nSet-Cookie: x").is_err(),
        "no header splitting"
    );
    assert!(header(b"Content-Length:0").is_err());
    assert!(header(b"transfer-encoding:chunked").is_err());
}
