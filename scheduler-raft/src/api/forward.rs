//! Forwarding, so that any agent answers any request, as Nomad's do:
//! - a server sends a client endpoint (`/v1/client/...`) for an allocation
//!   that runs on another node to that node's agent (the HTTP address its
//!   client recorded on the node);
//! - a client-only agent answers the client endpoints of the allocations
//!   it runs and sends everything else to a server.
//!
//! Requests and answers are streamed through unchanged (a followed log
//! stays open for as long as the far end sends). A hop counter header
//! stops a request that bounces between agents whose views disagree.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use scheduler_core::state::StateSnapshot;

use super::client_endpoints::{self, ClientCtx, ClientSide};
use super::error::ApiError;
use super::{AgentInfo, Ctx, LocalClient, MAX_BODY_BYTES};
use crate::client::RemoteClient;

/// How many agents a request has passed through.
const HOPS: HeaderName = HeaderName::from_static("x-sched-forward-hops");
/// A client agent forwards to a server, which forwards to the node: two.
const MAX_HOPS: u32 = 2;

fn hops(headers: &HeaderMap) -> u32 {
    headers
        .get(&HOPS)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

/// An HTTP client for forwarding: a short connect timeout (an agent that
/// is gone should fail fast), no overall one (logs follow for long).
pub(super) fn forwarding_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_default()
}

/// A request read whole, ready to be sent on (perhaps more than once).
struct Outgoing {
    method: axum::http::Method,
    /// Path and query.
    target: String,
    headers: HeaderMap,
    body: axum::body::Bytes,
}

impl Outgoing {
    /// Reads `request`, with `path` in place of its path when given.
    async fn read(request: Request, path: Option<String>) -> Result<Outgoing, ApiError> {
        let (parts, body) = request.into_parts();
        let path = path.unwrap_or_else(|| parts.uri.path().to_owned());
        let target = match parts.uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|err| ApiError::BadRequest(format!("reading the request body: {err}")))?;
        Ok(Outgoing {
            method: parts.method,
            target,
            headers: parts.headers,
            body,
        })
    }

    /// Sends it to the agent at `authority` (`host:port`) and streams the
    /// answer back; an error when that agent cannot be reached.
    async fn send(&self, http: &reqwest::Client, authority: &str) -> Result<Response, ApiError> {
        let mut forwarded = http
            .request(
                self.method.clone(),
                format!("http://{authority}{}", self.target),
            )
            .body(self.body.clone());
        for (name, value) in &self.headers {
            if !is_hop_by_hop(name) && *name != header::HOST && *name != HOPS {
                forwarded = forwarded.header(name, value);
            }
        }
        forwarded = forwarded.header(&HOPS, (hops(&self.headers) + 1).to_string());
        let answer = forwarded.send().await.map_err(|err| {
            ApiError::Unavailable(format!("forwarding to the agent at {authority}: {err}"))
        })?;
        let mut response = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if !is_hop_by_hop(name) {
                response = response.header(name, value);
            }
        }
        response
            .body(Body::from_stream(answer.bytes_stream()))
            .map_err(|err| ApiError::Internal(err.to_string()))
    }
}

/// Sends `request` on to the agent at `authority`, with `path` in place of
/// its path when given.
async fn proxy(
    http: &reqwest::Client,
    authority: &str,
    request: Request,
    path: Option<String>,
) -> Response {
    let sent = match Outgoing::read(request, path).await {
        Ok(outgoing) => outgoing.send(http, authority).await,
        Err(err) => Err(err),
    };
    sent.unwrap_or_else(IntoResponse::into_response)
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
    ]
    .contains(name)
}

/// What a server's forwarding of client endpoints needs.
#[derive(Clone)]
pub(super) struct ToNodes {
    pub(super) ctx: Ctx,
    pub(super) http: reqwest::Client,
}

/// A server's client endpoints: served here when the allocation runs on
/// this agent's client, else forwarded to the agent of the node that runs
/// it, with the allocation's full id in the path.
pub(super) async fn to_the_allocs_node(
    State(to): State<ToNodes>,
    Path(id): Path<String>,
    request: Request,
    next: Next,
) -> Response {
    let runs_here = |node: &str| {
        to.ctx
            .local_client
            .as_ref()
            .is_some_and(|client| client.node_id() == node)
    };
    let mut snapshot = to.ctx.server.read_stale();
    if super::allocs::find_alloc(&snapshot, &id).is_err() {
        // Perhaps this server is behind: ask through the leader.
        match to.ctx.server.read_consistent().await {
            Ok(consistent) => snapshot = consistent,
            Err(err) => return ApiError::from(err).into_response(),
        }
    }
    let alloc = match super::allocs::find_alloc(&snapshot, &id) {
        Ok(alloc) => alloc,
        Err(err) => return err.into_response(),
    };
    if runs_here(alloc.node_id.as_str()) || hops(request.headers()) >= MAX_HOPS {
        return next.run(request).await;
    }
    let Some(node) = snapshot.node(&alloc.node_id) else {
        return ApiError::NotFound(format!(
            "allocation {} runs on node {}, which the servers no longer know",
            alloc.id, alloc.node_id
        ))
        .into_response();
    };
    if node.http_addr.is_empty() {
        return ApiError::BadRequest(format!(
            "allocation {} runs on node {} ({}), whose agent serves no HTTP API",
            alloc.id, node.id, node.name
        ))
        .into_response();
    }
    let path = with_full_id(request.uri().path(), &id, alloc.id.as_str());
    proxy(&to.http, &node.http_addr, request, Some(path)).await
}

/// `path` with its segment `short` replaced by `full`.
fn with_full_id(path: &str, short: &str, full: &str) -> String {
    path.split('/')
        .map(|segment| if segment == short { full } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// A client-only agent's API.
pub struct ClientAgentApi {
    /// The agent's client.
    pub client: Arc<dyn LocalClient>,
    /// The servers it registered with.
    pub servers: Arc<RemoteClient>,
    /// About the agent.
    pub agent: AgentInfo,
}

impl std::fmt::Debug for ClientAgentApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAgentApi")
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

/// A client-only agent's way to the servers' API.
struct ToServers {
    api: ClientAgentApi,
    http: reqwest::Client,
    /// The server HTTP address last used; asked again after a failure.
    server_http: Mutex<Option<String>>,
}

type ServersCtx = Arc<ToServers>;

impl ToServers {
    /// A server's HTTP API address: the one used last, or a fresh one.
    async fn server_addr(&self) -> Result<String, ApiError> {
        let cached = self
            .server_http
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(addr) = cached {
            return Ok(addr);
        }
        let addr = self
            .api
            .servers
            .http_api_addr()
            .await
            .map_err(|err| ApiError::Unavailable(format!("no server to forward to: {err}")))?;
        *self.server_http.lock().unwrap_or_else(|e| e.into_inner()) = Some(addr.clone());
        Ok(addr)
    }

    /// Sends `request` to a server; when the server used last does not
    /// answer, once more to whichever server answers now.
    async fn forward(&self, request: Request) -> Response {
        let forwarded = async {
            let outgoing = Outgoing::read(request, None).await?;
            let first = self.server_addr().await?;
            match outgoing.send(&self.http, &first).await {
                Err(ApiError::Unavailable(_)) => {
                    *self.server_http.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    let next = self.server_addr().await?;
                    outgoing.send(&self.http, &next).await
                }
                answered => answered,
            }
        };
        forwarded.await.unwrap_or_else(IntoResponse::into_response)
    }
}

/// The router of a client-only agent: the client endpoints of its own
/// allocations, its own `/v1/agent/self` and `/v1/agent/health`, and every
/// other request forwarded to a server (so `sched` and API clients can be
/// pointed at any agent, as with Nomad).
pub fn client_agent_router(api: ClientAgentApi) -> Router {
    let client_side: ClientCtx = Arc::new(ClientSide {
        client: Some(api.client.clone()),
    });
    let servers: ServersCtx = Arc::new(ToServers {
        api,
        http: forwarding_client(),
        server_http: Mutex::new(None),
    });
    let client_routes = client_endpoints::routes()
        .route_layer(axum::middleware::from_fn_with_state(
            (client_side.clone(), servers.clone()),
            here_or_through_a_server,
        ))
        .with_state(client_side);
    let own = Router::new()
        .route("/v1/agent/self", get(client_agent_self))
        .route("/v1/agent/health", get(client_agent_health))
        .fallback(
            |State(servers): State<ServersCtx>, request: Request| async move {
                servers.forward(request).await
            },
        )
        .with_state(servers);
    own.merge(client_routes)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A client agent's client endpoint: answered here when the allocation
/// runs here, else sent to a server, which finds its node.
async fn here_or_through_a_server(
    State((client_side, servers)): State<(ClientCtx, ServersCtx)>,
    Path(id): Path<String>,
    request: Request,
    next: Next,
) -> Response {
    if client_side.alloc(&id).is_ok() || hops(request.headers()) >= MAX_HOPS {
        return next.run(request).await;
    }
    servers.forward(request).await
}

async fn client_agent_self(State(servers): State<ServersCtx>) -> axum::Json<serde_json::Value> {
    let agent = &servers.api.agent;
    axum::Json(json!({
        "config": {
            "Region": agent.region,
            "Datacenter": agent.datacenter,
            "NodeName": agent.name,
            "Version": {"Version": env!("CARGO_PKG_VERSION")},
            "Server": {"Enabled": false},
            "Client": {"Enabled": true},
            "Addresses": {"HTTP": agent.http_addr},
        },
        "member": serde_json::Value::Null,
        "stats": {
            "nomad": {"server": "false"},
            "client": {"node_id": servers.api.client.node_id()},
        },
    }))
}

async fn client_agent_health() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"client": {"ok": true, "message": "ok"}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_id_in_a_path_becomes_the_full_one() {
        assert_eq!(
            with_full_id("/v1/client/fs/logs/ab12", "ab12", "ab12-full"),
            "/v1/client/fs/logs/ab12-full"
        );
        assert_eq!(
            with_full_id("/v1/client/allocation/ab12/stats", "ab12", "ab12-full"),
            "/v1/client/allocation/ab12-full/stats"
        );
    }

    #[test]
    fn hops_count_from_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(hops(&headers), 0);
        headers.insert(&HOPS, "2".parse().expect("value"));
        assert_eq!(hops(&headers), 2);
        headers.insert(&HOPS, "nonsense".parse().expect("value"));
        assert_eq!(hops(&headers), 0);
    }
}
