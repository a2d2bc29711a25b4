//! The request and response bodies of Nomad's `/v1` HTTP API that are not
//! cluster objects themselves: list stubs, job summaries, register, plan,
//! dispatch and update answers.
//!
//! Servers build them from the state (the `from_*` constructors here are
//! pure), and clients (the `sched` CLI, embedders) read them back, so both
//! sides share one definition. Field names are Nomad's; every field
//! tolerates `null` and absence, as Nomad's own clients send both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::serde_util::null_as_default;
use super::{
    AllocClientStatus, AllocDeploymentStatus, AllocMetric, Allocation, Evaluation, Job,
    JobVersionTag, Node, RescheduleTracker, TaskState,
};
use crate::plan::diff::JobDiff;
use crate::scheduler::PlanAnnotations;

/// One job in `GET /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobListStub {
    /// The job's id.
    #[serde(rename = "ID", deserialize_with = "null_as_default")]
    pub id: String,
    /// The parent of a dispatched or periodic child.
    #[serde(rename = "ParentID", deserialize_with = "null_as_default")]
    pub parent_id: String,
    /// Its name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Its namespace.
    #[serde(deserialize_with = "null_as_default")]
    pub namespace: String,
    /// Datacenters it may run in.
    #[serde(deserialize_with = "null_as_default")]
    pub datacenters: Vec<String>,
    /// Its node pool.
    #[serde(deserialize_with = "null_as_default")]
    pub node_pool: String,
    /// `service`, `batch`, `system` or `sysbatch`.
    #[serde(rename = "Type", deserialize_with = "null_as_default")]
    pub job_type: String,
    /// Its priority.
    #[serde(deserialize_with = "null_as_default")]
    pub priority: i64,
    /// Whether it is a periodic job.
    #[serde(deserialize_with = "null_as_default")]
    pub periodic: bool,
    /// Whether it is a parameterized job.
    #[serde(deserialize_with = "null_as_default")]
    pub parameterized_job: bool,
    /// Whether it was stopped.
    #[serde(deserialize_with = "null_as_default")]
    pub stop: bool,
    /// `pending`, `running` or `dead`.
    #[serde(deserialize_with = "null_as_default")]
    pub status: String,
    /// Why it has that status.
    #[serde(deserialize_with = "null_as_default")]
    pub status_description: String,
    /// Its allocations counted by state, per group.
    pub job_summary: Option<JobSummary>,
    /// Raft index of its creation.
    #[serde(deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of its last change.
    #[serde(deserialize_with = "null_as_default")]
    pub modify_index: u64,
    /// Raft index of its last specification change (`-check-index`).
    #[serde(deserialize_with = "null_as_default")]
    pub job_modify_index: u64,
    /// When its current version was submitted, Unix nanoseconds.
    #[serde(deserialize_with = "null_as_default")]
    pub submit_time: i64,
    /// Its metadata.
    #[serde(deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
}

impl JobListStub {
    /// The stub of `job`, with the status and summary its allocations give.
    pub fn from_job<'a>(job: &Job, allocs: impl IntoIterator<Item = &'a Allocation>) -> Self {
        let summary = JobSummary::from_allocs(job, allocs);
        JobListStub {
            id: job.id.as_str().to_owned(),
            parent_id: job.parent_id.as_str().to_owned(),
            name: job.name.clone(),
            namespace: job.namespace.clone(),
            datacenters: job.datacenters.clone(),
            node_pool: job.node_pool.clone(),
            job_type: job.job_type.to_string(),
            priority: job.priority(),
            periodic: job.is_periodic(),
            parameterized_job: job.is_parameterized(),
            stop: job.stop,
            status: job_status(job, &summary).to_owned(),
            status_description: job.status_description.clone(),
            create_index: job.create_index,
            modify_index: job.modify_index,
            job_modify_index: job.job_modify_index,
            submit_time: job.submit_time,
            meta: job.meta.clone(),
            job_summary: Some(summary),
        }
    }
}

/// A job's status as Nomad derives it: `running` while any allocation is
/// placed and not finished (and always for periodic and parameterized
/// parents), `dead` once stopped or once every allocation finished, and
/// `pending` before anything was placed.
pub fn job_status(job: &Job, summary: &JobSummary) -> &'static str {
    let groups = summary.summary.values();
    let live: u64 = groups.clone().map(|g| g.running + g.starting).sum();
    let finished: u64 = groups.map(|g| g.complete + g.failed + g.lost).sum();
    if live > 0 {
        "running"
    } else if job.stop {
        "dead"
    } else if job.is_periodic() || job.is_parameterized() {
        "running"
    } else if finished > 0 {
        "dead"
    } else {
        "pending"
    }
}

/// Allocations of a job counted by state, per task group (Nomad's
/// `JobSummary`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobSummary {
    /// The job.
    #[serde(rename = "JobID", deserialize_with = "null_as_default")]
    pub job_id: String,
    /// Its namespace.
    #[serde(deserialize_with = "null_as_default")]
    pub namespace: String,
    /// Counts per task group.
    #[serde(deserialize_with = "null_as_default")]
    pub summary: BTreeMap<String, TaskGroupSummary>,
    /// Children of a periodic or parameterized job.
    pub children: Option<JobChildrenSummary>,
    /// Raft index of the job's creation.
    #[serde(deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change counted.
    #[serde(deserialize_with = "null_as_default")]
    pub modify_index: u64,
}

impl JobSummary {
    /// Counts `allocs` (the job's allocations, of any version) per group.
    /// Groups of the job without allocations appear with zeros.
    pub fn from_allocs<'a>(job: &Job, allocs: impl IntoIterator<Item = &'a Allocation>) -> Self {
        let mut summary: BTreeMap<String, TaskGroupSummary> = job
            .task_groups
            .iter()
            .map(|group| (group.name.clone(), TaskGroupSummary::default()))
            .collect();
        let mut modify_index = job.modify_index;
        for alloc in allocs {
            modify_index = modify_index.max(alloc.modify_index);
            let counts = summary.entry(alloc.task_group.clone()).or_default();
            match alloc.client_status {
                AllocClientStatus::Pending => counts.starting += 1,
                AllocClientStatus::Running => counts.running += 1,
                AllocClientStatus::Complete => counts.complete += 1,
                AllocClientStatus::Failed => counts.failed += 1,
                AllocClientStatus::Lost => counts.lost += 1,
                AllocClientStatus::Unknown => counts.unknown += 1,
            }
        }
        JobSummary {
            job_id: job.id.as_str().to_owned(),
            namespace: job.namespace.clone(),
            summary,
            children: (job.is_periodic() || job.is_parameterized())
                .then(JobChildrenSummary::default),
            create_index: job.create_index,
            modify_index,
        }
    }
}

/// One task group's allocation counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskGroupSummary {
    /// Waiting for placement.
    #[serde(deserialize_with = "null_as_default")]
    pub queued: u64,
    /// Finished successfully.
    #[serde(deserialize_with = "null_as_default")]
    pub complete: u64,
    /// Failed.
    #[serde(deserialize_with = "null_as_default")]
    pub failed: u64,
    /// Running.
    #[serde(deserialize_with = "null_as_default")]
    pub running: u64,
    /// Placed, not yet running.
    #[serde(deserialize_with = "null_as_default")]
    pub starting: u64,
    /// On a node that went down.
    #[serde(deserialize_with = "null_as_default")]
    pub lost: u64,
    /// On a disconnected node.
    #[serde(deserialize_with = "null_as_default")]
    pub unknown: u64,
}

/// Children of a periodic or parameterized job, counted by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobChildrenSummary {
    /// Children not yet running.
    #[serde(deserialize_with = "null_as_default")]
    pub pending: u64,
    /// Children running.
    #[serde(deserialize_with = "null_as_default")]
    pub running: u64,
    /// Children finished.
    #[serde(deserialize_with = "null_as_default")]
    pub dead: u64,
}

/// `POST /v1/jobs` and `POST /v1/job/:id`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobRegisterRequest {
    /// The job.
    pub job: Option<Job>,
    /// Register only if the job's `JobModifyIndex` is `JobModifyIndex`
    /// (0: only if the job does not exist): `job run -check-index`.
    #[serde(deserialize_with = "null_as_default")]
    pub enforce_index: bool,
    /// The index `EnforceIndex` compares with.
    #[serde(deserialize_with = "null_as_default")]
    pub job_modify_index: u64,
    /// Keep the counts of existing groups.
    #[serde(deserialize_with = "null_as_default")]
    pub preserve_counts: bool,
    /// Accepted and ignored (no Sentinel policies here).
    #[serde(deserialize_with = "null_as_default")]
    pub policy_override: bool,
}

/// The answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobRegisterResponse {
    /// The evaluation created (empty for periodic and parameterized jobs).
    #[serde(rename = "EvalID", deserialize_with = "null_as_default")]
    pub eval_id: String,
    /// Raft index of the evaluation.
    #[serde(deserialize_with = "null_as_default")]
    pub eval_create_index: u64,
    /// The job's `JobModifyIndex` as stored.
    #[serde(deserialize_with = "null_as_default")]
    pub job_modify_index: u64,
    /// Warnings about the job.
    #[serde(deserialize_with = "null_as_default")]
    pub warnings: String,
    /// Raft index of the write.
    #[serde(deserialize_with = "null_as_default")]
    pub index: u64,
}

/// The answer to `DELETE /v1/job/:id` and `POST /v1/job/:id/evaluate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDeregisterResponse {
    /// The evaluation created.
    #[serde(rename = "EvalID", deserialize_with = "null_as_default")]
    pub eval_id: String,
    /// Raft index of the evaluation.
    #[serde(deserialize_with = "null_as_default")]
    pub eval_create_index: u64,
    /// The job's `JobModifyIndex` after the change.
    #[serde(deserialize_with = "null_as_default")]
    pub job_modify_index: u64,
    /// Raft index of the write.
    #[serde(deserialize_with = "null_as_default")]
    pub index: u64,
}

/// `POST /v1/job/:id/plan`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobPlanRequest {
    /// The job as it would be registered.
    pub job: Option<Job>,
    /// Include the annotated diff.
    #[serde(deserialize_with = "null_as_default")]
    pub diff: bool,
    /// Accepted and ignored (no Sentinel policies here).
    #[serde(deserialize_with = "null_as_default")]
    pub policy_override: bool,
}

/// What registering a job would do.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobPlanResponse {
    /// The index to pass to `job run -check-index`.
    #[serde(deserialize_with = "null_as_default")]
    pub job_modify_index: u64,
    /// Blocked evaluations the run would create.
    #[serde(deserialize_with = "null_as_default")]
    pub created_evals: Vec<Evaluation>,
    /// The annotated diff (when asked for).
    pub diff: Option<JobDiff>,
    /// The reconciler's counts per group.
    pub annotations: Option<PlanAnnotations>,
    /// Groups that could not be placed, with why.
    #[serde(rename = "FailedTGAllocs", deserialize_with = "null_as_default")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// A periodic job's next launch (RFC 3339), if any.
    #[serde(deserialize_with = "null_as_default")]
    pub next_periodic_launch: String,
    /// Warnings about the job.
    #[serde(deserialize_with = "null_as_default")]
    pub warnings: String,
}

/// `POST /v1/validate/job`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobValidateRequest {
    /// The job.
    pub job: Option<Job>,
}

/// The answer to a validation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobValidateResponse {
    /// Whether drivers checked their configuration.
    #[serde(deserialize_with = "null_as_default")]
    pub driver_config_validated: bool,
    /// Every problem, with its field path.
    #[serde(deserialize_with = "null_as_default")]
    pub validation_errors: Vec<String>,
    /// All problems in one message ("" when valid).
    #[serde(deserialize_with = "null_as_default")]
    pub error: String,
    /// Warnings.
    #[serde(deserialize_with = "null_as_default")]
    pub warnings: String,
}

/// `POST /v1/jobs/parse`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobsParseRequest {
    /// The job file's text.
    #[serde(rename = "JobHCL", deserialize_with = "null_as_default")]
    pub job_hcl: String,
    /// Variable values, as a `-var-file` would give them.
    #[serde(deserialize_with = "null_as_default")]
    pub variables: String,
    /// Apply defaults.
    #[serde(deserialize_with = "null_as_default")]
    pub canonicalize: bool,
}

/// `GET /v1/job/:id/versions`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobVersionsResponse {
    /// The versions kept, newest first.
    #[serde(deserialize_with = "null_as_default")]
    pub versions: Vec<Job>,
    /// With `?diffs=true`: each version against the one before it.
    #[serde(deserialize_with = "null_as_default")]
    pub diffs: Vec<JobDiff>,
}

/// `POST /v1/job/:id/revert`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobRevertRequest {
    /// The job.
    #[serde(rename = "JobID", deserialize_with = "null_as_default")]
    pub job_id: String,
    /// The version to go back to.
    #[serde(deserialize_with = "null_as_default")]
    pub job_version: u64,
    /// Revert only if the current version is this one.
    pub enforce_prior_version: Option<u64>,
}

/// `POST /v1/job/:id/stable`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobStabilityRequest {
    /// The job.
    #[serde(rename = "JobID", deserialize_with = "null_as_default")]
    pub job_id: String,
    /// The version.
    #[serde(deserialize_with = "null_as_default")]
    pub job_version: u64,
    /// Stable or not.
    #[serde(deserialize_with = "null_as_default")]
    pub stable: bool,
}

/// The answer to `POST /v1/job/:id/stable`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobStabilityResponse {
    /// Raft index of the write: the marked version's `ModifyIndex`.
    #[serde(deserialize_with = "null_as_default")]
    pub index: u64,
}

/// `POST /v1/job/:id/evaluate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobEvaluateRequest {
    /// The job.
    #[serde(rename = "JobID", deserialize_with = "null_as_default")]
    pub job_id: String,
    /// Options.
    pub eval_options: Option<EvalOptions>,
}

/// Options of a forced evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EvalOptions {
    /// Reschedule failed allocations even past their policy.
    #[serde(deserialize_with = "null_as_default")]
    pub force_reschedule: bool,
}

/// `POST /v1/job/:id/dispatch`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDispatchRequest {
    /// The parameterized job.
    #[serde(rename = "JobID", deserialize_with = "null_as_default")]
    pub job_id: String,
    /// The payload, base64.
    #[serde(deserialize_with = "null_as_default")]
    pub payload: String,
    /// Dispatch metadata.
    #[serde(deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
    /// A repeated token returns the existing child.
    #[serde(deserialize_with = "null_as_default")]
    pub idempotency_token: String,
}

/// The answer to a dispatch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDispatchResponse {
    /// The child job.
    #[serde(rename = "DispatchedJobID", deserialize_with = "null_as_default")]
    pub dispatched_job_id: String,
    /// Its evaluation.
    #[serde(rename = "EvalID", deserialize_with = "null_as_default")]
    pub eval_id: String,
    /// Raft index of the evaluation.
    #[serde(deserialize_with = "null_as_default")]
    pub eval_create_index: u64,
    /// Raft index of the child.
    #[serde(deserialize_with = "null_as_default")]
    pub job_create_index: u64,
    /// Raft index of the write.
    #[serde(deserialize_with = "null_as_default")]
    pub index: u64,
}

/// One allocation in `GET /v1/allocations` and the job and node listings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocListStub {
    /// The allocation.
    #[serde(rename = "ID", deserialize_with = "null_as_default")]
    pub id: String,
    /// The evaluation that placed it.
    #[serde(rename = "EvalID", deserialize_with = "null_as_default")]
    pub eval_id: String,
    /// `job.group[index]`.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Its namespace.
    #[serde(deserialize_with = "null_as_default")]
    pub namespace: String,
    /// Its node.
    #[serde(rename = "NodeID", deserialize_with = "null_as_default")]
    pub node_id: String,
    /// Its node's name.
    #[serde(deserialize_with = "null_as_default")]
    pub node_name: String,
    /// Its job.
    #[serde(rename = "JobID", deserialize_with = "null_as_default")]
    pub job_id: String,
    /// The job's type.
    #[serde(deserialize_with = "null_as_default")]
    pub job_type: String,
    /// The job version it runs.
    #[serde(deserialize_with = "null_as_default")]
    pub job_version: u64,
    /// Its task group.
    #[serde(deserialize_with = "null_as_default")]
    pub task_group: String,
    /// What the servers want (`run`, `stop`, `evict`).
    #[serde(deserialize_with = "null_as_default")]
    pub desired_status: String,
    /// Why.
    #[serde(deserialize_with = "null_as_default")]
    pub desired_description: String,
    /// What the client reports.
    #[serde(deserialize_with = "null_as_default")]
    pub client_status: String,
    /// Why.
    #[serde(deserialize_with = "null_as_default")]
    pub client_description: String,
    /// Its tasks' states.
    #[serde(deserialize_with = "null_as_default")]
    pub task_states: crate::model::VecMap<String, TaskState>,
    /// Its health in a deployment.
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// The evaluation that will reschedule it.
    #[serde(rename = "FollowupEvalID", deserialize_with = "null_as_default")]
    pub followup_eval_id: String,
    /// Its earlier reschedules.
    pub reschedule_tracker: Option<RescheduleTracker>,
    /// Raft index of its creation.
    #[serde(deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of its last change.
    #[serde(deserialize_with = "null_as_default")]
    pub modify_index: u64,
    /// Creation time, Unix nanoseconds.
    #[serde(deserialize_with = "null_as_default")]
    pub create_time: i64,
    /// Last change, Unix nanoseconds.
    #[serde(deserialize_with = "null_as_default")]
    pub modify_time: i64,
}

impl AllocListStub {
    /// The stub of `alloc`.
    pub fn from_alloc(alloc: &Allocation) -> Self {
        use erased_display::Show;
        AllocListStub {
            id: alloc.id.as_str().to_owned(),
            eval_id: alloc.eval_id.as_str().to_owned(),
            name: alloc.name.clone(),
            namespace: alloc.namespace.as_str().to_owned(),
            node_id: alloc.node_id.as_str().to_owned(),
            node_name: alloc.node_name.clone(),
            job_id: alloc.job_id.as_str().to_owned(),
            job_type: alloc
                .job
                .as_ref()
                .map(|job| job.job_type.to_string())
                .unwrap_or_default(),
            job_version: alloc.job_version().unwrap_or_default(),
            task_group: alloc.task_group.clone(),
            desired_status: alloc.desired_status.show(),
            desired_description: alloc.desired_description.clone(),
            client_status: alloc.client_status.show(),
            client_description: alloc.client_description.clone(),
            task_states: alloc.task_states.clone(),
            deployment_status: alloc.deployment_status.as_deref().cloned(),
            followup_eval_id: alloc.followup_eval_id.as_str().to_owned(),
            reschedule_tracker: (!alloc.reschedule_tracker.events.is_empty())
                .then(|| alloc.reschedule_tracker.clone()),
            create_index: alloc.create_index,
            modify_index: alloc.modify_index,
            create_time: alloc.create_time,
            modify_time: alloc.modify_time,
        }
    }
}

/// Serialised names of the model's enums (`"running"`, `"stop"`), which
/// their serde form defines once.
mod erased_display {
    pub trait Show {
        fn show(&self) -> String;
    }
    impl<T: serde::Serialize> Show for T {
        fn show(&self) -> String {
            match serde_json::to_value(self) {
                Ok(serde_json::Value::String(text)) => text,
                Ok(other) => other.to_string(),
                Err(_) => String::new(),
            }
        }
    }
}

/// One node in `GET /v1/nodes`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeListStub {
    /// Its address (from its HTTP address).
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
    /// The node.
    #[serde(rename = "ID", deserialize_with = "null_as_default")]
    pub id: String,
    /// With `?os=true`: its `os.name` attribute, and the like.
    #[serde(deserialize_with = "null_as_default")]
    pub attributes: BTreeMap<String, String>,
    /// Its datacenter.
    #[serde(deserialize_with = "null_as_default")]
    pub datacenter: String,
    /// Its name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Its class.
    #[serde(deserialize_with = "null_as_default")]
    pub node_class: String,
    /// Its pool.
    #[serde(deserialize_with = "null_as_default")]
    pub node_pool: String,
    /// The agent's version.
    #[serde(deserialize_with = "null_as_default")]
    pub version: String,
    /// Whether it is draining.
    #[serde(deserialize_with = "null_as_default")]
    pub drain: bool,
    /// `eligible` or `ineligible`.
    #[serde(deserialize_with = "null_as_default")]
    pub scheduling_eligibility: String,
    /// `initializing`, `ready`, `down`, `disconnected`.
    #[serde(deserialize_with = "null_as_default")]
    pub status: String,
    /// Why.
    #[serde(deserialize_with = "null_as_default")]
    pub status_description: String,
    /// Its drivers.
    #[serde(deserialize_with = "null_as_default")]
    pub drivers: BTreeMap<String, super::DriverInfo>,
    /// Raft index of its registration.
    #[serde(deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of its last change.
    #[serde(deserialize_with = "null_as_default")]
    pub modify_index: u64,
}

impl NodeListStub {
    /// The stub of `node`; `attributes` selects the attributes to include.
    pub fn from_node(node: &Node, attributes: &[&str]) -> Self {
        use erased_display::Show;
        let address = node
            .http_addr
            .rsplit_once(':')
            .map_or(node.http_addr.as_str(), |(host, _)| host)
            .to_owned();
        NodeListStub {
            address,
            id: node.id.as_str().to_owned(),
            attributes: attributes
                .iter()
                .filter_map(|key| {
                    node.attributes
                        .get(*key)
                        .map(|value| ((*key).to_owned(), value.clone()))
                })
                .collect(),
            datacenter: node.datacenter.clone(),
            name: node.name.clone(),
            node_class: node.node_class.clone(),
            node_pool: node.node_pool.clone(),
            version: node
                .attributes
                .get("nomad.version")
                .cloned()
                .unwrap_or_default(),
            drain: node.is_draining(),
            scheduling_eligibility: node.scheduling_eligibility.show(),
            status: node.status.show(),
            status_description: node.status_description.clone(),
            drivers: node.drivers.clone(),
            create_index: node.create_index,
            modify_index: node.modify_index,
        }
    }
}

/// `POST /v1/node/:id/drain`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeDrainRequest {
    /// The node.
    #[serde(rename = "NodeID", deserialize_with = "null_as_default")]
    pub node_id: String,
    /// The drain; `null` ends a drain.
    pub drain_spec: Option<DrainSpec>,
    /// When ending a drain, make the node eligible again.
    #[serde(deserialize_with = "null_as_default")]
    pub mark_eligible: bool,
    /// Metadata recorded with the drain.
    #[serde(deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
}

/// How a drain proceeds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DrainSpec {
    /// Nanoseconds after which remaining allocations are stopped
    /// (-1: immediately; 0: no deadline).
    #[serde(deserialize_with = "null_as_default")]
    pub deadline: i64,
    /// Leave system jobs' allocations in place.
    #[serde(deserialize_with = "null_as_default")]
    pub ignore_system_jobs: bool,
}

/// `POST /v1/node/:id/eligibility`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeEligibilityRequest {
    /// The node.
    #[serde(rename = "NodeID", deserialize_with = "null_as_default")]
    pub node_id: String,
    /// `eligible` or `ineligible`.
    #[serde(deserialize_with = "null_as_default")]
    pub eligibility: String,
}

/// The answer to a node drain, eligibility change, purge or evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NodeUpdateResponse {
    /// Evaluations created for the node's jobs.
    #[serde(rename = "EvalIDs", deserialize_with = "null_as_default")]
    pub eval_ids: Vec<String>,
    /// Raft index of the evaluations.
    #[serde(deserialize_with = "null_as_default")]
    pub eval_create_index: u64,
    /// Raft index of the node's change.
    #[serde(deserialize_with = "null_as_default")]
    pub node_modify_index: u64,
    /// Raft index of the write.
    #[serde(deserialize_with = "null_as_default")]
    pub index: u64,
}

/// The answer to `POST /v1/allocation/:id/stop`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocStopResponse {
    /// The evaluation that replaces the allocation.
    #[serde(rename = "EvalID", deserialize_with = "null_as_default")]
    pub eval_id: String,
    /// Raft index of the write.
    #[serde(deserialize_with = "null_as_default")]
    pub index: u64,
}

/// `POST /v1/deployment/promote/:id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentPromoteRequest {
    /// The deployment.
    #[serde(rename = "DeploymentID", deserialize_with = "null_as_default")]
    pub deployment_id: String,
    /// Promote every group.
    #[serde(deserialize_with = "null_as_default")]
    pub all: bool,
    /// Or these groups.
    #[serde(deserialize_with = "null_as_default")]
    pub groups: Vec<String>,
}

/// `POST /v1/deployment/pause/:id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentPauseRequest {
    /// The deployment.
    #[serde(rename = "DeploymentID", deserialize_with = "null_as_default")]
    pub deployment_id: String,
    /// Pause (true) or resume (false).
    #[serde(deserialize_with = "null_as_default")]
    pub pause: bool,
}

/// `POST /v1/deployment/allocation-health/:id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentAllocHealthRequest {
    /// The deployment.
    #[serde(rename = "DeploymentID", deserialize_with = "null_as_default")]
    pub deployment_id: String,
    /// Allocations to mark healthy.
    #[serde(rename = "HealthyAllocationIDs", deserialize_with = "null_as_default")]
    pub healthy_allocation_ids: Vec<String>,
    /// Allocations to mark unhealthy.
    #[serde(
        rename = "UnhealthyAllocationIDs",
        deserialize_with = "null_as_default"
    )]
    pub unhealthy_allocation_ids: Vec<String>,
}

/// The answer to a deployment change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeploymentUpdateResponse {
    /// The evaluation created.
    #[serde(rename = "EvalID", deserialize_with = "null_as_default")]
    pub eval_id: String,
    /// Raft index of the evaluation.
    #[serde(deserialize_with = "null_as_default")]
    pub eval_create_index: u64,
    /// Raft index of the deployment's change.
    #[serde(deserialize_with = "null_as_default")]
    pub deployment_modify_index: u64,
    /// The job version a failed deployment reverted to.
    pub reverted_job_version: Option<u64>,
    /// Raft index of the write.
    #[serde(deserialize_with = "null_as_default")]
    pub index: u64,
}

/// One instance of a service (Nomad's native `ServiceRegistration`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceRegistration {
    /// Unique per instance.
    #[serde(rename = "ID", deserialize_with = "null_as_default")]
    pub id: String,
    /// The service's name.
    #[serde(deserialize_with = "null_as_default")]
    pub service_name: String,
    /// Its namespace.
    #[serde(deserialize_with = "null_as_default")]
    pub namespace: String,
    /// The node it runs on.
    #[serde(rename = "NodeID", deserialize_with = "null_as_default")]
    pub node_id: String,
    /// The node's datacenter.
    #[serde(deserialize_with = "null_as_default")]
    pub datacenter: String,
    /// The job.
    #[serde(rename = "JobID", deserialize_with = "null_as_default")]
    pub job_id: String,
    /// The allocation.
    #[serde(rename = "AllocID", deserialize_with = "null_as_default")]
    pub alloc_id: String,
    /// Its tags.
    #[serde(deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    /// The address to reach it on.
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
    /// The port.
    #[serde(deserialize_with = "null_as_default")]
    pub port: u16,
    /// Raft index of its registration (0 for a client's local catalog).
    #[serde(deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of its last change.
    #[serde(deserialize_with = "null_as_default")]
    pub modify_index: u64,
}

/// One namespace's services in `GET /v1/services`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceRegistrationListStub {
    /// The namespace.
    #[serde(deserialize_with = "null_as_default")]
    pub namespace: String,
    /// Its services.
    #[serde(deserialize_with = "null_as_default")]
    pub services: Vec<ServiceRegistrationStub>,
}

/// A service's name and the union of its instances' tags.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ServiceRegistrationStub {
    /// The service.
    #[serde(deserialize_with = "null_as_default")]
    pub service_name: String,
    /// Its tags.
    #[serde(deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
}

/// A job version's tag, as `POST /v1/job/:id/versions/:version/tag` sets it.
pub type VersionTag = JobVersionTag;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AllocClientStatus, TaskGroup};

    fn job_with_group(group: &str) -> Job {
        Job {
            id: "web".into(),
            name: "web".to_owned(),
            namespace: "default".to_owned(),
            task_groups: vec![TaskGroup {
                name: group.to_owned(),
                ..TaskGroup::default()
            }],
            ..Job::default()
        }
    }

    fn alloc(group: &str, status: AllocClientStatus) -> Allocation {
        Allocation {
            task_group: group.to_owned(),
            client_status: status,
            ..Allocation::default()
        }
    }

    #[test]
    fn a_summary_counts_allocations_per_group_and_state() {
        let job = job_with_group("api");
        let allocs = [
            alloc("api", AllocClientStatus::Running),
            alloc("api", AllocClientStatus::Running),
            alloc("api", AllocClientStatus::Failed),
            alloc("api", AllocClientStatus::Pending),
        ];
        let stub = JobListStub::from_job(&job, &allocs);
        let counts = stub.job_summary.as_ref().unwrap().summary["api"];
        assert_eq!((counts.running, counts.failed, counts.starting), (2, 1, 1));
        assert_eq!(stub.status, "running");
    }

    #[test]
    fn a_job_without_allocations_is_pending_and_a_stopped_one_dead() {
        let mut job = job_with_group("api");
        assert_eq!(JobListStub::from_job(&job, &[]).status, "pending");
        job.stop = true;
        let done = [alloc("api", AllocClientStatus::Complete)];
        assert_eq!(JobListStub::from_job(&job, &done).status, "dead");
    }

    #[test]
    fn stubs_read_nulls_and_missing_fields() {
        let stub: AllocListStub =
            serde_json::from_str(r#"{"ID":"a","TaskStates":null,"JobVersion":null}"#).unwrap();
        assert_eq!(stub.id, "a");
        assert!(stub.task_states.is_empty());
    }
}
