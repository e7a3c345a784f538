//! Typed condition values: exact decimals, dates, IP networks, booleans and base64 binaries.
//!
//! Policy values are parsed once when a policy is compiled; request values are parsed when a
//! condition of the matching family looks at them, since a context key carries no fixed type.

use std::cmp::Ordering;
use std::net::IpAddr;

use base64::Engine as _;

/// An exact decimal number: comparisons never lose precision, unlike `f64`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    /// Integer digits without leading zeros.
    int: Box<str>,
    /// Fraction digits without trailing zeros.
    frac: Box<str>,
}

impl Decimal {
    /// Parses `-12.50`, `3`, `+4`, `1e3` (an exponent is applied exactly).
    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], rest[at + 1..].parse::<i32>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((int, frac)) => (int, frac),
            None => (mantissa, ""),
        };
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || exponent.unsigned_abs() > 400
        {
            return None;
        }
        // Shift the decimal point by the exponent over the concatenated digits.
        let digits: String = format!("{int}{frac}");
        let point = int.len() as i64 + i64::from(exponent);
        let (int, frac) = if point <= 0 {
            (String::new(), "0".repeat(point.unsigned_abs() as usize) + &digits)
        } else if point as usize >= digits.len() {
            (digits.clone() + &"0".repeat(point as usize - digits.len()), String::new())
        } else {
            (digits[..point as usize].to_owned(), digits[point as usize..].to_owned())
        };
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let zero = int.is_empty() && frac.is_empty();
        Some(Decimal { negative: negative && !zero, int: int.into(), frac: frac.into() })
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let magnitude = |a: &Decimal, b: &Decimal| {
            a.int.len().cmp(&b.int.len()).then_with(|| a.int.cmp(&b.int)).then_with(|| a.frac.cmp(&b.frac))
        };
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => magnitude(self, other),
            (true, true) => magnitude(other, self),
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A point in time as nanoseconds since the Unix epoch.
pub(crate) type Timestamp = i128;

/// Parses a W3C ISO 8601 date (`2020-01-02`, `2020-01-02T03:04Z`, `2020-01-02T03:04:05.678+01:00`,
/// with or without separators in the time) or epoch seconds (`1577934245`, `1577934245.5`).
pub(crate) fn parse_date(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && !text[1..].contains('-')
    {
        return parse_epoch(text);
    }
    let bytes = text.as_bytes();
    if bytes.len() < 10 || !bytes[..10].is_ascii() || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i64 = digits(&text[0..4])?;
    let month: i64 = digits(&text[5..7])?;
    let day: i64 = digits(&text[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) * 86_400;
    let mut nanos: i128 = 0;
    let rest = &text[10..];
    if !rest.is_empty() {
        let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix('t'))?;
        // The time ends where the zone designator begins.
        let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (time, zone) = rest.split_at(zone_at);
        let (hms, fraction) = match time.split_once('.') {
            Some((hms, fraction)) => (hms, Some(fraction)),
            None => (time, None),
        };
        let parts: Vec<&str> = hms.split(':').collect();
        let (hour, minute, second) = match parts.as_slice() {
            [h, m] => (digits::<i64>(h)?, digits::<i64>(m)?, 0),
            [h, m, s] => (digits::<i64>(h)?, digits::<i64>(m)?, digits::<i64>(s)?),
            _ => return None,
        };
        if hour > 24 || minute > 59 || second > 60 || (hour == 24 && (minute, second) != (0, 0)) {
            return None;
        }
        seconds += hour * 3600 + minute * 60 + second;
        if let Some(fraction) = fraction {
            if fraction.is_empty() || fraction.len() > 9 || parts.len() != 3 {
                return None;
            }
            let value: i128 = digits(fraction)?;
            nanos = value * 10i128.pow(9 - fraction.len() as u32);
        }
        seconds -= zone_offset(zone)?;
    }
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

fn parse_epoch(text: &str) -> Option<Timestamp> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() || int.len() > 18 || frac.len() > 9 {
        return None;
    }
    let seconds: i128 = digits(int)?;
    let nanos: i128 = if frac.is_empty() { 0 } else { digits::<i128>(frac)? * 10i128.pow(9 - frac.len() as u32) };
    let value = seconds * 1_000_000_000 + nanos;
    Some(if negative { -value } else { value })
}

/// The zone designator's offset from UTC, in seconds (`Z`, `+01:00`, `-0530`, `+01`).
fn zone_offset(zone: &str) -> Option<i64> {
    match zone {
        "" | "Z" | "z" => Some(0),
        _ => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let body = &zone[1..];
            if !body.is_ascii() {
                return None;
            }
            let (hours, minutes) = match body.len() {
                2 => (digits::<i64>(body)?, 0),
                4 => (digits::<i64>(&body[..2])?, digits::<i64>(&body[2..])?),
                5 if body.as_bytes()[2] == b':' => (digits::<i64>(&body[..2])?, digits::<i64>(&body[3..])?),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            Some(sign * (hours * 3600 + minutes * 60))
        }
    }
}

fn digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// An IP network: an address and a prefix length. A bare address is a single host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `203.0.113.0/24`, `2001:db8::/32` or a bare address.
    pub(crate) fn parse(text: &str) -> Option<Network> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => digits::<u8>(p).filter(|p| *p <= max)?,
            None => max,
        };
        Some(Network { address, prefix })
    }

    /// Parses a request's address (`203.0.113.9`, `2001:db8::5`). A CIDR block is not an
    /// address: a request comes from one host, so `203.0.113.0/24` as a request value is
    /// mistyped and matches no `IpAddress` value.
    pub(crate) fn parse_address(text: &str) -> Option<Network> {
        if text.contains('/') { None } else { Network::parse(text) }
    }

    /// Whether `other` (an address or a network) lies inside this network.
    pub(crate) fn contains(&self, other: &Network) -> bool {
        if other.prefix < self.prefix {
            return false;
        }
        match (self.address, other.address) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// Parses a boolean condition value: `true` or `false`, in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Decodes standard base64 (padding optional).
pub(crate) fn parse_binary(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn decimals_compare_exactly() {
        assert_eq!(d("1.50"), d("1.5"));
        assert_eq!(d("-0"), d("0.000"));
        assert_eq!(d("1e3"), d("1000"));
        assert_eq!(d("12.5e-1"), d("1.25"));
        assert!(d("9007199254740993") > d("9007199254740992"));
        assert!(d("-2") < d("-1.5"));
        assert!(d("0.1") < d("0.10001"));
        assert!(d("10") > d("9.999"));
        for bad in ["", "abc", "1.2.3", "--1", "1e", ".", "0x10"] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn dates_in_every_accepted_form() {
        let base = parse_date("2020-01-02T03:04:05Z").unwrap();
        assert_eq!(base, 1_577_934_245 * 1_000_000_000);
        assert_eq!(parse_date("1577934245"), Some(base));
        assert_eq!(parse_date("2020-01-02T04:04:05+01:00"), Some(base));
        assert_eq!(parse_date("2020-01-02T03:04:05.5Z"), Some(base + 500_000_000));
        assert_eq!(parse_date("2020-01-02"), Some(1_577_923_200 * 1_000_000_000));
        assert_eq!(parse_date("2020-01-02T03:04Z"), Some(base - 5 * 1_000_000_000));
        assert_eq!(parse_date("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
        for bad in ["yesterday", "2020-13-01", "2020-02-30", "2020-01-02T25:00Z", "2020-01-02X"] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn networks_contain_addresses() {
        let net = Network::parse("203.0.113.0/24").unwrap();
        assert!(net.contains(&Network::parse("203.0.113.9").unwrap()));
        assert!(!net.contains(&Network::parse("203.0.114.9").unwrap()));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(&Network::parse("8.8.8.8").unwrap()));
        let v6 = Network::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(&Network::parse("2001:db8:1::5").unwrap()));
        assert!(!v6.contains(&Network::parse("203.0.113.9").unwrap()));
        assert!(Network::parse("1.2.3.4").unwrap().contains(&Network::parse("1.2.3.4").unwrap()));
        assert!(Network::parse("1.2.3.4/33").is_none());
        assert!(Network::parse("not-an-ip").is_none());
    }
}
