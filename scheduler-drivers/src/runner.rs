//! The task runner: one task of an allocation, from start to dead, through
//! its driver, applying its restart policy and recording Nomad's task
//! events (`Received`, `Started`, `Terminated`, `Restarting`,
//! `Not Restarting`, `Killing`, `Killed`, `Driver Failure`, and for
//! on-demand requests `Restart Signaled` and `Signaling`).
//!
//! The runner publishes its [`TaskState`] on a watch channel: the client
//! sends the servers only changes of it, not a poll of every task.
//!
//! A [`TaskControl`] asks a running task's runner to restart it in place
//! or to signal it (Nomad's `alloc restart` and `alloc signal`): the runner
//! carries the request out between its own steps, so a user restart never
//! races the restart policy or a stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use scheduler_core::driver::{
    DriverError, ExitResult, TaskDriver, TaskHandle, TaskSpec, TaskStats, signal_number,
};
use scheduler_core::model::{TaskEvent, TaskRunState, TaskState};
use scheduler_core::restart::{RestartDecision, RestartTracker};

use crate::alloc_control::ControlError;

/// Why a task restarted on request, in Nomad's words.
const USER_RESTART: &str = "User requested restart";

/// On-demand requests queued for a runner; a handful is plenty, senders
/// wait for room.
const COMMAND_QUEUE: usize = 8;

/// Where a runner answers an on-demand request.
type Reply = oneshot::Sender<Result<(), ControlError>>;

/// An on-demand request to a task's runner.
#[derive(Debug)]
enum TaskCommand {
    /// Stop the current attempt and start the task again at once, without
    /// counting it against the restart policy.
    Restart { reply: Reply },
    /// Send the task a signal.
    Signal { signal: String, reply: Reply },
}

impl TaskCommand {
    /// Answers a request the runner cannot carry out now.
    fn refuse(self, error: ControlError) {
        let (TaskCommand::Restart { reply } | TaskCommand::Signal { reply, .. }) = self;
        let _ = reply.send(Err(error));
    }
}

/// Tells whoever waits on `reply`, if anyone does.
fn answer(reply: Option<Reply>, result: Result<(), ControlError>) {
    if let Some(reply) = reply {
        let _ = reply.send(result);
    }
}

/// A cloneable handle to restart, signal or measure one task on demand.
/// It outlives the runner: once the task is dead, every request is
/// answered [`ControlError::NotRunning`].
#[derive(Clone)]
pub struct TaskControl {
    name: String,
    task_id: String,
    driver: Arc<dyn TaskDriver>,
    commands: mpsc::Sender<TaskCommand>,
    state: watch::Receiver<TaskState>,
}

impl std::fmt::Debug for TaskControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskControl")
            .field("task_id", &self.task_id)
            .field("driver", &self.driver.name())
            .finish_non_exhaustive()
    }
}

impl TaskControl {
    /// The task's name in its group.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether an attempt of the task runs now.
    pub fn is_running(&self) -> bool {
        self.state.borrow().state == TaskRunState::Running
    }

    /// The task's restarts so far (policy and user restarts alike): which
    /// attempt runs now.
    pub fn restarts(&self) -> u64 {
        self.state.borrow().restarts
    }

    /// Stops the running task with its kill signal and timeout and starts
    /// it again in place, recording `Restart Signaled`, `Terminated` and
    /// `Restarting`; resolves once the new attempt runs. It does not count
    /// against the restart policy's attempts.
    pub async fn restart(&self) -> Result<(), ControlError> {
        self.request(|reply| TaskCommand::Restart { reply }).await
    }

    /// Sends `signal` (`SIGHUP`, `usr1`, ...) to the running task,
    /// recording a `Signaling` event.
    pub async fn signal(&self, signal: &str) -> Result<(), ControlError> {
        if signal_number(signal).is_none() {
            return Err(ControlError::UnknownSignal(signal.to_owned()));
        }
        let signal = signal.trim().to_owned();
        self.request(|reply| TaskCommand::Signal { signal, reply })
            .await
    }

    /// The running task's resource use, as its driver measures it.
    pub async fn stats(&self) -> Result<TaskStats, ControlError> {
        if !self.is_running() {
            return Err(self.not_running());
        }
        self.driver
            .stats(&self.task_id)
            .await
            .map_err(|error| ControlError::Driver {
                task: self.name.clone(),
                error,
            })
    }

    fn not_running(&self) -> ControlError {
        ControlError::NotRunning(self.name.clone())
    }

    async fn request(
        &self,
        command: impl FnOnce(Reply) -> TaskCommand,
    ) -> Result<(), ControlError> {
        if !self.is_running() {
            return Err(self.not_running());
        }
        let (reply, answered) = oneshot::channel();
        if self.commands.send(command(reply)).await.is_err() {
            return Err(self.not_running());
        }
        // A runner that ends with the request still queued drops it.
        answered.await.unwrap_or_else(|_| Err(self.not_running()))
    }
}

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
    control: TaskControl,
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

    /// A handle to restart, signal or measure the task on demand.
    pub fn control(&self) -> TaskControl {
        self.control.clone()
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
    /// On-demand requests from [`TaskControl`]s.
    commands: mpsc::Receiver<TaskCommand>,
    /// A handle persisted by an earlier client, to re-attach to first.
    recovered: Option<TaskHandle>,
}

/// How one supervised attempt of the task ended.
enum Attempt {
    /// The task exited by itself (or its driver failed waiting for it).
    Exited(Result<ExitResult, DriverError>),
    /// A stop was requested: the task is killed and destroyed.
    Stopped,
    /// A user restart stopped it: it starts again at once, and `reply`
    /// hears when it runs.
    Restarting(Reply),
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
        // Who asked for a user restart, told once the task runs again.
        let mut restart_reply: Option<Reply> = None;
        loop {
            if let Some(request) = self.stop_requested() {
                answer(restart_reply.take(), Err(self.not_running()));
                return self.finish(false, Some(request)).await;
            }
            let (started, anew) = self.start_or_reattach().await;
            let exit = match started {
                Ok(handle) => {
                    // State and event in one publication: a watcher that
                    // sees the task running sees its `Started` event too.
                    self.set(|state| {
                        state.state = TaskRunState::Running;
                        if state.started_at.is_empty() {
                            state.started_at = now_rfc3339();
                        }
                        if anew {
                            state.events.push(event("Started"));
                        }
                    });
                    // The handle last: whoever persists it finds the state
                    // that goes with it already published.
                    let _ = self.handle.send(Some(handle));
                    answer(restart_reply.take(), Ok(()));
                    match self.supervise().await {
                        Attempt::Exited(exit) => exit,
                        Attempt::Stopped => return self.finish(false, None).await,
                        Attempt::Restarting(reply) => {
                            restart_reply = Some(reply);
                            continue;
                        }
                    }
                }
                Err(err @ DriverError::InvalidConfig(_)) => {
                    answer(restart_reply.take(), Err(self.driver_error(err.clone())));
                    // A wrong config will not get better by restarting.
                    let mut failure = event("Failed Validation");
                    failure.validation_error = err.to_string();
                    failure.fails_task = true;
                    self.record(failure);
                    return self.finish(true, None).await;
                }
                Err(err) => {
                    answer(restart_reply.take(), Err(self.driver_error(err.clone())));
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
                    if !self.sit_out(after).await {
                        return self.finish(false, None).await;
                    }
                }
            }
        }
    }

    fn not_running(&self) -> ControlError {
        ControlError::NotRunning(self.spec.name.clone())
    }

    fn driver_error(&self, error: DriverError) -> ControlError {
        ControlError::Driver {
            task: self.spec.name.clone(),
            error,
        }
    }

    /// Watches a running attempt until it exits, a stop comes, or a user
    /// restart ends it; carries out signals meanwhile.
    async fn supervise(&mut self) -> Attempt {
        // One wait for the whole attempt, however many requests come.
        let driver = self.driver.clone();
        let task_id = self.spec.id.clone();
        let wait = driver.wait(&task_id);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                exit = &mut wait => return Attempt::Exited(exit),
                () = stop_requested(self.stop.clone()) => {
                    let request = self.stop_requested().unwrap_or(StopRequest {
                        reason: "stopped".to_owned(),
                    });
                    self.kill(request).await;
                    let _ = self.driver.destroy(&self.spec.id).await;
                    return Attempt::Stopped;
                }
                Some(command) = self.commands.recv() => match command {
                    TaskCommand::Signal { signal, reply } => {
                        let _ = reply.send(self.send_signal(&signal).await);
                    }
                    TaskCommand::Restart { reply } => match self.stop_for_restart().await {
                        Ok(()) => return Attempt::Restarting(reply),
                        // The attempt may still run: keep watching it.
                        Err(error) => {
                            let _ = reply.send(Err(error));
                        }
                    },
                },
            }
        }
    }

    async fn send_signal(&self, signal: &str) -> Result<(), ControlError> {
        let mut signaling = event("Signaling");
        signaling.task_signal = signal.to_owned();
        self.record(signaling);
        self.driver
            .signal(&self.spec.id, signal)
            .await
            .map_err(|error| self.driver_error(error))
    }

    /// Ends the running attempt for a user restart, as Nomad records it:
    /// `Restart Signaled`, the exit, then `Restarting` with no delay. The
    /// restart tracker is not told: a user restart is not a failure.
    async fn stop_for_restart(&mut self) -> Result<(), ControlError> {
        let mut signaled = event("Restart Signaled");
        signaled.restart_reason = USER_RESTART.to_owned();
        // Where `sched alloc status` reads this event's description.
        signaled.task_signal_reason = USER_RESTART.to_owned();
        self.record(signaled);
        match self
            .driver
            .stop(&self.spec.id, None, self.spec.kill_timeout)
            .await
        {
            Ok(exit) => self.record(terminated(&exit)),
            Err(error) => {
                let mut killed = event("Killed");
                killed.kill_error = error.to_string();
                self.record(killed);
                return Err(self.driver_error(error));
            }
        }
        let _ = self.driver.destroy(&self.spec.id).await;
        let mut restarting = event("Restarting");
        restarting.restart_reason = USER_RESTART.to_owned();
        self.record(restarting);
        self.set(|state| {
            state.state = TaskRunState::Pending;
            state.restarts += 1;
            state.last_restart = now_rfc3339();
        });
        Ok(())
    }

    /// Waits out the restart policy's delay, refusing on-demand requests
    /// meanwhile (nothing runs to restart or signal); false if a stop came.
    async fn sit_out(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                () = stop_requested(self.stop.clone()) => return false,
                Some(command) = self.commands.recv() => command.refuse(self.not_running()),
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
    let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let control = TaskControl {
        name: spec.name.clone(),
        task_id: spec.id.clone(),
        driver: driver.clone(),
        commands,
        state: state.clone(),
    };
    let runner = Runner {
        driver,
        spec,
        tracker,
        state: state_tx,
        handle: handle_tx,
        stop: stop_rx,
        commands: commands_rx,
        recovered,
    };
    let done = tokio::spawn(runner.run());
    TaskRunnerHandle {
        stop,
        state,
        handle,
        control,
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
