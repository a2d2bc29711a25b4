//! The task runner: one task of an allocation, from start to dead, through
//! its driver, applying its restart policy and recording Nomad's task
//! events (`Received`, `Started`, `Terminated`, `Restarting`,
//! `Not Restarting`, `Killing`, `Killed`, `Driver Failure`).
//!
//! The runner publishes its [`TaskState`] on a watch channel: the client
//! sends the servers only changes of it, not a poll of every task.

use std::sync::Arc;

use tokio::sync::watch;

use scheduler_core::driver::{DriverError, ExitResult, TaskDriver, TaskHandle, TaskSpec};
use scheduler_core::model::{TaskEvent, TaskRunState, TaskState};
use scheduler_core::restart::{RestartDecision, RestartTracker};

/// Told to the runner to stop its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRequest {
    /// Why (the `Killing` event's reason).
    pub reason: String,
}

/// A running task runner.
#[derive(Debug)]
pub struct TaskRunnerHandle {
    stop: watch::Sender<Option<StopRequest>>,
    /// The task's state, updated on every event.
    pub state: watch::Receiver<TaskState>,
    /// The handle of the current attempt, for the client to persist.
    pub handle: watch::Receiver<Option<TaskHandle>>,
    done: tokio::task::JoinHandle<TaskState>,
}

impl TaskRunnerHandle {
    /// Asks the runner to stop the task (kill signal, timeout, kill) and
    /// not restart it.
    pub fn stop(&self, reason: &str) {
        let _ = self.stop.send(Some(StopRequest {
            reason: reason.to_owned(),
        }));
    }

    /// Waits for the task to be dead for good; its final state.
    pub async fn finished(self) -> TaskState {
        self.done.await.unwrap_or_default()
    }
}

fn now_nanos() -> i64 {
    crate::clock::unix_nanos()
}

fn event(event_type: &str) -> TaskEvent {
    TaskEvent {
        event_type: event_type.to_owned(),
        time: now_nanos(),
        ..TaskEvent::default()
    }
}

fn now_rfc3339() -> String {
    let nanos = now_nanos();
    let seconds = nanos.div_euclid(1_000_000_000);
    // Days since the epoch to a civil date (Howard Hinnant's algorithm).
    let days = seconds.div_euclid(86_400);
    let time = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

struct Runner {
    driver: Arc<dyn TaskDriver>,
    spec: TaskSpec,
    tracker: RestartTracker,
    state: watch::Sender<TaskState>,
    handle: watch::Sender<Option<TaskHandle>>,
    stop: watch::Receiver<Option<StopRequest>>,
    /// A handle persisted by an earlier client, to re-attach to first.
    recovered: Option<TaskHandle>,
}

impl Runner {
    fn record(&self, event: TaskEvent) {
        self.state.send_modify(|state| state.events.push(event));
    }

    fn set(&self, change: impl FnOnce(&mut TaskState)) {
        self.state.send_modify(change);
    }

    fn stop_requested(&self) -> Option<StopRequest> {
        self.stop.borrow().clone()
    }

    async fn kill(&mut self, request: StopRequest) {
        let mut killing = event("Killing");
        killing.kill_reason = request.reason.clone();
        killing.kill_timeout = scheduler_core::model::Duration(
            i64::try_from(self.spec.kill_timeout.as_nanos()).unwrap_or(i64::MAX),
        );
        self.record(killing);
        let stopped = self
            .driver
            .stop(&self.spec.id, None, self.spec.kill_timeout)
            .await;
        let mut killed = event("Killed");
        match stopped {
            Ok(exit) => {
                killed.exit_code = exit.exit_code;
                killed.signal = exit.signal.unwrap_or(0);
            }
            Err(err) => killed.kill_error = err.to_string(),
        }
        self.record(killed);
    }

    /// Re-attaches to the recovered handle, or starts the task; whether
    /// it was started anew.
    async fn start_or_reattach(&mut self) -> (Result<TaskHandle, DriverError>, bool) {
        if let Some(handle) = self.recovered.take() {
            match self.driver.recover(&handle).await {
                Ok(()) => return (Ok(handle), false),
                Err(err) => {
                    let mut failure = event("Driver Failure");
                    failure.driver_error = format!("re-attaching failed, starting anew: {err}");
                    self.record(failure);
                }
            }
        }
        (self.driver.start(&self.spec).await, true)
    }

    async fn run(mut self) -> TaskState {
        if self.recovered.is_none() {
            self.record(event("Received"));
        }
        loop {
            if let Some(request) = self.stop_requested() {
                return self.finish(false, Some(request)).await;
            }
            let (started, anew) = self.start_or_reattach().await;
            let exit = match started {
                Ok(handle) => {
                    self.set(|state| {
                        state.state = TaskRunState::Running;
                        if state.started_at.is_empty() {
                            state.started_at = now_rfc3339();
                        }
                    });
                    if anew {
                        self.record(event("Started"));
                    }
                    // The handle last: whoever persists it finds the state
                    // that goes with it already published.
                    let _ = self.handle.send(Some(handle));
                    tokio::select! {
                        exit = self.driver.wait(&self.spec.id) => exit,
                        () = stop_requested(self.stop.clone()) => {
                            let request = self.stop_requested().unwrap_or(StopRequest {
                                reason: "stopped".to_owned(),
                            });
                            self.kill(request).await;
                            let _ = self.driver.destroy(&self.spec.id).await;
                            return self.finish(false, None).await;
                        }
                    }
                }
                Err(err @ DriverError::InvalidConfig(_)) => {
                    // A wrong config will not get better by restarting.
                    let mut failure = event("Failed Validation");
                    failure.validation_error = err.to_string();
                    failure.fails_task = true;
                    self.record(failure);
                    return self.finish(true, None).await;
                }
                Err(err) => {
                    let mut failure = event("Driver Failure");
                    failure.driver_error = err.to_string();
                    self.record(failure);
                    Err(err)
                }
            };
            let successful = match &exit {
                Ok(exit) => {
                    self.record(terminated(exit));
                    exit.successful()
                }
                Err(_) => false,
            };
            let _ = self.driver.destroy(&self.spec.id).await;
            match self.tracker.on_exit(now_nanos(), successful) {
                RestartDecision::Complete => return self.finish(false, None).await,
                RestartDecision::Fail { reason } => {
                    let mut not_restarting = event("Not Restarting");
                    not_restarting.restart_reason = reason;
                    not_restarting.fails_task = true;
                    self.record(not_restarting);
                    return self.finish(true, None).await;
                }
                RestartDecision::Restart { after, reason } => {
                    let mut restarting = event("Restarting");
                    restarting.restart_reason = reason;
                    restarting.start_delay = i64::try_from(after.as_nanos()).unwrap_or(i64::MAX);
                    self.record(restarting);
                    self.set(|state| {
                        state.state = TaskRunState::Pending;
                        state.restarts += 1;
                        state.last_restart = now_rfc3339();
                    });
                    tokio::select! {
                        () = tokio::time::sleep(after) => {}
                        () = stop_requested(self.stop.clone()) => {
                            return self.finish(false, None).await;
                        }
                    }
                }
            }
        }
    }

    async fn finish(self, failed: bool, pending_stop: Option<StopRequest>) -> TaskState {
        if let Some(request) = pending_stop {
            let mut killed = event("Killed");
            killed.kill_reason = request.reason;
            self.record(killed);
        }
        self.set(|state| {
            state.state = TaskRunState::Dead;
            state.failed = failed;
            state.finished_at = now_rfc3339();
        });
        self.state.borrow().clone()
    }
}

/// Resolves once a stop is requested (never, if the sender is gone).
async fn stop_requested(mut stop: watch::Receiver<Option<StopRequest>>) {
    if stop.wait_for(Option::is_some).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn terminated(exit: &ExitResult) -> TaskEvent {
    let mut terminated = event("Terminated");
    terminated.exit_code = exit.exit_code;
    terminated.signal = exit.signal.unwrap_or(0);
    if exit.oom_killed {
        terminated
            .details
            .insert("oom_killed".to_owned(), "true".to_owned());
    }
    if let Some(err) = &exit.err {
        terminated.message = err.clone();
    }
    terminated
}

/// Starts a runner for `spec` on `driver` with its restart tracker.
pub fn start_task(
    driver: Arc<dyn TaskDriver>,
    spec: TaskSpec,
    tracker: RestartTracker,
) -> TaskRunnerHandle {
    resume_task(driver, spec, tracker, None, TaskState::default())
}

/// A runner that first re-attaches to `recovered` (a handle an earlier
/// client persisted, with the task's state then) and starts the task
/// anew only if that fails.
pub fn resume_task(
    driver: Arc<dyn TaskDriver>,
    spec: TaskSpec,
    tracker: RestartTracker,
    recovered: Option<TaskHandle>,
    earlier: TaskState,
) -> TaskRunnerHandle {
    let (state_tx, state) = watch::channel(earlier);
    let (handle_tx, handle) = watch::channel(None);
    let (stop, stop_rx) = watch::channel(None);
    let runner = Runner {
        driver,
        spec,
        tracker,
        state: state_tx,
        handle: handle_tx,
        stop: stop_rx,
        recovered,
    };
    let done = tokio::spawn(runner.run());
    TaskRunnerHandle {
        stop,
        state,
        handle,
        done,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_rfc3339() {
        let text = super::now_rfc3339();
        assert_eq!(text.len(), 20, "{text}");
        assert!(text.starts_with("20") && text.ends_with('Z'), "{text}");
    }
}
