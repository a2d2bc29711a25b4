//! The README's story on a real `schedd -dev`, with the seed's jobs adapted
//! to this machine (examples/agent): a redis-like server healthy behind its
//! TCP check and found over DNS; myapp's api and web healthy behind HTTP
//! checks; a v2 planned and run with `-check-index` (a stale index is
//! refused), rolling one allocation at a time; a blue/green v3 through
//! canaries and `deployment promote`, ending with only v3; and a killed
//! task process restarted in place.

// Rolling updates are about time: the test polls with a bounded clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::http::{Api, running};
use reqwest::StatusCode;
use serde_json::{Value, json};

use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::JobWrapper;

/// An example job file with variables, as API JSON.
fn example(file: &str, vars: &[(&str, &str)]) -> Value {
    let path = format!("{}/../examples/agent/{file}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).expect("example job");
    let mut options = ParseOptions::new(file);
    options.inputs.vars = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let job = parse(&source, &options).expect("job parses").job;
    serde_json::to_value(JobWrapper { job }).expect("json")
}

/// Allocations of `job` at `version` that the servers want running.
fn wanted(allocs: &Value, version: u64) -> Vec<&Value> {
    allocs
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["JobVersion"] == version && a["DesiredStatus"] == "run")
        .collect()
}

fn healthy(alloc: &Value) -> bool {
    alloc["DeploymentStatus"]["Healthy"] == true
}

/// Waits (bounded) for the job's latest deployment to be `status`.
async fn deployment_reaches(api: &Api, job: &str, status: &str) -> Value {
    api.wait_for(
        &format!("/v1/job/{job}/deployment"),
        &format!("{job}'s deployment {status}"),
        |d| d["Status"] == status,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_story_on_a_dev_agent() {
    let data = tempfile::tempdir().expect("dir");
    let agent = common::dev_agent(data.path());
    let api = Api::new(agent.url.clone());
    api.wait_for("/v1/nodes", "the node", |n| n[0]["Status"] == "ready")
        .await;

    // redis: healthy behind its TCP check, answers PING, found over DNS.
    let (status, body) = api.post("/v1/jobs", &example("redis.nomad.hcl", &[])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    deployment_reaches(&api, "redis", "successful").await;
    let (_, instances, _) = api.get("/v1/service/redis?healthy=true").await;
    let instance = &instances[0];
    let port = instance["Port"].as_u64().expect("port") as u16;
    let mut connection = std::net::TcpStream::connect(("127.0.0.1", port)).expect("redis");
    connection
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    connection.write_all(b"PING\r\n").unwrap();
    let mut answer = [0u8; 7];
    connection.read_exact(&mut answer).expect("an answer");
    assert_eq!(&answer, b"+PONG\r\n");
    let (dns_host, dns_port) = agent.dns.rsplit_once(':').expect("host:port");
    let dig = std::process::Command::new("dig")
        .args([
            &format!("@{dns_host}"),
            "-p",
            dns_port,
            "+short",
            "+time=2",
            "+tries=1",
            "redis.service.consul",
            "SRV",
        ])
        .output()
        .expect("dig (bind9-dnsutils, installed by scripts/setup)");
    let srv = String::from_utf8_lossy(&dig.stdout);
    assert!(srv.contains(&format!(" {port} ")), "dig answered {srv:?}");

    // myapp v1: three allocations, api and web healthy behind HTTP checks.
    let (status, body) = api.post("/v1/jobs", &example("myapp.nomad.hcl", &[])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    deployment_reaches(&api, "myapp", "successful").await;
    let (_, services, _) = api.get("/v1/service/myapp?healthy=true").await;
    assert_eq!(services.as_array().map(Vec::len), Some(6), "{services}");

    // Plan v2: a destructive change, one allocation in the first batch
    // (max_parallel = 1, as Nomad's plan shows it), and the index.
    let v2 = example("myapp.nomad.hcl", &[("version", "v2")]);
    let mut plan = v2.clone();
    plan["Diff"] = json!(true);
    let (_, planned) = api.post("/v1/job/myapp/plan", &plan).await;
    let updates = &planned["Annotations"]["DesiredTGUpdates"]["myapp"];
    assert_eq!(
        (&updates["DestructiveUpdate"], &updates["Ignore"]),
        (&json!(1), &json!(2)),
        "{updates}"
    );
    assert_eq!(
        planned["Diff"]["TaskGroups"][0]["Tasks"][0]["Annotations"][0],
        "forces create/destroy update"
    );
    let check_index = planned["JobModifyIndex"].as_u64().expect("index");

    // A stale -check-index is refused; the planned one runs v2.
    let mut stale = v2.clone();
    stale["EnforceIndex"] = json!(true);
    stale["JobModifyIndex"] = json!(check_index + 1);
    let (status, refused) = api.post("/v1/jobs", &stale).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{refused}");
    let mut checked = v2;
    checked["EnforceIndex"] = json!(true);
    checked["JobModifyIndex"] = json!(check_index);
    let (status, body) = api.post("/v1/jobs", &checked).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The rolling update: never more than one v2 allocation on its way to
    // healthy, never fewer than two allocations serving.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut placed_seen = Vec::new();
    loop {
        let (_, allocs, _) = api.get("/v1/job/myapp/allocations").await;
        let new = wanted(&allocs, 1);
        let unhealthy_new = new.iter().filter(|a| !healthy(a)).count();
        assert!(unhealthy_new <= 1, "max_parallel = 1 broken: {allocs}");
        let serving = wanted(&allocs, 0)
            .iter()
            .filter(|a| a["ClientStatus"] == "running")
            .count()
            + new.iter().filter(|a| healthy(a)).count();
        assert!(serving >= 2, "fewer than two serving: {allocs}");
        if placed_seen.last() != Some(&new.len()) {
            placed_seen.push(new.len());
        }
        if new.len() == 3 && new.iter().all(|a| healthy(a)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rolling update did not finish in 90 s: {allocs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // (The first look may come before the scheduler placed anything.)
    placed_seen.retain(|&placed| placed > 0);
    assert_eq!(placed_seen, [1, 2, 3], "one allocation at a time");
    deployment_reaches(&api, "myapp", "successful").await;

    // Blue/green: three v3 canaries beside v2 until promoted; then only v3.
    let v3 = example(
        "myapp.nomad.hcl",
        &[("version", "v3"), ("canary", "3"), ("max_parallel", "3")],
    );
    let (status, body) = api.post("/v1/jobs", &v3).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deployment = api
        .wait_for("/v1/job/myapp/deployment", "three healthy canaries", |d| {
            d["JobVersion"] == 2
                && d["TaskGroups"]["myapp"]["HealthyAllocs"] == 3
                && d["TaskGroups"]["myapp"]["PlacedCanaries"]
                    .as_array()
                    .is_some_and(|c| c.len() == 3)
        })
        .await;
    let (_, allocs, _) = api.get("/v1/job/myapp/allocations").await;
    assert_eq!(running(&allocs), 6, "blue and green side by side: {allocs}");
    assert_eq!(deployment["Status"], "running");
    let id = deployment["ID"].as_str().unwrap();
    let (status, body) = api
        .post(
            &format!("/v1/deployment/promote/{id}"),
            &json!({"All": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    deployment_reaches(&api, "myapp", "successful").await;
    let allocs = api
        .wait_for("/v1/job/myapp/allocations", "only v3 running", |a| {
            let list = a.as_array().unwrap();
            running(a) == 3
                && list
                    .iter()
                    .filter(|x| x["ClientStatus"] == "running")
                    .all(|x| x["JobVersion"] == 2)
        })
        .await;

    // A task's process killed: the restart policy restarts it in place.
    let alloc = allocs
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ClientStatus"] == "running")
        .expect("a running allocation");
    let alloc_id = alloc["ID"].as_str().unwrap().to_owned();
    let task_dir = data
        .path()
        .join("client/allocs")
        .join(&alloc_id)
        .join("api");
    let killed = kill_processes_in(&task_dir);
    assert_eq!(
        killed, 1,
        "one process (busybox httpd) runs in {task_dir:?}"
    );
    let restarted = api
        .wait_for(
            &format!("/v1/allocation/{alloc_id}"),
            "the task restarted",
            |a| {
                a["TaskStates"]["api"]["Restarts"].as_u64().unwrap_or(0) >= 1
                    && a["TaskStates"]["api"]["State"] == "running"
            },
        )
        .await;
    assert_eq!(restarted["ClientStatus"], "running");

    // Stop everything; every task ends.
    for job in ["myapp", "redis"] {
        let (status, _) = api
            .send(reqwest::Method::DELETE, &format!("/v1/job/{job}"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    api.wait_for("/v1/allocations", "every task stopped", |a| running(a) == 0)
        .await;
}

/// SIGKILLs the processes working in `dir` (the task's own directory) or
/// below it; how many.
fn kill_processes_in(dir: &std::path::Path) -> usize {
    let mut killed = 0;
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        // busybox httpd works in its document root, under the task's dir.
        if std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            killed += 1;
        }
    }
    killed
}
