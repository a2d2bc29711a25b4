//! The node drainer's decisions: which allocations on draining nodes get
//! `desired_transition.migrate = true`, when, and which drains are finished.
//! Nomad's `nomad/drainer` (`watch_jobs.go` `handleTaskGroup`, `drainer.go`
//! deadlines, `draining_node.go` `IsDone` / `RemainingAllocs`) as one pure
//! function, [`drain_step`].
//!
//! Pure and stateless: it reads a [`StateSnapshot`] and `now` (Unix
//! nanoseconds) and returns a [`DrainDecision`]. The caller writes the marks
//! (one evaluation per job, see [`DrainDecision::jobs`]), completes the
//! finished drains, and calls again whenever allocations or nodes change and
//! at [`DrainDecision::next_deadline`]. Calling twice on the same snapshot
//! gives the same decision; calling again after the marks were written
//! marks nothing twice.
//!
//! # Terms
//!
//! - **Draining node:** a node with a `drain_strategy` (the legacy `drain`
//!   flag alone does not count).
//! - **Deadline** of a draining node: `drain_strategy.deadline` < 0 means
//!   "now" (a forced drain); 0 means none; > 0 means `force_deadline`
//!   (RFC 3339), or `started_at + deadline` when `force_deadline` is empty
//!   or unreadable, or none when neither can be read. The deadline is
//!   **reached** when `deadline <= now`.
//! - **Kind** of an allocation: the type of the job version it embeds, else
//!   of the job stored under its namespace and id, else `service`.
//! - **Live:** not terminal on either side (desired `run`, client neither
//!   `complete`, `failed` nor `lost`).
//! - **Marked:** `desired_transition.migrate == Some(true)`.
//! - **Drainable:** live, not marked, on a draining node whose deadline is
//!   not reached.
//!
//! # Rules
//!
//! 1. **Deadline reached.** Every live, unmarked allocation on the node is
//!    marked, whatever its kind, except `system` ones when
//!    `ignore_system_jobs` is set.
//! 2. **Service allocations** (before the deadline) are paced per job and
//!    task group, across every draining node, with the group's `migrate`
//!    block (the current job's group; `max_parallel` 1 when the group has
//!    none). Over every allocation of the job whose `task_group` is the
//!    group, on any node:
//!    - `healthy` = live, **not marked** (neither before nor by rule 1 in
//!      this step), and `deployment_status.healthy == Some(true)`;
//!    - `threshold` = group `count` - `max_parallel`;
//!    - the first `min(drainable, healthy - threshold)` drainable
//!      allocations of the group, by id, are marked (none when that is
//!      `<= 0`).
//!
//!    So a marked allocation the scheduler has not stopped yet is in
//!    flight (it no longer counts as healthy), a stopped one drops out of
//!    the live set, and its replacement counts from the moment it reports
//!    healthy. With `count` allocations healthy, at most `max_parallel`
//!    are ever marked and not yet replaced by a healthy allocation.
//!    Groups of a job that is no longer stored, or that the stored job no
//!    longer has, are not paced: the scheduler stops those allocations
//!    itself (and rule 1 marks them at the deadline).
//! 3. **Batch and sysbatch allocations** are never marked before the
//!    deadline: they are left to finish.
//! 4. **System allocations** are marked only once every non-system
//!    allocation on the node is terminal on the client, and never when
//!    `ignore_system_jobs` is set (they keep running).
//! 5. **Done.** A draining node is done when every allocation on it is
//!    terminal on the client, `system` ones excepted when
//!    `ignore_system_jobs` is set. Reaching the deadline does not by itself
//!    finish a drain: the marked allocations must stop first.
//!
//! # Differences from Nomad
//!
//! - A marked allocation that is still live does not count as healthy
//!   (Nomad counts it until the scheduler stops it, and relies on the
//!   timing of its watchers not to mark again meanwhile).
//! - Only `healthy == Some(true)` counts as healthy; Nomad counts any
//!   allocation whose health is set, unhealthy ones included.
//! - A service group without a `migrate` block is paced with
//!   `max_parallel` 1 (Nomad leaves it to the deadline); canonical service
//!   groups always have one.
//! - Nomad completes a drain as soon as its non-system allocations are
//!   terminal (marking the system ones in the same step), and at the
//!   deadline as soon as it has marked everything. Here a drain completes
//!   only when nothing that must be drained is still running on the node,
//!   so completion is a fact about the node, not about pending marks.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::timestamp::parse_rfc3339_nanos;
use crate::model::{
    AllocId, Allocation, DrainStrategy, JobId, JobType, MigrateStrategy, Namespace, NodeId,
};
use crate::state::StateSnapshot;

/// One allocation to mark `desired_transition.migrate = true`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DrainMark {
    /// The allocation.
    pub alloc: AllocId,
    /// Its job's namespace.
    pub namespace: Namespace,
    /// Its job.
    pub job: JobId,
}

/// What the drainer wants done after one look at the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DrainDecision {
    /// Allocations to mark `desired_transition.migrate = true`, sorted by
    /// allocation id, none twice.
    pub migrate: Vec<DrainMark>,
    /// Draining nodes whose drain is complete, in ascending id order: the
    /// caller clears `drain_strategy`, keeps the node ineligible and records
    /// `last_drain` as complete.
    pub done: Vec<NodeId>,
    /// The earliest deadline (Unix ns) still ahead of `now` among the
    /// draining nodes not done; the caller should call [`drain_step`] again
    /// then.
    pub next_deadline: Option<i64>,
}

impl DrainDecision {
    /// The jobs with marked allocations, each once, in (namespace, job)
    /// order: one evaluation each.
    pub fn jobs(&self) -> Vec<(Namespace, JobId)> {
        let jobs: BTreeSet<(Namespace, JobId)> = self
            .migrate
            .iter()
            .map(|mark| (mark.namespace.clone(), mark.job.clone()))
            .collect();
        jobs.into_iter().collect()
    }
}

/// A node's drain deadline, Unix ns: `Some(i64::MIN)` for a forced drain
/// (negative `deadline`), `None` when there is none. See the module
/// documentation for how `force_deadline` and `started_at` are read.
pub fn drain_deadline(strategy: &DrainStrategy) -> Option<i64> {
    let deadline = strategy.deadline.as_nanos();
    if deadline < 0 {
        return Some(i64::MIN);
    }
    if deadline == 0 {
        return None;
    }
    parse_rfc3339_nanos(&strategy.force_deadline).or_else(|| {
        parse_rfc3339_nanos(&strategy.started_at).map(|start| start.saturating_add(deadline))
    })
}

/// One step of the drainer at `now` (Unix ns): see the module documentation
/// for the rules.
pub fn drain_step(snapshot: &dyn StateSnapshot, now: i64) -> DrainDecision {
    let mut marks: BTreeMap<AllocId, (Namespace, JobId)> = BTreeMap::new();
    let mut done = Vec::new();
    let mut next_deadline: Option<i64> = None;
    // Service groups with drainable allocations: (namespace, job, group).
    let mut paced: BTreeSet<(Namespace, JobId, String)> = BTreeSet::new();
    // Draining nodes whose deadline is not reached.
    let mut pacing_nodes: BTreeSet<NodeId> = BTreeSet::new();

    for node in snapshot.nodes() {
        let Some(strategy) = &node.drain_strategy else {
            continue;
        };
        let ignore_system = strategy.ignore_system_jobs;
        let deadline = drain_deadline(strategy);
        let forced = deadline.is_some_and(|at| at <= now);

        let allocs: Vec<(&Allocation, JobType)> = snapshot
            .allocs_by_node(&node.id)
            .map(|alloc| (alloc, kind(snapshot, alloc)))
            .collect();
        // Rule 5: something that must be drained still runs on the client.
        let still_running = allocs.iter().any(|(alloc, kind)| {
            !alloc.client_terminal() && (!ignore_system || *kind != JobType::System)
        });
        if !still_running {
            done.push(node.id.clone());
            continue;
        }
        if let Some(at) = deadline.filter(|&at| at > now) {
            next_deadline = Some(next_deadline.map_or(at, |next| next.min(at)));
        }

        let others_running = allocs
            .iter()
            .any(|(alloc, kind)| *kind != JobType::System && !alloc.client_terminal());
        for (alloc, kind) in &allocs {
            if alloc.is_terminal() || alloc.desired_transition.should_migrate() {
                continue;
            }
            let mark = match kind {
                JobType::System => !ignore_system && (forced || !others_running),
                _ if forced => true,
                JobType::Batch | JobType::Sysbatch => false,
                JobType::Service | JobType::Unknown(_) => {
                    paced.insert((
                        alloc.namespace.clone(),
                        alloc.job_id.clone(),
                        alloc.task_group.clone(),
                    ));
                    false
                }
            };
            if mark {
                marks.insert(
                    alloc.id.clone(),
                    (alloc.namespace.clone(), alloc.job_id.clone()),
                );
            }
        }
        if !forced {
            pacing_nodes.insert(node.id.clone());
        }
    }

    for (namespace, job, group) in &paced {
        for alloc in pace_group(snapshot, namespace, job, group, &pacing_nodes, &marks) {
            marks.insert(alloc, (namespace.clone(), job.clone()));
        }
    }

    DrainDecision {
        migrate: marks
            .into_iter()
            .map(|(alloc, (namespace, job))| DrainMark {
                alloc,
                namespace,
                job,
            })
            .collect(),
        done,
        next_deadline,
    }
}

/// Rule 2 for one task group: the drainable allocations to mark now.
fn pace_group(
    snapshot: &dyn StateSnapshot,
    namespace: &Namespace,
    job_id: &JobId,
    group: &str,
    pacing_nodes: &BTreeSet<NodeId>,
    marked_now: &BTreeMap<AllocId, (Namespace, JobId)>,
) -> Vec<AllocId> {
    let Some(job) = snapshot.job(namespace.as_str(), job_id) else {
        return Vec::new();
    };
    let Some(task_group) = job.task_groups.iter().find(|tg| tg.name == group) else {
        return Vec::new();
    };
    let max_parallel = task_group
        .migrate
        .as_ref()
        .or(job.migrate.as_ref())
        .map_or(1, MigrateStrategy::max_parallel);
    let threshold = task_group.count().saturating_sub(max_parallel);

    let mut healthy: i64 = 0;
    let mut drainable = Vec::new();
    for alloc in snapshot.allocs_by_job(namespace.as_str(), job_id) {
        if alloc.task_group != group || alloc.is_terminal() {
            continue;
        }
        let marked =
            alloc.desired_transition.should_migrate() || marked_now.contains_key(&alloc.id);
        if marked {
            continue;
        }
        if alloc.deployment_health() == Some(true) {
            healthy += 1;
        }
        if pacing_nodes.contains(&alloc.node_id) {
            drainable.push(alloc.id.clone());
        }
    }
    let allowed = usize::try_from(healthy.saturating_sub(threshold)).unwrap_or(0);
    drainable.truncate(allowed);
    drainable
}

/// The type of the job an allocation belongs to: its embedded job version,
/// else the stored job, else `service`.
fn kind(snapshot: &dyn StateSnapshot, alloc: &Allocation) -> JobType {
    alloc
        .job
        .as_deref()
        .or_else(|| snapshot.job(alloc.namespace.as_str(), &alloc.job_id))
        .map_or(JobType::Service, |job| job.job_type.clone())
}

#[cfg(test)]
mod tests;
