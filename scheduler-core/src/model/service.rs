//! Service registrations and their health checks (HCL `service` and `check`).

use crate::model::serde_util::null_as_default;
use crate::model::task_extras::WorkloadIdentity;
use crate::model::units::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A service the group or task registers in Consul or Nomad's own catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Service {
    /// The service name; `<job>-<group>[-<task>]` when unset. May use
    /// `${JOB}`, `${TASKGROUP}`, `${TASK}` and `${BASE}`.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Tags to register.
    #[serde(deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    /// Tags used instead of `tags` while the allocation is a canary.
    #[serde(deserialize_with = "null_as_default")]
    pub canary_tags: Vec<String>,
    /// Let Consul modify the tags (Consul only).
    #[serde(deserialize_with = "null_as_default")]
    pub enable_tag_override: bool,
    /// The port label (or number) to advertise (HCL `port`).
    #[serde(deserialize_with = "null_as_default")]
    pub port_label: String,
    /// Which address to advertise: `auto` (default), `host`, `driver`, `alloc`.
    #[serde(deserialize_with = "null_as_default")]
    pub address_mode: String,
    /// An explicit address to advertise.
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
    /// Health checks.
    #[serde(deserialize_with = "null_as_default")]
    pub checks: Vec<ServiceCheck>,
    /// Restart the task when checks fail; merged into each check.
    pub check_restart: Option<CheckRestart>,
    /// Consul Connect (service mesh) settings, passed through unchanged.
    pub connect: Option<serde_json::Value>,
    /// Metadata to register.
    #[serde(deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
    /// Metadata used instead of `meta` while the allocation is a canary.
    #[serde(deserialize_with = "null_as_default")]
    pub canary_meta: BTreeMap<String, String>,
    /// Extra addresses to register (Consul only).
    #[serde(deserialize_with = "null_as_default")]
    pub tagged_addresses: BTreeMap<String, String>,
    /// For group services: the task whose lifecycle the service follows (HCL `task`).
    #[serde(deserialize_with = "null_as_default")]
    pub task_name: String,
    /// How check status counts towards deployment health: `require_healthy`
    /// (default), `ignore_warnings`, `ignore`.
    #[serde(deserialize_with = "null_as_default")]
    pub on_update: String,
    /// The catalog: `consul` (default) or `nomad`.
    #[serde(deserialize_with = "null_as_default")]
    pub provider: String,
    /// The Consul cluster to register in; `default` when unset.
    #[serde(deserialize_with = "null_as_default")]
    pub cluster: String,
    /// Consul service kind (Consul only).
    #[serde(deserialize_with = "null_as_default")]
    pub kind: String,
    /// Workload identity used to register the service.
    pub identity: Option<WorkloadIdentity>,
    /// DNS SRV weights by health state.
    pub weights: Option<ServiceWeights>,
}

impl Service {
    /// Fills Nomad's defaults. `task` is `None` for group services.
    ///
    /// The name defaults to `<job>-<group>[-<task>]` and its `${JOB}`,
    /// `${TASKGROUP}`, `${TASK}`, `${BASE}` are replaced; address mode
    /// `auto`; on_update `require_healthy`; provider `consul`; cluster
    /// `default`; weights at least 1. Each check gets the service's
    /// `check_restart` merged in (grace 1s by default), a default name, the
    /// service's `on_update`, its task, and negative thresholds become 0.
    pub fn canonicalize(&mut self, job: &str, group: &str, task: Option<&str>) {
        let task_or_group = task.unwrap_or("group");
        if self.name.is_empty() {
            self.name = match task {
                Some(task) => format!("{job}-{group}-{task}"),
                None => format!("{job}-{group}"),
            };
        }
        if self.name.contains("${") {
            let base = format!("{job}-{group}-{task_or_group}");
            self.name = self
                .name
                .replace("${JOB}", job)
                .replace("${TASKGROUP}", group)
                .replace("${TASK}", task_or_group)
                .replace("${BASE}", &base);
        }
        if self.address_mode.is_empty() {
            self.address_mode = "auto".to_owned();
        }
        if self.on_update.is_empty() {
            self.on_update = "require_healthy".to_owned();
        }
        if self.provider.is_empty() {
            self.provider = "consul".to_owned();
        }
        if self.cluster.is_empty() {
            self.cluster = "default".to_owned();
        }
        if let Some(weights) = &mut self.weights {
            weights.passing = weights.passing.max(1);
            weights.warning = weights.warning.max(1);
        }
        for check in &mut self.checks {
            let mut merged =
                CheckRestart::merged(self.check_restart.as_ref(), check.check_restart.as_ref());
            if let Some(restart) = &mut merged
                && restart.grace.is_none()
            {
                restart.grace = Some(Duration::from_secs(1));
            }
            check.check_restart = merged;
            check.success_before_passing = check.success_before_passing.max(0);
            check.failures_before_critical = check.failures_before_critical.max(0);
            check.failures_before_warning = check.failures_before_warning.max(0);
            if check.on_update.is_empty() {
                check.on_update.clone_from(&self.on_update);
            }
            if check.name.is_empty() {
                check.name = format!("service: {:?} check", self.name);
            }
            if let Some(task) = task
                && check.task_name.is_empty()
            {
                check.task_name = task.to_owned();
            }
        }
    }
}

/// DNS SRV weights of a service instance by health state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceWeights {
    /// Weight while passing; at least 1.
    #[serde(deserialize_with = "null_as_default")]
    pub passing: i64,
    /// Weight while warning; at least 1.
    #[serde(deserialize_with = "null_as_default")]
    pub warning: i64,
}

/// A health check of a service (HCL `check` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceCheck {
    /// Check name; `service: "<service>" check` when unset.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// `http`, `tcp`, `grpc`, `script` or `ttl`.
    #[serde(rename = "Type", deserialize_with = "null_as_default")]
    pub r#type: String,
    /// Script checks: the command to run in the task.
    #[serde(deserialize_with = "null_as_default")]
    pub command: String,
    /// Script checks: the command's arguments.
    #[serde(deserialize_with = "null_as_default")]
    pub args: Vec<String>,
    /// HTTP checks: the request path.
    #[serde(deserialize_with = "null_as_default")]
    pub path: String,
    /// HTTP checks: `http` or `https`.
    #[serde(deserialize_with = "null_as_default")]
    pub protocol: String,
    /// The port label to check, if not the service's (HCL `port`).
    #[serde(deserialize_with = "null_as_default")]
    pub port_label: String,
    /// Expose the check through the Connect sidecar.
    #[serde(deserialize_with = "null_as_default")]
    pub expose: bool,
    /// Which address to check: `host`, `driver` or `alloc`.
    #[serde(deserialize_with = "null_as_default")]
    pub address_mode: String,
    /// Which address the check connects to when the service has several.
    #[serde(deserialize_with = "null_as_default")]
    pub advertise: String,
    /// Time between checks.
    #[serde(deserialize_with = "null_as_default")]
    pub interval: Duration,
    /// Time a check may take.
    #[serde(deserialize_with = "null_as_default")]
    pub timeout: Duration,
    /// Status before the first check: `passing`, `warning` or `critical`.
    #[serde(deserialize_with = "null_as_default")]
    pub initial_status: String,
    /// Free-form notes shown in Consul.
    #[serde(deserialize_with = "null_as_default")]
    pub notes: String,
    /// HTTPS/gRPC checks: the TLS server name to verify.
    #[serde(rename = "TLSServerName", deserialize_with = "null_as_default")]
    pub tls_server_name: String,
    /// HTTPS/gRPC checks: skip certificate verification.
    #[serde(rename = "TLSSkipVerify", deserialize_with = "null_as_default")]
    pub tls_skip_verify: bool,
    /// HTTP checks: request headers, each with one or more values.
    #[serde(deserialize_with = "null_as_default")]
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP checks: the request method.
    #[serde(deserialize_with = "null_as_default")]
    pub method: String,
    /// HTTP checks: the request body.
    #[serde(deserialize_with = "null_as_default")]
    pub body: String,
    /// Restart the task when this check keeps failing.
    pub check_restart: Option<CheckRestart>,
    /// gRPC checks: the service name to ask about.
    #[serde(rename = "GRPCService", deserialize_with = "null_as_default")]
    pub grpc_service: String,
    /// gRPC checks: use TLS.
    #[serde(rename = "GRPCUseTLS", deserialize_with = "null_as_default")]
    pub grpc_use_tls: bool,
    /// The task that runs a script check, or whose restart the check drives (HCL `task`).
    #[serde(deserialize_with = "null_as_default")]
    pub task_name: String,
    /// Consecutive passes needed before the check reports passing.
    #[serde(deserialize_with = "null_as_default")]
    pub success_before_passing: i64,
    /// Consecutive failures needed before the check reports critical.
    #[serde(deserialize_with = "null_as_default")]
    pub failures_before_critical: i64,
    /// Consecutive failures needed before the check reports warning.
    #[serde(deserialize_with = "null_as_default")]
    pub failures_before_warning: i64,
    /// How the check counts towards deployment health; the service's when unset.
    #[serde(deserialize_with = "null_as_default")]
    pub on_update: String,
}

/// Restart a task whose health checks keep failing (HCL `check_restart`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CheckRestart {
    /// Restart after this many consecutive failures; 0 disables.
    #[serde(deserialize_with = "null_as_default")]
    pub limit: i64,
    /// Ignore failures for this long after the task starts; 1s by default.
    pub grace: Option<Duration>,
    /// Treat `warning` as passing.
    #[serde(deserialize_with = "null_as_default")]
    pub ignore_warnings: bool,
}

impl CheckRestart {
    /// Grace period (default 1s).
    pub fn grace(&self) -> Duration {
        self.grace.unwrap_or(Duration::from_secs(1))
    }

    /// A service-level block with a check-level block laid over it, as Nomad
    /// merges them: the check's non-zero values win.
    pub fn merged(
        service: Option<&CheckRestart>,
        check: Option<&CheckRestart>,
    ) -> Option<CheckRestart> {
        let Some(service) = service else {
            return check.cloned();
        };
        let mut merged = service.clone();
        if let Some(check) = check {
            if check.limit > 0 {
                merged.limit = check.limit;
            }
            if check.grace.is_some() {
                merged.grace = check.grace;
            }
            if check.ignore_warnings {
                merged.ignore_warnings = true;
            }
        }
        Some(merged)
    }
}
