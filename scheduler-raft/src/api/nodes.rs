//! Nodes: `/v1/nodes`, `/v1/node/:id` and its `allocations`, `drain`,
//! `eligibility`, `purge` and `evaluate`.
//!
//! Drain and eligibility are server-owned fields of the node: the write
//! changes only them (a client's re-registration keeps them), and the
//! leader's drainer migrates the allocations of a draining node.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};

use scheduler_core::model::api::{
    AllocListStub, NodeDrainRequest, NodeEligibilityRequest, NodeListStub, NodeUpdateResponse,
};
use scheduler_core::model::timestamp::format_rfc3339_nanos;
use scheduler_core::model::{DrainStatus, Node, NodeId, SchedulingEligibility};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::Ctx;
use super::body::decode;
use super::error::ApiError;
use super::query::{Answer, Query, apply_filter, paginate};
use crate::cluster_state::Table;
use crate::command::Command;
use crate::control::node_evals;

pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/v1/nodes", get(list_nodes))
        .route("/v1/node/{id}", get(get_node))
        .route("/v1/node/{id}/allocations", get(node_allocs))
        .route("/v1/node/{id}/drain", post(drain_node).put(drain_node))
        .route(
            "/v1/node/{id}/eligibility",
            post(node_eligibility).put(node_eligibility),
        )
        .route("/v1/node/{id}/purge", post(purge_node).put(purge_node))
        .route(
            "/v1/node/{id}/evaluate",
            post(evaluate_node).put(evaluate_node),
        )
}

async fn list_nodes(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<NodeListStub>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let filter = query.filter()?;
    let (snapshot, index) = ctx.read(&query, &[Table::Nodes]).await?;
    let prefix = query.text("prefix");
    let attributes: &[&str] = if query.flag("os")? {
        &["os.name", "os.version"]
    } else {
        &[]
    };
    let stubs: Vec<NodeListStub> = snapshot
        .nodes()
        .filter(|node| node.id.as_str().starts_with(prefix))
        .map(|node| NodeListStub::from_node(node, attributes))
        .collect();
    let stubs = apply_filter(stubs, filter.as_ref());
    let (page, next) = paginate(stubs, &query, |stub| stub.id.clone())?;
    let mut answer = ctx.answer(page, index);
    answer.next_token = next;
    Ok(answer)
}

/// The node with this id or unique id prefix.
fn find_node<'a>(snapshot: &'a MemorySnapshot, id: &str) -> Result<&'a Node, ApiError> {
    super::query::exact_or_prefix(
        snapshot.node(&NodeId::new(id)),
        snapshot.nodes(),
        |item| item.id.as_str(),
        id,
        "node",
        "node not found",
    )
}

async fn get_node(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Node>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (snapshot, index) = ctx.read(&query, &[Table::Nodes]).await?;
    Ok(ctx.answer(find_node(&snapshot, &id)?.clone(), index))
}

async fn node_allocs(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<AllocListStub>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (snapshot, index) = ctx.read(&query, &[Table::Allocs]).await?;
    let node = find_node(&snapshot, &id)?;
    let stubs = snapshot
        .allocs_by_node(&node.id)
        .map(AllocListStub::from_alloc)
        .collect();
    Ok(ctx.answer(apply_filter(stubs, query.filter()?.as_ref()), index))
}

/// Writes `node` and evaluations for the jobs on it; the answer Nomad
/// gives to node updates.
async fn write_node(
    ctx: &Ctx,
    node: Node,
    with_evals: bool,
) -> Result<Answer<NodeUpdateResponse>, ApiError> {
    let snapshot = ctx.server.read_stale();
    let now = crate::clock::now_unix_nanos();
    let evals = if with_evals {
        node_evals(&snapshot, &node.id, now)
    } else {
        Vec::new()
    };
    let eval_ids = evals.iter().map(|e| e.id.as_str().to_owned()).collect();
    let mut commands = vec![Command::UpsertNodes { nodes: vec![node] }];
    if !evals.is_empty() {
        commands.push(Command::UpsertEvals { evals });
    }
    let response = ctx.server.write(Command::Batch(commands)).await?;
    response.result.clone().map_err(ApiError::from)?;
    Ok(ctx.answer(
        NodeUpdateResponse {
            eval_ids,
            eval_create_index: response.index,
            node_modify_index: response.index,
            index: response.index,
        },
        response.index,
    ))
}

/// `node drain -enable|-disable`.
async fn drain_node(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Answer<NodeUpdateResponse>, ApiError> {
    let request: NodeDrainRequest = decode(&body)?;
    let snapshot = ctx.server.read_consistent().await?;
    let mut node = find_node(&snapshot, &id)?.clone();
    let now = crate::clock::now_unix_nanos();
    match request.drain_spec {
        Some(spec) => crate::client::begin_drain(&mut node, &spec, request.meta, now),
        None => {
            let stamp = format_rfc3339_nanos(now);
            node.drain = false;
            node.drain_strategy = None;
            if request.mark_eligible {
                node.scheduling_eligibility = SchedulingEligibility::Eligible;
            }
            if let Some(last) = &mut node.last_drain
                && last.status == DrainStatus::Draining
            {
                last.status = DrainStatus::Canceled;
                last.updated_at = stamp;
            }
        }
    }
    let eligible = node.scheduling_eligibility == SchedulingEligibility::Eligible;
    write_node(&ctx, node, eligible).await
}

/// `node eligibility -enable|-disable`.
async fn node_eligibility(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Answer<NodeUpdateResponse>, ApiError> {
    let request: NodeEligibilityRequest = decode(&body)?;
    let eligibility = match request.eligibility.as_str() {
        "eligible" => SchedulingEligibility::Eligible,
        "ineligible" => SchedulingEligibility::Ineligible,
        other => {
            return Err(ApiError::BadRequest(format!(
                "invalid request body at Eligibility: {other:?} is neither \"eligible\" nor \"ineligible\""
            )));
        }
    };
    let snapshot = ctx.server.read_consistent().await?;
    let mut node = find_node(&snapshot, &id)?.clone();
    if node.drain_strategy.is_some() && eligibility == SchedulingEligibility::Eligible {
        return Err(ApiError::BadRequest(
            "can not set node's scheduling eligibility to eligible while it is draining".to_owned(),
        ));
    }
    let became_eligible = node.scheduling_eligibility != eligibility
        && eligibility == SchedulingEligibility::Eligible;
    node.scheduling_eligibility = eligibility;
    write_node(&ctx, node, became_eligible).await
}

/// `node purge`: forgets the node; its allocations are rescheduled.
async fn purge_node(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
) -> Result<Answer<NodeUpdateResponse>, ApiError> {
    let snapshot = ctx.server.read_consistent().await?;
    let node = find_node(&snapshot, &id)?;
    let now = crate::clock::now_unix_nanos();
    let evals = node_evals(&snapshot, &node.id, now);
    let eval_ids = evals.iter().map(|e| e.id.as_str().to_owned()).collect();
    let mut commands = vec![Command::DeleteNode {
        node_id: node.id.clone(),
    }];
    if !evals.is_empty() {
        commands.push(Command::UpsertEvals { evals });
    }
    let response = ctx.server.write(Command::Batch(commands)).await?;
    response.result.clone().map_err(ApiError::from)?;
    Ok(ctx.answer(
        NodeUpdateResponse {
            eval_ids,
            eval_create_index: response.index,
            node_modify_index: response.index,
            index: response.index,
        },
        response.index,
    ))
}

/// `node eval`: evaluations for every job with allocations on the node.
async fn evaluate_node(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
) -> Result<Answer<NodeUpdateResponse>, ApiError> {
    let snapshot = ctx.server.read_consistent().await?;
    let node = find_node(&snapshot, &id)?;
    let now = crate::clock::now_unix_nanos();
    let evals = node_evals(&snapshot, &node.id, now);
    let eval_ids = evals.iter().map(|e| e.id.as_str().to_owned()).collect();
    let response = ctx.server.write(Command::UpsertEvals { evals }).await?;
    response.result.clone().map_err(ApiError::from)?;
    Ok(ctx.answer(
        NodeUpdateResponse {
            eval_ids,
            eval_create_index: response.index,
            node_modify_index: node.modify_index,
            index: response.index,
        },
        response.index,
    ))
}
