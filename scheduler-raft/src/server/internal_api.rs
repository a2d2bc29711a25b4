//! The internal HTTP API servers use among themselves: forwarded writes,
//! joins, peers, status, read index, state dumps, snapshots, peer removal
//! and leader-only requests.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::cluster_state::ClusterDump;
use crate::command::{Command, CommandResponse};
use crate::state_machine::SharedState;
use crate::types::{Raft, ServerId};

use super::{Peer, ServerError, ServerStatus, add_voter, peers_of, status_of, write_via};

/// A server's request to join.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    /// Its id.
    pub id: ServerId,
    /// Its address.
    pub address: String,
}

#[derive(Clone)]
pub(super) struct InternalApi {
    pub(super) raft: Raft,
    pub(super) shared: SharedState,
    /// The server's client (one connection pool for every forward).
    pub(super) http: reqwest::Client,
    /// The leader's batching of writes.
    pub(super) proposer: super::Proposer,
    /// The handler of leader-only requests, once installed.
    pub(super) leader_service: super::ServiceSlot,
    /// The index this server has applied (blocking queries wait on it).
    pub(super) applied: tokio::sync::watch::Receiver<u64>,
    /// The agent's public HTTP API address, once set.
    pub(super) http_api_addr: super::HttpApiAddr,
}

/// A client's blocking query for its node's allocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeAllocsQuery {
    /// The node.
    pub node: String,
    /// Answer once the allocation table moves past this index.
    #[serde(default)]
    pub index: u64,
    /// The longest wait, in milliseconds (at most 5 minutes).
    #[serde(default)]
    pub wait_ms: u64,
}

/// The answer: the node's allocations at `index`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeAllocs {
    /// The allocation table's index the answer reflects.
    pub index: u64,
    /// Every allocation placed on the node.
    pub allocs: Vec<scheduler_core::model::Allocation>,
}

pub(super) fn internal_routes(api: InternalApi) -> Router {
    Router::new()
        .route("/v1/internal/apply", post(apply_on_leader))
        .route("/v1/internal/write", post(write_anywhere))
        .route("/v1/internal/join", post(join_on_leader))
        .route("/v1/internal/peers", get(internal_peers))
        .route("/v1/internal/read-index", get(leader_read_index))
        .route("/v1/internal/status", get(internal_status))
        .route("/v1/internal/http-addr", get(internal_http_addr))
        .route("/v1/internal/state", get(internal_state))
        .route("/v1/internal/node-allocs", get(node_allocs))
        .route(
            "/v1/internal/snapshot",
            get(snapshot_save_here)
                .put(snapshot_restore_anywhere)
                .layer(axum::extract::DefaultBodyLimit::max(SNAPSHOT_BODY_LIMIT)),
        )
        .route("/v1/internal/peers/remove", post(remove_peer_anywhere))
        .route(
            "/v1/internal/leader",
            post(super::leader_service::leader_request_here),
        )
        .route(
            "/v1/internal/leader-call",
            post(super::leader_service::leader_call_anywhere),
        )
        // Forwarded writes carry whole plans.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::network::MAX_RPC_BYTES,
        ))
        .with_state(api)
}

/// Applies a forwarded write if this server leads; never forwards again
/// (the caller retries against whoever leads now).
async fn apply_on_leader(
    State(api): State<InternalApi>,
    Json(command): Json<Command>,
) -> Json<Result<CommandResponse, String>> {
    Json(
        api.proposer
            .propose(command)
            .await
            .map_err(|err| err.to_string()),
    )
}

/// Applies a write through whoever leads (forwarding as needed): the entry
/// point for clients that may reach any server.
async fn write_anywhere(
    State(api): State<InternalApi>,
    Json(command): Json<Command>,
) -> Json<Result<CommandResponse, String>> {
    Json(
        write_via(&api.raft, &api.proposer, &api.http, command)
            .await
            .map_err(|err| err.to_string()),
    )
}

/// A server asking to join: the leader adds it as a voter.
async fn join_on_leader(
    State(api): State<InternalApi>,
    Json(request): Json<JoinRequest>,
) -> Json<Result<(), String>> {
    Json(
        add_voter(&api.raft, request.id, request.address)
            .await
            .map_err(|err| err.to_string()),
    )
}

async fn internal_peers(State(api): State<InternalApi>) -> Json<Vec<Peer>> {
    Json(peers_of(&api.raft))
}

async fn leader_read_index(State(api): State<InternalApi>) -> Json<Result<u64, String>> {
    Json(
        api.raft
            .ensure_linearizable()
            .await
            .map(|id| id.map_or(0, |id| id.index))
            .map_err(|err| err.to_string()),
    )
}

async fn internal_status(State(api): State<InternalApi>) -> Json<ServerStatus> {
    Json(status_of(&api.raft))
}

/// The agent's public HTTP API address (empty while it serves none).
async fn internal_http_addr(State(api): State<InternalApi>) -> Json<String> {
    Json(api.http_api_addr.get().cloned().unwrap_or_default())
}

/// A node's allocations as this server has applied them, once the
/// allocation table moved past `index` or `wait_ms` passed (Nomad's
/// blocking query, answered by any server).
async fn node_allocs(
    State(api): State<InternalApi>,
    axum::extract::Query(query): axum::extract::Query<NodeAllocsQuery>,
) -> Json<NodeAllocs> {
    use crate::cluster_state::Table;
    use scheduler_core::state::StateSnapshot;
    let table_index = |api: &InternalApi| {
        api.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .table_index(Table::Allocs)
    };
    let wait = std::time::Duration::from_millis(query.wait_ms.min(300_000));
    let deadline = tokio::time::Instant::now() + wait;
    let mut applied = api.applied.clone();
    while table_index(&api) <= query.index {
        match tokio::time::timeout_at(deadline, applied.changed()).await {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    let shared = api.shared.read().unwrap_or_else(|e| e.into_inner());
    let node = scheduler_core::model::NodeId::new(query.node.as_str());
    let snapshot = shared.state.snapshot();
    Json(NodeAllocs {
        index: shared.state.table_index(Table::Allocs),
        allocs: snapshot.allocs_by_node(&node).cloned().collect(),
    })
}

/// This server's state, without consulting the leader.
async fn internal_state(State(api): State<InternalApi>) -> Json<ClusterDump> {
    let state = api
        .shared
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .state
        .clone();
    Json(state.dump())
}

/// The largest snapshot file `PUT /v1/internal/snapshot` reads; larger
/// than one Raft entry may be, so an oversized file gets the operator's
/// explanation rather than a bare 413.
const SNAPSHOT_BODY_LIMIT: usize = crate::network::MAX_RPC_BYTES;

/// `GET /v1/internal/snapshot`: the whole state as a snapshot file, read
/// linearizably here (the leader names its commit index; this server
/// answers once it applied that far), so any server can be asked.
async fn snapshot_save_here(State(api): State<InternalApi>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match crate::operator::save_file(&api.raft, &api.http, &api.shared).await {
        Ok(file) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            file.to_bytes(),
        )
            .into_response(),
        Err(err) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(Err::<(), String>(err.to_string())),
        )
            .into_response(),
    }
}

/// `PUT /v1/internal/snapshot`: replaces the cluster's state with the
/// snapshot file in the body, through the leader (the normal write path).
async fn snapshot_restore_anywhere(
    State(api): State<InternalApi>,
    body: axum::body::Bytes,
) -> (
    axum::http::StatusCode,
    Json<Result<crate::operator::RestoreOutcome, String>>,
) {
    use crate::operator::OperatorError;
    use axum::http::StatusCode;
    match crate::operator::restore_via(&api.raft, &api.proposer, &api.http, &body).await {
        Ok(outcome) => (StatusCode::OK, Json(Ok(outcome))),
        Err(err) => {
            let status = match &err {
                OperatorError::Snapshot(_) => StatusCode::BAD_REQUEST,
                OperatorError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                OperatorError::Server(ServerError::NoLeader(_)) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, Json(Err(err.to_string())))
        }
    }
}

/// `POST /v1/internal/peers/remove` `{"id": ..}`: removes a server from the
/// configuration, through the leader. A request another server forwarded
/// is only tried here (409 if this server no longer leads).
async fn remove_peer_anywhere(
    State(api): State<InternalApi>,
    headers: axum::http::HeaderMap,
    Json(request): Json<crate::operator::RemovePeerRequest>,
) -> (axum::http::StatusCode, Json<Result<(), String>>) {
    use axum::http::StatusCode;
    let answer = if headers.contains_key(crate::operator::FORWARDED_HEADER) {
        match crate::operator::remove_peer_here(&api.raft, request.id).await {
            Ok(Some(())) => Ok(()),
            Ok(None) => {
                return (StatusCode::CONFLICT, Json(Err("not the leader".to_owned())));
            }
            Err(err) => Err(err),
        }
    } else {
        crate::operator::remove_peer_via(&api.raft, &api.http, request.id).await
    };
    match answer {
        Ok(()) => (StatusCode::OK, Json(Ok(()))),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(Err(err.to_string())),
        ),
    }
}
