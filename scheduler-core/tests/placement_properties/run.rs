//! Running a scenario through a [`Simulation`], one checked registration
//! at a time.

use std::collections::{BTreeMap, BTreeSet};

use proptest::test_runner::TestCaseError;
use scheduler_core::model::{Allocation, Job, Node};
use scheduler_core::scheduler::{SchedulerAlgorithm, SchedulerConfiguration};
use scheduler_core::simulate::{JobOutcome, Simulation};
use scheduler_core::state::StateSnapshot;

use crate::generators::{JobSpec, Scenario};
use crate::render::{build_node, job_id, parse_job, render_job};

pub(crate) const NOW: i64 = 1_764_000_000_000_000_000;

// ---------------------------------------------------------------------------
// Running a scenario
// ---------------------------------------------------------------------------

/// One registration, after its plan was checked and applied.
pub(crate) struct Step<'a> {
    pub(crate) sim: &'a Simulation,
    pub(crate) spec: &'a JobSpec,
    pub(crate) job: &'a Job,
    pub(crate) outcome: &'a JobOutcome,
    /// Live allocations of the job per group before the registration.
    pub(crate) live_before: BTreeMap<String, usize>,
    /// Whether the job was registered for the first time.
    pub(crate) fresh: bool,
    /// Every job registered so far, as stored.
    pub(crate) all_jobs: Vec<Job>,
}

pub(crate) fn live_allocs_of_job<'s>(
    state: &'s dyn StateSnapshot,
    job: &Job,
) -> Vec<&'s Allocation> {
    state
        .allocs_by_job(&job.namespace, &job.id)
        .filter(|a| !a.is_terminal())
        .collect()
}

/// Registers the scenario's jobs in order, calling `check` after each
/// registration; returns the outcomes' results as JSON.
pub(crate) fn run_scenario(
    scenario: &Scenario,
    mut check: impl FnMut(&Step<'_>) -> Result<(), String>,
) -> Result<Vec<String>, TestCaseError> {
    let nodes: Vec<Node> = scenario
        .nodes
        .iter()
        .enumerate()
        .map(|(i, spec)| build_node(i, spec))
        .collect();
    let mut sim = Simulation::new(nodes, scenario.seed, NOW)
        .map_err(|e| TestCaseError::fail(format!("nodes do not register: {e}")))?;
    if scenario.spread_algorithm {
        let index = sim.state().index() + 1;
        sim.state_mut()
            .set_scheduler_config(
                index,
                SchedulerConfiguration {
                    scheduler_algorithm: SchedulerAlgorithm::Spread,
                    ..SchedulerConfiguration::default()
                },
            )
            .map_err(|e| TestCaseError::fail(format!("scheduler config: {e}")))?;
    }
    let mut registrations: Vec<(usize, String)> = scenario
        .jobs
        .iter()
        .enumerate()
        .map(|(i, spec)| (i, render_job(i, spec, None)))
        .collect();
    if let Some(counts) = &scenario.rescale {
        registrations.push((0, render_job(0, &scenario.jobs[0], Some(counts))));
    }
    let mut seen = BTreeSet::new();
    let mut results = Vec::new();
    for (index, source) in &registrations {
        let job = parse_job(source)?;
        let live_before = {
            let state = sim.state().view();
            let mut per_group: BTreeMap<String, usize> = BTreeMap::new();
            for alloc in live_allocs_of_job(state, &job) {
                *per_group.entry(alloc.task_group.clone()).or_default() += 1;
            }
            per_group
        };
        let fresh = seen.insert(*index);
        let outcome = sim
            .register(job.clone())
            .map_err(|e| TestCaseError::fail(format!("register {}: {e}", job_id(*index))))?
            .clone();
        results.push(
            serde_json::to_string(&outcome.result)
                .map_err(|e| TestCaseError::fail(format!("result does not serialise: {e}")))?,
        );
        let stored = sim
            .state()
            .view()
            .job(&job.namespace, &job.id)
            .cloned()
            .unwrap_or(job);
        let all_jobs: Vec<Job> = seen
            .iter()
            .filter_map(|i| {
                let id = job_id(*i);
                sim.state()
                    .view()
                    .job(&stored.namespace, &id.as_str().into())
                    .cloned()
            })
            .collect();
        let step = Step {
            all_jobs,
            sim: &sim,
            spec: &scenario.jobs[*index],
            job: &stored,
            outcome: &outcome,
            live_before,
            fresh,
        };
        check(&step).map_err(|message| {
            TestCaseError::fail(format!(
                "after registering {} (seed {}):\n{message}\n--- job ---\n{source}",
                job_id(*index),
                scenario.seed
            ))
        })?;
    }
    Ok(results)
}
