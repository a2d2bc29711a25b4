//! `sched simulate` as a user runs it: the real binary on the example
//! cluster and job files, its tables, its JSON and its exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sched(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(args)
        .current_dir(repo())
        .env_remove("NOMAD_VAR_version")
        .output()
        .expect("sched runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sched-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("temp file");
    path
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const ASIA: &str = "examples/clusters/asia.hcl";

#[test]
fn seed_jobs_place_on_the_asia_cluster_with_nomad_field_names() {
    let out = sched(&[
        "simulate",
        "--cluster",
        ASIA,
        "--job",
        "examples/jobs/redis.nomad.hcl",
        "--job",
        "examples/jobs/myapp-rolling.nomad.hcl",
        "--seed",
        "7",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    let allocations = report["Allocations"].as_array().expect("Allocations");
    // One redis, twenty myapp.
    assert_eq!(allocations.len(), 21, "{report:#}");
    for alloc in allocations {
        for key in ["ID", "Name", "JobID", "TaskGroup", "NodeID", "NodeName"] {
            assert!(alloc[key].is_string(), "{key} missing in {alloc}");
        }
        let node = alloc["NodeName"].as_str().expect("name");
        assert!(
            node.starts_with("east-") || node.starts_with("northeast-"),
            "{node}"
        );
    }
    let names: Vec<&str> = allocations
        .iter()
        .filter(|a| a["JobID"] == "redis")
        .map(|a| a["Name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["redis.redis[0]"]);
    assert_eq!(report["FailedTGAllocs"], serde_json::json!({}));
    let nodes = report["Nodes"].as_array().expect("Nodes");
    assert_eq!(nodes.len(), 12);
    let used: i64 = nodes
        .iter()
        .map(|n| n["CPU"]["Used"].as_i64().expect("cpu"))
        .sum();
    // redis 500 MHz + 20 x myapp's cpu, all accounted on nodes.
    let asked: i64 = allocations
        .iter()
        .map(|a| a["CPU"].as_i64().expect("cpu"))
        .sum();
    assert_eq!(used, asked);
    assert!(
        nodes
            .iter()
            .all(|n| n["CPU"]["Used"].as_i64() <= n["CPU"]["Total"].as_i64())
    );

    // Same seed, same bytes.
    let again = sched(&[
        "simulate",
        "--cluster",
        ASIA,
        "--job",
        "examples/jobs/redis.nomad.hcl",
        "--job",
        "examples/jobs/myapp-rolling.nomad.hcl",
        "--seed",
        "7",
        "--json",
    ]);
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn failures_are_explained_and_exit_2() {
    let job = temp_file(
        "huge.nomad.hcl",
        r#"
job "huge" {
  datacenters = ["asia-*"]
  group "db" {
    count = 3
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }
    task "pg" {
      driver = "docker"
      config { image = "postgres" }
      resources {
        cpu    = 500
        memory = 20000
      }
    }
  }
}
"#,
    );
    let job = job.display().to_string();
    let out = sched(&["simulate", "--cluster", ASIA, "--job", &job, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let report = json(&out);
    let failure = &report["FailedTGAllocs"]["huge/db"];
    assert_eq!(failure["NodesEvaluated"], 12, "{failure:#}");
    assert_eq!(failure["NodesExhausted"], 12);
    assert_eq!(failure["DimensionExhausted"]["memory"], 12);
    assert_eq!(failure["CoalescedFailures"], 2);
    for key in ["NodesFiltered", "ClassFiltered", "ConstraintFiltered"] {
        assert!(!failure[key].is_null(), "{key} missing");
    }
    let explanation = failure["Explanation"].as_str().expect("Explanation");
    assert!(
        explanation.contains("12 exhausted (12 × memory)"),
        "{explanation}"
    );

    // The tables say the same, and --why-not names the node's reasons.
    let out = sched(&[
        "simulate",
        "--cluster",
        ASIA,
        "--job",
        &job,
        "--why-not",
        "east-0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Placement failures"), "{text}");
    assert!(text.contains("huge/db: 3 unplaced"), "{text}");
    assert!(text.contains("memory exhausted"), "{text}");
    let header = text
        .lines()
        .find(|l| l.starts_with("Name "))
        .expect("table header");
    assert!(
        header.contains("Node") && header.contains("Score"),
        "{header}"
    );
}

#[test]
fn bad_cluster_files_are_located_and_exit_1() {
    let cluster = temp_file(
        "bad.hcl",
        "node \"a\" {\n  resources {\n    cpu = 1000\n    memroy = 512\n    disk = 100\n  }\n}\n",
    );
    let cluster = cluster.display().to_string();
    let out = sched(&[
        "simulate",
        "--cluster",
        &cluster,
        "--job",
        "examples/jobs/redis.nomad.hcl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.hcl:4:5"), "{stderr}");
    assert!(stderr.contains("memory"), "did-you-mean expected: {stderr}");
}

#[test]
fn every_example_cluster_simulates() {
    let mut clusters: Vec<String> = std::fs::read_dir(repo().join("examples/clusters"))
        .expect("examples/clusters")
        .flatten()
        .map(|e| format!("examples/clusters/{}", e.file_name().to_string_lossy()))
        .collect();
    clusters.sort();
    assert!(clusters.len() >= 3, "{clusters:?}");
    for cluster in &clusters {
        let out = sched(&[
            "simulate",
            "--cluster",
            cluster,
            "--job",
            "examples/jobs/redis.nomad.hcl",
            "--json",
        ]);
        // Placed (0) or explained (2): never a crash or a parse error.
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{cluster}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let report = json(&out);
        assert!(
            report["Nodes"].as_array().is_some_and(|n| !n.is_empty()),
            "{cluster}"
        );
    }
}
