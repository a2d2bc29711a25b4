//! Garbage collection: removes old evaluations, allocations, deployments
//! and finished jobs, every `gc_interval` and on request
//! (`PUT /v1/system/gc`, [`collect_now`] with `force`).
//!
//! What goes is decided by [`select`] (pure) from a snapshot and `now`,
//! and removed in one [`Command::GarbageCollect`] entry per run (none when
//! there is nothing to collect). The rules are Nomad's `CoreScheduler`
//! ones, with times (Unix nanoseconds) where Nomad compares Raft indexes
//! against its index-to-time table:
//!
//! - **Allocation** (Nomad's `allocGCEligible`): terminal (desired `stop` or
//!   `evict`, or client `complete`, `failed` or `lost`) and not `running` on
//!   its client; its last event (`modify_time`, or the latest task
//!   `finished_at`: clients report without touching `modify_time`) older
//!   than the threshold; and, while its job lives (exists, not stopped, not
//!   dead), a `failed` allocation that was not replaced and may still be
//!   rescheduled (its group's reschedule policy is unlimited, or its last
//!   reschedule lies within the policy's interval) stays.
//! - **Batch jobs' allocations** (`batch`, `sysbatch`) stay while the job
//!   lives unless stopped and dead: the scheduler would otherwise place
//!   them again. Only those of older job versions (created before the
//!   current `JobModifyIndex`) go; their evaluations stay.
//! - **Evaluation** (`gcEval`): terminal, `modify_time` older than
//!   `eval_gc_threshold`; its allocations that qualify go with it, and the
//!   evaluation itself only when all of them do. Allocations whose
//!   evaluation is gone are judged alone (same threshold).
//! - **Job** (`jobIsGCable` and `jobGC`): stopped, or a batch or sysbatch
//!   job, that is dead (no non-terminal allocation or evaluation); a
//!   periodic or parameterized parent only when stopped. Its age is its
//!   last activity: the latest of `submit_time`, its evaluations'
//!   `modify_time` and its allocations' last events (a stop writes an
//!   evaluation, so stopping restarts the clock as Nomad's `ModifyIndex`
//!   does); a job with none of these is never collected unless forced. It
//!   goes, purged, when that is older than `job_gc_threshold` and every one
//!   of its allocations qualifies, with all its evaluations and
//!   allocations.
//! - **Deployment** (`deploymentGC`): terminal, `modify_time` older than
//!   `deployment_gc_threshold`, no non-terminal allocation in it, and not
//!   the latest deployment of a job that stays (the reconciler reads it).
//!
//! `force` ignores the age thresholds only, as Nomad's forced GC does: a
//! live object or a batch job's allocations are never forced out.
//!
//! An object with an unset time (0) is never old enough (except forced).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use scheduler_core::model::{
    AllocClientStatus, AllocId, Allocation, DeploymentId, EvalId, Evaluation, Job, JobId,
};
use scheduler_core::reconcile::reschedule::{effective_policy, failed_at};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::{ControlConfig, ControlError, Leader};
use crate::command::Command;

/// What a garbage collection removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GcReport {
    /// Evaluations removed.
    pub evals: usize,
    /// Allocations removed.
    pub allocs: usize,
    /// Deployments removed.
    pub deployments: usize,
    /// Jobs purged.
    pub jobs: usize,
}

/// How old objects must be to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Thresholds {
    /// Terminal evaluations and their allocations.
    pub(crate) eval: Duration,
    /// Stopped and dead jobs.
    pub(crate) job: Duration,
    /// Terminal deployments.
    pub(crate) deployment: Duration,
}

impl Thresholds {
    /// The configured thresholds.
    pub(crate) fn of(config: &ControlConfig) -> Self {
        Self {
            eval: config.eval_gc_threshold,
            job: config.job_gc_threshold,
            deployment: config.deployment_gc_threshold,
        }
    }
}

/// What to remove, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Collection {
    /// Evaluations.
    pub(crate) evals: Vec<EvalId>,
    /// Allocations.
    pub(crate) allocs: Vec<AllocId>,
    /// Deployments.
    pub(crate) deployments: Vec<DeploymentId>,
    /// Jobs to purge, as (namespace, id).
    pub(crate) jobs: Vec<(String, JobId)>,
}

impl Collection {
    /// Whether there is nothing to remove.
    pub(crate) fn is_empty(&self) -> bool {
        self.evals.is_empty()
            && self.allocs.is_empty()
            && self.deployments.is_empty()
            && self.jobs.is_empty()
    }

    /// The counts.
    pub(crate) fn report(&self) -> GcReport {
        GcReport {
            evals: self.evals.len(),
            allocs: self.allocs.len(),
            deployments: self.deployments.len(),
            jobs: self.jobs.len(),
        }
    }

    /// The Raft command that removes it all.
    pub(crate) fn into_command(self) -> Command {
        Command::GarbageCollect {
            evals: self.evals,
            allocs: self.allocs,
            deployments: self.deployments,
            jobs: self.jobs,
        }
    }
}

/// A job's key: namespace and id.
type JobKey = (String, JobId);

fn key_of_alloc(alloc: &Allocation) -> JobKey {
    (alloc.namespace.as_str().to_owned(), alloc.job_id.clone())
}

fn key_of_eval(eval: &Evaluation) -> JobKey {
    (eval.namespace.as_str().to_owned(), eval.job_id.clone())
}

/// When an allocation last changed, as far as the servers can tell.
fn last_event(alloc: &Allocation) -> i64 {
    alloc.modify_time.max(failed_at(alloc))
}

/// What [`select`] knows about the state, computed once.
struct Facts<'s> {
    now: i64,
    force: bool,
    /// Jobs with a non-terminal allocation.
    live_alloc_jobs: BTreeSet<JobKey>,
    /// Jobs with a non-terminal evaluation.
    live_eval_jobs: BTreeSet<JobKey>,
    /// Deployments with a non-terminal allocation.
    live_deployments: BTreeSet<DeploymentId>,
    evals_by_job: BTreeMap<JobKey, Vec<&'s Evaluation>>,
    allocs_by_eval: BTreeMap<EvalId, Vec<&'s Allocation>>,
}

impl<'s> Facts<'s> {
    fn new(snapshot: &'s MemorySnapshot, now: i64, force: bool) -> Self {
        let mut facts = Facts {
            now,
            force,
            live_alloc_jobs: BTreeSet::new(),
            live_eval_jobs: BTreeSet::new(),
            live_deployments: BTreeSet::new(),
            evals_by_job: BTreeMap::new(),
            allocs_by_eval: BTreeMap::new(),
        };
        for alloc in snapshot.allocs() {
            if !alloc.is_terminal() {
                facts.live_alloc_jobs.insert(key_of_alloc(alloc));
                if !alloc.deployment_id.is_empty() {
                    facts.live_deployments.insert(alloc.deployment_id.clone());
                }
            }
            facts
                .allocs_by_eval
                .entry(alloc.eval_id.clone())
                .or_default()
                .push(alloc);
        }
        for eval in snapshot.evals() {
            if !eval.is_terminal() {
                facts.live_eval_jobs.insert(key_of_eval(eval));
            }
            facts
                .evals_by_job
                .entry(key_of_eval(eval))
                .or_default()
                .push(eval);
        }
        facts
    }

    /// Whether `at` is older than `threshold` (always, when forced; never,
    /// for an unset time, unless forced).
    fn old(&self, at: i64, threshold: Duration) -> bool {
        let threshold = i64::try_from(threshold.as_nanos()).unwrap_or(i64::MAX);
        self.force || (at > 0 && self.now.saturating_sub(at) >= threshold)
    }

    /// Whether a job has neither a non-terminal allocation nor evaluation.
    fn dead(&self, key: &JobKey) -> bool {
        !self.live_alloc_jobs.contains(key) && !self.live_eval_jobs.contains(key)
    }

    /// Whether the job's terminal allocations must stay: a batch job that
    /// lives on (not both stopped and dead).
    fn batch_protected(&self, job: Option<&Job>) -> bool {
        job.is_some_and(|job| {
            job.job_type.is_batch_like()
                && !(job.stop && self.dead(&(job.namespace.clone(), job.id.clone())))
        })
    }

    /// Nomad's `allocGCEligible`, plus the batch rule (see the module docs)
    /// unless `purging` (the job itself goes: Nomad's `allowBatch`).
    fn alloc_collectable(
        &self,
        alloc: &Allocation,
        job: Option<&Job>,
        threshold: Duration,
        purging: bool,
    ) -> bool {
        if !alloc.is_terminal() || alloc.client_status == AllocClientStatus::Running {
            return false;
        }
        if !self.old(last_event(alloc), threshold) {
            return false;
        }
        let Some(job) = job else {
            return true;
        };
        if !purging && self.batch_protected(Some(job)) && alloc.create_index >= job.job_modify_index
        {
            return false;
        }
        if job.stop || self.dead(&(job.namespace.clone(), job.id.clone())) {
            return true;
        }
        if alloc.desired_status.is_terminal() || alloc.client_status != AllocClientStatus::Failed {
            return true;
        }
        // A failed allocation of a live job: it stays while it may still be
        // rescheduled.
        let Some(policy) = job
            .lookup_task_group(&alloc.task_group)
            .and_then(effective_policy)
        else {
            return true;
        };
        let unlimited = policy.unlimited.unwrap_or(false);
        if !unlimited && policy.attempts.unwrap_or(0) == 0 {
            return true;
        }
        if !alloc.next_allocation.is_empty() {
            return true;
        }
        if unlimited {
            return false;
        }
        let Some(last) = alloc.reschedule_tracker.events.last() else {
            return false;
        };
        let interval = policy.interval.map_or(0, |i| i.as_nanos());
        self.now.saturating_sub(last.reschedule_time) > interval
    }

    /// Whether a job may be purged, by kind and state (not age).
    fn job_collectable_kind(&self, job: &Job) -> bool {
        let template = job.periodic.as_ref().is_some_and(|p| p.enabled()) || job.is_parameterized();
        let kind = if template {
            job.stop
        } else {
            job.stop || job.job_type.is_batch_like()
        };
        kind && self.dead(&(job.namespace.clone(), job.id.clone()))
    }
}

/// What a garbage collection at `now` (Unix nanoseconds) removes; `force`
/// ignores the age thresholds. The rules are in the module docs.
pub(crate) fn select(
    snapshot: &MemorySnapshot,
    now: i64,
    thresholds: &Thresholds,
    force: bool,
) -> Collection {
    let facts = Facts::new(snapshot, now, force);
    let mut evals: BTreeSet<EvalId> = BTreeSet::new();
    let mut allocs: BTreeSet<AllocId> = BTreeSet::new();
    let mut jobs: BTreeSet<JobKey> = BTreeSet::new();

    // Jobs, with everything of theirs.
    for job in snapshot.jobs() {
        if !facts.job_collectable_kind(job) {
            continue;
        }
        let key = (job.namespace.clone(), job.id.clone());
        let job_evals = facts.evals_by_job.get(&key).map_or(&[][..], Vec::as_slice);
        let job_allocs: Vec<&Allocation> = snapshot.allocs_by_job(&key.0, &key.1).collect();
        let last_activity = job_evals
            .iter()
            .map(|eval| eval.modify_time)
            .chain(job_allocs.iter().map(|alloc| last_event(alloc)))
            .fold(job.submit_time, i64::max);
        if !facts.old(last_activity, thresholds.job)
            || !job_allocs
                .iter()
                .all(|alloc| facts.alloc_collectable(alloc, Some(job), thresholds.job, true))
        {
            continue;
        }
        evals.extend(job_evals.iter().map(|eval| eval.id.clone()));
        allocs.extend(job_allocs.iter().map(|alloc| alloc.id.clone()));
        jobs.insert(key);
    }

    // Evaluations of the jobs that stay (and of purged jobs), with their
    // allocations.
    for eval in snapshot.evals() {
        if evals.contains(&eval.id)
            || !eval.is_terminal()
            || !facts.old(eval.modify_time, thresholds.eval)
        {
            continue;
        }
        let job = snapshot.job(eval.namespace.as_str(), &eval.job_id);
        let mut all = !facts.batch_protected(job);
        for alloc in facts.allocs_by_eval.get(&eval.id).into_iter().flatten() {
            if facts.alloc_collectable(alloc, job, thresholds.eval, false) {
                allocs.insert(alloc.id.clone());
            } else {
                all = false;
            }
        }
        if all {
            evals.insert(eval.id.clone());
        }
    }

    // Allocations whose evaluation is gone.
    for (eval_id, orphans) in &facts.allocs_by_eval {
        if !eval_id.is_empty() && snapshot.evaluation(eval_id).is_some() {
            continue;
        }
        for alloc in orphans {
            let job = snapshot.job(alloc.namespace.as_str(), &alloc.job_id);
            if facts.alloc_collectable(alloc, job, thresholds.eval, false) {
                allocs.insert(alloc.id.clone());
            }
        }
    }

    // Deployments.
    let mut deployments = BTreeSet::new();
    for deployment in snapshot.deployments() {
        if !deployment.status.is_terminal()
            || !facts.old(deployment.modify_time, thresholds.deployment)
            || facts.live_deployments.contains(&deployment.id)
        {
            continue;
        }
        let key = (
            deployment.namespace.as_str().to_owned(),
            deployment.job_id.clone(),
        );
        let job_stays = snapshot.job(&key.0, &key.1).is_some() && !jobs.contains(&key);
        let latest = snapshot
            .latest_deployment(&key.0, &key.1)
            .is_some_and(|latest| latest.id == deployment.id);
        if job_stays && latest {
            continue;
        }
        deployments.insert(deployment.id.clone());
    }

    Collection {
        evals: evals.into_iter().collect(),
        allocs: allocs.into_iter().collect(),
        deployments: deployments.into_iter().collect(),
        jobs: jobs.into_iter().collect(),
    }
}

/// Runs one garbage collection now (`PUT /v1/system/gc` with `force`):
/// selects from the leader's consistent state and commits one
/// `GarbageCollect` entry. Returns what was removed.
pub(crate) async fn collect_now(leader: &Leader, force: bool) -> Result<GcReport, ControlError> {
    let snapshot = leader.server.read_consistent().await?;
    let collection = select(
        &snapshot,
        leader.now(),
        &Thresholds::of(&leader.config),
        force,
    );
    if collection.is_empty() {
        return Ok(GcReport::default());
    }
    let report = collection.report();
    leader.write(collection.into_command()).await?;
    Ok(report)
}

/// The garbage collector's loop (leader only; aborted on losing
/// leadership): one collection every `gc_interval`, the first one an
/// interval after gaining leadership.
pub(crate) async fn run(leader: Arc<Leader>) {
    let period = leader.config.gc_interval.max(Duration::from_millis(10));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match collect_now(&leader, false).await {
            Ok(report) if report != GcReport::default() => {
                tracing::info!(
                    evals = report.evals,
                    allocs = report.allocs,
                    deployments = report.deployments,
                    jobs = report.jobs,
                    "garbage collected"
                );
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "garbage collection failed"),
        }
    }
}

#[cfg(test)]
mod tests;
