//! The periodic launcher: registers a child job of every periodic job at
//! each launch of its cron schedule, and the two operator requests that
//! make children on demand (`job periodic force`, `job dispatch`).
//!
//! The schedule lives in the core's sans-IO [`PeriodicLauncher`]; this loop
//! keeps it in line with the Jobs table ([`sync`]: a job is added again only
//! when its `JobModifyIndex` moves, so an unrelated write never pushes a
//! launch that is about to fall due past `now`), sleeps until
//! [`PeriodicLauncher::next_wakeup`] (at most [`MAX_SLEEP`], and less when
//! the Jobs table changes), and registers [`periodic_child`] for each launch
//! with a `periodic-job` evaluation, in one Raft entry per launch.
//!
//! On gaining leadership it catches up, as Nomad's dispatcher does on
//! restore: a job whose launch fell due after its last launch (its newest
//! child, or its submission when it never launched) and before now is
//! launched once, at that launch time ([`missed_launch`]). Launches are
//! written with `-check-index 0` (the child must not exist), so a launch a
//! previous leader already made is not made twice.
//!
//! A child "runs" (for `prohibit_overlap` and for dispatch idempotency) while
//! it has a non-terminal evaluation or allocation, as Nomad's
//! `RunningChildren` decides; the servers do not keep a job `status`, so it
//! is derived here ([`child_running`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use scheduler_core::model::{EvalId, EvalTrigger, Evaluation, Job, JobId, Namespace};
use scheduler_core::periodic::{
    PeriodicError, PeriodicLauncher, dispatch_job, find_idempotent_dispatch, next_launch,
    periodic_child,
};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::evals::new_evaluation;
use super::{ControlError, Leader};
use crate::cluster_state::Table;
use crate::command::{Applied, Command, Refusal};

/// The longest the launcher sleeps without reading the clock again (the
/// wall clock may jump; a schedule's next launch may be far away).
pub(crate) const MAX_SLEEP: Duration = Duration::from_secs(5);

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A job's key: namespace and id.
type JobKey = (String, JobId);

/// Brings `launcher` in line with the stored jobs, at `now`: a job seen
/// for the first time, or whose `JobModifyIndex` moved, is (re)added
/// ([`PeriodicLauncher::add`] drops it when it is no longer trackable); a
/// job that disappeared is removed. `known` is the `JobModifyIndex` each
/// job had when last passed in. Returns the jobs whose `periodic` block is
/// invalid (they are not tracked).
pub(crate) fn sync(
    launcher: &mut PeriodicLauncher,
    known: &mut BTreeMap<JobKey, u64>,
    snapshot: &MemorySnapshot,
    now: i64,
) -> Vec<(JobKey, PeriodicError)> {
    let mut errors = Vec::new();
    let mut present = BTreeSet::new();
    for job in snapshot.jobs() {
        let key = (job.namespace.clone(), job.id.clone());
        present.insert(key.clone());
        if known.get(&key) == Some(&job.job_modify_index) {
            continue;
        }
        known.insert(key.clone(), job.job_modify_index);
        if let Err(err) = launcher.add(job, now) {
            errors.push((key, err));
        }
    }
    known.retain(|key, _| {
        let keep = present.contains(key);
        if !keep {
            launcher.remove(&key.0, &key.1);
        }
        keep
    });
    errors
}

/// The launch time a child's id names (`<parent>/periodic-<Unix seconds>`),
/// in Unix nanoseconds.
fn child_launch_time(parent: &JobId, child: &JobId) -> Option<i64> {
    let seconds = child
        .as_str()
        .strip_prefix(parent.as_str())?
        .strip_prefix("/periodic-")?;
    if seconds.is_empty() || !seconds.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seconds.parse::<i64>().ok()?.checked_mul(NANOS_PER_SECOND)
}

/// The latest launch of each periodic parent, from its children's ids.
fn last_launches(snapshot: &MemorySnapshot) -> BTreeMap<JobKey, i64> {
    let mut last: BTreeMap<JobKey, i64> = BTreeMap::new();
    for child in snapshot.jobs().filter(|job| !job.parent_id.is_empty()) {
        if let Some(at) = child_launch_time(&child.parent_id, &child.id) {
            let entry = last
                .entry((child.namespace.clone(), child.parent_id.clone()))
                .or_insert(at);
            *entry = (*entry).max(at);
        }
    }
    last
}

/// The launch a trackable periodic job missed while no leader ran its
/// schedule: the first launch after its last one (`last_launch`, or its
/// submission when it never launched), if that is at or before `now`.
/// `None` for a job that is not trackable or has no known start.
pub(crate) fn missed_launch(job: &Job, last_launch: Option<i64>, now: i64) -> Option<i64> {
    if !PeriodicLauncher::is_trackable(job) {
        return None;
    }
    let since = last_launch.unwrap_or(0).max(job.submit_time);
    if since <= 0 {
        return None;
    }
    let periodic = job.periodic.as_ref()?;
    next_launch(periodic, since)
        .ok()
        .flatten()
        .filter(|at| *at <= now)
}

/// Jobs (namespace, id) with an evaluation that is not terminal.
fn jobs_with_live_evals(snapshot: &MemorySnapshot) -> BTreeSet<JobKey> {
    snapshot
        .evals()
        .filter(|eval| !eval.is_terminal())
        .map(|eval| (eval.namespace.as_str().to_owned(), eval.job_id.clone()))
        .collect()
}

/// Whether a child job still runs: a status other than `dead` and a
/// non-terminal evaluation (`live_evals`) or allocation (Nomad's
/// `RunningChildren`).
pub(crate) fn child_running(
    snapshot: &MemorySnapshot,
    live_evals: &BTreeSet<JobKey>,
    child: &Job,
) -> bool {
    if child.status == "dead" {
        return false;
    }
    let key = (child.namespace.clone(), child.id.clone());
    live_evals.contains(&key)
        || snapshot
            .allocs_by_job(&child.namespace, &child.id)
            .any(|alloc| !alloc.is_terminal())
}

/// The children of a parent job (periodic launches and dispatches).
fn children<'a>(
    snapshot: &'a MemorySnapshot,
    namespace: &'a str,
    parent: &'a JobId,
) -> impl Iterator<Item = &'a Job> + 'a {
    snapshot
        .jobs()
        .filter(move |job| job.namespace == namespace && &job.parent_id == parent)
}

/// Whether some child of the parent still runs.
pub(crate) fn has_running_child(
    snapshot: &MemorySnapshot,
    live_evals: &BTreeSet<JobKey>,
    namespace: &str,
    parent: &JobId,
) -> bool {
    children(snapshot, namespace, parent).any(|child| child_running(snapshot, live_evals, child))
}

/// Registers the child of `parent` for the launch at `launch_time`, with
/// a `periodic-job` evaluation; `new_only` refuses the write when the
/// child exists already (a launch made before). Returns the evaluation.
async fn launch(
    leader: &Leader,
    parent: &Job,
    launch_time: i64,
    new_only: bool,
) -> Result<Evaluation, ControlError> {
    let now = leader.now();
    let mut child = periodic_child(parent, launch_time);
    // As Nomad's leader does when it dispatches a periodic child.
    child.submit_time = now;
    let mut eval = new_evaluation(&child, EvalTrigger::PeriodicJob, now);
    let response = leader
        .write(Command::RegisterJob {
            job: Box::new(child),
            enforce_index: new_only.then_some(0),
            eval: Some(Box::new(eval.clone())),
        })
        .await?;
    if let Ok(Applied::JobRegistered {
        job_modify_index, ..
    }) = response.result
    {
        eval.job_modify_index = job_modify_index;
    }
    eval.create_index = response.index;
    eval.modify_index = response.index;
    Ok(eval)
}

/// Logs the outcome of a scheduled launch; a refusal because the child
/// exists means a launch made before (by this or an earlier leader).
fn report_launch(parent: &Job, launch_time: i64, outcome: Result<Evaluation, ControlError>) {
    match outcome {
        Ok(eval) => tracing::info!(
            namespace = %parent.namespace,
            job = %parent.id,
            launch = launch_time,
            eval = %eval.id,
            "periodic job launched"
        ),
        Err(ControlError::Refused(Refusal::CheckIndexMismatch { .. })) => tracing::debug!(
            namespace = %parent.namespace,
            job = %parent.id,
            launch = launch_time,
            "periodic launch already made"
        ),
        Err(err) => tracing::warn!(
            namespace = %parent.namespace,
            job = %parent.id,
            launch = launch_time,
            error = %err,
            "periodic launch failed"
        ),
    }
}

/// The periodic launcher's loop (leader only; aborted on losing
/// leadership).
pub(crate) async fn run(leader: Arc<Leader>) {
    let mut launcher = PeriodicLauncher::new();
    let mut known: BTreeMap<JobKey, u64> = BTreeMap::new();
    let mut synced_at: Option<u64> = None;
    loop {
        let jobs_at = leader.server.table_index(Table::Jobs);
        let snapshot = leader.server.read_stale();
        let now = leader.now();
        let mut launches: Vec<(JobKey, i64)> = Vec::new();
        let mut live_evals: Option<BTreeSet<JobKey>> = None;
        if synced_at != Some(jobs_at) {
            for ((namespace, id), err) in sync(&mut launcher, &mut known, &snapshot, now) {
                tracing::warn!(%namespace, job = %id, error = %err, "periodic job not tracked");
            }
            if synced_at.is_none() {
                // First look as leader: launches missed while no one led.
                let last = last_launches(&snapshot);
                for job in snapshot.jobs() {
                    let key = (job.namespace.clone(), job.id.clone());
                    let Some(at) = missed_launch(job, last.get(&key).copied(), now) else {
                        continue;
                    };
                    let prohibit = job.periodic.as_ref().is_some_and(|p| p.prohibit_overlap);
                    let evals = live_evals.get_or_insert_with(|| jobs_with_live_evals(&snapshot));
                    if prohibit && has_running_child(&snapshot, evals, &key.0, &key.1) {
                        tracing::info!(
                            namespace = %key.0,
                            job = %key.1,
                            "missed periodic launch skipped: a child still runs"
                        );
                        continue;
                    }
                    launches.push((key, at));
                }
            }
            synced_at = Some(jobs_at);
        }
        let due = launcher.due(now, |namespace, id| {
            let evals = live_evals.get_or_insert_with(|| jobs_with_live_evals(&snapshot));
            has_running_child(&snapshot, evals, namespace, id)
        });
        for skipped in &due.skipped {
            tracing::info!(
                launch = %skipped,
                "periodic launch skipped: a child still runs (prohibit_overlap)"
            );
        }
        launches.extend(
            due.launches
                .into_iter()
                .map(|l| ((l.namespace, l.job_id), l.launch_time)),
        );
        for ((namespace, id), at) in launches {
            let Some(parent) = snapshot.job(&namespace, &id) else {
                continue;
            };
            report_launch(parent, at, launch(&leader, parent, at, true).await);
        }
        let now = leader.now();
        let wait = launcher.next_wakeup().map_or(MAX_SLEEP, |at| {
            let until = u64::try_from(at.saturating_sub(now)).unwrap_or(0);
            Duration::from_nanos(until).min(MAX_SLEEP)
        });
        if !wait.is_zero() {
            leader.server.wait_table(Table::Jobs, jobs_at, wait).await;
        }
    }
}

/// `job periodic force`: launches a periodic job now, whatever its
/// schedule and `prohibit_overlap` say. Returns the child's evaluation.
pub(crate) async fn force_launch(
    leader: &Leader,
    namespace: &str,
    job_id: &JobId,
) -> Result<Evaluation, ControlError> {
    let snapshot = leader.server.read_consistent().await?;
    let job = snapshot
        .job(namespace, job_id)
        .ok_or_else(|| ControlError::NotFound(format!("job {job_id:?}")))?;
    if !job.is_periodic() {
        return Err(ControlError::Invalid(
            "can't force launch non-periodic job".to_owned(),
        ));
    }
    if !PeriodicLauncher::is_trackable(job) {
        return Err(ControlError::Invalid(format!(
            "can't force launch job {job_id:?}: it is stopped, its periodic block is disabled, or it is parameterized"
        )));
    }
    launch(leader, job, leader.now(), false).await
}

/// `job dispatch`: registers a child of a parameterized job with the
/// payload and meta (checked as Nomad does, [`dispatch_job`]) and its
/// `job-register` evaluation.
///
/// Idempotent: when a child dispatched with the same non-empty
/// `idempotency_token` still runs, it is returned with its latest
/// evaluation and nothing is written. The returned evaluation's id is empty
/// when there is none (the earlier child's evaluations were collected, or
/// the child is periodic: the launcher, not an evaluation, starts it, as in
/// Nomad).
pub(crate) async fn dispatch(
    leader: &Leader,
    namespace: &str,
    job_id: &JobId,
    payload: Option<Vec<u8>>,
    meta: BTreeMap<String, String>,
    idempotency_token: String,
) -> Result<(Job, Evaluation), ControlError> {
    // Dispatches are serialized on the leader: the check below and the
    // write must not interleave with another dispatch's. (A new leader
    // starts with a fresh lock, but reads every earlier write first.)
    let _dispatching = leader.dispatching.lock().await;
    let snapshot = leader.server.read_consistent().await?;
    let parent = snapshot
        .job(namespace, job_id)
        .ok_or_else(|| ControlError::NotFound(format!("job {job_id:?}")))?;
    let live_evals = jobs_with_live_evals(&snapshot);
    let running = children(&snapshot, namespace, job_id)
        .filter(|child| child.dispatched && child_running(&snapshot, &live_evals, child));
    if let Some(existing) = find_idempotent_dispatch(running, &idempotency_token) {
        let eval = latest_eval(&snapshot, existing).unwrap_or_else(|| no_evaluation(existing));
        return Ok((existing.clone(), eval));
    }

    let now = leader.now();
    let mut child = dispatch_job(
        parent,
        payload,
        meta,
        idempotency_token,
        now,
        leader.config.seed,
    )
    .map_err(|err| ControlError::Invalid(err.to_string()))?;
    let periodic = child.periodic.as_ref().is_some_and(|p| p.enabled());
    let mut eval = if periodic {
        no_evaluation(&child)
    } else {
        new_evaluation(&child, EvalTrigger::JobRegister, now)
    };
    let response = leader
        .write(Command::RegisterJob {
            job: Box::new(child.clone()),
            enforce_index: Some(0),
            eval: (!periodic).then(|| Box::new(eval.clone())),
        })
        .await?;
    if let Ok(Applied::JobRegistered {
        version,
        job_modify_index,
        ..
    }) = response.result
    {
        child.version = version;
        child.create_index = job_modify_index;
        child.modify_index = response.index;
        child.job_modify_index = job_modify_index;
        if !periodic {
            eval.job_modify_index = job_modify_index;
            eval.create_index = response.index;
            eval.modify_index = response.index;
        }
    }
    Ok((child, eval))
}

/// The most recently created evaluation of a job.
fn latest_eval(snapshot: &MemorySnapshot, job: &Job) -> Option<Evaluation> {
    snapshot
        .evals()
        .filter(|eval| eval.namespace.as_str() == job.namespace && eval.job_id == job.id)
        .max_by_key(|eval| (eval.create_index, eval.create_time))
        .cloned()
}

/// "No evaluation" for a job: an evaluation with an empty id (Nomad's
/// empty `EvalID`).
fn no_evaluation(job: &Job) -> Evaluation {
    Evaluation {
        id: EvalId::default(),
        namespace: Namespace::new(job.namespace.clone()),
        job_id: job.id.clone(),
        job_modify_index: job.job_modify_index,
        ..Evaluation::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use scheduler_core::model::{
        AllocClientStatus, AllocDesiredStatus, AllocId, Allocation, EvalId, EvalStatus, Evaluation,
        Job, JobId, JobType, Namespace, ParameterizedJobConfig, PeriodicConfig,
    };
    use scheduler_core::periodic::{PeriodicLauncher, periodic_child};
    use scheduler_core::state::{MemorySnapshot, MemoryState};

    use super::{
        child_launch_time, child_running, has_running_child, jobs_with_live_evals, last_launches,
        missed_launch, sync,
    };

    /// 2024-05-01T10:00:00Z.
    const T0: i64 = 1_714_557_600_000_000_000;
    const MINUTE: i64 = 60_000_000_000;

    fn periodic(id: &str, spec: &str) -> Job {
        Job {
            id: JobId::new(id),
            name: id.to_owned(),
            namespace: "default".to_owned(),
            job_type: JobType::Batch,
            periodic: Some(PeriodicConfig {
                spec: spec.to_owned(),
                ..PeriodicConfig::default()
            }),
            submit_time: T0,
            ..Job::default()
        }
    }

    fn state(jobs: Vec<Job>) -> MemoryState {
        let mut state = MemoryState::new();
        for (index, job) in (1..).zip(jobs) {
            state.upsert_job(index, job).expect("stored");
        }
        state
    }

    fn snapshot(jobs: Vec<Job>) -> MemorySnapshot {
        state(jobs).snapshot()
    }

    #[test]
    fn sync_tracks_periodic_jobs_and_keeps_their_schedule_across_unrelated_writes() {
        let mut launcher = PeriodicLauncher::new();
        let mut known = BTreeMap::new();
        let plain = Job {
            id: JobId::new("plain"),
            namespace: "default".to_owned(),
            ..Job::default()
        };
        let mut store = state(vec![periodic("every-5", "*/5 * * * *"), plain]);
        let errors = sync(&mut launcher, &mut known, &store.snapshot(), T0 + MINUTE);
        assert!(errors.is_empty());
        let id = JobId::new("every-5");
        assert!(launcher.is_tracked("default", &id));
        assert!(!launcher.is_tracked("default", &JobId::new("plain")));
        assert_eq!(launcher.next_wakeup(), Some(T0 + 5 * MINUTE));

        // A later sync (another job's write) past the launch time does not
        // move the launch that is due.
        store
            .upsert_job(10, periodic_child(&periodic("every-5", "*/5 * * * *"), T0))
            .expect("stored");
        sync(
            &mut launcher,
            &mut known,
            &store.snapshot(),
            T0 + 6 * MINUTE,
        );
        assert_eq!(launcher.next_wakeup(), Some(T0 + 5 * MINUTE));

        // A stop (a new JobModifyIndex) drops it; purging forgets it.
        let mut stopped = periodic("every-5", "*/5 * * * *");
        stopped.stop = true;
        store.upsert_job(11, stopped).expect("stored");
        sync(
            &mut launcher,
            &mut known,
            &store.snapshot(),
            T0 + 6 * MINUTE,
        );
        assert!(!launcher.is_tracked("default", &id));
        store.delete_job(12, "default", &id).expect("deleted");
        sync(
            &mut launcher,
            &mut known,
            &store.snapshot(),
            T0 + 6 * MINUTE,
        );
        assert!(!known.contains_key(&("default".to_owned(), id)));
    }

    #[test]
    fn sync_reports_a_bad_schedule() {
        let mut launcher = PeriodicLauncher::new();
        let mut known = BTreeMap::new();
        let errors = sync(
            &mut launcher,
            &mut known,
            &snapshot(vec![periodic("bad", "61 * * * *")]),
            T0,
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0.1, JobId::new("bad"));
    }

    #[test]
    fn a_child_id_names_its_launch_time() {
        let parent = JobId::new("report");
        assert_eq!(
            child_launch_time(&parent, &JobId::new("report/periodic-1714557600")),
            Some(T0)
        );
        assert_eq!(
            child_launch_time(&parent, &JobId::new("report/dispatch-1-ab")),
            None
        );
        assert_eq!(
            child_launch_time(&parent, &JobId::new("report/periodic-")),
            None
        );
        assert_eq!(
            child_launch_time(&parent, &JobId::new("other/periodic-1")),
            None
        );
    }

    #[test]
    fn a_launch_missed_while_no_leader_ran_is_made_once() {
        let job = periodic("hourly", "0 * * * *");
        // Never launched, submitted at T0 (10:00): 11:00 is missed at 11:30.
        assert_eq!(
            missed_launch(&job, None, T0 + 90 * MINUTE),
            Some(T0 + 60 * MINUTE)
        );
        // Not yet due.
        assert_eq!(missed_launch(&job, None, T0 + 30 * MINUTE), None);
        // Launched at 11:00 already.
        assert_eq!(
            missed_launch(&job, Some(T0 + 60 * MINUTE), T0 + 90 * MINUTE),
            None
        );
        // Several missed: the first one after the last launch, once.
        assert_eq!(
            missed_launch(&job, Some(T0 + 60 * MINUTE), T0 + 300 * MINUTE),
            Some(T0 + 120 * MINUTE)
        );
        // Unknown start, or not trackable: nothing.
        let mut unknown = job.clone();
        unknown.submit_time = 0;
        assert_eq!(missed_launch(&unknown, None, T0 + 90 * MINUTE), None);
        let mut stopped = job;
        stopped.stop = true;
        assert_eq!(missed_launch(&stopped, None, T0 + 90 * MINUTE), None);
    }

    #[test]
    fn a_parameterized_template_is_never_missed() {
        let mut job = periodic("template", "0 * * * *");
        job.parameterized_job = Some(ParameterizedJobConfig::default());
        assert_eq!(missed_launch(&job, None, T0 + 90 * MINUTE), None);
    }

    #[test]
    fn the_last_launch_comes_from_the_children() {
        let parent = periodic("hourly", "0 * * * *");
        let snapshot = snapshot(vec![
            parent.clone(),
            periodic_child(&parent, T0),
            periodic_child(&parent, T0 + 60 * MINUTE),
        ]);
        let last = last_launches(&snapshot);
        assert_eq!(
            last.get(&("default".to_owned(), JobId::new("hourly"))),
            Some(&(T0 + 60 * MINUTE))
        );
    }

    #[test]
    fn a_child_runs_while_an_evaluation_or_allocation_is_live() {
        let parent = periodic("hourly", "0 * * * *");
        let child = periodic_child(&parent, T0);
        let mut store = state(vec![parent, child.clone()]);
        let parent_id = JobId::new("hourly");
        let running = |store: &MemoryState| {
            let snapshot = store.snapshot();
            let evals = jobs_with_live_evals(&snapshot);
            has_running_child(&snapshot, &evals, "default", &parent_id)
        };
        assert!(!running(&store), "no evaluation, no allocation: dead");

        let mut eval = Evaluation {
            id: EvalId::new("e1"),
            namespace: Namespace::new("default"),
            job_id: child.id.clone(),
            status: EvalStatus::Pending,
            ..Evaluation::default()
        };
        store.upsert_eval(10, eval.clone()).expect("stored");
        assert!(running(&store), "pending evaluation");

        eval.status = EvalStatus::Complete;
        store.upsert_eval(11, eval).expect("stored");
        let alloc = Allocation {
            id: AllocId::new("a1"),
            namespace: Namespace::new("default"),
            job_id: child.id.clone(),
            client_status: AllocClientStatus::Running,
            ..Allocation::default()
        };
        store
            .upsert_allocs(12, vec![alloc.clone()])
            .expect("stored");
        assert!(running(&store), "running allocation");

        let mut done = alloc;
        done.desired_status = AllocDesiredStatus::Stop;
        store.upsert_allocs(13, vec![done]).expect("stored");
        assert!(!running(&store), "every allocation terminal");

        let mut dead = child;
        dead.status = "dead".to_owned();
        let snapshot = store.snapshot();
        assert!(!child_running(&snapshot, &BTreeSet::new(), &dead));
    }
}
