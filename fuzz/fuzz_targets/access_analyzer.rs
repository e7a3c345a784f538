//! Fuzzes IAM Access Analyzer's inputs: the policy operations' JSON bodies (any bytes give an
//! answer or a 400 `ValidationException`, never a panic), the timestamps the analyzer operations
//! read, and policy generation from arbitrary recorded requests (the generated document is
//! always a policy the engine reads back).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_policy::analysis::api::{Operation, handle};
use tessera_policy::analysis::generate::{Generalize, Observed, generate};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let operation = match selector % 4 {
        0 => Operation::ValidatePolicy,
        1 => Operation::CheckNoNewAccess,
        2 => Operation::CheckAccessNotGranted,
        _ => Operation::CheckNoPublicAccess,
    };
    let text = String::from_utf8_lossy(body);
    if let Err(error) = handle(operation, &text, body, "123456789012") {
        assert_eq!((error.code, error.status), ("ValidationException", 400), "{error}");
    }
    let _ = tessera_awsapi::parse_iso8601_millis(&text);
    // Lines of `action resource` as recorded requests.
    let observed: Vec<Observed> = text
        .lines()
        .take(32)
        .filter_map(|line| line.split_once(' '))
        .map(|(action, resource)| Observed { action: action.to_owned(), resource: resource.to_owned() })
        .collect();
    let level = [Generalize::Exact, Generalize::Prefix, Generalize::ResourceType, Generalize::Any][usize::from(selector >> 6)];
    let existing = [r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#.to_owned()];
    let generated = generate(&observed, level, "arn:aws:iam::123456789012:role/fuzz", &existing);
    assert!(tessera_policy::parse_stored_policy(&generated.policy).is_ok(), "{}", generated.policy);
});
