//! `sched job validate|inspect` as a user runs them: the real binary, real
//! files, exit codes and output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sched(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(args)
        .env_remove("NOMAD_VAR_version")
        .output()
        .expect("sched runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn examples() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("examples/jobs"))
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .filter(|p| p.ends_with(".hcl"))
        .collect();
    files.sort();
    files
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sched-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn every_example_job_validates() {
    let files = examples();
    assert!(files.len() >= 6, "examples: {files:?}");
    let mut args = vec!["job", "validate"];
    args.extend(files.iter().map(String::as_str));
    let out = sched(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with("is valid")).count(),
        files.len(),
        "{stdout}"
    );
}

#[test]
fn invalid_files_exit_1_with_located_errors_and_valid_ones_still_report() {
    let bad = temp_file(
        "bad.hcl",
        "job \"web\" {\n  group \"g\" {\n    count = -1\n    task \"t\" {\n      drivr = \"exec\"\n    }\n  }\n}\n",
    );
    let good = repo().join("examples/jobs/redis.nomad.hcl");
    let out = sched(&[
        "job",
        "validate",
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let bad_name = bad.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{bad_name}:5:7: error: unsupported argument \"drivr\"; did you mean \"driver\"?"
        )),
        "{stderr}"
    );
    assert!(stderr.lines().all(|l| l.starts_with(&bad_name)), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("job \"redis\" is valid"));
}

#[test]
fn variables_come_from_single_dash_flags_files_and_environment() {
    let job = repo().join("examples/jobs/myapp.nomad.hcl");
    let job = job.to_str().unwrap();
    let image = |out: &Output| -> String {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        image(&sched(&["job", "inspect", job])),
        "myorg/myapp:v1.1.2"
    );
    assert_eq!(
        image(&sched(&["job", "inspect", "-var", "version=v2.0.0", job])),
        "myorg/myapp:v2.0.0"
    );
    let var_file = temp_file("vars.hcl", "version = \"v3\"\n");
    assert_eq!(
        image(&sched(&[
            "job",
            "inspect",
            "-var-file",
            var_file.to_str().unwrap(),
            job
        ])),
        "myorg/myapp:v3"
    );
    let from_env = Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(["job", "inspect", job])
        .env("NOMAD_VAR_version", "v4")
        .output()
        .unwrap();
    assert_eq!(image(&from_env), "myorg/myapp:v4");
    let undeclared = sched(&["job", "validate", "-var", "nope=1", job]);
    assert_eq!(undeclared.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&undeclared.stderr).contains("declares no variable \"nope\""));
}

#[test]
fn inspect_prints_the_canonical_job_as_nomad_api_json() {
    let job = repo().join("examples/jobs/redis.nomad.hcl");
    let out = sched(&["job", "inspect", job.to_str().unwrap()]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let job = &json["Job"];
    assert_eq!(job["ID"], "redis");
    assert_eq!(job["Region"], "global");
    assert_eq!(job["Priority"], 50);
    let task = &job["TaskGroups"][0]["Tasks"][0];
    assert_eq!(task["Resources"]["CPU"], 500);
    assert_eq!(task["Resources"]["MemoryMB"], 256);
    assert_eq!(task["KillTimeout"], 5_000_000_000_i64);

    // The output is itself a valid job file for `validate`.
    let json_file = temp_file("redis.json", &String::from_utf8_lossy(&out.stdout));
    let again = sched(&["job", "validate", json_file.to_str().unwrap()]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn help_explains_the_commands() {
    let out = sched(&["job", "validate", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(help.contains("FILE:LINE:COL"), "{help}");
    assert!(help.contains("-var"), "{help}");
}
