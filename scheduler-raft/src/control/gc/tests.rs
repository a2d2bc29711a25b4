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
    fn deployment(&mut self, id: &str, job: &str, status: DeploymentStatus, at: i64) -> &mut Self {
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
    let crate::command::Command::GarbageCollect { allocs, jobs, .. } = collection.into_command()
    else {
        panic!("a GarbageCollect command");
    };
    assert_eq!((allocs.len(), jobs.len()), (2, 1));
}
