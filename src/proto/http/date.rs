//! The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate), formatted at most once a second.

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
fn format(secs: u64) -> [u8; 29] {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
