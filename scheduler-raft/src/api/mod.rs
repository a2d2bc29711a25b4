//! The public HTTP API: Nomad's `/v1` paths, methods, JSON and status
//! codes, so Nomad's CLI habits, API client libraries and scripts work
//! against an agent unchanged.
//!
//! ```text
//!  request ─► router ─► handler (jobs, allocs, nodes, evals, deployments,
//!                          │      operator, agent, services, client)
//!                          ├─ reads: blocking wait on the tables it shows,
//!                          │         then a consistent (or ?stale) snapshot
//!                          ├─ writes: one Raft command, or a leader-only
//!                          │          request through the control plane
//!                          └─ client endpoints (`/v1/client/...`): this
//!                                     agent's own client via [`LocalClient`],
//!                                     or forwarded to the agent of the node
//!                                     that runs the allocation
//! ```
//!
//! A client-only agent serves [`client_agent_router`]: its own client's
//! endpoints, and everything else forwarded to a server.
//!
//! Errors are plain text with a status, as Nomad's: 400 for bad input (a
//! request body's error names its JSON field path, a job's problems name
//! theirs), 404 for unknown objects, 500 otherwise.

mod allocs;
mod body;
mod client_endpoints;
mod cluster;
mod deployments;
mod error;
mod evals;
pub mod filter;
mod forward;
mod jobs;
mod logs;
mod nodes;
mod query;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use serde::{Deserialize, Serialize};

use scheduler_core::model::Allocation;
use scheduler_core::state::MemorySnapshot;

use crate::cluster_state::Table;
use crate::control::ControlPlane;
use crate::server::Server;

pub use error::ApiError;
pub use forward::{ClientAgentApi, client_agent_router};
pub use query::{Answer, Query};

/// The largest request body read (a job with many groups is well below).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What a future returned by a [`LocalClient`] looks like.
pub type ClientFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// The client half of an agent, for the endpoints Nomad serves from the
/// node that runs an allocation (`/v1/client/...`). The agent's wiring
/// implements it over the client runtime.
pub trait LocalClient: Send + Sync + 'static {
    /// The node id the client registered as.
    fn node_id(&self) -> String;
    /// The allocation with this id (or unique id prefix) as the client
    /// runs it (its client status as the client sees it), if it runs here.
    fn allocation(&self, id: &str) -> Option<Allocation>;
    /// The allocation's directory on this machine (Nomad's layout: `alloc/`
    /// with `logs/`, and one directory per task), if it ran here.
    fn alloc_dir(&self, alloc_id: &str) -> Option<PathBuf>;
    /// Restarts one task of an allocation, or all of them.
    fn restart(&self, alloc_id: &str, task: Option<&str>) -> ClientFuture<'_, ()>;
    /// Sends a signal (`SIGHUP`, ...) to one task, or to all of them.
    fn signal(&self, alloc_id: &str, task: Option<&str>, signal: &str) -> ClientFuture<'_, ()>;
    /// Resource usage of an allocation's tasks (Nomad's `AllocResourceUsage`).
    fn stats(&self, alloc_id: &str) -> ClientFuture<'_, serde_json::Value>;
}

/// What `/v1/agent/self` says about the agent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The agent's name (Nomad: the hostname).
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its datacenter.
    pub datacenter: String,
    /// The HTTP address it serves this API on.
    pub http_addr: String,
    /// Whether it runs a client.
    pub client: bool,
}

/// Everything the handlers need.
pub struct ApiContext {
    /// The server.
    pub server: Arc<Server>,
    /// Its control plane.
    pub control: Arc<ControlPlane>,
    /// The agent's own client, when it runs one.
    pub local_client: Option<Arc<dyn LocalClient>>,
    /// About the agent.
    pub agent: AgentInfo,
}

type Ctx = Arc<ApiContext>;

impl std::fmt::Debug for ApiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiContext")
            .field("server", &self.server.id())
            .field("client", &self.local_client.is_some())
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

impl ApiContext {
    /// A snapshot for a read that shows `tables`: after waiting for a
    /// blocking query, consistent (through the leader) unless `?stale`.
    /// Returns it with the index for `X-Nomad-Index`.
    pub(crate) async fn read(
        &self,
        query: &Query,
        tables: &[Table],
    ) -> Result<(MemorySnapshot, u64), ApiError> {
        if let Some((index, wait)) = query.blocking()? {
            self.server.wait_tables(tables, index, wait).await;
        }
        let snapshot = if query.flag("stale")? {
            self.server.read_stale()
        } else {
            self.server.read_consistent().await?
        };
        let index = tables
            .iter()
            .map(|table| self.server.table_index(*table))
            .max()
            .unwrap_or(0);
        Ok((snapshot, index))
    }

    /// An answer carrying `index` and the leader header.
    pub(crate) fn answer<T>(&self, body: T, index: u64) -> Answer<T> {
        Answer {
            body,
            index,
            known_leader: self.server.status().leader.is_some(),
            next_token: None,
        }
    }
}

/// The whole `/v1` router of a server agent.
pub fn router(context: ApiContext) -> Router {
    let context: Ctx = Arc::new(context);
    let client_side = Arc::new(client_endpoints::ClientSide {
        client: context.local_client.clone(),
    });
    let to_nodes = forward::ToNodes {
        ctx: context.clone(),
        http: forward::forwarding_client(),
    };
    let client_routes = client_endpoints::routes()
        .route_layer(axum::middleware::from_fn_with_state(
            to_nodes,
            forward::to_the_allocs_node,
        ))
        .with_state(client_side);
    Router::new()
        .merge(jobs::routes())
        .merge(allocs::routes())
        .merge(nodes::routes())
        .merge(evals::routes())
        .merge(deployments::routes())
        .merge(cluster::routes())
        .with_state(context)
        .merge(client_routes)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A running HTTP API.
#[derive(Debug)]
pub struct HttpApi {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// The HTTP API's socket, bound but not yet serving: an agent binds first
/// (so a port already in use fails early, and port 0 resolves to the real
/// one that its client records on the node), then serves.
#[derive(Debug)]
pub struct BoundHttp {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

impl BoundHttp {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves a server agent's API on the socket.
    pub fn serve(self, context: ApiContext) -> HttpApi {
        self.serve_router(router(context))
    }

    /// Serves `app` ([`router`], or [`client_agent_router`]) on the
    /// socket.
    pub fn serve_router(self, app: Router) -> HttpApi {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // Streamed answers (`alloc logs -f`, blocking queries) go out in
        // small writes that must not wait for the client's delayed ACK.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
            if let Err(err) = served {
                tracing::warn!(%err, "the HTTP API stopped");
            }
        });
        HttpApi {
            addr: self.addr,
            stop: Some(stop),
            task,
        }
    }
}

impl HttpApi {
    /// Binds `bind` for the API.
    pub async fn bind(bind: SocketAddr) -> Result<BoundHttp, String> {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|err| format!("cannot listen for HTTP on {bind}: {err}"))?;
        let addr = listener
            .local_addr()
            .map_err(|err| format!("cannot read the HTTP address: {err}"))?;
        Ok(BoundHttp { listener, addr })
    }

    /// Listens on `bind` and serves the API.
    pub async fn start(bind: SocketAddr, context: ApiContext) -> Result<HttpApi, String> {
        Ok(Self::bind(bind).await?.serve(context))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests; requests in flight get a moment to end
    /// (blocking queries are cut off).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}
