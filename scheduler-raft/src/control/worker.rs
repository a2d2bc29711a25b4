//! Scheduler workers: take an evaluation from the broker, schedule it
//! against a snapshot at least as new as the evaluation, hand the plan to
//! the applier, record the evaluation's outcome, acknowledge.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use scheduler_core::model::Evaluation;
use scheduler_core::scheduler::{Plan, SchedulerEnv, schedule};
use scheduler_core::state::{MemorySnapshot, PendingUsage, StateSnapshot, WithPending};

use super::plan_applier::PlanSubmission;
use super::{ControlError, Leader, intake::cancel_evals};
use crate::Server;
use crate::command::Command;

/// How long the follow-up of an evaluation that gave up after partial
/// commits waits before it runs (the refused nodes' state settles).
const MAX_PLANS_RETRY_DELAY_NANOS: i64 = 1_000_000_000;

/// The scheduler types a worker takes.
const SCHEDULERS: [&str; 4] = ["service", "batch", "system", "sysbatch"];

/// One worker, for the leader's lifetime.
pub(crate) async fn run(leader: Arc<Leader>, worker: usize) {
    loop {
        let ready = leader.broker_ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        let delivery = leader.broker().dequeue(&SCHEDULERS, leader.now());
        let Some(delivery) = delivery else {
            let _ = tokio::time::timeout(Duration::from_millis(500), ready).await;
            continue;
        };
        let eval_id = delivery.eval.id.clone();
        match process(&leader, delivery.eval.clone()).await {
            Ok(()) => {
                let acked = leader.broker().ack(&eval_id, &delivery.token);
                match acked {
                    Ok(outcome) => {
                        cancel_evals(&leader, outcome.cancelable).await;
                        leader.broker_ready.notify_waiters();
                    }
                    Err(err) => tracing::warn!("worker {worker}: ack of {eval_id}: {err}"),
                }
            }
            Err(err) => {
                tracing::warn!("worker {worker}: evaluation {eval_id} failed: {err}");
                let now = leader.now();
                if let Err(err) = leader.broker().nack(&eval_id, &delivery.token, now) {
                    tracing::warn!("worker {worker}: nack of {eval_id}: {err}");
                }
            }
        }
    }
}

fn plan_is_empty(plan: &Plan) -> bool {
    plan.node_update.values().all(Vec::is_empty)
        && plan.node_allocation.values().all(Vec::is_empty)
        && plan.node_preemptions.values().all(Vec::is_empty)
        && plan.deployment.is_none()
        && plan.deployment_updates.is_empty()
}

/// Schedules one evaluation to the end: re-plans after a partial commit
/// (with a snapshot at least as new as the refresh index), up to the
/// configured attempts.
async fn process(leader: &Leader, eval: Evaluation) -> Result<(), ControlError> {
    let server = &leader.server;
    // The snapshot must include the evaluation's own write and what caused
    // it (a job registration, a node update).
    server
        .wait_applied(eval.modify_index, Duration::from_secs(10))
        .await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let turn = leader
            .scheduling
            .acquire()
            .await
            .map_err(|_| ControlError::NotLeader)?;
        let (snapshot, pending) = leader.pending_plans.snapshot_with_pending(server);
        let env = SchedulerEnv {
            now: leader.now(),
            seed: leader.config.seed,
        };
        let scheduled = eval.clone();
        // Scheduling is CPU work: off the async threads that run Raft.
        let result = tokio::task::spawn_blocking(move || {
            schedule(&WithPending::new(&snapshot, &pending), &scheduled, &env)
        })
        .await
        .map_err(|err| ControlError::Invalid(format!("scheduler panicked: {err}")))?;
        // Until its outcome is known, the plan's placements count as held
        // for the workers scheduling after this one.
        let _reservation = leader.pending_plans.reserve(&result.plan);
        drop(turn);
        let mut evals = vec![result.eval_update];
        evals.extend(result.created_evals);
        if plan_is_empty(&result.plan) {
            leader.write(Command::UpsertEvals { evals }).await?;
            return Ok(());
        }
        let final_attempt = attempt >= leader.config.plan_attempts.max(1);
        let (reply, outcome) = oneshot::channel();
        let submission = PlanSubmission {
            plan: result.plan,
            evals: evals.clone(),
            reply,
        };
        leader
            .plans
            .send(submission)
            .await
            .map_err(|_| ControlError::NotLeader)?;
        let outcome = outcome
            .await
            .map_err(|_| ControlError::NotLeader)?
            .map_err(|err| ControlError::Server(crate::server::ServerError::Raft(err)))?;
        if outcome.rejected.is_empty() {
            return Ok(());
        }
        if let Some((node, why)) = outcome.rejected.iter().next() {
            tracing::debug!(
                "plan of evaluation {} partly refused ({} nodes), e.g. node {node}: {why}",
                eval.id,
                outcome.rejected.len()
            );
        }
        if final_attempt {
            // Record the outcome of the last attempt, and leave a delayed
            // follow-up evaluation for what the refused nodes did not take
            // (Nomad leaves a blocked evaluation for the same reason):
            // without it the remainder would wait for an unrelated event.
            let mut evals = evals;
            if let Some(update) = evals.first_mut() {
                update.status_description =
                    format!("plan partially committed after {attempt} attempts");
            }
            let now = leader.now();
            if let Some(job) = server
                .read_stale()
                .job(eval.namespace.as_str(), &eval.job_id)
            {
                let mut follow_up = super::evals::new_evaluation(
                    job,
                    scheduler_core::model::EvalTrigger::MaxPlans,
                    now,
                );
                follow_up.previous_eval = eval.id.clone();
                follow_up.wait_until = scheduler_core::model::timestamp::format_rfc3339_nanos(
                    now.saturating_add(MAX_PLANS_RETRY_DELAY_NANOS),
                );
                evals.push(follow_up);
            }
            leader.write(Command::UpsertEvals { evals }).await?;
            return Ok(());
        }
        server
            .wait_applied(
                outcome.refresh_index.max(outcome.index),
                Duration::from_secs(10),
            )
            .await?;
    }
}

/// What the plans workers submitted and whose outcome they still await
/// will place (see [`scheduler_core::state::WithPending`]), by ticket.
#[derive(Debug, Default)]
pub(crate) struct PendingPlans {
    plans: std::sync::Mutex<(u64, std::collections::BTreeMap<u64, PendingUsage>)>,
}

impl PendingPlans {
    /// The server's state and what pending plans add to it, read together:
    /// a plan's reservation is released only after its entry is applied,
    /// so a plan is never missing from both (it may be in both, which only
    /// makes its nodes look fuller for a moment).
    fn snapshot_with_pending(&self, server: &Server) -> (MemorySnapshot, PendingUsage) {
        let plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = server.read_stale();
        (snapshot, combined(&plans.1))
    }

    /// What every pending plan adds, together.
    #[cfg(test)]
    fn pending(&self) -> PendingUsage {
        combined(&self.plans.lock().unwrap_or_else(|e| e.into_inner()).1)
    }

    /// Holds `plan`'s placements as pending until the reservation drops.
    fn reserve(&self, plan: &Plan) -> Reservation<'_> {
        let usage = PendingUsage::of_plan(plan);
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = plans.0;
        plans.0 += 1;
        if !usage.is_empty() {
            plans.1.insert(ticket, usage);
        }
        Reservation {
            plans: self,
            ticket,
        }
    }
}

fn combined(plans: &std::collections::BTreeMap<u64, PendingUsage>) -> PendingUsage {
    let mut pending = PendingUsage::new();
    for usage in plans.values() {
        pending.absorb(usage);
    }
    pending
}

/// A plan's placements held as pending; released when dropped (the plan's
/// outcome is known, or the worker gave up on it).
struct Reservation<'a> {
    plans: &'a PendingPlans,
    ticket: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut plans = self.plans.plans.lock().unwrap_or_else(|e| e.into_inner());
        plans.1.remove(&self.ticket);
    }
}

#[cfg(test)]
mod tests {
    use scheduler_core::model::{Allocation, NodeId};

    use super::*;

    fn plan_on(node: &str) -> Plan {
        let mut plan = Plan::default();
        plan.node_allocation
            .insert(NodeId::new(node), vec![Allocation::default()]);
        plan
    }

    #[test]
    fn a_reservation_holds_its_plan_until_dropped() {
        let plans = PendingPlans::default();
        let (a, b) = (plan_on("node-a"), plan_on("node-b"));
        let first = plans.reserve(&a);
        let second = plans.reserve(&b);
        let mut both = PendingUsage::of_plan(&a);
        both.absorb(&PendingUsage::of_plan(&b));
        assert_eq!(plans.pending(), both);
        drop(first);
        assert_eq!(plans.pending(), PendingUsage::of_plan(&b));
        assert!(plans.pending().on(&NodeId::new("node-a")).is_none());
        drop(second);
        assert!(plans.pending().is_empty());
        // A plan that places nothing holds nothing.
        let _empty = plans.reserve(&Plan::default());
        assert!(plans.pending().is_empty());
    }
}
