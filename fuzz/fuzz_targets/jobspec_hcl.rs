//! Feeds arbitrary bytes (as UTF-8, lossily) to the HCL job-spec parser.
//! It must never panic, and every error it reports must have a line and a
//! column.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scheduler_core::jobspec::{ParseOptions, parse};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(diagnostics) = parse(&text, &ParseOptions::new("fuzz.hcl")) {
        for d in diagnostics.errors() {
            assert!(
                d.position.line >= 1 && d.position.column >= 1,
                "unlocated error: {d}"
            );
        }
    }
});
