//! A task: one process (container, VM, binary) run by a driver.

use crate::model::constraint::{Affinity, Constraint};
use crate::model::policies::{RestartPolicy, ScalingPolicy};
use crate::model::resources::Resources;
use crate::model::serde_util::null_as_default;
use crate::model::service::Service;
use crate::model::task_extras::{
    Action, Artifact, Consul, DispatchPayloadConfig, LogConfig, TaskCsiPluginConfig, TaskLifecycle,
    TaskSchedule, Template, Vault, VolumeMount, WorkloadIdentity,
};
use crate::model::units::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long a task has to exit after its kill signal when none is set.
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// One unit of work in a group, run by a task driver (HCL `task` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Task {
    /// The task's name, unique within its group (the block's label).
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// The driver that runs it: `docker`, `exec`, `raw_exec`, `java`, ...
    #[serde(deserialize_with = "null_as_default")]
    pub driver: String,
    /// The OS user to run as.
    #[serde(deserialize_with = "null_as_default")]
    pub user: String,
    /// When it runs relative to the main tasks; `None` for a main task.
    pub lifecycle: Option<TaskLifecycle>,
    /// Driver-specific configuration, passed to the driver unchanged.
    #[serde(deserialize_with = "null_as_default")]
    pub config: BTreeMap<String, serde_json::Value>,
    /// Placement rules that apply to this task's nodes.
    #[serde(deserialize_with = "null_as_default")]
    pub constraints: Vec<Constraint>,
    /// Placement preferences for this task's nodes.
    #[serde(deserialize_with = "null_as_default")]
    pub affinities: Vec<Affinity>,
    /// Environment variables.
    #[serde(deserialize_with = "null_as_default")]
    pub env: BTreeMap<String, String>,
    /// Services the task registers.
    #[serde(deserialize_with = "null_as_default")]
    pub services: Vec<Service>,
    /// CPU, memory, devices the task needs.
    #[serde(deserialize_with = "null_as_default")]
    pub resources: Resources,
    /// How the task is restarted; the group's policy with this one's fields
    /// laid over it after canonicalisation.
    #[serde(deserialize_with = "null_as_default")]
    pub restart_policy: RestartPolicy,
    /// Free-form metadata, available as `${NOMAD_META_<key>}`.
    #[serde(deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
    /// Time between the kill signal and a forced kill; 5s by default.
    pub kill_timeout: Option<Duration>,
    /// Log rotation.
    #[serde(deserialize_with = "null_as_default")]
    pub log_config: LogConfig,
    /// Files to download before starting.
    #[serde(deserialize_with = "null_as_default")]
    pub artifacts: Vec<Artifact>,
    /// Vault token settings.
    pub vault: Option<Vault>,
    /// Consul settings for the task's templates.
    pub consul: Option<Consul>,
    /// Files rendered from templates.
    #[serde(deserialize_with = "null_as_default")]
    pub templates: Vec<Template>,
    /// Where a dispatched job's payload is written.
    pub dispatch_payload: Option<DispatchPayloadConfig>,
    /// Group volumes mounted into the task.
    #[serde(deserialize_with = "null_as_default")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Makes the task a CSI plugin (HCL `csi_plugin`).
    #[serde(rename = "CSIPluginConfig")]
    pub csi_plugin_config: Option<TaskCsiPluginConfig>,
    /// When this task exits, stop the other tasks of the allocation.
    #[serde(deserialize_with = "null_as_default")]
    pub leader: bool,
    /// Time between deregistering services and sending the kill signal.
    #[serde(deserialize_with = "null_as_default")]
    pub shutdown_delay: Duration,
    /// The signal used to stop the task; the driver's default when empty.
    #[serde(deserialize_with = "null_as_default")]
    pub kill_signal: String,
    /// Set by Nomad for tasks it injects (e.g. `connect-proxy:<service>`).
    #[serde(deserialize_with = "null_as_default")]
    pub kind: String,
    /// Vertical autoscaling policies for the task's resources.
    #[serde(deserialize_with = "null_as_default")]
    pub scaling_policies: Vec<ScalingPolicy>,
    /// The default Nomad workload identity.
    pub identity: Option<WorkloadIdentity>,
    /// Additional workload identities (for Consul, Vault, ...).
    #[serde(deserialize_with = "null_as_default")]
    pub identities: Vec<WorkloadIdentity>,
    /// Commands operators can run in the task on demand.
    #[serde(deserialize_with = "null_as_default")]
    pub actions: Vec<Action>,
    /// Time windows in which the task may run.
    pub schedule: Option<TaskSchedule>,
}

impl Task {
    /// Creates a task with a name and a driver.
    pub fn new(name: impl Into<String>, driver: impl Into<String>) -> Self {
        Task {
            name: name.into(),
            driver: driver.into(),
            ..Task::default()
        }
    }

    /// Kill timeout (default 5s).
    pub fn kill_timeout(&self) -> Duration {
        self.kill_timeout.unwrap_or(DEFAULT_KILL_TIMEOUT)
    }

    /// The lifecycle hook (`prestart`, `poststart`, `poststop`), or `None` for
    /// a main task.
    pub fn lifecycle_hook(&self) -> Option<&str> {
        self.lifecycle
            .as_ref()
            .map(|lifecycle| lifecycle.hook.as_str())
            .filter(|hook| !hook.is_empty())
    }

    /// Whether this is a main task (no lifecycle hook).
    pub fn is_main(&self) -> bool {
        self.lifecycle_hook().is_none()
    }

    /// Fills Nomad's defaults for a task of group `group_name` in job
    /// `job_name`, whose canonical restart policy is `group_restart`; see
    /// [`Job::canonicalize`](crate::model::Job::canonicalize).
    pub(crate) fn canonicalize(
        &mut self,
        job_name: &str,
        group_name: &str,
        group_restart: &RestartPolicy,
    ) {
        self.resources.canonicalize();
        self.kill_timeout.get_or_insert(DEFAULT_KILL_TIMEOUT);
        self.log_config.canonicalize();
        for artifact in &mut self.artifacts {
            artifact.canonicalize();
        }
        if let Some(vault) = &mut self.vault {
            vault.canonicalize();
        }
        if let Some(consul) = &mut self.consul {
            consul.canonicalize();
        }
        for template in &mut self.templates {
            template.canonicalize();
        }
        for service in &mut self.services {
            service.canonicalize(job_name, group_name, Some(&self.name));
        }
        for affinity in &mut self.affinities {
            affinity.weight = Some(affinity.weight());
        }
        for mount in &mut self.volume_mounts {
            mount.canonicalize();
        }
        if self
            .lifecycle
            .as_ref()
            .is_some_and(|lifecycle| lifecycle.hook.is_empty())
        {
            self.lifecycle = None;
        }
        if let Some(plugin) = &mut self.csi_plugin_config {
            plugin.canonicalize();
        }
        let mut restart = group_restart.clone();
        restart.merge(&self.restart_policy);
        self.restart_policy = restart;
    }
}
