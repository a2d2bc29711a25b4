//! Helpers shared by the placement tests: nodes, jobs from HCL, a
//! simulation, and what it placed.

#![allow(dead_code, unused_imports)]

pub use std::collections::{BTreeMap, BTreeSet};

pub use scheduler_core::feasibility::fit::NodeUsage;
pub use scheduler_core::jobspec::{ParseOptions, parse};
pub use scheduler_core::model::{
    AllocClientStatus, Allocation, DrainStrategy, Job, MHz, MiB, Node, NodeDevice,
    NodeDeviceResource, NodeStatus, SchedulingEligibility,
};
pub use scheduler_core::plan::allocs_fit;
pub use scheduler_core::scheduler::{SchedulerAlgorithm, SchedulerConfiguration, why_not};
pub use scheduler_core::simulate::{JobOutcome, NodeBuilder, Simulation};
pub use scheduler_core::state::StateSnapshot;

pub const NOW: i64 = 1_764_000_000_000_000_000;

/// A ready node with docker and exec, 4000 MHz, 8 GiB, 100 GB disk.
pub fn node(name: &str) -> Node {
    let position = usize::try_from(fnv(name) % 60_000).expect("small");
    NodeBuilder::new(name, position)
        .without_driver("raw_exec")
        .build()
}

pub fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3) & 0xffff_ffff_ffff
    })
}

pub fn finish(mut nodes: Vec<Node>) -> Vec<Node> {
    for node in &mut nodes {
        node.compute_class();
    }
    nodes
}

pub fn nodes(count: usize, prefix: &str) -> Vec<Node> {
    (0..count).map(|i| node(&format!("{prefix}-{i}"))).collect()
}

pub fn job(source: &str) -> Job {
    parse(source, &ParseOptions::new("test.nomad.hcl"))
        .unwrap_or_else(|e| panic!("job does not parse: {e}"))
        .job
}

pub fn simulate(nodes: Vec<Node>, seed: u64) -> Simulation {
    Simulation::new(finish(nodes), seed, NOW).expect("nodes register")
}

pub fn register(sim: &mut Simulation, source: &str) -> JobOutcome {
    sim.register(job(source)).expect("job registers").clone()
}

/// Live allocations of a job, by node name.
pub fn placements(sim: &Simulation, job: &str) -> BTreeMap<String, Vec<Allocation>> {
    let state = sim.state().view();
    let mut out: BTreeMap<String, Vec<Allocation>> = BTreeMap::new();
    for alloc in state.allocs_by_job("default", &job.into()) {
        if !alloc.is_terminal() {
            out.entry(alloc.node_name.clone())
                .or_default()
                .push(alloc.clone());
        }
    }
    out
}

pub fn placed_count(sim: &Simulation, job: &str) -> usize {
    placements(sim, job).values().map(Vec::len).sum()
}

/// Every node's live allocations fit it together.
pub fn assert_no_overcommit(sim: &Simulation) {
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

pub const WEB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  group "api" {
    count = 6
    network {
      port "http" {}
    }
    task "server" {
      driver = "docker"
      config { image = "nginx" }
      resources {
        cpu    = 500
        memory = 1024
      }
    }
  }
}
"#;
