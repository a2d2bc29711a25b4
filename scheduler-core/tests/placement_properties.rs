//! Placement invariants over random clusters and jobs.
//!
//! Each case builds a cluster of 1–40 nodes (varying sizes, attributes,
//! meta, drivers, dynamic port ranges; some down, ineligible, draining, in
//! another datacenter or node pool) and registers 1–4 generated jobs
//! (service, batch, system, sysbatch; 1–3 groups with constraints,
//! distinct rules, ports, spreads and affinities) through a [`Simulation`],
//! sometimes followed by a re-registration of the first job with new
//! counts. After every registration the invariants below are checked
//! against the applied state. A failure names the node, allocation and rule
//! broken; proptest then shrinks the scenario.
//!
//! `PROPTEST_CASES` overrides the number of cases (64 by default).

#[path = "placement_properties/checks.rs"]
mod checks;
#[path = "placement_properties/generators.rs"]
mod generators;
#[path = "placement_properties/render.rs"]
mod render;
#[path = "placement_properties/run.rs"]
mod run;

use proptest::prelude::*;
use scheduler_core::model::Node;
use scheduler_core::simulate::Simulation;

use crate::checks::{
    constraints_hold, counts_respected, distinct_rules_hold, no_overcommit, no_port_collision,
    plan_fully_accepted, system_coverage, why_not_agrees,
};
use crate::generators::{NodeSpec, NodeState, scenario};
use crate::render::{build_node, parse_job};
use crate::run::{NOW, live_allocs_of_job, run_scenario};

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads PROPTEST_CASES; keep 64 otherwise.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        // The cases that fail are reproduced by explicit tests below; no
        // regression file is written next to this one.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_node_is_overcommitted(scenario in scenario()) {
        run_scenario(&scenario, no_overcommit)?;
    }

    #[test]
    fn no_host_port_collides(scenario in scenario()) {
        run_scenario(&scenario, no_port_collision)?;
    }

    #[test]
    fn every_constraint_holds_on_every_placement(scenario in scenario()) {
        run_scenario(&scenario, constraints_hold)?;
    }

    #[test]
    fn distinct_hosts_and_distinct_property_hold(scenario in scenario()) {
        run_scenario(&scenario, distinct_rules_hold)?;
    }

    #[test]
    fn counts_are_never_exceeded(scenario in scenario()) {
        run_scenario(&scenario, counts_respected)?;
    }

    #[test]
    fn system_jobs_cover_every_feasible_node_once(scenario in scenario()) {
        run_scenario(&scenario, system_coverage)?;
    }

    #[test]
    fn same_inputs_same_results(scenario in scenario()) {
        let first = run_scenario(&scenario, |_| Ok(()))?;
        let second = run_scenario(&scenario, |_| Ok(()))?;
        prop_assert_eq!(first.len(), second.len());
        for (i, (a, b)) in first.iter().zip(&second).enumerate() {
            prop_assert!(a == b, "registration {} differs between two identical runs", i);
        }
    }

    #[test]
    fn fresh_plans_are_fully_accepted(scenario in scenario()) {
        run_scenario(&scenario, plan_fully_accepted)?;
    }

    #[test]
    fn why_not_agrees_with_placement_failures(scenario in scenario()) {
        run_scenario(&scenario, why_not_agrees)?;
    }
}

/// System jobs count what one evaluation places against
/// `distinct_property` (found by `distinct_hosts_and_distinct_property_hold`
/// when system placements did not update the counts).
#[test]
fn system_job_distinct_property_is_enforced_within_one_evaluation() {
    let spec = NodeSpec {
        cpu: 4000,
        memory: 4096,
        disk: 100_000,
        kernel: "linux",
        os_version: "2.0.1",
        features: "sse",
        rack: Some(1),
        zone: "a",
        class: "",
        drivers: vec![("exec", true)],
        state: NodeState::Ready,
        reserve_ports: false,
        reserve_resources: false,
        dynamic_ports: 12_000,
    };
    let nodes: Vec<Node> = (0..3).map(|i| build_node(i, &spec)).collect();
    let mut sim = Simulation::new(nodes, 1, NOW).expect("nodes register");
    let source = r#"
job "agent" {
  type = "system"
  datacenters = ["dc1"]
  group "g" {
    constraint {
      operator  = "distinct_property"
      attribute = "${meta.rack}"
      value     = "1"
    }
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
      resources { memory = 64 }
    }
  }
}
"#;
    let job = parse_job(source).expect("parses");
    sim.register(job.clone()).expect("registers");
    let live = live_allocs_of_job(sim.state().view(), &job);
    let nodes: Vec<&str> = live.iter().map(|a| a.node_name.as_str()).collect();
    // Every node has meta.rack = "1" and the limit is 1: one allocation.
    assert_eq!(
        live.len(),
        1,
        "distinct_property ${{meta.rack}} 1 allows one allocation on rack 1, got {nodes:?}"
    );
}
