//! Allocations: `/v1/allocations`, `/v1/allocation/:id` (and `/stop`). The
//! client endpoints (`/v1/client/...`) are in [`super::client_endpoints`].

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};

use scheduler_core::model::api::{AllocListStub, AllocStopResponse};
use scheduler_core::model::{AllocId, Allocation, EvalTrigger};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::Ctx;
use super::error::ApiError;
use super::query::{Answer, Query, apply_filter, paginate};
use crate::cluster_state::Table;
use crate::command::Command;
use crate::control::new_evaluation;

pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v1/allocations", get(list_allocs))
        .route("/v1/allocation/{id}", get(get_alloc))
        .route("/v1/allocation/{id}/stop", post(stop_alloc).put(stop_alloc))
}

async fn list_allocs(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<AllocListStub>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let filter = query.filter()?;
    let (snapshot, index) = ctx.read(&query, &[Table::Allocs]).await?;
    let prefix = query.text("prefix");
    let stubs: Vec<AllocListStub> = snapshot
        .allocs()
        .filter(|alloc| query.selects_namespace(alloc.namespace.as_str()))
        .filter(|alloc| alloc.id.as_str().starts_with(prefix))
        .map(AllocListStub::from_alloc)
        .collect();
    let stubs = apply_filter(stubs, filter.as_ref());
    let (page, next) = paginate(stubs, &query, |stub| stub.id.clone())?;
    let mut answer = ctx.answer(page, index);
    answer.next_token = next;
    Ok(answer)
}

/// The allocation with this id, or a unique allocation with this id
/// prefix (the CLI's short ids).
pub(super) fn find_alloc<'a>(
    snapshot: &'a MemorySnapshot,
    id: &str,
) -> Result<&'a Allocation, ApiError> {
    super::query::exact_or_prefix(
        snapshot.alloc(&AllocId::new(id)),
        snapshot.allocs(),
        |item| item.id.as_str(),
        id,
        "allocation",
        "alloc not found",
    )
}

async fn get_alloc(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Allocation>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (snapshot, index) = ctx.read(&query, &[Table::Allocs]).await?;
    let alloc = find_alloc(&snapshot, &id)?.clone();
    Ok(ctx.answer(alloc, index))
}

/// `alloc stop`: marks the allocation to migrate and evaluates its job,
/// so the scheduler stops it and places a replacement.
async fn stop_alloc(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
) -> Result<Answer<AllocStopResponse>, ApiError> {
    let snapshot = ctx.server.read_consistent().await?;
    let alloc = find_alloc(&snapshot, &id)?;
    let Some(job) = snapshot
        .job(alloc.namespace.as_str(), &alloc.job_id)
        .or(alloc.job.as_deref())
    else {
        return Err(ApiError::NotFound(
            "job of the allocation not found".to_owned(),
        ));
    };
    let now = crate::clock::now_unix_nanos();
    let eval = new_evaluation(job, EvalTrigger::AllocStop, now);
    let mut marked = alloc.clone();
    marked.job = None;
    marked.desired_transition.migrate = Some(true);
    let response = ctx
        .server
        .write(Command::Batch(vec![
            Command::UpsertAllocs {
                allocs: vec![marked],
            },
            Command::UpsertEvals {
                evals: vec![eval.clone()],
            },
        ]))
        .await?;
    response.result.clone().map_err(ApiError::from)?;
    Ok(ctx.answer(
        AllocStopResponse {
            eval_id: eval.id.as_str().to_owned(),
            index: response.index,
        },
        response.index,
    ))
}
