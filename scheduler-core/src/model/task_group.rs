//! A task group: the unit of placement. All tasks of a group run together in
//! one allocation on one node, `count` times.

use crate::model::constraint::{Affinity, Constraint, Spread};
use crate::model::policies::{
    DisconnectStrategy, EphemeralDisk, MigrateStrategy, ReschedulePolicy, RestartPolicy,
    ScalingPolicy, UpdateStrategy,
};
use crate::model::resources::NetworkResource;
use crate::model::serde_util::null_as_default;
use crate::model::service::Service;
use crate::model::task::Task;
use crate::model::task_extras::Consul;
use crate::model::units::Duration;
use crate::model::volumes::VolumeRequest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A set of tasks placed together on one node, `count` times (HCL `group`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskGroup {
    /// The group's name, unique within the job (the block's label).
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// How many allocations to run; 1 by default (or the scaling minimum).
    pub count: Option<i64>,
    /// Placement rules for all of the group's tasks.
    #[serde(deserialize_with = "null_as_default")]
    pub constraints: Vec<Constraint>,
    /// Placement preferences.
    #[serde(deserialize_with = "null_as_default")]
    pub affinities: Vec<Affinity>,
    /// The tasks.
    #[serde(deserialize_with = "null_as_default")]
    pub tasks: Vec<Task>,
    /// How to spread allocations across node attribute values.
    #[serde(deserialize_with = "null_as_default")]
    pub spreads: Vec<Spread>,
    /// Volumes the group needs, by the name tasks mount them with.
    #[serde(deserialize_with = "null_as_default")]
    pub volumes: BTreeMap<String, VolumeRequest>,
    /// How failed tasks are restarted in place (defaults depend on the job type).
    #[serde(deserialize_with = "null_as_default")]
    pub restart_policy: RestartPolicy,
    /// Behaviour while the node is disconnected from the servers.
    pub disconnect: Option<DisconnectStrategy>,
    /// How failed allocations are replaced elsewhere; `None` for system jobs.
    pub reschedule_policy: Option<ReschedulePolicy>,
    /// The shared scratch disk.
    #[serde(deserialize_with = "null_as_default")]
    pub ephemeral_disk: EphemeralDisk,
    /// Rolling update and deployment settings; `None` means no deployments.
    pub update: Option<UpdateStrategy>,
    /// How allocations leave draining nodes (service jobs).
    pub migrate: Option<MigrateStrategy>,
    /// Networks (and ports) shared by the group's tasks.
    #[serde(deserialize_with = "null_as_default")]
    pub networks: Vec<NetworkResource>,
    /// Free-form metadata, available as `${NOMAD_META_<key>}`.
    #[serde(deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
    /// Services registered for the group as a whole.
    #[serde(deserialize_with = "null_as_default")]
    pub services: Vec<Service>,
    /// Time between deregistering services and stopping the tasks.
    #[serde(deserialize_with = "null_as_default")]
    pub shutdown_delay: Duration,
    /// Deprecated (use `disconnect.stop_on_client_after`): stop allocations
    /// after the client has been disconnected this long.
    pub stop_after_client_disconnect: Option<Duration>,
    /// Deprecated (use `disconnect.lost_after`): how long a disconnected
    /// node's allocations are "unknown" before they are lost.
    pub max_client_disconnect: Option<Duration>,
    /// Horizontal autoscaling policy for `count`.
    pub scaling: Option<ScalingPolicy>,
    /// Consul settings for the group's services.
    pub consul: Option<Consul>,
    /// Deprecated (use `disconnect.replace = false`): do not replace
    /// allocations on lost nodes.
    #[serde(deserialize_with = "null_as_default")]
    pub prevent_reschedule_on_lost: bool,
}

impl TaskGroup {
    /// Creates a group with a name, a count and tasks.
    pub fn new(name: impl Into<String>, count: i64, tasks: Vec<Task>) -> Self {
        TaskGroup {
            name: name.into(),
            count: Some(count),
            tasks,
            ..TaskGroup::default()
        }
    }

    /// The desired number of allocations: `count`, else the scaling minimum,
    /// else 1.
    pub fn count(&self) -> i64 {
        self.count
            .or_else(|| self.scaling.as_ref().and_then(|scaling| scaling.min))
            .unwrap_or(1)
    }

    /// The task with the given name.
    pub fn lookup_task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|task| task.name == name)
    }

    /// The task with the given name, mutably.
    pub fn lookup_task_mut(&mut self, name: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|task| task.name == name)
    }

    /// Whether the group has an update strategy that creates deployments
    /// (max_parallel above 0).
    pub fn has_deployments(&self) -> bool {
        self.update
            .as_ref()
            .is_some_and(|update| update.max_parallel() > 0)
    }
}
