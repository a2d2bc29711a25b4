//! The task runner with real processes: the restart policy applied to a
//! task that keeps failing, a batch task that completes, and a stop.

use std::sync::Arc;
use std::time::Duration;

use scheduler_core::model::{Duration as ModelDuration, JobType, RestartPolicy, TaskRunState};
use scheduler_core::restart::RestartTracker;
use scheduler_drivers::raw_exec::RawExecDriver;
use scheduler_drivers::runner::start_task;

mod common;
use common::{executor, shell_task, stdout_of, until_logged};

fn policy(attempts: i64, delay_ms: i64, mode: &str) -> RestartPolicy {
    RestartPolicy {
        attempts: Some(attempts),
        interval: Some(ModelDuration::from_secs(60)),
        delay: Some(ModelDuration::from_millis(delay_ms)),
        mode: Some(mode.to_owned()),
        render_templates: None,
    }
}

fn event_types(state: &scheduler_core::model::TaskState) -> Vec<String> {
    state.events.iter().map(|e| e.event_type.clone()).collect()
}

#[tokio::test]
async fn a_task_that_exits_1_is_restarted_twice_then_fails() {
    let root = tempfile::tempdir().expect("dir");
    let spec = shell_task(root.path(), "flaky", "echo attempt; exit 1");
    let runner = start_task(
        Arc::new(RawExecDriver::new(executor())),
        spec.clone(),
        RestartTracker::new(&policy(2, 100, "fail"), &JobType::Service),
    );
    let state = tokio::time::timeout(Duration::from_secs(30), runner.finished())
        .await
        .expect("the runner gives up");
    assert_eq!(state.state, TaskRunState::Dead);
    assert!(state.failed);
    assert_eq!(state.restarts, 2);
    assert_eq!(
        event_types(&state),
        [
            "Received",
            "Started",
            "Terminated",
            "Restarting",
            "Started",
            "Terminated",
            "Restarting",
            "Started",
            "Terminated",
            "Not Restarting"
        ]
    );
    let terminated: Vec<i32> = state
        .events
        .iter()
        .filter(|e| e.event_type == "Terminated")
        .map(|e| e.exit_code)
        .collect();
    assert_eq!(terminated, [1, 1, 1]);
    // Three real runs, each with its own output in the same log.
    assert_eq!(stdout_of(&spec).matches("attempt").count(), 3);
    // The delay was kept between attempts.
    let restarts: Vec<i64> = state
        .events
        .iter()
        .filter(|e| e.event_type == "Started")
        .map(|e| e.time)
        .collect();
    assert!(restarts.windows(2).all(|w| w[1] - w[0] >= 100_000_000));
}

#[tokio::test]
async fn a_batch_task_that_succeeds_completes_without_restarting() {
    let root = tempfile::tempdir().expect("dir");
    let spec = shell_task(root.path(), "once", "echo done");
    let runner = start_task(
        Arc::new(RawExecDriver::new(executor())),
        spec,
        RestartTracker::new(&policy(3, 100, "fail"), &JobType::Batch),
    );
    let state = runner.finished().await;
    assert_eq!(state.state, TaskRunState::Dead);
    assert!(!state.failed);
    assert_eq!(event_types(&state), ["Received", "Started", "Terminated"]);
}

#[tokio::test]
async fn a_stop_kills_the_task_and_it_is_not_restarted() {
    let root = tempfile::tempdir().expect("dir");
    let spec = shell_task(
        root.path(),
        "server",
        "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
    );
    let runner = start_task(
        Arc::new(RawExecDriver::new(executor())),
        spec.clone(),
        RestartTracker::new(&policy(3, 100, "fail"), &JobType::Service),
    );
    until_logged(&spec, "ready").await;
    let mut state = runner.state.clone();
    state
        .wait_for(|s| s.state == TaskRunState::Running)
        .await
        .expect("running");
    assert!(runner.handle.borrow().is_some(), "the handle is published");
    runner.stop("alloc stopped by the user");
    let state = tokio::time::timeout(Duration::from_secs(10), runner.finished())
        .await
        .expect("stops");
    assert_eq!(state.state, TaskRunState::Dead);
    assert!(!state.failed);
    assert_eq!(
        event_types(&state),
        ["Received", "Started", "Killing", "Killed"]
    );
    assert_eq!(state.events[2].kill_reason, "alloc stopped by the user");
    assert!(stdout_of(&spec).contains("bye"));
}
