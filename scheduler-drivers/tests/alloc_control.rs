//! On-demand control of a running allocation with real processes: a
//! signal reaches a task's `trap`, a user restart starts a new process in
//! place without using up the restart policy's attempts, the usage of a
//! task that holds memory and of one that burns CPU, and clear errors for
//! unknown tasks, bad signals, tasks that do not run and allocations the
//! client does not run.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use scheduler_core::driver::TaskDriver;
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{
    AllocDesiredStatus, Allocation, MHz, Node, NodeId, TaskRunState, TaskState,
};
use scheduler_drivers::alloc_control::ControlError;
use scheduler_drivers::alloc_runner::{AllocRunnerHandle, ClientContext, run_alloc};
use scheduler_drivers::catalog::ServiceCatalog;
use scheduler_drivers::client::{ConnectionFuture, ServerConnection, start_client};
use scheduler_drivers::client_state::ClientState;
use scheduler_drivers::logs::log_files;
use scheduler_drivers::raw_exec::RawExecDriver;

mod common;
use common::executor;

/// A client context with raw_exec on a node of two 1000 MHz cores.
fn context(data_dir: &Path) -> Arc<ClientContext> {
    let driver: Arc<dyn TaskDriver> = Arc::new(RawExecDriver::new(executor()));
    let mut node = Node {
        datacenter: "dc1".to_owned(),
        ..Node::default()
    };
    node.node_resources.cpu.cpu_shares = MHz(2000);
    node.node_resources.cpu.total_cpu_cores = 2;
    Arc::new(ClientContext {
        data_dir: data_dir.to_owned(),
        node,
        drivers: BTreeMap::from([("raw_exec".to_owned(), driver)]),
        state: Arc::new(ClientState::open(data_dir).expect("client state")),
        catalog: Arc::new(ServiceCatalog::new()),
    })
}

fn allocation(hcl: &str, id: &str) -> Allocation {
    let job = parse(hcl, &ParseOptions::new("app.nomad.hcl"))
        .unwrap_or_else(|e| panic!("job file: {e:?}"))
        .job;
    let group = job.task_groups[0].name.clone();
    Allocation {
        id: id.into(),
        name: format!("{}.{group}[0]", job.id),
        task_group: group,
        job: Some(Arc::new(job)),
        ..Allocation::default()
    }
}

fn task_log(data_dir: &Path, alloc: &str, task: &str) -> String {
    log_files(
        &data_dir.join("allocs").join(alloc).join("alloc/logs"),
        task,
        "stdout",
    )
    .iter()
    .map(|f| std::fs::read_to_string(f).unwrap_or_default())
    .collect()
}

/// Polls `check` (bounded) until it gives a value.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(value) = check() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen within 10 s");
}

async fn until_logged(data_dir: &Path, alloc: &str, task: &str, text: &str) {
    eventually(&format!("{task} logging {text:?}"), || {
        task_log(data_dir, alloc, task).contains(text).then_some(())
    })
    .await;
}

/// Waits (bounded) until `task`'s state satisfies `ready`; that state.
async fn task_state(
    runner: &AllocRunnerHandle,
    task: &str,
    ready: impl Fn(&TaskState) -> bool,
) -> TaskState {
    let mut status = runner.status.clone();
    let status = tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.task_states.get(task).is_some_and(&ready)),
    )
    .await
    .unwrap_or_else(|_| panic!("task {task} never got there: {:?}", runner.status.borrow()))
    .expect("status");
    status.task_states[task].clone()
}

async fn stop(runner: AllocRunnerHandle) {
    runner.stop();
    tokio::time::timeout(Duration::from_secs(30), runner.finished())
        .await
        .expect("the allocation stops");
}

fn is_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

const SIGNALS: &str = r#"
job "web" {
  group "web" {
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", "trap 'echo got-hup' HUP; trap 'echo got-usr1' USR1; trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done"]
      }
    }
  }
}
"#;

#[tokio::test]
async fn a_signal_reaches_the_tasks_trap_and_bad_requests_are_named() {
    let data = tempfile::tempdir().expect("dir");
    let runner = run_alloc(context(data.path()), allocation(SIGNALS, "a-signal")).expect("runs");
    let control = runner.control();
    until_logged(data.path(), "a-signal", "server", "ready").await;
    // The shell prints before its runner has marked it running; a signal
    // in between is refused as "not running", as it should be.
    task_state(&runner, "server", |s| s.state == TaskRunState::Running).await;

    control
        .signal_task(Some("server"), "SIGHUP")
        .await
        .expect("signal one task");
    until_logged(data.path(), "a-signal", "server", "got-hup").await;
    control
        .signal_task(None, "usr1")
        .await
        .expect("signal every running task");
    until_logged(data.path(), "a-signal", "server", "got-usr1").await;
    let state = task_state(&runner, "server", |s| {
        s.events
            .iter()
            .filter(|e| e.event_type == "Signaling")
            .count()
            == 2
    })
    .await;
    let signals: Vec<&str> = state
        .events
        .iter()
        .filter(|e| e.event_type == "Signaling")
        .map(|e| e.task_signal.as_str())
        .collect();
    assert_eq!(signals, ["SIGHUP", "usr1"]);
    assert_eq!(state.state, TaskRunState::Running, "signals do not stop it");

    let unknown = control
        .signal_task(Some("nope"), "SIGHUP")
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, ControlError::UnknownTask { task, .. } if task == "nope"),
        "{unknown:?}"
    );
    assert!(unknown.to_string().contains("\"nope\""), "{unknown}");
    let bad = control
        .signal_task(Some("server"), "SIGNOPE")
        .await
        .unwrap_err();
    assert_eq!(bad, ControlError::UnknownSignal("SIGNOPE".to_owned()));
    assert!(bad.to_string().contains("SIGNOPE"), "{bad}");
    let restart_unknown = control.restart_task(Some("nope")).await.unwrap_err();
    assert!(
        restart_unknown.to_string().contains("nope"),
        "{restart_unknown}"
    );

    // Once the allocation is done, nothing runs to signal or restart.
    stop(runner).await;
    let signal_dead = control
        .signal_task(Some("server"), "SIGHUP")
        .await
        .unwrap_err();
    assert_eq!(signal_dead, ControlError::NotRunning("server".to_owned()));
    let restart_dead = control.restart_task(Some("server")).await.unwrap_err();
    assert!(
        restart_dead.to_string().contains("not running"),
        "{restart_dead}"
    );
    let restart_all = control.restart_task(None).await.unwrap_err();
    assert_eq!(
        restart_all,
        ControlError::NothingRunning("a-signal".to_owned())
    );
    assert!(control.stats().await.tasks.is_empty());
}

const RESTARTS: &str = r#"
job "web" {
  group "web" {
    restart {
      attempts = 1
      interval = "10m"
      delay    = "100ms"
      mode     = "fail"
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", "echo $$ >> $NOMAD_ALLOC_DIR/data/pids; trap 'exit 0' TERM; while :; do sleep 0.05; done"]
      }
    }
  }
}
"#;

/// The pids the task's attempts wrote, once there are `count`.
async fn pids(data_dir: &Path, count: usize) -> Vec<i32> {
    let file = data_dir.join("allocs/a-restart/alloc/data/pids");
    eventually(&format!("{count} pids in {}", file.display()), || {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let pids: Vec<i32> = text
            .lines()
            .map(|line| {
                line.parse()
                    .unwrap_or_else(|_| panic!("a pid, not {line:?}"))
            })
            .collect();
        (pids.len() >= count).then_some(pids)
    })
    .await
}

#[tokio::test]
async fn a_user_restart_starts_a_new_process_without_using_the_policys_attempts() {
    let data = tempfile::tempdir().expect("dir");
    let runner = run_alloc(context(data.path()), allocation(RESTARTS, "a-restart")).expect("runs");
    let control = runner.control();
    task_state(&runner, "server", |s| s.state == TaskRunState::Running).await;
    let first = pids(data.path(), 1).await;

    control
        .restart_task(Some("server"))
        .await
        .expect("restart one task");
    // It answers once the new attempt runs.
    let second = pids(data.path(), 2).await;
    assert_ne!(second[1], second[0], "a new process");
    assert!(!is_alive(first[0]), "the old process is gone");
    let state = task_state(&runner, "server", |s| s.restarts == 1).await;
    assert_eq!(state.state, TaskRunState::Running);
    let types: Vec<&str> = state.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "Received",
            "Started",
            "Restart Signaled",
            "Terminated",
            "Restarting",
            "Started"
        ]
    );
    let signaled = &state.events[2];
    assert_eq!(signaled.restart_reason, "User requested restart");
    let restarting = &state.events[4];
    assert_eq!(restarting.restart_reason, "User requested restart");
    assert_eq!(restarting.start_delay, 0);

    // Every running task; more user restarts than the policy's attempts.
    control.restart_task(None).await.expect("restart all");
    let third = pids(data.path(), 3).await;
    assert_ne!(third[2], third[1]);
    let state = task_state(&runner, "server", |s| {
        s.restarts == 2 && s.state == TaskRunState::Running
    })
    .await;
    assert!(!state.failed);

    // A crash now is still within the policy (1 attempt): the user
    // restarts did not use it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(third[2]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the task");
    let fourth = pids(data.path(), 4).await;
    assert_ne!(fourth[3], third[2]);
    let state = task_state(&runner, "server", |s| {
        s.restarts == 3 && s.state == TaskRunState::Running
    })
    .await;
    let last_restart = state
        .events
        .iter()
        .rev()
        .find(|e| e.event_type == "Restarting")
        .expect("a policy restart");
    assert_eq!(last_restart.restart_reason, "Restart within policy");
    assert!(!state.failed, "{state:?}");
    stop(runner).await;
}

const USAGE: &str = r#"
job "web" {
  group "web" {
    task "hog" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        # dd fills a 32 MiB buffer, then blocks writing it to a reader
        # that never reads: 32 MiB resident until the task is stopped.
        args = ["-c", "dd if=/dev/zero bs=32M count=1 2>/dev/null | sleep 600"]
      }
    }
    task "burner" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", "while :; do :; done"]
      }
    }
  }
}
"#;

const MIB: u64 = 1 << 20;

#[tokio::test]
async fn stats_report_the_memory_and_cpu_of_running_tasks_in_nomads_shape() {
    let data = tempfile::tempdir().expect("dir");
    let runner = run_alloc(context(data.path()), allocation(USAGE, "a-usage")).expect("runs");
    let control = runner.control();
    task_state(&runner, "hog", |s| s.state == TaskRunState::Running).await;
    task_state(&runner, "burner", |s| s.state == TaskRunState::Running).await;

    let mut usage = control.stats().await;
    for _ in 0..100 {
        let rss = usage
            .tasks
            .get("hog")
            .map_or(0, |t| t.resource_usage.memory_stats.rss);
        if rss >= 16 * MIB {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        usage = control.stats().await;
    }
    let json = serde_json::to_value(&usage).expect("json");

    let hog = &json["Tasks"]["hog"]["ResourceUsage"];
    let hog_rss = hog["MemoryStats"]["RSS"].as_u64().expect("RSS");
    assert!(hog_rss >= 16 * MIB, "hog RSS {hog_rss}: {json:#}");
    assert_eq!(hog["MemoryStats"]["Usage"].as_u64(), Some(hog_rss));
    assert!(hog["MemoryStats"]["MaxUsage"].as_u64().expect("MaxUsage") >= hog_rss);
    assert_eq!(hog["MemoryStats"]["Measured"], serde_json::json!(["RSS"]));
    assert!(
        json["Tasks"]["hog"]["Timestamp"]
            .as_i64()
            .expect("Timestamp")
            > 0
    );

    let burner = &json["Tasks"]["burner"]["ResourceUsage"]["CpuStats"];
    let percent = burner["Percent"].as_f64().expect("Percent");
    // A busy loop gets a good share of a core even on a loaded machine.
    assert!(percent > 5.0, "burner at {percent}%: {json:#}");
    let ticks = burner["TotalTicks"].as_f64().expect("TotalTicks");
    assert!(
        (ticks - percent / 100.0 * 1000.0).abs() < 1e-6,
        "MHz of one 1000 MHz core: {ticks}"
    );
    assert_eq!(
        burner["Measured"],
        serde_json::json!(["Percent", "Total Ticks"])
    );

    // The allocation's figures are the tasks' added up.
    let total = &json["ResourceUsage"];
    let burner_rss = json["Tasks"]["burner"]["ResourceUsage"]["MemoryStats"]["RSS"]
        .as_u64()
        .expect("RSS");
    assert_eq!(
        total["MemoryStats"]["RSS"].as_u64(),
        Some(hog_rss + burner_rss)
    );
    let hog_percent = hog["CpuStats"]["Percent"].as_f64().expect("Percent");
    let total_percent = total["CpuStats"]["Percent"].as_f64().expect("Percent");
    assert!((total_percent - (percent + hog_percent)).abs() < 1e-6);
    let newest = ["hog", "burner"]
        .iter()
        .filter_map(|t| json["Tasks"][t]["Timestamp"].as_i64())
        .max();
    assert_eq!(json["Timestamp"].as_i64(), newest);
    stop(runner).await;
}

/// Servers that hand the client one allocation, and later its stop.
struct FakeServers {
    alloc: Allocation,
    /// Flipped to have the servers stop the allocation.
    stopping: watch::Receiver<bool>,
}

impl ServerConnection for FakeServers {
    fn register(&self, _node: Node) -> ConnectionFuture<'_, Duration> {
        Box::pin(async { Ok(Duration::from_secs(10)) })
    }

    fn update_services<'a>(
        &'a self,
        _node: &'a NodeId,
        _services: Vec<scheduler_drivers::catalog::ServiceInstance>,
    ) -> ConnectionFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn heartbeat<'a>(&'a self, _node: &'a NodeId) -> ConnectionFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn node_allocs<'a>(
        &'a self,
        _node: &'a NodeId,
        index: u64,
        wait: Duration,
    ) -> ConnectionFuture<'a, (Vec<Allocation>, u64)> {
        Box::pin(async move {
            if index == 0 {
                return Ok((vec![self.alloc.clone()], 1));
            }
            // A blocking query: the stop when it comes, else nothing new.
            let mut stopping = self.stopping.clone();
            let stopped = tokio::time::timeout(wait, stopping.wait_for(|stop| *stop))
                .await
                .is_ok();
            if index == 1 && stopped {
                let mut alloc = self.alloc.clone();
                alloc.desired_status = AllocDesiredStatus::Stop;
                return Ok((vec![alloc], 2));
            }
            if stopped {
                tokio::time::sleep(wait).await;
            }
            Ok((Vec::new(), index))
        })
    }

    fn update_allocs(&self, _allocs: Vec<Allocation>) -> ConnectionFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn the_client_finds_its_allocations_by_id_and_only_those() {
    let data = tempfile::tempdir().expect("dir");
    let ctx = context(data.path());
    let (stop_tx, stopping) = watch::channel(false);
    let servers = Arc::new(FakeServers {
        alloc: allocation(SIGNALS, "a-client"),
        stopping,
    });
    let client = start_client(servers, ctx.clone(), ctx.node.clone());

    assert!(client.alloc("a-unknown").is_none());
    let allocations = client.allocations();
    let control = eventually("the client running a-client", || {
        allocations.alloc("a-client")
    })
    .await;
    assert_eq!(control.alloc_id(), "a-client");
    until_logged(data.path(), "a-client", "server", "ready").await;
    eventually("the client reporting server running", || {
        allocations
            .allocation("a-client")?
            .task_states
            .get("server")
            .is_some_and(|s| s.state == TaskRunState::Running)
            .then_some(())
    })
    .await;
    control
        .signal_task(Some("server"), "HUP")
        .await
        .expect("signal through the client");
    until_logged(data.path(), "a-client", "server", "got-hup").await;
    let unknown = control.restart_task(Some("web")).await.unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "allocation a-client has no task \"web\""
    );

    // The servers stop it; its control stays, with nothing running.
    stop_tx.send(true).expect("stop");
    let nothing_running = Err(ControlError::NothingRunning("a-client".to_owned()));
    let mut answer = Ok(());
    for _ in 0..500 {
        // While it is being stopped the answer may be that the task no
        // longer runs; once stopped, that nothing does.
        answer = control.signal_task(None, "HUP").await;
        if answer == nothing_running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(answer, nothing_running);
    drop(client);
}
