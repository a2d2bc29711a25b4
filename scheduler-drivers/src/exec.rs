//! `exec`: a process isolated in its own pid, mount, ipc and uts
//! namespaces, inside a task root that holds only the allocation's
//! directories and read-only system paths, as `nobody` unless the task
//! names a user, with memory, cpu and pids limits from its resources
//! (cgroups v1, or v2 where unified). See [`crate::isolation`].
//!
//! Task configuration: `command` (required, resolved inside the task root)
//! and `args`. Needs root.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use scheduler_core::driver::{
    Capabilities, DriverError, DriverFingerprint, DriverFuture, DriverHealth, ExitResult,
    FsIsolation, TaskDriver, TaskHandle, TaskSpec, TaskStats, signal_number,
};

use crate::executor::ExecutorSpec;
use crate::isolation::{Bind, Isolation, Limits, SYSTEM_PATHS};
use crate::process::signal_group;
use crate::raw_exec::{CommandConfig, SupervisedTasks, start_supervised};

/// The driver's name in job files.
pub const NAME: &str = "exec";

/// The user an `exec` task runs as when it names none.
pub const DEFAULT_USER: &str = "nobody";

/// The most processes one task may run.
const PIDS_LIMIT: u64 = 16_384;

/// What makes one isolated driver differ from another: its name, how its
/// `config` block becomes a command line, and what it fingerprints.
pub trait IsolatedKind: std::fmt::Debug + Default + Send + Sync + 'static {
    /// The driver's name in job files.
    const NAME: &'static str;

    /// The program and arguments for a task's `config` block; errors name
    /// the field (`config.<key>`).
    fn command_line(
        &self,
        config: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(String, Vec<String>), DriverError>;

    /// Attributes and health beyond "runs as root".
    fn fingerprint(&self) -> DriverFuture<'_, DriverFingerprint> {
        Box::pin(async move {
            Ok(DriverFingerprint {
                health: DriverHealth::Healthy,
                description: "healthy".to_owned(),
                attributes: BTreeMap::from([(format!("driver.{}", Self::NAME), "1".to_owned())]),
            })
        })
    }
}

/// `exec`: the task's `command` and `args`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Exec;

impl IsolatedKind for Exec {
    const NAME: &'static str = NAME;

    fn command_line(
        &self,
        config: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(String, Vec<String>), DriverError> {
        let config = CommandConfig::parse(NAME, config)?;
        Ok((config.command, config.args))
    }
}

/// A driver running isolated tasks (see the module documentation).
#[derive(Debug)]
pub struct IsolatedDriver<K: IsolatedKind> {
    executor: PathBuf,
    kind: K,
    tasks: SupervisedTasks,
}

/// The `exec` driver.
pub type ExecDriver = IsolatedDriver<Exec>;

impl<K: IsolatedKind> IsolatedDriver<K> {
    /// A driver that supervises tasks with the `sched-executor` binary at
    /// `executor`.
    pub fn new(executor: PathBuf) -> Self {
        Self {
            executor,
            kind: K::default(),
            tasks: SupervisedTasks::default(),
        }
    }
}

/// The isolation of `spec`: its task directory as the root, the
/// allocation directory at `/alloc`, system paths read-only.
pub(crate) fn isolation_for(spec: &TaskSpec) -> Isolation {
    let mut binds: Vec<Bind> = SYSTEM_PATHS
        .iter()
        .map(Path::new)
        .filter(|path| path.exists())
        .map(|path| Bind {
            source: path.to_owned(),
            target: path.to_owned(),
            read_only: true,
        })
        .collect();
    binds.push(Bind {
        source: spec.alloc_dir.clone(),
        target: PathBuf::from("/alloc"),
        read_only: false,
    });
    let memory_mb = spec.memory_mb.max(spec.memory_max_mb).max(1);
    Isolation {
        root: spec.task_dir.clone(),
        binds,
        cwd: PathBuf::from("/"),
        hostname: spec.alloc_id.chars().take(8).collect::<String>(),
        limits: Limits {
            memory_bytes: memory_mb << 20,
            cpu_shares: spec.cpu_mhz.max(2),
            pids: PIDS_LIMIT,
        },
        cgroup_name: spec
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '.'
                }
            })
            .collect(),
    }
}

/// Prepares the task directory for a user that is not root: the root
/// itself traversable, `local/` and `secrets/` theirs, the allocation
/// directory writable by all.
pub(crate) fn prepare_task_dir(spec: &TaskSpec, user: &str) -> Result<(), DriverError> {
    let io = |path: &Path, e: &dyn std::fmt::Display| {
        DriverError::Io(format!("{}: {e}", path.display()))
    };
    let owner = nix::unistd::User::from_name(user)
        .map_err(|e| DriverError::StartFailed(format!("user {user:?}: {e}")))?
        .ok_or_else(|| DriverError::StartFailed(format!("user {user:?} does not exist")))?;
    std::fs::set_permissions(&spec.task_dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io(&spec.task_dir, &e))?;
    // The allocation's shared directory is for every task of it, whatever
    // its user (Nomad makes it world-writable too).
    std::fs::set_permissions(&spec.alloc_dir, std::fs::Permissions::from_mode(0o777))
        .map_err(|e| io(&spec.alloc_dir, &e))?;
    for dir in ["local", "secrets"] {
        let path = spec.task_dir.join(dir);
        std::fs::create_dir_all(&path).map_err(|e| io(&path, &e))?;
        nix::unistd::chown(&path, Some(owner.uid), Some(owner.gid)).map_err(|e| io(&path, &e))?;
    }
    Ok(())
}

fn needs_root() -> Result<(), DriverError> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(DriverError::StartFailed(
            "isolated drivers (exec, java) need root: namespaces, mounts and cgroups".to_owned(),
        ))
    }
}

impl<K: IsolatedKind> TaskDriver for IsolatedDriver<K> {
    fn name(&self) -> &str {
        K::NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            send_signals: true,
            exec: false,
            fs_isolation: FsIsolation::Chroot,
            enforces_limits: true,
        }
    }

    fn fingerprint(&self) -> DriverFuture<'_, DriverFingerprint> {
        Box::pin(async move {
            let mut fingerprint = self.kind.fingerprint().await?;
            if !nix::unistd::geteuid().is_root() {
                fingerprint.health = DriverHealth::Undetected;
                fingerprint.description = "needs root".to_owned();
            } else if !self.executor.is_file() {
                fingerprint.health = DriverHealth::Unhealthy;
                fingerprint.description = format!("executor {} not found", self.executor.display());
            }
            Ok(fingerprint)
        })
    }

    fn start<'a>(&'a self, spec: &'a TaskSpec) -> DriverFuture<'a, TaskHandle> {
        Box::pin(async move {
            let (command, args) = self.kind.command_line(&spec.config)?;
            needs_root()?;
            let user = if spec.user.is_empty() {
                DEFAULT_USER
            } else {
                &spec.user
            };
            prepare_task_dir(spec, user)?;
            let executor_spec = ExecutorSpec {
                command,
                args,
                env: spec.env.clone(),
                cwd: PathBuf::from("/"),
                user: user.to_owned(),
                task_name: spec.name.clone(),
                logs: spec.logs.clone(),
                isolation: Some(isolation_for(spec)),
            };
            let task = start_supervised(&self.executor, spec, &executor_spec).await?;
            self.tasks.started(K::NAME, &spec.id, task)
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
            let signal = signal_number(signal)
                .and_then(|n| Signal::try_from(n).ok())
                .ok_or_else(|| DriverError::InvalidConfig(format!("unknown signal {signal:?}")))?;
            // Init ignores it (pid 1 of the namespace has no handler); the
            // task, in init's process group, gets it.
            if signal_group(&task.task, signal) {
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
