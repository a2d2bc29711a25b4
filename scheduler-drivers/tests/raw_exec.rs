//! `raw_exec` against real processes: exit codes, environment, logs,
//! signals, stop escalation, stats, and re-attaching after the client's
//! driver is gone.

use std::time::Duration;

use scheduler_core::driver::{DriverError, TaskDriver};
use scheduler_drivers::logs::log_files;
use scheduler_drivers::raw_exec::RawExecDriver;

mod common;
use common::{executor, shell_task, stdout_of, until_logged};

fn driver() -> RawExecDriver {
    RawExecDriver::new(executor())
}

#[tokio::test]
async fn a_task_runs_with_its_environment_and_directory_and_reports_its_exit_code() {
    let root = tempfile::tempdir().expect("dir");
    let spec = shell_task(
        root.path(),
        "web",
        "echo \"$GREETING from $(pwd)\"; echo oops >&2; exit 3",
    );
    let driver = driver();
    let handle = driver.start(&spec).await.expect("start");
    assert_eq!(handle.driver, "raw_exec");
    let exit = driver.wait(&spec.id).await.expect("wait");
    assert_eq!(exit.exit_code, 3);
    assert_eq!(exit.signal, None);
    assert!(!exit.successful());
    // A second wait gives the same answer.
    assert_eq!(driver.wait(&spec.id).await.expect("wait again"), exit);
    assert_eq!(
        stdout_of(&spec),
        format!("hello from {}\n", spec.task_dir.display())
    );
    let stderr: String = log_files(&spec.logs.dir, "web", "stderr")
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert_eq!(stderr, "oops\n");
    driver.destroy(&spec.id).await.expect("destroy");
    assert!(
        !spec.state_dir.exists(),
        "destroy removes the driver's state"
    );
}

#[tokio::test]
async fn a_missing_program_or_a_bad_config_fails_the_start_clearly() {
    let root = tempfile::tempdir().expect("dir");
    let mut spec = shell_task(root.path(), "bad", "true");
    spec.config.insert(
        "command".to_owned(),
        serde_json::json!("/nonexistent/redis-server"),
    );
    let err = driver().start(&spec).await.unwrap_err();
    assert!(
        matches!(&err, DriverError::StartFailed(m) if m.contains("/nonexistent/redis-server")),
        "{err}"
    );
    spec.config.remove("command");
    let err = driver().start(&spec).await.unwrap_err();
    assert_eq!(
        err,
        DriverError::InvalidConfig("config.command: required".to_owned())
    );
}

#[tokio::test]
async fn stop_sends_the_kill_signal_and_kills_after_the_timeout() {
    let root = tempfile::tempdir().expect("dir");
    let driver = driver();

    // A task that shuts down cleanly on its kill signal (SIGINT here).
    let mut graceful = shell_task(
        root.path(),
        "graceful",
        "trap 'echo got INT; exit 0' INT; trap '' TERM; echo ready; while :; do sleep 0.05; done",
    );
    graceful.kill_signal = "SIGINT".to_owned();
    driver.start(&graceful).await.expect("start");
    until_logged(&graceful, "ready").await;
    let started = tokio::time::Instant::now();
    let exit = driver
        .stop(&graceful.id, None, Duration::from_secs(5))
        .await
        .expect("stop");
    assert!(exit.successful(), "{exit:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(stdout_of(&graceful).contains("got INT"));

    // A task that ignores it is killed once the timeout passes.
    let stubborn = shell_task(
        root.path(),
        "stubborn",
        "trap '' TERM; echo ready; while :; do sleep 0.05; done",
    );
    driver.start(&stubborn).await.expect("start");
    until_logged(&stubborn, "ready").await;
    let started = tokio::time::Instant::now();
    let exit = driver
        .stop(&stubborn.id, Some("SIGTERM"), Duration::from_millis(400))
        .await
        .expect("stop");
    assert_eq!(exit.signal, Some(9), "{exit:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    // Nothing of the task's process group is left.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = driver.stats(&stubborn.id).await.expect("stats");
    assert_eq!(stats.processes, 0);
}

#[tokio::test]
async fn signals_reach_the_task_and_stats_report_its_use() {
    let root = tempfile::tempdir().expect("dir");
    let driver = driver();
    let spec = shell_task(
        root.path(),
        "busy",
        "trap 'echo got USR1' USR1; echo ready; i=0; while [ $i -lt 2000000 ]; do i=$((i+1)); done; while :; do sleep 0.05; done",
    );
    driver.start(&spec).await.expect("start");
    until_logged(&spec, "ready").await;
    driver.signal(&spec.id, "SIGUSR1").await.expect("signal");
    until_logged(&spec, "got USR1").await;
    assert!(matches!(
        driver.signal(&spec.id, "SIGBOGUS").await,
        Err(DriverError::InvalidConfig(_))
    ));
    // Busy for a while: CPU time accrues.
    let mut stats = driver.stats(&spec.id).await.expect("stats");
    for _ in 0..100 {
        if stats.cpu_time >= Duration::from_millis(100) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = driver.stats(&spec.id).await.expect("stats");
    }
    assert!(stats.cpu_time >= Duration::from_millis(100), "{stats:?}");
    assert!(stats.memory_rss_bytes > 0);
    assert!(stats.processes >= 1);
    driver.destroy(&spec.id).await.expect("destroy");
}

#[tokio::test]
async fn a_new_driver_re_attaches_to_running_and_finished_tasks() {
    let root = tempfile::tempdir().expect("dir");
    let long = shell_task(
        root.path(),
        "long",
        "echo ready; while :; do sleep 0.05; done",
    );
    let short = shell_task(root.path(), "short", "sleep 0.3; exit 7");
    let (long_handle, short_handle) = {
        let first = driver();
        let long_handle = first.start(&long).await.expect("start");
        let short_handle = first.start(&short).await.expect("start");
        until_logged(&long, "ready").await;
        (long_handle, short_handle)
        // The first driver (the client) goes away here; its tasks do not.
    };
    // The short task ends while no driver watches.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let second = driver();
    second.recover(&long_handle).await.expect("recover long");
    second.recover(&short_handle).await.expect("recover short");
    let exit = second.wait(&short.id).await.expect("wait");
    assert_eq!(exit.exit_code, 7);
    let stats = second.stats(&long.id).await.expect("stats");
    assert!(stats.processes >= 1, "the long task still runs: {stats:?}");
    // Still one copy: exactly one "ready" line.
    assert_eq!(stdout_of(&long).matches("ready").count(), 1);
    let exit = second
        .stop(&long.id, None, Duration::from_secs(5))
        .await
        .expect("stop");
    assert_eq!(exit.signal, Some(15));

    // A handle whose task left nothing behind is refused, not restarted.
    second.destroy(&short.id).await.expect("destroy");
    let err = second.recover(&short_handle).await.unwrap_err();
    assert!(matches!(err, DriverError::NotRecoverable(_)), "{err}");
}

#[tokio::test]
async fn output_is_rotated_into_a_bounded_number_of_files() {
    let root = tempfile::tempdir().expect("dir");
    let mut spec = shell_task(
        root.path(),
        "chatty",
        "i=0; while [ $i -lt 400 ]; do echo \"line $i of the chatty task\"; i=$((i+1)); done",
    );
    spec.logs.max_files = 3;
    spec.logs.max_file_bytes = 1000;
    let driver = driver();
    driver.start(&spec).await.expect("start");
    assert!(driver.wait(&spec.id).await.expect("wait").successful());
    let files = log_files(&spec.logs.dir, "chatty", "stdout");
    assert_eq!(files.len(), 3, "{files:?}");
    for file in &files {
        assert!(std::fs::metadata(file).unwrap().len() <= 1000);
    }
    assert!(stdout_of(&spec).ends_with("line 399 of the chatty task\n"));
}

#[tokio::test]
async fn a_task_runs_as_its_user() {
    let root = tempfile::tempdir().expect("dir");
    let mut spec = shell_task(root.path(), "as-nobody", "id -u");
    spec.user = "nobody".to_owned();
    // The task's directory must be usable by the user.
    let driver = driver();
    if nix::unistd::geteuid().is_root() {
        driver.start(&spec).await.expect("start");
        let exit = driver.wait(&spec.id).await.expect("wait");
        assert!(exit.successful(), "{exit:?}");
        let nobody = nix::unistd::User::from_name("nobody")
            .unwrap()
            .expect("nobody exists");
        assert_eq!(stdout_of(&spec).trim(), nobody.uid.to_string());
    } else {
        // Only root may switch users: the start fails and says so.
        let err = driver.start(&spec).await.unwrap_err();
        assert!(matches!(err, DriverError::StartFailed(_)), "{err}");
    }
    spec.user = "no-such-user-here".to_owned();
    spec.id = "a1/unknown-user".to_owned();
    spec.state_dir = root.path().join("state/unknown-user");
    let err = driver.start(&spec).await.unwrap_err();
    assert!(err.to_string().contains("no-such-user-here"), "{err}");
}

/// A client started in the background of a script (or under `nohup`)
/// runs with SIGINT and SIGQUIT ignored, and ignored signals survive
/// `exec`. Its tasks must still start with default signal actions, so a
/// kill signal of SIGINT stops them gently rather than at the timeout.
#[tokio::test]
async fn a_task_gets_its_kill_signal_when_the_client_ignores_it() {
    use std::os::unix::fs::PermissionsExt;

    let root = tempfile::tempdir().expect("dir");
    // The executor as a background client would start it: SIGINT and
    // SIGQUIT ignored (`trap ''` sets SIG_IGN, which `exec` keeps).
    let wrapper = root.path().join("executor-ignoring-int");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ntrap '' INT QUIT\nexec '{}' \"$@\"\n",
            executor().display()
        ),
    )
    .expect("wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let driver = RawExecDriver::new(wrapper);

    let mut task = shell_task(
        root.path(),
        "graceful",
        "grep SigIgn /proc/$$/status; trap 'echo got INT; exit 0' INT; echo ready; while :; do sleep 0.05; done",
    );
    task.kill_signal = "SIGINT".to_owned();
    driver.start(&task).await.expect("start");
    until_logged(&task, "ready").await;
    let exit = driver
        .stop(&task.id, None, Duration::from_secs(3))
        .await
        .expect("stop");
    assert!(
        exit.successful(),
        "{exit:?}; task output: {}",
        stdout_of(&task)
    );
    assert!(stdout_of(&task).contains("got INT"));
}
