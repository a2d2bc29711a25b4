//! Deployments: `/v1/deployments`, `/v1/deployment/:id`, its
//! allocations, and `promote`, `fail`, `pause` and `allocation-health`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};

use scheduler_core::model::api::{
    AllocListStub, DeploymentAllocHealthRequest, DeploymentPauseRequest, DeploymentPromoteRequest,
    DeploymentUpdateResponse,
};
use scheduler_core::model::timestamp::format_rfc3339_nanos;
use scheduler_core::model::{AllocDeploymentStatus, AllocId, Deployment, DeploymentId};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::Ctx;
use super::body::decode;
use super::error::ApiError;
use super::query::{Answer, Query, apply_filter, paginate};
use crate::cluster_state::Table;

pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v1/deployments", get(list_deployments))
        .route("/v1/deployment/{id}", get(get_deployment))
        .route("/v1/deployment/allocations/{id}", get(deployment_allocs))
        .route("/v1/deployment/promote/{id}", post(promote).put(promote))
        .route("/v1/deployment/fail/{id}", post(fail).put(fail))
        .route("/v1/deployment/pause/{id}", post(pause).put(pause))
        .route(
            "/v1/deployment/allocation-health/{id}",
            post(alloc_health).put(alloc_health),
        )
}

async fn list_deployments(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<Deployment>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let filter = query.filter()?;
    let (snapshot, index) = ctx.read(&query, &[Table::Deployments]).await?;
    let prefix = query.text("prefix");
    let deployments: Vec<Deployment> = snapshot
        .deployments()
        .filter(|d| query.selects_namespace(d.namespace.as_str()))
        .filter(|d| d.id.as_str().starts_with(prefix))
        .cloned()
        .collect();
    let deployments = apply_filter(deployments, filter.as_ref());
    let (page, next) = paginate(deployments, &query, |d| d.id.as_str().to_owned())?;
    let mut answer = ctx.answer(page, index);
    answer.next_token = next;
    Ok(answer)
}

fn find_deployment<'a>(snapshot: &'a MemorySnapshot, id: &str) -> Result<&'a Deployment, ApiError> {
    super::query::exact_or_prefix(
        snapshot.deployment(&DeploymentId::new(id)),
        snapshot.deployments(),
        |item| item.id.as_str(),
        id,
        "deployment",
        "deployment not found",
    )
}

async fn get_deployment(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Deployment>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (snapshot, index) = ctx.read(&query, &[Table::Deployments]).await?;
    Ok(ctx.answer(find_deployment(&snapshot, &id)?.clone(), index))
}

async fn deployment_allocs(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<AllocListStub>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (snapshot, index) = ctx
        .read(&query, &[Table::Allocs, Table::Deployments])
        .await?;
    let deployment = find_deployment(&snapshot, &id)?;
    let stubs = snapshot
        .allocs_by_job(deployment.namespace.as_str(), &deployment.job_id)
        .filter(|alloc| alloc.deployment_id == deployment.id)
        .map(AllocListStub::from_alloc)
        .collect();
    Ok(ctx.answer(stubs, index))
}

/// The answer after a change to `deployment`.
fn updated(ctx: &Ctx, deployment: &DeploymentId) -> Answer<DeploymentUpdateResponse> {
    let snapshot = ctx.server.read_stale();
    let index = ctx.server.table_index(Table::Deployments);
    let modify_index = snapshot
        .deployment(deployment)
        .map_or(index, |d| d.modify_index);
    ctx.answer(
        DeploymentUpdateResponse {
            eval_id: String::new(),
            eval_create_index: index,
            deployment_modify_index: modify_index,
            reverted_job_version: None,
            index,
        },
        index,
    )
}

async fn resolve(ctx: &Ctx, id: &str) -> Result<DeploymentId, ApiError> {
    let snapshot = ctx.server.read_consistent().await?;
    Ok(find_deployment(&snapshot, id)?.id.clone())
}

/// `deployment promote`: all groups, or the named ones.
async fn promote(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Answer<DeploymentUpdateResponse>, ApiError> {
    let request: DeploymentPromoteRequest = if body.is_empty() {
        DeploymentPromoteRequest {
            all: true,
            ..DeploymentPromoteRequest::default()
        }
    } else {
        decode(&body)?
    };
    let id = resolve(&ctx, &id).await?;
    let groups = (!request.all && !request.groups.is_empty()).then_some(request.groups);
    ctx.control.promote_deployment(&id, groups).await?;
    Ok(updated(&ctx, &id))
}

async fn fail(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
) -> Result<Answer<DeploymentUpdateResponse>, ApiError> {
    let id = resolve(&ctx, &id).await?;
    ctx.control.fail_deployment(&id).await?;
    Ok(updated(&ctx, &id))
}

/// `deployment pause` and `deployment resume`.
async fn pause(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Answer<DeploymentUpdateResponse>, ApiError> {
    let request: DeploymentPauseRequest = decode(&body)?;
    let id = resolve(&ctx, &id).await?;
    ctx.control.pause_deployment(&id, request.pause).await?;
    Ok(updated(&ctx, &id))
}

/// Marks allocations healthy or unhealthy by hand (a group whose update
/// block says `health_check = "manual"`).
async fn alloc_health(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Answer<DeploymentUpdateResponse>, ApiError> {
    let request: DeploymentAllocHealthRequest = decode(&body)?;
    let snapshot = ctx.server.read_consistent().await?;
    let deployment = find_deployment(&snapshot, &id)?;
    let now = format_rfc3339_nanos(crate::clock::now_unix_nanos());
    let mut allocs = Vec::new();
    let marks = request
        .healthy_allocation_ids
        .iter()
        .map(|id| (id, true))
        .chain(
            request
                .unhealthy_allocation_ids
                .iter()
                .map(|id| (id, false)),
        );
    for (alloc_id, healthy) in marks {
        let Some(alloc) = snapshot.alloc(&AllocId::new(alloc_id.as_str())) else {
            return Err(ApiError::NotFound(format!(
                "allocation {alloc_id} not found"
            )));
        };
        if alloc.deployment_id != deployment.id {
            return Err(ApiError::BadRequest(format!(
                "allocation {alloc_id} is not part of deployment {}",
                deployment.id
            )));
        }
        let mut update = alloc.clone();
        update.job = None;
        let canary = update.is_canary();
        update.deployment_status = Some(Box::new(AllocDeploymentStatus {
            healthy: Some(healthy),
            timestamp: now.clone(),
            canary,
            ..AllocDeploymentStatus::default()
        }));
        allocs.push(update);
    }
    let deployment_id = deployment.id.clone();
    ctx.control.update_allocs_from_client(allocs).await?;
    Ok(updated(&ctx, &deployment_id))
}
