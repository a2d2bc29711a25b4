//! Properties of job specs, checked on generated jobs and on mutated real
//! job files:
//! - generated jobs are valid and canonical;
//! - HCL round trip: parsing a printed job gives back the job;
//! - JSON round trip: serialising and deserialising (also through
//!   `parse_json`) gives back the job, and the bytes are stable;
//! - no input, however broken, makes the parsers panic, and every error
//!   they report has a line and a column.
//!
//! Needs the `testing` feature (`cargo test --all-features`).

#![cfg(feature = "testing")]

use proptest::prelude::*;
use scheduler_core::jobspec::print::job_to_hcl;
use scheduler_core::jobspec::{Diagnostics, ParseOptions, parse, parse_json};
use scheduler_core::model::Job;
use scheduler_core::model::validate::validate_job;
use scheduler_core::testing::arb_job;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `cases` cases (kept small enough for debug builds), unless
/// `PROPTEST_CASES` asks for a deeper run.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Generated jobs are large; shrinking a failure to a small job is
        // worth more steps than the default.
        max_shrink_iters: 4096,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The errors of `diagnostics` that have no line or column.
fn unlocated(diagnostics: &Diagnostics) -> Vec<String> {
    diagnostics
        .errors()
        .filter(|d| d.position.line < 1 || d.position.column < 1)
        .map(ToString::to_string)
        .collect()
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn generated_jobs_are_valid_and_canonical(job in arb_job()) {
        let errors: Vec<_> = validate_job(&job).into_iter().filter(|p| !p.warning).collect();
        prop_assert!(errors.is_empty(), "generated job is invalid: {errors:?}");
        let mut again = job.clone();
        again.canonicalize();
        prop_assert_eq!(again, job);
    }

    #[test]
    fn printed_jobs_parse_back_to_the_same_job(job in arb_job()) {
        let printed = job_to_hcl(&job);
        let parsed = parse(&printed, &ParseOptions::new("printed.hcl"))
            .map_err(|e| TestCaseError::fail(format!("printed job rejected:\n{e}\n--- printed:\n{printed}")))?;
        prop_assert_eq!(&parsed.job, &job, "printed:\n{}", printed);
        prop_assert_eq!(job_to_hcl(&parsed.job), printed);
    }

    #[test]
    fn json_round_trips_exactly(job in arb_job()) {
        let text = serde_json::to_string(&job).unwrap();
        let back: Job = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &job);
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), text.clone());

        let wrapped = format!("{{\"Job\":{text}}}");
        for source in [&text, &wrapped] {
            let parsed = parse_json(source, "job.json")
                .map_err(|e| TestCaseError::fail(format!("parse_json rejected a valid job:\n{e}")))?;
            prop_assert_eq!(&parsed.job, &job);
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = parse(&text, &ParseOptions::new("fuzz.hcl")) {
            prop_assert!(unlocated(&e).is_empty(), "{e}");
        }
        let _ = parse_json(&text, "fuzz.json");
    }

    #[test]
    fn arbitrary_hcl_like_text_never_panics_the_parsers(
        text in proptest::string::string_regex(
            r#"(job|group|task|\{|\}|\[|\]|"|=|\$\{|%\{|var\.|local\.|[a-z_]{1,6}|[0-9.]{1,4}|\n|<<EOT\n|EOT| |\(|\)|,|\?|:|for |in |=>|\.\.\.)*"#
        ).unwrap()
    ) {
        if let Err(e) = parse(&text, &ParseOptions::new("fuzz.hcl")) {
            prop_assert!(unlocated(&e).is_empty(), "{e}");
        }
        let _ = parse_json(&text, "fuzz.json");
    }
}

/// The accepted job files of the fixture corpus (beside the repository).
fn fixtures() -> &'static [(String, String)] {
    static FIXTURES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = std::env::var("SCHED_JOBSPECS")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/jobspecs")
            });
        let mut files = Vec::new();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for path in std::fs::read_dir(&d)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
            {
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "hcl" || e == "nomad") {
                    files.push((
                        path.display().to_string(),
                        std::fs::read_to_string(&path).unwrap_or_default(),
                    ));
                }
            }
        }
        files.sort();
        assert!(
            files.len() > 150,
            "the fixture corpus is missing (found {} files)",
            files.len()
        );
        files
    })
}

/// One edit of a file: a byte range or a line deleted, duplicated or swapped.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteBytes(usize, usize),
    DuplicateBytes(usize, usize),
    SwapBytes(usize, usize, usize),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, &'static str),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>;
    let length = || 1_usize..40;
    let inserted = proptest::sample::select(vec![
        "{",
        "}",
        "\"",
        "${",
        "%{",
        "\n",
        "=",
        "[",
        "<<EOT\n",
        "\u{0}",
        "é",
        "dynamic \"x\" {",
    ]);
    prop_oneof![
        (at(), length()).prop_map(|(a, n)| Mutation::DeleteBytes(a, n)),
        (at(), length()).prop_map(|(a, n)| Mutation::DuplicateBytes(a, n)),
        (at(), at(), length()).prop_map(|(a, b, n)| Mutation::SwapBytes(a, b, n)),
        at().prop_map(Mutation::DeleteLine),
        at().prop_map(Mutation::DuplicateLine),
        (at(), at()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (at(), inserted).prop_map(|(a, s)| Mutation::Insert(a, s)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let len = bytes.len().max(1);
    let range = |at: usize, n: usize| {
        let start = at % len;
        start.min(bytes.len())..(start + n).min(bytes.len())
    };
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let lines_len = lines.len().max(1);
    match mutation {
        Mutation::DeleteBytes(at, n) => {
            bytes.drain(range(*at, *n));
        }
        Mutation::DuplicateBytes(at, n) => {
            let r = range(*at, *n);
            let copy = bytes[r.clone()].to_vec();
            bytes.splice(r.end..r.end, copy);
        }
        Mutation::SwapBytes(a, b, n) => {
            let (first, second) = (range(*a, *n), range(*b, *n));
            if first.end <= second.start || second.end <= first.start {
                let (x, y) = if first.start < second.start {
                    (first, second)
                } else {
                    (second, first)
                };
                let mut out = bytes[..x.start].to_vec();
                out.extend_from_slice(&bytes[y.clone()]);
                out.extend_from_slice(&bytes[x.end..y.start]);
                out.extend_from_slice(&bytes[x.clone()]);
                out.extend_from_slice(&bytes[y.end..]);
                bytes = out;
            }
        }
        Mutation::DeleteLine(at) if !lines.is_empty() => {
            lines.remove(at % lines_len);
            return lines.concat();
        }
        Mutation::DuplicateLine(at) if !lines.is_empty() => {
            let i = at % lines_len;
            lines.insert(i, lines[i]);
            return lines.concat();
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => {
            lines.swap(a % lines_len, b % lines_len);
            return lines.concat();
        }
        Mutation::Insert(at, s) => {
            let i = at % len;
            bytes.splice(i.min(bytes.len())..i.min(bytes.len()), s.bytes());
        }
        _ => {}
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn mutated_fixtures_never_panic_and_errors_are_located(
        index in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(arb_mutation(), 1..4),
    ) {
        let (name, original) = index.get(fixtures());
        let mut text = original.clone();
        for mutation in &mutations {
            text = apply(&text, mutation);
        }
        if let Err(e) = parse(&text, &ParseOptions::new(name.clone())) {
            prop_assert!(unlocated(&e).is_empty(), "unlocated error in mutated {name}:\n{e}\n--- text:\n{text}");
            prop_assert!(e.has_errors(), "rejected without an error: {e}");
        }
    }
}
