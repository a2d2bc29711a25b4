//! What [`schedule`](super::schedule) returns: plain data the caller
//! applies (a server commits the plan through Raft; the simulator applies
//! it to a [`MemoryState`](crate::state::MemoryState)).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::serde_util::null_as_default;
use crate::model::{
    AllocMetric, Allocation, Deployment, DeploymentStatusUpdate, EvalId, Evaluation, Job, NodeId,
};

/// Changes the scheduler wants made, grouped by node, with Nomad's JSON
/// field names.
///
/// The plan is a proposal: the plan applier re-checks every node
/// ([`check_plan`](crate::plan::check_plan)) against the latest state before
/// committing, because other plans may have landed since the snapshot.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plan {
    /// The evaluation that produced the plan.
    #[serde(rename = "EvalID", default, deserialize_with = "null_as_default")]
    pub eval_id: EvalId,
    /// Priority of the evaluation; orders the plan queue.
    #[serde(default, deserialize_with = "null_as_default")]
    pub priority: i32,
    /// Commit every node or none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub all_at_once: bool,
    /// The job version the placements run; `None` when only stopping.
    #[serde(default)]
    pub job: Option<Job>,
    /// Allocations to stop or evict, per node.
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_update: BTreeMap<NodeId, Vec<Allocation>>,
    /// Allocations to create or update in place, per node.
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_allocation: BTreeMap<NodeId, Vec<Allocation>>,
    /// Lower-priority allocations to evict to make room, per node.
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_preemptions: BTreeMap<NodeId, Vec<Allocation>>,
    /// A deployment to create or update.
    #[serde(default)]
    pub deployment: Option<Deployment>,
    /// Status changes of other deployments (cancelled by a newer version
    /// or a stopped job).
    #[serde(default, deserialize_with = "null_as_default")]
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// Index of the snapshot the plan was computed from.
    #[serde(default, deserialize_with = "null_as_default")]
    pub snapshot_index: u64,
    /// What the reconciler decided per task group, for `plan` output.
    #[serde(default)]
    pub annotations: Option<PlanAnnotations>,
}

/// Nomad's plan annotations: the reconciler's decisions per task group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlanAnnotations {
    /// Counts per task group.
    #[serde(
        rename = "DesiredTGUpdates",
        default,
        deserialize_with = "null_as_default"
    )]
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
}

/// How many allocations of a task group each kind of change touches
/// (Nomad's `DesiredUpdates`, printed by `job plan` as
/// "(1 create, 2 in-place update)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesiredUpdates {
    /// Allocations left alone.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ignore: u64,
    /// New allocations ("create").
    #[serde(default, deserialize_with = "null_as_default")]
    pub place: u64,
    /// Allocations moved off draining nodes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub migrate: u64,
    /// Allocations stopped ("destroy").
    #[serde(default, deserialize_with = "null_as_default")]
    pub stop: u64,
    /// Allocations updated without a restart.
    #[serde(default, deserialize_with = "null_as_default")]
    pub in_place_update: u64,
    /// Allocations replaced by new ones ("create/destroy update").
    #[serde(default, deserialize_with = "null_as_default")]
    pub destructive_update: u64,
    /// Canaries placed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub canary: u64,
    /// Allocations of other jobs evicted to make room.
    #[serde(default, deserialize_with = "null_as_default")]
    pub preemptions: u64,
    /// Disconnected allocations whose client came back.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reconnect_updates: u64,
    /// Allocations on disconnected clients marked unknown.
    #[serde(default, deserialize_with = "null_as_default")]
    pub disconnect_updates: u64,
    /// Failed allocations replaced in this evaluation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reschedule_now: u64,
    /// Failed allocations to be replaced by a follow-up evaluation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reschedule_later: u64,
}

impl Plan {
    /// Whether the plan changes nothing.
    pub fn is_no_op(&self) -> bool {
        self.node_update.values().all(Vec::is_empty)
            && self.node_allocation.values().all(Vec::is_empty)
            && self.node_preemptions.values().all(Vec::is_empty)
            && self.deployment.is_none()
            && self.deployment_updates.is_empty()
    }

    /// Every placed or updated allocation, by node then in plan order.
    pub fn placements(&self) -> impl Iterator<Item = &Allocation> {
        self.node_allocation.values().flatten()
    }

    /// The allocations the plan creates, by node then in plan order:
    /// placements not yet stored (`CreateIndex` 0), leaving out in-place
    /// updates and bookkeeping of existing allocations.
    pub fn new_allocations(&self) -> impl Iterator<Item = &Allocation> {
        self.placements().filter(|a| a.create_index == 0)
    }

    /// Every allocation stopped or evicted, by node then in plan order.
    pub fn stops(&self) -> impl Iterator<Item = &Allocation> {
        self.node_update.values().flatten()
    }

    /// Records a placement on its node.
    pub fn push_placement(&mut self, alloc: Allocation) {
        self.node_allocation
            .entry(alloc.node_id.clone())
            .or_default()
            .push(alloc);
    }

    /// Records an eviction of a lower-priority allocation on its node.
    pub fn push_preemption(&mut self, alloc: Allocation) {
        self.node_preemptions
            .entry(alloc.node_id.clone())
            .or_default()
            .push(alloc);
    }

    /// Records a stop on the allocation's node.
    pub fn push_stop(&mut self, alloc: Allocation) {
        self.node_update
            .entry(alloc.node_id.clone())
            .or_default()
            .push(alloc);
    }
}

/// Why some allocations of a task group could not be placed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlacementFailure {
    /// The task group.
    #[serde(default, deserialize_with = "null_as_default")]
    pub task_group: String,
    /// How many allocations of the group could not be placed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub unplaced: u32,
    /// Nomad's metrics for the first failed placement, with every filter
    /// and exhausted dimension counted and a one-line
    /// [`AllocMetric::explanation`].
    #[serde(default, deserialize_with = "null_as_default")]
    pub metric: AllocMetric,
}

/// Everything one evaluation decided.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchedulerResult {
    /// The plan to submit; may be a no-op.
    #[serde(default, deserialize_with = "null_as_default")]
    pub plan: Plan,
    /// The evaluation as processed: status, `FailedTGAllocs`,
    /// `QueuedAllocations`, `ClassEligibility`, `BlockedEval`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub eval_update: Evaluation,
    /// New evaluations: the blocked evaluation that waits for capacity, and
    /// follow-ups.
    #[serde(default, deserialize_with = "null_as_default")]
    pub created_evals: Vec<Evaluation>,
    /// Placement failures per task group, in group order of the job.
    #[serde(default, deserialize_with = "null_as_default")]
    pub failures: Vec<PlacementFailure>,
}
