//! Service and batch jobs: the reconciler ([`crate::reconcile::reconciler`])
//! decides what to stop, update and place; this module carries it out,
//! choosing a node for each placement with the placement stages.
//!
//! A placement that replaces an allocation (a destructive update, a
//! migration, a lost or rescheduled allocation) records the allocation it
//! replaces; a rescheduled one avoids the node it failed on (the
//! reschedule penalty) and carries the reschedule tracker. A destructive
//! update stops the old allocation only when its replacement found a node.
use std::collections::BTreeSet;

use super::candidates::{ShuffledNodes, base_nodes, job_pool};
use super::explain::explain_failure;
use super::preempt;
use super::proposed::Proposed;
use super::result::PlanAnnotations;
use super::run::Run;
use super::select::GroupPlacer;
use crate::model::{AllocDeploymentStatus, AllocMetric, Allocation, Job, NodeId};
use crate::reconcile::reconciler::{
    PlaceReason, PlaceRequest, ReconcileInput, STOP_UPDATE, reconcile,
};
use crate::reconcile::reschedule::{effective_policy, policy_for_alloc, record_event};

/// The index in an allocation name `job.group[3]`.
pub fn name_index(name: &str) -> Option<u32> {
    let open = name.rfind('[')?;
    name[open + 1..].strip_suffix(']')?.parse().ok()
}

/// Schedules a service or batch job.
pub fn schedule_generic<'s>(run: &mut Run<'s>, job: Option<&'s Job>) {
    let snapshot = run.snapshot;
    let eval = run.eval;
    let allocs: Vec<&'s Allocation> = snapshot
        .allocs_by_job(eval.namespace.as_str(), &eval.job_id)
        .collect();
    let input = ReconcileInput {
        snapshot,
        job,
        allocs,
        deployment: snapshot.latest_deployment(eval.namespace.as_str(), &eval.job_id),
        eval,
        now: run.env.now,
    };
    let reconciliation = reconcile(&input, &mut || run.new_uuid());

    // Destructive updates stop the old allocation together with placing
    // the new one (below), so a failed placement leaves it running.
    for request in reconciliation
        .stop
        .iter()
        .filter(|s| s.description != STOP_UPDATE)
    {
        run.stop_as(request.alloc, request.description, request.client_status);
    }
    for update in reconciliation.attribute_updates {
        run.plan.push_placement(update);
    }
    run.followups.extend(reconciliation.followup_evals);
    run.plan.deployment_updates = reconciliation.deployment_updates;
    let deployment_id = reconciliation.deployment.as_ref().map(|d| d.id.clone());
    run.deployment_id.clone_from(&deployment_id);
    run.plan.deployment = reconciliation.deployment;
    run.plan.annotations = Some(PlanAnnotations {
        desired_tg_updates: reconciliation.desired,
    });
    let Some(job) = job.filter(|job| !job.stop) else {
        return;
    };
    let deployment_id = deployment_id.or_else(|| {
        input
            .deployment
            .filter(|d| d.is_active() && d.job_version == job.version)
            .map(|d| d.id.clone())
    });
    run.deployment_id.clone_from(&deployment_id);
    // One shared copy of the new version for every in-place update.
    let shared = (!reconciliation.inplace.is_empty()).then(|| std::sync::Arc::new(job.clone()));
    for alloc in reconciliation.inplace {
        let mut updated = alloc.clone();
        updated.job.clone_from(&shared);
        updated.eval_id = eval.id.clone();
        updated.modify_time = run.env.now;
        if let Some(id) = &deployment_id {
            updated.deployment_id = id.clone();
            updated.deployment_status = None;
        }
        run.plan.push_placement(updated);
    }
    if reconciliation.place.is_empty() {
        return;
    }
    place_all(run, job, reconciliation.place);
}

/// Chooses a node for every placement request and adds the allocations to
/// the plan; failures are recorded per group.
fn place_all<'s>(run: &mut Run<'s>, job: &'s Job, requests: Vec<PlaceRequest<'s>>) {
    let snapshot = run.snapshot;
    let mut proposed = Proposed::new(snapshot, job);
    // The plan holds stopped copies; the footprint is kept by the stored
    // allocations (a stopped copy already counts as terminal).
    for stopped in run.plan.stops() {
        if let Some(stored) = snapshot.alloc(&stopped.id) {
            proposed.stop(stored);
        }
    }
    let algorithm = run.config.algorithm_for(snapshot.node_pool(job_pool(job)));
    let node_count = snapshot.node_count();
    // Each placement reads about 2 log2(n) positions of the order.
    let expected_reads = requests
        .len()
        .saturating_mul(2 * (usize::BITS - node_count.leading_zeros()) as usize);
    let mut order = ShuffledNodes::new(snapshot, run.shuffle_rng(), expected_reads);
    let mut placers: Vec<GroupPlacer<'s, 's>> = job
        .task_groups
        .iter()
        .map(|group| GroupPlacer::new(snapshot, job, group, &proposed, algorithm, node_count))
        .collect();
    // Computed only to explain a failure: the walk itself never scans.
    let mut base = None;

    for request in requests {
        let group_index = request.group;
        let group = &job.task_groups[group_index];
        if run.failed(&group.name) {
            run.fail(&group.name, AllocMetric::default);
            continue;
        }
        let replaced = request
            .previous
            .filter(|_| request.reason == PlaceReason::Destructive);
        if let Some(old) = replaced {
            proposed.stop(old);
        }
        let penalized: BTreeSet<NodeId> = request
            .previous
            // A rescheduled allocation (a canary too) avoids its node.
            .filter(|_| request.reschedule_delay.is_some())
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
        let Some(choice) = choice else {
            let base = base.get_or_insert_with(|| base_nodes(snapshot, job));
            metric.node_pool = job_pool(job).to_owned();
            metric.nodes_in_pool = base.nodes_in_pool;
            metric.nodes_available = base.available_by_datacenter.clone();
            metric.explanation = explain_failure(&metric, &base.left_out, group, job);
            run.fail(&group.name, || metric);
            continue;
        };
        for (index, placer) in placers.iter_mut().enumerate() {
            if index == group_index {
                placer.record(choice.node);
            } else {
                placer.record_other(choice.node);
            }
        }
        if let Some(old) = replaced {
            run.stop(old, STOP_UPDATE);
        }
        let mut alloc = run.new_allocation(
            job,
            group,
            request.name.clone(),
            &choice,
            metric,
            request.previous,
        );
        if let Some(id) = &request.deployment_id {
            alloc.deployment_id = id.clone();
        }
        if request.is_canary() {
            alloc.deployment_status = Some(Box::new(AllocDeploymentStatus {
                canary: true,
                ..AllocDeploymentStatus::default()
            }));
        }
        if let (Some(previous), Some(delay)) = (request.previous, request.reschedule_delay) {
            let policy = policy_for_alloc(previous).or_else(|| effective_policy(group));
            alloc.reschedule_tracker = record_event(previous, policy, run.env.now, delay);
        }
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

    run.learn_classes(&placers);
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

    /// Job `web`: a service group of `count` running `image`, replaced one
    /// allocation at a time; `job_type` "batch" drops the update block.
    fn web(job_type: &str, count: u32, image: &str) -> Job {
        let update = if job_type == "service" {
            "update {\n max_parallel = 1\n }"
        } else {
            ""
        };
        let source = format!(
            r#"job "web" {{
  type = "{job_type}"
  group "web" {{
    count = {count}
    {update}
    task "app" {{
      driver = "docker"
      config {{
        image = "{image}"
      }}
    }}
  }}
}}
"#
        );
        crate::jobspec::parse(&source, &crate::jobspec::ParseOptions::new("web.nomad.hcl"))
            .expect("job parses")
            .job
    }

    fn cluster() -> crate::simulate::Simulation {
        let nodes = (0..3)
            .map(|i| {
                let mut node = crate::simulate::NodeBuilder::new(&format!("n{i}"), i).build();
                node.compute_class();
                node
            })
            .collect();
        crate::simulate::Simulation::new(nodes, 7, 1_700_000_000_000_000_000).expect("nodes")
    }

    #[test]
    fn a_finished_evaluation_names_the_deployment_it_created_or_continued() {
        use crate::model::{DeploymentId, EvalTrigger};
        use crate::state::StateSnapshot;

        let mut sim = cluster();
        let first = sim.register(web("service", 2, "nginx:1")).expect("v0");
        let created = first
            .result
            .plan
            .deployment
            .as_ref()
            .map(|d| d.id.clone())
            .expect("a new service job deploys");
        assert_eq!(first.result.eval_update.deployment_id, created);

        // A destructive update: a new deployment, one replacement at a time.
        let second = sim.register(web("service", 2, "nginx:2")).expect("v1");
        let rollout = second
            .result
            .plan
            .deployment
            .as_ref()
            .map(|d| d.id.clone())
            .expect("a new version deploys");
        assert_ne!(rollout, created);
        assert_eq!(second.result.eval_update.deployment_id, rollout);

        // Another evaluation of the same version continues that deployment
        // (nothing healthy yet, so it creates none) and names it.
        let job = sim
            .state()
            .view()
            .job("default", &crate::model::JobId::new("web"))
            .cloned()
            .expect("job");
        let eval = sim.evaluation(&job, EvalTrigger::DeploymentWatcher);
        let third = sim.process(eval, job.id.clone()).expect("continues");
        assert!(third.result.plan.deployment.is_none(), "no new deployment");
        assert_eq!(third.result.eval_update.deployment_id, rollout);

        // Batch jobs have no deployments.
        let batch = sim.register(web("batch", 1, "busybox")).expect("batch");
        assert!(batch.result.plan.deployment.is_none());
        assert_eq!(
            batch.result.eval_update.deployment_id,
            DeploymentId::default()
        );
    }
}
