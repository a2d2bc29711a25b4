//! The simulation loop: register jobs one after another against an
//! in-memory cluster, each evaluation seeing the previous plans applied,
//! as a single server would.

use std::collections::BTreeMap;

use crate::model::{AllocMetric, EvalTrigger, Evaluation, Job, JobId, Node};
use crate::plan::{PlanResult, apply_plan, check_plan};
use crate::scheduler::{SchedulerEnv, SchedulerResult, schedule};
use crate::state::{MemoryState, StateError};

/// What registering one job did.
#[derive(Debug, Clone)]
pub struct JobOutcome {
    /// The job's id.
    pub job_id: JobId,
    /// The scheduler's result for the registration's evaluation.
    pub result: SchedulerResult,
    /// What the plan check accepted.
    pub plan_result: PlanResult,
}

/// An in-memory cluster jobs are registered against.
#[derive(Debug, Clone)]
pub struct Simulation {
    state: MemoryState,
    seed: u64,
    now: i64,
    evaluations: u64,
    outcomes: Vec<JobOutcome>,
}

impl Simulation {
    /// A cluster of `nodes`. `seed` drives every random choice; `now`
    /// (Unix nanoseconds) is stamped on what is created.
    pub fn new(nodes: Vec<Node>, seed: u64, now: i64) -> Result<Self, StateError> {
        let mut state = MemoryState::new();
        state.upsert_nodes(1, nodes)?;
        Ok(Simulation {
            state,
            seed,
            now,
            evaluations: 0,
            outcomes: Vec::new(),
        })
    }

    /// The cluster state.
    pub fn state(&self) -> &MemoryState {
        &self.state
    }

    /// The state, for embedders that change nodes or configuration
    /// between registrations.
    pub fn state_mut(&mut self) -> &mut MemoryState {
        &mut self.state
    }

    /// What each registration did, in order.
    pub fn outcomes(&self) -> &[JobOutcome] {
        &self.outcomes
    }

    /// Registers (or updates) a job and processes its evaluation: the plan
    /// goes through the plan check and its accepted part is applied.
    pub fn register(&mut self, job: Job) -> Result<&JobOutcome, StateError> {
        let index = self.state.index() + 1;
        self.state.upsert_job(index, job.clone())?;
        let stored = {
            use crate::state::StateSnapshot;
            self.state
                .view()
                .job(&job.namespace, &job.id)
                .cloned()
                .unwrap_or(job)
        };
        let eval = self.evaluation(&stored, EvalTrigger::JobRegister);
        self.process(eval, stored.id)
    }

    /// Processes one evaluation against the current state.
    pub fn process(&mut self, eval: Evaluation, job_id: JobId) -> Result<&JobOutcome, StateError> {
        self.state
            .upsert_eval(self.state.index() + 1, eval.clone())?;
        let snapshot = self.state.snapshot();
        let env = SchedulerEnv {
            now: self.now,
            seed: self.seed,
        };
        let result = schedule(&snapshot, &eval, &env);
        let plan_result = check_plan(self.state.view(), &result.plan);
        let index = self.state.index() + 1;
        apply_plan(&mut self.state, index, &plan_result)?;
        self.state.upsert_eval(index, result.eval_update.clone())?;
        for created in &result.created_evals {
            self.state.upsert_eval(index, created.clone())?;
        }
        self.outcomes.push(JobOutcome {
            job_id,
            result,
            plan_result,
        });
        Ok(self.outcomes.last().expect("just pushed"))
    }

    /// A pending evaluation for `job`, with an id derived from the seed and
    /// a counter.
    pub fn evaluation(&mut self, job: &Job, trigger: EvalTrigger) -> Evaluation {
        self.evaluations += 1;
        super::evaluations::pending_evaluation(
            b"simulated evaluation",
            self.seed,
            self.evaluations,
            job,
            trigger,
            self.now,
        )
    }

    /// The latest failure metric per `"JOB/GROUP"`: a later registration of
    /// the same job replaces its earlier failures.
    pub fn failures(&self) -> BTreeMap<String, AllocMetric> {
        let mut latest: BTreeMap<&JobId, &JobOutcome> = BTreeMap::new();
        for outcome in &self.outcomes {
            latest.insert(&outcome.job_id, outcome);
        }
        let mut failures = BTreeMap::new();
        for (job_id, outcome) in latest {
            for failure in &outcome.result.failures {
                let mut metric = failure.metric.clone();
                metric.coalesced_failures = failure.unplaced.saturating_sub(1);
                failures.insert(
                    format!("{}/{}", job_id.as_str(), failure.task_group),
                    metric,
                );
            }
        }
        failures
    }
}
