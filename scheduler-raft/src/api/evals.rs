//! Evaluations: `/v1/evaluations`, `/v1/evaluation/:id` and its
//! allocations.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;

use scheduler_core::model::api::AllocListStub;
use scheduler_core::model::{EvalId, Evaluation};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::Ctx;
use super::error::ApiError;
use super::query::{Answer, Query, apply_filter, paginate};
use crate::cluster_state::Table;

pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v1/evaluations", get(list_evals))
        .route("/v1/evaluation/{id}", get(get_eval))
        .route("/v1/evaluation/{id}/allocations", get(eval_allocs))
}

async fn list_evals(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<Evaluation>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let filter = query.filter()?;
    let (snapshot, index) = ctx.read(&query, &[Table::Evals]).await?;
    let prefix = query.text("prefix");
    let job = query.text("job");
    let status = query.text("status");
    let evals: Vec<Evaluation> = snapshot
        .evals()
        .filter(|eval| query.selects_namespace(eval.namespace.as_str()))
        .filter(|eval| eval.id.as_str().starts_with(prefix))
        .filter(|eval| job.is_empty() || eval.job_id.as_str() == job)
        .filter(|eval| {
            status.is_empty() || serde_json::to_value(eval.status).is_ok_and(|v| v == status)
        })
        .cloned()
        .collect();
    let evals = apply_filter(evals, filter.as_ref());
    let (page, next) = paginate(evals, &query, |eval| eval.id.as_str().to_owned())?;
    let mut answer = ctx.answer(page, index);
    answer.next_token = next;
    Ok(answer)
}

fn find_eval<'a>(snapshot: &'a MemorySnapshot, id: &str) -> Result<&'a Evaluation, ApiError> {
    super::query::exact_or_prefix(
        snapshot.evaluation(&EvalId::new(id)),
        snapshot.evals(),
        |item| item.id.as_str(),
        id,
        "evaluation",
        "eval not found",
    )
}

async fn get_eval(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Evaluation>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (snapshot, index) = ctx.read(&query, &[Table::Evals]).await?;
    Ok(ctx.answer(find_eval(&snapshot, &id)?.clone(), index))
}

async fn eval_allocs(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<AllocListStub>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (snapshot, index) = ctx.read(&query, &[Table::Allocs, Table::Evals]).await?;
    let eval = find_eval(&snapshot, &id)?;
    let stubs = snapshot
        .allocs_by_job(eval.namespace.as_str(), &eval.job_id)
        .filter(|alloc| alloc.eval_id == eval.id)
        .map(AllocListStub::from_alloc)
        .collect();
    Ok(ctx.answer(stubs, index))
}
