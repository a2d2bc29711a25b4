//! When a failed allocation is rescheduled: reschedule policies and delay functions.
//!
//! Pure functions over the model, following Nomad's `structs.Allocation`
//! methods (`NextDelay`, `NextRescheduleTime`, `RescheduleEligible`,
//! `LastEventTime`) and the reconciler's `updateByReschedulable`,
//! `updateRescheduleTracker` and `createLostLaterEvals`. Time is always an
//! argument (Unix nanoseconds); nothing here reads a clock.
//!
//! # Rules
//!
//! - **Policy.** After canonicalisation every group of a service or batch job
//!   carries its merged policy (group over job over the type's default), so
//!   [`effective_policy`] only reads it. Like Nomad, the reconciler should
//!   judge an allocation by the policy of the job version it runs
//!   ([`policy_for_alloc`]).
//! - **Failure time** ([`failed_at`]): the latest `finished_at` of the
//!   allocation's tasks, or its `modify_time` when no task has finished.
//! - **Delay** ([`next_delay`]): the policy's `delay` while the tracker is
//!   empty. Then `constant` (and any unknown function) stays at `delay`;
//!   `exponential` doubles the last event's delay; `fibonacci` adds the last
//!   two events' delays (the second attempt repeats `delay`: 5s, 5s, 10s,
//!   15s, 25s...). A grown delay above `max_delay` (when > 0) is capped at
//!   `max_delay`, **and reset to `delay`** when the allocation failed more
//!   than `max_delay` after the last reschedule event: a lineage that ran
//!   quietly for longer than the ceiling starts the series again. Nomad only
//!   checks the reset when the cap applies, and so do we; a reset fibonacci
//!   series restarts as `delay`, `delay`, `2 × delay`...
//! - **Eligibility** ([`decide`]): only allocations whose client reports
//!   `failed`, that were not stopped by the server and that no allocation
//!   replaced yet. A forced reschedule is then immediate, whatever the
//!   policy. Otherwise the policy must exist and allow attempts (`unlimited`,
//!   or `attempts` > 0). Limited policies count the tracker's events less
//!   than `interval` before the failure time; the allocation is eligible
//!   while fewer than `attempts` were used and the next delay is shorter
//!   than `interval`.
//! - **Now or later:** now when the evaluation is the allocation's follow-up
//!   evaluation or the reschedule time (failure time + next delay) is at
//!   most [`NOW_WINDOW`] (1 s) after `now`; later otherwise, unless the
//!   allocation already has a follow-up evaluation, in which case it waits
//!   for that one.
//! - **Tracker** ([`record_event`]): a replacement carries its predecessor's
//!   events and one new event. Limited policies keep only the events within
//!   `interval` of `now`; unlimited ones keep the last
//!   [`MAX_PAST_EVENTS_UNLIMITED`] (enough for every delay function).
//! - **Batching** ([`batch_followups`]): "later" allocations share follow-up
//!   evaluations. Sorted by reschedule time, a batch starts at its earliest
//!   time and takes every allocation less than [`FOLLOWUP_BATCH_WINDOW`]
//!   (5 s) after it; the evaluation waits until the batch's start. The
//!   others in the batch are rescheduled up to 5 s early, because their
//!   follow-up evaluation id then matches.
//!
//! # Differences from Nomad
//!
//! - The attempt window ends at the failure time, as in Nomad's
//!   `NextRescheduleTime`, not at `now`.
//! - Nomad distinguishes a missing tracker from an empty one; here both are
//!   "no events yet" (eligible whenever `attempts` > 0).
//! - A forced reschedule is honoured only for failed allocations (Nomad's
//!   API only sets it on failed ones; the reconciler's filter would also
//!   take running ones).
//! - [`RescheduleDecision::AwaitingFollowup`] names the case Nomad leaves
//!   implicit (eligible, not due, follow-up evaluation already created).
//! - Disconnected (`unknown`) allocations and their reschedule-on-disconnect
//!   timing are not handled here.
//! - The deployment gate (a failed allocation of an active deployment waits
//!   until the deployment watcher marks it) is [`held_by_deployment`]; the
//!   caller checks it before [`decide`], as Nomad does before anything else.

use crate::model::timestamp::parse_rfc3339_nanos;
use crate::model::{
    AllocClientStatus, AllocId, Allocation, Deployment, Duration, EvalId, RescheduleEvent,
    ReschedulePolicy, RescheduleTracker, TaskGroup,
};

/// A reschedule time at most this far after `now` counts as due now
/// (Nomad's `rescheduleWindowSize`), so an evaluation does not create a
/// follow-up evaluation for something a second away.
pub const NOW_WINDOW: Duration = Duration::from_secs(1);

/// Width of a batch of "reschedule later" allocations sharing one follow-up
/// evaluation (Nomad's `batchedFailedAllocWindowSize`): many allocations
/// failing together give a few evaluations, not one each.
pub const FOLLOWUP_BATCH_WINDOW: Duration = Duration::from_secs(5);

/// Events a replacement keeps from its lineage when its policy has no
/// attempt limit (Nomad's `maxPastRescheduleEvents`): the delay functions
/// read at most the last two, so the tracker need not grow forever.
pub const MAX_PAST_EVENTS_UNLIMITED: usize = 5;

/// What to do with one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RescheduleDecision {
    /// Place a replacement in this evaluation.
    Now,
    /// Eligible but not yet due: create (or join) a follow-up evaluation
    /// waiting until `at` (Unix nanoseconds; see [`batch_followups`]).
    Later {
        /// When the allocation may be rescheduled, Unix nanoseconds.
        at: i64,
    },
    /// Eligible but not yet due, and a follow-up evaluation was already
    /// created for it: leave it alone until that evaluation runs.
    AwaitingFollowup {
        /// The follow-up evaluation already waiting.
        eval_id: EvalId,
        /// When the allocation may be rescheduled, Unix nanoseconds.
        at: i64,
    },
    /// Not rescheduled; `reason` says why, for explanations.
    Never {
        /// Why, in one line.
        reason: String,
    },
}

impl RescheduleDecision {
    fn never(reason: impl Into<String>) -> Self {
        RescheduleDecision::Never {
            reason: reason.into(),
        }
    }
}

/// The reschedule policy of a group of a canonical job.
///
/// Canonicalisation ([`crate::model::Job::canonicalize`]) already merges
/// the group's policy over the job's and fills the job type's defaults, so
/// this reads the group's field and merges nothing. `None` means the group
/// is never rescheduled (system and sysbatch jobs). On a job that was not
/// canonicalised it returns the group's own block, if any.
pub fn effective_policy(group: &TaskGroup) -> Option<&ReschedulePolicy> {
    group.reschedule_policy.as_ref()
}

/// The reschedule policy of the job version `alloc` runs (Nomad's
/// `Allocation.ReschedulePolicy`): `None` when the allocation carries no
/// job or its group is missing from it.
pub fn policy_for_alloc(alloc: &Allocation) -> Option<&ReschedulePolicy> {
    let job = alloc.job.as_ref()?;
    let group = job
        .task_groups
        .iter()
        .find(|group| group.name == alloc.task_group)?;
    effective_policy(group)
}

/// When the allocation failed, Unix nanoseconds (Nomad's `LastEventTime`):
/// the latest `finished_at` among its tasks, or `modify_time` when no task
/// has a finish time. Unparsable or out-of-range times (Go's zero time
/// among them) count as unset.
pub fn failed_at(alloc: &Allocation) -> i64 {
    alloc
        .task_states
        .values()
        .filter_map(|state| parse_rfc3339_nanos(&state.finished_at))
        .max()
        .unwrap_or(alloc.modify_time)
}

/// The delay before the next reschedule of an allocation with `tracker`
/// that failed at `failed_at` (Nomad's `NextDelay`; the rules are in the
/// module documentation).
pub fn next_delay(
    policy: &ReschedulePolicy,
    tracker: &RescheduleTracker,
    failed_at: i64,
) -> Duration {
    let delay = policy.delay();
    let events = &tracker.events;
    let Some(last) = events.last() else {
        return delay;
    };
    let grown = match policy.delay_function() {
        "exponential" => last.delay.0.saturating_mul(2),
        "fibonacci" => match events.len() {
            1 => delay.0,
            n => {
                let before_last = events[n - 2].delay;
                // After a reset the series restarts: (max, delay) is the
                // signature of one, and the next step repeats `delay`.
                if before_last == policy.max_delay() && last.delay == delay {
                    last.delay.0
                } else {
                    last.delay.0.saturating_add(before_last.0)
                }
            }
        },
        // Constant (and unknown functions, which validation rejects) never
        // grow, so they are neither capped nor reset.
        _ => return delay,
    };
    let max_delay = policy.max_delay();
    if max_delay.0 > 0 && grown > max_delay.0 {
        let quiet = failed_at.saturating_sub(last.reschedule_time);
        if quiet > max_delay.0 {
            return delay;
        }
        return max_delay;
    }
    Duration(grown)
}

/// Reschedule events of `tracker` that count against the attempt limit
/// for a failure at `failed_at`: those less than `interval` before it.
pub fn attempts_used(
    policy: &ReschedulePolicy,
    tracker: &RescheduleTracker,
    failed_at: i64,
) -> i64 {
    let interval = policy.interval().0;
    let used = tracker
        .events
        .iter()
        .filter(|event| failed_at.saturating_sub(event.reschedule_time) < interval)
        .count();
    i64::try_from(used).unwrap_or(i64::MAX)
}

/// Whether a failed allocation of `deployment` must wait for the deployment
/// watcher: the deployment is active and has not marked the allocation for
/// rescheduling. Check this before [`decide`]; it wins over a forced
/// reschedule, as in Nomad.
pub fn held_by_deployment(alloc: &Allocation, deployment: Option<&Deployment>) -> bool {
    deployment.is_some_and(|deployment| {
        alloc.deployment_id == deployment.id
            && deployment.is_active()
            && !alloc.desired_transition.should_reschedule()
    })
}

/// Whether, and when, `alloc` is rescheduled by evaluation `eval_id` at
/// `now` under `policy` (the policy of the job version it runs), given the
/// time it failed (usually [`failed_at`]). The rules are in the module
/// documentation.
pub fn decide(
    alloc: &Allocation,
    policy: Option<&ReschedulePolicy>,
    eval_id: &EvalId,
    now: i64,
    failed_at: i64,
) -> RescheduleDecision {
    if !alloc.next_allocation.is_empty() {
        return RescheduleDecision::never(format!(
            "already replaced by allocation {}",
            alloc.next_allocation
        ));
    }
    if alloc.server_terminal() {
        return RescheduleDecision::never(format!(
            "stopped by the server (desired status {})",
            desired_status_name(alloc)
        ));
    }
    if alloc.client_status != AllocClientStatus::Failed {
        return RescheduleDecision::never(format!(
            "client status is {}; only failed allocations are rescheduled",
            client_status_name(alloc.client_status)
        ));
    }
    if alloc.desired_transition.should_force_reschedule() {
        return RescheduleDecision::Now;
    }
    let Some(policy) = policy else {
        return RescheduleDecision::never("the group has no reschedule policy");
    };
    if !policy.unlimited() && policy.attempts() <= 0 {
        return RescheduleDecision::never("the reschedule policy allows no attempts");
    }

    let tracker = &alloc.reschedule_tracker;
    let delay = next_delay(policy, tracker, failed_at);
    if !policy.unlimited() && !tracker.events.is_empty() {
        let used = attempts_used(policy, tracker, failed_at);
        if used >= policy.attempts() {
            return RescheduleDecision::never(format!(
                "{used} of {} reschedule attempts used within {}",
                policy.attempts(),
                policy.interval()
            ));
        }
        // The next attempt would fall outside the window it is counted in.
        if delay >= policy.interval() {
            return RescheduleDecision::never(format!(
                "next delay {delay} is not shorter than the interval {}",
                policy.interval()
            ));
        }
    }

    let at = failed_at.saturating_add(delay.0);
    let is_followup = !alloc.followup_eval_id.is_empty() && alloc.followup_eval_id == *eval_id;
    if is_followup || at.saturating_sub(now) <= NOW_WINDOW.0 {
        return RescheduleDecision::Now;
    }
    if !alloc.followup_eval_id.is_empty() {
        return RescheduleDecision::AwaitingFollowup {
            eval_id: alloc.followup_eval_id.clone(),
            at,
        };
    }
    RescheduleDecision::Later { at }
}

/// The reschedule tracker of the allocation replacing `prev` at `now`
/// (Nomad's `updateRescheduleTracker`): `prev`'s events, pruned, then an
/// event for this attempt with `delay` (the [`next_delay`] the decision
/// used).
///
/// Pruning, as in Nomad: when `policy` limits attempts, only events at most
/// `interval` before `now` are kept (none when `interval` is 0), since
/// older ones can no longer count; otherwise the last
/// [`MAX_PAST_EVENTS_UNLIMITED`].
pub fn record_event(
    prev: &Allocation,
    policy: Option<&ReschedulePolicy>,
    now: i64,
    delay: Duration,
) -> RescheduleTracker {
    let past = &prev.reschedule_tracker.events;
    let mut events: Vec<RescheduleEvent> = match policy {
        Some(policy) if policy.attempts() > 0 => {
            let interval = policy.interval().0;
            past.iter()
                .filter(|event| {
                    interval > 0 && now.saturating_sub(event.reschedule_time) <= interval
                })
                .cloned()
                .collect()
        }
        _ => past[past.len().saturating_sub(MAX_PAST_EVENTS_UNLIMITED)..].to_vec(),
    };
    events.push(RescheduleEvent {
        reschedule_time: now,
        prev_alloc_id: prev.id.clone(),
        prev_node_id: prev.node_id.clone(),
        delay,
    });
    RescheduleTracker { events }
}

/// One follow-up evaluation for allocations rescheduled later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowupBatch {
    /// When the evaluation may run (its `WaitUntil`), Unix nanoseconds: the
    /// earliest reschedule time in the batch.
    pub wait_until: i64,
    /// The allocations whose `followup_eval_id` becomes this evaluation,
    /// ordered by reschedule time, then id.
    pub allocs: Vec<AllocId>,
}

/// Groups "later" allocations (id and reschedule time, from
/// [`RescheduleDecision::Later`]) into follow-up evaluations, as Nomad's
/// `createLostLaterEvals` does: in order of time (then id, so the input
/// order does not matter), a batch starts at the first time not yet taken
/// and holds every allocation less than [`FOLLOWUP_BATCH_WINDOW`] after it.
pub fn batch_followups(later: &[(AllocId, i64)]) -> Vec<FollowupBatch> {
    let mut sorted: Vec<&(AllocId, i64)> = later.iter().collect();
    sorted.sort_by(|(a_id, a_at), (b_id, b_at)| a_at.cmp(b_at).then_with(|| a_id.cmp(b_id)));
    let mut batches: Vec<FollowupBatch> = Vec::new();
    for (id, at) in sorted {
        match batches.last_mut() {
            Some(batch) if at.saturating_sub(batch.wait_until) < FOLLOWUP_BATCH_WINDOW.0 => {
                batch.allocs.push(id.clone());
            }
            _ => batches.push(FollowupBatch {
                wait_until: *at,
                allocs: vec![id.clone()],
            }),
        }
    }
    batches
}

fn client_status_name(status: AllocClientStatus) -> &'static str {
    match status {
        AllocClientStatus::Pending => "pending",
        AllocClientStatus::Running => "running",
        AllocClientStatus::Complete => "complete",
        AllocClientStatus::Failed => "failed",
        AllocClientStatus::Lost => "lost",
        AllocClientStatus::Unknown => "unknown",
    }
}

fn desired_status_name(alloc: &Allocation) -> &'static str {
    use crate::model::AllocDesiredStatus;
    match alloc.desired_status {
        AllocDesiredStatus::Run => "run",
        AllocDesiredStatus::Stop => "stop",
        AllocDesiredStatus::Evict => "evict",
    }
}

#[cfg(test)]
mod tests;
