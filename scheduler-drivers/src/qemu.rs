//! `qemu`: a virtual machine, run by `qemu-system-x86_64` under the
//! executor like any other process.
//!
//! Task configuration: `image_path` (required; relative to the task
//! directory), `accelerator` (`kvm` or `tcg`; by default `kvm` where this
//! node can run KVM guests, else `tcg`), `graceful_shutdown` (stop asks the
//! guest to power down through QMP before it kills), `port_map` (port
//! label to guest port, forwarded from the task's host port by user-mode
//! networking), `drive_interface` (`ide` by default), `args` (appended to
//! qemu's command line, e.g. `-kernel`). Memory comes from the task's
//! resources, vCPUs from its reserved cores (at least one). The guest's
//! serial console is the task's stdout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use scheduler_core::driver::{
    Capabilities, DriverError, DriverFingerprint, DriverFuture, DriverHealth, ExitResult,
    FsIsolation, TaskDriver, TaskHandle, TaskSpec, TaskStats, signal_number,
};

use crate::executor::ExecutorSpec;
use crate::process::{group_usage, signal_process};
use crate::raw_exec::{
    Supervised, destroy_supervised, recoverable, start_supervised, stop_supervised, wait_supervised,
};

/// The driver's name in job files.
pub const NAME: &str = "qemu";

/// The emulator binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// The QMP socket in a task's state directory.
const QMP_SOCKET: &str = "qmp.sock";

/// The `qemu` driver.
#[derive(Debug)]
pub struct QemuDriver {
    executor: PathBuf,
    kvm: tokio::sync::OnceCell<bool>,
    tasks: Mutex<BTreeMap<String, Arc<Vm>>>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Vm {
    process: Supervised,
    graceful_shutdown: bool,
}

/// The `config` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct QemuConfig {
    image_path: String,
    accelerator: Option<String>,
    graceful_shutdown: bool,
    port_map: BTreeMap<String, u16>,
    drive_interface: String,
    args: Vec<String>,
}

fn invalid(message: String) -> DriverError {
    DriverError::InvalidConfig(message)
}

impl QemuConfig {
    fn parse(config: &BTreeMap<String, serde_json::Value>) -> Result<Self, DriverError> {
        use serde_json::Value;
        let mut parsed = QemuConfig {
            drive_interface: "ide".to_owned(),
            ..QemuConfig::default()
        };
        for (key, value) in config {
            match (key.as_str(), value) {
                ("image_path", Value::String(s)) if !s.trim().is_empty() => {
                    parsed.image_path = s.clone();
                }
                ("accelerator", Value::String(s)) if s == "kvm" || s == "tcg" => {
                    parsed.accelerator = Some(s.clone());
                }
                ("accelerator", other) => {
                    return Err(invalid(format!(
                        "config.accelerator: expected \"kvm\" or \"tcg\", found {other}"
                    )));
                }
                ("graceful_shutdown", Value::Bool(b)) => parsed.graceful_shutdown = *b,
                ("drive_interface", Value::String(s)) if !s.is_empty() => {
                    parsed.drive_interface = s.clone();
                }
                ("args", Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let Value::String(s) = item else {
                            return Err(invalid(format!(
                                "config.args[{i}]: expected a string, found {item}"
                            )));
                        };
                        parsed.args.push(s.clone());
                    }
                }
                ("port_map", value) => {
                    // An HCL block decodes as a list of one map.
                    let map = match value {
                        Value::Array(items) if items.len() == 1 => &items[0],
                        other => other,
                    };
                    let Value::Object(map) = map else {
                        return Err(invalid(format!(
                            "config.port_map: expected a map of port labels to guest ports, found {value}"
                        )));
                    };
                    for (label, port) in map {
                        let port = port
                            .as_u64()
                            .and_then(|p| u16::try_from(p).ok())
                            .filter(|p| *p > 0)
                            .ok_or_else(|| {
                                invalid(format!(
                                    "config.port_map.{label}: expected a port number, found {port}"
                                ))
                            })?;
                        parsed.port_map.insert(label.clone(), port);
                    }
                }
                ("image_path" | "graceful_shutdown" | "drive_interface" | "args", other) => {
                    return Err(invalid(format!("config.{key}: unexpected value {other}")));
                }
                (other, _) => {
                    return Err(invalid(format!(
                        "config.{other}: not an option of the qemu driver (it takes image_path, \
                         accelerator, graceful_shutdown, port_map, drive_interface, args)"
                    )));
                }
            }
        }
        if parsed.image_path.is_empty() {
            return Err(invalid("config.image_path: required".to_owned()));
        }
        Ok(parsed)
    }
}

/// Whether KVM guests run here: qemu starts a stopped KVM machine with its
/// default CPU model and quits it from its monitor. `/dev/kvm` may exist
/// and a machine may even start while guests cannot run: where KVM lacks
/// features of the default CPU model (qemu warns "host doesn't support
/// requested feature", as under some nested hypervisors), a Linux guest
/// hangs before its first console line, so that counts as unusable.
async fn kvm_usable() -> bool {
    let Ok(mut child) = tokio::process::Command::new(QEMU)
        .args([
            "-machine",
            "pc,accel=kvm",
            "-m",
            "16",
            "-nodefaults",
            "-display",
            "none",
            "-S",
            "-monitor",
            "stdio",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"quit\n").await;
    }
    match tokio::time::timeout(Duration::from_secs(10), child.wait_with_output()).await {
        Ok(Ok(output)) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            output.status.success() && !stderr.contains("doesn't support requested feature")
        }
        _ => false,
    }
}

impl QemuDriver {
    /// A driver that supervises VMs with the `sched-executor` binary at
    /// `executor`.
    pub fn new(executor: PathBuf) -> Self {
        Self {
            executor,
            kvm: tokio::sync::OnceCell::new(),
            tasks: Mutex::new(BTreeMap::new()),
        }
    }

    async fn kvm(&self) -> bool {
        *self.kvm.get_or_init(kvm_usable).await
    }

    fn vm(&self, task_id: &str) -> Result<Arc<Vm>, DriverError> {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(task_id)
            .cloned()
            .ok_or_else(|| DriverError::UnknownTask(task_id.to_owned()))
    }

    async fn command_line(
        &self,
        spec: &TaskSpec,
        config: &QemuConfig,
    ) -> Result<Vec<String>, DriverError> {
        let accelerator = match config.accelerator.as_deref() {
            Some("kvm") if !self.kvm().await => {
                return Err(DriverError::StartFailed(
                    "config.accelerator: kvm does not work on this node (use tcg)".to_owned(),
                ));
            }
            Some(chosen) => chosen.to_owned(),
            None if self.kvm().await => "kvm".to_owned(),
            None => "tcg".to_owned(),
        };
        let image = Path::new(&config.image_path);
        let image = if image.is_relative() {
            spec.task_dir.join(image)
        } else {
            image.to_owned()
        };
        if !image.is_file() {
            return Err(DriverError::StartFailed(format!(
                "config.image_path: {} does not exist",
                image.display()
            )));
        }
        let memory_mb = spec.memory_mb.max(spec.memory_max_mb).max(16);
        let mut line: Vec<String> = vec![
            "-machine".into(),
            format!("type=pc,accel={accelerator}"),
            "-name".into(),
            spec.name.clone(),
            "-m".into(),
            format!("{memory_mb}M"),
            "-smp".into(),
            spec.cores.max(1).to_string(),
            "-drive".into(),
            format!("file={},if={}", image.display(), config.drive_interface),
            "-display".into(),
            "none".into(),
            "-serial".into(),
            "stdio".into(),
            "-monitor".into(),
            "none".into(),
            "-qmp".into(),
            format!(
                "unix:{},server=on,wait=off",
                spec.state_dir.join(QMP_SOCKET).display()
            ),
        ];
        if !config.port_map.is_empty() {
            let mut forwards = Vec::new();
            for (label, guest) in &config.port_map {
                let host = spec.ports.get(label).ok_or_else(|| {
                    invalid(format!(
                        "config.port_map.{label}: the task has no network port labelled {label:?}"
                    ))
                })?;
                forwards.push(format!("hostfwd=tcp::{}-:{guest}", host.host));
                forwards.push(format!("hostfwd=udp::{}-:{guest}", host.host));
            }
            line.extend([
                "-netdev".into(),
                format!("user,id=user.0,{}", forwards.join(",")),
                "-device".into(),
                "virtio-net,netdev=user.0".into(),
            ]);
        }
        line.extend(config.args.iter().cloned());
        Ok(line)
    }
}

/// Asks the guest to power down through QMP (the ACPI power button).
async fn qmp_powerdown(socket: &Path) -> Result<(), String> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    // The greeting, then capabilities negotiation, then the command.
    let _greeting = lines.next_line().await.map_err(|e| e.to_string())?;
    for command in [
        r#"{"execute":"qmp_capabilities"}"#,
        r#"{"execute":"system_powerdown"}"#,
    ] {
        write
            .write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let line = lines
                .next_line()
                .await
                .map_err(|e| e.to_string())?
                .ok_or("QMP closed")?;
            if line.contains("\"return\"") {
                break;
            }
            if line.contains("\"error\"") {
                return Err(line);
            }
        }
    }
    Ok(())
}

impl TaskDriver for QemuDriver {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            send_signals: false,
            exec: false,
            fs_isolation: FsIsolation::Image,
            enforces_limits: true,
        }
    }

    fn fingerprint(&self) -> DriverFuture<'_, DriverFingerprint> {
        Box::pin(async move {
            let output = tokio::process::Command::new(QEMU)
                .arg("--version")
                .output()
                .await;
            let Some(output) = output.ok().filter(|o| o.status.success()) else {
                return Ok(DriverFingerprint {
                    health: DriverHealth::Undetected,
                    description: format!("{QEMU} not found"),
                    attributes: BTreeMap::new(),
                });
            };
            let text = String::from_utf8_lossy(&output.stdout);
            let version = text
                .split_whitespace()
                .skip_while(|word| *word != "version")
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let kvm = self.kvm().await;
            Ok(DriverFingerprint {
                health: if self.executor.is_file() {
                    DriverHealth::Healthy
                } else {
                    DriverHealth::Unhealthy
                },
                description: format!(
                    "qemu {version}, kvm {}",
                    if kvm { "usable" } else { "not usable" }
                ),
                attributes: BTreeMap::from([
                    (format!("driver.{NAME}"), "1".to_owned()),
                    (format!("driver.{NAME}.version"), version),
                    (format!("driver.{NAME}.kvm"), kvm.to_string()),
                ]),
            })
        })
    }

    fn start<'a>(&'a self, spec: &'a TaskSpec) -> DriverFuture<'a, TaskHandle> {
        Box::pin(async move {
            let config = QemuConfig::parse(&spec.config)?;
            let args = self.command_line(spec, &config).await?;
            let executor_spec = ExecutorSpec {
                command: QEMU.to_owned(),
                args,
                env: spec.env.clone(),
                cwd: spec.task_dir.clone(),
                user: spec.user.clone(),
                task_name: spec.name.clone(),
                logs: spec.logs.clone(),
                isolation: None,
            };
            let process = start_supervised(&self.executor, spec, &executor_spec).await?;
            let vm = Vm {
                process,
                graceful_shutdown: config.graceful_shutdown,
            };
            let handle = TaskHandle {
                driver: NAME.to_owned(),
                task_id: spec.id.clone(),
                state: serde_json::to_value(&vm)
                    .map_err(|e| DriverError::Io(format!("handle: {e}")))?,
            };
            self.tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(spec.id.clone(), Arc::new(vm));
            Ok(handle)
        })
    }

    fn recover<'a>(&'a self, handle: &'a TaskHandle) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            let vm: Vm = serde_json::from_value(handle.state.clone()).map_err(|e| {
                DriverError::NotRecoverable(format!("handle of {}: {e}", handle.task_id))
            })?;
            if !recoverable(&vm.process) {
                return Err(DriverError::NotRecoverable(format!(
                    "{}: neither the VM nor its executor runs, and no exit was recorded",
                    handle.task_id
                )));
            }
            self.tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(handle.task_id.clone(), Arc::new(vm));
            Ok(())
        })
    }

    fn wait<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, ExitResult> {
        Box::pin(async move {
            let vm = self.vm(task_id)?;
            Ok(wait_supervised(&vm.process).await)
        })
    }

    fn stop<'a>(
        &'a self,
        task_id: &'a str,
        signal: Option<&'a str>,
        timeout: Duration,
    ) -> DriverFuture<'a, ExitResult> {
        Box::pin(async move {
            let vm = self.vm(task_id)?;
            if vm.graceful_shutdown
                && signal.is_none()
                && qmp_powerdown(&vm.process.state_dir.join(QMP_SOCKET))
                    .await
                    .is_ok()
                && let Ok(exit) = tokio::time::timeout(timeout, wait_supervised(&vm.process)).await
            {
                return Ok(exit);
            }
            // qemu itself ends at once on SIGTERM; the guest is gone either
            // way, so no second grace period.
            stop_supervised(&vm.process, signal, Duration::from_secs(2)).await
        })
    }

    fn signal<'a>(&'a self, task_id: &'a str, signal: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            let vm = self.vm(task_id)?;
            let signal = signal_number(signal)
                .and_then(|n| nix::sys::signal::Signal::try_from(n).ok())
                .ok_or_else(|| invalid(format!("unknown signal {signal:?}")))?;
            if signal_process(&vm.process.task, signal) {
                Ok(())
            } else {
                Err(DriverError::Io(format!("task {task_id} is not running")))
            }
        })
    }

    fn stats<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, TaskStats> {
        Box::pin(async move {
            let vm = self.vm(task_id)?;
            let (cpu_time, memory_rss_bytes, processes) = group_usage(vm.process.task.pid);
            Ok(TaskStats {
                cpu_time,
                memory_rss_bytes,
                processes,
            })
        })
    }

    fn destroy<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            let vm = self.vm(task_id)?;
            destroy_supervised(&vm.process).await;
            self.tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(task_id);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<QemuConfig, DriverError> {
        QemuConfig::parse(&serde_json::from_value(json).expect("map"))
    }

    #[test]
    fn the_config_block_is_read_as_nomad_writes_it_and_errors_name_the_field() {
        let config = parse(serde_json::json!({
            "image_path": "local/disk.img",
            "accelerator": "tcg",
            "graceful_shutdown": true,
            "port_map": [{"http": 8080}],
            "args": ["-kernel", "local/vmlinuz"]
        }))
        .expect("valid");
        assert_eq!(config.port_map["http"], 8080);
        assert!(config.graceful_shutdown);
        let err = |json| parse(json).unwrap_err().to_string();
        assert!(err(serde_json::json!({})).contains("config.image_path: required"));
        assert!(
            err(serde_json::json!({"image_path": "x", "accelerator": "hvf"}))
                .contains("config.accelerator")
        );
        assert!(
            err(serde_json::json!({"image_path": "x", "port_map": {"http": "eighty"}}))
                .contains("config.port_map.http")
        );
        assert!(
            err(serde_json::json!({"image_path": "x", "guest_agent": true}))
                .contains("config.guest_agent")
        );
    }
}
