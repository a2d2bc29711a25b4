//! Service and batch jobs: bring each group to its count, choosing nodes
//! with the placement stages.
//!
//! The reconciliation here is deliberately the simple part: stop
//! everything when the job is stopped or gone, stop allocations of groups
//! that no longer exist, stop the highest indexes above the count, replace
//! allocations on down or gone nodes (marked lost) and on draining nodes
//! (migrated), and place missing indexes from the lowest free one. A failed
//! allocation frees its index and its replacement avoids the node it failed
//! on (the reschedule penalty). Updates between job versions, deployments,
//! reschedule policies, disconnected clients and `migrate.max_parallel`
//! belong to the reconciler (see [`crate::reconcile`]).
use std::collections::{BTreeMap, BTreeSet};

use super::candidates::{ShuffledNodes, base_nodes, job_pool};
use super::explain::explain_failure;
use super::proposed::Proposed;
use super::run::{Run, STOP_LOST, STOP_MIGRATE, STOP_UNNEEDED};
use super::select::GroupPlacer;
use crate::model::{AllocClientStatus, AllocMetric, Allocation, Job, JobType, NodeId, TaskGroup};
use crate::reconcile::classify::{AllocClass, classify_alloc};
use crate::state::StateSnapshot;

/// The index in an allocation name `job.group[3]`.
pub fn name_index(name: &str) -> Option<u32> {
    let open = name.rfind('[')?;
    name[open + 1..].strip_suffix(']')?.parse().ok()
}

/// Why an allocation is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Its group left the job, or the count went down.
    Unneeded,
    /// Its node is down or gone: the servers mark it lost and replace it.
    Lost,
    /// Its node is draining: it is replaced elsewhere.
    Migrate,
}

/// One allocation to place: its name and, for a replacement, the
/// allocation it replaces.
struct Placement<'s> {
    name: String,
    previous: Option<&'s Allocation>,
}

/// Schedules a service or batch job.
pub fn schedule_generic<'s>(run: &mut Run<'s>, job: Option<&'s Job>) {
    let snapshot = run.snapshot;
    let Some((job, allocs)) = run.job_and_allocs(job) else {
        return;
    };

    let groups: BTreeSet<&str> = job.task_groups.iter().map(|g| g.name.as_str()).collect();
    let mut stops: Vec<(&'s Allocation, Stop)> = allocs
        .iter()
        .copied()
        .filter(|a| !a.is_terminal() && !groups.contains(a.task_group.as_str()))
        .map(|a| (a, Stop::Unneeded))
        .collect();

    let mut placements: Vec<(usize, Vec<Placement<'s>>)> = Vec::new();
    for (index, group) in job.task_groups.iter().enumerate() {
        let (group_stops, group_places) =
            reconcile_group(snapshot, job, group, &allocs, run.env.now);
        stops.extend(group_stops);
        placements.push((index, group_places));
    }

    let mut proposed = Proposed::new(snapshot, job);
    for (alloc, why) in &stops {
        proposed.stop(alloc);
        match why {
            Stop::Unneeded => run.stop(alloc, STOP_UNNEEDED),
            Stop::Lost => run.stop_as(alloc, STOP_LOST, Some(AllocClientStatus::Lost)),
            Stop::Migrate => run.stop(alloc, STOP_MIGRATE),
        }
    }
    if placements.iter().all(|(_, p)| p.is_empty()) {
        return;
    }

    let algorithm = run.config.algorithm_for(snapshot.node_pool(job_pool(job)));
    let node_count = snapshot.node_count();
    let to_place: usize = placements.iter().map(|(_, p)| p.len()).sum();
    // Each placement reads about 2 log2(n) positions of the order.
    let expected_reads =
        to_place.saturating_mul(2 * (usize::BITS - node_count.leading_zeros()) as usize);
    let mut order = ShuffledNodes::new(snapshot, run.shuffle_rng(), expected_reads);
    let mut placers: Vec<GroupPlacer<'s, 's>> = job
        .task_groups
        .iter()
        .map(|group| GroupPlacer::new(snapshot, job, group, &proposed, algorithm, node_count))
        .collect();
    // Computed only to explain a failure: the walk itself never scans.
    let mut base = None;

    for (group_index, group_placements) in placements {
        let group = &job.task_groups[group_index];
        for placement in group_placements {
            if run.failed(&group.name) {
                run.fail(&group.name, AllocMetric::default);
                continue;
            }
            let penalized: BTreeSet<NodeId> = placement
                .previous
                .map(|previous| previous.node_id.clone())
                .into_iter()
                .collect();
            let mut metric = AllocMetric::default();
            let choice = placers[group_index].select(
                &mut order,
                &mut proposed,
                &penalized,
                &mut run.port_rng,
                &mut metric,
            );
            match choice {
                Some(choice) => {
                    for (index, placer) in placers.iter_mut().enumerate() {
                        if index == group_index {
                            placer.record(choice.node);
                        } else {
                            placer.record_other(choice.node);
                        }
                    }
                    let alloc = run.new_allocation(
                        job,
                        group,
                        placement.name,
                        &choice,
                        metric,
                        placement.previous,
                    );
                    proposed.place(&alloc);
                    run.plan.push_placement(alloc);
                }
                None => {
                    let base = base.get_or_insert_with(|| base_nodes(snapshot, job));
                    metric.node_pool = job_pool(job).to_owned();
                    metric.nodes_in_pool = base.nodes_in_pool;
                    metric.nodes_available = base.available_by_datacenter.clone();
                    metric.explanation = explain_failure(&metric, &base.left_out, group, job);
                    run.fail(&group.name, || metric);
                }
            }
        }
    }

    run.learn_classes(&placers);
}

/// Decides a group's stops and placements from its allocations.
fn reconcile_group<'s>(
    snapshot: &'s dyn StateSnapshot,
    job: &Job,
    group: &TaskGroup,
    allocs: &[&'s Allocation],
    now: i64,
) -> (Vec<(&'s Allocation, Stop)>, Vec<Placement<'s>>) {
    let count = u32::try_from(group.count.unwrap_or(1).max(0)).unwrap_or(u32::MAX);
    let in_group = || {
        allocs
            .iter()
            .copied()
            .filter(|a| a.task_group == group.name)
    };

    // Live allocations hold their index; so do finished batch allocations,
    // which are done, not missing.
    // Allocations on down or gone nodes are lost, and those on draining
    // nodes migrate: both are stopped and their index placed again (with
    // the old allocation as the previous one). Disconnected and
    // reconnecting allocations keep their place until the reconciler
    // handles them.
    let mut stops = Vec::new();
    let mut replaced: BTreeMap<u32, &'s Allocation> = BTreeMap::new();
    let mut live: Vec<&'s Allocation> = Vec::new();
    for alloc in in_group().filter(|a| !a.is_terminal()) {
        let class = classify_alloc(alloc, snapshot.node(&alloc.node_id), group, now);
        let stop = match class {
            AllocClass::Lost => Some(Stop::Lost),
            AllocClass::Migrate => Some(Stop::Migrate),
            _ => None,
        };
        match stop {
            Some(stop) => {
                stops.push((alloc, stop));
                if let Some(index) = name_index(&alloc.name) {
                    replaced.entry(index).or_insert(alloc);
                }
            }
            None => live.push(alloc),
        }
    }
    live.sort_by_key(|a| (name_index(&a.name).unwrap_or(u32::MAX), a.id.clone()));
    let completed: Vec<&'s Allocation> = if job.job_type == JobType::Batch {
        in_group()
            .filter(|a| a.client_status == AllocClientStatus::Complete && !a.server_terminal())
            .collect()
    } else {
        Vec::new()
    };

    // Scale down: the highest indexes go first.
    let occupied = u32::try_from(live.len() + completed.len()).unwrap_or(u32::MAX);
    let excess = usize::try_from(occupied.saturating_sub(count)).unwrap_or(0);
    let scaled_down: Vec<&'s Allocation> = live
        .iter()
        .rev()
        .take(excess.min(live.len()))
        .copied()
        .collect();
    let kept: BTreeSet<u32> = live
        .iter()
        .filter(|a| !scaled_down.iter().any(|s| s.id == a.id))
        .chain(completed.iter())
        .filter_map(|a| name_index(&a.name))
        .collect();

    // Failed allocations not yet replaced, by index: their replacement
    // carries them as the previous allocation.
    let mut failed: BTreeMap<u32, &'s Allocation> = BTreeMap::new();
    for alloc in in_group() {
        if alloc.client_status == AllocClientStatus::Failed
            && !alloc.server_terminal()
            && alloc.next_allocation.as_str().is_empty()
            && let Some(index) = name_index(&alloc.name)
        {
            failed.entry(index).or_insert(alloc);
        }
    }

    let kept_count = live.len() - scaled_down.len() + completed.len();
    stops.extend(scaled_down.into_iter().map(|alloc| (alloc, Stop::Unneeded)));
    let missing = count.saturating_sub(u32::try_from(kept_count).unwrap_or(u32::MAX));
    let mut placements = Vec::new();
    let mut index = 0u32;
    while u32::try_from(placements.len()).unwrap_or(u32::MAX) < missing {
        if !kept.contains(&index) {
            placements.push(Placement {
                name: format!("{}.{}[{index}]", job.id.as_str(), group.name),
                previous: failed.get(&index).or_else(|| replaced.get(&index)).copied(),
            });
        }
        index += 1;
    }
    (stops, placements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_indexes() {
        assert_eq!(name_index("web.api[3]"), Some(3));
        assert_eq!(name_index("a.b[c][12]"), Some(12));
        assert_eq!(name_index("web.api"), None);
        assert_eq!(name_index("web.api[x]"), None);
    }
}
