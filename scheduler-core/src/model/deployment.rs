//! Deployments: the progress of rolling out one job version, as Nomad's
//! `GET /v1/deployment/:id` returns them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::serde_util::null_as_default;
use super::{AllocId, DeploymentId, Duration, JobId, Namespace};

/// The rollout of one version of a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Deployment {
    /// Deployment id (a UUID).
    #[serde(rename = "ID", default, deserialize_with = "null_as_default")]
    pub id: DeploymentId,
    /// Namespace of the job.
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespace: Namespace,
    /// Job being deployed.
    #[serde(rename = "JobID", default, deserialize_with = "null_as_default")]
    pub job_id: JobId,
    /// Job version being deployed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub job_version: u64,
    /// Modify index of that job version.
    #[serde(default, deserialize_with = "null_as_default")]
    pub job_modify_index: u64,
    /// Job modify index of the last spec change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub job_spec_modify_index: u64,
    /// Create index of the job, to tell re-registered jobs apart.
    #[serde(default, deserialize_with = "null_as_default")]
    pub job_create_index: u64,
    /// Whether this is part of a multi-region deployment.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_multiregion: bool,
    /// Progress of each task group being updated.
    #[serde(default, deserialize_with = "null_as_default")]
    pub task_groups: BTreeMap<String, DeploymentState>,
    /// Where the deployment stands.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: DeploymentStatus,
    /// Human-readable explanation of the status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status_description: String,
    /// Priority of evaluations the deployment creates.
    #[serde(default, deserialize_with = "null_as_default")]
    pub eval_priority: i32,
    /// Raft index at which the deployment was created.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_index: u64,
    /// Creation time, Unix nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_time: i64,
    /// Last modification time, Unix nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_time: i64,
}

impl Deployment {
    /// Whether the deployment may still make progress.
    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }

    /// Whether some group has placed canaries.
    pub fn has_placed_canaries(&self) -> bool {
        self.task_groups
            .values()
            .any(|s| !s.placed_canaries.is_empty())
    }

    /// Whether some group wants canaries that have not been promoted yet.
    pub fn requires_promotion(&self) -> bool {
        self.task_groups
            .values()
            .any(|s| s.desired_canaries > 0 && !s.promoted)
    }
}

/// Where a deployment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentStatus {
    /// Placing and watching allocations.
    #[default]
    Running,
    /// Paused by an operator.
    Paused,
    /// Failed (deadline missed or unhealthy allocations).
    Failed,
    /// All allocations healthy.
    Successful,
    /// Replaced by a newer deployment or stopped.
    Cancelled,
    /// Waiting to start (multi-region).
    Pending,
    /// Waiting for other regions (multi-region).
    Blocked,
    /// Being unblocked (multi-region).
    Unblocking,
    /// Being created.
    Initializing,
}

impl DeploymentStatus {
    /// Every status except `failed`, `successful` and `cancelled` can still progress.
    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }

    /// `failed`, `successful` and `cancelled` are final.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DeploymentStatus::Failed | DeploymentStatus::Successful | DeploymentStatus::Cancelled
        )
    }
}

/// Deployment progress of one task group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentState {
    /// Revert to the last stable version on failure.
    #[serde(default, deserialize_with = "null_as_default")]
    pub auto_revert: bool,
    /// Promote canaries automatically once healthy.
    #[serde(default, deserialize_with = "null_as_default")]
    pub auto_promote: bool,
    /// How long an allocation may take to become healthy.
    #[serde(default, deserialize_with = "null_as_default")]
    pub progress_deadline: Duration,
    /// Time (RFC 3339) by which progress must be made.
    #[serde(default, deserialize_with = "null_as_default")]
    pub require_progress_by: String,
    /// Whether the canaries were promoted.
    #[serde(default, deserialize_with = "null_as_default")]
    pub promoted: bool,
    /// Canary allocations placed so far.
    #[serde(default, deserialize_with = "null_as_default")]
    pub placed_canaries: Vec<AllocId>,
    /// Number of canaries wanted.
    #[serde(default, deserialize_with = "null_as_default")]
    pub desired_canaries: u32,
    /// Number of allocations wanted in total.
    #[serde(default, deserialize_with = "null_as_default")]
    pub desired_total: u32,
    /// Allocations placed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub placed_allocs: u32,
    /// Allocations marked healthy.
    #[serde(default, deserialize_with = "null_as_default")]
    pub healthy_allocs: u32,
    /// Allocations marked unhealthy.
    #[serde(default, deserialize_with = "null_as_default")]
    pub unhealthy_allocs: u32,
}

/// A status change of an existing deployment, as a plan carries it
/// (Nomad's `DeploymentStatusUpdate`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentStatusUpdate {
    /// The deployment.
    #[serde(rename = "DeploymentID", default, deserialize_with = "null_as_default")]
    pub deployment_id: DeploymentId,
    /// Its new status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: DeploymentStatus,
    /// Why, Nomad-style.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status_description: String,
}
