//! Service health checks run by the client: `tcp`, `http` (path, method,
//! headers, body; 2xx passes, 429 warns, anything else is critical) and
//! `script` (exit 0 passes, 1 warns, anything else is critical), each on
//! its interval with its timeout, with `success_before_passing` and
//! `failures_before_critical` applied. Only changes of status leave the
//! checker (the seed's point: a few updates, not a poll per check).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use scheduler_core::model::ServiceCheck;
use scheduler_core::taskenv::TaskEnv;

/// A check's status, as Consul and Nomad name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Healthy.
    Passing,
    /// Degraded but serving.
    Warning,
    /// Failing.
    Critical,
}

/// What a check probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Connect to `address` (`ip:port`).
    Tcp {
        /// Where.
        address: String,
    },
    /// An HTTP request.
    Http {
        /// The full URL.
        url: String,
        /// The method (`GET` unless set).
        method: String,
        /// Extra headers.
        headers: BTreeMap<String, Vec<String>>,
        /// A request body.
        body: String,
    },
    /// A command; its exit code decides.
    Script {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Its environment (the task's).
        env: BTreeMap<String, String>,
        /// Its working directory.
        cwd: PathBuf,
    },
}

/// One check, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckDefinition {
    /// Unique per check instance: `<alloc>/<service>/<check name>`.
    pub id: String,
    /// What it probes.
    pub probe: Probe,
    /// Time between probes.
    pub interval: Duration,
    /// How long one probe may take.
    pub timeout: Duration,
    /// Consecutive successes before it reports passing.
    pub success_before_passing: u32,
    /// Consecutive failures before it reports critical.
    pub failures_before_critical: u32,
    /// The status before the first probe settles.
    pub initial: CheckStatus,
}

/// A change of a check's status, with the probe's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckUpdate {
    /// [`CheckDefinition::id`].
    pub id: String,
    /// The new status.
    pub status: CheckStatus,
    /// What the probe said (the HTTP status line, the script's output,
    /// the connection error).
    pub output: String,
}

/// Why a check block cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check {check}: {message}")]
pub struct CheckError {
    /// The check's name.
    pub check: String,
    /// What is wrong.
    pub message: String,
}

/// Builds a check of a service of a task: the address from the service's
/// (or the check's) port label in the task's environment, `${...}`
/// interpolated in path, command, args and headers.
pub fn define_check(
    id: String,
    service_port_label: &str,
    check: &ServiceCheck,
    env: &TaskEnv,
    task_dir: PathBuf,
) -> Result<CheckDefinition, CheckError> {
    let error = |message: String| CheckError {
        check: check.name.clone(),
        message,
    };
    let label = if check.port_label.is_empty() {
        service_port_label
    } else {
        &check.port_label
    };
    let address = || {
        let key = format!(
            "NOMAD_ADDR_{}",
            label
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        );
        env.env.get(&key).cloned().ok_or_else(|| {
            error(format!(
                "no port labelled {label:?} for the check's address"
            ))
        })
    };
    let probe = match check.r#type.as_str() {
        "tcp" => Probe::Tcp {
            address: address()?,
        },
        "http" => {
            let protocol = if check.protocol.is_empty() {
                "http"
            } else {
                &check.protocol
            };
            let path = env.interpolate(&check.path);
            let path = if path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            };
            Probe::Http {
                url: format!("{protocol}://{}{path}", address()?),
                method: if check.method.is_empty() {
                    "GET".to_owned()
                } else {
                    check.method.to_ascii_uppercase()
                },
                headers: check
                    .header
                    .iter()
                    .map(|(k, vs)| (k.clone(), vs.iter().map(|v| env.interpolate(v)).collect()))
                    .collect(),
                body: env.interpolate(&check.body),
            }
        }
        "script" => Probe::Script {
            command: env.interpolate(&check.command),
            args: check.args.iter().map(|a| env.interpolate(a)).collect(),
            env: env.env.clone(),
            cwd: task_dir,
        },
        other => return Err(error(format!("type {other:?} is not run by this client"))),
    };
    let positive = |d: scheduler_core::model::Duration, default: Duration| {
        if d.as_nanos() > 0 {
            Duration::from_nanos(d.as_nanos() as u64)
        } else {
            default
        }
    };
    Ok(CheckDefinition {
        id,
        probe,
        interval: positive(check.interval, Duration::from_secs(10)),
        timeout: positive(check.timeout, Duration::from_secs(2)),
        success_before_passing: check.success_before_passing.max(0) as u32,
        failures_before_critical: check.failures_before_critical.max(0) as u32,
        initial: match check.initial_status.as_str() {
            "passing" => CheckStatus::Passing,
            "warning" => CheckStatus::Warning,
            _ => CheckStatus::Critical,
        },
    })
}

/// Probes once.
pub async fn probe(probe: &Probe, timeout: Duration) -> (CheckStatus, String) {
    match probe {
        Probe::Tcp { address } => {
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
                Ok(Ok(_)) => (
                    CheckStatus::Passing,
                    format!("TCP connect {address}: Success"),
                ),
                Ok(Err(err)) => (
                    CheckStatus::Critical,
                    format!("TCP connect {address}: {err}"),
                ),
                Err(_) => (
                    CheckStatus::Critical,
                    format!("TCP connect {address}: timed out after {timeout:?}"),
                ),
            }
        }
        Probe::Http {
            url,
            method,
            headers,
            body,
        } => {
            let client = reqwest::Client::builder().timeout(timeout).build();
            let Ok(client) = client else {
                return (CheckStatus::Critical, "no HTTP client".to_owned());
            };
            let method =
                reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
            let mut request = client.request(method.clone(), url);
            for (name, values) in headers {
                for value in values {
                    request = request.header(name, value);
                }
            }
            if !body.is_empty() {
                request = request.body(body.clone());
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let verdict = if status.is_success() {
                        CheckStatus::Passing
                    } else if status.as_u16() == 429 {
                        CheckStatus::Warning
                    } else {
                        CheckStatus::Critical
                    };
                    (verdict, format!("HTTP {method} {url}: {status}"))
                }
                Err(err) => (CheckStatus::Critical, format!("HTTP {method} {url}: {err}")),
            }
        }
        Probe::Script {
            command,
            args,
            env,
            cwd,
        } => {
            let child = tokio::process::Command::new(command)
                .args(args)
                .env_clear()
                .envs(env)
                .current_dir(cwd)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output();
            match tokio::time::timeout(timeout, child).await {
                Ok(Ok(output)) => {
                    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                    let verdict = match output.status.code() {
                        Some(0) => CheckStatus::Passing,
                        Some(1) => CheckStatus::Warning,
                        _ => CheckStatus::Critical,
                    };
                    (verdict, text)
                }
                Ok(Err(err)) => (CheckStatus::Critical, format!("{command}: {err}")),
                Err(_) => (
                    CheckStatus::Critical,
                    format!("{command}: timed out after {timeout:?}"),
                ),
            }
        }
    }
}

/// Applies the thresholds to a stream of probe results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckState {
    /// The status reported now.
    pub status: CheckStatus,
    successes: u32,
    failures: u32,
}

impl CheckState {
    /// A check before its first probe.
    pub fn new(initial: CheckStatus) -> Self {
        Self {
            status: initial,
            successes: 0,
            failures: 0,
        }
    }

    /// Takes one probe result; the new status if it changed.
    pub fn observe(
        &mut self,
        definition: &CheckDefinition,
        result: CheckStatus,
    ) -> Option<CheckStatus> {
        let next = match result {
            CheckStatus::Passing => {
                self.failures = 0;
                self.successes += 1;
                if self.successes > definition.success_before_passing
                    || self.status == CheckStatus::Passing
                {
                    CheckStatus::Passing
                } else {
                    self.status
                }
            }
            failing => {
                self.successes = 0;
                self.failures += 1;
                if failing == CheckStatus::Warning
                    || self.failures > definition.failures_before_critical
                    || self.status != CheckStatus::Passing
                {
                    failing
                } else {
                    self.status
                }
            }
        };
        (next != self.status).then(|| {
            self.status = next;
            next
        })
    }
}

/// Runs a check until the returned handle is dropped, sending its first
/// status and then every change to `updates`.
pub fn run_check(
    definition: CheckDefinition,
    updates: mpsc::UnboundedSender<CheckUpdate>,
) -> CheckHandle {
    let task = tokio::spawn(async move {
        let mut state = CheckState::new(definition.initial);
        let _ = updates.send(CheckUpdate {
            id: definition.id.clone(),
            status: state.status,
            output: "initial status".to_owned(),
        });
        let mut ticks = tokio::time::interval(definition.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (result, output) = probe(&definition.probe, definition.timeout).await;
            if let Some(status) = state.observe(&definition, result) {
                let sent = updates.send(CheckUpdate {
                    id: definition.id.clone(),
                    status,
                    output,
                });
                if sent.is_err() {
                    return;
                }
            }
        }
    });
    CheckHandle { task }
}

/// A running check; dropping it stops the check.
#[derive(Debug)]
pub struct CheckHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CheckHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(success_before_passing: u32, failures_before_critical: u32) -> CheckDefinition {
        CheckDefinition {
            id: "a/web/alive".to_owned(),
            probe: Probe::Tcp {
                address: "127.0.0.1:1".to_owned(),
            },
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            success_before_passing,
            failures_before_critical,
            initial: CheckStatus::Critical,
        }
    }

    #[test]
    fn thresholds_delay_changes_and_only_changes_are_reported() {
        use CheckStatus::*;
        let def = definition(1, 2);
        let mut state = CheckState::new(Critical);
        let seen: Vec<Option<CheckStatus>> = [
            Passing, Passing, Passing, Critical, Critical, Critical, Passing, Passing,
        ]
        .into_iter()
        .map(|r| state.observe(&def, r))
        .collect();
        assert_eq!(
            seen,
            [
                None,
                Some(Passing),
                None,
                None,
                None,
                Some(Critical),
                None,
                Some(Passing)
            ]
        );
    }

    #[test]
    fn a_warning_is_reported_at_once() {
        let def = definition(0, 3);
        let mut state = CheckState::new(CheckStatus::Passing);
        assert_eq!(
            state.observe(&def, CheckStatus::Warning),
            Some(CheckStatus::Warning)
        );
    }
}
