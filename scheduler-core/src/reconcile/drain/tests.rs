//! Drain scenarios stepped by hand: a small cluster in a [`MemoryState`],
//! the drainer's decision rendered as one line, and the caller's and the
//! scheduler's reactions (write the marks, stop, replace, report health)
//! applied between steps. Times are Unix nanoseconds around `NOW`.

use super::*;
use crate::model::timestamp::format_rfc3339_nanos;
use crate::model::{
    AllocClientStatus, AllocDeploymentStatus, AllocDesiredStatus, Duration, Job, Node, TaskGroup,
};
use crate::simulate::NodeBuilder;
use crate::state::MemoryState;

const SEC: i64 = 1_000_000_000;
const HOUR: i64 = 3600 * SEC;
/// 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000 * SEC;

/// A drain with no deadline.
fn no_deadline() -> DrainStrategy {
    DrainStrategy::default()
}

/// A drain started at `NOW` that forces at `NOW + after`.
fn deadline_in(after: i64) -> DrainStrategy {
    DrainStrategy {
        deadline: Duration(after),
        force_deadline: format_rfc3339_nanos(NOW + after),
        started_at: format_rfc3339_nanos(NOW),
        ..DrainStrategy::default()
    }
}

fn ignoring_system(strategy: DrainStrategy) -> DrainStrategy {
    DrainStrategy {
        ignore_system_jobs: true,
        ..strategy
    }
}

struct Cluster {
    state: MemoryState,
    index: u64,
}

impl Cluster {
    fn new() -> Self {
        Cluster {
            state: MemoryState::new(),
            index: 0,
        }
    }

    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// A ready node named `name` (its id too), draining with `drain`.
    fn node(&mut self, name: &str, drain: Option<DrainStrategy>) {
        let position = self.state.view().node_count();
        let node: Node = NodeBuilder::new(name, position)
            .with(|node| {
                node.id = NodeId::new(name);
                node.drain_strategy = drain;
            })
            .build();
        let index = self.next_index();
        self.state.upsert_node(index, node).expect("index moves on");
    }

    /// A job with one group `web` of `count`, with `max_parallel` in its
    /// migrate block when given.
    fn job(&mut self, id: &str, job_type: JobType, count: i64, max_parallel: Option<i64>) {
        let group = TaskGroup {
            migrate: max_parallel.map(|max_parallel| MigrateStrategy {
                max_parallel: Some(max_parallel),
                ..MigrateStrategy::defaults()
            }),
            ..TaskGroup::new("web", count, Vec::new())
        };
        let job = Job {
            namespace: "default".into(),
            id: JobId::new(id),
            job_type,
            task_groups: vec![group],
            ..Job::default()
        };
        let index = self.next_index();
        self.state.upsert_job(index, job).expect("index moves on");
    }

    /// A running, healthy allocation `id` of `job`'s group `web` on `node`.
    fn alloc(&mut self, id: &str, job: &str, node: &str) {
        let alloc = Allocation {
            id: AllocId::new(id),
            namespace: Namespace::new("default"),
            name: format!("{job}.web[0]"),
            job_id: JobId::new(job),
            task_group: "web".into(),
            node_id: NodeId::new(node),
            client_status: AllocClientStatus::Running,
            deployment_status: Some(Box::new(AllocDeploymentStatus {
                healthy: Some(true),
                ..AllocDeploymentStatus::default()
            })),
            ..Allocation::default()
        };
        self.write(alloc);
    }

    /// A replacement that the client has not reported healthy yet.
    fn pending_alloc(&mut self, id: &str, job: &str, node: &str) {
        self.alloc(id, job, node);
        self.change(id, |alloc| {
            alloc.client_status = AllocClientStatus::Pending;
            alloc.deployment_status = None;
        });
    }

    fn write(&mut self, alloc: Allocation) {
        let index = self.next_index();
        self.state
            .upsert_allocs(index, vec![alloc])
            .expect("index moves on");
    }

    /// Rewrites an allocation, client-side fields included.
    fn change(&mut self, id: &str, change: impl FnOnce(&mut Allocation)) {
        let mut alloc = self
            .state
            .view()
            .alloc(&AllocId::new(id))
            .expect("allocation exists")
            .clone();
        change(&mut alloc);
        let index = self.next_index();
        self.state
            .upsert_allocs(index, vec![alloc.clone()])
            .expect("index moves on");
        let index = self.next_index();
        self.state
            .update_allocs_from_client(index, vec![alloc])
            .expect("index moves on");
    }

    /// What the caller does with a decision's marks.
    fn apply(&mut self, decision: &DrainDecision) {
        for mark in &decision.migrate {
            self.change(mark.alloc.as_str(), |alloc| {
                alloc.desired_transition.migrate = Some(true);
            });
        }
    }

    /// What the scheduler does with a marked allocation: stop it.
    fn stop(&mut self, id: &str) {
        self.change(id, |alloc| alloc.desired_status = AllocDesiredStatus::Stop);
    }

    /// What the client reports once an allocation has stopped.
    fn complete(&mut self, id: &str) {
        self.change(id, |alloc| {
            alloc.client_status = AllocClientStatus::Complete;
        });
    }

    fn healthy(&mut self, id: &str) {
        self.change(id, |alloc| {
            alloc.client_status = AllocClientStatus::Running;
            alloc.deployment_status = Some(Box::new(AllocDeploymentStatus {
                healthy: Some(true),
                ..AllocDeploymentStatus::default()
            }));
        });
    }

    fn step(&self, now: i64) -> DrainDecision {
        let decision = drain_step(self.state.view(), now);
        assert_eq!(
            decision,
            drain_step(self.state.view(), now),
            "deterministic"
        );
        decision
    }

    /// Steps at `now` and renders the decision as
    /// `migrate [..] done [..] next <ns offset from NOW | ->`.
    fn check(&self, now: i64) -> String {
        render(&self.step(now))
    }
}

fn render(decision: &DrainDecision) -> String {
    let marks: Vec<&str> = decision.migrate.iter().map(|m| m.alloc.as_str()).collect();
    let done: Vec<&str> = decision.done.iter().map(NodeId::as_str).collect();
    let next = decision
        .next_deadline
        .map_or_else(|| "-".to_owned(), |at| format!("+{}s", (at - NOW) / SEC));
    format!(
        "migrate [{}] done [{}] next {next}",
        marks.join(" "),
        done.join(" ")
    )
}

/// `web` (count 3) on draining `n1`, room on `n2`.
fn three_on_one_node(max_parallel: i64) -> Cluster {
    let mut cluster = Cluster::new();
    cluster.node("n1", Some(no_deadline()));
    cluster.node("n2", None);
    cluster.job("web", JobType::Service, 3, Some(max_parallel));
    for id in ["a1", "a2", "a3"] {
        cluster.alloc(id, "web", "n1");
    }
    cluster
}

#[test]
fn max_parallel_one_migrates_one_at_a_time_until_the_replacement_is_healthy() {
    let mut cluster = three_on_one_node(1);
    let first = cluster.step(NOW);
    assert_eq!(render(&first), "migrate [a1] done [] next -");
    assert_eq!(
        first.jobs(),
        vec![(Namespace::new("default"), JobId::new("web"))]
    );
    cluster.apply(&first);
    // Marked, not yet stopped: in flight.
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
    // The scheduler stops a1 and places r1 elsewhere; r1 is not healthy yet.
    cluster.stop("a1");
    cluster.pending_alloc("r1", "web", "n2");
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
    cluster.healthy("r1");
    let second = cluster.step(NOW);
    assert_eq!(render(&second), "migrate [a2] done [] next -");
    cluster.apply(&second);
    cluster.stop("a2");
    cluster.complete("a1");
    cluster.pending_alloc("r2", "web", "n2");
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
    cluster.healthy("r2");
    let third = cluster.step(NOW);
    assert_eq!(render(&third), "migrate [a3] done [] next -");
    cluster.apply(&third);
    cluster.stop("a3");
    cluster.complete("a2");
    // a3 is being stopped but still runs on the client: not done.
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
    cluster.complete("a3");
    assert_eq!(cluster.check(NOW), "migrate [] done [n1] next -");
}

#[test]
fn max_parallel_two_migrates_two_at_a_time() {
    let mut cluster = Cluster::new();
    cluster.node("n1", Some(no_deadline()));
    cluster.node("n2", None);
    cluster.job("web", JobType::Service, 4, Some(2));
    for id in ["a1", "a2", "a3", "a4"] {
        cluster.alloc(id, "web", "n1");
    }
    let first = cluster.step(NOW);
    assert_eq!(render(&first), "migrate [a1 a2] done [] next -");
    cluster.apply(&first);
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
    cluster.stop("a1");
    cluster.stop("a2");
    cluster.pending_alloc("r1", "web", "n2");
    cluster.pending_alloc("r2", "web", "n2");
    // One replacement healthy: one more may go.
    cluster.healthy("r1");
    let second = cluster.step(NOW);
    assert_eq!(render(&second), "migrate [a3] done [] next -");
    cluster.apply(&second);
    cluster.healthy("r2");
    assert_eq!(cluster.check(NOW), "migrate [a4] done [] next -");
}

#[test]
fn already_marked_allocations_are_not_marked_again_and_count_as_in_flight() {
    let mut cluster = three_on_one_node(1);
    cluster.change("a2", |alloc| alloc.desired_transition.migrate = Some(true));
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");

    let mut cluster = three_on_one_node(2);
    cluster.change("a2", |alloc| alloc.desired_transition.migrate = Some(true));
    assert_eq!(cluster.check(NOW), "migrate [a1] done [] next -");
}

#[test]
fn unhealthy_or_unreported_allocations_hold_the_drain_back() {
    let mut cluster = three_on_one_node(1);
    cluster.change("a3", |alloc| {
        alloc.deployment_status = Some(Box::new(AllocDeploymentStatus {
            healthy: Some(false),
            ..AllocDeploymentStatus::default()
        }));
    });
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
}

#[test]
fn pacing_spans_every_draining_node_of_the_group() {
    let mut cluster = Cluster::new();
    cluster.node("n1", Some(no_deadline()));
    cluster.node("n2", Some(no_deadline()));
    cluster.node("n3", None);
    cluster.job("web", JobType::Service, 3, Some(1));
    cluster.alloc("a1", "web", "n2");
    cluster.alloc("a2", "web", "n1");
    cluster.alloc("a3", "web", "n3");
    let first = cluster.step(NOW);
    assert_eq!(render(&first), "migrate [a1] done [] next -");
    cluster.apply(&first);
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
}

#[test]
fn batch_allocations_are_left_to_finish_until_the_deadline() {
    let mut cluster = Cluster::new();
    cluster.node("n1", Some(deadline_in(HOUR)));
    cluster.job("report", JobType::Batch, 2, None);
    cluster.job("nightly", JobType::Sysbatch, 1, None);
    cluster.alloc("b1", "report", "n1");
    cluster.alloc("b2", "report", "n1");
    cluster.alloc("s1", "nightly", "n1");
    assert_eq!(cluster.check(NOW), "migrate [] done [] next +3600s");
    cluster.complete("b1");
    assert_eq!(
        cluster.check(NOW + HOUR - 1),
        "migrate [] done [] next +3600s"
    );
    let forced = cluster.step(NOW + HOUR);
    assert_eq!(render(&forced), "migrate [b2 s1] done [] next -");
    cluster.apply(&forced);
    assert_eq!(cluster.check(NOW + HOUR), "migrate [] done [] next -");
    cluster.stop("b2");
    cluster.complete("b2");
    cluster.stop("s1");
    cluster.complete("s1");
    assert_eq!(cluster.check(NOW + HOUR), "migrate [] done [n1] next -");
}

#[test]
fn the_deadline_marks_everything_left_at_once() {
    let mut cluster = Cluster::new();
    cluster.node("n1", Some(deadline_in(HOUR)));
    cluster.job("web", JobType::Service, 3, Some(1));
    cluster.job("agent", JobType::System, 1, None);
    cluster.job("report", JobType::Batch, 1, None);
    for id in ["a1", "a2", "a3"] {
        cluster.alloc(id, "web", "n1");
    }
    cluster.alloc("y1", "agent", "n1");
    cluster.alloc("b1", "report", "n1");
    let first = cluster.step(NOW);
    assert_eq!(render(&first), "migrate [a1] done [] next +3600s");
    cluster.apply(&first);
    assert_eq!(
        cluster.check(NOW + 2 * HOUR),
        "migrate [a2 a3 b1 y1] done [] next -"
    );
}

#[test]
fn a_negative_deadline_forces_at_once_and_keeps_ignored_system_jobs() {
    let mut cluster = Cluster::new();
    cluster.node(
        "n1",
        Some(ignoring_system(DrainStrategy {
            deadline: Duration(-1),
            ..DrainStrategy::default()
        })),
    );
    cluster.job("web", JobType::Service, 2, Some(1));
    cluster.job("agent", JobType::System, 1, None);
    cluster.alloc("a1", "web", "n1");
    cluster.alloc("a2", "web", "n1");
    cluster.alloc("y1", "agent", "n1");
    assert_eq!(cluster.check(NOW), "migrate [a1 a2] done [] next -");
}

#[test]
fn system_allocations_are_drained_last() {
    let mut cluster = Cluster::new();
    cluster.node("n1", Some(no_deadline()));
    cluster.node("n2", None);
    cluster.job("web", JobType::Service, 1, Some(1));
    cluster.job("agent", JobType::System, 1, None);
    cluster.job("report", JobType::Batch, 1, None);
    cluster.alloc("a1", "web", "n1");
    cluster.alloc("b1", "report", "n1");
    cluster.alloc("y1", "agent", "n1");
    cluster.alloc("y2", "agent", "n2");
    let first = cluster.step(NOW);
    assert_eq!(render(&first), "migrate [a1] done [] next -");
    cluster.apply(&first);
    cluster.stop("a1");
    // Stopping but still running on the client: system waits.
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
    cluster.complete("a1");
    // The batch allocation still runs: system waits.
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
    cluster.complete("b1");
    let last = cluster.step(NOW);
    assert_eq!(render(&last), "migrate [y1] done [] next -");
    cluster.apply(&last);
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
    cluster.stop("y1");
    cluster.complete("y1");
    assert_eq!(cluster.check(NOW), "migrate [] done [n1] next -");
}

#[test]
fn ignore_system_jobs_leaves_them_running_and_does_not_wait_for_them() {
    let mut cluster = Cluster::new();
    cluster.node("n1", Some(ignoring_system(deadline_in(HOUR))));
    cluster.job("web", JobType::Service, 1, Some(1));
    cluster.job("agent", JobType::System, 1, None);
    cluster.alloc("a1", "web", "n1");
    cluster.alloc("y1", "agent", "n1");
    let first = cluster.step(NOW);
    assert_eq!(render(&first), "migrate [a1] done [] next +3600s");
    cluster.apply(&first);
    cluster.stop("a1");
    cluster.complete("a1");
    assert_eq!(cluster.check(NOW), "migrate [] done [n1] next -");
    // Past the deadline too.
    assert_eq!(cluster.check(NOW + 2 * HOUR), "migrate [] done [n1] next -");
}

#[test]
fn done_detection() {
    let mut cluster = Cluster::new();
    cluster.node("empty", Some(no_deadline()));
    cluster.node("finished", Some(no_deadline()));
    cluster.node("stopping", Some(no_deadline()));
    cluster.node("ready", None);
    cluster.job("report", JobType::Batch, 1, None);
    cluster.alloc("b1", "report", "finished");
    cluster.complete("b1");
    cluster.alloc("b2", "report", "stopping");
    cluster.stop("b2");
    cluster.alloc("b3", "report", "ready");
    assert_eq!(
        cluster.check(NOW),
        "migrate [] done [empty finished] next -"
    );
    cluster.complete("b2");
    assert_eq!(
        cluster.check(NOW),
        "migrate [] done [empty finished stopping] next -"
    );
}

#[test]
fn next_deadline_is_the_earliest_future_one_of_nodes_not_done() {
    let mut cluster = Cluster::new();
    cluster.node("late", Some(deadline_in(2 * HOUR)));
    cluster.node("soon", Some(deadline_in(HOUR)));
    cluster.node("idle", Some(deadline_in(HOUR / 2)));
    cluster.node(
        "started",
        Some(DrainStrategy {
            // No force_deadline recorded: started_at + deadline.
            force_deadline: String::new(),
            ..deadline_in(3 * HOUR)
        }),
    );
    cluster.node("forever", Some(no_deadline()));
    cluster.job("report", JobType::Batch, 1, None);
    for node in ["late", "soon", "started", "forever"] {
        cluster.alloc(&format!("b-{node}"), "report", node);
    }
    assert_eq!(cluster.check(NOW), "migrate [] done [idle] next +3600s");
    assert_eq!(
        cluster.check(NOW + HOUR),
        "migrate [b-soon] done [idle] next +7200s"
    );
    assert_eq!(
        cluster.check(NOW + 2 * HOUR + 1),
        "migrate [b-late b-soon] done [idle] next +10800s"
    );
    assert_eq!(
        drain_deadline(&DrainStrategy {
            force_deadline: String::new(),
            ..deadline_in(3 * HOUR)
        }),
        Some(NOW + 3 * HOUR)
    );
    assert_eq!(drain_deadline(&no_deadline()), None);
}

#[test]
fn groups_of_purged_jobs_are_not_paced() {
    let mut cluster = three_on_one_node(1);
    let index = cluster.next_index();
    cluster
        .state
        .delete_job(index, "default", &JobId::new("web"))
        .expect("index moves on");
    assert_eq!(cluster.check(NOW), "migrate [] done [] next -");
}
