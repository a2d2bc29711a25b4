//! Evaluations: requests to reconcile a job's desired and actual state, as
//! Nomad's `GET /v1/evaluation/:id` returns them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_util::null_as_default;
use super::{AllocMetric, DeploymentId, Duration, EvalId, Job, JobId, Namespace, NodeId};

/// A unit of scheduling work for one job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Evaluation {
    /// Evaluation id (a UUID).
    #[serde(rename = "ID", default, deserialize_with = "null_as_default")]
    pub id: EvalId,
    /// Namespace of the job.
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespace: Namespace,
    /// Priority, copied from the job.
    #[serde(default, deserialize_with = "null_as_default")]
    pub priority: i32,
    /// Scheduler to use: the job type (`service`, `batch`, `system`, `sysbatch`, `_core`).
    #[serde(rename = "Type", default, deserialize_with = "null_as_default")]
    pub eval_type: String,
    /// What caused the evaluation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub triggered_by: EvalTrigger,
    /// Job to evaluate.
    #[serde(rename = "JobID", default, deserialize_with = "null_as_default")]
    pub job_id: JobId,
    /// Job modify index the evaluation was created for.
    #[serde(default, deserialize_with = "null_as_default")]
    pub job_modify_index: u64,
    /// Node whose change triggered the evaluation, if any.
    #[serde(rename = "NodeID", default, deserialize_with = "null_as_default")]
    pub node_id: NodeId,
    /// Node modify index the evaluation was created for.
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_modify_index: u64,
    /// Deployment the evaluation belongs to, if any.
    #[serde(rename = "DeploymentID", default, deserialize_with = "null_as_default")]
    pub deployment_id: DeploymentId,
    /// Processing status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: EvalStatus,
    /// Human-readable explanation of the status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status_description: String,
    /// Delay before the evaluation may be processed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub wait: Duration,
    /// Time (RFC 3339) before which the evaluation must not be processed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub wait_until: String,
    /// Follow-up evaluation created by this one (rolling updates).
    #[serde(default, deserialize_with = "null_as_default")]
    pub next_eval: EvalId,
    /// Evaluation that created this one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub previous_eval: EvalId,
    /// Blocked evaluation created because placements failed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub blocked_eval: EvalId,
    /// Summaries of related evaluations (filled in on request).
    #[serde(default, deserialize_with = "null_as_default")]
    pub related_evals: Vec<EvaluationStub>,
    /// Metrics of failed placements, per task group.
    #[serde(
        rename = "FailedTGAllocs",
        default,
        deserialize_with = "null_as_default"
    )]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// Computed node classes seen, and whether each was feasible.
    #[serde(default, deserialize_with = "null_as_default")]
    pub class_eligibility: BTreeMap<String, bool>,
    /// Quota whose limit blocked placement.
    #[serde(default, deserialize_with = "null_as_default")]
    pub quota_limit_reached: String,
    /// Whether constraints reach beyond computed node classes, so any node change may unblock it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub escaped_computed_class: bool,
    /// Whether the scheduler should annotate its plan.
    #[serde(default, deserialize_with = "null_as_default")]
    pub annotate_plan: bool,
    /// Allocations that could not be placed, per task group.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queued_allocations: BTreeMap<String, u32>,
    /// Raft index of the state snapshot the scheduler used.
    #[serde(default, deserialize_with = "null_as_default")]
    pub snapshot_index: u64,
    /// Raft index at which the evaluation was created.
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
    /// Plan annotations, when requested; kept as opaque JSON (ours, absent
    /// from the JSON when `null`, as from Nomad's evaluations).
    ///
    /// Must stay the struct's last field: see
    /// [`super::serde_util`] on fields left out.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "serde_json::Value::is_null"
    )]
    pub plan_annotations: serde_json::Value,
}

impl Evaluation {
    /// A pending evaluation of `job` with the given id, created at `now`
    /// (Unix nanoseconds): what a registration, a node event or a follow-up
    /// enqueues. The caller chooses the id (derived from a seed in the
    /// simulators, random on a server).
    pub fn pending_for(id: EvalId, job: &Job, trigger: EvalTrigger, now: i64) -> Evaluation {
        Evaluation {
            id,
            namespace: Namespace::new(job.namespace.clone()),
            priority: i32::try_from(job.priority()).unwrap_or(50),
            eval_type: job.job_type.as_str().to_owned(),
            triggered_by: trigger,
            job_id: job.id.clone(),
            job_modify_index: job.job_modify_index,
            status: EvalStatus::Pending,
            create_time: now,
            modify_time: now,
            ..Evaluation::default()
        }
    }

    /// Whether processing has finished (complete, failed or cancelled).
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }
}

/// A summary of an evaluation, as listed in `RelatedEvals`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EvaluationStub {
    /// Evaluation id.
    #[serde(rename = "ID", default, deserialize_with = "null_as_default")]
    pub id: EvalId,
    /// Namespace of the job.
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespace: Namespace,
    /// Priority.
    #[serde(default, deserialize_with = "null_as_default")]
    pub priority: i32,
    /// Scheduler type.
    #[serde(rename = "Type", default, deserialize_with = "null_as_default")]
    pub eval_type: String,
    /// What caused the evaluation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub triggered_by: EvalTrigger,
    /// Job evaluated.
    #[serde(rename = "JobID", default, deserialize_with = "null_as_default")]
    pub job_id: JobId,
    /// Triggering node, if any.
    #[serde(rename = "NodeID", default, deserialize_with = "null_as_default")]
    pub node_id: NodeId,
    /// Deployment, if any.
    #[serde(rename = "DeploymentID", default, deserialize_with = "null_as_default")]
    pub deployment_id: DeploymentId,
    /// Processing status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: EvalStatus,
    /// Explanation of the status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status_description: String,
    /// Time (RFC 3339) before which it must not be processed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub wait_until: String,
    /// Follow-up evaluation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub next_eval: EvalId,
    /// Parent evaluation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub previous_eval: EvalId,
    /// Blocked evaluation it created.
    #[serde(default, deserialize_with = "null_as_default")]
    pub blocked_eval: EvalId,
    /// Raft creation index.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft modify index.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_index: u64,
    /// Creation time, Unix nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_time: i64,
    /// Modification time, Unix nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_time: i64,
}

/// Processing status of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvalStatus {
    /// Waiting for resources to free up.
    Blocked,
    /// Waiting to be processed.
    #[default]
    Pending,
    /// Processed.
    Complete,
    /// Processing failed.
    Failed,
    /// Superseded or deleted before processing.
    Canceled,
}

impl EvalStatus {
    /// `complete`, `failed` and `canceled` are terminal.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EvalStatus::Complete | EvalStatus::Failed | EvalStatus::Canceled
        )
    }
}

/// Why an evaluation was created. Serialised as Nomad's strings; unknown
/// strings are kept in [`EvalTrigger::Other`] so they round-trip.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum EvalTrigger {
    /// `job-register`: a job was registered or updated.
    #[default]
    JobRegister,
    /// `job-deregister`: a job was stopped or purged.
    JobDeregister,
    /// `periodic-job`: a periodic job launched.
    PeriodicJob,
    /// `node-update`: a node changed.
    NodeUpdate,
    /// `node-drain`: a node started draining.
    NodeDrain,
    /// `alloc-stop`: an allocation was stopped by an operator.
    AllocStop,
    /// `scheduled`: a scheduled (cron-like) trigger.
    Scheduled,
    /// `rolling-update`: the next step of a rolling update.
    RollingUpdate,
    /// `deployment-watcher`: a deployment changed state.
    DeploymentWatcher,
    /// `failed-follow-up`: retry of a failed evaluation.
    FailedFollowUp,
    /// `max-plan-attempts`: the plan was rejected too many times.
    MaxPlans,
    /// `alloc-failure`: an allocation failed and is rescheduled.
    RetryFailedAlloc,
    /// `queued-allocs`: allocations are still queued.
    QueuedAllocs,
    /// `preemption`: allocations were preempted.
    Preemption,
    /// `job-scaling`: a task group was scaled.
    Scaling,
    /// `max-disconnect-timeout`: a disconnected allocation timed out.
    MaxDisconnectTimeout,
    /// `reconnect`: a disconnected node reconnected.
    Reconnect,
    /// `alloc-reschedule`: an operator asked for a reschedule.
    AllocReschedule,
    /// Any other string.
    Other(String),
}

impl EvalTrigger {
    /// Every known trigger with its wire string.
    const KNOWN: [(EvalTrigger, &'static str); 18] = [
        (EvalTrigger::JobRegister, "job-register"),
        (EvalTrigger::JobDeregister, "job-deregister"),
        (EvalTrigger::PeriodicJob, "periodic-job"),
        (EvalTrigger::NodeUpdate, "node-update"),
        (EvalTrigger::NodeDrain, "node-drain"),
        (EvalTrigger::AllocStop, "alloc-stop"),
        (EvalTrigger::Scheduled, "scheduled"),
        (EvalTrigger::RollingUpdate, "rolling-update"),
        (EvalTrigger::DeploymentWatcher, "deployment-watcher"),
        (EvalTrigger::FailedFollowUp, "failed-follow-up"),
        (EvalTrigger::MaxPlans, "max-plan-attempts"),
        (EvalTrigger::RetryFailedAlloc, "alloc-failure"),
        (EvalTrigger::QueuedAllocs, "queued-allocs"),
        (EvalTrigger::Preemption, "preemption"),
        (EvalTrigger::Scaling, "job-scaling"),
        (EvalTrigger::MaxDisconnectTimeout, "max-disconnect-timeout"),
        (EvalTrigger::Reconnect, "reconnect"),
        (EvalTrigger::AllocReschedule, "alloc-reschedule"),
    ];

    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            EvalTrigger::Other(s) => s,
            known => Self::KNOWN
                .iter()
                .find(|(t, _)| t == known)
                .map_or("", |(_, s)| s),
        }
    }

    /// Parses a wire string; unknown strings become [`EvalTrigger::Other`].
    pub fn parse(text: &str) -> EvalTrigger {
        Self::KNOWN
            .iter()
            .find(|(_, s)| *s == text)
            .map_or_else(|| EvalTrigger::Other(text.to_owned()), |(t, _)| t.clone())
    }
}

impl fmt::Display for EvalTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for EvalTrigger {
    fn from(text: &str) -> Self {
        EvalTrigger::parse(text)
    }
}

impl Serialize for EvalTrigger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EvalTrigger {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(EvalTrigger::parse(&text))
    }
}
