//! Fuzzes the Query-protocol form decoder with request bodies: any bytes must decode or fail with
//! a protocol error, never panic; every accessor must hold up on what decodes; and every decoded
//! value must survive being written into an XML response and read back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;
use tessera_awsapi::{IAM_NAMESPACE, Params, Response, STS_VERSION, encode_policy_document, error_response};

/// The unescaped text of the first `<V>` element of `xml`.
fn read_value(xml: &str) -> String {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().expect("the writer produced well-formed XML") {
            Event::Start(start) if start.name().as_ref() == "V" => {
                let raw = reader.read_text(start.name()).expect("element text");
                return quick_xml::escape::unescape(&raw).expect("valid references").into_owned();
            }
            Event::Eof => panic!("no <V> in {xml}"),
            _ => {}
        }
    }
}

fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'.. => c,
            _ => '\u{FFFD}',
        })
        .collect()
}

fn exercise(params: &Params, depth: usize) {
    let _ = params.action();
    let _ = params.version();
    let _ = params.len();
    if let Err(error) = params.check_version(STS_VERSION) {
        assert!(matches!(error.aws_code(), "MissingAction" | "InvalidAction"), "{error}");
    }
    for (name, value) in params.iter() {
        assert_eq!(params.get(name), Some(value));
        assert_eq!(params.required(name), Ok(value));
        if let Err(error) = params.int(name) {
            assert_eq!(error.aws_code(), "MalformedInput", "{error}");
        }
        if let Err(error) = params.bool(name) {
            assert_eq!(error.aws_code(), "MalformedInput", "{error}");
        }
        let _ = params.member_path(name);
        let prefix = name.split(".member.").next().unwrap_or(name);
        let _ = params.list_opt(prefix);
        let _ = params.struct_list(prefix, &["Key", "Value", "arn"]);
        if depth < 3 {
            for member in params.members(prefix) {
                assert!(member.path().starts_with(params.path()));
                exercise(&member, depth + 1);
            }
        }

        let mut response = Response::new("GetUser", IAM_NAMESPACE);
        response.el("V", value);
        assert_eq!(read_value(&response.finish(name)), xml_safe(value));
        let _ = error_response(IAM_NAMESPACE, name, value, true, name);
        let encoded = encode_policy_document(value);
        assert_eq!(percent_encoding::percent_decode_str(&encoded).decode_utf8().as_deref(), Ok(value));
    }
    if let Err(error) = params.required("Missing-Name") {
        assert!(error.message().contains("missing-Name' failed"), "{}", error.message());
    }
}

fuzz_target!(|data: &[u8]| {
    match Params::parse(data) {
        Ok(params) => exercise(&params, 0),
        Err(error) => {
            assert!(matches!(error.aws_code(), "MalformedQueryString" | "InvalidQueryParameter"), "{error}");
            let _ = error.to_xml(IAM_NAMESPACE, "r");
        }
    }
});
