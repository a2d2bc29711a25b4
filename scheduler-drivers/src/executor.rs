//! The executor: a small supervisor process between the client and a task.
//!
//! A task must outlive the client that started it (a client upgrade or
//! crash must not stop the work), and a restarted client must learn how
//! the task ended even if that happened while no client ran. So the client
//! does not start tasks as its own children. It starts `sched-executor`
//! (this module's [`run`], in its own session), which starts the task in
//! its own process group, copies its stdout and stderr into rotated log
//! files, waits for it and records its exit in the task's state directory.
//! The files are the interface:
//!
//! - `executor.json`: the [`ExecutorSpec`] the client wrote;
//! - `started.json`: the executor's and the task's [`ProcessId`]s, or why
//!   the task could not start ([`StartRecord`]);
//! - `exit.json`: the task's [`ExitResult`], written when it exits.
//!
//! Nomad's client does the same with its executor and logmon plugins.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use scheduler_core::driver::{ExitResult, LogRotation};

use crate::logs::RotatingWriter;
use crate::process::{ProcessId, write_atomically};

/// The executor's spec file in a task's state directory.
pub const SPEC_FILE: &str = "executor.json";
/// The start record in a task's state directory.
pub const STARTED_FILE: &str = "started.json";
/// The exit record in a task's state directory.
pub const EXIT_FILE: &str = "exit.json";

/// What the executor runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorSpec {
    /// The program: a name looked up in the task's `PATH`, or a path
    /// (relative paths are relative to `cwd`).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its whole environment.
    pub env: BTreeMap<String, String>,
    /// Its working directory.
    pub cwd: PathBuf,
    /// The user to run as; empty: the executor's own.
    pub user: String,
    /// The task's name (log file names).
    pub task_name: String,
    /// Log rotation.
    pub logs: LogRotation,
}

/// What `started.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartRecord {
    /// The task runs.
    Running {
        /// The executor.
        executor: ProcessId,
        /// The task, leader of its own process group.
        task: ProcessId,
    },
    /// The task could not be started.
    Failed {
        /// Why.
        error: String,
    },
}

/// Runs the executor for the spec in `state_dir`; returns the executor's
/// exit code (0 once the task's exit is recorded, whatever it was).
pub fn run(state_dir: &Path) -> i32 {
    match supervise(state_dir) {
        Ok(()) => 0,
        Err(error) => {
            let record = StartRecord::Failed { error };
            let _ = write_record(&state_dir.join(STARTED_FILE), &record);
            1
        }
    }
}

fn supervise(state_dir: &Path) -> Result<(), String> {
    // Its own session: the client's process group, terminal and death
    // do not reach it.
    let _ = nix::unistd::setsid();
    let spec_path = state_dir.join(SPEC_FILE);
    let spec: ExecutorSpec = serde_json::from_slice(
        &std::fs::read(&spec_path).map_err(|e| format!("{}: {e}", spec_path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let mut stdout = RotatingWriter::open(&spec.logs, &spec.task_name, "stdout")
        .map_err(|e| format!("log files in {}: {e}", spec.logs.dir.display()))?;
    let mut stderr = RotatingWriter::open(&spec.logs, &spec.task_name, "stderr")
        .map_err(|e| format!("log files in {}: {e}", spec.logs.dir.display()))?;

    let mut command = Command::new(resolve_program(&spec));
    command
        .args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        .current_dir(&spec.cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !spec.user.is_empty() {
        let user = nix::unistd::User::from_name(&spec.user)
            .map_err(|e| format!("user {:?}: {e}", spec.user))?
            .ok_or_else(|| format!("user {:?} does not exist on this node", spec.user))?;
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", spec.command))?;
    let task_pid = child.id() as i32;
    let task = ProcessId::of(task_pid).unwrap_or(ProcessId {
        pid: task_pid,
        start_ticks: 0,
    });
    let executor = ProcessId::of(std::process::id() as i32).unwrap_or(ProcessId {
        pid: std::process::id() as i32,
        start_ticks: 0,
    });
    write_record(
        &state_dir.join(STARTED_FILE),
        &StartRecord::Running { executor, task },
    )
    .map_err(|e| format!("recording the start: {e}"))?;

    let out_pipe = child.stdout.take();
    let err_pipe = child.stderr.take();
    let pumps = [
        out_pipe.map(|pipe| std::thread::spawn(move || pump(pipe, &mut stdout))),
        err_pipe.map(|pipe| std::thread::spawn(move || pump(pipe, &mut stderr))),
    ];
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the task: {e}"))?;
    // The pipes close when the task and every child holding them exit; a
    // daemonised grandchild may keep them open, so the exit is recorded
    // now and the pumps get a moment to drain.
    let deadline = std::time::Duration::from_secs(1);
    let started = crate::clock::monotonic();
    for pump in pumps.into_iter().flatten() {
        while !pump.is_finished() && started.elapsed() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    let exit = ExitResult {
        exit_code: status.code().unwrap_or(0),
        signal: status.signal(),
        oom_killed: false,
        err: None,
    };
    write_record(&state_dir.join(EXIT_FILE), &exit).map_err(|e| format!("recording the exit: {e}"))
}

fn resolve_program(spec: &ExecutorSpec) -> PathBuf {
    let program = Path::new(&spec.command);
    if spec.command.contains('/') && program.is_relative() {
        spec.cwd.join(program)
    } else {
        program.to_owned()
    }
}

fn pump(mut pipe: impl Read, writer: &mut RotatingWriter) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => {
                // A full disk loses log lines, never the task.
                let _ = writer.write_all(&buffer[..n]);
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn write_record(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    write_atomically(path, &bytes)
}

/// Where the `sched-executor` binary is: `$SCHED_EXECUTOR`, else beside the
/// running program (or one directory up, where cargo puts binaries
/// relative to its test executables), else on `PATH`.
pub fn locate() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SCHED_EXECUTOR") {
        return Some(PathBuf::from(path));
    }
    let name = "sched-executor";
    let exe = std::env::current_exe().ok()?;
    let beside = exe.parent().map(|dir| dir.join(name));
    let above = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join(name));
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    beside
        .into_iter()
        .chain(above)
        .chain(on_path)
        .find(|candidate| candidate.is_file())
}
