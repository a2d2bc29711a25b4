//! Node heartbeats: a node that does not heartbeat within its TTL is marked
//! down, and every job with allocations on it (and every system job) gets
//! an evaluation, which finds those allocations lost and replaces them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use scheduler_core::model::{EvalTrigger, Evaluation, JobId, Node, NodeId, NodeStatus};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::evals::new_evaluation;
use super::{ControlConfig, ControlError, Leader};
use crate::cluster_state::Table;
use crate::command::Command;
use crate::server::Server;

/// How often expired TTLs are looked for.
const SWEEP: Duration = Duration::from_millis(100);

/// Registers or updates a node; on the leader, starts its TTL. A node
/// registering as ready gets evaluations for the jobs it may now serve
/// (its own allocations' jobs and every system job).
pub(crate) async fn register_node(
    server: &Server,
    leader: Option<Arc<Leader>>,
    node: Node,
    config: &ControlConfig,
) -> Result<Duration, ControlError> {
    let mut node = node;
    let node_id = node.id.clone();
    let ready = node.status == NodeStatus::Ready;
    let snapshot = server.read_stale();
    let stored = snapshot.node(&node_id);
    let was_ready = stored.is_some_and(|stored| stored.status == NodeStatus::Ready);
    // Drain and eligibility belong to the servers (an operator set them):
    // a client registering again, after a restart, keeps them.
    if let Some(stored) = stored {
        node.drain = stored.drain;
        node.drain_strategy = stored.drain_strategy.clone();
        node.scheduling_eligibility = stored.scheduling_eligibility;
        node.last_drain = stored.last_drain.clone();
    }
    drop(snapshot);
    server
        .write(Command::UpsertNodes { nodes: vec![node] })
        .await?;
    if let Some(leader) = &leader {
        leader
            .heartbeats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                node_id.clone(),
                crate::clock::monotonic() + config.heartbeat_ttl,
            );
    }
    if ready && !was_ready {
        let evals = node_evals(
            &server.read_stale(),
            &node_id,
            crate::clock::now_unix_nanos(),
        );
        if !evals.is_empty() {
            server.write(Command::UpsertEvals { evals }).await?;
        }
    }
    Ok(config.heartbeat_ttl)
}

/// A heartbeat: the TTL starts again; a node that was down or
/// disconnected is ready again (with evaluations for its jobs).
pub(crate) async fn heartbeat(leader: &Leader, node_id: &NodeId) -> Result<Duration, ControlError> {
    let snapshot = leader.server.read_stale();
    let Some(node) = snapshot.node(node_id) else {
        return Err(ControlError::NotFound(format!("node {node_id}")));
    };
    let ttl = leader.config.heartbeat_ttl;
    leader
        .heartbeats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(node_id.clone(), crate::clock::monotonic() + ttl);
    if node.status.is_unresponsive() {
        let now = leader.now();
        leader
            .write(Command::UpdateNodeStatus {
                node_id: node_id.clone(),
                status: NodeStatus::Ready,
                updated_at: now,
            })
            .await?;
        let evals = node_evals(&leader.server.read_stale(), node_id, now);
        if !evals.is_empty() {
            leader.write(Command::UpsertEvals { evals }).await?;
        }
    }
    Ok(ttl)
}

/// Evaluations for a node's change: one per job with a live allocation on
/// it, and one per system or sysbatch job.
pub(crate) fn node_evals(snapshot: &MemorySnapshot, node_id: &NodeId, now: i64) -> Vec<Evaluation> {
    let mut jobs: BTreeSet<(String, JobId)> = snapshot
        .allocs_by_node(node_id)
        .filter(|alloc| !alloc.is_terminal())
        .map(|alloc| (alloc.namespace.as_str().to_owned(), alloc.job_id.clone()))
        .collect();
    let node_modify_index = snapshot.node(node_id).map_or(0, |n| n.modify_index);
    let mut evals = Vec::new();
    // System jobs run on every node, so every node change concerns them.
    for job in snapshot
        .jobs()
        .filter(|job| job.job_type.is_system_like() && !job.stop)
    {
        jobs.insert((job.namespace.clone(), job.id.clone()));
    }
    for (namespace, id) in jobs {
        if let Some(job) = snapshot.job(&namespace, &id) {
            let mut eval = new_evaluation(job, EvalTrigger::NodeUpdate, now);
            eval.node_id = node_id.clone();
            eval.node_modify_index = node_modify_index;
            evals.push(eval);
        }
    }
    evals
}

/// Marks nodes down when their TTL passes, for the leader's lifetime.
pub(crate) async fn run(leader: Arc<Leader>) {
    // A new leader gives every live node the failover TTL: clients may be
    // busy finding the new leader.
    {
        let snapshot = leader.server.read_stale();
        let deadline = crate::clock::monotonic() + leader.config.failover_heartbeat_ttl;
        let mut heartbeats = leader.heartbeats.lock().unwrap_or_else(|e| e.into_inner());
        for node in snapshot.nodes().filter(|n| !n.status.is_unresponsive()) {
            heartbeats.entry(node.id.clone()).or_insert(deadline);
        }
    }
    let mut nodes_seen = leader.server.table_index(Table::Nodes);
    loop {
        tokio::time::sleep(SWEEP).await;
        let now = crate::clock::monotonic();
        // Nodes registered through another server since the last sweep
        // start their TTL here.
        let nodes_index = leader.server.table_index(Table::Nodes);
        if nodes_index > nodes_seen {
            let snapshot = leader.server.read_stale();
            let mut heartbeats = leader.heartbeats.lock().unwrap_or_else(|e| e.into_inner());
            for node in snapshot
                .nodes()
                .filter(|n| n.modify_index > nodes_seen && !n.status.is_unresponsive())
            {
                heartbeats
                    .entry(node.id.clone())
                    .or_insert(now + leader.config.heartbeat_ttl);
            }
            nodes_seen = nodes_index;
        }
        let expired: Vec<NodeId> = {
            let mut heartbeats = leader.heartbeats.lock().unwrap_or_else(|e| e.into_inner());
            let expired: Vec<NodeId> = heartbeats
                .iter()
                .filter(|(_, deadline)| **deadline <= now)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &expired {
                heartbeats.remove(id);
            }
            expired
        };
        for node_id in expired {
            if let Err(err) = mark_down(&leader, &node_id).await {
                tracing::warn!("could not mark node {node_id} down: {err}");
            }
        }
    }
}

async fn mark_down(leader: &Leader, node_id: &NodeId) -> Result<(), ControlError> {
    let now = leader.now();
    tracing::info!("node {node_id} missed its heartbeat TTL: marking it down");
    leader
        .write(Command::UpdateNodeStatus {
            node_id: node_id.clone(),
            status: NodeStatus::Down,
            updated_at: now,
        })
        .await?;
    let evals = node_evals(&leader.server.read_stale(), node_id, now);
    if !evals.is_empty() {
        leader.write(Command::UpsertEvals { evals }).await?;
    }
    Ok(())
}
