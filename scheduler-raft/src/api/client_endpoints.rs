//! The client endpoints, answered by the agent whose client runs the
//! allocation: `/v1/client/allocation/:id/{stats,restart,signal}` and
//! `/v1/client/fs/logs/:id`. Any agent accepts them: [`super::forward`]
//! sends a request for an allocation that runs elsewhere to the agent that
//! runs it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;

use scheduler_core::model::Allocation;
use scheduler_core::model::serde_util::null_as_default;

use super::LocalClient;
use super::body::decode;
use super::error::ApiError;
use super::logs;

/// What the client endpoints work with: the agent's own client, if it
/// runs one.
#[derive(Clone)]
pub(super) struct ClientSide {
    pub(super) client: Option<Arc<dyn LocalClient>>,
}

pub(super) type ClientCtx = Arc<ClientSide>;

impl ClientSide {
    /// The agent's client, or the error Nomad gives a server-only agent.
    pub(super) fn client(&self) -> Result<&Arc<dyn LocalClient>, ApiError> {
        self.client
            .as_ref()
            .ok_or_else(|| ApiError::BadRequest("this agent does not run a client".to_owned()))
    }

    /// The allocation (by id or unique prefix) as the agent's client runs
    /// it.
    pub(super) fn alloc(&self, id: &str) -> Result<Allocation, ApiError> {
        self.client()?.allocation(id).ok_or_else(|| {
            ApiError::NotFound(format!("allocation {id} does not run on this client"))
        })
    }
}

pub(super) fn routes() -> Router<ClientCtx> {
    Router::new()
        .route("/v1/client/allocation/{id}/stats", get(alloc_stats))
        .route(
            "/v1/client/allocation/{id}/restart",
            post(restart_alloc).put(restart_alloc),
        )
        .route(
            "/v1/client/allocation/{id}/signal",
            post(signal_alloc).put(signal_alloc),
        )
        .route("/v1/client/fs/logs/{id}", get(logs::alloc_logs))
}

async fn alloc_stats(
    State(ctx): State<ClientCtx>,
    Path(id): Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let alloc = ctx.alloc(&id)?;
    let stats = ctx
        .client()?
        .stats(alloc.id.as_str())
        .await
        .map_err(ApiError::Internal)?;
    Ok(axum::Json(stats))
}

/// `alloc restart`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct RestartRequest {
    #[serde(deserialize_with = "null_as_default")]
    task_name: String,
    #[serde(deserialize_with = "null_as_default")]
    all_tasks: bool,
}

async fn restart_alloc(
    State(ctx): State<ClientCtx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let request: RestartRequest = if body.is_empty() {
        RestartRequest::default()
    } else {
        decode(&body)?
    };
    let alloc = ctx.alloc(&id)?;
    let task =
        (!request.all_tasks && !request.task_name.is_empty()).then_some(request.task_name.as_str());
    ctx.client()?
        .restart(alloc.id.as_str(), task)
        .await
        .map_err(ApiError::BadRequest)?;
    Ok(axum::Json(serde_json::json!({})))
}

/// `alloc signal`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct SignalRequest {
    #[serde(deserialize_with = "null_as_default")]
    task: String,
    #[serde(deserialize_with = "null_as_default")]
    signal: String,
}

async fn signal_alloc(
    State(ctx): State<ClientCtx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let request: SignalRequest = if body.is_empty() {
        SignalRequest::default()
    } else {
        decode(&body)?
    };
    let alloc = ctx.alloc(&id)?;
    let signal = if request.signal.is_empty() {
        "SIGKILL"
    } else {
        request.signal.as_str()
    };
    let task = (!request.task.is_empty()).then_some(request.task.as_str());
    ctx.client()?
        .signal(alloc.id.as_str(), task, signal)
        .await
        .map_err(ApiError::BadRequest)?;
    Ok(axum::Json(serde_json::json!({})))
}
