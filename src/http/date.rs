//! HTTP dates (RFC 9110 §5.6.7): the `Date` header value, formatted at most once a second, and
//! the parser for the dates clients send (`If-Modified-Since` and the like), which accepts all
//! three formats the RFC requires a recipient to accept.

use std::time::{SystemTime, UNIX_EPOCH};

/// A cached `Date` value; [`HttpDate::update`] reformats only when the second changes.
#[derive(Debug, Clone)]
pub struct HttpDate {
    secs: u64,
    text: [u8; 29],
}

impl HttpDate {
    pub fn new(now: SystemTime) -> HttpDate {
        let secs = unix_secs(now);
        HttpDate {
            secs,
            text: format(secs),
        }
    }

    /// Reformats if the second changed; returns whether it did.
    pub fn update(&mut self, now: SystemTime) -> bool {
        let secs = unix_secs(now);
        if secs == self.secs {
            return false;
        }
        self.secs = secs;
        self.text = format(secs);
        true
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }
}

fn unix_secs(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for `secs` since the epoch.
pub fn format(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[0..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    let y = year as u32;
    out[12] = b'0' + (y / 1000 % 10) as u8;
    out[13] = b'0' + (y / 100 % 10) as u8;
    two_digits(&mut out[14..16], y % 100);
    two_digits(&mut out[17..19], (rem / 3600) as u32);
    two_digits(&mut out[20..22], (rem / 60 % 60) as u32);
    two_digits(&mut out[23..25], (rem % 60) as u32);
    out
}

fn two_digits(out: &mut [u8], n: u32) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Howard Hinnant's days-to-civil algorithm: (year, month 1..=12, day 1..=31).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const MONTH_NAMES: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Parses an HTTP-date into seconds since the epoch: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
/// GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6
/// 08:49:37 1994`). `None` for anything else, including a date before 1970 and a value holding
/// more than one date: a recipient ignores an invalid date (RFC 9110 §13.1.3).
pub fn parse(value: &[u8]) -> Option<u64> {
    let v = value.trim_ascii();
    let comma = v.iter().position(|&b| b == b',');
    let (day, month, year, time) = match comma {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        Some(3) if v.len() == 29 => {
            let [b' ', d1, d2, b' ', m @ .., b' ', y1, y2, y3, y4, b' ', _, _, b':', _, _, b':', _, _, b' ', b'G', b'M', b'T'] =
                &v[4..]
            else {
                return None;
            };
            let year = digits(&[*y1, *y2, *y3, *y4])?;
            (digits(&[*d1, *d2])?, month_of(m)?, year, &v[17..25])
        }
        // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
        Some(c) if c >= 6 => {
            let rest = &v[c + 1..];
            let [b' ', d1, d2, b'-', m1, m2, m3, b'-', y1, y2, b' ', t @ .., b' ', b'G', b'M', b'T'] =
                rest
            else {
                return None;
            };
            let short = digits(&[*y1, *y2])?;
            let this_year = civil_from_days((unix_secs(SystemTime::now()) / 86_400) as i64).0;
            let year = full_year(short, this_year as u64);
            (digits(&[*d1, *d2])?, month_of(&[*m1, *m2, *m3])?, year, t)
        }
        // asctime: "Sun Nov  6 08:49:37 1994"
        None if v.len() == 24 => {
            let [_, _, _, b' ', m1, m2, m3, b' ', d1, d2, b' ', t @ .., b' ', y1, y2, y3, y4] = v
            else {
                return None;
            };
            let day = if *d1 == b' ' {
                digits(&[*d2])?
            } else {
                digits(&[*d1, *d2])?
            };
            (
                day,
                month_of(&[*m1, *m2, *m3])?,
                digits(&[*y1, *y2, *y3, *y4])?,
                t,
            )
        }
        _ => return None,
    };
    let [h1, h2, b':', n1, n2, b':', s1, s2] = time else {
        return None;
    };
    let (hour, min, sec) = (
        digits(&[*h1, *h2])?,
        digits(&[*n1, *n2])?,
        digits(&[*s1, *s2])?,
    );
    let days_in_month = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || min > 59 || sec > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + min * 60 + sec.min(59))
}

/// A two-digit RFC 850 year that would be more than 50 years ahead is the most recent past
/// year ending in those digits (RFC 9110 §5.6.7); relative to `now_year`.
fn full_year(short: u64, now_year: u64) -> u64 {
    let century = now_year / 100 * 100;
    let year = century + short;
    if year > now_year + 50 {
        year - 100
    } else {
        year
    }
}

fn digits(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

fn month_of(name: &[u8]) -> Option<u64> {
    MONTH_NAMES
        .iter()
        .position(|m| m[..] == *name)
        .map(|i| i as u64 + 1)
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = year as i64 - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_the_three_formats() {
        let t = 784_111_777;
        assert_eq!(parse(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
        assert_eq!(parse(b"Sun Nov  6 08:49:37 1994"), Some(t));
        assert_eq!(parse(b" Sun, 06 Nov 1994 08:49:37 GMT "), Some(t));
        for secs in [0, 951_782_400, 1_795_431_857, 4_102_444_800] {
            assert_eq!(parse(&format(secs)), Some(secs));
        }
    }

    #[test]
    fn rejects_what_is_not_one_date() {
        for bad in [
            &b""[..],
            b"yesterday",
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"Sun, 32 Nov 1994 08:49:37 GMT",
            b"Sun, 29 Feb 1900 08:49:37 GMT",
            b"Sun, 06 Nov 1994 24:49:37 GMT",
            b"Sun, 06 Foo 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1969 08:49:37 GMT",
            b"Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 94 08:49:37 GMT",
            b"1994-11-06T08:49:37Z",
            b"784111777",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn two_digit_years() {
        assert_eq!(full_year(94, 2026), 1994);
        assert_eq!(full_year(26, 2026), 2026);
        assert_eq!(full_year(76, 2026), 2076);
        assert_eq!(full_year(77, 2026), 1977);
    }

    #[test]
    fn known_dates() {
        assert_eq!(&format(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format(1_795_431_857), b"Mon, 23 Nov 2026 11:04:17 GMT");
    }

    #[test]
    fn update_only_on_a_new_second() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let mut d = HttpDate::new(t);
        d.update(t + Duration::from_millis(999));
        assert_eq!(d.as_bytes(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        d.update(t + Duration::from_secs(1));
        assert_eq!(d.as_bytes(), b"Sun, 06 Nov 1994 08:49:38 GMT");
    }
}
