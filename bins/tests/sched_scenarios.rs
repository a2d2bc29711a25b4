//! Scenario files as the project's own test harness: every
//! `examples/scenarios/*.hcl` is played by the real `sched` binary and its
//! output compared with the snapshot in `bins/tests/snapshots/` (review a
//! change with `git diff`; regenerate with `UPDATE_SNAPSHOTS=1 cargo test
//! --test sched_scenarios`). On top of the snapshots, the JSON output of
//! every scenario is checked for what must hold whatever the snapshot
//! says, and a few stories are checked by their meaning.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sched(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("sched runs")
}

fn scenarios() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("examples/scenarios"))
        .expect("scenario directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".hcl"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "scenarios missing: {names:?}");
    names
}

fn play(name: &str, json: bool) -> String {
    let path = format!("examples/scenarios/{name}");
    let mut args = vec!["simulate", "--scenario", path.as_str(), "--seed", "1"];
    if json {
        args.push("--json");
    }
    let out = sched(&args);
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn report(name: &str) -> Value {
    serde_json::from_str(&play(name, true)).expect("JSON report")
}

#[test]
fn every_scenario_matches_its_snapshot() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut mismatches = Vec::new();
    for name in scenarios() {
        let text = play(&name, false);
        let snapshot = repo()
            .join("bins/tests/snapshots")
            .join(name.replace(".hcl", ".txt"));
        if update {
            std::fs::create_dir_all(snapshot.parent().expect("dir")).expect("snapshot dir");
            std::fs::write(&snapshot, &text).expect("write snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
        if expected != text {
            mismatches.push(format!(
                "{name}: output differs from {}\n--- got ---\n{text}",
                snapshot.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn the_same_seed_replays_byte_for_byte() {
    for name in ["canary.hcl", "reschedule.hcl"] {
        assert_eq!(play(name, true), play(name, true), "{name}");
    }
}

/// Live (desired `run`, not client-terminal) allocations of a job.
fn live<'a>(report: &'a Value, job: &str) -> Vec<&'a Value> {
    report["Allocations"]
        .as_array()
        .expect("allocations")
        .iter()
        .filter(|a| a["JobID"] == job && a["DesiredStatus"] == "run")
        .filter(|a| {
            !matches!(
                a["ClientStatus"].as_str(),
                Some("complete" | "failed" | "lost")
            )
        })
        .collect()
}

#[test]
fn every_story_ends_with_counts_met_and_names_unique() {
    for name in scenarios() {
        let report = report(&name);
        let steps = report["Steps"].as_array().expect("steps");
        assert!(!steps.is_empty(), "{name}");
        for step in steps {
            assert!(step["Step"].is_string() && step["Line"].as_u64().is_some());
        }
        let mut seen = std::collections::BTreeSet::new();
        for alloc in report["Allocations"].as_array().expect("allocations") {
            assert!(seen.insert(alloc["ID"].to_string()), "{name}: duplicate id");
            // System jobs (`agent`) run one `agent.agent[0]` per node.
            if alloc["DesiredStatus"] == "run"
                && alloc["ClientStatus"] == "running"
                && alloc["JobID"] != "agent"
            {
                let key = (alloc["JobID"].clone(), alloc["Name"].clone());
                // Two running allocations share a name only as canaries
                // beside the old version, which no story ends with.
                let twins = report["Allocations"]
                    .as_array()
                    .expect("allocations")
                    .iter()
                    .filter(|a| {
                        (a["JobID"].clone(), a["Name"].clone()) == key
                            && a["DesiredStatus"] == "run"
                            && a["ClientStatus"] == "running"
                    })
                    .count();
                assert_eq!(twins, 1, "{name}: {key:?} runs twice");
            }
        }
    }
}

#[test]
fn a_rolling_update_replaces_at_most_max_parallel_per_step() {
    let report = report("rolling-update.hcl");
    for step in report["Steps"].as_array().expect("steps") {
        if step["Step"] == "plan" {
            continue;
        }
        let replaced = step["Plan"]["Stopped"]
            .as_array()
            .expect("stopped")
            .iter()
            .filter(|s| s["Description"] == "alloc is being updated due to job update")
            .count();
        assert!(replaced <= 2, "max_parallel 2 exceeded: {step}");
    }
    let web = live(&report, "web");
    assert_eq!(web.len(), 4);
    assert!(web.iter().all(|a| a["JobVersion"] == 1));
}

#[test]
fn the_plan_step_prints_the_diff_and_a_check_index_that_register_accepts() {
    let report = report("rolling-update.hcl");
    let steps = report["Steps"].as_array().expect("steps");
    let plan = steps
        .iter()
        .find(|s| s["Step"] == "plan")
        .expect("plan step");
    let diff = plan["Diff"].as_str().expect("diff");
    assert!(diff.contains("forces create/destroy update"), "{diff}");
    assert!(
        diff.contains("\"nginx:1.1.2\" => \"nginx:2.0.0\""),
        "{diff}"
    );
    assert!(plan["CheckIndex"].as_u64().expect("index") > 0);
    // The dry run changed nothing: the next step still starts from v0.
    let text = play("rolling-update.hcl", false);
    assert!(text.contains("check index:"));
}

#[test]
fn canaries_wait_for_promotion_and_blue_green_swaps_everything() {
    let report = report("blue-green.hcl");
    let steps = report["Steps"].as_array().expect("steps");
    let canaries = steps[2]["Plan"]["Placed"].as_array().expect("placed");
    assert_eq!(canaries.len(), 3);
    assert!(canaries.iter().all(|p| p["Canary"] == true));
    assert!(
        steps[3]["Plan"]["Stopped"]
            .as_array()
            .expect("stopped")
            .is_empty()
    );
    assert_eq!(
        steps[4]["Plan"]["Stopped"]
            .as_array()
            .expect("stopped")
            .len(),
        3
    );
    let web = live(&report, "web");
    assert_eq!(web.len(), 3);
    assert!(web.iter().all(|a| a["JobVersion"] == 1));
}

#[test]
fn an_unhealthy_canary_reverts_to_the_stable_version() {
    let report = report("auto-revert.hcl");
    let steps = report["Steps"].as_array().expect("steps");
    let notes = steps[3]["Notes"].to_string();
    assert!(notes.contains("rolling back to job version 0"), "{notes}");
    let web = live(&report, "web");
    assert_eq!(web.len(), 3);
    // Version 2 is version 0's spec: the v0 allocations were updated in
    // place and kept their ids.
    assert!(web.iter().all(|a| a["JobVersion"] == 2));
    let first_ids: Vec<&Value> = steps[0]["Plan"]["Placed"]
        .as_array()
        .expect("placed")
        .iter()
        .map(|p| &p["ID"])
        .collect();
    assert!(web.iter().all(|a| first_ids.contains(&&a["ID"])));
}

#[test]
fn a_failed_allocation_waits_for_its_delay_and_avoids_its_node() {
    let report = report("reschedule.hcl");
    let steps = report["Steps"].as_array().expect("steps");
    let placed = |i: usize| steps[i]["Plan"]["Placed"].as_array().expect("placed").len();
    assert_eq!(placed(2), 0, "nothing before the 30 s delay");
    assert_eq!(placed(3), 0, "still nothing at 29 s");
    assert_eq!(placed(4), 1, "replaced at 30 s");
    let failed_node = &steps[4]["Plan"]["Stopped"][0]["NodeName"];
    assert_ne!(&steps[4]["Plan"]["Placed"][0]["NodeName"], failed_node);
    assert_eq!(placed(6), 1, "second failure: exponential delay of 1 m");
}

#[test]
fn drains_respect_migrate_max_parallel() {
    let report = report("drain.hcl");
    for step in report["Steps"].as_array().expect("steps") {
        let migrated = step["Plan"]["Stopped"]
            .as_array()
            .expect("stopped")
            .iter()
            .filter(|s| s["Description"] == "alloc is being migrated")
            .count();
        assert!(migrated <= 1, "{step}");
    }
    let web = live(&report, "web");
    assert_eq!(web.len(), 6);
    assert!(web.iter().all(|a| a["NodeName"] != "n-0"));
}

#[test]
fn capacity_added_unblocks_a_distinct_hosts_group() {
    let report = report("distinct-hosts.hcl");
    let steps = report["Steps"].as_array().expect("steps");
    assert_eq!(
        steps[0]["Plan"]["FailedTGAllocs"]["cache/cache"]["Unplaced"],
        1
    );
    assert_eq!(steps[1]["Plan"]["Placed"][0]["NodeName"], "big");
    assert_eq!(live(&report, "cache").len(), 4);
}

#[test]
fn a_scenario_error_names_the_step_line() {
    let dir = std::env::temp_dir().join(format!("sched-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.hcl");
    std::fs::write(
        &file,
        "cluster {\n  node \"n\" {\n    drivers = [\"docker\"]\n    resources {\n      cpu = 1000\n      memory = 1024\n      disk = 1000\n    }\n  }\n}\nstep \"promote\" { job = \"nope\" }\n",
    )
    .expect("write");
    let out = sched(&["simulate", "--scenario", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.hcl:11"), "{stderr}");
    assert!(stderr.contains("no job \"nope\""), "{stderr}");
}

#[test]
fn a_stale_check_index_refuses_the_registration() {
    let dir = std::env::temp_dir().join(format!("sched-check-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let scenario = std::fs::read_to_string(repo().join("examples/scenarios/rolling-update.hcl"))
        .expect("scenario")
        .replace("check_index = 2", "check_index = 1")
        .replace(
            "\"jobs/",
            &format!("\"{}/examples/scenarios/jobs/", repo().display()),
        );
    let file = dir.join("stale.hcl");
    std::fs::write(&file, scenario).expect("write");
    let out = sched(&["simulate", "--scenario", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "Enforcing job modify index 1: job exists with conflicting job modify index: 2"
        ),
        "{stderr}"
    );
}
