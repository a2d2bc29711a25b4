//! The reconciler: from a job, its allocations and its deployment, what to
//! place, stop, update in place or replace (Nomad's
//! `scheduler/reconciler`). It decides names and counts; choosing nodes is
//! the placement stages' work ([`crate::scheduler`]).
//!
//! Pure: the state is read through [`StateSnapshot`], `now` is an argument
//! and new ids come from the caller's generator, so the same inputs give the
//! same [`Reconciliation`].
//!
//! # Per task group
//!
//! 1. **Classify** every allocation ([`classify`](super::classify)):
//!    untainted, migrate (drain), lost (node down or gone), disconnecting,
//!    reconnecting, expiring, ignore.
//! 2. **Canaries.** Canaries of the current deployment are kept apart until
//!    promotion; after it they are ordinary allocations. Unpromoted canaries
//!    of any other deployment, or of a failed one, are stopped.
//! 3. **Failures.** A failed allocation is rescheduled now (its name is
//!    freed and the replacement avoids its node), later (a follow-up
//!    evaluation is created and the allocation keeps its name until then) or
//!    never (it keeps its name: the group stays one short, as in Nomad),
//!    per [`reschedule`](super::reschedule). A failed allocation of an
//!    active deployment waits for the deployment watcher.
//! 4. **Tainted nodes.** Lost allocations are stopped as `lost` and
//!    replaced, unless the group asks to wait (`stop_on_client_after`),
//!    in which case a follow-up evaluation comes back when the wait is
//!    over. Allocations on a disconnected node are marked `unknown` and
//!    replaced (unless `disconnect.replace = false`); a follow-up
//!    evaluation expires them at `lost_after`. When the client comes back,
//!    the original is kept and its replacement stopped. Migrating
//!    allocations are stopped and replaced under the same name.
//! 5. **Updates.** Each remaining allocation of an older job version is
//!    compared with the new version ([`update_kind`](super::update_kind)):
//!    in place (same id, new version) or destructive (stopped and replaced
//!    under the same name).
//! 6. **Deployment.** A service group with an `update` block
//!    (`max_parallel` above 0) rolls out through a deployment. When destructive changes exist
//!    and the group wants canaries, canaries are placed first and nothing
//!    else is replaced until they are promoted; promotion makes them count
//!    and the old allocations sharing their names are stopped (with
//!    `canary = count` that is blue/green). Destructive updates are then
//!    limited to `max_parallel` minus the deployment's allocations not yet
//!    healthy, and to none while any is unhealthy or the deployment is
//!    paused or failed.
//! 7. **Count.** Above `count`, the highest indexes stop first (older
//!    versions before newer); below it, new allocations take the lowest
//!    free indexes.
//!
//! Every allocation left alone is counted as `ignore` in the group's
//! [`DesiredUpdates`].

mod group;

use std::collections::BTreeMap;

use crate::model::timestamp::format_rfc3339_nanos;
use crate::model::{
    AllocClientStatus, Allocation, Deployment, DeploymentId, DeploymentState, DeploymentStatus,
    DeploymentStatusUpdate, Duration, EvalId, EvalStatus, EvalTrigger, Evaluation, Job, JobType,
    Namespace, TaskGroup,
};
use crate::scheduler::DesiredUpdates;
use crate::state::StateSnapshot;

/// Nomad's description for allocations stopped because the job stopped.
pub const STOP_JOB: &str = "alloc not needed as job is stopped";
/// ... because their group left the job or the count went down.
pub const STOP_UNNEEDED: &str = "alloc not needed due to job update";
/// ... because their node is down or gone.
pub const STOP_LOST: &str = "alloc is lost since its node is down";
/// ... because their node is draining.
pub const STOP_MIGRATE: &str = "alloc is being migrated";
/// ... because a new version replaces them.
pub const STOP_UPDATE: &str = "alloc is being updated due to job update";
/// ... because they were rescheduled.
pub const STOP_RESCHEDULED: &str = "alloc was rescheduled because it failed";
/// ... because they were canaries of a deployment that will not promote.
pub const STOP_CANARY: &str = "alloc was a canary of a deployment that did not promote";
/// ... because the original came back after its client reconnected.
pub const STOP_RECONNECTED: &str = "alloc not needed as the original reconnected";
/// ... because their client stayed disconnected past `lost_after`.
pub const STOP_EXPIRED: &str = "alloc is lost since its client stayed disconnected";

/// Nomad's description of a deployment replaced by a newer job version.
pub const DEPLOYMENT_CANCELLED_NEWER: &str = "Cancelled due to newer version of job";
/// Nomad's description of a deployment whose job stopped.
pub const DEPLOYMENT_CANCELLED_STOPPED: &str = "Cancelled because job is stopped";

/// What the reconciler reads.
pub struct ReconcileInput<'a> {
    /// Cluster state.
    pub snapshot: &'a dyn StateSnapshot,
    /// The job as stored; `None` when it was purged.
    pub job: Option<&'a Job>,
    /// Every allocation of the job, any status.
    pub allocs: Vec<&'a Allocation>,
    /// The job's latest deployment, if any.
    pub deployment: Option<&'a Deployment>,
    /// The evaluation being processed.
    pub eval: &'a Evaluation,
    /// Now, Unix nanoseconds.
    pub now: i64,
}

impl std::fmt::Debug for ReconcileInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconcileInput")
            .field("snapshot_index", &self.snapshot.index())
            .field("job", &self.job.map(|j| (&j.id, j.version)))
            .field("allocs", &self.allocs.len())
            .field("deployment", &self.deployment.map(|d| &d.id))
            .field("eval", &self.eval.id)
            .field("now", &self.now)
            .finish()
    }
}

/// An allocation to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct StopRequest<'a> {
    /// The allocation.
    pub alloc: &'a Allocation,
    /// Nomad's desired description.
    pub description: &'static str,
    /// A client status the servers set on the client's behalf (`lost`).
    pub client_status: Option<AllocClientStatus>,
}

/// Why a new allocation is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceReason {
    /// The group is below its count (new job, scale up, stopped or
    /// completed allocations).
    Missing,
    /// A canary of a new version.
    Canary,
    /// Replaces an allocation of an older version (create/destroy update).
    Destructive,
    /// Replaces an allocation leaving a draining node.
    Migrate,
    /// Replaces an allocation on a down, gone or disconnected node.
    Lost,
    /// Replaces a failed allocation; the replacement avoids its node.
    Reschedule,
}

/// A new allocation to place.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceRequest<'a> {
    /// Index of the task group in the job.
    pub group: usize,
    /// Allocation name, `job.group[i]`.
    pub name: String,
    /// Why.
    pub reason: PlaceReason,
    /// The allocation it replaces, if any.
    pub previous: Option<&'a Allocation>,
    /// For a reschedule: the delay the policy applied (recorded in the
    /// replacement's reschedule tracker).
    pub reschedule_delay: Option<Duration>,
    /// The deployment the allocation belongs to.
    pub deployment_id: Option<DeploymentId>,
}

impl PlaceRequest<'_> {
    /// Whether the allocation is a canary.
    pub fn is_canary(&self) -> bool {
        self.reason == PlaceReason::Canary
    }
}

/// What the reconciler decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reconciliation<'a> {
    /// Allocations to stop.
    pub stop: Vec<StopRequest<'a>>,
    /// Allocations to place, in group order, then by name index.
    pub place: Vec<PlaceRequest<'a>>,
    /// Allocations updated in place to the new job version (same id).
    pub inplace: Vec<&'a Allocation>,
    /// Existing allocations with changed server-side fields (follow-up
    /// evaluation id, client status `unknown`), ready to write.
    pub attribute_updates: Vec<Allocation>,
    /// Follow-up evaluations (rescheduling later, disconnect expiry, lost
    /// allocations waiting for `stop_on_client_after`).
    pub followup_evals: Vec<Evaluation>,
    /// The deployment to create or update.
    pub deployment: Option<Deployment>,
    /// Status changes of other deployments (cancelled ones).
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// Counts per task group, for plan annotations.
    pub desired: BTreeMap<String, DesiredUpdates>,
}

/// Reconciles a job. `new_id` supplies UUIDs for a new deployment and
/// follow-up evaluations (the scheduler's seeded stream).
pub fn reconcile<'a>(
    input: &ReconcileInput<'a>,
    new_id: &mut dyn FnMut() -> String,
) -> Reconciliation<'a> {
    let mut out = Reconciliation::default();
    let job = match input.job.filter(|job| !job.stop) {
        Some(job) => job,
        None => {
            stop_everything(input, &mut out);
            return out;
        }
    };

    // The latest deployment is current when it deploys this version.
    let current = input
        .deployment
        .filter(|d| d.job_version == job.version && d.job_create_index == job.create_index);
    if let Some(old) = input.deployment
        && current.is_none()
        && old.is_active()
    {
        out.deployment_updates.push(DeploymentStatusUpdate {
            deployment_id: old.id.clone(),
            status: DeploymentStatus::Cancelled,
            status_description: DEPLOYMENT_CANCELLED_NEWER.to_owned(),
        });
    }
    let mut deployment = current.cloned();
    let mut created_deployment = false;

    // Allocations of groups that left the job.
    for &alloc in &input.allocs {
        if !alloc.is_terminal() && job.lookup_task_group(&alloc.task_group).is_none() {
            out.stop.push(StopRequest {
                alloc,
                description: STOP_UNNEEDED,
                client_status: None,
            });
        }
    }

    let mut later: Vec<group::Later<'a>> = Vec::new();
    for (index, tg) in job.task_groups.iter().enumerate() {
        let strategy = deployment_strategy(job, tg);
        let group_allocs: Vec<&'a Allocation> = input
            .allocs
            .iter()
            .copied()
            .filter(|a| a.task_group == tg.name)
            .collect();
        let decision = group::reconcile_group(&group::GroupInput {
            input,
            job,
            group: tg,
            group_index: index,
            allocs: &group_allocs,
            deployment: deployment.as_ref(),
            strategy,
        });
        // A group that updates through a deployment needs one.
        if strategy.is_some() && decision.needs_deployment && deployment.is_none() {
            deployment = Some(new_deployment(job, input, new_id()));
            created_deployment = true;
        }
        if let (Some(d), Some(strategy)) = (deployment.as_mut(), strategy)
            && (decision.needs_deployment || d.task_groups.contains_key(&tg.name))
        {
            let state = d
                .task_groups
                .entry(tg.name.clone())
                .or_insert_with(|| DeploymentState {
                    auto_revert: strategy.auto_revert.unwrap_or(false),
                    auto_promote: strategy.auto_promote.unwrap_or(false),
                    progress_deadline: strategy.progress_deadline.unwrap_or_default(),
                    ..DeploymentState::default()
                });
            state.desired_total = group::count_of(tg);
            if decision.desired_canaries > state.desired_canaries && !state.promoted {
                state.desired_canaries = decision.desired_canaries;
            }
        }
        let deployment_id = deployment
            .as_ref()
            .filter(|d| d.task_groups.contains_key(&tg.name) && d.is_active())
            .map(|d| d.id.clone());
        for mut place in decision.place {
            place.deployment_id = deployment_id.clone();
            out.place.push(place);
        }
        out.stop.extend(decision.stop);
        out.inplace.extend(decision.inplace);
        out.attribute_updates.extend(decision.attribute_updates);
        later.extend(decision.later);
        out.desired.insert(tg.name.clone(), decision.desired);
    }

    if let Some(d) = deployment.as_mut()
        && d.requires_promotion()
        && d.status == DeploymentStatus::Running
    {
        {
            let auto = d
                .task_groups
                .values()
                .filter(|s| s.desired_canaries > 0 && !s.promoted)
                .all(|s| s.auto_promote);
            d.status_description = if auto {
                super::deployment_progress::DESCRIPTION_AUTO_PROMOTION
            } else {
                super::deployment_progress::DESCRIPTION_NEEDS_PROMOTION
            }
            .to_owned();
        }
    }
    // Only a new or changed deployment goes into the plan.
    out.deployment = deployment.filter(|d| created_deployment || Some(d) != current);
    followups(input, job, later, new_id, &mut out);
    out
}

/// The update strategy a group deploys with: service groups with
/// `max_parallel` > 0.
fn deployment_strategy<'j>(
    job: &'j Job,
    group: &'j TaskGroup,
) -> Option<&'j crate::model::UpdateStrategy> {
    if job.job_type != JobType::Service {
        return None;
    }
    group
        .update
        .as_ref()
        .or(job.update.as_ref())
        .filter(|u| u.max_parallel() > 0)
}

fn new_deployment(job: &Job, input: &ReconcileInput<'_>, id: String) -> Deployment {
    Deployment {
        id: DeploymentId::new(id),
        namespace: Namespace::new(job.namespace.clone()),
        job_id: job.id.clone(),
        job_version: job.version,
        job_modify_index: job.job_modify_index,
        job_spec_modify_index: job.job_modify_index,
        job_create_index: job.create_index,
        status: DeploymentStatus::Running,
        status_description: super::deployment_progress::DESCRIPTION_RUNNING.to_owned(),
        eval_priority: input.eval.priority,
        create_time: input.now,
        modify_time: input.now,
        ..Deployment::default()
    }
}

/// A stopped or purged job: stop every live allocation and cancel an
/// active deployment.
fn stop_everything<'a>(input: &ReconcileInput<'a>, out: &mut Reconciliation<'a>) {
    for alloc in input.allocs.iter().filter(|a| !a.is_terminal()) {
        out.stop.push(StopRequest {
            alloc,
            description: STOP_JOB,
            client_status: None,
        });
        out.desired
            .entry(alloc.task_group.clone())
            .or_default()
            .stop += 1;
    }
    if let Some(d) = input.deployment.filter(|d| d.is_active()) {
        out.deployment_updates.push(DeploymentStatusUpdate {
            deployment_id: d.id.clone(),
            status: DeploymentStatus::Cancelled,
            status_description: DEPLOYMENT_CANCELLED_STOPPED.to_owned(),
        });
    }
}

/// Creates the follow-up evaluations: rescheduling later in batches
/// ([`batch_followups`](super::reschedule::batch_followups)), one per
/// distinct time for disconnect expiry and delayed lost replacement.
fn followups<'a>(
    input: &ReconcileInput<'a>,
    job: &Job,
    later: Vec<group::Later<'a>>,
    new_id: &mut dyn FnMut() -> String,
    out: &mut Reconciliation<'a>,
) {
    let mut by_trigger: BTreeMap<(u8, i64), Vec<&'a Allocation>> = BTreeMap::new();
    let reschedules: Vec<(crate::model::AllocId, i64)> = later
        .iter()
        .filter(|l| l.trigger == group::LaterTrigger::Reschedule)
        .map(|l| (l.alloc.id.clone(), l.at))
        .collect();
    for batch in super::reschedule::batch_followups(&reschedules) {
        let allocs = batch
            .allocs
            .iter()
            .filter_map(|id| later.iter().find(|l| &l.alloc.id == id).map(|l| l.alloc))
            .collect();
        by_trigger.insert((0, batch.wait_until), allocs);
    }
    for l in later
        .iter()
        .filter(|l| l.trigger != group::LaterTrigger::Reschedule)
    {
        by_trigger
            .entry((l.trigger as u8, l.at))
            .or_default()
            .push(l.alloc);
    }
    for ((trigger, at), allocs) in by_trigger {
        let triggered_by = match trigger {
            0 => EvalTrigger::RetryFailedAlloc,
            1 => EvalTrigger::MaxDisconnectTimeout,
            _ => EvalTrigger::NodeUpdate,
        };
        let eval = Evaluation {
            id: EvalId::new(new_id()),
            namespace: input.eval.namespace.clone(),
            priority: input.eval.priority,
            eval_type: job.job_type.as_str().to_owned(),
            triggered_by,
            job_id: job.id.clone(),
            job_modify_index: job.job_modify_index,
            status: EvalStatus::Pending,
            status_description: "created for delayed rescheduling".to_owned(),
            wait_until: format_rfc3339_nanos(at),
            previous_eval: input.eval.id.clone(),
            create_time: input.now,
            modify_time: input.now,
            ..Evaluation::default()
        };
        for alloc in allocs {
            // Only the failed-allocation follow-ups are recorded on the
            // allocation (Nomad's FollowupEvalID), so the allocation waits
            // for exactly that evaluation.
            if trigger == 0 {
                let mut updated = alloc.clone();
                updated.job = None;
                updated.followup_eval_id = eval.id.clone();
                updated.modify_time = input.now;
                out.attribute_updates.push(updated);
            }
        }
        out.followup_evals.push(eval);
    }
}

#[cfg(test)]
mod tests;
