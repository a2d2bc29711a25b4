//! Requests only the leader can answer, from any server.
//!
//! Some operations act on state the leader keeps in memory rather than in
//! the log: a node's heartbeat resets a timer in the leader's heartbeat
//! tracker; promoting a deployment or dispatching a job runs in the
//! leader's loops. A layer above the server (the control plane) installs a
//! [`LeaderService`] on each server; [`Server::call_leader`] runs a request
//! there if this server leads, and otherwise forwards it to the leader's
//! `POST /v1/internal/leader`, retrying through elections.
//!
//! Requests and answers are JSON values so the server stays ignorant of
//! the control plane's types.
//!
//! [`Server::call_leader`]: super::Server::call_leader

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::internal_api::InternalApi;
use super::{LEADER_WAIT, ServerError, leader_addr, status_of};
use crate::types::Raft;

/// Why a leader-only request was not answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum LeaderCallError {
    /// The server asked does not lead, or its leader loops are not running
    /// yet: ask again (the caller retries while an election settles).
    #[error("not the leader")]
    NotLeader,
    /// The leader answered with an error the caller must see.
    #[error("{0}")]
    Failed(Value),
}

/// What a leader-only request answers.
pub type LeaderCallResult = Result<Value, LeaderCallError>;

/// The leader-side handler of requests forwarded by other servers.
pub trait LeaderService: Send + Sync + 'static {
    /// Answers `request` on this server; [`LeaderCallError::NotLeader`]
    /// when it cannot (it must never forward).
    fn call(&self, request: Value) -> Pin<Box<dyn Future<Output = LeaderCallResult> + Send>>;
}

/// The service a server hands requests to, once one is installed.
pub(super) type ServiceSlot = Arc<RwLock<Option<Arc<dyn LeaderService>>>>;

fn installed(slot: &ServiceSlot) -> Option<Arc<dyn LeaderService>> {
    slot.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Runs `request` here if this server leads, else on the leader; retries
/// while no leader answers, for up to [`LEADER_WAIT`].
pub(super) async fn call_leader(
    raft: &Raft,
    http: &reqwest::Client,
    slot: &ServiceSlot,
    request: Value,
) -> Result<Value, ServerError> {
    let started = crate::clock::monotonic();
    loop {
        let answer = if status_of(raft).is_leader {
            match installed(slot) {
                Some(service) => service.call(request.clone()).await,
                None => Err(LeaderCallError::NotLeader),
            }
        } else if let Some(addr) = leader_addr(raft) {
            forward(http, &addr, &request).await
        } else {
            Err(LeaderCallError::NotLeader)
        };
        match answer {
            Ok(value) => return Ok(value),
            Err(LeaderCallError::Failed(error)) => return Err(ServerError::Leader(error)),
            Err(LeaderCallError::NotLeader) => {}
        }
        if started.elapsed() > LEADER_WAIT {
            return Err(ServerError::NoLeader(LEADER_WAIT));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One attempt on the server believed to lead; anything but its answer
/// (a refused connection, a timeout) counts as "not the leader" and is
/// retried.
async fn forward(http: &reqwest::Client, addr: &str, request: &Value) -> LeaderCallResult {
    let sent = http
        .post(format!("http://{addr}/v1/internal/leader"))
        .timeout(LEADER_WAIT)
        .json(request)
        .send()
        .await
        .map_err(|_| LeaderCallError::NotLeader)?;
    sent.json::<LeaderCallResult>()
        .await
        .unwrap_or(Err(LeaderCallError::NotLeader))
}

/// `POST /v1/internal/leader`: answers a forwarded request if this server
/// leads and has a service; never forwards again.
pub(super) async fn leader_request_here(
    State(api): State<InternalApi>,
    Json(request): Json<Value>,
) -> Json<LeaderCallResult> {
    if !status_of(&api.raft).is_leader {
        return Json(Err(LeaderCallError::NotLeader));
    }
    match installed(&api.leader_service) {
        Some(service) => Json(service.call(request).await),
        None => Json(Err(LeaderCallError::NotLeader)),
    }
}

/// `POST /v1/internal/leader-call`: runs a request on the leader, here or
/// forwarded: the entry point for clients that may reach any server. No
/// leader within the wait is "not the leader" (the client tries another
/// server).
pub(super) async fn leader_call_anywhere(
    State(api): State<InternalApi>,
    Json(request): Json<Value>,
) -> Json<LeaderCallResult> {
    match call_leader(&api.raft, &api.http, &api.leader_service, request).await {
        Ok(value) => Json(Ok(value)),
        Err(ServerError::Leader(error)) => Json(Err(LeaderCallError::Failed(error))),
        Err(_) => Json(Err(LeaderCallError::NotLeader)),
    }
}
