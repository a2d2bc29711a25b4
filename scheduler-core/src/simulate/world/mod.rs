//! Scenario runs: a cluster and a story of steps in virtual time, played
//! without a server (`sched simulate --scenario`).
//!
//! A [`World`] is what a single server plus its clients would hold: the
//! state store, the evaluation queue (pending, waiting until a time, and
//! blocked), the deployment watcher ([`deployment_progress`]), the node
//! drainer ([`drain_step`]) and a virtual clock. After every step it
//! *settles*: it steps every active deployment, lets the drainer mark
//! allocations, and processes every evaluation that is ready, each plan
//! going through the plan check ([`check_plan`]) before it is applied,
//! until nothing changes. `advance` moves the clock from timer to timer
//! (follow-up evaluations' `WaitUntil`, deployment deadlines, drain
//! deadlines), settling at each, so deadlines fire at their own time.
//!
//! Clients on ready nodes start what is placed on them (`pending` →
//! `running`), finish what the servers stop (`complete`) and mark an
//! allocation of a deployment unhealthy when it misses its
//! `healthy_deadline`. Health itself comes from the steps:
//! `healthy`, `unhealthy` and `fail` are what clients would report, and
//! `node_down` / `node_up` what their absence and return look like.
//!
//! Everything is deterministic: evaluation ids derive from the seed and a
//! counter, the scheduler's choices from the seed, and every collection is
//! ordered.
//!
//! [`deployment_progress`]: crate::reconcile::deployment_progress
//! [`drain_step`]: crate::reconcile::drain::drain_step
//! [`check_plan`]: crate::plan::check_plan

mod clients;
mod report;
mod steps;

pub use report::{AllocationSummary, DeploymentSummary, ScenarioReport, StepPlan, StepReport};

use std::collections::{BTreeMap, BTreeSet};

use crate::model::timestamp::{format_rfc3339_nanos, parse_rfc3339_nanos};
use crate::model::{
    Allocation, Deployment, DeploymentStatus, EvalStatus, EvalTrigger, Evaluation, Job, JobId,
    JobType, Node,
};
use crate::plan::{apply_plan, check_plan};
use crate::reconcile::deployment_progress::{
    DeploymentAction, DeploymentEvent, DeploymentWatch, step as step_deployment,
};
use crate::scheduler::blocked::unblocked_by;
use crate::scheduler::{SchedulerEnv, schedule};
use crate::simulate::scenario::{Scenario, Step};
use crate::state::{MemoryState, StateError, StateSnapshot};

/// Loads the job file a step names (path as written in the scenario).
pub type JobLoader<'l> = dyn FnMut(&str) -> Result<Job, String> + 'l;

/// Rounds of settling after which a scenario is considered to loop.
const MAX_SETTLE_ROUNDS: usize = 10_000;

/// A step that could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step {step:?} at line {line}: {message}")]
pub struct ScenarioError {
    /// The step kind.
    pub step: String,
    /// Its line in the scenario file.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

/// Runs a whole scenario from virtual time `start` (Unix nanoseconds).
pub fn run_scenario(
    scenario: &Scenario,
    seed: u64,
    start: i64,
    load: &mut JobLoader<'_>,
) -> Result<ScenarioReport, ScenarioError> {
    let mut world = World::new(scenario.nodes.clone(), seed, start).map_err(|e| ScenarioError {
        step: "cluster".to_owned(),
        line: 1,
        message: e.to_string(),
    })?;
    let mut steps = Vec::new();
    for step in &scenario.steps {
        steps.push(world.play(step, load)?);
    }
    Ok(world.report(steps))
}

/// The simulated cluster: state, queues, clock.
#[derive(Debug)]
pub struct World {
    state: MemoryState,
    seed: u64,
    start: i64,
    now: i64,
    evaluations: u64,
    /// Evaluations to process, in creation order; some wait until a time.
    pending: Vec<Evaluation>,
    /// Blocked evaluations, at most one per job.
    blocked: BTreeMap<(String, JobId), Evaluation>,
    /// Every registered version of every job, for auto-revert.
    versions: BTreeMap<(String, JobId), Vec<Job>>,
    /// What the current step did.
    log: StepReport,
}

impl World {
    /// A cluster of `nodes` at virtual time `start`.
    pub fn new(nodes: Vec<Node>, seed: u64, start: i64) -> Result<Self, StateError> {
        let mut state = MemoryState::new();
        state.upsert_nodes(1, nodes)?;
        Ok(World {
            state,
            seed,
            start,
            now: start,
            evaluations: 0,
            pending: Vec::new(),
            blocked: BTreeMap::new(),
            versions: BTreeMap::new(),
            log: StepReport::default(),
        })
    }

    /// The state store.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// Virtual time now, Unix nanoseconds.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Plays one step and settles; returns what it did.
    pub fn play(
        &mut self,
        step: &Step,
        load: &mut JobLoader<'_>,
    ) -> Result<StepReport, ScenarioError> {
        let fail = |message: String| ScenarioError {
            step: step.kind.name().to_owned(),
            line: step.line,
            message,
        };
        self.log = StepReport::new(step.kind.name(), step.line);
        self.run_step(&step.kind, load).map_err(fail)?;
        self.settle().map_err(fail)?;
        let mut log = std::mem::take(&mut self.log);
        log.time = format_offset(self.now - self.start);
        log.deployments = self.deployment_summaries(&log.jobs_touched);
        log.deployment = log.first_job.as_ref().and_then(|key| {
            self.state
                .view()
                .latest_deployment(&key.0, &key.1)
                .map(DeploymentSummary::of)
        });
        Ok(log)
    }

    /// The report of a run made of `steps`, with every allocation now.
    pub fn report(&self, steps: Vec<StepReport>) -> ScenarioReport {
        ScenarioReport {
            steps,
            allocations: self.allocation_summaries(),
        }
    }

    fn next_index(&self) -> u64 {
        self.state.index() + 1
    }

    /// A pending evaluation of `job` with an id derived from the seed and
    /// a counter.
    fn evaluation(&mut self, job: &Job, trigger: EvalTrigger) -> Evaluation {
        self.evaluations += 1;
        super::evaluations::pending_evaluation(
            b"scenario evaluation",
            self.seed,
            self.evaluations,
            job,
            trigger,
            self.now,
        )
    }

    /// Queues an evaluation of the stored job `key`.
    fn enqueue(&mut self, key: &(String, JobId), trigger: EvalTrigger) {
        let Some(job) = self.state.view().job(&key.0, &key.1).cloned() else {
            return;
        };
        let eval = self.evaluation(&job, trigger);
        self.pending.push(eval);
    }

    /// Queues an evaluation for every job with a live allocation on `node`.
    fn enqueue_jobs_on(&mut self, node: &crate::model::NodeId, trigger: EvalTrigger) {
        let jobs: BTreeSet<(String, JobId)> = self
            .state
            .view()
            .allocs_by_node(node)
            .filter(|a| !a.is_terminal())
            .map(|a| (a.namespace.as_str().to_owned(), a.job_id.clone()))
            .collect();
        for key in jobs {
            self.enqueue(&key, trigger.clone());
        }
    }

    /// Stores a job version (as registered) and remembers it.
    fn register_job(&mut self, job: Job) -> Result<(String, JobId), String> {
        let index = self.next_index();
        self.state
            .upsert_job(index, job.clone())
            .map_err(|e| e.to_string())?;
        let key = (job.namespace.clone(), job.id.clone());
        let stored = self
            .state
            .view()
            .job(&key.0, &key.1)
            .cloned()
            .ok_or("the job was not stored")?;
        let versions = self.versions.entry(key.clone()).or_default();
        if versions.last().is_none_or(|v| v.version != stored.version) {
            versions.push(stored);
        }
        self.log.touch(key.clone());
        Ok(key)
    }

    /// Wakes blocked evaluations that a node of `class` may serve.
    fn unblock(&mut self, classes: &BTreeSet<String>) {
        let woken: Vec<(String, JobId)> = self
            .blocked
            .iter()
            .filter(|(_, eval)| classes.iter().any(|c| unblocked_by(eval, c)))
            .map(|(key, _)| key.clone())
            .collect();
        for key in woken {
            if let Some(mut eval) = self.blocked.remove(&key) {
                eval.status = EvalStatus::Pending;
                eval.triggered_by = EvalTrigger::QueuedAllocs;
                eval.modify_time = self.now;
                self.pending.push(eval);
            }
        }
    }

    /// Settles: deployments, drains and ready evaluations until nothing
    /// changes.
    fn settle(&mut self) -> Result<(), String> {
        for _ in 0..MAX_SETTLE_ROUNDS {
            if self.step_deployments(&BTreeMap::new())? {
                continue;
            }
            if self.drain()? {
                continue;
            }
            if self.clients_act()? || self.missed_health_deadlines()? {
                continue;
            }
            let ready = self
                .pending
                .iter()
                .position(|e| wait_until(e).is_none_or(|t| t <= self.now));
            if let Some(position) = ready {
                let eval = self.pending.remove(position);
                self.process(eval)?;
                continue;
            }
            return Ok(());
        }
        Err(format!(
            "the cluster did not settle after {MAX_SETTLE_ROUNDS} rounds"
        ))
    }

    /// Runs one evaluation: schedule, check, apply, queue what it created.
    fn process(&mut self, eval: Evaluation) -> Result<(), String> {
        let snapshot = self.state.snapshot();
        let env = SchedulerEnv {
            now: self.now,
            seed: self.seed,
        };
        let result = schedule(&snapshot, &eval, &env);
        let checked = check_plan(self.state.view(), &result.plan);
        if !checked.rejected.is_empty() {
            self.log.notes.push(format!(
                "plan check rejected {} node(s): {}",
                checked.rejected.len(),
                checked
                    .rejected
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let index = self.next_index();
        apply_plan(&mut self.state, index, &checked).map_err(|e| e.to_string())?;
        self.state
            .upsert_eval(index, result.eval_update.clone())
            .map_err(|e| e.to_string())?;
        let key = (eval.namespace.as_str().to_owned(), eval.job_id.clone());
        self.log.touch(key.clone());
        self.log.evaluations += 1;
        self.log.record_plan(&checked, &result, self.state.view());

        // Capacity freed by stops may unblock other jobs.
        let freed: BTreeSet<String> = checked
            .node_update
            .keys()
            .chain(checked.node_preemptions.keys())
            .filter_map(|id| self.state.view().node(id))
            .map(|n| n.computed_class.clone())
            .collect();
        if result.eval_update.status == EvalStatus::Blocked {
            self.blocked.insert(key.clone(), result.eval_update.clone());
        } else if result.failures.is_empty() {
            self.blocked.remove(&key);
        }
        for created in result.created_evals {
            self.state
                .upsert_eval(index, created.clone())
                .map_err(|e| e.to_string())?;
            if created.status == EvalStatus::Blocked {
                self.blocked.insert(key.clone(), created);
            } else {
                self.pending.push(created);
            }
        }
        // Jobs that lost allocations to preemption get to replace them.
        let preempted: BTreeSet<(String, JobId)> = checked
            .node_preemptions
            .values()
            .flatten()
            .map(|a| (a.namespace.as_str().to_owned(), a.job_id.clone()))
            .collect();
        for victim in preempted {
            self.log.touch(victim.clone());
            self.enqueue(&victim, EvalTrigger::Preemption);
        }
        if !freed.is_empty() {
            let others: BTreeSet<String> = freed;
            let blocked_here = self.blocked.remove(&key);
            self.unblock(&others);
            if let Some(eval) = blocked_here {
                self.blocked.insert(key, eval);
            }
        }
        Ok(())
    }

    /// Steps every active deployment with `events` (per deployment) at
    /// `now`; carries out the actions. Returns whether anything changed.
    fn step_deployments(
        &mut self,
        events: &BTreeMap<crate::model::DeploymentId, (DeploymentWatch, Vec<DeploymentEvent>)>,
    ) -> Result<bool, String> {
        let mut changed = false;
        for key in self.versions.keys().cloned().collect::<Vec<_>>() {
            let Some(deployment) = self
                .state
                .view()
                .latest_deployment(&key.0, &key.1)
                .filter(|d| d.is_active())
                .cloned()
            else {
                continue;
            };
            let allocs: Vec<Allocation> = self
                .state
                .view()
                .allocs_by_job(&key.0, &key.1)
                .cloned()
                .collect();
            let progress = match events.get(&deployment.id) {
                Some((watch, step_events)) => step_deployment(watch, step_events, self.now),
                None => {
                    let watch = DeploymentWatch::from_allocs(deployment.clone(), &allocs);
                    step_deployment(&watch, &[], self.now)
                }
            };
            let mut updated = progress.watch.deployment.clone();
            updated.modify_time = if updated == deployment {
                deployment.modify_time
            } else {
                self.now
            };
            if updated != deployment {
                let index = self.next_index();
                self.state
                    .upsert_deployment(index, updated.clone())
                    .map_err(|e| e.to_string())?;
                changed = true;
            }
            for action in progress.actions {
                changed = true;
                self.deployment_action(&key, &updated, action)?;
            }
        }
        Ok(changed)
    }

    /// The deployment watcher's view of a deployment now.
    fn watch(
        &self,
        key: &(String, JobId),
        id: &crate::model::DeploymentId,
    ) -> Result<DeploymentWatch, String> {
        let view = self.state.view();
        let deployment = view
            .deployment(id)
            .cloned()
            .ok_or_else(|| format!("deployment {id} is gone"))?;
        let allocs: Vec<Allocation> = view.allocs_by_job(&key.0, &key.1).cloned().collect();
        Ok(DeploymentWatch::from_allocs(deployment, &allocs))
    }

    fn deployment_action(
        &mut self,
        key: &(String, JobId),
        deployment: &Deployment,
        action: DeploymentAction,
    ) -> Result<(), String> {
        match action {
            DeploymentAction::MarkSuccessful => {
                if let Some(job) = self.state.view().job(&key.0, &key.1).cloned()
                    && job.version == deployment.job_version
                {
                    let mut stable = job;
                    stable.stable = true;
                    let index = self.next_index();
                    self.state
                        .upsert_job(index, stable)
                        .map_err(|e| e.to_string())?;
                }
                if let Some(version) = self
                    .versions
                    .get_mut(key)
                    .and_then(|v| v.iter_mut().find(|j| j.version == deployment.job_version))
                {
                    version.stable = true;
                }
                self.log.notes.push(format!(
                    "deployment {} of {} version {} succeeded",
                    short(deployment.id.as_str()),
                    key.1.as_str(),
                    deployment.job_version
                ));
            }
            DeploymentAction::Fail {
                description,
                rollback,
            } => {
                let mut failed = deployment.clone();
                failed.status = DeploymentStatus::Failed;
                failed.status_description = description.clone();
                let target = rollback
                    .then(|| {
                        self.versions.get(key).and_then(|versions| {
                            versions
                                .iter()
                                .rev()
                                .find(|j| j.stable && j.version < deployment.job_version)
                                .cloned()
                        })
                    })
                    .flatten();
                if let Some(target) = &target {
                    failed.status_description = format!(
                        "{description} - rolling back to job version {}",
                        target.version
                    );
                } else if rollback {
                    failed.status_description =
                        format!("{description} - no stable job version to auto revert to");
                }
                let index = self.next_index();
                self.state
                    .upsert_deployment(index, failed.clone())
                    .map_err(|e| e.to_string())?;
                self.log.notes.push(format!(
                    "deployment {} of {} version {} failed: {}",
                    short(deployment.id.as_str()),
                    key.1.as_str(),
                    deployment.job_version,
                    failed.status_description
                ));
                match target {
                    Some(target) => {
                        let current_version = self
                            .state
                            .view()
                            .job(&key.0, &key.1)
                            .map_or(target.version, |j| j.version);
                        let mut revert = target;
                        revert.stable = false;
                        revert.version = current_version;
                        self.register_job(revert)?;
                        self.enqueue(key, EvalTrigger::JobRegister);
                    }
                    None => self.enqueue(key, EvalTrigger::DeploymentWatcher),
                }
            }
            DeploymentAction::Promote { groups } => {
                self.log.notes.push(format!(
                    "canaries of {} promoted ({})",
                    key.1.as_str(),
                    groups.join(", ")
                ));
            }
            DeploymentAction::PromotionRejected { reason } => {
                self.log.notes.push(format!("promotion rejected: {reason}"));
            }
            DeploymentAction::CreateEval { .. } => {
                self.enqueue(key, EvalTrigger::DeploymentWatcher);
            }
        }
        Ok(())
    }

    /// One round of the drainer. Returns whether anything changed.
    fn drain(&mut self) -> Result<bool, String> {
        let decision = crate::reconcile::drain::drain_step(self.state.view(), self.now);
        let mut changed = false;
        let mut marked: Vec<Allocation> = Vec::new();
        let mut jobs: BTreeSet<(String, JobId)> = BTreeSet::new();
        for mark in &decision.migrate {
            if let Some(alloc) = self.state.view().alloc(&mark.alloc) {
                let mut flagged = alloc.clone();
                flagged.job = None;
                flagged.desired_transition.migrate = Some(true);
                jobs.insert((
                    flagged.namespace.as_str().to_owned(),
                    flagged.job_id.clone(),
                ));
                marked.push(flagged);
            }
        }
        if !marked.is_empty() {
            let index = self.next_index();
            self.state
                .upsert_allocs(index, marked)
                .map_err(|e| e.to_string())?;
            for key in jobs {
                self.enqueue(&key, EvalTrigger::NodeDrain);
            }
            changed = true;
        }
        for node_id in decision.done {
            if let Some(node) = self.state.view().node(&node_id).cloned() {
                let name = node.name.clone();
                let mut drained = node;
                drained.drain_strategy = None;
                drained.drain = false;
                let index = self.next_index();
                self.state
                    .upsert_node(index, drained)
                    .map_err(|e| e.to_string())?;
                self.log
                    .notes
                    .push(format!("drain of node {name} complete"));
                changed = true;
            }
        }
        Ok(changed)
    }

    /// The next timer strictly after now and at most `until`: a follow-up
    /// evaluation's wait, a deployment's deadline, a drain deadline.
    fn next_timer(&self, until: i64) -> Option<i64> {
        let mut times: Vec<i64> = self.pending.iter().filter_map(wait_until).collect();
        for key in self.versions.keys() {
            let view = self.state.view();
            if let Some(d) = view
                .latest_deployment(&key.0, &key.1)
                .filter(|d| d.is_active())
            {
                let allocs: Vec<Allocation> = view.allocs_by_job(&key.0, &key.1).cloned().collect();
                let watch = DeploymentWatch::from_allocs(d.clone(), &allocs);
                if let Some(t) = step_deployment(&watch, &[], self.now).next_deadline {
                    times.push(t);
                }
            }
        }
        if let Some(t) =
            crate::reconcile::drain::drain_step(self.state.view(), self.now).next_deadline
        {
            times.push(t);
        }
        times
            .into_iter()
            .filter(|t| *t > self.now && *t <= until)
            .min()
    }

    /// Moves the clock to `until`, settling at every timer on the way.
    fn advance_to(&mut self, until: i64) -> Result<(), String> {
        for _ in 0..MAX_SETTLE_ROUNDS {
            match self.next_timer(until) {
                Some(t) => {
                    self.now = t;
                    self.settle()?;
                }
                None => {
                    self.now = until;
                    return Ok(());
                }
            }
        }
        Err("too many timers while advancing".to_owned())
    }

    /// Is `job` a system-like job (evaluated when nodes join)?
    fn system_jobs(&self) -> Vec<(String, JobId)> {
        self.versions
            .keys()
            .filter(|key| {
                self.state.view().job(&key.0, &key.1).is_some_and(|j| {
                    matches!(j.job_type, JobType::System | JobType::Sysbatch) && !j.stop
                })
            })
            .cloned()
            .collect()
    }

    fn deployment_summaries(&self, jobs: &BTreeSet<(String, JobId)>) -> Vec<DeploymentSummary> {
        jobs.iter()
            .filter_map(|key| self.state.view().latest_deployment(&key.0, &key.1))
            .map(DeploymentSummary::of)
            .collect()
    }

    fn allocation_summaries(&self) -> Vec<AllocationSummary> {
        let view = self.state.view();
        let mut allocs: Vec<&Allocation> = self
            .versions
            .keys()
            .flat_map(|key| view.allocs_by_job(&key.0, &key.1))
            .collect();
        allocs.sort_by(|a, b| {
            (
                a.job_id.as_str(),
                crate::scheduler::name_index(&a.name),
                a.create_index,
            )
                .cmp(&(
                    b.job_id.as_str(),
                    crate::scheduler::name_index(&b.name),
                    b.create_index,
                ))
        });
        allocs.into_iter().map(AllocationSummary::of).collect()
    }
}

/// An evaluation's `WaitUntil`, if set.
fn wait_until(eval: &Evaluation) -> Option<i64> {
    (!eval.wait_until.is_empty())
        .then(|| parse_rfc3339_nanos(&eval.wait_until))
        .flatten()
}

/// The first 8 characters of an id, as Nomad's CLI shows them.
pub(crate) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Virtual time since the start, as `+1m30s`.
fn format_offset(nanos: i64) -> String {
    format!("+{}", crate::model::Duration(nanos))
}

/// RFC 3339 time for reports.
#[allow(dead_code)]
fn format_time(nanos: i64) -> String {
    format_rfc3339_nanos(nanos)
}
