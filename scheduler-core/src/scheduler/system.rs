//! System and sysbatch jobs: one allocation of each group on every feasible
//! node.
//!
//! Nodes are visited in id order (no shuffle, no limit: every node is a
//! target). A node that fails a constraint is simply not a target; a
//! feasible node without room is a placement failure, explained like any
//! other. Allocations are named `job.group[0]` on every node, as in Nomad.
//! For sysbatch, a node where the group already completed is done.
//!
//! A feasible node without room is retried with lower-priority allocations
//! of other jobs evicted when the configuration lets the job's type preempt
//! (system jobs by default; see [`preempt`]).

use std::collections::BTreeSet;

use super::candidates::{base_nodes, job_pool};
use super::explain::explain_failure;
use super::preempt;
use super::proposed::Proposed;
use super::run::{Run, STOP_UNNEEDED};
use super::select::{GroupPlacer, NodeAttempt};
use crate::model::{AllocClientStatus, AllocMetric, Job, JobType, NodeId};

/// Schedules a system or sysbatch job.
pub fn schedule_system<'s>(run: &mut Run<'s>, job: Option<&'s Job>) {
    let snapshot = run.snapshot;
    let Some((job, allocs)) = run.job_and_allocs(job) else {
        return;
    };

    let groups: BTreeSet<&str> = job.task_groups.iter().map(|g| g.name.as_str()).collect();
    let mut proposed = Proposed::new(snapshot, job);
    for alloc in allocs
        .iter()
        .filter(|a| !a.is_terminal() && !groups.contains(a.task_group.as_str()))
    {
        proposed.stop(alloc);
        run.stop(alloc, STOP_UNNEEDED);
    }

    // Which (node, group) pairs already have an allocation that counts.
    let sysbatch = job.job_type == JobType::Sysbatch;
    let covered: BTreeSet<(NodeId, &str)> = allocs
        .iter()
        .filter(|a| {
            !a.is_terminal()
                || (sysbatch
                    && a.client_status == AllocClientStatus::Complete
                    && !a.server_terminal())
        })
        .map(|a| (a.node_id.clone(), a.task_group.as_str()))
        .collect();

    let base = base_nodes(snapshot, job);
    let algorithm = run.config.algorithm_for(snapshot.node_pool(job_pool(job)));
    let node_count = snapshot.node_count();
    let mut placers: Vec<GroupPlacer<'s, 's>> = job
        .task_groups
        .iter()
        .map(|group| GroupPlacer::new(snapshot, job, group, &proposed, algorithm, node_count))
        .collect();

    for node in &base.nodes {
        for (group_index, group) in job.task_groups.iter().enumerate() {
            if group.count == Some(0) || covered.contains(&(node.id.clone(), group.name.as_str())) {
                continue;
            }
            let mut metric = AllocMetric::default();
            match placers[group_index].place_on(node, &mut proposed, &mut run.port_rng, &mut metric)
            {
                NodeAttempt::Placed(choice) => {
                    // distinct_property counts what this evaluation places.
                    for (index, placer) in placers.iter_mut().enumerate() {
                        if index == group_index {
                            placer.record(choice.node);
                        } else {
                            placer.record_other(choice.node);
                        }
                    }
                    let name = format!("{}.{}[0]", job.id.as_str(), group.name);
                    let mut alloc = run.new_allocation(job, group, name, &choice, metric, None);
                    preempt::apply(
                        &choice,
                        &mut alloc,
                        job,
                        &mut proposed,
                        &mut run.plan,
                        run.env.now,
                    );
                    proposed.place(&alloc);
                    run.plan.push_placement(alloc);
                }
                NodeAttempt::Infeasible => {}
                NodeAttempt::Exhausted => {
                    metric.node_pool = job_pool(job).to_owned();
                    metric.nodes_in_pool = base.nodes_in_pool;
                    metric.nodes_available = base.available_by_datacenter.clone();
                    let explanation = explain_failure(&metric, &base.left_out, group, job);
                    metric.explanation = format!("node {:?}: {explanation}", node.name);
                    run.fail(&group.name, || metric);
                }
            }
        }
    }

    run.learn_classes(&placers);
}
