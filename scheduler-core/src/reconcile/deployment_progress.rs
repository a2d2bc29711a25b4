//! The deployment watcher's state machine, sans IO: how alloc health reports,
//! operator requests (promote, fail, pause) and the passing of time move a
//! [`Deployment`] towards `successful` or `failed`.
//!
//! The caller (the deployment watcher) feeds what happened since its last
//! call to [`step`] together with `now` (Unix nanoseconds), carries out the
//! returned [`DeploymentAction`]s in order, keeps the returned
//! [`DeploymentWatch`] for the next call, and wakes up again at
//! [`Progress::next_deadline`] (like quinn's `poll_timeout`): stepping with no
//! events at that instant fails a deployment whose deadline has passed.
//!
//! # Per-alloc health
//!
//! [`DeploymentWatch::allocs`] records the last reported health of every
//! allocation. It is the source of truth for each group's `healthy_allocs`
//! and `unhealthy_allocs`, which are recomputed from it on every step, so a
//! later report for the same allocation replaces the earlier one and an
//! allocation is never counted twice. After a restart the watcher rebuilds
//! it with [`DeploymentWatch::from_allocs`] from the allocations'
//! `deployment_status`.
//!
//! # Rules (Nomad's `nomad/deploymentwatcher`)
//!
//! - A report that makes an allocation healthy (it was not healthy before)
//!   is progress: its group's `require_progress_by` becomes
//!   `max(require_progress_by, at + progress_deadline)`.
//! - With `progress_deadline` 0 the first unhealthy report fails the
//!   deployment ("Failed due to unhealthy allocations"); otherwise unhealthy
//!   allocations are left to rescheduling, and the deployment fails once
//!   `now >= require_progress_by` of a group that is not yet done ("Failed
//!   due to progress deadline"). A group is done for the deadline when it has
//!   `desired_total` healthy allocations or, while its canaries await
//!   promotion, `desired_canaries` healthy allocations. A group whose
//!   `require_progress_by` is unset (the placement that starts the timer is
//!   recorded by the plan applier, not here) has no deadline yet.
//! - Every failure rolls back (`rollback: true`) when any group has
//!   `auto_revert`; the caller picks the version and may append
//!   " - rolling back to job version N" to the description.
//! - Canaries are promoted all at once, as Nomad does: automatically when
//!   every group awaiting promotion has `auto_promote` and `desired_canaries`
//!   healthy canaries, or on a [`DeploymentEvent::Promote`], which is
//!   rejected ([`DeploymentAction::PromotionRejected`]) unless every chosen
//!   group has enough healthy canaries. Promotion restarts the group's
//!   progress timer (`now + progress_deadline`).
//! - The deployment succeeds when every group has
//!   `healthy_allocs >= max(desired_total, desired_canaries)` and its
//!   canaries, if any, are promoted.
//! - Pausing stops the progress timer: nothing fails on a deadline and no
//!   deadline is reported while paused, and resuming shifts every
//!   `require_progress_by` later by the time spent paused. Health reports are
//!   still recorded while paused (and with `progress_deadline` 0 an
//!   unhealthy one still fails the deployment), but auto-promotion and
//!   success wait for the resume.
//! - Only `running` deployments promote automatically, succeed or miss
//!   deadlines; the multi-region states (`pending`, `blocked`, ...) only
//!   record health. A terminal deployment (`successful`, `failed`,
//!   `cancelled`) ignores every event and reports no deadline.
//! - At most one [`DeploymentAction::CreateEval`] is emitted per step, last,
//!   when health changed, canaries were promoted or the deployment failed,
//!   so the reconciler can continue (or roll back) the update.
//!
//! Events are applied in order, before the deadline check: progress reported
//! in the same step counts even when its `at` is after a deadline.

use std::collections::BTreeMap;

use crate::model::{AllocId, Allocation, Deployment, DeploymentState, DeploymentStatus};

/// Nomad's description of a running deployment.
pub const DESCRIPTION_RUNNING: &str = "Deployment is running";
/// Nomad's description of a deployment waiting for manual promotion.
pub const DESCRIPTION_NEEDS_PROMOTION: &str = "Deployment is running but requires manual promotion";
/// Nomad's description of a deployment waiting for automatic promotion.
pub const DESCRIPTION_AUTO_PROMOTION: &str = "Deployment is running pending automatic promotion";
/// Nomad's description of a paused deployment.
pub const DESCRIPTION_PAUSED: &str = "Deployment is paused";
/// Nomad's description of a successful deployment.
pub const DESCRIPTION_SUCCESSFUL: &str = "Deployment completed successfully";
/// Nomad's description of a deployment failed by a missed progress deadline.
pub const DESCRIPTION_PROGRESS_DEADLINE: &str = "Failed due to progress deadline";
/// Nomad's description of a deployment failed by an unhealthy allocation.
pub const DESCRIPTION_UNHEALTHY: &str = "Failed due to unhealthy allocations";
/// Nomad's description of a deployment failed by an operator.
pub const DESCRIPTION_FAILED_BY_USER: &str = "Deployment marked as failed";

/// What happened since the last step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentEvent {
    /// The client reported an allocation's deployment health at `at`.
    AllocHealth {
        /// The allocation.
        alloc: AllocId,
        /// Its task group; reports for groups outside the deployment are ignored.
        group: String,
        /// Healthy or unhealthy.
        healthy: bool,
        /// Whether the allocation is a canary.
        canary: bool,
        /// When health was set, Unix nanoseconds.
        at: i64,
    },
    /// An operator promotes canaries: of the named groups, or of every group
    /// awaiting promotion when `None`.
    Promote {
        /// Groups to promote; `None` for all.
        groups: Option<Vec<String>>,
    },
    /// An operator fails the deployment.
    Fail,
    /// An operator pauses (`true`) or resumes (`false`) the deployment.
    Pause(bool),
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentAction {
    /// Record the deployment as successful (and the job version as stable).
    MarkSuccessful,
    /// Record the deployment as failed; roll back to the last stable job
    /// version when `rollback`.
    Fail {
        /// Nomad-style status description.
        description: String,
        /// Whether some group has `auto_revert`.
        rollback: bool,
    },
    /// Record the promotion of these groups' canaries (sorted).
    Promote {
        /// Promoted groups.
        groups: Vec<String>,
    },
    /// A promotion request was refused; report `reason` to the operator.
    PromotionRejected {
        /// Why, Nomad-style.
        reason: String,
    },
    /// Create an evaluation of the job so the reconciler acts on the change.
    CreateEval {
        /// Why.
        reason: String,
    },
}

/// The last reported health of one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocHealth {
    /// Task group of the allocation.
    pub group: String,
    /// Healthy or unhealthy.
    pub healthy: bool,
    /// Whether the allocation is a canary.
    pub canary: bool,
    /// When health was set, Unix nanoseconds.
    pub at: i64,
}

/// Everything the state machine keeps between steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentWatch {
    /// The deployment; its health counts always match `allocs`.
    pub deployment: Deployment,
    /// Last reported health of each allocation of the deployment.
    pub allocs: BTreeMap<AllocId, AllocHealth>,
    /// When the deployment was paused, Unix nanoseconds; `None` unless paused.
    pub paused_since: Option<i64>,
}

/// The result of one [`step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// State to keep for the next step.
    pub watch: DeploymentWatch,
    /// What to do, in order.
    pub actions: Vec<DeploymentAction>,
    /// When to step again (the earliest progress deadline of a group that is
    /// not done), Unix nanoseconds; `None` when no timer is needed.
    pub next_deadline: Option<i64>,
}

impl DeploymentWatch {
    /// Starts watching a deployment no allocation has reported health for.
    pub fn new(deployment: Deployment) -> Self {
        Self::from_allocs(deployment, &[])
    }

    /// Rebuilds the per-alloc health from allocations of the deployment
    /// (others, stopped ones, those of groups outside it, and those without
    /// reported health are skipped), recounts each group's healthy and unhealthy
    /// allocations and sets a running or paused deployment's Nomad status
    /// description. A paused deployment counts as paused since its
    /// `modify_time`.
    pub fn from_allocs(deployment: Deployment, allocs: &[Allocation]) -> Self {
        let mut health = BTreeMap::new();
        for alloc in allocs {
            // A stopped allocation no longer counts towards the deployment.
            if alloc.deployment_id != deployment.id
                || alloc.server_terminal()
                || !deployment.task_groups.contains_key(&alloc.task_group)
            {
                continue;
            }
            let Some(status) = &alloc.deployment_status else {
                continue;
            };
            let Some(healthy) = status.healthy else {
                continue;
            };
            health.insert(
                alloc.id.clone(),
                AllocHealth {
                    group: alloc.task_group.clone(),
                    healthy,
                    canary: status.canary,
                    at: parse_rfc3339_nanos(&status.timestamp).unwrap_or(alloc.modify_time),
                },
            );
        }
        let paused_since =
            (deployment.status == DeploymentStatus::Paused).then_some(deployment.modify_time);
        let mut watch = DeploymentWatch {
            deployment,
            allocs: health,
            paused_since,
        };
        watch.recount();
        set_running_description(&mut watch.deployment);
        watch
    }

    /// Sets every group's healthy and unhealthy counts from `allocs`.
    fn recount(&mut self) {
        for (name, state) in &mut self.deployment.task_groups {
            let (healthy, unhealthy) =
                self.allocs
                    .values()
                    .filter(|a| &a.group == name)
                    .fold(
                        (0, 0),
                        |(h, u), a| {
                            if a.healthy { (h + 1, u) } else { (h, u + 1) }
                        },
                    );
            state.healthy_allocs = healthy;
            state.unhealthy_allocs = unhealthy;
        }
    }

    fn healthy_canaries(&self, group: &str) -> u32 {
        let n = self
            .allocs
            .values()
            .filter(|a| a.group == group && a.canary && a.healthy)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn rollback(&self) -> bool {
        self.deployment.task_groups.values().any(|s| s.auto_revert)
    }
}

/// Applies `events` at `now` (Unix nanoseconds) and returns the new state,
/// the actions for the caller, and when to step next. See the module docs
/// for the rules.
pub fn step(watch: &DeploymentWatch, events: &[DeploymentEvent], now: i64) -> Progress {
    let mut w = watch.clone();
    let mut actions = Vec::new();
    if w.deployment.status.is_terminal() {
        return Progress {
            watch: w,
            actions,
            next_deadline: None,
        };
    }
    let mut health_changed = false;
    let mut promoted = false;
    let mut failed = false;

    for event in events {
        if w.deployment.status.is_terminal() {
            break;
        }
        match event {
            DeploymentEvent::AllocHealth {
                alloc,
                group,
                healthy,
                canary,
                at,
            } => {
                let Some(state) = w.deployment.task_groups.get_mut(group) else {
                    continue;
                };
                let report = AllocHealth {
                    group: group.clone(),
                    healthy: *healthy,
                    canary: *canary,
                    at: *at,
                };
                let previous = w.allocs.insert(alloc.clone(), report);
                let was = previous.as_ref().map(|p| p.healthy);
                if was != Some(*healthy) {
                    health_changed = true;
                }
                let deadline = state.progress_deadline.as_nanos();
                if *healthy && was != Some(true) && deadline > 0 {
                    let candidate = at.saturating_add(deadline);
                    let current = deadline_of(state);
                    if current.is_none_or(|c| candidate > c) {
                        state.require_progress_by = format_rfc3339_nanos(candidate);
                    }
                }
                if !*healthy && was != Some(false) && deadline == 0 {
                    fail(&mut w, &mut actions, DESCRIPTION_UNHEALTHY);
                    failed = true;
                }
            }
            DeploymentEvent::Promote { groups } => match promotable(&w, groups.as_deref()) {
                Ok(names) => {
                    promote(&mut w, &mut actions, names, now);
                    promoted = true;
                }
                Err(reason) => actions.push(DeploymentAction::PromotionRejected { reason }),
            },
            DeploymentEvent::Fail => {
                fail(&mut w, &mut actions, DESCRIPTION_FAILED_BY_USER);
                failed = true;
            }
            DeploymentEvent::Pause(true) => {
                if w.deployment.status == DeploymentStatus::Running {
                    w.deployment.status = DeploymentStatus::Paused;
                    w.paused_since = Some(now);
                }
            }
            DeploymentEvent::Pause(false) => {
                if w.deployment.status == DeploymentStatus::Paused {
                    resume(&mut w, now);
                }
            }
        }
    }
    w.recount();

    if w.deployment.status == DeploymentStatus::Running {
        if let Some(names) = auto_promotable(&w) {
            promote(&mut w, &mut actions, names, now);
            promoted = true;
        }
        if w.deployment.task_groups.values().all(is_successful) {
            w.deployment.status = DeploymentStatus::Successful;
            w.deployment.status_description = DESCRIPTION_SUCCESSFUL.to_owned();
            actions.push(DeploymentAction::MarkSuccessful);
        } else if next_deadline(&w.deployment).is_some_and(|d| now >= d) {
            fail(&mut w, &mut actions, DESCRIPTION_PROGRESS_DEADLINE);
            failed = true;
        }
    }
    set_running_description(&mut w.deployment);

    let reason = if failed {
        Some("deployment failed")
    } else if promoted {
        Some("deployment promoted")
    } else if health_changed {
        Some("allocation health changed")
    } else {
        None
    };
    if let Some(reason) = reason {
        actions.push(DeploymentAction::CreateEval {
            reason: reason.to_owned(),
        });
    }
    if w.deployment != watch.deployment {
        w.deployment.modify_time = now;
    }
    let next_deadline = if w.deployment.status == DeploymentStatus::Running {
        next_deadline(&w.deployment)
    } else {
        None
    };
    Progress {
        watch: w,
        actions,
        next_deadline,
    }
}

fn fail(w: &mut DeploymentWatch, actions: &mut Vec<DeploymentAction>, description: &str) {
    w.deployment.status = DeploymentStatus::Failed;
    w.deployment.status_description = description.to_owned();
    w.paused_since = None;
    actions.push(DeploymentAction::Fail {
        description: description.to_owned(),
        rollback: w.rollback(),
    });
}

fn resume(w: &mut DeploymentWatch, now: i64) {
    w.deployment.status = DeploymentStatus::Running;
    let paused_for = w.paused_since.take().map(|since| now.saturating_sub(since));
    for state in w.deployment.task_groups.values_mut() {
        let deadline = state.progress_deadline.as_nanos();
        let Some(current) = deadline_of(state) else {
            continue;
        };
        if deadline <= 0 {
            continue;
        }
        // Without a known pause start, restart the timer from `now`.
        let shifted = match paused_for {
            Some(d) => current.saturating_add(d.max(0)),
            None => current.max(now.saturating_add(deadline)),
        };
        state.require_progress_by = format_rfc3339_nanos(shifted);
    }
}

/// Groups awaiting promotion, by name.
fn awaiting_promotion(
    deployment: &Deployment,
) -> impl Iterator<Item = (&String, &DeploymentState)> {
    deployment
        .task_groups
        .iter()
        .filter(|(_, s)| s.desired_canaries > 0 && !s.promoted)
}

/// The groups a manual promotion covers, or why it is refused.
fn promotable(w: &DeploymentWatch, groups: Option<&[String]>) -> Result<Vec<String>, String> {
    let names: Vec<String> = match groups {
        None => awaiting_promotion(&w.deployment)
            .map(|(name, _)| name.clone())
            .collect(),
        Some(groups) => {
            let mut names = Vec::new();
            for name in groups {
                let Some(state) = w.deployment.task_groups.get(name) else {
                    return Err(format!("Deployment has no task group {name:?}"));
                };
                if state.desired_canaries > 0 && !state.promoted && !names.contains(name) {
                    names.push(name.clone());
                }
            }
            names.sort();
            names
        }
    };
    if names.is_empty() {
        return Err("No canaries to promote".to_owned());
    }
    for name in &names {
        let state = &w.deployment.task_groups[name];
        let healthy = w.healthy_canaries(name);
        if healthy < state.desired_canaries {
            return Err(format!(
                "Task group {name:?} has {healthy}/{} healthy allocations",
                state.desired_canaries
            ));
        }
    }
    Ok(names)
}

/// Every group awaiting promotion, when all auto-promote and have enough
/// healthy canaries.
fn auto_promotable(w: &DeploymentWatch) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for (name, state) in awaiting_promotion(&w.deployment) {
        if !state.auto_promote || w.healthy_canaries(name) < state.desired_canaries {
            return None;
        }
        names.push(name.clone());
    }
    (!names.is_empty()).then_some(names)
}

fn promote(
    w: &mut DeploymentWatch,
    actions: &mut Vec<DeploymentAction>,
    names: Vec<String>,
    now: i64,
) {
    for name in &names {
        if let Some(state) = w.deployment.task_groups.get_mut(name) {
            state.promoted = true;
            let deadline = state.progress_deadline.as_nanos();
            if deadline > 0 {
                state.require_progress_by = format_rfc3339_nanos(now.saturating_add(deadline));
            }
        }
    }
    actions.push(DeploymentAction::Promote { groups: names });
}

fn is_successful(state: &DeploymentState) -> bool {
    state.healthy_allocs >= state.desired_total.max(state.desired_canaries)
        && (state.desired_canaries == 0 || state.promoted)
}

/// Done as far as the progress deadline is concerned (Nomad's `doneGroups`).
fn is_done_for_deadline(state: &DeploymentState) -> bool {
    if state.desired_canaries > 0 && !state.promoted {
        state.healthy_allocs >= state.desired_canaries
    } else {
        state.healthy_allocs >= state.desired_total
    }
}

/// A group's progress deadline, when it has one.
fn deadline_of(state: &DeploymentState) -> Option<i64> {
    if state.progress_deadline.as_nanos() <= 0 {
        return None;
    }
    parse_rfc3339_nanos(&state.require_progress_by)
}

/// The earliest deadline of a group that is not done.
fn next_deadline(deployment: &Deployment) -> Option<i64> {
    deployment
        .task_groups
        .values()
        .filter(|s| !is_done_for_deadline(s))
        .filter_map(deadline_of)
        .min()
}

fn set_running_description(deployment: &mut Deployment) {
    let description = match deployment.status {
        DeploymentStatus::Running => {
            let mut waiting = awaiting_promotion(deployment).peekable();
            if waiting.peek().is_none() {
                DESCRIPTION_RUNNING
            } else if waiting.all(|(_, s)| s.auto_promote) {
                DESCRIPTION_AUTO_PROMOTION
            } else {
                DESCRIPTION_NEEDS_PROMOTION
            }
        }
        DeploymentStatus::Paused => DESCRIPTION_PAUSED,
        _ => return,
    };
    if deployment.status_description != description {
        deployment.status_description = description.to_owned();
    }
}

pub use crate::model::timestamp::{format_rfc3339_nanos, parse_rfc3339_nanos};

#[cfg(test)]
mod tests;
