//! The byte-level pieces of the canonical request: AWS URI encoding, percent-decoding of query
//! strings, path normalisation, the sorted canonical query string and header value trimming.
//!
//! INVARIANT: the verifier and [`sign`](crate::sign) both call these functions, so a request this
//! crate signs canonicalises the same way when it is verified; the AWS test suite and botocore
//! fixtures pin them to what AWS clients do.

use std::borrow::Cow;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// AWS's unreserved set: `A-Z a-z 0-9 - _ . ~` are never encoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Appends `bytes` to `out`, every byte outside the unreserved set (and `/` if `keep_slash`) as
/// `%XX` with upper-case hex.
pub(crate) fn encode_into(out: &mut String, bytes: &[u8], keep_slash: bool) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            continue;
        }
        // Runs of unreserved bytes are ASCII, so they are valid UTF-8 on their own.
        out.push_str(std::str::from_utf8(&bytes[start..i]).unwrap_or_default());
        out.push('%');
        out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
        out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        start = i + 1;
    }
    out.push_str(std::str::from_utf8(&bytes[start..]).unwrap_or_default());
}

/// `value` URI-encoded the AWS way (unreserved characters literal, everything else `%XX`).
pub fn uri_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    encode_into(&mut out, value.as_bytes(), false);
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one query-string component: `%XX` to its byte, `+` to a space (form encoding, as AWS
/// servers read query strings). A `%` not followed by two hex digits stays literal.
pub(crate) fn decode_component(raw: &str) -> Cow<'_, [u8]> {
    let bytes = raw.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

/// The `(name, value)` pairs of a raw query string, decoded. Empty segments (`a=1&&b=2`) are
/// skipped; a segment without `=` has an empty value.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> {
    query.split('&').filter(|segment| !segment.is_empty()).map(|segment| {
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        (decode_component(name), decode_component(value))
    })
}

/// Appends the canonical URI of a raw request path: dot segments resolved and empty segments
/// dropped (RFC 3986 section 5.2.4 plus AWS's "consecutive slashes"), then every segment
/// URI-encoded. The path is encoded as received, so `%` becomes `%25`: this is the "encode twice"
/// rule every service but S3 follows, and what botocore does (`quote(path, safe='/~')`).
pub(crate) fn canonical_uri(out: &mut String, path: &str) {
    if path.is_empty() || path == "/" {
        out.push('/');
        return;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    if path.starts_with('/') {
        out.push('/');
    }
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode_into(out, segment.as_bytes(), false);
    }
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
}

/// Appends the canonical query string: every parameter decoded and re-encoded, sorted by encoded
/// name then encoded value, `name=value` joined by `&`. `X-Amz-Signature` is left out when
/// `skip_signature` (presigned requests sign everything but their own signature).
pub(crate) fn canonical_query(out: &mut String, query: &str, skip_signature: bool) {
    if query.is_empty() {
        return;
    }
    // All encoded names and values live in one buffer; the pairs are ranges into it.
    let mut buffer = String::with_capacity(query.len() + query.len() / 2);
    let mut pairs: Vec<(usize, usize, usize)> = Vec::new();
    for (name, value) in query_pairs(query) {
        if skip_signature && &*name == b"X-Amz-Signature" {
            continue;
        }
        let start = buffer.len();
        encode_into(&mut buffer, &name, false);
        let middle = buffer.len();
        encode_into(&mut buffer, &value, false);
        pairs.push((start, middle, buffer.len()));
    }
    pairs.sort_unstable_by(|a, b| (&buffer[a.0..a.1], &buffer[a.1..a.2]).cmp(&(&buffer[b.0..b.1], &buffer[b.1..b.2])));
    for (i, &(start, middle, end)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&buffer[start..middle]);
        out.push('=');
        out.push_str(&buffer[middle..end]);
    }
}

/// The whitespace botocore's `' '.join(value.split())` splits on, restricted to ASCII.
fn is_header_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Appends a header value trimmed, with inner runs of whitespace collapsed to one space.
pub(crate) fn push_trimmed(out: &mut String, value: &str) {
    let mut first = true;
    for word in value.split(is_header_space).filter(|word| !word.is_empty()) {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str) -> String {
        let mut out = String::new();
        canonical_uri(&mut out, path);
        out
    }

    fn query(raw: &str, skip: bool) -> String {
        let mut out = String::new();
        canonical_query(&mut out, raw, skip);
        out
    }

    #[test]
    fn encoding_keeps_only_unreserved() {
        assert_eq!(uri_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(uri_encode("a b+c/d=e&f%g*h"), "a%20b%2Bc%2Fd%3De%26f%25g%2Ah");
        assert_eq!(uri_encode("ሴ"), "%E1%88%B4");
        assert_eq!(uri_encode(""), "");
    }

    #[test]
    fn decoding_is_form_decoding_and_lenient() {
        for (raw, decoded) in [
            ("abc", &b"abc"[..]),
            ("a+b", b"a b"),
            ("a%20b", b"a b"),
            ("%2B", b"+"),
            ("%e1%88%B4", "ሴ".as_bytes()),
            ("%", b"%"),
            ("%4", b"%4"),
            ("%zz", b"%zz"),
            ("100%", b"100%"),
            ("%%41", b"%A"),
            ("%00", b"\0"),
        ] {
            assert_eq!(&*decode_component(raw), decoded, "{raw}");
        }
    }

    #[test]
    fn paths_are_normalised_then_encoded() {
        for (raw, canonical) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/../..", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/b/../c/", "/a/c/"),
            ("/example space/", "/example%20space/"),
            ("/%20", "/%2520"),
            ("/a%2Fb", "/a%252Fb"),
            ("/ሴ", "/%E1%88%B4"),
            ("/-._~", "/-._~"),
            ("*", "%2A"),
        ] {
            assert_eq!(uri(raw), canonical, "{raw}");
        }
    }

    #[test]
    fn queries_are_decoded_sorted_and_reencoded() {
        for (raw, canonical) in [
            ("", ""),
            ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
            ("Param1=value2&Param1=Value1", "Param1=Value1&Param1=value2"),
            ("a", "a="),
            ("a=", "a="),
            ("=v", "=v"),
            ("b=1&&a=2&", "a=2&b=1"),
            ("k=a+b", "k=a%20b"),
            ("k=a%2bb", "k=a%2Bb"),
            ("k=%7E~", "k=~~"),
            ("k=%zz", "k=%25zz"),
            ("k=1=2", "k=1%3D2"),
            // Sorting is by encoded bytes: `%` (0x25) before `-` (0x2D) before letters.
            ("a-b=1&a b=2&aa=3", "a%20b=2&a-b=1&aa=3"),
        ] {
            assert_eq!(query(raw, false), canonical, "{raw}");
        }
        assert_eq!(query("X-Amz-Signature=abc&b=1", true), "b=1");
        assert_eq!(query("X-Amz-Signature=abc&b=1", false), "X-Amz-Signature=abc&b=1");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        for (raw, trimmed) in [
            ("value1", "value1"),
            ("  value1  ", "value1"),
            ("\"a   b   c\"", "\"a b c\""),
            ("a\t \tb", "a b"),
            ("", ""),
        ] {
            let mut out = String::new();
            push_trimmed(&mut out, raw);
            assert_eq!(out, trimmed, "{raw:?}");
        }
    }
}
