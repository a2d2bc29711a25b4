//! The Nomad-compatible HTTP API of a real `schedd -dev` agent, exercised
//! by a real HTTP client: a job registered as Nomad's API JSON runs; its
//! allocations, logs, summary and plan read back in Nomad's shapes;
//! `-check-index` refuses a stale index; blocking queries wait and wake;
//! filters, bad input and drains behave as Nomad's do.

// Blocking queries are about time: the test reads the clock to check them.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::http::{Api, job_json, running};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A service job whose tasks print their index and stay up.
const JOB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  group "api" {
    count = 2
    task "srv" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from ${NOMAD_ALLOC_INDEX}; exec sleep 600"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

/// The job as an API client sends it, with `count` instances.
fn job_body(count: u32) -> Value {
    let source = JOB.replace("count = 2", &format!("count = {count}"));
    job_json(&source, "web.nomad.hcl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_agent_serves_nomads_api() {
    let data = tempfile::tempdir().expect("dir");
    let agent = common::dev_agent(data.path());
    let node_id = agent.node_id.clone();
    let api = Api::new(agent.url.clone());
    api.wait_for("/v1/status/leader", "a leader", |leader| {
        leader.as_str().is_some_and(|l| l.starts_with("127.0.0.1:"))
    })
    .await;
    api.wait_for("/v1/nodes", "the client's node", |nodes| {
        nodes[0]["ID"] == node_id.as_str() && nodes[0]["Status"] == "ready"
    })
    .await;

    // Register (Nomad's `POST /v1/jobs`): an evaluation, then allocations.
    let (status, registered) = api.post("/v1/jobs", &job_body(2)).await;
    assert_eq!(status, StatusCode::OK, "{registered}");
    assert_eq!(registered["EvalID"].as_str().map(str::len), Some(36));
    let modify_index = registered["JobModifyIndex"].as_u64().expect("index");
    let allocs = api
        .wait_for("/v1/job/web/allocations", "two running allocations", |a| {
            running(a) == 2
        })
        .await;
    let (_, eval, _) = api
        .get(&format!(
            "/v1/evaluation/{}",
            registered["EvalID"].as_str().unwrap()
        ))
        .await;
    assert_eq!(eval["Status"], "complete", "{eval}");
    let (_, summary, _) = api.get("/v1/job/web/summary").await;
    assert_eq!(summary["Summary"]["api"]["Running"], 2, "{summary}");
    let (_, jobs, _) = api.get("/v1/jobs").await;
    assert_eq!(jobs[0]["Status"], "running");
    assert!(jobs[0]["SubmitTime"].as_i64().unwrap_or(0) > 0, "{jobs}");

    // Each task's output through the logs endpoint, plain and framed.
    let mut outputs = Vec::new();
    for alloc in allocs.as_array().unwrap() {
        let id = alloc["ID"].as_str().unwrap();
        let path = format!("/v1/client/fs/logs/{id}?task=srv&type=stdout&plain=true");
        let text = api
            .wait_for(&path, "the task's output", |body| {
                body.as_str().is_some_and(|t| !t.is_empty())
            })
            .await;
        outputs.push(text.as_str().unwrap().to_owned());
    }
    outputs.sort();
    assert_eq!(outputs, ["hello from 0\n", "hello from 1\n"]);
    let first = allocs[0]["ID"].as_str().unwrap();
    let (_, frame, _) = api
        .get(&format!("/v1/client/fs/logs/{first}?task=srv&type=stdout"))
        .await;
    assert_eq!(frame["File"], "alloc/logs/srv.stdout.0", "{frame}");
    assert!(frame["Data"].as_str().is_some_and(|d| !d.is_empty()));

    // Plan a change: the annotated diff and the check index.
    let mut plan = job_body(3);
    plan["Diff"] = json!(true);
    let (status, planned) = api.post("/v1/job/web/plan", &plan).await;
    assert_eq!(status, StatusCode::OK, "{planned}");
    assert_eq!(planned["JobModifyIndex"], modify_index);
    assert_eq!(
        planned["Annotations"]["DesiredTGUpdates"]["api"]["Place"],
        1
    );
    let count = &planned["Diff"]["TaskGroups"][0]["Fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["Name"] == "Count")
        .cloned()
        .expect("Count in the diff");
    assert_eq!((&count["Old"], &count["New"]), (&json!("2"), &json!("3")));
    // The plan changed nothing.
    assert_eq!(running(&api.get("/v1/job/web/allocations").await.1), 2);

    // `run -check-index`: a stale index is refused, the planned one applies.
    let mut stale = job_body(3);
    stale["EnforceIndex"] = json!(true);
    stale["JobModifyIndex"] = json!(modify_index - 1);
    let (status, refused) = api.post("/v1/jobs", &stale).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        refused
            .as_str()
            .unwrap_or("")
            .contains("conflicting job modify index"),
        "{refused}"
    );
    stale["JobModifyIndex"] = json!(modify_index);
    let (status, applied) = api.post("/v1/job/web", &stale).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    api.wait_for(
        "/v1/job/web/allocations",
        "three running allocations",
        |a| running(a) == 3,
    )
    .await;
    let (_, versions, _) = api.get("/v1/job/web/versions").await;
    assert_eq!(versions["Versions"].as_array().map(Vec::len), Some(2));

    // Bad input: the field path, the parameter, the filter's column.
    let (status, text) = api
        .post(
            "/v1/jobs",
            &json!({"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": "many"}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.as_str().unwrap().contains("Job.TaskGroups[0].Count"),
        "{text}"
    );
    let (status, text, _) = api.get("/v1/jobs?filter=Status%20%3D%3D").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.as_str().unwrap().contains("column"), "{text}");
    let (status, _, _) = api.get("/v1/job/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, matching, _) = api
        .get("/v1/jobs?filter=Status%20%3D%3D%20%22running%22")
        .await;
    let (_, none, _) = api
        .get("/v1/jobs?filter=Status%20%3D%3D%20%22dead%22")
        .await;
    assert_eq!(
        (
            matching.as_array().map(Vec::len),
            none.as_array().map(Vec::len)
        ),
        (Some(1), Some(0))
    );

    // A blocking query waits for its `wait` when nothing changes...
    let (_, _, index) = api.get("/v1/job/web").await;
    let started = Instant::now();
    let (_, _, same) = api.get(&format!("/v1/job/web?index={index}&wait=1s")).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(same, index);
    // ... and wakes as soon as the job changes (the stop below).
    let watch = {
        let http = api.http.clone();
        let url = format!("{}/v1/job/web?index={index}&wait=60s", api.base);
        tokio::spawn(async move {
            let started = Instant::now();
            let response = http.get(url).send().await.expect("blocking GET");
            let index: u64 = response.headers()["X-Nomad-Index"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let body: Value = response.json().await.expect("job");
            (started.elapsed(), index, body)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The client's controls: usage, a signal, a restart in place.
    let (status, stats, _) = api
        .get(&format!("/v1/client/allocation/{first}/stats"))
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert!(
        stats["ResourceUsage"]["MemoryStats"]["RSS"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{stats}"
    );
    let (status, body) = api
        .post(
            &format!("/v1/client/allocation/{first}/signal"),
            &json!({"Task": "srv", "Signal": "SIGNOPE"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api
        .post(
            &format!("/v1/client/allocation/{first}/restart"),
            &json!({"TaskName": "srv"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let restarted = api
        .wait_for(
            &format!("/v1/allocation/{first}"),
            "the restart recorded",
            |a| {
                a["TaskStates"]["srv"]["Restarts"] == 1
                    && a["TaskStates"]["srv"]["State"] == "running"
            },
        )
        .await;
    let events: Vec<&str> = restarted["TaskStates"]["srv"]["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["Type"].as_str())
        .collect();
    assert!(events.contains(&"Restart Signaled"), "{events:?}");

    // Stopping one allocation replaces it.
    let victim = allocs[0]["ID"].as_str().unwrap().to_owned();
    let (status, stopped) = api
        .post(&format!("/v1/allocation/{victim}/stop"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    api.wait_for("/v1/job/web/allocations", "a replacement", |a| {
        running(a) == 3
            && a.as_array()
                .unwrap()
                .iter()
                .any(|x| x["ID"] == victim.as_str() && x["DesiredStatus"] == "stop")
    })
    .await;

    // Draining the only node: one allocation at a time migrates (nowhere to
    // go), then the 1 s deadline stops the rest and the drain completes.
    let (status, drained) = api
        .post(
            &format!("/v1/node/{node_id}/drain"),
            &json!({"DrainSpec": {"Deadline": 1_000_000_000}, "Meta": {"reason": "test"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{drained}");
    let node = api
        .wait_for(
            &format!("/v1/node/{node_id}"),
            "the drain to complete",
            |n| n["DrainStrategy"].is_null() && n["LastDrain"]["Status"] == "complete",
        )
        .await;
    assert_eq!(node["SchedulingEligibility"], "ineligible");
    assert_eq!(running(&api.get("/v1/job/web/allocations").await.1), 0);
    // Eligible again: the job's allocations come back.
    let (status, _) = api
        .post(
            &format!("/v1/node/{node_id}/eligibility"),
            &json!({"Eligibility": "eligible"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    api.wait_for("/v1/job/web/allocations", "allocations placed again", |a| {
        running(a) == 3
    })
    .await;

    // Stop: the blocked query wakes with the stopped job; every task ends.
    let (status, _) = api.send(reqwest::Method::DELETE, "/v1/job/web", None).await;
    assert_eq!(status, StatusCode::OK);
    let (woken_after, woken_index, woken_job) = watch.await.expect("watcher");
    assert!(woken_after < Duration::from_secs(30), "{woken_after:?}");
    assert!(woken_index > index);
    assert_eq!(woken_job["Stop"], true, "{woken_job}");
    api.wait_for("/v1/allocations", "every task stopped", |a| {
        a.as_array()
            .unwrap()
            .iter()
            .all(|x| x["ClientStatus"] != "running")
    })
    .await;
    // Purge (`purge=TRUE`: booleans in any case).
    let (status, _) = api
        .send(reqwest::Method::DELETE, "/v1/job/web?purge=TRUE", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = api.get("/v1/job/web").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Request bodies are size-limited (16 MiB). (A client of its own: the
    // server closes that connection without reading the rest.)
    let huge = format!("{{\"Job\": {{\"ID\": \"{}\"}}}}", "x".repeat(17 << 20));
    let response = reqwest::Client::new()
        .post(format!("{}/v1/jobs", api.base))
        .body(huge)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // The agent and the cluster describe themselves.
    let (_, agent, _) = api.get("/v1/agent/self").await;
    assert_eq!(agent["config"]["Client"]["Enabled"], true);
    let (_, raft, _) = api.get("/v1/operator/raft/configuration").await;
    assert_eq!(raft["Servers"][0]["Leader"], true);
    let (_, metrics, _) = api.get("/v1/metrics").await;
    assert!(metrics["Gauges"].as_array().is_some_and(|g| !g.is_empty()));
}

/// `job_body(count)` as a batch job for a datacenter no node is in: it is
/// stored and versioned, and nothing runs or deploys (no watcher marks a
/// version stable behind the test's back).
fn idle_job_body(count: u32) -> Value {
    let source = JOB
        .replace("count = 2", &format!("count = {count}"))
        .replace(
            "datacenters = [\"dc1\"]",
            "type        = \"batch\"\n  datacenters = [\"nowhere\"]",
        );
    job_json(&source, "idle.nomad.hcl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_versions_are_marked_stable_and_unstable() {
    let data = tempfile::tempdir().expect("dir");
    let agent = common::dev_agent(data.path());
    let api = Api::new(agent.url.clone());
    api.wait_for("/v1/status/leader", "a leader", |leader| {
        leader.as_str().is_some_and(|l| l.starts_with("127.0.0.1:"))
    })
    .await;
    for count in [1, 2] {
        let (status, body) = api.post("/v1/jobs", &idle_job_body(count)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, job, _) = api.get("/v1/job/web").await;
    assert_eq!(job["Version"], 1, "{job}");
    let job_modify_index = job["JobModifyIndex"].clone();

    // Version 0 (not the current one) stable: its entry changes, the job
    // does not. `JobID` may be left out: the path names the job.
    let (status, marked) = api
        .post(
            "/v1/job/web/stable",
            &json!({"JobVersion": 0, "Stable": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{marked}");
    let index = marked["Index"].as_u64().expect("Index");
    let (_, versions, _) = api.get("/v1/job/web/versions").await;
    let flags: Vec<(u64, bool)> = versions["Versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| (v["Version"].as_u64().unwrap(), v["Stable"] == true))
        .collect();
    assert_eq!(flags, [(1, false), (0, true)]);
    assert_eq!(versions["Versions"][1]["ModifyIndex"], index);
    let (_, unchanged, _) = api.get("/v1/job/web").await;
    assert_eq!(unchanged["ModifyIndex"], job["ModifyIndex"]);

    // The current version, stable then unstable again (PUT works too): the
    // job's ModifyIndex is the answer's index; Version and JobModifyIndex
    // stay.
    for stable in [true, false] {
        let (status, marked) = api
            .send(
                reqwest::Method::PUT,
                "/v1/job/web/stable",
                Some(&json!({"JobID": "web", "JobVersion": 1, "Stable": stable})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{marked}");
        let (_, job, header_index) = api.get("/v1/job/web").await;
        assert_eq!(job["Stable"], stable, "{job}");
        assert_eq!(job["ModifyIndex"], marked["Index"], "{job} {marked}");
        assert!(header_index >= marked["Index"].as_u64().unwrap());
        assert_eq!(job["Version"], 1);
        assert_eq!(job["JobModifyIndex"], job_modify_index);
    }
    let (_, versions, _) = api.get("/v1/job/web/versions").await;
    assert_eq!(versions["Versions"][0]["Stable"], false);
    assert_eq!(versions["Versions"][1]["Stable"], true);

    // Unknown version and job: 404; a body naming another job or with a
    // mistyped field: 400 naming it; GET: 405.
    let (status, text) = api
        .post(
            "/v1/job/web/stable",
            &json!({"JobVersion": 7, "Stable": true}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert!(text.as_str().unwrap_or("").contains("version 7"), "{text}");
    let (status, _) = api
        .post(
            "/v1/job/nope/stable",
            &json!({"JobVersion": 0, "Stable": true}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, text) = api
        .post(
            "/v1/job/web/stable",
            &json!({"JobID": "other", "JobVersion": 0, "Stable": true}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (status, text) = api
        .post(
            "/v1/job/web/stable",
            &json!({"JobVersion": "one", "Stable": true}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.as_str().unwrap_or("").contains("JobVersion"), "{text}");
    let (status, _, _) = api.get("/v1/job/web/stable").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespace_query_parameter_places_a_submitted_job() {
    let data = tempfile::tempdir().expect("dir");
    let agent = common::dev_agent(data.path());
    let api = Api::new(agent.url.clone());
    api.wait_for("/v1/status/leader", "a leader", |leader| {
        leader.as_str().is_some_and(|l| l.starts_with("127.0.0.1:"))
    })
    .await;

    // A job that names no namespace (it reads "default") goes where
    // `?namespace=` says, by either registration path.
    let (status, body) = api.post("/v1/jobs?namespace=prod", &idle_job_body(1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, job, _) = api.get("/v1/job/web?namespace=prod").await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["Namespace"], "prod");
    let (status, _, _) = api.get("/v1/job/web").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing in default");
    let (_, evals, _) = api.get("/v1/job/web/evaluations?namespace=prod").await;
    assert_eq!(evals[0]["Namespace"], "prod", "{evals}");
    let (status, body) = api
        .post("/v1/job/web?namespace=prod", &idle_job_body(2))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, job, _) = api.get("/v1/job/web?namespace=prod").await;
    assert_eq!(job["Version"], 1, "{job}");
    // A plan sees the job where the registration put it.
    let mut plan = idle_job_body(2);
    plan["Diff"] = json!(true);
    let (status, planned) = api.post("/v1/job/web/plan?namespace=prod", &plan).await;
    assert_eq!(status, StatusCode::OK, "{planned}");
    assert_eq!(planned["JobModifyIndex"], job["JobModifyIndex"]);

    // As in Nomad's API, the query parameter wins over the job's own
    // namespace; without one, the job's own is used.
    let mut named = idle_job_body(1);
    named["Job"]["ID"] = json!("named");
    named["Job"]["Namespace"] = json!("team-a");
    let (status, body) = api.post("/v1/jobs", &named).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = api.get("/v1/job/named?namespace=team-a").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.post("/v1/jobs?namespace=team-b", &named).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, job, _) = api.get("/v1/job/named?namespace=team-b").await;
    assert_eq!(job["Namespace"], "team-b", "{job}");
    // Not the wildcard.
    let (status, text) = api.post("/v1/jobs?namespace=*", &named).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");

    // `sched job run -namespace`: the flag places a job whose spec names
    // no namespace; a spec's own namespace wins over the flag, as with
    // Nomad's CLI.
    let files = tempfile::tempdir().expect("dir");
    let unnamed = files.path().join("cli.nomad.hcl");
    let source = JOB
        .replace("job \"web\"", "job \"cli\"")
        .replace("[\"dc1\"]", "[\"nowhere\"]");
    std::fs::write(&unnamed, &source).expect("write");
    let spec_named = files.path().join("spec.nomad.hcl");
    std::fs::write(
        &spec_named,
        source.replace(
            "job \"cli\" {",
            "job \"spec\" {\n  namespace = \"from-spec\"",
        ),
    )
    .expect("write");
    for (file, flag) in [(&unnamed, "from-flag"), (&spec_named, "ignored")] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_sched"))
            .args(["job", "run", "-detach", "-namespace", flag])
            .arg(file)
            .env("SCHED_ADDR", &agent.url)
            .env_remove("NOMAD_ADDR")
            .env_remove("NOMAD_NAMESPACE")
            .output()
            .expect("sched runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (status, job, _) = api.get("/v1/job/cli?namespace=from-flag").await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let (status, job, _) = api.get("/v1/job/spec?namespace=from-spec").await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let (status, _, _) = api.get("/v1/job/spec?namespace=ignored").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A batch job's output stays readable after the agent restarts: the
/// restarted client no longer runs the finished allocation, but its logs
/// are still on disk and `alloc logs` reads them (Nomad keeps them until
/// garbage collection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_finished_allocation_survive_an_agent_restart() {
    let data = tempfile::tempdir().expect("dir");
    let source = r#"
job "once" {
  datacenters = ["dc1"]
  type = "batch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo finished ${NOMAD_ALLOC_ID}"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;
    let body = job_json(source, "once.nomad.hcl");
    let alloc_id = {
        let agent = common::dev_agent(data.path());
        let api = Api::new(agent.url.clone());
        let (status, answer) = api.post("/v1/jobs", &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let allocs = api
            .wait_for("/v1/job/once/allocations", "one complete", |allocs| {
                allocs
                    .as_array()
                    .is_some_and(|a| a.len() == 1 && a[0]["ClientStatus"] == "complete")
            })
            .await;
        allocs[0]["ID"].as_str().expect("id").to_owned()
    };
    let agent = common::dev_agent(data.path());
    let api = Api::new(agent.url.clone());
    let path = format!(
        "/v1/client/fs/logs/{}?task=t&type=stdout&plain=true",
        &alloc_id[..8]
    );
    let (status, text, _) = api.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, Value::String(format!("finished {alloc_id}\n")));
}
