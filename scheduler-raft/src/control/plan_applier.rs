//! The plan applier: the single place plans become state.
//!
//! Workers schedule in parallel against snapshots that may be stale; the
//! applier checks each plan against the latest state (the core's
//! `check_owned_plan`, Nomad's `evaluateNodePlan`) and commits what fits.
//! Plans waiting in the queue are checked one after another against a
//! private copy of the state that already holds the plans accepted before
//! them, then committed together in one Raft entry: a burst of plans costs
//! one round of replication and one fsync per server, not one per plan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use scheduler_core::model::{EvalTrigger, Evaluation, JobId, NodeId};
use scheduler_core::plan::{PlanResult, check_owned_plan, commit_plan};
use scheduler_core::scheduler::Plan;
use scheduler_core::state::{MemoryState, StateSnapshot};

use super::{Leader, evals::new_evaluation};
use crate::command::{Command, PlanApply};

/// A plan a worker hands to the applier.
#[derive(Debug)]
pub struct PlanSubmission {
    /// The plan.
    pub plan: Plan,
    /// Evaluations to commit with the plan if it is accepted whole (the
    /// evaluation's own update, blocked and follow-up evaluations).
    pub evals: Vec<Evaluation>,
    /// Where the outcome goes.
    pub reply: oneshot::Sender<Result<PlanOutcome, String>>,
}

/// What became of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOutcome {
    /// Nodes refused, with why (empty: accepted whole).
    pub rejected: BTreeMap<NodeId, String>,
    /// When some node was refused: the index the worker must at least see
    /// before planning again.
    pub refresh_index: u64,
    /// The log index the plan was committed at.
    pub index: u64,
}

/// Takes plans from the queue for the leader's lifetime.
pub(crate) async fn run(leader: Arc<Leader>, mut queue: mpsc::Receiver<PlanSubmission>) {
    while let Some(first) = queue.recv().await {
        let mut allocs = plan_size(&first.plan);
        let mut batch = vec![first];
        while batch.len() < leader.config.plans_per_entry.max(1)
            && allocs < leader.config.allocs_per_entry
        {
            match queue.try_recv() {
                Ok(submission) => {
                    allocs += plan_size(&submission.plan);
                    batch.push(submission);
                }
                Err(_) => break,
            }
        }
        apply_batch(&leader, batch).await;
    }
}

/// How many allocations a plan writes.
fn plan_size(plan: &Plan) -> usize {
    [
        &plan.node_update,
        &plan.node_allocation,
        &plan.node_preemptions,
    ]
    .iter()
    .flat_map(|map| map.values())
    .map(Vec::len)
    .sum()
}

async fn apply_batch(leader: &Leader, batch: Vec<PlanSubmission>) {
    let mut working: MemoryState = leader.server.store_copy();
    let now = leader.now();
    let mut commands = Vec::with_capacity(batch.len());
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut freed_nodes: BTreeSet<NodeId> = BTreeSet::new();
    let last = batch.len() - 1;
    for (position, submission) in batch.into_iter().enumerate() {
        let PlanSubmission { plan, evals, reply } = submission;
        let eval_id = plan.eval_id.clone();
        let job = plan.job.clone();
        let result = check_owned_plan(working.view(), plan);
        let outcome = PlanOutcome {
            rejected: result.rejected.clone(),
            refresh_index: result.refresh_index,
            index: 0,
        };
        let mut evals = if result.is_full_commit() {
            evals
        } else {
            Vec::new()
        };
        evals.extend(preemption_follow_ups(working.view(), &result, now));
        freed_nodes.extend(result.node_update.keys().cloned());
        freed_nodes.extend(result.node_preemptions.keys().cloned());
        // Later plans of the batch are checked against this one's effect.
        if position != last {
            let index = working.index();
            if let Err(err) = commit_plan(&mut working, index, result.clone()) {
                tracing::warn!("plan of evaluation {eval_id} could not be staged: {err}");
            }
        }
        commands.push(Command::ApplyPlan(Box::new(plan_apply(
            eval_id, job, result, evals,
        ))));
        outcomes.push((outcome, reply));
    }
    // The copy shares the store's tables; held across the write, it would
    // make the state machine copy every table and per-node index the
    // entry touches instead of updating them in place.
    drop(working);
    let written = leader.write_here(Command::Batch(commands)).await;
    match written {
        Ok(response) => {
            for (mut outcome, reply) in outcomes {
                outcome.index = response.index;
                let _ = reply.send(Ok(outcome));
            }
            unblock_freed(leader, &freed_nodes, response.index);
        }
        Err(err) => {
            let message = err.to_string();
            for (_, reply) in outcomes {
                let _ = reply.send(Err(message.clone()));
            }
        }
    }
}

/// The plan as a log entry: allocations that run the plan's job travel
/// without their copy of it, and with their placement metrics encoded.
fn plan_apply(
    eval_id: scheduler_core::model::EvalId,
    job: Option<scheduler_core::model::Job>,
    result: PlanResult,
    evals: Vec<Evaluation>,
) -> PlanApply {
    let PlanResult {
        node_update,
        mut node_allocation,
        node_preemptions,
        deployment,
        deployment_updates,
        ..
    } = result;
    for alloc in node_allocation.values_mut().flatten() {
        if job.is_some() && alloc.job.as_deref() == job.as_ref() {
            alloc.job = None;
        }
        // Every server then stores the metrics as the bytes followers
        // receive (`LazyMetric`), the leader included.
        alloc.metrics.keep_encoded();
    }
    PlanApply {
        eval_id,
        job,
        node_update,
        node_allocation,
        node_preemptions,
        deployment,
        deployment_updates,
        evals,
    }
}

/// Jobs that lose allocations to preemption get an evaluation to replace
/// them (Nomad's preemption follow-ups).
fn preemption_follow_ups(
    snapshot: &dyn StateSnapshot,
    result: &PlanResult,
    now: i64,
) -> Vec<Evaluation> {
    let jobs: BTreeSet<(String, JobId)> = result
        .node_preemptions
        .values()
        .flatten()
        .map(|alloc| (alloc.namespace.as_str().to_owned(), alloc.job_id.clone()))
        .collect();
    jobs.into_iter()
        .filter_map(|(namespace, id)| snapshot.job(&namespace, &id))
        .map(|job| new_evaluation(job, EvalTrigger::Preemption, now))
        .collect()
}

fn unblock_freed(leader: &Leader, nodes: &BTreeSet<NodeId>, index: u64) {
    if nodes.is_empty() {
        return;
    }
    let snapshot = leader.server.read_stale();
    let woken: Vec<Evaluation> = {
        let mut blocked = leader.blocked();
        nodes
            .iter()
            .filter_map(|id| snapshot.node(id))
            .flat_map(|node| blocked.unblock(&node.computed_class, index))
            .collect()
    };
    leader.enqueue(woken);
}
