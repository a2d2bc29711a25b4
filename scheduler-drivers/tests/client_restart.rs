//! A client process killed with SIGKILL and started again re-attaches to
//! its running task: never a second copy, and a stop still reaches it.
//!
//! The client is this test's own binary started again in client mode
//! (`SCHED_TEST_CLIENT_DATA` names its data directory), so the kill is a
//! real `kill -9` of a separate process; its task lives on under its
//! executor. This file has its own `main` (harness = false) for that.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use scheduler_core::driver::TaskDriver;
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{AllocClientStatus, Allocation, Node, TaskRunState};
use scheduler_drivers::alloc_runner::{ClientContext, restore_alloc, run_alloc};
use scheduler_drivers::catalog::ServiceCatalog;
use scheduler_drivers::client_state::ClientState;
use scheduler_drivers::logs::log_files;
use scheduler_drivers::raw_exec::RawExecDriver;

const JOB: &str = r#"
job "web" {
  group "web" {
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", "echo started; trap 'echo stopping; exit 0' TERM; while :; do sleep 0.05; done"]
      }
    }
  }
}
"#;

fn context(data_dir: &Path) -> Arc<ClientContext> {
    let executor = PathBuf::from(env!("CARGO_BIN_EXE_sched-executor"));
    let driver: Arc<dyn TaskDriver> = Arc::new(RawExecDriver::new(executor));
    Arc::new(ClientContext {
        data_dir: data_dir.to_owned(),
        node: Node::default(),
        drivers: BTreeMap::from([("raw_exec".to_owned(), driver)]),
        state: Arc::new(ClientState::open(data_dir).expect("client state")),
        catalog: Arc::new(ServiceCatalog::new()),
    })
}

fn allocation() -> Allocation {
    let job = parse(JOB, &ParseOptions::new("web.nomad.hcl"))
        .expect("job")
        .job;
    Allocation {
        id: "a-web".into(),
        name: "web.web[0]".to_owned(),
        task_group: "web".to_owned(),
        job: Some(Arc::new(job)),
        ..Allocation::default()
    }
}

fn task_log(data_dir: &Path) -> String {
    log_files(
        &data_dir.join("allocs/a-web/alloc/logs"),
        "server",
        "stdout",
    )
    .iter()
    .map(|f| std::fs::read_to_string(f).unwrap_or_default())
    .collect()
}

/// Client mode: run (or restore) the allocation, say when the task runs,
/// then keep running until killed.
fn client(data_dir: &Path) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let ctx = context(data_dir);
        let persisted = ctx.state.allocs();
        let (runner, how) = match persisted.get("a-web") {
            Some(earlier) => (
                restore_alloc(ctx, earlier.clone()).expect("restore"),
                "restored",
            ),
            None => (run_alloc(ctx, allocation()).expect("run"), "new"),
        };
        let mut status = runner.status.clone();
        let running = status
            .wait_for(|s| {
                s.task_states
                    .get("server")
                    .is_some_and(|t| t.state == TaskRunState::Running)
            })
            .await
            .expect("status")
            .clone();
        let starts = running.task_states["server"]
            .events
            .iter()
            .filter(|e| e.event_type == "Started")
            .count();
        // Let the handle reach the state file before saying so.
        for _ in 0..200 {
            let state = ClientState::open(data_dir).expect("state").allocs();
            if state["a-web"]
                .tasks
                .get("server")
                .is_some_and(|t| t.handle.is_some())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        println!("client: running {how} starts={starts}");
        std::future::pending::<()>().await;
    });
}

/// A client process, killed when dropped (a failing assertion must not
/// leave it running).
struct ClientProcess(Child);

impl Drop for ClientProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a client process and waits (bounded) for its "running" line.
fn start_client(data_dir: &Path) -> (ClientProcess, String) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env("SCHED_TEST_CLIENT_DATA", data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("client process");
    let stdout = child.stdout.take().expect("stdout");
    let child = ClientProcess(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("client: ") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the client reports its task running within 30 s");
    (child, line)
}

fn kill_9(ClientProcess(child): &mut ClientProcess) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9");
    let _ = child.wait();
}

fn main() {
    if let Some(data) = std::env::var_os("SCHED_TEST_CLIENT_DATA") {
        client(Path::new(&data));
        return;
    }
    // cargo test passes its own flags (--list, filters); the test runs
    // unless it is only listed.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        // Listing (libtest's format, which cargo-nextest reads); nothing
        // here is ignored.
        if !args.iter().any(|a| a == "--ignored") {
            println!("a_client_killed_with_sigkill_re_attaches_when_it_comes_back: test");
        }
        return;
    }
    let data = tempfile::tempdir().expect("dir");

    let (mut first, line) = start_client(data.path());
    assert_eq!(line, "client: running new starts=1");
    assert_eq!(task_log(data.path()), "started\n");
    kill_9(&mut first);

    // The task survived its client.
    std::thread::sleep(Duration::from_millis(300));
    let state = ClientState::open(data.path()).expect("state").allocs();
    let handle = state["a-web"].tasks["server"]
        .handle
        .clone()
        .expect("handle");
    let task_pid = handle.state["task"]["pid"].as_i64().expect("pid") as i32;
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(task_pid), None).is_ok(),
        "the task outlived the killed client"
    );

    let (mut second, line) = start_client(data.path());
    assert_eq!(
        line, "client: running restored starts=1",
        "re-attached, not started again"
    );
    assert_eq!(task_log(data.path()), "started\n", "one copy ran");
    kill_9(&mut second);

    // A third client, in this process, stops it: the stop reaches the task.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let ctx = context(data.path());
        let persisted = ctx.state.allocs()["a-web"].clone();
        let runner = restore_alloc(ctx, persisted).expect("restore");
        let mut status = runner.status.clone();
        status
            .wait_for(|s| {
                s.task_states
                    .get("server")
                    .is_some_and(|t| t.state == TaskRunState::Running)
            })
            .await
            .expect("running");
        runner.stop();
        let status = tokio::time::timeout(Duration::from_secs(20), runner.finished())
            .await
            .expect("stops");
        assert_eq!(status.client_status, AllocClientStatus::Complete);
    });
    assert_eq!(task_log(data.path()), "started\nstopping\n");
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(task_pid), None).is_err(),
        "the task is gone after the stop"
    );
    println!("test a_client_killed_with_sigkill_re_attaches_when_it_comes_back ... ok");
}
