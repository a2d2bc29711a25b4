//! The allocation runner: one allocation on this client, from its
//! directories to its last task, in lifecycle order.
//!
//! 1. The allocation directory: `<data>/allocs/<id>/alloc/{data,logs,tmp}`
//!    shared by the tasks, and `<data>/allocs/<id>/<task>/{local,secrets,tmp}`.
//! 2. Each task's spec: its driver, its environment ([`TaskEnv`]: the
//!    directories as the task sees them, ports, limits, meta) and its
//!    `config` with `${...}` interpolated.
//! 3. Lifecycle: `prestart` tasks that are not sidecars run to success
//!    before anything else (a failure fails the allocation); `prestart`
//!    sidecars start next and keep running; then the main tasks;
//!    `poststart` tasks once the main tasks run; when the main tasks are
//!    done (or a `leader` task is, or the allocation is stopped) the
//!    sidecars are stopped and the `poststop` tasks run.
//! 4. Every task's handle and state go to the [`ClientState`] file as they
//!    change, so [`restore_alloc`] can re-attach after a client restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use scheduler_core::driver::{LogRotation, PortMapping, TaskDriver, TaskSpec};
use scheduler_core::model::{
    AllocClientStatus, Allocation, Job, JobType, Node, Task, TaskGroup, TaskRunState, TaskState,
};
use scheduler_core::restart::RestartTracker;
use scheduler_core::taskenv::{TaskDirs, TaskEnv};

use crate::alloc_control::AllocControl;
use crate::alloc_health::{HealthStatus, ServiceToRegister, watch_health};
use crate::catalog::ServiceCatalog;
use crate::client_state::{ClientState, PersistedAlloc};
use crate::runner::{TaskRunnerHandle, resume_task};

/// What every allocation runner of a client shares.
pub struct ClientContext {
    /// The client's data directory.
    pub data_dir: PathBuf,
    /// This node as fingerprinted.
    pub node: Node,
    /// Drivers by name.
    pub drivers: BTreeMap<String, Arc<dyn TaskDriver>>,
    /// The persisted client state.
    pub state: Arc<ClientState>,
    /// Where the allocations' services are registered.
    pub catalog: Arc<ServiceCatalog>,
}

impl std::fmt::Debug for ClientContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientContext")
            .field("data_dir", &self.data_dir)
            .field("drivers", &self.drivers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Why an allocation cannot run here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// The allocation carries no job.
    #[error("allocation {0} carries no job")]
    NoJob(String),
    /// Its group is not in its job.
    #[error("allocation {alloc}: job has no group {group:?}")]
    NoGroup {
        /// The allocation.
        alloc: String,
        /// The group it names.
        group: String,
    },
    /// A task's driver is not on this client.
    #[error("task {task}: driver {driver:?} is not available on this client")]
    NoDriver {
        /// The task.
        task: String,
        /// The driver it asks for.
        driver: String,
    },
    /// The directories could not be made.
    #[error("allocation directory {path}: {message}")]
    Directory {
        /// Where.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

/// The allocation's state as the servers see it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AllocStatus {
    /// `pending`, `running`, `complete`, `failed`.
    pub client_status: AllocClientStatus,
    /// Every task's state.
    pub task_states: BTreeMap<String, TaskState>,
    /// Its checks and its deployment health.
    pub health: HealthStatus,
}

/// A running allocation.
#[derive(Debug)]
pub struct AllocRunnerHandle {
    /// The allocation's status, updated on every task change.
    pub status: watch::Receiver<AllocStatus>,
    stop: watch::Sender<bool>,
    control: AllocControl,
    done: tokio::task::JoinHandle<AllocStatus>,
}

impl AllocRunnerHandle {
    /// Stops the allocation (its tasks get their kill signals).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// A handle to restart or signal the allocation's tasks and read their
    /// resource usage, on demand.
    pub fn control(&self) -> AllocControl {
        self.control.clone()
    }

    /// Waits until every task is done; the final status.
    pub async fn finished(self) -> AllocStatus {
        self.done.await.unwrap_or_default()
    }
}

/// Where an allocation's directories are on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocDir {
    /// `<data>/allocs/<id>`.
    pub root: PathBuf,
    /// The shared `alloc/` directory.
    pub shared: PathBuf,
}

impl AllocDir {
    /// Creates the directories of `alloc` with `tasks`.
    pub fn build(data_dir: &Path, alloc_id: &str, tasks: &[&str]) -> Result<AllocDir, AllocError> {
        let root = data_dir.join("allocs").join(alloc_id);
        let shared = root.join("alloc");
        let mut dirs = vec![shared.join("data"), shared.join("logs"), shared.join("tmp")];
        for task in tasks {
            for sub in ["local", "secrets", "tmp"] {
                dirs.push(root.join(task).join(sub));
            }
        }
        for dir in &dirs {
            std::fs::create_dir_all(dir).map_err(|e| AllocError::Directory {
                path: dir.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(AllocDir { root, shared })
    }

    /// A task's directory.
    pub fn task_dir(&self, task: &str) -> PathBuf {
        self.root.join(task)
    }
}

/// Which phase a task belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Prestart,
    PrestartSidecar,
    Main,
    Poststart,
    Poststop,
}

fn phase_of(task: &Task) -> Phase {
    match task.lifecycle.as_ref() {
        None => Phase::Main,
        Some(lifecycle) => match (lifecycle.hook.as_str(), lifecycle.sidecar) {
            ("prestart", false) => Phase::Prestart,
            ("prestart", true) => Phase::PrestartSidecar,
            ("poststart", _) => Phase::Poststart,
            ("poststop", _) => Phase::Poststop,
            _ => Phase::Main,
        },
    }
}

/// Drivers whose tasks see an isolated root with `/alloc`, `/local`,
/// `/secrets`; the others see host paths.
fn isolated(driver: &str) -> bool {
    matches!(driver, "exec" | "java")
}

struct Prepared {
    task: Task,
    spec: TaskSpec,
    env: TaskEnv,
    driver: Arc<dyn TaskDriver>,
    phase: Phase,
}

fn prepare(
    ctx: &ClientContext,
    job: &Job,
    group: &TaskGroup,
    alloc: &Allocation,
    dirs: &AllocDir,
) -> Result<Vec<Prepared>, AllocError> {
    let ports: BTreeMap<String, PortMapping> = alloc
        .allocated_resources
        .shared
        .ports
        .iter()
        .map(|p| {
            let host = u16::try_from(p.value).unwrap_or(0);
            let to = u16::try_from(p.to).ok().filter(|t| *t > 0).unwrap_or(host);
            (p.label.clone(), PortMapping { host, to })
        })
        .collect();
    let mut prepared = Vec::new();
    for task in &group.tasks {
        let driver =
            ctx.drivers
                .get(&task.driver)
                .cloned()
                .ok_or_else(|| AllocError::NoDriver {
                    task: task.name.clone(),
                    driver: task.driver.clone(),
                })?;
        let task_dir = dirs.task_dir(&task.name);
        let seen = if isolated(&task.driver) {
            TaskDirs {
                alloc_dir: "/alloc".to_owned(),
                task_dir: "/local".to_owned(),
                secrets_dir: "/secrets".to_owned(),
            }
        } else {
            TaskDirs {
                alloc_dir: dirs.shared.display().to_string(),
                task_dir: task_dir.join("local").display().to_string(),
                secrets_dir: task_dir.join("secrets").display().to_string(),
            }
        };
        let env = TaskEnv::build(job, group, task, alloc, &ctx.node, &seen);
        let mut task_env = env.env.clone();
        // The processes need a PATH; the task's own env may override it.
        task_env.entry("PATH".to_owned()).or_insert_with(|| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned()
        });
        let resources = alloc.allocated_resources.tasks.get(&task.name);
        let memory_mb = resources.map_or_else(
            || task.resources.memory_mb.map_or(300, |m| m.0),
            |r| r.memory.memory_mb.0,
        );
        let spec = TaskSpec {
            id: format!("{}/{}", alloc.id, task.name),
            alloc_id: alloc.id.to_string(),
            name: task.name.clone(),
            config: task
                .config
                .iter()
                .map(|(k, v)| (k.clone(), env.interpolate_json(v)))
                .collect(),
            env: task_env,
            user: task.user.clone(),
            task_dir: task_dir.clone(),
            alloc_dir: dirs.shared.clone(),
            state_dir: dirs.root.join(".state").join(&task.name),
            cpu_mhz: resources.map_or_else(
                || task.resources.cpu.map_or(100, |c| c.0),
                |r| r.cpu.cpu_shares.0,
            ) as u64,
            cores: task.resources.cores.max(0) as u32,
            memory_mb: memory_mb.max(1) as u64,
            memory_max_mb: task.resources.memory_max_mb.0.max(0) as u64,
            ports: ports.clone(),
            kill_signal: task.kill_signal.clone(),
            kill_timeout: task.kill_timeout.map_or(Duration::from_secs(5), |d| {
                Duration::from_nanos(d.as_nanos().max(0) as u64)
            }),
            logs: LogRotation {
                dir: dirs.shared.join("logs"),
                max_files: task.log_config.max_files.unwrap_or(10).max(1) as u32,
                max_file_bytes: (task.log_config.max_file_size_mb.unwrap_or(10).max(1) as u64)
                    << 20,
            },
        };
        prepared.push(Prepared {
            task: task.clone(),
            spec,
            env,
            driver,
            phase: phase_of(task),
        });
    }
    Ok(prepared)
}

/// Starts running `alloc` on this client.
pub fn run_alloc(
    ctx: Arc<ClientContext>,
    alloc: Allocation,
) -> Result<AllocRunnerHandle, AllocError> {
    start(ctx, alloc, PersistedAlloc::default())
}

/// Resumes an allocation a previous client ran, re-attaching to its
/// tasks from their persisted handles; tasks that had finished stay so.
pub fn restore_alloc(
    ctx: Arc<ClientContext>,
    persisted: PersistedAlloc,
) -> Result<AllocRunnerHandle, AllocError> {
    start(ctx, persisted.alloc.clone(), persisted)
}

fn start(
    ctx: Arc<ClientContext>,
    alloc: Allocation,
    persisted: PersistedAlloc,
) -> Result<AllocRunnerHandle, AllocError> {
    let job = alloc
        .job
        .clone()
        .ok_or_else(|| AllocError::NoJob(alloc.id.to_string()))?;
    let group = job
        .task_groups
        .iter()
        .find(|g| g.name == alloc.task_group)
        .cloned()
        .ok_or_else(|| AllocError::NoGroup {
            alloc: alloc.id.to_string(),
            group: alloc.task_group.clone(),
        })?;
    let names: Vec<&str> = group.tasks.iter().map(|t| t.name.as_str()).collect();
    let dirs = AllocDir::build(&ctx.data_dir, &alloc.id.to_string(), &names)?;
    let prepared = prepare(&ctx, &job, &group, &alloc, &dirs)?;
    let _ = ctx.state.update(&alloc, |_| {});
    let (status_tx, status) = watch::channel(AllocStatus::default());
    let (stop, stop_rx) = watch::channel(false);
    let update =
        matches!(job.job_type, JobType::Service).then(|| health_strategy(&alloc, &job, &group));
    let health = HealthPlan {
        group_services: group.services.clone(),
        update,
    };
    let control = AllocControl::new(
        alloc.id.to_string(),
        names.iter().map(|name| (*name).to_owned()).collect(),
        &ctx.node,
    );
    let done = tokio::spawn(drive(
        ctx,
        alloc,
        job.job_type.clone(),
        prepared,
        persisted,
        health,
        control.clone(),
        status_tx,
        stop_rx,
    ));
    Ok(AllocRunnerHandle {
        status,
        stop,
        control,
        done,
    })
}

/// Starts one task's runner, makes it reachable through the allocation's
/// control, and mirrors its state and handle into the allocation's status
/// and the client state.
#[allow(clippy::too_many_arguments)]
fn launch(
    ctx: &Arc<ClientContext>,
    alloc: &Allocation,
    job_type: &JobType,
    prepared: &Prepared,
    persisted: &PersistedAlloc,
    artifact_failures: &BTreeMap<String, TaskState>,
    control: &AllocControl,
    status: &watch::Sender<AllocStatus>,
) -> Option<TaskRunnerHandle> {
    let earlier = persisted.tasks.get(&prepared.task.name).cloned();
    if let Some(failed) = artifact_failures.get(&prepared.task.name) {
        let name = prepared.task.name.clone();
        let state = failed.clone();
        status.send_modify(|s| {
            s.task_states.insert(name, state);
        });
        return None;
    }
    if let Some(earlier) = &earlier
        && earlier.state.state == TaskRunState::Dead
    {
        // It finished before the client restarted: keep its outcome.
        let name = prepared.task.name.clone();
        let state = earlier.state.clone();
        status.send_modify(|s| {
            s.task_states.insert(name, state);
        });
        return None;
    }
    // Hooks that run to completion behave like batch tasks: success ends
    // them; service restarts apply to the rest.
    let kind = match prepared.phase {
        Phase::Prestart | Phase::Poststop => JobType::Batch,
        _ => job_type.clone(),
    };
    let tracker = RestartTracker::new(&prepared.task.restart_policy, &kind);
    let runner = resume_task(
        prepared.driver.clone(),
        prepared.spec.clone(),
        tracker,
        earlier.as_ref().and_then(|e| e.handle.clone()),
        earlier.map(|e| e.state).unwrap_or_default(),
    );
    control.register(runner.control());
    let mut states = runner.state.clone();
    let mut handles = runner.handle.clone();
    let name = prepared.task.name.clone();
    let status = status.clone();
    let ctx = ctx.clone();
    let alloc = alloc.clone();
    let mut closed = false;
    tokio::spawn(async move {
        loop {
            let state = states.borrow_and_update().clone();
            let handle = handles.borrow_and_update().clone();
            status.send_modify(|s| {
                s.task_states.insert(name.clone(), state.clone());
            });
            let _ = ctx.state.update(&alloc, |record| {
                let entry = record.tasks.entry(name.clone()).or_default();
                entry.state = state.clone();
                if handle.is_some() {
                    entry.handle = handle.clone();
                }
            });
            if closed {
                return;
            }
            // A closed channel still gets one last copy of its final value.
            tokio::select! {
                changed = states.changed() => closed = changed.is_err(),
                changed = handles.changed() => closed = changed.is_err(),
            }
        }
    });
    Some(runner)
}

/// The group's services and update block, for the health watch.
struct HealthPlan {
    group_services: Vec<scheduler_core::model::Service>,
    update: Option<scheduler_core::model::UpdateStrategy>,
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    ctx: Arc<ClientContext>,
    alloc: Allocation,
    job_type: JobType,
    prepared: Vec<Prepared>,
    persisted: PersistedAlloc,
    health: HealthPlan,
    control: AllocControl,
    status: watch::Sender<AllocStatus>,
    mut stop: watch::Receiver<bool>,
) -> AllocStatus {
    let in_phase = |phase: Phase| prepared.iter().filter(move |p| p.phase == phase);
    let set_status = |client_status: AllocClientStatus| {
        status.send_modify(|s| s.client_status = client_status);
    };

    // Prestart tasks run to success first.
    // Artifacts first, for tasks that have not run before; a task whose
    // artifact cannot be fetched is dead and failed.
    let mut artifact_failures: BTreeMap<String, TaskState> = BTreeMap::new();
    for p in &prepared {
        if persisted.tasks.contains_key(&p.task.name) {
            continue;
        }
        for artifact in &p.task.artifacts {
            if let Err(err) =
                crate::artifacts::fetch_artifact(artifact, &p.env, &p.spec.task_dir).await
            {
                let event = scheduler_core::model::TaskEvent {
                    event_type: "Failed Artifact Download".to_owned(),
                    time: crate::clock::unix_nanos(),
                    message: err.to_string(),
                    fails_task: true,
                    ..Default::default()
                };
                artifact_failures.insert(
                    p.task.name.clone(),
                    TaskState {
                        state: TaskRunState::Dead,
                        failed: true,
                        events: vec![event],
                        ..TaskState::default()
                    },
                );
                break;
            }
        }
    }
    for (name, state) in &artifact_failures {
        status.send_modify(|s| {
            s.task_states.insert(name.clone(), state.clone());
        });
    }
    let mut failed = artifact_failures.keys().any(|name| {
        prepared
            .iter()
            .any(|p| &p.task.name == name && p.phase != Phase::Poststop)
    });
    let launch_named = |p: &Prepared| {
        launch(
            &ctx,
            &alloc,
            &job_type,
            p,
            &persisted,
            &artifact_failures,
            &control,
            &status,
        )
        .map(|r| (p.task.name.clone(), r))
    };
    let prestart: Vec<(String, TaskRunnerHandle)> =
        in_phase(Phase::Prestart).filter_map(launch_named).collect();
    let record = |name: &str, state: &TaskState| {
        status.send_modify(|s| {
            s.task_states.insert(name.to_owned(), state.clone());
        });
    };
    for (name, runner) in prestart {
        let state = runner.finished().await;
        record(&name, &state);
        failed |= state.failed;
    }
    let mut sidecars: Vec<(String, TaskRunnerHandle)> = Vec::new();
    let mut main: Vec<(bool, (String, TaskRunnerHandle))> = Vec::new();
    if !failed && !*stop.borrow() {
        sidecars.extend(in_phase(Phase::PrestartSidecar).filter_map(launch_named));
        for p in in_phase(Phase::Main) {
            if let Some(runner) = launch_named(p) {
                main.push((p.task.leader, runner));
            }
        }
        set_status(AllocClientStatus::Running);
        // Poststart tasks once every main task has run.
        for (_, (_, runner)) in &main {
            let mut state = runner.state.clone();
            let _ = tokio::time::timeout(
                Duration::from_secs(60),
                state.wait_for(|s| s.state != TaskRunState::Pending),
            )
            .await;
        }
        sidecars.extend(in_phase(Phase::Poststart).filter_map(launch_named));

        // Services and checks of the group and of the running tasks, and
        // the deployment's health, for as long as the main tasks run.
        let mut services = Vec::new();
        if let Some(first) = prepared.iter().find(|p| p.phase == Phase::Main) {
            services.extend(
                health
                    .group_services
                    .iter()
                    .map(|service| ServiceToRegister {
                        owner: "group".to_owned(),
                        service: service.clone(),
                        env: first.env.clone(),
                        task_dir: first.spec.task_dir.clone(),
                    }),
            );
        }
        for p in prepared
            .iter()
            .filter(|p| matches!(p.phase, Phase::Main | Phase::PrestartSidecar))
        {
            services.extend(p.task.services.iter().map(|service| ServiceToRegister {
                owner: p.task.name.clone(),
                service: service.clone(),
                env: p.env.clone(),
                task_dir: p.spec.task_dir.clone(),
            }));
        }
        let publisher = status.clone();
        let _health = watch_health(
            ctx.catalog.clone(),
            &alloc,
            &ctx.node.id.to_string(),
            services,
            health.update.clone(),
            main.iter().map(|(_, (_, r))| r.state.clone()).collect(),
            move |health| publisher.send_modify(|s| s.health = health),
        );

        // Until the main tasks are done, a leader is done, or a stop.
        loop {
            let dead: Vec<bool> = main
                .iter()
                .map(|(_, (_, r))| r.state.borrow().state == TaskRunState::Dead)
                .collect();
            let leader_done = main
                .iter()
                .zip(&dead)
                .any(|((leader, _), dead)| *leader && *dead);
            if dead.iter().all(|d| *d) || leader_done || *stop.borrow() {
                break;
            }
            let mut watchers: Vec<_> = main.iter().map(|(_, (_, r))| r.state.clone()).collect();
            let changes = futures_util::future::select_all(
                watchers
                    .iter_mut()
                    .map(|w| Box::pin(async move { w.changed().await })),
            );
            tokio::select! {
                _ = changes => {}
                _ = stop.changed() => {}
            }
        }
        for (_, (_, runner)) in &main {
            runner.stop("allocation stopped");
        }
        for (_, (name, runner)) in main {
            let state = runner.finished().await;
            record(&name, &state);
            failed |= state.failed;
        }
    }
    for (_, runner) in &sidecars {
        runner.stop("main tasks finished");
    }
    for (name, runner) in sidecars {
        let state = runner.finished().await;
        record(&name, &state);
    }
    // Poststop tasks run whatever happened.
    let poststop: Vec<(String, TaskRunnerHandle)> =
        in_phase(Phase::Poststop).filter_map(launch_named).collect();
    for (name, runner) in poststop {
        let state = runner.finished().await;
        record(&name, &state);
        failed |= state.failed;
    }
    set_status(if failed {
        AllocClientStatus::Failed
    } else {
        AllocClientStatus::Complete
    });
    status.borrow().clone()
}

/// How a service allocation's health is judged, as Nomad's clients do: by
/// its group's `update` strategy when it belongs to a deployment, else (a
/// drain's replacement, a job without `update`) by the group's `migrate`
/// strategy, which the drainer paces migrations on.
fn health_strategy(
    alloc: &Allocation,
    job: &scheduler_core::model::Job,
    group: &scheduler_core::model::TaskGroup,
) -> scheduler_core::model::UpdateStrategy {
    let deployed = group.update.clone().or_else(|| job.update.clone());
    if let Some(update) = deployed.filter(|_| !alloc.deployment_id.is_empty()) {
        return update;
    }
    let defaults = scheduler_core::model::MigrateStrategy::defaults();
    let migrate = group.migrate.clone().unwrap_or_else(|| defaults.clone());
    scheduler_core::model::UpdateStrategy {
        health_check: migrate.health_check.or(defaults.health_check),
        min_healthy_time: migrate.min_healthy_time.or(defaults.min_healthy_time),
        healthy_deadline: migrate.healthy_deadline.or(defaults.healthy_deadline),
        ..scheduler_core::model::UpdateStrategy::defaults()
    }
}
