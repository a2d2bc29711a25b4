//! Walks the job-spec fixture corpus (`shared/jobspecs`, real job files from
//! Nomad's repository) and checks each file behaves as its README says:
//! files listed in `expected-invalid.txt` are rejected with located errors,
//! every other file parses into a valid job.

use scheduler_core::jobspec::{
    Diagnostics, MemoryFiles, ParseOptions, Validation, VariableInputs, parse,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The corpus lives beside the repository (`../shared/jobspecs`); CI clones
/// the repository with `shared/` next to it. `SCHED_JOBSPECS` overrides.
fn corpus_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SCHED_JOBSPECS") {
        return PathBuf::from(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/jobspecs");
    assert!(
        dir.join("README.md").is_file(),
        "the job-spec corpus is missing at {}: clone the repository next to `shared/`, or set SCHED_JOBSPECS",
        dir.display()
    );
    dir
}

fn job_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
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

fn listed(dir: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Variables some fixtures declare without defaults; Nomad's own tests and
/// end-to-end suites pass them with `-var`, and so do we.
fn inputs_for(relative: &str) -> VariableInputs {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    let vars: &[(&str, &str)] = match name {
        "15_TestParseJob_JobWithFunctionsAndLookups.hcl" => &[("env", "prod")],
        "29_TestParse_VariablesSubmission.hcl" => &[
            ("region", "global"),
            ("pool", "default"),
            ("datacenters", "[\"dc1\", \"dc2\"]"),
            ("ns", "default"),
        ],
        "config_format.nomad.hcl" => &[("format", "json")],
        "service_reversion.nomad" => &[("service", "echo")],
        "docker_config.hcl" | "registry-auths.hcl" => {
            &[("registry_address", "127.0.0.1:5000"), ("user", "root")]
        }
        "disconnect-node.nomad" | "restart-node.nomad" => {
            &[("nodeID", "5b4ba5f0-0000-0000-0000-000000000000")]
        }
        "xyz.hcl" => &[("X", "x"), ("Y", "7"), ("Z", "true")],
        _ => &[],
    };
    VariableInputs {
        vars: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..VariableInputs::default()
    }
}

fn parse_file(
    path: &Path,
    relative: &str,
    inputs: VariableInputs,
    validation: Validation,
) -> Result<scheduler_core::jobspec::ParsedJob, Diagnostics> {
    let source = std::fs::read_to_string(path).unwrap();
    let options = ParseOptions {
        inputs,
        validation,
        ..ParseOptions::new(relative)
    };
    parse(&source, &options)
}

fn check_located(relative: &str, source: &str, diagnostics: &Diagnostics) -> Result<(), String> {
    let lines = source.lines().count().max(1);
    for d in diagnostics.errors() {
        if d.file != relative
            || d.position.line == 0
            || d.position.line > lines + 1
            || d.position.column == 0
        {
            return Err(format!("badly located error in {relative}: {d}"));
        }
        if d.message.trim().is_empty() {
            return Err(format!("empty message in {relative}: {d}"));
        }
    }
    Ok(())
}

#[test]
fn every_fixture_behaves_as_the_corpus_readme_says() {
    let dir = corpus_dir();
    let invalid = listed(&dir, "expected-invalid.txt");
    let needs_context = listed(&dir, "needs-context.txt");
    let files = job_files(&dir);
    assert!(
        files.len() > 150,
        "expected the whole corpus, found {} files",
        files.len()
    );

    let mut failures = Vec::new();
    let mut accepted = 0;
    let mut rejected = 0;
    let mut fully_valid = 0;
    for path in &files {
        let relative = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if needs_context.contains(&relative) {
            continue;
        }
        let source = std::fs::read_to_string(path).unwrap();
        // Nomad's parser fixtures are often fragments (no group, no driver)
        // that only the servers' validation rejects; its end-to-end jobs are
        // complete jobs and must pass full validation too.
        let complete_job = relative.contains("/e2e/");
        let inputs = inputs_for(&relative);
        if invalid.contains(&relative) {
            match parse_file(path, &relative, inputs, Validation::Full) {
                Ok(_) => failures.push(format!("{relative}: accepted, but Nomad rejects it")),
                Err(diagnostics) => {
                    if !diagnostics.has_errors() {
                        failures.push(format!("{relative}: rejected without an error"));
                    }
                    if let Err(e) = check_located(&relative, &source, &diagnostics) {
                        failures.push(e);
                    }
                    rejected += 1;
                }
            }
            continue;
        }
        match parse_file(path, &relative, inputs.clone(), Validation::ParseOnly) {
            Ok(parsed) if parsed.job.id.is_empty() => {
                failures.push(format!("{relative}: parsed to a job without an id"));
            }
            Ok(_) => accepted += 1,
            Err(diagnostics) => failures.push(format!("{relative}: rejected:\n{diagnostics}")),
        }
        if complete_job {
            if let Err(diagnostics) = parse_file(path, &relative, inputs, Validation::Full) {
                failures.push(format!("{relative}: fails full validation:\n{diagnostics}"));
            } else {
                fully_valid += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) misbehave:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        rejected,
        invalid.len(),
        "every expected-invalid file must exist and be rejected"
    );
    assert!(accepted > 150, "accepted only {accepted} files");
    assert!(
        fully_valid > 80,
        "only {fully_valid} end-to-end jobs pass full validation"
    );
}

#[test]
fn file_function_fixture_needs_its_file_and_reads_it_when_given() {
    let dir = corpus_dir();
    for relative in listed(&dir, "needs-context.txt") {
        let path = dir.join(&relative);
        let source = std::fs::read_to_string(&path).unwrap();

        // Without the file: a located error naming the missing file.
        let err = parse_file(
            &path,
            &relative,
            VariableInputs::default(),
            Validation::ParseOnly,
        )
        .expect_err("the file is missing");
        let first = err.errors().next().expect("an error");
        assert!(first.position.line > 1, "{first}");
        assert!(first.message.contains("parse_test.go"), "{first}");
        check_located(&relative, &source, &err).unwrap();

        // With the file supplied: its contents become the value.
        let mut files = MemoryFiles::new();
        files.insert("parse_test.go", "us-east-7");
        let options = ParseOptions {
            files: &files,
            validation: Validation::ParseOnly,
            ..ParseOptions::new(relative.clone())
        };
        let parsed = parse(&source, &options).expect("parses with the file present");
        assert_eq!(parsed.job.region, "us-east-7");
    }
}

#[test]
fn variables_from_every_source_follow_nomads_precedence() {
    let dir = corpus_dir();
    let relative = "nomad/extracted/jobspec2/parse_test/29_TestParse_VariablesSubmission.hcl";
    let source = std::fs::read_to_string(dir.join(relative)).unwrap();
    let inputs = VariableInputs {
        vars: vec![("region".into(), "from-var".into())],
        var_files: vec![(
            "vars.hcl".into(),
            "ns = \"from-file\"\nregion = \"loses-to-var\"\npool = \"loses-to-nothing\"".into(),
        )],
        env: BTreeMap::from([
            ("NOMAD_VAR_pool".to_owned(), "from-env".to_owned()),
            (
                "NOMAD_VAR_datacenters".to_owned(),
                "[\"dc-env\"]".to_owned(),
            ),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ]),
    };
    let options = ParseOptions {
        inputs,
        validation: Validation::ParseOnly,
        ..ParseOptions::new(relative)
    };
    let job = parse(&source, &options).expect("valid").job;
    assert_eq!(job.region, "from-var");
    assert_eq!(job.namespace.as_str(), "from-file");
    // A file value overrides the environment.
    assert_eq!(job.node_pool, "loses-to-nothing");
    assert_eq!(job.datacenters, vec!["dc-env".to_owned()]);
}
