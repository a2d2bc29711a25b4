//! Feeds arbitrary bytes (as UTF-8, lossily) to the Nomad API JSON parser.
//! It must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scheduler_core::jobspec::parse_json;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_json(&text, "fuzz.json");
});
