//! Parameters of the httpbin routes: path segments, query values, numbers and durations.

use std::borrow::Cow;
use std::time::Duration;

/// The part of `path` after `prefix` (`/status/` of `/status/418` → `418`), percent-decoded
/// (as go-httpbin's router hands it over).
pub(crate) fn after<'a>(path: &'a [u8], prefix: &[u8]) -> Option<Cow<'a, [u8]>> {
    let rest = path.strip_prefix(prefix)?;
    Some(decoded(rest, false))
}

/// `bytes` percent-decoded (`+` as a space too, in a query); borrowed when there is nothing
/// to decode.
pub(crate) fn decoded(bytes: &[u8], plus_is_space: bool) -> Cow<'_, [u8]> {
    let escaped = bytes.contains(&b'%') || plus_is_space && bytes.contains(&b'+');
    if !escaped {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    crate::http::percent::percent_decode(bytes, plus_is_space, &mut out);
    Cow::Owned(out)
}

/// The first value of query parameter `name`, decoded.
pub(crate) fn query<'a>(query: &'a [u8], name: &[u8]) -> Option<Cow<'a, [u8]>> {
    query.split(|&b| b == b'&').find_map(|pair| {
        let (n, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        (decoded(n, true).as_ref() == name).then(|| decoded(v, true))
    })
}

/// A whole number written in plain decimal digits (an optional `-` where `T` is signed);
/// `None` for anything else (`3.14`, `0x10`, ` 1`, an overflow).
pub(crate) fn int<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A duration as httpbin's clients write one: seconds as a number (`2`, `0.25`), or a number
/// with a unit (`250ms`, `1.5s`, `100us`, `1m`), as Go's `time.ParseDuration` takes them (one
/// unit: `1m30s` is not taken). Negative, not finite or absurd values are `None`.
pub(crate) fn duration(text: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() || number.starts_with('.') && number.len() == 1 {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "ns" => value / 1e9,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    (0.0..1e9)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}

/// A duration as httpbin's `Server-Timing` writes one: milliseconds with two decimals.
pub(crate) fn millis(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        assert_eq!(duration(b"2"), Some(ms(2000)));
        assert_eq!(duration(b"0.25"), Some(ms(250)));
        assert_eq!(duration(b"250ms"), Some(ms(250)));
        assert_eq!(duration(b"1.5s"), Some(ms(1500)));
        assert_eq!(duration(b"1m"), Some(ms(60_000)));
        assert_eq!(duration(b"0"), Some(Duration::ZERO));
        for bad in [
            &b"-1"[..],
            b"",
            b".",
            b"1x",
            b"ms",
            b"1e3",
            b"nan",
            b"1m30s",
        ] {
            assert_eq!(duration(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ints_and_queries() {
        assert_eq!(int::<u16>(b"418"), Some(418));
        assert_eq!(int::<i64>(b"-5"), Some(-5));
        assert_eq!(int::<u64>(b"-5"), None);
        assert_eq!(int::<u16>(b"3.14"), None);
        assert_eq!(int::<u16>(b"+1"), None);
        assert_eq!(int::<u8>(b"256"), None);
        assert_eq!(
            query(b"a=1&seed=%32&b", b"seed").as_deref(),
            Some(&b"2"[..])
        );
        assert_eq!(query(b"a=1&b", b"b").as_deref(), Some(&b""[..]));
        assert_eq!(query(b"a=1", b"c"), None);
        assert_eq!(
            after(b"/base64/a%2Fb", b"/base64/").as_deref(),
            Some(&b"a/b"[..])
        );
    }
}
