//! Proptest strategies for scenarios: the cluster's nodes and the jobs
//! registered on it, as plain specs rendered and built elsewhere.

use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Scenario model
// ---------------------------------------------------------------------------

/// Why a node is (not) usable before any constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeState {
    Ready,
    Down,
    Ineligible,
    Draining,
    OtherDatacenter,
    OtherPool,
}

#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    pub(crate) cpu: i64,
    pub(crate) memory: i64,
    pub(crate) disk: i64,
    pub(crate) kernel: &'static str,
    pub(crate) os_version: &'static str,
    pub(crate) features: &'static str,
    pub(crate) rack: Option<u8>,
    pub(crate) zone: &'static str,
    pub(crate) class: &'static str,
    /// `(driver, healthy)`.
    pub(crate) drivers: Vec<(&'static str, bool)>,
    pub(crate) state: NodeState,
    /// Reserve host ports 22 and 80.
    pub(crate) reserve_ports: bool,
    /// Reserve 100 MHz, 128 MiB and 100 MB disk for the OS.
    pub(crate) reserve_resources: bool,
    /// How many dynamic ports the node offers (small ranges run out).
    pub(crate) dynamic_ports: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConstraintSpec {
    /// `attribute operator value` (value may be empty for `is_set`).
    Plain(&'static str, &'static str, &'static str),
    DistinctHosts,
    DistinctProperty(u8),
}

#[derive(Debug, Clone)]
pub(crate) struct TaskSpec {
    pub(crate) driver: &'static str,
    pub(crate) cpu: u32,
    pub(crate) memory: u32,
    pub(crate) constraint: Option<ConstraintSpec>,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupSpec {
    pub(crate) count: u32,
    pub(crate) disk: u32,
    pub(crate) static_port: Option<u16>,
    pub(crate) dynamic_ports: u8,
    pub(crate) constraints: Vec<ConstraintSpec>,
    pub(crate) tasks: Vec<TaskSpec>,
    /// `(weight, targets)`; no targets means even spread on `${meta.zone}`.
    pub(crate) spread: Option<(u8, Vec<(&'static str, u8)>)>,
    /// `(attribute, value, weight)`.
    pub(crate) affinity: Option<(&'static str, &'static str, i8)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Service,
    Batch,
    System,
    Sysbatch,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Batch => "batch",
            Kind::System => "system",
            Kind::Sysbatch => "sysbatch",
        }
    }
    pub(crate) fn system_like(self) -> bool {
        matches!(self, Kind::System | Kind::Sysbatch)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct JobSpec {
    pub(crate) kind: Kind,
    pub(crate) datacenters: &'static [&'static str],
    pub(crate) pool_all: bool,
    pub(crate) constraints: Vec<ConstraintSpec>,
    pub(crate) groups: Vec<GroupSpec>,
}

#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) seed: u64,
    pub(crate) nodes: Vec<NodeSpec>,
    pub(crate) jobs: Vec<JobSpec>,
    /// New counts for the first job's groups, registered last (service and
    /// batch only: scale up or down with the same spec).
    pub(crate) rescale: Option<Vec<u32>>,
    /// Use the `spread` scheduler algorithm instead of `binpack`.
    pub(crate) spread_algorithm: bool,
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

pub(crate) fn node_spec() -> impl Strategy<Value = NodeSpec> {
    let size = (
        prop::sample::select(vec![500i64, 2000, 4000, 8000, 16000]),
        prop::sample::select(vec![256i64, 1024, 4096, 8192, 16384]),
        prop::sample::select(vec![300i64, 1000, 5000, 100_000, 100_000]),
    );
    let attrs = (
        prop::sample::select(vec!["linux", "linux", "darwin", "windows"]),
        prop::sample::select(vec!["1.2.0", "2.0.1", "10.3", "2.0.0-beta"]),
        prop::sample::select(vec!["sse", "sse,avx", "sse,avx,avx2", ""]),
        prop::option::weighted(0.85, 0u8..4),
        prop::sample::select(vec!["a", "b", "c"]),
        prop::sample::select(vec!["", "fast", "slow"]),
    );
    // Each driver present with probability 0.8, healthy with 0.9.
    let drivers = prop::collection::vec(prop::option::weighted(0.8, prop::bool::weighted(0.9)), 3)
        .prop_map(|present| {
            ["docker", "exec", "raw_exec"]
                .into_iter()
                .zip(present)
                .filter_map(|(name, healthy)| healthy.map(|h| (name, h)))
                .collect::<Vec<_>>()
        });
    let state = prop_oneof![
        10 => Just(NodeState::Ready),
        1 => Just(NodeState::Down),
        1 => Just(NodeState::Ineligible),
        1 => Just(NodeState::Draining),
        1 => Just(NodeState::OtherDatacenter),
        1 => Just(NodeState::OtherPool),
    ];
    (
        size,
        attrs,
        drivers,
        state,
        (prop::bool::weighted(0.2), prop::bool::weighted(0.3)),
        prop::sample::select(vec![1u16, 3, 50, 12_000]),
    )
        .prop_map(
            |(
                (cpu, memory, disk),
                (kernel, os_version, features, rack, zone, class),
                drivers,
                state,
                (reserve_ports, reserve_resources),
                dynamic_ports,
            )| NodeSpec {
                cpu,
                memory,
                disk,
                kernel,
                os_version,
                features,
                rack,
                zone,
                class,
                drivers,
                state,
                reserve_ports,
                reserve_resources,
                dynamic_ports,
            },
        )
}

pub(crate) fn plain_constraint() -> impl Strategy<Value = ConstraintSpec> {
    prop::sample::select(vec![
        ("${attr.kernel.name}", "=", "linux"),
        ("${attr.kernel.name}", "!=", "windows"),
        ("${attr.kernel.name}", "regexp", "^(linux|darwin)$"),
        ("${attr.cpu.features}", "set_contains", "avx"),
        ("${attr.cpu.features}", "set_contains", "sse,avx"),
        ("${attr.os.version}", "version", ">= 2.0"),
        ("${attr.os.version}", "version", "~> 1.2"),
        ("${meta.zone}", "=", "a"),
        ("${meta.zone}", "!=", "c"),
        ("${meta.rack}", "is_set", ""),
        ("${node.class}", "!=", "slow"),
        ("${node.unique.name}", "!=", "n-1"),
        ("${node.unique.name}", "regexp", "[02468]$"),
    ])
    .prop_map(|(l, op, r)| ConstraintSpec::Plain(l, op, r))
}

pub(crate) fn any_constraint() -> impl Strategy<Value = ConstraintSpec> {
    prop_oneof![
        6 => plain_constraint(),
        2 => Just(ConstraintSpec::DistinctHosts),
        2 => (1u8..=3).prop_map(ConstraintSpec::DistinctProperty),
    ]
}

pub(crate) fn task_spec() -> impl Strategy<Value = TaskSpec> {
    (
        prop::sample::select(vec!["docker", "docker", "exec", "raw_exec"]),
        prop::sample::select(vec![20u32, 100, 250, 500, 1000, 3000]),
        prop::sample::select(vec![32u32, 64, 128, 256, 1024, 3000]),
        prop::option::weighted(0.2, plain_constraint()),
    )
        .prop_map(|(driver, cpu, memory, constraint)| TaskSpec {
            driver,
            cpu,
            memory,
            constraint,
        })
}

pub(crate) fn group_spec(kind: Kind) -> impl Strategy<Value = GroupSpec> {
    let count = if kind.system_like() {
        prop_oneof![1 => Just(0u32), 6 => Just(1u32)].boxed()
    } else {
        prop_oneof![1 => Just(0u32), 6 => 1u32..=30].boxed()
    };
    let spread = if kind.system_like() {
        Just(None).boxed()
    } else {
        prop::option::weighted(
            0.3,
            (
                1u8..=100,
                prop_oneof![
                    Just(vec![]),
                    Just(vec![("a", 60), ("b", 40)]),
                    Just(vec![("a", 30), ("c", 20)]),
                ],
            ),
        )
        .boxed()
    };
    let affinity = if kind.system_like() {
        Just(None).boxed()
    } else {
        prop::option::weighted(
            0.3,
            (
                prop::sample::select(vec![
                    ("${meta.rack}", "1"),
                    ("${node.class}", "fast"),
                    ("${attr.kernel.name}", "darwin"),
                ]),
                prop::sample::select(vec![-50i8, 20, 100]),
            )
                .prop_map(|((attribute, value), weight)| (attribute, value, weight)),
        )
        .boxed()
    };
    (
        count,
        prop::sample::select(vec![150u32, 300, 2000]),
        prop::option::weighted(0.3, prop::sample::select(vec![80u16, 443, 8080])),
        0u8..=2,
        prop::collection::vec(any_constraint(), 0..=2),
        prop::collection::vec(task_spec(), 1..=2),
        spread,
        affinity,
    )
        .prop_map(
            |(count, disk, static_port, dynamic_ports, constraints, tasks, spread, affinity)| {
                GroupSpec {
                    count,
                    disk,
                    static_port,
                    dynamic_ports,
                    constraints,
                    tasks,
                    spread,
                    affinity,
                }
            },
        )
}

pub(crate) fn job_spec() -> impl Strategy<Value = JobSpec> {
    prop_oneof![
        4 => Just(Kind::Service),
        2 => Just(Kind::Batch),
        2 => Just(Kind::System),
        1 => Just(Kind::Sysbatch),
    ]
    .prop_flat_map(|kind| {
        (
            Just(kind),
            prop_oneof![
                4 => Just(&["dc1"][..]),
                3 => Just(&["dc*"][..]),
                1 => Just(&["dc2"][..]),
            ],
            prop::bool::weighted(0.15),
            prop::collection::vec(any_constraint(), 0..=1),
            prop::collection::vec(group_spec(kind), 1..=3),
        )
    })
    .prop_map(
        |(kind, datacenters, pool_all, constraints, groups)| JobSpec {
            kind,
            datacenters,
            pool_all,
            constraints,
            groups,
        },
    )
}

pub(crate) fn scenario() -> impl Strategy<Value = Scenario> {
    (
        any::<u64>(),
        prop::collection::vec(node_spec(), 1..=40),
        prop::collection::vec(job_spec(), 1..=4),
        prop::option::weighted(0.25, prop::collection::vec(0u32..=30, 3)),
        prop::bool::weighted(0.25),
    )
        .prop_map(|(seed, nodes, jobs, rescale, spread_algorithm)| Scenario {
            seed,
            nodes,
            rescale: rescale.filter(|_| !jobs[0].kind.system_like()),
            jobs,
            spread_algorithm,
        })
}
