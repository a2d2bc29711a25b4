//! The cluster and the agent: `/v1/status/{leader,peers}`,
//! `/v1/agent/{self,members,health}`, `/v1/regions`, `/v1/metrics`,
//! `PUT /v1/system/gc`, `/v1/operator/raft/...`, `/v1/operator/snapshot`,
//! and the service catalog (`/v1/services`, `/v1/service/:name`).

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use scheduler_core::model::AllocClientStatus;
use scheduler_core::model::api::{
    ServiceRegistration, ServiceRegistrationListStub, ServiceRegistrationStub,
};
use scheduler_core::state::StateSnapshot;

use super::Ctx;
use super::error::ApiError;
use super::query::{Answer, Query, apply_filter};
use crate::cluster_state::Table;
use crate::operator::{self, OperatorError};

pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v1/status/leader", get(leader))
        .route("/v1/status/peers", get(peers))
        .route("/v1/agent/self", get(agent_self))
        .route("/v1/agent/members", get(members))
        .route("/v1/agent/health", get(health))
        .route("/v1/regions", get(regions))
        .route("/v1/metrics", get(metrics))
        .route("/v1/system/gc", post(gc).put(gc))
        .route("/v1/operator/raft/configuration", get(raft_configuration))
        .route("/v1/operator/raft/peer", delete(remove_peer))
        .route(
            "/v1/operator/snapshot",
            get(snapshot_save)
                .put(snapshot_restore)
                .post(snapshot_restore)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::network::MAX_RPC_BYTES,
                )),
        )
        .route("/v1/services", get(services))
        .route("/v1/service/{name}", get(service))
}

/// The leader's address, or the error Nomad gives without one.
async fn leader(State(ctx): State<Ctx>) -> Result<axum::Json<String>, ApiError> {
    let status = ctx.server.status();
    let Some(leader) = status.leader else {
        return Err(ApiError::Unavailable("No cluster leader".to_owned()));
    };
    let address = ctx
        .server
        .peers()
        .into_iter()
        .find(|peer| peer.id == leader)
        .map(|peer| peer.address)
        .unwrap_or_default();
    Ok(axum::Json(address))
}

async fn peers(State(ctx): State<Ctx>) -> axum::Json<Vec<String>> {
    axum::Json(
        ctx.server
            .peers()
            .into_iter()
            .filter(|peer| peer.voter)
            .map(|peer| peer.address)
            .collect(),
    )
}

async fn agent_self(State(ctx): State<Ctx>) -> axum::Json<Value> {
    let status = ctx.server.status();
    let agent = &ctx.agent;
    axum::Json(json!({
        "config": {
            "Region": agent.region,
            "Datacenter": agent.datacenter,
            "NodeName": agent.name,
            "Version": {"Version": env!("CARGO_PKG_VERSION")},
            "Server": {"Enabled": true},
            "Client": {"Enabled": agent.client},
            "Addresses": {"HTTP": agent.http_addr, "RPC": ctx.server.addr().to_string()},
        },
        "member": member(&ctx),
        "stats": {
            "raft": {
                "applied_index": status.applied_index.to_string(),
                "term": status.term.to_string(),
                "state": if status.is_leader { "Leader" } else { "Follower" },
            },
            "nomad": {
                "leader": status.is_leader.to_string(),
                "known_leader": status.leader.is_some().to_string(),
                "server": "true",
            },
            "client": {
                "node_id": ctx.local_client.as_ref().map(|c| c.node_id()).unwrap_or_default(),
            },
        },
    }))
}

/// This agent as a member of the servers' gossip pool (Nomad's `Member`).
fn member(ctx: &Ctx) -> Value {
    let addr = ctx.server.addr();
    json!({
        "Name": format!("{}.{}", ctx.agent.name, ctx.agent.region),
        "Addr": addr.ip().to_string(),
        "Port": addr.port(),
        "Status": "alive",
        "Tags": {
            "region": ctx.agent.region,
            "dc": ctx.agent.datacenter,
            "role": "nomad",
            "id": ctx.server.id().to_string(),
        },
    })
}

/// The servers, as Nomad lists its gossip members.
async fn members(State(ctx): State<Ctx>) -> axum::Json<Value> {
    let leader = ctx.server.status().leader;
    let members: Vec<Value> = ctx
        .server
        .peers()
        .into_iter()
        .map(|peer| {
            let (host, port) = peer
                .address
                .rsplit_once(':')
                .map_or((peer.address.as_str(), "0"), |(h, p)| (h, p));
            json!({
                "Name": format!("server-{}.{}", peer.id, ctx.agent.region),
                "Addr": host,
                "Port": port.parse::<u16>().unwrap_or(0),
                "Status": "alive",
                "Tags": {
                    "region": ctx.agent.region,
                    "role": "nomad",
                    "id": peer.id.to_string(),
                    "leader": (Some(peer.id) == leader).to_string(),
                    "voter": peer.voter.to_string(),
                },
            })
        })
        .collect();
    axum::Json(
        json!({"ServerName": ctx.agent.name, "ServerRegion": ctx.agent.region, "ServerDC": ctx.agent.datacenter, "Members": members}),
    )
}

/// Nomad's health check: 200 while the server knows a leader.
async fn health(State(ctx): State<Ctx>) -> Response {
    let ok = ctx.server.status().leader.is_some();
    let body = json!({
        "server": {"ok": ok, "message": if ok { "ok" } else { "No cluster leader" }},
        "client": {"ok": true, "message": "ok"},
    });
    let status = if ok {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, axum::Json(body)).into_response()
}

async fn regions(State(ctx): State<Ctx>) -> axum::Json<Vec<String>> {
    axum::Json(vec![ctx.agent.region.clone()])
}

/// Gauges of the state and the leader's broker, as JSON in Nomad's
/// shape or, with `?format=prometheus`, in Prometheus' text format.
async fn metrics(State(ctx): State<Ctx>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let snapshot = ctx.server.read_stale();
    let status = ctx.server.status();
    let mut gauges: BTreeMap<String, f64> = BTreeMap::new();
    let mut gauge = |name: &str, value: f64| {
        gauges.insert(name.to_owned(), value);
    };
    gauge("nomad.raft.applied_index", status.applied_index as f64);
    gauge("nomad.raft.term", status.term as f64);
    gauge("nomad.raft.leader", f64::from(u8::from(status.is_leader)));
    gauge("nomad.state.jobs", snapshot.jobs().count() as f64);
    gauge("nomad.state.nodes", snapshot.node_count() as f64);
    gauge("nomad.state.evaluations", snapshot.evals().count() as f64);
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for alloc in snapshot.allocs() {
        let name = match alloc.client_status {
            AllocClientStatus::Pending => "pending",
            AllocClientStatus::Running => "running",
            AllocClientStatus::Complete => "complete",
            AllocClientStatus::Failed => "failed",
            AllocClientStatus::Lost => "lost",
            AllocClientStatus::Unknown => "unknown",
        };
        *by_status.entry(name).or_default() += 1;
    }
    for (name, count) in by_status {
        gauge(&format!("nomad.state.allocations.{name}"), count as f64);
    }
    if let Ok(stats) = ctx.control.broker_stats() {
        gauge("nomad.broker.total_ready", stats.total_ready as f64);
        gauge("nomad.broker.total_unacked", stats.total_unacked as f64);
        gauge("nomad.broker.total_pending", stats.total_pending as f64);
        gauge("nomad.broker.total_waiting", stats.total_waiting as f64);
        gauge("nomad.broker.total_failed", stats.total_failed as f64);
    }
    if let Ok(blocked) = ctx.control.blocked_count() {
        gauge("nomad.blocked_evals.total_blocked", blocked as f64);
    }
    if query.text("format") == "prometheus" {
        let mut text = String::new();
        for (name, value) in &gauges {
            let name = name.replace('.', "_");
            text.push_str(&format!("# TYPE {name} gauge\n{name} {value}\n"));
        }
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            text,
        )
            .into_response());
    }
    let timestamp =
        scheduler_core::model::timestamp::format_rfc3339_nanos(crate::clock::now_unix_nanos());
    let gauges: Vec<Value> = gauges
        .into_iter()
        .map(|(name, value)| json!({"Name": name, "Value": value, "Labels": {}}))
        .collect();
    Ok(axum::Json(json!({
        "Timestamp": timestamp,
        "Gauges": gauges,
        "Counters": [],
        "Samples": [],
    }))
    .into_response())
}

/// `system gc`: collects terminal objects now, whatever their age.
async fn gc(State(ctx): State<Ctx>) -> Result<axum::Json<Value>, ApiError> {
    let report = ctx.control.collect_garbage(true).await?;
    Ok(axum::Json(json!({
        "Evals": report.evals,
        "Allocs": report.allocs,
        "Deployments": report.deployments,
        "Jobs": report.jobs,
    })))
}

async fn raft_configuration(State(ctx): State<Ctx>) -> Answer<Value> {
    let servers: Vec<Value> = ctx
        .server
        .peers()
        .into_iter()
        .map(|peer| {
            json!({
                "ID": peer.id.to_string(),
                "Node": format!("server-{}", peer.id),
                "Address": peer.address,
                "Leader": peer.leader,
                "Voter": peer.voter,
                "RaftProtocol": "3",
            })
        })
        .collect();
    let index = ctx.server.status().applied_index;
    ctx.answer(json!({"Servers": servers, "Index": index}), index)
}

/// `operator raft remove-peer -peer-id ID` (or `-peer-address`).
async fn remove_peer(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<axum::Json<Value>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let id = match (query.get("id"), query.get("address")) {
        (Some(id), _) => id.parse().map_err(|_| {
            ApiError::BadRequest(format!("query parameter \"id\": {id:?} is not a server id"))
        })?,
        (None, Some(address)) => ctx
            .server
            .peers()
            .into_iter()
            .find(|peer| peer.address == address)
            .map(|peer| peer.id)
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "address {address:?} was not found in the Raft configuration"
                ))
            })?,
        (None, None) => {
            return Err(ApiError::BadRequest(
                "must specify either ?id with the server's ID or ?address with IP:port of peer to remove".to_owned(),
            ));
        }
    };
    if !ctx.server.peers().iter().any(|peer| peer.id == id) {
        return Err(ApiError::NotFound(format!(
            "id {id:?} was not found in the Raft configuration"
        )));
    }
    operator::remove_peer(&ctx.server, id)
        .await
        .map_err(operator_error)?;
    Ok(axum::Json(json!({})))
}

fn operator_error(err: OperatorError) -> ApiError {
    match err {
        OperatorError::Snapshot(_) => ApiError::BadRequest(err.to_string()),
        OperatorError::TooLarge { .. } => ApiError::BadRequest(err.to_string()),
        OperatorError::Server(server) => server.into(),
        OperatorError::Recovery { .. } => ApiError::Internal(err.to_string()),
    }
}

async fn snapshot_save(State(ctx): State<Ctx>) -> Result<Response, ApiError> {
    let bytes = operator::snapshot_save(&ctx.server)
        .await
        .map_err(operator_error)?;
    let index = ctx.server.status().applied_index;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_owned(),
            ),
            (
                axum::http::HeaderName::from_static("x-nomad-index"),
                index.to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn snapshot_restore(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<axum::Json<Value>, ApiError> {
    let outcome = operator::snapshot_restore(&ctx.server, &body)
        .await
        .map_err(operator_error)?;
    Ok(axum::Json(json!({"Index": outcome.applied_at})))
}

/// The cluster's live service instances (those of running allocations
/// on nodes that are up), with whether their checks pass, after a
/// blocking wait and a read as [`super::ApiContext::read`] does them; and
/// the index for `X-Nomad-Index`.
async fn registrations(
    ctx: &Ctx,
    query: &Query,
) -> Result<(Vec<(ServiceRegistration, bool)>, u64), ApiError> {
    let (snapshot, index) = ctx
        .read(query, &[Table::Services, Table::Allocs, Table::Nodes])
        .await?;
    let live = ctx
        .server
        .services_stale()
        .live(&snapshot)
        .into_iter()
        .map(|service| (service.registration, service.passing))
        .collect();
    Ok((live, index))
}

async fn services(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<ServiceRegistrationListStub>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (registrations, index) = registrations(&ctx, &query).await?;
    let mut by_namespace: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (service, _) in registrations {
        if !query.selects_namespace(&service.namespace) {
            continue;
        }
        let tags = by_namespace
            .entry(service.namespace.clone())
            .or_default()
            .entry(service.service_name.clone())
            .or_default();
        for tag in service.tags {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    let list = by_namespace
        .into_iter()
        .map(|(namespace, services)| ServiceRegistrationListStub {
            namespace,
            services: services
                .into_iter()
                .map(|(service_name, mut tags)| {
                    tags.sort();
                    ServiceRegistrationStub { service_name, tags }
                })
                .collect(),
        })
        .collect();
    Ok(ctx.answer(list, index))
}

/// One service's instances; `?tag=` keeps those with the tag, and
/// `?healthy=true` (an extension of ours) only those whose checks pass.
async fn service(
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<ServiceRegistration>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let tag = query.text("tag");
    let healthy_only = query.flag("healthy")?;
    let (registrations, index) = registrations(&ctx, &query).await?;
    let instances: Vec<ServiceRegistration> = registrations
        .into_iter()
        .filter(|(service, passing)| {
            service.service_name == name
                && query.selects_namespace(&service.namespace)
                && (tag.is_empty() || service.tags.iter().any(|t| t == tag))
                && (!healthy_only || *passing)
        })
        .map(|(service, _)| service)
        .collect();
    let instances = apply_filter(instances, query.filter()?.as_ref());
    Ok(ctx.answer(instances, index))
}
