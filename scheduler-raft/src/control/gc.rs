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

use serde::Serialize;

use scheduler_core::model::{
    AllocClientStatus, AllocId, Allocation, DeploymentId, EvalId, Evaluation, Job, JobId,
};
use scheduler_core::reconcile::reschedule::{effective_policy, failed_at};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::{ControlConfig, ControlError, Leader};
use crate::command::Command;

/// What a garbage collection removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
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
mod tests {
    use std::time::Duration;

    use scheduler_core::model::{
        AllocClientStatus, AllocDesiredStatus, AllocId, Allocation, Deployment, DeploymentId,
        DeploymentStatus, EvalId, EvalStatus, Evaluation, Job, JobId, JobType, Namespace,
        PeriodicConfig, RescheduleEvent, ReschedulePolicy, RescheduleTracker, TaskGroup,
    };
    use scheduler_core::state::MemoryState;

    use super::{Collection, GcReport, Thresholds, select};

    const HOUR: i64 = 3_600_000_000_000;
    /// Long after everything below was written.
    const T0: i64 = 1_700_000_000_000_000_000;

    fn thresholds() -> Thresholds {
        Thresholds {
            eval: Duration::from_secs(3600),
            job: Duration::from_secs(4 * 3600),
            deployment: Duration::from_secs(3600),
        }
    }

    fn job(id: &str, job_type: JobType) -> Job {
        Job {
            id: JobId::new(id),
            name: id.to_owned(),
            namespace: "default".to_owned(),
            job_type,
            submit_time: T0,
            ..Job::default()
        }
    }

    fn eval(id: &str, job: &str, status: EvalStatus, at: i64) -> Evaluation {
        Evaluation {
            id: EvalId::new(id),
            namespace: Namespace::new("default"),
            job_id: JobId::new(job),
            status,
            create_time: at,
            modify_time: at,
            ..Evaluation::default()
        }
    }

    fn alloc(id: &str, job: &str, eval: &str, client: AllocClientStatus, at: i64) -> Allocation {
        Allocation {
            id: AllocId::new(id),
            namespace: Namespace::new("default"),
            job_id: JobId::new(job),
            eval_id: EvalId::new(eval),
            task_group: "g".to_owned(),
            client_status: client,
            modify_time: at,
            ..Allocation::default()
        }
    }

    #[derive(Default)]
    struct World {
        state: MemoryState,
        index: u64,
    }

    impl World {
        fn next(&mut self) -> u64 {
            self.index += 1;
            self.index
        }
        fn job(&mut self, job: Job) -> &mut Self {
            let index = self.next();
            self.state.upsert_job(index, job).expect("stored");
            self
        }
        fn eval(&mut self, eval: Evaluation) -> &mut Self {
            let index = self.next();
            self.state.upsert_eval(index, eval).expect("stored");
            self
        }
        fn alloc(&mut self, alloc: Allocation) -> &mut Self {
            let index = self.next();
            self.state
                .upsert_allocs(index, vec![alloc])
                .expect("stored");
            self
        }
        fn deployment(
            &mut self,
            id: &str,
            job: &str,
            status: DeploymentStatus,
            at: i64,
        ) -> &mut Self {
            let index = self.next();
            let deployment = Deployment {
                id: DeploymentId::new(id),
                namespace: Namespace::new("default"),
                job_id: JobId::new(job),
                status,
                create_time: at,
                modify_time: at,
                ..Deployment::default()
            };
            self.state
                .upsert_deployment(index, deployment)
                .expect("stored");
            self
        }
        fn select(&self, now: i64, force: bool) -> Vec<String> {
            render(&select(&self.state.snapshot(), now, &thresholds(), force))
        }
    }

    /// One line per kind: what a reviewer reads.
    fn render(collection: &Collection) -> Vec<String> {
        let list = |items: Vec<String>| items.join(" ");
        vec![
            format!(
                "jobs: {}",
                list(
                    collection
                        .jobs
                        .iter()
                        .map(|(_, id)| id.to_string())
                        .collect()
                )
            ),
            format!(
                "evals: {}",
                list(collection.evals.iter().map(ToString::to_string).collect())
            ),
            format!(
                "allocs: {}",
                list(collection.allocs.iter().map(ToString::to_string).collect())
            ),
            format!(
                "deployments: {}",
                list(
                    collection
                        .deployments
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                )
            ),
        ]
    }

    fn expect(jobs: &str, evals: &str, allocs: &str, deployments: &str) -> Vec<String> {
        vec![
            format!("jobs: {jobs}"),
            format!("evals: {evals}"),
            format!("allocs: {allocs}"),
            format!("deployments: {deployments}"),
        ]
    }

    #[test]
    fn an_old_terminal_evaluation_goes_with_its_terminal_allocations() {
        let mut world = World::default();
        world
            .job(job("web", JobType::Service))
            .eval(eval("e1", "web", EvalStatus::Complete, T0))
            .alloc(alloc("a1", "web", "e1", AllocClientStatus::Complete, T0))
            .alloc(alloc("a2", "web", "e1", AllocClientStatus::Failed, T0))
            .eval(eval("e2", "web", EvalStatus::Complete, T0))
            .alloc(alloc("a3", "web", "e2", AllocClientStatus::Running, T0))
            .alloc(alloc("a4", "web", "e2", AllocClientStatus::Lost, T0));
        // Too young.
        assert_eq!(world.select(T0 + HOUR / 2, false), expect("", "", "", ""));
        // e2 keeps a running allocation: it stays, its lost one goes. The
        // failed allocation goes too: the job has no reschedule policy.
        assert_eq!(
            world.select(T0 + HOUR, false),
            expect("", "e1", "a1 a2 a4", "")
        );
        // Forcing ignores age, not liveness.
        assert_eq!(
            world.select(T0 + HOUR / 2, true),
            expect("", "e1", "a1 a2 a4", "")
        );
    }

    #[test]
    fn a_pending_evaluation_and_a_stopping_allocation_stay() {
        let mut world = World::default();
        let mut stopping = alloc("a1", "web", "e1", AllocClientStatus::Running, T0);
        stopping.desired_status = AllocDesiredStatus::Stop;
        world
            .job(job("web", JobType::Service))
            .eval(eval("e1", "web", EvalStatus::Complete, T0))
            .alloc(stopping)
            .eval(eval("e2", "web", EvalStatus::Pending, T0));
        assert_eq!(world.select(T0 + 10 * HOUR, true), expect("", "", "", ""));
    }

    #[test]
    fn a_failed_allocation_that_may_be_rescheduled_stays() {
        let mut service = job("web", JobType::Service);
        service.task_groups = vec![TaskGroup {
            name: "g".to_owned(),
            reschedule_policy: Some(ReschedulePolicy {
                attempts: Some(2),
                interval: Some(scheduler_core::model::Duration::from_hours(2)),
                unlimited: Some(false),
                ..ReschedulePolicy::default()
            }),
            ..TaskGroup::default()
        }];
        let mut recent = alloc("a1", "web", "e1", AllocClientStatus::Failed, T0);
        recent.reschedule_tracker = RescheduleTracker {
            events: vec![RescheduleEvent {
                reschedule_time: T0,
                ..RescheduleEvent::default()
            }],
        };
        let mut replaced = alloc("a2", "web", "e1", AllocClientStatus::Failed, T0);
        replaced.next_allocation = AllocId::new("a3");
        let mut world = World::default();
        world
            .job(service)
            .eval(eval("e1", "web", EvalStatus::Complete, T0))
            .alloc(recent)
            .alloc(replaced)
            // The job lives (a dead job's allocations all go, as in Nomad).
            .eval(eval("e0", "web", EvalStatus::Complete, T0 + 10 * HOUR))
            .alloc(alloc("a0", "web", "e0", AllocClientStatus::Running, T0));
        // Within the policy's interval: a1 may still be rescheduled.
        assert_eq!(world.select(T0 + HOUR, false), expect("", "", "a2", ""));
        // After it: a1 goes, and the evaluation with it.
        assert_eq!(
            world.select(T0 + 3 * HOUR, false),
            expect("", "e1", "a1 a2", "")
        );
    }

    #[test]
    fn a_live_batch_job_keeps_its_allocations_but_not_older_versions() {
        let mut world = World::default();
        world
            .job(job("nightly", JobType::Batch))
            .eval(eval("e1", "nightly", EvalStatus::Complete, T0))
            .alloc(alloc(
                "a1",
                "nightly",
                "e1",
                AllocClientStatus::Complete,
                T0,
            ))
            .eval(eval("e2", "nightly", EvalStatus::Pending, T0));
        assert_eq!(world.select(T0 + 10 * HOUR, true), expect("", "", "", ""));

        // A new version: the allocation of the older one may go, not its
        // evaluation (the job lives).
        let mut v1 = job("nightly", JobType::Batch);
        v1.meta.insert("v".to_owned(), "1".to_owned());
        world.job(v1);
        assert_eq!(
            world.select(T0 + 10 * HOUR, false),
            expect("", "", "a1", "")
        );
    }

    #[test]
    fn a_dead_batch_job_is_purged_with_everything_once_old() {
        let mut world = World::default();
        world
            .job(job("nightly", JobType::Batch))
            .eval(eval("e1", "nightly", EvalStatus::Complete, T0 + HOUR))
            .alloc(alloc(
                "a1",
                "nightly",
                "e1",
                AllocClientStatus::Complete,
                T0 + HOUR,
            ))
            .deployment("d1", "nightly", DeploymentStatus::Successful, T0 + HOUR);
        // The allocation finished an hour after submission: the job's age
        // counts from then.
        assert_eq!(world.select(T0 + 4 * HOUR, false), expect("", "", "", ""));
        assert_eq!(
            world.select(T0 + 5 * HOUR, false),
            expect("nightly", "e1", "a1", "d1")
        );
    }

    #[test]
    fn a_stopped_service_job_is_purged_a_running_one_is_not() {
        let mut stopped = job("old", JobType::Service);
        stopped.stop = true;
        let mut world = World::default();
        world
            .job(stopped)
            .eval(eval("e1", "old", EvalStatus::Complete, T0))
            .alloc(alloc("a1", "old", "e1", AllocClientStatus::Complete, T0))
            .job(job("live", JobType::Service))
            .eval(eval("e2", "live", EvalStatus::Complete, T0))
            .alloc(alloc("a2", "live", "e2", AllocClientStatus::Running, T0));
        assert_eq!(
            world.select(T0 + 5 * HOUR, false),
            expect("old", "e1", "a1", "")
        );
        // A young stopped job goes only when forced.
        assert_eq!(world.select(T0 + HOUR, false), expect("", "e1", "a1", ""));
        assert_eq!(world.select(T0, true), expect("old", "e1", "a1", ""));
    }

    #[test]
    fn a_periodic_parent_goes_only_when_stopped() {
        let mut parent = job("cron", JobType::Batch);
        parent.periodic = Some(PeriodicConfig {
            spec: "* * * * *".to_owned(),
            ..PeriodicConfig::default()
        });
        let mut world = World::default();
        world.job(parent.clone());
        assert_eq!(world.select(T0 + 10 * HOUR, true), expect("", "", "", ""));
        parent.stop = true;
        world.job(parent);
        assert_eq!(
            world.select(T0 + 10 * HOUR, false),
            expect("cron", "", "", "")
        );
    }

    #[test]
    fn a_job_without_any_time_is_only_forced_out() {
        let mut stopped = job("old", JobType::Service);
        stopped.stop = true;
        stopped.submit_time = 0;
        let mut world = World::default();
        world.job(stopped);
        assert_eq!(world.select(T0, false), expect("", "", "", ""));
        assert_eq!(world.select(T0, true), expect("old", "", "", ""));
    }

    #[test]
    fn the_latest_deployment_of_a_live_job_stays() {
        let mut world = World::default();
        world
            .job(job("web", JobType::Service))
            .deployment("d1", "web", DeploymentStatus::Failed, T0)
            .deployment("d2", "web", DeploymentStatus::Successful, T0)
            .deployment("d3", "gone", DeploymentStatus::Cancelled, T0)
            .deployment("d4", "gone", DeploymentStatus::Running, T0);
        assert_eq!(world.select(T0 + HOUR / 2, false), expect("", "", "", ""));
        assert_eq!(world.select(T0 + HOUR, false), expect("", "", "", "d1 d3"));

        // A deployment an allocation still runs in stays.
        let mut in_d1 = alloc("a1", "web", "", AllocClientStatus::Running, T0);
        in_d1.deployment_id = DeploymentId::new("d1");
        world.alloc(in_d1);
        assert_eq!(world.select(T0 + HOUR, false), expect("", "", "", "d3"));
    }

    #[test]
    fn an_orphan_allocation_is_judged_alone() {
        let mut world = World::default();
        world
            .job(job("web", JobType::Service))
            .alloc(alloc(
                "a1",
                "web",
                "collected",
                AllocClientStatus::Complete,
                T0,
            ))
            .alloc(alloc("a2", "web", "", AllocClientStatus::Running, T0));
        assert_eq!(world.select(T0 + HOUR, false), expect("", "", "a1", ""));
    }

    #[test]
    fn the_report_counts_and_the_command_carries_the_lists() {
        let collection = Collection {
            evals: vec![EvalId::new("e1")],
            allocs: vec![AllocId::new("a1"), AllocId::new("a2")],
            deployments: vec![],
            jobs: vec![("default".to_owned(), JobId::new("web"))],
        };
        assert_eq!(
            collection.report(),
            GcReport {
                evals: 1,
                allocs: 2,
                deployments: 0,
                jobs: 1
            }
        );
        assert_eq!(
            serde_json::to_string(&collection.report()).expect("serialises"),
            r#"{"evals":1,"allocs":2,"deployments":0,"jobs":1}"#
        );
        assert!(!collection.is_empty());
        assert!(Collection::default().is_empty());
        let crate::command::Command::GarbageCollect { allocs, jobs, .. } =
            collection.into_command()
        else {
            panic!("a GarbageCollect command");
        };
        assert_eq!((allocs.len(), jobs.len()), (2, 1));
    }
}
