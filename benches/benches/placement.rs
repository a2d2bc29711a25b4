//! Placement benches: one `schedule` call against a prebuilt snapshot.
//!
//! - `place_one/N`: one allocation (count 1, a constraint matching half the
//!   nodes) on an empty cluster of N nodes;
//! - `eval_1200/N`, `eval_1200_spread/N`: 1,200 allocations of 100 MHz /
//!   128 MiB on N nodes in 25 racks, the second with an even spread over
//!   `${meta.rack}` (the bucketed walk); throughput in placements;
//! - `place_with_load/N`: 100 allocations on N nodes already about half
//!   full (5 allocations per node on average, placed through `Simulation`);
//! - `feasibility_one_node`, `fit_one_node`, `score_one_node`: the per-node
//!   stages alone;
//! - `placement_substeps/*`: the O(N) parts of an evaluation alone, to see
//!   where the time of a small evaluation on a large cluster goes.
//!
//! The snapshot and evaluation are built outside the timed loop; what is
//! timed is `schedule` (and dropping its result).

use benches::cluster::{
    RACKS, Scenario, ServiceJob, empty_cluster, env, loaded_cluster, node, scenario, schedule_fully,
};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use scheduler_core::feasibility::fit::{NodeUsage, ResourceAsk, fit};
use scheduler_core::model::NodeStatus;
use scheduler_core::ranking::fit_score;
use scheduler_core::scheduler::candidates::base_nodes;
use scheduler_core::scheduler::feasible::GroupFeasibility;
use scheduler_core::scheduler::{SchedulerAlgorithm, schedule};
use scheduler_core::state::StateSnapshot;
use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

/// Schedules once outside the loop and checks every allocation was placed,
/// so a bench never times a failing evaluation.
fn check(name: &str, s: &Scenario, placements: usize) {
    let (_, evaluated) = schedule_fully(name, s, placements);
    eprintln!(
        "{name}: {} nodes, {} live allocations before, {placements} placed, {evaluated:.1} nodes evaluated per placement",
        s.nodes, s.allocations,
    );
}

/// Times `schedule` on the scenario `build` makes. The scenario is built
/// (and checked) the first time the bench runs, so a filter that skips the
/// bench skips its setup too.
fn time_schedule(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    n: usize,
    placements: usize,
    build: impl Fn() -> Scenario,
) {
    let cell = OnceCell::new();
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        let s = cell.get_or_init(|| {
            let s = build();
            check(&format!("{name}/{n}"), &s, placements);
            s
        });
        let env = env();
        b.iter(|| schedule(black_box(&s.snapshot), black_box(&s.eval), &env));
    });
}

fn place_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("place_one");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    for n in [1_000, 5_000, 10_000, 50_000] {
        time_schedule(&mut group, "place_one", n, 1, || {
            let job = ServiceJob::new("one", 1, 500, 256)
                .constraint("${attr.os.name}", "ubuntu")
                .build();
            scenario(empty_cluster(n), job, n, 0)
        });
    }
    group.finish();
}

fn eval_1200(c: &mut Criterion) {
    for (name, spread) in [("eval_1200", false), ("eval_1200_spread", true)] {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(4));
        group.throughput(Throughput::Elements(1_200));
        for n in [1_000, 5_000, 10_000] {
            time_schedule(&mut group, name, n, 1_200, || {
                let mut job = ServiceJob::new("big", 1_200, 100, 128);
                if spread {
                    job = job.spread("${meta.rack}");
                }
                let s = scenario(empty_cluster(n), job.build(), n, 0);
                if spread {
                    assert_even_over_racks(&s);
                }
                s
            });
        }
        group.finish();
    }
}

/// The spread is honoured: 1,200 / 25 racks = 48 per rack.
fn assert_even_over_racks(s: &Scenario) {
    let result = schedule(&s.snapshot, &s.eval, &env());
    let mut per_rack = vec![0usize; RACKS];
    for alloc in result.plan.node_allocation.values().flatten() {
        let node = s.snapshot.node(&alloc.node_id).expect("placed on a node");
        let rack: usize = node.meta["rack"][1..].parse().expect("rack number");
        per_rack[rack] += 1;
    }
    assert!(per_rack.iter().all(|&c| c == 48), "{per_rack:?}");
}

fn place_with_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("place_with_load");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(100));
    for n in [1_000, 10_000, 50_000] {
        time_schedule(&mut group, "place_with_load", n, 100, || {
            let (state, live) = loaded_cluster(n, 10, 5);
            let job = ServiceJob::new("probe", 100, 500, 1_024).build();
            scenario(state, job, n, live)
        });
    }
    group.finish();
}

fn per_node(c: &mut Criterion) {
    let job = ServiceJob::new("one", 1, 500, 256)
        .constraint("${attr.os.name}", "ubuntu")
        .build();
    let group = &job.task_groups[0];
    let node = node(0);
    let mut feasibility = GroupFeasibility::new(&job, group);
    assert!(feasibility.check(&node).is_empty());
    c.bench_function("feasibility_one_node/memo_hit", |b| {
        b.iter(|| feasibility.check(black_box(&node)));
    });
    c.bench_function("feasibility_one_node/cold", |b| {
        b.iter(|| GroupFeasibility::new(&job, group).check(black_box(&node)));
    });
    let ask = ResourceAsk::for_group(group);
    let usage = NodeUsage::default();
    c.bench_function("fit_one_node", |b| {
        b.iter(|| fit(black_box(&node), black_box(&usage), black_box(&ask)));
    });
    c.bench_function("score_one_node", |b| {
        b.iter(|| {
            fit_score(
                SchedulerAlgorithm::Binpack,
                black_box(&node),
                black_box(usage.cpu + ask.cpu),
                black_box(usage.memory + ask.memory),
            )
        });
    });
}

/// The O(N) steps of every evaluation, alone.
fn substeps(c: &mut Criterion) {
    let mut group = c.benchmark_group("placement_substeps");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(2));
    let job = ServiceJob::new("one", 1, 500, 256).build();
    for n in [1_000, 50_000] {
        // Built on first use, so filtering the substeps out skips the setup.
        let cell: OnceCell<Scenario> = OnceCell::new();
        let setup = || cell.get_or_init(|| scenario(empty_cluster(n), job.clone(), n, 0));
        group.bench_function(BenchmarkId::new("iterate_nodes", n), |b| {
            let snapshot = &setup().snapshot;
            b.iter(|| {
                snapshot
                    .nodes()
                    .filter(|n| n.status == NodeStatus::Ready)
                    .count()
            });
        });
        group.bench_function(BenchmarkId::new("base_nodes", n), |b| {
            let snapshot = &setup().snapshot;
            b.iter(|| base_nodes(snapshot, &job));
        });
        group.bench_function(BenchmarkId::new("feasibility_all", n), |b| {
            let base = base_nodes(&setup().snapshot, &job);
            let task_group = &job.task_groups[0];
            b.iter(|| {
                let mut feasibility = GroupFeasibility::new(&job, task_group);
                base.nodes
                    .iter()
                    .filter(|node| feasibility.check(node).is_empty())
                    .count()
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    place_one,
    eval_1200,
    place_with_load,
    per_node,
    substeps
);
criterion_main!(benches);
