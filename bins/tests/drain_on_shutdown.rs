//! `client { drain_on_shutdown { ... } }` with real processes: one server
//! and two client-only agents. On SIGTERM the client with the block drains
//! its node before it exits (its allocations are replaced on the other
//! client and its tasks stop); the client without it leaves its tasks
//! running, as before.

// Process exits and drains are about time: the test waits with a bounded
// clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::ExitStatus;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::http::{Api, running};
use common::{Agent, AgentWithTasks, free_port, line_starting, spawn_schedd};
use reqwest::StatusCode;
use serde_json::Value;

/// Two allocations, healthy one second after they start. The drainer
/// migrates them one at a time (`migrate`'s default `max_parallel = 1`):
/// the second goes once the first one's replacement, placed outside any
/// deployment, reports healthy by the `migrate` block.
const JOB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  group "g" {
    count = 2
    update {
      min_healthy_time = "1s"
    }
    migrate {
      min_healthy_time = "1s"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 600"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

/// The processes (tasks and their executors) working inside `dir`.
fn processes_under(dir: &std::path::Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            let cwd = std::fs::read_link(entry.path().join("cwd")).ok()?;
            cwd.starts_with(dir).then_some(pid)
        })
        .collect()
}

/// Sends SIGTERM to `agent` and waits (bounded) for it to exit.
fn terminate(agent: &mut Agent, within: Duration) -> (ExitStatus, Duration) {
    let started = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    loop {
        if let Some(status) = agent.0.try_wait().expect("wait") {
            return (status, started.elapsed());
        }
        assert!(
            started.elapsed() < within,
            "schedd did not exit within {within:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Everything the agent wrote on stderr so far (it has exited: the
/// reader thread sees the end of the pipe).
fn stderr_of(lines: &Receiver<String>) -> Vec<String> {
    let mut all = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
        all.push(line);
    }
    all
}

/// A client-only agent of `servers` named `name` in `dir`, with the agent
/// configuration `config` if any; its node id and stderr.
fn client(
    dir: &std::path::Path,
    name: &str,
    servers: &str,
    config: Option<&str>,
) -> (AgentWithTasks, String, Receiver<String>) {
    std::fs::create_dir_all(dir).expect("dir");
    let mut args = vec![
        "-client".to_owned(),
        "-servers".to_owned(),
        servers.to_owned(),
        "-data-dir".to_owned(),
        dir.join("data").display().to_string(),
        "-node".to_owned(),
        name.to_owned(),
        // A client-only agent may serve the HTTP API too: not on 4646.
        "-http-port".to_owned(),
        "0".to_owned(),
    ];
    if let Some(config) = config {
        let file = dir.join("agent.hcl");
        std::fs::write(&file, config).expect("config file");
        args.push("-config".to_owned());
        args.push(file.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (agent, lines) = spawn_schedd(&args);
    let announced = line_starting(&lines, "schedd: client node ");
    let node_id = announced["schedd: client node ".len()..]
        .split_whitespace()
        .next()
        .expect("node id")
        .to_owned();
    (
        AgentWithTasks {
            agent,
            data_dir: dir.to_path_buf(),
        },
        node_id,
        lines,
    )
}

fn on_node<'a>(allocs: &'a Value, node: &str) -> Vec<&'a Value> {
    allocs
        .as_array()
        .map(|list| list.iter().filter(|a| a["NodeID"] == node).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_drain_on_shutdown_drains_its_node_before_it_stops() {
    let data = tempfile::tempdir().expect("dir");
    let rpc = free_port().to_string();
    let http = free_port().to_string();
    let server_dir = data.path().join("server");
    let (_server, lines) = spawn_schedd(&[
        "-server",
        "-data-dir",
        server_dir.to_str().unwrap(),
        "-rpc-port",
        &rpc,
        "-http-port",
        &http,
        "-bootstrap-expect",
        "1",
    ]);
    line_starting(&lines, "schedd: HTTP API on ");
    std::thread::spawn(move || while lines.recv().is_ok() {});
    let api = Api::new(format!("http://127.0.0.1:{http}"));
    let servers = format!("127.0.0.1:{rpc}");

    // Client A drains on shutdown; the job starts on it alone.
    let a_dir = data.path().join("a");
    let (mut a, a_node, a_lines) = client(
        &a_dir,
        "a",
        &servers,
        Some("client {\n  drain_on_shutdown {\n    deadline = \"30s\"\n  }\n}\n"),
    );
    api.wait_for("/v1/nodes", "node a ready", |nodes| {
        nodes
            .as_array()
            .is_some_and(|n| n.len() == 1 && n[0]["Status"] == "ready")
    })
    .await;
    let job = common::http::job_json(JOB, "web.nomad.hcl");
    let (status, body) = api.post("/v1/jobs", &job).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Healthy (the drainer moves only what it can count as healthy).
    api.wait_for("/v1/job/web/allocations", "two healthy on a", |allocs| {
        on_node(allocs, &a_node)
            .iter()
            .filter(|x| x["ClientStatus"] == "running" && x["DeploymentStatus"]["Healthy"] == true)
            .count()
            == 2
    })
    .await;
    // Client B, without the block, is where they can go.
    let b_dir = data.path().join("b");
    let (mut b, b_node, b_lines) = client(&b_dir, "b", &servers, None);
    api.wait_for("/v1/nodes", "both nodes ready", |nodes| {
        nodes
            .as_array()
            .is_some_and(|n| n.len() == 2 && n.iter().all(|node| node["Status"] == "ready"))
    })
    .await;
    let tasks_on_a = processes_under(&a_dir);
    assert!(!tasks_on_a.is_empty(), "the tasks run under {a_dir:?}");

    // SIGTERM: A drains its node, then exits on its own.
    let (exit, took) = terminate(&mut a.agent, Duration::from_secs(40));
    assert!(exit.success(), "{exit}");
    let said = stderr_of(&a_lines);
    assert!(
        said.iter()
            .any(|l| l == &format!("schedd: draining node {a_node} before stopping (deadline 30s)")),
        "{said:#?}"
    );
    assert!(
        said.iter()
            .any(|l| l.starts_with(&format!("schedd: node {a_node} drained;"))),
        "drained before the deadline ({took:?}): {said:#?}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    // Its tasks were stopped, not left behind.
    let left = processes_under(&a_dir);
    assert!(left.is_empty(), "processes left under {a_dir:?}: {left:?}");
    // On the servers: A's allocations are stopped and complete, their
    // replacements run on B, and the drain is over.
    let allocs = api
        .wait_for("/v1/job/web/allocations", "two running on b", |allocs| {
            on_node(allocs, &b_node)
                .iter()
                .filter(|x| x["ClientStatus"] == "running")
                .count()
                == 2
        })
        .await;
    assert_eq!(running(&allocs), 2, "{allocs}");
    let drained = on_node(&allocs, &a_node);
    assert_eq!(drained.len(), 2, "{allocs}");
    assert!(
        drained
            .iter()
            .all(|x| x["DesiredStatus"] == "stop" && x["ClientStatus"] == "complete"),
        "{allocs}"
    );
    let node = api
        .wait_for(&format!("/v1/node/{a_node}"), "the drain complete", |n| {
            n["LastDrain"]["Status"] == "complete"
        })
        .await;
    assert_eq!(node["SchedulingEligibility"], "ineligible", "{node}");
    assert!(node["DrainStrategy"].is_null(), "{node}");

    // Without the block, SIGTERM leaves the tasks running (B's, which the
    // test then ends by dropping B).
    let tasks_on_b = processes_under(&b_dir);
    assert!(!tasks_on_b.is_empty(), "the tasks run under {b_dir:?}");
    let (exit, _) = terminate(&mut b.agent, Duration::from_secs(10));
    assert!(exit.success(), "{exit}");
    let said = stderr_of(&b_lines);
    assert!(
        said.iter()
            .any(|l| l == "schedd: client stopped (SIGTERM); its tasks keep running"),
        "{said:#?}"
    );
    assert!(!said.iter().any(|l| l.contains("draining")), "{said:#?}");
    for pid in tasks_on_b {
        assert!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok(),
            "process {pid} of b's tasks outlives b"
        );
    }
}
