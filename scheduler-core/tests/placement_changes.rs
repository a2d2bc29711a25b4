//! Placements changing over time as a user meets them: scale-down, a
//! failed allocation replaced, lost and draining nodes, and the plan check
//! refusing a node that filled up meanwhile.

#[path = "placement/common.rs"]
mod common;

#[allow(unused_imports)]
use common::*;

#[test]
fn scale_down_stops_the_highest_indexes_and_stop_stops_all() {
    let mut sim = simulate(nodes(3, "n"), 6);
    register(&mut sim, WEB);
    let outcome = register(&mut sim, &WEB.replace("count = 6", "count = 2"));
    let mut stopped: Vec<String> = outcome
        .result
        .plan
        .stops()
        .map(|a| a.name.clone())
        .collect();
    stopped.sort();
    assert_eq!(
        stopped,
        ["web.api[2]", "web.api[3]", "web.api[4]", "web.api[5]"]
    );
    let mut left: Vec<String> = placements(&sim, "web")
        .values()
        .flatten()
        .map(|a| a.name.clone())
        .collect();
    left.sort();
    assert_eq!(left, ["web.api[0]", "web.api[1]"]);

    let mut stopped_job = job(WEB);
    stopped_job.stop = true;
    sim.register(stopped_job).expect("registers");
    assert_eq!(placed_count(&sim, "web"), 0);
}

#[test]
fn a_failed_allocation_is_replaced_away_from_its_node() {
    let mut sim = simulate(nodes(3, "n"), 12);
    register(&mut sim, &WEB.replace("count = 6", "count = 1"));
    let first = placements(&sim, "web")
        .into_values()
        .flatten()
        .next()
        .expect("placed");
    let mut failed = first.clone();
    failed.client_status = AllocClientStatus::Failed;
    // It failed a minute ago: the service default's 30 s delay is over.
    failed.task_states.insert(
        "server".to_owned(),
        scheduler_core::model::TaskState {
            failed: true,
            finished_at: scheduler_core::model::timestamp::format_rfc3339_nanos(
                NOW - 60_000_000_000,
            ),
            ..Default::default()
        },
    );
    let index = sim.state().index() + 1;
    sim.state_mut()
        .update_allocs_from_client(index, vec![failed])
        .expect("client update");
    let outcome = register(
        &mut sim,
        &WEB.replace("count = 6", "count = 1")
            .replace("nginx", "nginx:2"),
    );
    let replacement = outcome
        .result
        .plan
        .new_allocations()
        .next()
        .expect("replaced");
    assert_eq!(replacement.name, "web.api[0]");
    let scores = &replacement.metrics.score_meta_data;
    let penalized = scores
        .iter()
        .find(|s| s.node_id == first.node_id)
        .map(|s| s.scores.contains_key("node-reschedule-penalty"));
    assert_ne!(replacement.node_id, first.node_id);
    assert_ne!(penalized, Some(false));
}

#[test]
fn plan_check_rejects_a_node_that_filled_up_meanwhile() {
    let mut sim = simulate(nodes(1, "n"), 1);
    let source = r#"
job "big" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      resources { memory = 6000 }
    }
  }
}
"#;
    let first = job(source);
    let mut second = job(&source.replace("\"big\"", "\"big2\""));
    second.id = "big2".into();
    // Both evaluations are scheduled against the same snapshot ...
    let state = sim.state_mut();
    state.upsert_job(10, first.clone()).expect("job");
    state.upsert_job(10, second.clone()).expect("job");
    let snapshot = state.snapshot();
    let env = scheduler_core::scheduler::SchedulerEnv { now: NOW, seed: 1 };
    let mut evals = Vec::new();
    for (i, job) in [&first, &second].into_iter().enumerate() {
        evals.push(scheduler_core::model::Evaluation {
            id: format!("00000000-0000-4000-8000-00000000000{i}")
                .as_str()
                .into(),
            namespace: "default".into(),
            job_id: job.id.clone(),
            eval_type: "service".into(),
            ..Default::default()
        });
    }
    let results: Vec<_> = evals
        .iter()
        .map(|eval| scheduler_core::scheduler::schedule(&snapshot, eval, &env))
        .collect();
    assert!(results.iter().all(|r| r.failures.is_empty()));
    // ... and the second plan no longer fits once the first is applied.
    let accepted = scheduler_core::plan::check_plan(state.view(), &results[0].plan);
    assert!(accepted.is_full_commit());
    scheduler_core::plan::apply_plan(state, 11, &accepted).expect("apply");
    let refused = scheduler_core::plan::check_plan(state.view(), &results[1].plan);
    assert_eq!(refused.rejected.len(), 1);
    assert!(
        refused
            .rejected
            .values()
            .next()
            .expect("reason")
            .contains("memory")
    );
    assert_eq!(refused.refresh_index, 11);
    let usage = NodeUsage::of(
        state.view().nodes().next().expect("node"),
        state
            .view()
            .allocs_by_node(&state.view().nodes().next().expect("node").id),
    );
    assert_eq!(usage.memory, MiB(6000));
}

#[test]
fn allocations_on_a_down_node_are_lost_and_replaced_and_a_drain_migrates() {
    let mut sim = simulate(nodes(4, "n"), 31);
    let source = WEB.replace("count = 6", "count = 2");
    register(&mut sim, &source);
    let before = placements(&sim, "web");
    let (down_name, down_allocs) = before.iter().next().expect("placed");
    let down_id = down_allocs[0].node_id.clone();

    // The node stops heartbeating; the next evaluation replaces its work.
    let mut down = sim.state().view().node(&down_id).expect("node").clone();
    down.status = NodeStatus::Down;
    let index = sim.state().index() + 1;
    sim.state_mut()
        .upsert_node(index, down)
        .expect("node update");
    let outcome = register(&mut sim, &source);
    let lost: Vec<&Allocation> = outcome.result.plan.stops().collect();
    assert_eq!(lost.len(), down_allocs.len());
    for alloc in &lost {
        assert_eq!(alloc.client_status, AllocClientStatus::Lost);
        assert_eq!(
            alloc.desired_description,
            "alloc is lost since its node is down"
        );
    }
    let replacements: Vec<&Allocation> = outcome.result.plan.new_allocations().collect();
    assert_eq!(replacements.len(), down_allocs.len());
    for alloc in &replacements {
        assert_ne!(alloc.node_id, down_id);
        assert!(
            lost.iter()
                .any(|l| l.id == alloc.previous_allocation && l.name == alloc.name)
        );
    }
    let after = placements(&sim, "web");
    assert!(!after.contains_key(down_name.as_str()));
    assert_eq!(after.values().map(Vec::len).sum::<usize>(), 2);

    // Draining a node migrates what runs there.
    let (drained_name, drained_allocs) = after.iter().next().expect("placed");
    let drained_id = drained_allocs[0].node_id.clone();
    let mut drained = sim.state().view().node(&drained_id).expect("node").clone();
    drained.drain_strategy = Some(DrainStrategy::default());
    let index = sim.state().index() + 1;
    sim.state_mut()
        .upsert_node(index, drained)
        .expect("node update");
    let mut marked: Vec<Allocation> = drained_allocs.clone();
    for alloc in &mut marked {
        alloc.desired_transition.migrate = Some(true);
    }
    let index = sim.state().index() + 1;
    sim.state_mut().upsert_allocs(index, marked).expect("mark");
    let outcome = register(&mut sim, &source);
    assert!(
        outcome
            .result
            .plan
            .stops()
            .all(|a| a.desired_description == "alloc is being migrated")
    );
    let final_placements = placements(&sim, "web");
    assert!(!final_placements.contains_key(drained_name.as_str()));
    assert_eq!(final_placements.values().map(Vec::len).sum::<usize>(), 2);
    assert_no_overcommit(&sim);
}

/// Regression: stopping a group's allocations frees their nodes for the
/// job's `distinct_hosts` within the same evaluation.
#[test]
fn allocations_stopped_in_an_evaluation_free_their_hosts_for_distinct_hosts() {
    let mut sim = simulate(nodes(2, "n"), 3);
    let spec = |old: u32, new: u32| {
        format!(
            r#"job "pair" {{
  datacenters = ["dc1"]
  constraint {{
    operator = "distinct_hosts"
    value    = "true"
  }}
  group "old" {{
    count = {old}
    task "t" {{
      driver = "docker"
      config {{ image = "a" }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
  group "new" {{
    count = {new}
    task "t" {{
      driver = "docker"
      config {{ image = "a" }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}
"#
        )
    };
    register(&mut sim, &spec(2, 0));
    assert_eq!(placed_count(&sim, "pair"), 2);
    let outcome = register(&mut sim, &spec(0, 2));
    assert!(
        outcome.result.failures.is_empty(),
        "{:?}",
        outcome.result.failures
    );
    assert_eq!(outcome.result.plan.new_allocations().count(), 2);
    assert_eq!(outcome.result.plan.stops().count(), 2);
}

/// Jobs arriving one by one under binpack fill the nodes already in use
/// before opening empty ones (best fit through the store's free-capacity
/// indexes), instead of scattering over whichever nodes a random sample of
/// a mostly empty cluster offers.
#[test]
fn binpack_fills_used_nodes_before_opening_empty_ones() {
    let mut sim = simulate(nodes(64, "n"), 9);
    for i in 0..24 {
        let source = WEB
            .replace("job \"web\"", &format!("job \"small-{i:02}\""))
            .replace("count = 6", "count = 1")
            .replace("cpu    = 500", "cpu    = 1300")
            .replace("memory = 1024", "memory = 512");
        let outcome = register(&mut sim, &source);
        assert!(outcome.result.failures.is_empty(), "{i}");
    }
    assert_no_overcommit(&sim);
    let view = sim.state().view();
    let used = view
        .nodes()
        .filter(|node| view.allocs_by_node(&node.id).any(|a| !a.is_terminal()))
        .count();
    // 24 x 1,300 MHz on nodes of 4,000 MHz: three per node, eight nodes
    // at best; a sample of ~6 nodes out of 64 per placement would open a
    // new node for most of them.
    assert!(used <= 9, "{used} nodes used for 24 allocations");
}

/// A plan that lists one placement twice (the same id, on the same node)
/// leaves one allocation, counted once in its node's usage: the second
/// copy updates the first instead of being added again.
#[test]
fn a_placement_listed_twice_in_a_plan_is_stored_once() {
    let mut sim = simulate(nodes(1, "n"), 1);
    let state = sim.state_mut();
    let node = state.view().nodes().next().expect("node").clone();
    let placed = scheduler_core::model::Allocation {
        id: "0c8a5d2e-0000-4000-8000-000000000001".into(),
        namespace: "default".into(),
        name: "web.api[0]".into(),
        node_id: node.id.clone(),
        job_id: "web".into(),
        task_group: "api".into(),
        allocated_resources: scheduler_core::model::AllocatedResources {
            shared: scheduler_core::model::AllocatedSharedResources {
                disk_mb: MiB(500),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let mut again = placed.clone();
    again.desired_description = "listed again".into();
    let result = scheduler_core::plan::PlanResult {
        node_allocation: [(node.id.clone(), vec![placed, again])].into(),
        ..Default::default()
    };
    let index = state.index() + 1;
    scheduler_core::plan::apply_plan(state, index, &result).expect("applies");
    let view = state.view();
    let on_node: Vec<_> = view.allocs_by_node(&node.id).collect();
    assert_eq!(on_node.len(), 1);
    assert_eq!(on_node[0].desired_description, "listed again");
    assert_eq!(on_node[0].create_index, index);
    assert_eq!(view.allocs().count(), 1);
    assert_eq!(view.node_usage(&node).disk, MiB(500));
}

#[test]
fn a_plan_in_flight_counts_as_held_for_the_next_evaluation() {
    use scheduler_core::state::{PendingUsage, WithPending};

    let mut sim = simulate(nodes(4, "n"), 3);
    // One busy node: binpack's best fit heads there first.
    register(&mut sim, &sized_job("seed", 2000));
    let busy = placements(&sim, "seed")
        .into_keys()
        .next()
        .expect("seed placed");
    let first = job(&sized_job("first", 5000));
    let second = job(&sized_job("second", 5000));
    let state = sim.state_mut();
    state.upsert_job(10, first.clone()).expect("job");
    state.upsert_job(10, second.clone()).expect("job");
    let snapshot = state.snapshot();
    let env = scheduler_core::scheduler::SchedulerEnv { now: NOW, seed: 1 };
    let eval = |i: usize, job: &Job| scheduler_core::model::Evaluation {
        id: format!("00000000-0000-4000-8000-00000000001{i}")
            .as_str()
            .into(),
        namespace: "default".into(),
        job_id: job.id.clone(),
        eval_type: "service".into(),
        ..Default::default()
    };
    let node_name = |plan: &scheduler_core::scheduler::Plan| -> String {
        let node = plan.node_allocation.keys().next().expect("placed");
        snapshot.node(node).expect("node").name.clone()
    };
    let first_result = scheduler_core::scheduler::schedule(&snapshot, &eval(0, &first), &env);
    assert_eq!(node_name(&first_result.plan), busy);
    // Scheduled on the same snapshot, the second evaluation wants the same
    // node: the two plans collide ...
    let blind = scheduler_core::scheduler::schedule(&snapshot, &eval(1, &second), &env);
    assert_eq!(node_name(&blind.plan), busy);
    // ... unless the first plan's placements count as held.
    let pending = PendingUsage::of_plan(&first_result.plan);
    let seeing = scheduler_core::scheduler::schedule(
        &WithPending::new(&snapshot, &pending),
        &eval(1, &second),
        &env,
    );
    assert!(seeing.failures.is_empty());
    assert_ne!(node_name(&seeing.plan), busy);
    let accepted = scheduler_core::plan::check_plan(state.view(), &first_result.plan);
    assert!(accepted.is_full_commit());
    scheduler_core::plan::apply_plan(state, 11, &accepted).expect("apply");
    assert!(!scheduler_core::plan::check_plan(state.view(), &blind.plan).is_full_commit());
    assert!(scheduler_core::plan::check_plan(state.view(), &seeing.plan).is_full_commit());
}

/// A service job of one allocation holding `memory` MiB.
fn sized_job(name: &str, memory: u32) -> String {
    format!(
        r#"
job "{name}" {{
  datacenters = ["dc1"]
  group "g" {{
    task "t" {{
      driver = "exec"
      resources {{ memory = {memory} }}
    }}
  }}
}}
"#
    )
}
