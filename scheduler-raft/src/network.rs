//! Raft RPCs over HTTP: an axum router that hands requests to the local
//! Raft, and a reqwest client that openraft uses to reach the others.
//!
//! Append and vote messages (and every answer) are encoded by
//! [`crate::codec`] (MessagePack; a peer of an older version that sends
//! JSON is read, and answered, in JSON). Snapshot chunks travel as the raw
//! request body, with the chunk's metadata as JSON in a header. Snapshots travel in
//! chunks (openraft's chunked install, `snapshot_max_chunk_size` bytes per
//! request), so a follower far behind is brought up to date without one
//! request the size of the state.
//!
//! A log entry carries a whole plan (a thousand allocations are a few
//! megabytes of JSON), so request bodies may be up to [`MAX_RPC_BYTES`];
//! axum's default of 2 MiB would make followers refuse such entries and
//! call elections instead.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::monotonic;
use crate::log_store::EncodedEntries;
use crate::server::LeaderContact;
use crate::types::{Entry, Raft, ServerId, SnapshotMeta, TypeConfig, Vote};

/// The largest request body a server accepts from its peers.
pub const MAX_RPC_BYTES: usize = 512 << 20;

/// How long a leader waits before trying again a peer it could not
/// connect to (openraft's default: 500 ms). A restarted follower hears
/// from the leader this long after it listens again at most, well within
/// its first election timeout (see `server::failover`).
pub const UNREACHABLE_RETRY: Duration = Duration::from_millis(200);

/// The header carrying a snapshot chunk's metadata.
const CHUNK_HEADER: &str = "x-snapshot-chunk";

/// A snapshot chunk's metadata; its bytes are the request body.
#[derive(Debug, Serialize, Deserialize)]
struct ChunkHeader {
    vote: Vote,
    meta: SnapshotMeta,
    offset: u64,
    done: bool,
}

/// What the Raft endpoints hand requests to.
#[derive(Clone)]
struct Endpoint {
    raft: Raft,
    /// Told when a leader's request (or a granted candidate's) arrived,
    /// for the election timer.
    contact: Arc<LeaderContact>,
    /// Takes the entries' bytes as they came, for the log to write.
    entries: EncodedEntries,
}

impl Endpoint {
    /// Tells the election timer that a leader spoke, if the request comes
    /// from the leader this server follows (or a newer one). Counted on
    /// arrival, not once handled: storing a large batch may take longer
    /// than an election timeout on a loaded machine, and the leader is
    /// alive all that time.
    fn heard_if_current(&self, sender_vote: &Vote, arrived: std::time::Instant) {
        let current = self.raft.metrics().borrow().vote;
        if *sender_vote >= current {
            self.contact.heard_leader(arrived);
        }
    }
}

/// The routes of the Raft RPCs, served by every server; `contact` learns
/// when this server last heard from a leader, and `entries` takes the
/// bytes of entries sent as frames.
pub fn raft_routes(raft: Raft, contact: Arc<LeaderContact>, entries: EncodedEntries) -> Router {
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .layer(DefaultBodyLimit::max(MAX_RPC_BYTES))
        .with_state(Endpoint {
            raft,
            contact,
            entries,
        })
}

async fn append(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Response {
    let arrived = monotonic();
    let decoded = if content_type_is(&headers, crate::codec::APPEND_FRAMES) {
        from_frames(&body, &endpoint.entries)
    } else {
        crate::codec::decode::<AppendEntriesRequest<TypeConfig>>(&body)
    };
    match decoded {
        Ok(request) => {
            endpoint.heard_if_current(&request.vote, arrived);
            answer(&headers, &endpoint.raft.append_entries(request).await)
        }
        Err(err) => malformed(&err),
    }
}

/// An append request sent as frames; each entry's bytes are offered to
/// the log store, which writes them instead of encoding the entry again.
fn from_frames(
    body: &Bytes,
    encoded: &EncodedEntries,
) -> Result<AppendEntriesRequest<TypeConfig>, String> {
    let (header, frames) = crate::codec::decode_append_frames(body)?;
    let mut entries = Vec::with_capacity(frames.len());
    for frame in frames {
        let entry: Entry = crate::codec::decode(&frame)?;
        encoded.offer(entry.log_id, frame);
        entries.push(entry);
    }
    Ok(AppendEntriesRequest {
        vote: header.vote,
        prev_log_id: header.prev_log_id,
        leader_commit: header.leader_commit,
        entries,
    })
}

fn content_type_is(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == wanted.as_bytes())
}

async fn vote(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Response {
    let arrived = monotonic();
    match crate::codec::decode::<VoteRequest<ServerId>>(&body) {
        Ok(request) => {
            let answered = endpoint.raft.vote(request).await;
            // A candidate this server voted for gets time to win before
            // this server stands itself.
            if matches!(&answered, Ok(response) if response.vote_granted) {
                endpoint.contact.heard_leader(arrived);
            }
            answer(&headers, &answered)
        }
        Err(err) => malformed(&err),
    }
}

/// The 400 that refuses a request a peer sent garbled.
fn malformed(err: &str) -> Response {
    (
        axum::http::StatusCode::BAD_REQUEST,
        format!("malformed Raft request: {err}"),
    )
        .into_response()
}

/// `value` encoded as the asking peer reads it: MessagePack when it sent
/// MessagePack, else JSON (a peer of an older version).
fn answer<T: Serialize>(request_headers: &HeaderMap, value: &T) -> Response {
    let binary = content_type_is(request_headers, crate::codec::CONTENT_TYPE)
        || content_type_is(request_headers, crate::codec::APPEND_FRAMES);
    if !binary {
        return Json(value).into_response();
    }
    match crate::codec::encode(value) {
        Ok(bytes) => (
            [(axum::http::header::CONTENT_TYPE, crate::codec::CONTENT_TYPE)],
            bytes,
        )
            .into_response(),
        Err(err) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, err).into_response(),
    }
}

type SnapshotAnswer =
    Result<InstallSnapshotResponse<ServerId>, RaftError<ServerId, InstallSnapshotError>>;

async fn snapshot(
    State(endpoint): State<Endpoint>,
    headers: HeaderMap,
    data: Bytes,
) -> Result<Json<SnapshotAnswer>, (axum::http::StatusCode, String)> {
    let header: ChunkHeader = headers
        .get(CHUNK_HEADER)
        .and_then(|value| serde_json::from_slice(value.as_bytes()).ok())
        .ok_or((
            axum::http::StatusCode::BAD_REQUEST,
            format!("missing or malformed {CHUNK_HEADER} header"),
        ))?;
    let request = InstallSnapshotRequest {
        vote: header.vote,
        meta: header.meta,
        offset: header.offset,
        data: data.to_vec(),
        done: header.done,
    };
    endpoint.heard_if_current(&request.vote, monotonic());
    Ok(Json(endpoint.raft.install_snapshot(request).await))
}

/// Makes a client per peer; all share one connection pool.
#[derive(Debug, Clone)]
pub struct HttpNetwork {
    client: reqwest::Client,
    /// Told when a voter refuses this server for a shorter log.
    contact: Arc<LeaderContact>,
    /// The bytes of the entries this server wrote, to send as they are.
    entries: EncodedEntries,
}

impl HttpNetwork {
    /// A network with its own connection pool, reporting vote refusals to
    /// `contact` and sending entries as `entries` holds them encoded.
    pub fn new(contact: Arc<LeaderContact>, entries: EncodedEntries) -> Self {
        Self {
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_millis(500))
                .build()
                .unwrap_or_default(),
            contact,
            entries,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: ServerId, node: &BasicNode) -> PeerConnection {
        PeerConnection {
            client: self.client.clone(),
            contact: self.contact.clone(),
            entries: self.entries.clone(),
            frames: true,
            target,
            base: format!("http://{}", node.addr),
        }
    }
}

/// The client side of the RPCs to one peer.
#[derive(Debug)]
pub struct PeerConnection {
    client: reqwest::Client,
    contact: Arc<LeaderContact>,
    entries: EncodedEntries,
    /// Whether the peer reads appends as frames (a peer of an older
    /// version refuses them, and gets the whole request encoded).
    frames: bool,
    target: ServerId,
    base: String,
}

type RpcResult<T, E> = Result<T, RPCError<ServerId, BasicNode, E>>;

fn send_error<E: std::error::Error>(err: reqwest::Error) -> RPCError<ServerId, BasicNode, E> {
    if err.is_connect() {
        RPCError::Unreachable(Unreachable::new(&err))
    } else {
        RPCError::Network(NetworkError::new(&err))
    }
}

/// A body this server could not encode, or a peer's answer it could not
/// decode.
fn codec_error<E: std::error::Error>(err: String) -> RPCError<ServerId, BasicNode, E> {
    RPCError::Network(NetworkError::new(&std::io::Error::other(err)))
}

impl PeerConnection {
    /// Sends `rpc` as frames: each entry as this server's log wrote it,
    /// encoded here only if it is no longer among the recent entries.
    async fn send_frames(
        &self,
        rpc: &AppendEntriesRequest<TypeConfig>,
        option: &RPCOption,
    ) -> RpcResult<reqwest::Response, RaftError<ServerId>> {
        let mut entries = Vec::with_capacity(rpc.entries.len());
        for entry in &rpc.entries {
            let bytes = match self.entries.get(&entry.log_id) {
                Some(bytes) => bytes,
                None => Bytes::from(crate::codec::encode(entry).map_err(codec_error)?),
            };
            entries.push(bytes);
        }
        let header = crate::codec::AppendHeader {
            vote: rpc.vote,
            prev_log_id: rpc.prev_log_id,
            leader_commit: rpc.leader_commit,
        };
        let body = crate::codec::encode_append_frames(&header, &entries).map_err(codec_error)?;
        self.post("/raft/append", crate::codec::APPEND_FRAMES, body, option)
            .await
    }

    /// Posts `body` of `content_type` to the peer's `path`, within the
    /// RPC's deadline.
    async fn post<E: std::error::Error>(
        &self,
        path: &str,
        content_type: &'static str,
        body: Vec<u8>,
        option: &RPCOption,
    ) -> RpcResult<reqwest::Response, E> {
        self.client
            .post(format!("{}{path}", self.base))
            .timeout(option.hard_ttl())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .map_err(send_error)
    }

    async fn answer<Resp, E>(&self, response: reqwest::Response) -> RpcResult<Resp, E>
    where
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let bytes = response
            .bytes()
            .await
            .map_err(|err| RPCError::Network(NetworkError::new(&err)))?;
        let body: Result<Resp, E> = crate::codec::decode(&bytes).map_err(codec_error)?;
        body.map_err(|err| RPCError::RemoteError(RemoteError::new(self.target, err)))
    }

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
        let body = crate::codec::encode(request).map_err(codec_error)?;
        let response = self
            .post(path, crate::codec::CONTENT_TYPE, body, option)
            .await?;
        self.answer(response).await
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(UNREACHABLE_RETRY))
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<ServerId>, RaftError<ServerId>> {
        if self.frames {
            let response = self.send_frames(&rpc, &option).await?;
            if response.status() != axum::http::StatusCode::BAD_REQUEST {
                return self.answer(response).await;
            }
            tracing::info!(
                peer = self.target,
                "the peer refused an append as frames: sending it whole from now on"
            );
            self.frames = false;
        }
        self.call("/raft/append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<ServerId>, RaftError<ServerId, InstallSnapshotError>>
    {
        let header = ChunkHeader {
            vote: rpc.vote,
            meta: rpc.meta,
            offset: rpc.offset,
            done: rpc.done,
        };
        let header = serde_json::to_string(&header)
            .map_err(|err| RPCError::Network(NetworkError::new(&err)))?;
        let response = self
            .client
            .post(format!("{}/raft/snapshot", self.base))
            .timeout(option.hard_ttl())
            .header(CHUNK_HEADER, header)
            .body(rpc.data)
            .send()
            .await
            .map_err(send_error)?;
        self.answer(response).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<ServerId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<ServerId>, RaftError<ServerId>> {
        let answered: RpcResult<VoteResponse<ServerId>, RaftError<ServerId>> =
            self.call("/raft/vote", &rpc, &option).await;
        if let Ok(response) = &answered
            && !response.vote_granted
            && response.last_log_id > rpc.last_log_id
        {
            self.contact.refused_for_shorter_log();
        }
        answered
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use openraft::CommittedLeaderId;
    use openraft::EntryPayload;

    use super::*;
    use crate::command::Command;
    use crate::types::LogId;

    /// A peer of an older version reads an append only as one encoded
    /// request: it refuses frames, and from then on gets whole requests.
    #[tokio::test]
    async fn a_peer_that_refuses_frames_gets_whole_requests() {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        let older_peer = Router::new().route(
            "/raft/append",
            post(move |headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                async move {
                    let kind = headers
                        .get(axum::http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    log.lock().unwrap().push(kind);
                    match crate::codec::decode::<AppendEntriesRequest<TypeConfig>>(&body) {
                        Ok(request) => {
                            assert_eq!(request.entries.len(), 1);
                            let success: Result<
                                AppendEntriesResponse<ServerId>,
                                RaftError<ServerId>,
                            > = Ok(AppendEntriesResponse::Success);
                            answer(&headers, &success)
                        }
                        Err(err) => malformed(&err),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = tokio::spawn(async move { axum::serve(listener, older_peer).await });

        let mut network = HttpNetwork::new(Arc::default(), EncodedEntries::default());
        let mut peer = network
            .new_client(2, &BasicNode::new(addr.to_string()))
            .await;
        let leader = CommittedLeaderId::new(1, 1);
        let request = || AppendEntriesRequest::<TypeConfig> {
            vote: Vote::new_committed(1, 1),
            prev_log_id: None,
            leader_commit: None,
            entries: vec![Entry {
                log_id: LogId::new(leader, 1),
                payload: EntryPayload::Normal(Command::Noop.into()),
            }],
        };
        let option = RPCOption::new(Duration::from_secs(5));
        for _ in 0..2 {
            let answered = peer.append_entries(request(), option.clone()).await;
            assert!(
                matches!(answered, Ok(AppendEntriesResponse::Success)),
                "{answered:?}"
            );
        }
        assert_eq!(
            *seen.lock().unwrap(),
            [
                crate::codec::APPEND_FRAMES,
                crate::codec::CONTENT_TYPE,
                crate::codec::CONTENT_TYPE
            ]
        );
        serving.abort();
    }
}
