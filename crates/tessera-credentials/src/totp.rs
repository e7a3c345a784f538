//! TOTP for virtual MFA devices: RFC 6238 with HMAC-SHA-1, 6 digits and 30-second steps, which
//! is what authenticator apps and AWS virtual MFA devices use.
//!
//! Time is an argument (unix seconds), so tests run on fixed clocks. The seed travels to the user
//! as RFC 4648 base32 or as a QR code of an `otpauth://` URI ([`otpauth_uri`], [`qr_png`]).

use std::fmt;

use ring::hmac;
use tessera_arn::RandomSource;

use crate::{QrError, SeedError};

/// Length of a generated seed in bytes (160 bits, the HMAC-SHA-1 block output size RFC 4226 recommends).
pub const SEED_LEN: usize = 20;

/// The shortest seed accepted (RFC 4226 requires at least 128 bits).
pub const MIN_SEED_LEN: usize = 16;

/// The longest seed accepted.
pub const MAX_SEED_LEN: usize = 64;

/// Seconds per TOTP step.
pub const STEP_SECS: u64 = 30;

/// The largest `window` the verifiers honour (±5 minutes); larger values are clamped, so a
/// misconfigured window cannot turn one check into billions of HMACs.
pub const MAX_WINDOW: u64 = 10;

/// Digits per code.
pub const DIGITS: u32 = 6;

const MODULUS: u32 = 10u32.pow(DIGITS);

/// The secret shared between the service and an authenticator app.
///
/// `Debug` is redacted; the bytes are wiped on drop (best effort).
#[derive(Clone)]
pub struct TotpSeed {
    bytes: Vec<u8>,
}

impl TotpSeed {
    /// A new 20-byte seed drawn from `rng`.
    pub fn generate(rng: &mut (impl RandomSource + ?Sized)) -> TotpSeed {
        let mut bytes = vec![0u8; SEED_LEN];
        rng.fill_bytes(&mut bytes);
        TotpSeed { bytes }
    }

    /// A seed with the given bytes, [`MIN_SEED_LEN`] to [`MAX_SEED_LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Result<TotpSeed, SeedError> {
        if !(MIN_SEED_LEN..=MAX_SEED_LEN).contains(&bytes.len()) {
            return Err(SeedError::Length { len: bytes.len() });
        }
        Ok(TotpSeed { bytes: bytes.to_vec() })
    }

    /// The seed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The seed in RFC 4648 base32: uppercase, unpadded (AWS's `Base32StringSeed` form).
    pub fn to_base32(&self) -> String {
        base32_encode(&self.bytes)
    }

    /// Parses a base32 seed (see [`base32_decode`] for what is accepted).
    pub fn from_base32(text: &str) -> Result<TotpSeed, SeedError> {
        let mut bytes = base32_decode(text).ok_or(SeedError::Base32)?;
        let seed = TotpSeed::from_bytes(&bytes);
        crate::secret::wipe(std::mem::take(&mut bytes));
        seed
    }
}

impl fmt::Debug for TotpSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSeed(***)")
    }
}

impl Drop for TotpSeed {
    fn drop(&mut self) {
        crate::secret::wipe(std::mem::take(&mut self.bytes));
    }
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 with the standard alphabet, uppercase, without `=` padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_ALPHABET[usize::from((buffer >> bits) & 0x1f)]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32_ALPHABET[usize::from((buffer << (5 - bits)) & 0x1f)]));
    }
    out
}

/// Decodes RFC 4648 base32. Lowercase letters and trailing `=` padding are accepted (people
/// copy seeds by hand); anything else outside the alphabet, an impossible length, or non-zero
/// leftover bits (a non-canonical encoding) is `None`.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    // 8 characters carry 5 bytes; a final group of 1, 3 or 6 characters cannot end on a byte.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for byte in text.bytes() {
        let value = match byte.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
            buffer &= (1 << bits) - 1;
        }
    }
    (buffer == 0).then_some(out)
}

/// The RFC 4226 dynamic truncation of HMAC-SHA-1(seed, counter): a 31-bit number whose last
/// digits are the code.
fn truncated(seed: &TotpSeed, counter: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, seed.as_bytes());
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = [mac[offset], mac[offset + 1], mac[offset + 2], mac[offset + 3]];
    u32::from_be_bytes(word) & 0x7fff_ffff
}

/// The HOTP code (RFC 4226, 6 digits) for `counter`; a TOTP code is the HOTP code of a step.
pub fn hotp(seed: &TotpSeed, counter: u64) -> u32 {
    truncated(seed, counter) % MODULUS
}

/// The TOTP step of a unix time: `unix_secs / 30`.
pub fn step(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// The TOTP code shown at `unix_secs`.
pub fn totp_at(seed: &TotpSeed, unix_secs: u64) -> u32 {
    hotp(seed, step(unix_secs))
}

/// A code as the user sees it: 6 digits with leading zeros.
pub fn format_code(code: u32) -> String {
    format!("{:06}", code % MODULUS)
}

/// Parses a code typed by the user: exactly 6 ASCII digits.
pub fn parse_code(text: &str) -> Option<u32> {
    if text.len() != DIGITS as usize || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The counters within `window` (at most [`MAX_WINDOW`]) steps of `now_unix_secs`, oldest first.
fn counters(now_unix_secs: u64, window: u64) -> std::ops::RangeInclusive<u64> {
    let now = step(now_unix_secs);
    let window = window.min(MAX_WINDOW);
    now.saturating_sub(window)..=now.saturating_add(window)
}

/// Checks two consecutive codes, as IAM's `EnableMFADevice` and `ResyncMFADevice` require.
///
/// Finds a counter `c` within `window` steps of `now_unix_secs` with `code1 == hotp(c)` and
/// `code2 == hotp(c + 1)`, and returns `c + 1`, the last counter used: store it as the device's
/// last used counter so that neither code can be replayed through [`verify_code`].
pub fn verify_consecutive(seed: &TotpSeed, code1: u32, code2: u32, now_unix_secs: u64, window: u64) -> Option<u64> {
    counters(now_unix_secs, window).find_map(|c| {
        let next = c.checked_add(1)?;
        (hotp(seed, c) == code1 && hotp(seed, next) == code2).then_some(next)
    })
}

/// Checks one code at sign-in.
///
/// Accepts `code` if it is the code of a counter within `window` steps of `now_unix_secs` that is
/// strictly greater than `last_used_counter` (so a code is accepted once), and returns that
/// counter, which the caller stores as the new last used counter.
pub fn verify_code(
    seed: &TotpSeed,
    code: u32,
    now_unix_secs: u64,
    window: u64,
    last_used_counter: Option<u64>,
) -> Option<u64> {
    counters(now_unix_secs, window)
        .filter(|&c| last_used_counter.is_none_or(|last| c > last))
        .find(|&c| hotp(seed, c) == code)
}

/// The URI an authenticator app reads from the QR code: `otpauth://totp/<device>@<account>?secret=<base32>`,
/// the form AWS uses for virtual MFA devices. Both label parts are percent-encoded, everything
/// but RFC 3986 unreserved characters (so an `@` inside a device name is `%40`).
pub fn otpauth_uri(account: &str, device_name: &str, seed: &TotpSeed) -> String {
    format!("otpauth://totp/{}@{}?secret={}", percent_encode(device_name), percent_encode(account), seed.to_base32())
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Pixels per QR module in [`qr_png`].
pub const QR_MODULE_PX: usize = 4;

/// Light modules around the code in [`qr_png`] (the quiet zone the QR standard requires).
pub const QR_QUIET_ZONE: usize = 4;

/// A QR code of `uri` as a PNG: 1-bit grayscale, [`QR_MODULE_PX`] pixels per module, with a
/// [`QR_QUIET_ZONE`]-module border. Its side is `(modules + 8) * 4` pixels.
pub fn qr_png(uri: &str) -> Result<Vec<u8>, QrError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|_| QrError::TooLong { len: uri.len() })?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QR_QUIET_ZONE) * QR_MODULE_PX;
    let side_u32 = u32::try_from(side).map_err(|_| QrError::TooLong { len: uri.len() })?;
    let row_bytes = side.div_ceil(8);

    // One bit per pixel, most significant bit first, 1 = white (PNG grayscale).
    let mut image = vec![0xffu8; row_bytes * side];
    for y in 0..modules {
        for x in 0..modules {
            if colors[y * modules + x] != qrcode::Color::Dark {
                continue;
            }
            for py in 0..QR_MODULE_PX {
                let row = (y + QR_QUIET_ZONE) * QR_MODULE_PX + py;
                for px in 0..QR_MODULE_PX {
                    let col = (x + QR_QUIET_ZONE) * QR_MODULE_PX + px;
                    image[row * row_bytes + col / 8] &= !(0x80 >> (col % 8));
                }
            }
        }
    }

    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    let mut writer = encoder.write_header().map_err(|error| QrError::Png { reason: error.to_string() })?;
    writer.write_image_data(&image).map_err(|error| QrError::Png { reason: error.to_string() })?;
    writer.finish().map_err(|error| QrError::Png { reason: error.to_string() })?;
    Ok(png_bytes)
}

#[cfg(test)]
mod tests {
    use tessera_arn::SeededRandom;

    use super::*;

    fn rfc_seed() -> TotpSeed {
        TotpSeed::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let seed = rfc_seed();
        for (time, expected8) in [
            (59u64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(truncated(&seed, step(time)) % 100_000_000, expected8, "t = {time}");
            assert_eq!(totp_at(&seed, time), expected8 % 1_000_000, "t = {time}");
            assert_eq!(format_code(totp_at(&seed, time)), format!("{expected8:08}")[2..], "t = {time}");
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp_vectors() {
        let seed = rfc_seed();
        let expected = [755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871, 520_489];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(hotp(&seed, counter as u64), code, "counter {counter}");
        }
    }

    #[test]
    fn base32_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
            let padded = format!("{encoded}{}", "=".repeat((8 - encoded.len() % 8) % 8));
            assert_eq!(base32_decode(&padded).unwrap(), plain.as_bytes(), "{padded}");
            assert_eq!(base32_decode(&encoded.to_ascii_lowercase()).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_encode(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn base32_round_trips_every_length() {
        let mut rng = SeededRandom::new(9);
        for len in 0..70 {
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            let encoded = base32_encode(&bytes);
            assert_eq!(encoded.len(), (len * 8).div_ceil(5));
            assert_eq!(base32_decode(&encoded).unwrap(), bytes, "len {len}");
        }
    }

    #[test]
    fn base32_rejects_garbage() {
        for bad in ["M", "MZX", "MZXW6Y", "MZ1Q", "MZ Q", "MZXQ!", "é", "MZ", "MZXR", "MZXW7"] {
            assert_eq!(base32_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn seeds() {
        let seed = TotpSeed::generate(&mut SeededRandom::new(1));
        assert_eq!(seed.as_bytes().len(), SEED_LEN);
        assert_eq!(seed.to_base32().len(), 32);
        assert_eq!(TotpSeed::from_base32(&seed.to_base32()).unwrap().as_bytes(), seed.as_bytes());
        assert_eq!(format!("{seed:?}"), "TotpSeed(***)");
        assert!(matches!(TotpSeed::from_bytes(&[0; 15]), Err(SeedError::Length { len: 15 })));
        assert!(matches!(TotpSeed::from_bytes(&[0; 65]), Err(SeedError::Length { len: 65 })));
        assert!(matches!(TotpSeed::from_base32("not base32!"), Err(SeedError::Base32)));
        assert!(matches!(TotpSeed::from_base32("MZXW6YTB"), Err(SeedError::Length { len: 5 })));
    }

    #[test]
    fn code_formatting_and_parsing() {
        assert_eq!(format_code(7), "000007");
        assert_eq!(format_code(123_456), "123456");
        assert_eq!(parse_code("000007"), Some(7));
        assert_eq!(parse_code("123456"), Some(123_456));
        for bad in ["", "12345", "1234567", "12345a", "+12345", " 12345", "12 345", "１２３４５６"] {
            assert_eq!(parse_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn consecutive_codes() {
        let seed = rfc_seed();
        let now = 1_234_567_890;
        let s = step(now);
        let (c0, c1, c2) = (hotp(&seed, s), hotp(&seed, s + 1), hotp(&seed, s + 2));

        assert_eq!(verify_consecutive(&seed, c0, c1, now, 1), Some(s + 1));
        // The user generated the codes a step ago.
        let (p0, p1) = (hotp(&seed, s - 1), hotp(&seed, s));
        assert_eq!(verify_consecutive(&seed, p0, p1, now, 1), Some(s));
        // Reversed or non-consecutive pairs fail.
        assert_eq!(verify_consecutive(&seed, c1, c0, now, 1), None);
        assert_eq!(verify_consecutive(&seed, c0, c2, now, 1), None);
        assert_eq!(verify_consecutive(&seed, c0, c0, now, 1), None);
        // Too far in the past for the window.
        let (old0, old1) = (hotp(&seed, s - 5), hotp(&seed, s - 4));
        assert_eq!(verify_consecutive(&seed, old0, old1, now, 1), None);
        assert_eq!(verify_consecutive(&seed, old0, old1, now, 5), Some(s - 4));
    }

    #[test]
    fn single_codes_and_replay() {
        let seed = rfc_seed();
        let now = 2_000_000_000;
        let s = step(now);
        let code = hotp(&seed, s);
        assert_eq!(verify_code(&seed, code, now, 1, None), Some(s));
        // Replaying the same code, or an older one, is rejected once its counter is used.
        assert_eq!(verify_code(&seed, code, now, 1, Some(s)), None);
        assert_eq!(verify_code(&seed, hotp(&seed, s - 1), now, 1, Some(s)), None);
        // The next step's code is still fine, and so is a code after a consecutive enable.
        assert_eq!(verify_code(&seed, hotp(&seed, s + 1), now, 1, Some(s)), Some(s + 1));
        assert_eq!(verify_code(&seed, hotp(&seed, s - 1), now, 1, Some(s - 2)), Some(s - 1));
        // Wrong code, or outside the window.
        assert_eq!(verify_code(&seed, (code + 1) % 1_000_000, now, 0, None), None);
        assert_eq!(verify_code(&seed, hotp(&seed, s + 2), now, 1, None), None);
    }

    #[test]
    fn windows_at_the_edges_of_time_do_not_overflow() {
        let seed = rfc_seed();
        assert_eq!(verify_code(&seed, hotp(&seed, 0), 0, 3, None), Some(0));
        assert_eq!(verify_consecutive(&seed, hotp(&seed, 0), hotp(&seed, 1), 10, u64::MAX), Some(1));
        // A huge window is clamped rather than scanned.
        assert_eq!(verify_code(&seed, 1_000_000, 10, u64::MAX, None), None);
        let last = step(u64::MAX);
        assert_eq!(verify_code(&seed, hotp(&seed, last), u64::MAX, 1, None), Some(last));
    }

    #[test]
    fn otpauth_uri_encodes_the_label() {
        let seed = rfc_seed();
        assert_eq!(
            otpauth_uri("123456789012", "alice-phone", &seed),
            "otpauth://totp/alice-phone@123456789012?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(
            otpauth_uri("my account", "bob+mfa@work", &seed),
            "otpauth://totp/bob%2Bmfa%40work@my%20account?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(percent_encode("é~"), "%C3%A9~");
    }

    #[test]
    fn qr_png_decodes_to_the_expected_image() {
        let uri = otpauth_uri("123456789012", "alice-phone", &TotpSeed::generate(&mut SeededRandom::new(2)));
        let png_bytes = qr_png(&uri).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");

        let modules = qrcode::QrCode::new(uri.as_bytes()).unwrap().width();
        let side = (modules + 8) * 4;
        let mut decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0u8; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width as usize, info.height as usize), (side, side));
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let at = |x: usize, y: usize| pixels[y * info.line_size + x];
        // The quiet zone is white; the top-left finder pattern starts with a dark module at (4, 4),
        // whose ring encloses a light ring at module (5, 5).
        assert_eq!(at(0, 0), 255);
        assert_eq!(at(15, 15), 255);
        assert_eq!(at(16, 16), 0);
        assert_eq!(at(19, 19), 0);
        assert_eq!(at(5 * 4 + 1, 5 * 4 + 1), 255);
        assert_eq!(at(side - 1, side - 1), 255);
    }

    #[test]
    fn qr_png_reports_oversized_input() {
        let error = qr_png(&"x".repeat(5000)).unwrap_err();
        assert!(matches!(error, QrError::TooLong { len: 5000 }), "{error:?}");
    }
}
