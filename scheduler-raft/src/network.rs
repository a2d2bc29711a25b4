//! Raft RPCs over HTTP: an axum router that hands requests to the local
//! Raft, and a reqwest client that openraft uses to reach the others.
//!
//! Messages are JSON. Snapshots travel in chunks (openraft's chunked
//! install, `snapshot_max_chunk_size` bytes per request), so a follower far
//! behind is brought up to date without one request the size of the state.

use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::types::{Raft, ServerId, TypeConfig};

/// The routes of the Raft RPCs, served by every server.
pub fn raft_routes(raft: Raft) -> Router {
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .with_state(raft)
}

async fn append(
    State(raft): State<Raft>,
    Json(request): Json<AppendEntriesRequest<TypeConfig>>,
) -> Json<Result<AppendEntriesResponse<ServerId>, RaftError<ServerId>>> {
    Json(raft.append_entries(request).await)
}

async fn vote(
    State(raft): State<Raft>,
    Json(request): Json<VoteRequest<ServerId>>,
) -> Json<Result<VoteResponse<ServerId>, RaftError<ServerId>>> {
    Json(raft.vote(request).await)
}

async fn snapshot(
    State(raft): State<Raft>,
    Json(request): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Json<Result<InstallSnapshotResponse<ServerId>, RaftError<ServerId, InstallSnapshotError>>> {
    Json(raft.install_snapshot(request).await)
}

/// Makes a client per peer; all share one connection pool.
#[derive(Debug, Clone)]
pub struct HttpNetwork {
    client: reqwest::Client,
}

impl HttpNetwork {
    /// A network with its own connection pool.
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_millis(500))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Default for HttpNetwork {
    fn default() -> Self {
        Self::new()
    }
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: ServerId, node: &BasicNode) -> PeerConnection {
        PeerConnection {
            client: self.client.clone(),
            target,
            base: format!("http://{}", node.addr),
        }
    }
}

/// The client side of the RPCs to one peer.
#[derive(Debug)]
pub struct PeerConnection {
    client: reqwest::Client,
    target: ServerId,
    base: String,
}

type RpcResult<T, E> = Result<T, RPCError<ServerId, BasicNode, E>>;

impl PeerConnection {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .timeout(option.hard_ttl())
            .json(request)
            .send()
            .await
            .map_err(|err| {
                if err.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&err))
                } else {
                    RPCError::Network(NetworkError::new(&err))
                }
            })?;
        let body: Result<Resp, E> = response
            .json()
            .await
            .map_err(|err| RPCError::Network(NetworkError::new(&err)))?;
        body.map_err(|err| RPCError::RemoteError(RemoteError::new(self.target, err)))
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<ServerId>, RaftError<ServerId>> {
        self.call("/raft/append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<ServerId>, RaftError<ServerId, InstallSnapshotError>>
    {
        self.call("/raft/snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<ServerId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<ServerId>, RaftError<ServerId>> {
        self.call("/raft/vote", &rpc, &option).await
    }
}
