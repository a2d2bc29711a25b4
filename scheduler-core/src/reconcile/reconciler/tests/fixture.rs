//! A small cluster in a [`MemoryState`], jobs written in HCL, allocations
//! built by hand, and one-line renderings of a [`Reconciliation`] for the
//! reconciler's tests. Times are Unix nanoseconds around [`NOW`].

use super::super::{ReconcileInput, Reconciliation, reconcile};
use crate::jobspec::{ParseOptions, parse};
use crate::model::timestamp::format_rfc3339_nanos;
use crate::model::{
    AllocClientStatus, AllocDeploymentStatus, AllocId, Allocation, Deployment, DeploymentId,
    DeploymentState, DeploymentStatus, EvalId, Evaluation, Job, JobId, Namespace, NodeId,
    NodeStatus, RescheduleEvent, TaskRunState, TaskState,
};
use crate::simulate::NodeBuilder;
use crate::state::{MemoryState, StateSnapshot};

pub(super) const SEC: i64 = 1_000_000_000;
pub(super) const MIN: i64 = 60 * SEC;
pub(super) const HOUR: i64 = 60 * MIN;
/// 2023-11-14T22:13:20Z.
pub(super) const NOW: i64 = 1_700_000_000 * SEC;

/// An update block replacing two allocations at a time.
pub(super) const STRICT: &str = "update {\n max_parallel = 2\n }";

/// The HCL of job `web` with one service group `web` of `count` running
/// `image`; `group_extra` goes inside the group (an `update` block, say).
pub(super) fn service(count: u32, image: &str, group_extra: &str) -> String {
    spec("service", count, image, group_extra)
}

/// The same as a batch job.
pub(super) fn batch(count: u32, image: &str) -> String {
    spec("batch", count, image, "")
}

fn spec(job_type: &str, count: u32, image: &str, group_extra: &str) -> String {
    format!(
        r#"job "web" {{
  type = "{job_type}"
  group "web" {{
    count = {count}
    {group_extra}
    task "app" {{
      driver = "docker"
      config {{
        image = "{image}"
      }}
    }}
  }}
}}
"#
    )
}

/// A cluster: nodes `n1`..`n3` (ready unless changed), at most one job
/// `web`, its allocations and deployments, and the evaluation being run.
pub(super) struct Cluster {
    pub state: MemoryState,
    index: u64,
    pub eval: Evaluation,
}

impl Cluster {
    pub fn new() -> Self {
        let mut cluster = Cluster {
            state: MemoryState::new(),
            index: 0,
            eval: Evaluation {
                id: EvalId::new("eval-1"),
                namespace: Namespace::new("default"),
                job_id: JobId::new("web"),
                priority: 50,
                ..Evaluation::default()
            },
        };
        for (position, name) in ["n1", "n2", "n3"].into_iter().enumerate() {
            let node = NodeBuilder::new(name, position)
                .with(|node| node.id = NodeId::new(name))
                .build();
            let index = cluster.next_index();
            cluster.state.upsert_node(index, node).expect("index");
        }
        cluster
    }

    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Changes node `name` (status, drain).
    pub fn node(&mut self, name: &str, status: NodeStatus, draining: bool) {
        let mut node = self
            .state
            .view()
            .node(&NodeId::new(name))
            .expect("node exists")
            .clone();
        node.status = status;
        if draining {
            node.drain_strategy = Some(crate::model::DrainStrategy::default());
        }
        let index = self.next_index();
        self.state.upsert_node(index, node).expect("index");
    }

    /// Registers (or updates) job `web` from HCL and returns it as stored.
    pub fn job(&mut self, hcl: &str) -> Job {
        let job = match parse(hcl, &ParseOptions::new("x.hcl")) {
            Ok(parsed) => parsed.job,
            Err(diagnostics) => panic!("invalid job:\n{diagnostics}\n{hcl}"),
        };
        self.put_job(job)
    }

    /// Stores `job` as given and returns it as stored.
    pub fn put_job(&mut self, job: Job) -> Job {
        let index = self.next_index();
        self.state.upsert_job(index, job).expect("index");
        self.stored_job().expect("just stored").clone()
    }

    pub fn stored_job(&self) -> Option<&Job> {
        self.state.view().job("default", &JobId::new("web"))
    }

    pub fn purge_job(&mut self) {
        let index = self.next_index();
        self.state
            .delete_job(index, "default", &JobId::new("web"))
            .expect("index");
    }

    /// Stores allocation `id` named `web.web[index]` on `node`, running
    /// `job`, after `change`.
    pub fn alloc(
        &mut self,
        id: &str,
        index: u32,
        node: &str,
        job: &Job,
        change: impl FnOnce(&mut Allocation),
    ) {
        let mut alloc = Allocation {
            id: AllocId::new(id),
            name: format!("web.web[{index}]"),
            node_id: NodeId::new(node),
            node_name: node.to_owned(),
            job_id: JobId::new("web"),
            namespace: Namespace::new("default"),
            task_group: "web".to_owned(),
            client_status: AllocClientStatus::Running,
            job: Some(std::sync::Arc::new(job.clone())),
            create_time: NOW - HOUR,
            modify_time: NOW - HOUR,
            ..Allocation::default()
        };
        change(&mut alloc);
        let index = self.next_index();
        self.state.upsert_allocs(index, vec![alloc]).expect("index");
    }

    /// `count` running allocations `a0`, `a1`... named `web[0]`...,
    /// spread over the nodes, running `job`.
    pub fn running(&mut self, count: u32, job: &Job) {
        for i in 0..count {
            let node = ["n1", "n2", "n3"][i as usize % 3];
            self.alloc(&format!("a{i}"), i, node, job, |_| {});
        }
    }

    /// Stores `deployment`.
    pub fn deployment(&mut self, deployment: Deployment) {
        let index = self.next_index();
        self.state
            .upsert_deployment(index, deployment)
            .expect("index");
    }

    /// Reconciles the stored job (or `job` when given) at `now`, with ids
    /// `id-1`, `id-2`...
    pub fn reconcile_with<'a>(&'a self, job: Option<&'a Job>, now: i64) -> Reconciliation<'a> {
        let snapshot = self.state.view();
        let job_id = JobId::new("web");
        let input = ReconcileInput {
            snapshot,
            job,
            allocs: snapshot.allocs_by_job("default", &job_id).collect(),
            deployment: snapshot.latest_deployment("default", &job_id),
            eval: &self.eval,
            now,
        };
        let mut next = 0;
        let mut new_id = move || {
            next += 1;
            format!("id-{next}")
        };
        reconcile(&input, &mut new_id)
    }

    pub fn reconcile(&self) -> Reconciliation<'_> {
        self.reconcile_with(self.stored_job(), NOW)
    }
}

/// A running deployment `id` of `job`'s version with a state for group
/// `web`, changed by `change`.
pub(super) fn deployment(
    id: &str,
    job: &Job,
    status: DeploymentStatus,
    change: impl FnOnce(&mut DeploymentState),
) -> Deployment {
    let mut state = DeploymentState {
        desired_total: u32::try_from(job.task_groups[0].count.unwrap_or(1)).unwrap_or(0),
        ..DeploymentState::default()
    };
    change(&mut state);
    Deployment {
        id: DeploymentId::new(id),
        namespace: Namespace::new("default"),
        job_id: job.id.clone(),
        job_version: job.version,
        job_modify_index: job.job_modify_index,
        job_spec_modify_index: job.job_modify_index,
        job_create_index: job.create_index,
        task_groups: [("web".to_owned(), state)].into(),
        status,
        create_time: NOW - HOUR,
        modify_time: NOW - HOUR,
        ..Deployment::default()
    }
}

/// Deployment status of an allocation: `healthy`, and whether a canary.
pub(super) fn health(healthy: Option<bool>, canary: bool) -> Option<Box<AllocDeploymentStatus>> {
    Some(Box::new(AllocDeploymentStatus {
        healthy,
        canary,
        ..AllocDeploymentStatus::default()
    }))
}

/// Marks an allocation failed, its task finished at `at`.
pub(super) fn failed_at(alloc: &mut Allocation, at: i64) {
    alloc.client_status = AllocClientStatus::Failed;
    alloc.task_states.insert(
        "app".to_owned(),
        TaskState {
            state: TaskRunState::Dead,
            failed: true,
            started_at: format_rfc3339_nanos(at - MIN),
            finished_at: format_rfc3339_nanos(at),
            ..TaskState::default()
        },
    );
    alloc.modify_time = at;
}

/// A reschedule event at `at` that replaced `prev`.
pub(super) fn reschedule_event(at: i64, prev: &str, delay_secs: i64) -> RescheduleEvent {
    RescheduleEvent {
        reschedule_time: at,
        prev_alloc_id: AllocId::new(prev),
        prev_node_id: NodeId::new("n1"),
        delay: crate::model::Duration::from_secs(delay_secs),
    }
}

/// Placements as `name reason [<- previous]`, in order.
pub(super) fn places(r: &Reconciliation<'_>) -> Vec<String> {
    r.place
        .iter()
        .map(|p| {
            let mut line = format!("{} {:?}", p.name, p.reason);
            if let Some(previous) = p.previous {
                line.push_str(&format!(" <- {}", previous.id.as_str()));
            }
            line
        })
        .collect()
}

/// Stops as `id: description`, sorted by id.
pub(super) fn stops(r: &Reconciliation<'_>) -> Vec<String> {
    let mut lines: Vec<String> = r
        .stop
        .iter()
        .map(|s| format!("{}: {}", s.alloc.id.as_str(), s.description))
        .collect();
    lines.sort();
    lines
}

/// Ids of the allocations updated in place, sorted.
pub(super) fn inplace<'a>(r: &Reconciliation<'a>) -> Vec<&'a str> {
    let mut ids: Vec<&str> = r.inplace.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    ids
}

/// The counts of group `web`.
pub(super) fn desired(r: &Reconciliation<'_>) -> crate::scheduler::DesiredUpdates {
    r.desired.get("web").copied().unwrap_or_default()
}
