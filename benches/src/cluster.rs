//! Deterministic clusters and jobs for the placement benches.
//!
//! Nodes come in four shapes (4,000 MHz / 8 GiB up to 16,000 MHz / 64 GiB),
//! two operating systems and [`RACKS`] racks (`meta.rack`), with a handful
//! of node classes, so computed classes repeat (4 x 2 x 25 = 200 classes
//! whatever the cluster size) and the per-class feasibility memo works as it
//! would on a real fleet. Everything is a pure function of the node's index.

use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{EvalId, EvalStatus, EvalTrigger, Evaluation, Job, Namespace, Node};
use scheduler_core::plan::{check_owned_plan, commit_plan};
use scheduler_core::scheduler::{
    SchedulerAlgorithm, SchedulerConfiguration, SchedulerEnv, SchedulerResult, schedule,
};
use scheduler_core::simulate::{NodeBuilder, Simulation};
use scheduler_core::state::{MemorySnapshot, MemoryState, StateSnapshot};
use std::fmt::Write as _;

/// Number of racks (`meta.rack` = `r00` .. `r24`).
pub const RACKS: usize = 25;

/// The time every bench schedules at (Unix nanoseconds).
pub const NOW: i64 = 1_764_000_000_000_000_000;

/// The seed every bench schedules with.
pub const SEED: u64 = 42;

/// The environment every bench schedules in.
pub fn env() -> SchedulerEnv {
    SchedulerEnv {
        now: NOW,
        seed: SEED,
    }
}

/// Node shapes: class name, MHz, cores, MiB.
const SHAPES: [(&str, i64, u16, i64); 4] = [
    ("small", 4_000, 4, 8_192),
    ("medium", 8_000, 8, 16_384),
    ("large", 12_000, 12, 32_768),
    ("xlarge", 16_000, 16, 65_536),
];

/// Operating systems, alternating in blocks of four nodes so every shape
/// appears with both.
const OSES: [&str; 2] = ["ubuntu", "debian"];

/// The shape of a generated cluster: how many racks (`meta.rack`) and
/// datacenters (`dc1` .. `dcN`) its nodes are spread over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Racks, `r00` upwards; consecutive blocks of eight nodes share one.
    pub racks: usize,
    /// Datacenters, `dc1` upwards; node `i` is in `dc{i % datacenters + 1}`.
    pub datacenters: usize,
}

impl Default for Layout {
    /// [`RACKS`] racks in one datacenter, `dc1`.
    fn default() -> Self {
        Layout {
            racks: RACKS,
            datacenters: 1,
        }
    }
}

/// Node `index` of a cluster: ready, in `dc1`, pool `default`, with docker
/// and exec, a shape, an OS, a rack and its computed class.
pub fn node(index: usize) -> Node {
    node_in(index, Layout::default())
}

/// Node `index` of a cluster laid out as `layout`: as [`node`], with the
/// rack and datacenter taken from the layout.
pub fn node_in(index: usize, layout: Layout) -> Node {
    let (class, mhz, cores, mib) = SHAPES[index % SHAPES.len()];
    let os = OSES[(index / SHAPES.len()) % OSES.len()];
    let rack = format!(
        "r{:02}",
        (index / (SHAPES.len() * OSES.len())) % layout.racks.max(1)
    );
    let datacenter = format!("dc{}", index % layout.datacenters.max(1) + 1);
    NodeBuilder::new(&format!("node-{index:06}"), index)
        .datacenter(&datacenter)
        .class(class)
        .cpu(mhz)
        .cores(cores)
        .memory(mib)
        .disk(200_000)
        .network_mbits(10_000)
        .reserved(100, 256)
        .without_driver("raw_exec")
        .attribute("kernel.version", "6.1.0")
        .attribute("os.name", os)
        .attribute("os.version", if os == "ubuntu" { "24.04" } else { "12" })
        .attribute("cpu.arch", "amd64")
        .attribute("cpu.numcores", &cores.to_string())
        .meta("rack", &rack)
        .build()
}

/// `count` nodes laid out as `layout`, indexes `0..count`.
pub fn nodes_in(count: usize, layout: Layout) -> Vec<Node> {
    (0..count).map(|i| node_in(i, layout)).collect()
}

/// `count` nodes, indexes `0..count`.
pub fn nodes(count: usize) -> Vec<Node> {
    (0..count).map(node).collect()
}

/// A service job with one group of one docker task.
#[derive(Debug, Clone)]
pub struct ServiceJob {
    /// Job id.
    pub name: String,
    /// The group's count.
    pub count: u32,
    /// CPU in MHz.
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
    /// A job-level `attribute = value` constraint (`${attr.os.name}`, `ubuntu`).
    pub constraint: Option<(String, String)>,
    /// A group-level `spread { attribute = ... }` (even spread).
    pub spread: Option<String>,
    /// The job's datacenters (`["dc1"]` unless set).
    pub datacenters: Vec<String>,
}

impl ServiceJob {
    /// `count` allocations of `cpu` MHz and `memory` MiB, no constraint,
    /// no spread.
    pub fn new(name: &str, count: u32, cpu: u32, memory: u32) -> Self {
        ServiceJob {
            name: name.to_owned(),
            count,
            cpu,
            memory,
            constraint: None,
            spread: None,
            datacenters: vec!["dc1".to_owned()],
        }
    }

    /// Sets the job's datacenters (`"*"` matches every one).
    pub fn datacenters(mut self, datacenters: &[&str]) -> Self {
        self.datacenters = datacenters.iter().map(|d| (*d).to_owned()).collect();
        self
    }

    /// Adds a job-level constraint `attribute = value`.
    pub fn constraint(mut self, attribute: &str, value: &str) -> Self {
        self.constraint = Some((attribute.to_owned(), value.to_owned()));
        self
    }

    /// Adds a group-level even spread over `attribute`.
    pub fn spread(mut self, attribute: &str) -> Self {
        self.spread = Some(attribute.to_owned());
        self
    }

    /// The job as HCL.
    pub fn hcl(&self) -> String {
        let datacenters: Vec<String> = self
            .datacenters
            .iter()
            .map(|d| format!("\"{d}\""))
            .collect();
        let mut out = format!(
            "job \"{}\" {{\n  datacenters = [{}]\n  type = \"service\"\n",
            self.name,
            datacenters.join(", ")
        );
        if let Some((attribute, value)) = &self.constraint {
            let _ = write!(
                out,
                "  constraint {{\n    attribute = \"{attribute}\"\n    value     = \"{value}\"\n  }}\n"
            );
        }
        let _ = write!(out, "  group \"app\" {{\n    count = {}\n", self.count);
        if let Some(attribute) = &self.spread {
            let _ = writeln!(
                out,
                "    spread {{\n      attribute = \"{attribute}\"\n    }}"
            );
        }
        let _ = write!(
            out,
            "    task \"server\" {{\n      driver = \"docker\"\n      config {{\n        image = \"registry.example/app:1\"\n      }}\n      resources {{\n        cpu    = {}\n        memory = {}\n      }}\n    }}\n  }}\n}}\n",
            self.cpu, self.memory
        );
        out
    }

    /// The parsed, canonical job.
    ///
    /// # Panics
    /// If the generated HCL does not parse (a bug in this builder).
    pub fn build(&self) -> Job {
        parse(
            &self.hcl(),
            &ParseOptions::new(format!("{}.hcl", self.name)),
        )
        .unwrap_or_else(|e| panic!("generated job {} does not parse: {e}", self.name))
        .job
    }
}

/// A pending registration evaluation for `job` (`id` must be unique in the
/// state it is scheduled against only if it is stored; it is not).
pub fn evaluation(job: &Job, id: u64) -> Evaluation {
    Evaluation {
        id: EvalId::new(format!("eeeeeeee-0000-4000-8000-{id:012x}")),
        namespace: Namespace::new(job.namespace.clone()),
        priority: i32::try_from(job.priority.unwrap_or(50)).unwrap_or(50),
        eval_type: job.job_type.as_str().to_owned(),
        triggered_by: EvalTrigger::JobRegister,
        job_id: job.id.clone(),
        job_modify_index: job.job_modify_index,
        status: EvalStatus::Pending,
        create_time: NOW,
        modify_time: NOW,
        ..Evaluation::default()
    }
}

/// A state ready for one `schedule` call: the snapshot holds the cluster
/// and the job, and the evaluation points at the job.
#[derive(Debug)]
pub struct Scenario {
    /// The snapshot to schedule against.
    pub snapshot: MemorySnapshot,
    /// The evaluation to process.
    pub eval: Evaluation,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Live allocations already in the cluster.
    pub allocations: usize,
}

/// Registers `job` in `state` and returns the scenario to time.
///
/// # Panics
/// If the store refuses the job (it does not for generated jobs).
pub fn scenario(mut state: MemoryState, job: Job, nodes: usize, allocations: usize) -> Scenario {
    let eval = evaluation(&job, 1);
    state
        .upsert_job(state.index() + 1, job)
        .expect("the job registers");
    Scenario {
        snapshot: state.snapshot(),
        eval,
        nodes,
        allocations,
    }
}

/// Schedules the scenario once (outside any timed loop) and asserts that
/// all `placements` allocations were placed, so a bench never times a
/// failing evaluation. Returns the result and the mean number of nodes
/// evaluated per placement.
///
/// # Panics
/// If a placement failed or the count differs.
pub fn schedule_fully(name: &str, s: &Scenario, placements: usize) -> (SchedulerResult, f64) {
    let result = schedule(&s.snapshot, &s.eval, &env());
    assert!(
        result.failures.is_empty(),
        "{name}: placements failed: {:?}",
        result.failures
    );
    let placed: usize = result.plan.node_allocation.values().map(Vec::len).sum();
    assert_eq!(placed, placements, "{name}");
    let evaluated: u64 = result
        .plan
        .node_allocation
        .values()
        .flatten()
        .map(|a| u64::from(a.metrics.nodes_evaluated))
        .sum();
    let per_placement = evaluated as f64 / placed.max(1) as f64;
    (result, per_placement)
}

/// What [`schedule_and_commit`] did with one evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Committed {
    /// Allocations placed and accepted by the plan check.
    pub placed: usize,
    /// Allocations the scheduler could not place.
    pub unplaced: usize,
    /// Nodes evaluated, summed over the placed allocations' metrics.
    pub nodes_evaluated: u64,
}

/// Registers `job` in `state` and returns its registration evaluation
/// (number `number`).
///
/// # Panics
/// If the store refuses the job (it does not for generated jobs).
pub fn register(state: &mut MemoryState, job: Job, number: u64) -> Evaluation {
    let index = state.index() + 1;
    let (namespace, id) = (job.namespace.clone(), job.id.clone());
    state.upsert_job(index, job).expect("job registers");
    let stored = state.view().job(&namespace, &id).expect("stored");
    evaluation(stored, number)
}

/// What a server does with an evaluation: `schedule` against the state,
/// the plan check, and the commit of what it accepted (moved, not
/// copied).
///
/// # Panics
/// If the store refuses the plan's writes (it does not).
pub fn schedule_and_commit(
    state: &mut MemoryState,
    eval: &Evaluation,
    env: &SchedulerEnv,
) -> Committed {
    let result = schedule(state.view(), eval, env);
    let unplaced = result.failures.iter().map(|f| f.unplaced as usize).sum();
    let accepted = check_owned_plan(state.view(), result.plan);
    let mut committed = Committed {
        unplaced,
        ..Committed::default()
    };
    for alloc in accepted.node_allocation.values().flatten() {
        committed.placed += 1;
        committed.nodes_evaluated += u64::from(alloc.metrics.nodes_evaluated);
    }
    let index = state.index() + 1;
    commit_plan(state, index, accepted).expect("plan applies");
    committed
}

/// An empty cluster of `count` nodes.
///
/// # Panics
/// If the store refuses a node (it does not for generated nodes).
pub fn empty_cluster(count: usize) -> MemoryState {
    let mut state = MemoryState::new();
    for node in nodes(count) {
        state
            .upsert_node(state.index() + 1, node)
            .expect("the node registers");
    }
    state
}

/// A cluster of `count` nodes about half full: `jobs` service jobs of
/// 1,000 MHz / 2 GiB allocations, `allocs_per_node / jobs` per node each,
/// placed through [`Simulation`] (scheduled, plan-checked, applied) under
/// the spread algorithm so the load is even, then the configuration is set
/// back to binpack (the default) for whatever is timed next. The average
/// node has 10,000 MHz, so 5 allocations per node hold half the CPU.
/// Returns the state and the number of live allocations.
///
/// # Panics
/// If the simulation's store refuses a write.
pub fn loaded_cluster(count: usize, jobs: usize, allocs_per_node: usize) -> (MemoryState, usize) {
    let mut sim = Simulation::new(nodes(count), SEED, NOW).expect("nodes register");
    set_algorithm(sim.state_mut(), SchedulerAlgorithm::Spread);
    let per_job = u32::try_from(count * allocs_per_node / jobs).expect("count fits u32");
    for j in 0..jobs {
        sim.register(ServiceJob::new(&format!("fill-{j:02}"), per_job, 1_000, 2_048).build())
            .expect("fill job registers");
    }
    let mut state = sim.state().clone();
    drop(sim);
    set_algorithm(&mut state, SchedulerAlgorithm::Binpack);
    let live = {
        let view = state.view();
        view.nodes()
            .map(|node| {
                view.allocs_by_node(&node.id)
                    .filter(|alloc| !alloc.is_terminal())
                    .count()
            })
            .sum()
    };
    (state, live)
}

/// Sets the scheduler algorithm of `state`'s configuration.
///
/// # Panics
/// If the store refuses the write (it does not).
pub fn set_algorithm(state: &mut MemoryState, algorithm: SchedulerAlgorithm) {
    let config = SchedulerConfiguration {
        scheduler_algorithm: algorithm,
        ..SchedulerConfiguration::default()
    };
    state
        .set_scheduler_config(state.index() + 1, config)
        .expect("configuration stored");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn nodes_are_deterministic_and_classes_repeat() {
        assert_eq!(node(17), node(17));
        let cluster = nodes(1_000);
        let classes: BTreeSet<&str> = cluster.iter().map(|n| n.computed_class.as_str()).collect();
        assert_eq!(classes.len(), 4 * 2 * RACKS);
        let ids: BTreeSet<&scheduler_core::model::NodeId> = cluster.iter().map(|n| &n.id).collect();
        assert_eq!(ids.len(), 1_000);
        let ubuntu = cluster
            .iter()
            .filter(|n| n.attributes["os.name"] == "ubuntu")
            .count();
        assert_eq!(ubuntu, 500);
    }

    #[test]
    fn the_jobs_place() {
        let job = ServiceJob::new("one", 1, 100, 128)
            .constraint("${attr.os.name}", "ubuntu")
            .build();
        let s = scenario(empty_cluster(100), job, 100, 0);
        let result = schedule(&s.snapshot, &s.eval, &env());
        assert!(result.failures.is_empty(), "{:?}", result.failures);
        let spread = ServiceJob::new("spread", 50, 100, 128)
            .spread("${meta.rack}")
            .build();
        let s = scenario(empty_cluster(100), spread, 100, 0);
        let result = schedule(&s.snapshot, &s.eval, &env());
        assert!(result.failures.is_empty(), "{:?}", result.failures);
    }

    #[test]
    fn the_loaded_cluster_is_about_half_full() {
        let (state, live) = loaded_cluster(200, 4, 5);
        assert_eq!(live, 1_000);
        let view = state.view();
        let (mut used, mut total) = (0i64, 0i64);
        for node in view.nodes() {
            total += node.node_resources.cpu.cpu_shares.0;
            used += view
                .allocs_by_node(&node.id)
                .flat_map(|a| a.allocated_resources.tasks.values())
                .map(|t| t.cpu.cpu_shares.0)
                .sum::<i64>();
        }
        let share = used as f64 / total as f64;
        assert!((0.45..=0.55).contains(&share), "{share}");
    }
}
