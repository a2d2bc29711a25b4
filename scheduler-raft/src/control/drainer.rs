//! The node drainer: while the leader runs, it applies the core's
//! [`drain_step`] whenever nodes or allocations change (and at the next
//! drain deadline): marks allocations of draining nodes to migrate, with
//! one evaluation per job so the scheduler replaces them elsewhere, and
//! completes finished drains (the node stays ineligible, as Nomad leaves
//! it).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use scheduler_core::model::timestamp::format_rfc3339_nanos;
use scheduler_core::model::{DrainStatus, EvalTrigger, NodeId};
use scheduler_core::reconcile::drain::drain_step;
use scheduler_core::state::StateSnapshot;

use super::Leader;
use super::evals::new_evaluation;
use crate::cluster_state::Table;
use crate::command::Command;

/// How long the drainer sleeps when nothing changes and no deadline is
/// near (a safety net: changes wake it).
const IDLE: Duration = Duration::from_secs(5);

pub(crate) async fn run(leader: Arc<Leader>) {
    // The draining nodes, kept up to date from the nodes changed since the
    // last look: while none drains (nearly always), a change costs a walk
    // over the changed nodes only, not a drain step over the cluster.
    let mut draining: BTreeSet<NodeId> = BTreeSet::new();
    let mut nodes_seen = 0;
    loop {
        let seen = leader
            .server
            .table_index(Table::Nodes)
            .max(leader.server.table_index(Table::Allocs));
        let snapshot = leader.server.read_stale();
        for node in snapshot
            .nodes()
            .filter(|node| node.modify_index > nodes_seen)
        {
            if node.drain_strategy.is_some() {
                draining.insert(node.id.clone());
            } else {
                draining.remove(&node.id);
            }
        }
        draining.retain(|id| snapshot.node(id).is_some());
        nodes_seen = leader
            .server
            .table_index(Table::Nodes)
            .min(snapshot.index());
        if draining.is_empty() {
            drop(snapshot);
            leader
                .server
                .wait_tables(&[Table::Nodes, Table::Allocs], seen, IDLE)
                .await;
            continue;
        }
        let now = leader.now();
        let decision = drain_step(&snapshot, now);
        let mut commands = Vec::new();
        if !decision.migrate.is_empty() {
            let marked = decision
                .migrate
                .iter()
                .filter_map(|mark| snapshot.alloc(&mark.alloc))
                .map(|alloc| {
                    let mut marked = alloc.clone();
                    marked.job = None;
                    marked.desired_transition.migrate = Some(true);
                    marked
                })
                .collect();
            commands.push(Command::UpsertAllocs { allocs: marked });
            let evals = decision
                .jobs()
                .iter()
                .filter_map(|(namespace, job)| snapshot.job(namespace.as_str(), job))
                .map(|job| new_evaluation(job, EvalTrigger::NodeDrain, now))
                .collect();
            commands.push(Command::UpsertEvals { evals });
        }
        let finished: Vec<_> = decision
            .done
            .iter()
            .filter_map(|id| snapshot.node(id))
            .map(|node| {
                let mut node = node.clone();
                node.drain = false;
                node.drain_strategy = None;
                let stamp = format_rfc3339_nanos(now);
                let mut last = node.last_drain.clone().unwrap_or_default();
                last.status = DrainStatus::Complete;
                last.updated_at = stamp;
                node.last_drain = Some(last);
                node
            })
            .collect();
        if !finished.is_empty() {
            for node in &finished {
                tracing::info!(node = %node.id, "drain complete");
            }
            commands.push(Command::UpsertNodes { nodes: finished });
        }
        drop(snapshot);
        if !commands.is_empty()
            && let Err(err) = leader.write(Command::Batch(commands)).await
        {
            tracing::warn!(error = %err, "drainer: could not write its marks");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let mut wait = IDLE;
        if let Some(at) = decision.next_deadline {
            let until = u64::try_from(at.saturating_sub(leader.now())).unwrap_or(0);
            wait = wait.min(Duration::from_nanos(until));
        }
        leader
            .server
            .wait_tables(&[Table::Nodes, Table::Allocs], seen, wait)
            .await;
    }
}
