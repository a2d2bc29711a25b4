//! The task driver interface: what a client asks of `raw_exec`, `exec`,
//! `docker`, `java`, `qemu` or an embedder's own driver.
//!
//! The core only defines the contract and its plain-data boundary types;
//! `scheduler-drivers` implements it (processes, containers, virtual
//! machines) and its client runtime calls it. The methods return boxed
//! futures so the trait stays object-safe (`Arc<dyn TaskDriver>`) without
//! tying the core to an async runtime.
//!
//! # Contract for implementations
//! - **Handles are plain data.** [`TaskDriver::start`] returns a
//!   [`TaskHandle`] that the client persists. After the client restarts,
//!   [`TaskDriver::recover`] with that handle re-attaches to the task that
//!   is still running: it must never start a second copy, and it must tell
//!   a task that finished meanwhile (with its exit result) from one that is
//!   gone without a trace.
//! - **`wait` is repeatable.** It resolves with the task's exit, however
//!   many times and from however many callers it is awaited, including
//!   after a recover.
//! - **`stop` escalates.** It sends the task's kill signal (or the driver's
//!   default), waits up to the kill timeout, then kills; it returns once
//!   the task has exited.
//! - **`destroy` leaves nothing behind**: processes, containers, cgroups,
//!   mounts. It is safe to call on a task that already exited.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A future a driver returns; boxed so the trait is object-safe.
pub type DriverFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DriverError>> + Send + 'a>>;

/// What a driver can do, so the client knows what to offer (Nomad's
/// driver capabilities).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// `alloc signal` reaches the task.
    pub send_signals: bool,
    /// Commands can be run inside the task's environment (`alloc exec`).
    pub exec: bool,
    /// How the task's filesystem is isolated.
    pub fs_isolation: FsIsolation,
    /// Resource limits (memory, cpu) are enforced, not only reserved.
    pub enforces_limits: bool,
}

/// How a driver isolates a task's filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FsIsolation {
    /// The task sees the host's filesystem (`raw_exec`).
    #[default]
    None,
    /// The task runs in a root built from the allocation directories and
    /// read-only system paths (`exec`, `java`).
    Chroot,
    /// The task runs in its own image (`docker`, `qemu`).
    Image,
}

/// Whether a driver can run tasks on this node right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DriverHealth {
    /// Not present on this node (no binary, no socket); not offered.
    #[default]
    Undetected,
    /// Present but not usable now (the engine does not answer).
    Unhealthy,
    /// Ready to run tasks.
    Healthy,
}

/// What a driver reports about this node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DriverFingerprint {
    /// Whether it can run tasks.
    pub health: DriverHealth,
    /// Why, in words (shown by `node status -verbose`).
    pub description: String,
    /// Node attributes it contributes, such as `driver.docker.version`.
    pub attributes: BTreeMap<String, String>,
}

/// Log rotation for a task's stdout and stderr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRotation {
    /// Directory of the log files (the allocation's `alloc/logs`).
    pub dir: PathBuf,
    /// Files kept per stream, the current one included.
    pub max_files: u32,
    /// Size at which a file is rotated, in bytes.
    pub max_file_bytes: u64,
}

/// Everything a driver needs to start one task: resolved, interpolated and
/// validated by the client runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Unique per task instance on the node: `<alloc id>/<task name>`.
    pub id: String,
    /// The allocation.
    pub alloc_id: String,
    /// The task's name (log files are `<name>.stdout.<n>`).
    pub name: String,
    /// The driver's own configuration (the task's `config` block), with
    /// `${...}` already interpolated.
    pub config: BTreeMap<String, serde_json::Value>,
    /// The complete environment of the task.
    pub env: BTreeMap<String, String>,
    /// The OS user to run as; empty for the driver's default.
    pub user: String,
    /// The task's directory (holds `local/` and `secrets/`; `alloc/` is
    /// its sibling shared by the allocation's tasks).
    pub task_dir: PathBuf,
    /// The allocation's shared directory.
    pub alloc_dir: PathBuf,
    /// Where the driver keeps its own state for this task.
    pub state_dir: PathBuf,
    /// CPU shares in MHz.
    pub cpu_mhz: u64,
    /// Whole cores reserved for the task (0: it runs on shares).
    pub cores: u32,
    /// Memory limit in MiB.
    pub memory_mb: u64,
    /// Memory the task may burst to, in MiB (0: none).
    pub memory_max_mb: u64,
    /// Port labels to host ports, for drivers that map ports.
    pub ports: BTreeMap<String, PortMapping>,
    /// The signal `stop` sends first (`SIGTERM` when empty).
    pub kill_signal: String,
    /// How long `stop` waits after the kill signal.
    pub kill_timeout: Duration,
    /// Rotation of stdout and stderr.
    pub logs: LogRotation,
}

/// A port a task listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The port on the host (what `NOMAD_PORT_<label>` names).
    pub host: u16,
    /// The port inside the task (`to`; the host port when unset).
    pub to: u16,
}

/// What the client persists to find a running task again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHandle {
    /// The driver that started it.
    pub driver: String,
    /// The task's [`TaskSpec::id`].
    pub task_id: String,
    /// Driver-specific data (pids with start times, a container id).
    pub state: serde_json::Value,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExitResult {
    /// The exit code (0 when killed by a signal).
    pub exit_code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// The kernel killed it for exceeding its memory limit.
    pub oom_killed: bool,
    /// Something other than the task failed (its supervisor died); the
    /// exit code is then unknown.
    pub err: Option<String>,
}

impl ExitResult {
    /// Exit code 0, no signal, no error.
    pub fn successful(&self) -> bool {
        self.exit_code == 0 && self.signal.is_none() && self.err.is_none() && !self.oom_killed
    }
}

/// Resource use of a running task.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskStats {
    /// CPU time used since start, user plus system.
    pub cpu_time: Duration,
    /// Resident memory now, in bytes.
    pub memory_rss_bytes: u64,
    /// Processes in the task.
    pub processes: u32,
}

/// Why a driver operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The task's `config` block is wrong; the message names the field.
    #[error("invalid task config: {0}")]
    InvalidConfig(String),
    /// The task could not be started (binary missing, image absent, ...).
    #[error("task failed to start: {0}")]
    StartFailed(String),
    /// The driver knows no such task (never started, or destroyed).
    #[error("unknown task {0}")]
    UnknownTask(String),
    /// A handle could not be recovered: the task is gone and left no exit
    /// result.
    #[error("task cannot be recovered: {0}")]
    NotRecoverable(String),
    /// The driver cannot do this (a signal to a task that has none).
    #[error("not supported by this driver: {0}")]
    Unsupported(String),
    /// The host failed the driver (a file, a socket, the engine).
    #[error("{0}")]
    Io(String),
}

/// A task driver. See the module documentation for the contract.
pub trait TaskDriver: Send + Sync {
    /// The name jobs use in `driver = "..."`.
    fn name(&self) -> &str;

    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// Whether it can run tasks here, and the attributes it adds.
    fn fingerprint(&self) -> DriverFuture<'_, DriverFingerprint>;

    /// Starts a task; returns once it runs (or failed to).
    fn start<'a>(&'a self, spec: &'a TaskSpec) -> DriverFuture<'a, TaskHandle>;

    /// Re-attaches to a task started before the client restarted.
    fn recover<'a>(&'a self, handle: &'a TaskHandle) -> DriverFuture<'a, ()>;

    /// Resolves when the task exits.
    fn wait<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, ExitResult>;

    /// Sends `signal` (or the task's kill signal when `None`), waits up to
    /// `timeout`, then kills; returns once the task has exited.
    fn stop<'a>(
        &'a self,
        task_id: &'a str,
        signal: Option<&'a str>,
        timeout: Duration,
    ) -> DriverFuture<'a, ExitResult>;

    /// Sends a signal (`SIGHUP`, `SIGUSR1`, ...) to the task.
    fn signal<'a>(&'a self, task_id: &'a str, signal: &'a str) -> DriverFuture<'a, ()>;

    /// Current resource use.
    fn stats<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, TaskStats>;

    /// Removes everything the task left (killing it if it still runs).
    fn destroy<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, ()>;
}

/// Signal names as jobs write them (`SIGTERM`, `TERM`, `sigint`) to their
/// Linux numbers.
pub fn signal_number(name: &str) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let number = match bare {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => return None,
    };
    Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_are_read_as_jobs_write_them() {
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("term"), Some(15));
        assert_eq!(signal_number(" sigint "), Some(2));
        assert_eq!(signal_number("SIGUSR1"), Some(10));
        assert_eq!(signal_number("SIGNOPE"), None);
        assert_eq!(signal_number(""), None);
    }

    #[test]
    fn only_a_clean_exit_is_successful() {
        assert!(ExitResult::default().successful());
        let killed = ExitResult {
            signal: Some(9),
            ..ExitResult::default()
        };
        assert!(!killed.successful());
        let failed = ExitResult {
            exit_code: 1,
            ..ExitResult::default()
        };
        assert!(!failed.successful());
    }
}
