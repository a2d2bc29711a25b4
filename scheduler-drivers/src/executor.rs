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

use crate::isolation::{Cgroup, INIT_EXIT_FILE, InitSpec, Isolation};
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
    /// Namespaces, task root and cgroup limits (`exec`, `java`); `None`
    /// runs the task on the host as it is (`raw_exec`).
    #[serde(default)]
    pub isolation: Option<Isolation>,
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

/// Runs init for the spec in `state_dir`, inside the task's namespaces
/// (the executor starts it; see [`crate::isolation`]).
pub fn run_init(state_dir: &Path) -> i32 {
    let spec = match read_spec(state_dir) {
        Ok(spec) => spec,
        Err(err) => {
            eprintln!("init: {err}");
            return 1;
        }
    };
    let Some(isolation) = spec.isolation else {
        eprintln!("init: the spec asks for no isolation");
        return 1;
    };
    let init = InitSpec {
        command: spec.command,
        args: spec.args,
        env: spec.env,
        user: spec.user,
        isolation,
    };
    crate::isolation::run_init(state_dir, &init)
}

fn read_spec(state_dir: &Path) -> Result<ExecutorSpec, String> {
    let spec_path = state_dir.join(SPEC_FILE);
    serde_json::from_slice(
        &std::fs::read(&spec_path).map_err(|e| format!("{}: {e}", spec_path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", spec_path.display()))
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
    let_tasks_start_with_default_signals();
    let spec = read_spec(state_dir)?;
    let stdout = RotatingWriter::open(&spec.logs, &spec.task_name, "stdout")
        .map_err(|e| format!("log files in {}: {e}", spec.logs.dir.display()))?;
    let stderr = RotatingWriter::open(&spec.logs, &spec.task_name, "stderr")
        .map_err(|e| format!("log files in {}: {e}", spec.logs.dir.display()))?;

    if let Some(isolation) = &spec.isolation {
        return supervise_isolated(state_dir, isolation, stdout, stderr);
    }
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
    let exit = record_and_wait(state_dir, &mut child, stdout, stderr, None)?;
    write_record(&state_dir.join(EXIT_FILE), &exit).map_err(|e| format!("recording the exit: {e}"))
}

/// Undoes signals ignored at the executor's start, for the task's sake.
///
/// A client started in the background of a non-interactive shell (`cmd &`
/// in a script) or under `nohup` starts with SIGINT and SIGQUIT (or
/// SIGHUP) ignored, and an ignored signal stays ignored across `exec`: a
/// task with `kill_signal = "SIGINT"` could then not be stopped gently and
/// would be killed at the timeout. A *handled* signal, by contrast, is
/// reset to its default action by `exec`. So the executor installs a
/// handler (tokio's, which does nothing the executor listens to) for each
/// signal it found ignored; it ignored them anyway, and its task starts
/// with every signal at its default, as when the client runs in the
/// foreground. SIGPIPE is left alone: the standard library resets it for
/// the child itself.
fn let_tasks_start_with_default_signals() {
    let ignored = ignored_signals();
    if ignored.is_empty() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    else {
        return;
    };
    let _entered = runtime.enter();
    for signal in ignored {
        if signal == nix::sys::signal::Signal::SIGPIPE as i32 {
            continue;
        }
        // The handler stays installed after the stream and the runtime
        // are dropped (signal-hook-registry never uninstalls one).
        let _ = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(signal));
    }
}

/// The standard signals (1-31) this process ignores (`SigIgn` of
/// `/proc/self/status`). Real-time signals are left alone: the C library
/// reserves the first of them for itself.
fn ignored_signals() -> Vec<i32> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Vec::new();
    };
    let Some(mask) = status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    else {
        return Vec::new();
    };
    (1..=31)
        .filter(|signal| mask & (1u64 << (signal - 1)) != 0)
        .collect()
}

/// Isolated: cgroup, namespaces and root, then init (see
/// [`crate::isolation`]).
fn supervise_isolated(
    state_dir: &Path,
    isolation: &Isolation,
    stdout: RotatingWriter,
    stderr: RotatingWriter,
) -> Result<(), String> {
    let cgroup = Cgroup::create(&isolation.cgroup_name, &isolation.limits)?;
    let result = (|| -> Result<ExitResult, String> {
        crate::isolation::enter_namespaces_and_build_root(isolation)?;
        let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let mut init = Command::new(me)
            .arg("--init")
            .arg(state_dir)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting init: {e}"))?;
        cgroup.add(init.id())?;
        let go = init.stdin.take();
        let exit = record_and_wait(state_dir, &mut init, stdout, stderr, go)?;
        // Init recorded the task's own exit; without that record (init
        // was killed, which ends the namespace) its own status stands.
        let recorded: Option<ExitResult> = std::fs::read(state_dir.join(INIT_EXIT_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let mut exit = recorded.unwrap_or(exit);
        exit.oom_killed = cgroup.oom_killed();
        Ok(exit)
    })();
    cgroup.remove();
    let exit = result?;
    write_record(&state_dir.join(EXIT_FILE), &exit).map_err(|e| format!("recording the exit: {e}"))
}

/// Records the start, lets the task go (isolated: one byte to init),
/// copies its output and waits for it.
fn record_and_wait(
    state_dir: &Path,
    child: &mut std::process::Child,
    mut stdout: RotatingWriter,
    mut stderr: RotatingWriter,
    go: Option<std::process::ChildStdin>,
) -> Result<ExitResult, String> {
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
    if let Some(mut go) = go {
        use std::io::Write;
        go.write_all(b"g")
            .map_err(|e| format!("starting init: {e}"))?;
    }
    let status = pump_until_exit(child, &mut stdout, &mut stderr)?;
    Ok(ExitResult {
        exit_code: status.code().unwrap_or(0),
        signal: status.signal(),
        oom_killed: false,
        err: None,
    })
}

fn resolve_program(spec: &ExecutorSpec) -> PathBuf {
    let program = Path::new(&spec.command);
    if spec.command.contains('/') && program.is_relative() {
        spec.cwd.join(program)
    } else {
        program.to_owned()
    }
}

/// Copies the child's stdout and stderr into the log files until it has
/// exited and its pipes are closed. One thread: an isolated executor has
/// unshared its pid namespace, after which the kernel refuses new threads.
/// The pipes close when the task and every child holding them exit; a
/// daemonised grandchild may keep them open, so after the exit they get
/// one more second to drain.
fn pump_until_exit(
    child: &mut std::process::Child,
    stdout: &mut RotatingWriter,
    stderr: &mut RotatingWriter,
) -> Result<std::process::ExitStatus, String> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;

    // As plain files, so both streams are one type.
    let as_file = |fd: std::os::fd::OwnedFd| std::fs::File::from(fd);
    let mut out = child.stdout.take().map(|p| as_file(p.into()));
    let mut err = child.stderr.take().map(|p| as_file(p.into()));
    let mut buffer = [0u8; 16 * 1024];
    let mut exited: Option<(std::process::ExitStatus, std::time::Instant)> = None;
    loop {
        if exited.is_none()
            && let Some(status) = child.try_wait().map_err(|e| format!("waiting: {e}"))?
        {
            exited = Some((status, crate::clock::monotonic()));
        }
        if let Some((status, at)) = exited
            && ((out.is_none() && err.is_none())
                || at.elapsed() > std::time::Duration::from_secs(1))
        {
            return Ok(status);
        }
        let mut ready = [false, false];
        {
            let mut fds = Vec::with_capacity(2);
            let mut which = Vec::with_capacity(2);
            if let Some(pipe) = &out {
                fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLIN));
                which.push(0);
            }
            if let Some(pipe) = &err {
                fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLIN));
                which.push(1);
            }
            if fds.is_empty() {
                // Both closed, task still running: wait for it alone.
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            match poll(&mut fds, PollTimeout::from(20u8)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(format!("poll: {e}")),
            }
            for (fd, stream) in fds.iter().zip(which) {
                if fd.revents().is_some_and(|r| !r.is_empty()) {
                    ready[stream] = true;
                }
            }
        }
        for (stream, pipe, writer) in [(0, &mut out, &mut *stdout), (1, &mut err, &mut *stderr)] {
            if !ready[stream] {
                continue;
            }
            let read = match pipe {
                Some(pipe) => pipe.read(&mut buffer),
                None => continue,
            };
            match read {
                // A full disk loses log lines, never the task.
                Ok(n) if n > 0 => {
                    let _ = writer.write_all(&buffer[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                _ => *pipe = None,
            }
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
