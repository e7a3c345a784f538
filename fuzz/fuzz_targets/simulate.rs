//! Fuzzes the offline simulator with its JSON input: any bytes must give results or an error with
//! one of the simulator's codes, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_policy::simulate_json;

fuzz_target!(|data: &[u8]| {
    // Bytes that are not UTF-8 still reach the simulator, with U+FFFD in place of the bad ones.
    let text = String::from_utf8_lossy(data);
    match simulate_json(&text) {
        Ok(results) => assert!(results["EvaluationResults"].is_array(), "{results}"),
        Err(error) => {
            assert!(matches!(error.code, "InvalidInput" | "MalformedPolicyDocument" | "ValidationError"), "{error}")
        }
    }
});
