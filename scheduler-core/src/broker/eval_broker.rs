//! The evaluation broker: Nomad's `eval_broker.go` as a pure state machine.
//!
//! Evaluations wait in ready queues, one per scheduler type, until a worker
//! dequeues one; the worker then acks it (done) or nacks it (retry). At most
//! one evaluation per job is ready or out with a worker at a time: later
//! ones wait in the job's pending set, and when the one in flight is acked
//! only the newest pending evaluation goes on, since it sees the latest
//! job; the others are handed back to be cancelled.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{JobKey, derived_uuid, job_key};
use crate::model::timestamp::{format_rfc3339_nanos, parse_rfc3339_nanos};
use crate::model::{Duration, EvalId, EvalStatus, EvalTrigger, Evaluation};

/// Tuning of an [`EvalBroker`]. [`Default`] gives Nomad's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerConfig {
    /// How long a worker may hold a delivery without acking, nacking or
    /// resetting it before the broker nacks it itself. Nomad: 60s.
    pub nack_timeout: Duration,
    /// Deliveries after which a nacked evaluation goes to the failed queue
    /// instead of back to ready. Nomad: 3.
    pub delivery_limit: u32,
    /// Delay before an evaluation nacked after its first delivery is ready
    /// again. Nomad: 1s.
    pub initial_nack_delay: Duration,
    /// Delay before an evaluation nacked after a later delivery is ready
    /// again. Nomad: 20s.
    pub subsequent_nack_delay: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            nack_timeout: Duration::from_secs(60),
            delivery_limit: 3,
            initial_nack_delay: Duration::from_secs(1),
            subsequent_nack_delay: Duration::from_secs(20),
        }
    }
}

/// An evaluation handed to a worker by [`EvalBroker::dequeue`].
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The evaluation to process.
    pub eval: Evaluation,
    /// Proof of this delivery, for [`EvalBroker::ack`], [`EvalBroker::nack`]
    /// and [`EvalBroker::outstanding_reset`]. Derived from the evaluation id
    /// and the broker's delivery counter, so it is unique per delivery and
    /// the same on replay.
    pub token: String,
    /// Time (Unix nanoseconds) at which the broker nacks the delivery unless
    /// it is acked, nacked or reset first.
    pub nack_deadline: i64,
    /// Which delivery of this evaluation this is, from 1.
    pub attempt: u32,
}

/// What [`EvalBroker::enqueue`] did with an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Ready for a worker.
    Ready,
    /// Waiting behind another evaluation of the same job.
    Pending,
    /// Held until `until` (Unix nanoseconds): its `Wait` or `WaitUntil`.
    Delayed {
        /// When it becomes ready.
        until: i64,
    },
    /// A worker holds this evaluation right now (a blocked evaluation woken
    /// while being re-scheduled): it is enqueued again once that delivery
    /// is acked, so the wake-up is not lost.
    AfterAck,
    /// The broker already tracks an evaluation with this id; ignored.
    Duplicate,
    /// The broker is disabled (not the leader); ignored.
    Disabled,
}

/// Where a tracked evaluation is, from [`EvalBroker::location`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalLocation {
    /// In its scheduler's ready queue.
    Ready,
    /// Waiting behind another evaluation of the same job.
    Pending,
    /// Held until `until` (Unix nanoseconds): a `WaitUntil`, a `Wait`, or
    /// the delay after a nack.
    Delayed {
        /// When it becomes ready.
        until: i64,
    },
    /// Delivered to a worker, not yet acked or nacked.
    Unacked {
        /// When the broker nacks it.
        nack_deadline: i64,
    },
    /// Reached the delivery limit; waiting for [`EvalBroker::take_failed`].
    Failed,
}

/// What [`EvalBroker::ack`] released.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AckOutcome {
    /// The job's newest pending evaluation, now ready, if it had any.
    pub promoted: Option<EvalId>,
    /// The job's other pending evaluations, dropped from the broker. The
    /// caller writes them back with status `canceled` (Nomad's cancelable
    /// evaluations).
    pub cancelable: Vec<Evaluation>,
}

/// Why the broker refused an ack, nack or reset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The broker is disabled: this server lost (or never had) leadership.
    #[error("the evaluation broker is disabled (this server is not the leader)")]
    Disabled,
    /// No delivery of the evaluation is outstanding.
    #[error(
        "evaluation {0} is not outstanding: unknown, already acked or nacked, or dropped when the broker was disabled"
    )]
    NotOutstanding(EvalId),
    /// The evaluation is outstanding under another token (a later delivery).
    #[error("the token does not match the outstanding delivery of evaluation {0}")]
    TokenMismatch(EvalId),
    /// The delivery's nack deadline has passed, so it cannot be extended.
    #[error("evaluation {0} passed its nack deadline and can no longer be reset")]
    NackTimeoutReached(EvalId),
}

/// Counts of one scheduler type's queues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchedulerStats {
    /// Evaluations ready.
    pub ready: usize,
    /// Evaluations out with workers.
    pub unacked: usize,
}

/// Counts of the broker's queues, with Nomad's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BrokerStats {
    /// Evaluations ready, all scheduler types.
    pub total_ready: usize,
    /// Evaluations out with workers.
    pub total_unacked: usize,
    /// Evaluations waiting behind another evaluation of their job.
    pub total_pending: usize,
    /// Evaluations held until a time (`WaitUntil`, `Wait`, nack delay).
    pub total_waiting: usize,
    /// Evaluations that reached the delivery limit, not yet taken.
    pub total_failed: usize,
    /// Superseded evaluations not yet taken with
    /// [`EvalBroker::take_cancelable`].
    pub total_cancelable: usize,
    /// Ready and unacked counts per scheduler type.
    pub by_scheduler: BTreeMap<String, SchedulerStats>,
}

/// Ready queue order: higher priority first, then older (lower create
/// index), then id.
type ReadyKey = (Reverse<i32>, u64, EvalId);

/// Pending order: newest first (higher modify index, then create index),
/// then id.
type PendingKey = (Reverse<u64>, Reverse<u64>, EvalId);

fn ready_key(eval: &Evaluation) -> ReadyKey {
    (Reverse(eval.priority), eval.create_index, eval.id.clone())
}

fn pending_key(eval: &Evaluation) -> PendingKey {
    (
        Reverse(eval.modify_index),
        Reverse(eval.create_index),
        eval.id.clone(),
    )
}

/// Where a tracked evaluation is, with the delivery's token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    Ready,
    Pending,
    Delayed { until: i64 },
    Unacked { token: String, deadline: i64 },
    Failed,
}

#[derive(Debug, Clone)]
struct Tracked {
    eval: Evaluation,
    /// Deliveries so far.
    deliveries: u32,
    place: Place,
}

/// Nomad's evaluation broker, without clocks or threads.
///
/// Starts enabled. Every evaluation it tracks is in exactly one place
/// ([`EvalLocation`]); the job "slot" (one evaluation per job ready or in
/// flight) is held from the moment an evaluation becomes ready until it is
/// acked or, after failing, taken with [`EvalBroker::take_failed`], so a
/// nacked evaluation waiting out its delay keeps its job's turn.
#[derive(Debug, Clone)]
pub struct EvalBroker {
    config: BrokerConfig,
    enabled: bool,
    evals: BTreeMap<EvalId, Tracked>,
    /// The evaluation holding each job's slot (ready, unacked, nack-delayed
    /// or failed).
    job_evals: BTreeMap<JobKey, EvalId>,
    ready: BTreeMap<String, BTreeSet<ReadyKey>>,
    pending: BTreeMap<JobKey, BTreeSet<PendingKey>>,
    delayed: BTreeSet<(i64, EvalId)>,
    deadlines: BTreeSet<(i64, EvalId)>,
    /// Failed evaluations, in the order they failed.
    failed: Vec<EvalId>,
    cancelable: Vec<Evaluation>,
    /// Deliveries ever made; never reset, so tokens stay unique across
    /// flushes.
    delivery_counter: u64,
    /// Evaluations enqueued again while a worker held them, with the `now`
    /// of that enqueue: enqueued when the delivery is acked, dropped when
    /// it is nacked (a nack delivers the evaluation again anyway). Nomad's
    /// broker keeps the same `requeue` table.
    requeue: BTreeMap<EvalId, (Evaluation, i64)>,
}

impl Default for EvalBroker {
    fn default() -> Self {
        EvalBroker::new(BrokerConfig::default())
    }
}

impl EvalBroker {
    /// An empty, enabled broker.
    pub fn new(config: BrokerConfig) -> Self {
        EvalBroker {
            config,
            enabled: true,
            evals: BTreeMap::new(),
            job_evals: BTreeMap::new(),
            ready: BTreeMap::new(),
            pending: BTreeMap::new(),
            delayed: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            failed: Vec::new(),
            cancelable: Vec::new(),
            delivery_counter: 0,
            requeue: BTreeMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Whether the broker accepts work.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Enables or disables the broker (gaining or losing leadership).
    /// Disabling drops everything it tracks, outstanding deliveries
    /// included: their tokens stop working. A new leader re-enqueues from
    /// the state store.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        if !enabled {
            self.evals.clear();
            self.job_evals.clear();
            self.ready.clear();
            self.pending.clear();
            self.delayed.clear();
            self.deadlines.clear();
            self.failed.clear();
            self.cancelable.clear();
            self.requeue.clear();
        }
    }

    /// Adds an evaluation. One with a `Wait` is held for that long from
    /// `now`; one with a `WaitUntil` after `now` is held until then (both:
    /// the later). Otherwise it is ready, or pending if another evaluation
    /// of its job is ready or in flight. An id the broker already tracks is
    /// ignored.
    pub fn enqueue(&mut self, eval: Evaluation, now: i64) -> Enqueued {
        if !self.enabled {
            return Enqueued::Disabled;
        }
        if let Some(tracked) = self.evals.get(&eval.id) {
            if matches!(tracked.place, Place::Unacked { .. }) {
                self.requeue.insert(eval.id.clone(), (eval, now));
                return Enqueued::AfterAck;
            }
            return Enqueued::Duplicate;
        }
        let id = eval.id.clone();
        let wait = (eval.wait.as_nanos() > 0).then(|| after(now, eval.wait));
        let wait_until = parse_rfc3339_nanos(&eval.wait_until).filter(|&at| at > now);
        let tracked = Tracked {
            eval,
            deliveries: 0,
            place: Place::Ready,
        };
        self.evals.insert(id.clone(), tracked);
        match wait.max(wait_until) {
            Some(until) => {
                self.delay(&id, until);
                Enqueued::Delayed { until }
            }
            None => match self.make_ready(&id) {
                Place::Pending => Enqueued::Pending,
                _ => Enqueued::Ready,
            },
        }
    }

    /// Hands out the best ready evaluation among the scheduler types given:
    /// highest priority, then oldest (create index), then lowest id. Applies
    /// [`EvalBroker::tick`] first, so the queues are those at `now`. The
    /// delivery must be acked, nacked or reset before its `nack_deadline`.
    pub fn dequeue(&mut self, schedulers: &[&str], now: i64) -> Option<Delivery> {
        if !self.enabled {
            return None;
        }
        self.tick(now);
        let (scheduler, key) = schedulers
            .iter()
            .filter_map(|s| Some((*s, self.ready.get(*s)?.first()?)))
            .min_by(|a, b| a.1.cmp(b.1))
            .map(|(s, key)| (s.to_owned(), key.clone()))?;
        self.remove_ready(&scheduler, &key);
        let id = key.2;
        self.delivery_counter += 1;
        let token = derived_uuid(
            b"scheduler-core/broker/token",
            &[id.as_str().as_bytes(), &self.delivery_counter.to_le_bytes()],
        );
        let deadline = after(now, self.config.nack_timeout);
        let tracked = self.evals.get_mut(&id)?;
        tracked.deliveries += 1;
        tracked.place = Place::Unacked {
            token: token.clone(),
            deadline,
        };
        self.deadlines.insert((deadline, id));
        Some(Delivery {
            eval: tracked.eval.clone(),
            token,
            nack_deadline: deadline,
            attempt: tracked.deliveries,
        })
    }

    /// Completes a delivery. The broker forgets the evaluation and frees its
    /// job: the job's newest pending evaluation becomes ready and the
    /// others are returned to be cancelled.
    pub fn ack(&mut self, eval_id: &EvalId, token: &str) -> Result<AckOutcome, BrokerError> {
        self.check_outstanding(eval_id, token)?;
        let tracked = self.remove_unacked(eval_id);
        let outcome = self.release_job(&job_key(&tracked.eval), eval_id);
        if let Some((eval, at)) = self.requeue.remove(eval_id) {
            self.enqueue(eval, at);
        }
        Ok(outcome)
    }

    /// Gives a delivery back (the worker could not finish it). Below the
    /// delivery limit the evaluation is ready again after the initial (first
    /// delivery) or subsequent nack delay, counted from `now`, keeping its
    /// job's turn; at the limit it moves to the failed queue. Returns where
    /// it went.
    pub fn nack(
        &mut self,
        eval_id: &EvalId,
        token: &str,
        now: i64,
    ) -> Result<EvalLocation, BrokerError> {
        self.check_outstanding(eval_id, token)?;
        Ok(self.requeue_nacked(eval_id, now))
    }

    /// Extends an outstanding delivery's nack deadline to `now` plus the
    /// nack timeout (Nomad's `OutstandingReset`, for long evaluations).
    /// Returns the new deadline. Fails once the old deadline has passed,
    /// even if no tick has nacked it yet.
    pub fn outstanding_reset(
        &mut self,
        eval_id: &EvalId,
        token: &str,
        now: i64,
    ) -> Result<i64, BrokerError> {
        let old = self.check_outstanding(eval_id, token)?;
        if now >= old {
            return Err(BrokerError::NackTimeoutReached(eval_id.clone()));
        }
        let deadline = after(now, self.config.nack_timeout);
        self.deadlines.remove(&(old, eval_id.clone()));
        self.deadlines.insert((deadline, eval_id.clone()));
        if let Some(Tracked {
            place: Place::Unacked { deadline: d, .. },
            ..
        }) = self.evals.get_mut(eval_id)
        {
            *d = deadline;
        }
        Ok(deadline)
    }

    /// Advances to `now`: nacks deliveries whose deadline has come (the
    /// nack delay counts from the deadline, so how late the tick runs does
    /// not matter), then makes ready the delayed evaluations that are due.
    pub fn tick(&mut self, now: i64) {
        while let Some((deadline, id)) = self.deadlines.first().cloned() {
            if deadline > now {
                break;
            }
            self.deadlines.remove(&(deadline, id.clone()));
            self.requeue_nacked(&id, deadline);
        }
        while let Some((until, id)) = self.delayed.first().cloned() {
            if until > now {
                break;
            }
            self.delayed.remove(&(until, id.clone()));
            self.make_ready(&id);
        }
    }

    /// The earliest time at which [`EvalBroker::tick`] would change
    /// something: a delayed evaluation coming due or a delivery timing out.
    /// `None` when nothing is timed; a runtime sleeps until this (or the
    /// next call) and then ticks.
    pub fn next_deadline(&self) -> Option<i64> {
        let delayed = self.delayed.first().map(|(at, _)| *at);
        let deadline = self.deadlines.first().map(|(at, _)| *at);
        match (delayed, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drains the failed queue, in the order evaluations failed. The broker
    /// forgets them and frees their jobs (their newest pending evaluations
    /// become ready, the others go to [`EvalBroker::take_cancelable`]). The
    /// caller marks each failed ([`failed_update`]) and enqueues a follow-up
    /// ([`failed_follow_up`]), as Nomad's leader does.
    pub fn take_failed(&mut self) -> Vec<Evaluation> {
        let ids = std::mem::take(&mut self.failed);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(tracked) = self.evals.remove(&id) else {
                continue;
            };
            let released = self.release_job(&job_key(&tracked.eval), &id);
            self.cancelable.extend(released.cancelable);
            out.push(tracked.eval);
        }
        out
    }

    /// Drains the evaluations superseded when a failed evaluation's job was
    /// freed by [`EvalBroker::take_failed`]. (Those freed by
    /// [`EvalBroker::ack`] come back from it directly.)
    pub fn take_cancelable(&mut self) -> Vec<Evaluation> {
        std::mem::take(&mut self.cancelable)
    }

    /// Where the broker holds an evaluation; `None` if it does not track it
    /// (never enqueued, acked, cancelable, taken as failed, or flushed).
    pub fn location(&self, eval_id: &EvalId) -> Option<EvalLocation> {
        Some(match &self.evals.get(eval_id)?.place {
            Place::Ready => EvalLocation::Ready,
            Place::Pending => EvalLocation::Pending,
            Place::Delayed { until } => EvalLocation::Delayed { until: *until },
            Place::Unacked { deadline, .. } => EvalLocation::Unacked {
                nack_deadline: *deadline,
            },
            Place::Failed => EvalLocation::Failed,
        })
    }

    /// How many times an evaluation the broker tracks has been delivered.
    pub fn deliveries(&self, eval_id: &EvalId) -> Option<u32> {
        self.evals.get(eval_id).map(|t| t.deliveries)
    }

    /// Evaluations tracked, in every place.
    pub fn len(&self) -> usize {
        self.evals.len()
    }

    /// Whether the broker tracks no evaluation.
    pub fn is_empty(&self) -> bool {
        self.evals.is_empty()
    }

    /// Counts of every queue.
    pub fn stats(&self) -> BrokerStats {
        let mut stats = BrokerStats {
            total_cancelable: self.cancelable.len(),
            ..BrokerStats::default()
        };
        for tracked in self.evals.values() {
            let scheduler = || tracked.eval.eval_type.clone();
            match tracked.place {
                Place::Ready => {
                    stats.total_ready += 1;
                    stats.by_scheduler.entry(scheduler()).or_default().ready += 1;
                }
                Place::Unacked { .. } => {
                    stats.total_unacked += 1;
                    stats.by_scheduler.entry(scheduler()).or_default().unacked += 1;
                }
                Place::Pending => stats.total_pending += 1,
                Place::Delayed { .. } => stats.total_waiting += 1,
                Place::Failed => stats.total_failed += 1,
            }
        }
        stats
    }

    /// The deadline of the outstanding delivery `token` of `eval_id`.
    fn check_outstanding(&self, eval_id: &EvalId, token: &str) -> Result<i64, BrokerError> {
        if !self.enabled {
            return Err(BrokerError::Disabled);
        }
        match self.evals.get(eval_id).map(|t| &t.place) {
            Some(Place::Unacked { token: t, deadline }) if t == token => Ok(*deadline),
            Some(Place::Unacked { .. }) => Err(BrokerError::TokenMismatch(eval_id.clone())),
            _ => Err(BrokerError::NotOutstanding(eval_id.clone())),
        }
    }

    /// Removes an unacked evaluation from the broker.
    fn remove_unacked(&mut self, eval_id: &EvalId) -> Tracked {
        let tracked = self
            .evals
            .remove(eval_id)
            .expect("checked outstanding: tracked");
        if let Place::Unacked { deadline, .. } = tracked.place {
            self.deadlines.remove(&(deadline, eval_id.clone()));
        }
        tracked
    }

    /// Sends a nacked (or timed-out) delivery back, with its delay counted
    /// from `from`, or to the failed queue at the delivery limit.
    fn requeue_nacked(&mut self, eval_id: &EvalId, from: i64) -> EvalLocation {
        self.requeue.remove(eval_id);
        let Some(tracked) = self.evals.get_mut(eval_id) else {
            return EvalLocation::Failed;
        };
        if let Place::Unacked { deadline, .. } = tracked.place {
            self.deadlines.remove(&(deadline, eval_id.clone()));
        }
        let deliveries = tracked.deliveries;
        if deliveries >= self.config.delivery_limit {
            tracked.place = Place::Failed;
            self.failed.push(eval_id.clone());
            return EvalLocation::Failed;
        }
        let delay = if deliveries <= 1 {
            self.config.initial_nack_delay
        } else {
            self.config.subsequent_nack_delay
        };
        if delay.as_nanos() > 0 {
            let until = after(from, delay);
            self.delay(eval_id, until);
            EvalLocation::Delayed { until }
        } else {
            self.make_ready(eval_id);
            EvalLocation::Ready
        }
    }

    /// Holds a tracked evaluation until `until`.
    fn delay(&mut self, eval_id: &EvalId, until: i64) {
        if let Some(tracked) = self.evals.get_mut(eval_id) {
            tracked.place = Place::Delayed { until };
            self.delayed.insert((until, eval_id.clone()));
        }
    }

    /// Puts a tracked evaluation in its ready queue if its job is free or
    /// already its own, else in its job's pending set. Returns the place.
    fn make_ready(&mut self, eval_id: &EvalId) -> Place {
        let Some(tracked) = self.evals.get_mut(eval_id) else {
            return Place::Failed;
        };
        let job = job_key(&tracked.eval);
        let holder = self
            .job_evals
            .entry(job.clone())
            .or_insert_with(|| eval_id.clone());
        tracked.place = if holder == eval_id {
            self.ready
                .entry(tracked.eval.eval_type.clone())
                .or_default()
                .insert(ready_key(&tracked.eval));
            Place::Ready
        } else {
            self.pending
                .entry(job)
                .or_default()
                .insert(pending_key(&tracked.eval));
            Place::Pending
        };
        tracked.place.clone()
    }

    fn remove_ready(&mut self, scheduler: &str, key: &ReadyKey) {
        if let Some(queue) = self.ready.get_mut(scheduler) {
            queue.remove(key);
            if queue.is_empty() {
                self.ready.remove(scheduler);
            }
        }
    }

    /// Frees `job` from `holder` (acked or failed and taken): the newest
    /// pending evaluation becomes ready; the rest are dropped and returned.
    fn release_job(&mut self, job: &JobKey, holder: &EvalId) -> AckOutcome {
        if self.job_evals.get(job) == Some(holder) {
            self.job_evals.remove(job);
        }
        let Some(pending) = self.pending.remove(job) else {
            return AckOutcome::default();
        };
        let mut keys = pending.into_iter();
        let promoted = keys.next().map(|(_, _, id)| id);
        let cancelable = keys
            .filter_map(|(_, _, id)| self.evals.remove(&id))
            .map(|t| t.eval)
            .collect();
        if let Some(id) = &promoted {
            self.make_ready(id);
        }
        AckOutcome {
            promoted,
            cancelable,
        }
    }
}

/// `now` plus a duration, negative durations counting as zero.
fn after(now: i64, delay: Duration) -> i64 {
    now.saturating_add(delay.as_nanos().max(0))
}

/// The follow-up evaluation Nomad's leader creates for an evaluation that
/// reached the delivery limit: same job, namespace, priority and scheduler,
/// pending, triggered by `failed-follow-up`, not to run before `now +
/// delay` (`WaitUntil`). Nomad waits a random 1 to 6 minutes; the caller
/// picks `delay`, from a seed if it wants the spread. The id is derived from
/// the failed evaluation's id and `now`.
pub fn failed_follow_up(eval: &Evaluation, now: i64, delay: Duration) -> Evaluation {
    let id = derived_uuid(
        b"scheduler-core/broker/failed-follow-up",
        &[eval.id.as_str().as_bytes(), &now.to_le_bytes()],
    );
    Evaluation {
        id: EvalId::new(id),
        namespace: eval.namespace.clone(),
        priority: eval.priority,
        eval_type: eval.eval_type.clone(),
        triggered_by: EvalTrigger::FailedFollowUp,
        job_id: eval.job_id.clone(),
        job_modify_index: eval.job_modify_index,
        status: EvalStatus::Pending,
        wait_until: format_rfc3339_nanos(after(now, delay)),
        previous_eval: eval.id.clone(),
        create_time: now,
        modify_time: now,
        ..Evaluation::default()
    }
}

/// The failed evaluation as Nomad's leader writes it back: status `failed`,
/// the delivery limit in its description, `NextEval` pointing at the
/// follow-up.
pub fn failed_update(
    eval: &Evaluation,
    follow_up: &Evaluation,
    delivery_limit: u32,
    now: i64,
) -> Evaluation {
    Evaluation {
        status: EvalStatus::Failed,
        status_description: format!("evaluation reached delivery limit ({delivery_limit})"),
        next_eval: follow_up.id.clone(),
        modify_time: now,
        ..eval.clone()
    }
}
