//! A running server: its Raft, its HTTP listener (Raft RPCs and the small
//! internal API servers use among themselves), leader forwarding of writes
//! and linearizable reads.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers, ServerState};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use scheduler_core::state::MemorySnapshot;

use crate::cluster_state::{ClusterDump, Table};
use crate::command::{Command, CommandResponse};
use crate::database::ClosedFlag;
use crate::log_store::LogStore;
use crate::network::{HttpNetwork, raft_routes};
use crate::state_machine::{SharedState, StateMachine};
use crate::storage::Storage;
use crate::types::{Raft, ServerId};

mod failover;
mod internal_api;
mod leader_service;
mod proposer;
mod tuning;

use failover::ElectionTimer;
pub use failover::LeaderContact;
use internal_api::{InternalApi, internal_routes};
pub use internal_api::{JoinRequest, NodeAllocs, NodeAllocsQuery};
use leader_service::ServiceSlot;
pub use leader_service::{LeaderCallError, LeaderCallResult, LeaderService};
use proposer::ProposeError;
pub(crate) use proposer::Proposer;
pub use tuning::RaftTuning;

/// How a server starts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the database and the server id live.
    pub data_dir: PathBuf,
    /// The address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// Raft timing and compaction.
    pub tuning: RaftTuning,
}

/// Why a server operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory or database could not be used.
    #[error("data directory {path}: {message}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The Raft timing cannot work (see [`RaftTuning`]).
    #[error("raft tuning: {0}")]
    Tuning(String),
    /// No leader could be reached in time.
    #[error("no cluster leader within {0:?}")]
    NoLeader(Duration),
    /// Raft refused or failed.
    #[error("raft: {0}")]
    Raft(String),
    /// The leader did not commit the write in time (it may have lost its
    /// quorum). The write may still commit later.
    #[error("write not committed within {0:?}; it may still commit")]
    NotCommitted(Duration),
    /// The leader answered a leader-only request with this error (the
    /// installed [`LeaderService`]'s own error value).
    #[error("the leader answered: {0}")]
    Leader(serde_json::Value),
}

/// Where a member of the cluster stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Its Raft id.
    pub id: ServerId,
    /// Its address.
    pub address: String,
    /// Whether it votes (false: a learner).
    pub voter: bool,
    /// Whether it is the leader, as this server sees it.
    pub leader: bool,
}

/// What a server reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// Its id.
    pub id: ServerId,
    /// The leader it knows of.
    pub leader: Option<ServerId>,
    /// Its current term.
    pub term: u64,
    /// The last log index it applied.
    pub applied_index: u64,
    /// Whether it believes it leads.
    pub is_leader: bool,
}

/// Where the agent serves the public HTTP API: set once, after the
/// server started (the agent binds the API after it).
pub(crate) type HttpApiAddr = Arc<std::sync::OnceLock<String>>;

/// A running server.
pub struct Server {
    id: ServerId,
    addr: SocketAddr,
    raft: Raft,
    shared: SharedState,
    applied: watch::Receiver<u64>,
    http: reqwest::Client,
    proposer: Proposer,
    leader_service: ServiceSlot,
    /// Where the agent serves the public HTTP API, once it does.
    http_api_addr: HttpApiAddr,
    serving: tokio::task::JoinHandle<()>,
    /// Stops (and lets go of its Raft handle) when the server goes.
    election_timer: ElectionTimer,
    /// Raised once the database file is closed: openraft's tasks and the
    /// log's writer thread let go of it a moment after Raft stops, and
    /// shutdown waits for that so the directory can be opened again at once.
    database_closed: ClosedFlag,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// How long a write waits for a leader before giving up.
pub(crate) const LEADER_WAIT: Duration = Duration::from_secs(10);

impl Server {
    /// Opens (or creates) the data directory and starts Raft and the
    /// listener. A new server has no membership: call
    /// [`Server::bootstrap`] on one of them, or have a leader add it.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let raft_config = config.tuning.raft_config().map_err(ServerError::Tuning)?;
        let data_error = |message: String| ServerError::DataDir {
            path: config.data_dir.clone(),
            message,
        };
        // Listen first: a taken port must fail before Raft starts (a Raft
        // left running without a listener would hold the data directory).
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.bind,
            source,
        })?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| data_error(e.to_string()))?;
        let id = server_id(&config.data_dir).map_err(|e| data_error(e.to_string()))?;
        let storage = Storage::open(&config.data_dir).map_err(data_error)?;
        let database_closed = storage.closed_flag();
        let (applied_tx, applied) = watch::channel(0);
        let log_store = LogStore::new(storage.log).map_err(|e| data_error(e.to_string()))?;
        let encoded_entries = log_store.encoded_entries();
        let state_machine = StateMachine::open(storage.state, Arc::new(applied_tx))
            .map_err(|e| data_error(e.to_string()))?
            .taking_entries_of(&log_store);
        let shared = state_machine.shared();

        let tuning = &config.tuning;
        let contact = Arc::new(LeaderContact::default());
        let raft = Raft::new(
            id,
            Arc::new(raft_config),
            HttpNetwork::new(contact.clone(), encoded_entries.clone()),
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| ServerError::Raft(e.to_string()))?;

        let http = reqwest::Client::new();
        let proposer = Proposer::start(raft.clone(), tuning.proposals_in_flight, LEADER_WAIT);
        let leader_service = ServiceSlot::default();
        let http_api_addr = HttpApiAddr::default();
        let internal = InternalApi {
            raft: raft.clone(),
            shared: shared.clone(),
            http: http.clone(),
            proposer: proposer.clone(),
            leader_service: leader_service.clone(),
            applied: applied.clone(),
            http_api_addr: http_api_addr.clone(),
        };
        let election_timer = ElectionTimer::start(
            raft.clone(),
            id,
            contact.clone(),
            failover::Timing {
                keepalive: tuning.keepalive,
                election_timeout: tuning.election_timeout,
            },
        );
        let router =
            raft_routes(raft.clone(), contact, encoded_entries).merge(internal_routes(internal));
        let serving = tokio::spawn(async move {
            // Small RPCs and answers must not wait for delayed ACKs.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, router).await;
        });
        Ok(Server {
            id,
            addr,
            raft,
            shared,
            applied,
            http,
            proposer,
            leader_service,
            http_api_addr,
            serving,
            election_timer,
            database_closed,
        })
    }

    /// This server's Raft id.
    pub fn id(&self) -> ServerId {
        self.id
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Raft handle, for embedders that need more than this API.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Forms a new cluster of `members` (id and address), this server
    /// among them. Safe to call on every founding member with the same
    /// set; a server that already has a membership ignores it.
    pub async fn bootstrap(&self, members: BTreeMap<ServerId, String>) -> Result<(), ServerError> {
        let nodes: BTreeMap<ServerId, BasicNode> = members
            .into_iter()
            .map(|(id, addr)| (id, BasicNode::new(addr)))
            .collect();
        match self.raft.initialize(nodes).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => Ok(()),
            Err(err) => Err(ServerError::Raft(err.to_string())),
        }
    }

    /// Installs the handler of leader-only requests on this server
    /// (replacing any earlier one); `None` removes it.
    pub fn set_leader_service(&self, service: Option<Arc<dyn LeaderService>>) {
        *self
            .leader_service
            .write()
            .unwrap_or_else(|e| e.into_inner()) = service;
    }

    /// Runs a leader-only request on the leader's [`LeaderService`]: here
    /// if this server leads, else forwarded. Retries while an election is
    /// under way (or the new leader's service is not ready), up to ten
    /// seconds; the service's own errors come back as
    /// [`ServerError::Leader`].
    pub async fn call_leader(
        &self,
        request: serde_json::Value,
    ) -> Result<serde_json::Value, ServerError> {
        leader_service::call_leader(&self.raft, &self.http, &self.leader_service, request).await
    }

    /// Commits a command through the leader (forwarding it if this server
    /// does not lead) and returns what applying it answered. Retries while
    /// an election is under way, up to ten seconds.
    pub async fn write(&self, command: Command) -> Result<CommandResponse, ServerError> {
        write_via(&self.raft, &self.proposer, &self.http, command).await
    }

    /// Commits a command through this server's Raft, which must lead: no
    /// forwarding, and so no copy of the command kept to forward it
    /// ([`Server::write`] keeps one; for a plan of a thousand allocations
    /// that copy was 2 % of a replicated C1M run's CPU). For the leader's
    /// own control loops: a leader that lost its place fails the write,
    /// as Nomad's plan applier does, and the next leader redoes the work.
    pub(crate) async fn write_as_leader(
        &self,
        command: Command,
    ) -> Result<CommandResponse, ServerError> {
        let not_leader = || ServerError::Raft("this server does not lead".to_owned());
        if !status_of(&self.raft).is_leader {
            return Err(not_leader());
        }
        match self.proposer.propose(command).await {
            Ok(response) => Ok(response),
            Err(ProposeError::NotLeader) => Err(not_leader()),
            Err(ProposeError::Raft(message)) => Err(ServerError::Raft(message)),
            Err(ProposeError::NotCommitted) => Err(ServerError::NotCommitted(LEADER_WAIT)),
        }
    }

    /// A snapshot that reflects every write acknowledged before this call
    /// (linearizable): the leader confirms it still leads and names its
    /// commit index; this server waits until it has applied that far.
    pub async fn read_consistent(&self) -> Result<MemorySnapshot, ServerError> {
        let index = read_index(&self.raft, &self.http).await?;
        self.wait_applied(index, LEADER_WAIT).await?;
        Ok(self.read_stale())
    }

    /// This server's current state, possibly behind the leader.
    pub fn read_stale(&self) -> MemorySnapshot {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .snapshot()
    }

    /// A private, writable copy of this server's current state (cheap:
    /// copy-on-write), for checking plans against the latest state plus
    /// the plans already accepted in a batch.
    pub fn store_copy(&self) -> scheduler_core::state::MemoryState {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .store()
            .clone()
    }

    /// The state machine's shared contents (for [`crate::operator`]).
    pub(crate) fn shared_state(&self) -> &SharedState {
        &self.shared
    }

    /// The HTTP client this server forwards with (for
    /// [`crate::operator`]).
    pub(crate) fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// This server's proposer of writes (for [`crate::operator`]).
    pub(crate) fn proposer(&self) -> &Proposer {
        &self.proposer
    }

    /// The service instances clients registered, as this server applied
    /// them (pair with a snapshot read at the same time or before).
    pub fn services_stale(&self) -> crate::services::ServiceTable {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .services()
            .clone()
    }

    /// Records where the agent serves the public HTTP API, so that clients
    /// can forward to it (`/v1/internal/http-addr`). Set once; later calls
    /// are ignored.
    pub fn set_http_api_addr(&self, addr: String) {
        let _ = self.http_api_addr.set(addr);
    }

    /// This server's state as plain data (tests compare servers with it).
    pub fn dump_stale(&self) -> ClusterDump {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .dump()
    }

    /// The index of the last change to `table` this server applied.
    pub fn table_index(&self, table: Table) -> u64 {
        self.shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .table_index(table)
    }

    /// Blocking query: waits until `table` changes after `after` or
    /// `timeout` passes; returns the table's index then (equal to `after`
    /// on timeout). Nomad's `?index=N&wait=T`.
    pub async fn wait_table(&self, table: Table, after: u64, timeout: Duration) -> u64 {
        self.wait_tables(&[table], after, timeout).await
    }

    /// [`Server::wait_table`] over several tables: waits until any of them
    /// changes after `after`; returns the largest of their indexes (at
    /// least `after`).
    pub async fn wait_tables(&self, tables: &[Table], after: u64, timeout: Duration) -> u64 {
        let mut applied = self.applied.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        let current = |server: &Server| {
            tables
                .iter()
                .map(|table| server.table_index(*table))
                .max()
                .unwrap_or(0)
        };
        loop {
            let index = current(self);
            if index > after {
                return index;
            }
            match tokio::time::timeout_at(deadline, applied.changed()).await {
                Ok(Ok(())) => continue,
                _ => return current(self).max(after),
            }
        }
    }

    /// Waits until this server applied at least `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), ServerError> {
        let mut applied = self.applied.clone();
        let waited = tokio::time::timeout(timeout, applied.wait_for(|&at| at >= index)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ServerError::Raft(format!(
                "not caught up to index {index} within {timeout:?}"
            ))),
        }
    }

    /// What this server knows of itself and the leader.
    pub fn status(&self) -> ServerStatus {
        status_of(&self.raft)
    }

    /// The members as this server knows them.
    pub fn peers(&self) -> Vec<Peer> {
        peers_of(&self.raft)
    }

    /// Joins or forms a cluster through the servers at `addresses` (Nomad's
    /// `retry_join`), retrying until `timeout`:
    /// - a server that already has a membership (restarted) does nothing;
    /// - if a reachable server knows a leader, this server asks it to add
    ///   it as a voter;
    /// - otherwise, once `bootstrap_expect` servers (this one included)
    ///   answer and none has a membership, every one of them bootstraps the
    ///   same set (safe: openraft accepts the same initial membership from
    ///   each founder).
    pub async fn join(
        &self,
        addresses: &[String],
        bootstrap_expect: usize,
        timeout: Duration,
    ) -> Result<(), ServerError> {
        let started = crate::clock::monotonic();
        loop {
            if self.has_membership() {
                return Ok(());
            }
            let mut founders = BTreeMap::from([(self.id, self.addr.to_string())]);
            let mut leader = None;
            for address in addresses {
                let asked = self
                    .http
                    .get(format!("http://{address}/v1/internal/status"))
                    .timeout(Duration::from_millis(500))
                    .send()
                    .await;
                let Ok(response) = asked else { continue };
                let Ok(status) = response.json::<ServerStatus>().await else {
                    continue;
                };
                if status.leader.is_some() {
                    leader = Some(address.clone());
                }
                founders.insert(status.id, address.clone());
            }
            if let Some(leader) = leader {
                let request = JoinRequest {
                    id: self.id,
                    address: self.addr.to_string(),
                };
                let joined = self
                    .http
                    .post(format!("http://{leader}/v1/internal/join"))
                    .timeout(Duration::from_secs(10))
                    .json(&request)
                    .send()
                    .await;
                if let Ok(response) = joined
                    && let Ok(Ok(())) = response.json::<Result<(), String>>().await
                {
                    return Ok(());
                }
            } else if bootstrap_expect > 0 && founders.len() >= bootstrap_expect {
                return self.bootstrap(founders).await;
            }
            if started.elapsed() > timeout {
                return Err(ServerError::NoLeader(timeout));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether this server belongs to a cluster (has a membership).
    pub fn has_membership(&self) -> bool {
        let metrics = self.raft.metrics().borrow().clone();
        metrics
            .membership_config
            .membership()
            .nodes()
            .next()
            .is_some()
    }

    /// Adds a server as a voter: first as a learner (it catches up from the
    /// log or a snapshot), then into the voting configuration. Runs on the
    /// leader: here if this server leads, else forwarded; retries while an
    /// election is under way (leadership can move between the caller's
    /// look at the cluster and this call), up to ten seconds.
    pub async fn add_voter(&self, id: ServerId, addr: String) -> Result<(), ServerError> {
        let started = crate::clock::monotonic();
        loop {
            if status_of(&self.raft).is_leader {
                if add_voter_here(&self.raft, id, addr.clone())
                    .await?
                    .is_some()
                {
                    return Ok(());
                }
            } else if let Some(leader) = leader_addr(&self.raft) {
                let request = JoinRequest {
                    id,
                    address: addr.clone(),
                };
                let forwarded = self
                    .http
                    .post(format!("http://{leader}/v1/internal/join"))
                    .timeout(LEADER_WAIT)
                    .json(&request)
                    .send()
                    .await;
                if let Ok(response) = forwarded
                    && let Ok(Ok(())) = response.json::<Result<(), String>>().await
                {
                    return Ok(());
                }
            }
            if started.elapsed() > LEADER_WAIT {
                return Err(ServerError::NoLeader(LEADER_WAIT));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Adds a non-voting member that receives the log. Must run on the
    /// leader.
    pub async fn add_learner(&self, id: ServerId, addr: String) -> Result<(), ServerError> {
        self.raft
            .add_learner(id, BasicNode::new(addr), true)
            .await
            .map(drop)
            .map_err(|e| ServerError::Raft(e.to_string()))
    }

    /// Removes a (possibly dead) server from the configuration. Must run
    /// on the leader.
    pub async fn remove_peer(&self, id: ServerId) -> Result<(), ServerError> {
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            .await
            .map_err(|e| ServerError::Raft(e.to_string()))?;
        self.raft
            .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
            .await
            .map(drop)
            .map_err(|e| ServerError::Raft(e.to_string()))
    }

    /// Builds a snapshot now (and compacts the log behind it).
    pub async fn trigger_snapshot(&self) -> Result<(), ServerError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| ServerError::Raft(e.to_string()))
    }

    /// Stops Raft and the listener. The data directory stays as it is.
    pub async fn shutdown(self) {
        let _ = self.raft.shutdown().await;
        self.serving.abort();
        let Server {
            raft,
            shared,
            proposer,
            election_timer,
            database_closed,
            ..
        } = self;
        drop(election_timer);
        // The proposer's task holds a Raft handle until its last sender goes.
        drop(proposer);
        drop(raft);
        drop(shared);
        if !database_closed.wait(Duration::from_secs(5)).await {
            tracing::warn!("the database was still open 5 s after shutdown");
        }
    }
}

fn peers_of(raft: &Raft) -> Vec<Peer> {
    let metrics = raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<ServerId> = membership.voter_ids().collect();
    membership
        .nodes()
        .map(|(id, node)| Peer {
            id: *id,
            address: node.addr.clone(),
            voter: voters.contains(id),
            leader: metrics.current_leader == Some(*id),
        })
        .collect()
}

/// Adds a voter if this server leads.
async fn add_voter(raft: &Raft, id: ServerId, addr: String) -> Result<(), ServerError> {
    match add_voter_here(raft, id, addr).await? {
        Some(()) => Ok(()),
        None => Err(ServerError::Raft("this server does not lead".to_owned())),
    }
}

/// Adds a voter here: `Ok(None)` when this server does not lead (the
/// caller retries through the leader).
async fn add_voter_here(
    raft: &Raft,
    id: ServerId,
    addr: String,
) -> Result<Option<()>, ServerError> {
    let metrics = raft.metrics().borrow().clone();
    if metrics
        .membership_config
        .membership()
        .voter_ids()
        .any(|v| v == id)
    {
        return Ok(Some(()));
    }
    let not_leader = |err: &RaftError<ServerId, ClientWriteError<ServerId, BasicNode>>| {
        matches!(
            err,
            RaftError::APIError(ClientWriteError::ForwardToLeader(_))
        )
    };
    match raft.add_learner(id, BasicNode::new(addr), true).await {
        Ok(_) => {}
        Err(err) if not_leader(&err) => return Ok(None),
        Err(err) => return Err(ServerError::Raft(err.to_string())),
    }
    match raft
        .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
        .await
    {
        Ok(_) => Ok(Some(())),
        Err(err) if not_leader(&err) => Ok(None),
        Err(err) => Err(ServerError::Raft(err.to_string())),
    }
}

/// The server's id, chosen at random on first start and kept in
/// `DATA_DIR/server-id`.
fn server_id(data_dir: &Path) -> std::io::Result<ServerId> {
    let path = data_dir.join("server-id");
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| {
            std::io::Error::other(format!("{} does not hold a server id", path.display()))
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            // Ids are compared, never ordered for meaning; any non-zero
            // random number will do.
            let id = loop {
                let id: u64 = crate::clock::random_u64();
                if id != 0 {
                    break id >> 1;
                }
            };
            std::fs::write(&path, format!("{id}\n"))?;
            Ok(id)
        }
        Err(err) => Err(err),
    }
}

fn status_of(raft: &Raft) -> ServerStatus {
    let metrics = raft.metrics().borrow().clone();
    ServerStatus {
        id: metrics.id,
        leader: metrics.current_leader,
        term: metrics.current_term,
        applied_index: metrics.last_applied.map_or(0, |id| id.index),
        is_leader: metrics.state == ServerState::Leader,
    }
}

/// The leader's address, if one is known.
pub(crate) fn leader_addr(raft: &Raft) -> Option<String> {
    let metrics = raft.metrics().borrow().clone();
    let leader = metrics.current_leader?;
    metrics
        .membership_config
        .membership()
        .get_node(&leader)
        .map(|node| node.addr.clone())
}

pub(crate) async fn write_via(
    raft: &Raft,
    proposer: &Proposer,
    http: &reqwest::Client,
    command: Command,
) -> Result<CommandResponse, ServerError> {
    let started = crate::clock::monotonic();
    loop {
        let local = status_of(raft);
        if local.is_leader {
            // A leader cut off from its quorum cannot commit, and openraft
            // would wait for as long as it believes it leads: the proposer
            // gives up after LEADER_WAIT.
            match proposer.propose(command.clone()).await {
                Ok(response) => return Ok(response),
                Err(ProposeError::NotLeader) => {}
                Err(ProposeError::Raft(message)) => return Err(ServerError::Raft(message)),
                Err(ProposeError::NotCommitted) => {
                    return Err(ServerError::NotCommitted(LEADER_WAIT));
                }
            }
        } else if let Some(addr) = leader_addr(raft) {
            let forwarded = http
                .post(format!("http://{addr}/v1/internal/apply"))
                .timeout(LEADER_WAIT)
                .json(&command)
                .send()
                .await;
            if let Ok(response) = forwarded
                && let Ok(Ok(answer)) = response.json::<Result<CommandResponse, String>>().await
            {
                return Ok(answer);
            }
        }
        if started.elapsed() > LEADER_WAIT {
            return Err(ServerError::NoLeader(LEADER_WAIT));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn read_index(raft: &Raft, http: &reqwest::Client) -> Result<u64, ServerError> {
    let started = crate::clock::monotonic();
    loop {
        if status_of(raft).is_leader {
            if let Ok(index) = raft.ensure_linearizable().await {
                return Ok(index.map_or(0, |id| id.index));
            }
        } else if let Some(addr) = leader_addr(raft) {
            let asked = http
                .get(format!("http://{addr}/v1/internal/read-index"))
                .timeout(LEADER_WAIT)
                .send()
                .await;
            if let Ok(response) = asked
                && let Ok(Ok(index)) = response.json::<Result<u64, String>>().await
            {
                return Ok(index);
            }
        }
        if started.elapsed() > LEADER_WAIT {
            return Err(ServerError::NoLeader(LEADER_WAIT));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
