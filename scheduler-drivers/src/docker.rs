//! `docker`: a container through the Docker Engine API (bollard), against
//! Docker or podman's compatible socket.
//!
//! Task configuration: `image` (required; used from the local store, else
//! pulled), `command`, `args`, `entrypoint`, `labels`, `ports` (labels of
//! the task's network ports: each maps the host port to the port `to`
//! inside), `work_dir`. Memory (`memory_max`, else `memory`) and CPU
//! shares come from the task's resources. The container is named
//! `<task>-<alloc id>` and labelled with the allocation and task, so a
//! restarted client finds it again; its output is copied into the task's
//! rotated log files.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, KillContainerOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StatsOptionsBuilder,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use scheduler_core::driver::{
    Capabilities, DriverError, DriverFingerprint, DriverFuture, DriverHealth, ExitResult,
    FsIsolation, TaskDriver, TaskHandle, TaskSpec, TaskStats, signal_number,
};

use crate::logs::RotatingWriter;

/// The driver's name in job files.
pub const NAME: &str = "docker";

/// Label with the task's id (`<alloc id>/<task>`) on every container.
pub const TASK_LABEL: &str = "sched.task_id";

/// How often `wait` looks at a container that a wait request left running.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// The `docker` driver.
#[derive(Debug)]
pub struct DockerDriver {
    docker: Docker,
    tasks: Mutex<BTreeMap<String, Container>>,
    /// Log copiers, ended with the driver (a client that goes away stops
    /// copying; the next one resumes where it stopped).
    pumps: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Containers the kernel OOM-killed (see [`crate::oom`]).
    oom_kills: crate::oom::OomKills,
}

impl Drop for DockerDriver {
    fn drop(&mut self) {
        for pump in self
            .pumps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            pump.abort();
        }
    }
}

/// Splits the engine's `RFC 3339 timestamp + space` prefix off a log line;
/// the timestamp comes back with its fraction padded to nanoseconds, so
/// timestamps compare as strings.
fn split_timestamp(message: &[u8]) -> (String, &[u8]) {
    let Some(space) = message.iter().position(|b| *b == b' ') else {
        return (String::new(), message);
    };
    let Ok(stamp) = std::str::from_utf8(&message[..space]) else {
        return (String::new(), message);
    };
    if !stamp.ends_with('Z') || !stamp.contains('T') {
        return (String::new(), message);
    }
    let body = &stamp[..stamp.len() - 1];
    let (seconds, fraction) = body.split_once('.').unwrap_or((body, ""));
    (format!("{seconds}.{fraction:0<9}Z"), &message[space + 1..])
}

/// What the handle records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Container {
    id: String,
    kill_signal: String,
    task_name: String,
    logs: scheduler_core::driver::LogRotation,
}

/// The `config` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct DockerConfig {
    image: String,
    command: Option<String>,
    args: Vec<String>,
    entrypoint: Option<Vec<String>>,
    labels: BTreeMap<String, String>,
    ports: Vec<String>,
    work_dir: Option<String>,
}

fn invalid(message: String) -> DriverError {
    DriverError::InvalidConfig(message)
}

fn string_list(key: &str, value: &serde_json::Value) -> Result<Vec<String>, DriverError> {
    let serde_json::Value::Array(items) = value else {
        return Err(invalid(format!(
            "config.{key}: expected a list of strings, found {value}"
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            serde_json::Value::String(s) => Ok(s.clone()),
            other => Err(invalid(format!(
                "config.{key}[{i}]: expected a string, found {other}"
            ))),
        })
        .collect()
}

fn non_empty_string(key: &str, value: &serde_json::Value) -> Result<String, DriverError> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        other => Err(invalid(format!(
            "config.{key}: expected a non-empty string, found {other}"
        ))),
    }
}

impl DockerConfig {
    fn parse(config: &BTreeMap<String, serde_json::Value>) -> Result<Self, DriverError> {
        let mut parsed = DockerConfig::default();
        for (key, value) in config {
            match key.as_str() {
                "image" => parsed.image = non_empty_string(key, value)?,
                "command" => parsed.command = Some(non_empty_string(key, value)?),
                "args" => parsed.args = string_list(key, value)?,
                "entrypoint" => parsed.entrypoint = Some(string_list(key, value)?),
                "ports" => parsed.ports = string_list(key, value)?,
                "work_dir" => parsed.work_dir = Some(non_empty_string(key, value)?),
                "labels" => {
                    // HCL blocks decode as a list of one map.
                    let map = match value {
                        serde_json::Value::Array(items) if items.len() == 1 => &items[0],
                        other => other,
                    };
                    let serde_json::Value::Object(map) = map else {
                        return Err(invalid(format!(
                            "config.labels: expected a map of strings, found {value}"
                        )));
                    };
                    for (name, label) in map {
                        let serde_json::Value::String(label) = label else {
                            return Err(invalid(format!(
                                "config.labels.{name}: expected a string, found {label}"
                            )));
                        };
                        parsed.labels.insert(name.clone(), label.clone());
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "config.{other}: not an option of the docker driver (it takes image, \
                         command, args, entrypoint, labels, ports, work_dir)"
                    )));
                }
            }
        }
        if parsed.image.is_empty() {
            return Err(invalid("config.image: required".to_owned()));
        }
        Ok(parsed)
    }
}

fn engine_error(what: &str, err: bollard::errors::Error) -> DriverError {
    DriverError::Io(format!("{what}: {err}"))
}

impl DockerDriver {
    /// Connects to the Docker Engine API on a unix socket (Docker's
    /// `/var/run/docker.sock`, or podman's) and settles the API version
    /// with it.
    pub async fn connect(socket: &str) -> Result<DockerDriver, DriverError> {
        let docker = Docker::connect_with_unix(socket, 120, bollard::API_DEFAULT_VERSION)
            .map_err(|e| engine_error(socket, e))?
            .negotiate_version()
            .await
            .map_err(|e| engine_error(socket, e))?;
        Ok(DockerDriver {
            docker,
            tasks: Mutex::new(BTreeMap::new()),
            pumps: Mutex::new(Vec::new()),
            oom_kills: Default::default(),
        })
    }

    fn container(&self, task_id: &str) -> Result<Container, DriverError> {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(task_id)
            .cloned()
            .ok_or_else(|| DriverError::UnknownTask(task_id.to_owned()))
    }

    async fn ensure_image(&self, image: &str) -> Result<(), DriverError> {
        if self.docker.inspect_image(image).await.is_ok() {
            return Ok(());
        }
        let options = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let mut pull = self.docker.create_image(Some(options), None, None);
        while let Some(progress) = pull.next().await {
            progress.map_err(|e| {
                DriverError::StartFailed(format!(
                    "image {image} is not in the local store and pulling it failed: {e}"
                ))
            })?;
        }
        Ok(())
    }

    /// Copies the container's output into the task's log files until it
    /// exits (a background task, ended when the driver is dropped).
    ///
    /// Lines carry the engine's timestamps; the newest one copied (and how
    /// many lines carried it) is kept beside the log files, so a restarted
    /// client resumes after it instead of copying a line twice or losing
    /// what ran meanwhile.
    fn pump_logs(&self, container: &Container) {
        let docker = self.docker.clone();
        let id = container.id.clone();
        let logs = &container.logs;
        let stdout = RotatingWriter::open(logs, &container.task_name, "stdout");
        let stderr = RotatingWriter::open(logs, &container.task_name, "stderr");
        let (Ok(mut stdout), Ok(mut stderr)) = (stdout, stderr) else {
            return;
        };
        let mark = logs
            .dir
            .join(format!(".{}.docker-copied-until", container.task_name));
        // The newest timestamp copied and how many lines carried it: the
        // engine may stamp to the second only, so several lines share one.
        let (mut copied_until, mut copied_at_stamp) = std::fs::read_to_string(&mark)
            .ok()
            .and_then(|text| {
                let (stamp, count) = text.trim().split_once(' ')?;
                Some((stamp.to_owned(), count.parse::<u64>().ok()?))
            })
            .unwrap_or_default();
        // Lines stamped `copied_until` still to skip (copied before).
        let mut to_skip = copied_at_stamp;
        let pump = tokio::spawn(async move {
            let options = LogsOptionsBuilder::default()
                .follow(true)
                .stdout(true)
                .stderr(true)
                .timestamps(true)
                .build();
            let mut output = docker.logs(&id, Some(options));
            let save = |stamp: &str, count: u64| {
                let _ = std::fs::write(&mark, format!("{stamp} {count}"));
            };
            while let Some(Ok(chunk)) = output.next().await {
                use bollard::container::LogOutput;
                let (is_stderr, message) = match chunk {
                    LogOutput::StdErr { message } => (true, message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        (false, message)
                    }
                    LogOutput::StdIn { .. } => continue,
                };
                let (stamp, line) = split_timestamp(&message);
                if !stamp.is_empty() {
                    match stamp.as_str().cmp(copied_until.as_str()) {
                        std::cmp::Ordering::Less => continue,
                        std::cmp::Ordering::Equal if to_skip > 0 => {
                            to_skip -= 1;
                            continue;
                        }
                        std::cmp::Ordering::Equal => copied_at_stamp += 1,
                        std::cmp::Ordering::Greater => {
                            copied_until = stamp;
                            copied_at_stamp = 1;
                            to_skip = 0;
                        }
                    }
                }
                // A full disk loses log lines, never the task.
                let _ = if is_stderr {
                    stderr.write_all(line)
                } else {
                    stdout.write_all(line)
                };
                // Saved with every line: a client that dies between the two
                // writes copies at most that one line twice.
                save(&copied_until, copied_at_stamp);
            }
        });
        self.pumps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pump.abort_handle());
    }

    /// Inspects a container. Podman briefly reports a container that
    /// exited but is not cleaned up yet as `"Status": "stopped"`, which is
    /// not in the Docker API's list and fails to decode; that state passes
    /// within moments, so such an answer is asked again (bounded).
    async fn inspect(
        &self,
        container_id: &str,
    ) -> Result<bollard::models::ContainerInspectResponse, bollard::errors::Error> {
        let mut attempts = 0;
        loop {
            match self.docker.inspect_container(container_id, None).await {
                Err(bollard::errors::Error::JsonDataError { message, .. })
                    if message.contains("unknown variant `stopped`") && attempts < 100 =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                answer => return answer,
            }
        }
    }

    async fn exit_of(&self, container_id: &str) -> Result<Option<ExitResult>, DriverError> {
        let inspect = self
            .inspect(container_id)
            .await
            .map_err(|e| engine_error("inspect", e))?;
        let state = inspect.state.unwrap_or_default();
        if state.running.unwrap_or(false) {
            return Ok(None);
        }
        use bollard::models::ContainerStateStatusEnum as Status;
        if matches!(state.status, Some(Status::CREATED)) {
            return Ok(None);
        }
        let exit_code = state.exit_code.unwrap_or(0) as i32;
        let seen_oom = self
            .oom_kills
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(container_id);
        Ok(Some(ExitResult {
            exit_code,
            // The engine reports 128 + n for a container killed by signal n.
            signal: (exit_code > 128 && exit_code < 160).then_some(exit_code - 128),
            oom_killed: state.oom_killed.unwrap_or(false) || seen_oom,
            err: state.error.filter(|e| !e.is_empty()),
        }))
    }

    /// Starts watching a running container's memory cgroup for OOM kills.
    async fn watch_oom(&self, container_id: &str) {
        if let Ok(inspect) = self.inspect(container_id).await
            && let Some(pid) = inspect.state.and_then(|s| s.pid).filter(|p| *p > 0)
        {
            crate::oom::watch(container_id.to_owned(), pid, self.oom_kills.clone());
        }
    }

    async fn kill(&self, container_id: &str, signal: &str) -> Result<(), DriverError> {
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.docker
            .kill_container(container_id, Some(options))
            .await
            .map_err(|e| engine_error("kill", e))
    }
}

impl TaskDriver for DockerDriver {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            send_signals: true,
            exec: false,
            fs_isolation: FsIsolation::Image,
            enforces_limits: true,
        }
    }

    fn fingerprint(&self) -> DriverFuture<'_, DriverFingerprint> {
        Box::pin(async move {
            match self.docker.version().await {
                Ok(version) => {
                    let mut attributes =
                        BTreeMap::from([(format!("driver.{NAME}"), "1".to_owned())]);
                    if let Some(v) = version.version {
                        attributes.insert(format!("driver.{NAME}.version"), v);
                    }
                    if let Some(v) = version.api_version {
                        attributes.insert(format!("driver.{NAME}.api_version"), v);
                    }
                    Ok(DriverFingerprint {
                        health: DriverHealth::Healthy,
                        description: "healthy".to_owned(),
                        attributes,
                    })
                }
                Err(err) => Ok(DriverFingerprint {
                    health: DriverHealth::Unhealthy,
                    description: format!("the engine does not answer: {err}"),
                    attributes: BTreeMap::new(),
                }),
            }
        })
    }

    fn start<'a>(&'a self, spec: &'a TaskSpec) -> DriverFuture<'a, TaskHandle> {
        Box::pin(async move {
            let config = DockerConfig::parse(&spec.config)?;
            self.ensure_image(&config.image).await?;
            let mut labels: HashMap<String, String> = config.labels.clone().into_iter().collect();
            labels.insert(TASK_LABEL.to_owned(), spec.id.clone());
            labels.insert("sched.alloc_id".to_owned(), spec.alloc_id.clone());
            labels.insert("sched.task_name".to_owned(), spec.name.clone());
            let mut exposed = Vec::new();
            let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
            for label in &config.ports {
                let port = spec.ports.get(label).ok_or_else(|| {
                    invalid(format!(
                        "config.ports: the task has no network port labelled {label:?}"
                    ))
                })?;
                for protocol in ["tcp", "udp"] {
                    let inside = format!("{}/{protocol}", port.to);
                    exposed.push(inside.clone());
                    bindings.insert(
                        inside,
                        Some(vec![PortBinding {
                            host_ip: Some(String::new()),
                            host_port: Some(port.host.to_string()),
                        }]),
                    );
                }
            }
            let memory_mb = if spec.memory_max_mb > 0 {
                spec.memory_max_mb
            } else {
                spec.memory_mb
            };
            let cmd = config
                .command
                .iter()
                .cloned()
                .chain(config.args.iter().cloned())
                .collect::<Vec<_>>();
            let body = ContainerCreateBody {
                image: Some(config.image.clone()),
                cmd: (!cmd.is_empty()).then_some(cmd),
                entrypoint: config.entrypoint.clone(),
                env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                labels: Some(labels),
                working_dir: config.work_dir.clone(),
                exposed_ports: (!exposed.is_empty()).then_some(exposed),
                host_config: Some(HostConfig {
                    memory: Some((memory_mb << 20) as i64),
                    memory_swap: Some((memory_mb << 20) as i64),
                    cpu_shares: Some(spec.cpu_mhz.max(2) as i64),
                    port_bindings: (!bindings.is_empty()).then_some(bindings),
                    ..HostConfig::default()
                }),
                ..ContainerCreateBody::default()
            };
            let name: String = format!("{}-{}", spec.name, spec.alloc_id)
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            // A container of the same name is an earlier attempt of this
            // task (a restart): it goes first.
            let _ = self
                .docker
                .remove_container(
                    &name,
                    Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                )
                .await;
            let options = CreateContainerOptionsBuilder::default().name(&name).build();
            let created = self
                .docker
                .create_container(Some(options), body)
                .await
                .map_err(|e| DriverError::StartFailed(format!("creating {name}: {e}")))?;
            self.docker
                .start_container(&created.id, None)
                .await
                .map_err(|e| DriverError::StartFailed(format!("starting {name}: {e}")))?;
            self.watch_oom(&created.id).await;
            let container = Container {
                id: created.id,
                kill_signal: spec.kill_signal.clone(),
                task_name: spec.name.clone(),
                logs: spec.logs.clone(),
            };
            self.pump_logs(&container);
            let handle = TaskHandle {
                driver: NAME.to_owned(),
                task_id: spec.id.clone(),
                state: serde_json::to_value(&container)
                    .map_err(|e| DriverError::Io(format!("handle: {e}")))?,
            };
            self.tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(spec.id.clone(), container);
            Ok(handle)
        })
    }

    fn recover<'a>(&'a self, handle: &'a TaskHandle) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            let container: Container =
                serde_json::from_value(handle.state.clone()).map_err(|e| {
                    DriverError::NotRecoverable(format!("handle of {}: {e}", handle.task_id))
                })?;
            self.inspect(&container.id).await.map_err(|e| {
                DriverError::NotRecoverable(format!("container {}: {e}", container.id))
            })?;
            // What the task wrote while no client ran is in the engine's
            // log; copying resumes after the last line copied.
            self.pump_logs(&container);
            self.watch_oom(&container.id).await;
            self.tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(handle.task_id.clone(), container);
            Ok(())
        })
    }

    fn wait<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, ExitResult> {
        Box::pin(async move {
            let container = self.container(task_id)?;
            loop {
                if let Some(exit) = self.exit_of(&container.id).await? {
                    return Ok(exit);
                }
                // The engine's wait answers when the container stops (an
                // error for a non-zero exit, which inspect then reads).
                let mut waiting = self.docker.wait_container(&container.id, None);
                let _ = tokio::time::timeout(Duration::from_secs(30), waiting.next()).await;
                tokio::time::sleep(WAIT_POLL).await;
            }
        })
    }

    fn stop<'a>(
        &'a self,
        task_id: &'a str,
        signal: Option<&'a str>,
        timeout: Duration,
    ) -> DriverFuture<'a, ExitResult> {
        Box::pin(async move {
            let container = self.container(task_id)?;
            let name = signal
                .filter(|s| !s.is_empty())
                .or(Some(container.kill_signal.as_str()).filter(|s| !s.is_empty()))
                .unwrap_or("SIGTERM");
            if signal_number(name).is_none() {
                return Err(invalid(format!("unknown signal {name:?}")));
            }
            if self.exit_of(&container.id).await?.is_none() {
                let _ = self.kill(&container.id, name).await;
            }
            if let Ok(exit) = tokio::time::timeout(timeout, self.wait(task_id)).await {
                return exit;
            }
            let _ = self.kill(&container.id, "SIGKILL").await;
            tokio::time::timeout(Duration::from_secs(20), self.wait(task_id))
                .await
                .map_err(|_| {
                    DriverError::Io("the container survived SIGKILL for 20 s".to_owned())
                })?
        })
    }

    fn signal<'a>(&'a self, task_id: &'a str, signal: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            let container = self.container(task_id)?;
            if signal_number(signal).is_none() {
                return Err(invalid(format!("unknown signal {signal:?}")));
            }
            if self.exit_of(&container.id).await?.is_some() {
                return Err(DriverError::Io(format!("task {task_id} is not running")));
            }
            self.kill(&container.id, signal).await
        })
    }

    fn stats<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, TaskStats> {
        Box::pin(async move {
            let container = self.container(task_id)?;
            let options = StatsOptionsBuilder::default()
                .stream(false)
                .one_shot(true)
                .build();
            let mut stream = self.docker.stats(&container.id, Some(options));
            let stats = stream
                .next()
                .await
                .ok_or_else(|| DriverError::Io("no stats".to_owned()))?
                .map_err(|e| engine_error("stats", e))?;
            let cpu_ns = stats
                .cpu_stats
                .and_then(|c| c.cpu_usage)
                .and_then(|u| u.total_usage)
                .unwrap_or(0);
            Ok(TaskStats {
                cpu_time: Duration::from_nanos(cpu_ns),
                memory_rss_bytes: stats.memory_stats.and_then(|m| m.usage).unwrap_or(0),
                processes: stats.pids_stats.and_then(|p| p.current).unwrap_or(0) as u32,
            })
        })
    }

    fn destroy<'a>(&'a self, task_id: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            let container = self.container(task_id)?;
            let options = RemoveContainerOptionsBuilder::default().force(true).build();
            match self
                .docker
                .remove_container(&container.id, Some(options))
                .await
            {
                Ok(()) => {}
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(err) => return Err(engine_error("remove", err)),
            }
            self.tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(task_id);
            Ok(())
        })
    }
}

/// Where a Docker API socket is: `$SCHED_DOCKER_SOCKET`, `$DOCKER_HOST`
/// (`unix://` only), Docker's default, or the one `scripts/podman-service`
/// starts.
pub fn locate_socket() -> Option<String> {
    let from_env = std::env::var("SCHED_DOCKER_SOCKET").ok().or_else(|| {
        std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|host| host.strip_prefix("unix://").map(str::to_owned))
    });
    from_env
        .into_iter()
        .chain([
            "/var/run/docker.sock".to_owned(),
            "/run/sched-podman/podman.sock".to_owned(),
        ])
        .find(|path| std::path::Path::new(path).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<DockerConfig, DriverError> {
        DockerConfig::parse(&serde_json::from_value(json).expect("map"))
    }

    #[test]
    fn engine_timestamps_are_split_off_and_compare_in_order() {
        let (a, line) = split_timestamp(b"2026-12-05T22:10:01.5Z ready\n");
        assert_eq!(line, b"ready\n");
        let (b, _) = split_timestamp(b"2026-12-05T22:10:01.123456789Z next\n");
        assert_eq!(a, "2026-12-05T22:10:01.500000000Z");
        assert!(b < a);
        let (none, line) = split_timestamp(b"no stamp here\n");
        assert_eq!((none.as_str(), line), ("", &b"no stamp here\n"[..]));
    }

    #[test]
    fn the_config_block_is_read_as_nomad_writes_it_and_errors_name_the_field() {
        let config = parse(serde_json::json!({
            "image": "redis:7",
            "command": "redis-server",
            "args": ["--port", "6379"],
            "ports": ["db"],
            "labels": [{"team": "cache"}]
        }))
        .expect("valid");
        assert_eq!(config.image, "redis:7");
        assert_eq!(config.labels["team"], "cache");
        assert_eq!(config.ports, ["db"]);
        let err = |json| parse(json).unwrap_err().to_string();
        assert!(err(serde_json::json!({"command": "x"})).contains("config.image: required"));
        assert!(err(serde_json::json!({"image": "x", "args": "a b"})).contains("config.args"));
        assert!(
            err(serde_json::json!({"image": "x", "privileged": true}))
                .contains("config.privileged")
        );
        assert!(
            err(serde_json::json!({"image": "x", "labels": {"a": 1}})).contains("config.labels.a")
        );
    }
}
