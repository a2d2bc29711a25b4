//! One task group's reconciliation; the steps are in the parent module's
//! documentation.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    PlaceReason, PlaceRequest, ReconcileInput, STOP_CANARY, STOP_EXPIRED, STOP_LOST, STOP_MIGRATE,
    STOP_RECONNECTED, STOP_RESCHEDULED, STOP_UNNEEDED, STOP_UPDATE, StopRequest,
};
use crate::model::timestamp::format_rfc3339_nanos;
use crate::model::{
    AllocClientStatus, AllocState, Allocation, Deployment, DeploymentStatus, Duration, Job,
    JobType, TaskGroup, UpdateStrategy,
};
use crate::reconcile::classify::{FIELD_CLIENT_STATUS, classify};
use crate::reconcile::reschedule::{
    RescheduleDecision, decide, effective_policy, failed_at, held_by_deployment, next_delay,
    policy_for_alloc,
};
use crate::reconcile::update_kind::update_kind;
use crate::scheduler::{DesiredUpdates, name_index};

/// What a group's reconciliation reads.
pub(super) struct GroupInput<'i, 'a> {
    pub input: &'i ReconcileInput<'a>,
    pub job: &'a Job,
    pub group: &'a TaskGroup,
    pub group_index: usize,
    pub allocs: &'i [&'a Allocation],
    pub deployment: Option<&'i Deployment>,
    pub strategy: Option<&'a UpdateStrategy>,
}

/// Why a follow-up evaluation is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum LaterTrigger {
    /// A failed allocation's reschedule delay ends.
    Reschedule = 0,
    /// A disconnected allocation's `lost_after` ends.
    Disconnect = 1,
    /// A lost allocation's `stop_on_client_after` ends.
    LostWait = 2,
}

/// An allocation that needs another evaluation at `at`.
pub(super) struct Later<'a> {
    pub alloc: &'a Allocation,
    pub at: i64,
    pub trigger: LaterTrigger,
}

/// A group's decisions.
#[derive(Default)]
pub(super) struct GroupDecision<'a> {
    pub place: Vec<PlaceRequest<'a>>,
    pub stop: Vec<StopRequest<'a>>,
    pub inplace: Vec<&'a Allocation>,
    pub attribute_updates: Vec<Allocation>,
    pub later: Vec<Later<'a>>,
    pub desired: DesiredUpdates,
    /// The group changes to the new version: it needs a deployment.
    pub needs_deployment: bool,
    /// Canaries the deployment should want for the group.
    pub desired_canaries: u32,
}

/// The group's count, never negative.
pub(super) fn count_of(group: &TaskGroup) -> u32 {
    u32::try_from(group.count.unwrap_or(1).max(0)).unwrap_or(u32::MAX)
}

/// A name whose allocation went away, to refill (with the allocation as
/// the replacement's previous one).
struct Freed<'a> {
    alloc: &'a Allocation,
    reason: PlaceReason,
    delay: Option<Duration>,
}

pub(super) fn reconcile_group<'a>(g: &GroupInput<'_, 'a>) -> GroupDecision<'a> {
    let input = g.input;
    let now = input.now;
    let group = g.group;
    let job = g.job;
    let count = count_of(group);
    let mut out = GroupDecision::default();
    let classified = classify(g.allocs, |id| input.snapshot.node(id), group, now);

    let dstate = g.deployment.and_then(|d| d.task_groups.get(&group.name));
    let promoted = dstate.is_some_and(|s| s.promoted);
    let deployment_active = g.deployment.is_some_and(Deployment::is_active);
    let halted = g.deployment.is_some_and(|d| {
        matches!(
            d.status,
            DeploymentStatus::Paused | DeploymentStatus::Failed
        )
    });

    // Where an unpromoted canary stands: kept for the current active
    // deployment, stopped otherwise; promoted canaries are ordinary.
    let canary_fate = |alloc: &Allocation| -> Option<bool> {
        if !alloc.is_canary() {
            return None;
        }
        if let Some(d) = g.deployment
            && alloc.deployment_id == d.id
        {
            return if promoted {
                None
            } else {
                Some(deployment_active)
            };
        }
        let promoted_elsewhere = input
            .snapshot
            .deployment(&alloc.deployment_id)
            .and_then(|d| d.task_groups.get(&group.name))
            .is_some_and(|s| s.promoted);
        if promoted_elsewhere {
            None
        } else {
            Some(false)
        }
    };

    let mut occupying: Vec<&'a Allocation> = Vec::new();
    let mut canaries: Vec<&'a Allocation> = Vec::new();
    // Failed canaries rescheduled now: each new canary replaces one (and
    // avoids its node).
    let mut rescheduled_canaries: Vec<(&'a Allocation, Duration)> = Vec::new();
    let mut freed: BTreeMap<u32, Freed<'a>> = BTreeMap::new();
    let free = |freed: &mut BTreeMap<u32, Freed<'a>>, f: Freed<'a>| {
        if let Some(index) = name_index(&f.alloc.name) {
            freed.entry(index).or_insert(f);
        }
    };
    let replaces_disconnected =
        !group.prevent_reschedule_on_lost && group.disconnect.as_ref().is_none_or(|d| d.replace());

    for &alloc in &classified.untainted {
        match canary_fate(alloc) {
            Some(true) if !alloc.client_terminal() => {
                canaries.push(alloc);
                continue;
            }
            // A failed canary of the current deployment follows its
            // reschedule policy: it holds its canary slot until it is
            // rescheduled, then the canary logic places a new one.
            Some(true) if alloc.client_status == AllocClientStatus::Failed => {
                match reschedule(g, alloc, &mut out) {
                    Some(delay) => rescheduled_canaries.push((alloc, delay)),
                    None => canaries.push(alloc),
                }
                continue;
            }
            Some(_) => {
                if !alloc.is_terminal() {
                    stop(&mut out, alloc, STOP_CANARY, None);
                }
                continue;
            }
            None => {}
        }
        match alloc.client_status {
            AllocClientStatus::Failed => {
                if held_by_deployment(alloc, g.deployment) {
                    occupying.push(alloc);
                    continue;
                }
                match reschedule(g, alloc, &mut out) {
                    Some(delay) => free(
                        &mut freed,
                        Freed {
                            alloc,
                            reason: PlaceReason::Reschedule,
                            delay: Some(delay),
                        },
                    ),
                    None => occupying.push(alloc),
                }
            }
            // A finished batch allocation is done, not missing.
            AllocClientStatus::Complete if job.job_type == JobType::Batch => {
                occupying.push(alloc);
            }
            AllocClientStatus::Complete | AllocClientStatus::Lost => {}
            // Waiting for its disconnected client: replaced (unless the group
            // says not to), so it does not hold its name.
            AllocClientStatus::Unknown if replaces_disconnected => {}
            _ => occupying.push(alloc),
        }
    }

    for &alloc in &classified.migrate {
        let canary = canary_fate(alloc);
        stop(&mut out, alloc, STOP_MIGRATE, None);
        // A migrating canary is only stopped (the canary logic places a
        // new one); others count as migrations, not stops.
        if canary.is_none() {
            out.desired.stop -= 1;
            out.desired.migrate += 1;
            free(
                &mut freed,
                Freed {
                    alloc,
                    reason: PlaceReason::Migrate,
                    delay: None,
                },
            );
        }
    }

    let stop_after = group
        .disconnect
        .as_ref()
        .and_then(|d| d.stop_on_client_after)
        .or(group.stop_after_client_disconnect)
        .filter(|d| !d.is_zero());
    for &alloc in &classified.lost {
        if let Some(wait) = stop_after {
            let at = alloc.modify_time.saturating_add(wait.0);
            if at > now {
                // The client stops the tasks itself after `wait`; replacing
                // earlier would run two copies.
                out.later.push(Later {
                    alloc,
                    at,
                    trigger: LaterTrigger::LostWait,
                });
                occupying.push(alloc);
                continue;
            }
        }
        stop(&mut out, alloc, STOP_LOST, Some(AllocClientStatus::Lost));
        if canary_fate(alloc).is_none() {
            free(
                &mut freed,
                Freed {
                    alloc,
                    reason: PlaceReason::Lost,
                    delay: None,
                },
            );
        }
    }

    let lost_after = group
        .disconnect
        .as_ref()
        .and_then(|d| d.lost_after)
        .filter(|d| !d.is_zero())
        .or(group.max_client_disconnect)
        .unwrap_or_default();
    for &alloc in &classified.disconnecting {
        let mut updated = alloc.clone();
        updated.job = None;
        updated.client_status = AllocClientStatus::Unknown;
        updated.alloc_states.push(AllocState {
            field: FIELD_CLIENT_STATUS,
            value: "unknown".to_owned(),
            time: format_rfc3339_nanos(now),
        });
        updated.modify_time = now;
        out.attribute_updates.push(updated);
        out.desired.disconnect_updates += 1;
        out.later.push(Later {
            alloc,
            at: now.saturating_add(lost_after.0),
            trigger: LaterTrigger::Disconnect,
        });
        if replaces_disconnected {
            free(
                &mut freed,
                Freed {
                    alloc,
                    reason: PlaceReason::Lost,
                    delay: None,
                },
            );
        } else {
            occupying.push(alloc);
        }
    }

    // A client came back: keep the original, stop what replaced it.
    let mut replaced_by_reconnect: BTreeSet<&str> = BTreeSet::new();
    for &alloc in &classified.reconnecting {
        if alloc.client_status == AllocClientStatus::Failed {
            stop(&mut out, alloc, STOP_UNNEEDED, None);
            continue;
        }
        let mut updated = alloc.clone();
        updated.job = None;
        updated.alloc_states.push(AllocState {
            field: FIELD_CLIENT_STATUS,
            value: "running".to_owned(),
            time: format_rfc3339_nanos(now),
        });
        updated.modify_time = now;
        out.attribute_updates.push(updated);
        out.desired.reconnect_updates += 1;
        occupying.push(alloc);
        for replacement in g
            .allocs
            .iter()
            .filter(|a| !a.is_terminal() && a.previous_allocation == alloc.id && a.id != alloc.id)
        {
            replaced_by_reconnect.insert(replacement.id.as_str());
            stop(&mut out, replacement, STOP_RECONNECTED, None);
        }
    }
    occupying.retain(|a| !replaced_by_reconnect.contains(a.id.as_str()));
    canaries.retain(|a| !replaced_by_reconnect.contains(a.id.as_str()));

    for &alloc in &classified.expiring {
        stop(&mut out, alloc, STOP_EXPIRED, Some(AllocClientStatus::Lost));
        if !replaces_disconnected {
            free(
                &mut freed,
                Freed {
                    alloc,
                    reason: PlaceReason::Lost,
                    delay: None,
                },
            );
        }
    }

    // Which live allocations run an older version, and how they change.
    let is_current = |alloc: &Allocation| {
        alloc
            .job
            .as_ref()
            .is_none_or(|j| j.job_modify_index == job.job_modify_index)
    };
    let mut destructive: Vec<&'a Allocation> = Vec::new();
    let mut inplace: Vec<&'a Allocation> = Vec::new();
    // Allocations of one version share the answer: compare each version
    // once (job modify index → destructive), not each allocation.
    let mut destructive_by_version: BTreeMap<u64, bool> = BTreeMap::new();
    for &alloc in &occupying {
        if alloc.client_terminal() || is_current(alloc) {
            continue;
        }
        let old_job = alloc
            .job
            .as_deref()
            .expect("is_current covers a missing job");
        let is_destructive = *destructive_by_version
            .entry(old_job.job_modify_index)
            .or_insert_with(|| match old_job.lookup_task_group(&group.name) {
                Some(old_group) => update_kind(old_job, old_group, job, group).is_destructive(),
                None => true,
            });
        if is_destructive {
            destructive.push(alloc);
        } else {
            inplace.push(alloc);
        }
    }
    destructive.sort_by_cached_key(|a| (name_index(&a.name).unwrap_or(u32::MAX), a.id.as_str()));

    // Canaries go first when the new version replaces allocations.
    let wanted_canaries = g
        .strategy
        .and_then(|s| s.canary)
        .map_or(0, |c| u32::try_from(c.max(0)).unwrap_or(u32::MAX));
    let canary_state = dstate.is_some_and(|s| s.desired_canaries > 0 && !s.promoted);
    let require_canary = !destructive.is_empty() && wanted_canaries > 0 && !promoted && !halted;
    let canarying = canary_state || require_canary;
    if require_canary {
        out.desired_canaries = wanted_canaries;
        let have = u32::try_from(canaries.len()).unwrap_or(u32::MAX);
        let mut used: BTreeSet<u32> = canaries
            .iter()
            .filter_map(|a| name_index(&a.name))
            .collect();
        let mut names: Vec<u32> = Vec::new();
        let needed = wanted_canaries.saturating_sub(have) as usize;
        for alloc in &destructive {
            if names.len() == needed {
                break;
            }
            if let Some(index) = name_index(&alloc.name)
                && used.insert(index)
            {
                names.push(index);
            }
        }
        let occupied: BTreeSet<u32> = occupying
            .iter()
            .filter_map(|a| name_index(&a.name))
            .collect();
        let mut index = 0u32;
        while names.len() < needed {
            if !occupied.contains(&index) && used.insert(index) {
                names.push(index);
            }
            index += 1;
        }
        for index in names {
            out.desired.canary += 1;
            let replaced = rescheduled_canaries.pop();
            out.place.push(place_request(
                g,
                index,
                PlaceReason::Canary,
                replaced.map(|(alloc, _)| alloc),
                replaced.map(|(_, delay)| delay),
            ));
        }
    }

    // Scale down: duplicates of names held by the new version first, then
    // the highest indexes, older versions before newer.
    let live: Vec<&'a Allocation> = occupying.clone();
    let excess = live.len().saturating_sub(count as usize);
    if excess > 0 {
        // Where two allocations share a name, the lesser one is shadowed:
        // an older version, or a failed one, or one not yet healthy, loses
        // to the other.
        let rank = |a: &Allocation| {
            (
                is_current(a),
                !a.client_terminal(),
                a.deployment_status.as_ref().and_then(|s| s.healthy) == Some(true),
                a.is_canary(),
                a.create_index,
            )
        };
        // The best rank per name, once: the sort below asks for every
        // allocation many times.
        let mut best: BTreeMap<&str, _> = BTreeMap::new();
        for a in &live {
            let r = rank(a);
            best.entry(a.name.as_str())
                .and_modify(|b| {
                    if r > *b {
                        *b = r;
                    }
                })
                .or_insert(r);
        }
        let shadowed = |a: &Allocation| best.get(a.name.as_str()).is_some_and(|b| rank(a) < *b);
        // Then allocations that no longer run (failed ones waiting for a
        // reschedule, finished batch ones), then the highest indexes,
        // older versions first.
        let mut candidates: Vec<&'a Allocation> = live.clone();
        candidates.sort_by_cached_key(|a| {
            (
                !shadowed(a),
                !a.client_terminal(),
                std::cmp::Reverse(name_index(&a.name).unwrap_or(0)),
                is_current(a),
                a.id.as_str(),
            )
        });
        let stopped: BTreeSet<&str> = candidates
            .iter()
            .take(excess)
            .map(|a| a.id.as_str())
            .collect();
        for alloc in candidates.iter().take(excess) {
            stop(&mut out, alloc, STOP_UNNEEDED, None);
        }
        occupying.retain(|a| !stopped.contains(a.id.as_str()));
        destructive.retain(|a| !stopped.contains(a.id.as_str()));
        inplace.retain(|a| !stopped.contains(a.id.as_str()));
        // A stopped allocation needs no follow-up and no bookkeeping: a
        // write of it would undo the stop.
        let before = out.later.len();
        out.later.retain(|l| !stopped.contains(l.alloc.id.as_str()));
        out.desired.reschedule_later -= (before - out.later.len()) as u64;
        out.attribute_updates
            .retain(|a| !stopped.contains(a.id.as_str()));
    }

    // How many replacements may be in flight (allocations this
    // evaluation stops no longer count).
    let limit = match g.strategy {
        None => usize::MAX,
        Some(_) if halted || canarying => 0,
        Some(strategy) => {
            let mut limit = usize::try_from(strategy.max_parallel()).unwrap_or(0);
            if let Some(d) = g.deployment.filter(|d| d.is_active()) {
                let stopping: BTreeSet<&str> =
                    out.stop.iter().map(|s| s.alloc.id.as_str()).collect();
                for alloc in g.allocs.iter().filter(|a| {
                    a.deployment_id == d.id
                        && !a.is_terminal()
                        && !a.is_canary()
                        && !stopping.contains(a.id.as_str())
                }) {
                    match alloc.deployment_status.as_ref().and_then(|s| s.healthy) {
                        Some(true) => {}
                        Some(false) => {
                            limit = 0;
                            break;
                        }
                        None => limit = limit.saturating_sub(1),
                    }
                }
            }
            limit
        }
    };

    // Fill the count: freed names first (a replacement keeps its
    // predecessor's name), then the lowest free indexes.
    let occupied: BTreeSet<u32> = occupying
        .iter()
        .filter_map(|a| name_index(&a.name))
        .collect();
    let mut missing = (count as usize).saturating_sub(occupying.len());
    let mut taken = occupied.clone();
    for (index, f) in &freed {
        if missing == 0 {
            break;
        }
        if taken.insert(*index) {
            missing -= 1;
            if f.reason != PlaceReason::Migrate && f.reason != PlaceReason::Reschedule {
                out.desired.place += 1;
            }
            out.place
                .push(place_request(g, *index, f.reason, Some(f.alloc), f.delay));
        }
    }
    // A paused or failed deployment, or one placing canaries, places only
    // replacements (lost, failed, migrated), not new allocations.
    if g.strategy.is_some() && (halted || canarying) {
        missing = 0;
    }
    let mut index = 0u32;
    while missing > 0 {
        if taken.insert(index) {
            missing -= 1;
            out.desired.place += 1;
            out.place
                .push(place_request(g, index, PlaceReason::Missing, None, None));
        }
        index += 1;
    }

    // Replacements use up the rollout's parallel slots.
    let limit = limit.saturating_sub(out.place.iter().filter(|p| !p.is_canary()).count());

    // Destructive updates within the limit keep their names.
    let take = destructive.len().min(limit);
    for alloc in destructive.iter().take(take) {
        stop(&mut out, alloc, STOP_UPDATE, None);
        out.desired.stop -= 1;
        out.desired.destructive_update += 1;
        let index = name_index(&alloc.name).unwrap_or(0);
        out.place.push(place_request(
            g,
            index,
            PlaceReason::Destructive,
            Some(alloc),
            None,
        ));
    }
    out.desired.in_place_update += inplace.len() as u64;
    out.desired.ignore += (occupying.len() - take - inplace.len() + canaries.len()) as u64;

    let had_current = g.allocs.iter().any(|a| a.job.is_some() && is_current(a));
    out.needs_deployment = take > 0
        || !destructive.is_empty()
        || !inplace.is_empty()
        || require_canary
        || (!had_current && !out.place.is_empty());
    out.inplace = inplace;
    out.place
        .sort_by_key(|p| name_index(&p.name).unwrap_or(u32::MAX));
    out
}

/// Applies a failed allocation's reschedule policy. Rescheduled now: it is
/// stopped and the delay the policy applied is returned (for the
/// replacement's tracker). Otherwise it keeps its place (`None`); when due
/// later, a follow-up evaluation is asked for.
fn reschedule<'a>(
    g: &GroupInput<'_, 'a>,
    alloc: &'a Allocation,
    out: &mut GroupDecision<'a>,
) -> Option<Duration> {
    let input = g.input;
    let policy = policy_for_alloc(alloc).or_else(|| effective_policy(g.group));
    let failed = failed_at(alloc);
    match decide(alloc, policy, &input.eval.id, input.now, failed) {
        RescheduleDecision::Now => {
            stop(out, alloc, STOP_RESCHEDULED, None);
            out.desired.stop -= 1;
            out.desired.reschedule_now += 1;
            Some(
                policy
                    .map(|p| next_delay(p, &alloc.reschedule_tracker, failed))
                    .unwrap_or_default(),
            )
        }
        RescheduleDecision::Later { at } => {
            out.desired.reschedule_later += 1;
            out.later.push(Later {
                alloc,
                at,
                trigger: LaterTrigger::Reschedule,
            });
            None
        }
        RescheduleDecision::AwaitingFollowup { .. } | RescheduleDecision::Never { .. } => None,
    }
}

fn place_request<'a>(
    g: &GroupInput<'_, 'a>,
    index: u32,
    reason: PlaceReason,
    previous: Option<&'a Allocation>,
    reschedule_delay: Option<Duration>,
) -> PlaceRequest<'a> {
    PlaceRequest {
        group: g.group_index,
        name: format!("{}.{}[{index}]", g.job.id.as_str(), g.group.name),
        reason,
        previous,
        reschedule_delay,
        deployment_id: None,
    }
}

fn stop<'a>(
    out: &mut GroupDecision<'a>,
    alloc: &'a Allocation,
    description: &'static str,
    client_status: Option<AllocClientStatus>,
) {
    out.desired.stop += 1;
    out.stop.push(StopRequest {
        alloc,
        description,
        client_status,
    });
}
