//! Timestamps and request IDs in AWS's formats, from inputs the caller supplies (this crate reads
//! no clock and draws no random numbers).
//!
//! IAM and STS write timestamps as ISO 8601 in UTC with whole seconds (`2026-11-23T10:00:00Z`:
//! `CreateDate`, `Expiration`), and request IDs as lowercase UUIDs.

/// `0000-01-01T00:00:00Z` in Unix seconds: the earliest time with a four-digit year.
const MIN_SECONDS: i64 = -62_167_219_200;
/// `9999-12-31T23:59:59Z` in Unix seconds: the latest time with a four-digit year.
const MAX_SECONDS: i64 = 253_402_300_799;

/// `unix_seconds` as `YYYY-MM-DDThh:mm:ssZ`. Times outside years 0000–9999 are clamped to that
/// range, so the output is always valid ISO 8601 of fixed width.
pub fn iso8601(unix_seconds: i64) -> String {
    let seconds = unix_seconds.clamp(MIN_SECONDS, MAX_SECONDS);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // Written digit by digit: every response with a date writes it, and `format!` with six
    // padded fields cost more than the calendar arithmetic.
    let mut text = String::with_capacity(20);
    let fields = [
        (year, 4, '-'),
        (month, 2, '-'),
        (day, 2, 'T'),
        (second_of_day / 3600, 2, ':'),
        (second_of_day % 3600 / 60, 2, ':'),
        (second_of_day % 60, 2, 'Z'),
    ];
    for (value, width, after) in fields {
        for place in (0..width).rev() {
            let digit = value / 10_i64.pow(place) % 10;
            text.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
        }
        text.push(after);
    }
    text
}

/// `unix_millis` as [`iso8601`], rounded down to the second as AWS writes them.
pub fn iso8601_millis(unix_millis: i64) -> String {
    iso8601(unix_millis.div_euclid(1000))
}

/// Reads `YYYY-MM-DDThh:mm:ss[.fff...]Z` (or `+00:00`), the form [`iso8601`] writes and AWS
/// SDKs send, as Unix milliseconds; `None` for anything else or a time before 1970.
pub fn parse_iso8601_millis(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z').or_else(|| text.strip_suffix("+00:00"))?;
    let (date, clock) = text.split_once('T')?;
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<i64>().ok()).flatten()
    };
    let mut d = date.split('-');
    let (year, month, day) = (number(d.next()?, 4)?, number(d.next()?, 2)?, number(d.next()?, 2)?);
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, "000"));
    let mut t = hms.split(':');
    let (hour, minute, second) = (number(t.next()?, 2)?, number(t.next()?, 2)?, number(t.next()?, 2)?);
    if d.next().is_some() || t.next().is_some() || fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(seconds * 1000 + millis).ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day count from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A request ID in AWS's format (a version 4 UUID such as
/// `c6104cbe-af31-41e0-8154-cbc7ccf896c7`) from 128 random bits; the version and variant bits
/// are overwritten.
pub fn format_request_id(random: u128) -> String {
    let value = (random & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(36);
    for nibble in 0..32u32 {
        if matches!(nibble, 8 | 12 | 16 | 20) {
            id.push('-');
        }
        let digit = (value >> (124 - 4 * nibble)) & 0xF;
        id.push(char::from(HEX[digit as usize]));
    }
    id
}

/// Request IDs for one server, from one random seed and a counter: distinct for 2^64 requests
/// (the low half is a bijection of the counter), looking random as AWS's do, and drawn without
/// a call to the operating system's generator or a shared lock per request. Not secret: a
/// request ID only names a request in answers and audit records.
#[derive(Debug)]
pub struct RequestIds {
    seed: [u64; 2],
    next: std::sync::atomic::AtomicU64,
}

impl RequestIds {
    /// A generator seeded with 128 random bits.
    pub fn new(seed: u128) -> Self {
        Self { seed: [(seed >> 64) as u64, seed as u64], next: std::sync::atomic::AtomicU64::new(0) }
    }

    /// The next request ID.
    pub fn next_id(&self) -> String {
        let count = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let high = mix(count ^ self.seed[0]);
        let low = mix(count.wrapping_add(self.seed[1]));
        format_request_id((u128::from(high) << 64) | u128::from(low))
    }
}

/// SplitMix64's finalizer: a bijection of `u64` that scatters neighbouring inputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_timestamps() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (1, "1970-01-01T00:00:01Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_798_020_000, "2026-12-23T10:00:00Z"),
            (1_795_428_000, "2026-11-23T10:00:00Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (MAX_SECONDS, "9999-12-31T23:59:59Z"),
            (MIN_SECONDS, "0000-01-01T00:00:00Z"),
            (i64::MAX, "9999-12-31T23:59:59Z"),
            (i64::MIN, "0000-01-01T00:00:00Z"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(iso8601(seconds), expected, "{seconds}");
        }
        assert_eq!(iso8601_millis(1_795_428_000_999), "2026-11-23T10:00:00Z");
        assert_eq!(iso8601_millis(-1), "1969-12-31T23:59:59Z");
        assert_eq!(iso8601_millis(i64::MIN), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn every_day_round_trips() {
        // Walk four centuries day by day and check the calendar never skips or repeats a day.
        let (mut year, mut month, mut day) = civil_from_days(-146_097);
        assert_eq!((year, month, day), (1570, 1, 1));
        for days in -146_096..146_097 {
            let next = civil_from_days(days);
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let month_len =
                [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month as usize - 1];
            let expected = if day < month_len {
                (year, month, day + 1)
            } else if month < 12 {
                (year, month + 1, 1)
            } else {
                (year + 1, 1, 1)
            };
            assert_eq!(next, expected, "day {days}");
            (year, month, day) = next;
        }
    }

    #[test]
    fn parses_what_it_writes() {
        for seconds in [0_i64, 1_700_000_000, 1_800_000_123, 951_782_400] {
            assert_eq!(parse_iso8601_millis(&iso8601(seconds)), Some(u64::try_from(seconds).unwrap() * 1000));
        }
        assert_eq!(
            parse_iso8601_millis("2026-01-02T03:04:05.5Z"),
            Some(parse_iso8601_millis("2026-01-02T03:04:05Z").unwrap() + 500)
        );
        for bad in [
            "2026-13-02T03:04:05Z",
            "2026-02-30T00:00:00Z",
            "yesterday",
            "2026-01-02T03:04:05",
            "1969-12-31T23:59:59Z",
            "2026-01-02T03:04:05.Z",
            "+026-01-02T03:04:05Z",
        ] {
            assert_eq!(parse_iso8601_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_request_ids() {
        assert_eq!(format_request_id(0), "00000000-0000-4000-8000-000000000000");
        assert_eq!(format_request_id(u128::MAX), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(format_request_id(0xc6104cbe_af31_11e0_8154_cbc7ccf896c7), "c6104cbe-af31-41e0-8154-cbc7ccf896c7");
    }

    #[test]
    fn request_ids_are_distinct_and_well_formed() {
        let ids = RequestIds::new(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let drawn: std::collections::HashSet<String> = (0..10_000).map(|_| ids.next_id()).collect();
        assert_eq!(drawn.len(), 10_000);
        for id in drawn.iter().take(100) {
            let groups: Vec<&str> = id.split('-').collect();
            assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{id}");
            assert!(groups[2].starts_with('4') && matches!(&groups[3][..1], "8" | "9" | "a" | "b"), "{id}");
        }
        // Another seed, other IDs.
        assert_ne!(RequestIds::new(1).next_id(), RequestIds::new(2).next_id());
    }
}
