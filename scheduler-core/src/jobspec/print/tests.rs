//! The printer against the fixture corpus: every job parsed from a real job
//! file prints to HCL that parses back to the same job.

use super::job_to_hcl;
use crate::jobspec::{ParseOptions, Validation, parse};
use std::path::{Path, PathBuf};

fn corpus_files() -> Vec<PathBuf> {
    let dir = std::env::var("SCHED_JOBSPECS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/jobspecs"));
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "hcl" || e == "nomad") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_accepted_fixture_prints_to_hcl_that_parses_back_to_the_same_job() {
    let files = corpus_files();
    assert!(
        files.len() > 150,
        "the fixture corpus is missing (found {} files)",
        files.len()
    );
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap();
        let name = path.display().to_string();
        // Files that need variables or other files, or that the parser
        // itself rejects, are skipped. Jobs that only fail validation
        // (fragments) are printed too: the printer handles any decoded job.
        let options = |name: &str| ParseOptions {
            validation: Validation::ParseOnly,
            ..ParseOptions::new(name)
        };
        let Ok(parsed) = parse(&source, &options(&name)) else {
            continue;
        };
        checked += 1;
        let printed = job_to_hcl(&parsed.job);
        assert_eq!(
            printed,
            job_to_hcl(&parsed.job),
            "{name}: printing is not deterministic"
        );
        match parse(&printed, &options("printed.hcl")) {
            Ok(again) if again.job == parsed.job => {}
            Ok(again) => failures.push(format!(
                "{name}: reads back differently\n{}",
                first_difference(&parsed.job, &again.job, &printed)
            )),
            Err(e) => failures.push(format!(
                "{name}: printed job is rejected:\n{e}\n--- printed:\n{printed}"
            )),
        }
    }
    assert!(checked > 150, "only {checked} fixtures parsed");
    eprintln!("{checked} fixtures print and parse back");
    assert!(
        failures.is_empty(),
        "{} of {checked} fixtures do not round-trip:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The first differing line of the two jobs' JSON, for a readable failure.
fn first_difference(a: &crate::model::Job, b: &crate::model::Job, printed: &str) -> String {
    let a = serde_json::to_string_pretty(a).unwrap();
    let b = serde_json::to_string_pretty(b).unwrap();
    let line = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or(0);
    let context = |text: &str| {
        text.lines()
            .skip(line.saturating_sub(8))
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "expected:\n{}\ngot:\n{}\n--- printed:\n{printed}",
        context(&a),
        context(&b)
    )
}

#[test]
fn strings_with_interpolation_syntax_and_escapes_round_trip() {
    let source = r#"
job "x" {
  meta {
    a = "$${not} %%{this} \"q\" \\ tab\t"
    b = "${attr.kernel.name}"
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      config = {
        command   = "/bin/sh"
        args      = ["-c", "echo $${HOME}"]
        "odd key" = 1
        mount     = [{ type = "bind" }]
        nested    = { "a.b" = [1, 2.5, { "for" = true }], c = null }
      }
      template {
        destination = "local/x"
        data        = <<EOT
line ${NOMAD_ALLOC_ID}
  $${literal}
EOT
      }
    }
  }
}
"#;
    let job = parse(source, &ParseOptions::new("x.hcl")).unwrap().job;
    let printed = job_to_hcl(&job);
    assert!(printed.contains("config = {"), "{printed}");
    let again = parse(&printed, &ParseOptions::new("printed.hcl"))
        .unwrap()
        .job;
    assert_eq!(again, job, "{printed}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Strings made of the characters that matter to HCL's lexer (quotes,
    /// escapes, template openers, newlines, runtime references) read back as
    /// written, as attribute values (quoted or heredoc) and as block labels.
    #[test]
    fn any_string_reads_back_as_written(
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("$".to_owned()),
                proptest::strategy::Just("%".to_owned()),
                proptest::strategy::Just("{".to_owned()),
                proptest::strategy::Just("}".to_owned()),
                proptest::strategy::Just("${attr.a}".to_owned()),
                proptest::strategy::Just("${NOMAD_PORT_x}".to_owned()),
                proptest::strategy::Just("EOT".to_owned()),
                proptest::strategy::Just("\n".to_owned()),
                "[\"\\\\\t\r\u{0}-\u{1f}\u{7f}]",
                "\\PC{0,3}",
            ],
            0..12,
        )
    ) {
        let text: String = parts.concat();
        let source = format!(
            "job \"j\" {{\n  meta {{\n    k = {value}\n  }}\n  group {label} {{\n    task \"t\" {{\n      driver = \"d\"\n      template {{\n        destination = \"x\"\n        data = {data}\n      }}\n    }}\n  }}\n}}\n",
            label = super::writer::quote_label(&format!("g{text}")),
            value = super::writer::string_value(&text),
            data = super::writer::string_value(&format!("t{text}")),
        );
        let job = parse(&source, &ParseOptions::new("x.hcl"))
            .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}\n{source}")))?
            .job;
        proptest::prop_assert_eq!(&job.meta["k"], &text, "{}", source);
        proptest::prop_assert_eq!(&job.task_groups[0].name, &format!("g{text}"), "{}", source);
        proptest::prop_assert_eq!(&job.task_groups[0].tasks[0].templates[0].embedded_tmpl, &format!("t{text}"), "{}", source);
    }
}
