//! Request timestamps without a date library: ISO 8601 basic (`20261123T101500Z`, SigV4's
//! `X-Amz-Date`) and IMF-fixdate (`Mon, 23 Nov 2026 10:15:00 GMT`, the HTTP `Date` fallback),
//! to and from unix seconds.

const SECS_PER_DAY: u64 = 86_400;

/// Unix seconds of an ISO 8601 basic UTC timestamp `yyyymmddThhmmssZ` (exactly that shape, year
/// 1970 or later), or `None`.
pub fn parse_amz_date(value: &str) -> Option<u64> {
    let b = value.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[4..6])?;
    let day = digits(&b[6..8])?;
    let hour = digits(&b[9..11])?;
    let minute = digits(&b[11..13])?;
    let second = digits(&b[13..15])?;
    to_unix(year, month, day, hour, minute, second)
}

/// `yyyymmddThhmmssZ` for unix seconds (the inverse of [`parse_amz_date`]).
pub fn format_amz_date(unix: u64) -> String {
    let days = unix / SECS_PER_DAY;
    let secs = unix % SECS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Unix seconds of an HTTP IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), or `None`. The obsolete
/// RFC 850 and asctime forms are not accepted: no SigV4 client sends them.
pub(crate) fn parse_http_date(value: &str) -> Option<u64> {
    let b = value.as_bytes();
    // "Sun, 06 Nov 1994 08:49:37 GMT" is 29 bytes.
    if b.len() != 29 || &b[3..5] != b", " || b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || &b[25..] != b" GMT" {
        return None;
    }
    if !matches!(&b[0..3], b"Mon" | b"Tue" | b"Wed" | b"Thu" | b"Fri" | b"Sat" | b"Sun") {
        return None;
    }
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let month = MONTHS.iter().position(|m| m[..] == b[8..11])? as u64 + 1;
    let day = digits(&b[5..7])?;
    let year = digits(&b[12..16])?;
    if b[19] != b':' || b[22] != b':' {
        return None;
    }
    let hour = digits(&b[17..19])?;
    let minute = digits(&b[20..22])?;
    let second = digits(&b[23..25])?;
    to_unix(year, month, day, hour, minute, second)
}

fn digits(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0')))
}

fn to_unix(year: u64, month: u64, day: u64, hour: u64, minute: u64, second: u64) -> Option<u64> {
    if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second)
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`), for
/// years from 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    // 719468 is the day number of 1970-01-01 counted from 0000-03-01.
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip() {
        for (text, unix) in [
            ("19700101T000000Z", 0),
            ("20150830T123600Z", 1_440_938_160),
            ("20000229T235959Z", 951_868_799),
            ("20261123T101500Z", 1_795_428_900),
        ] {
            assert_eq!(parse_amz_date(text), Some(unix), "{text}");
            assert_eq!(format_amz_date(unix), text);
        }
        for unix in (0..4_000_000_000u64).step_by(9_999_991) {
            assert_eq!(parse_amz_date(&format_amz_date(unix)), Some(unix));
        }
    }

    #[test]
    fn malformed_amz_dates_are_rejected() {
        for text in [
            "",
            "20150830T123600",
            "20150830T123600z",
            "20150830 123600Z",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20190229T000000Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "19691231T235959Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830T123600Zé",
        ] {
            assert_eq!(parse_amz_date(text), None, "{text}");
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(1_440_938_160));
        assert_eq!(parse_http_date("Mon, 09 Sep 2011 23:36:00 GMT"), parse_amz_date("20110909T233600Z"));
        for text in [
            "Sun, 30 Aug 2015 12:36:00 UTC",
            "Sunday, 30-Aug-15 12:36:00 GMT",
            "Sun Aug 30 12:36:00 2015",
            "Sun, 30 Foo 2015 12:36:00 GMT",
            "Sun, 31 Sep 2015 12:36:00 GMT",
            "Xyz, 30 Aug 2015 12:36:00 GMT",
            "Sun, 30 Aug 2015 12-36-00 GMT",
        ] {
            assert_eq!(parse_http_date(text), None, "{text}");
        }
    }
}
