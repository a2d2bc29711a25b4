//! `schedd -dev` as a real process: a single-node server and a client in
//! one agent; a job registered through it runs for real; SIGTERM stops
//! the agent cleanly and leaves the task running, as Nomad's clients do.

mod common;

use std::time::Duration;

use common::{free_port, line_starting, spawn_schedd};

use bins::agent::connection::RaftConnection;
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{AllocClientStatus, NodeId};
use scheduler_drivers::client::ServerConnection;
use scheduler_drivers::client_state::ClientState;
use scheduler_drivers::logs::log_files;
use scheduler_raft::client::RemoteClient;

const JOB: &str = r#"
job "dev" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", "echo serving on ${NOMAD_TASK_NAME}; while :; do sleep 0.1; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

#[test]
fn schedd_dev_runs_a_job_and_leaves_its_task_running_on_sigterm() {
    let data = tempfile::tempdir().expect("dir");
    let port = free_port();
    let (mut agent, lines) = spawn_schedd(&[
        "-dev",
        "-rpc-port",
        &port.to_string(),
        "-http-port",
        "0",
        "-dns-port",
        "0",
        "-data-dir",
        data.path().to_str().unwrap(),
    ]);
    let announced = line_starting(&lines, "schedd: client node ");
    assert!(announced.contains("raw_exec=Healthy"), "{announced}");
    let node_id = announced["schedd: client node ".len()..]
        .split_whitespace()
        .next()
        .map(NodeId::new);
    let node_id = node_id.expect("node id");

    let client_dir = data.path().join("client");
    let alloc_id = run_job_until_running(port, &node_id);
    assert_eq!(task_output(&client_dir, &alloc_id), "serving on t\n");

    // SIGTERM: the agent stops cleanly; the task keeps running.
    let child = &mut agent.0;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let mut exited = None;
    for _ in 0..200 {
        if let Some(status) = child.try_wait().expect("wait") {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("schedd did not stop within 10 s of SIGTERM")
    });
    assert!(status.success(), "{status}");
    let state = ClientState::open(&client_dir)
        .expect("client state")
        .allocs();
    let handle = state[&alloc_id].tasks["t"].handle.clone().expect("handle");
    let task_pid = handle.state["task"]["pid"].as_i64().expect("pid") as i32;
    let pid = nix::unistd::Pid::from_raw(task_pid);
    assert!(
        nix::sys::signal::kill(pid, None).is_ok(),
        "the task outlives the agent"
    );
    // The test started it (through the agent): it ends it.
    let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
}

/// Registers the job through the agent at `port` and waits (bounded) until
/// its allocation on `node_id` is reported running; the allocation's id.
fn run_job_until_running(port: impl std::fmt::Display, node_id: &NodeId) -> String {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let address = format!("127.0.0.1:{port}");
    runtime.block_on(async {
        let api = RemoteClient::new(vec![address.clone()]);
        let job = parse(JOB, &ParseOptions::new("dev.nomad.hcl"))
            .expect("job")
            .job;
        api.register_job(job, None, Duration::from_secs(20))
            .await
            .expect("register");
        let connection = RaftConnection::new(vec![address], "dc1");
        for _ in 0..200 {
            if let Ok((allocs, _)) = connection.node_allocs(node_id, 0, Duration::ZERO).await
                && let Some(alloc) = allocs
                    .iter()
                    .find(|a| a.client_status == AllocClientStatus::Running)
            {
                return alloc.id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the job's allocation was not reported running within 20 s");
    })
}

/// The task's stdout once it wrote something (bounded wait).
fn task_output(client_dir: &std::path::Path, alloc_id: &str) -> String {
    let logs = client_dir.join("allocs").join(alloc_id).join("alloc/logs");
    let mut out = String::new();
    for _ in 0..100 {
        out = log_files(&logs, "t", "stdout")
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap_or_default())
            .collect();
        if !out.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    out
}

#[test]
fn a_client_agent_registers_with_a_server_agent_and_runs_its_work() {
    let data = tempfile::tempdir().expect("dir");
    let port = free_port().to_string();
    let server_dir = data.path().join("server");
    let client_dir = data.path().join("client");
    let (_server, server_lines) = spawn_schedd(&[
        "-server",
        "-bootstrap-expect",
        "1",
        "-rpc-port",
        &port,
        "-http-port",
        "0",
        "-data-dir",
        server_dir.to_str().unwrap(),
    ]);
    line_starting(&server_lines, "schedd: server ");
    let (_client, client_lines) = spawn_schedd(&[
        "-client",
        "-servers",
        &format!("127.0.0.1:{port}"),
        "-http-port",
        "0",
        "-data-dir",
        client_dir.to_str().unwrap(),
    ]);
    let announced = line_starting(&client_lines, "schedd: client node ");
    let node_id = NodeId::new(
        announced["schedd: client node ".len()..]
            .split_whitespace()
            .next()
            .unwrap(),
    );

    let alloc_id = run_job_until_running(&port, &node_id);
    assert_eq!(task_output(&client_dir, &alloc_id), "serving on t\n");
    // The test ends the task it had the agents start.
    let state = ClientState::open(&client_dir)
        .expect("client state")
        .allocs();
    if let Some(pid) = state[&alloc_id].tasks["t"]
        .handle
        .as_ref()
        .and_then(|h| h.state["task"]["pid"].as_i64())
    {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let data = tempfile::tempdir().expect("dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().unwrap().port().to_string();
    let rpc = free_port().to_string();
    let (mut agent, lines) = spawn_schedd(&[
        "-dev",
        "-rpc-port",
        &rpc,
        "-http-port",
        &port,
        "-dns-port",
        "0",
        "-data-dir",
        data.path().to_str().unwrap(),
    ]);
    let error = line_starting(&lines, "schedd: cannot listen for HTTP");
    assert!(
        error.contains(&format!("127.0.0.1:{port}")) && error.contains("in use"),
        "{error}"
    );
    let mut status = None;
    for _ in 0..100 {
        status = agent.0.try_wait().expect("wait");
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = status.expect("schedd exits when its HTTP port is taken");
    assert!(!status.success(), "{status}");
}

#[test]
fn plugin_blocks_of_the_agent_config_reach_the_drivers() {
    let data = tempfile::tempdir().expect("dir");
    let config = data.path().join("agent.hcl");
    std::fs::write(
        &config,
        "plugin \"raw_exec\" {\n  config {\n    enabled = false\n  }\n}\n",
    )
    .expect("config");
    let rpc = free_port().to_string();
    let (_agent, lines) = spawn_schedd(&[
        "-dev",
        "-config",
        config.to_str().unwrap(),
        "-rpc-port",
        &rpc,
        "-http-port",
        "0",
        "-dns-port",
        "0",
        "-data-dir",
        data.path().join("agent").to_str().unwrap(),
    ]);
    let announced = line_starting(&lines, "schedd: client node ");
    assert!(!announced.contains("raw_exec"), "{announced}");
    assert!(announced.contains("exec="), "{announced}");
}
