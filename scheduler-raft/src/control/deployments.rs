//! The deployment watcher: moves every active deployment along the core's
//! state machine ([`deployment_progress`]) and commits what it decides.
//!
//! Each round reads the leader's state and, for every active deployment:
//!
//! 1. rebuilds the health its allocations report
//!    ([`DeploymentWatch::from_allocs`]) and compares it with the health
//!    this watcher saw in its last round: every report that is new or
//!    changed is fed to [`step`] as a [`DeploymentEvent::AllocHealth`], so
//!    it counts as progress (deadlines move) and asks for an evaluation, as
//!    in the simulator. On the first look at a deployment (a new one, or
//!    every one after gaining leadership) every report is news: stepping is
//!    idempotent for deadlines (`max(require_progress_by, at + deadline)`),
//!    so the only cost is one evaluation per active deployment;
//! 2. steps at `now` and turns the actions into writes ([`plan_actions`],
//!    pure);
//! 3. commits those writes in one Raft entry ([`Command::Batch`]): the
//!    deployment, the job (marked stable, or rolled back) and the
//!    evaluation land together.
//!
//! It wakes on every change to the Deployments or Allocs tables, at the
//! earliest progress deadline, and at least every `deployment_poll`, and
//! then steps only the deployments that need it ([`needs_step`]): those
//! whose deployment, job or job's allocations moved since their last step,
//! or whose deadline is due.
//!
//! Operators' requests ([`promote`], [`fail`], [`pause`]) go through the same
//! path with their event.
//!
//! # Races
//! The plan applier also writes deployments (placements, canaries). No
//! command compares-and-sets a deployment, so the watcher re-reads the
//! stored deployment just before committing and skips the round when its
//! `ModifyIndex` moved (the change wakes it again at once). That narrows
//! the window to the Raft round trip; it does not close it. Job writes are
//! guarded by `-check-index` (`enforce_index`), so the watcher never
//! overwrites a job version registered meanwhile.
//!
//! [`deployment_progress`]: scheduler_core::reconcile::deployment_progress
//! [`step`]: scheduler_core::reconcile::deployment_progress::step

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use scheduler_core::model::{
    AllocId, Allocation, Deployment, DeploymentId, DeploymentStatus, EvalTrigger, Evaluation, Job,
};
use scheduler_core::reconcile::deployment_progress::{
    AllocHealth, DeploymentAction, DeploymentEvent, DeploymentWatch, step,
};
use scheduler_core::state::{MemorySnapshot, StateSnapshot, job_spec_changed};

use super::evals::new_evaluation;
use super::{ControlError, Leader};
use crate::cluster_state::Table;
use crate::command::{Applied, Command};

/// The health of each allocation of one deployment, as last seen.
pub(crate) type SeenHealth = BTreeMap<AllocId, AllocHealth>;

/// What the watcher already knows about a deployment's allocations: which
/// of the reports it reads now are news.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Baseline<'a> {
    /// Nothing: every report is news (first look).
    Nothing,
    /// The health seen in the last round; what differs is news.
    Seen(&'a SeenHealth),
    /// Everything stored is known: no report is news (operator requests).
    Current,
}

/// One write the watcher commits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Write {
    /// Store the deployment as it is now.
    Deployment(Box<Deployment>),
    /// Register this job version (only if the stored job's
    /// `JobModifyIndex` is still `enforce_index`), with an evaluation of
    /// it when `eval` names a trigger.
    Job {
        /// The job to register.
        job: Box<Job>,
        /// The `JobModifyIndex` the stored job must have.
        enforce_index: u64,
        /// The evaluation to create with it.
        eval: Option<EvalTrigger>,
    },
    /// Create an evaluation of the deployment's job.
    Eval {
        /// The job as stored.
        job: Box<Job>,
        /// Why.
        trigger: EvalTrigger,
    },
}

/// What the watcher decided for one deployment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    /// The writes, in order (the deployment first).
    pub(crate) writes: Vec<Write>,
    /// Why a promotion request was refused.
    pub(crate) rejected: Option<String>,
    /// The health read now: the next round's [`Baseline::Seen`].
    pub(crate) health: SeenHealth,
    /// When to step again, Unix nanoseconds.
    pub(crate) next_deadline: Option<i64>,
}

/// Nomad's description suffix for a rollback to `version`.
fn rollback_description(description: &str, version: u64) -> String {
    format!("{description} - rolling back to job version {version}")
}

/// Nomad's description suffix when no stable version exists.
fn no_rollback_description(description: &str) -> String {
    format!("{description} - no stable job version to auto revert to")
}

/// Nomad's description suffix when the stable version has the current
/// specification (rolling back would change nothing).
fn rollback_noop_description(description: &str, version: u64) -> String {
    format!(
        "{description} - not rolling back to stable job version {version} as current job has same specification"
    )
}

/// Steps `stored` at `now` with the news (per `baseline`) and `requests`,
/// and turns the actions into writes:
///
/// - the deployment, when anything but its `modify_time` changed (then
///   `modify_time` is `now`);
/// - `MarkSuccessful`: the stored job with `stable` set, if it is the
///   deployment's version and not stable yet (no evaluation);
/// - `Fail { rollback }`: the description, and with `rollback` the latest
///   stable version older than the deployment's, registered again as a new
///   version (`stable` false, JobRegister evaluation), with Nomad's
///   description suffixes. No rollback when the job is gone or already at
///   another version (a newer registration superseded the deployment), and
///   none when the stable version has the current specification (Nomad's
///   `handleRollbackValidity`);
/// - `CreateEval`: a DeploymentWatcher evaluation, unless a rollback
///   already creates one, or the job is gone;
/// - `PromotionRejected`: reported in [`Decision::rejected`].
pub(crate) fn plan_actions(
    snapshot: &MemorySnapshot,
    stored: &Deployment,
    baseline: Baseline<'_>,
    requests: &[DeploymentEvent],
    now: i64,
) -> Decision {
    let namespace = stored.namespace.as_str();
    let allocs: Vec<Allocation> = snapshot
        .allocs_by_job(namespace, &stored.job_id)
        .filter(|alloc| alloc.deployment_id == stored.id && alloc.deployment_status.is_some())
        .cloned()
        .collect();
    let current = DeploymentWatch::from_allocs(stored.clone(), &allocs);
    let (base, mut events) = news(&current, baseline);
    events.extend(requests.iter().cloned());
    let progress = step(&base, &events, now);

    let job = snapshot.job(namespace, &stored.job_id);
    let mut updated = progress.watch.deployment.clone();
    let mut job_writes = Vec::new();
    let mut rejected = None;
    let mut eval_wanted = false;
    let mut rolled_back = false;
    for action in &progress.actions {
        match action {
            DeploymentAction::MarkSuccessful => {
                if let Some(job) = job
                    && job.version == stored.job_version
                    && !job.stable
                {
                    let mut stable = job.clone();
                    stable.stable = true;
                    job_writes.push(Write::Job {
                        job: Box::new(stable),
                        enforce_index: job.job_modify_index,
                        eval: None,
                    });
                }
            }
            DeploymentAction::Fail {
                description,
                rollback,
            } => {
                updated.status = DeploymentStatus::Failed;
                updated.status_description = description.clone();
                if *rollback && let Some(job) = job {
                    match rollback_target(snapshot, stored, job) {
                        Rollback::To(target) => {
                            updated.status_description =
                                rollback_description(description, target.version);
                            let mut revert = target.clone();
                            revert.stable = false;
                            revert.version = job.version;
                            job_writes.push(Write::Job {
                                job: Box::new(revert),
                                enforce_index: job.job_modify_index,
                                eval: Some(EvalTrigger::JobRegister),
                            });
                            rolled_back = true;
                        }
                        Rollback::SameSpec(version) => {
                            updated.status_description =
                                rollback_noop_description(description, version);
                        }
                        Rollback::NoStableVersion => {
                            updated.status_description = no_rollback_description(description);
                        }
                        Rollback::Superseded => {}
                    }
                }
            }
            DeploymentAction::Promote { .. } => {
                // Recorded in the deployment itself (`promoted`).
            }
            DeploymentAction::PromotionRejected { reason } => {
                rejected = Some(reason.clone());
            }
            DeploymentAction::CreateEval { .. } => eval_wanted = true,
        }
    }

    let mut writes = Vec::new();
    updated.modify_time = stored.modify_time;
    if updated != *stored {
        updated.modify_time = now;
        writes.push(Write::Deployment(Box::new(updated)));
    }
    writes.extend(job_writes);
    if eval_wanted
        && !rolled_back
        && let Some(job) = job
    {
        writes.push(Write::Eval {
            job: Box::new(job.clone()),
            trigger: EvalTrigger::DeploymentWatcher,
        });
    }
    Decision {
        writes,
        rejected,
        health: current.allocs,
        next_deadline: progress.next_deadline,
    }
}

/// The watch to step from and the health reports that are news to it,
/// oldest first.
fn news(
    current: &DeploymentWatch,
    baseline: Baseline<'_>,
) -> (DeploymentWatch, Vec<DeploymentEvent>) {
    let seen = match baseline {
        Baseline::Current => return (current.clone(), Vec::new()),
        Baseline::Nothing => None,
        Baseline::Seen(seen) => Some(seen),
    };
    let mut reports: Vec<(&AllocId, &AllocHealth)> = current
        .allocs
        .iter()
        .filter(|(id, health)| seen.and_then(|seen| seen.get(*id)) != Some(*health))
        .collect();
    reports.sort_by(|a, b| (a.1.at, a.0).cmp(&(b.1.at, b.0)));
    let mut base = current.clone();
    for (id, _) in &reports {
        match seen.and_then(|seen| seen.get(*id)) {
            Some(previous) => base.allocs.insert((*id).clone(), previous.clone()),
            None => base.allocs.remove(*id),
        };
    }
    let events = reports
        .into_iter()
        .map(|(id, health)| DeploymentEvent::AllocHealth {
            alloc: id.clone(),
            group: health.group.clone(),
            healthy: health.healthy,
            canary: health.canary,
            at: health.at,
        })
        .collect();
    (base, events)
}

/// Where a failed deployment's job goes back to.
#[derive(Debug, Clone, PartialEq)]
enum Rollback<'a> {
    /// The latest stable version older than the deployment's.
    To(&'a Job),
    /// That version has the current specification.
    SameSpec(u64),
    /// No older version is stable.
    NoStableVersion,
    /// The job moved on to another version: leave it alone.
    Superseded,
}

fn rollback_target<'a>(
    snapshot: &'a MemorySnapshot,
    deployment: &Deployment,
    current: &Job,
) -> Rollback<'a> {
    if current.version != deployment.job_version {
        return Rollback::Superseded;
    }
    let target = snapshot
        .job_versions(deployment.namespace.as_str(), &deployment.job_id)
        .find(|job| job.stable && job.version < deployment.job_version);
    match target {
        None => Rollback::NoStableVersion,
        Some(target) if !job_spec_changed(current, target) => Rollback::SameSpec(target.version),
        Some(target) => Rollback::To(target),
    }
}

/// The command for a write of the watcher of `deployment`.
fn command(write: Write, deployment: &Deployment, now: i64) -> Command {
    let evaluation = |job: &Job, trigger: EvalTrigger| -> Evaluation {
        let mut eval = new_evaluation(job, trigger.clone(), now);
        if trigger == EvalTrigger::DeploymentWatcher {
            eval.deployment_id = deployment.id.clone();
        }
        if deployment.eval_priority > 0 {
            eval.priority = deployment.eval_priority;
        }
        eval
    };
    match write {
        Write::Deployment(deployment) => Command::UpsertDeployment { deployment },
        Write::Job {
            job,
            enforce_index,
            eval,
        } => {
            let eval = eval.map(|trigger| Box::new(evaluation(&job, trigger)));
            Command::RegisterJob {
                job,
                enforce_index: Some(enforce_index),
                eval,
            }
        }
        Write::Eval { job, trigger } => Command::UpsertEvals {
            evals: vec![evaluation(&job, trigger)],
        },
    }
}

/// Commits the writes for `stepped` in one entry. `Ok(false)` when the
/// deployment changed since it was read (nothing written: decide again).
async fn commit(
    leader: &Leader,
    stepped: &Deployment,
    writes: Vec<Write>,
) -> Result<bool, ControlError> {
    if writes.is_empty() {
        return Ok(true);
    }
    let still = leader
        .server
        .read_stale()
        .deployment(&stepped.id)
        .map(|d| d.modify_index);
    if still != Some(stepped.modify_index) {
        return Ok(false);
    }
    let now = leader.now();
    let commands: Vec<Command> = writes
        .into_iter()
        .map(|write| command(write, stepped, now))
        .collect();
    let response = leader.write(Command::Batch(commands)).await?;
    if let Ok(Applied::Batch(results)) = &response.result {
        for refusal in results.iter().filter_map(|r| r.as_ref().err()) {
            tracing::warn!(
                deployment = %stepped.id,
                %refusal,
                "deployment watcher: part of the update was refused"
            );
        }
    }
    Ok(true)
}

/// What a deployment's step depends on besides the clock: when none of
/// these moved, stepping it again before its deadline decides nothing new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marks {
    /// The deployment's `ModifyIndex`.
    pub(crate) deployment: u64,
    /// The last write to its job's allocations
    /// ([`MemorySnapshot::job_allocs_index`]).
    pub(crate) allocs: u64,
    /// The job's `ModifyIndex` (0 when it is gone).
    pub(crate) job: u64,
}

impl Marks {
    fn of(snapshot: &MemorySnapshot, deployment: &Deployment) -> Marks {
        let namespace = deployment.namespace.as_str();
        Marks {
            deployment: deployment.modify_index,
            allocs: snapshot.job_allocs_index(namespace, &deployment.job_id),
            job: snapshot
                .job(namespace, &deployment.job_id)
                .map_or(0, |job| job.modify_index),
        }
    }
}

/// What the watcher last stepped a deployment from and decided.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    /// The health read then: the next step's [`Baseline::Seen`].
    pub(crate) health: SeenHealth,
    /// The state it was stepped in.
    pub(crate) marks: Marks,
    /// When its step said to look again (Unix nanoseconds).
    pub(crate) next_deadline: Option<i64>,
}

/// Whether a deployment needs a step now: never stepped (or its last
/// commit did not land), something it depends on moved, or its deadline
/// is due. Stepping every active deployment on every allocation write
/// scanned each job's allocations per applied plan: quadratic over C1M.
pub(crate) fn needs_step(last: Option<&Watched>, marks: Marks, now: i64) -> bool {
    match last {
        None => true,
        Some(last) => last.marks != marks || last.next_deadline.is_some_and(|at| now >= at),
    }
}

/// The deployment watcher's loop (leader only; aborted on losing
/// leadership).
pub(crate) async fn run(leader: Arc<Leader>) {
    let mut watched: BTreeMap<DeploymentId, Watched> = BTreeMap::new();
    loop {
        let deployments_at = leader.server.table_index(Table::Deployments);
        let allocs_at = leader.server.table_index(Table::Allocs);
        let snapshot = leader.server.read_stale();
        let now = leader.now();
        let active: Vec<&Deployment> = snapshot.deployments().filter(|d| d.is_active()).collect();
        watched.retain(|id, _| active.iter().any(|d| &d.id == id));
        let mut next_deadline: Option<i64> = None;
        let mut wake_at = |at: Option<i64>| {
            if let Some(at) = at {
                next_deadline = Some(next_deadline.map_or(at, |t: i64| t.min(at)));
            }
        };
        for deployment in active {
            let marks = Marks::of(&snapshot, deployment);
            let last = watched.get(&deployment.id);
            if !needs_step(last, marks, now) {
                wake_at(last.and_then(|last| last.next_deadline));
                continue;
            }
            let baseline = last.map_or(Baseline::Nothing, |last| Baseline::Seen(&last.health));
            let decision = plan_actions(&snapshot, deployment, baseline, &[], now);
            wake_at(decision.next_deadline);
            match commit(&leader, deployment, decision.writes).await {
                Ok(true) => {
                    watched.insert(
                        deployment.id.clone(),
                        Watched {
                            health: decision.health,
                            marks,
                            next_deadline: decision.next_deadline,
                        },
                    );
                }
                Ok(false) => {}
                Err(err) => tracing::warn!(
                    deployment = %deployment.id,
                    error = %err,
                    "deployment watcher: could not commit the deployment's update"
                ),
            }
        }
        let mut wait = leader.config.deployment_poll.max(Duration::from_millis(10));
        if let Some(at) = next_deadline {
            let until = u64::try_from(at.saturating_sub(leader.now())).unwrap_or(0);
            wait = wait.min(Duration::from_nanos(until));
        }
        tokio::select! {
            _ = leader.server.wait_table(Table::Deployments, deployments_at, wait) => {}
            _ = leader.server.wait_table(Table::Allocs, allocs_at, wait) => {}
        }
    }
}

/// Attempts at an operator request when the deployment keeps changing
/// under it.
const REQUEST_ATTEMPTS: usize = 5;

/// Steps a deployment with an operator's event and commits the outcome.
async fn request(
    leader: &Leader,
    deployment_id: &DeploymentId,
    event: DeploymentEvent,
    verb: &str,
) -> Result<(), ControlError> {
    for _ in 0..REQUEST_ATTEMPTS {
        let snapshot = leader.server.read_consistent().await?;
        let stored = snapshot
            .deployment(deployment_id)
            .cloned()
            .ok_or_else(|| ControlError::NotFound(format!("deployment {deployment_id}")))?;
        if stored.status.is_terminal() {
            return Err(ControlError::Invalid(format!(
                "can't {verb} terminal deployment"
            )));
        }
        let now = leader.now();
        let mut decision = plan_actions(
            &snapshot,
            &stored,
            Baseline::Current,
            std::slice::from_ref(&event),
            now,
        );
        if let Some(reason) = decision.rejected {
            return Err(ControlError::Invalid(reason));
        }
        // Nomad evaluates the job when a deployment resumes, so the
        // reconciler continues the update.
        let resumed =
            event == DeploymentEvent::Pause(false) && stored.status == DeploymentStatus::Paused;
        if resumed
            && !decision
                .writes
                .iter()
                .any(|w| matches!(w, Write::Eval { .. } | Write::Job { eval: Some(_), .. }))
            && let Some(job) = snapshot.job(stored.namespace.as_str(), &stored.job_id)
        {
            decision.writes.push(Write::Eval {
                job: Box::new(job.clone()),
                trigger: EvalTrigger::DeploymentWatcher,
            });
        }
        if commit(leader, &stored, decision.writes).await? {
            return Ok(());
        }
    }
    Err(ControlError::Invalid(format!(
        "deployment {deployment_id} kept changing; try to {verb} it again"
    )))
}

/// `deployment promote`: promotes the canaries of `groups` (every group
/// awaiting promotion when `None`). Refused (`Invalid`, with the core's
/// reason) unless every chosen group has enough healthy canaries.
pub(crate) async fn promote(
    leader: &Leader,
    deployment_id: &DeploymentId,
    groups: Option<Vec<String>>,
) -> Result<(), ControlError> {
    request(
        leader,
        deployment_id,
        DeploymentEvent::Promote { groups },
        "promote",
    )
    .await
}

/// `deployment fail`: fails the deployment ("Deployment marked as failed"),
/// rolling back as an automatic failure would when a group has
/// `auto_revert`.
pub(crate) async fn fail(
    leader: &Leader,
    deployment_id: &DeploymentId,
) -> Result<(), ControlError> {
    request(leader, deployment_id, DeploymentEvent::Fail, "fail").await
}

/// `deployment pause` (`true`) and `deployment resume` (`false`). Pausing
/// only moves a running deployment, resuming only a paused one; a resume
/// creates an evaluation of the job.
pub(crate) async fn pause(
    leader: &Leader,
    deployment_id: &DeploymentId,
    pause: bool,
) -> Result<(), ControlError> {
    let verb = if pause { "pause" } else { "resume" };
    request(leader, deployment_id, DeploymentEvent::Pause(pause), verb).await
}

#[cfg(test)]
mod tests;
