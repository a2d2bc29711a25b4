//! `raw_exec`: a task is a process on the host, with the task's
//! environment, working directory and user, and no isolation.
//!
//! Each task runs under a [`crate::executor`] so it outlives the client and
//! its exit is recorded even while no client runs. The handle the client
//! persists names the executor and the task by pid and start time, so a
//! recover never mistakes a new process that reused a pid for the task.
//!
//! Task configuration (`config { ... }`): `command` (required) and `args`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use scheduler_core::driver::{
    Capabilities, DriverError, DriverFingerprint, DriverFuture, DriverHealth, ExitResult,
    FsIsolation, TaskDriver, TaskHandle, TaskSpec, TaskStats, signal_number,
};

use crate::executor::{EXIT_FILE, ExecutorSpec, SPEC_FILE, STARTED_FILE, StartRecord};
use crate::process::{ProcessId, group_usage, signal_group, signal_process, write_atomically};

/// The driver's name in job files.
pub const NAME: &str = "raw_exec";

/// How often a waiting caller looks at the task's exit record.
const WAIT_POLL: Duration = Duration::from_millis(20);

/// How long `start` waits for the executor to report the task running.
const START_WAIT: Duration = Duration::from_secs(10);

/// The `raw_exec` driver.
#[derive(Debug)]
pub struct RawExecDriver {
    executor: PathBuf,
    tasks: SupervisedTasks,
}

/// A task under an executor, as the handle records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Supervised {
    pub(crate) state_dir: PathBuf,
    pub(crate) executor: ProcessId,
    pub(crate) task: ProcessId,
    pub(crate) kill_signal: String,
    pub(crate) kill_timeout: Duration,
}

/// What `config { ... }` may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommandConfig {
    pub(crate) command: String,
    pub(crate) args: Vec<String>,
}

impl CommandConfig {
    /// Reads `command` and `args`; any other key is an error naming it.
    pub(crate) fn parse(
        driver: &str,
        config: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Self, DriverError> {
        let invalid = |message: String| DriverError::InvalidConfig(message);
        if let Some(unknown) = config
            .keys()
            .find(|k| !matches!(k.as_str(), "command" | "args"))
        {
            return Err(invalid(format!(
                "config.{unknown}: not an option of the {driver} driver (it takes command and args)"
            )));
        }
        let command = match config.get("command") {
            Some(serde_json::Value::String(command)) if !command.trim().is_empty() => {
                command.clone()
            }
            Some(other) => {
                return Err(invalid(format!(
                    "config.command: expected a non-empty string, found {other}"
                )));
            }
            None => return Err(invalid("config.command: required".to_owned())),
        };
        let args = match config.get("args") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    serde_json::Value::String(s) => Ok(s.clone()),
                    other => Err(invalid(format!(
                        "config.args[{i}]: expected a string, found {other}"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(invalid(format!(
                    "config.args: expected a list of strings, found {other}"
                )));
            }
        };
        Ok(Self { command, args })
    }
}

impl RawExecDriver {
    /// A driver that supervises tasks with the `sched-executor` binary at
    /// `executor` (see [`crate::executor::locate`]).
    pub fn new(executor: PathBuf) -> Self {
        Self {
            executor,
            tasks: SupervisedTasks::default(),
        }
    }
}

/// Starts `spec` under an executor: the shared part of the process-based
/// drivers (`raw_exec` here; `exec` and `java` add isolation).
pub(crate) async fn start_supervised(
    executor_binary: &Path,
    spec: &TaskSpec,
    executor_spec: &ExecutorSpec,
) -> Result<Supervised, DriverError> {
    let io = |what: &str, err: std::io::Error| DriverError::Io(format!("{what}: {err}"));
    let state_dir = &spec.state_dir;
    std::fs::create_dir_all(state_dir).map_err(|e| io("state directory", e))?;
    for stale in [STARTED_FILE, EXIT_FILE] {
        let _ = std::fs::remove_file(state_dir.join(stale));
    }
    let bytes = serde_json::to_vec_pretty(executor_spec)
        .map_err(|e| DriverError::Io(format!("executor spec: {e}")))?;
    write_atomically(&state_dir.join(SPEC_FILE), &bytes).map_err(|e| io("executor spec", e))?;
    let log =
        std::fs::File::create(state_dir.join("executor.log")).map_err(|e| io("executor log", e))?;
    let log_err = log.try_clone().map_err(|e| io("executor log", e))?;
    let mut child = tokio::process::Command::new(executor_binary)
        .arg(state_dir)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| {
            DriverError::StartFailed(format!(
                "cannot run the executor {}: {e}",
                executor_binary.display()
            ))
        })?;
    let started = crate::clock::monotonic();
    loop {
        if let Ok(bytes) = std::fs::read(state_dir.join(STARTED_FILE)) {
            // The executor stays the client's child until the client
            // exits; reap it when it ends so it leaves no zombie.
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
            return match serde_json::from_slice::<StartRecord>(&bytes) {
                Ok(StartRecord::Running { executor, task }) => Ok(Supervised {
                    state_dir: state_dir.clone(),
                    executor,
                    task,
                    kill_signal: spec.kill_signal.clone(),
                    kill_timeout: spec.kill_timeout,
                }),
                Ok(StartRecord::Failed { error }) => Err(DriverError::StartFailed(error)),
                Err(err) => Err(DriverError::Io(format!("start record: {err}"))),
            };
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(state_dir.join("executor.log")).unwrap_or_default();
            return Err(DriverError::StartFailed(format!(
                "the executor exited ({status}) before the task started: {}",
                log.trim()
            )));
        }
        if started.elapsed() > START_WAIT {
            let _ = child.start_kill();
            return Err(DriverError::StartFailed(format!(
                "the executor did not start the task within {START_WAIT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Resolves once the supervised task's exit is recorded.
pub(crate) async fn wait_supervised(task: &Supervised) -> ExitResult {
    let exit_path = task.state_dir.join(EXIT_FILE);
    loop {
        if let Some(exit) = read_exit(&exit_path) {
            return exit;
        }
        if !task.executor.is_alive() {
            // It may have written the record just before it ended.
            if let Some(exit) = read_exit(&exit_path) {
                return exit;
            }
            let log =
                std::fs::read_to_string(task.state_dir.join("executor.log")).unwrap_or_default();
            return ExitResult {
                exit_code: -1,
                err: Some(format!(
                    "the task's executor ended without recording its exit: {}",
                    log.trim()
                )),
                ..ExitResult::default()
            };
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
}

fn read_exit(path: &Path) -> Option<ExitResult> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn parse_signal(name: &str) -> Result<Signal, DriverError> {
    signal_number(name)
        .and_then(|n| Signal::try_from(n).ok())
        .ok_or_else(|| DriverError::InvalidConfig(format!("unknown signal {name:?}")))
}

/// Signal, wait up to `timeout`, kill: the shared `stop`.
pub(crate) async fn stop_supervised(
    task: &Supervised,
    signal: Option<&str>,
    timeout: Duration,
) -> Result<ExitResult, DriverError> {
    let name = signal
        .filter(|s| !s.is_empty())
        .or(Some(task.kill_signal.as_str()).filter(|s| !s.is_empty()))
        .unwrap_or("SIGTERM");
    let first = parse_signal(name)?;
    if read_exit(&task.state_dir.join(EXIT_FILE)).is_none() {
        signal_group(&task.task, first);
    }
    if let Ok(exit) = tokio::time::timeout(timeout, wait_supervised(task)).await {
        return Ok(exit);
    }
    signal_group(&task.task, Signal::SIGKILL);
    tokio::time::timeout(Duration::from_secs(10), wait_supervised(task))
        .await
        .map_err(|_| DriverError::Io("the task survived SIGKILL for 10 s".to_owned()))
}

/// Kills whatever still runs and removes the driver's state: the shared
/// `destroy`.
pub(crate) async fn destroy_supervised(task: &Supervised) {
    if signal_group(&task.task, Signal::SIGKILL) {
        let _ = tokio::time::timeout(Duration::from_secs(10), wait_supervised(task)).await;
    }
    let _ = std::fs::remove_dir_all(&task.state_dir);
}

/// Whether a recovered handle still names something: the task, its
/// executor, or a recorded exit.
pub(crate) fn recoverable(task: &Supervised) -> bool {
    task.state_dir.join(EXIT_FILE).exists() || task.task.is_alive() || task.executor.is_alive()
}

/// The tasks a process-based driver supervises, by task id: what
/// `raw_exec`, `exec` and `java` share beyond starting.
#[derive(Debug, Default)]
pub(crate) struct SupervisedTasks {
    tasks: Mutex<BTreeMap<String, Arc<Supervised>>>,
}

impl SupervisedTasks {
    pub(crate) fn get(&self, task_id: &str) -> Result<Arc<Supervised>, DriverError> {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(task_id)
            .cloned()
            .ok_or_else(|| DriverError::UnknownTask(task_id.to_owned()))
    }

    /// Records a started task; its handle.
    pub(crate) fn started(
        &self,
        driver: &str,
        task_id: &str,
        task: Supervised,
    ) -> Result<TaskHandle, DriverError> {
        let handle = TaskHandle {
            driver: driver.to_owned(),
            task_id: task_id.to_owned(),
            state: serde_json::to_value(&task)
                .map_err(|e| DriverError::Io(format!("handle: {e}")))?,
        };
        self.insert(task_id, task);
        Ok(handle)
    }

    fn insert(&self, task_id: &str, task: Supervised) {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(task_id.to_owned(), Arc::new(task));
    }

    pub(crate) fn recover(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let task: Supervised = serde_json::from_value(handle.state.clone()).map_err(|e| {
            DriverError::NotRecoverable(format!("handle of {}: {e}", handle.task_id))
        })?;
        if !recoverable(&task) {
            return Err(DriverError::NotRecoverable(format!(
                "{}: neither the task nor its executor runs, and no exit was recorded",
                handle.task_id
            )));
        }
        self.insert(&handle.task_id, task);
        Ok(())
    }

    pub(crate) async fn wait(&self, task_id: &str) -> Result<ExitResult, DriverError> {
        let task = self.get(task_id)?;
        Ok(wait_supervised(&task).await)
    }

    pub(crate) async fn stop(
        &self,
        task_id: &str,
        signal: Option<&str>,
        timeout: Duration,
    ) -> Result<ExitResult, DriverError> {
        let task = self.get(task_id)?;
        stop_supervised(&task, signal, timeout).await
    }

    pub(crate) fn stats(&self, task_id: &str) -> Result<TaskStats, DriverError> {
        let task = self.get(task_id)?;
        let (cpu_time, memory_rss_bytes, processes) = group_usage(task.task.pid);
        Ok(TaskStats {
            cpu_time,
            memory_rss_bytes,
            processes,
        })
    }

    pub(crate) async fn destroy(&self, task_id: &str) -> Result<(), DriverError> {
        let task = self.get(task_id)?;
        destroy_supervised(&task).await;
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(task_id);
        Ok(())
    }
}

impl TaskDriver for RawExecDriver {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            send_signals: true,
            exec: false,
            fs_isolation: FsIsolation::None,
            enforces_limits: false,
        }
    }

    fn fingerprint(&self) -> DriverFuture<'_, DriverFingerprint> {
        Box::pin(async move {
            let (health, description) = if self.executor.is_file() {
                (DriverHealth::Healthy, "healthy".to_owned())
            } else {
                (
                    DriverHealth::Unhealthy,
                    format!("executor {} not found", self.executor.display()),
                )
            };
            Ok(DriverFingerprint {
                health,
                description,
                attributes: BTreeMap::from([(format!("driver.{NAME}"), "1".to_owned())]),
            })
        })
    }

    fn start<'a>(&'a self, spec: &'a TaskSpec) -> DriverFuture<'a, TaskHandle> {
        Box::pin(async move {
            let config = CommandConfig::parse(NAME, &spec.config)?;
            let executor_spec = ExecutorSpec {
                command: config.command,
                args: config.args,
                env: spec.env.clone(),
                cwd: spec.task_dir.clone(),
                user: spec.user.clone(),
                task_name: spec.name.clone(),
                logs: spec.logs.clone(),
                isolation: None,
            };
            let task = start_supervised(&self.executor, spec, &executor_spec).await?;
            self.tasks.started(NAME, &spec.id, task)
        })
    }

    fn recover<'a>(&'a self, handle: &'a TaskHandle) -> DriverFuture<'a, ()> {
        Box::pin(async move { self.tasks.recover(handle) })
    }

    fn wait<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, ExitResult> {
        Box::pin(self.tasks.wait(task_id))
    }

    fn stop<'a>(
        &'a self,
        task_id: &'a str,
        signal: Option<&'a str>,
        timeout: Duration,
    ) -> DriverFuture<'a, ExitResult> {
        Box::pin(self.tasks.stop(task_id, signal, timeout))
    }

    fn signal<'a>(&'a self, task_id: &'a str, signal: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            let task = self.tasks.get(task_id)?;
            let signal = parse_signal(signal)?;
            if signal_process(&task.task, signal) {
                Ok(())
            } else {
                Err(DriverError::Io(format!("task {task_id} is not running")))
            }
        })
    }

    fn stats<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, TaskStats> {
        Box::pin(async move { self.tasks.stats(task_id) })
    }

    fn destroy<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(self.tasks.destroy(task_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_value(json).expect("map")
    }

    #[test]
    fn config_errors_name_the_field() {
        let err = |json| {
            CommandConfig::parse(NAME, &config(json))
                .unwrap_err()
                .to_string()
        };
        assert!(err(serde_json::json!({})).contains("config.command: required"));
        assert!(err(serde_json::json!({"command": 3})).contains("config.command"));
        assert!(
            err(serde_json::json!({"command": "x", "args": ["a", 1]})).contains("config.args[1]")
        );
        assert!(
            err(serde_json::json!({"command": "x", "image": "redis"})).contains("config.image")
        );
        let ok = CommandConfig::parse(
            NAME,
            &config(serde_json::json!({"command": "x", "args": ["-v"]})),
        )
        .expect("valid");
        assert_eq!(ok.args, ["-v"]);
    }
}
