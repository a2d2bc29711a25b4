//! Preemption as a user meets it: a full cluster of low-priority work, then
//! a higher-priority job that may (or may not) evict some of it.

use std::collections::{BTreeMap, BTreeSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{
    AllocDesiredStatus, AllocId, AllocMetric, Allocation, Job, Node, NodeId,
};
use scheduler_core::plan::{allocs_fit, apply_plan, check_plan};
use scheduler_core::scheduler::candidates::ShuffledNodes;
use scheduler_core::scheduler::preempt;
use scheduler_core::scheduler::proposed::Proposed;
use scheduler_core::scheduler::select::GroupPlacer;
use scheduler_core::scheduler::{Plan, SchedulerAlgorithm, SchedulerConfiguration};
use scheduler_core::simulate::{JobOutcome, NodeBuilder, Simulation};
use scheduler_core::state::StateSnapshot;

const NOW: i64 = 1_764_000_000_000_000_000;

/// `count` ready nodes of 4000 MHz and 8 GiB.
fn nodes(count: usize) -> Vec<Node> {
    (0..count)
        .map(|i| {
            let mut node = NodeBuilder::new(&format!("n{i}"), i).build();
            node.compute_class();
            node
        })
        .collect()
}

fn job(source: &str) -> Job {
    parse(source, &ParseOptions::new("test.nomad.hcl"))
        .unwrap_or_else(|e| panic!("job does not parse: {e}"))
        .job
}

fn register(sim: &mut Simulation, source: &str) -> JobOutcome {
    sim.register(job(source)).expect("job registers").clone()
}

/// A job of `count` allocations of 1000 MHz and 2 GiB: four fill a node.
fn filler(name: &str, job_type: &str, priority: u32, count: u32) -> String {
    format!(
        r#"
job "{name}" {{
  datacenters = ["dc1"]
  type        = "{job_type}"
  priority    = {priority}
  group "g" {{
    count = {count}
    task "t" {{
      driver = "docker"
      config {{ image = "busybox" }}
      resources {{
        cpu    = 1000
        memory = 2048
      }}
    }}
  }}
}}
"#
    )
}

/// A system job asking 500 MHz and 256 MiB per node.
fn agent(priority: u32) -> String {
    format!(
        r#"
job "agent" {{
  datacenters = ["dc1"]
  type        = "system"
  priority    = {priority}
  group "a" {{
    task "t" {{
      driver = "docker"
      config {{ image = "agent" }}
      resources {{
        cpu    = 500
        memory = 256
      }}
    }}
  }}
}}
"#
    )
}

/// A cluster of two nodes filled by a priority-20 service job.
fn full_cluster(seed: u64) -> Simulation {
    let mut sim = Simulation::new(nodes(2), seed, NOW).expect("nodes register");
    let outcome = register(&mut sim, &filler("low", "service", 20, 8));
    assert!(outcome.result.failures.is_empty(), "the filler fits");
    sim
}

fn live(sim: &Simulation, job: &str) -> Vec<Allocation> {
    sim.state()
        .view()
        .allocs_by_job("default", &job.into())
        .filter(|a| !a.is_terminal())
        .cloned()
        .collect()
}

/// Every node's live allocations fit it together.
fn assert_no_overcommit(sim: &Simulation) {
    let state = sim.state().view();
    for node in state.nodes() {
        let live: Vec<&Allocation> = state
            .allocs_by_node(&node.id)
            .filter(|a| !a.is_terminal())
            .collect();
        allocs_fit(node, &live)
            .unwrap_or_else(|e| panic!("node {} over-committed: {e}", node.name));
    }
}

fn enable_service_preemption(sim: &mut Simulation) {
    let index = sim.state().index() + 1;
    let mut config = SchedulerConfiguration::default();
    config.preemption_config.service_scheduler_enabled = true;
    sim.state_mut()
        .set_scheduler_config(index, config)
        .expect("config");
}

#[test]
fn a_system_job_evicts_exactly_what_it_needs() {
    let mut sim = full_cluster(1);
    let outcome = register(&mut sim, &agent(80));
    let result = &outcome.result;
    assert!(result.failures.is_empty(), "{:?}", result.failures);
    assert!(outcome.plan_result.is_full_commit());

    // One priority-20 allocation per node goes: it frees 1000 MHz and
    // 2 GiB, and 500 MHz and 256 MiB were short.
    let plan = &result.plan;
    assert_eq!(plan.node_preemptions.len(), 2);
    let placed: BTreeMap<&NodeId, &Allocation> = plan
        .placements()
        .map(|alloc| (&alloc.node_id, alloc))
        .collect();
    assert_eq!(placed.len(), 2);
    for (node_id, victims) in &plan.node_preemptions {
        assert_eq!(victims.len(), 1, "one victim on {node_id:?}");
        let victim = &victims[0];
        let new = placed[node_id];
        assert_eq!(victim.job_id.as_str(), "low");
        assert_eq!(victim.desired_status, AllocDesiredStatus::Evict);
        assert_eq!(victim.preempted_by_allocation, new.id);
        assert_eq!(
            victim.desired_description,
            format!(
                "Preempted by alloc ID {} of job \"agent\": priority 20 is at least 10 below 80; \
                 frees cpu 1000 MHz, memory 2048 MiB",
                new.id.as_str()
            )
        );
        assert_eq!(new.preempted_allocations, vec![victim.id.clone()]);
        let scores = &new.metrics.score_meta_data[0].scores;
        assert!(scores.contains_key("preemption"), "{scores:?}");
    }
    let updates = &plan
        .annotations
        .as_ref()
        .expect("annotations")
        .desired_tg_updates;
    assert_eq!(updates["a"].preemptions, 2);

    // Applied: the victims are evicted, the agent runs, nothing is
    // over-committed.
    assert_eq!(live(&sim, "low").len(), 6);
    assert_eq!(live(&sim, "agent").len(), 2);
    assert_no_overcommit(&sim);
    for victims in plan.node_preemptions.values() {
        let stored = sim.state().view().alloc(&victims[0].id).expect("kept");
        assert_eq!(stored.desired_status, AllocDesiredStatus::Evict);
    }
}

#[test]
fn the_plan_check_accepts_preemptions_against_the_snapshot() {
    let sim = full_cluster(2);
    let mut state = sim.state().clone();
    let index = state.index() + 1;
    state.upsert_job(index, job(&agent(80))).expect("job");
    let stored = state
        .view()
        .job("default", &"agent".into())
        .cloned()
        .expect("job");
    let mut sim_eval = Simulation::new(Vec::new(), 2, NOW).expect("empty");
    let eval = sim_eval.evaluation(&stored, scheduler_core::model::EvalTrigger::JobRegister);
    let snapshot = state.snapshot();
    let env = scheduler_core::scheduler::SchedulerEnv { now: NOW, seed: 2 };
    let result = scheduler_core::scheduler::schedule(&snapshot, &eval, &env);
    assert!(!result.plan.node_preemptions.is_empty());

    let checked = check_plan(state.view(), &result.plan);
    assert!(checked.is_full_commit());
    assert_eq!(checked.node_preemptions, result.plan.node_preemptions);
    // Without its preemptions the same placements do not fit.
    let mut without = result.plan.clone();
    without.node_preemptions.clear();
    assert!(!check_plan(state.view(), &without).is_full_commit());

    let index = state.index() + 1;
    apply_plan(&mut state, index, &checked).expect("applies");
    let view = state.view();
    for node in view.nodes() {
        let live: Vec<&Allocation> = view
            .allocs_by_node(&node.id)
            .filter(|a| !a.is_terminal())
            .collect();
        allocs_fit(node, &live).expect("not over-committed");
    }
}

#[test]
fn the_same_inputs_evict_the_same_allocations() {
    let run = || {
        let mut sim = full_cluster(5);
        let outcome = register(&mut sim, &agent(80));
        serde_json::to_string(&outcome.result).expect("serialises")
    };
    assert_eq!(run(), run());
}

#[test]
fn a_priority_within_ten_never_evicts() {
    let mut sim = full_cluster(3);
    let outcome = register(&mut sim, &agent(29));
    assert!(outcome.result.plan.node_preemptions.is_empty());
    assert_eq!(outcome.result.failures.len(), 1);
    assert_eq!(outcome.result.failures[0].unplaced, 2);
    assert_eq!(live(&sim, "low").len(), 8);
}

#[test]
fn system_preemption_can_be_turned_off() {
    let mut sim = full_cluster(4);
    let index = sim.state().index() + 1;
    let mut config = SchedulerConfiguration::default();
    config.preemption_config.system_scheduler_enabled = false;
    sim.state_mut()
        .set_scheduler_config(index, config)
        .expect("config");
    let outcome = register(&mut sim, &agent(80));
    assert!(outcome.result.plan.node_preemptions.is_empty());
    assert_eq!(outcome.result.failures[0].unplaced, 2);
}

#[test]
fn lower_priorities_go_before_higher_ones() {
    // Node n0 holds priority-20 work, n1 priority-40 work: the service
    // job's placement evicts on n0, and only what it needs.
    let mut sim = Simulation::new(nodes(2), 9, NOW).expect("nodes");
    let outcome = register(&mut sim, &filler("low", "service", 20, 8));
    assert!(outcome.result.failures.is_empty());
    let n1 = sim
        .state()
        .view()
        .nodes()
        .find(|n| n.name == "n1")
        .expect("n1")
        .id
        .clone();
    // Give n1's allocations a higher-priority job by moving them to a
    // priority-40 job.
    let index = sim.state().index() + 1;
    let mid = job(&filler("mid", "service", 40, 0));
    sim.state_mut().upsert_job(index, mid.clone()).expect("job");
    let moved: Vec<Allocation> = live(&sim, "low")
        .into_iter()
        .filter(|a| a.node_id == n1)
        .map(|mut a| {
            a.job_id = mid.id.clone();
            a.job = Some(std::sync::Arc::new(mid.clone()));
            a
        })
        .collect();
    assert_eq!(moved.len(), 4);
    let index = sim.state().index() + 1;
    sim.state_mut().upsert_allocs(index, moved).expect("moved");

    let (plan, preempted) = place_by_hand(&sim, &filler("high", "service", 70, 1), true);
    assert_eq!(preempted.len(), 1);
    let victim = &plan
        .node_preemptions
        .values()
        .flatten()
        .next()
        .expect("one")
        .clone();
    assert_eq!(victim.job_id.as_str(), "low");
    assert_ne!(victim.node_id, n1);
}

/// Places one allocation of `source`'s first group the way the generic
/// scheduler does, following the protocol documented in `preempt`:
/// select, build the allocation, `preempt::apply`. Returns the plan and
/// the ids of the victims.
fn place_by_hand(sim: &Simulation, source: &str, preemption: bool) -> (Plan, Vec<AllocId>) {
    let snapshot = sim.state().snapshot();
    let job = job(source);
    let group = &job.task_groups[0];
    let mut proposed = Proposed::new(&snapshot, &job);
    let mut placer = GroupPlacer::new(
        &snapshot,
        &job,
        group,
        &proposed,
        SchedulerAlgorithm::Binpack,
        snapshot.node_count(),
    );
    placer.set_preemption(preemption);
    let mut order = ShuffledNodes::new(&snapshot, ChaCha8Rng::seed_from_u64(1), 16);
    let mut ports = ChaCha8Rng::seed_from_u64(2);
    let mut metric = AllocMetric::default();
    let mut plan = Plan::default();
    let Some(choice) = placer.select(
        &mut order,
        &mut proposed,
        &BTreeSet::new(),
        &mut ports,
        &mut metric,
    ) else {
        return (plan, Vec::new());
    };
    let mut alloc = Allocation {
        id: AllocId::new("new"),
        node_id: choice.node.id.clone(),
        job_id: job.id.clone(),
        task_group: group.name.clone(),
        ..Allocation::default()
    };
    preempt::apply(&choice, &mut alloc, &job, &mut proposed, &mut plan, NOW);
    proposed.place(&alloc);
    let preempted = alloc.preempted_allocations.clone();
    plan.push_placement(alloc);
    (plan, preempted)
}

#[test]
fn a_group_placer_without_preemption_finds_nothing() {
    let sim = full_cluster(6);
    let (plan, preempted) = place_by_hand(&sim, &filler("high", "service", 70, 1), false);
    assert!(plan.is_no_op());
    assert!(preempted.is_empty());
}

#[test]
fn a_service_job_blocks_when_service_preemption_is_off() {
    let mut sim = full_cluster(7);
    let outcome = register(&mut sim, &filler("high", "service", 70, 2));
    assert!(outcome.result.plan.node_preemptions.is_empty());
    assert_eq!(outcome.result.failures[0].unplaced, 2);
    assert_eq!(
        outcome.result.created_evals.len(),
        1,
        "a blocked evaluation"
    );
    assert_eq!(live(&sim, "low").len(), 8);
}

#[test]
fn a_service_job_evicts_when_service_preemption_is_on() {
    let mut sim = full_cluster(8);
    enable_service_preemption(&mut sim);
    let outcome = register(&mut sim, &filler("high", "service", 70, 2));
    let result = &outcome.result;
    assert!(result.failures.is_empty(), "{:?}", result.failures);
    assert!(outcome.plan_result.is_full_commit());
    let victims: Vec<&Allocation> = result.plan.node_preemptions.values().flatten().collect();
    assert_eq!(victims.len(), 2, "one 1000 MHz victim per placement");
    let new_ids: BTreeSet<&AllocId> = result.plan.placements().map(|a| &a.id).collect();
    for victim in &victims {
        assert!(new_ids.contains(&victim.preempted_by_allocation));
        assert!(
            victim
                .desired_description
                .contains("priority 20 is at least 10 below 70"),
            "{}",
            victim.desired_description
        );
    }
    assert_eq!(live(&sim, "low").len(), 6);
    assert_eq!(live(&sim, "high").len(), 2);
    assert_no_overcommit(&sim);
}

#[test]
fn a_service_placement_following_the_protocol_evicts_once_per_victim() {
    let mut sim = full_cluster(8);
    enable_service_preemption(&mut sim);
    let snapshot = sim.state().snapshot();
    let high = job(&filler("high", "service", 70, 3));
    let group = &high.task_groups[0];
    let mut proposed = Proposed::new(&snapshot, &high);
    let mut placer = GroupPlacer::new(
        &snapshot,
        &high,
        group,
        &proposed,
        SchedulerAlgorithm::Binpack,
        snapshot.node_count(),
    );
    assert!(placer.preemption(), "read from the configuration");
    let mut order = ShuffledNodes::new(&snapshot, ChaCha8Rng::seed_from_u64(1), 16);
    let mut ports = ChaCha8Rng::seed_from_u64(2);
    let mut plan = Plan::default();
    for i in 0..3 {
        let mut metric = AllocMetric::default();
        let choice = placer
            .select(
                &mut order,
                &mut proposed,
                &BTreeSet::new(),
                &mut ports,
                &mut metric,
            )
            .expect("placed by preempting");
        assert_eq!(choice.preempted.len(), 1);
        let mut alloc = Allocation {
            id: AllocId::new(format!("new-{i}")),
            node_id: choice.node.id.clone(),
            job_id: high.id.clone(),
            task_group: group.name.clone(),
            allocated_resources: choice.preempted[0].alloc.allocated_resources.clone(),
            ..Allocation::default()
        };
        preempt::apply(&choice, &mut alloc, &high, &mut proposed, &mut plan, NOW);
        placer.record(choice.node);
        proposed.place(&alloc);
        plan.push_placement(alloc);
    }
    let victims: BTreeSet<&AllocId> = plan
        .node_preemptions
        .values()
        .flatten()
        .map(|a| &a.id)
        .collect();
    assert_eq!(victims.len(), 3, "never the same victim twice");
    let checked = check_plan(sim.state().view(), &plan);
    assert!(checked.is_full_commit());
}
