//! `job plan`: what registering a job would do, computed on a copy of the
//! state without changing it (Nomad's `Job.Plan`).

use crate::model::api::JobPlanResponse;
use crate::model::{Evaluation, Job};
use crate::plan::check_index::plan_check_index;
use crate::plan::diff::{annotate, job_diff};
use crate::scheduler::{SchedulerEnv, SchedulerResult, schedule};
use crate::state::{MemoryState, StateError, StateSnapshot};

/// What a dry run found: the answer `POST /v1/job/:id/plan` gives, and the
/// scheduler's whole result for callers that explain placements.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The API answer (diff only when asked for).
    pub response: JobPlanResponse,
    /// The scheduler's result on the scratch state.
    pub result: SchedulerResult,
}

/// Registers `job` on a scratch copy of `state` (copy-on-write: a dozen
/// reference counts), schedules `eval` for it there and reports what the
/// scheduler would do. `eval` only needs its id, type and priority; its job
/// fields are filled here. Same inputs, same answer.
pub fn plan_job(
    state: &MemoryState,
    job: Job,
    mut eval: Evaluation,
    with_diff: bool,
    env: &SchedulerEnv,
) -> Result<DryRun, StateError> {
    let current = state.view().job(&job.namespace, &job.id).cloned();
    let mut scratch = state.clone();
    let index = scratch.index() + 1;
    scratch.upsert_job(index, job.clone())?;
    let stored = scratch
        .view()
        .job(&job.namespace, &job.id)
        .cloned()
        .unwrap_or(job);
    eval.namespace = stored.namespace.clone().into();
    eval.job_id = stored.id.clone();
    eval.job_modify_index = stored.job_modify_index;
    eval.annotate_plan = true;
    let snapshot = scratch.snapshot();
    let result = schedule(&snapshot, &eval, env);
    let diff = with_diff.then(|| {
        let mut diff = job_diff(current.as_ref(), &stored);
        annotate(
            &mut diff,
            current.as_ref(),
            &stored,
            result.plan.annotations.as_ref(),
        );
        diff
    });
    let response = JobPlanResponse {
        job_modify_index: plan_check_index(current.as_ref()),
        created_evals: result.created_evals.clone(),
        diff,
        annotations: result.plan.annotations.clone(),
        failed_tg_allocs: result.eval_update.failed_tg_allocs.clone(),
        next_periodic_launch: String::new(),
        warnings: String::new(),
    };
    Ok(DryRun { response, result })
}
