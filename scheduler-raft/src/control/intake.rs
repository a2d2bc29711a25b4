//! Feeds the broker and the blocked tracker from the replicated state.
//!
//! Nomad's state machine enqueues evaluations into the leader's broker as
//! it applies them. Ours stays free of runtime concerns: the leader
//! follows the Evals and Nodes tables instead, and everything a new leader
//! must know (pending and blocked evaluations) is loaded the same way on
//! its first pass.

use std::sync::Arc;
use std::time::Duration;

use scheduler_core::broker::{BlockStatus, failed_follow_up, failed_update};
use scheduler_core::model::{Allocation, EvalStatus, Evaluation, NodeStatus};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::Leader;
use crate::cluster_state::Table;
use crate::command::Command;

/// Follows the evaluation and node tables for the leader's lifetime.
pub(crate) async fn run(leader: Arc<Leader>) {
    let mut evals_seen = 0;
    let mut nodes_seen = 0;
    loop {
        let server = &leader.server;
        let evals_index = server.table_index(Table::Evals);
        let nodes_index = server.table_index(Table::Nodes);
        if evals_index > evals_seen || nodes_index > nodes_seen {
            let snapshot = server.read_stale();
            if evals_index > evals_seen {
                take_new_evals(&leader, &snapshot, evals_seen).await;
                evals_seen = evals_index;
            }
            if nodes_index > nodes_seen {
                let woken: Vec<Evaluation> = {
                    let mut blocked = leader.blocked();
                    snapshot
                        .nodes()
                        .filter(|node| node.modify_index > nodes_seen)
                        .filter(|node| node.status == NodeStatus::Ready)
                        .flat_map(|node| blocked.unblock(&node.computed_class, node.modify_index))
                        .collect()
                };
                leader.enqueue(woken);
                nodes_seen = nodes_index;
            }
        }
        // Any applied entry may touch the tables; the wait is bounded so a
        // quiet cluster still re-checks now and then.
        let applied = server.status().applied_index;
        let _ = server
            .wait_applied(applied + 1, Duration::from_secs(1))
            .await;
    }
}

/// Pending evaluations go to the broker, blocked ones to the tracker.
async fn take_new_evals(leader: &Leader, snapshot: &MemorySnapshot, after: u64) {
    let mut ready = Vec::new();
    let mut cancel = Vec::new();
    {
        let mut blocked = leader.blocked();
        for eval in snapshot.evals().filter(|eval| eval.modify_index > after) {
            match eval.status {
                EvalStatus::Pending => ready.push(eval.clone()),
                EvalStatus::Blocked => {
                    let outcome = blocked.block(eval.clone());
                    if let Some(eval) = outcome.enqueue {
                        ready.push(eval);
                    }
                    if let Some(eval) = outcome.cancel {
                        cancel.push(eval);
                    }
                    debug_assert!(outcome.status != BlockStatus::Disabled);
                }
                _ => {}
            }
        }
    }
    leader.enqueue(ready);
    cancel_evals(leader, cancel).await;
}

/// Writes evaluations back as canceled (superseded by a newer one).
pub(crate) async fn cancel_evals(leader: &Leader, evals: Vec<Evaluation>) {
    if evals.is_empty() {
        return;
    }
    let now = leader.now();
    let evals = evals
        .into_iter()
        .map(|mut eval| {
            eval.status = EvalStatus::Canceled;
            eval.status_description = "canceled: superseded by a newer evaluation".to_owned();
            eval.modify_time = now;
            eval
        })
        .collect();
    if let Err(err) = leader.write(Command::UpsertEvals { evals }).await {
        tracing::warn!("could not cancel superseded evaluations: {err}");
    }
}

/// Capacity freed on nodes (allocations that finished) wakes the blocked
/// evaluations those nodes' classes may serve.
pub(crate) fn unblock_for_client_updates(leader: &Leader, allocs: &[Allocation], index: u64) {
    let snapshot = leader.server.read_stale();
    let woken: Vec<Evaluation> = {
        let mut blocked = leader.blocked();
        allocs
            .iter()
            .filter(|alloc| alloc.client_status.is_terminal())
            .filter_map(|alloc| snapshot.node(&alloc.node_id))
            .flat_map(|node| blocked.unblock(&node.computed_class, index))
            .collect()
    };
    leader.enqueue(woken);
}

/// Ticks the broker at its deadlines (delayed evaluations, nack timeouts)
/// and turns evaluations past their delivery limit into a failed record
/// and a delayed follow-up (Nomad's failed-evaluation reaper).
pub(crate) async fn run_broker_timers(leader: Arc<Leader>) {
    loop {
        let now = leader.now();
        let (failed, cancelable, next) = {
            let mut broker = leader.broker();
            broker.tick(now);
            (
                broker.take_failed(),
                broker.take_cancelable(),
                broker.next_deadline(),
            )
        };
        leader.broker_ready.notify_waiters();
        if !failed.is_empty() {
            let delay = scheduler_core::model::Duration(
                i64::try_from(leader.config.failed_follow_up_delay.as_nanos()).unwrap_or(i64::MAX),
            );
            let limit = leader.config.broker.delivery_limit;
            let mut evals = Vec::new();
            for eval in &failed {
                let follow_up = failed_follow_up(eval, now, delay);
                evals.push(failed_update(eval, &follow_up, limit, now));
                evals.push(follow_up);
            }
            if let Err(err) = leader.write(Command::UpsertEvals { evals }).await {
                tracing::warn!("could not record failed evaluations: {err}");
            }
        }
        cancel_evals(&leader, cancelable).await;
        let wait = next.map_or(Duration::from_secs(1), |deadline| {
            let nanos = u64::try_from(deadline.saturating_sub(leader.now())).unwrap_or(0);
            Duration::from_nanos(nanos).min(Duration::from_secs(1))
        });
        tokio::time::sleep(wait.max(Duration::from_millis(5))).await;
    }
}
