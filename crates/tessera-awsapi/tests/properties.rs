//! Property tests: decoding never panics on any bytes, encoded forms decode back to what was
//! encoded, written text reads back unchanged, and timestamps sort like the times they show.

use std::collections::BTreeMap;

use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use proptest::prelude::*;
use quick_xml::events::Event;
use quick_xml::name::QName;
use tessera_awsapi::{IAM_NAMESPACE, Params, Response, encode_policy_document, error_response, iso8601};

/// Calls every accessor, as the gateway and the fuzz target do.
fn exercise(params: &Params) {
    let _ = params.action();
    let _ = params.version();
    let _ = params.check_version("2011-06-15");
    for (name, _) in params.iter() {
        let _ = params.required(name);
        let _ = params.int(name);
        let _ = params.bool(name);
        let _ = params.member_path(name);
        let prefix = name.split(".member.").next().unwrap_or(name);
        let _ = params.list(prefix);
        let _ = params.struct_list(prefix, &["Key", "Value", "arn"]);
        for member in params.members(prefix) {
            for (inner, _) in member.iter() {
                let _ = member.list(inner.split(".member.").next().unwrap_or(inner));
                let _ = member.required(inner).map_err(|e| e.message());
            }
        }
    }
}

fn form_encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            format!("{}={}", utf8_percent_encode(name, NON_ALPHANUMERIC), utf8_percent_encode(value, NON_ALPHANUMERIC))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// What [`tessera_awsapi::escape_text`] keeps of `text`: characters XML cannot carry become U+FFFD.
fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'.. => c,
            _ => '\u{FFFD}',
        })
        .collect()
}

/// The unescaped text of the first `<name>` element of `xml`.
fn read_element(xml: &str, name: &str) -> String {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) if start.name() == QName(name) => {
                let raw = reader.read_text(start.name()).expect("element text");
                return quick_xml::escape::unescape(&raw).expect("valid references").into_owned();
            }
            Event::Eof => panic!("no <{name}> in {xml}"),
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_decode_without_panicking(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(params) = Params::parse(&input) {
            exercise(&params);
        }
    }

    #[test]
    fn form_shaped_input_decodes_without_panicking(
        input in "(Action|Version|Tags|Tags\\.member\\.[0-9]{1,2}(\\.(Key|Value))?|A\\.member\\.1\\.B\\.member\\.[0-2]|%[0-9a-fA-Fg]{0,2}|[=&+.]|[a-z]{1,3}|é){0,40}",
    ) {
        if let Ok(params) = Params::parse(input.as_bytes()) {
            exercise(&params);
        }
    }

    #[test]
    fn encoded_pairs_decode_to_the_first_value(pairs in proptest::collection::vec((".{1,12}", ".{0,24}"), 0..16)) {
        let params = Params::parse(form_encode(&pairs).as_bytes()).expect("encoded pairs decode");
        let mut first = BTreeMap::new();
        for (name, value) in &pairs {
            first.entry(name.as_str()).or_insert(value.as_str());
        }
        prop_assert_eq!(params.iter().collect::<BTreeMap<_, _>>(), first);
    }

    #[test]
    fn lists_come_back_in_index_order(values in proptest::collection::btree_map(1u32..200, "[a-z]{0,4}", 0..20)) {
        let pairs: Vec<(String, String)> =
            values.iter().rev().map(|(index, value)| (format!("L.member.{index}"), value.clone())).collect();
        let params = Params::parse(form_encode(&pairs).as_bytes()).expect("decodes");
        let expected: Vec<&str> = values.values().map(String::as_str).collect();
        prop_assert_eq!(params.list("L"), expected);
    }

    #[test]
    fn written_text_reads_back(text in any::<String>()) {
        let mut response = Response::new("GetUser", IAM_NAMESPACE);
        response.el("V", &text);
        let xml = response.finish(&text);
        prop_assert_eq!(read_element(&xml, "V"), xml_safe(&text));
        prop_assert_eq!(read_element(&xml, "RequestId"), xml_safe(&text));

        let error = error_response(IAM_NAMESPACE, "Code", &text, true, "r");
        if !text.is_empty() {
            prop_assert_eq!(read_element(&error, "Message"), xml_safe(&text));
        }
    }

    #[test]
    fn policy_documents_decode_back(document in any::<String>()) {
        let encoded = encode_policy_document(&document);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)), "{}", encoded);
        prop_assert_eq!(percent_decode_str(&encoded).decode_utf8().expect("UTF-8"), document.as_str());
    }

    #[test]
    fn timestamps_sort_like_times(a in -62_167_219_200i64..253_402_300_800, b in -62_167_219_200i64..253_402_300_800) {
        let (x, y) = (iso8601(a), iso8601(b));
        prop_assert_eq!(x.len(), 20);
        prop_assert_eq!(a.cmp(&b), x.cmp(&y));
    }
}
