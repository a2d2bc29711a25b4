use std::collections::BTreeMap;

use scheduler_core::model::timestamp::format_rfc3339_nanos;
use scheduler_core::model::{
    AllocClientStatus, AllocDeploymentStatus, AllocId, Allocation, Deployment, DeploymentId,
    DeploymentState, DeploymentStatus, Duration, EvalTrigger, Job, JobId, JobType, Namespace,
};
use scheduler_core::reconcile::deployment_progress::{
    DESCRIPTION_PROGRESS_DEADLINE, DESCRIPTION_RUNNING, DeploymentEvent,
};
use scheduler_core::state::StateSnapshot;

use super::{Baseline, Marks, Watched, Write, command, needs_step, plan_actions};
use crate::cluster_state::ClusterState;
use crate::command::Command;

const T0: i64 = 1_700_000_000_000_000_000;
const MINUTE: i64 = 60_000_000_000;

fn job(tag: &str, stable: bool) -> Job {
    Job {
        id: JobId::new("web"),
        name: "web".to_owned(),
        namespace: "default".to_owned(),
        job_type: JobType::Service,
        meta: BTreeMap::from([("tag".to_owned(), tag.to_owned())]),
        stable,
        submit_time: T0,
        ..Job::default()
    }
}

fn deployment(version: u64, auto_revert: bool) -> Deployment {
    let group = DeploymentState {
        auto_revert,
        progress_deadline: Duration::from_mins(10),
        require_progress_by: format_rfc3339_nanos(T0 + 10 * MINUTE),
        desired_total: 2,
        placed_allocs: 2,
        ..DeploymentState::default()
    };
    Deployment {
        id: DeploymentId::new("d1"),
        namespace: Namespace::new("default"),
        job_id: JobId::new("web"),
        job_version: version,
        task_groups: BTreeMap::from([("web".to_owned(), group)]),
        status: DeploymentStatus::Running,
        status_description: DESCRIPTION_RUNNING.to_owned(),
        create_time: T0,
        modify_time: T0,
        ..Deployment::default()
    }
}

fn alloc(id: &str, healthy: Option<bool>, at: i64) -> Allocation {
    Allocation {
        id: AllocId::new(id),
        namespace: Namespace::new("default"),
        job_id: JobId::new("web"),
        task_group: "web".to_owned(),
        deployment_id: DeploymentId::new("d1"),
        client_status: AllocClientStatus::Running,
        deployment_status: Some(Box::new(AllocDeploymentStatus {
            healthy,
            timestamp: format_rfc3339_nanos(at),
            ..AllocDeploymentStatus::default()
        })),
        ..Allocation::default()
    }
}

/// A cluster with the given job versions registered in order, the
/// deployment and the allocations.
fn cluster(jobs: Vec<Job>, deployment: Deployment, allocs: Vec<Allocation>) -> ClusterState {
    let mut state = ClusterState::new();
    let mut index = 0;
    let mut apply = |state: &mut ClusterState, command: Command| {
        index += 1;
        state.apply(index, command).expect("applies");
    };
    for job in jobs {
        apply(
            &mut state,
            Command::RegisterJob {
                job: Box::new(job),
                enforce_index: None,
                eval: None,
            },
        );
    }
    apply(
        &mut state,
        Command::UpsertDeployment {
            deployment: Box::new(deployment),
        },
    );
    apply(&mut state, Command::UpsertAllocs { allocs });
    state
}

fn stored(state: &ClusterState) -> Deployment {
    state
        .snapshot()
        .deployment(&DeploymentId::new("d1"))
        .cloned()
        .expect("stored")
}

/// Commits the writes as the watcher would, at the next index.
fn commit(state: &mut ClusterState, deployment: &Deployment, writes: Vec<Write>, now: i64) {
    let index = state.snapshot().index() + 1;
    let commands = writes
        .into_iter()
        .map(|w| command(w, deployment, now))
        .collect();
    state
        .apply(index, Command::Batch(commands))
        .expect("applies");
}

/// One line per write: what a reviewer checks.
fn render(writes: &[Write]) -> Vec<String> {
    writes
        .iter()
        .map(|write| match write {
            Write::Deployment(d) => format!(
                "deployment {:?} {:?} healthy={} modify_time={}",
                d.status,
                d.status_description,
                d.task_groups["web"].healthy_allocs,
                d.modify_time - T0
            ),
            Write::Job {
                job,
                enforce_index,
                eval,
            } => format!(
                "job v{} tag={} stable={} check-index={enforce_index} eval={}",
                job.version,
                job.meta["tag"],
                job.stable,
                eval.as_ref().map_or("none", EvalTrigger::as_str)
            ),
            Write::Eval { job, trigger } => format!("eval {} of {}", trigger, job.id),
        })
        .collect()
}

#[test]
fn healthy_allocations_succeed_and_mark_the_version_stable() {
    let state = cluster(
        vec![job("a", true), job("b", false)],
        deployment(1, true),
        vec![
            alloc("a1", Some(true), T0 + MINUTE),
            alloc("a2", Some(true), T0 + MINUTE),
        ],
    );
    let d = stored(&state);
    let now = T0 + 2 * MINUTE;
    let decision = plan_actions(&state.snapshot(), &d, Baseline::Nothing, &[], now);
    assert_eq!(
        render(&decision.writes),
        [
            format!(
                "deployment Successful \"Deployment completed successfully\" healthy=2 modify_time={}",
                2 * MINUTE
            ),
            "job v1 tag=b stable=true check-index=2 eval=none".to_owned(),
            "eval deployment-watcher of web".to_owned(),
        ]
    );
    assert_eq!(decision.rejected, None);
    assert_eq!(decision.health.len(), 2);
}

#[test]
fn known_health_makes_no_evaluation() {
    let state = cluster(
        vec![job("a", true), job("b", false)],
        deployment(1, true),
        vec![
            alloc("a1", Some(true), T0 + MINUTE),
            alloc("a2", Some(true), T0 + MINUTE),
        ],
    );
    let d = stored(&state);
    let decision = plan_actions(
        &state.snapshot(),
        &d,
        Baseline::Current,
        &[],
        T0 + 2 * MINUTE,
    );
    assert_eq!(decision.writes.len(), 2, "{:?}", render(&decision.writes));
    assert!(
        !decision
            .writes
            .iter()
            .any(|w| matches!(w, Write::Eval { .. }))
    );
}

#[test]
fn a_new_report_is_news_and_an_old_one_is_not() {
    let mut state = cluster(
        vec![job("a", true), job("b", false)],
        deployment(1, true),
        vec![alloc("a1", Some(true), T0 + MINUTE), alloc("a2", None, T0)],
    );
    let now = T0 + 2 * MINUTE;
    let d = stored(&state);
    let first = plan_actions(&state.snapshot(), &d, Baseline::Nothing, &[], now);
    // One healthy report: progress (the deadline moves) and an evaluation.
    assert_eq!(
        render(&first.writes),
        [
            format!(
                "deployment Running \"Deployment is running\" healthy=1 modify_time={}",
                2 * MINUTE
            ),
            "eval deployment-watcher of web".to_owned(),
        ]
    );
    let Write::Deployment(updated) = &first.writes[0] else {
        panic!("deployment first");
    };
    assert_eq!(
        updated.task_groups["web"].require_progress_by,
        format_rfc3339_nanos(T0 + 11 * MINUTE)
    );
    commit(&mut state, &d, first.writes, now);

    // Nothing new: nothing to write.
    let d = stored(&state);
    let again = plan_actions(
        &state.snapshot(),
        &d,
        Baseline::Seen(&first.health),
        &[],
        now,
    );
    assert_eq!(render(&again.writes), Vec::<String>::new());
    assert_eq!(again.next_deadline, Some(T0 + 11 * MINUTE));
}

#[test]
fn a_missed_deadline_rolls_back_to_the_latest_older_stable_version() {
    let state = cluster(
        vec![job("a", true), job("b", true), job("c", false)],
        deployment(2, true),
        vec![
            alloc("a1", Some(true), T0 + MINUTE),
            alloc("a2", Some(false), T0 + MINUTE),
        ],
    );
    let d = stored(&state);
    let decision = plan_actions(
        &state.snapshot(),
        &d,
        Baseline::Current,
        &[],
        T0 + 10 * MINUTE,
    );
    assert_eq!(
        render(&decision.writes),
        [
            format!(
                "deployment Failed \"{DESCRIPTION_PROGRESS_DEADLINE} - rolling back to job version 1\" healthy=1 modify_time={}",
                10 * MINUTE
            ),
            "job v2 tag=b stable=false check-index=3 eval=job-register".to_owned(),
        ]
    );

    // The rollback registers a new version with the old specification.
    let mut state = state;
    commit(&mut state, &d, decision.writes, T0 + 10 * MINUTE);
    let snapshot = state.snapshot();
    let current = snapshot.job("default", &JobId::new("web")).expect("job");
    assert_eq!((current.version, current.meta["tag"].as_str()), (3, "b"));
    assert_eq!(stored(&state).status, DeploymentStatus::Failed);
    let evals: Vec<_> = snapshot.evals().collect();
    assert_eq!(evals.len(), 1);
    assert_eq!(evals[0].triggered_by, EvalTrigger::JobRegister);
    assert_eq!(evals[0].job_modify_index, current.job_modify_index);
}

#[test]
fn without_a_stable_version_the_failure_says_so_and_evaluates() {
    let state = cluster(
        vec![job("a", false), job("b", false)],
        deployment(1, true),
        vec![alloc("a1", Some(false), T0 + MINUTE)],
    );
    let d = stored(&state);
    let decision = plan_actions(
        &state.snapshot(),
        &d,
        Baseline::Current,
        &[],
        T0 + 10 * MINUTE,
    );
    assert_eq!(
        render(&decision.writes),
        [
            format!(
                "deployment Failed \"{DESCRIPTION_PROGRESS_DEADLINE} - no stable job version to auto revert to\" healthy=0 modify_time={}",
                10 * MINUTE
            ),
            "eval deployment-watcher of web".to_owned(),
        ]
    );
}

#[test]
fn a_stable_version_with_the_same_specification_is_not_rolled_back_to() {
    // Version 2 has version 0's specification again.
    let state = cluster(
        vec![job("a", true), job("b", false), job("a", false)],
        deployment(2, true),
        vec![],
    );
    let d = stored(&state);
    let decision = plan_actions(
        &state.snapshot(),
        &d,
        Baseline::Current,
        &[DeploymentEvent::Fail],
        T0,
    );
    assert_eq!(
        render(&decision.writes),
        [
            "deployment Failed \"Deployment marked as failed - not rolling back to stable job version 0 as current job has same specification\" healthy=0 modify_time=0".to_owned(),
            "eval deployment-watcher of web".to_owned(),
        ]
    );
}

#[test]
fn without_auto_revert_a_failure_only_records_and_evaluates() {
    let state = cluster(
        vec![job("a", true), job("b", false)],
        deployment(1, false),
        vec![],
    );
    let d = stored(&state);
    let decision = plan_actions(
        &state.snapshot(),
        &d,
        Baseline::Current,
        &[DeploymentEvent::Fail],
        T0,
    );
    assert_eq!(
        render(&decision.writes),
        [
            "deployment Failed \"Deployment marked as failed\" healthy=0 modify_time=0".to_owned(),
            "eval deployment-watcher of web".to_owned(),
        ]
    );
}

#[test]
fn a_superseded_job_is_not_rolled_back() {
    let state = cluster(
        vec![job("a", true), job("b", false), job("c", false)],
        deployment(1, true),
        vec![],
    );
    let d = stored(&state);
    let decision = plan_actions(
        &state.snapshot(),
        &d,
        Baseline::Current,
        &[DeploymentEvent::Fail],
        T0,
    );
    assert_eq!(
        render(&decision.writes),
        [
            "deployment Failed \"Deployment marked as failed\" healthy=0 modify_time=0".to_owned(),
            "eval deployment-watcher of web".to_owned(),
        ]
    );
}

#[test]
fn a_promotion_without_canaries_is_rejected() {
    let state = cluster(vec![job("a", false)], deployment(0, false), vec![]);
    let d = stored(&state);
    let decision = plan_actions(
        &state.snapshot(),
        &d,
        Baseline::Current,
        &[DeploymentEvent::Promote { groups: None }],
        T0,
    );
    assert_eq!(decision.rejected.as_deref(), Some("No canaries to promote"));
}

#[test]
fn the_deployment_watcher_evaluation_names_the_deployment() {
    let d = deployment(0, false);
    let Command::UpsertEvals { evals } = command(
        Write::Eval {
            job: Box::new(job("a", false)),
            trigger: EvalTrigger::DeploymentWatcher,
        },
        &d,
        T0,
    ) else {
        panic!("an evaluation write");
    };
    assert_eq!(evals[0].deployment_id, d.id);
    assert_eq!(evals[0].triggered_by, EvalTrigger::DeploymentWatcher);
    assert_eq!(evals[0].create_time, T0);
}

/// The watcher steps a deployment again only when something it reads
/// moved or its deadline came: an unrelated job's allocations do not
/// count, a health report of its own does.
#[test]
fn an_unchanged_deployment_is_not_stepped_again_before_its_deadline() {
    let mut state = cluster(
        vec![job("a", true), job("b", false)],
        deployment(1, true),
        vec![alloc("a1", Some(true), T0 + MINUTE), alloc("a2", None, T0)],
    );
    let now = T0 + 2 * MINUTE;
    let d = stored(&state);
    assert!(needs_step(None, Marks::of(&state.snapshot(), &d), now));
    let first = plan_actions(&state.snapshot(), &d, Baseline::Nothing, &[], now);
    commit(&mut state, &d, first.writes, now);
    let d = stored(&state);
    let snapshot = state.snapshot();
    let decision = plan_actions(&snapshot, &d, Baseline::Seen(&first.health), &[], now);
    let watched = Watched {
        health: decision.health,
        marks: Marks::of(&snapshot, &d),
        next_deadline: decision.next_deadline,
    };
    let deadline = watched.next_deadline.expect("a running deployment has one");
    assert!(!needs_step(Some(&watched), watched.marks, now));
    assert!(needs_step(Some(&watched), watched.marks, deadline));

    // Another job's allocation: still nothing to do for this deployment.
    let mut other = alloc("b1", None, now);
    other.job_id = JobId::new("batch");
    let index = state.snapshot().index() + 1;
    state
        .apply(
            index,
            Command::UpsertAllocs {
                allocs: vec![other],
            },
        )
        .expect("applies");
    let d = stored(&state);
    assert!(!needs_step(
        Some(&watched),
        Marks::of(&state.snapshot(), &d),
        now
    ));

    // Its second allocation turns healthy: step again.
    let index = state.snapshot().index() + 1;
    state
        .apply(
            index,
            Command::UpdateAllocsFromClient {
                allocs: vec![alloc("a2", Some(true), now)],
            },
        )
        .expect("applies");
    let d = stored(&state);
    assert!(needs_step(
        Some(&watched),
        Marks::of(&state.snapshot(), &d),
        now
    ));
}
