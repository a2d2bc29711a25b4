//! A realistic constraint mix: one evaluation (one `schedule` call against
//! a prebuilt snapshot) per job kind, on empty clusters of 1,000, 5,000 and
//! 10,000 nodes.
//!
//! The cluster is [`node_in`]'s (four shapes, two OSes, 25 racks in
//! `dc1`) plus:
//! - `meta.zone`: the racks sit in three zones, rack `rNN` in
//!   `zone-{a,b,c}[NN % 3]` (9, 8 and 8 racks, so the zones are uneven);
//! - GPUs on 5 % of the nodes (every node whose index is 19 mod 20, all of
//!   them `xlarge`): one `nvidia/gpu/A100` group of [`GPUS_PER_NODE`]
//!   healthy instances.
//!
//! Jobs, written as HCL, one group of one docker task each
//! (`constraint_mix/<kind>/n=N`, throughput in placements):
//! - `constraint`: `${attr.os.name} = ubuntu` (half the nodes), 300;
//! - `distinct_hosts`: `distinct_hosts = true`, 300;
//! - `static_port`: `port "http" { static = 8080 }`, 300 (so one per node);
//! - `device`: `device "nvidia/gpu" { count = 1 }`, one allocation per GPU
//!   node (half the GPUs), which must land on GPU nodes only;
//! - `affinity`: `${node.class} = large`, weight 50, 300;
//! - `spread`: even `spread` over `${meta.zone}`, 300 (100 per zone);
//! - `mixed`: the attribute constraint, `distinct_hosts`, the static port,
//!   the affinity and the zone spread in one group, 300.
//!
//! The check step (once per bench, untimed) asserts every allocation was
//! placed and what each kind promises (ubuntu nodes, distinct nodes, GPU
//! nodes with a device assigned, 100 per zone), and prints the nodes
//! evaluated per placement and the share of placements on `large` nodes.
//!
//! ```text
//! cargo bench -p benches --bench constraint_mix -- --quick
//! cargo bench -p benches --bench constraint_mix -- --quick 'mixed'
//! ```

use benches::cluster::{Layout, Scenario, env, node_in, scenario, schedule_fully};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{Job, Node, NodeDevice, NodeDeviceResource};
use scheduler_core::scheduler::schedule;
use scheduler_core::state::{MemoryState, StateSnapshot};
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

/// Cluster sizes.
const NODES: [usize; 3] = [1_000, 5_000, 10_000];

/// Zones (`meta.zone`); rack `rNN` is in `ZONES[NN % 3]`.
const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

/// GPU instances on each GPU node.
const GPUS_PER_NODE: usize = 2;

/// Placements of every kind but `device`.
const COUNT: usize = 300;

/// Whether node `index` has GPUs: one node in 20.
fn has_gpus(index: usize) -> bool {
    index % 20 == 19
}

/// Node `index`: [`node_in`] with a zone and, on one node in 20, GPUs.
fn mix_node(index: usize) -> Node {
    let mut node = node_in(index, Layout::default());
    let rack: usize = node.meta["rack"][1..].parse().expect("rack number");
    node.meta
        .insert("zone".to_owned(), ZONES[rack % ZONES.len()].to_owned());
    if has_gpus(index) {
        let instances = (0..GPUS_PER_NODE)
            .map(|i| NodeDevice {
                id: format!("{}-A100-{i}", node.name),
                healthy: true,
                ..NodeDevice::default()
            })
            .collect();
        node.node_resources.devices.push(NodeDeviceResource {
            vendor: "nvidia".to_owned(),
            device_type: "gpu".to_owned(),
            name: "A100".to_owned(),
            instances,
            ..NodeDeviceResource::default()
        });
    }
    // The zone and the devices are class inputs.
    node.compute_class();
    node
}

/// An empty cluster of `count` [`mix_node`]s.
fn mix_cluster(count: usize) -> MemoryState {
    let mut state = MemoryState::new();
    for node in (0..count).map(mix_node) {
        state
            .upsert_node(state.index() + 1, node)
            .expect("the node registers");
    }
    state
}

const CONSTRAINT: &str = r#"
    constraint {
      attribute = "${attr.os.name}"
      value     = "ubuntu"
    }
"#;

const DISTINCT_HOSTS: &str = r#"
    constraint {
      distinct_hosts = true
    }
"#;

const STATIC_PORT: &str = r#"
    network {
      port "http" {
        static = 8080
      }
    }
"#;

const AFFINITY: &str = r#"
    affinity {
      attribute = "${node.class}"
      value     = "large"
      weight    = 50
    }
"#;

const SPREAD: &str = r#"
    spread {
      attribute = "${meta.zone}"
    }
"#;

const DEVICE: &str = r#"
        device "nvidia/gpu" {
          count = 1
        }
"#;

/// A job kind: its name, the group-level blocks, the blocks inside the
/// task's `resources`, and what the check asserts.
struct Kind {
    name: &'static str,
    group: Vec<&'static str>,
    resources: &'static str,
    ubuntu: bool,
    distinct: bool,
    gpu: bool,
    zones: bool,
}

fn kinds() -> Vec<Kind> {
    let kind = |name, group: &[&'static str]| Kind {
        name,
        group: group.to_vec(),
        resources: "",
        ubuntu: group.contains(&CONSTRAINT),
        distinct: group.contains(&DISTINCT_HOSTS) || group.contains(&STATIC_PORT),
        gpu: false,
        zones: group.contains(&SPREAD),
    };
    vec![
        kind("constraint", &[CONSTRAINT]),
        kind("distinct_hosts", &[DISTINCT_HOSTS]),
        kind("static_port", &[STATIC_PORT]),
        Kind {
            resources: DEVICE,
            gpu: true,
            ..kind("device", &[])
        },
        kind("affinity", &[AFFINITY]),
        kind("spread", &[SPREAD]),
        kind(
            "mixed",
            &[CONSTRAINT, DISTINCT_HOSTS, STATIC_PORT, AFFINITY, SPREAD],
        ),
    ]
}

/// Placements of `kind` on `n` nodes: one per GPU node for `device`
/// (half the GPUs), [`COUNT`] otherwise.
fn count(kind: &Kind, n: usize) -> usize {
    if kind.gpu {
        (0..n).filter(|&i| has_gpus(i)).count()
    } else {
        COUNT
    }
}

/// The job of `kind` with `count` allocations of 100 MHz / 128 MiB.
fn job(kind: &Kind, count: usize) -> Job {
    let mut hcl = format!(
        "job \"{}\" {{\n  datacenters = [\"dc1\"]\n  type = \"service\"\n  group \"app\" {{\n    count = {count}\n",
        kind.name
    );
    for block in &kind.group {
        hcl.push_str(block);
    }
    let _ = write!(
        hcl,
        "    task \"server\" {{\n      driver = \"docker\"\n      config {{\n        image = \"registry.example/app:1\"\n      }}\n      resources {{\n        cpu    = 100\n        memory = 128\n{}      }}\n    }}\n  }}\n}}\n",
        kind.resources
    );
    parse(&hcl, &ParseOptions::new(format!("{}.hcl", kind.name)))
        .unwrap_or_else(|e| panic!("job {} does not parse: {e}\n{hcl}", kind.name))
        .job
}

/// Schedules once outside the loop: asserts every allocation was placed
/// and what the kind promises, and prints the nodes evaluated per
/// placement and where the allocations went.
fn check(name: &str, kind: &Kind, s: &Scenario, placements: usize) {
    let (result, evaluated) = schedule_fully(name, s, placements);
    let mut nodes = BTreeSet::new();
    let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    let mut large = 0usize;
    for alloc in result.plan.node_allocation.values().flatten() {
        let node = s.snapshot.node(&alloc.node_id).expect("placed on a node");
        nodes.insert(&node.id);
        *per_zone.entry(node.meta["zone"].as_str()).or_default() += 1;
        if node.node_class == "large" {
            large += 1;
        }
        if kind.ubuntu {
            assert_eq!(node.attributes["os.name"], "ubuntu", "{name}");
        }
        let devices: usize = alloc
            .allocated_resources
            .tasks
            .values()
            .flat_map(|t| &t.devices)
            .map(|d| d.device_ids.len())
            .sum();
        if kind.gpu {
            assert!(
                !node.node_resources.devices.is_empty(),
                "{name}: placed on {} without GPUs",
                node.name
            );
            assert_eq!(devices, 1, "{name}: one GPU per allocation");
        } else {
            assert_eq!(devices, 0, "{name}");
        }
    }
    if kind.distinct {
        assert_eq!(nodes.len(), placements, "{name}: a node used twice");
    }
    if kind.zones {
        let want = placements / ZONES.len();
        assert!(
            per_zone.values().all(|&c| c == want),
            "{name}: uneven over zones {per_zone:?}"
        );
    }
    eprintln!(
        "{name}: {} nodes, {placements} placed on {} nodes, per zone {per_zone:?}, {:.0} % on large nodes, {evaluated:.1} nodes evaluated per placement",
        s.nodes,
        nodes.len(),
        100.0 * large as f64 / placements as f64,
    );
}

fn constraint_mix(c: &mut Criterion) {
    let kinds = kinds();
    for n in NODES {
        // Built by the first bench of this size that runs.
        let cluster: OnceCell<MemoryState> = OnceCell::new();
        for kind in &kinds {
            let name = format!("constraint_mix/{}", kind.name);
            let placements = count(kind, n);
            let mut group = c.benchmark_group(&name);
            group.sample_size(10);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(2));
            group.throughput(Throughput::Elements(placements as u64));
            let cell: OnceCell<Scenario> = OnceCell::new();
            group.bench_function(BenchmarkId::from_parameter(format!("n={n}")), |b| {
                let s = cell.get_or_init(|| {
                    let state = cluster.get_or_init(|| mix_cluster(n)).clone();
                    let s = scenario(state, job(kind, placements), n, 0);
                    check(&format!("{name}/n={n}"), kind, &s, placements);
                    s
                });
                let env = env();
                b.iter(|| schedule(black_box(&s.snapshot), black_box(&s.eval), &env));
            });
            group.finish();
        }
    }
}

criterion_group!(benches, constraint_mix);
criterion_main!(benches);
