//! Allocations: a task group placed on a node, as Nomad's
//! `GET /v1/allocation/:id` returns them, plus the placement metrics
//! evaluations also carry.
//!
//! Times that Nomad encodes as Go `time.Time` are kept as the RFC 3339 strings
//! found in the JSON; `CreateTime`, `ModifyTime`, task event times and
//! reschedule times are Unix nanoseconds as in Nomad.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::serde_util::null_as_default;
use super::{AllocId, DeploymentId, Duration, EvalId, JobId, MHz, MiB, Namespace, NodeId, VecMap};

/// A task group instance placed (or to be placed) on a node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Allocation {
    /// Allocation id (a UUID).
    #[serde(rename = "ID", default, deserialize_with = "null_as_default")]
    pub id: AllocId,
    /// Namespace of the job.
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespace: Namespace,
    /// Evaluation that created the allocation.
    #[serde(rename = "EvalID", default, deserialize_with = "null_as_default")]
    pub eval_id: EvalId,
    /// `<job>.<group>[<index>]`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Node the allocation is placed on.
    #[serde(rename = "NodeID", default, deserialize_with = "null_as_default")]
    pub node_id: NodeId,
    /// Name of that node.
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_name: String,
    /// Job the allocation belongs to.
    #[serde(rename = "JobID", default, deserialize_with = "null_as_default")]
    pub job_id: JobId,
    /// The job version the allocation runs; Nomad embeds the whole job.
    #[serde(default)]
    pub job: Option<std::sync::Arc<super::Job>>,
    /// Task group being run.
    #[serde(default, deserialize_with = "null_as_default")]
    pub task_group: String,
    /// Resources assigned to the allocation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub allocated_resources: AllocatedResources,
    /// How the placement was chosen; held encoded by servers that only
    /// store it (see [`LazyMetric`](super::LazyMetric)).
    #[serde(default, deserialize_with = "null_as_default")]
    pub metrics: super::LazyMetric,
    /// What the servers want the allocation to do.
    #[serde(default, deserialize_with = "null_as_default")]
    pub desired_status: AllocDesiredStatus,
    /// Why the desired status was set.
    #[serde(default, deserialize_with = "null_as_default")]
    pub desired_description: String,
    /// Pending migration or reschedule requests.
    #[serde(default, deserialize_with = "null_as_default")]
    pub desired_transition: DesiredTransition,
    /// What the client reports the allocation is doing.
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_status: AllocClientStatus,
    /// Client's explanation of the status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_description: String,
    /// State of each task by name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub task_states: VecMap<String, TaskState>,
    /// History of client status changes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub alloc_states: Vec<AllocState>,
    /// Allocation this one replaces.
    #[serde(default, deserialize_with = "null_as_default")]
    pub previous_allocation: AllocId,
    /// Allocation that replaced this one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub next_allocation: AllocId,
    /// Deployment that created the allocation.
    #[serde(rename = "DeploymentID", default, deserialize_with = "null_as_default")]
    pub deployment_id: DeploymentId,
    /// Health within its deployment; `None` until reported (boxed, as
    /// `network_status`: most allocations never have one).
    #[serde(default)]
    pub deployment_status: Option<Box<AllocDeploymentStatus>>,
    /// Earlier reschedule attempts in this allocation's lineage.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reschedule_tracker: RescheduleTracker,
    /// Network namespace addresses, when the group has one. Boxed: most
    /// allocations have none, and inline it took 144 of the struct's
    /// bytes in every copy the stores hold.
    #[serde(default)]
    pub network_status: Option<Box<AllocNetworkStatus>>,
    /// Evaluation created to reschedule this allocation later.
    #[serde(
        rename = "FollowupEvalID",
        default,
        deserialize_with = "null_as_default"
    )]
    pub followup_eval_id: EvalId,
    /// Allocations evicted to make room for this one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub preempted_allocations: Vec<AllocId>,
    /// Allocation that evicted this one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub preempted_by_allocation: AllocId,
    /// Raft index at which the allocation was created.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_index: u64,
    /// Raft index of the last server-side change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub alloc_modify_index: u64,
    /// Creation time, Unix nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_time: i64,
    /// Last modification time, Unix nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_time: i64,
}

impl Allocation {
    /// Version of the job the allocation runs, when the job is embedded.
    pub fn job_version(&self) -> Option<u64> {
        self.job.as_ref().map(|job| job.version)
    }

    /// Whether the servers have asked the allocation to stop (`stop`/`evict`).
    pub fn server_terminal(&self) -> bool {
        self.desired_status.is_terminal()
    }

    /// Whether the client reports the allocation finished (`complete`/`failed`/`lost`).
    pub fn client_terminal(&self) -> bool {
        self.client_status.is_terminal()
    }

    /// Whether the allocation is finished or being stopped, from either side.
    pub fn is_terminal(&self) -> bool {
        self.server_terminal() || self.client_terminal()
    }

    /// Whether the allocation is a canary of its deployment.
    pub fn is_canary(&self) -> bool {
        self.deployment_status.as_ref().is_some_and(|s| s.canary)
    }

    /// Deployment health: `Some(true)` healthy, `Some(false)` unhealthy, `None` unknown.
    pub fn deployment_health(&self) -> Option<bool> {
        self.deployment_status.as_ref().and_then(|s| s.healthy)
    }
}

/// What the servers want an allocation to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllocDesiredStatus {
    /// Keep running.
    #[default]
    Run,
    /// Stop.
    Stop,
    /// Stop because it was evicted (preempted or drained).
    Evict,
}

impl AllocDesiredStatus {
    /// `stop` and `evict` are terminal.
    pub fn is_terminal(self) -> bool {
        matches!(self, AllocDesiredStatus::Stop | AllocDesiredStatus::Evict)
    }
}

/// What the client reports an allocation is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllocClientStatus {
    /// Not started yet.
    #[default]
    Pending,
    /// Tasks are running.
    Running,
    /// All tasks finished successfully.
    Complete,
    /// A task failed.
    Failed,
    /// Its node went down.
    Lost,
    /// Its node disconnected; the allocation may come back.
    Unknown,
}

impl AllocClientStatus {
    /// `complete`, `failed` and `lost` are terminal.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            AllocClientStatus::Complete | AllocClientStatus::Failed | AllocClientStatus::Lost
        )
    }
}

/// Server requests for an allocation to move.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesiredTransition {
    /// Stop and place elsewhere (node drain).
    #[serde(default)]
    pub migrate: Option<bool>,
    /// Eligible to be rescheduled.
    #[serde(default)]
    pub reschedule: Option<bool>,
    /// Reschedule now, ignoring the reschedule policy.
    #[serde(default)]
    pub force_reschedule: Option<bool>,
    /// Skip the task group's shutdown delay when stopping.
    #[serde(default)]
    pub no_shutdown_delay: Option<bool>,
}

impl DesiredTransition {
    /// Whether a migration was requested.
    pub fn should_migrate(&self) -> bool {
        self.migrate == Some(true)
    }

    /// Whether a reschedule was requested.
    pub fn should_reschedule(&self) -> bool {
        self.reschedule == Some(true)
    }

    /// Whether a forced reschedule was requested.
    pub fn should_force_reschedule(&self) -> bool {
        self.force_reschedule == Some(true)
    }
}

/// Resources assigned to an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocatedResources {
    /// Per-task resources by task name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tasks: VecMap<String, AllocatedTaskResources>,
    /// Lifecycle hook of each task that has one, by task name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub task_lifecycles: VecMap<String, Option<AllocTaskLifecycle>>,
    /// Resources shared by the whole group.
    #[serde(default, deserialize_with = "null_as_default")]
    pub shared: AllocatedSharedResources,
}

/// Lifecycle hook of a task, as recorded in an allocation's resources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocTaskLifecycle {
    /// `prestart`, `poststart` or `poststop`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub hook: String,
    /// Whether the task keeps running alongside the main tasks.
    #[serde(default, deserialize_with = "null_as_default")]
    pub sidecar: bool,
}

/// Resources assigned to one task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocatedTaskResources {
    /// CPU.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu: AllocatedCpuResources,
    /// Memory.
    #[serde(default, deserialize_with = "null_as_default")]
    pub memory: AllocatedMemoryResources,
    /// Task-level networks (deprecated in Nomad in favour of group networks).
    #[serde(default, deserialize_with = "null_as_default")]
    pub networks: Vec<super::NetworkResource>,
    /// Devices assigned to the task.
    #[serde(default, deserialize_with = "null_as_default")]
    pub devices: Vec<AllocatedDeviceResource>,
}

/// CPU assigned to a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocatedCpuResources {
    /// Compute in MHz.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_shares: MHz,
    /// Ids of cores reserved exclusively for the task.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reserved_cores: Vec<u16>,
}

/// Memory assigned to a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AllocatedMemoryResources {
    /// Reserved memory in MiB.
    #[serde(rename = "MemoryMB", default, deserialize_with = "null_as_default")]
    pub memory_mb: MiB,
    /// Memory the task may burst to, in MiB (0 = no oversubscription).
    #[serde(rename = "MemoryMaxMB", default, deserialize_with = "null_as_default")]
    pub memory_max_mb: MiB,
}

/// Devices of one group assigned to a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocatedDeviceResource {
    /// Device vendor.
    #[serde(default, deserialize_with = "null_as_default")]
    pub vendor: String,
    /// Device type.
    #[serde(rename = "Type", default, deserialize_with = "null_as_default")]
    pub device_type: String,
    /// Device model.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Ids of the assigned instances.
    #[serde(rename = "DeviceIDs", default, deserialize_with = "null_as_default")]
    pub device_ids: Vec<String>,
}

/// Resources shared by all tasks of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AllocatedSharedResources {
    /// Group networks with their assigned ports.
    #[serde(rename = "Networks", default, deserialize_with = "null_as_default")]
    pub networks: Vec<super::NetworkResource>,
    /// Ephemeral disk in MiB.
    #[serde(rename = "DiskMB", default, deserialize_with = "null_as_default")]
    pub disk_mb: MiB,
    /// Every assigned port, flattened.
    #[serde(rename = "Ports", default, deserialize_with = "null_as_default")]
    pub ports: Vec<AllocatedPortMapping>,
}

/// A port assigned to an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocatedPortMapping {
    /// Port label from the job.
    #[serde(default, deserialize_with = "null_as_default")]
    pub label: String,
    /// Host port.
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: i64,
    /// Port inside the network namespace (0 = same as `value`, -1 = Connect sentinel).
    #[serde(default, deserialize_with = "null_as_default")]
    pub to: i64,
    /// Host address the port is bound on.
    #[serde(rename = "HostIP", default, deserialize_with = "null_as_default")]
    pub host_ip: String,
    /// Whether collisions with other allocations' ports are allowed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ignore_collision: bool,
}

/// How a placement was made, or why it failed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocMetric {
    /// Nodes considered.
    #[serde(default, deserialize_with = "null_as_default")]
    pub nodes_evaluated: u32,
    /// Nodes rejected by constraints.
    #[serde(default, deserialize_with = "null_as_default")]
    pub nodes_filtered: u32,
    /// Nodes in the job's node pool.
    #[serde(default, deserialize_with = "null_as_default")]
    pub nodes_in_pool: u32,
    /// The job's node pool.
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_pool: String,
    /// Ready nodes per datacenter.
    #[serde(default, deserialize_with = "null_as_default")]
    pub nodes_available: VecMap<String, u32>,
    /// Filtered nodes per node class.
    #[serde(default, deserialize_with = "null_as_default")]
    pub class_filtered: VecMap<String, u32>,
    /// Filtered nodes per constraint.
    #[serde(default, deserialize_with = "null_as_default")]
    pub constraint_filtered: VecMap<String, u32>,
    /// Nodes without enough free resources.
    #[serde(default, deserialize_with = "null_as_default")]
    pub nodes_exhausted: u32,
    /// Exhausted nodes per node class.
    #[serde(default, deserialize_with = "null_as_default")]
    pub class_exhausted: VecMap<String, u32>,
    /// Exhausted nodes per resource dimension (`memory`, `cpu`, `network: ...`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub dimension_exhausted: VecMap<String, u32>,
    /// Quotas that were exhausted.
    #[serde(default, deserialize_with = "null_as_default")]
    pub quota_exhausted: Vec<String>,
    /// Resources that were short, per task.
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources_exhausted: VecMap<String, super::Resources>,
    /// Legacy per-node scores (`<node>.<scorer>` to score).
    #[serde(default, deserialize_with = "null_as_default")]
    pub scores: VecMap<String, f64>,
    /// Scores of the best nodes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub score_meta_data: Vec<NodeScoreMeta>,
    /// Time spent placing.
    #[serde(default, deserialize_with = "null_as_default")]
    pub allocation_time: Duration,
    /// Number of identical failed placements folded into this one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub coalesced_failures: u32,
    /// Why the placement failed, in one line (ours, not Nomad's; absent
    /// from the JSON when empty, so Nomad's documents round-trip).
    ///
    /// Must stay the struct's last field: see [`super::serde_util`] on
    /// fields left out.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub explanation: String,
}

/// Scores of one candidate node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeScoreMeta {
    /// The node.
    #[serde(rename = "NodeID", default, deserialize_with = "null_as_default")]
    pub node_id: NodeId,
    /// Score per scorer (`binpack`, `job-anti-affinity`, ...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub scores: super::score_map::ScoreMap,
    /// Final normalised score.
    #[serde(default, deserialize_with = "null_as_default")]
    pub norm_score: f64,
}

/// An allocation's health within its deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocDeploymentStatus {
    /// `Some(true)` healthy, `Some(false)` unhealthy, `None` not yet known.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// Time (RFC 3339) health was last set.
    #[serde(default, deserialize_with = "null_as_default")]
    pub timestamp: String,
    /// Whether the allocation is a canary.
    #[serde(default, deserialize_with = "null_as_default")]
    pub canary: bool,
    /// Raft index of the last change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_index: u64,
}

/// Earlier reschedule attempts of an allocation's lineage.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RescheduleTracker {
    /// Attempts, oldest first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<RescheduleEvent>,
}

/// One reschedule attempt.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RescheduleEvent {
    /// When it happened, Unix nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reschedule_time: i64,
    /// The allocation that was replaced.
    #[serde(rename = "PrevAllocID", default, deserialize_with = "null_as_default")]
    pub prev_alloc_id: AllocId,
    /// The node it ran on.
    #[serde(rename = "PrevNodeID", default, deserialize_with = "null_as_default")]
    pub prev_node_id: NodeId,
    /// Delay applied before this attempt.
    #[serde(default, deserialize_with = "null_as_default")]
    pub delay: Duration,
}

/// Network namespace of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocNetworkStatus {
    /// Interface name inside the namespace.
    #[serde(default, deserialize_with = "null_as_default")]
    pub interface_name: String,
    /// IPv4 address.
    #[serde(default, deserialize_with = "null_as_default")]
    pub address: String,
    /// IPv6 address.
    #[serde(rename = "AddressIPv6", default, deserialize_with = "null_as_default")]
    pub address_ipv6: String,
    /// DNS configuration of the namespace.
    #[serde(rename = "DNS", default)]
    pub dns: Option<super::DnsConfig>,
}

/// One entry of an allocation's client status history.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocState {
    /// Which field changed (0 = client status).
    #[serde(default, deserialize_with = "null_as_default")]
    pub field: u8,
    /// New value.
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: String,
    /// Time (RFC 3339) of the change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub time: String,
}

/// Lifecycle state of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskRunState {
    /// Not started.
    #[default]
    Pending,
    /// Running.
    Running,
    /// Exited and will not restart.
    Dead,
}

/// State of one task in an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskState {
    /// `pending`, `running` or `dead`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub state: TaskRunState,
    /// Whether the task failed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub failed: bool,
    /// Number of restarts.
    #[serde(default, deserialize_with = "null_as_default")]
    pub restarts: u64,
    /// Time (RFC 3339) of the last restart.
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_restart: String,
    /// Time (RFC 3339) the task last started.
    #[serde(default, deserialize_with = "null_as_default")]
    pub started_at: String,
    /// Time (RFC 3339) the task finished.
    #[serde(default, deserialize_with = "null_as_default")]
    pub finished_at: String,
    /// Events, oldest first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<TaskEvent>,
}

/// Something that happened to a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskEvent {
    /// Event type (`Received`, `Started`, `Terminated`, `Restarting`, ...).
    #[serde(rename = "Type", default, deserialize_with = "null_as_default")]
    pub event_type: String,
    /// When it happened, Unix nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub time: i64,
    /// Event message.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// Message for display.
    #[serde(default, deserialize_with = "null_as_default")]
    pub display_message: String,
    /// Structured details.
    #[serde(default, deserialize_with = "null_as_default")]
    pub details: BTreeMap<String, String>,
    /// Whether the event fails the task.
    #[serde(default, deserialize_with = "null_as_default")]
    pub fails_task: bool,
    /// Why the task is restarting.
    #[serde(default, deserialize_with = "null_as_default")]
    pub restart_reason: String,
    /// Task setup error.
    #[serde(default, deserialize_with = "null_as_default")]
    pub setup_error: String,
    /// Driver error.
    #[serde(default, deserialize_with = "null_as_default")]
    pub driver_error: String,
    /// Driver message.
    #[serde(default, deserialize_with = "null_as_default")]
    pub driver_message: String,
    /// Exit code of the task.
    #[serde(default, deserialize_with = "null_as_default")]
    pub exit_code: i32,
    /// Signal that killed the task.
    #[serde(default, deserialize_with = "null_as_default")]
    pub signal: i32,
    /// Why the task was killed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub kill_reason: String,
    /// Kill timeout in effect.
    #[serde(default, deserialize_with = "null_as_default")]
    pub kill_timeout: Duration,
    /// Error while killing.
    #[serde(default, deserialize_with = "null_as_default")]
    pub kill_error: String,
    /// Restart delay, nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub start_delay: i64,
    /// Artifact download error.
    #[serde(default, deserialize_with = "null_as_default")]
    pub download_error: String,
    /// Validation error.
    #[serde(default, deserialize_with = "null_as_default")]
    pub validation_error: String,
    /// Disk limit in MiB that was exceeded.
    #[serde(default, deserialize_with = "null_as_default")]
    pub disk_limit: i64,
    /// Sibling task whose failure killed this one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub failed_sibling: String,
    /// Vault error.
    #[serde(default, deserialize_with = "null_as_default")]
    pub vault_error: String,
    /// Why the task was signalled.
    #[serde(default, deserialize_with = "null_as_default")]
    pub task_signal_reason: String,
    /// Signal sent to the task.
    #[serde(default, deserialize_with = "null_as_default")]
    pub task_signal: String,
    /// Source of a generic event.
    #[serde(default, deserialize_with = "null_as_default")]
    pub generic_source: String,
}

#[cfg(test)]
mod size_tests {
    use super::Allocation;

    /// The stores hold a million of these at C1M, three times over in a
    /// three-server process: every byte of the struct costs megabytes and
    /// page faults. Rarely set parts are boxed; a new field that grows the
    /// struct past this should be boxed too (or the bound raised knowingly).
    #[test]
    fn allocation_struct_stays_small() {
        let size = std::mem::size_of::<Allocation>();
        assert!(size <= 928, "Allocation is {size} bytes");
    }
}
