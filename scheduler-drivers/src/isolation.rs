//! Isolation for the `exec` and `java` drivers: namespaces, a task root
//! built from bind mounts, cgroup limits, and the in-namespace init.
//!
//! The executor ([`crate::executor`]) prepares everything that needs the
//! host's view: it creates the cgroup and writes the limits, moves itself
//! into new mount, pid, ipc and uts namespaces, and bind-mounts the
//! allocation directories and read-only system paths into the task's root.
//! It then starts itself again as the namespace's init (pid 1), which joins
//! the cgroup (the executor writes its pid there before telling it to go,
//! so nothing the task forks escapes), mounts `/proc`, enters the root,
//! drops to the task's user and runs the task. Signals from the host reach
//! the task through init's process group; init itself ignores them (pid 1
//! of a namespace gets only signals it handles), so a stop reaches the task
//! and a kill of init takes the whole namespace with it. The mounts live in
//! the executor's private mount namespace and vanish with it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use scheduler_core::driver::ExitResult;

/// System paths bound read-only into a task root when they exist
/// (Nomad's default `chroot_env`).
pub const SYSTEM_PATHS: &[&str] = &["/bin", "/etc", "/lib", "/lib32", "/lib64", "/sbin", "/usr"];

/// Device nodes a task gets in its `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// The file init writes the task's exit into (opened before it enters the
/// root, in the state directory).
pub const INIT_EXIT_FILE: &str = "init-exit.json";

/// How to isolate a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// The task's root (its task directory).
    pub root: PathBuf,
    /// Host paths bound into the root.
    pub binds: Vec<Bind>,
    /// The working directory inside the root.
    pub cwd: PathBuf,
    /// The hostname the task sees.
    pub hostname: String,
    /// Resource limits.
    pub limits: Limits,
    /// The cgroup's name (unique per task on the node).
    pub cgroup_name: String,
}

/// A host path bound into the task root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// On the host.
    pub source: PathBuf,
    /// Inside the root (absolute, as the task sees it).
    pub target: PathBuf,
    /// Read-only.
    pub read_only: bool,
}

/// Limits enforced through cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Hard memory limit in bytes.
    pub memory_bytes: u64,
    /// CPU weight: shares in MHz, as Nomad writes them.
    pub cpu_shares: u64,
    /// The most processes.
    pub pids: u64,
}

/// The cgroups of one task: v1 (one directory per controller) or v2
/// (one unified directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    v2: bool,
}

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

impl Cgroup {
    /// Creates the task's cgroups under `sched/` and writes the limits.
    pub fn create(name: &str, limits: &Limits) -> Result<Cgroup, String> {
        let root = Path::new(CGROUP_ROOT);
        let write = |path: PathBuf, value: String| {
            std::fs::write(&path, value).map_err(|e| format!("{}: {e}", path.display()))
        };
        if root.join("cgroup.controllers").exists() {
            let dir = root.join("sched").join(name);
            // Controllers must be enabled for the children of `sched`.
            let _ = std::fs::create_dir_all(root.join("sched"));
            let _ = std::fs::write(root.join("cgroup.subtree_control"), "+memory +cpu +pids");
            let _ = std::fs::write(
                root.join("sched/cgroup.subtree_control"),
                "+memory +cpu +pids",
            );
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            write(dir.join("memory.max"), limits.memory_bytes.to_string())?;
            // cpu.weight is 1..=10000; 100 is the default share of 1024.
            let weight = (limits.cpu_shares.max(2) * 100 / 1024).clamp(1, 10_000);
            let _ = write(dir.join("cpu.weight"), weight.to_string());
            let _ = write(dir.join("pids.max"), limits.pids.to_string());
            return Ok(Cgroup {
                dirs: vec![dir],
                v2: true,
            });
        }
        let mut dirs = Vec::new();
        for controller in ["memory", "cpu", "pids"] {
            let base = root.join(controller);
            if !base.exists() {
                continue;
            }
            let dir = base.join("sched").join(name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            match controller {
                "memory" => {
                    write(
                        dir.join("memory.limit_in_bytes"),
                        limits.memory_bytes.to_string(),
                    )?;
                    // Without swap accounting this file is absent.
                    let _ = write(
                        dir.join("memory.memsw.limit_in_bytes"),
                        limits.memory_bytes.to_string(),
                    );
                }
                "cpu" => write(dir.join("cpu.shares"), limits.cpu_shares.max(2).to_string())?,
                _ => write(dir.join("pids.max"), limits.pids.to_string())?,
            }
            dirs.push(dir);
        }
        if dirs.is_empty() {
            return Err(format!("no cgroup controllers under {CGROUP_ROOT}"));
        }
        Ok(Cgroup { dirs, v2: false })
    }

    /// Moves the process `pid` (as the host sees it) into the cgroups.
    pub fn add(&self, pid: u32) -> Result<(), String> {
        for dir in &self.dirs {
            let procs = dir.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string())
                .map_err(|e| format!("{}: {e}", procs.display()))?;
        }
        Ok(())
    }

    /// Whether the kernel killed a process of the cgroup for memory.
    pub fn oom_killed(&self) -> bool {
        let counter = |file: &str, key: &str| {
            self.dirs.iter().any(|dir| {
                std::fs::read_to_string(dir.join(file)).is_ok_and(|text| {
                    text.lines().any(|line| {
                        line.split_once(' ').is_some_and(|(k, v)| {
                            k == key && v.trim().parse::<u64>().unwrap_or(0) > 0
                        })
                    })
                })
            })
        };
        if self.v2 {
            counter("memory.events", "oom_kill")
        } else {
            counter("memory.oom_control", "oom_kill")
        }
    }

    /// Removes the cgroups (once their processes are gone).
    pub fn remove(&self) {
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// In the executor: new namespaces and the task root. The next child the
/// executor starts is pid 1 of the new pid namespace.
pub fn enter_namespaces_and_build_root(isolation: &Isolation) -> Result<(), String> {
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS,
    )
    .map_err(|e| format!("unshare: {e} (the exec driver needs root)"))?;
    // Nothing mounted from here on propagates back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("making mounts private: {e}"))?;
    nix::unistd::sethostname(&isolation.hostname).map_err(|e| format!("sethostname: {e}"))?;
    let root = &isolation.root;
    for bind in &isolation.binds {
        let target = inside(root, &bind.target);
        bind_mount(&bind.source, &target, bind.read_only)?;
    }
    let dev = root.join("dev");
    std::fs::create_dir_all(&dev).map_err(|e| format!("{}: {e}", dev.display()))?;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=755,size=64k"),
    )
    .map_err(|e| format!("{}: {e}", dev.display()))?;
    for device in DEVICES {
        let host = Path::new("/dev").join(device);
        if host.exists() {
            bind_mount(&host, &dev.join(device), false)?;
        }
    }
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    mount(
        Some("tmpfs"),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
    )
    .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::create_dir_all(root.join("proc")).map_err(|e| format!("proc: {e}"))?;
    Ok(())
}

/// `path` (absolute, as the task sees it) under `root`.
fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

fn bind_mount(source: &Path, target: &Path, read_only: bool) -> Result<(), String> {
    if source.is_dir() {
        std::fs::create_dir_all(target).map_err(|e| format!("{}: {e}", target.display()))?;
    } else {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        if !target.exists() {
            std::fs::File::create(target).map_err(|e| format!("{}: {e}", target.display()))?;
        }
    }
    let failed = |e: nix::Error| format!("bind {} on {}: {e}", source.display(), target.display());
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(failed)?;
    if read_only {
        mount(
            None::<&str>,
            target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(failed)?;
    }
    Ok(())
}

/// What init needs to run the task (a part of the executor's spec).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitSpec {
    /// The program, resolved inside the root.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its environment.
    pub env: std::collections::BTreeMap<String, String>,
    /// The user to run as.
    pub user: String,
    /// The root and working directory.
    pub isolation: Isolation,
}

/// Init, pid 1 of the task's namespaces: waits for the executor's go (one
/// byte on stdin, once the cgroup holds it), then runs the task and
/// records its exit. Returns init's exit code.
pub fn run_init(state_dir: &Path, spec: &InitSpec) -> i32 {
    let mut exit_file = match std::fs::File::create(state_dir.join(INIT_EXIT_FILE)) {
        Ok(file) => file,
        Err(err) => {
            eprintln!("init: {}: {err}", state_dir.display());
            return 1;
        }
    };
    let mut go = [0u8; 1];
    if std::io::stdin().read_exact(&mut go).is_err() {
        eprintln!("init: the executor did not say go");
        return 1;
    }
    let exit = match start_and_wait(spec) {
        Ok(exit) => exit,
        Err(err) => ExitResult {
            exit_code: 127,
            err: Some(err),
            ..ExitResult::default()
        },
    };
    let bytes = serde_json::to_vec(&exit).unwrap_or_default();
    let _ = exit_file.write_all(&bytes);
    let _ = exit_file.sync_all();
    0
}

/// Shows the task its own cgroups, read-only, at `/sys/fs/cgroup`: in a
/// new cgroup namespace (init already joined the task's cgroups, which
/// become its root) the controllers are mounted as the task sees them.
/// Runtimes that size themselves from their limits (the JVM's heap, Go's
/// and Node's memory limits) then read the task's limits, not the host's.
fn mount_own_cgroups(root: &Path) -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|e| format!("cgroup namespace: {e}"))?;
    let base = root.join("sys/fs/cgroup");
    std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    mount(
        Some("tmpfs"),
        &base,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755,size=64k"),
    )
    .map_err(|e| format!("{}: {e}", base.display()))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    if Path::new(CGROUP_ROOT).join("cgroup.controllers").exists() {
        return mount(Some("cgroup2"), &base, Some("cgroup2"), flags, None::<&str>)
            .map_err(|e| format!("mounting cgroup2: {e}"));
    }
    // The controllers the task's limits live in, and the ones runtimes
    // insist on finding (JDK 17 needs cpuset, cpu, cpuacct and memory on
    // v1), each as the host mounts it (alone, or co-mounted such as
    // `cpu,cpuacct` behind a symlink).
    let mut done = std::collections::BTreeSet::new();
    for controller in ["memory", "cpu", "cpuacct", "cpuset", "pids"] {
        let host = Path::new(CGROUP_ROOT).join(controller);
        if !host.exists() {
            continue;
        }
        let mounted = std::fs::read_link(&host)
            .ok()
            .and_then(|target| target.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| controller.to_owned());
        let target = base.join(&mounted);
        // A co-mounted hierarchy is mounted once and serves all its names.
        if done.insert(mounted.clone()) {
            std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
            mount(
                Some("cgroup"),
                &target,
                Some("cgroup"),
                flags,
                Some(mounted.as_str()),
            )
            .map_err(|e| format!("mounting the {mounted} cgroup: {e}"))?;
        }
        if mounted != controller {
            let _ = std::os::unix::fs::symlink(&mounted, base.join(controller));
        }
    }
    Ok(())
}

fn start_and_wait(spec: &InitSpec) -> Result<ExitResult, String> {
    let root = &spec.isolation.root;
    mount(
        Some("proc"),
        &root.join("proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("mounting /proc: {e}"))?;
    mount_own_cgroups(root)?;
    nix::unistd::chroot(root).map_err(|e| format!("chroot {}: {e}", root.display()))?;
    std::env::set_current_dir(&spec.isolation.cwd)
        .map_err(|e| format!("working directory {}: {e}", spec.isolation.cwd.display()))?;
    let user = nix::unistd::User::from_name(&spec.user)
        .map_err(|e| format!("user {:?}: {e}", spec.user))?
        .ok_or_else(|| format!("user {:?} does not exist in the task root", spec.user))?;
    nix::unistd::setgroups(&[user.gid]).map_err(|e| format!("setgroups: {e}"))?;
    nix::unistd::setgid(user.gid).map_err(|e| format!("setgid: {e}"))?;
    nix::unistd::setuid(user.uid).map_err(|e| format!("setuid: {e}"))?;
    let child = Command::new(&spec.command)
        .args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {:?} in the task root: {e}", spec.command))?;
    let task_pid = Pid::from_raw(child.id() as i32);
    // As pid 1, init also reaps whatever the task leaves orphaned; the
    // task's own status comes from the same wait.
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == task_pid => {
                return Ok(ExitResult {
                    exit_code: code,
                    ..ExitResult::default()
                });
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == task_pid => {
                return Ok(ExitResult {
                    signal: Some(signal as i32),
                    ..ExitResult::default()
                });
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => return Err(format!("waiting for the task: {err}")),
        }
    }
}
