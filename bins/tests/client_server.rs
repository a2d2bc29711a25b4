//! The client runtime against a real server: a single-node Raft server
//! with its control plane, a client with the raw_exec driver connected
//! over HTTP, a job registered through the API placed, run for real,
//! reported running, then stopped and reported complete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bins::agent::connection::RaftConnection;
use scheduler_core::driver::TaskDriver;
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{AllocClientStatus, Allocation, EvalTrigger, NodeId, TaskRunState};
use scheduler_drivers::alloc_runner::ClientContext;
use scheduler_drivers::catalog::ServiceCatalog;
use scheduler_drivers::client::{ServerConnection, start_client};
use scheduler_drivers::client_state::ClientState;
use scheduler_drivers::fingerprint::{NodeIdentity, fingerprint_node};
use scheduler_drivers::logs::log_files;
use scheduler_drivers::raw_exec::RawExecDriver;
use scheduler_raft::client::RemoteClient;
use scheduler_raft::control::{ControlConfig, ControlPlane};
use scheduler_raft::server::RaftTuning;
use scheduler_raft::{Command, Server, ServerConfig};

const JOB: &str = r#"
job "hello" {
  datacenters = ["dc1"]
  group "greeters" {
    count = 2
    task "greet" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", "echo hello from ${NOMAD_ALLOC_INDEX}; trap 'echo bye; exit 0' TERM; while :; do sleep 0.05; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

/// Polls (bounded) until the node's allocations satisfy `done`.
async fn until(
    connection: &RaftConnection,
    node: &NodeId,
    what: &str,
    done: impl Fn(&[Allocation]) -> bool,
) -> Vec<Allocation> {
    let mut last = Vec::new();
    for _ in 0..150 {
        if let Ok((allocs, _)) = connection.node_allocs(node, 0, Duration::ZERO).await {
            if done(&allocs) {
                return allocs;
            }
            last = allocs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{what} not reached in 15 s; allocations: {:?}",
        last.iter()
            .map(|a| (a.name.clone(), a.desired_status, a.client_status))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_placed_run_by_the_client_reported_and_stopped() {
    let server_dir = tempfile::tempdir().expect("dir");
    let client_dir = tempfile::tempdir().expect("dir");
    let server = Server::start(ServerConfig {
        data_dir: server_dir.path().to_owned(),
        bind: "127.0.0.1:0".parse().unwrap(),
        tuning: RaftTuning::default(),
    })
    .await
    .expect("server");
    server
        .bootstrap(BTreeMap::from([(server.id(), server.addr().to_string())]))
        .await
        .expect("bootstrap");
    let server = Arc::new(server);
    let control = ControlPlane::start(server.clone(), ControlConfig::default());
    let address = server.addr().to_string();

    let executor = scheduler_drivers::executor::locate()
        .expect("sched-executor beside the test binaries (cargo builds it with the workspace)");
    let raw_exec: Arc<dyn TaskDriver> = Arc::new(RawExecDriver::new(executor));
    let identity = NodeIdentity {
        id: "client-1".to_owned(),
        name: "client-1".to_owned(),
        datacenter: "dc1".to_owned(),
        node_class: String::new(),
        node_pool: String::new(),
        meta: BTreeMap::new(),
        data_dir: client_dir.path().to_owned(),
        network_interface: Some("lo".to_owned()),
        drivers: vec![raw_exec.clone()],
        now_rfc3339: "2026-12-05T00:00:00Z".to_owned(),
    };
    let node = fingerprint_node(&identity).await;
    let node_id = node.id.clone();
    let ctx = Arc::new(ClientContext {
        data_dir: client_dir.path().to_owned(),
        node: node.clone(),
        drivers: BTreeMap::from([("raw_exec".to_owned(), raw_exec)]),
        state: Arc::new(ClientState::open(client_dir.path()).expect("state")),
        catalog: Arc::new(ServiceCatalog::new()),
    });
    let connection = RaftConnection::new(vec![address.clone()], "dc1");
    let client = start_client(Arc::new(connection.clone()), ctx, node);

    let api = RemoteClient::new(vec![address]);
    let job = parse(JOB, &ParseOptions::new("hello.nomad.hcl"))
        .expect("job")
        .job;
    api.register_job(job.clone(), None, Duration::from_secs(10))
        .await
        .expect("register");

    let running = until(&connection, &node_id, "two allocations running", |allocs| {
        allocs.len() == 2
            && allocs.iter().all(|a| {
                a.client_status == AllocClientStatus::Running
                    && a.task_states
                        .get("greet")
                        .is_some_and(|t| t.state == TaskRunState::Running)
            })
    })
    .await;
    // Really running: each wrote its own index into its log.
    let mut greetings: Vec<String> = running
        .iter()
        .map(|a| {
            let logs = client_dir
                .path()
                .join("allocs")
                .join(a.id.to_string())
                .join("alloc/logs");
            let mut text = String::new();
            for _ in 0..100 {
                text = log_files(&logs, "greet", "stdout")
                    .iter()
                    .map(|f| std::fs::read_to_string(f).unwrap_or_default())
                    .collect();
                if !text.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            text
        })
        .collect();
    greetings.sort();
    assert_eq!(greetings, ["hello from 0\n", "hello from 1\n"]);

    // Stop the job: the servers stop the allocations, the client stops
    // the tasks (their TERM traps run) and reports them complete.
    api.write(
        &Command::DeregisterJob {
            namespace: "default".to_owned(),
            job_id: "hello".into(),
            purge: false,
            // What `job stop` sends: the job's evaluation with it.
            eval: Some(Box::new(scheduler_raft::control::new_evaluation(
                &job,
                EvalTrigger::JobDeregister,
                scheduler_raft::clock::now_unix_nanos(),
            ))),
        },
        Duration::from_secs(10),
    )
    .await
    .expect("stop");
    let stopped = until(&connection, &node_id, "both complete", |allocs| {
        allocs.len() == 2
            && allocs
                .iter()
                .all(|a| a.client_status == AllocClientStatus::Complete)
    })
    .await;
    for alloc in &stopped {
        let logs = client_dir
            .path()
            .join("allocs")
            .join(alloc.id.to_string())
            .join("alloc/logs");
        let text: String = log_files(&logs, "greet", "stdout")
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap_or_default())
            .collect();
        assert!(text.ends_with("bye\n"), "{text:?}");
    }

    drop(client);
    control.shutdown();
    drop(control);
}
